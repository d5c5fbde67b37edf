"""The seed snippet (examples/python/seed_snippet.py, from the product's integration article)
run verbatim through `python -m kabase run`, twice on one data directory."""

import json
import textwrap

from conftest import SEED, needs_tables, needs_topics, run_py

pytestmark = [needs_tables, needs_topics]


def test_seed_snippet_twice(tmp_path):
    assert SEED.exists()
    body = SEED.read_text(encoding="utf-8")
    shared = SEED.parents[2].parent / "shared" / "seed" / "seed_snippet.py"
    if shared.exists():  # the project's copy keeps the article's code verbatim
        assert shared.read_text(encoding="utf-8") in body
    env = {"KABASE_DATA_DIR": str(tmp_path / "data")}
    for _ in range(2):
        r = run_py(["-m", "kabase", "run", str(SEED)], env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    check = textwrap.dedent("""
        import json, kabase
        from kabase.kafka import KafkaConsumer
        c = KafkaConsumer('test_topic', auto_offset_reset='earliest', consumer_timeout_ms=300)
        print(json.dumps([m.value.decode() for m in c]))
        c.close()
        from kabase.hbase import HBase
        print(json.dumps(HBase().get('test', '1')))
    """)
    r = run_py(["-c", check], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    values = [json.loads(v) for v in json.loads(lines[0])]
    want = [{"value": {"row": "1", "cf:name": "Alice", "cf:age": "30"}},
            {"value": {"row": "2", "cf:name": "Bob", "cf:age": "28"}}]
    assert values == want + want  # two JSON records per run
    assert json.loads(lines[1]) is None  # the snippet deletes its rows


def test_cat_shows_the_records(tmp_path):
    env = {"KABASE_DATA_DIR": str(tmp_path / "data")}
    r = run_py(["-m", "kabase", "run", str(SEED)], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_py(["-m", "kabase", "cat", "test_topic"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        'test_topic[0]@0 key=None value={"value":{"row":"1","cf:age":"30","cf:name":"Alice"}}',
        'test_topic[0]@1 key=None value={"value":{"row":"2","cf:age":"28","cf:name":"Bob"}}',
    ]
    r = run_py(["-m", "kabase", "cat", "nope"], env=env, cwd=tmp_path)
    assert r.returncode == 1 and "no topic" in r.stderr
