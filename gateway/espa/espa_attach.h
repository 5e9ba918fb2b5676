/* The ESPA 4.4.4 output attached to the core (core/attach.h), the way the
 * uplink is: when a person with a pager (staff.people[].pager) is paged
 * about an alarm, a call with the alarm's room, bed and kind in words goes
 * to their call number, its priority and beep coded from the alarm's
 * priority (espa.priority_map). The line runs on its own thread
 * (espa_line.h); the core only queues. A reload that changes espa: starts
 * a new line (the calls still queued move over); one that removes it stops
 * the line. */
#ifndef WG_ESPA_ATTACH_H
#define WG_ESPA_ATTACH_H

#include <stdio.h>

#include "core/core.h"

struct wg_espa_attachment;

/* Attaches to the core; the line starts at once when the config has espa:.
 * NULL when out of memory or the core has no room (logged). Free it after
 * core_free. */
struct wg_espa_attachment *espa_attach(struct wg_core *core);
void espa_attachment_free(struct wg_espa_attachment *attachment);
/* Its figures in the Prometheus text format (for /metrics; core thread).
 * `ctx` is the attachment; nothing is written without one. */
void espa_write_metrics(FILE *out, void *ctx);
/* Whether two configs' espa: sections say the same (a reload keeps the line). */
bool espa_same_settings(const struct wg_config *a, const struct wg_config *b);

#endif
