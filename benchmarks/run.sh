#!/usr/bin/env bash
# make bench, part 1: every sentiment feature for 5M scored posts over 11 symbols (60 sessions of 5-minute
# decision times), Swift (release) against polars on the same Parquet data, in one run. Prints both
# timings, the ratio, peak memory, and whether every column's checksum agrees.
set -euo pipefail
cd "$(dirname "$0")/.."
posts=${BENCH_POSTS:-5000000}
dir=${BENCH_DIR:-.build-bench-data}
swift build -c release --product ConvictionBenchmarks >/dev/null
bin=$(swift build -c release --show-bin-path)/ConvictionBenchmarks
if [ ! -f "$dir/posts.parquet" ] || [ "$(cat "$dir/.posts" 2>/dev/null)" != "$posts" ]; then
  "$bin" generate "$dir" "$posts" && echo "$posts" > "$dir/.posts"
fi
swift_json=$("$bin" sentiment "$dir")
polars_json=$(.venv/bin/python -W ignore benchmarks/sentiment_polars.py "$dir")
.venv/bin/python - "$swift_json" "$polars_json" <<'PYEOF'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = [k for k in s["checksums"] if abs(s["checksums"][k][0] - p["checksums"][k][0]) > 1e-6 * max(1, abs(p["checksums"][k][0]))
       or s["checksums"][k][1] != p["checksums"][k][1]]
print(f"sentiment features: {s['features']} columns x {s['rows']} rows from {s['posts']} posts")
print(f"{'':10}{'load (s)':>10}{'compute (s)':>13}{'peak RSS (MB)':>15}")
for name, r in [("swift", s), ("polars", p)]:
    print(f"{name:10}{r['load_seconds']:>10.2f}{r['compute_seconds']:>13.2f}{r['peak_rss_mb']:>15.0f}")
print(f"compute ratio polars/swift: {p['compute_seconds'] / s['compute_seconds']:.2f}x "
      f"({'swift faster' if s['compute_seconds'] < p['compute_seconds'] else 'polars faster'})")
print(f"end to end (load + compute) polars/swift: {(p['load_seconds'] + p['compute_seconds']) / (s['load_seconds'] + s['compute_seconds']):.2f}x")
print("checksums: all columns agree" if not bad else f"checksums DIFFER for: {', '.join(bad)}")
sys.exit(1 if bad else 0)
PYEOF

# Part 1b: loading a Parquet file that polars wrote with its defaults (zstd), not Conviction's writer.
[ -f "$dir/posts_polars.parquet" ] || .venv/bin/python -W ignore -c "import polars as pl, sys; pl.read_parquet(sys.argv[1]).write_parquet(sys.argv[2])" "$dir/posts.parquet" "$dir/posts_polars.parquet"
swift_load=$("$bin" parquet-load "$dir/posts_polars.parquet")
.venv/bin/python -W ignore - "$swift_load" "$dir/posts_polars.parquet" <<'PYEOF'
import json, sys, time, polars as pl
s = json.loads(sys.argv[1])
best = min((lambda t: (pl.read_parquet(sys.argv[2]), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
print(f"\nParquet load of polars' own file ({s['rows']} rows, zstd), best of 3: swift {s['load_seconds']:.3f} s, polars {best:.3f} s; "
      f"ratio swift/polars {s['load_seconds'] / best:.2f}x (target <= 1.5)")
PYEOF

# Part 2: XGBoost training through the Swift binding against Python xgboost, same matrix and parameters.
xgb_dir="$dir/xgboost"
swift_xgb=$("$bin" xgboost "$xgb_dir")
python_xgb=$(.venv/bin/python -W ignore benchmarks/xgboost_python.py "$xgb_dir" "$swift_xgb")
.venv/bin/python - "$swift_xgb" "$python_xgb" <<'PYEOF'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"\nxgboost {s['xgboost']} (Swift C API) vs {p['xgboost']} (Python), {s['rows']} x {s['columns']}, 200 rounds, depth 6, hist, 2 threads")
print(f"train seconds: swift {s['train_seconds']:.2f}, python {p['train_seconds']:.2f}; ratio swift/python {s['train_seconds'] / p['train_seconds']:.3f} (target <= 1.05)")
print(f"identical predictions: {p['identical_predictions']}; Swift's saved model predicts identically in Python: {p['swift_model_identical_in_python']}")
sys.exit(0 if p["identical_predictions"] and p["swift_model_identical_in_python"] else 1)
PYEOF
