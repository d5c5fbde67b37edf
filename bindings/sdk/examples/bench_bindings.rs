//! The Rust side of `scripts/bench-bindings.sh`: the same workload as `bindings/c/bench/bench.c`
//! and `node/bench/bench.js`, through the facade, so each binding's overhead is a ratio.
//!
//! `cargo run --release -p kabase-sdk --example bench_bindings -- <records> <rows>` prints
//! `<metric> <count> <seconds>` lines: produce and consume `records` 100-byte records (batches of
//! 1000), put and get `rows` rows (one 100-byte column each).

use std::time::Instant;

use kabase_sdk::{ColumnValue, Engine, OutgoingBatch, OutgoingRecord};

const BATCH: usize = 1000;

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() -> kabase_sdk::Result<()> {
    let records = arg(1, 1_000_000);
    let rows = arg(2, 100_000);
    let engine = Engine::open_in_memory()?;
    engine.create_topic("bench", 1)?;
    let producer = engine.producer(&[])?;
    let value = vec![b'x'; 100];

    let t = Instant::now();
    let mut sent = 0;
    while sent < records {
        let n = BATCH.min(records - sent);
        let batch = OutgoingBatch { topic: "bench".into(), records: (0..n).map(|_| OutgoingRecord::value(value.clone())).collect() };
        producer.send_batch(&batch)?;
        sent += n;
    }
    println!("produce {records} {:.6}", t.elapsed().as_secs_f64());

    let consumer = engine.consumer(None, &[])?;
    consumer.subscribe(&["bench".to_string()], true)?;
    let t = Instant::now();
    let mut got = 0;
    let mut bytes = 0usize;
    while got < records {
        let b = consumer.poll(BATCH, 1000)?;
        if b.is_empty() {
            return Err(kabase_sdk::Error::invalid(format!("consumed only {got} of {records} records")));
        }
        got += b.len();
        bytes += b.records.iter().map(|r| r.value.as_ref().map_or(0, Vec::len)).sum::<usize>();
    }
    println!("consume {records} {:.6}", t.elapsed().as_secs_f64());
    assert_eq!(bytes, records * 100);

    engine.create_table("bench", &["cf"])?;
    let table = engine.table("bench")?;
    let t = Instant::now();
    for i in 0..rows {
        table.put(format!("r{i:08}").as_bytes(), &[ColumnValue::new("cf", "v", value.clone())])?;
    }
    println!("put {rows} {:.6}", t.elapsed().as_secs_f64());
    let t = Instant::now();
    for i in 0..rows {
        let row = table.get(format!("r{i:08}").as_bytes())?;
        assert!(row.is_some_and(|r| r.cells.len() == 1), "row {i} missing");
    }
    println!("get {rows} {:.6}", t.elapsed().as_secs_f64());
    consumer.close()?;
    producer.close()?;
    engine.close()
}
