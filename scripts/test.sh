#!/usr/bin/env bash
# The one test command (README, .ci/run): set-up, then build, typecheck, lint and every test of
# every package through turbo, then one total line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
SUMMARY=$(mktemp)
export TCPTUN_TEST_SUMMARY=$SUMMARY
status=0
pnpm exec turbo run build typecheck lint test --concurrency=1 --output-logs=full || status=$?
passed=0; failed=0; skipped=0
while IFS=$'\t' read -r dir p f s; do
  printf '  %-28s %4d passed, %d failed, %d pending\n' "${dir#"$PWD"/}" "$p" "$f" "$s"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done <"$SUMMARY"
rm -f "$SUMMARY"
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
