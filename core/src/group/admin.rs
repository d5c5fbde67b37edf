//! Group administration on [`crate::Engine`]: list, describe, offsets and lag, reset, delete.
//!
//! Answers that need the partition logs (log start and end offsets, offsets by time) come
//! through the [`OffsetResolver`] trait, which the topic side of the engine implements.

use std::collections::BTreeMap;

use super::assignor::TopicPartition;
use super::coordinator::{check_group_id, GroupState};
use super::membership::{commit_offsets, fetch_offsets, ConsumerGroupMetadata};
use super::offsets::{GroupRecord, OffsetAndMetadata};
use crate::error::{Error, ErrorCode, Result};

/// The log-side answers group admin needs.
pub trait OffsetResolver {
    /// The log start offset of a partition.
    fn earliest_offset(&self, tp: &TopicPartition) -> Result<i64>;
    /// The offset consumers read up to (the high watermark, or the last stable offset under
    /// `read_committed`): what lag is measured against.
    fn latest_offset(&self, tp: &TopicPartition) -> Result<i64>;
    /// The earliest offset whose timestamp is at or after `timestamp_ms`, `None` if no record is.
    fn offset_for_time(&self, tp: &TopicPartition, timestamp_ms: i64) -> Result<Option<i64>>;
}

/// Where [`crate::Engine::reset_group_offsets`] moves a group's offsets (as
/// `kafka-consumer-groups.sh --reset-offsets`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetResetSpec {
    /// `--to-earliest`.
    Earliest,
    /// `--to-latest`.
    Latest,
    /// `--to-datetime`: the first offset at or after this time (ms), else the end.
    ToTime(i64),
    /// `--to-offset`, clamped into [earliest, latest].
    ToOffset(i64),
}

/// One row of [`crate::Engine::list_groups`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Current state.
    pub state: GroupState,
    /// Always `"consumer"` for kabase's groups.
    pub protocol_type: String,
}

/// A member in [`GroupDescription`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id (`clientId-UUID`).
    pub member_id: String,
    /// `group.instance.id`, for static members.
    pub group_instance_id: Option<String>,
    /// `client.id`.
    pub client_id: String,
    /// Host.
    pub host: String,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// The member's assignment in the current generation.
    pub assignment: Vec<TopicPartition>,
}

/// What [`crate::Engine::describe_group`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State.
    pub state: GroupState,
    /// `"consumer"`.
    pub protocol_type: String,
    /// The selected assignor's name ("" when the group has no generation in progress).
    pub protocol: String,
    /// Generation id.
    pub generation: i32,
    /// Leader member id, if any.
    pub leader: Option<String>,
    /// Members in join order.
    pub members: Vec<MemberDescription>,
}

/// One partition in [`crate::Engine::describe_group_offsets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOffsetDescription {
    /// Partition.
    pub tp: TopicPartition,
    /// Committed offset, if any.
    pub committed: Option<OffsetAndMetadata>,
    /// The partition's end offset (per the resolver).
    pub log_end_offset: i64,
    /// `log_end_offset - committed` (None without a commit).
    pub lag: Option<i64>,
    /// The member that owns it now, if any.
    pub member_id: Option<String>,
}

fn not_found(group: &str) -> Error {
    Error::new(ErrorCode::GroupNotFound, format!("consumer group {group} does not exist"))
}

impl crate::Engine {
    fn groups_shared(&self) -> Result<&super::Shared> {
        self.check_open()?;
        Ok(&self.inner.groups.shared)
    }

    /// Every group the engine knows (with members or with committed offsets), sorted by id.
    pub fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let c = self.groups_shared()?.coord.lock();
        let mut out: Vec<GroupListing> = c
            .groups
            .values()
            .map(|g| GroupListing { group_id: g.id.clone(), state: g.state, protocol_type: "consumer".into() })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(out)
    }

    /// State, protocol, generation and members of a group; [`ErrorCode::GroupNotFound`] when
    /// the engine has no such group.
    pub fn describe_group(&self, group_id: &str) -> Result<GroupDescription> {
        let c = self.groups_shared()?.coord.lock();
        let g = c.groups.get(group_id).ok_or_else(|| not_found(group_id))?;
        let protocol = match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => g.protocol.map(|p| p.name().to_string()).unwrap_or_default(),
            _ => String::new(),
        };
        Ok(GroupDescription {
            group_id: g.id.clone(),
            state: g.state,
            protocol_type: "consumer".into(),
            protocol,
            generation: g.generation,
            leader: g.leader.clone(),
            members: g
                .members
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    group_instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    host: m.host.clone(),
                    topics: m.topic_partitions.keys().cloned().collect(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// All committed offsets of a group; [`ErrorCode::GroupNotFound`] for an unknown group.
    pub fn list_group_offsets(&self, group_id: &str) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        let shared = self.groups_shared()?;
        if !shared.coord.lock().groups.contains_key(group_id) {
            return Err(not_found(group_id));
        }
        fetch_offsets(shared, group_id, &[])
    }

    /// Committed offsets of a group for `partitions` (all when empty); absent ones are left out.
    pub fn fetch_group_offsets(&self, group_id: &str, partitions: &[TopicPartition]) -> Result<BTreeMap<TopicPartition, OffsetAndMetadata>> {
        fetch_offsets(self.groups_shared()?, group_id, partitions)
    }

    /// Commit offsets for a group as `meta` says: a member of the current generation (its
    /// [`super::GroupMembership::group_metadata`], e.g. from a transactional producer's
    /// `send_offsets_to_transaction`) or a standalone consumer (empty member id, generation -1),
    /// allowed while the group has no members. Durable when `Ok`.
    pub fn commit_group_offsets(&self, meta: &ConsumerGroupMetadata, offsets: &[(TopicPartition, OffsetAndMetadata)]) -> Result<()> {
        commit_offsets(self.groups_shared()?, meta, offsets)
    }

    /// Committed offset, end offset, lag and owner of every partition the group has committed
    /// or owns.
    pub fn describe_group_offsets(&self, group_id: &str, resolver: &dyn OffsetResolver) -> Result<Vec<GroupOffsetDescription>> {
        let (offsets, owners) = {
            let c = self.groups_shared()?.coord.lock();
            let g = c.groups.get(group_id).ok_or_else(|| not_found(group_id))?;
            let mut owners: BTreeMap<TopicPartition, String> = BTreeMap::new();
            for m in &g.members {
                for tp in &m.assignment {
                    owners.insert(tp.clone(), m.id.clone());
                }
            }
            (g.offsets.clone(), owners)
        };
        let mut tps: Vec<TopicPartition> = offsets.keys().chain(owners.keys()).cloned().collect();
        tps.sort();
        tps.dedup();
        let mut out = Vec::with_capacity(tps.len());
        for tp in tps {
            let end = resolver.latest_offset(&tp)?;
            let committed = offsets.get(&tp).cloned();
            let lag = committed.as_ref().map(|c| (end - c.offset).max(0));
            out.push(GroupOffsetDescription { member_id: owners.get(&tp).cloned(), tp, committed, log_end_offset: end, lag });
        }
        Ok(out)
    }

    /// Move a group's committed offsets for `partitions` (all committed partitions when empty).
    /// The group must have no members ([`ErrorCode::GroupNotEmpty`]), as Kafka's tool requires.
    /// Returns the new offsets.
    pub fn reset_group_offsets(
        &self,
        group_id: &str,
        partitions: &[TopicPartition],
        spec: OffsetResetSpec,
        resolver: &dyn OffsetResolver,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        check_group_id(group_id)?;
        let shared = self.groups_shared()?;
        let targets: Vec<TopicPartition> = {
            let c = shared.coord.lock();
            if let Some(g) = c.groups.get(group_id) {
                if !g.members.is_empty() {
                    return Err(Error::new(
                        ErrorCode::GroupNotEmpty,
                        format!("consumer group {group_id} has {} active member(s); offsets can only be reset while it is empty", g.members.len()),
                    ));
                }
            }
            if partitions.is_empty() {
                c.groups.get(group_id).map(|g| g.offsets.keys().cloned().collect()).unwrap_or_default()
            } else {
                partitions.to_vec()
            }
        };
        let mut out = BTreeMap::new();
        for tp in &targets {
            let new = match spec {
                OffsetResetSpec::Earliest => resolver.earliest_offset(tp)?,
                OffsetResetSpec::Latest => resolver.latest_offset(tp)?,
                OffsetResetSpec::ToTime(ts) => match resolver.offset_for_time(tp, ts)? {
                    Some(o) => o,
                    None => resolver.latest_offset(tp)?,
                },
                OffsetResetSpec::ToOffset(o) => {
                    let (lo, hi) = (resolver.earliest_offset(tp)?, resolver.latest_offset(tp)?);
                    o.clamp(lo, hi.max(lo))
                }
            };
            out.insert(tp.clone(), new);
        }
        let meta = ConsumerGroupMetadata { group_id: group_id.to_string(), generation_id: -1, member_id: String::new(), group_instance_id: None };
        let offsets: Vec<(TopicPartition, OffsetAndMetadata)> = out.iter().map(|(tp, o)| (tp.clone(), OffsetAndMetadata::new(*o))).collect();
        commit_offsets(shared, &meta, &offsets)?;
        Ok(out)
    }

    /// Delete a group and its committed offsets. [`ErrorCode::GroupNotEmpty`] while it has
    /// members, [`ErrorCode::GroupNotFound`] when unknown.
    pub fn delete_group(&self, group_id: &str) -> Result<()> {
        let shared = self.groups_shared()?;
        let mut c = shared.coord.lock();
        let g = c.groups.get(group_id).ok_or_else(|| not_found(group_id))?;
        if !g.members.is_empty() {
            return Err(Error::new(
                ErrorCode::GroupNotEmpty,
                format!("consumer group {group_id} has {} active member(s); only empty groups can be deleted", g.members.len()),
            ));
        }
        let mut recs: Vec<GroupRecord> =
            g.offsets.keys().map(|tp| GroupRecord::OffsetTombstone { group: group_id.to_string(), tp: tp.clone() }).collect();
        recs.push(GroupRecord::GroupTombstone { group: group_id.to_string() });
        c.apply(recs)?;
        shared.changed.notify_all();
        Ok(())
    }
}
