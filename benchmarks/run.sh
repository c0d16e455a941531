#!/usr/bin/env bash
# make bench: every sentiment feature for 5M scored posts over 11 symbols (60 sessions of 5-minute
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
print("checksums: all columns agree" if not bad else f"checksums DIFFER for: {', '.join(bad)}")
sys.exit(1 if bad else 0)
PYEOF
