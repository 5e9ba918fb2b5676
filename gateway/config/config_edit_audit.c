/* The audit of an edit: the managed fields of the item before (as the
 * loader reads the file) and after (as requested), as JSON. */
#include "config/config_edit_internal.h"

#include <string.h>

/* ---- the file's items as JSON (for the audit) ----------------------------------------------- */

static json_t *scalar_json(const struct field *field, const struct wg_cfg_node *node)
{
    if (node->type == WG_CFG_SEQ && field->type == FIELD_STRINGS) {
        json_t *array = json_array();
        for (size_t i = 0; array && i < node->count; i++) {
            const char *text = cfg_scalar(node->items[i]);
            if (json_array_append_new(array, text ? json_string(text) : json_null()) != 0) {
                json_decref(array);
                return NULL;
            }
        }
        return array;
    }
    if (node->type != WG_CFG_SCALAR || cfg_is_null(node))
        return json_null();
    long long number = 0;
    if (field->type == FIELD_INTEGER && !node->quoted && cfg_parse_integer(node->scalar, &number))
        return json_integer(number);
    bool flag = false;
    if (field->type == FIELD_BOOL && cfg_bool_value(node, &flag))
        return json_boolean(flag);
    return json_string(node->scalar);
}

/* The managed fields of an item as written in the file. NULL when out of memory. */
static json_t *item_json(const struct field *fields, const struct wg_cfg_node *item)
{
    json_t *object = json_object();
    for (const struct field *field = fields; object && field->name; field++) {
        const struct wg_cfg_node *node = cfg_get(item, field->name);
        if (node && json_object_set_new(object, field->name, scalar_json(field, node)) != 0) {
            json_decref(object);
            object = NULL;
        }
    }
    return object;
}

/* The item as the request makes it: its fields in order, nulls left out. */
static json_t *body_json(const struct field *fields, const json_t *value, const char *id)
{
    json_t *object = json_object();
    for (const struct field *field = fields; object && field->name; field++) {
        json_t *member = json_object_get(value, field->name);
        json_t *copy = NULL;
        if (id && strcmp(field->name, "id") == 0)
            copy = json_string(id);
        else if (member && !json_is_null(member))
            copy = json_deep_copy(member);
        else
            continue;
        if (json_object_set_new(object, field->name, copy) != 0) {
            json_decref(object);
            object = NULL;
        }
    }
    return object;
}

void edit_audit_json(struct edit *edit, enum wg_edit_op op, const char *id, const json_t *value)
{
    struct wg_edit_result *result = edit->result;
    if (op == WG_EDIT_ROOM_BEDS) {
        const struct wg_cfg_node *room = edit_find_room(edit->root, id);
        json_t *before = json_pack("{s:s}", "id", id);
        const struct wg_cfg_node *beds = cfg_get(room, "beds");
        if (before && beds &&
            json_object_set_new(before, "beds", scalar_json(&edit_beds_fields[0], beds)) != 0) {
            json_decref(before);
            before = NULL; /* out of memory: refused by the caller */
        }
        result->before = before;
        result->after = json_pack("{s:s, s:O}", "id", id, "beds", json_object_get(value, "beds"));
        return;
    }
    const struct item_kind *kind = edit_op_kind(op);
    if (!edit_op_adds(op))
        result->before =
            item_json(kind->fields, edit_find_item(cfg_get(edit->root, kind->section), id, NULL));
    if (!edit_op_deletes(op))
        result->after = body_json(kind->fields, value, edit_op_adds(op) ? NULL : id);
}
