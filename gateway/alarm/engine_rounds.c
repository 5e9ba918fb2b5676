/* The alarm engine's rounds (engine.h): for each configured round, the slot
 * of its daily window that runs now, the check-ins of its zone's resident
 * rooms in that slot (presence or reset pressed in the room, or its QR code
 * through the API), the advisory round_overdue alarm when the slot is not
 * done grace_min after its start, and the slot's result at its end. Slots
 * are whole minutes of the site's local time (clock.h). */
#include "alarm/engine_private.h"

#include <stdlib.h>

#include "common/clock.h"

#define DAY_MIN 1440

/* The slot of the round that holds `now`: false outside its window. */
static bool slot_at(const struct wg_round *round, int64_t now, int64_t *start, int64_t *end)
{
    int64_t began = window_began_ms(&round->window, now);
    if (began < 0)
        return false;
    int length = (round->window.end_min - round->window.start_min + DAY_MIN) % DAY_MIN;
    int into_window = (int)((minute_start_ms(now) - began) / 60000);
    int slot_from = into_window / round->every_min * round->every_min;
    int slot_length = length - slot_from < round->every_min ? length - slot_from : round->every_min;
    *start = began + (int64_t)slot_from * 60000;
    *end = *start + (int64_t)slot_length * 60000;
    return true;
}

static const struct wg_round *round_of(const struct wg_engine *engine, size_t r)
{
    return &engine->config->rounds[r];
}

static struct wg_round_slot slot_view(struct wg_engine *engine, size_t r)
{
    const struct round_state *state = &engine->rounds[r];
    const struct wg_round *round = round_of(engine, r);
    struct wg_round_slot slot = {.round = round,
                                 .start_ms = state->start_ms,
                                 .end_ms = state->end_ms,
                                 .due_ms = state->start_ms + round->grace_min * 60000LL,
                                 .rooms = state->rooms,
                                 .room_count = state->room_count};
    for (size_t i = 0; i < state->room_count; i++) {
        if (!state->rooms[i].checked_ms)
            continue;
        slot.done++;
        slot.late += state->rooms[i].checked_ms > slot.due_ms;
    }
    slot.status = slot.done < slot.room_count ? "missed" : slot.late ? "late" : "complete";
    return slot;
}

/* "101、102、103" (the first rooms not checked), and how many. */
static size_t missing_rooms(const struct wg_engine *engine, const struct round_state *state,
                            char *text, size_t len)
{
    size_t missing = 0, used = 0;
    text[0] = '\0';
    for (size_t i = 0; i < state->room_count; i++) {
        if (state->rooms[i].checked_ms)
            continue;
        missing++;
        if (used + 1 < len)
            used += (size_t)snprintf(text + used, len - used, "%s%s", used ? ", " : "",
                                     engine->config->rooms[state->rooms[i].room].id);
        if (used >= len)
            used = len - 1;
    }
    return missing;
}

static void describe_overdue(struct wg_engine *engine, size_t r, struct wg_alarm *alarm)
{
    const struct round_state *state = &engine->rounds[r];
    char rooms[96];
    size_t missing = missing_rooms(engine, state, rooms, sizeof rooms);
    snprintf(alarm->detail, sizeof alarm->detail, "round %s: %zu of %zu rooms not checked: %s",
             round_of(engine, r)->id, missing, state->room_count, rooms);
    alarm_set_code(alarm, "round_overdue", "{s:s, s:I, s:I, s:i, s:i, s:s}", "round",
                   round_of(engine, r)->id, "slot_start_ms", (json_int_t)state->start_ms,
                   "slot_end_ms", (json_int_t)state->end_ms, "missing", (int)missing, "planned",
                   (int)state->room_count, "rooms", rooms);
}

static void raise_overdue(struct wg_engine *engine, size_t r, int64_t now)
{
    const struct wg_config *config = engine->config;
    const struct wg_round *round = round_of(engine, r);
    struct wg_alarm proto = {
        .priority = WG_PRIO_ADVISORY, .reset_mode = WG_RESET_ON_NORMAL, .condition_active = true};
    snprintf(proto.kind, sizeof proto.kind, "round_overdue");
    snprintf(proto.rule, sizeof proto.rule, "%s", round->id);
    snprintf(proto.zone, sizeof proto.zone, "%s", config->zones[round->zone].id);
    alarm_copy_text(proto.place, sizeof proto.place, config->zones[round->zone].name);
    describe_overdue(engine, r, &proto);
    engine_raise_into(engine, engine->rounds[r].alarm, &proto, now);
}

static void close_slot(struct wg_engine *engine, size_t r, int64_t now)
{
    struct round_state *state = &engine->rounds[r];
    struct wg_round_slot slot = slot_view(engine, r);
    if (engine->host.round_closed)
        engine->host.round_closed(engine->host.ctx, &slot);
    engine_reset_slot(engine, state->alarm, round_of(engine, r)->id, "round slot ended", now);
    state->start_ms = state->end_ms = 0;
    for (size_t i = 0; i < state->room_count; i++) {
        state->rooms[i].checked_ms = 0;
        state->rooms[i].by[0] = '\0';
    }
}

/* Opens the slot that holds `now` if another (or none) was open; closes
 * the one before, reporting it when `report`. */
static void follow_slot(struct wg_engine *engine, size_t r, int64_t now, bool report)
{
    struct round_state *state = &engine->rounds[r];
    int64_t start = 0, end = 0;
    bool running = slot_at(round_of(engine, r), now, &start, &end);
    if (state->start_ms && (!running || start != state->start_ms)) {
        if (report)
            close_slot(engine, r, now);
        else
            state->start_ms = 0;
    }
    if (running && !state->start_ms) {
        state->start_ms = start;
        state->end_ms = end;
        struct wg_alarm *stale = engine_alarm_in(engine, state->alarm);
        if (stale && stale->raised_ms < start) /* raised for a slot before a restart */
            engine_reset_slot(engine, state->alarm, round_of(engine, r)->id, "round slot ended",
                              now);
    }
}

void engine_rounds_tick(struct wg_engine *engine, int64_t now)
{
    for (size_t r = 0; r < engine->config->round_count; r++) {
        follow_slot(engine, r, now, true);
        struct round_state *state = &engine->rounds[r];
        if (!state->start_ms || engine_alarm_in(engine, state->alarm) ||
            now < state->start_ms + round_of(engine, r)->grace_min * 60000LL)
            continue;
        struct wg_round_slot slot = slot_view(engine, r);
        if (slot.done < slot.room_count)
            raise_overdue(engine, r, now);
    }
}

/* Checks the room in for round r's running slot: false when it is not one
 * of its rooms, no slot runs, or it is checked already. */
static bool check_in(struct wg_engine *engine, size_t r, size_t room, const char *by, int64_t ts)
{
    struct round_state *state = &engine->rounds[r];
    follow_slot(engine, r, ts, true);
    if (!state->start_ms)
        return false;
    for (size_t i = 0; i < state->room_count; i++) {
        struct wg_round_room *entry = &state->rooms[i];
        if (entry->room != room || entry->checked_ms)
            continue;
        entry->checked_ms = ts;
        alarm_copy_text(entry->by, sizeof entry->by, by);
        struct wg_round_slot slot = slot_view(engine, r);
        if (engine->host.round_checked)
            engine->host.round_checked(engine->host.ctx, &slot, entry);
        struct wg_alarm *alarm = engine_alarm_in(engine, state->alarm);
        if (alarm && slot.done == slot.room_count) {
            engine_condition_cleared(engine, state->alarm, "round done", ts);
        } else if (alarm) {
            describe_overdue(engine, r, alarm);
            alarm_update(engine->alarms, alarm, "update");
        }
        return true;
    }
    return false;
}

void engine_rounds_room_op(struct wg_engine *engine, size_t room, const char *device, int64_t ts)
{
    for (size_t r = 0; r < engine->config->round_count; r++)
        check_in(engine, r, room, device, ts);
}

int engine_round_checkin(struct wg_engine *engine, const char *room_id, const char *who,
                         int64_t now_ms, char *why, size_t why_len)
{
    size_t room = config_find_room(engine->config, room_id);
    if (room == WG_NO_INDEX) {
        snprintf(why, why_len, "no room \"%s\"", room_id);
        return -1;
    }
    bool covered = false, checked = false;
    for (size_t r = 0; r < engine->config->round_count; r++) {
        for (size_t i = 0; i < engine->rounds[r].room_count; i++)
            covered = covered || engine->rounds[r].rooms[i].room == room;
        checked = check_in(engine, r, room, who, now_ms) || checked;
    }
    if (checked)
        return 0;
    snprintf(why, why_len,
             covered ? "room %s: no round is due there now, or it is checked in already"
                     : "room %s is in no round",
             room_id);
    return -1;
}

void engine_round_restore(struct wg_engine *engine, const char *round_id, const char *room_id,
                          const char *by, int64_t slot_start_ms, int64_t checked_ms)
{
    size_t room = config_find_room(engine->config, room_id);
    for (size_t r = 0; r < engine->config->round_count; r++) {
        if (strcmp(round_of(engine, r)->id, round_id) != 0)
            continue;
        struct round_state *state = &engine->rounds[r];
        follow_slot(engine, r, engine->started_ms, false);
        if (state->start_ms != slot_start_ms)
            return; /* that slot is over */
        for (size_t i = 0; i < state->room_count; i++)
            if (state->rooms[i].room == room && !state->rooms[i].checked_ms) {
                state->rooms[i].checked_ms = checked_ms;
                alarm_copy_text(state->rooms[i].by, sizeof state->rooms[i].by, by);
            }
    }
}

bool engine_round_slot(struct wg_engine *engine, size_t index, struct wg_round_slot *out)
{
    if (index >= engine->config->round_count || !engine->rounds[index].start_ms)
        return false;
    *out = slot_view(engine, index);
    return true;
}

void engine_rounds_relink(struct wg_engine *engine, struct wg_alarm *alarm, int64_t now)
{
    for (size_t r = 0; r < engine->config->round_count; r++)
        if (strcmp(round_of(engine, r)->id, alarm->rule) == 0) {
            memcpy(engine->rounds[r].alarm, alarm->id, 37);
            return;
        }
    alarm_reset(engine->alarms, alarm, alarm->rule, "round no longer configured", now);
}

/* ---- life cycle ---- */

static void free_states(struct round_state *states, size_t count)
{
    for (size_t r = 0; states && r < count; r++)
        free(states[r].rooms);
    free(states);
}

void engine_rounds_free(struct wg_engine *engine)
{
    free_states(engine->rounds, engine->config ? engine->config->round_count : 0);
    engine->rounds = NULL;
}

int engine_rounds_rebuild(struct wg_engine *engine, const struct wg_config *old, int64_t now)
{
    const struct wg_config *config = engine->config;
    struct round_state *states =
        calloc(config->round_count ? config->round_count : 1, sizeof *states);
    if (!states)
        return -1;
    for (size_t r = 0; r < config->round_count; r++) {
        const struct wg_round *round = &config->rounds[r];
        size_t count = 0;
        for (size_t room = 0; room < config->room_count; room++)
            count += config_resident_room_in(config, room, round->zone);
        states[r].rooms = calloc(count ? count : 1, sizeof *states[r].rooms);
        if (!states[r].rooms) {
            free_states(states, config->round_count);
            return -1;
        }
        for (size_t room = 0; room < config->room_count; room++)
            if (config_resident_room_in(config, room, round->zone))
                states[r].rooms[states[r].room_count++].room = room;
        /* The same round before a reload: its slot, check-ins and alarm carry over. */
        for (size_t o = 0; old && engine->rounds && o < old->round_count; o++) {
            const struct round_state *before = &engine->rounds[o];
            if (strcmp(old->rounds[o].id, round->id) != 0)
                continue;
            states[r].start_ms = before->start_ms;
            states[r].end_ms = before->end_ms;
            memcpy(states[r].alarm, before->alarm, 37);
            for (size_t i = 0; i < states[r].room_count; i++)
                for (size_t j = 0; j < before->room_count; j++)
                    if (strcmp(config->rooms[states[r].rooms[i].room].id,
                               old->rooms[before->rooms[j].room].id) == 0) {
                        states[r].rooms[i].checked_ms = before->rooms[j].checked_ms;
                        memcpy(states[r].rooms[i].by, before->rooms[j].by,
                               sizeof states[r].rooms[i].by);
                    }
        }
    }
    if (old && engine->rounds) {
        /* The alarm of a round no longer configured ends. */
        for (size_t o = 0; o < old->round_count; o++) {
            bool kept = false;
            for (size_t r = 0; r < config->round_count && !kept; r++)
                kept = strcmp(old->rounds[o].id, config->rounds[r].id) == 0;
            if (!kept)
                engine_reset_slot(engine, engine->rounds[o].alarm, old->rounds[o].id,
                                  "round no longer configured", now);
        }
        free_states(engine->rounds, old->round_count);
    }
    engine->rounds = states;
    return 0;
}
