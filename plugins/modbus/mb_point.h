/* A Modbus point as the driver sees it: where its raw value lives (function
 * code, address, how many registers or bits), how registers become an
 * engineering value (type, byte and word order, scale, offset, bit, mask) and,
 * for outputs, how a value is written and checked by read-back.
 *
 * mb_point_parse() validates one profile `source:` map and reports every
 * problem through the host with file:line. Decoding and encoding are pure
 * functions over register arrays, unit-tested without a bus. */
#ifndef WG_MB_POINT_H
#define WG_MB_POINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/plugin.h"

enum mb_type { MB_BIT, MB_U16, MB_I16, MB_U32, MB_I32, MB_U64, MB_F32 };

struct mb_point {
    /* Wide fields first, then narrow ones: 88 bytes, not 112 (one per point
     * of every profile a bus uses). */
    double scale;
    double
        divisor; /* != 0: scale is 1/divisor (0.1, 0.01, ...): raw / divisor is the exact decimal */
    double offset;
    uint64_t mask; /* != 0: bool = (raw & mask) != 0, or == equals */
    uint64_t equals;
    /* Outputs. write_function 0 = not writable. */
    uint64_t write_on;  /* raw value written for 1 (register outputs of bool points) */
    uint64_t write_off; /* ... for 0 */
    enum mb_type type;
    int bit;                /* >= 0: bool = that bit of the raw value */
    int debounce_ms;        /* a bool change must hold this long before it is posted */
    uint16_t address;       /* 0-based */
    uint16_t count;         /* registers (fc 3/4) or bits (fc 1/2) the raw value spans */
    uint8_t function;       /* 1 coils, 2 discrete inputs, 3 holding, 4 input registers */
    uint8_t write_function; /* 5 single coil, 6 single register, 15 coils, 16 registers */
    bool byte_swap;         /* order badc / dcba / ba: the bytes of each register swapped */
    bool word_swap;         /* order cdab / dcba: the least significant register first */
    bool is_bool;           /* the point's kind is bool: the result is 0 or 1 */
    bool has_equals;
    bool normally_closed; /* the bool is inverted: an open NC contact reads 1 */
    bool inverted;        /* bool outputs: 1 is written as off (fail-safe relays) */
    bool refuse_zero;     /* valve_command: the driver never writes 0 (no remote re-open) */
};

/* Validates `source` for a point of `kind` and `direction` and fills *out.
 * `where` names the point in messages ("profile gas-midas point concentration").
 * Returns false after reporting every problem through host->cfg_error. */
bool mb_point_parse(const struct wg_host *host, const struct wg_point_view *view, const char *where,
                    struct mb_point *out);

/* Whether two parsed points read, decode and write alike (every field). */
bool mb_point_same(const struct mb_point *a, const struct mb_point *b);

/* Bits (fc 1/2) as libmodbus returns them, one byte per bit; registers as
 * host-order uint16_t. `data` starts at the point's own address. */
double mb_point_decode_bits(const struct mb_point *point, const uint8_t *bits);
double mb_point_decode_registers(const struct mb_point *point, const uint16_t *registers);

/* The raw register value (bytes and words put in order), for read-back checks. */
uint64_t mb_point_raw(const struct mb_point *point, const uint16_t *registers);

/* Encodes `value` for a write. Bits: *bit. Registers: registers[0..count-1].
 * Returns false and fills `reason` when the value cannot be written (out of
 * range for the type, not finite, a refused valve re-open). */
bool mb_point_encode(const struct mb_point *point, double value, uint8_t *bit, uint16_t *registers,
                     char *reason, size_t reason_size);

const char *mb_type_name(enum mb_type type);

#endif
