/* libFuzzer target: what a display sends over its WebSocket (ws_message.c),
 * a text frame of up to 1 KiB as the web thread assembles it (not
 * NUL-terminated). Oracle: an accepted message has an ack's fields within
 * their sizes, and parsing is deterministic. */
#include "fuzz_util.h"
#include "web/ws_message.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024) /* the web thread closes a client whose frame is larger */
        return 0;
    char *frame = malloc(size ? size : 1);
    if (!frame)
        abort();
    memcpy(frame, data, size);
    struct ws_ack ack, again;
    bool accepted = ws_parse_ack(frame, size, &ack);
    FUZZ_ASSERT(ws_parse_ack(frame, size, &again) == accepted);
    if (accepted) {
        FUZZ_ASSERT(strlen(ack.alarm) < sizeof ack.alarm);
        FUZZ_ASSERT(strlen(ack.csrf) < sizeof ack.csrf);
        FUZZ_ASSERT(strcmp(ack.alarm, again.alarm) == 0 && ack.ref == again.ref);
    }
    free(frame);
    return 0;
}
