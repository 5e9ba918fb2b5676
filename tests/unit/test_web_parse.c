/* Unit tests of what the web checks before acting on a request: the query
 * string and JSON bodies (api_parse.c), the display's WebSocket message
 * (ws_message.c) and a Host header (common/host_name.c). The same functions
 * but the last are fuzzed in tests/fuzz/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/host_name.h"
#include "web/api_parse.h"
#include "web/ws_message.h"

static void test_query_params(void **state)
{
    (void)state;
    char buffer[64];
    struct api_error error;
    struct query_param params[] = {{"room", NULL}, {"limit", NULL}, {"kind", NULL}};
    assert_true(
        api_parse_query("room=1%2F2+b&limit=5&kind", buffer, sizeof buffer, params, 3, &error));
    assert_string_equal(params[0].value, "1/2 b");
    assert_string_equal(params[1].value, "5");
    assert_string_equal(params[2].value, "");
    long long limit = 0;
    assert_true(api_query_int(&params[1], 1, 10, &limit, &error));
    assert_int_equal(limit, 5);
    assert_true(api_parse_query(NULL, buffer, sizeof buffer, params, 3, &error));
    assert_true(api_parse_query("", buffer, sizeof buffer, params, 3, &error));

    struct {
        const char *query, *field, *message;
    } bad[] = {
        {"room=1&colour=red", "colour", "unknown query parameter \"colour\""},
        {"room=%zz", "room", "bad %-escape"},
        {"room=%4", "room", "bad %-escape"},
        {"room=%", "room", "bad %-escape"},
        {"room=%00", "room", "bad %-escape"},
        {"ro%6Fm=%41", NULL, NULL}, /* a name may be escaped too: fine */
        {"0123456789012345678901234567890123456789012345678901234567890123456789", "", "too long"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct query_param fresh[] = {{"room", NULL}, {"limit", NULL}};
        bool accepted = api_parse_query(bad[i].query, buffer, sizeof buffer, fresh, 2, &error);
        if (!bad[i].message) {
            assert_true(accepted);
            assert_string_equal(fresh[0].value, "A");
            continue;
        }
        assert_false(accepted);
        assert_string_equal(error.field, bad[i].field);
        if (!strstr(error.message, bad[i].message))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].query, error.message, bad[i].message);
    }

    const char *numbers[] = {"0", "11", "-1", "5x", "", "5 ", "99999999999999999999"};
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        struct query_param param = {"limit", (char *)numbers[i]};
        long long out = 7;
        assert_false(api_query_int(&param, 1, 10, &out, &error));
        assert_string_equal(error.field, "limit");
        assert_int_equal(out, 7);
    }
    struct query_param absent = {"limit", NULL};
    long long out = 7;
    assert_true(api_query_int(&absent, 1, 10, &out, &error));
    assert_int_equal(out, 7);
}

static void test_bodies(void **state)
{
    (void)state;
    struct api_error error;
    json_t *empty = api_body_object(NULL, 0, &error);
    assert_true(json_is_object(empty) && json_object_size(empty) == 0);
    json_decref(empty);

    static const char *const login[] = {"username", "password", NULL};
    const char *good = "{\"username\":\"a\",\"password\":\"b\"}";
    json_t *body = api_body_strings(good, strlen(good), login, &error);
    assert_non_null(body);
    assert_true(api_body_require(body, login, &error));
    json_decref(body);

    struct {
        const char *text, *field, *message;
    } bad[] = {
        {"{", "", "malformed JSON at line 1"},
        {"[1]", "", "must be a JSON object"},
        {"\"x\"", "", "malformed JSON"}, /* a bare value is not JSON text to jansson */
        {"{\"username\":\"a\",\"username\":\"b\"}", "", "malformed JSON"},
        {"{\"username\":\"a\",\"role\":\"admin\"}", "role", "unknown field \"role\""},
        {"{\"username\":1}", "username", "username: expected a string"},
        {"{\"username\":null}", "username", "expected a string"},
        {"{\"password\":\"x\\u0000y\"}", "", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_null(api_body_strings(bad[i].text, strlen(bad[i].text), login, &error));
        assert_string_equal(error.field, bad[i].field);
        if (!strstr(error.message, bad[i].message))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].text, error.message, bad[i].message);
    }
    const char *partial = "{\"username\":\"a\"}";
    body = api_body_strings(partial, strlen(partial), login, &error);
    assert_non_null(body);
    assert_false(api_body_require(body, login, &error));
    assert_string_equal(error.field, "password");
    assert_string_equal(error.message, "password is required");
    json_decref(body);
    /* Not NUL-terminated: only `length` bytes are read. */
    char unterminated[] = {'{', '}', 'x'};
    body = api_body_object(unterminated, 2, &error);
    assert_non_null(body);
    json_decref(body);
}

static void test_ws_ack(void **state)
{
    (void)state;
    struct ws_ack ack;
    const char *good = "{\"type\":\"ack\",\"alarm\":\"a-1\",\"ref\":7,\"csrf\":\"t\"}";
    assert_true(ws_parse_ack(good, strlen(good), &ack));
    assert_string_equal(ack.alarm, "a-1");
    assert_string_equal(ack.csrf, "t");
    assert_int_equal(ack.ref, 7);
    const char *no_ref = "{\"csrf\":\"t\",\"alarm\":\"a-1\",\"type\":\"ack\"}";
    assert_true(ws_parse_ack(no_ref, strlen(no_ref), &ack));
    assert_int_equal(ack.ref, 0);

    char long_alarm[200], long_csrf[200];
    snprintf(long_alarm, sizeof long_alarm, "{\"type\":\"ack\",\"alarm\":\"%048d\",\"csrf\":\"t\"}",
             1);
    snprintf(long_csrf, sizeof long_csrf, "{\"type\":\"ack\",\"alarm\":\"a\",\"csrf\":\"%064d\"}",
             1);
    const char *bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"type\":\"reset\",\"alarm\":\"a\",\"csrf\":\"t\"}",
        "{\"type\":\"ack\",\"csrf\":\"t\"}",
        "{\"type\":\"ack\",\"alarm\":\"a\"}",
        "{\"type\":\"ack\",\"alarm\":5,\"csrf\":\"t\"}",
        "{\"type\":\"ack\",\"alarm\":\"a\",\"csrf\":\"t\",\"ref\":\"7\"}",
        "{\"type\":\"ack\",\"alarm\":\"a\",\"csrf\":\"t\",\"ref\":1.5}",
        "{\"type\":\"ack\",\"alarm\":\"a\",\"csrf\":\"t\",\"extra\":1}",
        "{\"type\":\"ack\",\"alarm\":\"a\",\"alarm\":\"b\",\"csrf\":\"t\"}",
        "{\"type\":\"ack\",\"alarm\":\"a\\u0000b\",\"csrf\":\"t\"}",
        long_alarm,
        long_csrf,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ws_parse_ack(bad[i], strlen(bad[i]), &ack))
            fail_msg("accepted: %s", bad[i]);
}

static void test_host_names(void **state)
{
    (void)state;
    size_t host = 0;
    int port = -1;
    assert_true(host_name_parse("192.168.1.10:8080", true, &host, &port));
    assert_int_equal(host, 12);
    assert_int_equal(port, 8080);
    assert_true(host_name_parse("gateway.home.lan", true, &host, &port));
    assert_int_equal(host, 16);
    assert_int_equal(port, 0);
    assert_true(host_name_parse("[fd00::10]:443", true, &host, &port));
    assert_int_equal(host, 10);
    assert_int_equal(port, 443);
    assert_true(host_name_parse("[::ffff:10.0.0.1]", false, &host, &port));
    assert_true(host_name_parse("localhost.", false, &host, &port));
    static const char *const bad[] = {"",
                                      "evil.example/x",
                                      "a b",
                                      "[::1",
                                      "::1",
                                      "user@host",
                                      "host:99999",
                                      "host:0",
                                      "host:080",
                                      "host:",
                                      "host:80:80",
                                      "-bad.example",
                                      "bad-.example",
                                      "a..b",
                                      ".a",
                                      "%2e",
                                      "h\xc3\xa9.example",
                                      "host,other",
                                      "[fd00::g]",
                                      "[1]",
                                      "[::1]x",
                                      "a_b",
                                      NULL};
    for (const char *const *b = bad; *b; b++)
        if (host_name_parse(*b, true, &host, &port))
            fail_msg("\"%s\" was taken for a host name", *b);
    assert_false(host_name_parse("gateway.lan:8080", false, &host, &port)); /* no port here */
    char label[80], name[300];
    memset(label, 'a', 64);
    label[64] = '\0';
    assert_false(host_name_parse(label, true, &host, &port)); /* a label of 64 */
    label[63] = '\0';
    assert_true(host_name_parse(label, true, &host, &port));
    memset(name, 'a', sizeof name);
    for (size_t i = 50; i < sizeof name; i += 51)
        name[i] = '.';
    name[253] = '\0';
    assert_true(host_name_parse(name, false, &host, &port));
    name[253] = 'a';
    name[254] = '\0';
    assert_false(host_name_parse(name, false, &host, &port)); /* 254 characters */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_params),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_ws_ack),
        cmocka_unit_test(test_host_names),
    };
    return cmocka_run_group_tests_name("web_parse", tests, NULL, NULL);
}
