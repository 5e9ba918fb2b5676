/* The edit operations: add, update or delete a device or resident, or set
 * a room's beds, as splices of the file's text that keep its layout
 * (indent, flow or block style, comments, line endings); a layout it cannot
 * edit safely is refused, naming where. */
#include "config/config_edit_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the text and its changes --------------------------------------------------------------- */

static bool add_splice(struct edit *edit, size_t from, size_t to, struct sbuf *text, bool item)
{
    char *owned = sb_take(text);
    if (!owned || edit->splice_count == MAX_SPLICES) {
        free(owned);
        edit_refuse(edit->result, 500, NULL, "out of memory while changing %s", edit->path);
        return false;
    }
    if (item)
        edit->item_splice = edit->splice_count;
    edit->splices[edit->splice_count++] = (struct splice){from, to, owned};
    return true;
}

static bool add_splice_text(struct edit *edit, size_t from, size_t to, const char *text)
{
    struct sbuf sb = {0};
    sb_str(&sb, text);
    return add_splice(edit, from, to, &sb, false);
}

static size_t line_start(const char *text, size_t at)
{
    while (at > 0 && text[at - 1] != '\n')
        at--;
    return at;
}

/* The '\n' ending the line of `at`, or the text's length. */
static size_t line_end(const struct edit *edit, size_t at)
{
    while (at < edit->length && edit->text[at] != '\n')
        at++;
    return at;
}

/* Only blanks and perhaps a comment between `from` and the end of its line. */
static bool rest_of_line_free(const struct edit *edit, size_t from)
{
    size_t at = from;
    while (at < edit->length &&
           (edit->text[at] == ' ' || edit->text[at] == '\t' || edit->text[at] == '\r'))
        at++;
    return at == edit->length || edit->text[at] == '\n' || edit->text[at] == '#';
}

/* Where a new line may go after the line of `at`: just past its '\n' (or at
 * the end of a text without a final line break; *needs_eol is then true). */
static size_t after_line(const struct edit *edit, size_t at, bool *needs_eol)
{
    size_t end = line_end(edit, at);
    *needs_eol = end == edit->length;
    return end == edit->length ? end : end + 1;
}

/* The '-' that introduces block-list item `item`: only blanks (and line
 * breaks) between them, only indentation before it. SIZE_MAX otherwise. */
static size_t item_dash(const struct edit *edit, const struct wg_cfg_node *item)
{
    const char *text = edit->text;
    size_t at = item->start_index;
    while (at > 0 && (text[at - 1] == ' ' || text[at - 1] == '\t' || text[at - 1] == '\n' ||
                      text[at - 1] == '\r'))
        at--;
    if (at == 0 || text[at - 1] != '-')
        return SIZE_MAX;
    size_t dash = at - 1;
    for (size_t p = line_start(text, dash); p < dash; p++)
        if (text[p] != ' ')
            return SIZE_MAX;
    return dash;
}

/* The column (0-based, in bytes: indentation is ASCII) where an item's text
 * begins: its first key for a block mapping. */
static size_t block_key_indent(const struct edit *edit, const struct wg_cfg_node *item)
{
    size_t first =
        item->type == WG_CFG_MAP && item->count ? item->key_starts[0] : item->start_index;
    return first - line_start(edit->text, first);
}

/* Whether every entry of `item` lies in order inside it; an alias copied from
 * elsewhere (or other oddities) would make its text ranges meaningless. */
static bool item_in_place(const struct wg_cfg_node *item)
{
    size_t previous = item->start_index;
    for (size_t i = 0; i < item->count; i++) {
        size_t key = item->type == WG_CFG_MAP ? item->key_starts[i] : item->items[i]->start_index;
        if (key < previous || item->items[i]->start_index < key ||
            item->items[i]->end_index > item->end_index)
            return false;
        previous = item->items[i]->end_index;
    }
    return item->end_index >= item->start_index;
}

/* Between two keys of an item: a new line and `indent` spaces in block
 * style, ", " in flow style; nothing before the first. */
static void write_separator(const struct edit *edit, struct sbuf *sb, bool block, size_t indent,
                            bool *first)
{
    if (!*first) {
        if (block) {
            sb_str(sb, edit->eol);
            sb_spaces(sb, indent);
        } else {
            sb_str(sb, ", ");
        }
    }
    *first = false;
}

/* Writes the item: the managed fields of `value` in order (`id` first, from
 * the path for an update), then every other key of `old` copied as written.
 * Flow style "{a: 1, b: 2}", or block style with `indent` spaces before each
 * line after the first. */
static void write_item(const struct edit *edit, struct sbuf *sb, const struct field *fields,
                       const json_t *value, const char *id, const struct wg_cfg_node *old,
                       bool block, size_t indent)
{
    bool first = true;
    if (!block)
        sb_str(sb, "{");
    for (const struct field *field = fields; field->name; field++) {
        const json_t *member = json_object_get(value, field->name);
        bool is_id = strcmp(field->name, "id") == 0 && id;
        if (!is_id && (!member || json_is_null(member)))
            continue;
        write_separator(edit, sb, block, indent, &first);
        sb_printf(sb, "%s: ", field->name);
        if (is_id)
            yaml_write_string(sb, id);
        else
            yaml_write_value(sb, field, member);
    }
    for (size_t i = 0; old && i < old->count; i++) {
        if (edit_field_named(fields, old->keys[i]))
            continue;
        size_t from = old->key_starts[i];
        size_t to = old->items[i]->end_index > old->key_ends[i] ? old->items[i]->end_index
                                                                : old->key_ends[i];
        write_separator(edit, sb, block, indent, &first);
        sb_add(sb, edit->text + from, to - from);
    }
    if (!block)
        sb_str(sb, "}");
}

const struct wg_cfg_node *edit_find_item(const struct wg_cfg_node *list, const char *id,
                                         size_t *index)
{
    for (size_t i = 0; list && list->type == WG_CFG_SEQ && i < list->count; i++) {
        const char *item_id = cfg_scalar(cfg_get(list->items[i], "id"));
        if (item_id && strcmp(item_id, id) == 0) {
            if (index)
                *index = i;
            return list->items[i];
        }
    }
    return NULL;
}

static void refuse_layout(struct edit *edit, const struct wg_cfg_node *node, const char *what)
{
    edit_refuse(
        edit->result, 500, NULL,
        "%s:%d:%d: cannot %s here: the text is laid out in a way this editor does not handle "
        "(edit the file by hand)",
        edit->path, node ? node->line : 1, node ? node->column : 1, what);
}

/* The byte just after the ':' that follows key `index` of `map`. */
static size_t after_colon(const struct edit *edit, const struct wg_cfg_node *map, size_t index)
{
    size_t at = map->key_ends[index];
    while (at < edit->length && (edit->text[at] == ' ' || edit->text[at] == '\t'))
        at++;
    return at < edit->length && edit->text[at] == ':' ? at + 1 : SIZE_MAX;
}

/* ---- the operations ------------------------------------------------------------------------- */

bool edit_add_item(struct edit *edit, const struct item_kind *kind, const json_t *value)
{
    const char *id = json_string_value(json_object_get(value, "id"));
    const struct wg_cfg_node *root = edit->root;
    size_t section_index = SIZE_MAX;
    for (size_t i = 0; i < root->count; i++)
        if (strcmp(root->keys[i], kind->section) == 0)
            section_index = i;
    const struct wg_cfg_node *list = section_index == SIZE_MAX ? NULL : root->items[section_index];
    if (edit_find_item(list, id, NULL)) {
        edit_refuse(edit->result, 409, "id", "a %s with the id \"%.64s\" already exists",
                    kind->what, id);
        return false;
    }
    struct sbuf sb = {0};
    bool needs_eol = false;

    if (list && list->type == WG_CFG_SEQ && list->count && !list->flow) {
        /* After the last item's line, in the last item's style and indentation. */
        const struct wg_cfg_node *last = list->items[list->count - 1];
        size_t dash = item_dash(edit, last);
        if (dash == SIZE_MAX || !rest_of_line_free(edit, last->end_index)) {
            refuse_layout(edit, last, "add an item");
            return false;
        }
        size_t dash_column = dash - line_start(edit->text, dash);
        bool block = last->type == WG_CFG_MAP && !last->flow && last->count;
        size_t at = after_line(edit, last->end_index, &needs_eol);
        if (needs_eol)
            sb_str(&sb, edit->eol);
        sb_spaces(&sb, dash_column);
        sb_str(&sb, "-");
        size_t indent = dash_column + 2;
        if (block) {
            indent = block_key_indent(edit, last);
            bool same_line =
                line_start(edit->text, last->key_starts[0]) == line_start(edit->text, dash);
            if (same_line) {
                sb_spaces(&sb, indent > dash_column + 1 ? indent - dash_column - 1 : 1);
            } else {
                sb_str(&sb, edit->eol);
                sb_spaces(&sb, indent);
            }
        } else {
            sb_str(&sb, " ");
        }
        write_item(edit, &sb, kind->fields, value, NULL, NULL, block, indent);
        if (!needs_eol)
            sb_str(&sb, edit->eol);
        return add_splice(edit, at, at, &sb, true);
    }
    if (list && list->type == WG_CFG_SEQ && list->count) {
        /* A flow list: ", {...}" after its last item. */
        size_t at = list->items[list->count - 1]->end_index;
        sb_str(&sb, ", ");
        write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
        return add_splice(edit, at, at, &sb, true);
    }
    if (list && !(list->type == WG_CFG_SEQ || cfg_is_null(list))) {
        edit_refuse(edit->result, 500, NULL, "%s:%d:%d: %s: cannot add a %s: it is not a list",
                    edit->path, list->line, list->column, kind->section, kind->what);
        return false;
    }
    if (root->flow) {
        refuse_layout(edit, root, "add an item");
        return false;
    }
    if (list) {
        /* "devices: []" or "devices:" (nothing): the item goes on the next line,
         * as the first of a block list. */
        size_t colon = after_colon(edit, root, section_index);
        bool same_line = colon != SIZE_MAX &&
                         line_start(edit->text, colon) == line_start(edit->text, list->start_index);
        if (!same_line || !rest_of_line_free(edit, list->end_index)) {
            if (!list->flow) {
                refuse_layout(edit, list, "add an item");
                return false;
            }
            sb_str(&sb, "[");
            write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
            sb_str(&sb, "]");
            return add_splice(edit, list->start_index, list->end_index, &sb, true);
        }
        if (!add_splice_text(edit, colon, list->end_index, ""))
            return false;
        size_t key_indent = (size_t)root->key_columns[section_index] - 1;
        size_t at = after_line(edit, list->end_index, &needs_eol);
        if (needs_eol)
            sb_str(&sb, edit->eol);
        sb_spaces(&sb, key_indent + 2);
        sb_str(&sb, "- ");
        write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
        if (!needs_eol)
            sb_str(&sb, edit->eol);
        return add_splice(edit, at, at, &sb, true);
    }
    /* No such section: a new one at the end of the file. */
    if (edit->length && edit->text[edit->length - 1] != '\n')
        sb_str(&sb, edit->eol);
    sb_printf(&sb, "%s:%s  - ", kind->section, edit->eol);
    write_item(edit, &sb, kind->fields, value, NULL, NULL, false, 0);
    sb_str(&sb, edit->eol);
    return add_splice(edit, edit->length, edit->length, &sb, true);
}

bool edit_update_item(struct edit *edit, const struct item_kind *kind, const char *id,
                      const json_t *value)
{
    const struct wg_cfg_node *list = cfg_get(edit->root, kind->section);
    const struct wg_cfg_node *item = edit_find_item(list, id, NULL);
    if (!item) {
        edit_refuse(edit->result, 404, NULL, "no %s \"%.64s\" in the configuration", kind->what,
                    id);
        return false;
    }
    if (item->type != WG_CFG_MAP || !item->count || !item_in_place(item)) {
        refuse_layout(edit, item, "change this item");
        return false;
    }
    struct sbuf sb = {0};
    if (item->flow) {
        /* Keep an anchor or tag before the '{'. */
        size_t from = item->start_index;
        while (from < item->end_index && edit->text[from] != '{')
            from++;
        write_item(edit, &sb, kind->fields, value, id, item, false, 0);
        return add_splice(edit, from, item->end_index, &sb, true);
    }
    /* A block mapping: from its first key to its last character, same indentation. */
    size_t indent = block_key_indent(edit, item);
    write_item(edit, &sb, kind->fields, value, id, item, true, indent);
    size_t to = item->end_index;
    /* A comment after the item's last line stays there, unless a key the API
     * does not manage moved to the end: its value may be a block scalar,
     * which the comment would join, so the comment gets a line of its own. */
    size_t last_unmanaged = SIZE_MAX;
    for (size_t i = 0; i < item->count; i++)
        if (!edit_field_named(kind->fields, item->keys[i]))
            last_unmanaged = i;
    size_t comment = to;
    while (comment < edit->length && (edit->text[comment] == ' ' || edit->text[comment] == '\t'))
        comment++;
    if (last_unmanaged != SIZE_MAX && last_unmanaged != item->count - 1 && comment < edit->length &&
        edit->text[comment] == '#') {
        size_t end = line_end(edit, comment);
        if (end > comment && edit->text[end - 1] == '\r')
            end--;
        sb_str(&sb, edit->eol);
        sb_spaces(&sb, indent);
        sb_add(&sb, edit->text + comment, end - comment);
        to = end;
    }
    return add_splice(edit, item->key_starts[0], to, &sb, true);
}

bool edit_delete_item(struct edit *edit, const struct item_kind *kind, const char *id)
{
    const struct wg_cfg_node *list = cfg_get(edit->root, kind->section);
    size_t index = 0;
    const struct wg_cfg_node *item = edit_find_item(list, id, &index);
    if (!item) {
        edit_refuse(edit->result, 404, NULL, "no %s \"%.64s\" in the configuration", kind->what,
                    id);
        return false;
    }
    if (list->flow) {
        size_t from = item->start_index, to = item->end_index;
        if (index + 1 < list->count)
            to = list->items[index + 1]->start_index; /* with the ", " after it */
        else if (index > 0)
            from = list->items[index - 1]->end_index; /* with the ", " before it */
        return add_splice_text(edit, from, to, "");
    }
    size_t dash = item_dash(edit, item);
    if (dash == SIZE_MAX || !rest_of_line_free(edit, item->end_index)) {
        refuse_layout(edit, item, "remove this item");
        return false;
    }
    bool last_line = false;
    size_t to = after_line(edit, item->end_index, &last_line);
    return add_splice_text(edit, line_start(edit->text, dash), to, "");
}

const struct wg_cfg_node *edit_find_room(const struct wg_cfg_node *root, const char *id)
{
    const struct wg_cfg_node *zones = cfg_get(root, "zones");
    for (size_t i = 0; i < cfg_seq_len(zones); i++) {
        const struct wg_cfg_node *room =
            edit_find_item(cfg_get(zones->items[i], "rooms"), id, NULL);
        if (room)
            return room;
    }
    return NULL;
}

bool edit_room_beds(struct edit *edit, const char *id, const json_t *value)
{
    const struct wg_cfg_node *room = edit_find_room(edit->root, id);
    if (!room) {
        edit_refuse(edit->result, 404, NULL, "no room \"%.64s\" in the configuration", id);
        return false;
    }
    if (room->type != WG_CFG_MAP || !room->count || !item_in_place(room)) {
        refuse_layout(edit, room, "change this room");
        return false;
    }
    const json_t *beds = json_object_get(value, "beds");
    struct sbuf sb = {0};
    size_t index = SIZE_MAX;
    for (size_t i = 0; i < room->count; i++)
        if (strcmp(room->keys[i], "beds") == 0)
            index = i;
    if (index != SIZE_MAX) {
        const struct wg_cfg_node *old = room->items[index];
        if (old->flow || (old->type == WG_CFG_SCALAR && old->end_index > old->start_index)) {
            yaml_write_strings(&sb, beds);
            return add_splice(edit, old->start_index, old->end_index, &sb, true);
        }
        /* "beds:" with nothing, or a block list: " [..]" right after the ':'. */
        size_t colon = after_colon(edit, room, index);
        if (colon == SIZE_MAX) {
            refuse_layout(edit, room, "change the beds");
            return false;
        }
        sb_str(&sb, " ");
        yaml_write_strings(&sb, beds);
        return add_splice(edit, colon, old->end_index > colon ? old->end_index : colon, &sb, true);
    }
    size_t last = room->count - 1;
    size_t entry_end = room->items[last]->end_index > room->key_ends[last]
                           ? room->items[last]->end_index
                           : room->key_ends[last];
    if (room->flow) {
        sb_str(&sb, ", beds: ");
        yaml_write_strings(&sb, beds);
        return add_splice(edit, entry_end, entry_end, &sb, true);
    }
    if (!rest_of_line_free(edit, entry_end)) {
        refuse_layout(edit, room, "add the beds");
        return false;
    }
    bool needs_eol = false;
    size_t at = after_line(edit, entry_end, &needs_eol);
    if (needs_eol)
        sb_str(&sb, edit->eol);
    sb_spaces(&sb, block_key_indent(edit, room));
    sb_str(&sb, "beds: ");
    yaml_write_strings(&sb, beds);
    if (!needs_eol)
        sb_str(&sb, edit->eol);
    return add_splice(edit, at, at, &sb, true);
}
