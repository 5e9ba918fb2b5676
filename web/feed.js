/* The live feed of a page (docs/api.md "WebSocket /ws"), shared by the
 * station display and the carers' phones: one WebSocket (subprotocol
 * wardgate.v1) whose first message is a snapshot; a frame at least every
 * second (the heartbeat), so no frame for 3.5 s, or a handshake hanging for
 * 5 s, counts as a lost connection; reconnecting with back-off from 0.5 s
 * doubling to 5 s; and after a few failures a look at the session, so an
 * ended one goes to the login page instead of retrying forever.
 *
 * The page keeps the state it shows; the feed keeps in `state` what it
 * owns of it: attempts, connected, lastDataAt. */
'use strict';

window.WGFeed = (() => {
  const HEARTBEAT_TIMEOUT_MS = 3500;
  const CONNECT_TIMEOUT_MS = 5000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 5000;

  function url() { return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`; }

  /* onMessage(msg): every parsed message; onLost(why): the connection was
   * lost (state.connected is false already); the page shows it. */
  function create({ state, onMessage, onLost }) {
    let socket = null;
    let backoff = BACKOFF_MIN_MS;
    let reconnectTimer = null;
    let openedAt = 0;

    function connect() {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      state.attempts++;
      let sock;
      try {
        sock = new WebSocket(url(), 'wardgate.v1');
      } catch (e) {
        lost('cannot open');
        return;
      }
      socket = sock;
      openedAt = Date.now();
      sock.onopen = () => { if (sock === socket) state.lastDataAt = Date.now(); };
      sock.onmessage = (event) => {
        if (sock !== socket) return;
        state.lastDataAt = Date.now();
        let msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg && typeof msg === 'object') onMessage(msg);
      };
      sock.onclose = (event) => {
        if (sock !== socket) return;
        socket = null;
        lost(`closed ${event.code}`);
      };
    }

    function lost(why) {
      if (socket) { const s = socket; socket = null; try { s.close(); } catch (e) { /* closing */ } }
      state.connected = false;
      onLost(why);
      if (!reconnectTimer) {
        reconnectTimer = setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      }
      /* After a few failures, see whether the session is gone (then: the login page). */
      if (state.attempts % 4 === 3) {
        fetch('/api/v1/session', { credentials: 'same-origin' }).then((r) => {
          if (r.status === 401) location.href = WG.loginUrl();
        }).catch(() => { /* the gateway is down: keep trying */ });
      }
    }

    /* Every 250 ms: a silent or hanging connection is lost. */
    function watchdog() {
      if (!socket) return;
      const t = Date.now();
      if (socket.readyState === WebSocket.OPEN && state.connected && t - state.lastDataAt > HEARTBEAT_TIMEOUT_MS) {
        lost('no heartbeat');
      } else if (!state.connected && t - openedAt > CONNECT_TIMEOUT_MS) {
        lost('connect timeout');
      }
    }

    return {
      /* Opens the feed and watches it. */
      start() { setInterval(watchdog, 250); connect(); },
      connect,
      lost,
      /* A snapshot arrived: the next loss starts again from the shortest wait. */
      snapshotTaken() { state.attempts = 0; backoff = BACKOFF_MIN_MS; },
      /* The open socket, or null. */
      open() { return socket && socket.readyState === WebSocket.OPEN ? socket : null; },
    };
  }

  /* Waits until the gateway answers at all (a page that comes up before the
   * gateway, after a power cut, must not end on the browser's error page);
   * failed() after each failed try. */
  async function reachable(failed) {
    for (let delay = BACKOFF_MIN_MS; ; delay = Math.min(delay * 2, BACKOFF_MAX_MS)) {
      try {
        await fetch('/api/v1/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        return;
      } catch (e) {
        failed();
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  return { create, reachable, HEARTBEAT_TIMEOUT_MS };
})();
