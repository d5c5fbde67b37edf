"""kabase Python binding benchmark (not a test).

    python python/bench/bench.py [--records N] [--value-size B]

Measures, on an in-memory engine: produce through the send loop (one `send` per record) and
through the batch path (`send_batch`), consume by iteration and by `poll()` batches (also with
a `value_deserializer`; both read every record's value, as their core twin does),
happybase-style `put` (batched and one per call), `row`, `rows` and `scan`. The same run then
does the same workloads through the Rust core alone (`kabase._native._bench`, no Python per
record) and prints the Python/Rust time ratio for each workload that has a Rust twin: what the
binding costs. Not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import operator
import time

import kabase
import kabase.happybase as happybase
from kabase import _native
from kabase.kafka import KafkaConsumer, KafkaProducer, TopicPartition


def rate(n: int, secs: float) -> str:
    return "%12.0f rec/s  (%d in %.3f s)" % (n / secs if secs > 0 else float("inf"), n, secs)


def poll_all(consumer, want: int, value_size: int):
    """Poll batches of up to 5,000 until `want` records or an empty poll, reading every record's
    value (the sum of their lengths, checked), as the core's twin does: (records, seconds)."""
    value_of = operator.attrgetter("value")
    t0 = time.perf_counter()
    got = 0
    total = 0
    while got < want:
        batch = consumer.poll(timeout_ms=100, max_records=5000)
        if not batch:
            break
        for recs in batch.values():
            got += len(recs)
            total += sum(map(len, map(value_of, recs)))
    secs = time.perf_counter() - t0
    if total != got * value_size:
        raise AssertionError("read %d value bytes in %d records of %d" % (total, got, value_size))
    return got, secs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--linger-ms", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best rate of each workload is kept")
    args = ap.parse_args()
    best: dict = {}
    rust_best: dict = {}
    for i in range(max(1, args.repeat)):
        results, rust = run_once(args, i)
        for src, dst in ((results, best), (rust, rust_best)):
            for name, (cnt, secs) in src.items():
                if name not in dst or cnt / secs > dst[name][0] / dst[name][1]:
                    dst[name] = (cnt, secs)
    report(best, rust_best)


def run_once(args, run: int):
    n, size = args.records, args.value_size
    value = b"x" * size
    if run == 0:
        print("kabase %s, %d records, %d-byte values, in-memory engine, best of %d runs"
              % (kabase.__version__, n, size, max(1, args.repeat)))
    eng = kabase.open(memory=True)
    results = {}

    if _native.HAS_TOPICS:
        p = KafkaProducer(engine=eng, acks=1, linger_ms=args.linger_ms, batch_size=1 << 20)
        p.send("bench-loop", value).get()
        t0 = time.perf_counter()
        send = p.send
        for _ in range(n):
            send("bench-loop", value)
        p.flush()
        results["produce (send loop)"] = (n, time.perf_counter() - t0)

        chunk = min(10_000, n)
        vals = [value] * chunk
        t0 = time.perf_counter()
        for _ in range(n // chunk):
            p.send_batch("bench-batch", vals)
        p.flush()
        results["produce (send_batch)"] = ((n // chunk) * chunk, time.perf_counter() - t0)
        p.close()

        c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", max_poll_records=5000, consumer_timeout_ms=200)
        c.assign([TopicPartition("bench-loop", 0)])
        t0 = time.perf_counter()
        got = 0
        for _ in c:
            got += 1
            if got == n + 1:
                break
        results["consume (iteration)"] = (got, time.perf_counter() - t0)

        c.seek_to_beginning()
        results["consume (poll batches)"] = poll_all(c, n + 1, size)
        c.close()

        # The same with a value_deserializer (`bytes.decode`, run per record inside the batch).
        c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", max_poll_records=5000,
                          value_deserializer=bytes.decode)
        c.assign([TopicPartition("bench-loop", 0)])
        results["consume (poll, deserializer)"] = poll_all(c, n + 1, size)
        c.close()
    else:
        print("topics: not in this build's core (HAS_TOPICS is false)")

    if _native.HAS_TABLES:
        conn = happybase.Connection(engine=eng)
        conn.create_table("bench", {"cf": {"max_versions": 1}})
        t = conn.table("bench")
        keys = [b"row%09d" % i for i in range(n)]
        t0 = time.perf_counter()
        with t.batch(batch_size=5000, wal=False) as b:
            for k in keys:
                b.put(k, {b"cf:v": value})
        results["put (batch, 5000/send)"] = (n, time.perf_counter() - t0)
        m = min(n, 50_000)
        t0 = time.perf_counter()
        for k in keys[:m]:
            t.put(k, {b"cf:v": value})
        results["put (one per call)"] = (m, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for k in keys[:m]:
            t.row(k)
        results["get (one row per call)"] = (m, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(0, m, 1000):
            t.rows(keys[i:i + 1000])
        results["get (rows, 1000 per call)"] = (m, time.perf_counter() - t0)
        t0 = time.perf_counter()
        cnt = sum(1 for _ in t.scan(batch_size=5000))
        results["scan"] = (cnt, time.perf_counter() - t0)
    else:
        print("tables: not in this build's core (HAS_TABLES is false)")

    rust = {}
    if hasattr(_native, "_bench"):
        rust = dict(_native._bench(eng, n, size, args.linger_ms, min(10_000, n), "rust"))
    eng.close()
    return results, rust


def report(results, rust) -> None:
    # Python twins of the Rust workloads (the iteration paths compare with the core's batched
    # poll loop over the same records).
    twin = {"consume (iteration)": "consume (poll batches)", "consume (poll, deserializer)": "consume (poll batches)"}
    print("%-28s %22s %22s %8s" % ("workload", "Python", "Rust core", "Py/Rust"))
    for name, (cnt, secs) in results.items():
        r = rust.get(name) or rust.get(twin.get(name, ""))
        if r and cnt and r[0]:
            py_rate = cnt / secs if secs > 0 else float("inf")
            rs_rate = r[0] / r[1] if r[1] > 0 else float("inf")
            print("%-28s %15.0f rec/s %15.0f rec/s %7.2fx" % (name, py_rate, rs_rate, rs_rate / py_rate))
        else:
            print("%-28s %s" % (name, rate(cnt, secs)))
    if not rust:
        print("(this build has no kabase._native._bench: Python figures only)")


if __name__ == "__main__":
    main()
