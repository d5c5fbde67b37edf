"""The batched paths' native conversions: happybase batches buffered in `MutationBuffer`, row
dicts built natively (column names shared between rows), and the garbage collector deferred,
not left off, while a poll or scan batch is built."""

import gc
from collections import OrderedDict

import pytest

import kabase.happybase as happybase
from kabase import _native
from kabase.kafka import KafkaConsumer, KafkaProducer, TopicPartition

from conftest import needs_tables, needs_topics


@pytest.fixture
def table(eng):
    c = happybase.Connection(engine=eng)
    c.create_table("t", {"cf": {}, "cg": {}})
    yield c.table("t")
    c.close()


@needs_tables
def test_batch_merges_puts_per_row(table):
    with table.batch() as b:
        b.put(b"r", {b"cf:a": b"1", b"cf:b": b"1"})
        b.put("r", {"cf:a": "2", b"cg:c": bytearray(b"3")})  # str and bytearray convert
        b.put(b"s", OrderedDict([(b"cf:a", memoryview(b"m"))]))  # any mapping with items()
    assert table.row(b"r") == {b"cf:a": b"2", b"cf:b": b"1", b"cg:c": b"3"}
    assert table.row(b"s") == {b"cf:a": b"m"}


@needs_tables
def test_batch_many_columns_in_one_row(table):
    # More columns than a row searches linearly: the per-row index keeps the last value.
    with table.batch() as b:
        for rnd in range(3):
            b.put(b"wide", {b"cf:q%03d" % i: b"%d-%d" % (rnd, i) for i in range(100)})
    row = table.row(b"wide")
    assert len(row) == 100 and all(row[b"cf:q%03d" % i] == b"2-%d" % i for i in range(100))


@needs_tables
def test_batch_bad_input_buffers_nothing(table):
    b = table.batch()
    b.put(b"ok", {b"cf:a": b"1"})
    with pytest.raises(TypeError, match="value must be str or bytes, not int"):
        b.put(b"bad", {b"cf:a": b"1", b"cf:b": 5})
    with pytest.raises(TypeError, match="row key must be str or bytes, not int"):
        b.put(7, {b"cf:a": b"1"})
    with pytest.raises(TypeError, match="column must be str or bytes, not NoneType"):
        b.put(b"bad", {None: b"1"})
    with pytest.raises(TypeError, match="'data' must be a dict, not list"):
        b.put(b"bad", [b"cf:a"])
    with pytest.raises(TypeError, match="column must be str or bytes"):
        b.delete(b"bad", [1])
    b.send()
    assert table.row(b"ok") == {b"cf:a": b"1"}
    assert table.row(b"bad") == {}


@needs_tables
def test_batch_size_counts_cells_and_deletes(table):
    b = table.batch(batch_size=4)
    b.put(b"a", {b"cf:x": b"1", b"cf:y": b"1", b"cf:z": b"1"})  # 3 mutations: kept
    assert table.row(b"a") == {}
    b.delete(b"old", [b"cf:x"])  # the 4th: sent
    assert table.row(b"a") == {b"cf:x": b"1", b"cf:y": b"1", b"cf:z": b"1"}
    b.put(b"c", {})  # an empty put sends nothing and fails nothing
    b.send()


@needs_tables
def test_batch_put_then_delete_same_row(table):
    table.put(b"r", {b"cf:a": b"0", b"cg:b": b"0"})
    with table.batch() as b:
        b.put(b"r", {b"cf:c": b"1"})
        b.delete(b"r", [b"cg"])
    assert table.row(b"r") == {b"cf:a": b"0", b"cf:c": b"1"}


@needs_tables
def test_buffer_native_api(table):
    buf = _native.MutationBuffer(55)
    assert not buf and len(buf) == 0
    assert buf.put(b"r", {b"cf:a": b"1"}, True) == 1
    assert buf.put(b"r", {b"cf:a": b"2", b"cf:b": b"2"}, False) == 3
    assert buf and len(buf) == 3
    buf.send(table._native())
    assert not buf and len(buf) == 0
    assert table.row(b"r", include_timestamp=True) == {b"cf:a": (b"2", 55), b"cf:b": (b"2", 55)}
    buf.put(b"x", {b"nofamily": b"1"}, True)
    with pytest.raises(Exception, match="family:qualifier"):
        buf.send(table._native())
    assert not buf  # emptied even when applying failed
    buf.put(b"y", {b"cf:a": b"1"}, True)
    buf.clear()
    buf.send(table._native())
    assert table.row(b"y") == {}


@needs_tables
def test_scan_rows_with_varying_columns(table):
    # Column-name objects are shared between rows by position; rows whose columns differ
    # must still get their own names.
    rows = {
        b"r1": {b"cf:a": b"1", b"cf:b": b"2"},
        b"r2": {b"cf:b": b"3", b"cg:c": b"4"},
        b"r3": {b"cf:a": b"5"},
        b"r4": {b"cf:a": b"6", b"cf:b": b"7", b"cg:c": b"8", b"cg:d": b"9"},
        b"r5": {b"cg:d": b""},
    }
    with table.batch() as b:
        for k, v in rows.items():
            b.put(k, v)
    assert dict(table.scan()) == rows
    assert dict(table.scan(batch_size=2)) == rows
    assert dict(table.rows(list(rows))) == rows
    ts = dict(table.scan(include_timestamp=True))
    assert {k: {c: v for c, (v, _) in d.items()} for k, d in ts.items()} == rows
    # the cells API (lists of (column, value, ts)) too
    got = {r: {c: v for c, v, _ in cells} for r, cells in table._native().scan().next_batch(100)}
    assert got == rows


@needs_tables
def test_scan_names_kept_across_calls(table):
    # A scanner keeps its column-name objects from call to call: the same column in two calls
    # is one bytes object, and a column that changes at a position between calls gets its own.
    with table.batch() as b:
        b.put(b"a", {b"cf:x": b"1"})
        b.put(b"b", {b"cf:x": b"2"})
        b.put(b"c", {b"cf:y": b"3"})
        b.put(b"d", {b"cf:xy": b"4", b"cg:x": b"5"})
        b.put(b"e", {b"cf:x": b"6"})
    sc = table._native().scan()
    (r1,) = sc.next_batch(1, True)
    (r2,) = sc.next_batch(1, True)
    (k1,), (k2,) = r1[1], r2[1]
    assert k1 == k2 == b"cf:x" and k1 is k2
    rest = sc.next_batch(10, True)
    assert rest == [(b"c", {b"cf:y": b"3"}), (b"d", {b"cf:xy": b"4", b"cg:x": b"5"}), (b"e", {b"cf:x": b"6"})]
    sc = table._native().scan()
    got = [sc.next_batch(1)[0] for _ in range(5)]
    assert [(r, [(c, v) for c, v, _ in cells]) for r, cells in got] == [
        (b"a", [(b"cf:x", b"1")]),
        (b"b", [(b"cf:x", b"2")]),
        (b"c", [(b"cf:y", b"3")]),
        (b"d", [(b"cf:xy", b"4"), (b"cg:x", b"5")]),
        (b"e", [(b"cf:x", b"6")]),
    ]
    assert sc.next_batch(1) == []


@needs_tables
def test_scan_batches_across_native_chunks(table):
    # `next_batch` reads and converts rows a chunk (64) at a time into one buffer: batch sizes
    # around and across chunk boundaries must give every row once, in order, then [] for good.
    keys = [b"k%04d" % i for i in range(300)]
    with table.batch() as b:
        for i, k in enumerate(keys):
            b.put(k, {b"cf:v": b"%d" % i})
    for size in (1, 63, 64, 65, 129, 1000):
        sc = table._native().scan()
        got = []
        while True:
            chunk = sc.next_batch(size, True)
            assert len(chunk) <= size
            if not chunk:
                break
            got.extend(chunk)
        assert [r for r, _ in got] == keys, size
        assert got[299] == (b"k0299", {b"cf:v": b"299"})
        assert sc.next_batch(size) == []
    sc = table._native().scan(limit=70)
    assert len(sc.next_batch(1000)) == 70
    sc = table._native().scan()
    assert len(sc.next_batch(100)) == 100
    sc.close()
    assert sc.next_batch(100) == []



@needs_tables
def test_scan_reused_row_buffers_hold_only_the_new_row(table):
    # `next_batch` refills one chunk's rows in place (`RowStream::refill`): a slot that held a
    # wide row with long values must, when it holds a narrower row next, show only that row's
    # cells and values, through chunk after chunk (200 rows > several chunks of 64).
    rows = {}
    for i in range(200):
        width = 1 + (i * 7) % 5
        rows[b"w%04d" % i] = {b"cf:c%d" % j: (b"%d-" % i) * ((i * 13 + j) % 9) for j in range(width)}
    with table.batch() as b:
        for k, v in rows.items():
            b.put(k, v)
    assert dict(table.scan(batch_size=1000)) == rows
    assert dict(table.scan(batch_size=50)) == rows
    sc = table._native().scan()
    got = {}
    while True:
        chunk = sc.next_batch(70)
        if not chunk:
            break
        for r, cells in chunk:
            got[r] = {c: v for c, v, _ in cells}
    assert got == rows

def _fill(eng, n):
    p = KafkaProducer(engine=eng)
    p.send_batch("g", [b"v%d" % i for i in range(n)])
    p.flush()
    p.close()


@needs_tables
def test_scan_defers_the_collector_across_chunks(table):
    # `next_batch` pauses the collector for a call that reads more than one 64-row chunk: the
    # 3,000 tracked objects of 1,000 timestamped rows (the row's tuple, the value's tuple, the
    # dict) would run about four young collections while built, paused they run one after (a
    # reading of the stats may itself allocate and run one more). One chunk is not paused; the
    # collector is on after every call.
    with table.batch() as b:
        for i in range(1000):
            b.put(b"k%04d" % i, {b"cf:a": b"1"})
    assert gc.get_threshold()[0] <= 1000
    for _ in range(3):
        gc.collect()
        before = gc.get_stats()[0]["collections"]
        rows = table._native().scan().next_batch(1000, True, True)
        after = gc.get_stats()[0]["collections"]
        assert len(rows) == 1000 and rows[999][1][b"cf:a"][0] == b"1" and gc.isenabled()
        assert after - before <= 2
    sc = table._native().scan()
    kept = [sc.next_batch(64, True, True) for _ in range(16)]
    assert [r for chunk in kept for r, _ in chunk] == [b"k%04d" % i for i in range(1000)]
    assert gc.isenabled()


@needs_topics
@needs_tables
def test_gc_resumed_after_batches(eng, table):
    _fill(eng, 500)
    with table.batch() as b:
        for i in range(300):
            b.put(b"k%03d" % i, {b"cf:a": b"1"})
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", consumer_timeout_ms=200)
    c.assign([TopicPartition("g", 0)])
    assert gc.isenabled()
    assert sum(len(v) for v in c.poll(timeout_ms=1000, max_records=500).values()) == 500
    assert gc.isenabled()
    assert len(list(table.scan(batch_size=300))) == 300
    assert len(table.rows([b"k%03d" % i for i in range(300)])) == 300
    assert gc.isenabled()
    # a collector the user turned off stays off
    gc.disable()
    try:
        c.seek_to_beginning()
        assert len(list(c)) == 500
        assert len(list(table.scan(batch_size=300))) == 300
        assert not gc.isenabled()
    finally:
        gc.enable()
    c.close()


@needs_topics
def test_polled_records_are_native_records_equal_to_the_namedtuple(eng):
    import pickle
    from collections import namedtuple

    from kabase.kafka.structs import ConsumerRecord

    p = KafkaProducer(engine=eng)
    p.send("nt", b"v0", key=b"k0", headers=[("h", b"x")]).get()
    p.send("nt", b"v1").get()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("nt", 0)])
    batch = c.poll(timeout_ms=1000)
    assert list(batch) == [TopicPartition("nt", 0)]
    tp = next(iter(batch))
    assert type(tp) is TopicPartition and hash(tp) == hash(TopicPartition("nt", 0)) and tp.topic == "nt"
    r0, r1 = batch[TopicPartition("nt", 0)]
    nt = namedtuple("ConsumerRecord", ConsumerRecord._fields, defaults=(-1,))
    for r in (r0, r1):
        # The native type, not a tuple subclass (the documented difference), equal to the tuple.
        assert type(r) is ConsumerRecord is _native.ConsumerRecord and not isinstance(r, tuple) and len(r) == 13
        assert r == ConsumerRecord(*r) == nt(*r) == tuple(r) and r[:5] == tuple(ConsumerRecord(*r))[:5]
        assert pickle.loads(pickle.dumps(r)) == r
        assert r._replace(offset=9).offset == 9 and r._asdict()["topic"] == "nt"
    assert (r0.key, r0.value, r0.headers, r0.offset, r0.leader_epoch) == (b"k0", b"v0", [("h", b"x")], 0, -1)
    assert (r1.key, r1.value, r1.headers, r1.serialized_key_size) == (None, b"v1", [], -1)
    c.close()


@needs_topics
def test_poll_into_other_tuple_classes(eng):
    # The native poll still makes any class taking the 13 fields as a tuple does: a namedtuple
    # (kafka-python's own) is filled directly, a tuple subclass with a __dict__ is made through
    # tuple.__new__.
    from collections import namedtuple

    from kabase.kafka.structs import ConsumerRecord

    Plain = namedtuple("ConsumerRecord", ConsumerRecord._fields, defaults=(-1,))

    class WithDict(Plain):
        pass

    _fill(eng, 3)
    c = _native.Consumer(eng, [("auto.offset.reset", "earliest")])
    c.assign([("g", 0)])
    for cls in (Plain, WithDict):
        c.seek("g", 0, 0)
        recs = c.poll(10, 1000, cls, None)
        assert [type(r) for r in recs] == [cls] * 3
        assert [r.value for r in recs] == [b"v0", b"v1", b"v2"]
        assert [r.headers for r in recs] == [[], [], []] and recs[0].headers is not recs[1].headers
    recs[0].extra = 1  # it has a __dict__
    c.close()


@needs_topics
def test_each_record_has_its_own_headers_list_and_stays_collectable(eng):
    # kafka-python gives every record a fresh mutable headers list ([] without headers). The
    # native record makes it on first read and keeps it; until then the record holds nothing
    # that can refer back to it and is off the collector's lists; once the list exists it is
    # tracked, so a cycle a user builds through `headers` is collected.
    import weakref

    _fill(eng, 200)  # more than gc.MIN_OBJECTS: built with the collector deferred
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("g", 0)])
    recs = c.poll(timeout_ms=1000, max_records=200)[TopicPartition("g", 0)]
    assert len(recs) == 200 and gc.isenabled()
    r0, r1 = recs[0], recs[1]
    assert not gc.is_tracked(r0) and not gc.is_tracked(r1)
    assert r0.headers == [] and type(r0.headers) is list and r0.headers is not r1.headers
    assert r0.headers is r0.headers and r0[7] is r0.headers
    r0.headers.append(("k", b"v"))
    assert r1.headers == [] and r0.headers == [("k", b"v")] and r0[7] == [("k", b"v")]
    assert gc.is_tracked(r0) and gc.is_tracked(r0.headers) and gc.is_tracked(r1)
    assert not gc.is_tracked(recs[2])  # not read: still off the lists

    class Sentinel:
        pass

    s = Sentinel()
    gone = weakref.ref(s)
    r1.headers.extend([s, r1])  # record -> headers -> record
    del s, r0, r1, recs
    gc.collect()
    assert gone() is None
    c.close()


@needs_topics
def test_a_record_holding_a_container_is_tracked_and_collectable(eng):
    # A deserializer's result that can hold references (a dict) keeps the record tracked from
    # the start: a cycle through the value is collected; a str value leaves it untracked.
    import json
    import weakref

    p = KafkaProducer(engine=eng)
    p.send("j", b'{"a": 1}').get()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", value_deserializer=json.loads)
    c.assign([TopicPartition("j", 0)])
    (r,) = c.poll(timeout_ms=1000)[TopicPartition("j", 0)]
    assert r.value == {"a": 1} and gc.is_tracked(r)

    class Sentinel:
        pass

    s = Sentinel()
    gone = weakref.ref(s)
    r.value["self"] = r  # record -> value dict -> record
    r.value["s"] = s
    del s, r
    gc.collect()
    assert gone() is None
    c.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", value_deserializer=bytes.decode)
    c.assign([TopicPartition("j", 0)])
    (r,) = c.poll(timeout_ms=1000)[TopicPartition("j", 0)]
    assert r.value == '{"a": 1}' and not gc.is_tracked(r)
    c.close()


@needs_topics
def test_records_unpack_like_kafka_pythons(eng):
    from kabase.kafka.structs import ConsumerRecord

    _fill(eng, 2)
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("g", 0)])
    r = c.poll(timeout_ms=1000)[TopicPartition("g", 0)][1]
    (topic, partition, offset, ts, ts_type, key, value, headers, checksum,
     ksize, vsize, hsize, epoch) = r
    assert (topic, partition, offset, ts_type, key, value, headers) == ("g", 0, 1, 0, None, b"v1", [])
    assert (checksum, ksize, vsize, hsize, epoch) == (None, -1, 2, -1, -1) and ts > 0
    assert list(r._asdict()) == list(ConsumerRecord._fields)
    kafka_fetcher = pytest.importorskip("kafka.consumer.fetcher")
    # kafka-python's own record has the same field names (2.0.2 has all but leader_epoch;
    # 2.1+ adds it, 3.x moves it to third place; ours keeps 2.0.2's positions).
    theirs = kafka_fetcher.ConsumerRecord._fields
    assert set(theirs) <= set(ConsumerRecord._fields)
    c.close()


def _fill_keyed(eng):
    p = KafkaProducer(engine=eng)
    p.send("d", b'{"i": 0}', key=b"k0").get()
    p.send("d", None, key=b"k1").get()  # a tombstone
    p.send("d", b'{"i": 2}').get()  # no key
    p.close()


@needs_topics
def test_deserializers_run_in_the_native_batch(eng):
    import json

    _fill_keyed(eng)
    seen = []

    def vd(b):
        seen.append(b)
        return json.loads(b)

    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", key_deserializer=bytes.decode,
                      value_deserializer=vd, consumer_timeout_ms=200)
    c.assign([TopicPartition("d", 0)])
    recs = c.poll(timeout_ms=1000)[TopicPartition("d", 0)]
    assert [(r.key, r.value) for r in recs] == [("k0", {"i": 0}), ("k1", None), (None, {"i": 2})]
    assert seen == [b'{"i": 0}', b'{"i": 2}']  # null values never reach the deserializer
    # The sizes are the serialized ones, as in kafka-python.
    assert [(r.serialized_key_size, r.serialized_value_size) for r in recs] == [(2, 8), (2, -1), (-1, 8)]
    c.seek_to_beginning()
    assert [(r.key, r.value) for r in c] == [("k0", {"i": 0}), ("k1", None), (None, {"i": 2})]
    c.close()


@needs_topics
def test_failing_deserializer_skips_nothing(eng):
    _fill_keyed(eng)
    fail = [True]

    class Boom(Exception):
        pass

    def vd(b):
        if fail[0] and b == b'{"i": 2}':
            raise Boom("bad value")
        return b.upper()

    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", value_deserializer=vd)
    c.assign([TopicPartition("d", 0)])
    with pytest.raises(Boom):
        c.poll(timeout_ms=1000)
    assert gc.isenabled()
    assert c.position(TopicPartition("d", 0)) == 0  # the batch was given back
    with pytest.raises(Boom):  # the same record fails again
        c.poll(timeout_ms=1000)
    fail[0] = False
    recs = c.poll(timeout_ms=1000)[TopicPartition("d", 0)]
    assert [(r.offset, r.value) for r in recs] == [(0, b'{"I": 0}'), (1, None), (2, b'{"I": 2}')]
    c.close()


@needs_topics
def test_native_poll_checks_deserializers(eng):
    from kabase.kafka.structs import ConsumerRecord

    _fill(eng, 1)
    c = _native.Consumer(eng, [("auto.offset.reset", "earliest")])
    c.assign([("g", 0)])
    with pytest.raises(TypeError):
        c.poll(10, 0, None, None, bytes.decode)  # deserializers need record_cls
    with pytest.raises(TypeError):
        c.poll(10, 0, ConsumerRecord, None, None, "not callable")
    assert c.position("g", 0) == 0  # checked before fetching
    c.close()
