//! The Rust side of the UniFFI bench: the same workloads as
//! `bindings/uniffi/kotlin/src/main/kotlin/kabase/examples/Bench.kt`, called on the `kabase-sdk`
//! facade directly, so the Kotlin figures are a ratio against the facade in the same run
//! (`bindings/uniffi/bench.sh`; docs/benchmarks.md).
//!
//! `cargo run --release -p kabase-uniffi --example facade_bench -- [RECORDS] [OPS]`; prints one
//! line per workload: `<workload>\t<count>\t<seconds>`, after an unprinted warm-up round at a
//! tenth of the counts (as the Kotlin bench does for its JIT).

use std::time::Instant;

use kabase_sdk::{ColumnValue, Engine, OutgoingBatch, OutgoingRecord};

const SEND_BATCH: usize = 1000;

fn timed(report: bool, name: &str, count: usize, body: impl FnOnce() -> kabase_sdk::Result<()>) -> kabase_sdk::Result<()> {
    let start = Instant::now();
    body()?;
    if report {
        println!("{name}\t{count}\t{:.6}", start.elapsed().as_secs_f64());
    }
    Ok(())
}

fn missing() -> kabase_sdk::Error {
    kabase_sdk::Error::new(kabase_sdk::ErrorCode::Internal, "row missing")
}

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() -> kabase_sdk::Result<()> {
    let records = arg(1, 100_000);
    let ops = arg(2, 10_000);
    round((records / 10).max(1), (ops / 10).max(1), false)?;
    round(records, ops, true)
}

/// One round of every workload on a fresh in-memory engine.
fn round(records: usize, ops: usize, report: bool) -> kabase_sdk::Result<()> {
    let value: Vec<u8> = (0..100).map(|i| (i % 251) as u8).collect();
    let engine = Engine::open_in_memory()?;
    engine.create_topic("bench", 1)?;
    let producer = engine.producer(&[])?;
    let batch = OutgoingBatch { topic: "bench".into(), records: vec![OutgoingRecord::value(value.clone()); SEND_BATCH] };
    timed(report, "produce_100B_batch1000", records, || {
        let mut sent = 0;
        while sent < records {
            let n = SEND_BATCH.min(records - sent);
            if n == SEND_BATCH {
                producer.send_batch(&batch)?;
            } else {
                producer.send_batch(&OutgoingBatch { topic: batch.topic.clone(), records: batch.records[..n].to_vec() })?;
            }
            sent += n;
        }
        Ok(())
    })?;
    producer.close()?;
    let consumer = engine.consumer(None, &[("max.poll.records".into(), "10000".into())])?;
    consumer.subscribe(&["bench".to_string()], true)?;
    timed(report, "consume_100B_poll10000", records, || {
        let mut got = 0;
        while got < records {
            let n = consumer.poll(10_000, 1_000)?.len();
            if n == 0 {
                return Err(kabase_sdk::Error::new(kabase_sdk::ErrorCode::Timeout, format!("no record within 1 s after {got}")));
            }
            got += n;
        }
        Ok(())
    })?;
    consumer.close()?;
    engine.create_table("bench", &["cf"])?;
    let table = engine.table("bench")?;
    let keys: Vec<Vec<u8>> = (0..ops).map(|i| format!("row{i:08}").into_bytes()).collect();
    timed(report, "put_100B_single", ops, || {
        for k in &keys {
            table.put(k, &[ColumnValue::new(&b"cf"[..], &b"q"[..], value.clone())])?;
        }
        Ok(())
    })?;
    timed(report, "get_single", ops, || {
        for k in &keys {
            if table.get(k)?.is_none() {
                return Err(missing());
            }
        }
        Ok(())
    })?;
    let mutations: Vec<(Vec<u8>, Vec<ColumnValue>)> =
        keys.iter().map(|k| (k.clone(), vec![ColumnValue::new(&b"cf"[..], &b"q"[..], value.clone())])).collect();
    timed(report, "put_100B_many1000", ops, || {
        for chunk in mutations.chunks(SEND_BATCH) {
            table.put_many(chunk)?;
        }
        Ok(())
    })?;
    // The facade's multi-get, which the binding's getMany calls once per chunk.
    timed(report, "get_many1000", ops, || {
        for chunk in keys.chunks(SEND_BATCH) {
            if table.get_many(chunk)?.iter().any(Option::is_none) {
                return Err(missing());
            }
        }
        Ok(())
    })?;
    engine.close()
}
