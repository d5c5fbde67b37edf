#!/usr/bin/env bash
# Set up everything from the project's own files and run every test: the Rust workspace (core,
# CLI, facade, C ABI under valgrind, UniFFI), pytest for the Python package, node --test for the
# Node package.
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
echo "== rust: cargo test --workspace --release"
cargo test --workspace --release --locked 2>&1
echo "== python: pytest"
"$VENV/bin/python" -m pytest -q python/tests
echo "== node: npm ci (builds the native module with cargo), node --test"
(cd node && npm ci --no-audit --no-fund && npm run build && npm test)
echo "== all tests passed in $(( $(date +%s) - start ))s"
