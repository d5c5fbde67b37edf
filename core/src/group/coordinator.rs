//! The group coordinator: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
//! LeaveGroup, OffsetCommit, OffsetFetch) inside one engine.
//!
//! States and transitions follow Kafka's `ClassicGroup` / `GroupCoordinator`:
//!
//! ```text
//! Empty --join--> PreparingRebalance --all members joined (or rebalance timeout)--> CompletingRebalance
//! CompletingRebalance --leader synced--> Stable
//! Stable / CompletingRebalance --join with new metadata, leave, session expiry--> PreparingRebalance
//! PreparingRebalance --last member gone--> Empty;   Empty --delete--> Dead
//! ```
//!
//! A rebalance completes only when every member has rejoined or was removed (it left, its
//! session expired, or the rebalance timeout passed): under the eager protocol members revoke
//! all their partitions before rejoining, so no two members of a group ever own a partition in
//! the same generation. The leader's assignment is computed in-process by the coordinator with
//! the selected assignor when the join phase completes; SyncGroup hands each member its part.
//!
//! Differences from a Kafka broker, all because the coordinator and its members share a process:
//! no MEMBER_ID_REQUIRED round trip (a new member gets its id, `clientId-UUID`, on its first
//! join), no `group.initial.rebalance.delay.ms`, and session/rebalance timeouts are not bounded
//! by `group.min/max.session.timeout.ms`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Weak;
use std::time::{Duration, Instant};

use super::assignor::{Assignor, Subscription, TopicPartition};
use super::offsets::{encode_assignment, encode_subscription, GroupMetadataValue, GroupRecord, MemberMetadata, OffsetAndMetadata, OffsetLog};
use crate::error::{Error, ErrorCode, Result};

/// A group's state (Kafka's `ClassicGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; committed offsets may remain.
    Empty,
    /// Waiting for every member to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's SyncGroup.
    CompletingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
    /// Deleted.
    Dead,
}

impl GroupState {
    /// Kafka's name for the state (`"Empty"`, `"PreparingRebalance"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A JoinGroup request.
#[derive(Clone, Debug)]
pub(crate) struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub max_poll_interval: Duration,
    /// (assignor, subscription) in preference order.
    pub protocols: Vec<(Assignor, Subscription)>,
    /// Partition counts the member knows for its subscribed topics.
    pub topic_partitions: BTreeMap<String, u32>,
    /// Alive while the member's handle exists; the engine heartbeats for it meanwhile.
    pub alive: Option<Weak<()>>,
}

/// What a completed join phase tells a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JoinResult {
    pub generation: i32,
    pub protocol: Assignor,
    pub leader: String,
    pub member_id: String,
}

pub(crate) struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub max_poll_interval: Duration,
    pub protocols: Vec<(Assignor, Subscription)>,
    pub topic_partitions: BTreeMap<String, u32>,
    pub alive: Option<Weak<()>>,
    pub last_heartbeat: Instant,
    pub last_poll: Instant,
    pub awaiting_join: bool,
    pub join_result: Option<JoinResult>,
    pub assignment: Vec<TopicPartition>,
    pub synced: bool,
}

impl Member {
    fn same_metadata(&self, req: &JoinRequest) -> bool {
        self.protocols == req.protocols && self.topic_partitions == req.topic_partitions
    }
}

pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol: Option<Assignor>,
    pub leader: Option<String>,
    /// Members in join order.
    pub members: Vec<Member>,
    pub rebalance_deadline: Option<Instant>,
    pub offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    /// The generation last written as a group metadata record.
    pub persisted_generation: i32,
}

/// Why a member was removed (for logs and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RemoveReason {
    Left,
    SessionTimeout,
    PollTimeout,
}

/// A new member id as the Java coordinator makes it: `clientId + "-" + UUID.randomUUID()`.
pub(crate) fn new_member_id(client_id: &str) -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{client_id}-{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

impl Group {
    pub fn new(id: &str) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol: None,
            leader: None,
            members: Vec::new(),
            rebalance_deadline: None,
            offsets: BTreeMap::new(),
            persisted_generation: 0,
        }
    }

    /// The group metadata record of the current generation.
    fn metadata_record(&self, now_ms: i64) -> Result<GroupRecord> {
        let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        let mut members = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let sub = self.protocol.and_then(|p| m.protocols.iter().find(|(a, _)| *a == p)).or(m.protocols.first()).map(|(_, s)| s.clone()).unwrap_or_default();
            members.push(MemberMetadata {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.host.clone(),
                rebalance_timeout: ms(m.rebalance_timeout),
                session_timeout: ms(m.session_timeout),
                subscription: encode_subscription(&sub.topics, sub.user_data.as_deref(), &sub.owned_partitions)?,
                assignment: encode_assignment(&m.assignment)?,
            });
        }
        let value = GroupMetadataValue {
            protocol_type: "consumer".into(),
            generation: self.generation,
            protocol: self.protocol.map(|p| p.name().to_string()),
            leader: self.leader.clone(),
            current_state_timestamp: now_ms,
            members,
        };
        Ok(GroupRecord::GroupMetadata { group: self.id.clone(), value })
    }

    fn member_index(&self, id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == id)
    }

    #[cfg(test)]
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    /// Find the member a request names, with Kafka's error choice: FENCED_INSTANCE_ID when the
    /// instance id belongs to another member id, UNKNOWN_MEMBER_ID when the member is gone.
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<usize> {
        if let Some(inst) = instance_id {
            if let Some(m) = self.members.iter().find(|m| m.instance_id.as_deref() == Some(inst)) {
                if m.id != member_id {
                    return Err(Error::new(
                        ErrorCode::FencedInstanceId,
                        format!("group {}: member {member_id} was fenced by {} with the same group.instance.id {inst}", self.id, m.id),
                    ));
                }
            }
        }
        let i = self.member_index(member_id).ok_or_else(|| {
            Error::new(ErrorCode::UnknownMemberId, format!("group {}: member {member_id:?} is not a member (it left or timed out)", self.id))
        })?;
        if self.members[i].instance_id.as_deref() != instance_id {
            return Err(Error::new(
                ErrorCode::FencedInstanceId,
                format!("group {}: member {member_id} does not hold group.instance.id {instance_id:?}", self.id),
            ));
        }
        Ok(i)
    }

    /// Protocols every member supports (Kafka's `candidateProtocols`).
    fn candidates(&self) -> Vec<Assignor> {
        let mut c: Option<BTreeSet<&'static str>> = None;
        for m in &self.members {
            let mine: BTreeSet<&'static str> = m.protocols.iter().map(|(a, _)| a.name()).collect();
            c = Some(match c {
                None => mine,
                Some(prev) => prev.intersection(&mine).copied().collect(),
            });
        }
        c.unwrap_or_default().into_iter().filter_map(|n| Assignor::from_name(n).ok()).collect()
    }

    /// Kafka's `selectProtocol`: each member votes for its most preferred candidate; most votes
    /// win. Ties go to the protocol the earliest-joined voter preferred (Kafka breaks them by
    /// hash-map order).
    fn select_protocol(&self) -> Option<Assignor> {
        let candidates = self.candidates();
        let mut votes: Vec<(Assignor, usize)> = Vec::new();
        for m in &self.members {
            if let Some((a, _)) = m.protocols.iter().find(|(a, _)| candidates.contains(a)) {
                match votes.iter_mut().find(|(x, _)| x == a) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((*a, 1)),
                }
            }
        }
        let best = votes.iter().map(|(_, n)| *n).max()?;
        votes.into_iter().find(|(_, n)| *n == best).map(|(a, _)| a)
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        let timeout = self.members.iter().map(|m| m.rebalance_timeout).max().unwrap_or(Duration::ZERO);
        self.state = GroupState::PreparingRebalance;
        self.rebalance_deadline = Some(now + timeout);
        for m in &mut self.members {
            m.join_result = None;
            m.synced = false;
        }
    }

    /// Join phase done when every member has (re)joined.
    pub fn try_complete_join(&mut self, now: Instant) -> bool {
        if self.state != GroupState::PreparingRebalance {
            return false;
        }
        if self.members.is_empty() {
            self.generation += 1;
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            self.rebalance_deadline = None;
            return true;
        }
        if !self.members.iter().all(|m| m.awaiting_join) {
            return false;
        }
        self.generation += 1;
        let protocol = self.select_protocol();
        self.protocol = protocol;
        if self.leader.as_ref().is_none_or(|l| self.member_index(l).is_none()) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        let leader = self.leader.clone().unwrap_or_default();
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for m in &self.members {
            for (t, n) in &m.topic_partitions {
                let e = counts.entry(t.clone()).or_insert(0);
                *e = (*e).max(*n);
            }
        }
        let mut assignment = BTreeMap::new();
        if let Some(p) = protocol {
            let subs: Vec<(String, Subscription)> = self
                .members
                .iter()
                .map(|m| {
                    let mut s = m.protocols.iter().find(|(a, _)| *a == p).map(|(_, s)| s.clone()).unwrap_or_default();
                    s.group_instance_id = m.instance_id.clone();
                    (m.id.clone(), s)
                })
                .collect();
            // Inputs are validated above, so the assignors cannot fail; an empty assignment
            // would only leave partitions unowned until the next rebalance.
            assignment = p.assign(&counts, &subs).unwrap_or_default();
        }
        let generation = self.generation;
        for m in &mut self.members {
            m.assignment = assignment.remove(&m.id).unwrap_or_default();
            m.awaiting_join = false;
            m.synced = false;
            m.last_heartbeat = now;
            m.join_result = protocol.map(|p| JoinResult { generation, protocol: p, leader: leader.clone(), member_id: m.id.clone() });
        }
        self.state = GroupState::CompletingRebalance;
        self.rebalance_deadline = None;
        true
    }

    /// Handle a JoinGroup. Returns the member id and, when the join completed at once, its result.
    pub fn join(&mut self, req: JoinRequest, now: Instant) -> Result<(String, Option<JoinResult>)> {
        if req.protocols.is_empty() {
            return Err(Error::new(ErrorCode::InconsistentGroupProtocol, "a member must offer at least one assignor"));
        }
        if req.session_timeout.is_zero() || req.rebalance_timeout.is_zero() {
            return Err(Error::new(ErrorCode::InvalidConfig, "session.timeout.ms and the rebalance timeout must be positive"));
        }
        if self.state == GroupState::Dead {
            return Err(Error::new(ErrorCode::GroupNotFound, format!("group {} was deleted", self.id)));
        }
        let offered: BTreeSet<&str> = req.protocols.iter().map(|(a, _)| a.name()).collect();
        let others_exist = self.members.iter().any(|m| m.id != req.member_id);
        if others_exist {
            let cand = self.candidates_excluding(&req.member_id);
            if !cand.iter().any(|a| offered.contains(a.name())) {
                return Err(Error::new(
                    ErrorCode::InconsistentGroupProtocol,
                    format!(
                        "group {}: the member offers {:?} but the group's members all support only {:?}",
                        self.id,
                        offered,
                        cand.iter().map(|a| a.name()).collect::<Vec<_>>()
                    ),
                ));
            }
        }

        let idx;
        if req.member_id.is_empty() {
            let static_idx = req
                .instance_id
                .as_deref()
                .and_then(|inst| self.members.iter().position(|m| m.instance_id.as_deref() == Some(inst)));
            let new_id = new_member_id(&req.client_id);
            if let Some(i) = static_idx {
                // Static member rejoining with a new member id: replace the old member id; the old
                // one is fenced from now on.
                let old_id = std::mem::replace(&mut self.members[i].id, new_id.clone());
                if self.leader.as_deref() == Some(old_id.as_str()) {
                    self.leader = Some(new_id.clone());
                }
                self.update_member(i, &req, now);
                // Kafka (`updateStaticMemberAndRebalance`): in Stable, no rebalance unless the
                // protocol the group would select changes; the member gets the current assignment.
                if self.state == GroupState::Stable && self.protocol.is_some() && self.select_protocol() == self.protocol {
                    let p = self.protocol.unwrap_or(Assignor::Range);
                    let leader = self.leader.clone().unwrap_or_default();
                    self.members[i].synced = false;
                    return Ok((new_id.clone(), Some(JoinResult { generation: self.generation, protocol: p, leader, member_id: new_id })));
                }
                idx = i;
            } else {
                self.members.push(Member {
                    id: new_id,
                    instance_id: req.instance_id.clone(),
                    client_id: req.client_id.clone(),
                    host: req.host.clone(),
                    session_timeout: req.session_timeout,
                    rebalance_timeout: req.rebalance_timeout,
                    max_poll_interval: req.max_poll_interval,
                    protocols: req.protocols.clone(),
                    topic_partitions: req.topic_partitions.clone(),
                    alive: req.alive.clone(),
                    last_heartbeat: now,
                    last_poll: now,
                    awaiting_join: false,
                    join_result: None,
                    assignment: Vec::new(),
                    synced: false,
                });
                idx = self.members.len() - 1;
            }
        } else {
            let i = self.validate_member(&req.member_id, req.instance_id.as_deref())?;
            let unchanged = self.members[i].same_metadata(&req);
            self.update_member(i, &req, now);
            let is_leader = self.leader.as_deref() == Some(req.member_id.as_str());
            if self.state == GroupState::Stable && unchanged && !is_leader {
                let p = self.protocol.unwrap_or(Assignor::Range);
                let leader = self.leader.clone().unwrap_or_default();
                return Ok((req.member_id.clone(), Some(JoinResult { generation: self.generation, protocol: p, leader, member_id: req.member_id })));
            }
            idx = i;
        }
        let id = self.members[idx].id.clone();
        self.members[idx].awaiting_join = true;
        if self.state != GroupState::PreparingRebalance {
            self.prepare_rebalance(now);
            self.members[idx].awaiting_join = true;
        }
        self.try_complete_join(now);
        let result = self.members.iter_mut().find(|m| m.id == id).and_then(|m| m.join_result.take());
        Ok((id, result))
    }

    fn candidates_excluding(&self, member_id: &str) -> Vec<Assignor> {
        let mut c: Option<BTreeSet<&'static str>> = None;
        for m in self.members.iter().filter(|m| m.id != member_id) {
            let mine: BTreeSet<&'static str> = m.protocols.iter().map(|(a, _)| a.name()).collect();
            c = Some(match c {
                None => mine,
                Some(prev) => prev.intersection(&mine).copied().collect(),
            });
        }
        c.unwrap_or_default().into_iter().filter_map(|n| Assignor::from_name(n).ok()).collect()
    }

    fn update_member(&mut self, i: usize, req: &JoinRequest, now: Instant) {
        let m = &mut self.members[i];
        m.client_id = req.client_id.clone();
        m.host = req.host.clone();
        m.session_timeout = req.session_timeout;
        m.rebalance_timeout = req.rebalance_timeout;
        m.max_poll_interval = req.max_poll_interval;
        m.protocols = req.protocols.clone();
        m.topic_partitions = req.topic_partitions.clone();
        m.alive = req.alive.clone();
        m.last_heartbeat = now;
        m.last_poll = now;
    }

    /// The result of a member's pending join, if the join phase has completed.
    pub fn take_join_result(&mut self, member_id: &str, instance_id: Option<&str>) -> Result<Option<JoinResult>> {
        let i = self.validate_member(member_id, instance_id)?;
        let m = &mut self.members[i];
        if let Some(r) = m.join_result.take() {
            return Ok(Some(r));
        }
        if !m.awaiting_join {
            return Err(Error::new(
                ErrorCode::RebalanceInProgress,
                format!("group {}: a new rebalance started before member {member_id} got its join result; rejoin", self.id),
            ));
        }
        Ok(None)
    }

    /// SyncGroup: the member's assignment for `generation`.
    pub fn sync(&mut self, member_id: &str, instance_id: Option<&str>, generation: i32, now: Instant) -> Result<Vec<TopicPartition>> {
        let i = self.validate_member(member_id, instance_id)?;
        match self.state {
            GroupState::PreparingRebalance => {
                return Err(Error::new(ErrorCode::RebalanceInProgress, format!("group {} is rebalancing; rejoin", self.id)))
            }
            GroupState::Empty | GroupState::Dead => {
                return Err(Error::new(ErrorCode::UnknownMemberId, format!("group {} has no members", self.id)))
            }
            _ => {}
        }
        if generation != self.generation {
            return Err(Error::new(
                ErrorCode::IllegalGeneration,
                format!("group {}: generation {generation} is not the current generation {}", self.id, self.generation),
            ));
        }
        let m = &mut self.members[i];
        m.synced = true;
        m.last_heartbeat = now;
        let out = m.assignment.clone();
        let is_leader = self.leader.as_deref() == Some(member_id);
        if self.state == GroupState::CompletingRebalance && (is_leader || self.members.iter().all(|m| m.synced)) {
            self.state = GroupState::Stable;
        }
        Ok(out)
    }

    /// Heartbeat (and, with `polled`, note that the member's application polled).
    pub fn heartbeat(&mut self, member_id: &str, instance_id: Option<&str>, generation: i32, polled: bool, now: Instant) -> Result<()> {
        if matches!(self.state, GroupState::Empty | GroupState::Dead) {
            return Err(Error::new(ErrorCode::UnknownMemberId, format!("group {} has no members", self.id)));
        }
        let i = self.validate_member(member_id, instance_id)?;
        let m = &mut self.members[i];
        m.last_heartbeat = now;
        if polled {
            m.last_poll = now;
        }
        match self.state {
            GroupState::PreparingRebalance => {
                Err(Error::new(ErrorCode::RebalanceInProgress, format!("group {} is rebalancing; rejoin", self.id)))
            }
            _ if generation != self.generation => Err(Error::new(
                ErrorCode::IllegalGeneration,
                format!("group {}: generation {generation} is not the current generation {}", self.id, self.generation),
            )),
            _ => Ok(()),
        }
    }

    /// Remove a member; start a rebalance for the rest.
    pub fn remove_member(&mut self, i: usize, _reason: RemoveReason, now: Instant) {
        let m = self.members.remove(i);
        if self.leader.as_deref() == Some(m.id.as_str()) {
            self.leader = None;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now);
                self.try_complete_join(now);
            }
            GroupState::PreparingRebalance => {
                self.try_complete_join(now);
            }
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// LeaveGroup.
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: Instant) -> Result<()> {
        let i = self.validate_member(member_id, instance_id)?;
        self.remove_member(i, RemoveReason::Left, now);
        Ok(())
    }

    /// Check an OffsetCommit against the group (Kafka's `validateOffsetCommit`). A commit with
    /// no member id and a negative generation is a standalone commit, allowed only while the
    /// group has no members.
    pub fn validate_commit(&self, member_id: &str, instance_id: Option<&str>, generation: i32) -> Result<()> {
        if member_id.is_empty() && generation < 0 {
            if self.members.is_empty() {
                return Ok(());
            }
            return Err(Error::new(
                ErrorCode::UnknownMemberId,
                format!("group {} has active members; a commit must come from one of them", self.id),
            ));
        }
        self.validate_member(member_id, instance_id)?;
        if self.state == GroupState::CompletingRebalance {
            return Err(Error::new(ErrorCode::RebalanceInProgress, format!("group {} is completing a rebalance", self.id)));
        }
        if generation != self.generation {
            return Err(Error::new(
                ErrorCode::IllegalGeneration,
                format!("group {}: generation {generation} is not the current generation {}", self.id, self.generation),
            ));
        }
        Ok(())
    }

    /// Background checks: heartbeat for live handles, expire sessions and stalled pollers, end
    /// rebalances that ran out of time. Returns whether anything changed.
    pub fn tick(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for m in &mut self.members {
            if m.alive.as_ref().is_some_and(|w| w.strong_count() > 0) {
                m.last_heartbeat = now;
            }
        }
        loop {
            let expired = self.members.iter().position(|m| {
                now.saturating_duration_since(m.last_heartbeat) > m.session_timeout
                    || now.saturating_duration_since(m.last_poll) > m.max_poll_interval
            });
            let Some(i) = expired else { break };
            let reason = if now.saturating_duration_since(self.members[i].last_heartbeat) > self.members[i].session_timeout {
                RemoveReason::SessionTimeout
            } else {
                RemoveReason::PollTimeout
            };
            self.remove_member(i, reason, now);
            changed = true;
        }
        if self.state == GroupState::PreparingRebalance && self.rebalance_deadline.is_some_and(|d| now >= d) {
            while let Some(i) = self.members.iter().position(|m| !m.awaiting_join) {
                self.members.remove(i);
                changed = true;
            }
            if self.leader.as_ref().is_some_and(|l| self.member_index(l).is_none()) {
                self.leader = None;
            }
            changed |= self.try_complete_join(now);
        }
        changed
    }

    /// Apply a committed offset, returning the record to log.
    pub fn commit_records(&mut self, offsets: &[(TopicPartition, OffsetAndMetadata)], now_ms: i64) -> Result<Vec<GroupRecord>> {
        let mut recs = Vec::with_capacity(offsets.len());
        for (tp, om) in offsets {
            if tp.partition < 0 {
                return Err(Error::invalid(format!("cannot commit an offset for negative partition {tp}")));
            }
            if om.offset < 0 {
                return Err(Error::invalid(format!("cannot commit negative offset {} for {tp}", om.offset)));
            }
            let mut v = om.clone();
            v.commit_timestamp = now_ms;
            recs.push(GroupRecord::OffsetCommit { group: self.id.clone(), tp: tp.clone(), value: v });
        }
        Ok(recs)
    }
}

/// All groups of one engine plus the log their offsets go to.
pub(crate) struct Coordinator {
    pub groups: HashMap<String, Group>,
    pub log: Box<dyn OffsetLog>,
}

impl Coordinator {
    /// Rebuild groups and committed offsets from the log.
    pub fn recover(mut log: Box<dyn OffsetLog>) -> Result<Self> {
        let records = log.replay()?;
        let total = records.len();
        let mut groups: HashMap<String, Group> = HashMap::new();
        for r in &records {
            match GroupRecord::decode(r)? {
                Some(GroupRecord::OffsetCommit { group, tp, value }) => {
                    groups.entry(group.clone()).or_insert_with(|| Group::new(&group)).offsets.insert(tp, value);
                }
                Some(GroupRecord::OffsetTombstone { group, tp }) => {
                    if let Some(g) = groups.get_mut(&group) {
                        g.offsets.remove(&tp);
                    }
                }
                Some(GroupRecord::GroupTombstone { group }) => {
                    groups.remove(&group);
                }
                Some(GroupRecord::GroupMetadata { group, value }) => {
                    // Members do not outlive the process; the generation carries on.
                    let g = groups.entry(group.clone()).or_insert_with(|| Group::new(&group));
                    g.generation = value.generation;
                    g.persisted_generation = value.generation;
                }
                None => {}
            }
        }
        groups.retain(|_, g| !g.offsets.is_empty());
        let live: usize = groups.values().map(|g| g.offsets.len()).sum();
        let mut c = Coordinator { groups, log };
        if total > 1024 && total > 2 * live {
            let recs = c.snapshot_records()?;
            c.log.rewrite(&recs)?;
        }
        Ok(c)
    }

    fn snapshot_records(&self) -> Result<Vec<super::offsets::OffsetLogRecord>> {
        let mut ids: Vec<&String> = self.groups.keys().collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            for (tp, v) in &self.groups[id].offsets {
                out.push(GroupRecord::OffsetCommit { group: id.clone(), tp: tp.clone(), value: v.clone() }.encode()?);
            }
        }
        Ok(out)
    }

    /// Write records durably, then apply them to memory.
    pub fn apply(&mut self, records: Vec<GroupRecord>) -> Result<()> {
        let raw = records.iter().map(GroupRecord::encode).collect::<Result<Vec<_>>>()?;
        self.log.append(&raw)?;
        self.apply_in_memory(records);
        Ok(())
    }

    /// Apply records already in the log (a committed transaction's offsets) to memory.
    pub fn apply_in_memory(&mut self, records: Vec<GroupRecord>) {
        for r in records {
            match r {
                GroupRecord::OffsetCommit { group, tp, value } => {
                    self.groups.entry(group.clone()).or_insert_with(|| Group::new(&group)).offsets.insert(tp, value);
                }
                GroupRecord::OffsetTombstone { group, tp } => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.offsets.remove(&tp);
                    }
                }
                GroupRecord::GroupTombstone { group } => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.state = GroupState::Dead;
                    }
                    self.groups.remove(&group);
                }
                GroupRecord::GroupMetadata { group, value } => {
                    if let Some(g) = self.groups.get_mut(&group) {
                        g.persisted_generation = g.persisted_generation.max(value.generation);
                    }
                }
            }
        }
    }

    /// Write a group metadata record for every group whose generation changed since its last
    /// one (a rebalance completed its join phase, or the group became empty), as Kafka's
    /// coordinator records each generation. Called by the engine's group thread.
    pub fn persist_group_metadata(&mut self) -> Result<()> {
        let now = crate::util::now_ms();
        let mut recs = Vec::new();
        for g in self.groups.values() {
            let settled = matches!(g.state, GroupState::CompletingRebalance | GroupState::Stable | GroupState::Empty);
            if settled && g.generation != g.persisted_generation {
                recs.push(g.metadata_record(now)?);
            }
        }
        if recs.is_empty() {
            return Ok(());
        }
        self.apply(recs)
    }
}

/// Check a group id (Kafka allows any non-empty string; kabase also bounds its length so it fits
/// a Kafka STRING).
pub(crate) fn check_group_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::new(ErrorCode::InvalidName, "group id must not be empty"));
    }
    if id.len() > i16::MAX as usize {
        return Err(Error::new(ErrorCode::InvalidName, format!("group id of {} bytes is longer than 32767", id.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(client: &str, topics: &[&str]) -> JoinRequest {
        JoinRequest {
            member_id: String::new(),
            instance_id: None,
            client_id: client.into(),
            host: "localhost".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(10),
            max_poll_interval: Duration::from_secs(10),
            protocols: vec![(Assignor::Range, Subscription::new(topics.iter().map(|s| s.to_string()).collect()))],
            topic_partitions: topics.iter().map(|t| (t.to_string(), 4)).collect(),
            alive: None,
        }
    }

    #[test]
    fn recovery_compacts_a_log_of_mostly_stale_commits() {
        use crate::group::offsets::FileOffsetLog;
        let d = tempfile::tempdir().unwrap();
        {
            let mut c = Coordinator::recover(Box::new(FileOffsetLog::open(d.path()).unwrap())).unwrap();
            for i in 0..1500 {
                let v = OffsetAndMetadata::new(i);
                c.apply(vec![GroupRecord::OffsetCommit { group: "g".into(), tp: TopicPartition::new("t", (i % 2) as i32), value: v }]).unwrap();
            }
            c.apply(vec![GroupRecord::OffsetCommit { group: "gone".into(), tp: TopicPartition::new("t", 0), value: OffsetAndMetadata::new(1) }]).unwrap();
            c.apply(vec![GroupRecord::GroupTombstone { group: "gone".into() }]).unwrap();
        }
        let path = d.path().join("offsets.log");
        let before = std::fs::metadata(&path).unwrap().len();
        let c = Coordinator::recover(Box::new(FileOffsetLog::open(d.path()).unwrap())).unwrap();
        let after = std::fs::metadata(&path).unwrap().len();
        assert!(after * 100 < before, "compacted from {before} to {after} bytes");
        assert_eq!(c.groups.len(), 1);
        assert_eq!(c.groups["g"].offsets[&TopicPartition::new("t", 0)].offset, 1498);
        assert_eq!(c.groups["g"].offsets[&TopicPartition::new("t", 1)].offset, 1499);
        drop(c);
        let c = Coordinator::recover(Box::new(FileOffsetLog::open(d.path()).unwrap())).unwrap();
        assert_eq!(c.groups["g"].offsets[&TopicPartition::new("t", 1)].offset, 1499);
    }

    #[test]
    fn member_ids_look_like_javas() {
        let id = new_member_id("consumer-1");
        assert!(id.starts_with("consumer-1-"));
        let uuid = &id["consumer-1-".len()..];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_ne!(new_member_id("c"), new_member_id("c"));
    }

    #[test]
    fn state_machine_of_two_members() {
        let now = Instant::now();
        let mut g = Group::new("g");
        let (a, ra) = g.join(req("a", &["t"]), now).unwrap();
        let ra = ra.unwrap();
        assert_eq!((ra.generation, g.state), (1, GroupState::CompletingRebalance));
        assert_eq!(g.sync(&a, None, 1, now).unwrap().len(), 4);
        assert_eq!(g.state, GroupState::Stable);
        let (b, rb) = g.join(req("b", &["t"]), now).unwrap();
        assert!(rb.is_none());
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.heartbeat(&a, None, 1, true, now).unwrap_err().code(), ErrorCode::RebalanceInProgress);
        // Commits from the current generation are allowed while preparing (eager revocation).
        assert!(g.validate_commit(&a, None, 1).is_ok());
        let mut ra = req("a", &["t"]);
        ra.member_id = a.clone();
        let (_, r) = g.join(ra, now).unwrap();
        assert_eq!(r.unwrap().generation, 2);
        assert_eq!(g.take_join_result(&b, None).unwrap().unwrap().generation, 2);
        assert_eq!(g.sync(&a, None, 1, now).unwrap_err().code(), ErrorCode::IllegalGeneration);
        assert_eq!(g.validate_commit(&a, None, 2).unwrap_err().code(), ErrorCode::RebalanceInProgress);
        let pa = g.sync(&a, None, 2, now).unwrap();
        let pb = g.sync(&b, None, 2, now).unwrap();
        assert_eq!(pa.len() + pb.len(), 4);
        assert_eq!(g.state, GroupState::Stable);
        assert_eq!(g.heartbeat("nobody", None, 2, true, now).unwrap_err().code(), ErrorCode::UnknownMemberId);
        g.leave(&b, None, now).unwrap();
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert_eq!(g.validate_commit("", None, -1).unwrap_err().code(), ErrorCode::UnknownMemberId);
    }

    #[test]
    fn protocol_vote_and_inconsistent_protocol() {
        let now = Instant::now();
        let mut g = Group::new("g");
        let mut r1 = req("a", &["t"]);
        r1.protocols = vec![(Assignor::RoundRobin, Subscription::new(vec!["t".into()])), (Assignor::Range, Subscription::new(vec!["t".into()]))];
        g.join(r1, now).unwrap();
        let mut r2 = req("b", &["t"]);
        r2.protocols = vec![(Assignor::Range, Subscription::new(vec!["t".into()]))];
        g.join(r2, now).unwrap();
        let mut r3 = req("c", &["t"]);
        r3.protocols = vec![(Assignor::Sticky, Subscription::new(vec!["t".into()]))];
        assert_eq!(g.join(r3, now).unwrap_err().code(), ErrorCode::InconsistentGroupProtocol);
        assert_eq!(g.select_protocol(), Some(Assignor::Range));
    }

    #[test]
    fn session_and_rebalance_timeouts() {
        let now = Instant::now();
        let mut g = Group::new("g");
        let mut r = req("a", &["t"]);
        r.session_timeout = Duration::from_millis(100);
        let (a, _) = g.join(r, now).unwrap();
        g.sync(&a, None, 1, now).unwrap();
        assert!(!g.tick(now + Duration::from_millis(50)));
        assert!(g.tick(now + Duration::from_millis(150)));
        assert_eq!(g.state, GroupState::Empty);
        assert_eq!(g.generation, 2);
        // A member that never rejoins is dropped at the rebalance deadline.
        let mut r = req("a", &["t"]);
        r.rebalance_timeout = Duration::from_secs(1);
        let (a, _) = g.join(r.clone(), now).unwrap();
        g.sync(&a, None, 3, now).unwrap();
        let (b, _) = g.join(r, now).unwrap();
        assert_eq!(g.state, GroupState::PreparingRebalance);
        assert!(!g.tick(now + Duration::from_millis(500)));
        assert!(g.tick(now + Duration::from_secs(2)));
        assert!(g.member(&a).is_none());
        assert_eq!(g.state, GroupState::CompletingRebalance);
        assert_eq!(g.take_join_result(&b, None).unwrap().unwrap().generation, 4);
    }
}
