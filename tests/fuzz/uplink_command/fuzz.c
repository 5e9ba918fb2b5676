/* libFuzzer target: a downlink command from the district platform
 * (uplink_command.c), and its RFC 3339 times.
 *
 * The whole input is parsed as a command (as it arrives from the broker, not
 * NUL-terminated), then as an RFC 3339 time (a heap string of exactly its
 * size). Oracles: an accepted command keeps the limits uplink_command.h
 * promises; an accepted time formats back to a text that parses to the
 * same instant. The allow-list is every command, or for some inputs one
 * picked by a byte of the input. */
#include "common/clock.h"
#include "fuzz_util.h"
#include "uplink/uplink_command.h"

#define NOW_MS     1714564800250LL   /* 2024-05-01T12:00:00.250Z */
#define YEAR_10000 253402300800000LL /* the first instant RFC 3339's four digits cannot write */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_command(const uint8_t *data, size_t size)
{
    /* A copy of exactly the input, so that a read past it is caught. */
    char *payload = malloc(size ? size : 1);
    if (!payload)
        abort();
    memcpy(payload, data, size);
    struct wg_command command;
    char why[256];
    /* Every command allowed, but for a quarter of the inputs (by length) a byte
     * of the middle picks the allow-list (data[0] is nearly always '{'). */
    unsigned allowed =
        size % 4 == 3 ? data[size / 2] & WG_COMMANDS_READ_ONLY : WG_COMMANDS_READ_ONLY;
    int rc = uplink_command_parse(payload, size, allowed, NOW_MS, &command, why, sizeof why);
    FUZZ_ASSERT(strlen(command.request) < sizeof command.request);
    if (rc == 0) {
        FUZZ_ASSERT(command.request[0]);
        FUZZ_ASSERT(command.kind < WG_COMMAND_KIND_COUNT);
        FUZZ_ASSERT(allowed & WG_COMMAND_BIT(command.kind));
        if (command.kind == WG_COMMAND_ALARM_HISTORY || command.kind == WG_COMMAND_RESPONSE_TIMES) {
            FUZZ_ASSERT(command.from_ms < command.to_ms);
            FUZZ_ASSERT(command.to_ms - command.from_ms <= WG_COMMAND_MAX_RANGE_MS);
        }
        if (command.kind == WG_COMMAND_ALARM_HISTORY)
            FUZZ_ASSERT(command.limit >= 1 && command.limit <= WG_COMMAND_HISTORY_LIMIT);
    } else {
        FUZZ_ASSERT(rc == -1 && why[0]);
    }
    free(payload);
}

static void check_time(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    int64_t ms = uplink_parse_rfc3339(text);
    FUZZ_ASSERT(ms >= -1);
    if (ms >= 0 && ms < YEAR_10000) {
        char again[64];
        clock_format_rfc3339(ms, false, again, sizeof again);
        FUZZ_ASSERT(uplink_parse_rfc3339(again) == ms);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > WG_COMMAND_MAX_BYTES + 16)
        return 0;
    check_command(data, size);
    check_time(data, size);
    return 0;
}
