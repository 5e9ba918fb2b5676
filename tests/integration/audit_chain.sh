#!/usr/bin/env bash
# wardgated --verify-audit through the real binaries: users added on the
# command line and logins to the running daemon's web API write audit rows;
# the chain verifies while the daemon runs and after it stops. Then a row
# changed with the sqlite3 tool, a row deleted, and a database from before
# the chain are each named, with exit 1, and the verifier never writes.
. "$(dirname "$0")/lib.sh"

config=$TMP/site.yaml
db=$TMP/wardgate.db
make_config "$config"
web_port=$(free_port)
sed -i "s|^  enabled: false|  listen: 127.0.0.1\n  port: $web_port\n  root: $ROOT/web|" "$config"
printf 'first admin pass 1\n' >"$TMP/pw"
"$WARDGATED" -c "$config" --db "$db" --add-user alice --role admin --password-file "$TMP/pw" >/dev/null 2>&1
"$WARDGATED" -c "$config" --db "$db" --add-user bob --role nurse --password-file "$TMP/pw" >/dev/null 2>&1
verify() { "$WARDGATED" -c "$config" --db "$db" --verify-audit 2>&1; }

start_daemon "$config" "$db" "$TMP/daemon.log"
wait_for "$TMP/daemon.log" "web: serving" 15 || note "$(tail -5 "$TMP/daemon.log")"
login() {
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" "http://127.0.0.1:$web_port/api/v1/login"
}
check "alice logs in to the running daemon" test "$(login alice 'first admin pass 1')" = 200
login bob 'a wrong password 1' >/dev/null
rows=0
for _ in $(seq 1 50); do
  rows=$(sql "$db" "SELECT count(*) FROM audit")
  [ "$rows" -ge 4 ] && break
  sleep 0.1
done
note "audit rows: $(sql "$db" "SELECT group_concat(action, ', ') FROM audit")"
check "the command line and the web wrote audit rows ($rows)" test "$rows" -ge 4

out=$(verify); rc=$?
note "$out"
check "--verify-audit while the daemon runs: exit 0, intact, every row" \
  test $rc -eq 0 -a -n "$(grep -E "^audit chain intact in $db: $rows rows, seq 1 " <<<"$out")"
stop_daemon
check "the daemon stopped cleanly" test "$DAEMON_RC" -eq 0
out=$(verify); rc=$?
check "after the stop: still intact" test $rc -eq 0 -a -n "$(grep "intact" <<<"$out")"

# A copy to restore between the tampering steps: the WAL folded in first.
sql "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$db" "$TMP/pristine.db"
restore() { rm -f "$db-wal" "$db-shm"; cp "$TMP/pristine.db" "$db"; }
sum_before=$(sha256sum "$db" | cut -d' ' -f1)
sql "$db" "UPDATE audit SET detail = '{\"role\":\"admin\"}' WHERE seq = 2"
out=$(verify); rc=$?
note "$out"
check "a changed row: exit 1" test $rc -eq 1
check "... named: row 2, what it was, and that its content changed" \
  grep -q "^audit chain BROKEN in $db: audit row 2 (.*: user.add bob by .*) does not match the chain: its content was changed after it was written$" <<<"$out"
check "... the rows before it are intact" grep -q "^(1 rows before it, seq 1 to 1, are intact)$" <<<"$out"

restore
sql "$db" "DELETE FROM audit WHERE seq = 2"
out=$(verify); rc=$?
note "$out"
check "a deleted row: exit 1, the row after it named, rows missing" \
  test $rc -eq 1 -a -n "$(grep "audit row 3 .*rows before it are missing" <<<"$out")"

restore
sum=$(sha256sum "$db" | cut -d' ' -f1)
verify >/dev/null
check "the verifier never writes the database" test "$(sha256sum "$db" | cut -d' ' -f1)" = "$sum"
check "... (the copy is the database as the daemon left it)" test "$sum" = "$sum_before"

sql "$db" "DROP TABLE audit_anchor; DELETE FROM migrations WHERE version >= 8"
out=$(verify); rc=$?
check "a database from before the chain: exit 1, says how to migrate it" \
  test $rc -eq 1 -a -n "$(grep "from before the audit chain (schema 8): start this wardgated on it once" <<<"$out")"
out=$("$WARDGATED" -c "$config" --db "$TMP/none.db" --verify-audit 2>&1); rc=$?
check "no database: exit 1, named" \
  test $rc -eq 1 -a -n "$(grep "database $TMP/none.db: No such file or directory; the audit log was not checked" <<<"$out")"
out=$("$WARDGATED" -c "$config" --verify-audit --check 2>&1); rc=$?
check "--verify-audit with --check: usage error 2" test $rc -eq 2
done_testing
