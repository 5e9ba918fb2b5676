/* Outputs: every write to a lamp, buzzer or valve goes through
 * write_output (the safety interlocks live there: a gas valve is never
 * re-opened remotely), is remembered until its result comes back, and is
 * carried over a reload; acknowledgements and remote-reset refusals for
 * the displays. */
#include "core/core_private.h"

static struct outstanding_write *outstanding_at(struct wg_core *core, size_t i)
{
    return &core->outstanding[(core->outstanding_head + i) % core->outstanding_capacity];
}

/* Forgets answered writes at the front, and those unanswered for too long. */
static void outstanding_trim(struct wg_core *core)
{
    int64_t now = clock_mono_ms(core->clock);
    while (core->outstanding_count > 0) {
        struct outstanding_write *first = outstanding_at(core, 0);
        if (!first->answered && now - first->sent_mono_ms < WRITE_UNANSWERED_MS)
            break;
        if (!first->answered) {
            const struct wg_device *device = &core->config->devices[first->device];
            wg_warn("write request %llu (%s.%s = %g) unanswered for %d s; no longer awaited",
                    (unsigned long long)first->request_id, device->id,
                    core->config->profiles[device->profile].points[first->point].name, first->value,
                    WRITE_UNANSWERED_MS / 1000);
        }
        core->outstanding_head = (core->outstanding_head + 1) % core->outstanding_capacity;
        core->outstanding_count--;
    }
}

static struct outstanding_write *outstanding_add(struct wg_core *core, uint64_t request_id,
                                                 size_t device, size_t point, double value)
{
    outstanding_trim(core);
    if (core->outstanding_count == core->outstanding_capacity) {
        size_t capacity = core->outstanding_capacity ? core->outstanding_capacity * 2 : 256;
        struct outstanding_write *grown = malloc(capacity * sizeof *grown);
        if (!grown)
            return NULL;
        for (size_t i = 0; i < core->outstanding_count; i++)
            grown[i] = *outstanding_at(core, i);
        free(core->outstanding);
        core->outstanding = grown;
        core->outstanding_capacity = capacity;
        core->outstanding_head = 0;
    }
    struct outstanding_write *slot = outstanding_at(core, core->outstanding_count++);
    *slot = (struct outstanding_write){request_id,      false, (uint32_t)device,
                                       (uint32_t)point, value, clock_mono_ms(core->clock)};
    return slot;
}

/* The write with this request id, by binary search (ids grow), or NULL. */
static struct outstanding_write *outstanding_find(struct wg_core *core, uint64_t request_id)
{
    size_t low = 0, high = core->outstanding_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        struct outstanding_write *write = outstanding_at(core, mid);
        if (write->request_id == request_id)
            return write->answered ? NULL : write;
        if (write->request_id < request_id)
            low = mid + 1;
        else
            high = mid;
    }
    return NULL;
}

void core_handle_write_result(struct wg_core *core, const struct wg_msg *msg)
{
    struct outstanding_write *write = outstanding_find(core, msg->request_id);
    if (!write) {
        wg_warn("write result for unknown request %llu (%s)", (unsigned long long)msg->request_id,
                msg->ok ? "ok" : msg->text);
        return;
    }
    const struct wg_device *device = &core->config->devices[write->device];
    const struct wg_point_def *point =
        &core->config->profiles[device->profile].points[write->point];
    json_t *body =
        json_pack("{s:I, s:s, s:f, s:b, s:s}", "request", (json_int_t)msg->request_id, "point",
                  point->name, "value", write->value, "ok", msg->ok, "reason", msg->text);
    if (body && !msg->ok) /* a write failure's reason as a code too ("write: timeout") */
        json_object_set_new(body, "reason_code", json_string(health_reason_code(msg->text)));
    if (body)
        core_emit(core, "write_result", -1, write->device, body,
                  msg->ok ? WG_UPLINK_NONE : WG_UPLINK_HEALTH, msg->ts_ms);
    if (!msg->ok)
        wg_err("write %s.%s = %g failed: %s", device->id, point->name, write->value, msg->text);
    write->answered = true;
    engine_on_write_result(core->engine, write->device, write->point, msg->ok, msg->text,
                           msg->ts_ms);
    outstanding_trim(core);
}

/* A point's index in a device's profile by name, or WG_NO_INDEX. */
static size_t point_named(const struct wg_config *config, size_t device, const char *name)
{
    const struct wg_profile *profile = &config->profiles[config->devices[device].profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].name, name) == 0)
            return p;
    return WG_NO_INDEX;
}

/* Writes still waiting for their result follow their device and point to the
 * next configuration (their buses may keep running through the reload). */
void core_carry_outstanding(struct wg_core *core, const struct wg_config *next)
{
    const struct wg_config *config = core->config;
    for (size_t i = 0; i < core->outstanding_count; i++) {
        struct outstanding_write *write = outstanding_at(core, i);
        if (write->answered)
            continue;
        const struct wg_device *device = &config->devices[write->device];
        size_t d = config_find_device(next, device->id);
        size_t p =
            d == WG_NO_INDEX
                ? WG_NO_INDEX
                : point_named(next, d, config->profiles[device->profile].points[write->point].name);
        if (p == WG_NO_INDEX) {
            write->answered = true; /* its device or point is gone: no longer awaited */
            continue;
        }
        write->device = (uint32_t)d;
        write->point = (uint32_t)p;
    }
}

/* Drives an output by index: the one path every write takes, so the safety
 * interlocks live here. Returns the request id, or 0 when refused. */
static uint64_t write_output(struct wg_core *core, size_t device, size_t point, double value)
{
    const struct wg_device *dev = &core->config->devices[device];
    const struct wg_point_def *def = &core->config->profiles[dev->profile].points[point];
    if (strcmp(def->meaning, "valve_command") == 0 && value == 0) {
        /* GB 50028: a closed gas valve is re-opened by hand, on site; never from here. */
        wg_warn("write %s.%s = 0 refused: the gas valve is never re-opened remotely", dev->id,
                def->name);
        return 0;
    }
    uint64_t request_id = core->next_request_id++;
    struct outstanding_write *slot = outstanding_add(core, request_id, device, point, value);
    if (!slot) {
        wg_err("write %s.%s = %g: out of memory; not sent", dev->id, def->name, value);
        return 0;
    }
    if (plugin_host_write(core->host, device, point, value, request_id) != 0) {
        core->outstanding_count--; /* it was the last one added */
        wg_err("write %s.%s = %g refused by its driver", dev->id, def->name, value);
        return 0;
    }
    return request_id;
}

uint64_t core_engine_write_output(void *ctx, size_t device, size_t point, double value)
{
    struct wg_core *core = ctx;
    if (!core->host)
        return 0; /* drivers not loaded yet (restoring alarms at start) */
    return write_output(core, device, point, value);
}

uint64_t core_write_output(struct wg_core *core, const char *device_id, const char *point_name,
                           double value)
{
    size_t device = config_find_device(core->config, device_id);
    if (device == WG_NO_INDEX)
        return 0;
    const struct wg_profile *profile =
        &core->config->profiles[core->config->devices[device].profile];
    for (size_t p = 0; p < profile->point_count; p++)
        if (strcmp(profile->points[p].name, point_name) == 0)
            return write_output(core, device, p, value);
    return 0;
}

int core_acknowledge(struct wg_core *core, const char *alarm_id, const char *who, const char *where,
                     char *why, size_t why_len)
{
    int rc = engine_acknowledge(core->engine, alarm_id, who, where, clock_wall_ms(core->clock), why,
                                why_len);
    core_flush(core);
    return rc;
}

int core_reset_remote(struct wg_core *core, const char *alarm_id, const char *who,
                      const char *where, char *why, size_t why_len)
{
    return engine_reset_remote(core->engine, alarm_id, who, where, why, why_len);
}
