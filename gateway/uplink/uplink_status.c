/* The uplink's own messages about the gateway: the heartbeat, the retained
 * snapshot after each connect, the retained response-time figures, and the
 * retained "offline" status of a clean stop. */
#include "uplink/uplink_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "uplink/uplink_encode.h"

void uplink_publish_heartbeat(struct wg_uplink_client *client)
{
    struct wg_outbox_totals totals;
    uplink_outbox_totals(client, &totals);
    json_t *message =
        uplink_envelope(&client->identity, "wardgate/heartbeat/1", uplink_wall_now(client));
    json_t *status = uplink_snapshot_summary(client);
    if (!message || !status) {
        json_decref(message);
        json_decref(status);
        return;
    }
    int64_t now = uplink_mono_now(client);
    json_object_set_new(message, "uptime_s", json_integer((now - client->started_mono_ms) / 1000));
    json_object_set_new(
        message, "outbox",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "rows", (json_int_t)totals.total_rows, "bytes",
                  (json_int_t)totals.total_bytes, "alarms",
                  (json_int_t)totals.rows[WG_UPLINK_ALARM], "oldest_age_s",
                  (json_int_t)(totals.oldest_created_ms
                                   ? (uplink_wall_now(client) - totals.oldest_created_ms) / 1000
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
    uplink_publish_ephemeral(client, WG_LEAF_HEARTBEAT, text, false);
    free(text);
}

void uplink_publish_snapshot(struct wg_uplink_client *client)
{
    json_t *message =
        uplink_envelope(&client->identity, "wardgate/snapshot/1", uplink_wall_now(client));
    if (!message)
        return;
    json_t *status = uplink_snapshot_summary(client);
    json_object_update(message, status);
    json_decref(status);
    json_object_set_new(message, "alarms", uplink_snapshot_alarms(client));
    char *text = json_dumps(message, JSON_COMPACT);
    json_decref(message);
    if (text && (long long)strlen(text) > uplink_message_limit(client)) {
        wg_warn("uplink: the snapshot is %zu bytes, over the broker's limit of %lld; it is not "
                "published retained (the platform can request it, split in parts)",
                strlen(text), uplink_message_limit(client));
    } else {
        uplink_publish_ephemeral(client, WG_LEAF_SNAPSHOT, text, true);
    }
    free(text);
}

void uplink_publish_figures(struct wg_uplink_client *client, json_t *figures, int64_t now)
{
    json_t *message = uplink_envelope(&client->identity, "wardgate/response_times/1", now);
    if (message) {
        json_object_set_new(message, "figures", figures);
        char *text = json_dumps(message, JSON_COMPACT);
        uplink_publish_ephemeral(client, WG_LEAF_RESPONSE, text, true);
        free(text);
        json_decref(message);
    } else {
        json_decref(figures);
    }
}

/* The last 24 h of response figures, computed on a query worker and
 * published (retained) when done; one at a time. */
void uplink_publish_response_figures(struct wg_uplink_client *client)
{
    if (client->figures_running)
        return;
    char why[256];
    int64_t now = uplink_wall_now(client);
    struct wg_command command = {
        .kind = WG_COMMAND_RESPONSE_TIMES, .from_ms = now - RESPONSE_WINDOW_MS, .to_ms = now};
    if (uplink_start_journal_read(client, &command, true, why, sizeof why))
        client->figures_running = true;
    else
        wg_err("uplink: response-time figures not published: %s", why);
}

/* The retained "offline" status on this client's topic (a clean stop says so
 * itself: the will is only for a crash). */
void uplink_publish_offline(struct wg_uplink_client *client)
{
    char *offline =
        uplink_encode_status(&client->identity, false, WG_VERSION, uplink_wall_now(client));
    if (offline) {
        MQTTAsync_responseOptions options = MQTTAsync_responseOptions_initializer;
        uplink_publish_text(client, client->status_topic, offline, strlen(offline), true, &options);
        free(offline);
    }
}
