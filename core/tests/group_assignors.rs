//! Assignor test vectors. Scenarios and expected results are facts taken from Apache Kafka's
//! tests (apache/kafka `clients/src/test/java/org/apache/kafka/clients/consumer/
//! RangeAssignorTest.java`, `RoundRobinAssignorTest.java`, `internals/AbstractStickyAssignorTest.java`)
//! and from the course's worked example; the test code is kabase's own.

use std::collections::{BTreeMap, BTreeSet};

use kabase::group::assignor::{decode_sticky_user_data, encode_cooperative_user_data, encode_sticky_user_data, StickyUserData};
use kabase::group::{Assignment, Assignor, Subscription, TopicPartition};
use proptest::prelude::*;

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
    list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A subscription as Kafka's tests build it for ConsumerProtocolSubscription v2+: owned
/// partitions and generation in the protocol fields and in the assignor's user data.
fn sub(a: Assignor, t: &[&str], owned: &[TopicPartition], generation: i32) -> Subscription {
    let user_data = match a {
        Assignor::Sticky => Some(encode_sticky_user_data(owned, generation)),
        Assignor::CooperativeSticky => Some(encode_cooperative_user_data(generation)),
        _ => None,
    };
    Subscription {
        topics: strings(t),
        user_data,
        owned_partitions: owned.to_vec(),
        generation_id: Some(generation),
        group_instance_id: None,
    }
}

fn members(list: Vec<(&str, Subscription)>) -> Vec<(String, Subscription)> {
    list.into_iter().map(|(m, s)| (m.to_string(), s)).collect()
}

fn set(v: &[TopicPartition]) -> BTreeSet<TopicPartition> {
    v.iter().cloned().collect()
}

fn check(out: &Assignment, member: &str, want: &[TopicPartition]) {
    assert_eq!(set(&out[member]), set(want), "assignment of {member}: {out:?}");
}

#[test]
fn range_course_example_seven_partitions() {
    let t = topics(&[("t", 7)]);
    let m = members(vec![
        ("C1", Subscription::new(strings(&["t"]))),
        ("C2", Subscription::new(strings(&["t"]))),
        ("C3", Subscription::new(strings(&["t"]))),
    ]);
    let out = Assignor::Range.assign(&t, &m).unwrap();
    assert_eq!(out["C1"], vec![tp("t", 0), tp("t", 1), tp("t", 2)]);
    assert_eq!(out["C2"], vec![tp("t", 3), tp("t", 4)]);
    assert_eq!(out["C3"], vec![tp("t", 5), tp("t", 6)]);
}

#[test]
fn range_kafka_vectors() {
    // RangeAssignorTest.testOneConsumerNonexistentTopic / testOneConsumerOneTopic
    let out = Assignor::Range.assign(&topics(&[]), &members(vec![("consumer", Subscription::new(strings(&["topic"])))])).unwrap();
    assert!(out["consumer"].is_empty());
    let out = Assignor::Range.assign(&topics(&[("topic", 3)]), &members(vec![("consumer", Subscription::new(strings(&["topic"])))])).unwrap();
    assert_eq!(out["consumer"], vec![tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
    // testOnlyAssignsPartitionsFromSubscribedTopics
    let out = Assignor::Range
        .assign(&topics(&[("topic", 3), ("other", 3)]), &members(vec![("consumer", Subscription::new(strings(&["topic"])))]))
        .unwrap();
    assert_eq!(out["consumer"], vec![tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
    // testTwoConsumersOneTopicOnePartition
    let two = |t: &[&str]| members(vec![("consumer1", Subscription::new(strings(t))), ("consumer2", Subscription::new(strings(t)))]);
    let out = Assignor::Range.assign(&topics(&[("topic", 1)]), &two(&["topic"])).unwrap();
    assert_eq!(out["consumer1"], vec![tp("topic", 0)]);
    assert!(out["consumer2"].is_empty());
    // testMultipleConsumersMixedTopics
    let m = members(vec![
        ("consumer1", Subscription::new(strings(&["topic1"]))),
        ("consumer2", Subscription::new(strings(&["topic1", "topic2"]))),
        ("consumer3", Subscription::new(strings(&["topic1"]))),
    ]);
    let out = Assignor::Range.assign(&topics(&[("topic1", 3), ("topic2", 2)]), &m).unwrap();
    assert_eq!(out["consumer1"], vec![tp("topic1", 0)]);
    assert_eq!(out["consumer2"], vec![tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]);
    assert_eq!(out["consumer3"], vec![tp("topic1", 2)]);
    // testTwoConsumersTwoTopicsSixPartitions: the extra partitions pile onto consumer1.
    let out = Assignor::Range.assign(&topics(&[("topic1", 3), ("topic2", 3)]), &two(&["topic1", "topic2"])).unwrap();
    assert_eq!(out["consumer1"], vec![tp("topic1", 0), tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]);
    assert_eq!(out["consumer2"], vec![tp("topic1", 2), tp("topic2", 2)]);
}

#[test]
fn range_orders_static_members_by_instance_id() {
    // RangeAssignorTest.testStaticMemberRangeAssignmentPersistent's rule: members with a
    // group.instance.id sort by it, ahead of dynamic members.
    let mut a = Subscription::new(strings(&["t"]));
    a.group_instance_id = Some("instance-2".into());
    let mut b = Subscription::new(strings(&["t"]));
    b.group_instance_id = Some("instance-1".into());
    let c = Subscription::new(strings(&["t"]));
    let m = members(vec![("aaa", a), ("bbb", b), ("000", c)]);
    let out = Assignor::Range.assign(&topics(&[("t", 3)]), &m).unwrap();
    assert_eq!(out["bbb"], vec![tp("t", 0)]);
    assert_eq!(out["aaa"], vec![tp("t", 1)]);
    assert_eq!(out["000"], vec![tp("t", 2)]);
}

#[test]
fn roundrobin_kafka_vectors() {
    // RoundRobinAssignorTest.testMultipleConsumersMixedTopics
    let m = members(vec![
        ("consumer1", Subscription::new(strings(&["topic1"]))),
        ("consumer2", Subscription::new(strings(&["topic1", "topic2"]))),
        ("consumer3", Subscription::new(strings(&["topic1"]))),
    ]);
    let out = Assignor::RoundRobin.assign(&topics(&[("topic1", 3), ("topic2", 2)]), &m).unwrap();
    assert_eq!(out["consumer1"], vec![tp("topic1", 0)]);
    assert_eq!(out["consumer2"], vec![tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]);
    assert_eq!(out["consumer3"], vec![tp("topic1", 2)]);
    // testTwoConsumersTwoTopicsSixPartitions
    let m = members(vec![
        ("consumer1", Subscription::new(strings(&["topic1", "topic2"]))),
        ("consumer2", Subscription::new(strings(&["topic1", "topic2"]))),
    ]);
    let out = Assignor::RoundRobin.assign(&topics(&[("topic1", 3), ("topic2", 3)]), &m).unwrap();
    assert_eq!(out["consumer1"], vec![tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]);
    assert_eq!(out["consumer2"], vec![tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
    // Course example: C1, C2, C3 on 7 partitions, round robin.
    let m = members(vec![
        ("C1", Subscription::new(strings(&["t"]))),
        ("C2", Subscription::new(strings(&["t"]))),
        ("C3", Subscription::new(strings(&["t"]))),
    ]);
    let out = Assignor::RoundRobin.assign(&topics(&[("t", 7)]), &m).unwrap();
    assert_eq!(out["C1"], vec![tp("t", 0), tp("t", 3), tp("t", 6)]);
    assert_eq!(out["C2"], vec![tp("t", 1), tp("t", 4)]);
    assert_eq!(out["C3"], vec![tp("t", 2), tp("t", 5)]);
}

const STICKY_BOTH: [Assignor; 2] = [Assignor::Sticky, Assignor::CooperativeSticky];

#[test]
fn sticky_fresh_assignments() {
    for a in STICKY_BOTH {
        let fresh = |t: &[&str]| sub(a, t, &[], -1);
        // testOneConsumerOneTopic
        let out = a.assign(&topics(&[("topic", 3)]), &members(vec![("consumer", fresh(&["topic"]))])).unwrap();
        check(&out, "consumer", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
        // testTwoConsumersOneTopicTwoPartitions
        let m = members(vec![("consumer1", fresh(&["topic"])), ("consumer2", fresh(&["topic"]))]);
        let out = a.assign(&topics(&[("topic", 2)]), &m).unwrap();
        check(&out, "consumer1", &[tp("topic", 0)]);
        check(&out, "consumer2", &[tp("topic", 1)]);
        // testMultipleConsumersMixedTopicSubscriptions (general path)
        let m = members(vec![
            ("consumer1", fresh(&["topic1"])),
            ("consumer2", fresh(&["topic1", "topic2"])),
            ("consumer3", fresh(&["topic1"])),
        ]);
        let out = a.assign(&topics(&[("topic1", 3), ("topic2", 2)]), &m).unwrap();
        check(&out, "consumer1", &[tp("topic1", 0), tp("topic1", 2)]);
        check(&out, "consumer2", &[tp("topic2", 0), tp("topic2", 1)]);
        check(&out, "consumer3", &[tp("topic1", 1)]);
        // testTwoConsumersTwoTopicsSixPartitions
        let m = members(vec![("consumer1", fresh(&["topic1", "topic2"])), ("consumer2", fresh(&["topic1", "topic2"]))]);
        let out = a.assign(&topics(&[("topic1", 3), ("topic2", 3)]), &m).unwrap();
        check(&out, "consumer1", &[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]);
        check(&out, "consumer2", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
        // Course example on 7 partitions: balanced 3/2/2.
        let m = members(vec![("C1", fresh(&["t"])), ("C2", fresh(&["t"])), ("C3", fresh(&["t"]))]);
        let out = a.assign(&topics(&[("t", 7)]), &m).unwrap();
        check(&out, "C1", &[tp("t", 0), tp("t", 3), tp("t", 6)]);
        check(&out, "C2", &[tp("t", 1), tp("t", 4)]);
        check(&out, "C3", &[tp("t", 2), tp("t", 5)]);
    }
}

#[test]
fn sticky_keeps_owned_partitions() {
    for a in STICKY_BOTH {
        let s = |t: &[&str], owned: &[TopicPartition]| sub(a, t, owned, 1);
        let both = ["topic1", "topic2"];
        // testOnlyAssignsPartitionsFromSubscribedTopics
        let m = members(vec![("consumer", s(&["topic"], &[tp("topic", 0), tp("topic", 1), tp("other", 0), tp("other", 1)]))]);
        let out = a.assign(&topics(&[("topic", 2)]), &m).unwrap();
        check(&out, "consumer", &[tp("topic", 0), tp("topic", 1)]);
        // testConsumerOwningMinQuotaExpectedMaxQuota
        let m = members(vec![
            ("consumer1", s(&both, &[tp("topic1", 0), tp("topic2", 1)])),
            ("consumer2", s(&both, &[tp("topic1", 1), tp("topic2", 2)])),
        ]);
        let out = a.assign(&topics(&[("topic1", 2), ("topic2", 3)]), &m).unwrap();
        check(&out, "consumer1", &[tp("topic1", 0), tp("topic2", 1), tp("topic2", 0)]);
        check(&out, "consumer2", &[tp("topic1", 1), tp("topic2", 2)]);
        // testAllConsumersAreUnderMinQuota
        let m = members(vec![
            ("consumer1", s(&both, &[tp("topic1", 0)])),
            ("consumer2", s(&both, &[tp("topic1", 1)])),
            ("consumer3", s(&both, &[])),
        ]);
        let out = a.assign(&topics(&[("topic1", 2), ("topic2", 3)]), &m).unwrap();
        check(&out, "consumer1", &[tp("topic1", 0), tp("topic2", 1)]);
        check(&out, "consumer2", &[tp("topic1", 1), tp("topic2", 2)]);
        check(&out, "consumer3", &[tp("topic2", 0)]);
    }
}

#[test]
fn sticky_more_max_quota_owners_than_slots_follows_java_hash_order() {
    // testMaxQuotaConsumerMoreThanNumExpectedMaxCapacityMembers: which of consumer1 and consumer2
    // keeps two partitions depends on Java's HashMap iteration order; Kafka's answer is
    // consumer2, and topic2-0 moves from consumer1 to consumer3.
    let both = ["topic1", "topic2"];
    let t = topics(&[("topic1", 2), ("topic2", 2)]);
    for a in STICKY_BOTH {
        let m = members(vec![
            ("consumer1", sub(a, &both, &[tp("topic1", 0), tp("topic2", 0)], 1)),
            ("consumer2", sub(a, &both, &[tp("topic1", 1), tp("topic2", 1)], 1)),
            ("consumer3", sub(a, &both, &[], 1)),
        ]);
        let out = a.assign(&t, &m).unwrap();
        check(&out, "consumer1", &[tp("topic1", 0)]);
        check(&out, "consumer2", &[tp("topic1", 1), tp("topic2", 1)]);
        if a == Assignor::Sticky {
            check(&out, "consumer3", &[tp("topic2", 0)]);
        } else {
            // Cooperative: topic2-0 changes owner, so it is withheld until consumer1 revoked it.
            check(&out, "consumer3", &[]);
            let m = members(vec![
                ("consumer1", sub(a, &both, &[tp("topic1", 0)], 2)),
                ("consumer2", sub(a, &both, &[tp("topic1", 1), tp("topic2", 1)], 2)),
                ("consumer3", sub(a, &both, &[], 2)),
            ]);
            let out = a.assign(&t, &m).unwrap();
            check(&out, "consumer3", &[tp("topic2", 0)]);
        }
    }
}

#[test]
fn sticky_add_and_remove_consumers() {
    // testAddRemoveConsumerOneTopic (eager sticky)
    let a = Assignor::Sticky;
    let t = topics(&[("topic", 3)]);
    let out = a.assign(&t, &members(vec![("consumer1", sub(a, &["topic"], &[], -1))])).unwrap();
    check(&out, "consumer1", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);
    let m = members(vec![("consumer1", sub(a, &["topic"], &out["consumer1"], 1)), ("consumer2", sub(a, &["topic"], &[], 1))]);
    let out = a.assign(&t, &m).unwrap();
    check(&out, "consumer1", &[tp("topic", 0), tp("topic", 1)]);
    check(&out, "consumer2", &[tp("topic", 2)]);
    let out = a.assign(&t, &members(vec![("consumer2", sub(a, &["topic"], &out["consumer2"], 1))])).unwrap();
    check(&out, "consumer2", &[tp("topic", 0), tp("topic", 1), tp("topic", 2)]);

    // testAddRemoveTwoConsumersTwoTopics, as in Kafka since the constrained path keeps owned
    // partitions sorted by partition, then topic (the rack-aware rewrite of 3.5).
    let all = ["topic1", "topic2"];
    let t = topics(&[("topic1", 3), ("topic2", 4)]);
    let m = members(vec![("consumer1", sub(a, &all, &[], -1)), ("consumer2", sub(a, &all, &[], -1))]);
    let out = a.assign(&t, &m).unwrap();
    check(&out, "consumer1", &[tp("topic1", 0), tp("topic1", 2), tp("topic2", 1), tp("topic2", 3)]);
    check(&out, "consumer2", &[tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]);
    let m = members(vec![
        ("consumer1", sub(a, &all, &out["consumer1"], 1)),
        ("consumer2", sub(a, &all, &out["consumer2"], 1)),
        ("consumer3", sub(a, &all, &[], 1)),
        ("consumer4", sub(a, &all, &[], 1)),
    ]);
    let out = a.assign(&t, &m).unwrap();
    check(&out, "consumer1", &[tp("topic1", 0), tp("topic2", 1)]);
    check(&out, "consumer2", &[tp("topic2", 0), tp("topic1", 1)]);
    check(&out, "consumer3", &[tp("topic1", 2), tp("topic2", 3)]);
    check(&out, "consumer4", &[tp("topic2", 2)]);
    let m = members(vec![("consumer3", sub(a, &all, &out["consumer3"], 1)), ("consumer4", sub(a, &all, &out["consumer4"], 1))]);
    let out = a.assign(&t, &m).unwrap();
    check(&out, "consumer3", &[tp("topic1", 2), tp("topic2", 3), tp("topic1", 0), tp("topic2", 1)]);
    check(&out, "consumer4", &[tp("topic2", 2), tp("topic1", 1), tp("topic2", 0)]);
}

#[test]
fn sticky_member_leaving_moves_only_its_partitions() {
    for a in STICKY_BOTH {
        // Different subscriptions (general path): C0 [t0], C1 [t0, t1], C2 [t0, t1, t2].
        let t = topics(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let m = members(vec![("C0", sub(a, &["t0"], &[], -1)), ("C1", sub(a, &["t0", "t1"], &[], -1)), ("C2", sub(a, &["t0", "t1", "t2"], &[], -1))]);
        let out = a.assign(&t, &m).unwrap();
        check(&out, "C0", &[tp("t0", 0)]);
        check(&out, "C1", &[tp("t1", 0), tp("t1", 1)]);
        check(&out, "C2", &[tp("t2", 0), tp("t2", 1), tp("t2", 2)]);
        let m = members(vec![("C1", sub(a, &["t0", "t1"], &out["C1"], 1)), ("C2", sub(a, &["t0", "t1", "t2"], &out["C2"], 1))]);
        let out2 = a.assign(&t, &m).unwrap();
        check(&out2, "C1", &[tp("t1", 0), tp("t1", 1), tp("t0", 0)]);
        check(&out2, "C2", &[tp("t2", 0), tp("t2", 1), tp("t2", 2)]);

        // Equal subscriptions: of 3 members on 4 topics x 2 partitions, drop the one in the middle.
        let all = ["t0", "t1", "t2", "t3"];
        let t = topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]);
        let m = members(vec![("C0", sub(a, &all, &[], -1)), ("C1", sub(a, &all, &[], -1)), ("C2", sub(a, &all, &[], -1))]);
        let out = a.assign(&t, &m).unwrap();
        check(&out, "C0", &[tp("t0", 0), tp("t1", 1), tp("t3", 0)]);
        check(&out, "C1", &[tp("t0", 1), tp("t2", 0), tp("t3", 1)]);
        check(&out, "C2", &[tp("t1", 0), tp("t2", 1)]);
        let m = members(vec![("C0", sub(a, &all, &out["C0"], 1)), ("C2", sub(a, &all, &out["C2"], 1))]);
        let out2 = a.assign(&t, &m).unwrap();
        for c in ["C0", "C2"] {
            assert!(set(&out[c]).is_subset(&set(&out2[c])), "{c} kept its partitions");
            assert_eq!(out2[c].len(), 4);
        }
    }
}

#[test]
fn sticky_user_data_bytes() {
    // StickyAssignor V1 schema: [topic STRING, partitions [INT32]] then generation INT32.
    let b = encode_sticky_user_data(&[tp("topic", 0), tp("topic", 1)], 1);
    let mut want = vec![0, 0, 0, 1, 0, 5];
    want.extend_from_slice(b"topic");
    want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(b, want);
    assert_eq!(decode_sticky_user_data(&b).unwrap(), StickyUserData { partitions: vec![tp("topic", 0), tp("topic", 1)], generation: Some(1) });
    // Version 0 has no generation.
    let v0 = &b[..b.len() - 4];
    assert_eq!(decode_sticky_user_data(v0).unwrap().generation, None);
    assert!(decode_sticky_user_data(&b[..7]).is_err());
    assert_eq!(encode_cooperative_user_data(7), vec![0, 0, 0, 7]);
}

#[test]
fn sticky_honours_the_highest_generation_claim() {
    // testAssignmentWithConflictingPreviousGenerations-style: two members claim t-0, the higher
    // generation keeps it.
    for a in STICKY_BOTH {
        let t = topics(&[("t", 2)]);
        let m = members(vec![("a", sub(a, &["t"], &[tp("t", 0)], 1)), ("b", sub(a, &["t"], &[tp("t", 0), tp("t", 1)], 2))]);
        let out = a.assign(&t, &m).unwrap();
        assert!(out["b"].contains(&tp("t", 0)), "{a}: {out:?}");
    }
}

/// Kafka's `verifyValidityAndBalance`: each partition once, only to subscribers, and no member
/// with 2+ more partitions than another holds one the other could take.
fn verify(t: &BTreeMap<String, u32>, m: &[(String, Subscription)], out: &Assignment, complete: bool) {
    let subs: BTreeMap<&str, &Subscription> = m.iter().map(|(id, s)| (id.as_str(), s)).collect();
    let mut seen = BTreeSet::new();
    for (c, list) in out {
        for p in list {
            assert!(subs[c.as_str()].topics.contains(&p.topic), "{c} got {p} without subscribing");
            assert!(seen.insert(p.clone()), "{p} assigned twice");
        }
    }
    if complete {
        for (topic, n) in t {
            if m.iter().any(|(_, s)| s.topics.contains(topic)) {
                for p in 0..*n as i32 {
                    assert!(seen.contains(&tp(topic, p)), "{topic}-{p} unassigned: {out:?}");
                }
            }
        }
    }
    if !complete {
        return;
    }
    for (c1, l1) in out {
        for (c2, l2) in out {
            if l1.len() > l2.len() + 1 {
                for p in l1 {
                    assert!(!subs[c2.as_str()].topics.contains(&p.topic), "unbalanced: {c2} could take {p} from {c1}: {out:?}");
                }
            }
        }
    }
}

fn scenario() -> impl Strategy<Value = (Vec<u32>, Vec<Vec<bool>>, bool)> {
    (prop::collection::vec(1u32..6, 1..4), 1usize..6, any::<bool>()).prop_flat_map(|(counts, n, equal)| {
        let nt = counts.len();
        (Just(counts), prop::collection::vec(prop::collection::vec(any::<bool>(), nt), n), Just(equal))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn sticky_results_are_valid_and_balanced((counts, subsel, equal) in scenario(), rounds in 1usize..4, drop_first in any::<bool>()) {
        let names: Vec<String> = (0..counts.len()).map(|i| format!("topic{i}")).collect();
        let t: BTreeMap<String, u32> = names.iter().cloned().zip(counts.iter().copied()).collect();
        for a in STICKY_BOTH {
            let mut member_topics: Vec<(String, Vec<String>)> = subsel.iter().enumerate().map(|(i, sel)| {
                let mut ts: Vec<String> = names.iter().zip(sel).filter(|(_, s)| **s || equal).map(|(n, _)| n.clone()).collect();
                if ts.is_empty() { ts.push(names[0].clone()); }
                (format!("member-{i}"), ts)
            }).collect();
            let mut owned: BTreeMap<String, Vec<TopicPartition>> = BTreeMap::new();
            let mut generation = -1;
            for round in 0..rounds + 2 {
                if round == 2 && drop_first && member_topics.len() > 1 {
                    member_topics.remove(0);
                }
                let m: Vec<(String, Subscription)> = member_topics.iter().map(|(id, ts)| {
                    let refs: Vec<&str> = ts.iter().map(String::as_str).collect();
                    (id.clone(), sub(a, &refs, owned.get(id).map(Vec::as_slice).unwrap_or(&[]), generation))
                }).collect();
                let out = a.assign(&t, &m).unwrap();
                // Cooperative results may withhold partitions; the next round completes them.
                verify(&t, &m, &out, a == Assignor::Sticky);
                owned = out.clone();
                generation += 1;
                if a == Assignor::CooperativeSticky && round == rounds + 1 {
                    let m: Vec<(String, Subscription)> = member_topics.iter().map(|(id, ts)| {
                        let refs: Vec<&str> = ts.iter().map(String::as_str).collect();
                        (id.clone(), sub(a, &refs, &owned[id], generation))
                    }).collect();
                    let out = a.assign(&t, &m).unwrap();
                    verify(&t, &m, &out, true);
                }
            }
        }
    }
}

// StickyAssignorTest (apache/kafka clients/src/test/java/.../consumer/StickyAssignorTest.java).

#[test]
fn sticky_partition_claimed_twice_in_one_generation_is_invalidated() {
    let a = Assignor::Sticky;
    // ...WithEqualPartitionsPerConsumer
    let m = members(vec![
        ("consumer1", sub(a, &["topic"], &[tp("topic", 0), tp("topic", 1)], 1)),
        ("consumer2", sub(a, &["topic"], &[tp("topic", 0), tp("topic", 2)], 1)),
        ("consumer3", sub(a, &["topic"], &[], 1)),
    ]);
    let out = a.assign(&topics(&[("topic", 3)]), &m).unwrap();
    check(&out, "consumer1", &[tp("topic", 1)]);
    check(&out, "consumer2", &[tp("topic", 2)]);
    check(&out, "consumer3", &[tp("topic", 0)]);
    // ...WithUnequalPartitionsPerConsumer
    let out = a.assign(&topics(&[("topic", 4)]), &m).unwrap();
    check(&out, "consumer1", &[tp("topic", 1), tp("topic", 3)]);
    check(&out, "consumer2", &[tp("topic", 2)]);
    check(&out, "consumer3", &[tp("topic", 0)]);
}

#[test]
fn sticky_conflicting_previous_generations() {
    let a = Assignor::Sticky;
    let t = topics(&[("topic", 4), ("topic2", 4), ("topic3", 4)]);
    for equal in [true, false] {
        let all = ["topic", "topic2", "topic3"];
        let c1_topics: &[&str] = if equal { &all } else { &["topic"] };
        let c2_topics: &[&str] = if equal { &all } else { &["topic", "topic2"] };
        let c1p0 = if equal {
            vec![tp("topic", 0), tp("topic", 1), tp("topic", 2), tp("topic2", 2), tp("topic2", 3), tp("topic3", 0)]
        } else {
            vec![tp("topic", 0), tp("topic", 1), tp("topic", 2), tp("topic", 3)]
        };
        let c2p0 = vec![tp("topic", 0), tp("topic", 1), tp("topic2", 0), tp("topic2", 1), tp("topic2", 2), tp("topic2", 3)];
        let c3p0 = vec![tp("topic", 2), tp("topic", 3), tp("topic3", 0), tp("topic3", 1), tp("topic3", 2), tp("topic3", 3)];
        let m = members(vec![
            ("consumer1", sub(a, c1_topics, &c1p0, 1)),
            ("consumer2", sub(a, c2_topics, &c2p0, 2)),
            ("consumer3", sub(a, &all, &c3p0, 2)),
        ]);
        let out = a.assign(&t, &m).unwrap();
        for c in ["consumer1", "consumer2", "consumer3"] {
            assert_eq!(out[c].len(), 4, "equal={equal}: {out:?}");
        }
        assert!(set(&out["consumer2"]).is_subset(&set(&c2p0)), "equal={equal}: {out:?}");
        assert!(set(&out["consumer3"]).is_subset(&set(&c3p0)), "equal={equal}: {out:?}");
        verify(&t, &m, &out, true);
    }
}

#[test]
fn sticky_multiple_generations() {
    // testAssignmentWithMultipleGenerations1
    let a = Assignor::Sticky;
    for equal in [true, false] {
        let all = ["topic", "topic2"];
        let c2_topics: &[&str] = if equal { &all } else { &["topic"] };
        let t = topics(&[("topic", 6), ("topic2", 6)]);
        let m = members(vec![("consumer1", sub(a, &all, &[], -1)), ("consumer2", sub(a, c2_topics, &[], -1)), ("consumer3", sub(a, &all, &[], -1))]);
        let r1 = a.assign(&t, &m).unwrap();
        assert!(r1.values().all(|l| l.len() == 4), "{r1:?}");
        let m = members(vec![("consumer1", sub(a, &all, &r1["consumer1"], 1)), ("consumer2", sub(a, c2_topics, &r1["consumer2"], 1))]);
        let r2 = a.assign(&t, &m).unwrap();
        assert!(r2.values().all(|l| l.len() == 6), "{r2:?}");
        if equal {
            assert!(set(&r2["consumer1"]).is_superset(&set(&r1["consumer1"])));
        }
        assert!(set(&r2["consumer2"]).is_superset(&set(&r1["consumer2"])));
        assert!(!set(&r2["consumer2"]).is_disjoint(&set(&r1["consumer3"])));
        // consumer3 comes back with its generation-1 partitions, consumer2 holds generation 2.
        let m = members(vec![("consumer2", sub(a, c2_topics, &r2["consumer2"], 2)), ("consumer3", sub(a, &all, &r1["consumer3"], 1))]);
        let r3 = a.assign(&t, &m).unwrap();
        assert!(r3.values().all(|l| l.len() == 6), "{r3:?}");
        assert!(set(&r3["consumer2"]).is_disjoint(&set(&r3["consumer3"])));
        verify(&t, &m, &r3, true);
    }
}
