#!/usr/bin/env bash
# The simulator study behind docs/results.md: the whole pipeline for seeds 1..N with the default
# signal and with signal 0, each in its own data folder; prints one line per run.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
root=${STUDY_DIR:-.build-study}
bin=${STUDY_BIN:-$(swift build -c release --show-bin-path)/conviction}
printf "%-7s %-5s %-9s %-9s %-9s %-9s %-8s %-8s %s\n" signal seed baseAUC sentAUC dAUC p audit control claimed
for signal in 1 0; do
  for seed in $(seq 1 "$n"); do
    dir="$root/signal$signal-seed$seed"
    "$bin" pipeline --data-dir "$dir" --seed "$seed" --signal "$signal" --twitter-sentiment --include-sentiment >/dev/null 2>&1 || true
    "$bin" runs list --data-dir "$dir" | tail -n 1 | awk -v s="$signal" -v d="$seed" '{printf "%-7s %-5s %-9s %-9s %-9s %-9s %-8s %-8s %s\n", s, d, "-", "-", $5, $6, $7, $8, $9}'
  done
done
