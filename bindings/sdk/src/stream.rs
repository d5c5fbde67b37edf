//! Change streams through the facade: a table's committed mutations into a topic, and a topic's
//! records into a table, exactly once (the core's `stream` module does the work). A
//! [`ChangeStream`] is a handle by name on a durable stream: describe, pause, resume, remove,
//! snapshot.
//!
//! Options travel as plain strings and numbers (the spellings of the core's names), so every
//! binding maps its host's options the same way and the core parses and checks them.

use std::time::Duration;

use kabase::stream::{Backpressure, BytesEncoding, Partitioning, RecordFormat, RecordShape, RouteAction, RouteRule, SinkSpec, StreamInfo, StreamKind, StreamSpec, StreamState};
use kabase::{Error, ErrorCode, Result};

use crate::{Engine, PartitionOffset, Row};

/// One route rule of a table-to-topic stream (as hbase-connectors' Kafka proxy rules): cells of
/// tables, families and qualifiers matching the patterns (exact, `prefix*`, `*suffix`,
/// `*infix*`, `*`) go to `topics`, or nowhere (`drop`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamRoute {
    /// `"route"` or `"drop"`.
    pub action: String,
    /// Table pattern.
    pub table: String,
    /// Family pattern; `None` = every family.
    pub family: Option<String>,
    /// Qualifier pattern; `None` = every qualifier.
    pub qualifier: Option<String>,
    /// Topics of a route rule (empty = the stream's topic).
    pub topics: Vec<String>,
}

/// How a table streams into a topic; every field is optional (`None` = the core's default).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Stream name; default `<table>-to-<topic>` with other characters replaced by `_`.
    pub name: Option<String>,
    /// `"row_key"` (default), `"family"` or `"fixed:<n>"`.
    pub partitioning: Option<String>,
    /// `"row"` (one record per row mutation, default) or `"cell"` (also `"per_row"`,
    /// `"per_cell"`).
    pub shape: Option<String>,
    /// `"json"` (default) or `"binary"`.
    pub format: Option<String>,
    /// JSON byte fields: `"auto"` (UTF-8 when possible, default) or `"base64"`.
    pub bytes: Option<String>,
    /// Topic compression by Kafka's name; default the table's.
    pub compression: Option<String>,
    /// Partitions of topics the stream creates.
    pub partitions: Option<u32>,
    /// Most changes waiting in the outbox.
    pub max_lag: Option<u64>,
    /// Route rules.
    pub routes: Vec<StreamRoute>,
    /// What a write does when the outbox holds `max_lag` changes: `"block"` (wait, default)
    /// or `"error"` (fail at once).
    pub backpressure: Option<String>,
    /// How long a `"block"` write waits for room before failing.
    pub backpressure_timeout_ms: Option<u64>,
}

/// How a topic sinks into a table; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkOptions {
    /// Stream name; default `<topic>-to-<table>` with other characters replaced by `_`.
    pub name: Option<String>,
    /// Family of JSON fields written without a `family:` prefix.
    pub default_family: Option<String>,
    /// Take the row key from this JSON field instead of the record key.
    pub row_key_field: Option<String>,
}

/// What describe reports about one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// The last failure's message when `state` is `"failed"` (the stream retries).
    pub error: Option<String>,
    /// Table to topic: sequence number of the last change in the topic. Topic to table: the
    /// sum of the next offsets to consume.
    pub position: u64,
    /// Changes (or records) not yet moved.
    pub lag: u64,
    /// Topic to table: the next offset to consume per partition.
    pub offsets: Vec<(u32, i64)>,
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl StreamDescription {
    fn from_core(i: StreamInfo) -> StreamDescription {
        let (state, error) = match i.state {
            StreamState::Running => ("running", None),
            StreamState::Paused => ("paused", None),
            StreamState::Failed(m) => ("failed", Some(m)),
        };
        StreamDescription {
            name: i.name,
            kind: match i.kind {
                StreamKind::TableToTopic => "table_to_topic",
                StreamKind::TopicToTable => "topic_to_table",
            }
            .to_string(),
            table: i.table,
            topics: i.topics,
            state: state.to_string(),
            error,
            position: i.position,
            lag: i.lag,
            offsets: i.offsets,
        }
    }

    /// The description as one JSON object: `{"name", "kind", "table", "topics": [..], "state",
    /// "error" (string or null), "position", "lag", "offsets": [{"partition", "offset"}]}`.
    pub fn to_json(&self) -> String {
        let topics: Vec<String> = self.topics.iter().map(|t| json_str(t)).collect();
        let offsets: Vec<String> = self.offsets.iter().map(|(p, o)| format!("{{\"partition\":{p},\"offset\":{o}}}")).collect();
        format!(
            "{{\"name\":{},\"kind\":{},\"table\":{},\"topics\":[{}],\"state\":{},\"error\":{},\"position\":{},\"lag\":{},\"offsets\":[{}]}}",
            json_str(&self.name),
            json_str(&self.kind),
            json_str(&self.table),
            topics.join(","),
            json_str(&self.state),
            self.error.as_deref().map_or_else(|| "null".to_string(), json_str),
            self.position,
            self.lag,
            offsets.join(",")
        )
    }
}

/// A consistent snapshot of a streamed table and where its topic continues it: apply `rows`,
/// then consume each partition from its offset, and every change is seen exactly once.
#[derive(Clone, Debug)]
pub struct StreamSnapshot {
    /// The change sequence number the snapshot holds everything up to.
    pub seq: u64,
    /// Every row at `seq` (newest version of each column).
    pub rows: Vec<Row>,
    /// The first offset after the snapshot, per partition of the stream's topics.
    pub offsets: Vec<PartitionOffset>,
}

/// A durable change stream, by name: cheap to clone. Dropping the handle leaves the stream
/// running (streams survive restarts until removed).
#[derive(Clone, Debug)]
pub struct ChangeStream {
    engine: Engine,
    name: String,
}

fn derived_name(a: &str, b: &str) -> String {
    format!("{a}-to-{b}").chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).take(200).collect()
}

fn route_rule(r: &StreamRoute) -> Result<RouteRule> {
    let mut rule = match RouteAction::parse(&r.action)? {
        RouteAction::Route => RouteRule::route(r.table.clone(), r.topics.clone()),
        RouteAction::Drop => RouteRule::drop(r.table.clone()),
    };
    if let Some(f) = &r.family {
        rule = rule.family(f.as_bytes().to_vec());
    }
    if let Some(q) = &r.qualifier {
        rule = rule.qualifier(q.as_bytes().to_vec());
    }
    Ok(rule)
}

fn bad_option(what: &str, value: &str, allowed: &str) -> Error {
    Error::new(ErrorCode::InvalidConfig, format!("stream option {what} must be {allowed}, not {value:?}"))
}

fn count_option<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| bad_option(key, value, "a non-negative integer"))
}

impl StreamOptions {
    /// Set one option by its name (`name`, `partitioning`, `shape`, `format`, `bytes`,
    /// `compression`, `partitions`, `max_lag`, `backpressure`, `backpressure_timeout_ms`), for bindings that pass options as string
    /// pairs. Values are checked when the stream is made; an unknown name is `InvalidConfig`.
    pub fn set(mut self, key: &str, value: &str) -> Result<StreamOptions> {
        let v = Some(value.to_string());
        match key {
            "name" => self.name = v,
            "partitioning" => self.partitioning = v,
            "shape" => self.shape = v,
            "format" => self.format = v,
            "bytes" => self.bytes = v,
            "compression" => self.compression = v,
            "partitions" => self.partitions = Some(count_option(key, value)?),
            "max_lag" => self.max_lag = Some(count_option(key, value)?),
            "backpressure" => self.backpressure = v,
            "backpressure_timeout_ms" => self.backpressure_timeout_ms = Some(count_option(key, value)?),
            _ => return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown stream option {key:?}"))),
        }
        Ok(self)
    }

    fn to_spec(&self, table: &str, topic: Option<&str>) -> Result<StreamSpec> {
        let default_topic = kabase::stream::route::default_topic_for(table);
        let name = self.name.clone().unwrap_or_else(|| derived_name(table, topic.unwrap_or(&default_topic)));
        let mut spec = StreamSpec::new(name, table);
        spec.topic = topic.map(str::to_string);
        if let Some(p) = &self.partitioning {
            spec.partitioning = Partitioning::parse(p)?;
        }
        if let Some(s) = &self.shape {
            spec.shape = match s.as_str() {
                "row" | "per_row" => RecordShape::PerRow,
                "cell" | "per_cell" => RecordShape::PerCell,
                _ => return Err(bad_option("shape", s, "\"row\" or \"cell\"")),
            };
        }
        if let Some(f) = &self.format {
            spec.format = match f.as_str() {
                "json" => RecordFormat::Json,
                "binary" => RecordFormat::Binary,
                _ => return Err(bad_option("format", f, "\"json\" or \"binary\"")),
            };
        }
        if let Some(b) = &self.bytes {
            spec.bytes = match b.as_str() {
                "auto" => BytesEncoding::Auto,
                "base64" => BytesEncoding::Base64,
                _ => return Err(bad_option("bytes", b, "\"auto\" or \"base64\"")),
            };
        }
        spec.compression = self.compression.clone();
        spec.partitions = self.partitions;
        if let Some(n) = self.max_lag {
            spec.max_lag = n;
        }
        spec.routes = self.routes.iter().map(route_rule).collect::<Result<_>>()?;
        spec.backpressure = match (self.backpressure.as_deref(), self.backpressure_timeout_ms) {
            (None | Some("block"), Some(ms)) => Backpressure::Block { timeout_ms: ms },
            (None | Some("block"), None) => Backpressure::default(),
            (Some("error"), None) => Backpressure::Error,
            (Some("error"), Some(_)) => return Err(Error::new(ErrorCode::InvalidConfig, "backpressure_timeout_ms applies to backpressure \"block\" only")),
            (Some(o), _) => return Err(bad_option("backpressure", o, "\"block\" or \"error\"")),
        };
        Ok(spec)
    }
}

impl SinkOptions {
    /// Set one option by its name (`name`, `default_family`, `row_key_field`); an unknown name
    /// is `InvalidConfig`.
    pub fn set(mut self, key: &str, value: &str) -> Result<SinkOptions> {
        let v = Some(value.to_string());
        match key {
            "name" => self.name = v,
            "default_family" => self.default_family = v,
            "row_key_field" => self.row_key_field = v,
            _ => return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown sink option {key:?}"))),
        }
        Ok(self)
    }
}

impl Engine {
    /// Stream every committed mutation of `table` into `topic` (`None` = the default topic
    /// derived from the table, `default.<table>`), exactly once, from now on. Creates missing
    /// topics. Use [`ChangeStream::snapshot`] for what the table held before.
    pub fn stream_table_to_topic(&self, table: &str, topic: Option<&str>, options: &StreamOptions) -> Result<ChangeStream> {
        let info = self.core.stream_table_to_topic(options.to_spec(table, topic)?)?;
        Ok(ChangeStream { engine: self.clone(), name: info.name })
    }

    /// Consume `topic` into `table` exactly once: record key to row key, a JSON value's
    /// `family:qualifier` fields to cells, a null field deletes the cell, a tombstone deletes
    /// the row. The table must exist; the topic is created if missing.
    pub fn sink_topic_to_table(&self, topic: &str, table: &str, options: &SinkOptions) -> Result<ChangeStream> {
        let name = options.name.clone().unwrap_or_else(|| derived_name(topic, table));
        let mut spec = SinkSpec::new(name, topic, table);
        spec.mapping.default_family = options.default_family.clone();
        spec.mapping.row_key_field = options.row_key_field.clone();
        let info = self.core.sink_topic_to_table(spec)?;
        Ok(ChangeStream { engine: self.clone(), name: info.name })
    }

    /// A handle on an existing stream (`StreamNotFound` otherwise).
    pub fn change_stream(&self, name: &str) -> Result<ChangeStream> {
        self.core.describe_stream(name)?;
        Ok(ChangeStream { engine: self.clone(), name: name.to_string() })
    }

    /// A handle on the stream `name` without checking it exists (its calls fail with
    /// `StreamNotFound` when it does not), for hosts that keep stream handles by name.
    pub fn stream_handle(&self, name: &str) -> ChangeStream {
        ChangeStream { engine: self.clone(), name: name.to_string() }
    }

    /// Every stream, by name.
    pub fn list_streams(&self) -> Result<Vec<StreamDescription>> {
        Ok(self.core.describe_streams()?.into_iter().map(StreamDescription::from_core).collect())
    }
}

impl ChangeStream {
    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// State, position and lag.
    pub fn describe(&self) -> Result<StreamDescription> {
        Ok(StreamDescription::from_core(self.engine.core.describe_stream(&self.name)?))
    }

    /// Stop moving data (a table-to-topic stream keeps capturing changes up to its `max_lag`);
    /// survives restarts.
    pub fn pause(&self) -> Result<()> {
        self.engine.core.pause_stream(&self.name)
    }

    /// Move data again.
    pub fn resume(&self) -> Result<()> {
        self.engine.core.resume_stream(&self.name)
    }

    /// Remove the stream (its topics and table stay); the handle's later calls fail with
    /// `StreamNotFound`.
    pub fn remove(&self) -> Result<()> {
        self.engine.core.remove_stream(&self.name)
    }

    /// Wait until the stream has no lag; `Timeout` after `timeout_ms`, `InvalidArgument` at once
    /// when paused with lag.
    pub fn wait_caught_up(&self, timeout_ms: u64) -> Result<StreamDescription> {
        Ok(StreamDescription::from_core(self.engine.core.await_stream(&self.name, Duration::from_millis(timeout_ms))?))
    }

    /// Snapshot, then stream (table-to-topic streams only): the table's rows and the offsets
    /// from which the topic continues them.
    pub fn snapshot(&self) -> Result<StreamSnapshot> {
        let s = self.engine.core.snapshot_stream(&self.name)?;
        Ok(StreamSnapshot {
            seq: s.seq,
            rows: s.rows,
            offsets: s.offsets.into_iter().map(|(tp, offset)| PartitionOffset { topic: tp.topic, partition: tp.partition, offset }).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnValue, OutgoingRecord};

    fn put(t: &crate::Table, row: &str, v: &str) {
        t.put(row.as_bytes(), &[ColumnValue::parse(b"cf:v", v).unwrap()]).unwrap();
    }

    #[test]
    fn table_to_topic_with_snapshot_describe_pause_resume_remove() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("orders", &["cf"]).unwrap();
        let t = e.table("orders").unwrap();
        put(&t, "before", "1");
        let opts = StreamOptions { partitions: Some(1), ..StreamOptions::default() };
        let s = e.stream_table_to_topic("orders", Some("orders-cdc"), &opts).unwrap();
        assert_eq!(s.name(), "orders-to-orders-cdc");
        put(&t, "after", "2");
        let d = s.wait_caught_up(10_000).unwrap();
        assert_eq!((d.kind.as_str(), d.state.as_str(), d.lag), ("table_to_topic", "running", 0));
        assert_eq!(d.topics, vec!["orders-cdc".to_string()]);
        assert!(d.to_json().contains("\"topics\":[\"orders-cdc\"]"), "{}", d.to_json());
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.rows.len(), 2);
        assert_eq!(snap.offsets, vec![PartitionOffset { topic: "orders-cdc".into(), partition: 0, offset: 1 }]);
        let c = e.consumer(None, &[("isolation.level".into(), "read_committed".into())]).unwrap();
        c.subscribe(&["orders-cdc".into()], true).unwrap();
        let recs = c.poll(10, 2000).unwrap().records;
        assert_eq!(recs.len(), 1);
        assert!(String::from_utf8_lossy(recs[0].value.as_deref().unwrap()).contains("after"));

        s.pause().unwrap();
        assert_eq!(s.describe().unwrap().state, "paused");
        put(&t, "paused", "3");
        assert_eq!(s.describe().unwrap().lag, 1);
        s.resume().unwrap();
        s.wait_caught_up(10_000).unwrap();
        assert_eq!(e.list_streams().unwrap().len(), 1);
        assert_eq!(e.change_stream("orders-to-orders-cdc").unwrap().name(), s.name());
        s.remove().unwrap();
        assert_eq!(s.describe().unwrap_err().code(), ErrorCode::StreamNotFound);
        assert_eq!(e.change_stream("nope").unwrap_err().code(), ErrorCode::StreamNotFound);
    }

    #[test]
    fn backpressure_error_fails_writes_over_max_lag() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("bp", &["cf"]).unwrap();
        let t = e.table("bp").unwrap();
        let opts = StreamOptions { max_lag: Some(1), backpressure: Some("error".into()), shape: Some("per_row".into()), ..StreamOptions::default() };
        let s = e.stream_table_to_topic("bp", Some("bp-out"), &opts).unwrap();
        s.pause().unwrap();
        put(&t, "a", "1");
        let err = t.put(b"b", &[ColumnValue::parse(b"cf:v", "2").unwrap()]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
        s.resume().unwrap();
        s.wait_caught_up(10_000).unwrap();
    }

    #[test]
    fn sink_topic_to_table() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("users", &["cf"]).unwrap();
        let s = e.sink_topic_to_table("users-in", "users", &SinkOptions { default_family: Some("cf".into()), ..SinkOptions::default() }).unwrap();
        let p = e.producer(&[]).unwrap();
        let rec = OutgoingRecord { key: Some(b"u1".to_vec()), value: Some(br#"{"name":"Ann","cf:age":"30"}"#.to_vec()), ..OutgoingRecord::default() };
        p.send("users-in", &rec).unwrap();
        let d = s.wait_caught_up(10_000).unwrap();
        assert_eq!(d.kind, "topic_to_table");
        let row = e.table("users").unwrap().get(b"u1").unwrap().unwrap();
        assert_eq!(row.cells.len(), 2);
        assert_eq!(s.snapshot().unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn options_by_name() {
        let o = StreamOptions::default().set("shape", "cell").unwrap().set("partitions", "3").unwrap().set("max_lag", "10").unwrap();
        assert_eq!((o.shape.as_deref(), o.partitions, o.max_lag), (Some("cell"), Some(3), Some(10)));
        assert_eq!(StreamOptions::default().set("partitions", "-1").unwrap_err().code(), ErrorCode::InvalidConfig);
        let b = StreamOptions::default().set("backpressure", "error").unwrap().set("backpressure_timeout_ms", "20").unwrap();
        assert_eq!((b.backpressure.as_deref(), b.backpressure_timeout_ms), (Some("error"), Some(20)));
        assert_eq!(StreamOptions::default().set("colour", "red").unwrap_err().code(), ErrorCode::InvalidConfig);
        let s = SinkOptions::default().set("default_family", "cf").unwrap();
        assert_eq!(s.default_family.as_deref(), Some("cf"));
        assert_eq!(SinkOptions::default().set("shape", "row").unwrap_err().code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn bad_options() {
        let e = Engine::open_in_memory().unwrap();
        e.create_table("t", &["cf"]).unwrap();
        let bad = |o: StreamOptions| e.stream_table_to_topic("t", None, &o).unwrap_err().code();
        assert_eq!(bad(StreamOptions { shape: Some("square".into()), ..Default::default() }), ErrorCode::InvalidConfig);
        assert_eq!(bad(StreamOptions { partitioning: Some("rows".into()), ..Default::default() }), ErrorCode::InvalidConfig);
        assert_eq!(bad(StreamOptions { format: Some("xml".into()), ..Default::default() }), ErrorCode::InvalidConfig);
        assert_eq!(bad(StreamOptions { backpressure: Some("drop".into()), ..Default::default() }), ErrorCode::InvalidConfig);
        assert_eq!(bad(StreamOptions { backpressure: Some("error".into()), backpressure_timeout_ms: Some(5), ..Default::default() }), ErrorCode::InvalidConfig);
        assert_eq!(bad(StreamOptions { name: Some("bad name".into()), ..Default::default() }), ErrorCode::InvalidName);
        let route = StreamRoute { action: "bounce".into(), table: "t".into(), ..Default::default() };
        assert_eq!(bad(StreamOptions { routes: vec![route], ..Default::default() }), ErrorCode::InvalidConfig);
        assert_eq!(e.stream_table_to_topic("absent", None, &StreamOptions::default()).unwrap_err().code(), ErrorCode::TableNotFound);
        let d = e.stream_table_to_topic("t", None, &StreamOptions::default()).unwrap().describe().unwrap();
        assert_eq!((d.name.as_str(), d.topics[0].as_str()), ("t-to-default.t", "default.t"));
    }
}
