#!/usr/bin/env bash
# Run the C ABI's tests: the header check, the C tests and the C seed example under valgrind.
# Installs valgrind (Debian package) only when it is missing. Extra arguments go to cargo
# (e.g. --release to share target/release with the rest of the test run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if ! command -v valgrind >/dev/null 2>&1; then
  echo "== installing valgrind"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq valgrind
fi
cd "$ROOT"
cargo test -p kabase-c "$@"
