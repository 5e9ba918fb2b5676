/* The store writer's housekeeping, between transactions: retention and the
 * size bound, the uplink's outbox bound, WAL checkpoints, the usage figures
 * the status reports, and the log lines that sum up evictions. */
#include "store/writer_internal.h"

#include <inttypes.h>
#include <stdio.h>

#include "common/log.h"

static void housekeeping_failed(struct wg_store_writer *writer, const char *what)
{
    int64_t now = writer_mono_ms();
    if (writer->housekeeping_error_ms &&
        now - writer->housekeeping_error_ms < HOUSEKEEPING_ERROR_LOG_MS)
        return;
    writer->housekeeping_error_ms = now;
    wg_err("storage: %s: %s", what, store_last_error(writer->store));
}

static void log_eviction(struct wg_store_writer *writer, int64_t now)
{
    const struct wg_store_eviction *evicted = &writer->evicted;
    if (evicted->chunks == 0 || now - writer->evicted_logged_ms < EVICTION_LOG_MS)
        return;
    char text[400];
    store_eviction_text(evicted, text, sizeof text);
    wg_notice("storage: at its size bound: evicted the oldest %s in the last %" PRId64
              " s (%" PRId64 " of them unsent outbox rows)",
              text[0] ? text : "nothing", (now - writer->evicted_since_ms) / 1000,
              evicted->outbox_rows);
    if (evicted->exhausted)
        wg_warn("storage: at its size bound with nothing left to evict but the current alarms");
    writer->evicted = (struct wg_store_eviction){0};
    writer->evicted_since_ms = writer->evicted_logged_ms = now;
}

/* The uplink's bound on unsent rows: by bytes after every commit, by age
 * every ten seconds; each episode logged once. */
static void bound_outbox(struct wg_store_writer *writer, const struct wg_outbox_bound *bound,
                         int64_t now_wall, bool check_age, const struct wg_outbox_totals *totals)
{
    bool over_size = bound->max_bytes > 0 && totals->total_bytes > bound->max_bytes;
    bool over_age = check_age && bound->max_age_ms > 0 && totals->oldest_created_ms > 0 &&
                    totals->oldest_created_ms < now_wall - bound->max_age_ms;
    if (!over_size && !over_age) {
        if (totals->total_bytes < bound->max_bytes * 9 / 10)
            writer->cap_logged = writer->alarm_only_logged = false;
        return;
    }
    struct wg_outbox_bound applied = *bound;
    if (!check_age)
        applied.max_age_ms = 0;
    struct wg_outbox_eviction evicted;
    if (store_outbox_bound(writer->store, &applied, now_wall, &evicted) != 0) {
        housekeeping_failed(writer, "cannot bound the outbox");
        return;
    }
    int64_t by_size = evicted.by_size[WG_UPLINK_TELEMETRY] + evicted.by_size[WG_UPLINK_HEALTH];
    int64_t by_age = evicted.by_age[WG_UPLINK_TELEMETRY] + evicted.by_age[WG_UPLINK_HEALTH] +
                     evicted.by_age[WG_UPLINK_ALARM];
    if (by_age > 0)
        wg_warn("uplink: %" PRId64 " telemetry, %" PRId64 " health and %" PRId64
                " alarm messages were older than outbox_max_age_h and were dropped unsent",
                evicted.by_age[WG_UPLINK_TELEMETRY], evicted.by_age[WG_UPLINK_HEALTH],
                evicted.by_age[WG_UPLINK_ALARM]);
    if (by_size > 0 && !writer->cap_logged) {
        wg_warn("uplink: the outbox reached its cap of %lld bytes: the oldest telemetry, then "
                "health messages are dropped unsent (alarms never); logged once until it drains",
                bound->max_bytes);
        writer->cap_logged = true;
    }
    struct wg_outbox_totals after;
    if (store_outbox_totals(writer->store, &after) == 0 && after.total_bytes > bound->max_bytes &&
        bound->max_bytes > 0 && !writer->alarm_only_logged) {
        wg_crit("uplink: the outbox holds %" PRId64 " bytes of alarms alone, above its cap of "
                "%lld; alarms are never dropped for the cap (only at the storage bound), so it "
                "grows until the platform is reachable",
                after.total_bytes, bound->max_bytes);
        writer->alarm_only_logged = true;
    }
}

void writer_housekeeping(struct wg_store_writer *writer, bool idle)
{
    struct wg_store *store = writer->store;
    int64_t now = writer_mono_ms();
    pthread_mutex_lock(&writer->lock);
    struct wg_outbox_bound bound = writer->outbox_bound;
    bool bound_set = writer->outbox_bound_set;
    int64_t now_wall = writer->now_wall_ms;
    pthread_mutex_unlock(&writer->lock);

    if (now >= writer->next_maintain_ms && now_wall > 0) {
        writer->next_maintain_ms = now + MAINTAIN_MS;
        if (store_maintain(store, now_wall) != 0)
            housekeeping_failed(writer, "maintenance (retention, size bound)");
    } else if (idle && store_over_bound(store) &&
               store_evict(store, writer->status.usage.wal_budget_bytes / 4, &writer->evicted) !=
                   0) {
        housekeeping_failed(writer, "keeping the size bound");
    }
    struct wg_store_usage usage;
    if (store_usage(store, &usage) != 0) {
        housekeeping_failed(writer, "reading its usage");
        return;
    }
    if (bound_set && now_wall > 0) {
        bool check_age = now >= writer->next_age_check_ms;
        if (check_age)
            writer->next_age_check_ms = now + OUTBOX_AGE_CHECK_MS;
        bound_outbox(writer, &bound, now_wall, check_age, &usage.outbox);
    }
    /* The WAL is part of the bound: truncated when it outgrew its share, and
     * when writing has paused, so an idle database is one file. */
    bool truncate =
        store_wal_bytes(store) > usage.wal_budget_bytes / 8 ||
        usage.wal_bytes > usage.wal_budget_bytes ||
        (idle && usage.wal_bytes > 0 && now - writer->last_write_ms >= IDLE_TRUNCATE_MS);
    if (truncate) {
        if (store_checkpoint(store, true, NULL) != 0)
            housekeeping_failed(writer, "checkpointing the WAL");
        writer->wal_truncated_ms = writer_mono_ms(); /* the WAL hold does not try again at once */
    }
    if (store_usage(store, &usage) != 0) {
        housekeeping_failed(writer, "reading its usage");
        return;
    }
    log_eviction(writer, now);
    pthread_mutex_lock(&writer->lock);
    writer->status.usage = usage;
    pthread_mutex_unlock(&writer->lock);
    writer->next_housekeeping_ms = now + HOUSEKEEPING_MS;
}
