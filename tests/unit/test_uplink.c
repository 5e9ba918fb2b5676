/* Unit tests of the uplink's pure parts and its outbox bound: topics and
 * payloads (uplink_encode.c), command parsing and the allow-list
 * (uplink_command.c), store_outbox_bound (store_outbox.c). The real link is tested
 * against mosquitto in tests/integration/uplink_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/event.h"
#include "store/store.h"
#include "testutil.h"
#include "uplink/uplink_command.h"
#include "uplink/uplink_encode.h"

static const struct wg_uplink_identity identity = {"wardgate/v1", "sh-jingan", "anyuan"};
#define NOW_MS 1714564800250LL /* 2024-05-01T12:00:00.250Z */

static void test_topic(void **state)
{
    (void)state;
    char topic[64];
    assert_int_equal(uplink_topic(&identity, WG_LEAF_ALARM, topic, sizeof topic), 0);
    assert_string_equal(topic, "wardgate/v1/sh-jingan/anyuan/alarm");
    char small[10];
    assert_int_equal(uplink_topic(&identity, WG_LEAF_ALARM, small, sizeof small), -1);
}

static void test_time_with_offset(void **state)
{
    (void)state;
    char text[48];
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    uplink_format_time(NOW_MS, text, sizeof text);
    assert_string_equal(text, "2024-05-01T20:00:00.250+08:00");
    assert_int_equal(uplink_parse_rfc3339(text), NOW_MS);
    setenv("TZ", "America/St_Johns", 1); /* -02:30 in May */
    tzset();
    uplink_format_time(NOW_MS, text, sizeof text);
    assert_string_equal(text, "2024-05-01T09:30:00.250-02:30");
    assert_int_equal(uplink_parse_rfc3339(text), NOW_MS);
    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(uplink_parse_rfc3339("2024-05-01T12:00:00.25Z"), NOW_MS);
    assert_int_equal(uplink_parse_rfc3339("2024-05-01T12:00:00Z"), NOW_MS - 250);
    const char *bad[] = {"",
                         "yesterday",
                         "2024-05-01",
                         "2024-05-01T12:00:00",
                         "2024-02-31T00:00:00Z",
                         "2024-05-01T25:00:00Z",
                         "2024-05-01T12:00:00+0800",
                         "2024-05-01T12:00:00Zx",
                         "2024-05-01T12:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(uplink_parse_rfc3339(bad[i]), -1);
}

/* Valid and invalid RFC 3339 forms; each text is a heap copy of its exact
 * size, so that a read past its end is caught under AddressSanitizer. */
static int64_t parse_copy(const char *text)
{
    char *copy = strdup(text);
    assert_non_null(copy);
    int64_t ms = uplink_parse_rfc3339(copy);
    free(copy);
    return ms;
}

static void test_rfc3339_forms(void **state)
{
    (void)state;
    const int64_t noon = NOW_MS - 250; /* 2024-05-01T12:00:00Z */
    struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"2024-05-01T12:00:00Z", noon},
        {"2024-05-01t12:00:00z", noon},
        {"2024-05-01 12:00:00Z", noon},
        {"2024-05-01T12:00:00+00:00", noon},
        {"2024-05-01T12:00:00-00:00", noon},
        {"2024-05-01T20:00:00+08:00", noon},
        {"2024-05-01T09:30:00-02:30", noon},
        {"2024-05-01T12:00:00.2Z", noon + 200},
        {"2024-05-01T12:00:00.25Z", noon + 250},
        {"2024-05-01T12:00:00.250Z", noon + 250},
        {"2024-05-01T12:00:00.250999999Z", noon + 250},
        {"2024-05-01T12:00:00.001+23:59", noon + 1 - (23 * 60 + 59) * 60000LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"2016-12-31T23:59:60Z", 1483228799000LL}, /* a leap second reads as :59 */
        {"1970-01-01T00:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (parse_copy(good[i].text) != good[i].ms)
            fail_msg("%s: %lld, expected %lld", good[i].text, (long long)parse_copy(good[i].text),
                     (long long)good[i].ms);
    const char *bad[] = {
        "2024-05-02T00:00:00.25-Z", /* the sign with nothing after it (was an over-read) */
        "2024-05-01T12:00:00+",
        "2024-05-01T12:00:00-",
        "2024-05-01T12:00:00+08",
        "2024-05-01T12:00:00+08:",
        "2024-05-01T12:00:00+08:0",
        "2024-05-01T12:00:00+8:00",
        "2024-05-01T12:00:00+24:00",
        "2024-05-01T12:00:00+08:60",
        "2024-05-01T12:00:00+08:00Z",
        "2024-05-01T12:00:00.+08:00",
        "2024-05-01T12:00:00Z ",
        " 2024-05-01T12:00:00Z",
        "2024-05-01T12:00Z",
        "2024-05-01T12:00:61Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:60:00Z",
        "2024-00-01T12:00:00Z",
        "2024-13-01T12:00:00Z",
        "2024-05-00T12:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-5-01T12:00:00Z",
        "2024/05/01T12:00:00Z",
        "2024-05-01X12:00:00Z",
        "2024-0a-01T12:00:00Z",
        "+024-05-01T12:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01", /* before the epoch */
        "\xef\xbc\x92"
        "024-05-01T12:00:00Z", /* a full-width digit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (parse_copy(bad[i]) != -1)
            fail_msg("%s was accepted", bad[i]);
    /* Every prefix of a valid time with every part is refused, without reading past it. */
    const char *full = "2024-05-01T20:00:00.250+08:00";
    for (size_t n = 0; n < strlen(full); n++) {
        char *prefix = strndup(full, n);
        assert_non_null(prefix);
        assert_int_equal(uplink_parse_rfc3339(prefix), -1);
        free(prefix);
    }
    assert_int_equal(uplink_parse_rfc3339(NULL), -1);
}

static const char alarm_row[] =
    "{\"id\":\"5b0c7e8a-1d2f-4a3b-8c4d-5e6f7a8b9c0d\",\"seq\":42,\"ts\":\"x\",\"ts_ms\":"
    "1714564800250,\"kind\":\"alarm\",\"priority\":4,\"alarm_id\":\"A\",\"device\":\"cord-203\","
    "\"zone\":\"east\",\"room\":\"203\",\"resident\":\"R-9F3\",\"data\":{\"id\":\"a1b2c3d4-0000-"
    "4000-8000-"
    "000000000001\",\"update\":3,\"state\":\"acknowledged\",\"priority\":\"emergency\","
    "\"priority_level\":4,\"kind\":\"pull_cord\",\"risk\":\"fall\",\"rule\":\"cord\",\"device\":"
    "\"cord-203\",\"point\":\"cord\",\"zone\":\"east\",\"room\":\"203\",\"bed\":\"\",\"resident\":"
    "\"R-9F3\",\"detail\":\"pulled\",\"reset_mode\":\"origin\",\"condition_active\":true,"
    "\"raised_ms\":1714564790000,\"acknowledged_ms\":1714564800250,\"acknowledged_by\":\"nurse\","
    "\"attended_ms\":null,\"reset_ms\":null,\"escalation_level\":1,\"escalations\":[{\"level\":1,"
    "\"ms\":1714564795000}],\"reannunciations\":0,\"phase\":\"ack\"}}";

static void test_alarm_message(void **state)
{
    (void)state;
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    const char *leaf = NULL;
    size_t length = 0;
    char why[200];
    char *text = uplink_encode_event(&identity, alarm_row, strlen(alarm_row), &leaf, &length, why,
                                     sizeof why);
    assert_non_null(text);
    assert_string_equal(leaf, WG_LEAF_ALARM);
    assert_int_equal(length, strlen(text));
    json_t *message = json_loads(text, 0, NULL);
    assert_non_null(message);
    assert_string_equal(json_string_value(json_object_get(message, "schema")), "wardgate/alarm/1");
    assert_string_equal(json_string_value(json_object_get(message, "id")),
                        "5b0c7e8a-1d2f-4a3b-8c4d-5e6f7a8b9c0d");
    assert_int_equal(json_integer_value(json_object_get(message, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(message, "ts")),
                        "2024-05-01T20:00:00.250+08:00");
    const json_t *alarm = json_object_get(message, "alarm");
    assert_int_equal(json_integer_value(json_object_get(alarm, "update")), 3);
    assert_string_equal(json_string_value(json_object_get(alarm, "phase")), "ack");
    assert_string_equal(json_string_value(json_object_get(alarm, "priority")), "emergency");
    assert_string_equal(json_string_value(json_object_get(alarm, "risk")), "fall");
    assert_string_equal(json_string_value(json_object_get(alarm, "resident")), "R-9F3");
    assert_true(json_is_null(json_object_get(json_object_get(alarm, "location"), "bed")));
    assert_string_equal(json_string_value(json_object_get(alarm, "raised_at")),
                        "2024-05-01T19:59:50.000+08:00");
    assert_true(json_is_null(json_object_get(alarm, "attended_at")));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(alarm, "escalations"), 0), "at")),
                        "2024-05-01T19:59:55.000+08:00");
    json_decref(message);
    free(text);
    setenv("TZ", "UTC", 1);
    tzset();
}

static void test_other_events_and_bad_rows(void **state)
{
    (void)state;
    const char *leaf = NULL;
    size_t length = 0;
    char why[200];
    const char health[] =
        "{\"id\":\"i\",\"seq\":1,\"ts_ms\":1,\"kind\":\"device_health\",\"device\":"
        "\"d\",\"data\":{\"health\":\"offline\",\"previous\":\"online\"}}";
    char *text =
        uplink_encode_event(&identity, health, strlen(health), &leaf, &length, why, sizeof why);
    assert_non_null(text);
    assert_string_equal(leaf, WG_LEAF_HEALTH);
    assert_non_null(strstr(text, "\"health\":\"offline\""));
    free(text);
    const char system_row[] =
        "{\"id\":\"i\",\"seq\":2,\"ts_ms\":1,\"kind\":\"system\",\"data\":{\"what\":"
        "\"started\"}}";
    text = uplink_encode_event(&identity, system_row, strlen(system_row), &leaf, &length, why,
                               sizeof why);
    assert_non_null(text);
    assert_string_equal(leaf, WG_LEAF_EVENT);
    assert_non_null(strstr(text, "\"data\":{\"what\":\"started\"}"));
    free(text);
    const char *bad[] = {"not json", "{}",
                         "{\"id\":\"i\",\"seq\":\"1\",\"ts_ms\":1,\"kind\":\"x\",\"data\":{}}",
                         "{\"id\":\"i\",\"seq\":1,\"ts_ms\":1,\"kind\":\"alarm\",\"data\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_null(uplink_encode_event(&identity, bad[i], strlen(bad[i]), &leaf, &length, why,
                                        sizeof why));
        assert_true(why[0] != '\0');
    }
    text = uplink_encode_oversize(&identity, "i", 7, "alarm", 300000, 262144, NOW_MS, &length);
    assert_non_null(strstr(text, "\"kind\":\"oversize\""));
    assert_non_null(strstr(text, "\"seq\":7"));
    free(text);
}

static void test_reply_split(void **state)
{
    (void)state;
    json_t *items = json_array();
    for (int i = 0; i < 100; i++)
        json_array_append_new(
            items, json_pack("{s:i, s:s}", "n", i, "pad", "....................................."));
    struct wg_reply reply = {
        .request = "r-1", .command = "devices", .confirm = true, .reason = "", .items = items};
    char **parts = NULL;
    char why[200];
    int count = uplink_encode_reply(&identity, &reply, NOW_MS, 1024, &parts, why, sizeof why);
    assert_true(count > 1);
    int seen = 0;
    for (int p = 0; p < count; p++) {
        assert_true(strlen(parts[p]) <= 1024);
        json_t *part = json_loads(parts[p], 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(part, "part")), p + 1);
        assert_int_equal(json_integer_value(json_object_get(part, "parts")), count);
        const json_t *chunk = json_object_get(part, "items");
        for (size_t i = 0; i < json_array_size(chunk); i++, seen++) /* every item once, in order */
            assert_int_equal(json_integer_value(json_object_get(json_array_get(chunk, i), "n")),
                             seen);
        json_decref(part);
    }
    assert_int_equal(seen, 100);
    uplink_free_parts(parts, count);
    /* A reply with a summary and no items (response_times): one part. */
    json_t *summary = json_pack("{s:i}", "raised", 3);
    struct wg_reply summary_only = {.request = "r-2",
                                    .command = "response_times",
                                    .confirm = true,
                                    .reason = "",
                                    .summary = summary};
    assert_int_equal(
        uplink_encode_reply(&identity, &summary_only, NOW_MS, 1024, &parts, why, sizeof why), 1);
    assert_non_null(strstr(parts[0], "\"summary\":{\"raised\":3}"));
    assert_null(strstr(parts[0], "\"items\""));
    uplink_free_parts(parts, 1);
    json_decref(summary);
    /* One item larger than the limit: refused with a reason, never truncated. */
    json_array_append_new(items, json_pack("{s:s}", "big", "x"));
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(json_array_get(items, 100), "big", json_string(big));
    assert_int_equal(uplink_encode_reply(&identity, &reply, NOW_MS, 1024, &parts, why, sizeof why),
                     -1);
    assert_non_null(strstr(why, "larger than"));
    json_decref(items);
}

static int parse(const char *text, unsigned allowed, struct wg_command *command, char *why)
{
    return uplink_command_parse(text, strlen(text), allowed, NOW_MS, command, why, 256);
}

static void test_command_good(void **state)
{
    (void)state;
    struct wg_command command;
    char why[256];
    assert_int_equal(parse("{\"request\":\"r1\",\"command\":\"snapshot\"}", WG_COMMANDS_READ_ONLY,
                           &command, why),
                     0);
    assert_int_equal(command.kind, WG_COMMAND_SNAPSHOT);
    assert_string_equal(command.request, "r1");
    assert_int_equal(parse("{\"request\":\"r2\",\"command\":\"alarm_history\",\"args\":{\"from\":"
                           "\"2024-05-01T00:00:00+08:00\",\"to\":1714564800250,\"limit\":5}}",
                           WG_COMMANDS_READ_ONLY, &command, why),
                     0);
    assert_int_equal(command.from_ms, 1714492800000LL);
    assert_int_equal(command.to_ms, NOW_MS);
    assert_int_equal(command.limit, 5);
    assert_int_equal(parse("{\"request\":\"r3\",\"command\":\"alarm_history\"}",
                           WG_COMMANDS_READ_ONLY, &command, why),
                     0);
    assert_int_equal(command.to_ms, NOW_MS); /* default: the last 24 h */
    assert_int_equal(command.from_ms, NOW_MS - 86400000LL);
}

static void test_command_denied(void **state)
{
    (void)state;
    struct {
        const char *text;
        unsigned allowed;
        const char *reason;
    } cases[] = {
        {"not json", WG_COMMANDS_READ_ONLY, "malformed: not JSON"},
        {"[1,2]", WG_COMMANDS_READ_ONLY, "expected a JSON object"},
        {"{\"command\":\"snapshot\"}", WG_COMMANDS_READ_ONLY, "\"request\""},
        {"{\"request\":\"has space\",\"command\":\"snapshot\"}", WG_COMMANDS_READ_ONLY,
         "\"request\""},
        {"{\"request\":\"r\",\"command\":\"snapshot\",\"extra\":1}", WG_COMMANDS_READ_ONLY,
         "unknown key"},
        {"{\"request\":\"r\",\"command\":\"snapshot\",\"request\":\"s\"}", WG_COMMANDS_READ_ONLY,
         "not JSON"},
        {"{\"request\":\"r\",\"command\":7}", WG_COMMANDS_READ_ONLY, "\"command\" must be"},
        {"{\"request\":\"r\",\"command\":\"reset\"}", WG_COMMANDS_READ_ONLY, "forbidden"},
        {"{\"request\":\"r\",\"command\":\"acknowledge\"}", WG_COMMANDS_READ_ONLY, "forbidden"},
        {"{\"request\":\"r\",\"command\":\"silence\"}", WG_COMMANDS_READ_ONLY, "forbidden"},
        {"{\"request\":\"r\",\"command\":\"open_valve\"}", WG_COMMANDS_READ_ONLY, "forbidden"},
        {"{\"request\":\"r\",\"command\":\"format_disk\"}", WG_COMMANDS_READ_ONLY,
         "unknown command"},
        {"{\"request\":\"r\",\"command\":\"devices\"}", WG_COMMAND_BIT(WG_COMMAND_SNAPSHOT),
         "not allowed"},
        {"{\"request\":\"r\",\"command\":\"snapshot\",\"args\":[]}", WG_COMMANDS_READ_ONLY,
         "\"args\" must be"},
        {"{\"request\":\"r\",\"command\":\"snapshot\",\"args\":{\"from\":1}}",
         WG_COMMANDS_READ_ONLY, "unknown argument"},
        {"{\"request\":\"r\",\"command\":\"alarm_history\",\"args\":{\"from\":\"soon\"}}",
         WG_COMMANDS_READ_ONLY, "args.from"},
        {"{\"request\":\"r\",\"command\":\"alarm_history\",\"args\":{\"from\":5,\"to\":5}}",
         WG_COMMANDS_READ_ONLY, "bad range"},
        {"{\"request\":\"r\",\"command\":\"alarm_history\",\"args\":{\"from\":0,\"to\":99999999999}"
         "}",
         WG_COMMANDS_READ_ONLY, "31 days"},
        {"{\"request\":\"r\",\"command\":\"alarm_history\",\"args\":{\"limit\":0}}",
         WG_COMMANDS_READ_ONLY, "limit"},
        {"{\"request\":\"r\",\"command\":\"alarm_history\",\"args\":{\"limit\":\"5\"}}",
         WG_COMMANDS_READ_ONLY, "limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wg_command command;
        char why[256] = "";
        assert_int_equal(parse(cases[i].text, cases[i].allowed, &command, why), -1);
        if (!strstr(why, cases[i].reason))
            fail_msg("case %zu (%s): reason \"%s\" lacks \"%s\"", i, cases[i].text, why,
                     cases[i].reason);
    }
    /* Every denial names the request id when it could be read, whatever is wrong after it
     * (keys are checked in any order: the id may come last). */
    const char *with_id[] = {
        "{\"request\":\"r9\",\"command\":\"reset\"}",
        "{\"command\":\"snapshot\",\"extra\":1,\"request\":\"r9\"}",
        "{\"extra\":1,\"request\":\"r9\"}",
        "{\"request\":\"r9\",\"command\":7}",
        "{\"request\":\"r9\",\"command\":\"format_disk\"}",
        "{\"request\":\"r9\",\"command\":\"snapshot\",\"args\":[]}",
        "{\"request\":\"r9\",\"command\":\"snapshot\",\"args\":{\"x\":1}}",
        "{\"request\":\"r9\",\"command\":\"alarm_history\",\"args\":{\"from\":\"2024-05-02T00:"
        "00:00.25-Z\"}}",
        "{\"request\":\"r9\",\"command\":\"alarm_history\",\"args\":{\"from\":5,\"to\":5}}",
        "{\"request\":\"r9\",\"command\":\"alarm_history\",\"args\":{\"limit\":-1}}",
    };
    struct wg_command command;
    char why[256];
    for (size_t i = 0; i < sizeof with_id / sizeof with_id[0]; i++) {
        assert_int_equal(parse(with_id[i], WG_COMMANDS_READ_ONLY, &command, why), -1);
        if (strcmp(command.request, "r9") != 0)
            fail_msg("%s: denied (%s) with request \"%s\"", with_id[i], why, command.request);
    }
    /* An id that is missing, not a string or not safe to echo is left empty. */
    const char *without_id[] = {
        "{\"command\":\"snapshot\"}",
        "{\"request\":9,\"command\":\"snapshot\"}",
        "{\"request\":\"\",\"command\":\"snapshot\"}",
        "{\"request\":\"a\\\"b\",\"command\":\"reset\"}",
        "{\"request\":\"0123456789012345678901234567890123456789012345678901234567890123\"}",
        "[\"r9\"]",
        "{\"request\":\"r9\"",
    };
    for (size_t i = 0; i < sizeof without_id / sizeof without_id[0]; i++) {
        assert_int_equal(parse(without_id[i], WG_COMMANDS_READ_ONLY, &command, why), -1);
        assert_string_equal(command.request, "");
    }
    /* Too large: refused before parsing. */
    size_t size = WG_COMMAND_MAX_BYTES + 10;
    char *huge = malloc(size + 1);
    memset(huge, ' ', size);
    huge[size] = '\0';
    assert_int_equal(
        uplink_command_parse(huge, size, WG_COMMANDS_READ_ONLY, NOW_MS, &command, why, sizeof why),
        -1);
    assert_non_null(strstr(why, "too large"));
    free(huge);
    assert_true(uplink_command_is_forbidden("reset"));
    assert_false(uplink_command_is_forbidden("snapshot"));
}

/* ---- the outbox bound ---- */

static void append(struct wg_store *store, enum wg_uplink_class uplink, int pad)
{
    char body[1200];
    snprintf(body, sizeof body, "{\"pad\":\"%0*d\"}", pad, 0);
    struct wg_event event = {
        .ts_ms = NOW_MS, .kind = "x", .priority = -1, .body = body, .uplink = uplink};
    event_new_id(&event);
    assert_int_equal(store_append_event(store, &event), 0);
}

static void test_outbox_bound(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/bound.db", dir);
    struct wg_store_options options = {.path = path,
                                       .readings_bucket_s = 60,
                                       .readings_retention_days = 30,
                                       .events_retention_days = 7};
    enum wg_store_status status;
    char err[512] = "";
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store)
        fail_msg("store_open(%s): %s", path, err);
    assert_int_equal(store_begin(store), 0);
    for (int i = 0; i < 300; i++) {
        append(store, WG_UPLINK_ALARM, 1000);
        append(store, WG_UPLINK_HEALTH, 1000);
        append(store, WG_UPLINK_TELEMETRY, 1000);
    }
    assert_int_equal(store_commit(store), 0);
    struct wg_outbox_totals totals;
    assert_int_equal(store_outbox_totals(store, &totals), 0);
    assert_int_equal(totals.total_rows, 900);
    assert_int_equal(totals.total_bytes, store_outbox_bytes(store));
    int64_t alarm_bytes = totals.bytes[WG_UPLINK_ALARM];

    /* Room for alarms and half the health rows: telemetry all goes, then
     * the oldest health rows. */
    struct wg_outbox_bound bound = {.max_bytes = alarm_bytes + totals.bytes[WG_UPLINK_HEALTH] / 2};
    struct wg_outbox_eviction evicted;
    assert_int_equal(store_outbox_bound(store, &bound, NOW_MS, &evicted), 0);
    assert_int_equal(store_outbox_totals(store, &totals), 0);
    assert_true(totals.total_bytes <= bound.max_bytes);
    assert_int_equal(totals.rows[WG_UPLINK_TELEMETRY], 0);
    assert_int_equal(evicted.by_size[WG_UPLINK_TELEMETRY], 300);
    assert_true(totals.rows[WG_UPLINK_HEALTH] > 0 && totals.rows[WG_UPLINK_HEALTH] <= 150);
    assert_int_equal(totals.rows[WG_UPLINK_ALARM], 300);
    assert_int_equal(totals.total_bytes, store_outbox_bytes(store));

    /* A cap below the alarms alone: everything else goes, no alarm does. */
    bound.max_bytes = alarm_bytes / 2;
    assert_int_equal(store_outbox_bound(store, &bound, NOW_MS, &evicted), 0);
    assert_int_equal(store_outbox_totals(store, &totals), 0);
    assert_int_equal(totals.rows[WG_UPLINK_HEALTH], 0);
    assert_int_equal(totals.rows[WG_UPLINK_ALARM], 300);

    /* Age: a health row older than the limit goes, an old alarm stays. */
    append(store, WG_UPLINK_HEALTH, 10);
    bound = (struct wg_outbox_bound){.max_age_ms = 1000};
    assert_int_equal(store_outbox_bound(store, &bound, NOW_MS + 10LL * 365 * 86400000, &evicted),
                     0);
    assert_int_equal(evicted.by_age[WG_UPLINK_HEALTH], 1);
    assert_int_equal(store_outbox_totals(store, &totals), 0);
    assert_int_equal(totals.total_rows, 300);

    /* The totals follow deletes too. */
    assert_int_equal(store_outbox_delete(store, 1), 0);
    assert_int_equal(store_outbox_totals(store, &totals), 0);
    assert_int_equal(totals.total_rows, 299);
    assert_int_equal(totals.total_bytes, store_outbox_bytes(store));
    store_close(store);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic),
        cmocka_unit_test(test_time_with_offset),
        cmocka_unit_test(test_rfc3339_forms),
        cmocka_unit_test(test_alarm_message),
        cmocka_unit_test(test_other_events_and_bad_rows),
        cmocka_unit_test(test_reply_split),
        cmocka_unit_test(test_command_good),
        cmocka_unit_test(test_command_denied),
        cmocka_unit_test(test_outbox_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
