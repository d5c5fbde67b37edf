"""Handles shared between threads."""

import threading

import kabase
import kabase.happybase as happybase
from kabase.hbase import HBase

from conftest import needs_tables


@needs_tables
def test_threads_share_engine_table_and_scans(eng):
    c = happybase.Connection(engine=eng)
    c.create_table("th", {"cf": {}})
    t = c.table("th")
    errs = []

    def writer(i):
        try:
            with t.batch() as b:
                for j in range(200):
                    b.put(b"w%d-%03d" % (i, j), {b"cf:v": b"%d" % j})
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    def reader():
        try:
            for _ in range(20):
                for _k, _d in t.scan(batch_size=50):
                    pass
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ths = [threading.Thread(target=writer, args=(i,)) for i in range(4)] + [threading.Thread(target=reader) for _ in range(2)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert not errs
    assert len(list(t.scan())) == 800



@needs_tables
def test_threads_share_one_scanner(eng):
    # Threads taking batches from one native scanner at once: every row comes out exactly once
    # (a call that finds the scanner's row buffer in use by another thread uses its own).
    c = happybase.Connection(engine=eng)
    c.create_table("one", {"cf": {}})
    t = c.table("one")
    with t.batch() as b:
        for j in range(3000):
            b.put(b"r%05d" % j, {b"cf:v": b"%d" % j})
    sc = t._native().scan(None, None, None, None, None, None, 1, False, None, 0, 100)
    got, errs = [], []

    def reader(n):
        try:
            while True:
                rows = sc.next_batch(n, True, False)
                if not rows:
                    return
                got.extend(rows)
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ths = [threading.Thread(target=reader, args=(n,)) for n in (1, 7, 64, 200)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert not errs
    assert sorted(got) == [(b"r%05d" % j, {b"cf:v": b"%d" % j}) for j in range(3000)]


@needs_tables
def test_default_engine_shared_across_threads():
    hb = HBase("localhost:2181")
    hb.create_table("shared", {"COLUMN_FAMILY": "cf"})
    engines = []

    def work(i):
        h = HBase("127.0.0.1:2181")
        engines.append(h.engine)
        h.put("shared", {"row": str(i), "cf:x": i})

    ths = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert all(e.same_as(kabase.default_engine()) for e in engines)
    assert len(list(hb.scan("shared"))) == 8
