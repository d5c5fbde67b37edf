#!/usr/bin/env bash
# One run of the per-binding benchmark: the same workload (produce and consume RECORDS 100-byte
# records in batches of 1000, put and get ROWS rows of one 100-byte column) through the Rust
# facade, the C ABI and the Node package, one after the other on an in-memory engine; prints
# each figure and its ratio to the Rust facade (1.00 = no binding overhead).
#
#   scripts/bench-bindings.sh [RECORDS [ROWS]]     (defaults: 1000000 100000, issue 5's scale)
#
# Builds in release with the shared target directory (CARGO_BUILD_JOBS is honoured); the Node
# package must be installed (cd node && npm ci). The machine's load average is printed first:
# ratios on a loaded machine are noisy.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${1:-1000000}"
ROWS="${2:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg) (nproc $(nproc)); records=$RECORDS rows=$ROWS"
cargo build --release -q -p kabase-sdk --example bench_bindings
cargo build --release -q -p kabase-c
cc -std=c11 -O2 -Wall -Wextra -Werror -I include bindings/c/bench/bench.c "$CARGO_TARGET_DIR/release/libkabase.a" -lpthread -ldl -lm -o "$OUT/bench_c"
(cd node && npm run -s build >/dev/null)

echo "== rust facade"; "$CARGO_TARGET_DIR/release/examples/bench_bindings" "$RECORDS" "$ROWS" | tee "$OUT/rust"
echo "== c";           "$OUT/bench_c" "$RECORDS" "$ROWS" | tee "$OUT/c"
echo "== node";        node node/bench/bench.js "$RECORDS" "$ROWS" | tee "$OUT/node"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
printf '%-8s %14s %14s %14s %8s %8s\n' metric "rust ops/s" "c ops/s" "node ops/s" "c/rust" "node/rust"
for metric in produce consume put get; do
  rate() { awk -v m="$metric" '$1 == m { printf "%.0f", $2 / $3 }' "$OUT/$1"; }
  r="$(rate rust)"; c="$(rate c)"; n="$(rate node)"
  awk -v m="$metric" -v r="$r" -v c="$c" -v n="$n" 'BEGIN { printf "%-8s %14s %14s %14s %8.2f %8.2f\n", m, r, c, n, c / r, n / r }'
done
