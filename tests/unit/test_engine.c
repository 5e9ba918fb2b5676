/* Unit tests of the alarm engine, driven with explicit times (no sleeping):
 * every lifecycle transition and timer, priority order, night windows across
 * midnight, fall-risk and wandering rules, escalation chains,
 * re-annunciation, reset refused anywhere but at the origin, gas interlock,
 * fire during a device fault, supervision timing, lamps, restart recovery. */
#include "testutil.h"
#include "testconfig.h"
#include "testengine.h"

#include <math.h>
#include <time.h>

#include "alarm/alarm.h"
#include "common/clock.h"
#include "config/config.h"
#include "alarm/engine.h"

#define MAX_RECORDED 256

struct change {
    char kind[64];
    char phase[16];
    char state[16];
    char room[64];
    int priority;
    int escalation_level;
    char id[37];
};

struct write {
    size_t device;
    size_t point;
    double value;
};

struct fixture {
    char *dir;
    struct wg_config *config;
    struct wg_engine *engine;
    int64_t now;
    double values[TEST_ENGINE_MAX][TEST_ENGINE_MAX]; /* last value per device/point, NAN = none */
    struct change changes[MAX_RECORDED];
    size_t change_count;
    struct write writes[MAX_RECORDED];
    size_t write_count;
};

static const char *const site_text =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: call-101A, bus: p1, address: 1, profile: call-point, bed: 101-A}\n"
    "  - {id: call-101B, bus: p1, address: 2, profile: call-point, bed: 101-B}\n"
    "  - {id: cord-101, bus: p1, address: 3, profile: pull-cord, room: \"101\"}\n"
    "  - {id: presence-101, bus: p1, address: 4, profile: presence-reset, room: \"101\"}\n"
    "  - {id: bed-101A, bus: p1, address: 5, profile: bed-sensor-r60abd1, bed: 101-A}\n"
    "  - {id: bed-101B, bus: p1, address: 6, profile: bed-sensor-r60abd1, bed: 101-B}\n"
    "  - {id: door-101, bus: p1, address: 7, profile: door-contact, room: \"101\"}\n"
    "  - {id: lamp-101, bus: p1, address: 8, profile: door-lamp, room: \"101\"}\n"
    "  - {id: door-102, bus: p1, address: 9, profile: door-contact, room: \"102\"}\n"
    "  - {id: presence-102, bus: p1, address: 10, profile: presence-reset, room: \"102\"}\n"
    "  - {id: gas-k, bus: p1, address: 11, profile: gas-midas, room: \"102\"}\n"
    "  - {id: valve-k, bus: p1, address: 12, profile: gas-valve-fan, room: \"102\"}\n"
    "  - {id: panel, bus: p1, address: 13, profile: fire-panel-gb26875}\n"
    "  - {id: firedoor, bus: p1, address: 14, profile: fire-door-relay}\n"
    "  - {id: meter-slow, bus: p1, address: 15, profile: xintai-water, room: \"102\", "
    "poll_ms: 60000}\n"
    "rules:\n"
    "  - {id: call, kind: call}\n"
    "  - {id: cord, kind: pull_cord}\n"
    "  - {id: presence, kind: presence}\n"
    "  - {id: bed-exit, kind: bed_exit, for_s: 5, followup_s: 600}\n"
    "  - {id: heart, kind: vital_range, meaning: heart_rate, low: 40, high: 130, for_s: 60, "
    "reset_on_normal: true}\n"
    "  - {id: gas, kind: gas, low: 20, high: 40, for_s: 2}\n"
    "  - {id: fire, kind: fire_zone}\n"
    "  - {id: door-night, kind: door_night, for_s: 20}\n"
    "  - id: wander\n"
    "    kind: combine\n"
    "    alarm_kind: wandering\n"
    "    risk: wandering\n"
    "    within_s: 120\n"
    "    conditions:\n"
    "      - {meaning: in_bed, op: eq, value: 0}\n"
    "      - {meaning: door_open, op: eq, value: 1}\n"
    "escalation:\n"
    "  reannunciate_s: 180\n"
    "  levels:\n"
    "    - {name: carer, after_s: 0}\n"
    "    - {name: floor_lead, after_s: 300}\n"
    "    - {name: manager, after_s: 900}\n"
    "    - {name: district, after_s: 1800}\n";

/* 2026-11-22 in UTC; the tests run with TZ=UTC so night windows are exact. */
static int64_t utc(int hour, int minute)
{
    return 1795305600000LL + (hour * 60 + minute) * 60000LL;
}

static void on_change(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    struct fixture *f = ctx;
    /* Every alarm says what it is as a code and arguments, besides its English detail. */
    if (!alarm->detail_code[0] || !alarm->detail[0])
        fail_msg("%s alarm (%s) without a detail code or detail", alarm->kind, phase);
    json_t *args = json_loads(alarm->detail_args, 0, NULL);
    if (!json_is_object(args))
        fail_msg("%s alarm: detail_args \"%s\" is not a JSON object", alarm->kind,
                 alarm->detail_args);
    json_decref(args);
    if (f->change_count == MAX_RECORDED)
        return;
    struct change *c = &f->changes[f->change_count++];
    snprintf(c->kind, sizeof c->kind, "%s", alarm->kind);
    snprintf(c->phase, sizeof c->phase, "%s", phase);
    snprintf(c->state, sizeof c->state, "%s", alarm_state_name(alarm->state));
    snprintf(c->room, sizeof c->room, "%s", alarm->room);
    c->priority = alarm->priority;
    c->escalation_level = alarm->escalation_level;
    memcpy(c->id, alarm->id, 37);
}

static uint64_t on_write(void *ctx, size_t device, size_t point, double value)
{
    struct fixture *f = ctx;
    if (f->write_count < MAX_RECORDED)
        f->writes[f->write_count++] = (struct write){device, point, value};
    return f->write_count;
}

static int setup_site(void **state, int64_t start, const char *text)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct fixture *f = calloc(1, sizeof *f);
    f->dir = test_tmpdir();
    char *path = test_site_config(f->dir, text);
    struct wg_diag diag;
    diag_init(&diag);
    f->config = config_load(path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        print_message("# config: %s\n", diag.messages[i]);
    diag_free(&diag);
    free(path);
    assert_non_null(f->config);
    for (size_t d = 0; d < TEST_ENGINE_MAX; d++)
        for (size_t p = 0; p < TEST_ENGINE_MAX; p++)
            f->values[d][p] = NAN;
    f->now = start;
    f->engine = engine_new(
        f->config,
        (struct wg_engine_host){f, on_change, on_write, NULL, NULL, NULL, NULL, NULL, NULL},
        f->now);
    assert_non_null(f->engine);
    *state = f;
    return 0;
}

static int setup_at(void **state, int64_t start)
{
    return setup_site(state, start, site_text);
}

/* A kitchen (room 102) with a gas detector and no reset device of its own:
 * its alarms are reset at room 101's door (reset_at). */
static const char *const reset_at_text =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - {id: presence-101, bus: p1, address: 1, profile: presence-reset, room: \"101\"}\n"
    "  - {id: gas-k, bus: p1, address: 2, profile: gas-midas, room: \"102\"}\n"
    "rules:\n"
    "  - {id: presence, kind: presence}\n"
    "  - {id: gas, kind: gas, low: 20, high: 40, for_s: 2, reset_at: \"101\"}\n";

static int setup_reset_at(void **state)
{
    return setup_site(state, utc(12, 0), reset_at_text);
}

/* A fire panel in room 102 whose zones are elsewhere; a smoke detector and
 * lamps in room 101. */
static const char *const places_text =
    "buses:\n"
    "  - {id: p1, driver: probe}\n"
    "devices:\n"
    "  - id: panel\n"
    "    bus: p1\n"
    "    address: 1\n"
    "    profile: fire-panel-gb26875\n"
    "    room: \"102\"\n"
    "    places:\n"
    "      - {fire_zone: 1, room: \"101\", spot: 一楼东侧走廊}\n"
    "      - {fire_zone: 2, zone: f1, spot: 一楼}\n"
    "      - {loop: 1, address: 17, room: \"101\", spot: 101室 吸顶烟感}\n"
    "  - {id: lamp-101, bus: p1, address: 2, profile: door-lamp, room: \"101\"}\n"
    "  - {id: lamp-102, bus: p1, address: 3, profile: door-lamp, room: \"102\"}\n"
    "  - {id: smoke-101, bus: p1, address: 4, profile: smoke-detector, room: \"101\", spot: "
    "走廊尽头}\n"
    "rules:\n"
    "  - {id: fire, kind: fire_zone}\n"
    "  - {id: smoke, kind: smoke, reset_on_normal: true}\n";

static int setup_places(void **state)
{
    return setup_site(state, utc(12, 0), places_text);
}

static int setup_night(void **state)
{
    return setup_at(state, utc(22, 0));
}

static int setup_day(void **state)
{
    return setup_at(state, utc(12, 0));
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

static void find_point(struct fixture *f, const char *device, const char *point, size_t *d,
                       size_t *p)
{
    test_engine_point(f->config, device, point, d, p);
}

/* A reading, as the core would hand it over. */
static void set(struct fixture *f, const char *device, const char *point, double value)
{
    test_engine_reading(f->engine, f->config, f->values, device, point, value, f->now);
}

/* Time passes: the engine ticks every second, and every device that should
 * be polled answers (so supervision stays quiet) unless `silent` names it. */
static void advance(struct fixture *f, int seconds, const char *silent)
{
    for (int s = 0; s < seconds; s++)
        test_engine_second(f->engine, f->config, f->values, &f->now, silent);
}

/* "kind:phase" of the recorded changes from `from` on, joined by spaces. */
static const char *phases(struct fixture *f, size_t from)
{
    static char text[4096];
    text[0] = '\0';
    for (size_t i = from; i < f->change_count; i++) {
        size_t len = strlen(text);
        snprintf(text + len, sizeof text - len, "%s%s:%s", len ? " " : "", f->changes[i].kind,
                 f->changes[i].phase);
    }
    return text;
}

static size_t count_kind(struct fixture *f, const char *kind)
{
    const struct wg_alarm *active[64];
    size_t n = alarm_active(engine_alarms(f->engine), active, 64), count = 0;
    for (size_t i = 0; i < n; i++)
        count += strcmp(active[i]->kind, kind) == 0;
    return count;
}

static const struct wg_alarm *only_active(struct fixture *f)
{
    const struct wg_alarm *active[8];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 8), 1);
    return active[0];
}

static double last_write(struct fixture *f, const char *device, const char *point)
{
    size_t d, p;
    find_point(f, device, point, &d, &p);
    for (size_t i = f->write_count; i-- > 0;)
        if (f->writes[i].device == d && f->writes[i].point == p)
            return f->writes[i].value;
    return NAN;
}

/* ---- the nurse-call lifecycle ---- */

static void test_call_lifecycle_with_reannunciation(void **state)
{
    struct fixture *f = *state;
    set(f, "presence-101", "presence", 0);
    set(f, "call-101A", "call", 1);
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "call");
    assert_int_equal(alarm->priority, WG_PRIO_NORMAL);
    assert_string_equal(alarm->resident, "R-0001");
    assert_string_equal(alarm->bed, "101-A");
    char id[37], why[256];
    memcpy(id, alarm->id, 37);
    set(f, "call-101A", "call", 0); /* the button is released: the call stays */
    advance(f, 10, NULL);
    assert_int_equal(
        engine_acknowledge(f->engine, id, "nurse-li", "station-1", f->now, why, sizeof why), 0);
    assert_int_equal(
        engine_acknowledge(f->engine, id, "nurse-li", "station-1", f->now, why, sizeof why),
        -1); /* already acknowledged */
    advance(f, 179, NULL);
    assert_int_equal(only_active(f)->state, WG_ALARM_ACKNOWLEDGED);
    advance(f, 1, NULL); /* 180 s after the acknowledgement, nobody came */
    assert_int_equal(only_active(f)->state, WG_ALARM_RAISED);
    assert_int_equal(only_active(f)->reannunciations, 1);
    assert_int_equal(
        engine_acknowledge(f->engine, id, "nurse-li", "station-1", f->now, why, sizeof why), 0);
    advance(f, 20, NULL);
    set(f, "presence-101", "presence", 1);
    assert_int_equal(only_active(f)->state, WG_ALARM_ATTENDED);
    advance(f, 600, NULL); /* attended: no more re-annunciation or escalation */
    set(f, "presence-101", "presence", 0);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    assert_string_equal(phases(f, 0), "call:raise call:ack call:reannunciate call:ack "
                                      "call:attend call:reset");
    const struct change *reset = &f->changes[f->change_count - 1];
    assert_string_equal(reset->state, "reset");
}

static void test_escalation_chain(void **state)
{
    struct fixture *f = *state;
    set(f, "call-101B", "call", 1);
    advance(f, 299, NULL);
    assert_int_equal(only_active(f)->escalation_level, 0);
    advance(f, 1, NULL);
    assert_int_equal(only_active(f)->escalation_level, 1);
    advance(f, 600, NULL);
    assert_int_equal(only_active(f)->escalation_level, 2);
    advance(f, 900, NULL);
    assert_int_equal(only_active(f)->escalation_level, 3);
    advance(f, 3600, NULL); /* the last level is the last */
    assert_int_equal(only_active(f)->escalation_level, 3);
    assert_string_equal(phases(f, 0), "call:raise call:escalate call:escalate call:escalate");
    /* Acknowledging does not stop escalation; only attending does. */
}

static void test_attend_stops_escalation(void **state)
{
    struct fixture *f = *state;
    set(f, "call-101B", "call", 1);
    advance(f, 100, NULL);
    set(f, "presence-101", "presence", 1);
    advance(f, 2000, NULL);
    assert_int_equal(only_active(f)->escalation_level, 0);
    assert_string_equal(phases(f, 0), "call:raise call:attend");
}

static void test_priority_order_and_calls_kept_apart(void **state)
{
    struct fixture *f = *state;
    set(f, "call-101A", "call", 1);
    advance(f, 1, NULL);
    set(f, "cord-101", "cord", 1);
    advance(f, 1, NULL);
    set(f, "call-101B", "call", 1); /* same room, another call: kept, not merged */
    advance(f, 1, NULL);
    set(f, "panel", "zone3_fire", 1);
    const struct wg_alarm *active[8];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 8), 4);
    assert_string_equal(active[0]->kind, "fire");
    assert_string_equal(active[1]->kind, "pull_cord");
    assert_int_equal(active[1]->priority, WG_PRIO_EMERGENCY);
    assert_string_equal(active[2]->device, "call-101A"); /* older first within a priority */
    assert_string_equal(active[3]->device, "call-101B");
}

static void test_call_while_staff_present_is_emergency(void **state)
{
    struct fixture *f = *state;
    set(f, "presence-101", "presence", 1);
    set(f, "call-101A", "call", 1);
    const struct wg_alarm *alarm = only_active(f);
    assert_int_equal(alarm->priority, WG_PRIO_EMERGENCY);
    assert_string_equal(alarm->kind, "staff_call");
}

static void test_reset_only_at_the_origin(void **state)
{
    struct fixture *f = *state;
    set(f, "call-101A", "call", 1);
    char id[37], why[256];
    memcpy(id, only_active(f)->id, 37);
    assert_int_equal(engine_reset_remote(f->engine, id, "nurse-li", "station-1", why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "only at its origin"));
    assert_non_null(strstr(why, "101"));
    set(f, "presence-102", "reset", 1); /* another room's reset button */
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1);
    set(f, "presence-101", "reset", 1); /* the room's own: reset */
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    assert_string_equal(f->changes[f->change_count - 1].phase, "reset");
}

static void test_pull_cord_latches_until_reset_at_its_unit(void **state)
{
    struct fixture *f = *state;
    set(f, "cord-101", "cord", 1);
    assert_int_equal(only_active(f)->priority, WG_PRIO_EMERGENCY);
    set(f, "presence-101", "presence", 1);
    set(f, "presence-101", "presence", 0); /* leaving while the cord is still pulled */
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1);
    set(f, "presence-101", "reset", 1); /* the door reset cannot clear a pulled cord */
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1);
    set(f, "cord-101", "cord", 0); /* reset at the cord unit in the bathroom */
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
}

/* ---- bed exit, night windows, wandering ---- */

static void test_bed_exit_fall_risk_at_night_with_followup(void **state)
{
    struct fixture *f = *state;
    set(f, "bed-101A", "in_bed", 1);
    set(f, "bed-101B", "in_bed", 1);
    set(f, "bed-101B", "in_bed", 0); /* bed B has no fall-risk resident: nothing */
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 4, NULL);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0); /* turning over is not leaving */
    advance(f, 1, NULL);
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "bed_exit");
    assert_int_equal(alarm->priority, WG_PRIO_URGENT);
    assert_int_equal(alarm->risk, WG_RISK_FALL_FROM_BED);
    assert_string_equal(alarm->resident, "R-0001");
    advance(f, 600, NULL); /* not back in bed after 10 min */
    assert_int_equal(only_active(f)->priority, WG_PRIO_EMERGENCY);
    assert_non_null(strstr(only_active(f)->detail, "not back in bed"));
    set(f, "bed-101A", "in_bed", 1);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    assert_string_equal(phases(f, 0), "bed_exit:raise bed_exit:escalate bed_exit:update "
                                      "bed_exit:reset");
}

static void test_bed_exit_short_absence_raises_nothing(void **state)
{
    struct fixture *f = *state;
    set(f, "bed-101A", "in_bed", 1);
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 3, NULL);
    set(f, "bed-101A", "in_bed", 1);
    advance(f, 10, NULL);
    assert_int_equal(f->change_count, 0);
}

static void test_bed_exit_in_the_day_raises_nothing(void **state)
{
    struct fixture *f = *state;
    set(f, "bed-101A", "in_bed", 1);
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 60, NULL);
    assert_int_equal(f->change_count, 0);
}

/* The site's zone decides what is night, not the host's (the fixture runs
 * in TZ=UTC): 18:00 UTC is 02:00 in Shanghai, 03:00 UTC is 11:00. */
static void test_night_is_the_sites_night(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(clock_use_timezone("Asia/Shanghai"), 0);
    assert_int_equal(clock_utc_offset_min(f->now), 480);
    f->now = utc(3, 0);
    set(f, "bed-101A", "in_bed", 1);
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 60, NULL);
    assert_int_equal(f->change_count, 0); /* 03:00 UTC would be night on the host */
    set(f, "bed-101A", "in_bed", 1);
    f->now = utc(18, 0);
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 6, NULL);
    assert_int_equal(count_kind(f, "bed_exit"), 1); /* 18:00 UTC would be day */
    assert_int_equal(clock_use_timezone("Nowhere/Atlantis"), -1);
}

static void test_night_window_across_midnight(void **state)
{
    struct fixture *f = *state;
    set(f, "bed-101A", "in_bed", 1);
    f->now = utc(23, 59);
    advance(f, 120, NULL); /* 00:01 */
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 5, NULL);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1); /* 00:01 is night */
    set(f, "bed-101A", "in_bed", 1);
    assert_int_equal(count_kind(f, "bed_exit"), 0);
    f->now = utc(7, 0) + 86400000LL; /* 07:00 the next morning: the window is over */
    set(f, "bed-101A", "in_bed", 0);
    advance(f, 30, NULL);
    assert_int_equal(count_kind(f, "bed_exit"), 0);
    struct wg_window window = {21 * 60, 7 * 60};
    assert_true(window_contains(&window, 23 * 60 + 59));
    assert_true(window_contains(&window, 0));
    assert_true(window_contains(&window, 6 * 60 + 59));
    assert_false(window_contains(&window, 7 * 60));
    assert_false(window_contains(&window, 12 * 60));
}

static void test_door_at_night_for_wandering_resident(void **state)
{
    struct fixture *f = *state;
    set(f, "door-101", "door", 1); /* room 101: no wandering-risk resident */
    set(f, "door-102", "door", 1);
    advance(f, 19, NULL);
    assert_int_equal(f->change_count, 0);
    advance(f, 1, NULL);
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "door_open_night");
    assert_string_equal(alarm->resident, "R-0002");
    assert_int_equal(alarm->risk, WG_RISK_WANDERING);
}

static void test_combined_out_of_bed_and_door_is_wandering(void **state)
{
    struct fixture *f = *state;
    set(f, "bed-101B", "in_bed", 1);
    set(f, "door-101", "door", 0);
    set(f, "bed-101B", "in_bed", 0);
    advance(f, 60, NULL);
    set(f, "door-101", "door", 1); /* within 120 s of leaving the bed */
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "wandering");
    assert_int_equal(alarm->risk, WG_RISK_WANDERING);
}

/* ---- safety: gas, fire ---- */

static void test_gas_low_high_interlock_and_reset_at_origin(void **state)
{
    struct fixture *f = *state;
    set(f, "gas-k", "gas_lel", 1);
    set(f, "gas-k", "gas_lel", 25);
    advance(f, 2, NULL);
    assert_string_equal(only_active(f)->kind, "gas_low");
    assert_int_equal(only_active(f)->priority, WG_PRIO_URGENT);
    assert_string_equal(only_active(f)->detail_code, "gas_lel");
    assert_string_equal(only_active(f)->detail_args, "{\"lel\":25,\"low\":20}");
    set(f, "gas-k", "gas_lel", 55);
    advance(f, 2, NULL);
    const struct wg_alarm *active[4];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 4), 2);
    assert_string_equal(active[0]->kind, "gas_high");
    assert_int_equal(active[0]->priority, WG_PRIO_EMERGENCY);
    assert_true(last_write(f, "valve-k", "valve_close") == 1);
    assert_true(last_write(f, "valve-k", "fan_run") == 1);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_OFF ||
                isnan(last_write(f, "lamp-101", "lamp")));
    set(f, "gas-k", "gas_lel", 0);
    advance(f, 5, NULL);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 2); /* gas alarms stay until reset */
    set(f, "presence-102", "reset", 1);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    for (size_t i = 0; i < f->write_count; i++) {
        size_t d, p;
        find_point(f, "valve-k", "valve_close", &d, &p);
        assert_false(f->writes[i].device == d && f->writes[i].point == p &&
                     f->writes[i].value == 0); /* never re-opened */
    }
}

/* A room without a reset device of its own: its gas alarm is attended and
 * reset where the rule's reset_at says, and nowhere else. */
static void test_gas_reset_at_another_room(void **state)
{
    struct fixture *f = *state;
    set(f, "gas-k", "gas_lel", 30);
    advance(f, 3, NULL);
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "gas_low");
    assert_string_equal(alarm->room, "102");
    assert_string_equal(alarm->reset_at, "101");
    json_t *record = alarm_to_json(alarm);
    assert_string_equal(json_string_value(json_object_get(record, "reset_at")), "101");
    json_decref(record);
    char why[256];
    assert_int_equal(engine_reset_remote(f->engine, alarm->id, "nurse", "station", why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "in room 102 or at 101"));
    set(f, "presence-101", "presence", 1);
    assert_int_equal(only_active(f)->state, WG_ALARM_ATTENDED);
    set(f, "presence-101", "presence", 0); /* gas still there: not reset */
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1);
    set(f, "gas-k", "gas_lel", 0);
    advance(f, 2, NULL);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1); /* gone, but not reset */
    set(f, "presence-101", "reset", 1);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    assert_string_equal(phases(f, 0), "gas_low:raise gas_low:attend gas_low:update gas_low:reset");
}

static void test_gas_reset_refused_while_still_high(void **state)
{
    struct fixture *f = *state;
    set(f, "gas-k", "gas_lel", 30);
    advance(f, 2, NULL);
    set(f, "presence-102", "reset", 1);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1);
}

static void test_fire_during_device_fault_still_annunciates(void **state)
{
    struct fixture *f = *state;
    size_t panel = config_find_device(f->config, "panel");
    engine_on_health(f->engine, panel, WG_HEALTH_OFFLINE, NULL, "timeout", f->now);
    set(f, "panel", "zone1_fault", 1);
    set(f, "panel", "zone3_fire", 1);
    set(f, "panel", "zone2_fire", 1);
    size_t fires = 0;
    const struct wg_alarm *active[8];
    size_t n = alarm_active(engine_alarms(f->engine), active, 8);
    for (size_t i = 0; i < n; i++)
        fires += active[i]->priority == WG_PRIO_FIRE;
    assert_int_equal(fires, 2); /* one alarm per zone */
    assert_int_equal(active[0]->priority, WG_PRIO_FIRE);
    assert_true(last_write(f, "firedoor", "release") == 1);
    set(f, "panel", "zone3_fire", 0); /* the panel was reset on site */
    n = alarm_active(engine_alarms(f->engine), active, 8);
    fires = 0;
    for (size_t i = 0; i < n; i++)
        fires += active[i]->priority == WG_PRIO_FIRE;
    assert_int_equal(fires, 1);
}

static const struct wg_alarm *alarm_of_kind(struct fixture *f, const char *kind, int fire_zone)
{
    const struct wg_alarm *active[16];
    size_t n = alarm_active(engine_alarms(f->engine), active, 16);
    for (size_t i = 0; i < n; i++)
        if (strcmp(active[i]->kind, kind) == 0 && active[i]->fire_zone == fire_zone)
            return active[i];
    fail_msg("no active %s alarm of zone %d", kind, fire_zone);
    return NULL;
}

/* A fire zone alarms at its mapped place: that room's door lamp and its
 * zone's corridor lamps act, and the record names the place and the zone; a
 * zone without a place alarms at the panel's room with its number. */
static void test_fire_zone_alarms_at_its_place(void **state)
{
    struct fixture *f = *state;
    set(f, "panel", "fire_loop", 0);
    set(f, "panel", "fire_address", 0);
    set(f, "panel", "zone1_fire", 1);
    const struct wg_alarm *zone1 = alarm_of_kind(f, "fire", 1);
    assert_string_equal(zone1->room, "101");
    assert_string_equal(zone1->zone, "f1");
    assert_string_equal(zone1->place, "一楼东侧走廊");
    assert_string_equal(zone1->device, "panel");
    assert_int_equal(zone1->fire_loop, 0);
    assert_string_equal(zone1->detail, "fire panel zone 1: 一楼东侧走廊");
    assert_string_equal(zone1->detail_code, "fire_zone");
    assert_string_equal(zone1->detail_args, "{\"zone\":1}");
    json_t *record = alarm_to_json(zone1);
    assert_string_equal(json_string_value(json_object_get(record, "place")), "一楼东侧走廊");
    assert_int_equal(json_integer_value(json_object_get(record, "fire_zone")), 1);
    assert_true(json_is_null(json_object_get(record, "fire_loop")));
    json_decref(record);
    advance(f, 1, NULL);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_ALARM);     /* the zone's room */
    assert_true(last_write(f, "lamp-102", "lamp") == WG_LAMP_OFF);       /* not the panel's */
    assert_true(last_write(f, "lamp-102", "corridor") == WG_LAMP_ALARM); /* same site zone */

    /* The panel names the detector in fire: the latest zone alarm moves to its place. */
    set(f, "panel", "fire_loop", 1);
    set(f, "panel", "fire_address", 17);
    zone1 = alarm_of_kind(f, "fire", 1);
    assert_int_equal(zone1->fire_loop, 1);
    assert_int_equal(zone1->fire_address, 17);
    assert_string_equal(zone1->place, "101室 吸顶烟感");
    assert_string_equal(zone1->detail, "fire panel zone 1, loop 1 address 17: 101室 吸顶烟感");
    assert_string_equal(zone1->detail_args, "{\"zone\":1,\"loop\":1,\"address\":17}");

    /* A zone mapped to a whole site zone has no room. */
    set(f, "panel", "zone2_fire", 1);
    const struct wg_alarm *zone2 = alarm_of_kind(f, "fire", 2);
    assert_string_equal(zone2->room, "");
    assert_string_equal(zone2->zone, "f1");
    assert_string_equal(zone2->place, "一楼");
    assert_int_equal(zone2->fire_loop, 0); /* the detector named before is zone 1's */

    /* An unmapped zone alarms at the panel's room, with its number. */
    set(f, "panel", "zone5_fire", 1);
    const struct wg_alarm *zone5 = alarm_of_kind(f, "fire", 5);
    assert_string_equal(zone5->room, "102");
    assert_string_equal(zone5->place, "");
    assert_string_equal(zone5->detail, "fire panel zone 5");
    record = alarm_to_json(zone5);
    assert_true(json_is_null(json_object_get(record, "place")));
    json_decref(record);
    advance(f, 1, NULL);
    assert_true(last_write(f, "lamp-102", "lamp") == WG_LAMP_ALARM);

    /* A smoke detector's place is its spot. */
    set(f, "smoke-101", "smoke", 1);
    const struct wg_alarm *smoke = alarm_of_kind(f, "smoke", 0);
    assert_string_equal(smoke->room, "101");
    assert_string_equal(smoke->place, "走廊尽头");

    /* Restored after a restart, the place and zone are kept. */
    record = alarm_to_json(alarm_of_kind(f, "fire", 1));
    struct wg_alarm_table *table = alarm_table_new((struct wg_alarm_sink){0});
    assert_int_equal(alarm_restore(table, record), 0);
    const struct wg_alarm *restored =
        alarm_find(table, json_string_value(json_object_get(record, "id")));
    assert_string_equal(restored->place, "101室 吸顶烟感");
    assert_int_equal(restored->fire_zone, 1);
    assert_int_equal(restored->fire_address, 17);
    alarm_table_free(table);
    json_decref(record);
}

/* Names are cut at a character, never inside one (the JSON stays valid). */
static void test_copy_text_keeps_utf8_whole(void **state)
{
    (void)state;
    char out[8];
    alarm_copy_text(out, sizeof out, "一楼东侧走廊"); /* 3 bytes a character */
    assert_string_equal(out, "一楼");
    alarm_copy_text(out, sizeof out, "abcdefghij");
    assert_string_equal(out, "abcdefg");
    alarm_copy_text(out, sizeof out, "abcdef一");
    assert_string_equal(out, "abcdef");
    alarm_copy_text(out, sizeof out, NULL);
    assert_string_equal(out, "");
}

/* ---- supervision and technical alarms ---- */

static void test_silent_device_goes_offline_within_100_s(void **state)
{
    struct fixture *f = *state;
    advance(f, 29, "call-101A");
    assert_int_equal(f->change_count, 0);
    assert_int_equal(engine_device_health(f->engine, config_find_device(f->config, "call-101A")),
                     WG_HEALTH_SUSPECT);
    advance(f, 1, "call-101A"); /* 1 s polls: 30 s of silence is offline */
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "device_offline");
    assert_int_equal(alarm->priority, WG_PRIO_TECHNICAL);
    assert_string_equal(alarm->detail_code, "device_silent");
    assert_string_equal(alarm->detail_args, "{\"s\":30}");
    set(f, "call-101A", "call", 0); /* it answers again */
    /* The driver says why: the reason as a code, and its text. */
    engine_on_health(f->engine, config_find_device(f->config, "call-101B"), WG_HEALTH_OFFLINE, NULL,
                     "cable cut in the riser", f->now);
    alarm = only_active(f);
    assert_string_equal(alarm->detail, "driver reports offline: cable cut in the riser");
    assert_string_equal(alarm->detail_code, "device_offline");
    assert_string_equal(alarm->detail_args,
                        "{\"reason_code\":\"cable_cut\",\"reason\":\"cable cut in the riser\"}");
    set(f, "call-101B", "call", 0);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    /* A device polled once a minute is offline 90 s after its last answer: within 100 s. */
    set(f, "meter-slow", "water_m3", 12.5);
    f->change_count = 0;
    advance(f, 89, "meter-slow");
    assert_int_equal(f->change_count, 0);
    advance(f, 1, "meter-slow");
    assert_string_equal(only_active(f)->device, "meter-slow");
}

static void test_cut_wire_and_unplugged_cord_are_technical(void **state)
{
    struct fixture *f = *state;
    set(f, "cord-101", "loop_open", 1);
    set(f, "call-101A", "pendant_out", 1);
    const struct wg_alarm *active[4];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 4), 2);
    assert_int_equal(active[0]->priority, WG_PRIO_TECHNICAL);
    set(f, "cord-101", "loop_open", 0);
    set(f, "call-101A", "pendant_out", 0);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
}

static void test_vital_signs_out_of_range(void **state)
{
    struct fixture *f = *state;
    set(f, "bed-101A", "heart_rate", 150);
    advance(f, 59, NULL);
    assert_int_equal(f->change_count, 0);
    advance(f, 1, NULL);
    assert_string_equal(only_active(f)->kind, "vital_signs");
    set(f, "bed-101A", "heart_rate", 80);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
}

static void test_failed_safety_write_is_an_alarm(void **state)
{
    struct fixture *f = *state;
    size_t d, p;
    find_point(f, "valve-k", "valve_close", &d, &p);
    engine_on_write_result(f->engine, d, p, false, "write: timeout", f->now);
    const struct wg_alarm *alarm = only_active(f);
    assert_string_equal(alarm->kind, "action_failed");
    assert_int_equal(alarm->priority, WG_PRIO_EMERGENCY);
    assert_string_equal(alarm->detail_code, "write_failed");
    assert_string_equal(alarm->detail_args,
                        "{\"point\":\"valve_close\",\"meaning\":\"valve_command\",\"reason_code\":"
                        "\"timeout\",\"reason\":\"write: timeout\",\"safety\":true}");
    engine_on_write_result(f->engine, d, p, true, "", f->now);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
}

/* ---- lamps, restart ---- */

static void test_door_lamp_follows_priority_and_presence(void **state)
{
    struct fixture *f = *state;
    advance(f, 1, NULL);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_OFF); /* defined at start */
    set(f, "call-101A", "call", 1);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_CALL);
    set(f, "cord-101", "cord", 1);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_EMERGENCY);
    set(f, "presence-101", "presence", 1);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_PRESENCE);
    set(f, "cord-101", "cord", 0);
    set(f, "presence-101", "presence", 0);
    assert_true(last_write(f, "lamp-101", "lamp") == WG_LAMP_OFF);
}

static void test_restart_keeps_active_calls(void **state)
{
    struct fixture *f = *state;
    set(f, "call-101A", "call", 1);
    set(f, "gas-k", "gas_lel", 50);
    advance(f, 2, NULL);
    /* Save what the core would have in its alarms table, then "restart". */
    const struct wg_alarm *active[8];
    size_t n = alarm_active(engine_alarms(f->engine), active, 8);
    assert_int_equal(n, 3);
    json_t *saved[8];
    for (size_t i = 0; i < n; i++)
        saved[i] = alarm_to_json(active[i]);
    engine_free(f->engine);
    f->engine = engine_new(
        f->config,
        (struct wg_engine_host){f, on_change, on_write, NULL, NULL, NULL, NULL, NULL, NULL},
        f->now);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(engine_restore(f->engine, saved[i]), 0);
        json_decref(saved[i]);
    }
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 3);
    /* The origin still resets them: presence on and off in 101, gas normal then reset in 102. */
    for (size_t d = 0; d < TEST_ENGINE_MAX; d++)
        for (size_t p = 0; p < TEST_ENGINE_MAX; p++)
            f->values[d][p] = NAN;
    set(f, "presence-101", "presence", 1);
    set(f, "presence-101", "presence", 0);
    set(f, "gas-k", "gas_lel", 0);
    set(f, "presence-102", "reset", 1);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
}

/* A part of the gateway failing (the ESPA line): one technical alarm while
 * it fails, whatever how often it is told; ended when it works again;
 * relinked after a restart, so working again still ends it. */
static void test_site_fault(void **state)
{
    struct fixture *f = *state;
    engine_site_fault(f->engine, "pager_line_down", "/dev/ttyUSB0", true, "no answer", f->now);
    engine_site_fault(f->engine, "pager_line_down", "/dev/ttyUSB0", true, "no answer", f->now);
    const struct wg_alarm *active[4];
    assert_int_equal(alarm_active(engine_alarms(f->engine), active, 4), 1);
    assert_string_equal(active[0]->kind, "pager_line_down");
    assert_int_equal(active[0]->priority, WG_PRIO_TECHNICAL);
    assert_string_equal(active[0]->device, "/dev/ttyUSB0");
    assert_string_equal(active[0]->detail_code, "pager_line_down");
    json_t *saved = alarm_to_json(active[0]);
    engine_free(f->engine);
    f->engine = engine_new(
        f->config,
        (struct wg_engine_host){f, on_change, on_write, NULL, NULL, NULL, NULL, NULL, NULL},
        f->now);
    assert_int_equal(engine_restore(f->engine, saved), 0);
    json_decref(saved);
    engine_site_fault(f->engine, "pager_line_down", "/dev/ttyUSB0", true, "no answer", f->now);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 1); /* not raised twice */
    engine_site_fault(f->engine, "pager_line_down", "/dev/ttyUSB0", false, NULL, f->now + 1000);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
    engine_site_fault(f->engine, "pager_line_down", "/dev/ttyUSB0", false, NULL, f->now + 2000);
    assert_int_equal(alarm_count(engine_alarms(f->engine)), 0);
}

/* A fire or gas alarm restored after a restart drives its interlock again:
 * doors re-held by hand during a fire still burning are released again. */
static void test_restart_redrives_interlocks(void **state)
{
    struct fixture *f = *state;
    set(f, "panel", "zone3_fire", 1);
    set(f, "gas-k", "gas_lel", 50);
    advance(f, 3, NULL);
    assert_true(last_write(f, "firedoor", "release") == 1);
    assert_true(last_write(f, "valve-k", "valve_close") == 1);
    const struct wg_alarm *active[8];
    size_t n = alarm_active(engine_alarms(f->engine), active, 8);
    json_t *saved[8];
    for (size_t i = 0; i < n; i++)
        saved[i] = alarm_to_json(active[i]);
    engine_free(f->engine);
    f->write_count = 0;
    f->engine = engine_new(
        f->config,
        (struct wg_engine_host){f, on_change, on_write, NULL, NULL, NULL, NULL, NULL, NULL},
        f->now);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(engine_restore(f->engine, saved[i]), 0);
        json_decref(saved[i]);
    }
    advance(f, 1, NULL);
    assert_true(last_write(f, "firedoor", "release") == 1);
    assert_true(last_write(f, "valve-k", "valve_close") == 1);
}

/* ---- a busy night in a large house: no cap on active alarms ---- */

#define BIG_ROOMS 2000

struct big_house {
    double *lamp; /* last value written to each device's first output, NAN = none */
    size_t writes;
};

static void big_change(void *ctx, const struct wg_alarm *alarm, const char *phase)
{
    (void)ctx;
    (void)alarm;
    (void)phase;
}

static uint64_t big_write(void *ctx, size_t device, size_t point, double value)
{
    struct big_house *house = ctx;
    if (point == 0) /* the door lamp (coil 0 of the door-lamp profile) */
        house->lamp[device] = value;
    return ++house->writes;
}

static struct wg_config *big_config(const char *dir)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/big.yaml", dir) > 0);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fprintf(out,
            "site: {id: big-home, name: Big Home, district: unit-district}\n"
            "profiles: [\"%s/config/profiles/*.yaml\"]\n"
            "zones:\n  - id: f1\n    name: Floor 1\n    floor: 1\n    rooms:\n",
            test_root());
    for (int r = 1; r <= BIG_ROOMS; r++)
        fprintf(out, "      - {id: \"r%d\", kind: resident, beds: [A]}\n", r);
    fprintf(out, "      - {id: station, kind: office}\n"
                 "buses:\n  - {id: p1, driver: probe}\ndevices:\n");
    for (int r = 1; r <= BIG_ROOMS; r++)
        fprintf(out,
                "  - {id: call-%d, bus: p1, address: %d, profile: call-point, bed: r%d-A}\n"
                "  - {id: lamp-%d, bus: p1, address: %d, profile: door-lamp, room: \"r%d\"}\n",
                r, 2 * r, r, r, 2 * r + 1, r);
    /* the calls are reset at the nurses' station */
    fprintf(out,
            "  - {id: reset-station, bus: p1, address: 1, profile: presence-reset, room: station}\n"
            "rules:\n  - {id: call, kind: call, reset_at: station}\n");
    fclose(out);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        print_message("# config: %s\n", diag.messages[i]);
    diag_free(&diag);
    free(path);
    assert_non_null(config);
    return config;
}

/* 2,000 calls at once: every one active and kept apart, the lamp of the
 * 2,000th room driven, and after a reload every call still linked to its
 * rule (pressing again is the same call, not a new one). */
static void test_two_thousand_active_alarms(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    struct wg_config *config = big_config(dir);
    assert_int_equal(config->device_count, 2 * BIG_ROOMS + 1);
    struct big_house house = {.lamp = malloc(config->device_count * sizeof(double))};
    for (size_t d = 0; d < config->device_count; d++)
        house.lamp[d] = NAN;
    int64_t now = utc(3, 0);
    struct wg_engine *engine = engine_new(
        config,
        (struct wg_engine_host){&house, big_change, big_write, NULL, NULL, NULL, NULL, NULL, NULL},
        now);
    assert_non_null(engine);
    for (int r = 1; r <= BIG_ROOMS; r++) {
        char id[32];
        snprintf(id, sizeof id, "call-%d", r);
        size_t d = config_find_device(config, id);
        now += 10;
        engine_on_point(engine, d, 0, 1, 0, true, now); /* the call button */
    }
    assert_int_equal(alarm_count(engine_alarms(engine)), BIG_ROOMS);
    size_t last_lamp = config_find_device(config, "lamp-2000");
    assert_true(house.lamp[last_lamp] == WG_LAMP_CALL);
    size_t first_lamp = config_find_device(config, "lamp-1");
    assert_true(house.lamp[first_lamp] == WG_LAMP_CALL);
    const struct wg_alarm **active = calloc(BIG_ROOMS, sizeof *active);
    assert_int_equal(alarm_active(engine_alarms(engine), active, BIG_ROOMS), BIG_ROOMS);
    assert_string_equal(active[BIG_ROOMS - 1]->room, "r2000"); /* the youngest, last */
    free(active);

    /* A reload (the same file again): the 2,000th call keeps its rule link. */
    struct wg_config *again = big_config(dir);
    assert_int_equal(engine_set_config(engine, again, now), 0);
    config_free(config);
    size_t d = config_find_device(again, "call-2000");
    engine_on_point(engine, d, 0, 0, 1, false, now + 100);
    engine_on_point(engine, d, 0, 1, 0, false, now + 200);
    assert_int_equal(alarm_count(engine_alarms(engine)), BIG_ROOMS);
    engine_tick(engine, now + 1000);
    assert_true(house.lamp[config_find_device(again, "lamp-2000")] == WG_LAMP_CALL);
    engine_free(engine);
    config_free(again);
    free(house.lamp);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_lifecycle_with_reannunciation, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_escalation_chain, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_attend_stops_escalation, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_priority_order_and_calls_kept_apart, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_call_while_staff_present_is_emergency, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reset_only_at_the_origin, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_pull_cord_latches_until_reset_at_its_unit, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bed_exit_fall_risk_at_night_with_followup, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bed_exit_short_absence_raises_nothing, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bed_exit_in_the_day_raises_nothing, setup_day,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_night_window_across_midnight, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_night_is_the_sites_night, setup_day, teardown),
        cmocka_unit_test_setup_teardown(test_door_at_night_for_wandering_resident, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_combined_out_of_bed_and_door_is_wandering, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gas_low_high_interlock_and_reset_at_origin,
                                        setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_gas_reset_refused_while_still_high, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gas_reset_at_another_room, setup_reset_at, teardown),
        cmocka_unit_test_setup_teardown(test_fire_during_device_fault_still_annunciates,
                                        setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_fire_zone_alarms_at_its_place, setup_places, teardown),
        cmocka_unit_test(test_copy_text_keeps_utf8_whole),
        cmocka_unit_test_setup_teardown(test_silent_device_goes_offline_within_100_s, setup_day,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cut_wire_and_unplugged_cord_are_technical, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_vital_signs_out_of_range, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_failed_safety_write_is_an_alarm, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_door_lamp_follows_priority_and_presence, setup_night,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_active_calls, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_restart_redrives_interlocks, setup_night, teardown),
        cmocka_unit_test_setup_teardown(test_site_fault, setup_night, teardown),
        cmocka_unit_test(test_two_thousand_active_alarms),
    };
    return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
