"""Odd arguments of every type thrown at the facades (happybase, the HBase facade, kafka-python's
producer, consumer and admin client), seeded: each call may raise an ordinary exception, but
never a native panic (``pyo3_runtime.PanicException``, a ``BaseException``) and never a crash.

This is how a huge ``flush`` timeout and scan bounds past the storage's key limit were found.
Calls that block for as long as they are asked (a poll with a huge ``timeout_ms``) are left out.
"""

import itertools
import random

import pytest

import kabase.happybase as happybase
from kabase.hbase import HBase
from kabase.kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kabase.kafka.admin import NewTopic

from conftest import needs_groups, needs_tables, needs_topics

ODD = [
    None, 0, -1, 2**63, -(2**63) - 1, 2**64, 1.5, float("nan"), float("inf"), "", "x", "a:b", ":", "cf:",
    b"", b"\x00", b"\xff" * 3, "\u00e9", "\udcff", [], [1], ["a", None], {}, {"a": 1}, {b"cf:q": b"v"},
    {"cf:q": None}, (), object(), True, b"x" * 70000, b"\x00" * 32767, "x" * 300, -(2**31), 10**20,
    bytearray(b"ab"), memoryview(b"ab"), lambda: 1, Exception("e"), ("a", "b"), {"row": None}, "ns:t",
    "bad name!",
]

KEYWORDS = [
    "columns", "timestamp", "include_timestamp", "row_start", "row_stop", "row_prefix", "filter", "limit",
    "batch_size", "reverse", "value", "key", "partition", "headers", "timestamp_ms", "max_records",
    "timeout_ms", "versions", "wal", "sorted_columns",
]

TABLE = ["put", "row", "rows", "cells", "scan", "delete", "counter_get", "counter_set", "counter_inc",
         "counter_dec", "families", "regions"]
CONNECTION = ["create_table", "enable_table", "disable_table", "is_table_enabled", "table", "compact_table",
              "tables"]
PRODUCER = ["send", "flush", "partitions_for", "metrics"]
CONSUMER = ["subscribe", "assign", "seek", "seek_to_beginning", "seek_to_end", "position", "pause", "resume",
            "offsets_for_times", "beginning_offsets", "end_offsets", "partitions_for_topic", "committed",
            "poll", "commit"]
ADMIN = ["create_topics", "delete_topics", "create_partitions", "describe_topics", "describe_configs",
         "alter_configs", "delete_records", "list_consumer_group_offsets", "describe_consumer_groups"]
FACADE = ["create_table", "put", "get", "delete", "scan", "table"]


def _arg(rnd):
    r = rnd.random()
    if r < 0.15:
        return TopicPartition(rnd.choice(["tp", "x", "", "a" * 300]), rnd.choice([0, -1, 5, 2**40]))
    if r < 0.2:
        return [TopicPartition("tp", 0)]
    if r < 0.25:
        return {TopicPartition("tp", rnd.choice([0, 3])): rnd.choice(ODD)}
    if r < 0.3:
        return [NewTopic(rnd.choice(["tp", "n%d" % rnd.randrange(1000), "", "bad name"]), rnd.choice([1, 0, -1, 3]), 1)]
    return rnd.choice(ODD)


def _blocks(x):
    """A number a poll would take as a long wait."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and (x != x or x > 1000)


def _call(panics, name, f, args, kwargs):
    try:
        r = f(*args, **kwargs)
        if hasattr(r, "__next__"):
            for _ in itertools.islice(r, 5):
                pass
    except Exception:
        pass
    except BaseException as e:  # PanicException derives from BaseException
        panics.append("%s(%.200r, %.200r): %r" % (name, args, kwargs, e))


@needs_tables
@needs_topics
@needs_groups
@pytest.mark.parametrize("seed", range(12))
def test_odd_arguments_never_panic(eng, seed):
    rnd = random.Random(seed)
    conn = happybase.Connection(engine=eng)
    conn.create_table("t", {"cf": dict(max_versions=3), "cg": {}})
    t = conn.table("t")
    producer = KafkaProducer(engine=eng)
    admin = KafkaAdminClient(engine=eng)
    consumer = KafkaConsumer(engine=eng, group_id="g", consumer_timeout_ms=10)
    facade = HBase(engine=eng)
    targets = [
        (0.35, "table", t, TABLE),
        (0.45, "connection", conn, CONNECTION),
        (0.6, "producer", producer, PRODUCER),
        (0.75, "consumer", consumer, CONSUMER),
        (0.85, "admin", admin, ADMIN),
        (1.0, "hbase", facade, FACADE),
    ]
    panics = []
    for _ in range(2000):
        args = [_arg(rnd) for _ in range(rnd.randint(0, 3))]
        kwargs = {rnd.choice(KEYWORDS): _arg(rnd)} if rnd.random() < 0.3 else {}
        pick = rnd.random()
        _, what, obj, methods = next(tg for tg in targets if pick < tg[0])
        m = rnd.choice(methods)
        if what == "consumer" and m == "poll" and (any(_blocks(x) for x in args[:1]) or _blocks(kwargs.get("timeout_ms", 0))):
            continue
        _call(panics, "%s.%s" % (what, m), getattr(obj, m), args, kwargs)
    # The same against closed handles.
    for obj, methods in [(producer, PRODUCER), (consumer, CONSUMER), (admin, ADMIN)]:
        try:
            obj.close()
        except Exception:
            pass
        for m in methods:
            _call(panics, "closed " + m, getattr(obj, m), [_arg(rnd) for _ in range(rnd.randint(0, 2))], {})
    conn.close()
    eng.close()
    for m in TABLE:
        _call(panics, "closed table." + m, getattr(t, m), [b"r", {b"cf:q": b"v"}], {})
    assert panics == []
