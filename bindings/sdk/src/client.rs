//! [`KafkaConsumer`]: the core's consumer with the Kafka client's own semantics, for bindings
//! that mirror the Java client or kafka-python (the Python package's `KafkaConsumer`).
//!
//! Where [`crate::Consumer`] is shaped for kafkajs (subscribe with `fromBeginning`, auto-commit
//! off), this handle keeps Kafka's configs as they are (`enable.auto.commit` defaults to on),
//! and adds what a Kafka client has and the core's consumer leaves to its host:
//!
//! - A consumer *without* a group id may still subscribe (kafka-python allows it): it then reads
//!   every partition of the subscribed topics, refreshed on each poll. Patterns match whole topic
//!   names, internal (`__`) topics excluded, as the core's group subscription does.
//! - A rebalance listener is a host callback ([`RebalanceCallback`]). The core calls it inside
//!   `poll`, `unsubscribe` and `close` with the consumer in hand; the facade parks that consumer
//!   in a thread-local slot while the callback runs, so the callback's own calls on this handle
//!   (`position`, `seek`, `commit`, `committed`, ...) reach it instead of waiting on the lock its
//!   caller holds. Calls that change the subscription or poll are refused inside a callback.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use kabase::group::{OffsetAndMetadata, TopicPartition as GroupTp};
use kabase::log::{Consumer as CoreConsumer, ConsumerConfig, ConsumerRebalanceListener, TopicPartition};
use kabase::{Error, ErrorCode, Result};
use parking_lot::Mutex;

use crate::{Engine, PackedRecords, Record};

/// A host's rebalance listener (Kafka's `ConsumerRebalanceListener`), given `(topic,
/// partition)` lists. It runs on the thread of the call that triggered the rebalance, and may
/// call the consumer's position, seek, commit and offset methods.
pub trait RebalanceCallback: Send {
    /// Partitions taken away in an orderly rebalance (commit their progress here).
    fn on_partitions_revoked(&mut self, partitions: &[(String, u32)]);
    /// Partitions given to this consumer.
    fn on_partitions_assigned(&mut self, partitions: &[(String, u32)]);
    /// Partitions lost without a chance to commit; by default handled as revoked.
    fn on_partitions_lost(&mut self, partitions: &[(String, u32)]) {
        self.on_partitions_revoked(partitions);
    }
}

/// `(topic, partition, (offset, timestamp) | None)` of an offsets-for-times answer.
pub type OffsetForTime = (String, u32, Option<(i64, i64)>);

/// What a consumer without a group id subscribed to.
enum Groupless {
    None,
    Topics(Vec<String>),
    Pattern(regex::Regex),
}

struct Inner {
    engine: kabase::Engine,
    consumer: CoreConsumer,
    groupless: Groupless,
    has_group: bool,
}

impl Inner {
    /// Topics a group-less subscription names that exist now, with their partition counts.
    fn groupless_topics(&self) -> Result<Vec<(String, u32)>> {
        let names: Vec<String> = match &self.groupless {
            Groupless::Topics(t) => t.clone(),
            Groupless::Pattern(re) => self.engine.list_topics()?.into_iter().filter(|t| !t.starts_with("__") && re.is_match(t)).collect(),
            Groupless::None => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for n in names {
            match self.engine.partitions_for(&n) {
                Ok(p) => out.push((n, p)),
                Err(e) if matches!(e.code(), ErrorCode::TopicNotFound | ErrorCode::UnknownPartition) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// A group-less subscription reads every partition of its topics.
    fn refresh_groupless(&mut self) -> Result<()> {
        if matches!(self.groupless, Groupless::None) {
            return Ok(());
        }
        let mut tps = Vec::new();
        for (t, n) in self.groupless_topics()? {
            for p in 0..n {
                tps.push(TopicPartition::new(t.clone(), p));
            }
        }
        if tps != self.consumer.assignment() {
            self.consumer.assign(&tps)?;
        }
        Ok(())
    }
}

struct Slot {
    /// `None` once closed (by [`KafkaConsumer::close`] or [`KafkaConsumer::release`]).
    inner: Mutex<Option<Inner>>,
}

thread_local! {
    /// Consumers lent to a rebalance callback running on this thread, by slot address, with
    /// their engine.
    static LENT: RefCell<Vec<(usize, CoreConsumer, kabase::Engine)>> = const { RefCell::new(Vec::new()) };
}

fn is_lent(id: usize) -> bool {
    LENT.with(|l| l.borrow().iter().any(|(i, _, _)| *i == id))
}

/// The core rebalance listener that lends the consumer to a [`RebalanceCallback`].
struct Lending {
    callback: Box<dyn RebalanceCallback>,
    id: usize,
    engine: kabase::Engine,
    /// Stands in for the consumer while the real one is lent to the callback.
    spare: Option<CoreConsumer>,
}

#[derive(Clone, Copy)]
enum Event {
    Revoked,
    Assigned,
    Lost,
}

impl Lending {
    fn call(&mut self, consumer: &mut CoreConsumer, event: Event, parts: &[TopicPartition]) {
        let Some(spare) = self.spare.take() else { return };
        let real = std::mem::replace(consumer, spare);
        LENT.with(|l| l.borrow_mut().push((self.id, real, self.engine.clone())));
        let tuples: Vec<(String, u32)> = parts.iter().map(|tp| (tp.topic.clone(), tp.partition)).collect();
        match event {
            Event::Revoked => self.callback.on_partitions_revoked(&tuples),
            Event::Assigned => self.callback.on_partitions_assigned(&tuples),
            Event::Lost => self.callback.on_partitions_lost(&tuples),
        }
        let back = LENT.with(|l| {
            let mut l = l.borrow_mut();
            l.iter().rposition(|(i, _, _)| *i == self.id).map(|pos| l.remove(pos))
        });
        if let Some((_, real, _)) = back {
            self.spare = Some(std::mem::replace(consumer, real));
        }
    }
}

impl ConsumerRebalanceListener for Lending {
    fn on_partitions_revoked(&mut self, consumer: &mut CoreConsumer, partitions: &[TopicPartition]) {
        self.call(consumer, Event::Revoked, partitions);
    }
    fn on_partitions_assigned(&mut self, consumer: &mut CoreConsumer, partitions: &[TopicPartition]) {
        self.call(consumer, Event::Assigned, partitions);
    }
    fn on_partitions_lost(&mut self, consumer: &mut CoreConsumer, partitions: &[TopicPartition]) {
        self.call(consumer, Event::Lost, partitions);
    }
}

fn tps(v: &[(String, u32)]) -> Vec<TopicPartition> {
    v.iter().map(|(t, p)| TopicPartition::new(t.clone(), *p)).collect()
}

fn tp_tuples(v: Vec<TopicPartition>) -> Vec<(String, u32)> {
    v.into_iter().map(|tp| (tp.topic, tp.partition)).collect()
}

fn no_group(what: &str) -> Error {
    Error::invalid(format!("{what} needs a group_id"))
}

fn in_callback(what: &str) -> Error {
    Error::invalid(format!("{what} is not allowed inside a rebalance listener callback"))
}

fn mixed() -> Error {
    Error::invalid("subscription and manual assignment cannot be mixed (call unsubscribe first)")
}

impl Engine {
    /// A [`KafkaConsumer`] with configs by Kafka's names (fetch side: `auto.offset.reset`,
    /// `isolation.level`, `max.poll.records`, ...); with `group_id`, also the group configs in
    /// `group_configs` (`group.instance.id`, `session.timeout.ms`, `heartbeat.interval.ms`,
    /// `max.poll.interval.ms`, `partition.assignment.strategy`, `enable.auto.commit`,
    /// `auto.commit.interval.ms`), which are ignored without a group.
    pub fn kafka_consumer(&self, configs: &[(String, String)], group_id: Option<&str>, group_configs: &[(String, String)]) -> Result<KafkaConsumer> {
        let mut cfg = ConsumerConfig::default();
        for (k, v) in configs {
            cfg = cfg.set(k, v)?;
        }
        if let Some(g) = group_id {
            cfg = cfg.set("group.id", g)?;
            for (k, v) in group_configs {
                cfg = cfg.set(k, v)?;
            }
        }
        let consumer = self.core.consumer(cfg)?;
        let inner = Inner { engine: self.core.clone(), consumer, groupless: Groupless::None, has_group: group_id.is_some() };
        Ok(KafkaConsumer { slot: Arc::new(Slot { inner: Mutex::new(Some(inner)) }) })
    }
}

/// A Kafka-client consumer (see the module docs): owning, cheap to clone, thread-safe (calls are
/// serialized inside).
#[derive(Clone)]
pub struct KafkaConsumer {
    slot: Arc<Slot>,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer").field("closed", &self.is_closed()).finish()
    }
}

impl KafkaConsumer {
    fn id(&self) -> usize {
        Arc::as_ptr(&self.slot) as usize
    }

    /// Run `f` on the whole state; refused inside this consumer's rebalance callback (`what`
    /// names the call).
    fn with<R>(&self, what: &str, f: impl FnOnce(&mut Inner) -> Result<R>) -> Result<R> {
        if is_lent(self.id()) {
            return Err(in_callback(what));
        }
        let mut g = self.slot.inner.lock();
        let inner = g.as_mut().ok_or_else(|| Error::closed("consumer"))?;
        f(inner)
    }

    /// Run `f` on the core consumer: the one lent to a rebalance callback running on this
    /// thread, else the locked one.
    fn with_consumer<R>(&self, f: impl FnOnce(&mut CoreConsumer, &kabase::Engine) -> Result<R>) -> Result<R> {
        let id = self.id();
        let lent = LENT.with(|l| {
            let mut l = l.borrow_mut();
            l.iter().rposition(|(i, _, _)| *i == id).map(|pos| l.remove(pos))
        });
        if let Some((i, mut c, e)) = lent {
            let r = f(&mut c, &e);
            LENT.with(|l| l.borrow_mut().push((i, c, e)));
            return r;
        }
        self.with("", |inner| f(&mut inner.consumer, &inner.engine))
    }

    /// Subscribe to `topics`, or to every topic whose whole name matches `pattern` (exactly one
    /// of them), replacing an earlier subscription. With a group id, `listener` hears the
    /// rebalances; without one, the consumer reads every partition of the topics (the listener
    /// has nothing to hear). Topics need not exist yet.
    pub fn subscribe(&self, topics: Option<Vec<String>>, pattern: Option<String>, listener: Option<Box<dyn RebalanceCallback>>) -> Result<()> {
        if topics.is_some() == pattern.is_some() {
            return Err(Error::invalid("give topics or a pattern"));
        }
        let id = self.id();
        self.with("subscribe", move |inner| {
            if !inner.has_group {
                if matches!(inner.groupless, Groupless::None) && !inner.consumer.assignment().is_empty() {
                    return Err(mixed());
                }
                inner.groupless = match (topics, pattern) {
                    (Some(t), _) => {
                        for name in &t {
                            kabase::log::validate_topic_name(name)?;
                        }
                        Groupless::Topics(t)
                    }
                    (None, Some(p)) => Groupless::Pattern(
                        regex::Regex::new(&format!("^(?:{p})$")).map_err(|e| Error::invalid(format!("invalid subscription pattern {p:?}: {e}")))?,
                    ),
                    (None, None) => Groupless::None,
                };
                return Ok(());
            }
            let listener: Option<Box<dyn ConsumerRebalanceListener>> = match listener {
                Some(callback) => {
                    let spare = inner.engine.consumer(ConsumerConfig::default())?;
                    Some(Box::new(Lending { callback, id, engine: inner.engine.clone(), spare: Some(spare) }))
                }
                None => None,
            };
            match (topics, pattern) {
                (Some(t), _) => {
                    let names: Vec<&str> = t.iter().map(String::as_str).collect();
                    inner.consumer.subscribe(&names, listener)
                }
                (None, Some(p)) => inner.consumer.subscribe_pattern(&p, listener),
                (None, None) => Ok(()),
            }
        })
    }

    /// The subscribed topics (a pattern's current matches); `None` when not subscribed.
    pub fn subscription(&self) -> Result<Option<Vec<String>>> {
        self.with("subscription", |g| {
            if g.has_group {
                return Ok(if g.consumer.is_subscribed() { Some(g.consumer.subscription()) } else { None });
            }
            Ok(match &g.groupless {
                Groupless::Topics(t) => Some(t.clone()),
                Groupless::Pattern(_) => Some(g.groupless_topics()?.into_iter().map(|(t, _)| t).collect()),
                Groupless::None => None,
            })
        })
    }

    /// Drop the subscription (leaving the group's assignment; the listener hears the
    /// revocation) or the manual assignment.
    pub fn unsubscribe(&self) -> Result<()> {
        self.with("unsubscribe", |inner| {
            inner.groupless = Groupless::None;
            if inner.consumer.is_subscribed() {
                inner.consumer.unsubscribe()
            } else {
                inner.consumer.unassign();
                Ok(())
            }
        })
    }

    /// Assign partitions by hand (not mixed with a subscription).
    pub fn assign(&self, partitions: &[(String, u32)]) -> Result<()> {
        let t = tps(partitions);
        self.with("assign", move |g| {
            if !matches!(g.groupless, Groupless::None) {
                return Err(mixed());
            }
            g.consumer.assign(&t)
        })
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Result<Vec<(String, u32)>> {
        self.with_consumer(|c, _| Ok(tp_tuples(c.assignment())))
    }

    /// Up to `max_records` records, waiting up to `timeout_ms` for the first. In a group this
    /// drives the group protocol (the listener runs inside).
    pub fn poll(&self, max_records: usize, timeout_ms: u64) -> Result<Vec<Record>> {
        let timeout = Duration::from_millis(timeout_ms);
        self.with("poll", |inner| {
            inner.refresh_groupless()?;
            inner.consumer.poll_records(max_records.max(1), timeout)
        })
    }

    /// [`KafkaConsumer::poll`] into `out`, which is cleared first and reused: the records are
    /// packed into its buffers instead of being returned as owned records (no allocation per
    /// record once its buffers have grown; see [`PackedRecords`]). Returns how many records it
    /// holds. On an error `out` holds what was fetched before it, and those records may be
    /// returned again by the next poll.
    pub fn poll_packed(&self, max_records: usize, timeout_ms: u64, out: &mut PackedRecords) -> Result<usize> {
        out.clear();
        // Bounded as the core's owned poll bounds its vector: a long poll often returns few.
        out.reserve(max_records.clamp(1, 16_384));
        let timeout = Duration::from_millis(timeout_ms);
        self.with("poll", |inner| {
            inner.refresh_groupless()?;
            inner.consumer.poll_records_for_each(max_records.max(1), timeout, |r| out.push(r))
        })
    }

    /// Give fetched records back: each partition's position goes back to its first record in
    /// `records`, so the next poll returns them again (for a host whose callback failed while
    /// they were fetched). Best effort: a partition that cannot be sought is skipped.
    pub fn rewind(&self, records: &[Record]) -> Result<()> {
        let mut first: Vec<(TopicPartition, i64)> = Vec::new();
        for r in records {
            if !first.iter().any(|(tp, _)| tp.partition == r.partition && *tp.topic == *r.topic) {
                first.push((TopicPartition::new(r.topic.to_string(), r.partition), r.offset));
            }
        }
        self.seek_back(first)
    }

    /// [`KafkaConsumer::rewind`] for records polled with [`KafkaConsumer::poll_packed`].
    pub fn rewind_packed(&self, records: &PackedRecords) -> Result<()> {
        self.seek_back(records.first_offsets().into_iter().map(|(t, p, o)| (TopicPartition::new(t.to_string(), p), o)).collect())
    }

    fn seek_back(&self, first: Vec<(TopicPartition, i64)>) -> Result<()> {
        self.with("poll", move |inner| {
            for (tp, off) in &first {
                let _ = inner.consumer.seek(tp, *off);
            }
            Ok(())
        })
    }

    /// Commit `(topic, partition, offset, metadata)` for the group, or (`None`) the current
    /// positions. Needs a group id.
    pub fn commit(&self, offsets: Option<Vec<(String, u32, i64, String)>>) -> Result<()> {
        self.with_consumer(move |c, engine| {
            if c.config().group_id.is_none() {
                return Err(no_group("commit"));
            }
            match offsets {
                None => c.commit_sync(None),
                Some(o) => {
                    let meta = c.group_metadata()?;
                    let mut list = Vec::with_capacity(o.len());
                    for (t, p, off, m) in o {
                        let part = i32::try_from(p).map_err(|_| Error::invalid(format!("partition {p} of {t} is out of range")))?;
                        let mut om = OffsetAndMetadata::new(off);
                        om.metadata = m;
                        list.push((GroupTp::new(t, part), om));
                    }
                    engine.commit_group_offsets(&meta, &list)
                }
            }
        })
    }

    /// The group's committed `(offset, metadata)` of a partition. Needs a group id.
    pub fn committed(&self, topic: &str, partition: u32) -> Result<Option<(i64, String)>> {
        self.with_consumer(|c, _| {
            if c.config().group_id.is_none() {
                return Err(no_group("committed"));
            }
            let tp = TopicPartition::new(topic, partition);
            Ok(c.committed(std::slice::from_ref(&tp))?.remove(&tp).map(|o| (o.offset, o.metadata)))
        })
    }

    /// Move the position of an assigned partition.
    pub fn seek(&self, topic: &str, partition: u32, offset: i64) -> Result<()> {
        self.with_consumer(|c, _| c.seek(&TopicPartition::new(topic, partition), offset))
    }

    /// Seek to the log start of the partitions (`None`: every assigned one).
    pub fn seek_to_beginning(&self, partitions: Option<&[(String, u32)]>) -> Result<()> {
        self.with_consumer(|c, _| {
            let t = partitions.map(tps).unwrap_or_else(|| c.assignment());
            c.seek_to_beginning(&t)
        })
    }

    /// Seek to the end of the partitions (the last stable offset under read_committed).
    pub fn seek_to_end(&self, partitions: Option<&[(String, u32)]>) -> Result<()> {
        self.with_consumer(|c, _| {
            let t = partitions.map(tps).unwrap_or_else(|| c.assignment());
            c.seek_to_end(&t)
        })
    }

    /// The next offset to read of an assigned partition.
    pub fn position(&self, topic: &str, partition: u32) -> Result<i64> {
        self.with_consumer(|c, _| c.position(&TopicPartition::new(topic, partition)))
    }

    /// Stop fetching from these partitions.
    pub fn pause(&self, partitions: &[(String, u32)]) -> Result<()> {
        self.with_consumer(|c, _| c.pause(&tps(partitions)))
    }

    /// Fetch again from these partitions.
    pub fn resume(&self, partitions: &[(String, u32)]) -> Result<()> {
        self.with_consumer(|c, _| c.resume(&tps(partitions)))
    }

    /// The paused partitions.
    pub fn paused(&self) -> Result<Vec<(String, u32)>> {
        self.with_consumer(|c, _| Ok(tp_tuples(c.paused())))
    }

    /// The first offset of each partition.
    pub fn beginning_offsets(&self, partitions: &[(String, u32)]) -> Result<Vec<(String, u32, i64)>> {
        self.with_consumer(|c, _| Ok(c.beginning_offsets(&tps(partitions))?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o)).collect()))
    }

    /// The end offset of each partition (the last stable offset under read_committed).
    pub fn end_offsets(&self, partitions: &[(String, u32)]) -> Result<Vec<(String, u32, i64)>> {
        self.with_consumer(|c, _| Ok(c.end_offsets(&tps(partitions))?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o)).collect()))
    }

    /// For `(topic, partition, timestamp)`: the first offset at or after the timestamp, with
    /// that record's timestamp (`None` past the end).
    pub fn offsets_for_times(&self, query: &[(String, u32, i64)]) -> Result<Vec<OffsetForTime>> {
        let q: Vec<(TopicPartition, i64)> = query.iter().map(|(t, p, ts)| (TopicPartition::new(t.clone(), *p), *ts)).collect();
        self.with_consumer(move |c, _| Ok(c.offsets_for_times(&q)?.into_iter().map(|(tp, o)| (tp.topic, tp.partition, o.map(|x| (x.offset, x.timestamp)))).collect()))
    }

    /// Partition count of a topic (`None` if it does not exist).
    pub fn partitions_for_topic(&self, topic: &str) -> Result<Option<u32>> {
        self.with("partitions_for_topic", |g| match g.engine.partitions_for(topic) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.code() == ErrorCode::TopicNotFound => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// Every topic.
    pub fn topics(&self) -> Result<Vec<String>> {
        self.with("topics", |g| g.engine.list_topics())
    }

    /// The number of assigned partitions, and the group generation and member id once joined.
    pub fn membership(&self) -> Result<(usize, Option<(i32, String)>)> {
        self.with_consumer(|c, _| Ok((c.assignment().len(), c.group_metadata().ok().map(|m| (m.generation_id, m.member_id)))))
    }

    /// Leave the group (its partitions move to the other members; the listener hears the
    /// revocation; with auto-commit the positions are committed first) and close. Closing twice
    /// is a no-op; refused inside this consumer's rebalance callback.
    pub fn close(&self) -> Result<()> {
        if is_lent(self.id()) {
            return Err(in_callback("close"));
        }
        let inner = self.slot.inner.lock().take();
        match inner {
            Some(mut i) => i.consumer.close(),
            None => Ok(()),
        }
    }

    /// Drop the consumer without leaving the group, for hosts releasing every handle after the
    /// engine closed (which ended the membership already).
    pub fn release(&self) {
        let inner = self.slot.inner.lock().take();
        if let Some(mut i) = inner {
            let _ = i.consumer.close();
        }
    }

    /// Whether the consumer was closed or released.
    pub fn is_closed(&self) -> bool {
        self.slot.inner.lock().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutgoingRecord;
    use std::time::Instant;

    fn fill(e: &Engine, topic: &str, partitions: u32, n: u32) {
        e.create_topic(topic, partitions).unwrap();
        let p = e.producer(&[]).unwrap();
        for i in 0..n {
            p.send(topic, &OutgoingRecord { partition: Some(i % partitions), ..OutgoingRecord::value(i.to_string()) }).unwrap();
        }
    }

    fn drain(c: &KafkaConsumer, want: usize) -> Vec<Record> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < want && Instant::now() < deadline {
            got.extend(c.poll(100, 50).unwrap());
        }
        got
    }

    fn earliest() -> Vec<(String, String)> {
        vec![("auto.offset.reset".into(), "earliest".into())]
    }

    #[test]
    fn groupless_subscription_follows_topics_and_patterns() {
        let e = Engine::open_in_memory().unwrap();
        fill(&e, "a.1", 2, 4);
        let c = e.kafka_consumer(&earliest(), None, &[]).unwrap();
        assert_eq!(c.subscribe(None, None, None).unwrap_err().code(), ErrorCode::InvalidArgument);
        c.subscribe(None, Some("a\\..*".into()), None).unwrap();
        assert_eq!(drain(&c, 4).len(), 4);
        fill(&e, "a.2", 1, 3);
        assert_eq!(drain(&c, 3).iter().filter(|r| &*r.topic == "a.2").count(), 3, "a new matching topic is read on the next poll");
        assert_eq!(c.subscription().unwrap(), Some(vec!["a.1".to_string(), "a.2".to_string()]));
        assert_eq!(c.assign(&[("a.1".into(), 0)]).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(c.commit(None).unwrap_err().code(), ErrorCode::InvalidArgument);
        c.unsubscribe().unwrap();
        assert_eq!(c.subscription().unwrap(), None);
        c.subscribe(Some(vec!["not-yet".into()]), None, None).unwrap();
        assert!(c.poll(10, 10).unwrap().is_empty(), "a missing topic is skipped until it exists");
        assert_eq!(c.subscribe(Some(vec!["bad name".into()]), None, None).unwrap_err().code(), ErrorCode::InvalidName);
        assert_eq!(c.subscribe(None, Some("(".into()), None).unwrap_err().code(), ErrorCode::InvalidArgument);
        c.close().unwrap();
        c.close().unwrap();
        assert_eq!(c.poll(1, 0).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn manual_assignment_offsets_and_rewind() {
        let e = Engine::open_in_memory().unwrap();
        fill(&e, "m", 1, 5);
        let c = e.kafka_consumer(&earliest(), Some("mg"), &[]).unwrap();
        c.assign(&[("m".into(), 0)]).unwrap();
        assert_eq!(c.assignment().unwrap(), vec![("m".to_string(), 0)]);
        let recs = drain(&c, 5);
        assert_eq!(c.position("m", 0).unwrap(), 5);
        c.rewind(&recs[2..]).unwrap();
        assert_eq!(c.position("m", 0).unwrap(), 2);
        c.seek_to_end(None).unwrap();
        assert_eq!(c.position("m", 0).unwrap(), 5);
        c.seek_to_beginning(Some(&[("m".into(), 0)])).unwrap();
        assert_eq!(c.position("m", 0).unwrap(), 0);
        c.seek("m", 0, 3).unwrap();
        assert_eq!(c.beginning_offsets(&[("m".into(), 0)]).unwrap(), vec![("m".to_string(), 0, 0)]);
        assert_eq!(c.end_offsets(&[("m".into(), 0)]).unwrap(), vec![("m".to_string(), 0, 5)]);
        let t = c.offsets_for_times(&[("m".into(), 0, 0), ("m".into(), 0, i64::MAX)]).unwrap();
        assert_eq!(t[0].2.map(|x| x.0), Some(0));
        assert_eq!(t[1].2, None);
        c.commit(Some(vec![("m".into(), 0, 4, "meta".into())])).unwrap();
        assert_eq!(c.committed("m", 0).unwrap(), Some((4, "meta".to_string())));
        c.pause(&[("m".into(), 0)]).unwrap();
        assert_eq!(c.paused().unwrap(), vec![("m".to_string(), 0)]);
        c.resume(&[("m".into(), 0)]).unwrap();
        assert_eq!(c.partitions_for_topic("m").unwrap(), Some(1));
        assert_eq!(c.partitions_for_topic("none").unwrap(), None);
        assert!(c.topics().unwrap().contains(&"m".to_string()));
        assert_eq!(c.membership().unwrap().0, 1);
        c.release();
        assert!(c.is_closed());
        assert_eq!(c.position("m", 0).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn packed_polls_match_owned_polls_and_rewind() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("pk", 2).unwrap();
        e.create_topic("pk2", 1).unwrap();
        let p = e.producer(&[]).unwrap();
        for i in 0..40u32 {
            let mut r = OutgoingRecord::value(format!("value {i}"));
            r.partition = Some(i % 2);
            if i % 3 == 0 {
                r.key = Some(format!("k{i}").into_bytes());
            }
            if i % 5 == 0 {
                r.value = None;
            }
            if i % 7 == 0 {
                r.headers = vec![("h".to_string(), Some(format!("x{i}").into_bytes())), ("null".to_string(), None)];
            }
            p.send(if i % 4 == 0 { "pk2" } else { "pk" }, &OutgoingRecord { partition: if i % 4 == 0 { Some(0) } else { r.partition }, ..r }).unwrap();
        }
        let parts = [("pk".to_string(), 0), ("pk".to_string(), 1), ("pk2".to_string(), 0)];
        let owned = e.kafka_consumer(&earliest(), None, &[]).unwrap();
        owned.assign(&parts).unwrap();
        let want = drain(&owned, 40);
        assert_eq!(want.len(), 40);
        let c = e.kafka_consumer(&earliest(), None, &[]).unwrap();
        c.assign(&parts).unwrap();
        let mut packed = PackedRecords::new();
        let mut got: Vec<Record> = Vec::new();
        let mut topic_of_index: Vec<(usize, String)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < 40 && Instant::now() < deadline {
            // Small polls: the buffers are cleared and refilled each time.
            let n = c.poll_packed(7, 50, &mut packed).unwrap();
            assert_eq!((n, packed.len(), packed.is_empty()), (packed.iter().count(), n, n == 0));
            for (i, r) in packed.iter().enumerate() {
                assert_eq!(format!("{:?}", packed.get(i)), format!("{:?}", Some(r)), "get and iter agree");
            }
            for r in packed.iter() {
                let t = topic_of_index.iter().find(|(i, _)| *i == r.topic_index).map(|(_, t)| t.clone());
                match t {
                    Some(t) => assert_eq!(t, &**r.topic, "one index, one topic within a poll"),
                    None => topic_of_index.push((r.topic_index, r.topic.to_string())),
                }
                got.push(r.to_record());
            }
            topic_of_index.clear();
        }
        let key = |r: &Record| (r.topic.to_string(), r.partition, r.offset);
        let mut want_sorted = want.clone();
        want_sorted.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(format!("{got:?}"), format!("{want_sorted:?}"), "the same records, field for field");
        assert!(got.iter().any(|r| r.headers.len() == 2 && r.headers[1].value.is_none()));
        assert!(got.iter().any(|r| r.value.is_none()) && got.iter().any(|r| r.key.is_some()));
        assert!(packed.get(packed.len()).is_none());
        assert!(packed.byte_capacity() >= packed.iter().map(|r| r.key.map_or(0, <[u8]>::len) + r.value.map_or(0, <[u8]>::len)).sum::<usize>());
        // Rewind puts each partition back to its first record in the batch.
        c.seek_to_beginning(None).unwrap();
        let n = c.poll_packed(100, 50, &mut packed).unwrap();
        assert!(n > 0);
        let first = packed.first_offsets();
        c.rewind_packed(&packed).unwrap();
        for (t, part, off) in first {
            assert_eq!(c.position(&t, part).unwrap(), off);
        }
        c.close().unwrap();
        assert_eq!(c.poll_packed(1, 0, &mut packed).unwrap_err().code(), ErrorCode::Closed);
        assert!(packed.is_empty(), "a failed poll leaves nothing behind from the previous one");
    }

    /// A listener that calls back into its own consumer, as a Python or Java listener does.
    struct Recorder {
        consumer: Arc<Mutex<Option<KafkaConsumer>>>,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl RebalanceCallback for Recorder {
        fn on_partitions_revoked(&mut self, partitions: &[(String, u32)]) {
            let c = self.consumer.lock().clone();
            if let Some(c) = c {
                // Commit inside the callback reaches the lent consumer instead of deadlocking.
                let committed = c.commit(None).is_ok();
                let refused = c.poll(1, 0).map_err(|e| e.code()).err();
                self.log.lock().push(format!("revoked {} commit={committed} poll={refused:?}", partitions.len()));
            }
        }
        fn on_partitions_assigned(&mut self, partitions: &[(String, u32)]) {
            let c = self.consumer.lock().clone();
            let positions: Vec<i64> = partitions.iter().filter_map(|(t, p)| c.as_ref().and_then(|c| c.position(t, *p).ok())).collect();
            self.log.lock().push(format!("assigned {} positions={positions:?}", partitions.len()));
        }
    }

    #[test]
    fn listener_calls_reach_the_lent_consumer() {
        let e = Engine::open_in_memory().unwrap();
        fill(&e, "l", 2, 4);
        let fast = [("heartbeat.interval.ms".to_string(), "20".to_string())];
        let c = e.kafka_consumer(&earliest(), Some("lg"), &fast).unwrap();
        let me = Arc::new(Mutex::new(Some(c.clone())));
        let log = Arc::new(Mutex::new(Vec::new()));
        c.subscribe(Some(vec!["l".into()]), None, Some(Box::new(Recorder { consumer: Arc::clone(&me), log: Arc::clone(&log) }))).unwrap();
        assert_eq!(drain(&c, 4).len(), 4);
        assert_eq!(log.lock().first().map(String::as_str), Some("assigned 2 positions=[0, 0]"));
        assert_eq!(c.subscription().unwrap(), Some(vec!["l".to_string()]));
        let (n, member) = c.membership().unwrap();
        assert_eq!(n, 2);
        assert!(member.is_some_and(|(g, m)| g >= 1 && !m.is_empty()));
        c.unsubscribe().unwrap();
        let last = log.lock().last().cloned().unwrap_or_default();
        assert_eq!(last, "revoked 2 commit=true poll=Some(InvalidArgument)");
        me.lock().take();
        c.close().unwrap();
    }
}
