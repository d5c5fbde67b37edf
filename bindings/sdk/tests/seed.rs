//! The shared scenario (docs/scenario.md) through the Rust facade; its transcript must equal
//! docs/scenario/seed.txt.

use std::fmt::Write as _;

use kabase_sdk::{ColumnValue, Engine, OutgoingRecord, Row, ScanOptions};

fn cells(row: &Row) -> String {
    row.cells
        .iter()
        .map(|c| format!("{}:{}={}", String::from_utf8_lossy(&c.family), String::from_utf8_lossy(&c.qualifier), String::from_utf8_lossy(&c.value)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn seed(engine: &Engine) -> kabase_sdk::Result<String> {
    let mut out = String::new();
    engine.create_table("test", &["cf"])?;
    writeln!(out, "table test created (families: cf)").unwrap();
    let table = engine.table("test")?;
    for (row, name, age) in [("1", "Alice", "30"), ("2", "Bob", "28")] {
        let cols = [ColumnValue::parse(b"cf:name", name)?, ColumnValue::parse(b"cf:age", age)?];
        table.put(row.as_bytes(), &cols)?;
        writeln!(out, "put {row}: cf:name={name} cf:age={age}").unwrap();
    }
    let mut got = Vec::new();
    for row in ["1", "2"] {
        let r = table.get(row.as_bytes())?.expect("row exists");
        writeln!(out, "get {row}: {}", cells(&r)).unwrap();
        got.push((row, cells(&r)));
    }
    engine.create_topic("test_topic", 1)?;
    writeln!(out, "topic test_topic created (partitions: 1)").unwrap();
    let producer = engine.producer(&[])?;
    for (row, value) in &got {
        let rec = OutgoingRecord { key: Some(row.as_bytes().to_vec()), value: Some(value.as_bytes().to_vec()), ..Default::default() };
        let m = producer.send("test_topic", &rec)?;
        writeln!(out, "sent {row} -> {}/{}@{}", m.topic, m.partition, m.offset).unwrap();
    }
    let consumer = engine.consumer(Some("seed-group"), &[])?;
    consumer.subscribe(&["test_topic".to_string()], true)?;
    let mut records = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while records.len() < 2 && std::time::Instant::now() < deadline {
        records.extend(consumer.poll(100, 200)?.records);
    }
    for r in &records {
        let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned();
        let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        writeln!(out, "consumed {}/{}@{} key={key} value={value}", r.topic, r.partition, r.offset).unwrap();
    }
    consumer.commit()?;
    let committed = consumer.committed(&[("test_topic".to_string(), 0)])?;
    writeln!(out, "committed test_topic/0 -> {}", committed[0].unwrap_or(-1)).unwrap();
    for row in ["1", "2"] {
        table.delete(row.as_bytes())?;
        writeln!(out, "deleted {row}").unwrap();
    }
    for row in ["1", "2"] {
        assert!(table.get(row.as_bytes())?.is_none());
        writeln!(out, "get {row}: (none)").unwrap();
    }
    let n = table.scan(&ScanOptions::default())?.len();
    writeln!(out, "scan: {n} rows").unwrap();
    consumer.close()?;
    producer.close()?;
    engine.close()?;
    writeln!(out, "closed").unwrap();
    Ok(out)
}

#[test]
fn seed_flow_matches_the_shared_transcript() {
    let expected = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/scenario/seed.txt")).unwrap();
    let engine = Engine::open_in_memory().unwrap();
    let got = seed(&engine).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn seed_flow_on_disk_then_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let engine = Engine::open(path).unwrap();
    seed(&engine).unwrap();
    drop(engine);
    let engine = Engine::open(path).unwrap();
    // The table survives (empty after the deletes), the topic keeps its 2 records.
    assert!(engine.table_exists("test").unwrap());
    let c = engine.consumer(None, &[]).unwrap();
    c.subscribe(&["test_topic".to_string()], true).unwrap();
    let mut n = 0;
    for _ in 0..20 {
        n += c.poll(10, 100).unwrap().len();
        if n >= 2 {
            break;
        }
    }
    assert_eq!(n, 2);
    engine.close().unwrap();
}
