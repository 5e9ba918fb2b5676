/* Alarm records, their lifecycle, display order and JSON form; see alarm.h. */
#include "alarm/alarm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "common/event.h"
#include "common/json_text.h"
#include "common/log.h"

struct wg_alarm_table {
    struct wg_alarm_sink sink;
    struct wg_alarm **alarms; /* active ones; reset alarms are removed */
    size_t count, capacity;
};

static const char *const state_names[] = {"raised", "acknowledged", "attended", "reset"};

const char *alarm_state_name(enum wg_alarm_state state)
{
    return (unsigned)state < 4 ? state_names[state] : "unknown";
}

struct wg_alarm_table *alarm_table_new(struct wg_alarm_sink sink)
{
    struct wg_alarm_table *table = calloc(1, sizeof *table);
    if (table)
        table->sink = sink;
    return table;
}

void alarm_table_free(struct wg_alarm_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->count; i++)
        free(table->alarms[i]);
    free(table->alarms);
    free(table);
}

static void report(struct wg_alarm_table *table, const struct wg_alarm *alarm, const char *phase)
{
    if (table->sink.changed)
        table->sink.changed(table->sink.ctx, alarm, phase);
}

static struct wg_alarm *insert(struct wg_alarm_table *table, const struct wg_alarm *alarm)
{
    if (table->count == table->capacity) {
        size_t capacity = table->capacity ? table->capacity * 2 : 32;
        struct wg_alarm **grown = realloc(table->alarms, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        table->alarms = grown;
        table->capacity = capacity;
    }
    struct wg_alarm *copy = malloc(sizeof *copy);
    if (!copy)
        return NULL;
    *copy = *alarm;
    table->alarms[table->count++] = copy;
    return copy;
}

static void remove_alarm(struct wg_alarm_table *table, struct wg_alarm *alarm)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->alarms[i] == alarm) {
            table->alarms[i] = table->alarms[--table->count];
            free(alarm);
            return;
        }
}

struct wg_alarm *alarm_raise(struct wg_alarm_table *table, const struct wg_alarm *proto,
                             int64_t now_ms)
{
    struct wg_alarm alarm = *proto;
    struct wg_event id_holder;
    event_new_id(&id_holder);
    memcpy(alarm.id, id_holder.id, sizeof alarm.id);
    alarm.update = 1;
    alarm.state = WG_ALARM_RAISED;
    alarm.raised_ms = now_ms;
    alarm.acknowledged_ms = alarm.attended_ms = alarm.reset_ms = 0;
    alarm.escalation_level = 0;
    memset(alarm.escalated_ms, 0, sizeof alarm.escalated_ms);
    alarm.reannunciations = 0;
    alarm.reannunciate_due_ms = 0;
    struct wg_alarm *stored = insert(table, &alarm);
    if (!stored) {
        /* Never lose a call to an allocation: report it even if we cannot keep it. */
        wg_crit("out of memory keeping alarm %s (%s in %s); it is journaled but not tracked",
                alarm.id, alarm.kind, alarm.room);
        report(table, &alarm, "raise");
        return NULL;
    }
    report(table, stored, "raise");
    return stored;
}

int alarm_acknowledge(struct wg_alarm_table *table, const char *id, const char *who,
                      const char *where, int64_t now_ms, int64_t reannunciate_after_ms, char *why,
                      size_t why_len)
{
    struct wg_alarm *alarm = alarm_find(table, id);
    if (!alarm) {
        snprintf(why, why_len, "no active alarm %s", id);
        return -1;
    }
    if (alarm->state != WG_ALARM_RAISED) {
        snprintf(why, why_len, "alarm %s is already %s", id, alarm_state_name(alarm->state));
        return -1;
    }
    alarm->state = WG_ALARM_ACKNOWLEDGED;
    if (alarm->acknowledged_ms == 0)
        alarm->acknowledged_ms = now_ms; /* response time counts the first acknowledgement */
    snprintf(alarm->acknowledged_by, sizeof alarm->acknowledged_by, "%s", who ? who : "");
    snprintf(alarm->acknowledged_from, sizeof alarm->acknowledged_from, "%s", where ? where : "");
    alarm->reannunciate_due_ms = reannunciate_after_ms > 0 ? now_ms + reannunciate_after_ms : 0;
    alarm->update++;
    report(table, alarm, "ack");
    return 0;
}

void alarm_attend(struct wg_alarm_table *table, struct wg_alarm *alarm, int64_t now_ms)
{
    if (alarm->state == WG_ALARM_ATTENDED || alarm->state == WG_ALARM_RESET)
        return;
    alarm->state = WG_ALARM_ATTENDED;
    if (alarm->attended_ms == 0)
        alarm->attended_ms = now_ms;
    paging_stand_down(&alarm->paging);
    alarm->reannunciate_due_ms = 0;
    alarm->update++;
    report(table, alarm, "attend");
}

void alarm_reset(struct wg_alarm_table *table, struct wg_alarm *alarm, const char *who,
                 const char *where, int64_t now_ms)
{
    alarm->state = WG_ALARM_RESET;
    alarm->reset_ms = now_ms;
    paging_stand_down(&alarm->paging);
    snprintf(alarm->reset_by, sizeof alarm->reset_by, "%s", who ? who : "");
    snprintf(alarm->reset_from, sizeof alarm->reset_from, "%s", where ? where : "");
    alarm->condition_active = false;
    alarm->reannunciate_due_ms = 0;
    alarm->update++;
    report(table, alarm, "reset");
    remove_alarm(table, alarm);
}

void alarm_update(struct wg_alarm_table *table, struct wg_alarm *alarm, const char *phase)
{
    alarm->update++;
    report(table, alarm, phase);
}

void alarm_run_timers(struct wg_alarm_table *table, int64_t now_ms, const int *level_after_s,
                      size_t level_count)
{
    if (level_count > WG_ALARM_MAX_LEVEL)
        level_count = WG_ALARM_MAX_LEVEL;
    for (size_t i = 0; i < table->count; i++) {
        struct wg_alarm *alarm = table->alarms[i];
        if (alarm->state == WG_ALARM_ACKNOWLEDGED && alarm->reannunciate_due_ms &&
            now_ms >= alarm->reannunciate_due_ms) {
            /* Acknowledged but nobody came: it calls again and needs a new acknowledgement. */
            alarm->state = WG_ALARM_RAISED;
            alarm->reannunciate_due_ms = 0;
            alarm->reannunciations++;
            alarm_update(table, alarm, "reannunciate");
        }
        if (alarm->state == WG_ALARM_ATTENDED || alarm->priority <= WG_PRIO_TECHNICAL)
            continue; /* escalation is for calls nobody has attended */
        while ((size_t)alarm->escalation_level + 1 < level_count &&
               now_ms >=
                   alarm->raised_ms + (int64_t)level_after_s[alarm->escalation_level + 1] * 1000) {
            alarm->escalation_level++;
            alarm->escalated_ms[alarm->escalation_level] = now_ms;
            alarm_update(table, alarm, "escalate");
        }
    }
}

struct wg_alarm *alarm_find(struct wg_alarm_table *table, const char *id)
{
    for (size_t i = 0; id && i < table->count; i++)
        if (strcmp(table->alarms[i]->id, id) == 0)
            return table->alarms[i];
    return NULL;
}

static int display_order(const void *a, const void *b)
{
    const struct wg_alarm *x = *(const struct wg_alarm *const *)a;
    const struct wg_alarm *y = *(const struct wg_alarm *const *)b;
    if (x->priority != y->priority)
        return y->priority - x->priority;
    if (x->raised_ms != y->raised_ms)
        return x->raised_ms < y->raised_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

size_t alarm_active(struct wg_alarm_table *table, const struct wg_alarm **out, size_t max)
{
    size_t n = table->count < max ? table->count : max;
    if (table->count == 0)
        return 0;
    /* Sort the table itself (small), then copy the head. */
    qsort(table->alarms, table->count, sizeof *table->alarms, display_order);
    for (size_t i = 0; i < n; i++)
        out[i] = table->alarms[i];
    return n;
}

size_t alarm_count(const struct wg_alarm_table *table)
{
    return table->count;
}

void alarm_foreach(struct wg_alarm_table *table, bool (*each)(struct wg_alarm *alarm, void *ctx),
                   void *ctx)
{
    /* Callbacks may reset (remove) the alarm they are given: walk backwards. */
    for (size_t i = table->count; i-- > 0;) {
        if (i >= table->count)
            continue;
        if (!each(table->alarms[i], ctx))
            return;
    }
}

void alarm_set_code(struct wg_alarm *alarm, const char *code, const char *fmt, ...)
{
    snprintf(alarm->detail_code, sizeof alarm->detail_code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    char *text = json_text_vpack(fmt, ap);
    va_end(ap);
    if (text && strlen(text) < sizeof alarm->detail_args) {
        memcpy(alarm->detail_args, text, strlen(text) + 1);
    } else {
        wg_err("alarm %s: the arguments of %s do not fit; kept without them", alarm->kind, code);
        snprintf(alarm->detail_args, sizeof alarm->detail_args, "{}");
    }
    free(text);
}

void alarm_copy_text(char *out, size_t len, const char *text)
{
    if (len == 0)
        return;
    size_t n = strlen(text ? text : "");
    if (n >= len) {
        n = len - 1;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--; /* text[n] would start the cut character: stop before it */
    }
    if (n)
        memcpy(out, text, n);
    out[n] = '\0';
}

/* ---- JSON ---- */

static json_t *ms_or_null(int64_t ms)
{
    return ms ? json_integer(ms) : json_null();
}

static json_t *int_or_null(int value)
{
    return value > 0 ? json_integer(value) : json_null();
}

json_t *alarm_to_json(const struct wg_alarm *alarm)
{
    json_t *escalations = json_array();
    for (int level = 1; level <= alarm->escalation_level && level < WG_ALARM_MAX_LEVEL; level++)
        json_array_append_new(escalations, json_pack("{s:i, s:I}", "level", level, "ms",
                                                     (json_int_t)alarm->escalated_ms[level]));
    const char *risk = alarm->risk ? risk_name((enum wg_risk)alarm->risk) : NULL;
    json_t *record = json_pack(
        "{s:s, s:I, s:s, s:s, s:i, s:s, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
        "id", alarm->id, "update", (json_int_t)alarm->update, "state",
        alarm_state_name(alarm->state), "priority",
        priority_name((enum wg_priority)alarm->priority), "priority_level", alarm->priority, "kind",
        alarm->kind, "risk", risk ? json_string(risk) : json_null(), "rule", alarm->rule, "device",
        alarm->device, "point", alarm->point, "zone", alarm->zone, "room", alarm->room, "bed",
        alarm->bed, "resident", alarm->resident, "detail", alarm->detail, "reset_mode",
        alarm->reset_mode == WG_RESET_ON_NORMAL ? "normal" : "origin", "condition_active",
        alarm->condition_active);
    if (!record || !escalations) {
        json_decref(record);
        json_decref(escalations);
        return NULL;
    }
    json_t *args = alarm->detail_args[0] ? json_loads(alarm->detail_args, 0, NULL) : NULL;
    json_object_set_new(record, "detail_code",
                        alarm->detail_code[0] ? json_string(alarm->detail_code) : json_null());
    json_object_set_new(record, "detail_args", json_is_object(args) ? args : json_object());
    if (args && !json_is_object(args))
        json_decref(args);
    json_object_set_new(record, "place", alarm->place[0] ? json_string(alarm->place) : json_null());
    json_object_set_new(record, "fire_zone", int_or_null(alarm->fire_zone));
    json_object_set_new(record, "fire_loop", int_or_null(alarm->fire_loop));
    json_object_set_new(record, "fire_address", int_or_null(alarm->fire_address));
    json_object_set_new(record, "reset_at",
                        alarm->reset_at[0] ? json_string(alarm->reset_at) : json_null());
    json_object_set_new(record, "raised_ms", json_integer(alarm->raised_ms));
    json_object_set_new(record, "acknowledged_ms", ms_or_null(alarm->acknowledged_ms));
    json_object_set_new(record, "acknowledged_by", json_string(alarm->acknowledged_by));
    json_object_set_new(record, "acknowledged_from", json_string(alarm->acknowledged_from));
    json_object_set_new(record, "attended_ms", ms_or_null(alarm->attended_ms));
    json_object_set_new(record, "reset_ms", ms_or_null(alarm->reset_ms));
    json_object_set_new(record, "reset_by", json_string(alarm->reset_by));
    json_object_set_new(record, "reset_from", json_string(alarm->reset_from));
    json_object_set_new(record, "escalation_level", json_integer(alarm->escalation_level));
    json_object_set_new(record, "escalations", escalations);
    json_object_set_new(record, "reannunciations", json_integer(alarm->reannunciations));
    json_object_set_new(record, "reannunciate_due_ms", ms_or_null(alarm->reannunciate_due_ms));
    json_object_set_new(record, "paging", paging_to_json(&alarm->paging));
    return record;
}

static void copy_text(char *out, size_t len, const json_t *record, const char *key)
{
    const char *text = json_string_value(json_object_get(record, key));
    snprintf(out, len, "%s", text ? text : "");
}

static int64_t read_ms(const json_t *record, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(record, key));
}

int alarm_restore(struct wg_alarm_table *table, const json_t *record)
{
    const char *id = json_string_value(json_object_get(record, "id"));
    const char *state = json_string_value(json_object_get(record, "state"));
    if (!json_is_object(record) || !id || strlen(id) != 36 || !state ||
        !json_is_integer(json_object_get(record, "raised_ms")))
        return -1;
    struct wg_alarm alarm = {0};
    memcpy(alarm.id, id, 37);
    alarm.update = read_ms(record, "update");
    for (int s = 0; s < 4; s++)
        if (strcmp(state, state_names[s]) == 0)
            alarm.state = (enum wg_alarm_state)s;
    if (alarm.state == WG_ALARM_RESET)
        return 0; /* nothing to restore */
    alarm.priority = (int)json_integer_value(json_object_get(record, "priority_level"));
    copy_text(alarm.kind, sizeof alarm.kind, record, "kind");
    const char *risk = json_string_value(json_object_get(record, "risk"));
    alarm.risk = risk && risk_from_name(risk) > 0 ? risk_from_name(risk) : 0;
    copy_text(alarm.rule, sizeof alarm.rule, record, "rule");
    copy_text(alarm.device, sizeof alarm.device, record, "device");
    copy_text(alarm.point, sizeof alarm.point, record, "point");
    copy_text(alarm.zone, sizeof alarm.zone, record, "zone");
    copy_text(alarm.room, sizeof alarm.room, record, "room");
    copy_text(alarm.bed, sizeof alarm.bed, record, "bed");
    copy_text(alarm.resident, sizeof alarm.resident, record, "resident");
    copy_text(alarm.detail, sizeof alarm.detail, record, "detail");
    copy_text(alarm.place, sizeof alarm.place, record, "place");
    copy_text(alarm.detail_code, sizeof alarm.detail_code, record, "detail_code");
    json_t *args = json_object_get(record, "detail_args");
    char *args_text = json_is_object(args) ? json_dumps(args, JSON_COMPACT) : NULL;
    if (args_text && strlen(args_text) < sizeof alarm.detail_args)
        memcpy(alarm.detail_args, args_text, strlen(args_text) + 1);
    free(args_text);
    alarm.fire_zone = (int)json_integer_value(json_object_get(record, "fire_zone"));
    alarm.fire_loop = (int)json_integer_value(json_object_get(record, "fire_loop"));
    alarm.fire_address = (int)json_integer_value(json_object_get(record, "fire_address"));
    const char *mode = json_string_value(json_object_get(record, "reset_mode"));
    alarm.reset_mode =
        mode && strcmp(mode, "normal") == 0 ? WG_RESET_ON_NORMAL : WG_RESET_AT_ORIGIN;
    copy_text(alarm.reset_at, sizeof alarm.reset_at, record, "reset_at");
    alarm.condition_active = json_is_true(json_object_get(record, "condition_active"));
    alarm.raised_ms = read_ms(record, "raised_ms");
    alarm.acknowledged_ms = read_ms(record, "acknowledged_ms");
    copy_text(alarm.acknowledged_by, sizeof alarm.acknowledged_by, record, "acknowledged_by");
    copy_text(alarm.acknowledged_from, sizeof alarm.acknowledged_from, record, "acknowledged_from");
    alarm.attended_ms = read_ms(record, "attended_ms");
    alarm.reset_ms = 0;
    alarm.escalation_level = (int)json_integer_value(json_object_get(record, "escalation_level"));
    if (alarm.escalation_level < 0 || alarm.escalation_level >= WG_ALARM_MAX_LEVEL)
        alarm.escalation_level = 0;
    size_t index;
    json_t *step;
    json_array_foreach(json_object_get(record, "escalations"), index, step)
    {
        json_int_t level = json_integer_value(json_object_get(step, "level"));
        if (level > 0 && level < WG_ALARM_MAX_LEVEL)
            alarm.escalated_ms[level] = read_ms(step, "ms");
    }
    alarm.reannunciations = (int)json_integer_value(json_object_get(record, "reannunciations"));
    alarm.reannunciate_due_ms = read_ms(record, "reannunciate_due_ms");
    paging_from_json(&alarm.paging, json_object_get(record, "paging"));
    if (alarm_find(table, alarm.id))
        return 0;
    return insert(table, &alarm) ? 0 : -1;
}
