/* Folds the alarm journal into one record per alarm raised in the window:
 * an open-addressing table on the alarm id, the first acknowledge, attend
 * and reset seen before the window's end, and the highest priority. */
#include "alarm/response_private.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_read.h"

#define MIN_SLOTS 64

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
    *alarm = (struct tracked){.text = text, .raised_ms = raised_ms, .priority = -1};
    c->count++;
    *slot_for(c->slots, c->slot_count, c->alarms, id) = c->count;
    return alarm;
oom:
    c->out_of_memory = true;
    return NULL;
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
    json_decref(body);
    return 0;
}

void response_collector_free(struct collector *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->alarms[i].text);
    free(c->alarms);
    free(c->slots);
}
