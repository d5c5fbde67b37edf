import json
import threading
import time

import pytest

import kabase
from kabase import errors
from kabase.kafka import (ConsumerRecord, KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndTimestamp,
                          RecordMetadata, TopicPartition)
from kabase.kafka import errors as kerrors
from kabase.kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic

from conftest import needs_topics

pytestmark = needs_topics


def drain(consumer, n, timeout=5.0):
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        for recs in consumer.poll(timeout_ms=100).values():
            out.extend(recs)
    return out


def test_send_get_callbacks_and_payload_types(eng):
    p = KafkaProducer("localhost:9092", engine=eng)
    fut = p.send("t1", b"raw", key=b"k", headers=[("h", b"v")], timestamp_ms=1234)
    md = fut.get(timeout=5)
    assert isinstance(md, RecordMetadata)
    assert (md.topic, md.partition, md.offset, md.timestamp) == ("t1", 0, 0, 1234)
    assert md.topic_partition == TopicPartition("t1", 0)
    assert md.serialized_key_size == 1 and md.serialized_value_size == 3
    assert fut.is_done and fut.succeeded()
    seen = []
    f2 = p.send("t1", "text").add_callback(lambda m: seen.append(m.offset)).add_errback(lambda e: seen.append(e))
    f3 = p.send("t1", {"a": [1, 2]})
    f4 = p.send("t1", [1, "x"])
    p.flush()
    assert seen == [1]
    assert f2.is_done and f3.get().offset == 2 and f4.get().offset == 3
    late = []
    f3.add_callback(late.append)  # already done: runs at once
    assert late and late[0].offset == 2
    assert p.partitions_for("t1") == {0}
    assert "producer-metrics" in p.metrics()
    p.close()
    c = KafkaConsumer("t1", engine=eng, auto_offset_reset="earliest")
    recs = drain(c, 4)
    assert [r.value for r in recs] == [b"raw", b"text", b'{"a":[1,2]}', b'[1,"x"]']
    r0 = recs[0]
    assert isinstance(r0, ConsumerRecord)
    assert (r0.topic, r0.partition, r0.offset, r0.key, r0.timestamp, r0.timestamp_type) == ("t1", 0, 0, b"k", 1234, 0)
    assert r0.headers == [("h", b"v")]
    c.close()


def test_serializers_and_deserializers(eng):
    p = KafkaProducer(engine=eng, key_serializer=str.encode, value_serializer=lambda v: json.dumps(v).encode())
    for i in range(3):
        p.send("ser", {"i": i}, key="k%d" % i)
    p.flush()
    c = KafkaConsumer("ser", engine=eng, auto_offset_reset="earliest", consumer_timeout_ms=300,
                      key_deserializer=bytes.decode, value_deserializer=json.loads)
    got = [(m.key, m.value) for m in c]  # iteration stops after consumer_timeout_ms
    assert got == [("k0", {"i": 0}), ("k1", {"i": 1}), ("k2", {"i": 2})]


def test_send_errors(eng):
    p = KafkaProducer(engine=eng, max_request_size=1000)
    with pytest.raises(kerrors.MessageSizeTooLargeError) as ei:
        p.send("big", b"x" * 5000).get(5)
    assert isinstance(ei.value, errors.RecordTooLarge)  # both names catch it
    with pytest.raises(kerrors.IllegalArgumentError):
        p.send("big")
    with pytest.raises(TypeError):
        p.send("big", object())
    with pytest.raises(TypeError):
        p.send(123, b"x")
    with pytest.raises(kerrors.InvalidTopicError):
        p.send("bad topic name!", b"x").get(5)
    p.send("big", b"ok").get(5)  # the producer still works
    p.close()
    with pytest.raises(kerrors.KafkaClosedError):
        p.send("big", b"x")
    with pytest.raises(kerrors.KafkaConfigurationError):
        KafkaProducer(engine=eng, no_such_option=1)
    with pytest.raises(kerrors.KafkaConfigurationError):
        KafkaProducer(engine=eng, acks="most")
    # max_block_ms and buffer_memory reach the engine's producer (max.block.ms, buffer.memory).
    with pytest.raises(kerrors.KafkaConfigurationError):
        KafkaProducer(engine=eng, max_block_ms=-1)
    small = KafkaProducer(engine=eng, buffer_memory=4096, batch_size=1024, max_block_ms=100)
    with pytest.raises(kerrors.MessageSizeTooLargeError):
        small.send("big", b"x" * 5000).get(5)  # more than all of buffer_memory: refused at once
    small.send("big", b"fits").get(5)
    small.close()
    with pytest.raises(errors.Unsupported):
        KafkaProducer("kafka://broker:9092")


def test_batch_send_path(eng):
    p = KafkaProducer(engine=eng)
    futs = p.send_batch("batch", [b"v%d" % i for i in range(100)], keys=[b"k"] * 100)
    p.flush()
    assert [f.get().offset for f in futs] == list(range(100))


def test_consumer_positions_seek_and_offsets(eng):
    p = KafkaProducer(engine=eng)
    base = 1_000_000
    for i in range(10):
        p.send("pos", b"%d" % i, timestamp_ms=base + i * 10)
    p.flush()
    tp = TopicPartition("pos", 0)
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest")
    c.assign([tp])
    assert c.assignment() == {tp}
    assert c.beginning_offsets([tp]) == {tp: 0}
    assert c.end_offsets([tp]) == {tp: 10}
    got = c.poll(timeout_ms=500, max_records=4)
    assert [r.offset for r in got[tp]] == [0, 1, 2, 3]
    assert c.position(tp) == 4
    c.seek(tp, 8)
    assert [r.value for r in drain(c, 2)] == [b"8", b"9"]
    c.seek_to_beginning(tp)
    assert c.position(tp) == 0
    c.seek_to_end()
    assert c.position(tp) == 10
    r = c.offsets_for_times({tp: base + 35})
    assert r == {tp: OffsetAndTimestamp(4, base + 40, -1)}
    assert c.offsets_for_times({tp: base + 10_000}) == {tp: None}
    with pytest.raises(ValueError):
        c.offsets_for_times({tp: -1})
    c.seek(tp, 0)
    c.pause(tp)
    assert c.paused() == {tp}
    assert c.poll(timeout_ms=50) == {}
    c.resume(tp)
    assert len(drain(c, 10)) == 10
    assert c.partitions_for_topic("pos") == {0}
    assert c.partitions_for_topic("nope") is None
    assert "pos" in c.topics()
    with pytest.raises(kerrors.IllegalArgumentError):
        c.seek(tp, -1)
    with pytest.raises(kerrors.IllegalStateError):
        c.subscribe()
    c.close()
    with pytest.raises(kerrors.KafkaClosedError):
        c.poll()
    c.close()  # twice is fine


def test_admin(eng):
    a = KafkaAdminClient(bootstrap_servers="localhost:9092", engine=eng)
    a.create_topics([NewTopic("adm", num_partitions=3, replication_factor=1,
                              topic_configs={"retention.ms": "60000", "cleanup.policy": "delete"})])
    with pytest.raises(kerrors.TopicAlreadyExistsError):
        a.create_topics([NewTopic("adm", 1, 1)])
    assert "adm" in a.list_topics()
    d = a.describe_topics(["adm"])[0]
    assert d["topic"] == "adm" and [p["partition"] for p in d["partitions"]] == [0, 1, 2]
    a.create_partitions({"adm": NewPartitions(total_count=5)})
    assert len(a.describe_topics(["adm"])[0]["partitions"]) == 5
    cfg = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "adm")])[0]
    entries = {e.name: e for e in cfg.config_entries}
    assert entries["retention.ms"].value == "60000" and not entries["retention.ms"].is_default
    a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "adm", configs={"retention.ms": "120000"})])
    cfg = a.describe_configs([ConfigResource("TOPIC", "adm", configs=["retention.ms"])])[0]
    assert [(e.name, e.value) for e in cfg.config_entries] == [("retention.ms", "120000")]
    p = KafkaProducer(engine=eng)
    for i in range(5):
        p.send("adm", b"x", partition=1)
    p.flush()
    res = a.delete_records({TopicPartition("adm", 1): 3})
    assert res[TopicPartition("adm", 1)]["low_watermark"] == 3
    c = KafkaConsumer(engine=eng)
    assert c.beginning_offsets([TopicPartition("adm", 1)]) == {TopicPartition("adm", 1): 3}
    c.close()
    a.delete_topics(["adm"])
    assert "adm" not in a.list_topics()
    with pytest.raises(kerrors.UnknownTopicOrPartitionError):
        a.delete_topics(["adm"])
    with pytest.raises(kerrors.InvalidPartitionsError):
        a.create_topics([NewTopic("zero", 0, 1)])
    with pytest.raises(kerrors.InvalidTopicError):
        a.create_topics([NewTopic("bad/name", 1, 1)])
    with pytest.raises(kerrors.KafkaConfigurationError):
        a.create_topics([NewTopic("badcfg", 1, 1, topic_configs={"no.such.config": "1"})])


def test_transactions_read_committed(eng):
    tp = TopicPartition("txn", 0)
    prod = KafkaProducer(engine=eng, transactional_id="tx-1")
    prod.init_transactions()
    prod.begin_transaction()
    prod.send("txn", b"c1")
    prod.send("txn", b"c2")
    prod.commit_transaction()
    prod.begin_transaction()
    prod.send("txn", b"a1")
    prod.flush()  # in the log, then aborted
    prod.abort_transaction()
    prod.begin_transaction()
    prod.send("txn", b"open")
    prod.flush()
    rc = KafkaConsumer(engine=eng, isolation_level="read_committed", auto_offset_reset="earliest")
    rc.assign([tp])
    ru = KafkaConsumer(engine=eng, isolation_level="read_uncommitted", auto_offset_reset="earliest")
    ru.assign([tp])
    assert [r.value for r in drain(rc, 3, timeout=0.5)] == [b"c1", b"c2"]  # open txn: stops at the LSO
    assert [r.value for r in drain(ru, 4)] == [b"c1", b"c2", b"a1", b"open"]
    prod.commit_transaction()
    assert [r.value for r in drain(rc, 1)] == [b"open"]
    p2 = KafkaProducer(engine=eng)
    with pytest.raises(kerrors.IllegalStateError):
        p2.begin_transaction()
    prod.close()


def test_producer_shared_by_threads(eng):
    p = KafkaProducer(engine=eng)
    n, k = 4, 250

    def work(i):
        for j in range(k):
            p.send("thr", b"%d-%d" % (i, j))

    ths = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    p.flush()
    c = KafkaConsumer("thr", engine=eng, auto_offset_reset="earliest")
    vals = [r.value for r in drain(c, n * k)]
    assert len(vals) == n * k and len(set(vals)) == n * k
    for i in range(n):  # each thread's records keep their order
        mine = [v for v in vals if v.startswith(b"%d-" % i)]
        assert mine == [b"%d-%d" % (i, j) for j in range(k)]


def test_consumer_poll_releases_gil(eng):
    c = KafkaConsumer(engine=eng)
    KafkaProducer(engine=eng).send("gil", b"first").get(5)
    c.assign([TopicPartition("gil", 0)])
    c.seek_to_end()
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.005)

    th = threading.Thread(target=ticker)
    th.start()
    c.poll(timeout_ms=300)  # blocks in the engine for 300 ms without holding the GIL
    stop.set()
    th.join()
    assert len(ticks) > 10


def test_flush_and_close_time_out_with_kafka_timeout_error(tmp_path):
    """flush(timeout) and close(timeout) raise kafka-python's KafkaTimeoutError once the timeout
    passes; the records are not lost: a later flush (or the background close) completes them."""
    eng = kabase.open(str(tmp_path / "d"))
    try:
        p = KafkaProducer(engine=eng, acks="all", linger_ms=60000, batch_size=1 << 20)
        values = [b"v" * 100_000] * 300  # 30 MB handed over in one call: far more than 1 ms of work
        futs = p.send_batch("slow", values, partition=0)
        t0 = time.monotonic()
        with pytest.raises(kerrors.KafkaTimeoutError):
            p.flush(timeout=0.001)
        assert time.monotonic() - t0 < 5
        assert issubclass(kerrors.KafkaTimeoutError, errors.KabaseError)
        p.flush()  # no timeout: waits for everything
        assert all(f.is_done and f.succeeded() for f in futs[-10:])
        assert futs[-1].get().offset == 299
        with pytest.raises(ValueError):
            p.flush(timeout=-1)

        futs = p.send_batch("slow", values, partition=0)
        with pytest.raises(kerrors.KafkaTimeoutError):
            p.close(timeout=0.001)
        with pytest.raises(kerrors.KafkaClosedError):
            p.send("slow", b"x")  # closed for new records even though close timed out
        assert futs[-1].get(timeout=60).offset == 599  # the background close finishes them
        p.close()  # a second close is a no-op

        q = KafkaProducer(engine=eng)
        q.send("fast", b"x")
        q.flush(timeout=30)  # ample time: no error
        q.close(timeout=30)
    finally:
        eng.close()


def test_queued_and_direct_sends_keep_their_order(eng):
    """Plain sends are queued and handed to the engine by a native thread; sends that bypass the
    queue (headers, explicit partition) and send_batch still land after every earlier record."""
    p = KafkaProducer(engine=eng)
    futs = []
    for i in range(3000):
        if i % 500 == 499:
            futs.extend(p.send_batch("order", [b"b%d" % i, b"c%d" % i]))
        elif i % 100 == 99:
            futs.append(p.send("order", b"%d" % i, headers=[("h", b"1")]))
        elif i % 100 == 42:
            futs.append(p.send("order", b"%d" % i, partition=0))
        else:
            futs.append(p.send("order", b"%d" % i))
    p.flush()
    assert all(f.is_done for f in futs)
    assert [f.get().offset for f in futs] == list(range(len(futs)))
    assert futs[0].get(timeout=1).topic == "order"
    p.close()
