/* One Modbus bus: one thread, one FIFO transaction queue, the devices on it.
 *
 * The thread owns the line. Each turn it takes, in this order: a queued write
 * (writes go first, FIFO), else the due device that matters for alarms (it
 * has bool inputs: calls, contacts, fire and gas bits), else the due device
 * that has waited longest. A device's poll is its merged read blocks, back to
 * back; the first block without a reply ends the poll, so a dead slave costs
 * one timeout per poll while suspect and one per back-off period once
 * offline. Writes are verified by reading the point back.
 *
 * Errors are counted per device through the host on every occurrence and
 * logged once per change of state. */
#ifndef WG_MB_BUS_H
#define WG_MB_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mb_health.h"
#include "mb_link.h"
#include "mb_plan.h"
#include "mb_point.h"
#include "drivers/plugin.h"

#define MB_WRITE_QUEUE 64

struct mb_device {
    uint32_t index; /* into bus->devices[] of the view */
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
    int64_t next_due_ms; /* monotonic */
    char problem[96];    /* the last problem logged, "" when all is well */
};

struct mb_write_job {
    uint64_t request_id;
    uint32_t device; /* index into mb_bus.devices */
    uint32_t point;
    double value;
};

struct mb_bus {
    const struct wg_host *host;
    const char *id;
    struct mb_link_config link_config;
    struct mb_link *link;
    struct mb_supervision supervision;
    int frame_pause_ms;

    struct mb_device *devices;
    size_t device_count;

    pthread_t thread;
    bool thread_started;
    bool lock_ready;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool running;
    struct mb_write_job writes[MB_WRITE_QUEUE];
    size_t write_head, write_count;
};

/* Allocates the per-device run state (blocks, debounce arrays). Returns false on OOM. */
bool mb_device_prepare(struct mb_device *device);
void mb_device_release(struct mb_device *device);

/* Lifecycle: init (lock, in the driver's open) -> start (line and thread) ->
 * stop (joins the thread, closes the line) -> destroy. */
bool mb_bus_init(struct mb_bus *bus);
int mb_bus_start(struct mb_bus *bus);
/* Queues a write; false when the queue is full. Called from the core thread. */
bool mb_bus_queue_write(struct mb_bus *bus, const struct mb_write_job *job);
void mb_bus_stop(struct mb_bus *bus);
void mb_bus_destroy(struct mb_bus *bus);

#endif
