/* ESPA 4.4.4 framing, pure functions (docs/espa.md): the control
 * characters, a "call to pager" data block with its block check character,
 * a receiver that takes a block from the line byte by byte, its records,
 * and the display text of a paged alarm in the line's encoding (espa_text.c).
 *
 * A data block is SOH <header> STX <records> ETX BCC; a record is
 * <identifier> US <data>, records are separated by RS; the BCC is the XOR of
 * every character after SOH up to and including ETX. Nothing here touches a
 * file descriptor: espa_line.c runs the line. */
#ifndef WG_ESPA_H
#define WG_ESPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESPA_SOH 0x01
#define ESPA_STX 0x02
#define ESPA_ETX 0x03
#define ESPA_EOT 0x04
#define ESPA_ENQ 0x05
#define ESPA_ACK 0x06
#define ESPA_NAK 0x15
#define ESPA_RS  0x1E
#define ESPA_US  0x1F

#define ESPA_CALL_MAX   16  /* digits of a call number */
#define ESPA_TEXT_MAX   64  /* bytes of display text, encoded */
#define ESPA_BLOCK_MAX  256 /* a whole block, SOH to BCC */
#define ESPA_RECORD_MAX 16  /* records one received block may have */

/* One call to a pager (header '1'). The optional records are left out when 0. */
struct espa_call {
    char number[ESPA_CALL_MAX + 1]; /* record 1: digits */
    char text[ESPA_TEXT_MAX + 1];   /* record 2: encoded, no control characters; "" = none */
    char beep;                      /* record 3: '1'..'9', or 0 */
    char call_type;                 /* record 4 */
    char transmissions;             /* record 5 */
    char priority;                  /* record 6 */
};

/* The block check character: XOR of `len` bytes. */
uint8_t espa_bcc(const uint8_t *data, size_t len);
/* Whether `text` is a call number: 1..ESPA_CALL_MAX digits. */
bool espa_call_number_ok(const char *text);
/* Writes the call's data block into `out`; returns its length, or 0 when
 * the call is not valid (number, a control character in the text, a
 * record value not a digit) or `cap` is too small. */
size_t espa_call_block(const struct espa_call *call, uint8_t *out, size_t cap);

/* Receiving a block (the paging system's status information, or a test's
 * decoder): feed every byte read after the station was selected. */
enum espa_rx_result {
    ESPA_RX_MORE = 0, /* not complete yet (bytes before SOH are skipped) */
    ESPA_RX_BLOCK,    /* a block with a good BCC is in rx->body[0..len) */
    ESPA_RX_BAD_BCC,  /* a block whose BCC is wrong: answer NAK */
    ESPA_RX_OVERFLOW, /* longer than ESPA_BLOCK_MAX: dropped */
};
struct espa_rx {
    int state;                    /* private */
    uint8_t body[ESPA_BLOCK_MAX]; /* between SOH and ETX, both excluded */
    size_t len;
    uint8_t bcc;
};
void espa_rx_reset(struct espa_rx *rx);
enum espa_rx_result espa_rx_feed(struct espa_rx *rx, uint8_t byte);

/* A received block's parts: its header and records (pointing into `body`). */
struct espa_record {
    char id;
    const uint8_t *data;
    size_t len;
};
struct espa_block {
    char header;
    size_t record_count;
    struct espa_record records[ESPA_RECORD_MAX];
};
/* 0, or -1 when malformed (no STX, a header not one character, a record
 * without US or with an identifier not one character, too many records). */
int espa_parse_block(const uint8_t *body, size_t len, struct espa_block *out);

/* ---- the display text (espa_text.c) ---- */

/* "101A CALL" / "101A 呼叫": the room and bed label (or the place), then the
 * alarm's kind in words, encoded in `encoding` ("ascii" or "gbk") into
 * `out` (at most ESPA_TEXT_MAX bytes, cut at a character). Returns 0, or -1
 * with `out` empty when the encoding is unknown to iconv. */
int espa_display_text(const char *encoding, const char *room, const char *bed, const char *place,
                      const char *kind, char *out, size_t cap);
/* UTF-8 into `encoding`; control characters become spaces, characters it
 * cannot hold become '?', the result is cut at a character to fit
 * min(cap - 1, ESPA_TEXT_MAX). 0, or -1 (`out` empty). */
int espa_encode(const char *encoding, const char *utf8, char *out, size_t cap);

#endif
