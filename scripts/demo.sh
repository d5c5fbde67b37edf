#!/usr/bin/env bash
# Set up everything and run the product's seed snippet on the embedded default engine, twice,
# then show the records it left in test_topic.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
setup_python
export KABASE_DATA_DIR="${KABASE_DATA_DIR:-$ROOT/kabase-data}"
echo "== data directory: $KABASE_DATA_DIR"
for i in 1 2; do
  echo "== run $i: python -m kabase run examples/python/seed_snippet.py"
  "$VENV/bin/python" -m kabase run examples/python/seed_snippet.py
done
echo "== records in test_topic"
"$VENV/bin/python" -m kabase cat test_topic
