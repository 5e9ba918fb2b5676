/* Health reason codes and their names; see health_reason.h. */
#include "health_reason.h"

#include <string.h>
#include <strings.h>

static const char *const names[WG_REASON_COUNT] = {
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

const char *health_reason_name(enum wg_health_reason code)
{
    return (unsigned)code < WG_REASON_COUNT ? names[code] : names[WG_REASON_OTHER];
}

enum wg_health_reason health_reason_from_name(const char *name)
{
    for (unsigned i = 0; name && i < WG_REASON_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return (enum wg_health_reason)i;
    return WG_REASON_OTHER;
}

enum wg_health_reason health_reason_guess(enum wg_health health, const char *text)
{
    static const struct {
        const char *word;
        enum wg_health_reason code;
    } words[] = {
        {"timeout", WG_REASON_TIMEOUT},
        {"timed out", WG_REASON_TIMEOUT},
        {"crc", WG_REASON_CRC},
        {"checksum", WG_REASON_CRC},
        {"exception", WG_REASON_EXCEPTION},
        {"bad reply", WG_REASON_BAD_REPLY},
        {"bad_reply", WG_REASON_BAD_REPLY},
        {"garbage", WG_REASON_BAD_REPLY},
        {"connect", WG_REASON_CONNECTION},
        {"refused", WG_REASON_CONNECTION},
        {"cable", WG_REASON_CABLE_CUT},
        {"wire cut", WG_REASON_CABLE_CUT},
        {"short", WG_REASON_SHORT_CIRCUIT},
        {"chip", WG_REASON_CHIP_MISSING},
        {"in use", WG_REASON_LINE_BUSY},
        {"busy", WG_REASON_LINE_BUSY},
        {"scripted", WG_REASON_SCRIPTED},
        {"answering", WG_REASON_ANSWERING},
    };
    if (text && *text) {
        enum wg_health_reason exact = health_reason_from_name(text);
        if (exact != WG_REASON_OTHER || strcmp(text, "other") == 0)
            return exact;
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strcasestr(text, words[i].word))
                return words[i].code;
        return WG_REASON_OTHER;
    }
    return health == WG_HEALTH_ONLINE ? WG_REASON_ANSWERING : WG_REASON_OTHER;
}
