/* The core's side of the journal: what it hands the store writer, and what
 * it does with what comes back. Core thread only.
 *
 * Events, closed readings buckets, audit rows and the uplink's outbox
 * deletes are collected into a batch and handed to the writer thread
 * (store_writer.h) by journal_flush, which never waits for the disk. When
 * the writer has committed them, journal_process calls `committed` for
 * every event, in journal order, with its seq: the log, the displays'
 * deltas and the uplink are told only then, so nothing reaches the district
 * that is not in the journal.
 *
 * Annunciate first: an alarm event that is not committed within
 * WG_JOURNAL_ANNOUNCE_MS, or while storage is failing, is handed to
 * `unjournaled` at once (seq 0), so the displays show it marked not yet
 * journaled; `committed` follows for it when storage works again. Outputs
 * (lamps, buzzers, valve) never depend on any of this: the engine drives
 * them when it decides.
 *
 * At the writer's memory bound the least valuable held writes are dropped
 * (store_writer.h); the journal logs them (counts by kind, alarm ids) and
 * makes sure a dropped alarm event was at least shown. At shutdown it tries
 * the commit once more and logs exactly what could not be kept. */
#ifndef WG_JOURNAL_H
#define WG_JOURNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "store/store.h"
#include "store/store_writer.h"

#define WG_JOURNAL_ANNOUNCE_MS 250

struct wg_journal_host {
    void *ctx;
    /* An event is in the journal (event->seq set); in journal order. */
    void (*committed)(void *ctx, const struct wg_event *event);
    /* An alarm event shown before it is journaled (event->seq == 0). */
    void (*unjournaled)(void *ctx, const struct wg_event *event);
    /* Outbox rows submitted with journal_outbox_deletes(tag, ...) are gone. */
    void (*outbox_deleted)(void *ctx, uint64_t tag, const int64_t *seqs, size_t count);
    /* After journal_process handed over committed events (may be NULL). */
    void (*after_commits)(void *ctx);
    /* Storage started or stopped failing, or its reason changed (may be NULL). */
    void (*storage_changed)(void *ctx, const struct wg_writer_status *status);
};

/* What goes with an alarm event: its row in the current-alarms table. */
struct wg_journal_alarm_row {
    enum wg_alarm_row_op op;
    int64_t update;
    const char *state;
    const char *kind;
};

struct wg_journal;

/* Takes ownership of `store` (the write connection; until journal_start the
 * caller may still read through it). `mono_ms` reads the core's monotonic
 * clock. NULL (and logged) on failure; the store is then closed. */
struct wg_journal *journal_new(struct wg_store *store, const struct wg_writer_options *options,
                               const struct wg_journal_host *host,
                               int64_t (*mono_ms)(void *clock_ctx), void *clock_ctx);
int journal_start(struct wg_journal *journal);
/* Stops the writer after one more try at everything held, hands what was
 * committed to `committed`, and logs what could not be kept. */
void journal_stop(struct wg_journal *journal);
void journal_free(struct wg_journal *journal);

/* Adds to the batch. `body` is taken. The class decides what is dropped
 * first at the memory bound. 0, or -1 when out of memory (logged). */
int journal_event(struct wg_journal *journal, const struct wg_event *proto, json_t *body,
                  enum wg_write_class write_class, const struct wg_journal_alarm_row *alarm_row);
/* A device's closed readings buckets (`count` points), as one write. */
int journal_readings(struct wg_journal *journal, const char *device, size_t count,
                     const char *const *points, const struct wg_reading_aggregate *aggregates);
/* An outbox-only message (telemetry, in its final wire form; copied): it
 * is committed in order with the rest and published by the uplink, never a
 * journal event. Dropped first but for readings at the memory bound. */
int journal_outbox(struct wg_journal *journal, const struct wg_outbox_append *row);
int journal_audit(struct wg_journal *journal, int64_t ts_ms, const char *actor, const char *origin,
                  const char *action, const char *target, const char *detail);
int journal_outbox_deletes(struct wg_journal *journal, uint64_t tag, const int64_t *seqs,
                           size_t count);
/* Hands the batch to the writer, and shows the alarm events that are due. */
void journal_flush(struct wg_journal *journal);

/* Readable when the writer handed something back; then journal_process. */
int journal_fd(const struct wg_journal *journal);
void journal_process(struct wg_journal *journal);
/* Shows alarm events held past WG_JOURNAL_ANNOUNCE_MS. */
void journal_tick(struct wg_journal *journal);
/* Milliseconds until journal_tick has something to do (-1: nothing). */
int64_t journal_next_ms(const struct wg_journal *journal);
/* Waits up to timeout_ms for everything submitted to be committed (or for a
 * failure), processing what comes back. 0 when nothing is held. */
int journal_wait(struct wg_journal *journal, int timeout_ms);

void journal_status(struct wg_journal *journal, struct wg_writer_status *status);
void journal_set_outbox_bound(struct wg_journal *journal, const struct wg_outbox_bound *bound);
void journal_set_now(struct wg_journal *journal, int64_t wall_ms);
bool journal_failing(const struct wg_journal *journal);

#endif
