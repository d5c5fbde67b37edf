#!/usr/bin/env bash
# Set up everything from the project's own files and run every test: the Rust workspace (core,
# CLI, facade, C ABI under valgrind, UniFFI), their rustdoc, a short run of each Rust bench, pytest for the
# Python package, node --test for the Node package.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
start=$(date +%s)
echo "== system: valgrind for the C tests (Debian package, only when missing)"
ensure_valgrind
echo "== python: virtualenv, tools, build and install ./python"
setup_python
# The venv's python3 (with kafka-python) is the independent parser some Rust tests call.
export PATH="$VENV/bin:$PATH"
export KABASE_REQUIRE_KAFKA_PYTHON=1
# As root, the full-disk tests mount a small tmpfs; they must not skip then.
if [ "$(id -u)" = 0 ]; then export KABASE_REQUIRE_TMPFS=1; fi
echo "== rust: cargo test --workspace --release"
cargo test --workspace --release --locked 2>&1
echo "== rust: rustdoc of every crate, warnings as errors (no broken or private links)"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --release --locked 2>&1
echo "== benches: a short run of each (docs/benchmarks.md has the full runs and their commands)"
KABASE_BENCH_SCALE=0.02 cargo bench -p kabase --locked --bench log 2>&1
KABASE_BENCH_CELLS=20000 KABASE_BENCH_SINGLES=2000 KABASE_BENCH_GETS=2000 KABASE_BENCH_SCANS=20 \
    cargo bench -p kabase --locked --bench tables 2>&1
cargo bench -p kabase --locked --bench stream -- --quick 2>&1
echo "== python: pytest"
"$VENV/bin/python" -m pytest -q python/tests
echo "== node: npm ci (builds the native module with cargo), node --test"
(cd node && npm ci --no-audit --no-fund && npm run build && npm test)
echo "== all tests passed in $(( $(date +%s) - start ))s"
