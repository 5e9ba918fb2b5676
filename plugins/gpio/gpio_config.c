/* The GPIO driver's configuration: bus settings and the `source` of every
 * profile point, checked with file:line messages; see gpio_driver.h and
 * docs/gpio.md for the keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio_driver.h"

#define MAX_LINE 4095

static bool read_script_step(const struct wg_host *host, const wg_cfg_node *node,
                             struct gpio_sim_step *step)
{
    static const char *const keys[] = {"at_ms", "line", "level", "repeat", "every_ms", NULL};
    long long at_ms = -1, line = -1, repeat = 1, every_ms = 0;
    const char *level = NULL;
    if (!host->cfg_only_keys(host, node, keys) ||
        !host->cfg_int(host, node, "at_ms", 0, 86400000LL, &at_ms) ||
        !host->cfg_int(host, node, "line", 0, MAX_LINE, &line) ||
        !host->cfg_string(host, node, "level", &level) ||
        !host->cfg_int(host, node, "repeat", 1, 100000, &repeat) ||
        !host->cfg_int(host, node, "every_ms", 0, 3600000, &every_ms))
        return false;
    if (at_ms < 0 || line < 0 || !level) {
        host->cfg_error(host, node, "script step: expected at_ms, line and level");
        return false;
    }
    if (strcmp(level, "high") != 0 && strcmp(level, "low") != 0) {
        host->cfg_error(host, host->cfg_get(node, "level"),
                        "level: expected high or low (the wire's physical level), got \"%s\"",
                        level);
        return false;
    }
    *step = (struct gpio_sim_step){.at_ms = at_ms,
                                   .line = (unsigned)line,
                                   .high = strcmp(level, "high") == 0,
                                   .repeat = (unsigned)repeat,
                                   .every_ms = (unsigned)every_ms};
    return true;
}

static bool read_simulated(const struct wg_host *host, const wg_cfg_node *node,
                           struct gpio_settings *settings)
{
    static const char *const keys[] = {"lines", "trace", "script", NULL};
    long long lines = 64;
    const char *trace = NULL;
    if (!host->cfg_only_keys(host, node, keys) ||
        !host->cfg_int(host, node, "lines", 1, MAX_LINE + 1, &lines) ||
        !host->cfg_string(host, node, "trace", &trace))
        return false;
    settings->sim.lines = (unsigned)lines;
    if (trace && !(settings->sim.trace = strdup(trace)))
        return false;
    const wg_cfg_node *script = host->cfg_get(node, "script");
    if (!script)
        return true;
    size_t count = host->cfg_seq_len(script);
    if (count == 0) {
        host->cfg_error(host, script, "script: expected a list of {at_ms, line, level} steps");
        return false;
    }
    settings->steps = calloc(count, sizeof *settings->steps);
    if (!settings->steps)
        return false;
    bool ok = true;
    for (size_t i = 0; i < count; i++) {
        const wg_cfg_node *step = host->cfg_seq_at(script, i);
        ok = read_script_step(host, step, &settings->steps[i]) && ok;
        if (ok && settings->steps[i].line >= settings->sim.lines) {
            host->cfg_error(host, step,
                            "script step: line %u is outside the simulated chip (0..%u)",
                            settings->steps[i].line, settings->sim.lines - 1);
            ok = false;
        }
        if (ok && i > 0 && settings->steps[i].at_ms < settings->steps[i - 1].at_ms) {
            host->cfg_error(host, step, "script: steps must be in order of at_ms");
            ok = false;
        }
    }
    settings->sim.steps = settings->steps;
    settings->sim.step_count = count;
    return ok;
}

static bool read_bus_settings(const struct wg_host *host, const struct wg_bus_view *bus,
                              struct gpio_settings *settings)
{
    const wg_cfg_node *node = bus->settings;
    static const char *const keys[] = {"chip",     "backend",   "consumer",
                                       "reopen_s", "simulated", NULL};
    const char *chip = NULL, *backend = "libgpiod", *consumer = "wardgated";
    long long reopen_s = 2;
    if (node &&
        (!host->cfg_only_keys(host, node, keys) || !host->cfg_string(host, node, "chip", &chip) ||
         !host->cfg_string(host, node, "backend", &backend) ||
         !host->cfg_string(host, node, "consumer", &consumer) ||
         !host->cfg_int(host, node, "reopen_s", 1, 3600, &reopen_s)))
        return false;
    settings->reopen_ns = reopen_s * 1000000000LL;
    if (strcmp(backend, "libgpiod") == 0) {
        settings->backend = &gpio_chardev_backend;
    } else if (strcmp(backend, "simulated") == 0) {
        settings->backend = &gpio_simulated_backend;
    } else {
        host->cfg_error(host, host->cfg_get(node, "backend"),
                        "backend: expected libgpiod (the kernel's GPIO lines) or simulated, got "
                        "\"%s\"",
                        backend);
        return false;
    }
    const wg_cfg_node *simulated = node ? host->cfg_get(node, "simulated") : NULL;
    if (simulated && settings->backend != &gpio_simulated_backend) {
        host->cfg_error(host, simulated, "simulated: only with backend: simulated");
        return false;
    }
    if (!chip && settings->backend == &gpio_chardev_backend) {
        host->cfg_error(host, node,
                        "bus %s: the gpio driver needs settings.chip (a chip name such as "
                        "gpiochip0, its /dev path, its label or its number)",
                        bus->id);
        return false;
    }
    if (!chip)
        chip = bus->id;
    if (!(settings->chip = strdup(chip)) || !(settings->consumer = strdup(consumer)))
        return false;
    return !simulated || read_simulated(host, simulated, settings);
}

static enum gpio_role role_for(const struct wg_point_view *view)
{
    if (view->direction == WG_POINT_INPUT)
        return GPIO_ROLE_INPUT;
    if (strcmp(view->meaning, "door_lamp") == 0 || strcmp(view->meaning, "corridor_lamp") == 0)
        return GPIO_ROLE_LAMP;
    if (strcmp(view->meaning, "buzzer") == 0)
        return GPIO_ROLE_BUZZER;
    if (strcmp(view->meaning, "fire_door_release") == 0)
        return GPIO_ROLE_FIRE_DOOR;
    return GPIO_ROLE_LEVEL;
}

static bool read_bias(const struct wg_host *host, const wg_cfg_node *source, enum gpio_bias *bias)
{
    const char *text = NULL;
    if (!host->cfg_string(host, source, "bias", &text))
        return false;
    if (!text || strcmp(text, "as-is") == 0)
        *bias = GPIO_BIAS_AS_IS;
    else if (strcmp(text, "disable") == 0)
        *bias = GPIO_BIAS_DISABLE;
    else if (strcmp(text, "pull-up") == 0)
        *bias = GPIO_BIAS_PULL_UP;
    else if (strcmp(text, "pull-down") == 0)
        *bias = GPIO_BIAS_PULL_DOWN;
    else {
        host->cfg_error(host, host->cfg_get(source, "bias"),
                        "bias: expected as-is, disable, pull-up or pull-down, got \"%s\"", text);
        return false;
    }
    return true;
}

static bool read_source(const struct wg_host *host, const struct wg_device_view *device,
                        const struct wg_point_view *view, struct gpio_point *point)
{
    const wg_cfg_node *source = view->source;
    if (!source) {
        host->cfg_error(host, device->settings,
                        "device %s (profile %s) point %s: no source; the gpio driver needs "
                        "{line: N, ...} (a GPIO profile, e.g. gpio-%s)",
                        device->id, device->profile_id, view->name, device->profile_id);
        return false;
    }
    static const char *const input_keys[] = {
        "line", "active_low", "bias", "debounce_ms", "normally_closed", "latch", "toggle", NULL};
    static const char *const output_keys[] = {"line", "active_low", "green_line", NULL};
    point->role = role_for(view);
    bool input = point->role == GPIO_ROLE_INPUT;
    if (!host->cfg_only_keys(host, source, input ? input_keys : output_keys))
        return false;
    if (view->kind != WG_POINT_BOOL && (input || point->role == GPIO_ROLE_LEVEL)) {
        host->cfg_error(host, source,
                        "point %s (%s): a GPIO line carries a contact or a switch, not an %s value",
                        view->name, view->meaning,
                        view->kind == WG_POINT_ANALOG ? "analog" : "counter");
        return false;
    }
    long long line = -1, debounce_ms = 20, green = -1;
    bool latch = false, toggle = false;
    bool ok = host->cfg_int(host, source, "line", 0, MAX_LINE, &line) &&
              host->cfg_bool(host, source, "active_low", &point->active_low) &&
              host->cfg_int(host, source, "green_line", 0, MAX_LINE, &green) &&
              host->cfg_int(host, source, "debounce_ms", 0, 10000, &debounce_ms) &&
              host->cfg_bool(host, source, "normally_closed", &point->contact.normally_closed) &&
              host->cfg_bool(host, source, "latch", &latch) &&
              host->cfg_bool(host, source, "toggle", &toggle) &&
              read_bias(host, source, &point->bias);
    if (!ok)
        return false;
    if (line < 0) {
        host->cfg_error(host, source, "point %s: missing required key \"line\" in source",
                        view->name);
        return false;
    }
    if (green >= 0 && point->role != GPIO_ROLE_LAMP) {
        host->cfg_error(host, host->cfg_get(source, "green_line"),
                        "green_line: only for door_lamp and corridor_lamp points");
        return false;
    }
    if (latch && toggle) {
        host->cfg_error(host, source, "point %s: latch and toggle exclude each other", view->name);
        return false;
    }
    long long base = device->address;
    if (base + line > MAX_LINE || base + green > MAX_LINE) {
        host->cfg_error(host, source, "point %s: line %lld + device address %lld is beyond line %d",
                        view->name, line, base, MAX_LINE);
        return false;
    }
    point->line = (unsigned)(base + line);
    point->has_green = green >= 0;
    point->green_line = point->has_green ? (unsigned)(base + green) : 0;
    point->debounce_ns = debounce_ms * 1000000;
    point->contact.mode = latch    ? GPIO_CONTACT_LATCH
                          : toggle ? GPIO_CONTACT_TOGGLE
                                   : GPIO_CONTACT_PLAIN;
    point->is_reset_button = input && strcmp(view->meaning, "reset_button") == 0;
    return true;
}

/* A latching point needs its device's reset button to let go. */
static bool check_latch(const struct wg_host *host, const struct wg_device_view *device,
                        const struct gpio_point *points, size_t first, size_t count)
{
    bool has_reset = false, ok = true;
    for (size_t p = 0; p < count; p++)
        has_reset = has_reset || points[first + p].is_reset_button;
    for (size_t p = 0; p < count; p++)
        if (points[first + p].contact.mode == GPIO_CONTACT_LATCH && !has_reset) {
            host->cfg_error(host, device->points[p].source,
                            "point %s: latch needs a reset_button point on the same device "
                            "(profile %s has none)",
                            device->points[p].name, device->profile_id);
            ok = false;
        }
    return ok;
}

/* No line may serve two points. */
static bool check_lines(const struct wg_host *host, const struct wg_bus_view *bus,
                        const struct gpio_point *points, size_t count)
{
    bool ok = true;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < i; j++) {
            const struct gpio_point *a = &points[i], *b = &points[j];
            unsigned a_lines[2] = {a->line, a->has_green ? a->green_line : a->line};
            unsigned b_lines[2] = {b->line, b->has_green ? b->green_line : b->line};
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++)
                    if (a_lines[x] == b_lines[y] && ok) {
                        host->cfg_error(host, bus->devices[a->device].points[a->point].source,
                                        "line %u of bus %s serves both %s and %s", a_lines[x],
                                        bus->id, b->name, a->name);
                        ok = false;
                    }
        }
    return ok;
}

bool gpio_config_read(const struct wg_host *host, const struct wg_bus_view *bus,
                      struct gpio_settings *settings, struct gpio_point **points_out,
                      size_t *count_out)
{
    *settings = (struct gpio_settings){0};
    size_t total = 0;
    for (size_t d = 0; d < bus->device_count; d++)
        total += bus->devices[d].point_count;
    struct gpio_point *points = calloc(total ? total : 1, sizeof *points);
    *points_out = points;
    *count_out = 0;
    if (!points)
        return false;
    bool ok = read_bus_settings(host, bus, settings);
    size_t n = 0;
    for (size_t d = 0; d < bus->device_count; d++) {
        const struct wg_device_view *device = &bus->devices[d];
        if (device->settings) {
            host->cfg_error(host, device->settings,
                            "device %s: the gpio driver has no device settings (lines come from "
                            "the address and the profile's source.line)",
                            device->id);
            ok = false;
        }
        size_t first = n;
        for (size_t p = 0; p < device->point_count; p++, n++) {
            struct gpio_point *point = &points[n];
            point->device = (uint32_t)d;
            point->point = (uint32_t)p;
            size_t len = strlen(device->id) + strlen(device->points[p].name) + 2;
            char *name = malloc(len);
            if (!name) {
                *count_out = n;
                return false;
            }
            snprintf(name, len, "%s.%s", device->id, device->points[p].name);
            point->name = name;
            ok = read_source(host, device, &device->points[p], point) && ok;
        }
        *count_out = n;
        ok = ok && check_latch(host, device, points, first, device->point_count);
    }
    return ok && check_lines(host, bus, points, n);
}

void gpio_config_free(struct gpio_settings *settings, struct gpio_point *points, size_t count)
{
    for (size_t i = 0; points && i < count; i++)
        free((char *)points[i].name);
    free(points);
    free((char *)settings->chip);
    free((char *)settings->consumer);
    free((char *)settings->sim.trace);
    free(settings->steps);
    *settings = (struct gpio_settings){0};
}
