//! The group side of [`Consumer`]: what kafka-python's / the Java `KafkaConsumer` do when
//! `group.id` is set.
//!
//! - [`Consumer::subscribe`] / [`Consumer::subscribe_pattern`] / [`Consumer::unsubscribe`]: the
//!   consumer joins the group on its next poll. Names that do not exist yet, and topics created
//!   later that match a pattern (a full match, internal `__` topics excluded), are picked up at
//!   the next poll (every poll re-reads the topic list; a change makes the member rejoin).
//! - Every poll first auto-commits when due (`enable.auto.commit`, every
//!   `auto.commit.interval.ms`), then drives [`GroupMembership::poll`]; revoked and lost
//!   partitions leave the fetch side, assigned ones join it and start at the group's committed
//!   offset, else at `auto.offset.reset`. With auto-commit on, the positions of revoked
//!   partitions are committed before they are given up (as the Java consumer's
//!   `onJoinPrepare`), so the next owner starts exactly where this one stopped.
//! - While a poll waits for data it returns to the group protocol at least every 100 ms, so a
//!   rebalance never waits on a long poll timeout.
//! - [`ConsumerRebalanceListener`] callbacks run inside `poll`, `unsubscribe` and `close`, with
//!   the consumer itself in hand: `position`, `seek` and `commit_sync` work inside them (a
//!   commit made in `on_partitions_revoked` is made for the generation being left, which is
//!   still current).
//!
//! A consumer with `group.id` that only calls [`Consumer::assign`] commits as a standalone
//! consumer (allowed while the group has no members), as in Kafka.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::consumer::{CommittedOffsets, Consumer};
use super::TopicPartition;
use crate::error::{Error, ErrorCode, Result};
use crate::group::{self, ConsumerGroupMetadata, GroupMembership, OffsetAndMetadata, RebalanceContext, RebalanceListener};

/// The longest a group-mode poll waits for data before it checks on the group again.
const GROUP_CHECK: Duration = Duration::from_millis(100);

/// Kafka's `ConsumerRebalanceListener`, given to [`Consumer::subscribe`]. Callbacks run on the
/// consumer's thread inside `poll` (and `unsubscribe`/`close`) with the consumer in hand.
pub trait ConsumerRebalanceListener: Send {
    /// These partitions are being taken away; commit or save their progress now.
    fn on_partitions_revoked(&mut self, consumer: &mut Consumer, partitions: &[TopicPartition]);
    /// These partitions are now this consumer's (all of them under eager protocols, only the
    /// new ones under cooperative-sticky; possibly none). `seek` here overrides the start.
    fn on_partitions_assigned(&mut self, consumer: &mut Consumer, partitions: &[TopicPartition]);
    /// These partitions were lost without a chance to commit (the member left the group on
    /// the coordinator's side). Defaults to `on_partitions_revoked`, as in Kafka.
    fn on_partitions_lost(&mut self, consumer: &mut Consumer, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(consumer, partitions);
    }
}

pub(crate) enum Sub {
    None,
    Topics(BTreeSet<String>),
    Pattern(regex::Regex),
}

/// The group state a consumer with `group.id` carries.
pub(crate) struct GroupCtx {
    pub(crate) membership: GroupMembership,
    pub(crate) sub: Sub,
    pub(crate) listener: Option<Box<dyn ConsumerRebalanceListener>>,
    pub(crate) auto_commit: bool,
    pub(crate) interval: Duration,
    pub(crate) last_commit: Instant,
}

/// Committed offsets of a group, for partitions without a position.
pub(crate) struct GroupCommitted {
    pub(crate) shared: Arc<group::Shared>,
    pub(crate) group: String,
}

impl CommittedOffsets for GroupCommitted {
    fn committed(&self, tp: &TopicPartition) -> Result<Option<i64>> {
        let g = group::to_group_tp(tp)?;
        Ok(group::fetch_offsets(&self.shared, &self.group, std::slice::from_ref(&g))?.get(&g).map(|o| o.offset))
    }
}

struct Adapter<'a> {
    c: &'a mut Consumer,
    user: Option<&'a mut Box<dyn ConsumerRebalanceListener>>,
    auto_commit: bool,
}

fn log_tps(parts: &[group::TopicPartition]) -> Vec<TopicPartition> {
    parts.iter().filter_map(|tp| group::to_log_tp(tp).ok()).collect()
}

impl RebalanceListener for Adapter<'_> {
    fn on_partitions_revoked(&mut self, ctx: &RebalanceContext<'_>, partitions: &[group::TopicPartition]) {
        let tps = log_tps(partitions);
        self.c.rebalance_meta = Some(ctx.group_metadata().clone());
        if self.auto_commit {
            let set: BTreeSet<&TopicPartition> = tps.iter().collect();
            let offs: Vec<(TopicPartition, i64)> = self.c.positions().into_iter().filter(|(tp, _)| set.contains(tp)).collect();
            // A failed commit here means the generation already ended; the partitions are
            // given up either way (Kafka logs and continues too).
            let _ = self.c.commit_now(&offs);
        }
        if let Some(u) = self.user.as_mut() {
            u.on_partitions_revoked(self.c, &tps);
        }
        self.c.rebalance_meta = None;
        self.c.drop_partitions(&tps);
    }

    fn on_partitions_assigned(&mut self, ctx: &RebalanceContext<'_>, partitions: &[group::TopicPartition]) {
        let tps = log_tps(partitions);
        self.c.add_partitions(&tps);
        self.c.rebalance_meta = Some(ctx.group_metadata().clone());
        if let Some(u) = self.user.as_mut() {
            u.on_partitions_assigned(self.c, &tps);
        }
        self.c.rebalance_meta = None;
    }

    fn on_partitions_lost(&mut self, _ctx: &RebalanceContext<'_>, partitions: &[group::TopicPartition]) {
        let tps = log_tps(partitions);
        if let Some(u) = self.user.as_mut() {
            u.on_partitions_lost(self.c, &tps);
        }
        self.c.drop_partitions(&tps);
    }
}

fn no_group() -> Error {
    Error::new(ErrorCode::InvalidConfig, "this needs a consumer with group.id set")
}

impl Consumer {
    fn group_mut(&mut self) -> Result<&mut GroupCtx> {
        self.group.as_deref_mut().ok_or_else(no_group)
    }

    /// Whether the consumer is subscribed (names or pattern).
    pub fn is_subscribed(&self) -> bool {
        self.group.as_ref().is_some_and(|g| !matches!(g.sub, Sub::None))
    }

    /// Subscribe to topics by name (Kafka's `subscribe(Collection, ConsumerRebalanceListener)`);
    /// replaces any earlier subscription. Needs `group.id`; fails while partitions are
    /// assigned manually. The group is joined on the next poll.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kabase::log::{ConsumerConfig, NewTopic, ProducerConfig, ProducerRecord};
    /// let engine = kabase::Engine::open_in_memory().unwrap();
    /// engine.create_topic(NewTopic::new("orders", 2)).unwrap();
    /// let p = engine.producer(ProducerConfig::default()).unwrap();
    /// p.send(ProducerRecord::new("orders", "o1")).unwrap();
    /// p.flush().unwrap();
    /// let cfg = ConsumerConfig::default().set("group.id", "billing").unwrap().set("auto.offset.reset", "earliest").unwrap();
    /// let mut c = engine.consumer(cfg).unwrap();
    /// c.subscribe(&["orders"], None).unwrap();
    /// let mut got = Vec::new();
    /// while got.is_empty() {
    ///     got = c.poll(Duration::from_millis(200)).unwrap();
    /// }
    /// c.commit_sync(None).unwrap();
    /// assert_eq!(c.assignment().len(), 2);
    /// c.close().unwrap(); // commits (auto-commit) and leaves the group
    /// ```
    pub fn subscribe(&mut self, topics: &[&str], listener: Option<Box<dyn ConsumerRebalanceListener>>) -> Result<()> {
        self.check()?;
        for t in topics {
            super::validate_topic_name(t)?;
        }
        self.set_sub(Sub::Topics(topics.iter().map(|t| t.to_string()).collect()), listener)
    }

    /// Subscribe to every topic whose whole name matches `pattern` (a Rust `regex`, as Java's
    /// `Pattern.matcher(name).matches()`), re-evaluated on every poll as topics appear.
    /// Internal topics (names starting with `__`) never match.
    pub fn subscribe_pattern(&mut self, pattern: &str, listener: Option<Box<dyn ConsumerRebalanceListener>>) -> Result<()> {
        self.check()?;
        let re = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| Error::invalid(format!("invalid subscription pattern {pattern:?}: {e}")))?;
        self.set_sub(Sub::Pattern(re), listener)
    }

    fn set_sub(&mut self, sub: Sub, listener: Option<Box<dyn ConsumerRebalanceListener>>) -> Result<()> {
        let manual = !self.is_subscribed() && !self.parts.is_empty();
        if manual {
            return Err(Error::invalid("subscribe is not allowed while partitions are assigned manually; call unassign first"));
        }
        let g = self.group_mut()?;
        g.sub = sub;
        g.listener = listener;
        Ok(())
    }

    /// Leave the group: revoke every partition (listener called, positions committed when
    /// auto-commit is on) and drop the subscription.
    pub fn unsubscribe(&mut self) -> Result<()> {
        self.check()?;
        let Some(mut g) = self.group.take() else { return Err(no_group()) };
        let mut user = g.listener.take();
        let r = {
            let mut ad = Adapter { c: self, user: user.as_mut(), auto_commit: g.auto_commit };
            g.membership.leave(&mut ad)
        };
        g.membership.subscribe(BTreeMap::new());
        g.sub = Sub::None;
        self.group = Some(g);
        self.parts.clear();
        r
    }

    /// The topics the consumer is subscribed to now (a pattern's current matches).
    pub fn subscription(&self) -> Vec<String> {
        match &self.group {
            Some(g) => match &g.sub {
                Sub::None => Vec::new(),
                Sub::Topics(t) => t.iter().cloned().collect(),
                Sub::Pattern(_) => g.membership.subscription().keys().cloned().collect(),
            },
            None => Vec::new(),
        }
    }

    fn resolve_sub(&self, sub: &Sub) -> BTreeMap<String, u32> {
        let topics = self.shared.topics.read();
        topics
            .iter()
            .filter(|(name, _)| match sub {
                Sub::None => false,
                Sub::Topics(set) => set.contains(name.as_str()),
                Sub::Pattern(re) => !name.starts_with("__") && re.is_match(name),
            })
            .map(|(name, t)| (name.clone(), t.num_partitions()))
            .collect()
    }

    pub(crate) fn add_partitions(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.parts.entry(tp.clone()).or_default();
        }
    }

    pub(crate) fn drop_partitions(&mut self, tps: &[TopicPartition]) {
        for tp in tps {
            self.parts.remove(tp);
        }
    }

    /// One round of the group protocol: auto-commit when due, refresh the subscription, and
    /// [`GroupMembership::poll`] for up to `budget`.
    pub(crate) fn group_step(&mut self, budget: Duration) -> Result<()> {
        let Some(mut g) = self.group.take() else { return Ok(()) };
        let r = self.group_step_with(&mut g, budget);
        self.group = Some(g);
        r
    }

    fn group_step_with(&mut self, g: &mut GroupCtx, budget: Duration) -> Result<()> {
        {
            if g.auto_commit && g.membership.is_stable() && g.last_commit.elapsed() >= g.interval {
                g.last_commit = Instant::now();
                let offs = self.positions();
                let meta = g.membership.group_metadata();
                // As Java's auto-commit: a failure is retried at the next interval.
                let _ = self.commit_as(&meta, &offs);
            }
            let topics = self.resolve_sub(&g.sub);
            g.membership.subscribe(topics);
            let mut user = g.listener.take();
            let r = {
                let mut ad = Adapter { c: self, user: user.as_mut(), auto_commit: g.auto_commit };
                g.membership.poll(budget, &mut ad)
            };
            g.listener = user;
            r.map(|_| ())
        }
    }

    /// A group-mode poll: alternate between the group protocol and short fetch waits.
    /// [`Self::poll_group`] handing records to `sink` (see [`Consumer::poll_for_each`]).
    pub(crate) fn poll_group_with(&mut self, max_records: usize, timeout: Duration, sink: &mut super::consumer::RecordSink<'_>) -> Result<usize> {
        let deadline = crate::util::deadline(timeout);
        loop {
            let now = Instant::now();
            self.group_step(deadline.saturating_duration_since(now).min(GROUP_CHECK))?;
            let now = Instant::now();
            let wait_until = deadline.min(now + GROUP_CHECK);
            let n = self.fetch_until_with(max_records, wait_until, sink)?;
            if n > 0 || Instant::now() >= deadline {
                return Ok(n);
            }
        }
    }

    pub(crate) fn poll_group(&mut self, max_records: usize, timeout: Duration) -> Result<Vec<super::ConsumerRecord>> {
        let deadline = crate::util::deadline(timeout);
        loop {
            let now = Instant::now();
            self.group_step(deadline.saturating_duration_since(now).min(GROUP_CHECK))?;
            let now = Instant::now();
            let wait_until = deadline.min(now + GROUP_CHECK);
            let out = self.fetch_until(max_records, wait_until)?;
            if !out.is_empty() || Instant::now() >= deadline {
                return Ok(out);
            }
        }
    }

    fn current_meta(&self) -> Result<ConsumerGroupMetadata> {
        if let Some(m) = &self.rebalance_meta {
            return Ok(m.clone());
        }
        Ok(self.group.as_ref().ok_or_else(no_group)?.membership.group_metadata())
    }

    fn commit_as(&self, meta: &ConsumerGroupMetadata, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let shared = self.groups.as_ref().ok_or_else(no_group)?;
        let list: Vec<(group::TopicPartition, OffsetAndMetadata)> =
            offsets.iter().map(|(tp, o)| Ok((group::to_group_tp(tp)?, OffsetAndMetadata::new(*o)))).collect::<Result<_>>()?;
        if list.is_empty() {
            return Ok(());
        }
        group::commit_offsets(shared, meta, &list)
    }

    pub(crate) fn commit_now(&self, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        let meta = self.current_meta()?;
        self.commit_as(&meta, offsets)
    }

    /// Commit offsets (the next offset to consume per partition) for the group, durably;
    /// `None` commits the current positions of every assigned partition. Fails with
    /// [`ErrorCode::CommitFailed`] when this member is no longer in the group's current
    /// generation (its partitions may belong to another member now).
    pub fn commit_sync(&mut self, offsets: Option<&[(TopicPartition, i64)]>) -> Result<()> {
        self.check()?;
        match offsets {
            Some(o) => self.commit_now(o),
            None => {
                let pos = self.positions();
                self.commit_now(&pos)
            }
        }
    }

    /// Kafka's `commitAsync`. Commits are in-process and cheap, so the commit runs at once;
    /// `callback` gets the offsets and the outcome before this returns.
    pub fn commit_async<F: FnOnce(&[(TopicPartition, i64)], Result<()>)>(&mut self, offsets: Option<&[(TopicPartition, i64)]>, callback: F) {
        let list: Vec<(TopicPartition, i64)> = match offsets {
            Some(o) => o.to_vec(),
            None => self.positions(),
        };
        let r = self.check().and_then(|_| self.commit_now(&list));
        callback(&list, r);
    }

    /// The group's committed offsets for `tps` (absent when none).
    pub fn committed(&self, tps: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        self.check()?;
        let shared = self.groups.as_ref().ok_or_else(no_group)?;
        let gid = self.config.group_id.as_deref().ok_or_else(no_group)?;
        let g: Vec<group::TopicPartition> = tps.iter().map(group::to_group_tp).collect::<Result<_>>()?;
        let got = group::fetch_offsets(shared, gid, &g)?;
        got.into_iter().map(|(tp, o)| Ok((group::to_log_tp(&tp)?, o))).collect()
    }

    /// Who this consumer is in its group, for
    /// [`super::Producer::send_offsets_to_transaction`]-style exactly-once pipelines.
    pub fn group_metadata(&self) -> Result<ConsumerGroupMetadata> {
        self.current_meta()
    }

    /// Leave the group on close: commit positions (auto-commit), revoke through the listener,
    /// leave (static members stay until their session expires, as in Kafka).
    pub(crate) fn close_group(&mut self) -> Result<()> {
        let Some(mut g) = self.group.take() else { return Ok(()) };
        let mut first_err = None;
        if g.auto_commit {
            let offs = self.positions();
            let meta = g.membership.group_metadata();
            if let Err(e) = self.commit_as(&meta, &offs) {
                first_err = Some(e);
            }
        }
        let mut user = g.listener.take();
        let r = {
            let mut ad = Adapter { c: self, user: user.as_mut(), auto_commit: false };
            g.membership.close(&mut ad)
        };
        match (first_err, r) {
            (_, Err(e)) | (Some(e), Ok(())) => Err(e),
            (None, Ok(())) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{ConsumerConfig, NewTopic, ProducerConfig, ProducerRecord};
    use parking_lot::Mutex;
    use std::collections::HashSet;

    fn cfg(group: &str) -> ConsumerConfig {
        ConsumerConfig::default()
            .set("group.id", group)
            .unwrap()
            .set("auto.offset.reset", "earliest")
            .unwrap()
            .set("heartbeat.interval.ms", "20")
            .unwrap()
            .set("session.timeout.ms", "10000")
            .unwrap()
    }

    fn produce(e: &crate::Engine, topic: &str, parts: u32, per_part: usize) {
        let p = e.producer(ProducerConfig::default()).unwrap();
        for part in 0..parts {
            for i in 0..per_part {
                p.send(ProducerRecord::new(topic, format!("{part}-{i}")).partition(part)).unwrap();
            }
        }
        p.flush().unwrap();
    }

    fn drain(c: &mut Consumer, want: usize) -> Vec<(TopicPartition, i64)> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < want && Instant::now() < deadline {
            for r in c.poll(Duration::from_millis(50)).unwrap() {
                got.push((TopicPartition::new(r.topic.to_string(), r.partition), r.offset));
            }
        }
        got
    }

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);
    impl ConsumerRebalanceListener for Log {
        fn on_partitions_revoked(&mut self, c: &mut Consumer, p: &[TopicPartition]) {
            // Revoked partitions are still assigned when the callback runs.
            let still = p.iter().all(|tp| c.assignment().contains(tp));
            self.0.lock().push(format!("revoked {} still={still}", p.len()));
        }
        fn on_partitions_assigned(&mut self, c: &mut Consumer, p: &[TopicPartition]) {
            let meta = c.group_metadata().unwrap();
            self.0.lock().push(format!("assigned {} gen={}", p.len(), meta.generation_id));
        }
        fn on_partitions_lost(&mut self, _: &mut Consumer, p: &[TopicPartition]) {
            self.0.lock().push(format!("lost {}", p.len()));
        }
    }

    #[test]
    fn subscribe_consumes_commits_and_resumes_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(dir.path()).unwrap();
        e.create_topic(NewTopic::new("t", 2)).unwrap();
        produce(&e, "t", 2, 5);
        let mut c = e.consumer(cfg("g").set("enable.auto.commit", "false").unwrap()).unwrap();
        assert!(c.assign(&[]).is_ok());
        c.subscribe(&["t"], None).unwrap();
        assert_eq!(c.assign(&[TopicPartition::new("t", 0)]).unwrap_err().code(), ErrorCode::InvalidArgument);
        assert_eq!(drain(&mut c, 10).len(), 10);
        assert_eq!(c.assignment().len(), 2);
        assert!(c.committed(&[TopicPartition::new("t", 0)]).unwrap().is_empty());
        c.commit_sync(None).unwrap();
        assert_eq!(c.committed(&[TopicPartition::new("t", 0)]).unwrap().get(&TopicPartition::new("t", 0)).map(|o| o.offset), Some(5));
        let mut seen = None;
        c.commit_async(Some(&[(TopicPartition::new("t", 1), 4)]), |offs, r| seen = Some((offs.len(), r.is_ok())));
        assert_eq!(seen, Some((1, true)));
        c.close().unwrap();
        assert!(e.list_groups().unwrap().iter().any(|g| g.group_id == "g"));
        assert!(e.describe_group("g").unwrap().members.is_empty(), "close must leave the group");
        e.close().unwrap();
        drop((c, e));

        let e = crate::Engine::open(dir.path()).unwrap();
        produce(&e, "t", 2, 1);
        let mut c = e.consumer(cfg("g")).unwrap();
        c.subscribe(&["t"], None).unwrap();
        let got = drain(&mut c, 3);
        // Partition 0 resumes at 5 (new record only); partition 1 at the async commit, 4.
        let mut offs: Vec<(u32, i64)> = got.iter().map(|(tp, o)| (tp.partition, *o)).collect();
        offs.sort();
        assert_eq!(offs, vec![(0, 5), (1, 4), (1, 5)]);
        c.close().unwrap();
    }

    #[test]
    fn no_group_id_means_assign_only() {
        let e = crate::Engine::open_in_memory().unwrap();
        let mut c = e.consumer(ConsumerConfig::default()).unwrap();
        assert_eq!(c.subscribe(&["t"], None).unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(c.commit_sync(None).unwrap_err().code(), ErrorCode::InvalidConfig);
        assert!(c.subscribe_pattern("(", None).is_err());
        assert_eq!(ConsumerConfig::default().set("enable.auto.commit", "maybe").unwrap_err().code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn auto_commit_every_interval() {
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("a", 1)).unwrap();
        produce(&e, "a", 1, 4);
        let mut c = e.consumer(cfg("ac").set("auto.commit.interval.ms", "50").unwrap()).unwrap();
        c.subscribe(&["a"], None).unwrap();
        assert_eq!(drain(&mut c, 4).len(), 4);
        let tp = TopicPartition::new("a", 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.committed(std::slice::from_ref(&tp)).unwrap().get(&tp).map(|o| o.offset) != Some(4) {
            assert!(Instant::now() < deadline, "auto-commit never happened");
            c.poll(Duration::from_millis(20)).unwrap();
        }
        // Without auto-commit nothing is committed by polling.
        let mut d = e.consumer(cfg("manual").set("enable.auto.commit", "false").unwrap().set("auto.commit.interval.ms", "1").unwrap()).unwrap();
        d.subscribe(&["a"], None).unwrap();
        assert_eq!(drain(&mut d, 4).len(), 4);
        for _ in 0..5 {
            d.poll(Duration::from_millis(10)).unwrap();
        }
        assert!(d.committed(std::slice::from_ref(&tp)).unwrap().is_empty());
        c.close().unwrap();
        d.close().unwrap();
    }

    #[test]
    fn pattern_picks_up_new_topics() {
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("orders-eu", 1)).unwrap();
        e.create_topic(NewTopic::new("other", 1)).unwrap();
        produce(&e, "orders-eu", 1, 2);
        produce(&e, "other", 1, 2);
        let mut c = e.consumer(cfg("pat")).unwrap();
        c.subscribe_pattern("orders-.*", None).unwrap();
        let got = drain(&mut c, 2);
        assert!(got.iter().all(|(tp, _)| tp.topic == "orders-eu"));
        assert_eq!(c.subscription(), vec!["orders-eu".to_string()]);
        e.create_topic(NewTopic::new("orders-us", 2)).unwrap();
        produce(&e, "orders-us", 2, 3);
        let got = drain(&mut c, 6);
        assert_eq!(got.len(), 6);
        assert!(got.iter().all(|(tp, _)| tp.topic == "orders-us"));
        assert_eq!(c.assignment().len(), 3);
        c.close().unwrap();
    }

    #[test]
    fn listener_call_order() {
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("l", 2)).unwrap();
        let log = Log::default();
        let mut a = e.consumer(cfg("lg")).unwrap();
        a.subscribe(&["l"], Some(Box::new(log.clone()))).unwrap();
        a.poll(Duration::from_millis(300)).unwrap();
        assert_eq!(*log.0.lock(), vec!["assigned 2 gen=1".to_string()]);
        // A second member joins: a revokes everything (eager, range), then gets one back.
        let mut b = e.consumer(cfg("lg")).unwrap();
        b.subscribe(&["l"], None).unwrap();
        let t = std::thread::spawn(move || {
            for _ in 0..40 {
                b.poll(Duration::from_millis(50)).unwrap();
            }
            b
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while log.0.lock().len() < 3 && Instant::now() < deadline {
            a.poll(Duration::from_millis(50)).unwrap();
        }
        let mut b = t.join().unwrap();
        assert_eq!(*log.0.lock(), vec!["assigned 2 gen=1".to_string(), "revoked 2 still=true".into(), "assigned 1 gen=2".into()]);
        assert_eq!(a.assignment().len(), 1);
        a.unsubscribe().unwrap();
        assert_eq!(log.0.lock().last().map(String::as_str), Some("revoked 1 still=true"));
        assert!(a.assignment().is_empty());
        b.close().unwrap();
        a.close().unwrap();
    }

    #[test]
    fn three_consumers_rebalance_without_double_consumption() {
        let e = crate::Engine::open_in_memory().unwrap();
        e.create_topic(NewTopic::new("w", 6)).unwrap();
        let total = 6 * 200;
        let seen: Arc<Mutex<Vec<(TopicPartition, i64)>>> = Arc::default();
        let producer = {
            let e = e.clone();
            std::thread::spawn(move || {
                let p = e.producer(ProducerConfig::default()).unwrap();
                for i in 0..200 {
                    for part in 0..6 {
                        p.send(ProducerRecord::new("w", format!("{i}")).partition(part)).unwrap();
                    }
                    if i % 20 == 0 {
                        p.flush().unwrap();
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                p.flush().unwrap();
            })
        };
        // Consumers join at different times and the first two leave before the end; auto-commit
        // plus commit-on-revoke means the next owner starts where the last one stopped.
        let mut handles = Vec::new();
        for (n, (start_ms, run_ms)) in [(0u64, 700u64), (150, 700), (300, 6000)].into_iter().enumerate() {
            let e = e.clone();
            let seen = Arc::clone(&seen);
            handles.push(std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(start_ms));
                let mut c = e.consumer(cfg("w").set("client.id", &format!("c{n}")).unwrap().set("auto.commit.interval.ms", "30").unwrap()).unwrap();
                c.subscribe(&["w"], None).unwrap();
                let until = Instant::now() + Duration::from_millis(run_ms);
                while Instant::now() < until {
                    let recs = c.poll(Duration::from_millis(30)).unwrap();
                    let mut s = seen.lock();
                    for r in recs {
                        s.push((TopicPartition::new(r.topic.to_string(), r.partition), r.offset));
                    }
                    if n == 2 && s.len() >= total {
                        break;
                    }
                }
                c.close().unwrap();
            }));
        }
        producer.join().unwrap();
        for h in handles {
            h.join().unwrap();
        }
        let s = seen.lock();
        let uniq: HashSet<&(TopicPartition, i64)> = s.iter().collect();
        assert_eq!(uniq.len(), s.len(), "a record was consumed twice");
        assert_eq!(s.len(), total, "every record consumed exactly once");
        let committed = e.fetch_group_offsets("w", &[]).unwrap();
        assert_eq!(committed.len(), 6);
        assert!(committed.values().all(|o| o.offset == 200));
    }
}
