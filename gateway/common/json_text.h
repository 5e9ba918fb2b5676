/* Small JSON arguments as text: a json_pack format and its values made into
 * a compact JSON object text, for records that keep arguments as a string
 * (an alarm's detail_args, a config problem's args). */
#ifndef WG_JSON_TEXT_H
#define WG_JSON_TEXT_H

#include <stdarg.h>

/* The packed value as compact JSON text (malloc'd), "{}" for a NULL format;
 * NULL when the format does not pack or memory is short. */
char *json_text_vpack(const char *fmt, va_list ap);

#endif
