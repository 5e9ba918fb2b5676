/* The site, plugins, log, storage and web sections of the site file. */
#include "config/config_load_internal.h"

#include <string.h>

#include "common/clock.h"
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

void load_web(struct loader *ld, const struct wg_cfg_node *web)
{
    static const char *const keys[] = {"enabled",  "listen",  "port",     "root",
                                       "tls_cert", "tls_key", "language", NULL};
    struct wg_web *out = &ld->config->web;
    *out = (struct wg_web){.enabled = true,
                           .listen = "127.0.0.1",
                           .port = 8080,
                           .root = "",
                           .tls_cert = "",
                           .tls_key = "",
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
    const char *language = NULL;
    if (read_text(ld, web, "language", false, &language) && language) {
        if (strcmp(language, "zh") != 0 && strcmp(language, "en") != 0)
            diag_at(ld->diag, cfg_get(web, "language"), "language: expected zh or en, got \"%s\"",
                    language);
        else
            out->language = language;
    }
}
