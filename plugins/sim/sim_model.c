/* Meaning-driven behaviour of simulated devices; see sim_model.h. */
#include "sim_model.h"

#include <math.h>
#include <string.h>
#include <time.h>

double sim_random(struct sim_rng *rng)
{
    /* xorshift64*: small, fast, and reproducible from the configured seed. */
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static double uniform(struct sim_rng *rng, double lo, double hi)
{
    return lo + (hi - lo) * sim_random(rng);
}

/* The wait until the next episode of a Poisson process with the given mean. */
static int64_t next_episode_ms(struct sim_rng *rng, double mean_min)
{
    if (mean_min <= 0)
        return INT64_MAX;
    double u = sim_random(rng);
    if (u < 1e-12)
        u = 1e-12;
    return (int64_t)(-log(u) * mean_min * 60000.0);
}

/* now + wait, saturating: "never" stays never. */
static int64_t after(int64_t now_ms, int64_t wait_ms)
{
    return wait_ms >= INT64_MAX - now_ms ? INT64_MAX : now_ms + wait_ms;
}

static bool meaning_is(const struct wg_point_view *point, const char *meaning)
{
    return strcmp(point->meaning, meaning) == 0;
}

static bool meaning_starts(const struct wg_point_view *point, const char *prefix)
{
    return strncmp(point->meaning, prefix, strlen(prefix)) == 0;
}

static bool in_night(const struct sim_rates *rates, int64_t now_ms)
{
    time_t seconds = (time_t)(now_ms / 1000);
    struct tm local;
    localtime_r(&seconds, &local);
    int minute = local.tm_hour * 60 + local.tm_min;
    if (rates->night_start_min <= rates->night_end_min)
        return minute >= rates->night_start_min && minute < rates->night_end_min;
    return minute >= rates->night_start_min || minute < rates->night_end_min;
}

static double episode_rate_min(const struct wg_point_view *point, const struct sim_rates *rates)
{
    if (meaning_is(point, "call_button"))
        return rates->call_every_min;
    if (meaning_is(point, "pull_cord"))
        return rates->cord_every_min;
    if (meaning_is(point, "in_bed"))
        return rates->bed_exit_every_min;
    if (meaning_is(point, "gas_lel"))
        return rates->gas_leak_every_min;
    if (meaning_starts(point, "fire_zone") || meaning_is(point, "smoke"))
        return rates->fire_every_min;
    if (meaning_is(point, "door_open"))
        return rates->door_every_min;
    return 0;
}

static double resting_value(const struct wg_point_view *point, struct sim_rng *rng)
{
    if (meaning_is(point, "voltage"))
        return uniform(rng, 218, 232);
    if (meaning_is(point, "frequency"))
        return 50.0;
    if (meaning_is(point, "power_factor"))
        return uniform(rng, 0.90, 0.99);
    if (meaning_is(point, "power_w"))
        return uniform(rng, 40, 400);
    if (meaning_is(point, "energy_kwh") || meaning_is(point, "energy_total_kwh"))
        return uniform(rng, 100, 5000);
    if (meaning_is(point, "water_m3"))
        return uniform(rng, 10, 300);
    if (meaning_is(point, "valve_open"))
        return 1;
    return 0;
}

void sim_model_init(struct sim_device *device, const struct sim_rates *rates, struct sim_rng *rng,
                    int64_t now_ms, bool active)
{
    for (size_t p = 0; p < device->view->point_count; p++) {
        const struct wg_point_view *point = &device->view->points[p];
        struct sim_point_state *state = &device->points[p];
        state->value = resting_value(point, rng);
        if (meaning_is(point, "in_bed") && in_night(rates, now_ms))
            state->value = 1;
        state->next_event_ms =
            active ? after(now_ms, next_episode_ms(rng, episode_rate_min(point, rates)))
                   : INT64_MAX;
    }
}

/* Point of the same device with this meaning, or NULL. */
static struct sim_point_state *sibling(struct sim_device *device, const char *meaning)
{
    for (size_t p = 0; p < device->view->point_count; p++)
        if (meaning_is(&device->view->points[p], meaning))
            return &device->points[p];
    return NULL;
}

/* A carer sets off for the room (arriving staff_min_s..staff_max_s from now),
 * unless one is on the way or there: presence on at arrival, off (the reset
 * at the origin) when they leave. */
static void send_staff(struct sim_room *room, const struct sim_rates *rates, struct sim_rng *rng,
                       int64_t now_ms)
{
    if (room && room->staff_arrive_ms == 0 && !room->staff_present)
        room->staff_arrive_ms =
            now_ms + (int64_t)(uniform(rng, rates->staff_min_s, rates->staff_max_s) * 1000);
}

static void start_call(struct sim_device *device, const struct sim_rates *rates,
                       struct sim_rng *rng, struct sim_point_state *state, int64_t now_ms)
{
    state->value = 1;
    struct sim_room *room = device->room;
    state->target = room ? room->resets : 0; /* cleared by the next reset */
    send_staff(room, rates, rng, now_ms);
}

static void step_episode(struct sim_device *device, const struct wg_point_view *point,
                         struct sim_point_state *state, const struct sim_rates *rates,
                         struct sim_rng *rng, int64_t now_ms, int64_t dt_ms)
{
    double dt_s = (double)dt_ms / 1000.0;
    bool due = now_ms >= state->next_event_ms;
    if (due)
        state->next_event_ms = after(now_ms, next_episode_ms(rng, episode_rate_min(point, rates)));

    if (meaning_is(point, "call_button") || meaning_is(point, "pull_cord")) {
        if (due && state->value == 0)
            start_call(device, rates, rng, state, now_ms);
        /* Latched until the carer resets it at the room (see sim_room_step). */
        if (state->value && device->room && device->room->resets != (unsigned)state->target)
            state->value = 0;
    } else if (meaning_is(point, "in_bed")) {
        bool night = in_night(rates, now_ms);
        if (state->until_ms && now_ms >= state->until_ms) {
            state->value = night ? 1 : (sim_random(rng) < 0.3);
            state->until_ms = 0;
        } else if (due && night && state->value == 1) {
            state->value = 0; /* a bed exit: back after 2 to 20 minutes */
            state->until_ms = now_ms + (int64_t)(uniform(rng, 120, 1200) * 1000);
        } else if (!state->until_ms && night && state->value == 0 && sim_random(rng) < 0.01) {
            state->value = 1; /* goes to bed in the evening */
        }
    } else if (meaning_is(point, "gas_lel")) {
        bool valve_closed = device->room && device->room->valve_closed;
        if (due && state->target == 0)
            state->target = uniform(rng, 30, 75); /* a leak building up */
        if (state->target > 0 && !valve_closed && state->value < state->target) {
            state->value = fmin(state->target, state->value + 4.0 * dt_s);
        } else if (state->target > 0) {
            state->value = fmax(0, state->value - 2.0 * dt_s); /* aired out */
            if (state->value == 0) {
                state->target = 0;
                send_staff(device->room, rates, rng, now_ms); /* to reset the gas alarm */
            }
        } else {
            state->value = uniform(rng, 0, 1.5);
        }
    } else if (meaning_starts(point, "fire_zone") || meaning_is(point, "smoke")) {
        if (due && state->value == 0) {
            state->value = 1;
            state->until_ms = now_ms + 180000; /* reset at the panel after 3 min */
        } else if (state->until_ms && now_ms >= state->until_ms) {
            state->value = 0;
            state->until_ms = 0;
            send_staff(device->room, rates, rng, now_ms); /* a latched smoke alarm is reset */
        }
    } else if (meaning_is(point, "door_open")) {
        if (due && state->value == 0) {
            state->value = 1;
            state->until_ms = now_ms + (int64_t)(uniform(rng, 5, 60) * 1000);
        } else if (state->until_ms && now_ms >= state->until_ms) {
            state->value = 0;
            state->until_ms = 0;
        }
    }
}

static void step_continuous(struct sim_device *device, const struct wg_point_view *point,
                            struct sim_point_state *state, struct sim_rng *rng, int64_t dt_ms)
{
    double dt_h = (double)dt_ms / 3600000.0;
    struct sim_point_state *in_bed = sibling(device, "in_bed");
    bool occupied = !in_bed || in_bed->value != 0;
    if (meaning_is(point, "heart_rate")) {
        state->value =
            occupied ? fmin(95, fmax(52, (state->value ? state->value : 70) + uniform(rng, -2, 2)))
                     : 0;
    } else if (meaning_is(point, "breathing_rate")) {
        state->value =
            occupied ? fmin(22, fmax(11, (state->value ? state->value : 15) + uniform(rng, -1, 1)))
                     : 0;
    } else if (meaning_is(point, "movement")) {
        state->value = occupied ? floor(uniform(rng, 0, 25)) : 0;
    } else if (meaning_is(point, "power_w")) {
        state->value = fmin(2500, fmax(5, state->value + uniform(rng, -20, 20)));
    } else if (meaning_is(point, "energy_kwh") || meaning_is(point, "energy_total_kwh")) {
        /* No export is simulated, so the import+export total grows with the import. */
        struct sim_point_state *power = sibling(device, "power_w");
        state->value += (power ? power->value : 150) / 1000.0 * dt_h;
    } else if (meaning_is(point, "current")) {
        struct sim_point_state *power = sibling(device, "power_w");
        struct sim_point_state *volts = sibling(device, "voltage");
        state->value = (power ? power->value : 150) / (volts && volts->value ? volts->value : 220);
    } else if (meaning_is(point, "voltage")) {
        state->value = fmin(235, fmax(215, state->value + uniform(rng, -0.3, 0.3)));
    } else if (meaning_is(point, "frequency")) {
        state->value = 50.0 + uniform(rng, -0.03, 0.03);
    } else if (meaning_is(point, "water_flow")) {
        state->value = sim_random(rng) < 0.05 ? uniform(rng, 0.1, 0.8) : 0;
    } else if (meaning_is(point, "water_m3")) {
        struct sim_point_state *flow = sibling(device, "water_flow");
        state->value += (flow ? flow->value : 0) * dt_h;
    } else if (meaning_is(point, "gas_heartbeat")) {
        state->value = state->value ? 0 : 1;
    } else if (meaning_is(point, "gas_low_alarm") || meaning_is(point, "gas_high_alarm")) {
        struct sim_point_state *lel = sibling(device, "gas_lel");
        double threshold = meaning_is(point, "gas_low_alarm") ? 25 : 50;
        state->value = lel && lel->value >= threshold;
    } else if (meaning_is(point, "valve_closed")) {
        state->value = device->room && device->room->valve_closed;
    } else if (meaning_is(point, "valve_open")) {
        state->value = !(device->room && device->room->valve_closed);
    } else if (meaning_is(point, "fan_running")) {
        struct sim_point_state *command = sibling(device, "fan_command");
        state->value = command ? command->value : 0;
    } else if (meaning_is(point, "presence")) {
        state->value = device->room && device->room->staff_present;
    }
}

void sim_model_step(struct sim_device *device, const struct sim_rates *rates, struct sim_rng *rng,
                    int64_t now_ms, int64_t dt_ms, bool active)
{
    for (size_t p = 0; p < device->view->point_count; p++) {
        const struct wg_point_view *point = &device->view->points[p];
        struct sim_point_state *state = &device->points[p];
        if (state->forced || point->direction == WG_POINT_OUTPUT)
            continue;
        if (active)
            step_episode(device, point, state, rates, rng, now_ms, dt_ms);
        step_continuous(device, point, state, rng, dt_ms);
    }
}

void sim_room_step(struct sim_room *room, struct sim_rng *rng, int64_t now_ms)
{
    if (room->staff_arrive_ms && now_ms >= room->staff_arrive_ms) {
        room->staff_arrive_ms = 0;
        room->staff_present = true;
        room->staff_leave_ms = now_ms + (int64_t)(uniform(rng, 30, 120) * 1000);
    } else if (room->staff_leave_ms && now_ms >= room->staff_leave_ms) {
        room->staff_leave_ms = 0;
        room->staff_present = false;
        room->resets++;
    }
}

void sim_model_write(struct sim_device *device, uint32_t point, double value)
{
    if (point >= device->view->point_count)
        return;
    device->points[point].value = value;
    if (meaning_is(&device->view->points[point], "valve_command") && device->room)
        device->room->valve_closed = value != 0; /* 1 = close; reopening is done on site */
}
