/* Query workers: the reads people and the district ask for, off the core
 * thread.
 *
 * A history page, a CSV export, the response report, the audit log or a
 * district alarm history can read a large part of the journal; on the core
 * thread that would hold up every call in the building (and the systemd
 * watchdog). Such work is a job for this service: a few threads, each with
 * its own read-only connection (store_read.h), take jobs from one queue.
 *
 * A job works in turns. Each call of `run` does a bounded piece (one page
 * of rows) and says whether the job is done, wants another turn (it goes
 * to the back of the queue, so a long export never holds up a short query
 * behind it), or waits: a stream whose client has not taken what it was
 * sent is parked, holding no thread and no read transaction, until
 * query_resume(). When a job is done its `done` runs on the core thread
 * (when set: for results the core must act on, such as a reply to the
 * district), then `free`; otherwise `free` runs on the worker.
 *
 * Jobs marked `limited` (exports) are counted: beyond the service's limit
 * query_submit refuses them, so memory stays bounded whatever users ask. */
#ifndef WG_QUERY_H
#define WG_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_read.h"

enum wg_query_step {
    WG_QUERY_DONE, /* finished: done (core thread) or free follows */
    WG_QUERY_MORE, /* another turn, after the jobs queued behind it */
    WG_QUERY_WAIT, /* parked until query_resume(service, key) */
};

struct wg_query_job {
    /* Worker thread: one turn of the job. */
    enum wg_query_step (*run)(struct wg_query_job *job, struct wg_store_reader *reader);
    /* Core thread, once run said DONE; NULL when the core need not know. Not
     * called for a cancelled job or when the service stops first. Returns
     * false, and `free` follows; or true when it handed the job to
     * query_submit again for a next step (the service then leaves it be). */
    bool (*done)(struct wg_query_job *job);
    /* Frees the job (any thread). Called exactly once, always. */
    void (*free)(struct wg_query_job *job);
    uint64_t key; /* for query_resume; 0 when the job never waits */
    bool limited; /* counts against the service's limit (exports) */
    /* The service's own: */
    struct wg_query_job *next;
    int state;
    bool resume_pending;
    bool cancelled;
};

struct wg_query_service;

/* Starts `workers` threads (>= 1), each opening `db_path` read-only;
 * `max_limited` limited jobs run at once at most. NULL with a message in err. */
struct wg_query_service *query_service_new(const char *db_path, size_t workers, size_t max_limited,
                                           char *err, size_t err_len);
/* Stops the workers once their current turn ends and frees every job. */
void query_service_free(struct wg_query_service *service);

/* Queues a job (any thread). 0; or -1 when the limit of limited jobs is
 * reached or the service stops: the job is then freed and nothing runs. */
int query_submit(struct wg_query_service *service, struct wg_query_job *job);
/* Any thread: the waiting job with this key gets a turn again (or, when it
 * is running now, as soon as it would wait). Unknown keys are ignored. */
void query_resume(struct wg_query_service *service, uint64_t key);
/* Core thread: `done` will not be called for this job (its owner is going
 * away); it is freed when its current turn ends. */
void query_cancel(struct wg_query_service *service, struct wg_query_job *job);

/* Core thread: readable while finished jobs wait for query_service_complete,
 * which runs their `done` and frees them. */
int query_service_fd(const struct wg_query_service *service);
void query_service_complete(void *service);

/* Jobs waiting for a worker or running, for /metrics. */
size_t query_service_backlog(struct wg_query_service *service);

#endif
