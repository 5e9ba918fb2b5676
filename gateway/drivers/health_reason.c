/* The table from drivers' health texts to reason codes; see health_reason.h. */
#include "drivers/health_reason.h"

#include <stddef.h>
#include <string.h>

/* In the order of enum wg_health_reason. */
static const char *const codes[WG_REASON_COUNT] = {
    [WG_REASON_OTHER] = "other",
    [WG_REASON_ANSWERING] = "answering",
    [WG_REASON_TIMEOUT] = "timeout",
    [WG_REASON_CRC] = "crc",
    [WG_REASON_EXCEPTION] = "exception",
    [WG_REASON_BAD_REPLY] = "bad_reply",
    [WG_REASON_CONNECTION] = "connection",
    [WG_REASON_CABLE_CUT] = "cable_cut",
    [WG_REASON_SHORT_CIRCUIT] = "short_circuit",
    [WG_REASON_CHIP_MISSING] = "chip_missing",
    [WG_REASON_LINE_BUSY] = "line_busy",
    [WG_REASON_SCRIPTED] = "scripted",
};

/* How today's drivers word them: the text starts with `prefix`, or (when
 * `anywhere`) contains it. First match wins. */
static const struct {
    const char *prefix;
    bool anywhere;
    const char *code;
} texts[] = {
    {"answering", false, "answering"},       /* modbus, sim */
    {"lines requested", false, "answering"}, /* gpio, at start */
    {"chip back", false, "answering"},       /* gpio, the chip came back */
    {"timeout", false, "timeout"},           /* modbus */
    {"crc error", false, "crc"},             /* modbus RTU */
    {"exception ", false, "exception"},      /* modbus: "exception 2 (illegal data address)" */
    {"bad reply", false, "bad_reply"},       /* modbus: "bad reply: <libmodbus>" */
    {"connection", false, "connection"},     /* modbus: "connection: <libmodbus>" */
    {"chip ", false, "chip_missing"},        /* gpio: "chip <name> lost: <errno>" */
    {"scripted", false, "scripted"},         /* sim script step without a reason */
    {"control", false, "scripted"},          /* sim control FIFO without a reason */
    {"cable cut", true, "cable_cut"},        /* sim reasons, line supervision */
    {"wire cut", true, "cable_cut"},
    {"short circuit", true, "short_circuit"},
    {"shorted", true, "short_circuit"},
    {"line busy", true, "line_busy"},
    {"busy", true, "line_busy"},
};

const char *health_reason_code(const char *reason)
{
    if (reason && strncmp(reason, "write: ", 7) == 0)
        reason += 7; /* a failed write's reason, as the modbus driver words it */
    for (size_t i = 0; reason && i < sizeof texts / sizeof texts[0]; i++) {
        size_t length = strlen(texts[i].prefix);
        if (texts[i].anywhere ? strstr(reason, texts[i].prefix) != NULL
                              : strncmp(reason, texts[i].prefix, length) == 0)
            return texts[i].code;
    }
    return "other";
}

bool health_reason_code_known(const char *code)
{
    for (size_t i = 0; code && i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i], code) == 0)
            return true;
    return false;
}

const char *health_reason_name(enum wg_health_reason code)
{
    return (unsigned)code < WG_REASON_COUNT ? codes[code] : codes[WG_REASON_OTHER];
}

enum wg_health_reason health_reason_from_name(const char *name)
{
    for (unsigned i = 0; name && i < WG_REASON_COUNT; i++)
        if (strcmp(codes[i], name) == 0)
            return (enum wg_health_reason)i;
    return WG_REASON_OTHER;
}

enum wg_health_reason health_reason_guess(enum wg_health health, const char *text)
{
    if (!text || !*text)
        return health == WG_HEALTH_ONLINE ? WG_REASON_ANSWERING : WG_REASON_OTHER;
    return health_reason_from_name(health_reason_code(text));
}
