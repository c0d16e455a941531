#!/usr/bin/env bash
# make bench, part 4: archive replay ingestion. A 1M-post X API v2 archive (benchmarks/make_replay_archive.py,
# seeded, 30 days) replayed by the Swift pipeline code (ReplayIngestor: read, inflate, parse, filter, de-duplicate,
# partition, compress, write atomically, as a bounded streaming pipeline) and by benchmarks/replay_python.py
# (orjson + zlib, the same rules), in one run. Prints the timings, the throughput ratios (against the
# single-threaded and the two-thread Python) and whether the counts by reason and every partition's lines
# (decompressed, byte for byte) agree. Then the 10x archive (10M posts over 300 days, as a longer history is):
# Swift's peak memory there against the 1x archive's (BENCH_REPLAY_10X=0 skips it; BENCH_REPLAY_10X_PYTHON=1
# also runs the Python baselines on it).
set -euo pipefail
cd "$(dirname "$0")/.."
posts=${BENCH_REPLAY_POSTS:-1000000}
dir=${BENCH_DIR:-.build-bench-data}/replay
mkdir -p "$dir"
py=.venv/bin/python
$py -c "import orjson" 2>/dev/null || .venv/bin/pip install -q orjson
swift build -c release --product ConvictionBenchmarks >/dev/null
bin=$(swift build -c release --show-bin-path)/ConvictionBenchmarks

run() {  # run ARCHIVE LABEL PYTHON(0/1): each implementation's JSON result in $dir/LABEL-NAME.json
  local archive=$1 label=$2 with_python=$3
  rm -rf "$dir/swift-$label" "$dir/python-$label" "$dir/python2-$label" "$dir/$label"-*.json
  "$bin" replay "$archive" "$dir/swift-$label" > "$dir/$label-swift.json"
  if [ "$with_python" = 1 ]; then
    $py benchmarks/replay_python.py "$archive" "$dir/python-$label" > "$dir/$label-python.json"
    $py benchmarks/replay_python.py "$archive" "$dir/python2-$label" --threads 2 > "$dir/$label-python2.json"
  fi
}

archive="$dir/archive-$posts.jsonl.gz"
[ -f "$archive" ] || $py benchmarks/make_replay_archive.py "$archive" "$posts"
run "$archive" 1x 1
rm -f "$dir"/10x-*.json
if [ "${BENCH_REPLAY_10X:-1}" != 0 ]; then
  archive10="$dir/archive-$((posts * 10))-300d.jsonl.gz"
  [ -f "$archive10" ] || $py benchmarks/make_replay_archive.py "$archive10" "$((posts * 10))" --days 300
  run "$archive10" 10x "${BENCH_REPLAY_10X_PYTHON:-0}"
fi

$py - "$dir" <<'PYEOF'
import gzip, hashlib, json, os, sys
folder = sys.argv[1]

def partition_digests(root):
    """sha256 of each partition's lines, decompressed, over its files in name order."""
    out = {}
    base = os.path.join(root, "raw", "posts")
    for dirpath, _, files in os.walk(base):
        files = sorted(f for f in files if f.endswith(".jsonl.gz"))
        if files:
            h = hashlib.sha256()
            for f in files:
                with gzip.open(os.path.join(dirpath, f)) as g:
                    h.update(g.read())
            out[os.path.relpath(dirpath, base)] = h.hexdigest()
    return out

ok = True
def load(label, name):
    path = os.path.join(folder, f"{label}-{name}.json")
    return json.load(open(path)) if os.path.exists(path) else {}

def report(label):
    global ok
    s, p, p2 = (load(label, n) for n in ("swift", "python", "python2"))
    print(f"{label}: replay of {s['lines']} archive lines: {s['accepted']} accepted, {sum(s['rejected'].values())} quarantined, {len(s['partitions'])} partitions")
    print(f"{'':24}{'seconds':>9}{'posts/s':>10}{'peak RSS (MB)':>15}")
    for name, r in [("swift (2 cores)", s), ("python (1 thread)", p), ("python (--threads 2)", p2)]:
        if r:
            print(f"{name:24}{r['seconds']:>9.2f}{r['lines'] / r['seconds']:>10.0f}{r['peak_rss_mb']:>15.0f}")
    if p:
        print(f"throughput ratio swift/python: {p['seconds'] / s['seconds']:.2f}x against 1 thread, {p2['seconds'] / s['seconds']:.2f}x against --threads 2 (target >= 1.2)")
        same = s["accepted"] == p["accepted"] and s["rejected"] == p["rejected"] and s["partitions"] == p["partitions"]
        lines_same = partition_digests(os.path.join(folder, f"swift-{label}")) == partition_digests(os.path.join(folder, f"python-{label}"))
        print("counts by reason and lines per partition: " + ("identical" if same else f"DIFFER: swift {s['rejected']} python {p['rejected']}"))
        print("every partition's lines, decompressed: " + ("identical" if lines_same else "DIFFER"))
        ok = ok and same and lines_same
    return s

s1 = report("1x")
if load("10x", "swift"):
    s10 = report("10x")
    print(f"peak RSS 10x/1x: {s10['peak_rss_mb'] / s1['peak_rss_mb']:.2f} ({s10['peak_rss_mb']:.0f} MB for {s10['lines']} lines against {s1['peak_rss_mb']:.0f} MB for {s1['lines']}; target <= 1.2)")
sys.exit(0 if ok else 1)
PYEOF
