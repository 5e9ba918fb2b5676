/* Unit tests of the Modbus driver's pure parts: decoding and encoding of
 * every type and byte/word order, the merged-read planner against an
 * exhaustive search, the overlap check, the supervision state machine, and
 * the poll grid with its poll boundaries (mb_device.c, through a recording
 * host). */
#include "testutil.h"

#include <math.h>

#include "mb_device.h"
#include "mb_health.h"
#include "mb_plan.h"
#include "mb_point.h"
#include "mb_profiles.h"

static struct mb_point reg_point(enum mb_type type, unsigned count, bool byte_swap, bool word_swap)
{
    return (struct mb_point){.function = 3,
                             .count = (uint16_t)count,
                             .type = type,
                             .byte_swap = byte_swap,
                             .word_swap = word_swap,
                             .scale = 1.0,
                             .bit = -1};
}

/* Known images from the vendors' documents: 230.5 V as f32 is 0x4366 0x8000. */
static void test_decode_known_floats(void **state)
{
    (void)state;
    struct mb_point abcd = reg_point(MB_F32, 2, false, false);
    uint16_t big[] = {0x4366, 0x8000};
    assert_float_equal(mb_point_decode_registers(&abcd, big), 230.5, 1e-9);
    struct mb_point cdab = reg_point(MB_F32, 2, false, true);
    uint16_t swapped[] = {0x8000, 0x4366};
    assert_float_equal(mb_point_decode_registers(&cdab, swapped), 230.5, 1e-9);
    struct mb_point dcba = reg_point(MB_F32, 2, true, true);
    uint16_t little[] = {0x0080, 0x6643};
    assert_float_equal(mb_point_decode_registers(&dcba, little), 230.5, 1e-9);
    struct mb_point badc = reg_point(MB_F32, 2, true, false);
    uint16_t bytes_swapped[] = {0x6643, 0x0080};
    assert_float_equal(mb_point_decode_registers(&badc, bytes_swapped), 230.5, 1e-9);
}

static void test_decode_integers(void **state)
{
    (void)state;
    struct mb_point i16 = reg_point(MB_I16, 1, false, false);
    uint16_t minus_two[] = {0xFFFE};
    assert_float_equal(mb_point_decode_registers(&i16, minus_two), -2.0, 0);
    struct mb_point i32 = reg_point(MB_I32, 2, false, false);
    uint16_t minus_1500[] = {0xFFFF, 0xFA24};
    assert_float_equal(mb_point_decode_registers(&i32, minus_1500), -1500.0, 0);
    struct mb_point u32 = reg_point(MB_U32, 2, false, true);
    uint16_t energy[] = {0x614E, 0x00BC}; /* 12345678, low word first */
    u32.scale = 0.01;
    assert_float_equal(mb_point_decode_registers(&u32, energy), 123456.78, 1e-6);
    struct mb_point u64 = reg_point(MB_U64, 4, false, false);
    uint16_t big[] = {0x0000, 0x0001, 0x0000, 0x0000}; /* 2^32 */
    assert_float_equal(mb_point_decode_registers(&u64, big), 4294967296.0, 0);
    u64.word_swap = true;
    uint16_t little_words[] = {0x0000, 0x0000, 0x0001, 0x0000};
    assert_float_equal(mb_point_decode_registers(&u64, little_words), 4294967296.0, 0);
    struct mb_point offset = reg_point(MB_U16, 1, false, false);
    offset.scale = 0.1;
    offset.offset = -40;
    uint16_t raw[] = {650};
    assert_float_equal(mb_point_decode_registers(&offset, raw), 25.0, 1e-9);
}

static void test_decode_bools(void **state)
{
    (void)state;
    struct mb_point status = reg_point(MB_U16, 1, false, false);
    status.is_bool = true;
    uint16_t word[] = {0x08F1};
    status.bit = 7;
    assert_float_equal(mb_point_decode_registers(&status, word), 1.0, 0);
    status.bit = 8;
    assert_float_equal(mb_point_decode_registers(&status, word), 0.0, 0);
    status.bit = -1;
    status.mask = 0x000F;
    status.has_equals = true;
    status.equals = 0;
    assert_float_equal(mb_point_decode_registers(&status, word), 0.0, 0); /* state 1, not warm-up */
    status.has_equals = false;
    status.mask = 0x0030;
    assert_float_equal(mb_point_decode_registers(&status, word), 1.0, 0);
    status.mask = 0;
    status.has_equals = true;
    status.equals = 0x55;
    uint16_t empty[] = {0x55};
    assert_float_equal(mb_point_decode_registers(&status, empty), 1.0, 0);

    struct mb_point contact = {
        .function = 2, .count = 1, .type = MB_BIT, .is_bool = true, .bit = -1, .scale = 1};
    uint8_t closed = 1, open = 0;
    assert_float_equal(mb_point_decode_bits(&contact, &closed), 1.0, 0);
    contact.normally_closed = true; /* NC: an open contact (cut wire) reads 1 */
    assert_float_equal(mb_point_decode_bits(&contact, &open), 1.0, 0);
    assert_float_equal(mb_point_decode_bits(&contact, &closed), 0.0, 0);
}

/* Every type and order: encode then decode gives the value back. */
static void test_encode_round_trip(void **state)
{
    (void)state;
    const struct {
        enum mb_type type;
        unsigned count;
        double value;
    } cases[] = {{MB_U16, 1, 65535},
                 {MB_I16, 1, -32768},
                 {MB_U32, 2, 4000000000.0},
                 {MB_I32, 2, -2000000000.0},
                 {MB_U64, 4, 9007199254740992.0},
                 {MB_F32, 2, -12.5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int order = 0; order < 4; order++) {
            struct mb_point point = reg_point(cases[c].type, cases[c].count, order & 1,
                                              (order & 2) && cases[c].count > 1);
            point.write_function = 16;
            uint16_t registers[4] = {0};
            uint8_t bit = 0;
            char reason[96];
            assert_true(
                mb_point_encode(&point, cases[c].value, &bit, registers, reason, sizeof reason));
            assert_float_equal(mb_point_decode_registers(&point, registers), cases[c].value, 0);
        }
    }
}

static void test_encode_refusals(void **state)
{
    (void)state;
    uint16_t registers[4];
    uint8_t bit = 0;
    char reason[96];
    struct mb_point u16 = reg_point(MB_U16, 1, false, false);
    u16.write_function = 6;
    assert_false(mb_point_encode(&u16, 70000, &bit, registers, reason, sizeof reason));
    assert_non_null(strstr(reason, "out of range for u16"));
    assert_false(mb_point_encode(&u16, -1, &bit, registers, reason, sizeof reason));
    assert_false(mb_point_encode(&u16, NAN, &bit, registers, reason, sizeof reason));

    struct mb_point valve = {.function = 1,
                             .count = 1,
                             .type = MB_BIT,
                             .is_bool = true,
                             .bit = -1,
                             .scale = 1,
                             .write_function = 5,
                             .refuse_zero = true};
    assert_false(mb_point_encode(&valve, 0, &bit, registers, reason, sizeof reason));
    assert_non_null(strstr(reason, "never re-opened"));
    assert_true(mb_point_encode(&valve, 1, &bit, registers, reason, sizeof reason));
    assert_int_equal(bit, 1);

    struct mb_point door = valve;
    door.refuse_zero = false;
    door.inverted = true; /* release = de-energise */
    assert_true(mb_point_encode(&door, 1, &bit, registers, reason, sizeof reason));
    assert_int_equal(bit, 0);
    assert_float_equal(mb_point_decode_bits(&door, &bit), 1.0, 0);

    struct mb_point command = reg_point(MB_U16, 1, false, false);
    command.is_bool = true;
    command.write_function = 6;
    command.write_on = 2;
    command.write_off = 1;
    assert_true(mb_point_encode(&command, 1, &bit, registers, reason, sizeof reason));
    assert_int_equal(registers[0], 2);
    assert_float_equal(mb_point_decode_registers(&command, registers), 1.0, 0);
    assert_true(mb_point_encode(&command, 0, &bit, registers, reason, sizeof reason));
    assert_int_equal(registers[0], 1);
    assert_float_equal(mb_point_decode_registers(&command, registers), 0.0, 0);
}

/* ---- planner ----------------------------------------------------------------------------- */

/* The fewest blocks by exhaustive search over the sorted spans of one function. */
static size_t brute_minimum(const struct mb_point *points, size_t n, const struct mb_limits *limits)
{
    size_t total = 0;
    for (int function = 1; function <= 4; function++) {
        unsigned starts[64], ends[64];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (points[i].function != function)
                continue;
            size_t j = k++;
            while (j > 0 && starts[j - 1] > points[i].address) {
                starts[j] = starts[j - 1];
                ends[j] = ends[j - 1];
                j--;
            }
            starts[j] = points[i].address;
            ends[j] = points[i].address + points[i].count - 1u;
        }
        if (k == 0)
            continue;
        unsigned cap = function <= 2 ? limits->max_bits : limits->max_registers;
        size_t best[65];
        best[0] = 0;
        for (size_t i = 1; i <= k; i++) {
            best[i] = SIZE_MAX;
            for (size_t j = 0; j < i; j++) {
                unsigned end = ends[j];
                bool feasible = true;
                for (size_t m = j + 1; m < i && feasible; m++) {
                    feasible = starts[m] <= end + 1 + limits->gap;
                    end = ends[m] > end ? ends[m] : end;
                }
                feasible = feasible && end - starts[j] + 1 <= cap;
                if (feasible && best[j] != SIZE_MAX && best[j] + 1 < best[i])
                    best[i] = best[j] + 1;
            }
        }
        total += best[k];
    }
    return total;
}

static void test_plan_is_minimal(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        struct mb_point points[24];
        size_t n = 1 + (size_t)(rand_r(&seed) % 24);
        for (size_t i = 0; i < n; i++) {
            int function = 1 + rand_r(&seed) % 4;
            unsigned count = function <= 2 ? 1 : (unsigned[]){1, 1, 2, 4}[rand_r(&seed) % 4];
            /* distinct, non-overlapping spans: an address grid of 4 */
            points[i] = reg_point(MB_U16, count, false, false);
            points[i].function = (uint8_t)function;
            points[i].type = function <= 2 ? MB_BIT
                             : count == 1  ? MB_U16
                             : count == 2  ? MB_U32
                                           : MB_U64;
            points[i].address = (uint16_t)(4 * (rand_r(&seed) % 200));
        }
        size_t a, b;
        if (mb_plan_find_overlap(points, n, &a, &b))
            continue; /* same address twice with different widths: not a valid map */
        struct mb_limits limits = {.gap = (unsigned)(rand_r(&seed) % 20),
                                   .max_registers = 4 + (unsigned)(rand_r(&seed) % 122),
                                   .max_bits = 1 + (unsigned)(rand_r(&seed) % 2000)};
        if (limits.max_registers > 125)
            limits.max_registers = 125;
        struct mb_block blocks[24];
        uint32_t block_of[24];
        size_t planned = mb_plan(points, n, &limits, blocks, block_of);
        assert_int_equal(planned, brute_minimum(points, n, &limits));
        for (size_t i = 0; i < n; i++) { /* every point inside its block, within the cap */
            const struct mb_block *block = &blocks[block_of[i]];
            assert_int_equal(block->function, points[i].function);
            assert_true(points[i].address >= block->start);
            assert_true(points[i].address + points[i].count <= block->start + block->count);
            assert_true(block->count <=
                        (block->function <= 2 ? limits.max_bits : limits.max_registers));
        }
    }
}

static void test_plan_caps_and_gaps(void **state)
{
    (void)state;
    struct mb_point points[200];
    for (size_t i = 0; i < 200; i++) {
        points[i] = reg_point(MB_U16, 1, false, false);
        points[i].address = (uint16_t)i;
    }
    struct mb_limits limits = {.gap = 0, .max_registers = 125, .max_bits = 2000};
    struct mb_block blocks[200];
    uint32_t block_of[200];
    assert_int_equal(mb_plan(points, 200, &limits, blocks, block_of), 2); /* 125 + 75 */
    assert_int_equal(blocks[0].count, 125);
    limits.max_registers = 10;
    assert_int_equal(mb_plan(points, 200, &limits, blocks, block_of), 20);

    struct mb_point sparse[3] = {reg_point(MB_U16, 1, false, false),
                                 reg_point(MB_F32, 2, false, false),
                                 reg_point(MB_U16, 1, false, false)};
    sparse[1].address = 2; /* a one-register hole at 1 */
    sparse[2].address = 100;
    limits = (struct mb_limits){.gap = 0, .max_registers = 125, .max_bits = 2000};
    assert_int_equal(mb_plan(sparse, 3, &limits, blocks, block_of), 3);
    limits.gap = 1;
    assert_int_equal(mb_plan(sparse, 3, &limits, blocks, block_of), 2);
    limits.gap = 97;
    assert_int_equal(mb_plan(sparse, 3, &limits, blocks, block_of), 1);
    assert_int_equal(blocks[0].count, 101);
}

static void test_overlap(void **state)
{
    (void)state;
    struct mb_point status_bits[2] = {reg_point(MB_U16, 1, false, false),
                                      reg_point(MB_U16, 1, false, false)};
    status_bits[0].is_bool = status_bits[1].is_bool = true;
    status_bits[0].bit = 3;
    status_bits[1].bit = 4;
    size_t a, b;
    assert_false(mb_plan_find_overlap(status_bits, 2, &a, &b)); /* bits of one word: fine */
    struct mb_point clash[2] = {reg_point(MB_F32, 2, false, false),
                                reg_point(MB_U16, 1, false, false)};
    clash[1].address = 1;
    assert_true(mb_plan_find_overlap(clash, 2, &a, &b));
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    clash[1].function = 4; /* another table: no overlap */
    assert_false(mb_plan_find_overlap(clash, 2, &a, &b));
}

/* ---- supervision ------------------------------------------------------------------------- */

static void test_health(void **state)
{
    (void)state;
    struct mb_supervision config = {.allowed_fails = 3, .backoff_ms = 1000, .backoff_max_ms = 5000};
    struct mb_device_health health = {.state = WG_HEALTH_UNKNOWN};
    int probe = -1;
    assert_true(mb_health_on_reply(&health, &config));
    assert_int_equal(health.state, WG_HEALTH_ONLINE);
    assert_false(mb_health_on_reply(&health, &config));
    assert_true(mb_health_on_silence(&health, &config, &probe));
    assert_int_equal(health.state, WG_HEALTH_SUSPECT);
    assert_int_equal(probe, 0);
    assert_false(mb_health_on_silence(&health, &config, &probe));
    assert_true(mb_health_on_silence(&health, &config, &probe));
    assert_int_equal(health.state, WG_HEALTH_OFFLINE);
    assert_int_equal(probe, 1000);
    const int expected[] = {2000, 4000, 5000, 5000};
    for (size_t i = 0; i < 4; i++) {
        assert_false(mb_health_on_silence(&health, &config, &probe));
        assert_int_equal(probe, expected[i]);
    }
    assert_true(mb_health_on_reply(&health, &config));
    assert_int_equal(health.state, WG_HEALTH_ONLINE);
    assert_true(mb_health_on_silence(&health, &config, &probe)); /* back-off starts over */
    assert_false(mb_health_on_silence(&health, &config, &probe));
    assert_true(mb_health_on_silence(&health, &config, &probe));
    assert_int_equal(probe, 1000);
}

/* ---- the poll grid, through a host that records what the driver posts ---- */

struct recorder {
    struct wg_host api; /* first: the callbacks get it back */
    int readings, polls_done, warnings, infos;
    uint64_t missed;
};

static struct recorder *recorder_of(const struct wg_host *api)
{
    return (struct recorder *)api;
}

static int64_t rec_now(const struct wg_host *api)
{
    (void)api;
    return 1700000000000;
}

static void rec_log(const struct wg_host *api, int level, const char *fmt, ...)
{
    if (level == WG_PLOG_WARNING)
        recorder_of(api)->warnings++;
    else
        recorder_of(api)->infos++;
    (void)fmt;
}

static enum wg_post_status rec_reading(const struct wg_host *api, uint32_t device, uint32_t point,
                                       double value, int64_t ts_ms)
{
    (void)device, (void)point, (void)value, (void)ts_ms;
    recorder_of(api)->readings++;
    return WG_POST_QUEUED;
}

static enum wg_post_status rec_health(const struct wg_host *api, uint32_t device,
                                      enum wg_health health, enum wg_health_reason code,
                                      const char *reason)
{
    (void)api, (void)device, (void)health, (void)code, (void)reason;
    return WG_POST_QUEUED;
}

static enum wg_post_status rec_counter(const struct wg_host *api, uint32_t device,
                                       const char *counter, uint64_t increment)
{
    (void)device;
    if (strcmp(counter, "missed_polls") == 0)
        recorder_of(api)->missed += increment;
    return WG_POST_QUEUED;
}

static enum wg_post_status rec_poll_done(const struct wg_host *api, uint32_t device, int64_t ts_ms)
{
    (void)device, (void)ts_ms;
    recorder_of(api)->polls_done++;
    return WG_POST_QUEUED;
}

static void recorder_init(struct recorder *recorder)
{
    *recorder = (struct recorder){.api = {.struct_size = sizeof(struct wg_host),
                                          .abi_version = WG_PLUGIN_ABI_VERSION,
                                          .now_ms = rec_now,
                                          .log = rec_log,
                                          .post_reading = rec_reading,
                                          .post_health = rec_health,
                                          .post_counter = rec_counter,
                                          .post_poll_done = rec_poll_done}};
}

static const struct mb_point grid_point = {
    .function = 3, .count = 1, .type = MB_U16, .scale = 1.0, .bit = -1};

static void grid_device(struct mb_device *device)
{
    *device = (struct mb_device){.id = "meter",
                                 .unit = 1,
                                 .poll_ms = 1000,
                                 .timeout_ms = 100,
                                 .limits = {.gap = 8, .max_registers = 125, .max_bits = 2000},
                                 .points = &grid_point,
                                 .point_count = 1};
    assert_true(mb_device_prepare(device));
}

/* One poll at `now` that gets its reply. */
static void answered_poll(struct recorder *host, struct mb_device *device, int64_t now)
{
    struct mb_poll poll;
    struct mb_supervision supervision = {
        .allowed_fails = 3, .backoff_ms = 5000, .backoff_max_ms = 60000};
    uint16_t registers[1] = {42};
    mb_poll_begin(&host->api, device, &poll, now);
    assert_false(mb_poll_block_done(&host->api, device, &poll, MB_OK, 0, "", registers, NULL));
    mb_poll_end(&host->api, &supervision, device, &poll, now);
}

static void test_grid_never_drifts(void **state)
{
    (void)state;
    struct recorder host;
    recorder_init(&host);
    struct mb_device device;
    grid_device(&device);
    mb_device_schedule_first(&device, 10000, 300);
    assert_int_equal(device.next_due_ms, 10300);
    answered_poll(&host, &device, 10300);
    assert_int_equal(device.next_due_ms, 11300);
    answered_poll(&host, &device, 11350); /* 50 ms late: the next slot stays on the grid */
    assert_int_equal(device.next_due_ms, 12300);
    answered_poll(&host, &device, 12301);
    assert_int_equal(device.next_due_ms, 13300);
    assert_int_equal(host.polls_done, 3);
    assert_int_equal(host.readings, 3);
    assert_int_equal(host.missed, 0);
    assert_int_equal(host.warnings, 0);
    mb_device_release(&device);
}

static void test_grid_skips_missed_slots(void **state)
{
    (void)state;
    struct recorder host;
    recorder_init(&host);
    struct mb_device device;
    grid_device(&device);
    mb_device_schedule_first(&device, 0, 0);
    answered_poll(&host, &device, 0);
    assert_int_equal(device.next_due_ms, 1000);
    /* The line was busy until 3.5 s: the slots at 2 and 3 s are skipped, counted, logged once. */
    answered_poll(&host, &device, 3500);
    assert_int_equal(device.next_due_ms, 4000);
    assert_int_equal(host.missed, 2);
    assert_int_equal(host.warnings, 1);
    answered_poll(&host, &device, 5200);
    assert_int_equal(device.next_due_ms, 6000);
    assert_int_equal(host.missed, 3);
    assert_int_equal(host.warnings, 1); /* logged once per change, counted every time */
    int infos = host.infos;
    answered_poll(&host, &device, 6010);
    assert_int_equal(device.next_due_ms, 7000);
    assert_int_equal(host.infos, infos + 1); /* "polled on its grid again" */
    /* 700 ms late: the slot at 8 s would follow within half a period, so it goes too. */
    answered_poll(&host, &device, 7700);
    assert_int_equal(device.next_due_ms, 9000);
    assert_int_equal(host.missed, 4);
    mb_device_release(&device);
}

static void test_grid_early_and_offline(void **state)
{
    (void)state;
    struct recorder host;
    recorder_init(&host);
    struct mb_device device;
    grid_device(&device);
    device.alarm_first = true;
    mb_device_schedule_first(&device, 0, 700);
    assert_int_equal(device.next_due_ms, 0); /* alarm-first: read at once */
    answered_poll(&host, &device, 0);
    assert_int_equal(device.next_due_ms, 700); /* an early read leaves the grid as it was */
    answered_poll(&host, &device, 700);
    assert_int_equal(device.next_due_ms, 1700);

    /* Silent polls: suspect, then offline, probed on the grid after the back-off. */
    struct mb_supervision supervision = {
        .allowed_fails = 2, .backoff_ms = 2500, .backoff_max_ms = 60000};
    int done_before = host.polls_done;
    for (int64_t now = 1700; now <= 2700; now += 1000) {
        struct mb_poll poll;
        mb_poll_begin(&host.api, &device, &poll, now);
        assert_false(mb_poll_block_done(&host.api, &device, &poll, MB_ERR_TIMEOUT, 0, "timeout",
                                        NULL, NULL));
        mb_poll_end(&host.api, &supervision, &device, &poll, now);
    }
    assert_int_equal(device.health.state, WG_HEALTH_OFFLINE);
    assert_int_equal(device.next_due_ms, 5700);     /* first slot at or after 2700 + 2500 */
    assert_int_equal(host.polls_done, done_before); /* no boundary for a poll without a reply */
    assert_int_equal(host.missed, 0);
    mb_device_release(&device);
}

/* The endpoints of a many-endpoint bus share one grid of MB_GRID_SLOT_MS
 * slots: whenever each one starts, its first slot is on that grid, within a
 * period, and the same one at every start; the devices behind one endpoint
 * are spread evenly over the period. */
static void test_shared_slot_grid(void **state)
{
    (void)state;
    int slots_used[1000 / MB_GRID_SLOT_MS] = {0};
    char bus[32];
    for (int b = 0; b < 400; b++) {
        snprintf(bus, sizeof bus, "meter-%d", b);
        int64_t started = 1000000 + b * 7; /* endpoints attach a few ms apart */
        int64_t offset = mb_device_first_slot_in(bus, 0, 1, 1000, started);
        assert_true(offset >= 0 && offset < 1000);
        int64_t first = started + offset;
        assert_int_equal(first % MB_GRID_SLOT_MS, 0);
        slots_used[(first % 1000) / MB_GRID_SLOT_MS]++;
        /* Another start, later: the same slot of the period. */
        int64_t again = 5555555 + mb_device_first_slot_in(bus, 0, 1, 1000, 5555555);
        assert_int_equal(again % 1000, first % 1000);
    }
    for (size_t s = 0; s < sizeof slots_used / sizeof *slots_used; s++)
        assert_true(slots_used[s] > 0 && slots_used[s] < 60); /* about 20 each */
    /* Four devices behind one endpoint: a quarter of the period apart. */
    int64_t at[4];
    for (size_t d = 0; d < 4; d++)
        at[d] = (777 + mb_device_first_slot_in("gateway-1", d, 4, 1000, 777)) % 1000;
    for (size_t d = 1; d < 4; d++)
        assert_int_equal((at[d] - at[0] + 1000) % 1000, (int64_t)d * 250);
    /* A period shorter than two slots: any phase within it. */
    assert_true(mb_device_first_slot_in("fast", 0, 1, 60, 12345) < 60);
    assert_int_equal(mb_device_first_slot_in("off", 0, 1, 0, 12345), 0);
}

/* Under a host without post_poll_done (ABI 2), polls work the same. */
static void test_poll_done_optional(void **state)
{
    (void)state;
    struct recorder host;
    recorder_init(&host);
    host.api.post_poll_done = NULL;
    struct mb_device device;
    grid_device(&device);
    mb_device_schedule_first(&device, 0, 0);
    answered_poll(&host, &device, 0);
    assert_int_equal(host.readings, 1);
    assert_int_equal(host.polls_done, 0);
    mb_device_release(&device);
}

/* Parsed profiles are shared by content: two buses whose profile parses the
 * same get one copy; a profile that differs in any field (a reload that
 * changed its scale) gets its own; the copy lives until its last user. */
static struct mb_point *parsed_copy(double scale)
{
    struct mb_point *points = malloc(2 * sizeof *points);
    assert_non_null(points);
    points[0] = reg_point(MB_U16, 1, false, false);
    points[1] = reg_point(MB_F32, 2, false, true);
    points[1].address = 1;
    points[1].scale = scale;
    return points;
}

static void test_profiles_shared_by_content(void **state)
{
    (void)state;
    struct mb_profiles profiles;
    mb_profiles_init(&profiles);
    const struct mb_point *first = mb_profiles_share(&profiles, parsed_copy(0.1), 2);
    const struct mb_point *second = mb_profiles_share(&profiles, parsed_copy(0.1), 2);
    const struct mb_point *changed = mb_profiles_share(&profiles, parsed_copy(0.01), 2);
    const struct mb_point *shorter = mb_profiles_share(&profiles, parsed_copy(0.1), 1);
    assert_non_null(first);
    assert_ptr_equal(first, second);
    assert_ptr_not_equal(first, changed);
    assert_ptr_not_equal(first, shorter);
    assert_true(changed[1].scale == 0.01);
    assert_int_equal(mb_profiles_count(&profiles), 3);
    mb_profiles_release(&profiles, first);
    assert_int_equal(mb_profiles_count(&profiles), 3); /* the second bus still uses it */
    assert_true(second[1].scale == 0.1);
    mb_profiles_release(&profiles, second);
    mb_profiles_release(&profiles, changed);
    assert_int_equal(mb_profiles_count(&profiles), 1);
    mb_profiles_release(&profiles, shorter);
    assert_int_equal(mb_profiles_count(&profiles), 0);
    mb_profiles_destroy(&profiles);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_known_floats),
        cmocka_unit_test(test_decode_integers),
        cmocka_unit_test(test_decode_bools),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_plan_is_minimal),
        cmocka_unit_test(test_plan_caps_and_gaps),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_grid_never_drifts),
        cmocka_unit_test(test_grid_skips_missed_slots),
        cmocka_unit_test(test_grid_early_and_offline),
        cmocka_unit_test(test_shared_slot_grid),
        cmocka_unit_test(test_profiles_shared_by_content),
        cmocka_unit_test(test_poll_done_optional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
