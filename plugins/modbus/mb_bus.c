/* The bus thread: scheduling, polls with merged reads, writes with read-back,
 * supervision and error accounting; see mb_bus.h. */
#include "mb_bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void sleep_ms(int ms)
{
    struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) < 0 && errno == EINTR) {
    }
}

static bool plan_blocks(struct mb_device *device)
{
    device->block_count = mb_plan(device->points, device->point_count, &device->limits,
                                  device->blocks, device->block_of_point);
    return device->block_count > 0 || device->point_count == 0;
}

bool mb_device_prepare(struct mb_device *device)
{
    size_t n = device->point_count ? device->point_count : 1;
    device->blocks = calloc(n, sizeof *device->blocks);
    device->block_of_point = calloc(n, sizeof *device->block_of_point);
    device->stable = calloc(n, sizeof *device->stable);
    device->pending = calloc(n, sizeof *device->pending);
    device->pending_since_ms = calloc(n, sizeof *device->pending_since_ms);
    if (!device->blocks || !device->block_of_point || !device->stable || !device->pending ||
        !device->pending_since_ms)
        return false;
    for (size_t i = 0; i < device->point_count; i++)
        device->stable[i] = device->pending[i] = -1.0; /* nothing posted yet */
    device->health.state = WG_HEALTH_UNKNOWN;
    return plan_blocks(device);
}

void mb_device_release(struct mb_device *device)
{
    free(device->blocks);
    free(device->block_of_point);
    free(device->stable);
    free(device->pending);
    free(device->pending_since_ms);
}

/* ---- posting values ------------------------------------------------------------------------- */

/* Posts a bool through its debounce: a change is posted once it has held for
 * debounce_ms; until then the last stable value keeps the device alive. */
static void post_bool(struct mb_bus *bus, struct mb_device *device, size_t p, double value,
                      int64_t now_mono, int64_t ts_ms)
{
    const struct mb_point *point = &device->points[p];
    double stable = device->stable[p];
    if (point->debounce_ms == 0 || stable < 0 || value == stable) {
        device->pending[p] = -1.0;
        device->stable[p] = value;
        bus->host->post_reading(bus->host, device->index, (uint32_t)p, value, ts_ms);
        return;
    }
    if (device->pending[p] != value) {
        device->pending[p] = value;
        device->pending_since_ms[p] = now_mono;
    }
    if (now_mono - device->pending_since_ms[p] >= point->debounce_ms) {
        device->pending[p] = -1.0;
        device->stable[p] = value;
        bus->host->post_reading(bus->host, device->index, (uint32_t)p, value, ts_ms);
        return;
    }
    /* Look again as soon as the change could have held long enough. */
    int64_t confirm_at = device->pending_since_ms[p] + point->debounce_ms;
    if (confirm_at < device->next_due_ms)
        device->next_due_ms = confirm_at;
    bus->host->post_reading(bus->host, device->index, (uint32_t)p, stable, ts_ms);
}

static void post_block(struct mb_bus *bus, struct mb_device *device, size_t block,
                       const uint16_t *registers, const uint8_t *bits, int64_t now_mono)
{
    const struct mb_block *read = &device->blocks[block];
    int64_t ts_ms = bus->host->now_ms(bus->host);
    for (size_t p = 0; p < device->point_count; p++) {
        if (device->block_of_point[p] != block)
            continue;
        const struct mb_point *point = &device->points[p];
        size_t offset = point->address - read->start;
        double value = point->type == MB_BIT ? mb_point_decode_bits(point, bits + offset)
                                             : mb_point_decode_registers(point, registers + offset);
        if (point->is_bool)
            post_bool(bus, device, p, value, now_mono, ts_ms);
        else
            bus->host->post_reading(bus->host, device->index, (uint32_t)p, value, ts_ms);
    }
}

/* ---- error accounting ----------------------------------------------------------------------- */

static void note_problem(struct mb_bus *bus, struct mb_device *device, enum mb_error error,
                         const char *detail)
{
    bus->host->post_counter(bus->host, device->index, mb_error_counter(error), 1);
    if (strcmp(device->problem, detail) == 0)
        return;
    bus->host->log(bus->host, WG_PLOG_WARNING,
                   "device %s (unit %d): %s; further identical errors are counted, not logged",
                   device->id, device->unit, detail);
    snprintf(device->problem, sizeof device->problem, "%s", detail);
}

static void note_recovery(struct mb_bus *bus, struct mb_device *device)
{
    if (!device->problem[0])
        return;
    bus->host->log(bus->host, WG_PLOG_INFO,
                   "device %s (unit %d): answering normally again (was: %s)", device->id,
                   device->unit, device->problem);
    device->problem[0] = '\0';
}

/* A slave that refuses to be read through a hole in its map (exception 2 on a
 * block that spans unmapped registers) gets its blocks re-planned without gaps. */
static bool refuse_gaps(struct mb_bus *bus, struct mb_device *device, size_t block)
{
    if (device->gaps_refused || device->limits.gap == 0)
        return false;
    unsigned covered = 0;
    for (size_t p = 0; p < device->point_count; p++)
        if (device->block_of_point[p] == block)
            covered += device->points[p].count;
    if (covered >= device->blocks[block].count)
        return false; /* no hole in this block: the exception is about a mapped register */
    device->gaps_refused = true;
    device->limits.gap = 0;
    plan_blocks(device);
    bus->host->log(bus->host, WG_PLOG_WARNING,
                   "device %s (unit %d): refuses reads across unmapped registers; now reading "
                   "without gaps (%zu requests per poll)",
                   device->id, device->unit, device->block_count);
    return true;
}

/* ---- one poll ------------------------------------------------------------------------------- */

static void pause_between_frames(const struct mb_bus *bus)
{
    if (bus->frame_pause_ms > 0)
        sleep_ms(bus->frame_pause_ms);
}

static void poll_device(struct mb_bus *bus, struct mb_device *device, int64_t now_mono)
{
    uint16_t registers[MB_MAX_READ_REGISTERS];
    uint8_t bits[MB_MAX_READ_BITS];
    char detail[96];
    bool replied = false, clean = true;
    enum mb_error silence = MB_OK;
    char silence_detail[96] = "";

    device->next_due_ms = now_mono + device->poll_ms;
    mb_link_set_timeout(bus->link, device->timeout_ms);
    for (size_t b = 0; b < device->block_count; b++) {
        const struct mb_block *read = &device->blocks[b];
        int exception = 0;
        enum mb_error error =
            mb_link_read(bus->link, device->unit, read->function, read->start, read->count,
                         registers, bits, &exception, detail, sizeof detail);
        pause_between_frames(bus);
        if (error == MB_OK) {
            replied = true;
            post_block(bus, device, b, registers, bits, now_mono);
            continue;
        }
        clean = false;
        if (error == MB_ERR_EXCEPTION) {
            replied = true;
            if (exception == 2 && refuse_gaps(bus, device, b)) {
                note_problem(bus, device, error, detail);
                device->next_due_ms = now_mono; /* read again at once, without gaps */
                break;
            }
            char where[128];
            snprintf(where, sizeof where, "%s reading fc%d %u+%u", detail, read->function,
                     read->start, read->count);
            note_problem(bus, device, error, where);
            continue;
        }
        note_problem(bus, device, error, detail);
        silence = error;
        snprintf(silence_detail, sizeof silence_detail, "%s", detail);
        break; /* no reply: do not spend another timeout on this slave now */
    }

    if (replied) {
        if (mb_health_on_reply(&device->health, &bus->supervision))
            bus->host->post_health(bus->host, device->index, WG_HEALTH_ONLINE, WG_REASON_ANSWERING,
                                   "answering");
        if (clean)
            note_recovery(bus, device);
        return;
    }
    if (silence == MB_OK)
        return; /* a device without points */
    int probe_in_ms = 0;
    if (mb_health_on_silence(&device->health, &bus->supervision, &probe_in_ms))
        bus->host->post_health(bus->host, device->index, device->health.state,
                               mb_error_reason(silence), silence_detail);
    if (probe_in_ms > 0)
        device->next_due_ms = now_mono + probe_in_ms;
}

/* ---- one write ------------------------------------------------------------------------------ */

static void run_write(struct mb_bus *bus, const struct mb_write_job *job)
{
    struct mb_device *device = &bus->devices[job->device];
    const struct mb_point *point = &device->points[job->point];
    const struct wg_host *host = bus->host;
    uint16_t registers[4] = {0}, readback[4] = {0};
    uint8_t bit = 0, readback_bit = 0;
    char reason[128], detail[96];
    int exception = 0;

    if (!mb_point_encode(point, job->value, &bit, registers, reason, sizeof reason)) {
        host->post_write_result(host, job->request_id, false, reason);
        return;
    }
    mb_link_set_timeout(bus->link, device->timeout_ms);
    bool coil = point->write_function == 5 || point->write_function == 15;
    enum mb_error error =
        coil ? mb_link_write_bit(bus->link, device->unit, point->write_function, point->address,
                                 bit, &exception, detail, sizeof detail)
             : mb_link_write_registers(bus->link, device->unit, point->write_function,
                                       point->address, point->count, registers, &exception, detail,
                                       sizeof detail);
    pause_between_frames(bus);
    if (error != MB_OK) {
        note_problem(bus, device, error, detail);
        snprintf(reason, sizeof reason, "write: %s", detail);
        host->post_write_result(host, job->request_id, false, reason);
        return;
    }
    error = mb_link_read(bus->link, device->unit, point->function, point->address, point->count,
                         readback, &readback_bit, &exception, detail, sizeof detail);
    pause_between_frames(bus);
    if (error != MB_OK) {
        note_problem(bus, device, error, detail);
        snprintf(reason, sizeof reason, "written, but read-back failed: %s", detail);
        host->post_write_result(host, job->request_id, false, reason);
        return;
    }
    int64_t ts_ms = host->now_ms(host);
    if (coil) {
        if (readback_bit != bit) {
            snprintf(reason, sizeof reason, "read-back %u after writing %u", readback_bit, bit);
            host->post_write_result(host, job->request_id, false, reason);
            return;
        }
        host->post_reading(host, device->index, job->point,
                           mb_point_decode_bits(point, &readback_bit), ts_ms);
    } else {
        uint64_t wrote = mb_point_raw(point, registers), got = mb_point_raw(point, readback);
        if (wrote != got) {
            snprintf(reason, sizeof reason, "read-back 0x%llx after writing 0x%llx",
                     (unsigned long long)got, (unsigned long long)wrote);
            host->post_write_result(host, job->request_id, false, reason);
            return;
        }
        host->post_reading(host, device->index, job->point,
                           mb_point_decode_registers(point, readback), ts_ms);
    }
    host->post_write_result(host, job->request_id, true, "");
}

/* ---- the thread ----------------------------------------------------------------------------- */

/* The due device to poll now: alarm-relevant first, then the longest overdue. */
static struct mb_device *next_due(struct mb_bus *bus, int64_t now, int64_t *earliest)
{
    struct mb_device *best = NULL;
    *earliest = INT64_MAX;
    for (size_t i = 0; i < bus->device_count; i++) {
        struct mb_device *device = &bus->devices[i];
        if (device->next_due_ms < *earliest)
            *earliest = device->next_due_ms;
        if (device->next_due_ms > now)
            continue;
        if (!best || (device->alarm_first && !best->alarm_first) ||
            (device->alarm_first == best->alarm_first && device->next_due_ms < best->next_due_ms))
            best = device;
    }
    return best;
}

static void wait_until(struct mb_bus *bus, int64_t when_mono)
{
    if (when_mono == INT64_MAX) {
        pthread_cond_wait(&bus->wake, &bus->lock);
        return;
    }
    struct timespec deadline = {.tv_sec = when_mono / 1000,
                                .tv_nsec = (long)(when_mono % 1000) * 1000000L};
    pthread_cond_timedwait(&bus->wake, &bus->lock, &deadline);
}

static void *bus_thread(void *arg)
{
    struct mb_bus *bus = arg;
    pthread_mutex_lock(&bus->lock);
    while (bus->running) {
        if (bus->write_count > 0) {
            struct mb_write_job job = bus->writes[bus->write_head];
            bus->write_head = (bus->write_head + 1) % MB_WRITE_QUEUE;
            bus->write_count--;
            pthread_mutex_unlock(&bus->lock);
            run_write(bus, &job);
            pthread_mutex_lock(&bus->lock);
            continue;
        }
        int64_t now = mb_monotonic_ms(), earliest;
        struct mb_device *device = next_due(bus, now, &earliest);
        if (!device) {
            wait_until(bus, earliest);
            continue;
        }
        pthread_mutex_unlock(&bus->lock);
        poll_device(bus, device, now);
        char notice[128];
        if (mb_link_take_notice(bus->link, notice, sizeof notice))
            bus->host->log(bus->host, WG_PLOG_WARNING, "%s", notice);
        pthread_mutex_lock(&bus->lock);
    }
    pthread_mutex_unlock(&bus->lock);
    return NULL;
}

bool mb_bus_init(struct mb_bus *bus)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return false;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&bus->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return false;
    if (pthread_mutex_init(&bus->lock, NULL) != 0) {
        pthread_cond_destroy(&bus->wake);
        return false;
    }
    bus->lock_ready = true;
    return true;
}

void mb_bus_destroy(struct mb_bus *bus)
{
    if (!bus->lock_ready)
        return;
    pthread_mutex_destroy(&bus->lock);
    pthread_cond_destroy(&bus->wake);
    bus->lock_ready = false;
}

int mb_bus_start(struct mb_bus *bus)
{
    char error[128];
    bus->link = mb_link_new(&bus->link_config, error, sizeof error);
    if (!bus->link) {
        bus->host->log(bus->host, WG_PLOG_ERR, "cannot set up the line: %s", error);
        return -1;
    }
    /* Spread first polls over the first poll period so a restart does not
     * put every request on the line at once. */
    int64_t now = mb_monotonic_ms();
    for (size_t i = 0; i < bus->device_count; i++) {
        struct mb_device *device = &bus->devices[i];
        device->next_due_ms =
            now +
            (device->alarm_first ? 0 : (int64_t)(i * (size_t)device->poll_ms / bus->device_count));
    }
    bus->running = true;
    if (pthread_create(&bus->thread, NULL, bus_thread, bus) != 0) {
        bus->running = false;
        bus->host->log(bus->host, WG_PLOG_ERR, "cannot start the bus thread");
        return -1;
    }
    bus->thread_started = true;
    return 0;
}

bool mb_bus_queue_write(struct mb_bus *bus, const struct mb_write_job *job)
{
    pthread_mutex_lock(&bus->lock);
    bool queued = bus->write_count < MB_WRITE_QUEUE;
    if (queued) {
        bus->writes[(bus->write_head + bus->write_count) % MB_WRITE_QUEUE] = *job;
        bus->write_count++;
        pthread_cond_signal(&bus->wake);
    }
    pthread_mutex_unlock(&bus->lock);
    return queued;
}

void mb_bus_stop(struct mb_bus *bus)
{
    if (bus->thread_started) {
        pthread_mutex_lock(&bus->lock);
        bus->running = false;
        pthread_cond_signal(&bus->wake);
        pthread_mutex_unlock(&bus->lock);
        pthread_join(bus->thread, NULL);
        bus->thread_started = false;
    }
    mb_link_free(bus->link);
    bus->link = NULL;
}
