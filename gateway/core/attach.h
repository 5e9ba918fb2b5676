/* How the rest of the daemon attaches to the core: the web API and the
 * uplink the same way (and tests, and the query workers' completions).
 *
 * An attachment is a set of callbacks, every one optional, all called on the
 * core thread: the events once committed (in journal order) and the alarm
 * events shown before their commit; the end of a batch of commits (new
 * outbox rows to publish) and outbox deletes done; the file descriptors the
 * core loop should watch for it and what to do when one is readable; a turn
 * of the loop (its timers: it says when it next wants one); a reload that
 * was applied; and the stop, after the last commits, before the journal
 * closes. The core keeps a copy of the struct; `ctx` must outlive
 * core_free. */
#ifndef WG_CORE_ATTACH_H
#define WG_CORE_ATTACH_H

#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "config/config.h"

#define WG_ATTACH_MAX_FDS 8 /* file descriptors one attachment may have watched */

struct wg_core_attachment {
    const char *name; /* for the log: "web", "uplink" */
    void *ctx;
    /* An event is in the journal (event->seq set), in journal order. */
    void (*committed)(const struct wg_event *event, void *ctx);
    /* An alarm event shown before it is journaled (event->seq == 0): held
     * past 250 ms, or storage failing; `committed` follows once it is. */
    void (*unjournaled)(const struct wg_event *event, void *ctx);
    /* After the writer handed back a batch with commits (events or outbox rows). */
    void (*after_commits)(void *ctx);
    /* Outbox rows of core_outbox_delete(tag, ...) are gone. */
    void (*outbox_deleted)(void *ctx, uint64_t tag, const int64_t *seqs, size_t count);
    /* The descriptors to watch now (at most WG_ATTACH_MAX_FDS); asked every
     * loop turn, so the set may change. `ready` runs for each readable one. */
    size_t (*fds)(void *ctx, int *fds, size_t max);
    void (*ready)(void *ctx, int fd);
    /* Every loop turn (and core_run_timers): its timers. Returns the
     * milliseconds until it wants the next call, or -1 for no sooner than
     * the core's own. */
    int64_t (*tick)(void *ctx, int64_t now_mono_ms);
    /* A reload was applied: `next` is the running config now; `previous` is
     * still valid during the call. */
    void (*reloaded)(void *ctx, const struct wg_config *previous, const struct wg_config *next);
    /* Paging (alarm/engine.h): `user` was notified of the alarm now; their
     * phones are told at once, before the journal. */
    void (*paged)(void *ctx, const char *alarm_id, const char *user, int64_t ts_ms);
    /* Who is on duty, what they cover, or a phone's connection changed. */
    void (*staff_changed)(void *ctx);
    /* The core stops: the drivers are stopped and what was held is
     * committed (as far as storage allows); the journal is still open. */
    void (*stopping)(void *ctx);
};

#endif
