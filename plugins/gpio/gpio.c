/* The `gpio` driver: contacts and outputs on the lines of one GPIO chip.
 *
 * One thread per bus (= per chip) waits in poll() on the edge-event fds of
 * its input lines, a timerfd (debounce deadlines, lamp and buzzer patterns,
 * supervision refresh, looking for a lost chip) and an eventfd that the
 * core's write() pokes. Inputs are never polled for changes: a change is a
 * kernel edge event, debounced, dated by the edge's kernel time stamp.
 *
 * Every poll_ms the thread re-posts each device's values (the core's
 * supervision needs to hear from a device) and reads its input lines to
 * prove the chip is still there; a line found away from its debounced level
 * at two refreshes in a row with no edge (an edge lost to a full kernel
 * FIFO) is taken over and counted as `edge_resync`.
 *
 * Output states (docs/gpio.md): at start lamps and buzzers are off, fire-door
 * magnets energised (held) and other outputs inactive, until the core's first
 * write, which follows at once; at a shutdown every output line is driven
 * inactive (lamps off, fire doors released) before it is let go; after a
 * crash the kernel lets the lines go and the wiring's pull resistors decide,
 * which must be pull-downs for the fail-safe outputs. A chip that disappears
 * marks its devices offline (a technical alarm in the core) and is looked for
 * again every reopen_s; when it is back its outputs are driven to what the
 * core last asked for. Settings and sources: gpio_config.c and docs/gpio.md.
 *
 * A reload that restarts the bus never lets a line go: stop (reason reload or
 * bus changed) keeps every line requested at its level, and the new instance
 * takes the line requests over (take_over) with their levels, patterns,
 * debounce and contact states; edges that arrive meanwhile wait in the
 * kernel's event FIFO of the still-requested input line. Only a line whose
 * request changes (direction, polarity, bias, green line) is driven to its
 * stop state, let go and requested again; lines nobody takes over go to their
 * stop state at close.
 *
 * This file opens, starts, writes to, stops, takes over and closes a bus;
 * requesting and letting go of lines is gpio_lines.c, the bus thread
 * gpio_thread.c, and the settings gpio_config.c. */
#include "gpio_bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ---- open / close ---- */

static void gpio_free(struct gpio_bus *gpio)
{
    if (!gpio)
        return;
    gpio_config_free(&gpio->settings, gpio->points, gpio->point_count);
    free(gpio->first_point);
    free(gpio->next_refresh_ns);
    free(gpio->pollfds);
    free(gpio->pollfd_point);
    if (gpio->wake_fd >= 0)
        close(gpio->wake_fd);
    if (gpio->timer_fd >= 0)
        close(gpio->timer_fd);
    free(gpio);
}

static int gpio_open(const struct wg_host *host, const struct wg_bus_view *bus, void **instance)
{
    struct gpio_bus *gpio = calloc(1, sizeof *gpio);
    if (!gpio)
        return -1;
    gpio->host = host;
    gpio->bus = bus;
    gpio->wake_fd = gpio->timer_fd = -1;
    bool ok = gpio_config_read(host, bus, &gpio->settings, &gpio->points, &gpio->point_count);
    size_t devices = bus->device_count ? bus->device_count : 1;
    gpio->first_point = calloc(devices, sizeof *gpio->first_point);
    gpio->next_refresh_ns = calloc(devices, sizeof *gpio->next_refresh_ns);
    gpio->pollfds = calloc(gpio->point_count + 2, sizeof *gpio->pollfds);
    gpio->pollfd_point = calloc(gpio->point_count + 2, sizeof *gpio->pollfd_point);
    if (!ok || !gpio->first_point || !gpio->next_refresh_ns || !gpio->pollfds ||
        !gpio->pollfd_point) {
        gpio_free(gpio);
        return -1;
    }
    for (size_t d = 0, n = 0; d < bus->device_count; d++) {
        gpio->first_point[d] = n;
        n += bus->devices[d].point_count;
    }
    gpio->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    gpio->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (gpio->wake_fd < 0 || gpio->timer_fd < 0) {
        host->log(host, WG_PLOG_ERR, "cannot create the driver's eventfd/timerfd: %s",
                  strerror(errno));
        gpio_free(gpio);
        return -1;
    }
    pthread_mutex_init(&gpio->lock, NULL);
    *instance = gpio;
    return 0;
}

/* ---- lifecycle ---- */

/* Points start in their defined state, except what was taken over with its state. */
static void initial_states(struct gpio_bus *gpio)
{
    int64_t now = mono_ns();
    for (size_t i = 0; i < gpio->point_count; i++) {
        struct gpio_point *point = &gpio->points[i];
        if (point->keep_state)
            continue;
        point->contact.value = false;
        if (is_output(point)) {
            point->value = 0; /* lamps and buzzers off, fire doors held */
            bool level = gpio_start_level(point);
            gpio_set_output(point, now, gpio_level_pattern(level),
                            point->has_green ? gpio_level_pattern(false) : NULL);
        }
    }
}

/* Lines taken over without their state get the state start gives them. */
static int settle_adopted(struct gpio_bus *gpio, char *why, size_t why_len)
{
    const struct gpio_backend *backend = gpio->settings.backend;
    for (size_t i = 0; i < gpio->point_count; i++) {
        struct gpio_point *point = &gpio->points[i];
        if (!point->adopted || point->keep_state)
            continue;
        if (!is_output(point)) {
            int level = backend->get(point->handle);
            if (level < 0) {
                snprintf(why, why_len, "chip %s line %u (for %s): cannot read: %s",
                         backend->describe(gpio->chip), point->line, point->name, strerror(errno));
                return -1;
            }
            gpio_debounce_init(&point->debounce, point->debounce_ns, level != 0);
            point->refreshes_mismatched = 0;
        } else if (backend->set(point->handle, point->level) != 0 ||
                   (point->green_handle && backend->set(point->green_handle, point->green_level))) {
            snprintf(why, why_len, "chip %s line %u (for %s): cannot set: %s",
                     backend->describe(gpio->chip), point->line, point->name, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int gpio_start(void *instance)
{
    struct gpio_bus *gpio = instance;
    initial_states(gpio);
    char why[320];
    if (gpio_acquire_lines(gpio, why, sizeof why) != 0 ||
        settle_adopted(gpio, why, sizeof why) != 0) {
        gpio->host->log(gpio->host, WG_PLOG_ERR, "%s", why);
        return -1;
    }
    gpio->chip_lost = false;
    size_t kept = 0;
    for (size_t i = 0; i < gpio->point_count; i++) {
        struct gpio_point *point = &gpio->points[i];
        kept += point->keep_state;
        if (point->role == GPIO_ROLE_INPUT && !point->keep_state)
            gpio_contact_level(&point->contact, point->debounce.stable);
    }
    gpio->host->log(gpio->host, WG_PLOG_INFO,
                    "chip %s (%s backend): %zu points on their lines (%zu taken over as they were)",
                    gpio->settings.backend->describe(gpio->chip), gpio->settings.backend->name,
                    gpio->point_count, kept);
    gpio->stop = false;
    if (gpio->write_count > 0) { /* taken over: the thread applies them first */
        uint64_t one = 1;
        ssize_t written = write(gpio->wake_fd, &one, sizeof one);
        (void)written;
    }
    int rc = pthread_create(&gpio->thread, NULL, gpio_thread, gpio);
    if (rc != 0) {
        gpio->host->log(gpio->host, WG_PLOG_ERR, "cannot start the gpio thread: %s", strerror(rc));
        return -1; /* the lines stay for close (or a take_over): nothing is dropped */
    }
    gpio->running = true;
    return 0;
}

static int gpio_write(void *instance, const struct wg_write_request *request)
{
    struct gpio_bus *gpio = instance;
    struct gpio_point *point = point_of(gpio, request->device, request->point);
    if (!point || !is_output(point))
        return -1;
    int code = (int)request->value;
    if ((point->role == GPIO_ROLE_LAMP && (code != request->value || !gpio_lamp_pattern(code))) ||
        (point->role == GPIO_ROLE_BUZZER &&
         (code != request->value || !gpio_buzzer_pattern(code)))) {
        gpio->host->log(gpio->host, WG_PLOG_WARNING, "write %s = %g refused: not a %s code",
                        point->name, request->value,
                        point->role == GPIO_ROLE_LAMP ? "lamp" : "buzzer");
        return -1;
    }
    pthread_mutex_lock(&gpio->lock);
    int rc = -1;
    if (gpio->write_count < WRITE_QUEUE) {
        gpio->writes[gpio->write_count++] = *request;
        rc = 0;
    }
    pthread_mutex_unlock(&gpio->lock);
    if (rc != 0) {
        gpio->host->log(gpio->host, WG_PLOG_WARNING, "write queue full; write %s refused",
                        point->name);
        return -1;
    }
    uint64_t one = 1;
    if (write(gpio->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        gpio->host->log(gpio->host, WG_PLOG_ERR, "waking the gpio thread: %s", strerror(errno));
    return 0;
}

static void gpio_stop(void *instance, enum wg_stop_reason reason)
{
    struct gpio_bus *gpio = instance;
    if (!gpio->running)
        return;
    pthread_mutex_lock(&gpio->lock);
    gpio->stop = true;
    pthread_mutex_unlock(&gpio->lock);
    uint64_t one = 1;
    ssize_t written = write(gpio->wake_fd, &one, sizeof one);
    (void)written; /* an eventfd write only fails on overflow */
    pthread_join(gpio->thread, NULL);
    gpio->running = false;
    if (reason != WG_STOP_SHUTDOWN)
        return; /* lines stay requested at their levels, writes queued, for the next instance */
    /* Defined state at a shutdown: every output inactive (lamps and buzzers
     * off, fire-door magnets de-energised: released), then let go. */
    for (size_t i = 0; i < gpio->point_count; i++)
        if (is_output(&gpio->points[i]))
            gpio_stop_output(gpio, &gpio->points[i]);
    gpio_release_lines(gpio);
    gpio->chip_lost = false;
}

/* Whether `from` is requested the way `to` would request its line(s). */
static bool same_request(const struct gpio_point *to, const struct gpio_point *from)
{
    return to->line == from->line && is_output(to) == is_output(from) &&
           to->active_low == from->active_low && to->bias == from->bias &&
           to->has_green == from->has_green &&
           (!to->has_green || to->green_line == from->green_line);
}

static bool uses_line(const struct gpio_bus *gpio, unsigned line)
{
    for (size_t i = 0; i < gpio->point_count; i++)
        if (gpio->points[i].line == line ||
            (gpio->points[i].has_green && gpio->points[i].green_line == line))
            return true;
    return false;
}

/* The new instance of a restarted bus takes the line requests of the old one
 * (same chip), each with its state when the point means the same. */
static int gpio_take_over(void *instance, void *previous)
{
    struct gpio_bus *gpio = instance, *old = previous;
    const struct gpio_backend *backend = gpio->settings.backend;
    if (!old->chip || old->chip_lost || old->settings.backend != backend ||
        !backend->is_chip(old->chip, gpio->settings.chip, &gpio->settings.sim))
        return 0; /* another chip: nothing of it is ours */
    if (!gpio->chip)
        gpio->chip = backend->share_chip(old->chip);
    size_t taken = 0, renewed = 0;
    for (size_t i = 0; i < gpio->point_count; i++) {
        struct gpio_point *to = &gpio->points[i];
        for (size_t j = 0; !to->handle && j < old->point_count; j++) {
            struct gpio_point *from = &old->points[j];
            if (!from->handle || !same_request(to, from))
                continue;
            to->handle = from->handle;
            to->green_handle = from->green_handle;
            from->handle = from->green_handle = NULL;
            to->adopted = true;
            taken++;
            if (to->role != from->role)
                continue; /* the line means something else now: start sets it */
            if (to->role == GPIO_ROLE_INPUT) {
                if (to->contact.mode != from->contact.mode ||
                    to->contact.normally_closed != from->contact.normally_closed)
                    continue; /* read afresh at start */
                to->keep_state = true;
                to->debounce = from->debounce;
                to->debounce.hold_ns = to->debounce_ns;
                to->refreshes_mismatched = from->refreshes_mismatched;
                to->contact.value = from->contact.value;
                continue;
            }
            to->keep_state = true;
            to->value = from->value;
            to->pattern = from->pattern;
            to->green_pattern = from->green_pattern;
            to->pattern_start_ns = from->pattern_start_ns;
            to->level = from->level;
            to->green_level = from->green_level;
        }
    }
    /* Writes the old thread had not applied yet, for the same device and point. */
    for (size_t k = 0; k < old->write_count && gpio->write_count < WRITE_QUEUE; k++) {
        struct wg_write_request request = old->writes[k];
        const struct wg_device_view *device = &old->bus->devices[request.device];
        for (uint32_t d = 0; d < gpio->bus->device_count; d++) {
            const struct wg_device_view *now = &gpio->bus->devices[d];
            if (strcmp(now->id, device->id) != 0)
                continue;
            for (uint32_t p = 0; p < now->point_count; p++)
                if (strcmp(now->points[p].name, device->points[request.point].name) == 0) {
                    request.device = d;
                    request.point = p;
                    gpio->writes[gpio->write_count++] = request;
                }
        }
    }
    old->write_count = 0;
    /* A line the new instance requests differently is let go, so it can. */
    for (size_t j = 0; j < old->point_count; j++) {
        struct gpio_point *from = &old->points[j];
        if (from->handle && (uses_line(gpio, from->line) ||
                             (from->has_green && uses_line(gpio, from->green_line)))) {
            gpio_stop_output(old, from);
            renewed++;
        }
    }
    gpio->host->log(
        gpio->host, WG_PLOG_INFO, "took over %zu line requests from the previous instance%s", taken,
        renewed ? "; lines requested differently now are let go and requested again" : "");
    return 0;
}

static void gpio_close(void *instance)
{
    struct gpio_bus *gpio = instance;
    if (!gpio)
        return;
    gpio_stop(gpio, WG_STOP_SHUTDOWN);
    /* Lines still held after a stop for a reload that nobody took over: their
     * stop state, then let go. */
    for (size_t i = 0; i < gpio->point_count; i++)
        gpio_stop_output(gpio, &gpio->points[i]);
    gpio->settings.backend->close_chip(gpio->chip);
    gpio->chip = NULL;
    pthread_mutex_destroy(&gpio->lock);
    gpio_free(gpio);
}

WG_PLUGIN_DEFINE(.name = "gpio", .version = "2.0", .open = gpio_open, .start = gpio_start,
                 .write = gpio_write, .stop = gpio_stop, .close = gpio_close,
                 .take_over = gpio_take_over);
