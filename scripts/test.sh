#!/usr/bin/env bash
# Set up everything from the project's own files and run every test.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
start=$(date +%s)
echo "== rust: cargo test --workspace --release"
cargo test --workspace --release --locked 2>&1
if [ -f python/pyproject.toml ]; then
  echo "== python: build and install ./python"
  setup_python
  echo "== python: pytest"
  "$VENV/bin/python" -m pytest -q python/tests
fi
echo "== all tests passed in $(( $(date +%s) - start ))s"
