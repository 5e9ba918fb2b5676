"""A web API client for the Python integration tests (imported, not run):
one JSON request on its own connection, as the pages make them (the session
cookie, the CSRF token, the page's Origin), and a logged-in user."""
import http.client
import json


def request(port, method, path, body=None, cookie=None, csrf=None, timeout=60):
    """(status, the JSON reply or the raw bytes, the wg_session cookie set or None).
    `body`: an object sent as JSON, or bytes sent as they are."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Origin": f"http://127.0.0.1:{port}"}
    if cookie:
        headers["Cookie"] = f"wg_session={cookie}"
    if csrf:
        headers["X-CSRF-Token"] = csrf
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    payload = r.read()
    conn.close()
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = payload
    cookie_out = (r.getheader("Set-Cookie") or "").split(";")[0]
    return r.status, parsed, cookie_out.split("=", 1)[1] if cookie_out.startswith("wg_session=") else None


class User:
    """A user logged in through POST /api/v1/login; call() sends its cookie and CSRF token."""

    def __init__(self, port, username, password):
        self.port = port
        status, body, self.cookie = request(port, "POST", "/api/v1/login",
                                            {"username": username, "password": password})
        assert status == 200, f"login of {username}: {status} {body}"
        self.csrf = body["csrf"]

    def call(self, method, path, body=None):
        """(status, reply) of one request."""
        status, reply, _ = request(self.port, method, path, body, self.cookie, self.csrf)
        return status, reply
