/* libFuzzer target: the Modbus TCP frame codec (plugins/modbus/mb_frame.c),
 * as the reactor uses it on whatever a device sends.
 *
 * Input: 7 bytes of a request (transaction id, unit, a byte choosing the
 * function, start address, a byte for the count), then the bytes received.
 * The stream is cut into frames with mb_frame_complete and each is checked
 * against the request, as mb_endpoint.c does. Oracles: a frame is never
 * longer than what was received nor than Modbus TCP allows; a reply taken as
 * this request's answer has its transaction id, unit and function; a reply
 * built from the request by the book is always taken, with its values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mb_frame.h"

static const uint8_t functions[] = {1, 2, 3, 4, 5, 6, 15, 16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 7)
        return 0;
    struct mb_request request = {.transaction = (uint16_t)(data[0] << 8 | data[1]),
                                 .unit = data[2],
                                 .function = functions[data[3] % sizeof functions],
                                 .address = (uint16_t)(data[4] << 8 | data[5])};
    unsigned max = request.function <= 2 ? 2000 : request.function <= 4 ? 125 : 1;
    request.count = (uint16_t)(1 + data[6] % max);
    if (request.function == 15)
        request.count = (uint16_t)(1 + data[6] % 64);
    if (request.function == 16)
        request.count = (uint16_t)(1 + data[6] % 123);
    data += 7;
    size -= 7;

    uint16_t registers[125];
    uint8_t bits[2000];
    char detail[96];
    int exception;
    size_t at = 0;
    while (at < size) {
        int frame = mb_frame_complete(data + at, size - at);
        if (frame <= 0)
            break;
        if ((size_t)frame > size - at || frame > MB_FRAME_MAX || frame < 8)
            abort();
        enum mb_reply_kind kind = mb_frame_parse_reply(
            &request, data + at, (size_t)frame, registers, bits, &exception, detail, sizeof detail);
        if ((kind == MB_REPLY_OK || kind == MB_REPLY_EXCEPTION) &&
            (mb_frame_transaction(data + at) != request.transaction ||
             mb_frame_unit(data + at) != request.unit ||
             (mb_frame_function(data + at) & 0x7f) != request.function))
            abort();
        at += (size_t)frame;
    }

    /* A reply by the book is always taken, values in order. */
    if (request.function <= 4) {
        uint8_t reply[MB_FRAME_MAX];
        bool words = request.function >= 3;
        size_t bytes = words ? 2u * request.count : (request.count + 7u) / 8u;
        if (bytes > 250)
            return 0;
        size_t pdu = 2 + bytes;
        reply[0] = (uint8_t)(request.transaction >> 8);
        reply[1] = (uint8_t)request.transaction;
        reply[2] = reply[3] = 0;
        reply[4] = (uint8_t)((pdu + 1) >> 8);
        reply[5] = (uint8_t)(pdu + 1);
        reply[6] = request.unit;
        reply[7] = request.function;
        reply[8] = (uint8_t)bytes;
        for (size_t i = 0; i < bytes; i++)
            reply[9 + i] = (uint8_t)(i * 7 + 1);
        size_t total = 7 + pdu;
        if (mb_frame_complete(reply, total) != (int)total ||
            mb_frame_parse_reply(&request, reply, total, registers, bits, &exception, detail,
                                 sizeof detail) != MB_REPLY_OK)
            abort();
        if (words && registers[0] != (uint16_t)(1 << 8 | 8))
            abort();
        if (!words && bits[0] != 1)
            abort();
    }
    return 0;
}
