//! Deferring Python's cyclic garbage collector while a batch of results is built.
//!
//! A poll or a scan batch makes thousands of container objects (records, header lists, row
//! dicts) in one go. Each allocation of a container counts towards a collection, so building
//! a batch would run many collections, each walking the young objects and, now and then, the
//! whole heap. The objects built here are acyclic and owned by the result, so there is nothing
//! for the collector to find among them: it is paused while the batch is built and resumed
//! after, and its next collection considers the new objects as usual. Collections are
//! deferred, never skipped; a collector the user turned off stays off.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Batches smaller than this are built without touching the collector (pausing it costs
/// three calls).
pub(crate) const MIN_OBJECTS: usize = 64;

static GC: PyOnceLock<(Py<PyAny>, Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// Runs `f` with the collector paused when `objects` (the batch's size) is at least
/// [`MIN_OBJECTS`] and the collector is on; resumes it afterwards, also when `f` fails.
pub(crate) fn deferred<'py, T>(py: Python<'py>, objects: usize, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    if objects < MIN_OBJECTS {
        return f();
    }
    let (isenabled, disable, enable) = GC.get_or_try_init(py, || -> PyResult<_> {
        let gc = py.import("gc")?;
        Ok((gc.getattr("isenabled")?.unbind(), gc.getattr("disable")?.unbind(), gc.getattr("enable")?.unbind()))
    })?;
    if !isenabled.bind(py).call0()?.is_truthy()? {
        return f();
    }
    disable.bind(py).call0()?;
    let out = f();
    enable.bind(py).call0()?;
    out
}
