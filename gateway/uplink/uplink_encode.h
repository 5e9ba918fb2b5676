/* What goes on the wire to the district platform: topics and JSON payloads.
 *
 * Topics: <prefix>/<district>/<facility>/<leaf>, prefix "wardgate/v1" by
 * default, so the tree is versioned. Every payload is one JSON object with
 * "schema" ("wardgate/<type>/<version>"), "facility", "district" and "ts"
 * (RFC 3339 with the box's UTC offset); journal events also carry "id" (the
 * idempotency key: QoS 1 may deliver twice) and "seq" (the journal's order).
 * The schemas are docs/schemas/ (one file per type), described in docs/mqtt.md.
 *
 * Everything here is pure (no I/O, no MQTT) and unit-tested. */
#ifndef WG_UPLINK_ENCODE_H
#define WG_UPLINK_ENCODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wg_uplink_identity {
    const char *prefix;   /* "wardgate/v1" */
    const char *district; /* topic id */
    const char *facility; /* topic id (site.id) */
};

/* Topic leaves. */
#define WG_LEAF_ALARM     "alarm"
#define WG_LEAF_HEALTH    "health"
#define WG_LEAF_TELEMETRY "telemetry"
#define WG_LEAF_EVENT     "event"
#define WG_LEAF_STATUS    "status"
#define WG_LEAF_HEARTBEAT "heartbeat"
#define WG_LEAF_SNAPSHOT  "snapshot"
#define WG_LEAF_RESPONSE  "response_times"
#define WG_LEAF_COMMAND   "command"
#define WG_LEAF_REPLY     "reply"

/* "<prefix>/<district>/<facility>/<leaf>" into out; -1 if it does not fit. */
int uplink_topic(const struct wg_uplink_identity *identity, const char *leaf, char *out,
                 size_t out_len);

/* RFC 3339 local time with its UTC offset and milliseconds, e.g.
 * "2024-05-01T20:00:00.250+08:00". */
void uplink_format_time(int64_t ts_ms, char *out, size_t out_len);

/* A new payload object with schema, facility, district and ts set. */
json_t *uplink_envelope(const struct wg_uplink_identity *identity, const char *schema,
                        int64_t ts_ms);

/* An outbox row (the store's event JSON, docs/storage.md) as its wire
 * message: sets *leaf and returns the payload text (malloc'd, compact), or
 * NULL with the reason in `why` when the row is not a readable event. */
char *uplink_encode_event(const struct wg_uplink_identity *identity, const char *row,
                          size_t row_len, const char **leaf, size_t *length, char *why,
                          size_t why_len);

/* The placeholder sent instead of an event whose message would exceed the
 * broker's limit: same id and seq, what it was and why it is not here. */
char *uplink_encode_oversize(const struct wg_uplink_identity *identity, const char *event_id,
                             int64_t seq, const char *kind, size_t size, long long limit,
                             int64_t now_ms, size_t *length);

/* The retained status message: birth ("online") and last will ("offline"). */
char *uplink_encode_status(const struct wg_uplink_identity *identity, bool online,
                           const char *version, int64_t ts_ms);

/* An alarm record (alarm_to_json) as the wire's alarm object. New reference. */
json_t *uplink_alarm_object(const json_t *record, const char *phase);

/* A reply to a command, possibly in several parts. `summary` (may be NULL)
 * goes in every part; `items` (may be NULL) is split across parts so that
 * no part is longer than max_bytes. Returns the number of parts written to
 * *parts (an array of malloc'd texts, free with uplink_free_parts), or -1
 * with the reason in `why` (one item alone is larger than max_bytes). */
struct wg_reply {
    const char *request; /* the sender's id; "" when unreadable */
    const char *command; /* NULL when unknown */
    bool confirm;
    const char *reason; /* why denied; "" when confirmed */
    const json_t *summary;
    const json_t *items;
};
int uplink_encode_reply(const struct wg_uplink_identity *identity, const struct wg_reply *reply,
                        int64_t ts_ms, long long max_bytes, char ***parts, char *why,
                        size_t why_len);
void uplink_free_parts(char **parts, int count);

#endif
