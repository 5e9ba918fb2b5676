#!/usr/bin/env bash
# The database when it goes wrong: locked by another process at start and at
# run time, corrupt, not a database, in an unwritable place, and too small.
# Each gets a clear message naming the file; the daemon never crashes; a
# corrupt file is left byte for byte as it was; held events are not lost; at
# its size bound the store evicts by itself. (Faults while calls are pressed,
# with a display and the uplink: storage_annunciate.py.)
. "$(dirname "$0")/lib.sh"

config=$TMP/site.yaml
make_config "$config" "        - {at_ms: 0, device: call-101A, point: call, value: 1, repeat: 40, every_ms: 100}"

# 1. Locked at start (another process holds an exclusive lock through start-up).
db=$TMP/locked.db
"$WARDGATED" -c "$config" --db "$db" --plugin-dir "$PLUGINS" --check >/dev/null 2>&1
sqlite3 "$db" "create table x(a)" # make it a database
/usr/bin/python3 - "$db" <<'PY' &
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
time.sleep(4)
con.execute("COMMIT")
PY
locker=$!
sleep 0.5
out=$("$WARDGATED" -c "$config" --db "$db" --plugin-dir "$PLUGINS" 2>&1); rc=$?
check "locked at start: refuses to start (exit 1)" test $rc -eq 1
check "... saying the database is locked, naming the file" grep -qE "locked.db.*locked|locked.*locked.db" <<<"$out"
note "$(grep -iE 'lock' <<<"$out" | head -2)"
wait $locker

# 2. Locked while running: events are held, then committed, none lost.
db=$TMP/run.db
log=$TMP/run.log
start_daemon "$config" "$db" "$log"
wait_for "$log" "ready:" 10
sleep 0.5
/usr/bin/python3 - "$db" <<'PY'
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN EXCLUSIVE")
time.sleep(2.5)
con.execute("COMMIT")
PY
check "locked while running: the daemon says events are held" grep -q "events are held in memory" "$log"
check "... and recovers" wait_for "$log" "storage: working again" 5
sleep 3 # let the scripted burst (40 toggles, 4 s) finish
check "... still running" kill -0 "$DAEMON_PID"
stop_daemon TERM
toggles=$(sql "$db" "select count(*) from events where kind='point' and device='call-101A'")
check "no event lost across the lock: all 40 toggles journaled (got $toggles)" test "$toggles" -eq 40
check "clean exit 0" test "$DAEMON_RC" -eq 0

# 3. Corrupt: a real database with a page overwritten.
db=$TMP/corrupt.db
cp "$TMP/run.db" "$db"
rm -f "$TMP/run.db-wal" "$TMP/run.db-shm"
size=$(stat -c %s "$db")
dd if=/dev/urandom of="$db" bs=4096 seek=2 count=3 conv=notrunc status=none
before=$(sha256sum "$db" | cut -d' ' -f1)
out=$("$WARDGATED" -c "$config" --db "$db" --plugin-dir "$PLUGINS" 2>&1); rc=$?
after=$(sha256sum "$db" | cut -d' ' -f1)
check "corrupt database: refuses to start (exit 1)" test $rc -eq 1
check "... with a message naming the file" grep -q "corrupt.db" <<<"$out"
check "... and the file is left exactly as it was ($size bytes)" test "$before" = "$after"
note "$(grep -E 'crit|error' <<<"$out" | head -2)"

# 4. Not a database at all.
db=$TMP/notes.txt
echo "shopping list: milk, bread" >"$db"
out=$("$WARDGATED" -c "$config" --db "$db" --plugin-dir "$PLUGINS" 2>&1); rc=$?
check "a file that is not a database: exit 1, named" test $rc -eq 1 -a -n "$(grep notes.txt <<<"$out")"
check "... and left alone" test "$(cat "$db")" = "shopping list: milk, bread"

# 5. Nowhere to write.
out=$("$WARDGATED" -c "$config" --db /proc/wardgate/x.db --plugin-dir "$PLUGINS" 2>&1); rc=$?
check "unwritable location: exit 1, the path named" test $rc -eq 1 -a -n "$(grep '/proc/wardgate/x.db' <<<"$out")"

# 6. A database at its size bound (storage.max_mb: 8, the smallest allowed)
#    overrun by a burst of 30,000 journal events (about 9 MB): the store
#    evicts the oldest point changes by itself, keeps the call, the database
#    and its WAL stay within 8 MiB all along, nothing is refused or dropped,
#    and the daemon stops cleanly.
small=$TMP/small.yaml
make_config "$small" "        - {at_ms: 0, device: call-102A, point: call, value: 1}
        - {at_ms: 200, device: call-101A, point: call, value: 1, repeat: 30000}"
sed -i 's/^log:/storage:\n  max_mb: 8\nlog:/' "$small"
cat >>"$small" <<'YAML'
rules:
  - {id: call, kind: call}
YAML
db=$TMP/bounded.db
log=$TMP/bounded.log
start_daemon "$small" "$db" "$log"
wait_for "$log" "ready:" 10
largest=0 last=-1 steady=0
for _ in $(seq 1 600); do # until the writer is done (journal steady for 2 s), at most 60 s
  size=$(( $(stat -c %s "$db" 2>/dev/null || echo 0) + $(stat -c %s "$db-wal" 2>/dev/null || echo 0) ))
  [ "$size" -gt "$largest" ] && largest=$size
  seq_now=$(sql "$db" "select coalesce(max(seq),0) from events" 2>/dev/null || echo 0)
  if [ "$seq_now" = "$last" ]; then steady=$((steady + 1)); else steady=0; last=$seq_now; fi
  [ "$steady" -ge 20 ] && [ "$seq_now" -gt 30000 ] && break
  sleep 0.1
done
check "bounded database: the store evicts by itself and says so" grep -q "at its size bound: evicted the oldest .*point changes" "$log"
note "$(grep -m1 'at its size bound' "$log")"
check "... the database and its WAL never exceeded 8 MiB (at most $largest bytes)" test "$largest" -le $((8 << 20))
check "... and keeps running" kill -0 "$DAEMON_PID"
points=$(sql "$db" "select count(*) from events where kind = 'point'")
newest=$(sql "$db" "select max(seq) from events")
check "... the oldest point changes went ($points of 30,000 kept), the newest stayed (#$newest)" \
  test "$points" -lt 30000 -a "$points" -gt 1000 -a "$newest" -gt 30000
check "... the call stays: its raise in the journal, its row in the alarms" \
  test "$(sql "$db" "select count(*) from events where kind = 'alarm' and device = 'call-102A'")" -ge 1 -a \
       "$(sql "$db" "select count(*) from alarms where body like '%call-102A%'")" -eq 1
check "... nothing refused, nothing dropped from memory" test -z "$(grep -E 'is full|dropped|refused' "$log")"
stop_daemon TERM
check "... stops with exit 0" test "$DAEMON_RC" -eq 0
check "... having kept every event it held" test -z "$(grep 'could not be stored' "$log")"
bytes=$(( $(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0) ))
check "... the files stay within the 8 MiB bound ($bytes bytes)" test "$bytes" -le $((8 << 20))
check "... integrity_check ok" test "$(sql "$db" "pragma integrity_check")" = "ok"
done_testing
