/* ESPA 4.4.4 framing (gateway/espa/espa.c, espa_text.c): the call block
 * byte for byte against the published example, the BCC, the receiver and
 * record parser, the display texts in ASCII and GBK; and the espa: config
 * section and staff pagers, every bad value a file:line:col error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "espa/espa.h"
#include "testutil.h"

/* The Zenitel wiki's example, SOH 1 STX 1 US 550 RS 2 US CALL ME 101 RS 3 US 3
 * RS 4 US 3 RS 5 US 3 RS 6 US 3 ETX, and its BCC computed by hand. */
static void test_block_matches_published_example(void **state)
{
    (void)state;
    struct espa_call call = {.number = "550",
                             .text = "CALL ME 101",
                             .beep = '3',
                             .call_type = '3',
                             .transmissions = '3',
                             .priority = '3'};
    uint8_t block[ESPA_BLOCK_MAX];
    size_t len = espa_call_block(&call, block, sizeof block);
    static const uint8_t expected[] = {0x01, 0x31, 0x02, 0x31, 0x1F, 0x35, 0x35, 0x30, 0x1E, 0x32,
                                       0x1F, 0x43, 0x41, 0x4C, 0x4C, 0x20, 0x4D, 0x45, 0x20, 0x31,
                                       0x30, 0x31, 0x1E, 0x33, 0x1F, 0x33, 0x1E, 0x34, 0x1F, 0x33,
                                       0x1E, 0x35, 0x1F, 0x33, 0x1E, 0x36, 0x1F, 0x33, 0x03};
    assert_int_equal(len, sizeof expected + 1);
    assert_memory_equal(block, expected, sizeof expected);
    uint8_t bcc = 0;
    for (size_t i = 1; i < sizeof expected; i++)
        bcc ^= expected[i];
    assert_int_equal(block[len - 1], bcc);
    /* The whole block after SOH, BCC included, XORs to zero (even parity). */
    assert_int_equal(espa_bcc(block + 1, len - 1), 0);
}

static void test_block_optional_records_and_refusals(void **state)
{
    (void)state;
    uint8_t block[ESPA_BLOCK_MAX];
    struct espa_call call = {.number = "1234", .text = "", .priority = '1'};
    size_t len = espa_call_block(&call, block, sizeof block);
    static const uint8_t expected[] = {0x01, '1', 0x02, '1', 0x1F, '1', '2',
                                       '3',  '4', 0x1E, '6', 0x1F, '1', 0x03};
    assert_int_equal(len, sizeof expected + 1);
    assert_memory_equal(block, expected, sizeof expected);
    /* Refused: no number, letters, 17 digits, a control character, a bad record. */
    const char *numbers[] = {"", "12a", "1 2"};
    for (size_t i = 0; i < 3; i++) {
        struct espa_call bad = {.priority = '1'};
        snprintf(bad.number, sizeof bad.number, "%s", numbers[i]);
        assert_int_equal(espa_call_block(&bad, block, sizeof block), 0);
    }
    struct espa_call control = {.number = "1",
                                .text = "A\x03"
                                        "B"};
    assert_int_equal(espa_call_block(&control, block, sizeof block), 0);
    struct espa_call record = {.number = "1", .beep = 'x'};
    assert_int_equal(espa_call_block(&record, block, sizeof block), 0);
    /* Too small a buffer. */
    assert_int_equal(espa_call_block(&call, block, 8), 0);
    assert_true(espa_call_number_ok("0000000000000000"));
    assert_false(espa_call_number_ok(NULL));
}

/* The receiver: bytes before SOH skipped, a good block, a bad BCC, an overflow. */
static void test_receiver(void **state)
{
    (void)state;
    struct espa_call call = {.number = "42", .text = "101A CALL", .beep = '1', .priority = '2'};
    uint8_t block[ESPA_BLOCK_MAX];
    size_t len = espa_call_block(&call, block, sizeof block);
    struct espa_rx rx;
    espa_rx_reset(&rx);
    assert_int_equal(espa_rx_feed(&rx, 0x06), ESPA_RX_MORE);
    assert_int_equal(espa_rx_feed(&rx, 'x'), ESPA_RX_MORE);
    for (size_t i = 0; i + 1 < len; i++)
        assert_int_equal(espa_rx_feed(&rx, block[i]), ESPA_RX_MORE);
    assert_int_equal(espa_rx_feed(&rx, block[len - 1]), ESPA_RX_BLOCK);
    struct espa_block parsed;
    assert_int_equal(espa_parse_block(rx.body, rx.len, &parsed), 0);
    assert_int_equal(parsed.header, '1');
    assert_int_equal(parsed.record_count, 4);
    assert_int_equal(parsed.records[0].id, '1');
    assert_int_equal(parsed.records[0].len, 2);
    assert_memory_equal(parsed.records[0].data, "42", 2);
    assert_int_equal(parsed.records[1].id, '2');
    assert_memory_equal(parsed.records[1].data, "101A CALL", 9);
    assert_int_equal(parsed.records[3].id, '6');
    /* A flipped bit: the BCC says so. */
    block[5] ^= 0x01;
    for (size_t i = 0; i + 1 < len; i++)
        espa_rx_feed(&rx, block[i]);
    assert_int_equal(espa_rx_feed(&rx, block[len - 1]), ESPA_RX_BAD_BCC);
    /* Longer than a block may be. */
    espa_rx_feed(&rx, ESPA_SOH);
    enum espa_rx_result last = ESPA_RX_MORE;
    for (size_t i = 0; i <= ESPA_BLOCK_MAX && last == ESPA_RX_MORE; i++)
        last = espa_rx_feed(&rx, 'a');
    assert_int_equal(last, ESPA_RX_OVERFLOW);
    /* Malformed bodies. */
    assert_int_equal(espa_parse_block((const uint8_t *)"1", 1, &parsed), -1);
    assert_int_equal(espa_parse_block((const uint8_t *)"12\x02"
                                                       "1\x1f"
                                                       "2",
                                      5, &parsed),
                     -1);
    assert_int_equal(espa_parse_block((const uint8_t *)"1\x02"
                                                       "12",
                                      4, &parsed),
                     -1);
    assert_int_equal(espa_parse_block((const uint8_t *)"2\x02", 2, &parsed), 0);
    assert_int_equal(parsed.record_count, 0);
}

static void test_display_text(void **state)
{
    (void)state;
    char text[ESPA_TEXT_MAX + 1];
    assert_int_equal(espa_display_text("ascii", "101", "101-A", "", "call", text, sizeof text), 0);
    assert_string_equal(text, "101A CALL");
    espa_display_text("ascii", "101", "", "", "pull_cord", text, sizeof text);
    assert_string_equal(text, "101 PULL CORD");
    espa_display_text("ascii", "", "", "三楼东侧走廊", "fire", text, sizeof text);
    assert_string_equal(text, "FIRE"); /* a Chinese place cannot go on an ASCII pager */
    espa_display_text("ascii", "7", "", "", "new_kind", text, sizeof text);
    assert_string_equal(text, "7 NEW KIND");
    espa_display_text("gbk", "101", "101-A", "", "call", text, sizeof text);
    assert_string_equal(text, "101A \xba\xf4\xbd\xd0"); /* 呼叫 in GBK */
    espa_display_text("gbk", "", "", "三楼", "fire", text, sizeof text);
    assert_string_equal(text, "\xc8\xfd\xc2\xa5 \xbb\xf0\xbe\xaf"); /* 三楼 火警 */
    /* Control characters become spaces; a long text is cut at a character. */
    espa_encode("ascii", "a\nb\x1e", text, sizeof text);
    assert_string_equal(text, "a b ");
    char long_text[400] = "";
    for (int i = 0; i < 60; i++)
        strcat(long_text, "呼");
    espa_encode("gbk", long_text, text, sizeof text);
    assert_int_equal(strlen(text), ESPA_TEXT_MAX); /* 32 whole characters */
    espa_encode("ascii", "\xff\xfe ok", text, sizeof text);
    assert_string_equal(text, "?? ok");
}

/* ---- the config ---- */

static const char *verdict(const char *dir, const char *staff_and_espa)
{
    static char message[1024];
    char *text = NULL;
    assert_true(asprintf(&text,
                         "site: {id: s1, name: S, district: d1}\n"
                         "zones: [{id: Z, rooms: [{id: R1, beds: [A]}]}]\n"
                         "staff:\n"
                         "  shifts: [{id: day, window: \"07:00-19:00\"}]\n%s",
                         staff_and_espa) > 0);
    char *path = test_write_file(dir, "espa.yaml", text);
    free(text);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(path, &diag);
    free(path);
    snprintf(message, sizeof message, "%s", config ? "" : diag.count ? diag.messages[0] : "?");
    config_free(config);
    diag_free(&diag);
    return message;
}

#define PEOPLE "  people: [{user: li, role: carer, pager: \"1234\"}]\n"

static void test_config(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    static const struct {
        const char *rest, *message; /* "" = loads */
    } cases[] = {
        {PEOPLE "espa: {device: /dev/ttyUSB0}\n", ""},
        {PEOPLE "espa: {device: /dev/ttyS0, baud: 1200, data_bits: 8, parity: none, stop_bits: 2, "
                "address: 3, own_address: 0, encoding: gbk, response_ms: 500, retries: 5, "
                "poll_s: 0, call_type: 1, transmissions: 2, priority_map: {fire: {priority: 3, "
                "beep: 9}}}\n",
         ""},
        {"  people: [{user: li, role: carer, pager: 12a4}]\n",
         "espa.yaml:5:43: pager: expected the call number, 1 to 16 digits"},
        {"  people: [{user: li, role: carer, pager: \"12345678901234567\"}]\n",
         "pager: expected the call number, 1 to 16 digits"},
        {"  people: [{user: li, role: carer, pager: \"\"}]\n", "pager: expected the call number"},
        {"  people: [{user: li, role: carer, pager: [1]}]\n",
         "pager: expected the call number, 1 to 16 digits (e.g. \"1234\"), got a structure"},
        {PEOPLE "espa: {baud: 9600}\n", "missing required key \"device\" in espa"},
        {PEOPLE "espa: {device: /dev/ttyS0, baud: 9601}\n", "espa.yaml:6:34: baud: expected 1200,"},
        {PEOPLE "espa: {device: /dev/ttyS0, data_bits: 6}\n", "data_bits: expected 7 or 8, got 6"},
        {PEOPLE "espa: {device: /dev/ttyS0, parity: mark}\n",
         "parity: expected even, odd or none, got \"mark\""},
        {PEOPLE "espa: {device: /dev/ttyS0, stop_bits: 3}\n", "stop_bits: expected an integer"},
        {PEOPLE "espa: {device: /dev/ttyS0, data_bits: 7, parity: none}\n",
         "data_bits: 7 bits without parity"},
        {PEOPLE "espa: {device: /dev/ttyS0, address: A}\n", "address: expected one digit 0 to 9"},
        {PEOPLE "espa: {device: /dev/ttyS0, address: 1}\n",
         "own_address: the paging system's address is '1' too"},
        {PEOPLE "espa: {device: /dev/ttyS0, encoding: utf8}\n",
         "encoding: expected ascii or gbk, got \"utf8\""},
        {PEOPLE "espa: {device: /dev/ttyS0, encoding: gbk}\n", "encoding: gbk needs data_bits: 8"},
        {PEOPLE "espa: {device: /dev/ttyS0, response_ms: 50}\n",
         "response_ms: expected an integer"},
        {PEOPLE "espa: {device: /dev/ttyS0, retries: 0}\n", "retries: expected an integer"},
        {PEOPLE "espa: {device: /dev/ttyS0, call_type: 0}\n",
         "call_type: expected one digit 1 to 9"},
        {PEOPLE "espa: {device: /dev/ttyS0, priority_map: {technical: {priority: 1}}}\n",
         "priority_map: expected normal, urgent, emergency or fire"},
        {PEOPLE "espa: {device: /dev/ttyS0, priority_map: {fire: {priority: 12}}}\n",
         "priority: expected one digit 1 to 9, got \"12\""},
        {PEOPLE "espa: {device: /dev/ttyS0, priority_map: {fire: {tone: 1}}}\n",
         "unknown key \"tone\" in priority_map entry"},
        {PEOPLE "espa: {device: /dev/ttyS0, speed: 1}\n", "unknown key \"speed\" in espa"},
        {PEOPLE "espa: {device: \"\"}\n", "espa.yaml:6:16: device: expected the serial tty's path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = verdict(dir, cases[i].rest);
        if (cases[i].message[0] ? !strstr(got, cases[i].message) : got[0] != '\0')
            fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].message, got);
    }
    /* The second case, read back; and the defaults. */
    char *path = NULL;
    assert_true(asprintf(&path, "%s/espa.yaml", dir) > 0);
    verdict(dir, cases[1].rest);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(path, &diag);
    assert_non_null(config);
    const struct wg_espa *espa = &config->espa;
    assert_true(espa->enabled);
    assert_string_equal(espa->device, "/dev/ttyS0");
    assert_int_equal(espa->baud, 1200);
    assert_int_equal(espa->data_bits, 8);
    assert_int_equal(espa->parity, 'N');
    assert_int_equal(espa->stop_bits, 2);
    assert_int_equal(espa->address, '3');
    assert_int_equal(espa->own_address, '0');
    assert_string_equal(espa->encoding, "gbk");
    assert_int_equal(espa->poll_s, 0);
    assert_int_equal(espa->call_type, '1');
    assert_int_equal(espa->transmissions, '2');
    assert_int_equal(espa->coding[WG_PRIO_FIRE].priority, '3');
    assert_int_equal(espa->coding[WG_PRIO_FIRE].beep, '9');
    assert_int_equal(espa->coding[WG_PRIO_NORMAL].priority, '1');
    assert_string_equal(config->staff.people[0].pager, "1234");
    config_free(config);
    verdict(dir, cases[0].rest);
    config = config_load(path, &diag);
    assert_non_null(config);
    espa = &config->espa;
    assert_int_equal(espa->baud, 9600);
    assert_int_equal(espa->data_bits, 7);
    assert_int_equal(espa->parity, 'E');
    assert_int_equal(espa->stop_bits, 1);
    assert_int_equal(espa->address, '2');
    assert_int_equal(espa->own_address, '1');
    assert_string_equal(espa->encoding, "ascii");
    assert_int_equal(espa->response_ms, 3000);
    assert_int_equal(espa->retries, 3);
    assert_int_equal(espa->coding[WG_PRIO_EMERGENCY].priority, '2');
    assert_int_equal(espa->coding[WG_PRIO_EMERGENCY].beep, '3');
    assert_int_equal(espa->call_type, 0);
    config_free(config);
    /* No espa: section: disabled; espa: without anybody's pager: a warning. */
    verdict(dir, "  people: [{user: li, role: carer}]\n");
    config = config_load(path, &diag);
    assert_non_null(config);
    assert_false(config->espa.enabled);
    assert_null(config->staff.people[0].pager);
    config_free(config);
    verdict(dir, "  people: [{user: li, role: carer}]\nespa: {device: /dev/ttyS0}\n");
    config = config_load(path, &diag);
    assert_non_null(config);
    assert_int_equal(config->warnings.count, 1);
    assert_non_null(strstr(config->warnings.messages[0], "nobody in staff.people has a pager"));
    config_free(config);
    diag_free(&diag);
    free(path);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_matches_published_example),
        cmocka_unit_test(test_block_optional_records_and_refusals),
        cmocka_unit_test(test_receiver),
        cmocka_unit_test(test_display_text),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests_name("espa", tests, NULL, NULL);
}
