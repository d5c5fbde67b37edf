//! Kill -9 loops: a child process (this test binary re-executed in child mode) writes rows to a
//! streamed table, or sinks a topic into a table, while the parent SIGKILLs it at random moments
//! and reopens the directory in between. Afterwards every acknowledged mutation is in the topic
//! exactly once and in row order, and the sink table equals the topic's content exactly (each
//! record applied once: the versions of every column are exactly the topic's values).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use kabase::stream::{ChangeRecord, SinkSpec, StreamSpec};
use kabase::{ConsumerConfig, ConsumerRecord, Engine, ErrorCode, FamilyDescriptor, Get, Mutation, Put, ProducerConfig, ProducerRecord, TableDescriptor, TopicPartition};

const ROUNDS: usize = 6;

fn read_all(engine: &Engine, topic: &str) -> Vec<ConsumerRecord> {
    let n = engine.partitions_for(topic).unwrap();
    let mut c = engine.consumer(ConsumerConfig::default().set("isolation.level", "read_committed").unwrap()).unwrap();
    let tps: Vec<TopicPartition> = (0..n).map(|p| TopicPartition::new(topic, p)).collect();
    c.assign(&tps).unwrap();
    c.seek_to_beginning(&tps).unwrap();
    let ends = c.end_offsets(&tps).unwrap();
    let mut out = Vec::new();
    for _ in 0..5000 {
        if ends.iter().all(|(tp, e)| c.position(tp).unwrap() >= *e) {
            break;
        }
        out.extend(c.poll(Duration::from_millis(20)).unwrap());
    }
    out
}

fn ensure_table(engine: &Engine, name: &str) {
    if !engine.table_exists(name).unwrap() {
        match engine.create_table(TableDescriptor::new(name).family(FamilyDescriptor::new("cf").versions(100_000))) {
            Ok(()) => {}
            Err(e) if e.code() == ErrorCode::TableExists => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// Print a line and flush it (stdout may be block-buffered on a pipe).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Kills the child if the parent test panics.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Child: write rows forever, printing `ACK <row> <value>` after each acknowledged mutation.
fn child_writer(dir: &str, round: usize) {
    let engine = Engine::open_with(dir, kabase::EngineOptions { num_partitions: 3, ..Default::default() }).unwrap();
    ensure_table(&engine, "w");
    if engine.describe_stream("ws").is_err() {
        engine.stream_table_to_topic(StreamSpec::new("ws", "w").topic("w-changes")).unwrap();
    }
    // A second stream of the same table into one partition: there an atomic batch is one
    // record batch instead of a transaction.
    if engine.describe_stream("ws1").is_err() {
        engine.stream_table_to_topic(StreamSpec::new("ws1", "w").topic("w-one").partitions(1)).unwrap();
    }
    let t = engine.table("w").unwrap();
    say("READY");
    for i in 0.. {
        std::thread::sleep(Duration::from_micros(300));
        if i % 10 == 9 {
            // An atomic multi-row batch: three rows, one transaction in the topic.
            let muts: Vec<Mutation> = (0..3).map(|k| Put::new(format!("r{}", (i + k) % 20)).add("cf", "v", format!("{round}:{i}:{k}")).into()).collect();
            let res = t.batch(muts).unwrap();
            assert!(res.iter().all(|r| r.is_ok()));
            for k in 0..3 {
                say(&format!("ACK r{} {round}:{i}:{k}", (i + k) % 20));
            }
        } else {
            let row = format!("r{}", i % 20);
            t.put(Put::new(row.clone()).add("cf", "v", format!("{round}:{i}:0"))).unwrap();
            say(&format!("ACK {row} {round}:{i}:0"));
        }
    }
}

/// Child: sink the topic `in` into table `sinked` until killed.
fn child_sink(dir: &str) {
    let engine = Engine::open(dir).unwrap();
    ensure_table(&engine, "sinked");
    if engine.describe_stream("sk").is_err() {
        engine.sink_topic_to_table(SinkSpec::new("sk", "in", "sinked")).unwrap();
    }
    say("READY");
    loop {
        std::thread::sleep(Duration::from_millis(5));
        say(&format!("POS {}", engine.describe_stream("sk").unwrap().position));
    }
}

/// Run this binary in child mode (`mode`), kill it after a random delay; returns its stdout lines.
fn run_and_kill(mode: &str, dir: &str, round: usize, max_ms: u64) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env("KABASE_KILL9_MODE", mode)
        .env("KABASE_KILL9_DIR", dir)
        .env("KABASE_KILL9_ROUND", round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    // Wait for the child to be up, then kill it at a random moment.
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => {
                let ready = l.ends_with("READY"); // libtest may prefix the first line
                lines.push(l);
                if ready {
                    break;
                }
            }
            Err(_) => panic!("child did not start: {lines:?}"),
        }
    }
    std::thread::sleep(Duration::from_millis(rand::random_range(5..max_ms)));
    child.0.kill().unwrap(); // SIGKILL
    let _ = child.0.wait();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
}

#[test]
fn child_entry() {
    let (Ok(mode), Ok(dir)) = (std::env::var("KABASE_KILL9_MODE"), std::env::var("KABASE_KILL9_DIR")) else {
        return; // not in child mode
    };
    let round: usize = std::env::var("KABASE_KILL9_ROUND").ok().and_then(|r| r.parse().ok()).unwrap_or(0);
    match mode.as_str() {
        "writer" => child_writer(&dir, round),
        "sink" => child_sink(&dir),
        other => panic!("unknown child mode {other}"),
    }
}

fn key(v: &str) -> (usize, usize, usize) {
    let mut it = v.split(':').map(|x| x.parse::<usize>().unwrap());
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

/// Every acknowledged mutation is in `topic` exactly once, in row order, atomic batches whole,
/// and each row's last value is the table's.
fn check_topic(engine: &Engine, topic: &str, acked: &[(String, String)]) {
    let recs = read_all(engine, topic);
    // Exactly once: no value twice; every acknowledged one present.
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut per_row: BTreeMap<String, Vec<(usize, usize, usize)>> = BTreeMap::new();
    for r in &recs {
        let c = ChangeRecord::from_json(r.value.as_deref().unwrap()).unwrap();
        let v = String::from_utf8(c.cells[0].value.clone()).unwrap();
        *seen.entry(v.clone()).or_default() += 1;
        per_row.entry(String::from_utf8(c.row).unwrap()).or_default().push(key(&v));
    }
    let dups: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicates in {topic}: {dups:?}");
    let missing: Vec<_> = acked.iter().filter(|(_, v)| !seen.contains_key(v)).collect();
    assert!(missing.is_empty(), "{} acknowledged mutations missing in {topic}, e.g. {:?}", missing.len(), missing.first());
    // In row order: each row's values in the topic follow the writers' order.
    for (row, vals) in &per_row {
        assert!(vals.windows(2).all(|w| w[0] < w[1]), "row {row} out of order in {topic}: {vals:?}");
    }
    // The topic's last value of each row is the table's value.
    let t = engine.table("w").unwrap();
    for (row, vals) in &per_row {
        let last = vals.last().unwrap();
        let want = format!("{}:{}:{}", last.0, last.1, last.2);
        assert_eq!(t.get(Get::new(row.clone())).unwrap().value("cf", "v"), Some(want.as_bytes()));
    }
    // Atomic batches: a batch's three values are all there or none.
    let by_batch: HashSet<(usize, usize)> = seen.keys().map(|v| key(v)).filter(|k| k.1 % 10 == 9).map(|k| (k.0, k.1)).collect();
    for (r, i) in by_batch {
        for k in 0..3 {
            assert!(seen.contains_key(&format!("{r}:{i}:{k}")), "batch {r}:{i} is partial in {topic}");
        }
    }
}

#[test]
fn kill9_table_to_topic_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let mut acked: Vec<(String, String)> = Vec::new();
    for round in 0..ROUNDS {
        for l in run_and_kill("writer", &d, round, 400) {
            if let Some(rest) = l.find("ACK ").map(|at| &l[at + 4..]) {
                let (row, v) = rest.split_once(' ').unwrap();
                acked.push((row.to_string(), v.to_string()));
            }
        }
    }
    assert!(acked.len() > 20, "the children acknowledged only {} mutations", acked.len());
    let engine = Engine::open(&d).unwrap();
    for (stream, topic) in [("ws", "w-changes"), ("ws1", "w-one")] {
        engine.await_stream(stream, Duration::from_secs(30)).unwrap();
        check_topic(&engine, topic, &acked);
    }
    engine.close().unwrap();
}

#[test]
fn kill9_topic_to_table_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    const N: usize = 12_000;
    {
        let engine = Engine::open(&d).unwrap();
        engine.create_topic(kabase::NewTopic::new("in", 2)).unwrap();
        let p = engine.producer(ProducerConfig::default().set("linger.ms", "5").unwrap()).unwrap();
        let mut fs = Vec::new();
        for i in 0..N {
            let v = format!("{{\"cf:v\":\"{i}\"}}");
            fs.push(p.send(ProducerRecord::new("in", v.into_bytes()).key(format!("r{}", i % 50).into_bytes())).unwrap());
        }
        for f in fs {
            f.get().unwrap();
        }
        p.close().unwrap();
        engine.close().unwrap();
    }
    let mut positions = Vec::new();
    for round in 0..ROUNDS {
        for l in run_and_kill("sink", &d, round, 120) {
            if let Some(p) = l.find("POS ").and_then(|at| l[at + 4..].parse::<usize>().ok()) {
                positions.push(p);
            }
        }
    }
    // The kills landed while the sink was working.
    assert!(positions.iter().any(|p| *p > 0 && *p < N), "no kill landed mid-sink: {positions:?}");
    let engine = Engine::open(&d).unwrap();
    engine.await_stream("sk", Duration::from_secs(30)).unwrap();
    let recs = read_all(&engine, "in");
    assert_eq!(recs.len(), N);
    let mut want: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for r in &recs {
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        want.entry(r.key.clone().unwrap()).or_default().push(v["cf:v"].as_str().unwrap().as_bytes().to_vec());
    }
    let t = engine.table("sinked").unwrap();
    for (row, vals) in &want {
        let got = t.get(Get::new(row.clone()).column("cf", "v").max_versions(100_000)).unwrap();
        let mut got: Vec<Vec<u8>> = got.versions("cf", "v").iter().map(|c| c.value.clone()).collect();
        got.reverse(); // oldest first, like the topic
        assert_eq!(&got, vals, "row {:?}: versions differ from the topic (lost or applied twice)", String::from_utf8_lossy(row));
    }
    engine.close().unwrap();
}
