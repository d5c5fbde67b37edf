//! The engine's stream state: the stream registry, the commit hook that writes outbox entries
//! (and sink offsets) into a mutation's own atomic batch, backpressure, and the stream threads.
//!
//! Keyspaces (in the engine's LSM):
//!
//! - `kabase.stream.outbox`: outbox entries ([`crate::stream::outbox`]).
//! - `kabase.stream.meta`:
//!   - `s/<name>` -> stream record ([`crate::stream::spec`], versioned JSON);
//!   - `ctr/stream_id` -> next stream id (u64 BE);
//!   - `relay/<id u64 BE>` -> relay checkpoint ([`crate::stream::relay`], versioned JSON);
//!   - `sink/<id u64 BE><partition u32 BE>` -> next offset to consume: `u8 version (1) | i64 BE`;
//!   - `sinkts/<id u64 BE>` -> last cell timestamp the sink wrote (same value format).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::engine::EngineInner;
use crate::error::{Error, ErrorCode, Result};
use crate::stream::outbox::{Group, OutboxEntry};
use crate::stream::record::{ChangeCell, ChangeRecord};
use crate::stream::spec::{Backpressure, ResolvedStream, StoredSinkSpec, StoredStream, StreamKind, StreamState};
use crate::table::schema::TableName;
use crate::table::write::{CommitContext, CommitHook, HookBatch};

pub(crate) const META_KEYSPACE: &str = "kabase.stream.meta";
pub(crate) const OUTBOX_KEYSPACE: &str = "kabase.stream.outbox";
pub(crate) const STREAM_ID_KEY: &[u8] = b"ctr/stream_id";

/// `relay/<id>`.
pub(crate) fn relay_key(id: u64) -> Vec<u8> {
    let mut k = b"relay/".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// `sink/<id><partition>`.
pub(crate) fn sink_key(id: u64, partition: u32) -> Vec<u8> {
    let mut k = sink_prefix(id);
    k.extend_from_slice(&partition.to_be_bytes());
    k
}

/// `sinkts/<id>`: the last cell timestamp a sink used (same value format as an offset), kept in
/// the same batch as its cells so timestamps keep increasing across restarts.
pub(crate) fn sink_ts_key(id: u64) -> Vec<u8> {
    let mut k = b"sinkts/".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// `sink/<id>`.
pub(crate) fn sink_prefix(id: u64) -> Vec<u8> {
    let mut k = b"sink/".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Sink offset value: `u8 version (1) | i64 BE next offset`.
pub(crate) fn sink_value(offset: i64) -> Vec<u8> {
    let mut v = vec![1u8];
    v.extend_from_slice(&offset.to_be_bytes());
    v
}

/// Parse a sink offset value.
pub(crate) fn parse_sink_value(v: &[u8]) -> Result<i64> {
    match v {
        [1, rest @ ..] if rest.len() == 8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(rest);
            Ok(i64::from_be_bytes(a))
        }
        [1, ..] => Err(Error::corrupt(format!("sink offset value of {} bytes (want 9)", v.len()))),
        [ver, ..] => Err(Error::new(ErrorCode::IncompatibleFormat, format!("sink offset version {ver}; this build reads 1"))),
        [] => Err(Error::corrupt("empty sink offset value")),
    }
}

thread_local! {
    /// Keys a sink wants committed in the same batch as the table change it is making on this
    /// thread (its consumed offsets). The commit hook moves them into the batch.
    static SINK_EXTRA: RefCell<Vec<(Vec<u8>, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
    /// Streams that captured a change of the batch being committed on this thread; woken once
    /// the batch is visible ([`CommitHook::committed`]), so a relay never looks too early.
    /// The count is how many outbox entries the batch added to the stream's `pending`.
    static CAPTURED: RefCell<Vec<(Arc<StreamRt>, u64)>> = const { RefCell::new(Vec::new()) };
    /// Scratch for a table's full name (`ns:table`), so looking up a table's streams on the
    /// commit path allocates nothing.
    static NAME_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Nanoseconds on a monotonic clock (since the first call), for the relay's pacing.
pub(crate) fn mono_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    // Starts at 1 s so that 0 means "never".
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1_000_000_000
}

/// Queue `writes` (keys of `kabase.stream.meta`) for the next commit on this thread.
pub(crate) fn set_sink_extra(writes: Vec<(Vec<u8>, Vec<u8>)>) {
    SINK_EXTRA.with(|x| *x.borrow_mut() = writes);
}

/// Take back writes no commit picked up.
pub(crate) fn take_sink_extra() -> Vec<(Vec<u8>, Vec<u8>)> {
    SINK_EXTRA.with(|x| std::mem::take(&mut *x.borrow_mut()))
}

/// One stream at run time.
pub(crate) struct StreamRt {
    pub id: u64,
    pub name: String,
    pub kind: StreamKind,
    pub resolved: Option<ResolvedStream>,
    pub sink: Option<StoredSinkSpec>,
    pub paused: AtomicBool,
    pub removed: AtomicBool,
    pub stop: AtomicBool,
    pub failure: Mutex<Option<String>>,
    /// Outbox entries captured and not yet deleted by the relay.
    pub pending: AtomicU64,
    /// Seq of the last change appended to the topic.
    pub last_relayed: AtomicU64,
    /// When a writer last started a relay step itself ([`mono_ns`]).
    pub last_inline: AtomicU64,
    /// Wakes the stream's thread (captures, resume, stop).
    pub wake: (Mutex<u64>, Condvar),
    /// Wakes writers waiting for outbox room.
    pub room: (Mutex<()>, Condvar),
    /// Set by a writer that finds the outbox full: the relay's durability stage stops gathering
    /// and frees room now instead of at the end of its window.
    pub hurry: (Mutex<bool>, Condvar),
    pub thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The relay's producers and dedup floors; held while a chunk is relayed.
    pub relay: Mutex<Option<crate::stream::relay::RelayCore>>,
    /// Held by the stream's thread while it moves data, with `paused` checked under it;
    /// pausing takes it once so that no step is still running when `pause_stream` returns.
    pub step: Mutex<()>,
    /// Sink: next offset per partition, as last committed.
    pub sink_offsets: Mutex<BTreeMap<u32, i64>>,
    /// Sink: records applied since open (for describe/tests).
    pub applied: AtomicI64,
}

impl StreamRt {
    pub(crate) fn new(stored: &StoredStream) -> Result<StreamRt> {
        let resolved = match &stored.stream {
            Some(s) => Some(ResolvedStream::load(s)?),
            None => None,
        };
        if stored.kind == StreamKind::TableToTopic && resolved.is_none() || stored.kind == StreamKind::TopicToTable && stored.sink.is_none() {
            return Err(Error::corrupt(format!("stream record {} has no spec for its kind", stored.name)));
        }
        Ok(StreamRt {
            id: stored.id,
            name: stored.name.clone(),
            kind: stored.kind,
            resolved,
            sink: stored.sink.clone(),
            paused: AtomicBool::new(stored.paused),
            removed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
            pending: AtomicU64::new(0),
            last_relayed: AtomicU64::new(0),
            last_inline: AtomicU64::new(0),
            wake: (Mutex::new(0), Condvar::new()),
            room: (Mutex::new(()), Condvar::new()),
            hurry: (Mutex::new(false), Condvar::new()),
            thread: Mutex::new(None),
            relay: Mutex::new(None),
            step: Mutex::new(()),
            sink_offsets: Mutex::new(BTreeMap::new()),
            applied: AtomicI64::new(0),
        })
    }

    /// Wake the stream's thread.
    pub(crate) fn notify(&self) {
        let mut g = self.wake.0.lock();
        *g = g.wrapping_add(1);
        self.wake.1.notify_all();
    }

    /// Sleep until notified or `timeout`.
    pub(crate) fn wait(&self, seen: u64, timeout: Duration) {
        let mut g = self.wake.0.lock();
        if *g == seen && !self.stop.load(Ordering::Acquire) {
            self.wake.1.wait_for(&mut g, timeout);
        }
    }

    /// The current wake generation.
    pub(crate) fn generation(&self) -> u64 {
        *self.wake.0.lock()
    }

    pub(crate) fn state(&self) -> StreamState {
        if self.paused.load(Ordering::Acquire) {
            return StreamState::Paused;
        }
        match self.failure.lock().clone() {
            Some(m) => StreamState::Failed(m),
            None => StreamState::Running,
        }
    }

    /// Ask the durability stage to free room now (see [`StreamRt::hurry`]).
    pub(crate) fn hurry_durable(&self) {
        let mut h = self.hurry.0.lock();
        *h = true;
        self.hurry.1.notify_all();
    }

    /// The durability stage's wait: `window`, or less if a writer found the outbox full.
    pub(crate) fn durable_wait(&self, window: Duration) {
        let mut h = self.hurry.0.lock();
        if !*h {
            self.hurry.1.wait_for(&mut h, window);
        }
        *h = false;
    }

    /// Space freed in the outbox: wake blocked writers.
    pub(crate) fn freed(&self, n: u64) {
        let _ = self.pending.fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| Some(p.saturating_sub(n)));
        let _g = self.room.0.lock();
        self.room.1.notify_all();
    }

    /// Wait for room for one more outbox entry, per the stream's backpressure policy.
    fn reserve(&self, r: &ResolvedStream) -> Result<()> {
        if self.pending.load(Ordering::Acquire) < r.max_lag {
            return Ok(());
        }
        let full = || {
            Error::new(
                ErrorCode::Timeout,
                format!("change stream {} has {} changes waiting (max_lag {}); its relay is paused or behind", self.name, self.pending.load(Ordering::Acquire), r.max_lag),
            )
        };
        self.hurry_durable();
        match r.backpressure {
            Backpressure::Error => Err(full()),
            Backpressure::Block { timeout_ms } => {
                let deadline = Instant::now() + Duration::from_millis(timeout_ms);
                let mut g = self.room.0.lock();
                while self.pending.load(Ordering::Acquire) >= r.max_lag && !self.removed.load(Ordering::Acquire) {
                    if self.room.1.wait_until(&mut g, deadline).timed_out() {
                        return if self.pending.load(Ordering::Acquire) >= r.max_lag { Err(full()) } else { Ok(()) };
                    }
                }
                Ok(())
            }
        }
    }
}

/// Shared between the engine, the hook and the stream threads.
pub(crate) struct Shared {
    pub db: fjall::Database,
    pub meta: fjall::Keyspace,
    pub outbox: fjall::Keyspace,
    /// Streams by name.
    pub streams: RwLock<BTreeMap<String, Arc<StreamRt>>>,
    /// Capturing (table-to-topic) streams by full table name.
    pub by_table: RwLock<HashMap<String, Vec<Arc<StreamRt>>>>,
    /// Serialises create/remove.
    pub admin: Mutex<()>,
    pub engine: OnceLock<Weak<EngineInner>>,
    pub closed: AtomicBool,
}

impl Shared {
    pub(crate) fn engine(&self) -> Result<crate::Engine> {
        let inner = self.engine.get().and_then(Weak::upgrade).ok_or_else(|| Error::closed("engine"))?;
        let e = crate::Engine { inner };
        e.check_open()?;
        Ok(e)
    }

    /// Register a stream for capture (table-to-topic) and start its thread.
    pub(crate) fn activate(self: &Arc<Self>, rt: Arc<StreamRt>) -> Result<()> {
        if let Some(r) = &rt.resolved {
            self.by_table.write().entry(r.table.clone()).or_default().push(Arc::clone(&rt));
        }
        self.streams.write().insert(rt.name.clone(), Arc::clone(&rt));
        let shared = Arc::clone(self);
        let rt2 = Arc::clone(&rt);
        let handle = std::thread::Builder::new()
            .name(format!("kabase-stream-{}", rt.id))
            .spawn(move || match rt2.kind {
                StreamKind::TableToTopic => crate::stream::relay::relay_thread(&shared, &rt2),
                StreamKind::TopicToTable => crate::stream::sink::sink_thread(&shared, &rt2),
            })
            .map_err(|e| Error::io("start a stream thread", e))?;
        *rt.thread.lock() = Some(handle);
        Ok(())
    }

    /// Stop a stream's thread and unregister it.
    pub(crate) fn deactivate(&self, rt: &Arc<StreamRt>) {
        rt.removed.store(true, Ordering::Release);
        rt.stop.store(true, Ordering::Release);
        rt.notify();
        {
            let _g = rt.room.0.lock();
            rt.room.1.notify_all();
        }
        if let Some(r) = &rt.resolved {
            if let Some(list) = self.by_table.write().get_mut(&r.table) {
                list.retain(|s| !Arc::ptr_eq(s, rt));
            }
        }
        self.streams.write().remove(&rt.name);
        let handle = rt.thread.lock().take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// The hook the table commit path calls for every row change.
struct CaptureHook {
    shared: Arc<Shared>,
}

impl CaptureHook {
    /// The capturing streams of `table`, if any (no allocation when there are none).
    fn streams_of(&self, table: &TableName) -> Option<Vec<Arc<StreamRt>>> {
        let map = self.shared.by_table.read();
        if map.is_empty() {
            return None;
        }
        NAME_BUF.with(|b| {
            let mut b = b.borrow_mut();
            b.clear();
            b.push_str(&table.namespace);
            b.push(':');
            b.push_str(&table.qualifier);
            match map.get(b.as_str()) {
                Some(l) if !l.is_empty() => Some(l.clone()),
                _ => None,
            }
        })
    }
}

impl CommitHook for CaptureHook {
    /// Backpressure: wait for (or refuse for want of) outbox room before the writer takes its
    /// row locks and the commit mutex, so a full stream stalls only writers of its own table.
    /// The bound is soft: the check is once per write call and the entries are counted at
    /// commit, so write calls admitted together overshoot `max_lag` by up to their rows
    /// ([`crate::stream::StreamSpec::max_lag`] gives the exact bound). An exact bound would
    /// need the admission to reserve the call's rows and every write path to give back what
    /// it did not commit.
    fn admit(&self, table: &TableName) -> Result<()> {
        let Some(list) = self.streams_of(table) else { return Ok(()) };
        for s in list {
            let Some(r) = &s.resolved else { continue };
            if !s.removed.load(Ordering::Acquire) {
                s.reserve(r)?;
            }
        }
        Ok(())
    }

    fn extend(&self, ctx: &CommitContext<'_>, batch: &mut HookBatch<'_>) -> Result<()> {
        let extra = take_sink_extra();
        for (k, v) in extra {
            batch.insert(&self.shared.meta, k, v);
        }
        let (first, last) = ctx.batch_seqs;
        if ctx.seq == first {
            // A new batch: forget what a failed earlier commit on this thread captured.
            // Its entries were never written: give their room back.
            let stale = CAPTURED.with(|c| std::mem::take(&mut *c.borrow_mut()));
            for (s, n) in stale {
                s.freed(n);
            }
        }
        let Some(list) = self.streams_of(ctx.table) else { return Ok(()) };
        let group = if last > first {
            let len = u32::try_from(last - first + 1).map_err(|_| Error::invalid("an atomic batch of more than 4 billion rows"))?;
            Some(Group { first, len })
        } else {
            None
        };
        let change = ChangeRecord {
            table: ctx.table.full(),
            row: ctx.row.to_vec(),
            seq: ctx.seq,
            cells: ctx
                .cells
                .iter()
                .map(|c| ChangeCell {
                    family: ctx.families.get(c.fam).cloned().unwrap_or_default(),
                    qualifier: c.qualifier.clone(),
                    timestamp: c.ts,
                    kind: c.kind,
                    value: c.value.clone(),
                })
                .collect(),
        };
        let now = crate::now_ms();
        for s in list {
            if s.resolved.is_none() || s.removed.load(Ordering::Acquire) {
                continue;
            }
            // Room was waited for in `admit`, before the commit mutex.
            let entry = OutboxEntry { stream: s.id, seq: ctx.seq, group, time_ms: now, change: change.clone() };
            batch.insert(&self.shared.outbox, entry.key().to_vec(), entry.value());
            s.pending.fetch_add(1, Ordering::AcqRel);
            CAPTURED.with(|c| {
                let mut c = c.borrow_mut();
                match c.iter_mut().find(|(x, _)| Arc::ptr_eq(x, &s)) {
                    Some((_, n)) => *n += 1,
                    None => c.push((Arc::clone(&s), 1)),
                }
            });
        }
        Ok(())
    }

    /// The batch is visible: relay it on this thread if the stream's thread is idle (no
    /// wake-up on the way to the topic), else wake that thread.
    fn committed(&self) {
        let woken = CAPTURED.with(|c| std::mem::take(&mut *c.borrow_mut()));
        for (s, _) in woken {
            if !crate::stream::relay::relay_inline(&self.shared, &s) {
                s.notify();
            }
        }
    }
}

/// The engine's change-stream state; one per open engine.
pub(crate) struct StreamsState {
    pub(crate) shared: Arc<Shared>,
}

impl StreamsState {
    /// Open the stream keyspaces and load the stream records (threads start in
    /// [`StreamsState::start`], once the engine exists).
    pub(crate) fn open(db: &fjall::Database) -> Result<StreamsState> {
        let meta = db.keyspace(META_KEYSPACE, fjall::KeyspaceCreateOptions::default)?;
        let outbox = db.keyspace(OUTBOX_KEYSPACE, fjall::KeyspaceCreateOptions::default)?;
        Ok(StreamsState {
            shared: Arc::new(Shared {
                db: db.clone(),
                meta,
                outbox,
                streams: RwLock::new(BTreeMap::new()),
                by_table: RwLock::new(HashMap::new()),
                admin: Mutex::new(()),
                engine: OnceLock::new(),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Register the commit hook and start every stored stream.
    pub(crate) fn start(&self, engine: Weak<EngineInner>, tables: &crate::table::TablesState) -> Result<()> {
        let shared = &self.shared;
        let _ = shared.engine.set(engine);
        tables.committer.add_hook(Arc::new(CaptureHook { shared: Arc::clone(shared) }));
        let mut stored = Vec::new();
        for kv in shared.meta.prefix(b"s/") {
            let (_, v) = kv.into_inner()?;
            stored.push(StoredStream::from_json(&v)?);
        }
        for s in stored {
            let rt = Arc::new(StreamRt::new(&s)?);
            if rt.kind == StreamKind::TableToTopic {
                let n = shared.outbox.prefix(crate::stream::outbox::prefix(rt.id)).count() as u64;
                rt.pending.store(n, Ordering::Release);
            }
            shared.activate(rt)?;
        }
        Ok(())
    }

    /// Stop every stream thread (their durable state stays).
    pub(crate) fn close(&self) -> Result<()> {
        self.shared.closed.store(true, Ordering::Release);
        let all: Vec<Arc<StreamRt>> = self.shared.streams.read().values().cloned().collect();
        for rt in &all {
            rt.stop.store(true, Ordering::Release);
            rt.notify();
            let _g = rt.room.0.lock();
            rt.room.1.notify_all();
        }
        for rt in &all {
            let handle = rt.thread.lock().take();
            if let Some(h) = handle {
                let _ = h.join();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_offset_values() {
        assert_eq!(parse_sink_value(&sink_value(12345)).unwrap(), 12345);
        assert_eq!(parse_sink_value(&[1, 0]).unwrap_err().code(), ErrorCode::Corrupt);
        assert_eq!(parse_sink_value(&[2; 9]).unwrap_err().code(), ErrorCode::IncompatibleFormat);
        assert_eq!(parse_sink_value(&[]).unwrap_err().code(), ErrorCode::Corrupt);
        assert!(sink_key(1, 2).starts_with(&sink_prefix(1)));
        assert_ne!(sink_prefix(1), sink_prefix(2));
    }
}
