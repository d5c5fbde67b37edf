#!/usr/bin/env bash
# The UniFFI bench: the same workloads through the Kotlin bindings on the JVM
# (kotlin/src/main/kotlin/kabase/examples/Bench.kt) and on the Rust facade directly
# (examples/facade_bench.rs), in one run, printed side by side with the Kotlin/facade ratio.
#
#   bindings/uniffi/bench.sh [RECORDS] [OPS]     (defaults 100000 and 10000)
#
# Workloads: produce RECORDS 100-byte records (send_batch of 1000), consume them (polls of up to
# 10000), OPS single-row puts of one 100-byte cell, OPS single-row gets. In-memory engine.
# Needs Maven and a JDK 17+ (the first run downloads the Kotlin compiler and JNA into ~/.m2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RECORDS="${1:-100000}"
OPS="${2:-10000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
mkdir -p "$CARGO_TARGET_DIR"
OUT="$(cd "$CARGO_TARGET_DIR" && pwd)/release"

cargo build --release -p kabase-uniffi --lib --bin uniffi-bindgen --example facade_bench
rm -rf "$OUT/uniffi/kotlin"
"$OUT/uniffi-bindgen" generate --no-format --metadata-no-deps --language kotlin \
    --library "$OUT/libkabase_uniffi.so" --out-dir "$OUT/uniffi/kotlin"
mvn -B -q -Dstyle.color=never -f bindings/uniffi/kotlin/pom.xml compile \
    -Dkabase.generated="$OUT/uniffi/kotlin" -Dkabase.build="$OUT/uniffi/maven" >&2

rust="$("$OUT/examples/facade_bench" "$RECORDS" "$OPS")"
kotlin="$(java -Djna.library.path="$OUT" \
    -cp "$OUT/uniffi/maven/classes:$(cat "$OUT/uniffi/maven/classpath.txt")" \
    kabase.examples.BenchKt "$RECORDS" "$OPS")"

printf '%-24s %10s %14s %14s %8s\n' workload count "facade ops/s" "kotlin ops/s" kotlin/facade
awk -F '\t' 'NR == FNR { rate[$1] = $2 / $3; next }
    { k = $2 / $3; printf "%-24s %10d %14.0f %14.0f %8.2f\n", $1, $2, rate[$1], k, k / rate[$1] }' \
    <(printf '%s\n' "$rust") <(printf '%s\n' "$kotlin")
