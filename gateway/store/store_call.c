/* Calls run on the store writer's connection (store_call.h): the queue the
 * callers fill and the writer thread empties, the wait of store_call with
 * its withdrawal, and the retries of posted work. */
#include "store/store_call.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS   2000
#define DROP_LOG_MS    60000

enum call_state { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

struct pending_call {
    struct pending_call *next;
    const char *what;
    wg_store_work work;
    void *ctx;
    void (*free_ctx)(void *ctx);
    bool posted; /* on the heap, nobody waits; else on its caller's stack */
    enum call_state state;
    enum wg_store_status status;
    char message[768];
};

struct wg_store_calls {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a call was done or withdrawn; the writer started or stopped */
    struct pending_call *head, *tail;
    void (*wake)(void *ctx);
    void *wake_ctx;
    bool serving, stopped;
    struct wg_store *inline_store;   /* store_calls_new_inline */
    int64_t retry_at_ms, backoff_ms; /* posted work after a storage failure */
    size_t posted_queued, posted_running;
    int64_t drop_logged_ms;
    uint64_t drops_unlogged;
    struct wg_store_calls_stats stats;
};

static int64_t mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static struct wg_store_calls *calls_alloc(void)
{
    struct wg_store_calls *calls = calloc(1, sizeof *calls);
    if (!calls)
        return NULL;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(calls);
        return NULL;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&calls->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&calls->lock, NULL);
    calls->backoff_ms = RETRY_FIRST_MS;
    return calls;
}

struct wg_store_calls *store_calls_new(void)
{
    return calls_alloc();
}

struct wg_store_calls *store_calls_new_inline(struct wg_store *store)
{
    struct wg_store_calls *calls = store ? calls_alloc() : NULL;
    if (calls)
        calls->inline_store = store;
    return calls;
}

static void free_posted(struct pending_call *call)
{
    if (call->free_ctx)
        call->free_ctx(call->ctx);
    free(call);
}

void store_calls_free(struct wg_store_calls *calls)
{
    if (!calls)
        return;
    for (struct pending_call *call = calls->head, *next; call; call = next) {
        next = call->next;
        if (call->posted) {
            wg_err("storage: %s was never written (the writer never ran)", call->what);
            free_posted(call);
        }
    }
    pthread_cond_destroy(&calls->changed);
    pthread_mutex_destroy(&calls->lock);
    free(calls);
}

/* ---- running one (writer thread, or the caller's when inline; unlocked) ---- */

static void run_work(struct wg_store *store, struct pending_call *call)
{
    int rc = call->work(store, call->ctx);
    sqlite3 *db = store_connection(store);
    if (!sqlite3_get_autocommit(db)) {
        wg_err("storage: %s left its transaction open (a bug): rolled back", call->what);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        if (rc == 0)
            rc = store_sqlite_failed(store, SQLITE_MISUSE, call->what);
    }
    if (rc == 0) {
        call->status = WG_STORE_OK;
        call->message[0] = '\0';
        return;
    }
    call->status = store_last_status(store);
    if (call->status == WG_STORE_OK)
        call->status = WG_STORE_IO;
    snprintf(call->message, sizeof call->message, "%s", store_last_error(store));
}

/* ---- the callers' side ---- */

static void wake_writer(struct wg_store_calls *calls)
{
    void (*wake)(void *) = calls->wake;
    void *ctx = calls->wake_ctx;
    pthread_mutex_unlock(&calls->lock);
    if (wake)
        wake(ctx);
}

static void enqueue(struct wg_store_calls *calls, struct pending_call *call)
{
    call->state = CALL_QUEUED;
    call->next = NULL;
    if (calls->tail)
        calls->tail->next = call;
    else
        calls->head = call;
    calls->tail = call;
}

/* Unlinks a queued call. Locked. */
static void unlink_call(struct wg_store_calls *calls, struct pending_call *call)
{
    struct pending_call *prev = NULL;
    for (struct pending_call *c = calls->head; c; prev = c, c = c->next) {
        if (c != call)
            continue;
        if (prev)
            prev->next = c->next;
        else
            calls->head = c->next;
        if (calls->tail == c)
            calls->tail = prev;
        c->next = NULL;
        return;
    }
}

static void say(char *out, size_t len, const char *text)
{
    if (out && len)
        snprintf(out, len, "%s", text);
}

enum wg_store_status store_call(struct wg_store_calls *calls, const char *what, wg_store_work work,
                                void *ctx, char *message, size_t message_len)
{
    struct pending_call call = {.what = what, .work = work, .ctx = ctx};
    if (!calls) {
        say(message, message_len, "storage is not running (no store writer)");
        return WG_STORE_IO;
    }
    if (calls->inline_store) {
        pthread_mutex_lock(&calls->lock); /* one connection: one call at a time */
        run_work(calls->inline_store, &call);
        if (call.status == WG_STORE_OK)
            calls->stats.run++;
        else
            calls->stats.failed++;
        pthread_mutex_unlock(&calls->lock);
        say(message, message_len, call.message);
        return call.status;
    }
    pthread_mutex_lock(&calls->lock);
    if (!calls->serving) {
        pthread_mutex_unlock(&calls->lock);
        say(message, message_len, "storage is not running (the store writer has stopped)");
        return WG_STORE_IO;
    }
    enqueue(calls, &call);
    wake_writer(calls); /* unlocks */
    pthread_mutex_lock(&calls->lock);
    int64_t deadline = mono_ms() + WG_STORE_CALL_WAIT_MS;
    while (call.state != CALL_DONE) {
        if (call.state == CALL_QUEUED && mono_ms() >= deadline) {
            unlink_call(calls, &call);
            calls->stats.withdrawn++;
            pthread_mutex_unlock(&calls->lock);
            if (message && message_len)
                snprintf(message, message_len,
                         "the database writer did not take %s within %d ms (it is waiting for "
                         "a lock held by another process, or for the disk)",
                         what, WG_STORE_CALL_WAIT_MS);
            return WG_STORE_LOCKED;
        }
        /* Once taken it runs to its end: SQLite's busy timeout bounds its wait. */
        int64_t until = call.state == CALL_QUEUED ? deadline : mono_ms() + 1000;
        struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
        pthread_cond_timedwait(&calls->changed, &calls->lock, &ts);
    }
    pthread_mutex_unlock(&calls->lock);
    say(message, message_len, call.message);
    return call.status;
}

/* Drops the oldest queued posted work beyond the bound. Locked. */
static void keep_posted_bound(struct wg_store_calls *calls)
{
    while (calls->posted_queued > WG_STORE_CALLS_POSTED_MAX) {
        struct pending_call *oldest = NULL;
        for (struct pending_call *c = calls->head; c && !oldest; c = c->next)
            if (c->posted)
                oldest = c;
        if (!oldest)
            return;
        unlink_call(calls, oldest);
        calls->posted_queued--;
        calls->stats.dropped++;
        calls->drops_unlogged++;
        int64_t now = mono_ms();
        if (!calls->drop_logged_ms || now - calls->drop_logged_ms >= DROP_LOG_MS) {
            wg_err("storage: %llu writes of the web's (%s, ...) were dropped unwritten: %d "
                   "waited for storage that keeps failing",
                   (unsigned long long)calls->drops_unlogged, oldest->what,
                   WG_STORE_CALLS_POSTED_MAX);
            calls->drop_logged_ms = now;
            calls->drops_unlogged = 0;
        }
        free_posted(oldest); /* its free_ctx takes no lock of ours */
    }
}

int store_call_post(struct wg_store_calls *calls, const char *what, wg_store_work work, void *ctx,
                    void (*free_ctx)(void *ctx))
{
    struct pending_call *call = calloc(1, sizeof *call);
    if (!call || !calls) {
        wg_err("storage: %s cannot be written: %s", what,
               calls ? "out of memory" : "no store writer");
        free(call);
        if (free_ctx)
            free_ctx(ctx);
        return -1;
    }
    *call = (struct pending_call){
        .what = what, .work = work, .ctx = ctx, .free_ctx = free_ctx, .posted = true};
    if (calls->inline_store) {
        pthread_mutex_lock(&calls->lock);
        run_work(calls->inline_store, call);
        pthread_mutex_unlock(&calls->lock);
        if (call->status != WG_STORE_OK)
            wg_err("storage: %s was not written: %s", what, call->message);
        int rc = call->status == WG_STORE_OK ? 0 : -1;
        free_posted(call);
        return rc;
    }
    pthread_mutex_lock(&calls->lock);
    if (calls->stopped) {
        pthread_mutex_unlock(&calls->lock);
        wg_err("storage: %s cannot be written: the store writer has stopped", what);
        free_posted(call);
        return -1;
    }
    enqueue(calls, call);
    calls->posted_queued++;
    calls->stats.posted_waiting = calls->posted_queued + calls->posted_running;
    keep_posted_bound(calls);
    wake_writer(calls); /* unlocks */
    return 0;
}

int store_calls_flush(struct wg_store_calls *calls, int timeout_ms)
{
    if (!calls)
        return 0;
    int64_t deadline = mono_ms() + timeout_ms;
    pthread_mutex_lock(&calls->lock);
    while ((calls->posted_queued || calls->posted_running) && calls->serving &&
           mono_ms() < deadline) {
        struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
        pthread_cond_timedwait(&calls->changed, &calls->lock, &ts);
    }
    int rc = calls->posted_queued || calls->posted_running ? -1 : 0;
    pthread_mutex_unlock(&calls->lock);
    return rc;
}

void store_calls_stats(struct wg_store_calls *calls, struct wg_store_calls_stats *stats)
{
    pthread_mutex_lock(&calls->lock);
    *stats = calls->stats;
    stats->posted_waiting = calls->posted_queued + calls->posted_running;
    pthread_mutex_unlock(&calls->lock);
}

/* ---- the writer's side ---- */

void store_calls_serve(struct wg_store_calls *calls, void (*wake)(void *ctx), void *ctx)
{
    if (!calls)
        return;
    pthread_mutex_lock(&calls->lock);
    calls->wake = wake;
    calls->wake_ctx = ctx;
    calls->serving = !calls->stopped;
    pthread_mutex_unlock(&calls->lock);
}

/* The first call that may run now, or NULL. Locked. */
static struct pending_call *next_due(struct wg_store_calls *calls, int64_t now_ms, bool last_try)
{
    bool posted_due = last_try || now_ms >= calls->retry_at_ms;
    for (struct pending_call *c = calls->head; c; c = c->next)
        if (!c->posted || posted_due)
            return c;
    return NULL;
}

int64_t store_calls_next_ms(struct wg_store_calls *calls, int64_t now_ms)
{
    if (!calls)
        return INT64_MAX;
    pthread_mutex_lock(&calls->lock);
    int64_t at = INT64_MAX;
    for (struct pending_call *c = calls->head; c && at; c = c->next)
        at = !c->posted ? 0 : (calls->retry_at_ms <= now_ms ? 0 : calls->retry_at_ms);
    pthread_mutex_unlock(&calls->lock);
    return at;
}

/* After a posted call's attempt. Locked. Returns it when it is to be freed. */
static struct pending_call *posted_done(struct wg_store_calls *calls, struct pending_call *call,
                                        bool last_try)
{
    calls->posted_running--;
    if (call->status == WG_STORE_OK) {
        calls->backoff_ms = RETRY_FIRST_MS;
        calls->retry_at_ms = 0;
        return call;
    }
    if (!last_try && store_status_retryable(call->status)) {
        /* Kept first among the posted work, so their order holds. */
        call->state = CALL_QUEUED;
        call->next = calls->head;
        calls->head = call;
        if (!calls->tail)
            calls->tail = call;
        calls->posted_queued++;
        calls->retry_at_ms = mono_ms() + calls->backoff_ms;
        calls->backoff_ms =
            calls->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : calls->backoff_ms * 2;
        return NULL;
    }
    calls->stats.dropped++;
    wg_err("storage: %s is lost: %s", call->what, call->message);
    return call;
}

static void run_due(struct wg_store_calls *calls, struct wg_store *store, bool last_try)
{
    pthread_mutex_lock(&calls->lock);
    struct pending_call *call;
    while ((call = next_due(calls, mono_ms(), last_try)) != NULL) {
        unlink_call(calls, call);
        call->state = CALL_RUNNING;
        if (call->posted) {
            calls->posted_queued--;
            calls->posted_running++;
        }
        pthread_mutex_unlock(&calls->lock);
        run_work(store, call);
        pthread_mutex_lock(&calls->lock);
        if (call->status == WG_STORE_OK)
            calls->stats.run++;
        else
            calls->stats.failed++;
        struct pending_call *to_free = NULL;
        if (call->posted)
            to_free = posted_done(calls, call, last_try);
        else
            call->state = CALL_DONE; /* its caller may return and reuse the stack now */
        calls->stats.posted_waiting = calls->posted_queued + calls->posted_running;
        pthread_cond_broadcast(&calls->changed);
        if (to_free) {
            pthread_mutex_unlock(&calls->lock);
            free_posted(to_free);
            pthread_mutex_lock(&calls->lock);
        }
    }
    pthread_mutex_unlock(&calls->lock);
}

void store_calls_run(struct wg_store_calls *calls, struct wg_store *store)
{
    if (calls)
        run_due(calls, store, false);
}

void store_calls_stop(struct wg_store_calls *calls, struct wg_store *store)
{
    if (!calls)
        return;
    pthread_mutex_lock(&calls->lock);
    calls->stopped = true; /* nothing new is posted; store_call still queues until ... */
    pthread_mutex_unlock(&calls->lock);
    run_due(calls, store, true);
    pthread_mutex_lock(&calls->lock);
    calls->serving = false; /* ... here */
    calls->wake = NULL;
    pthread_cond_broadcast(&calls->changed);
    pthread_mutex_unlock(&calls->lock);
    /* A store_call queued between the last run and here gets its answer. */
    run_due(calls, store, true);
}
