/* Refusals the manager can act on, about beds: a bed already taken by
 * another resident, and beds that must stay while a resident lies in them
 * (422 with a code and its arguments). */
#include "config/config_edit_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- refusals the manager can act on -----------------------------------------------------------
 */

/* A 422 whose one problem is `code` with its arguments (a JSON object,
 * taken), for the field at fault; the message names no file. */
static void refuse_problem(struct wg_edit_result *result, const char *field, const char *code,
                           json_t *args, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void refuse_problem(struct wg_edit_result *result, const char *field, const char *code,
                           json_t *args, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result->error, sizeof result->error, fmt, ap);
    va_end(ap);
    result->status = 422;
    snprintf(result->field, sizeof result->field, "%s", field);
    diag_pos(&result->details, NULL, 0, 0, "%s", result->error);
    diag_code(&result->details, code, "o", args ? args : json_object());
    snprintf(result->details.entries[result->details.count - 1].field,
             sizeof result->details.entries[0].field, "%s", field);
}

/* The resident (not `except`) whose bed is `bed`, or NULL. */
static const struct wg_cfg_node *occupant(const struct wg_cfg_node *root, const char *bed,
                                          const char *except)
{
    const struct wg_cfg_node *residents = cfg_get(root, "residents");
    for (size_t i = 0; bed && i < cfg_seq_len(residents); i++) {
        const struct wg_cfg_node *resident = cfg_seq_at(residents, i);
        const char *id = cfg_scalar(cfg_get(resident, "id"));
        const char *in = cfg_scalar(cfg_get(resident, "bed"));
        if (in && strcmp(in, bed) == 0 && (!except || !id || strcmp(id, except) != 0))
            return resident;
    }
    return NULL;
}

/* Moving a resident into a bed someone else lies in names that someone: the
 * occupant, not the resident being edited (whichever comes first in the file). */
bool edit_bed_free(struct edit *edit, const char *id, const json_t *value)
{
    const char *bed = json_string_value(json_object_get(value, "bed"));
    const char *self = id ? id : json_string_value(json_object_get(value, "id"));
    const struct wg_cfg_node *other = occupant(edit->root, bed, self);
    if (!other)
        return true;
    const char *other_id = cfg_scalar(cfg_get(other, "id"));
    const char *label = cfg_scalar(cfg_get(other, "label"));
    refuse_problem(edit->result, "bed", "bed_taken",
                   json_pack("{s:s, s:s?, s:s?, s:s?}", "bed", bed, "occupant",
                             label && *label ? label : other_id, "resident", other_id, "label",
                             label && *label ? label : NULL),
                   "bed %.64s is taken by resident %.64s%s%.64s%s: move or remove that resident "
                   "first",
                   bed, other_id ? other_id : "?", label && *label ? " (" : "",
                   label && *label ? label : "", label && *label ? ")" : "");
    return false;
}

/* Taking a bed away from a room while a resident lies in it names the resident. */
bool edit_beds_kept_free(struct edit *edit, const char *room, const json_t *value)
{
    const struct wg_cfg_node *old = cfg_get(edit_find_room(edit->root, room), "beds");
    for (size_t i = 0; i < cfg_seq_len(old); i++) {
        const char *label = cfg_scalar(cfg_seq_at(old, i));
        bool kept = false;
        size_t index;
        const json_t *bed;
        json_array_foreach(json_object_get(value, "beds"), index, bed) kept =
            kept || (label && json_is_string(bed) && strcmp(json_string_value(bed), label) == 0);
        if (kept || !label)
            continue;
        char bed_id[160];
        snprintf(bed_id, sizeof bed_id, "%s-%s", room, label);
        const struct wg_cfg_node *resident = occupant(edit->root, bed_id, NULL);
        if (!resident)
            continue;
        const char *resident_id = cfg_scalar(cfg_get(resident, "id"));
        const char *name = cfg_scalar(cfg_get(resident, "label"));
        refuse_problem(edit->result, "beds", "bed_occupied",
                       json_pack("{s:s, s:s?, s:s?, s:s?}", "bed", bed_id, "occupant",
                                 name && *name ? name : resident_id, "resident", resident_id,
                                 "label", name && *name ? name : NULL),
                       "bed %s cannot be taken away: resident %.64s%s%.64s%s lies in it; move "
                       "them first",
                       bed_id, resident_id ? resident_id : "?", name && *name ? " (" : "",
                       name && *name ? name : "", name && *name ? ")" : "");
        return false;
    }
    return true;
}
