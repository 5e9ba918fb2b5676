/* Calls run on the store writer's connection: how a module that is not the
 * core (the web's auth) writes the database without a connection of its own.
 * Issue 15's contract 3: inside the daemon only the store writer thread
 * (store_writer.h) opens SQLite for writing; everyone else hands it work.
 *
 * A call is a function run on the writer's thread with the writer's store,
 * between the writer's own transactions (before the next one: calls go
 * first), and outside any transaction: it opens and ends its own (BEGIN
 * IMMEDIATE ... COMMIT or ROLLBACK). It returns 0 when done (its answer goes
 * into its context), or -1 when storage failed, recorded on the store with
 * store_sqlite_failed() so that store_last_status()/store_last_error() say
 * why (locked by another process, disk full, read-only, size limit, I/O).
 *
 * Two kinds:
 * - store_call() waits for the answer. A call the writer has not taken
 *   within WG_STORE_CALL_WAIT_MS (the writer is itself waiting for a lock
 *   or the disk) is withdrawn and answered WG_STORE_LOCKED, so a caller
 *   waits at most that plus one SQLite busy timeout (the store's, 2 s by
 *   default) plus the commit's own I/O. Never call it on a thread that must
 *   not wait (the web server's service loop), nor while holding a lock the
 *   work itself takes.
 * - store_call_post() queues work nobody waits for (a logout, an audit row
 *   of a failed login, a session's idle extension). When storage fails it is
 *   kept, in order, and tried again (100 ms doubling to 2 s) until it works:
 *   nothing is lost once storage returns. At most WG_STORE_CALLS_POSTED_MAX
 *   wait; past that the oldest is dropped and logged. At the writer's stop
 *   each is tried once more; what still fails is logged as lost.
 *
 * Thread safety: every function but the writer's side may be called from any
 * thread. The writer thread never holds its own lock or this module's while
 * it runs a call, so a call may take its caller's locks (the caller of
 * store_call must then not hold them while it waits). */
#ifndef WG_STORE_CALL_H
#define WG_STORE_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define WG_STORE_CALL_WAIT_MS     3000
#define WG_STORE_CALLS_POSTED_MAX 4096

/* The work of a call: 0 when done, -1 when storage failed (see above). */
typedef int (*wg_store_work)(struct wg_store *store, void *ctx);

struct wg_store_calls;

/* Calls for a store writer: give it to the writer (wg_writer_options.calls),
 * which serves them from writer_start to its stop. Until then, and after,
 * store_call answers WG_STORE_IO at once ("storage is not running"). */
struct wg_store_calls *store_calls_new(void);
/* For a process without a writer thread (`wardgated --add-user`): every
 * call runs at once on the caller's thread, on `store` (not taken; the
 * caller closes it after store_calls_free). */
struct wg_store_calls *store_calls_new_inline(struct wg_store *store);
/* After the writer has stopped (or was never given them). */
void store_calls_free(struct wg_store_calls *calls);

/* Runs `work` on the writer's connection and waits for it. WG_STORE_OK when
 * it ran and returned 0; otherwise the failure, with the store's message
 * (naming the database file: for the log, not for people) in message.
 * `what` names the work in log lines ("a login"). */
enum wg_store_status store_call(struct wg_store_calls *calls, const char *what, wg_store_work work,
                                void *ctx, char *message, size_t message_len);

/* Queues `work` and returns at once: 0, or -1 when it cannot be queued (out
 * of memory, the writer stopped: logged). ctx is freed with free_ctx (may be
 * NULL) once the work is done or given up, on whatever thread that is. */
int store_call_post(struct wg_store_calls *calls, const char *what, wg_store_work work, void *ctx,
                    void (*free_ctx)(void *ctx));

/* Waits up to timeout_ms until no posted work is waiting or running: 0, or
 * -1 when some still is (storage failing). For tests and orderly stops. */
int store_calls_flush(struct wg_store_calls *calls, int timeout_ms);

struct wg_store_calls_stats {
    uint64_t run;            /* calls whose work returned 0 */
    uint64_t failed;         /* attempts that failed (a retried post counts each time) */
    uint64_t withdrawn;      /* store_call answered "busy" before the writer took it */
    uint64_t dropped;        /* posted work dropped at the bound or lost at the stop */
    uint64_t posted_waiting; /* posted work not yet done */
};
void store_calls_stats(struct wg_store_calls *calls, struct wg_store_calls_stats *stats);

/* ---- the writer's side (store_writer.c) ---- */

/* The writer serves the calls from now on; wake(ctx) is called (without
 * this module's lock) whenever a call is queued. */
void store_calls_serve(struct wg_store_calls *calls, void (*wake)(void *ctx), void *ctx);
/* Monotonic ms when store_calls_run next has something to do: 0 when it has
 * now, INT64_MAX when nothing waits. NULL calls: INT64_MAX. */
int64_t store_calls_next_ms(struct wg_store_calls *calls, int64_t now_ms);
/* On the writer's thread, between its transactions: runs every call that is
 * due, in order. NULL calls: nothing. */
void store_calls_run(struct wg_store_calls *calls, struct wg_store *store);
/* On the writer's thread, at its end: every queued call is tried once more,
 * then no more are taken (store_call answers WG_STORE_IO at once). */
void store_calls_stop(struct wg_store_calls *calls, struct wg_store *store);

#endif
