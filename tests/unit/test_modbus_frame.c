/* Unit tests of the Modbus TCP frame codec (plugins/modbus/mb_frame.c):
 * requests byte for byte as the specification's examples lay them out,
 * replies checked against their request (transaction id, unit, function,
 * byte count, echo), exception replies, and streams that are cut short,
 * oversize or not Modbus TCP at all. */
#include "testutil.h"

#include "mb_frame.h"

static const struct mb_request read_holding = {
    .transaction = 0x1234, .unit = 1, .function = 3, .address = 0x006b, .count = 3};

/* Modbus Application Protocol 1.1b3, 6.3: read holding registers 108..110. */
static void test_read_request_bytes(void **state)
{
    (void)state;
    uint8_t frame[MB_FRAME_MAX];
    size_t size = mb_frame_read_request(&read_holding, frame);
    const uint8_t expected[] = {0x12, 0x34, 0, 0, 0, 6, 1, 3, 0x00, 0x6b, 0x00, 0x03};
    assert_int_equal(size, sizeof expected);
    assert_memory_equal(frame, expected, sizeof expected);
}

static void test_write_request_bytes(void **state)
{
    (void)state;
    uint8_t frame[MB_FRAME_MAX];
    uint8_t on = 1;
    struct mb_request coil = {
        .transaction = 7, .unit = 9, .function = 5, .address = 0xac, .count = 1};
    const uint8_t single_coil[] = {0, 7, 0, 0, 0, 6, 9, 5, 0x00, 0xac, 0xff, 0x00};
    assert_int_equal(mb_frame_write_request(&coil, &on, NULL, frame), sizeof single_coil);
    assert_memory_equal(frame, single_coil, sizeof single_coil);

    uint16_t values[] = {0x000a, 0x0102};
    struct mb_request regs = {
        .transaction = 8, .unit = 1, .function = 16, .address = 1, .count = 2};
    const uint8_t multiple[] = {0, 8, 0, 0, 0, 11, 1, 16, 0, 1, 0, 2, 4, 0x00, 0x0a, 0x01, 0x02};
    assert_int_equal(mb_frame_write_request(&regs, NULL, values, frame), sizeof multiple);
    assert_memory_equal(frame, multiple, sizeof multiple);

    uint8_t bits[] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
    struct mb_request coils = {
        .transaction = 9, .unit = 1, .function = 15, .address = 19, .count = 10};
    const uint8_t many_coils[] = {0, 9, 0, 0, 0, 9, 1, 15, 0, 19, 0, 10, 2, 0xcd, 0x01};
    assert_int_equal(mb_frame_write_request(&coils, bits, NULL, frame), sizeof many_coils);
    assert_memory_equal(frame, many_coils, sizeof many_coils);

    struct mb_request read = {.transaction = 1, .unit = 1, .function = 3, .count = 1};
    assert_int_equal(mb_frame_write_request(&read, NULL, values, frame), 0);
    struct mb_request too_many = {.transaction = 1, .unit = 1, .function = 16, .count = 124};
    assert_int_equal(mb_frame_write_request(&too_many, NULL, values, frame), 0);
}

static void test_stream_completeness(void **state)
{
    (void)state;
    const uint8_t reply[] = {0x12, 0x34, 0, 0, 0, 9, 1, 3, 6, 0x02, 0x2b, 0, 0, 0, 0x64};
    for (size_t cut = 0; cut < sizeof reply; cut++)
        assert_int_equal(mb_frame_complete(reply, cut), 0);
    assert_int_equal(mb_frame_complete(reply, sizeof reply), (int)sizeof reply);
    uint8_t two[2 * sizeof reply];
    memcpy(two, reply, sizeof reply);
    memcpy(two + sizeof reply, reply, sizeof reply);
    assert_int_equal(mb_frame_complete(two, sizeof two), (int)sizeof reply);

    const uint8_t not_modbus[] = {0, 1, 0x47, 0x45, 0, 6, 1, 3}; /* "GE": an HTTP client, say */
    assert_int_equal(mb_frame_complete(not_modbus, sizeof not_modbus), -1);
    const uint8_t oversize[] = {0, 1, 0, 0, 0x01, 0x00, 1, 3}; /* length 256 */
    assert_int_equal(mb_frame_complete(oversize, sizeof oversize), -1);
    const uint8_t empty[] = {0, 1, 0, 0, 0, 1, 1}; /* no function code */
    assert_int_equal(mb_frame_complete(empty, sizeof empty), -1);
}

static enum mb_reply_kind parse(const struct mb_request *request, const uint8_t *frame, size_t size,
                                uint16_t *registers, uint8_t *bits, int *exception)
{
    char detail[96];
    assert_int_equal(mb_frame_complete(frame, size), (int)size);
    return mb_frame_parse_reply(request, frame, size, registers, bits, exception, detail,
                                sizeof detail);
}

static void test_read_reply(void **state)
{
    (void)state;
    uint16_t registers[3] = {0};
    int exception = -1;
    const uint8_t reply[] = {0x12, 0x34, 0, 0, 0, 9, 1, 3, 6, 0x02, 0x2b, 0, 0, 0, 0x64};
    assert_int_equal(parse(&read_holding, reply, sizeof reply, registers, NULL, &exception),
                     MB_REPLY_OK);
    assert_int_equal(registers[0], 0x022b);
    assert_int_equal(registers[1], 0);
    assert_int_equal(registers[2], 0x64);
    assert_int_equal(exception, 0);

    uint8_t bits[10];
    struct mb_request coils = {
        .transaction = 2, .unit = 4, .function = 1, .address = 19, .count = 10};
    const uint8_t bit_reply[] = {0, 2, 0, 0, 0, 5, 4, 1, 2, 0xcd, 0x01};
    assert_int_equal(parse(&coils, bit_reply, sizeof bit_reply, NULL, bits, &exception),
                     MB_REPLY_OK);
    const uint8_t expected[] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
    assert_memory_equal(bits, expected, sizeof expected);
}

/* Another request's reply is never taken for this one's. */
static void test_reply_of_another_request(void **state)
{
    (void)state;
    uint16_t registers[3];
    int exception;
    const uint8_t stale[] = {0x12, 0x33, 0, 0, 0, 9, 1, 3, 6, 0, 1, 0, 2, 0, 3};
    assert_int_equal(parse(&read_holding, stale, sizeof stale, registers, NULL, &exception),
                     MB_REPLY_OTHER);
    const uint8_t other_unit[] = {0x12, 0x34, 0, 0, 0, 9, 2, 3, 6, 0, 1, 0, 2, 0, 3};
    assert_int_equal(
        parse(&read_holding, other_unit, sizeof other_unit, registers, NULL, &exception),
        MB_REPLY_OTHER);
    const uint8_t other_function[] = {0x12, 0x34, 0, 0, 0, 9, 1, 4, 6, 0, 1, 0, 2, 0, 3};
    assert_int_equal(
        parse(&read_holding, other_function, sizeof other_function, registers, NULL, &exception),
        MB_REPLY_OTHER);
}

static void test_malformed_replies(void **state)
{
    (void)state;
    uint16_t registers[3];
    int exception;
    /* Byte count says 4 for 3 registers. */
    const uint8_t short_count[] = {0x12, 0x34, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2};
    assert_int_equal(
        parse(&read_holding, short_count, sizeof short_count, registers, NULL, &exception),
        MB_REPLY_BAD);
    /* Byte count right, but two extra bytes in the frame. */
    const uint8_t long_frame[] = {0x12, 0x34, 0, 0, 0, 11, 1, 3, 6, 0, 1, 0, 2, 0, 3, 9, 9};
    assert_int_equal(
        parse(&read_holding, long_frame, sizeof long_frame, registers, NULL, &exception),
        MB_REPLY_BAD);
    /* Only the function code. */
    const uint8_t bare[] = {0x12, 0x34, 0, 0, 0, 2, 1, 3};
    assert_int_equal(parse(&read_holding, bare, sizeof bare, registers, NULL, &exception),
                     MB_REPLY_BAD);
    /* A write echo with another address. */
    struct mb_request write = {
        .transaction = 5, .unit = 1, .function = 6, .address = 10, .count = 1};
    const uint8_t bad_echo[] = {0, 5, 0, 0, 0, 6, 1, 6, 0, 11, 0, 1};
    assert_int_equal(parse(&write, bad_echo, sizeof bad_echo, NULL, NULL, &exception),
                     MB_REPLY_BAD);
    const uint8_t good_echo[] = {0, 5, 0, 0, 0, 6, 1, 6, 0, 10, 0, 1};
    assert_int_equal(parse(&write, good_echo, sizeof good_echo, NULL, NULL, &exception),
                     MB_REPLY_OK);
}

static void test_exception_reply(void **state)
{
    (void)state;
    uint16_t registers[3];
    int exception = 0;
    const uint8_t reply[] = {0x12, 0x34, 0, 0, 0, 3, 1, 0x83, 2};
    assert_int_equal(parse(&read_holding, reply, sizeof reply, registers, NULL, &exception),
                     MB_REPLY_EXCEPTION);
    assert_int_equal(exception, 2);
    assert_string_equal(mb_exception_name(2), "illegal data address");
    assert_string_equal(mb_exception_name(0x33), "unknown exception");
    const uint8_t long_exception[] = {0x12, 0x34, 0, 0, 0, 4, 1, 0x83, 2, 0};
    assert_int_equal(
        parse(&read_holding, long_exception, sizeof long_exception, registers, NULL, &exception),
        MB_REPLY_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_request_bytes),       cmocka_unit_test(test_write_request_bytes),
        cmocka_unit_test(test_stream_completeness),      cmocka_unit_test(test_read_reply),
        cmocka_unit_test(test_reply_of_another_request), cmocka_unit_test(test_malformed_replies),
        cmocka_unit_test(test_exception_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
