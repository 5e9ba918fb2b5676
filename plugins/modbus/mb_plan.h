/* Merged reads: the fewest read requests that cover a device's points.
 *
 * Points of one function code are sorted by address and packed greedily into
 * blocks: a block grows while the next point starts within `gap` registers
 * (or bits) of the block's end and the block stays within the cap (125
 * registers, 2000 bits, or a lower per-device limit). Because any run of
 * consecutive points inside a feasible block is itself feasible, the greedy
 * packing gives the minimum number of requests; the unit test checks that
 * against an exhaustive search. */
#ifndef WG_MB_PLAN_H
#define WG_MB_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mb_point.h"

#define MB_MAX_READ_REGISTERS 125  /* Modbus spec, function 3/4 */
#define MB_MAX_READ_BITS      2000 /* Modbus spec, function 1/2 */

struct mb_limits {
    unsigned gap;           /* registers or bits that may be read through between points */
    unsigned max_registers; /* 1..125 */
    unsigned max_bits;      /* 1..2000 */
};

struct mb_block {
    uint8_t function;
    uint16_t start;
    uint16_t count;
};

/* Two points that share registers must read the same raw value (same function,
 * address and type; bits and masks may differ). Returns true and sets *first,
 * *second when two points overlap otherwise. */
bool mb_plan_find_overlap(const struct mb_point *points, size_t count, size_t *first,
                          size_t *second);

/* Fills blocks[0..n) (capacity: `count`) and block_of_point[count]; returns n. */
size_t mb_plan(const struct mb_point *points, size_t count, const struct mb_limits *limits,
               struct mb_block *blocks, uint32_t *block_of_point);

#endif
