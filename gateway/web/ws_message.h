/* What a display may send over the WebSocket (docs/api.md): one kind of
 * message, {"type": "ack", "alarm": id, "ref": n, "csrf": token}, with "ref"
 * optional and no other key. Parsing is pure (no session, no I/O), so the
 * web thread checks the session afterwards, and the parser is fuzzed as it
 * is (tests/fuzz/ws_message). */
#ifndef WG_WS_MESSAGE_H
#define WG_WS_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WG_WS_ALARM_MAX 48 /* bytes of an alarm id, with the NUL */
#define WG_WS_CSRF_MAX  64 /* bytes of a CSRF token, with the NUL (a real one has 43 characters) */

struct ws_ack {
    char alarm[WG_WS_ALARM_MAX];
    char csrf[WG_WS_CSRF_MAX];
    int64_t ref; /* the client's reference, echoed in the result; 0 when none */
};

/* True and `out` filled when `text` (not NUL-terminated) is such a message;
 * false for anything else: not JSON, another type, a missing, repeated,
 * unknown or wrongly typed key, an id or token too long. */
bool ws_parse_ack(const char *text, size_t length, struct ws_ack *out);

#endif
