//! The relay: moves a table-to-topic stream's outbox into its topics, in commit order, exactly
//! once, in two stages.
//!
//! **Append stage** (the stream's thread, woken by the commit hook once a batch is visible).
//! Each step reads the outbox entries after its cursor up to the engine's last committed change
//! sequence number ([`crate::table::write::Committer::last_seq`]): sequence numbers are handed
//! out and their batch applied under one commit mutex, so every entry at or below that number is
//! already visible and no gap below it can be filled later. Entries above it are left for the
//! next step (never skipped). The step turns each change into records
//! ([`crate::stream::partition::Planner`]) and appends them, never splitting an atomic group:
//!
//! - a change whose records all go to one partition is appended by the relay thread itself,
//!   one record batch per partition per step (split below `max.message.bytes`), with no
//!   producer id: the `acks=1` level (in the OS page cache, as durable as the table's default
//!   `SYNC_WAL` acknowledgement), seen by consumers at once, and no hand-off to a producer's
//!   sender thread on the way;
//! - an atomic multi-row group, or a change spread over several partitions (several families
//!   under family partitioning, several topics by route rules), is sent as ONE transaction of the
//!   relay's transactional producer (`transactional.id = __kabase_stream.<id>`, `acks=all`), so
//!   `read_committed` consumers see all of it or none. Every unit of a chunk that needs a
//!   transaction shares it, so a burst of atomic batches costs one commit, not one per batch.
//!
//! A step's appends are all in the log before the next step starts (direct appends return once
//! done; the transaction is committed), so the two paths never interleave within a partition:
//! per partition, records are in outbox (commit) order.
//!
//! **Durability stage** (a second thread per stream). A step hands over the outbox keys it
//! appended and the end offset of every partition it touched. The stage waits a short window
//! (2 ms) for more, takes everything queued, fsyncs each touched partition once up to its end (overlapping the next appends), then deletes
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

/// How long the durability stage gathers chunks before one fsync and one delete batch.
const DURABLE_WINDOW: Duration = Duration::from_millis(2);

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
                    std::thread::sleep(DURABLE_WINDOW);
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
}

impl Outgoing {
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
        Ok(RelayCore { txn, topics, compression, floors, offsets, partitions, cursor: 0, scan_from, replay_until, stage })
    }

    fn record(rt: &StreamRt, r: &ResolvedStream, p: &PlannedRecord, time_ms: i64) -> Outgoing {
        Outgoing {
            topic: p.topic.clone(),
            partition: p.partition,
            key: p.record.row.clone(),
            value: p.record.encode(r.format, r.bytes),
            seq: p.record.seq,
            time_ms,
            stream: rt.id,
        }
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
                bytes += o.key.len() + o.value.len() + 64;
                let headers = o.headers();
                batch.push(RecordInput { offset_delta: batch.len() as i32, timestamp: o.time_ms, key: Some(o.key), value: Some(o.value), headers });
                let next_fits = it.peek().is_some_and(|n| bytes + n.key.len() + n.value.len() + 64 <= limit);
                if !next_fits {
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
    core.stage.failure()?;

    // Everything at or below the last committed seq is visible (seq assignment and the batch
    // apply under one mutex); anything above may still be committing and waits for next time.
    let upto = upto.min(engine.inner.tables.committer.last_seq());
    if core.cursor >= upto {
        return Ok(0);
    }
    let mut entries: Vec<OutboxEntry> = Vec::new();
    let from = outbox::key(rt.id, core.cursor.saturating_add(1));
    let to = outbox::key(rt.id, upto);
    for kv in shared.outbox.range(from..=to) {
        let (k, v) = kv.into_inner()?;
        let e = OutboxEntry::decode(&k, &v)?;
        if e.stream != rt.id || e.seq > upto {
            break;
        }
        let boundary = e.group.is_none_or(|g| e.seq + 1 == g.end());
        entries.push(e);
        if entries.len() >= CHUNK && boundary {
            break;
        }
    }
    if entries.is_empty() {
        core.cursor = upto;
        return Ok(0);
    }
    if let Some(g) = entries.last().and_then(|e| e.group) {
        if entries.last().map(|e| e.seq + 1) != Some(g.end()) {
            return Err(Error::corrupt(format!("stream {}: atomic group [{}, +{}) is incomplete in the outbox", rt.name, g.first, g.len)));
        }
    }

    let planner = Planner { routes: &r.routes, default_topic: &r.topic, shape: r.shape, partitioning: &r.partitioning, families: &r.families };
    let parts = core.partitions.clone();
    let partitions_of = |t: &str| -> Result<u32> { parts.get(t).copied().ok_or_else(|| Error::new(ErrorCode::TopicNotFound, format!("stream {} has no topic {t}", rt.name))) };

    // Plan the whole chunk; it goes as ONE transaction if any unit needs atomicity (an atomic
    // multi-row group, or a change spread over several partitions), else through the plain
    // producer. A transaction holding several units keeps each one atomic.
    let mut records: Vec<Outgoing> = Vec::new();
    let mut needs_txn = false;
    let mut i = 0;
    while i < entries.len() {
        let unit_len = match entries[i].group {
            Some(g) => entries[i..].iter().take_while(|e| e.group == Some(g)).count(),
            None => 1,
        };
        let unit = &entries[i..i + unit_len];
        i += unit_len;
        let mut tps: Vec<(String, u32)> = Vec::new();
        let mut n = 0;
        for e in unit {
            for p in planner.plan(&e.change, &partitions_of)? {
                let tp = (p.topic.clone(), p.partition);
                if core.floors.get(&tp).is_some_and(|f| p.record.seq <= *f) {
                    continue; // already in the partition (replay after a crash)
                }
                if !tps.contains(&tp) {
                    tps.push(tp);
                }
                records.push(RelayCore::record(rt, r, &p, e.time_ms));
                n += 1;
            }
        }
        if n > 0 && (unit_len > 1 || tps.len() > 1) {
            needs_txn = true;
        }
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
    Ok(entries.len())
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
}
