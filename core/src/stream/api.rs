//! The public stream API on [`crate::Engine`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorCode, Result};
use crate::log::{NewTopic, TopicPartition};
use crate::stream::outbox;
use crate::stream::route::{default_topic_for, RouteRules};
use crate::stream::spec::{
    validate_stream_name, ResolvedStream, SinkSpec, StoredSinkSpec, StoredStream, StreamInfo, StreamKind, StreamSpec, StreamState, META_VERSION,
};
use crate::stream::state::{relay_key, sink_prefix, Shared, StreamRt, STREAM_ID_KEY};
use crate::stream::Partitioning;
use crate::table::{RowResult, Scan, TableName};
use crate::Engine;

/// A consistent snapshot of a streamed table and where its stream continues it: apply `rows`,
/// then consume each topic partition from its offset in `offsets`, and every change appears
/// exactly once.
#[derive(Debug, Clone)]
pub struct StreamSnapshot {
    /// The change sequence number the snapshot contains everything up to.
    pub seq: u64,
    /// Every row of the table at `seq` (newest version of each column).
    pub rows: Vec<RowResult>,
    /// For every partition of the stream's topics: the first offset after the snapshot.
    pub offsets: Vec<(TopicPartition, i64)>,
}

fn kafka_codec(c: crate::table::Compression) -> &'static str {
    use crate::table::Compression as C;
    match c {
        C::None => "none",
        C::Gz => "gzip",
        C::Snappy => "snappy",
        C::Lz4 => "lz4",
        C::Zstd => "zstd",
    }
}

impl Engine {
    fn streams_shared(&self) -> Result<&Arc<Shared>> {
        self.check_open()?;
        Ok(&self.inner.streams.shared)
    }

    fn next_stream_id(shared: &Shared) -> Result<u64> {
        Ok(match shared.meta.get(STREAM_ID_KEY)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| Error::corrupt("ctr/stream_id is not 8 bytes"))?),
            None => 1,
        })
    }

    fn save_stream(shared: &Shared, stored: &StoredStream, bump_id: bool) -> Result<()> {
        let mut b = shared.db.batch();
        b.insert(&shared.meta, format!("s/{}", stored.name).into_bytes(), stored.to_json()?);
        if bump_id {
            b.insert(&shared.meta, STREAM_ID_KEY.to_vec(), (stored.id + 1).to_be_bytes().to_vec());
        }
        b.commit()?;
        shared.db.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }

    /// Stream every committed mutation of a table into a topic, exactly once, from now on (use
    /// [`Engine::snapshot_stream`] for what the table held before). Creates the topics that do
    /// not exist. The stream is durable: it survives restarts until [`Engine::remove_stream`].
    ///
    /// ```
    /// use kabase::{Engine, TableDescriptor, FamilyDescriptor, Put, ConsumerConfig, TopicPartition};
    /// use kabase::stream::{StreamSpec, ChangeRecord};
    /// let engine = Engine::open_in_memory()?;
    /// engine.create_table(TableDescriptor::new("orders").family(FamilyDescriptor::new("cf")))?;
    /// engine.stream_table_to_topic(StreamSpec::new("orders-cdc", "orders"))?;
    /// engine.table("orders")?.put(Put::new("o1").add("cf", "amount", "12.50"))?;
    /// engine.await_stream("orders-cdc", std::time::Duration::from_secs(10))?;
    ///
    /// let mut c = engine.consumer(ConsumerConfig::default().set("isolation.level", "read_committed")?)?;
    /// c.assign(&[TopicPartition::new("default.orders", 0)])?;
    /// c.seek_to_beginning(&[TopicPartition::new("default.orders", 0)])?;
    /// let recs = c.poll(std::time::Duration::from_secs(5))?;
    /// let change = ChangeRecord::from_json(recs[0].value.as_deref().unwrap())?;
    /// assert_eq!((change.row.as_slice(), change.cells[0].value.as_slice()), (&b"o1"[..], &b"12.50"[..]));
    /// # Ok::<(), kabase::Error>(())
    /// ```
    pub fn stream_table_to_topic(&self, spec: StreamSpec) -> Result<StreamInfo> {
        let shared = self.streams_shared()?;
        validate_stream_name(&spec.name)?;
        let full = TableName::parse(&spec.table)?.full();
        let desc = self.describe_table(&full)?;
        let families: Vec<Vec<u8>> = desc.families.iter().map(|f| f.name.clone()).collect();
        let topic = spec.topic.clone().unwrap_or_else(|| default_topic_for(&full));
        crate::log::validate_topic_name(&topic)?;
        let routes = RouteRules::new(spec.routes.clone())?;
        let compression = match &spec.compression {
            Some(c) => crate::log::Compression::parse(c)?.name().to_string(),
            None => kafka_codec(desc.families.first().map(|f| f.compression).unwrap_or_default()).to_string(),
        };
        if spec.max_lag == 0 {
            return Err(Error::new(ErrorCode::InvalidConfig, "max_lag must be at least 1"));
        }
        let partitions = match (spec.partitions, &spec.partitioning) {
            (Some(0), _) => return Err(Error::new(ErrorCode::InvalidConfig, "partitions must be at least 1")),
            (Some(n), _) => n,
            (None, Partitioning::Family) => families.len() as u32,
            (None, Partitioning::Fixed(p)) => self.options().num_partitions.max(p + 1),
            (None, Partitioning::RowKey) => self.options().num_partitions,
        };
        let resolved = ResolvedStream {
            table: full.clone(),
            topic,
            routes,
            partitioning: spec.partitioning.clone(),
            shape: spec.shape,
            format: spec.format,
            bytes: spec.bytes,
            compression: compression.clone(),
            max_lag: spec.max_lag,
            backpressure: spec.backpressure,
            families: families.clone(),
        };
        let _admin = shared.admin.lock();
        if shared.streams.read().contains_key(&spec.name) {
            return Err(Error::new(ErrorCode::StreamExists, format!("stream {} already exists", spec.name)));
        }
        for t in resolved.topics() {
            let n = match self.create_topic(NewTopic::new(t.clone(), partitions).config("compression.type", compression.clone())) {
                Ok(()) => partitions,
                Err(e) if e.code() == ErrorCode::TopicExists => self.partitions_for(&t)?,
                Err(e) => return Err(e),
            };
            match &resolved.partitioning {
                Partitioning::Family if (n as usize) < families.len() => {
                    return Err(Error::new(
                        ErrorCode::InvalidConfig,
                        format!("family partitioning needs one partition per family: topic {t} has {n}, table {full} has {} families", families.len()),
                    ))
                }
                Partitioning::Fixed(p) if *p >= n => {
                    return Err(Error::new(ErrorCode::UnknownPartition, format!("topic {t} has {n} partitions; partition {p} does not exist")))
                }
                _ => {}
            }
        }
        let id = Self::next_stream_id(shared)?;
        let stored = StoredStream { v: META_VERSION, id, name: spec.name.clone(), kind: StreamKind::TableToTopic, paused: false, stream: Some(resolved.store()), sink: None };
        Self::save_stream(shared, &stored, true)?;
        let rt = Arc::new(StreamRt::new(&stored)?);
        shared.activate(Arc::clone(&rt))?;
        drop(_admin);
        // Ready on return: the relay's start (its transactional producer's fsynced init) does
        // not delay the first changes.
        crate::stream::relay::start_relay(shared, &rt, self);
        self.describe_stream(&spec.name)
    }

    /// Consume a topic into a table, exactly once (see [`SinkSpec`] for the mapping). The table
    /// must exist; the topic is created if missing. Durable like every stream.
    pub fn sink_topic_to_table(&self, spec: SinkSpec) -> Result<StreamInfo> {
        let shared = self.streams_shared()?;
        validate_stream_name(&spec.name)?;
        let full = TableName::parse(&spec.table)?.full();
        let desc = self.describe_table(&full)?;
        if let Some(f) = &spec.mapping.default_family {
            if !desc.families.iter().any(|d| d.name == f.as_bytes()) {
                return Err(Error::new(ErrorCode::NoSuchColumnFamily, format!("table {full} has no family {f:?} (the sink's default family)")));
            }
        }
        crate::log::validate_topic_name(&spec.topic)?;
        let _admin = shared.admin.lock();
        if shared.streams.read().contains_key(&spec.name) {
            return Err(Error::new(ErrorCode::StreamExists, format!("stream {} already exists", spec.name)));
        }
        match self.create_topic(NewTopic::new(spec.topic.clone(), self.options().num_partitions)) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::TopicExists => {}
            Err(e) => return Err(e),
        }
        let id = Self::next_stream_id(shared)?;
        let stored = StoredStream { v: META_VERSION, id, name: spec.name.clone(), kind: StreamKind::TopicToTable, paused: false, stream: None, sink: Some(StoredSinkSpec::new(&spec, full)) };
        Self::save_stream(shared, &stored, true)?;
        shared.activate(Arc::new(StreamRt::new(&stored)?))?;
        drop(_admin);
        self.describe_stream(&spec.name)
    }

    fn stream_rt(&self, name: &str) -> Result<Arc<StreamRt>> {
        self.streams_shared()?
            .streams
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::new(ErrorCode::StreamNotFound, format!("stream {name} does not exist")))
    }

    fn info(&self, rt: &StreamRt) -> Result<StreamInfo> {
        match (&rt.resolved, &rt.sink) {
            (Some(r), _) => Ok(StreamInfo {
                name: rt.name.clone(),
                kind: StreamKind::TableToTopic,
                table: r.table.clone(),
                topics: r.topics(),
                state: rt.state(),
                position: rt.last_relayed.load(Ordering::Acquire),
                lag: rt.pending.load(Ordering::Acquire),
                offsets: Vec::new(),
            }),
            (None, Some(s)) => {
                let offsets: Vec<(u32, i64)> = rt.sink_offsets.lock().iter().map(|(p, o)| (*p, *o)).collect();
                let mut lag = 0u64;
                if let Ok(d) = self.describe_topic(s.topic()) {
                    for p in &d.partitions {
                        let at = offsets.iter().find(|(q, _)| *q == p.partition).map(|(_, o)| *o).unwrap_or(p.log_start_offset);
                        lag += (p.last_stable_offset - at).max(0) as u64;
                    }
                }
                Ok(StreamInfo {
                    name: rt.name.clone(),
                    kind: StreamKind::TopicToTable,
                    table: s.table().to_string(),
                    topics: vec![s.topic().to_string()],
                    state: rt.state(),
                    position: offsets.iter().map(|(_, o)| (*o).max(0) as u64).sum(),
                    lag,
                    offsets,
                })
            }
            _ => Err(Error::internal("stream without a spec")),
        }
    }

    /// Describe one stream: state, position and lag.
    pub fn describe_stream(&self, name: &str) -> Result<StreamInfo> {
        let rt = self.stream_rt(name)?;
        self.info(&rt)
    }

    /// Describe every stream, by name.
    pub fn describe_streams(&self) -> Result<Vec<StreamInfo>> {
        let all: Vec<Arc<StreamRt>> = self.streams_shared()?.streams.read().values().cloned().collect();
        all.iter().map(|rt| self.info(rt)).collect()
    }

    fn set_paused(&self, name: &str, paused: bool) -> Result<()> {
        let shared = self.streams_shared()?;
        let _admin = shared.admin.lock();
        let rt = self.stream_rt(name)?;
        let key = format!("s/{name}").into_bytes();
        let v = shared.meta.get(&key)?.ok_or_else(|| Error::new(ErrorCode::StreamNotFound, format!("stream {name} does not exist")))?;
        let mut stored = StoredStream::from_json(&v)?;
        stored.paused = paused;
        Self::save_stream(shared, &stored, false)?;
        rt.paused.store(paused, Ordering::Release);
        rt.notify();
        drop(_admin);
        if paused {
            // A step that began before the flag was set finishes first: once this returns,
            // the stream moves nothing until it is resumed.
            drop(rt.step.lock());
        }
        Ok(())
    }

    /// Pause a stream: its thread stops moving data (a table-to-topic stream keeps capturing
    /// changes, up to `max_lag`). Survives restarts.
    pub fn pause_stream(&self, name: &str) -> Result<()> {
        self.set_paused(name, true)
    }

    /// Resume a paused stream.
    pub fn resume_stream(&self, name: &str) -> Result<()> {
        self.set_paused(name, false)
    }

    /// Remove a stream with its outbox, checkpoint and offsets (topics and tables stay).
    pub fn remove_stream(&self, name: &str) -> Result<()> {
        let shared = self.streams_shared()?;
        let _admin = shared.admin.lock();
        let rt = self.stream_rt(name)?;
        shared.deactivate(&rt);
        let mut b = shared.db.batch();
        b.remove(&shared.meta, format!("s/{name}").into_bytes());
        b.remove(&shared.meta, relay_key(rt.id));
        b.remove(&shared.meta, crate::stream::state::sink_ts_key(rt.id));
        for kv in shared.meta.prefix(sink_prefix(rt.id)) {
            let k = kv.key()?;
            b.remove(&shared.meta, k);
        }
        for kv in shared.outbox.prefix(outbox::prefix(rt.id)) {
            let k = kv.key()?;
            b.remove(&shared.outbox, k);
        }
        b.commit()?;
        shared.db.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }

    /// Wait until a stream has no lag (everything captured is in the topic, or everything in the
    /// topic is in the table). Fails with [`ErrorCode::Timeout`] after `timeout`, and at once if
    /// the stream is paused.
    pub fn await_stream(&self, name: &str, timeout: Duration) -> Result<StreamInfo> {
        let deadline = crate::util::deadline(timeout);
        loop {
            let info = self.describe_stream(name)?;
            if info.lag == 0 {
                return Ok(info);
            }
            if info.state == StreamState::Paused {
                return Err(Error::new(ErrorCode::InvalidArgument, format!("stream {name} is paused with lag {}", info.lag)));
            }
            if Instant::now() >= deadline {
                return Err(Error::new(ErrorCode::Timeout, format!("stream {name} still has lag {} ({:?})", info.lag, info.state)));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Snapshot, then stream: a consistent snapshot of a table-to-topic stream's table together
    /// with, for every partition of its topics, the offset from which the stream continues it
    /// (nothing missed, nothing twice). Relays everything up to the snapshot first, so it fails on
    /// a paused stream.
    pub fn snapshot_stream(&self, name: &str) -> Result<StreamSnapshot> {
        let shared = self.streams_shared()?;
        let rt = self.stream_rt(name)?;
        let r = rt.resolved.clone().ok_or_else(|| Error::invalid(format!("stream {name} is a sink; snapshots are of table-to-topic streams")))?;
        if rt.paused.load(Ordering::Acquire) {
            return Err(Error::invalid(format!("stream {name} is paused; resume it to take a snapshot")));
        }
        let table = self.table(&r.table)?;
        // Hold the relay between chunks while the snapshot is paired with topic offsets.
        let (snap, seq, offsets) = {
            let mut hold = rt.relay.lock();
            let (snap, seq) = self.inner.tables.committer.snapshot_with_seq();
            while crate::stream::relay::relay_step_locked(shared, &rt, self, seq, &mut hold)? > 0 {}
            let mut offsets = Vec::new();
            for t in r.topics() {
                for p in self.describe_topic(&t)?.partitions {
                    offsets.push((TopicPartition::new(t.clone(), p.partition), p.last_stable_offset));
                }
            }
            (snap, seq, offsets)
        };
        let rows = table.scan(Scan::new())?.pin_snapshot(snap).collect::<Result<Vec<_>>>()?;
        Ok(StreamSnapshot { seq, rows, offsets })
    }
}
