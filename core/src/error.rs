//! The one error type of the whole core.
//!
//! Every failure the engine reports is an [`Error`]; each has an [`ErrorCode`] whose numeric value
//! is stable across releases. Bindings map codes, never message text: the C ABI returns the code,
//! Python maps it to an exception class in `kabase.errors`, Node sets it as `err.code`.
//!
//! Codes are grouped by hundreds: 1xx general, 2xx tables, 3xx topics and producers, 4xx consumer
//! groups, 5xx change streams. A code, once published, keeps its number and meaning forever; new
//! codes are only ever added.

use std::fmt;

/// Stable numeric error codes shared by every binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum ErrorCode {
    // 1xx: general
    /// A bug or an unexpected state inside the engine.
    Internal = 100,
    /// An operating-system I/O error (including a full disk).
    Io = 101,
    /// Data read from disk failed a checksum or a format check.
    Corrupt = 102,
    /// The caller passed a value the API does not accept.
    InvalidArgument = 103,
    /// The handle (engine, table, producer, consumer) was closed.
    Closed = 104,
    /// Another process holds the data directory.
    EngineLocked = 105,
    /// The feature or address is not supported (yet) by this build or backend.
    Unsupported = 106,
    /// A blocking call ran out of time.
    Timeout = 107,
    /// A name (namespace, table, family, topic, group) breaks the naming rules.
    InvalidName = 108,
    /// The on-disk format is newer or older than this build understands.
    IncompatibleFormat = 109,
    /// A configuration key or value is unknown or out of range.
    InvalidConfig = 110,

    // 2xx: tables
    /// The namespace does not exist.
    NamespaceNotFound = 200,
    /// The namespace already exists.
    NamespaceExists = 201,
    /// The namespace still holds tables.
    NamespaceNotEmpty = 202,
    /// The table does not exist.
    TableNotFound = 203,
    /// The table already exists.
    TableExists = 204,
    /// The table is disabled and refuses reads and writes.
    TableDisabled = 205,
    /// The operation needs a disabled table (HBase deletes only disabled tables).
    TableNotDisabled = 206,
    /// The column family is not part of the table.
    NoSuchColumnFamily = 207,
    /// The filter language string could not be parsed.
    FilterSyntax = 208,
    /// An increment met a cell that is not an 8-byte big-endian long.
    NotALong = 209,
    /// A row in a batch was rejected (the batch result names it).
    RowRejected = 210,

    // 3xx: topics and producers
    /// The topic does not exist.
    TopicNotFound = 300,
    /// The topic already exists.
    TopicExists = 301,
    /// The partition does not exist in the topic.
    UnknownPartition = 302,
    /// A record or batch is larger than `max.message.bytes` / `max.request.size`.
    RecordTooLarge = 303,
    /// The requested offset is outside the log.
    OffsetOutOfRange = 304,
    /// A record batch failed its size or CRC check.
    CorruptRecord = 305,
    /// An idempotent producer sent a sequence number out of order.
    OutOfOrderSequence = 306,
    /// An idempotent producer sent a duplicate batch (answered with the original offset).
    DuplicateSequence = 307,
    /// A newer producer with the same transactional id fenced this one.
    ProducerFenced = 308,
    /// The producer epoch is older than the current one.
    InvalidProducerEpoch = 309,
    /// The transactional operation is not valid in the current transaction state.
    InvalidTxnState = 310,
    /// The producer id is unknown to the partition.
    UnknownProducerId = 311,
    /// The transaction was aborted.
    TransactionAborted = 312,
    /// The records' timestamps are out of the accepted range.
    InvalidTimestamp = 313,

    // 4xx: consumer groups
    /// The group does not exist.
    GroupNotFound = 400,
    /// The group is rebalancing; rejoin.
    RebalanceInProgress = 401,
    /// The member's generation is not the group's current one.
    IllegalGeneration = 402,
    /// The member is unknown to the group (it timed out or left).
    UnknownMemberId = 403,
    /// A newer member with the same `group.instance.id` fenced this one.
    FencedInstanceId = 404,
    /// The commit could not be completed because the group rebalanced.
    CommitFailed = 405,
    /// No committed offset and `auto.offset.reset=none`.
    NoOffsetForPartition = 406,
    /// The group still has active members.
    GroupNotEmpty = 407,
    /// The assignor is unknown or members share no common protocol.
    InconsistentGroupProtocol = 408,

    // 5xx: change streams
    /// The change stream does not exist.
    StreamNotFound = 500,
    /// A change stream with that name already exists.
    StreamExists = 501,
}

impl ErrorCode {
    /// The stable number of this code.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The symbolic name of this code, e.g. `"TABLE_NOT_FOUND"`; stable like the number.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Internal => "INTERNAL",
            Io => "IO",
            Corrupt => "CORRUPT",
            InvalidArgument => "INVALID_ARGUMENT",
            Closed => "CLOSED",
            EngineLocked => "ENGINE_LOCKED",
            Unsupported => "UNSUPPORTED",
            Timeout => "TIMEOUT",
            InvalidName => "INVALID_NAME",
            IncompatibleFormat => "INCOMPATIBLE_FORMAT",
            InvalidConfig => "INVALID_CONFIG",
            NamespaceNotFound => "NAMESPACE_NOT_FOUND",
            NamespaceExists => "NAMESPACE_EXISTS",
            NamespaceNotEmpty => "NAMESPACE_NOT_EMPTY",
            TableNotFound => "TABLE_NOT_FOUND",
            TableExists => "TABLE_EXISTS",
            TableDisabled => "TABLE_DISABLED",
            TableNotDisabled => "TABLE_NOT_DISABLED",
            NoSuchColumnFamily => "NO_SUCH_COLUMN_FAMILY",
            FilterSyntax => "FILTER_SYNTAX",
            NotALong => "NOT_A_LONG",
            RowRejected => "ROW_REJECTED",
            TopicNotFound => "TOPIC_NOT_FOUND",
            TopicExists => "TOPIC_EXISTS",
            UnknownPartition => "UNKNOWN_PARTITION",
            RecordTooLarge => "RECORD_TOO_LARGE",
            OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            CorruptRecord => "CORRUPT_RECORD",
            OutOfOrderSequence => "OUT_OF_ORDER_SEQUENCE",
            DuplicateSequence => "DUPLICATE_SEQUENCE",
            ProducerFenced => "PRODUCER_FENCED",
            InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            InvalidTxnState => "INVALID_TXN_STATE",
            UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            TransactionAborted => "TRANSACTION_ABORTED",
            InvalidTimestamp => "INVALID_TIMESTAMP",
            GroupNotFound => "GROUP_NOT_FOUND",
            RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            IllegalGeneration => "ILLEGAL_GENERATION",
            UnknownMemberId => "UNKNOWN_MEMBER_ID",
            FencedInstanceId => "FENCED_INSTANCE_ID",
            CommitFailed => "COMMIT_FAILED",
            NoOffsetForPartition => "NO_OFFSET_FOR_PARTITION",
            GroupNotEmpty => "GROUP_NOT_EMPTY",
            InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            StreamNotFound => "STREAM_NOT_FOUND",
            StreamExists => "STREAM_EXISTS",
        }
    }

    /// Every code, in numeric order (bindings generate their tables from this).
    pub fn all() -> &'static [ErrorCode] {
        use ErrorCode::*;
        &[
            Internal,
            Io,
            Corrupt,
            InvalidArgument,
            Closed,
            EngineLocked,
            Unsupported,
            Timeout,
            InvalidName,
            IncompatibleFormat,
            InvalidConfig,
            NamespaceNotFound,
            NamespaceExists,
            NamespaceNotEmpty,
            TableNotFound,
            TableExists,
            TableDisabled,
            TableNotDisabled,
            NoSuchColumnFamily,
            FilterSyntax,
            NotALong,
            RowRejected,
            TopicNotFound,
            TopicExists,
            UnknownPartition,
            RecordTooLarge,
            OffsetOutOfRange,
            CorruptRecord,
            OutOfOrderSequence,
            DuplicateSequence,
            ProducerFenced,
            InvalidProducerEpoch,
            InvalidTxnState,
            UnknownProducerId,
            TransactionAborted,
            InvalidTimestamp,
            GroupNotFound,
            RebalanceInProgress,
            IllegalGeneration,
            UnknownMemberId,
            FencedInstanceId,
            CommitFailed,
            NoOffsetForPartition,
            GroupNotEmpty,
            InconsistentGroupProtocol,
            StreamNotFound,
            StreamExists,
        ]
    }

    /// The code with this number, if any.
    pub fn from_i32(n: i32) -> Option<ErrorCode> {
        Self::all().iter().copied().find(|c| c.as_i32() == n)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of every fallible call in the core: a stable [`ErrorCode`], a message for people,
/// and the underlying cause when there is one.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    code: ErrorCode,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// `Result` with the core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), source: None }
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The message, without the code.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for [`ErrorCode::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// Shorthand for [`ErrorCode::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// Shorthand for [`ErrorCode::Corrupt`].
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Corrupt, message)
    }

    /// An I/O error with what was being done and on which path.
    pub fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        let message = format!("{context}: {source}");
        Self::new(ErrorCode::Io, message).with_source(source)
    }

    /// Shorthand for [`ErrorCode::Closed`].
    pub fn closed(what: &str) -> Self {
        Self::new(ErrorCode::Closed, format!("{what} is closed"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let message = e.to_string();
        Error::new(ErrorCode::Io, message).with_source(e)
    }
}

impl From<fjall::Error> for Error {
    fn from(e: fjall::Error) -> Self {
        let code = match &e {
            fjall::Error::Io(_) | fjall::Error::Storage(lsm_tree::Error::Io(_)) => ErrorCode::Io,
            fjall::Error::Poisoned => {
                // Not corruption: fjall stops taking writes once one failed to reach its journal
                // or a flush failed (a full disk, an I/O error), since it can no longer vouch
                // for what follows; what was acknowledged before is kept.
                let msg = "storage: the table store takes no more writes after an earlier write or flush failed \
                           (a full disk or an I/O error); writes acknowledged before it are kept; reopen the engine \
                           once the cause is fixed";
                return Error::new(ErrorCode::Io, msg).with_source(e);
            }
            fjall::Error::Locked => {
                // kabase's own lock file refused any other process already, so the holder is an
                // engine of this process: closed, but alive while any handle to it is.
                let msg = "storage: the table store of this data directory is still held by an engine of this process                            that was closed but not yet dropped; drop every handle to it (the Engine and its Tables,                            producers and consumers) before opening the directory again";
                return Error::new(ErrorCode::EngineLocked, msg).with_source(e);
            }
            _ => ErrorCode::Corrupt,
        };
        Error::new(code, format!("storage: {e}")).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::all() {
            assert!(seen.insert(c.as_i32()), "duplicate code {}", c.as_i32());
            assert_eq!(ErrorCode::from_i32(c.as_i32()), Some(*c));
        }
        assert_eq!(ErrorCode::TableNotFound.as_i32(), 203);
        assert_eq!(ErrorCode::TableNotFound.name(), "TABLE_NOT_FOUND");
    }

    #[test]
    fn io_error_keeps_its_cause() {
        let e = Error::io("open /x", std::io::Error::other("boom"));
        assert_eq!(e.code(), ErrorCode::Io);
        assert!(e.to_string().contains("open /x"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
