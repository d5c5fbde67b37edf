//! Committed offsets in the internal compacted topic `__consumer_offsets`, as Kafka keeps them.
//!
//! - The topic has `offsets.topic.num.partitions` partitions ([`crate::EngineOptions::
//!   offsets_topic_num_partitions`], default 50, Kafka's default), `cleanup.policy=compact` and
//!   `segment.bytes=104857600` (Kafka's `offsets.topic.segment.bytes`). As in Kafka it is created
//!   on first use (the first commit), not when the engine opens; an existing topic keeps its
//!   partition count.
//! - A group's records all go to partition `abs(javaHashCode(group_id)) % partitions`
//!   ([`partition_for`]; Kafka's `Utils.abs(groupId.hashCode) % groupMetadataTopicPartitionCount`,
//!   where `Utils.abs(Integer.MIN_VALUE) = 0`).
//! - Record keys and values are the bytes of [`super::offsets`] (OffsetCommitKey version 1,
//!   OffsetCommitValue version 3, GroupMetadataKey version 2), one record batch (magic 2, no
//!   compression, no producer id) per commit, so a commit is atomic. Each append is fsynced
//!   before it is acknowledged.
//! - Transactional offset commits are records in a transactional batch of the producer; they
//!   count only once a COMMIT marker of that producer follows them in the same partition and
//!   are dropped at an ABORT marker (Kafka's `GroupMetadataManager` pending transactional
//!   offsets). See `replay_partition`.
//! - The topic is internal: [`crate::Engine::list_topics`] hides it, and users cannot create,
//!   delete, grow or produce to it ([`crate::ErrorCode::InvalidArgument`]); they may read it.
//!
//! Migration: a data directory written before this module kept offsets in
//! `<data dir>/groups/offsets.log` ([`super::FileOffsetLog`]). At open, its records are copied
//! into the topic in their original order, then the file is renamed to
//! `offsets.log.migrated` (fsynced), so the copy happens once; a crash before the rename copies
//! again, which replays to the same state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};

use super::offsets::{FileOffsetLog, OffsetLog, OffsetLogRecord};
use crate::error::{Error, ErrorCode, Result};
use crate::log::batch::{self, BatchSpec, ControlType, RecordInput};
use crate::log::{IsolationLevel, NewTopic, TopicPartition, TopicsShared};

/// The internal topic's name.
pub const OFFSETS_TOPIC: &str = crate::log::CONSUMER_OFFSETS_TOPIC;

/// Kafka's default `offsets.topic.num.partitions`.
pub const DEFAULT_OFFSETS_TOPIC_PARTITIONS: u32 = 50;

/// Kafka's `offsets.topic.segment.bytes` default.
const OFFSETS_SEGMENT_BYTES: &str = "104857600";

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The `__consumer_offsets` partition of a group: `Utils.abs(groupId.hashCode) % partitions`.
pub fn partition_for(group_id: &str, partitions: u32) -> u32 {
    let h = java_string_hash(group_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    (abs as u32) % partitions.max(1)
}

/// The group id in an offsets-topic record key (every key version starts `version | group`).
pub(crate) fn group_of_key(key: &[u8]) -> Result<String> {
    let bad = || Error::corrupt("offsets record key is too short to hold a group id");
    let len = key.get(2..4).ok_or_else(bad)?;
    let len = i16::from_be_bytes([len[0], len[1]]);
    if len < 0 {
        return Err(Error::corrupt("offsets record key has a null group id"));
    }
    let g = key.get(4..4 + len as usize).ok_or_else(bad)?;
    String::from_utf8(g.to_vec()).map_err(|_| Error::corrupt("offsets record group id is not UTF-8"))
}

/// Encode records as one `__consumer_offsets` batch (producer fields -1 unless `txn` gives a
/// transactional producer's id and epoch).
pub(crate) fn encode_offsets_batch(records: &[OffsetLogRecord], txn: Option<(i64, i16)>, now: i64) -> Result<Vec<u8>> {
    let inputs: Vec<RecordInput> = records
        .iter()
        .enumerate()
        .map(|(i, r)| RecordInput { offset_delta: i as i32, timestamp: now, key: Some(r.key.clone()), value: r.value.clone(), headers: Vec::new() })
        .collect();
    let mut spec = BatchSpec::default();
    if let Some((pid, epoch)) = txn {
        spec.transactional = true;
        spec.producer_id = pid;
        spec.producer_epoch = epoch;
        // No sequence (-1): the coordinator's own writes are not de-duplicated by sequence.
    }
    batch::encode_batch(&spec, &inputs)
}

/// Every record of one offsets partition that counts, in log order: plain records as they
/// come, a transactional producer's records when (and where) its COMMIT marker comes, never
/// those of an aborted or still open transaction.
pub(crate) fn replay_partition(part: &crate::log::partition::PartitionLog) -> Result<Vec<OffsetLogRecord>> {
    let (start, end, _, _) = part.offsets();
    let mut out = Vec::new();
    let mut pending: HashMap<i64, Vec<OffsetLogRecord>> = HashMap::new();
    let mut at = start;
    while at < end {
        let data = part.read(at, 1 << 20, IsolationLevel::ReadUncommitted)?;
        if data.bytes.is_empty() {
            break;
        }
        let before = at;
        for b in batch::batches(&data.bytes) {
            let (h, bytes) = b?;
            at = h.next_offset();
            let (_, recs) = batch::decode_records(bytes)?;
            if h.is_control() {
                let Some(r) = recs.first() else { continue };
                let kind = batch::parse_control_key(r.key.as_deref().unwrap_or(&[]))?;
                let done = pending.remove(&h.producer_id).unwrap_or_default();
                if kind == ControlType::Commit {
                    out.extend(done);
                }
                continue;
            }
            let target = if h.is_transactional() { pending.entry(h.producer_id).or_default() } else { &mut out };
            for r in recs {
                let key = r.key.ok_or_else(|| Error::corrupt(format!("record {} of {}-{} has no key", r.offset, part.topic, part.partition)))?;
                target.push(OffsetLogRecord { key, value: r.value });
            }
        }
        if at <= before {
            return Err(Error::corrupt(format!("reading {}-{} made no progress at offset {before}", part.topic, part.partition)));
        }
    }
    Ok(out)
}

/// The [`OffsetLog`] over the engine's `__consumer_offsets` topic.
pub(crate) struct TopicOffsetLog {
    topics: Weak<TopicsShared>,
    /// Partitions used when the topic is created (an existing topic keeps its own count).
    num_partitions: u32,
}

impl TopicOffsetLog {
    pub(crate) fn new(topics: &Arc<TopicsShared>, num_partitions: u32) -> Result<TopicOffsetLog> {
        if num_partitions == 0 {
            return Err(Error::new(ErrorCode::InvalidConfig, "offsets_topic_num_partitions must be at least 1"));
        }
        Ok(TopicOffsetLog { topics: Arc::downgrade(topics), num_partitions })
    }

    fn shared(&self) -> Result<Arc<TopicsShared>> {
        self.topics.upgrade().ok_or_else(|| Error::closed("engine"))
    }

    /// The topic, created (compacted, internal) when missing.
    fn topic(&self, shared: &TopicsShared) -> Result<Arc<crate::log::Topic>> {
        if let Ok(t) = shared.topic(OFFSETS_TOPIC) {
            return Ok(t);
        }
        let nt = NewTopic::new(OFFSETS_TOPIC, self.num_partitions).config("cleanup.policy", "compact").config("segment.bytes", OFFSETS_SEGMENT_BYTES);
        match shared.create_topic(&nt) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::TopicExists => {}
            Err(e) => return Err(e),
        }
        shared.topic(OFFSETS_TOPIC)
    }

    /// Copy `<groups_dir>/offsets.log` into the topic once (see the module docs).
    pub(crate) fn migrate_file(&mut self, groups_dir: &std::path::Path) -> Result<usize> {
        let path = groups_dir.join("offsets.log");
        if !path.exists() {
            return Ok(0);
        }
        let mut file = FileOffsetLog::open(groups_dir)?;
        let records = file.replay()?;
        drop(file);
        // Many small batches: one per group run, at most 1000 records each.
        for chunk in records.chunks(1000) {
            self.append(chunk)?;
        }
        let done = groups_dir.join("offsets.log.migrated");
        std::fs::rename(&path, &done).map_err(|e| Error::io(format_args!("rename {} after migrating it", path.display()), e))?;
        crate::util::sync_dir(groups_dir)?;
        Ok(records.len())
    }
}

impl OffsetLog for TopicOffsetLog {
    fn append(&mut self, records: &[OffsetLogRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let shared = self.shared()?;
        let t = self.topic(&shared)?;
        let n = t.num_partitions();
        // Group by partition, keeping order within each (a group's records share a partition).
        let mut by_part: BTreeMap<u32, Vec<OffsetLogRecord>> = BTreeMap::new();
        for r in records {
            by_part.entry(partition_for(&group_of_key(&r.key)?, n)).or_default().push(r.clone());
        }
        let now = crate::util::now_ms();
        for (p, recs) in by_part {
            let part = t.partition(p)?;
            let info = part.append(encode_offsets_batch(&recs, None, now)?)?;
            part.flush_to(info.last_offset + 1)?;
        }
        Ok(())
    }

    fn replay(&mut self) -> Result<Vec<OffsetLogRecord>> {
        let shared = self.shared()?;
        let Ok(t) = shared.topic(OFFSETS_TOPIC) else { return Ok(Vec::new()) };
        let parts = t.partitions.read().clone();
        let mut out = Vec::new();
        for part in parts {
            out.extend(replay_partition(&part)?);
        }
        Ok(out)
    }

    fn rewrite(&mut self, _records: &[OffsetLogRecord]) -> Result<()> {
        // The topic is compacted by the log cleaner.
        Ok(())
    }

    fn txn_partition(&mut self, group: &str) -> Result<Option<TopicPartition>> {
        let shared = self.shared()?;
        let t = self.topic(&shared)?;
        Ok(Some(TopicPartition::new(OFFSETS_TOPIC, partition_for(group, t.num_partitions()))))
    }

    fn append_transactional(&mut self, records: &[OffsetLogRecord], producer_id: i64, epoch: i16) -> Result<()> {
        let Some(first) = records.first() else { return Ok(()) };
        let group = group_of_key(&first.key)?;
        for r in records {
            if group_of_key(&r.key)? != group {
                return Err(Error::invalid("one transactional offset commit must name a single group"));
            }
        }
        let shared = self.shared()?;
        let t = self.topic(&shared)?;
        let part = t.partition(partition_for(&group, t.num_partitions()))?;
        let info = part.append(encode_offsets_batch(records, Some((producer_id, epoch)), crate::util::now_ms())?)?;
        part.flush_to(info.last_offset + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_and_partition_match_kafka() {
        // Values of java.lang.String#hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("Hello World"), -862_545_276);
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
        // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Kafka's Utils.abs maps it to 0.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // Non-BMP characters hash as two UTF-16 code units.
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
        assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
        // Negative hash: abs first, then mod (862545276 % 50 = 26).
        assert_eq!(partition_for("Hello World", 50), 26);
        assert_eq!(partition_for("Hello World", 1), 0);
    }

    #[test]
    fn group_of_key_reads_every_key_version() {
        let r = super::super::GroupRecord::GroupTombstone { group: "grp".into() }.encode().unwrap();
        assert_eq!(group_of_key(&r.key).unwrap(), "grp");
        assert_eq!(group_of_key(&[0, 1, 0]).unwrap_err().code(), ErrorCode::Corrupt);
        assert_eq!(group_of_key(&[0, 1, 0, 9, b'x']).unwrap_err().code(), ErrorCode::Corrupt);
    }

    use crate::group::{ConsumerGroupMetadata, GroupRecord, OffsetAndMetadata, TopicPartition as GroupTp};
    use crate::log::{ProducerConfig, ProducerRecord};
    use crate::{Engine, EngineOptions};

    fn opts(n: u32) -> EngineOptions {
        EngineOptions { offsets_topic_num_partitions: n, ..EngineOptions::default() }
    }

    fn standalone(group: &str) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata { group_id: group.into(), generation_id: -1, member_id: String::new(), group_instance_id: None }
    }

    /// Every record (key, value) of one offsets partition, read straight from the log.
    fn raw_records(e: &Engine, p: u32) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let part = e.topics().unwrap().partition(&TopicPartition::new(OFFSETS_TOPIC, p)).unwrap();
        let data = part.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
        let mut out = Vec::new();
        for b in batch::batches(&data.bytes) {
            let (_, bytes) = b.unwrap();
            for r in batch::decode_records(bytes).unwrap().1 {
                out.push((r.key.unwrap(), r.value));
            }
        }
        out
    }

    #[test]
    fn commits_go_to_the_groups_partition_and_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open_with(d.path(), opts(5)).unwrap();
        // Created on first use, not at open.
        assert!(e.list_topics_with_internal().unwrap().is_empty());
        let tp = GroupTp::new("in", 3);
        e.commit_group_offsets(&standalone("hello"), &[(tp.clone(), OffsetAndMetadata::new(17))]).unwrap();
        e.commit_group_offsets(&standalone("Hello World"), &[(tp.clone(), OffsetAndMetadata::new(5))]).unwrap();
        assert_eq!(e.list_topics().unwrap(), Vec::<String>::new(), "internal topic hidden");
        assert_eq!(e.list_topics_with_internal().unwrap(), [OFFSETS_TOPIC]);
        let desc = e.describe_topic(OFFSETS_TOPIC).unwrap();
        assert_eq!(desc.partitions.len(), 5);
        let (ph, pw) = (partition_for("hello", 5), partition_for("Hello World", 5));
        assert_eq!((ph, pw), (2, 1));
        for p in &desc.partitions {
            let want = i64::from(p.partition == ph || p.partition == pw);
            assert_eq!(p.log_end_offset, want, "partition {}", p.partition);
        }
        let cfg = e.describe_configs(OFFSETS_TOPIC).unwrap();
        assert!(cfg.iter().any(|c| c.name == "cleanup.policy" && c.value == "compact"));
        // Kafka's bytes, as the record key and value.
        let recs = raw_records(&e, ph);
        assert_eq!(recs.len(), 1);
        let c = e.fetch_group_offsets("hello", &[]).unwrap()[&tp].clone();
        let want = GroupRecord::OffsetCommit { group: "hello".into(), tp: tp.clone(), value: c }.encode().unwrap();
        assert_eq!(recs[0], (want.key, want.value));
        assert_eq!(&recs[0].0[..9], &[0, 1, 0, 5, b'h', b'e', b'l', b'l', b'o']);
        e.close().unwrap();
        drop(e);
        assert!(!d.path().join("groups/offsets.log").exists(), "no side file any more");

        let e = Engine::open_with(d.path(), opts(5)).unwrap();
        assert_eq!(e.fetch_group_offsets("hello", &[]).unwrap()[&tp].offset, 17);
        assert_eq!(e.fetch_group_offsets("Hello World", &[]).unwrap()[&tp].offset, 5);
        // Deleting the group writes its tombstones; they too replay.
        e.delete_group("hello").unwrap();
        e.close().unwrap();
        drop(e);
        // A different option later does not re-partition the existing topic.
        let e = Engine::open_with(d.path(), opts(7)).unwrap();
        assert!(e.fetch_group_offsets("hello", &[]).unwrap().is_empty());
        assert_eq!(e.fetch_group_offsets("Hello World", &[]).unwrap()[&tp].offset, 5);
        e.commit_group_offsets(&standalone("Hello World"), &[(tp.clone(), OffsetAndMetadata::new(6))]).unwrap();
        assert_eq!(e.describe_topic(OFFSETS_TOPIC).unwrap().partitions.len(), 5);
        assert_eq!(raw_records(&e, pw).len(), 2);
        e.close().unwrap();
    }

    #[test]
    fn the_offsets_topic_is_closed_to_users() {
        let e = Engine::open_with(tempfile::tempdir().unwrap().path(), opts(3)).unwrap();
        e.commit_group_offsets(&standalone("g"), &[(GroupTp::new("t", 0), OffsetAndMetadata::new(1))]).unwrap();
        let err = e.delete_topic(OFFSETS_TOPIC).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        assert!(err.to_string().contains("internal"), "{err}");
        assert_eq!(e.create_topic(NewTopic::new(OFFSETS_TOPIC, 1)).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(e.create_partitions(OFFSETS_TOPIC, 10).unwrap_err().code(), ErrorCode::InvalidArgument);
        let p = e.producer(ProducerConfig::default()).unwrap();
        let err = match p.send(ProducerRecord::new(OFFSETS_TOPIC, "x").key("k")) {
            Err(e) => e,
            Ok(f) => f.get().unwrap_err(),
        };
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
        assert_eq!(e.describe_topic(OFFSETS_TOPIC).unwrap().partitions.iter().map(|p| p.log_end_offset).sum::<i64>(), 1);
        assert!(e.fetch_group_offsets("g", &[]).unwrap().contains_key(&GroupTp::new("t", 0)));
        e.close().unwrap();
    }

    #[test]
    fn an_old_offsets_log_is_migrated_once() {
        let d = tempfile::tempdir().unwrap();
        let commit = |g: &str, p: i32, off: i64| GroupRecord::OffsetCommit {
            group: g.into(),
            tp: GroupTp::new("t", p),
            value: OffsetAndMetadata { offset: off, leader_epoch: Some(2), metadata: "m".into(), commit_timestamp: 1_700_000_000_000 },
        };
        {
            let mut f = FileOffsetLog::open(&d.path().join("groups")).unwrap();
            let recs = [commit("a", 0, 1), commit("a", 1, 2), commit("b", 0, 3), commit("a", 0, 4), commit("gone", 0, 9)];
            f.append(&recs.iter().map(|r| r.encode().unwrap()).collect::<Vec<_>>()).unwrap();
            f.append(&[GroupRecord::GroupTombstone { group: "gone".into() }.encode().unwrap()]).unwrap();
        }
        let e = Engine::open_with(d.path(), opts(4)).unwrap();
        let a = e.fetch_group_offsets("a", &[]).unwrap();
        assert_eq!(a[&GroupTp::new("t", 0)], OffsetAndMetadata { offset: 4, leader_epoch: Some(2), metadata: "m".into(), commit_timestamp: 1_700_000_000_000 });
        assert_eq!(a[&GroupTp::new("t", 1)].offset, 2);
        assert_eq!(e.fetch_group_offsets("b", &[]).unwrap()[&GroupTp::new("t", 0)].offset, 3);
        assert!(e.fetch_group_offsets("gone", &[]).unwrap().is_empty());
        assert!(!d.path().join("groups/offsets.log").exists());
        assert!(d.path().join("groups/offsets.log.migrated").exists());
        let total = |e: &Engine| e.describe_topic(OFFSETS_TOPIC).unwrap().partitions.iter().map(|p| p.log_end_offset).sum::<i64>();
        assert_eq!(total(&e), 6);
        e.close().unwrap();
        drop(e);
        // Reopening does not copy again.
        let e = Engine::open_with(d.path(), opts(4)).unwrap();
        assert_eq!(total(&e), 6);
        assert_eq!(e.fetch_group_offsets("a", &[]).unwrap()[&GroupTp::new("t", 0)].offset, 4);
        e.close().unwrap();
        drop(e);
        // A crash between the copy and the rename copies again: same state.
        std::fs::rename(d.path().join("groups/offsets.log.migrated"), d.path().join("groups/offsets.log")).unwrap();
        let e = Engine::open_with(d.path(), opts(4)).unwrap();
        assert_eq!(total(&e), 12);
        assert_eq!(e.fetch_group_offsets("a", &[]).unwrap()[&GroupTp::new("t", 0)].offset, 4);
        assert!(e.fetch_group_offsets("gone", &[]).unwrap().is_empty());
        e.close().unwrap();
    }

    /// (is transactional, is control, producer id, record count) of every batch of a partition.
    fn raw_batches(e: &Engine, p: u32) -> Vec<(bool, bool, i64, i32)> {
        let part = e.topics().unwrap().partition(&TopicPartition::new(OFFSETS_TOPIC, p)).unwrap();
        let data = part.read(0, 1 << 20, IsolationLevel::ReadUncommitted).unwrap();
        batch::batches(&data.bytes).map(|b| b.unwrap().0).map(|h| (h.is_transactional(), h.is_control(), h.producer_id, h.records_count)).collect()
    }

    #[test]
    fn txn_offsets_are_pending_records_until_their_commit_marker() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open_with(d.path(), opts(3)).unwrap();
        e.create_topic(NewTopic::new("in", 2)).unwrap();
        e.create_topic(NewTopic::new("out", 1)).unwrap();
        let (in0, in1) = (GroupTp::new("in", 0), GroupTp::new("in", 1));
        let off = |e: &Engine, tp: &GroupTp| e.fetch_group_offsets("g", &[]).unwrap().get(tp).map(|o| o.offset);
        e.commit_group_offsets(&standalone("g"), &[(in0.clone(), OffsetAndMetadata::new(1))]).unwrap();
        let gp = partition_for("g", 3);
        let p = e.producer(ProducerConfig::default().set("transactional.id", "copier").unwrap()).unwrap();
        p.init_transactions().unwrap();

        // Aborted: written as a transactional batch, never visible, ended by an ABORT marker.
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new("out", "a")).unwrap();
        p.send_offsets_to_transaction(&[(TopicPartition::new("in", 0), 5)], "g").unwrap();
        let b = raw_batches(&e, gp);
        assert_eq!(b.len(), 2, "{b:?}");
        let (txn, control, pid, n) = b[1];
        assert!(txn && !control && pid >= 0 && n == 1, "{b:?}");
        assert_eq!(off(&e, &in0), Some(1), "pending offsets are not visible");
        let lso = e.describe_topic(OFFSETS_TOPIC).unwrap().partitions[gp as usize].last_stable_offset;
        assert_eq!(lso, 1, "the open transaction holds the offsets partition's LSO");
        p.abort_transaction().unwrap();
        assert_eq!(raw_batches(&e, gp)[2], (true, true, pid, 1), "ABORT marker in the offsets partition");
        assert_eq!(off(&e, &in0), Some(1));

        // Committed: visible once the COMMIT marker is written.
        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new("out", "b")).unwrap();
        p.send_offsets_to_transaction(&[(TopicPartition::new("in", 1), 7)], "g").unwrap();
        assert_eq!(off(&e, &in1), None);
        p.commit_transaction().unwrap();
        assert_eq!(off(&e, &in1), Some(7));
        assert_eq!(raw_batches(&e, gp).len(), 5);

        // Left open at close: aborted (epoch bumped) when the engine reopens.
        p.begin_transaction().unwrap();
        p.send_offsets_to_transaction(&[(TopicPartition::new("in", 1), 9)], "g").unwrap();
        drop(p);
        e.close().unwrap();
        drop(e);
        let e = Engine::open_with(d.path(), opts(3)).unwrap();
        assert_eq!((off(&e, &in0), off(&e, &in1)), (Some(1), Some(7)));
        let b = raw_batches(&e, gp);
        assert!(matches!(b.last(), Some((true, true, p, 1)) if *p == pid), "{b:?}");

        // Compaction never lets an aborted record supersede a committed one.
        let tp = TopicPartition::new(OFFSETS_TOPIC, gp);
        e.roll_segment(&tp).unwrap();
        e.compact_topic(OFFSETS_TOPIC).unwrap();
        e.close().unwrap();
        drop(e);
        let e = Engine::open_with(d.path(), opts(3)).unwrap();
        assert_eq!((off(&e, &in0), off(&e, &in1)), (Some(1), Some(7)));
        e.close().unwrap();
    }

    #[test]
    fn each_generation_is_recorded_and_carries_over_a_restart() {
        use std::collections::BTreeMap;
        use std::time::{Duration, Instant};
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open_with(d.path(), opts(3)).unwrap();
        let gp = partition_for("gm", 3);
        let metadata = |e: &Engine| -> Vec<super::super::GroupMetadataValue> {
            if e.list_topics_with_internal().unwrap().is_empty() {
                return Vec::new();
            }
            raw_records(e, gp)
                .into_iter()
                .filter_map(|(k, v)| match GroupRecord::decode(&OffsetLogRecord { key: k, value: v }).unwrap() {
                    Some(GroupRecord::GroupMetadata { group, value }) if group == "gm" => Some(value),
                    _ => None,
                })
                .collect()
        };
        let wait_for = |e: &Engine, n: usize| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while metadata(e).len() < n && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            metadata(e)
        };
        let mut m = crate::group::GroupMembership::new(&e, "gm", crate::group::MembershipConfig::default()).unwrap();
        m.subscribe(BTreeMap::from([("t".to_string(), 2u32)]));
        m.poll(Duration::from_secs(5), &mut Vec::new()).unwrap();
        m.commit(&[(GroupTp::new("t", 0), OffsetAndMetadata::new(3))]).unwrap();
        let recs = wait_for(&e, 1);
        assert_eq!(recs.len(), 1, "{recs:?}");
        let v = &recs[0];
        assert_eq!((v.protocol_type.as_str(), v.generation, v.protocol.as_deref()), ("consumer", 1, Some("range")));
        assert_eq!(v.leader.as_deref(), Some(m.member_id()));
        assert_eq!(v.members.len(), 1);
        assert_eq!(v.members[0].member_id, m.member_id());
        assert_eq!(v.members[0].assignment, super::super::offsets::encode_assignment(&[GroupTp::new("t", 0), GroupTp::new("t", 1)]).unwrap());
        // Leaving empties the group: a new generation with no members.
        m.leave(&mut Vec::new()).unwrap();
        let recs = wait_for(&e, 2);
        assert_eq!(recs.len(), 2, "{recs:?}");
        assert_eq!((recs[1].generation, recs[1].members.len(), recs[1].protocol.clone()), (2, 0, None));
        e.close().unwrap();
        drop(e);
        // After a restart the next generation follows the recorded one.
        let e = Engine::open_with(d.path(), opts(3)).unwrap();
        let mut m = crate::group::GroupMembership::new(&e, "gm", crate::group::MembershipConfig::default()).unwrap();
        m.subscribe(BTreeMap::from([("t".to_string(), 2u32)]));
        m.poll(Duration::from_secs(5), &mut Vec::new()).unwrap();
        assert_eq!(m.generation(), 3);
        m.leave(&mut Vec::new()).unwrap();
        e.close().unwrap();
    }
}
