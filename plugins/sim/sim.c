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
 *   control: PATH            a FIFO (created 0600 at start, a stale one
 *                            replaced, removed at stop) taking one command a
 *                            line, applied like a script step at once:
 *                              DEVICE POINT VALUE       hold a point at a value
 *                              DEVICE release POINT     hand it back to the model
 *                              DEVICE health online|offline [reason]
 *                            Blank lines and lines starting with # are skipped;
 *                            a bad line is logged with its text and ignored.
 *                            A reader thread blocks in poll() on the FIFO (it
 *                            keeps a write end open itself, so writers may
 *                            come and go without an end of file) and hands
 *                            commands to the bus thread through its queue.
 * Device settings: silent (never answers: goes offline), fail_writes.
 * Profile `source:` sections are ignored: the sim simulates by meaning.
 *
 * A reload that changes the bus (plugin ABI 2, take_over): the new instance
 * takes over the control FIFO (same path: writers never notice; a command
 * half-read or queued is carried over), each device's simulated state by
 * device id and point name (a latched call stays latched), the rooms' carers,
 * and the script's progress when the script did not change. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drivers/plugin.h"
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

#define WRITE_QUEUE   64
#define CONTROL_QUEUE 64
#define CONTROL_LINE  256 /* longer lines are refused */

/* A command read from the control FIFO: a one-shot script step. */
struct control_cmd {
    struct script_step step;
    char reason[64];
};

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

    int64_t start_mono_ms; /* when the script's time began */
    bool model_ready;      /* the bus thread has set the devices' starting state */
    bool script_adopted;   /* script progress and start time taken over */

    pthread_t thread;
    bool running;        /* started: stop has something to do */
    bool thread_running; /* the bus thread exists */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct wg_write_request writes[WRITE_QUEUE];
    size_t write_count;

    /* The control FIFO (control: PATH); control_path NULL when not set. */
    char *control_path;
    int control_fd;      /* read end */
    int control_keep_fd; /* our own write end: no EOF when the last writer closes */
    int control_stop[2]; /* a byte here ends the reader thread */
    dev_t control_dev;
    ino_t control_ino;
    pthread_t control_thread;
    bool control_running;
    pthread_cond_t control_room; /* the queue has room again */
    struct control_cmd control[CONTROL_QUEUE];
    size_t control_count;
    bool control_adopted; /* the FIFO was taken over: start does not make a new one */
    /* The line being read (a command may arrive in pieces). */
    char control_line[CONTROL_LINE];
    size_t control_len;
    bool control_too_long;
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

/* control: PATH. Only checked here (open also runs for --check and for a
 * reload that may be refused): the FIFO is made at start. */
static bool read_control(struct sim_bus *sim, const wg_cfg_node *settings)
{
    const struct wg_host *host = sim->host;
    const char *path = NULL;
    if (!host->cfg_string(host, settings, "control", &path))
        return false;
    if (!path)
        return true;
    const wg_cfg_node *node = host->cfg_get(settings, "control");
    size_t len = strlen(path);
    if (len == 0 || len >= PATH_MAX || path[len - 1] == '/') {
        host->cfg_error(host, node, "control: expected the path of a FIFO to create, got \"%s\"",
                        path);
        return false;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            host->cfg_error(host, node, "control: %s exists and is not a FIFO; it is not replaced",
                            path);
            return false;
        }
    } else if (errno != ENOENT) {
        host->cfg_error(host, node, "control: %s: %s", path, strerror(errno));
        return false;
    }
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0) {
        host->cfg_error(host, node, "control: the directory of %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        host->cfg_error(host, node, "control: %s (the directory of %s) is not a directory", dir,
                        path);
        return false;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        host->cfg_error(host, node, "control: cannot create a FIFO in %s: %s", dir,
                        strerror(errno));
        return false;
    }
    sim->control_path = strdup(path);
    return sim->control_path != NULL;
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
                                       "control",
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
    ok = read_control(sim, settings) && ok;
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
    free(sim->control_path);
    free(sim);
}

static int sim_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    struct sim_bus *sim = calloc(1, sizeof *sim);
    if (!sim)
        return -1;
    sim->host = host;
    sim->bus = bus;
    sim->control_fd = sim->control_keep_fd = -1;
    sim->control_stop[0] = sim->control_stop[1] = -1;
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
    pthread_cond_init(&sim->control_room, NULL);
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
            /* A reason given in the script is the simulated device's own words. */
            host->post_health(host, step->device, health,
                              step->reason ? WG_REASON_OTHER : WG_REASON_SCRIPTED,
                              step->reason ? step->reason : "scripted");
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
        sim->host->post_health(sim->host, index, WG_HEALTH_ONLINE, WG_REASON_ANSWERING,
                               "answering");
        device->announced = true;
    }
    sim_model_step(device, &sim->rates, &sim->rng, now_wall, dt_ms, sim->active);
    for (uint32_t p = 0; p < device->view->point_count; p++)
        sim->host->post_reading(sim->host, index, p, device->points[p].value, now_wall);
}

static void *sim_thread(void *arg)
{
    struct sim_bus *sim = arg;
    int64_t start = sim->start_mono_ms;
    int64_t now_wall = sim->host->now_ms(sim->host);
    for (size_t d = 0; d < sim->bus->device_count; d++) {
        if (!sim->devices[d].has_state)
            sim_model_init(&sim->devices[d], &sim->rates, &sim->rng, now_wall, sim->active);
        sim->devices[d].has_state = true;
        /* Spread the first polls over up to a second, as a real bus would go
         * through its devices after start. */
        int spread_ms = sim->devices[d].view->poll_ms < 1000 ? sim->devices[d].view->poll_ms : 1000;
        sim->devices[d].next_poll_ms = start + (int64_t)(sim_random(&sim->rng) * spread_ms);
    }
    sim->model_ready = true;
    pthread_mutex_lock(&sim->lock);
    while (!sim->stop) {
        while (sim->write_count > 0) {
            struct wg_write_request request = sim->writes[0];
            memmove(sim->writes, sim->writes + 1, --sim->write_count * sizeof sim->writes[0]);
            pthread_mutex_unlock(&sim->lock);
            apply_write(sim, &request);
            pthread_mutex_lock(&sim->lock);
        }
        while (sim->control_count > 0 && !sim->stop) {
            struct control_cmd cmd = sim->control[0];
            memmove(sim->control, sim->control + 1, --sim->control_count * sizeof sim->control[0]);
            pthread_cond_signal(&sim->control_room);
            pthread_mutex_unlock(&sim->lock);
            cmd.step.reason = cmd.reason;
            run_step(sim, &cmd.step);
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
        if (!sim->stop && sim->write_count == 0 && sim->control_count == 0 && next > mono_ms()) {
            struct timespec until = {next / 1000, (next % 1000) * 1000000};
            pthread_cond_timedwait(&sim->wake, &sim->lock, &until);
        }
    }
    pthread_mutex_unlock(&sim->lock);
    return NULL;
}

/* ---- the control FIFO ---- */

/* Parses one command line (already trimmed, not empty) into a one-shot step.
 * On error returns false with why in `error`. */
static bool parse_control(const struct sim_bus *sim, char *line, struct control_cmd *cmd,
                          char *error, size_t error_size)
{
    const char *const blanks = " \t";
    char *save = NULL;
    char *device_id = strtok_r(line, blanks, &save);
    char *verb = strtok_r(NULL, blanks, &save);
    *cmd = (struct control_cmd){.step = {.repeat = 1}};
    if (!device_id || !verb) {
        snprintf(error, error_size,
                 "expected DEVICE POINT VALUE, DEVICE release POINT or DEVICE health "
                 "online|offline [reason]");
        return false;
    }
    long device = find_device(sim->bus, device_id);
    if (device < 0) {
        snprintf(error, error_size, "device \"%s\" is not on bus %s", device_id, sim->bus->id);
        return false;
    }
    cmd->step.device = (uint32_t)device;
    const struct wg_device_view *view = &sim->bus->devices[device];
    if (strcmp(verb, "health") == 0) {
        char *state = strtok_r(NULL, blanks, &save);
        char *reason = save ? save + strspn(save, blanks) : NULL;
        if (!state || (strcmp(state, "online") != 0 && strcmp(state, "offline") != 0)) {
            snprintf(error, error_size, "health: expected online or offline");
            return false;
        }
        cmd->step.action = STEP_HEALTH;
        cmd->step.health = strcmp(state, "online") == 0 ? WG_HEALTH_ONLINE : WG_HEALTH_OFFLINE;
        snprintf(cmd->reason, sizeof cmd->reason, "%s", reason && *reason ? reason : "control");
        return true;
    }
    bool release = strcmp(verb, "release") == 0;
    const char *point_name = release ? strtok_r(NULL, blanks, &save) : verb;
    const char *value_text = release ? NULL : strtok_r(NULL, blanks, &save);
    if (!point_name || (!release && !value_text) || strtok_r(NULL, blanks, &save)) {
        snprintf(error, error_size,
                 release ? "expected DEVICE release POINT" : "expected DEVICE POINT VALUE");
        return false;
    }
    long point = find_point(view, point_name);
    if (point < 0) {
        snprintf(error, error_size, "device %s (profile %s) has no point \"%s\"", device_id,
                 view->profile_id, point_name);
        return false;
    }
    cmd->step.point = (uint32_t)point;
    cmd->step.action = release ? STEP_RELEASE : STEP_SET;
    if (!release) {
        char *end = NULL;
        errno = 0;
        cmd->step.value = strtod(value_text, &end);
        if (end == value_text || *end || errno == ERANGE || !isfinite(cmd->step.value)) {
            snprintf(error, error_size, "value: expected a number, got \"%s\"", value_text);
            return false;
        }
    }
    return true;
}

/* Queues a command for the bus thread; waits while the queue is full.
 * Returns false once the bus is stopping. */
static bool queue_control(struct sim_bus *sim, const struct control_cmd *cmd)
{
    pthread_mutex_lock(&sim->lock);
    while (sim->control_count == CONTROL_QUEUE && !sim->stop)
        pthread_cond_wait(&sim->control_room, &sim->lock);
    bool stopping = sim->stop;
    if (!stopping) {
        sim->control[sim->control_count++] = *cmd;
        pthread_cond_signal(&sim->wake);
    }
    pthread_mutex_unlock(&sim->lock);
    return !stopping;
}

/* One line from the FIFO, without its newline. Returns false once stopping. */
static bool control_line(struct sim_bus *sim, char *line, size_t len, bool too_long)
{
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        line[--len] = '\0';
    for (size_t i = 0; i < len; i++) /* the line goes to the log */
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = line[i] == '\t' ? ' ' : '?';
    char *start = line + strspn(line, " ");
    if (too_long) {
        sim->host->log(sim->host, WG_PLOG_WARNING,
                       "control: ignored a line of more than %d bytes: \"%.40s...\"",
                       CONTROL_LINE - 1, start);
        return true;
    }
    if (*start == '\0' || *start == '#')
        return true;
    char text[CONTROL_LINE];
    snprintf(text, sizeof text, "%s", start);
    struct control_cmd cmd;
    char error[160];
    if (!parse_control(sim, start, &cmd, error, sizeof error)) {
        sim->host->log(sim->host, WG_PLOG_WARNING, "control: ignored \"%s\": %s", text, error);
        return true;
    }
    sim->host->log(sim->host, WG_PLOG_INFO, "control: %s", text);
    return queue_control(sim, &cmd);
}

static void *control_thread(void *arg)
{
    struct sim_bus *sim = arg;
    char *line = sim->control_line;
    for (;;) {
        struct pollfd fds[2] = {{.fd = sim->control_fd, .events = POLLIN},
                                {.fd = sim->control_stop[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            sim->host->log(sim->host, WG_PLOG_ERR, "control: poll: %s; no more commands",
                           strerror(errno));
            break;
        }
        if (fds[1].revents)
            break;
        if (!fds[0].revents)
            continue;
        char chunk[512];
        ssize_t got = read(sim->control_fd, chunk, sizeof chunk);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0) { /* cannot happen while we hold a write end ourselves */
            sim->host->log(sim->host, WG_PLOG_ERR, "control: read: %s; no more commands",
                           got < 0 ? strerror(errno) : "end of file");
            break;
        }
        bool go_on = true;
        for (ssize_t i = 0; i < got && go_on; i++) {
            if (chunk[i] == '\n') {
                line[sim->control_len] = '\0';
                go_on = control_line(sim, line, sim->control_len, sim->control_too_long);
                sim->control_len = 0;
                sim->control_too_long = false;
            } else if (sim->control_len + 1 < CONTROL_LINE) {
                line[sim->control_len++] = chunk[i];
            } else {
                sim->control_too_long = true;
            }
        }
        if (!go_on)
            break;
    }
    return NULL;
}

static void control_close(struct sim_bus *sim)
{
    int *fds[] = {&sim->control_fd, &sim->control_keep_fd, &sim->control_stop[0],
                  &sim->control_stop[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    /* Remove the FIFO only if it is still ours (a reload's next instance makes its own). */
    struct stat st;
    if (sim->control_ino && lstat(sim->control_path, &st) == 0 && st.st_dev == sim->control_dev &&
        st.st_ino == sim->control_ino)
        unlink(sim->control_path);
    sim->control_ino = 0;
}

/* Makes the FIFO (replacing a stale one) and starts its reader. */
static int control_open(struct sim_bus *sim)
{
    const char *path = sim->control_path;
    const struct wg_host *host = sim->host;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISFIFO(st.st_mode)) {
            host->log(host, WG_PLOG_ERR, "control: %s exists and is not a FIFO", path);
            return -1;
        }
        if (unlink(path) != 0) {
            host->log(host, WG_PLOG_ERR, "control: cannot remove the stale FIFO %s: %s", path,
                      strerror(errno));
            return -1;
        }
        host->log(host, WG_PLOG_INFO, "control: replaced the stale FIFO %s", path);
    }
    if (mkfifo(path, 0600) != 0) {
        host->log(host, WG_PLOG_ERR, "control: mkfifo %s: %s", path, strerror(errno));
        return -1;
    }
    sim->control_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (sim->control_fd >= 0 && fstat(sim->control_fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
        st.st_uid == geteuid()) {
        sim->control_dev = st.st_dev;
        sim->control_ino = st.st_ino;
    }
    if (sim->control_fd < 0 || !sim->control_ino) {
        host->log(host, WG_PLOG_ERR, "control: cannot open the FIFO %s: %s", path,
                  sim->control_fd < 0 ? strerror(errno) : "not the FIFO just made");
        control_close(sim);
        return -1;
    }
    fchmod(sim->control_fd, 0600); /* whatever the umask left */
    sim->control_keep_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (sim->control_keep_fd < 0 || pipe2(sim->control_stop, O_CLOEXEC | O_NONBLOCK) != 0) {
        host->log(host, WG_PLOG_ERR, "control: %s: %s", path, strerror(errno));
        control_close(sim);
        return -1;
    }
    host->log(host, WG_PLOG_INFO, "control: reading commands from %s", path);
    return 0;
}

static int control_start(struct sim_bus *sim)
{
    int rc = pthread_create(&sim->control_thread, NULL, control_thread, sim);
    if (rc != 0) {
        sim->host->log(sim->host, WG_PLOG_ERR, "control: cannot start the reader thread: %s",
                       strerror(rc));
        return -1;
    }
    sim->control_running = true;
    return 0;
}

/* ---- lifecycle ---- */

static void sim_stop(void *instance, enum wg_stop_reason reason);

static int sim_start(void *instance)
{
    struct sim_bus *sim = instance;
    sim->stop = false;
    if (!sim->script_adopted)
        sim->start_mono_ms = mono_ms();
    if (sim->control_path && !sim->control_adopted && control_open(sim) != 0)
        return -1;
    if (sim->control_path && control_start(sim) != 0) {
        if (!sim->control_adopted)
            control_close(sim);
        return -1;
    }
    int rc = pthread_create(&sim->thread, NULL, sim_thread, sim);
    if (rc != 0) {
        sim->host->log(sim->host, WG_PLOG_ERR, "cannot start the sim thread: %s", strerror(rc));
        sim->running = true;           /* so that sim_stop ends the control reader */
        sim_stop(sim, WG_STOP_RELOAD); /* what was taken over stays for close */
        return -1;
    }
    sim->running = true;
    sim->thread_running = true;
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

/* The reader goes first: it finishes the chunk it has read while the bus
 * thread still takes commands, and what is still in the FIFO stays there.
 * Then the bus thread; commands it has not run yet stay queued. Both are
 * what a take_over carries on. At shutdown the FIFO is removed. */
static void sim_stop(void *instance, enum wg_stop_reason reason)
{
    struct sim_bus *sim = instance;
    if (!sim->running)
        return;
    if (sim->control_running) {
        ssize_t wrote;
        do
            wrote = write(sim->control_stop[1], "x", 1);
        while (wrote < 0 && errno == EINTR);
        pthread_join(sim->control_thread, NULL);
        sim->control_running = false;
        char byte;
        while (read(sim->control_stop[0], &byte, 1) == 1)
            ; /* a successor reading these fds must not see the stop */
    }
    pthread_mutex_lock(&sim->lock);
    sim->stop = true;
    pthread_cond_signal(&sim->wake);
    pthread_cond_broadcast(&sim->control_room);
    pthread_mutex_unlock(&sim->lock);
    if (sim->thread_running)
        pthread_join(sim->thread, NULL);
    sim->thread_running = false;
    if (reason == WG_STOP_SHUTDOWN && sim->control_path)
        control_close(sim);
    sim->running = false;
}

/* Commands queued in `from` for `to`, device and point found by id and name. */
static void take_commands(struct sim_bus *to, const struct sim_bus *from)
{
    for (size_t i = 0; i < from->control_count && to->control_count < CONTROL_QUEUE; i++) {
        struct control_cmd cmd = from->control[i];
        const struct wg_device_view *device = &from->bus->devices[cmd.step.device];
        long d = find_device(to->bus, device->id);
        long p =
            cmd.step.action == STEP_HEALTH
                ? 0
                : (d < 0 ? -1
                         : find_point(&to->bus->devices[d], device->points[cmd.step.point].name));
        if (d < 0 || p < 0) {
            to->host->log(
                to->host, WG_PLOG_WARNING,
                "control: a queued command for %s is dropped: the device or point is gone",
                device->id);
            continue;
        }
        cmd.step.device = (uint32_t)d;
        cmd.step.point = (uint32_t)p;
        to->control[to->control_count++] = cmd;
    }
}

static bool same_step(const struct sim_bus *a, const struct script_step *x, const struct sim_bus *b,
                      const struct script_step *y)
{
    const struct wg_device_view *dx = &a->bus->devices[x->device],
                                *dy = &b->bus->devices[y->device];
    bool same_point = x->action == STEP_HEALTH ||
                      strcmp(dx->points[x->point].name, dy->points[y->point].name) == 0;
    return x->at_ms == y->at_ms && x->action == y->action && x->value == y->value &&
           x->repeat == y->repeat && x->every_ms == y->every_ms && x->health == y->health &&
           strcmp(dx->id, dy->id) == 0 && same_point &&
           strcmp(x->reason ? x->reason : "", y->reason ? y->reason : "") == 0;
}

static bool same_script(const struct sim_bus *a, const struct sim_bus *b)
{
    if (a->script_count != b->script_count)
        return false;
    for (size_t i = 0; i < a->script_count; i++)
        if (!same_step(a, &a->script[i], b, &b->script[i]))
            return false;
    return true;
}

static int sim_take_over(void *instance, void *previous)
{
    struct sim_bus *sim = instance, *old = previous;
    /* The control FIFO, with what it was in the middle of. */
    if (sim->control_path && old->control_path && old->control_fd >= 0 && !sim->control_adopted &&
        strcmp(sim->control_path, old->control_path) == 0) {
        sim->control_fd = old->control_fd;
        sim->control_keep_fd = old->control_keep_fd;
        sim->control_stop[0] = old->control_stop[0];
        sim->control_stop[1] = old->control_stop[1];
        sim->control_dev = old->control_dev;
        sim->control_ino = old->control_ino;
        memcpy(sim->control_line, old->control_line, sizeof sim->control_line);
        sim->control_len = old->control_len;
        sim->control_too_long = old->control_too_long;
        old->control_fd = old->control_keep_fd = old->control_stop[0] = old->control_stop[1] = -1;
        old->control_ino = 0;
        sim->control_adopted = true;
        take_commands(sim, old);
        old->control_count = 0;
    }
    /* Writes the old thread had not applied yet. */
    for (size_t k = 0; k < old->write_count && sim->write_count < WRITE_QUEUE; k++) {
        struct wg_write_request request = old->writes[k];
        const struct wg_device_view *device = &old->bus->devices[request.device];
        long d = find_device(sim->bus, device->id);
        long p = d < 0 ? -1 : find_point(&sim->bus->devices[d], device->points[request.point].name);
        if (p < 0)
            continue;
        request.device = (uint32_t)d;
        request.point = (uint32_t)p;
        sim->writes[sim->write_count++] = request;
    }
    old->write_count = 0;
    /* Devices by id, points by name, rooms by name. */
    for (size_t d = 0; d < sim->bus->device_count; d++) {
        long o = find_device(old->bus, sim->bus->devices[d].id);
        if (o < 0 || !old->devices[o].has_state)
            continue; /* the old instance never had a state for it */
        struct sim_device *to = &sim->devices[d];
        const struct sim_device *from = &old->devices[o];
        for (size_t p = 0; p < to->view->point_count; p++) {
            long q = find_point(from->view, to->view->points[p].name);
            if (q >= 0)
                to->points[p] = from->points[q];
        }
        to->announced = from->announced;
        to->has_state = true;
    }
    for (size_t r = 0; r < sim->room_count; r++)
        for (size_t q = 0; q < old->room_count; q++)
            if (strcmp(sim->rooms[r].name, old->rooms[q].name) == 0) {
                char *name = sim->rooms[r].name;
                sim->rooms[r] = old->rooms[q];
                sim->rooms[r].name = name;
            }
    if ((old->model_ready || old->script_adopted) && same_script(sim, old)) {
        sim->start_mono_ms = old->start_mono_ms;
        sim->script_next = old->script_next;
        sim->script_adopted = true;
    }
    return 0;
}

static void sim_close(void *instance)
{
    struct sim_bus *sim = instance;
    if (!sim)
        return;
    sim_stop(sim, WG_STOP_SHUTDOWN);
    if (sim->control_path)
        control_close(sim); /* not taken over: the FIFO goes */
    pthread_cond_destroy(&sim->wake);
    pthread_cond_destroy(&sim->control_room);
    pthread_mutex_destroy(&sim->lock);
    sim_free(sim);
}

WG_PLUGIN_DEFINE(.name = "sim", .version = "2.0", .open = sim_open, .start = sim_start,
                 .write = sim_write, .stop = sim_stop, .close = sim_close,
                 .take_over = sim_take_over);
