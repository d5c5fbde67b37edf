import os
import textwrap

import pytest

import kabase
from kabase import errors
from kabase._address import check_local

from conftest import needs_tables, needs_topics, run_py


def test_open_dir_memory_and_context_manager(tmp_path):
    d = tmp_path / "e1"
    e = kabase.open(str(d))
    assert not e.closed and not e.in_memory
    assert os.path.samefile(e.dir, d)
    e2 = kabase.open(d)  # os.PathLike too
    assert e2 == e and e2.same_as(e)
    e.close()
    assert e2.closed
    with kabase.open(memory=True) as m:
        assert m.in_memory and not m.closed
        mdir = m.dir
    assert m.closed
    del m
    import gc

    gc.collect()
    assert not os.path.exists(mdir)  # the last handle gone, nothing is left on disk
    e.close()  # twice is a no-op


def test_default_engine_uses_env_dir_and_is_shared():
    a = kabase.default_engine()
    b = kabase.default_engine()
    assert a is b
    assert os.path.samefile(a.dir, os.environ["KABASE_DATA_DIR"])
    assert kabase.open().same_as(a)
    assert os.fspath(kabase.Engine.default_dir()) == os.environ["KABASE_DATA_DIR"]


def test_default_dir_without_env(tmp_path):
    code = "import kabase, os; e = kabase.default_engine(); print(os.path.realpath(e.dir)); e.close()"
    env = {k: v for k, v in os.environ.items() if k != "KABASE_DATA_DIR"}
    import subprocess, sys

    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == os.path.realpath(tmp_path / "kabase-data")


def test_engine_locked_by_other_process(tmp_path):
    d = tmp_path / "locked"
    e = kabase.open(d)
    code = textwrap.dedent(f"""
        import kabase, os
        try:
            kabase.open({str(d)!r})
        except kabase.errors.EngineLocked as ex:
            print("LOCKED", ex.code, str(ex))
    """)
    r = run_py(["-c", code])
    e.close()
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("LOCKED 105")
    assert str(os.getpid()) in r.stdout  # names the holder's pid


def test_bad_open_arguments(tmp_path):
    with pytest.raises(TypeError):
        kabase.open(42)
    with pytest.raises(errors.InvalidArgument):
        kabase.open(tmp_path / "x", memory=True)
    with pytest.raises(errors.InvalidConfig):
        kabase.open(tmp_path / "y", num_partitions=0)
    f = tmp_path / "afile"
    f.write_text("not a directory")
    with pytest.raises(errors.Io) as ei:
        kabase.open(f)
    assert isinstance(ei.value, OSError)  # Io is also an OSError
    assert isinstance(ei.value.__cause__, OSError)  # the cause chain is kept


@pytest.mark.parametrize("addr", [None, "", "localhost", "localhost:9092", "127.0.0.1:2181", "127.0.0.1",
                                  "[::1]:9092", ["localhost:9092", "127.0.0.1:9093"], "localhost:9092,localhost:9093"])
def test_local_addresses(addr):
    check_local(addr)


@pytest.mark.parametrize("addr", ["kafka://localhost:9092", "hbase://127.0.0.1:2181", "broker1:9092",
                                  "10.0.0.5:9092", ["localhost:9092", "kafka.example.com:9092"]])
def test_remote_addresses_unsupported(addr):
    with pytest.raises(errors.Unsupported) as ei:
        check_local(addr)
    assert "remote" in str(ei.value)


def test_address_types():
    with pytest.raises(TypeError):
        check_local(9092)


def test_install_as_modules():
    import sys

    kabase.install_as_modules()
    import kafka
    import happybase
    import hbase
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError

    assert kafka is sys.modules["kabase.kafka"]
    assert happybase is sys.modules["kabase.happybase"]
    assert hbase is sys.modules["kabase.hbase"]
    assert NewTopic is kabase.kafka.admin.NewTopic
    assert issubclass(KafkaError, errors.KabaseError)
    for name in ("kafka", "happybase", "hbase"):
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]


def test_cli_usage_and_missing_script(tmp_path):
    r = run_py(["-m", "kabase"])
    assert r.returncode == 2 and "usage" in r.stdout
    r = run_py(["-m", "kabase", "run", str(tmp_path / "nope.py")])
    assert r.returncode == 2 and "no such file" in r.stderr
    r = run_py(["-m", "kabase", "version"])
    assert r.returncode == 0 and r.stdout.strip() == kabase.__version__


def test_cli_run_passes_args_and_main(tmp_path):
    s = tmp_path / "s.py"
    s.write_text("import sys\nprint(__name__, sys.argv[1:])\n")
    r = run_py(["-m", "kabase", "run", str(s), "a", "b"], env={"KABASE_DATA_DIR": str(tmp_path / "d")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "__main__ ['a', 'b']"


@needs_tables
@needs_topics
def test_close_releases_the_directory_while_handles_live(tmp_path):
    """close() frees the directory at once, even while tables, scanners, producers and consumers
    made from the engine still exist: the same process reopens it, and the old handles raise
    kabase.errors.Closed instead of keeping the old engine alive."""
    import gc

    from kabase import _native

    d = str(tmp_path / "reopen")
    e = kabase.open(d)
    alias = kabase.open(d)  # a second handle to the same engine
    e.create_table("t", [{"name": b"cf"}])
    t = e.table("t")
    t.mutate([(b"r1", [(b"cf:a", b"1")], None, False, None, True)])
    scanner = t.scan()
    p = _native.Producer(e, [("acks", "all")])
    p.send("topic", b"v").get(5)
    c = _native.Consumer(e, [("auto.offset.reset", "earliest")], "grp", [])
    c.subscribe(["topic"])
    assert c.poll(10, 2000)
    gc.disable()  # nothing may depend on the collector dropping the handles
    try:
        e.close()
        assert alias.closed and e.closed and c.closed
        e2 = kabase.open(d)  # the same directory, same process, handles still alive
        assert not e2.closed and not e2.same_as(e)
        rows = e2.table("t").get([b"r1"])
        assert rows[0][1][0][:2] == (b"cf:a", b"1")
        for call in (lambda: t.get([b"r1"]), lambda: scanner.next_batch(10), lambda: p.send("topic", b"w"),
                     lambda: p.flush(), lambda: c.poll(10, 0), lambda: c.position("topic", 0),
                     lambda: alias.list_tables(), lambda: e.table("t")):
            with pytest.raises(kabase.errors.Closed):
                call()
        c.close()  # closing a released consumer is a no-op
        e2.close()
        # And again, with the new engine's handles still alive too.
        e3 = kabase.open(d)
        assert e3.table_exists("t")
        e3.close()
    finally:
        gc.enable()
