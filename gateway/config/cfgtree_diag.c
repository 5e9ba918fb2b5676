/* The collected diagnostics of a load or an edit (wg_diag, cfgtree.h): each
 * message as "file:line:col: text" and in parts (where, the bare text, a
 * code with JSON arguments the manager UI words), copied, and logged. */
#include "config/cfgtree.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "common/json_text.h"
#include "common/log.h"

/* ---- diagnostics ---------------------------------------------------------------------------- */

void diag_init(struct wg_diag *diag)
{
    diag->messages = NULL;
    diag->entries = NULL;
    diag->count = 0;
    diag->capacity = 0;
}

void diag_free(struct wg_diag *diag)
{
    if (!diag)
        return;
    for (size_t i = 0; i < diag->count; i++) {
        free(diag->messages[i]);
        free(diag->entries[i].file);
        free(diag->entries[i].text);
        free(diag->entries[i].args);
    }
    free(diag->messages);
    free(diag->entries);
    diag_init(diag);
}

/* Takes ownership of `message` and `body` (either may be NULL after a failed
 * allocation: then a fixed text is stored so the caller still sees that
 * something went wrong). */
static void diag_push(struct wg_diag *diag, char *message, const char *file, int line, int column,
                      char *body)
{
    if (diag->count == diag->capacity) {
        size_t capacity = diag->capacity ? diag->capacity * 2 : 16;
        char **grown = realloc(diag->messages, capacity * sizeof *grown);
        if (grown)
            diag->messages = grown;
        struct wg_diag_entry *entries =
            grown ? realloc(diag->entries, capacity * sizeof *entries) : NULL;
        if (!grown || !entries) {
            free(message);
            free(body);
            return; /* out of memory: the count we already have still fails the load */
        }
        diag->entries = entries;
        diag->capacity = capacity;
    }
    if (!message)
        message = strdup("out of memory while formatting a message");
    if (!message) {
        free(body);
        return;
    }
    struct wg_diag_entry *entry = &diag->entries[diag->count];
    *entry = (struct wg_diag_entry){.line = line, .column = column};
    entry->file = file ? strdup(file) : NULL;
    entry->text = body ? body : strdup(message);
    diag->messages[diag->count++] = message;
}

__attribute__((format(printf, 5, 0))) static void
diag_vpos(struct wg_diag *diag, const char *file, int line, int column, const char *fmt, va_list ap)
{
    char *body = NULL;
    if (vasprintf(&body, fmt, ap) < 0)
        body = NULL;
    char *message = NULL;
    if (!body) {
        diag_push(diag, NULL, NULL, 0, 0, NULL);
        return;
    }
    if (!file)
        message = strdup(body);
    else if (asprintf(&message, "%s:%d:%d: %s", file, line, column, body) < 0)
        message = NULL;
    diag_push(diag, message, file, file ? line : 0, file ? column : 0, body);
}

void diag_code(struct wg_diag *diag, const char *code, const char *fmt, ...)
{
    if (!diag->count)
        return;
    struct wg_diag_entry *entry = &diag->entries[diag->count - 1];
    snprintf(entry->code, sizeof entry->code, "%s", code);
    free(entry->args);
    va_list ap;
    va_start(ap, fmt);
    entry->args = json_text_vpack(fmt, ap);
    va_end(ap);
}

void diag_copy(struct wg_diag *to, const struct wg_diag *from, size_t i)
{
    if (i >= from->count)
        return;
    const struct wg_diag_entry *entry = &from->entries[i];
    size_t before = to->count;
    diag_push(to, strdup(from->messages[i]), entry->file, entry->line, entry->column,
              entry->text ? strdup(entry->text) : NULL);
    if (to->count == before)
        return;
    struct wg_diag_entry *copy = &to->entries[to->count - 1];
    memcpy(copy->code, entry->code, sizeof copy->code);
    memcpy(copy->field, entry->field, sizeof copy->field);
    copy->args = entry->args ? strdup(entry->args) : NULL;
}

void diag_pos(struct wg_diag *diag, const char *file, int line, int column, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vpos(diag, file, line, column, fmt, ap);
    va_end(ap);
}

void diag_at(struct wg_diag *diag, const struct wg_cfg_node *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (node)
        diag_vpos(diag, node->file, node->line, node->column, fmt, ap);
    else
        diag_vpos(diag, NULL, 0, 0, fmt, ap);
    va_end(ap);
}

void diag_log(const struct wg_diag *diag)
{
    for (size_t i = 0; i < diag->count; i++)
        wg_err("%s", diag->messages[i]);
}
