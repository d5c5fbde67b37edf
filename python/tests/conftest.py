"""Shared fixtures. The default data directory is a per-session temporary directory, set before
kabase is imported, so tests never touch ./kabase-data."""

import os
import pathlib
import sys
import tempfile

_SESSION_DIR = tempfile.mkdtemp(prefix="kabase-pytest-")
os.environ["KABASE_DATA_DIR"] = os.path.join(_SESSION_DIR, "default")

import pytest  # noqa: E402

import kabase  # noqa: E402
from kabase import _native  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "python" / "seed_snippet.py"

needs_tables = pytest.mark.skipif(not _native.HAS_TABLES, reason="this build's core has no tables yet")
needs_topics = pytest.mark.skipif(not _native.HAS_TOPICS, reason="this build's core has no topics yet")
needs_groups = pytest.mark.skipif(not _native.HAS_GROUPS, reason="this build's core has no consumer groups yet")
needs_filters = pytest.mark.skipif(not _native.HAS_FILTERS, reason="this build's core has no filter-language parser yet")


@pytest.fixture
def eng():
    e = kabase.open(memory=True)
    yield e
    e.close()


@pytest.fixture
def eng3():
    """An in-memory engine whose auto-created topics have three partitions."""
    e = kabase.open(memory=True, num_partitions=3)
    yield e
    e.close()


@pytest.fixture
def datadir(tmp_path):
    return tmp_path / "data"


def run_py(args, env=None, cwd=None, timeout=120):
    import subprocess

    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([sys.executable] + list(args), env=e, cwd=cwd, capture_output=True, text=True, timeout=timeout)
