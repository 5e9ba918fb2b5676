/* Device health reasons as stable codes the pages can put into words:
 * answering, timeout, crc, exception, bad_reply, connection, cable_cut,
 * short_circuit, chip_missing, line_busy, scripted, other.
 *
 * Drivers on plugin ABI 2 name the code themselves (enum wg_health_reason in
 * plugin.h) beside a free text; health_reason_name() gives its name. Texts
 * without a code (a failed write's reason, health from ABI 1 drivers) go
 * through the one table here from today's drivers' texts to codes (any other
 * text is `other`). */
#ifndef WG_HEALTH_REASON_H
#define WG_HEALTH_REASON_H

#include <stdbool.h>

#include "drivers/plugin.h"

/* The code for a driver's reason text (of a health report, or of a failed
 * write: "write: timeout"); "other" when none fits (also for NULL). */
const char *health_reason_code(const char *reason);
/* Whether `code` is one of the list above. */
bool health_reason_code_known(const char *code);

/* The name of a code; "other" for anything out of range. */
const char *health_reason_name(enum wg_health_reason code);
/* The code of a name; WG_REASON_OTHER for an unknown or NULL name. */
enum wg_health_reason health_reason_from_name(const char *name);
/* For an ABI 1 driver's health report: the code its text means (the table
 * above); with no text at all, `answering` when online, else `other`. */
enum wg_health_reason health_reason_guess(enum wg_health health, const char *text);

#endif
