/* Paging carers' phones (issue 16): who is on duty and covers what (the
 * config's shifts and cover, and rooms claimed on a phone), the chain each
 * call is paged along (engine.h explains it), the phones' answers (receipt,
 * accept, decline), and a phone that drops off while its carer is on duty,
 * which is a technical alarm. The alarm's own record keeps the pages
 * (alarm_paging.c), so they are journaled and restored with it. */
#include "alarm/engine_private.h"

#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"

#define PHONE_ALARM_KIND "phone_offline"
#define DAY_MIN          1440
#define REASON_CHARS_MAX 60

static const struct wg_staffing *staffing(const struct wg_engine *engine)
{
    return &engine->config->staff;
}

static size_t member_of(const struct wg_engine *engine, const char *user)
{
    const struct wg_staffing *staff = staffing(engine);
    for (size_t i = 0; user && i < staff->people_count; i++)
        if (strcmp(staff->people[i].user, user) == 0)
            return i;
    return WG_NO_INDEX;
}

/* Called on a pager through the ESPA line (config espa:): reached without
 * a phone, though no receipt ever comes back from a pager. */
static bool has_pager(const struct wg_engine *engine, size_t member)
{
    const char *pager = staffing(engine)->people[member].pager;
    return engine->config->espa.enabled && pager && pager[0];
}

static bool first_line(int care_role)
{
    return care_role == WG_CARE_CARER || care_role == WG_CARE_NURSE;
}

/* ---- shifts and cover ---- */

int engine_shift_now(const struct wg_engine *engine, int64_t now_ms, int64_t *start_ms)
{
    const struct wg_staffing *staff = staffing(engine);
    for (size_t s = 0; s < staff->shift_count; s++) {
        int64_t began = window_began_ms(&staff->shifts[s].window, now_ms);
        if (began < 0)
            continue;
        if (start_ms)
            *start_ms = began;
        return (int)s;
    }
    return -1;
}

int engine_shift_next(const struct wg_engine *engine, int64_t now_ms, int64_t *start_ms)
{
    const struct wg_staffing *staff = staffing(engine);
    int minute = clock_minute_of_day(now_ms), now_shift = engine_shift_now(engine, now_ms, NULL);
    int best = -1, best_in = DAY_MIN + 1;
    for (size_t s = 0; s < staff->shift_count; s++) {
        if ((int)s == now_shift && staff->shift_count > 1)
            continue;
        int in = (staff->shifts[s].window.start_min - minute + DAY_MIN) % DAY_MIN;
        if (in == 0)
            in = DAY_MIN;
        if (in < best_in) {
            best_in = in;
            best = (int)s;
        }
    }
    if (best >= 0 && start_ms)
        *start_ms = minute_start_ms(now_ms) + (int64_t)best_in * 60000;
    return best;
}

static bool claim_valid(const struct wg_engine *engine, size_t member, int64_t now)
{
    int64_t start = 0;
    const struct staff_state *state = &engine->staff[member];
    return state->claim_count && engine_shift_now(engine, now, &start) >= 0 &&
           state->claim_shift_ms == start;
}

static bool cover_holds(const struct wg_config *config, const struct wg_cover *cover, size_t room,
                        size_t zone)
{
    for (size_t i = 0; i < cover->room_count; i++)
        if ((room != WG_NO_INDEX && cover->rooms[i] == room) ||
            (room == WG_NO_INDEX && zone != WG_NO_INDEX &&
             config->rooms[cover->rooms[i]].zone == zone))
            return true;
    for (size_t i = 0; i < cover->zone_count; i++)
        if (cover->zones[i] == zone)
            return true;
    return false;
}

/* Covers the room (room given), or anything in the zone (room WG_NO_INDEX). */
static bool member_covers(const struct wg_engine *engine, size_t member, size_t shift, size_t room,
                          size_t zone, int64_t now)
{
    const struct wg_config *config = engine->config;
    const struct wg_staffing *staff = staffing(engine);
    if (room != WG_NO_INDEX)
        zone = config->rooms[room].zone;
    for (size_t c = 0; c < staff->cover_count; c++)
        if (staff->covers[c].shift == shift && staff->covers[c].member == member &&
            cover_holds(config, &staff->covers[c], room, zone))
            return true;
    int64_t start = 0;
    if (engine_shift_now(engine, now, &start) != (int)shift || !claim_valid(engine, member, now))
        return false;
    const struct staff_state *state = &engine->staff[member];
    for (size_t i = 0; i < state->claim_count; i++)
        if (state->claims[i] == room ||
            (room == WG_NO_INDEX && config->rooms[state->claims[i]].zone == zone))
            return true;
    return false;
}

bool engine_covers(const struct wg_engine *engine, size_t member, size_t shift, size_t room,
                   int64_t now_ms)
{
    return member < engine->staff_count && room < engine->config->room_count &&
           member_covers(engine, member, shift, room, WG_NO_INDEX, now_ms);
}

static bool on_duty(const struct wg_engine *engine, size_t member, int64_t now)
{
    int shift = engine_shift_now(engine, now, NULL);
    if (shift < 0)
        return false;
    const struct wg_staffing *staff = staffing(engine);
    for (size_t c = 0; c < staff->cover_count; c++)
        if (staff->covers[c].shift == (size_t)shift && staff->covers[c].member == member)
            return true;
    return claim_valid(engine, member, now);
}

void engine_duty(const struct wg_engine *engine, size_t member, int64_t now_ms, struct wg_duty *out)
{
    memset(out, 0, sizeof *out);
    if (member >= engine->staff_count)
        return;
    const struct staff_state *state = &engine->staff[member];
    out->on_duty = on_duty(engine, member, now_ms);
    out->phones = state->phones;
    if (claim_valid(engine, member, now_ms)) {
        out->claims = state->claims;
        out->claim_count = state->claim_count;
    }
    out->phone_alarm = state->offline_alarm[0] != '\0';
}

size_t engine_uncovered_zones(const struct wg_engine *engine, int64_t now_ms, size_t *out,
                              size_t max)
{
    const struct wg_config *config = engine->config;
    int shift = engine_shift_now(engine, now_ms, NULL);
    size_t count = 0;
    if (!staffing(engine)->enabled)
        return 0;
    for (size_t z = 0; z < config->zone_count && count < max; z++) {
        bool has_room = false, covered = false;
        for (size_t r = 0; r < config->room_count && !has_room; r++)
            has_room = config->rooms[r].zone == z;
        for (size_t m = 0; shift >= 0 && m < engine->staff_count && !covered; m++)
            covered = first_line(staffing(engine)->people[m].care_role) &&
                      on_duty(engine, m, now_ms) &&
                      member_covers(engine, m, (size_t)shift, WG_NO_INDEX, z, now_ms);
        if (has_room && !covered)
            out[count++] = z;
    }
    return count;
}

/* ---- the chain ---- */

static struct wg_page *page_of(struct wg_alarm *alarm, const char *user)
{
    for (size_t i = 0; i < alarm->paging.page_count; i++)
        if (strcmp(alarm->paging.pages[i].user, user) == 0)
            return &alarm->paging.pages[i];
    return NULL;
}

/* Pages `member` at the current step; false when they were paged already
 * (or the record is full, which is logged). */
static bool page_member(struct wg_engine *engine, struct wg_alarm *alarm, size_t member,
                        int64_t now)
{
    const struct wg_staff_member *person = &staffing(engine)->people[member];
    struct wg_paging *paging = &alarm->paging;
    if (page_of(alarm, person->user))
        return false;
    if (paging->page_count == WG_ALARM_MAX_PAGES) {
        wg_warn("alarm %s: paged %d people already; %s (%s) is not paged", alarm->id,
                WG_ALARM_MAX_PAGES, person->user, person->name);
        return false;
    }
    struct wg_page *page = &paging->pages[paging->page_count++];
    memset(page, 0, sizeof *page);
    alarm_copy_text(page->user, sizeof page->user, person->user);
    alarm_copy_text(page->name, sizeof page->name, person->name);
    page->care_role = person->care_role;
    page->step = paging->step;
    page->notified_ms = now;
    /* No phone connected and no pager: not reached, now; the step does not
     * wait for it. A pager alone gets accept_s (it cannot confirm receipt). */
    page->outcome = engine->staff[member].phones > 0 || has_pager(engine, member)
                        ? WG_PAGE_WAITING
                        : WG_PAGE_NOT_REACHED;
    return true;
}

/* Who a step of `kind` pages; how many were paged. */
static size_t page_step(struct wg_engine *engine, struct wg_alarm *alarm, int kind, int64_t now)
{
    const struct wg_config *config = engine->config;
    int shift = engine_shift_now(engine, now, NULL);
    size_t room = alarm->room[0] ? config_find_room(config, alarm->room) : WG_NO_INDEX;
    size_t zone = room != WG_NO_INDEX ? config->rooms[room].zone
                  : alarm->zone[0]    ? config_find_zone(config, alarm->zone)
                                      : WG_NO_INDEX;
    size_t paged = 0;
    for (int pass = 0; pass < 4 && paged == 0; pass++)
        for (size_t m = 0; m < engine->staff_count; m++) {
            int role = staffing(engine)->people[m].care_role;
            bool duty = on_duty(engine, m, now);
            bool take = false;
            switch (kind) {
            case WG_STEP_ROOM:
                take = pass == 0 && first_line(role) && duty && room != WG_NO_INDEX &&
                       member_covers(engine, m, (size_t)shift, room, WG_NO_INDEX, now);
                break;
            case WG_STEP_EVERYONE:
                take = pass == 0 && first_line(role) && duty;
                break;
            case WG_STEP_ZONE:
                take = pass == 0 && first_line(role) && duty && zone != WG_NO_INDEX &&
                       member_covers(engine, m, (size_t)shift, WG_NO_INDEX, zone, now) &&
                       !page_of(alarm, staffing(engine)->people[m].user);
                break;
            case WG_STEP_FLOOR_LEAD:
            case WG_STEP_MANAGER:
                /* Theirs on duty who cover the zone; else all on duty; else those with a
                 * phone on; else all of them (not reached, but the wall shows who was tried). */
                take =
                    role == (kind == WG_STEP_FLOOR_LEAD ? WG_CARE_FLOOR_LEAD : WG_CARE_MANAGER) &&
                    (pass == 0 ? duty && zone != WG_NO_INDEX &&
                                     member_covers(engine, m, (size_t)shift, WG_NO_INDEX, zone, now)
                     : pass == 1 ? duty
                     : pass == 2 ? engine->staff[m].phones > 0
                                 : true);
                break;
            default:
                break;
            }
            if (take && page_member(engine, alarm, m, now)) {
                if (engine->host.paged)
                    engine->host.paged(engine->host.ctx, alarm, staffing(engine)->people[m].user);
                paged++;
                if (kind == WG_STEP_ZONE)
                    return paged; /* the next carer: one at a time */
            }
        }
    return paged;
}

static size_t level_named(const struct wg_engine *engine, const char *name)
{
    const struct wg_escalation *escalation = &engine->config->escalation;
    for (size_t i = 0; i < engine->level_count; i++)
        if (strcmp(escalation->levels[i].name, name) == 0)
            return i;
    return WG_NO_INDEX;
}

static int step_of_level(const struct wg_engine *engine, int level)
{
    const char *name = level > 0 && (size_t)level < engine->level_count
                           ? engine->config->escalation.levels[level].name
                           : "";
    return strcmp(name, "floor_lead") == 0 ? WG_STEP_FLOOR_LEAD
           : strcmp(name, "manager") == 0  ? WG_STEP_MANAGER
           : strcmp(name, "district") == 0 ? WG_STEP_DISTRICT
                                           : -1;
}

static bool escalate_to(struct wg_engine *engine, struct wg_alarm *alarm, int kind, int64_t now)
{
    static const char *const level_names[] = {[WG_STEP_FLOOR_LEAD] = "floor_lead",
                                              [WG_STEP_MANAGER] = "manager",
                                              [WG_STEP_DISTRICT] = "district"};
    if (kind < WG_STEP_FLOOR_LEAD || kind > WG_STEP_DISTRICT || alarm->state == WG_ALARM_ATTENDED)
        return false;
    size_t level = level_named(engine, level_names[kind]);
    if (level == WG_NO_INDEX || (int)level <= alarm->escalation_level)
        return false;
    alarm->escalation_level = (int)level;
    alarm->escalated_ms[level] = now;
    return true;
}

/* The step after one of `kind` (a zone step is followed by the zone's next carer). */
static int step_after(int kind)
{
    return kind == WG_STEP_ROOM       ? WG_STEP_ZONE
           : kind == WG_STEP_ZONE     ? WG_STEP_ZONE
           : kind == WG_STEP_EVERYONE ? WG_STEP_FLOOR_LEAD
                                      : kind + 1;
}

/* Enters a step of `kind` and, while a step pages nobody, the ones after
 * it. Returns whether the escalation level rose. */
static bool enter_step(struct wg_engine *engine, struct wg_alarm *alarm, int kind, int64_t now)
{
    struct wg_paging *paging = &alarm->paging;
    bool escalated = false;
    while (kind < WG_STEP_DONE) {
        escalated = escalate_to(engine, alarm, kind, now) || escalated;
        int before = paging->step;
        paging->step = before + 1;
        paging->step_kind = kind;
        paging->step_ms = now;
        if (kind == WG_STEP_DISTRICT || page_step(engine, alarm, kind, now) > 0)
            return escalated; /* the district has no phone: it has the escalation event */
        paging->step = before;
        if (kind == WG_STEP_ROOM) {
            paging->no_cover = true; /* nobody covers the room: everyone on duty */
            kind = WG_STEP_EVERYONE;
        } else {
            kind = kind == WG_STEP_ZONE ? WG_STEP_FLOOR_LEAD : step_after(kind);
        }
    }
    paging->step_kind = WG_STEP_DONE;
    return escalated;
}

void engine_paging_start(struct wg_engine *engine, struct wg_alarm *alarm, int64_t now)
{
    if (!staffing(engine)->enabled || alarm->priority <= WG_PRIO_TECHNICAL)
        return;
    struct wg_paging *paging = &alarm->paging;
    memset(paging, 0, sizeof *paging);
    paging->active = true;
    paging->accepted = -1;
    paging->step = -1;
    /* The escalation this may bring is reported with the raise itself. */
    enter_step(engine, alarm, WG_STEP_ROOM, now);
}

static bool step_open(const struct wg_paging *paging)
{
    for (size_t i = 0; i < paging->page_count; i++)
        if (paging->pages[i].step == paging->step && (paging->pages[i].outcome == WG_PAGE_WAITING ||
                                                      paging->pages[i].outcome == WG_PAGE_RECEIVED))
            return true;
    return false;
}

struct tick_scan {
    struct wg_engine *engine;
    int64_t now;
};

static bool tick_alarm(struct wg_alarm *alarm, void *ctx)
{
    struct tick_scan *scan = ctx;
    struct wg_engine *engine = scan->engine;
    struct wg_paging *paging = &alarm->paging;
    if (!paging->active || paging->step_kind == WG_STEP_DONE || alarm->state == WG_ALARM_ATTENDED)
        return true;
    const struct wg_staffing *staff = staffing(engine);
    bool changed = false;
    for (size_t i = 0; i < paging->page_count; i++) {
        struct wg_page *page = &paging->pages[i];
        size_t member = member_of(engine, page->user);
        bool pager_only =
            member != WG_NO_INDEX && engine->staff[member].phones == 0 && has_pager(engine, member);
        if (page->outcome == WG_PAGE_WAITING && !pager_only &&
            scan->now >= page->notified_ms + staff->delivery_s * 1000LL) {
            page->outcome = WG_PAGE_NOT_REACHED;
            changed = true;
        } else if ((page->outcome == WG_PAGE_RECEIVED || page->outcome == WG_PAGE_WAITING) &&
                   paging->accepted < 0 &&
                   scan->now >= page->notified_ms + staff->accept_s * 1000LL) {
            page->outcome = WG_PAGE_TIMED_OUT;
            changed = true;
        }
    }
    /* A level reached by time brings the chain to its people. */
    int level_step = step_of_level(engine, alarm->escalation_level);
    if (level_step > paging->step_kind) {
        enter_step(engine, alarm, level_step, scan->now);
        alarm_update(engine->alarms, alarm, "notify");
        return true;
    }
    if (paging->accepted < 0 && paging->step_kind < WG_STEP_DISTRICT && !step_open(paging)) {
        bool escalated = enter_step(engine, alarm, step_after(paging->step_kind), scan->now);
        alarm_update(engine->alarms, alarm, escalated ? "escalate" : "notify");
        return true;
    }
    if (changed)
        alarm_update(engine->alarms, alarm, "update");
    return true;
}

/* ---- phones ---- */

static void end_phone_alarm(struct wg_engine *engine, struct staff_state *state, const char *why,
                            int64_t now)
{
    struct wg_alarm *alarm = engine_alarm_in(engine, state->offline_alarm);
    if (alarm)
        alarm_reset(engine->alarms, alarm, "phone", why, now);
    state->offline_alarm[0] = '\0';
}

static void raise_phone_alarm(struct wg_engine *engine, size_t member, int64_t now)
{
    const struct wg_config *config = engine->config;
    const struct wg_staff_member *person = &staffing(engine)->people[member];
    struct wg_alarm proto = {
        .priority = WG_PRIO_TECHNICAL, .reset_mode = WG_RESET_ON_NORMAL, .condition_active = true};
    snprintf(proto.kind, sizeof proto.kind, "%s", PHONE_ALARM_KIND);
    snprintf(proto.rule, sizeof proto.rule, "paging");
    alarm_copy_text(proto.device, sizeof proto.device, person->user);
    /* Placed at the first zone they cover now, so the wall shows where cover is thin. */
    int shift = engine_shift_now(engine, now, NULL);
    for (size_t c = 0; shift >= 0 && c < staffing(engine)->cover_count && !proto.zone[0]; c++) {
        const struct wg_cover *cover = &staffing(engine)->covers[c];
        if (cover->member != member || cover->shift != (size_t)shift)
            continue;
        size_t zone = cover->zone_count   ? cover->zones[0]
                      : cover->room_count ? config->rooms[cover->rooms[0]].zone
                                          : WG_NO_INDEX;
        if (zone != WG_NO_INDEX)
            alarm_copy_text(proto.zone, sizeof proto.zone, config->zones[zone].id);
    }
    snprintf(proto.detail, sizeof proto.detail, "phone of %s not connected for %d s", person->user,
             staffing(engine)->phone_offline_s);
    alarm_set_code(&proto, PHONE_ALARM_KIND, "{s:s, s:s, s:i}", "user", person->user, "name",
                   person->name, "seconds", staffing(engine)->phone_offline_s);
    engine_raise_into(engine, engine->staff[member].offline_alarm, &proto, now);
    engine_update_indicators(engine);
}

void engine_phones(struct wg_engine *engine, const char *user, int phones, int64_t now_ms)
{
    size_t member = member_of(engine, user);
    if (member == WG_NO_INDEX || phones < 0)
        return;
    struct staff_state *state = &engine->staff[member];
    if (phones == state->phones)
        return;
    bool duty = on_duty(engine, member, now_ms);
    state->phones = phones;
    if (phones > 0) {
        state->offline_since_ms = 0;
        state->seen = state->seen || duty;
        if (state->offline_alarm[0])
            end_phone_alarm(engine, state, "phone connected again", now_ms);
    } else if (duty && state->seen) {
        state->offline_since_ms = now_ms;
    }
    if (engine->host.staff_changed)
        engine->host.staff_changed(engine->host.ctx);
}

static void tick_people(struct wg_engine *engine, int64_t now)
{
    int64_t start = 0;
    int shift = engine_shift_now(engine, now, &start);
    bool changed = shift != engine->last_shift;
    engine->last_shift = shift;
    for (size_t m = 0; m < engine->staff_count; m++) {
        struct staff_state *state = &engine->staff[m];
        if (state->claim_count && (shift < 0 || state->claim_shift_ms != start)) {
            state->claim_count = 0; /* a claim lasts its shift */
            changed = true;
        }
        bool duty = on_duty(engine, m, now);
        if (!duty) {
            state->seen = false;
            state->offline_since_ms = 0;
            if (state->offline_alarm[0])
                end_phone_alarm(engine, state, "off duty", now);
            continue;
        }
        if (state->phones > 0)
            state->seen = true;
        if (state->seen && state->phones == 0 && !state->offline_since_ms)
            state->offline_since_ms = now;
        if (state->seen && state->phones == 0 && !state->offline_alarm[0] &&
            now >= state->offline_since_ms + staffing(engine)->phone_offline_s * 1000LL) {
            raise_phone_alarm(engine, m, now);
            changed = true;
        }
    }
    if (changed && engine->host.staff_changed)
        engine->host.staff_changed(engine->host.ctx);
}

void engine_paging_tick(struct wg_engine *engine, int64_t now)
{
    if (!staffing(engine)->enabled)
        return;
    tick_people(engine, now);
    alarm_foreach(engine->alarms, tick_alarm, &(struct tick_scan){engine, now});
}

/* ---- the phones' answers ---- */

/* The active alarm and `user`'s page in it: 0, or a refusal with the reason. */
static int answered_alarm(struct wg_engine *engine, const char *alarm_id, const char *user,
                          struct wg_alarm **alarm, struct wg_page **page, char *why, size_t why_len)
{
    *alarm = alarm_find(engine->alarms, alarm_id);
    *page = NULL;
    if (!*alarm) {
        for (size_t i = 0; i < ENDED_KEPT; i++)
            if (strcmp(engine->ended[i], alarm_id) == 0) {
                snprintf(why, why_len, "call %s has been reset already", alarm_id);
                return WG_PAGE_REFUSED_CONFLICT;
            }
        snprintf(why, why_len, "no active call %s", alarm_id);
        return WG_PAGE_REFUSED_UNKNOWN;
    }
    *page = (*alarm)->paging.active ? page_of(*alarm, user) : NULL;
    if (!*page) {
        snprintf(why, why_len, "call %s was not sent to %s", alarm_id, user);
        return WG_PAGE_REFUSED_NOT_YOURS;
    }
    return 0;
}

int engine_page_received(struct wg_engine *engine, const char *alarm_id, const char *user,
                         int64_t now_ms, char *why, size_t why_len)
{
    struct wg_alarm *alarm;
    struct wg_page *page;
    int refused = answered_alarm(engine, alarm_id, user, &alarm, &page, why, why_len);
    if (refused)
        return refused;
    if (page->received_ms)
        return 0;
    page->received_ms = now_ms;
    if (page->outcome == WG_PAGE_WAITING)
        page->outcome = WG_PAGE_RECEIVED;
    alarm_update(engine->alarms, alarm, "received");
    return 0;
}

int engine_page_accept(struct wg_engine *engine, const char *alarm_id, const char *user,
                       int64_t now_ms, char *why, size_t why_len)
{
    struct wg_alarm *alarm;
    struct wg_page *page;
    int refused = answered_alarm(engine, alarm_id, user, &alarm, &page, why, why_len);
    if (refused)
        return refused;
    struct wg_paging *paging = &alarm->paging;
    if (page->outcome == WG_PAGE_ACCEPTED)
        return 0;
    if (alarm->state == WG_ALARM_ATTENDED) {
        snprintf(why, why_len, "call %s is attended already: someone is in the room", alarm_id);
        return WG_PAGE_REFUSED_CONFLICT;
    }
    if (paging->accepted >= 0) {
        snprintf(why, why_len, "call %s was accepted by %s already", alarm_id,
                 paging->pages[paging->accepted].name);
        return WG_PAGE_REFUSED_CONFLICT;
    }
    page->outcome = WG_PAGE_ACCEPTED;
    page->accepted_ms = now_ms;
    if (!page->received_ms)
        page->received_ms = now_ms;
    paging->accepted = (int)(page - paging->pages);
    for (size_t i = 0; i < paging->page_count; i++)
        if (paging->pages[i].outcome == WG_PAGE_WAITING ||
            paging->pages[i].outcome == WG_PAGE_RECEIVED)
            paging->pages[i].outcome = WG_PAGE_STOOD_DOWN;
    if (alarm->state == WG_ALARM_RAISED) {
        /* Someone is on the way: the station's buzzer may stop, as on an acknowledgement. */
        alarm->state = WG_ALARM_ACKNOWLEDGED;
        if (!alarm->acknowledged_ms)
            alarm->acknowledged_ms = now_ms;
        alarm_copy_text(alarm->acknowledged_by, sizeof alarm->acknowledged_by, user);
        snprintf(alarm->acknowledged_from, sizeof alarm->acknowledged_from, "phone");
        int reannunciate_s = engine->config->escalation.reannunciate_s;
        alarm->reannunciate_due_ms = reannunciate_s > 0 ? now_ms + reannunciate_s * 1000LL : 0;
    }
    alarm_update(engine->alarms, alarm, "accept");
    engine_update_indicators(engine);
    return 0;
}

/* 1..60 characters of valid UTF-8 (no overlong form, surrogate or code
 * point past U+10FFFF, which JSON cannot carry) without control characters
 * (C0, DEL and C1). */
static bool reason_ok(const char *reason)
{
    static const uint32_t shortest[] = {0, 0x80, 0x800, 0x10000};
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)reason;
    while (p && *p) {
        int extra = *p < 0x80             ? 0
                    : (*p & 0xe0) == 0xc0 ? 1
                    : (*p & 0xf0) == 0xe0 ? 2
                    : (*p & 0xf8) == 0xf0 ? 3
                                          : -1;
        if (extra < 0)
            return false;
        uint32_t code = extra ? *p & (0x3fu >> extra) : *p;
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            code = code << 6 | (p[i] & 0x3fu);
        }
        if (code < shortest[extra] || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ||
            code < 0x20 || (code >= 0x7f && code <= 0x9f))
            return false;
        p += extra + 1;
        chars++;
    }
    return chars >= 1 && chars <= REASON_CHARS_MAX;
}

int engine_page_decline(struct wg_engine *engine, const char *alarm_id, const char *user,
                        const char *reason, int64_t now_ms, char *why, size_t why_len)
{
    if (!reason_ok(reason)) {
        snprintf(why, why_len, "reason: 1 to %d characters, without control characters",
                 REASON_CHARS_MAX);
        return WG_PAGE_REFUSED_BAD;
    }
    struct wg_alarm *alarm;
    struct wg_page *page;
    int refused = answered_alarm(engine, alarm_id, user, &alarm, &page, why, why_len);
    if (refused)
        return refused;
    if (alarm->state == WG_ALARM_ATTENDED) {
        snprintf(why, why_len, "call %s is attended already: someone is in the room", alarm_id);
        return WG_PAGE_REFUSED_CONFLICT;
    }
    if (page->outcome == WG_PAGE_DECLINED || page->outcome == WG_PAGE_STOOD_DOWN) {
        snprintf(why, why_len, "call %s: %s", alarm_id,
                 page->outcome == WG_PAGE_DECLINED ? "declined already"
                                                   : "someone else has accepted it");
        return WG_PAGE_REFUSED_CONFLICT;
    }
    struct wg_paging *paging = &alarm->paging;
    if (paging->accepted == (int)(page - paging->pages))
        paging->accepted = -1; /* backing out: the chain goes on at the next tick */
    page->outcome = WG_PAGE_DECLINED;
    page->declined_ms = now_ms;
    alarm_copy_text(page->reason, sizeof page->reason, reason);
    alarm_update(engine->alarms, alarm, "decline");
    return 0;
}

/* ---- claims ---- */

int engine_claim_rooms(struct wg_engine *engine, const char *user, const size_t *rooms,
                       size_t room_count, int64_t now_ms, bool restoring, char *why, size_t why_len)
{
    size_t member = member_of(engine, user);
    int64_t start = 0;
    if (member == WG_NO_INDEX) {
        snprintf(why, why_len, "%s is not in the staff list (config staff.people)", user);
        return -1;
    }
    if (engine_shift_now(engine, now_ms, &start) < 0) {
        snprintf(why, why_len, "no shift runs now (config staff.shifts)");
        return -1;
    }
    for (size_t i = 0; i < room_count; i++)
        if (rooms[i] >= engine->config->room_count) {
            snprintf(why, why_len, "claim of %s: room index %zu is not a room of this config", user,
                     rooms[i]);
            return -1;
        }
    struct staff_state *state = &engine->staff[member];
    size_t *claims = room_count ? malloc(room_count * sizeof *claims) : NULL;
    if (room_count && !claims) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < room_count; i++)
        claims[i] = rooms[i];
    free(state->claims);
    state->claims = claims;
    state->claim_count = room_count;
    state->claim_shift_ms = start;
    if (!restoring && engine->host.staff_changed)
        engine->host.staff_changed(engine->host.ctx);
    return 0;
}

/* ---- life cycle ---- */

int engine_paging_rebuild(struct wg_engine *engine, const struct wg_config *old, int64_t now)
{
    const struct wg_staffing *staff = staffing(engine);
    struct staff_state *states =
        calloc(staff->people_count ? staff->people_count : 1, sizeof *states);
    if (!states)
        return -1;
    for (size_t m = 0; m < staff->people_count; m++) {
        for (size_t o = 0; old && o < engine->staff_count; o++) {
            if (strcmp(old->staff.people[o].user, staff->people[m].user) != 0)
                continue;
            struct staff_state *was = &engine->staff[o];
            states[m] = *was;
            states[m].claims = NULL;
            states[m].claim_count = 0;
            /* Claimed rooms carry over by id. */
            size_t *claims = malloc((was->claim_count ? was->claim_count : 1) * sizeof *claims);
            for (size_t i = 0; claims && i < was->claim_count; i++) {
                size_t room = config_find_room(engine->config, old->rooms[was->claims[i]].id);
                if (room != WG_NO_INDEX)
                    claims[states[m].claim_count++] = room;
            }
            states[m].claims = claims;
            memset(was->offline_alarm, 0, sizeof was->offline_alarm);
        }
    }
    /* People gone from the list: their phone alarms end. */
    for (size_t o = 0; old && o < engine->staff_count; o++)
        if (engine->staff[o].offline_alarm[0])
            end_phone_alarm(engine, &engine->staff[o], "no longer on the staff list", now);
    engine_paging_free(engine);
    engine->staff = states;
    engine->staff_count = staff->people_count;
    if (!old)
        engine->last_shift = -2;
    return 0;
}

void engine_paging_free(struct wg_engine *engine)
{
    for (size_t m = 0; engine->staff && m < engine->staff_count; m++)
        free(engine->staff[m].claims);
    free(engine->staff);
    engine->staff = NULL;
    engine->staff_count = 0;
}

void engine_paging_relink(struct wg_engine *engine, struct wg_alarm *alarm, int64_t now)
{
    size_t member = member_of(engine, alarm->device);
    if (member == WG_NO_INDEX) {
        alarm_reset(engine->alarms, alarm, "phone", "no longer on the staff list", now);
        return;
    }
    memcpy(engine->staff[member].offline_alarm, alarm->id, 37);
    engine->staff[member].seen = true;
}

void engine_paging_ended(struct wg_engine *engine, const struct wg_alarm *alarm)
{
    memcpy(engine->ended[engine->ended_next], alarm->id, 37);
    engine->ended_next = (engine->ended_next + 1) % ENDED_KEPT;
}
