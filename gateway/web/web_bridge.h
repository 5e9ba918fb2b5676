/* The hand-over between the web server's thread and the core thread.
 *
 * The web thread (libwebsockets' service loop) never touches the core's
 * state, and the core never touches a socket. Requests go one way: the web
 * thread posts a request (an API call, a WebSocket client's snapshot or
 * action) and the core, woken through an eventfd, answers each on its own
 * thread. Replies and broadcasts go the other way, in ONE ordered queue: a
 * client's snapshot reply and the deltas committed after it arrive in the
 * order the core made them, so a display never misses or repeats a change.
 * The web thread is woken by the `wake` callback (lws_cancel_service, the
 * only lws call that may come from another thread).
 *
 * Both queues are bounded. A full request queue refuses (the web thread
 * answers 503). A full reply queue (the web thread is stuck) drops further
 * broadcasts and raises `overflowed`, on which the web thread closes every
 * WebSocket so that each display reconnects to a fresh snapshot: a display
 * may be interrupted, never silently wrong.
 *
 * A reply may also be a stream (a CSV export of the whole journal): its
 * producer, a query worker, starts it, writes chunks and ends it, all as
 * replies to the one request. Flow control keeps memory bounded whatever
 * the size of the export and the speed of the client: at most
 * WG_STREAM_CHUNKS_IN_FLIGHT chunks of a stream wait between the producer
 * and the socket; the web thread reports each chunk it has written (or the
 * client going away), and the producer's `wake` is called when it may write
 * again.
 *
 * The bridge is also the web code's one door to the rest of the daemon:
 * every file of gateway/web/ reaches the core, the store and the alarm
 * engine only through this header (its last sections: the web thread's
 * liveness, the core as the API sees it, the JSON views, and the query
 * workers). They are implemented by web_bridge.c, web_bridge_core.c and
 * web_bridge_staff.c, the only files of gateway/web/ that include headers of
 * core/, store/ or alarm/. Each function says on which thread it may be called. */
#ifndef WG_WEB_BRIDGE_H
#define WG_WEB_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/event.h"
#include "config/config.h"
#include "core/attach.h"
#include "store/query.h"

#define WG_STREAM_CHUNKS_IN_FLIGHT 8

enum wg_web_request_kind {
    WG_WEB_HTTP,        /* an /api/v1 call or /metrics */
    WG_WEB_WS_SNAPSHOT, /* a WebSocket client needs its first snapshot */
    WG_WEB_WS_ACK,      /* a WebSocket client acknowledges an alarm */
    WG_WEB_WS_PHONES,   /* how many WebSockets `username` has open now (in `ref`) */
};

struct wg_web_request {
    uint64_t id; /* set by bridge_post_request */
    enum wg_web_request_kind kind;
    char method[8];
    char path[256]; /* decoded, without the query */
    char *query;    /* raw query string ("a=1&b=2"), NULL when none; owned */
    char *body;     /* NUL-terminated; NULL when none; owned */
    size_t body_len;
    char username[40];
    int role;          /* enum wg_role */
    char client[64];   /* the peer's address */
    char alarm_id[48]; /* WG_WEB_WS_ACK */
    int64_t ref;       /* WG_WEB_WS_ACK: the client's reference */
};

enum wg_reply_part {
    WG_REPLY_WHOLE = 0,   /* the whole response (or a WebSocket message) */
    WG_REPLY_STREAM_HEAD, /* a streamed response's status and headers; chunks follow */
    WG_REPLY_STREAM_CHUNK,
    WG_REPLY_STREAM_END,   /* the last part (it may carry bytes) */
    WG_REPLY_STREAM_ABORT, /* the producer failed: the client sees a cut-off transfer */
};

struct wg_web_reply {
    uint64_t request_id; /* 0: a broadcast to every WebSocket client ... */
    char to_user[40];    /* ... or, when set, to this user's WebSockets only */
    enum wg_reply_part part;
    int status; /* HTTP status; WS_ACK: 200 ok or the refusal's status */
    char content_type[48];
    char disposition[128]; /* Content-Disposition, "" when none */
    char *body;            /* owned */
    size_t len;
    bool heartbeat;       /* a broadcast that is the core's heartbeat ... */
    bool storage_failing; /* ... and what it says of storage (for /healthz) */
};

struct wg_web_bridge;

/* wake(ctx) is called (from the core thread) after replies were added. */
struct wg_web_bridge *bridge_new(size_t max_requests, size_t max_replies, void (*wake)(void *ctx),
                                 void *wake_ctx);
void bridge_free(struct wg_web_bridge *bridge);
/* Changes whom to wake (the web thread sets it once its context exists). */
void bridge_set_wake(struct wg_web_bridge *bridge, void (*wake)(void *ctx), void *wake_ctx);

/* Web thread: takes ownership of request->query and ->body (freed even on
 * failure). Returns the request id, or 0 when the queue is full. */
uint64_t bridge_post_request(struct wg_web_bridge *bridge, struct wg_web_request *request);
/* Web thread: moves every waiting reply into *out (a malloc'd array the
 * caller frees, with each reply's body); returns how many. *overflowed is
 * set (and cleared in the bridge) when broadcasts were dropped since. */
size_t bridge_take_replies(struct wg_web_bridge *bridge, struct wg_web_reply **out,
                           bool *overflowed);

/* Core thread: readable while requests wait. */
int bridge_request_fd(const struct wg_web_bridge *bridge);
/* Core thread: the next request (the caller frees it with
 * bridge_request_free), or NULL when none. */
struct wg_web_request *bridge_next_request(struct wg_web_bridge *bridge);
void bridge_request_free(struct wg_web_request *request);
/* Core thread (or the web's login worker): takes ownership of reply->body.
 * Broadcasts are dropped (and counted) when the queue is full; a reply to a
 * request is always queued. Wakes the web thread. */
void bridge_post_reply(struct wg_web_bridge *bridge, struct wg_web_reply *reply);

uint64_t bridge_dropped_broadcasts(struct wg_web_bridge *bridge);

/* Any thread: `value` (stolen) as compact JSON text, non-ASCII escaped;
 * NULL when out of memory (or `value` is NULL). */
char *bridge_json_text(json_t *value);
/* Any thread: an error body {"error": message, "field": field} (field
 * omitted when NULL or ""), as every refusal of the API has it. */
json_t *bridge_error_json(const char *field, const char *message);

/* Any thread: `value` (stolen) as a compact JSON reply; an error reply
 * (bridge_error_json). */
void bridge_reply_json(struct wg_web_bridge *bridge, uint64_t request_id, int status,
                       json_t *value);
void bridge_reply_error(struct wg_web_bridge *bridge, uint64_t request_id, int status,
                        const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- streamed replies ---- */

struct wg_web_stream;

/* Producer: starts a streamed reply (status and headers go out at once).
 * `wake(wake_ctx, request_id)` is called, from the web thread, when the
 * stream has room again or its client went away. NULL when out of memory
 * (nothing was sent). */
struct wg_web_stream *bridge_stream_start(struct wg_web_bridge *bridge, uint64_t request_id,
                                          int status, const char *content_type,
                                          const char *disposition,
                                          void (*wake)(void *ctx, uint64_t request_id),
                                          void *wake_ctx);
/* Producer: may it write another chunk now? When not (and the client is
 * still there), `wake` is called once there is room or the client goes. */
bool bridge_stream_has_room(struct wg_web_stream *stream);
/* Producer: has the client gone away (nothing more will be sent)? */
bool bridge_stream_gone(struct wg_web_stream *stream);
/* Producer: queues `len` bytes (taken; freed even when the client is gone). */
void bridge_stream_write(struct wg_web_stream *stream, char *data, size_t len);
/* Producer: ends the stream, completely (ok) or cut off, and frees it. */
void bridge_stream_end(struct wg_web_stream *stream, bool ok);

/* Web thread: a chunk of the stream answering `request_id` was written to
 * the client's socket; or the client is gone (closed, timed out). */
void bridge_stream_sent(struct wg_web_bridge *bridge, uint64_t request_id);
void bridge_stream_closed(struct wg_web_bridge *bridge, uint64_t request_id);

/* ---- the web thread's liveness (core/liveness.h) ---- */

struct wg_liveness;

/* Web thread: its loop turned (at least once a second, even when idle). Does
 * not return when a freeze was asked for (test hook, docs/architecture.md). */
void bridge_web_turned(struct wg_web_bridge *bridge, int64_t now_ms);
/* Any thread: how long ago the web thread last turned. */
int64_t bridge_web_turn_age_ms(struct wg_web_bridge *bridge, int64_t now_ms);
/* Core thread: the web thread's liveness, for the core's supervision. */
struct wg_liveness *bridge_web_liveness(struct wg_web_bridge *bridge);

/* ---- the core as the API sees it: core thread only (web_bridge_core.c) ---- */

struct wg_core;
struct wg_diag;

/* The configuration the core runs (valid until the next reload). */
const struct wg_config *bridge_core_config(struct wg_core *core);
/* The core's wall clock, in ms since the epoch. */
int64_t bridge_core_now_ms(struct wg_core *core);
/* The site's time zone in force (a reload that names another keeps it). */
const char *bridge_core_timezone(struct wg_core *core);
/* The seq of the last event committed to the journal. */
int64_t bridge_core_last_seq(struct wg_core *core);
/* Attaches the API to the core the way the uplink is attached (core/attach.h:
 * committed and unjournaled events, descriptors to watch). -1 when out of
 * memory. */
int bridge_core_attach(struct wg_core *core, const struct wg_core_attachment *attachment);
/* An acknowledgement at the station: 0, or -1 with the reason in `why`
 * ("no active alarm ..." when there is none). */
int bridge_core_acknowledge(struct wg_core *core, const char *alarm_id, const char *who,
                            const char *where, char *why, size_t why_len);
/* A reset asked for away from the origin: always refused, with the reason. */
int bridge_core_reset_remote(struct wg_core *core, const char *alarm_id, const char *who,
                             const char *where, char *why, size_t why_len);
/* An active alarm's record (new JSON), NULL when there is none. */
json_t *bridge_core_alarm_json(struct wg_core *core, const char *alarm_id);
/* Who did what, from where: an audit row, written by the store writer. */
void bridge_core_audit(struct wg_core *core, const char *actor, const char *origin,
                       const char *action, const char *target, const char *detail_json);
/* Reloads the configuration file: 0, or -1 with the refusal in `refusal`. */
/* Rounds (alarm/engine.h, core.h): every configured round with its running
 * slot and rooms; a check-in by QR code; the rooms the rounds cover, each
 * with its check-in code. */
json_t *bridge_core_rounds_json(struct wg_core *core);
int bridge_core_round_checkin(struct wg_core *core, const char *room_id, const char *code,
                              const char *who, char *why, size_t why_len);
json_t *bridge_core_round_rooms_json(struct wg_core *core);
/* The room's check-in code (22 characters): false when no round covers it. */
bool bridge_core_round_code(struct wg_core *core, const char *room_id, char code[23]);

/* An evidence record (core_record): `body` is taken. 0, or -1. */
int bridge_core_record(struct wg_core *core, const char *kind, json_t *body, const char *actor,
                       const char *origin, int64_t *ts_ms);
/* The default shift now: "day", "evening" or "night" (alarm/response.h). */
const char *bridge_core_shift_now(struct wg_core *core);
/* Device test mode (alarm/engine.h: engine_test_mode_start/end): 0, or -1
 * with the reason in `why`. A test lasts so many minutes: */
#define WG_TEST_MODE_MIN_MINUTES 1
#define WG_TEST_MODE_MAX_MINUTES 240
int bridge_core_test_mode_start(struct wg_core *core, const char *target, int duration_s,
                                const char *who, char *why, size_t why_len);
int bridge_core_test_mode_end(struct wg_core *core, const char *target, const char *who, char *why,
                              size_t why_len);
/* The running windows: [{target, scope, started_ms, ends_ms, started_by, tests}]. */
json_t *bridge_core_test_modes_json(struct wg_core *core);
/* The devices a test report lists: [{id, label, room, zone, test_kind}]. */
json_t *bridge_core_testable_devices_json(struct wg_core *core);
int bridge_core_reload(struct wg_core *core, struct wg_diag *refusal);

/* Paging carers' phones (core.h, alarm/engine.h; web_bridge_staff.c). A
 * phone's answer ("received", "accept", "decline" with a reason): 0, or a
 * negative HTTP status (400, 403, 404, 409) with the reason in `why`. */
int bridge_core_page_answer(struct wg_core *core, const char *alarm_id, const char *user,
                            const char *action, const char *reason, char *why, size_t why_len);
/* `user` has `phones` WebSockets open now. */
void bridge_core_phones(struct wg_core *core, const char *user, int phones);
/* Rooms claimed by `user` for the running shift (ids, each a known room). */
int bridge_core_claim_rooms(struct wg_core *core, const char *user, const char *const *room_ids,
                            size_t room_count, const char *origin, char *why, size_t why_len);
/* The staff view (docs/api.md "Staff and paging"): shifts now and next,
 * each person's duty, phone and cover, the zones nobody covers. NULL when
 * paging is not configured. */
json_t *bridge_core_staff_json(struct wg_core *core);
/* The entry of `user` in a staff view, new reference, or null. */
json_t *bridge_staff_member_json(const json_t *staff, const char *user);

#define WG_WEB_WRITE_CLASSES 16

/* What the API shows of the core's health (the heartbeat, /metrics). */
struct wg_web_core_stats {
    uint64_t events_committed;
    size_t events_pending; /* journal events held in memory, not yet committed */
    bool storage_failing;
    char storage_reason[16]; /* store_status_reason of the failure, "" when ok */
    size_t queue_depth, queue_high_water;
    int64_t loop_max_us, loop_max_recent_us; /* the core loop's longest turn: since start, 1 min */
    int64_t outbox_rows, outbox_bytes;       /* waiting for the district's PUBACK */
    int64_t db_bytes, wal_bytes, bound_bytes;
    size_t held_bytes; /* memory held for writes not yet committed */
    int64_t longest_transaction_ms;
    /* Writes dropped at the memory bound, by class (docs/storage.md). */
    size_t dropped_classes;
    struct {
        const char *name;
        uint64_t count;
    } dropped[WG_WEB_WRITE_CLASSES];
};
void bridge_core_stats(struct wg_core *core, struct wg_web_core_stats *stats);

/* ---- JSON views of the core, core thread only ----
 * The bridge's own, built from the core's C views: web/web_bridge_json.h
 * (core_active_alarms_json, core_devices_json, core_device_json,
 * core_status_json; the uplink is handed them by main.c). */

/* ---- the query workers (store/query.h, included above) ----
 * The API's reads of the journal and configuration changes run as query
 * jobs, on a worker's read-only connection (store/store_read.h). */

/* A worker: the response figures for alarms raised in [from_ms, to_ms) as
 * new JSON in *json (docs/response.md; NULL when out of memory): 0, or -1
 * with the reason in `err` (alarm/response.h). */
/* A month's first moment, and the month before now (alarm/monthly.h). */
int64_t bridge_month_start_ms(int year, int month);
void bridge_previous_month(int64_t now_ms, int *year, int *month);
/* Query worker: the monthly report (alarm/monthly.h); `testable` borrowed. */
int bridge_monthly_report_json(struct wg_store_reader *reader, const char *month, int64_t from_ms,
                               int64_t to_ms, const json_t *testable, json_t **json, char *err,
                               size_t err_len);
int bridge_response_report_json(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                                json_t **json, char *err, size_t err_len);

#endif
