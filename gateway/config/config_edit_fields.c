/* The fields the manager API edits (devices, residents, a room's beds),
 * which item kind an operation edits, and the check of a request's JSON
 * body against them (400 with the field at fault). */
#include "config/config_edit_internal.h"

#include <stdio.h>
#include <string.h>

/* ---- the fields the API manages ------------------------------------------------------------- */

/* In the order they are written. */
static const struct field device_fields[] = {
    {"id", FIELD_STRING, true},        {"label", FIELD_STRING, false},
    {"bus", FIELD_STRING, true},       {"address", FIELD_INTEGER, true},
    {"profile", FIELD_STRING, true},   {"room", FIELD_STRING, false},
    {"bed", FIELD_STRING, false},      {"spot", FIELD_STRING, false},
    {"poll_ms", FIELD_INTEGER, false}, {"enabled", FIELD_BOOL, false},
    {NULL, FIELD_STRING, false},
};

static const struct field resident_fields[] = {
    {"id", FIELD_STRING, true},      {"label", FIELD_STRING, false},
    {"bed", FIELD_STRING, true},     {"care_level", FIELD_INTEGER, true},
    {"risks", FIELD_STRINGS, false}, {"night", FIELD_STRING, false},
    {NULL, FIELD_STRING, false},
};

const struct field edit_beds_fields[] = {
    {"beds", FIELD_STRINGS, true},
    {NULL, FIELD_STRING, false},
};

static const struct item_kind device_kind = {"devices", "device", device_fields};
static const struct item_kind resident_kind = {"residents", "resident", resident_fields};

const struct field *edit_field_named(const struct field *fields, const char *name)
{
    for (const struct field *field = fields; field->name; field++)
        if (strcmp(field->name, name) == 0)
            return field;
    return NULL;
}

static const char *type_expected(enum field_type type)
{
    switch (type) {
    case FIELD_STRING:
        return "a string";
    case FIELD_INTEGER:
        return "an integer";
    case FIELD_BOOL:
        return "true or false";
    case FIELD_STRINGS:
        return "a list of strings";
    }
    return "?";
}

static const char *json_type_word(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "true or false";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static bool json_text_ok(const json_t *value)
{
    return strlen(json_string_value(value)) == json_string_length(value);
}

static bool type_ok(const struct field *field, const json_t *value)
{
    switch (field->type) {
    case FIELD_STRING:
        return json_is_string(value) && json_text_ok(value);
    case FIELD_INTEGER:
        return json_is_integer(value);
    case FIELD_BOOL:
        return json_is_boolean(value);
    case FIELD_STRINGS:
        if (!json_is_array(value))
            return false;
        for (size_t i = 0; i < json_array_size(value); i++) {
            const json_t *item = json_array_get(value, i);
            if (!json_is_string(item) || !json_text_ok(item))
                return false;
        }
        return true;
    }
    return false;
}

/* The request body against `fields`: 400 for anything not as the API says.
 * `path_id` is the id of an update (the body's id is optional there). */
bool edit_check_body(const struct field *fields, const char *what, const json_t *value,
                     const char *path_id, struct wg_edit_result *result)
{
    if (!json_is_object(value)) {
        edit_refuse(result, 400, NULL, "the body must be a JSON object with the %s's fields", what);
        return false;
    }
    for (void *it = json_object_iter((json_t *)value); it;
         it = json_object_iter_next((json_t *)value, it)) {
        const char *name = json_object_iter_key(it);
        if (edit_field_named(fields, name))
            continue;
        if (strcmp(name, "settings") == 0 && fields == device_fields) {
            edit_refuse(result, 400, name,
                        "settings: a device's driver settings are not edited here (they stay as "
                        "written in the file)");
            return false;
        }
        char list[256];
        size_t used = 0;
        list[0] = '\0';
        for (const struct field *field = fields; field->name && used < sizeof list; field++) {
            int wrote = snprintf(list + used, sizeof list - used, "%s%s",
                                 field == fields ? "" : ", ", field->name);
            if (wrote < 0)
                break;
            used += (size_t)wrote;
        }
        edit_refuse(result, 400, name, "unknown field \"%.64s\" in %s (expected one of: %s)", name,
                    what, list);
        return false;
    }
    for (const struct field *field = fields; field->name; field++) {
        const json_t *member = json_object_get(value, field->name);
        if (!member || (json_is_null(member) && !field->required))
            continue;
        if (!type_ok(field, member)) {
            const char *got = json_type_word(member);
            if (json_is_string(member) && !json_text_ok(member))
                got = "a string with a NUL character";
            else if (json_is_array(member) && field->type == FIELD_STRINGS)
                got = "a list with something other than strings";
            edit_refuse(result, 400, field->name, "%s: expected %s, got %s", field->name,
                        type_expected(field->type), got);
            return false;
        }
    }
    for (const struct field *field = fields; field->name; field++) {
        const json_t *member = json_object_get(value, field->name);
        bool optional_id = path_id && strcmp(field->name, "id") == 0;
        if (field->required && !optional_id && (!member || json_is_null(member))) {
            edit_refuse(result, 400, field->name, "missing required field \"%s\" in %s",
                        field->name, what);
            return false;
        }
    }
    const json_t *body_id = json_object_get(value, "id");
    if (path_id && body_id && !json_is_null(body_id) &&
        strcmp(json_string_value(body_id), path_id) != 0) {
        edit_refuse(result, 400, "id",
                    "id: a %s's id cannot be changed (\"%.64s\" in the body, \"%.64s\")", what,
                    json_string_value(body_id), path_id);
        return false;
    }
    return true;
}

/* Residents are pseudonymous: "R-" and 2 to 16 of A-Z, 0-9 (docs/api.md). */
bool edit_resident_id_ok(const char *id)
{
    size_t length = strlen(id);
    if (length < 4 || length > 18 || strncmp(id, "R-", 2) != 0)
        return false;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return true;
}

bool edit_op_adds(enum wg_edit_op op)
{
    return op == WG_EDIT_DEVICE_ADD || op == WG_EDIT_RESIDENT_ADD;
}

bool edit_op_deletes(enum wg_edit_op op)
{
    return op == WG_EDIT_DEVICE_DELETE || op == WG_EDIT_RESIDENT_DELETE;
}

const struct item_kind *edit_op_kind(enum wg_edit_op op)
{
    switch (op) {
    case WG_EDIT_DEVICE_ADD:
    case WG_EDIT_DEVICE_UPDATE:
    case WG_EDIT_DEVICE_DELETE:
        return &device_kind;
    case WG_EDIT_RESIDENT_ADD:
    case WG_EDIT_RESIDENT_UPDATE:
    case WG_EDIT_RESIDENT_DELETE:
        return &resident_kind;
    case WG_EDIT_ROOM_BEDS:
        break;
    }
    return NULL;
}

/* The request alone, before the file is read: 400 for anything wrong in it. */
