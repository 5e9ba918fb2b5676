#!/usr/bin/env bash
# Packaging: the systemd unit passes `systemd-analyze verify` with empty
# output (it exits 0 even on parse errors, so the output is what counts) and
# keeps its hardening, and `make install DESTDIR=...` puts everything at its
# FHS path with its mode, owned by whoever installs (owners are the business
# of wardgate-setup, run in the target: tests/integration/systemd_qemu.sh).
. "$(dirname "$0")/lib.sh"

if command -v systemd-analyze >/dev/null; then
  # verify needs the ExecStart binary to exist: point it at the built one.
  sed "s#/usr/sbin/wardgated#$WARDGATED#g" systemd/wardgated.service >"$TMP/wardgated.service"
  out=$(systemd-analyze verify "$TMP/wardgated.service" 2>&1); rc=$?
  check "systemd-analyze verify: exit 0" test $rc -eq 0
  check "systemd-analyze verify: no output" test -z "$out"
  [ -n "$out" ] && note "$out"
  for key in "Type=notify" "WatchdogSec=" "Restart=on-failure" "ProtectSystem=strict" "PrivateTmp=yes" \
             "NoNewPrivileges=yes" "DevicePolicy=closed" "ExecReload=/usr/sbin/wardgated -c .* --check" \
             "ExecReload=/usr/sbin/wardgated --reload \\\$MAINPID" "RuntimeDirectory=wardgate" \
             "ReadWritePaths=.*/etc/wardgate" "LimitNOFILE=[0-9]" "User=wardgate"; do
    check "unit has $key" grep -q "^$key" systemd/wardgated.service
  done
  check "the --check reload line comes before the --reload one" \
    test "$(grep -n '^ExecReload=' systemd/wardgated.service | head -1 | grep -c -- --check)" -eq 1
  exposure=$(systemd-analyze security --offline=true "$TMP/wardgated.service" 2>/dev/null | grep -oE 'Overall exposure level for [^:]+: [0-9.]+' | grep -oE '[0-9.]+$')
  note "systemd-analyze security exposure: ${exposure:-?} (0 = locked down, 10 = exposed)"
  check "exposure level at most 2.0 (got ${exposure:-?})" awk -v e="${exposure:-10}" 'BEGIN { exit !(e <= 2.0) }'
else
  skip "systemd-analyze verify" "systemd-analyze is not installed"
fi

dest=$TMP/root
outside_before=$(ls -l --time-style=full-iso /usr/sbin/wardgated /etc/wardgate /lib/systemd/system/wardgated.service 2>&1)
make --no-print-directory -s install DESTDIR="$dest" BUILD="$BUILD" >"$TMP/install.log" 2>&1
check "make install DESTDIR=... succeeds" test $? -eq 0
for path in usr/sbin/wardgated usr/sbin/wardgate-facility-ca usr/lib/wardgate/plugins/sim.so etc/wardgate/wardgate.yaml \
            etc/wardgate/profiles/call-point.yaml var/lib/wardgate usr/share/wardgate/web \
            lib/systemd/system/wardgated.service usr/lib/sysusers.d/wardgate.conf \
            usr/lib/wardgate/wardgate-setup usr/share/doc/wardgate/README.md \
            usr/share/doc/wardgate/docs/config.md; do
  check "installed: /$path" test -e "$dest/$path"
done
mode() { stat -c %a "$dest/$1"; }
for want in "etc/wardgate 1770" "etc/wardgate/wardgate.yaml 640" "etc/wardgate/profiles 750" \
            "etc/wardgate/profiles/call-point.yaml 644" "var/lib/wardgate 750" \
            "usr/sbin/wardgated 755" "usr/sbin/wardgate-facility-ca 755" "usr/lib/wardgate/wardgate-setup 755" \
            "lib/systemd/system/wardgated.service 644" "usr/lib/sysusers.d/wardgate.conf 644"; do
  check "mode of /${want% *} is ${want#* } (got $(mode "${want% *}"))" test "$(mode "${want% *}")" = "${want#* }"
done
check "every installed file belongs to the installing user (owners are wardgate-setup's job)" \
  test -z "$(find "$dest" ! -user "$(id -u)" -o ! -group "$(id -g)" | head -1)"
check "the sysusers entry makes the system user wardgate" grep -qE '^u wardgate ' "$dest/usr/lib/sysusers.d/wardgate.conf"
check "... a member of dialout (RS-485 lines)" grep -qE '^m wardgate dialout' "$dest/usr/lib/sysusers.d/wardgate.conf"
check "wardgate-setup has its paths filled in" test -z "$(grep -n '@[A-Z]*@' "$dest/usr/lib/wardgate/wardgate-setup")"
check "wardgate-setup is valid sh" sh -n "$dest/usr/lib/wardgate/wardgate-setup"
for doc in $(sed -n 's#^Documentation=file:##p' "$dest/lib/systemd/system/wardgated.service"); do
  check "the unit's Documentation= target $doc is installed" test -f "$dest$doc"
done
# A second install never overwrites the site's configuration (the manager UI edits it).
echo "# edited on site" >>"$dest/etc/wardgate/wardgate.yaml"
make --no-print-directory -s install DESTDIR="$dest" BUILD="$BUILD" >"$TMP/install2.log" 2>&1
check "make install again: the site's wardgate.yaml is kept" grep -q "^# edited on site" "$dest/etc/wardgate/wardgate.yaml"
check "... and it says so" grep -q "exists; kept as it is" "$TMP/install2.log"
outside_after=$(ls -l --time-style=full-iso /usr/sbin/wardgated /etc/wardgate /lib/systemd/system/wardgated.service 2>&1)
check "nothing installed outside DESTDIR (the real /usr/sbin, /etc, unit dir untouched)" \
  test "$outside_before" = "$outside_after"
# The installed config names its profiles relative to itself: it must check out in place.
out=$("$dest/usr/sbin/wardgated" -c "$dest/etc/wardgate/wardgate.yaml" --plugin-dir "$dest/usr/lib/wardgate/plugins" --check 2>&1); rc=$?
check "the installed configuration passes --check in place" test $rc -eq 0
[ $rc -ne 0 ] && note "$out"
done_testing
