/* config_edit_text(): one edit of the configuration's text, in memory. The
 * request is checked, the file parsed, the operation (config_edit_items.c)
 * turns into splices of the text, the splices are applied, and the result
 * carries the audit's before and after; nothing is written here
 * (config_edit_file.c writes). */
#include "config/config_edit_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- results -------------------------------------------------------------------------------- */

void edit_result_init(struct wg_edit_result *result)
{
    memset(result, 0, sizeof *result);
    diag_init(&result->details);
}

void config_edit_result_free(struct wg_edit_result *result)
{
    if (!result)
        return;
    diag_free(&result->details);
    json_decref(result->before);
    json_decref(result->after);
    result->before = NULL;
    result->after = NULL;
}

__attribute__((format(printf, 4, 5))) void edit_refuse(struct wg_edit_result *result, int status,
                                                       const char *field, const char *fmt, ...)
{
    result->status = status;
    snprintf(result->field, sizeof result->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, ap);
    va_end(ap);
}

/* ---- the text transformation ---------------------------------------------------------------- */

static bool check_request(enum wg_edit_op op, const char *id, const json_t *value,
                          struct wg_edit_result *result)
{
    const struct item_kind *kind = edit_op_kind(op);
    if (op != WG_EDIT_ROOM_BEDS && !kind) {
        edit_refuse(result, 400, NULL, "unknown change (%d)", (int)op);
        return false;
    }
    if (!edit_op_adds(op) && (!id || !*id)) {
        edit_refuse(result, 400, "id", "the %s's id is missing", kind ? kind->what : "room");
        return false;
    }
    if (edit_op_deletes(op))
        return true;
    if (op == WG_EDIT_ROOM_BEDS)
        return edit_check_body(edit_beds_fields, "room's beds", value, NULL, result);
    if (!edit_check_body(kind->fields, kind->what, value, edit_op_adds(op) ? NULL : id, result))
        return false;
    const char *body_id = json_string_value(json_object_get(value, "id"));
    if (op == WG_EDIT_RESIDENT_ADD && !edit_resident_id_ok(body_id)) {
        edit_refuse(result, 400, "id",
                    "id: a resident's id is pseudonymous: \"R-\" and 2 to 16 of A-Z and 0-9, got "
                    "\"%.64s\"",
                    body_id);
        return false;
    }
    return true;
}

static int splice_order(const void *a, const void *b)
{
    const struct splice *first = a, *second = b;
    return first->from < second->from ? -1 : first->from > second->from;
}

static char *apply_splices(struct edit *edit, struct span *span)
{
    struct splice *item =
        edit->item_splice < edit->splice_count ? &edit->splices[edit->item_splice] : NULL;
    size_t item_from = item ? item->from : 0;
    const char *item_text = item ? item->text : NULL;
    qsort(edit->splices, edit->splice_count, sizeof edit->splices[0], splice_order);
    struct sbuf sb = {0};
    size_t at = 0, item_at = SIZE_MAX;
    for (size_t i = 0; i < edit->splice_count; i++) {
        struct splice *splice = &edit->splices[i];
        sb_add(&sb, edit->text + at, splice->from - at);
        if (splice->text == item_text && splice->from == item_from)
            item_at = sb.length;
        sb_str(&sb, splice->text);
        at = splice->to;
    }
    sb_add(&sb, edit->text + at, edit->length - at);
    char *text = sb_take(&sb);
    if (text && span && item_text && item_at != SIZE_MAX) {
        /* An insertion starting with a line break begins on the next line. */
        const char *start = item_text;
        while (*start == '\r' || *start == '\n')
            start++;
        int line = 1;
        for (size_t i = 0; i < item_at + (size_t)(start - item_text); i++)
            line += text[i] == '\n';
        span->first_line = line;
        for (const char *p = start; *p; p++)
            line += *p == '\n';
        span->last_line = line;
    }
    return text;
}

char *edit_text(const char *path, const char *text, size_t length, enum wg_edit_op op,
                const char *id, const json_t *value, struct wg_edit_result *result,
                struct span *span)
{
    if (span)
        *span = (struct span){0, 0};
    if (!check_request(op, id, value, result))
        return NULL;
    if (length >= 2 &&
        ((text[0] == '\xFF' && text[1] == '\xFE') || (text[0] == '\xFE' && text[1] == '\xFF'))) {
        edit_refuse(result, 500, NULL,
                    "%s is not UTF-8 (UTF-16); changes are made only to UTF-8 files", path);
        return NULL;
    }
    struct edit edit = {.path = path,
                        .text = text,
                        .length = length,
                        .eol = "\n",
                        .item_splice = SIZE_MAX,
                        .result = result};
    const char *newline = memchr(text, '\n', length);
    if (newline && newline > text && newline[-1] == '\r')
        edit.eol = "\r\n";
    struct wg_diag diag;
    diag_init(&diag);
    edit.root = cfgtree_parse(path, text, length, &diag);
    if (!edit.root || edit.root->type != WG_CFG_MAP) {
        edit_refuse(result, 500, NULL, "%s cannot be read as a configuration: %s", path,
                    diag.count ? diag.messages[0] : "the top level is not a mapping");
        result->details = diag;
        cfgtree_free(edit.root);
        return NULL;
    }
    diag_free(&diag);

    const struct item_kind *kind = edit_op_kind(op);
    bool ok = false;
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
        ok = edit_add_item(&edit, kind, value);
        break;
    case WG_EDIT_RESIDENT_ADD:
        ok = edit_bed_free(&edit, NULL, value) && edit_add_item(&edit, kind, value);
        break;
    case WG_EDIT_DEVICE_UPDATE:
        ok = edit_update_item(&edit, kind, id, value);
        break;
    case WG_EDIT_RESIDENT_UPDATE:
        ok = edit_bed_free(&edit, id, value) && edit_update_item(&edit, kind, id, value);
        break;
    case WG_EDIT_DEVICE_DELETE:
    case WG_EDIT_RESIDENT_DELETE:
        ok = edit_delete_item(&edit, kind, id);
        break;
    case WG_EDIT_ROOM_BEDS:
        ok = edit_find_room(edit.root, id)
                 ? edit_beds_kept_free(&edit, id, value) && edit_room_beds(&edit, id, value)
                 : edit_room_beds(&edit, id, value);
        break;
    }
    char *changed = NULL;
    if (ok) {
        edit_audit_json(&edit, op, id, value);
        changed = apply_splices(&edit, span);
        if (!changed || (!edit_op_adds(op) && !result->before) ||
            (!edit_op_deletes(op) && !result->after)) {
            free(changed);
            changed = NULL;
            edit_refuse(result, 500, NULL, "out of memory while changing %s", path);
        }
    }
    for (size_t i = 0; i < edit.splice_count; i++)
        free(edit.splices[i].text);
    cfgtree_free(edit.root);
    if (!changed) {
        json_decref(result->before);
        json_decref(result->after);
        result->before = result->after = NULL;
        return NULL;
    }
    result->status = edit_op_adds(op) ? 201 : 200;
    return changed;
}

char *config_edit_text(const char *path, const char *text, enum wg_edit_op op, const char *id,
                       const json_t *value, struct wg_edit_result *result)
{
    edit_result_init(result);
    return edit_text(path, text, strlen(text), op, id, value, result, NULL);
}
