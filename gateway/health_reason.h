/* Device health reason codes (enum wg_health_reason in plugin.h) as the
 * stable names the JSON, the journal and the pages use: "answering",
 * "timeout", "crc", "exception", "bad_reply", "connection", "cable_cut",
 * "short_circuit", "chip_missing", "line_busy", "scripted", "other". */
#ifndef WG_HEALTH_REASON_H
#define WG_HEALTH_REASON_H

#include "plugin.h"

/* The name of a code; "other" for anything out of range. */
const char *health_reason_name(enum wg_health_reason code);
/* The code of a name; WG_REASON_OTHER for an unknown or NULL name. */
enum wg_health_reason health_reason_from_name(const char *name);
/* For drivers that give only a text (plugin ABI 1): the code the text most
 * likely means ("timeout", "crc error", "exception 2", "connect: refused");
 * WG_REASON_OTHER for text it does not recognise; for no text at all,
 * WG_REASON_ANSWERING when online, else WG_REASON_OTHER. */
enum wg_health_reason health_reason_guess(enum wg_health health, const char *text);

#endif
