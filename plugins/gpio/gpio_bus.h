/* Private to the GPIO driver's running side (gpio.c, gpio_lines.c,
 * gpio_thread.c): one bus (one chip) with its thread's state, small helpers,
 * and what each file offers the others. The configuration model is
 * gpio_driver.h. */
#ifndef WG_GPIO_BUS_H
#define WG_GPIO_BUS_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gpio_driver.h"

#define WRITE_QUEUE 64
#define EDGE_BATCH  16

struct gpio_bus {
    const struct wg_host *host;
    const struct wg_bus_view *bus;
    struct gpio_settings settings;
    struct gpio_point *points;
    size_t point_count;
    size_t *first_point; /* per device: index of its first point in points[] */

    /* owned by the thread while it runs */
    struct gpio_chip_handle *chip;
    bool chip_lost;
    int64_t next_reopen_ns;
    int64_t *next_refresh_ns; /* per device */
    int timer_fd;
    struct pollfd *pollfds;
    size_t *pollfd_point; /* pollfds[i] (i >= 2) belongs to points[pollfd_point[i]] */

    pthread_t thread;
    bool running;
    int wake_fd;
    pthread_mutex_t lock; /* guards the fields below */
    bool stop;
    struct wg_write_request writes[WRITE_QUEUE];
    size_t write_count;
};

static inline int64_t mono_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* A CLOCK_MONOTONIC time as the core's wall-clock ms. */
static inline int64_t wall_ms_of(const struct gpio_bus *gpio, int64_t ts_ns)
{
    return gpio->host->now_ms(gpio->host) - (mono_ns() - ts_ns) / 1000000;
}

static inline struct gpio_point *point_of(struct gpio_bus *gpio, uint32_t device, uint32_t point)
{
    if (device >= gpio->bus->device_count || point >= gpio->bus->devices[device].point_count)
        return NULL;
    return &gpio->points[gpio->first_point[device] + point];
}

static inline bool is_output(const struct gpio_point *point)
{
    return point->role != GPIO_ROLE_INPUT;
}

/* ---- lines (gpio_lines.c) ---- */

/* The level an output drives before the core has said anything. */
bool gpio_start_level(const struct gpio_point *point);
/* Opens the chip (unless open) and requests every line not held yet. Outputs
 * start at what `point->level` holds (the start level, or after a lost chip
 * what the core last asked for). On failure lets go of what it requested and
 * keeps what was held before (lines taken over). */
int gpio_acquire_lines(struct gpio_bus *gpio, char *why, size_t why_len);
/* Sets an output's pattern (and its green line's), from now_ns. */
void gpio_set_output(struct gpio_point *point, int64_t now_ns, const struct gpio_pattern *pattern,
                     const struct gpio_pattern *green);
/* Drives an output's line(s) inactive (lamps off, fire-door magnet
 * de-energised: released) and lets go: its stop state. */
void gpio_stop_output(struct gpio_bus *gpio, struct gpio_point *point);
/* Lets go of every line and closes the chip. */
void gpio_release_lines(struct gpio_bus *gpio);

/* ---- the bus thread (gpio_thread.c) ---- */

void *gpio_thread(void *arg);

#endif
