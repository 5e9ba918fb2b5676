/* The sim driver's settings: the bus's scenario, seed, rates, night and
 * script (each step checked against the bus's devices and points), the
 * control FIFO's path, and each device's silent/fail_writes, reported
 * through host->cfg_error at their position. */
#include "sim_driver.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

long sim_find_device(const struct wg_bus_view *bus, const char *id)
{
    for (size_t d = 0; d < bus->device_count; d++)
        if (strcmp(bus->devices[d].id, id) == 0)
            return (long)d;
    return -1;
}

long sim_find_point(const struct wg_device_view *device, const char *name)
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
    long device = sim_find_device(sim->bus, device_id);
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
    long point = sim_find_point(&sim->bus->devices[device], name);
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

bool sim_read_bus_settings(struct sim_bus *sim)
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

bool sim_read_device_settings(struct sim_bus *sim, struct sim_device *device)
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
bool sim_group_rooms(struct sim_bus *sim)
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
