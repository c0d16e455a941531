#!/usr/bin/env bash
# make bench, part 3: transformer scoring. Swift (TransformerScorer through the ONNX Runtime C API)
# against Python (onnxruntime + Hugging Face tokenizers) on the same model file, texts, batch size and
# threads, in one run; then fp32 vs int8, MiniLM vs a BERT-base-size model, and the pipeline's peak
# memory scoring 100k vs 1M posts.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-.build-bench-data}/scoring
texts=${BENCH_TEXTS:-4000}
batch=${BENCH_BATCH:-32}
threads=${BENCH_THREADS:-2}
mkdir -p "$dir"
swift build -c release --product ConvictionBenchmarks >/dev/null
swift build -c release --product conviction >/dev/null
bindir=$(swift build -c release --show-bin-path)
bin=$bindir/ConvictionBenchmarks
py=.venv/bin/python

# Texts: the labelled finance tweets when ../shared is beside the checkout (real tweet lengths), else
# the simulator's posts; repeated in order up to the requested count.
.venv/bin/python - "$dir/texts.jsonl" "$texts" <<'PYEOF'
import csv, glob, gzip, json, os, subprocess, sys
out, n = sys.argv[1], int(sys.argv[2])
tfns = os.path.join("..", "shared", "data", "tfns", "sent_train.csv")
if os.path.exists(tfns):
    pool, source = [r["text"] for r in csv.DictReader(open(tfns, encoding="utf-8"))], "TFNS finance tweets"
else:
    sim = os.path.join(os.path.dirname(out), "sim")
    if not glob.glob(sim + "/sim/stream/*/*.gz"):
        subprocess.run([os.environ.get("CONVICTION", ".build/release/conviction"), "simulate", "--data-dir", sim, "--sessions", "6"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pool = [json.loads(l)["data"]["text"] for f in sorted(glob.glob(sim + "/sim/stream/*/*.gz")) for l in gzip.open(f, "rt")]
    source = "simulated posts"
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        f.write(json.dumps(pool[i % len(pool)]) + "\n")
print(f"texts: {n} from {source}")
PYEOF

compare() {  # label model texts
  local label=$1 model=$2 file=$3
  local s p
  s=$("$bin" scoring "$model" "$file" "$batch" "$threads" "$dir/swift.f32")
  p=$($py -W ignore benchmarks/scoring_python.py "$model" "$file" "$batch" "$threads" "$dir/swift.f32" 2>/dev/null)
  $py - "$label" "$s" "$p" <<'PYEOF'
import json, sys
label, s, p = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{label}: {s['texts']} texts, mean {s['mean_tokens']:.1f} tokens (Swift pads to {s['mean_padded_width']:.1f})")
print(f"  swift  {s['texts_per_second']:8.1f} texts/s  ({s['seconds']:.2f} s, {100 * s['outside_run_share']:.1f}% outside ORT Run, "
      f"{'one text per run: batch-dependent model' if not s['batch_invariant'] else 'batched'}, peak RSS {s['peak_rss_mb']:.0f} MB)")
print(f"  python {p['texts_per_second']:8.1f} texts/s  ({p['seconds']:.2f} s, peak RSS {p['peak_rss_mb']:.0f} MB)")
print(f"  swift/python throughput {s['texts_per_second'] / p['texts_per_second']:.2f}x; max |p_swift - p_python| {p['max_abs_diff_vs_swift']:.2e}, "
      f"labels agree {100 * p['label_agreement']:.2f}%")
PYEOF
}

echo "ONNX Runtime $($py -c 'import onnxruntime; print(onnxruntime.__version__)'), batch $batch, $threads intra-op threads, spinning off"
compare "MiniLM fp32 (default model)" .models/finance-tweet-minilm "$dir/texts.jsonl"
compare "MiniLM int8" .models/finance-tweet-minilm-int8 "$dir/texts.jsonl"
if [ ! -f "$dir/bert-base/model.onnx" ]; then
  $py benchmarks/build_bert_base.py .models/finance-tweet-minilm/vocab.txt "$dir/bert-base"
fi
head -n "${BENCH_BASE_TEXTS:-500}" "$dir/texts.jsonl" > "$dir/texts-base.jsonl"
compare "BERT-base size fp32 (random weights)" "$dir/bert-base" "$dir/texts-base.jsonl"

# Peak memory of the pipeline's score stage (streams partitions) for about 100k and 1M posts.
memory() {  # sessions
  local data="$dir/memory-$1"
  if [ ! -f "$data/.ingested" ]; then
    rm -rf "$data"
    "$bindir/conviction" simulate --data-dir "$data" --sessions "$1" >/dev/null 2>&1
    "$bindir/conviction" ingest --data-dir "$data" >/dev/null 2>&1
    touch "$data/.ingested"
  fi
  rm -rf "$data/scores" "$data/catalog.sqlite"*
  # keep ingest's catalog entries out of the way: only the score stage is measured
  /usr/bin/time -f "%M %e" -o "$dir/time-$1" "$bindir/conviction" score --data-dir "$data" > "$dir/score-$1.log" 2>&1
  read -r rss secs < "$dir/time-$1"
  rows=$(grep -o '[0-9]* rows$' "$dir/score-$1.log" | tail -1 | cut -d' ' -f1)
  echo "$rows $rss $secs"
}
if [ "${BENCH_MEMORY:-1}" = 1 ]; then
  read -r small_rows small_rss small_secs < <(memory 33)
  read -r big_rows big_rss big_secs < <(memory 330)
  $py -c "
s, b = $small_rss / 1024, $big_rss / 1024
print(f'pipeline score stage peak RSS: {$small_rows} posts {s:.0f} MB ({$small_secs} s), {$big_rows} posts {b:.0f} MB ({$big_secs} s); ratio {b / s:.2f} (target <= 1.2)')"
fi
