//! The one mapping from the facade's (the core's) [`Error`] to Python exceptions.
//!
//! Every [`ErrorCode`] gets one exception class, created in `kabase._native` when the module is
//! imported and re-exported by the pure-Python `kabase.errors`. All of them derive from
//! `KabaseError`; a few also derive from the built-in class a Python user would catch for that
//! kind of failure (`ValueError` for invalid arguments, names and configs, `TimeoutError`,
//! `OSError`). Each class carries `code` (the stable number) and `code_name` (e.g.
//! `"TABLE_NOT_FOUND"`). The core's cause chain becomes the Python `__cause__` chain.

use std::collections::HashMap;
use std::ffi::CString;

use kabase_sdk::{Error, ErrorCode};
use pyo3::exceptions::{PyException, PyOSError, PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

struct Classes {
    root: Py<PyType>,
    by_code: HashMap<i32, Py<PyType>>,
    /// (class name, code) in numeric order.
    names: Vec<(String, i32)>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

/// The Python class name of a code: `TABLE_NOT_FOUND` -> `TableNotFound`.
pub fn class_name(code: ErrorCode) -> String {
    code.name()
        .split('_')
        .map(|w| {
            let mut cs = w.chars();
            match cs.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + &cs.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect()
}

fn builtin_base<'py>(py: Python<'py>, code: ErrorCode) -> Option<Bound<'py, PyType>> {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::InvalidName | ErrorCode::InvalidConfig => {
            Some(py.get_type::<PyValueError>())
        }
        ErrorCode::Timeout => Some(py.get_type::<PyTimeoutError>()),
        ErrorCode::Io => Some(py.get_type::<PyOSError>()),
        _ => None,
    }
}

fn build(py: Python<'_>) -> PyResult<Classes> {
    let root_doc = CString::new("Root of every error raised by kabase; `.code` is the core's stable error code.")?;
    let root_dict = PyDict::new(py);
    root_dict.set_item("code", py.None())?;
    root_dict.set_item("code_name", py.None())?;
    let exc = py.get_type::<PyException>();
    let root = new_type_with_bases(
        py,
        c"kabase.errors.KabaseError",
        &root_doc,
        &PyTuple::new(py, [exc.into_any()])?,
        root_dict,
    )?;
    let mut by_code = HashMap::new();
    let mut names = Vec::new();
    for &code in ErrorCode::all() {
        let name = class_name(code);
        let qual = CString::new(format!("kabase.errors.{name}"))?;
        let doc = CString::new(format!("kabase error code {} ({}).", code.as_i32(), code.name()))?;
        let dict = PyDict::new(py);
        dict.set_item("code", code.as_i32())?;
        dict.set_item("code_name", code.name())?;
        let root_b = root.bind(py).clone();
        let bases = match builtin_base(py, code) {
            Some(b) => PyTuple::new(py, [root_b.into_any(), b.into_any()])?,
            None => PyTuple::new(py, [root_b.into_any()])?,
        };
        let ty = new_type_with_bases(py, qual.as_c_str(), doc.as_c_str(), &bases, dict)?;
        by_code.insert(code.as_i32(), ty);
        names.push((name, code.as_i32()));
    }
    Ok(Classes { root, by_code, names })
}

fn new_type_with_bases(
    py: Python<'_>,
    qual: &std::ffi::CStr,
    doc: &std::ffi::CStr,
    bases: &Bound<'_, PyTuple>,
    dict: Bound<'_, PyDict>,
) -> PyResult<Py<PyType>> {
    // `PyErr::new_type` takes one base as a type; a tuple of bases goes through `type()` itself.
    let builtins = py.import("builtins")?;
    let type_fn = builtins.getattr("type")?;
    let full = qual.to_str().map_err(|e| PyValueError::new_err(e.to_string()))?;
    let (module, name) = full.rsplit_once('.').unwrap_or(("kabase.errors", full));
    dict.set_item("__module__", module)?;
    dict.set_item("__doc__", doc.to_str().map_err(|e| PyValueError::new_err(e.to_string()))?)?;
    let ty = type_fn.call1((name, bases, dict))?;
    Ok(ty.cast_into::<PyType>()?.unbind())
}

fn classes(py: Python<'_>) -> PyResult<&'static Classes> {
    CLASSES.get_or_try_init(py, || build(py))
}

/// Register the root class, every code's class and the code table in the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let c = classes(py)?;
    m.add("KabaseError", c.root.bind(py))?;
    let table = PyDict::new(py);
    for (name, code) in &c.names {
        if let Some(ty) = c.by_code.get(code) {
            m.add(name.as_str(), ty.bind(py))?;
            table.set_item(*code, name)?;
        }
    }
    m.add("ERROR_CODES", table)?;
    Ok(())
}

/// The exception class of a code (for raising from the native layer).
pub fn class_of(py: Python<'_>, code: ErrorCode) -> PyResult<Bound<'_, PyType>> {
    let c = classes(py)?;
    match c.by_code.get(&code.as_i32()) {
        Some(t) => Ok(t.bind(py).clone()),
        None => Ok(c.root.bind(py).clone()),
    }
}

/// A Python exception of `code` with `message`.
pub fn new_err(code: ErrorCode, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| match class_of(py, code) {
        Ok(ty) => PyErr::from_type(ty, message),
        Err(e) => e,
    })
}

/// Convert one cause (not a kabase error) into a Python exception.
fn cause_to_py(cause: &(dyn std::error::Error + 'static)) -> PyErr {
    if let Some(io) = cause.downcast_ref::<std::io::Error>() {
        return match io.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, io.to_string())),
            None => PyOSError::new_err(io.to_string()),
        };
    }
    if let Some(k) = cause.downcast_ref::<Error>() {
        return new_err(k.code(), k.message().to_string());
    }
    PyRuntimeError::new_err(cause.to_string())
}

/// Map a core error to its Python class, keeping the cause chain as `__cause__`.
pub fn to_py(err: Error) -> PyErr {
    let top = new_err(err.code(), err.message().to_string());
    let mut chain = Vec::new();
    let mut src = std::error::Error::source(&err);
    while let Some(s) = src {
        chain.push(cause_to_py(s));
        src = s.source();
        if chain.len() > 16 {
            break;
        }
    }
    Python::attach(|py| {
        // Link innermost last: top.__cause__ = chain[0], chain[0].__cause__ = chain[1], ...
        let mut next: Option<PyErr> = None;
        for e in chain.into_iter().rev() {
            e.set_cause(py, next.take());
            next = Some(e);
        }
        top.set_cause(py, next);
    });
    top
}

/// `Result<T, kabase_sdk::Error>` -> `PyResult<T>`.
pub trait IntoPyResult<T> {
    /// Map the error through [`to_py`].
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}
