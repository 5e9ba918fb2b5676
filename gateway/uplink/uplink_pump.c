/* Publishing the outbox (store-and-forward): rows in seq order, QoS 1, at
 * most `window` awaiting their PUBACK; acknowledged rows go to the store
 * writer to be deleted and are never sent again meanwhile; a failure
 * rewinds to the oldest row not acknowledged. Also the publishing helpers
 * the other messages use. */
#include "uplink/uplink_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "uplink/uplink_encode.h"

int uplink_publish_text(struct wg_uplink_client *client, const char *topic, const char *text,
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
void uplink_publish_ephemeral(struct wg_uplink_client *client, const char *leaf, const char *text,
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
    int rc = uplink_publish_text(client, topic, text, length, retained, NULL);
    if (rc != MQTTASYNC_SUCCESS)
        wg_info("uplink: the %s message was not sent (paho code %d)", leaf, rc);
}

long long uplink_message_limit(const struct wg_uplink_client *client)
{
    long long limit = client->max_message_bytes;
    /* MQTT 5: the broker's Maximum Packet Size counts the whole packet; keep
     * room for the fixed header, topic and properties. */
    if (client->broker_max_packet > 0 && client->broker_max_packet - 512 < limit)
        limit = client->broker_max_packet - 512;
    return limit;
}

static struct inflight *inflight_at(struct wg_uplink_client *client, size_t i)
{
    return &client->inflight[(client->inflight_head + i) % (size_t)client->window];
}

/* Everything in flight is forgotten and the cursor goes back to the oldest
 * row not acknowledged, so it is published again (a duplicate if the broker
 * had it already: same id). */
void uplink_rewind_window(struct wg_uplink_client *client, const char *why)
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

void uplink_note_acked(struct wg_uplink_client *client, int token)
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

bool uplink_is_tracked(struct wg_uplink_client *client, int token)
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
void uplink_delete_acked(struct wg_uplink_client *client)
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
    uplink_expect_ack(client, &options);
    int rc = uplink_publish_text(client, topic, text, length, false, &options);
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
    if ((long long)row->payload_len > uplink_message_limit(client)) {
        wg_err("uplink: a %s message (#%" PRId64 ") is %zu bytes, more than the broker's limit "
               "of %lld; it is not sent",
               row->kind, row->seq, row->payload_len, uplink_message_limit(client));
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
    if (!row->event_id) {
        /* An outbox-only row (telemetry): stored in its wire form, sent as it is. */
        if (send_stored_row(client, row) != 0) {
            pump->stop = true;
            return 1;
        }
        return 0;
    }
    const char *leaf = NULL;
    size_t length = 0;
    char why[200];
    char *text = uplink_encode_event(&client->identity, row->payload, row->payload_len, &leaf,
                                     &length, why, sizeof why);
    if (!text) {
        /* Not an event we can read: say so, and send a placeholder so the
         * platform sees the hole (and the row can leave on its PUBACK). */
        wg_err("uplink: outbox row #%" PRId64 " (event %s): %s", row->seq, row->event_id, why);
        leaf = WG_LEAF_EVENT;
        text = uplink_encode_oversize(&client->identity, row->event_id, row->seq, row->kind,
                                      row->payload_len, 0, uplink_wall_now(client), &length);
    } else if ((long long)length > uplink_message_limit(client)) {
        wg_err("uplink: event %s (#%" PRId64 ", %s) is %zu bytes, more than the broker's limit "
               "of %lld; a notice is sent in its place, the record stays in the journal",
               row->event_id, row->seq, row->kind, length, uplink_message_limit(client));
        free(text);
        leaf = WG_LEAF_EVENT;
        text =
            uplink_encode_oversize(&client->identity, row->event_id, row->seq, row->kind, length,
                                   uplink_message_limit(client), uplink_wall_now(client), &length);
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

void uplink_pump(struct wg_uplink_client *client)
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

void uplink_outbox_totals(struct wg_uplink_client *client, struct wg_outbox_totals *totals)
{
    *totals = (struct wg_outbox_totals){0};
    if (client->host.outbox_totals)
        client->host.outbox_totals(client->host.ctx, totals);
}
