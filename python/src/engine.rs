//! `kabase._native.Engine`: the engine handle.

use std::path::PathBuf;

use kabase::{Engine, EngineOptions};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::error::IntoPyResult;

/// The default data directory: `$KABASE_DATA_DIR` if set and not empty, else `./kabase-data`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os("KABASE_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("kabase-data"),
    }
}

fn fresh_memory_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "kabase-py-mem-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// An open kabase engine: one data directory (or memory) holding tables and topics.
///
/// Opening a directory this process already has open returns a handle to the same engine.
#[pyclass(module = "kabase._native", name = "Engine", frozen)]
pub struct PyEngine {
    pub(crate) engine: Engine,
}

impl PyEngine {
    /// The core engine.
    #[allow(dead_code)]
    pub(crate) fn core(&self) -> &Engine {
        &self.engine
    }
}

#[pymethods]
impl PyEngine {
    /// Open (or create) an engine. `path=None` opens the default data directory;
    /// `memory=True` keeps nothing on disk. `num_partitions` is the partition count of topics
    /// created on first use.
    #[new]
    #[pyo3(signature = (path=None, memory=false, num_partitions=1))]
    fn new(py: Python<'_>, path: Option<PathBuf>, memory: bool, num_partitions: u32) -> PyResult<Self> {
        if memory && path.is_some() {
            return Err(crate::error::new_err(
                kabase::ErrorCode::InvalidArgument,
                "give either a path or memory=True, not both",
            ));
        }
        let options = EngineOptions { in_memory: memory, num_partitions, ..EngineOptions::default() };
        let engine = py
            .detach(move || {
                if memory && num_partitions == 1 {
                    Engine::open_in_memory()
                } else if memory {
                    // The core has no `open_in_memory_with(options)` yet: give it a fresh private
                    // directory and `in_memory`, which makes it remove the directory on close.
                    Engine::open_with(fresh_memory_dir(), options)
                } else {
                    Engine::open_with(path.unwrap_or_else(default_dir), options)
                }
            })
            .py()?;
        Ok(PyEngine { engine })
    }

    /// The default data directory (`$KABASE_DATA_DIR`, else `./kabase-data`).
    #[classmethod]
    fn default_dir(_cls: &Bound<'_, PyType>) -> PathBuf {
        default_dir()
    }

    /// The engine's data directory.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.engine.dir().to_path_buf()
    }

    /// Whether the engine keeps nothing on disk.
    #[getter]
    fn in_memory(&self) -> bool {
        self.engine.options().in_memory
    }

    /// Partitions of a topic created on first use.
    #[getter]
    fn num_partitions(&self) -> u32 {
        self.engine.options().num_partitions
    }

    /// Whether `close()` was called (on this or any handle to the same engine).
    #[getter]
    fn closed(&self) -> bool {
        self.engine.is_closed()
    }

    /// Whether both handles refer to the same open engine.
    fn same_as(&self, other: &PyEngine) -> bool {
        self.engine.same_as(&other.engine)
    }

    /// Make everything written so far durable.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.engine.clone();
        py.detach(move || e.sync()).py()
    }

    /// Persist everything and release the directory. Closing twice is a no-op.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.engine.clone();
        py.detach(move || e.close()).py()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        match other.cast::<PyEngine>() {
            Ok(o) => self.engine.same_as(&o.get().engine),
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.dir().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let state = if self.engine.is_closed() { " closed" } else { "" };
        if self.engine.options().in_memory {
            format!("<kabase.Engine memory{state}>")
        } else {
            format!("<kabase.Engine {:?}{state}>", self.engine.dir().display().to_string())
        }
    }
}
