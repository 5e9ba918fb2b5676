/* libFuzzer target: the Modbus driver's point source and decoder
 * (plugins/modbus/mb_point.c): a profile's `source:` map, then the registers
 * or bits a device answers, decoded, and a value encoded for a write.
 *
 * Input: one byte choosing the point's kind, direction and meaning, then the
 * YAML of the source map up to a NUL, then the device's answer (up to four
 * registers, big-endian) and eight bytes of a double to write. The host the
 * driver sees reads the map through cfgtree, as the plugin host does.
 * Oracles: a bool decodes to 0 or 1; a written coil reads back on for any
 * non-zero value (a lamp's pattern code is analog, on a coil); a whole
 * command register and an integer value read back as what was written
 * (integers within half a step of the scale); a valve is never commanded
 * to re-open. */
#include <math.h>

#include "config/cfgtree.h"
#include "fuzz_util.h"
#include "mb_point.h"

static struct wg_diag diag; /* the messages of one input */

static bool fz_int(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                   long long min, long long max, long long *out)
{
    (void)host;
    return cfg_read_int(&diag, map, key, min, max, out);
}

static bool fz_double(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                      double *out)
{
    (void)host;
    return cfg_read_double(&diag, map, key, out);
}

static bool fz_bool(const struct wg_host *host, const wg_cfg_node *map, const char *key, bool *out)
{
    (void)host;
    return cfg_read_bool(&diag, map, key, out);
}

static bool fz_string(const struct wg_host *host, const wg_cfg_node *map, const char *key,
                      const char **out)
{
    (void)host;
    return cfg_read_string(&diag, map, key, out);
}

static bool fz_only_keys(const struct wg_host *host, const wg_cfg_node *map,
                         const char *const *allowed)
{
    (void)host;
    return cfg_only_keys(&diag, map, allowed);
}

static void fz_error(const struct wg_host *host, const wg_cfg_node *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fz_error(const struct wg_host *host, const wg_cfg_node *node, const char *fmt, ...)
{
    (void)host;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    diag_at(&diag, node, "%s", text);
}

static const struct wg_host host = {
    .struct_size = sizeof(struct wg_host),
    .cfg_get = cfg_get,
    .cfg_scalar = cfg_scalar,
    .cfg_seq_len = cfg_seq_len,
    .cfg_seq_at = cfg_seq_at,
    .cfg_int = fz_int,
    .cfg_double = fz_double,
    .cfg_bool = fz_bool,
    .cfg_string = fz_string,
    .cfg_only_keys = fz_only_keys,
    .cfg_error = fz_error,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

static void check_point(const struct mb_point *point, const uint8_t *answer, size_t answer_size)
{
    uint16_t registers[4] = {0};
    uint8_t bits[1] = {0};
    for (size_t i = 0; i < 4 && 2 * i + 1 < answer_size; i++)
        registers[i] = (uint16_t)(answer[2 * i] << 8 | answer[2 * i + 1]);
    bits[0] = answer_size ? answer[0] & 1 : 0;
    FUZZ_ASSERT(point->count >= 1 && point->count <= 4);
    double value = point->function <= 2 ? mb_point_decode_bits(point, bits)
                                        : mb_point_decode_registers(point, registers);
    if (point->is_bool)
        FUZZ_ASSERT(value == 0.0 || value == 1.0);
    (void)mb_point_raw(point, registers);
    if (!point->write_function)
        return;
    double wanted = 0;
    if (answer_size >= 16)
        memcpy(&wanted, answer + 8, sizeof wanted);
    else if (answer_size)
        wanted = (double)(int8_t)answer[answer_size - 1];
    uint16_t written[4] = {0};
    uint8_t bit = 0;
    char reason[128];
    if (!mb_point_encode(point, wanted, &bit, written, reason, sizeof reason)) {
        FUZZ_ASSERT(reason[0]);
        return;
    }
    FUZZ_ASSERT(!(point->refuse_zero && wanted == 0.0)); /* never re-open a gas valve */
    double read_back = point->function == 1 ? mb_point_decode_bits(point, &bit)
                                            : mb_point_decode_registers(point, written);
    bool commanded = wanted != 0.0;
    if (point->type == MB_BIT && !point->normally_closed) {
        /* A coil holds on or off: any non-zero value (a lamp's pattern code too) is on. */
        FUZZ_ASSERT(read_back == (commanded ? 1.0 : 0.0));
        return;
    }
    if (point->is_bool) {
        FUZZ_ASSERT(read_back == 0.0 || read_back == 1.0);
        /* A coil, or a command register read back whole, says what was commanded. */
        bool plain_register = point->bit < 0 && !point->mask && !point->has_equals &&
                              point->write_on != point->write_off;
        if (!point->normally_closed && plain_register)
            FUZZ_ASSERT(read_back == (commanded ? 1.0 : 0.0));
        return;
    }
    double scaled = (wanted - point->offset) / point->scale;
    if (point->type != MB_F32 && isfinite(scaled) && fabs(scaled) < 1e15) {
        /* Integers: back within half a step of the scale, and rounding. */
        double tolerance = fabs(point->scale) / 2 + 1e-9 * (1 + fabs(wanted) + fabs(point->offset));
        FUZZ_ASSERT(fabs(read_back - wanted) <= tolerance);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 4096)
        return 0;
    uint8_t choice = data[0];
    const uint8_t *yaml = data + 1;
    const uint8_t *nul = memchr(yaml, '\0', size - 1);
    size_t yaml_size = nul ? (size_t)(nul - yaml) : size - 1;
    const uint8_t *answer = nul ? nul + 1 : data + size;
    size_t answer_size = (size_t)(data + size - answer);

    static const char *const meanings[] = {"call_button", "gas_lel", "valve_command", "energy_kwh"};
    diag_init(&diag);
    struct wg_cfg_node *root = cfgtree_parse("profile.yaml", (const char *)yaml, yaml_size, &diag);
    if (root) {
        struct wg_point_view view = {
            .name = "p",
            .meaning = meanings[(choice >> 3) & 3],
            .kind = (enum wg_point_kind)(choice % 3),
            .direction = (choice & 4) ? WG_POINT_OUTPUT : WG_POINT_INPUT,
            .unit = "",
            .source = root,
        };
        struct mb_point point;
        bool ok = mb_point_parse(&host, &view, "fuzz point", &point);
        FUZZ_ASSERT(ok == (diag.count == 0));
        if (ok)
            check_point(&point, answer, answer_size);
        cfgtree_free(root);
    }
    diag_free(&diag);
    return 0;
}
