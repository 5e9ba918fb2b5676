/* Modbus point sources: validation of a profile's `source:` map, decoding of
 * registers and bits into engineering values, encoding of writes. */
#include "mb_point.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    enum mb_type type;
    uint16_t registers;
} type_table[] = {
    {"bit", MB_BIT, 1}, {"u16", MB_U16, 1}, {"i16", MB_I16, 1}, {"u32", MB_U32, 2},
    {"i32", MB_I32, 2}, {"u64", MB_U64, 4}, {"f32", MB_F32, 2},
};

const char *mb_type_name(enum mb_type type)
{
    for (size_t i = 0; i < sizeof type_table / sizeof type_table[0]; i++)
        if (type_table[i].type == type)
            return type_table[i].name;
    return "?";
}

static unsigned type_bits(enum mb_type type)
{
    switch (type) {
    case MB_BIT:
        return 1;
    case MB_U16:
    case MB_I16:
        return 16;
    case MB_U32:
    case MB_I32:
    case MB_F32:
        return 32;
    case MB_U64:
        return 64;
    }
    return 16;
}

static bool is_register_function(int function)
{
    return function == 3 || function == 4;
}

/* Reads the order key: "ab"/"ba" for one register, the four 32-bit patterns otherwise. */
static bool parse_order(const struct wg_host *host, const wg_cfg_node *source, const char *where,
                        struct mb_point *out)
{
    const wg_cfg_node *node = host->cfg_get(source, "order");
    if (!node)
        return true;
    const char *order = host->cfg_scalar(node);
    if (out->type == MB_BIT) {
        host->cfg_error(host, node, "%s: order: a bit has no byte order", where);
        return false;
    }
    bool single = out->count == 1;
    static const struct {
        const char *name;
        bool byte_swap, word_swap, single;
    } orders[] = {
        {"ab", false, false, true},   {"ba", true, false, true},    {"abcd", false, false, false},
        {"cdab", false, true, false}, {"badc", true, false, false}, {"dcba", true, true, false},
    };
    for (size_t i = 0; order && i < sizeof orders / sizeof orders[0]; i++) {
        if (strcmp(order, orders[i].name) != 0)
            continue;
        if (orders[i].single != single) {
            host->cfg_error(host, node, "%s: order: %s does not fit %s (expected %s)", where, order,
                            mb_type_name(out->type),
                            single ? "ab or ba" : "abcd, cdab, badc or dcba");
            return false;
        }
        out->byte_swap = orders[i].byte_swap;
        out->word_swap = orders[i].word_swap;
        return true;
    }
    host->cfg_error(host, node, "%s: order: expected %s, got \"%s\"", where,
                    single ? "ab or ba" : "abcd, cdab, badc or dcba", order ? order : "(not text)");
    return false;
}

static bool parse_type(const struct wg_host *host, const wg_cfg_node *source, const char *where,
                       struct mb_point *out)
{
    const wg_cfg_node *node = host->cfg_get(source, "type");
    out->type = is_register_function(out->function) ? MB_U16 : MB_BIT;
    if (!node) {
        out->count = 1;
        return true;
    }
    const char *name = host->cfg_scalar(node);
    for (size_t i = 0; name && i < sizeof type_table / sizeof type_table[0]; i++) {
        if (strcmp(name, type_table[i].name) != 0)
            continue;
        out->type = type_table[i].type;
        out->count = type_table[i].registers;
        bool bit_function = !is_register_function(out->function);
        if (bit_function != (out->type == MB_BIT)) {
            host->cfg_error(host, node,
                            "%s: type: %s cannot be read with function %d (%s); expected %s", where,
                            name, out->function, bit_function ? "bits" : "registers",
                            bit_function ? "bit" : "u16, i16, u32, i32, u64 or f32");
            return false;
        }
        return true;
    }
    host->cfg_error(host, node,
                    "%s: type: expected bit, u16, i16, u32, i32, u64 or f32, got \"%s\"", where,
                    name ? name : "(not text)");
    return false;
}

/* bit, mask and equals turn a register into a bool; they need a bool point. */
static bool parse_bool_extraction(const struct wg_host *host, const wg_cfg_node *source,
                                  const char *where, struct mb_point *out)
{
    bool ok = true;
    long long bit = -1, mask = 0, equals = 0;
    unsigned width = type_bits(out->type);
    ok &= host->cfg_int(host, source, "bit", 0, width > 1 ? width - 1 : 0, &bit);
    ok &= host->cfg_int(host, source, "mask", 1, LLONG_MAX, &mask);
    ok &= host->cfg_int(host, source, "equals", 0, LLONG_MAX, &equals);
    if (!ok)
        return false;
    const wg_cfg_node *bit_node = host->cfg_get(source, "bit");
    const wg_cfg_node *mask_node = host->cfg_get(source, "mask");
    const wg_cfg_node *equals_node = host->cfg_get(source, "equals");
    const wg_cfg_node *any = bit_node ? bit_node : mask_node ? mask_node : equals_node;
    if (any && out->type == MB_BIT) {
        host->cfg_error(host, any, "%s: bit, mask and equals apply to registers, not to a bit",
                        where);
        return false;
    }
    if (any && !out->is_bool) {
        host->cfg_error(
            host, any, "%s: bit, mask and equals make a bool, but this point's meaning is not bool",
            where);
        return false;
    }
    if (bit_node && (mask_node || equals_node)) {
        host->cfg_error(host, bit_node, "%s: use either bit or mask/equals, not both", where);
        return false;
    }
    if (width < 64 && mask_node && (unsigned long long)mask >> width) {
        host->cfg_error(host, mask_node, "%s: mask 0x%llx is wider than %s", where,
                        (unsigned long long)mask, mb_type_name(out->type));
        return false;
    }
    out->bit = (int)bit;
    out->mask = (uint64_t)mask;
    out->has_equals = equals_node != NULL;
    out->equals = (uint64_t)equals;
    if (out->has_equals && out->mask && (out->equals & ~out->mask)) {
        host->cfg_error(host, equals_node, "%s: equals 0x%llx has bits outside mask 0x%llx", where,
                        (unsigned long long)equals, (unsigned long long)mask);
        return false;
    }
    return true;
}

static bool parse_write(const struct wg_host *host, const struct wg_point_view *view,
                        const wg_cfg_node *source, const char *where, struct mb_point *out)
{
    const wg_cfg_node *node = host->cfg_get(source, "write_function");
    bool output = view->direction == WG_POINT_OUTPUT;
    if (!node) {
        static const char *const write_keys[] = {"write_on", "write_off", "inverted"};
        for (size_t i = 0; i < 3; i++) {
            const wg_cfg_node *stray = host->cfg_get(source, write_keys[i]);
            if (stray) {
                host->cfg_error(host, stray, "%s: %s without write_function", where, write_keys[i]);
                return false;
            }
        }
        if (output)
            host->cfg_error(host, source,
                            "%s: meaning %s is an output, so it needs write_function (5, 6, 15 or "
                            "16)",
                            where, view->meaning);
        return !output;
    }
    if (!output) {
        host->cfg_error(host, node, "%s: write_function on an input (meaning %s is read-only)",
                        where, view->meaning);
        return false;
    }
    long long function = 0, on = 1, off = 0;
    bool inverted = false;
    if (!host->cfg_int(host, source, "write_function", 5, 16, &function) ||
        !host->cfg_int(host, source, "write_on", 0, LLONG_MAX, &on) ||
        !host->cfg_int(host, source, "write_off", 0, LLONG_MAX, &off) ||
        !host->cfg_bool(host, source, "inverted", &inverted))
        return false;
    bool coil_write = function == 5 || function == 15;
    bool register_write = function == 6 || function == 16;
    if (!coil_write && !register_write) {
        host->cfg_error(host, node, "%s: write_function: expected 5, 6, 15 or 16, got %lld", where,
                        function);
        return false;
    }
    if (coil_write && out->function != 1) {
        host->cfg_error(host, node,
                        "%s: write_function %lld writes coils, so the point must be read back "
                        "with function 1, not %d",
                        where, function, out->function);
        return false;
    }
    if (register_write && out->function != 3) {
        host->cfg_error(host, node,
                        "%s: write_function %lld writes holding registers, so the point must be "
                        "read back with function 3, not %d",
                        where, function, out->function);
        return false;
    }
    if (function == 6 && out->count != 1) {
        host->cfg_error(host, node, "%s: write_function 6 writes one register; %s needs 16", where,
                        mb_type_name(out->type));
        return false;
    }
    const wg_cfg_node *value_node = host->cfg_get(source, "write_on");
    if (!value_node)
        value_node = host->cfg_get(source, "write_off");
    if (value_node && (coil_write || !out->is_bool)) {
        host->cfg_error(host, value_node, "%s: write_on/write_off apply to bool register outputs",
                        where);
        return false;
    }
    if (inverted && !out->is_bool) {
        host->cfg_error(host, host->cfg_get(source, "inverted"),
                        "%s: inverted applies to bool outputs", where);
        return false;
    }
    unsigned width = type_bits(out->type);
    if (width < 64 && (((uint64_t)on >> width) || ((uint64_t)off >> width))) {
        host->cfg_error(host, value_node, "%s: write_on/write_off do not fit %s", where,
                        mb_type_name(out->type));
        return false;
    }
    out->write_function = (uint8_t)function;
    out->write_on = (uint64_t)on;
    out->write_off = (uint64_t)off;
    out->inverted = inverted;
    out->refuse_zero = strcmp(view->meaning, "valve_command") == 0;
    return true;
}

bool mb_point_parse(const struct wg_host *host, const struct wg_point_view *view, const char *where,
                    struct mb_point *out)
{
    static const char *const keys[] = {
        "function", "address",         "type",        "order",
        "scale",    "offset",          "bit",         "mask",
        "equals",   "normally_closed", "debounce_ms", "write_function",
        "write_on", "write_off",       "inverted",    NULL};
    *out = (struct mb_point){.scale = 1.0, .bit = -1, .is_bool = view->kind == WG_POINT_BOOL};
    const wg_cfg_node *source = view->source;
    if (!source || !host->cfg_get(source, "function")) {
        host->cfg_error(host, source,
                        "%s: a Modbus point needs source: {function: 1..4, address: N}", where);
        return false;
    }
    if (!host->cfg_only_keys(host, source, keys))
        return false;
    long long function = 0, address = -1, debounce = 0;
    if (!host->cfg_int(host, source, "function", 1, 4, &function) ||
        !host->cfg_int(host, source, "address", 0, 65535, &address))
        return false;
    if (address < 0) {
        host->cfg_error(host, source, "%s: source needs address (0..65535)", where);
        return false;
    }
    out->function = (uint8_t)function;
    out->address = (uint16_t)address;
    if (!parse_type(host, source, where, out))
        return false;
    if ((long long)out->address + out->count - 1 > 65535) {
        host->cfg_error(host, host->cfg_get(source, "address"),
                        "%s: %s at address %lld runs past register 65535", where,
                        mb_type_name(out->type), address);
        return false;
    }
    if (!parse_order(host, source, where, out))
        return false;
    bool ok = host->cfg_double(host, source, "scale", &out->scale) &&
              host->cfg_double(host, source, "offset", &out->offset) &&
              host->cfg_bool(host, source, "normally_closed", &out->normally_closed) &&
              host->cfg_int(host, source, "debounce_ms", 0, 60000, &debounce);
    if (!ok)
        return false;
    out->debounce_ms = (int)debounce;
    /* A decimal scale divides: 2207 * 0.1 is 220.70000000000002 in binary,
     * 2207 / 10 is 220.7 (the double nearest it), which the pages, the
     * journal and the uplink then print as the meter shows it. */
    static const double decimal_scales[] = {1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9};
    static const double divisors[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    for (size_t k = 0; k < sizeof divisors / sizeof divisors[0]; k++)
        if (out->scale == decimal_scales[k])
            out->divisor = divisors[k];
    if (out->scale == 0.0 || !isfinite(out->scale) || !isfinite(out->offset)) {
        host->cfg_error(host, host->cfg_get(source, "scale"),
                        "%s: scale must be a finite non-zero number", where);
        return false;
    }
    const wg_cfg_node *analog_only = host->cfg_get(source, "scale")
                                         ? host->cfg_get(source, "scale")
                                         : host->cfg_get(source, "offset");
    if (out->is_bool && analog_only) {
        host->cfg_error(host, analog_only, "%s: scale and offset apply to analog points", where);
        return false;
    }
    const wg_cfg_node *bool_only = host->cfg_get(source, "normally_closed")
                                       ? host->cfg_get(source, "normally_closed")
                                       : host->cfg_get(source, "debounce_ms");
    if (!out->is_bool && bool_only) {
        host->cfg_error(host, bool_only, "%s: normally_closed and debounce_ms apply to bool points",
                        where);
        return false;
    }
    return parse_bool_extraction(host, source, where, out) &&
           parse_write(host, view, source, where, out);
}

uint64_t mb_point_raw(const struct mb_point *point, const uint16_t *registers)
{
    uint64_t raw = 0;
    for (unsigned i = 0; i < point->count; i++) {
        uint16_t word = registers[point->word_swap ? point->count - 1 - i : i];
        if (point->byte_swap)
            word = (uint16_t)((word >> 8) | (word << 8));
        raw = (raw << 16) | word;
    }
    return raw;
}

/* An NC input and an inverted output both read 1 when the raw contact or coil is 0. */
static double finish_bool(const struct mb_point *point, bool value)
{
    return (value != (point->normally_closed || point->inverted)) ? 1.0 : 0.0;
}

double mb_point_decode_bits(const struct mb_point *point, const uint8_t *bits)
{
    return finish_bool(point, bits[0] != 0);
}

double mb_point_decode_registers(const struct mb_point *point, const uint16_t *registers)
{
    uint64_t raw = mb_point_raw(point, registers);
    if (point->is_bool) {
        bool value;
        if (point->bit >= 0)
            value = (raw >> point->bit) & 1u;
        else if (point->mask && point->has_equals)
            value = (raw & point->mask) == point->equals;
        else if (point->mask)
            value = (raw & point->mask) != 0;
        else if (point->has_equals)
            value = raw == point->equals;
        else if (point->write_function == 6 || point->write_function == 16)
            value = raw == point->write_on; /* a command register reads back what was written */
        else
            value = raw != 0;
        return finish_bool(point, value);
    }
    double number;
    switch (point->type) {
    case MB_I16:
        number = (int16_t)(uint16_t)raw;
        break;
    case MB_U32:
        number = (uint32_t)raw;
        break;
    case MB_I32:
        number = (int32_t)(uint32_t)raw;
        break;
    case MB_U64:
        number = (double)raw;
        break;
    case MB_F32: {
        uint32_t word = (uint32_t)raw;
        float real;
        memcpy(&real, &word, sizeof real);
        number = real;
        break;
    }
    case MB_U16:
    case MB_BIT:
    default:
        number = (uint16_t)raw;
        break;
    }
    return (point->divisor != 0 ? number / point->divisor : number * point->scale) + point->offset;
}

static void put_raw(const struct mb_point *point, uint64_t raw, uint16_t *registers)
{
    for (unsigned i = 0; i < point->count; i++) {
        uint16_t word = (uint16_t)(raw >> (16 * (point->count - 1 - i)));
        if (point->byte_swap)
            word = (uint16_t)((word >> 8) | (word << 8));
        registers[point->word_swap ? point->count - 1 - i : i] = word;
    }
}

bool mb_point_encode(const struct mb_point *point, double value, uint8_t *bit, uint16_t *registers,
                     char *reason, size_t reason_size)
{
    if (!isfinite(value)) {
        snprintf(reason, reason_size, "value is not a number");
        return false;
    }
    if (point->refuse_zero && value == 0.0) {
        snprintf(reason, reason_size, "a gas valve is never re-opened remotely");
        return false;
    }
    if (point->write_function == 5 || point->write_function == 15) {
        bool on = (value != 0.0) != point->inverted;
        *bit = on ? 1 : 0;
        return true;
    }
    uint64_t raw;
    if (point->is_bool) {
        raw = ((value != 0.0) != point->inverted) ? point->write_on : point->write_off;
    } else if (point->type == MB_F32) {
        float real = (float)((value - point->offset) / point->scale);
        uint32_t word;
        memcpy(&word, &real, sizeof word);
        raw = word;
    } else {
        double scaled = round((value - point->offset) / point->scale);
        double low = 0, high = 65535;
        switch (point->type) {
        case MB_I16:
            low = INT16_MIN, high = INT16_MAX;
            break;
        case MB_U32:
            high = UINT32_MAX;
            break;
        case MB_I32:
            low = INT32_MIN, high = INT32_MAX;
            break;
        case MB_U64:
            high = 18446744073709549568.0; /* the largest double below 2^64 */
            break;
        default:
            break;
        }
        if (scaled < low || scaled > high) {
            snprintf(reason, reason_size, "%g is out of range for %s", value,
                     mb_type_name(point->type));
            return false;
        }
        if (point->type == MB_I16 || point->type == MB_I32)
            raw = (uint64_t)(int64_t)scaled & (point->type == MB_I16 ? 0xFFFFu : 0xFFFFFFFFu);
        else
            raw = (uint64_t)scaled;
    }
    put_raw(point, raw, registers);
    return true;
}

/* A field added to struct mb_point must be compared here as well: buses share
 * a profile's parsed points when this says they are the same. */
_Static_assert(sizeof(struct mb_point) == 88, "struct mb_point changed: update mb_point_same");

bool mb_point_same(const struct mb_point *a, const struct mb_point *b)
{
    return a->scale == b->scale && a->divisor == b->divisor && a->offset == b->offset &&
           a->mask == b->mask && a->equals == b->equals && a->write_on == b->write_on &&
           a->write_off == b->write_off && a->type == b->type && a->bit == b->bit &&
           a->debounce_ms == b->debounce_ms && a->address == b->address && a->count == b->count &&
           a->function == b->function && a->write_function == b->write_function &&
           a->byte_swap == b->byte_swap && a->word_swap == b->word_swap &&
           a->is_bool == b->is_bool && a->has_equals == b->has_equals &&
           a->normally_closed == b->normally_closed && a->inverted == b->inverted &&
           a->refuse_zero == b->refuse_zero;
}
