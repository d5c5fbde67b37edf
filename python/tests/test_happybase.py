import struct
import threading

import pytest

import kabase.happybase as happybase
from kabase import errors

from conftest import needs_filters, needs_tables

pytestmark = needs_tables


@pytest.fixture
def conn(eng):
    c = happybase.Connection(engine=eng)
    yield c
    c.close()


def test_connection_arguments(eng):
    with pytest.raises(ValueError):
        happybase.Connection(engine=eng, transport="nope")
    with pytest.raises(ValueError):
        happybase.Connection(engine=eng, compat="0.80")
    with pytest.raises(ValueError):
        happybase.Connection(engine=eng, protocol="json")
    with pytest.raises(TypeError):
        happybase.Connection(engine=eng, table_prefix=5)
    with pytest.raises(errors.Unsupported):
        happybase.Connection("hbase.example.com")
    c = happybase.Connection("localhost", 9090, transport="framed", protocol="compact", compat="0.96", timeout=100)
    assert c.host == "localhost" and c.port == 9090
    c.close()
    with pytest.raises(errors.Closed):
        c.tables()
    c.open()
    c.tables()


def test_create_table_defaults_and_families(conn):
    conn.create_table("t", {"cf1": {}, "cf2:": {"max_versions": 5, "compression": "GZ", "in_memory": True,
                                                  "bloom_filter_type": "ROW", "time_to_live": 3600,
                                                  "block_cache_enabled": False}})
    fams = conn.table("t").families()
    assert set(fams) == {b"cf1", b"cf2"}
    assert fams[b"cf1"]["max_versions"] == 3  # Thrift ColumnDescriptor's default
    assert fams[b"cf1"]["name"] == b"cf1:"
    assert fams[b"cf2"]["max_versions"] == 5 and fams[b"cf2"]["time_to_live"] == 3600
    assert b"t" in conn.tables()
    with pytest.raises(ValueError):
        conn.create_table("empty", {})
    with pytest.raises(happybase.AlreadyExists):
        conn.create_table("t", {"cf1": {}})
    with pytest.raises(TypeError):
        conn.create_table("t9", {"cf": {"bogus_option": 1}})
    assert len(conn.table("t").regions()) >= 1


def test_delete_table_needs_disable(conn):
    conn.create_table("d", {"cf": {}})
    assert conn.is_table_enabled("d")
    with pytest.raises(errors.TableNotDisabled):
        conn.delete_table("d")
    conn.disable_table("d")
    assert not conn.is_table_enabled("d")
    conn.enable_table("d")
    conn.delete_table("d", disable=True)
    assert b"d" not in conn.tables()


def test_table_prefix(eng):
    c = happybase.Connection(engine=eng, table_prefix="app", table_prefix_separator=b"_")
    c.create_table("users", {"cf": {}})
    assert c.tables() == [b"users"]
    assert c.table("users").name == b"app_users"
    plain = happybase.Connection(engine=eng)
    assert b"app_users" in plain.tables()
    assert plain.table("app_users").row(b"x") == {}


def test_row_rows_cells_timestamps(conn):
    conn.create_table("r", {"cf": {}})
    t = conn.table("r")
    t.put(b"row1", {b"cf:a": b"v1"}, timestamp=10)
    t.put(b"row1", {b"cf:a": b"v2"}, timestamp=20)
    t.put(b"row1", {b"cf:a": b"v3", b"cf:b": b"x"}, timestamp=30)
    assert t.row(b"row1") == {b"cf:a": b"v3", b"cf:b": b"x"}
    assert t.row(b"row1", columns=[b"cf:b"]) == {b"cf:b": b"x"}
    assert t.row(b"row1", columns=["cf"]) == {b"cf:a": b"v3", b"cf:b": b"x"}
    assert t.row(b"row1", include_timestamp=True)[b"cf:a"] == (b"v3", 30)
    # timestamp on reads is an exclusive upper bound (HBase Thrift)
    assert t.row(b"row1", timestamp=30) == {b"cf:a": b"v2"}
    assert t.cells(b"row1", b"cf:a") == [b"v3", b"v2", b"v1"]  # max_versions=3 by default
    assert t.cells(b"row1", b"cf:a", versions=2, include_timestamp=True) == [(b"v3", 30), (b"v2", 20)]
    assert t.cells(b"row1", b"cf:a", timestamp=20) == [b"v1"]
    t.put("row2", {"cf:a": "s"})  # str is UTF-8
    assert t.rows([b"row1", b"nope", b"row2"], columns=[b"cf:a"]) == [(b"row1", {b"cf:a": b"v3"}), (b"row2", {b"cf:a": b"s"})]
    assert t.rows([]) == {}
    with pytest.raises(TypeError):
        t.row(b"row1", columns="cf:a")
    with pytest.raises(TypeError):
        t.row(b"row1", timestamp="10")
    with pytest.raises(ValueError):
        t.cells(b"row1", b"cf:a", versions=0)


def test_delete_variants(conn):
    conn.create_table("del", {"cf": {}, "cg": {}})
    t = conn.table("del")
    t.put(b"r", {b"cf:a": b"1", b"cf:b": b"2", b"cg:c": b"3"})
    t.delete(b"r", columns=[b"cf:a"])
    assert t.row(b"r") == {b"cf:b": b"2", b"cg:c": b"3"}
    t.delete(b"r", columns=[b"cg"])
    assert t.row(b"r") == {b"cf:b": b"2"}
    t.delete(b"r")
    assert t.row(b"r") == {}
    t.put(b"s", {b"cf:a": b"old"}, timestamp=5)
    t.put(b"s", {b"cf:a": b"new"}, timestamp=50)
    t.delete(b"s", timestamp=10)  # deletes versions <= 10
    assert t.cells(b"s", b"cf:a") == [b"new"]


def test_batch_and_transaction_rollback(conn):
    conn.create_table("b", {"cf": {}})
    t = conn.table("b")
    with t.batch() as b:
        for i in range(10):
            b.put(b"row%d" % i, {b"cf:x": b"%d" % i})
        b.delete(b"row0")
    assert t.row(b"row0") == {}
    assert t.row(b"row9") == {b"cf:x": b"9"}

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with t.batch(transaction=True) as b:
            b.put(b"txn", {b"cf:x": b"1"})
            b.delete(b"row9")
            raise Boom()
    assert t.row(b"txn") == {}  # nothing applied
    assert t.row(b"row9") == {b"cf:x": b"9"}

    with pytest.raises(Boom):
        with t.batch() as b:  # without transaction, what was buffered is sent
            b.put(b"nontxn", {b"cf:x": b"1"})
            raise Boom()
    assert t.row(b"nontxn") == {b"cf:x": b"1"}

    b = t.batch(batch_size=3)
    for i in range(7):
        b.put(b"bs%d" % i, {b"cf:x": b"1"})
    assert len(list(t.scan(row_prefix=b"bs"))) == 6  # two automatic sends so far
    b.send()
    assert len(list(t.scan(row_prefix=b"bs"))) == 7
    with pytest.raises(TypeError):
        t.batch(transaction=True, batch_size=5)
    with pytest.raises(ValueError):
        t.batch(batch_size=0)
    with t.batch(timestamp=123) as b:
        b.put(b"ts", {b"cf:x": b"1"})
    assert t.row(b"ts", include_timestamp=True) == {b"cf:x": (b"1", 123)}


def test_scan(conn):
    conn.create_table("s", {"cf": {}})
    t = conn.table("s")
    with t.batch() as b:
        for i in range(50):
            b.put(b"k%03d" % i, {b"cf:v": b"%d" % i, b"cf:w": b"w"})
    keys = [k for k, _ in t.scan()]
    assert keys == [b"k%03d" % i for i in range(50)]
    assert [k for k, _ in t.scan(row_start=b"k010", row_stop=b"k013")] == [b"k010", b"k011", b"k012"]
    assert [k for k, _ in t.scan(row_prefix=b"k04", batch_size=2)] == [b"k%03d" % i for i in range(40, 50)]
    assert [k for k, _ in t.scan(limit=5, batch_size=2)] == [b"k%03d" % i for i in range(5)]
    assert [k for k, _ in t.scan(reverse=True, limit=3)] == [b"k049", b"k048", b"k047"]
    k, d = next(t.scan(columns=[b"cf:w"]))
    assert d == {b"cf:w": b"w"}
    k, d = next(t.scan(include_timestamp=True, sorted_columns=True))
    assert list(d) == [b"cf:v", b"cf:w"] and isinstance(d[b"cf:v"], tuple)
    with pytest.raises(TypeError):
        list(t.scan(row_prefix=b"k", row_start=b"k"))
    with pytest.raises(ValueError):
        list(t.scan(batch_size=0))
    with pytest.raises(ValueError):
        list(t.scan(limit=0))



def test_scan_rows_with_different_columns(conn):
    # Rows of one batch whose columns differ position by position: a name made for one row must
    # not be reused for another row's different column (the binding shares name objects).
    conn.create_table("cols", {"c": {}, "cf": {"max_versions": 2}, "cf2": {}})
    t = conn.table("cols")
    rows = {
        b"r1": {b"cf:a": b"1", b"cf:b": b"2"},
        b"r2": {b"cf:b": b"3", b"cf2:a": b"4"},
        b"r3": {b"cf:ab": b"5"},
        b"r4": {b"c:fa": b"6", b"cf:a": b"7"},
        b"r5": {b"cf:a": b"8", b"cf:b": b"9", b"cf2:": b"10"},
        b"r6": {b"cf:a:b": b"11", b"cf2:a": b"12"},
        b"r7": {b"cf:a": b"13", b"cf:b": b"14"},
    }
    with t.batch() as b:
        for k, d in rows.items():
            b.put(k, d)
    t.put(b"r7", {b"cf:a": b"15"})  # two versions of r7's cf:a: the scan keeps the newest
    want = dict(rows)
    want[b"r7"] = {b"cf:a": b"15", b"cf:b": b"14"}
    for batch_size in (1, 3, 100):
        assert dict(t.scan(batch_size=batch_size)) == want
        got = dict(t.scan(batch_size=batch_size, include_timestamp=True))
        assert {k: {c: v for c, (v, _) in d.items()} for k, d in got.items()} == want
        assert all(isinstance(ts, int) for d in got.values() for _, ts in d.values())
    assert t.rows(list(want)) == list(want.items())



def test_scan_longer_than_a_native_chunk(conn):
    # happybase's scan reads the native scanner in chunks smaller than `batch_size`: every
    # row still comes once, in order, whatever the batch size, limit and direction.
    conn.create_table("long", {"cf": {}})
    t = conn.table("long")
    n = 1000
    with t.batch() as b:
        for i in range(n):
            b.put(b"k%04d" % i, {b"cf:v": b"%d" % i})
    want = [(b"k%04d" % i, {b"cf:v": b"%d" % i}) for i in range(n)]
    for batch_size in (1, 63, 64, 65, 1000, 5000):
        assert list(t.scan(batch_size=batch_size)) == want
        assert list(t.scan(batch_size=batch_size, sorted_columns=True)) == want
    assert list(t.scan(batch_size=5000, limit=130)) == want[:130]
    assert list(t.scan(batch_size=5000, reverse=True)) == want[::-1]
    assert list(t.scan(row_start=b"k0100", row_stop=b"k0300")) == want[100:300]
    it = t.scan(batch_size=5000)
    assert [next(it) for _ in range(70)] == want[:70]
    it.close()  # ends the scan early, as a generator


@needs_filters
def test_scan_filter_strings(conn):
    conn.create_table("f", {"cf": {}})
    t = conn.table("f")
    with t.batch() as b:
        for i in range(20):
            b.put(b"r%02d" % i, {b"cf:v": b"%d" % (i % 3), b"cf:name": b"n%d" % i})
    assert [k for k, _ in t.scan(filter="PrefixFilter('r1')")] == [b"r%02d" % i for i in range(10, 20)]
    got = [k for k, _ in t.scan(filter="SingleColumnValueFilter('cf', 'v', =, 'binary:0')")]
    assert got == [b"r%02d" % i for i in range(20) if i % 3 == 0]
    got = list(t.scan(filter="KeyOnlyFilter() AND FirstKeyOnlyFilter()", limit=1))
    assert got == [(b"r00", {b"cf:name": b""})]
    with pytest.raises(errors.FilterSyntax):
        list(t.scan(filter="NoSuchFilter("))


def test_counters(conn):
    conn.create_table("c", {"cf": {}})
    t = conn.table("c")
    assert t.counter_get(b"r", b"cf:n") == 0
    assert t.counter_inc(b"r", b"cf:n") == 1
    assert t.counter_inc(b"r", b"cf:n", value=10) == 11
    assert t.counter_dec(b"r", b"cf:n", value=2) == 9
    assert t.row(b"r")[b"cf:n"] == struct.pack(">q", 9)  # 8-byte big-endian signed long
    t.counter_set(b"r", b"cf:n", -5)
    assert t.counter_get(b"r", b"cf:n") == -5
    t.put(b"r", {b"cf:s": b"abc"})
    with pytest.raises(errors.NotALong):
        t.counter_inc(b"r", b"cf:s")
    with pytest.raises(TypeError):
        t.counter_inc(b"r", b"cf:n", value="1")


def test_counters_from_threads(conn):
    conn.create_table("ct", {"cf": {}})
    t = conn.table("ct")

    def work():
        for _ in range(200):
            t.counter_inc(b"r", b"cf:n")

    ths = [threading.Thread(target=work) for _ in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert t.counter_get(b"r", b"cf:n") == 800


def test_pool(eng):
    pool = happybase.ConnectionPool(size=2, engine=eng)
    with pool.connection() as c1:
        with pool.connection() as again:
            assert again is c1  # the same thread gets its connection back
        c1.create_table("p", {"cf": {}})
        hold, release = threading.Event(), threading.Event()

        def holder():
            with pool.connection(timeout=1) as c2:
                assert c2 is not c1
                hold.set()
                release.wait(5)

        th = threading.Thread(target=holder)
        th.start()
        assert hold.wait(5)
        err = {}

        def third():
            try:
                with pool.connection(timeout=0.05):
                    pass
            except Exception as e:  # noqa: BLE001
                err["e"] = e

        t3 = threading.Thread(target=third)
        t3.start()
        t3.join()
        release.set()
        th.join()
        assert isinstance(err.get("e"), happybase.NoConnectionsAvailable)
    with pool.connection(timeout=1) as c:
        assert c.table("p").row(b"x") == {}
    with pytest.raises(ValueError):
        happybase.ConnectionPool(size=0, engine=eng)
    with pytest.raises(TypeError):
        happybase.ConnectionPool(size="2", engine=eng)
