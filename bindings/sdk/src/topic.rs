//! Topics through the facade: admin calls on [`Engine`], [`Producer`] and [`Consumer`] handles,
//! records in batches ([`OutgoingBatch`] to send, [`RecordBatch`] from a poll).

use std::sync::Arc;
use std::time::Duration;

use kabase::log::{ConsumerConfig, NewTopic, OffsetReset, ProducerConfig, ProducerRecord, TopicPartition};
use kabase::{Error, ErrorCode, Result};
use parking_lot::Mutex;

use crate::Engine;

pub use kabase::log::admin::{ConfigEntry, PartitionDescription, TopicDescription};
pub use kabase::log::{ConsumerRecord as Record, Header, RecordMetadata, SendFuture, TimestampType};

/// One record to send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingRecord {
    /// Partition; `None` lets the partitioner choose (murmur2 of the key, sticky otherwise).
    pub partition: Option<u32>,
    /// Key (`None` = null key).
    pub key: Option<Vec<u8>>,
    /// Value (`None` = tombstone).
    pub value: Option<Vec<u8>>,
    /// Create time in ms since the epoch; `None` = now.
    pub timestamp: Option<i64>,
    /// Headers in order: key and value, `None` for Kafka's null header value.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl OutgoingRecord {
    /// A record with just a value.
    pub fn value(value: impl Into<Vec<u8>>) -> OutgoingRecord {
        OutgoingRecord { value: Some(value.into()), ..OutgoingRecord::default() }
    }
}

/// Many records for one topic, sent with one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingBatch {
    /// The topic.
    pub topic: String,
    /// The records, in send order.
    pub records: Vec<OutgoingRecord>,
}

/// Many records from one poll.
#[derive(Clone, Debug, Default)]
pub struct RecordBatch {
    /// The records, in fetch order (per partition in offset order).
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// A committed or requested position: the next offset to read in a topic partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Next offset to consume.
    pub offset: i64,
}

impl Engine {
    /// Create a topic with `partitions` partitions (default topic configs).
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<()> {
        if partitions == 0 {
            return Err(Error::invalid(format!("topic {name} needs at least one partition")));
        }
        self.core.create_topic(NewTopic::new(name, partitions))
    }

    /// Create a topic with configs by Kafka's names (`retention.ms`, `cleanup.policy`, ...).
    pub fn create_topic_with(&self, name: &str, partitions: u32, configs: &[(String, String)]) -> Result<()> {
        let mut t = NewTopic::new(name, partitions);
        for (k, v) in configs {
            t = t.config(k.clone(), v.clone());
        }
        self.core.create_topic(t)
    }

    /// Delete a topic and its records.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        self.core.delete_topic(name)
    }

    /// Names of every topic.
    pub fn list_topics(&self) -> Result<Vec<String>> {
        self.core.list_topics()
    }

    /// Number of partitions of a topic (`TopicNotFound` otherwise).
    pub fn partitions_for(&self, name: &str) -> Result<u32> {
        self.core.partitions_for(name)
    }

    /// Check a topic could be created (its name, a partition count of at least 1, not existing
    /// yet), without creating it.
    pub fn validate_topic(&self, name: &str, partitions: u32) -> Result<()> {
        kabase::log::validate_topic_name(name)?;
        if partitions == 0 {
            return Err(Error::invalid("a topic needs at least one partition"));
        }
        if self.core.list_topics()?.iter().any(|t| t == name) {
            return Err(Error::new(ErrorCode::TopicExists, format!("topic {name} already exists")));
        }
        Ok(())
    }

    /// Grow a topic to `total` partitions.
    pub fn create_partitions(&self, name: &str, total: u32) -> Result<()> {
        self.core.create_partitions(name, total)
    }

    /// A topic's id and per-partition offsets and segments.
    pub fn describe_topic(&self, name: &str) -> Result<TopicDescription> {
        self.core.describe_topic(name)
    }

    /// A topic's configs (every known key, with whether it is the default).
    pub fn describe_topic_configs(&self, name: &str) -> Result<Vec<ConfigEntry>> {
        self.core.describe_configs(name)
    }

    /// Set (`Some`) or reset to the default (`None`) topic configs by Kafka's names.
    pub fn alter_topic_configs(&self, name: &str, changes: &[(String, Option<String>)]) -> Result<()> {
        let ch: Vec<(&str, Option<&str>)> = changes.iter().map(|(k, v)| (k.as_str(), v.as_deref())).collect();
        self.core.alter_configs(name, &ch)
    }

    /// Delete the records of a partition before `offset`; returns the new log start offset.
    pub fn delete_records(&self, topic: &str, partition: u32, offset: i64) -> Result<i64> {
        self.core.delete_records(&TopicPartition::new(topic, partition), offset)
    }

    /// A producer with configs by Kafka's names (`acks`, `linger.ms`, `compression.type`,
    /// `enable.idempotence`, ...).
    pub fn producer(&self, configs: &[(String, String)]) -> Result<Producer> {
        let mut config = ProducerConfig::default();
        for (k, v) in configs {
            config = config.set(k, v)?;
        }
        let transactional = config.transactional_id.is_some();
        Ok(Producer { core: Arc::new(self.core.producer(config)?), transactional })
    }

    /// A consumer: the core's group-aware consumer. With a `group_id` it joins that consumer
    /// group on its first poll after a subscribe, follows rebalances and commits offsets there;
    /// without one it reads every partition of its topics and cannot commit. Configs by Kafka's
    /// names (`auto.offset.reset`, `max.poll.records`, `isolation.level`,
    /// `enable.auto.commit`, `session.timeout.ms`, ...). Unlike a Java consumer, auto-commit is
    /// off unless `enable.auto.commit` is given: the bindings commit what their host API says
    /// (kafkajs commits resolved offsets after each batch).
    pub fn consumer(&self, group_id: Option<&str>, configs: &[(String, String)]) -> Result<Consumer> {
        let mut config = ConsumerConfig { enable_auto_commit: false, ..ConsumerConfig::default() };
        for (k, v) in configs {
            config = config.set(k, v)?;
        }
        if let Some(g) = group_id {
            config = config.set("group.id", g)?;
        }
        let core = self.core.consumer(config.clone())?;
        Ok(Consumer { inner: Arc::new(Mutex::new(ConsumerState { engine: self.core.clone(), core, config, closed: false })) })
    }

    /// The admin handle (tables and topics).
    pub fn admin(&self) -> Admin {
        Admin { engine: self.clone() }
    }
}

/// Admin calls for tables and topics (Kafka's `Admin`, HBase's `Admin` in one).
#[derive(Clone, Debug)]
pub struct Admin {
    engine: Engine,
}

impl Admin {
    /// Create topics (`name`, `partitions`); stops at the first failure.
    pub fn create_topics(&self, topics: &[(String, u32)]) -> Result<()> {
        topics.iter().try_for_each(|(n, p)| self.engine.create_topic(n, *p))
    }
    /// Delete topics; stops at the first failure.
    pub fn delete_topics(&self, names: &[String]) -> Result<()> {
        names.iter().try_for_each(|n| self.engine.delete_topic(n))
    }
    /// Names of every topic.
    pub fn list_topics(&self) -> Result<Vec<String>> {
        self.engine.list_topics()
    }
    /// Create a table with these families.
    pub fn create_table(&self, name: &str, families: &[&str]) -> Result<()> {
        self.engine.create_table(name, families)
    }
    /// Delete a table.
    pub fn delete_table(&self, name: &str) -> Result<()> {
        self.engine.delete_table(name)
    }
    /// Names of every table.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        self.engine.list_tables()
    }
}

/// A producer: owning, cheap to clone, thread-safe.
#[derive(Clone, Debug)]
pub struct Producer {
    core: Arc<kabase::log::Producer>,
    transactional: bool,
}

fn into_core_record(topic: String, r: OutgoingRecord) -> ProducerRecord {
    ProducerRecord {
        topic,
        partition: r.partition,
        key: r.key,
        value: r.value,
        timestamp: r.timestamp,
        headers: r.headers.into_iter().map(|(key, value)| Header { key, value }).collect(),
    }
}

fn to_core_record(topic: &str, r: &OutgoingRecord) -> ProducerRecord {
    ProducerRecord {
        topic: topic.to_string(),
        partition: r.partition,
        key: r.key.clone(),
        value: r.value.clone(),
        timestamp: r.timestamp,
        headers: r.headers.iter().map(|(k, v)| Header { key: k.clone(), value: v.clone() }).collect(),
    }
}

impl Producer {
    /// Send one record and wait until it is in the log.
    pub fn send(&self, topic: &str, record: &OutgoingRecord) -> Result<RecordMetadata> {
        self.core.send(to_core_record(topic, record))?.get()
    }

    /// Hand one record to the producer without waiting: the future completes once it is in
    /// the log (or failed). May wait while `buffer.memory` is full.
    pub fn send_async(&self, topic: String, record: OutgoingRecord) -> Result<SendFuture> {
        self.core.send(into_core_record(topic, record))
    }

    /// Hand many records of one topic to the producer without waiting; their futures in order.
    /// Stops at the first record the producer refuses.
    pub fn send_many_async(&self, topic: &str, records: Vec<OutgoingRecord>) -> Result<Vec<SendFuture>> {
        records.into_iter().map(|r| self.core.send(into_core_record(topic.to_string(), r))).collect()
    }

    /// Whether the producer has a `transactional.id`.
    pub fn is_transactional(&self) -> bool {
        self.transactional
    }

    /// Partition count of a topic (created on first use when the engine allows it).
    pub fn partitions_for(&self, topic: &str) -> Result<u32> {
        self.core.partitions_for(topic)
    }

    /// The producer id (idempotent and transactional producers; -1 otherwise).
    pub fn producer_id(&self) -> i64 {
        self.core.producer_id()
    }

    /// The producer epoch.
    pub fn producer_epoch(&self) -> i16 {
        self.core.producer_epoch()
    }

    /// [`Producer::flush`] waiting at most `timeout` (`None` = no bound): `Timeout` once it
    /// passes, the flush then finishing in the background.
    pub fn flush_within(&self, timeout: Option<Duration>) -> Result<()> {
        let core = Arc::clone(&self.core);
        crate::queue::bounded(timeout, "flush", move || core.flush())
    }

    /// [`Producer::close`] waiting at most `timeout`: the producer is closed for new records
    /// either way and finishes in the background after a `Timeout`.
    pub fn close_within(&self, timeout: Option<Duration>) -> Result<()> {
        let core = Arc::clone(&self.core);
        crate::queue::bounded(timeout, "close", move || core.close())
    }

    /// Send a batch: every record is handed to the producer first, then the producer is flushed
    /// (the call waits for all of them anyway, so lingering for more records would only add
    /// `linger.ms` to every call) and each record's outcome is collected. The records travel in
    /// as few log appends as the producer's batching allows.
    pub fn send_batch(&self, batch: &OutgoingBatch) -> Result<Vec<RecordMetadata>> {
        let futures = batch.records.iter().map(|r| self.core.send(to_core_record(&batch.topic, r))).collect::<Result<Vec<_>>>()?;
        if futures.len() > 1 {
            self.core.flush()?;
        }
        futures.iter().map(|f| f.get()).collect()
    }

    /// Wait until everything sent so far is in the log.
    pub fn flush(&self) -> Result<()> {
        self.core.flush()
    }

    /// Flush and stop the producer; later sends fail with `Closed`.
    pub fn close(&self) -> Result<()> {
        self.core.close()
    }

    /// Register the producer's `transactional.id` (given in its configs): fences an older
    /// producer with the same id and aborts its open transaction. Call once before
    /// [`Producer::begin_transaction`].
    pub fn init_transactions(&self) -> Result<()> {
        self.core.init_transactions()
    }

    /// Start a transaction: later sends belong to it until commit or abort.
    pub fn begin_transaction(&self) -> Result<()> {
        self.core.begin_transaction()
    }

    /// Commit a consumer group's next offsets atomically with the open transaction (Kafka's
    /// `sendOffsetsToTransaction`): they become the group's committed offsets only if the
    /// transaction commits.
    pub fn send_offsets_to_transaction(&self, offsets: &[PartitionOffset], group_id: &str) -> Result<()> {
        let list: Vec<(TopicPartition, i64)> = offsets.iter().map(|o| (TopicPartition::new(o.topic.clone(), o.partition), o.offset)).collect();
        self.core.send_offsets_to_transaction(&list, group_id)
    }

    /// Flush and commit the open transaction: read_committed consumers see all of it.
    pub fn commit_transaction(&self) -> Result<()> {
        self.core.commit_transaction()
    }

    /// Abort the open transaction: read_committed consumers never see its records.
    pub fn abort_transaction(&self) -> Result<()> {
        self.core.abort_transaction()
    }
}

struct ConsumerState {
    engine: kabase::Engine,
    core: kabase::log::Consumer,
    config: ConsumerConfig,
    closed: bool,
}

impl ConsumerState {
    fn check(&self) -> Result<()> {
        if self.closed {
            Err(Error::closed("consumer"))
        } else {
            Ok(())
        }
    }

    fn need_group(&self, what: &str) -> Result<()> {
        self.check()?;
        match self.config.group_id {
            Some(_) => Ok(()),
            None => Err(Error::new(ErrorCode::InvalidArgument, format!("{what} needs a consumer created with a group id"))),
        }
    }

    /// `auto.offset.reset` is fixed when a core consumer is made: make a fresh one when the
    /// subscription asks for the other start (before it joins with the new subscription).
    fn start_from(&mut self, from_beginning: bool) -> Result<()> {
        let reset = if from_beginning { OffsetReset::Earliest } else { OffsetReset::Latest };
        if self.config.auto_offset_reset == reset {
            return Ok(());
        }
        let config = ConsumerConfig { auto_offset_reset: reset, ..self.config.clone() };
        let fresh = self.engine.consumer(config.clone())?;
        let mut old = std::mem::replace(&mut self.core, fresh);
        self.config = config;
        old.close()
    }

    /// Partitions named by `(topic, partition)`; a partition of `None` means every partition
    /// of that topic assigned to this consumer now.
    fn select(&self, parts: &[(String, Option<u32>)]) -> Vec<TopicPartition> {
        let assigned = self.core.assignment();
        let mut out = Vec::new();
        for (topic, partition) in parts {
            match partition {
                Some(p) => out.push(TopicPartition::new(topic.clone(), *p)),
                None => out.extend(assigned.iter().filter(|tp| &tp.topic == topic).cloned()),
            }
        }
        out
    }
}

fn tps_of(partitions: &[(String, u32)]) -> Vec<TopicPartition> {
    partitions.iter().map(|(t, p)| TopicPartition::new(t.clone(), *p)).collect()
}

/// A consumer: owning, cheap to clone, thread-safe (calls are serialized inside, as a Kafka
/// consumer is used from one thread at a time). A thin handle on the core's group-aware
/// consumer: the group protocol, rebalances and commits all run in the core.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Mutex<ConsumerState>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("core", &self.inner.lock().core).finish()
    }
}

impl Consumer {
    /// Subscribe to topics (replacing any earlier subscription). `from_beginning` chooses where
    /// a partition without a committed offset starts: its first record (true) or its end
    /// (false). With a group, partitions are assigned by the group on the next polls; without,
    /// every partition of the topics is read. Every topic must exist.
    pub fn subscribe(&self, topics: &[String], from_beginning: bool) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        if topics.is_empty() {
            return Err(Error::invalid("subscribe needs at least one topic"));
        }
        let mut tps = Vec::new();
        for t in topics {
            let n = st.engine.partitions_for(t)?;
            tps.extend((0..n).map(|p| TopicPartition::new(t.clone(), p)));
        }
        st.start_from(from_beginning)?;
        if st.config.group_id.is_some() {
            let names: Vec<&str> = topics.iter().map(String::as_str).collect();
            st.core.subscribe(&names, None)
        } else {
            st.core.assign(&tps)
        }
    }

    /// Subscribe to every topic whose whole name matches `pattern` (a regular expression),
    /// now and as topics appear; internal `__` topics never match. Needs a group.
    pub fn subscribe_pattern(&self, pattern: &str, from_beginning: bool) -> Result<()> {
        let mut st = self.inner.lock();
        st.need_group("a pattern subscription")?;
        st.start_from(from_beginning)?;
        st.core.subscribe_pattern(pattern, None)
    }

    /// The topics subscribed to now (a pattern's current matches; every topic read without a
    /// group).
    pub fn subscription(&self) -> Vec<String> {
        let st = self.inner.lock();
        if st.config.group_id.is_some() {
            st.core.subscription()
        } else {
            let mut t: Vec<String> = st.core.assignment().into_iter().map(|tp| tp.topic).collect();
            t.dedup();
            t
        }
    }

    /// The partitions this consumer reads now, with their positions (-1 where none yet).
    pub fn assignment(&self) -> Vec<PartitionOffset> {
        let mut st = self.inner.lock();
        let tps = st.core.assignment();
        tps.into_iter()
            .map(|tp| {
                let offset = st.core.position(&tp).unwrap_or(-1);
                PartitionOffset { topic: tp.topic, partition: tp.partition, offset }
            })
            .collect()
    }

    /// Up to `max_records` records, waiting up to `timeout_ms` for the first one (the group
    /// protocol runs inside).
    pub fn poll(&self, max_records: usize, timeout_ms: u64) -> Result<RecordBatch> {
        let mut st = self.inner.lock();
        st.check()?;
        let records = st.core.poll_records(max_records.max(1), Duration::from_millis(timeout_ms))?;
        Ok(RecordBatch { records })
    }

    /// Move the position of a partition this consumer reads.
    pub fn seek(&self, topic: &str, partition: u32, offset: i64) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        st.core.seek(&TopicPartition::new(topic, partition), offset)
    }

    /// Stop fetching from partitions until [`Consumer::resume`]; `(topic, None)` pauses every
    /// partition of the topic assigned now. A named partition must be assigned. A rebalance
    /// that takes a partition away forgets its pause (as Kafka's consumer does).
    pub fn pause(&self, partitions: &[(String, Option<u32>)]) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        let tps = st.select(partitions);
        st.core.pause(&tps)
    }

    /// Fetch again from paused partitions (`(topic, None)`: every assigned one of the topic).
    pub fn resume(&self, partitions: &[(String, Option<u32>)]) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        let tps = st.select(partitions);
        st.core.resume(&tps)
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<(String, u32)> {
        self.inner.lock().core.paused().into_iter().map(|tp| (tp.topic, tp.partition)).collect()
    }

    /// Make exactly these partitions paused (`(topic, None)`: every assigned partition of the
    /// topic), resuming the others; named partitions not assigned now are skipped. For host
    /// APIs that keep pauses across rebalances (kafkajs): call it before each poll.
    pub fn set_paused(&self, partitions: &[(String, Option<u32>)]) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        let assigned = st.core.assignment();
        let want: Vec<TopicPartition> = st.select(partitions).into_iter().filter(|tp| assigned.contains(tp)).collect();
        st.core.resume(&assigned)?;
        st.core.pause(&want)
    }

    /// Check the consumer's place in its group between polls (kafkajs' `heartbeat`): fails with
    /// `RebalanceInProgress` when the group is rebalancing or has moved to a newer generation
    /// than this member's, so a long batch can stop early; the next poll rejoins. Session
    /// liveness itself comes from polls (`max.poll.interval.ms`). Without a group it only
    /// checks the consumer is open.
    pub fn heartbeat(&self) -> Result<()> {
        let st = self.inner.lock();
        st.check()?;
        let Some(gid) = st.config.group_id.as_deref() else { return Ok(()) };
        let meta = st.core.group_metadata()?;
        if meta.generation_id < 0 {
            return Ok(());
        }
        let g = st.engine.describe_group(gid)?;
        let rebalancing = matches!(g.state, kabase::group::GroupState::PreparingRebalance | kabase::group::GroupState::CompletingRebalance);
        if rebalancing || g.generation != meta.generation_id {
            return Err(Error::new(ErrorCode::RebalanceInProgress, format!("group {gid} is rebalancing (generation {} → {})", meta.generation_id, g.generation)));
        }
        Ok(())
    }

    /// Commit the current position of every partition this consumer reads (needs a group).
    pub fn commit(&self) -> Result<()> {
        let mut st = self.inner.lock();
        st.need_group("commit")?;
        st.core.commit_sync(None)
    }

    /// Commit the given next offsets (needs a group).
    pub fn commit_offsets(&self, offsets: &[PartitionOffset]) -> Result<()> {
        let mut st = self.inner.lock();
        st.need_group("commit")?;
        let list: Vec<(TopicPartition, i64)> = offsets.iter().map(|o| (TopicPartition::new(o.topic.clone(), o.partition), o.offset)).collect();
        st.core.commit_sync(Some(&list))
    }

    /// The committed next offsets of these partitions in the consumer's group (`None` where
    /// nothing was committed).
    pub fn committed(&self, partitions: &[(String, u32)]) -> Result<Vec<Option<i64>>> {
        let st = self.inner.lock();
        st.need_group("committed offsets")?;
        let tps = tps_of(partitions);
        let got = st.core.committed(&tps)?;
        Ok(tps.iter().map(|tp| got.get(tp).map(|o| o.offset)).collect())
    }

    /// The consumer's group id, if it has one.
    pub fn group_id(&self) -> Option<String> {
        self.inner.lock().config.group_id.clone()
    }

    /// Leave the group (if any) and stop; later calls fail with `Closed`. Closing twice is OK.
    pub fn close(&self) -> Result<()> {
        let mut st = self.inner.lock();
        if st.closed {
            return Ok(());
        }
        st.closed = true;
        st.core.close()
    }
}

/// A consumer group as the coordinator describes it (state, protocol, members with their
/// assignments).
pub use kabase::group::{GroupDescription, GroupState, MemberDescription, TopicPartition as GroupPartition};

/// A group's committed offset of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: u32,
    /// Next offset to consume.
    pub offset: i64,
    /// The metadata string committed with it.
    pub metadata: String,
}

impl Engine {
    /// Every consumer group id.
    pub fn list_groups(&self) -> Result<Vec<String>> {
        Ok(self.core.list_groups()?.into_iter().map(|g| g.group_id).collect())
    }

    /// A group's state, protocol and members (`GroupIdNotFound` for an unknown group).
    pub fn describe_group(&self, group_id: &str) -> Result<GroupDescription> {
        self.core.describe_group(group_id)
    }

    /// The offsets a group committed, by topic and partition.
    pub fn group_offsets(&self, group_id: &str) -> Result<Vec<CommittedOffset>> {
        Ok(self
            .core
            .list_group_offsets(group_id)?
            .into_iter()
            .filter_map(|(tp, o)| u32::try_from(tp.partition).ok().map(|partition| CommittedOffset { topic: tp.topic, partition, offset: o.offset, metadata: o.metadata }))
            .collect())
    }

    /// Delete an empty group and its offsets.
    pub fn delete_group(&self, group_id: &str) -> Result<()> {
        self.core.delete_group(group_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn kv(k: &str, v: &str) -> OutgoingRecord {
        OutgoingRecord { key: Some(k.into()), value: Some(v.into()), ..OutgoingRecord::default() }
    }

    #[test]
    fn batch_send_and_plain_consumer() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("t", 2).unwrap();
        assert_eq!(e.partitions_for("t").unwrap(), 2);
        let p = e.producer(&[("linger.ms".into(), "0".into())]).unwrap();
        let batch = OutgoingBatch { topic: "t".into(), records: (0..10).map(|i| OutgoingRecord { partition: Some(i % 2), ..kv("k", &format!("v{i}")) }).collect() };
        let metas = p.send_batch(&batch).unwrap();
        assert_eq!(metas.len(), 10);
        assert_eq!(metas.iter().filter(|m| m.partition == 1).map(|m| m.offset).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        let c = e.consumer(None, &[]).unwrap();
        c.subscribe(&["t".into()], true).unwrap();
        assert_eq!(c.assignment().len(), 2);
        let mut got = 0;
        while got < 10 {
            let b = c.poll(3, 500).unwrap();
            assert!(b.len() <= 3);
            assert!(!b.is_empty());
            got += b.len();
        }
        c.seek("t", 0, 3).unwrap();
        let again = c.poll(100, 200).unwrap();
        assert!(again.records.iter().any(|r| r.partition == 0 && r.offset == 3));
        assert_eq!(c.commit().unwrap_err().code(), ErrorCode::InvalidArgument);
        c.close().unwrap();
        assert_eq!(c.poll(1, 0).unwrap_err().code(), ErrorCode::Closed);
        p.close().unwrap();
        assert_eq!(p.send("t", &kv("a", "b")).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn null_header_values_round_trip() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("h", 1).unwrap();
        let p = e.producer(&[]).unwrap();
        let headers = vec![("trace".to_string(), Some(b"abc".to_vec())), ("gone".to_string(), None), ("empty".to_string(), Some(Vec::new()))];
        p.send("h", &OutgoingRecord { headers, ..kv("k", "v") }).unwrap();
        let c = e.consumer(None, &[]).unwrap();
        c.subscribe(&["h".into()], true).unwrap();
        let recs = c.poll(10, 2000).unwrap().records;
        assert_eq!(recs.len(), 1);
        let got: Vec<(String, Option<Vec<u8>>)> = recs[0].headers.iter().map(|h| (h.key.clone(), h.value.clone())).collect();
        assert_eq!(got, vec![("trace".into(), Some(b"abc".to_vec())), ("gone".into(), None), ("empty".into(), Some(Vec::new()))]);
    }

    #[test]
    fn group_consumer_resumes_from_commit() {
        let e = Engine::open_in_memory().unwrap();
        e.admin().create_topics(&[("g".into(), 1)]).unwrap();
        let p = e.producer(&[]).unwrap();
        for i in 0..4 {
            p.send("g", &kv("k", &format!("{i}"))).unwrap();
        }
        let c = e.consumer(Some("grp"), &[]).unwrap();
        c.subscribe(&["g".into()], true).unwrap();
        let mut seen = Vec::new();
        while seen.len() < 4 {
            seen.extend(c.poll(2, 1000).unwrap().records.into_iter().map(|r| r.offset));
        }
        c.commit_offsets(&[PartitionOffset { topic: "g".into(), partition: 0, offset: 2 }]).unwrap();
        assert_eq!(c.committed(&[("g".into(), 0)]).unwrap(), vec![Some(2)]);
        c.close().unwrap();
        // A new member of the group starts at the committed offset, not at the beginning.
        let c2 = e.consumer(Some("grp"), &[]).unwrap();
        c2.subscribe(&["g".into()], true).unwrap();
        let mut first = None;
        for _ in 0..50 {
            if let Some(r) = c2.poll(10, 100).unwrap().records.first() {
                first = Some(r.offset);
                break;
            }
        }
        assert_eq!(first, Some(2));
        c2.close().unwrap();
    }

    #[test]
    fn bad_input() {
        let e = Engine::open_in_memory().unwrap();
        assert_eq!(e.create_topic("t", 0).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert!(e.producer(&[("no.such.key".into(), "1".into())]).is_err());
        let c = e.consumer(None, &[]).unwrap();
        assert_eq!(c.subscribe(&[], true).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(c.subscribe(&["absent".into()], true).unwrap_err().code(), ErrorCode::TopicNotFound);
        assert_eq!(e.admin().list_topics().unwrap(), Vec::<String>::new());
    }

    fn drain(c: &Consumer, want: usize) -> Vec<Record> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < want && Instant::now() < deadline {
            got.extend(c.poll(100, 100).unwrap().records);
        }
        got
    }

    #[test]
    fn pattern_subscription_follows_new_topics() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("orders.eu", 1).unwrap();
        e.create_topic("users", 1).unwrap();
        let p = e.producer(&[]).unwrap();
        p.send("orders.eu", &kv("k", "1")).unwrap();
        p.send("users", &kv("k", "u")).unwrap();
        let c = e.consumer(Some("pat"), &[]).unwrap();
        c.subscribe_pattern("orders\\..*", true).unwrap();
        let got = drain(&c, 1);
        assert_eq!(got.iter().map(|r| &*r.topic).collect::<Vec<_>>(), vec!["orders.eu"]);
        // The new topic makes the member rejoin; orders.eu resumes from this commit.
        c.commit().unwrap();
        e.create_topic("orders.us", 1).unwrap();
        p.send("orders.us", &kv("k", "2")).unwrap();
        let got = drain(&c, 1);
        assert_eq!(got.iter().map(|r| &*r.topic).collect::<Vec<_>>(), vec!["orders.us"]);
        assert_eq!(c.subscription(), vec!["orders.eu".to_string(), "orders.us".to_string()]);
        let plain = e.consumer(None, &[]).unwrap();
        assert_eq!(plain.subscribe_pattern("x.*", true).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(c.subscribe_pattern("(", true).unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn pause_and_resume() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("t", 2).unwrap();
        let p = e.producer(&[]).unwrap();
        for i in 0..4 {
            p.send("t", &OutgoingRecord { partition: Some(i % 2), ..kv("k", "v") }).unwrap();
        }
        let c = e.consumer(None, &[]).unwrap();
        c.subscribe(&["t".into()], true).unwrap();
        c.pause(&[("t".into(), Some(1))]).unwrap();
        assert_eq!(c.paused(), vec![("t".to_string(), 1)]);
        let got = drain(&c, 2);
        assert!(got.iter().all(|r| r.partition == 0), "a paused partition was fetched");
        assert!(c.poll(10, 50).unwrap().is_empty());
        c.resume(&[("t".into(), None)]).unwrap();
        assert!(c.paused().is_empty());
        let got = drain(&c, 2);
        assert_eq!(got.iter().filter(|r| r.partition == 1).count(), 2);
        c.pause(&[("t".into(), None)]).unwrap();
        assert_eq!(c.paused().len(), 2);
        assert_eq!(c.pause(&[("t".into(), Some(7))]).unwrap_err().code(), ErrorCode::InvalidArgument);
    }

    #[test]
    fn transactions_commit_and_abort() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("in", 1).unwrap();
        e.create_topic("out", 1).unwrap();
        let plain = e.producer(&[]).unwrap();
        assert_eq!(plain.begin_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
        let p = e.producer(&[("transactional.id".into(), "tx-1".into())]).unwrap();
        p.init_transactions().unwrap();
        p.begin_transaction().unwrap();
        p.send("out", &kv("a", "aborted")).unwrap();
        p.abort_transaction().unwrap();
        p.begin_transaction().unwrap();
        p.send("out", &kv("c", "committed")).unwrap();
        p.send_offsets_to_transaction(&[PartitionOffset { topic: "in".into(), partition: 0, offset: 5 }], "txg").unwrap();
        p.commit_transaction().unwrap();
        assert_eq!(p.commit_transaction().unwrap_err().code(), ErrorCode::InvalidTxnState);
        let c = e.consumer(Some("txg"), &[("isolation.level".into(), "read_committed".into())]).unwrap();
        assert_eq!(c.committed(&[("in".into(), 0)]).unwrap(), vec![Some(5)]);
        c.subscribe(&["out".into()], true).unwrap();
        let got = drain(&c, 1);
        assert!(c.poll(10, 100).unwrap().is_empty());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].value.as_deref(), Some(&b"committed"[..]));
    }

    #[test]
    fn set_paused_skips_unassigned_and_resumes_the_rest() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("t", 2).unwrap();
        let c = e.consumer(None, &[]).unwrap();
        c.subscribe(&["t".into()], true).unwrap();
        c.set_paused(&[("t".into(), Some(0)), ("t".into(), Some(9)), ("other".into(), None)]).unwrap();
        assert_eq!(c.paused(), vec![("t".to_string(), 0)]);
        c.set_paused(&[("t".into(), None)]).unwrap();
        assert_eq!(c.paused().len(), 2);
        c.set_paused(&[]).unwrap();
        assert!(c.paused().is_empty());
    }

    #[test]
    fn heartbeat_reports_a_rebalance() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("h", 2).unwrap();
        let fast = [("heartbeat.interval.ms".to_string(), "20".to_string())];
        let c1 = e.consumer(Some("hb"), &fast).unwrap();
        c1.heartbeat().unwrap(); // not joined yet: nothing to check
        c1.subscribe(&["h".into()], true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while c1.assignment().len() < 2 && Instant::now() < deadline {
            c1.poll(10, 50).unwrap();
        }
        c1.heartbeat().unwrap();
        let c2 = e.consumer(Some("hb"), &fast).unwrap();
        c2.subscribe(&["h".into()], true).unwrap();
        c2.poll(10, 50).unwrap();
        assert_eq!(c1.heartbeat().unwrap_err().code(), ErrorCode::RebalanceInProgress);
        while (c1.assignment().len() != 1 || c2.assignment().len() != 1) && Instant::now() < deadline {
            c1.poll(10, 20).unwrap();
            c2.poll(10, 20).unwrap();
        }
        c1.heartbeat().unwrap();
        c2.close().unwrap();
        assert_eq!(c2.heartbeat().unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn topic_admin() {
        let e = Engine::open_in_memory().unwrap();
        e.validate_topic("fresh", 2).unwrap();
        assert_eq!(e.validate_topic("bad name", 1).unwrap_err().code(), ErrorCode::InvalidName);
        assert_eq!(e.validate_topic("fresh", 0).unwrap_err().code(), ErrorCode::InvalidArgument);
        e.create_topic_with("fresh", 1, &[("retention.ms".into(), "1000".into())]).unwrap();
        assert_eq!(e.validate_topic("fresh", 1).unwrap_err().code(), ErrorCode::TopicExists);
        e.create_partitions("fresh", 3).unwrap();
        let d = e.describe_topic("fresh").unwrap();
        assert_eq!(d.partitions.len(), 3);
        let cfg = e.describe_topic_configs("fresh").unwrap();
        assert!(cfg.iter().any(|c| c.name == "retention.ms" && c.value == "1000" && !c.is_default));
        e.alter_topic_configs("fresh", &[("retention.ms".into(), None)]).unwrap();
        assert!(e.describe_topic_configs("fresh").unwrap().iter().any(|c| c.name == "retention.ms" && c.is_default));
        let p = e.producer(&[]).unwrap();
        assert!(!p.is_transactional());
        assert_eq!(p.partitions_for("fresh").unwrap(), 3);
        let futs = p.send_many_async("fresh", (0..3).map(|i| OutgoingRecord { partition: Some(0), ..kv("k", &i.to_string()) }).collect()).unwrap();
        p.flush_within(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(futs.iter().map(|f| f.get().unwrap().offset).collect::<Vec<_>>(), vec![0, 1, 2]);
        let one = p.send_async("fresh".into(), OutgoingRecord { partition: Some(1), ..kv("k", "v") }).unwrap();
        assert_eq!(one.get().unwrap().partition, 1);
        assert_eq!(e.delete_records("fresh", 0, 2).unwrap(), 2);
        p.close_within(None).unwrap();
        assert_eq!(p.send_async("fresh".into(), kv("k", "v")).unwrap_err().code(), ErrorCode::Closed);
        let tx = e.producer(&[("transactional.id".into(), "t1".into())]).unwrap();
        assert!(tx.is_transactional());
    }

    #[test]
    fn group_admin() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("g", 1).unwrap();
        let c = e.consumer(Some("ga"), &[]).unwrap();
        c.subscribe(&["g".into()], true).unwrap();
        c.poll(10, 100).unwrap();
        c.commit_offsets(&[PartitionOffset { topic: "g".into(), partition: 0, offset: 0 }]).unwrap();
        assert!(e.list_groups().unwrap().contains(&"ga".to_string()));
        let d = e.describe_group("ga").unwrap();
        assert_eq!(d.members.len(), 1);
        let offs = e.group_offsets("ga").unwrap();
        assert_eq!(offs, vec![CommittedOffset { topic: "g".into(), partition: 0, offset: 0, metadata: String::new() }]);
        assert!(e.delete_group("ga").is_err(), "a group with members is not deleted");
        c.close().unwrap();
        e.delete_group("ga").unwrap();
        assert!(!e.list_groups().unwrap().contains(&"ga".to_string()));
    }

    #[test]
    fn send_batch_does_not_wait_out_linger() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("l", 1).unwrap();
        let p = e.producer(&[("linger.ms".into(), "5000".into())]).unwrap();
        let batch = OutgoingBatch { topic: "l".into(), records: (0..3).map(|i| kv("k", &i.to_string())).collect() };
        let t = Instant::now();
        assert_eq!(p.send_batch(&batch).unwrap().len(), 3);
        assert!(t.elapsed() < Duration::from_millis(2500), "send_batch lingered {:?}", t.elapsed());
    }
}
