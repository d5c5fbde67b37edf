"""kabase.kafka.ConsumerRecord, the native record a poll returns, against kafka-python's
namedtuple: every behaviour is checked against a namedtuple holding the same fields."""

import copy
import gc
import operator
import pickle
import threading
from collections import namedtuple
from collections.abc import Sequence

import pytest

from kabase import _native
from kabase.kafka import ConsumerRecord, KafkaConsumer, KafkaProducer, TopicPartition

from conftest import needs_topics

pytestmark = needs_topics

FIELDS = ("topic", "partition", "offset", "timestamp", "timestamp_type", "key", "value", "headers",
          "checksum", "serialized_key_size", "serialized_value_size", "serialized_header_size", "leader_epoch")
# The reference: the namedtuple kabase.kafka used to return (kafka-python 2.0.2's fields, then
# leader_epoch with its default).
NT = namedtuple("ConsumerRecord", FIELDS, defaults=(-1,))


@pytest.fixture
def polled(eng):
    """Two polled records: one with key and headers, one with a null key and none."""
    p = KafkaProducer(engine=eng)
    p.send("r", b"value-0", key=b"k0", headers=[("h1", b"x"), ("h2", None)]).get()
    p.send("r", b"value-1").get()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("r", 0)])
    recs = c.poll(timeout_ms=1000)[TopicPartition("r", 0)]
    c.close()
    assert len(recs) == 2
    return recs


def ref(r):
    """The namedtuple with the record's fields."""
    return NT(*[getattr(r, f) for f in FIELDS])


def test_type_is_the_native_one_and_exported():
    assert ConsumerRecord is _native.ConsumerRecord
    import kabase.kafka.consumer.fetcher as fetcher
    import kabase.kafka.structs as structs

    assert structs.ConsumerRecord is fetcher.ConsumerRecord is ConsumerRecord
    assert ConsumerRecord.__name__ == "ConsumerRecord" and ConsumerRecord.__module__ == "kabase._native"


def test_fields_and_defaults():
    assert ConsumerRecord._fields == NT._fields == FIELDS
    assert ConsumerRecord._field_defaults == NT._field_defaults == {"leader_epoch": -1}
    assert ConsumerRecord.__match_args__ == FIELDS


def test_attributes_of_polled_records(polled):
    r0, r1 = polled
    assert (r0.topic, r0.partition, r0.offset, r0.timestamp_type, r0.key, r0.value) == ("r", 0, 0, 0, b"k0", b"value-0")
    assert r0.headers == [("h1", b"x"), ("h2", None)] and r0.checksum is None and r0.leader_epoch == -1
    assert (r0.serialized_key_size, r0.serialized_value_size, r0.serialized_header_size) == (2, 7, 5)
    assert (r1.offset, r1.key, r1.headers, r1.serialized_key_size, r1.serialized_header_size) == (1, None, [], -1, -1)
    assert isinstance(r0.timestamp, int) and r0.timestamp > 1_500_000_000_000
    assert type(r0.topic) is str and r0.topic is r1.topic  # one str per batch
    assert type(r0.value) is bytes and r0.value is r0.value
    with pytest.raises(AttributeError):
        r0.offset = 5
    with pytest.raises(AttributeError):
        r0.nonexistent
    with pytest.raises(AttributeError):
        r0.extra = 1  # no __dict__, as a namedtuple has none


def test_indexing_slicing_len(polled):
    for r in polled:
        t = ref(r)
        assert len(r) == len(t) == 13
        for i in range(-13, 13):
            assert r[i] == t[i]
        for sl in (slice(None), slice(2, 5), slice(None, None, -1), slice(-3, None), slice(1, 100, 3)):
            assert r[sl] == t[sl] and type(r[sl]) is tuple
        for bad in (13, -14, 1 << 80):
            with pytest.raises(IndexError):
                r[bad]
        with pytest.raises(TypeError):
            r["topic"]
        with pytest.raises(TypeError):
            r[1.0]
        assert r[True] == t[1]


def test_iteration_unpacking_and_membership(polled):
    r = polled[0]
    (topic, partition, offset, ts, ts_type, key, value, headers, checksum, ksize, vsize, hsize, epoch) = r
    assert (topic, offset, key, value, headers, epoch) == ("r", 0, b"k0", b"value-0", [("h1", b"x"), ("h2", None)], -1)
    assert list(r) == list(ref(r)) and tuple(r) == tuple(ref(r))
    assert list(reversed(r)) == list(reversed(ref(r)))
    first, *rest = r
    assert first == "r" and len(rest) == 12
    assert b"value-0" in r and "r" in r and b"nope" not in r
    assert isinstance(r, Sequence) and not isinstance(r, tuple)


def test_equality_ordering_and_hash(polled):
    r0, r1 = polled
    t0 = ref(r0)
    assert r0 == t0 and t0 == r0 and r0 == tuple(t0) and tuple(t0) == r0
    assert not (r0 != t0) and r0 != r1 and r0 != ref(r1) and not (r0 == ref(r1))
    assert r0 == ConsumerRecord(*t0) and ConsumerRecord(*t0) == r0
    assert r0 != list(t0) and r0 != None and r0 != "r"  # noqa: E711 - as a tuple compares
    assert (r0 < r1) == (t0 < ref(r1)) and (r1 > r0) == (ref(r1) > t0) and r0 <= t0 and r0 >= tuple(t0)
    with pytest.raises(TypeError):
        r0 < 5
    # Polled records hold a headers list: unhashable, as kafka-python's are.
    with pytest.raises(TypeError):
        hash(r0)
    with pytest.raises(TypeError):
        hash(t0)
    hashable = ConsumerRecord("t", 0, 1, 2, 0, None, b"v", (), None, -1, 1, -1)
    assert hash(hashable) == hash(NT("t", 0, 1, 2, 0, None, b"v", (), None, -1, 1, -1)) == hash(tuple(hashable))
    assert {hashable: 1}[NT(*hashable)] == 1


def test_repr_is_the_namedtuples(polled):
    for r in polled:
        assert repr(r) == repr(ref(r))
        assert str(r) == str(ref(r))
    r = polled[1]
    r.headers.append(r)  # a cycle prints, the list's own guard stopping it as for a namedtuple
    t = ref(r)._replace(headers=[])
    t.headers.append(t)
    assert repr(r).count("[...]") == repr(t).count("[...]") == 1
    r.headers.clear()


def test_asdict_replace_make(polled):
    r = polled[0]
    d = r._asdict()
    assert d == ref(r)._asdict() and list(d) == list(FIELDS) and type(d) is dict
    r2 = r._replace(offset=99, value=b"other")
    assert type(r2) is ConsumerRecord and (r2.offset, r2.value) == (99, b"other")
    assert r2 == ref(r)._replace(offset=99, value=b"other") and r.offset == 0
    assert r2.headers is r.headers  # the same objects, as a namedtuple's _replace keeps them
    assert r._replace() == r
    with pytest.raises(ValueError, match="unexpected field names"):
        r._replace(nope=1)
    m = ConsumerRecord._make(iter(list(r)))
    assert type(m) is ConsumerRecord and m == r
    with pytest.raises(TypeError):
        ConsumerRecord._make(list(r)[:12])  # _make takes every field, as the namedtuple's does
    with pytest.raises(TypeError):
        NT._make(list(r)[:12])


def test_count_and_index(polled):
    r = polled[1]
    t = ref(r)
    assert r.count(-1) == t.count(-1) == 3 and r.count(b"absent") == 0
    assert r.index(-1) == t.index(-1) and r.index(-1, 10) == t.index(-1, 10) and r.index(-1, 10, 13) == t.index(-1, 10, 13)
    assert r.index(-1, -2) == t.index(-1, -2)
    with pytest.raises(ValueError):
        r.index(b"absent")
    with pytest.raises(ValueError):
        r.index("r", 1)


def test_concatenation_and_repetition_give_tuples(polled):
    r = polled[0]
    t = ref(r)
    assert r + (1,) == t + (1,) and type(r + (1,)) is tuple
    assert (1,) + r == (1,) + t and r + r == t + t
    assert r * 2 == t * 2 and 2 * r == 2 * t and type(r * 2) is tuple
    with pytest.raises(TypeError):
        r + [1]
    with pytest.raises(TypeError):
        r * 1.5


def test_pickle_and_copy(polled):
    for r in polled:
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            back = pickle.loads(pickle.dumps(r, proto))
            assert type(back) is ConsumerRecord and back == r and back.headers == r.headers
            assert repr(back) == repr(r)
        c = copy.copy(r)
        assert c == r and c.headers is r.headers  # shallow, as for the namedtuple
        d = copy.deepcopy(r)
        assert d == r and d.headers is not r.headers
        assert r.__getnewargs__() == tuple(r)


def test_constructor_takes_any_values_like_the_namedtuple():
    r = ConsumerRecord("t", "p", 1.5, None, 0, "k", {"v": 1}, ("h",), "crc", 1, 2, 3)
    assert r.leader_epoch == -1 and r.partition == "p" and r.offset == 1.5 and r.value == {"v": 1}
    assert r == NT("t", "p", 1.5, None, 0, "k", {"v": 1}, ("h",), "crc", 1, 2, 3)
    kw = dict(zip(FIELDS, range(13)))
    assert ConsumerRecord(**kw) == tuple(range(13)) == NT(**kw)
    assert ConsumerRecord(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, leader_epoch=None).leader_epoch is None
    assert ConsumerRecord(*range(13)).headers == 7
    for args, kwargs in (((), {}), (range(11), {}), (range(14), {}), (range(13), {"topic": 1}),
                         (range(12), {"nope": 1}), ((), {"topic": 1})):
        with pytest.raises(TypeError):
            ConsumerRecord(*args, **kwargs)
        with pytest.raises(TypeError):
            NT(*args, **kwargs)
    with pytest.raises(TypeError):
        class Sub(ConsumerRecord):  # the native type is final (a namedtuple can be subclassed)
            pass


def test_attribute_access_by_name_and_getattr(polled):
    r = polled[0]
    for i, f in enumerate(FIELDS):
        assert getattr(r, f) == r[i] == ref(r)[i]
        assert operator.attrgetter(f)(r) == r[i]


def test_deserializer_results_are_stored(eng):
    import json

    p = KafkaProducer(engine=eng)
    p.send("d", b'{"i": 0}', key=b"k0").get()
    p.send("d", None, key=b"k1").get()
    p.send("d", b"[1, 2]").get()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", key_deserializer=bytes.decode,
                      value_deserializer=json.loads)
    c.assign([TopicPartition("d", 0)])
    recs = c.poll(timeout_ms=1000)[TopicPartition("d", 0)]
    assert [(r.key, r.value) for r in recs] == [("k0", {"i": 0}), ("k1", None), (None, [1, 2])]
    assert recs[0].value is recs[0].value and recs[0][6] is recs[0].value and recs[0][5] == "k0"
    assert [(r.serialized_key_size, r.serialized_value_size) for r in recs] == [(2, 8), (2, -1), (-1, 6)]
    assert recs[0] == NT(*recs[0]) and pickle.loads(pickle.dumps(recs[0])) == recs[0]
    # A deserializer may return None for a non-null value: stored as None.
    c.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", value_deserializer=lambda b: None)
    c.assign([TopicPartition("d", 0)])
    recs = c.poll(timeout_ms=1000)[TopicPartition("d", 0)]
    assert [r.value for r in recs] == [None, None, None] and [r.serialized_value_size for r in recs] == [8, -1, 6]
    c.close()


def test_iteration_yields_native_records(eng):
    p = KafkaProducer(engine=eng)
    for i in range(3):
        p.send("it", b"v%d" % i).get()
    p.close()
    c = KafkaConsumer("it", engine=eng, auto_offset_reset="earliest", consumer_timeout_ms=200)
    recs = list(c)
    assert [type(r) for r in recs] == [ConsumerRecord] * 3 and [r.value for r in recs] == [b"v0", b"v1", b"v2"]
    c.close()


def test_log_append_time_records(eng):
    eng.create_topic("lat", 1, [("message.timestamp.type", "LogAppendTime")])
    p = KafkaProducer(engine=eng)
    p.send("lat", b"v", timestamp_ms=1000).get()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("lat", 0)])
    (r,) = c.poll(timeout_ms=1000)[TopicPartition("lat", 0)]
    assert r.timestamp_type == 1 and r.timestamp != 1000 and r[4] == 1
    c.close()


def test_headers_list_is_made_once_across_threads(eng):
    p = KafkaProducer(engine=eng)
    p.send("th", b"v", headers=[("a", b"1")]).get()
    p.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("th", 0)])
    (r,) = c.poll(timeout_ms=1000)[TopicPartition("th", 0)]
    c.close()
    seen = []
    barrier = threading.Barrier(8)

    def read():
        barrier.wait()
        seen.append(r.headers)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(h is seen[0] for h in seen) and seen[0] == [("a", b"1")]
    assert gc.is_tracked(r)


# Records written in place (`FetchedMaker` in python/src/record.rs): the consumer allocates a
# polled record with the type's own `tp_alloc` and writes its Rust value into the object,
# instead of going through pyo3's constructor; pyo3's `tp_dealloc` frees it. These tests check
# that path is the one taken, and that such records hold, give back and free what they should.


def test_polled_records_are_written_in_place():
    # The layout check passed in this process: every polled record in this suite took the
    # in-place path (a layout pyo3 changed would make this false, and the records would be
    # made through pyo3 instead).
    assert _native._records_in_place() is True


def _fill_mixed(eng, topic, n):
    """n records: every third with a key and two headers, every fifth with a key and a null
    value."""
    p = KafkaProducer(engine=eng)
    for i in range(n):
        key = b"k%d" % i if i % 3 == 0 or i % 5 == 0 else None
        headers = [("a", b"%d" % i), ("b", None)] if i % 3 == 0 else None
        p.send(topic, None if i % 5 == 0 else b"v%d" % i, key=key, headers=headers)
    p.flush()
    p.close()


def _expect(i, r):
    assert r.offset == i and r.partition == 0 and r.topic == "mix"
    assert r.key == (b"k%d" % i if i % 3 == 0 or i % 5 == 0 else None)
    assert r.value == (None if i % 5 == 0 else b"v%d" % i)
    assert r.headers == ([("a", b"%d" % i), ("b", None)] if i % 3 == 0 else [])
    assert r.serialized_header_size == (1 + len(b"%d" % i) + 1 if i % 3 == 0 else -1)
    assert r.serialized_key_size == (len(r.key) if r.key is not None else -1)
    assert r.serialized_value_size == (len(r.value) if r.value is not None else -1)


def test_in_place_records_with_and_without_headers(eng):
    _fill_mixed(eng, "mix", 300)
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("mix", 0)])
    recs = c.poll(timeout_ms=1000, max_records=300)[TopicPartition("mix", 0)]
    assert len(recs) == 300
    # Nothing read yet: no record holds a container, so none is on the collector's lists.
    assert not any(gc.is_tracked(r) for r in recs)
    for i, r in enumerate(recs):
        _expect(i, r)
        assert r == ref(r) and r.headers is r.headers
        # Pickled and copied records are made from Python (the other constructor) and equal.
        assert pickle.loads(pickle.dumps(r)) == r == copy.copy(r) == copy.deepcopy(r)
    assert all(gc.is_tracked(r) for r in recs)  # every headers list was read
    c.close()


def test_freeing_in_place_records_releases_what_they_hold(eng):
    import sys
    import weakref

    _fill_mixed(eng, "mix", 200)
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([TopicPartition("mix", 0)])
    recs = c.poll(timeout_ms=1000, max_records=200)[TopicPartition("mix", 0)]
    topic, value, key = recs[1].topic, recs[1].value, recs[3].key
    headers = recs[6].headers
    counts = (sys.getrefcount(topic), sys.getrefcount(value), sys.getrefcount(key), sys.getrefcount(headers))
    del recs
    # The batch shared one topic str (a reference per record); each value, key and headers
    # list was held by its record alone.
    assert sys.getrefcount(topic) == counts[0] - 200
    assert (sys.getrefcount(value), sys.getrefcount(key), sys.getrefcount(headers)) == (counts[1] - 1, counts[2] - 1, counts[3] - 1)

    # A deserializer's objects are freed with the record (and a record holding one is tracked).
    class Box:
        def __init__(self, b):
            self.b = b

    c.close()
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", key_deserializer=Box, value_deserializer=Box)
    c.assign([TopicPartition("mix", 0)])
    recs = c.poll(timeout_ms=1000, max_records=200)[TopicPartition("mix", 0)]
    assert recs[1].value.b == b"v1" and recs[3].key.b == b"k3" and recs[0].value is None
    assert all(gc.is_tracked(r) for r in recs if r.key is not None or r.value is not None)
    refs = [weakref.ref(o) for r in recs for o in (r.key, r.value) if o is not None]
    assert len(refs) == 160 + 93  # values, keys
    del recs
    assert all(w() is None for w in refs)  # freed by reference counting, no collection needed
    c.close()


def test_in_place_records_from_threads(eng):
    # Four consumers polling in four threads at once (the GIL is released during the fetch,
    # so the records of different polls are made interleaved), each checking every record.
    _fill_mixed(eng, "mix", 2000)
    errors = []
    barrier = threading.Barrier(4)

    def run():
        try:
            c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
            c.assign([TopicPartition("mix", 0)])
            barrier.wait()
            for _ in range(3):
                c.seek_to_beginning()
                got = []
                while len(got) < 2000:
                    batch = c.poll(timeout_ms=1000, max_records=137)
                    assert batch, "a poll returned nothing"
                    got.extend(batch[TopicPartition("mix", 0)])
                for i, r in enumerate(got):
                    _expect(i, r)
                gc.collect()
            c.close()
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_freeing_any_record_releases_what_it_holds(polled):
    # Records made from Python (by the constructor, `_replace`, `_make`, unpickling, `copy`) are
    # freed by the same destructor as polled ones (`record_dealloc` in python/src/record.rs):
    # every object they hold is released at once, in any thread, without a collection.
    import sys
    import weakref

    class Obj:
        pass

    made, refs = [], []
    for make in (
        lambda o: ConsumerRecord("t", 0, 1, 2, 0, o, o, [o], None, 1, 1, -1),
        lambda o: polled[0]._replace(value=o, headers=[o]),
        lambda o: ConsumerRecord._make(["t", 0, 1, 2, 0, None, o, [], None, 1, 1, -1, o]),
        lambda o: pickle.loads(pickle.dumps(polled[1]))._replace(key=o),
    ):
        o = Obj()
        made.append(make(o))
        refs.append(weakref.ref(o))
        del o
    assert all(w() is not None for w in refs)
    gc.disable()  # nothing below may depend on the collector
    try:
        t = threading.Thread(target=made.clear)  # freed in another thread
        t.start()
        t.join()
        assert [w() for w in refs] == [None] * 4
        # A copy of a polled record holds the same headers list and value; freeing it gives
        # back exactly the references it took.
        r = polled[0]
        h, v = r.headers, r.value
        counts = (sys.getrefcount(h), sys.getrefcount(v))
        c = copy.copy(r)
        assert sys.getrefcount(h) > counts[0] and sys.getrefcount(v) > counts[1]
        del c
        assert (sys.getrefcount(h), sys.getrefcount(v)) == counts
    finally:
        gc.enable()


def test_poll_groups_records_by_partition_in_offset_order(eng3):
    # A poll's records are made first and put in their partitions' lists afterwards (each list
    # at its final size; a partition met again later in the poll is appended to): every list
    # holds its partition's records in offset order, none lost or repeated.
    p = KafkaProducer(engine=eng3)
    for i in range(3000):
        p.send("grp", b"v%d" % i, partition=i % 3)
    p.flush()
    p.close()
    c = KafkaConsumer(engine=eng3, auto_offset_reset="earliest", max_partition_fetch_bytes=4096)
    tps = [TopicPartition("grp", i) for i in range(3)]
    c.assign(tps)
    seen = {tp: [] for tp in tps}
    while sum(map(len, seen.values())) < 3000:
        batch = c.poll(timeout_ms=1000, max_records=2500)
        assert batch, "a poll returned nothing"
        for tp, recs in batch.items():
            assert all(type(r) is ConsumerRecord and r.partition == tp.partition and r.topic == "grp" for r in recs)
            seen[tp].extend(recs)
    for i, tp in enumerate(tps):
        assert [r.offset for r in seen[tp]] == list(range(1000))
        assert [r.value for r in seen[tp]] == [b"v%d" % (3 * k + i) for k in range(1000)]
    c.close()
