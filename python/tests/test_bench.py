"""The benchmark's Rust twin and the bench script stay runnable (tiny scales; not a timing)."""

import pathlib

import kabase
from kabase import _native

from conftest import needs_tables, needs_topics, run_py

BENCH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "bench.py"


@needs_tables
@needs_topics
def test_native_bench_runs_every_workload(eng):
    r = _native._bench(eng, 300, value_size=50, linger_ms=0, chunk=100, prefix="t")
    assert set(r) == {"produce (send loop)", "produce (send_batch)", "consume (poll batches)",
                      "put (batch, 5000/send)", "put (one per call)", "get (one row per call)", "get (rows, 1000 per call)", "scan"}
    assert r["produce (send loop)"][0] == 300 and r["produce (send_batch)"][0] == 300
    assert r["consume (poll batches)"][0] == 301  # the warm-up record too
    assert r["scan"][0] == 300 and r["put (one per call)"][0] == 300
    assert all(secs >= 0 for _, secs in r.values())
    # It really went through the engine.
    assert eng.describe_topic("t-loop")["partitions"][0]["log_end_offset"] == 301
    try:
        _native._bench(eng, 0)
    except kabase.errors.InvalidArgument:
        pass
    else:
        raise AssertionError("records=0 must be refused")


@needs_tables
@needs_topics
def test_bench_script_prints_ratios():
    r = run_py([str(BENCH), "--records", "2000", "--repeat", "1"], timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Py/Rust" in r.stdout and "produce (send loop)" in r.stdout
    assert "consume (poll, deserializer)" in r.stdout


@needs_topics
def test_poll_ab_script_runs():
    r = run_py([str(BENCH.with_name("poll_ab.py")), "--records", "2000", "--batch", "500", "--repeat", "1"], timeout=300)
    assert r.returncode == 0, r.stderr
    for name in ("poll()", "collector off", "value_deserializer", "in a Python pass", "inside collections"):
        assert name in r.stdout, r.stdout


@needs_tables
@needs_topics
def test_split_script_runs():
    r = run_py([str(BENCH.with_name("split.py")), "--records", "2000", "--repeat", "1"], timeout=300)
    assert r.returncode == 0, r.stderr
    for name in ("poll()", "read values", "free", "scan next_batch", "scan loop", "happybase scan", "core twin: scan"):
        assert name in r.stdout, r.stdout
