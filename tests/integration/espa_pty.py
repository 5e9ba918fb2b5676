#!/usr/bin/python3
"""ESPA 4.4.4 output through a socat pty pair (issue 16, docs/espa.md),
against a paging system written here from the published protocol (not a
real one): it answers a poll ("2" ENQ) with EOT, a selection ("1" ENQ "2"
ENQ) with ACK, checks each data block's BCC and answers ACK or NAK, and
keeps every block it received.

The site: carer_a (pager 1234) covers room 101, carer_b (pager 5678) room
102, lead1 has no pager. response_ms 400, retries 3, poll_s 1.

1. A call in 101 pages carer_a: the paging system gets a "call to pager"
   block for 1234 with "101A CALL", priority 1, beep 1, a good BCC; the
   pull cord (emergency) is coded priority 2, beep 3.
2. A NAK'd block is sent again, byte for byte, and then acknowledged.
3. Garbage on the line (control characters too) does not break anything:
   the next call still arrives; /metrics counts the garbage.
4. The paging system goes silent: calls still reach the wall at once (GET
   /api/v1/alarms), the daemon logs the line down, /metrics says so and
   counts the failed call.
5. The paging system restarts (socat and all: the tty goes away and comes
   back): the daemon reopens it and calls arrive again.
6. A reload that changes espa: (data_bits 8, encoding gbk) restarts the
   line: the next call's text is GBK "101B 呼叫".
About 25 s."""
import os
import signal
import subprocess
import sys
import termios
import threading
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, WARDGATED, PLUGINS, _children, free_port, wait_until, ok, done  # noqa: E402

from webclient import User, request  # noqa: E402
from wsdisplay import add_user  # noqa: E402
from small_site import Wardgated, press, small_config  # noqa: E402

SOH, STX, ETX, EOT, ENQ, ACK, NAK, RS, US = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x15, 0x1E, 0x1F
PAGER_TTY = os.path.join(TMP, "espa-ttyPAGER")
GATEWAY_TTY = os.path.join(TMP, "espa-ttyGW")
RULES = ("  - {id: call, kind: call}\n  - {id: cord, kind: pull_cord}\n"
         "  - {id: presence, kind: presence}\n")


class PagingSystem:
    """The paging system's side of ESPA 4.4.4 (address '2'; the control
    station is '1'), on its own socat pty pair."""

    def __init__(self, name):
        self.log = open(os.path.join(TMP, f"{name}.socat.log"), "w")
        for path in (PAGER_TTY, GATEWAY_TTY):
            if os.path.lexists(path):
                os.unlink(path)
        self.socat = subprocess.Popen(["socat", "-d", "-d", f"pty,raw,echo=0,link={PAGER_TTY}",
                                       f"pty,raw,echo=0,link={GATEWAY_TTY}"], stderr=self.log)
        _children.append(self.socat)
        wait_until(lambda: os.path.exists(PAGER_TTY) and os.path.exists(GATEWAY_TTY))
        self.fd = os.open(PAGER_TTY, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        attrs = termios.tcgetattr(self.fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        self.lock = threading.Lock()
        self.blocks = []    # (monotonic time, raw bytes SOH..BCC, verdict "ack"/"nak"/"bad_bcc")
        self.polls = 0
        self.selections = 0
        self.silent = False
        self.nak_blocks = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _write(self, data):
        if not self.silent:
            os.write(self.fd, bytes(data))

    def _run(self):
        state, block, last, taken = "idle", bytearray(), None, False
        while self.running:
            try:
                data = os.read(self.fd, 256)
            except OSError:
                return
            for b in data:
                if self.silent:
                    continue
                if state == "idle":
                    if b == ENQ and last == ord("1"):
                        taken = True                 # "1" ENQ: the control station takes the line
                    elif b == ENQ and last == ord("2"):
                        if taken:                    # ... and selects us
                            with self.lock:
                                self.selections += 1
                            self._write([ACK])
                            state, block = "receive", bytearray()
                        else:                        # a poll: nothing to say
                            with self.lock:
                                self.polls += 1
                            self._write([EOT])
                        taken = False
                    elif b == EOT:
                        taken = False
                    last = b
                elif state == "receive":
                    if b == EOT and not block:
                        state, last, taken = "idle", None, False
                    elif not block and b != SOH:
                        continue                     # before SOH: not a block
                    elif block and block[-1] == ETX and block.find(bytes([ETX])) == len(block) - 1:
                        block.append(b)              # the BCC
                        bcc = 0
                        for c in block[1:-1]:
                            bcc ^= c
                        good = bcc == block[-1]
                        verdict = "ack" if good and self.nak_blocks == 0 else ("nak" if good else "bad_bcc")
                        if good and self.nak_blocks:
                            self.nak_blocks -= 1
                        with self.lock:
                            self.blocks.append((time.monotonic(), bytes(block), verdict))
                        self._write([ACK] if verdict == "ack" else [NAK])
                        block = bytearray()
                    else:
                        block.append(b)

    def garbage(self, data):
        os.write(self.fd, bytes(data))

    def calls(self):
        """The acknowledged blocks, parsed: [{header, "1": number, "2": text bytes, ...}]."""
        out = []
        with self.lock:
            blocks = list(self.blocks)
        for _, raw, verdict in blocks:
            if verdict != "ack":
                continue
            body = raw[1:-2]                      # between SOH and ETX
            header, _, records = body.partition(bytes([STX]))
            parsed = {"header": header.decode("ascii", "replace"), "raw": raw}
            for record in records.split(bytes([RS])):
                key, _, value = record.partition(bytes([US]))
                parsed[key.decode("ascii", "replace")] = value
            out.append(parsed)
        return out

    def stop(self):
        self.running = False
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.socat.send_signal(signal.SIGTERM)
        self.socat.wait(5)


def metrics(port):
    status, body, _ = request(port, "GET", "/metrics")
    text = body.decode() if isinstance(body, bytes) else str(body)
    values = {}
    for line in text.splitlines():
        if line.startswith("wardgate_espa_"):
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values


def call_to(pager, number, text=None, since=0):
    return [c for c in pager.calls()[since:] if c.get("1") == number.encode() and
            (text is None or c.get("2") == text)]


def espa_section(extra=""):
    return (f"espa:\n  device: {GATEWAY_TTY}\n  baud: 9600\n  response_ms: 400\n  retries: 3\n"
            f"  poll_s: 1\n{extra}")


def main():
    web_port = free_port()
    fifo = os.path.join(TMP, "espa.fifo")
    staff = ("staff:\n  shifts:\n    - {id: day, window: \"00:00-12:00\"}\n"
             "    - {id: night, window: \"12:00-24:00\"}\n"
             "  people:\n    - {user: carer_a, name: 李护工, role: carer, pager: \"1234\"}\n"
             "    - {user: carer_b, name: 王护工, role: carer, pager: 5678}\n"
             "    - {user: lead1, name: 赵组长, role: floor_lead}\n"
             "  cover:\n"
             "    day: [{user: carer_a, rooms: [\"101\"]}, {user: carer_b, rooms: [\"102\"]}, "
             "{user: lead1, zones: [f1]}]\n"
             "    night: [{user: carer_a, rooms: [\"101\"]}, {user: carer_b, rooms: [\"102\"]}, "
             "{user: lead1, zones: [f1]}]\n")
    config = small_config("espa", web_port, RULES, fifo=fifo, sections=staff + espa_section())
    db = os.path.join(TMP, "espa.db")
    add_user(WARDGATED, config, db, PLUGINS, TMP, "station1", "station-password-1", role="station")
    pager = PagingSystem("espa-pager-1")
    daemon = Wardgated(config, db, "espa")
    log = daemon.log
    ok(daemon.start(("web: serving",)), "the daemon runs with an espa: section", log()[-2000:])
    wall = User(web_port, "station1", "station-password-1")
    ok(wait_until(lambda: pager.polls >= 1 and "espa: the paging system (address 2) answers" in log(), 5),
       "the daemon polls the paging system (\"2\" ENQ -> EOT) and logs that it answers",
       [line for line in log().splitlines() if "espa" in line])

    # ---- 1. a call to carer_a's pager ----
    t0 = time.monotonic()
    press(fifo, "call-101A call 1")
    ok(wait_until(lambda: call_to(pager, "1234", b"101A CALL"), 5),
       "a call in 101 pages carer_a: the paging system gets a call to 1234 with \"101A CALL\"",
       pager.calls())
    got = call_to(pager, "1234", b"101A CALL")
    first = got[0] if got else {}
    ok(first.get("header") == "1" and first.get("6") == b"1" and first.get("3") == b"1"
       and "4" not in first and "5" not in first,
       "... a call-to-pager block (header 1), priority 1, beep 1, no call type or transmissions", first)
    with pager.lock:
        delay = next((t for t, raw, v in pager.blocks if v == "ack" and b"1234" in raw), t0 + 99) - t0
    ok(delay < 2.0, f"... {delay * 1000:.0f} ms after the press")
    # A pager cannot confirm receipt: carer_a's page waits accept_s (40 s), not
    # delivery_s (5 s), so the call does not go on to carer_b's pager meanwhile.
    time.sleep(6.5)
    status, reply = wall.call("GET", "/api/v1/alarms")
    call101 = next((a for a in reply.get("alarms", []) if a.get("device") == "call-101A"), {})
    page_a = next((p for p in (call101.get("paging") or {}).get("pages", []) if p["user"] == "carer_a"), {})
    ok(page_a.get("outcome") == "waiting" and not call_to(pager, "5678", b"101A CALL"),
       "past delivery_s carer_a's page still waits (a pager gives no receipt) and carer_b's pager is not called",
       (page_a, [c.get("1") for c in pager.calls()]))
    press(fifo, "cord-101 cord 1")
    ok(wait_until(lambda: call_to(pager, "1234", b"101 PULL CORD"), 5),
       "the pull cord in 101 pages carer_a with \"101 PULL CORD\"", pager.calls())
    cord = (call_to(pager, "1234", b"101 PULL CORD") or [{}])[0]
    ok(cord.get("6") == b"2" and cord.get("3") == b"3",
       "... an emergency: priority 2 (high), beep 3", cord)
    ok(not [c for c in pager.calls() if c.get("1") not in (b"1234", b"5678")],
       "nobody without a pager is called (lead1)", [c.get("1") for c in pager.calls()])

    # ---- 2. a NAK'd block is sent again ----
    pager.nak_blocks = 1
    before = len(pager.blocks)
    press(fifo, "call-102A call 1")
    ok(wait_until(lambda: call_to(pager, "5678", b"102A CALL"), 5),
       "a call in 102 reaches carer_b's pager 5678 although its first block was NAK'd", pager.calls())
    with pager.lock:
        fresh = pager.blocks[before:]
    naked = [raw for _, raw, v in fresh if v == "nak"]
    acked = [raw for _, raw, v in fresh if v == "ack" and b"102A" in raw]
    ok(naked and acked and naked[0] == acked[0], "... the NAK'd block was sent again byte for byte",
       [(v, raw) for _, raw, v in fresh])
    ok(metrics(web_port).get("wardgate_espa_retries_total", 0) >= 1, "/metrics counts the retry",
       metrics(web_port))

    # ---- 3. garbage on the line ----
    pager.garbage([0x06, 0x15, 0x04, 0x01, 0x41, 0x42, 0x03, 0x7F, 0xFF, 0x32, 0x05, 0x00] * 4)
    time.sleep(0.3)
    press(fifo, "call-101A call 0", "presence-101 presence 1", "presence-101 presence 0")
    time.sleep(0.5)
    seen = len(pager.calls())
    press(fifo, "call-101A call 1")
    ok(wait_until(lambda: call_to(pager, "1234", b"101A CALL", seen), 5),
       "garbage on the line: the next call still arrives", pager.calls()[seen:])
    ok(metrics(web_port).get("wardgate_espa_garbage_bytes_total", 0) > 0, "/metrics counts the garbage",
       metrics(web_port))
    ok(daemon.proc.poll() is None, "the daemon runs on")

    # ---- 4. the paging system goes silent ----
    pager.silent = True
    failed_before = metrics(web_port).get("wardgate_espa_calls_failed_total", 0)
    t0 = time.monotonic()
    press(fifo, "call-101B call 1")

    def on_wall():
        status, reply = wall.call("GET", "/api/v1/alarms")
        return status == 200 and [a for a in reply.get("alarms", reply if isinstance(reply, list) else [])
                                  if a.get("device") == "call-101B"]
    ok(wait_until(on_wall, 3) and time.monotonic() - t0 < 1.5,
       f"the paging system is silent: the call reaches the wall at once ({(time.monotonic() - t0) * 1000:.0f} ms)")
    ok(wait_until(lambda: "espa: the paging system (address 2) on" in log() and "does not answer" in log(), 8),
       "the daemon logs the line down", [line for line in log().splitlines() if "espa" in line][-5:])
    ok(wait_until(lambda: metrics(web_port).get("wardgate_espa_calls_failed_total", 0) > failed_before
                  and metrics(web_port).get("wardgate_espa_line_up") == 0, 8),
       "/metrics: the call failed after its retries, the line is down", metrics(web_port))

    def line_fault(phase):
        status, reply = wall.call("GET", "/api/v1/alarms")
        return [a for a in reply.get("alarms", []) if a.get("kind") == "pager_line_down"] if phase == "open" \
            else status == 200 and not [a for a in reply.get("alarms", []) if a.get("kind") == "pager_line_down"]
    fault = wait_until(lambda: line_fault("open"), 5)
    ok(fault and fault[0]["priority"] == "technical" and fault[0]["detail_code"] == "pager_line_down"
       and fault[0]["device"] == fault[0]["detail_args"].get("where"),
       "... and the wall has a technical alarm: the paging system does not answer", fault)

    # ---- 5. the paging system restarts ----
    pager.stop()
    ok(wait_until(lambda: "reopening it" in log(), 5), "its tty goes away: logged, and it is reopened",
       [line for line in log().splitlines() if "espa" in line][-5:])
    pager = PagingSystem("espa-pager-2")
    ok(wait_until(lambda: log().count("espa: the paging system (address 2) answers") >= 2
                  and metrics(web_port).get("wardgate_espa_line_up") == 1, 8),
       "it is back: the daemon reopens the tty, logs that it answers, /metrics says the line is up",
       [line for line in log().splitlines() if "espa" in line][-6:])
    ok(wait_until(lambda: line_fault("gone"), 5), "... and the technical alarm ends by itself")
    press(fifo, "call-102A call 0", "presence-102 presence 1", "presence-102 presence 0")
    time.sleep(0.5)
    press(fifo, "call-102A call 1")
    ok(wait_until(lambda: call_to(pager, "5678", b"102A CALL"), 6), "calls arrive again", pager.calls())

    # ---- 6. a reload that changes espa: ----
    with open(config, encoding="utf-8") as f:
        text = f.read()
    text = text.replace(espa_section(), espa_section("  data_bits: 8\n  parity: none\n  encoding: gbk\n"))
    with open(config, "w", encoding="utf-8") as f:
        f.write(text)
    daemon.proc.send_signal(signal.SIGHUP)
    ok(wait_until(lambda: "reload: espa settings changed; restarting the line" in log(), 5),
       "a reload that changes espa: restarts the line", log()[-1500:])
    press(fifo, "call-101B call 0", "presence-101 presence 1", "presence-101 presence 0")
    time.sleep(0.5)
    press(fifo, "call-101B call 1")
    ok(wait_until(lambda: call_to(pager, "1234", "101B 呼叫".encode("gbk")), 6),
       "... and the next call's text is GBK: \"101B 呼叫\"",
       [(c.get("1"), c.get("2")) for c in pager.calls()][-4:])
    daemon.stop()
    ok(daemon.proc.returncode == 0, "the daemon stops cleanly with the line open",
       daemon.proc.returncode)
    pager.stop()
    done()


if __name__ == "__main__":
    main()
