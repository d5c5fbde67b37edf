#!/usr/bin/env bash
# Test every binding over the facade, in the release profile (sharing target/release with
# `cargo test --workspace --release`):
#   1. the facade kabase-sdk (unit tests + the shared seed scenario),
#   2. the C ABI: header check, C tests and the C seed example under valgrind (installed if missing),
#   3. the Node package: npm ci (its install step builds the native module with cargo), node --test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
echo "== bindings: kabase-sdk"
cargo test --release --locked -p kabase-sdk
echo "== bindings: C ABI (valgrind)"
bindings/c/run-c-tests.sh --release --locked
echo "== bindings: node"
cd "$ROOT/node"
npm ci --no-audit --no-fund
npm run build   # refresh kabase.node if an older one was already there (cargo skips if fresh)
npm test
