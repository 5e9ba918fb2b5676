/* Private to the configuration edits (config_edit_*.c): the fields the API
 * manages, the text being edited and its splices, the string buffer the
 * YAML is written into, and the pieces each file offers the others.
 * Nothing outside gateway/config/ includes it; the public API is
 * config_edit.h. */
#ifndef WG_CONFIG_EDIT_INTERNAL_H
#define WG_CONFIG_EDIT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/cfgtree.h"
#include "config/config_edit.h"

/* ---- results (config_edit_text.c) ---------------------------------------------------------- */

void edit_result_init(struct wg_edit_result *result);
/* Sets the status, the field at fault ("" for none) and the message. */
__attribute__((format(printf, 4, 5))) void edit_refuse(struct wg_edit_result *result, int status,
                                                       const char *field, const char *fmt, ...);

/* ---- a growing string (config_edit_yaml.c) ------------------------------------------------- */

struct sbuf {
    char *data;
    size_t length;
    size_t capacity;
    bool failed; /* out of memory: everything after is dropped */
};

void sb_add(struct sbuf *sb, const char *text, size_t length);
void sb_str(struct sbuf *sb, const char *text);
void sb_spaces(struct sbuf *sb, size_t count);
__attribute__((format(printf, 2, 3))) void sb_printf(struct sbuf *sb, const char *fmt, ...);
/* Hands the text over (NULL after a failure); the buffer is empty afterwards. */
char *sb_take(struct sbuf *sb);

/* ---- the fields the API manages (config_edit_fields.c) ------------------------------------- */

enum field_type { FIELD_STRING, FIELD_INTEGER, FIELD_BOOL, FIELD_STRINGS };

struct field {
    const char *name;
    enum field_type type;
    bool required;
};

struct item_kind {
    const char *section; /* the top-level list */
    const char *what;    /* for messages */
    const struct field *fields;
};

extern const struct field edit_beds_fields[]; /* a room's beds: {"beds"} */

const struct field *edit_field_named(const struct field *fields, const char *name);
/* The request body against `fields`: 400 for anything not as the API says.
 * `path_id` is the id of an update (the body's id is optional there). */
bool edit_check_body(const struct field *fields, const char *what, const json_t *value,
                     const char *path_id, struct wg_edit_result *result);
/* Residents are pseudonymous: "R-" and 2 to 16 of A-Z, 0-9 (docs/api.md). */
bool edit_resident_id_ok(const char *id);
bool edit_op_adds(enum wg_edit_op op);
bool edit_op_deletes(enum wg_edit_op op);
/* The devices or residents an operation edits; NULL for a room's beds. */
const struct item_kind *edit_op_kind(enum wg_edit_op op);

/* ---- writing YAML scalars (config_edit_yaml.c) --------------------------------------------- */

/* Plain when YAML reads it back as the same string, double-quoted otherwise. */
void yaml_write_string(struct sbuf *sb, const char *text);
void yaml_write_strings(struct sbuf *sb, const json_t *array); /* a flow list: [a, b] */
void yaml_write_value(struct sbuf *sb, const struct field *field, const json_t *value);

/* ---- the text and its changes (config_edit_items.c) ---------------------------------------- */

/* Replace [from, to) of the text with `text` (owned). */
struct splice {
    size_t from, to;
    char *text;
};

#define MAX_SPLICES 2

struct edit {
    const char *path;
    const char *text;
    size_t length;
    const char *eol; /* the file's line ending */
    struct wg_cfg_node *root;
    struct splice splices[MAX_SPLICES];
    size_t splice_count;
    size_t item_splice; /* the splice holding the changed item; SIZE_MAX for a deletion */
    struct wg_edit_result *result;
};

/* Lines of the changed item in the new text, to name the field of a loader
 * message that points into it. */
struct span {
    int first_line, last_line; /* 0: none */
};

/* The item of `list` whose id is `id` (its index in *index when not NULL), or NULL. */
const struct wg_cfg_node *edit_find_item(const struct wg_cfg_node *list, const char *id,
                                         size_t *index);
/* The room `id` in any zone, or NULL. */
const struct wg_cfg_node *edit_find_room(const struct wg_cfg_node *root, const char *id);
/* The operations: each adds its splices to `edit`, or refuses in edit->result. */
bool edit_add_item(struct edit *edit, const struct item_kind *kind, const json_t *value);
bool edit_update_item(struct edit *edit, const struct item_kind *kind, const char *id,
                      const json_t *value);
bool edit_delete_item(struct edit *edit, const struct item_kind *kind, const char *id);
bool edit_room_beds(struct edit *edit, const char *id, const json_t *value);

/* ---- refusals about beds (config_edit_beds.c) ---------------------------------------------- */

/* Moving a resident into a bed someone else lies in names that someone: the
 * occupant, not the resident being edited (whichever comes first in the file). */
bool edit_bed_free(struct edit *edit, const char *id, const json_t *value);
/* Taking a bed away from a room while a resident lies in it names the resident. */
bool edit_beds_kept_free(struct edit *edit, const char *room, const json_t *value);

/* ---- the audit (config_edit_audit.c) ------------------------------------------------------- */

/* Sets edit->result's before and after (the managed fields, as JSON). */
void edit_audit_json(struct edit *edit, enum wg_edit_op op, const char *id, const json_t *value);

/* ---- the text transformation (config_edit_text.c) ------------------------------------------ */

/* config_edit_text() on a text of `length` bytes; `span` (may be NULL)
 * receives the lines of the changed item in the new text. */
char *edit_text(const char *path, const char *text, size_t length, enum wg_edit_op op,
                const char *id, const json_t *value, struct wg_edit_result *result,
                struct span *span);

#endif
