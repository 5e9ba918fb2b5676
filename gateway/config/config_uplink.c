/* The uplink section: the MQTT brokers and session, the credentials
 * (password_file), TLS files, the outbox limits, the heartbeat, telemetry
 * and response intervals, and the read-only commands the district
 * platform may send. */
#include "config/config_load_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uplink/uplink_command.h"

/* Reads the secret from password_file; an unreadable or empty file is an
 * error at the key that names it. The trailing newline is not part of it. */
static void read_password(struct loader *ld, const struct wg_cfg_node *uplink, const char *path,
                          const char **out)
{
    const struct wg_cfg_node *at = cfg_get(uplink, "password_file");
    FILE *file = fopen(path, "r");
    if (!file) {
        diag_at(ld->diag, at, "password_file: cannot read \"%s\": %s", path, strerror(errno));
        return;
    }
    char secret[512];
    size_t length = fread(secret, 1, sizeof secret - 1, file);
    bool too_long = length == sizeof secret - 1 && fgetc(file) != EOF;
    fclose(file);
    secret[length] = '\0';
    while (length > 0 && (secret[length - 1] == '\n' || secret[length - 1] == '\r'))
        secret[--length] = '\0';
    if (too_long)
        diag_at(ld->diag, at, "password_file: \"%s\" is longer than %zu bytes", path,
                sizeof secret - 2);
    else if (length == 0 || strlen(secret) != length)
        diag_at(ld->diag, at, "password_file: \"%s\" holds no password (empty, or a NUL byte)",
                path);
    else
        *out = ld_printf(ld, "%s", secret);
    explicit_bzero(secret, sizeof secret);
}

/* commands: a list of read-only request names; acknowledge, reset and the
 * like are refused here already, so no config can allow them. */
static void read_commands(struct loader *ld, const struct wg_cfg_node *uplink, unsigned *out)
{
    const struct wg_cfg_node *commands = cfg_get(uplink, "commands");
    if (!commands || !expect_seq(ld, commands, "commands"))
        return;
    *out = 0;
    for (size_t i = 0; i < commands->count; i++) {
        const char *name = cfg_scalar(commands->items[i]);
        int kind = name ? uplink_command_from_name(name) : -1;
        if (name && uplink_command_is_forbidden(name))
            diag_at(ld->diag, commands->items[i],
                    "commands: \"%s\" can never be allowed: calls and alarms are acknowledged at "
                    "the station and reset at their origin, never from the district platform",
                    name);
        else if (kind < 0)
            diag_at(ld->diag, commands->items[i],
                    "commands: expected snapshot, devices, alarm_history or response_times, got "
                    "\"%s\"",
                    name ? name : "a structure");
        else
            *out |= WG_COMMAND_BIT(kind);
    }
}

void load_uplink(struct loader *ld, const struct wg_cfg_node *uplink)
{
    static const char *const keys[] = {"enabled",
                                       "brokers",
                                       "client_id",
                                       "username",
                                       "password_file",
                                       "topic_prefix",
                                       "mqtt_version",
                                       "keepalive_s",
                                       "connect_timeout_s",
                                       "reconnect_min_s",
                                       "reconnect_max_s",
                                       "ca_file",
                                       "cert_file",
                                       "key_file",
                                       "max_inflight",
                                       "max_message_kb",
                                       "outbox_max_mb",
                                       "outbox_max_age_h",
                                       "heartbeat_s",
                                       "telemetry_interval_s",
                                       "telemetry_mode",
                                       "response_interval_s",
                                       "commands",
                                       NULL};
    struct wg_uplink *out = &ld->config->uplink;
    *out = (struct wg_uplink){.enabled = false,
                              .client_id = "",
                              .username = "",
                              .password_file = "",
                              .password = "",
                              .topic_prefix = "wardgate/v1",
                              .mqtt_version = 4,
                              .keepalive_s = 30,
                              .connect_timeout_s = 10,
                              .reconnect_min_s = 1,
                              .reconnect_max_s = 60,
                              .ca_file = "",
                              .cert_file = "",
                              .key_file = "",
                              .max_inflight = 1000,
                              .max_message_bytes = 256 * 1024,
                              .outbox_max_bytes = 64ll << 20,
                              .outbox_max_age_h = 168,
                              .heartbeat_s = 60,
                              .telemetry_interval_s = 300,
                              .response_interval_s = 3600,
                              .commands = WG_COMMANDS_READ_ONLY};
    if (uplink && expect_map(ld, uplink, "uplink")) {
        cfg_only_keys_in(ld->diag, uplink, keys, "uplink");
        cfg_read_bool(ld->diag, uplink, "enabled", &out->enabled);
        const struct wg_cfg_node *brokers = cfg_get(uplink, "brokers");
        if (brokers && expect_seq(ld, brokers, "brokers")) {
            out->brokers = ld_alloc(ld, brokers->count, sizeof *out->brokers);
            for (size_t i = 0; out->brokers && i < brokers->count; i++) {
                const char *uri = cfg_scalar(brokers->items[i]);
                static const char *const schemes[] = {"tcp://",   "ssl://", "mqtt://",
                                                      "mqtts://", "ws://",  "wss://"};
                bool known = false;
                for (size_t s = 0; uri && s < sizeof schemes / sizeof schemes[0]; s++)
                    known = known || (strncmp(uri, schemes[s], strlen(schemes[s])) == 0 &&
                                      uri[strlen(schemes[s])]);
                if (!known)
                    diag_at(ld->diag, brokers->items[i],
                            "brokers: expected a URI such as tcp://host:1883 or "
                            "ssl://host:8883, got \"%s\"",
                            uri ? uri : "a structure");
                else
                    out->brokers[out->broker_count++] = uri;
            }
        }
        if (out->enabled && !cfg_seq_len(brokers) && (!brokers || brokers->type == WG_CFG_SEQ))
            diag_at(ld->diag, brokers ? brokers : uplink,
                    "brokers: the uplink is enabled but lists no broker");
        read_text(ld, uplink, "client_id", false, &out->client_id);
        read_text(ld, uplink, "username", true, &out->username);
        read_path(ld, uplink, "password_file", &out->password_file);
        if (out->password_file[0] && out->enabled) /* a disabled uplink needs no secret yet */
            read_password(ld, uplink, out->password_file, &out->password);
        const char *prefix = NULL;
        if (read_text(ld, uplink, "topic_prefix", false, &prefix) && prefix) {
            size_t length = strlen(prefix);
            if (strpbrk(prefix, "+# ") || prefix[0] == '/' || prefix[length - 1] == '/')
                diag_at(ld->diag, cfg_get(uplink, "topic_prefix"),
                        "topic_prefix: expected MQTT topic levels without wildcards, spaces or a "
                        "leading/trailing '/', e.g. \"wardgate/v1\", got \"%s\"",
                        prefix);
            else
                out->topic_prefix = prefix;
        }
        const struct wg_cfg_node *version = cfg_get(uplink, "mqtt_version");
        if (version) {
            const char *text = cfg_scalar(version);
            if (text && (strcmp(text, "3.1.1") == 0 || strcmp(text, "4") == 0))
                out->mqtt_version = 4;
            else if (text && (strcmp(text, "5") == 0 || strcmp(text, "5.0") == 0))
                out->mqtt_version = 5;
            else
                diag_at(ld->diag, version, "mqtt_version: expected \"3.1.1\" or \"5\", got \"%s\"",
                        text ? text : "a structure");
        }
        read_int(ld, uplink, "keepalive_s", 5, 3600, &out->keepalive_s);
        read_int(ld, uplink, "connect_timeout_s", 1, 300, &out->connect_timeout_s);
        read_int(ld, uplink, "reconnect_min_s", 1, 3600, &out->reconnect_min_s);
        read_int(ld, uplink, "reconnect_max_s", 1, 3600, &out->reconnect_max_s);
        if (out->reconnect_max_s < out->reconnect_min_s)
            diag_at(ld->diag,
                    cfg_get(uplink, "reconnect_max_s") ? cfg_get(uplink, "reconnect_max_s")
                                                       : cfg_get(uplink, "reconnect_min_s"),
                    "reconnect_max_s (%d) must not be below reconnect_min_s (%d)",
                    out->reconnect_max_s, out->reconnect_min_s);
        read_path(ld, uplink, "ca_file", &out->ca_file);
        read_path(ld, uplink, "cert_file", &out->cert_file);
        read_path(ld, uplink, "key_file", &out->key_file);
        check_pair(ld, uplink, "cert_file", "key_file");
        read_int(ld, uplink, "max_inflight", 1, 65535, &out->max_inflight);
        long long message_kb = 256;
        if (cfg_read_int(ld->diag, uplink, "max_message_kb", 1, 256 * 1024, &message_kb))
            out->max_message_bytes = message_kb * 1024;
        long long outbox_mb = 64;
        if (cfg_read_int(ld->diag, uplink, "outbox_max_mb", 1, 64 * 1024, &outbox_mb))
            out->outbox_max_bytes = outbox_mb << 20;
        read_int(ld, uplink, "outbox_max_age_h", 1, 24 * 365, &out->outbox_max_age_h);
        read_int(ld, uplink, "heartbeat_s", 1, 3600, &out->heartbeat_s);
        read_int(ld, uplink, "telemetry_interval_s", 1, 86400, &out->telemetry_interval_s);
        const struct wg_cfg_node *mode = cfg_get(uplink, "telemetry_mode");
        if (mode) {
            const char *text = cfg_scalar(mode);
            if (text && strcmp(text, "interval") == 0)
                out->telemetry_per_read = false;
            else if (text && strcmp(text, "per_read") == 0)
                out->telemetry_per_read = true;
            else
                diag_at(ld->diag, mode,
                        "telemetry_mode: expected \"interval\" or \"per_read\", got \"%s\"",
                        text ? text : "a structure");
        }
        read_int(ld, uplink, "response_interval_s", 60, 7 * 86400, &out->response_interval_s);
        read_commands(ld, uplink, &out->commands);
    }
    if (!*out->client_id && *ld->config->site.id)
        out->client_id = ld_printf(ld, "wardgate-%s", ld->config->site.id);
    if (!out->client_id)
        out->client_id = "";
}
