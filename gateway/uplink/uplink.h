/* The MQTT uplink to the district platform: connection, store-and-forward
 * publisher and downlink commands.
 *
 * paho MQTTAsync does the protocol on its own threads. Its callbacks only
 * queue a small result and wake the core through an eventfd (uplink_fd);
 * everything else (reading outbox rows on the core's read-only connection,
 * deciding what to send, answering commands) runs on the core thread;
 * commands and figures that read the journal (alarm history, response
 * times) run on a query worker and are published when it is done. The
 * deletes of acknowledged rows go to the store writer through the host
 * (delete_outbox); until they are done those rows are not sent again.
 *
 * Store-and-forward: the outbox table is the only record of what must still
 * be sent. Rows are published in seq order (one facility per gateway, so
 * this is the facility's order) with QoS 1, at most max_inflight awaiting
 * their PUBACK. A row is deleted only when its PUBACK arrives. Any failure
 * (a refused publish, a lost connection) rewinds to the oldest row not yet
 * acknowledged and publishes again from there: duplicates are possible, as
 * QoS 1 allows, and carry the same event id. paho's own session resend is
 * not used (clean session), see docs/mqtt.md for why.
 *
 * The connection: the configured broker URIs in order (fail-over), client
 * id, user and password, TLS with a CA and client certificate, MQTT 3.1.1
 * (or 5) set explicitly, keepalive, a retained "online" birth and an
 * "offline" last will on .../status, and reconnects with exponential
 * back-off. A broker that refuses gets one clear log line per reason. */
#ifndef WG_UPLINK_H
#define WG_UPLINK_H

#include <jansson.h>
#include <stdbool.h>

#include "common/clock.h"
#include "config/config.h"
#include "store/query.h"
#include "store/store.h"

struct wg_uplink_client;

/* What the uplink asks of the core (all called on the core thread). */
struct wg_uplink_host {
    void *ctx;
    /* Where the district's journal reads run (alarm history, response
     * figures): never on the core thread. NULL: those commands are denied. */
    struct wg_query_service *queries;
    /* {"devices": {"total", "online", "suspect", "offline", "unknown"}, "alarms_active": n} */
    json_t *(*status)(void *ctx);
    /* Active alarm records (alarm_to_json), display order. */
    json_t *(*active_alarms)(void *ctx);
    /* Every device: id, label, profile, bus, location, health, reason. */
    json_t *(*devices)(void *ctx);
    /* Deletes acknowledged outbox rows (through the store writer); the host
     * calls uplink_outbox_deleted once they are gone. */
    void (*delete_outbox)(void *ctx, const int64_t *seqs, size_t count);
    /* The outbox's rows and bytes, as of the writer's last commit. */
    void (*outbox_totals)(void *ctx, struct wg_outbox_totals *totals);
};

/* Copies what it needs from `config`; nothing is connected yet. `store` is
 * a read-only connection (store_reader_store of a store_reader_open). NULL
 * (and logged) when paho refuses the settings or memory runs out. */
struct wg_uplink_client *uplink_new(const struct wg_config *config, struct wg_store *store,
                                    struct wg_clock *clock, const struct wg_uplink_host *host);
/* Starts connecting (asynchronously). */
void uplink_start(struct wg_uplink_client *client);
/* Publishes the retained "offline" status if connected, disconnects, frees.
 * Unsent rows stay in the outbox for the next start. Waits up to 3 s (for
 * the PUBACKs in flight and the disconnect): for a clean stop. */
void uplink_free(struct wg_uplink_client *client);
/* Takes a client out of service, without waiting, when a reload replaces it
 * with one of new settings: it stops publishing the outbox (the new client
 * resends what was not acknowledged) and its journal reads on the query
 * workers are cancelled. Then call uplink_retire_step on the core
 * thread (each loop turn, and whenever its fd is readable, after
 * uplink_process): the first call answers what the library had already handed
 * over (a command under way), says "offline" on its status topic and starts a
 * disconnect in the background; it returns true once the disconnect is over
 * (or took more than 3 s): then uplink_free it, which does not wait. Nothing
 * here sleeps or polls. Start the next client (same client id) only then. */
void uplink_retire(struct wg_uplink_client *client);
bool uplink_retire_step(struct wg_uplink_client *client);

/* Readable when paho has reported something; then call uplink_process. */
int uplink_fd(const struct wg_uplink_client *client);
void uplink_process(struct wg_uplink_client *client);
/* After each commit: publishes what is new. (The store writer keeps the
 * outbox within its bound.) */
void uplink_after_commit(struct wg_uplink_client *client);
/* The rows of an earlier delete_outbox are gone from the outbox. */
void uplink_outbox_deleted(struct wg_uplink_client *client, const int64_t *seqs, size_t count);
/* Once a second: reconnects when due, heartbeat, response figures, age bound. */
void uplink_tick(struct wg_uplink_client *client);

/* True when two configs give the same uplink (a reload keeps the link). */
bool uplink_same_settings(const struct wg_config *a, const struct wg_config *b);

#endif
