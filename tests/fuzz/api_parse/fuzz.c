/* libFuzzer target: the API's query-string and JSON-body checks
 * (api_parse.c), as the web thread and the core thread apply them to what a
 * browser (or anyone on the LAN) sends.
 *
 * The first byte chooses: even, the rest is a query string (a NUL-terminated
 * heap copy, as the web thread hands it over) checked against the history
 * endpoint's parameters, with a large and a small buffer, each value then
 * read as a number; odd, the rest is a request body (not NUL-terminated)
 * checked as the login and user endpoints do. */
#include "web/api_parse.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_query(const uint8_t *data, size_t size, size_t buffer_len)
{
    char *query = fuzz_string(data, size);
    char *buffer = malloc(buffer_len);
    if (!buffer)
        abort();
    struct query_param params[] = {
        {"from", NULL},   {"to", NULL},    {"kind", NULL},   {"priority", NULL}, {"room", NULL},
        {"device", NULL}, {"alarm", NULL}, {"before", NULL}, {"limit", NULL},    {"format", NULL}};
    size_t count = sizeof params / sizeof *params;
    struct api_error error;
    if (api_parse_query(query, buffer, buffer_len, params, count, &error)) {
        for (size_t i = 0; i < count; i++) {
            if (!params[i].value)
                continue;
            /* Each value lies in the buffer, NUL-terminated there. */
            FUZZ_ASSERT(params[i].value >= buffer && params[i].value < buffer + buffer_len);
            FUZZ_ASSERT(
                memchr(params[i].value, '\0', (size_t)(buffer + buffer_len - params[i].value)));
            long long number = 42;
            if (api_query_int(&params[i], 0, 1000, &number, &error))
                FUZZ_ASSERT(number >= 0 && number <= 1000);
            else
                FUZZ_ASSERT(number == 42 && strcmp(error.field, params[i].name) == 0);
        }
    } else {
        FUZZ_ASSERT(error.message[0]);
    }
    free(buffer);
    free(query);
}

static void check_body(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1); /* exactly the input: no NUL after it */
    if (!body)
        abort();
    memcpy(body, data, size);
    static const char *const user_fields[] = {"username", "role", "password", NULL};
    struct api_error error;
    json_t *object = api_body_object(body, size, &error);
    FUZZ_ASSERT(object ? json_is_object(object) : error.message[0] != '\0');
    json_decref(object);
    json_t *strings = api_body_strings(body, size, user_fields, &error);
    if (strings) {
        const char *key;
        json_t *value;
        json_object_foreach(strings, key, value)
        {
            FUZZ_ASSERT(json_is_string(value));
            FUZZ_ASSERT(!strcmp(key, "username") || !strcmp(key, "role") ||
                        !strcmp(key, "password"));
        }
        if (!api_body_require(strings, user_fields, &error))
            FUZZ_ASSERT(!json_object_get(strings, error.field));
        json_decref(strings);
    }
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 70000)
        return 0;
    if (data[0] & 1) {
        check_body(data + 1, size - 1);
    } else {
        check_query(data + 1, size - 1, 2048);
        check_query(data + 1, size - 1, 16);
    }
    return 0;
}
