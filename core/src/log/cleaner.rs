//! Log compaction (`cleanup.policy=compact`), as Kafka's cleaner does it, simplified to one
//! pass over every cleanable segment:
//!
//! 0. Cleanable = inactive (the active segment is never cleaned) and wholly below the last
//!    stable offset, so an open transaction is never touched.
//! 1. Build an offset map `key → latest offset` over the cleanable segments. Records of
//!    aborted transactions (found through the segments' aborted-transaction indexes) do not
//!    enter the map: they never supersede a committed record.
//! 2. Rewrite each cleanable segment, keeping a record only if it is the latest for its key
//!    and not part of an aborted transaction. Tombstones and transaction markers follow
//!    KIP-534's per-batch delete horizon: the first pass that keeps a tombstone (or finds a
//!    marker whose transaction holds no more records) rewrites its batch with
//!    `baseTimestamp = now + delete.retention.ms` and the hasDeleteHorizonMs attribute bit
//!    (bit 6; record timestamps are kept, their deltas re-based); a later pass after that
//!    horizon drops the tombstones and such markers. Batches keep their base offset, last
//!    offset delta, producer id/epoch/sequence and attributes; a batch of an idempotent or
//!    transactional producer whose records all go stays as an empty batch so producer state
//!    can be rebuilt.
//! 3. Swap (`PartitionLog::swap_in`): write and fsync `<base>.log.cleaned`, rename it to
//!    `.swap`, then under the partition lock drop the segment's offset and time indexes,
//!    rename `.swap` → `.log` (atomic: the commit point), fsync the directory, rebuild the
//!    indexes. Open deletes stray `.cleaned`/`.swap` files, so a crash at any step leaves
//!    either the old or the new segment, whole; `failpoint` tests crash after every step.
//!
//! Appends are never blocked by steps 0-2: only cleanable segments are read, without the
//! partition lock; step 3 holds the lock for the rename and index rebuild of one segment.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::batch::{self, BatchSpec, ControlType, RecordInput};
use super::index::AbortedTxn;
use super::partition::PartitionLog;
use super::segment::{file_name, Segment};
use crate::error::{Error, Result};

/// What one compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Segments rewritten.
    pub segments: usize,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes before and after.
    pub bytes_before: u64,
    /// Bytes after cleaning.
    pub bytes_after: u64,
}

fn read_all(file: &std::fs::File, size: u64) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; size as usize];
    file.read_exact_at(&mut buf, 0).map_err(|e| Error::io("read segment for cleaning", e))?;
    Ok(buf)
}

/// Steps of the segment swap, for crash-injection tests: the cleaner returns an error right
/// after the named step, leaving the files as a crash there would.
#[cfg(test)]
pub(crate) mod failpoint {
    use std::cell::Cell;

    /// The steps, in order.
    pub(crate) const STEPS: &[&str] = &["cleaned-written", "cleaned-synced", "swap-renamed", "indexes-removed", "log-renamed", "dir-synced", "indexes-rebuilt"];

    thread_local! {
        static ARMED: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Fail the next cleaning on this thread after `step`.
    pub(crate) fn arm(step: &'static str) {
        ARMED.with(|a| a.set(Some(step)));
    }

    pub(crate) fn hit(step: &'static str) -> crate::Result<()> {
        if ARMED.with(|a| a.get()) == Some(step) {
            ARMED.with(|a| a.set(None));
            return Err(crate::Error::internal(format!("injected crash after {step}")));
        }
        Ok(())
    }
}

#[cfg(test)]
use failpoint::hit as fail_after;

#[cfg(not(test))]
#[inline(always)]
fn fail_after(_step: &'static str) -> Result<()> {
    Ok(())
}

/// Per producer, what this pass saw of its current transaction since its last marker.
#[derive(Default)]
struct TxnSeen {
    /// A batch of the transaction that still holds records was read.
    data: bool,
}

/// A control batch's marker type, from its single record.
fn marker_kind(bytes: &[u8]) -> Result<Option<ControlType>> {
    let (_, recs) = batch::decode_records(bytes)?;
    match recs.first() {
        Some(r) => Ok(Some(batch::parse_control_key(r.key.as_deref().unwrap_or(&[]))?)),
        None => Ok(None),
    }
}

/// Re-encode a control batch unchanged but for the delete horizon (KIP-534).
fn with_horizon(h: &batch::BatchHeader, bytes: &[u8], horizon: i64) -> Result<Vec<u8>> {
    let (_, recs) = batch::decode_records(bytes)?;
    let inputs: Vec<RecordInput> = recs
        .into_iter()
        .map(|r| RecordInput { offset_delta: (r.offset - h.base_offset) as i32, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })
        .collect();
    let spec = BatchSpec {
        base_offset: h.base_offset,
        partition_leader_epoch: h.partition_leader_epoch,
        compression: h.compression()?,
        timestamp_type: h.timestamp_type(),
        transactional: h.is_transactional(),
        control: h.is_control(),
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        last_offset_delta: Some(h.last_offset_delta),
        max_timestamp: Some(h.max_timestamp),
        base_timestamp: Some(horizon),
        delete_horizon: true,
    };
    batch::encode_batch(&spec, &inputs)
}

impl PartitionLog {
    /// Compact the inactive segments (no-op unless `cleanup.policy` contains `compact`).
    pub(crate) fn compact(&self, now: i64) -> Result<CleanStats> {
        let config = self.config();
        let mut stats = CleanStats::default();
        if !config.cleanup_compact {
            return Ok(stats);
        }
        let _one_cleaner = self.clean_lock.lock();
        // Cleanable segments: inactive and wholly below the last stable offset, so no open
        // transaction is ever cleaned. Aborted transactions of the whole log (a marker may sit
        // in a later segment).
        let (_, _, _, lso) = self.offsets();
        let (inactive, aborted): (Vec<(i64, Arc<std::fs::File>, u64)>, Vec<AbortedTxn>) = {
            let st = self.state.lock();
            let n = st.segments.len();
            let inactive = st
                .segments
                .values()
                .take(n.saturating_sub(1))
                .take_while(|s| s.next_offset() <= lso)
                .map(|s| (s.base_offset, s.log_file(), s.size()))
                .collect();
            (inactive, st.segments.values().flat_map(|s| s.aborted().iter().copied()).collect())
        };
        if inactive.is_empty() {
            return Ok(stats);
        }
        let is_aborted = |h: &batch::BatchHeader| {
            h.is_transactional() && aborted.iter().any(|t| t.producer_id == h.producer_id && t.first_offset <= h.base_offset && h.last_offset() <= t.last_offset)
        };
        // 1. offset map
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        for (_, f, size) in &inactive {
            let buf = read_all(f, *size)?;
            for b in batch::batches(&buf) {
                let (h, bytes) = b?;
                // An aborted record never supersedes anything (Kafka's cleaner skips aborted
                // transactions when it builds the offset map).
                if h.is_control() || is_aborted(&h) {
                    continue;
                }
                let (_, recs) = batch::decode_records(bytes)?;
                for r in recs {
                    if let Some(k) = r.key {
                        latest.insert(k, r.offset);
                    }
                }
            }
        }
        // 2 + 3. rewrite and swap each segment
        let new_horizon = now.saturating_add(config.delete_retention_ms);
        let mut txns: HashMap<i64, TxnSeen> = HashMap::new();
        for (base, f, size) in inactive {
            let buf = read_all(&f, size)?;
            let mut out = Vec::with_capacity(buf.len());
            let mut removed = 0u64;
            let mut changed = false;
            for b in batch::batches(&buf) {
                let (h, bytes) = b?;
                let horizon_passed = h.has_delete_horizon() && h.base_timestamp <= now;
                if h.is_control() {
                    // A marker goes once no batch of its transaction holds records any more
                    // and its delete horizon, set when that was first seen, has passed.
                    let seen = txns.remove(&h.producer_id).unwrap_or_default();
                    let removable = match marker_kind(bytes)? {
                        Some(ControlType::Abort) | Some(ControlType::Commit) => !seen.data,
                        None => true,
                    };
                    if removable && horizon_passed {
                        removed += h.records_count.max(0) as u64;
                        changed = true;
                    } else if removable && !h.has_delete_horizon() {
                        out.extend_from_slice(&with_horizon(&h, bytes, new_horizon)?);
                        changed = true;
                    } else {
                        out.extend_from_slice(bytes);
                    }
                    continue;
                }
                let aborted_batch = is_aborted(&h);
                let (_, recs) = batch::decode_records(bytes)?;
                let total = recs.len();
                let mut tombstones = false;
                let kept: Vec<RecordInput> = recs
                    .into_iter()
                    .filter(|r| {
                        if aborted_batch {
                            return false;
                        }
                        let newest = r.key.as_ref().is_none_or(|k| latest.get(k).is_none_or(|&o| o == r.offset));
                        let tombstone_gone = r.value.is_none() && horizon_passed;
                        newest && !tombstone_gone
                    })
                    .inspect(|r| tombstones |= r.value.is_none())
                    .map(|r| RecordInput { offset_delta: (r.offset - h.base_offset) as i32, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })
                    .collect();
                if h.is_transactional() && !aborted_batch && !kept.is_empty() {
                    txns.entry(h.producer_id).or_default().data = true;
                }
                // Tombstones seen for the first time get the batch's delete horizon.
                let set_horizon = tombstones && !h.has_delete_horizon();
                removed += (total - kept.len()) as u64;
                if kept.len() == total && !set_horizon {
                    out.extend_from_slice(bytes);
                    continue;
                }
                changed = true;
                if kept.is_empty() && !h.has_producer_id() {
                    continue;
                }
                let (delete_horizon, base_timestamp) = match (h.has_delete_horizon(), set_horizon) {
                    (true, _) => (true, h.base_timestamp),
                    (false, true) => (true, new_horizon),
                    (false, false) => (false, h.base_timestamp),
                };
                let spec = BatchSpec {
                    base_offset: h.base_offset,
                    partition_leader_epoch: h.partition_leader_epoch,
                    compression: h.compression()?,
                    timestamp_type: h.timestamp_type(),
                    transactional: h.is_transactional(),
                    control: false,
                    producer_id: h.producer_id,
                    producer_epoch: h.producer_epoch,
                    base_sequence: h.base_sequence,
                    last_offset_delta: Some(h.last_offset_delta),
                    max_timestamp: Some(h.max_timestamp),
                    base_timestamp: Some(base_timestamp),
                    delete_horizon,
                };
                out.extend_from_slice(&batch::encode_batch(&spec, &kept)?);
            }
            if !changed {
                continue;
            }
            if self.swap_in(base, size, &out, config.index_interval_bytes)? {
                stats.segments += 1;
                stats.records_removed += removed;
                stats.bytes_before += size;
                stats.bytes_after += out.len() as u64;
            }
        }
        Ok(stats)
    }

    /// Replace segment `base` (still `size` bytes) by `out`: write and fsync
    /// `<base>.log.cleaned`, rename it to `.swap`, then under the partition lock drop the
    /// offset and time indexes, rename `.swap` over `.log` (the commit point), fsync the
    /// directory and rebuild the indexes. A crash before the rename leaves the old `.log`
    /// whole (open deletes the `.cleaned`/`.swap` leftovers); after it, the new one, complete
    /// and fsynced, whose missing indexes open rebuilds. Returns false when the segment changed
    /// meanwhile (nothing is swapped).
    fn swap_in(&self, base: i64, size: u64, out: &[u8], interval: u64) -> Result<bool> {
        let cleaned = self.dir.join(format!("{}.cleaned", file_name(base, ".log")));
        let swap = self.dir.join(format!("{}.swap", file_name(base, ".log")));
        {
            let fh = std::fs::File::create(&cleaned).map_err(|e| Error::io(format_args!("create {}", cleaned.display()), e))?;
            fh.write_all_at(out, 0).map_err(|e| Error::io("write cleaned segment", e))?;
            fail_after("cleaned-written")?;
            fh.sync_all().map_err(|e| Error::io("sync cleaned segment", e))?;
        }
        fail_after("cleaned-synced")?;
        std::fs::rename(&cleaned, &swap).map_err(|e| Error::io("rename cleaned to swap", e))?;
        fail_after("swap-renamed")?;
        let mut st = self.state.lock();
        let still_there = st.segments.get(&base).is_some_and(|s| s.size() == size) && st.segments.keys().next_back() != Some(&base);
        if !still_there {
            let _ = std::fs::remove_file(&swap);
            return Ok(false);
        }
        let old = st.segments.remove(&base).ok_or_else(|| Error::internal("segment vanished during cleaning"))?;
        let aborted: Vec<_> = old.aborted().to_vec();
        drop(old);
        let reopen = |aborted: &[AbortedTxn]| -> Result<Segment> {
            let mut seg = Segment::open(&self.dir, base, false)?;
            seg.recover(interval, |_, _| Ok(None))?;
            for t in aborted {
                seg.append_aborted(*t)?;
            }
            seg.on_become_inactive()?;
            seg.flush()?;
            Ok(seg)
        };
        let swapped = (|| -> Result<Segment> {
            for s in [".index", ".timeindex"] {
                let _ = std::fs::remove_file(self.dir.join(file_name(base, s)));
            }
            fail_after("indexes-removed")?;
            std::fs::rename(&swap, self.dir.join(file_name(base, ".log"))).map_err(|e| Error::io("rename swap to log", e))?;
            fail_after("log-renamed")?;
            crate::util::sync_dir(&self.dir)?;
            fail_after("dir-synced")?;
            let seg = reopen(&aborted)?;
            fail_after("indexes-rebuilt")?;
            Ok(seg)
        })();
        match swapped {
            Ok(seg) => {
                st.segments.insert(base, seg);
                Ok(true)
            }
            Err(e) => {
                // Keep serving whichever whole .log is on disk (old or new), as a restart would.
                let _ = std::fs::remove_file(&swap);
                if let Ok(seg) = reopen(&aborted) {
                    st.segments.insert(base, seg);
                }
                Err(e)
            }
        }
    }
}

impl crate::Engine {
    /// Compact every partition of a topic whose `cleanup.policy` contains `compact` now (the
    /// background thread does this every retention check interval).
    pub fn compact_topic(&self, topic: &str) -> Result<CleanStats> {
        self.compact_topic_at(topic, crate::util::now_ms())
    }

    /// [`crate::Engine::compact_topic`] as if the clock read `now` (tests of delete horizons).
    pub(crate) fn compact_topic_at(&self, topic: &str, now: i64) -> Result<CleanStats> {
        let t = self.topics()?.topic(topic)?;
        let mut total = CleanStats::default();
        for p in t.partitions.read().clone() {
            let s = p.compact(now)?;
            total.segments += s.segments;
            total.records_removed += s.records_removed;
            total.bytes_before += s.bytes_before;
            total.bytes_after += s.bytes_after;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::log::batch::{self, BatchHeader};
    use crate::log::partition::{DataSignal, PartitionLog};
    use crate::log::*;
    use crate::Engine;

    /// Every record of a partition as (offset, key, value), read raw (control records left out).
    fn records_of(p: &PartitionLog) -> Vec<(i64, Option<Vec<u8>>, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        let (start, end, _, _) = p.offsets();
        let mut at = start;
        while at < end {
            let data = p.read(at, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
            if data.bytes.is_empty() {
                break;
            }
            for b in batch::batches(&data.bytes) {
                let (h, bytes) = b.unwrap();
                at = h.next_offset();
                if h.is_control() {
                    continue;
                }
                for r in batch::decode_records(bytes).unwrap().1 {
                    out.push((r.offset, r.key, r.value));
                }
            }
        }
        out
    }

    /// Every batch header of a partition.
    fn headers_of(p: &PartitionLog) -> Vec<BatchHeader> {
        let data = p.read(p.log_start_offset(), 1 << 24, IsolationLevel::ReadUncommitted).unwrap();
        batch::batches(&data.bytes).map(|b| b.unwrap().0).collect()
    }

    fn part(e: &Engine, t: &str) -> Arc<PartitionLog> {
        e.topics().unwrap().partition(&TopicPartition::new(t, 0)).unwrap()
    }

    fn consume_all(e: &Engine, t: &str) -> Vec<ConsumerRecord> {
        let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
        c.assign(&[TopicPartition::new(t, 0)]).unwrap();
        let mut got = Vec::new();
        loop {
            let r = c.poll(Duration::from_millis(20)).unwrap();
            if r.is_empty() {
                break;
            }
            got.extend(r);
        }
        got
    }

    #[test]
    fn compaction_keeps_latest_per_key_and_drops_tombstones_after_their_horizon() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open(d.path()).unwrap();
        e.create_topic(NewTopic::new("cmp", 1).config("cleanup.policy", "compact").config("segment.bytes", "600").config("delete.retention.ms", "60000")).unwrap();
        let p = e.producer(ProducerConfig::default().set("linger.ms", "0").unwrap()).unwrap();
        let old = crate::util::now_ms() - 3_600_000;
        for round in 0..5 {
            for k in 0..4 {
                p.send(ProducerRecord::new("cmp", format!("v{round}")).key(format!("k{k}")).timestamp(old)).unwrap().get().unwrap();
            }
        }
        p.send(ProducerRecord::tombstone("cmp", "k3").timestamp(old)).unwrap().get().unwrap();
        for i in 0..10 {
            p.send(ProducerRecord::new("cmp", format!("old{i}")).key("old-pad").timestamp(old)).unwrap().get().unwrap();
        }
        // keyless records are refused on a compacted topic
        assert_eq!(p.send(ProducerRecord::new("cmp", "nokey")).unwrap().get().unwrap_err().code(), ErrorCode::InvalidArgument);
        for i in 0..10 {
            p.send(ProducerRecord::new("cmp", format!("pad{i}")).key("pad")).unwrap().get().unwrap();
        }
        let before = e.describe_topic("cmp").unwrap().partitions[0].clone();
        let now = crate::util::now_ms();
        let stats = e.compact_topic_at("cmp", now).unwrap();
        assert!(stats.segments > 0 && stats.records_removed > 0, "{stats:?}");
        let after = e.describe_topic("cmp").unwrap().partitions[0].clone();
        assert_eq!(after.log_end_offset, before.log_end_offset, "offsets never change");
        let got = consume_all(&e, "cmp");
        let latest = |got: &[ConsumerRecord], k: &str| got.iter().filter(|r| r.key.as_deref() == Some(k.as_bytes())).cloned().collect::<Vec<_>>();
        assert_eq!(latest(&got, "k0").len(), 1);
        assert_eq!(latest(&got, "k0")[0].value.as_deref(), Some(&b"v4"[..]));
        assert_eq!(latest(&got, "k0")[0].timestamp, old, "record timestamps survive re-encoding");
        assert_eq!(latest(&got, "k1").len(), 1);
        // KIP-534: an old tombstone is not dropped on first sight; its batch gets a horizon.
        let k3 = latest(&got, "k3");
        assert_eq!(k3.len(), 1, "tombstone kept until its delete horizon");
        assert!(k3[0].value.is_none());
        assert_eq!(k3[0].timestamp, old);
        let hs = headers_of(&part(&e, "cmp"));
        let h = hs.iter().find(|h| h.base_offset <= k3[0].offset && k3[0].offset <= h.last_offset()).unwrap();
        assert!(h.has_delete_horizon());
        assert_eq!(h.base_timestamp, now + 60_000, "horizon = first cleaning + delete.retention.ms");
        assert!(got.windows(2).all(|w| w[0].offset < w[1].offset));
        // A pass before the horizon keeps it (and the horizon); one after drops it.
        e.compact_topic_at("cmp", now + 59_000).unwrap();
        assert_eq!(latest(&consume_all(&e, "cmp"), "k3").len(), 1);
        let stats = e.compact_topic_at("cmp", now + 60_001).unwrap();
        assert!(stats.records_removed >= 1, "{stats:?}");
        let got = consume_all(&e, "cmp");
        assert!(latest(&got, "k3").is_empty(), "a tombstone past its horizon goes");
        assert_eq!(latest(&got, "k0")[0].value.as_deref(), Some(&b"v4"[..]));
        // the cleaned segments survive a restart and still parse
        e.close().unwrap();
        drop(e);
        for f in std::fs::read_dir(d.path().join("log/cmp-0")).unwrap().flatten() {
            let n = f.file_name().to_string_lossy().to_string();
            assert!(!n.ends_with(".swap") && !n.ends_with(".cleaned"), "{n}");
        }
        let e = Engine::open(d.path()).unwrap();
        assert_eq!(e.describe_topic("cmp").unwrap().partitions[0].log_end_offset, before.log_end_offset);
        e.close().unwrap();
    }

    #[test]
    fn aborted_data_goes_and_markers_go_after_their_horizon() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("tx", 1).config("cleanup.policy", "compact").config("delete.retention.ms", "1000")).unwrap();
        let t = e.producer(ProducerConfig::default().set("transactional.id", "t").unwrap()).unwrap();
        t.init_transactions().unwrap();
        t.begin_transaction().unwrap();
        t.send(ProducerRecord::new("tx", "aborted-1").key("k1")).unwrap();
        t.send(ProducerRecord::new("tx", "aborted-2").key("k2")).unwrap();
        t.abort_transaction().unwrap();
        t.begin_transaction().unwrap();
        t.send(ProducerRecord::new("tx", "committed").key("k3")).unwrap();
        t.commit_transaction().unwrap();
        let p = e.producer(ProducerConfig::default()).unwrap();
        p.send(ProducerRecord::new("tx", "plain").key("k1")).unwrap().get().unwrap();
        p.send(ProducerRecord::new("tx", "newer").key("k3")).unwrap().get().unwrap();
        let tp = TopicPartition::new("tx", 0);
        e.roll_segment(&tp).unwrap();
        let pl = part(&e, "tx");
        let leo = pl.log_end_offset();
        let markers = |pl: &PartitionLog| headers_of(pl).into_iter().filter(BatchHeader::is_control).collect::<Vec<_>>();
        assert_eq!(markers(&pl).len(), 2);
        let now = crate::util::now_ms();
        e.compact_topic_at("tx", now).unwrap();
        let vals: Vec<Option<Vec<u8>>> = records_of(&pl).into_iter().map(|r| r.2).collect();
        assert_eq!(vals, [Some(b"plain".to_vec()), Some(b"newer".to_vec())], "aborted and superseded records go");
        // Both markers now guard empty transactions: kept, with a horizon.
        let m = markers(&pl);
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|h| h.has_delete_horizon() && h.base_timestamp == now + 1000), "{m:?}");
        e.compact_topic_at("tx", now + 500).unwrap();
        assert_eq!(markers(&pl).len(), 2);
        e.compact_topic_at("tx", now + 1001).unwrap();
        assert!(markers(&pl).is_empty(), "markers past their horizon go");
        assert_eq!(pl.log_end_offset(), leo);
        // read_committed still reads the survivors.
        let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap().set("isolation.level", "read_committed").unwrap()).unwrap();
        c.assign(&[tp]).unwrap();
        let got = c.poll(Duration::from_millis(200)).unwrap();
        assert_eq!(got.iter().map(|r| r.value.clone().unwrap()).collect::<Vec<_>>(), [b"plain".to_vec(), b"newer".to_vec()]);
        e.close().unwrap();
    }

    #[test]
    fn segments_above_the_last_stable_offset_are_not_cleaned() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("open", 1).config("cleanup.policy", "compact")).unwrap();
        let p = e.producer(ProducerConfig::default()).unwrap();
        for i in 0..5 {
            p.send(ProducerRecord::new("open", format!("v{i}")).key("k")).unwrap().get().unwrap();
        }
        let t = e.producer(ProducerConfig::default().set("transactional.id", "t").unwrap()).unwrap();
        t.init_transactions().unwrap();
        t.begin_transaction().unwrap();
        t.send(ProducerRecord::new("open", "in-txn").key("other")).unwrap();
        t.flush().unwrap();
        let tp = TopicPartition::new("open", 0);
        e.roll_segment(&tp).unwrap();
        let stats = e.compact_topic("open").unwrap();
        assert_eq!(stats.segments, 0, "the segment holds an open transaction: {stats:?}");
        assert_eq!(records_of(&part(&e, "open")).len(), 6);
        t.commit_transaction().unwrap();
        e.roll_segment(&tp).unwrap();
        let stats = e.compact_topic("open").unwrap();
        assert!(stats.segments >= 1 && stats.records_removed == 4, "{stats:?}");
        e.close().unwrap();
    }

    /// One scenario on a compacted topic: duplicates, tombstones, an aborted transaction; the
    /// partition directory and its recovery point.
    fn crash_scenario(dir: &std::path::Path) -> (Engine, std::path::PathBuf, i64) {
        let e = Engine::open(dir).unwrap();
        e.create_topic(NewTopic::new("c", 1).config("cleanup.policy", "compact").config("segment.bytes", "2000").config("delete.retention.ms", "0")).unwrap();
        let p = e.producer(ProducerConfig::default().set("linger.ms", "0").unwrap()).unwrap();
        for i in 0..60 {
            let r = if i % 11 == 10 { ProducerRecord::tombstone("c", format!("k{}", i % 7)) } else { ProducerRecord::new("c", format!("v{i}")).key(format!("k{}", i % 7)) };
            p.send(r.timestamp(1_000 + i)).unwrap().get().unwrap();
        }
        let t = e.producer(ProducerConfig::default().set("transactional.id", "t").unwrap()).unwrap();
        t.init_transactions().unwrap();
        t.begin_transaction().unwrap();
        t.send(ProducerRecord::new("c", "aborted").key("k1")).unwrap();
        t.abort_transaction().unwrap();
        e.roll_segment(&TopicPartition::new("c", 0)).unwrap();
        e.flush_topics().unwrap();
        let pl = part(&e, "c");
        (e, pl.dir.clone(), pl.recovery_point())
    }

    /// Open a copy of a partition directory as after a crash (no clean shutdown).
    fn recover_copy(src: &std::path::Path, recovery_point: i64) -> (tempfile::TempDir, PartitionLog) {
        let d = tempfile::tempdir().unwrap();
        let dst = d.path().join("c-0");
        std::fs::create_dir(&dst).unwrap();
        for f in std::fs::read_dir(src).unwrap().flatten() {
            std::fs::copy(f.path(), dst.join(f.file_name())).unwrap();
        }
        let cfg = Arc::new(TopicConfig::from_overrides(&[("cleanup.policy".to_string(), "compact".to_string())].into_iter().collect()).unwrap());
        let p = PartitionLog::open(dst, "c", 0, "id", cfg, false, recovery_point, 0, Arc::new(DataSignal::default())).unwrap();
        (d, p)
    }

    #[test]
    fn a_crash_at_every_step_of_the_swap_keeps_every_record() {
        // The outcome without a crash.
        let ok_dir = tempfile::tempdir().unwrap();
        let (e, pdir, rp) = crash_scenario(ok_dir.path());
        let original = records_of(&part(&e, "c"));
        let stats = e.compact_topic("c").unwrap();
        assert!(stats.segments >= 2, "{stats:?}");
        let cleaned = records_of(&part(&e, "c"));
        assert!(cleaned.len() < original.len());
        let (_keep, p) = recover_copy(&pdir, rp);
        assert_eq!(records_of(&p), cleaned);
        e.close().unwrap();

        for step in super::failpoint::STEPS {
            let d = tempfile::tempdir().unwrap();
            let (e, pdir, rp) = crash_scenario(d.path());
            assert_eq!(records_of(&part(&e, "c")), original);
            super::failpoint::arm(step);
            let err = e.compact_topic("c").unwrap_err();
            assert!(err.to_string().contains(step), "{step}: {err}");
            // The live partition keeps serving every record after the failed swap.
            let live = records_of(&part(&e, "c"));
            assert!(cleaned.iter().all(|r| live.contains(r)), "{step}: the live partition lost a kept record");
            assert!(live.iter().all(|r| original.contains(r)), "{step}: the live partition serves a record never written");
            // The files as the crash left them, recovered.
            let (_keep, p) = recover_copy(&pdir, rp);
            let got = records_of(&p);
            // The first segment is either old or cleaned: every record is the original's, in
            // order, and every record the cleaner keeps is there.
            let orig_set: std::collections::BTreeSet<_> = original.iter().cloned().collect();
            assert!(got.iter().all(|r| orig_set.contains(r)), "{step}: a record that was never written");
            assert!(cleaned.iter().all(|r| got.contains(r)), "{step}: a kept record was lost");
            assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "{step}");
            // Indexes work after recovery: a read from any record's offset starts there.
            for (off, _, _) in &got {
                let data = p.read(*off, 1, IsolationLevel::ReadUncommitted).unwrap();
                let (h, _) = batch::batches(&data.bytes).next().unwrap().unwrap();
                assert!(h.base_offset <= *off && *off <= h.last_offset(), "{step}: read at {off}");
            }
            for f in std::fs::read_dir(p.dir.clone()).unwrap().flatten() {
                let n = f.file_name().to_string_lossy().to_string();
                assert!(!n.ends_with(".swap") && !n.ends_with(".cleaned"), "{step}: {n} left behind");
            }
            assert_eq!(p.log_end_offset(), part(&e, "c").log_end_offset(), "{step}");
            drop(e);
        }
    }
}
