/* The GPIO driver's lines: requesting every point's line(s) from the chip
 * (outputs at their start level), setting an output's pattern, and letting
 * lines go in their stop state (lamps off, fire doors released). */
#include "gpio_bus.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- lines ---- */

/* The level an output drives before the core has said anything. */
bool gpio_start_level(const struct gpio_point *point)
{
    return point->role == GPIO_ROLE_FIRE_DOOR; /* magnet energised: doors held */
}

static void release_point(const struct gpio_backend *backend, struct gpio_point *point)
{
    backend->release(point->handle);
    backend->release(point->green_handle);
    point->handle = point->green_handle = NULL;
    point->adopted = point->keep_state = false;
}

/* Drives an output's line(s) inactive (lamps off, fire-door magnet
 * de-energised: released) and lets go: its stop state. */
void gpio_stop_output(struct gpio_bus *gpio, struct gpio_point *point)
{
    const struct gpio_backend *backend = gpio->settings.backend;
    if (point->handle && point->role != GPIO_ROLE_INPUT &&
        (backend->set(point->handle, false) != 0 ||
         (point->green_handle && backend->set(point->green_handle, false) != 0)))
        gpio->host->log(gpio->host, WG_PLOG_ERR, "%s: cannot drive line %u inactive: %s",
                        point->name, point->line, strerror(errno));
    release_point(backend, point);
}

void gpio_release_lines(struct gpio_bus *gpio)
{
    for (size_t i = 0; i < gpio->point_count; i++)
        release_point(gpio->settings.backend, &gpio->points[i]);
    gpio->settings.backend->close_chip(gpio->chip);
    gpio->chip = NULL;
}

void gpio_set_output(struct gpio_point *point, int64_t now_ns, const struct gpio_pattern *pattern,
                     const struct gpio_pattern *green)
{
    point->pattern = pattern;
    point->green_pattern = green;
    point->pattern_start_ns = now_ns;
    point->level = gpio_pattern_level(pattern, 0, NULL);
    point->green_level = green ? gpio_pattern_level(green, 0, NULL) : false;
}

/* Lets go of the lines requested since `held` was taken (not those held before). */
static void release_new_lines(struct gpio_bus *gpio, const bool *held)
{
    for (size_t i = 0; i < gpio->point_count; i++)
        if (!held[i])
            release_point(gpio->settings.backend, &gpio->points[i]);
}

/* Opens the chip (unless open) and requests every line not held yet. Outputs
 * start at what `point->level` holds (the start level, or after a lost chip
 * what the core last asked for). On failure lets go of what it requested and
 * keeps what was held before (lines taken over). */
int gpio_acquire_lines(struct gpio_bus *gpio, char *why, size_t why_len)
{
    const struct gpio_backend *backend = gpio->settings.backend;
    if (!gpio->chip)
        gpio->chip = backend->open_chip(gpio->settings.chip, &gpio->settings.sim, why, why_len);
    if (!gpio->chip)
        return -1;
    bool held[gpio->point_count + 1];
    for (size_t i = 0; i < gpio->point_count; i++)
        held[i] = gpio->points[i].handle != NULL;
    for (size_t i = 0; i < gpio->point_count; i++) {
        struct gpio_point *point = &gpio->points[i];
        if (held[i])
            continue;
        struct gpio_line_request request = {.offset = point->line,
                                            .output = is_output(point),
                                            .active_low = point->active_low,
                                            .bias = point->bias,
                                            .initial = point->level};
        char line_why[256];
        point->handle = backend->request(gpio->chip, &request, gpio->settings.consumer, line_why,
                                         sizeof line_why);
        if (point->handle && point->has_green) {
            request.offset = point->green_line;
            request.initial = point->green_level;
            point->green_handle = backend->request(gpio->chip, &request, gpio->settings.consumer,
                                                   line_why, sizeof line_why);
        }
        if (!point->handle || (point->has_green && !point->green_handle)) {
            snprintf(why, why_len, "%s (for %s)", line_why, point->name);
            release_new_lines(gpio, held);
            return -1;
        }
        if (!is_output(point)) {
            int level = backend->get(point->handle);
            if (level < 0) {
                snprintf(why, why_len, "chip %s line %u (for %s): cannot read: %s",
                         backend->describe(gpio->chip), point->line, point->name, strerror(errno));
                release_new_lines(gpio, held);
                return -1;
            }
            gpio_debounce_init(&point->debounce, point->debounce_ns, level != 0);
            point->refreshes_mismatched = 0;
        }
    }
    return 0;
}
