#!/usr/bin/env bash
# make bench, part 5: the dashboard under load. A symbol-day tweet-volume widget query (/api/volume) and its SVG
# (/svg/volume), 100 concurrent clients on loopback (wrk: 2 threads, 100 connections, 10 s each), against
# `conviction dashboard` (release) over the demo store, and the JSON query against the Python baseline
# (benchmarks/dashboard_python.py: ThreadingHTTPServer, pyarrow + gzip, the same 1 s cache), in one run.
# Prints requests/s and p50/p99 latency per target, the Python/Swift p99 ratio, and checks that both
# servers answer the same counts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "dashboard bench: wrk is missing (make setup installs it)" >&2; exit 1; }
data=${BENCH_DASHBOARD_DATA:-demo-data}
[ -d "$data/scores" ] || { echo "dashboard bench: no store at $data; run make demo first (or set BENCH_DASHBOARD_DATA)" >&2; exit 1; }
swift build -c release --product conviction >/dev/null
bin=$(swift build -c release --show-bin-path)/conviction
PY=.venv/bin/python
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
swift_port=$(free_port); python_port=$(free_port)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
"$bin" dashboard --data-dir "$data" --port "$swift_port" >/dev/null 2>&1 & pids+=($!)
"$PY" benchmarks/dashboard_python.py "$data" "$python_port" & pids+=($!)
for port in "$swift_port" "$python_port"; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/api/volume?symbol=TSLA&date=2026-01-05" >/dev/null 2>&1 && break; sleep 0.2; done
done
date=$(curl -sf "http://127.0.0.1:$swift_port/api/days" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["TSLA"][-1])')
query="symbol=TSLA&date=$date"
"$PY" - "http://127.0.0.1:$swift_port/api/volume?$query" "http://127.0.0.1:$python_port/api/volume?$query" <<'PYEOF'
import json, sys, urllib.request
a, b = (json.load(urllib.request.urlopen(u)) for u in sys.argv[1:])
same = all(x[k] == y[k] for x, y in zip(a["bars"], b["bars"]) for k in ("negative", "neutral", "positive", "unscored", "total")) and a["posts"] == b["posts"]
print(f"widget: {a['posts']} posts on {a['date']}; Swift and Python counts {'agree' if same else 'DIFFER'}")
sys.exit(0 if same else 1)
PYEOF
run() {  # name url
  out=$(wrk -t2 -c100 -d10s --latency "$2")
  "$PY" - "$1" "$out" <<'PYEOF'
import re, sys
name, out = sys.argv[1], sys.argv[2]
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
p = {q: ms(v) for q, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
print(f"{name:28}{rps:>12.0f}{p['50']:>12.2f}{p['99']:>12.2f}{'   ' + errors.group(0) if errors else ''}")
open(f"/tmp/conviction-bench-{name.split()[0]}.p99", "w").write(str(p["99"]))
PYEOF
}
printf "%-28s%12s%12s%12s\n" "100 clients, 10 s" "req/s" "p50 (ms)" "p99 (ms)"
run "swift /api/volume" "http://127.0.0.1:$swift_port/api/volume?$query"
run "swift-svg /svg/volume" "http://127.0.0.1:$swift_port/svg/volume?$query"
run "python /api/volume" "http://127.0.0.1:$python_port/api/volume?$query"
"$PY" -c "s=float(open('/tmp/conviction-bench-swift.p99').read()); p=float(open('/tmp/conviction-bench-python.p99').read()); print(f'p99 ratio python/swift: {p/s:.2f}x')"
