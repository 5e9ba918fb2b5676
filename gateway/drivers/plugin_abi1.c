/* The compatibility layer for drivers built against plugin ABI 1: their host
 * table, each member forwarding to the bus's ABI 2 table. Health texts get a
 * reason code guessed from their words (health_reason.h). */
#include "drivers/plugin_abi1.h"

#include <stdarg.h>
#include <stdio.h>

#include "drivers/health_reason.h"

static const struct wg_host *host_of(const struct wg_host_v1 *table)
{
    return ((const struct wg_host_abi1 *)table)->host; /* table is the first member */
}

static int64_t v1_now_ms(const struct wg_host_v1 *table)
{
    const struct wg_host *host = host_of(table);
    return host->now_ms(host);
}

static void v1_log(const struct wg_host_v1 *table, int level, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const struct wg_host *host = host_of(table);
    host->log(host, level, "%s", text);
}

static void v1_post_reading(const struct wg_host_v1 *table, uint32_t device, uint32_t point,
                            double value, int64_t ts_ms)
{
    const struct wg_host *host = host_of(table);
    host->post_reading(host, device, point, value, ts_ms);
}

static void v1_post_health(const struct wg_host_v1 *table, uint32_t device, enum wg_health health,
                           const char *reason)
{
    const struct wg_host *host = host_of(table);
    host->post_health(host, device, health, health_reason_guess(health, reason), reason);
}

static void v1_post_write_result(const struct wg_host_v1 *table, uint64_t request_id, bool ok,
                                 const char *reason)
{
    const struct wg_host *host = host_of(table);
    host->post_write_result(host, request_id, ok, reason);
}

static void v1_post_counter(const struct wg_host_v1 *table, uint32_t device, const char *counter,
                            uint64_t increment)
{
    const struct wg_host *host = host_of(table);
    host->post_counter(host, device, counter, increment);
}

static bool v1_cfg_int(const struct wg_host_v1 *table, const wg_cfg_node *map, const char *key,
                       long long min, long long max, long long *out)
{
    const struct wg_host *host = host_of(table);
    return host->cfg_int(host, map, key, min, max, out);
}

static bool v1_cfg_double(const struct wg_host_v1 *table, const wg_cfg_node *map, const char *key,
                          double *out)
{
    const struct wg_host *host = host_of(table);
    return host->cfg_double(host, map, key, out);
}

static bool v1_cfg_bool(const struct wg_host_v1 *table, const wg_cfg_node *map, const char *key,
                        bool *out)
{
    const struct wg_host *host = host_of(table);
    return host->cfg_bool(host, map, key, out);
}

static bool v1_cfg_string(const struct wg_host_v1 *table, const wg_cfg_node *map, const char *key,
                          const char **out)
{
    const struct wg_host *host = host_of(table);
    return host->cfg_string(host, map, key, out);
}

static bool v1_cfg_only_keys(const struct wg_host_v1 *table, const wg_cfg_node *map,
                             const char *const *allowed)
{
    const struct wg_host *host = host_of(table);
    return host->cfg_only_keys(host, map, allowed);
}

static void v1_cfg_error(const struct wg_host_v1 *table, const wg_cfg_node *node, const char *fmt,
                         ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const struct wg_host *host = host_of(table);
    host->cfg_error(host, node, "%s", text);
}

void abi1_host_init(struct wg_host_abi1 *shim, const struct wg_host *host)
{
    shim->host = host;
    shim->table = (struct wg_host_v1){
        .struct_size = sizeof(struct wg_host_v1),
        .core = NULL,
        .now_ms = v1_now_ms,
        .log = v1_log,
        .post_reading = v1_post_reading,
        .post_health = v1_post_health,
        .post_write_result = v1_post_write_result,
        .post_counter = v1_post_counter,
        .cfg_get = host->cfg_get,
        .cfg_scalar = host->cfg_scalar,
        .cfg_seq_len = host->cfg_seq_len,
        .cfg_seq_at = host->cfg_seq_at,
        .cfg_int = v1_cfg_int,
        .cfg_double = v1_cfg_double,
        .cfg_bool = v1_cfg_bool,
        .cfg_string = v1_cfg_string,
        .cfg_only_keys = v1_cfg_only_keys,
        .cfg_error = v1_cfg_error,
    };
}
