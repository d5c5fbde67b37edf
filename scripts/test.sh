#!/usr/bin/env bash
# Set up everything from the project's own files and run every test.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
start=$(date +%s)
echo "== python: virtualenv, tools, build and install ./python"
setup_python
# The venv's python3 (with kafka-python) is the independent parser some Rust tests call.
export PATH="$VENV/bin:$PATH"
echo "== rust: cargo test --workspace --release"
cargo test --workspace --release --locked 2>&1
echo "== python: pytest"
"$VENV/bin/python" -m pytest -q python/tests
echo "== all tests passed in $(( $(date +%s) - start ))s"
