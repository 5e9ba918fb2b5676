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
 * daemon: the caller reloads after a successful change. */
#ifndef WG_CONFIG_EDIT_H
#define WG_CONFIG_EDIT_H

#include <jansson.h>
#include <stddef.h>

#include "cfgtree.h"

enum wg_edit_op {
    WG_EDIT_DEVICE_ADD,     /* value: device object; id must be new */
    WG_EDIT_DEVICE_UPDATE,  /* id + value: device object (id in it optional, must match) */
    WG_EDIT_DEVICE_DELETE,  /* id */
    WG_EDIT_RESIDENT_ADD,   /* value: resident object */
    WG_EDIT_RESIDENT_UPDATE,/* id + value */
    WG_EDIT_RESIDENT_DELETE,/* id */
    WG_EDIT_ROOM_BEDS,      /* id (room) + value: {"beds": ["A", "B"]} */
};

struct wg_edit_result {
    int status;        /* 200/201 done; 400 bad input; 404 unknown id; 409 exists; 422 invalid; 500 I/O */
    char error[512];   /* for people, when status >= 400 */
    char field[64];    /* the JSON field at fault, "" when none */
    struct wg_diag details; /* 422: the loader's messages (file:line:col: ...) */
    json_t *before;    /* the item's JSON before the change (NULL for add), for the audit */
    json_t *after;     /* ... and after (NULL for delete) */
};

/* Device object fields: id, label, bus, address, profile, room, bed, spot,
 * poll_ms, enabled (see docs/api.md). Resident: id, label, bed, care_level,
 * risks, night. Applies `op` to the file at config_path. Always fills
 * `result` (free it with config_edit_result_free). Returns 0 when the file
 * was changed, -1 otherwise. */
int config_edit_apply(const char *config_path, enum wg_edit_op op, const char *id,
                      const json_t *value, struct wg_edit_result *result);
void config_edit_result_free(struct wg_edit_result *result);

/* The text transformation alone, for tests: the new file text for `op` on
 * `text` (a whole config file whose name is `path`), without validating or
 * writing. NULL with result->status/error set when the input is refused. */
char *config_edit_text(const char *path, const char *text, enum wg_edit_op op, const char *id,
                       const json_t *value, struct wg_edit_result *result);

#endif
