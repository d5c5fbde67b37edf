"""Bad input of every kind raises a clear error class and never crashes the interpreter."""

import pytest

import kabase
import kabase.happybase as happybase
from kabase import _native, errors
from kabase.hbase import HBase
from kabase.kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kabase.kafka import errors as kerrors

from conftest import needs_tables, needs_topics


@needs_tables
def test_tables_bad_input(eng):
    c = happybase.Connection(engine=eng)
    c.create_table("ok", {"cf": {}})
    t = c.table("ok")
    with pytest.raises(TypeError):
        t.put(123, {b"cf:a": b"1"})
    with pytest.raises(TypeError):
        t.put(b"r", [b"cf:a"])
    with pytest.raises(TypeError):
        t.put(b"r", {b"cf:a": 5})
    with pytest.raises(errors.InvalidArgument):
        t.put(b"r", {b"nocolon": b"1"})
    with pytest.raises(errors.NoSuchColumnFamily):
        t.put(b"r", {b"zz:a": b"1"})
    with pytest.raises(errors.InvalidArgument):
        t.put(b"", {b"cf:a": b"1"})  # empty row key
    with pytest.raises(errors.InvalidArgument):
        t.put(b"x" * 40000, {b"cf:a": b"1"})  # row key over 32767 bytes
    with pytest.raises(errors.TableNotFound):
        c.table("missing").row(b"r")
    with pytest.raises(errors.InvalidName):
        c.create_table("bad name", {"cf": {}})
    with pytest.raises(errors.InvalidName):
        c.create_table("ok2", {"bad:fam": {}})
    with pytest.raises(TypeError):
        c.create_table("ok3", {"cf": {"max_versions": "three"}})
    with pytest.raises(TypeError):
        eng.table(b"ok")  # the native layer wants str
    with pytest.raises(TypeError):
        eng.create_table("x", [{"name": b"cf", "max_versions": "x"}])
    with pytest.raises(errors.InvalidArgument):
        eng.create_table("x", [{"name": b"cf", "max_versions": -1}])
    # Scan bounds over HBase's row limit are refused as HBase's Scan refuses them; a row within
    # it whose stored key would pass the storage limit (0x00 bytes escape to two) holds nothing
    # and cannot be written. Each of these made the LSM panic before.
    for kw in ({"row_start": b"x" * 70000}, {"row_stop": b"x" * 40000}, {"row_prefix": b"x" * 40000}):
        with pytest.raises(errors.InvalidArgument, match="limited to 32767"):
            list(t.scan(**kw))
    zeros = b"\0" * 32767
    assert t.row(zeros) == {}
    assert list(t.scan(row_stop=zeros)) == []
    with pytest.raises(errors.InvalidArgument, match="storage limit"):
        t.put(zeros, {b"cf:a": b"1"})
    with pytest.raises(errors.InvalidArgument, match="storage limit"):
        t.counter_inc(zeros, b"cf:n")
    # the table still works
    t.put(b"r", {b"cf:a": b"1"})
    assert t.row(b"r") == {b"cf:a": b"1"}


@needs_tables
def test_use_after_close_tables(tmp_path):
    e = kabase.open(tmp_path / "d")
    hb = HBase(engine=e)
    hb.create_table("t", {"COLUMN_FAMILY": "cf"})
    tbl = e.table("t")
    sc = tbl.scan()
    e.close()
    with pytest.raises(errors.Closed):
        hb.put("t", {"row": "1", "cf:a": "x"})
    with pytest.raises(errors.Closed):
        tbl.get([b"1"])
    with pytest.raises(errors.Closed):
        e.list_tables()
    try:
        sc.next_batch(10)  # a scanner opened before close: an error or an empty end, never a crash
    except errors.Closed:
        pass
    sc.close()
    sc.close()
    with pytest.raises(errors.Closed):
        e.sync()


@needs_topics
def test_use_after_close_topics(tmp_path):
    e = kabase.open(tmp_path / "d2")
    p = KafkaProducer(engine=e)
    p.send("t", b"x").get(5)
    c = KafkaConsumer(engine=e, auto_offset_reset="earliest")
    c.assign([TopicPartition("t", 0)])
    e.close()
    with pytest.raises(errors.Closed):
        p.send("t", b"y").get(5)
    with pytest.raises(errors.Closed):
        c.poll(timeout_ms=10)
    with pytest.raises(kerrors.KafkaError):
        KafkaProducer(engine=e)


@needs_topics
def test_topics_bad_input(eng):
    p = KafkaProducer(engine=eng)
    with pytest.raises(TypeError):
        p.send("t", value=b"x", key=5)
    with pytest.raises(TypeError):
        p.send("t", value=b"x", headers=[("h", 5)])
    with pytest.raises(kerrors.UnknownTopicOrPartitionError):
        p.send("t", value=b"x", partition=7).get(5)
    with pytest.raises(kerrors.UnknownTopicOrPartitionError):
        p.send("t", value=b"x", partition=-1)
    with pytest.raises(kerrors.MessageSizeTooLargeError):
        p.send("t", value=b"x" * (2 << 20)).get(5)
    # A timeout too long for the native clock is no limit (it made flush panic before).
    p.send("t", value=b"y")
    p.flush(1e20)
    assert p.send("t", value=b"z").get(1e300).offset >= 0
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(errors.InvalidArgument, match="timeout"):
            p.flush(bad)
    c = KafkaConsumer(engine=eng)
    with pytest.raises(TypeError):
        c.assign(["t"])
    with pytest.raises(TypeError):
        c.assign("t")
    with pytest.raises(ValueError):
        c.poll(timeout_ms=-1)
    with pytest.raises(ValueError):
        c.poll(max_records=0)
    with pytest.raises(kerrors.IllegalStateError):
        c.commit()  # no group_id
    with pytest.raises(kerrors.KafkaConfigurationError):
        KafkaConsumer(engine=eng, isolation_level="dirty")
    with pytest.raises(kerrors.KafkaConfigurationError):
        KafkaConsumer(engine=eng, auto_offset_reset="sometimes")
    with pytest.raises(TypeError):
        _native.Producer(eng, [("acks", 1)])
    with pytest.raises(errors.InvalidConfig):
        _native.Producer(eng, [("no.such", "1")])
