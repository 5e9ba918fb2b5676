/* Downlink commands from the district platform: parsing and the allow-list.
 *
 * The platform sends JSON on <prefix>/<district>/<facility>/command:
 *   {"request": "r-1", "command": "alarm_history",
 *    "args": {"from": "2024-05-01T00:00:00+08:00", "to": "2024-05-02T00:00:00+08:00"}}
 * Every command is answered on .../reply with "confirm" or "deny" and a
 * reason, after the send/confirm/deny model of GB/T 26875.3. Only read-only
 * requests exist; acknowledging, resetting or silencing an alarm, and
 * driving an output, are refused whatever the configuration says: a call is
 * reset at its origin, in the room. Parsing is pure (no I/O), so every
 * malformed, unknown or disallowed input is unit-tested; see docs/mqtt.md. */
#ifndef WG_UPLINK_COMMAND_H
#define WG_UPLINK_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wg_command_kind {
    WG_COMMAND_SNAPSHOT = 0,       /* the facility status snapshot */
    WG_COMMAND_DEVICES = 1,        /* every device with its health and location */
    WG_COMMAND_ALARM_HISTORY = 2,  /* alarm journal rows in [from, to) */
    WG_COMMAND_RESPONSE_TIMES = 3, /* response-time figures for [from, to) */
    WG_COMMAND_KIND_COUNT
};
#define WG_COMMAND_BIT(kind)  (1u << (kind))
#define WG_COMMANDS_READ_ONLY ((1u << WG_COMMAND_KIND_COUNT) - 1u)

#define WG_COMMAND_REQUEST_MAX   64                    /* bytes of a request id, with the NUL */
#define WG_COMMAND_MAX_BYTES     (16 * 1024)           /* a command larger than this is refused */
#define WG_COMMAND_MAX_RANGE_MS  (31LL * 86400 * 1000) /* alarm history: at most 31 days */
#define WG_COMMAND_HISTORY_LIMIT 10000                 /* rows in one history reply, at most */

struct wg_command {
    enum wg_command_kind kind;
    char request[WG_COMMAND_REQUEST_MAX]; /* "" when the sender gave none (or it was unusable) */
    int64_t from_ms, to_ms;               /* alarm_history, response_times */
    int limit;                            /* alarm_history */
};

/* "snapshot", "devices", ...; NULL for an unknown kind. */
const char *uplink_command_name(enum wg_command_kind kind);
/* The kind for a name, or -1. */
int uplink_command_from_name(const char *name);
/* True for the names of actions that are never allowed from the platform
 * (acknowledge, reset, silence, write, ...): the config refuses to list them. */
bool uplink_command_is_forbidden(const char *name);

/* Parses a command. Returns 0 and fills `out`, or -1 with the reason in
 * `why` (out->request is still filled when the sender's id was readable, so
 * the denial can name it). `allowed` is a mask of WG_COMMAND_BIT()s; `now_ms`
 * is the default end of a time range. */
int uplink_command_parse(const char *payload, size_t length, unsigned allowed, int64_t now_ms,
                         struct wg_command *out, char *why, size_t why_len);

/* RFC 3339 text ("2024-05-01T20:00:00.250+08:00", "...Z") to ms since the
 * epoch; -1 when it is not one. */
int64_t uplink_parse_rfc3339(const char *text);

#endif
