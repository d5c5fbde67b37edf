//! The native module of the npm package `kabase` (loaded as `kabase.node`).
//!
//! A thin shim over `kabase-sdk`: every method returns a Promise and runs its work on libuv's
//! thread pool ([`AsyncTask`]), never on the JS thread. Errors are rejected with a message
//! prefixed `[<code number>:<CODE_NAME>] `; the JS surface (`index.js`, `errors.js`) turns that
//! prefix into `err.code` / `err.errno`. The kafkajs-shaped API lives in JS, not here.

#![deny(clippy::all)]

use napi::bindgen_prelude::{AsyncTask, Buffer, ToNapiValue, TypeName};
use napi::{Env, Status, Task};
use napi_derive::napi;

/// A unit of blocking work run off the JS thread.
pub struct Job<T: Send + 'static> {
    work: Option<Box<dyn FnOnce() -> kabase_sdk::Result<T> + Send>>,
}

fn job<T: ToNapiValue + TypeName + Send + 'static>(work: impl FnOnce() -> kabase_sdk::Result<T> + Send + 'static) -> AsyncTask<Job<T>> {
    AsyncTask::new(Job { work: Some(Box::new(work)) })
}

/// The rejection for a core error: the code travels in a fixed prefix the JS layer parses.
fn to_napi(e: kabase_sdk::Error) -> napi::Error {
    napi::Error::new(Status::GenericFailure, format!("[{}:{}] {}", e.code().as_i32(), e.code().name(), e.message()))
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<T> {
        let work = self.work.take().ok_or_else(|| napi::Error::new(Status::GenericFailure, "[100:INTERNAL] job ran twice"))?;
        work().map_err(to_napi)
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
        Ok(output)
    }
}

/// The version of kabase (the workspace version).
#[napi]
pub fn version() -> String {
    kabase_sdk::VERSION.to_string()
}

/// Every error code: `[number, name]` pairs, in numeric order.
#[napi]
pub fn error_codes() -> Vec<ErrorCodeEntry> {
    kabase_sdk::error_codes().iter().map(|c| ErrorCodeEntry { code: c.as_i32(), name: c.name().to_string() }).collect()
}

/// One error code.
#[napi(object)]
pub struct ErrorCodeEntry {
    /// Stable number.
    pub code: i32,
    /// Stable name, e.g. `TABLE_NOT_FOUND`.
    pub name: String,
}

/// Open an engine in `path`, or in memory when `path` is null/undefined.
#[napi]
pub fn open_engine(path: Option<String>) -> AsyncTask<Job<Engine>> {
    job(move || {
        let inner = match path {
            Some(p) => kabase_sdk::Engine::open(&p)?,
            None => kabase_sdk::Engine::open_in_memory()?,
        };
        Ok(Engine { inner })
    })
}

/// An open engine.
#[napi]
pub struct Engine {
    inner: kabase_sdk::Engine,
}

/// One column value to write.
#[napi(object)]
pub struct ColumnValue {
    /// `family:qualifier`.
    pub column: String,
    /// The value.
    pub value: Buffer,
}

/// One cell read back.
#[napi(object)]
pub struct CellOut {
    /// Column family.
    pub family: String,
    /// Column qualifier.
    pub qualifier: String,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// The value.
    pub value: Buffer,
}

/// A row read back.
#[napi(object)]
pub struct RowOut {
    /// Row key.
    pub row: Buffer,
    /// Cells: family, then qualifier, ascending.
    pub cells: Vec<CellOut>,
}

fn row_out(r: kabase_sdk::Row) -> RowOut {
    RowOut {
        row: r.row.into(),
        cells: r
            .cells
            .into_iter()
            .map(|c| CellOut {
                family: String::from_utf8_lossy(&c.family).into_owned(),
                qualifier: String::from_utf8_lossy(&c.qualifier).into_owned(),
                timestamp: c.timestamp,
                value: c.value.into(),
            })
            .collect(),
    }
}

/// What a scan visits.
#[napi(object)]
pub struct ScanSpec {
    /// First row (inclusive).
    pub start: Option<Buffer>,
    /// Row to stop before (exclusive).
    pub stop: Option<Buffer>,
    /// Row key prefix.
    pub prefix: Option<Buffer>,
    /// Most rows.
    pub limit: Option<i64>,
    /// High keys first.
    pub reversed: Option<bool>,
}

/// One header.
#[napi(object)]
pub struct HeaderEntry {
    /// Header key.
    pub key: String,
    /// Header value; absent (or null) = Kafka's null header value.
    pub value: Option<Buffer>,
}

/// One record to send.
#[napi(object)]
pub struct MessageIn {
    /// Partition; absent = partitioner.
    pub partition: Option<u32>,
    /// Key; absent = null key.
    pub key: Option<Buffer>,
    /// Value; absent = tombstone.
    pub value: Option<Buffer>,
    /// Create time (ms since the epoch).
    pub timestamp: Option<i64>,
    /// Headers.
    pub headers: Option<Vec<HeaderEntry>>,
}

/// Where a record landed.
#[napi(object)]
pub struct RecordMetadataOut {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
}

/// One consumed record.
#[napi(object)]
pub struct RecordOut {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Key (null for a null key).
    pub key: Option<Buffer>,
    /// Value (null for a tombstone).
    pub value: Option<Buffer>,
    /// Headers.
    pub headers: Vec<HeaderEntry>,
}

/// A partition's position.
#[napi(object)]
pub struct PartitionOffsetIo {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Next offset.
    pub offset: i64,
}

#[napi]
impl Engine {
    /// Close the engine.
    #[napi]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let e = self.inner.clone();
        job(move || e.close())
    }

    /// The data directory.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.path()
    }

    /// Create a table with column families.
    #[napi]
    pub fn create_table(&self, name: String, families: Vec<String>) -> AsyncTask<Job<()>> {
        let e = self.inner.clone();
        job(move || e.create_table(&name, &families.iter().map(String::as_str).collect::<Vec<_>>()))
    }

    /// Delete a table.
    #[napi]
    pub fn delete_table(&self, name: String) -> AsyncTask<Job<()>> {
        let e = self.inner.clone();
        job(move || e.delete_table(&name))
    }

    /// Table names.
    #[napi]
    pub fn list_tables(&self) -> AsyncTask<Job<Vec<String>>> {
        let e = self.inner.clone();
        job(move || e.list_tables())
    }

    /// A table handle.
    #[napi]
    pub fn table(&self, name: String) -> AsyncTask<Job<Table>> {
        let e = self.inner.clone();
        job(move || Ok(Table { inner: e.table(&name)? }))
    }

    /// Create a topic.
    #[napi]
    pub fn create_topic(&self, name: String, partitions: u32) -> AsyncTask<Job<()>> {
        let e = self.inner.clone();
        job(move || e.create_topic(&name, partitions))
    }

    /// Delete a topic.
    #[napi]
    pub fn delete_topic(&self, name: String) -> AsyncTask<Job<()>> {
        let e = self.inner.clone();
        job(move || e.delete_topic(&name))
    }

    /// Topic names.
    #[napi]
    pub fn list_topics(&self) -> AsyncTask<Job<Vec<String>>> {
        let e = self.inner.clone();
        job(move || e.list_topics())
    }

    /// A producer (configs by Kafka's names).
    #[napi]
    pub fn producer(&self, configs: Vec<Vec<String>>) -> AsyncTask<Job<Producer>> {
        let e = self.inner.clone();
        job(move || Ok(Producer { inner: e.producer(&pairs(configs)?)? }))
    }

    /// Stream a table's committed mutations into a topic (absent = the default topic); options
    /// as `[name, value]` pairs of the facade's names.
    #[napi]
    pub fn stream_table_to_topic(&self, table: String, topic: Option<String>, options: Vec<Vec<String>>, routes: Option<Vec<StreamRouteIn>>) -> AsyncTask<Job<ChangeStream>> {
        let e = self.inner.clone();
        job(move || Ok(ChangeStream { inner: e.stream_table_to_topic(&table, topic.as_deref(), &stream_options(options, routes)?)? }))
    }

    /// Consume a topic into a table, exactly once; options as `[name, value]` pairs.
    #[napi]
    pub fn sink_topic_to_table(&self, topic: String, table: String, options: Vec<Vec<String>>) -> AsyncTask<Job<ChangeStream>> {
        let e = self.inner.clone();
        job(move || {
            let o = pairs(options)?.iter().try_fold(kabase_sdk::SinkOptions::default(), |o, (k, v)| o.set(k, v))?;
            Ok(ChangeStream { inner: e.sink_topic_to_table(&topic, &table, &o)? })
        })
    }

    /// A handle on an existing stream.
    #[napi]
    pub fn change_stream(&self, name: String) -> AsyncTask<Job<ChangeStream>> {
        let e = self.inner.clone();
        job(move || Ok(ChangeStream { inner: e.change_stream(&name)? }))
    }

    /// Every stream's JSON description.
    #[napi]
    pub fn list_streams(&self) -> AsyncTask<Job<Vec<String>>> {
        let e = self.inner.clone();
        job(move || Ok(e.list_streams()?.iter().map(kabase_sdk::StreamDescription::to_json).collect()))
    }

    /// A consumer, in a group when `group_id` is given.
    #[napi]
    pub fn consumer(&self, group_id: Option<String>, configs: Vec<Vec<String>>) -> AsyncTask<Job<Consumer>> {
        let e = self.inner.clone();
        job(move || Ok(Consumer { inner: e.consumer(group_id.as_deref(), &pairs(configs)?)? }))
    }
}

fn pairs(configs: Vec<Vec<String>>) -> kabase_sdk::Result<Vec<(String, String)>> {
    configs
        .into_iter()
        .map(|kv| match <[String; 2]>::try_from(kv) {
            Ok([k, v]) => Ok((k, v)),
            Err(kv) => Err(kabase_sdk::Error::invalid(format!("a config must be a [key, value] pair, got {} items", kv.len()))),
        })
        .collect()
}

/// A table handle.
#[napi]
pub struct Table {
    inner: kabase_sdk::Table,
}

#[napi]
impl Table {
    /// Full name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// Write columns of one row atomically.
    #[napi]
    pub fn put(&self, row: Buffer, columns: Vec<ColumnValue>) -> AsyncTask<Job<()>> {
        let t = self.inner.clone();
        let row = row.to_vec();
        let cols: Vec<(String, Vec<u8>)> = columns.into_iter().map(|c| (c.column, c.value.to_vec())).collect();
        job(move || {
            let cols = cols.iter().map(|(c, v)| kabase_sdk::ColumnValue::parse(c.as_bytes(), v.clone())).collect::<kabase_sdk::Result<Vec<_>>>()?;
            t.put(&row, &cols)
        })
    }

    /// The newest version of every column of a row (null when none).
    #[napi]
    pub fn get(&self, row: Buffer, columns: Option<Vec<String>>) -> AsyncTask<Job<Option<RowOut>>> {
        let t = self.inner.clone();
        let row = row.to_vec();
        job(move || {
            let r = match columns {
                Some(cols) if !cols.is_empty() => t.get_columns(&row, &cols.into_iter().map(String::into_bytes).collect::<Vec<_>>())?,
                _ => t.get(&row)?,
            };
            Ok(r.map(row_out))
        })
    }

    /// Many rows in one call (the facade's multi-get): a row or null per key, in key order.
    #[napi]
    pub fn get_many(&self, rows: Vec<Buffer>) -> AsyncTask<Job<Vec<Option<RowOut>>>> {
        let t = self.inner.clone();
        let keys: Vec<Vec<u8>> = rows.into_iter().map(|b| b.to_vec()).collect();
        job(move || Ok(t.get_many(&keys)?.into_iter().map(|r| r.map(row_out)).collect()))
    }

    /// Delete a row, or only some of its columns.
    #[napi]
    pub fn delete(&self, row: Buffer, columns: Option<Vec<String>>) -> AsyncTask<Job<()>> {
        let t = self.inner.clone();
        let row = row.to_vec();
        job(move || match columns {
            Some(cols) if !cols.is_empty() => t.delete_columns(&row, &cols.into_iter().map(String::into_bytes).collect::<Vec<_>>()),
            _ => t.delete(&row),
        })
    }

    /// Rows of a scan, in one batch.
    #[napi]
    pub fn scan(&self, spec: ScanSpec) -> AsyncTask<Job<Vec<RowOut>>> {
        let t = self.inner.clone();
        let opts = kabase_sdk::ScanOptions {
            start: spec.start.map(|b| b.to_vec()).unwrap_or_default(),
            stop: spec.stop.map(|b| b.to_vec()).unwrap_or_default(),
            prefix: spec.prefix.map(|b| b.to_vec()),
            limit: spec.limit.map(|l| u64::try_from(l).unwrap_or(0)),
            reversed: spec.reversed.unwrap_or(false),
            families: Vec::new(),
        };
        job(move || Ok(t.scan(&opts)?.rows.into_iter().map(row_out).collect()))
    }
}

/// A producer.
#[napi]
pub struct Producer {
    inner: kabase_sdk::Producer,
}

#[napi]
impl Producer {
    /// Send records to one topic, waiting until all are in the log.
    #[napi]
    pub fn send(&self, topic: String, messages: Vec<MessageIn>) -> AsyncTask<Job<Vec<RecordMetadataOut>>> {
        let p = self.inner.clone();
        let records: Vec<kabase_sdk::OutgoingRecord> = messages
            .into_iter()
            .map(|m| kabase_sdk::OutgoingRecord {
                partition: m.partition,
                key: m.key.map(|b| b.to_vec()),
                value: m.value.map(|b| b.to_vec()),
                timestamp: m.timestamp,
                headers: m.headers.unwrap_or_default().into_iter().map(|h| (h.key, h.value.map(|b| b.to_vec()))).collect(),
            })
            .collect();
        job(move || {
            let metas = p.send_batch(&kabase_sdk::OutgoingBatch { topic, records })?;
            Ok(metas.into_iter().map(|m| RecordMetadataOut { topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp }).collect())
        })
    }

    /// Wait until everything sent is in the log.
    #[napi]
    pub fn flush(&self) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        job(move || p.flush())
    }

    /// Flush and stop.
    #[napi]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        job(move || p.close())
    }

    /// Register the transactional id.
    #[napi]
    pub fn init_transactions(&self) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        job(move || p.init_transactions())
    }

    /// Start a transaction.
    #[napi]
    pub fn begin_transaction(&self) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        job(move || p.begin_transaction())
    }

    /// Commit a group's offsets with the open transaction.
    #[napi]
    pub fn send_offsets(&self, offsets: Vec<PartitionOffsetIo>, group_id: String) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        let list: Vec<kabase_sdk::PartitionOffset> = offsets.into_iter().map(|o| kabase_sdk::PartitionOffset { topic: o.topic, partition: o.partition, offset: o.offset }).collect();
        job(move || p.send_offsets_to_transaction(&list, &group_id))
    }

    /// Commit the open transaction.
    #[napi]
    pub fn commit_transaction(&self) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        job(move || p.commit_transaction())
    }

    /// Abort the open transaction.
    #[napi]
    pub fn abort_transaction(&self) -> AsyncTask<Job<()>> {
        let p = self.inner.clone();
        job(move || p.abort_transaction())
    }
}

/// A consumer.
#[napi]
pub struct Consumer {
    inner: kabase_sdk::Consumer,
}

#[napi]
impl Consumer {
    /// Subscribe to topics.
    #[napi]
    pub fn subscribe(&self, topics: Vec<String>, from_beginning: bool) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        job(move || c.subscribe(&topics, from_beginning))
    }

    /// Up to `max_records` records, waiting up to `timeout_ms` for the first.
    #[napi]
    pub fn poll(&self, max_records: u32, timeout_ms: u32) -> AsyncTask<Job<Vec<RecordOut>>> {
        let c = self.inner.clone();
        job(move || {
            let batch = c.poll(max_records as usize, u64::from(timeout_ms))?;
            Ok(batch
                .records
                .into_iter()
                .map(|r| RecordOut {
                    topic: r.topic.to_string(),
                    partition: r.partition,
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key: r.key.map(Buffer::from),
                    value: r.value.map(Buffer::from),
                    headers: r.headers.into_iter().map(|h| HeaderEntry { key: h.key, value: h.value.map(Buffer::from) }).collect(),
                })
                .collect())
        })
    }

    /// Move a partition's position.
    #[napi]
    pub fn seek(&self, topic: String, partition: u32, offset: i64) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        job(move || c.seek(&topic, partition, offset))
    }

    /// Commit current positions (no argument) or the given next offsets.
    #[napi]
    pub fn commit(&self, offsets: Option<Vec<PartitionOffsetIo>>) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        job(move || match offsets {
            Some(list) => c.commit_offsets(&list.into_iter().map(|o| kabase_sdk::PartitionOffset { topic: o.topic, partition: o.partition, offset: o.offset }).collect::<Vec<_>>()),
            None => c.commit(),
        })
    }

    /// Committed next offsets of the given partitions (-1 where none).
    #[napi]
    pub fn committed(&self, partitions: Vec<PartitionOffsetIo>) -> AsyncTask<Job<Vec<PartitionOffsetIo>>> {
        let c = self.inner.clone();
        job(move || {
            let keys: Vec<(String, u32)> = partitions.iter().map(|p| (p.topic.clone(), p.partition)).collect();
            let got = c.committed(&keys)?;
            Ok(keys.into_iter().zip(got).map(|((topic, partition), o)| PartitionOffsetIo { topic, partition, offset: o.unwrap_or(-1) }).collect())
        })
    }

    /// Subscribe (with a group) to every topic whose whole name matches a regular expression.
    #[napi]
    pub fn subscribe_pattern(&self, pattern: String, from_beginning: bool) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        job(move || c.subscribe_pattern(&pattern, from_beginning))
    }

    /// Make exactly these partitions paused (no partition: the whole topic); unassigned ones
    /// are skipped.
    #[napi]
    pub fn set_paused(&self, partitions: Vec<TopicPartitionIo>) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        let list: Vec<(String, Option<u32>)> = partitions.into_iter().map(|p| (p.topic, p.partition)).collect();
        job(move || c.set_paused(&list))
    }

    /// The paused partitions.
    #[napi]
    pub fn paused(&self) -> AsyncTask<Job<Vec<TopicPartitionIo>>> {
        let c = self.inner.clone();
        job(move || Ok(c.paused().into_iter().map(|(topic, p)| TopicPartitionIo { topic, partition: Some(p) }).collect()))
    }

    /// The assigned partitions with their positions (-1 where none yet).
    #[napi]
    pub fn assignment(&self) -> AsyncTask<Job<Vec<PartitionOffsetIo>>> {
        let c = self.inner.clone();
        job(move || Ok(c.assignment().into_iter().map(|o| PartitionOffsetIo { topic: o.topic, partition: o.partition, offset: o.offset }).collect()))
    }

    /// Fails with REBALANCE_IN_PROGRESS while the group rebalances.
    #[napi]
    pub fn heartbeat(&self) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        job(move || c.heartbeat())
    }

    /// Leave the group and stop.
    #[napi]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let c = self.inner.clone();
        job(move || c.close())
    }
}

/// A topic, or one partition of it.
#[napi(object)]
pub struct TopicPartitionIo {
    /// Topic.
    pub topic: String,
    /// Partition; absent = every partition of the topic.
    pub partition: Option<u32>,
}

/// One route rule of a stream.
#[napi(object)]
pub struct StreamRouteIn {
    /// `route` or `drop`.
    pub action: String,
    /// Table pattern.
    pub table: String,
    /// Family pattern.
    pub family: Option<String>,
    /// Qualifier pattern.
    pub qualifier: Option<String>,
    /// Topics of a route rule.
    pub topics: Option<Vec<String>>,
}

/// A snapshot and where the topic continues it.
#[napi(object)]
pub struct StreamSnapshotOut {
    /// Change sequence number of the snapshot.
    pub seq: i64,
    /// The rows.
    pub rows: Vec<RowOut>,
    /// First offset after the snapshot per partition.
    pub offsets: Vec<PartitionOffsetIo>,
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn stream_options(options: Vec<Vec<String>>, routes: Option<Vec<StreamRouteIn>>) -> kabase_sdk::Result<kabase_sdk::StreamOptions> {
    let mut o = pairs(options)?.iter().try_fold(kabase_sdk::StreamOptions::default(), |o, (k, v)| o.set(k, v))?;
    o.routes = routes
        .unwrap_or_default()
        .into_iter()
        .map(|r| kabase_sdk::StreamRoute { action: r.action, table: r.table, family: r.family, qualifier: r.qualifier, topics: r.topics.unwrap_or_default() })
        .collect();
    Ok(o)
}

/// A durable change stream, by name.
#[napi]
pub struct ChangeStream {
    inner: kabase_sdk::ChangeStream,
}

#[napi]
impl ChangeStream {
    /// The stream's name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// State, position and lag, as the facade's JSON description (the C ABI's too).
    #[napi]
    pub fn describe(&self) -> AsyncTask<Job<String>> {
        let s = self.inner.clone();
        job(move || Ok(s.describe()?.to_json()))
    }

    /// Stop moving data.
    #[napi]
    pub fn pause(&self) -> AsyncTask<Job<()>> {
        let s = self.inner.clone();
        job(move || s.pause())
    }

    /// Move data again.
    #[napi]
    pub fn resume(&self) -> AsyncTask<Job<()>> {
        let s = self.inner.clone();
        job(move || s.resume())
    }

    /// Remove the stream.
    #[napi]
    pub fn remove(&self) -> AsyncTask<Job<()>> {
        let s = self.inner.clone();
        job(move || s.remove())
    }

    /// Wait until the stream has no lag; its JSON description then.
    #[napi]
    pub fn wait_caught_up(&self, timeout_ms: u32) -> AsyncTask<Job<String>> {
        let s = self.inner.clone();
        job(move || Ok(s.wait_caught_up(u64::from(timeout_ms))?.to_json()))
    }

    /// Snapshot, then stream.
    #[napi]
    pub fn snapshot(&self) -> AsyncTask<Job<StreamSnapshotOut>> {
        let s = self.inner.clone();
        job(move || {
            let snap = s.snapshot()?;
            Ok(StreamSnapshotOut {
                seq: clamp_i64(snap.seq),
                rows: snap.rows.into_iter().map(row_out).collect(),
                offsets: snap.offsets.into_iter().map(|o| PartitionOffsetIo { topic: o.topic, partition: o.partition, offset: o.offset }).collect(),
            })
        })
    }
}
