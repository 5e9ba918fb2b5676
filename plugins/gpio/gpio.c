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
 * stop state at close. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

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

static int64_t mono_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* A CLOCK_MONOTONIC time as the core's wall-clock ms. */
static int64_t wall_ms_of(const struct gpio_bus *gpio, int64_t ts_ns)
{
    return gpio->host->now_ms(gpio->host) - (mono_ns() - ts_ns) / 1000000;
}

static struct gpio_point *point_of(struct gpio_bus *gpio, uint32_t device, uint32_t point)
{
    if (device >= gpio->bus->device_count || point >= gpio->bus->devices[device].point_count)
        return NULL;
    return &gpio->points[gpio->first_point[device] + point];
}

static bool is_output(const struct gpio_point *point)
{
    return point->role != GPIO_ROLE_INPUT;
}

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

/* ---- lines ---- */

/* The level an output drives before the core has said anything. */
static bool start_level(const struct gpio_point *point)
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
static void stop_output(struct gpio_bus *gpio, struct gpio_point *point)
{
    const struct gpio_backend *backend = gpio->settings.backend;
    if (point->handle && point->role != GPIO_ROLE_INPUT &&
        (backend->set(point->handle, false) != 0 ||
         (point->green_handle && backend->set(point->green_handle, false) != 0)))
        gpio->host->log(gpio->host, WG_PLOG_ERR, "%s: cannot drive line %u inactive: %s",
                        point->name, point->line, strerror(errno));
    release_point(backend, point);
}

static void release_lines(struct gpio_bus *gpio)
{
    for (size_t i = 0; i < gpio->point_count; i++)
        release_point(gpio->settings.backend, &gpio->points[i]);
    gpio->settings.backend->close_chip(gpio->chip);
    gpio->chip = NULL;
}

static void set_output(struct gpio_point *point, int64_t now_ns, const struct gpio_pattern *pattern,
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
static int acquire_lines(struct gpio_bus *gpio, char *why, size_t why_len)
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

/* ---- posting ---- */

static void post_point(struct gpio_bus *gpio, const struct gpio_point *point, int64_t ts_ms)
{
    double value = is_output(point) ? point->value : (point->contact.value ? 1.0 : 0.0);
    gpio->host->post_reading(gpio->host, point->device, point->point, value, ts_ms);
}

/* Every device online, with its current values. */
static void announce(struct gpio_bus *gpio, const char *reason)
{
    int64_t now_ms = gpio->host->now_ms(gpio->host);
    for (uint32_t d = 0; d < gpio->bus->device_count; d++)
        gpio->host->post_health(gpio->host, d, WG_HEALTH_ONLINE, WG_REASON_ANSWERING, reason);
    for (size_t i = 0; i < gpio->point_count; i++)
        post_point(gpio, &gpio->points[i], now_ms);
}

/* The line(s) of an input settled at a new level: what it means, and for a
 * reset button the latched points of its device that let go first (the
 * cord's release reaches the core before the reset press). */
static void input_changed(struct gpio_bus *gpio, struct gpio_point *point, int64_t ts_ns)
{
    int64_t ts_ms = wall_ms_of(gpio, ts_ns);
    bool was = point->contact.value;
    if (!gpio_contact_level(&point->contact, point->debounce.stable))
        return;
    if (point->is_reset_button && point->contact.value && !was) {
        size_t first = gpio->first_point[point->device];
        for (size_t p = 0; p < gpio->bus->devices[point->device].point_count; p++) {
            struct gpio_point *other = &gpio->points[first + p];
            if (other->role == GPIO_ROLE_INPUT &&
                gpio_contact_reset(&other->contact, other->debounce.stable))
                post_point(gpio, other, ts_ms);
        }
    }
    post_point(gpio, point, ts_ms);
}

/* ---- the chip going away and coming back ---- */

static void lose_chip(struct gpio_bus *gpio, const char *what, int err)
{
    if (gpio->chip_lost)
        return;
    char reason[160];
    snprintf(reason, sizeof reason, "chip %s %s: %s", gpio->settings.backend->describe(gpio->chip),
             what, strerror(err));
    gpio->host->log(gpio->host, WG_PLOG_ERR,
                    "%s; its devices are offline, looking for it every %lld s", reason,
                    (long long)(gpio->settings.reopen_ns / 1000000000));
    for (uint32_t d = 0; d < gpio->bus->device_count; d++)
        gpio->host->post_health(gpio->host, d, WG_HEALTH_OFFLINE, WG_REASON_CHIP_MISSING, reason);
    release_lines(gpio);
    gpio->chip_lost = true;
    gpio->next_reopen_ns = mono_ns() + gpio->settings.reopen_ns;
}

static void try_reopen(struct gpio_bus *gpio, int64_t now_ns)
{
    if (!gpio->chip_lost || now_ns < gpio->next_reopen_ns)
        return;
    char why[320];
    if (acquire_lines(gpio, why, sizeof why) != 0) {
        gpio->host->log(gpio->host, WG_PLOG_DEBUG, "still missing: %s", why);
        gpio->next_reopen_ns = now_ns + gpio->settings.reopen_ns;
        return;
    }
    gpio->chip_lost = false;
    for (size_t i = 0; i < gpio->point_count; i++) {
        struct gpio_point *point = &gpio->points[i];
        if (point->role == GPIO_ROLE_INPUT)
            gpio_contact_level(&point->contact, point->debounce.stable);
        else
            point->pattern_start_ns = now_ns;
    }
    gpio->host->log(gpio->host, WG_PLOG_WARNING, "chip %s is back; outputs restored",
                    gpio->settings.backend->describe(gpio->chip));
    announce(gpio, "chip back");
}

/* ---- writes from the core ---- */

static void apply_write(struct gpio_bus *gpio, const struct wg_write_request *request)
{
    const struct wg_host *host = gpio->host;
    const struct gpio_backend *backend = gpio->settings.backend;
    struct gpio_point *point = point_of(gpio, request->device, request->point);
    int code = (int)request->value;
    const struct gpio_pattern *pattern, *green = NULL;
    switch (point->role) {
    case GPIO_ROLE_LAMP:
        pattern = gpio_lamp_pattern(code);
        green = point->has_green ? gpio_lamp_green_pattern(code) : NULL;
        break;
    case GPIO_ROLE_BUZZER:
        pattern = gpio_buzzer_pattern(code);
        break;
    case GPIO_ROLE_FIRE_DOOR: /* 1 = release = de-energise */
        pattern = gpio_level_pattern(request->value == 0);
        break;
    default:
        pattern = gpio_level_pattern(request->value != 0);
        break;
    }
    /* The value it already shows (the core writes every output again when a
     * reload restarted the bus): the pattern keeps its rhythm. */
    if (pattern != point->pattern || green != point->green_pattern)
        set_output(point, mono_ns(), pattern, green);
    point->value = request->value;
    if (gpio->chip_lost) {
        host->post_write_result(host, request->request_id, false,
                                "chip not present; applied when it is back");
        return;
    }
    char reason[160] = "";
    if (backend->set(point->handle, point->level) != 0 ||
        (point->green_handle && backend->set(point->green_handle, point->green_level) != 0)) {
        int err = errno;
        snprintf(reason, sizeof reason, "chip %s line %u: set failed: %s",
                 backend->describe(gpio->chip), point->line, strerror(err));
        host->post_write_result(host, request->request_id, false, reason);
        if (err == ENODEV || err == ENXIO || err == EIO)
            lose_chip(gpio, "failed a write", err);
        return;
    }
    int back = backend->get(point->handle);
    if (back != (point->level ? 1 : 0)) {
        snprintf(reason, sizeof reason, "chip %s line %u: read-back %d, expected %d",
                 backend->describe(gpio->chip), point->line, back, point->level ? 1 : 0);
        host->post_write_result(host, request->request_id, false, reason);
        return;
    }
    host->post_reading(host, request->device, request->point, request->value, host->now_ms(host));
    host->post_write_result(host, request->request_id, true, "");
}

static void drain_writes(struct gpio_bus *gpio)
{
    uint64_t counter;
    ssize_t got = read(gpio->wake_fd, &counter, sizeof counter);
    (void)got; /* EAGAIN: woken for the queue below anyway */
    for (;;) {
        pthread_mutex_lock(&gpio->lock);
        if (gpio->write_count == 0) {
            pthread_mutex_unlock(&gpio->lock);
            return;
        }
        struct wg_write_request request = gpio->writes[0];
        memmove(gpio->writes, gpio->writes + 1, --gpio->write_count * sizeof gpio->writes[0]);
        pthread_mutex_unlock(&gpio->lock);
        apply_write(gpio, &request);
    }
}

/* ---- the thread ---- */

static void read_edges(struct gpio_bus *gpio, struct gpio_point *point, short revents)
{
    if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
        lose_chip(gpio, "closed its line events", ENODEV);
        return;
    }
    struct gpio_edge edges[EDGE_BATCH];
    int count = gpio->settings.backend->read_edges(point->handle, edges, EDGE_BATCH);
    if (count < 0) {
        lose_chip(gpio, "failed reading edges", errno);
        return;
    }
    uint32_t bounces = point->debounce.bounces;
    for (int i = 0; i < count; i++)
        gpio_debounce_edge(&point->debounce, edges[i].level, edges[i].ts_ns);
    if (count > 0)
        point->refreshes_mismatched = 0;
    if (point->debounce.bounces != bounces) {
        /* Worth knowing: a contact that bounces a lot is wearing out. */
        gpio->host->post_counter(gpio->host, point->device, "bounces",
                                 point->debounce.bounces - bounces);
        gpio->host->log(gpio->host, WG_PLOG_INFO,
                        "%s: bounce shorter than %lld ms ignored (%u so far)", point->name,
                        (long long)(point->debounce_ns / 1000000), point->debounce.bounces);
    }
}

/* Settles debounced inputs and steps patterns; returns the next deadline. */
static int64_t run_timers(struct gpio_bus *gpio, int64_t now)
{
    int64_t next = GPIO_NEVER;
    const struct gpio_backend *backend = gpio->settings.backend;
    for (size_t i = 0; i < gpio->point_count && !gpio->chip_lost; i++) {
        struct gpio_point *point = &gpio->points[i];
        if (point->role == GPIO_ROLE_INPUT) {
            int64_t changed_at;
            if (gpio_debounce_settle(&point->debounce, now, &changed_at))
                input_changed(gpio, point, changed_at);
            int64_t deadline = gpio_debounce_deadline(&point->debounce);
            next = deadline < next ? deadline : next;
            continue;
        }
        int64_t elapsed = now - point->pattern_start_ns, change, green_change = GPIO_NEVER;
        bool level = gpio_pattern_level(point->pattern, elapsed, &change);
        bool green = point->green_pattern &&
                     gpio_pattern_level(point->green_pattern, elapsed, &green_change);
        if ((level != point->level && backend->set(point->handle, level) != 0) ||
            (point->green_handle && green != point->green_level &&
             backend->set(point->green_handle, green) != 0)) {
            lose_chip(gpio, "failed driving a pattern", errno);
            break;
        }
        point->level = level;
        point->green_level = green;
        change = green_change < change ? green_change : change;
        if (change != GPIO_NEVER && point->pattern_start_ns + change < next)
            next = point->pattern_start_ns + change;
    }
    return next;
}

/* Supervision: re-post each due device's values and prove its lines answer. */
static int64_t refresh_devices(struct gpio_bus *gpio, int64_t now)
{
    int64_t next = GPIO_NEVER;
    const struct gpio_backend *backend = gpio->settings.backend;
    for (uint32_t d = 0; d < gpio->bus->device_count; d++) {
        int64_t period = (int64_t)gpio->bus->devices[d].poll_ms * 1000000;
        if (now >= gpio->next_refresh_ns[d] && !gpio->chip_lost) {
            gpio->next_refresh_ns[d] = now + period;
            int64_t now_ms = gpio->host->now_ms(gpio->host);
            size_t first = gpio->first_point[d];
            for (size_t p = 0; p < gpio->bus->devices[d].point_count && !gpio->chip_lost; p++) {
                struct gpio_point *point = &gpio->points[first + p];
                int level = backend->get(point->handle);
                if (level < 0) {
                    lose_chip(gpio, "stopped answering", errno);
                    break;
                }
                if (point->role == GPIO_ROLE_INPUT && !point->debounce.pending &&
                    (level != 0) != point->debounce.stable && ++point->refreshes_mismatched >= 2) {
                    gpio->host->post_counter(gpio->host, d, "edge_resync", 1);
                    gpio_debounce_edge(&point->debounce, level != 0, now);
                    point->refreshes_mismatched = 0;
                } else if (point->role == GPIO_ROLE_INPUT &&
                           (level != 0) == point->debounce.stable) {
                    point->refreshes_mismatched = 0;
                }
                post_point(gpio, point, now_ms);
            }
        }
        if (gpio->next_refresh_ns[d] < next)
            next = gpio->next_refresh_ns[d];
    }
    return next;
}

static void arm_timer(struct gpio_bus *gpio, int64_t deadline)
{
    struct itimerspec spec = {0};
    if (deadline != GPIO_NEVER) {
        if (deadline <= 0)
            deadline = 1;
        spec.it_value.tv_sec = deadline / 1000000000;
        spec.it_value.tv_nsec = deadline % 1000000000;
    }
    if (timerfd_settime(gpio->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL) != 0)
        gpio->host->log(gpio->host, WG_PLOG_ERR, "timerfd_settime: %s", strerror(errno));
}

static void *gpio_thread(void *arg)
{
    struct gpio_bus *gpio = arg;
    const struct gpio_backend *backend = gpio->settings.backend;
    announce(gpio, "lines requested"); /* from this thread: it may wait for room */
    int64_t start = mono_ns();
    for (uint32_t d = 0; d < gpio->bus->device_count; d++)
        gpio->next_refresh_ns[d] = start + (int64_t)gpio->bus->devices[d].poll_ms * 1000000;
    for (;;) {
        pthread_mutex_lock(&gpio->lock);
        bool stop = gpio->stop;
        pthread_mutex_unlock(&gpio->lock);
        if (stop)
            break;
        int64_t now = mono_ns();
        try_reopen(gpio, now);
        int64_t next = run_timers(gpio, now);
        int64_t refresh = refresh_devices(gpio, now);
        next = refresh < next ? refresh : next;
        if (gpio->chip_lost && gpio->next_reopen_ns < next)
            next = gpio->next_reopen_ns;
        arm_timer(gpio, next);

        gpio->pollfds[0] = (struct pollfd){.fd = gpio->wake_fd, .events = POLLIN};
        gpio->pollfds[1] = (struct pollfd){.fd = gpio->timer_fd, .events = POLLIN};
        nfds_t count = 2;
        for (size_t i = 0; i < gpio->point_count && !gpio->chip_lost; i++)
            if (gpio->points[i].role == GPIO_ROLE_INPUT) {
                gpio->pollfds[count] = (struct pollfd){
                    .fd = backend->event_fd(gpio->points[i].handle), .events = POLLIN};
                gpio->pollfd_point[count++] = i;
            }
        if (poll(gpio->pollfds, count, -1) < 0) {
            if (errno != EINTR)
                gpio->host->log(gpio->host, WG_PLOG_ERR, "poll: %s", strerror(errno));
            continue;
        }
        if (gpio->pollfds[1].revents & POLLIN) {
            uint64_t expirations;
            ssize_t got = read(gpio->timer_fd, &expirations, sizeof expirations);
            (void)got; /* the deadlines are recomputed from the clock */
        }
        for (nfds_t i = 2; i < count && !gpio->chip_lost; i++)
            if (gpio->pollfds[i].revents)
                read_edges(gpio, &gpio->points[gpio->pollfd_point[i]], gpio->pollfds[i].revents);
        if (gpio->pollfds[0].revents & POLLIN)
            drain_writes(gpio);
    }
    return NULL;
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
            bool level = start_level(point);
            set_output(point, now, gpio_level_pattern(level),
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
    if (acquire_lines(gpio, why, sizeof why) != 0 || settle_adopted(gpio, why, sizeof why) != 0) {
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
            stop_output(gpio, &gpio->points[i]);
    release_lines(gpio);
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
            stop_output(old, from);
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
        stop_output(gpio, &gpio->points[i]);
    gpio->settings.backend->close_chip(gpio->chip);
    gpio->chip = NULL;
    pthread_mutex_destroy(&gpio->lock);
    gpio_free(gpio);
}

WG_PLUGIN_DEFINE(.name = "gpio", .version = "2.0", .open = gpio_open, .start = gpio_start,
                 .write = gpio_write, .stop = gpio_stop, .close = gpio_close,
                 .take_over = gpio_take_over);
