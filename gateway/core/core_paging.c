/* The core's side of paging carers' phones (alarm/engine.h): the engine's
 * notifications handed to the attachments at once (the web API tells the
 * phones, before the journal), a phone's answers and connections handed to
 * the engine, rooms claimed on a phone journaled ("claim", with an audit
 * row) and replayed after a restart while their shift still runs; and a
 * fault of a part of the gateway that is not a device (the ESPA line to the
 * pagers) as a technical alarm (core_site_fault). */
#include "core/core_private.h"

#define CLAIM_REPLAY_MS (24LL * 3600 * 1000) /* no shift is longer than a day */

void core_paged(void *ctx, const struct wg_alarm *alarm, const char *user)
{
    struct wg_core *core = ctx;
    int64_t now = clock_wall_ms(core->clock);
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].paged)
            core->attachments[i].paged(core->attachments[i].ctx, alarm->id, user, now);
}

void core_staff_changed(void *ctx)
{
    struct wg_core *core = ctx;
    for (size_t i = 0; i < core->attachment_count; i++)
        if (core->attachments[i].staff_changed)
            core->attachments[i].staff_changed(core->attachments[i].ctx);
}

int core_page_answer(struct wg_core *core, const char *alarm_id, const char *user,
                     const char *action, const char *reason, char *why, size_t why_len)
{
    int64_t now = clock_wall_ms(core->clock);
    int rc;
    if (strcmp(action, "received") == 0)
        rc = engine_page_received(core->engine, alarm_id, user, now, why, why_len);
    else if (strcmp(action, "accept") == 0)
        rc = engine_page_accept(core->engine, alarm_id, user, now, why, why_len);
    else
        rc = engine_page_decline(core->engine, alarm_id, user, reason ? reason : "", now, why,
                                 why_len);
    core_flush(core);
    return rc;
}

void core_phones(struct wg_core *core, const char *user, int phones)
{
    engine_phones(core->engine, user, phones, clock_wall_ms(core->clock));
    core_flush(core);
}

void core_site_fault(struct wg_core *core, const char *kind, const char *where, bool failing,
                     const char *detail)
{
    engine_site_fault(core->engine, kind, where, failing, detail, clock_wall_ms(core->clock));
    core_flush(core);
}

const struct wg_engine *core_engine_view(struct wg_core *core)
{
    return core->engine;
}

int core_claim_rooms(struct wg_core *core, const char *user, const char *const *room_ids,
                     size_t room_count, const char *origin, char *why, size_t why_len)
{
    const struct wg_config *config = core->config;
    int64_t now = clock_wall_ms(core->clock), start = 0;
    size_t *rooms = malloc((room_count ? room_count : 1) * sizeof *rooms);
    json_t *ids = json_array();
    if (!rooms || !ids) {
        free(rooms);
        json_decref(ids);
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < room_count; i++) {
        rooms[i] = config_find_room(config, room_ids[i]);
        json_array_append_new(ids, json_string(room_ids[i]));
    }
    int rc = engine_claim_rooms(core->engine, user, rooms, room_count, now, false, why, why_len);
    free(rooms);
    int shift = rc == 0 ? engine_shift_now(core->engine, now, &start) : -1;
    if (rc != 0 || shift < 0) {
        json_decref(ids);
        return -1;
    }
    json_t *body = json_pack("{s:s, s:o, s:s, s:I}", "user", user, "rooms", ids, "shift",
                             config->staff.shifts[shift].id, "shift_start_ms", (json_int_t)start);
    if (!body || core_record(core, "claim", body, user, origin, NULL) != 0)
        wg_crit("claim of %zu rooms by %s is in force but could not be journaled", room_count,
                user);
    return 0;
}

/* ---- after a restart ---- */

static int replay_claim(const char *body_text, void *ctx)
{
    struct wg_core *core = ctx;
    json_t *body = json_loads(body_text, 0, NULL);
    const char *user = json_string_value(json_object_get(body, "user"));
    json_t *list = json_object_get(body, "rooms");
    int64_t now = clock_wall_ms(core->clock), start = 0;
    if (user && json_is_array(list) && engine_shift_now(core->engine, now, &start) >= 0 &&
        json_integer_value(json_object_get(body, "shift_start_ms")) == start) {
        size_t count = 0, *rooms = malloc((json_array_size(list) + 1) * sizeof *rooms);
        size_t index;
        json_t *id;
        json_array_foreach(list, index, id)
        {
            size_t room = config_find_room(core->config, json_string_value(id));
            if (rooms && room != WG_NO_INDEX)
                rooms[count++] = room;
        }
        char why[160];
        if (rooms &&
            engine_claim_rooms(core->engine, user, rooms, count, now, true, why, sizeof why) != 0)
            wg_warn("claim of %s not restored: %s", user, why);
        free(rooms);
    }
    json_decref(body);
    return 0;
}

int core_restore_claims(struct wg_core *core, struct wg_store *store)
{
    if (!core->config->staff.enabled)
        return 0;
    return store_events_of_kind(store, "claim", clock_wall_ms(core->clock) - CLAIM_REPLAY_MS,
                                replay_claim, core);
}
