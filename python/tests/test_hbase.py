import pytest

from kabase import errors
from kabase.hbase import HBase

from conftest import needs_tables

pytestmark = needs_tables


def test_seed_facade_roundtrip(eng):
    hb = HBase("localhost:2181", engine=eng)
    assert hb.create_table("test", {"COLUMN_FAMILY": "cf", "COMPRESSION": "GZ"}) is True
    assert hb.create_table("test", {"COLUMN_FAMILY": "cf", "COMPRESSION": "GZ"}) is False  # no-op
    hb.put("test", {"row": "1", "cf:name": "Alice", "cf:age": "30"})
    assert hb.get("test", "1") == {"row": "1", "cf:name": "Alice", "cf:age": "30"}
    assert hb.get("test", "missing") is None
    hb.delete("test", {"row": "1"})
    assert hb.get("test", "1") is None
    assert "test" in hb.tables()
    hb.close()
    with pytest.raises(errors.Closed):
        hb.get("test", "1")


def test_create_table_variants(eng):
    hb = HBase(engine=eng)
    hb.create_table("t2", {"COLUMN_FAMILY": ["a", "b"], "VERSIONS": 3, "TTL": 3600, "BLOOMFILTER": "ROW",
                           "IN_MEMORY": "true", "KEEP_DELETED_CELLS": "FALSE", "BLOCKSIZE": 65536, "MIN_VERSIONS": 0})
    fams = {f["name"]: f for f in eng.describe_table("t2")}
    assert set(fams) == {b"a", b"b"}
    assert fams[b"a"]["max_versions"] == 3 and fams[b"a"]["ttl"] == 3600
    assert fams[b"a"]["new_version_behavior"] is False
    hb.create_table("t3", {"x": {"VERSIONS": 2, "NEW_VERSION_BEHAVIOR": "true"}, "y": {}})
    assert {f["name"] for f in eng.describe_table("t3")} == {b"x", b"y"}
    assert {f["name"]: f["new_version_behavior"] for f in eng.describe_table("t3")} == {b"x": True, b"y": False}
    with pytest.raises(errors.InvalidConfig):
        hb.create_table("t8", {"COLUMN_FAMILY": "cf", "NEW_VERSION_BEHAVIOR": "maybe"})
    with pytest.raises(errors.TableExists):
        hb.create_table("t3", {"COLUMN_FAMILY": "other"})
    with pytest.raises(errors.InvalidConfig):
        hb.create_table("t4", {"COLUMN_FAMILY": "cf", "NOPE": 1})
    with pytest.raises(errors.InvalidConfig):
        hb.create_table("t5", {"COLUMN_FAMILY": "cf", "COMPRESSION": "BOGUS"})
    with pytest.raises(errors.InvalidArgument):
        hb.create_table("t6", {})
    with pytest.raises(TypeError):
        hb.create_table("t7", 42)
    with pytest.raises(errors.InvalidName):
        hb.create_table("bad name!", {"COLUMN_FAMILY": "cf"})
    hb.delete_table("t3")
    assert "t3" not in hb.tables()


def test_values_types_and_columns(eng):
    hb = HBase(engine=eng)
    hb.create_table("v", {"COLUMN_FAMILY": ["cf", "cg"]})
    hb.put("v", {"row": b"\xff\x00", "cf:n": 5, "cf:f": 1.5, "cf:b": b"\xfe\xff", "cg:s": "x"})
    r = hb.get("v", b"\xff\x00")
    assert r == {"row": b"\xff\x00", "cf:n": "5", "cf:f": "1.5", "cf:b": b"\xfe\xff", "cg:s": "x"}
    assert hb.get("v", b"\xff\x00", columns=["cg"]) == {"row": b"\xff\x00", "cg:s": "x"}
    assert hb.get("v", b"\xff\x00", columns=["cf:n"]) == {"row": b"\xff\x00", "cf:n": "5"}
    hb.delete("v", {"row": b"\xff\x00", "cf:n": None, "cg": None})
    assert hb.get("v", b"\xff\x00") == {"row": b"\xff\x00", "cf:f": "1.5", "cf:b": b"\xfe\xff"}
    with pytest.raises(errors.InvalidArgument):
        hb.put("v", {"cf:a": "1"})  # no row
    with pytest.raises(errors.InvalidArgument):
        hb.put("v", {"row": "1", "nocolon": "1"})
    with pytest.raises(TypeError):
        hb.put("v", {"row": "1", "cf:a": object()})
    with pytest.raises(errors.NoSuchColumnFamily):
        hb.put("v", {"row": "1", "zz:a": "1"})
    with pytest.raises(errors.TableNotFound):
        hb.get("nope", "1")


def test_scan_and_timestamp(eng):
    hb = HBase(engine=eng)
    hb.create_table("s", {"COLUMN_FAMILY": "cf"})
    for i in range(20):
        hb.put("s", {"row": "r%02d" % i, "cf:i": i})
    rows = list(hb.scan("s"))
    assert [r["row"] for r in rows] == ["r%02d" % i for i in range(20)]
    assert [r["row"] for r in hb.scan("s", row_start="r05", row_stop="r08")] == ["r05", "r06", "r07"]
    assert [r["row"] for r in hb.scan("s", row_prefix="r1", limit=3)] == ["r10", "r11", "r12"]
    assert [r["row"] for r in hb.scan("s", reverse=True, limit=2)] == ["r19", "r18"]
    # More rows than one native chunk: each comes once, in order.
    hb.create_table("long", {"COLUMN_FAMILY": "cf"})
    for i in range(300):
        hb.put("long", {"row": "k%03d" % i, "cf:i": i})
    assert list(hb.scan("long")) == [{"row": "k%03d" % i, "cf:i": str(i)} for i in range(300)]
    assert [r["row"] for r in hb.scan("long", reverse=True)] == ["k%03d" % i for i in range(299, -1, -1)]
    assert len(list(hb.scan("long", limit=130))) == 130
    hb.put("s", {"row": "t", "cf:x": "old"}, timestamp=1000)
    assert hb.get("s", "t") == {"row": "t", "cf:x": "old"}
    t = hb.table("s")
    assert t.row(b"t") == {b"cf:x": b"old"}
