//! `kabase._native._bench`: the Python benchmark's workloads run through the Rust core alone, in
//! the same process and run, so `python/bench/bench.py` can print Python/Rust ratios. Not a
//! public API (the leading underscore); it only measures.

use std::time::{Duration, Instant};

use kabase::log::{ConsumerConfig, ProducerConfig, ProducerRecord, TopicPartition};
use kabase::table::{Durability, FamilyDescriptor, Get, Mutation, Put, Scan, TableDescriptor};
use kabase::{Engine, Error};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::engine::PyEngine;
use crate::error::IntoPyResult;

type Results = Vec<(&'static str, u64, f64)>;

fn run(e: &Engine, n: usize, size: usize, linger_ms: u64, chunk: usize, prefix: &str) -> Result<Results, Error> {
    let mut out: Results = Vec::new();
    let value = vec![b'x'; size];
    let cfg = ProducerConfig::default().set("acks", "1")?.set("linger.ms", &linger_ms.to_string())?.set("batch.size", "1048576")?;
    let p = e.producer(cfg)?;
    let loop_topic = format!("{prefix}-loop");
    p.send(ProducerRecord::new(loop_topic.clone(), value.clone()))?.get()?;

    // produce: one send per record, keeping every future (as the Python loop does)
    let t0 = Instant::now();
    let mut futs = Vec::with_capacity(n);
    for _ in 0..n {
        futs.push(p.send(ProducerRecord::new(loop_topic.clone(), value.clone()))?);
    }
    p.flush()?;
    out.push(("produce (send loop)", n as u64, t0.elapsed().as_secs_f64()));
    drop(futs);

    // produce: batches of `chunk` records handed over at once
    let batch_topic = format!("{prefix}-batch");
    let t0 = Instant::now();
    let mut sent = 0usize;
    for _ in 0..n / chunk {
        let recs: Vec<ProducerRecord> = (0..chunk).map(|_| ProducerRecord::new(batch_topic.clone(), value.clone())).collect();
        let futs: Vec<_> = recs.into_iter().map(|r| p.send(r)).collect::<Result<_, _>>()?;
        sent += futs.len();
    }
    p.flush()?;
    out.push(("produce (send_batch)", sent as u64, t0.elapsed().as_secs_f64()));
    p.close()?;

    // consume: the whole loop topic, `chunk`-record polls
    let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest")?.set("max.poll.records", &chunk.to_string())?)?;
    c.assign(&[TopicPartition::new(loop_topic.clone(), 0)])?;
    let t0 = Instant::now();
    let mut got = 0usize;
    while got < n + 1 {
        let recs = c.poll(Duration::from_millis(100))?;
        if recs.is_empty() {
            break;
        }
        got += recs.len();
    }
    out.push(("consume (poll batches)", got as u64, t0.elapsed().as_secs_f64()));
    c.close()?;

    // tables: batched puts without the WAL, single gets, 1,000-row multi-gets, a scan
    let table = format!("{prefix}-table");
    e.create_table(TableDescriptor::new(table.as_str()).family(FamilyDescriptor::new("cf").versions(1)))?;
    let t = e.table(&table)?;
    let keys: Vec<Vec<u8>> = (0..n).map(|i| format!("row{i:09}").into_bytes()).collect();
    let t0 = Instant::now();
    for ks in keys.chunks(5000) {
        let muts: Vec<Mutation> = ks.iter().map(|k| Mutation::Put(Put::new(k.clone()).add("cf", "v", value.clone()).durability(Durability::SkipWal))).collect();
        for r in t.batch(muts)? {
            r?;
        }
    }
    out.push(("put (batch, 5000/send)", n as u64, t0.elapsed().as_secs_f64()));
    let m = n.min(50_000);
    let t0 = Instant::now();
    for k in &keys[..m] {
        t.get(Get::new(k.clone()))?;
    }
    out.push(("get (one row per call)", m as u64, t0.elapsed().as_secs_f64()));
    let t0 = Instant::now();
    for ks in keys[..m].chunks(1000) {
        t.get_many(ks.iter().map(|k| Get::new(k.clone())).collect())?;
    }
    out.push(("get (rows, 1000 per call)", m as u64, t0.elapsed().as_secs_f64()));
    let t0 = Instant::now();
    let mut cnt = 0u64;
    for r in t.scan(Scan::new().caching(5000))? {
        r?;
        cnt += 1;
    }
    out.push(("scan", cnt, t0.elapsed().as_secs_f64()));
    Ok(out)
}

/// Run the bench workloads through the core: `{name: (records, seconds)}`.
#[pyfunction]
#[pyo3(signature = (engine, records, value_size=100, linger_ms=5, chunk=10_000, prefix="rust"))]
pub fn _bench<'py>(py: Python<'py>, engine: &PyEngine, records: usize, value_size: usize, linger_ms: u64, chunk: usize, prefix: &str) -> PyResult<Bound<'py, PyDict>> {
    if records == 0 || chunk == 0 {
        return Err(crate::error::new_err(kabase::ErrorCode::InvalidArgument, "records and chunk must be at least 1"));
    }
    let e = engine.core()?;
    let prefix = prefix.to_string();
    let res = py.detach(move || run(&e, records, value_size, linger_ms, chunk, &prefix)).py()?;
    let d = PyDict::new(py);
    for (name, n, secs) in res {
        d.set_item(name, (n, secs))?;
    }
    Ok(d)
}
