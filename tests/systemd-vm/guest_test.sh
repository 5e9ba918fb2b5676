#!/bin/sh
# The guest side of tests/integration/systemd_qemu.sh: runs at boot (unit
# wardgate-vmtest.service) on a Debian 12 machine with systemd 252 as PID 1,
# where wardgate was installed with `make install DESTDIR=...` and nothing
# else. Does what an operator does, as a package would: wardgate-setup, the
# first user, systemctl start; then checks the service as installed.
# Results go to the second serial port as "WGVM ok - ..." / "WGVM not ok -
# ..." / "WGVM # ..." lines, which the host turns into TAP.
out=/dev/ttyS1
conf=/etc/wardgate/wardgate.yaml
unit=wardgated
api=http://127.0.0.1:8080/api/v1
pw_file=/root/vmadmin.password

say() { echo "WGVM $*" >"$out"; echo "WGVM $*"; }
ok() { say "ok - $*"; }
not_ok() { say "not ok - $*"; }
note() { say "# $*"; }
check() { d=$1; shift; if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; fi; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'; }
prop() { systemctl show -p "$1" --value "$unit"; }
# wait_until SECONDS COMMAND...: until the command succeeds, every 0.2 s.
wait_until() {
  limit=$1; shift
  end=$(awk -v a="$(uptime_s)" -v l="$limit" 'BEGIN { print a + l }')
  while ! "$@" >/dev/null 2>&1; do
    awk -v e="$end" -v n="$(uptime_s)" 'BEGIN { exit !(n > e) }' && return 1
    sleep 0.2
  done
  return 0
}
active() { [ "$(systemctl is-active "$unit")" = active ]; }
owner_mode() { [ "$(stat -c '%U:%G %a' "$1")" = "$2" ]; }
# The daemon logs every event, so the journal grows fast: look only at what
# came after a mark (journalctl seeks to it by its index).
mark_journal() { mark=$(date +%s.%N); }
journal_has() { journalctl -u "$unit" --since "@$mark" -o cat --no-pager | grep -q -- "$1"; }

stty -F "$out" raw -echo 2>/dev/null
note "guest: $(uname -r), $(systemctl --version | head -1), test starts $(uptime_s) s after boot"
t_total=$(uptime_s)

# ---- the package steps, as a postinst runs them ----
check "before setup there is no user wardgate (a machine that has booted before)" \
  sh -c '! getent passwd wardgate'
if /usr/lib/wardgate/wardgate-setup >/tmp/setup.log 2>&1; then ok "wardgate-setup runs"; else
  not_ok "wardgate-setup runs"; sed 's/^/WGVM # /' /tmp/setup.log >"$out"; fi
check "the system user wardgate exists, in group dialout" sh -c 'id -nG wardgate | grep -qw dialout'
check "/etc/wardgate is root:wardgate 1770" owner_mode /etc/wardgate "root:wardgate 1770"
check "wardgate.yaml is wardgate:wardgate 640" owner_mode "$conf" "wardgate:wardgate 640"
check "/etc/wardgate/profiles is root:wardgate 750" owner_mode /etc/wardgate/profiles "root:wardgate 750"
check "/var/lib/wardgate is wardgate:wardgate 750" owner_mode /var/lib/wardgate "wardgate:wardgate 750"
# Secrets an operator drops in later with the wrong mode: setup again puts them right.
mkdir -p /etc/wardgate/tls
echo "not a real key" >/etc/wardgate/tls/client.key
echo "not a real password" >/etc/wardgate/uplink.password
chmod 0644 /etc/wardgate/tls/client.key /etc/wardgate/uplink.password
/usr/lib/wardgate/wardgate-setup >/dev/null 2>&1
check "setup again: tls/client.key root:wardgate 640" owner_mode /etc/wardgate/tls/client.key "root:wardgate 640"
check "setup again: uplink.password root:wardgate 640" owner_mode /etc/wardgate/uplink.password "root:wardgate 640"
check "the daemon's user can read the secrets" runuser -u wardgate -- cat /etc/wardgate/uplink.password
check "another user cannot (not world-readable)" sh -c '! runuser -u nobody -- cat /etc/wardgate/uplink.password'
check "the daemon's user cannot remove root's files in /etc/wardgate (sticky)" \
  sh -c '! runuser -u wardgate -- rm -f /etc/wardgate/uplink.password && test -f /etc/wardgate/uplink.password'
check "the unit's Documentation= files are installed" sh -c \
  'for d in $(systemctl show -p Documentation --value wardgated); do test -f "${d#file:}" || exit 1; done'

# ---- the first user, made as root before the first start (README) ----
echo "vm-admin-Passw0rd-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')" >"$pw_file"
check "wardgated --add-user as root, password from a file" \
  wardgated -c "$conf" --add-user vmadmin --role admin --password-file "$pw_file"
check "... the new database belongs to wardgate" owner_mode /var/lib/wardgate/wardgate.db "wardgate:wardgate 640"

# ---- start and READY ----
t=$(uptime_s)
if systemctl start "$unit"; then ok "systemctl start $unit (returns after READY=1) in $(since "$t") s"; else
  not_ok "systemctl start $unit"; fi
check "is-active: active" active
note "status text: $(prop StatusText)"
check "STATUS says running" sh -c "systemctl show -p StatusText --value $unit | grep -q running"
check "it runs as wardgate" test "$(stat -c %U /proc/"$(prop MainPID)")" = wardgate
check "LimitNOFILE is 65536" test "$(prop LimitNOFILE)" = 65536
check "the web API answers (/healthz)" wait_until 60 curl -sf http://127.0.0.1:8080/healthz

# ---- the sandbox as it is, with the config directory writable ----
pid=$(prop MainPID)
check "sandbox: /usr is read-only for the daemon" sh -c "! nsenter -t $pid -m -- touch /usr/wg-test"
check "sandbox: /etc is read-only for the daemon" sh -c "! nsenter -t $pid -m -- touch /etc/wg-test"
check "sandbox: /etc/wardgate is writable (ReadWritePaths)" \
  sh -c "nsenter -t $pid -m -- touch /etc/wardgate/.wg-test && rm /etc/wardgate/.wg-test"
score=$(systemd-analyze security "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
note "figure: systemd-analyze security $unit: exposure ${score:-?}"
check "systemd-analyze security: exposure ${score:-?} <= 2.0" awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }'

# ---- a UI edit that persists ----
# Under TCG a freshly started daemon is busy for a while (every device comes
# online at once) and the API may answer 503 ("the core did not answer within
# 5 s"); a client tries again. A test that waits for that, up to 90 s.
login_once() {
  rm -f /tmp/jar
  code=$(curl -s -o /tmp/login.json -w '%{http_code}' -c /tmp/jar -H 'Content-Type: application/json' \
    -d "{\"username\":\"vmadmin\",\"password\":\"$(cat "$pw_file")\"}" "$api/login")
  [ "$code" = 200 ]
}
login() {
  if ! wait_until 90 login_once; then
    note "login: HTTP $code: $(head -c 200 /tmp/login.json)"
    return 1
  fi
  jq -r .csrf /tmp/login.json
}
get_once() { code=$(curl -s -o /tmp/get.json -w '%{http_code}' -b /tmp/jar "$api/$1"); [ "$code" = 200 ]; }
api_get() { # PATH -> body on stdout, or a note and failure
  if ! wait_until 90 get_once "$1"; then
    note "GET $1: HTTP $code: $(head -c 200 /tmp/get.json)"
    return 1
  fi
  cat /tmp/get.json
}
csrf=$(login)
check "log in through the API as the user --add-user made" test -n "$csrf" -a "$csrf" != null
before=$(sha256sum "$conf" | cut -c1-64)
put_once() {
  code=$(curl -s -o /tmp/put.json -w '%{http_code}' -b /tmp/jar -X PUT -H "X-CSRF-Token: $csrf" \
    -H 'Content-Type: application/json' \
    -d "{\"id\":\"R-ACD7\",\"label\":\"$1\",\"bed\":\"$2\",\"care_level\":1,\"risks\":[]}" \
    "$api/residents/R-ACD7")
  [ "$code" != 503 ]
}
put_resident() { # label bed -> HTTP code (a PUT is idempotent: tried again on 503)
  wait_until 90 put_once "$1" "$2"
  echo "$code"
}
code=$(put_resident "田爷爷（虚拟机）" 101-A)
check "PUT a resident's label: 200 (got $code: $(head -c 200 /tmp/put.json))" test "$code" = 200
check "the file has the new label" grep -q "label: 田爷爷（虚拟机）" "$conf"
check "wardgate.yaml.prev holds the old label" grep -q "label: 田爷爷," "$conf.prev"
check "wardgate.yaml is still wardgate:wardgate 640" owner_mode "$conf" "wardgate:wardgate 640"
check "no temporary file is left in /etc/wardgate" test -z "$(find /etc/wardgate -maxdepth 1 -name '.*edit-*')"
check "the edit's reload was applied (verdict file)" wait_until 20 grep -q applied=yes /run/wardgate/reload-verdict
saved=$(sha256sum "$conf" | cut -c1-64)
code=$(put_resident "田爷爷" 999-Z)
check "a bad edit (no such bed) is 422 (got $code) and the file stays" \
  test "$code" = 422 -a "$(sha256sum "$conf" | cut -c1-64)" = "$saved"
check "the file did change from the installed one" test "$before" != "$saved"
systemctl restart "$unit"
check "after a restart: active" active
check "... the web API answers again" wait_until 60 curl -sf http://127.0.0.1:8080/healthz
csrf=$(login)
label=$(api_get residents | jq -r '.residents[] | select(.id == "R-ACD7") | .label')
check "... the API shows the edited label ($label)" test "$label" = "田爷爷（虚拟机）"

# ---- reload: accepted and refused, as systemctl reload reports it ----
cp "$conf" /root/good.yaml
pid=$(prop MainPID)
t=$(uptime_s)
mark_journal
check "systemctl reload (good file): exit 0" systemctl reload "$unit"
note "reload took $(since "$t") s"
check "... the journal says applied" journal_has "reload: applied"
echo "nonsense_key: 1" >>"$conf"
mark_journal
systemctl reload "$unit" >/dev/null 2>&1; rc=$?
check "systemctl reload (unknown key): fails (exit $rc)" test "$rc" -ne 0
check "... the service stays active, same process" sh -c "[ \"\$(systemctl is-active $unit)\" = active ] && [ \"\$(systemctl show -p MainPID --value $unit)\" = $pid ]"
check "... the journal names the key" journal_has 'unknown key "nonsense_key"'
cat /root/good.yaml >"$conf"
check "the file mended: systemctl reload exit 0" systemctl reload "$unit"
# The daemon's own verdict, without the --check before it.
mkdir -p /etc/systemd/system/$unit.service.d
printf '[Service]\nExecReload=\nExecReload=/usr/sbin/wardgated --reload $MAINPID\n' \
  >/etc/systemd/system/$unit.service.d/verdict-only.conf
systemctl daemon-reload
echo "nonsense_key: 1" >>"$conf"
mark_journal
systemctl reload "$unit" >/dev/null 2>&1; rc=$?
check "ExecReload without --check: the daemon's refusal fails systemctl reload (exit $rc)" test "$rc" -ne 0
check "... from the daemon's verdict (wardgated --reload says refused)" \
  journal_has "wardgated: reload refused"
cat /root/good.yaml >"$conf"
check "... and its applied verdict: exit 0" systemctl reload "$unit"
rm /etc/systemd/system/$unit.service.d/verdict-only.conf
systemctl daemon-reload
check "still the same process after the reloads" test "$(prop MainPID)" = "$pid"

# ---- the watchdog ----
# watchdog_case NAME SIGNAL: the process (STOP) or one thread (test hooks)
# stops; systemd must see the watchdog lapse and restart the service.
watchdog_case() {
  name=$1; sig=$2
  pid=$(prop MainPID); restarts=$(prop NRestarts)
  mark_journal
  t=$(uptime_s)
  kill -"$sig" "$pid"
  if [ "$sig" != STOP ]; then
    sleep 3
    check "$name: the process lives on with the thread frozen" \
      sh -c "kill -0 $pid && [ \"\$(systemctl show -p MainPID --value $unit)\" = $pid ]"
  fi
  if wait_until 90 sh -c "[ \"\$(systemctl show -p NRestarts --value $unit)\" -gt $restarts ] && [ \"\$(systemctl is-active $unit)\" = active ]"; then
    ok "$name: systemd restarted the service ($(since "$t") s after the freeze; active again)"
  else
    not_ok "$name: systemd restarted the service (NRestarts $(prop NRestarts), $(systemctl is-active $unit))"
  fi
  check "$name: ... because of the watchdog (journal: Watchdog timeout)" \
    journal_has "Watchdog timeout"
  check "$name: ... a new process" test "$(prop MainPID)" != "$pid"
}
watchdog_case "whole process stopped (SIGSTOP)" STOP
if grep -q WARDGATE_TEST_HOOKS /usr/sbin/wardgated; then
  printf '[Service]\nEnvironment=WARDGATE_TEST_HOOKS=1\n' >/etc/systemd/system/$unit.service.d/test-hooks.conf
  systemctl daemon-reload
  systemctl restart "$unit"
  check "with the test hooks (drop-in Environment=WARDGATE_TEST_HOOKS=1): active" active
  watchdog_case "core thread frozen (SIGUSR2)" USR2
  wait_until 60 curl -sf http://127.0.0.1:8080/healthz
  watchdog_case "web thread frozen (SIGUSR1)" USR1
  rm /etc/systemd/system/$unit.service.d/test-hooks.conf
  systemctl daemon-reload
else
  ok "core and web thread frozen # SKIP this wardgated has no test hooks (contract 6: WARDGATE_TEST_HOOKS, SIGUSR2/SIGUSR1)"
fi

# ---- stop ----
check "systemctl stop: exit 0" systemctl stop "$unit"
check "... inactive, result success" test "$(systemctl is-active $unit)" = inactive -a "$(prop Result)" = success
note "guest test took $(since "$t_total") s"
echo "---- journal of $unit ----"
journalctl -u "$unit" -p notice -o short-monotonic --no-pager | tail -200
say "done"
