/* The uplink as an attachment of the core; see uplink_attach.h. */
#include "uplink/uplink_attach.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "core/attach.h"
#include "uplink/uplink.h"

#define MAX_RETIRING 4    /* clients replaced by reloads, still disconnecting */
#define TICK_MS      1000 /* the client's timer: reconnects, heartbeat, figures */

struct wg_uplink_attachment {
    struct wg_core *core;
    struct wg_query_service *queries;
    struct wg_uplink_views views;
    struct wg_uplink_client *client;                 /* NULL while the uplink is disabled */
    struct wg_uplink_client *retiring[MAX_RETIRING]; /* replaced by a reload, disconnecting */
    bool waiting;        /* the client starts once the one it replaces is gone */
    uint64_t generation; /* tags its outbox deletes: a new client ignores old ones */
    int64_t next_tick_mono_ms;
};

static json_t *host_status(void *ctx)
{
    struct wg_uplink_attachment *uplink = ctx;
    return uplink->views.status(uplink->core);
}

static json_t *host_active_alarms(void *ctx)
{
    struct wg_uplink_attachment *uplink = ctx;
    return uplink->views.active_alarms(uplink->core);
}

static json_t *host_devices(void *ctx)
{
    struct wg_uplink_attachment *uplink = ctx;
    return uplink->views.devices(uplink->core);
}

static void host_delete_outbox(void *ctx, const int64_t *seqs, size_t count)
{
    struct wg_uplink_attachment *uplink = ctx;
    core_outbox_delete(uplink->core, uplink->generation, seqs, count);
}

static void host_outbox_totals(void *ctx, struct wg_outbox_totals *totals)
{
    struct wg_uplink_attachment *uplink = ctx;
    core_outbox_totals(uplink->core, totals);
}

/* Creates the client when the config enables it (and none is running). */
static void open_client(struct wg_uplink_attachment *uplink, const struct wg_config *config)
{
    if (!config->uplink.enabled || uplink->client)
        return;
    struct wg_uplink_host host = {.ctx = uplink,
                                  .queries = uplink->queries,
                                  .status = host_status,
                                  .active_alarms = host_active_alarms,
                                  .devices = host_devices,
                                  .delete_outbox = host_delete_outbox,
                                  .outbox_totals = host_outbox_totals};
    uplink->generation++;
    uplink->client = uplink_new(config, core_store(uplink->core), core_clock(uplink->core), &host);
}

static bool any_retiring(const struct wg_uplink_attachment *uplink)
{
    for (size_t i = 0; i < MAX_RETIRING; i++)
        if (uplink->retiring[i])
            return true;
    return false;
}

/* Moves the replaced clients along; frees those whose disconnect is over
 * (or overdue), then starts the client that replaces them: one connection
 * per client id at a time. */
static void reap_retired(struct wg_uplink_attachment *uplink)
{
    bool left = false;
    for (size_t i = 0; i < MAX_RETIRING; i++) {
        if (!uplink->retiring[i])
            continue;
        if (uplink_retire_step(uplink->retiring[i])) {
            uplink_free(uplink->retiring[i]); /* does not wait: it is retired */
            uplink->retiring[i] = NULL;
        } else {
            left = true;
        }
    }
    if (!left && uplink->waiting) {
        uplink->waiting = false;
        if (uplink->client)
            uplink_start(uplink->client);
    }
}

/* Hands the running client over to the background disconnect. */
static void retire_client(struct wg_uplink_attachment *uplink)
{
    size_t free_slot = MAX_RETIRING;
    for (size_t i = 0; i < MAX_RETIRING && free_slot == MAX_RETIRING; i++)
        if (!uplink->retiring[i])
            free_slot = i;
    if (free_slot == MAX_RETIRING) {
        /* Reloads faster than disconnects: the oldest goes without its goodbye. */
        uplink_free(uplink->retiring[0]);
        memmove(uplink->retiring, uplink->retiring + 1,
                (MAX_RETIRING - 1) * sizeof uplink->retiring[0]);
        free_slot = MAX_RETIRING - 1;
    }
    uplink_retire(uplink->client);
    uplink->retiring[free_slot] = uplink->client;
    uplink->client = NULL;
}

/* ---- the attachment's callbacks ---- */

static void on_after_commits(void *ctx)
{
    struct wg_uplink_attachment *uplink = ctx;
    if (uplink->client)
        uplink_after_commit(uplink->client);
}

static void on_outbox_deleted(void *ctx, uint64_t tag, const int64_t *seqs, size_t count)
{
    struct wg_uplink_attachment *uplink = ctx;
    if (uplink->client && tag == uplink->generation)
        uplink_outbox_deleted(uplink->client, seqs, count);
}

static size_t watched_fds(void *ctx, int *fds, size_t max)
{
    struct wg_uplink_attachment *uplink = ctx;
    size_t count = 0;
    if (uplink->client && count < max)
        fds[count++] = uplink_fd(uplink->client);
    for (size_t i = 0; i < MAX_RETIRING && count < max; i++)
        if (uplink->retiring[i])
            fds[count++] = uplink_fd(uplink->retiring[i]);
    return count;
}

static void on_ready(void *ctx, int fd)
{
    struct wg_uplink_attachment *uplink = ctx;
    if (uplink->client && fd == uplink_fd(uplink->client)) {
        uplink_process(uplink->client);
        return;
    }
    for (size_t i = 0; i < MAX_RETIRING; i++)
        if (uplink->retiring[i] && fd == uplink_fd(uplink->retiring[i]))
            uplink_process(uplink->retiring[i]);
}

static int64_t on_tick(void *ctx, int64_t now_mono_ms)
{
    struct wg_uplink_attachment *uplink = ctx;
    if (any_retiring(uplink))
        reap_retired(uplink);
    if (!uplink->client && !any_retiring(uplink))
        return -1;
    if (now_mono_ms >= uplink->next_tick_mono_ms) {
        if (uplink->client && !uplink->waiting)
            uplink_tick(uplink->client);
        uplink->next_tick_mono_ms += TICK_MS;
        if (uplink->next_tick_mono_ms <= now_mono_ms) /* fell behind: do not catch up */
            uplink->next_tick_mono_ms = now_mono_ms + TICK_MS;
    }
    return uplink->next_tick_mono_ms - now_mono_ms;
}

static void on_reloaded(void *ctx, const struct wg_config *previous, const struct wg_config *next)
{
    struct wg_uplink_attachment *uplink = ctx;
    if (uplink_same_settings(previous, next))
        return;
    if (uplink->client) {
        wg_notice("reload: uplink settings changed; reconnecting with the new ones");
        retire_client(uplink); /* disconnects in the background, calls nothing of the core */
    }
    open_client(uplink, next);
    /* It connects once the client it replaces has said goodbye (same client id). */
    uplink->waiting = any_retiring(uplink);
    if (uplink->client && !uplink->waiting)
        uplink_start(uplink->client);
}

static void on_stopping(void *ctx)
{
    struct wg_uplink_attachment *uplink = ctx;
    uplink_free(uplink->client); /* its last outbox deletes go through the journal */
    uplink->client = NULL;
    for (size_t i = 0; i < MAX_RETIRING; i++) {
        uplink_free(uplink->retiring[i]); /* retired: they do not wait */
        uplink->retiring[i] = NULL;
    }
}

struct wg_uplink_attachment *uplink_attach(struct wg_core *core, struct wg_query_service *queries,
                                           const struct wg_uplink_views *views)
{
    struct wg_uplink_attachment *uplink = calloc(1, sizeof *uplink);
    if (!uplink) {
        wg_crit("uplink: out of memory; not attached");
        return NULL;
    }
    uplink->core = core;
    uplink->queries = queries;
    uplink->views = *views;
    uplink->next_tick_mono_ms = clock_mono_ms(core_clock(core)) + TICK_MS;
    struct wg_core_attachment attachment = {.name = "uplink",
                                            .ctx = uplink,
                                            .after_commits = on_after_commits,
                                            .outbox_deleted = on_outbox_deleted,
                                            .fds = watched_fds,
                                            .ready = on_ready,
                                            .tick = on_tick,
                                            .reloaded = on_reloaded,
                                            .stopping = on_stopping};
    if (core_attach(core, &attachment) != 0) {
        wg_crit("uplink: the core has no room for another attachment; not attached");
        free(uplink);
        return NULL;
    }
    open_client(uplink, core_config(core));
    if (uplink->client)
        uplink_start(uplink->client);
    return uplink;
}

void uplink_attachment_free(struct wg_uplink_attachment *attachment)
{
    if (!attachment)
        return;
    on_stopping(attachment); /* when the core never ran its stop */
    free(attachment);
}

int uplink_attachment_fd(const struct wg_uplink_attachment *attachment)
{
    return attachment && attachment->client ? uplink_fd(attachment->client) : -1;
}
