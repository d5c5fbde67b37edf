//! Kafka's `RoundRobinAssignor`.
//!
//! Every partition of every subscribed topic, sorted by topic then partition, is dealt in turn
//! over the members in `MemberInfo` order (a circular iterator); a member not subscribed to the
//! partition's topic is skipped. Source: apache/kafka `clients/.../consumer/RoundRobinAssignor.java`.

use std::collections::BTreeMap;

use super::{member_info_cmp, Assignment, Subscription, TopicPartition};

pub(super) fn assign(topics: &BTreeMap<String, i32>, members: &[(String, Subscription)]) -> Assignment {
    let mut out: Assignment = BTreeMap::new();
    let mut order: Vec<&(String, Subscription)> = members.iter().collect();
    order.sort_by(|a, b| member_info_cmp((&a.0, a.1.group_instance_id.as_deref()), (&b.0, b.1.group_instance_id.as_deref())));
    if order.is_empty() {
        return out;
    }
    let mut next = 0usize;
    // `topics` holds only topics someone subscribes to, so the scan below always finds a member.
    for (topic, &n) in topics {
        for p in 0..n {
            let mut tries = 0;
            while !order[next].1.topics.iter().any(|t| t == topic) && tries < order.len() {
                next = (next + 1) % order.len();
                tries += 1;
            }
            if tries == order.len() {
                break;
            }
            out.entry(order[next].0.clone()).or_default().push(TopicPartition::new(topic.clone(), p));
            next = (next + 1) % order.len();
        }
    }
    out
}
