//! Independent check: segment files written by kabase parse as Kafka record batches with
//! kafka-python's own parser (`kafka.record.default_records.DefaultRecordBatch`, through
//! `MemoryRecords`), including CRC validation and every codec. Skipped, with the reason printed,
//! when python3 or kafka-python (and its codec modules) are not installed:
//! `pip install kafka-python python-snappy lz4 zstandard`; with `KABASE_REQUIRE_KAFKA_PYTHON=1`
//! (set by `scripts/test.sh`, so CI never skips it) a missing parser fails the test instead.

use std::process::Command;

use kabase::{Engine, NewTopic, ProducerConfig, ProducerRecord};

const SCRIPT: &str = include_str!("support/parse_segments.py");

fn python_ready() -> Result<(), String> {
    let ready = python_found();
    if let Err(why) = &ready {
        assert!(std::env::var_os("KABASE_REQUIRE_KAFKA_PYTHON").is_none(), "KABASE_REQUIRE_KAFKA_PYTHON is set but {why}");
    }
    ready
}

fn python_found() -> Result<(), String> {
    let out = Command::new("python3")
        .args(["-c", "import kafka.record.default_records, kafka.record.memory_records, snappy, lz4.frame, zstandard"])
        .output()
        .map_err(|e| format!("python3 not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("kafka-python or a codec module is missing: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")))
    }
}

/// Group metadata for `group`: one generation with a member subscribed to topic `in`, then an
/// empty one once it leaves (the group thread records each within a few milliseconds).
fn record_generations(e: &Engine, group: &str) {
    let mut m = kabase::group::GroupMembership::new(e, group, kabase::group::MembershipConfig::default()).unwrap();
    m.subscribe(std::collections::BTreeMap::from([("in".to_string(), 3u32)]));
    m.poll(std::time::Duration::from_secs(5), &mut Vec::new()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    m.leave(&mut Vec::new()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
}

#[test]
fn segments_parse_with_kafka_python() {
    if let Err(why) = python_ready() {
        println!("SKIPPED segments_parse_with_kafka_python: {why}");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let e = Engine::open(d.path()).unwrap();
    let mut expected = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        e.create_topic(NewTopic::new(format!("py-{codec}"), 1)).unwrap();
        let p = e.producer(ProducerConfig::default().set("compression.type", codec).unwrap().set("linger.ms", "50").unwrap()).unwrap();
        for i in 0..300 {
            let mut r = ProducerRecord::new(format!("py-{codec}"), format!("value-{i}-{}", "x".repeat(i % 50))).header("h", format!("{i}"));
            if i % 3 != 0 {
                r = r.key(format!("key-{i}"));
            }
            if i % 7 == 0 {
                r.value = None;
            }
            p.send(r).unwrap();
        }
        p.flush().unwrap();
        expected.push((codec, 300));
    }
    // a transaction, so control batches are parsed too
    let t = e.producer(ProducerConfig::default().set("transactional.id", "py").unwrap()).unwrap();
    t.init_transactions().unwrap();
    t.begin_transaction().unwrap();
    t.send(ProducerRecord::new("py-none", "in-txn")).unwrap();
    t.commit_transaction().unwrap();
    drop(t);
    record_generations(&e, "py-group");
    e.close().unwrap();
    let files: Vec<std::path::PathBuf> = expected.iter().map(|(codec, _)| d.path().join(format!("log/py-{codec}-0/00000000000000000000.log"))).collect();
    let out = Command::new("python3").arg("-c").arg(SCRIPT).args(&files).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "kafka-python failed: {}\n{}", String::from_utf8_lossy(&out.stderr), stdout);
    for ((codec, n), file) in expected.iter().zip(&files) {
        let line = stdout.lines().find(|l| l.starts_with(&*file.to_string_lossy())).unwrap_or_else(|| panic!("{codec}: no output line in {stdout}"));
        let extra = if *codec == "none" { 1 } else { 0 };
        assert!(line.contains(&format!("records={} ", n + extra)), "{codec}: {line}");
        let want_codec = ["none", "gzip", "snappy", "lz4", "zstd"].iter().position(|c| c == codec).unwrap();
        assert!(line.contains(&format!("codecs={{{want_codec}}}")), "{codec}: {line}");
        if *codec == "none" {
            assert!(line.contains("control=1"), "{line}");
        }
    }
}

const OFFSETS_SCRIPT: &str = include_str!("support/parse_offsets.py");

/// The `__consumer_offsets` segments parse with kafka-python and decode by Kafka's
/// OffsetCommitKey v1 / OffsetCommitValue v3 / GroupMetadataKey v2 schemas.
#[test]
fn offsets_topic_parses_with_kafka_python() {
    use kabase::group::{ConsumerGroupMetadata, OffsetAndMetadata, TopicPartition as GroupTp};
    use kabase::group::offsets_topic::{partition_for, OFFSETS_TOPIC};
    if let Err(why) = python_ready() {
        println!("SKIPPED offsets_topic_parses_with_kafka_python: {why}");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let e = Engine::open_with(d.path(), kabase::EngineOptions { offsets_topic_num_partitions: 3, ..Default::default() }).unwrap();
    let meta = |g: &str| ConsumerGroupMetadata { group_id: g.into(), generation_id: -1, member_id: String::new(), group_instance_id: None };
    let mut om = OffsetAndMetadata::new(42);
    om.metadata = "meta".into();
    om.leader_epoch = Some(7);
    e.commit_group_offsets(&meta("py-group"), &[(GroupTp::new("in", 0), om), (GroupTp::new("in", 1), OffsetAndMetadata::new(5))]).unwrap();
    e.commit_group_offsets(&meta("other"), &[(GroupTp::new("in", 0), OffsetAndMetadata::new(9))]).unwrap();
    e.delete_group("other").unwrap();
    // Transactional offsets: a transactional batch, then the COMMIT marker.
    e.create_topic(NewTopic::new("in", 3)).unwrap();
    let t = e.producer(ProducerConfig::default().set("transactional.id", "py-txn").unwrap()).unwrap();
    t.init_transactions().unwrap();
    t.begin_transaction().unwrap();
    t.send_offsets_to_transaction(&[(kabase::TopicPartition::new("in", 2), 11)], "py-group").unwrap();
    t.commit_transaction().unwrap();
    drop(t);
    record_generations(&e, "py-group");
    e.close().unwrap();
    let file = |g: &str| d.path().join(format!("log/{OFFSETS_TOPIC}-{}/00000000000000000000.log", partition_for(g, 3)));
    let run = |g: &str| {
        let out = Command::new("python3").arg("-c").arg(OFFSETS_SCRIPT).arg(file(g)).output().unwrap();
        assert!(out.status.success(), "kafka-python failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect::<Vec<_>>()
    };
    let py = run("py-group");
    assert!(py.contains(&"COMMIT py-group in 0 42 7 meta 0".to_string()), "{py:?}");
    assert!(py.contains(&"COMMIT py-group in 1 5 -1 - 0".to_string()), "{py:?}");
    assert!(py.contains(&"COMMIT py-group in 2 11 -1 - 1".to_string()), "{py:?}");
    let marker = py.iter().position(|l| l.starts_with("MARKER commit ")).expect("a COMMIT marker");
    let txn = py.iter().position(|l| l.ends_with(" 1") && l.starts_with("COMMIT")).unwrap();
    assert!(txn < marker, "{py:?}");
    assert!(py.contains(&"GROUP-METADATA py-group 1 range 1 in:0,1,2".to_string()), "{py:?}");
    assert!(py.contains(&"GROUP-METADATA py-group 2 - 0 -".to_string()), "{py:?}");
    let other = run("other");
    assert!(other.contains(&"COMMIT other in 0 9 -1 - 0".to_string()), "{other:?}");
    assert!(other.contains(&"OFFSET-TOMBSTONE other in 0".to_string()), "{other:?}");
    assert!(other.contains(&"GROUP-TOMBSTONE other".to_string()), "{other:?}");
}
