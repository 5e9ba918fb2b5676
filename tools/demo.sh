#!/usr/bin/env bash
# `make demo`: runs wardgated on the example facility (config/facility.yaml),
# every bus driven by the `sim` driver, with its database in build/demo/.
# DEMO_SECONDS=N stops it after N seconds (used by the tests).
set -euo pipefail
BUILD=${BUILD:-build}
state=$BUILD/demo
mkdir -p "$state"
db=$state/wardgate.db

cat <<EOT

  wardgate demo: a 3-floor, 60-bed facility simulated by the sim driver
  ---------------------------------------------------------------------
  This terminal shows every event as it is committed: calls and pull cords
  (latched until a carer logs presence and resets them), bed exits at night,
  gas leaks that close the kitchen valve, device health, meters.

  While it runs, in another terminal:
    latest events   sqlite3 $db "select seq, datetime(ts_ms/1000,'unixepoch','localtime'), kind, device, room, body from events order by seq desc limit 15"
    meter history   sqlite3 $db "select device, point, n, round(sum/n,2) from readings order by bucket_ms desc limit 10"
    reload config   kill -HUP \$(pgrep -f 'wardgated -c config/facility.yaml')
    check config    $BUILD/wardgated -c config/facility.yaml --plugin-dir $BUILD/plugins --check

  Ctrl-C stops it cleanly (everything committed).

EOT
# The first admin: made once with the real `wardgated --add-user`, its random
# password kept (mode 0600) beside the demo database. No default password.
creds=$state/admin-password
if [ ! -s "$creds" ]; then
  (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' > "$creds")
  "$BUILD/wardgated" -c config/facility.yaml --db "$db" --add-user admin --role admin \
    --password-file "$creds" >/dev/null
fi
port=$(sed -n 's/^  port: *\([0-9]*\).*/\1/p' config/facility.yaml | head -1)
cat <<EOT
  Station display   http://127.0.0.1:${port:-8080}/            (any browser on this machine)
  Manager UI        http://127.0.0.1:${port:-8080}/manage.html
  First admin       user "admin", password "$(cat "$creds")"  (kept in $creds)
                    Add nurse, station and manager accounts in the manager UI (Users).

EOT
args=(-c config/facility.yaml --db "$db" --plugin-dir "$BUILD/plugins" --web-root web)
if [ -n "${DEMO_SECONDS:-}" ]; then
  rc=0
  timeout --signal=INT --kill-after=10 "$DEMO_SECONDS" "$BUILD/wardgated" "${args[@]}" || rc=$?
  [ "$rc" -eq 124 ] && rc=0 # stopped by the timer, as asked
  exit "$rc"
fi
exec "$BUILD/wardgated" "${args[@]}"
