#!/usr/bin/env bash
# `make test`: builds, then runs every test in two `swift test` invocations, each under
# scripts/test-watchdog.py, so a hang is killed and named instead of blocking. The CPU-bound suites
# run with two local moto_server stand-ins (scripts/with-moto.sh); the suites that time in-process
# servers (stream fault injection, LLM client deadlines, spot notice, dashboard) or wait on a test clock
# (the retry policy) run on their own,
# so scoring and training do not share the 2-thread cooperative pool with them. Both steps run even
# when the first fails; the last line adds them up: "Tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
TIMED_SUITES="StreamIngestionTests|LLMScorerTests|SpotNoticeTests|DashboardServerTests|RetryPolicyTests"
MAIN_LIMIT=${CONVICTION_TEST_LIMIT_MAIN:-1800}
TIMED_LIMIT=${CONVICTION_TEST_LIMIT_TIMED:-900}
counts=.build/test-counts.jsonl
watchdog="python3 scripts/test-watchdog.py"
# No test may ask the EC2 metadata address: the credential chain's last step is skipped.
export AWS_EC2_METADATA_DISABLED=true

swift build --build-tests "$@" || { echo "Tests: 0 passed, 1 failed, 0 skipped (the build failed)"; exit 1; }
mkdir -p .build && rm -f "$counts"
# The release tarball, relinked from the debug build (seconds, no recompile), for DistributionTests.
rm -f .build/dist/conviction-*.tar.gz
if bash scripts/dist.sh debug .build/dist > .build/dist.log 2>&1; then
  export CONVICTION_TEST_DIST=$(ls "$PWD"/.build/dist/conviction-*.tar.gz | head -1)
else
  echo "run-tests: scripts/dist.sh failed (DistributionTests will say why)"; export CONVICTION_TEST_DIST_FAILED="$PWD/.build/dist.log"
fi
bash scripts/with-moto.sh $watchdog --limit "$MAIN_LIMIT" --label "main suites" --counts "$counts" -- \
  swift test --skip-build --skip "$TIMED_SUITES" "$@"
$watchdog --limit "$TIMED_LIMIT" --label "timed suites" --counts "$counts" -- \
  swift test --skip-build --filter "$TIMED_SUITES" "$@"
$watchdog --summarize "$counts"
