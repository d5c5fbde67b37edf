//! Topics through the facade: admin calls on [`Engine`], [`Producer`] and [`Consumer`] handles,
//! records in batches ([`OutgoingBatch`] to send, [`RecordBatch`] from a poll).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kabase::group::{GroupMembership, MembershipConfig, OffsetAndMetadata, RebalanceEvent};
use kabase::log::{ConsumerConfig, NewTopic, OffsetReset, ProducerConfig, ProducerRecord, TopicPartition};
use kabase::{Error, ErrorCode, Result};
use parking_lot::Mutex;

use crate::Engine;

pub use kabase::log::{ConsumerRecord as Record, Header, RecordMetadata};

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
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
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

    /// A producer with configs by Kafka's names (`acks`, `linger.ms`, `compression.type`,
    /// `enable.idempotence`, ...).
    pub fn producer(&self, configs: &[(String, String)]) -> Result<Producer> {
        let mut config = ProducerConfig::default();
        for (k, v) in configs {
            config = config.set(k, v)?;
        }
        Ok(Producer { core: Arc::new(self.core.producer(config)?) })
    }

    /// A consumer. With a `group_id` it joins that consumer group on subscribe and commits
    /// offsets there; without one it reads every partition of its topics and cannot commit.
    /// Configs by Kafka's names (`auto.offset.reset`, `max.poll.records`, `isolation.level`).
    pub fn consumer(&self, group_id: Option<&str>, configs: &[(String, String)]) -> Result<Consumer> {
        let mut config = ConsumerConfig::default();
        for (k, v) in configs {
            config = config.set(k, v)?;
        }
        // The group is driven by the GroupMembership below, so the core consumer stays assign-only:
        // giving it `group.id` too would make it a second member of the group.
        let group = match group_id {
            Some(g) => Some(GroupMembership::new(&self.core, g, MembershipConfig::default())?),
            None => None,
        };
        let core = self.core.consumer(config.clone())?;
        Ok(Consumer {
            inner: Arc::new(Mutex::new(ConsumerState {
                engine: self.core.clone(),
                core,
                config,
                group,
                topics: Vec::new(),
                closed: false,
            })),
        })
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
}

fn to_core_record(topic: &str, r: &OutgoingRecord) -> ProducerRecord {
    ProducerRecord {
        topic: topic.to_string(),
        partition: r.partition,
        key: r.key.clone(),
        value: r.value.clone(),
        timestamp: r.timestamp,
        headers: r.headers.iter().map(|(k, v)| Header { key: k.clone(), value: Some(v.clone()) }).collect(),
    }
}

impl Producer {
    /// Send one record and wait until it is in the log.
    pub fn send(&self, topic: &str, record: &OutgoingRecord) -> Result<RecordMetadata> {
        self.core.send(to_core_record(topic, record))?.get()
    }

    /// Send a batch: every record is handed to the producer first, then each is awaited, so the
    /// records travel in as few log appends as the producer's batching allows.
    pub fn send_batch(&self, batch: &OutgoingBatch) -> Result<Vec<RecordMetadata>> {
        let futures = batch.records.iter().map(|r| self.core.send(to_core_record(&batch.topic, r))).collect::<Result<Vec<_>>>()?;
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
}

struct ConsumerState {
    engine: kabase::Engine,
    core: kabase::log::Consumer,
    config: ConsumerConfig,
    group: Option<GroupMembership>,
    topics: Vec<String>,
    closed: bool,
}

fn group_tp(tp: &TopicPartition) -> kabase::group::TopicPartition {
    kabase::group::TopicPartition::new(tp.topic.clone(), i32::try_from(tp.partition).unwrap_or(i32::MAX))
}

fn log_tp(tp: &kabase::group::TopicPartition) -> Option<TopicPartition> {
    u32::try_from(tp.partition).ok().map(|p| TopicPartition::new(tp.topic.clone(), p))
}

impl ConsumerState {
    fn check(&self) -> Result<()> {
        if self.closed {
            Err(Error::closed("consumer"))
        } else {
            Ok(())
        }
    }

    /// With a group: run the group protocol for up to `timeout` and make the fetch side follow
    /// the member's assignment, starting each new partition at its committed offset.
    fn follow_group(&mut self, timeout: Duration) -> Result<()> {
        let Some(group) = self.group.as_mut() else { return Ok(()) };
        let mut events: Vec<RebalanceEvent> = Vec::new();
        group.poll(timeout, &mut events)?;
        if events.is_empty() {
            return Ok(());
        }
        let owned: Vec<TopicPartition> = group.assignment().iter().filter_map(log_tp).collect();
        let before: BTreeSet<TopicPartition> = self.core.assignment().into_iter().collect();
        self.core.assign(&owned)?;
        let fresh: Vec<TopicPartition> = owned.iter().filter(|tp| !before.contains(*tp)).cloned().collect();
        if !fresh.is_empty() {
            let committed = group.committed(&fresh.iter().map(group_tp).collect::<Vec<_>>())?;
            for tp in &fresh {
                if let Some(om) = committed.get(&group_tp(tp)) {
                    self.core.seek(tp, om.offset)?;
                }
            }
        }
        Ok(())
    }
}

/// A consumer: owning, cheap to clone, thread-safe (calls are serialized inside, as a Kafka
/// consumer is used from one thread at a time).
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Mutex<ConsumerState>>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("topics", &self.inner.lock().topics).finish()
    }
}

impl Consumer {
    /// Subscribe to topics. `from_beginning` chooses where a partition without a committed
    /// offset starts: its first record (true) or its end (false). With a group, partitions are
    /// assigned by the group on the next polls; without, every partition of the topics is read.
    pub fn subscribe(&self, topics: &[String], from_beginning: bool) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        if topics.is_empty() {
            return Err(Error::invalid("subscribe needs at least one topic"));
        }
        let mut counts = BTreeMap::new();
        for t in topics {
            counts.insert(t.clone(), st.engine.partitions_for(t)?);
        }
        let reset = if from_beginning { OffsetReset::Earliest } else { OffsetReset::Latest };
        if st.config.auto_offset_reset != reset {
            // The reset policy is fixed when a core consumer is made: make a fresh one (nothing
            // was fetched through the old one's new subscription yet).
            let mut config = st.config.clone();
            config.auto_offset_reset = reset;
            let fresh = st.engine.consumer(config.clone())?;
            st.core.close();
            st.core = fresh;
            st.config = config;
        }
        st.topics = topics.to_vec();
        if let Some(group) = st.group.as_mut() {
            group.subscribe(counts);
            st.follow_group(Duration::from_millis(100))?;
        } else {
            let tps: Vec<TopicPartition> =
                counts.iter().flat_map(|(t, n)| (0..*n).map(move |p| TopicPartition::new(t.clone(), p))).collect();
            st.core.assign(&tps)?;
        }
        Ok(())
    }

    /// The partitions this consumer reads now.
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

    /// Up to `max_records` records, waiting up to `timeout_ms` for the first one.
    pub fn poll(&self, max_records: usize, timeout_ms: u64) -> Result<RecordBatch> {
        let mut st = self.inner.lock();
        st.check()?;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            st.follow_group(Duration::ZERO)?;
            let left = deadline.saturating_duration_since(Instant::now());
            let slice = if st.group.is_some() { left.min(Duration::from_millis(50)) } else { left };
            let records = st.core.poll_records(max_records.max(1), slice)?;
            if !records.is_empty() || Instant::now() >= deadline {
                return Ok(RecordBatch { records });
            }
        }
    }

    /// Move the position of a partition this consumer reads.
    pub fn seek(&self, topic: &str, partition: u32, offset: i64) -> Result<()> {
        let mut st = self.inner.lock();
        st.check()?;
        st.core.seek(&TopicPartition::new(topic, partition), offset)
    }

    /// Commit the current position of every partition this consumer reads (needs a group).
    pub fn commit(&self) -> Result<()> {
        let offsets = self.assignment().into_iter().filter(|p| p.offset >= 0).collect::<Vec<_>>();
        self.commit_offsets(&offsets)
    }

    /// Commit the given next offsets (needs a group).
    pub fn commit_offsets(&self, offsets: &[PartitionOffset]) -> Result<()> {
        let st = self.inner.lock();
        st.check()?;
        let group = st.group.as_ref().ok_or_else(|| Error::new(ErrorCode::InvalidArgument, "commit needs a consumer created with a group id"))?;
        let list: Vec<_> = offsets
            .iter()
            .map(|o| {
                (
                    kabase::group::TopicPartition::new(o.topic.clone(), i32::try_from(o.partition).unwrap_or(i32::MAX)),
                    OffsetAndMetadata::new(o.offset),
                )
            })
            .collect();
        group.commit(&list)
    }

    /// The committed next offsets of these partitions in the consumer's group (`None` where
    /// nothing was committed).
    pub fn committed(&self, partitions: &[(String, u32)]) -> Result<Vec<Option<i64>>> {
        let st = self.inner.lock();
        st.check()?;
        let group = st.group.as_ref().ok_or_else(|| Error::new(ErrorCode::InvalidArgument, "committed offsets need a consumer created with a group id"))?;
        let tps: Vec<_> = partitions.iter().map(|(t, p)| group_tp(&TopicPartition::new(t.clone(), *p))).collect();
        let got = group.committed(&tps)?;
        Ok(tps.iter().map(|tp| got.get(tp).map(|o| o.offset)).collect())
    }

    /// Leave the group (if any) and stop; later calls fail with `Closed`. Closing twice is OK.
    pub fn close(&self) -> Result<()> {
        let mut st = self.inner.lock();
        if st.closed {
            return Ok(());
        }
        st.closed = true;
        st.core.close();
        if let Some(group) = st.group.take() {
            let mut events: Vec<RebalanceEvent> = Vec::new();
            group.close(&mut events)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
