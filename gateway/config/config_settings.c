/* The site, plugins, log, storage and web sections of the site file (the
 * web's TLS files are read once here, to warn early of one that is wrong). */
#include "config/config_load_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/host_name.h"
#include "common/log.h"

/* ---- site, plugins, log, storage ------------------------------------------------------------ */

void load_site(struct loader *ld, const struct wg_cfg_node *site)
{
    static const char *const keys[] = {"id", "name", "district", "timezone", "night", NULL};
    struct wg_site *out = &ld->config->site;
    out->id = "";
    out->name = "";
    out->district = "";
    out->timezone = "Asia/Shanghai";
    out->night = (struct wg_window){21 * 60, 7 * 60};
    if (!expect_map(ld, site, "site"))
        return;
    cfg_only_keys_in(ld->diag, site, keys, "site");
    if (cfg_require_in(ld->diag, site, "id", "site"))
        read_id(ld, site, "id", true, &out->id);
    if (cfg_require_in(ld->diag, site, "name", "site"))
        read_text(ld, site, "name", false, &out->name);
    if (cfg_require_in(ld->diag, site, "district", "site"))
        read_id(ld, site, "district", true, &out->district);
    if (read_text(ld, site, "timezone", false, &out->timezone)) {
        /* Night windows, shifts and every time shown or sent are in this zone. */
        char why[512];
        if (!clock_timezone_known(out->timezone, why, sizeof why)) {
            const struct wg_cfg_node *at = cfg_get(site, "timezone");
            diag_at(ld->diag, at ? at : site, "timezone: %s%s", at ? "" : "(not given) ", why);
        }
    }
    read_window(ld, site, "night", NULL, &out->night);
}

void load_plugins_and_log(struct loader *ld, const struct wg_cfg_node *plugins,
                          const struct wg_cfg_node *log)
{
    static const char *const plugin_keys[] = {"dir", NULL};
    static const char *const log_keys[] = {"level", NULL};
    ld->config->plugin_dir = "";
    ld->config->log_level = "info";
    if (plugins && expect_map(ld, plugins, "plugins")) {
        cfg_only_keys_in(ld->diag, plugins, plugin_keys, "plugins");
        read_path(ld, plugins, "dir", &ld->config->plugin_dir);
    }
    if (log && expect_map(ld, log, "log")) {
        cfg_only_keys_in(ld->diag, log, log_keys, "log");
        const char *level = NULL;
        if (read_text(ld, log, "level", false, &level) && level) {
            if (wg_log_level_from_name(level) < 0)
                diag_at(ld->diag, cfg_get(log, "level"),
                        "level: expected one of: crit, error, warning, notice, info, debug, got "
                        "\"%s\"",
                        level);
            else
                ld->config->log_level = level;
        }
    }
}

void load_storage(struct loader *ld, const struct wg_cfg_node *storage)
{
    static const char *const keys[] = {
        "path", "max_mb", "readings_bucket_s", "readings_retention_days", "events_retention_days",
        NULL};
    struct wg_storage *out = &ld->config->storage;
    out->path = "";
    out->max_bytes = 256ll << 20;
    out->readings_bucket_s = 60;
    out->readings_retention_days = 90;
    out->events_retention_days = 365;
    if (!storage || !expect_map(ld, storage, "storage"))
        return;
    cfg_only_keys_in(ld->diag, storage, keys, "storage");
    read_path(ld, storage, "path", &out->path);
    long long max_mb = 256;
    if (cfg_read_int(ld->diag, storage, "max_mb", 8, 1024 * 1024, &max_mb))
        out->max_bytes = max_mb << 20;
    read_int(ld, storage, "readings_bucket_s", 1, 86400, &out->readings_bucket_s);
    read_int(ld, storage, "readings_retention_days", 1, 3650, &out->readings_retention_days);
    read_int(ld, storage, "events_retention_days", 1, 3650, &out->events_retention_days);
}

/* Whether the file at `path` holds PEM text with `begin` and `end` (NULL:
 * any) markers; else a warning at `key` saying what will not work. A
 * warning, not an error: the safety daemon must not stay down for a web
 * certificate, and the web server says again at its start what failed. */
static void check_pem_file(struct loader *ld, const struct wg_cfg_node *web, const char *key,
                           const char *path, const char *begin, const char *end, const char *what,
                           const char *consequence)
{
    const struct wg_cfg_node *at = cfg_get(web, key);
    FILE *file = fopen(path, "r");
    if (!file) {
        diag_at(&ld->config->warnings, at, "warning: %s: cannot read \"%s\": %s; %s", key, path,
                strerror(errno), consequence);
        return;
    }
    char text[16384];
    size_t len = fread(text, 1, sizeof text - 1, file);
    bool failed = ferror(file);
    fclose(file);
    text[len] = '\0';
    const char *first = failed ? NULL : strstr(text, begin);
    if (!first || (end && !strstr(first, end)))
        diag_at(&ld->config->warnings, at,
                "warning: %s: \"%s\" holds no %s in PEM form (a "
                "\"%s\" line); %s",
                key, path, what, begin, consequence);
    explicit_bzero(text, sizeof text); /* a private key may have been read */
}

/* tls_port, the TLS files, the CA offered to phones and the public host name. */
static void load_web_tls(struct loader *ld, const struct wg_cfg_node *web, struct wg_web *out)
{
    read_int(ld, web, "tls_port", 0, 65535, &out->tls_port);
    const struct wg_cfg_node *tls_port = cfg_get(web, "tls_port");
    if (out->tls_port && out->tls_port == out->port)
        diag_at(ld->diag, tls_port,
                "tls_port: %d is also port: plain HTTP and HTTPS need a port each", out->tls_port);
    else if (out->tls_port && !out->tls_cert[0])
        diag_at(ld->diag, tls_port,
                "tls_port: HTTPS on port %d needs tls_cert and tls_key (the server's certificate "
                "and key; tools/facility-ca.sh makes them)",
                out->tls_port);
    char consequence[160];
    if (out->tls_port)
        snprintf(consequence, sizeof consequence,
                 "HTTPS on port %d will not start; plain HTTP on port %d still serves",
                 out->tls_port, out->port);
    else
        snprintf(consequence, sizeof consequence,
                 "the web server cannot start on port %d (HTTPS) until it is fixed", out->port);
    if (out->tls_cert[0] && out->tls_key[0]) {
        check_pem_file(ld, web, "tls_cert", out->tls_cert, "-----BEGIN CERTIFICATE-----", NULL,
                       "certificate", consequence);
        check_pem_file(ld, web, "tls_key", out->tls_key, "-----BEGIN ", "PRIVATE KEY-----",
                       "private key", consequence);
    }
    read_path(ld, web, "tls_ca", &out->tls_ca);
    if (out->tls_ca[0])
        check_pem_file(ld, web, "tls_ca", out->tls_ca, "-----BEGIN CERTIFICATE-----", NULL,
                       "certificate",
                       "/ca.crt answers 404 and phones cannot install the facility's certificate");
    const char *host = NULL;
    size_t host_len = 0;
    int host_port = 0;
    if (read_text(ld, web, "public_host", false, &host) && host) {
        if (!host_name_parse(host, false, &host_len, &host_port))
            diag_at(ld->diag, cfg_get(web, "public_host"),
                    "public_host: expected the host name or address phones reach the gateway by "
                    "(e.g. gateway.home.lan, 192.168.1.10 or [fd00::10]; no port, scheme or path, "
                    "at most %d characters), got \"%s\"",
                    WG_HOST_NAME_MAX, host);
        else
            out->public_host = host;
    }
}

void load_web(struct loader *ld, const struct wg_cfg_node *web)
{
    static const char *const keys[] = {"enabled",     "listen",   "port",     "root",
                                       "tls_cert",    "tls_key",  "tls_port", "tls_ca",
                                       "public_host", "language", NULL};
    struct wg_web *out = &ld->config->web;
    *out = (struct wg_web){.enabled = true,
                           .listen = "127.0.0.1",
                           .port = 8080,
                           .root = "",
                           .tls_cert = "",
                           .tls_key = "",
                           .tls_ca = "",
                           .public_host = "",
                           .language = "zh"};
    if (!web || !expect_map(ld, web, "web"))
        return;
    cfg_only_keys_in(ld->diag, web, keys, "web");
    cfg_read_bool(ld->diag, web, "enabled", &out->enabled);
    read_text(ld, web, "listen", false, &out->listen);
    read_int(ld, web, "port", 1, 65535, &out->port);
    read_path(ld, web, "root", &out->root);
    read_path(ld, web, "tls_cert", &out->tls_cert);
    read_path(ld, web, "tls_key", &out->tls_key);
    check_pair(ld, web, "tls_cert", "tls_key");
    load_web_tls(ld, web, out);
    const char *language = NULL;
    if (read_text(ld, web, "language", false, &language) && language) {
        if (strcmp(language, "zh") != 0 && strcmp(language, "en") != 0)
            diag_at(ld->diag, cfg_get(web, "language"), "language: expected zh or en, got \"%s\"",
                    language);
        else
            out->language = language;
    }
}
