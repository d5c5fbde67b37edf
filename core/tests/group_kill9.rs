//! kill -9 test for committed offsets: a child process commits consumer-group offsets (plain
//! commits and, every tenth, a transactional `send_offsets_to_transaction` + commit) into the
//! `__consumer_offsets` topic and prints each acknowledged commit; the parent SIGKILLs it at a
//! random moment, reopens the directory and checks that every partition's committed offset is
//! at least the last acknowledged one and never one that was not sent. Three rounds on the same
//! directory.
//!
//! The child is this test binary re-executed with `KABASE_GROUP_KILL9_DIR` set, running only
//! `group_kill9_child_entry` (which does nothing when the variable is absent).

use std::collections::BTreeMap;
use std::time::Duration;

#[path = "support/kill9.rs"]
mod kill9;

use kabase::group::{ConsumerGroupMetadata, OffsetAndMetadata, TopicPartition as GroupTp};
use kabase::{Engine, EngineOptions, ProducerConfig, TopicPartition};

const ENV: &str = "KABASE_GROUP_KILL9_DIR";
const PARTITIONS: u64 = 4;

fn options() -> EngineOptions {
    EngineOptions { offsets_topic_num_partitions: 5, ..Default::default() }
}

/// Child mode: commit forever; `ACK <partition> <offset>` per acknowledged commit. Offsets
/// grow with the sequence number, so a later commit of a partition always has a larger offset.
#[test]
fn group_kill9_child_entry() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let start: i64 = std::env::var("KABASE_GROUP_KILL9_START").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let engine = Engine::open_with(&dir, options()).expect("child opens the engine");
    let meta = ConsumerGroupMetadata { group_id: "g9".into(), generation_id: -1, member_id: String::new(), group_instance_id: None };
    let txn = engine.producer(ProducerConfig::default().set("transactional.id", "k9-txn").unwrap()).expect("producer");
    txn.init_transactions().expect("init");
    let mut seq = start;
    loop {
        let p = (seq as u64 % PARTITIONS) as u32;
        if seq % 10 == 0 {
            txn.begin_transaction().expect("begin");
            txn.send_offsets_to_transaction(&[(TopicPartition::new("t", p), seq)], "g9").expect("send offsets");
            txn.commit_transaction().expect("commit");
        } else {
            engine.commit_group_offsets(&meta, &[(GroupTp::new("t", p as i32), OffsetAndMetadata::new(seq))]).expect("commit");
        }
        println!("ACK {p} {seq}");
        seq += 1;
    }
}

#[test]
fn group_kill9_acknowledged_commits_survive() {
    let d = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<u32, i64> = BTreeMap::new();
    let mut next_seq = 0i64;
    for round in 0..3 {
        let got: Vec<(u32, i64)> = kill9::run_and_kill(
            "group_kill9_child_entry",
            &[(ENV, d.path().display().to_string()), ("KABASE_GROUP_KILL9_START", next_seq.to_string())],
            Duration::from_millis(500 + rand::random_range(0..700)),
        )
        .into_iter()
        .filter(|f| f.len() == 2)
        .map(|f| (f[0].parse().unwrap(), f[1].parse().unwrap()))
        .collect();
        assert!(!got.is_empty(), "round {round}: the child acknowledged nothing");
        println!("round {round}: {} commits acknowledged", got.len());
        let mut max_sent = next_seq;
        for (p, o) in got {
            let e = acked.entry(p).or_insert(o);
            *e = (*e).max(o);
            max_sent = max_sent.max(o + 1);
        }
        let e = Engine::open_with(d.path(), options()).unwrap();
        let committed = e.fetch_group_offsets("g9", &[]).unwrap();
        for (p, o) in &acked {
            let c = committed.get(&GroupTp::new("t", *p as i32)).map(|m| m.offset);
            let c = c.unwrap_or_else(|| panic!("round {round}: partition {p} lost its committed offset {o}"));
            assert!(c >= *o, "round {round}: partition {p} committed {c} < acknowledged {o}");
            // At most the one commit in flight when the child died (never a made-up offset).
            assert!(c <= max_sent + PARTITIONS as i64, "round {round}: partition {p} committed {c}, beyond anything sent");
        }
        // The offsets partition holds only valid batches (the engine read every one of them).
        assert!(e.list_topics_with_internal().unwrap().iter().any(|t| t == "__consumer_offsets"));
        e.close().unwrap();
        drop(e);
        next_seq = max_sent + 1_000;
    }
}
