/* The `sim` driver: a simulated facility for the demo and the tests.
 *
 * One thread per bus polls its devices at their poll_ms, steps the
 * meaning-driven model (sim_model.c) and posts readings like a real driver.
 * Bus settings:
 *   scenario: demo | quiet   demo = random calls, bed exits, gas leaks, fire;
 *                            quiet = steady values, only the script moves things
 *   seed: N                  reproducible randomness (default: time)
 *   call_every_min, cord_every_min, bed_exit_every_min, gas_leak_every_min,
 *   fire_every_min, door_every_min: mean time between episodes per device
 *   staff_min_s, staff_max_s: how long a carer takes to answer a call
 *   night: "21:00-07:00"     when residents are in bed
 *   script: list of steps, each {at_ms, device, then one of:
 *       point + value [+ repeat, every_ms: repeat toggling the value],
 *       release: point   (hand the point back to the model),
 *       health: online|offline [+ reason] [+ repeat, every_ms: alternate]}
 * Device settings: silent (never answers: goes offline), fail_writes.
 * Profile `source:` sections are ignored: the sim simulates by meaning. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin.h"
#include "sim_model.h"

enum step_action { STEP_SET, STEP_RELEASE, STEP_HEALTH };

struct script_step {
    int64_t at_ms;
    uint32_t device;
    uint32_t point;
    enum step_action action;
    double value;
    long long repeat; /* STEP_SET: how many times, toggling */
    long long every_ms;
    enum wg_health health;
    const char *reason;
};

#define WRITE_QUEUE 64

struct sim_bus {
    const struct wg_host *host;
    const struct wg_bus_view *bus;
    struct sim_rates rates;
    bool active;
    struct sim_rng rng;
    struct sim_device *devices;
    struct sim_room *rooms;
    size_t room_count;
    struct script_step *script;
    size_t script_count;
    size_t script_next;

    pthread_t thread;
    bool running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct wg_write_request writes[WRITE_QUEUE];
    size_t write_count;
};

/* ---- configuration ---- */

static bool parse_clock(const char *text, int *minutes)
{
    int h, m;
    char tail;
    if (sscanf(text, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
        return false;
    *minutes = h * 60 + m;
    return true;
}

static bool read_night(struct sim_bus *sim, const wg_cfg_node *settings)
{
    const char *night = NULL;
    if (!sim->host->cfg_string(sim->host, settings, "night", &night))
        return false;
    if (!night)
        return true;
    char start[8], end[8];
    if (sscanf(night, "%7[0-9:]-%7[0-9:]", start, end) != 2 ||
        !parse_clock(start, &sim->rates.night_start_min) ||
        !parse_clock(end, &sim->rates.night_end_min)) {
        sim->host->cfg_error(sim->host, sim->host->cfg_get(settings, "night"),
                             "night: expected a window like \"21:00-07:00\", got \"%s\"", night);
        return false;
    }
    return true;
}

static bool read_rate(struct sim_bus *sim, const wg_cfg_node *settings, const char *key,
                      double *out)
{
    if (!sim->host->cfg_double(sim->host, settings, key, out))
        return false;
    if (*out < 0) {
        sim->host->cfg_error(sim->host, sim->host->cfg_get(settings, key),
                             "%s: expected minutes >= 0 (0 = never), got %g", key, *out);
        return false;
    }
    return true;
}

static long find_device(const struct wg_bus_view *bus, const char *id)
{
    for (size_t d = 0; d < bus->device_count; d++)
        if (strcmp(bus->devices[d].id, id) == 0)
            return (long)d;
    return -1;
}

static long find_point(const struct wg_device_view *device, const char *name)
{
    for (size_t p = 0; p < device->point_count; p++)
        if (strcmp(device->points[p].name, name) == 0)
            return (long)p;
    return -1;
}

static bool read_step(struct sim_bus *sim, const wg_cfg_node *node, struct script_step *step)
{
    const struct wg_host *host = sim->host;
    static const char *const keys[] = {"at_ms",    "device",  "point",  "value",  "repeat",
                                       "every_ms", "release", "health", "reason", NULL};
    if (!host->cfg_only_keys(host, node, keys))
        return false;
    long long at_ms = -1, repeat = 1, every_ms = 0;
    const char *device_id = NULL, *point_name = NULL, *release = NULL, *health = NULL;
    bool ok = host->cfg_int(host, node, "at_ms", 0, 86400000LL * 365, &at_ms) &&
              host->cfg_string(host, node, "device", &device_id) &&
              host->cfg_string(host, node, "point", &point_name) &&
              host->cfg_string(host, node, "release", &release) &&
              host->cfg_string(host, node, "health", &health) &&
              host->cfg_int(host, node, "repeat", 1, 100000000, &repeat) &&
              host->cfg_int(host, node, "every_ms", 0, 86400000, &every_ms) &&
              host->cfg_string(host, node, "reason", &step->reason) &&
              host->cfg_double(host, node, "value", &step->value);
    if (!ok)
        return false;
    if (at_ms < 0 || !device_id) {
        host->cfg_error(host, node, "script step: expected at least at_ms and device");
        return false;
    }
    long device = find_device(sim->bus, device_id);
    if (device < 0) {
        host->cfg_error(host, host->cfg_get(node, "device"),
                        "script step: device \"%s\" is not on bus %s", device_id, sim->bus->id);
        return false;
    }
    step->at_ms = at_ms;
    step->device = (uint32_t)device;
    step->repeat = repeat;
    step->every_ms = every_ms;
    int actions = (point_name != NULL) + (release != NULL) + (health != NULL);
    if (actions != 1) {
        host->cfg_error(host, node, "script step: expected exactly one of point, release, health");
        return false;
    }
    if (health) {
        step->action = STEP_HEALTH;
        if (strcmp(health, "online") == 0)
            step->health = WG_HEALTH_ONLINE;
        else if (strcmp(health, "offline") == 0)
            step->health = WG_HEALTH_OFFLINE;
        else {
            host->cfg_error(host, host->cfg_get(node, "health"),
                            "health: expected online or offline, got \"%s\"", health);
            return false;
        }
        return true;
    }
    const char *name = point_name ? point_name : release;
    long point = find_point(&sim->bus->devices[device], name);
    if (point < 0) {
        host->cfg_error(host, node, "script step: device %s (profile %s) has no point \"%s\"",
                        device_id, sim->bus->devices[device].profile_id, name);
        return false;
    }
    step->point = (uint32_t)point;
    step->action = point_name ? STEP_SET : STEP_RELEASE;
    if (point_name && !host->cfg_get(node, "value")) {
        host->cfg_error(host, node, "script step: \"point\" needs a \"value\"");
        return false;
    }
    return true;
}

static bool read_script(struct sim_bus *sim, const wg_cfg_node *settings)
{
    const wg_cfg_node *script = sim->host->cfg_get(settings, "script");
    if (!script)
        return true;
    size_t count = sim->host->cfg_seq_len(script);
    if (count == 0) {
        sim->host->cfg_error(sim->host, script, "script: expected a list of steps");
        return false;
    }
    sim->script = calloc(count, sizeof *sim->script);
    if (!sim->script)
        return false;
    bool ok = true;
    for (size_t i = 0; i < count; i++)
        ok = read_step(sim, sim->host->cfg_seq_at(script, i), &sim->script[i]) && ok;
    sim->script_count = count;
    for (size_t i = 1; ok && i < count; i++)
        if (sim->script[i].at_ms < sim->script[i - 1].at_ms) {
            sim->host->cfg_error(sim->host, sim->host->cfg_seq_at(script, i),
                                 "script: steps must be in order of at_ms");
            ok = false;
        }
    return ok;
}

static bool read_bus_settings(struct sim_bus *sim)
{
    const struct wg_host *host = sim->host;
    const wg_cfg_node *settings = sim->bus->settings;
    sim->rates = (struct sim_rates){.call_every_min = 30,
                                    .cord_every_min = 240,
                                    .bed_exit_every_min = 120,
                                    .gas_leak_every_min = 20,
                                    .fire_every_min = 0,
                                    .door_every_min = 60,
                                    .staff_min_s = 30,
                                    .staff_max_s = 240,
                                    .night_start_min = 21 * 60,
                                    .night_end_min = 7 * 60};
    /* Buses seeded alike would replay the same episodes on every floor: mix in the bus id. */
    long long seed = (long long)time(NULL);
    uint64_t bus_hash = 1469598103934665603ULL;
    for (const char *c = sim->bus->id; *c; c++)
        bus_hash = (bus_hash ^ (unsigned char)*c) * 1099511628211ULL;
    const char *scenario = "demo";
    if (!settings) {
        sim->rng.state = ((uint64_t)seed ^ bus_hash) | 1;
        sim->active = true;
        return true;
    }
    static const char *const keys[] = {"scenario",
                                       "seed",
                                       "call_every_min",
                                       "cord_every_min",
                                       "bed_exit_every_min",
                                       "gas_leak_every_min",
                                       "fire_every_min",
                                       "door_every_min",
                                       "staff_min_s",
                                       "staff_max_s",
                                       "night",
                                       "script",
                                       NULL};
    long long staff_min = sim->rates.staff_min_s, staff_max = sim->rates.staff_max_s;
    bool ok = host->cfg_only_keys(host, settings, keys);
    ok = host->cfg_string(host, settings, "scenario", &scenario) && ok;
    ok = host->cfg_int(host, settings, "seed", 0, INT64_MAX, &seed) && ok;
    ok = read_rate(sim, settings, "call_every_min", &sim->rates.call_every_min) && ok;
    ok = read_rate(sim, settings, "cord_every_min", &sim->rates.cord_every_min) && ok;
    ok = read_rate(sim, settings, "bed_exit_every_min", &sim->rates.bed_exit_every_min) && ok;
    ok = read_rate(sim, settings, "gas_leak_every_min", &sim->rates.gas_leak_every_min) && ok;
    ok = read_rate(sim, settings, "fire_every_min", &sim->rates.fire_every_min) && ok;
    ok = read_rate(sim, settings, "door_every_min", &sim->rates.door_every_min) && ok;
    ok = host->cfg_int(host, settings, "staff_min_s", 1, 3600, &staff_min) && ok;
    ok = host->cfg_int(host, settings, "staff_max_s", 1, 3600, &staff_max) && ok;
    ok = read_night(sim, settings) && ok;
    if (ok && staff_max < staff_min) {
        host->cfg_error(host, host->cfg_get(settings, "staff_max_s"),
                        "staff_max_s: expected at least staff_min_s (%lld)", staff_min);
        ok = false;
    }
    if (ok && strcmp(scenario, "demo") != 0 && strcmp(scenario, "quiet") != 0) {
        host->cfg_error(host, host->cfg_get(settings, "scenario"),
                        "scenario: expected demo or quiet, got \"%s\"", scenario);
        ok = false;
    }
    sim->rates.staff_min_s = (int)staff_min;
    sim->rates.staff_max_s = (int)staff_max;
    sim->active = strcmp(scenario, "demo") == 0;
    sim->rng.state = ((uint64_t)seed * 2654435761u ^ bus_hash) | 1;
    return read_script(sim, settings) && ok;
}

static bool read_device_settings(struct sim_bus *sim, struct sim_device *device)
{
    const wg_cfg_node *settings = device->view->settings;
    if (!settings)
        return true;
    static const char *const keys[] = {"silent", "fail_writes", NULL};
    return sim->host->cfg_only_keys(sim->host, settings, keys) &&
           sim->host->cfg_bool(sim->host, settings, "silent", &device->silent) &&
           sim->host->cfg_bool(sim->host, settings, "fail_writes", &device->fail_writes);
}

/* Rooms are the "zone/room" part of each device's location. */
static bool group_rooms(struct sim_bus *sim)
{
    sim->rooms = calloc(sim->bus->device_count ? sim->bus->device_count : 1, sizeof *sim->rooms);
    if (!sim->rooms)
        return false;
    for (size_t d = 0; d < sim->bus->device_count; d++) {
        const char *location = sim->bus->devices[d].location;
        const char *slash = strchr(location, '/');
        slash = slash ? strchr(slash + 1, '/') : NULL;
        size_t len = slash ? (size_t)(slash - location) : strlen(location);
        struct sim_room *room = NULL;
        for (size_t r = 0; r < sim->room_count && !room; r++)
            if (strlen(sim->rooms[r].name) == len &&
                strncmp(sim->rooms[r].name, location, len) == 0)
                room = &sim->rooms[r];
        if (!room) {
            room = &sim->rooms[sim->room_count];
            room->name = strndup(location, len);
            if (!room->name)
                return false;
            sim->room_count++;
        }
        sim->devices[d].room = room;
    }
    return true;
}

static void sim_free(struct sim_bus *sim)
{
    if (!sim)
        return;
    for (size_t d = 0; sim->devices && d < sim->bus->device_count; d++)
        free(sim->devices[d].points);
    for (size_t r = 0; r < sim->room_count; r++)
        free(sim->rooms[r].name);
    free(sim->rooms);
    free(sim->devices);
    free(sim->script);
    free(sim);
}

static int sim_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    struct sim_bus *sim = calloc(1, sizeof *sim);
    if (!sim)
        return -1;
    sim->host = host;
    sim->bus = bus;
    sim->devices = calloc(bus->device_count ? bus->device_count : 1, sizeof *sim->devices);
    if (!sim->devices) {
        sim_free(sim);
        return -1;
    }
    bool ok = read_bus_settings(sim);
    for (size_t d = 0; d < bus->device_count; d++) {
        sim->devices[d].view = &bus->devices[d];
        sim->devices[d].points =
            calloc(bus->devices[d].point_count ? bus->devices[d].point_count : 1,
                   sizeof *sim->devices[d].points);
        if (!sim->devices[d].points) {
            sim_free(sim);
            return -1;
        }
        ok = read_device_settings(sim, &sim->devices[d]) && ok;
    }
    if (!ok || !group_rooms(sim)) {
        sim_free(sim);
        return -1;
    }
    pthread_mutex_init(&sim->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sim->wake, &attr);
    pthread_condattr_destroy(&attr);
    *instance = sim;
    return 0;
}

/* ---- the bus thread ---- */

static int64_t mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void apply_write(struct sim_bus *sim, const struct wg_write_request *request)
{
    struct sim_device *device = &sim->devices[request->device];
    if (device->silent) {
        sim->host->post_write_result(sim->host, request->request_id, false, "no reply (timeout)");
        return;
    }
    if (device->fail_writes) {
        sim->host->post_write_result(sim->host, request->request_id, false,
                                     "read-back differs from the written value");
        return;
    }
    sim_model_write(device, request->point, request->value);
    int64_t now = sim->host->now_ms(sim->host);
    /* Read-back: the output's new state is reported like any reading. */
    sim->host->post_reading(sim->host, request->device, request->point,
                            device->points[request->point].value, now);
    sim->host->post_write_result(sim->host, request->request_id, true, "");
}

/* Between repeats of a step: waits every_ms (not after the last one) and says
 * whether to go on (false once the bus is stopping). */
static bool pause_before_repeat(struct sim_bus *sim, const struct script_step *step, long long i)
{
    if (step->every_ms > 0 && i + 1 < step->repeat) {
        struct timespec pause = {step->every_ms / 1000, (step->every_ms % 1000) * 1000000};
        nanosleep(&pause, NULL);
    }
    pthread_mutex_lock(&sim->lock);
    bool stop = sim->stop;
    pthread_mutex_unlock(&sim->lock);
    return !stop;
}

static void run_step(struct sim_bus *sim, struct script_step *step)
{
    struct sim_device *device = &sim->devices[step->device];
    const struct wg_host *host = sim->host;
    switch (step->action) {
    case STEP_HEALTH: {
        /* With repeat, alternates between the given state and the other one. */
        enum wg_health health = step->health;
        for (long long i = 0; i < step->repeat; i++) {
            device->silent = health == WG_HEALTH_OFFLINE;
            host->post_health(host, step->device, health, step->reason ? step->reason : "scripted");
            health = health == WG_HEALTH_OFFLINE ? WG_HEALTH_ONLINE : WG_HEALTH_OFFLINE;
            if (!pause_before_repeat(sim, step, i))
                break;
        }
        break;
    }
    case STEP_RELEASE:
        device->points[step->point].forced = false;
        break;
    case STEP_SET: {
        struct sim_point_state *state = &device->points[step->point];
        state->forced = true;
        double value = step->value;
        for (long long i = 0; i < step->repeat; i++) {
            state->value = value;
            host->post_reading(host, step->device, step->point, value, host->now_ms(host));
            value = (value != 0) ? 0 : (step->value != 0 ? step->value : 1);
            if (!pause_before_repeat(sim, step, i))
                break;
        }
        break;
    }
    }
}

static void poll_device(struct sim_bus *sim, uint32_t index, int64_t now_wall, int64_t dt_ms)
{
    struct sim_device *device = &sim->devices[index];
    if (device->silent)
        return;
    if (!device->announced) {
        sim->host->post_health(sim->host, index, WG_HEALTH_ONLINE, "answering");
        device->announced = true;
    }
    sim_model_step(device, &sim->rates, &sim->rng, now_wall, dt_ms, sim->active);
    for (uint32_t p = 0; p < device->view->point_count; p++)
        sim->host->post_reading(sim->host, index, p, device->points[p].value, now_wall);
}

static void *sim_thread(void *arg)
{
    struct sim_bus *sim = arg;
    int64_t start = mono_ms();
    int64_t now_wall = sim->host->now_ms(sim->host);
    for (size_t d = 0; d < sim->bus->device_count; d++) {
        sim_model_init(&sim->devices[d], &sim->rates, &sim->rng, now_wall, sim->active);
        /* Spread the first polls over up to a second, as a real bus would go
         * through its devices after start. */
        int spread_ms = sim->devices[d].view->poll_ms < 1000 ? sim->devices[d].view->poll_ms : 1000;
        sim->devices[d].next_poll_ms = start + (int64_t)(sim_random(&sim->rng) * spread_ms);
    }
    pthread_mutex_lock(&sim->lock);
    while (!sim->stop) {
        while (sim->write_count > 0) {
            struct wg_write_request request = sim->writes[0];
            memmove(sim->writes, sim->writes + 1, --sim->write_count * sizeof sim->writes[0]);
            pthread_mutex_unlock(&sim->lock);
            apply_write(sim, &request);
            pthread_mutex_lock(&sim->lock);
        }
        pthread_mutex_unlock(&sim->lock);

        int64_t now = mono_ms();
        now_wall = sim->host->now_ms(sim->host);
        while (sim->script_next < sim->script_count &&
               sim->script[sim->script_next].at_ms <= now - start)
            run_step(sim, &sim->script[sim->script_next++]);
        for (size_t r = 0; r < sim->room_count; r++)
            sim_room_step(&sim->rooms[r], &sim->rng, now_wall);
        int64_t next = now + 1000;
        for (uint32_t d = 0; d < sim->bus->device_count; d++) {
            struct sim_device *device = &sim->devices[d];
            if (now >= device->next_poll_ms) {
                poll_device(sim, d, now_wall, device->view->poll_ms);
                device->next_poll_ms += device->view->poll_ms;
                if (device->next_poll_ms <= now)
                    device->next_poll_ms = now + device->view->poll_ms;
            }
            if (device->next_poll_ms < next)
                next = device->next_poll_ms;
        }
        if (sim->script_next < sim->script_count &&
            start + sim->script[sim->script_next].at_ms < next)
            next = start + sim->script[sim->script_next].at_ms;

        pthread_mutex_lock(&sim->lock);
        if (!sim->stop && sim->write_count == 0 && next > mono_ms()) {
            struct timespec until = {next / 1000, (next % 1000) * 1000000};
            pthread_cond_timedwait(&sim->wake, &sim->lock, &until);
        }
    }
    pthread_mutex_unlock(&sim->lock);
    return NULL;
}

/* ---- lifecycle ---- */

static int sim_start(void *instance)
{
    struct sim_bus *sim = instance;
    sim->stop = false;
    int rc = pthread_create(&sim->thread, NULL, sim_thread, sim);
    if (rc != 0) {
        sim->host->log(sim->host, WG_PLOG_ERR, "cannot start the sim thread: %s", strerror(rc));
        return -1;
    }
    sim->running = true;
    return 0;
}

static int sim_write(void *instance, const struct wg_write_request *request)
{
    struct sim_bus *sim = instance;
    if (request->device >= sim->bus->device_count)
        return -1;
    pthread_mutex_lock(&sim->lock);
    int rc = -1;
    if (sim->write_count < WRITE_QUEUE) {
        sim->writes[sim->write_count++] = *request;
        pthread_cond_signal(&sim->wake);
        rc = 0;
    }
    pthread_mutex_unlock(&sim->lock);
    if (rc != 0)
        sim->host->log(sim->host, WG_PLOG_WARNING, "write queue full; write refused");
    return rc;
}

static void sim_stop(void *instance)
{
    struct sim_bus *sim = instance;
    if (!sim->running)
        return;
    pthread_mutex_lock(&sim->lock);
    sim->stop = true;
    pthread_cond_signal(&sim->wake);
    pthread_mutex_unlock(&sim->lock);
    pthread_join(sim->thread, NULL);
    sim->running = false;
}

static void sim_close(void *instance)
{
    struct sim_bus *sim = instance;
    if (!sim)
        return;
    sim_stop(sim);
    pthread_cond_destroy(&sim->wake);
    pthread_mutex_destroy(&sim->lock);
    sim_free(sim);
}

WG_PLUGIN_DEFINE(.name = "sim", .version = "1.0", .open = sim_open, .start = sim_start,
                 .write = sim_write, .stop = sim_stop, .close = sim_close);
