/* Plugin ABI version 1 (wardgate 0.1), frozen: the layouts a driver built
 * against the first plugin.h has. The host loads such drivers through a
 * compatibility layer (plugin_abi1.c); nothing else uses these. Never change
 * this file: old drivers out there were compiled against it.
 *
 * Differences from version 2: the host table starts with an opaque `core`
 * pointer, the post_* callbacks return nothing, post_health carries only a
 * text, stop() gets no reason, and there is no take_over. The bus views are
 * the same (struct wg_bus_view in plugin.h). */
#ifndef WG_PLUGIN_ABI1_H
#define WG_PLUGIN_ABI1_H

#include "drivers/plugin.h"

#define WG_PLUGIN_ABI1 1u

struct wg_host_v1 {
    uint32_t struct_size;
    void *core;
    int64_t (*now_ms)(const struct wg_host_v1 *host);
    void (*log)(const struct wg_host_v1 *host, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void (*post_reading)(const struct wg_host_v1 *host, uint32_t device, uint32_t point,
                         double value, int64_t ts_ms);
    void (*post_health)(const struct wg_host_v1 *host, uint32_t device, enum wg_health health,
                        const char *reason);
    void (*post_write_result)(const struct wg_host_v1 *host, uint64_t request_id, bool ok,
                              const char *reason);
    void (*post_counter)(const struct wg_host_v1 *host, uint32_t device, const char *counter,
                         uint64_t increment);
    const wg_cfg_node *(*cfg_get)(const wg_cfg_node *map, const char *key);
    const char *(*cfg_scalar)(const wg_cfg_node *node);
    size_t (*cfg_seq_len)(const wg_cfg_node *seq);
    const wg_cfg_node *(*cfg_seq_at)(const wg_cfg_node *seq, size_t index);
    bool (*cfg_int)(const struct wg_host_v1 *host, const wg_cfg_node *map, const char *key,
                    long long min, long long max, long long *out);
    bool (*cfg_double)(const struct wg_host_v1 *host, const wg_cfg_node *map, const char *key,
                       double *out);
    bool (*cfg_bool)(const struct wg_host_v1 *host, const wg_cfg_node *map, const char *key,
                     bool *out);
    bool (*cfg_string)(const struct wg_host_v1 *host, const wg_cfg_node *map, const char *key,
                       const char **out);
    bool (*cfg_only_keys)(const struct wg_host_v1 *host, const wg_cfg_node *map,
                          const char *const *allowed);
    void (*cfg_error)(const struct wg_host_v1 *host, const wg_cfg_node *node, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
};

struct wg_plugin_descriptor_v1 {
    uint32_t abi_version; /* 1 */
    uint32_t struct_size; /* sizeof(struct wg_plugin_descriptor_v1), exactly */
    const char *name;
    const char *version;
    int (*open)(const struct wg_host_v1 *host, const struct wg_bus_view *bus, void **instance);
    int (*start)(void *instance);
    int (*write)(void *instance, const struct wg_write_request *request);
    void (*stop)(void *instance);
    void (*close)(void *instance);
};

/* ---- host side (plugin_abi1.c) ---- */

/* The ABI 1 table of one bus, forwarding to that bus's ABI 2 table: a
 * version 1 callback's host pointer converts back to this (table first). */
struct wg_host_abi1 {
    struct wg_host_v1 table;
    const struct wg_host *host;
};
void abi1_host_init(struct wg_host_abi1 *shim, const struct wg_host *host);

#endif
