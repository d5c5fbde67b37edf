//! The relay: moves a table-to-topic stream's outbox into its topics, in commit order, exactly
//! once, in two stages.
//!
//! **Append stage.** Steps run one at a time (under the stream's `step` and relay locks), either
//! on the committing writer's own thread or on the stream's thread:
//!
//! - *Inline* ([`relay_inline`], from the commit hook once the writer's batch is visible): if
//!   the stream's thread is not in a step, the relay is started, the visible backlog is at most
//!   [`INLINE_MAX`] entries, the chunk needs no transaction and the previous inline step is at
//!   least [`INLINE_GAP_NS`] old, the writer runs the step itself and wakes nobody. This keeps
//!   a thread wake-up (which on a loaded machine can wait milliseconds for a CPU) off the way
//!   from a commit to the topic.
//! - *On the stream's thread*, woken by the commit hook whenever the writer did not relay
//!   inline: bursts (commits closer than the gap, a backlog, a busy thread) go here, in chunks
//!   of up to [`CHUNK`] entries, and so do transactions.
//!
//! Each step reads the outbox entries after its cursor up to the engine's last committed change
//! sequence number ([`crate::table::write::Committer::last_seq`]): sequence numbers are handed
//! out and their batch applied under one commit mutex, so every entry at or below that number is
//! already visible and no gap below it can be filled later. Entries above it are left for the
//! next step (never skipped). The step turns each change into records
//! ([`crate::stream::partition::Planner`]) and appends them, never splitting a unit (one change,
//! or one atomic multi-row group):
//!
//! - a unit whose records all go to one partition and fit one record batch (half the topic's
//!   `max.message.bytes`) is appended directly, inside one record batch per partition per step
//!   (several units per batch, a unit never split over two), with no producer id: the `acks=1`
//!   level (in the OS page cache, as durable as the table's default `SYNC_WAL`
//!   acknowledgement), seen by consumers at once. A record batch is atomic by itself: readers
//!   never read past the end of the last whole batch, and recovery cuts a torn one off, so an
//!   atomic group in one partition needs no transaction;
//! - a unit spread over several partitions (the rows of an atomic group in different
//!   partitions, several families under family partitioning, several topics by route rules),
//!   or too big for one batch, makes the chunk ONE transaction of the relay's transactional
//!   producer (`transactional.id = __kabase_stream.<id>`, `acks=all`), so `read_committed`
//!   consumers see all of each unit or none. Every unit of the chunk shares it, so a burst of
//!   atomic batches costs one commit (its coordinator writes and an fsync per partition), not
//!   one per batch.
//!
//! A step's appends are all in the log before the next step starts (direct appends return once
//! done; the transaction is committed), so the two paths never interleave within a partition:
//! per partition, records are in outbox (commit) order. A step that fails marks the relay
//! broken; the stream's thread then rebuilds it (a new tail scan de-duplicates whatever the
//! failed step appended).
//!
//! **Durability stage** (a second thread per stream). A step hands over the outbox keys it
//! appended and the end offset of every partition it touched. The stage waits a window
//! ([`DURABLE_WINDOW`], 10 ms) for more, takes everything queued, fsyncs each touched partition
//! once up to its end (overlapping the next appends), then deletes
//! those outbox entries and writes the relay checkpoint in one LSM batch, and frees their room
//! (backpressure counts an entry until it is deleted, so it also bounds the hand-over queue,
//! and the relay never waits for an fsync). A failed fsync stops the stage for good: the relay
//! restarts from the outbox.
//!
//! **Replay.** A crash before the deletion replays those entries; the replay is de-duplicated
//! against the log itself: every record carries the headers `kabase.stream` (stream id, u64 BE)
//! and `kabase.seq` (change sequence number, u64 BE), and when a relay starts it reads
//! (read_committed) each of its partitions from the last checkpointed offset to the end and
//! skips, per partition, every record whose seq is not above the highest seq found there. The
//! transaction coordinator has aborted any transaction the crash left open before that scan, so
//! an aborted attempt is resent, a committed one is not. Appends within a partition are in
//! order, so "highest seq in the partition" exactly separates sent from unsent. The checkpoint
//! only moves past offsets that were fsynced, so the scan always covers every record whose
//! outbox entry still exists.
//!
//! Relay checkpoint (`relay/<id>` in `kabase.stream.meta`), versioned JSON:
//! `{"v": 1, "last_seq": <u64>, "offsets": [["topic", partition, next_offset], ...]}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::log::batch::{encode_batch, BatchSpec, RecordInput};
use crate::log::{Compression, ConsumerConfig, Header, Producer, ProducerConfig, ProducerRecord, SendFuture, TopicPartition};
use crate::stream::outbox::{self, OutboxEntry};
use crate::stream::partition::{PlannedRecord, Planner};
use crate::stream::spec::ResolvedStream;
use crate::stream::state::{relay_key, Shared, StreamRt};
use crate::Engine;

/// Header naming the stream that wrote a record (u64 BE stream id).
pub const HEADER_STREAM: &str = "kabase.stream";
/// Header carrying the change sequence number of a record (u64 BE).
pub const HEADER_SEQ: &str = "kabase.seq";

/// Most outbox entries relayed in one step (a group is never split).
const CHUNK: usize = 1024;

/// How long the durability stage gathers chunks before one fsync and one delete batch. Every
/// fsync of a growing log file commits the file system's journal, and appends (this relay's
/// and the table writers' journal writes) that need the journal meanwhile can wait for that
/// commit; fewer fsyncs mean fewer such stalls. Nothing waits for this stage but the deletion
/// of outbox entries (and so `await_stream` and outbox room); a writer that finds the outbox
/// full cuts the window short ([`StreamRt::hurry_durable`]).
const DURABLE_WINDOW: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Checkpoint {
    v: u32,
    last_seq: u64,
    offsets: Vec<(String, u32, i64)>,
}

/// One appended chunk, handed to the durability stage.
struct Appended {
    /// Outbox keys of the chunk's entries.
    keys: Vec<[u8; 16]>,
    /// Partitions the chunk appended to, with the offset after its last record there.
    ends: Vec<(String, u32, i64)>,
    /// The checkpoint once this chunk (and every one before it) is durable.
    checkpoint: Checkpoint,
}

/// The durability stage's thread and its hand-over queue.
struct DurableStage {
    tx: Option<crossbeam_channel::Sender<Appended>>,
    handle: Option<std::thread::JoinHandle<()>>,
    /// Set (for good) when the stage failed; the relay then restarts.
    failed: Arc<Mutex<Option<(ErrorCode, String)>>>,
}

impl DurableStage {
    fn start(shared: &Arc<Shared>, rt: &Arc<StreamRt>, topics: Arc<crate::log::TopicsShared>) -> Result<DurableStage> {
        // Unbounded, yet bounded by backpressure: every queued chunk holds at least one outbox
        // entry that is not deleted yet, and the outbox never holds more than `max_lag`. The
        // relay never waits for an fsync.
        let (tx, rx) = crossbeam_channel::unbounded::<Appended>();
        let failed = Arc::new(Mutex::new(None));
        let (shared, rt, failed2) = (Arc::clone(shared), Arc::clone(rt), Arc::clone(&failed));
        let handle = std::thread::Builder::new()
            .name(format!("kabase-stream-{}-durable", rt.id))
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    // Group commit: let more chunks arrive (without waking for each) so one fsync
                    // and one LSM batch cover them; the appends are already visible meanwhile.
                    rt.durable_wait(DURABLE_WINDOW);
                    let mut work = vec![first];
                    while let Ok(w) = rx.try_recv() {
                        work.push(w);
                    }
                    if failed2.lock().is_some() {
                        continue; // drain: nothing after a failure may be deleted
                    }
                    if let Err(e) = make_durable(&shared, &rt, &topics, work) {
                        *failed2.lock() = Some((e.code(), e.message().to_string()));
                        rt.notify();
                    }
                }
            })
            .map_err(|e| Error::io("start a stream durability thread", e))?;
        Ok(DurableStage { tx: Some(tx), handle: Some(handle), failed })
    }

    fn failure(&self) -> Result<()> {
        match self.failed.lock().clone() {
            Some((c, m)) => Err(Error::new(c, format!("stream durability stage failed: {m}"))),
            None => Ok(()),
        }
    }

    /// Queue a chunk (never waits).
    fn push(&self, a: Appended) -> Result<()> {
        self.failure()?;
        let tx = self.tx.as_ref().ok_or_else(|| Error::internal("stream durability stage stopped"))?;
        tx.send(a).map_err(|_| Error::internal("stream durability stage stopped"))
    }

    /// Let the stage finish what is queued, then stop it.
    fn finish(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// fsync every touched partition once, then delete the entries and move the checkpoint.
fn make_durable(shared: &Shared, rt: &StreamRt, topics: &crate::log::TopicsShared, work: Vec<Appended>) -> Result<()> {
    let mut ends: BTreeMap<(String, u32), i64> = BTreeMap::new();
    for w in &work {
        for (t, p, o) in &w.ends {
            let e = ends.entry((t.clone(), *p)).or_insert(0);
            *e = (*e).max(*o);
        }
    }
    for ((t, p), o) in ends {
        topics.partition(&TopicPartition::new(t, p))?.flush_to(o)?;
    }
    let cp = match work.last() {
        Some(w) => &w.checkpoint,
        None => return Ok(()),
    };
    let json = serde_json::to_vec(cp).map_err(|e| Error::internal(format!("encode relay checkpoint: {e}")))?;
    let mut batch = shared.db.batch();
    let mut n = 0u64;
    for w in &work {
        for k in &w.keys {
            batch.remove(&shared.outbox, k.to_vec());
            n += 1;
        }
    }
    batch.insert(&shared.meta, relay_key(rt.id), json);
    batch.commit()?;
    rt.freed(n);
    Ok(())
}

/// One record the relay is about to append.
struct Outgoing {
    topic: String,
    partition: u32,
    key: Vec<u8>,
    value: Vec<u8>,
    seq: u64,
    time_ms: i64,
    stream: u64,
    /// The unit (change or atomic group) of the chunk the record belongs to: a direct append
    /// never splits a unit over two record batches.
    unit: usize,
}

impl Outgoing {
    /// An upper bound of the record's bytes in a record batch (its two headers included).
    fn size(&self) -> usize {
        self.key.len() + self.value.len() + 64
    }

    fn headers(&self) -> Vec<Header> {
        vec![
            Header { key: HEADER_STREAM.to_string(), value: Some(self.stream.to_be_bytes().to_vec()) },
            Header { key: HEADER_SEQ.to_string(), value: Some(self.seq.to_be_bytes().to_vec()) },
        ]
    }

    fn producer_record(self) -> ProducerRecord {
        let headers = self.headers();
        let mut rec = ProducerRecord::new(self.topic, self.value).key(self.key).partition(self.partition).timestamp(self.time_ms);
        for h in headers {
            rec = rec.header(h.key, h.value.unwrap_or_default());
        }
        rec
    }
}

/// The relay's transactional producer, dedup state and cursor. Lives while the relay runs; rebuilt (with a
/// new tail scan, from the outbox's first remaining entry) after any failure.
pub(crate) struct RelayCore {
    txn: Producer,
    topics: Arc<crate::log::TopicsShared>,
    compression: Compression,
    /// Highest seq already in each partition when the relay started.
    floors: HashMap<(String, u32), u64>,
    /// Next offset per partition after the last append.
    offsets: BTreeMap<(String, u32), i64>,
    partitions: HashMap<String, u32>,
    /// Outbox seqs up to this one are appended (or were found in the log).
    cursor: u64,
    /// The checkpoint's offsets when the relay started, and the highest seq its tail scan found:
    /// until the cursor passes that seq, outbox entries whose records lie in that tail may still
    /// exist, so a checkpoint must keep starting the scan where this one did.
    scan_from: Vec<(String, u32, i64)>,
    replay_until: u64,
    stage: DurableStage,
    /// Set by a step that failed: its appends may be partial and its cursor and offsets out of
    /// step with the log, so the core refuses further steps and the stream's thread rebuilds it
    /// (with a new tail scan, which de-duplicates whatever the failed step appended).
    broken: Option<(ErrorCode, String)>,
}

impl Drop for RelayCore {
    fn drop(&mut self) {
        // Every send completes before the stage stops, so a new relay's tail scan sees them all.
        let _ = self.txn.close();
        self.stage.finish();
    }
}

fn u64_header(h: &[Header], key: &str) -> Option<u64> {
    let v = h.iter().find(|x| x.key == key)?.value.as_ref()?;
    let b: [u8; 8] = v.as_slice().try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

impl RelayCore {
    fn init(shared: &Arc<Shared>, rt: &Arc<StreamRt>, r: &ResolvedStream, engine: &Engine) -> Result<RelayCore> {
        let checkpoint: Checkpoint = match shared.meta.get(relay_key(rt.id))? {
            Some(v) => {
                let c: Checkpoint = serde_json::from_slice(&v).map_err(|e| Error::corrupt(format!("relay checkpoint of stream {}: {e}", rt.name)))?;
                if c.v != 1 {
                    return Err(Error::new(ErrorCode::IncompatibleFormat, format!("relay checkpoint version {}; this build reads 1", c.v)));
                }
                c
            }
            None => Checkpoint { v: 1, ..Checkpoint::default() },
        };
        let compression = Compression::parse(&r.compression)?;
        let base = ProducerConfig::default().set("linger.ms", "0")?.set("compression.type", &r.compression)?;
        let txn = engine.producer(
            base.set("acks", "all")?.set("transactional.id", &format!("__kabase_stream.{}", rt.id))?.set("client.id", &format!("kabase-stream-{}", rt.name))?,
        )?;
        // Fences an older relay and aborts a transaction a crash left open.
        txn.init_transactions()?;
        let scan_from = checkpoint.offsets.clone();
        let mut offsets: BTreeMap<(String, u32), i64> = checkpoint.offsets.into_iter().map(|(t, p, o)| ((t, p), o)).collect();
        let mut partitions = HashMap::new();
        let mut floors = HashMap::new();
        for topic in r.topics() {
            let n = txn.partitions_for(&topic)?;
            partitions.insert(topic.clone(), n);
            let mut consumer = engine.consumer(ConsumerConfig::default().set("isolation.level", "read_committed")?)?;
            let tps: Vec<TopicPartition> = (0..n).map(|p| TopicPartition::new(topic.clone(), p)).collect();
            consumer.assign(&tps)?;
            let starts = consumer.beginning_offsets(&tps)?;
            for (tp, start) in starts {
                let from = offsets.get(&(topic.clone(), tp.partition)).copied().unwrap_or(start).max(start);
                consumer.seek(&tp, from)?;
            }
            let ends: HashMap<u32, i64> = consumer.end_offsets(&tps)?.into_iter().map(|(tp, o)| (tp.partition, o)).collect();
            let mut idle = 0;
            loop {
                let mut behind = false;
                for tp in &tps {
                    if consumer.position(tp)? < ends.get(&tp.partition).copied().unwrap_or(0) {
                        behind = true;
                    }
                }
                if !behind || idle > 50 {
                    break;
                }
                let recs = consumer.poll_records(10_000, Duration::from_millis(if idle > 0 { 10 } else { 0 }))?;
                if recs.is_empty() {
                    idle += 1;
                    continue;
                }
                idle = 0;
                for rec in recs {
                    if u64_header(&rec.headers, HEADER_STREAM) == Some(rt.id) {
                        if let Some(seq) = u64_header(&rec.headers, HEADER_SEQ) {
                            let f = floors.entry((topic.clone(), rec.partition)).or_insert(0u64);
                            *f = (*f).max(seq);
                        }
                    }
                    let o = offsets.entry((topic.clone(), rec.partition)).or_insert(0);
                    *o = (*o).max(rec.offset + 1);
                }
            }
            consumer.close()?;
        }
        let topics = Arc::clone(&engine.inner.topics.shared);
        let stage = DurableStage::start(shared, rt, Arc::clone(&topics))?;
        let replay_until = floors.values().copied().max().unwrap_or(0);
        Ok(RelayCore { txn, topics, compression, floors, offsets, partitions, cursor: 0, scan_from, replay_until, stage, broken: None })
    }

    fn record(rt: &StreamRt, r: &ResolvedStream, p: &PlannedRecord, time_ms: i64, unit: usize) -> Outgoing {
        Outgoing {
            unit,
            topic: p.topic.clone(),
            partition: p.partition,
            key: p.record.row.clone(),
            value: p.record.encode(r.format, r.bytes),
            seq: p.record.seq,
            time_ms,
            stream: rt.id,
        }
    }

    /// Most record bytes a direct append puts in one record batch of a partition (half its
    /// `max.message.bytes`, leaving room for the batch header).
    fn batch_limit(&self, topic: &str, partition: u32) -> Result<usize> {
        let part = self.topics.partition(&TopicPartition::new(topic.to_string(), partition))?;
        Ok((part.config().max_message_bytes / 2).max(1))
    }

    /// Append records straight to their partitions, in order: one batch per partition (split
    /// below the topic's `max.message.bytes`). Returns each touched partition with the offset
    /// after its records.
    fn append_plain(&mut self, records: Vec<Outgoing>) -> Result<Vec<(String, u32, i64)>> {
        let mut by_tp: BTreeMap<(String, u32), Vec<Outgoing>> = BTreeMap::new();
        for o in records {
            by_tp.entry((o.topic.clone(), o.partition)).or_default().push(o);
        }
        let spec = BatchSpec { compression: self.compression, ..BatchSpec::default() };
        let mut touched = Vec::with_capacity(by_tp.len());
        for ((topic, p), recs) in by_tp {
            let part = self.topics.partition(&TopicPartition::new(topic.clone(), p))?;
            let limit = (part.config().max_message_bytes / 2).max(1);
            let mut end = -1;
            let mut batch: Vec<RecordInput> = Vec::new();
            let mut bytes = 0usize;
            let mut it = recs.into_iter().peekable();
            while let Some(o) = it.next() {
                bytes += o.size();
                let (headers, unit) = (o.headers(), o.unit);
                batch.push(RecordInput { offset_delta: batch.len() as i32, timestamp: o.time_ms, key: Some(o.key), value: Some(o.value), headers });
                // A unit stays in one batch (the planner sent any unit bigger than the limit
                // as a transaction instead).
                let next_joins = it.peek().is_some_and(|n| n.unit == unit || bytes + n.size() <= limit);
                if !next_joins {
                    let info = part.append(encode_batch(&spec, &batch)?)?;
                    end = info.last_offset + 1;
                    batch.clear();
                    bytes = 0;
                }
            }
            let o = self.offsets.entry((topic.clone(), p)).or_insert(0);
            *o = (*o).max(end);
            touched.push((topic, p, end));
        }
        Ok(touched)
    }

    /// Wait for every append; returns each touched partition with the offset after its records.
    fn note(&mut self, futures: Vec<SendFuture>) -> Result<Vec<(String, u32, i64)>> {
        let mut touched: BTreeMap<(String, u32), i64> = BTreeMap::new();
        for f in futures {
            let m = f.get()?;
            let key = (m.topic, m.partition);
            let o = self.offsets.entry(key.clone()).or_insert(0);
            *o = (*o).max(m.offset + 1);
            let t = touched.entry(key).or_insert(0);
            *t = (*t).max(m.offset + 1);
        }
        Ok(touched.into_iter().map(|((t, p), o)| (t, p, o)).collect())
    }
}

/// Most outbox entries a committing writer relays itself ([`relay_inline`]); a larger backlog
/// is the stream thread's work.
const INLINE_MAX: usize = 64;

/// Least time between two steps a writer runs itself ([`relay_inline`]), in ns.
const INLINE_GAP_NS: u64 = 100_000;

/// What one relay step did.
pub(crate) struct Stepped {
    /// Outbox entries appended (or found already in the log).
    pub appended: usize,
    /// Entries at or below the step's bound are left: the chunk was full, or an inline step
    /// left its entries to the stream's thread.
    pub more: bool,
}

/// Relay one chunk of outbox entries with seq <= `upto` (and <= the last committed seq).
/// Returns how many entries it appended; they become durable (and are deleted) in the
/// durability stage.
pub(crate) fn relay_step(shared: &Arc<Shared>, rt: &Arc<StreamRt>, engine: &Engine, upto: u64) -> Result<usize> {
    let mut guard = rt.relay.lock();
    relay_step_locked(shared, rt, engine, upto, &mut guard)
}

/// [`relay_step`] with the relay lock already held (`guard` is the relay core slot).
pub(crate) fn relay_step_locked(shared: &Arc<Shared>, rt: &Arc<StreamRt>, engine: &Engine, upto: u64, guard: &mut Option<RelayCore>) -> Result<usize> {
    let r = rt.resolved.as_ref().ok_or_else(|| Error::internal("relay of a stream without a table spec"))?;
    if guard.is_none() {
        *guard = Some(RelayCore::init(shared, rt, r, engine)?);
    }
    let core = guard.as_mut().ok_or_else(|| Error::internal("relay core missing"))?;
    step(shared, rt, engine, r, core, upto, false).map(|s| s.appended)
}

/// Start a stream's relay (its transactional producer, tail scan and durability stage) if it
/// is not running yet, so that the first changes after [`Engine::stream_table_to_topic`]
/// returns do not wait for it. A failure is left to the stream's thread, which retries and
/// reports it in the stream's state.
pub(crate) fn start_relay(shared: &Arc<Shared>, rt: &Arc<StreamRt>, engine: &Engine) {
    let _step = rt.step.lock();
    if rt.paused.load(Ordering::Acquire) || rt.stop.load(Ordering::Acquire) {
        return;
    }
    let Some(r) = rt.resolved.as_ref() else { return };
    let mut guard = rt.relay.lock();
    if guard.is_none() {
        if let Ok(core) = RelayCore::init(shared, rt, r, engine) {
            *guard = Some(core);
        }
    }
}

/// The committing writer's fast path, called once its batch is visible: if the stream's thread
/// is not in a step, relay what is visible now on the writer's own thread, so the change
/// reaches the topic without waking another thread (on a loaded machine a wake-up can wait
/// milliseconds for a CPU). Returns `false` when the stream's thread must be woken instead:
/// it is busy (it then relays this change in its next step), the relay is not started, the
/// backlog is more than [`INLINE_MAX`] entries, the chunk needs a transaction (that waits
/// for fsyncs; writers never do), or the step failed (the thread rebuilds the relay).
///
/// Exactly once is unchanged: the step runs under the same `step` and relay locks as the
/// thread's, so steps never overlap and `pause_stream` still waits for a running one. The
/// writer still holds its row locks meanwhile (the commit hook runs before the write call
/// returns), so other writers of the same row stripes wait for the step too; a step that
/// waits for the disk delays them, never the writers of other rows.
pub(crate) fn relay_inline(shared: &Arc<Shared>, rt: &Arc<StreamRt>) -> bool {
    if rt.stop.load(Ordering::Acquire) || rt.paused.load(Ordering::Acquire) {
        return false;
    }
    // Commits coming faster than one per INLINE_GAP go to the thread, which relays them in
    // chunks (one step per commit would cost the writers more than the wake-up saves).
    let now = crate::stream::state::mono_ns();
    let last = rt.last_inline.load(Ordering::Relaxed);
    if now.saturating_sub(last) < INLINE_GAP_NS {
        return false;
    }
    let Some(_step) = rt.step.try_lock() else { return false };
    rt.last_inline.store(now, Ordering::Relaxed);
    if rt.paused.load(Ordering::Acquire) || rt.stop.load(Ordering::Acquire) {
        return false;
    }
    let Some(r) = rt.resolved.as_ref() else { return false };
    let Some(mut guard) = rt.relay.try_lock() else { return false };
    let Some(core) = guard.as_mut() else { return false };
    let Ok(engine) = shared.engine() else { return false };
    match step(shared, rt, &engine, r, core, u64::MAX, true) {
        Ok(s) => !s.more,
        Err(_) => false,
    }
}

/// One relay step on a running core; a failure marks the core broken (see
/// [`RelayCore::broken`]).
fn step(shared: &Arc<Shared>, rt: &Arc<StreamRt>, engine: &Engine, r: &ResolvedStream, core: &mut RelayCore, upto: u64, inline: bool) -> Result<Stepped> {
    if let Some((c, m)) = &core.broken {
        return Err(Error::new(*c, format!("the relay failed and restarts: {m}")));
    }
    let res = step_body(shared, rt, engine, r, core, upto, inline);
    if let Err(e) = &res {
        core.broken = Some((e.code(), e.message().to_string()));
    }
    res
}

/// The step itself: read a chunk, append it, hand it to the durability stage.
fn step_body(shared: &Arc<Shared>, rt: &Arc<StreamRt>, engine: &Engine, r: &ResolvedStream, core: &mut RelayCore, upto: u64, inline: bool) -> Result<Stepped> {
    core.stage.failure()?;

    // Everything at or below the last committed seq is visible (seq assignment and the batch
    // apply under one mutex); anything above may still be committing and waits for next time.
    let upto = upto.min(engine.inner.tables.committer.last_seq());
    let idle = Stepped { appended: 0, more: false };
    if core.cursor >= upto {
        return Ok(idle);
    }
    let mut entries: Vec<OutboxEntry> = Vec::new();
    let from = outbox::key(rt.id, core.cursor.saturating_add(1));
    let to = outbox::key(rt.id, upto);
    let mut full = false;
    for kv in shared.outbox.range(from..=to) {
        let (k, v) = kv.into_inner()?;
        let e = OutboxEntry::decode(&k, &v)?;
        if e.stream != rt.id || e.seq > upto {
            break;
        }
        if inline && entries.len() >= INLINE_MAX {
            return Ok(Stepped { appended: 0, more: true }); // a backlog: the thread's work
        }
        let boundary = e.group.is_none_or(|g| e.seq + 1 == g.end());
        entries.push(e);
        if entries.len() >= CHUNK && boundary {
            full = true;
            break;
        }
    }
    if entries.is_empty() {
        core.cursor = upto;
        return Ok(idle);
    }
    if let Some(g) = entries.last().and_then(|e| e.group) {
        if entries.last().map(|e| e.seq + 1) != Some(g.end()) {
            return Err(Error::corrupt(format!("stream {}: atomic group [{}, +{}) is incomplete in the outbox", rt.name, g.first, g.len)));
        }
    }

    let planner = Planner { routes: &r.routes, default_topic: &r.topic, shape: r.shape, partitioning: &r.partitioning, families: &r.families };
    let parts = core.partitions.clone();
    let partitions_of = |t: &str| -> Result<u32> { parts.get(t).copied().ok_or_else(|| Error::new(ErrorCode::TopicNotFound, format!("stream {} has no topic {t}", rt.name))) };

    // Plan the whole chunk. A unit (one change, or an atomic multi-row group) whose records
    // all go to one partition and fit one record batch is appended directly as part of one
    // batch: a batch is in the log whole or not at all (a torn one is cut off by recovery,
    // and readers never see past the end of the last whole one), so it is atomic without a
    // transaction. The chunk goes as ONE transaction if any unit spreads over several
    // partitions (several families under family partitioning, several topics by route rules,
    // the rows of a group in different partitions) or is too big for one batch; a transaction
    // holding several units keeps each one atomic.
    let mut records: Vec<Outgoing> = Vec::new();
    let mut needs_txn = false;
    let mut i = 0;
    while i < entries.len() {
        let unit_len = match entries[i].group {
            Some(g) => entries[i..].iter().take_while(|e| e.group == Some(g)).count(),
            None => 1,
        };
        let unit = &entries[i..i + unit_len];
        let unit_id = i;
        i += unit_len;
        let mut tps: Vec<(String, u32)> = Vec::new();
        let mut bytes = 0usize;
        for e in unit {
            for p in planner.plan(&e.change, &partitions_of)? {
                let tp = (p.topic.clone(), p.partition);
                if core.floors.get(&tp).is_some_and(|f| p.record.seq <= *f) {
                    continue; // already in the partition (replay after a crash)
                }
                if !tps.contains(&tp) {
                    tps.push(tp);
                }
                let o = RelayCore::record(rt, r, &p, e.time_ms, unit_id);
                bytes += o.size();
                records.push(o);
            }
        }
        if tps.len() > 1 {
            needs_txn = true;
        } else if let Some((t, p)) = tps.first() {
            if bytes > core.batch_limit(t, *p)? {
                needs_txn = true;
            }
        }
    }
    if inline && needs_txn {
        return Ok(Stepped { appended: 0, more: true }); // a transaction waits for fsyncs: the thread's work
    }
    let touched = if records.is_empty() {
        Vec::new()
    } else if needs_txn {
        core.txn.begin_transaction()?;
        let mut futures = Vec::with_capacity(records.len());
        let sent: Result<()> = (|| {
            for rec in records {
                futures.push(core.txn.send(rec.producer_record())?);
            }
            core.txn.commit_transaction()
        })();
        if let Err(e) = sent {
            let _ = core.txn.abort_transaction();
            return Err(e);
        }
        core.note(futures)?
    } else {
        core.append_plain(records)?
    };

    // Every append of the chunk is in the log (visible to consumers): hand it to the
    // durability stage, which deletes the entries once the appends are on disk.
    let last = entries.last().map(|e| e.seq).unwrap_or(core.cursor);
    core.cursor = last;
    rt.last_relayed.store(last, Ordering::Release);
    let offsets = if last < core.replay_until { core.scan_from.clone() } else { core.offsets.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect() };
    let checkpoint = Checkpoint { v: 1, last_seq: last, offsets };
    core.stage.push(Appended { keys: entries.iter().map(OutboxEntry::key).collect(), ends: touched, checkpoint })?;
    Ok(Stepped { appended: entries.len(), more: full })
}

/// The relay thread of one stream.
pub(crate) fn relay_thread(shared: &Arc<Shared>, rt: &Arc<StreamRt>) {
    while !rt.stop.load(Ordering::Acquire) {
        // Read before looking, so a commit that lands meanwhile makes the wait return at once.
        let gen = rt.generation();
        let step = rt.step.lock();
        if rt.paused.load(Ordering::Acquire) {
            drop(step);
            rt.wait(gen, Duration::from_millis(100));
            continue;
        }
        let engine = match shared.engine() {
            Ok(e) => e,
            Err(_) => break,
        };
        let res = relay_step(shared, rt, &engine, u64::MAX);
        drop(engine);
        drop(step);
        match res {
            Ok(n) if n > 0 => {
                *rt.failure.lock() = None;
            }
            Ok(_) => {
                // Nothing visible to relay: sleep until a commit (or resume/stop) wakes us.
                rt.wait(gen, Duration::from_millis(100));
            }
            Err(e) => {
                if rt.stop.load(Ordering::Acquire) {
                    break;
                }
                *rt.failure.lock() = Some(e.to_string());
                let old = rt.relay.lock().take();
                drop(old); // outside the lock: waits for its sends and its durability stage
                rt.wait(gen, Duration::from_millis(200));
            }
        }
    }
    let core = rt.relay.lock().take();
    drop(core);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StreamSpec;
    use crate::table::{FamilyDescriptor, Put, TableDescriptor};

    /// Relay everything visible, then stop the relay core (outside the relay lock) so its
    /// durability stage finishes: afterwards the appended entries are deleted.
    fn drain(shared: &Arc<Shared>, rt: &Arc<StreamRt>, engine: &Engine) {
        while relay_step(shared, rt, engine, u64::MAX).unwrap() > 0 {}
        let core = rt.relay.lock().take();
        drop(core);
    }

    fn leo(e: &Engine, topic: &str) -> Vec<i64> {
        e.describe_topic(topic).unwrap().partitions.iter().map(|p| p.log_end_offset).collect()
    }

    fn outbox_entries(shared: &Shared, rt: &StreamRt) -> Vec<(Vec<u8>, Vec<u8>)> {
        shared.outbox.prefix(outbox::prefix(rt.id)).map(|kv| kv.into_inner().map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
    }

    /// A crash after the append but before the outbox entries were deleted: the replay must be
    /// recognised from the log and not appended twice.
    #[test]
    fn replay_after_lost_outbox_delete_is_deduplicated() {
        let engine = Engine::open_in_memory().unwrap();
        engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf")).family(FamilyDescriptor::new("g"))).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("s", "t").partitions(2)).unwrap();
        engine.pause_stream("s").unwrap();
        let t = engine.table("t").unwrap();
        for i in 0..20 {
            t.put(Put::new(format!("r{i}")).add("cf", "v", i.to_string())).unwrap();
        }
        // A multi-row batch, so the replay also covers a transaction.
        let muts: Vec<crate::table::Mutation> = (0..3).map(|i| Put::new(format!("b{i}")).add("g", "v", "x").into()).collect();
        t.batch(muts).unwrap();
        let shared = Arc::clone(&engine.inner.streams.shared);
        let rt = shared.streams.read().get("s").cloned().unwrap();
        let saved = outbox_entries(&shared, &rt);
        assert_eq!(saved.len(), 23);
        drain(&shared, &rt, &engine);
        assert_eq!(outbox_entries(&shared, &rt).len(), 0, "the durability stage deletes what was appended");
        let before = leo(&engine, "default.t");
        // Lose the deletion, with the checkpoint written in the same batch (there was none
        // before), and the relay's memory, as a crash would.
        for (k, v) in &saved {
            shared.outbox.insert(k.clone(), v.clone()).unwrap();
        }
        assert!(shared.meta.get(relay_key(rt.id)).unwrap().is_some());
        shared.meta.remove(relay_key(rt.id)).unwrap();
        drain(&shared, &rt, &engine);
        assert_eq!(leo(&engine, "default.t"), before, "the replay appended records again");
        assert_eq!(outbox_entries(&shared, &rt).len(), 0);
        // New changes after the replay still flow.
        t.put(Put::new("late").add("cf", "v", "y")).unwrap();
        drain(&shared, &rt, &engine);
        let after: i64 = leo(&engine, "default.t").iter().sum();
        assert_eq!(after, before.iter().sum::<i64>() + 1);
        engine.close().unwrap();
    }

    /// A replay longer than one chunk, interrupted again after its first chunk was made durable:
    /// the checkpoint written by that chunk must still start the next tail scan before the
    /// records of the entries that remain, or they would be appended twice.
    #[test]
    fn interrupted_long_replay_is_deduplicated() {
        let engine = Engine::open_in_memory().unwrap();
        engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("s", "t").partitions(2)).unwrap();
        engine.pause_stream("s").unwrap();
        let t = engine.table("t").unwrap();
        let n = CHUNK + 40;
        for i in 0..n {
            t.put(Put::new(format!("r{i}")).add("cf", "v", i.to_string())).unwrap();
        }
        let shared = Arc::clone(&engine.inner.streams.shared);
        let rt = shared.streams.read().get("s").cloned().unwrap();
        let saved = outbox_entries(&shared, &rt);
        assert_eq!(saved.len(), n);
        drain(&shared, &rt, &engine);
        let before = leo(&engine, "default.t");
        assert_eq!(before.iter().sum::<i64>(), n as i64);
        // Crash: the deletions and the checkpoint are lost.
        for (k, v) in &saved {
            shared.outbox.insert(k.clone(), v.clone()).unwrap();
        }
        shared.meta.remove(relay_key(rt.id)).unwrap();
        // The restarted relay replays one chunk (all already in the log), makes it durable...
        assert_eq!(relay_step(&shared, &rt, &engine, u64::MAX).unwrap(), CHUNK);
        let core = rt.relay.lock().take();
        drop(core);
        assert_eq!(outbox_entries(&shared, &rt).len(), n - CHUNK);
        // ... and crashes again before the rest.
        drain(&shared, &rt, &engine);
        assert_eq!(leo(&engine, "default.t"), before, "the rest of the replay was appended twice");
        assert_eq!(outbox_entries(&shared, &rt).len(), 0);
        engine.close().unwrap();
    }

    /// The relay never reads past the last committed change and never skips an entry: entries
    /// written by commits it has not seen yet are relayed by a later step, in seq order.
    #[test]
    fn relay_stops_at_the_last_committed_seq() {
        let engine = Engine::open_in_memory().unwrap();
        engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("s", "t").partitions(1)).unwrap();
        engine.pause_stream("s").unwrap();
        let t = engine.table("t").unwrap();
        t.put(Put::new("a").add("cf", "v", "1")).unwrap();
        let first = engine.inner.tables.committer.last_seq();
        t.put(Put::new("a").add("cf", "v", "2")).unwrap();
        let shared = Arc::clone(&engine.inner.streams.shared);
        let rt = shared.streams.read().get("s").cloned().unwrap();
        // Bounded below the second change: only the first goes.
        assert_eq!(relay_step(&shared, &rt, &engine, first).unwrap(), 1);
        assert_eq!(relay_step(&shared, &rt, &engine, first).unwrap(), 0);
        assert_eq!(leo(&engine, "default.t"), vec![1]);
        assert_eq!(relay_step(&shared, &rt, &engine, u64::MAX).unwrap(), 1);
        assert_eq!(relay_step(&shared, &rt, &engine, u64::MAX).unwrap(), 0);
        assert_eq!(leo(&engine, "default.t"), vec![2]);
        assert_eq!(rt.last_relayed.load(Ordering::Acquire), engine.inner.tables.committer.last_seq());
        drain(&shared, &rt, &engine);
        assert_eq!(outbox_entries(&shared, &rt).len(), 0);
        assert_eq!(rt.pending.load(Ordering::Acquire), 0);
        engine.close().unwrap();
    }

    fn read_committed(e: &Engine, topic: &str, partitions: u32) -> Vec<crate::log::ConsumerRecord> {
        let mut c = e.consumer(ConsumerConfig::default().set("isolation.level", "read_committed").unwrap()).unwrap();
        let tps: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(topic, p)).collect();
        c.assign(&tps).unwrap();
        c.seek_to_beginning(&tps).unwrap();
        let mut out = Vec::new();
        loop {
            let got = c.poll(Duration::from_millis(100)).unwrap();
            if got.is_empty() {
                return out;
            }
            out.extend(got);
        }
    }

    /// An atomic group whose rows all go to one partition is appended as one record batch,
    /// atomic by itself: no transaction (so no commit marker taking an offset, no coordinator
    /// write, no fsync on the way). A group spread over partitions still goes as a transaction.
    #[test]
    fn an_atomic_group_in_one_partition_needs_no_transaction() {
        let engine = Engine::open_in_memory().unwrap();
        engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("one", "t").topic("one").partitions(1)).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("two", "t").topic("two").partitions(2)).unwrap();
        let t = engine.table("t").unwrap();
        let muts: Vec<crate::table::Mutation> = (0..8).map(|i| Put::new(format!("b{i}")).add("cf", "v", "x").into()).collect();
        for r in t.batch(muts).unwrap() {
            r.unwrap();
        }
        engine.await_stream("one", Duration::from_secs(10)).unwrap();
        engine.await_stream("two", Duration::from_secs(10)).unwrap();
        assert_eq!(leo(&engine, "one"), vec![8], "8 records and no transaction marker");
        assert_eq!(read_committed(&engine, "one", 1).len(), 8);
        let two = leo(&engine, "two");
        assert!(two.iter().all(|&o| o > 0), "the 8 rows hash to both partitions: {two:?}");
        assert_eq!(two.iter().sum::<i64>(), 8 + 2, "one commit marker per partition: {two:?}");
        assert_eq!(read_committed(&engine, "two", 2).len(), 8);
        engine.close().unwrap();
    }

    /// A unit too big for one record batch is never split over two direct appends (a crash
    /// between them would leave half of it, and the replay would skip the rest as sent): it
    /// goes as a transaction.
    #[test]
    fn a_unit_too_big_for_one_batch_goes_as_a_transaction() {
        let engine = Engine::open_in_memory().unwrap();
        engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap();
        engine.create_topic(crate::log::NewTopic::new("small", 1).config("max.message.bytes", "4096")).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("s", "t").topic("small").partitions(1)).unwrap();
        let t = engine.table("t").unwrap();
        // Three of these exceed a direct append's limit (half of 4096 bytes) but fit one of the
        // transactional producer's batches.
        let big = "x".repeat(700);
        t.put(Put::new("alone").add("cf", "v", big.clone())).unwrap();
        engine.await_stream("s", Duration::from_secs(10)).unwrap();
        assert_eq!(leo(&engine, "small"), vec![1], "a change that fits goes directly");
        let muts: Vec<crate::table::Mutation> = (0..3).map(|i| Put::new(format!("b{i}")).add("cf", "v", big.clone()).into()).collect();
        for r in t.batch(muts).unwrap() {
            r.unwrap();
        }
        engine.await_stream("s", Duration::from_secs(10)).unwrap();
        assert_eq!(leo(&engine, "small"), vec![1 + 3 + 1], "3 records and a commit marker");
        assert_eq!(read_committed(&engine, "small", 1).len(), 4);
        engine.close().unwrap();
    }

    /// A writer relays its own change when the stream's thread is idle: the record is in the
    /// topic when `put` returns, with no wake-up of the stream's thread on the way. (The thread
    /// only steps when woken or every 100 ms, so a put that finds it stepping is rare: most of
    /// the spaced puts below must be visible at once.)
    #[test]
    fn a_writer_relays_its_own_change_when_the_relay_is_idle() {
        let engine = Engine::open_in_memory().unwrap();
        engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf"))).unwrap();
        engine.stream_table_to_topic(StreamSpec::new("s", "t").topic("s").partitions(1)).unwrap();
        let t = engine.table("t").unwrap();
        let mut at_once = 0;
        for i in 0..20i64 {
            std::thread::sleep(Duration::from_millis(2));
            t.put(Put::new(format!("r{i}")).add("cf", "v", "x")).unwrap();
            if leo(&engine, "s") == vec![i + 1] {
                at_once += 1;
            }
        }
        assert!(at_once >= 15, "only {at_once} of 20 changes were in the topic when put returned");
        // Paused: the writer relays nothing, and resuming moves the change.
        engine.pause_stream("s").unwrap();
        t.put(Put::new("late").add("cf", "v", "x")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(leo(&engine, "s"), vec![20]);
        engine.resume_stream("s").unwrap();
        engine.await_stream("s", Duration::from_secs(10)).unwrap();
        assert_eq!(leo(&engine, "s"), vec![21]);
        engine.close().unwrap();
    }
}
