//! `kabase._native.Engine`: the engine handle, and the slots that let `close()` release the
//! data directory while Python still holds table, producer, consumer or scanner objects.
//!
//! Every Python handle made from an engine keeps its core object in a [`Slot`] registered with
//! the engine's [`Shared`] state. `Engine.close()` closes the core engine and then empties every
//! registered slot, so the last reference to the core engine goes away and its directory (LSM
//! lock included) is free to be opened again in the same process. A handle whose slot was
//! emptied raises `kabase.errors.Closed`.

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use kabase_sdk::{Engine, Error};
use parking_lot::{Mutex, RwLock};
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::error::IntoPyResult;

/// Something that holds core objects of an engine and drops them when the engine closes.
pub(crate) trait Release: Send + Sync {
    /// Drop the held core objects (the engine is already closed).
    fn release(&self);
}

/// A core object owned by a Python handle; empty once its engine was closed.
pub(crate) struct Slot<T> {
    value: RwLock<Option<T>>,
    what: &'static str,
}

impl<T: Clone + Send + Sync + 'static> Slot<T> {
    /// A slot holding `value`, registered with `shared` so that closing the engine empties it.
    pub(crate) fn new(shared: &Arc<Shared>, what: &'static str, value: T) -> Arc<Slot<T>> {
        let s = Arc::new(Slot { value: RwLock::new(Some(value)), what });
        shared.register(Arc::downgrade(&s) as Weak<dyn Release>);
        s
    }

    /// The held object, or `Closed` once the engine was closed.
    pub(crate) fn get(&self) -> Result<T, Error> {
        self.value.read().clone().ok_or_else(|| Error::closed(self.what))
    }
}

impl<T: Send + Sync + 'static> Release for Slot<T> {
    fn release(&self) {
        let v = self.value.write().take();
        drop(v);
    }
}

/// The state every Python handle to one core engine shares.
pub(crate) struct Shared {
    engine: RwLock<Option<Engine>>,
    dir: PathBuf,
    in_memory: bool,
    num_partitions: u32,
    handles: Mutex<Vec<Weak<dyn Release>>>,
}

impl Shared {
    /// The open core engine, or `Closed`.
    pub(crate) fn engine(&self) -> Result<Engine, Error> {
        self.engine.read().clone().ok_or_else(|| Error::closed("engine"))
    }

    /// Have `h` released when the engine closes.
    pub(crate) fn register(&self, h: Weak<dyn Release>) {
        let mut hs = self.handles.lock();
        if hs.len() >= 64 && hs.len().is_power_of_two() {
            hs.retain(|w| w.strong_count() > 0);
        }
        hs.push(h);
    }

    fn closed(&self) -> bool {
        match &*self.engine.read() {
            Some(e) => e.is_closed(),
            None => true,
        }
    }

    /// Close the core engine, then drop every core object Python handles hold, and our own
    /// engine reference: the directory is free once this returns (unless a call is still in
    /// flight on another thread, which finishes with `Closed`).
    fn close(&self) -> Result<(), Error> {
        let engine = self.engine.read().clone();
        let Some(engine) = engine else { return Ok(()) };
        let r = engine.close();
        let handles = std::mem::take(&mut *self.handles.lock());
        for h in handles {
            if let Some(h) = h.upgrade() {
                h.release();
            }
        }
        self.engine.write().take();
        drop(engine);
        r
    }
}

/// Handles by core engine, so every `Engine` object for one engine shares one [`Shared`].
fn registry() -> &'static Mutex<Vec<Weak<Shared>>> {
    static REG: std::sync::OnceLock<Mutex<Vec<Weak<Shared>>>> = std::sync::OnceLock::new();
    REG.get_or_init(|| Mutex::new(Vec::new()))
}

fn shared_for(engine: Engine) -> Arc<Shared> {
    let mut reg = registry().lock();
    reg.retain(|w| w.strong_count() > 0);
    for w in reg.iter() {
        if let Some(s) = w.upgrade() {
            if s.engine.read().as_ref().is_some_and(|e| e.same_as(&engine)) {
                return s;
            }
        }
    }
    let s = Arc::new(Shared {
        dir: engine.dir(),
        in_memory: engine.is_in_memory(),
        num_partitions: engine.num_partitions(),
        engine: RwLock::new(Some(engine)),
        handles: Mutex::new(Vec::new()),
    });
    reg.push(Arc::downgrade(&s));
    s
}

/// An open kabase engine: one data directory (or memory) holding tables and topics.
///
/// Opening a directory this process already has open returns a handle to the same engine.
#[pyclass(module = "kabase._native", name = "Engine", frozen)]
pub struct PyEngine {
    pub(crate) shared: Arc<Shared>,
}

impl PyEngine {
    /// The open core engine (`Closed` after `close()`).
    pub(crate) fn core(&self) -> PyResult<Engine> {
        self.shared.engine().py()
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
        let engine = py.detach(move || Engine::open_with(path.as_deref(), memory, num_partitions)).py()?;
        Ok(PyEngine { shared: shared_for(engine) })
    }

    /// The default data directory (`$KABASE_DATA_DIR`, else `./kabase-data`).
    #[classmethod]
    fn default_dir(_cls: &Bound<'_, PyType>) -> PathBuf {
        Engine::default_dir()
    }

    /// The engine's data directory.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.shared.dir.clone()
    }

    /// Whether the engine keeps nothing on disk.
    #[getter]
    fn in_memory(&self) -> bool {
        self.shared.in_memory
    }

    /// Partitions of a topic created on first use.
    #[getter]
    fn num_partitions(&self) -> u32 {
        self.shared.num_partitions
    }

    /// Whether `close()` was called (on this or any handle to the same engine).
    #[getter]
    fn closed(&self) -> bool {
        self.shared.closed()
    }

    /// Whether both handles refer to the same engine.
    fn same_as(&self, other: &PyEngine) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Make everything written so far durable.
    fn sync(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.core()?;
        py.detach(move || e.sync()).py()
    }

    /// Persist everything and release the directory, even while tables, producers, consumers
    /// or scanners made from this engine still exist (they raise `Closed` from then on).
    /// Closing twice is a no-op.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let s = Arc::clone(&self.shared);
        py.detach(move || s.close()).py()
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
            Ok(o) => Arc::ptr_eq(&self.shared, &o.get().shared),
            Err(_) => false,
        }
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.shared.dir.hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let state = if self.shared.closed() { " closed" } else { "" };
        if self.shared.in_memory {
            format!("<kabase.Engine memory{state}>")
        } else {
            format!("<kabase.Engine {:?}{state}>", self.shared.dir.display().to_string())
        }
    }
}
