/* Every Modbus TCP endpoint of the modbus-tcp driver on one I/O thread.
 *
 * libmodbus has no non-blocking API (each of its calls sends a request and
 * waits for the reply with select(), which also cannot watch a descriptor
 * above 1023), so a thread per endpoint was the only way to use it for many
 * endpoints. The reactor instead keeps every endpoint's socket non-blocking
 * in one epoll set and speaks Modbus TCP itself (mb_frame.h). It is the
 * driver's context (plugin ABI 3, host->driver_context): one per loaded
 * driver, shared by all its buses; the I/O thread runs while at least one bus
 * is attached.
 *
 * Per endpoint (one `modbus-tcp` bus: one connection, its devices), the
 * reactor does what the RTU line thread does per line: one request
 * outstanding at a time (many devices and gateways cannot pipeline); writes
 * first (FIFO), then alarm-first devices, then the longest-waiting due
 * device; a poll is the device's blocks back to back, ended by the first
 * block without a reply; per-device timeouts; reconnects at most once per
 * reconnect period. A reply whose transaction id, unit or function does not
 * match the request is dropped and counted (`bad_reply`), never taken for
 * another request's reply. A stream that lost its framing (a header that is
 * not Modbus TCP, a reply cut short at the timeout) is reconnected. What the
 * replies mean (values, health, counters, the poll grid) is mb_device.c's.
 *
 * Threads: attach, detach and queue_write are called on the core thread.
 * detach returns once the I/O thread no longer touches the endpoint; it
 * waits only while the I/O thread is inside a host callback for that very
 * endpoint, which the host releases when it stops the bus. */
#ifndef WG_MB_REACTOR_H
#define WG_MB_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/plugin.h"
#include "mb_device.h"
#include "mb_frame.h"

struct mb_reactor;

enum mb_endpoint_state {
    MB_EP_CLOSED,     /* no connection */
    MB_EP_CONNECTING, /* a non-blocking connect under way */
    MB_EP_READY,      /* connected, nothing outstanding */
    MB_EP_WAITING,    /* a request sent, its reply awaited */
};

enum mb_op_kind { MB_OP_NONE, MB_OP_POLL, MB_OP_WRITE, MB_OP_READBACK };

/* One modbus-tcp bus. The driver fills the first part before attach. */
struct mb_endpoint {
    const struct wg_host *host;
    const char *bus_id;
    const char *address; /* host name or address */
    int port;
    int reconnect_ms;
    int frame_pause_ms;
    struct mb_supervision supervision;
    struct mb_device *devices;
    size_t device_count;

    /* ---- the reactor's: writes under its lock, the rest on the I/O thread ---- */
    struct mb_write_queue *writes; /* the bus's queue (struct mb_bus), not a copy of it */
    bool attached;
    uint32_t slot; /* index in the reactor's table */
    int fd;
    enum mb_endpoint_state state;
    int64_t wake_at_ms;      /* when the endpoint wants to run next */
    int64_t deadline_ms;     /* connect or reply deadline */
    int64_t reconnect_at_ms; /* no connect attempt before */
    int64_t ready_at_ms;     /* frame pause after a transaction */
    char connect_error[96];  /* the last connect failure, for polls refused until reconnect_at */
    char dropped_note[96];   /* the last dropped-frame note logged */
    uint16_t next_transaction;
    struct mb_request request; /* the request of the current step */
    uint8_t tx[MB_FRAME_MAX];
    size_t tx_len;
    uint8_t rx[2 * MB_FRAME_MAX];
    size_t rx_len;
    enum mb_op_kind op;
    struct mb_device *device; /* of the current operation */
    struct mb_poll poll;
    struct mb_write write;
};

struct mb_reactor *mb_reactor_new(void);
/* Every endpoint must have been detached. */
void mb_reactor_free(struct mb_reactor *reactor);

/* Schedules the endpoint's devices (a phase per device) and hands it to the
 * I/O thread, started if it is the first. 0, or -1 with `error` filled. */
int mb_reactor_attach(struct mb_reactor *reactor, struct mb_endpoint *endpoint, char *error,
                      size_t error_size);
/* Takes the endpoint back: its connection is closed and no callback is made
 * for it afterwards. The I/O thread is joined when no endpoint is left. */
void mb_reactor_detach(struct mb_reactor *reactor, struct mb_endpoint *endpoint);
/* Queues a write; false when the endpoint's write queue is full. */
bool mb_reactor_queue_write(struct mb_reactor *reactor, struct mb_endpoint *endpoint,
                            const struct mb_write_job *job);

#endif
