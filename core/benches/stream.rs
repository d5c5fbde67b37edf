//! Change-stream benchmark: change throughput (table mutation to durable topic record), the
//! same for atomic multi-row batches (one record batch each when in one partition, else a
//! transaction shared by a relay chunk), and change-to-consumer
//! latency (put issued to record polled by a read_committed consumer) under a steady load, next
//! to a plain topic's latency in the same run (send issued to record polled, `acks=1`, the
//! relay's own setting). Run: `cargo bench -p kabase --bench stream` (`-- --quick` for a short
//! run).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kabase::stream::{ChangeRecord, StreamSpec};
use kabase::{ConsumerConfig, Engine, FamilyDescriptor, Mutation, ProducerConfig, ProducerRecord, Put, TableDescriptor, TopicPartition};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn throughput(writers: usize, per_writer: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine.create_table(TableDescriptor::new("tp").family(FamilyDescriptor::new("cf"))).unwrap();
    engine.stream_table_to_topic(StreamSpec::new("tp-s", "tp")).unwrap();
    let start = Instant::now();
    let hs: Vec<_> = (0..writers)
        .map(|w| {
            let t = engine.table("tp").unwrap();
            std::thread::spawn(move || {
                for i in 0..per_writer {
                    t.put(Put::new(format!("w{w}-r{}", i % 1000)).add("cf", "v", format!("value-{i:08}"))).unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let written = start.elapsed();
    engine.await_stream("tp-s", Duration::from_secs(600)).unwrap();
    let total = start.elapsed();
    let n = (writers * per_writer) as f64;
    println!(
        "throughput: {} changes by {writers} writer(s): puts {:.0}/s; durable in the topic {:.0}/s end to end ({:.2} s)",
        n as u64,
        n / written.as_secs_f64(),
        n / total.as_secs_f64(),
        total.as_secs_f64()
    );
    engine.close().unwrap();
}

fn atomic_throughput(batches: usize, rows: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine.create_table(TableDescriptor::new("ab").family(FamilyDescriptor::new("cf"))).unwrap();
    engine.stream_table_to_topic(StreamSpec::new("ab-s", "ab")).unwrap();
    let t = engine.table("ab").unwrap();
    let start = Instant::now();
    for b in 0..batches {
        let muts: Vec<Mutation> = (0..rows).map(|r| Put::new(format!("b{}-r{r}", b % 1000)).add("cf", "v", format!("value-{b:08}")).into()).collect();
        for r in t.batch(muts).unwrap() {
            r.unwrap();
        }
    }
    let written = start.elapsed();
    engine.await_stream("ab-s", Duration::from_secs(600)).unwrap();
    let total = start.elapsed();
    println!(
        "atomic batches: {batches} batches of {rows} rows by 1 writer: batches {:.0}/s written; durable in the topic {:.0} batches/s ({:.0} changes/s) end to end ({:.2} s)",
        batches as f64 / written.as_secs_f64(),
        batches as f64 / total.as_secs_f64(),
        (batches * rows) as f64 / total.as_secs_f64(),
        total.as_secs_f64()
    );
    engine.close().unwrap();
}

/// Poll `count` records of partition 0 of `topic` whose value is the send time (ns since
/// `epoch`, or a change record carrying it); returns the latencies in ms.
fn collect(engine: &Engine, topic: &str, count: usize, epoch: Instant, done: Arc<AtomicBool>, change: bool) -> std::thread::JoinHandle<Vec<f64>> {
    let engine = engine.clone();
    let topic = topic.to_string();
    std::thread::spawn(move || {
        let mut c = engine.consumer(ConsumerConfig::default().set("isolation.level", "read_committed").unwrap()).unwrap();
        let tp = TopicPartition::new(topic, 0);
        c.assign(std::slice::from_ref(&tp)).unwrap();
        c.seek_to_beginning(std::slice::from_ref(&tp)).unwrap();
        let mut lat = Vec::with_capacity(count);
        while lat.len() < count && !done.load(Ordering::Acquire) {
            for r in c.poll(Duration::from_millis(50)).unwrap() {
                let now = epoch.elapsed().as_nanos() as f64;
                let raw = if change { ChangeRecord::from_json(r.value.as_deref().unwrap()).unwrap().cells[0].value.clone() } else { r.value.clone().unwrap() };
                let sent: f64 = String::from_utf8(raw).unwrap().parse().unwrap();
                lat.push((now - sent) / 1e6);
            }
        }
        lat
    })
}

fn report(what: &str, rate_per_s: u64, consumer: std::thread::JoinHandle<Vec<f64>>, done: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !consumer.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    done.store(true, Ordering::Release);
    let mut lat = consumer.join().unwrap();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    println!(
        "{what} at {rate_per_s}/s ({} records): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
}

/// A plain topic in the same conditions: a producer (`acks=1`, `linger.ms=0`) sends at the
/// rate; latency is send issued to record polled by a read_committed consumer.
fn plain_latency(rate_per_s: u64, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine.create_topic(kabase::NewTopic::new("plain", 1)).unwrap();
    let epoch = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let consumer = collect(&engine, "plain", count, epoch, Arc::clone(&done), false);
    let p = engine.producer(ProducerConfig::default().set("acks", "1").unwrap().set("linger.ms", "0").unwrap()).unwrap();
    let gap = Duration::from_nanos(1_000_000_000 / rate_per_s);
    let mut next = Instant::now();
    for i in 0..count {
        while Instant::now() < next {
            std::thread::sleep(Duration::from_micros(50));
        }
        next += gap;
        let sent = epoch.elapsed().as_nanos();
        p.send(ProducerRecord::new("plain", sent.to_string()).key(format!("r{}", i % 500)).partition(0)).unwrap();
    }
    p.flush().unwrap();
    report("plain topic latency (send issued to record polled, read_committed)", rate_per_s, consumer, &done);
    p.close().unwrap();
    engine.close().unwrap();
}

fn latency(rate_per_s: u64, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    engine.create_table(TableDescriptor::new("lat").family(FamilyDescriptor::new("cf"))).unwrap();
    engine.stream_table_to_topic(StreamSpec::new("lat-s", "lat").topic("lat").partitions(1)).unwrap();
    let epoch = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let consumer = collect(&engine, "lat", count, epoch, Arc::clone(&done), true);
    let t = engine.table("lat").unwrap();
    let mut puts = Vec::with_capacity(count);
    let gap = Duration::from_nanos(1_000_000_000 / rate_per_s);
    let mut next = Instant::now();
    for i in 0..count {
        while Instant::now() < next {
            std::thread::sleep(Duration::from_micros(50));
        }
        next += gap;
        // The moment the put is issued; the latency includes the put itself.
        let sent = epoch.elapsed().as_nanos();
        t.put(Put::new(format!("r{}", i % 500)).add("cf", "v", sent.to_string())).unwrap();
        puts.push((epoch.elapsed().as_nanos() - sent) as f64 / 1e6);
    }
    puts.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    println!("  of which the put itself: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms", percentile(&puts, 0.5), percentile(&puts, 0.99), puts.last().copied().unwrap_or(f64::NAN));
    report("change latency (put issued to record polled, read_committed)", rate_per_s, consumer, &done);
    engine.close().unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--quick") {
        throughput(2, 2_000);
        atomic_throughput(200, 4);
        latency(500, 1_000);
        plain_latency(500, 1_000);
    } else {
        throughput(1, 20_000);
        throughput(4, 10_000);
        atomic_throughput(2_000, 4);
        latency(1_000, 5_000);
        plain_latency(1_000, 5_000);
        latency(5_000, 10_000);
        plain_latency(5_000, 10_000);
    }
}
