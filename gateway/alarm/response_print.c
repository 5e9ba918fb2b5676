/* The response report as a printed table (per shift, paging to phones, per
 * carer, then the long waits, local time), and `wardgated
 * --response-report`, which opens the database and prints the last days. */
#include "alarm/response_private.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"
#include "store/store_read.h"

#define MS_PER_DAY (24LL * 3600 * 1000)

/* m:ss, or h:mm:ss from an hour on; "-" when there is no value. */
static const char *duration_text(double seconds, char *out, size_t len)
{
    if (seconds < 0) {
        snprintf(out, len, "-");
        return out;
    }
    long long total = (long long)(seconds + 0.5);
    if (total >= 3600)
        snprintf(out, len, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
    else
        snprintf(out, len, "%lld:%02lld", total / 60, total % 60);
    return out;
}

static const char *minute_text(int64_t ms, char *out, size_t len)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm local;
    if (!localtime_r(&seconds, &local) || strftime(out, len, "%Y-%m-%d %H:%M", &local) == 0)
        snprintf(out, len, "?");
    return out;
}

static void print_figures(FILE *out, const char *name, const char *hours,
                          const struct wg_response_figures *f)
{
    char a50[32], a90[32], t50[32], t90[32];
    fprintf(
        out, "%-10s %-11s %6" PRId64 " %6" PRId64 " %8" PRId64 " %8s %8s %10s %10s %6" PRId64 "\n",
        name, hours, f->raised, f->acknowledged, f->attended,
        duration_text(f->ack_p50_s, a50, sizeof a50), duration_text(f->ack_p90_s, a90, sizeof a90),
        duration_text(f->attend_p50_s, t50, sizeof t50),
        duration_text(f->attend_p90_s, t90, sizeof t90), f->long_waits);
}

/* Paging overall, and a line per carer who accepted or was paged. */
static void print_carers(const struct wg_response_report *report, FILE *out)
{
    const struct wg_response_figures *f = &report->overall;
    char a50[32], a90[32], t50[32], t90[32], r50[32], r90[32];
    fprintf(out,
            "\nPaged to phones: %" PRId64 ", accepted %" PRId64
            "; page to accept p50 %s, p90 %s; accept to attend p50 %s, p90 %s.\n",
            f->paged, f->accepted, duration_text(f->accept_p50_s, a50, sizeof a50),
            duration_text(f->accept_p90_s, a90, sizeof a90),
            duration_text(f->accept_attend_p50_s, t50, sizeof t50),
            duration_text(f->accept_attend_p90_s, t90, sizeof t90));
    fprintf(out, "Reset: %" PRId64 "; raise to reset p50 %s, p90 %s.\n", f->reset,
            duration_text(f->reset_p50_s, r50, sizeof r50),
            duration_text(f->reset_p90_s, r90, sizeof r90));
    if (!report->carer_count)
        return;
    fprintf(out, "\nPer carer%s (accept: from their page; attend: from their accept)\n",
            report->carers_truncated ? " (those who accepted most)" : "");
    fprintf(out, "%-16s %-20s %8s %10s %10s %10s %10s %6s %8s %11s %9s\n", "carer", "name",
            "accepted", "accept p50", "accept p90", "attend p50", "attend p90", "paged", "declined",
            "not reached", "timed out");
    for (size_t i = 0; i < report->carer_count; i++) {
        const struct wg_response_carer *c = &report->carers[i];
        fprintf(out,
                "%-16s %-20s %8" PRId64 " %10s %10s %10s %10s %6" PRId64 " %8" PRId64 " %11" PRId64
                " %9" PRId64 "\n",
                c->user, c->name[0] ? c->name : "-", c->accepted,
                duration_text(c->accept_p50_s, a50, sizeof a50),
                duration_text(c->accept_p90_s, a90, sizeof a90),
                duration_text(c->accept_attend_p50_s, t50, sizeof t50),
                duration_text(c->accept_attend_p90_s, t90, sizeof t90), c->paged, c->declined,
                c->not_reached, c->timed_out);
    }
}

int response_report_print(const struct wg_response_report *report, FILE *out)
{
    char from[32], to[32], wait[32];
    fprintf(out, "Response times for calls and alarms raised %s to %s (local time)\n",
            minute_text(report->from_ms, from, sizeof from),
            minute_text(report->to_ms, to, sizeof to));
    fprintf(out, "Priorities counted:");
    for (int p = PRIORITY_LEVELS - 1; p >= 0; p--)
        if (report->priorities & WG_RESPONSE_PRIORITY(p))
            fprintf(out, " %s", response_priority_name(p));
    fprintf(out, ". Percentiles by nearest rank; times in m:ss.\n\n");
    fprintf(out, "%-10s %-11s %6s %6s %8s %8s %8s %10s %10s %6s\n", "shift", "hours", "raised",
            "acked", "attended", "ack p50", "ack p90", "attend p50", "attend p90", "long");
    for (size_t i = 0; i < report->shift_count; i++) {
        const struct wg_response_shift *shift = &report->shifts[i];
        char hours[32];
        snprintf(hours, sizeof hours, "%02d:%02d-%02d:%02d", shift->start_min / 60,
                 shift->start_min % 60, shift->end_min / 60, shift->end_min % 60);
        print_figures(out, shift->name, hours, &shift->figures);
    }
    print_figures(out, "all", "", &report->overall);
    fprintf(out, "\nNot attended: %" PRId64 " reset without attendance, %" PRId64 " still open.\n",
            report->overall.reset_unattended, report->overall.open_unattended);
    if (report->unassigned)
        fprintf(out, "%" PRId64 " alarm(s) raised outside every shift (counted under all).\n",
                report->unassigned);
    if (report->skipped_rows)
        fprintf(out, "%" PRId64 " journal row(s) skipped: body is not an alarm record.\n",
                report->skipped_rows);
    print_carers(report, out);

    fprintf(out,
            "\nLong waits (raise to attend over %s, or never attended and open that long): %" PRId64
            "%s\n",
            duration_text((double)report->long_wait_ms / 1000.0, wait, sizeof wait),
            report->overall.long_waits,
            report->long_waits_truncated ? " (the longest are listed)" : "");
    if (report->long_wait_count)
        fprintf(out, "%-16s %-8s %-8s %-8s %-12s %-9s %8s  %s\n", "raised", "shift", "room", "bed",
                "kind", "priority", "wait", "outcome");
    for (size_t i = 0; i < report->long_wait_count; i++) {
        const struct wg_long_wait *w = &report->long_waits[i];
        char raised[32], waited[32];
        fprintf(out, "%-16s %-8s %-8s %-8s %-12s %-9s %8s  %s\n",
                minute_text(w->raised_ms, raised, sizeof raised),
                w->shift == WG_RESPONSE_NO_SHIFT ? "-" : report->shifts[w->shift].name,
                w->room[0] ? w->room : "-", w->bed[0] ? w->bed : "-", w->kind[0] ? w->kind : "-",
                response_priority_name(w->priority),
                duration_text((double)w->wait_ms / 1000.0, waited, sizeof waited),
                response_outcome_name(w->outcome));
    }
    return ferror(out) ? -1 : 0;
}

int response_report_main(const char *db_path, int days, FILE *out)
{
    struct stat st;
    if (!db_path || stat(db_path, &st) < 0) {
        fprintf(stderr, "wardgated: database %s: %s\n", db_path ? db_path : "(none)",
                db_path ? strerror(errno) : "no path given");
        return 1;
    }
    if (days < 1) {
        fprintf(stderr, "wardgated: --days must be at least 1\n");
        return 1;
    }
    struct wg_store_options options = {.path = db_path};
    enum wg_store_status status;
    char err[512];
    /* Opening the store migrates an older database; the report reads it
     * on a read-only connection, as the daemon does. */
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store) {
        fprintf(stderr, "wardgated: %s\n", err);
        return 1;
    }
    struct wg_store_reader *reader = store_reader_open(db_path, WG_READER_WAIT_MS, err, sizeof err);
    if (!reader) {
        store_close(store);
        fprintf(stderr, "wardgated: %s\n", err);
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t to_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    struct wg_response_report report;
    int rc =
        response_compute(reader, to_ms - days * MS_PER_DAY, to_ms, NULL, &report, err, sizeof err);
    store_reader_close(reader);
    store_close(store);
    if (rc < 0) {
        fprintf(stderr, "wardgated: %s\n", err);
        return 1;
    }
    rc = response_report_print(&report, out);
    response_report_free(&report);
    if (rc < 0 || fflush(out) != 0) {
        fprintf(stderr, "wardgated: cannot print the report: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
