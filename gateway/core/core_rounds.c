/* The core's side of rounds (alarm/engine.h): every check-in journaled
 * (round_checkin, kept for a restart within the slot), every slot's result
 * recorded as evidence (a "round" event for the history and the district,
 * and an audit row with the whole result: core_record), the rooms' QR
 * check-in codes (BLAKE2b of the room id, keyed with a site secret the
 * database keeps: a code cannot be made without it) and a QR check-in
 * checked against them, and the check-ins of the running slots restored
 * after a restart. */
#include "core/core_private.h"

#include <sodium.h>

#define CHECKIN_REPLAY_MS (13LL * 3600 * 1000) /* longer than the longest slot (720 min) */

static json_t *room_json(const struct wg_config *config, const struct wg_round_room *room)
{
    return json_pack("{s:s, s:o, s:s}", "room", config->rooms[room->room].id, "checked_ms",
                     room->checked_ms ? json_integer(room->checked_ms) : json_null(), "by",
                     room->by);
}

void core_round_checked(void *ctx, const struct wg_round_slot *slot,
                        const struct wg_round_room *room)
{
    struct wg_core *core = ctx;
    const struct wg_config *config = core->config;
    const struct wg_room *where = &config->rooms[room->room];
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "round", slot->round->id, "room", where->id,
                  "by", room->by, "slot_start_ms", (json_int_t)slot->start_ms, "checked_ms",
                  (json_int_t)room->checked_ms, "zone", config->zones[where->zone].id);
    if (!body) {
        wg_crit("out of memory journaling the check-in of room %s", where->id);
        return;
    }
    struct wg_event proto = {.ts_ms = room->checked_ms,
                             .kind = "round_checkin",
                             .priority = -1,
                             .room = where->id,
                             .zone = config->zones[where->zone].id,
                             .uplink = WG_UPLINK_NONE};
    journal_event(core->journal, &proto, body, WG_CLASS_HEALTH, NULL);
}

void core_round_closed(void *ctx, const struct wg_round_slot *slot)
{
    struct wg_core *core = ctx;
    const struct wg_config *config = core->config;
    json_t *rooms = json_array();
    for (size_t i = 0; rooms && i < slot->room_count; i++)
        json_array_append_new(rooms, room_json(config, &slot->rooms[i]));
    json_t *body =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:i, s:s, s:o*}", "round", slot->round->id,
                  "zone", config->zones[slot->round->zone].id, "slot_start_ms",
                  (json_int_t)slot->start_ms, "slot_end_ms", (json_int_t)slot->end_ms, "due_ms",
                  (json_int_t)slot->due_ms, "planned", (int)slot->room_count, "done",
                  (int)slot->done, "late", (int)slot->late, "status", slot->status, "rooms", rooms);
    wg_log(strcmp(slot->status, "complete") == 0 ? WG_LOG_INFO : WG_LOG_NOTICE,
           "round %s of zone %s: %s, %zu of %zu rooms checked (%zu late)", slot->round->id,
           config->zones[slot->round->zone].id, slot->status, slot->done, slot->room_count,
           slot->late);
    if (!body || core_record(core, "round", body, "wardgated", NULL, NULL) != 0)
        wg_crit("could not record the round %s ending now", slot->round->id);
}

/* ---- QR check-in codes ---- */

void core_round_code(struct wg_core *core, const char *room_id, char code[23])
{
    static const char context[] = "wardgate round check-in v1:";
    unsigned char mac[16];
    crypto_generichash_state state;
    crypto_generichash_init(&state, core->round_key, sizeof core->round_key, sizeof mac);
    crypto_generichash_update(&state, (const unsigned char *)context, sizeof context - 1);
    crypto_generichash_update(&state, (const unsigned char *)room_id, strlen(room_id));
    crypto_generichash_final(&state, mac, sizeof mac);
    sodium_bin2base64(code, 23, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int core_round_checkin(struct wg_core *core, const char *room_id, const char *code, const char *who,
                       char *why, size_t why_len)
{
    char expected[23];
    core_round_code(core, room_id, expected);
    if (!code || strlen(code) != strlen(expected) ||
        sodium_memcmp(code, expected, strlen(expected)) != 0) {
        snprintf(why, why_len, "this is not room %s's check-in code: scan the code in the room",
                 room_id);
        return -1;
    }
    int rc =
        engine_round_checkin(core->engine, room_id, who, clock_wall_ms(core->clock), why, why_len);
    core_flush(core);
    return rc;
}

bool core_round_slot(struct wg_core *core, size_t index, struct wg_round_slot *out)
{
    return engine_round_slot(core->engine, index, out);
}

/* ---- after a restart ---- */

static int replay_checkin(const char *body_text, void *ctx)
{
    struct wg_core *core = ctx;
    json_t *body = json_loads(body_text, 0, NULL);
    const char *round = json_string_value(json_object_get(body, "round"));
    const char *room = json_string_value(json_object_get(body, "room"));
    const char *by = json_string_value(json_object_get(body, "by"));
    json_t *slot = json_object_get(body, "slot_start_ms");
    json_t *checked = json_object_get(body, "checked_ms");
    if (round && room && json_is_integer(slot) && json_is_integer(checked))
        engine_round_restore(core->engine, round, room, by ? by : "", json_integer_value(slot),
                             json_integer_value(checked));
    json_decref(body);
    return 0;
}

int core_restore_rounds(struct wg_core *core, struct wg_store *store)
{
    if (store_secret(store, "round_checkin_codes", core->round_key, sizeof core->round_key) != 0)
        return -1;
    if (core->config->round_count == 0)
        return 0;
    return store_events_of_kind(store, "round_checkin",
                                clock_wall_ms(core->clock) - CHECKIN_REPLAY_MS, replay_checkin,
                                core);
}
