/* The core loop: one poll(2) over the driver queue, the signals, the
 * store writer's hand-back and every attachment's descriptors (attach.h:
 * the web API, the uplink, the query workers), then the timers; signals
 * (reload, stop, the test hooks) and the loop's longest iteration. */
#include "core/core_private.h"

/* Test hooks (WARDGATE_TEST_HOOKS=1 only; docs/architecture.md): SIGUSR1
 * freezes the web thread at its next turn, SIGUSR2 the core thread here,
 * each until the process ends, so that tests can see the watchdog react to a
 * wedged thread. Without test hooks both signals are ignored. */
static void test_hook(struct wg_core *core, int signo)
{
    if (!core->test_hooks) {
        wg_info("signal %s ignored (it is a test hook; WARDGATE_TEST_HOOKS is not set)",
                strsignal(signo));
        return;
    }
    if (signo == SIGUSR2) {
        wg_warn("test hook: SIGUSR2: the core thread stops here until the process ends");
        for (;;)
            pause(); /* every signal is blocked (read through signal_fd) or fatal */
    }
    for (size_t i = 0; i < core->supervised_count; i++)
        if (strcmp(core->supervised[i]->name, "web") == 0) {
            wg_warn("test hook: SIGUSR1: the web thread is asked to stop until the process ends");
            liveness_request_freeze(core->supervised[i]);
            return;
        }
    wg_warn("test hook: SIGUSR1: there is no web thread to stop");
}

static void handle_signals(struct wg_core *core, int signal_fd)
{
    struct signalfd_siginfo info;
    while (read(signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        switch (info.ssi_signo) {
        case SIGHUP:
            core_reload(core);
            break;
        case SIGTERM:
        case SIGINT:
            wg_notice("signal %s: shutting down", strsignal((int)info.ssi_signo));
            core->stop_requested = true;
            break;
        case SIGUSR1:
        case SIGUSR2:
            test_hook(core, (int)info.ssi_signo);
            break;
        default:
            break;
        }
    }
}

int core_attach(struct wg_core *core, const struct wg_core_attachment *attachment)
{
    if (core->attachment_count == MAX_ATTACHMENTS)
        return -1;
    core->attachments[core->attachment_count++] = *attachment;
    return 0;
}

int core_add_listener(struct wg_core *core, wg_event_listener listener, void *ctx)
{
    return core_attach(core, &(struct wg_core_attachment){.committed = listener, .ctx = ctx});
}

int core_add_unjournaled_listener(struct wg_core *core, wg_event_listener listener, void *ctx)
{
    return core_attach(core, &(struct wg_core_attachment){.unjournaled = listener, .ctx = ctx});
}

static size_t source_fd(void *ctx, int *fds, size_t max)
{
    const struct extra_source *source = ctx;
    if (max == 0)
        return 0;
    fds[0] = source->fd;
    return 1;
}

static void source_ready(void *ctx, int fd)
{
    (void)fd;
    const struct extra_source *source = ctx;
    source->ready(source->ctx);
}

int core_add_source(struct wg_core *core, int fd, void (*ready)(void *ctx), void *ctx)
{
    if (core->source_count == MAX_SOURCES)
        return -1;
    struct extra_source *source = &core->sources[core->source_count];
    *source = (struct extra_source){fd, ready, ctx};
    if (core_attach(core, &(struct wg_core_attachment){
                              .ctx = source, .fds = source_fd, .ready = source_ready}) != 0)
        return -1;
    core->source_count++;
    return 0;
}

/* The loop's longest iteration: since start, and per 10 s window for "the
 * last minute" (measured on the real clock: it is about this machine). */
static void note_iteration(struct wg_core *core, int64_t took_us)
{
    int64_t now_ms = core_real_us() / 1000;
    if (now_ms - core->loop_window_start_ms >= LOOP_WINDOW_MS) {
        core->loop_window = (core->loop_window + 1) % LOOP_WINDOWS;
        core->loop_window_max_us[core->loop_window] = 0;
        core->loop_window_start_ms = now_ms;
    }
    if (took_us > core->loop_max_us)
        core->loop_max_us = took_us;
    if (took_us > core->loop_window_max_us[core->loop_window])
        core->loop_window_max_us[core->loop_window] = took_us;
}

/* One poll(2) for the queue, the signals, the writer and every attachment's
 * descriptors; what is readable is handled, then the timers. */
int core_run(struct wg_core *core, int signal_fd)
{
    enum { QUEUE_FD, SIGNAL_FD, JOURNAL_FD, CORE_FDS };
    struct pollfd fds[CORE_FDS + MAX_ATTACHMENTS * WG_ATTACH_MAX_FDS];
    size_t owner[MAX_ATTACHMENTS * WG_ATTACH_MAX_FDS]; /* the attachment of fds[CORE_FDS + i] */
    while (!core->stop_requested) {
        fds[QUEUE_FD] = (struct pollfd){.fd = queue_fd(core->queue), .events = POLLIN};
        fds[SIGNAL_FD] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
        fds[JOURNAL_FD] = (struct pollfd){.fd = journal_fd(core->journal), .events = POLLIN};
        size_t watched = 0;
        for (size_t a = 0; a < core->attachment_count; a++) {
            const struct wg_core_attachment *attachment = &core->attachments[a];
            if (!attachment->fds)
                continue;
            int theirs[WG_ATTACH_MAX_FDS];
            size_t count = attachment->fds(attachment->ctx, theirs, WG_ATTACH_MAX_FDS);
            for (size_t i = 0; i < count && i < WG_ATTACH_MAX_FDS; i++) {
                owner[watched] = a;
                fds[CORE_FDS + watched++] = (struct pollfd){.fd = theirs[i], .events = POLLIN};
            }
        }
        int ready = poll(fds, CORE_FDS + watched, core_next_timer_in_ms(core));
        if (ready < 0 && errno != EINTR) {
            wg_crit("poll: %s", strerror(errno));
            return -1;
        }
        int64_t started = core_real_us();
        if (ready > 0 && (fds[QUEUE_FD].revents & POLLIN))
            core_process(core);
        if (ready > 0 && (fds[JOURNAL_FD].revents & POLLIN))
            journal_process(core->journal);
        if (ready > 0 && signal_fd >= 0 && (fds[SIGNAL_FD].revents & POLLIN))
            handle_signals(core, signal_fd);
        for (size_t i = 0; ready > 0 && i < watched; i++)
            if ((fds[CORE_FDS + i].revents & POLLIN) && owner[i] < core->attachment_count &&
                core->attachments[owner[i]].ready)
                core->attachments[owner[i]].ready(core->attachments[owner[i]].ctx,
                                                  fds[CORE_FDS + i].fd);
        core_run_timers(core);
        note_iteration(core, core_real_us() - started);
    }
    service_stopping();
    return 0;
}
