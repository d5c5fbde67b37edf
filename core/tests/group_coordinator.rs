//! Consumer group coordinator tests through the public API: joins and rebalances, leaving,
//! session and poll timeouts, static membership, cooperative rebalancing, generations and
//! commits, many threads in one group, offsets across restarts, group admin.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kabase::group::{
    Assignor, GroupMembership, GroupState, MembershipConfig, OffsetAndMetadata, OffsetResetSpec, OffsetResolver, RebalanceContext,
    RebalanceEvent, RebalanceListener, TopicPartition,
};
use kabase::{Engine, ErrorCode};

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

fn config(client: &str, assignors: &[Assignor]) -> MembershipConfig {
    MembershipConfig { client_id: client.into(), assignors: assignors.to_vec(), ..MembershipConfig::default() }
}

fn topic(n: u32) -> BTreeMap<String, u32> {
    BTreeMap::from([("t".to_string(), n)])
}

/// Poll every member (short timeouts, one thread) until all are stable in one generation.
fn settle(ms: &mut [&mut GroupMembership], ev: &mut [Vec<RebalanceEvent>]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = true;
        for (m, e) in ms.iter_mut().zip(ev.iter_mut()) {
            all &= m.poll(Duration::from_millis(5), e).unwrap();
        }
        let gens: BTreeSet<i32> = ms.iter().map(|m| m.generation()).collect();
        if all && gens.len() == 1 {
            // One more round: everybody heartbeats in the final generation.
            if ms.iter_mut().zip(ev.iter_mut()).all(|(m, e)| m.poll(Duration::ZERO, e).unwrap()) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "group did not settle: {ms:?}");
    }
}

fn union(ms: &[&mut GroupMembership]) -> (usize, BTreeSet<TopicPartition>) {
    let mut total = 0;
    let mut all = BTreeSet::new();
    for m in ms {
        total += m.assignment().len();
        all.extend(m.assignment().iter().cloned());
    }
    (total, all)
}

#[test]
fn three_members_join_one_after_another_then_one_leaves() {
    let engine = Engine::open_in_memory().unwrap();
    let mut a = GroupMembership::new(&engine, "g", config("a", &[Assignor::Range])).unwrap();
    let mut b = GroupMembership::new(&engine, "g", config("b", &[Assignor::Range])).unwrap();
    let mut c = GroupMembership::new(&engine, "g", config("c", &[Assignor::Range])).unwrap();
    for m in [&mut a, &mut b, &mut c] {
        m.subscribe(topic(7));
    }
    let mut ev = vec![Vec::new(), Vec::new(), Vec::new()];
    settle(&mut [&mut a], &mut ev[..1]);
    assert_eq!(a.generation(), 1);
    assert_eq!(a.assignment().len(), 7);
    assert!(a.member_id().starts_with("a-"));

    settle(&mut [&mut a, &mut b], &mut ev[..2]);
    assert_eq!(a.generation(), 2);
    // Eager: a revoked everything, then got its new range.
    assert!(ev[0].contains(&RebalanceEvent::Revoked((0..7).map(|p| tp("t", p)).collect())));

    settle(&mut [&mut a, &mut b, &mut c], &mut ev[..]);
    assert_eq!(c.generation(), 3);
    let d = engine.describe_group("g").unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol, "range");
    assert_eq!(d.members.len(), 3);
    // Range over the sorted member ids: 3, 2, 2 (the course's example).
    let mut by_id: Vec<(&str, usize)> = vec![(a.member_id(), a.assignment().len()), (b.member_id(), b.assignment().len()), (c.member_id(), c.assignment().len())];
    by_id.sort();
    assert_eq!(by_id.iter().map(|x| x.1).collect::<Vec<_>>(), vec![3, 2, 2]);
    let (total, all) = union(&[&mut a, &mut b, &mut c]);
    assert_eq!((total, all.len()), (7, 7));
    for m in &d.members {
        assert!(!m.assignment.is_empty());
        assert_eq!(m.host, "localhost");
    }

    // b leaves: a and c share the 7 partitions in generation 4.
    b.leave(&mut ev[1]).unwrap();
    assert_eq!(b.assignment().len(), 0);
    settle(&mut [&mut a, &mut c], &mut ev[..2]);
    assert_eq!(a.generation(), 4);
    let (total, all) = union(&[&mut a, &mut c]);
    assert_eq!((total, all.len()), (7, 7));
    drop(b);
    engine.close().unwrap();
    assert_eq!(a.poll(Duration::ZERO, &mut ev[0]).unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn a_member_that_stops_heartbeating_is_removed() {
    let engine = Engine::open_in_memory().unwrap();
    let mut cfg = config("a", &[Assignor::RoundRobin]);
    cfg.background_heartbeat = false;
    cfg.session_timeout = Duration::from_millis(200);
    cfg.heartbeat_interval = Duration::from_millis(20);
    let mut a = GroupMembership::new(&engine, "g", cfg.clone()).unwrap();
    let mut b = GroupMembership::new(&engine, "g", MembershipConfig { client_id: "b".into(), ..cfg }).unwrap();
    a.subscribe(topic(4));
    b.subscribe(topic(4));
    let mut ev = vec![Vec::new(), Vec::new()];
    settle(&mut [&mut a, &mut b], &mut ev);
    assert_eq!(a.assignment().len(), 2);
    let generation = a.generation();
    // b goes silent; a keeps polling and ends up alone with all partitions.
    let start = Instant::now();
    while a.assignment().len() != 4 {
        a.poll(Duration::from_millis(20), &mut ev[0]).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "b never expired");
    }
    assert!(start.elapsed() >= Duration::from_millis(150));
    assert!(a.generation() > generation);
    assert_eq!(engine.describe_group("g").unwrap().members.len(), 1);
    // b learns it is out: its partitions are lost (not revoked), and a commit fails.
    let stale = b.group_metadata();
    assert_eq!(b.commit(&[(tp("t", 0), OffsetAndMetadata::new(5))]).unwrap_err().code(), ErrorCode::CommitFailed);
    b.poll(Duration::from_millis(50), &mut ev[1]).unwrap();
    assert!(matches!(ev[1].iter().rev().find(|e| !matches!(e, RebalanceEvent::Assigned(_))), Some(RebalanceEvent::Lost(p)) if p.len() == 2));
    assert_eq!(engine.commit_group_offsets(&stale, &[(tp("t", 0), OffsetAndMetadata::new(5))]).unwrap_err().code(), ErrorCode::CommitFailed);
    engine.close().unwrap();
}

#[test]
fn a_member_that_does_not_poll_in_time_leaves() {
    let engine = Engine::open_in_memory().unwrap();
    let mut cfg = config("a", &[Assignor::Range]);
    cfg.max_poll_interval = Duration::from_millis(200);
    let mut a = GroupMembership::new(&engine, "g", cfg.clone()).unwrap();
    let mut b = GroupMembership::new(&engine, "g", MembershipConfig { client_id: "b".into(), ..cfg }).unwrap();
    a.subscribe(topic(2));
    b.subscribe(topic(2));
    let mut ev = vec![Vec::new(), Vec::new()];
    settle(&mut [&mut a, &mut b], &mut ev);
    let start = Instant::now();
    while a.assignment().len() != 2 {
        a.poll(Duration::from_millis(20), &mut ev[0]).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "b never left");
    }
    // b's handle is alive (background heartbeats) yet it missed max.poll.interval.ms.
    assert_eq!(engine.describe_group("g").unwrap().members.len(), 1);
    engine.close().unwrap();
}

#[test]
fn static_member_rejoins_without_rebalance_and_fences_a_twin() {
    let engine = Engine::open_in_memory().unwrap();
    let mut sa = config("a", &[Assignor::Range]);
    sa.group_instance_id = Some("instance-a".into());
    let mut sb = config("b", &[Assignor::Range]);
    sb.group_instance_id = Some("instance-b".into());
    let mut a = GroupMembership::new(&engine, "g", sa.clone()).unwrap();
    let mut b = GroupMembership::new(&engine, "g", sb).unwrap();
    a.subscribe(topic(4));
    b.subscribe(topic(4));
    let mut ev = vec![Vec::new(), Vec::new(), Vec::new()];
    settle(&mut [&mut a, &mut b], &mut ev[..2]);
    let generation = a.generation();
    let mine = a.assignment().clone();
    assert_eq!(mine, BTreeSet::from([tp("t", 0), tp("t", 1)]));
    // A static member closing does not leave the group.
    a.close(&mut ev[0]).unwrap();
    assert_eq!(engine.describe_group("g").unwrap().members.len(), 2);
    // It restarts with the same group.instance.id: same partitions, same generation, no rebalance.
    let mut a2 = GroupMembership::new(&engine, "g", sa.clone()).unwrap();
    a2.subscribe(topic(4));
    assert!(a2.poll(Duration::from_secs(5), &mut ev[2]).unwrap());
    assert_eq!(a2.generation(), generation);
    assert_eq!(a2.assignment(), &mine);
    assert!(b.poll(Duration::ZERO, &mut ev[1]).unwrap());
    assert_eq!(b.generation(), generation);
    let d = engine.describe_group("g").unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert!(d.members.iter().any(|m| m.group_instance_id.as_deref() == Some("instance-a") && m.member_id == a2.member_id()));

    // A second live handle with the same instance id fences the first one.
    let mut twin = GroupMembership::new(&engine, "g", sa).unwrap();
    twin.subscribe(topic(4));
    assert!(twin.poll(Duration::from_secs(5), &mut Vec::new()).unwrap());
    let err = a2.poll(Duration::ZERO, &mut ev[2]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FencedInstanceId);
    assert!(matches!(ev[2].last(), Some(RebalanceEvent::Lost(_))));
    assert_eq!(twin.assignment(), &mine);
    engine.close().unwrap();
}

#[test]
fn cooperative_rebalance_revokes_only_what_moves() {
    let engine = Engine::open_in_memory().unwrap();
    let coop = [Assignor::CooperativeSticky];
    let mut a = GroupMembership::new(&engine, "g", config("a", &coop)).unwrap();
    let mut b = GroupMembership::new(&engine, "g", config("b", &coop)).unwrap();
    a.subscribe(topic(6));
    b.subscribe(topic(6));
    let mut ev = vec![Vec::new(), Vec::new(), Vec::new()];
    settle(&mut [&mut a], &mut ev[..1]);
    assert_eq!(a.assignment().len(), 6);
    settle(&mut [&mut a, &mut b], &mut ev[..2]);
    assert_eq!((a.assignment().len(), b.assignment().len()), (3, 3));
    // a revoked exactly the three partitions that moved, never all six.
    let revoked: Vec<&Vec<TopicPartition>> = ev[0].iter().filter_map(|e| if let RebalanceEvent::Revoked(p) = e { Some(p) } else { None }).collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].len(), 3);
    assert!(revoked[0].iter().all(|p| b.assignment().contains(p)));
    // The moved partitions reached b only in the follow-up generation.
    assert!(b.generation() >= 3, "follow-up rebalance expected, generation {}", b.generation());
    let d = engine.describe_group("g").unwrap();
    assert_eq!(d.protocol, "cooperative-sticky");

    let mut c = GroupMembership::new(&engine, "g", config("c", &coop)).unwrap();
    c.subscribe(topic(6));
    ev[0].clear();
    ev[1].clear();
    let keep_a = a.assignment().clone();
    settle(&mut [&mut a, &mut b, &mut c], &mut ev[..]);
    assert_eq!((a.assignment().len(), b.assignment().len(), c.assignment().len()), (2, 2, 2));
    assert!(a.assignment().is_subset(&keep_a), "a only gave partitions up");
    for e in &ev[0] {
        if let RebalanceEvent::Revoked(p) = e {
            assert_eq!(p.len(), 1);
        }
    }
    engine.close().unwrap();
}

#[test]
fn generations_gate_commits() {
    let engine = Engine::open_in_memory().unwrap();
    let mut a = GroupMembership::new(&engine, "g", config("a", &[Assignor::Range])).unwrap();
    a.subscribe(topic(2));
    let mut ev = Vec::new();
    assert!(a.poll(Duration::from_secs(5), &mut ev).unwrap());
    let g1 = a.group_metadata();
    a.commit(&[(tp("t", 0), OffsetAndMetadata { offset: 10, leader_epoch: Some(3), metadata: "m".into(), commit_timestamp: 0 })]).unwrap();
    let c = a.committed(&[tp("t", 0), tp("t", 1)]).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[&tp("t", 0)].offset, 10);
    assert_eq!(c[&tp("t", 0)].leader_epoch, Some(3));
    assert!(c[&tp("t", 0)].commit_timestamp > 0);
    // A second member joins: generation 2. The generation-1 metadata can no longer commit.
    let mut b = GroupMembership::new(&engine, "g", config("b", &[Assignor::Range])).unwrap();
    b.subscribe(topic(2));
    let mut ms = [&mut a, &mut b];
    let mut evs = [ev, Vec::new()];
    settle(&mut ms, &mut evs);
    let err = engine.commit_group_offsets(&g1, &[(tp("t", 0), OffsetAndMetadata::new(11))]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CommitFailed);
    ms[0].commit(&[(tp("t", 0), OffsetAndMetadata::new(12))]).unwrap();
    assert_eq!(engine.fetch_group_offsets("g", &[tp("t", 0)]).unwrap()[&tp("t", 0)].offset, 12);
    // Standalone commits are refused while the group has members.
    let standalone = kabase::ConsumerGroupMetadata { group_id: "g".into(), generation_id: -1, member_id: String::new(), group_instance_id: None };
    assert_eq!(engine.commit_group_offsets(&standalone, &[(tp("t", 0), OffsetAndMetadata::new(1))]).unwrap_err().code(), ErrorCode::CommitFailed);
    // Bad input is refused with a clear error.
    assert_eq!(ms[0].commit(&[(tp("t", 0), OffsetAndMetadata::new(-5))]).unwrap_err().code(), ErrorCode::InvalidArgument);
    engine.close().unwrap();
}

#[test]
fn unsubscribing_revokes_and_leaves() {
    let engine = Engine::open_in_memory().unwrap();
    let mut a = GroupMembership::new(&engine, "g", config("a", &[Assignor::Range])).unwrap();
    let mut b = GroupMembership::new(&engine, "g", config("b", &[Assignor::Range])).unwrap();
    a.subscribe(topic(2));
    b.subscribe(topic(2));
    let mut ev = vec![Vec::new(), Vec::new()];
    settle(&mut [&mut a, &mut b], &mut ev);
    b.subscribe(BTreeMap::new());
    assert!(!b.poll(Duration::from_millis(10), &mut ev[1]).unwrap());
    assert!(b.assignment().is_empty());
    assert!(matches!(ev[1].last(), Some(RebalanceEvent::Revoked(p)) if p.len() == 1));
    assert_eq!(engine.describe_group("g").unwrap().members.len(), 1);
    settle(&mut [&mut a], &mut ev[..1]);
    assert_eq!(a.assignment().len(), 2);
    engine.close().unwrap();
}

#[test]
fn incompatible_assignors_are_rejected() {
    let engine = Engine::open_in_memory().unwrap();
    let mut a = GroupMembership::new(&engine, "g", config("a", &[Assignor::Range])).unwrap();
    a.subscribe(topic(2));
    assert!(a.poll(Duration::from_secs(5), &mut Vec::new()).unwrap());
    let mut b = GroupMembership::new(&engine, "g", config("b", &[Assignor::Sticky])).unwrap();
    b.subscribe(topic(2));
    assert_eq!(b.poll(Duration::from_secs(1), &mut Vec::new()).unwrap_err().code(), ErrorCode::InconsistentGroupProtocol);
    let props = [("partition.assignment.strategy", "org.apache.kafka.clients.consumer.StickyAssignor,range"), ("session.timeout.ms", "10000")];
    let cfg = MembershipConfig::from_properties(&props).unwrap();
    assert_eq!(cfg.assignors, vec![Assignor::Sticky, Assignor::Range]);
    assert_eq!(MembershipConfig::from_properties(&[("session.timeout.ms", "soon")]).unwrap_err().code(), ErrorCode::InvalidConfig);
    assert_eq!(MembershipConfig::from_properties(&[("partition.assignment.strategy", "fair")]).unwrap_err().code(), ErrorCode::InvalidConfig);
    assert_eq!(GroupMembership::new(&engine, "", MembershipConfig::default()).unwrap_err().code(), ErrorCode::InvalidName);
    engine.close().unwrap();
}

/// Records who owns each partition; panics on a double owner.
#[derive(Default)]
struct Owners {
    map: Mutex<HashMap<TopicPartition, usize>>,
    violations: AtomicU64,
    assignments: AtomicU64,
}

struct Checker {
    me: usize,
    owners: Arc<Owners>,
}

impl RebalanceListener for Checker {
    fn on_partitions_revoked(&mut self, _: &RebalanceContext<'_>, p: &[TopicPartition]) {
        let mut m = self.owners.map.lock().unwrap();
        for tp in p {
            if m.get(tp) == Some(&self.me) {
                m.remove(tp);
            } else {
                self.owners.violations.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    fn on_partitions_assigned(&mut self, _: &RebalanceContext<'_>, p: &[TopicPartition]) {
        let mut m = self.owners.map.lock().unwrap();
        for tp in p {
            if let Some(other) = m.insert(tp.clone(), self.me) {
                if other != self.me {
                    self.owners.violations.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.owners.assignments.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn on_partitions_lost(&mut self, ctx: &RebalanceContext<'_>, p: &[TopicPartition]) {
        self.on_partitions_revoked(ctx, p);
    }
}

fn stress(assignors: &[Assignor]) {
    let engine = Engine::open_in_memory().unwrap();
    let owners = Arc::new(Owners::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for i in 0..6 {
        let engine = engine.clone();
        let owners = Arc::clone(&owners);
        let stop = Arc::clone(&stop);
        let assignors = assignors.to_vec();
        threads.push(std::thread::spawn(move || {
            let mut checker = Checker { me: i, owners };
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut m = GroupMembership::new(&engine, "stress", config(&format!("c{i}"), &assignors)).unwrap();
                m.subscribe(BTreeMap::from([("a".to_string(), 5u32), ("b".to_string(), 3u32)]));
                let polls = 20 + (round * 7 + i as u64 * 13) % 60;
                for _ in 0..polls {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    m.poll(Duration::from_millis(2), &mut checker).unwrap();
                    // "Process" the owned partitions: they must still be ours.
                    let map = checker.owners.map.lock().unwrap();
                    for tp in m.assignment() {
                        if map.get(tp) != Some(&i) {
                            checker.owners.violations.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    drop(map);
                    std::thread::sleep(Duration::from_millis(1));
                }
                // Alternate graceful leaves and plain drops (which also leave).
                if round % 2 == 0 {
                    m.leave(&mut checker).unwrap();
                } else {
                    m.close(&mut checker).unwrap();
                }
                round += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(owners.violations.load(Ordering::Relaxed), 0, "a partition had two owners");
    assert!(owners.assignments.load(Ordering::Relaxed) > 50, "the stress test hardly rebalanced");
    assert!(owners.map.lock().unwrap().is_empty());
    engine.close().unwrap();
}

#[test]
fn many_threads_never_double_own_eager() {
    stress(&[Assignor::Range, Assignor::CooperativeSticky]);
}

#[test]
fn many_threads_never_double_own_cooperative() {
    stress(&[Assignor::CooperativeSticky]);
}

#[test]
fn offsets_survive_reopen_and_admin_works() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        let mut a = GroupMembership::new(&engine, "g", config("a", &[Assignor::Range])).unwrap();
        a.subscribe(topic(3));
        assert!(a.poll(Duration::from_secs(5), &mut Vec::new()).unwrap());
        a.commit(&[(tp("t", 0), OffsetAndMetadata::new(7)), (tp("t", 1), OffsetAndMetadata::new(9))]).unwrap();
        assert_eq!(engine.delete_group("g").unwrap_err().code(), ErrorCode::GroupNotEmpty);
        assert_eq!(
            engine.reset_group_offsets("g", &[], OffsetResetSpec::Earliest, &FakeLog).unwrap_err().code(),
            ErrorCode::GroupNotEmpty
        );
        let lag = engine.describe_group_offsets("g", &FakeLog).unwrap();
        assert_eq!(lag.len(), 3);
        assert_eq!(lag[0].lag, Some(93));
        assert_eq!(lag[2].lag, None);
        assert_eq!(lag[2].member_id.as_deref(), Some(a.member_id()));
        let other = Engine::open(dir.path()).unwrap();
        assert!(other.same_as(&engine));
        engine.close().unwrap();
    }
    let engine = Engine::open(dir.path()).unwrap();
    let groups = engine.list_groups().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].group_id.as_str(), groups[0].state), ("g", GroupState::Empty));
    let offs = engine.list_group_offsets("g").unwrap();
    assert_eq!(offs[&tp("t", 0)].offset, 7);
    assert_eq!(offs[&tp("t", 1)].offset, 9);
    // Reset while empty: to earliest, to a time, to a clamped offset, to latest.
    assert_eq!(engine.reset_group_offsets("g", &[], OffsetResetSpec::Earliest, &FakeLog).unwrap()[&tp("t", 0)], 5);
    assert_eq!(engine.reset_group_offsets("g", &[tp("t", 0)], OffsetResetSpec::ToTime(1_000), &FakeLog).unwrap()[&tp("t", 0)], 50);
    assert_eq!(engine.reset_group_offsets("g", &[tp("t", 0)], OffsetResetSpec::ToTime(9_999), &FakeLog).unwrap()[&tp("t", 0)], 100);
    assert_eq!(engine.reset_group_offsets("g", &[tp("t", 1)], OffsetResetSpec::ToOffset(1), &FakeLog).unwrap()[&tp("t", 1)], 5);
    assert_eq!(engine.reset_group_offsets("g", &[tp("t", 1)], OffsetResetSpec::Latest, &FakeLog).unwrap()[&tp("t", 1)], 100);
    assert_eq!(engine.fetch_group_offsets("g", &[]).unwrap()[&tp("t", 1)].offset, 100);
    engine.close().unwrap();
    drop(engine);

    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.list_group_offsets("g").unwrap()[&tp("t", 1)].offset, 100);
    engine.delete_group("g").unwrap();
    assert_eq!(engine.describe_group("g").unwrap_err().code(), ErrorCode::GroupNotFound);
    assert_eq!(engine.delete_group("g").unwrap_err().code(), ErrorCode::GroupNotFound);
    engine.close().unwrap();
    drop(engine);
    let engine = Engine::open(dir.path()).unwrap();
    assert!(engine.list_groups().unwrap().is_empty(), "the deletion survived the restart");
    engine.close().unwrap();
}

/// A log where every partition spans offsets 5..100 and offset 50 is at time 1000.
struct FakeLog;

impl OffsetResolver for FakeLog {
    fn earliest_offset(&self, _: &TopicPartition) -> kabase::Result<i64> {
        Ok(5)
    }
    fn latest_offset(&self, _: &TopicPartition) -> kabase::Result<i64> {
        Ok(100)
    }
    fn offset_for_time(&self, _: &TopicPartition, ts: i64) -> kabase::Result<Option<i64>> {
        Ok(if ts <= 1_000 { Some(50) } else { None })
    }
}
