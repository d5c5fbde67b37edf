//! Log compaction (`cleanup.policy=compact`), as Kafka's cleaner does it, simplified to one
//! pass over every inactive segment:
//!
//! 1. Build an offset map `key → latest offset` over the inactive segments (the active segment
//!    is never cleaned, as in Kafka). Records of aborted transactions (found through the
//!    segments' aborted-transaction indexes) do not enter the map: they never supersede a
//!    committed record.
//! 2. Rewrite each inactive segment into `<base>.log.cleaned`, keeping a record only if it is
//!    the latest for its key; a tombstone (null value) is kept until its segment's largest
//!    timestamp is older than `delete.retention.ms`. Batches keep their base offset, last
//!    offset delta, producer id/epoch/sequence and attributes; a batch of an idempotent
//!    producer whose records all go stays as an empty batch so producer state can be rebuilt.
//!    Transactional and control batches are kept whole.
//! 3. fsync, rename `.cleaned` → `.swap`, then under the partition lock: drop the segment's
//!    offset and time indexes, rename `.swap` → `.log` (atomic), rebuild the indexes, and put
//!    the cleaned segment in place. Open deletes stray `.cleaned`/`.swap` files, so a crash at
//!    any step leaves either the old or the new segment.
//!
//! Appends are never blocked by step 1-2: only the inactive segments are read, without the
//! partition lock; step 3 holds the lock for the rename and index rebuild of one segment.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::batch::{self, BatchSpec, RecordInput};
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

impl PartitionLog {
    /// Compact the inactive segments (no-op unless `cleanup.policy` contains `compact`).
    pub(crate) fn compact(&self, now: i64) -> Result<CleanStats> {
        let config = self.config();
        let mut stats = CleanStats::default();
        if !config.cleanup_compact {
            return Ok(stats);
        }
        let _one_cleaner = self.clean_lock.lock();
        // Inactive segments: (base, file, size, max timestamp).
        // Aborted transactions of the whole log (a marker may sit in a later segment).
        let (inactive, aborted): (Vec<(i64, Arc<std::fs::File>, u64, i64)>, Vec<AbortedTxn>) = {
            let st = self.state.lock();
            let n = st.segments.len();
            let inactive = st.segments.values().take(n.saturating_sub(1)).map(|s| (s.base_offset, s.log_file(), s.size(), s.max_timestamp())).collect();
            (inactive, st.segments.values().flat_map(|s| s.aborted().iter().copied()).collect())
        };
        let is_aborted = |h: &batch::BatchHeader| {
            h.is_transactional() && aborted.iter().any(|t| t.producer_id == h.producer_id && t.first_offset <= h.base_offset && h.last_offset() <= t.last_offset)
        };
        if inactive.is_empty() {
            return Ok(stats);
        }
        // 1. offset map
        let mut latest: HashMap<Vec<u8>, i64> = HashMap::new();
        for (_, f, size, _) in &inactive {
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
        for (base, f, size, max_ts) in inactive {
            let drop_tombstones = max_ts >= 0 && now.saturating_sub(max_ts) > config.delete_retention_ms;
            let buf = read_all(&f, size)?;
            let mut out = Vec::with_capacity(buf.len());
            let mut removed = 0u64;
            for b in batch::batches(&buf) {
                let (h, bytes) = b?;
                if h.is_control() || h.is_transactional() {
                    out.extend_from_slice(bytes);
                    continue;
                }
                let (_, recs) = batch::decode_records(bytes)?;
                let total = recs.len();
                let kept: Vec<RecordInput> = recs
                    .into_iter()
                    .filter(|r| {
                        let newest = r.key.as_ref().is_none_or(|k| latest.get(k).is_none_or(|&o| o == r.offset));
                        let tombstone_gone = r.value.is_none() && drop_tombstones;
                        newest && !tombstone_gone
                    })
                    .map(|r| RecordInput { offset_delta: (r.offset - h.base_offset) as i32, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers })
                    .collect();
                removed += (total - kept.len()) as u64;
                if kept.len() == total {
                    out.extend_from_slice(bytes);
                    continue;
                }
                if kept.is_empty() && !h.has_producer_id() {
                    continue;
                }
                let spec = BatchSpec {
                    base_offset: h.base_offset,
                    partition_leader_epoch: h.partition_leader_epoch,
                    compression: h.compression()?,
                    timestamp_type: h.timestamp_type(),
                    transactional: false,
                    control: false,
                    producer_id: h.producer_id,
                    producer_epoch: h.producer_epoch,
                    base_sequence: h.base_sequence,
                    last_offset_delta: Some(h.last_offset_delta),
                    max_timestamp: Some(h.max_timestamp),
                    base_timestamp: Some(h.base_timestamp),
                    delete_horizon: false,
                };
                out.extend_from_slice(&batch::encode_batch(&spec, &kept)?);
            }
            if removed == 0 {
                continue;
            }
            let cleaned = self.dir.join(format!("{}.cleaned", file_name(base, ".log")));
            let swap = self.dir.join(format!("{}.swap", file_name(base, ".log")));
            {
                let fh = std::fs::File::create(&cleaned).map_err(|e| Error::io(format_args!("create {}", cleaned.display()), e))?;
                fh.write_all_at(&out, 0).map_err(|e| Error::io("write cleaned segment", e))?;
                fh.sync_all().map_err(|e| Error::io("sync cleaned segment", e))?;
            }
            std::fs::rename(&cleaned, &swap).map_err(|e| Error::io("rename cleaned to swap", e))?;
            let mut st = self.state.lock();
            let still_there = st.segments.get(&base).is_some_and(|s| s.size() == size) && st.segments.keys().next_back() != Some(&base);
            if !still_there {
                let _ = std::fs::remove_file(&swap);
                continue;
            }
            let interval = config.index_interval_bytes;
            let old = st.segments.remove(&base).ok_or_else(|| Error::internal("segment vanished during cleaning"))?;
            let aborted: Vec<_> = old.aborted().to_vec();
            drop(old);
            for s in [".index", ".timeindex"] {
                let _ = std::fs::remove_file(self.dir.join(file_name(base, s)));
            }
            std::fs::rename(&swap, self.dir.join(file_name(base, ".log"))).map_err(|e| Error::io("rename swap to log", e))?;
            crate::util::sync_dir(&self.dir)?;
            let mut seg = Segment::open(&self.dir, base, false)?;
            seg.recover(interval, |_, _| Ok(None))?;
            for t in aborted {
                seg.append_aborted(t)?;
            }
            seg.on_become_inactive()?;
            seg.flush()?;
            st.segments.insert(base, seg);
            stats.segments += 1;
            stats.records_removed += removed;
            stats.bytes_before += size;
            stats.bytes_after += out.len() as u64;
        }
        Ok(stats)
    }
}

impl crate::Engine {
    /// Compact every partition of a topic whose `cleanup.policy` contains `compact` now (the
    /// background thread does this every retention check interval).
    pub fn compact_topic(&self, topic: &str) -> Result<CleanStats> {
        let t = self.topics()?.topic(topic)?;
        let now = crate::util::now_ms();
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
    use std::time::Duration;

    use crate::log::*;
    use crate::Engine;

    #[test]
    fn compaction_keeps_latest_per_key_and_drops_old_tombstones() {
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
        // k3 deleted long ago (old timestamp), k2 deleted just now
        p.send(ProducerRecord::tombstone("cmp", "k3").timestamp(old)).unwrap().get().unwrap();
        for i in 0..10 {
            p.send(ProducerRecord::new("cmp", format!("old{i}")).key("old-pad").timestamp(old)).unwrap().get().unwrap();
        }
        p.send(ProducerRecord::tombstone("cmp", "k2")).unwrap().get().unwrap();
        // keyless records are refused on a compacted topic
        assert_eq!(p.send(ProducerRecord::new("cmp", "nokey")).unwrap().get().unwrap_err().code(), ErrorCode::InvalidArgument);
        for i in 0..10 {
            p.send(ProducerRecord::new("cmp", format!("pad{i}")).key("pad")).unwrap().get().unwrap();
        }
        let before = e.describe_topic("cmp").unwrap().partitions[0].clone();
        let stats = e.compact_topic("cmp").unwrap();
        assert!(stats.segments > 0 && stats.records_removed > 0, "{stats:?}");
        let after = e.describe_topic("cmp").unwrap().partitions[0].clone();
        assert_eq!(after.log_end_offset, before.log_end_offset, "offsets never change");
        let tp = TopicPartition::new("cmp", 0);
        let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
        c.assign(&[tp]).unwrap();
        let mut got = Vec::new();
        loop {
            let r = c.poll(Duration::from_millis(20)).unwrap();
            if r.is_empty() {
                break;
            }
            got.extend(r);
        }
        let latest = |k: &str| got.iter().filter(|r| r.key.as_deref() == Some(k.as_bytes())).collect::<Vec<_>>();
        assert_eq!(latest("k0").len(), 1);
        assert_eq!(latest("k0")[0].value.as_deref(), Some(&b"v4"[..]));
        assert_eq!(latest("k1").len(), 1);
        let k2 = latest("k2");
        assert_eq!(k2.len(), 1, "a fresh tombstone stays");
        assert!(k2[0].value.is_none());
        assert!(latest("k3").is_empty(), "an old tombstone goes");
        assert!(got.windows(2).all(|w| w[0].offset < w[1].offset));
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
}
