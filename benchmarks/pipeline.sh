#!/usr/bin/env bash
# make bench, part 6: the whole `conviction pipeline` as a user runs it: the demo's configuration with
# 10 times its posts (simulation.post_rate = 10), replayed into the store (simulation.delivery = "replay",
# the archive path) rather than streamed through the local X API server. Prints each task's share of the wall time, from the
# pipeline's own "time by task" line, and, under `perf record` when perf works here, the functions that
# took the most time (BENCH_PIPELINE_PERF=0 skips perf).
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${BENCH_PIPELINE_POST_RATE:-10}
dir=${BENCH_DIR:-.build-bench-data}/pipeline
swift build -c release --product conviction >/dev/null
bin=$(swift build -c release --show-bin-path)/conviction
rm -rf "$dir"; mkdir -p "$dir"
{ cat examples/demo.toml; printf '\n[simulation]\npost_rate = %s\ndelivery = "replay"\n' "$rate"; } > "$dir/conviction.toml"
run=("$bin" pipeline --config "$dir/conviction.toml" --data-dir "$dir/data" --algorithm xgboost --twitter-sentiment --include-sentiment)
if [ "${BENCH_PIPELINE_PERF:-1}" != 0 ] && perf stat -e task-clock true >/dev/null 2>&1; then
  perf record -F 99 -g -o "$dir/perf.data" -- "${run[@]}" > "$dir/log.txt" 2>&1
  { echo "by library:"; perf report -i "$dir/perf.data" --no-children -g none --sort dso --percent-limit 1 2>/dev/null | grep -E '^ +[0-9]'
    echo "by function:"; perf report -i "$dir/perf.data" --no-children -g none --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' | head -15 \
      | sed 's/  */ /g' | swift demangle --simplified | cut -c1-160; } > "$dir/profile.txt" || true
else
  "${run[@]}" > "$dir/log.txt" 2>&1
fi
grep -E "posts? (streamed|replayed)|^.*ingest: .* done|score: .* done|features: .* done|time by task" "$dir/log.txt" | sed 's/^.*\] //' || true
if [ -s "$dir/profile.txt" ]; then echo "self time under perf, all tasks together:"; cat "$dir/profile.txt"; fi
