/* One Modbus RTU line: one thread, one FIFO transaction queue, the devices on it.
 * (Modbus TCP buses share one I/O thread instead: mb_reactor.h.)
 *
 * The thread owns the line. Each turn it takes, in this order: a queued write
 * (writes go first, FIFO), else the due device that matters for alarms (it
 * has bool inputs: calls, contacts, fire and gas bits), else the due device
 * that has waited longest. A device's poll is its merged read blocks, back to
 * back; the first block without a reply ends the poll, so a dead slave costs
 * one timeout per poll while suspect and one per back-off period once
 * offline. Writes are verified by reading the point back.
 *
 * What a poll or a write learns goes through mb_device.h, which the TCP
 * reactor shares: errors are counted per device through the host on every
 * occurrence and logged once per change of state; polls keep their grid. */
#ifndef WG_MB_BUS_H
#define WG_MB_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "drivers/plugin.h"
#include "mb_device.h"
#include "mb_link.h"

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
    /* Writes waiting: an RTU line's under `lock`; a TCP endpoint's, which
     * points here, under its reactor's lock. */
    struct mb_write_queue writes;
};

/* Lifecycle: init (lock, in the driver's open) -> start (line and thread) ->
 * stop (joins the thread, closes the line) -> destroy. */
bool mb_bus_init(struct mb_bus *bus);
int mb_bus_start(struct mb_bus *bus);
/* Queues a write; false when the queue is full. Called from the core thread. */
bool mb_bus_queue_write(struct mb_bus *bus, const struct mb_write_job *job);
void mb_bus_stop(struct mb_bus *bus);
void mb_bus_destroy(struct mb_bus *bus);

#endif
