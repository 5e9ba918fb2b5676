/* YAML text read with libyaml into wg_cfg_node trees that remember
 * file:line:col and each node's byte range: character marks turned into
 * byte offsets, block scalars ended at their own last character, duplicate
 * keys refused, aliases copied under guards against alias bombs, and a
 * file read whole up to a size limit. See cfgtree.h. */
#include "config/cfgtree.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Guards against alias bombs ("billion laughs") and self-referencing anchors. */
#define CFG_MAX_DEPTH 64
#define CFG_MAX_NODES 200000

/* ---- building the tree ---------------------------------------------------------------------- */

/* libyaml counts marks in characters; the tree keeps byte offsets. The byte
 * offset of every CFG_INDEX_STEP-th character is kept, so a lookup walks at
 * most that many UTF-8 sequences. */
#define CFG_INDEX_STEP 64

struct char_offsets {
    const unsigned char *text;
    size_t length;
    size_t *checkpoints; /* byte offset of character k * CFG_INDEX_STEP */
    size_t count;
    bool usable; /* false for a UTF-16 text (libyaml converts it; offsets would not match) */
};

struct tree_builder {
    yaml_document_t *document;
    const char *file; /* shared by every node */
    struct wg_diag *diag;
    struct char_offsets *offsets;
    size_t node_count;
    bool failed;
};

static size_t utf8_width(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0)
        return 2;
    if ((lead & 0xF0) == 0xE0)
        return 3;
    if ((lead & 0xF8) == 0xF0)
        return 4;
    return 1; /* not a lead byte: libyaml refuses such a text before it gets here */
}

/* Returns false when out of memory. */
static bool offsets_init(struct char_offsets *offsets, const char *text, size_t length)
{
    *offsets = (struct char_offsets){.text = (const unsigned char *)text, .length = length};
    const unsigned char *bytes = offsets->text;
    if (length >= 2 &&
        ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
        return true; /* UTF-16: libyaml decodes it; byte offsets stay 0 */
    size_t start = 0;
    if (length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF)
        start = 3; /* libyaml skips a UTF-8 byte order mark without counting it */
    size_t capacity = (length - start) / CFG_INDEX_STEP + 2;
    offsets->checkpoints = malloc(capacity * sizeof *offsets->checkpoints);
    if (!offsets->checkpoints)
        return false;
    size_t characters = 0;
    for (size_t at = start; at < length; characters++) {
        if (characters % CFG_INDEX_STEP == 0)
            offsets->checkpoints[offsets->count++] = at;
        size_t width = utf8_width(bytes[at]);
        at = width > length - at ? length : at + width;
    }
    if (characters % CFG_INDEX_STEP == 0)
        offsets->checkpoints[offsets->count++] = length; /* the end of the text */
    offsets->usable = true;
    return true;
}

static size_t byte_offset(const struct char_offsets *offsets, size_t character)
{
    if (!offsets || !offsets->usable || !offsets->count)
        return 0;
    size_t step = character / CFG_INDEX_STEP;
    if (step >= offsets->count)
        step = offsets->count - 1;
    size_t at = offsets->checkpoints[step];
    for (size_t left = character - step * CFG_INDEX_STEP; left && at < offsets->length; left--) {
        size_t width = utf8_width(offsets->text[at]);
        at = width > offsets->length - at ? offsets->length : at + width;
    }
    return at;
}

static void node_free(struct wg_cfg_node *node)
{
    if (!node)
        return;
    free(node->scalar);
    for (size_t i = 0; i < node->count; i++) {
        if (node->keys)
            free(node->keys[i]);
        if (node->items)
            node_free(node->items[i]);
    }
    free(node->keys);
    free(node->key_lines);
    free(node->key_columns);
    free(node->key_starts);
    free(node->key_ends);
    free(node->items);
    free(node);
}

static struct wg_cfg_node *build_node(struct tree_builder *builder, yaml_node_t *source, int depth);

static struct wg_cfg_node *new_node(struct tree_builder *builder, yaml_node_t *source,
                                    enum wg_cfg_type type)
{
    if (++builder->node_count > CFG_MAX_NODES) {
        if (!builder->failed)
            diag_pos(builder->diag, builder->file, (int)source->start_mark.line + 1,
                     (int)source->start_mark.column + 1,
                     "too many nodes (more than %d after expanding aliases)", CFG_MAX_NODES);
        builder->failed = true;
        return NULL;
    }
    struct wg_cfg_node *node = calloc(1, sizeof *node);
    if (!node) {
        builder->failed = true;
        diag_pos(builder->diag, builder->file, (int)source->start_mark.line + 1,
                 (int)source->start_mark.column + 1, "out of memory");
        return NULL;
    }
    node->type = type;
    node->file = builder->file;
    node->line = (int)source->start_mark.line + 1;
    node->column = (int)source->start_mark.column + 1;
    node->end_line = (int)source->end_mark.line + 1;
    node->end_column = (int)source->end_mark.column + 1;
    node->start_index = byte_offset(builder->offsets, source->start_mark.index);
    node->end_index = byte_offset(builder->offsets, source->end_mark.index);
    return node;
}

/* The end of a block collection: the furthest end among its keys and
 * children that lie inside libyaml's range (a copied alias lies elsewhere). */
struct block_end {
    size_t start, limit; /* the node's start and libyaml's end */
    size_t index;
    int line, column;
    bool found;
};

static void block_end_consider(struct block_end *end, size_t index, int line, int column)
{
    if (index < end->start || index > end->limit || (end->found && index <= end->index))
        return;
    *end = (struct block_end){.start = end->start,
                              .limit = end->limit,
                              .index = index,
                              .line = line,
                              .column = column,
                              .found = true};
}

static void block_end_apply(const struct tree_builder *builder, struct wg_cfg_node *node,
                            const struct block_end *end)
{
    if (node->flow || !end->found || !builder->offsets || !builder->offsets->usable)
        return;
    node->end_index = end->index;
    node->end_line = end->line;
    node->end_column = end->column;
}

/* A block scalar ends, for libyaml, after its trailing line breaks; its own
 * text ends at its last non-blank character. */
static void trim_block_scalar(const struct tree_builder *builder, struct wg_cfg_node *node)
{
    const struct char_offsets *offsets = builder->offsets;
    if (!offsets || !offsets->usable || node->end_index > offsets->length)
        return;
    const unsigned char *text = offsets->text;
    size_t end = node->end_index;
    int line = node->end_line;
    while (end > node->start_index + 1 && (text[end - 1] == ' ' || text[end - 1] == '\t' ||
                                           text[end - 1] == '\r' || text[end - 1] == '\n')) {
        if (text[end - 1] == '\n')
            line--;
        end--;
    }
    if (end == node->end_index)
        return;
    size_t line_start = end;
    while (line_start > 0 && text[line_start - 1] != '\n')
        line_start--;
    int column = 1;
    for (size_t at = line_start; at < end; at += utf8_width(text[at]))
        column++;
    node->end_index = end;
    node->end_line = line;
    node->end_column = column;
}

static struct wg_cfg_node *build_scalar(struct tree_builder *builder, yaml_node_t *source)
{
    struct wg_cfg_node *node = new_node(builder, source, WG_CFG_SCALAR);
    if (!node)
        return NULL;
    node->scalar = strndup((const char *)source->data.scalar.value, source->data.scalar.length);
    if (!node->scalar) {
        builder->failed = true;
        node_free(node);
        return NULL;
    }
    node->quoted = source->data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
                   source->data.scalar.style != YAML_ANY_SCALAR_STYLE;
    if (source->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
        source->data.scalar.style == YAML_FOLDED_SCALAR_STYLE)
        trim_block_scalar(builder, node);
    return node;
}

static struct wg_cfg_node *build_sequence(struct tree_builder *builder, yaml_node_t *source,
                                          int depth)
{
    struct wg_cfg_node *node = new_node(builder, source, WG_CFG_SEQ);
    if (!node)
        return NULL;
    node->flow = source->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE;
    struct block_end end = {.start = node->start_index, .limit = node->end_index};
    size_t count = (size_t)(source->data.sequence.items.top - source->data.sequence.items.start);
    if (count) {
        node->items = calloc(count, sizeof *node->items);
        if (!node->items) {
            builder->failed = true;
            node_free(node);
            return NULL;
        }
    }
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *child =
            yaml_document_get_node(builder->document, source->data.sequence.items.start[i]);
        struct wg_cfg_node *item = child ? build_node(builder, child, depth + 1) : NULL;
        if (!item) {
            node_free(node);
            return NULL;
        }
        node->items[node->count++] = item;
        block_end_consider(&end, item->end_index, item->end_line, item->end_column);
    }
    block_end_apply(builder, node, &end);
    return node;
}

/* The keys a mapping has taken so far, for the duplicate check: an open-
 * addressing hash of their indices in node->keys, so a mapping of n keys is
 * checked in O(n), not O(n^2) (a generated or hostile file may hold 100,000). */
struct key_set {
    size_t *slots; /* index into keys, or SIZE_MAX when free */
    size_t mask;
};

static bool key_set_init(struct key_set *set, size_t count)
{
    size_t size = 16;
    while (size < count * 2)
        size *= 2;
    set->slots = malloc(size * sizeof *set->slots);
    set->mask = size - 1;
    if (!set->slots)
        return false;
    memset(set->slots, 0xff, size * sizeof *set->slots);
    return true;
}

static size_t key_hash(const char *text)
{
    size_t hash = 14695981039346656037ULL; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        hash = (hash ^ *c) * 1099511628211ULL;
    return hash;
}

/* The index of the key equal to `text` among keys[], or SIZE_MAX. */
static size_t key_set_find(const struct key_set *set, char *const *keys, const char *text,
                           size_t *slot)
{
    size_t at = key_hash(text) & set->mask;
    while (set->slots[at] != SIZE_MAX && strcmp(keys[set->slots[at]], text) != 0)
        at = (at + 1) & set->mask;
    *slot = at;
    return set->slots[at];
}

static struct wg_cfg_node *build_mapping(struct tree_builder *builder, yaml_node_t *source,
                                         int depth)
{
    struct wg_cfg_node *node = new_node(builder, source, WG_CFG_MAP);
    if (!node)
        return NULL;
    node->flow = source->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
    struct block_end end = {.start = node->start_index, .limit = node->end_index};
    size_t count = (size_t)(source->data.mapping.pairs.top - source->data.mapping.pairs.start);
    if (count) {
        node->keys = calloc(count, sizeof *node->keys);
        node->key_lines = calloc(count, sizeof *node->key_lines);
        node->key_columns = calloc(count, sizeof *node->key_columns);
        node->key_starts = calloc(count, sizeof *node->key_starts);
        node->key_ends = calloc(count, sizeof *node->key_ends);
        node->items = calloc(count, sizeof *node->items);
        if (!node->keys || !node->key_lines || !node->key_columns || !node->key_starts ||
            !node->key_ends || !node->items) {
            builder->failed = true;
            node_free(node);
            return NULL;
        }
    }
    struct key_set taken = {0};
    if (count && !key_set_init(&taken, count)) {
        builder->failed = true;
        node_free(node);
        return NULL;
    }
    bool keys_ok = true;
    for (size_t i = 0; i < count; i++) {
        yaml_node_pair_t *pair = &source->data.mapping.pairs.start[i];
        yaml_node_t *key = yaml_document_get_node(builder->document, pair->key);
        yaml_node_t *value = yaml_document_get_node(builder->document, pair->value);
        if (!key || !value) {
            builder->failed = true;
            free(taken.slots);
            node_free(node);
            return NULL;
        }
        int key_line = (int)key->start_mark.line + 1;
        int key_column = (int)key->start_mark.column + 1;
        if (key->type != YAML_SCALAR_NODE) {
            diag_pos(builder->diag, builder->file, key_line, key_column,
                     "a key must be a plain word, not a %s",
                     key->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
            keys_ok = false;
            continue;
        }
        const char *text = (const char *)key->data.scalar.value;
        size_t slot;
        size_t first = key_set_find(&taken, node->keys, text, &slot);
        if (first != SIZE_MAX) {
            diag_pos(builder->diag, builder->file, key_line, key_column,
                     "duplicate key \"%s\" (first defined at %s:%d:%d)", text, builder->file,
                     node->key_lines[first], node->key_columns[first]);
            keys_ok = false;
            continue;
        }
        struct wg_cfg_node *item = build_node(builder, value, depth + 1);
        if (!item) {
            free(taken.slots);
            node_free(node);
            return NULL;
        }
        char *key_text = strdup(text);
        if (!key_text) {
            builder->failed = true;
            node_free(item);
            free(taken.slots);
            node_free(node);
            return NULL;
        }
        taken.slots[slot] = node->count;
        node->keys[node->count] = key_text;
        node->key_lines[node->count] = key_line;
        node->key_columns[node->count] = key_column;
        node->key_starts[node->count] = byte_offset(builder->offsets, key->start_mark.index);
        node->key_ends[node->count] = byte_offset(builder->offsets, key->end_mark.index);
        node->items[node->count] = item;
        node->count++;
        block_end_consider(&end, node->key_ends[node->count - 1], (int)key->end_mark.line + 1,
                           (int)key->end_mark.column + 1);
        block_end_consider(&end, item->end_index, item->end_line, item->end_column);
    }
    free(taken.slots);
    if (!keys_ok) {
        builder->failed = true;
        node_free(node);
        return NULL;
    }
    block_end_apply(builder, node, &end);
    return node;
}

static struct wg_cfg_node *build_node(struct tree_builder *builder, yaml_node_t *source, int depth)
{
    if (depth > CFG_MAX_DEPTH) {
        if (!builder->failed)
            diag_pos(builder->diag, builder->file, (int)source->start_mark.line + 1,
                     (int)source->start_mark.column + 1,
                     "nested more than %d levels deep (an alias that refers to itself?)",
                     CFG_MAX_DEPTH);
        builder->failed = true;
        return NULL;
    }
    switch (source->type) {
    case YAML_SCALAR_NODE:
        return build_scalar(builder, source);
    case YAML_SEQUENCE_NODE:
        return build_sequence(builder, source, depth);
    case YAML_MAPPING_NODE:
        return build_mapping(builder, source, depth);
    case YAML_NO_NODE:
        break;
    }
    builder->failed = true;
    return NULL;
}

static void report_parser_error(struct wg_diag *diag, const char *file, const yaml_parser_t *parser)
{
    const char *problem = parser->problem ? parser->problem : "unknown problem";
    int line = (int)parser->problem_mark.line + 1;
    int column = (int)parser->problem_mark.column + 1;
    if (parser->error == YAML_MEMORY_ERROR) {
        diag_pos(diag, file, 1, 1, "out of memory while parsing");
    } else if (parser->error == YAML_READER_ERROR) {
        /* problem_offset is a byte offset; the reader has no line yet. */
        diag_pos(diag, file, 1, 1, "YAML error: %s (at byte %zu; the file must be UTF-8)", problem,
                 parser->problem_offset);
    } else if (parser->context) {
        diag_pos(diag, file, line, column, "YAML syntax error: %s %s (line %d, column %d)", problem,
                 parser->context, (int)parser->context_mark.line + 1,
                 (int)parser->context_mark.column + 1);
    } else {
        diag_pos(diag, file, line, column, "YAML syntax error: %s", problem);
    }
}

struct wg_cfg_node *cfgtree_parse(const char *name, const char *text, size_t length,
                                  struct wg_diag *diag)
{
    char *file = strdup(name);
    struct char_offsets offsets;
    bool offsets_ok = offsets_init(&offsets, text, length);
    yaml_parser_t parser;
    if (!file || !offsets_ok || !yaml_parser_initialize(&parser)) {
        diag_pos(diag, name, 1, 1, "out of memory");
        free(file);
        free(offsets.checkpoints);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, length);

    struct wg_cfg_node *root = NULL;
    yaml_document_t document;
    if (!yaml_parser_load(&parser, &document)) {
        report_parser_error(diag, name, &parser);
        goto done;
    }
    yaml_node_t *top = yaml_document_get_root_node(&document);
    if (!top) {
        diag_pos(diag, name, 1, 1, "the file is empty (expected a YAML mapping)");
        yaml_document_delete(&document);
        goto done;
    }
    struct tree_builder builder = {
        .document = &document, .file = file, .diag = diag, .offsets = &offsets};
    root = build_node(&builder, top, 0);
    if (builder.failed && root) {
        node_free(root);
        root = NULL;
    }
    if (!root && !builder.failed)
        diag_pos(diag, name, 1, 1, "out of memory");
    yaml_document_delete(&document);

    if (root) {
        yaml_document_t second;
        if (!yaml_parser_load(&parser, &second)) {
            report_parser_error(diag, name, &parser);
            node_free(root);
            root = NULL;
        } else {
            yaml_node_t *extra = yaml_document_get_root_node(&second);
            if (extra) {
                diag_pos(diag, name, (int)extra->start_mark.line + 1,
                         (int)extra->start_mark.column + 1,
                         "a second YAML document (\"---\"): expected exactly one per file");
                node_free(root);
                root = NULL;
            }
            yaml_document_delete(&second);
        }
    }
done:
    yaml_parser_delete(&parser);
    free(offsets.checkpoints);
    if (!root)
        free(file);
    return root;
}

/* Configuration files are small; this only stops a runaway read (a device
 * node given as the file). */
#define CFG_MAX_FILE_BYTES ((size_t)64 << 20)

struct wg_cfg_node *cfgtree_load(const char *path, struct wg_diag *diag)
{
    FILE *input = fopen(path, "rb");
    if (!input) {
        diag_pos(diag, path, 1, 1, "cannot open the file: %s", strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t length = 0, capacity = 0;
    bool ok = true;
    for (;;) {
        if (capacity - length < 4096) {
            size_t grown = capacity ? capacity * 2 : 16384;
            if (grown > CFG_MAX_FILE_BYTES + 4096) {
                diag_pos(diag, path, 1, 1, "the file is larger than %zu MiB",
                         CFG_MAX_FILE_BYTES >> 20);
                ok = false;
                break;
            }
            char *bigger = realloc(text, grown);
            if (!bigger) {
                diag_pos(diag, path, 1, 1, "out of memory");
                ok = false;
                break;
            }
            text = bigger;
            capacity = grown;
        }
        size_t got = fread(text + length, 1, capacity - length, input);
        length += got;
        if (got == 0) {
            if (ferror(input)) {
                diag_pos(diag, path, 1, 1, "cannot read the file: %s", strerror(errno));
                ok = false;
            }
            break;
        }
    }
    fclose(input);
    struct wg_cfg_node *root = ok ? cfgtree_parse(path, text ? text : "", length, diag) : NULL;
    free(text);
    return root;
}

void cfgtree_free(struct wg_cfg_node *root)
{
    if (!root)
        return;
    char *file = (char *)root->file; /* allocated once per tree in cfgtree_parse */
    node_free(root);
    free(file);
}
