/* The GPIO driver's bus thread: waits in poll() on the input lines' edge
 * fds, a timerfd and the write eventfd; debounces edges and posts
 * readings, runs lamp and buzzer patterns, re-posts every poll_ms (finding
 * lost edges), applies the core's writes, and marks the devices offline
 * when the chip goes away, looking for it again every reopen_s. */
#include "gpio_bus.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

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
    gpio_release_lines(gpio);
    gpio->chip_lost = true;
    gpio->next_reopen_ns = mono_ns() + gpio->settings.reopen_ns;
}

static void try_reopen(struct gpio_bus *gpio, int64_t now_ns)
{
    if (!gpio->chip_lost || now_ns < gpio->next_reopen_ns)
        return;
    char why[320];
    if (gpio_acquire_lines(gpio, why, sizeof why) != 0) {
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
        gpio_set_output(point, mono_ns(), pattern, green);
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

void *gpio_thread(void *arg)
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
