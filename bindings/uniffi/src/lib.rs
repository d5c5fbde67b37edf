//! UniFFI bindings of kabase: the `kabase-sdk` facade exported with UniFFI proc-macros, for
//! Kotlin, Swift and Python (`uniffi-bindgen generate --library`).
//!
//! A thin shim: every method converts its arguments, calls the facade and converts the result;
//! there is no engine logic here. Names are chosen so the generated code compiles in every host
//! language:
//!
//! - handles stop with `shutdown()`, never `close()`: UniFFI's Kotlin objects are
//!   `AutoCloseable`, and their own `close()`/`destroy()` free the native handle;
//! - the error's text field is `detail`, not `message` (Kotlin's `Throwable.message`);
//! - a consumed record is a `ConsumerRecord` (the JVM has `java.lang.Record`).
//!
//! Every call blocks the calling thread until the engine answers (as the facade does); host code
//! that must not block calls from a worker thread or coroutine dispatcher.

use std::collections::HashMap;

uniffi::setup_scaffolding!();

mod engine;
mod error;
mod stream;
mod table;
mod topic;

pub use engine::{Admin, Engine};
pub use error::{error_codes, ErrorCodeInfo, KabaseError};
pub use stream::{ChangeStream, SinkOptions, StreamDescription, StreamOptions, StreamRoute, StreamSnapshot};
pub use table::{parse_column_value, Cell, ColumnValue, Row, RowMutation, RowStream, ScanOptions, Table};
pub use topic::{Consumer, ConsumerRecord, Header, OutgoingRecord, PartitionOffset, Producer, RecordMetadata, TopicPartition};

/// The result of every exported call.
pub type Result<T> = std::result::Result<T, KabaseError>;

/// The kabase version (the workspace version), e.g. `"0.1.0"`.
#[uniffi::export]
pub fn version() -> String {
    kabase_sdk::VERSION.to_string()
}

/// Configs from a host map, in a stable (sorted) order.
fn configs(map: HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = map.into_iter().collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_workspace_version() {
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn configs_are_sorted() {
        let m = HashMap::from([("b".to_string(), "2".to_string()), ("a".to_string(), "1".to_string())]);
        assert_eq!(configs(m), vec![("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]);
    }
}
