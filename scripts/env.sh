# Sourced by the other scripts: one virtualenv, one target directory, one profile.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${KABASE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$ROOT/python/requirements-dev.txt"
  # Builds the native module with maturin (release profile, shared target directory).
  "$VENV/bin/python" -m pip install -q "$ROOT/python"
}

ensure_valgrind() {
  if ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq valgrind
  fi
}
