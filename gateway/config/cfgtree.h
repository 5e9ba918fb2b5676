/* The configuration as a tree of YAML nodes that remember file:line:col.
 *
 * cfgtree_load() reads one YAML file with libyaml into this tree; the schema
 * checks in config_*.c and in the drivers (through the plugin host) walk it and
 * report problems through a wg_diag, so every message can say where it is.
 * Every node also knows its exact byte range in the text, so a change can
 * replace one node's text and leave the rest of the file as it was
 * (config_edit_*.c). The tree owns all its strings. A tree is immutable once
 * loaded. */
#ifndef WG_CFGTREE_H
#define WG_CFGTREE_H

#include <stdbool.h>
#include <stddef.h>

enum wg_cfg_type { WG_CFG_SCALAR, WG_CFG_MAP, WG_CFG_SEQ };

struct wg_cfg_node {
    enum wg_cfg_type type;
    const char *file;   /* owned by the tree (shared by its nodes) */
    int line;           /* 1-based */
    int column;         /* 1-based, in characters */
    int end_line;       /* just past the node's last character (see cfgtree_load) */
    int end_column;     /* 1-based, in characters */
    size_t start_index; /* byte offset of its first character (an anchor or tag if any) */
    size_t end_index;   /* byte offset just past its last character */
    bool flow;          /* a mapping or list written {...} or [...] */
    char *scalar;       /* WG_CFG_SCALAR: the text; NULL otherwise */
    bool quoted;        /* scalar was written in quotes (so "yes" stays a string) */
    size_t count;       /* map entries or sequence items */
    char **keys;        /* WG_CFG_MAP: key texts, count of them */
    int *key_lines;     /* WG_CFG_MAP: line of each key */
    int *key_columns;   /* WG_CFG_MAP: column of each key */
    size_t *key_starts; /* WG_CFG_MAP: byte range of each key's text */
    size_t *key_ends;
    struct wg_cfg_node **items; /* map values or sequence items */
};

/* One problem in parts, for a user interface that puts it into its own words
 * (and must not show a server's file path): where, the bare text, and a code
 * with arguments where the reporter gave one. */
struct wg_diag_entry {
    char *file; /* NULL when the message has no position */
    int line;   /* 1-based; 0 without a position */
    int column;
    char *text;     /* the message without "file:line:col: " */
    char code[32];  /* "" unless the reporter named one (diag_code) */
    char *args;     /* the code's arguments as a JSON object text, NULL when none */
    char field[32]; /* the form field at fault, set by whoever maps problems to a form */
};

/* Collected problems, each already formatted "file:line:col: message"
 * (messages[i]), and the same in parts (entries[i]). */
struct wg_diag {
    char **messages;
    struct wg_diag_entry *entries;
    size_t count;
    size_t capacity;
};

void diag_init(struct wg_diag *diag);
void diag_free(struct wg_diag *diag);
/* Adds "file:line:col: <fmt...>" for the node (node may be NULL: no position). */
void diag_at(struct wg_diag *diag, const struct wg_cfg_node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds "file:line:col: <fmt...>" with an explicit position (file may be NULL). */
void diag_pos(struct wg_diag *diag, const char *file, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Names the last message's problem as a code with arguments (a json_pack
 * format and its values; NULL for none), e.g.
 * diag_code(diag, "address_taken", "{s:i, s:s}", "address", 3, "device", "x"). */
void diag_code(struct wg_diag *diag, const char *code, const char *fmt, ...);
/* Adds a copy of `from`'s message i (text, position, code, arguments) to `to`. */
void diag_copy(struct wg_diag *to, const struct wg_diag *from, size_t i);
/* Writes every message to the log at error level. */
void diag_log(const struct wg_diag *diag);

/* Loads a YAML file holding exactly one document. On a syntax error, a
 * duplicate key, a non-scalar key or an unreadable file, adds a message and
 * returns NULL. Aliases are resolved by copying (a copy keeps the positions
 * of the anchored node it was copied from).
 *
 * Byte ranges: libyaml ends a block mapping or list, and a block scalar
 * (| or >), where the next token begins, past trailing blank lines and
 * comments; here they end at the node's own last character (the end of its
 * last entry or line), so [start_index, end_index) is exactly the node's
 * text. Byte offsets are those of the UTF-8 text as read; for a UTF-16 file
 * (which libyaml also reads) they are 0. */
struct wg_cfg_node *cfgtree_load(const char *path, struct wg_diag *diag);
/* The same for a text in memory; `name` is the file name used in messages
 * and in the nodes. `text` need not be NUL-terminated. */
struct wg_cfg_node *cfgtree_parse(const char *name, const char *text, size_t length,
                                  struct wg_diag *diag);
void cfgtree_free(struct wg_cfg_node *root);

/* Lookups. cfg_get returns NULL when the key is absent or `map` is not a map. */
const struct wg_cfg_node *cfg_get(const struct wg_cfg_node *map, const char *key);
const char *cfg_scalar(const struct wg_cfg_node *node);
size_t cfg_seq_len(const struct wg_cfg_node *seq);
const struct wg_cfg_node *cfg_seq_at(const struct wg_cfg_node *seq, size_t index);
/* Whether two subtrees say the same: types, scalar texts (and whether they were
 * quoted), list items in order, map entries in any order. Positions do not
 * count. Two NULLs are equal. */
bool cfg_equal(const struct wg_cfg_node *a, const struct wg_cfg_node *b);

/* What a scalar says, as the typed reads below read it (so that other code,
 * such as the audit of a config edit, reads a file the way the loader does):
 * cfg_is_null: an unquoted "", "~", "null", "Null" or "NULL";
 * cfg_parse_integer: decimal or 0x-prefixed hexadecimal, with a sign, in
 * the range of long long; cfg_bool_value: an unquoted true/false word
 * (true, True, TRUE, yes, Yes, on, On and their opposites). */
bool cfg_is_null(const struct wg_cfg_node *node);
bool cfg_parse_integer(const char *text, long long *value);
bool cfg_bool_value(const struct wg_cfg_node *node, bool *out);

/* Typed reads with messages naming the key and what was expected. Absent key:
 * *out unchanged, returns true (unless the _req variant, which reports
 * "missing required key"). Wrong type or range: reports, returns false. */
bool cfg_read_int(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                  long long min, long long max, long long *out);
bool cfg_read_double(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                     double *out);
bool cfg_read_bool(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key, bool *out);
bool cfg_read_string(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                     const char **out);
bool cfg_require(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key);
/* As cfg_require, naming what the map is: 'missing required key "bus" in device'. */
bool cfg_require_in(struct wg_diag *diag, const struct wg_cfg_node *map, const char *key,
                    const char *what);
/* Reports every key of `map` not in the NULL-terminated `allowed`, with the
 * allowed keys listed; also reports when `map` is not a map. */
bool cfg_only_keys(struct wg_diag *diag, const struct wg_cfg_node *map, const char *const *allowed);
/* As cfg_only_keys, naming what the map is: 'unknown key "adress" in device (expected ...)'. */
bool cfg_only_keys_in(struct wg_diag *diag, const struct wg_cfg_node *map,
                      const char *const *allowed, const char *what);

#endif
