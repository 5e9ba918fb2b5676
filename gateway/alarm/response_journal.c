/* Folds the alarm journal into one record per alarm raised in the window:
 * an open-addressing table on the alarm id, the first acknowledge, attend
 * and reset seen before the window's end, the highest priority, and from
 * the paging record the first page, the acceptance and (from the latest
 * record) to whom each page went and how it ended; carers are interned. */
#include "alarm/response_private.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_read.h"

#define MIN_SLOTS   64
#define CARER_SLOTS (2 * WG_RESPONSE_MAX_CARER_IDS) /* a power of two */

static const char *const text_keys[TEXT_FIELDS] = {"id", "kind", "zone", "room", "bed", "resident"};

const char *response_text_of(const struct tracked *alarm, enum text_field field)
{
    const char *text = alarm->text;
    for (int i = 0; i < (int)field; i++)
        text += strlen(text) + 1;
    return text;
}

static uint64_t hash_id(const char *id)
{
    uint64_t hash = 14695981039346656037ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        hash = (hash ^ *c) * 1099511628211ULL;
    return hash;
}

/* The slot holding `id`, or the empty slot where it would go. */
static size_t *slot_for(size_t *slots, size_t slot_count, const struct tracked *alarms,
                        const char *id)
{
    size_t mask = slot_count - 1;
    for (size_t i = (size_t)hash_id(id) & mask;; i = (i + 1) & mask) {
        if (slots[i] == 0 || strcmp(response_text_of(&alarms[slots[i] - 1], TEXT_ID), id) == 0)
            return &slots[i];
    }
}

/* Keeps the table at most half full. */
static int grow_slots(struct collector *c)
{
    if ((c->count + 1) * 2 <= c->slot_count)
        return 0;
    size_t slot_count = c->slot_count ? c->slot_count * 2 : MIN_SLOTS;
    size_t *slots = calloc(slot_count, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < c->count; i++)
        *slot_for(slots, slot_count, c->alarms, response_text_of(&c->alarms[i], TEXT_ID)) = i + 1;
    free(c->slots);
    c->slots = slots;
    c->slot_count = slot_count;
    return 0;
}

static const char *string_member(const json_t *body, const char *key)
{
    const char *value = json_string_value(json_object_get(body, key));
    return value ? value : "";
}

/* Text block of a new alarm: its id and the fields a long wait shows. */
static char *text_block(const json_t *body)
{
    size_t size = 0;
    for (int i = 0; i < TEXT_FIELDS; i++)
        size += strlen(string_member(body, text_keys[i])) + 1;
    char *text = malloc(size);
    if (!text)
        return NULL;
    char *at = text;
    for (int i = 0; i < TEXT_FIELDS; i++) {
        const char *value = string_member(body, text_keys[i]);
        size_t len = strlen(value) + 1;
        memcpy(at, value, len);
        at += len;
    }
    return text;
}

static struct tracked *find_or_add(struct collector *c, const char *id, const json_t *body,
                                   int64_t raised_ms)
{
    if (c->slot_count) {
        size_t *slot = slot_for(c->slots, c->slot_count, c->alarms, id);
        if (*slot)
            return &c->alarms[*slot - 1];
    }
    if (c->count >= c->max_alarms) {
        c->too_many = true;
        return NULL;
    }
    if (grow_slots(c) < 0)
        goto oom;
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : MIN_SLOTS;
        struct tracked *alarms = realloc(c->alarms, capacity * sizeof *alarms);
        if (!alarms)
            goto oom;
        c->alarms = alarms;
        c->capacity = capacity;
    }
    char *text = text_block(body);
    if (!text)
        goto oom;
    struct tracked *alarm = &c->alarms[c->count];
    *alarm = (struct tracked){
        .text = text, .raised_ms = raised_ms, .priority = -1, .accepted_by = NO_CARER};
    c->count++;
    *slot_for(c->slots, c->slot_count, c->alarms, id) = c->count;
    return alarm;
oom:
    c->out_of_memory = true;
    return NULL;
}

/* The index of carer `user` (login), added when new; NO_CARER when the
 * table is full or out of memory (then the carer is not followed). */
static uint16_t carer_index(struct collector *c, const char *user, const char *name)
{
    if (!c->carer_slots) {
        c->carer_slots = calloc(CARER_SLOTS, sizeof *c->carer_slots);
        if (!c->carer_slots) {
            c->out_of_memory = true;
            return NO_CARER;
        }
    }
    size_t mask = CARER_SLOTS - 1;
    size_t i = (size_t)hash_id(user) & mask;
    while (c->carer_slots[i] && strcmp(c->carers[c->carer_slots[i] - 1].user, user) != 0)
        i = (i + 1) & mask;
    if (c->carer_slots[i]) {
        struct carer_id *known = &c->carers[c->carer_slots[i] - 1];
        if (name[0])
            snprintf(known->name, sizeof known->name, "%s", name);
        return (uint16_t)(c->carer_slots[i] - 1);
    }
    if (c->carer_count >= WG_RESPONSE_MAX_CARER_IDS) {
        c->carers_overflow = true;
        return NO_CARER;
    }
    if (c->carer_count == c->carer_capacity) {
        size_t capacity = c->carer_capacity ? c->carer_capacity * 2 : 16;
        struct carer_id *carers = realloc(c->carers, capacity * sizeof *carers);
        if (!carers) {
            c->out_of_memory = true;
            return NO_CARER;
        }
        c->carers = carers;
        c->carer_capacity = capacity;
    }
    struct carer_id *carer = &c->carers[c->carer_count];
    snprintf(carer->user, sizeof carer->user, "%s", user);
    snprintf(carer->name, sizeof carer->name, "%s", name);
    c->carer_slots[i] = (uint16_t)(++c->carer_count);
    return (uint16_t)(c->carer_count - 1);
}

static enum mark_outcome mark_of(const char *outcome)
{
    static const char *const names[] = {[MARK_ACCEPTED] = "accepted",
                                        [MARK_DECLINED] = "declined",
                                        [MARK_NOT_REACHED] = "not_reached",
                                        [MARK_TIMED_OUT] = "timed_out"};
    for (int m = MARK_ACCEPTED; outcome && m <= MARK_TIMED_OUT; m++)
        if (strcmp(names[m], outcome) == 0)
            return (enum mark_outcome)m;
    return MARK_OTHER;
}

static int64_t positive_ms(const json_t *object, const char *key)
{
    const json_t *value = json_object_get(object, key);
    int64_t ms = json_is_integer(value) ? json_integer_value(value) : 0;
    return ms > 0 ? ms : 0;
}

/* Folds the record's "paging": the earliest page, the first acceptance
 * before to_ms, and the pages of this (the latest) record. -1 when out of
 * memory. */
static int fold_paging(struct collector *c, struct tracked *alarm, const json_t *paging)
{
    if (!json_is_object(paging))
        return 0;
    alarm->paged = true;
    const json_t *pages = json_object_get(paging, "pages");
    size_t count = json_array_size(pages);
    if (count > UINT8_MAX)
        count = UINT8_MAX;
    const char *accepted_by = json_string_value(json_object_get(paging, "accepted_by"));
    int64_t accepted_ms = positive_ms(paging, "accepted_ms");
    bool accept = accepted_by && accepted_by[0] && accepted_ms && accepted_ms < c->to_ms &&
                  (!alarm->accepted_ms || accepted_ms < alarm->accepted_ms);
    if (count > alarm->page_count) {
        struct page_mark *marks = realloc(alarm->pages, count * sizeof *marks);
        if (!marks)
            return -1;
        alarm->pages = marks;
    }
    alarm->page_count = (uint8_t)count;
    for (size_t i = 0; i < count; i++) {
        const json_t *page = json_array_get(pages, i);
        const char *user = json_string_value(json_object_get(page, "user"));
        const char *name = json_string_value(json_object_get(page, "name"));
        int64_t notified = positive_ms(page, "notified_ms");
        if (notified && notified < c->to_ms &&
            (!alarm->notified_ms || notified < alarm->notified_ms))
            alarm->notified_ms = notified;
        alarm->pages[i].carer = user && user[0] ? carer_index(c, user, name ? name : "") : NO_CARER;
        alarm->pages[i].outcome =
            (uint8_t)mark_of(json_string_value(json_object_get(page, "outcome")));
        if (accept && user && strcmp(user, accepted_by) == 0 &&
            alarm->pages[i].outcome == MARK_ACCEPTED)
            alarm->accepter_notified_ms = notified;
    }
    if (c->out_of_memory)
        return -1;
    if (accept) {
        const char *name = json_string_value(json_object_get(paging, "accepted_name"));
        alarm->accepted_ms = accepted_ms;
        alarm->accepted_by = carer_index(c, accepted_by, name ? name : "");
        if (c->out_of_memory)
            return -1;
    }
    return 0;
}

/* Keeps the earliest time of `key` seen before to_ms. */
static void fold_first(int64_t *kept, const json_t *body, const char *key, int64_t to_ms)
{
    const json_t *value = json_object_get(body, key);
    if (!json_is_integer(value))
        return;
    int64_t ms = json_integer_value(value);
    if (ms > 0 && ms < to_ms && (*kept == 0 || ms < *kept))
        *kept = ms;
}

int response_collect_row(const struct wg_event_row *row, void *ctx)
{
    struct collector *c = ctx;
    json_t *body = row->body ? json_loads(row->body, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(body, "id"));
    const json_t *raised = json_object_get(body, "raised_ms");
    if (!json_is_object(body) || !id || !id[0] || !json_is_integer(raised)) {
        c->skipped_rows++;
        json_decref(body);
        return 0;
    }
    int64_t raised_ms = json_integer_value(raised);
    if (raised_ms < c->from_ms || raised_ms >= c->to_ms) {
        json_decref(body); /* raised before the window: not counted */
        return 0;
    }
    struct tracked *alarm = find_or_add(c, id, body, raised_ms);
    if (!alarm) {
        json_decref(body);
        return 1; /* too many or out of memory: stop */
    }
    const json_t *level = json_object_get(body, "priority_level");
    int priority = json_is_integer(level) ? (int)json_integer_value(level) : row->priority;
    if (priority > alarm->priority)
        alarm->priority = priority;
    fold_first(&alarm->ack_ms, body, "acknowledged_ms", c->to_ms);
    fold_first(&alarm->attend_ms, body, "attended_ms", c->to_ms);
    fold_first(&alarm->reset_ms, body, "reset_ms", c->to_ms);
    int rc = fold_paging(c, alarm, json_object_get(body, "paging"));
    json_decref(body);
    if (rc < 0) {
        c->out_of_memory = true;
        return 1;
    }
    return 0;
}

void response_collector_free(struct collector *c)
{
    for (size_t i = 0; i < c->count; i++) {
        free(c->alarms[i].text);
        free(c->alarms[i].pages);
    }
    free(c->alarms);
    free(c->slots);
    free(c->carers);
    free(c->carer_slots);
}
