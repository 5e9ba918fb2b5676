#!/usr/bin/python3
"""HTTPS beside plain HTTP on the facility LAN (issue 16, item 2), against a
real wardgated and real peers: the facility CA and the gateway's certificate
are made by tools/facility-ca.sh (Debian's openssl), the daemon serves plain
HTTP on web.port and HTTPS on web.tls_port from one lws context, and
Python's ssl module, curl and python3-websocket talk to it.

1. HTTPS verifies with the facility CA (Python's ssl with cafile, curl
   --cacert) and not without it; the certificate names 127.0.0.1 in its
   subjectAltName; plain HTTP serves the same pages and API.
2. One session for both: a login over HTTPS sets a Secure cookie, over HTTP
   one without; either cookie works on both ports.
3. /ca.crt holds the CA's certificate (DER); /api/v1/phone and its two QR
   codes (read back by rsvg-convert and zbarimg) give the CA's address and
   the carer app's https address; hostile Host headers are 400.
4. WebSockets: /ws works over wss://; a client that answers pings stays
   connected, one that stops answering them is closed within about 25 s.
5. A wrong tls_key path: --check warns naming the file, the daemon says so
   at start and plain HTTP still serves; tls_port equal to port is an error.
6. Without tls_port, tls_cert and tls_key make the one port HTTPS, as before.
About 50 s."""
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import base64

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modbus"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TMP, ROOT, WARDGATED, PLUGINS, free_port, wait_until, ok, note, done  # noqa: E402

import websocket  # noqa: E402

from wsdisplay import add_user  # noqa: E402
from small_site import Wardgated, small_config  # noqa: E402

RULES = "  - {id: call, kind: call}\n  - {id: presence, kind: presence}\n"
PASSWORD = "nurse-password-1"
FACILITY_CA = os.path.join(ROOT, "tools/facility-ca.sh")


def make_certificates():
    """The CA and the server certificate for 127.0.0.1 and localhost, by the real tool."""
    ca_dir, tls_dir = os.path.join(TMP, "ca"), os.path.join(TMP, "tls")
    made = subprocess.run([FACILITY_CA, "--ca-dir", ca_dir, "--tls-dir", tls_dir, "ca", "测试养老院"],
                          capture_output=True, text=True)
    ok(made.returncode == 0 and os.stat(os.path.join(ca_dir, "ca.key")).st_mode & 0o777 == 0o600,
       "facility-ca.sh makes the CA (its key 0600)", made.stdout + made.stderr)
    again = subprocess.run([FACILITY_CA, "--ca-dir", ca_dir, "ca", "测试养老院"], capture_output=True, text=True)
    ok(again.returncode != 0 and "never replaced" in again.stderr, "... and refuses to make a second one over it",
       again.stderr)
    server = subprocess.run([FACILITY_CA, "--ca-dir", ca_dir, "--tls-dir", tls_dir, "server", "127.0.0.1",
                             "localhost"], capture_output=True, text=True)
    ok(server.returncode == 0 and "tls_port:" in server.stdout and
       os.stat(os.path.join(tls_dir, "server.key")).st_mode & 0o777 == 0o600,
       "facility-ca.sh makes the server certificate (key 0600) and prints the config lines",
       server.stdout + server.stderr)
    text = subprocess.run(["openssl", "x509", "-in", os.path.join(tls_dir, "server.crt"), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    days = subprocess.run(["openssl", "x509", "-in", os.path.join(tls_dir, "server.crt"), "-noout",
                           "-checkend", str(826 * 86400)], capture_output=True, text=True)
    ok("TLS Web Server Authentication" in text and "IP Address:127.0.0.1" in text and "DNS:localhost" in text
       and days.returncode != 0, "... with serverAuth, the IP and the name, valid at most 825 days", text[-800:])
    ca_text = subprocess.run(["openssl", "x509", "-in", os.path.join(ca_dir, "ca.crt"), "-noout", "-text",
                              "-nameopt", "utf8,sep_comma_plus"], capture_output=True, text=True).stdout
    ok("CA:TRUE" in ca_text and "Certificate Sign, CRL Sign" in ca_text and "测试养老院 院内证书" in ca_text
       and "prime256v1" in ca_text, "the CA: P-256, CA:TRUE, keyCertSign and cRLSign, named after the site",
       ca_text[:1200])
    return tls_dir


def web_config(name, port, tls_port, tls_dir, key=None):
    config = small_config(name, port, RULES)
    with open(config, "a", encoding="utf-8") as f:
        f.write(f"  tls_port: {tls_port}\n  tls_cert: {tls_dir}/server.crt\n"
                f"  tls_key: {key or tls_dir + '/server.key'}\n  tls_ca: {tls_dir}/ca.crt\n")
    return config


def fetch(port, path, tls=None, method="GET", body=None, cookie=None, host=None, origin=None):
    """(status, headers dict (lower-case names), body bytes, the peer's certificate or None)."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls, timeout=20)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    scheme = "https" if tls else "http"
    headers = {"Origin": origin or f"{scheme}://127.0.0.1:{port}"}
    if host:
        headers["Host"] = host
    if cookie:
        headers["Cookie"] = f"wg_session={cookie}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    cert = conn.sock.getpeercert() if tls else None  # before the answer ends the connection
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, payload, cert


def raw_host(port, host):
    """The status of GET /api/v1/phone with exactly this Host line (and its JSON)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /api/v1/phone HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d+)", head)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body[:200]
    return (int(match.group(1)) if match else 0), parsed


def decode_qr(svg_bytes, name):
    svg, png = os.path.join(TMP, f"{name}.svg"), os.path.join(TMP, f"{name}.png")
    with open(svg, "wb") as f:
        f.write(svg_bytes)
    subprocess.run(["rsvg-convert", "-w", "400", "-h", "400", "-o", png, svg], check=True)
    return subprocess.run(["zbarimg", "--quiet", "--raw", png], capture_output=True, text=True).stdout.strip()


def silent_websocket(port, cookie, result):
    """A WebSocket client that never answers a ping (a phone gone from the
    Wi-Fi without a word): when the gateway pings it, and when it closes it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wardgate.v1\r\n"
               f"Origin: http://127.0.0.1:{port}\r\nCookie: wg_session={cookie}\r\n\r\n").encode())
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = s.recv(4096)
        if not chunk:
            result["error"] = "closed during the handshake"
            return
        buffer += chunk
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n")[0]:
        result["error"] = head.decode(errors="replace")
        return
    start = time.monotonic()
    result["opened"] = True
    pings = []
    while True:
        try:
            chunk = s.recv(65536)
        except OSError as e:
            result["error"] = str(e)
            break
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 2:  # server frames are not masked
            opcode, length, at = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    break
                length, at = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    break
                length, at = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < at + length:
                break
            if opcode == 0x9:
                pings.append(round(time.monotonic() - start, 1))
            elif opcode == 0x8:
                result["close_frame"] = True
            buffer = buffer[at + length:]
    result["closed_after"] = round(time.monotonic() - start, 1)
    result["pings"] = pings
    s.close()


def main():
    tls_dir = make_certificates()
    ca_file = os.path.join(tls_dir, "ca.crt")
    port, tls_port = free_port(), free_port()
    config = web_config("https", port, tls_port, tls_dir)
    db = os.path.join(TMP, "https.db")
    add_user(WARDGATED, config, db, PLUGINS, TMP, "nurse1", PASSWORD, role="nurse")
    daemon = Wardgated(config, db, "https")
    log = daemon.log
    ok(daemon.start(), "the daemon runs", log()[-2000:])
    ok(f"on http://127.0.0.1:{port}/ and https://127.0.0.1:{tls_port}/" in log(),
       "it serves plain HTTP and HTTPS, each on its port", log()[-1500:])

    # ---- 1. HTTPS verifies with the CA; HTTP serves the same ----
    trusting = ssl.create_default_context(cafile=ca_file)
    status, _, page_tls, cert = fetch(tls_port, "/login.html", trusting)
    ok(status == 200 and b"<html" in page_tls, "HTTPS verifies with the facility CA (Python ssl, cafile)", status)
    sans = [v for k, v in (cert or {}).get("subjectAltName", ()) if k == "IP Address"]
    ok("127.0.0.1" in sans, f"the certificate's subjectAltName has the IP address ({sans})", cert)
    try:
        fetch(tls_port, "/healthz", ssl.create_default_context())
        ok(False, "without the CA the certificate is not trusted")
    except ssl.SSLCertVerificationError as e:
        ok("unable to get local issuer certificate" in str(e), "without the CA the certificate is not trusted", e)
    curl = subprocess.run(["curl", "-sS", "--cacert", ca_file, "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}",
                           f"https://127.0.0.1:{tls_port}/healthz"], capture_output=True, text=True)
    ok(curl.stdout == "200 0", f"curl --cacert verifies it too ({curl.stdout})", curl.stderr)
    curl = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"https://localhost:{tls_port}/healthz",
                           "--cacert", ca_file, "--resolve", f"localhost:{tls_port}:127.0.0.1"],
                          capture_output=True, text=True)
    ok(curl.returncode == 0, "... and by the name localhost", curl.stderr)
    status, _, page_plain, _ = fetch(port, "/login.html")
    ok(status == 200 and page_plain == page_tls, "plain HTTP serves the same page", status)
    a = fetch(port, "/api/v1/setup")
    b = fetch(tls_port, "/api/v1/setup", trusting)
    ok(a[0] == b[0] == 200 and a[2] == b[2], "... and the same API", (a[:3], b[:3]))

    # ---- 2. one session, Secure over HTTPS only ----
    status, headers, body, _ = fetch(tls_port, "/api/v1/login", trusting, "POST",
                                     {"username": "nurse1", "password": PASSWORD})
    cookie_tls = headers.get("set-cookie", "")
    ok(status == 200 and "; Secure" in cookie_tls and "HttpOnly" in cookie_tls,
       "a login over HTTPS sets the cookie with Secure", cookie_tls)
    status, headers, body, _ = fetch(port, "/api/v1/login", None, "POST", {"username": "nurse1", "password": PASSWORD})
    cookie_plain = headers.get("set-cookie", "")
    ok(status == 200 and cookie_plain.startswith("wg_session=") and "Secure" not in cookie_plain,
       "a login over plain HTTP sets it without Secure", cookie_plain)
    token_tls = cookie_tls.split(";")[0].split("=", 1)[1]
    token_plain = cookie_plain.split(";")[0].split("=", 1)[1]
    s1 = fetch(port, "/api/v1/session", cookie=token_tls)
    s2 = fetch(tls_port, "/api/v1/session", trusting, cookie=token_plain)
    ok(s1[0] == 200 and s2[0] == 200, "the same sessions on both ports", (s1[:3], s2[:3]))
    status, headers, _, _ = fetch(tls_port, "/api/v1/logout", trusting, "POST", {}, cookie=token_tls)
    ok(status == 403, "... with the same CSRF check (no header: 403)", status)

    # ---- 3. the CA, the phone's addresses and QR codes ----
    der = subprocess.run(["openssl", "x509", "-in", ca_file, "-outform", "DER"], capture_output=True).stdout
    status, headers, body, _ = fetch(port, "/ca.crt")
    ok(status == 200 and body == der and headers.get("content-type") == "application/x-x509-ca-cert",
       f"/ca.crt over HTTP is the CA's certificate, DER, application/x-x509-ca-cert ({len(body)} bytes)", headers)
    status, _, body_tls, _ = fetch(tls_port, "/ca.crt", trusting)
    ok(status == 200 and body_tls == der, "... over HTTPS too")
    status, _, body, _ = fetch(port, "/api/v1/phone")
    info = json.loads(body) if status == 200 else {}
    ok(info == {"ca_url": f"http://127.0.0.1:{port}/ca.crt", "app_url": f"https://127.0.0.1:{tls_port}/carer.html",
                "app_secure": True}, "GET /api/v1/phone (no login): the CA's and the carer app's addresses", body)
    for tls, where in ((None, "HTTP"), (trusting, "HTTPS")):
        p = tls_port if tls else port
        status, headers, svg, _ = fetch(p, "/api/v1/phone/qr/ca.svg", tls)
        text = decode_qr(svg, "ca") if status == 200 else ""
        ok(headers.get("content-type") == "image/svg+xml" and text == f"http://127.0.0.1:{port}/ca.crt",
           f"over {where} the CA's QR code reads {text}", svg[:200])
        status, headers, svg, _ = fetch(p, "/api/v1/phone/qr/app.svg", tls)
        text = decode_qr(svg, "app") if status == 200 else ""
        ok(text == f"https://127.0.0.1:{tls_port}/carer.html", f"over {where} the app's QR code reads {text}", svg[:200])
    status, _, svg, _ = fetch(port, "/api/v1/phone/qr/app.svg", host="gateway.home.lan:8080")
    text = decode_qr(svg, "named") if status == 200 else ""
    ok(text == f"https://gateway.home.lan:{tls_port}/carer.html",
       f"the address follows the Host the phone used, with the gateway's own ports ({text})")
    status, _, svg, _ = fetch(port, "/api/v1/phone/qr/ca.svg", host="[fd00::10]:8080")
    text = decode_qr(svg, "v6") if status == 200 else ""
    ok(text == f"http://[fd00::10]:{port}/ca.crt", f"... an IPv6 one too ({text})")
    hostile = [b"evil.example/x", b"a b", b"[::1", b"user@host", b"host:99999", b"host:80:80", b"-bad.example",
               b"a" * 254, b"%2e%2e", b"h\xc3\xa9.example", b"host,other", b"'><svg onload=x>"]
    answers = {h: raw_host(port, h) for h in hostile}
    bad = {h: a for h, a in answers.items() if a[0] != 400 or (a[0] == 400 and a[1].get("field") != "Host")}
    ok(not bad, f"{len(hostile)} hostile Host headers are 400, naming the Host header", bad)
    status, body = raw_host(port, b"192.168.1.10:8080")
    ok(status == 200 and body.get("app_url") == f"https://192.168.1.10:{tls_port}/carer.html",
       "an IPv4 Host with a port is taken", body)

    # ---- 4. WebSockets: wss://, and the keepalive ----
    result = {}
    silent = threading.Thread(target=silent_websocket, args=(port, token_plain, result), daemon=True)
    silent.start()
    wss = websocket.create_connection(f"wss://127.0.0.1:{tls_port}/ws", subprotocols=["wardgate.v1"],
                                      cookie=f"wg_session={token_tls}", origin=f"https://127.0.0.1:{tls_port}",
                                      sslopt={"ca_certs": ca_file}, timeout=10)
    first = json.loads(wss.recv())
    ok(first.get("type") == "snapshot", "/ws works over wss:// (the snapshot arrives)", str(first)[:200])
    # websocket-client answers pings as it reads (a browser does the same).
    frames, pings_answered, started = 0, 0, time.monotonic()
    wss.settimeout(1)
    while time.monotonic() - started < 32:
        try:
            opcode, _ = wss.recv_data(control_frame=True)
            frames += 1
            if opcode == websocket.ABNF.OPCODE_PING:
                pings_answered += 1
        except websocket.WebSocketTimeoutException:
            continue
        except Exception as e:  # closed
            note(f"wss closed: {e}")
            break
    ok(wss.connected and pings_answered >= 2,
       f"a client that answers pings stays connected ({pings_answered} pings answered in 32 s)",
       (wss.connected, pings_answered))
    wss.close()
    silent.join(40)
    note(f"the silent client: {result}")
    ok(result.get("opened") and result.get("pings") and 8 <= result["pings"][0] <= 12,
       f"a client that stops answering is pinged after about 10 s ({result.get('pings')})", result)
    ok(result.get("opened") and 22 <= result.get("closed_after", 0) <= 28,
       f"... and closed after about 25 s ({result.get('closed_after')} s)", result)
    daemon.stop()

    # ---- 5. a wrong key path; tls_port equal to port ----
    port2, tls_port2 = free_port(), free_port()
    missing = os.path.join(TMP, "no-such.key")
    broken = web_config("https-broken", port2, tls_port2, tls_dir, key=missing)
    check = subprocess.run([WARDGATED, "-c", broken, "--plugin-dir", PLUGINS, "--check"], capture_output=True, text=True)
    ok(check.returncode == 0 and re.search(rf"https-broken\.yaml:\d+:\d+: warning: tls_key: cannot read \"{missing}\": "
                                           r"No such file or directory; HTTPS on port \d+ will not start; plain HTTP",
                                           check.stderr),
       "--check warns of the missing key at its line, naming the file", check.stderr)
    daemon2 = Wardgated(broken, os.path.join(TMP, "broken.db"), "https-broken")
    ok(daemon2.start(), "the daemon with the wrong key starts", daemon2.log()[-2000:])
    ok(wait_until(lambda: f"HTTPS on port {tls_port2} is not served" in daemon2.log() and missing in daemon2.log(), 5),
       "its log says HTTPS is not served, naming the key file", daemon2.log()[-2000:])
    status, _, _, _ = fetch(port2, "/healthz")
    ok(status == 200, "plain HTTP still serves", status)
    try:
        socket.create_connection(("127.0.0.1", tls_port2), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    ok(refused, "nothing listens on the HTTPS port")
    daemon2.stop()
    same = small_config("https-same", port2, RULES)
    with open(same, "a", encoding="utf-8") as f:
        f.write(f"  tls_port: {port2}\n  tls_cert: {tls_dir}/server.crt\n  tls_key: {tls_dir}/server.key\n")
    check = subprocess.run([WARDGATED, "-c", same, "--plugin-dir", PLUGINS, "--check"], capture_output=True, text=True)
    ok(check.returncode == 1 and re.search(rf"https-same\.yaml:\d+:\d+: tls_port: {port2} is also port", check.stderr),
       "tls_port equal to port is an error at its line", check.stderr)

    # ---- 6. without tls_port: the one port speaks HTTPS, as before ----
    single = small_config("https-single", port2, RULES)
    with open(single, "a", encoding="utf-8") as f:
        f.write(f"  tls_cert: {tls_dir}/server.crt\n  tls_key: {tls_dir}/server.key\n")
    single_db = os.path.join(TMP, "single.db")
    add_user(WARDGATED, single, single_db, PLUGINS, TMP, "nurse1", PASSWORD, role="nurse")
    daemon3 = Wardgated(single, single_db, "https-single")
    ok(daemon3.start() and f"on https://127.0.0.1:{port2}/" in daemon3.log(),
       "without tls_port, tls_cert and tls_key make the one port HTTPS, as before", daemon3.log()[-1500:])
    status, headers, _, _ = fetch(port2, "/api/v1/login", trusting, "POST", {"username": "nurse1", "password": PASSWORD})
    ok(status == 200 and "; Secure" in headers.get("set-cookie", ""), "... and its cookie carries Secure",
       headers.get("set-cookie"))
    daemon3.stop()
    reports = [line for d in (daemon, daemon2, daemon3) for line in d.log().splitlines()
               if re.search(r"AddressSanitizer|LeakSanitizer|runtime error", line)]
    ok(not reports, "no sanitizer report in either daemon's log", reports[:10])
    done()


main()
