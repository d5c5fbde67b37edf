//! kill -9 test for topics: a child process produces with acks=all and prints every
//! acknowledged offset; the parent SIGKILLs it at a random moment, reopens the directory and
//! checks that every acknowledged record is there exactly once, in order, and that every batch
//! in every segment passes its size and CRC check. Three rounds on the same directory, so
//! recovery of a recovered log is exercised too.
//!
//! The child is this test binary re-executed with `KABASE_KILL9_DIR` set, running only
//! `kill9_child_entry` (which does nothing when the variable is absent).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

#[path = "support/kill9.rs"]
mod kill9;

use kabase::log::batch;
use kabase::{ConsumerConfig, Engine, ProducerConfig, ProducerRecord, TopicPartition};

const ENV: &str = "KABASE_KILL9_DIR";

/// Child mode: produce forever, printing `ACK <partition> <offset> <seq>` per acknowledgement.
#[test]
fn kill9_child_entry() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let start: u64 = std::env::var("KABASE_KILL9_START").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let engine = Engine::open(&dir).expect("child opens the engine");
    let producer = engine.producer(ProducerConfig::default().set("linger.ms", "1").unwrap()).expect("producer");
    let mut inflight = std::collections::VecDeque::new();
    let mut seq = start;
    loop {
        let key = format!("k{}", seq % 4);
        let f = producer.send(ProducerRecord::new("k9", format!("record-{seq:010}-{}", "p".repeat((seq % 200) as usize))).key(key)).expect("send");
        inflight.push_back((seq, f));
        seq += 1;
        while inflight.len() > 32 {
            let (s, f) = inflight.pop_front().expect("nonempty");
            let m = f.get().expect("ack");
            println!("ACK {} {} {}", m.partition, m.offset, s);
        }
    }
}

fn crc_check_all(dir: &Path) -> usize {
    let mut batches = 0;
    for part in std::fs::read_dir(dir.join("log")).unwrap().flatten() {
        if !part.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(part.path()).unwrap().flatten() {
            if f.path().extension().is_some_and(|x| x == "log") {
                let bytes = std::fs::read(f.path()).unwrap();
                let mut pos = 0;
                while pos < bytes.len() {
                    let h = batch::validate(&bytes[pos..]).unwrap_or_else(|e| panic!("{}: batch at byte {pos}: {e}", f.path().display()));
                    pos += h.size();
                    batches += 1;
                }
            }
        }
    }
    batches
}

#[test]
fn kill9_acknowledged_records_survive() {
    let d = tempfile::tempdir().unwrap();
    {
        let e = Engine::open_with(d.path(), kabase::EngineOptions { num_partitions: 2, ..Default::default() }).unwrap();
        e.create_topic(kabase::NewTopic::new("k9", 2).config("segment.bytes", "65536")).unwrap();
        e.close().unwrap();
    }
    let mut acked: BTreeMap<u64, (u32, i64)> = BTreeMap::new();
    let mut preallocated_seen = 0;
    let mut next_seq = 0u64;
    for round in 0..3 {
        // Wait for the child to make progress, then kill it at a random moment.
        let got: Vec<(u64, u32, i64)> = kill9::run_and_kill(
            "kill9_child_entry",
            &[(ENV, d.path().display().to_string()), ("KABASE_KILL9_START", next_seq.to_string())],
            Duration::from_millis(300 + rand::random_range(0..700)),
        )
        .into_iter()
        .filter(|f| f.len() == 3)
        .map(|f| (f[2].parse().unwrap(), f[0].parse().unwrap(), f[1].parse().unwrap()))
        .collect();
        assert!(!got.is_empty(), "round {round}: the child acknowledged nothing");
        println!("round {round}: {} acknowledged", got.len());
        for (s, p, o) in got {
            acked.insert(s, (p, o));
            next_seq = next_seq.max(s + 1);
        }
        next_seq += 100_000; // unacknowledged sends of the killed child may or may not be there
        // Reopen: recovery runs; every acknowledged record is present once, in order.
        let batches = crc_check_all(d.path());
        assert!(batches > 0);
        // The killed child left its active segments' indexes preallocated and mapped (Kafka's
        // segment.index.bytes, 10 MiB), never trimmed: recovery must cope with the zero tail.
        if index_sizes(d.path()).contains(&(10 * 1024 * 1024)) {
            preallocated_seen += 1;
        }
        let e = Engine::open(d.path()).unwrap();
        let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap()).unwrap();
        c.assign(&[TopicPartition::new("k9", 0), TopicPartition::new("k9", 1)]).unwrap();
        let mut by_offset: BTreeMap<(u32, i64), u64> = BTreeMap::new();
        let mut last_seq_per_partition: BTreeMap<u32, u64> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let recs = c.poll(Duration::from_millis(50)).unwrap();
            if recs.is_empty() {
                break;
            }
            for r in recs {
                let v = String::from_utf8(r.value.unwrap()).unwrap();
                let s: u64 = v[7..17].parse().unwrap();
                assert!(seen.insert(s), "record {s} appears twice");
                if let Some(prev) = last_seq_per_partition.insert(r.partition, s) {
                    assert!(prev < s, "partition {} out of order: {prev} then {s}", r.partition);
                }
                by_offset.insert((r.partition, r.offset), s);
            }
        }
        for (s, (p, o)) in &acked {
            assert_eq!(by_offset.get(&(*p, *o)), Some(s), "round {round}: acknowledged record {s} at {p}/{o} missing");
        }
        // Index lookups in the recovered log: a seek to an acknowledged offset finds exactly
        // that record first (the offset index, rebuilt or loaded, sends the read to the right
        // batch).
        for (s, (p, o)) in acked.iter().step_by(97) {
            let tp = TopicPartition::new("k9", *p);
            c.assign(std::slice::from_ref(&tp)).unwrap();
            c.seek(&tp, *o).unwrap();
            let first = c.poll(Duration::from_millis(200)).unwrap().into_iter().next().expect("a record after the seek");
            assert_eq!(first.offset, *o, "round {round}: seek to {p}/{o}");
            assert_eq!(&String::from_utf8(first.value.unwrap()).unwrap()[7..17], format!("{s:010}"));
        }
        e.close().unwrap();
        // A clean close trims every index to its entries.
        for n in index_sizes(d.path()) {
            assert!(n.is_multiple_of(8) && n < 10 * 1024 * 1024, "index of {n} bytes after a clean close");
        }
        drop(e);
        // the next round starts after a clean close; make the following crash unclean again
        // from the child's point of view (it is killed, so it never writes the marker).
    }
    // (an active segment without any index entry yet has an empty index: not every round
    // shows a preallocated file, but three rounds of two partitions always did)
    assert!(preallocated_seen > 0, "no killed child left a preallocated index");
}

/// Sizes of every `.index` file of the topic.
fn index_sizes(dir: &Path) -> Vec<u64> {
    let mut out = Vec::new();
    for part in std::fs::read_dir(dir.join("log")).unwrap().flatten() {
        if part.path().is_dir() {
            for f in std::fs::read_dir(part.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|x| x == "index") {
                    out.push(f.metadata().unwrap().len());
                }
            }
        }
    }
    out
}
