//! `kabase-sdk`: the one safe facade between the kabase core and every language binding.
//!
//! The C ABI (`kabase-c`), the Node package (`kabase-node`), the UniFFI bindings
//! (`kabase-uniffi`) and the Python package are thin shims over the types here; none of them holds
//! engine logic of its own. The types are designed to cross an FFI boundary:
//!
//! - **Owning handles without lifetimes.** [`Engine`] (and the table and topic handles built from
//!   it) hold an `Arc` inside, are `Clone + Send + Sync + 'static`, and can be boxed behind an
//!   opaque pointer, wrapped in a napi class or a UniFFI object as they are.
//! - **One error taxonomy.** Every method returns the core's [`Result`]; a binding maps
//!   [`ErrorCode`] (stable numbers, stable names) and never invents codes of its own. The C ABI
//!   returns [`STATUS_OK`] or the code's number.
//! - **Batches, not single items.** Scans and polls hand back many items per call.
//!
//! ```
//! let engine = kabase_sdk::Engine::open_in_memory().unwrap();
//! assert!(!engine.is_closed());
//! engine.close().unwrap();
//! let err = engine.sync().unwrap_err();
//! assert_eq!(err.code(), kabase_sdk::ErrorCode::Closed);
//! assert_eq!(kabase_sdk::status_of(&err), 104);
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
mod client;
mod engine;
mod mutation;
mod packed;
mod queue;
mod status;
mod stream;
mod table;
mod topic;

pub use client::{KafkaConsumer, OffsetForTime, RebalanceCallback};
pub use engine::Engine;
pub use stream::{ChangeStream, SinkOptions, StreamDescription, StreamOptions, StreamRoute, StreamSnapshot};
pub use mutation::{MutationBuffer, RowMutation};
pub use packed::{PackedRecord, PackedRecords, PackedRun, RunRecords};
pub use table::{parse_column, parse_filter, Cell, ColumnValue, FamilyOptions, ReadOptions, RegionInfo, Row, RowBatch, RowStream, ScanOptions, Table};
pub use queue::{deadline, Pending, SendQueue};
pub use topic::{
    Admin, CommittedOffset, ConfigEntry, Consumer, GroupDescription, GroupPartition, GroupState, Header, MemberDescription, OutgoingBatch, OutgoingRecord, PartitionDescription,
    PartitionOffset, Producer, Record, RecordBatch, RecordMetadata, SendFuture, TimestampType, TopicDescription,
};
pub use kabase::{Error, ErrorCode, Result};
pub use status::{code_by_name, error_codes, status_of, STATUS_OK};

/// The version of kabase (the workspace version), e.g. `"0.1.0"`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of kabase as `(major, minor, patch)`.
pub fn version_parts() -> (u32, u32, u32) {
    fn num(s: &str) -> u32 {
        s.parse().unwrap_or(0)
    }
    (
        num(env!("CARGO_PKG_VERSION_MAJOR")),
        num(env!("CARGO_PKG_VERSION_MINOR")),
        num(env!("CARGO_PKG_VERSION_PATCH")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parts_match_the_string() {
        let (a, b, c) = version_parts();
        assert_eq!(format!("{a}.{b}.{c}"), VERSION.split('-').next().unwrap_or(""));
    }

    #[test]
    fn handles_are_ffi_friendly() {
        fn assert_owning<T: Clone + Send + Sync + 'static>() {}
        assert_owning::<Engine>();
    }
}
