/* The monthly report (issue 17, docs/api.md "The monthly report"): what a
 * facility answers to inspectors and sends to the district for a month,
 * worked out from the journal on a read-only connection (a query worker):
 *   - calls by hour of day (local time);
 *   - the response times of calls, split into acknowledge, attend and reset:
 *     how many, p50 and p90, and how many fell in each band;
 *   - alarms by GB 38600 risk;
 *   - bed exits per bed, and the nuisance ones (the resident was back in bed
 *     before anyone came);
 *   - device faults (technical alarms) and how long each stayed open;
 *   - rounds done against rounds planned, room by room;
 *   - device tests done against tests due (each device a test covers, once
 *     a week: JGJ/T 484).
 * Only alarms raised in the month count; their later changes are followed
 * to the month's end. */
#ifndef WG_MONTHLY_H
#define WG_MONTHLY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_read.h"

#define WG_MONTHLY_SCHEMA "wardgate/monthly_report/1"

/* The first moment of `month` (1-12; 13 is January of the next year) of
 * `year`, in local time (the daemon's TZ is the site's zone). */
int64_t monthly_start_ms(int year, int month);
/* The month before the one holding now_ms, local time. */
void monthly_previous(int64_t now_ms, int *year, int *month);

/* The report of from_ms <= t < to_ms for the `month` ("2026-11") named in
 * it. `testable` is the list of devices a test covers ([{id, ...}], as the
 * test report has it; borrowed). 0 with *report set, or -1 with the reason. */
int monthly_compute(struct wg_store_reader *reader, const char *month, int64_t from_ms,
                    int64_t to_ms, const json_t *testable, json_t **report, char *err,
                    size_t err_len);

#endif
