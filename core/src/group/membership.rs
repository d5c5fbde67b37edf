//! The member side of the group protocol: the handle a consumer owns.
//!
//! [`GroupMembership::poll`] drives JoinGroup / SyncGroup / Heartbeat like the Java consumer's
//! `ConsumerCoordinator.poll`, calling a [`RebalanceListener`] at the points Kafka calls
//! `ConsumerRebalanceListener`:
//!
//! - **eager** protocol (range, roundrobin, sticky, or any mix that includes one of them): every
//!   owned partition is revoked before the member rejoins; the new assignment is assigned after
//!   SyncGroup;
//! - **cooperative** protocol (only `cooperative-sticky` configured): the member keeps its
//!   partitions while rejoining; after SyncGroup it revokes only the partitions no longer
//!   assigned to it, and rejoins at once if it revoked any, so their new owners get them in the
//!   follow-up rebalance;
//! - partitions are **lost** when the member finds it is no longer in the group (its session
//!   expired, it missed `max.poll.interval.ms`, it was fenced).
//!
//! The listener runs inside `poll`, before the member rejoins: when a revocation callback
//! returns, the member gives the partitions up, and only then can the rebalance that hands them
//! to another member complete.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::assignor::sticky::{encode_cooperative_user_data, encode_sticky_user_data};
use super::assignor::{Assignor, RebalanceProtocol, Subscription, TopicPartition};
use super::coordinator::{check_group_id, JoinRequest, JoinResult};
use super::offsets::OffsetAndMetadata;
use super::Shared;
use crate::error::{Error, ErrorCode, Result};

/// Who a consumer is in its group (Kafka's `ConsumerGroupMetadata`), e.g. for committing offsets
/// from a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// Group id.
    pub group_id: String,
    /// Generation the member belongs to (-1 when none).
    pub generation_id: i32,
    /// Member id ("" when not joined).
    pub member_id: String,
    /// `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
}

/// Called by [`GroupMembership::poll`] as partitions move (Kafka's `ConsumerRebalanceListener`).
pub trait RebalanceListener {
    /// The member gives these partitions up (commit their offsets here: `ctx.commit(..)`).
    fn on_partitions_revoked(&mut self, ctx: &RebalanceContext<'_>, partitions: &[TopicPartition]);
    /// The member now owns these partitions (all of them under eager, the new ones under
    /// cooperative; possibly none).
    fn on_partitions_assigned(&mut self, ctx: &RebalanceContext<'_>, partitions: &[TopicPartition]);
    /// The member lost these partitions without a chance to commit (it is no longer in the
    /// group). Kafka's default calls `on_partitions_revoked`.
    fn on_partitions_lost(&mut self, ctx: &RebalanceContext<'_>, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(ctx, partitions);
    }
}

/// A listener event, for callers that collect events instead of reacting in callbacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebalanceEvent {
    /// Partitions revoked.
    Revoked(Vec<TopicPartition>),
    /// Partitions assigned.
    Assigned(Vec<TopicPartition>),
    /// Partitions lost.
    Lost(Vec<TopicPartition>),
}

/// Collecting events: the caller must stop using revoked partitions before it next fetches.
impl RebalanceListener for Vec<RebalanceEvent> {
    fn on_partitions_revoked(&mut self, _: &RebalanceContext<'_>, p: &[TopicPartition]) {
        self.push(RebalanceEvent::Revoked(p.to_vec()));
    }
    fn on_partitions_assigned(&mut self, _: &RebalanceContext<'_>, p: &[TopicPartition]) {
        self.push(RebalanceEvent::Assigned(p.to_vec()));
    }
    fn on_partitions_lost(&mut self, _: &RebalanceContext<'_>, p: &[TopicPartition]) {
        self.push(RebalanceEvent::Lost(p.to_vec()));
    }
}

/// What a listener callback can do: see the member's group metadata and commit offsets.
pub struct RebalanceContext<'a> {
    shared: &'a Shared,
    meta: ConsumerGroupMetadata,
}

impl RebalanceContext<'_> {
    /// The member's group metadata at the time of the callback.
    pub fn group_metadata(&self) -> &ConsumerGroupMetadata {
        &self.meta
    }

    /// Commit offsets as this member (valid during revocation: the generation is still current).
    pub fn commit(&self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        commit_offsets(self.shared, &self.meta, offsets)
    }
}

/// Group settings of a consumer, with Kafka's names and defaults.
#[derive(Clone, Debug)]
pub struct MembershipConfig {
    /// `client.id`; the member id is `client.id-UUID`.
    pub client_id: String,
    /// `group.instance.id`: static membership when set.
    pub group_instance_id: Option<String>,
    /// `partition.assignment.strategy`, preferred first. Default `[range, cooperative-sticky]`
    /// as in Kafka 3.x, which selects range and follows the eager protocol.
    pub assignors: Vec<Assignor>,
    /// `session.timeout.ms` (default 45000).
    pub session_timeout: Duration,
    /// `max.poll.interval.ms` (default 300000); also the rebalance timeout.
    pub max_poll_interval: Duration,
    /// `heartbeat.interval.ms` (default 3000): how often [`GroupMembership::poll`] heartbeats
    /// at most.
    pub heartbeat_interval: Duration,
    /// Let the engine heartbeat for this member while the handle exists (Kafka's heartbeat
    /// thread). Default true; turn off to let a member that stops polling expire after
    /// `session.timeout.ms`.
    pub background_heartbeat: bool,
    /// The host reported by describe (default `"localhost"`).
    pub host: String,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        MembershipConfig {
            client_id: "consumer".into(),
            group_instance_id: None,
            assignors: vec![Assignor::Range, Assignor::CooperativeSticky],
            session_timeout: Duration::from_millis(45_000),
            max_poll_interval: Duration::from_millis(300_000),
            heartbeat_interval: Duration::from_millis(3_000),
            background_heartbeat: true,
            host: "localhost".into(),
        }
    }
}

fn parse_ms(key: &str, v: &str) -> Result<Duration> {
    let n: u64 = v
        .trim()
        .parse()
        .map_err(|_| Error::new(ErrorCode::InvalidConfig, format!("{key} must be a whole number of milliseconds, got {v:?}")))?;
    if n == 0 {
        return Err(Error::new(ErrorCode::InvalidConfig, format!("{key} must be positive")));
    }
    Ok(Duration::from_millis(n))
}

impl MembershipConfig {
    /// Read Kafka consumer properties: `client.id`, `group.instance.id`,
    /// `partition.assignment.strategy` (short or Java class names, comma-separated),
    /// `session.timeout.ms`, `max.poll.interval.ms`, `heartbeat.interval.ms`. Other keys are
    /// left to the consumer.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(props: &[(K, V)]) -> Result<Self> {
        let mut c = MembershipConfig::default();
        for (k, v) in props {
            let (k, v) = (k.as_ref(), v.as_ref());
            match k {
                "client.id" => c.client_id = v.to_string(),
                "group.instance.id" => {
                    if v.trim().is_empty() {
                        return Err(Error::new(ErrorCode::InvalidConfig, "group.instance.id must not be empty"));
                    }
                    c.group_instance_id = Some(v.to_string());
                }
                "partition.assignment.strategy" => c.assignors = Assignor::parse_strategy(v)?,
                "session.timeout.ms" => c.session_timeout = parse_ms(k, v)?,
                "max.poll.interval.ms" => c.max_poll_interval = parse_ms(k, v)?,
                "heartbeat.interval.ms" => c.heartbeat_interval = parse_ms(k, v)?,
                _ => {}
            }
        }
        if c.heartbeat_interval >= c.session_timeout {
            return Err(Error::new(ErrorCode::InvalidConfig, "heartbeat.interval.ms must be lower than session.timeout.ms"));
        }
        Ok(c)
    }

    /// The protocol the member follows: cooperative only if every configured assignor supports
    /// it (Kafka's `ConsumerCoordinator` picks the highest common protocol).
    pub fn protocol(&self) -> RebalanceProtocol {
        if !self.assignors.is_empty() && self.assignors.iter().all(|a| a.supported_protocols().contains(&RebalanceProtocol::Cooperative)) {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }
}

enum Phase {
    Unjoined,
    Joining,
    Syncing(JoinResult),
    Stable,
}

/// A consumer's membership in one group. Not `Sync`: one consumer thread owns it.
///
/// ```
/// use std::collections::BTreeMap;
/// use std::time::Duration;
/// use kabase::group::{GroupMembership, MembershipConfig, RebalanceEvent};
///
/// let engine = kabase::Engine::open_in_memory().unwrap();
/// let mut m = GroupMembership::new(&engine, "billing", MembershipConfig::default()).unwrap();
/// m.subscribe(BTreeMap::from([("orders".to_string(), 3u32)]));
/// let mut events: Vec<RebalanceEvent> = Vec::new();
/// assert!(m.poll(Duration::from_secs(5), &mut events).unwrap());
/// assert_eq!(m.assignment().len(), 3);
/// assert_eq!(m.generation(), 1);
/// m.leave(&mut events).unwrap();
/// engine.close().unwrap();
/// ```
pub struct GroupMembership {
    shared: Arc<Shared>,
    group_id: String,
    config: MembershipConfig,
    protocol: RebalanceProtocol,
    member_id: String,
    generation: i32,
    phase: Phase,
    owned: BTreeSet<TopicPartition>,
    topics: BTreeMap<String, u32>,
    last_assignment: Option<Vec<TopicPartition>>,
    rejoin_needed: bool,
    last_heartbeat: Option<Instant>,
    alive: Arc<()>,
    closed: bool,
}

impl std::fmt::Debug for GroupMembership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMembership")
            .field("group_id", &self.group_id)
            .field("member_id", &self.member_id)
            .field("generation", &self.generation)
            .field("owned", &self.owned)
            .finish()
    }
}

impl GroupMembership {
    /// A membership handle for `group_id`; nothing is sent until [`poll`](Self::poll).
    pub fn new(engine: &crate::Engine, group_id: &str, config: MembershipConfig) -> Result<Self> {
        engine.check_open()?;
        check_group_id(group_id)?;
        if config.assignors.is_empty() {
            return Err(Error::new(ErrorCode::InvalidConfig, "partition.assignment.strategy must name at least one assignor"));
        }
        if config.session_timeout.is_zero() || config.max_poll_interval.is_zero() {
            return Err(Error::new(ErrorCode::InvalidConfig, "session.timeout.ms and max.poll.interval.ms must be positive"));
        }
        if let Some(inst) = &config.group_instance_id {
            if inst.is_empty() {
                return Err(Error::new(ErrorCode::InvalidConfig, "group.instance.id must not be empty"));
            }
        }
        Ok(GroupMembership {
            shared: Arc::clone(&engine.inner.groups.shared),
            group_id: group_id.to_string(),
            protocol: config.protocol(),
            config,
            member_id: String::new(),
            generation: -1,
            phase: Phase::Unjoined,
            owned: BTreeSet::new(),
            topics: BTreeMap::new(),
            last_assignment: None,
            rejoin_needed: false,
            last_heartbeat: None,
            alive: Arc::new(()),
            closed: false,
        })
    }

    /// Set the subscription: topic name -> partition count (regexes resolved by the consumer).
    /// A change makes the member rejoin on its next poll, as a metadata change does in Kafka.
    pub fn subscribe(&mut self, topics: BTreeMap<String, u32>) {
        if topics != self.topics {
            self.topics = topics;
            self.rejoin_needed = true;
        }
    }

    /// The subscribed topics with their partition counts.
    pub fn subscription(&self) -> &BTreeMap<String, u32> {
        &self.topics
    }

    /// Partitions the member owns now.
    pub fn assignment(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The current generation (-1 before the first join completes).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The member id ("" before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The group id.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }

    /// The protocol followed (eager or cooperative).
    pub fn protocol(&self) -> RebalanceProtocol {
        self.protocol
    }

    /// Whether the member is in a stable generation and owns its full assignment.
    pub fn is_stable(&self) -> bool {
        matches!(self.phase, Phase::Stable) && !self.rejoin_needed
    }

    /// The member's group metadata (for transactional offset commits).
    pub fn group_metadata(&self) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata {
            group_id: self.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }

    fn ctx(&self) -> RebalanceContext<'_> {
        RebalanceContext { shared: &self.shared, meta: self.group_metadata() }
    }

    fn check(&self) -> Result<()> {
        if self.closed {
            return Err(Error::closed("group membership"));
        }
        self.shared.check_open()
    }

    /// Drive the group protocol for up to `timeout`: heartbeat, and when the group rebalances,
    /// revoke, rejoin, sync and assign, calling `listener`. Returns `true` when the member
    /// ends in a stable generation (its [`assignment`](Self::assignment) is current), `false`
    /// when the rebalance is still in progress (call again) or there is no subscription.
    ///
    /// Errors: [`ErrorCode::FencedInstanceId`] when another member took this
    /// `group.instance.id` (fatal for this handle), [`ErrorCode::InconsistentGroupProtocol`]
    /// when the group's members share no assignor with this one, [`ErrorCode::Closed`].
    pub fn poll(&mut self, timeout: Duration, listener: &mut dyn RebalanceListener) -> Result<bool> {
        self.check()?;
        let deadline = crate::util::deadline(timeout);
        let mut first = true;
        loop {
            if !first && Instant::now() >= deadline {
                return Ok(self.is_stable());
            }
            first = false;
            match std::mem::replace(&mut self.phase, Phase::Unjoined) {
                Phase::Stable => {
                    if self.rejoin_needed {
                        self.prepare_rejoin(listener);
                        continue;
                    }
                    match self.call_heartbeat() {
                        Ok(()) => {
                            self.phase = Phase::Stable;
                            return Ok(true);
                        }
                        Err(e) => match e.code() {
                            ErrorCode::RebalanceInProgress => self.prepare_rejoin(listener),
                            ErrorCode::UnknownMemberId => self.lose(listener, true),
                            ErrorCode::IllegalGeneration => self.lose(listener, false),
                            _ => {
                                self.lose(listener, true);
                                return Err(e);
                            }
                        },
                    }
                }
                Phase::Unjoined => {
                    self.rejoin_needed = false;
                    if self.topics.is_empty() {
                        // Unsubscribed: give everything up and leave the group (Kafka's
                        // unsubscribe()).
                        if !self.owned.is_empty() {
                            let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
                            listener.on_partitions_revoked(&self.ctx(), &all);
                            self.owned.clear();
                        }
                        self.send_leave();
                        self.member_id.clear();
                        self.generation = -1;
                        return Ok(false);
                    }
                    match self.send_join() {
                        Ok((id, res)) => {
                            self.member_id = id;
                            self.phase = match res {
                                Some(r) => Phase::Syncing(r),
                                None => Phase::Joining,
                            };
                        }
                        Err(e) if e.code() == ErrorCode::UnknownMemberId => self.lose(listener, true),
                        Err(e) => {
                            if e.code() == ErrorCode::FencedInstanceId {
                                self.lose(listener, true);
                            }
                            return Err(e);
                        }
                    }
                }
                Phase::Joining => match self.await_join(deadline) {
                    Ok(Some(r)) => self.phase = Phase::Syncing(r),
                    Ok(None) => {
                        self.phase = Phase::Joining;
                        return Ok(false);
                    }
                    Err(e) => match e.code() {
                        ErrorCode::RebalanceInProgress => {}
                        ErrorCode::UnknownMemberId | ErrorCode::GroupNotFound => self.lose(listener, true),
                        _ => {
                            if e.code() == ErrorCode::FencedInstanceId {
                                self.lose(listener, true);
                            }
                            return Err(e);
                        }
                    },
                },
                Phase::Syncing(r) => match self.call_sync(r.generation) {
                    Ok(assignment) => {
                        self.generation = r.generation;
                        self.apply(assignment, listener);
                        self.last_heartbeat = Some(Instant::now());
                        self.phase = Phase::Stable;
                        if !self.rejoin_needed {
                            return Ok(true);
                        }
                    }
                    Err(e) => match e.code() {
                        ErrorCode::RebalanceInProgress => {}
                        ErrorCode::UnknownMemberId => self.lose(listener, true),
                        ErrorCode::IllegalGeneration => self.lose(listener, false),
                        _ => {
                            if e.code() == ErrorCode::FencedInstanceId {
                                self.lose(listener, true);
                            }
                            return Err(e);
                        }
                    },
                },
            }
        }
    }

    /// Send a heartbeat now. `Ok` while the member is in the current, stable generation;
    /// otherwise the error says why ([`ErrorCode::RebalanceInProgress`],
    /// [`ErrorCode::IllegalGeneration`], [`ErrorCode::UnknownMemberId`],
    /// [`ErrorCode::FencedInstanceId`]); the next [`poll`](Self::poll) acts on it.
    pub fn heartbeat(&mut self) -> Result<()> {
        self.check()?;
        if self.member_id.is_empty() {
            return Err(Error::new(ErrorCode::UnknownMemberId, format!("not a member of group {} yet; poll first", self.group_id)));
        }
        let now = Instant::now();
        let mut c = self.shared.coord.lock();
        let g = c.groups.get_mut(&self.group_id).ok_or_else(|| unknown_group(&self.group_id))?;
        g.heartbeat(&self.member_id, self.config.group_instance_id.as_deref(), self.generation, false, now)
    }

    fn call_heartbeat(&mut self) -> Result<()> {
        let now = Instant::now();
        let mut c = self.shared.coord.lock();
        let g = c.groups.get_mut(&self.group_id).ok_or_else(|| unknown_group(&self.group_id))?;
        // The poll itself is always recorded; a full heartbeat (with its generation check) is
        // sent at most every heartbeat.interval.ms unless the group is rebalancing.
        let due = self.last_heartbeat.is_none_or(|t| now.duration_since(t) >= self.config.heartbeat_interval);
        if !due && g.state == super::GroupState::Stable && g.generation == self.generation {
            if let Some(m) = g.members.iter_mut().find(|m| m.id == self.member_id) {
                m.last_poll = now;
                m.last_heartbeat = now;
                return Ok(());
            }
        }
        self.last_heartbeat = Some(now);
        g.heartbeat(&self.member_id, self.config.group_instance_id.as_deref(), self.generation, true, now)
    }

    fn subscription_for(&self, a: Assignor) -> Subscription {
        let topics: Vec<String> = self.topics.keys().cloned().collect();
        let user_data = match a {
            Assignor::Sticky => self.last_assignment.as_ref().map(|l| encode_sticky_user_data(l, self.generation)),
            Assignor::CooperativeSticky => Some(encode_cooperative_user_data(self.generation)),
            _ => None,
        };
        Subscription {
            topics,
            user_data,
            owned_partitions: self.owned.iter().cloned().collect(),
            generation_id: Some(self.generation),
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }

    fn send_join(&mut self) -> Result<(String, Option<JoinResult>)> {
        let req = JoinRequest {
            member_id: self.member_id.clone(),
            instance_id: self.config.group_instance_id.clone(),
            client_id: self.config.client_id.clone(),
            host: self.config.host.clone(),
            session_timeout: self.config.session_timeout,
            rebalance_timeout: self.config.max_poll_interval,
            max_poll_interval: self.config.max_poll_interval,
            protocols: self.config.assignors.iter().map(|a| (*a, self.subscription_for(*a))).collect(),
            topic_partitions: self.topics.clone(),
            alive: if self.config.background_heartbeat { Some(Arc::downgrade(&self.alive)) } else { None },
        };
        let now = Instant::now();
        let mut c = self.shared.coord.lock();
        let g = c.groups.entry(self.group_id.clone()).or_insert_with(|| super::coordinator::Group::new(&self.group_id));
        let out = g.join(req, now);
        self.shared.changed.notify_all();
        out
    }

    fn await_join(&mut self, deadline: Instant) -> Result<Option<JoinResult>> {
        let mut c = self.shared.coord.lock();
        loop {
            self.shared.check_open()?;
            let now = Instant::now();
            let g = c.groups.get_mut(&self.group_id).ok_or_else(|| unknown_group(&self.group_id))?;
            let r = g.take_join_result(&self.member_id, self.config.group_instance_id.as_deref())?;
            if let Some(m) = g.members.iter_mut().find(|m| m.id == self.member_id) {
                m.last_poll = now;
                m.last_heartbeat = now;
            }
            if r.is_some() {
                return Ok(r);
            }
            if now >= deadline {
                return Ok(None);
            }
            self.shared.changed.wait_until(&mut c, deadline);
        }
    }

    fn call_sync(&mut self, generation: i32) -> Result<Vec<TopicPartition>> {
        let now = Instant::now();
        let mut c = self.shared.coord.lock();
        let g = c.groups.get_mut(&self.group_id).ok_or_else(|| unknown_group(&self.group_id))?;
        let out = g.sync(&self.member_id, self.config.group_instance_id.as_deref(), generation, now);
        self.shared.changed.notify_all();
        out
    }

    fn prepare_rejoin(&mut self, listener: &mut dyn RebalanceListener) {
        if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            listener.on_partitions_revoked(&self.ctx(), &all);
            self.owned.clear();
        }
        self.rejoin_needed = false;
        self.phase = Phase::Unjoined;
    }

    fn lose(&mut self, listener: &mut dyn RebalanceListener, forget_member_id: bool) {
        if !self.owned.is_empty() {
            let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            listener.on_partitions_lost(&self.ctx(), &all);
            self.owned.clear();
        }
        self.generation = -1;
        if forget_member_id {
            self.member_id.clear();
        }
        self.phase = Phase::Unjoined;
    }

    fn apply(&mut self, assignment: Vec<TopicPartition>, listener: &mut dyn RebalanceListener) {
        let new: BTreeSet<TopicPartition> = assignment.iter().cloned().collect();
        self.last_assignment = Some(assignment);
        match self.protocol {
            RebalanceProtocol::Eager => {
                self.owned = new;
                let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
                listener.on_partitions_assigned(&self.ctx(), &all);
            }
            RebalanceProtocol::Cooperative => {
                let revoked: Vec<TopicPartition> = self.owned.difference(&new).cloned().collect();
                let added: Vec<TopicPartition> = new.difference(&self.owned).cloned().collect();
                if !revoked.is_empty() {
                    listener.on_partitions_revoked(&self.ctx(), &revoked);
                    for tp in &revoked {
                        self.owned.remove(tp);
                    }
                    self.rejoin_needed = true;
                }
                self.owned.extend(added.iter().cloned());
                listener.on_partitions_assigned(&self.ctx(), &added);
            }
        }
    }

    /// Commit offsets as this member. Fails with [`ErrorCode::CommitFailed`] when the member is
    /// not in the group's current generation (it was kicked out or the group rebalanced), with
    /// [`ErrorCode::RebalanceInProgress`] while the group completes a rebalance. A consumer that
    /// never joined (manual assignment) commits as a standalone consumer, allowed while the
    /// group has no members.
    pub fn commit(&self, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        self.check()?;
        commit_offsets(&self.shared, &self.group_metadata(), offsets)
    }

    /// The group's committed offsets for `partitions` (absent when none).
    pub fn committed(&self, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        self.check()?;
        fetch_offsets(&self.shared, &self.group_id, partitions)
    }

    /// Leave the group now (revoking owned partitions through `listener`). The handle can join
    /// again with [`poll`](Self::poll). Static members leave too (KIP-345's explicit leave).
    pub fn leave(&mut self, listener: &mut dyn RebalanceListener) -> Result<()> {
        self.check()?;
        if !self.owned.is_empty() {
            let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            listener.on_partitions_revoked(&self.ctx(), &all);
            self.owned.clear();
        }
        self.send_leave();
        self.member_id.clear();
        self.generation = -1;
        self.phase = Phase::Unjoined;
        Ok(())
    }

    fn send_leave(&mut self) {
        if self.member_id.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut c = self.shared.coord.lock();
        if let Some(g) = c.groups.get_mut(&self.group_id) {
            // Already gone (expired, fenced) is fine when leaving.
            let _ = g.leave(&self.member_id, self.config.group_instance_id.as_deref(), now);
        }
        self.shared.changed.notify_all();
    }

    /// Close: revoke through `listener`, then leave the group. A static member does not leave
    /// (as in Kafka): it keeps its place until `session.timeout.ms` passes, so a restart with
    /// the same `group.instance.id` gets its partitions back without a rebalance.
    pub fn close(mut self, listener: &mut dyn RebalanceListener) -> Result<()> {
        if self.closed || self.shared.check_open().is_err() {
            self.closed = true;
            return Ok(());
        }
        if !self.owned.is_empty() {
            let all: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            listener.on_partitions_revoked(&self.ctx(), &all);
            self.owned.clear();
        }
        if self.config.group_instance_id.is_none() {
            self.send_leave();
        }
        self.closed = true;
        Ok(())
    }
}

impl Drop for GroupMembership {
    fn drop(&mut self) {
        if !self.closed && self.config.group_instance_id.is_none() && self.shared.check_open().is_ok() {
            self.send_leave();
        }
    }
}

fn unknown_group(group: &str) -> Error {
    Error::new(ErrorCode::UnknownMemberId, format!("group {group} no longer exists"))
}

/// Commit offsets for a member (or standalone when `member_id` is empty and generation < 0).
pub(crate) fn commit_offsets(shared: &Shared, meta: &ConsumerGroupMetadata, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
    shared.check_open()?;
    check_group_id(&meta.group_id)?;
    let mut c = shared.coord.lock();
    let standalone = meta.member_id.is_empty() && meta.generation_id < 0;
    let recs = {
        let exists = c.groups.contains_key(&meta.group_id);
        if !exists && !standalone {
            return Err(Error::new(
                ErrorCode::CommitFailed,
                format!("commit failed: group {} has no member {} (it was removed or the group deleted)", meta.group_id, meta.member_id),
            ));
        }
        let g = c.groups.entry(meta.group_id.clone()).or_insert_with(|| super::coordinator::Group::new(&meta.group_id));
        if let Err(e) = g.validate_commit(&meta.member_id, meta.group_instance_id.as_deref(), meta.generation_id) {
            return Err(match e.code() {
                ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => Error::new(
                    ErrorCode::CommitFailed,
                    format!(
                        "commit failed: the member is not part of group {}'s current generation ({}); the group rebalanced \
                         and its partitions may belong to another member",
                        meta.group_id,
                        e.message()
                    ),
                ),
                _ => e,
            });
        }
        g.commit_records(offsets, crate::util::now_ms())?
    };
    c.apply(recs)
}

/// Committed offsets of a group; all of them when `partitions` is empty.
pub(crate) fn fetch_offsets(shared: &Shared, group: &str, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
    shared.check_open()?;
    let c = shared.coord.lock();
    let Some(g) = c.groups.get(group) else { return Ok(BTreeMap::new()) };
    if partitions.is_empty() {
        return Ok(g.offsets.clone());
    }
    Ok(partitions.iter().filter_map(|tp| g.offsets.get(tp).map(|v| (tp.clone(), v.clone()))).collect())
}
