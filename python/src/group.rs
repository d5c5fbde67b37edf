//! Consumer-group membership of a `kabase._native.Consumer`, and the engine's group admin calls.
//!
//! The core's [`GroupMembership`] runs the group protocol; this file connects it to the fetch
//! side: after each group poll the consumer's assignment follows the member's, partitions
//! without a position start from the group's committed offsets, and with auto-commit the
//! positions are committed every `auto.commit.interval.ms`, inside each revocation (while the
//! generation is still current) and on close, as Kafka's clients do. Rebalance events go back to
//! Python's listener after the group poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kabase::group::{GroupMembership, MembershipConfig, OffsetAndMetadata, RebalanceContext, RebalanceListener, TopicPartition as GroupTp};
use kabase::log::{CommittedOffsets, Consumer, TopicPartition};
use kabase::{Engine, Error};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::engine::PyEngine;
use crate::error::IntoPyResult;

/// Kind of rebalance event.
pub enum EventKind {
    /// Partitions taken away.
    Revoked,
    /// Partitions given.
    Assigned,
    /// Partitions lost without a chance to commit.
    Lost,
}

/// A rebalance event and its partitions.
pub type Event = (EventKind, Vec<(String, u32)>);

fn to_group(tp: &TopicPartition) -> GroupTp {
    GroupTp::new(tp.topic.clone(), tp.partition as i32)
}

fn to_log(tp: &GroupTp) -> Option<TopicPartition> {
    u32::try_from(tp.partition).ok().map(|p| TopicPartition::new(tp.topic.clone(), p))
}

fn tuples(parts: &[GroupTp]) -> Vec<(String, u32)> {
    parts.iter().filter_map(to_log).map(|tp| (tp.topic, tp.partition)).collect()
}

/// The group's committed offsets, for partitions the consumer has no position in.
struct GroupOffsets {
    engine: Engine,
    group: String,
}

impl CommittedOffsets for GroupOffsets {
    fn committed(&self, tp: &TopicPartition) -> kabase::Result<Option<i64>> {
        let g = to_group(tp);
        Ok(self.engine.fetch_group_offsets(&self.group, std::slice::from_ref(&g))?.get(&g).map(|o| o.offset))
    }
}

/// Positions of `parts` as offsets to commit.
fn positions(consumer: &mut Consumer, parts: &[TopicPartition]) -> Vec<(GroupTp, OffsetAndMetadata)> {
    let mut offs = Vec::new();
    for tp in parts {
        if let Ok(pos) = consumer.position(tp) {
            offs.push((to_group(tp), OffsetAndMetadata::new(pos)));
        }
    }
    offs
}

/// Collects events; with auto-commit, commits the revoked partitions' positions first.
struct Collect<'a> {
    consumer: &'a mut Consumer,
    auto_commit: bool,
    events: Vec<Event>,
}

impl RebalanceListener for Collect<'_> {
    fn on_partitions_revoked(&mut self, ctx: &RebalanceContext<'_>, partitions: &[GroupTp]) {
        if self.auto_commit {
            let parts: Vec<TopicPartition> = partitions.iter().filter_map(to_log).collect();
            let offs = positions(self.consumer, &parts);
            // As in Kafka's clients, a failed commit here is not fatal: the next owner starts
            // from the last successful commit.
            let _ = ctx.commit(&offs);
        }
        self.events.push((EventKind::Revoked, tuples(partitions)));
    }
    fn on_partitions_assigned(&mut self, _ctx: &RebalanceContext<'_>, partitions: &[GroupTp]) {
        self.events.push((EventKind::Assigned, tuples(partitions)));
    }
    fn on_partitions_lost(&mut self, _ctx: &RebalanceContext<'_>, partitions: &[GroupTp]) {
        self.events.push((EventKind::Lost, tuples(partitions)));
    }
}

/// A consumer's membership in its group.
pub struct Member {
    membership: GroupMembership,
    auto_commit: bool,
    interval: Duration,
    next_commit: std::time::Instant,
}

impl Member {
    /// Join `group_id` (on the first poll) with Kafka-named group configs; `enable.auto.commit`
    /// is read here too.
    pub fn new(engine: &Engine, group_id: &str, configs: &[(String, String)], consumer: &mut Consumer) -> Result<Member, Error> {
        let cfg = MembershipConfig::from_properties(configs)?;
        let auto_commit = configs.iter().any(|(k, v)| k == "enable.auto.commit" && v == "true");
        let mut interval = Duration::from_millis(5000);
        for (k, v) in configs {
            if k == "auto.commit.interval.ms" {
                let ms: u64 = v.trim().parse().map_err(|_| {
                    Error::new(kabase::ErrorCode::InvalidConfig, format!("auto.commit.interval.ms must be a non-negative integer, not {v:?}"))
                })?;
                interval = Duration::from_millis(ms);
            }
        }
        let membership = GroupMembership::new(engine, group_id, cfg)?;
        consumer.set_committed_offsets(Arc::new(GroupOffsets { engine: engine.clone(), group: group_id.to_string() }));
        Ok(Member { membership, auto_commit, interval, next_commit: std::time::Instant::now() + interval })
    }

    fn sync_assignment(&self, consumer: &mut Consumer) -> Result<(), Error> {
        let want: Vec<TopicPartition> = self.membership.assignment().iter().filter_map(to_log).collect();
        if want != consumer.assignment() {
            consumer.assign(&want)?;
        }
        Ok(())
    }

    /// Auto-commit: commit every assigned partition's position once the interval has passed.
    fn auto_commit(&mut self, consumer: &mut Consumer, now: bool) {
        if !self.auto_commit || (!now && std::time::Instant::now() < self.next_commit) {
            return;
        }
        self.next_commit = std::time::Instant::now() + self.interval;
        let offs = positions(consumer, &consumer.assignment());
        if !offs.is_empty() {
            // A failed auto-commit is not fatal (Kafka's clients log it and go on).
            let _ = self.membership.commit(&offs);
        }
    }

    /// Drive the group protocol for up to `timeout` with the current topics.
    pub fn poll(&mut self, consumer: &mut Consumer, topics: Vec<(String, u32)>, timeout: Duration) -> Result<Vec<Event>, Error> {
        let want: BTreeMap<String, u32> = topics.into_iter().collect();
        if &want != self.membership.subscription() {
            self.membership.subscribe(want);
        }
        self.auto_commit(consumer, false);
        let mut l = Collect { consumer: &mut *consumer, auto_commit: self.auto_commit, events: Vec::new() };
        self.membership.poll(timeout, &mut l)?;
        let events = l.events;
        self.sync_assignment(consumer)?;
        Ok(events)
    }

    /// Leave the group's assignment (revoking everything).
    pub fn unsubscribe(&mut self, consumer: &mut Consumer) -> Result<Vec<Event>, Error> {
        let mut l = Collect { consumer: &mut *consumer, auto_commit: self.auto_commit, events: Vec::new() };
        self.membership.leave(&mut l)?;
        let events = l.events;
        self.membership.subscribe(BTreeMap::new());
        Ok(events)
    }

    /// Commit `[(topic, partition, offset, metadata)]` as this member.
    pub fn commit(&self, offsets: Vec<(String, u32, i64, String)>) -> Result<(), Error> {
        let offs: Vec<(GroupTp, OffsetAndMetadata)> = offsets
            .into_iter()
            .map(|(t, p, o, m)| {
                let mut om = OffsetAndMetadata::new(o);
                om.metadata = m;
                (GroupTp::new(t, p as i32), om)
            })
            .collect();
        self.membership.commit(&offs)
    }

    /// The committed `(offset, metadata)` of one partition.
    pub fn committed(&self, topic: String, partition: u32) -> Result<Option<(i64, String)>, Error> {
        let g = GroupTp::new(topic, partition as i32);
        Ok(self.membership.committed(std::slice::from_ref(&g))?.get(&g).map(|o| (o.offset, o.metadata.clone())))
    }

    pub fn generation(&self) -> i32 {
        self.membership.generation()
    }

    pub fn member_id(&self) -> String {
        self.membership.member_id().to_string()
    }

    /// Leave the group (the other members take over) and close; with auto-commit, the
    /// positions are committed first.
    pub fn close(mut self, consumer: &mut Consumer) -> Result<Vec<Event>, Error> {
        self.auto_commit(consumer, true);
        let auto = self.auto_commit;
        let mut l = Collect { consumer, auto_commit: auto, events: Vec::new() };
        self.membership.close(&mut l)?;
        Ok(l.events)
    }
}

#[pymethods]
impl PyEngine {
    /// Group ids.
    fn list_groups(&self) -> PyResult<Vec<String>> {
        Ok(self.core().list_groups().py()?.into_iter().map(|g| g.group_id).collect())
    }

    /// `{'group_id', 'state', 'protocol', 'members': [{'member_id', 'client_id', 'client_host',
    /// 'group_instance_id', 'assignment': [(topic, partition)]}]}`.
    fn describe_group<'py>(&self, py: Python<'py>, group_id: &str) -> PyResult<Bound<'py, PyDict>> {
        let d = self.core().describe_group(group_id).py()?;
        let out = PyDict::new(py);
        out.set_item("group_id", &d.group_id)?;
        out.set_item("state", d.state.name())?;
        out.set_item("protocol", d.protocol.clone())?;
        let members = PyList::empty(py);
        for m in &d.members {
            let md = PyDict::new(py);
            md.set_item("member_id", &m.member_id)?;
            md.set_item("client_id", &m.client_id)?;
            md.set_item("client_host", &m.host)?;
            md.set_item("group_instance_id", m.group_instance_id.clone())?;
            md.set_item("assignment", tuples(&m.assignment))?;
            members.append(md)?;
        }
        out.set_item("members", members)?;
        Ok(out)
    }

    /// `[(topic, partition, offset, metadata)]` committed by a group.
    fn group_offsets(&self, group_id: &str) -> PyResult<Vec<(String, u32, i64, String)>> {
        Ok(self
            .core()
            .list_group_offsets(group_id)
            .py()?
            .into_iter()
            .filter_map(|(tp, o)| to_log(&tp).map(|t| (t.topic, t.partition, o.offset, o.metadata)))
            .collect())
    }

    /// Delete an empty group and its offsets.
    fn delete_group(&self, py: Python<'_>, group_id: &str) -> PyResult<()> {
        let e = self.core().clone();
        py.detach(move || e.delete_group(group_id)).py()
    }
}
