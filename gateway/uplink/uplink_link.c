/* The uplink's connection: paho's callbacks (on its threads: they only
 * queue a result and wake the core), and on the core thread connecting with
 * back-off, what a connect, a failure or a lost link does, the results'
 * dispatch (uplink_process) and the goodbye of a retired client. */
#include "uplink/uplink_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "uplink/uplink_encode.h"

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

/* OpenSSL (1.1 and later) initialises itself on first use. Left to paho, it
 * would load every algorithm and error string at start, about 3 MB of
 * resident libcrypto pages, even when no broker is reached over TLS. */
static void paho_global_init(void)
{
    MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
    init.do_openssl_init = 0;
    MQTTAsync_global_init(&init);
}

/* Creates the paho client (no persistence: the outbox is the record) with
 * the callbacks for a lost link and arriving commands; paho's code. */
int uplink_create_paho(struct wg_uplink_client *client)
{
    static pthread_once_t paho_initialised = PTHREAD_ONCE_INIT;
    pthread_once(&paho_initialised, paho_global_init);
    MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
    create.sendWhileDisconnected = 0; /* the outbox is our buffer, not paho's memory */
    create.maxBufferedMessages = client->window + INFLIGHT_RESERVE;
    create.MQTTVersion = client->mqtt_version;
    int rc = MQTTAsync_createWithOptions(&client->mqtt, client->brokers[0], client->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &create);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(client->mqtt, client, on_connection_lost, on_message, NULL);
    return rc;
}

/* Sets the callbacks of a tracked publish (an outbox row): its PUBACK, or
 * its failure, comes back to the core thread as a result. */
void uplink_expect_ack(struct wg_uplink_client *client, MQTTAsync_responseOptions *options)
{
    options->context = client;
    if (client->mqtt_version == MQTTVERSION_5) {
        options->onSuccess5 = on_published5;
        options->onFailure5 = on_publish_failed5;
    } else {
        options->onSuccess = on_published;
        options->onFailure = on_publish_failed;
    }
}

const char *uplink_version_name(int version)
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

static void schedule_reconnect(struct wg_uplink_client *client)
{
    int delay = client->backoff_s;
    client->backoff_s = client->backoff_s * 2 > client->reconnect_max_s ? client->reconnect_max_s
                                                                        : client->backoff_s * 2;
    client->next_connect_mono_ms = uplink_mono_now(client) + (int64_t)delay * 1000;
    client->state = LINK_IDLE;
}

void uplink_start_connect(struct wg_uplink_client *client)
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

static void link_connected(struct wg_uplink_client *client, const struct result *result)
{
    client->state = LINK_UP;
    client->backoff_s = client->reconnect_min_s;
    client->connected_mono_ms = uplink_mono_now(client);
    client->broker_max_packet = result->max_packet;
    snprintf(client->connected_uri, sizeof client->connected_uri, "%s", result->text);
    if (client->attempts > 1 || client->reconnects > 0)
        client->reconnects++;
    struct wg_outbox_totals totals;
    uplink_outbox_totals(client, &totals);
    wg_notice("uplink: connected to %s (%s, client id %s%s); %" PRId64 " messages waiting in the "
              "outbox",
              client->connected_uri[0] ? client->connected_uri : client->brokers[0],
              uplink_version_name(client->mqtt_version), client->client_id,
              client->tls ? ", TLS" : "", totals.total_rows);
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

    char *birth =
        uplink_encode_status(&client->identity, true, WG_VERSION, uplink_wall_now(client));
    uplink_publish_ephemeral(client, WG_LEAF_STATUS, birth, true);
    free(birth);
    client->next_heartbeat_mono_ms = client->connected_mono_ms; /* heartbeat and snapshot now */
    client->snapshot_due = true;
    client->next_response_mono_ms = uplink_mono_now(client);
    uplink_pump(client);
}

static void link_connect_failed(struct wg_uplink_client *client, const struct result *result)
{
    char reason[300];
    snprintf(reason, sizeof reason, "%s (code %d%s%.200s)", connect_failure_words(result->code),
             result->code, result->text[0] ? ": " : "", result->text);
    int64_t now = uplink_mono_now(client);
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

static void link_connection_lost(struct wg_uplink_client *client, const struct result *result)
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
    uplink_rewind_window(client, "link lost");
    client->backoff_s = client->reconnect_min_s;
    schedule_reconnect(client);
}

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
            link_connected(client, result);
            break;
        case RESULT_CONNECT_FAILED:
            link_connect_failed(client, result);
            break;
        case RESULT_LOST:
            link_connection_lost(client, result);
            break;
        case RESULT_ACKED:
            uplink_note_acked(client, result->token);
            client->send_blocked = false;
            break;
        case RESULT_NOT_ACKED:
            if (uplink_is_tracked(client, result->token)) {
                if (!failed)
                    wg_notice("uplink: a publish failed (code %d%s%s)", result->code,
                              result->text[0] ? ": " : "", result->text);
                failed = true;
            }
            break;
        case RESULT_COMMAND:
            uplink_handle_command(client, result);
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
        uplink_rewind_window(client, "a publish was not acknowledged");
    uplink_delete_acked(client);
    uplink_pump(client);
}

void uplink_retire(struct wg_uplink_client *client)
{
    if (!client || client->retiring)
        return;
    uplink_cancel_reads(client); /* a replaced link answers no journal read */
    client->retiring = true;
    client->retire_deadline_mono_ms =
        uplink_mono_now(client) + DRAIN_ON_STOP_MS + DISCONNECT_TIMEOUT_MS;
    if (client->state != LINK_UP)
        client->retired = true; /* nothing to say goodbye on */
}

bool uplink_retire_step(struct wg_uplink_client *client)
{
    if (client->retired || uplink_mono_now(client) >= client->retire_deadline_mono_ms)
        return true;
    if (client->goodbye_sent)
        return false;
    /* What the library had handed over (a command under way) is answered
     * first, from the core's state as it is now; then goodbye. */
    uplink_process(client);
    if (client->retired || client->state != LINK_UP)
        return client->retired = true;
    uplink_publish_offline(client);
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
