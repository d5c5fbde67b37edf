//! Change streams: a table's committed mutations into a topic, a topic's records into a table,
//! exactly once; the [`ChangeStream`] handle (describe, pause, resume, remove, snapshot). A shim
//! over the facade's `stream` module: options travel as the facade's names and the core checks
//! them.

use std::sync::Arc;

use crate::engine::Engine;
use crate::table::{row_out, Row};
use crate::topic::PartitionOffset;
use crate::Result;

/// One route rule of a table-to-topic stream: cells of tables, families and qualifiers matching
/// the patterns (exact, `prefix*`, `*suffix`, `*infix*`, `*`) go to `topics`, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StreamRoute {
    /// `"route"` or `"drop"`.
    pub action: String,
    /// Table pattern.
    pub table: String,
    /// Family pattern; null = every family.
    #[uniffi(default = None)]
    pub family: Option<String>,
    /// Qualifier pattern; null = every qualifier.
    #[uniffi(default = None)]
    pub qualifier: Option<String>,
    /// Topics of a route rule (empty = the stream's topic).
    #[uniffi(default = [])]
    pub topics: Vec<String>,
}

/// How a table streams into a topic; every field has a default (null = the core's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct StreamOptions {
    /// Stream name; default `<table>-to-<topic>`.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// `"row_key"` (default), `"family"` or `"fixed:<n>"`.
    #[uniffi(default = None)]
    pub partitioning: Option<String>,
    /// `"row"` (one record per row mutation, default) or `"cell"`.
    #[uniffi(default = None)]
    pub shape: Option<String>,
    /// `"json"` (default) or `"binary"`.
    #[uniffi(default = None)]
    pub format: Option<String>,
    /// JSON byte fields: `"auto"` (default) or `"base64"` (the facade's `bytes` option; named
    /// so it shadows no host builtin).
    #[uniffi(default = None)]
    pub bytes_encoding: Option<String>,
    /// Topic compression by Kafka's name; default the table's.
    #[uniffi(default = None)]
    pub compression: Option<String>,
    /// Partitions of topics the stream creates.
    #[uniffi(default = None)]
    pub partitions: Option<i32>,
    /// Most changes waiting in the outbox.
    #[uniffi(default = None)]
    pub max_lag: Option<i64>,
    /// Route rules.
    #[uniffi(default = [])]
    pub routes: Vec<StreamRoute>,
}

impl StreamOptions {
    fn to_sdk(&self) -> Result<kabase_sdk::StreamOptions> {
        let partitions = match self.partitions {
            Some(p) => Some(crate::engine::non_negative(p, "partitions")?),
            None => None,
        };
        let max_lag = match self.max_lag {
            Some(n) => Some(u64::try_from(n).map_err(|_| kabase_sdk::Error::invalid(format!("max_lag must not be negative, got {n}")))?),
            None => None,
        };
        Ok(kabase_sdk::StreamOptions {
            name: self.name.clone(),
            partitioning: self.partitioning.clone(),
            shape: self.shape.clone(),
            format: self.format.clone(),
            bytes: self.bytes_encoding.clone(),
            compression: self.compression.clone(),
            partitions,
            max_lag,
            routes: self
                .routes
                .iter()
                .map(|r| kabase_sdk::StreamRoute { action: r.action.clone(), table: r.table.clone(), family: r.family.clone(), qualifier: r.qualifier.clone(), topics: r.topics.clone() })
                .collect(),
            ..kabase_sdk::StreamOptions::default()
        })
    }
}

/// How a topic sinks into a table; every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq, uniffi::Record)]
pub struct SinkOptions {
    /// Stream name; default `<topic>-to-<table>`.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// Family of JSON fields written without a `family:` prefix.
    #[uniffi(default = None)]
    pub default_family: Option<String>,
    /// Take the row key from this JSON field instead of the record key.
    #[uniffi(default = None)]
    pub row_key_field: Option<String>,
}

/// What describe reports about one stream.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StreamDescription {
    /// Name.
    pub name: String,
    /// `"table_to_topic"` or `"topic_to_table"`.
    pub kind: String,
    /// The table (`ns:table`).
    pub table: String,
    /// The topics (a table-to-topic stream's main topic first).
    pub topics: Vec<String>,
    /// `"running"`, `"paused"` or `"failed"`.
    pub state: String,
    /// The last failure when `state` is `"failed"` (the stream retries).
    pub error: Option<String>,
    /// Table to topic: sequence number of the last change in the topic. Topic to table: the sum
    /// of the next offsets to consume.
    pub position: i64,
    /// Changes (or records) not yet moved.
    pub lag: i64,
    /// Topic to table: the next offset to consume per partition of its topic.
    pub offsets: Vec<PartitionOffset>,
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn partition_number(p: u32) -> i32 {
    i32::try_from(p).unwrap_or(i32::MAX)
}

fn describe_out(d: kabase_sdk::StreamDescription) -> StreamDescription {
    let topic = d.topics.first().cloned().unwrap_or_default();
    StreamDescription {
        offsets: d.offsets.iter().map(|&(p, o)| PartitionOffset { topic: topic.clone(), partition: partition_number(p), offset: o }).collect(),
        name: d.name,
        kind: d.kind,
        table: d.table,
        topics: d.topics,
        state: d.state,
        error: d.error,
        position: clamp(d.position),
        lag: clamp(d.lag),
    }
}

/// A consistent snapshot of a streamed table and where its topic continues it: apply `rows`,
/// then consume each partition from its offset, and every change is seen exactly once.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StreamSnapshot {
    /// The change sequence number the snapshot holds everything up to.
    pub seq: i64,
    /// Every row at `seq`.
    pub rows: Vec<Row>,
    /// The first offset after the snapshot, per partition of the stream's topics.
    pub offsets: Vec<PartitionOffset>,
}

/// A durable change stream, by name. Dropping the handle leaves the stream running (streams
/// survive restarts until removed).
#[derive(uniffi::Object)]
pub struct ChangeStream {
    inner: kabase_sdk::ChangeStream,
}

#[uniffi::export]
impl ChangeStream {
    /// The stream's name.
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// State, position and lag.
    pub fn describe(&self) -> Result<StreamDescription> {
        Ok(describe_out(self.inner.describe()?))
    }

    /// Stop moving data (a table-to-topic stream keeps capturing changes up to its max lag).
    pub fn pause(&self) -> Result<()> {
        Ok(self.inner.pause()?)
    }

    /// Move data again.
    pub fn resume(&self) -> Result<()> {
        Ok(self.inner.resume()?)
    }

    /// Remove the stream (its topics and table stay); later calls fail with `STREAM_NOT_FOUND`.
    pub fn remove(&self) -> Result<()> {
        Ok(self.inner.remove()?)
    }

    /// Wait until the stream has no lag (`TIMEOUT` after `timeout_ms`); its description then.
    pub fn wait_caught_up(&self, timeout_ms: i64) -> Result<StreamDescription> {
        let ms = u64::try_from(timeout_ms).map_err(|_| kabase_sdk::Error::invalid(format!("timeout_ms must not be negative, got {timeout_ms}")))?;
        Ok(describe_out(self.inner.wait_caught_up(ms)?))
    }

    /// Snapshot, then stream (table-to-topic streams only).
    pub fn snapshot(&self) -> Result<StreamSnapshot> {
        let s = self.inner.snapshot()?;
        Ok(StreamSnapshot {
            seq: clamp(s.seq),
            rows: s.rows.into_iter().map(row_out).collect(),
            offsets: s.offsets.into_iter().map(|o| PartitionOffset { topic: o.topic, partition: partition_number(o.partition), offset: o.offset }).collect(),
        })
    }
}

#[uniffi::export]
impl Engine {
    /// Stream every committed mutation of `table` into `topic` (null = `default.<table>`),
    /// exactly once, from now on; missing topics are created.
    pub fn stream_table_to_topic(&self, table: String, topic: Option<String>, options: StreamOptions) -> Result<Arc<ChangeStream>> {
        Ok(Arc::new(ChangeStream { inner: self.sdk().stream_table_to_topic(&table, topic.as_deref(), &options.to_sdk()?)? }))
    }

    /// Consume `topic` into `table` exactly once: record key to row key, a JSON value's
    /// `family:qualifier` fields to cells, a null field deletes the cell, a tombstone the row.
    pub fn sink_topic_to_table(&self, topic: String, table: String, options: SinkOptions) -> Result<Arc<ChangeStream>> {
        let o = kabase_sdk::SinkOptions { name: options.name, default_family: options.default_family, row_key_field: options.row_key_field };
        Ok(Arc::new(ChangeStream { inner: self.sdk().sink_topic_to_table(&topic, &table, &o)? }))
    }

    /// A handle on an existing stream (`STREAM_NOT_FOUND` otherwise).
    pub fn change_stream(&self, name: String) -> Result<Arc<ChangeStream>> {
        Ok(Arc::new(ChangeStream { inner: self.sdk().change_stream(&name)? }))
    }

    /// Every stream's description.
    pub fn list_streams(&self) -> Result<Vec<StreamDescription>> {
        Ok(self.sdk().list_streams()?.into_iter().map(describe_out).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::table::ColumnValue;
    use crate::topic::OutgoingRecord;
    use crate::KabaseError;

    fn code<T>(r: Result<T>) -> String {
        match r {
            Err(KabaseError::Failed { code_name, .. }) => code_name,
            Ok(_) => "OK".into(),
        }
    }

    fn cv(v: &str) -> Vec<ColumnValue> {
        vec![ColumnValue { family: b"cf".to_vec(), qualifier: b"v".to_vec(), value: v.as_bytes().to_vec() }]
    }

    #[test]
    fn table_to_topic_change_records_and_lifecycle() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("orders".into(), vec!["cf".into()]).unwrap();
        let t = e.table("orders".into()).unwrap();
        t.put(b"before".to_vec(), cv("1")).unwrap();
        let s = e.stream_table_to_topic("orders".into(), Some("orders-cdc".into()), StreamOptions { partitions: Some(1), ..Default::default() }).unwrap();
        assert_eq!(s.name(), "orders-to-orders-cdc");
        t.put(b"after".to_vec(), cv("2")).unwrap();
        let d = s.wait_caught_up(10_000).unwrap();
        assert_eq!((d.kind.as_str(), d.state.as_str(), d.lag, d.topics.clone()), ("table_to_topic", "running", 0, vec!["orders-cdc".to_string()]));
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.rows.len(), 2);
        assert_eq!(snap.offsets, vec![PartitionOffset { topic: "orders-cdc".into(), partition: 0, offset: 1 }]);
        let c = e.consumer(None, HashMap::from([("isolation.level".to_string(), "read_committed".to_string())])).unwrap();
        c.subscribe(vec!["orders-cdc".into()], true).unwrap();
        let recs = c.poll(10, 2000).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].key.as_deref(), Some(&b"after"[..]));
        assert!(String::from_utf8_lossy(recs[0].value.as_deref().unwrap()).contains("\"after\""));
        s.pause().unwrap();
        assert_eq!(s.describe().unwrap().state, "paused");
        s.resume().unwrap();
        assert_eq!(e.list_streams().unwrap().len(), 1);
        assert_eq!(e.change_stream("orders-to-orders-cdc".into()).unwrap().name(), s.name());
        s.remove().unwrap();
        assert_eq!(code(s.describe()), "STREAM_NOT_FOUND");
        assert_eq!(code(e.change_stream("nope".into())), "STREAM_NOT_FOUND");
    }

    #[test]
    fn topic_to_table_sink() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("users".into(), vec!["cf".into()]).unwrap();
        let s = e.sink_topic_to_table("users-in".into(), "users".into(), SinkOptions { default_family: Some("cf".into()), ..Default::default() }).unwrap();
        let p = e.producer(HashMap::new()).unwrap();
        p.send("users-in".into(), OutgoingRecord { key: Some(b"u1".to_vec()), value: Some(br#"{"name":"Ann"}"#.to_vec()), ..Default::default() }).unwrap();
        let d = s.wait_caught_up(10_000).unwrap();
        assert_eq!(d.kind, "topic_to_table");
        assert_eq!(d.offsets, vec![PartitionOffset { topic: "users-in".into(), partition: 0, offset: 1 }]);
        let row = e.table("users".into()).unwrap().get(b"u1".to_vec()).unwrap().unwrap();
        assert_eq!(row.cells[0].value, b"Ann".to_vec());
        assert_eq!(code(s.snapshot()), "INVALID_ARGUMENT");
    }

    #[test]
    fn bad_options_are_errors() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("t".into(), vec!["cf".into()]).unwrap();
        let bad = |o: StreamOptions| code(e.stream_table_to_topic("t".into(), None, o));
        assert_eq!(bad(StreamOptions { shape: Some("square".into()), ..Default::default() }), "INVALID_CONFIG");
        assert_eq!(bad(StreamOptions { partitions: Some(-1), ..Default::default() }), "INVALID_ARGUMENT");
        assert_eq!(bad(StreamOptions { max_lag: Some(-1), ..Default::default() }), "INVALID_ARGUMENT");
        let route = StreamRoute { action: "bounce".into(), table: "t".into(), family: None, qualifier: None, topics: vec![] };
        assert_eq!(bad(StreamOptions { routes: vec![route], ..Default::default() }), "INVALID_CONFIG");
        assert_eq!(code(e.stream_table_to_topic("absent".into(), None, StreamOptions::default())), "TABLE_NOT_FOUND");
        let s = e.stream_table_to_topic("t".into(), None, StreamOptions::default()).unwrap();
        assert_eq!(code(s.wait_caught_up(-1)), "INVALID_ARGUMENT");
    }
}
