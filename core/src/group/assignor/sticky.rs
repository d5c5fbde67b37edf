//! Kafka's `StickyAssignor` and `CooperativeStickyAssignor`: the `AbstractStickyAssignor`
//! algorithm (KIP-54, KIP-341, KIP-429), without rack awareness.
//!
//! Two paths, as in Kafka:
//! - **constrained** (every member subscribes to the same topics): keep up to the quota of each
//!   member's previously owned partitions (sorted by partition, then topic), then deal the rest
//!   round robin to the members under quota (sorted by member id), then to members at the minimum
//!   quota while some may still take one more;
//! - **general** (subscriptions differ): keep valid previous assignments, assign the rest one by
//!   one to the subscribed member with the fewest partitions, then move partitions (preferring
//!   to move a partition back to its owner of the previous generation) until balanced, keeping
//!   the result only if it is more balanced than before.
//!
//! The cooperative assignor then removes every partition that changes owner from its new
//! owner's list (it is assigned in the follow-up rebalance, once its old owner revoked it).
//!
//! Source: apache/kafka `clients/.../consumer/internals/AbstractStickyAssignor.java`,
//! `.../consumer/StickyAssignor.java`, `.../consumer/CooperativeStickyAssignor.java`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{java_bucket, java_cmp, java_hash_order, java_table_capacity, Assignment, Subscription, TopicPartition};
use crate::error::{Error, Result};

/// Kafka's `AbstractStickyAssignor.DEFAULT_GENERATION`.
pub const DEFAULT_GENERATION: i32 = -1;

/// What a sticky member reports: its previous partitions and the generation they belong to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StickyUserData {
    /// Partitions the member owned.
    pub partitions: Vec<TopicPartition>,
    /// The generation they were assigned in (absent in version 0 user data).
    pub generation: Option<i32>,
}

/// Encode the `StickyAssignor` user data, schema version 1 (Kafka protocol types, big-endian):
///
/// ```text
/// previous_assignment: ARRAY (int32 count) of
///     topic:      STRING (int16 length + UTF-8)
///     partitions: ARRAY (int32 count) of INT32
/// generation: INT32
/// ```
///
/// Topics appear in the iteration order of the `HashMap` Kafka groups them in
/// (`CollectionUtils.groupPartitionsByTopic`); partitions in the order given. Version 0 is the
/// same without `generation`. Source: apache/kafka `clients/.../consumer/StickyAssignor.java`.
pub fn encode_sticky_user_data(partitions: &[TopicPartition], generation: i32) -> Vec<u8> {
    let mut by_topic: Vec<(&str, Vec<i32>)> = Vec::new();
    for tp in partitions {
        match by_topic.iter_mut().find(|(t, _)| *t == tp.topic) {
            Some((_, ps)) => ps.push(tp.partition),
            None => by_topic.push((&tp.topic, vec![tp.partition])),
        }
    }
    let order = java_hash_order(by_topic.iter().map(|(t, _)| *t));
    let mut out = Vec::new();
    out.extend_from_slice(&(by_topic.len() as i32).to_be_bytes());
    for t in order {
        let Some((_, ps)) = by_topic.iter().find(|(x, _)| *x == t) else { continue };
        out.extend_from_slice(&(t.len() as i16).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
        out.extend_from_slice(&(ps.len() as i32).to_be_bytes());
        for p in ps {
            out.extend_from_slice(&p.to_be_bytes());
        }
    }
    out.extend_from_slice(&generation.to_be_bytes());
    out
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| Error::invalid(format!("sticky assignor user data truncated at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i16(&mut self) -> Result<i16> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Decode `StickyAssignor` user data of version 1, or version 0 (no generation).
pub fn decode_sticky_user_data(buf: &[u8]) -> Result<StickyUserData> {
    let mut r = Reader { buf, pos: 0 };
    let n = r.i32()?;
    if n < 0 {
        return Err(Error::invalid(format!("sticky assignor user data: negative topic count {n}")));
    }
    let mut partitions = Vec::new();
    for _ in 0..n {
        let len = r.i16()?;
        if len < 0 {
            return Err(Error::invalid("sticky assignor user data: null topic name"));
        }
        let topic = std::str::from_utf8(r.take(len as usize)?)
            .map_err(|_| Error::invalid("sticky assignor user data: topic name is not UTF-8"))?
            .to_string();
        let np = r.i32()?;
        if np < 0 {
            return Err(Error::invalid(format!("sticky assignor user data: negative partition count {np}")));
        }
        for _ in 0..np {
            partitions.push(TopicPartition::new(topic.clone(), r.i32()?));
        }
    }
    let generation = if r.pos == buf.len() { None } else { Some(r.i32()?) };
    Ok(StickyUserData { partitions, generation })
}

/// Encode the `CooperativeStickyAssignor` user data: `generation INT32` (schema V0).
pub fn encode_cooperative_user_data(generation: i32) -> Vec<u8> {
    generation.to_be_bytes().to_vec()
}

/// Decode the `CooperativeStickyAssignor` user data; Kafka reads a malformed one as
/// [`DEFAULT_GENERATION`].
pub fn decode_cooperative_user_data(buf: &[u8]) -> i32 {
    match buf {
        [a, b, c, d, ..] => i32::from_be_bytes([*a, *b, *c, *d]),
        _ => DEFAULT_GENERATION,
    }
}

/// `memberData(subscription)` of the two sticky assignors.
fn member_data(s: &Subscription, cooperative: bool) -> StickyUserData {
    if cooperative {
        if let Some(g) = s.generation_id {
            return StickyUserData { partitions: s.owned_partitions.clone(), generation: Some(g) };
        }
        let generation = s.user_data.as_deref().map(decode_cooperative_user_data);
        StickyUserData { partitions: s.owned_partitions.clone(), generation }
    } else {
        match s.user_data.as_deref() {
            None | Some([]) => StickyUserData::default(),
            // Kafka would fail the rebalance on undecodable user data; kabase treats it as absent.
            Some(b) => decode_sticky_user_data(b).unwrap_or_default(),
        }
    }
}

/// Run the sticky algorithm; `topics` holds subscribed topics with their partition counts.
pub(super) fn assign(topics: &BTreeMap<String, i32>, members: &[(String, Subscription)], cooperative: bool) -> Result<Assignment> {
    if members.is_empty() {
        return Ok(BTreeMap::new());
    }
    let subs: HashMap<&str, &Subscription> = members.iter().map(|(id, s)| (id.as_str(), s)).collect();
    // Iteration order of the `subscriptions` HashMap on the leader.
    let order: Vec<&str> = java_hash_order(members.iter().map(|(id, _)| id.as_str()));
    let datas: HashMap<&str, StickyUserData> = members.iter().map(|(id, s)| (id.as_str(), member_data(s, cooperative))).collect();

    // allSubscriptionsEqual: also fills each member's valid owned partitions.
    let mut all_equal = true;
    let mut first_topics: HashSet<&str> = HashSet::new();
    let mut max_generation = DEFAULT_GENERATION;
    let mut owned: HashMap<&str, Vec<TopicPartition>> = HashMap::new();
    let mut prev_owner: HashMap<TopicPartition, &str> = HashMap::new();
    let mut multiply_claimed: HashSet<TopicPartition> = HashSet::new();
    for &c in &order {
        let s = subs[c];
        if first_topics.is_empty() {
            first_topics.extend(s.topics.iter().map(String::as_str));
        } else if all_equal {
            let mine: HashSet<&str> = s.topics.iter().map(String::as_str).collect();
            if s.topics.len() != first_topics.len() || !mine.is_subset(&first_topics) {
                all_equal = false;
            }
        }
        let data = &datas[c];
        let gen = data.generation.unwrap_or(DEFAULT_GENERATION);
        max_generation = max_generation.max(gen);
        owned.insert(c, Vec::new());
        for tp in &data.partitions {
            let valid = topics.get(&tp.topic).is_some_and(|&n| tp.partition >= 0 && tp.partition < n);
            if !valid {
                continue;
            }
            match prev_owner.get(tp).copied() {
                None => {
                    owned.get_mut(c).map(|v| v.push(tp.clone()));
                    prev_owner.insert(tp.clone(), c);
                }
                Some(other) => {
                    let other_gen = subs[other].generation_id.unwrap_or(DEFAULT_GENERATION);
                    if gen == other_gen {
                        multiply_claimed.insert(tp.clone());
                        owned.get_mut(other).map(|v| v.retain(|x| x != tp));
                        prev_owner.insert(tp.clone(), c);
                    } else if gen > other_gen {
                        owned.get_mut(c).map(|v| v.push(tp.clone()));
                        owned.get_mut(other).map(|v| v.retain(|x| x != tp));
                        prev_owner.insert(tp.clone(), c);
                    }
                }
            }
        }
    }

    let (mut assignment, transferring) = if all_equal {
        let (a, t) = constrained(topics, &order, owned, &multiply_claimed);
        (a, Some(t))
    } else {
        let a = General::new(topics, &order, &subs, &datas, owned, max_generation).build();
        (a, None)
    };

    if cooperative {
        let transferring: Vec<(TopicPartition, String)> = match transferring {
            Some(t) => t.into_iter().collect(),
            None => {
                // computePartitionsTransferringOwnership: added to someone and revoked from someone.
                let mut added: Vec<(TopicPartition, String)> = Vec::new();
                let mut revoked: HashSet<TopicPartition> = HashSet::new();
                for (c, list) in &assignment {
                    let mine: HashSet<&TopicPartition> = subs[c.as_str()].owned_partitions.iter().collect();
                    for tp in list {
                        if !mine.contains(tp) {
                            added.push((tp.clone(), c.clone()));
                        }
                    }
                    let now: HashSet<&TopicPartition> = list.iter().collect();
                    for tp in &subs[c.as_str()].owned_partitions {
                        if !now.contains(tp) {
                            revoked.insert(tp.clone());
                        }
                    }
                }
                added.retain(|(tp, _)| revoked.contains(tp));
                added
            }
        };
        for (tp, c) in transferring {
            if let Some(list) = assignment.get_mut(&c) {
                list.retain(|x| *x != tp);
            }
        }
    }
    Ok(assignment)
}

fn sorted_all_partitions(topics: &BTreeMap<String, i32>) -> Vec<TopicPartition> {
    let mut out = Vec::new();
    for (t, &n) in topics {
        for p in 0..n {
            out.push(TopicPartition::new(t.clone(), p));
        }
    }
    out
}

/// `ConstrainedAssignmentBuilder`. Returns the assignment and the partitions transferring
/// ownership (partition -> new owner).
fn constrained(
    topics: &BTreeMap<String, i32>,
    order: &[&str],
    owned: HashMap<&str, Vec<TopicPartition>>,
    multiply_claimed: &HashSet<TopicPartition>,
) -> (Assignment, HashMap<TopicPartition, String>) {
    let total: i32 = topics.values().sum();
    let n = order.len() as i32;
    let min_quota = total / n;
    let max_quota = (total + n - 1) / n;
    let expected_over_min = total % n;
    let mut current_over_min = 0;
    let mut assignment: HashMap<&str, Vec<TopicPartition>> = order.iter().map(|c| (*c, Vec::new())).collect();
    let mut assigned: HashSet<TopicPartition> = HashSet::new();
    let mut revoked: HashSet<TopicPartition> = HashSet::new();
    let mut under_min: Vec<&str> = Vec::new();
    let mut exactly_min: Vec<&str> = Vec::new();
    let mut transferring: HashMap<TopicPartition, String> = HashMap::new();

    for &c in order {
        let mut mine: Vec<TopicPartition> = owned.get(c).cloned().unwrap_or_default();
        mine.sort_by(|a, b| a.partition.cmp(&b.partition).then_with(|| a.topic.cmp(&b.topic)));
        mine.retain(|tp| !multiply_claimed.contains(tp));
        let len = mine.len() as i32;
        let list = assignment.get_mut(c).map(std::mem::take).unwrap_or_default();
        let mut list = list;
        if len < min_quota {
            for tp in &mine {
                assigned.insert(tp.clone());
            }
            list.extend(mine);
            under_min.push(c);
        } else if len >= max_quota && current_over_min < expected_over_min {
            current_over_min += 1;
            if current_over_min == expected_over_min {
                exactly_min.clear();
            }
            for (i, tp) in mine.into_iter().enumerate() {
                if (i as i32) < max_quota {
                    assigned.insert(tp.clone());
                    list.push(tp);
                } else {
                    revoked.insert(tp);
                }
            }
        } else {
            for (i, tp) in mine.into_iter().enumerate() {
                if (i as i32) < min_quota {
                    assigned.insert(tp.clone());
                    list.push(tp);
                } else {
                    revoked.insert(tp);
                }
            }
            if current_over_min < expected_over_min {
                exactly_min.push(c);
            }
        }
        assignment.insert(c, list);
    }

    let unassigned: Vec<TopicPartition> = sorted_all_partitions(topics).into_iter().filter(|tp| !assigned.contains(tp)).collect();
    under_min.sort_by(|a, b| java_cmp(a, b));
    exactly_min.sort_by(|a, b| java_cmp(a, b));

    // assignRoundRobin, with the LinkedList iterator over `under_min` kept as an index.
    let mut pos = 0usize;
    for tp in unassigned {
        let c: &str = if pos < under_min.len() {
            pos += 1;
            under_min[pos - 1]
        } else if under_min.is_empty() && exactly_min.is_empty() {
            // Kafka throws IllegalStateException here; the quotas make it unreachable.
            break;
        } else if under_min.is_empty() {
            exactly_min.remove(0)
        } else {
            pos = 1;
            under_min[0]
        };
        let list = assignment.entry(c).or_default();
        list.push(tp.clone());
        let count = list.len() as i32;
        if revoked.contains(&tp) || multiply_claimed.contains(&tp) {
            transferring.insert(tp, c.to_string());
        }
        if count == min_quota {
            // unfilledConsumerIter.remove(): the element last returned by the iterator.
            if pos > 0 && under_min.get(pos - 1) == Some(&c) {
                under_min.remove(pos - 1);
                pos -= 1;
            }
            exactly_min.push(c);
        }
        // (Kafka also counts members reaching maxQuota here, for an error log only.)
    }
    let out = assignment.into_iter().map(|(c, l)| (c.to_string(), l)).collect();
    (out, transferring)
}

/// A consumer key ordered as Kafka's `SubscriptionComparator`: partition count, then member id
/// in Java string order.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key(usize, String);

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0).then_with(|| java_cmp(&self.1, &other.1))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A `java.util.HashSet<TopicPartition>` as far as its iteration order goes: the first element
/// is the one in the lowest bucket, ties by insertion order; the table never shrinks.
#[derive(Default)]
struct JavaTpSet {
    items: Vec<TopicPartition>,
    max_len: usize,
}

impl JavaTpSet {
    fn insert(&mut self, tp: TopicPartition) {
        if !self.items.contains(&tp) {
            self.items.push(tp);
            self.max_len = self.max_len.max(self.items.len());
        }
    }
    fn remove(&mut self, tp: &TopicPartition) {
        self.items.retain(|x| x != tp);
    }
    fn first(&self) -> Option<&TopicPartition> {
        let cap = java_table_capacity(self.max_len);
        self.items.iter().enumerate().min_by_key(|(i, tp)| (java_bucket(tp.java_hash(), cap), *i)).map(|(_, tp)| tp)
    }
}

/// `PartitionMovements`: which partitions moved between which consumers during this rebalance.
#[derive(Default)]
struct Movements {
    by_partition: HashMap<TopicPartition, (String, String)>,
    by_topic: HashMap<String, HashMap<(String, String), JavaTpSet>>,
}

impl Movements {
    fn remove_record(&mut self, tp: &TopicPartition) -> Option<(String, String)> {
        let pair = self.by_partition.remove(tp)?;
        if let Some(pairs) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(tp);
                if set.items.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    fn add_record(&mut self, tp: TopicPartition, pair: (String, String)) {
        self.by_partition.insert(tp.clone(), pair.clone());
        self.by_topic.entry(tp.topic.clone()).or_default().entry(pair).or_default().insert(tp);
    }

    fn move_partition(&mut self, tp: &TopicPartition, old: &str, new: &str) {
        if self.by_partition.contains_key(tp) {
            if let Some((src, _dst)) = self.remove_record(tp) {
                if src != new {
                    self.add_record(tp.clone(), (src, new.to_string()));
                }
            }
        } else {
            self.add_record(tp.clone(), (old.to_string(), new.to_string()));
        }
    }

    fn actual_partition_to_move(&self, tp: &TopicPartition, old: &str, new: &str) -> TopicPartition {
        let Some(pairs) = self.by_topic.get(&tp.topic) else { return tp.clone() };
        let old = match self.by_partition.get(tp) {
            Some((src, _)) => src.as_str(),
            None => old,
        };
        match pairs.get(&(new.to_string(), old.to_string())).and_then(JavaTpSet::first) {
            Some(first) => first.clone(),
            None => tp.clone(),
        }
    }
}

/// `GeneralAssignmentBuilder`.
struct General<'a> {
    topics: &'a BTreeMap<String, i32>,
    total: usize,
    subs: &'a HashMap<&'a str, &'a Subscription>,
    topic_consumers: BTreeMap<String, Vec<String>>,
    consumer_topics: HashMap<String, Vec<String>>,
    current: HashMap<String, Vec<TopicPartition>>,
    owner: HashMap<TopicPartition, String>,
    sorted_partitions: Vec<TopicPartition>,
    sorted: BTreeSet<Key>,
    revocation_required: bool,
    prev: HashMap<TopicPartition, (String, i32)>,
    movements: Movements,
}

impl<'a> General<'a> {
    fn new(
        topics: &'a BTreeMap<String, i32>,
        order: &[&str],
        subs: &'a HashMap<&'a str, &'a Subscription>,
        datas: &HashMap<&str, StickyUserData>,
        owned: HashMap<&str, Vec<TopicPartition>>,
        max_generation: i32,
    ) -> Self {
        let mut topic_consumers: BTreeMap<String, Vec<String>> = topics.keys().map(|t| (t.clone(), Vec::new())).collect();
        let mut consumer_topics: HashMap<String, Vec<String>> = HashMap::new();
        let mut current: HashMap<String, Vec<TopicPartition>> = HashMap::new();
        for &c in order {
            let mut mine = Vec::new();
            for t in &subs[c].topics {
                if let Some(list) = topic_consumers.get_mut(t) {
                    if !mine.contains(t) {
                        mine.push(t.clone());
                        list.push(c.to_string());
                    }
                }
            }
            consumer_topics.insert(c.to_string(), mine);
            current.insert(c.to_string(), owned.get(c).cloned().unwrap_or_default());
        }
        let mut owner = HashMap::new();
        for (c, list) in &current {
            for tp in list {
                owner.insert(tp.clone(), c.clone());
            }
        }
        // TopicComparator: by number of potential consumers, then name.
        let mut sorted_topics: Vec<&String> = topic_consumers.keys().collect();
        sorted_topics.sort_by(|a, b| topic_consumers[*a].len().cmp(&topic_consumers[*b].len()).then_with(|| a.cmp(b)));
        let mut sorted_partitions = Vec::new();
        for t in sorted_topics {
            for p in 0..topics[t] {
                sorted_partitions.push(TopicPartition::new(t.clone(), p));
            }
        }
        // prepopulateCurrentAssignments: the latest older-generation owner of each partition.
        let mut prev: HashMap<TopicPartition, (String, i32)> = HashMap::new();
        for &c in order {
            let data = &datas[c];
            let gen = match data.generation {
                Some(g) if g < max_generation => g,
                None if max_generation > DEFAULT_GENERATION => DEFAULT_GENERATION,
                _ => continue,
            };
            for tp in &data.partitions {
                match prev.get(tp) {
                    Some((_, g)) if gen <= *g => {}
                    _ => {
                        prev.insert(tp.clone(), (c.to_string(), gen));
                    }
                }
            }
        }
        General {
            topics,
            total: topics.values().map(|&n| n as usize).sum(),
            subs,
            topic_consumers,
            consumer_topics,
            current,
            owner,
            sorted_partitions,
            sorted: BTreeSet::new(),
            revocation_required: false,
            prev,
            movements: Movements::default(),
        }
    }

    fn count(&self, c: &str) -> Option<usize> {
        self.current.get(c).map(Vec::len)
    }

    fn build(mut self) -> Assignment {
        // assignOwnedPartitions
        let mut assigned: HashSet<TopicPartition> = HashSet::new();
        let consumers: Vec<String> = self.current.keys().cloned().collect();
        for c in &consumers {
            let sub_topics = &self.subs[c.as_str()].topics;
            let list = self.current.get(c).cloned().unwrap_or_default();
            let mut keep = Vec::new();
            for tp in list {
                if !self.topic_consumers.contains_key(&tp.topic) {
                    self.owner.remove(&tp);
                } else if !sub_topics.contains(&tp.topic) {
                    self.revocation_required = true;
                } else {
                    assigned.insert(tp.clone());
                    keep.push(tp);
                }
            }
            self.current.insert(c.clone(), keep);
        }
        let unassigned: Vec<TopicPartition> = self.sorted_partitions.iter().filter(|tp| !assigned.contains(*tp)).cloned().collect();
        for (c, l) in &self.current {
            self.sorted.insert(Key(l.len(), c.clone()));
        }
        self.balance(unassigned);
        self.current.into_iter().collect()
    }

    fn set_count_key(&mut self, c: &str, before: usize) {
        self.sorted.remove(&Key(before, c.to_string()));
        if let Some(n) = self.count(c) {
            self.sorted.insert(Key(n, c.to_string()));
        }
    }

    fn max_assignment_size(&self, c: &str) -> usize {
        let ts = &self.consumer_topics[c];
        if ts.len() == self.topics.len() {
            self.total
        } else {
            ts.iter().map(|t| self.topics[t] as usize).sum()
        }
    }

    fn subscribed(&self, c: &str, topic: &str) -> bool {
        self.consumer_topics.get(c).is_some_and(|ts| ts.iter().any(|t| t == topic))
    }

    fn first_subscriber(&self, topic: &str) -> Option<String> {
        self.sorted.iter().find(|k| self.subscribed(&k.1, topic)).map(|k| k.1.clone())
    }

    fn is_balanced(&self) -> bool {
        let (Some(first), Some(last)) = (self.sorted.first(), self.sorted.last()) else { return true };
        let (min, max) = (first.0, last.0);
        if min + 1 >= max {
            return true;
        }
        let mut all: HashMap<&TopicPartition, &str> = HashMap::new();
        for (c, l) in &self.current {
            for tp in l {
                all.insert(tp, c);
            }
        }
        for k in &self.sorted {
            let c = &k.1;
            let Some(mine) = self.current.get(c) else { continue };
            let n = mine.len();
            if n == self.max_assignment_size(c) {
                continue;
            }
            for t in &self.consumer_topics[c] {
                for p in 0..self.topics[t] {
                    let tp = TopicPartition::new(t.clone(), p);
                    if !mine.contains(&tp) {
                        if let Some(other) = all.get(&tp).and_then(|o| self.count(o)) {
                            if n + 1 < other {
                                return false;
                            }
                        }
                    }
                }
            }
        }
        true
    }

    fn balance_score(a: &HashMap<String, Vec<TopicPartition>>) -> i64 {
        let sizes: Vec<i64> = a.values().map(|l| l.len() as i64).collect();
        let mut score = 0;
        for i in 0..sizes.len() {
            for j in i + 1..sizes.len() {
                score += (sizes[i] - sizes[j]).abs();
            }
        }
        score
    }

    fn can_consumer_participate(&self, c: &str) -> bool {
        let Some(list) = self.current.get(c) else { return false };
        if list.len() < self.max_assignment_size(c) {
            return true;
        }
        list.iter().any(|tp| self.topic_consumers.get(&tp.topic).is_some_and(|v| v.len() >= 2))
    }

    fn balance(&mut self, mut unassigned: Vec<TopicPartition>) {
        let initializing = self.sorted.last().is_none_or(|k| k.0 == 0);
        for tp in &unassigned {
            if self.topic_consumers.get(&tp.topic).is_none_or(Vec::is_empty) {
                continue;
            }
            if let Some(c) = self.first_subscriber(&tp.topic) {
                let before = self.count(&c).unwrap_or(0);
                if let Some(l) = self.current.get_mut(&c) {
                    l.push(tp.clone());
                }
                self.owner.insert(tp.clone(), c.clone());
                self.set_count_key(&c, before);
            }
        }
        let fixed_topics: HashSet<&String> = self.topic_consumers.iter().filter(|(_, v)| v.len() < 2).map(|(t, _)| t).collect();
        let fixed_topics: HashSet<String> = fixed_topics.into_iter().cloned().collect();
        self.sorted_partitions.retain(|tp| !fixed_topics.contains(&tp.topic));
        unassigned.retain(|tp| !fixed_topics.contains(&tp.topic));

        let mut fixed: Vec<(String, Vec<TopicPartition>)> = Vec::new();
        let consumers: Vec<String> = self.consumer_topics.keys().cloned().collect();
        for c in consumers {
            if !self.can_consumer_participate(&c) {
                if let Some(l) = self.current.remove(&c) {
                    self.sorted.remove(&Key(l.len(), c.clone()));
                    fixed.push((c, l));
                }
            }
        }
        let pre = self.current.clone();
        let pre_owner = self.owner.clone();
        if !self.revocation_required {
            self.perform_reassignments(&unassigned);
        }
        let all = self.sorted_partitions.clone();
        let performed = self.perform_reassignments(&all);
        if !initializing && performed && Self::balance_score(&self.current) >= Self::balance_score(&pre) {
            self.current = pre;
            self.owner = pre_owner;
        }
        for (c, l) in fixed {
            self.current.insert(c, l);
        }
    }

    fn perform_reassignments(&mut self, partitions: &[TopicPartition]) -> bool {
        let mut performed = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                let Some(consumer) = self.owner.get(tp).cloned() else { continue };
                let Some(mine) = self.count(&consumer) else { continue };
                if let Some((prev_c, _)) = self.prev.get(tp).cloned() {
                    if let Some(pn) = self.count(&prev_c) {
                        if mine > pn + 1 {
                            self.reassign(tp, &prev_c);
                            performed = true;
                            modified = true;
                            continue;
                        }
                    }
                }
                let others = self.topic_consumers.get(&tp.topic).cloned().unwrap_or_default();
                for other in others {
                    let Some(on) = self.count(&other) else { continue };
                    if mine > on + 1 {
                        if let Some(newc) = self.first_subscriber(&tp.topic) {
                            self.reassign(tp, &newc);
                        }
                        performed = true;
                        modified = true;
                        break;
                    }
                }
            }
            if !modified {
                break;
            }
        }
        performed
    }

    fn reassign(&mut self, tp: &TopicPartition, new: &str) {
        let Some(consumer) = self.owner.get(tp).cloned() else { return };
        let moved = self.movements.actual_partition_to_move(tp, &consumer, new);
        let Some(old) = self.owner.get(&moved).cloned() else { return };
        let (ob, nb) = (self.count(&old).unwrap_or(0), self.count(new).unwrap_or(0));
        self.sorted.remove(&Key(ob, old.clone()));
        self.sorted.remove(&Key(nb, new.to_string()));
        self.movements.move_partition(&moved, &old, new);
        if let Some(l) = self.current.get_mut(&old) {
            l.retain(|x| *x != moved);
        }
        if let Some(l) = self.current.get_mut(new) {
            l.push(moved.clone());
        }
        self.owner.insert(moved, new.to_string());
        for c in [new, old.as_str()] {
            if let Some(n) = self.count(c) {
                self.sorted.insert(Key(n, c.to_string()));
            }
        }
    }
}
