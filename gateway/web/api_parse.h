/* What an API request carries, checked before anything acts on it: the query
 * string and the JSON body. Pure functions (no I/O, no state), used by the
 * web thread (web_routes.c: login, users) and by the API on the core thread
 * (api_request.c), and fuzzed as they are (tests/fuzz/api_parse). A refusal fills
 * a struct api_error: always 400, with the message and, when one field is
 * at fault, its name. */
#ifndef WG_API_PARSE_H
#define WG_API_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct api_error {
    char field[64]; /* the field or parameter at fault; "" when none is */
    char message[256];
};

struct query_param {
    const char *name;
    char *value; /* decoded; NULL when absent */
};

/* Splits `query` ("a=1&b=%20x", NULL or "" for none) into `params`, the
 * parameters allowed: each value is %-decoded ('+' is a space) into
 * `buffer`, which the values then point into. An unknown name, a bad or
 * NUL %-escape, or a query longer than `buffer` is refused. */
bool api_parse_query(const char *query, char *buffer, size_t buffer_len, struct query_param *params,
                     size_t count, struct api_error *error);
/* A parameter's value as a whole number in [low, high]; an absent one
 * leaves *out as it is. */
bool api_query_int(const struct query_param *param, long long low, long long high, long long *out,
                   struct api_error *error);

/* The body as a JSON object (duplicate keys refused); an empty body is {}.
 * NULL when refused. */
json_t *api_body_object(const char *body, size_t length, struct api_error *error);
/* As api_body_object, with only the keys in `allowed` (NULL-terminated),
 * each a string. */
json_t *api_body_strings(const char *body, size_t length, const char *const *allowed,
                         struct api_error *error);
/* Every key of `required` (NULL-terminated) is present in `object`. */
bool api_body_require(const json_t *object, const char *const *required, struct api_error *error);

#endif
