/* Device health reasons as stable codes the pages can put into words.
 *
 * Drivers report a device's health with a free text ("timeout", "crc error",
 * "exception 2 (illegal data address)", "chip gpiochip0 lost: No such
 * device"). The core keeps that text for logs and the district, and beside it
 * a code from one fixed list, which the display and the manager UI translate:
 * answering, timeout, crc, exception, bad_reply, connection, cable_cut,
 * short_circuit, chip_missing, line_busy, scripted, other. This file is the
 * one table from today's drivers' texts to those codes (any other text is
 * `other`); a driver that names its code itself (plugin ABI v2) is checked
 * against the same list. */
#ifndef WG_HEALTH_REASON_H
#define WG_HEALTH_REASON_H

#include <stdbool.h>

/* The code for a driver's reason text (of a health report, or of a failed
 * write: "write: timeout"); "other" when none fits (also for NULL). */
const char *health_reason_code(const char *reason);
/* Whether `code` is one of the list above. */
bool health_reason_code_known(const char *code);

#endif
