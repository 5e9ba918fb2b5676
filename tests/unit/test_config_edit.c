/* Tests of config_edit: manager-UI changes made to the configuration text.
 * Each test works on a copy in a scratch directory: the example facility
 * (with a `profiles` symlink to the repository's, so its relative include
 * resolves) or a small site written here in both flow and block styles.
 * Every change is checked byte for byte where the rest of the file must
 * stay, and by loading the result with config_load. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "config/cfgtree.h"
#include "config/config.h"
#include "config/config_edit.h"
#include "testconfig.h"

struct fixture {
    char *dir;
    char *path;     /* the config file in dir */
    char *original; /* its text as written by the setup */
};

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t length = 0;
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        char *grown = realloc(text, length + got + 1);
        if (!grown) {
            free(text);
            fclose(f);
            return NULL;
        }
        text = grown;
        memcpy(text + length, chunk, got);
        length += got;
        text[length] = '\0';
    }
    fclose(f);
    return text ? text : strdup("");
}

static void print_messages(const struct wg_diag *diag)
{
    for (size_t i = 0; i < diag->count; i++)
        print_message("#   %s\n", diag->messages[i]);
}

static int facility_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    *state = fx;
    fx->dir = test_tmpdir();
    char *source = NULL, *profiles = NULL, *link_path = NULL;
    if (!fx->dir || asprintf(&source, "%s/config/facility.yaml", test_root()) < 0 ||
        asprintf(&profiles, "%s/config/profiles", test_root()) < 0 ||
        asprintf(&link_path, "%s/profiles", fx->dir) < 0)
        return -1;
    fx->original = slurp(source);
    int linked = symlink(profiles, link_path);
    free(source);
    free(profiles);
    free(link_path);
    if (!fx->original || linked != 0)
        return -1;
    fx->path = test_write_file(fx->dir, "facility.yaml", fx->original);
    return fx->path ? 0 : -1;
}

/* A small site with flow and block items, comments in between. */
static const char small_site[] = "site: {id: unit-home, name: Unit Home, district: unit-district}\n"
                                 "profiles: [\"%s/config/profiles/*.yaml\"]\n"
                                 "zones:\n"
                                 "  - id: f1\n"
                                 "    rooms:\n"
                                 "      - {id: \"101\", beds: [A, B]}\n"
                                 "      - id: \"102\"\n"
                                 "        beds:\n"
                                 "          - A\n"
                                 "      - id: store\n"
                                 "        kind: common\n"
                                 "      - {id: hall, kind: corridor}\n"
                                 "residents:\n"
                                 "  - {id: R-0001, bed: 101-A, care_level: 3, risks: [fall]}\n"
                                 "buses:\n"
                                 "  - {id: b1, driver: sim}\n"
                                 "devices:\n"
                                 "  # the call point\n"
                                 "  - {id: call-1, label: one, bus: b1, address: 1, profile: "
                                 "call-point, bed: 101-A, settings: {x: 1,\n"
                                 "      y: [2, 3]}}   # keep me\n"
                                 "  - id: cord-1      # block style\n"
                                 "    bus: b1\n"
                                 "    address: 2\n"
                                 "    profile: pull-cord\n"
                                 "    settings:\n"
                                 "      # driver settings stay as written\n"
                                 "      latch: true\n"
                                 "    room: \"101\"\n"
                                 "  # after the block item\n"
                                 "  - {id: lamp-1, bus: b1, address: 3, profile: door-lamp, room: "
                                 "\"101\"}  # lamp comment\n"
                                 "# end of devices\n"
                                 "web: {enabled: false}\n";

static int small_setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    *state = fx;
    fx->dir = test_tmpdir();
    if (!fx->dir || asprintf(&fx->original, small_site, test_root()) < 0)
        return -1;
    fx->path = test_write_file(fx->dir, "site.yaml", fx->original);
    return fx->path ? 0 : -1;
}

static int fixture_teardown(void **state)
{
    struct fixture *fx = *state;
    if (!fx)
        return 0;
    if (fx->dir)
        test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx->original);
    free(fx);
    return 0;
}

static json_t *json(const char *text)
{
    json_error_t error;
    json_t *value = json_loads(text, 0, &error);
    if (!value)
        print_message("# bad test JSON: %s: %s\n", text, error.text);
    assert_non_null(value);
    return value;
}

/* Applies a change; prints the outcome when it is not `status`. */
static int apply(const struct fixture *fx, enum wg_edit_op op, const char *id, const char *body,
                 int status, struct wg_edit_result *result)
{
    json_t *value = body ? json(body) : NULL;
    int rc = config_edit_apply(fx->path, op, id, value, result);
    json_decref(value);
    if (result->status != status) {
        print_message("# expected status %d, got %d: %s (field \"%s\")\n", status, result->status,
                      result->error, result->field);
        print_messages(&result->details);
    }
    assert_int_equal(result->status, status);
    assert_int_equal(rc, status < 300 ? 0 : -1);
    return rc;
}

static void apply_ok(const struct fixture *fx, enum wg_edit_op op, const char *id, const char *body)
{
    struct wg_edit_result result;
    apply(fx, op, id, body, op == WG_EDIT_DEVICE_ADD || op == WG_EDIT_RESIDENT_ADD ? 201 : 200,
          &result);
    config_edit_result_free(&result);
}

static struct wg_config *load(const char *path)
{
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(path, &diag);
    print_messages(&diag);
    assert_int_equal(diag.count, 0);
    diag_free(&diag);
    assert_non_null(config);
    return config;
}

static const struct wg_resident *find_resident(const struct wg_config *config, const char *id)
{
    for (size_t i = 0; i < config->resident_count; i++)
        if (strcmp(config->residents[i].id, id) == 0)
            return &config->residents[i];
    return NULL;
}

/* Temporary files of config_edit left in the directory. */
static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(d)))
        if (strstr(entry->d_name, ".edit-") || strstr(entry->d_name, ".prev-")) {
            print_message("# left over: %s\n", entry->d_name);
            count++;
        }
    closedir(d);
    return count;
}

static char *prev_path(const struct fixture *fx)
{
    char *prev = NULL;
    assert_true(asprintf(&prev, "%s.prev", fx->path) > 0);
    return prev;
}

/* The byte range of item `id` of `section` in `text`. */
static void item_range(const char *text, const char *section, const char *id, size_t *from,
                       size_t *to)
{
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_cfg_node *root = cfgtree_parse("range.yaml", text, strlen(text), &diag);
    assert_non_null(root);
    const struct wg_cfg_node *list = cfg_get(root, section);
    bool found = false;
    for (size_t i = 0; i < cfg_seq_len(list) && !found; i++) {
        const struct wg_cfg_node *item = cfg_seq_at(list, i);
        if (cfg_scalar(cfg_get(item, "id")) && strcmp(cfg_scalar(cfg_get(item, "id")), id) == 0) {
            *from = item->start_index;
            *to = item->end_index;
            found = true;
        }
    }
    cfgtree_free(root);
    diag_free(&diag);
    assert_true(found);
}

/* `changed` is `original` with [from, to) replaced by `middle`. */
static void assert_only_range_changed(const char *original, const char *changed, size_t from,
                                      size_t to, const char *middle)
{
    size_t original_length = strlen(original), changed_length = strlen(changed);
    size_t tail = original_length - to;
    assert_true(changed_length >= from + tail);
    assert_memory_equal(changed, original, from);
    assert_string_equal(changed + changed_length - tail, original + to);
    size_t middle_length = changed_length - from - tail;
    char *got = strndup(changed + from, middle_length);
    assert_string_equal(got, middle);
    free(got);
}

/* ---- the example facility ------------------------------------------------------------------- */

static void test_update_device_changes_only_its_node(void **state)
{
    struct fixture *fx = *state;
    size_t from = 0, to = 0;
    item_range(fx->original, "devices", "101-A-call", &from, &to);
    struct stat before_st, st;
    assert_int_equal(stat(fx->path, &before_st), 0);

    struct wg_edit_result result;
    apply(fx, WG_EDIT_DEVICE_UPDATE, "101-A-call",
          "{\"label\": \"101-A 床头呼叫 (新)\", \"bus\": \"sim-f1\", \"address\": 1, "
          "\"profile\": \"call-point\", \"bed\": \"101-A\", \"poll_ms\": 300}",
          200, &result);
    assert_string_equal(json_string_value(json_object_get(result.before, "label")),
                        "101-A 床头呼叫");
    assert_int_equal(json_integer_value(json_object_get(result.before, "poll_ms")), 200);
    assert_int_equal(json_integer_value(json_object_get(result.before, "address")), 1);
    assert_int_equal(json_integer_value(json_object_get(result.after, "poll_ms")), 300);
    assert_string_equal(json_string_value(json_object_get(result.after, "id")), "101-A-call");
    config_edit_result_free(&result);

    char *changed = slurp(fx->path);
    assert_non_null(changed);
    assert_only_range_changed(fx->original, changed, from, to,
                              "{id: 101-A-call, label: 101-A 床头呼叫 (新), bus: sim-f1, address: "
                              "1, profile: call-point, bed: 101-A, poll_ms: 300}");
    assert_non_null(strstr(changed, "  # room 101\n"));
    assert_non_null(strstr(changed, "# --- Devices ----"));

    struct wg_config *config = load(fx->path);
    const struct wg_device *device = &config->devices[config_find_device(config, "101-A-call")];
    assert_string_equal(device->label, "101-A 床头呼叫 (新)");
    assert_int_equal(device->poll_ms, 300);
    assert_int_equal(config->device_count, 323);
    config_free(config);

    char *prev = prev_path(fx);
    char *previous = slurp(prev);
    assert_non_null(previous);
    assert_string_equal(previous, fx->original);
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, before_st.st_mode & 07777);
    assert_int_not_equal(st.st_ino, before_st.st_ino); /* replaced, not written in place */
    assert_int_equal(leftovers(fx->dir), 0);
    free(previous);
    free(prev);
    free(changed);
}

static void test_add_and_delete_device(void **state)
{
    struct fixture *fx = *state;
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL,
             "{\"id\": \"101-extra\", \"label\": \"yes\", \"bus\": \"sim-f1\", \"address\": 200, "
             "\"profile\": \"call-point\", \"room\": \"101\", \"spot\": \"12\", \"enabled\": "
             "false}");
    char *changed = slurp(fx->path);
    const char *last = "  - {id: kitchen-reset, label: 厨房 到位/复位, bus: sim-plant, address: 8, "
                       "profile: presence-reset, room: kitchen, spot: 门口, poll_ms: 200}\n";
    char *expected = NULL;
    assert_true(
        asprintf(&expected,
                 "%s  - {id: 101-extra, label: \"yes\", bus: sim-f1, address: 200, profile: "
                 "call-point, room: \"101\", spot: \"12\", enabled: false}\n\n# --- Rules",
                 last) > 0);
    assert_non_null(strstr(changed, expected));
    assert_int_equal(strlen(changed), strlen(fx->original) + strlen(expected) - strlen(last) -
                                          strlen("\n# --- Rules"));
    free(expected);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->device_count, 324);
    const struct wg_device *added = &config->devices[config_find_device(config, "101-extra")];
    assert_string_equal(added->label, "yes");
    assert_string_equal(added->spot, "12");
    assert_false(added->enabled);
    assert_int_equal(added->room, config_find_room(config, "101"));
    config_free(config);

    struct wg_edit_result result;
    apply(fx, WG_EDIT_DEVICE_DELETE, "101-door", NULL, 200, &result);
    assert_string_equal(json_string_value(json_object_get(result.before, "id")), "101-door");
    assert_string_equal(json_string_value(json_object_get(result.before, "room")), "101");
    assert_null(result.after);
    config_edit_result_free(&result);
    char *after_delete = slurp(fx->path);
    assert_null(strstr(after_delete, "101-door"));
    const char *line = "  - {id: 101-door, label: 101 门磁, bus: sim-f1, address: 7, profile: "
                       "door-contact, room: \"101\", spot: 门口, poll_ms: 200}\n";
    assert_non_null(strstr(changed, line));
    assert_int_equal(strlen(after_delete), strlen(changed) - strlen(line));
    const char *at = strstr(changed, line);
    assert_memory_equal(after_delete, changed, (size_t)(at - changed));
    assert_string_equal(after_delete + (at - changed), at + strlen(line));
    config = load(fx->path);
    assert_int_equal(config->device_count, 323);
    assert_int_equal(config_find_device(config, "101-door"), WG_NO_INDEX);
    config_free(config);
    free(after_delete);
    free(changed);
}

static void test_residents(void **state)
{
    struct fixture *fx = *state;
    apply_ok(fx, WG_EDIT_RESIDENT_ADD, NULL,
             "{\"id\": \"R-NEW1\", \"label\": \"新 奶奶\", \"bed\": \"102-B\", \"care_level\": 2, "
             "\"risks\": [\"fall\", \"wandering\"], \"night\": \"20:00-07:00\"}");
    char *text = slurp(fx->path);
    assert_non_null(strstr(text, "  - {id: R-5053, label: 程奶奶, bed: 310-B, care_level: 2, "
                                 "risks: [fall]}\n"
                                 "  - {id: R-NEW1, label: 新 奶奶, bed: 102-B, care_level: 2, "
                                 "risks: [fall, wandering], night: \"20:00-07:00\"}\n\n"));
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->resident_count, 56);
    const struct wg_resident *added = find_resident(config, "R-NEW1");
    assert_non_null(added);
    assert_string_equal(added->label, "新 奶奶");
    assert_string_equal(config->beds[added->bed].id, "102-B");
    assert_int_equal(added->risks, WG_RISK_FALL | WG_RISK_WANDERING);
    assert_true(added->has_night);
    assert_int_equal(added->night.start_min, 20 * 60);
    config_free(config);

    /* night: null drops the key: the site's window applies again. */
    struct wg_edit_result result;
    apply(fx, WG_EDIT_RESIDENT_UPDATE, "R-305E",
          "{\"id\": \"R-305E\", \"label\": \"江奶奶\", \"bed\": \"302-A\", \"care_level\": 5, "
          "\"risks\": [], \"night\": null}",
          200, &result);
    assert_string_equal(json_string_value(json_object_get(result.before, "night")), "20:00-07:30");
    assert_int_equal(json_array_size(json_object_get(result.before, "risks")), 2);
    assert_null(json_object_get(result.after, "night"));
    config_edit_result_free(&result);
    text = slurp(fx->path);
    assert_non_null(strstr(text, "\n  - {id: R-305E, label: 江奶奶, bed: 302-A, care_level: 5, "
                                 "risks: []}\n  - {id: R-A316,"));
    free(text);
    config = load(fx->path);
    const struct wg_resident *updated = find_resident(config, "R-305E");
    assert_non_null(updated);
    assert_false(updated->has_night);
    assert_int_equal(updated->care_level, 5);
    assert_int_equal(updated->risks, 0);
    config_free(config);

    apply_ok(fx, WG_EDIT_RESIDENT_DELETE, "R-ACD7", NULL);
    text = slurp(fx->path);
    assert_null(strstr(text, "R-ACD7"));
    assert_non_null(strstr(text, "residents:\n  - {id: R-AB58,"));
    assert_non_null(strstr(text, "  # 102-B: vacant\n"));
    free(text);
    config = load(fx->path);
    assert_int_equal(config->resident_count, 55);
    assert_null(find_resident(config, "R-ACD7"));
    config_free(config);
}

static void test_room_beds(void **state)
{
    struct fixture *fx = *state;
    struct wg_edit_result result;
    apply(fx, WG_EDIT_ROOM_BEDS, "102", "{\"beds\": [\"A\", \"B\", \"C\"]}", 200, &result);
    assert_int_equal(json_array_size(json_object_get(result.before, "beds")), 2);
    assert_int_equal(json_array_size(json_object_get(result.after, "beds")), 3);
    config_edit_result_free(&result);
    apply_ok(fx, WG_EDIT_ROOM_BEDS, "F1-corridor", "{\"beds\": [\"X\"]}");
    char *text = slurp(fx->path);
    assert_non_null(strstr(text, "      - {id: \"102\", name: 102室, beds: [A, B, C]}\n"));
    assert_non_null(
        strstr(text, "      - {id: F1-corridor, name: 1楼走廊, kind: corridor, beds: [X]}\n"));
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->bed_count, 62);
    assert_int_not_equal(config_find_bed(config, "102-C"), WG_NO_INDEX);
    assert_int_not_equal(config_find_bed(config, "F1-corridor-X"), WG_NO_INDEX);
    config_free(config);

    /* A bed a resident lies in cannot go: the refusal names the resident. */
    apply(fx, WG_EDIT_ROOM_BEDS, "101", "{\"beds\": [\"A\"]}", 422, &result);
    assert_string_equal(result.field, "beds");
    assert_int_equal(result.details.count, 1);
    assert_string_equal(result.details.entries[0].code, "bed_occupied");
    assert_string_equal(result.details.entries[0].field, "beds");
    assert_string_equal(result.details.entries[0].args,
                        "{\"bed\":\"101-B\",\"occupant\":\"张爷爷\",\"resident\":\"R-AB58\","
                        "\"label\":\"张爷爷\"}");
    assert_non_null(
        strstr(result.error, "bed 101-B cannot be taken away: resident R-AB58 (张爷爷)"));
    config_edit_result_free(&result);
}

/* The facility is written the way config_edit writes: updating any device
 * or resident with its own values gives the same text, byte for byte. */
static void test_own_values_change_nothing(void **state)
{
    struct fixture *fx = *state;
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_cfg_node *root = cfgtree_parse("f.yaml", fx->original, strlen(fx->original), &diag);
    assert_non_null(root);
    static const struct {
        const char *section;
        enum wg_edit_op update, remove;
    } lists[] = {{"devices", WG_EDIT_DEVICE_UPDATE, WG_EDIT_DEVICE_DELETE},
                 {"residents", WG_EDIT_RESIDENT_UPDATE, WG_EDIT_RESIDENT_DELETE}};
    size_t checked = 0;
    for (size_t l = 0; l < 2; l++) {
        const struct wg_cfg_node *list = cfg_get(root, lists[l].section);
        for (size_t i = 0; i < cfg_seq_len(list); i++) {
            const char *id = cfg_scalar(cfg_get(cfg_seq_at(list, i), "id"));
            struct wg_edit_result first, second;
            /* The first pass only reads the item's values (a delete changes nothing here). */
            char *text =
                config_edit_text("f.yaml", fx->original, lists[l].remove, id, NULL, &first);
            assert_non_null(text);
            free(text);
            text = config_edit_text("f.yaml", fx->original, lists[l].update, id, first.before,
                                    &second);
            if (!text || strcmp(text, fx->original) != 0)
                print_message("# %s %s changed: %s\n", lists[l].section, id,
                              text ? "" : second.error);
            assert_non_null(text);
            assert_string_equal(text, fx->original);
            free(text);
            config_edit_result_free(&first);
            config_edit_result_free(&second);
            checked++;
        }
    }
    assert_int_equal(checked, 323 + 55);
    cfgtree_free(root);
    diag_free(&diag);
}

/* Every refusal leaves the file byte for byte, no temporary file and no .prev. */
static void test_refusals_change_nothing(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        enum wg_edit_op op;
        const char *id;
        const char *body;
        int status;
        const char *field;
        const char *error; /* substring */
    } cases[] = {
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-f1\", \"address\": 1, \"profile\": \"call-point\", \"colour\": \"red\"}",
         400, "colour", "unknown field \"colour\" in device"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-f1\", \"address\": 1, \"profile\": \"call-point\", \"settings\": {}}",
         400, "settings", "not edited here"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-f1\", \"address\": \"1\", \"profile\": \"call-point\"}", 400, "address",
         "address: expected an integer, got a string"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-f1\", \"address\": 1, \"profile\": \"call-point\", \"poll_ms\": 1.5}",
         400, "poll_ms", "expected an integer"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-f1\", \"address\": 1, \"profile\": \"call-point\", \"enabled\": "
         "\"yes\"}",
         400, "enabled", "expected true or false"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-f1\", \"address\": 1, \"profile\": null}", 400, "profile",
         "profile: expected a string, got null"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"id\": \"101-B-call\", \"bus\": \"sim-f1\", \"address\": 1, \"profile\": "
         "\"call-point\"}",
         400, "id", "cannot be changed"},
        {WG_EDIT_DEVICE_ADD, NULL, "{\"id\": \"x-1\", \"bus\": \"sim-f1\", \"address\": 300}", 400,
         "profile", "missing required field \"profile\" in device"},
        {WG_EDIT_DEVICE_ADD, NULL, "[1, 2]", 400, "", "must be a JSON object"},
        {WG_EDIT_RESIDENT_ADD, NULL, "{\"id\": \"R-ZZ99\", \"care_level\": 1}", 400, "bed",
         "missing required field \"bed\""},
        {WG_EDIT_RESIDENT_ADD, NULL,
         "{\"id\": \"R-ZZ99\", \"bed\": \"102-B\", \"care_level\": 1, \"risks\": [\"fall\", 3]}",
         400, "risks", "expected a list of strings"},
        {WG_EDIT_RESIDENT_ADD, NULL, "{\"id\": \"bob\", \"bed\": \"102-B\", \"care_level\": 1}",
         400, "id", "pseudonymous"},
        {WG_EDIT_ROOM_BEDS, "102", "{\"beds\": \"A\"}", 400, "beds", "expected a list of strings"},
        {WG_EDIT_ROOM_BEDS, "102", "{}", 400, "beds", "missing required field \"beds\""},
        {WG_EDIT_DEVICE_DELETE, NULL, NULL, 400, "id", "id is missing"},
        {WG_EDIT_DEVICE_UPDATE, "no-such-device",
         "{\"bus\": \"sim-f1\", \"address\": 1, \"profile\": \"call-point\"}", 404, "",
         "no device \"no-such-device\""},
        {WG_EDIT_DEVICE_DELETE, "no-such-device", NULL, 404, "", "no device"},
        {WG_EDIT_RESIDENT_UPDATE, "R-NONE", "{\"bed\": \"102-B\", \"care_level\": 1}", 404, "",
         "no resident \"R-NONE\""},
        {WG_EDIT_RESIDENT_DELETE, "R-NONE", NULL, 404, "", "no resident"},
        {WG_EDIT_ROOM_BEDS, "999", "{\"beds\": [\"A\"]}", 404, "", "no room \"999\""},
        {WG_EDIT_DEVICE_ADD, NULL,
         "{\"id\": \"101-A-call\", \"bus\": \"sim-f1\", \"address\": 300, \"profile\": "
         "\"call-point\"}",
         409, "id", "already exists"},
        {WG_EDIT_RESIDENT_ADD, NULL, "{\"id\": \"R-ACD7\", \"bed\": \"102-B\", \"care_level\": 1}",
         409, "id", "already exists"},
        {WG_EDIT_DEVICE_UPDATE, "101-A-call",
         "{\"bus\": \"sim-9\", \"address\": 1, \"profile\": \"call-point\"}", 422, "bus",
         "bus: no bus \"sim-9\""},
        {WG_EDIT_DEVICE_ADD, NULL,
         "{\"id\": \"x-1\", \"bus\": \"sim-f1\", \"address\": 300, \"profile\": \"nope\"}", 422,
         "profile", "profile: no profile \"nope\""},
        {WG_EDIT_DEVICE_ADD, NULL,
         "{\"id\": \"x-1\", \"bus\": \"sim-f1\", \"address\": 70000, \"profile\": "
         "\"call-point\"}",
         422, "address", "address: expected an integer from 0 to 65535"},
        {WG_EDIT_DEVICE_ADD, NULL,
         "{\"id\": \"x 1\", \"bus\": \"sim-f1\", \"address\": 300, \"profile\": \"call-point\"}",
         422, "id", "id: expected letters, digits"},
        {WG_EDIT_RESIDENT_ADD, NULL, "{\"id\": \"R-ZZ99\", \"bed\": \"101-A\", \"care_level\": 1}",
         422, "bed", "bed 101-A is taken by resident R-ACD7 (田爷爷)"},
        /* The occupant is named, not the resident being moved (who comes first in the file). */
        {WG_EDIT_RESIDENT_UPDATE, "R-ACD7", "{\"bed\": \"102-A\", \"care_level\": 1}", 422, "bed",
         "bed 102-A is taken by resident R-1991 (姜奶奶): move or remove that resident first"},
        {WG_EDIT_RESIDENT_UPDATE, "R-ACD7",
         "{\"bed\": \"101-A\", \"care_level\": 1, \"night\": \"25:00-07:00\"}", 422, "night",
         "night: expected a daily time window"},
    };
    char *prev = prev_path(fx);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("# case %zu: %s %s\n", i, cases[i].id ? cases[i].id : "-",
                      cases[i].body ? cases[i].body : "");
        struct wg_edit_result result;
        apply(fx, cases[i].op, cases[i].id, cases[i].body, cases[i].status, &result);
        if (!strstr(result.error, cases[i].error) || strcmp(result.field, cases[i].field) != 0)
            print_message("# got \"%s\" (field \"%s\")\n", result.error, result.field);
        assert_non_null(strstr(result.error, cases[i].error));
        assert_string_equal(result.field, cases[i].field);
        assert_null(result.before);
        assert_null(result.after);
        if (cases[i].status == 422) {
            /* Each problem: a code, the field where it is one, and no server path in what a
             * manager reads; the log's messages keep file:line of the real file. */
            assert_true(result.details.count >= 1);
            for (size_t m = 0; m < result.details.count; m++) {
                const struct wg_diag_entry *entry = &result.details.entries[m];
                assert_null(strstr(result.details.messages[m], ".edit-"));
                if (entry->file) {
                    assert_string_equal(entry->file, fx->path);
                    assert_true(strncmp(result.details.messages[m], fx->path, strlen(fx->path)) ==
                                0);
                }
                assert_true(entry->code[0]);
                assert_null(strstr(entry->text, fx->dir));
            }
            assert_string_equal(result.details.entries[0].field, cases[i].field);
            assert_null(strstr(result.error, fx->dir));
        } else {
            assert_int_equal(result.details.count, 0);
        }
        config_edit_result_free(&result);
        char *text = slurp(fx->path);
        assert_string_equal(text, fx->original);
        free(text);
        assert_int_equal(leftovers(fx->dir), 0);
        assert_int_equal(access(prev, F_OK), -1);
    }
    free(prev);
}

/* .prev is always the version before the last change. */
static void test_prev_is_the_previous_version(void **state)
{
    struct fixture *fx = *state;
    apply_ok(fx, WG_EDIT_ROOM_BEDS, "105", "{\"beds\": [\"A\", \"B\", \"C\"]}");
    char *first = slurp(fx->path);
    apply_ok(fx, WG_EDIT_ROOM_BEDS, "106", "{\"beds\": [\"A\", \"B\", \"D\"]}");
    char *prev = prev_path(fx);
    char *previous = slurp(prev);
    assert_string_equal(previous, first);
    assert_string_not_equal(previous, fx->original);
    assert_int_equal(leftovers(fx->dir), 0);
    free(previous);
    free(prev);
    free(first);
}

/* A change the drivers refuse at the reload is undone: .prev is put back. */
static void test_restore_puts_the_previous_back(void **state)
{
    struct fixture *fx = *state;
    apply_ok(fx, WG_EDIT_ROOM_BEDS, "105", "{\"beds\": [\"A\", \"B\", \"C\"]}");
    char err[320] = "";
    assert_int_equal(config_edit_restore(fx->path, err, sizeof err), 0);
    char *now = slurp(fx->path);
    assert_string_equal(now, fx->original);
    free(now);
    /* Nothing to put back any more: refused, with the file named. */
    assert_int_equal(config_edit_restore(fx->path, err, sizeof err), -1);
    assert_non_null(strstr(err, ".prev"));
    assert_int_equal(leftovers(fx->dir), 0);
}

/* Labels YAML would misread are quoted; all come back exactly. */
static void test_strings_round_trip(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *label;
        const char *written; /* how it must appear, NULL: only the round trip */
    } cases[] = {
        {"plain words", "label: plain words,"},
        {"王奶奶 (208-B)", "label: 王奶奶 (208-B),"},
        {"a: b", "label: \"a: b\","},
        {"x # y", "label: \"x # y\","},
        {"say \"hi\"", "label: \"say \\\"hi\\\"\","},
        {"it's", "label: \"it's\","},
        {"-lead", "label: \"-lead\","},
        {"- item", NULL},
        {"yes", "label: \"yes\","},
        {"No", "label: \"No\","},
        {"null", "label: \"null\","},
        {"~", "label: \"~\","},
        {"101", "label: \"101\","},
        {"0x1F", "label: \"0x1F\","},
        {"1e3", "label: \"1e3\","},
        {"3.14", "label: \"3.14\","},
        {"-5", NULL},
        {".inf", NULL},
        {"2024-05-01", "label: \"2024-05-01\","},
        {"", "label: \"\","},
        {" padded ", "label: \" padded \","},
        {"tab\there", "label: \"tab\\there\","},
        {"line\nbreak", "label: \"line\\nbreak\","},
        {"back\\slash", "label: \"back\\\\slash\","},
        {"[x]", NULL},
        {"{y}", NULL},
        {"a, b", NULL},
        {"&anchor", NULL},
        {"*alias", NULL},
        {"!tag", NULL},
        {"%pct", NULL},
        {"@at", NULL},
        {"`tick", NULL},
        {"|pipe", NULL},
        {">gt", NULL},
        {"?q", NULL},
        {"<<", NULL},
        {"=", NULL},
        {"bell\a", "label: \"bell\\x07\","},
        {"sep\xe2\x80\xa8here", "label: \"sep\\u2028here\","},
        {"c1\xc2\x85", "label: \"c1\\u0085\","},
        {"中文: 冒号", NULL},
        {"emoji 🚑", "label: emoji 🚑,"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *body = json_pack("{s:s, s:s, s:i, s:s, s:s}", "label", cases[i].label, "bus", "b1",
                                 "address", 3, "profile", "door-lamp", "room", "101");
        assert_non_null(body);
        struct wg_edit_result result;
        int rc = config_edit_apply(fx->path, WG_EDIT_DEVICE_UPDATE, "lamp-1", body, &result);
        json_decref(body);
        if (rc != 0) {
            print_message("# label %zu: %s\n", i, result.error);
            print_messages(&result.details);
        }
        assert_int_equal(rc, 0);
        config_edit_result_free(&result);
        char *text = slurp(fx->path);
        if (cases[i].written && !strstr(text, cases[i].written))
            print_message("# label %zu: expected %s in:\n%s\n", i, cases[i].written, text);
        if (cases[i].written)
            assert_non_null(strstr(text, cases[i].written));
        free(text);
        struct wg_config *config = load(fx->path);
        const struct wg_device *lamp = &config->devices[config_find_device(config, "lamp-1")];
        assert_string_equal(lamp->label, cases[i].label);
        assert_int_equal(lamp->room, config_find_room(config, "101"));
        config_free(config);
    }
}

/* ---- the small site: styles ----------------------------------------------------------------- */

static void test_flow_item_keeps_other_keys(void **state)
{
    struct fixture *fx = *state;
    size_t from = 0, to = 0;
    item_range(fx->original, "devices", "call-1", &from, &to);
    apply_ok(fx, WG_EDIT_DEVICE_UPDATE, "call-1",
             "{\"id\": \"call-1\", \"label\": \"One\", \"bus\": \"b1\", \"address\": 1, "
             "\"profile\": \"call-point\", \"bed\": \"101-A\", \"poll_ms\": 250}");
    char *text = slurp(fx->path);
    assert_only_range_changed(fx->original, text, from, to,
                              "{id: call-1, label: One, bus: b1, address: 1, profile: call-point, "
                              "bed: 101-A, poll_ms: 250, settings: {x: 1,\n      y: [2, 3]}}");
    assert_non_null(strstr(text, "}}   # keep me\n"));
    free(text);
    struct wg_config *config = load(fx->path);
    const struct wg_device *call = &config->devices[config_find_device(config, "call-1")];
    assert_int_equal(call->poll_ms, 250);
    assert_string_equal(cfg_scalar(cfg_get(call->settings, "x")), "1");
    config_free(config);
}

static void test_block_item_update_and_delete(void **state)
{
    struct fixture *fx = *state;
    apply_ok(fx, WG_EDIT_DEVICE_UPDATE, "cord-1",
             "{\"label\": \"拉绳: 卫生间\", \"bus\": \"b1\", \"address\": 2, \"profile\": "
             "\"pull-cord\", \"room\": \"101\", \"poll_ms\": 250}");
    char *text = slurp(fx->path);
    const char *block = "      y: [2, 3]}}   # keep me\n"
                        "  - id: cord-1\n"
                        "    label: \"拉绳: 卫生间\"\n"
                        "    bus: b1\n"
                        "    address: 2\n"
                        "    profile: pull-cord\n"
                        "    room: \"101\"\n"
                        "    poll_ms: 250\n"
                        "    settings:\n"
                        "      # driver settings stay as written\n"
                        "      latch: true\n"
                        "  # after the block item\n";
    if (!strstr(text, block))
        print_message("# got:\n%s\n", text);
    assert_non_null(strstr(text, block));
    free(text);
    struct wg_config *config = load(fx->path);
    const struct wg_device *cord = &config->devices[config_find_device(config, "cord-1")];
    assert_string_equal(cord->label, "拉绳: 卫生间");
    assert_int_equal(cord->poll_ms, 250);
    assert_string_equal(cfg_scalar(cfg_get(cord->settings, "latch")), "true");
    config_free(config);

    char *before = slurp(fx->path);
    apply_ok(fx, WG_EDIT_DEVICE_DELETE, "cord-1", NULL);
    text = slurp(fx->path);
    const char *start = strstr(before, "  - id: cord-1\n");
    const char *end = strstr(before, "  # after the block item\n");
    assert_non_null(start);
    assert_non_null(end);
    assert_int_equal(strlen(text), strlen(before) - (size_t)(end - start));
    assert_memory_equal(text, before, (size_t)(start - before));
    assert_string_equal(text + (start - before), end);
    free(text);
    free(before);

    /* A flow item with a comment on its line: both go, the next comment stays. */
    apply_ok(fx, WG_EDIT_DEVICE_DELETE, "lamp-1", NULL);
    text = slurp(fx->path);
    assert_null(strstr(text, "lamp"));
    assert_non_null(strstr(text, "  # after the block item\n# end of devices\nweb:"));
    free(text);
    config = load(fx->path);
    assert_int_equal(config->device_count, 1);
    config_free(config);
}

static void test_block_item_add_follows_style(void **state)
{
    struct fixture *fx = *state;
    /* Make the last device block-style, then add after it. */
    apply_ok(fx, WG_EDIT_DEVICE_DELETE, "lamp-1", NULL);
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL,
             "{\"id\": \"cord-2\", \"bus\": \"b1\", \"address\": 4, \"profile\": \"pull-cord\", "
             "\"room\": \"101\"}");
    char *text = slurp(fx->path);
    const char *expected = "    room: \"101\"\n"
                           "  - id: cord-2\n"
                           "    bus: b1\n"
                           "    address: 4\n"
                           "    profile: pull-cord\n"
                           "    room: \"101\"\n"
                           "  # after the block item\n";
    if (!strstr(text, expected))
        print_message("# got:\n%s\n", text);
    assert_non_null(strstr(text, expected));
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->device_count, 3);
    config_free(config);
}

static void test_small_room_beds_block_styles(void **state)
{
    struct fixture *fx = *state;
    apply_ok(fx, WG_EDIT_ROOM_BEDS, "102", "{\"beds\": [\"A\", \"B\"]}");
    apply_ok(fx, WG_EDIT_ROOM_BEDS, "store", "{\"beds\": [\"S1\"]}");
    char *text = slurp(fx->path);
    assert_non_null(strstr(text, "      - id: \"102\"\n"
                                 "        beds: [A, B]\n"
                                 "      - id: store\n"
                                 "        kind: common\n"
                                 "        beds: [S1]\n"
                                 "      - {id: hall, kind: corridor}\n"));
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_not_equal(config_find_bed(config, "102-B"), WG_NO_INDEX);
    assert_int_not_equal(config_find_bed(config, "store-S1"), WG_NO_INDEX);
    config_free(config);
}

/* Writes the small site with its devices section replaced by `devices`. */
static void rewrite_devices(struct fixture *fx, const char *devices)
{
    char *site = NULL;
    assert_true(asprintf(&site, small_site, test_root()) > 0);
    char *start = strstr(site, "devices:\n");
    char *end = strstr(site, "# end of devices\n");
    assert_non_null(start);
    assert_non_null(end);
    char *text = NULL;
    assert_true(asprintf(&text, "%.*s%s%s", (int)(start - site), site, devices,
                         end + strlen("# end of devices\n")) > 0);
    free(site);
    char *path = test_write_file(fx->dir, "site.yaml", text);
    assert_non_null(path);
    free(path);
    free(fx->original);
    fx->original = text;
}

static void test_empty_and_missing_lists(void **state)
{
    struct fixture *fx = *state;
    static const char device[] =
        "{\"id\": \"d1\", \"bus\": \"b1\", \"address\": 9, \"profile\": \"call-point\"}";
    static const char line[] = "  - {id: d1, bus: b1, address: 9, profile: call-point}\n";

    rewrite_devices(fx, "devices: []   # none yet\n");
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL, device);
    char *text = slurp(fx->path), *expected = NULL;
    assert_true(asprintf(&expected, "devices:   # none yet\n%sweb:", line) > 0);
    assert_non_null(strstr(text, expected));
    free(expected);
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->device_count, 1);
    config_free(config);

    rewrite_devices(fx, "devices:\n  # all gone\n");
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL, device);
    text = slurp(fx->path);
    assert_true(asprintf(&expected, "devices:\n%s  # all gone\nweb:", line) > 0);
    assert_non_null(strstr(text, expected));
    free(expected);
    free(text);
    config = load(fx->path);
    assert_int_equal(config->device_count, 1);
    config_free(config);

    rewrite_devices(fx, "");
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL, device);
    text = slurp(fx->path);
    assert_true(asprintf(&expected, "web: {enabled: false}\ndevices:\n%s", line) > 0);
    assert_int_equal(strcmp(text + strlen(text) - strlen(expected), expected), 0);
    free(expected);
    free(text);
    config = load(fx->path);
    assert_int_equal(config->device_count, 1);
    config_free(config);
}

static void test_flow_list(void **state)
{
    struct fixture *fx = *state;
    rewrite_devices(fx, "devices: [{id: a, bus: b1, address: 1, profile: call-point}, {id: b, "
                        "bus: b1, address: 2, profile: call-point}]\n");
    apply_ok(fx, WG_EDIT_DEVICE_DELETE, "a", NULL);
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL,
             "{\"id\": \"c\", \"bus\": \"b1\", \"address\": 3, \"profile\": \"call-point\"}");
    apply_ok(fx, WG_EDIT_DEVICE_UPDATE, "b",
             "{\"bus\": \"b1\", \"address\": 5, \"profile\": \"call-point\"}");
    char *text = slurp(fx->path);
    assert_non_null(strstr(text, "devices: [{id: b, bus: b1, address: 5, profile: call-point}, "
                                 "{id: c, bus: b1, address: 3, profile: call-point}]\nweb:"));
    free(text);
    apply_ok(fx, WG_EDIT_DEVICE_DELETE, "c", NULL);
    apply_ok(fx, WG_EDIT_DEVICE_DELETE, "b", NULL);
    text = slurp(fx->path);
    assert_non_null(strstr(text, "devices: []\nweb:"));
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->device_count, 0);
    config_free(config);
}

static void test_crlf_file(void **state)
{
    struct fixture *fx = *state;
    struct {
        char *data;
        size_t length;
    } crlf = {NULL, 0};
    FILE *memory = open_memstream(&crlf.data, &crlf.length);
    assert_non_null(memory);
    for (const char *p = fx->original; *p; p++) {
        if (*p == '\n')
            fputc('\r', memory);
        fputc(*p, memory);
    }
    fclose(memory);
    char *path = test_write_file(fx->dir, "site.yaml", crlf.data);
    free(path);
    apply_ok(fx, WG_EDIT_DEVICE_ADD, NULL,
             "{\"id\": \"d9\", \"bus\": \"b1\", \"address\": 9, \"profile\": \"call-point\"}");
    char *text = slurp(fx->path);
    assert_non_null(strstr(text, "# lamp comment\r\n  - {id: d9, bus: b1, address: 9, profile: "
                                 "call-point}\r\n# end of devices\r\n"));
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->device_count, 4);
    config_free(config);
    free(crlf.data);
}

/* A comment after a block item's last line must not join a block scalar
 * that moved to the end. */
static void test_block_item_trailing_comment(void **state)
{
    struct fixture *fx = *state;
    rewrite_devices(fx, "devices:\n"
                        "  - id: s-1\n"
                        "    bus: b1\n"
                        "    settings:\n"
                        "      script: |\n"
                        "        line one\n"
                        "    address: 5\n"
                        "    profile: call-point   # trailing\n"
                        "# end\n");
    apply_ok(fx, WG_EDIT_DEVICE_UPDATE, "s-1",
             "{\"bus\": \"b1\", \"address\": 6, \"profile\": \"call-point\"}");
    char *text = slurp(fx->path);
    const char *expected = "devices:\n"
                           "  - id: s-1\n"
                           "    bus: b1\n"
                           "    address: 6\n"
                           "    profile: call-point\n"
                           "    settings:\n"
                           "      script: |\n"
                           "        line one\n"
                           "    # trailing\n"
                           "# end\n";
    if (!strstr(text, expected))
        print_message("# got:\n%s\n", text);
    assert_non_null(strstr(text, expected));
    free(text);
    struct wg_config *config = load(fx->path);
    const struct wg_device *device = &config->devices[config_find_device(config, "s-1")];
    assert_string_equal(cfg_scalar(cfg_get(device->settings, "script")), "line one\n");
    assert_int_equal(device->address, 6);
    config_free(config);
}

/* A UTF-8 byte order mark: byte offsets still match. */
static void test_byte_order_mark(void **state)
{
    struct fixture *fx = *state;
    char *text = NULL;
    assert_true(asprintf(&text, "\xEF\xBB\xBF%s", fx->original) > 0);
    char *path = test_write_file(fx->dir, "site.yaml", text);
    free(path);
    size_t from = 0, to = 0;
    item_range(text, "devices", "lamp-1", &from, &to);
    assert_int_equal(strncmp(text + from, "{id: lamp-1,", 12), 0);
    apply_ok(fx, WG_EDIT_DEVICE_UPDATE, "lamp-1",
             "{\"label\": \"门灯\", \"bus\": \"b1\", \"address\": 3, \"profile\": \"door-lamp\"}");
    char *changed = slurp(fx->path);
    assert_only_range_changed(text, changed, from, to,
                              "{id: lamp-1, label: 门灯, bus: b1, address: 3, profile: door-lamp}");
    free(changed);
    free(text);
    struct wg_config *config = load(fx->path);
    assert_int_equal(config->device_count, 3);
    config_free(config);
}

static void test_file_problems(void **state)
{
    struct fixture *fx = *state;
    static const char body[] =
        "{\"id\": \"d9\", \"bus\": \"b1\", \"address\": 9, \"profile\": \"call-point\"}";
    char *link_path = NULL, *missing = NULL;
    assert_true(asprintf(&link_path, "%s/link.yaml", fx->dir) > 0);
    assert_int_equal(symlink(fx->path, link_path), 0);
    json_t *value = json(body);
    struct wg_edit_result result;
    assert_int_equal(config_edit_apply(link_path, WG_EDIT_DEVICE_ADD, NULL, value, &result), -1);
    assert_int_equal(result.status, 500);
    assert_non_null(strstr(result.error, link_path));
    assert_non_null(strstr(result.error, "symbolic link"));
    config_edit_result_free(&result);

    assert_true(asprintf(&missing, "%s/missing.yaml", fx->dir) > 0);
    assert_int_equal(config_edit_apply(missing, WG_EDIT_DEVICE_ADD, NULL, value, &result), -1);
    assert_int_equal(result.status, 500);
    assert_non_null(strstr(result.error, missing));
    assert_non_null(strstr(result.error, strerror(ENOENT)));
    config_edit_result_free(&result);

    /* A file that is not YAML any more. */
    char *broken = test_write_file(fx->dir, "site.yaml", "site: {id: x\n");
    free(broken);
    assert_int_equal(config_edit_apply(fx->path, WG_EDIT_DEVICE_ADD, NULL, value, &result), -1);
    assert_int_equal(result.status, 500);
    assert_true(result.details.count >= 1);
    config_edit_result_free(&result);

    /* Read-only: root may write anything, so only checked as another user. */
    if (geteuid() != 0) {
        char *path = test_write_file(fx->dir, "site.yaml", fx->original);
        free(path);
        assert_int_equal(chmod(fx->path, 0444), 0);
        assert_int_equal(config_edit_apply(fx->path, WG_EDIT_DEVICE_ADD, NULL, value, &result), -1);
        assert_int_equal(result.status, 500);
        assert_non_null(strstr(result.error, fx->path));
        assert_non_null(strstr(result.error, strerror(EACCES)));
        config_edit_result_free(&result);
    }
    assert_int_equal(leftovers(fx->dir), 0);
    json_decref(value);
    free(missing);
    free(link_path);
}

/* The transformation alone, and the mode of the replaced file. */
static void test_text_only_and_mode(void **state)
{
    struct fixture *fx = *state;
    json_t *value = json("{\"beds\": [\"A\", \"B\", \"C\"]}");
    struct wg_edit_result result;
    char *text = config_edit_text("x.yaml", fx->original, WG_EDIT_ROOM_BEDS, "101", value, &result);
    assert_non_null(text);
    assert_int_equal(result.status, 200);
    assert_non_null(strstr(text, "{id: \"101\", beds: [A, B, C]}"));
    config_edit_result_free(&result);
    free(text);
    assert_null(
        config_edit_text("x.yaml", fx->original, WG_EDIT_ROOM_BEDS, "nope", value, &result));
    assert_int_equal(result.status, 404);
    config_edit_result_free(&result);

    assert_int_equal(chmod(fx->path, 0640), 0);
    assert_int_equal(config_edit_apply(fx->path, WG_EDIT_ROOM_BEDS, "101", value, &result), 0);
    config_edit_result_free(&result);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    json_decref(value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_update_device_changes_only_its_node, facility_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_add_and_delete_device, facility_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_residents, facility_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_room_beds, facility_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_own_values_change_nothing, facility_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_change_nothing, facility_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_restore_puts_the_previous_back, facility_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_prev_is_the_previous_version, facility_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_strings_round_trip, small_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_flow_item_keeps_other_keys, small_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_block_item_update_and_delete, small_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_block_item_add_follows_style, small_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_small_room_beds_block_styles, small_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_missing_lists, small_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_flow_list, small_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_crlf_file, small_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_block_item_trailing_comment, small_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_byte_order_mark, small_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_file_problems, small_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_text_only_and_mode, small_setup, fixture_teardown),
    };
    return cmocka_run_group_tests_name("config_edit", tests, NULL, NULL);
}
