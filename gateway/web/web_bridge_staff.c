/* The bridge's side of paging carers' phones (web_bridge.h): the phones'
 * answers, their connections and claims handed to the core, and the staff
 * view as JSON: the shift now and next, each person's duty, phone and
 * cover (now and next shift), and the zones nobody covers. Core thread. */
#include "web/web_bridge.h"

#include <stdio.h>
#include <string.h>

#include "alarm/engine.h"
#include "core/core.h"

int bridge_core_page_answer(struct wg_core *core, const char *alarm_id, const char *user,
                            const char *action, const char *reason, char *why, size_t why_len)
{
    return core_page_answer(core, alarm_id, user, action, reason, why, why_len);
}

void bridge_core_phones(struct wg_core *core, const char *user, int phones)
{
    core_phones(core, user, phones);
}

int bridge_core_claim_rooms(struct wg_core *core, const char *user, const char *const *room_ids,
                            size_t room_count, const char *origin, char *why, size_t why_len)
{
    return core_claim_rooms(core, user, room_ids, room_count, origin, why, why_len);
}

static json_t *shift_json(const struct wg_staffing *staff, int shift, int64_t start_ms)
{
    if (shift < 0)
        return json_null();
    const struct wg_shift_def *def = &staff->shifts[shift];
    char start[24], end[24];
    snprintf(start, sizeof start, "%02d:%02d", def->window.start_min / 60,
             def->window.start_min % 60);
    snprintf(end, sizeof end, "%02d:%02d", def->window.end_min / 60, def->window.end_min % 60);
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", def->id, "name", def->name, "start", start,
                     "end", end, "start_ms", (json_int_t)start_ms);
}

/* The zones and rooms `member` covers in `shift` by the config. */
static void cover_json(const struct wg_config *config, size_t member, int shift, json_t *zones,
                       json_t *rooms)
{
    const struct wg_staffing *staff = &config->staff;
    for (size_t c = 0; shift >= 0 && c < staff->cover_count; c++) {
        const struct wg_cover *cover = &staff->covers[c];
        if (cover->member != member || cover->shift != (size_t)shift)
            continue;
        for (size_t i = 0; i < cover->zone_count; i++)
            json_array_append_new(zones, json_string(config->zones[cover->zones[i]].id));
        for (size_t i = 0; i < cover->room_count; i++)
            json_array_append_new(rooms, json_string(config->rooms[cover->rooms[i]].id));
    }
}

json_t *bridge_core_staff_json(struct wg_core *core)
{
    const struct wg_config *config = core_config(core);
    const struct wg_staffing *staff = &config->staff;
    if (!staff->enabled)
        return NULL;
    const struct wg_engine *engine = core_engine_view(core);
    int64_t now = clock_wall_ms(core_clock(core)), start = 0, next_start = 0;
    int shift = engine_shift_now(engine, now, &start);
    int next = engine_shift_next(engine, now, &next_start);
    json_t *people = json_array(), *uncovered = json_array();
    for (size_t m = 0; people && m < staff->people_count; m++) {
        const struct wg_staff_member *person = &staff->people[m];
        struct wg_duty duty;
        engine_duty(engine, m, now, &duty);
        json_t *zones = json_array(), *rooms = json_array(), *claimed = json_array();
        json_t *next_zones = json_array(), *next_rooms = json_array();
        if (!zones || !rooms || !claimed || !next_zones || !next_rooms) {
            json_decref(zones);
            json_decref(rooms);
            json_decref(claimed);
            json_decref(next_zones);
            json_decref(next_rooms);
            continue;
        }
        cover_json(config, m, shift, zones, rooms);
        cover_json(config, m, next, next_zones, next_rooms);
        for (size_t i = 0; i < duty.claim_count; i++)
            json_array_append_new(claimed, json_string(config->rooms[duty.claims[i]].id));
        json_array_append_new(
            people, json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:o, s:o, s:o}", "user",
                              person->user, "name", person->name, "care_role",
                              care_role_name(person->care_role), "on_duty", duty.on_duty,
                              "phone_online", duty.phones > 0, "phone_alarm", duty.phone_alarm,
                              "zones", zones, "rooms", rooms, "claimed", claimed, "next_zones",
                              next_zones, "next_rooms", next_rooms));
    }
    size_t zones[256];
    size_t count = engine_uncovered_zones(engine, now, zones, sizeof zones / sizeof zones[0]);
    for (size_t i = 0; uncovered && i < count; i++)
        json_array_append_new(uncovered, json_pack("{s:s, s:s}", "id", config->zones[zones[i]].id,
                                                   "name", config->zones[zones[i]].name));
    return json_pack("{s:o, s:o, s:o*, s:o*, s:i, s:i, s:i}", "shift",
                     shift_json(staff, shift, start), "next_shift",
                     shift_json(staff, next, next_start), "people", people, "uncovered_zones",
                     uncovered, "accept_s", staff->accept_s, "delivery_s", staff->delivery_s,
                     "phone_offline_s", staff->phone_offline_s);
}

json_t *bridge_staff_member_json(const json_t *staff, const char *user)
{
    size_t index;
    json_t *person;
    json_array_foreach(json_object_get(staff, "people"), index, person)
    {
        const char *name = json_string_value(json_object_get(person, "user"));
        if (name && user && strcmp(name, user) == 0)
            return json_incref(person);
    }
    return json_null();
}
