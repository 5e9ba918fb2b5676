/* The MQTT uplink: paho MQTTAsync connection, outbox publisher and command
 * dispatch; see uplink.h. paho's threads only ever touch `results` (under
 * `lock`) and the eventfd; everything else belongs to the core thread. */
#include "uplink/uplink.h"

#include <MQTTAsync.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "alarm/response.h"
#include "store/store_read.h"
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

/* ---- paho threads: queue a result, wake the core ---- */

static void post(struct wg_uplink_client *client, const struct result *result)
{
    pthread_mutex_lock(&client->lock);
    if (client->result_count == client->result_capacity) {
        size_t capacity = client->result_capacity ? client->result_capacity * 2 : 256;
        struct result *grown = realloc(client->results, capacity * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&client->lock);
            free(result->payload);
            /* A lost ack only means a duplicate later; a lost "lost" is
             * caught by the next publish failing. Never silent, though. */
            wg_crit("uplink: out of memory queueing a result from the MQTT library");
            return;
        }
        client->results = grown;
        client->result_capacity = capacity;
    }
    client->results[client->result_count++] = *result;
    pthread_mutex_unlock(&client->lock);
    uint64_t one = 1;
    if (write(client->event_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        wg_err("uplink: cannot wake the core: %s", strerror(errno));
}

static void post_text(struct wg_uplink_client *client, enum result_type type, int token, int code,
                      const char *text)
{
    struct result result = {.type = type, .token = token, .code = code};
    snprintf(result.text, sizeof result.text, "%s", text ? text : "");
    post(client, &result);
}

static void on_connected(void *context, MQTTAsync_successData *response)
{
    post_text(context, RESULT_CONNECTED, 0, 0, response ? response->alt.connect.serverURI : NULL);
}

static void on_connected5(void *context, MQTTAsync_successData5 *response)
{
    struct result result = {.type = RESULT_CONNECTED};
    if (response) {
        snprintf(result.text, sizeof result.text, "%s",
                 response->alt.connect.serverURI ? response->alt.connect.serverURI : "");
        if (MQTTProperties_hasProperty(&response->properties,
                                       MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE))
            result.max_packet = MQTTProperties_getNumericValue(
                &response->properties, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE);
    }
    post(context, &result);
}

static void on_connect_failed(void *context, MQTTAsync_failureData *response)
{
    post_text(context, RESULT_CONNECT_FAILED, 0, response ? response->code : MQTTASYNC_FAILURE,
              response ? response->message : NULL);
}

static void on_connect_failed5(void *context, MQTTAsync_failureData5 *response)
{
    char text[160] = "";
    if (response && response->reasonCode)
        snprintf(text, sizeof text, "%s%s%s", MQTTReasonCode_toString(response->reasonCode),
                 response->message ? ": " : "", response->message ? response->message : "");
    else if (response && response->message)
        snprintf(text, sizeof text, "%s", response->message);
    post_text(context, RESULT_CONNECT_FAILED, 0,
              response ? (response->reasonCode ? (int)response->reasonCode : response->code)
                       : MQTTASYNC_FAILURE,
              text);
}

static void on_connection_lost(void *context, char *cause)
{
    post_text(context, RESULT_LOST, 0, 0, cause ? cause : "no reason given");
}

static void on_published(void *context, MQTTAsync_successData *response)
{
    post_text(context, RESULT_ACKED, response ? response->token : 0, 0, NULL);
}

static void on_published5(void *context, MQTTAsync_successData5 *response)
{
    /* MQTT 5: a PUBACK may carry a failure reason (>= 0x80): not delivered. */
    if (response && response->reasonCode >= MQTTREASONCODE_UNSPECIFIED_ERROR)
        post_text(context, RESULT_NOT_ACKED, response->token, (int)response->reasonCode,
                  MQTTReasonCode_toString(response->reasonCode));
    else
        post_text(context, RESULT_ACKED, response ? response->token : 0, 0, NULL);
}

static void on_publish_failed(void *context, MQTTAsync_failureData *response)
{
    post_text(context, RESULT_NOT_ACKED, response ? response->token : 0,
              response ? response->code : MQTTASYNC_FAILURE, response ? response->message : NULL);
}

static void on_publish_failed5(void *context, MQTTAsync_failureData5 *response)
{
    post_text(context, RESULT_NOT_ACKED, response ? response->token : 0,
              response ? response->code : MQTTASYNC_FAILURE, response ? response->message : NULL);
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData *response)
{
    post_text(context, RESULT_SUBSCRIBE_FAILED, 0, response ? response->code : 0,
              response ? response->message : NULL);
}

static void on_subscribe_failed5(void *context, MQTTAsync_failureData5 *response)
{
    post_text(context, RESULT_SUBSCRIBE_FAILED, 0, response ? (int)response->reasonCode : 0,
              response ? response->message : NULL);
}

static void on_disconnected(void *context, MQTTAsync_successData *response)
{
    (void)response;
    post_text(context, RESULT_DISCONNECTED, 0, 0, NULL);
}

static void on_disconnected5(void *context, MQTTAsync_successData5 *response)
{
    (void)response;
    post_text(context, RESULT_DISCONNECTED, 0, 0, NULL);
}

static void on_disconnect_failed(void *context, MQTTAsync_failureData *response)
{
    post_text(context, RESULT_DISCONNECTED, 0, response ? response->code : 0, NULL);
}

static void on_disconnect_failed5(void *context, MQTTAsync_failureData5 *response)
{
    post_text(context, RESULT_DISCONNECTED, 0, response ? response->code : 0, NULL);
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *message)
{
    (void)topic_len;
    struct result result = {.type = RESULT_COMMAND, .payload_len = (size_t)message->payloadlen};
    result.payload = malloc(result.payload_len + 1);
    if (result.payload) {
        memcpy(result.payload, message->payload, result.payload_len);
        result.payload[result.payload_len] = '\0';
        snprintf(result.text, sizeof result.text, "%s", topic);
        post(context, &result);
    } else {
        wg_crit("uplink: out of memory receiving a command; it is not answered");
    }
    MQTTAsync_freeMessage(&message);
    MQTTAsync_free(topic);
    return 1;
}

/* ---- helpers (core thread) ---- */

static int64_t mono_now(const struct wg_uplink_client *client)
{
    return clock_mono_ms(client->clock);
}

static int64_t wall_now(const struct wg_uplink_client *client)
{
    return clock_wall_ms(client->clock);
}

static const char *version_name(int version)
{
    return version == MQTTVERSION_5 ? "MQTT 5" : "MQTT 3.1.1";
}

/* Words for a connect failure code (CONNACK return codes of 3.1.1, MQTT 5
 * reason codes, paho's own negative codes). */
static const char *connect_failure_words(int code)
{
    switch (code) {
    case 1:
        return "the broker refused the protocol version";
    case 2:
        return "the broker refused the client id";
    case 3:
        return "the broker is unavailable";
    case 4:
    case 0x86:
        return "the broker refused the user name or password";
    case 5:
    case 0x87:
        return "the broker refused: not authorised";
    case 0x84:
        return "the broker refused the protocol version";
    case 0x85:
        return "the broker refused the client id";
    case 0x88:
    case 0x89:
        return "the broker is unavailable or busy";
    case MQTTASYNC_FAILURE:
        return "cannot connect (TCP or TLS failed, or no answer)";
    case MQTTASYNC_SSL_NOT_SUPPORTED:
        return "TLS is not supported by this paho build";
    case MQTTASYNC_BAD_PROTOCOL:
        return "the broker URI has an unknown scheme";
    default:
        return "the connection failed";
    }
}

static int publish_text(struct wg_uplink_client *client, const char *topic, const char *text,
                        size_t length, bool retained, MQTTAsync_responseOptions *options)
{
    MQTTAsync_message message = MQTTAsync_message_initializer;
    message.payload = (void *)text;
    message.payloadlen = (int)length;
    message.qos = 1;
    message.retained = retained;
    MQTTAsync_responseOptions none = MQTTAsync_responseOptions_initializer;
    return MQTTAsync_sendMessage(client->mqtt, topic, &message, options ? options : &none);
}

/* A message that is not an outbox row (status, heartbeat, snapshot,
 * replies): QoS 1, not tracked; if the link drops it is simply gone. */
static void publish_ephemeral(struct wg_uplink_client *client, const char *leaf, const char *text,
                              bool retained)
{
    if (client->state != LINK_UP || !text)
        return;
    char topic[256];
    if (uplink_topic(&client->identity, leaf, topic, sizeof topic) < 0)
        return;
    size_t length = strlen(text);
    long long limit =
        client->broker_max_packet > 0 && client->broker_max_packet < client->max_message_bytes
            ? client->broker_max_packet
            : client->max_message_bytes;
    if ((long long)length > limit) {
        wg_err("uplink: the %s message is %zu bytes, more than the limit of %lld; not sent", leaf,
               length, limit);
        return;
    }
    int rc = publish_text(client, topic, text, length, retained, NULL);
    if (rc != MQTTASYNC_SUCCESS)
        wg_info("uplink: the %s message was not sent (paho code %d)", leaf, rc);
}

static long long message_limit(const struct wg_uplink_client *client)
{
    long long limit = client->max_message_bytes;
    /* MQTT 5: the broker's Maximum Packet Size counts the whole packet; keep
     * room for the fixed header, topic and properties. */
    if (client->broker_max_packet > 0 && client->broker_max_packet - 512 < limit)
        limit = client->broker_max_packet - 512;
    return limit;
}

/* ---- the in-flight window ---- */

static struct inflight *inflight_at(struct wg_uplink_client *client, size_t i)
{
    return &client->inflight[(client->inflight_head + i) % (size_t)client->window];
}

/* Everything in flight is forgotten and the cursor goes back to the oldest
 * row not acknowledged, so it is published again (a duplicate if the broker
 * had it already: same id). */
static void rewind_window(struct wg_uplink_client *client, const char *why)
{
    size_t unacked = 0;
    int64_t oldest = 0;
    for (size_t i = 0; i < client->inflight_count; i++) {
        const struct inflight *entry = inflight_at(client, i);
        if (!entry->acked) {
            unacked++;
            if (!oldest)
                oldest = entry->seq;
        }
    }
    if (unacked > 0) {
        client->cursor = oldest - 1;
        client->resent += unacked;
        wg_notice(
            "uplink: %s; %zu unacknowledged messages are published again from event #%" PRId64, why,
            unacked, oldest);
    }
    client->inflight_count = 0;
    client->inflight_head = 0;
    client->send_blocked = false;
}

static void note_acked(struct wg_uplink_client *client, int token)
{
    for (size_t i = 0; i < client->inflight_count; i++) {
        struct inflight *entry = inflight_at(client, i);
        if (entry->token != token || entry->acked)
            continue;
        entry->acked = true;
        if (client->acked_count == client->acked_capacity) {
            size_t capacity = client->acked_capacity ? client->acked_capacity * 2 : 1024;
            int64_t *grown = realloc(client->acked, capacity * sizeof *grown);
            if (!grown) {
                wg_crit("uplink: out of memory; event #%" PRId64
                        " stays in the outbox and will be sent again",
                        entry->seq);
                break;
            }
            client->acked = grown;
            client->acked_capacity = capacity;
        }
        client->acked[client->acked_count++] = entry->seq;
        client->acknowledged++;
        break;
    }
    /* Slide the window past what is acknowledged. */
    while (client->inflight_count > 0 && inflight_at(client, 0)->acked) {
        client->inflight_head = (client->inflight_head + 1) % (size_t)client->window;
        client->inflight_count--;
    }
}

static bool is_tracked(struct wg_uplink_client *client, int token)
{
    for (size_t i = 0; i < client->inflight_count; i++)
        if (inflight_at(client, i)->token == token && !inflight_at(client, i)->acked)
            return true;
    return false;
}

static int compare_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool is_deleting(const struct wg_uplink_client *client, int64_t seq)
{
    return client->deleting_count &&
           bsearch(&seq, client->deleting, client->deleting_count, sizeof seq, compare_seq);
}

/* Hands the acknowledged rows to the store writer, to be deleted in its next
 * transaction; meanwhile they are never sent again. */
static void delete_acked(struct wg_uplink_client *client)
{
    if (client->acked_count == 0)
        return;
    size_t needed = client->deleting_count + client->acked_count;
    if (needed > client->deleting_capacity) {
        size_t capacity = client->deleting_capacity ? client->deleting_capacity : 1024;
        while (capacity < needed)
            capacity *= 2;
        int64_t *grown = realloc(client->deleting, capacity * sizeof *grown);
        if (!grown) {
            wg_err("uplink: out of memory; %zu acknowledged outbox rows are deleted later",
                   client->acked_count);
            return;
        }
        client->deleting = grown;
        client->deleting_capacity = capacity;
    }
    memcpy(client->deleting + client->deleting_count, client->acked,
           client->acked_count * sizeof *client->acked);
    client->deleting_count = needed;
    qsort(client->deleting, client->deleting_count, sizeof *client->deleting, compare_seq);
    if (client->host.delete_outbox)
        client->host.delete_outbox(client->host.ctx, client->acked, client->acked_count);
    client->acked_count = 0;
}

void uplink_outbox_deleted(struct wg_uplink_client *client, const int64_t *seqs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int64_t *found = client->deleting_count
                             ? bsearch(&seqs[i], client->deleting, client->deleting_count,
                                       sizeof *seqs, compare_seq)
                             : NULL;
        if (!found)
            continue;
        size_t at = (size_t)(found - client->deleting);
        memmove(found, found + 1, (client->deleting_count - at - 1) * sizeof *found);
        client->deleting_count--;
    }
}

/* ---- publishing the outbox ---- */

struct pump_state {
    struct wg_uplink_client *client;
    int seen;
    bool stop;
};

/* Publishes an outbox row's message to `leaf` at QoS 1 and tracks it until
 * its PUBACK. 0, or -1 when paho refused it (then sending waits). */
static int publish_row(struct wg_uplink_client *client, int64_t seq, const char *leaf,
                       const char *text, size_t length)
{
    char topic[256];
    uplink_topic(&client->identity, leaf, topic, sizeof topic);
    MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
    options.context = client;
    if (client->mqtt_version == MQTTVERSION_5) {
        options.onSuccess5 = on_published5;
        options.onFailure5 = on_publish_failed5;
    } else {
        options.onSuccess = on_published;
        options.onFailure = on_publish_failed;
    }
    int rc = publish_text(client, topic, text, length, false, &options);
    if (rc != MQTTASYNC_SUCCESS) {
        if (rc != MQTTASYNC_DISCONNECTED)
            wg_info("uplink: paho refused a publish (code %d); waiting for acknowledgements", rc);
        client->send_blocked = true;
        return -1;
    }
    struct inflight *slot = inflight_at(client, client->inflight_count++);
    *slot = (struct inflight){.seq = seq, .token = options.token, .acked = false};
    client->cursor = seq;
    client->published++;
    return 0;
}

/* An outbox-only row: its payload is the message (the core sized it under
 * the broker's limit); one the broker would refuse is dropped with an
 * error rather than block everything behind it. */
static int send_stored_row(struct wg_uplink_client *client, const struct wg_outbox_row *row)
{
    if ((long long)row->payload_len > message_limit(client)) {
        wg_err("uplink: a %s message (#%" PRId64 ") is %zu bytes, more than the broker's limit "
               "of %lld; it is not sent",
               row->kind, row->seq, row->payload_len, message_limit(client));
        client->cursor = row->seq;
        int64_t seq = row->seq;
        if (client->host.delete_outbox)
            client->host.delete_outbox(client->host.ctx, &seq, 1);
        return 0;
    }
    return publish_row(client, row->seq, row->kind, row->payload, row->payload_len);
}

static int send_row(const struct wg_outbox_row *row, void *ctx)
{
    struct pump_state *pump = ctx;
    struct wg_uplink_client *client = pump->client;
    pump->seen++;
    if (is_deleting(client, row->seq)) {
        client->cursor = row->seq; /* acknowledged already; its delete is on its way */
        return 0;
    }
    const char *leaf = NULL;
    size_t length = 0;
    char why[200];
    if (!row->event_id) {
        /* An outbox-only row (telemetry): stored in its wire form, sent as it is. */
        if (send_stored_row(client, row) != 0) {
            pump->stop = true;
            return 1;
        }
        return 0;
    }
    char *text = uplink_encode_event(&client->identity, row->payload, row->payload_len, &leaf,
                                     &length, why, sizeof why);
    if (!text) {
        /* Not an event we can read: say so, and send a placeholder so the
         * platform sees the hole (and the row can leave on its PUBACK). */
        wg_err("uplink: outbox row #%" PRId64 " (event %s): %s", row->seq, row->event_id, why);
        leaf = WG_LEAF_EVENT;
        text = uplink_encode_oversize(&client->identity, row->event_id, row->seq, row->kind,
                                      row->payload_len, 0, wall_now(client), &length);
    } else if ((long long)length > message_limit(client)) {
        wg_err("uplink: event %s (#%" PRId64 ", %s) is %zu bytes, more than the broker's limit "
               "of %lld; a notice is sent in its place, the record stays in the journal",
               row->event_id, row->seq, row->kind, length, message_limit(client));
        free(text);
        leaf = WG_LEAF_EVENT;
        text = uplink_encode_oversize(&client->identity, row->event_id, row->seq, row->kind, length,
                                      message_limit(client), wall_now(client), &length);
    }
    if (!text) {
        wg_crit("uplink: out of memory encoding event #%" PRId64 "; retried", row->seq);
        pump->stop = true;
        return 1;
    }
    int rc = publish_row(client, row->seq, leaf, text, length);
    free(text);
    if (rc != 0) {
        pump->stop = true;
        return 1;
    }
    return 0;
}

static void pump(struct wg_uplink_client *client)
{
    while (client->state == LINK_UP && !client->retiring && !client->send_blocked &&
           client->inflight_count < (size_t)client->window) {
        size_t room = (size_t)client->window - client->inflight_count;
        struct pump_state state = {.client = client};
        if (store_outbox_peek(client->store, client->cursor,
                              (int)(room < PEEK_CHUNK ? room : PEEK_CHUNK), send_row,
                              &state) != 0) {
            wg_err("uplink: cannot read the outbox: %s", store_last_error(client->store));
            return;
        }
        if (state.seen == 0 || state.stop)
            return;
    }
}

static void outbox_totals(struct wg_uplink_client *client, struct wg_outbox_totals *totals)
{
    *totals = (struct wg_outbox_totals){0};
    if (client->host.outbox_totals)
        client->host.outbox_totals(client->host.ctx, totals);
}

/* ---- connection ---- */

static void schedule_reconnect(struct wg_uplink_client *client)
{
    int delay = client->backoff_s;
    client->backoff_s = client->backoff_s * 2 > client->reconnect_max_s ? client->reconnect_max_s
                                                                        : client->backoff_s * 2;
    client->next_connect_mono_ms = mono_now(client) + (int64_t)delay * 1000;
    client->state = LINK_IDLE;
}

static void start_connect(struct wg_uplink_client *client)
{
    MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions options5 = MQTTAsync_connectOptions_initializer5;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    bool v5 = client->mqtt_version == MQTTVERSION_5;
    MQTTAsync_connectOptions *chosen = v5 ? &options5 : &options;
    chosen->keepAliveInterval = client->keepalive_s;
    chosen->cleansession = v5 ? 0 : 1;
    chosen->cleanstart = v5 ? 1 : 0;
    chosen->maxInflight = client->window + INFLIGHT_RESERVE;
    chosen->connectTimeout = client->connect_timeout_s;
    chosen->retryInterval = 0;
    chosen->automaticReconnect = 0; /* our own back-off, with our own log lines */
    chosen->MQTTVersion = client->mqtt_version;
    chosen->serverURIcount = (int)client->broker_count;
    chosen->serverURIs = client->brokers;
    chosen->context = client;
    if (v5) {
        chosen->onSuccess5 = on_connected5;
        chosen->onFailure5 = on_connect_failed5;
    } else {
        chosen->onSuccess = on_connected;
        chosen->onFailure = on_connect_failed;
    }
    will.topicName = client->status_topic;
    will.message = client->will_text;
    will.qos = 1;
    will.retained = 1;
    chosen->will = &will;
    if (client->username[0])
        chosen->username = client->username;
    if (client->password[0])
        chosen->password = client->password;
    if (client->tls) {
        ssl.trustStore = client->ca_file[0] ? client->ca_file : NULL;
        ssl.keyStore = client->cert_file[0] ? client->cert_file : NULL;
        ssl.privateKey = client->key_file[0] ? client->key_file : NULL;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;
        ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2;
        chosen->ssl = &ssl;
    }
    client->state = LINK_CONNECTING;
    client->attempts++;
    int rc = MQTTAsync_connect(client->mqtt, chosen);
    if (rc != MQTTASYNC_SUCCESS) {
        char text[64];
        snprintf(text, sizeof text, "paho refused to start connecting (code %d)", rc);
        post_text(client, RESULT_CONNECT_FAILED, 0, rc, text);
    }
}

static void connected(struct wg_uplink_client *client, const struct result *result)
{
    client->state = LINK_UP;
    client->backoff_s = client->reconnect_min_s;
    client->connected_mono_ms = mono_now(client);
    client->broker_max_packet = result->max_packet;
    snprintf(client->connected_uri, sizeof client->connected_uri, "%s", result->text);
    if (client->attempts > 1 || client->reconnects > 0)
        client->reconnects++;
    struct wg_outbox_totals totals;
    outbox_totals(client, &totals);
    wg_notice("uplink: connected to %s (%s, client id %s%s); %" PRId64 " messages waiting in the "
              "outbox",
              client->connected_uri[0] ? client->connected_uri : client->brokers[0],
              version_name(client->mqtt_version), client->client_id, client->tls ? ", TLS" : "",
              totals.total_rows);
    client->attempts = 0;
    client->last_failure[0] = '\0';
    client->waiting_logged = false;

    MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
    options.context = client;
    if (client->mqtt_version == MQTTVERSION_5)
        options.onFailure5 = on_subscribe_failed5;
    else
        options.onFailure = on_subscribe_failed;
    int rc = MQTTAsync_subscribe(client->mqtt, client->command_topic, 1, &options);
    if (rc != MQTTASYNC_SUCCESS)
        wg_err("uplink: cannot subscribe to %s (paho code %d); commands are not received",
               client->command_topic, rc);

    char *birth = uplink_encode_status(&client->identity, true, WG_VERSION, wall_now(client));
    publish_ephemeral(client, WG_LEAF_STATUS, birth, true);
    free(birth);
    client->next_heartbeat_mono_ms = client->connected_mono_ms; /* heartbeat and snapshot now */
    client->snapshot_due = true;
    client->next_response_mono_ms = mono_now(client);
    pump(client);
}

static void connect_failed(struct wg_uplink_client *client, const struct result *result)
{
    char reason[300];
    snprintf(reason, sizeof reason, "%s (code %d%s%.200s)", connect_failure_words(result->code),
             result->code, result->text[0] ? ": " : "", result->text);
    int64_t now = mono_now(client);
    bool same = strcmp(reason, client->last_failure) == 0;
    int delay = client->backoff_s;
    if (!same || now - client->last_failure_warned_ms >= WARN_AGAIN_MS) {
        wg_warn("uplink: cannot connect to %s%s: %s; retrying in %d s (then up to every %d s); "
                "events wait in the outbox",
                client->brokers[0], client->broker_count > 1 ? " or its fail-over brokers" : "",
                reason, delay, client->reconnect_max_s);
        snprintf(client->last_failure, sizeof client->last_failure, "%s", reason);
        client->last_failure_warned_ms = now;
    }
    schedule_reconnect(client);
}

static void connection_lost(struct wg_uplink_client *client, const struct result *result)
{
    if (client->retiring) {
        client->state = LINK_IDLE;
        client->retired = true;
        return;
    }
    if (client->state != LINK_UP)
        return;
    wg_warn("uplink: connection to %s lost: %s; reconnecting in %d s", client->connected_uri,
            result->text, client->reconnect_min_s);
    rewind_window(client, "link lost");
    client->backoff_s = client->reconnect_min_s;
    schedule_reconnect(client);
}

/* ---- commands ---- */

/* ---- journal reads: alarm history and response figures, on a query worker ---- */

/* What a command (or the periodic figures) asks of the journal. `run`
 * fills items/summary (or why) on the worker; `done` answers on the core
 * thread. */
struct journal_read {
    struct wg_query_job job; /* first: the service hands this back */
    struct wg_uplink_client *client;
    struct journal_read *next;
    struct wg_command command;
    bool periodic; /* the retained response figures, not a reply */
    json_t *summary, *items;
    char why[256];
};

struct history_ctx {
    json_t *items;
    int limit;
    bool truncated;
};

static int add_history_row(const struct wg_event_row *row, void *ctx)
{
    struct history_ctx *history = ctx;
    if ((int)json_array_size(history->items) >= history->limit) {
        history->truncated = true;
        return 1;
    }
    json_t *record = json_loads(row->body, 0, NULL);
    const char *phase = json_string_value(json_object_get(record, "phase"));
    json_t *alarm = record ? uplink_alarm_object(record, phase ? phase : "update") : NULL;
    json_decref(record);
    if (!alarm)
        return 0; /* not an alarm record; the journal keeps it */
    char ts[48];
    uplink_format_time(row->ts_ms, ts, sizeof ts);
    json_t *item = json_pack("{s:s, s:I, s:s, s:o}", "id", row->id, "seq", (json_int_t)row->seq,
                             "ts", ts, "alarm", alarm);
    if (item)
        json_array_append_new(history->items, item);
    return 0;
}

static json_t *history_items(struct wg_store_reader *reader, const struct wg_command *command,
                             char *why, size_t why_len)
{
    struct history_ctx history = {.items = json_array(), .limit = command->limit};
    if (!history.items || store_read_alarm_events(reader, command->from_ms, command->to_ms,
                                                  add_history_row, &history) != 0) {
        snprintf(why, why_len, "the gateway could not read its journal: %s",
                 history.items ? store_reader_error(reader) : "out of memory");
        json_decref(history.items);
        return NULL;
    }
    if (history.truncated)
        snprintf(why, why_len, "truncated: more than %d rows; ask for a shorter range",
                 command->limit);
    return history.items;
}

static json_t *time_range(const struct wg_command *command)
{
    char from[48], to[48];
    uplink_format_time(command->from_ms, from, sizeof from);
    uplink_format_time(command->to_ms, to, sizeof to);
    return json_pack("{s:s, s:s}", "from", from, "to", to);
}

static json_t *response_figures(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                                char *why, size_t why_len)
{
    struct wg_response_report report;
    struct wg_response_options options = {0};
    if (response_compute(reader, from_ms, to_ms, &options, &report, why, why_len) != 0)
        return NULL;
    json_t *figures = response_report_to_json(&report);
    response_report_free(&report);
    if (!figures)
        snprintf(why, why_len, "out of memory");
    return figures;
}

static enum wg_query_step journal_read_run(struct wg_query_job *job, struct wg_store_reader *reader)
{
    struct journal_read *read = (struct journal_read *)job;
    const struct wg_command *command = &read->command;
    if (command->kind == WG_COMMAND_ALARM_HISTORY) {
        read->summary = time_range(command);
        read->items = history_items(reader, command, read->why, sizeof read->why);
    } else {
        read->summary =
            response_figures(reader, command->from_ms, command->to_ms, read->why, sizeof read->why);
    }
    return WG_QUERY_DONE;
}

static void journal_read_free(struct wg_query_job *job)
{
    struct journal_read *read = (struct journal_read *)job;
    json_decref(read->summary);
    json_decref(read->items);
    free(read);
}

static void send_reply(struct wg_uplink_client *client, const struct wg_reply *reply);
static void publish_figures(struct wg_uplink_client *client, json_t *figures, int64_t now);

/* Core thread: the read is done; answer the platform. */
static bool journal_read_done(struct wg_query_job *job)
{
    struct journal_read *read = (struct journal_read *)job;
    struct wg_uplink_client *client = read->client;
    for (struct journal_read **p = &client->reads; *p; p = &(*p)->next)
        if (*p == read) {
            *p = read->next;
            break;
        }
    if (read->periodic) {
        client->figures_running = false;
        if (read->summary)
            publish_figures(client, read->summary, read->command.to_ms);
        else
            wg_err("uplink: response-time figures not published: %s", read->why);
        read->summary = NULL; /* taken */
        return false;
    }
    const char *name = uplink_command_name(read->command.kind);
    struct wg_reply reply = {.request = read->command.request,
                             .command = name,
                             .confirm = read->summary || read->items,
                             .reason = read->why,
                             .summary = read->summary,
                             .items = read->items};
    if (read->command.kind == WG_COMMAND_ALARM_HISTORY && !read->items) {
        reply.confirm = false;
        reply.summary = NULL;
    }
    if (!reply.confirm)
        wg_warn("uplink: command %s (request %s) failed: %s", name, read->command.request,
                read->why);
    send_reply(client, &reply);
    return false;
}

/* Hands a journal read to the query workers; false (with why) when it
 * cannot run now. */
static bool start_journal_read(struct wg_uplink_client *client, const struct wg_command *command,
                               bool periodic, char *why, size_t why_len)
{
    struct journal_read *read = calloc(1, sizeof *read);
    if (!client->host.queries || !read) {
        free(read);
        snprintf(why, why_len, "the gateway cannot read its journal now");
        return false;
    }
    *read = (struct journal_read){
        .job = {.run = journal_read_run, .done = journal_read_done, .free = journal_read_free},
        .client = client,
        .command = *command,
        .periodic = periodic};
    if (query_submit(client->host.queries, &read->job) != 0) {
        snprintf(why, why_len, "the gateway is stopping"); /* the service freed it */
        return false;
    }
    /* Its `done` runs on this thread, so it cannot have run yet. */
    read->next = client->reads;
    client->reads = read;
    return true;
}

static json_t *snapshot_summary(struct wg_uplink_client *client)
{
    json_t *status = client->host.status ? client->host.status(client->host.ctx) : NULL;
    return status ? status : json_object();
}

static json_t *snapshot_alarms(struct wg_uplink_client *client)
{
    json_t *records =
        client->host.active_alarms ? client->host.active_alarms(client->host.ctx) : NULL;
    json_t *alarms = json_array();
    size_t index;
    json_t *record;
    json_array_foreach(records, index, record)
        json_array_append_new(alarms, uplink_alarm_object(record, "snapshot"));
    json_decref(records);
    return alarms;
}

static void send_reply(struct wg_uplink_client *client, const struct wg_reply *reply)
{
    char **parts = NULL;
    char why[200];
    int count = uplink_encode_reply(&client->identity, reply, wall_now(client),
                                    message_limit(client), &parts, why, sizeof why);
    if (count < 0) {
        wg_err("uplink: reply to %s (%s) cannot be sent: %s; a denial goes instead", reply->request,
               reply->command ? reply->command : "?", why);
        struct wg_reply denial = {
            .request = reply->request, .command = reply->command, .confirm = false, .reason = why};
        count = uplink_encode_reply(&client->identity, &denial, wall_now(client),
                                    message_limit(client), &parts, why, sizeof why);
        if (count < 0)
            return;
    }
    for (int i = 0; i < count; i++)
        publish_ephemeral(client, WG_LEAF_REPLY, parts[i], false);
    if (count > 1)
        wg_info("uplink: reply to %s sent in %d parts (broker limit %lld bytes)", reply->request,
                count, message_limit(client));
    uplink_free_parts(parts, count);
}

static void handle_command(struct wg_uplink_client *client, const struct result *result)
{
    struct wg_command command;
    char why[256] = "";
    if (uplink_command_parse(result->payload, result->payload_len, client->commands,
                             wall_now(client), &command, why, sizeof why) != 0) {
        wg_warn("uplink: command %s%s denied: %s; nothing was done",
                command.request[0] ? "request " : "(no usable request id)", command.request, why);
        struct wg_reply denial = {.request = command.request,
                                  .command = uplink_command_name(command.kind),
                                  .confirm = false,
                                  .reason = why};
        send_reply(client, &denial);
        return;
    }
    const char *name = uplink_command_name(command.kind);
    wg_info("uplink: command %s from the platform (request %s)", name, command.request);
    struct wg_reply reply = {
        .request = command.request, .command = name, .confirm = true, .reason = ""};
    json_t *summary = NULL, *items = NULL;
    switch (command.kind) {
    case WG_COMMAND_SNAPSHOT:
        summary = snapshot_summary(client);
        items = snapshot_alarms(client);
        break;
    case WG_COMMAND_DEVICES:
        items = client->host.devices ? client->host.devices(client->host.ctx) : NULL;
        if (!items)
            snprintf(why, sizeof why, "the device list is not available");
        break;
    case WG_COMMAND_ALARM_HISTORY:
    case WG_COMMAND_RESPONSE_TIMES:
        /* Answered when a query worker has read the journal. */
        if (start_journal_read(client, &command, false, why, sizeof why))
            return;
        break;
    case WG_COMMAND_KIND_COUNT:
        break;
    }
    if (!summary && !items) {
        reply.confirm = false;
        wg_warn("uplink: command %s (request %s) failed: %s", name, command.request, why);
    }
    reply.reason = why;
    reply.summary = summary;
    reply.items = items;
    send_reply(client, &reply);
    json_decref(summary);
    json_decref(items);
}

/* ---- periodic messages ---- */

static void publish_heartbeat(struct wg_uplink_client *client)
{
    struct wg_outbox_totals totals;
    outbox_totals(client, &totals);
    json_t *message = uplink_envelope(&client->identity, "wardgate/heartbeat/1", wall_now(client));
    json_t *status = snapshot_summary(client);
    if (!message || !status) {
        json_decref(message);
        json_decref(status);
        return;
    }
    int64_t now = mono_now(client);
    json_object_set_new(message, "uptime_s", json_integer((now - client->started_mono_ms) / 1000));
    json_object_set_new(
        message, "outbox",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "rows", (json_int_t)totals.total_rows, "bytes",
                  (json_int_t)totals.total_bytes, "alarms",
                  (json_int_t)totals.rows[WG_UPLINK_ALARM], "oldest_age_s",
                  (json_int_t)(totals.oldest_created_ms
                                   ? (wall_now(client) - totals.oldest_created_ms) / 1000
                                   : 0),
                  "cap_bytes", (json_int_t)client->bound.max_bytes));
    json_object_set(message, "devices", json_object_get(status, "devices"));
    json_object_set(message, "alarms_active", json_object_get(status, "alarms_active"));
    json_object_set_new(message, "link",
                        json_pack("{s:I, s:I, s:I, s:I}", "connected_s",
                                  (json_int_t)((now - client->connected_mono_ms) / 1000),
                                  "reconnects", (json_int_t)client->reconnects, "published",
                                  (json_int_t)client->published, "resent",
                                  (json_int_t)client->resent));
    json_decref(status);
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    publish_ephemeral(client, WG_LEAF_HEARTBEAT, text, false);
    free(text);
}

static void publish_snapshot(struct wg_uplink_client *client)
{
    json_t *message = uplink_envelope(&client->identity, "wardgate/snapshot/1", wall_now(client));
    if (!message)
        return;
    json_t *status = snapshot_summary(client);
    json_object_update(message, status);
    json_decref(status);
    json_object_set_new(message, "alarms", snapshot_alarms(client));
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    if (text && (long long)strlen(text) > message_limit(client)) {
        wg_warn("uplink: the snapshot is %zu bytes, over the broker's limit of %lld; it is not "
                "published retained (the platform can request it, split in parts)",
                strlen(text), message_limit(client));
    } else {
        publish_ephemeral(client, WG_LEAF_SNAPSHOT, text, true);
    }
    free(text);
}

static void publish_figures(struct wg_uplink_client *client, json_t *figures, int64_t now)
{
    json_t *message = uplink_envelope(&client->identity, "wardgate/response_times/1", now);
    if (message) {
        json_object_set_new(message, "figures", figures);
        char *text = json_dumps(message, JSON_COMPACT);
        publish_ephemeral(client, WG_LEAF_RESPONSE, text, true);
        free(text);
        json_decref(message);
    } else {
        json_decref(figures);
    }
}

/* The last 24 h of response figures, computed on a query worker and
 * published (retained) when done; one at a time. */
static void publish_response_figures(struct wg_uplink_client *client)
{
    if (client->figures_running)
        return;
    char why[256];
    int64_t now = wall_now(client);
    struct wg_command command = {
        .kind = WG_COMMAND_RESPONSE_TIMES, .from_ms = now - RESPONSE_WINDOW_MS, .to_ms = now};
    if (start_journal_read(client, &command, true, why, sizeof why))
        client->figures_running = true;
    else
        wg_err("uplink: response-time figures not published: %s", why);
}

/* ---- public ---- */

void uplink_process(struct wg_uplink_client *client)
{
    uint64_t wakeups;
    if (read(client->event_fd, &wakeups, sizeof wakeups) < 0 && errno != EAGAIN)
        wg_err("uplink: reading its eventfd: %s", strerror(errno));
    pthread_mutex_lock(&client->lock);
    struct result *results = client->results;
    size_t count = client->result_count;
    client->results = NULL;
    client->result_count = client->result_capacity = 0;
    pthread_mutex_unlock(&client->lock);

    bool failed = false;
    for (size_t i = 0; i < count; i++) {
        const struct result *result = &results[i];
        switch (result->type) {
        case RESULT_CONNECTED:
            connected(client, result);
            break;
        case RESULT_CONNECT_FAILED:
            connect_failed(client, result);
            break;
        case RESULT_LOST:
            connection_lost(client, result);
            break;
        case RESULT_ACKED:
            note_acked(client, result->token);
            client->send_blocked = false;
            break;
        case RESULT_NOT_ACKED:
            if (is_tracked(client, result->token)) {
                if (!failed)
                    wg_notice("uplink: a publish failed (code %d%s%s)", result->code,
                              result->text[0] ? ": " : "", result->text);
                failed = true;
            }
            break;
        case RESULT_COMMAND:
            handle_command(client, result);
            free(result->payload);
            break;
        case RESULT_SUBSCRIBE_FAILED:
            wg_err("uplink: the broker refused the subscription to %s (code %d); commands are "
                   "not received",
                   client->command_topic, result->code);
            break;
        case RESULT_DISCONNECTED:
            client->state = LINK_IDLE;
            client->retired = true;
            break;
        }
    }
    free(results);
    if (failed && client->state == LINK_UP)
        rewind_window(client, "a publish was not acknowledged");
    delete_acked(client);
    pump(client);
}

void uplink_after_commit(struct wg_uplink_client *client)
{
    if (client->state != LINK_UP && client->last_failure[0] && !client->waiting_logged) {
        wg_notice("uplink: not connected; events wait in the outbox (bounded to %lld bytes and "
                  "%" PRId64 " h; alarms are never dropped) and are sent once the broker is "
                  "reachable",
                  client->bound.max_bytes, client->bound.max_age_ms / 3600000);
        client->waiting_logged = true;
    }
    pump(client);
}

void uplink_tick(struct wg_uplink_client *client)
{
    int64_t now = mono_now(client);
    if (client->state == LINK_IDLE && now >= client->next_connect_mono_ms)
        start_connect(client);
    if (client->acked_count > 0)
        delete_acked(client);
    if (client->state != LINK_UP)
        return;
    if (now >= client->next_heartbeat_mono_ms) {
        publish_heartbeat(client);
        if (client->snapshot_due)
            publish_snapshot(client);
        client->snapshot_due = false;
        client->next_heartbeat_mono_ms = now + (int64_t)client->heartbeat_s * 1000;
    }
    if (now >= client->next_response_mono_ms) {
        publish_response_figures(client);
        client->next_response_mono_ms = now + (int64_t)client->response_interval_s * 1000;
    }
    pump(client);
}

int uplink_fd(const struct wg_uplink_client *client)
{
    return client->event_fd;
}

void uplink_start(struct wg_uplink_client *client)
{
    client->started_mono_ms = mono_now(client);
    start_connect(client);
}

static bool is_tls_uri(const char *uri)
{
    return strncmp(uri, "ssl://", 6) == 0 || strncmp(uri, "mqtts://", 8) == 0 ||
           strncmp(uri, "wss://", 6) == 0;
}

static void free_settings(struct wg_uplink_client *client)
{
    char **texts[] = {&client->prefix,   &client->district, &client->facility, &client->client_id,
                      &client->username, &client->password, &client->ca_file,  &client->cert_file,
                      &client->key_file, &client->will_text};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (*texts[i] == client->password && client->password)
            explicit_bzero(client->password, strlen(client->password));
        free(*texts[i]);
        *texts[i] = NULL;
    }
    for (size_t i = 0; client->brokers && i < client->broker_count; i++)
        free(client->brokers[i]);
    free(client->brokers);
}

static bool copy_settings(struct wg_uplink_client *client, const struct wg_config *config)
{
    const struct wg_uplink *uplink = &config->uplink;
    client->prefix = strdup(uplink->topic_prefix);
    client->district = strdup(config->site.district);
    client->facility = strdup(config->site.id);
    client->client_id = strdup(uplink->client_id);
    client->username = strdup(uplink->username);
    client->password = strdup(uplink->password);
    client->ca_file = strdup(uplink->ca_file);
    client->cert_file = strdup(uplink->cert_file);
    client->key_file = strdup(uplink->key_file);
    client->brokers = calloc(uplink->broker_count ? uplink->broker_count : 1, sizeof(char *));
    bool ok = client->prefix && client->district && client->facility && client->client_id &&
              client->username && client->password && client->ca_file && client->cert_file &&
              client->key_file && client->brokers;
    for (size_t i = 0; ok && i < uplink->broker_count; i++) {
        client->brokers[i] = strdup(uplink->brokers[i]);
        ok = client->brokers[i] != NULL;
        client->broker_count = i + 1;
        client->tls = client->tls || is_tls_uri(uplink->brokers[i]);
    }
    client->mqtt_version = uplink->mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    client->keepalive_s = uplink->keepalive_s;
    client->connect_timeout_s = uplink->connect_timeout_s;
    client->reconnect_min_s = uplink->reconnect_min_s;
    client->reconnect_max_s = uplink->reconnect_max_s;
    client->backoff_s = uplink->reconnect_min_s;
    client->window = uplink->max_inflight;
    client->max_message_bytes = uplink->max_message_bytes;
    client->bound =
        (struct wg_outbox_bound){.max_bytes = uplink->outbox_max_bytes,
                                 .max_age_ms = (int64_t)uplink->outbox_max_age_h * 3600 * 1000};
    client->heartbeat_s = uplink->heartbeat_s;
    client->response_interval_s = uplink->response_interval_s;
    client->commands = uplink->commands;
    client->identity =
        (struct wg_uplink_identity){client->prefix, client->district, client->facility};
    if (!ok || client->broker_count == 0)
        return false;
    if (uplink_topic(&client->identity, WG_LEAF_STATUS, client->status_topic,
                     sizeof client->status_topic) < 0 ||
        uplink_topic(&client->identity, WG_LEAF_COMMAND, client->command_topic,
                     sizeof client->command_topic) < 0)
        return false;
    client->will_text = uplink_encode_status(&client->identity, false, WG_VERSION, 0);
    return client->will_text != NULL;
}

struct wg_uplink_client *uplink_new(const struct wg_config *config, struct wg_store *store,
                                    struct wg_clock *clock, const struct wg_uplink_host *host)
{
    struct wg_uplink_client *client = calloc(1, sizeof *client);
    if (!client) {
        wg_crit("uplink: out of memory");
        return NULL;
    }
    client->event_fd = -1;
    client->store = store;
    client->clock = clock;
    client->host = *host;
    pthread_mutex_init(&client->lock, NULL);
    if (!copy_settings(client, config)) {
        wg_crit("uplink: out of memory, no broker, or topics too long; the uplink is off");
        uplink_free(client);
        return NULL;
    }
    client->inflight = calloc((size_t)client->window, sizeof *client->inflight);
    client->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!client->inflight || client->event_fd < 0) {
        wg_crit("uplink: cannot set up (%s); the uplink is off",
                client->event_fd < 0 ? strerror(errno) : "out of memory");
        uplink_free(client);
        return NULL;
    }
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.sendWhileDisconnected = 0; /* the outbox is our buffer, not paho's memory */
    create.maxBufferedMessages = client->window + INFLIGHT_RESERVE;
    create.MQTTVersion = client->mqtt_version;
    int rc = MQTTAsync_createWithOptions(&client->mqtt, client->brokers[0], client->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &create);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(client->mqtt, client, on_connection_lost, on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        wg_crit("uplink: the MQTT library refused the settings for %s (paho code %d); the uplink "
                "is off, events wait in the outbox",
                client->brokers[0], rc);
        uplink_free(client);
        return NULL;
    }
    client->state = LINK_IDLE;
    wg_info("uplink: %s, %zu broker(s) starting with %s, topics %s/%s/%s/..., window %d",
            version_name(client->mqtt_version), client->broker_count, client->brokers[0],
            client->prefix, client->district, client->facility, client->window);
    return client;
}

/* Journal reads still on the workers are not answered. */
static void cancel_reads(struct wg_uplink_client *client)
{
    for (struct journal_read *read = client->reads, *next; read; read = next) {
        next = read->next;
        query_cancel(client->host.queries, &read->job);
    }
    client->reads = NULL;
}

/* The retained "offline" status on this client's topic (a clean stop says so
 * itself: the will is only for a crash). */
static void publish_offline(struct wg_uplink_client *client)
{
    char *offline = uplink_encode_status(&client->identity, false, WG_VERSION, wall_now(client));
    if (offline) {
        MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
        publish_text(client, client->status_topic, offline, strlen(offline), true, &options);
        free(offline);
    }
}

/* Destroys the paho client and frees everything, after waiting up to
 * DISCONNECT_TIMEOUT_MS for a disconnect under way (a retired client's is
 * over, or took too long: no wait). */
static void disconnect_and_free(struct wg_uplink_client *client)
{
    if (client->mqtt) {
        for (int i = 0; !client->retiring && i < DISCONNECT_TIMEOUT_MS / 10 &&
                        MQTTAsync_isConnected(client->mqtt);
             i++)
            usleep(10 * 1000);
        MQTTAsync_destroy(&client->mqtt);
    }
    for (size_t i = 0; i < client->result_count; i++)
        free(client->results[i].payload);
    free(client->results);
    free(client->acked);
    free(client->deleting);
    free(client->inflight);
    if (client->event_fd >= 0)
        close(client->event_fd);
    pthread_mutex_destroy(&client->lock);
    free_settings(client);
    free(client);
}

void uplink_retire(struct wg_uplink_client *client)
{
    if (!client || client->retiring)
        return;
    cancel_reads(client); /* a replaced link answers no journal read */
    client->retiring = true;
    client->retire_deadline_mono_ms = mono_now(client) + DRAIN_ON_STOP_MS + DISCONNECT_TIMEOUT_MS;
    if (client->state != LINK_UP)
        client->retired = true; /* nothing to say goodbye on */
}

bool uplink_retire_step(struct wg_uplink_client *client)
{
    if (client->retired || mono_now(client) >= client->retire_deadline_mono_ms)
        return true;
    if (client->goodbye_sent)
        return false;
    /* What the library had handed over (a command under way) is answered
     * first, from the core's state as it is now; then goodbye. */
    uplink_process(client);
    if (client->retired || client->state != LINK_UP)
        return client->retired = true;
    publish_offline(client);
    MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
    options.timeout = DISCONNECT_TIMEOUT_MS;
    options.context = client;
    if (client->mqtt_version == MQTTVERSION_5) {
        options.onSuccess5 = on_disconnected5;
        options.onFailure5 = on_disconnect_failed5;
    } else {
        options.onSuccess = on_disconnected;
        options.onFailure = on_disconnect_failed;
    }
    client->goodbye_sent = true;
    int rc = MQTTAsync_disconnect(client->mqtt, &options);
    if (rc != MQTTASYNC_SUCCESS) {
        wg_notice("uplink: the replaced link did not disconnect cleanly (paho code %d)", rc);
        return client->retired = true;
    }
    return false;
}

void uplink_free(struct wg_uplink_client *client)
{
    if (!client)
        return;
    cancel_reads(client);
    if (client->mqtt) {
        /* Give the PUBACKs of what is in flight a moment, so a clean stop
         * leaves no duplicates behind. */
        int64_t until = mono_now(client) + DRAIN_ON_STOP_MS;
        while (!client->retiring && client->state == LINK_UP && client->inflight_count > 0 &&
               mono_now(client) < until) {
            struct pollfd wake = {.fd = client->event_fd, .events = POLLIN};
            if (poll(&wake, 1, 50) > 0)
                uplink_process(client);
        }
        if (!client->retiring && client->state == LINK_UP) {
            publish_offline(client);
            MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
            options.timeout = DISCONNECT_TIMEOUT_MS;
            MQTTAsync_disconnect(client->mqtt, &options);
        }
    }
    if (client->acked_count > 0)
        delete_acked(client);
    disconnect_and_free(client);
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool uplink_same_settings(const struct wg_config *a, const struct wg_config *b)
{
    const struct wg_uplink *x = &a->uplink, *y = &b->uplink;
    if (x->enabled != y->enabled || x->broker_count != y->broker_count ||
        !same_text(a->site.id, b->site.id) || !same_text(a->site.district, b->site.district) ||
        !same_text(x->client_id, y->client_id) || !same_text(x->username, y->username) ||
        !same_text(x->password, y->password) || !same_text(x->topic_prefix, y->topic_prefix) ||
        !same_text(x->ca_file, y->ca_file) || !same_text(x->cert_file, y->cert_file) ||
        !same_text(x->key_file, y->key_file) || x->mqtt_version != y->mqtt_version ||
        x->keepalive_s != y->keepalive_s || x->connect_timeout_s != y->connect_timeout_s ||
        x->reconnect_min_s != y->reconnect_min_s || x->reconnect_max_s != y->reconnect_max_s ||
        x->max_inflight != y->max_inflight || x->max_message_bytes != y->max_message_bytes ||
        x->outbox_max_bytes != y->outbox_max_bytes || x->outbox_max_age_h != y->outbox_max_age_h ||
        x->heartbeat_s != y->heartbeat_s || x->response_interval_s != y->response_interval_s ||
        x->commands != y->commands)
        return false;
    for (size_t i = 0; i < x->broker_count; i++)
        if (!same_text(x->brokers[i], y->brokers[i]))
            return false;
    return true;
}
