//! The consumer's fetch side: assignment, positions, poll, seek, pause/resume,
//! `auto.offset.reset`, `isolation.level`, offsets by time, beginning/end offsets.
//!
//! Group membership is not handled here: a group coordinator drives the assignment through
//! [`Consumer::assign`] (which keeps the positions of partitions that stay assigned) and
//! supplies committed offsets through a [`CommittedOffsets`] source; a partition without a
//! position starts from its committed offset, else from `auto.offset.reset`.
//!
//! Under `read_committed` a poll stops at the last stable offset and drops the batches of
//! aborted transactions, using the aborted-transaction list the log returns with each read
//! (built from `.txnindex`), exactly as Kafka's fetcher does; control records are never
//! returned in either mode.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::batch::{self, ControlType, Header, HeaderIter, RecordRef, TimestampType};
use super::index::AbortedTxn;
use super::partition::{FetchData, IsolationLevel};
use super::{TopicPartition, TopicsShared};
use crate::error::{Error, ErrorCode, Result};

/// `auto.offset.reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// Start at the log start offset.
    Earliest,
    /// Start at the end (default).
    #[default]
    Latest,
    /// Fail with [`ErrorCode::NoOffsetForPartition`].
    None,
}

/// Consumer settings, by Kafka's names through [`ConsumerConfig::set`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `auto.offset.reset` (default latest).
    pub auto_offset_reset: OffsetReset,
    /// `isolation.level` (default read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `max.poll.records` (default 500).
    pub max_poll_records: usize,
    /// `max.partition.fetch.bytes` (default 1 MiB).
    pub max_partition_fetch_bytes: usize,
    /// `fetch.max.bytes` (default 50 MiB).
    pub fetch_max_bytes: usize,
    /// `group.id` (used by the group side; the fetch side only carries it).
    pub group_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// `enable.auto.commit` (default true when `group.id` is set).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5000).
    pub auto_commit_interval: Duration,
    /// Group membership keys passed to [`crate::group::MembershipConfig::from_properties`]:
    /// `group.instance.id`, `partition.assignment.strategy`, `session.timeout.ms`,
    /// `max.poll.interval.ms`, `heartbeat.interval.ms`.
    pub group_properties: Vec<(String, String)>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            auto_offset_reset: OffsetReset::Latest,
            isolation_level: IsolationLevel::ReadUncommitted,
            max_poll_records: 500,
            max_partition_fetch_bytes: 1 << 20,
            fetch_max_bytes: 50 << 20,
            group_id: None,
            client_id: String::new(),
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_millis(5000),
            group_properties: Vec::new(),
        }
    }
}

impl ConsumerConfig {
    /// Set one config by Kafka's name (`auto.offset.reset`, `isolation.level`,
    /// `max.poll.records`, `max.partition.fetch.bytes`, `fetch.max.bytes`, `group.id`,
    /// `client.id`, `enable.auto.commit`, `auto.commit.interval.ms`, and the group keys
    /// `group.instance.id`, `partition.assignment.strategy`, `session.timeout.ms`,
    /// `max.poll.interval.ms`, `heartbeat.interval.ms`).
    pub fn set(mut self, key: &str, value: &str) -> Result<ConsumerConfig> {
        let bad = |rule: &str| Error::new(ErrorCode::InvalidConfig, format!("invalid value {value:?} for consumer config {key}: {rule}"));
        let num = || -> Result<usize> {
            let v: usize = value.trim().parse().map_err(|_| bad("expected a positive integer"))?;
            if v == 0 {
                return Err(bad("must be at least 1"));
            }
            Ok(v)
        };
        match key {
            "auto.offset.reset" => {
                self.auto_offset_reset = match value {
                    "earliest" => OffsetReset::Earliest,
                    "latest" => OffsetReset::Latest,
                    "none" => OffsetReset::None,
                    _ => return Err(bad("expected earliest, latest or none")),
                }
            }
            "isolation.level" => self.isolation_level = IsolationLevel::parse(value)?,
            "max.poll.records" => self.max_poll_records = num()?,
            "max.partition.fetch.bytes" => self.max_partition_fetch_bytes = num()?,
            "fetch.max.bytes" => self.fetch_max_bytes = num()?,
            "group.id" => self.group_id = Some(value.to_string()),
            "client.id" => self.client_id = value.to_string(),
            "enable.auto.commit" => {
                self.enable_auto_commit = match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad("expected true or false")),
                }
            }
            "auto.commit.interval.ms" => self.auto_commit_interval = Duration::from_millis(num()? as u64),
            "group.instance.id" | "partition.assignment.strategy" | "session.timeout.ms" | "max.poll.interval.ms" | "heartbeat.interval.ms" => {
                self.group_properties.retain(|(k, _)| k != key);
                self.group_properties.push((key.to_string(), value.to_string()));
            }
            _ => return Err(Error::new(ErrorCode::InvalidConfig, format!("unknown consumer config {key:?}"))),
        }
        Ok(self)
    }
}

/// A consumed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// CreateTime or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// Key (`None` = null).
    pub key: Option<Vec<u8>>,
    /// Value (`None` = null).
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<Header>,
}

/// A consumed record borrowed from the fetched bytes (see [`Consumer::poll_for_each`]): nothing
/// is copied or allocated for it. Same fields as [`ConsumerRecord`].
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: i64,
    /// Timestamp.
    pub timestamp: i64,
    /// CreateTime or LogAppendTime.
    pub timestamp_type: TimestampType,
    /// Key (`None` = null).
    pub key: Option<&'a [u8]>,
    /// Value (`None` = null).
    pub value: Option<&'a [u8]>,
    record: RecordRef<'a>,
}

impl<'a> RecordView<'a> {
    /// The headers in order as `(key, value)`.
    pub fn headers(&self) -> HeaderIter<'a> {
        self.record.headers()
    }
    /// Number of headers.
    pub fn header_count(&self) -> usize {
        self.record.header_count()
    }
    /// An owned copy.
    pub fn to_record(&self) -> ConsumerRecord {
        owned_record(Arc::from(self.topic), self.partition, &self.record, self.timestamp_type)
    }
}

/// Result of [`Consumer::offsets_for_times`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// First offset whose timestamp is at least the one asked for.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
}

/// Where a partition without a position finds its committed offset (the group side's offset
/// store implements this).
pub trait CommittedOffsets: Send + Sync {
    /// The committed next offset to consume, if any.
    fn committed(&self, tp: &TopicPartition) -> Result<Option<i64>>;
}

#[derive(Default)]
pub(crate) struct PartState {
    position: Option<i64>,
    paused: bool,
    /// Fetched batches not yet wholly returned; records are decoded from them on demand.
    fetched: Option<Fetched>,
}

/// The bytes of one read of a partition and how far polls have got through them.
struct Fetched {
    bytes: Vec<u8>,
    /// Start of the first batch not yet wholly returned.
    pos: usize,
    /// Offset after the last batch passed.
    next: i64,
    /// Whether any record of these bytes was returned.
    delivered: bool,
    /// read_committed: aborted transactions not yet reached, and producers inside one.
    aborted: VecDeque<AbortedTxn>,
    aborted_pids: BTreeSet<i64>,
}

/// A consumer (one thread at a time, as Kafka's).
///
/// ```
/// use kabase::log::{ConsumerConfig, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};
/// let engine = kabase::Engine::open_in_memory().unwrap();
/// engine.create_topic(NewTopic::new("t", 1)).unwrap();
/// let p = engine.producer(ProducerConfig::default()).unwrap();
/// for i in 0..3 { p.send(ProducerRecord::new("t", format!("v{i}"))).unwrap(); }
/// p.flush().unwrap();
/// let mut c = engine.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
/// let tp = TopicPartition::new("t", 0);
/// c.assign(&[tp.clone()]).unwrap();
/// let got = c.poll(std::time::Duration::from_millis(500)).unwrap();
/// assert_eq!(got.len(), 3);
/// assert_eq!(c.position(&tp).unwrap(), 3);
/// ```
pub struct Consumer {
    pub(crate) shared: Arc<TopicsShared>,
    pub(crate) config: ConsumerConfig,
    pub(crate) parts: BTreeMap<TopicPartition, PartState>,
    committed: Option<Arc<dyn CommittedOffsets>>,
    next_start: usize,
    /// A fetch buffer kept for the next read (no fresh 1 MiB allocation per fetch).
    spare: Vec<u8>,
    closed: bool,
    /// Present when `group.id` is set (see [`super::subscription`]).
    pub(crate) group: Option<Box<super::subscription::GroupCtx>>,
    pub(crate) groups: Option<Arc<crate::group::Shared>>,
    /// The member's metadata while a rebalance callback runs.
    pub(crate) rebalance_meta: Option<crate::group::ConsumerGroupMetadata>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("assignment", &self.parts.keys().collect::<Vec<_>>()).finish()
    }
}

impl crate::Engine {
    /// Create a consumer (fetch side; see [`Consumer`]).
    /// With `group.id` set the consumer can [`Consumer::subscribe`] and commit (see
    /// [`super::subscription`]).
    pub fn consumer(&self, config: ConsumerConfig) -> Result<Consumer> {
        let mut c = Consumer {
            shared: Arc::clone(self.topics()?),
            config,
            parts: BTreeMap::new(),
            committed: None,
            next_start: 0,
            spare: Vec::new(),
            closed: false,
            group: None,
            groups: None,
            rebalance_meta: None,
        };
        if let Some(gid) = c.config.group_id.clone() {
            let mut props = c.config.group_properties.clone();
            if !c.config.client_id.is_empty() {
                props.push(("client.id".into(), c.config.client_id.clone()));
            }
            let mcfg = crate::group::MembershipConfig::from_properties(&props)?;
            let membership = crate::group::GroupMembership::new(self, &gid, mcfg)?;
            let shared = Arc::clone(&self.inner.groups.shared);
            c.committed = Some(Arc::new(super::subscription::GroupCommitted { shared: Arc::clone(&shared), group: gid }));
            c.groups = Some(shared);
            c.group = Some(Box::new(super::subscription::GroupCtx {
                membership,
                sub: super::subscription::Sub::None,
                listener: None,
                auto_commit: c.config.enable_auto_commit,
                interval: c.config.auto_commit_interval,
                last_commit: Instant::now(),
            }));
        }
        Ok(c)
    }
}

impl Consumer {
    pub(crate) fn check(&self) -> Result<()> {
        if self.closed {
            return Err(Error::closed("consumer"));
        }
        self.shared.check_open()
    }

    /// The config.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// Replace the assignment. Partitions that stay keep their position; new ones start
    /// without one (committed offset, then `auto.offset.reset`).
    pub fn assign(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.check()?;
        if self.is_subscribed() {
            return Err(Error::invalid("assign is not allowed while subscribed; call unsubscribe first"));
        }
        for tp in partitions {
            self.shared.partition(tp)?;
        }
        let keep: HashSet<&TopicPartition> = partitions.iter().collect();
        self.parts.retain(|tp, _| keep.contains(tp));
        for tp in partitions {
            self.parts.entry(tp.clone()).or_default();
        }
        Ok(())
    }

    /// Drop the whole assignment.
    pub fn unassign(&mut self) {
        self.parts.clear();
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.parts.keys().cloned().collect()
    }

    /// Where committed offsets come from for partitions without a position.
    pub fn set_committed_offsets(&mut self, source: Arc<dyn CommittedOffsets>) {
        self.committed = Some(source);
    }

    fn state(&mut self, tp: &TopicPartition) -> Result<&mut PartState> {
        self.parts.get_mut(tp).ok_or_else(|| Error::new(ErrorCode::InvalidArgument, format!("partition {tp} is not assigned to this consumer")))
    }

    /// Set the next offset to fetch.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.check()?;
        if offset < 0 {
            return Err(Error::invalid(format!("seek offset {offset} is negative")));
        }
        let s = self.state(tp)?;
        s.position = Some(offset);
        s.fetched = None;
        Ok(())
    }

    /// Seek to the log start offset.
    pub fn seek_to_beginning(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.check()?;
        for tp in tps {
            let off = self.shared.partition(tp)?.log_start_offset();
            self.seek(tp, off)?;
        }
        Ok(())
    }

    /// Seek to the end (the LSO under read_committed).
    pub fn seek_to_end(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.check()?;
        for tp in tps {
            let off = self.end_offset(tp)?;
            self.seek(tp, off)?;
        }
        Ok(())
    }

    fn end_offset(&self, tp: &TopicPartition) -> Result<i64> {
        let (_, leo, _, lso) = self.shared.partition(tp)?.offsets();
        Ok(if self.config.isolation_level == IsolationLevel::ReadCommitted { lso } else { leo })
    }

    fn resolve_position(&mut self, tp: &TopicPartition) -> Result<i64> {
        if let Some(p) = self.state(tp)?.position {
            return Ok(p);
        }
        let committed = match &self.committed {
            Some(c) => c.committed(tp)?,
            None => None,
        };
        let pos = match committed {
            Some(o) => o,
            None => match self.config.auto_offset_reset {
                OffsetReset::Earliest => self.shared.partition(tp)?.log_start_offset(),
                OffsetReset::Latest => self.end_offset(tp)?,
                OffsetReset::None => {
                    return Err(Error::new(ErrorCode::NoOffsetForPartition, format!("no committed offset for {tp} and auto.offset.reset=none")));
                }
            },
        };
        self.state(tp)?.position = Some(pos);
        Ok(pos)
    }

    /// The next offset this consumer will fetch (resolving it if needed).
    pub fn position(&mut self, tp: &TopicPartition) -> Result<i64> {
        self.check()?;
        self.resolve_position(tp)
    }

    /// Positions of every assigned partition that has one (what a group commits).
    pub fn positions(&self) -> Vec<(TopicPartition, i64)> {
        self.parts.iter().filter_map(|(tp, s)| s.position.map(|p| (tp.clone(), p))).collect()
    }

    /// Stop fetching from these partitions until [`Consumer::resume`].
    pub fn pause(&mut self, tps: &[TopicPartition]) -> Result<()> {
        for tp in tps {
            self.state(tp)?.paused = true;
        }
        Ok(())
    }

    /// Fetch again from paused partitions.
    pub fn resume(&mut self, tps: &[TopicPartition]) -> Result<()> {
        for tp in tps {
            self.state(tp)?.paused = false;
        }
        Ok(())
    }

    /// The paused partitions.
    pub fn paused(&self) -> Vec<TopicPartition> {
        self.parts.iter().filter(|(_, s)| s.paused).map(|(tp, _)| tp.clone()).collect()
    }

    /// Log start offsets.
    pub fn beginning_offsets(&self, tps: &[TopicPartition]) -> Result<Vec<(TopicPartition, i64)>> {
        self.check()?;
        tps.iter().map(|tp| Ok((tp.clone(), self.shared.partition(tp)?.log_start_offset()))).collect()
    }

    /// End offsets (LEO, or the LSO under read_committed).
    pub fn end_offsets(&self, tps: &[TopicPartition]) -> Result<Vec<(TopicPartition, i64)>> {
        self.check()?;
        tps.iter().map(|tp| Ok((tp.clone(), self.end_offset(tp)?))).collect()
    }

    /// For each partition, the first offset whose timestamp is ≥ the given one (`None` if no
    /// such record), found through the time index.
    pub fn offsets_for_times(&self, query: &[(TopicPartition, i64)]) -> Result<Vec<(TopicPartition, Option<OffsetAndTimestamp>)>> {
        self.check()?;
        query
            .iter()
            .map(|(tp, ts)| {
                if *ts < 0 {
                    return Err(Error::invalid(format!("timestamp {ts} for {tp} is negative")));
                }
                let r = self.shared.partition(tp)?.offset_for_time(*ts)?;
                Ok((tp.clone(), r.map(|(timestamp, offset)| OffsetAndTimestamp { offset, timestamp })))
            })
            .collect()
    }

    /// Fetch up to `max.poll.records` records, waiting up to `timeout` for data.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let n = self.config.max_poll_records;
        self.poll_records(n, timeout)
    }

    /// Fetch up to `max_records` records, waiting up to `timeout` for the first ones (the wait
    /// wakes as soon as any partition gets an append).
    pub fn poll_records(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.check()?;
        if self.is_subscribed() {
            return self.poll_group(max_records, timeout);
        }
        self.fetch_until(max_records, crate::util::deadline(timeout))
    }

    /// Fetch up to `max.poll.records` records like [`Consumer::poll`], but hand each one to `f`
    /// as a [`RecordView`] borrowed from the fetched bytes instead of returning owned records:
    /// no allocation or copy per record. Returns how many records `f` saw. Positions move as
    /// with `poll`. If an error is returned, records `f` saw in this call may be handed out again
    /// by the next poll.
    ///
    /// ```
    /// use kabase::log::{ConsumerConfig, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};
    /// let engine = kabase::Engine::open_in_memory().unwrap();
    /// engine.create_topic(NewTopic::new("t", 1)).unwrap();
    /// let p = engine.producer(ProducerConfig::default()).unwrap();
    /// for i in 0..3 { p.send(ProducerRecord::new("t", format!("v{i}")).header("h", "x")).unwrap(); }
    /// p.flush().unwrap();
    /// let mut c = engine.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
    /// c.assign(&[TopicPartition::new("t", 0)]).unwrap();
    /// let mut total = 0;
    /// let n = c.poll_for_each(std::time::Duration::from_millis(500), |r| {
    ///     total += r.value.map_or(0, |v| v.len());
    ///     assert_eq!(r.headers().next(), Some(("h", Some(&b"x"[..]))));
    /// }).unwrap();
    /// assert_eq!((n, total), (3, 6));
    /// ```
    pub fn poll_for_each(&mut self, timeout: Duration, f: impl FnMut(&RecordView<'_>)) -> Result<usize> {
        let n = self.config.max_poll_records;
        self.poll_records_for_each(n, timeout, f)
    }

    /// [`Consumer::poll_for_each`] with an explicit record limit.
    pub fn poll_records_for_each(&mut self, max_records: usize, timeout: Duration, mut f: impl FnMut(&RecordView<'_>)) -> Result<usize> {
        self.check()?;
        let mut sink = |tp: &TopicPartition, r: &RecordRef<'_>, tt: TimestampType| {
            f(&RecordView { topic: &tp.topic, partition: tp.partition, offset: r.offset, timestamp: r.timestamp, timestamp_type: tt, key: r.key, value: r.value, record: *r });
        };
        if self.is_subscribed() {
            return self.poll_group_with(max_records, timeout, &mut sink);
        }
        self.fetch_until_with(max_records, crate::util::deadline(timeout), &mut sink)
    }

    /// [`Consumer::poll`] into `records`, reusing it: the records a previous call left there
    /// are refilled in place (their key and value buffers keep their allocations), extra ones
    /// are appended, and `records` ends up holding exactly this poll's records. A loop that
    /// hands the same vector back allocates nothing per record once the buffers have grown
    /// (headers, when present, are still allocated). Returns the count. If an error is
    /// returned, `records` holds what was filled before it, and those may be polled again.
    ///
    /// ```
    /// use kabase::log::{ConsumerConfig, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};
    /// let engine = kabase::Engine::open_in_memory().unwrap();
    /// engine.create_topic(NewTopic::new("t", 1)).unwrap();
    /// let p = engine.producer(ProducerConfig::default()).unwrap();
    /// for i in 0..5 { p.send(ProducerRecord::new("t", format!("v{i}"))).unwrap(); }
    /// p.flush().unwrap();
    /// let mut c = engine.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()
    ///     .set("max.poll.records", "3").unwrap()).unwrap();
    /// c.assign(&[TopicPartition::new("t", 0)]).unwrap();
    /// let mut records = Vec::new();
    /// assert_eq!(c.poll_into(std::time::Duration::from_millis(500), &mut records).unwrap(), 3);
    /// assert_eq!(c.poll_into(std::time::Duration::from_millis(500), &mut records).unwrap(), 2);
    /// assert_eq!((records.len(), records[1].value.as_deref()), (2, Some(&b"v4"[..])));
    /// ```
    pub fn poll_into(&mut self, timeout: Duration, records: &mut Vec<ConsumerRecord>) -> Result<usize> {
        self.check()?;
        let max_records = self.config.max_poll_records;
        let mut filled = 0usize;
        let mut topic: Option<Arc<str>> = None;
        let r = {
            let mut sink = |tp: &TopicPartition, r: &RecordRef<'_>, tt: TimestampType| {
                if let Some(rec) = records.get_mut(filled) {
                    if *rec.topic != *tp.topic {
                        rec.topic = shared_topic(&mut topic, tp);
                    }
                    rec.partition = tp.partition;
                    rec.offset = r.offset;
                    rec.timestamp = r.timestamp;
                    rec.timestamp_type = tt;
                    refill(&mut rec.key, r.key);
                    refill(&mut rec.value, r.value);
                    if r.header_count() == 0 {
                        rec.headers.clear();
                    } else {
                        rec.headers = r.owned_headers();
                    }
                } else {
                    records.push(owned_record(shared_topic(&mut topic, tp), tp.partition, r, tt));
                }
                filled += 1;
            };
            if self.is_subscribed() {
                self.poll_group_with(max_records, timeout, &mut sink)
            } else {
                self.fetch_until_with(max_records, crate::util::deadline(timeout), &mut sink)
            }
        };
        records.truncate(filled);
        r
    }

    /// Fetch, waiting until `deadline` for the first records.
    pub(crate) fn fetch_until(&mut self, max_records: usize, deadline: Instant) -> Result<Vec<ConsumerRecord>> {
        // Sized for a full poll up front (bounded: a long poll often returns a few records),
        // so a large `max.poll.records` does not regrow and copy the vector several times.
        let mut out = Vec::with_capacity(max_records.clamp(1, 16_384));
        let mut topic: Option<Arc<str>> = None;
        self.fetch_until_with(max_records, deadline, &mut |tp, r, tt| {
            out.push(owned_record(shared_topic(&mut topic, tp), tp.partition, r, tt));
        })?;
        Ok(out)
    }

    /// Fetch into `sink`, waiting until `deadline` for the first records; returns the count.
    pub(crate) fn fetch_until_with(&mut self, max_records: usize, deadline: Instant, sink: &mut RecordSink<'_>) -> Result<usize> {
        loop {
            let seen = self.shared.signal.current();
            let n = self.fetch_once(max_records.max(1), sink)?;
            if n > 0 || Instant::now() >= deadline {
                return Ok(n);
            }
            self.shared.signal.wait(seen, deadline);
            self.check()?;
        }
    }

    fn fetch_once(&mut self, max_records: usize, sink: &mut RecordSink<'_>) -> Result<usize> {
        let tps: Vec<TopicPartition> = self.parts.iter().filter(|(_, s)| !s.paused).map(|(tp, _)| tp.clone()).collect();
        let mut n = 0;
        if tps.is_empty() {
            return Ok(0);
        }
        let start = self.next_start % tps.len();
        self.next_start = self.next_start.wrapping_add(1);
        let mut budget = self.config.fetch_max_bytes;
        let isolation = self.config.isolation_level;
        for i in 0..tps.len() {
            if n >= max_records {
                break;
            }
            let tp = &tps[(start + i) % tps.len()];
            let pos = self.resolve_position(tp)?;
            if self.state(tp)?.fetched.is_none() && budget > 0 {
                let part = self.shared.partition(tp)?;
                let max = self.config.max_partition_fetch_bytes.min(budget).max(1);
                let data = part.read_into(pos, max, isolation, std::mem::take(&mut self.spare))?;
                budget = budget.saturating_sub(data.bytes.len());
                self.state(tp)?.fetched = Some(Fetched::new(data, pos));
            }
            let s = self.parts.get_mut(tp).ok_or_else(|| Error::internal("assigned partition vanished"))?;
            n += drain(tp, s, max_records - n, isolation, sink, &mut self.spare)?;
        }
        Ok(n)
    }

    /// Close the consumer. With a group: commit positions (when auto-commit is on), revoke
    /// through the listener and leave the group. Closing twice is a no-op.
    pub fn close(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = if self.shared.check_open().is_ok() { self.close_group() } else { Ok(()) };
        self.group = None;
        self.closed = true;
        self.parts.clear();
        r
    }
}

/// An owned copy of a fetched record (key, value and headers copied out of the batch).
fn owned_record(topic: Arc<str>, partition: u32, r: &RecordRef<'_>, timestamp_type: TimestampType) -> ConsumerRecord {
    ConsumerRecord {
        topic,
        partition,
        offset: r.offset,
        timestamp: r.timestamp,
        timestamp_type,
        key: r.key.map(<[u8]>::to_vec),
        value: r.value.map(<[u8]>::to_vec),
        headers: r.owned_headers(),
    }
}

/// The topic name of `tp` as a shared string, allocated once per poll and topic.
fn shared_topic(cache: &mut Option<Arc<str>>, tp: &TopicPartition) -> Arc<str> {
    match cache {
        Some(t) if **t == *tp.topic => Arc::clone(t),
        _ => {
            let t: Arc<str> = Arc::from(tp.topic.as_str());
            *cache = Some(Arc::clone(&t));
            t
        }
    }
}

/// Copy `src` into `dst`, reusing `dst`'s buffer when both are present.
fn refill(dst: &mut Option<Vec<u8>>, src: Option<&[u8]>) {
    match (src, dst.as_mut()) {
        (Some(s), Some(d)) => {
            d.clear();
            d.extend_from_slice(s);
        }
        (Some(s), None) => *dst = Some(s.to_vec()),
        (None, _) => *dst = None,
    }
}

/// Receives each record a poll returns.
pub(crate) type RecordSink<'s> = dyn FnMut(&TopicPartition, &RecordRef<'_>, TimestampType) + 's;

impl Fetched {
    fn new(data: FetchData, fetch_offset: i64) -> Fetched {
        let mut aborted = data.aborted;
        aborted.sort_by_key(|t| t.first_offset);
        Fetched { bytes: data.bytes, pos: 0, next: fetch_offset, delivered: false, aborted: VecDeque::from(aborted), aborted_pids: BTreeSet::new() }
    }
}

/// Hand up to `max` records of a partition's fetched bytes to `sink`, decoding them in place:
/// skip records before the position, control batches, and (read_committed) batches of
/// aborted transactions, as Kafka's fetcher does. The log checked every batch's CRC when it
/// read them, so only headers and record framing are checked here. Returns the count.
fn drain(tp: &TopicPartition, s: &mut PartState, max: usize, isolation: IsolationLevel, sink: &mut RecordSink<'_>, spare: &mut Vec<u8>) -> Result<usize> {
    let Some(f) = s.fetched.as_mut() else { return Ok(0) };
    let mut position = s.position.unwrap_or(f.next);
    let mut n = 0usize;
    let mut exhausted = false;
    loop {
        if f.pos + batch::HEADER_SIZE > f.bytes.len() {
            exhausted = true;
            break;
        }
        if n >= max {
            break;
        }
        let rest = &f.bytes[f.pos..];
        let h = batch::parse_header(rest)?;
        let size = h.size();
        if rest.len() < size {
            exhausted = true;
            break;
        }
        let bytes = &rest[..size];
        if isolation == IsolationLevel::ReadCommitted && h.has_producer_id() {
            while f.aborted.front().is_some_and(|t| t.first_offset <= h.last_offset()) {
                if let Some(t) = f.aborted.pop_front() {
                    f.aborted_pids.insert(t.producer_id);
                }
            }
            if h.is_transactional() && !h.is_control() && f.aborted_pids.contains(&h.producer_id) {
                f.pos += size;
                f.next = h.next_offset();
                continue;
            }
        }
        if h.is_control() {
            if isolation == IsolationLevel::ReadCommitted {
                let mut kind = None;
                batch::for_each_record(&h, bytes, |r| {
                    kind = r.key.map(batch::parse_control_key);
                    false
                })?;
                if let Some(Ok(ControlType::Abort)) = kind {
                    f.aborted_pids.remove(&h.producer_id);
                }
            }
            f.pos += size;
            f.next = h.next_offset();
            continue;
        }
        if h.last_offset() >= position {
            let tt = h.timestamp_type();
            let mut stopped = false;
            batch::for_each_record(&h, bytes, |r| {
                if r.offset < position {
                    return true;
                }
                if n >= max {
                    stopped = true;
                    return false;
                }
                sink(tp, &r, tt);
                n += 1;
                position = r.offset + 1;
                true
            })?;
            if stopped {
                break;
            }
        }
        f.pos += size;
        f.next = h.next_offset();
    }
    if n > 0 {
        f.delivered = true;
        s.position = Some(position);
    }
    if exhausted {
        // Everything usable was returned. Nothing at all (only skipped data): move past it.
        if !f.delivered {
            s.position = Some(f.next.max(position));
        }
        if let Some(f) = s.fetched.take() {
            if f.bytes.capacity() > spare.capacity() {
                *spare = f.bytes;
            }
        }
    }
    Ok(n)
}
