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

use super::batch::{self, ControlType, Header, TimestampType};
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
        }
    }
}

impl ConsumerConfig {
    /// Set one config by Kafka's name (`auto.offset.reset`, `isolation.level`,
    /// `max.poll.records`, `max.partition.fetch.bytes`, `fetch.max.bytes`, `group.id`,
    /// `client.id`).
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
struct PartState {
    position: Option<i64>,
    paused: bool,
    buffered: VecDeque<ConsumerRecord>,
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
    shared: Arc<TopicsShared>,
    config: ConsumerConfig,
    parts: BTreeMap<TopicPartition, PartState>,
    committed: Option<Arc<dyn CommittedOffsets>>,
    next_start: usize,
    closed: bool,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("assignment", &self.parts.keys().collect::<Vec<_>>()).finish()
    }
}

impl crate::Engine {
    /// Create a consumer (fetch side; see [`Consumer`]).
    pub fn consumer(&self, config: ConsumerConfig) -> Result<Consumer> {
        Ok(Consumer { shared: Arc::clone(self.topics()?), config, parts: BTreeMap::new(), committed: None, next_start: 0, closed: false })
    }
}

impl Consumer {
    fn check(&self) -> Result<()> {
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
        s.buffered.clear();
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
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.shared.signal.current();
            let out = self.fetch_once(max_records.max(1))?;
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
            self.shared.signal.wait(seen, deadline);
            self.check()?;
        }
    }

    fn fetch_once(&mut self, max_records: usize) -> Result<Vec<ConsumerRecord>> {
        let tps: Vec<TopicPartition> = self.parts.iter().filter(|(_, s)| !s.paused).map(|(tp, _)| tp.clone()).collect();
        let mut out = Vec::new();
        if tps.is_empty() {
            return Ok(out);
        }
        let start = self.next_start % tps.len();
        self.next_start = self.next_start.wrapping_add(1);
        let mut budget = self.config.fetch_max_bytes;
        for i in 0..tps.len() {
            if out.len() >= max_records {
                break;
            }
            let tp = &tps[(start + i) % tps.len()];
            let pos = self.resolve_position(tp)?;
            if self.state(tp)?.buffered.is_empty() && budget > 0 {
                let part = self.shared.partition(tp)?;
                let max = self.config.max_partition_fetch_bytes.min(budget).max(1);
                let data = part.read(pos, max, self.config.isolation_level)?;
                budget = budget.saturating_sub(data.bytes.len());
                let topic: Arc<str> = Arc::from(tp.topic.as_str());
                let (records, next) = decode_fetch(&topic, tp.partition, pos, &data, self.config.isolation_level)?;
                let s = self.state(tp)?;
                s.buffered.extend(records);
                if s.buffered.is_empty() {
                    // Only skipped data (control or aborted batches): move past it.
                    s.position = Some(next.max(pos));
                }
            }
            let s = self.state(tp)?;
            while out.len() < max_records {
                let Some(r) = s.buffered.pop_front() else { break };
                s.position = Some(r.offset + 1);
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Close the consumer.
    pub fn close(&mut self) {
        self.closed = true;
        self.parts.clear();
    }
}

/// Turn fetched batches into records: skip records before `fetch_offset`, control batches, and
/// (read_committed) batches of aborted transactions. Returns the records and the offset after
/// the last batch looked at.
fn decode_fetch(topic: &Arc<str>, partition: u32, fetch_offset: i64, data: &FetchData, isolation: IsolationLevel) -> Result<(Vec<ConsumerRecord>, i64)> {
    let mut out = Vec::new();
    let mut next = fetch_offset;
    let mut aborted: Vec<_> = data.aborted.clone();
    aborted.sort_by_key(|t| t.first_offset);
    let mut aborted = VecDeque::from(aborted);
    let mut aborted_pids: BTreeSet<i64> = BTreeSet::new();
    for b in batch::batches(&data.bytes) {
        let (h, bytes) = b?;
        next = h.next_offset();
        if isolation == IsolationLevel::ReadCommitted && h.has_producer_id() {
            while aborted.front().is_some_and(|t| t.first_offset <= h.last_offset()) {
                if let Some(t) = aborted.pop_front() {
                    aborted_pids.insert(t.producer_id);
                }
            }
            if h.is_transactional() && !h.is_control() && aborted_pids.contains(&h.producer_id) {
                continue;
            }
        }
        if h.is_control() {
            if isolation == IsolationLevel::ReadCommitted {
                let (_, recs) = batch::decode_records(bytes)?;
                if let Some(Ok(ControlType::Abort)) = recs.first().and_then(|r| r.key.as_deref()).map(batch::parse_control_key) {
                    aborted_pids.remove(&h.producer_id);
                }
            }
            continue;
        }
        let (_, recs) = batch::decode_records(bytes)?;
        let tt = h.timestamp_type();
        for r in recs {
            if r.offset < fetch_offset {
                continue;
            }
            out.push(ConsumerRecord { topic: Arc::clone(topic), partition, offset: r.offset, timestamp: r.timestamp, timestamp_type: tt, key: r.key, value: r.value, headers: r.headers });
        }
    }
    Ok((out, next))
}
