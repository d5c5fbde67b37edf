//! Kafka's `RangeAssignor` (without rack awareness, which kabase's single-node topics never use).
//!
//! Per topic: take the topic's subscribers in `MemberInfo` order and its partitions in order;
//! with `n` partitions and `c` subscribers, subscriber `i` gets `n / c` partitions plus one more
//! when `i < n % c`, as a contiguous range. Source: apache/kafka
//! `clients/.../consumer/RangeAssignor.java` (`assignRanges`).

use std::collections::BTreeMap;

use super::{member_info_cmp, Assignment, Subscription, TopicPartition};

pub(super) fn assign(topics: &BTreeMap<String, i32>, members: &[(String, Subscription)]) -> Assignment {
    let mut out: Assignment = BTreeMap::new();
    for (topic, &n) in topics {
        let mut subs: Vec<(&str, Option<&str>)> = members
            .iter()
            .filter(|(_, s)| s.topics.iter().any(|t| t == topic))
            .map(|(id, s)| (id.as_str(), s.group_instance_id.as_deref()))
            .collect();
        if subs.is_empty() {
            continue;
        }
        subs.sort_by(|a, b| member_info_cmp(*a, *b));
        let c = subs.len() as i32;
        let per = n / c;
        let extra = n % c;
        for (i, (id, _)) in subs.iter().enumerate() {
            let i = i as i32;
            let start = per * i + i.min(extra);
            let len = per + if i < extra { 1 } else { 0 };
            let list = out.entry((*id).to_string()).or_default();
            for p in start..start + len {
                list.push(TopicPartition::new(topic.clone(), p));
            }
        }
    }
    out
}
