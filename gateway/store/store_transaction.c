/* Transactions: the core's batches (store_begin, store_commit) and
 * store_run_write, which runs one write under a savepoint, making room under
 * the size limit first, so a failure undoes only that write. */
#include "store/store_internal.h"

#include <stdio.h>
#include <string.h>

static void undo_savepoint(struct wg_store *store)
{
    if (sqlite3_get_autocommit(store->db))
        return; /* SQLite already rolled the whole transaction back */
    store_run_quietly(store, ST_ROLLBACK_TO);
    store_run_quietly(store, ST_RELEASE);
}

/* Pages a write adding about `new_bytes` may allocate at worst: a split at
 * every level of each b-tree it touches, plus overflow pages for big texts. */
static int64_t reserve_pages(const struct wg_store *store, size_t new_bytes)
{
    int64_t usable = store->page_size > 512 ? store->page_size - 256 : 256;
    return RESERVE_PAGES_PER_WRITE + 2 * ((int64_t)new_bytes / usable + 1);
}

/* Before a write under max_bytes: when fewer than `reserve` pages are left,
 * prunes; fails with WG_STORE_FULL (nothing written, the batch intact) when
 * pruning cannot make room. Hitting max_page_count inside SQLite instead
 * would make it roll back the whole transaction, batch and all. */
static int ensure_room(struct wg_store *store, int64_t reserve, const char *doing)
{
    /* Inside a batch the page counts are read again only when what is
     * surely left (counted down by each write's worst case) runs short. */
    if (store->in_batch && store->room_pages >= reserve) {
        store->room_pages -= reserve;
        return 0;
    }
    int64_t pages = store_pragma_pages(store, ST_PAGE_COUNT);
    int64_t free_pages = store_pragma_pages(store, ST_FREELIST_COUNT);
    if (pages < 0 || free_pages < 0)
        return store_fail(store, WG_STORE_IO, "database %s: cannot read its page counts: %s",
                          store->path, sqlite3_errmsg(store->db));
    if (store->max_pages - pages + free_pages >= reserve) {
        store->room_pages = store->max_pages - pages + free_pages - reserve;
        return 0;
    }
    store->room_pages = -1;
    int64_t target = store->max_pages * EVICT_TO_PERCENT / 100;
    if (target > store->max_pages - 2 * reserve)
        target = store->max_pages - 2 * reserve;
    struct wg_store_eviction evicted = {0};
    int rc = store_evict_until(store, target, 0, &evicted);
    store_log_eviction(store, &evicted);
    if (rc < 0)
        return -1;
    pages = store_pragma_pages(store, ST_PAGE_COUNT);
    free_pages = store_pragma_pages(store, ST_FREELIST_COUNT);
    if (pages >= 0 && free_pages >= 0 && store->max_pages - pages + free_pages >= reserve)
        return 0;
    return store_fail(store, WG_STORE_FULL,
                      "database %s is full: %s needs room that the size limit of %lld bytes "
                      "(storage.max_mb) no longer has, and nothing more may be evicted (only the "
                      "current alarms are left); nothing was written",
                      store->path, doing, store->max_bytes);
}

/* Runs `work` as one unit: inside the caller's batch under a savepoint (so a
 * failure undoes only this unit), or in a transaction of its own. A write
 * that adds about `new_bytes` (> 0) first makes room under the size limit;
 * deletes pass 0 and always run. `doing` names the work for error messages. */
int store_run_write(struct wg_store *store, store_write_fn work, void *ctx, size_t new_bytes,
                    const char *doing)
{
    if (store->read_only)
        return store_fail(store, WG_STORE_REFUSED,
                          "database %s: %s refused: this is a read-only connection", store->path,
                          doing);
    if (store->in_batch && store->batch_lost)
        return store_fail(store, store->batch_lost_status,
                          "database %s: the open batch was rolled back after an earlier error; "
                          "roll back and append the batch again",
                          store->path);
    bool own_transaction = !store->in_batch;
    if (own_transaction && store_run(store, ST_BEGIN, "starting a transaction") < 0)
        return -1;

    int result = store_run(store, ST_SAVEPOINT, doing);
    if (result == 0 && new_bytes > 0 && store->max_pages > 0)
        result = ensure_room(store, reserve_pages(store, new_bytes), doing);
    if (result == 0) {
        result = work(store, ctx);
        if (result < 0 && (store->last_sqlite_rc & 0xff) == SQLITE_FULL &&
            !sqlite3_get_autocommit(store->db) && store_at_size_limit(store)) {
            store_run_quietly(store, ST_ROLLBACK_TO); /* the savepoint stays open */
            struct wg_store_eviction evicted = {0};
            int rc =
                store_evict_until(store, store->max_pages * EVICT_TO_PERCENT / 100, 0, &evicted);
            store_log_eviction(store, &evicted);
            if (rc == 0)
                result = work(store, ctx);
        }
        if (result == 0)
            result = store_run(store, ST_RELEASE, doing);
        if (result < 0)
            undo_savepoint(store);
    }

    bool transaction_gone = sqlite3_get_autocommit(store->db);
    if (own_transaction) {
        if (result == 0) {
            result = store_run(store, ST_COMMIT, "committing");
            if (result < 0 && !sqlite3_get_autocommit(store->db))
                store_run_quietly(store, ST_ROLLBACK);
        } else if (!transaction_gone) {
            store_run_quietly(store, ST_ROLLBACK);
        }
    } else if (transaction_gone) {
        store->batch_lost = true;
        store->batch_lost_status = result == 0 ? WG_STORE_IO : store->status;
        if (result == 0)
            result = store_fail(store, WG_STORE_IO,
                                "database %s: the open batch ended unexpectedly", store->path);
        size_t used = strlen(store->error);
        snprintf(store->error + used, sizeof store->error - used,
                 "; SQLite rolled back the whole batch, which must be appended again");
    }
    return result;
}

int store_begin(struct wg_store *store)
{
    store->status = WG_STORE_OK;
    if (store->in_batch)
        return store_fail(store, WG_STORE_IO, "database %s: store_begin inside an open batch",
                          store->path);
    if (store_run(store, ST_BEGIN, "starting a transaction") < 0)
        return -1;
    store->in_batch = true;
    store->room_pages = -1;
    store->batch_lost = false;
    store->batch_lost_status = WG_STORE_OK;
    return 0;
}

int store_commit(struct wg_store *store)
{
    store->status = WG_STORE_OK;
    if (!store->in_batch)
        return store_fail(store, WG_STORE_IO, "database %s: store_commit without store_begin",
                          store->path);
    store->in_batch = false;
    if (store->batch_lost || sqlite3_get_autocommit(store->db)) {
        store->batch_lost = false;
        return store_fail(store, store->batch_lost_status ? store->batch_lost_status : WG_STORE_IO,
                          "database %s: nothing committed: the batch was rolled back after an "
                          "earlier error and must be appended again",
                          store->path);
    }
    if (store_run(store, ST_COMMIT, "committing") < 0) {
        if (!sqlite3_get_autocommit(store->db))
            store_run_quietly(store, ST_ROLLBACK);
        return -1;
    }
    return 0;
}

int store_set_fsync_at_commit(struct wg_store *store, bool fsync_at_commit)
{
    /* A connection setting: it touches no file, so it does not fail on a
     * locked or full disk, and the status of what came before is left alone.
     * Run only when it changes (a statement prepared each time). */
    if (store->commits_not_fsynced == !fsync_at_commit)
        return 0;
    if (store_pragma(store,
                     fsync_at_commit ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                     NULL, 0) < 0)
        return -1;
    store->commits_not_fsynced = !fsync_at_commit;
    return 0;
}

void store_rollback(struct wg_store *store)
{
    if (!sqlite3_get_autocommit(store->db))
        store_run_quietly(store, ST_ROLLBACK);
    store->in_batch = false;
    store->batch_lost = false;
}
