/* The writes the core hands the store writer: one allocation each, the
 * strings copied in, so a write is freed with one free(). */
#include "store/store_writer.h"

#include <stdlib.h>
#include <string.h>

static size_t text_size(const char *text)
{
    return text ? strlen(text) + 1 : 0;
}

static char *copy_into(char **cursor, const char *text)
{
    if (!text)
        return NULL;
    size_t len = strlen(text) + 1;
    char *start = *cursor;
    memcpy(start, text, len);
    *cursor += len;
    return start;
}

static struct wg_write *new_write(enum wg_write_type type, enum wg_write_class write_class,
                                  size_t extra, char **cursor)
{
    struct wg_write *write = calloc(1, sizeof *write + extra);
    if (!write)
        return NULL;
    write->type = type;
    write->write_class = write_class;
    write->bytes = sizeof *write + extra;
    *cursor = (char *)(write + 1);
    return write;
}

struct wg_write *wg_write_event(const struct wg_event *proto, const char *body,
                                enum wg_write_class write_class)
{
    const char *parts[] = {proto->kind, proto->alarm_id, proto->device,   proto->zone,
                           proto->room, proto->bed,      proto->resident, body ? body : "{}"};
    size_t extra = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        extra += text_size(parts[i]);
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_EVENT, write_class, extra, &cursor);
    if (!write)
        return NULL;
    struct wg_event *event = &write->u.event.event;
    *event = (struct wg_event){.ts_ms = proto->ts_ms,
                               .kind = copy_into(&cursor, proto->kind),
                               .priority = proto->priority,
                               .alarm_id = copy_into(&cursor, proto->alarm_id),
                               .device = copy_into(&cursor, proto->device),
                               .zone = copy_into(&cursor, proto->zone),
                               .room = copy_into(&cursor, proto->room),
                               .bed = copy_into(&cursor, proto->bed),
                               .resident = copy_into(&cursor, proto->resident),
                               .body = copy_into(&cursor, body ? body : "{}"),
                               .uplink = proto->uplink};
    if (proto->id[0])
        memcpy(event->id, proto->id, sizeof event->id);
    else
        event_new_id(event);
    return write;
}

struct wg_write *wg_write_readings(const char *device, size_t count, const char *const *points,
                                   const struct wg_reading_aggregate *aggregates)
{
    size_t extra = count * sizeof(struct wg_point_aggregate) + text_size(device);
    for (size_t i = 0; i < count; i++)
        extra += text_size(points[i]);
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_READING, WG_CLASS_READING, extra, &cursor);
    if (!write)
        return NULL;
    /* The array first: the write's tail is aligned for it. */
    struct wg_point_aggregate *rows = (struct wg_point_aggregate *)cursor;
    cursor += count * sizeof *rows;
    write->u.reading.device = copy_into(&cursor, device);
    write->u.reading.count = count;
    write->u.reading.points = rows;
    for (size_t i = 0; i < count; i++)
        rows[i] = (struct wg_point_aggregate){copy_into(&cursor, points[i]), aggregates[i]};
    return write;
}

struct wg_write *wg_write_audit(int64_t ts_ms, const char *actor, const char *origin,
                                const char *action, const char *target, const char *detail)
{
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_AUDIT, WG_CLASS_AUDIT,
                                       text_size(actor) + text_size(origin) + text_size(action) +
                                           text_size(target) + text_size(detail),
                                       &cursor);
    if (!write)
        return NULL;
    write->u.audit.ts_ms = ts_ms;
    write->u.audit.actor = copy_into(&cursor, actor);
    write->u.audit.origin = copy_into(&cursor, origin);
    write->u.audit.action = copy_into(&cursor, action);
    write->u.audit.target = copy_into(&cursor, target);
    write->u.audit.detail = copy_into(&cursor, detail);
    return write;
}

struct wg_write *wg_write_outbox_deletes(const int64_t *seqs, size_t count)
{
    char *cursor;
    struct wg_write *write =
        new_write(WG_WRITE_OUTBOX_DELETE, WG_CLASS_KEEP, count * sizeof *seqs, &cursor);
    if (!write)
        return NULL;
    write->u.deletes.count = count;
    write->u.deletes.seqs = (int64_t *)(void *)cursor;
    memcpy(write->u.deletes.seqs, seqs, count * sizeof *seqs);
    return write;
}

struct wg_write *wg_write_outbox(const struct wg_outbox_append *row,
                                 enum wg_write_class write_class)
{
    char *cursor;
    struct wg_write *write = new_write(WG_WRITE_OUTBOX, write_class,
                                       text_size(row->kind) + row->payload_len + 1, &cursor);
    if (!write)
        return NULL;
    write->u.outbox = *row;
    write->u.outbox.kind = copy_into(&cursor, row->kind);
    memcpy(cursor, row->payload, row->payload_len);
    cursor[row->payload_len] = '\0';
    write->u.outbox.payload = cursor;
    return write;
}

void wg_write_free(struct wg_write *write)
{
    free(write);
}

void wg_write_free_list(struct wg_write *first)
{
    while (first) {
        struct wg_write *next = first->next;
        free(first);
        first = next;
    }
}
