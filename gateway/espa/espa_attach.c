/* The ESPA output as an attachment of the core; see espa_attach.h. Runs on
 * the core thread: it looks the person and the alarm up, builds the call
 * and queues it on the line, whose thread does the rest. */
#include "espa/espa_attach.h"

#include <stdlib.h>
#include <string.h>

#include "alarm/alarm.h"
#include "common/log.h"
#include "espa/espa_line.h"

struct wg_espa_attachment {
    struct wg_core *core;
    struct espa_line *line; /* NULL without espa: */
    /* What earlier lines (replaced by reloads) counted, so /metrics keeps rising. */
    struct espa_line_counters before;
    uint64_t unknown; /* pages about an alarm no longer active: nothing sent */
    int reported;     /* what the wall was told of the line: -1 nothing yet, 0 down, 1 up */
};

#define ESPA_FAULT_KIND "pager_line_down"

bool espa_same_settings(const struct wg_config *a, const struct wg_config *b)
{
    const struct wg_espa *x = &a->espa, *y = &b->espa;
    if (x->enabled != y->enabled)
        return false;
    if (!x->enabled)
        return true;
    return strcmp(x->device, y->device) == 0 && x->baud == y->baud &&
           x->data_bits == y->data_bits && x->parity == y->parity && x->stop_bits == y->stop_bits &&
           x->address == y->address && x->own_address == y->own_address &&
           x->response_ms == y->response_ms && x->retries == y->retries && x->poll_s == y->poll_s;
}

static void start_line(struct wg_espa_attachment *espa, const struct wg_config *config)
{
    if (!config->espa.enabled || espa->line)
        return;
    espa->line = espa_line_start(&config->espa);
    if (espa->line)
        wg_notice("espa: paging system output on %s (address %c)", config->espa.device,
                  config->espa.address);
}

/* Stops the line; its queued calls are returned in `left` (count). */
static size_t stop_line(struct wg_espa_attachment *espa, struct espa_call *left, size_t max)
{
    if (!espa->line)
        return 0;
    struct espa_line_counters last;
    espa_line_counters(espa->line, &last);
    espa->before.sent += last.sent;
    espa->before.failed += last.failed;
    espa->before.dropped += last.dropped;
    espa->before.retries += last.retries;
    espa->before.garbage += last.garbage;
    size_t kept = espa_line_stop(espa->line, left, max);
    espa->line = NULL;
    return kept;
}

/* ---- the attachment's callbacks (core thread) ---- */

static void on_paged(void *ctx, const char *alarm_id, const char *user, int64_t ts_ms)
{
    (void)ts_ms;
    struct wg_espa_attachment *espa = ctx;
    if (!espa->line)
        return;
    const struct wg_config *config = core_config(espa->core);
    const struct wg_staff_member *member = NULL;
    for (size_t i = 0; i < config->staff.people_count && !member; i++)
        if (strcmp(config->staff.people[i].user, user) == 0)
            member = &config->staff.people[i];
    if (!member || !member->pager)
        return; /* no pager: their phone only */
    const struct wg_alarm *alarm = core_find_alarm(espa->core, alarm_id);
    if (!alarm) {
        espa->unknown++;
        wg_warn("espa: %s was paged about alarm %s, which is not active; no call to %s", user,
                alarm_id, member->pager);
        return;
    }
    struct espa_call call = {.call_type = config->espa.call_type,
                             .transmissions = config->espa.transmissions};
    snprintf(call.number, sizeof call.number, "%s", member->pager);
    int priority = alarm->priority;
    if (priority < WG_PRIO_NORMAL || priority > WG_PRIO_FIRE)
        priority = WG_PRIO_NORMAL; /* not paged today; coded as a normal call if ever */
    call.priority = config->espa.coding[priority].priority;
    call.beep = config->espa.coding[priority].beep;
    if (espa_display_text(config->espa.encoding, alarm->room, alarm->bed, alarm->place, alarm->kind,
                          call.text, sizeof call.text) != 0)
        wg_err("espa: cannot encode text in %s (iconv); the call to %s has no text",
               config->espa.encoding, call.number);
    espa_line_push(espa->line, &call);
}

/* Every loop turn: a paging system that stopped answering is a technical
 * alarm on the wall (it ends when it answers again, or espa: is removed). */
static int64_t on_tick(void *ctx, int64_t now_mono_ms)
{
    (void)now_mono_ms;
    struct wg_espa_attachment *espa = ctx;
    struct espa_line_counters now = {0};
    if (espa->line)
        espa_line_counters(espa->line, &now);
    int state = !espa->line ? 1 : now.known ? (int)now.up : espa->reported;
    if (state != espa->reported && state >= 0) {
        const struct wg_config *config = core_config(espa->core);
        const char *device = config->espa.enabled ? config->espa.device : "";
        char detail[128];
        snprintf(detail, sizeof detail, "the paging system on %s does not answer", device);
        core_site_fault(espa->core, ESPA_FAULT_KIND, device, state == 0, detail);
        espa->reported = state;
    }
    return 1000;
}

static void on_reloaded(void *ctx, const struct wg_config *previous, const struct wg_config *next)
{
    struct wg_espa_attachment *espa = ctx;
    if (espa_same_settings(previous, next))
        return; /* the texts, codes and pagers are read from the running config per call */
    struct espa_call left[ESPA_QUEUE_MAX];
    size_t kept = stop_line(espa, left, ESPA_QUEUE_MAX);
    if (next->espa.enabled)
        wg_notice("reload: espa settings changed; restarting the line");
    else if (previous->espa.enabled)
        wg_notice("reload: espa: removed; the line is closed%s",
                  kept ? " and its calls dropped" : "");
    start_line(espa, next);
    for (size_t i = 0; espa->line && i < kept; i++)
        espa_line_push(espa->line, &left[i]);
}

static void on_stopping(void *ctx)
{
    struct wg_espa_attachment *espa = ctx;
    struct espa_call left[1];
    stop_line(espa, left, 0);
}

struct wg_espa_attachment *espa_attach(struct wg_core *core)
{
    struct wg_espa_attachment *espa = calloc(1, sizeof *espa);
    if (!espa) {
        wg_crit("espa: out of memory; not attached");
        return NULL;
    }
    espa->core = core;
    espa->reported = -1;
    struct wg_core_attachment attachment = {.name = "espa",
                                            .tick = on_tick,
                                            .ctx = espa,
                                            .paged = on_paged,
                                            .reloaded = on_reloaded,
                                            .stopping = on_stopping};
    if (core_attach(core, &attachment) != 0) {
        wg_crit("espa: the core has no room for another attachment; not attached");
        free(espa);
        return NULL;
    }
    start_line(espa, core_config(core));
    return espa;
}

void espa_attachment_free(struct wg_espa_attachment *attachment)
{
    if (!attachment)
        return;
    on_stopping(attachment); /* when the core never ran its stop */
    free(attachment);
}

void espa_write_metrics(FILE *out, void *ctx)
{
    struct wg_espa_attachment *espa = ctx;
    if (!espa)
        return;
    struct espa_line_counters now = {0};
    if (espa->line)
        espa_line_counters(espa->line, &now);
    const struct {
        const char *name, *help;
        uint64_t value;
    } counters[] = {
        {"wardgate_espa_calls_sent_total", "ESPA calls the paging system acknowledged",
         espa->before.sent + now.sent},
        {"wardgate_espa_calls_failed_total",
         "ESPA calls given up after the retries (NAK or no answer)",
         espa->before.failed + now.failed},
        {"wardgate_espa_calls_dropped_total", "ESPA calls dropped from the full queue",
         espa->before.dropped + now.dropped},
        {"wardgate_espa_retries_total", "ESPA selections and blocks sent again",
         espa->before.retries + now.retries},
        {"wardgate_espa_garbage_bytes_total", "bytes from the ESPA line that were not expected",
         espa->before.garbage + now.garbage},
    };
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counters[i].name,
                counters[i].help, counters[i].name, counters[i].name,
                (unsigned long long)counters[i].value);
    fprintf(out,
            "# HELP wardgate_espa_line_up 1 while the paging system answers (0 also without "
            "espa:)\n# TYPE wardgate_espa_line_up gauge\nwardgate_espa_line_up %d\n",
            espa->line && now.up);
    fprintf(out,
            "# HELP wardgate_espa_queue_depth ESPA calls waiting for the line\n"
            "# TYPE wardgate_espa_queue_depth gauge\nwardgate_espa_queue_depth %zu\n",
            now.queued);
}
