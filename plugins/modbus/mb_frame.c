/* Modbus TCP frames: MBAP header and PDU, encoded and checked by hand; see
 * mb_frame.h. */
#include "mb_frame.h"

#include <stdio.h>
#include <string.h>

static void put16(uint8_t *at, uint16_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)(value & 0xff);
}

static uint16_t get16(const uint8_t *at)
{
    return (uint16_t)((at[0] << 8) | at[1]);
}

/* The header for a PDU of `pdu_size` bytes; returns the frame's size. */
static size_t put_header(const struct mb_request *request, size_t pdu_size, uint8_t *out)
{
    put16(out, request->transaction);
    put16(out + 2, 0);
    put16(out + 4, (uint16_t)(pdu_size + 1));
    out[6] = request->unit;
    return MB_FRAME_HEADER + pdu_size;
}

size_t mb_frame_read_request(const struct mb_request *request, uint8_t *out)
{
    out[7] = request->function;
    put16(out + 8, request->address);
    put16(out + 10, request->count);
    return put_header(request, 5, out);
}

size_t mb_frame_write_request(const struct mb_request *request, const uint8_t *bits,
                              const uint16_t *registers, uint8_t *out)
{
    uint8_t *pdu = out + MB_FRAME_HEADER;
    pdu[0] = request->function;
    put16(pdu + 1, request->address);
    switch (request->function) {
    case 5:
        put16(pdu + 3, bits[0] ? 0xff00 : 0x0000);
        return put_header(request, 5, out);
    case 6:
        put16(pdu + 3, registers[0]);
        return put_header(request, 5, out);
    case 15: {
        if (request->count == 0 || request->count > 1968)
            return 0;
        uint8_t bytes = (uint8_t)((request->count + 7) / 8);
        put16(pdu + 3, request->count);
        pdu[5] = bytes;
        memset(pdu + 6, 0, bytes);
        for (unsigned i = 0; i < request->count; i++)
            if (bits[i])
                pdu[6 + i / 8] |= (uint8_t)(1u << (i % 8));
        return put_header(request, 6u + bytes, out);
    }
    case 16: {
        if (request->count == 0 || request->count > 123)
            return 0;
        put16(pdu + 3, request->count);
        pdu[5] = (uint8_t)(2 * request->count);
        for (unsigned i = 0; i < request->count; i++)
            put16(pdu + 6 + 2 * i, registers[i]);
        return put_header(request, 6u + 2u * request->count, out);
    }
    default:
        return 0;
    }
}

int mb_frame_complete(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    uint16_t length = get16(data + 4);
    if (get16(data + 2) != 0 || length < 2 || length > MB_FRAME_MAX_LEN)
        return -1;
    size_t total = 6u + length;
    return size >= total ? (int)total : 0;
}

uint16_t mb_frame_transaction(const uint8_t *frame)
{
    return get16(frame);
}

uint8_t mb_frame_unit(const uint8_t *frame)
{
    return frame[6];
}

uint8_t mb_frame_function(const uint8_t *frame)
{
    return frame[7];
}

static enum mb_reply_kind bad(char *detail, size_t detail_size, const char *what, unsigned got,
                              unsigned expected)
{
    snprintf(detail, detail_size, "bad reply: %s %u, expected %u", what, got, expected);
    return MB_REPLY_BAD;
}

enum mb_reply_kind mb_frame_parse_reply(const struct mb_request *request, const uint8_t *frame,
                                        size_t size, uint16_t *registers, uint8_t *bits,
                                        int *exception, char *detail, size_t detail_size)
{
    detail[0] = '\0';
    *exception = 0;
    uint16_t transaction = mb_frame_transaction(frame);
    uint8_t unit = mb_frame_unit(frame), function = mb_frame_function(frame);
    if (transaction != request->transaction) {
        snprintf(detail, detail_size, "a reply to another request (transaction id mismatch)");
        return MB_REPLY_OTHER;
    }
    if (unit != request->unit) {
        snprintf(detail, detail_size, "a reply from unit %u to a request to unit %u", unit,
                 request->unit);
        return MB_REPLY_OTHER;
    }
    if ((function & 0x7f) != request->function) {
        snprintf(detail, detail_size, "a reply of function %u to a request of function %u",
                 function & 0x7f, request->function);
        return MB_REPLY_OTHER;
    }
    const uint8_t *pdu = frame + MB_FRAME_HEADER;
    size_t pdu_size = size - MB_FRAME_HEADER;
    if (function & 0x80) {
        if (pdu_size != 2)
            return bad(detail, detail_size, "exception frame of", (unsigned)pdu_size, 2);
        *exception = pdu[1];
        return MB_REPLY_EXCEPTION;
    }
    switch (function) {
    case 1:
    case 2:
    case 3:
    case 4: {
        bool words = function >= 3;
        unsigned expected = words ? 2u * request->count : (request->count + 7u) / 8u;
        if (pdu_size < 2)
            return bad(detail, detail_size, "PDU of", (unsigned)pdu_size, 2 + expected);
        if (pdu[1] != expected)
            return bad(detail, detail_size, "byte count", pdu[1], expected);
        if (pdu_size != 2 + expected)
            return bad(detail, detail_size, "PDU of", (unsigned)pdu_size, 2 + expected);
        for (unsigned i = 0; i < request->count; i++) {
            if (words)
                registers[i] = get16(pdu + 2 + 2 * i);
            else
                bits[i] = (uint8_t)((pdu[2 + i / 8] >> (i % 8)) & 1u);
        }
        return MB_REPLY_OK;
    }
    case 5:
    case 6:
    case 15:
    case 16:
        if (pdu_size != 5)
            return bad(detail, detail_size, "PDU of", (unsigned)pdu_size, 5);
        if (get16(pdu + 1) != request->address)
            return bad(detail, detail_size, "echoed address", get16(pdu + 1), request->address);
        if ((function == 15 || function == 16) && get16(pdu + 3) != request->count)
            return bad(detail, detail_size, "echoed count", get16(pdu + 3), request->count);
        return MB_REPLY_OK;
    default:
        snprintf(detail, detail_size, "bad reply: function %u", function);
        return MB_REPLY_BAD;
    }
}

const char *mb_exception_name(int code)
{
    switch (code) {
    case 1:
        return "illegal function";
    case 2:
        return "illegal data address";
    case 3:
        return "illegal data value";
    case 4:
        return "slave device failure";
    case 5:
        return "acknowledge";
    case 6:
        return "slave device busy";
    case 8:
        return "memory parity error";
    case 10:
        return "gateway path unavailable";
    case 11:
        return "gateway target failed to respond";
    default:
        return "unknown exception";
    }
}
