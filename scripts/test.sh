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
pnpm exec turbo run build typecheck lint test --concurrency=1 --continue --output-logs=full || status=$?
# bench/lib's pure parts (the HTTP clients' output parsers, the FAMILY switch, the paired
# IPv6/IPv4 method, the SVG writer) are plain .mjs tests for Node's own runner, outside the
# workspace: run here and counted in the total like a package's.
BENCH_TAP=$(mktemp)
if ! node --test --test-reporter=tap bench/lib/ >"$BENCH_TAP" 2>&1; then cat "$BENCH_TAP"; echo "bench/lib: tests failed"; status=1; fi
tap_count() { local n; n=$(grep -m1 "^# $1 " "$BENCH_TAP" | awk '{print $3}'); echo "${n:-0}"; }
printf '%s\t%s\t%s\t%s\n' "$PWD/bench/lib" "$(tap_count pass)" "$(( $(tap_count fail) + $(tap_count cancelled) ))" "$(( $(tap_count skipped) + $(tap_count todo) ))" >>"$SUMMARY"
rm -f "$BENCH_TAP"
# The API reference (TypeDoc; `pnpm run docs`, as plain `pnpm docs` is a pnpm built-in): built
# every run. typedoc.json sets treatWarningsAsErrors, so any warning (an undocumented public
# export, a broken TSDoc or README link, ...) makes TypeDoc exit non-zero and fails the run here,
# with the warnings printed.
DOCS_LOG=$(mktemp)
if pnpm exec typedoc --logLevel Warn >"$DOCS_LOG" 2>&1; then
  found=$(grep -o 'Found [0-9]* errors\? and [0-9]* warnings\?' "$DOCS_LOG" | tail -1 || true)
  echo "docs: docs/api built; TypeDoc: ${found:-no warnings} (pnpm run docs lists them)"
else
  cat "$DOCS_LOG"; echo "docs: TypeDoc failed"; status=1
fi
rm -f "$DOCS_LOG"
passed=0; failed=0; skipped=0
while IFS=$'\t' read -r dir p f s; do
  printf '  %-28s %4d passed, %d failed, %d pending\n' "${dir#"$PWD"/}" "$p" "$f" "$s"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
done <"$SUMMARY"
rm -f "$SUMMARY"
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
