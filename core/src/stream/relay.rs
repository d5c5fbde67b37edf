//! The relay: moves a table-to-topic stream's outbox into its topics, in commit order, exactly
//! once.
//!
//! Each relay step reads a chunk of outbox entries (never splitting an atomic group), turns each
//! change into records ([`crate::stream::partition::Planner`]) and appends them:
//!
//! - a change whose records all go to one partition is sent by the relay's idempotent producer
//!   (`acks=all`, so its future completes once the record is on disk);
//! - an atomic multi-row group, or a change spread over several partitions (several families
//!   under family partitioning, several topics by route rules), is sent as ONE transaction of the
//!   relay's transactional producer (`transactional.id = __kabase_stream.<id>`), so
//!   `read_committed` consumers see all of it or none.
//!
//! Only after every append of the chunk is durable are the chunk's outbox entries deleted (with
//! the relay checkpoint, in one LSM batch). A crash before that replays the chunk; the replay is
//! de-duplicated against the log itself: every record carries the headers `kabase.stream`
//! (stream id, u64 BE) and `kabase.seq` (change sequence number, u64 BE), and when a relay starts
//! it reads (read_committed) each of its partitions from the last checkpointed offset to the end
//! and skips, per partition, every record whose seq is not above the highest seq found there.
//! The transaction coordinator has aborted any transaction the crash left open before that scan,
//! so an aborted attempt is resent, a committed one is not. Appends within a partition are in
//! order, so "highest seq in the partition" exactly separates sent from unsent.
//!
//! Relay checkpoint (`relay/<id>` in `kabase.stream.meta`), versioned JSON:
//! `{"v": 1, "last_seq": <u64>, "offsets": [["topic", partition, next_offset], ...]}`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};
use crate::log::{ConsumerConfig, Header, Producer, ProducerConfig, ProducerRecord, SendFuture, TopicPartition};
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Checkpoint {
    v: u32,
    last_seq: u64,
    offsets: Vec<(String, u32, i64)>,
}

/// The relay's producers and dedup state. Lives while the relay runs; rebuilt (with a new tail
/// scan) after any failure.
pub(crate) struct RelayCore {
    idem: Producer,
    txn: Producer,
    /// Highest seq already in each partition when the relay started.
    floors: HashMap<(String, u32), u64>,
    /// Next offset per partition after the last durable chunk.
    offsets: BTreeMap<(String, u32), i64>,
    partitions: HashMap<String, u32>,
    last_seq: u64,
}

fn u64_header(h: &[Header], key: &str) -> Option<u64> {
    let v = h.iter().find(|x| x.key == key)?.value.as_ref()?;
    let b: [u8; 8] = v.as_slice().try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

impl RelayCore {
    fn init(shared: &Shared, rt: &StreamRt, r: &ResolvedStream, engine: &Engine) -> Result<RelayCore> {
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
        let base = ProducerConfig::default().set("linger.ms", "0")?.set("acks", "all")?.set("compression.type", &r.compression)?;
        let idem = engine.producer(base.clone().set("enable.idempotence", "true")?.set("client.id", &format!("kabase-stream-{}", rt.name))?)?;
        let txn = engine.producer(base.set("transactional.id", &format!("__kabase_stream.{}", rt.id))?)?;
        // Fences an older relay and aborts a transaction a crash left open.
        txn.init_transactions()?;
        let mut offsets: BTreeMap<(String, u32), i64> = checkpoint.offsets.into_iter().map(|(t, p, o)| ((t, p), o)).collect();
        let mut partitions = HashMap::new();
        let mut floors = HashMap::new();
        for topic in r.topics() {
            let n = idem.partitions_for(&topic)?;
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
        Ok(RelayCore { idem, txn, floors, offsets, partitions, last_seq: checkpoint.last_seq })
    }

    fn record(&self, rt: &StreamRt, r: &ResolvedStream, p: &PlannedRecord, time_ms: i64) -> ProducerRecord {
        let mut rec = ProducerRecord::new(p.topic.clone(), p.record.encode(r.format, r.bytes)).key(p.record.row.clone()).partition(p.partition).timestamp(time_ms);
        rec = rec.header(HEADER_STREAM, rt.id.to_be_bytes().to_vec()).header(HEADER_SEQ, p.record.seq.to_be_bytes().to_vec());
        rec
    }

    fn note(&mut self, futures: Vec<SendFuture>) -> Result<()> {
        for f in futures {
            let m = f.get()?;
            let o = self.offsets.entry((m.topic.clone(), m.partition)).or_insert(0);
            *o = (*o).max(m.offset + 1);
        }
        Ok(())
    }
}

/// Relay one chunk of outbox entries with seq <= `upto`. Returns how many entries it consumed.
pub(crate) fn relay_step(shared: &Shared, rt: &StreamRt, engine: &Engine, upto: u64) -> Result<usize> {
    let mut guard = rt.relay.lock();
    relay_step_locked(shared, rt, engine, upto, &mut guard)
}

/// [`relay_step`] with the relay lock already held (`guard` is the relay core slot).
pub(crate) fn relay_step_locked(shared: &Shared, rt: &StreamRt, engine: &Engine, upto: u64, guard: &mut Option<RelayCore>) -> Result<usize> {
    let r = rt.resolved.as_ref().ok_or_else(|| Error::internal("relay of a stream without a table spec"))?;
    if guard.is_none() {
        *guard = Some(RelayCore::init(shared, rt, r, engine)?);
    }
    let core = guard.as_mut().ok_or_else(|| Error::internal("relay core missing"))?;

    let mut entries: Vec<OutboxEntry> = Vec::new();
    for kv in shared.outbox.prefix(outbox::prefix(rt.id)) {
        let (k, v) = kv.into_inner()?;
        let e = OutboxEntry::decode(&k, &v)?;
        if e.seq > upto {
            break;
        }
        let boundary = e.group.is_none_or(|g| e.seq + 1 == g.end());
        entries.push(e);
        if entries.len() >= CHUNK && boundary {
            break;
        }
    }
    if entries.is_empty() {
        return Ok(0);
    }

    let planner = Planner { routes: &r.routes, default_topic: &r.topic, shape: r.shape, partitioning: &r.partitioning, families: &r.families };
    let parts = core.partitions.clone();
    let partitions_of = |t: &str| -> Result<u32> { parts.get(t).copied().ok_or_else(|| Error::new(ErrorCode::TopicNotFound, format!("stream {} has no topic {t}", rt.name))) };

    // Plan the whole chunk; it goes as ONE transaction if any unit needs atomicity (an atomic
    // multi-row group, or a change spread over several partitions), else through the
    // idempotent producer. A transaction holding several units keeps each one atomic.
    let mut records: Vec<ProducerRecord> = Vec::new();
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
                records.push(core.record(rt, r, &p, e.time_ms));
                n += 1;
            }
        }
        if n > 0 && (unit_len > 1 || tps.len() > 1) {
            needs_txn = true;
        }
    }
    if needs_txn {
        core.txn.begin_transaction()?;
        let mut futures = Vec::with_capacity(records.len());
        let sent: Result<()> = (|| {
            for rec in records {
                futures.push(core.txn.send(rec)?);
            }
            core.txn.commit_transaction()
        })();
        if let Err(e) = sent {
            let _ = core.txn.abort_transaction();
            return Err(e);
        }
        core.note(futures)?;
    } else {
        let mut futures = Vec::with_capacity(records.len());
        for rec in records {
            futures.push(core.idem.send(rec)?);
        }
        core.note(futures)?;
    }

    // Every append of the chunk is durable: drop the entries and move the checkpoint.
    let last = entries.last().map(|e| e.seq).unwrap_or(core.last_seq);
    core.last_seq = last;
    let cp = Checkpoint { v: 1, last_seq: last, offsets: core.offsets.iter().map(|((t, p), o)| (t.clone(), *p, *o)).collect() };
    let json = serde_json::to_vec(&cp).map_err(|e| Error::internal(format!("encode relay checkpoint: {e}")))?;
    let mut batch = shared.db.batch();
    for e in &entries {
        batch.remove(&shared.outbox, e.key().to_vec());
    }
    batch.insert(&shared.meta, relay_key(rt.id), json);
    batch.commit()?;
    rt.last_relayed.store(last, Ordering::Release);
    rt.freed(entries.len() as u64);
    Ok(entries.len())
}

/// The relay thread of one stream.
pub(crate) fn relay_thread(shared: &Arc<Shared>, rt: &Arc<StreamRt>) {
    let mut spins = 0u32;
    while !rt.stop.load(Ordering::Acquire) {
        let gen = rt.generation();
        if rt.paused.load(Ordering::Acquire) {
            rt.wait(gen, Duration::from_millis(100));
            continue;
        }
        let engine = match shared.engine() {
            Ok(e) => e,
            Err(_) => break,
        };
        let res = relay_step(shared, rt, &engine, u64::MAX);
        drop(engine);
        match res {
            Ok(n) if n > 0 => {
                spins = 0;
                *rt.failure.lock() = None;
            }
            Ok(_) => {
                // A captured change may still be committing: look again very soon.
                if rt.pending.load(Ordering::Acquire) > 0 && spins < 50 {
                    spins += 1;
                    std::thread::sleep(Duration::from_micros(100));
                } else {
                    spins = 0;
                    rt.wait(gen, Duration::from_millis(if rt.pending.load(Ordering::Acquire) > 0 { 2 } else { 100 }));
                }
            }
            Err(e) => {
                if rt.stop.load(Ordering::Acquire) {
                    break;
                }
                *rt.failure.lock() = Some(e.to_string());
                *rt.relay.lock() = None;
                rt.wait(gen, Duration::from_millis(200));
            }
        }
    }
    if let Some(core) = rt.relay.lock().take() {
        let _ = core.idem.close();
        let _ = core.txn.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::StreamSpec;
    use crate::table::{FamilyDescriptor, Put, TableDescriptor};

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
        // One change spread over two topics' worth of partitions is not possible here; use a
        // multi-row batch so the replay also covers a transaction.
        let muts: Vec<crate::table::Mutation> = (0..3).map(|i| Put::new(format!("b{i}")).add("g", "v", "x").into()).collect();
        t.batch(muts).unwrap();
        let shared = Arc::clone(&engine.inner.streams.shared);
        let rt = shared.streams.read().get("s").cloned().unwrap();
        let saved: Vec<(Vec<u8>, Vec<u8>)> = shared.outbox.prefix(outbox::prefix(rt.id)).map(|kv| kv.into_inner().map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
        assert_eq!(saved.len(), 23);
        while relay_step(&shared, &rt, &engine, u64::MAX).unwrap() > 0 {}
        let leo = |e: &Engine| -> Vec<i64> { e.describe_topic("default.t").unwrap().partitions.iter().map(|p| p.log_end_offset).collect() };
        let before = leo(&engine);
        // Lose the deletion, with the checkpoint written in the same batch (there was none
        // before), and the relay's memory, as a crash would.
        for (k, v) in &saved {
            shared.outbox.insert(k.clone(), v.clone()).unwrap();
        }
        assert!(shared.meta.get(relay_key(rt.id)).unwrap().is_some());
        shared.meta.remove(relay_key(rt.id)).unwrap();
        *rt.relay.lock() = None;
        while relay_step(&shared, &rt, &engine, u64::MAX).unwrap() > 0 {}
        assert_eq!(leo(&engine), before, "the replay appended records again");
        assert_eq!(shared.outbox.prefix(outbox::prefix(rt.id)).count(), 0);
        // New changes after the replay still flow.
        t.put(Put::new("late").add("cf", "v", "y")).unwrap();
        while relay_step(&shared, &rt, &engine, u64::MAX).unwrap() > 0 {}
        let after: i64 = leo(&engine).iter().sum();
        assert_eq!(after, before.iter().sum::<i64>() + 1);
        engine.close().unwrap();
    }
}
