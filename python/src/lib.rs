//! `kabase._native`: the thin PyO3 layer between the pure-Python package `kabase` and the core
//! crate `kabase`. It converts types and maps errors (see [`error`]); every semantic lives in the
//! core. Every call that may block (I/O, fsync, waiting) releases the GIL, and data crosses the
//! boundary in batches (a scan returns many rows per call, a poll many records).

#![deny(unsafe_code)]

mod engine;
mod error;
mod consumer;
mod filters;
mod group;
mod producer;
mod table;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<table::PyTable>()?;
    m.add_class::<table::PyScanner>()?;
    m.add_class::<producer::PyProducer>()?;
    m.add_class::<producer::PySendFuture>()?;
    m.add_class::<consumer::PyConsumer>()?;
    m.add("HAS_TABLES", true)?;
    m.add("HAS_TOPICS", true)?;
    m.add("HAS_GROUPS", group::HAS_GROUPS)?;
    m.add("HAS_FILTERS", filters::HAS_FILTERS)?;
    Ok(())
}
