/* Tests of the configuration loader: the example facility, lookups, name
 * tables, time windows, the YAML tree, and a table of bad configs each
 * checked for its file:line and reason. Data files are found under $WG_ROOT
 * (the repo root; "." when unset). */
#include "testutil.h"

#include "config/cfgtree.h"
#include "common/clock.h"
#include "config/config.h"
#include "common/meaning.h"

static const char *repo_root(void)
{
    const char *root = getenv("WG_ROOT");
    return root && *root ? root : ".";
}

static char *repo_path(const char *relative)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", repo_root(), relative) < 0)
        return NULL;
    return path;
}

static void print_messages(const struct wg_diag *diag)
{
    for (size_t i = 0; i < diag->count; i++)
        print_message("#   %s\n", diag->messages[i]);
}

/* ---- the example facility ------------------------------------------------------------------- */

struct facility_fixture {
    struct wg_config *config;
    struct wg_diag diag;
};

static int facility_setup(void **state)
{
    struct facility_fixture *fixture = calloc(1, sizeof *fixture);
    if (!fixture)
        return -1;
    diag_init(&fixture->diag);
    char *path = repo_path("config/facility.yaml");
    fixture->config = config_load(path, &fixture->diag);
    free(path);
    print_messages(&fixture->diag);
    *state = fixture;
    return 0;
}

static int facility_teardown(void **state)
{
    struct facility_fixture *fixture = *state;
    config_free(fixture->config);
    diag_free(&fixture->diag);
    free(fixture);
    return 0;
}

static void test_facility_loads_cleanly(void **state)
{
    struct facility_fixture *fixture = *state;
    assert_non_null(fixture->config);
    assert_int_equal(fixture->diag.count, 0);
    const struct wg_config *config = fixture->config;
    assert_string_equal(config->site.id, "sh-jingan-anyuan");
    assert_string_equal(config->site.district, "sh-jingan");
    assert_int_equal(config->site.night.start_min, 21 * 60);
    assert_int_equal(config->site.night.end_min, 7 * 60);
    assert_int_equal(config->profile_count, 26); /* 16 + the 10 gpio-* variants */
    assert_int_equal(config->zone_count, 3);
    assert_int_equal(config->room_count, 38);
    assert_int_equal(config->bed_count, 60);
    assert_int_equal(config->resident_count, 55);
    assert_int_equal(config->bus_count, 4);
    assert_int_equal(config->device_count, 323);
    assert_int_equal(config->rule_count, 13);
    assert_int_equal(config->escalation.level_count, 4);
    assert_int_equal(config->escalation.reannunciate_s, 180);
    assert_string_equal(config->escalation.levels[0].name, "carer");
    assert_string_equal(config->escalation.levels[3].name, "district");
}

static void test_facility_covers_every_rule_kind(void **state)
{
    struct facility_fixture *fixture = *state;
    assert_non_null(fixture->config);
    unsigned seen = 0;
    for (size_t i = 0; i < fixture->config->rule_count; i++)
        seen |= 1u << fixture->config->rules[i].kind;
    assert_int_equal(seen, (1u << (WG_RULE_COMBINE + 1)) - 1);
}

static void test_facility_residents_and_risks(void **state)
{
    struct facility_fixture *fixture = *state;
    const struct wg_config *config = fixture->config;
    assert_non_null(config);
    size_t fall = 0, wandering = 0;
    for (size_t i = 0; i < config->resident_count; i++) {
        const struct wg_resident *resident = &config->residents[i];
        assert_true(resident->bed < config->bed_count);
        assert_in_range(resident->care_level, 1, 5);
        assert_int_equal(config_resident_of_bed(config, resident->bed), i);
        fall += (resident->risks & WG_RISK_FALL) != 0;
        wandering += (resident->risks & WG_RISK_WANDERING) != 0;
    }
    assert_true(fall >= 10);
    assert_true(wandering >= 5);
}

static void test_facility_defaults_and_sections(void **state)
{
    struct facility_fixture *fixture = *state;
    const struct wg_config *config = fixture->config;
    assert_non_null(config);
    assert_string_equal(config->log_level, "info");
    assert_string_equal(config->plugin_dir, "");
    assert_string_equal(config->storage.path, "");
    assert_int_equal(config->storage.max_bytes, 256ll << 20);
    assert_int_equal(config->storage.readings_bucket_s, 60);
    assert_int_equal(config->storage.readings_retention_days, 90);
    assert_int_equal(config->storage.events_retention_days, 365);
    assert_false(config->uplink.enabled);
    assert_int_equal(config->uplink.broker_count, 2);
    assert_string_equal(config->uplink.topic_prefix, "wardgate/v1");
    assert_int_equal(config->uplink.keepalive_s, 30);
    assert_int_equal(config->uplink.heartbeat_s, 60);
    assert_int_equal(config->uplink.telemetry_interval_s, 300);
    assert_int_equal(config->uplink.outbox_max_bytes, 64ll << 20);
    assert_int_equal(config->uplink.outbox_max_age_h, 168);
    assert_true(config->web.enabled);
    assert_int_equal(config->web.port, 8080);
    assert_string_equal(config->web.language, "zh");
    assert_string_equal(config->web.tls_cert, "");
}

/* The meaning of a profile's point, or NULL. */
static const char *point_meaning(const struct wg_config *config, const char *profile_id,
                                 const char *point)
{
    size_t profile = config_find_profile(config, profile_id);
    for (size_t p = 0; profile != WG_NO_INDEX && p < config->profiles[profile].point_count; p++)
        if (strcmp(config->profiles[profile].points[p].name, point) == 0)
            return config->profiles[profile].points[p].meaning;
    return NULL;
}

/* The meters say what they measure: a "total kWh" register (import plus
 * export) is never reported as imported energy. */
static void test_facility_meter_meanings(void **state)
{
    struct facility_fixture *fixture = *state;
    const struct wg_config *config = fixture->config;
    assert_non_null(config);
    assert_string_equal(point_meaning(config, "eastron-sdm630", "import_energy"), "energy_kwh");
    assert_string_equal(point_meaning(config, "eastron-sdm630", "export_energy"),
                        "energy_export_kwh");
    assert_string_equal(point_meaning(config, "eastron-sdm630", "total_energy"),
                        "energy_total_kwh");
    assert_string_equal(point_meaning(config, "eastron-sdm630", "power_factor"), "power_factor");
    assert_string_equal(point_meaning(config, "chint-dtsu666", "export_energy"),
                        "energy_export_kwh");
    const struct wg_meaning_info *total = meaning_lookup("energy_total_kwh", NULL);
    assert_non_null(total);
    assert_int_equal(total->kind, WG_POINT_COUNTER);
    assert_string_equal(total->unit, "kWh");
    /* At most one point per meter profile counts imported energy. */
    for (size_t i = 0; i < config->profile_count; i++) {
        size_t imports = 0;
        for (size_t p = 0; p < config->profiles[i].point_count; p++)
            imports += strcmp(config->profiles[i].points[p].meaning, "energy_kwh") == 0;
        assert_true(imports <= 1);
    }
}

static void test_facility_lookups(void **state)
{
    struct facility_fixture *fixture = *state;
    const struct wg_config *config = fixture->config;
    assert_non_null(config);

    size_t device = config_find_device(config, "203-A-call");
    assert_int_not_equal(device, WG_NO_INDEX);
    const struct wg_device *call = &config->devices[device];
    assert_string_equal(config->beds[call->bed].id, "203-A");
    assert_string_equal(config->beds[call->bed].label, "A");
    assert_int_equal(call->room, config_find_room(config, "203"));
    assert_int_equal(call->bus, config_find_bus(config, "sim-f2"));
    assert_int_equal(call->profile, config_find_profile(config, "call-point"));
    assert_int_equal(call->poll_ms, 200);
    assert_true(call->enabled);
    char location[64];
    assert_string_equal(config_device_location(config, call, location, sizeof location),
                        "F2/203/203-A");

    const struct wg_device *gas = &config->devices[config_find_device(config, "kitchen-gas")];
    assert_int_equal(gas->bed, WG_NO_INDEX);
    assert_string_equal(config_device_location(config, gas, location, sizeof location),
                        "F1/kitchen");
    assert_string_equal(config->rooms[gas->room].kind, "kitchen");

    size_t sdm120 = config_find_profile(config, "eastron-sdm120");
    assert_int_not_equal(sdm120, WG_NO_INDEX);
    const struct wg_profile *profile = &config->profiles[sdm120];
    assert_string_equal(profile->vendor, "Eastron");
    assert_false(profile->synthetic);
    assert_int_equal(profile->point_count, 7);
    assert_string_equal(profile->points[0].meaning, "voltage");
    assert_string_equal(profile->points[0].unit, "V");
    assert_int_equal(profile->points[0].kind, WG_POINT_ANALOG);
    assert_non_null(profile->points[0].source);
    assert_string_equal(cfg_scalar(cfg_get(profile->points[0].source, "type")), "f32");

    const struct wg_profile *bed =
        &config->profiles[config_find_profile(config, "bed-sensor-r60abd1")];
    assert_true(bed->synthetic);
    const struct wg_profile *valve =
        &config->profiles[config_find_profile(config, "gas-valve-fan")];
    bool has_output = false;
    for (size_t i = 0; i < valve->point_count; i++)
        has_output = has_output || valve->points[i].direction == WG_POINT_OUTPUT;
    assert_true(has_output);

    assert_int_equal(config_find_device(config, "no-such-device"), WG_NO_INDEX);
    assert_int_equal(config_find_room(config, "999"), WG_NO_INDEX);
    assert_int_equal(config_find_bed(config, "101-C"), WG_NO_INDEX);
    assert_int_equal(config_find_bus(config, "rs485"), WG_NO_INDEX);
    assert_int_equal(config_find_profile(config, "nope"), WG_NO_INDEX);
}

/* ---- names and windows ---------------------------------------------------------------------- */

static void test_priority_and_risk_names_round_trip(void **state)
{
    (void)state;
    for (int p = WG_PRIO_ADVISORY; p <= WG_PRIO_FIRE; p++)
        assert_int_equal(priority_from_name(priority_name((enum wg_priority)p)), p);
    assert_string_equal(priority_name(WG_PRIO_FIRE), "fire");
    assert_string_equal(priority_name(WG_PRIO_EMERGENCY), "emergency");
    assert_int_equal(priority_from_name("panic"), -1);
    assert_int_equal(priority_from_name(NULL), -1);
    for (unsigned bit = 0; bit <= 8; bit++)
        assert_int_equal(risk_from_name(risk_name((enum wg_risk)(1u << bit))), (int)(1u << bit));
    assert_string_equal(risk_name(WG_RISK_FALL), "fall");
    assert_string_equal(risk_name(WG_RISK_WANDERING), "wandering");
    assert_int_equal(risk_from_name("falling"), -1);
    for (int kind = WG_RULE_CALL; kind <= WG_RULE_COMBINE; kind++)
        assert_string_not_equal(rule_kind_name((enum wg_rule_kind)kind), "unknown");
    assert_string_equal(rule_kind_name(WG_RULE_BED_EXIT), "bed_exit");
}

static void test_window_contains(void **state)
{
    (void)state;
    struct wg_window night = {21 * 60, 7 * 60};
    assert_true(window_contains(&night, 21 * 60));
    assert_true(window_contains(&night, 23 * 60 + 59));
    assert_true(window_contains(&night, 0));
    assert_true(window_contains(&night, 7 * 60 - 1));
    assert_false(window_contains(&night, 7 * 60));
    assert_false(window_contains(&night, 12 * 60));
    assert_false(window_contains(&night, 21 * 60 - 1));
    assert_true(window_contains(&night, 1440 + 60)); /* normalised */
    assert_true(window_contains(&night, -60));       /* 23:00 */

    struct wg_window day = {7 * 60, 21 * 60};
    assert_true(window_contains(&day, 7 * 60));
    assert_true(window_contains(&day, 12 * 60));
    assert_false(window_contains(&day, 21 * 60));
    assert_false(window_contains(&day, 3 * 60));

    struct wg_window whole = {0, 1440};
    assert_true(window_contains(&whole, 0));
    assert_true(window_contains(&whole, 1439));
}

static void test_meaning_vocabulary(void **state)
{
    (void)state;
    int index = -1;
    const struct wg_meaning_info *info = meaning_lookup("fire_zone_3", &index);
    assert_non_null(info);
    assert_string_equal(info->name, "fire_zone");
    assert_int_equal(index, 3);
    info = meaning_lookup("gas_lel", &index);
    assert_non_null(info);
    assert_int_equal(index, 0);
    assert_string_equal(info->unit, "%LEL");
    assert_int_equal(info->kind, WG_POINT_ANALOG);
    assert_int_equal(meaning_lookup("valve_command", NULL)->direction, WG_POINT_OUTPUT);
    assert_int_equal(meaning_lookup("energy_kwh", NULL)->kind, WG_POINT_COUNTER);
    assert_null(meaning_lookup("fire_zone_0", &index));
    assert_null(meaning_lookup("fire_zone_1000", &index));
    assert_null(meaning_lookup("fire_zone_x", &index));
    assert_null(meaning_lookup("call_button_1", &index));
    assert_null(meaning_lookup("", &index));
    assert_null(meaning_lookup(NULL, &index));
    unsigned count = 0;
    const struct wg_meaning_info *table = meaning_table(&count);
    assert_true(count >= 45);
    for (unsigned i = 0; i < count; i++) {
        assert_non_null(table[i].description);
        assert_true(table[i].kind != WG_POINT_BOOL || table[i].unit[0] == '\0');
        for (unsigned j = i + 1; j < count; j++)
            assert_string_not_equal(table[i].name, table[j].name);
    }
}

static void test_timezone_names(void **state)
{
    (void)state;
    char why[512];
    assert_true(clock_timezone_known("Asia/Shanghai", why, sizeof why));
    assert_true(clock_timezone_known("UTC", why, sizeof why));
    assert_true(clock_timezone_known("America/Argentina/Buenos_Aires", why, sizeof why));
    assert_false(clock_timezone_known("Asia/Shangai", why, sizeof why));
    assert_non_null(strstr(why, "\"Asia/Shangai\" is not a time zone in"));
    assert_false(clock_timezone_known("Asia", why, sizeof why)); /* a directory */
    assert_false(clock_timezone_known("../../../etc/passwd", why, sizeof why));
    assert_non_null(strstr(why, "expected an IANA time zone name"));
    assert_false(clock_timezone_known("/usr/share/zoneinfo/UTC", why, sizeof why));
    assert_false(clock_timezone_known("Asia/./Shanghai", why, sizeof why));
    assert_false(clock_timezone_known("", why, sizeof why));
    assert_false(clock_timezone_known("right/Asia/Shanghai", why, sizeof why));
    assert_non_null(strstr(why, "leap seconds"));
    assert_false(clock_timezone_known("zone.tab", why, sizeof why)); /* a file, not a zone */
}

/* ---- the YAML tree -------------------------------------------------------------------------- */

struct scratch {
    char *dir;
    struct wg_diag diag;
};

static int scratch_setup(void **state)
{
    struct scratch *scratch = calloc(1, sizeof *scratch);
    if (!scratch)
        return -1;
    scratch->dir = test_tmpdir();
    diag_init(&scratch->diag);
    *state = scratch;
    return scratch->dir ? 0 : -1;
}

static int scratch_teardown(void **state)
{
    struct scratch *scratch = *state;
    test_rmtree(scratch->dir);
    free(scratch->dir);
    diag_free(&scratch->diag);
    free(scratch);
    return 0;
}

static void test_cfgtree_positions_aliases_quotes(void **state)
{
    struct scratch *scratch = *state;
    char *path = test_write_file(scratch->dir, "tree.yaml",
                                 "# comment\n"
                                 "base: &defaults {speed: 9600, parity: N}\n"
                                 "copy: *defaults\n"
                                 "list:\n"
                                 "  - one\n"
                                 "  - \"yes\"\n"
                                 "  - yes\n");
    assert_non_null(path);
    struct wg_cfg_node *root = cfgtree_load(path, &scratch->diag);
    print_messages(&scratch->diag);
    assert_non_null(root);
    assert_int_equal(scratch->diag.count, 0);
    assert_int_equal(root->type, WG_CFG_MAP);
    assert_int_equal(root->key_lines[0], 2);
    assert_int_equal(root->key_columns[1], 1);
    const struct wg_cfg_node *copy = cfg_get(root, "copy");
    assert_non_null(copy);
    assert_int_equal(copy->type, WG_CFG_MAP);
    assert_string_equal(cfg_scalar(cfg_get(copy, "speed")), "9600");
    assert_true(copy != cfg_get(root, "base")); /* copied, not shared */
    const struct wg_cfg_node *list = cfg_get(root, "list");
    assert_int_equal(cfg_seq_len(list), 3);
    assert_int_equal(cfg_seq_at(list, 1)->line, 6);
    assert_int_equal(cfg_seq_at(list, 1)->column, 5);
    assert_true(cfg_seq_at(list, 1)->quoted);
    assert_false(cfg_seq_at(list, 2)->quoted);
    assert_null(cfg_seq_at(list, 3));
    assert_null(cfg_get(list, "x"));
    assert_string_equal(root->file, path);
    cfgtree_free(root);
    free(path);
}

/* Every node knows its exact byte range: multi-byte text, block mappings and
 * block scalars end at their own last character, not at the next token. */
static void test_cfgtree_byte_ranges(void **state)
{
    struct scratch *scratch = *state;
    const char *text = "a: 王奶奶\n"
                       "list:\n"
                       "  - id: x\n"
                       "    bus: y   # c\n"
                       "\n"
                       "  # comment\n"
                       "  - {id: 王, \"z\": 1}  # tail\n"
                       "key:\n"
                       "bs: |\n"
                       "  text\n"
                       "\n"
                       "last: [a,\n"
                       "   b]\n";
    struct wg_cfg_node *root = cfgtree_parse("mem.yaml", text, strlen(text), &scratch->diag);
    print_messages(&scratch->diag);
    assert_non_null(root);
#define RANGE_TEXT(node)                                                                           \
    ((int)((node)->end_index - (node)->start_index)), text + (node)->start_index
    char got[128];
    const struct wg_cfg_node *a = cfg_get(root, "a");
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(a));
    assert_string_equal(got, "王奶奶");
    assert_int_equal(a->end_column, 7); /* characters, not bytes */
    const struct wg_cfg_node *list = cfg_get(root, "list");
    assert_false(list->flow);
    const struct wg_cfg_node *block = cfg_seq_at(list, 0);
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(block));
    assert_string_equal(got, "id: x\n    bus: y");
    assert_int_equal(block->end_line, 4);
    assert_int_equal(block->end_column, 11);
    const struct wg_cfg_node *flow = cfg_seq_at(list, 1);
    assert_true(flow->flow);
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(flow));
    assert_string_equal(got, "{id: 王, \"z\": 1}");
    snprintf(got, sizeof got, "%.*s", (int)(flow->key_ends[1] - flow->key_starts[1]),
             text + flow->key_starts[1]);
    assert_string_equal(got, "\"z\"");
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(list));
    assert_string_equal(got, "- id: x\n    bus: y   # c\n\n  # comment\n  - {id: 王, \"z\": 1}");
    const struct wg_cfg_node *empty = cfg_get(root, "key");
    assert_int_equal(empty->start_index, empty->end_index);
    assert_int_equal(text[empty->start_index - 1], ':');
    const struct wg_cfg_node *literal = cfg_get(root, "bs");
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(literal));
    assert_string_equal(got, "|\n  text");
    assert_int_equal(literal->end_line, 10);
    assert_int_equal(literal->end_column, 7);
    const struct wg_cfg_node *last = cfg_get(root, "last");
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(last));
    assert_string_equal(got, "[a,\n   b]");
    snprintf(got, sizeof got, "%.*s", RANGE_TEXT(root));
    assert_int_equal(root->end_index, strlen(text) - 1);
#undef RANGE_TEXT
    cfgtree_free(root);
}

static void test_cfgtree_typed_reads(void **state)
{
    struct scratch *scratch = *state;
    char *path = test_write_file(scratch->dir, "typed.yaml",
                                 "hex: 0x1C\nneg: -5\nquoted: \"12\"\nfast: fast\n"
                                 "ratio: 0.25\nflag: false\nmap: {a: 1}\nempty:\n");
    struct wg_cfg_node *root = cfgtree_load(path, &scratch->diag);
    assert_non_null(root);
    long long value = 0;
    assert_true(cfg_read_int(&scratch->diag, root, "hex", 0, 100, &value));
    assert_int_equal(value, 28);
    assert_true(cfg_read_int(&scratch->diag, root, "neg", -10, 10, &value));
    assert_int_equal(value, -5);
    value = 77;
    assert_true(cfg_read_int(&scratch->diag, root, "absent", 0, 1, &value));
    assert_int_equal(value, 77);
    assert_int_equal(scratch->diag.count, 0);

    assert_false(cfg_read_int(&scratch->diag, root, "quoted", 0, 100, &value));
    assert_non_null(strstr(scratch->diag.messages[0], "typed.yaml:3:9: quoted: expected an "
                                                      "integer from 0 to 100, got the string"));
    assert_false(cfg_read_int(&scratch->diag, root, "fast", 50, 3600000, &value));
    assert_non_null(strstr(scratch->diag.messages[1],
                           ":4:7: fast: expected an integer from 50 to 3600000, got \"fast\""));
    double ratio = 0;
    assert_true(cfg_read_double(&scratch->diag, root, "ratio", &ratio));
    assert_true(ratio > 0.24 && ratio < 0.26);
    bool flag = true;
    assert_true(cfg_read_bool(&scratch->diag, root, "flag", &flag));
    assert_false(flag);
    assert_false(cfg_read_bool(&scratch->diag, root, "fast", &flag));
    const char *text = NULL;
    assert_false(cfg_read_string(&scratch->diag, root, "map", &text));
    assert_false(cfg_read_string(&scratch->diag, root, "empty", &text));
    assert_true(cfg_read_string(&scratch->diag, root, "fast", &text));
    assert_string_equal(text, "fast");
    assert_false(cfg_require_in(&scratch->diag, root, "missing", "test"));
    static const char *const allowed[] = {"hex", NULL};
    assert_false(cfg_only_keys_in(&scratch->diag, root, allowed, "test"));
    assert_non_null(strstr(scratch->diag.messages[scratch->diag.count - 1],
                           "unknown key \"empty\" in test (expected one of: hex)"));
    cfgtree_free(root);
    free(path);
}

static void test_cfgtree_alias_bomb_is_refused(void **state)
{
    struct scratch *scratch = *state;
    char *path = test_write_file(scratch->dir, "bomb.yaml",
                                 "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                                 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                                 "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                                 "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n");
    assert_null(cfgtree_load(path, &scratch->diag));
    assert_int_equal(scratch->diag.count, 1);
    assert_non_null(strstr(scratch->diag.messages[0], "too many nodes"));
    free(path);
}

/* Duplicate keys are found in small and in large mappings, each reported
 * with file:line:col of both keys; keys that only share a prefix are not. */
static void test_cfgtree_duplicate_keys(void **state)
{
    struct scratch *scratch = *state;
    const char *small = "a: 1\nb: 2\nab: 3\na: 4\n";
    struct wg_cfg_node *root = cfgtree_parse("small.yaml", small, strlen(small), &scratch->diag);
    assert_null(root);
    assert_int_equal(scratch->diag.count, 1);
    assert_string_equal(scratch->diag.messages[0],
                        "small.yaml:4:1: duplicate key \"a\" (first defined at small.yaml:1:1)");
    diag_free(&scratch->diag);

    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    assert_non_null(out);
    fprintf(out, "big:\n");
    for (int i = 0; i < 5000; i++)
        fprintf(out, "  key%d: %d\n", i, i);
    fprintf(out, "  key17: again\n  key4999: again\n  key5000: new\n");
    fclose(out);
    assert_null(cfgtree_parse("big.yaml", text, length, &scratch->diag));
    assert_int_equal(scratch->diag.count, 2);
    assert_string_equal(
        scratch->diag.messages[0],
        "big.yaml:5002:3: duplicate key \"key17\" (first defined at big.yaml:19:3)");
    assert_string_equal(
        scratch->diag.messages[1],
        "big.yaml:5003:3: duplicate key \"key4999\" (first defined at big.yaml:5001:3)");
    diag_free(&scratch->diag);

    /* Without the duplicates the same mapping loads, every key in order. */
    char *end = strstr(text, "  key17: again");
    assert_non_null(end);
    root = cfgtree_parse("big.yaml", text, (size_t)(end - text), &scratch->diag);
    assert_non_null(root);
    const struct wg_cfg_node *big = cfg_get(root, "big");
    assert_non_null(big);
    assert_int_equal(big->count, 5000);
    assert_string_equal(big->keys[4999], "key4999");
    assert_string_equal(cfg_scalar(cfg_get(big, "key1234")), "1234");
    cfgtree_free(root);
    free(text);
}

static void test_diag_formats(void **state)
{
    (void)state;
    struct wg_diag diag;
    diag_init(&diag);
    diag_pos(&diag, "f.yaml", 3, 7, "bad %s", "thing");
    diag_pos(&diag, NULL, 0, 0, "no place");
    diag_at(&diag, NULL, "no node %d", 5);
    assert_int_equal(diag.count, 3);
    assert_string_equal(diag.messages[0], "f.yaml:3:7: bad thing");
    assert_string_equal(diag.messages[1], "no place");
    assert_string_equal(diag.messages[2], "no node 5");
    /* The same in parts, and a code with arguments for the last message. */
    assert_string_equal(diag.entries[0].file, "f.yaml");
    assert_int_equal(diag.entries[0].line, 3);
    assert_int_equal(diag.entries[0].column, 7);
    assert_string_equal(diag.entries[0].text, "bad thing");
    assert_null(diag.entries[1].file);
    assert_string_equal(diag.entries[1].text, "no place");
    assert_string_equal(diag.entries[1].code, "");
    diag_code(&diag, "address_taken", "{s:i, s:s}", "address", 3, "device", "x");
    assert_string_equal(diag.entries[2].code, "address_taken");
    assert_string_equal(diag.entries[2].args, "{\"address\":3,\"device\":\"x\"}");
    struct wg_diag copy;
    diag_init(&copy);
    diag_copy(&copy, &diag, 0);
    diag_copy(&copy, &diag, 2);
    diag_copy(&copy, &diag, 9); /* out of range: nothing */
    assert_int_equal(copy.count, 2);
    assert_string_equal(copy.messages[0], "f.yaml:3:7: bad thing");
    assert_string_equal(copy.entries[0].file, "f.yaml");
    assert_string_equal(copy.entries[1].code, "address_taken");
    assert_string_equal(copy.entries[1].args, diag.entries[2].args);
    diag_free(&copy);
    diag_free(&diag);
    assert_int_equal(diag.count, 0);
    config_free(NULL);
    cfgtree_free(NULL);
}

/* Loads site.yaml made of the common head and `rest`; returns the first
 * message ("" when the config loads) in a static buffer. */
static const char *latching_verdict(struct scratch *scratch, const char *rest)
{
    static char verdict[1024];
    char *text = NULL;
    assert_true(asprintf(&text,
                         "site: {id: s1, name: S, district: d1}\n"
                         "profiles: [\"%s/config/profiles/*.yaml\"]\n"
                         "zones: [{id: Z, rooms: [{id: R1, beds: [A]}, {id: R2, beds: [A]}, "
                         "{id: K, kind: kitchen}]}]\n"
                         "buses: [{id: b, driver: sim}]\n%s",
                         repo_root(), rest) > 0);
    char *path = test_write_file(scratch->dir, "site.yaml", text);
    free(text);
    diag_free(&scratch->diag);
    diag_init(&scratch->diag);
    struct wg_config *config = config_load(path, &scratch->diag);
    free(path);
    snprintf(verdict, sizeof verdict, "%s",
             config                ? ""
             : scratch->diag.count ? scratch->diag.messages[0]
                                   : "?");
    config_free(config);
    return verdict;
}

/* Gas that ends by itself, and "stove left on": gas and stove power in one room. */
#define STOVE_RULES                                                                                \
    "rules:\n"                                                                                     \
    "  - {id: gas, kind: gas, reset_on_normal: true}\n"                                            \
    "  - id: stove\n"                                                                              \
    "    kind: combine\n"                                                                          \
    "    alarm_kind: stove_left_on\n"                                                              \
    "    within_s: 60\n"                                                                           \
    "    conditions: [{meaning: gas_lel, op: gt, value: 10}, {meaning: power_w, op: gt, value: "   \
    "3000}]\n"

/* Every latching alarm has a way to end: a reset device where it comes from,
 * or reset_at naming one, or reset_on_normal. */
static void test_latching_rules_need_an_end(void **state)
{
    struct scratch *scratch = *state;
    static const char calls[] =
        "devices:\n"
        "  - {id: c1, bus: b, address: 1, profile: call-point, bed: R1-A}\n"
        "  - {id: c2, bus: b, address: 2, profile: call-point, bed: R2-A}\n";
    /* A reset button in each room. */
    char *text = NULL;
    assert_true(asprintf(&text,
                         "%s  - {id: r1, bus: b, address: 3, profile: presence-reset, room: R1}\n"
                         "  - {id: r2, bus: b, address: 4, profile: presence-reset, room: R2}\n"
                         "rules: [{id: call, kind: call}]\n",
                         calls) > 0);
    assert_string_equal(latching_verdict(scratch, text), "");
    free(text);
    /* A disabled reset device does not count. */
    assert_true(asprintf(&text,
                         "%s  - {id: r1, bus: b, address: 3, profile: presence-reset, room: R1}\n"
                         "  - {id: r2, bus: b, address: 4, profile: presence-reset, room: R2, "
                         "enabled: false}\n"
                         "rules: [{id: call, kind: call}]\n",
                         calls) > 0);
    assert_non_null(strstr(latching_verdict(scratch, text), "room \"R2\" has no reset device"));
    free(text);
    /* reset_at: room R1's reset device ends calls from R2 too; a device works as well. */
    assert_true(asprintf(&text,
                         "%s  - {id: r1, bus: b, address: 3, profile: presence-reset, room: R1}\n"
                         "rules: [{id: call, kind: call, reset_at: R1}]\n",
                         calls) > 0);
    assert_string_equal(latching_verdict(scratch, text), "");
    free(text);
    assert_true(asprintf(&text,
                         "%s  - {id: r1, bus: b, address: 3, profile: presence-reset, room: R1}\n"
                         "rules: [{id: call, kind: call, reset_at: r1}]\n",
                         calls) > 0);
    assert_string_equal(latching_verdict(scratch, text), "");
    free(text);
    /* reset_at a device that cannot reset. */
    assert_true(asprintf(&text, "%srules: [{id: call, kind: call, reset_at: c1}]\n", calls) > 0);
    assert_non_null(
        strstr(latching_verdict(scratch, text), "reset_at: device \"c1\" has no reset button"));
    free(text);
    /* Presence attends only normal and above: an advisory call needs a reset button. */
    assert_true(
        asprintf(&text,
                 "%s  - {id: d1, bus: b, address: 3, profile: door-contact, room: R1}\n"
                 "  - {id: p1, bus: b, address: 4, profile: bed-sensor-r60abd1, bed: R1-A}\n"
                 "  - {id: r2, bus: b, address: 5, profile: presence-reset, room: R2}\n"
                 "rules:\n"
                 "  - {id: presence, kind: presence}\n"
                 "  - {id: call, kind: call, reset_at: R2}\n"
                 "  - {id: door, kind: door_night, priority: advisory, reset_at: r2}\n",
                 calls) > 0);
    assert_string_equal(latching_verdict(scratch, text), "");
    free(text);
    /* Gas that ends by itself needs no reset device; combine rules only where all
     * their conditions are (the kitchen), not in the rooms with one of them. */
    assert_string_equal(
        latching_verdict(
            scratch,
            "devices:\n"
            "  - {id: g, bus: b, address: 1, profile: gas-midas, room: K}\n"
            "  - {id: m1, bus: b, address: 2, profile: eastron-sdm120, room: R1}\n"
            "  - {id: m2, bus: b, address: 3, profile: eastron-sdm120, room: K}\n"
            "  - {id: kr, bus: b, address: 4, profile: presence-reset, room: K}\n" STOVE_RULES),
        "");
    const char *verdict =
        latching_verdict(scratch, "devices:\n"
                                  "  - {id: g, bus: b, address: 1, profile: gas-midas, room: K}\n"
                                  "  - {id: m2, bus: b, address: 3, profile: eastron-sdm120, "
                                  "room: K}\n" STOVE_RULES);
    assert_non_null(strstr(verdict, "site.yaml:10:5: rule \"stove\" (combine)"));
    assert_non_null(strstr(verdict, "room \"K\" has no reset device"));
}

/* A fire panel's places: checked entries, lookups, and a warning naming the
 * zones left out. */
static void test_fire_panel_places(void **state)
{
    struct scratch *scratch = *state;
    static const char head[] = "devices:\n"
                               "  - id: panel\n"
                               "    bus: b\n"
                               "    address: 1\n"
                               "    profile: fire-panel-gb26875\n"
                               "    room: K\n"
                               "    places:\n";
    static const struct {
        const char *entries;
        const char *message; /* "" = loads */
    } cases[] = {
        {"      - {fire_zone: 1, room: R1, spot: 一楼东侧走廊}\n"
         "      - {fire_zone: 2, zone: Z}\n"
         "      - {fire_zone: 3, spot: 地下车库}\n"
         "      - {loop: 1, address: 17, room: R2}\n",
         ""},
        {"      - {fire_zone: 9, room: R1}\n",
         "fire_zone: profile \"fire-panel-gb26875\" has no zone 9 (its zones: 1-8)"},
        {"      - {fire_zone: 1, loop: 1, address: 2, room: R1}\n",
         "place: give fire_zone (a panel zone), or loop and address (one detector), not both"},
        {"      - {room: R1}\n", "got neither"},
        {"      - {loop: 1, room: R1}\n", "missing required key \"address\" in place by loop"},
        {"      - {fire_zone: 1, room: R1, zone: Z}\n", "zone: give room or zone, not both"},
        {"      - {fire_zone: 1}\n", "place: expected room, zone or spot"},
        {"      - {fire_zone: 1, room: R9}\n", "room: no room \"R9\" is defined"},
        {"      - {fire_zone: 1, zone: Z9}\n", "zone: no zone \"Z9\" is defined"},
        {"      - {fire_zone: 1, room: R1}\n      - {fire_zone: 1, room: R2}\n",
         "fire_zone: zone 1 already has a place (line 12)"},
        {"      - {fire_zone: 1, room: R1, floor: 2}\n", "unknown key \"floor\" in place"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL;
        assert_true(asprintf(&text, "%s%srules: [{id: fire, kind: fire_zone}]\n", head,
                             cases[i].entries) > 0);
        const char *verdict = latching_verdict(scratch, text);
        if (cases[i].message[0] ? !strstr(verdict, cases[i].message) : verdict[0] != '\0')
            fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].message, verdict);
        free(text);
    }
    assert_non_null(
        strstr(latching_verdict(scratch, "devices:\n"
                                         "  - {id: m, bus: b, address: 1, profile: eastron-sdm120, "
                                         "places: [{fire_zone: 1, room: R1}]}\n"),
               "places: profile \"eastron-sdm120\" reports no fire zones"));

    /* The good one, looked up; zones 4-8 left out are a warning, not an error. */
    char *text = NULL;
    assert_true(
        asprintf(&text,
                 "site: {id: s1, name: S, district: d1}\n"
                 "profiles: [\"%s/config/profiles/*.yaml\"]\n"
                 "zones: [{id: Z, name: 一楼, rooms: [{id: R1, name: 101室}, {id: R2}, "
                 "{id: K}]}]\n"
                 "buses: [{id: b, driver: sim}]\n%s%srules: [{id: fire, kind: fire_zone}]\n",
                 repo_root(), head, cases[0].entries) > 0);
    char *path = test_write_file(scratch->dir, "site.yaml", text);
    free(text);
    struct wg_config *config = config_load(path, &scratch->diag);
    free(path);
    print_messages(&scratch->diag);
    assert_non_null(config);
    const struct wg_device *panel = &config->devices[0];
    assert_int_equal(panel->place_count, 4);
    assert_string_equal(config_fire_place(panel, 1, 0, 0)->name, "一楼东侧走廊");
    assert_string_equal(config_fire_place(panel, 2, 0, 0)->name, "一楼"); /* the zone's name */
    assert_int_equal(config_fire_place(panel, 2, 0, 0)->room, WG_NO_INDEX);
    assert_string_equal(config_fire_place(panel, 3, 0, 0)->name, "地下车库");
    assert_string_equal(config_fire_place(panel, 1, 1, 17)->name, "R2"); /* the detector first */
    assert_string_equal(config_fire_place(panel, 1, 1, 18)->name, "一楼东侧走廊");
    assert_null(config_fire_place(panel, 4, 0, 0));
    assert_int_equal(config->warnings.count, 1);
    assert_non_null(strstr(config->warnings.messages[0],
                           "site.yaml:6:5: warning: device \"panel\": fire zones 4-8 have no "
                           "place (places:); their alarms show at the panel's room \"K\""));
    config_free(config);
}

/* Relative paths resolve against the directory of the file naming them. */
static void test_relative_paths_and_minimal_defaults(void **state)
{
    struct scratch *scratch = *state;
    char *profile = test_write_file(scratch->dir, "p.yaml",
                                    "id: p\nvendor: v\nmodel: m\n"
                                    "points: [{name: c, meaning: call_button}]\n");
    char *path = test_write_file(scratch->dir, "site.yaml",
                                 "site: {id: s1, name: S, district: d1}\n"
                                 "plugins: {dir: plugins}\n"
                                 "storage: {path: data/wg.db}\n"
                                 "profiles: [p.yaml]\n"
                                 "zones: [{id: Z, rooms: [{id: R1, beds: [A]}]}]\n"
                                 "buses: [{id: b, driver: sim}]\n"
                                 "devices: [{id: d, bus: b, address: 3, profile: p, room: R1}]\n"
                                 "uplink: {password_file: secret, cert_file: /abs/c.pem, "
                                 "key_file: k.pem}\n"
                                 "web:\n");
    struct wg_config *config = config_load(path, &scratch->diag);
    print_messages(&scratch->diag);
    assert_non_null(config);
    char *expected = NULL;
    assert_true(asprintf(&expected, "%s/data/wg.db", scratch->dir) > 0);
    assert_string_equal(config->storage.path, expected);
    free(expected);
    assert_true(asprintf(&expected, "%s/plugins", scratch->dir) > 0);
    assert_string_equal(config->plugin_dir, expected);
    free(expected);
    assert_true(asprintf(&expected, "%s/k.pem", scratch->dir) > 0);
    assert_string_equal(config->uplink.key_file, expected);
    free(expected);
    assert_string_equal(config->uplink.cert_file, "/abs/c.pem");
    assert_string_equal(config->uplink.client_id, "wardgate-s1");
    assert_string_equal(config->web.listen, "127.0.0.1");
    assert_int_equal(config->web.port, 8080);
    assert_int_equal(config->devices[0].poll_ms, 1000);
    assert_int_equal(config->escalation.reannunciate_s, 180);
    assert_int_equal(config->escalation.level_count, 4);
    assert_int_equal(config->resident_count, 0);
    assert_int_equal(config->rule_count, 0);
    char location[32];
    assert_string_equal(config_device_location(config, &config->devices[0], location, 32), "Z/R1");
    config_free(config);
    free(path);
    free(profile);
}

/* The staff: section (paging carers' phones): a good one, and each mistake
 * named where it is. */
static void test_staff_section(void **state)
{
    struct scratch *scratch = *state;
    static const char *const head =
        "devices:\n"
        "  - {id: p1, bus: b, address: 1, profile: presence-reset, room: R1}\n"
        "  - {id: p2, bus: b, address: 2, profile: presence-reset, room: R2}\n"
        "rules: [{id: presence, kind: presence}]\n"
        "staff:\n"
        "  shifts:\n"
        "    - {id: day, name: 白班, window: \"07:00-19:00\"}\n"
        "    - {id: night, window: \"19:00-07:00\"}\n";
    static const struct {
        const char *rest;
        const char *message; /* "" = loads */
    } cases[] = {
        {"  accept_s: 30\n  delivery_s: 3\n  phone_offline_s: 30\n"
         "  people:\n    - {user: li, name: 李护工, role: carer}\n"
         "    - {user: zhao.1, name: 赵组长, role: floor_lead}\n"
         "  cover:\n    day: [{user: li, rooms: [R1, R2]}, {user: zhao.1, zones: [Z]}]\n"
         "    night: [{user: li, zones: [Z]}]\n",
         ""},
        {"  people: [{user: li, role: cook}]\n",
         "role: expected carer, nurse, floor_lead or manager, got \"cook\""},
        {"  people: [{user: Li Wei, role: carer}]\n", "user: \"Li Wei\" is not a login name"},
        {"  people: [{user: li, role: carer}, {user: li, role: nurse}]\n",
         "user: \"li\" is listed twice"},
        {"  people: [{user: li, role: carer}]\n  cover:\n    day: [{user: wang, rooms: [R1]}]\n",
         "user: \"wang\" is not in staff.people"},
        {"  people: [{user: li, role: carer}]\n  cover:\n    evening: [{user: li, rooms: [R1]}]\n",
         "cover: \"evening\" is not one of staff.shifts"},
        {"  people: [{user: li, role: carer}]\n  cover:\n    day: [{user: li, rooms: [R9]}]\n",
         "rooms: \"R9\" is not in the rooms of zones"},
        {"  people: [{user: li, role: carer}]\n  cover:\n    day: [{user: li}]\n",
         "cover: \"li\" covers no zone and no room"},
        {"  people: [{user: li, role: carer}]\n  cover:\n"
         "    day: [{user: li, rooms: [R1]}, {user: li, zones: [Z]}]\n",
         "user: \"li\" is listed twice in shift \"day\""},
        {"  accept_s: 10\n  delivery_s: 10\n  people: [{user: li, role: carer}]\n",
         "delivery_s: must be shorter than accept_s (10 s)"},
        {"  accept_s: 2\n  people: [{user: li, role: carer}]\n",
         "accept_s: expected an integer from 5 to 600"},
        {"  people: [{user: li, role: carer, phone: 123}]\n",
         "unknown key \"phone\" in staff member"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = NULL;
        assert_true(asprintf(&text, "%s%s", head, cases[i].rest) > 0);
        const char *verdict = latching_verdict(scratch, text);
        if (cases[i].message[0] ? !strstr(verdict, cases[i].message) : verdict[0] != '\0')
            fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].message, verdict);
        free(text);
    }
    /* The good one, read back. */
    char *text = NULL;
    assert_true(asprintf(&text,
                         "site: {id: s1, name: S, district: d1}\n"
                         "profiles: [\"%s/config/profiles/*.yaml\"]\n"
                         "zones: [{id: Z, rooms: [{id: R1, beds: [A]}, {id: R2, beds: [A]}]}]\n"
                         "buses: [{id: b, driver: sim}]\n%s%s",
                         repo_root(), head, cases[0].rest) > 0);
    char *path = test_write_file(scratch->dir, "staff.yaml", text);
    free(text);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(path, &diag);
    free(path);
    assert_non_null(config);
    const struct wg_staffing *staff = &config->staff;
    assert_true(staff->enabled);
    assert_int_equal(staff->accept_s, 30);
    assert_int_equal(staff->delivery_s, 3);
    assert_int_equal(staff->shift_count, 2);
    assert_string_equal(staff->shifts[1].name, "night"); /* the id when no name */
    assert_int_equal(staff->shifts[0].window.start_min, 7 * 60);
    assert_int_equal(staff->people_count, 2);
    assert_int_equal(staff->people[1].care_role, WG_CARE_FLOOR_LEAD);
    assert_int_equal(staff->cover_count, 3);
    assert_int_equal(staff->covers[0].room_count, 2);
    assert_int_equal(staff->covers[1].zone_count, 1);
    assert_int_equal(staff->covers[2].shift, 1);
    config_free(config);
    diag_free(&diag);
}

/* web.tls_port beside port; the TLS files are read at load and a wrong one
 * is a warning naming it (plain HTTP still serves); public_host and tls_ca. */
static void test_web_tls_settings(void **state)
{
    struct scratch *scratch = *state;
    char *profile = test_write_file(scratch->dir, "p.yaml",
                                    "id: p\nvendor: v\nmodel: m\n"
                                    "points: [{name: c, meaning: call_button}]\n");
    char *cert = test_write_file(scratch->dir, "server.crt",
                                 "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    char *ca = test_write_file(scratch->dir, "ca.crt", "not a certificate\n");
    char *path = test_write_file(scratch->dir, "site.yaml",
                                 "site: {id: s1, name: S, district: d1}\n"
                                 "profiles: [p.yaml]\n"
                                 "zones: [{id: Z, rooms: [{id: R1, beds: [A]}]}]\n"
                                 "buses: [{id: b, driver: sim}]\n"
                                 "devices: [{id: d, bus: b, address: 3, profile: p, room: R1}]\n"
                                 "web:\n"
                                 "  port: 8080\n"
                                 "  tls_port: 8443\n"
                                 "  tls_cert: server.crt\n"
                                 "  tls_key: missing.key\n"
                                 "  tls_ca: ca.crt\n"
                                 "  public_host: gateway.home.lan\n");
    struct wg_config *config = config_load(path, &scratch->diag);
    print_messages(&scratch->diag);
    assert_non_null(config);
    assert_int_equal(config->web.port, 8080);
    assert_int_equal(config->web.tls_port, 8443);
    assert_string_equal(config->web.public_host, "gateway.home.lan");
    assert_non_null(strstr(config->web.tls_ca, "/ca.crt"));
    assert_int_equal(config->warnings.count, 2);
    assert_non_null(
        strstr(config->warnings.messages[0], "site.yaml:10:12: warning: tls_key: cannot read \""));
    assert_non_null(strstr(config->warnings.messages[0],
                           "missing.key\": No such file or directory; HTTPS on port 8443 will not "
                           "start; plain HTTP on port 8080 still serves"));
    assert_non_null(strstr(config->warnings.messages[1], "site.yaml:11:11: warning: tls_ca: \""));
    assert_non_null(strstr(config->warnings.messages[1], "ca.crt\" holds no certificate in PEM"));
    config_free(config);
    free(path);
    free(ca);
    free(cert);
    free(profile);
}

/* ---- bad configs ---------------------------------------------------------------------------- */

struct bad_case {
    const char *file;         /* under tests/configs/bad/ */
    const char *message_file; /* where the error is, when not `file` itself */
    int line;
    const char *reason;  /* substring of the message */
    size_t max_messages; /* no cascade: at most this many messages */
};

static const struct bad_case bad_cases[] = {
    {"01-syntax-error.yaml", NULL, 13, "YAML syntax error: did not find expected ',' or '}'", 1},
    {"02-duplicate-key.yaml", NULL, 6, "duplicate key \"id\" (first defined at ", 1},
    {"02-duplicate-key.yaml", NULL, 6, "02-duplicate-key.yaml:3:3)", 1},
    {"03-unknown-top-level.yaml", NULL, 15, "unknown key \"alarms\" in the top level", 1},
    {"04-unknown-device-key.yaml", NULL, 14,
     "unknown key \"adress\" in device (expected one of: id, label, bus, address", 2},
    {"05-missing-required.yaml", NULL, 14, "missing required key \"bus\" in device", 1},
    {"06-wrong-type.yaml", NULL, 14,
     "poll_ms: expected an integer from 50 to 3600000, got \"fast\"", 1},
    {"07-out-of-range.yaml", NULL, 10, "care_level: expected an integer from 1 to 5, got \"7\"", 1},
    {"08-unknown-bus.yaml", NULL, 14, "bus: no bus \"sim-9\"", 1},
    {"09-unknown-profile.yaml", NULL, 14, "profile: no profile \"test-cal\"", 1},
    {"10-unknown-room.yaml", NULL, 14, "room: no room \"102\"", 1},
    {"11-unknown-bed.yaml", NULL, 14, "bed: no bed \"101-C\"", 1},
    {"12-duplicate-device.yaml", NULL, 15, "device id \"101-A-call\" is used twice", 1},
    {"13-bad-window.yaml", NULL, 2, "night: expected a daily time window \"HH:MM-HH:MM\"", 1},
    {"14-unknown-meaning.yaml", "profiles/bad-meaning.yaml", 6,
     "meaning: \"call_buton\" is not in the vocabulary", 1},
    {"15-kind-mismatch.yaml", "profiles/bad-kind.yaml", 8,
     "kind: meaning \"in_bed\" is a bool point, got \"analog\"", 1},
    {"16-glob-no-match.yaml", NULL, 4, "\"profiles/nothing-*.yaml\" matches no file", 1},
    {"17-resident-unknown-bed.yaml", NULL, 10, "bed: no bed \"101-Z\"", 1},
    {"18-two-residents-one-bed.yaml", NULL, 11, "bed \"101-A\" is already taken by resident", 1},
    {"19-bad-site-id.yaml", NULL, 2, "id: expected lower-case letters, digits and '-' only", 1},
    {"20-escalation-not-increasing.yaml", NULL, 19,
     "after_s: levels must come strictly later one after another: expected more than 600", 1},
    {"21-rule-foreign-key.yaml", NULL, 16, "unknown key \"idle_hours\" in rule of kind \"call\"",
     1},
    {"22-unknown-risk.yaml", NULL, 10, "risks: expected GB 38600 risk names", 1},
    {"23-empty.yaml", NULL, 1, "the file is empty", 1},
    {"24-not-found.yaml", NULL, 1, "cannot open the file: No such file or directory", 1},
    {"25-non-scalar-key.yaml", NULL, 15, "a key must be a plain word, not a sequence", 1},
    {"26-second-document.yaml", NULL, 18, "a second YAML document", 1},
    {"27-rule-unknown-meaning.yaml", NULL, 17, "meaning: \"heart_beat\" is not in the vocabulary",
     1},
    {"28-duplicate-profile-id.yaml", "profiles/dup-b.yaml", 2,
     "profile id \"same-id\" is already defined", 1},
    {"29-combine-bad-op.yaml", NULL, 23, "op: expected one of: eq, ne, lt, le, gt, ge", 1},
    {"30-uplink-no-broker.yaml", NULL, 17, "the uplink is enabled but lists no broker", 1},
    {"31-unit-mismatch.yaml", "profiles/bad-unit.yaml", 6,
     "unit: meaning \"heart_rate\" is measured in \"bpm\", got \"Hz\"", 1},
    {"32-zones-not-a-list.yaml", NULL, 6, "zones: expected a list", 1},
    {"33-gas-thresholds.yaml", NULL, 17, "high: expected more than low (40), got 20", 1},
    {"34-bed-exit-bad-window.yaml", NULL, 17, "window: expected a daily time window", 1},
    {"36-unknown-timezone.yaml", NULL, 2, "timezone: \"Europe/Shanghai\" is not a time zone in", 1},
    {"37-call-without-reset.yaml", NULL, 20,
     "rule \"call\" (call): its alarms stay until they are reset at their origin, but room "
     "\"102\" has no reset device",
     1},
    {"38-kitchen-gas-without-reset.yaml", NULL, 15,
     "rule \"kitchen-gas\" (gas): its alarms stay until they are reset at their origin, but "
     "room \"kitchen\" has no reset device",
     1},
    {"39-call-point-without-room.yaml", NULL, 14,
     "but device \"lobby-call\" has no room, so they could never end; give it a room that has one",
     1},
    {"40-reset-at-room-without-reset.yaml", NULL, 16,
     "reset_at: room \"F1-station\" has no reset device", 1},
    {"41-reset-at-unknown.yaml", NULL, 16, "reset_at: no room or device \"nurse-station\"", 1},
    {"42-reset-at-and-on-normal.yaml", NULL, 16,
     "reset_at: an alarm that ends by itself (reset_on_normal: true) is not reset anywhere", 1},
    {"43-web-tls-port-same.yaml", NULL, 21,
     "tls_port: 8080 is also port: plain HTTP and HTTPS need a port each", 1},
    {"44-web-tls-port-no-cert.yaml", NULL, 19, "tls_port: HTTPS on port 8443 needs tls_cert", 1},
    {"45-web-public-host.yaml", NULL, 19,
     "public_host: expected the host name or address phones reach the gateway by", 1},
    {"35-rule-point-missing.yaml", NULL, 17,
     "meaning: rule \"heart\" needs a point meaning \"heart_rate\", but no device has one", 1},
};

/* One test per bad config, so each shows in the summary under its own name. */
static void test_bad_config(void **state)
{
    const struct bad_case *bad = *state;
    char *relative = NULL, *path = NULL, *prefix = NULL;
    assert_true(asprintf(&relative, "tests/configs/bad/%s", bad->file) > 0);
    path = repo_path(relative);
    assert_non_null(path);
    if (bad->message_file)
        assert_true(asprintf(&prefix, "%s/tests/configs/bad/%s:%d:", repo_root(), bad->message_file,
                             bad->line) > 0);
    else
        assert_true(asprintf(&prefix, "%s:%d:", path, bad->line) > 0);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(path, &diag);
    bool found = false;
    for (size_t m = 0; m < diag.count; m++)
        found = found || (strncmp(diag.messages[m], prefix, strlen(prefix)) == 0 &&
                          strstr(diag.messages[m], bad->reason));
    bool ok = !config && found && diag.count >= 1 && diag.count <= bad->max_messages;
    if (!ok) {
        print_message("# %s: expected \"%s ...%s\" (at most %zu messages), got %s:\n", bad->file,
                      prefix, bad->reason, bad->max_messages, config ? "a config" : "NULL");
        print_messages(&diag);
    }
    config_free(config);
    diag_free(&diag);
    free(prefix);
    free(path);
    free(relative);
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_facility_loads_cleanly, facility_setup,
                                        facility_teardown),
        cmocka_unit_test_setup_teardown(test_facility_covers_every_rule_kind, facility_setup,
                                        facility_teardown),
        cmocka_unit_test_setup_teardown(test_facility_residents_and_risks, facility_setup,
                                        facility_teardown),
        cmocka_unit_test_setup_teardown(test_facility_defaults_and_sections, facility_setup,
                                        facility_teardown),
        cmocka_unit_test_setup_teardown(test_facility_meter_meanings, facility_setup,
                                        facility_teardown),
        cmocka_unit_test_setup_teardown(test_facility_lookups, facility_setup, facility_teardown),
        cmocka_unit_test(test_priority_and_risk_names_round_trip),
        cmocka_unit_test(test_window_contains),
        cmocka_unit_test(test_meaning_vocabulary),
        cmocka_unit_test(test_timezone_names),
        cmocka_unit_test_setup_teardown(test_cfgtree_positions_aliases_quotes, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_cfgtree_byte_ranges, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_cfgtree_typed_reads, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_cfgtree_alias_bomb_is_refused, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_cfgtree_duplicate_keys, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test(test_diag_formats),
        cmocka_unit_test_setup_teardown(test_latching_rules_need_an_end, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_fire_panel_places, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_staff_section, scratch_setup, scratch_teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths_and_minimal_defaults, scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_web_tls_settings, scratch_setup, scratch_teardown),
    };
    enum { FIXED = sizeof tests / sizeof tests[0], BAD = sizeof bad_cases / sizeof bad_cases[0] };
    struct CMUnitTest all[FIXED + BAD];
    memcpy(all, tests, sizeof tests);
    for (size_t i = 0; i < BAD; i++)
        all[FIXED + i] = (struct CMUnitTest){.name = bad_cases[i].file,
                                             .test_func = test_bad_config,
                                             .initial_state = (void *)&bad_cases[i]};
    return _cmocka_run_group_tests("config", all, FIXED + BAD, NULL, NULL);
}
