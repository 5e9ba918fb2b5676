#!/usr/bin/env bash
# wardgated --add-user: the password from --password-file, from a pipe, and
# from a terminal (a pty, echo off, asked twice); refused roles, names and
# passwords, a duplicate user and a missing file, each with a clear message
# and exit 1 (usage errors 2); storage.path and --db; while the daemon runs,
# and while a third process holds the write lock (about 15 s); the database
# holds an argon2id hash and never the password.
. "$(dirname "$0")/lib.sh"

config=$TMP/site.yaml
db=$TMP/wardgate.db
make_config "$config"
pw1='first admin pass 1'
pw2='a nurse pass word'
printf '%s\n' "$pw1" >"$TMP/pw1"

add() { "$WARDGATED" -c "$config" --db "$db" "$@" 2>&1; }
has_user() { [ "$(sql "$db" "SELECT role FROM users WHERE username = '$1'")" = "$2" ]; }

out=$(add --add-user alice --role admin --password-file "$TMP/pw1"); rc=$?
check "--password-file: exit 0" test $rc -eq 0
check "... says what it did" grep -q "^wardgated: user alice (admin) added to $db$" <<<"$out"
check "... the database was made and migrated (schema 4)" \
  test "$(sql "$db" "SELECT max(version) FROM migrations")" -ge 4
check "... alice is an admin" has_user alice admin
hash=$(sql "$db" "SELECT password_hash FROM users WHERE username = 'alice'")
check "... with an argon2id hash at the interactive cost" \
  grep -qE '^\$argon2id\$v=19\$m=65536,t=2,p=1\$' <<<"$hash"
check "... audited, without the password" \
  test "$(sql "$db" "SELECT actor || '|' || origin || '|' || action || '|' || target || '|' || detail FROM audit")" \
  = "$(id -un)|command line|user.add|alice|{\"role\":\"admin\"}"

out=$(printf '%s\n' "$pw2" | add --add-user bob); rc=$?
check "stdin (not a terminal): exit 0, role nurse by default" test $rc -eq 0
check "... bob is a nurse" has_user bob nurse

# A file written on Windows: the CR of CRLF is not part of the password.
printf '%s\r\nsecond line\n' "station pass 42" >"$TMP/crlf"
out=$(add --add-user wall --role station --password-file "$TMP/crlf"); rc=$?
check "a CRLF file, role station: exit 0" test $rc -eq 0
check "... wall is a station" has_user wall station

out=$(add --add-user carol --role root --password-file "$TMP/pw1"); rc=$?
check "an unknown role: exit 1" test $rc -eq 1
check "... named, with the roles there are" \
  grep -q 'unknown role "root": station, nurse, manager or admin' <<<"$out"

out=$(add --add-user Carol --password-file "$TMP/pw1"); rc=$?
check "a bad user name: exit 1, with the rule" \
  test $rc -eq 1 -a -n "$(grep 'user name: 1 to 32 characters of a-z 0-9 . _ -' <<<"$out")"

printf 'too short\n' >"$TMP/short"
out=$(add --add-user carol --password-file "$TMP/short"); rc=$?
check "a 9-character password: exit 1" test $rc -eq 1
check "... says the minimum" grep -q "password: at least 10 characters; no user added" <<<"$out"
out=$(printf 'short\n' | add --add-user carol); rc=$?
check "... also from stdin" test $rc -eq 1 -a -n "$(grep 'at least 10 characters' <<<"$out")"
head -c 129 /dev/zero | tr '\0' x >"$TMP/long"
out=$(add --add-user carol --password-file "$TMP/long"); rc=$?
check "a 129-character password: exit 1, says the maximum" \
  test $rc -eq 1 -a -n "$(grep 'at most 128 characters' <<<"$out")"

out=$(add --add-user alice --password-file "$TMP/pw1"); rc=$?
check "a user that exists: exit 1" test $rc -eq 1
check "... says so" grep -q "^wardgated: user alice exists in $db$" <<<"$out"
check "... and alice is unchanged" test "$(sql "$db" "SELECT password_hash FROM users WHERE username = 'alice'")" = "$hash"

out=$(add --add-user carol --password-file "$TMP/missing"); rc=$?
check "a missing password file: exit 1" test $rc -eq 1
check "... named with the cause" \
  grep -q "password file $TMP/missing: No such file or directory; no user added" <<<"$out"
: >"$TMP/empty"
out=$(add --add-user carol --password-file "$TMP/empty"); rc=$?
check "an empty password file: exit 1, says so" \
  test $rc -eq 1 -a -n "$(grep "password file $TMP/empty: the first line is empty" <<<"$out")"
out=$(add --add-user carol </dev/null); rc=$?
check "nothing on stdin: exit 1, says so" \
  test $rc -eq 1 -a -n "$(grep 'no password on standard input' <<<"$out")"
check "none of the refused users was added" test "$(sql "$db" "SELECT count(*) FROM users")" -eq 3

out=$(add --role admin 2>&1); rc=$?
check "--role without --add-user is a usage error (exit 2)" \
  test $rc -eq 2 -a -n "$(grep -- '--role and --password-file go with --add-user' <<<"$out")"
out=$(add --add-user x --check 2>&1); rc=$?
check "--add-user with --check is a usage error (exit 2)" test $rc -eq 2
out=$("$WARDGATED" --add-user carol --password-file "$TMP/pw1" 2>&1); rc=$?
check "--add-user without -c is a usage error (exit 2)" test $rc -eq 2

# Without --db the database is storage.path of the configuration.
cp "$config" "$TMP/site2.yaml"
printf 'storage:\n  path: other.db\n' >>"$TMP/site2.yaml"
out=$("$WARDGATED" -c "$TMP/site2.yaml" --add-user dora --password-file "$TMP/pw1" 2>&1); rc=$?
check "without --db: storage.path (relative to the config) is used" \
  test $rc -eq 0 -a "$(sql "$TMP/other.db" "SELECT role FROM users WHERE username = 'dora'")" = nurse

# A database that cannot be opened.
out=$("$WARDGATED" -c "$config" --db "$TMP/nodir/x.db" --add-user erin --password-file "$TMP/pw1" 2>&1); rc=$?
check "a database in a missing directory: exit 1, named" \
  test $rc -eq 1 -a -n "$(grep "$TMP/nodir" <<<"$out")"

# The terminal: a pty, as when an operator types it.
pty_add() { # name, first answer, second answer
  /usr/bin/python3 - "$WARDGATED" "$config" "$db" "$@" <<'PY'
import os, pty, sys, time, select
exe, config, db, name, first, second = sys.argv[1:7]
pid, fd = pty.fork()
if pid == 0:
    os.execv(exe, [exe, "-c", config, "--db", db, "--add-user", name, "--role", "manager"])
seen = b""
def read_until(what, limit=10):
    global seen
    end = time.time() + limit
    while what not in seen and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                return
            if not chunk:
                return
            seen += chunk
def answer(text):
    time.sleep(0.1)
    try:
        os.write(fd, text.encode() + b"\n")
    except OSError:
        pass  # the child is gone
read_until(b"Password: ")
answer(first)
read_until(b"again: ")
answer(second)
read_until(b"\x00", limit=10)  # until the child closes the pty
_, status = os.waitpid(pid, 0)
text = seen.decode(errors="replace")
print(text.replace("\r", ""))
print("ECHOED" if first in text or second in text else "NOT-ECHOED")
print("EXIT", os.waitstatus_to_exitcode(status))
PY
}
out=$(pty_add erin "$pw2" "$pw2")
sed 's/^/# /' <<<"$out"
check "terminal: asked twice, exit 0" grep -q "^EXIT 0$" <<<"$out"
check "... the password was not echoed" grep -q "^NOT-ECHOED$" <<<"$out"
check "... erin is a manager" has_user erin manager
out=$(pty_add fred "$pw2" "$pw2-typo")
check "terminal: two different answers, exit 1" grep -q "^EXIT 1$" <<<"$out"
check "... says so" grep -q "the two passwords differ; no user added" <<<"$out"
check "... fred was not added" test -z "$(sql "$db" "SELECT 1 FROM users WHERE username = 'fred'")"
out=$(pty_add fred $'\x03' "$pw2")
check "terminal: Ctrl-C at the prompt, exit 1, says so" \
  test -n "$(grep '^EXIT 1$' <<<"$out")" -a -n "$(grep 'interrupted; no user added' <<<"$out")"

# While the daemon runs: the command is another process, whose one write
# connection waits for the daemon's writer under SQLite's locks (busy
# timeout 10 s), and the daemon's web sees the user at once.
log=$TMP/daemon.log
start_daemon "$config" "$db" "$log"
check "the daemon starts on the same database" wait_for "$log" "ready:" 15
out=$(add --add-user gina --role nurse --password-file "$TMP/pw1"); rc=$?
check "--add-user while the daemon runs: exit 0" test $rc -eq 0
check "... gina is a nurse" has_user gina nurse
# A third process holding the write lock past the command's busy timeout:
# refused with the cause, nothing added, the daemon unharmed.
/usr/bin/python3 - "$db" <<'PY' &
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN EXCLUSIVE")
time.sleep(14)
con.execute("COMMIT")
PY
locker=$!
sleep 0.5
out=$(add --add-user hank --password-file "$TMP/pw1"); rc=$?
check "--add-user while another process holds the lock: exit 1" test $rc -eq 1
check "... says the database is locked" grep -q "locked" <<<"$out"
note "$(head -1 <<<"$out")"
wait $locker
check "... hank was not added" test -z "$(sql "$db" "SELECT 1 FROM users WHERE username = 'hank'")"
check "the daemon kept running" kill -0 "$DAEMON_PID"
stop_daemon TERM
check "... and stops cleanly" test "$DAEMON_RC" -eq 0

# Never the password in clear, anywhere in the database's files.
found=0
for f in "$db" "$db-wal" "$TMP/other.db"; do
  [ -e "$f" ] || continue
  for p in "$pw1" "$pw2" "station pass 42"; do
    grep -qaF -- "$p" "$f" && found=1
  done
done
check "no password in clear in the database files" test $found -eq 0
check "every stored password is an argon2id hash" \
  test "$(sql "$db" "SELECT count(*) FROM users WHERE password_hash NOT LIKE '\$argon2id\$%'")" -eq 0
done_testing
