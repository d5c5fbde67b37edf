//! `kabase._native._bench`: the Python benchmark's workloads run through the Rust core alone
//! (`kabase_sdk::bench`), in the same process and run, so `python/bench/bench.py` can print Python/Rust ratios. Not a
//! public API (the leading underscore); it only measures.

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::engine::PyEngine;
use crate::error::IntoPyResult;

/// Run the bench workloads through the core: `{name: (records, seconds)}`.
#[pyfunction]
#[pyo3(signature = (engine, records, value_size=100, linger_ms=5, chunk=10_000, prefix="rust"))]
pub fn _bench<'py>(py: Python<'py>, engine: &PyEngine, records: usize, value_size: usize, linger_ms: u64, chunk: usize, prefix: &str) -> PyResult<Bound<'py, PyDict>> {
    let e = engine.core()?;
    let prefix = prefix.to_string();
    let res = py.detach(move || kabase_sdk::bench::core_workloads(&e, records, value_size, linger_ms, chunk, &prefix)).py()?;
    let d = PyDict::new(py);
    for (name, n, secs) in res {
        d.set_item(name, (n, secs))?;
    }
    Ok(d)
}
