#!/usr/bin/python3
"""The history API and its CSV export against a real wardgated with a
50,000-row journal (docs/api.md): what a CSV holds (a UTF-8 BOM, names
beside ids, defused formulas, every matching row, chunked), write results
hidden unless asked for, bad filters refused, two exports at once, exports
whose clients stop reading (the limit of four at once, a fifth refused,
queries and the display unaffected, memory bounded), a client reading
slowly for longer than lws's own response timeout, and clients that go away
half-way (the daemon lets go). About 35 s."""
import http.client
import json
import os
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
from harness import done, note, ok  # noqa: E402
from journal_load import Scenario  # noqa: E402

ROWS = 50_000
s = Scenario(ROWS)
# Rows a spreadsheet would run as formulas, and one whose room is named in
# the config: a journal row per case, as the daemon would have written them.
with sqlite3.connect(s.db) as con:
    for i, detail in enumerate(["=HYPERLINK(\"http://evil\")", "+1+1", "-2", "@SUM(A1)", "plain, with \"quotes\""]):
        con.execute("INSERT INTO events (id, ts_ms, kind, priority, alarm_id, device, zone, room, bed, resident, "
                    "body) VALUES (?, ?, 'alarm', 2, ?, 'call-101A', 'f1', '101', '101-A', 'R-0001', ?)",
                    (f"formula-{i}", int(time.time() * 1000) - 1000 + i, f"F{i}",
                     json.dumps({"id": f"F{i}", "phase": "raise", "state": "raised", "kind": "call",
                                 "detail": detail})))
s.start()
port = s.port


def get(path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path, headers=dict({"Cookie": f"wg_session={s.nurse}"}, **(headers or {})))
    r = c.getresponse()
    data = r.read()
    c.close()
    return r, data


def journal_count(where="1"):
    with sqlite3.connect(f"file:{s.db}?mode=ro", uri=True) as con:
        return con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchone()[0]


try:
    # ---- the CSV ----
    r, data = get("/api/v1/history?format=csv&write_results=1")
    lines = data.decode("utf-8-sig").splitlines()
    ok(r.status == 200 and data.startswith(b"\xef\xbb\xbf"), "the CSV starts with a UTF-8 BOM (Excel)", data[:40])
    ok(r.getheader("Transfer-Encoding") == "chunked" and r.getheader("Content-Length") is None,
       "it is streamed: chunked, no length known in advance", r.getheaders())
    header = lines[0].split(",")
    for column in ["room_name", "zone_name", "resident_label", "device_label", "by"]:
        ok(column in header, f"a {column} column beside the ids")
    first_seq = int(lines[1].split(",")[0])
    ok(len(lines) - 1 == journal_count(f"seq <= {first_seq}"),
       f"every row up to the newest at the start, once: {len(lines) - 1} rows",
       (len(lines) - 1, journal_count(f"seq <= {first_seq}")))
    seqs = [int(line.split(",")[0]) for line in lines[1:] if line[:1].isdigit()]
    ok(seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), "newest first, no row twice")
    row101 = next((line for line in lines if ",F0," in line), "")
    ok(",101," in row101 and "王奶奶" in row101 and "一层" in row101,
       "a row carries the room, zone and resident names", row101)
    for case in ["'=HYPERLINK", "'+1+1", "'-2", "'@SUM(A1)"]:
        ok(any(f'"{case}' in line for line in lines), f"a detail starting {case[1]} is defused: \"{case}...\"")
    ok(any('"plain, with ""quotes"""' in line for line in lines), "commas and quotes are quoted")

    # ---- write results hidden by default ----
    r, data = get("/api/v1/history?format=csv")
    ok(b",write_result," not in data and len(data) > 1000, "the CSV leaves out output write results by default")
    r, data = get("/api/v1/history?limit=1000")
    kinds = {e["kind"] for e in json.loads(data)["events"]}
    ok("write_result" not in kinds and kinds, "history leaves them out by default", kinds)
    r, data = get("/api/v1/history?limit=1000&write_results=1")
    ok("write_result" in {e["kind"] for e in json.loads(data)["events"]}, "write_results=1 shows them")
    r, data = get("/api/v1/history?limit=5&kind=write_result")
    ok(len(json.loads(data)["events"]) == 5, "kind=write_result shows them")
    r, data = get("/api/v1/history?limit=5&alarm=F0")
    event = json.loads(data)["events"][0]
    ok(event.get("room_name") == "101" and event.get("resident_label") == "王奶奶" and
       event.get("zone_name") == "一层", "a history row carries the names too", event)

    # ---- bad filters ----
    for query, field in [("kind=bogus", "kind"), ("write_results=2", "write_results"),
                         ("limit=1000000", "limit"), ("limit=0", "limit"), ("from=10&to=5", "from"),
                         ("format=xml", "format"), ("before=-1", "before"), ("priority=", None)]:
        r, data = get(f"/api/v1/history?{query}")
        body = json.loads(data) if r.getheader("Content-Type") == "application/json" else {}
        if field:
            ok(r.status == 400 and body.get("field") == field, f"{query}: 400 naming {field}", (r.status, body))
        else:
            ok(r.status == 200, f"{query}: an empty filter is no filter", (r.status, body))

    # ---- two exports at once ----
    results = [None, None]

    def export(i):
        results[i] = get("/api/v1/history?format=csv&write_results=1")[1]

    threads = [threading.Thread(target=export, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = [len(r.splitlines()) for r in results]
    ok(all(c > ROWS for c in counts), "two exports at once: both complete", counts)

    # ---- a client that reads slowly: more than the 10 s lws gives a response ----
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /api/v1/history?format=csv&kind=alarm HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 f"Cookie: wg_session={s.nurse}\r\n\r\n".encode())
    received, began = b"", time.monotonic()
    while not received.endswith(b"\r\n0\r\n\r\n") and time.monotonic() - began < 60:
        part = sock.recv(24000)
        if not part:
            break
        received += part
        while len(received) > 25_000 * (time.monotonic() - began):  # 25 kB/s: about 16 s
            time.sleep(0.05)
    took = time.monotonic() - began
    sock.close()
    body = received.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in received else b""
    ok(received.endswith(b"\r\n0\r\n\r\n") and took > 12 and body.count(b",alarm,") >= ROWS * 6 // 100,
       f"a client reading slowly for {took:.0f} s gets the whole export, ended properly",
       (took, len(received), received[-40:]))

    # ---- clients that stop reading ----
    def stalled_export():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET /api/v1/history?format=csv&write_results=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Cookie: wg_session={s.nurse}\r\n\r\n".encode())
        head = sock.recv(2048)
        return sock, head

    rss_before = s.rss_kib()
    stalled = [stalled_export() for _ in range(4)]
    ok(all(b" 200 " in head.split(b"\r\n")[0] for _, head in stalled), "four exports whose clients stop reading start")
    time.sleep(1.5)
    r, data = get("/api/v1/history?format=csv")
    ok(r.status == 503 and "4 CSV exports" in json.loads(data).get("error", ""),
       "a fifth export at once: 503, saying why", (r.status, data[:200]))
    began = time.monotonic()
    r, data = get("/api/v1/history?device=cord-rare")
    took = time.monotonic() - began
    ok(r.status == 200 and len(json.loads(data)["events"]) == 1, "a history query is answered meanwhile",
       (r.status, data[:200]))
    note(f"figure: history query while four exports stall: {took * 1000:.0f} ms")
    mark = time.monotonic()
    with open(s.fifo, "w") as fifo:
        fifo.write("call-101A call 1\n")
    ok(s.wait_frame(mark, "raise", 10) is not None, "a call reaches the display meanwhile")
    rss_stalled = s.rss_kib()
    note(f"figure: daemon RSS {rss_before} KiB before, {rss_stalled} KiB with four stalled exports")
    if os.environ.get("SANITIZE") == "1":
        note("AddressSanitizer keeps freed memory in quarantine: the daemon's RSS says nothing here")
    else:
        ok(rss_stalled - rss_before < 16 * 1024, "four stalled exports hold less than 16 MiB",
           (rss_before, rss_stalled))

    # ---- clients that go away half-way ----
    for sock, _ in stalled:
        sock.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and s.read_log().count("abandoned by its client") < 4:
        time.sleep(0.1)
    ok(s.read_log().count("abandoned by its client") == 4, "the daemon lets go of all four, and says so",
       [line for line in s.read_log().splitlines() if "export" in line][-6:])
    r, data = get("/api/v1/history?format=csv&kind=system")
    ok(r.status == 200 and data.startswith(b"\xef\xbb\xbf"), "an export works again once they are gone", r.status)
    gaps = s.watchdog_gaps()
    ok(gaps and max(gaps) < 2000, "the watchdog was never missed", max(gaps) if gaps else None)
finally:
    s.finish(ok)
done()
