/* What the files of the uplink share and nothing else may see: the
 * client's state (struct wg_uplink_client), what paho's callbacks hand to
 * the core thread, and the calls between the uplink's parts. The public
 * contract is uplink.h. */
#ifndef WG_UPLINK_INTERNAL_H
#define WG_UPLINK_INTERNAL_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "uplink/uplink.h"
#include "uplink/uplink_command.h"
#include "uplink/uplink_encode.h"

#define PEEK_CHUNK            512
#define INFLIGHT_RESERVE      64 /* paho slots beyond the window: status, heartbeat, replies */
#define WARN_AGAIN_MS         (10 * 60 * 1000) /* a persisting failure is logged again after this */
#define RESPONSE_WINDOW_MS    (24LL * 3600 * 1000)
#define DISCONNECT_TIMEOUT_MS 2000
#define DRAIN_ON_STOP_MS      1000

enum result_type {
    RESULT_CONNECTED,
    RESULT_CONNECT_FAILED,
    RESULT_LOST,
    RESULT_ACKED,
    RESULT_NOT_ACKED,
    RESULT_COMMAND,
    RESULT_SUBSCRIBE_FAILED,
    RESULT_DISCONNECTED, /* a retiring client's disconnect completed (or failed) */
};

/* What a paho callback hands to the core thread. */
struct result {
    enum result_type type;
    int token;
    int code;
    long long max_packet; /* MQTT 5 CONNACK Maximum Packet Size; 0 when not given */
    char text[200];       /* a server URI, a cause, a message */
    char *payload;        /* commands: the payload (malloc'd) */
    size_t payload_len;
};

struct inflight {
    int64_t seq;
    int token;
    bool acked;
};

enum link_state { LINK_IDLE, LINK_CONNECTING, LINK_UP };

struct journal_read;

struct wg_uplink_client {
    /* settings, copied from the config */
    char *prefix, *district, *facility, *client_id, *username, *password;
    char *ca_file, *cert_file, *key_file;
    char **brokers;
    size_t broker_count;
    bool tls;
    int mqtt_version;
    int keepalive_s, connect_timeout_s, reconnect_min_s, reconnect_max_s;
    int window;
    long long max_message_bytes;
    struct wg_outbox_bound bound;
    int heartbeat_s, response_interval_s;
    unsigned commands;
    struct wg_uplink_identity identity;
    char status_topic[256], command_topic[256];
    char *will_text;

    struct wg_store *store;
    struct wg_clock *clock;
    struct wg_uplink_host host;
    MQTTAsync mqtt;

    /* paho threads -> core thread */
    pthread_mutex_t lock;
    int event_fd;
    struct result *results;
    size_t result_count, result_capacity;

    /* core thread */
    enum link_state state;
    int64_t next_connect_mono_ms;
    int backoff_s;
    unsigned attempts;
    char last_failure[320];
    int64_t last_failure_warned_ms;
    char connected_uri[200];
    long long broker_max_packet;
    struct inflight *inflight; /* ring, seq order */
    size_t inflight_head, inflight_count;
    int64_t cursor; /* highest seq handed to paho since the last rewind */
    int64_t *acked; /* seqs whose PUBACK came, to delete */
    size_t acked_count, acked_capacity;
    int64_t *deleting; /* acknowledged, deletes handed to the writer: never sent again; sorted */
    size_t deleting_count, deleting_capacity;
    bool send_blocked; /* paho refused a publish: wait for acks or the next connect */
    bool waiting_logged;
    bool snapshot_due; /* the retained snapshot goes out once after each connect */
    int64_t started_mono_ms, connected_mono_ms;
    bool retiring;     /* replaced by a reload: disconnecting in the background */
    bool goodbye_sent; /* ... its offline status and disconnect are under way */
    bool retired;      /* its disconnect is over: uplink_free will not wait */
    int64_t retire_deadline_mono_ms;
    int64_t next_heartbeat_mono_ms, next_response_mono_ms;
    struct journal_read *reads; /* journal reads on the query workers, for cancelling */
    bool figures_running;       /* the periodic response figures are being computed */
    uint64_t published, acknowledged, resent, reconnects;
};

static inline int64_t uplink_mono_now(const struct wg_uplink_client *client)
{
    return clock_mono_ms(client->clock);
}

static inline int64_t uplink_wall_now(const struct wg_uplink_client *client)
{
    return clock_wall_ms(client->clock);
}

/* ---- the connection (uplink_link.c) ---- */

const char *uplink_version_name(int version);
/* Creates the paho client with its callbacks; paho's code. */
int uplink_create_paho(struct wg_uplink_client *client);
void uplink_start_connect(struct wg_uplink_client *client);
/* Sets the callbacks of a tracked publish (an outbox row). */
void uplink_expect_ack(struct wg_uplink_client *client, MQTTAsync_responseOptions *options);

/* ---- publishing and the outbox (uplink_pump.c) ---- */

int uplink_publish_text(struct wg_uplink_client *client, const char *topic, const char *text,
                        size_t length, bool retained, MQTTAsync_responseOptions *options);
/* A message that is not an outbox row (status, heartbeat, snapshot,
 * replies): QoS 1, not tracked; if the link drops it is simply gone. */
void uplink_publish_ephemeral(struct wg_uplink_client *client, const char *leaf, const char *text,
                              bool retained);
/* The largest message the broker takes. */
long long uplink_message_limit(const struct wg_uplink_client *client);
/* Forgets what is in flight and goes back to the oldest row not acknowledged. */
void uplink_rewind_window(struct wg_uplink_client *client, const char *why);
void uplink_note_acked(struct wg_uplink_client *client, int token);
bool uplink_is_tracked(struct wg_uplink_client *client, int token);
/* Hands the acknowledged rows to the store writer to be deleted. */
void uplink_delete_acked(struct wg_uplink_client *client);
/* Publishes outbox rows while the window has room. */
void uplink_pump(struct wg_uplink_client *client);
/* The outbox's rows and bytes, as the host last saw them. */
void uplink_outbox_totals(struct wg_uplink_client *client, struct wg_outbox_totals *totals);

/* ---- commands (uplink_dispatch.c, uplink_journal_reads.c) ---- */

void uplink_handle_command(struct wg_uplink_client *client, const struct result *result);
void uplink_send_reply(struct wg_uplink_client *client, const struct wg_reply *reply);
json_t *uplink_snapshot_summary(struct wg_uplink_client *client);
json_t *uplink_snapshot_alarms(struct wg_uplink_client *client);
/* Hands a journal read to the query workers; false (with why) when it
 * cannot run now. */
bool uplink_start_journal_read(struct wg_uplink_client *client, const struct wg_command *command,
                               bool periodic, char *why, size_t why_len);
/* Journal reads still on the workers are not answered. */
void uplink_cancel_reads(struct wg_uplink_client *client);

/* ---- the gateway's own messages (uplink_status.c) ---- */

void uplink_publish_heartbeat(struct wg_uplink_client *client);
void uplink_publish_snapshot(struct wg_uplink_client *client);
/* Publishes (retained) response figures; takes `figures`. */
void uplink_publish_figures(struct wg_uplink_client *client, json_t *figures, int64_t now);
void uplink_publish_response_figures(struct wg_uplink_client *client);
void uplink_publish_offline(struct wg_uplink_client *client);

#endif
