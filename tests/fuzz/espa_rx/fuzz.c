/* libFuzzer target: the ESPA 4.4.4 receiver (gateway/espa/espa.c), as the
 * line thread uses it on whatever the paging system sends: bytes fed one at
 * a time into espa_rx_feed, each complete block parsed with
 * espa_parse_block. Oracles: a block's body never exceeds ESPA_BLOCK_MAX;
 * a parsed block's records lie inside the body; and a block this target
 * builds by the book from the input (a call: header 1, records 1 and 2,
 * with its BCC) is always received whole with a good BCC and parsed back to
 * the same records. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "espa/espa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_parsed(const uint8_t *body, size_t len)
{
    struct espa_block block;
    if (espa_parse_block(body, len, &block) != 0)
        return;
    if (block.record_count > ESPA_RECORD_MAX)
        abort();
    for (size_t i = 0; i < block.record_count; i++)
        if (block.records[i].data < body ||
            block.records[i].data + block.records[i].len > body + len)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct espa_rx rx;
    espa_rx_reset(&rx);
    for (size_t i = 0; i < size; i++) {
        enum espa_rx_result result = espa_rx_feed(&rx, data[i]);
        if (rx.len > ESPA_BLOCK_MAX)
            abort();
        if (result == ESPA_RX_BLOCK)
            check_parsed(rx.body, rx.len);
    }
    /* A call built by the book from the input's digits is received whole. */
    struct espa_call call = {.priority = '1', .beep = '1'};
    size_t n = 0;
    for (size_t i = 0; i < size && n < 16; i++)
        call.number[n++] = (char)('0' + data[i] % 10);
    if (n == 0)
        call.number[n++] = '1';
    call.number[n] = '\0';
    for (size_t i = 0; i < size && i < 16; i++)
        call.text[i] = (char)(' ' + data[i] % 90); /* printable, never a control byte */
    uint8_t frame[ESPA_BLOCK_MAX + 8];
    size_t len = espa_call_block(&call, frame, sizeof frame);
    if (len == 0)
        return 0;
    espa_rx_reset(&rx);
    enum espa_rx_result last = ESPA_RX_MORE;
    for (size_t i = 0; i < len; i++)
        last = espa_rx_feed(&rx, frame[i]);
    if (last != ESPA_RX_BLOCK)
        abort();
    struct espa_block block;
    if (espa_parse_block(rx.body, rx.len, &block) != 0 || block.header != '1')
        abort();
    bool number_found = false;
    for (size_t i = 0; i < block.record_count; i++)
        if (block.records[i].id == '1' && block.records[i].len == n &&
            memcmp(block.records[i].data, call.number, n) == 0)
            number_found = true;
    if (!number_found)
        abort();
    return 0;
}
