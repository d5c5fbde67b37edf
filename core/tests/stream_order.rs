//! Stress test of per-row order in a change stream: many writer threads hammer a few rows with
//! single puts, deletes and atomic multi-row batches while a consumer reads the topic live; this
//! repeats over several fresh engines. Every change must arrive exactly once, in commit (seq)
//! order per row and per partition, each writer's changes in its own order, every atomic batch
//! whole, and the last change of each row must be the table's current value.
//!
//! Set `KABASE_STRESS_ROUNDS` to repeat more (the default keeps the suite short).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kabase::stream::{ChangeRecord, Operation, StreamSpec};
use kabase::{ConsumerConfig, Delete, Engine, EngineOptions, FamilyDescriptor, Get, Mutation, Put, TableDescriptor, TopicPartition};

const WRITERS: usize = 8;
const PER_WRITER: usize = 250;
const ROWS: usize = 12;
const TOPIC: &str = "stress";

/// Read `expected` records from every partition of the topic (read_committed), waiting on the
/// condition with a generous deadline instead of assuming any timing.
fn consume(engine: &Engine, partitions: u32, expected: usize, stop: &AtomicBool) -> Vec<(u32, ChangeRecord)> {
    let mut c = engine.consumer(ConsumerConfig::default().set("isolation.level", "read_committed").unwrap()).unwrap();
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| TopicPartition::new(TOPIC, p)).collect();
    c.assign(&tps).unwrap();
    c.seek_to_beginning(&tps).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut out = Vec::new();
    while out.len() < expected && Instant::now() < deadline && !stop.load(Ordering::Acquire) {
        for r in c.poll(Duration::from_millis(50)).unwrap() {
            out.push((r.partition, ChangeRecord::from_json(r.value.as_deref().unwrap()).unwrap()));
        }
    }
    // Anything beyond `expected` would be a duplicate: look a little longer for one.
    let extra_until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < extra_until {
        for r in c.poll(Duration::from_millis(20)).unwrap() {
            out.push((r.partition, ChangeRecord::from_json(r.value.as_deref().unwrap()).unwrap()));
        }
    }
    out
}

/// What a writer did: the value it wrote (or "" for a delete) to which row, in its order.
fn value(w: usize, i: usize) -> String {
    format!("{w}:{i}")
}

fn round(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open_with(dir.path(), EngineOptions { num_partitions: 4, ..Default::default() }).unwrap();
    engine.create_table(TableDescriptor::new("t").family(FamilyDescriptor::new("cf").versions(1))).unwrap();
    engine.stream_table_to_topic(StreamSpec::new("s", "t").topic(TOPIC)).unwrap();
    let partitions = engine.partitions_for(TOPIC).unwrap();

    // Count the changes each writer will make: a batch writes `1 + i % 3` rows.
    let mut expected = 0;
    for w in 0..WRITERS {
        for i in 0..PER_WRITER {
            expected += if (i + w) % 5 == 0 { 1 + i % 3 } else { 1 };
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (engine, stop) = (engine.clone(), Arc::clone(&stop));
        std::thread::spawn(move || consume(&engine, partitions, expected, &stop))
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let t = engine.table("t").unwrap();
            std::thread::spawn(move || {
                for i in 0..PER_WRITER {
                    let row = format!("row-{}", (i * 7 + w) % ROWS);
                    if (i + w) % 5 == 0 {
                        // An atomic multi-row batch over distinct rows.
                        let k = 1 + i % 3;
                        let muts: Vec<Mutation> = (0..k).map(|j| Put::new(format!("row-{}", (i * 7 + w + j) % ROWS)).add("cf", "v", value(w, i)).into()).collect();
                        for r in t.batch(muts).unwrap() {
                            r.unwrap();
                        }
                    } else if i % 11 == 3 {
                        t.delete(Delete::new(row).columns("cf", "v")).unwrap();
                    } else {
                        t.put(Put::new(row).add("cf", "v", value(w, i))).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in writers {
        h.join().unwrap();
    }
    engine.await_stream("s", Duration::from_secs(120)).unwrap();
    let recs = reader.join().unwrap();
    stop.store(true, Ordering::Release);
    assert_eq!(recs.len(), expected, "round {n}: every change exactly once");

    let mut seen = HashSet::new();
    let mut last_in_partition: HashMap<u32, u64> = HashMap::new();
    let mut last: BTreeMap<Vec<u8>, (u64, u32)> = BTreeMap::new();
    // Per row, as the table resolves it: the newest put by (timestamp, seq), and the newest
    // delete-marker timestamp (a marker at T hides every put at or below T).
    let mut newest_put: BTreeMap<Vec<u8>, (i64, u64, String)> = BTreeMap::new();
    let mut newest_delete: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    let mut per_writer: HashMap<String, usize> = HashMap::new();
    let mut batch_rows: HashMap<String, usize> = HashMap::new();
    for (p, c) in &recs {
        assert!(seen.insert(c.seq), "round {n}: seq {} twice", c.seq);
        if let Some(prev) = last_in_partition.insert(*p, c.seq) {
            assert!(c.seq > prev, "round {n}: partition {p} has seq {} after {prev}", c.seq);
        }
        if let Some((prev, q)) = last.get(&c.row) {
            assert!(c.seq > *prev, "round {n}: row {:?} out of order", c.row);
            assert_eq!(q, p, "round {n}: a row moved partition");
        }
        let v = match c.operation() {
            Operation::Put => Some(String::from_utf8(c.cells[0].value.clone()).unwrap()),
            _ => None,
        };
        if let Some(v) = &v {
            let (w, i) = v.split_once(':').unwrap();
            let i: usize = i.parse().unwrap();
            // Writers' puts of one row arrive in the writer's order (batches share a value,
            // so compare per (writer, row)).
            let k = format!("{w}/{}", String::from_utf8_lossy(&c.row));
            assert!(per_writer.get(&k).is_none_or(|prev| *prev <= i), "round {n}: writer {w} out of order on {:?}", c.row);
            per_writer.insert(k, i);
            *batch_rows.entry(v.clone()).or_insert(0) += 1;
            let ts = c.cells[0].timestamp;
            if newest_put.get(&c.row).is_none_or(|(t, q, _)| (ts, c.seq) > (*t, *q)) {
                newest_put.insert(c.row.clone(), (ts, c.seq, v.clone()));
            }
        } else {
            let d = newest_delete.entry(c.row.clone()).or_insert(i64::MIN);
            *d = (*d).max(c.cells[0].timestamp);
        }
        last.insert(c.row.clone(), (c.seq, *p));
    }
    // Every atomic batch arrived whole.
    for w in 0..WRITERS {
        for i in 0..PER_WRITER {
            if (i + w) % 5 == 0 {
                let rows: HashSet<usize> = (0..1 + i % 3).map(|j| (i * 7 + w + j) % ROWS).collect();
                assert_eq!(batch_rows.get(&value(w, i)).copied(), Some(rows.len()), "round {n}: batch {w}:{i} not whole");
            }
        }
    }
    // Replaying the stream gives the table's state. Puts take their wall-clock timestamp before
    // the row lock (HBase semantics), so two racing writers can commit in the opposite order of
    // their timestamps; the table then shows the higher timestamp, and so does this replay.
    let t = engine.table("t").unwrap();
    for row in last.keys() {
        let want = match (newest_put.get(row), newest_delete.get(row)) {
            (Some((ts, _, v)), d) if d.is_none_or(|d| *ts > *d) => Some(v.as_bytes()),
            _ => None,
        };
        let got = t.get(Get::new(row.clone())).unwrap();
        assert_eq!(got.value("cf", "v"), want, "round {n}: row {:?}", String::from_utf8_lossy(row));
    }
    engine.close().unwrap();
}

#[test]
fn per_row_order_stress_many_writers() {
    let rounds: usize = std::env::var("KABASE_STRESS_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    for n in 0..rounds {
        round(n);
    }
}
