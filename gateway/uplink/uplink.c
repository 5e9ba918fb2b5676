/* The MQTT uplink's life: settings copied from the config, creating the
 * paho client, the core's calls (start, after a commit, once a second),
 * stopping and freeing; see uplink.h. paho's threads only ever touch
 * `results` (under `lock`) and the eventfd (uplink_link.c); everything else
 * belongs to the core thread. */
#include "uplink/uplink_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "uplink/uplink_encode.h"

void uplink_after_commit(struct wg_uplink_client *client)
{
    if (client->state != LINK_UP && client->last_failure[0] && !client->waiting_logged) {
        wg_notice("uplink: not connected; events wait in the outbox (bounded to %lld bytes and "
                  "%" PRId64 " h; alarms are never dropped) and are sent once the broker is "
                  "reachable",
                  client->bound.max_bytes, client->bound.max_age_ms / 3600000);
        client->waiting_logged = true;
    }
    uplink_pump(client);
}

void uplink_tick(struct wg_uplink_client *client)
{
    int64_t now = uplink_mono_now(client);
    if (client->state == LINK_IDLE && now >= client->next_connect_mono_ms)
        uplink_start_connect(client);
    if (client->acked_count > 0)
        uplink_delete_acked(client);
    if (client->state != LINK_UP)
        return;
    if (now >= client->next_heartbeat_mono_ms) {
        uplink_publish_heartbeat(client);
        if (client->snapshot_due)
            uplink_publish_snapshot(client);
        client->snapshot_due = false;
        client->next_heartbeat_mono_ms = now + (int64_t)client->heartbeat_s * 1000;
    }
    if (now >= client->next_response_mono_ms) {
        uplink_publish_response_figures(client);
        client->next_response_mono_ms = now + (int64_t)client->response_interval_s * 1000;
    }
    uplink_pump(client);
}

int uplink_fd(const struct wg_uplink_client *client)
{
    return client->event_fd;
}

void uplink_start(struct wg_uplink_client *client)
{
    client->started_mono_ms = uplink_mono_now(client);
    uplink_start_connect(client);
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
    int rc = uplink_create_paho(client);
    if (rc != MQTTASYNC_SUCCESS) {
        wg_crit("uplink: the MQTT library refused the settings for %s (paho code %d); the uplink "
                "is off, events wait in the outbox",
                client->brokers[0], rc);
        uplink_free(client);
        return NULL;
    }
    client->state = LINK_IDLE;
    wg_info("uplink: %s, %zu broker(s) starting with %s, topics %s/%s/%s/..., window %d",
            uplink_version_name(client->mqtt_version), client->broker_count, client->brokers[0],
            client->prefix, client->district, client->facility, client->window);
    return client;
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

void uplink_free(struct wg_uplink_client *client)
{
    if (!client)
        return;
    uplink_cancel_reads(client);
    if (client->mqtt) {
        /* Give the PUBACKs of what is in flight a moment, so a clean stop
         * leaves no duplicates behind. */
        int64_t until = uplink_mono_now(client) + DRAIN_ON_STOP_MS;
        while (!client->retiring && client->state == LINK_UP && client->inflight_count > 0 &&
               uplink_mono_now(client) < until) {
            struct pollfd wake = {.fd = client->event_fd, .events = POLLIN};
            if (poll(&wake, 1, 50) > 0)
                uplink_process(client);
        }
        if (!client->retiring && client->state == LINK_UP) {
            uplink_publish_offline(client);
            MQTTAsync_disconnectOptions options = MQTTAsync_disconnectOptions_initializer;
            options.timeout = DISCONNECT_TIMEOUT_MS;
            MQTTAsync_disconnect(client->mqtt, &options);
        }
    }
    if (client->acked_count > 0)
        uplink_delete_acked(client);
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
