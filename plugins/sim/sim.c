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
 * and the script's progress when the script did not change.
 *
 * This file opens, starts, stops, takes over and closes a bus; the settings
 * are read in sim_config.c, the bus thread is sim_thread.c, the control FIFO
 * sim_control.c, and a device's simulated values sim_model.c. */
#include "sim_driver.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    bool ok = sim_read_bus_settings(sim);
    for (size_t d = 0; d < bus->device_count; d++) {
        sim->devices[d].view = &bus->devices[d];
        sim->devices[d].points =
            calloc(bus->devices[d].point_count ? bus->devices[d].point_count : 1,
                   sizeof *sim->devices[d].points);
        if (!sim->devices[d].points) {
            sim_free(sim);
            return -1;
        }
        ok = sim_read_device_settings(sim, &sim->devices[d]) && ok;
    }
    if (!ok || !sim_group_rooms(sim)) {
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

/* ---- lifecycle ---- */

static void sim_stop(void *instance, enum wg_stop_reason reason);

static int sim_start(void *instance)
{
    struct sim_bus *sim = instance;
    sim->stop = false;
    if (!sim->script_adopted)
        sim->start_mono_ms = sim_mono_ms();
    if (sim->control_path && !sim->control_adopted && sim_control_open(sim) != 0)
        return -1;
    if (sim->control_path && sim_control_start(sim) != 0) {
        if (!sim->control_adopted)
            sim_control_close(sim);
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
        sim_control_close(sim);
    sim->running = false;
}

/* Commands queued in `from` for `to`, device and point found by id and name. */
static void take_commands(struct sim_bus *to, const struct sim_bus *from)
{
    for (size_t i = 0; i < from->control_count && to->control_count < CONTROL_QUEUE; i++) {
        struct control_cmd cmd = from->control[i];
        const struct wg_device_view *device = &from->bus->devices[cmd.step.device];
        long d = sim_find_device(to->bus, device->id);
        long p = cmd.step.action == STEP_HEALTH
                     ? 0
                     : (d < 0 ? -1
                              : sim_find_point(&to->bus->devices[d],
                                               device->points[cmd.step.point].name));
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
        long d = sim_find_device(sim->bus, device->id);
        long p =
            d < 0 ? -1 : sim_find_point(&sim->bus->devices[d], device->points[request.point].name);
        if (p < 0)
            continue;
        request.device = (uint32_t)d;
        request.point = (uint32_t)p;
        sim->writes[sim->write_count++] = request;
    }
    old->write_count = 0;
    /* Devices by id, points by name, rooms by name. */
    for (size_t d = 0; d < sim->bus->device_count; d++) {
        long o = sim_find_device(old->bus, sim->bus->devices[d].id);
        if (o < 0 || !old->devices[o].has_state)
            continue; /* the old instance never had a state for it */
        struct sim_device *to = &sim->devices[d];
        const struct sim_device *from = &old->devices[o];
        for (size_t p = 0; p < to->view->point_count; p++) {
            long q = sim_find_point(from->view, to->view->points[p].name);
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
        sim_control_close(sim); /* not taken over: the FIFO goes */
    pthread_cond_destroy(&sim->wake);
    pthread_cond_destroy(&sim->control_room);
    pthread_mutex_destroy(&sim->lock);
    sim_free(sim);
}

WG_PLUGIN_DEFINE(.name = "sim", .version = "2.0", .open = sim_open, .start = sim_start,
                 .write = sim_write, .stop = sim_stop, .close = sim_close,
                 .take_over = sim_take_over);
