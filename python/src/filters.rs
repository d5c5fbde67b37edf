//! The HBase filter language, parsed by the core.

use pyo3::prelude::*;

/// Parse an HBase filter-language string into a core filter.
pub fn parse(_text: &[u8]) -> PyResult<Option<Box<dyn kabase::filter::Filter>>> {
    Err(crate::error::new_err(
        kabase::ErrorCode::Unsupported,
        "filter strings need the core's filter-language parser, which this build does not have yet",
    ))
}
