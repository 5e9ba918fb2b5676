/* A small compact JSON writer for the hot path: appends to a growable
 * buffer with no intermediate tree, so a message is serialised once, in its
 * final form. Strings are escaped as RFC 8259 requires; numbers are written
 * exactly (integers as integers, other doubles in the shortest of %.15g and
 * %.17g that reads back as the same double). The caller places the commas
 * and colons through jw_key / jw_comma; the writer only keeps the text.
 *
 * Any allocation failure is sticky: later appends do nothing and
 * jw_failed() says so, so a caller checks once at the end. */
#ifndef WG_JSON_WRITER_H
#define WG_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw_buffer {
    char *text; /* NUL-terminated while not failed */
    size_t len, capacity;
    bool failed;
};

void jw_init(struct jw_buffer *buffer);
void jw_free(struct jw_buffer *buffer);
/* Empties it, keeping the memory. */
void jw_reset(struct jw_buffer *buffer);
bool jw_failed(const struct jw_buffer *buffer);

void jw_raw(struct jw_buffer *buffer, const char *text, size_t len);
void jw_text(struct jw_buffer *buffer, const char *text); /* raw, NUL-terminated */
void jw_char(struct jw_buffer *buffer, char c);
/* A JSON string: quotes and escapes. NULL writes null. */
void jw_string(struct jw_buffer *buffer, const char *text);
void jw_int(struct jw_buffer *buffer, int64_t value);
/* A finite double (NaN and infinities, which JSON has not, write null). */
void jw_double(struct jw_buffer *buffer, double value);
/* ,"key": (the comma unless `first`). */
void jw_key(struct jw_buffer *buffer, const char *key, bool first);

#endif
