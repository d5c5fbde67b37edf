"""Where a polled record's and a scanned row's time goes in Python, step by step (not a test).

    python python/bench/split.py [--records N] [--repeat R]

Fills one partition and one table (the shapes `bench.py` uses: 100-byte values; the table gets
N batched puts, then 50,000 single puts over its first rows), then times each step of a
`poll()` loop and of a scan apart, R times, keeping each step's best:

- `poll()`: `KafkaConsumer.poll(max_records=5000)`, the core's fetch and the records made;
- `read values`: the caller reading every record's value (`sum(map(len, map(attrgetter("value"),
  recs)))`, as `bench.py` does);
- `free`: dropping the batch (the records and their values freed);
- `scan next_batch`: the native `Scanner.next_batch(64, as_dict=True)` calls that happybase's
  `scan` makes (64 rows a call whatever its `batch_size`), the core's read and the row objects
  made;
- `scan loop`: iterating a call's rows (`sum(1 for _ in rows)`, as `bench.py` does);
- `scan free`: dropping them;
- `happybase scan`: the whole of `bench.py`'s scan workload, for comparison with the sum of its
  steps (the difference is happybase's generator).

Times are the thread's CPU time (`time.thread_time`), which a loaded machine inflates less than
wall time; the core's twins (`kabase._native._bench`, wall time) are printed for reference.
"""

from __future__ import annotations

import argparse
import operator
import time

import kabase
import kabase.happybase as happybase
from kabase import _native
from kabase.happybase.table import _NATIVE_ROWS
from kabase.kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args()
    n = args.records
    value = b"x" * 100
    clock = time.thread_time
    best: dict = {}

    def keep(name: str, secs: float, count: int) -> None:
        best[name] = min(best.get(name, float("inf")), secs / count * 1e9)

    eng = kabase.open(memory=True)
    p = KafkaProducer(engine=eng, acks=1, linger_ms=5, batch_size=1 << 20)
    for _ in range(n):
        p.send("split", value)
    p.flush()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("split", 0)])
    value_of = operator.attrgetter("value")

    conn = happybase.Connection(engine=eng)
    conn.create_table("split", {"cf": {"max_versions": 1}})
    t = conn.table("split")
    keys = [b"row%09d" % i for i in range(n)]
    with t.batch(batch_size=5000, wal=False) as b:
        for k in keys:
            b.put(k, {b"cf:v": value})
    for k in keys[: min(n, 50_000)]:
        t.put(k, {b"cf:v": value})

    for _ in range(max(1, args.repeat)):
        c.seek_to_beginning()
        got = 0
        steps = [0.0, 0.0, 0.0]
        while got < n:
            t0 = clock()
            batch = c.poll(timeout_ms=100, max_records=5000)
            t1 = clock()
            recs = None
            for recs in batch.values():
                got += len(recs)
                if sum(map(len, map(value_of, recs))) != 100 * len(recs):
                    raise AssertionError("a value is not 100 bytes")
            t2 = clock()
            del batch, recs
            t3 = clock()
            steps[0] += t1 - t0
            steps[1] += t2 - t1
            steps[2] += t3 - t2
        for name, secs in zip(("poll()", "read values", "free"), steps):
            keep(name, secs, got)

        sc = t._native().scan(None, None, None, None, None, None, 1, False, None, 0, 5000)
        cnt = 0
        steps = [0.0, 0.0, 0.0]
        while True:
            t0 = clock()
            rows = sc.next_batch(_NATIVE_ROWS, True, False)
            t1 = clock()
            if not rows:
                sc.close()
                break
            cnt += sum(1 for _ in rows)
            t2 = clock()
            del rows
            t3 = clock()
            steps[0] += t1 - t0
            steps[1] += t2 - t1
            steps[2] += t3 - t2
        for name, secs in zip(("scan next_batch", "scan loop", "scan free"), steps):
            keep(name, secs, cnt)
        t0 = clock()
        cnt = sum(1 for _ in t.scan(batch_size=5000))
        keep("happybase scan (bench.py's workload)", clock() - t0, cnt)

    print("kabase %s, %d records/rows, 100-byte values, best of %d, thread CPU time" % (kabase.__version__, n, args.repeat))
    for name, ns in best.items():
        print("%-38s %6.0f ns" % (name, ns))
    if hasattr(_native, "_bench"):
        rust = dict(_native._bench(eng, n, 100, 5, 5000, "rust"))
        for name in ("consume (poll batches)", "scan"):
            cnt, secs = rust[name]
            print("%-38s %6.0f ns (wall)" % ("core twin: " + name, secs / cnt * 1e9))
    eng.close()


if __name__ == "__main__":
    main()
