/* The ESPA 4.4.4 serial line on its own thread (docs/espa.md): it opens
 * the tty with termios (reopening it when it goes away), and as the control
 * station sends each queued call: own address ENQ (taking the line),
 * the paging system's address ENQ (selecting it), ACK, the data block,
 * ACK, EOT; a NAK or no answer within response_ms is retried up to
 * `retries` times. When idle it polls the paging system every poll_s
 * (address ENQ: EOT = nothing to say; or it selects us and sends a block,
 * which is checked, answered and logged). A line that does not answer is
 * "down": logged once, and in the counters (/metrics).
 *
 * The core thread only pushes: a bounded queue under a mutex, the oldest
 * call dropped (logged, counted) when full. It never waits for the line. */
#ifndef WG_ESPA_LINE_H
#define WG_ESPA_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "espa/espa.h"

#define ESPA_QUEUE_MAX 64

struct espa_line;

struct espa_line_counters {
    uint64_t sent;    /* calls the paging system acknowledged */
    uint64_t failed;  /* calls given up after the retries */
    uint64_t dropped; /* calls dropped from the full queue */
    uint64_t retries; /* selections and blocks sent again (NAK or no answer) */
    uint64_t garbage; /* bytes from the line that were not what was expected */
    bool up;          /* the paging system answered the last selection or poll */
    bool known;       /* ... and `up` says so (false before the first selection or poll) */
    size_t queued;
};

/* Starts the line's thread with a copy of `settings`. NULL (logged) when
 * out of memory or the thread cannot start. */
struct espa_line *espa_line_start(const struct wg_espa *settings);
/* Queues a call; never waits for the line. */
void espa_line_push(struct espa_line *line, const struct espa_call *call);
/* Stops the thread (it wakes at once), closes the tty and frees the line;
 * the calls still queued are copied to `left` (up to `max`): returns how many. */
size_t espa_line_stop(struct espa_line *line, struct espa_call *left, size_t max);
void espa_line_counters(struct espa_line *line, struct espa_line_counters *out);

#endif
