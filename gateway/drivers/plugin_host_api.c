/* The host table a driver instance gets (struct wg_host): the post_*
 * callbacks that queue what drivers learn for the core, the log, and typed
 * access to the driver's own config sections; see plugin.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "common/log.h"
#include "drivers/health_reason.h"
#include "drivers/plugin_host_private.h"

/* ---- host callbacks (driver threads) ---- */

static int64_t host_now_ms(const struct wg_host *api)
{
    return clock_wall_ms(slot_of(api)->owner->clock);
}

static void host_log(const struct wg_host *api, int level, const char *fmt, ...)
{
    const struct bus_slot *slot = slot_of(api);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    wg_log((enum wg_log_level)level, "bus %s: %s", bus_id(slot), text);
}

static bool local_device_ok(const struct bus_slot *slot, uint32_t device, const char *what)
{
    if (device < slot->view->view.device_count)
        return true;
    wg_err("bus %s: driver %s posted %s for device #%u, but the bus has %zu devices (driver bug)",
           bus_id(slot), slot->driver->name, what, device, slot->view->view.device_count);
    return false;
}

/* Queues a message of this bus: waits for room only on a driver thread and
 * only while the bus is not being stopped. */
static enum wg_post_status post(struct bus_slot *slot, struct wg_msg *msg)
{
    if (!atomic_load(&slot->accepting))
        return WG_POST_CLOSED;
    msg->origin = slot;
    atomic_fetch_add(&slot->queued, 1);
    bool may_wait = !pthread_equal(pthread_self(), slot->owner->core_thread);
    enum wg_push_result result = queue_push_ex(slot->owner->queue, msg, may_wait, &slot->stopping);
    if (result == WG_PUSH_OK)
        return WG_POST_QUEUED;
    atomic_fetch_sub(&slot->queued, 1);
    if (result == WG_PUSH_FULL) {
        wg_warn("bus %s: the core's queue is full; a message posted on the core thread is not "
                "queued",
                bus_id(slot));
        return WG_POST_FULL;
    }
    return WG_POST_CLOSED;
}

static enum wg_post_status host_post_reading(const struct wg_host *api, uint32_t device,
                                             uint32_t point, double value, int64_t ts_ms)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a reading"))
        return WG_POST_INVALID;
    const struct wg_device_view *view = &slot->view->devices[device];
    if (point >= view->point_count) {
        wg_err("bus %s: driver posted point #%u of device %s, which has %zu points (driver bug)",
               bus_id(slot), point, view->id, view->point_count);
        return WG_POST_INVALID;
    }
    struct wg_msg msg = {
        .type = WG_MSG_READING, .device = device, .point = point, .value = value, .ts_ms = ts_ms};
    return post(slot, &msg);
}

static enum wg_post_status host_post_health(const struct wg_host *api, uint32_t device,
                                            enum wg_health health, enum wg_health_reason code,
                                            const char *reason)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "health"))
        return WG_POST_INVALID;
    if ((unsigned)code >= WG_REASON_COUNT)
        code = WG_REASON_OTHER;
    /* "Other" with a text: the text may be one the core's table knows (a
     * simulator or a relay passing a device's own words on). */
    if (code == WG_REASON_OTHER && reason && *reason)
        code = health_reason_from_name(health_reason_code(reason));
    struct wg_msg msg = {.type = WG_MSG_HEALTH,
                         .device = device,
                         .value = (double)health,
                         .code = (int)code,
                         .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", reason ? reason : "");
    return post(slot, &msg);
}

static enum wg_post_status host_post_write_result(const struct wg_host *api, uint64_t request_id,
                                                  bool ok, const char *reason)
{
    struct wg_msg msg = {
        .type = WG_MSG_WRITE_RESULT, .request_id = request_id, .ok = ok, .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", reason ? reason : "");
    return post(slot_of(api), &msg);
}

static enum wg_post_status host_post_counter(const struct wg_host *api, uint32_t device,
                                             const char *counter, uint64_t increment)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a counter"))
        return WG_POST_INVALID;
    struct wg_msg msg = {.type = WG_MSG_COUNTER,
                         .device = device,
                         .value = (double)increment,
                         .ts_ms = host_now_ms(api)};
    snprintf(msg.text, sizeof msg.text, "%s", counter ? counter : "errors");
    return post(slot, &msg);
}

static enum wg_post_status host_post_poll_done(const struct wg_host *api, uint32_t device,
                                               int64_t ts_ms)
{
    struct bus_slot *slot = slot_of(api);
    if (!local_device_ok(slot, device, "a poll boundary"))
        return WG_POST_INVALID;
    struct wg_msg msg = {.type = WG_MSG_POLL_DONE, .device = device, .ts_ms = ts_ms};
    return post(slot, &msg);
}

/* ---- config access for drivers (core thread, during open) ---- */

static const wg_cfg_node *host_cfg_get(const wg_cfg_node *map, const char *key)
{
    return cfg_get(map, key);
}

static const char *host_cfg_scalar(const wg_cfg_node *node)
{
    return cfg_scalar(node);
}

static size_t host_cfg_seq_len(const wg_cfg_node *seq)
{
    return cfg_seq_len(seq);
}

static const wg_cfg_node *host_cfg_seq_at(const wg_cfg_node *seq, size_t index)
{
    return cfg_seq_at(seq, index);
}

static bool host_cfg_int(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                         long long min, long long max, long long *out)
{
    return cfg_read_int(slot_of(api)->diag, map, key, min, max, out);
}

static bool host_cfg_double(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                            double *out)
{
    return cfg_read_double(slot_of(api)->diag, map, key, out);
}

static bool host_cfg_bool(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                          bool *out)
{
    return cfg_read_bool(slot_of(api)->diag, map, key, out);
}

static bool host_cfg_string(const struct wg_host *api, const wg_cfg_node *map, const char *key,
                            const char **out)
{
    return cfg_read_string(slot_of(api)->diag, map, key, out);
}

static bool host_cfg_only_keys(const struct wg_host *api, const wg_cfg_node *map,
                               const char *const *allowed)
{
    return cfg_only_keys(slot_of(api)->diag, map, allowed);
}

static void host_cfg_error(const struct wg_host *api, const wg_cfg_node *node, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct wg_diag *diag = slot_of(api)->diag;
    if (diag)
        diag_at(diag, node, "%s", text);
    else
        wg_err("bus %s: %s", bus_id(slot_of(api)), text);
}

const struct wg_host plugin_host_api_template = {
    .struct_size = sizeof(struct wg_host),
    .abi_version = WG_PLUGIN_ABI_VERSION,
    .now_ms = host_now_ms,
    .log = host_log,
    .post_reading = host_post_reading,
    .post_health = host_post_health,
    .post_write_result = host_post_write_result,
    .post_counter = host_post_counter,
    .post_poll_done = host_post_poll_done,
    .cfg_get = host_cfg_get,
    .cfg_scalar = host_cfg_scalar,
    .cfg_seq_len = host_cfg_seq_len,
    .cfg_seq_at = host_cfg_seq_at,
    .cfg_int = host_cfg_int,
    .cfg_double = host_cfg_double,
    .cfg_bool = host_cfg_bool,
    .cfg_string = host_cfg_string,
    .cfg_only_keys = host_cfg_only_keys,
    .cfg_error = host_cfg_error,
};
