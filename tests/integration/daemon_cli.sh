#!/usr/bin/env bash
# wardgated's command line: --version, --check on good and bad configs, usage
# errors, a missing file, and journald-style log lines under JOURNAL_STREAM.
. "$(dirname "$0")/lib.sh"

out=$("$WARDGATED" --version); rc=$?
check "--version exits 0 and names the plugin ABI" test $rc -eq 0 -a -n "$(echo "$out" | grep -E '^wardgated [0-9.]+ \(plugin ABI [0-9]+\)$')"

make_config "$TMP/good.yaml"
out=$("$WARDGATED" -c "$TMP/good.yaml" --plugin-dir "$PLUGINS" --check 2>&1); rc=$?
check "--check accepts the test facility" test $rc -eq 0
check "--check summarises what it checked" grep -q "configuration OK: 8 devices on 1 buses" <<<"$out"

out=$("$WARDGATED" -c config/facility.yaml --plugin-dir "$PLUGINS" --check 2>&1); rc=$?
check "--check accepts the example facility" test $rc -eq 0
note "$out"

sed 's/address: 7, profile: eastron-sdm120/adress: 7, profile: eastron-sdm120/' "$TMP/good.yaml" >"$TMP/bad.yaml"
out=$("$WARDGATED" -c "$TMP/bad.yaml" --plugin-dir "$PLUGINS" --check 2>&1); rc=$?
check "--check rejects a bad config with exit 1" test $rc -eq 1
line=$(grep -n 'adress' "$TMP/bad.yaml" | cut -d: -f1)
check "the message names file:line and the unknown key" grep -qE "bad.yaml:$line:[0-9]+: .*unknown key \"adress\"" <<<"$out"

out=$("$WARDGATED" -c "$TMP/bad.yaml" --plugin-dir "$PLUGINS" --db "$TMP/x.db" 2>&1); rc=$?
check "a bad config is never started (exit 1, no database made)" test $rc -eq 1 -a ! -e "$TMP/x.db"

# A driver's own section is validated by --check too (sim: unknown scenario).
sed 's/scenario: quiet/scenario: busy/' "$TMP/good.yaml" >"$TMP/bad-driver.yaml"
out=$("$WARDGATED" -c "$TMP/bad-driver.yaml" --plugin-dir "$PLUGINS" --check 2>&1); rc=$?
line=$(grep -n 'scenario: busy' "$TMP/bad-driver.yaml" | cut -d: -f1)
check "--check runs the driver's validation, with file:line" \
  grep -qE "bad-driver.yaml:$line:[0-9]+: scenario: expected demo or quiet, got \"busy\"" <<<"$out"
check "... and exits 1" test $rc -eq 1

out=$("$WARDGATED" -c "$TMP/missing.yaml" --check 2>&1); rc=$?
check "a missing config file is named" grep -q "missing.yaml" <<<"$out"
check "... with exit 1" test $rc -eq 1

"$WARDGATED" >/dev/null 2>&1; rc=$?
check "no -c is a usage error (exit 2)" test $rc -eq 2
"$WARDGATED" -c x --bogus >/dev/null 2>&1; rc=$?
check "an unknown option is a usage error (exit 2)" test $rc -eq 2

out=$(JOURNAL_STREAM=8:1 "$WARDGATED" -c "$TMP/bad.yaml" --plugin-dir "$PLUGINS" --db "$TMP/y.db" 2>&1 >/dev/null)
out=$(JOURNAL_STREAM=8:1 timeout -s TERM 2 "$WARDGATED" -c "$TMP/good.yaml" --plugin-dir "$PLUGINS" --db "$TMP/y.db" 2>&1)
check "under journald every log line starts with a <priority> prefix" \
  test -n "$out" -a -z "$(grep -vE '^<[0-7]>' <<<"$out")"
check "... and levels are used (notice and info seen)" grep -q '^<5>' <<<"$out"
done_testing
