/* The bridge's side facing the core, the store and the alarm engine: what
 * the API (gateway/web/api*.c) may ask of them, declared in web_bridge.h.
 * With web_bridge.c, the only file of gateway/web/ that includes their
 * headers. Everything here runs on the core thread, except
 * bridge_response_report_json (a query worker). */
#include "web/web_bridge.h"

#include <stdio.h>
#include <string.h>

#include "alarm/alarm.h"
#include "alarm/engine.h"
#include "alarm/monthly.h"
#include "alarm/response.h"
#include "core/core.h"
#include "store/store.h"
#include "store/store_writer.h"

_Static_assert(WG_TEST_MODE_MIN_MINUTES * 60 == WG_TEST_MIN_S &&
                   WG_TEST_MODE_MAX_MINUTES * 60 == WG_TEST_MAX_S,
               "the API's test-mode minutes are the engine's bounds");
_Static_assert(WG_CLASS_COUNT <= WG_WEB_WRITE_CLASSES, "wg_web_core_stats.dropped is too small");

const struct wg_config *bridge_core_config(struct wg_core *core)
{
    return core_config(core);
}

int64_t bridge_core_now_ms(struct wg_core *core)
{
    return clock_wall_ms(core_clock(core));
}

const char *bridge_core_timezone(struct wg_core *core)
{
    return core_timezone(core);
}

int64_t bridge_core_last_seq(struct wg_core *core)
{
    return store_last_event_seq(core_store(core));
}

int bridge_core_attach(struct wg_core *core, const struct wg_core_attachment *attachment)
{
    return core_attach(core, attachment);
}

int bridge_core_acknowledge(struct wg_core *core, const char *alarm_id, const char *who,
                            const char *where, char *why, size_t why_len)
{
    return core_acknowledge(core, alarm_id, who, where, why, why_len);
}

int bridge_core_reset_remote(struct wg_core *core, const char *alarm_id, const char *who,
                             const char *where, char *why, size_t why_len)
{
    return core_reset_remote(core, alarm_id, who, where, why, why_len);
}

json_t *bridge_core_alarm_json(struct wg_core *core, const char *alarm_id)
{
    const struct wg_alarm *alarm = core_find_alarm(core, alarm_id);
    return alarm ? alarm_to_json(alarm) : NULL;
}

void bridge_core_audit(struct wg_core *core, const char *actor, const char *origin,
                       const char *action, const char *target, const char *detail_json)
{
    /* Through the store writer, like every write (refusals are logged there). */
    core_audit(core, actor, origin, action, target, detail_json);
}

/* ---- rounds ---- */

json_t *bridge_core_rounds_json(struct wg_core *core)
{
    const struct wg_config *config = core_config(core);
    json_t *list = json_array();
    for (size_t r = 0; list && r < config->round_count; r++) {
        const struct wg_round *round = &config->rounds[r];
        char window[48];
        snprintf(window, sizeof window, "%02d:%02d-%02d:%02d", round->window.start_min / 60,
                 round->window.start_min % 60, round->window.end_min / 60,
                 round->window.end_min % 60);
        json_t *item = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "id", round->id, "zone",
                                 config->zones[round->zone].id, "zone_name",
                                 config->zones[round->zone].name, "window", window, "every_min",
                                 round->every_min, "grace_min", round->grace_min);
        struct wg_round_slot slot;
        json_t *slot_json = json_null();
        if (item && core_round_slot(core, r, &slot)) {
            json_t *rooms = json_array();
            for (size_t i = 0; rooms && i < slot.room_count; i++) {
                const struct wg_room *room = &config->rooms[slot.rooms[i].room];
                json_array_append_new(rooms, json_pack("{s:s, s:s, s:o, s:s}", "room", room->id,
                                                       "room_name", room->name, "checked_ms",
                                                       slot.rooms[i].checked_ms
                                                           ? json_integer(slot.rooms[i].checked_ms)
                                                           : json_null(),
                                                       "by", slot.rooms[i].by));
            }
            slot_json =
                json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:o*}", "start_ms",
                          (json_int_t)slot.start_ms, "end_ms", (json_int_t)slot.end_ms, "due_ms",
                          (json_int_t)slot.due_ms, "planned", (int)slot.room_count, "done",
                          (int)slot.done, "late", (int)slot.late, "rooms", rooms);
        }
        if (item)
            json_object_set_new(item, "slot", slot_json ? slot_json : json_null());
        json_array_append_new(list, item);
    }
    return list;
}

int bridge_core_round_checkin(struct wg_core *core, const char *room_id, const char *code,
                              const char *who, char *why, size_t why_len)
{
    return core_round_checkin(core, room_id, code, who, why, why_len);
}

bool bridge_core_round_code(struct wg_core *core, const char *room_id, char code[23])
{
    const struct wg_config *config = core_config(core);
    size_t room = config_find_room(config, room_id);
    for (size_t r = 0; room != WG_NO_INDEX && r < config->round_count; r++)
        if (config_resident_room_in(config, room, config->rounds[r].zone)) {
            core_round_code(core, room_id, code);
            return true;
        }
    return false;
}

json_t *bridge_core_round_rooms_json(struct wg_core *core)
{
    const struct wg_config *config = core_config(core);
    json_t *list = json_array();
    for (size_t room = 0; list && room < config->room_count; room++) {
        char code[23];
        if (!bridge_core_round_code(core, config->rooms[room].id, code))
            continue;
        const struct wg_zone *zone = &config->zones[config->rooms[room].zone];
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "room", config->rooms[room].id,
                                        "room_name", config->rooms[room].name, "zone", zone->id,
                                        "zone_name", zone->name, "code", code));
    }
    return list;
}

int bridge_core_record(struct wg_core *core, const char *kind, json_t *body, const char *actor,
                       const char *origin, int64_t *ts_ms)
{
    return core_record(core, kind, body, actor, origin, ts_ms);
}

const char *bridge_core_shift_now(struct wg_core *core)
{
    return response_shift_at(clock_wall_ms(core_clock(core)));
}

int bridge_core_test_mode_start(struct wg_core *core, const char *target, int duration_s,
                                const char *who, char *why, size_t why_len)
{
    return core_test_mode_start(core, target, duration_s, who, why, why_len);
}

int bridge_core_test_mode_end(struct wg_core *core, const char *target, const char *who, char *why,
                              size_t why_len)
{
    return core_test_mode_end(core, target, who, why, why_len);
}

json_t *bridge_core_test_modes_json(struct wg_core *core)
{
    const struct wg_test_window *windows;
    size_t count = core_test_windows(core, &windows);
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append_new(list, json_pack("{s:s, s:s, s:I, s:I, s:s, s:i}", "target",
                                              windows[i].target, "scope",
                                              windows[i].zone ? "zone" : "room", "started_ms",
                                              (json_int_t)windows[i].started_ms, "ends_ms",
                                              (json_int_t)windows[i].ends_ms, "started_by",
                                              windows[i].started_by, "tests", windows[i].tests));
    return list;
}

json_t *bridge_core_testable_devices_json(struct wg_core *core)
{
    const struct wg_config *config = core_config(core);
    json_t *list = json_array();
    for (size_t d = 0; list && d < config->device_count; d++) {
        const char *kind = core_device_test_kind(core, d);
        if (!kind)
            continue;
        const struct wg_device *device = &config->devices[d];
        const struct wg_room *room = &config->rooms[device->room];
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", device->id, "label",
                            device->label && device->label[0] ? device->label : device->id, "room",
                            room->id, "zone", config->zones[room->zone].id, "test_kind", kind));
    }
    return list;
}

int bridge_core_reload(struct wg_core *core, struct wg_diag *refusal)
{
    return core_reload_report(core, refusal);
}

void bridge_core_stats(struct wg_core *core, struct wg_web_core_stats *out)
{
    struct wg_core_stats stats;
    core_stats(core, &stats);
    const struct wg_writer_status *storage = &stats.storage;
    *out = (struct wg_web_core_stats){
        .events_committed = stats.events_committed,
        .events_pending = stats.events_pending,
        .storage_failing = stats.storage_failing,
        .queue_depth = stats.queue_depth,
        .queue_high_water = stats.queue_high_water,
        .loop_max_us = stats.loop_max_us,
        .loop_max_recent_us = stats.loop_max_recent_us,
        .outbox_rows = storage->usage.outbox.total_rows,
        .outbox_bytes = storage->usage.outbox.total_bytes,
        .db_bytes = storage->usage.file_bytes,
        .wal_bytes = storage->usage.wal_bytes,
        .bound_bytes = storage->usage.max_bytes,
        .held_bytes = storage->held_bytes,
        .longest_transaction_ms = storage->longest_transaction_ms,
    };
    snprintf(out->storage_reason, sizeof out->storage_reason, "%s", stats.storage_reason);
    for (int c = 0; c < WG_CLASS_COUNT; c++)
        if (c != WG_CLASS_KEEP) /* outbox deletes are never dropped */
            out->dropped[out->dropped_classes++] = (typeof(out->dropped[0])){
                writer_class_name((enum wg_write_class)c), storage->dropped[c]};
}

int64_t bridge_month_start_ms(int year, int month)
{
    return monthly_start_ms(year, month);
}

void bridge_previous_month(int64_t now_ms, int *year, int *month)
{
    monthly_previous(now_ms, year, month);
}

int bridge_monthly_report_json(struct wg_store_reader *reader, const char *month, int64_t from_ms,
                               int64_t to_ms, const json_t *testable, json_t **json, char *err,
                               size_t err_len)
{
    return monthly_compute(reader, month, from_ms, to_ms, testable, json, err, err_len);
}

int bridge_response_report_json(struct wg_store_reader *reader, int64_t from_ms, int64_t to_ms,
                                json_t **json, char *err, size_t err_len)
{
    struct wg_response_report report;
    *json = NULL;
    if (response_compute(reader, from_ms, to_ms, NULL, &report, err, err_len) != 0)
        return -1;
    *json = response_report_to_json(&report);
    response_report_free(&report);
    return 0;
}
