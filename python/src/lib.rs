//! `kabase._native`: the thin PyO3 layer between the pure-Python package `kabase` and the facade
//! crate `kabase-sdk` (which the C, Node and UniFFI bindings share). It converts types and maps
//! errors (see its `error` module); every semantic lives in the facade and the core. Every call that may block (I/O, fsync, waiting) releases the GIL, and data crosses the
//! boundary in batches (a scan returns many rows per call, a poll many records).

#![deny(unsafe_code)]

mod engine;
mod error;
mod gc;
#[cfg(feature = "topics")]
mod consumer;
#[cfg(feature = "groups")]
mod group;
#[cfg(feature = "topics")]
mod producer;
#[cfg(feature = "topics")]
mod record;
#[cfg(all(feature = "tables", feature = "topics"))]
mod stream;
#[cfg(all(feature = "tables", feature = "topics"))]
mod bench;
#[cfg(feature = "tables")]
mod table;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(m)?;
    m.add_class::<engine::PyEngine>()?;
    #[cfg(feature = "tables")]
    {
        m.add_class::<table::PyTable>()?;
        m.add_class::<table::PyScanner>()?;
        m.add_class::<table::PyMutationBuffer>()?;
    }
    #[cfg(feature = "topics")]
    {
        m.add_class::<producer::PyProducer>()?;
        m.add_class::<producer::PySendFuture>()?;
        m.add_class::<consumer::PyConsumer>()?;
        m.add_class::<record::PyConsumerRecord>()?;
        m.add_function(wrap_pyfunction!(record::_records_in_place, m)?)?;
    }
    #[cfg(all(feature = "tables", feature = "topics"))]
    {
        m.add_class::<stream::PyStream>()?;
        m.add_function(wrap_pyfunction!(bench::_bench, m)?)?;
    }
    // Capability flags: true only when this build wires the core's feature (tests skip on them).
    m.add("HAS_TABLES", cfg!(feature = "tables"))?;
    m.add("HAS_FILTERS", cfg!(feature = "filters"))?;
    m.add("HAS_TOPICS", cfg!(feature = "topics"))?;
    m.add("HAS_GROUPS", cfg!(feature = "groups"))?;
    Ok(())
}
