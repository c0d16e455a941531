#!/usr/bin/env bash
# The main job on the embedded default: simulate 11 symbols, replay the posts, score, build
# features, train with and without sentiment, and report the uplift.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-demo-data}
bin=$(swift build -c release --show-bin-path)/conviction
start=$(date +%s)
"$bin" pipeline --config examples/demo.toml --data-dir "$dir" --algorithm xgboost --twitter-sentiment --include-sentiment
"$bin" dashboard --snapshot --data-dir "$dir" --symbol TSLA >/dev/null
echo "demo: finished in $(( $(date +%s) - start ))s after the build; dashboard: $dir/dashboard/index.html"
