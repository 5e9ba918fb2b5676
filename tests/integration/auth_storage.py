#!/usr/bin/python3
"""Logins and password changes on bad nights, against a real wardgated.

The daemon holds exactly one writable connection to its database (its
/proc/PID/fd and fdinfo: one handle on the file open for writing; the
read-only connections' are O_RDONLY), since auth writes through the store
writer (gateway/store/store_call.h). Then, for each fault:

  locked     another process (sqlite3 through Python) holds BEGIN EXCLUSIVE;
  disk_full  the database is on a small tmpfs (mounted here; we are root)
             that a filler file fills to the last block;

a login and an admin's password change are answered 503 with words for
people (the storage cause, no file path) well before the web's 30 s job
timeout, while the session checks of a logged-in client keep being answered
(the web thread never waits); a wrong password is still 401, a logout still
200. Once storage is back nothing was lost or half-done: the old password
still works, the change then succeeds, and the refused login's audit row and
the logout (its audit row, its session row gone) reached the database.
About 40 s."""
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, ROOT, WARDGATED, PLUGINS, Daemon, free_port, wait_until, ok, note, done  # noqa: E402
from webclient import request  # noqa: E402  (its 60 s outlast the login worker's JOB_TIMEOUT_S)

from storage_faults_lib import Locker, fill  # noqa: E402
from wsdisplay import add_user  # noqa: E402

ADMIN_PW = "admin password 1"
NURSE_PW = "nurse password 1"
NEW_PW = "a new nurse password"
FINAL_PW = "the final nurse password"
JOB_TIMEOUT_S = 30  # the web's login worker answers 503 itself after this (web.c)


def login(port, user, password):
    status, body, cookie = request(port, "POST", "/api/v1/login", {"username": user, "password": password})
    return status, body, cookie


def write_config(name, port):
    with open(os.path.join(ROOT, "tests/integration/fixtures/small.yaml.in"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace("@ROOT@", ROOT).replace("@SCRIPT@\n", "")
    text = text.replace("web:\n  enabled: false\n", f"web:\n  listen: 127.0.0.1\n  port: {port}\n")
    path = os.path.join(TMP, f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def handles(pid, db):
    """{db: [read-only handles, writable handles]} on the database file."""
    counts = {db: [0, 0]}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = int(re.search(r"flags:\s+([0-7]+)", f.read()).group(1), 8)
        except (OSError, AttributeError):
            continue  # closed meanwhile
        if target in counts:
            counts[target][1 if flags & os.O_ACCMODE != os.O_RDONLY else 0] += 1
    return counts


def until_refused(attempt, tries=10):
    """Calls attempt(i) until it is not answered 200: (status, body, seconds
    that one took, how many were taken before)."""
    for i in range(tries):
        started = time.monotonic()
        status, body = attempt(i)
        took = time.monotonic() - started
        if status != 200:
            return status, body, took, i
    return status, body, took, tries


def people_words(body, kind):
    """The refusal names the storage cause in words and no server path."""
    text = body.get("error", "") if isinstance(body, dict) else ""
    cause = "busy" if kind == "locked" else "full"
    return cause in text and "storage" in text and "/" not in text, text


def db_rows(db, sql, *args):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def scenario(kind):
    note(f"---- {kind} ----")
    directory = os.path.join(TMP, kind)
    os.makedirs(directory)
    mounted = False
    if kind == "disk_full":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", directory], check=True)
        mounted = True
    db = os.path.join(directory, "wardgate.db")
    port = free_port()
    config = write_config(kind, port)
    add_user(WARDGATED, config, db, PLUGINS, TMP, "boss", ADMIN_PW, role="admin")
    add_user(WARDGATED, config, db, PLUGINS, TMP, "nina", NURSE_PW, role="nurse")
    daemon = Daemon(config, name=kind, extra=["--web-root", os.path.join(ROOT, "web")])
    daemon.db = db  # on the small disk
    daemon.start()
    log = daemon.read_log
    ok(wait_until(lambda: "web: serving" in log(), 20), f"{kind}: the daemon serves the web", log()[-2000:])
    nurse = {"password": NURSE_PW}  # the one stored
    status, admin, admin_cookie = login(port, "boss", ADMIN_PW)
    ok(status == 200, f"{kind}: the admin logs in", admin)
    status, leaving, leaving_cookie = login(port, "boss", ADMIN_PW)
    ok(status == 200, f"{kind}: ... twice (a session to log out during the fault)")

    # ---- one writer ----
    # (SQLite opens the -wal read-write for read-only connections too, so
    # the database file's own handles tell the writers apart.)
    counts = handles(daemon.process.pid, db)
    ok(counts[db][1] == 1, f"{kind}: the daemon holds exactly one writable handle on the database "
       f"({counts[db][1]})", counts)
    ok(counts[db][0] >= 2, f"{kind}: ... beside {counts[db][0]} read-only ones (auth's, the core's, "
       "the query workers')", counts)

    # ---- the fault ----
    locker = None
    filling = threading.Event()
    if kind == "disk_full":
        filling.set()
        threading.Thread(target=fill, args=(os.path.join(directory, "filler"), filling), daemon=True).start()
        ok(wait_until(lambda: os.statvfs(directory).f_bavail == 0, 10), f"{kind}: the disk is full")
    else:
        locker = Locker(db)

    # Session checks keep being answered while the login waits for storage.
    answers, stop = [], threading.Event()

    def check_sessions():
        while not stop.is_set():
            started = time.monotonic()
            status_seen = request(port, "GET", "/api/v1/session", cookie=admin_cookie)[0]
            answers.append((status_seen, time.monotonic() - started))
            time.sleep(0.05)

    checker = threading.Thread(target=check_sessions, daemon=True)
    checker.start()
    # A full disk may still take a commit now and then, into WAL space it
    # already has; what it takes is really stored. So each is tried until
    # storage refuses it (at once when locked).
    logins = []

    def try_login(_):
        status_seen, body_seen, cookie_seen = login(port, "nina", nurse["password"])
        logins.append((status_seen, cookie_seen))
        return status_seen, body_seen

    status, body, took, taken = until_refused(try_login)
    good, text = people_words(body, kind)
    ok(status == 503 and good and logins[-1][1] is None,
       f"{kind}: a login is refused 503 with words for people ({taken} taken before): \"{text}\"", body)
    ok(took < JOB_TIMEOUT_S - 5, f"{kind}: ... answered by the storage bound, not the web's job timeout "
       f"({took:.1f} s)")

    def try_change(i):
        wanted = NEW_PW if i % 2 == 0 else NURSE_PW
        status_seen, body_seen, _ = request(port, "PUT", "/api/v1/users/nina", {"password": wanted},
                                            cookie=admin_cookie, csrf=admin["csrf"])
        if status_seen == 200:
            nurse["password"] = wanted
        return status_seen, body_seen

    status, body, took, taken = until_refused(try_change)
    good, text = people_words(body, kind)
    ok(status == 503 and good, f"{kind}: a password change is refused 503 ({taken} taken before): \"{text}\"",
       body)
    ok(took < JOB_TIMEOUT_S - 5, f"{kind}: ... within the bound ({took:.1f} s)")
    stop.set()
    checker.join(30)
    ok(answers and all(s == 200 for s, _ in answers),
       f"{kind}: meanwhile {len(answers)} session checks were all answered 200 "
       f"(slowest {max((t for _, t in answers), default=0):.2f} s)", answers[:5])
    status, body, _ = login(port, "nina", "a wrong password")
    ok(status == 401, f"{kind}: a wrong password is still 401 (its audit row waits for storage)", body)
    status, body, _ = request(port, "POST", "/api/v1/logout", {}, cookie=leaving_cookie, csrf=leaving["csrf"])
    ok(status == 200, f"{kind}: a logout is still 200", body)
    status, body, _ = request(port, "GET", "/api/v1/session", cookie=leaving_cookie)
    ok(status == 401, f"{kind}: ... and the session ended at once", body)

    # ---- storage returns ----
    if locker:
        locker.release()
    else:
        filling.clear()
        os.unlink(os.path.join(directory, "filler"))
    ok(wait_until(lambda: login(port, "nina", nurse["password"])[0] == 200, 20),
       f"{kind}: after the fault the password last stored logs in: nothing was half-changed")
    ok(wait_until(lambda: db_rows(db, "SELECT count(*) FROM audit WHERE action = 'login.failed' "
                                  "AND target = 'nina' AND detail LIKE '%wrong password%'")[0][0] == 1, 15),
       f"{kind}: the refused login's audit row made during the fault reached the database")
    ok(wait_until(lambda: db_rows(db, "SELECT count(*) FROM audit WHERE action = 'logout'")[0][0] == 1, 15),
       f"{kind}: so did the logout's")
    status, body, _ = request(port, "PUT", "/api/v1/users/nina", {"password": FINAL_PW},
                              cookie=admin_cookie, csrf=admin["csrf"])
    ok(status == 200, f"{kind}: the password change now succeeds", body)
    ok(login(port, "nina", FINAL_PW)[0] == 200 and login(port, "nina", nurse["password"])[0] == 401,
       f"{kind}: ... the new password works, the old one no longer")
    ok(db_rows(db, "SELECT count(*) FROM sessions WHERE username = 'boss'")[0][0] == 1,
       f"{kind}: ... and its session row is gone (the admin's other session stays)")
    counts = handles(daemon.process.pid, db)
    ok(counts[db][1] == 1, f"{kind}: still one writable handle after the fault", counts)
    ok(daemon.alive(), f"{kind}: the daemon kept running")
    ok(daemon.stop() == 0, f"{kind}: and stops cleanly")
    if mounted:
        subprocess.run(["umount", directory], check=False)


def main():
    if os.geteuid() != 0:
        print("ok 1 - auth on bad storage # SKIP needs root to mount a tmpfs", flush=True)
        print("1..1")
        return
    for kind in os.environ.get("WG_FAULTS", "locked disk_full").split():
        try:
            scenario(kind)
        finally:
            subprocess.run(["umount", os.path.join(TMP, kind)], capture_output=True)
    done()


main()
