"""Change streams from Python: Table.stream_to (table -> topic), Engine.stream_from (topic ->
table), listing, the Stream handle, snapshot-then-stream, exactly once across a reopen."""

import json
import time

import pytest

import kabase
import kabase.happybase as happybase
from kabase import _native, errors
from kabase.kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import needs_tables, needs_topics

pytestmark = [needs_tables, needs_topics]


def changes(eng, topic, want, timeout=15.0, offsets=None):
    """Read change records of `topic` (read_committed) until `want` arrived; returns them."""
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", isolation_level="read_committed")
    parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
    c.assign(parts)
    for tp, off in (offsets or {}).items():
        c.seek(TopicPartition(*tp), off)
    out = []
    deadline = time.time() + timeout
    while len(out) < want and time.time() < deadline:
        for recs in c.poll(timeout_ms=100).values():
            out.extend(json.loads(r.value) for r in recs)
    # Nothing more than wanted turns up.
    for recs in c.poll(timeout_ms=300).values():
        out.extend(json.loads(r.value) for r in recs)
    c.close()
    return out


def test_stream_to_lists_describes_pauses_resumes_removes(eng):
    conn = happybase.Connection(engine=eng)
    conn.create_table("orders", {"cf": {}})
    t = conn.table("orders")
    s = t.stream_to("orders-cdc", name="orders-cdc")
    assert isinstance(s, kabase.Stream) and s.name == "orders-cdc"
    t.put(b"o1", {b"cf:amount": b"12.50"})
    info = s.wait(10)
    assert info["lag"] == 0 and info["state"] == "running" and info["kind"] == "table_to_topic"
    assert info["table"].endswith("orders") and info["topics"] == ["orders-cdc"]
    (rec,) = changes(eng, "orders-cdc", 1)
    assert rec["row"] == "o1" and rec["op"] == "put"
    assert [(c["family"], c["qualifier"], c["value"]) for c in rec["cells"]] == [("cf", "amount", "12.50")]

    assert [d["name"] for d in eng.streams()] == ["orders-cdc"]
    assert eng.stream("orders-cdc").describe()["name"] == "orders-cdc"
    with pytest.raises(errors.StreamExists):
        t.stream_to("orders-cdc", name="orders-cdc")
    with pytest.raises(errors.StreamNotFound):
        eng.stream("nope")

    s.pause()
    assert s.describe()["state"] == "paused"
    t.put(b"o2", {b"cf:amount": b"3"})
    time.sleep(0.2)
    assert s.describe()["lag"] == 1  # captured, not sent while paused
    with pytest.raises(errors.InvalidArgument):
        s.wait(1)  # a paused stream never drains
    s.resume()
    s.wait(10)
    assert [r["row"] for r in changes(eng, "orders-cdc", 2)] == ["o1", "o2"]
    s.remove()
    assert eng.streams() == []
    with pytest.raises(errors.StreamNotFound):
        s.describe()


def test_stream_options_are_checked(eng):
    eng.create_table("opts", [{"name": b"cf"}, {"name": b"cf2"}])
    t = eng.table("opts")
    with pytest.raises(errors.InvalidConfig):
        t.stream_to("x", bogus=1)
    with pytest.raises(errors.InvalidConfig):
        t.stream_to("x", shape="sideways")
    with pytest.raises(errors.InvalidName):
        t.stream_to("x", name="no spaces")
    s = t.stream_to(None, partitioning="family", shape="per_cell", format="json",
                    routes=[{"action": "route"}, {"action": "drop", "qualifier": "secret"}])
    assert s.name == "opts-changes" and s.describe()["topics"] == ["default.opts"]
    t.mutate([(b"r", [(b"cf:a", b"1"), (b"cf2:b", b"2"), (b"cf:secret", b"pin")], None, False, None, True)])
    s.wait(10)
    recs = changes(eng, "default.opts", 2)
    assert sorted((r["cells"][0]["family"], r["cells"][0]["qualifier"]) for r in recs) == [("cf", "a"), ("cf2", "b")]


def test_exactly_once_across_close_and_reopen(tmp_path):
    d = str(tmp_path / "eo")
    eng = kabase.open(d)
    eng.create_table("t", [{"name": b"cf"}])
    t = eng.table("t")
    t.stream_to("t-changes", name="eo")
    for i in range(50):
        t.mutate([(b"r%03d" % i, [(b"cf:v", b"%d" % i)], None, False, None, True)])
    eng.close()  # some changes may still be in the outbox: the reopened engine relays them

    eng = kabase.open(d)
    t = eng.table("t")
    for i in range(50, 80):
        t.mutate([(b"r%03d" % i, [(b"cf:v", b"%d" % i)], None, False, None, True)])
    eng.stream("eo").wait(15)
    recs = changes(eng, "t-changes", 80)
    seqs = [r["seq"] for r in recs]
    assert len(recs) == 80, "every change exactly once"
    assert len(set(seqs)) == 80, "no change twice"
    # In commit order, each row once (the sequence may skip ahead after a restart).
    assert [r["row"] for r in sorted(recs, key=lambda r: r["seq"])] == ["r%03d" % i for i in range(80)]
    eng.close()


def test_snapshot_then_stream_hands_over_without_gap_or_overlap(eng):
    eng.create_table("snap", [{"name": b"cf"}])
    t = eng.table("snap")
    for i in range(10):  # before the stream: only the snapshot has these
        t.mutate([(b"a%02d" % i, [(b"cf:v", b"old")], None, False, None, True)])
    s = t.stream_to("snap-topic", name="snap", partitions=2)
    for i in range(5):  # streamed and in the snapshot
        t.mutate([(b"b%02d" % i, [(b"cf:v", b"mid")], None, False, None, True)])
    seq, rows, offsets = s.snapshot()
    assert sorted(offsets) == [("snap-topic", 0), ("snap-topic", 1)]
    assert sum(offsets.values()) == 5
    for i in range(7):  # after the snapshot: only the stream from `offsets` has these
        t.mutate([(b"c%02d" % i, [(b"cf:v", b"new")], None, False, None, True)])
    s.wait(10)
    after = changes(eng, "snap-topic", 7, offsets=offsets)
    assert sorted(r["row"] for r in after) == ["c%02d" % i for i in range(7)]
    assert all(r["seq"] > seq for r in after)
    state = {row: cells for row, cells in rows}
    for r in after:
        state[r["row"].encode()] = r["cells"]
    assert len(state) == 22 and sorted(state)[:10] == [b"a%02d" % i for i in range(10)]
    s.pause()
    with pytest.raises(errors.InvalidArgument):
        s.snapshot()  # a paused stream cannot hand over


def test_sink_writes_rows_and_a_tombstone_deletes_the_row(eng):
    eng.create_table("users", [{"name": b"cf"}])
    s = eng.stream_from("users-in", "users", default_family="cf")
    assert s.name == "users-in-to-users" and s.describe()["kind"] == "topic_to_table"
    p = KafkaProducer(engine=eng)
    p.send("users-in", {"name": "Alice", "cf:age": 30}, key=b"u1")
    p.send("users-in", {"name": "Bob"}, key=b"u2")
    p.flush()
    s.wait(10)
    t = eng.table("users")
    rows = {row: {c: v for c, v, _ in cells} for row, cells in t.get([b"u1", b"u2"])}
    assert rows == {b"u1": {b"cf:name": b"Alice", b"cf:age": b"30"}, b"u2": {b"cf:name": b"Bob"}}
    p.send("users-in", None, key=b"u1")  # tombstone
    p.flush()
    s.wait(10)
    assert t.get([b"u1"])[0][1] == []
    assert t.get([b"u2"])[0][1] != []
    info = s.describe()
    assert info["lag"] == 0 and info["offsets"] == {0: 3}
    with pytest.raises(errors.TableNotFound):
        eng.stream_from("x", "no_such_table")


def test_stream_handles_fail_cleanly_after_close(tmp_path):
    eng = kabase.open(str(tmp_path / "c"))
    eng.create_table("t", [{"name": b"cf"}])
    s = eng.table("t").stream_to("tt")
    eng.close()
    with pytest.raises(errors.Closed):
        s.describe()
    assert _native.Stream is kabase.Stream
