//! Kafka's consumer partition assignors, computing what Apache Kafka's Java classes compute.
//!
//! | short name | Java class | protocol |
//! |---|---|---|
//! | `range` (default) | `org.apache.kafka.clients.consumer.RangeAssignor` | eager |
//! | `roundrobin` | `org.apache.kafka.clients.consumer.RoundRobinAssignor` | eager |
//! | `sticky` | `org.apache.kafka.clients.consumer.StickyAssignor` | eager |
//! | `cooperative-sticky` | `org.apache.kafka.clients.consumer.CooperativeStickyAssignor` | cooperative (and eager) |
//!
//! Sources (read, then written anew for kabase): apache/kafka
//! `clients/src/main/java/org/apache/kafka/clients/consumer/{RangeAssignor,RoundRobinAssignor,
//! StickyAssignor,CooperativeStickyAssignor}.java`, `.../consumer/internals/AbstractStickyAssignor.java`,
//! `.../consumer/internals/AbstractPartitionAssignor.java` (`MemberInfo` ordering).
//!
//! Where Kafka's result depends on the iteration order of a `java.util.HashMap` or `HashSet`
//! (which member keeps surplus partitions in the sticky assignor's equal-subscription path, which
//! partition the sticky assignor moves back, which claim wins when two members of one
//! generation claim a partition), kabase reproduces that order: [`java_hash_order`] sorts keys by
//! their bucket in a Java hash table of the same size, ties by insertion order. The insertion
//! order is the order members joined the group.
//!
//! ```
//! use std::collections::BTreeMap;
//! use kabase::group::{Assignor, Subscription, TopicPartition};
//! let topics = BTreeMap::from([("t".to_string(), 7u32)]);
//! let members: Vec<(String, Subscription)> = ["C1", "C2", "C3"]
//!     .iter()
//!     .map(|m| (m.to_string(), Subscription::new(vec!["t".to_string()])))
//!     .collect();
//! let out = Assignor::Range.assign(&topics, &members).unwrap();
//! let parts = |m: &str| out[m].iter().map(|tp| tp.partition).collect::<Vec<_>>();
//! assert_eq!(parts("C1"), [0, 1, 2]);
//! assert_eq!(parts("C2"), [3, 4]);
//! assert_eq!(parts("C3"), [5, 6]);
//! ```

mod range;
mod roundrobin;
pub(crate) mod sticky;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::error::{Error, ErrorCode, Result};

pub use sticky::{decode_cooperative_user_data, decode_sticky_user_data, encode_cooperative_user_data, encode_sticky_user_data, StickyUserData};

/// A topic partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }

    /// Java's `TopicPartition.hashCode()`: `31 * (31 + partition) + topic.hashCode()`.
    pub(crate) fn java_hash(&self) -> i32 {
        31i32.wrapping_mul(31i32.wrapping_add(self.partition)).wrapping_add(java_string_hash(&self.topic))
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// What a member sends when it joins: Kafka's `ConsumerPartitionAssignor.Subscription`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topic names (regex subscriptions are resolved by the consumer first).
    pub topics: Vec<String>,
    /// Assignor-specific user data (the sticky assignor's previous assignment and generation,
    /// the cooperative assignor's generation), encoded as Kafka encodes it.
    pub user_data: Option<Vec<u8>>,
    /// Partitions the member owns while joining (cooperative protocol; empty under eager).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation the member last belonged to (`ConsumerProtocolSubscription` v2+), if any.
    pub generation_id: Option<i32>,
    /// The member's `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
}

impl Subscription {
    /// A subscription to `topics` with nothing else set.
    pub fn new(topics: Vec<String>) -> Self {
        Subscription { topics, ..Default::default() }
    }
}

/// Partitions per member, each list in ascending (topic, partition) order.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// The rebalance protocol an assignor follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceProtocol {
    /// Revoke everything before rejoining.
    Eager,
    /// Keep owned partitions while rejoining; revoke only what moves (KIP-429).
    Cooperative,
}

/// One of Kafka's built-in assignors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Assignor {
    /// `range`: per topic, contiguous ranges over the sorted subscribers.
    Range,
    /// `roundrobin`: all partitions dealt in turn over the sorted members.
    RoundRobin,
    /// `sticky`: balanced, then as sticky as possible (KIP-54), eager.
    Sticky,
    /// `cooperative-sticky`: sticky, withholding partitions that change owner (KIP-429).
    CooperativeSticky,
}

impl Assignor {
    /// Every built-in assignor.
    pub const ALL: [Assignor; 4] = [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky];

    /// The protocol name Kafka uses (`range`, `roundrobin`, `sticky`, `cooperative-sticky`).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The Java class implementing it.
    pub fn java_class(self) -> &'static str {
        match self {
            Assignor::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            Assignor::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            Assignor::Sticky => "org.apache.kafka.clients.consumer.StickyAssignor",
            Assignor::CooperativeSticky => "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        }
    }

    /// The protocols it supports, preferred first (Kafka's `supportedProtocols()`).
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::CooperativeSticky => &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager],
            _ => &[RebalanceProtocol::Eager],
        }
    }

    /// Parse a short name or a Java class name (case-sensitive, surrounding blanks ignored).
    pub fn from_name(name: &str) -> Result<Assignor> {
        let name = name.trim();
        Assignor::ALL.iter().copied().find(|a| a.name() == name || a.java_class() == name).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidConfig,
                format!(
                    "partition.assignment.strategy: unknown assignor {name:?}; use range, roundrobin, sticky, \
                     cooperative-sticky or their Java class names"
                ),
            )
        })
    }

    /// Parse `partition.assignment.strategy`: a comma-separated list, preferred first.
    pub fn parse_strategy(value: &str) -> Result<Vec<Assignor>> {
        let mut out = Vec::new();
        for part in value.split(',') {
            if part.trim().is_empty() {
                continue;
            }
            let a = Assignor::from_name(part)?;
            if !out.contains(&a) {
                out.push(a);
            }
        }
        if out.is_empty() {
            return Err(Error::new(ErrorCode::InvalidConfig, "partition.assignment.strategy must name at least one assignor"));
        }
        Ok(out)
    }

    /// Compute the assignment.
    ///
    /// `partitions_per_topic` is the partition count of every topic the client knows; topics a
    /// member subscribes to that are absent (or have no partitions) are skipped, as Kafka's
    /// `AbstractPartitionAssignor` does. `members` lists (member id, subscription) in the order
    /// the members joined. Every member appears in the result, possibly with no partitions.
    pub fn assign(self, partitions_per_topic: &BTreeMap<String, u32>, members: &[(String, Subscription)]) -> Result<Assignment> {
        let mut seen = BTreeSet::new();
        for (id, _) in members {
            if !seen.insert(id.as_str()) {
                return Err(Error::invalid(format!("member id {id:?} appears twice in the assignor input")));
            }
        }
        // AbstractPartitionAssignor: only subscribed topics that exist with > 0 partitions.
        let mut topics: BTreeMap<String, i32> = BTreeMap::new();
        for (_, s) in members {
            for t in &s.topics {
                if let Some(&n) = partitions_per_topic.get(t) {
                    if n > 0 {
                        let n = i32::try_from(n).map_err(|_| Error::invalid(format!("topic {t} has too many partitions")))?;
                        topics.insert(t.clone(), n);
                    }
                }
            }
        }
        let mut out = match self {
            Assignor::Range => range::assign(&topics, members),
            Assignor::RoundRobin => roundrobin::assign(&topics, members),
            Assignor::Sticky => sticky::assign(&topics, members, false)?,
            Assignor::CooperativeSticky => sticky::assign(&topics, members, true)?,
        };
        for (id, _) in members {
            out.entry(id.clone()).or_default();
        }
        for v in out.values_mut() {
            v.sort();
        }
        Ok(out)
    }
}

impl fmt::Display for Assignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Java's `String.compareTo`: UTF-16 code units, lexicographic.
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 units, wrapping.
pub(crate) fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The table capacity of a `java.util.HashMap` grown by `n` puts from the default 16 (load factor
/// 0.75, doubling when the size exceeds the threshold).
pub(crate) fn java_table_capacity(max_size: usize) -> usize {
    let mut cap = 16usize;
    while max_size > cap / 4 * 3 {
        cap *= 2;
    }
    cap
}

/// Bucket index of a hash in a Java hash table of `cap` buckets (`HashMap.hash` spreads the high
/// half into the low half).
pub(crate) fn java_bucket(hash: i32, cap: usize) -> usize {
    let h = hash as u32;
    ((h ^ (h >> 16)) as usize) & (cap - 1)
}

/// The iteration order of a `java.util.HashMap<String, _>` filled with `keys` in this order.
pub(crate) fn java_hash_order<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let keys: Vec<&str> = keys.into_iter().collect();
    let cap = java_table_capacity(keys.len());
    let mut idx: Vec<(usize, usize, &str)> =
        keys.iter().enumerate().map(|(i, k)| (java_bucket(java_string_hash(k), cap), i, *k)).collect();
    idx.sort();
    idx.into_iter().map(|(_, _, k)| k).collect()
}

/// Kafka's `MemberInfo` order: members with a `group.instance.id` first, by instance id; then
/// the others by member id (Java string order).
pub(crate) fn member_info_cmp(a: (&str, Option<&str>), b: (&str, Option<&str>)) -> Ordering {
    match (a.1, b.1) {
        (Some(x), Some(y)) => java_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_cmp(a.0, b.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_class_names_parse() {
        for a in Assignor::ALL {
            assert_eq!(Assignor::from_name(a.name()).unwrap(), a);
            assert_eq!(Assignor::from_name(a.java_class()).unwrap(), a);
        }
        assert_eq!(
            Assignor::parse_strategy("org.apache.kafka.clients.consumer.RangeAssignor, cooperative-sticky").unwrap(),
            vec![Assignor::Range, Assignor::CooperativeSticky]
        );
        assert_eq!(Assignor::from_name("bogus").unwrap_err().code(), ErrorCode::InvalidConfig);
        assert_eq!(Assignor::parse_strategy(" , ").unwrap_err().code(), ErrorCode::InvalidConfig);
    }

    #[test]
    fn java_hashes() {
        // Known Java values: "".hashCode() == 0, "a" == 97, "hello" == 99162322,
        // "consumer-1" == 2_004_186_614 (computed by the formula in String.hashCode's javadoc).
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        let mut h: i32 = 0;
        for c in "consumer-1".bytes() {
            h = h.wrapping_mul(31).wrapping_add(c as i32);
        }
        assert_eq!(java_string_hash("consumer-1"), h);
        assert_eq!(TopicPartition::new("t", 0).java_hash(), 31 * 31 + 116);
        assert_eq!(java_table_capacity(12), 16);
        assert_eq!(java_table_capacity(13), 32);
        // "a".."p" are single chars 97..112: buckets 1..16 mod 16 -> "p" (112 & 15 = 0) first.
        let keys = ["a", "b", "p"];
        assert_eq!(java_hash_order(keys), vec!["p", "a", "b"]);
    }

    #[test]
    fn java_string_order_is_utf16() {
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
        assert_eq!(java_cmp("ab", "a"), Ordering::Greater);
        // U+FF21 (one UTF-16 unit 0xFF21) sorts after U+1F600 (surrogates 0xD83D...) in Java,
        // before it in UTF-8 byte order.
        assert_eq!(java_cmp("\u{1F600}", "\u{FF21}"), Ordering::Less);
        assert_eq!("\u{1F600}".cmp("\u{FF21}"), Ordering::Greater);
    }

    #[test]
    fn member_order_puts_static_members_first() {
        assert_eq!(member_info_cmp(("z", Some("a")), ("a", None)), Ordering::Less);
        assert_eq!(member_info_cmp(("a", Some("b")), ("b", Some("a"))), Ordering::Greater);
        assert_eq!(member_info_cmp(("a", None), ("b", None)), Ordering::Less);
    }
}
