/* The RTU line thread: picks the next transaction and runs it over
 * libmodbus; what the replies mean is mb_device.c's. See mb_bus.h. */
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

static void pause_between_frames(const struct mb_bus *bus)
{
    if (bus->frame_pause_ms > 0)
        sleep_ms(bus->frame_pause_ms);
}

/* ---- one poll: the device's blocks back to back -------------------------------------------- */

static void poll_device(struct mb_bus *bus, struct mb_device *device, int64_t now_mono)
{
    uint16_t registers[MB_MAX_READ_REGISTERS];
    uint8_t bits[MB_MAX_READ_BITS];
    char detail[96];
    struct mb_poll poll;

    mb_poll_begin(bus->host, device, &poll, now_mono);
    mb_link_set_timeout(bus->link, device->timeout_ms);
    bool more = poll.block < device->block_count;
    while (more) {
        const struct mb_block *read = &device->blocks[poll.block];
        int exception = 0;
        enum mb_error error =
            mb_link_read(bus->link, device->unit, read->function, read->start, read->count,
                         registers, bits, &exception, detail, sizeof detail);
        pause_between_frames(bus);
        more =
            mb_poll_block_done(bus->host, device, &poll, error, exception, detail, registers, bits);
    }
    mb_poll_end(bus->host, &bus->supervision, device, &poll, mb_monotonic_ms());
}

/* ---- one write, then its read-back ---------------------------------------------------------- */

static void run_write(struct mb_bus *bus, const struct mb_write_job *job)
{
    struct mb_device *device = &bus->devices[job->device];
    const struct mb_point *point = &device->points[job->point];
    struct mb_write write;
    uint16_t readback[4] = {0};
    uint8_t readback_bit = 0;
    char detail[96];
    int exception = 0;

    if (!mb_write_begin(bus->host, device, job, &write))
        return;
    mb_link_set_timeout(bus->link, device->timeout_ms);
    enum mb_error error =
        write.coil ? mb_link_write_bit(bus->link, device->unit, point->write_function,
                                       point->address, write.bit, &exception, detail, sizeof detail)
                   : mb_link_write_registers(bus->link, device->unit, point->write_function,
                                             point->address, point->count, write.registers,
                                             &exception, detail, sizeof detail);
    pause_between_frames(bus);
    if (error != MB_OK) {
        mb_write_failed(bus->host, device, &write, false, error, detail);
        return;
    }
    error = mb_link_read(bus->link, device->unit, point->function, point->address, point->count,
                         readback, &readback_bit, &exception, detail, sizeof detail);
    pause_between_frames(bus);
    if (error != MB_OK) {
        mb_write_failed(bus->host, device, &write, true, error, detail);
        return;
    }
    mb_write_verify(bus->host, device, &write, readback, readback_bit);
}

/* ---- the thread ----------------------------------------------------------------------------- */

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
        struct mb_write_job job;
        if (mb_write_queue_pop(&bus->writes, &job)) {
            pthread_mutex_unlock(&bus->lock);
            run_write(bus, &job);
            pthread_mutex_lock(&bus->lock);
            continue;
        }
        int64_t now = mb_monotonic_ms(), earliest;
        struct mb_device *device =
            mb_device_next_due(bus->devices, bus->device_count, now, &earliest);
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
        mb_device_schedule_first(device, now,
                                 (int64_t)(i * (size_t)device->poll_ms / bus->device_count));
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
    bool queued = mb_write_queue_push(&bus->writes, job);
    if (queued)
        pthread_cond_signal(&bus->wake);
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
