/* The GPIO driver's model of one bus (one chip): its settings and one entry
 * per profile point with the line it uses. gpio_config.c fills it from the
 * configuration; gpio.c runs it. */
#ifndef WG_GPIO_DRIVER_H
#define WG_GPIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "gpio_backend.h"
#include "gpio_logic.h"
#include "drivers/plugin.h"

enum gpio_role {
    GPIO_ROLE_INPUT = 0, /* a contact: edges, debounce, contact meaning */
    GPIO_ROLE_LAMP,      /* door or corridor lamp: wg_lamp_code, red line (+ green line) */
    GPIO_ROLE_BUZZER,    /* wg_buzzer_code as bursts */
    GPIO_ROLE_LEVEL,     /* any other bool output: 1 = line active */
    GPIO_ROLE_FIRE_DOOR  /* 1 = release = line inactive (magnet de-energised): fail-safe */
};

struct gpio_point {
    /* from the configuration */
    uint32_t device, point; /* indexes of the bus view */
    const char *name;       /* "<device>.<point>" for messages */
    enum gpio_role role;
    unsigned line;
    bool has_green;
    unsigned green_line;
    bool active_low;
    enum gpio_bias bias;
    int64_t debounce_ns;
    struct gpio_contact contact; /* mode and normally_closed; value at run time */
    bool is_reset_button;        /* meaning reset_button: releases latched points of its device */

    /* at run time, owned by the chip's thread */
    struct gpio_line_handle *handle, *green_handle;
    bool adopted;    /* handle(s) taken over from the bus's previous instance */
    bool keep_state; /* ... with its level, pattern or contact state, which start keeps */
    struct gpio_debounce debounce;
    unsigned refreshes_mismatched; /* refreshes that found the line away from its debounced level */
    double value;                  /* outputs: the value last written by the core */
    const struct gpio_pattern *pattern, *green_pattern;
    int64_t pattern_start_ns;
    bool level, green_level; /* what the line(s) drive now */
};

struct gpio_settings {
    const struct gpio_backend *backend;
    const char *chip;
    const char *consumer;
    int64_t reopen_ns; /* a lost chip is looked for again this often */
    struct gpio_sim_settings sim;
    struct gpio_sim_step *steps;
};

/* Reads the bus's settings and every point's `source`, reporting problems
 * through host->cfg_error. Returns false if any is wrong. *points is
 * allocated (one entry per profile point of every device, in order). */
bool gpio_config_read(const struct wg_host *host, const struct wg_bus_view *bus,
                      struct gpio_settings *settings, struct gpio_point **points,
                      size_t *point_count);
void gpio_config_free(struct gpio_settings *settings, struct gpio_point *points, size_t count);

#endif
