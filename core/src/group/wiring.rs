//! Glue between consumer groups and the topic side of the same engine.
//!
//! - [`GroupTxnOffsets`]: the engine's [`crate::log::TxnOffsetCommitter`], registered at
//!   [`crate::Engine::open`]. Offsets sent with
//!   [`crate::log::Producer::send_offsets_to_transaction`] are written at once as
//!   transactional records in `__consumer_offsets` and become visible when (and only when)
//!   their transaction commits. As in Kafka's `TxnOffsetCommit`, the commit is
//!   written for the group without a member check (the producer names only the group).
//! - [`EngineOffsets`]: the [`OffsetResolver`] over the engine's partition logs (earliest = log
//!   start offset, latest = high watermark, by time = the time index), used by
//!   [`crate::Engine::describe_group_lag`] and [`crate::Engine::reset_group_offsets_to`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use super::admin::{GroupOffsetDescription, OffsetResetSpec, OffsetResolver};
use super::assignor::TopicPartition;
use super::coordinator::check_group_id;
use super::offsets::{GroupRecord, OffsetAndMetadata};
use super::Shared;
use crate::error::{Error, Result};
use crate::log::{TopicsShared, TxnOffset, TxnOffsetCommitter};

/// Commits transactional offsets into the group offset store, as Kafka's group coordinator
/// does: [`TxnOffsetCommitter::prepare_txn_offsets`] writes them at once as transactional
/// records of the producer in the group's `__consumer_offsets` partition (and keeps them
/// pending in memory); the transaction coordinator then ends that partition with the
/// transaction's marker, and on COMMIT [`TxnOffsetCommitter::complete_txn_offsets`] makes them
/// visible, on ABORT [`TxnOffsetCommitter::abort_txn_offsets`] drops them. Replay at open
/// applies them where their COMMIT marker is.
pub(crate) struct GroupTxnOffsets {
    shared: Arc<Shared>,
    /// Prepared, not yet completed offsets by (group, producer id).
    pending: Mutex<HashMap<(String, i64), Vec<GroupRecord>>>,
}

impl GroupTxnOffsets {
    fn records(group_id: &str, offsets: &[TxnOffset], now_ms: i64) -> Result<Vec<GroupRecord>> {
        check_group_id(group_id)?;
        offsets
            .iter()
            .map(|o| {
                let p = i32::try_from(o.partition).map_err(|_| Error::invalid(format!("partition {} of {} is out of range", o.partition, o.topic)))?;
                if o.offset < 0 {
                    return Err(Error::invalid(format!("cannot commit negative offset {} for {}-{}", o.offset, o.topic, o.partition)));
                }
                let mut om = OffsetAndMetadata::new(o.offset);
                om.metadata = o.metadata.clone().unwrap_or_default();
                om.commit_timestamp = now_ms;
                Ok(GroupRecord::OffsetCommit { group: group_id.to_string(), tp: TopicPartition::new(o.topic.clone(), p), value: om })
            })
            .collect()
    }
}

impl TxnOffsetCommitter for GroupTxnOffsets {
    fn commit_txn_offsets(&self, group_id: &str, offsets: &[TxnOffset]) -> Result<()> {
        self.shared.check_open()?;
        let recs = Self::records(group_id, offsets, crate::util::now_ms())?;
        let mut c = self.shared.coord.lock();
        c.apply(recs)?;
        self.shared.changed.notify_all();
        Ok(())
    }

    fn txn_offsets_partition(&self, group_id: &str) -> Result<Option<crate::log::TopicPartition>> {
        self.shared.check_open()?;
        check_group_id(group_id)?;
        self.shared.coord.lock().log.txn_partition(group_id)
    }

    fn prepare_txn_offsets(&self, group_id: &str, producer_id: i64, epoch: i16, offsets: &[TxnOffset]) -> Result<()> {
        self.shared.check_open()?;
        let recs = Self::records(group_id, offsets, crate::util::now_ms())?;
        if recs.is_empty() {
            return Ok(());
        }
        let raw = recs.iter().map(GroupRecord::encode).collect::<Result<Vec<_>>>()?;
        self.shared.coord.lock().log.append_transactional(&raw, producer_id, epoch)?;
        let mut pending = self.pending.lock();
        let list = pending.entry((group_id.to_string(), producer_id)).or_default();
        list.extend(recs);
        Ok(())
    }

    fn complete_txn_offsets(&self, group_id: &str, producer_id: i64, offsets: &[TxnOffset]) -> Result<()> {
        self.shared.check_open()?;
        let recs = match self.pending.lock().remove(&(group_id.to_string(), producer_id)) {
            Some(r) => r,
            // Prepared before a restart: the log already holds them behind the marker.
            None => Self::records(group_id, offsets, crate::util::now_ms())?,
        };
        self.shared.coord.lock().apply_in_memory(recs);
        self.shared.changed.notify_all();
        Ok(())
    }

    fn abort_txn_offsets(&self, group_id: &str, producer_id: i64) -> Result<()> {
        self.pending.lock().remove(&(group_id.to_string(), producer_id));
        Ok(())
    }
}

/// Register the group offset store as the engine's transactional offset committer.
pub(crate) fn register(engine: &crate::Engine) -> Result<()> {
    let c = GroupTxnOffsets { shared: Arc::clone(&engine.inner.groups.shared), pending: Mutex::new(HashMap::new()) };
    engine.set_txn_offset_committer(Arc::new(c))
}

/// Convert a group-side partition to the log side's (partitions are unsigned there).
pub(crate) fn to_log_tp(tp: &TopicPartition) -> Result<crate::log::TopicPartition> {
    let p = u32::try_from(tp.partition).map_err(|_| Error::invalid(format!("partition {tp} is negative")))?;
    Ok(crate::log::TopicPartition::new(tp.topic.clone(), p))
}

/// Convert a log-side partition to the group side's.
pub(crate) fn to_group_tp(tp: &crate::log::TopicPartition) -> Result<TopicPartition> {
    let p = i32::try_from(tp.partition).map_err(|_| Error::invalid(format!("partition {tp} is out of range")))?;
    Ok(TopicPartition::new(tp.topic.clone(), p))
}

/// The [`OffsetResolver`] over an engine's topics: earliest = log start offset, latest = high
/// watermark, by time = the first offset whose timestamp is at or after the time.
pub struct EngineOffsets {
    topics: Arc<TopicsShared>,
}

impl EngineOffsets {
    /// The resolver for `engine`'s topics.
    pub fn new(engine: &crate::Engine) -> Result<EngineOffsets> {
        Ok(EngineOffsets { topics: Arc::clone(engine.topics()?) })
    }
}

impl OffsetResolver for EngineOffsets {
    fn earliest_offset(&self, tp: &TopicPartition) -> Result<i64> {
        Ok(self.topics.partition(&to_log_tp(tp)?)?.log_start_offset())
    }

    fn latest_offset(&self, tp: &TopicPartition) -> Result<i64> {
        let (_, _, hw, _) = self.topics.partition(&to_log_tp(tp)?)?.offsets();
        Ok(hw)
    }

    fn offset_for_time(&self, tp: &TopicPartition, timestamp_ms: i64) -> Result<Option<i64>> {
        if timestamp_ms < 0 {
            return Err(Error::invalid(format!("timestamp {timestamp_ms} for {tp} is negative")));
        }
        Ok(self.topics.partition(&to_log_tp(tp)?)?.offset_for_time(timestamp_ms)?.map(|(_, off)| off))
    }
}

impl crate::Engine {
    /// [`crate::Engine::describe_group_offsets`] against this engine's own topics (lag is
    /// measured to the high watermark).
    pub fn describe_group_lag(&self, group_id: &str) -> Result<Vec<GroupOffsetDescription>> {
        self.describe_group_offsets(group_id, &EngineOffsets::new(self)?)
    }

    /// [`crate::Engine::reset_group_offsets`] against this engine's own topics.
    pub fn reset_group_offsets_to(&self, group_id: &str, partitions: &[TopicPartition], spec: OffsetResetSpec) -> Result<BTreeMap<TopicPartition, i64>> {
        self.reset_group_offsets(group_id, partitions, spec, &EngineOffsets::new(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{NewTopic, ProducerConfig, ProducerRecord};

    fn gtp(t: &str, p: i32) -> TopicPartition {
        TopicPartition::new(t, p)
    }

    #[test]
    fn txn_offsets_visible_exactly_on_commit_never_on_abort() {
        let dir = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(dir.path()).unwrap();
        e.create_topic(NewTopic::new("out", 1)).unwrap();
        e.create_topic(NewTopic::new("in", 2)).unwrap();
        let p = e.producer(ProducerConfig::default().set("transactional.id", "copier").unwrap()).unwrap();
        p.init_transactions().unwrap();

        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new("out", "a")).unwrap();
        p.send_offsets_to_transaction(&[(crate::log::TopicPartition::new("in", 1), 7)], "g").unwrap();
        assert!(e.fetch_group_offsets("g", &[]).unwrap().is_empty(), "offsets visible before the commit");
        p.abort_transaction().unwrap();
        assert!(e.fetch_group_offsets("g", &[]).unwrap().is_empty(), "aborted offsets became visible");

        p.begin_transaction().unwrap();
        p.send(ProducerRecord::new("out", "b")).unwrap();
        p.send_offsets_to_transaction(&[(crate::log::TopicPartition::new("in", 0), 3), (crate::log::TopicPartition::new("in", 1), 9)], "g").unwrap();
        assert!(e.fetch_group_offsets("g", &[]).unwrap().is_empty());
        p.commit_transaction().unwrap();
        let got = e.fetch_group_offsets("g", &[]).unwrap();
        assert_eq!(got.get(&gtp("in", 0)).map(|o| o.offset), Some(3));
        assert_eq!(got.get(&gtp("in", 1)).map(|o| o.offset), Some(9));
        p.close().unwrap();
        e.close().unwrap();
        drop((p, e));

        // Durable: the committed offsets survive a reopen.
        let e = crate::Engine::open(dir.path()).unwrap();
        assert_eq!(e.fetch_group_offsets("g", &[gtp("in", 1)]).unwrap().get(&gtp("in", 1)).map(|o| o.offset), Some(9));
        e.close().unwrap();
    }

    #[test]
    fn engine_resolver_describes_and_resets() {
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("t", 1)).unwrap();
        let p = e.producer(ProducerConfig::default()).unwrap();
        for i in 0..10i64 {
            p.send(ProducerRecord::new("t", "v").timestamp(1_000 + i * 100)).unwrap();
        }
        p.flush().unwrap();
        let meta = super::super::ConsumerGroupMetadata { group_id: "g".into(), generation_id: -1, member_id: String::new(), group_instance_id: None };
        e.commit_group_offsets(&meta, &[(gtp("t", 0), OffsetAndMetadata::new(4))]).unwrap();

        let d = e.describe_group_lag("g").unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].log_end_offset, 10);
        assert_eq!(d[0].lag, Some(6));

        let r = e.reset_group_offsets_to("g", &[], OffsetResetSpec::Latest).unwrap();
        assert_eq!(r.get(&gtp("t", 0)), Some(&10));
        let r = e.reset_group_offsets_to("g", &[], OffsetResetSpec::ToTime(1_450)).unwrap();
        assert_eq!(r.get(&gtp("t", 0)), Some(&5));
        e.delete_records(&crate::log::TopicPartition::new("t", 0), 2).unwrap();
        let r = e.reset_group_offsets_to("g", &[], OffsetResetSpec::Earliest).unwrap();
        assert_eq!(r.get(&gtp("t", 0)), Some(&2));
        let r = e.reset_group_offsets_to("g", &[], OffsetResetSpec::ToOffset(100)).unwrap();
        assert_eq!(r.get(&gtp("t", 0)), Some(&10));
        assert_eq!(e.fetch_group_offsets("g", &[]).unwrap().get(&gtp("t", 0)).map(|o| o.offset), Some(10));

        let bad = EngineOffsets::new(&e).unwrap().earliest_offset(&gtp("t", -1)).unwrap_err();
        assert_eq!(bad.code(), crate::error::ErrorCode::InvalidArgument);
        e.close().unwrap();
    }
}
