/* Modbus TCP framing, written from the specification (Modbus Messaging on
 * TCP/IP Implementation Guide V1.0b, and Modbus Application Protocol V1.1b3),
 * for the non-blocking TCP reactor (mb_reactor.c). libmodbus has no
 * non-blocking API: every one of its calls sends a request and then waits for
 * the reply with select(), so it cannot serve many endpoints from one thread.
 *
 * A frame is the 7-byte MBAP header, then the PDU:
 *
 *     transaction id (2) | protocol id (2, always 0) | length (2) | unit (1) | function (1) | data
 *
 * `length` counts the bytes after itself (unit + PDU), at most 254 (a PDU is
 * at most 253 bytes). All fields are big-endian. Pure functions: no I/O. */
#ifndef WG_MB_FRAME_H
#define WG_MB_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MB_FRAME_HEADER  7   /* the MBAP header, up to and including the unit */
#define MB_FRAME_MAX     260 /* header + the longest PDU */
#define MB_FRAME_MAX_LEN 254 /* the largest `length` field: unit + 253 bytes of PDU */

/* One request, as the reactor keeps it while it waits for the reply. */
struct mb_request {
    uint16_t transaction;
    uint8_t unit;
    uint8_t function; /* 1, 2, 3, 4 (reads), 5, 6, 15, 16 (writes) */
    uint16_t address;
    uint16_t count; /* registers or bits read or written */
};

/* Encodes a read (fc 1-4) into out[MB_FRAME_MAX]; returns the frame's size. */
size_t mb_frame_read_request(const struct mb_request *request, uint8_t *out);
/* Encodes a write: fc 5 (bits[0]), 15 (count bits), 6 (registers[0]) or 16
 * (count registers). Returns the size, 0 for a function that is not a write
 * or a count that does not fit one frame. */
size_t mb_frame_write_request(const struct mb_request *request, const uint8_t *bits,
                              const uint16_t *registers, uint8_t *out);

/* How much of a received byte stream is one frame: 0 while the header is not
 * complete or the frame is shorter than its length says (wait for more),
 * the frame's size when it is all there, -1 when the header cannot be
 * Modbus TCP (protocol id not 0, a length of 0, 1 or above 254): the stream
 * has lost its framing and the connection is to be dropped. */
int mb_frame_complete(const uint8_t *data, size_t size);

/* The transaction id, unit and function of a complete frame. */
uint16_t mb_frame_transaction(const uint8_t *frame);
uint8_t mb_frame_unit(const uint8_t *frame);
uint8_t mb_frame_function(const uint8_t *frame);

enum mb_reply_kind {
    MB_REPLY_OK,        /* values decoded (reads) or the echo matched (writes) */
    MB_REPLY_EXCEPTION, /* *exception holds the code */
    MB_REPLY_OTHER,     /* another request's reply (transaction, unit or function): drop it */
    MB_REPLY_BAD,       /* this request's reply, but malformed: byte count, length, echo */
};

/* Checks a complete frame against `request` and, for a read, decodes the
 * values into registers[] (fc 3/4, host order) or bits[] (fc 1/2, one byte a
 * bit). `detail` says what was wrong for MB_REPLY_OTHER and MB_REPLY_BAD. */
enum mb_reply_kind mb_frame_parse_reply(const struct mb_request *request, const uint8_t *frame,
                                        size_t size, uint16_t *registers, uint8_t *bits,
                                        int *exception, char *detail, size_t detail_size);

/* "illegal data address" for exception code 2, and so on. */
const char *mb_exception_name(int code);

#endif
