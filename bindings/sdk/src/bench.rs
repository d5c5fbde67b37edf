//! The bindings' benchmark workloads run through the Rust core alone, so a binding's bench can
//! print its own figures beside the core's from the same process and run (the ratio is what the
//! binding costs). It only measures; nothing here is used by the data path.

use std::time::{Duration, Instant};

use kabase::log::{ConsumerConfig, ProducerConfig, ProducerRecord, TopicPartition};
use kabase::table::{Durability, FamilyDescriptor, Get, Mutation, Put, RowResult, Scan, TableDescriptor};
use kabase::{Error, Result};

use crate::Engine;

/// Run the workloads through the core alone on `engine` (topics and a table named after
/// `prefix`): `(workload, records, seconds)` per workload, in order. `records` and `chunk` must
/// be at least 1.
pub fn core_workloads(engine: &Engine, records: usize, value_size: usize, linger_ms: u64, chunk: usize, prefix: &str) -> Result<Vec<(&'static str, u64, f64)>> {
    if records == 0 || chunk == 0 {
        return Err(Error::invalid("records and chunk must be at least 1"));
    }
    let (e, n, size) = (&engine.core, records, value_size);
    let mut out = Vec::new();
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
        let futs: Vec<_> = recs.into_iter().map(|r| p.send(r)).collect::<Result<_>>()?;
        sent += futs.len();
    }
    p.flush()?;
    out.push(("produce (send_batch)", sent as u64, t0.elapsed().as_secs_f64()));
    p.close()?;

    // consume: the whole loop topic, `chunk`-record polls, reading every record's value (the
    // Python twin sums the values' lengths too, so a lazily made value cannot flatter it)
    let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest")?.set("max.poll.records", &chunk.to_string())?)?;
    c.assign(&[TopicPartition::new(loop_topic.clone(), 0)])?;
    let t0 = Instant::now();
    let mut got = 0usize;
    let mut value_bytes = 0usize;
    while got < n + 1 {
        let recs = c.poll(Duration::from_millis(100))?;
        if recs.is_empty() {
            break;
        }
        got += recs.len();
        value_bytes += recs.iter().map(|r| std::hint::black_box(r.value.as_deref()).map_or(0, <[u8]>::len)).sum::<usize>();
    }
    let secs = t0.elapsed().as_secs_f64();
    if value_bytes != got * size {
        return Err(Error::invalid(format!("consumed {value_bytes} value bytes in {got} records of {size}")));
    }
    out.push(("consume (poll batches)", got as u64, secs));
    c.close()?;

    // tables: batched puts without the WAL, single puts, single gets, 1,000-row multi-gets, a scan
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
    // one put per call over the first rows again, as the Python bench does before its reads:
    // the scan below then reads the same table shape (a second version of those rows)
    let m = n.min(50_000);
    let t0 = Instant::now();
    for k in &keys[..m] {
        t.put(Put::new(k.clone()).add("cf", "v", value.clone()))?;
    }
    out.push(("put (one per call)", m as u64, t0.elapsed().as_secs_f64()));
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
    // through `next_into`, reusing one row's buffers: the path the bindings' scans take
    // (`RowStream::refill`), and the core's fastest (the allocating iterator is ~25% slower)
    let mut scanner = t.scan(Scan::new().caching(5000))?;
    let mut row = RowResult::default();
    let mut cnt = 0u64;
    while scanner.next_into(&mut row)? {
        cnt += 1;
    }
    out.push(("scan", cnt, t0.elapsed().as_secs_f64()));
    Ok(out)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_runs_and_counts_its_records() {
        let e = Engine::open_in_memory().unwrap();
        let res = core_workloads(&e, 300, 10, 0, 100, "t").unwrap();
        let names: Vec<&str> = res.iter().map(|r| r.0).collect();
        assert_eq!(names.len(), 8, "{names:?}");
        let count = |n: &str| res.iter().find(|r| r.0 == n).map(|r| r.1);
        assert_eq!(count("produce (send loop)"), Some(300));
        assert_eq!(count("produce (send_batch)"), Some(300));
        assert_eq!(count("consume (poll batches)"), Some(301), "the warm-up record is consumed too");
        assert_eq!(count("put (one per call)"), Some(300));
        assert_eq!(count("scan"), Some(300));
        assert!(res.iter().all(|r| r.2 >= 0.0));
        assert_eq!(core_workloads(&e, 0, 10, 0, 1, "z").unwrap_err().code(), kabase::ErrorCode::InvalidArgument);
    }
}
