/* The core's side of the journal: batching, handing over, announcing and
 * accounting; see journal.h. */
#include "store/journal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

#define DROP_LOG_MS  10000 /* drops are summed up in the log at most this often */
#define IDS_PER_LINE 8

struct wg_journal {
    struct wg_store_writer *writer;
    struct wg_journal_host host;
    int64_t (*mono_ms)(void *clock_ctx);
    void *clock_ctx;
    size_t max_held_writes, max_held_bytes;
    struct wg_write *batch_head, *batch_tail;
    /* Alarm event writes neither committed nor shown yet, oldest first: a
     * ring of pointers into writes the writer holds (NULL: gone meanwhile). */
    struct wg_write **ring;
    size_t ring_head, ring_count, ring_capacity;
    bool failing;
    enum wg_store_status status;
    int64_t failing_since_ms;
    /* Drops at the memory bound since the last log line. */
    uint64_t dropped[WG_CLASS_COUNT];
    int64_t drop_logged_ms;
};

static int64_t now_ms(const struct wg_journal *journal)
{
    return journal->mono_ms(journal->clock_ctx);
}

static int64_t real_mono_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- the ring of alarm events not yet shown ---- */

static bool ring_push(struct wg_journal *journal, struct wg_write *write)
{
    if (journal->ring_count == journal->ring_capacity) {
        size_t capacity = journal->ring_capacity ? journal->ring_capacity * 2 : 64;
        struct wg_write **grown = malloc(capacity * sizeof *grown);
        if (!grown)
            return false;
        for (size_t i = 0; i < journal->ring_count; i++)
            grown[i] = journal->ring[(journal->ring_head + i) % journal->ring_capacity];
        free(journal->ring);
        journal->ring = grown;
        journal->ring_capacity = capacity;
        journal->ring_head = 0;
    }
    journal->ring[(journal->ring_head + journal->ring_count++) % journal->ring_capacity] = write;
    return true;
}

static struct wg_write *ring_front(struct wg_journal *journal)
{
    while (journal->ring_count > 0 && !journal->ring[journal->ring_head]) {
        journal->ring_head = (journal->ring_head + 1) % journal->ring_capacity;
        journal->ring_count--;
    }
    return journal->ring_count ? journal->ring[journal->ring_head] : NULL;
}

static void ring_pop(struct wg_journal *journal)
{
    journal->ring_head = (journal->ring_head + 1) % journal->ring_capacity;
    journal->ring_count--;
}

/* Takes a write out of the ring before it is freed (it is usually in front). */
static void ring_forget(struct wg_journal *journal, const struct wg_write *write)
{
    for (size_t i = 0; i < journal->ring_count; i++) {
        size_t at = (journal->ring_head + i) % journal->ring_capacity;
        if (journal->ring[at] == write) {
            journal->ring[at] = NULL;
            break;
        }
    }
    ring_front(journal);
}

/* ---- showing before journaling ---- */

static void announce(struct wg_journal *journal, struct wg_write *write)
{
    struct wg_event event = write->u.event.event; /* the writer never writes here */
    event.seq = 0;
    write->announced = true;
    if (journal->host.unjournaled)
        journal->host.unjournaled(journal->host.ctx, &event);
}

void journal_tick(struct wg_journal *journal)
{
    int64_t now = now_ms(journal);
    struct wg_write *write;
    while ((write = ring_front(journal)) != NULL) {
        if (!journal->failing && now - write->queued_mono_ms < WG_JOURNAL_ANNOUNCE_MS)
            break;
        ring_pop(journal);
        announce(journal, write);
    }
}

int64_t journal_next_ms(const struct wg_journal *journal)
{
    for (size_t i = 0; i < journal->ring_count; i++) {
        const struct wg_write *write =
            journal->ring[(journal->ring_head + i) % journal->ring_capacity];
        if (!write)
            continue;
        if (journal->failing)
            return 0;
        int64_t due = write->queued_mono_ms + WG_JOURNAL_ANNOUNCE_MS - now_ms(journal);
        return due < 0 ? 0 : due;
    }
    return -1;
}

/* ---- building the batch ---- */

static void add_to_batch(struct wg_journal *journal, struct wg_write *write)
{
    write->queued_mono_ms = now_ms(journal);
    if (journal->batch_tail)
        journal->batch_tail->next = write;
    else
        journal->batch_head = write;
    journal->batch_tail = write;
}

int journal_event(struct wg_journal *journal, const struct wg_event *proto, json_t *body,
                  enum wg_write_class write_class, const struct wg_journal_alarm_row *alarm_row)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct wg_write *write = text ? wg_write_event(proto, text, write_class) : NULL;
    free(text);
    if (!write) {
        wg_crit("out of memory journaling a %s event%s%s", proto->kind,
                proto->alarm_id ? " of alarm " : "", proto->alarm_id ? proto->alarm_id : "");
        return -1;
    }
    if (alarm_row) {
        write->u.event.alarm_op = alarm_row->op;
        write->u.event.alarm_update = alarm_row->update;
        snprintf(write->u.event.alarm_state, sizeof write->u.event.alarm_state, "%s",
                 alarm_row->state ? alarm_row->state : "");
        snprintf(write->u.event.alarm_kind, sizeof write->u.event.alarm_kind, "%s",
                 alarm_row->kind ? alarm_row->kind : "");
    }
    add_to_batch(journal, write);
    if (write_class == WG_CLASS_ALARM && !ring_push(journal, write)) {
        wg_crit("out of memory: alarm %s is shown at once",
                proto->alarm_id ? proto->alarm_id : "?");
        announce(journal, write);
    }
    return 0;
}

int journal_readings(struct wg_journal *journal, const char *device, size_t count,
                     const char *const *points, const struct wg_reading_aggregate *aggregates)
{
    struct wg_write *write = wg_write_readings(device, count, points, aggregates);
    if (!write) {
        wg_err("out of memory: %zu readings buckets of %s are not kept", count, device);
        return -1;
    }
    add_to_batch(journal, write);
    return 0;
}

int journal_outbox(struct wg_journal *journal, const struct wg_outbox_append *row)
{
    struct wg_write *write = wg_write_outbox(row, WG_CLASS_TELEMETRY);
    if (!write) {
        wg_err("out of memory: a %s message of %zu bytes is not kept", row->kind, row->payload_len);
        return -1;
    }
    add_to_batch(journal, write);
    return 0;
}

int journal_audit(struct wg_journal *journal, int64_t ts_ms, const char *actor, const char *origin,
                  const char *action, const char *target, const char *detail)
{
    struct wg_write *write = wg_write_audit(ts_ms, actor, origin, action, target, detail);
    if (!write) {
        wg_err("audit: out of memory: %s %s by %s not recorded", action, target ? target : "",
               actor);
        return -1;
    }
    add_to_batch(journal, write);
    return 0;
}

int journal_outbox_deletes(struct wg_journal *journal, uint64_t tag, const int64_t *seqs,
                           size_t count)
{
    if (count == 0)
        return 0;
    struct wg_write *write = wg_write_outbox_deletes(seqs, count);
    if (!write) {
        wg_err("uplink: out of memory; %zu acknowledged outbox rows stay and are sent again",
               count);
        return -1;
    }
    write->tag = tag;
    add_to_batch(journal, write);
    return 0;
}

/* ---- the memory bound ---- */

static void log_drops(struct wg_journal *journal, bool now)
{
    int64_t at = now_ms(journal);
    if (!now && at - journal->drop_logged_ms < DROP_LOG_MS)
        return;
    char text[512] = "";
    size_t used = 0;
    for (int c = 0; c < WG_CLASS_COUNT && used < sizeof text; c++)
        if (journal->dropped[c])
            used += (size_t)snprintf(text + used, sizeof text - used, "%s%" PRIu64 " %s",
                                     used ? ", " : "", journal->dropped[c],
                                     writer_class_name((enum wg_write_class)c));
    if (!used)
        return;
    wg_crit("storage: the memory held for unjournaled events reached its bound (%zu writes, "
            "%zu MiB): dropped, never to be journaled: %s",
            journal->max_held_writes, journal->max_held_bytes >> 20, text);
    memset(journal->dropped, 0, sizeof journal->dropped);
    journal->drop_logged_ms = at;
}

static void handle_dropped(struct wg_journal *journal, struct wg_write *dropped)
{
    bool alarms = false;
    while (dropped) {
        struct wg_write *write = dropped;
        dropped = write->next;
        journal->dropped[write->write_class] += wg_write_rows(write);
        if (write->write_class == WG_CLASS_ALARM) {
            alarms = true;
            if (!write->announced) {
                ring_forget(journal, write);
                announce(journal, write); /* at least the displays have it */
            }
            const struct wg_event *event = &write->u.event.event;
            wg_crit("storage: alarm event of %s (%s) dropped at the memory bound: shown, "
                    "never journaled",
                    event->alarm_id ? event->alarm_id : "?", event->kind);
        }
        wg_write_free(write);
    }
    log_drops(journal, alarms);
}

void journal_flush(struct wg_journal *journal)
{
    if (journal->batch_head) {
        struct wg_write *dropped = writer_submit(journal->writer, journal->batch_head);
        journal->batch_head = journal->batch_tail = NULL;
        if (dropped)
            handle_dropped(journal, dropped);
    }
    journal_tick(journal);
}

/* ---- what comes back ---- */

static void check_status(struct wg_journal *journal)
{
    struct wg_writer_status status;
    writer_status(journal->writer, &status);
    if (status.failing == journal->failing && (!status.failing || status.status == journal->status))
        return;
    if (status.failing) {
        if (!journal->failing)
            journal->failing_since_ms = now_ms(journal);
        wg_crit("storage: %s; %zu events are held in memory (up to %zu writes or %zu MiB) and "
                "committed in order once it works again",
                status.message, status.waiting_events, journal->max_held_writes,
                journal->max_held_bytes >> 20);
    } else {
        wg_notice("storage: working again after %" PRId64 " s; the held events are committed",
                  (now_ms(journal) - journal->failing_since_ms) / 1000);
    }
    journal->failing = status.failing;
    journal->status = status.status;
    if (journal->failing)
        journal_tick(journal); /* everything waiting is shown now */
    if (journal->host.storage_changed)
        journal->host.storage_changed(journal->host.ctx, &status);
}

/* Returns true when an event was committed. */
static bool hand_over(struct wg_journal *journal, struct wg_write *list)
{
    bool any = false;
    while (list) {
        struct wg_write *write = list;
        list = write->next;
        if (write->type == WG_WRITE_EVENT) {
            if (write->write_class == WG_CLASS_ALARM && !write->announced)
                ring_forget(journal, write);
            if (write->committed) {
                struct wg_event event = write->u.event.event;
                event.seq = write->seq;
                event.announced = write->announced;
                journal->host.committed(journal->host.ctx, &event);
                any = true;
            } else if (write->write_class == WG_CLASS_ALARM && !write->announced) {
                announce(journal, write); /* refused by the store: still shown */
            }
        } else if (write->type == WG_WRITE_OUTBOX && write->committed) {
            any = true; /* the uplink publishes it */
        } else if (write->type == WG_WRITE_OUTBOX_DELETE && write->committed &&
                   journal->host.outbox_deleted) {
            journal->host.outbox_deleted(journal->host.ctx, write->tag, write->u.deletes.seqs,
                                         write->u.deletes.count);
        }
        wg_write_free(write);
    }
    return any;
}

void journal_process(struct wg_journal *journal)
{
    bool any = hand_over(journal, writer_take(journal->writer));
    check_status(journal);
    if (any && journal->host.after_commits)
        journal->host.after_commits(journal->host.ctx);
}

int journal_wait(struct wg_journal *journal, int timeout_ms)
{
    journal_flush(journal);
    int64_t deadline = real_mono_ms() + timeout_ms;
    struct wg_writer_status status;
    writer_status(journal->writer, &status);
    uint64_t failures = status.failures; /* a failure from before does not count */
    for (;;) {
        journal_process(journal);
        journal_flush(journal); /* what the listeners queued (the storage alarm, say) */
        writer_status(journal->writer, &status);
        if (status.held_writes == 0) {
            journal_process(journal);
            if (!journal->batch_head)
                return 0;
            continue;
        }
        if (status.failures > failures)
            return -1;
        int64_t left = deadline - real_mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd ready = {.fd = writer_fd(journal->writer), .events = POLLIN};
        if (poll(&ready, 1, (int)(left < 100 ? left : 100)) < 0 && errno != EINTR)
            return -1;
    }
}

/* ---- life cycle ---- */

struct wg_journal *journal_new(struct wg_store *store, const struct wg_writer_options *options,
                               const struct wg_journal_host *host,
                               int64_t (*mono_ms)(void *clock_ctx), void *clock_ctx)
{
    struct wg_journal *journal = calloc(1, sizeof *journal);
    if (!journal) {
        store_close(store);
        wg_crit("storage: out of memory");
        return NULL;
    }
    journal->host = *host;
    journal->mono_ms = mono_ms;
    journal->clock_ctx = clock_ctx;
    journal->writer = writer_new(store, options);
    if (!journal->writer) {
        free(journal);
        return NULL;
    }
    struct wg_writer_options defaults = {0};
    if (options)
        defaults = *options;
    journal->max_held_writes = defaults.max_held_writes ? defaults.max_held_writes : 50000;
    journal->max_held_bytes = defaults.max_held_bytes ? defaults.max_held_bytes : 16u << 20;
    return journal;
}

int journal_start(struct wg_journal *journal)
{
    return writer_start(journal->writer);
}

/* Counts of lost writes by kind and the alarm ids, in as many lines as it takes. */
static void log_lost(struct wg_write *lost)
{
    size_t events = 0, readings = 0, audits = 0, deletes = 0, messages = 0;
    struct kind_count {
        const char *kind;
        size_t count;
    } kinds[16];
    size_t kind_count = 0;
    for (struct wg_write *w = lost; w; w = w->next) {
        if (w->type == WG_WRITE_READING) {
            readings++;
            continue;
        }
        if (w->type == WG_WRITE_AUDIT) {
            audits++;
            continue;
        }
        if (w->type == WG_WRITE_OUTBOX_DELETE) {
            deletes += w->u.deletes.count;
            continue;
        }
        if (w->type == WG_WRITE_OUTBOX) {
            messages++;
            continue;
        }
        events++;
        const char *kind = w->u.event.event.kind;
        size_t k = 0;
        while (k < kind_count && strcmp(kinds[k].kind, kind) != 0)
            k++;
        if (k == kind_count && kind_count < 16)
            kinds[kind_count++] = (struct kind_count){kind, 0};
        if (k < kind_count)
            kinds[k].count++;
    }
    char text[600] = "";
    size_t used = 0;
    for (size_t k = 0; k < kind_count && used < sizeof text; k++)
        used += (size_t)snprintf(text + used, sizeof text - used, "%s%zu %s", used ? ", " : "",
                                 kinds[k].count, kinds[k].kind);
    wg_crit("storage: shutting down with %zu events that could not be stored (%s); also %zu "
            "readings buckets, %zu telemetry messages, %zu audit rows and %zu outbox deletes "
            "(those rows are sent again)",
            events, text[0] ? text : "none", readings, messages, audits, deletes);
    char ids[IDS_PER_LINE * 40 + 16] = "";
    size_t in_line = 0, line_used = 0;
    for (struct wg_write *w = lost; w; w = w->next) {
        if (w->type != WG_WRITE_EVENT || w->write_class != WG_CLASS_ALARM)
            continue;
        const char *id = w->u.event.event.alarm_id ? w->u.event.event.alarm_id : "?";
        line_used += (size_t)snprintf(ids + line_used, sizeof ids - line_used, "%s%s",
                                      in_line ? " " : "", id);
        if (++in_line == IDS_PER_LINE) {
            wg_crit("storage: alarm events not journaled, of alarms: %s", ids);
            in_line = line_used = 0;
            ids[0] = '\0';
        }
    }
    if (in_line)
        wg_crit("storage: alarm events not journaled, of alarms: %s", ids);
}

void journal_stop(struct wg_journal *journal)
{
    if (!journal)
        return;
    journal_process(journal); /* a status change may still queue an event (the storage alarm) */
    journal_flush(journal);
    writer_stop(journal->writer);
    journal_process(journal);
    struct wg_write *lost = writer_take_unwritten(journal->writer);
    if (lost) {
        struct wg_writer_status status;
        writer_status(journal->writer, &status);
        if (status.failing)
            wg_crit("storage: the last try failed too: %s", status.message);
        log_lost(lost);
        for (struct wg_write *w = lost; w; w = w->next)
            if (w->type == WG_WRITE_EVENT && w->write_class == WG_CLASS_ALARM && !w->announced)
                ring_forget(journal, w);
        wg_write_free_list(lost);
    }
}

void journal_free(struct wg_journal *journal)
{
    if (!journal)
        return;
    journal_stop(journal);
    wg_write_free_list(journal->batch_head);
    writer_free(journal->writer);
    free(journal->ring);
    free(journal);
}

int journal_fd(const struct wg_journal *journal)
{
    return writer_fd(journal->writer);
}

void journal_status(struct wg_journal *journal, struct wg_writer_status *status)
{
    writer_status(journal->writer, status);
}

void journal_set_outbox_bound(struct wg_journal *journal, const struct wg_outbox_bound *bound)
{
    writer_set_outbox_bound(journal->writer, bound);
}

void journal_set_now(struct wg_journal *journal, int64_t wall_ms)
{
    writer_set_now(journal->writer, wall_ms);
}

bool journal_failing(const struct wg_journal *journal)
{
    return journal->failing;
}
