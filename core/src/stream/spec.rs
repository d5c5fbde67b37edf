//! Stream definitions ([`StreamSpec`], [`SinkSpec`]), their persisted form, and what
//! [`crate::Engine::describe_streams`] reports ([`StreamInfo`]).
//!
//! Each stream is stored in the keyspace `kabase.stream.meta` under `s/<name>` as versioned JSON
//! (`{"v": 1, "id": .., "kind": "table_to_topic" | "topic_to_table", "paused": bool, "spec": {..}}`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::stream::partition::Partitioning;
use crate::stream::record::{BytesEncoding, RecordFormat, RecordShape};
use crate::stream::route::{RouteAction, RouteRule, RouteRules};

/// Format version of stored stream records.
pub const META_VERSION: u32 = 1;

/// What a writer meets when a stream's outbox is full (its relay is paused or slower than the
/// writers), as bounded by [`StreamSpec::max_lag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backpressure {
    /// Wait up to this many milliseconds for room, then fail with [`ErrorCode::Timeout`].
    Block {
        /// Longest wait.
        timeout_ms: u64,
    },
    /// Fail at once with [`ErrorCode::Timeout`].
    Error,
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure::Block { timeout_ms: 10_000 }
    }
}

/// A table-to-topic stream: every committed mutation of `table` goes to `topic` (or where the
/// route rules send it), exactly once, in commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    /// Unique stream name (shared with sinks).
    pub name: String,
    /// Source table (`ns:table` or `table`).
    pub table: String,
    /// Target topic; `None` = [`crate::stream::route::default_topic_for`] the table
    /// (`default.orders` for `orders`).
    pub topic: Option<String>,
    /// Route rules; empty = every cell to `topic`.
    pub routes: Vec<RouteRule>,
    /// Partitioning (default by row key).
    pub partitioning: Partitioning,
    /// One record per row mutation (default) or per cell.
    pub shape: RecordShape,
    /// JSON (default) or binary.
    pub format: RecordFormat,
    /// Byte fields in JSON: UTF-8 when possible (default) or always base64.
    pub bytes: BytesEncoding,
    /// The topic's compression (`none`, `gzip`, `snappy`, `lz4`, `zstd`); `None` = the table's
    /// (its first family's) compression.
    pub compression: Option<String>,
    /// Partitions of topics the stream creates; `None` = one per family with
    /// [`Partitioning::Family`], else the engine's `num_partitions`.
    pub partitions: Option<u32>,
    /// Outbox bound (default 100 000): a write is admitted only while the stream's outbox holds
    /// fewer entries. An entry counts from its commit until it is deleted (relayed, and then
    /// fsynced in the topic by the relay's durability stage).
    ///
    /// The bound is soft: a write call (`put`, `delete`, the puts and deletes of one `batch`,
    /// ...) checks for room once, before it takes its row locks, then adds one entry per row it
    /// commits. So the outbox holds at most `max_lag - 1 + R` entries, R being the rows of the
    /// write calls admitted but not yet committed at that moment: exactly `max_lag` for one
    /// writer of single rows, `max_lag - 1 + W` with W concurrent single-row writers, and
    /// `max_lag - 1 + N` after a batch of N rows admitted at `max_lag - 1` entries.
    pub max_lag: u64,
    /// What writers meet when the outbox is full.
    pub backpressure: Backpressure,
}

impl StreamSpec {
    /// A stream of `table` named `name` with every default.
    pub fn new(name: impl Into<String>, table: impl Into<String>) -> StreamSpec {
        StreamSpec {
            name: name.into(),
            table: table.into(),
            topic: None,
            routes: Vec::new(),
            partitioning: Partitioning::RowKey,
            shape: RecordShape::PerRow,
            format: RecordFormat::Json,
            bytes: BytesEncoding::Auto,
            compression: None,
            partitions: None,
            max_lag: 100_000,
            backpressure: Backpressure::default(),
        }
    }
    /// Target topic.
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }
    /// Add a route rule.
    pub fn route(mut self, rule: RouteRule) -> Self {
        self.routes.push(rule);
        self
    }
    /// Partitioning.
    pub fn partitioning(mut self, p: Partitioning) -> Self {
        self.partitioning = p;
        self
    }
    /// Record shape.
    pub fn shape(mut self, s: RecordShape) -> Self {
        self.shape = s;
        self
    }
    /// Record format.
    pub fn format(mut self, f: RecordFormat) -> Self {
        self.format = f;
        self
    }
    /// JSON byte-field encoding.
    pub fn bytes(mut self, b: BytesEncoding) -> Self {
        self.bytes = b;
        self
    }
    /// Topic compression by Kafka's name.
    pub fn compression(mut self, c: impl Into<String>) -> Self {
        self.compression = Some(c.into());
        self
    }
    /// Partitions of created topics.
    pub fn partitions(mut self, n: u32) -> Self {
        self.partitions = Some(n);
        self
    }
    /// Outbox bound.
    pub fn max_lag(mut self, n: u64) -> Self {
        self.max_lag = n;
        self
    }
    /// Backpressure policy.
    pub fn backpressure(mut self, b: Backpressure) -> Self {
        self.backpressure = b;
        self
    }
}

/// How a sink turns a record into cells.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SinkMapping {
    /// Family of JSON fields without a `family:` prefix; `None` = such fields are an error.
    pub default_family: Option<String>,
    /// Take the row key from this JSON field (its string value) instead of the record key.
    pub row_key_field: Option<String>,
}

/// A topic-to-table sink: every record of `topic` becomes a row change of `table`, exactly once.
///
/// The record key is the row key; the value is a JSON object whose `"family:qualifier"` fields
/// become cells (a string is stored as its UTF-8 bytes, any other JSON value as its JSON text); a
/// `null` field deletes that column (all versions); a null value (tombstone) deletes the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSpec {
    /// Unique stream name (shared with table-to-topic streams).
    pub name: String,
    /// Source topic.
    pub topic: String,
    /// Target table (must exist).
    pub table: String,
    /// Field mapping.
    pub mapping: SinkMapping,
}

impl SinkSpec {
    /// A sink of `topic` into `table`.
    pub fn new(name: impl Into<String>, topic: impl Into<String>, table: impl Into<String>) -> SinkSpec {
        SinkSpec { name: name.into(), topic: topic.into(), table: table.into(), mapping: SinkMapping::default() }
    }
    /// Family of unprefixed fields.
    pub fn default_family(mut self, f: impl Into<String>) -> Self {
        self.mapping.default_family = Some(f.into());
        self
    }
    /// Row key from a JSON field.
    pub fn row_key_field(mut self, f: impl Into<String>) -> Self {
        self.mapping.row_key_field = Some(f.into());
        self
    }
}

/// Which way a stream flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    /// Table changes into a topic.
    TableToTopic,
    /// Topic records into a table.
    TopicToTable,
}

/// The run state of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamState {
    /// Moving data.
    Running,
    /// Paused by the caller; a paused table-to-topic stream still captures changes (up to its
    /// `max_lag`) and sends them on resume.
    Paused,
    /// The last attempt failed with this message; the stream retries.
    Failed(String),
}

/// One stream as [`crate::Engine::describe_streams`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Name.
    pub name: String,
    /// Direction.
    pub kind: StreamKind,
    /// Table.
    pub table: String,
    /// Topics (a table-to-topic stream's main topic first, then route topics).
    pub topics: Vec<String>,
    /// State.
    pub state: StreamState,
    /// Table to topic: the change sequence number of the last change appended to the topic.
    /// Topic to table: the sum of the next offsets to consume over all partitions.
    pub position: u64,
    /// Table to topic: changes waiting in the outbox. Topic to table: records not yet applied
    /// (end offsets minus positions).
    pub lag: u64,
    /// Topic to table: the next offset to consume per partition.
    pub offsets: Vec<(u32, i64)>,
}

/// Persisted route rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredRule {
    action: String,
    table: String,
    family: Option<Vec<u8>>,
    qualifier: Option<Vec<u8>>,
    topics: Vec<String>,
}

/// Persisted table-to-topic spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredStreamSpec {
    table: String,
    topic: String,
    routes: Vec<StoredRule>,
    partitioning: String,
    shape: String,
    format: String,
    bytes: String,
    compression: String,
    max_lag: u64,
    backpressure: Backpressure,
    /// Family of each partition under family partitioning (stable once created).
    families: Vec<Vec<u8>>,
}

/// Persisted sink spec.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredSinkSpec {
    topic: String,
    table: String,
    mapping: SinkMapping,
}

/// The record stored at `s/<name>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredStream {
    pub v: u32,
    pub id: u64,
    pub name: String,
    pub kind: StreamKind,
    pub paused: bool,
    pub stream: Option<StoredStreamSpec>,
    pub sink: Option<StoredSinkSpec>,
}

impl StoredStream {
    pub(crate) fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::internal(format!("encode stream record: {e}")))
    }

    pub(crate) fn from_json(b: &[u8]) -> Result<StoredStream> {
        let s: StoredStream = serde_json::from_slice(b).map_err(|e| Error::corrupt(format!("stream record is not valid: {e}")))?;
        if s.v != META_VERSION {
            return Err(Error::new(ErrorCode::IncompatibleFormat, format!("stream record {} has version {}; this build reads {META_VERSION}", s.name, s.v)));
        }
        Ok(s)
    }
}

/// A resolved table-to-topic stream (validated, defaults filled in).
#[derive(Debug, Clone)]
pub(crate) struct ResolvedStream {
    /// Full table name.
    pub table: String,
    pub topic: String,
    pub routes: RouteRules,
    pub partitioning: Partitioning,
    pub shape: RecordShape,
    pub format: RecordFormat,
    pub bytes: BytesEncoding,
    /// Kafka compression name.
    pub compression: String,
    pub max_lag: u64,
    pub backpressure: Backpressure,
    pub families: Vec<Vec<u8>>,
}

fn shape_name(s: RecordShape) -> &'static str {
    match s {
        RecordShape::PerRow => "per_row",
        RecordShape::PerCell => "per_cell",
    }
}

fn format_name(f: RecordFormat) -> &'static str {
    match f {
        RecordFormat::Json => "json",
        RecordFormat::Binary => "binary",
    }
}

fn bytes_name(b: BytesEncoding) -> &'static str {
    match b {
        BytesEncoding::Auto => "auto",
        BytesEncoding::Base64 => "base64",
    }
}

impl ResolvedStream {
    pub(crate) fn store(&self) -> StoredStreamSpec {
        StoredStreamSpec {
            table: self.table.clone(),
            topic: self.topic.clone(),
            routes: self
                .routes
                .rules()
                .iter()
                .map(|r| StoredRule { action: r.action.name().into(), table: r.table.clone(), family: r.family.clone(), qualifier: r.qualifier.clone(), topics: r.topics.clone() })
                .collect(),
            partitioning: self.partitioning.name(),
            shape: shape_name(self.shape).into(),
            format: format_name(self.format).into(),
            bytes: bytes_name(self.bytes).into(),
            compression: self.compression.clone(),
            max_lag: self.max_lag,
            backpressure: self.backpressure,
            families: self.families.clone(),
        }
    }

    pub(crate) fn load(s: &StoredStreamSpec) -> Result<ResolvedStream> {
        let rules = s
            .routes
            .iter()
            .map(|r| {
                Ok(RouteRule {
                    action: RouteAction::parse(&r.action)?,
                    table: r.table.clone(),
                    family: r.family.clone(),
                    qualifier: r.qualifier.clone(),
                    topics: r.topics.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let bad = |what: &str, v: &str| Error::corrupt(format!("stream record: unknown {what} {v:?}"));
        Ok(ResolvedStream {
            table: s.table.clone(),
            topic: s.topic.clone(),
            routes: RouteRules::new(rules)?,
            partitioning: Partitioning::parse(&s.partitioning)?,
            shape: match s.shape.as_str() {
                "per_row" => RecordShape::PerRow,
                "per_cell" => RecordShape::PerCell,
                o => return Err(bad("shape", o)),
            },
            format: match s.format.as_str() {
                "json" => RecordFormat::Json,
                "binary" => RecordFormat::Binary,
                o => return Err(bad("format", o)),
            },
            bytes: match s.bytes.as_str() {
                "auto" => BytesEncoding::Auto,
                "base64" => BytesEncoding::Base64,
                o => return Err(bad("bytes encoding", o)),
            },
            compression: s.compression.clone(),
            max_lag: s.max_lag,
            backpressure: s.backpressure,
            families: s.families.clone(),
        })
    }

    /// Every topic the stream may write: its own first, then route topics.
    pub(crate) fn topics(&self) -> Vec<String> {
        let mut out = vec![self.topic.clone()];
        for r in self.routes.rules() {
            for t in &r.topics {
                if !out.contains(t) {
                    out.push(t.clone());
                }
            }
        }
        out
    }
}

impl StoredSinkSpec {
    pub(crate) fn new(spec: &SinkSpec, table_full: String) -> StoredSinkSpec {
        StoredSinkSpec { topic: spec.topic.clone(), table: table_full, mapping: spec.mapping.clone() }
    }
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }
    pub(crate) fn table(&self) -> &str {
        &self.table
    }
    pub(crate) fn mapping(&self) -> &SinkMapping {
        &self.mapping
    }
}

/// Stream names: 1 to 200 characters of ASCII letters, digits, `.`, `_`, `-`.
pub fn validate_stream_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 200 || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return Err(Error::new(ErrorCode::InvalidName, format!("stream name {name:?} must be 1 to 200 characters of ASCII letters, digits, '.', '_' and '-'")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_stream_round_trips() {
        let r = ResolvedStream {
            table: "default:t".into(),
            topic: "default.t".into(),
            routes: RouteRules::new(vec![RouteRule::drop("t").qualifier("x*"), RouteRule::route("t", ["a", "b"]).family("cf")]).unwrap(),
            partitioning: Partitioning::Family,
            shape: RecordShape::PerCell,
            format: RecordFormat::Binary,
            bytes: BytesEncoding::Base64,
            compression: "gzip".into(),
            max_lag: 7,
            backpressure: Backpressure::Error,
            families: vec![b"cf".to_vec(), b"d".to_vec()],
        };
        let s = StoredStream { v: META_VERSION, id: 3, name: "s".into(), kind: StreamKind::TableToTopic, paused: true, stream: Some(r.store()), sink: None };
        let back = StoredStream::from_json(&s.to_json().unwrap()).unwrap();
        let r2 = ResolvedStream::load(back.stream.as_ref().unwrap()).unwrap();
        assert_eq!(r2.routes.rules(), r.routes.rules());
        assert_eq!((r2.partitioning.clone(), r2.shape, r2.format, r2.bytes), (Partitioning::Family, RecordShape::PerCell, RecordFormat::Binary, BytesEncoding::Base64));
        assert_eq!(r2.topics(), vec!["default.t", "a", "b"]);
        assert!(back.paused);
        let mut future = s.clone();
        future.v = 2;
        assert_eq!(StoredStream::from_json(&future.to_json().unwrap()).unwrap_err().code(), ErrorCode::IncompatibleFormat);
        assert_eq!(StoredStream::from_json(b"{}").unwrap_err().code(), ErrorCode::Corrupt);
    }

    #[test]
    fn names() {
        validate_stream_name("orders-cdc.v1").unwrap();
        assert_eq!(validate_stream_name("").unwrap_err().code(), ErrorCode::InvalidName);
        assert_eq!(validate_stream_name("a b").unwrap_err().code(), ErrorCode::InvalidName);
    }
}
