/* The "simulated" GPIO line backend: a chip in memory, for the demo and for
 * machines without GPIO. Inputs behave like wires on a real chip: a level
 * change is an edge with a CLOCK_MONOTONIC time stamp, handed over through an
 * eventfd so the driver's thread waits on it exactly as on a kernel line. A
 * script (bus setting `simulated.script`) moves input wires over time,
 * bouncing contacts included; every output change can be appended to a trace
 * file ("<monotonic ms> <line> <physical level>") for tests and the demo. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "gpio_backend.h"

#define EDGE_QUEUE 64 /* per line, like the kernel's event FIFO: overflow drops edges */

struct sim_line {
    bool requested, output, active_low;
    bool physical; /* the wire's level */
    bool wired;    /* a script or test drives the wire; otherwise the bias decides */
    char consumer[32];
    int event_fd;
    struct gpio_edge edges[EDGE_QUEUE];
    size_t edge_head, edge_count;
};

struct gpio_chip_handle {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint refs; /* open_chip/share_chip and each requested line */
    unsigned count;
    struct sim_line *lines;
    char name[64];
    char description[96];
    char *trace_path;
    FILE *trace;
    struct gpio_sim_step *steps;
    size_t step_count;
    size_t first_timed_step; /* steps before it are the wiring at time 0 */
    pthread_t script_thread;
    bool script_running;
    bool stop;
};

struct gpio_line_handle {
    struct gpio_chip_handle *chip;
    unsigned offset;
};

static int64_t mono_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static void drive_locked(struct gpio_chip_handle *chip, unsigned offset, bool high, int64_t ts_ns)
{
    struct sim_line *line = &chip->lines[offset];
    if (line->requested && line->output)
        return; /* a wire cannot move a line the chip drives */
    line->wired = true;
    if (line->physical == high)
        return;
    line->physical = high;
    if (!line->requested)
        return;
    if (line->edge_count == EDGE_QUEUE)
        return; /* full: the edge is lost, as in the kernel's FIFO */
    line->edges[(line->edge_head + line->edge_count++) % EDGE_QUEUE] =
        (struct gpio_edge){.ts_ns = ts_ns, .level = high != line->active_low};
    uint64_t one = 1;
    ssize_t written = write(line->event_fd, &one, sizeof one);
    (void)written; /* an eventfd counter cannot overflow at this rate */
}

int gpio_simulated_drive(struct gpio_chip_handle *chip, unsigned line, bool high, int64_t ts_ns)
{
    if (!chip || line >= chip->count)
        return -1;
    pthread_mutex_lock(&chip->lock);
    drive_locked(chip, line, high, ts_ns);
    pthread_mutex_unlock(&chip->lock);
    return 0;
}

int gpio_simulated_level(struct gpio_chip_handle *chip, unsigned line)
{
    if (!chip || line >= chip->count)
        return -1;
    pthread_mutex_lock(&chip->lock);
    int level = chip->lines[line].physical;
    pthread_mutex_unlock(&chip->lock);
    return level;
}

/* Runs the script: each step at its time after the chip was opened. */
static void *script_thread(void *arg)
{
    struct gpio_chip_handle *chip = arg;
    int64_t start = mono_ns();
    pthread_mutex_lock(&chip->lock);
    for (size_t s = chip->first_timed_step; s < chip->step_count && !chip->stop; s++) {
        const struct gpio_sim_step *step = &chip->steps[s];
        bool high = step->high;
        for (unsigned i = 0; i < step->repeat && !chip->stop; i++) {
            int64_t due = start + step->at_ms * 1000000 + (int64_t)i * step->every_ms * 1000000;
            while (!chip->stop && mono_ns() < due) {
                struct timespec until = {due / 1000000000, due % 1000000000};
                pthread_cond_timedwait(&chip->wake, &chip->lock, &until);
            }
            if (chip->stop)
                break;
            drive_locked(chip, step->line, high, mono_ns());
            high = !high;
        }
    }
    pthread_mutex_unlock(&chip->lock);
    return NULL;
}

static void sim_close_chip(struct gpio_chip_handle *chip);

static struct gpio_chip_handle *sim_open_chip(const char *name, const struct gpio_sim_settings *sim,
                                              char *why, size_t why_len)
{
    struct gpio_chip_handle *chip = calloc(1, sizeof *chip);
    unsigned count = sim && sim->lines ? sim->lines : 64;
    if (chip)
        chip->lines = calloc(count, sizeof *chip->lines);
    if (chip && sim && sim->step_count)
        chip->steps = calloc(sim->step_count, sizeof *chip->steps);
    if (!chip || !chip->lines || (sim && sim->step_count && !chip->steps)) {
        snprintf(why, why_len, "simulated chip \"%s\": out of memory", name);
        if (chip)
            free(chip->lines);
        free(chip);
        return NULL;
    }
    chip->count = count;
    atomic_init(&chip->refs, 1);
    for (unsigned i = 0; i < count; i++)
        chip->lines[i].event_fd = -1;
    snprintf(chip->name, sizeof chip->name, "%s", name);
    snprintf(chip->description, sizeof chip->description, "%s [simulated]", name);
    pthread_mutex_init(&chip->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&chip->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (sim && sim->trace) {
        chip->trace_path = strdup(sim->trace);
        chip->trace = chip->trace_path ? fopen(sim->trace, "a") : NULL;
        if (!chip->trace) {
            snprintf(why, why_len, "simulated chip \"%s\": trace file %s: %s", name, sim->trace,
                     strerror(errno));
            sim_close_chip(chip);
            return NULL;
        }
    }
    if (sim && sim->step_count) {
        memcpy(chip->steps, sim->steps, sim->step_count * sizeof *chip->steps);
        chip->step_count = sim->step_count;
        /* Steps at 0 ms are how the wires are before any line is requested. */
        while (chip->first_timed_step < chip->step_count &&
               chip->steps[chip->first_timed_step].at_ms == 0 &&
               chip->steps[chip->first_timed_step].repeat == 1) {
            const struct gpio_sim_step *step = &chip->steps[chip->first_timed_step++];
            drive_locked(chip, step->line, step->high, mono_ns());
        }
        int rc = pthread_create(&chip->script_thread, NULL, script_thread, chip);
        if (rc != 0) {
            snprintf(why, why_len, "simulated chip \"%s\": cannot start its script: %s", name,
                     strerror(rc));
            sim_close_chip(chip);
            return NULL;
        }
        chip->script_running = true;
    }
    return chip;
}

static void sim_close_chip(struct gpio_chip_handle *chip)
{
    if (!chip || atomic_fetch_sub(&chip->refs, 1) != 1)
        return;
    if (chip->script_running) {
        pthread_mutex_lock(&chip->lock);
        chip->stop = true;
        pthread_cond_signal(&chip->wake);
        pthread_mutex_unlock(&chip->lock);
        pthread_join(chip->script_thread, NULL);
    }
    if (chip->trace)
        fclose(chip->trace);
    pthread_cond_destroy(&chip->wake);
    pthread_mutex_destroy(&chip->lock);
    free(chip->steps);
    free(chip->lines);
    free(chip->trace_path);
    free(chip);
}

static struct gpio_chip_handle *sim_share_chip(struct gpio_chip_handle *chip)
{
    atomic_fetch_add(&chip->refs, 1);
    return chip;
}

/* A simulated chip exists only in this process: it is the same chip when it
 * has the same name and the same simulated wiring (lines, trace, script). */
static bool sim_is_chip(struct gpio_chip_handle *open, const char *name,
                        const struct gpio_sim_settings *sim)
{
    unsigned count = sim && sim->lines ? sim->lines : 64;
    size_t steps = sim ? sim->step_count : 0;
    const char *trace = sim && sim->trace ? sim->trace : "";
    if (strcmp(open->name, name) != 0 || open->count != count || open->step_count != steps ||
        strcmp(open->trace_path ? open->trace_path : "", trace) != 0)
        return false;
    for (size_t i = 0; i < steps; i++) {
        const struct gpio_sim_step *a = &open->steps[i], *b = &sim->steps[i];
        if (a->at_ms != b->at_ms || a->line != b->line || a->high != b->high ||
            a->repeat != b->repeat || a->every_ms != b->every_ms)
            return false;
    }
    return true;
}

static const char *sim_describe(struct gpio_chip_handle *chip)
{
    return chip->description;
}

static unsigned sim_line_count(struct gpio_chip_handle *chip)
{
    return chip->count;
}

static void trace_locked(struct gpio_chip_handle *chip, unsigned offset)
{
    if (!chip->trace)
        return;
    fprintf(chip->trace, "%lld %u %d\n", (long long)(mono_ns() / 1000000), offset,
            chip->lines[offset].physical ? 1 : 0);
    fflush(chip->trace);
}

static struct gpio_line_handle *sim_request(struct gpio_chip_handle *chip,
                                            const struct gpio_line_request *request,
                                            const char *consumer, char *why, size_t why_len)
{
    if (request->offset >= chip->count) {
        snprintf(why, why_len, "chip %s line %u: out of range (the chip has %u lines, 0..%u)",
                 chip->description, request->offset, chip->count, chip->count - 1);
        return NULL;
    }
    struct gpio_line_handle *handle = calloc(1, sizeof *handle);
    if (!handle) {
        snprintf(why, why_len, "chip %s line %u: out of memory", chip->description,
                 request->offset);
        return NULL;
    }
    pthread_mutex_lock(&chip->lock);
    struct sim_line *line = &chip->lines[request->offset];
    if (line->requested) {
        snprintf(why, why_len, "chip %s line %u: already in use by \"%s\"", chip->description,
                 request->offset, line->consumer);
        pthread_mutex_unlock(&chip->lock);
        free(handle);
        return NULL;
    }
    if (!request->output) {
        line->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (line->event_fd < 0) {
            snprintf(why, why_len, "chip %s line %u: eventfd: %s", chip->description,
                     request->offset, strerror(errno));
            pthread_mutex_unlock(&chip->lock);
            free(handle);
            return NULL;
        }
    }
    line->requested = true;
    line->output = request->output;
    line->active_low = request->active_low;
    line->edge_head = line->edge_count = 0;
    snprintf(line->consumer, sizeof line->consumer, "%s", consumer);
    if (request->output) {
        line->physical = request->initial != request->active_low;
        trace_locked(chip, request->offset);
    } else if (!line->wired &&
               (request->bias == GPIO_BIAS_PULL_UP || request->bias == GPIO_BIAS_PULL_DOWN)) {
        line->physical =
            request->bias == GPIO_BIAS_PULL_UP; /* an open contact floats to the bias */
    }
    pthread_mutex_unlock(&chip->lock);
    handle->chip = sim_share_chip(chip);
    handle->offset = request->offset;
    return handle;
}

static void sim_release(struct gpio_line_handle *handle)
{
    if (!handle)
        return;
    struct gpio_chip_handle *chip = handle->chip;
    pthread_mutex_lock(&chip->lock);
    struct sim_line *line = &chip->lines[handle->offset];
    if (line->event_fd >= 0)
        close(line->event_fd);
    line->event_fd = -1;
    line->requested = false;
    if (line->output) {
        line->physical = false; /* a released output falls to its pull-down, as on gpio-sim */
        trace_locked(chip, handle->offset);
    }
    line->output = false;
    pthread_mutex_unlock(&chip->lock);
    free(handle);
    sim_close_chip(chip);
}

static int sim_event_fd(struct gpio_line_handle *handle)
{
    return handle->chip->lines[handle->offset].event_fd;
}

static int sim_read_edges(struct gpio_line_handle *handle, struct gpio_edge *edges, size_t max)
{
    struct gpio_chip_handle *chip = handle->chip;
    pthread_mutex_lock(&chip->lock);
    struct sim_line *line = &chip->lines[handle->offset];
    uint64_t counter;
    ssize_t got = read(line->event_fd, &counter, sizeof counter);
    (void)got; /* EAGAIN when already drained: the queue below is the truth */
    size_t n = 0;
    while (n < max && line->edge_count > 0) {
        edges[n++] = line->edges[line->edge_head];
        line->edge_head = (line->edge_head + 1) % EDGE_QUEUE;
        line->edge_count--;
    }
    if (line->edge_count > 0) {
        uint64_t one = 1; /* more left: stay readable */
        ssize_t written = write(line->event_fd, &one, sizeof one);
        (void)written;
    }
    pthread_mutex_unlock(&chip->lock);
    return (int)n;
}

static int sim_get(struct gpio_line_handle *handle)
{
    struct gpio_chip_handle *chip = handle->chip;
    pthread_mutex_lock(&chip->lock);
    const struct sim_line *line = &chip->lines[handle->offset];
    int level = line->physical != line->active_low;
    pthread_mutex_unlock(&chip->lock);
    return level;
}

static int sim_set(struct gpio_line_handle *handle, bool level)
{
    struct gpio_chip_handle *chip = handle->chip;
    pthread_mutex_lock(&chip->lock);
    struct sim_line *line = &chip->lines[handle->offset];
    int rc = -1;
    if (line->output) {
        bool physical = level != line->active_low;
        if (physical != line->physical) {
            line->physical = physical;
            trace_locked(chip, handle->offset);
        }
        rc = 0;
    } else {
        errno = EPERM;
    }
    pthread_mutex_unlock(&chip->lock);
    return rc;
}

const struct gpio_backend gpio_simulated_backend = {
    .name = "simulated",
    .open_chip = sim_open_chip,
    .close_chip = sim_close_chip,
    .share_chip = sim_share_chip,
    .is_chip = sim_is_chip,
    .describe = sim_describe,
    .line_count = sim_line_count,
    .request = sim_request,
    .release = sim_release,
    .event_fd = sim_event_fd,
    .read_edges = sim_read_edges,
    .get = sim_get,
    .set = sim_set,
};
