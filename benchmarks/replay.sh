#!/usr/bin/env bash
# make bench, part 4: archive replay ingestion. A 1M-post X API v2 archive (benchmarks/make_replay_archive.py,
# seeded) replayed by the Swift pipeline code (ReplayIngestor: read, gunzip, parse, filter, de-duplicate,
# partition, gzip, write atomically) and by benchmarks/replay_python.py (orjson + zlib, the same rules),
# in one run. Prints both timings, the throughput ratios (against the single-threaded and the threaded
# Python) and whether the counts and partitions agree exactly.
set -euo pipefail
cd "$(dirname "$0")/.."
posts=${BENCH_REPLAY_POSTS:-1000000}
dir=${BENCH_DIR:-.build-bench-data}/replay
mkdir -p "$dir"
py=.venv/bin/python
$py -c "import orjson" 2>/dev/null || .venv/bin/pip install -q orjson
swift build -c release --product ConvictionBenchmarks >/dev/null
bin=$(swift build -c release --show-bin-path)/ConvictionBenchmarks
archive="$dir/archive-$posts.jsonl.gz"
[ -f "$archive" ] || $py benchmarks/make_replay_archive.py "$archive" "$posts"
rm -rf "$dir/swift" "$dir/python" "$dir/python2"
swift_json=$("$bin" replay "$archive" "$dir/swift")
python_json=$($py benchmarks/replay_python.py "$archive" "$dir/python")
python2_json=$($py benchmarks/replay_python.py "$archive" "$dir/python2" --threads 2)
$py - "$swift_json" "$python_json" "$python2_json" <<'PYEOF'
import json, sys
s, p, p2 = (json.loads(a) for a in sys.argv[1:4])
print(f"replay of {s['lines']} archive lines: {s['accepted']} accepted, {sum(s['rejected'].values())} quarantined, {len(s['partitions'])} partitions")
print(f"{'':24}{'seconds':>9}{'posts/s':>10}{'peak RSS (MB)':>15}")
for name, r in [("swift (2 cores)", s), ("python (1 thread)", p), ("python (--threads 2)", p2)]:
    print(f"{name:24}{r['seconds']:>9.2f}{r['lines'] / r['seconds']:>10.0f}{r['peak_rss_mb']:>15.0f}")
print(f"throughput ratio swift/python: {p['seconds'] / s['seconds']:.2f}x against 1 thread, {p2['seconds'] / s['seconds']:.2f}x against --threads 2 (target >= 1.0)")
same = s["accepted"] == p["accepted"] and s["rejected"] == p["rejected"] and s["partitions"] == p["partitions"]
print("counts by reason and lines per partition: identical" if same else f"counts DIFFER: swift {s['rejected']} python {p['rejected']}")
sys.exit(0 if same else 1)
PYEOF
