//! Tables benchmark: kabase tables against raw fjall, same keys, values and durability, side by
//! side in one process.
//!
//! Workloads: single put, batched put (100 rows per batch), point get (hit and miss), scan of
//! 1,000 rows (through the iterator; through `Scanner::next_into`, which reuses buffers; and
//! through `Scanner::next_view`, which lends rows out borrowed). Each prints ops/s, p50 and p99 latency, and the kabase/raw throughput ratio.
//!
//! ```text
//! cargo bench -p kabase --bench tables                 # 1M cells
//! KABASE_BENCH_CELLS=10000000 cargo bench -p kabase --bench tables
//! KABASE_BENCH_ONLY=put cargo bench -p kabase --bench tables    # only the put cases
//! ```
//!
//! `KABASE_BENCH_ONLY` takes a comma-separated list of workloads to run: `put` (batched and
//! single put), `single`, `hit`, `miss`, `get` (hit and miss), `scan` (iterator, `next_into`
//! and `next_view`), `iter`, `into`, `view`. The batched put always runs, since it loads the data set; no
//! value runs everything (except `presence`, which runs only when named: it measures on raw fjall what
//! a per-row presence key would cost puts). `KABASE_BENCH_SINGLES` (default a tenth of the cells, 10,000 to
//! 200,000), `KABASE_BENCH_GETS` (default 200,000) and `KABASE_BENCH_SCANS` (default 1,000) set
//! how many single puts, gets and scans run (more make a profile of one workload).
//! Both stores' memtables are flushed before the single puts (`KABASE_BENCH_PREFLUSH=0` skips
//! it), so that neither starts the phase with a fuller memtable that rotates during it.
//! `KABASE_BENCH_SETTLE=flush` (a diagnostic) flushes both stores' memtables before the reads,
//! so that gets and scans meet the same shape on both sides (otherwise each side's memtable
//! holds whatever its own flushes left, which moves raw fjall's miss latency 2x from run to run).
//!
//! Keys: kabase stores row `r%010d`, family `cf`, qualifier `q`, timestamp 1; raw fjall stores the
//! same encoded cell key (`kabase::table::codec::column_key`) and the same 100-byte values, so
//! both LSMs hold identical data, stored alike (`raw_options`: no block compression, 4 KiB
//! blocks, the same bloom filters). Durability: both flush the journal to the OS per write
//! (kabase `SYNC_WAL`, fjall's default `PersistMode::Buffer`).
//!
//! Order: the two stores are separate fjall databases, each with its own background flush and
//! compaction threads, and those threads share the machine's cores with the bench thread. In
//! both put workloads the side that goes first alternates from one operation (batch or single
//! put) to the next, so neither side always runs right after the other's write has handed work
//! to its background threads (a memtable rotation, a flush, a compaction) or always finds its
//! own caches evicted by the other. Each side's inputs (the `Put`, or the raw key and value)
//! are built before its timer starts; what they cost to free is inside it, on both sides.
//!
//! Tracing: with `RUST_LOG` set to a level (`error`, `warn`, `info`, `debug`, `trace`), both
//! stores' fjall and lsm-tree log lines go to stderr, each stamped with the seconds since the
//! bench started and its thread, and the put workloads list their calls over 1 ms with the same
//! stamps, so a slow put can be lined up with the memtable rotations, flushes, compactions and
//! write halts around it.

use std::time::{Duration, Instant};

use kabase::table::codec::column_key;
use kabase::{CellKind, Engine, FamilyDescriptor, Get, Mutation, Put, Scan, TableDescriptor};

/// The bench's logger (see "Tracing" above).
struct BenchLog {
    start: Instant,
    level: log::LevelFilter,
}

impl log::Log for BenchLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.level
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let t = std::thread::current();
            // The kernel's thread id, to line log lines up with `strace -f` or `perf trace`.
            let tid = unsafe { libc::gettid() };
            eprintln!(
                "[{:>11.6} {:<14} {tid:<7} {:<5} {}] {}",
                self.start.elapsed().as_secs_f64(),
                t.name().unwrap_or("?"),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

/// Install [`BenchLog`] when `RUST_LOG` names a level; returns whether it did.
fn init_log(start: Instant) -> bool {
    let Some(level) = std::env::var("RUST_LOG").ok().and_then(|v| v.parse::<log::LevelFilter>().ok()) else {
        return false;
    };
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    eprintln!("[   0.000000 bench started at UNIX time {:.6}]", unix.as_secs_f64() - start.elapsed().as_secs_f64());
    let logger: &'static BenchLog = Box::leak(Box::new(BenchLog { start, level }));
    log::set_logger(logger).map(|()| log::set_max_level(level)).is_ok()
}

/// When the bench started (the stamps of the log lines and of the slow calls).
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

struct Stats {
    name: &'static str,
    ops: u64,
    total: Duration,
    lat: Vec<Duration>,
    /// Calls over 1 ms: when they started (seconds since [`START`]) and how long they took.
    slow: Vec<(f64, Duration)>,
}

impl Stats {
    fn new(name: &'static str) -> Stats {
        Stats { name, ops: 0, total: Duration::ZERO, lat: Vec::new(), slow: Vec::new() }
    }
    fn record(&mut self, ops: u64, d: Duration) {
        self.ops += ops;
        self.total += d;
        self.lat.push(d);
    }
    /// Record a call that started at `s` and ends now, keeping its start if it took over 1 ms.
    fn record_since(&mut self, ops: u64, s: Instant) {
        let d = s.elapsed();
        if d > Duration::from_millis(1) {
            let at = START.get().map_or(0.0, |t0| s.duration_since(*t0).as_secs_f64());
            self.slow.push((at, d));
        }
        self.record(ops, d);
    }
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.total.as_secs_f64().max(1e-9)
    }
    fn pct(&mut self, p: f64) -> Duration {
        self.lat.sort_unstable();
        let i = ((self.lat.len() as f64 - 1.0) * p).round() as usize;
        self.lat.get(i).copied().unwrap_or_default()
    }
}

fn row(i: u64) -> Vec<u8> {
    format!("r{i:010}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(100);
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < 100 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes()[..4]);
        v.extend_from_slice(b"abcd");
    }
    v.truncate(100);
    v
}

fn rng_next(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn report(k: &mut Stats, r: &mut Stats) {
    report_as(k, r, "kabase", "raw");
}

fn report_as(k: &mut Stats, r: &mut Stats, k_label: &str, r_label: &str) {
    let (kp50, kp99, rp50, rp99) = (k.pct(0.5), k.pct(0.99), r.pct(0.5), r.pct(0.99));
    println!(
        "{:<18} {k_label} {:>11.0} ops/s p50 {:>9.1?} p99 {:>9.1?} | {r_label} {:>11.0} ops/s p50 {:>9.1?} p99 {:>9.1?} | ratio {:.2}",
        k.name,
        k.ops_per_sec(),
        kp50,
        kp99,
        r.ops_per_sec(),
        rp50,
        rp99,
        k.ops_per_sec() / r.ops_per_sec()
    );
}

/// For the put workloads: how many calls took over 1 ms on each side and their total time. These
/// are the writers the LSM made wait (memtable rotations, write stalls while compactions catch up,
/// both stores sharing the cores with their background threads); they decide the ops/s of a
/// workload whose p50 is a few µs, and they land on either side at random.
fn report_stalls(k: &Stats, r: &Stats) {
    let slow = |s: &Stats| {
        let v: Vec<&Duration> = s.lat.iter().filter(|d| **d > Duration::from_millis(1)).collect();
        (v.len(), v.into_iter().sum::<Duration>())
    };
    let ((kn, kt), (rn, rt)) = (slow(k), slow(r));
    println!(
        "{:<18} calls over 1 ms: kabase {kn} ({:.0?} of {:.0?}) | raw {rn} ({:.0?} of {:.0?})",
        "",
        kt,
        k.total,
        rt,
        r.total
    );
    if log::max_level() > log::LevelFilter::Off {
        let mut all: Vec<(f64, Duration, &str)> =
            k.slow.iter().map(|&(a, d)| (a, d, "kabase")).chain(r.slow.iter().map(|&(a, d)| (a, d, "raw"))).collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (at, d, side) in all {
            eprintln!("[{at:>11.6} slow {side:<6} {}] took {d:.1?}", k.name);
        }
    }
}

/// The raw keyspace's options: the ones kabase gives a family with the defaults the bench table
/// uses (no block compression, 4 KiB blocks, 10-bit-per-key bloom filters on every level), so
/// both LSMs store the same bytes the same way. fjall's own defaults would LZ4-compress levels 2
/// and up and build larger filters for level 0.
fn raw_options() -> fjall::KeyspaceCreateOptions {
    use fjall::config::{BlockSizePolicy, BloomConstructionPolicy, CompressionPolicy, FilterPolicy, FilterPolicyEntry};
    fjall::KeyspaceCreateOptions::default()
        .data_block_compression_policy(CompressionPolicy::disabled())
        .data_block_size_policy(BlockSizePolicy::all(4096))
        .filter_policy(FilterPolicy::all(FilterPolicyEntry::Bloom(BloomConstructionPolicy::BitsPerKey(10.0))))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let start = *START.get_or_init(Instant::now);
    init_log(start);
    let cells: u64 = std::env::var("KABASE_BENCH_CELLS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let base = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(base.path().join("kabase")).expect("open kabase");
    engine.create_table(TableDescriptor::new("bench").family(FamilyDescriptor::new("cf"))).expect("create table");
    let t = engine.table("bench").expect("table");
    let raw_db = fjall::Database::builder(base.path().join("raw")).cache_size(64 << 20).open().expect("open fjall");
    let raw = raw_db.keyspace("bench", raw_options).expect("keyspace");
    let key = |i: u64| column_key(&row(i), b"q", 1, CellKind::Put);

    let only: Option<Vec<String>> =
        std::env::var("KABASE_BENCH_ONLY").ok().map(|v| v.split(',').map(|w| w.trim().to_string()).collect());
    let want = |names: &[&str]| only.as_ref().is_none_or(|o| o.iter().any(|w| names.contains(&w.as_str())));

    println!("tables benchmark: {cells} cells of 100 bytes, kabase vs raw fjall (same keys, values, durability)");

    // Batched put: loads the data set (100 rows per batch).
    let batch = 100u64;
    let mut kb = Stats::new("batched put (row)");
    let mut rb = Stats::new("batched put (row)");
    let mut i = 0;
    while i < cells {
        let n = batch.min(cells - i);
        let ms: Vec<Mutation> = (i..i + n).map(|j| Put::new(row(j)).add_at("cf", "q", 1, value(j)).into()).collect();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (i..i + n).map(|j| (key(j), value(j))).collect();
        // Alternate which store goes first so background flushes hit both alike.
        let kabase_first = (i / batch) % 2 == 0;
        let run_kabase = |kb: &mut Stats, ms: Vec<Mutation>| {
            let s = Instant::now();
            for r in t.batch(ms).expect("batch") {
                r.expect("put");
            }
            kb.record_since(n, s);
        };
        let run_raw = |rb: &mut Stats, pairs: Vec<(Vec<u8>, Vec<u8>)>| {
            let s = Instant::now();
            let mut b = raw_db.batch();
            for (k, v) in pairs {
                b.insert(&raw, k, v);
            }
            b.commit().expect("raw batch");
            rb.record_since(n, s);
        };
        if kabase_first {
            run_kabase(&mut kb, ms);
            run_raw(&mut rb, pairs);
        } else {
            run_raw(&mut rb, pairs);
            run_kabase(&mut kb, ms);
        }
        i += n;
    }
    report(&mut kb, &mut rb);
    report_stalls(&kb, &rb);

    // Single put of new rows (the rows are written either way: later workloads read them).
    let singles = env_u64("KABASE_BENCH_SINGLES", (cells / 10).clamp(10_000, 200_000));
    let mut ks = Stats::new("single put");
    let mut rs = Stats::new("single put");
    // Both stores start the single puts with their memtables flushed. Otherwise the load leaves
    // one memtable fuller than the other (their rotations fall at different points), and the
    // fuller one rotates during the phase: that store's puts then take the rotation's and the
    // flush's stalls (calls over 1 ms adding up to 200-260 ms of a 0.3-0.5 s phase, against
    // about 100 for the other), which decided the ratio at random (0.61-1.69 over ten runs of
    // session 11; 0.85-0.86 over six runs with the flush). `KABASE_BENCH_PREFLUSH=0` skips it.
    if std::env::var("KABASE_BENCH_PREFLUSH").map_or(true, |v| v != "0") {
        engine.flush_table("bench").expect("flush kabase");
        raw.rotate_memtable_and_wait().expect("flush raw");
    }
    log::info!("single put starts");
    for j in cells..cells + singles {
        let p = Put::new(row(j)).add_at("cf", "q", 1, value(j));
        let (k, v) = (key(j), value(j));
        let run_kabase = |ks: &mut Stats, p: Put| {
            let s = Instant::now();
            t.put(p).expect("put");
            ks.record_since(1, s);
        };
        let run_raw = |rs: &mut Stats, k: Vec<u8>, v: Vec<u8>| {
            let s = Instant::now();
            raw.insert(k, v).expect("raw put");
            rs.record_since(1, s);
        };
        // Alternate which store goes first, as for the batched put.
        if j % 2 == 0 {
            run_kabase(&mut ks, p);
            run_raw(&mut rs, k, v);
        } else {
            run_raw(&mut rs, k, v);
            run_kabase(&mut ks, p);
        }
    }
    if want(&["put", "single"]) {
        report(&mut ks, &mut rs);
        report_stalls(&ks, &rs);
    }
    let total = cells + singles;
    if std::env::var("KABASE_BENCH_SETTLE").is_ok_and(|v| v == "flush") {
        engine.flush_table("bench").expect("flush kabase");
        raw.rotate_memtable_and_wait().expect("flush raw");
        println!("settled: both memtables flushed (raw tables {})", raw.table_count());
    }

    // Point gets, hit and miss.
    let gets = env_u64("KABASE_BENCH_GETS", 200_000).min(total);
    let mut seed = 0x1234_5678_9abc_def1u64;
    let mut kh = Stats::new("point get hit");
    let mut rh = Stats::new("point get hit");
    for _ in 0..if want(&["get", "hit"]) { gets } else { 0 } {
        let j = rng_next(&mut seed) % total;
        let r = row(j);
        let s = Instant::now();
        let got = t.get(Get::new(r)).expect("get");
        kh.record(1, s.elapsed());
        assert!(!got.is_empty());
        let k = key(j);
        let s = Instant::now();
        let got = raw.get(k).expect("raw get");
        rh.record(1, s.elapsed());
        assert!(got.is_some());
    }
    if want(&["get", "hit"]) {
        report(&mut kh, &mut rh);
    }
    let mut km = Stats::new("point get miss");
    let mut rm = Stats::new("point get miss");
    for _ in 0..if want(&["get", "miss"]) { gets } else { 0 } {
        let j = total + rng_next(&mut seed) % total;
        let r = row(j);
        let s = Instant::now();
        let got = t.get(Get::new(r)).expect("get");
        km.record(1, s.elapsed());
        assert!(got.is_empty());
        let k = key(j);
        let s = Instant::now();
        let got = raw.get(k).expect("raw get");
        rm.record(1, s.elapsed());
        assert!(got.is_none());
    }
    if want(&["get", "miss"]) {
        report(&mut km, &mut rm);
    }

    // Scans of 1,000 rows from random starts (ops = rows).
    let scans = env_u64("KABASE_BENCH_SCANS", 1_000);
    let mut ksc = Stats::new("scan 1000 rows");
    let mut rsc = Stats::new("scan 1000 rows");
    for _ in 0..if want(&["scan", "iter"]) { scans } else { 0 } {
        let j = rng_next(&mut seed) % total.saturating_sub(1_000).max(1);
        let s = Instant::now();
        let n = t.scan(Scan::new().start(row(j)).limit(1_000).caching(1_000)).expect("scan").map(|r| r.expect("row")).count();
        ksc.record(n as u64, s.elapsed());
        let from = key(j);
        let s = Instant::now();
        let n = raw.range(from..).take(1_000).map(|g| g.into_inner().expect("raw row")).count();
        rsc.record(n as u64, s.elapsed());
    }
    if want(&["scan", "iter"]) {
        report(&mut ksc, &mut rsc);
    }

    // The same scans through `Scanner::next_into`, which reuses the result's buffers.
    let mut ksi = Stats::new("scan 1000 (into)");
    let mut rsi = Stats::new("scan 1000 (into)");
    let mut out = kabase::RowResult::default();
    for _ in 0..if want(&["scan", "into"]) { scans } else { 0 } {
        let j = rng_next(&mut seed) % total.saturating_sub(1_000).max(1);
        let s = Instant::now();
        let mut sc = t.scan(Scan::new().start(row(j)).limit(1_000).caching(1_000)).expect("scan");
        let mut n = 0u64;
        while sc.next_into(&mut out).expect("row") {
            n += 1;
        }
        ksi.record(n, s.elapsed());
        let from = key(j);
        let s = Instant::now();
        let n = raw.range(from..).take(1_000).map(|g| g.into_inner().expect("raw row")).count();
        rsi.record(n as u64, s.elapsed());
    }
    if want(&["scan", "into"]) {
        report(&mut ksi, &mut rsi);
    }

    // The same scans through `Scanner::next_view`, which lends each row out borrowed (values
    // are the LSM's own slices, not copies); every cell's value is touched, as a user would.
    let mut ksv = Stats::new("scan 1000 (view)");
    let mut rsv = Stats::new("scan 1000 (view)");
    for _ in 0..if want(&["scan", "view"]) { scans } else { 0 } {
        let j = rng_next(&mut seed) % total.saturating_sub(1_000).max(1);
        let s = Instant::now();
        let mut sc = t.scan(Scan::new().start(row(j)).limit(1_000).caching(1_000)).expect("scan");
        let (mut n, mut bytes) = (0u64, 0usize);
        while let Some(r) = sc.next_view().expect("row") {
            n += 1;
            bytes += r.cells().map(|c| c.value.len()).sum::<usize>();
        }
        ksv.record(n, s.elapsed());
        assert_eq!(bytes as u64, n * 100);
        let from = key(j);
        let s = Instant::now();
        let n = raw.range(from..).take(1_000).map(|g| g.into_inner().expect("raw row")).count();
        rsv.record(n as u64, s.elapsed());
    }
    if want(&["scan", "view"]) {
        report(&mut ksv, &mut rsv);
    }
    if only.as_ref().is_some_and(|o| o.iter().any(|w| w == "presence")) {
        presence_cost(&base, cells);
    }
    engine.close().expect("close");
}

/// The put-side cost of a per-row "row present" key (an exact key a point lookup's bloom filter
/// can answer, written in the same batch as the row's cells), measured on raw fjall: one
/// keyspace gets the cell alone, another the cell and the row's presence key
/// (`codec::row_prefix`, empty value), in alternating batches of 100 rows, then single puts of
/// new rows; then a missing row is looked up by its presence key (`contains_key`) against the
/// plain store's point get of the cell key. Only with `KABASE_BENCH_ONLY=presence`.
fn presence_cost(base: &tempfile::TempDir, cells: u64) {
    use kabase::table::codec::row_prefix;
    let open = |name: &str| {
        let db = fjall::Database::builder(base.path().join(name)).cache_size(64 << 20).open().expect("open fjall");
        let ks = db.keyspace("bench", raw_options).expect("keyspace");
        (db, ks)
    };
    let (plain_db, plain) = open("presence-plain");
    let (pres_db, pres) = open("presence-with");
    let key = |i: u64| column_key(&row(i), b"q", 1, CellKind::Put);
    let batch = 100u64;
    let mut ps = Stats::new("presence: batched");
    let mut pp = Stats::new("presence: batched");
    let mut i = 0;
    while i < cells {
        let n = batch.min(cells - i);
        let run = |with: bool, st: &mut Stats| {
            let (db, ks) = if with { (&pres_db, &pres) } else { (&plain_db, &plain) };
            let s = Instant::now();
            let mut b = db.batch();
            for j in i..i + n {
                b.insert(ks, key(j), value(j));
                if with {
                    b.insert(ks, row_prefix(&row(j)), &b""[..]);
                }
            }
            b.commit().expect("batch");
            st.record(n, s.elapsed());
        };
        if (i / batch) % 2 == 0 {
            run(true, &mut pp);
            run(false, &mut ps);
        } else {
            run(false, &mut ps);
            run(true, &mut pp);
        }
        i += n;
    }
    report_as(&mut pp, &mut ps, "with presence", "plain");
    let singles = (cells / 10).clamp(10_000, 200_000);
    let mut ss = Stats::new("presence: single");
    let mut sp = Stats::new("presence: single");
    for j in cells..cells + singles {
        let s = Instant::now();
        plain.insert(key(j), value(j)).expect("put");
        ss.record(1, s.elapsed());
        let s = Instant::now();
        let mut b = pres_db.batch();
        b.insert(&pres, key(j), value(j));
        b.insert(&pres, row_prefix(&row(j)), &b""[..]);
        b.commit().expect("batch");
        sp.record(1, s.elapsed());
    }
    report_as(&mut sp, &mut ss, "with presence", "plain");
    let total = cells + singles;
    let mut seed = 0x0bad_5eed_u64;
    let mut ms = Stats::new("presence: miss");
    let mut mp = Stats::new("presence: miss");
    for _ in 0..200_000u64.min(total) {
        let j = rng_next(&mut seed) % (2 * total);
        let j = if j < total { j + 2 * total } else { j };
        let (k, p) = (key(j), row_prefix(&row(j)));
        let s = Instant::now();
        let got = plain.get(k).expect("get");
        ms.record(1, s.elapsed());
        assert!(got.is_none());
        let s = Instant::now();
        let got = pres.contains_key(p).expect("contains");
        mp.record(1, s.elapsed());
        assert!(!got);
    }
    report_as(&mut mp, &mut ms, "with presence", "plain");
}
