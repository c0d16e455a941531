#!/usr/bin/env bash
# Installs what Conviction needs and is missing: Debian packages, then a git-ignored Python
# environment (.venv) that carries the XGBoost native library and the test oracles.
# Idempotent: a second run checks and returns quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pkg in zlib1g-dev libsqlite3-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
# Pinned so results are reproducible; xgboost-cpu ships a CPU-only libxgboost.so with its own OpenMP.
REQS="xgboost-cpu==3.2.0 numpy pyarrow polars duckdb scikit-learn moto[server] boto3"
stamp=".venv/.conviction-reqs"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$REQS" ]; then
  echo "setup: installing PyPI packages into .venv: $REQS"
  .venv/bin/pip install -q --disable-pip-version-check $REQS
  echo "$REQS" > "$stamp"
fi
lib=$(ls .venv/lib/python3*/site-packages/xgboost/lib/libxgboost.so 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "setup: libxgboost.so not found in .venv" >&2; exit 1; }
echo "setup: ok (libxgboost: $lib)"
