//! Topic benchmark (not a test): produce 100-byte and 1 KiB records with acks=1 and acks=all
//! from one and four producer threads (four with a producer each, and four sharing one
//! producer), consume from the page cache, and compare with plain
//! sequential `write` calls of the same bytes to one file (this machine's limit).
//!
//! Run: `cargo bench -p kabase --bench log` (set `KABASE_BENCH_SCALE=0.2` for a quick run).
//! `KABASE_BENCH_REPEAT=<n>` runs each produce case n times, each against a plain write of the
//! same bytes made right after it, the two variants of a group in alternating order, and ends
//! with each case's median ratio.
//! `KABASE_BENCH_PACE_NS=<ns>` (diagnostic) paces each producing thread: its record `i` is sent
//! no earlier than `i * ns` after the case starts (a busy wait), so that a sender thread can keep
//! up with its caller; the case's name then says so.

use std::io::Write;
use std::time::{Duration, Instant};

use kabase::log::ProducerRecordRef;
use kabase::{ConsumerConfig, Engine, NewTopic, ProducerConfig, ProducerRecord, TopicPartition};

struct Run {
    name: String,
    records: u64,
    bytes: u64,
    secs: f64,
    lat_us: Vec<f64>,
    /// Produce cases (Linux): (process CPU ms, CPU ms of the threads calling `send`, minor
    /// page faults) over the case, from `/proc`.
    cpu: Option<(f64, f64, u64)>,
    /// Produce cases (Unix): context switches over the case, voluntary and involuntary, of the
    /// threads calling `send` and of the whole process (`getrusage`).
    switches: Option<(Switches, Switches)>,
}

/// Voluntary and involuntary context switches.
#[derive(Clone, Copy, Default)]
struct Switches {
    voluntary: i64,
    involuntary: i64,
}

/// Context switches of the calling thread (`RUSAGE_THREAD`, Linux only).
fn thread_switches() -> Option<Switches> {
    #[cfg(target_os = "linux")]
    {
        switches(libc::RUSAGE_THREAD)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Context switches of `who`: the calling thread (`RUSAGE_THREAD`) or the process, all threads
/// so far, ended ones included (`RUSAGE_SELF`).
fn switches(who: libc::c_int) -> Option<Switches> {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid rusage to fill.
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return None;
    }
    Some(Switches { voluntary: u.ru_nvcsw, involuntary: u.ru_nivcsw })
}

/// Process CPU time in ms (user + system, in clock ticks of 10 ms) and minor page faults, from
/// `/proc/self/stat` (Linux; `None` elsewhere).
fn process_cpu_and_faults() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name: state is field 3, minflt 10, utime 14, stime 15
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let minflt: u64 = f.get(7)?.parse().ok()?;
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((ticks as f64 * 10.0, minflt))
}

/// CPU time of the calling thread in ms, from `/proc/thread-self/schedstat` (nanoseconds).
fn thread_cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split(' ').next()?.parse::<f64>().ok()? / 1e6)
}

impl Run {
    fn print(&self, plain_mbs: f64) {
        let mut l = self.lat_us.clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let pct = |p: f64| if l.is_empty() { f64::NAN } else { l[((l.len() as f64 - 1.0) * p) as usize] };
        let mbs = self.bytes as f64 / self.secs / 1e6;
        println!(
            "{:<34} {:>12.0} rec/s {:>9.1} MB/s  p50 {:>9.1} us  p99 {:>9.1} us  ratio-to-plain-write {:.2}",
            self.name,
            self.records as f64 / self.secs,
            mbs,
            pct(0.50),
            pct(0.99),
            mbs / plain_mbs
        );
        if let Some((all, callers, faults)) = self.cpu {
            println!("{:<34} cpu {all:.0} ms: threads calling send {callers:.0} ms, the rest (senders, engine) {:.0} ms; {faults} minor faults", "", all - callers);
        }
        if let Some((callers, all)) = self.switches {
            println!(
                "{:<34} context switches (voluntary/involuntary): threads calling send {}/{}, the rest {}/{}",
                "",
                callers.voluntary,
                callers.involuntary,
                all.voluntary - callers.voluntary,
                all.involuntary - callers.involuntary
            );
        }
    }
}

/// `borrowed`: send with `Producer::send_ref` from one buffer instead of building an owned
/// `ProducerRecord` (topic `String` and value `Vec` per record) for `Producer::send`.
/// `shared`: the threads send through one producer (one sender thread), as a Kafka application
/// usually shares one `KafkaProducer` between its threads, instead of one producer each.
fn produce(dir: &std::path::Path, size: usize, acks: &'static str, threads: usize, per_thread: u64, borrowed: bool, shared: bool) -> Run {
    let e = Engine::open(dir).unwrap();
    let topic = format!("b{size}-{acks}-{threads}{}{}", if borrowed { "-ref" } else { "" }, if shared { "-shared" } else { "" });
    e.create_topic(NewTopic::new(topic.clone(), threads as u32)).unwrap();
    let new_producer = move |e: &Engine| {
        let cfg = ProducerConfig::default().set("acks", acks).unwrap().set("batch.size", "65536").unwrap().set("linger.ms", "1").unwrap();
        let cfg = match std::env::var("KABASE_BENCH_BUFFER_MEMORY") {
            Ok(v) => cfg.set("buffer.memory", &v).unwrap(),
            Err(_) => cfg,
        };
        std::sync::Arc::new(e.producer(cfg).unwrap())
    };
    let common = shared.then(|| new_producer(&e));
    let pace_ns: Option<u64> = std::env::var("KABASE_BENCH_PACE_NS").ok().and_then(|v| v.parse().ok());
    let before = process_cpu_and_faults();
    let switches_before = switches(libc::RUSAGE_SELF);
    let start = Instant::now();
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let e = e.clone();
            let topic = topic.clone();
            let common = common.clone();
            std::thread::spawn(move || {
                let switches0 = thread_switches();
                let p = common.unwrap_or_else(|| new_producer(&e));
                let value = vec![b'x'; size];
                let mut lat = Vec::new();
                let mut pending: std::collections::VecDeque<(Instant, kabase::SendFuture)> = std::collections::VecDeque::new();
                for i in 0..per_thread {
                    if let Some(ns) = pace_ns {
                        let due = start + Duration::from_nanos(i * ns);
                        while Instant::now() < due {
                            std::hint::spin_loop();
                        }
                    }
                    let f = if borrowed {
                        p.send_ref(ProducerRecordRef::new(&topic, &value).partition(t as u32)).unwrap()
                    } else {
                        p.send(ProducerRecord::new(topic.clone(), value.clone()).partition(t as u32)).unwrap()
                    };
                    if i % 64 == 0 {
                        pending.push_back((Instant::now(), f));
                    }
                    while pending.front().is_some_and(|(_, f)| f.is_done()) {
                        let (t0, f) = pending.pop_front().unwrap();
                        f.get().unwrap();
                        lat.push(t0.elapsed().as_secs_f64() * 1e6);
                    }
                }
                for (t0, f) in pending {
                    f.get().unwrap();
                    lat.push(t0.elapsed().as_secs_f64() * 1e6);
                }
                if !shared {
                    p.close().unwrap();
                }
                let own = match (switches0, thread_switches()) {
                    (Some(a), Some(b)) => Some(Switches { voluntary: b.voluntary - a.voluntary, involuntary: b.involuntary - a.involuntary }),
                    _ => None,
                };
                (lat, thread_cpu_ms(), own)
            })
        })
        .collect();
    let mut lat_us = Vec::new();
    let mut callers = Some(0.0);
    let mut caller_switches = Some(Switches::default());
    for h in hs {
        let (lat, cpu, sw) = h.join().unwrap();
        lat_us.extend(lat);
        callers = callers.zip(cpu).map(|(a, b)| a + b);
        caller_switches = caller_switches.zip(sw).map(|(a, b)| Switches { voluntary: a.voluntary + b.voluntary, involuntary: a.involuntary + b.involuntary });
    }
    if let Some(p) = common {
        p.close().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (before, process_cpu_and_faults(), callers) {
        (Some((c0, f0)), Some((c1, f1)), Some(callers)) => Some((c1 - c0, callers, f1 - f0)),
        _ => None,
    };
    let switches = match (switches_before, switches(libc::RUSAGE_SELF), caller_switches) {
        (Some(a), Some(b), Some(c)) => Some((c, Switches { voluntary: b.voluntary - a.voluntary, involuntary: b.involuntary - a.involuntary })),
        _ => None,
    };
    e.close().unwrap();
    let records = per_thread * threads as u64;
    let how = match (threads, shared) {
        (1, _) => "",
        (_, false) => " producer each",
        (_, true) => " one producer",
    };
    let paced = pace_ns.map_or(String::new(), |ns| format!(" paced {ns} ns"));
    Run { name: format!("produce {size}B acks={acks} threads={threads}{how}{}{paced}", if borrowed { " send_ref" } else { "" }), records, bytes: records * size as u64, secs, lat_us, cpu, switches }
}

/// Read the 1-thread acks=1 topic back three times from the page cache: owned records
/// (`Consumer::poll`), borrowed views (`Consumer::poll_for_each`), and owned records refilled
/// in one reused vector (`Consumer::poll_into`).
fn consume(dir: &std::path::Path, topic: &str, size: usize) -> (Run, Run, Run) {
    let e = Engine::open(dir).unwrap();
    let mut c = e.consumer(ConsumerConfig::default().set("auto.offset.reset", "earliest").unwrap().set("max.poll.records", "10000").unwrap()).unwrap();
    let tp = [TopicPartition::new(topic, 0)];
    c.assign(&tp).unwrap();
    // warm the page cache
    while !c.poll(Duration::from_millis(0)).unwrap().is_empty() {}
    c.seek_to_beginning(&tp).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    let mut payload = 0u64;
    loop {
        let r = c.poll(Duration::from_millis(0)).unwrap();
        if r.is_empty() {
            break;
        }
        n += r.len() as u64;
        payload += r.iter().map(|r| r.value.as_ref().map_or(0, Vec::len) as u64).sum::<u64>();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(payload, n * size as u64);
    let owned = Run { name: format!("consume {size}B from cache (poll)"), records: n, bytes: n * size as u64, secs, lat_us: Vec::new(), cpu: None, switches: None };
    c.seek_to_beginning(&tp).unwrap();
    let start = Instant::now();
    let mut m = 0u64;
    let mut payload = 0u64;
    loop {
        let got = c.poll_for_each(Duration::from_millis(0), |r| payload += r.value.map_or(0, <[u8]>::len) as u64).unwrap();
        if got == 0 {
            break;
        }
        m += got as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!((m, payload), (n, n * size as u64));
    let view = Run { name: format!("consume {size}B from cache (view)"), records: m, bytes: m * size as u64, secs, lat_us: Vec::new(), cpu: None, switches: None };
    c.seek_to_beginning(&tp).unwrap();
    let start = Instant::now();
    let mut k = 0u64;
    let mut payload = 0u64;
    let mut records = Vec::new();
    loop {
        let got = c.poll_into(Duration::from_millis(0), &mut records).unwrap();
        if got == 0 {
            break;
        }
        k += got as u64;
        payload += records.iter().map(|r| r.value.as_ref().map_or(0, Vec::len) as u64).sum::<u64>();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!((k, payload), (n, n * size as u64));
    e.close().unwrap();
    let reused = Run { name: format!("consume {size}B from cache (poll_into)"), records: k, bytes: k * size as u64, secs, lat_us: Vec::new(), cpu: None, switches: None };
    (owned, view, reused)
}

/// Sequential 64 KiB writes of `bytes` bytes; `sync_every` bytes → fdatasync.
fn plain_write(dir: &std::path::Path, bytes: u64, sync_every: Option<u64>) -> f64 {
    plain_write_from(dir, bytes, sync_every, 65536, 65536)
}

/// [`plain_write`] in writes of `chunk` bytes taken in turn from a source of `source_len`
/// bytes: 64 KiB is one chunk, hot in the CPU's cache; 64 MiB is larger than its caches, as
/// the producer's batches (fresh memory, up to `buffer.memory`) are. A `chunk` that is not a
/// multiple of the page size (a 1 KiB-record batch is ~63 KiB) makes every write start and
/// end inside a page.
fn plain_write_from(dir: &std::path::Path, bytes: u64, sync_every: Option<u64>, source_len: usize, chunk: usize) -> f64 {
    plain_write_with(dir, bytes, sync_every, source_len, chunk, false)
}

/// [`plain_write_from`], optionally allocating disk space ahead of the writes as the log's
/// segments do (`fallocate` with `FALLOC_FL_KEEP_SIZE` from `PREALLOCATE_FROM` bytes on, as much
/// again as the file holds, up to `PREALLOCATE_MAX`): a diagnostic baseline beside the plain
/// write, which is the target's.
fn plain_write_with(dir: &std::path::Path, bytes: u64, sync_every: Option<u64>, source_len: usize, chunk: usize, ahead: bool) -> f64 {
    use kabase::log::segment::{PREALLOCATE_FROM, PREALLOCATE_MAX};
    use std::os::fd::AsRawFd;
    let path = dir.join("plain.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let source: Vec<u8> = (0..source_len).map(|i| b'a' + (i % 26) as u8).collect();
    let chunks = source_len / chunk;
    let cpu0 = thread_cpu_ms();
    let start = Instant::now();
    let mut written = 0u64;
    let mut since_sync = 0u64;
    let mut allocated = 0u64;
    let mut i = 0usize;
    while written < bytes {
        let chunk = &source[(i % chunks) * chunk..][..chunk];
        i += 1;
        let end = written + chunk.len() as u64;
        if ahead && end >= PREALLOCATE_FROM && end > allocated {
            let to = end + end.min(PREALLOCATE_MAX);
            // SAFETY: a plain system call on an open descriptor.
            let r = unsafe { libc::fallocate(f.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, allocated.max(written) as libc::off_t, (to - allocated.max(written)) as libc::off_t) };
            assert_eq!(r, 0, "fallocate: {}", std::io::Error::last_os_error());
            allocated = to;
        }
        f.write_all(chunk).unwrap();
        written += chunk.len() as u64;
        since_sync += chunk.len() as u64;
        if let Some(s) = sync_every {
            if since_sync >= s {
                f.sync_data().unwrap();
                since_sync = 0;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let (Some(a), Some(b)) = (cpu0, thread_cpu_ms()) {
        PLAIN_CPU_MS.with(|c| c.set(b - a));
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    written as f64 / secs / 1e6
}

thread_local! {
    /// CPU time (ms) of the last [`plain_write_from`] on this thread.
    static PLAIN_CPU_MS: std::cell::Cell<f64> = const { std::cell::Cell::new(f64::NAN) };
}

/// Diagnostic beside the baseline: `writers` threads each write `bytes / writers` to a file of
/// their own at the same time, in 64 KiB `write` calls from a hot 64 KiB chunk (as four
/// producers write four partitions); aggregate MB/s.
fn plain_write_parallel(dir: &std::path::Path, bytes: u64, writers: usize) -> f64 {
    let each = bytes / writers as u64;
    let start = Instant::now();
    let hs: Vec<_> = (0..writers)
        .map(|w| {
            let path = dir.join(format!("plain-{w}.bin"));
            std::thread::spawn(move || {
                let mut f = std::fs::File::create(&path).unwrap();
                let source: Vec<u8> = (0..65536).map(|i| b'a' + (i % 26) as u8).collect();
                let mut written = 0u64;
                while written < each {
                    f.write_all(&source).unwrap();
                    written += source.len() as u64;
                }
                drop(f);
                (path, written)
            })
        })
        .collect();
    let mut total = 0u64;
    let mut paths = Vec::new();
    for h in hs {
        let (p, w) = h.join().unwrap();
        total += w;
        paths.push(p);
    }
    let secs = start.elapsed().as_secs_f64();
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
    total as f64 / secs / 1e6
}

/// One produce variant of a (size, acks, threads) group.
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    /// `send` with owned records; one producer per thread.
    Owned,
    /// `send_ref` (one thread).
    Borrowed,
    /// Every thread sends through one producer.
    Shared,
}

fn main() {
    let scale: f64 = std::env::var("KABASE_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let repeat: usize = std::env::var("KABASE_BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
    let base = std::env::var("KABASE_BENCH_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| std::env::temp_dir());
    println!("kabase topic benchmark (scale {scale}, {repeat} run(s) of each produce case, dir {})", base.display());
    // Optional filters (profiling one case): KABASE_BENCH_SIZES=100, KABASE_BENCH_ACKS=1,
    // KABASE_BENCH_THREADS=1 (comma-separated lists); KABASE_BENCH_CONSUME=0 skips the consume
    // cases; KABASE_BENCH_SEND=owned, ref or shared runs only that produce variant (`send`
    // with a producer per thread, `send_ref`, or threads sharing one producer).
    let only = |var: &str, v: &str| std::env::var(var).map_or(true, |l| l.split(',').any(|x| x.trim() == v));
    let send_only = std::env::var("KABASE_BENCH_SEND").ok();
    let mut results = Vec::new();
    // (case name, ratio to the plain write measured right after it), every run.
    let mut ratios: Vec<(String, f64)> = Vec::new();
    for size in [100usize, 1024] {
        if !only("KABASE_BENCH_SIZES", &size.to_string()) {
            continue;
        }
        let total_records = ((if size == 100 { 2_000_000.0 } else { 400_000.0 }) * scale) as u64;
        for acks in ["1", "all"] {
            if !only("KABASE_BENCH_ACKS", acks) {
                continue;
            }
            let sync_every = if acks == "all" { Some(1 << 20) } else { None };
            for threads in [1usize, 4] {
                if !only("KABASE_BENCH_THREADS", &threads.to_string()) {
                    continue;
                }
                let second = if threads == 1 { Variant::Borrowed } else { Variant::Shared };
                let mut variants: Vec<Variant> = [Variant::Owned, second]
                    .into_iter()
                    .filter(|v| match send_only.as_deref() {
                        Some("owned") => *v == Variant::Owned,
                        Some("ref") => *v == Variant::Borrowed,
                        Some("shared") => *v == Variant::Shared,
                        _ => true,
                    })
                    .collect();
                for run_no in 0..repeat {
                    // Each case is followed by its own plain write of the same bytes, and the
                    // order of the two variants alternates from run to run, so that neither
                    // always comes first in the process.
                    for v in variants.clone() {
                        let d = tempfile::tempdir_in(&base).unwrap();
                        let per_thread = if v == Variant::Borrowed { total_records } else { total_records / threads as u64 };
                        let run = produce(d.path(), size, acks, threads, per_thread, v == Variant::Borrowed, v == Variant::Shared);
                        let plain = plain_write(d.path(), run.bytes.max(1 << 20), sync_every);
                        let plain_cpu = PLAIN_CPU_MS.with(std::cell::Cell::get);
                        run.print(plain);
                        println!("{:<34} {:>32.1} MB/s  cpu {:.0} ms", format!("  plain write {}", if acks == "all" { "+fdatasync/MiB" } else { "" }), plain, plain_cpu);
                        ratios.push((run.name.clone(), run.bytes as f64 / run.secs / 1e6 / plain));
                        if run_no == 0 && v == Variant::Owned {
                            if threads == 1 && acks == "1" && std::env::var("KABASE_BENCH_CONSUME").map_or(true, |v| v != "0") {
                                let (c, v, r) = consume(d.path(), &format!("b{size}-1-1"), size);
                                c.print(plain);
                                v.print(plain);
                                r.print(plain);
                                results.push(c);
                                results.push(v);
                                results.push(r);
                            }
                            if acks == "1" && threads > 1 {
                                // Diagnostic: what the kernel does with `threads` writers on as
                                // many files (not the baseline, which stays one writer on one
                                // file).
                                let par = plain_write_parallel(d.path(), run.bytes.max(1 << 20), threads);
                                println!("{:<34} {:>32.1} MB/s  (diagnostic, not the baseline; kabase producer each: {:.2} of it)", format!("  plain write, {threads} files at once"), par, run.bytes as f64 / run.secs / 1e6 / par);
                            }
                            if threads == 1 {
                                // The same writes with disk space allocated ahead, as the log
                                // allocates it (shown, not the target's baseline).
                                let ahead = plain_write_with(d.path(), run.bytes.max(1 << 20), sync_every, 65536, 65536, true);
                                println!("{:<34} {:>32.1} MB/s  (kabase send: {:.2} of it)", "  plain write, allocated ahead", ahead, run.bytes as f64 / run.secs / 1e6 / ahead);
                            }
                            if acks == "1" && threads == 1 {
                                // The same writes with a source larger than the caches: what
                                // copying fresh memory into the page cache costs on this
                                // machine (shown, not the target's baseline).
                                let cold = plain_write_from(d.path(), run.bytes.max(1 << 20), None, 64 << 20, 65536);
                                println!("{:<34} {:>32.1} MB/s  (kabase send: {:.2} of it)", "  plain write, 64 MiB source", cold, run.bytes as f64 / run.secs / 1e6 / cold);
                                // Diagnostic: one write per batch of this size (62 records of 1
                                // KiB are 64,107 bytes), each starting and ending inside a page,
                                // as the producer's writes did before it gathered a round's
                                // batches into one `pwritev`.
                                if size == 1024 {
                                    let odd = plain_write_from(d.path(), run.bytes.max(1 << 20), None, 64_107, 64_107);
                                    println!("{:<34} {:>32.1} MB/s  (diagnostic, not the baseline)", "  plain write, 64,107 B writes", odd);
                                }
                            }
                        }
                        results.push(run);
                    }
                    variants.reverse();
                }
            }
        }
    }
    if repeat > 1 {
        println!("ratio to the plain write, over {repeat} runs (each case against the plain write right after it):");
        let mut names: Vec<&String> = Vec::new();
        for (n, _) in &ratios {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        for n in names {
            let mut r: Vec<f64> = ratios.iter().filter(|(m, _)| m == n).map(|(_, x)| *x).collect();
            r.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            let list: Vec<String> = r.iter().map(|x| format!("{x:.2}")).collect();
            let median = if r.len() % 2 == 1 { r[r.len() / 2] } else { (r[r.len() / 2 - 1] + r[r.len() / 2]) / 2.0 };
            println!("  {n:<44} median {median:.2}  min {:.2}  max {:.2}  ({})", r[0], r[r.len() - 1], list.join(" "));
        }
    }
    println!("{} cases", results.len());
}
