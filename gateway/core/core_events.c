/* What the core journals: device and system events and the alarm engine's
 * changes handed to the store writer (journal.h), and the log line each
 * committed event gets (alarms in words a nurse reads; never telemetry,
 * which is not an event). */
#include "core/core_private.h"

/* What is dropped first when the memory for unjournaled events runs out. */
static enum wg_write_class class_of(const char *kind)
{
    if (strcmp(kind, "alarm") == 0)
        return WG_CLASS_ALARM;
    if (strcmp(kind, "telemetry") == 0)
        return WG_CLASS_TELEMETRY;
    if (strcmp(kind, "point") == 0)
        return WG_CLASS_POINT;
    if (strcmp(kind, "write_result") == 0)
        return WG_CLASS_WRITE_RESULT;
    return WG_CLASS_HEALTH;
}

/* Queues an event about a device (or the system, with WG_NO_INDEX) for the
 * journal. Takes `body`. */
int core_emit(struct wg_core *core, const char *kind, int priority, size_t device_index,
              json_t *body, enum wg_uplink_class uplink, int64_t ts_ms)
{
    const struct wg_config *config = core->config;
    struct wg_event proto = {.ts_ms = ts_ms, .kind = kind, .priority = priority, .uplink = uplink};
    if (device_index != WG_NO_INDEX) {
        const struct wg_device *device = &config->devices[device_index];
        proto.device = device->id;
        if (device->room != WG_NO_INDEX) {
            proto.room = config->rooms[device->room].id;
            proto.zone = config->zones[config->rooms[device->room].zone].id;
        }
        if (device->bed != WG_NO_INDEX) {
            proto.bed = config->beds[device->bed].id;
            size_t r = config_resident_of_bed(config, device->bed);
            if (r != WG_NO_INDEX)
                proto.resident = config->residents[r].id;
        }
    }
    return journal_event(core->journal, &proto, body, class_of(kind), NULL);
}

static const char *empty_to_null(const char *text)
{
    return text && text[0] ? text : NULL;
}

/* The engine's sink: every alarm change becomes an "alarm" event for the
 * journal and the uplink, with the alarm's row, in the same transaction. */
void core_alarm_changed(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct wg_core *core = ctx;
    json_t *body = alarm_to_json(alarm);
    if (!body) {
        wg_crit("out of memory journaling alarm %s (%s)", alarm->id, phase);
        return;
    }
    json_object_set_new(body, "phase", json_string(phase));
    struct wg_event proto = {.ts_ms = clock_wall_ms(core->clock),
                             .kind = "alarm",
                             .priority = alarm->priority,
                             .alarm_id = alarm->id,
                             .device = empty_to_null(alarm->device),
                             .zone = empty_to_null(alarm->zone),
                             .room = empty_to_null(alarm->room),
                             .bed = empty_to_null(alarm->bed),
                             .resident = empty_to_null(alarm->resident),
                             .uplink = WG_UPLINK_ALARM};
    struct wg_journal_alarm_row row = {.op = alarm->state == WG_ALARM_RESET ? WG_ALARM_ROW_DELETE
                                                                            : WG_ALARM_ROW_PUT,
                                       .update = alarm->update,
                                       .state = alarm_state_name(alarm->state),
                                       .kind = alarm->kind};
    journal_event(core->journal, &proto, body, WG_CLASS_ALARM, &row);
}

/* Alarm events get one readable line: what a nurse would want to read. */
static void log_alarm_event(const struct wg_event *event)
{
    json_t *body = json_loads(event->body, 0, NULL);
    const char *phase = json_string_value(json_object_get(body, "phase"));
    const char *kind = json_string_value(json_object_get(body, "kind"));
    const char *detail = json_string_value(json_object_get(body, "detail"));
    const char *bed = json_string_value(json_object_get(body, "bed"));
    wg_log(event->priority >= WG_PRIO_URGENT ? WG_LOG_WARNING : WG_LOG_NOTICE,
           "event #%lld ALARM %-12s %-9s %-16s room %s%s%s%s%s (%s) %s", (long long)event->seq,
           phase ? phase : "?", priority_name((enum wg_priority)event->priority), kind ? kind : "?",
           event->room ? event->room : "-", bed && bed[0] ? " bed " : "", bed ? bed : "",
           event->resident ? " resident " : "", event->resident ? event->resident : "",
           event->device ? event->device : "-", detail ? detail : "");
    json_decref(body);
}

void core_log_event(const struct wg_event *event, void *ctx)
{
    (void)ctx;
    if (strcmp(event->kind, "alarm") == 0) {
        log_alarm_event(event);
        return;
    }
    enum wg_log_level level = WG_LOG_INFO;
    if (strcmp(event->kind, "device_health") == 0 || strcmp(event->kind, "write_result") == 0)
        level = WG_LOG_NOTICE;
    wg_log(level, "event #%lld %s %s%s%s%s%s %s", (long long)event->seq, event->kind,
           event->device ? event->device : "-", event->room ? " room " : "",
           event->room ? event->room : "", event->resident ? " resident " : "",
           event->resident ? event->resident : "", event->body);
}

/* Hands what was queued to the store writer (never waits for the disk) and
 * shows the alarm events that have waited too long for their commit. The
 * listeners hear of the events once they are committed (journal_process). */
int core_flush(struct wg_core *core)
{
    journal_flush(core->journal);
    return 0;
}
