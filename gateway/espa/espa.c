/* ESPA 4.4.4 framing (espa.h): building a "call to pager" block with its
 * BCC, receiving a block byte by byte, and splitting it into records. Pure:
 * tests/unit/test_espa.c checks it byte for byte. */
#include "espa/espa.h"

#include <string.h>

uint8_t espa_bcc(const uint8_t *data, size_t len)
{
    uint8_t bcc = 0;
    for (size_t i = 0; i < len; i++)
        bcc ^= data[i];
    return bcc;
}

bool espa_call_number_ok(const char *text)
{
    size_t len = text ? strlen(text) : 0;
    return len >= 1 && len <= ESPA_CALL_MAX && strspn(text, "0123456789") == len;
}

static bool digit_or_none(char value)
{
    return value == 0 || (value >= '1' && value <= '9');
}

/* Appends bytes; false when they do not fit. */
static bool put(uint8_t *out, size_t cap, size_t *at, const void *bytes, size_t len)
{
    if (*at + len > cap)
        return false;
    memcpy(out + *at, bytes, len);
    *at += len;
    return true;
}

/* RS (unless first) <id> US <data>. */
static bool put_record(uint8_t *out, size_t cap, size_t *at, bool first, char id, const char *data,
                       size_t len)
{
    uint8_t head[3] = {ESPA_RS, (uint8_t)id, ESPA_US};
    return put(out, cap, at, first ? head + 1 : head, first ? 2 : 3) &&
           put(out, cap, at, data, len);
}

size_t espa_call_block(const struct espa_call *call, uint8_t *out, size_t cap)
{
    if (!call || !espa_call_number_ok(call->number) || !digit_or_none(call->beep) ||
        !digit_or_none(call->call_type) || !digit_or_none(call->transmissions) ||
        !digit_or_none(call->priority))
        return 0;
    size_t text_len = strnlen(call->text, sizeof call->text);
    if (text_len > ESPA_TEXT_MAX)
        return 0;
    for (size_t i = 0; i < text_len; i++)
        if ((uint8_t)call->text[i] < 0x20 || (uint8_t)call->text[i] == 0x7F)
            return 0; /* would break the framing */
    size_t at = 0;
    const uint8_t start[] = {ESPA_SOH, '1', ESPA_STX};
    bool ok = put(out, cap, &at, start, sizeof start) &&
              put_record(out, cap, &at, true, '1', call->number, strlen(call->number));
    if (ok && text_len)
        ok = put_record(out, cap, &at, false, '2', call->text, text_len);
    const struct {
        char id, value;
    } optional[] = {{'3', call->beep},
                    {'4', call->call_type},
                    {'5', call->transmissions},
                    {'6', call->priority}};
    for (size_t i = 0; ok && i < sizeof optional / sizeof optional[0]; i++)
        if (optional[i].value)
            ok = put_record(out, cap, &at, false, optional[i].id, &optional[i].value, 1);
    uint8_t etx = ESPA_ETX;
    if (!ok || !put(out, cap, &at, &etx, 1) || at + 1 > cap)
        return 0;
    out[at] = espa_bcc(out + 1, at - 1); /* after SOH, up to and with ETX */
    return at + 1;
}

/* ---- receiving ---- */

enum { RX_IDLE = 0, RX_BODY, RX_BCC, RX_SKIP };

void espa_rx_reset(struct espa_rx *rx)
{
    rx->state = RX_IDLE;
    rx->len = 0;
    rx->bcc = 0;
}

enum espa_rx_result espa_rx_feed(struct espa_rx *rx, uint8_t byte)
{
    switch (rx->state) {
    case RX_IDLE:
        if (byte == ESPA_SOH) {
            rx->state = RX_BODY;
            rx->len = 0;
            rx->bcc = 0;
        }
        return ESPA_RX_MORE;
    case RX_BODY:
        rx->bcc ^= byte;
        if (byte == ESPA_ETX) {
            rx->state = RX_BCC;
            return ESPA_RX_MORE;
        }
        if (rx->len == sizeof rx->body) {
            rx->state = RX_SKIP; /* until the ETX and its BCC have passed */
            return ESPA_RX_OVERFLOW;
        }
        rx->body[rx->len++] = byte;
        return ESPA_RX_MORE;
    case RX_BCC:
        rx->state = RX_IDLE;
        return byte == rx->bcc ? ESPA_RX_BLOCK : ESPA_RX_BAD_BCC;
    default: /* RX_SKIP */
        if (byte == ESPA_ETX)
            rx->state = RX_IDLE; /* its BCC, if it comes, is skipped as a byte before SOH */
        return ESPA_RX_MORE;
    }
}

int espa_parse_block(const uint8_t *body, size_t len, struct espa_block *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *stx = memchr(body, ESPA_STX, len);
    if (!stx || stx - body != 1)
        return -1;
    out->header = (char)body[0];
    const uint8_t *at = stx + 1, *end = body + len;
    while (at < end) {
        const uint8_t *rs = memchr(at, ESPA_RS, (size_t)(end - at));
        const uint8_t *stop = rs ? rs : end;
        const uint8_t *us = memchr(at, ESPA_US, (size_t)(stop - at));
        if (!us || us - at != 1 || out->record_count == ESPA_RECORD_MAX)
            return -1;
        out->records[out->record_count++] =
            (struct espa_record){.id = (char)at[0], .data = us + 1, .len = (size_t)(stop - us - 1)};
        at = rs ? rs + 1 : end;
    }
    return 0;
}
