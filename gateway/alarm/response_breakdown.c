/* The response report's per-carer and per-room tables, from the alarms
 * response_journal.c folded: the counted alarms are grouped by the carer
 * who accepted them (and their pages by the carer paged) or by room, with a
 * counting sort, and each group's durations ranked by nearest rank as the
 * shifts' are (response.c). Lists are bounded: the carers who accepted most,
 * the rooms with the most alarms. */
#include "alarm/response_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_GROUP UINT32_MAX

/* Alarm indices by group: order[start[g] .. start[g + 1]) are group g's. */
struct groups {
    uint32_t *start; /* group count + 2 */
    uint32_t *order;
};

static void groups_free(struct groups *g)
{
    free(g->start);
    free(g->order);
}

/* Counting sort of the alarms by group_of[i] (NO_GROUP: in none). */
static int group_alarms(const uint32_t *group_of, size_t n, size_t count, struct groups *g)
{
    g->start = calloc(count + 2, sizeof *g->start);
    g->order = malloc((n ? n : 1) * sizeof *g->order);
    if (!g->start || !g->order) {
        groups_free(g);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (group_of[i] != NO_GROUP)
            g->start[group_of[i] + 2]++;
    for (size_t k = 2; k < count + 2; k++)
        g->start[k] += g->start[k - 1];
    for (size_t i = 0; i < n; i++)
        if (group_of[i] != NO_GROUP)
            g->order[g->start[group_of[i] + 1]++] = (uint32_t)i;
    return 0;
}

/* p50 and p90 (p90 NULL: not wanted) of one measure over group k. */
static void rank(const struct collector *c, const struct groups *g, size_t k, enum measure measure,
                 int64_t *buffer, double *p50, double *p90)
{
    size_t n = 0;
    for (uint32_t at = g->start[k]; at < g->start[k + 1]; at++) {
        int64_t ms = response_measure(&c->alarms[g->order[at]], measure);
        if (ms >= 0)
            buffer[n++] = ms;
    }
    response_sort_ms(buffer, n);
    *p50 = response_percentile_s(buffer, n, 50);
    if (p90)
        *p90 = response_percentile_s(buffer, n, 90);
}

/* ---- carers ---- */

static int most_accepted(const void *a, const void *b)
{
    const struct wg_response_carer *x = a, *y = b;
    if (x->accepted != y->accepted)
        return x->accepted < y->accepted ? 1 : -1;
    if (x->paged != y->paged)
        return x->paged < y->paged ? 1 : -1;
    return strcmp(x->user, y->user);
}

static void count_pages(const struct tracked *alarm, struct wg_response_carer *carers)
{
    for (size_t p = 0; p < alarm->page_count; p++) {
        const struct page_mark *mark = &alarm->pages[p];
        if (mark->carer == NO_CARER)
            continue;
        struct wg_response_carer *carer = &carers[mark->carer];
        carer->paged++;
        carer->declined += mark->outcome == MARK_DECLINED;
        carer->not_reached += mark->outcome == MARK_NOT_REACHED;
        carer->timed_out += mark->outcome == MARK_TIMED_OUT;
    }
}

static int carer_table(struct wg_response_report *report, const struct collector *c,
                       size_t max_carers, int64_t *buffer)
{
    report->carers_truncated = c->carers_overflow;
    if (c->carer_count == 0)
        return 0;
    struct wg_response_carer *all = calloc(c->carer_count, sizeof *all);
    uint32_t *group_of = malloc((c->count ? c->count : 1) * sizeof *group_of);
    struct groups g = {0};
    if (!all || !group_of) {
        free(all);
        free(group_of);
        return -1;
    }
    for (size_t i = 0; i < c->count; i++) {
        const struct tracked *alarm = &c->alarms[i];
        bool counted = response_counted(report, alarm);
        group_of[i] = counted && alarm->accepted_by != NO_CARER ? alarm->accepted_by : NO_GROUP;
        if (counted)
            count_pages(alarm, all);
    }
    if (group_alarms(group_of, c->count, c->carer_count, &g) < 0) {
        free(all);
        free(group_of);
        return -1;
    }
    size_t listed = 0;
    for (size_t k = 0; k < c->carer_count; k++) {
        struct wg_response_carer *carer = &all[k];
        snprintf(carer->user, sizeof carer->user, "%s", c->carers[k].user);
        snprintf(carer->name, sizeof carer->name, "%s", c->carers[k].name);
        carer->accepted = g.start[k + 1] - g.start[k];
        rank(c, &g, k, MEASURE_OWN_ACCEPT, buffer, &carer->accept_p50_s, &carer->accept_p90_s);
        rank(c, &g, k, MEASURE_ACCEPT_ATTEND, buffer, &carer->accept_attend_p50_s,
             &carer->accept_attend_p90_s);
        if (carer->accepted || carer->paged)
            all[listed++] = *carer;
    }
    groups_free(&g);
    free(group_of);
    qsort(all, listed, sizeof *all, most_accepted);
    if (listed > max_carers) {
        listed = max_carers;
        report->carers_truncated = true;
    }
    report->carer_count = listed;
    report->carers = all; /* the first `listed` are the table */
    return 0;
}

/* ---- rooms ---- */

static uint64_t hash_text(const char *text)
{
    uint64_t hash = 14695981039346656037ULL; /* FNV-1a */
    for (const unsigned char *ch = (const unsigned char *)text; *ch; ch++)
        hash = (hash ^ *ch) * 1099511628211ULL;
    return hash;
}

static int most_raised(const void *a, const void *b)
{
    const struct wg_response_room *x = a, *y = b;
    if (x->raised != y->raised)
        return x->raised < y->raised ? 1 : -1;
    return strverscmp(x->room, y->room);
}

static int by_room(const void *a, const void *b)
{
    const struct wg_response_room *x = a, *y = b;
    return strverscmp(x->room, y->room);
}

/* group_of[i]: the room index of each counted alarm; *room_count rooms,
 * keys[r] the room's text (in the alarm's own text block). */
static int index_rooms(const struct wg_response_report *report, const struct collector *c,
                       uint32_t *group_of, const char **keys, size_t *room_count)
{
    size_t slot_count = 64;
    while (slot_count < 2 * c->count)
        slot_count *= 2;
    uint32_t *slots = calloc(slot_count, sizeof *slots); /* room index + 1 */
    if (!slots)
        return -1;
    size_t rooms = 0;
    for (size_t i = 0; i < c->count; i++) {
        const struct tracked *alarm = &c->alarms[i];
        group_of[i] = NO_GROUP;
        if (!response_counted(report, alarm))
            continue;
        const char *room = response_text_of(alarm, TEXT_ROOM);
        size_t at = (size_t)hash_text(room) & (slot_count - 1);
        while (slots[at] && strcmp(keys[slots[at] - 1], room) != 0)
            at = (at + 1) & (slot_count - 1);
        if (!slots[at]) {
            keys[rooms] = room;
            slots[at] = (uint32_t)++rooms;
        }
        group_of[i] = slots[at] - 1;
    }
    free(slots);
    *room_count = rooms;
    return 0;
}

static int room_table(struct wg_response_report *report, const struct collector *c,
                      size_t max_rooms, int64_t *buffer)
{
    size_t n = c->count ? c->count : 1;
    uint32_t *group_of = calloc(n, sizeof *group_of);
    const char **keys = malloc(n * sizeof *keys);
    struct groups g = {0};
    size_t rooms = 0;
    if (!group_of || !keys || index_rooms(report, c, group_of, keys, &rooms) < 0 ||
        group_alarms(group_of, c->count, rooms, &g) < 0) {
        free(group_of);
        free(keys);
        return -1;
    }
    struct wg_response_room *all = rooms ? calloc(rooms, sizeof *all) : NULL;
    if (rooms && !all) {
        groups_free(&g);
        free(group_of);
        free(keys);
        return -1;
    }
    for (size_t r = 0; r < rooms; r++) {
        struct wg_response_room *room = &all[r];
        snprintf(room->room, sizeof room->room, "%s", keys[r]);
        room->raised = g.start[r + 1] - g.start[r];
        for (uint32_t at = g.start[r]; at < g.start[r + 1]; at++)
            room->long_waits += response_is_long_wait(report, &c->alarms[g.order[at]]);
        rank(c, &g, r, MEASURE_ACK, buffer, &room->ack_p50_s, NULL);
        rank(c, &g, r, MEASURE_ATTEND, buffer, &room->attend_p50_s, NULL);
        rank(c, &g, r, MEASURE_ACCEPT, buffer, &room->accept_p50_s, NULL);
        rank(c, &g, r, MEASURE_RESET, buffer, &room->reset_p50_s, NULL);
    }
    groups_free(&g);
    free(group_of);
    free(keys);
    if (rooms > max_rooms) {
        qsort(all, rooms, sizeof *all, most_raised);
        rooms = max_rooms;
        report->rooms_truncated = true;
    }
    if (rooms > 1)
        qsort(all, rooms, sizeof *all, by_room);
    report->rooms = all;
    report->room_count = rooms;
    return 0;
}

int response_breakdowns(struct wg_response_report *report, const struct collector *c,
                        size_t max_carers, size_t max_rooms, int64_t *buffer)
{
    if (carer_table(report, c, max_carers, buffer) < 0 ||
        room_table(report, c, max_rooms, buffer) < 0)
        return -1;
    return 0;
}
