/* Merged-read planning and the overlap check of a device's points; see mb_plan.h. */
#include "mb_plan.h"

#include <stdlib.h>

static int compare_points(const struct mb_point *a, const struct mb_point *b)
{
    if (a->function != b->function)
        return a->function < b->function ? -1 : 1;
    if (a->address != b->address)
        return a->address < b->address ? -1 : 1;
    return 0;
}

/* Sorts point indexes by (function, address); insertion sort: profiles are small. */
static void sort_indexes(const struct mb_point *points, size_t count, size_t *order)
{
    for (size_t i = 0; i < count; i++) {
        size_t j = i;
        while (j > 0 && compare_points(&points[order[j - 1]], &points[i]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

static unsigned span_end(const struct mb_point *point)
{
    return (unsigned)point->address + point->count - 1;
}

bool mb_plan_find_overlap(const struct mb_point *points, size_t count, size_t *first,
                          size_t *second)
{
    for (size_t i = 0; i < count; i++) {
        for (size_t j = i + 1; j < count; j++) {
            const struct mb_point *a = &points[i], *b = &points[j];
            if (a->function != b->function || span_end(a) < b->address || span_end(b) < a->address)
                continue;
            bool same_raw = a->address == b->address && a->count == b->count &&
                            a->byte_swap == b->byte_swap && a->word_swap == b->word_swap &&
                            (a->type == b->type || (a->is_bool && b->is_bool));
            if (!same_raw) {
                *first = i;
                *second = j;
                return true;
            }
        }
    }
    return false;
}

size_t mb_plan(const struct mb_point *points, size_t count, const struct mb_limits *limits,
               struct mb_block *blocks, uint32_t *block_of_point)
{
    if (count == 0)
        return 0;
    size_t *order = malloc(count * sizeof *order);
    if (!order)
        return 0;
    sort_indexes(points, count, order);
    size_t blocks_used = 0;
    struct mb_block *open = NULL;
    unsigned open_end = 0;
    for (size_t k = 0; k < count; k++) {
        const struct mb_point *point = &points[order[k]];
        bool bits = point->function == 1 || point->function == 2;
        unsigned cap = bits ? limits->max_bits : limits->max_registers;
        unsigned end = span_end(point);
        unsigned new_end = end > open_end ? end : open_end;
        bool fits = open && open->function == point->function &&
                    (unsigned)point->address <= open_end + 1 + limits->gap &&
                    new_end - open->start + 1 <= cap;
        if (!fits) {
            open = &blocks[blocks_used++];
            *open = (struct mb_block){.function = point->function, .start = point->address};
            new_end = end;
        }
        open_end = new_end;
        open->count = (uint16_t)(open_end - open->start + 1);
        block_of_point[order[k]] = (uint32_t)(blocks_used - 1);
    }
    free(order);
    return blocks_used;
}
