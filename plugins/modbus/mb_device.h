/* One Modbus device's run state and what both transports do with it: the
 * poll grid, the outcome of each read block of a poll, the health and error
 * accounting, and the steps of a write with read-back. The RTU line thread
 * (mb_bus.c) and the TCP reactor (mb_reactor.c) differ only in how a request
 * reaches the slave; everything they learn goes through these functions.
 *
 * Polls run on a fixed grid: a device's slots are `phase + k * poll_ms`, the
 * next slot follows the last one (never "now + poll_ms", which drifts), and a
 * slot that passed while the line was busy, or that would follow a late poll
 * within half a period, is skipped, counted in the device's `missed_polls`
 * counter and logged once per change. Early reads (a
 * bool change being debounced, a re-plan after refused gaps) do not move the
 * grid; an offline device's back-off moves it to the first slot after the
 * probe time, and a suspect device's retry is at least half a period after
 * its silent poll ended (so a dead slave's timeouts take at most about half
 * a busy line while it is suspect). */
#ifndef WG_MB_DEVICE_H
#define WG_MB_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/plugin.h"
#include "mb_health.h"
#include "mb_link.h"
#include "mb_plan.h"
#include "mb_point.h"

struct mb_device {
    uint32_t index; /* into the bus view's devices[] */
    const char *id;
    int unit;
    int poll_ms;
    int timeout_ms;
    bool alarm_first;
    struct mb_limits limits;
    const struct mb_point *points; /* the profile's, shared */
    size_t point_count;
    struct mb_block *blocks;
    size_t block_count;
    uint32_t *block_of_point;
    bool gaps_refused; /* the slave refused a read through a hole: blocks re-planned with gap 0 */

    /* Debounce of bool points: the last value posted and a change waiting to hold. */
    double *stable;
    double *pending;
    int64_t *pending_since_ms;

    struct mb_device_health health;
    int64_t grid_ms;     /* monotonic: the device's next slot on its poll grid */
    int64_t next_due_ms; /* monotonic: when to read next (the grid slot, or earlier) */
    bool behind;         /* the last poll skipped grid slots (logged once per change) */
    char problem[96];    /* the last problem logged, "" when all is well */
};

struct mb_write_job {
    uint64_t request_id;
    uint32_t device; /* index into the bus's devices */
    uint32_t point;
    double value;
};

/* The FIFO of writes waiting for a line; the owner's lock guards it. */
#define MB_WRITE_QUEUE 64
struct mb_write_queue {
    struct mb_write_job jobs[MB_WRITE_QUEUE];
    size_t head, count;
};
bool mb_write_queue_push(struct mb_write_queue *queue, const struct mb_write_job *job);
bool mb_write_queue_pop(struct mb_write_queue *queue, struct mb_write_job *job);

/* A poll in progress: its blocks are read one after the other. */
struct mb_poll {
    size_t block; /* the block to read next */
    int64_t started_ms;
    bool replied, clean;
    enum mb_error silence;
    char silence_detail[96];
};

/* A write in progress: the encoded value, then its read-back. */
struct mb_write {
    struct mb_write_job job;
    bool coil;
    uint8_t bit;
    uint16_t registers[4];
};

/* Allocates the per-device run state (blocks, debounce arrays). Returns false on OOM. */
bool mb_device_prepare(struct mb_device *device);
void mb_device_release(struct mb_device *device);

/* ---- the grid ---- */

/* The first slot is `offset_ms` from now; alarm-first devices are read at once too. */
void mb_device_schedule_first(struct mb_device *device, int64_t now_ms, int64_t offset_ms);
/* The due device to read now: alarm-first before the others, then the
 * longest waiting; NULL when none is due. *earliest: the soonest due time. */
struct mb_device *mb_device_next_due(struct mb_device *devices, size_t count, int64_t now_ms,
                                     int64_t *earliest);
/* The polls of a many-endpoint bus run on one grid of MB_GRID_SLOT_MS slots
 * shared by every endpoint: an endpoint's phase is a slot (a hash of its bus
 * id, the same at every start), so the endpoints of one slot are read
 * together and the I/O thread, the core and a per_read message serve a slot
 * at a time instead of a device at a time. The devices behind one endpoint
 * are spread evenly over the period from there, since they share its line. */
#define MB_GRID_SLOT_MS 100
/* Milliseconds from now_ms to the first slot of the device `index` of the
 * `count` behind an endpoint of bus `bus_id`. */
int64_t mb_device_first_slot_in(const char *bus_id, size_t index, size_t count, int poll_ms,
                                int64_t now_ms);

/* ---- a poll ---- */

void mb_poll_begin(const struct wg_host *host, struct mb_device *device, struct mb_poll *poll,
                   int64_t now_ms);
/* The outcome of reading block poll->block (values in registers/bits when
 * MB_OK). Returns true when the poll goes on with poll->block. */
bool mb_poll_block_done(const struct wg_host *host, struct mb_device *device, struct mb_poll *poll,
                        enum mb_error error, int exception, const char *detail,
                        const uint16_t *registers, const uint8_t *bits);
/* Health, recovery and the poll boundary (post_poll_done) once the poll
 * ended; now_ms is when it ended. */
void mb_poll_end(const struct wg_host *host, const struct mb_supervision *supervision,
                 struct mb_device *device, struct mb_poll *poll, int64_t now_ms);

/* ---- a write ---- */

/* Encodes the job's value; false when it cannot be written (the result is posted). */
bool mb_write_begin(const struct wg_host *host, struct mb_device *device,
                    const struct mb_write_job *job, struct mb_write *write);
/* The write or its read-back failed: counted, the result posted. */
void mb_write_failed(const struct wg_host *host, struct mb_device *device,
                     const struct mb_write *write, bool readback, enum mb_error error,
                     const char *detail);
/* The read-back arrived: compared, the value and the result posted. */
void mb_write_verify(const struct wg_host *host, struct mb_device *device,
                     const struct mb_write *write, const uint16_t *readback, uint8_t readback_bit);

/* Counts an error per device and logs it once per change of problem. */
void mb_device_note_problem(const struct wg_host *host, struct mb_device *device,
                            enum mb_error error, const char *detail);

#endif
