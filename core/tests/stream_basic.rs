//! Change streams end to end through the public API: ordering, partitioning, transactions,
//! snapshot handoff, route rules, sinks, durability of stream objects, backpressure.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kabase::stream::{
    Backpressure, ChangeRecord, Partitioning, RecordFormat, RecordShape, RouteRule, SinkSpec, StreamKind, StreamSpec, StreamState, HEADER_SEQ,
};
use kabase::{
    Compression, ConsumerConfig, ConsumerRecord, Delete, Engine, ErrorCode, FamilyDescriptor, Get, Mutation, Put, ProducerConfig, ProducerRecord,
    Scan, TableDescriptor, TopicPartition,
};

const WAIT: Duration = Duration::from_secs(20);

/// Every record of a topic from `from` (per partition; beginning when absent) to the end.
fn read_from(engine: &Engine, topic: &str, committed: bool, from: &HashMap<u32, i64>) -> Vec<ConsumerRecord> {
    let n = engine.partitions_for(topic).unwrap();
    let level = if committed { "read_committed" } else { "read_uncommitted" };
    let mut c = engine.consumer(ConsumerConfig::default().set("isolation.level", level).unwrap()).unwrap();
    let tps: Vec<TopicPartition> = (0..n).map(|p| TopicPartition::new(topic, p)).collect();
    c.assign(&tps).unwrap();
    c.seek_to_beginning(&tps).unwrap();
    for tp in &tps {
        if let Some(o) = from.get(&tp.partition) {
            c.seek(tp, *o).unwrap();
        }
    }
    let ends = c.end_offsets(&tps).unwrap();
    let mut out = Vec::new();
    for _ in 0..2000 {
        if ends.iter().all(|(tp, e)| c.position(tp).unwrap() >= *e) {
            break;
        }
        out.extend(c.poll(Duration::from_millis(20)).unwrap());
    }
    out
}

fn read_all(engine: &Engine, topic: &str) -> Vec<ConsumerRecord> {
    read_from(engine, topic, true, &HashMap::new())
}

fn change(r: &ConsumerRecord) -> ChangeRecord {
    ChangeRecord::from_json(r.value.as_deref().unwrap()).unwrap()
}

fn table(engine: &Engine, name: &str, families: &[&str]) {
    let mut d = TableDescriptor::new(name);
    for f in families {
        d = d.family(FamilyDescriptor::new(*f).versions(1000));
    }
    engine.create_table(d).unwrap();
}

#[test]
fn put_reaches_the_topic_with_the_documented_schema() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "orders", &["cf"]);
    let info = engine.stream_table_to_topic(StreamSpec::new("orders-cdc", "orders")).unwrap();
    assert_eq!(info.topics, vec!["default.orders"]);
    assert_eq!(info.kind, StreamKind::TableToTopic);
    let t = engine.table("orders").unwrap();
    t.put(Put::new_at("o1", 5).add("cf", "amount", "12.50")).unwrap();
    t.delete(Delete::new("o1").columns_at("cf", "note", 6)).unwrap();
    engine.await_stream("orders-cdc", WAIT).unwrap();
    let recs = read_all(&engine, "default.orders");
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].key.as_deref(), Some(&b"o1"[..]));
    let j: serde_json::Value = serde_json::from_slice(recs[0].value.as_deref().unwrap()).unwrap();
    assert_eq!((j["table"].as_str(), j["row"].as_str(), j["op"].as_str()), (Some("default:orders"), Some("o1"), Some("put")));
    assert_eq!(j["cells"][0]["ts"], 5);
    let d = change(&recs[1]);
    assert_eq!(d.cells[0].kind, kabase::CellKind::DeleteColumn);
    assert!(d.seq > change(&recs[0]).seq);
    let info = engine.describe_stream("orders-cdc").unwrap();
    assert_eq!((info.lag, info.position, info.state), (0, d.seq, StreamState::Running));
    engine.close().unwrap();
}

#[test]
fn per_row_order_under_concurrent_writers() {
    let engine = Engine::open_with(tempfile::tempdir().unwrap().keep(), kabase::EngineOptions { num_partitions: 4, ..Default::default() }).unwrap();
    table(&engine, "t", &["cf"]);
    engine.stream_table_to_topic(StreamSpec::new("s", "t").topic("t-changes")).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let t = engine.table("t").unwrap();
            std::thread::spawn(move || {
                for i in 0..150 {
                    let row = format!("row-{}", i % 8);
                    t.put(Put::new(row).add("cf", "v", format!("{w}:{i}"))).unwrap();
                }
            })
        })
        .collect();
    for h in threads {
        h.join().unwrap();
    }
    engine.await_stream("s", WAIT).unwrap();
    let recs = read_all(&engine, "t-changes");
    assert_eq!(recs.len(), 600);
    let t = engine.table("t").unwrap();
    let mut last: BTreeMap<Vec<u8>, (u64, String, u32)> = BTreeMap::new();
    let mut per_writer: HashMap<(Vec<u8>, String), i64> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for r in &recs {
        let c = change(r);
        assert!(seen.insert(c.seq), "seq {} twice", c.seq);
        let v = String::from_utf8(c.cells[0].value.clone()).unwrap();
        if let Some((prev, _, p)) = last.get(&c.row) {
            assert!(c.seq > *prev, "row {:?} out of order", c.row);
            assert_eq!(*p, r.partition, "a row moved partition");
        }
        let (w, i) = v.split_once(':').unwrap();
        let k = (c.row.clone(), w.to_string());
        let i: i64 = i.parse().unwrap();
        assert!(per_writer.get(&k).is_none_or(|p| *p < i), "writer order broken");
        per_writer.insert(k, i);
        last.insert(c.row.clone(), (c.seq, v, r.partition));
    }
    // The last record of each row is the table's value.
    for (row, (_, v, _)) in &last {
        assert_eq!(t.get(Get::new(row.clone())).unwrap().value("cf", "v"), Some(v.as_bytes()));
    }
    engine.close().unwrap();
}

#[test]
fn family_partitioning_and_transactions() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "f", &["a", "b", "c"]);
    engine.stream_table_to_topic(StreamSpec::new("fs", "f").partitioning(Partitioning::Family)).unwrap();
    assert_eq!(engine.partitions_for("default.f").unwrap(), 3);
    let t = engine.table("f").unwrap();
    // One row touching families a and c: two records, one per family partition, one transaction.
    t.put(Put::new("r1").add("a", "x", "1").add("c", "y", "2").add("a", "z", "3")).unwrap();
    engine.await_stream("fs", WAIT).unwrap();
    let recs = read_all(&engine, "default.f");
    assert_eq!(recs.len(), 2);
    for r in &recs {
        let c = change(r);
        let fam = &c.cells[0].family;
        assert!(c.cells.iter().all(|x| &x.family == fam), "a record mixes families");
        assert_eq!(r.partition, if fam == b"a" { 0 } else { 2 });
    }
    let a = recs.iter().find(|r| r.partition == 0).unwrap();
    assert_eq!(change(a).cells.len(), 2);
    // A transaction: each partition holds its record plus a COMMIT marker.
    let d = engine.describe_topic("default.f").unwrap();
    let leo: Vec<i64> = d.partitions.iter().map(|p| p.log_end_offset).collect();
    assert_eq!(leo, vec![2, 0, 2]);
    assert!(d.partitions.iter().all(|p| p.last_stable_offset == p.log_end_offset));

    // A multi-row batch whose records all go to one partition is one record batch, atomic
    // without a transaction: no COMMIT marker.
    let muts: Vec<Mutation> = (0..5).map(|i| Put::new(format!("b{i}")).add("b", "q", "v").into()).collect();
    assert!(t.batch(muts).unwrap().iter().all(|r| r.is_ok()));
    engine.await_stream("fs", WAIT).unwrap();
    let recs = read_all(&engine, "default.f");
    let in_b: Vec<&ConsumerRecord> = recs.iter().filter(|r| r.partition == 1).collect();
    assert_eq!(in_b.len(), 5);
    let d = engine.describe_topic("default.f").unwrap();
    assert_eq!(d.partitions[1].log_end_offset, 5, "5 records, no COMMIT marker");
    assert_eq!(d.partitions[1].last_stable_offset, 5);

    // A multi-row batch over two families (partitions) goes as one transaction: one COMMIT
    // marker in each partition it touched.
    let muts: Vec<Mutation> = (0..3).map(|i| Put::new(format!("m{i}")).add(if i == 0 { "a" } else { "c" }, "q", "v").into()).collect();
    assert!(t.batch(muts).unwrap().iter().all(|r| r.is_ok()));
    engine.await_stream("fs", WAIT).unwrap();
    let leo: Vec<i64> = engine.describe_topic("default.f").unwrap().partitions.iter().map(|p| p.log_end_offset).collect();
    assert_eq!(leo, vec![2 + 2, 5, 2 + 3]);
    assert_eq!(read_all(&engine, "default.f").len(), 2 + 5 + 3);
    engine.close().unwrap();
}

#[test]
fn route_rules_shape_and_format() {
    let engine = Engine::open_in_memory().unwrap();
    engine.create_table(TableDescriptor::new("r").family(FamilyDescriptor::new("cf").compression(Compression::Gz)).family(FamilyDescriptor::new("meta"))).unwrap();
    let spec = StreamSpec::new("rs", "r")
        .topic("r-main")
        .route(RouteRule::drop("r").family("cf").qualifier("secret*"))
        .route(RouteRule::route("r", Vec::<String>::new()).family("cf"))
        .route(RouteRule::route("r", ["r-meta", "r-main"]).family("meta"))
        .shape(RecordShape::PerCell)
        .format(RecordFormat::Binary);
    engine.stream_table_to_topic(spec).unwrap();
    // Compression carries over from the table's family.
    let cfg = engine.describe_configs("r-main").unwrap();
    assert_eq!(cfg.iter().find(|c| c.name == "compression.type").unwrap().value, "gzip");
    let t = engine.table("r").unwrap();
    t.put(Put::new("k").add("cf", "a", "1").add("cf", "secret_pin", "1234").add("meta", "m", "x")).unwrap();
    engine.await_stream("rs", WAIT).unwrap();
    let main: Vec<ChangeRecord> = read_all(&engine, "r-main").iter().map(|r| ChangeRecord::from_binary(r.value.as_deref().unwrap()).unwrap()).collect();
    let meta: Vec<ChangeRecord> = read_all(&engine, "r-meta").iter().map(|r| ChangeRecord::from_binary(r.value.as_deref().unwrap()).unwrap()).collect();
    let quals = |v: &[ChangeRecord]| v.iter().map(|c| String::from_utf8(c.cells[0].qualifier.clone()).unwrap()).collect::<Vec<_>>();
    assert_eq!(quals(&main), vec!["a", "m"]);
    assert_eq!(quals(&meta), vec!["m"]);
    assert!(main.iter().all(|c| c.cells.len() == 1));
    engine.close().unwrap();
}

#[test]
fn snapshot_then_stream_hands_off_exactly() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "s", &["cf"]);
    let t = engine.table("s").unwrap();
    for i in 0..50 {
        t.put(Put::new(format!("pre-{i}")).add("cf", "v", "0")).unwrap();
    }
    engine.stream_table_to_topic(StreamSpec::new("ss", "s").partitions(2)).unwrap();
    let writer = {
        let t = engine.table("s").unwrap();
        std::thread::spawn(move || {
            for i in 0..400 {
                let row = format!("r-{}", i % 40);
                if i % 7 == 3 {
                    t.delete(Delete::new(row)).unwrap();
                } else {
                    t.put(Put::new(row).add("cf", "v", i.to_string())).unwrap();
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    let snap = engine.snapshot_stream("ss").unwrap();
    writer.join().unwrap();
    engine.await_stream("ss", WAIT).unwrap();
    // Rebuild the table from the snapshot plus the stream from the snapshot's offsets.
    let mut state: BTreeMap<Vec<u8>, Vec<u8>> = snap.rows.iter().map(|r| (r.row.clone(), r.value("cf", "v").unwrap().to_vec())).collect();
    let from: HashMap<u32, i64> = snap.offsets.iter().map(|(tp, o)| (tp.partition, *o)).collect();
    let mut after = read_from(&engine, "default.s", true, &from);
    // Everything before the offsets is at or below the snapshot's seq, everything after above.
    let before = read_all(&engine, "default.s");
    for r in &before {
        let seq = change(r).seq;
        let in_after = r.offset >= from[&r.partition];
        assert_eq!(seq > snap.seq, in_after, "record seq {seq} at offset {} vs snapshot seq {}", r.offset, snap.seq);
    }
    after.sort_by_key(|r| change(r).seq);
    for r in &after {
        let c = change(r);
        for cell in &c.cells {
            match cell.kind {
                kabase::CellKind::Put => {
                    state.insert(c.row.clone(), cell.value.clone());
                }
                _ => {
                    state.remove(&c.row);
                }
            }
        }
    }
    let now: BTreeMap<Vec<u8>, Vec<u8>> = t.scan(Scan::new()).unwrap().map(|r| r.unwrap()).map(|r| (r.row.clone(), r.value("cf", "v").unwrap().to_vec())).collect();
    assert_eq!(state, now);
    assert!(state.keys().filter(|k| k.starts_with(b"pre-")).count() == 50);
    engine.close().unwrap();
}

#[test]
fn streams_are_durable_objects() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        table(&engine, "d", &["cf"]);
        engine.stream_table_to_topic(StreamSpec::new("ds", "d")).unwrap();
        assert_eq!(engine.stream_table_to_topic(StreamSpec::new("ds", "d")).unwrap_err().code(), ErrorCode::StreamExists);
        engine.pause_stream("ds").unwrap();
        let t = engine.table("d").unwrap();
        for i in 0..10 {
            t.put(Put::new(format!("r{i}")).add("cf", "v", "x")).unwrap();
        }
        let info = engine.describe_stream("ds").unwrap();
        assert_eq!((info.state, info.lag), (StreamState::Paused, 10));
        assert_eq!(engine.await_stream("ds", Duration::from_millis(10)).unwrap_err().code(), ErrorCode::InvalidArgument);
        engine.close().unwrap();
    }
    {
        let engine = Engine::open(dir.path()).unwrap();
        let info = engine.describe_stream("ds").unwrap();
        assert_eq!((info.state, info.lag), (StreamState::Paused, 10));
        assert_eq!(read_all(&engine, "default.d").len(), 0);
        engine.resume_stream("ds").unwrap();
        engine.await_stream("ds", WAIT).unwrap();
        assert_eq!(read_all(&engine, "default.d").len(), 10);
        engine.close().unwrap();
    }
    {
        let engine = Engine::open(dir.path()).unwrap();
        assert_eq!(engine.describe_streams().unwrap().len(), 1);
        engine.table("d").unwrap().put(Put::new("late").add("cf", "v", "y")).unwrap();
        engine.await_stream("ds", WAIT).unwrap();
        let recs = read_all(&engine, "default.d");
        assert_eq!(recs.len(), 11, "no duplicate after restart");
        engine.remove_stream("ds").unwrap();
        assert_eq!(engine.describe_stream("ds").unwrap_err().code(), ErrorCode::StreamNotFound);
        engine.table("d").unwrap().put(Put::new("after-remove").add("cf", "v", "z")).unwrap();
        engine.close().unwrap();
    }
    let engine = Engine::open(dir.path()).unwrap();
    assert!(engine.describe_streams().unwrap().is_empty());
    assert_eq!(read_all(&engine, "default.d").len(), 11);
    engine.close().unwrap();
}

#[test]
fn backpressure_bounds_the_outbox() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "b", &["cf"]);
    engine.stream_table_to_topic(StreamSpec::new("bs", "b").max_lag(5).backpressure(Backpressure::Error)).unwrap();
    engine.pause_stream("bs").unwrap();
    let t = engine.table("b").unwrap();
    for i in 0..4 {
        t.put(Put::new(format!("r{i}")).add("cf", "v", "x")).unwrap();
    }
    // The bound is soft, as documented on `StreamSpec::max_lag`: a write call checks for room
    // once, so a batch of 3 rows admitted at max_lag - 1 entries leaves max_lag - 1 + 3.
    let muts: Vec<Mutation> = (0..3).map(|i| Put::new(format!("g{i}")).add("cf", "v", "x").into()).collect();
    assert!(t.batch(muts).unwrap().iter().all(|r| r.is_ok()));
    assert_eq!(engine.describe_stream("bs").unwrap().lag, 5 - 1 + 3);
    let err = t.put(Put::new("r5").add("cf", "v", "x")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(err.message().contains("max_lag 5"), "{err}");
    // The refused mutation left nothing behind.
    assert!(t.get(Get::new("r5")).unwrap().is_empty());
    engine.resume_stream("bs").unwrap();
    engine.await_stream("bs", WAIT).unwrap();
    t.put(Put::new("r5").add("cf", "v", "x")).unwrap();
    // Blocking policy: a writer waits for room instead of failing.
    engine.remove_stream("bs").unwrap();
    engine.stream_table_to_topic(StreamSpec::new("bs2", "b").topic("b2").max_lag(2).backpressure(Backpressure::Block { timeout_ms: 5000 })).unwrap();
    for i in 0..50 {
        t.put(Put::new(format!("x{i}")).add("cf", "v", "x")).unwrap();
    }
    engine.await_stream("bs2", WAIT).unwrap();
    assert_eq!(read_all(&engine, "b2").len(), 50);
    engine.close().unwrap();
}

#[test]
fn sink_applies_json_records_once_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(dir.path()).unwrap();
        table(&engine, "users", &["cf", "x"]);
        let p = engine.producer(ProducerConfig::default().set("linger.ms", "0").unwrap()).unwrap();
        let send = |k: &str, v: Option<&str>| {
            let r = match v {
                Some(v) => ProducerRecord::new("user-events", v.as_bytes().to_vec()).key(k.as_bytes().to_vec()),
                None => ProducerRecord::tombstone("user-events", k.as_bytes().to_vec()),
            };
            p.send(r).unwrap().get().unwrap();
        };
        send("u1", Some(r#"{"cf:name":"Ada","cf:age":36,"x:tmp":"t"}"#));
        send("u2", Some(r#"{"cf:name":"Bob"}"#));
        send("u1", Some(r#"{"x:tmp":null}"#));
        send("u2", None);
        engine.sink_topic_to_table(SinkSpec::new("users-sink", "user-events", "users")).unwrap();
        engine.await_stream("users-sink", WAIT).unwrap();
        let t = engine.table("users").unwrap();
        let u1 = t.get(Get::new("u1")).unwrap();
        assert_eq!(u1.value("cf", "name"), Some(&b"Ada"[..]));
        assert_eq!(u1.value("cf", "age"), Some(&b"36"[..]));
        assert_eq!(u1.value("x", "tmp"), None, "a null field deletes the cell");
        assert!(t.get(Get::new("u2")).unwrap().is_empty(), "a tombstone deletes the row");
        let info = engine.describe_stream("users-sink").unwrap();
        assert_eq!((info.kind, info.lag, info.offsets.clone()), (StreamKind::TopicToTable, 0, vec![(0, 4)]));
        send("u3", Some(r#"{"cf:name":"Cy"}"#));
        engine.await_stream("users-sink", WAIT).unwrap();
        p.close().unwrap();
        engine.close().unwrap();
    }
    let engine = Engine::open(dir.path()).unwrap();
    let p = engine.producer(ProducerConfig::default().set("linger.ms", "0").unwrap()).unwrap();
    p.send(ProducerRecord::new("user-events", br#"{"cf:name":"Ada L."}"#.to_vec()).key(b"u1".to_vec())).unwrap().get().unwrap();
    engine.await_stream("users-sink", WAIT).unwrap();
    let t = engine.table("users").unwrap();
    // Each record applied once: u1's name has exactly the two versions the topic holds.
    let versions = t.get(Get::new("u1").column("cf", "name").max_versions(100)).unwrap();
    let names: Vec<&[u8]> = versions.versions("cf", "name").iter().map(|c| c.value.as_slice()).collect();
    assert_eq!(names, vec![&b"Ada L."[..], &b"Ada"[..]]);
    assert_eq!(t.get(Get::new("u3")).unwrap().value("cf", "name"), Some(&b"Cy"[..]));
    // A record that cannot be mapped stops the sink with a clear state.
    p.send(ProducerRecord::new("user-events", b"not json".to_vec()).key(b"u9".to_vec())).unwrap().get().unwrap();
    let mut state = StreamState::Running;
    for _ in 0..500 {
        state = engine.describe_stream("users-sink").unwrap().state;
        if matches!(state, StreamState::Failed(_)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(&state, StreamState::Failed(m) if m.contains("not JSON")), "{state:?}");
    p.close().unwrap();
    engine.close().unwrap();
}

#[test]
fn records_carry_dedup_headers() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "h", &["cf"]);
    engine.stream_table_to_topic(StreamSpec::new("hs", "h")).unwrap();
    engine.table("h").unwrap().put(Put::new("a").add("cf", "q", "1")).unwrap();
    engine.await_stream("hs", WAIT).unwrap();
    let recs = read_all(&engine, "default.h");
    let seq = recs[0].headers.iter().find(|h| h.key == HEADER_SEQ).unwrap().value.clone().unwrap();
    assert_eq!(u64::from_be_bytes(seq.try_into().unwrap()), change(&recs[0]).seq);
    engine.close().unwrap();
}

#[test]
fn a_mutation_refused_by_one_stream_leaves_no_lag_in_another() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "m", &["cf"]);
    table(&engine, "other", &["cf"]);
    // Stream "a" captures first, then "b" (full, refusing) aborts the whole mutation.
    engine.stream_table_to_topic(StreamSpec::new("a", "m").topic("m-a")).unwrap();
    engine.stream_table_to_topic(StreamSpec::new("b", "m").topic("m-b").max_lag(1).backpressure(Backpressure::Error)).unwrap();
    engine.pause_stream("b").unwrap();
    let t = engine.table("m").unwrap();
    t.put(Put::new("r0").add("cf", "v", "0")).unwrap();
    let err = t.put(Put::new("r1").add("cf", "v", "1")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout);
    assert!(t.get(Get::new("r1")).unwrap().is_empty());
    // The next commit on this thread (any table) settles what the refused one had counted.
    engine.table("other").unwrap().put(Put::new("x").add("cf", "v", "x")).unwrap();
    let info = engine.await_stream("a", WAIT).unwrap();
    assert_eq!(info.lag, 0);
    let recs = read_all(&engine, "m-a");
    assert_eq!(recs.len(), 1, "only the accepted put is in stream a's topic");
    assert_eq!(change(&recs[0]).row, b"r0");
    engine.close().unwrap();
}

#[test]
fn a_writer_blocked_by_backpressure_stalls_only_its_own_table() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "slow", &["cf"]);
    table(&engine, "fast", &["cf"]);
    engine
        .stream_table_to_topic(StreamSpec::new("ss", "slow").max_lag(2).backpressure(Backpressure::Block { timeout_ms: 30_000 }))
        .unwrap();
    engine.pause_stream("ss").unwrap();
    let slow = engine.table("slow").unwrap();
    for i in 0..2 {
        slow.put(Put::new(format!("r{i}")).add("cf", "v", "x")).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let blocked = {
        let slow = slow.clone();
        std::thread::spawn(move || {
            let r = slow.put(Put::new("blocked").add("cf", "v", "x"));
            let _ = tx.send(());
            r
        })
    };
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "the writer should wait for outbox room");
    // Meanwhile every kind of write to another table goes through at once.
    let fast = engine.table("fast").unwrap();
    let start = std::time::Instant::now();
    for i in 0..20 {
        fast.put(Put::new(format!("f{i}")).add("cf", "v", "x")).unwrap();
    }
    for r in fast.batch((20..40).map(|i| Mutation::from(Put::new(format!("f{i}")).add("cf", "v", "x"))).collect()).unwrap() {
        r.unwrap();
    }
    fast.delete(Delete::new("f0")).unwrap();
    fast.increment(kabase::Increment::new("n").add("cf", "n", 1)).unwrap();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "writes to another table took {took:?} while a stream was blocked");
    assert_eq!(fast.scan(Scan::new()).unwrap().count(), 40);
    assert!(rx.try_recv().is_err(), "the blocked writer went through before its stream had room");
    assert!(slow.get(Get::new("blocked")).unwrap().is_empty());
    engine.resume_stream("ss").unwrap();
    rx.recv_timeout(WAIT).unwrap();
    blocked.join().unwrap().unwrap();
    engine.await_stream("ss", WAIT).unwrap();
    assert_eq!(read_all(&engine, "default.slow").len(), 3);
    engine.close().unwrap();
}

#[test]
fn once_pause_returns_nothing_more_reaches_the_topic_until_resume() {
    let engine = Engine::open_in_memory().unwrap();
    table(&engine, "p", &["cf"]);
    engine.stream_table_to_topic(StreamSpec::new("ps", "p").topic("p-out").partitions(1)).unwrap();
    let t = engine.table("p").unwrap();
    let leo = |e: &Engine| e.describe_topic("p-out").unwrap().partitions[0].log_end_offset;
    // A writer keeps the relay busy while the stream is paused in the middle of it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (t, stop) = (t.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                t.put(Put::new(format!("r{n}")).add("cf", "v", "x")).unwrap();
                n += 1;
            }
            n
        })
    };
    while leo(&engine) < 50 {
        std::thread::yield_now();
    }
    for round in 0..5 {
        engine.pause_stream("ps").unwrap();
        let at_pause = leo(&engine);
        // Writes go on; the topic must not move while paused.
        let before = t.scan(Scan::new()).unwrap().count();
        while t.scan(Scan::new()).unwrap().count() < before + 20 {
            std::thread::yield_now();
        }
        assert_eq!(leo(&engine), at_pause, "round {round}: the topic grew after pause_stream returned");
        engine.resume_stream("ps").unwrap();
        while leo(&engine) <= at_pause {
            std::thread::yield_now();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let written = writer.join().unwrap();
    let info = engine.await_stream("ps", WAIT).unwrap();
    assert_eq!(info.lag, 0);
    assert_eq!(leo(&engine), written as i64, "every change once, none lost across pauses");
    engine.close().unwrap();
}
