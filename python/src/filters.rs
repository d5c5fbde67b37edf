//! The HBase filter language (`scan(filter="PrefixFilter('r1')")`), parsed by the core.

use pyo3::prelude::*;

use crate::error::IntoPyResult;

/// Parse an HBase filter-language string into a core filter.
#[cfg(feature = "filters")]
pub fn parse(text: &[u8]) -> PyResult<Option<Box<dyn kabase::filter::Filter>>> {
    kabase::filter::parse_bytes(text).map(Some).py()
}

/// This build has no filter-language parser: a filter string fails with `Unsupported`.
#[cfg(not(feature = "filters"))]
pub fn parse(_text: &[u8]) -> PyResult<Option<Box<dyn kabase::filter::Filter>>> {
    Err::<(), _>(kabase::Error::new(
        kabase::ErrorCode::Unsupported,
        "filter strings need the core's filter-language parser, which this build does not have yet",
    ))
    .py()
    .map(|_| None)
}
