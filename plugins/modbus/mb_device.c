/* A Modbus device's polls on their grid, its writes with read-back, and its
 * health and error accounting, shared by both transports; see mb_device.h. */
#include "mb_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the grid -------------------------------------------------------------------------------- */

void mb_device_schedule_first(struct mb_device *device, int64_t now_ms, int64_t offset_ms)
{
    device->grid_ms = now_ms + offset_ms;
    device->next_due_ms = device->alarm_first ? now_ms : device->grid_ms;
    device->behind = false;
}

struct mb_device *mb_device_next_due(struct mb_device *devices, size_t count, int64_t now_ms,
                                     int64_t *earliest)
{
    struct mb_device *best = NULL;
    *earliest = INT64_MAX;
    for (size_t i = 0; i < count; i++) {
        struct mb_device *device = &devices[i];
        if (device->next_due_ms < *earliest)
            *earliest = device->next_due_ms;
        if (device->next_due_ms > now_ms)
            continue;
        if (!best || (device->alarm_first && !best->alarm_first) ||
            (device->alarm_first == best->alarm_first && device->next_due_ms < best->next_due_ms))
            best = device;
    }
    return best;
}

int64_t mb_device_first_slot_in(const char *bus_id, size_t index, size_t count, int poll_ms,
                                int64_t now_ms)
{
    if (poll_ms <= 0)
        return 0;
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (const char *c = bus_id; *c; c++)
        hash = (hash ^ (uint8_t)*c) * 16777619u;
    int64_t period = poll_ms;
    int64_t slots = period / MB_GRID_SLOT_MS;
    int64_t phase = slots >= 2 ? (int64_t)(hash % (uint32_t)slots) * MB_GRID_SLOT_MS
                               : (int64_t)(hash % (uint32_t)poll_ms);
    if (count > 1)
        phase += (int64_t)index * period / (int64_t)count;
    /* The first time at or after now that is `phase` into a period of the
     * monotonic clock: every endpoint with the same period shares the grid. */
    int64_t offset = (phase - now_ms) % period;
    return offset < 0 ? offset + period : offset;
}

/* Moves the grid past the slot being served; slots already passed, or due
 * within half a period, are skipped and counted. */
static void advance_grid(const struct wg_host *host, struct mb_device *device, int64_t now_ms)
{
    if (now_ms < device->grid_ms)
        return; /* an early read: the grid stays */
    /* The next slot at least half a period after this poll: a late poll is
     * not followed at once by the next one (which would take the line from
     * the other devices just when it is busiest). */
    int64_t next = device->grid_ms + device->poll_ms;
    int64_t earliest_next = now_ms + device->poll_ms / 2;
    if (next < earliest_next) {
        int64_t skipped = (earliest_next - next + device->poll_ms - 1) / device->poll_ms;
        next += skipped * device->poll_ms;
        host->post_counter(host, device->index, "missed_polls", (uint64_t)skipped);
        if (!device->behind)
            host->log(host, WG_PLOG_WARNING,
                      "device %s (unit %d): the line is too busy for its %d ms poll period; %lld "
                      "grid slot(s) skipped (counted in missed_polls, logged once)",
                      device->id, device->unit, device->poll_ms, (long long)skipped);
        device->behind = true;
    } else if (device->behind) {
        host->log(host, WG_PLOG_INFO, "device %s (unit %d): polled on its grid again", device->id,
                  device->unit);
        device->behind = false;
    }
    device->grid_ms = next;
}

/* The next read no sooner than `until`, on the grid (an offline device's probe). */
static void defer_to(struct mb_device *device, int64_t until)
{
    if (until > device->grid_ms) {
        int64_t periods = (until - device->grid_ms + device->poll_ms - 1) / device->poll_ms;
        device->grid_ms += periods * device->poll_ms;
    }
    device->next_due_ms = device->grid_ms;
}

/* ---- posting values ------------------------------------------------------------------------- */

/* Posts a bool through its debounce: a change is posted once it has held for
 * debounce_ms; until then the last stable value keeps the device alive. */
static void post_bool(const struct wg_host *host, struct mb_device *device, size_t p, double value,
                      int64_t now_mono, int64_t ts_ms)
{
    const struct mb_point *point = &device->points[p];
    double stable = device->stable[p];
    if (point->debounce_ms == 0 || stable < 0 || value == stable) {
        device->pending[p] = -1.0;
        device->stable[p] = value;
        host->post_reading(host, device->index, (uint32_t)p, value, ts_ms);
        return;
    }
    if (device->pending[p] != value) {
        device->pending[p] = value;
        device->pending_since_ms[p] = now_mono;
    }
    if (now_mono - device->pending_since_ms[p] >= point->debounce_ms) {
        device->pending[p] = -1.0;
        device->stable[p] = value;
        host->post_reading(host, device->index, (uint32_t)p, value, ts_ms);
        return;
    }
    /* Look again as soon as the change could have held long enough. */
    int64_t confirm_at = device->pending_since_ms[p] + point->debounce_ms;
    if (confirm_at < device->next_due_ms)
        device->next_due_ms = confirm_at;
    host->post_reading(host, device->index, (uint32_t)p, stable, ts_ms);
}

static void post_block(const struct wg_host *host, struct mb_device *device, size_t block,
                       const uint16_t *registers, const uint8_t *bits, int64_t now_mono)
{
    const struct mb_block *read = &device->blocks[block];
    int64_t ts_ms = host->now_ms(host);
    for (size_t p = 0; p < device->point_count; p++) {
        if (device->block_of_point[p] != block)
            continue;
        const struct mb_point *point = &device->points[p];
        size_t offset = point->address - read->start;
        double value = point->type == MB_BIT ? mb_point_decode_bits(point, bits + offset)
                                             : mb_point_decode_registers(point, registers + offset);
        if (point->is_bool)
            post_bool(host, device, p, value, now_mono, ts_ms);
        else
            host->post_reading(host, device->index, (uint32_t)p, value, ts_ms);
    }
}

/* ---- error accounting ----------------------------------------------------------------------- */

void mb_device_note_problem(const struct wg_host *host, struct mb_device *device,
                            enum mb_error error, const char *detail)
{
    host->post_counter(host, device->index, mb_error_counter(error), 1);
    if (strcmp(device->problem, detail) == 0)
        return;
    host->log(host, WG_PLOG_WARNING,
              "device %s (unit %d): %s; further identical errors are counted, not logged",
              device->id, device->unit, detail);
    snprintf(device->problem, sizeof device->problem, "%s", detail);
}

static void note_recovery(const struct wg_host *host, struct mb_device *device)
{
    if (!device->problem[0])
        return;
    host->log(host, WG_PLOG_INFO, "device %s (unit %d): answering normally again (was: %s)",
              device->id, device->unit, device->problem);
    device->problem[0] = '\0';
}

/* A slave that refuses to be read through a hole in its map (exception 2 on a
 * block that spans unmapped registers) gets its blocks re-planned without gaps. */
static bool refuse_gaps(const struct wg_host *host, struct mb_device *device, size_t block)
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
    host->log(host, WG_PLOG_WARNING,
              "device %s (unit %d): refuses reads across unmapped registers; now reading "
              "without gaps (%zu requests per poll)",
              device->id, device->unit, device->block_count);
    return true;
}

/* ---- one poll ------------------------------------------------------------------------------- */

void mb_poll_begin(const struct wg_host *host, struct mb_device *device, struct mb_poll *poll,
                   int64_t now_ms)
{
    *poll = (struct mb_poll){.started_ms = now_ms, .clean = true};
    advance_grid(host, device, now_ms);
    device->next_due_ms = device->grid_ms;
}

bool mb_poll_block_done(const struct wg_host *host, struct mb_device *device, struct mb_poll *poll,
                        enum mb_error error, int exception, const char *detail,
                        const uint16_t *registers, const uint8_t *bits)
{
    size_t b = poll->block++;
    if (error == MB_OK) {
        poll->replied = true;
        post_block(host, device, b, registers, bits, poll->started_ms);
        return poll->block < device->block_count;
    }
    poll->clean = false;
    if (error == MB_ERR_EXCEPTION) {
        poll->replied = true;
        if (exception == 2 && refuse_gaps(host, device, b)) {
            mb_device_note_problem(host, device, error, detail);
            device->next_due_ms = poll->started_ms; /* read again at once, without gaps */
            return false;
        }
        const struct mb_block *read = &device->blocks[b];
        char where[128];
        snprintf(where, sizeof where, "%s reading fc%d %u+%u", detail, read->function, read->start,
                 read->count);
        mb_device_note_problem(host, device, error, where);
        return poll->block < device->block_count;
    }
    mb_device_note_problem(host, device, error, detail);
    poll->silence = error;
    snprintf(poll->silence_detail, sizeof poll->silence_detail, "%s", detail);
    return false; /* no reply: do not spend another timeout on this slave now */
}

void mb_poll_end(const struct wg_host *host, const struct mb_supervision *supervision,
                 struct mb_device *device, struct mb_poll *poll, int64_t now_ms)
{
    if (poll->replied) {
        if (mb_health_on_reply(&device->health, supervision))
            host->post_health(host, device->index, WG_HEALTH_ONLINE, WG_REASON_ANSWERING,
                              "answering");
        if (poll->clean)
            note_recovery(host, device);
        if (WG_HOST_HAS(host, post_poll_done))
            host->post_poll_done(host, device->index, host->now_ms(host));
        return;
    }
    if (poll->silence == MB_OK)
        return; /* a device without points */
    int probe_in_ms = 0;
    if (mb_health_on_silence(&device->health, supervision, &probe_in_ms))
        host->post_health(host, device->index, device->health.state, mb_error_reason(poll->silence),
                          poll->silence_detail);
    if (probe_in_ms > 0)
        defer_to(device, now_ms + probe_in_ms);
    else
        defer_to(device, now_ms + device->poll_ms / 2); /* suspect: see mb_device.h */
}

/* ---- writes ---- */

bool mb_write_queue_push(struct mb_write_queue *queue, const struct mb_write_job *job)
{
    if (queue->count >= MB_WRITE_QUEUE)
        return false;
    queue->jobs[(queue->head + queue->count) % MB_WRITE_QUEUE] = *job;
    queue->count++;
    return true;
}

bool mb_write_queue_pop(struct mb_write_queue *queue, struct mb_write_job *job)
{
    if (queue->count == 0)
        return false;
    *job = queue->jobs[queue->head];
    queue->head = (queue->head + 1) % MB_WRITE_QUEUE;
    queue->count--;
    return true;
}

/* ---- one write ------------------------------------------------------------------------------ */

bool mb_write_begin(const struct wg_host *host, struct mb_device *device,
                    const struct mb_write_job *job, struct mb_write *write)
{
    const struct mb_point *point = &device->points[job->point];
    char reason[128];
    *write = (struct mb_write){.job = *job};
    write->coil = point->write_function == 5 || point->write_function == 15;
    if (mb_point_encode(point, job->value, &write->bit, write->registers, reason, sizeof reason))
        return true;
    host->post_write_result(host, job->request_id, false, reason);
    return false;
}

void mb_write_failed(const struct wg_host *host, struct mb_device *device,
                     const struct mb_write *write, bool readback, enum mb_error error,
                     const char *detail)
{
    char reason[160];
    mb_device_note_problem(host, device, error, detail);
    snprintf(reason, sizeof reason, "%s%s",
             readback ? "written, but read-back failed: " : "write: ", detail);
    host->post_write_result(host, write->job.request_id, false, reason);
}

void mb_write_verify(const struct wg_host *host, struct mb_device *device,
                     const struct mb_write *write, const uint16_t *readback, uint8_t readback_bit)
{
    const struct mb_point *point = &device->points[write->job.point];
    uint64_t request_id = write->job.request_id;
    int64_t ts_ms = host->now_ms(host);
    char reason[128];
    if (write->coil) {
        if (readback_bit != write->bit) {
            snprintf(reason, sizeof reason, "read-back %u after writing %u", readback_bit,
                     write->bit);
            host->post_write_result(host, request_id, false, reason);
            return;
        }
        host->post_reading(host, device->index, write->job.point,
                           mb_point_decode_bits(point, &readback_bit), ts_ms);
    } else {
        uint64_t wrote = mb_point_raw(point, write->registers), got = mb_point_raw(point, readback);
        if (wrote != got) {
            snprintf(reason, sizeof reason, "read-back 0x%llx after writing 0x%llx",
                     (unsigned long long)got, (unsigned long long)wrote);
            host->post_write_result(host, request_id, false, reason);
            return;
        }
        host->post_reading(host, device->index, write->job.point,
                           mb_point_decode_registers(point, readback), ts_ms);
    }
    if (WG_HOST_HAS(host, post_poll_done))
        host->post_poll_done(host, device->index, ts_ms);
    host->post_write_result(host, request_id, true, "");
}
