/* Unit tests of paging carers' phones (engine_paging.c, engine.h's "paging
 * carers' phones"), driven with explicit times in UTC on zone f1 (rooms 101
 * and 102) with a day and a night shift: the chain from the room's carer
 * through the zone's carers one at a time to the floor lead, the manager and
 * the district, with the escalation it brings; an acceptance ending it (the
 * time-based levels still run); delivery and phones never connected; no
 * cover; declines, their reasons and backing out of an acceptance; refused
 * answers; the phone_offline technical alarm; claims for a shift; a restart
 * and a reload keeping the pages, the claims and ending a removed person's
 * alarm. */
#include "testutil.h"
#include "testconfig.h"
#include "testengine.h"

#include <math.h>
#include <time.h>

#include "alarm/alarm.h"
#include "alarm/engine.h"
#include "config/config.h"

#define MAX_SEEN 256

struct fixture {
    char *dir;
    struct wg_config *config;
    struct wg_engine *engine;
    int64_t now;
    double values[TEST_ENGINE_MAX][TEST_ENGINE_MAX];
    char alarms[MAX_SEEN][80]; /* "kind:phase" */
    size_t alarm_count;
    char paged[MAX_SEEN][WG_PAGE_USER + WG_ALARM_TEXT]; /* "user room" */
    size_t paged_count;
    size_t staff_changes;
    char reset_from[WG_ALARM_TEXT]; /* of the last phone_offline alarm reset */
};

static const char *const devices_text =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
    "  - {id: call-102A, bus: p1, address: 2, profile: call-point, bed: 102-A}\n"
    "  - {id: presence-101, bus: p1, address: 3, profile: presence-reset, room: \"101\"}\n"
    "  - {id: presence-102, bus: p1, address: 4, profile: presence-reset, room: \"102\"}\n"
    "rules:\n"
    "  - {id: call, kind: call}\n"
    "  - {id: presence, kind: presence}\n";

/* Day: ann covers 101, bob and cat 102, lee (floor lead) the zone; max,
 * the manager, covers nothing (never on duty). Night: ann and bob cover
 * 102, nobody covers 101. The escalation levels are the defaults. */
static const char *const staff_text = "staff:\n"
                                      "  accept_s: 20\n"
                                      "  delivery_s: 5\n"
                                      "  phone_offline_s: 30\n"
                                      "  shifts:\n"
                                      "    - {id: day, name: 白班, window: \"08:00-20:00\"}\n"
                                      "    - {id: night, name: 夜班, window: \"20:00-08:00\"}\n"
                                      "  people:\n"
                                      "    - {user: ann, name: Ann, role: carer}\n"
                                      "    - {user: bob, name: Bob, role: carer}\n"
                                      "    - {user: cat, name: Cat, role: nurse}\n"
                                      "    - {user: lee, name: Lee, role: floor_lead}\n"
                                      "    - {user: max, name: Max, role: manager}\n"
                                      "  cover:\n"
                                      "    day:\n"
                                      "      - {user: ann, rooms: [\"101\"]}\n"
                                      "      - {user: bob, rooms: [\"102\"]}\n"
                                      "      - {user: cat, rooms: [\"102\"]}\n"
                                      "      - {user: lee, zones: [f1]}\n"
                                      "    night:\n"
                                      "      - {user: ann, rooms: [\"102\"]}\n"
                                      "      - {user: bob, rooms: [\"102\"]}\n";

#define DAY   0
#define NIGHT 1

/* 2026-11-22 in UTC. */
static int64_t utc(int hour, int minute)
{
    return 1795305600000LL + (hour * 60 + minute) * 60000LL;
}

static void on_alarm(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct fixture *f = ctx;
    if (f->alarm_count < MAX_SEEN)
        snprintf(f->alarms[f->alarm_count++], sizeof f->alarms[0], "%s:%s", alarm->kind, phase);
    if (strcmp(alarm->kind, "phone_offline") == 0 && strcmp(phase, "reset") == 0)
        snprintf(f->reset_from, sizeof f->reset_from, "%s", alarm->reset_from);
}

static uint64_t on_write(void *ctx, size_t device, size_t point, double value)
{
    (void)ctx, (void)device, (void)point, (void)value;
    return 1;
}

static void on_paged(void *ctx, const struct wg_alarm *alarm, const char *user)
{
    struct fixture *f = ctx;
    if (f->paged_count < MAX_SEEN)
        snprintf(f->paged[f->paged_count++], sizeof f->paged[0], "%s %s", user, alarm->room);
}

static void on_staff_changed(void *ctx)
{
    struct fixture *f = ctx;
    f->staff_changes++;
}

static struct wg_engine *new_engine(struct fixture *f)
{
    return engine_new(f->config,
                      (struct wg_engine_host){f, on_alarm, on_write, NULL, NULL, NULL, NULL,
                                              on_paged, on_staff_changed},
                      f->now);
}

/* The site with these devices and `staff` (with room 100 placed before 101
 * when `room_100`: the other rooms' indexes move). */
static struct wg_config *load(struct fixture *f, const char *staff, bool room_100)
{
    char *text = NULL;
    assert_true(asprintf(&text, "%s%s", devices_text, staff) > 0);
    char *path = test_site_config(f->dir, text);
    free(text);
    assert_non_null(path);
    if (room_100) {
        FILE *in = fopen(path, "r");
        assert_non_null(in);
        char site[8192];
        size_t len = fread(site, 1, sizeof site - 1, in);
        fclose(in);
        site[len] = '\0';
        const char *mark = "      - {id: \"101\"";
        char *at = strstr(site, mark);
        assert_non_null(at);
        FILE *out = fopen(path, "w");
        assert_non_null(out);
        fprintf(out, "%.*s      - {id: \"100\", kind: resident, beds: [A]}\n%s", (int)(at - site),
                site, at);
        fclose(out);
    }
    return test_load_config(path);
}

/* `text` without its lines that contain `word` (caller frees). */
static char *without_lines(const char *text, const char *word)
{
    char *out = calloc(1, strlen(text) + 1);
    assert_non_null(out);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        char *copy = strndup(line, len);
        if (!strstr(copy, word))
            strcat(out, copy);
        free(copy);
        line += len;
    }
    return out;
}

static int setup(void **state)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    f->config = load(f, staff_text, false);
    assert_non_null(f->config);
    for (size_t d = 0; d < TEST_ENGINE_MAX; d++)
        for (size_t p = 0; p < TEST_ENGINE_MAX; p++)
            f->values[d][p] = NAN;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    engine_free(f->engine);
    config_free(f->config);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* The engine starts at hh:mm. */
static void begin(struct fixture *f, int hour, int minute)
{
    f->now = utc(hour, minute);
    f->engine = new_engine(f);
    assert_non_null(f->engine);
}

static void set(struct fixture *f, const char *device, const char *point, double value)
{
    test_engine_reading(f->engine, f->config, f->values, device, point, value, f->now);
}

/* Seconds pass; every device answers (no supervision alarm) and the engine ticks. */
static void advance(struct fixture *f, int seconds)
{
    for (int s = 0; s < seconds; s++)
        test_engine_second(f->engine, f->config, f->values, &f->now, NULL);
}

static void until(struct fixture *f, int64_t when)
{
    while (f->now < when)
        test_engine_second(f->engine, f->config, f->values, &f->now, NULL);
}

static void phones(struct fixture *f, const char *user, int count)
{
    engine_phones(f->engine, user, count, f->now);
}

static size_t member(struct fixture *f, const char *user)
{
    for (size_t m = 0; m < f->config->staff.people_count; m++)
        if (strcmp(f->config->staff.people[m].user, user) == 0)
            return m;
    fail_msg("no staff member %s", user);
    return WG_NO_INDEX;
}

static size_t room(struct fixture *f, const char *id)
{
    size_t r = config_find_room(f->config, id);
    assert_true(r != WG_NO_INDEX);
    return r;
}

/* The active alarm of this kind from this device, or NULL. */
static struct wg_alarm *active_from(struct fixture *f, const char *kind, const char *device)
{
    const struct wg_alarm *active[32];
    size_t n = alarm_active(engine_alarms(f->engine), active, 32);
    for (size_t i = 0; i < n; i++)
        if (strcmp(active[i]->kind, kind) == 0 && strcmp(active[i]->device, device) == 0)
            return alarm_find(engine_alarms(f->engine), active[i]->id);
    return NULL;
}

static size_t active_of(struct fixture *f, const char *kind)
{
    const struct wg_alarm *active[32];
    size_t n = alarm_active(engine_alarms(f->engine), active, 32), count = 0;
    for (size_t i = 0; i < n; i++)
        count += strcmp(active[i]->kind, kind) == 0;
    return count;
}

/* The call button of the room's bed A is pressed: the call's id (37 bytes into `id`). */
static void call(struct fixture *f, const char *room_id, char *id)
{
    char device[32];
    snprintf(device, sizeof device, "call-%sA", room_id);
    set(f, device, "call", 1);
    struct wg_alarm *alarm = active_from(f, "call", device);
    assert_non_null(alarm);
    memcpy(id, alarm->id, 37);
}

static struct wg_alarm *alarm_of(struct fixture *f, const char *id)
{
    struct wg_alarm *alarm = alarm_find(engine_alarms(f->engine), id);
    assert_non_null(alarm);
    return alarm;
}

static const struct wg_page *page_of(struct fixture *f, const char *id, const char *user)
{
    const struct wg_paging *paging = &alarm_of(f, id)->paging;
    for (size_t i = 0; i < paging->page_count; i++)
        if (strcmp(paging->pages[i].user, user) == 0)
            return &paging->pages[i];
    fail_msg("%s was not paged for %s", user, id);
    return NULL;
}

static const char *outcome(struct fixture *f, const char *id, const char *user)
{
    return page_outcome_name(page_of(f, id, user)->outcome);
}

static const char *step_kind(struct fixture *f, const char *id)
{
    return page_step_name(alarm_of(f, id)->paging.step_kind);
}

static void received(struct fixture *f, const char *id, const char *user)
{
    char why[256] = "";
    int rc = engine_page_received(f->engine, id, user, f->now, why, sizeof why);
    if (rc != 0)
        fail_msg("receipt of %s refused (%d): %s", user, rc, why);
}

static int accept(struct fixture *f, const char *id, const char *user, char *why, size_t len)
{
    why[0] = '\0';
    return engine_page_accept(f->engine, id, user, f->now, why, len);
}

static int decline(struct fixture *f, const char *id, const char *user, const char *reason,
                   char *why, size_t len)
{
    why[0] = '\0';
    return engine_page_decline(f->engine, id, user, reason, f->now, why, len);
}

static size_t level(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < f->config->escalation.level_count; i++)
        if (strcmp(f->config->escalation.levels[i].name, name) == 0)
            return i;
    fail_msg("no escalation level %s", name);
    return 0;
}

static size_t seen(struct fixture *f, const char *entry)
{
    size_t count = 0;
    for (size_t i = 0; i < f->alarm_count; i++)
        count += strcmp(f->alarms[i], entry) == 0;
    return count;
}

static void all_phones_on(struct fixture *f)
{
    static const char *const users[] = {"ann", "bob", "cat", "lee", "max"};
    for (size_t i = 0; i < 5; i++)
        phones(f, users[i], 1);
}

/* 1. Room carer, then the zone's carers one at a time, the floor lead, the
 * manager, the district: each step after accept_s of the one before. */
static void test_the_chain_runs_to_the_district(void **state)
{
    struct fixture *f = *state;
    /* the default levels, far behind the chain with accept_s 20 */
    assert_int_equal(f->config->escalation.level_count, 4);
    assert_int_equal(level(f, "floor_lead"), 1);
    assert_int_equal(f->config->escalation.levels[1].after_s, 300);
    assert_int_equal(level(f, "manager"), 2);
    assert_int_equal(level(f, "district"), 3);
    assert_int_equal(f->config->staff.accept_s, 20);
    begin(f, 10, 0);
    all_phones_on(f);
    int64_t t0 = f->now;
    char id[37];
    call(f, "101", id);
    assert_int_equal(f->paged_count, 1);
    assert_string_equal(f->paged[0], "ann 101");
    struct wg_alarm *alarm = alarm_of(f, id);
    assert_true(alarm->paging.active);
    assert_false(alarm->paging.no_cover);
    assert_int_equal(alarm->paging.step, 0);
    assert_string_equal(step_kind(f, id), "room");
    assert_int_equal(alarm->paging.accepted, -1);
    assert_int_equal(alarm->escalation_level, 0);
    const struct wg_page *ann = page_of(f, id, "ann");
    assert_string_equal(ann->name, "Ann");
    assert_int_equal(ann->care_role, WG_CARE_CARER);
    assert_int_equal(ann->step, 0);
    assert_true(ann->notified_ms == t0);
    assert_string_equal(outcome(f, id, "ann"), "waiting");
    received(f, id, "ann");
    assert_string_equal(outcome(f, id, "ann"), "received");
    assert_true(page_of(f, id, "ann")->received_ms == t0);
    assert_string_equal(f->alarms[f->alarm_count - 1], "call:received");

    /* accept_s passes: the zone's next carer, bob (cat, who also covers 102, waits) */
    advance(f, 19);
    assert_int_equal(f->paged_count, 1);
    assert_string_equal(outcome(f, id, "ann"), "received");
    advance(f, 1);
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(f->paged[1], "bob 101");
    assert_string_equal(outcome(f, id, "ann"), "timed_out");
    assert_string_equal(step_kind(f, id), "zone");
    assert_int_equal(alarm_of(f, id)->paging.step, 1);
    assert_true(alarm_of(f, id)->paging.step_ms == t0 + 20000);
    assert_int_equal(page_of(f, id, "bob")->step, 1);
    assert_string_equal(f->alarms[f->alarm_count - 1], "call:notify");
    received(f, id, "bob");

    /* then cat, the zone's other carer */
    advance(f, 19);
    assert_int_equal(f->paged_count, 2);
    advance(f, 1);
    assert_int_equal(f->paged_count, 3);
    assert_string_equal(f->paged[2], "cat 101");
    assert_string_equal(outcome(f, id, "bob"), "timed_out");
    assert_string_equal(step_kind(f, id), "zone");
    assert_int_equal(page_of(f, id, "cat")->care_role, WG_CARE_NURSE);
    assert_int_equal(alarm_of(f, id)->escalation_level, 0);
    received(f, id, "cat");

    /* then the floor lead: the call escalates to floor_lead's level */
    advance(f, 20);
    assert_int_equal(f->paged_count, 4);
    assert_string_equal(f->paged[3], "lee 101");
    assert_string_equal(outcome(f, id, "cat"), "timed_out");
    assert_string_equal(step_kind(f, id), "floor_lead");
    assert_int_equal(alarm_of(f, id)->paging.step, 3);
    assert_int_equal(alarm_of(f, id)->escalation_level, (int)level(f, "floor_lead"));
    assert_true(alarm_of(f, id)->escalated_ms[1] == t0 + 60000);
    assert_string_equal(f->alarms[f->alarm_count - 1], "call:escalate");
    assert_int_equal(seen(f, "call:escalate"), 1);
    received(f, id, "lee");

    /* then the manager */
    advance(f, 20);
    assert_int_equal(f->paged_count, 5);
    assert_string_equal(f->paged[4], "max 101");
    assert_int_equal(page_of(f, id, "max")->care_role, WG_CARE_MANAGER);
    assert_string_equal(outcome(f, id, "lee"), "timed_out");
    assert_string_equal(step_kind(f, id), "manager");
    assert_int_equal(alarm_of(f, id)->escalation_level, (int)level(f, "manager"));
    assert_int_equal(seen(f, "call:escalate"), 2);
    received(f, id, "max");

    /* then the district: no phone, the escalation event */
    advance(f, 20);
    assert_int_equal(f->paged_count, 5);
    assert_string_equal(outcome(f, id, "max"), "timed_out");
    assert_string_equal(step_kind(f, id), "district");
    assert_int_equal(alarm_of(f, id)->paging.step, 5);
    assert_int_equal(alarm_of(f, id)->escalation_level, (int)level(f, "district"));
    assert_true(alarm_of(f, id)->escalated_ms[3] == t0 + 100000);
    assert_int_equal(seen(f, "call:escalate"), 3);
    assert_int_equal(alarm_of(f, id)->paging.page_count, 5);

    /* nothing further, through the time-based levels */
    until(f, t0 + 1900000);
    assert_int_equal(f->paged_count, 5);
    assert_int_equal(seen(f, "call:escalate"), 3);
    assert_string_equal(step_kind(f, id), "district");
}

/* 2. An acceptance ends the chain and acknowledges from the phone; the
 * time-based floor_lead level still pages the floor lead. */
static void test_acceptance_ends_the_chain(void **state)
{
    struct fixture *f = *state;
    begin(f, 10, 0);
    all_phones_on(f);
    int64_t t0 = f->now;
    char id[37], why[256];
    call(f, "102", id);
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(f->paged[0], "bob 102");
    assert_string_equal(f->paged[1], "cat 102");
    advance(f, 1);
    received(f, id, "cat");
    advance(f, 1);
    assert_int_equal(accept(f, id, "bob", why, sizeof why), 0);
    struct wg_alarm *alarm = alarm_of(f, id);
    assert_string_equal(f->alarms[f->alarm_count - 1], "call:accept");
    assert_int_equal(alarm->state, WG_ALARM_ACKNOWLEDGED);
    assert_string_equal(alarm->acknowledged_by, "bob");
    assert_string_equal(alarm->acknowledged_from, "phone");
    assert_true(alarm->acknowledged_ms == t0 + 2000);
    assert_int_equal(alarm->paging.accepted, 0);
    assert_string_equal(outcome(f, id, "bob"), "accepted");
    assert_true(page_of(f, id, "bob")->accepted_ms == t0 + 2000);
    assert_true(page_of(f, id, "bob")->received_ms == t0 + 2000); /* accepting shows receipt */
    assert_string_equal(outcome(f, id, "cat"), "stood_down");
    assert_int_equal(accept(f, id, "bob", why, sizeof why), 0); /* again: still accepted */

    /* many accept_s periods: nobody else is paged, nothing changes */
    size_t updates = f->alarm_count;
    until(f, t0 + 299000);
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(step_kind(f, id), "room");
    assert_string_equal(outcome(f, id, "bob"), "accepted");
    assert_string_equal(outcome(f, id, "cat"), "stood_down");
    assert_int_equal(alarm_of(f, id)->escalation_level, 0);
    assert_int_equal(f->alarm_count, updates + 1); /* the re-annunciation at 180 s only */
    assert_string_equal(f->alarms[f->alarm_count - 1], "call:reannunciate");

    /* the call is not attended: at 300 s floor_lead's level pages the floor lead */
    advance(f, 1);
    assert_int_equal(alarm_of(f, id)->escalation_level, (int)level(f, "floor_lead"));
    assert_int_equal(f->paged_count, 3);
    assert_string_equal(f->paged[2], "lee 102");
    assert_string_equal(step_kind(f, id), "floor_lead");
    assert_true(page_of(f, id, "lee")->notified_ms == t0 + 300000);
    assert_int_equal(alarm_of(f, id)->paging.accepted, 0);
    assert_int_equal(accept(f, id, "lee", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    assert_non_null(strstr(why, "Bob"));
}

/* 3. No phone connected: not reached at once, the next step at the next
 * tick; a phone that does not confirm within delivery_s: not reached. */
static void test_delivery(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->config->staff.delivery_s, 5);
    begin(f, 10, 0);
    phones(f, "bob", 1);
    phones(f, "cat", 1);
    int64_t t0 = f->now;
    char id[37];
    call(f, "101", id);
    assert_int_equal(f->paged_count, 1);
    assert_string_equal(f->paged[0], "ann 101");
    assert_string_equal(outcome(f, id, "ann"), "not_reached");
    assert_string_equal(step_kind(f, id), "room");
    advance(f, 1);
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(f->paged[1], "bob 101");
    assert_string_equal(step_kind(f, id), "zone");
    assert_true(page_of(f, id, "bob")->notified_ms == t0 + 1000);
    advance(f, 4);
    assert_string_equal(outcome(f, id, "bob"), "waiting");
    assert_int_equal(f->paged_count, 2);
    advance(f, 1);
    assert_string_equal(outcome(f, id, "bob"), "not_reached");
    assert_int_equal(f->paged_count, 3);
    assert_string_equal(f->paged[2], "cat 101");
    assert_true(page_of(f, id, "cat")->notified_ms == t0 + 6000);
    /* a receipt that comes too late keeps not_reached, but is recorded */
    received(f, id, "bob");
    assert_string_equal(outcome(f, id, "bob"), "not_reached");
    assert_true(page_of(f, id, "bob")->received_ms == t0 + 6000);
}

/* 4. A room nobody covers: everyone on duty at once (carers and nurses). */
static void test_no_cover_pages_everyone_on_duty(void **state)
{
    struct fixture *f = *state;
    begin(f, 21, 0); /* night: ann and bob cover 102, nobody 101 */
    all_phones_on(f);
    size_t zones[4];
    assert_int_equal(engine_uncovered_zones(f->engine, f->now, zones, 4), 0);
    char id[37];
    call(f, "101", id);
    struct wg_alarm *alarm = alarm_of(f, id);
    assert_true(alarm->paging.no_cover);
    assert_string_equal(step_kind(f, id), "everyone");
    assert_int_equal(alarm->paging.step, 0);
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(f->paged[0], "ann 101");
    assert_string_equal(f->paged[1], "bob 101");
    /* after accept_s: the floor lead's step (lee, off duty, but his phone is on) */
    received(f, id, "ann");
    received(f, id, "bob");
    advance(f, 20);
    assert_string_equal(step_kind(f, id), "floor_lead");
    assert_int_equal(f->paged_count, 3);
    assert_string_equal(f->paged[2], "lee 101");
}

/* 5. Declines: the chain goes on at the next tick once every page of the
 * step is finished; the reasons allowed. */
static void test_declines_and_their_reasons(void **state)
{
    struct fixture *f = *state;
    begin(f, 10, 0);
    all_phones_on(f);
    int64_t t0 = f->now;
    char id[37], why[256];
    call(f, "102", id);
    received(f, id, "cat");
    advance(f, 2);
    assert_int_equal(decline(f, id, "bob", "busy in 101", why, sizeof why), 0);
    assert_string_equal(f->alarms[f->alarm_count - 1], "call:decline");
    assert_string_equal(outcome(f, id, "bob"), "declined");
    assert_string_equal(page_of(f, id, "bob")->reason, "busy in 101");
    assert_true(page_of(f, id, "bob")->declined_ms == t0 + 2000);
    advance(f, 1);
    assert_int_equal(f->paged_count, 2); /* cat has not answered */
    assert_int_equal(decline(f, id, "bob", "again", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    assert_non_null(strstr(why, "declined already"));

    /* the reasons refused */
    char long_reason[80];
    memset(long_reason, 'x', 61);
    long_reason[61] = '\0';
    static const char *const bad[] = {"",
                                      "a\nb",
                                      "\x01",
                                      "tab\there",
                                      "del\x7f",
                                      "\xff",
                                      "\xe5\xbf",         /* a character cut short */
                                      "\xc0\xaf",         /* an overlong '/' */
                                      "\xed\xa0\x80",     /* a surrogate */
                                      "\xf4\x90\x80\x80", /* past U+10FFFF */
                                      "\xc2\x85"};        /* U+0085, a C1 control character */
    assert_int_equal(decline(f, id, "cat", long_reason, why, sizeof why), WG_PAGE_REFUSED_BAD);
    assert_non_null(strstr(why, "60"));
    assert_int_equal(decline(f, id, "cat", NULL, why, sizeof why), WG_PAGE_REFUSED_BAD);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (decline(f, id, "cat", bad[i], why, sizeof why) != WG_PAGE_REFUSED_BAD)
            fail_msg("reason %zu was not refused", i);
    assert_string_equal(outcome(f, id, "cat"), "received");

    /* a 4-byte character passes (lee's decline is refused only as not his) */
    assert_int_equal(decline(f, id, "lee", "\xf0\x9f\x98\x80", why, sizeof why),
                     WG_PAGE_REFUSED_NOT_YOURS);
    /* 60 Chinese characters (180 bytes) are a good reason */
    char chinese[256] = "";
    for (int i = 0; i < 60; i++)
        strcat(chinese, "忙");
    assert_int_equal(strlen(chinese), 180);
    assert_int_equal(decline(f, id, "cat", chinese, why, sizeof why), 0);
    assert_string_equal(page_of(f, id, "cat")->reason, chinese);
    assert_int_equal(f->paged_count, 2); /* the next tick moves on */
    advance(f, 1);
    assert_int_equal(f->paged_count, 3);
    assert_string_equal(f->paged[2], "ann 102");
    assert_string_equal(step_kind(f, id), "zone");
    assert_true(page_of(f, id, "ann")->notified_ms == t0 + 4000);

    /* 60 ASCII characters too; the JSON record keeps the Chinese reason */
    long_reason[60] = '\0';
    assert_int_equal(decline(f, id, "ann", long_reason, why, sizeof why), 0);
    json_t *record = alarm_to_json(alarm_of(f, id));
    json_t *pages = json_object_get(json_object_get(record, "paging"), "pages");
    assert_int_equal(json_array_size(pages), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pages, 1), "reason")),
                        chinese);
    json_decref(record);
    advance(f, 1);
    assert_string_equal(step_kind(f, id), "floor_lead");
}

/* An acceptance backed out of (declined by whoever accepted): the chain goes
 * on at the next tick. */
static void test_backing_out_of_an_acceptance(void **state)
{
    struct fixture *f = *state;
    begin(f, 10, 0);
    all_phones_on(f);
    int64_t t0 = f->now;
    char id[37], why[256];
    call(f, "102", id);
    advance(f, 1);
    assert_int_equal(accept(f, id, "bob", why, sizeof why), 0);
    assert_string_equal(outcome(f, id, "cat"), "stood_down");
    advance(f, 1);
    assert_int_equal(f->paged_count, 2);
    assert_int_equal(
        decline(f, id, "bob", "\xf0\x9f\x98\x80 resident fell in 101", why, sizeof why), 0);
    assert_int_equal(alarm_of(f, id)->paging.accepted, -1);
    assert_string_equal(outcome(f, id, "bob"), "declined");
    assert_int_equal(f->paged_count, 2);
    advance(f, 1);
    assert_int_equal(f->paged_count, 3);
    assert_string_equal(f->paged[2], "ann 102");
    assert_string_equal(step_kind(f, id), "zone");
    assert_true(page_of(f, id, "ann")->notified_ms == t0 + 3000);
}

/* 6. Answers refused: not paged, unknown, attended, reset, accepted by another. */
static void test_refused_answers(void **state)
{
    struct fixture *f = *state;
    begin(f, 10, 0);
    all_phones_on(f);
    char a[37], b[37], why[256];
    call(f, "101", a);
    call(f, "102", b);
    assert_int_equal(accept(f, a, "lee", why, sizeof why), WG_PAGE_REFUSED_NOT_YOURS);
    assert_non_null(strstr(why, "not sent to lee"));
    assert_int_equal(accept(f, a, "nobody", why, sizeof why), WG_PAGE_REFUSED_NOT_YOURS);
    assert_int_equal(engine_page_received(f->engine, a, "bob", f->now, why, sizeof why),
                     WG_PAGE_REFUSED_NOT_YOURS);
    assert_int_equal(decline(f, a, "cat", "busy", why, sizeof why), WG_PAGE_REFUSED_NOT_YOURS);
    const char *unknown = "00000000-0000-0000-0000-000000000000";
    assert_int_equal(accept(f, unknown, "ann", why, sizeof why), WG_PAGE_REFUSED_UNKNOWN);
    assert_non_null(strstr(why, "no active call"));
    assert_int_equal(engine_page_received(f->engine, unknown, "ann", f->now, why, sizeof why),
                     WG_PAGE_REFUSED_UNKNOWN);

    /* 102: bob accepts; cat's accept names him */
    advance(f, 1);
    assert_int_equal(accept(f, b, "bob", why, sizeof why), 0);
    assert_int_equal(accept(f, b, "cat", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    assert_non_null(strstr(why, "accepted by Bob"));
    assert_int_equal(decline(f, b, "cat", "busy", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);

    /* 101: attended, then reset at its origin */
    set(f, "call-101A", "call", 0);
    set(f, "presence-101", "presence", 1);
    assert_int_equal(alarm_of(f, a)->state, WG_ALARM_ATTENDED);
    assert_string_equal(outcome(f, a, "ann"), "stood_down");
    assert_string_equal(step_kind(f, a), "done");
    assert_int_equal(accept(f, a, "ann", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    assert_non_null(strstr(why, "attended"));
    set(f, "presence-101", "presence", 0);
    assert_null(active_from(f, "call", "call-101A"));
    assert_int_equal(accept(f, a, "ann", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    assert_non_null(strstr(why, "reset"));
    assert_int_equal(engine_page_received(f->engine, a, "ann", f->now, why, sizeof why),
                     WG_PAGE_REFUSED_CONFLICT);
    assert_int_equal(decline(f, a, "ann", "busy", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    /* no page after the attendance: nothing more happens on the reset call */
    size_t paged = f->paged_count;
    advance(f, 60);
    assert_int_equal(f->paged_count, paged);
}

/* 7. A phone that drops off while its carer is on duty: a technical alarm
 * after phone_offline_s; back on, it ends; off duty, none; the shift's end
 * ends one that is open. */
static void test_phone_offline(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->config->staff.phone_offline_s, 30);
    begin(f, 19, 57);
    phones(f, "cat", 1);
    phones(f, "max", 1); /* the manager covers nothing: never on duty */
    assert_int_equal(f->staff_changes, 2);
    struct wg_duty duty;
    engine_duty(f->engine, member(f, "cat"), f->now, &duty);
    assert_true(duty.on_duty);
    assert_int_equal(duty.phones, 1);
    advance(f, 10);
    phones(f, "cat", 0);
    phones(f, "max", 0);
    advance(f, 29);
    assert_int_equal(active_of(f, "phone_offline"), 0);
    advance(f, 1); /* 19:57:40 */
    assert_int_equal(active_of(f, "phone_offline"), 1);
    struct wg_alarm *alarm = active_from(f, "phone_offline", "cat");
    assert_non_null(alarm);
    assert_int_equal(alarm->priority, WG_PRIO_TECHNICAL);
    assert_true(alarm->raised_ms == utc(19, 57) + 40000);
    assert_string_equal(alarm->zone, "f1");
    assert_string_equal(alarm->detail_code, "phone_offline");
    assert_non_null(strstr(alarm->detail_args, "\"user\":\"cat\""));
    assert_non_null(strstr(alarm->detail_args, "\"seconds\":30"));
    assert_false(alarm->paging.active); /* a technical alarm is not paged */
    engine_duty(f->engine, member(f, "cat"), f->now, &duty);
    assert_true(duty.phone_alarm);
    size_t changes = f->staff_changes;

    /* back on: it ends at once */
    advance(f, 10);
    phones(f, "cat", 1);
    assert_int_equal(active_of(f, "phone_offline"), 0);
    assert_string_equal(f->reset_from, "phone connected again");
    assert_int_equal(f->staff_changes, changes + 1);
    engine_duty(f->engine, member(f, "cat"), f->now, &duty);
    assert_false(duty.phone_alarm);

    /* off again: a new one, which the shift's end ends */
    phones(f, "cat", 0);
    advance(f, 29);
    assert_int_equal(active_of(f, "phone_offline"), 0);
    advance(f, 1);
    assert_int_equal(active_of(f, "phone_offline"), 1);
    until(f, utc(20, 0) - 1000);
    assert_int_equal(active_of(f, "phone_offline"), 1);
    advance(f, 1);
    assert_int_equal(active_of(f, "phone_offline"), 0);
    assert_string_equal(f->reset_from, "off duty");
    engine_duty(f->engine, member(f, "cat"), f->now, &duty);
    assert_false(duty.on_duty);
    assert_false(duty.phone_alarm);
    advance(f, 60);
    assert_int_equal(seen(f, "phone_offline:raise"), 2);
    assert_int_equal(seen(f, "phone_offline:reset"), 2);
    assert_null(active_from(f, "phone_offline", "max"));
}

/* 8. A claim makes its member cover the room for the running shift only. */
static void test_claims_last_their_shift(void **state)
{
    struct fixture *f = *state;
    begin(f, 19, 50);
    all_phones_on(f);
    int64_t start = 0;
    assert_int_equal(engine_shift_now(f->engine, f->now, &start), DAY);
    assert_true(start == utc(8, 0));
    assert_int_equal(engine_shift_next(f->engine, f->now, &start), NIGHT);
    assert_true(start == utc(20, 0));
    char why[256] = "";
    size_t r101 = room(f, "101"), cat = member(f, "cat");
    assert_false(engine_covers(f->engine, cat, DAY, r101, f->now));
    size_t changes = f->staff_changes;
    assert_int_equal(engine_claim_rooms(f->engine, "cat", &r101, 1, f->now, false, why, sizeof why),
                     0);
    assert_int_equal(f->staff_changes, changes + 1);
    assert_int_equal(
        engine_claim_rooms(f->engine, "nobody", &r101, 1, f->now, false, why, sizeof why), -1);
    assert_non_null(strstr(why, "not in the staff list"));
    assert_true(engine_covers(f->engine, cat, DAY, r101, f->now));
    struct wg_duty duty;
    engine_duty(f->engine, cat, f->now, &duty);
    assert_int_equal(duty.claim_count, 1);
    assert_int_equal(duty.claims[0], r101);

    /* a call in 101 pages its two carers: by cover and by claim */
    char id[37];
    call(f, "101", id);
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(f->paged[0], "ann 101");
    assert_string_equal(f->paged[1], "cat 101");
    assert_string_equal(step_kind(f, id), "room");
    set(f, "call-101A", "call", 0);
    set(f, "presence-101", "presence", 1);
    set(f, "presence-101", "presence", 0);
    assert_null(active_from(f, "call", "call-101A"));

    /* the night shift begins: the claim is gone */
    until(f, utc(20, 0) - 1000);
    engine_duty(f->engine, cat, f->now, &duty);
    assert_int_equal(duty.claim_count, 1);
    changes = f->staff_changes;
    advance(f, 1);
    assert_true(f->staff_changes > changes);
    engine_duty(f->engine, cat, f->now, &duty);
    assert_int_equal(duty.claim_count, 0);
    assert_false(duty.on_duty);
    assert_false(engine_covers(f->engine, cat, NIGHT, r101, f->now));
    advance(f, 1);
    call(f, "101", id);
    assert_true(alarm_of(f, id)->paging.no_cover);
    assert_int_equal(f->paged_count, 4);
    assert_string_equal(f->paged[2], "ann 101");
    assert_string_equal(f->paged[3], "bob 101");

    /* a claim in the night shift makes cat on duty, covering the room */
    assert_int_equal(engine_claim_rooms(f->engine, "cat", &r101, 1, f->now, false, why, sizeof why),
                     0);
    engine_duty(f->engine, cat, f->now, &duty);
    assert_true(duty.on_duty);
    assert_true(engine_covers(f->engine, cat, NIGHT, r101, f->now));
    /* none releases */
    assert_int_equal(engine_claim_rooms(f->engine, "cat", NULL, 0, f->now, false, why, sizeof why),
                     0);
    engine_duty(f->engine, cat, f->now, &duty);
    assert_false(duty.on_duty);
}

static void assert_same_paging(const struct wg_paging *a, const struct wg_paging *b)
{
    assert_int_equal(a->active, b->active);
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->step_kind, b->step_kind);
    assert_true(a->step_ms == b->step_ms);
    assert_int_equal(a->no_cover, b->no_cover);
    assert_int_equal(a->accepted, b->accepted);
    assert_int_equal(a->page_count, b->page_count);
    for (size_t i = 0; i < a->page_count; i++) {
        const struct wg_page *x = &a->pages[i], *y = &b->pages[i];
        assert_string_equal(x->user, y->user);
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->care_role, y->care_role);
        assert_int_equal(x->step, y->step);
        assert_true(x->notified_ms == y->notified_ms);
        assert_true(x->received_ms == y->received_ms);
        assert_true(x->accepted_ms == y->accepted_ms);
        assert_true(x->declined_ms == y->declined_ms);
        assert_string_equal(x->reason, y->reason);
        assert_int_equal(x->outcome, y->outcome);
    }
}

/* 9. A restart keeps the pages, their outcomes and who accepted. */
static void test_restart_keeps_the_pages(void **state)
{
    struct fixture *f = *state;
    begin(f, 10, 0);
    all_phones_on(f);
    char a[37], b[37], why[256];
    call(f, "101", a);
    call(f, "102", b);
    received(f, a, "ann");
    received(f, b, "cat");
    advance(f, 1);
    assert_int_equal(decline(f, b, "cat", "正在处理101的呼叫", why, sizeof why), 0);
    advance(f, 1);
    assert_int_equal(accept(f, b, "bob", why, sizeof why), 0);
    advance(f, 3);
    struct wg_paging *before = malloc(2 * sizeof *before);
    assert_non_null(before);
    before[0] = alarm_of(f, a)->paging;
    before[1] = alarm_of(f, b)->paging;
    assert_int_equal(before[1].accepted, 0);
    json_t *saved_a = alarm_to_json(alarm_of(f, a));
    json_t *saved_b = alarm_to_json(alarm_of(f, b));
    engine_free(f->engine);

    f->engine = new_engine(f);
    assert_non_null(f->engine);
    assert_int_equal(engine_restore(f->engine, saved_a), 0);
    assert_int_equal(engine_restore(f->engine, saved_b), 0);
    assert_same_paging(&alarm_of(f, a)->paging, &before[0]);
    assert_same_paging(&alarm_of(f, b)->paging, &before[1]);
    json_t *again_a = alarm_to_json(alarm_of(f, a));
    json_t *again_b = alarm_to_json(alarm_of(f, b));
    assert_true(json_equal(again_a, saved_a));
    assert_true(json_equal(again_b, saved_b));
    json_decref(again_a);
    json_decref(again_b);
    json_decref(saved_a);
    json_decref(saved_b);
    free(before);
    assert_string_equal(outcome(f, b, "bob"), "accepted");
    assert_string_equal(outcome(f, b, "cat"), "declined");
    assert_string_equal(page_of(f, b, "cat")->reason, "正在处理101的呼叫");

    /* the answers go on as before */
    assert_int_equal(accept(f, b, "cat", why, sizeof why), WG_PAGE_REFUSED_CONFLICT);
    assert_non_null(strstr(why, "accepted by Bob"));
    assert_int_equal(accept(f, a, "ann", why, sizeof why), 0);
    assert_string_equal(outcome(f, a, "ann"), "accepted");
    assert_int_equal(alarm_of(f, a)->state, WG_ALARM_ACKNOWLEDGED);
    assert_string_equal(alarm_of(f, a)->acknowledged_by, "ann");
    size_t paged = f->paged_count;
    advance(f, 60);
    assert_int_equal(f->paged_count, paged);
}

/* 10. A reload without cat: her phone_offline alarm ends; ann's claim
 * carries over by room id (the room's index moved). */
static void test_reload_ends_a_removed_persons_alarm_and_keeps_claims(void **state)
{
    struct fixture *f = *state;
    begin(f, 10, 0);
    phones(f, "cat", 1);
    phones(f, "ann", 1);
    char why[256] = "";
    size_t r102 = room(f, "102");
    assert_int_equal(r102, 1);
    assert_int_equal(engine_claim_rooms(f->engine, "ann", &r102, 1, f->now, false, why, sizeof why),
                     0);
    advance(f, 1);
    phones(f, "cat", 0);
    advance(f, 30);
    assert_non_null(active_from(f, "phone_offline", "cat"));
    char a[37];
    call(f, "101", a); /* ann's, waiting for her phone's receipt */
    assert_int_equal(f->paged_count, 1);

    char *text = without_lines(staff_text, "user: cat");
    struct wg_config *next = load(f, text, true);
    free(text);
    assert_non_null(next);
    assert_int_equal(next->staff.people_count, 4);
    assert_int_equal(engine_set_config(f->engine, next, f->now), 0);
    config_free(f->config);
    f->config = next;
    assert_int_equal(active_of(f, "phone_offline"), 0);
    assert_string_equal(f->reset_from, "no longer on the staff list");

    size_t ann = member(f, "ann");
    struct wg_duty duty;
    engine_duty(f->engine, ann, f->now, &duty);
    assert_int_equal(duty.phones, 1);
    assert_int_equal(duty.claim_count, 1);
    assert_int_equal(duty.claims[0], 2);
    assert_string_equal(f->config->rooms[duty.claims[0]].id, "102");
    assert_true(engine_covers(f->engine, ann, DAY, room(f, "102"), f->now));
    assert_false(engine_covers(f->engine, ann, DAY, room(f, "100"), f->now));

    /* the call in 101 keeps its page; not reached, it goes on to bob (cat is gone) */
    assert_int_equal(alarm_of(f, a)->paging.page_count, 1);
    assert_string_equal(outcome(f, a, "ann"), "waiting");
    advance(f, 4);
    assert_int_equal(f->paged_count, 1);
    advance(f, 1);
    assert_string_equal(outcome(f, a, "ann"), "not_reached");
    assert_int_equal(f->paged_count, 2);
    assert_string_equal(f->paged[1], "bob 101");

    /* a call in 102 pages bob (cover) and ann (claim) */
    char id[37];
    call(f, "102", id);
    assert_int_equal(f->paged_count, 4);
    assert_string_equal(f->paged[2], "ann 102");
    assert_string_equal(f->paged[3], "bob 102");
    advance(f, 60);
    assert_int_equal(active_of(f, "phone_offline"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_chain_runs_to_the_district, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acceptance_ends_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cover_pages_everyone_on_duty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_declines_and_their_reasons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backing_out_of_an_acceptance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phone_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims_last_their_shift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_the_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_ends_a_removed_persons_alarm_and_keeps_claims,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
