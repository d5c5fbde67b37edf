//! kill -9 test: a child process writes rows and reports each acknowledged write; the parent
//! kills it (SIGKILL) at a random moment, reopens the directory and checks that every
//! acknowledged write is there and that no row is torn.
//!
//! The child is this same test binary, re-executed with `KABASE_KILL9_CHILD=<dir>`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use kabase::{Durability, Engine, FamilyDescriptor, Get, Mutation, Put, Scan, TableDescriptor};

const COLS: usize = 6;
const CHILD_ENV: &str = "KABASE_KILL9_CHILD";

fn row_put(i: u64, durability: Durability) -> Put {
    let mut p = Put::new(format!("row{i:08}")).durability(durability);
    for c in 0..COLS {
        let fam = if c % 2 == 0 { "a" } else { "b" };
        p = p.add(fam, format!("c{c}"), format!("v{i}"));
    }
    p
}

fn child(dir: &str) {
    let engine = Engine::open(dir).unwrap();
    if !engine.table_exists("k9").unwrap() {
        engine.create_table(TableDescriptor::new("k9").family(FamilyDescriptor::new("a")).family(FamilyDescriptor::new("b"))).unwrap();
    }
    let t = engine.table("k9").unwrap();
    let start: u64 = std::env::var("KABASE_KILL9_START").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let out = std::io::stdout();
    let mut i = start;
    loop {
        if i % 10 == 0 {
            // A batch of three rows (committed in one LSM batch).
            let ms: Vec<Mutation> = (i..i + 3).map(|j| row_put(j, Durability::UseDefault).into()).collect();
            for r in t.batch(ms).unwrap() {
                r.unwrap();
            }
            let mut o = out.lock();
            for j in i..i + 3 {
                writeln!(o, "ack {j}").unwrap();
            }
            o.flush().unwrap();
            i += 3;
        } else {
            let d = if i % 7 == 0 { Durability::FsyncWal } else { Durability::SyncWal };
            t.put(row_put(i, d)).unwrap();
            let mut o = out.lock();
            writeln!(o, "ack {i}").unwrap();
            o.flush().unwrap();
            i += 1;
        }
    }
}

fn run_round(dir: &std::path::Path, start: u64, kill_after_ms: u64) -> Vec<u64> {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe)
        .args(["kill9_acknowledged_writes_survive", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env("KABASE_KILL9_START", start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = c.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ack ") {
                if let Ok(n) = n.trim().parse::<u64>() {
                    acked.push(n);
                }
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(kill_after_ms));
    c.kill().unwrap(); // SIGKILL
    c.wait().unwrap();
    reader.join().unwrap()
}

fn verify(dir: &std::path::Path, acked: &[u64]) -> u64 {
    let engine = Engine::open(dir).unwrap();
    if !engine.table_exists("k9").unwrap() {
        // Killed before it created the table (a slow start on a loaded machine): then it cannot
        // have acknowledged anything.
        assert!(acked.is_empty(), "acknowledged writes but the table does not exist");
        engine.close().unwrap();
        return 0;
    }
    let t = engine.table("k9").unwrap();
    for &i in acked {
        let r = t.get(Get::new(format!("row{i:08}"))).unwrap();
        assert_eq!(r.cells.len(), COLS, "acknowledged row {i} is missing or torn: {:?}", r.cells);
    }
    let mut max = 0;
    let mut n = 0;
    for r in t.scan(Scan::new()).unwrap() {
        let r = r.unwrap();
        assert_eq!(r.cells.len(), COLS, "torn row {:?}", String::from_utf8_lossy(&r.row));
        let v = &r.cells[0].value;
        assert!(r.cells.iter().all(|c| &c.value == v), "torn row {:?}", String::from_utf8_lossy(&r.row));
        let i: u64 = String::from_utf8_lossy(&r.row[3..]).parse().unwrap();
        max = max.max(i);
        n += 1;
    }
    assert!(n >= acked.len());
    engine.close().unwrap();
    max + 1
}

#[test]
fn kill9_acknowledged_writes_survive() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut start = 0;
    let mut total = 0;
    for round in 0..3 {
        let wait = 300 + rand::random_range(0..700u64);
        let acked = run_round(dir.path(), start, wait);
        total += acked.len();
        start = verify(dir.path(), &acked) + 10;
        eprintln!("round {round}: killed after {wait} ms, {} acknowledged writes verified", acked.len());
    }
    assert!(total > 0, "the child acknowledged nothing");
}
