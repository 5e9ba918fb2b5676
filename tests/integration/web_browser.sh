#!/usr/bin/env bash
# Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core
# from npm) against the real pages served by a real wardgated: every
# tests/browser/*.test.js, each printing TAP; axe-core (npm) checks WCAG 2.1
# AA. Screenshots are kept in $BUILD/test-artifacts/screenshots.
source "$(dirname "$0")/lib.sh"
browser_dir=$ROOT/tests/browser
if [ ! -x /usr/bin/chromium ]; then skip "browser tests" "no /usr/bin/chromium (tools/deps.sh installs it)"; done_testing; exit 0; fi
if ! command -v node >/dev/null; then skip "browser tests" "no node (tools/deps.sh installs it)"; done_testing; exit 0; fi
# npm ci when a package the tests need is missing (package.json gained one since).
missing=0
for pkg in playwright-core ws axe-core uplot; do [ -d "$browser_dir/node_modules/$pkg" ] || missing=1; done
if [ $missing = 1 ]; then
  (cd "$browser_dir" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { not_ok "npm ci in tests/browser"; done_testing; exit 1; }
fi
status=0
for t in "$browser_dir"/*.test.js; do
  [ -f "$t" ] || continue
  note "$(basename "$t")"
  # Renumber each file's TAP into this script's sequence.
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "${line#ok * - }" ;;
      "not ok "*) not_ok "${line#not ok * - }" ;;
      1..*) ;;
      "# exit 0") ;;
      "# exit "*) not_ok "$(basename "$t") exited with ${line#\# exit }" ;;
      *) echo "$line" ;;
    esac
  # 600 s: generous for a loaded machine (busy.test.js takes about 3 minutes).
  done < <(cd "$ROOT" && timeout 600 node "$t" 2>&1; echo "# exit $?")
done
done_testing
exit $status
