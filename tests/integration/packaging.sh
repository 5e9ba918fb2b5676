#!/usr/bin/env bash
# Packaging: the systemd unit passes `systemd-analyze verify` with empty
# output (it exits 0 even on parse errors, so the output is what counts), and
# `make install DESTDIR=...` puts everything at its FHS path.
. "$(dirname "$0")/lib.sh"

if command -v systemd-analyze >/dev/null; then
  # verify needs the ExecStart binary to exist: point it at the built one.
  sed "s#/usr/sbin/wardgated#$WARDGATED#g" systemd/wardgated.service >"$TMP/wardgated.service"
  out=$(systemd-analyze verify "$TMP/wardgated.service" 2>&1); rc=$?
  check "systemd-analyze verify: exit 0" test $rc -eq 0
  check "systemd-analyze verify: no output" test -z "$out"
  [ -n "$out" ] && note "$out"
  for key in "Type=notify" "WatchdogSec=" "Restart=on-failure" "ProtectSystem=strict" "PrivateTmp=yes" \
             "NoNewPrivileges=yes" "DevicePolicy=closed" "ExecReload="; do
    check "unit has $key" grep -q "^$key" systemd/wardgated.service
  done
  exposure=$(systemd-analyze security --offline=true "$TMP/wardgated.service" 2>/dev/null | grep -oE 'Overall exposure level for [^:]+: [0-9.]+' | grep -oE '[0-9.]+$')
  note "systemd-analyze security exposure: ${exposure:-?} (0 = locked down, 10 = exposed)"
  check "exposure level below 3.0 (got ${exposure:-?})" awk -v e="${exposure:-10}" 'BEGIN { exit !(e < 3.0) }'
else
  skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

dest=$TMP/root
outside_before=$(ls -l --time-style=full-iso /usr/sbin/wardgated /etc/wardgate /lib/systemd/system/wardgated.service 2>&1)
make --no-print-directory -s install DESTDIR="$dest" BUILD="$BUILD" >"$TMP/install.log" 2>&1
check "make install DESTDIR=... succeeds" test $? -eq 0
for path in usr/sbin/wardgated usr/lib/wardgate/plugins/sim.so etc/wardgate/wardgate.yaml \
            etc/wardgate/profiles/call-point.yaml var/lib/wardgate usr/share/wardgate/web \
            lib/systemd/system/wardgated.service usr/lib/sysusers.d/wardgate.conf; do
  check "installed: /$path" test -e "$dest/$path"
done
outside_after=$(ls -l --time-style=full-iso /usr/sbin/wardgated /etc/wardgate /lib/systemd/system/wardgated.service 2>&1)
check "nothing installed outside DESTDIR (the real /usr/sbin, /etc, unit dir untouched)" \
  test "$outside_before" = "$outside_after"
# The installed config names its profiles relative to itself: it must check out in place.
out=$("$dest/usr/sbin/wardgated" -c "$dest/etc/wardgate/wardgate.yaml" --plugin-dir "$dest/usr/lib/wardgate/plugins" --check 2>&1); rc=$?
check "the installed configuration passes --check in place" test $rc -eq 0
[ $rc -ne 0 ] && note "$out"
done_testing
