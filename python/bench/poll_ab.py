"""Where a `poll()` batch's time goes, measured in one process (not a test).

    python python/bench/poll_ab.py [--records N] [--batch B] [--repeat R]

Fills one partition with N 100-byte records, then reads it back in `poll()` batches of B, each
variant in turn, R times, keeping each variant's best rate (the machine's load swings). Every
variant reads each record's value (the sum of their lengths), so a lazily made value cannot
flatter it:

- `poll()`: `KafkaConsumer.poll` as users call it (native `ConsumerRecord`s and the dict built
  natively);
- `poll(), namedtuple records`: the same native poll making kafka-python's namedtuple instead
  (what `KafkaConsumer.poll` returned before the native record type);
- `poll(), collector off`: the same with `gc.disable()` around the loop, so the difference is
  what Python's cyclic collector costs the loop; the time spent inside collections and their
  count per generation are also taken directly (`gc.callbacks`) on the first variant;
- `poll(), value_deserializer`: with `value_deserializer=bytes.decode`, run per record inside the
  native batch;
- `... in a Python pass`: the same result made the way the package did before: raw tuples from
  the native poll, then each record deserialized and made into a `ConsumerRecord` in Python.
"""

from __future__ import annotations

import argparse
import gc
import operator
import time
from collections import namedtuple

import kabase
from kabase.kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kabase.kafka.structs import ConsumerRecord

# kafka-python 2.0.2's record with leader_epoch last: the namedtuple kabase.kafka used to return.
NamedtupleRecord = namedtuple("ConsumerRecord", ConsumerRecord._fields, defaults=(-1,))


def python_pass(native, batch, vd):
    """The pre-Round-4 deserializer path: raw tuples converted again in Python."""
    out = {}
    for topic, partition, offset, ts, tstype, key, value, headers, ksize, vsize, hsize in native.poll(batch, 100):
        if value is not None:
            value = vd(value)
        r = ConsumerRecord(topic, partition, offset, ts, tstype, key, value, headers, None, ksize, vsize, hsize)
        tp = TopicPartition(topic, partition)
        lst = out.get(tp)
        if lst is None:
            out[tp] = [r]
        else:
            lst.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n, b = args.records, args.batch
    eng = kabase.open(memory=True)
    p = KafkaProducer(engine=eng, acks=1, linger_ms=5, batch_size=1 << 20)
    value = b"x" * 100
    for _ in range(n):
        p.send("ab", value)
    p.flush()
    p.close()
    tp = TopicPartition("ab", 0)
    plain = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    deser = KafkaConsumer(engine=eng, auto_offset_reset="earliest", value_deserializer=bytes.decode)
    for c in (plain, deser):
        c.assign([tp])

    value_of = operator.attrgetter("value")

    def run(c, fetch):
        c.seek_to_beginning()
        got = 0
        total = 0
        t0 = time.perf_counter()
        while got < n:
            batch = fetch()
            for recs in batch.values():
                got += len(recs)
                total += sum(map(len, map(value_of, recs)))
        secs = time.perf_counter() - t0
        assert total == 100 * got, (total, got)
        return got / secs

    variants = {
        "poll()": lambda: run(plain, lambda: plain.poll(timeout_ms=100, max_records=b)),
        "poll(), collector off": lambda: run(plain, lambda: plain.poll(timeout_ms=100, max_records=b)),
        "poll(), namedtuple records": lambda: run(plain, lambda: plain._native.poll(b, 100, NamedtupleRecord, TopicPartition)),
        "poll(), value_deserializer": lambda: run(deser, lambda: deser.poll(timeout_ms=100, max_records=b)),
        "... in a Python pass": lambda: run(deser, lambda: python_pass(deser._native, b, bytes.decode)),
    }
    best = {}
    in_gc = [0.0, 0.0]  # seconds in collections, seconds of the loops
    counts = {0: 0, 1: 0, 2: 0}
    start = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            start[0] = time.perf_counter()
        else:
            in_gc[0] += time.perf_counter() - start[0]
            counts[info["generation"]] += 1

    for _ in range(max(1, args.repeat)):
        for name, fn in variants.items():
            if name == "poll(), collector off":
                gc.disable()
            elif name == "poll()":
                gc.callbacks.append(on_gc)
            t0 = time.perf_counter()
            try:
                rate = fn()
            finally:
                gc.enable()
                if on_gc in gc.callbacks:
                    gc.callbacks.remove(on_gc)
                    in_gc[1] += time.perf_counter() - t0
            best[name] = max(best.get(name, 0.0), rate)
    print("kabase %s, %d records of 100 bytes, poll batches of %d, best of %d" % (kabase.__version__, n, b, args.repeat))
    for name, rate in best.items():
        print("%-28s %10.0f rec/s %7.0f ns/record" % (name, rate, 1e9 / rate))
    polls = max(1, args.repeat) * -(-n // b)
    print("poll(): %.0f%% of the loop inside collections; per %d polls: %s collections of generation 0/1/2"
          % (100 * in_gc[0] / in_gc[1], polls, "/".join(str(counts[g]) for g in (0, 1, 2))))
    eng.close()


if __name__ == "__main__":
    main()
