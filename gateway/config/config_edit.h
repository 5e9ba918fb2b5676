/* Changes to the configuration file made from the manager UI.
 *
 * The file is a commented, hand-edited YAML document, so a change edits its
 * text, not a re-serialisation of the whole tree: the node of one device,
 * resident or room is replaced (or a new one appended after the last item
 * of its list, in the list's style), and every other byte, comment and
 * blank line stays as it was. The new text is then checked by config_load()
 * (the same code as at start-up), from a temporary file beside the original
 * so relative paths resolve the same way, and only if it passes is it
 * written: temporary file, fsync, the previous version kept as
 * "<file>.prev", rename over the file, fsync of the directory. A crash at
 * any moment leaves either the old or the new file, complete.
 *
 * The input is JSON from the API. Unknown fields, wrong types and missing
 * required fields are refused before any text is made (status 400); a text
 * the loader refuses gives 422 with its messages, whose file names are the
 * real file's, not the temporary one. Nothing here touches the running
 * daemon: the caller reloads after a successful change.
 *
 * How items are written. Keys go in the order of the field lists below,
 * then any key the API does not manage (a device's `settings:`), copied
 * from the file as written. An item written as a one-line flow mapping
 * ("- {id: x, ...}") is replaced by one; a block-style item ("- id: x" and
 * a line per key) by a block-style one at the same indentation (comments
 * between its lines go with it; one after its last line stays). Strings are
 * written plain when YAML reads them back as the same string, else in double
 * quotes with escapes ("101", "yes", "a: b", "-x"). An add goes on a new
 * line after the last item, in that item's style; to an empty or missing
 * list it starts a block list ("devices: []" becomes "devices:" and the
 * item line). A delete removes the item's lines, with a comment on them,
 * and nothing else. Lists written in flow style ([{...}, {...}]) are edited
 * in place. A layout this does not handle (an item that is an alias, text
 * after an item on its line) is refused with 500 and the place named.
 *
 * Updates replace: every field the API manages takes the body's value, and
 * one left out (or null) is removed from the item, so it takes its default
 * (PUT semantics). Null is accepted for any optional field (a resident's
 * "night": null means the site's window). */
#ifndef WG_CONFIG_EDIT_H
#define WG_CONFIG_EDIT_H

#include <jansson.h>
#include <stddef.h>

#include "config/cfgtree.h"

enum wg_edit_op {
    WG_EDIT_DEVICE_ADD,      /* value: device object; id must be new */
    WG_EDIT_DEVICE_UPDATE,   /* id + value: device object (id in it optional, must match) */
    WG_EDIT_DEVICE_DELETE,   /* id */
    WG_EDIT_RESIDENT_ADD,    /* value: resident object */
    WG_EDIT_RESIDENT_UPDATE, /* id + value */
    WG_EDIT_RESIDENT_DELETE, /* id */
    WG_EDIT_ROOM_BEDS,       /* id (room) + value: {"beds": ["A", "B"]} */
};

struct wg_edit_result {
    /* 200/201 done; 400 bad input; 404 unknown id or room; 409 the id exists
     * (add), or the file changed on disk while the change was made; 422 the
     * loader refused the new text; 500 the file cannot be read, parsed,
     * written or edited here (the error names the path and the reason). */
    int status;
    char error[512];        /* for people, when status >= 400 */
    char field[64];         /* the JSON field at fault, "" when none (422: when a message
                               points into the changed item and names a field) */
    struct wg_diag details; /* 422: the loader's messages (file:line:col: ...); 500 when the
                               current file cannot be parsed: libyaml's */
    json_t *before;         /* the item's JSON before the change (NULL for add), for the audit */
    json_t *after;          /* ... and after (NULL for delete); a room: {"id", "beds"} */
};

/* Device fields, in the order written: id, label, bus, address, profile,
 * room, bed, spot, poll_ms, enabled (see docs/api.md); required: id, bus,
 * address, profile. Resident: id, label, bed, care_level, risks, night;
 * required: id, bed, care_level (the loader requires care_level too); a new
 * resident's id must be "R-" and 2-16 of A-Z 0-9. Types are checked here,
 * values (ranges, references, id syntax, windows) by the loader.
 *
 * Applies `op` to the file at config_path. The file must be a regular file
 * (a symbolic link is refused: the rename would replace the link) that may
 * be written, in a directory where a temporary file can be made. On any
 * failure the file and <file>.prev are as they were and no temporary file
 * is left. Always fills `result` (free it with config_edit_result_free).
 * Returns 0 when the file was changed, -1 otherwise. Not for concurrent use
 * on one file: the API makes the changes one at a time, on a query worker
 * (api.c), and reloads on the core thread between them. */
int config_edit_apply(const char *config_path, enum wg_edit_op op, const char *id,
                      const json_t *value, struct wg_edit_result *result);
void config_edit_result_free(struct wg_edit_result *result);

/* Puts <file>.prev back as the file (rename, fsync of the directory), after
 * a change config_edit_apply made was refused at the reload. 0, or -1 with
 * the reason in err. Both calls do file I/O: not for the core thread. */
int config_edit_restore(const char *config_path, char *err, size_t err_len);

/* The text transformation alone, for tests: the new file text for `op` on
 * `text` (a whole config file whose name is `path`), without validating or
 * writing. Fills `result` as config_edit_apply does (status 200/201 and
 * before/after on success); NULL with result->status/error set when the
 * input is refused. The caller frees the text and the result. */
char *config_edit_text(const char *path, const char *text, enum wg_edit_op op, const char *id,
                       const json_t *value, struct wg_edit_result *result);

#endif
