/* Unit tests of the SQLite store (gateway/store/store_*.c) and event ids: schema and
 * migrations, journal, outbox, alarms, readings, audit, the size bound, and
 * the failure modes (locked, corrupt, unwritable, disk full, bad input). */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "store/migrations.h"
#include "common/log.h"
#include "store/store.h"

#define DAY_MS (24LL * 3600 * 1000)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct wg_store_options default_options(const char *path)
{
    return (struct wg_store_options){
        .path = path,
        .max_bytes = 0,
        .readings_bucket_s = 60,
        .readings_retention_days = 30,
        .events_retention_days = 7,
        .busy_timeout_ms = 200,
    };
}

static struct wg_store *open_ok(const struct wg_store_options *options)
{
    enum wg_store_status status = WG_STORE_IO;
    char err[512] = "unset";
    struct wg_store *store = store_open(options, &status, err, sizeof err);
    if (!store)
        fail_msg("store_open(%s): %s", options->path, err);
    assert_int_equal(status, WG_STORE_OK);
    return store;
}

static struct wg_store *open_default(const char *path)
{
    struct wg_store_options options = default_options(path);
    return open_ok(&options);
}

/* A raw second connection, as another process would have. */
static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
}

static struct wg_event make_event(const char *kind, enum wg_uplink_class uplink, int64_t ts_ms,
                                  const char *body)
{
    struct wg_event event = {
        .ts_ms = ts_ms,
        .kind = kind,
        .priority = -1,
        .body = body,
        .uplink = uplink,
    };
    event_new_id(&event);
    return event;
}

static void append_ok(struct wg_store *store, struct wg_event *event)
{
    if (store_append_event(store, event) != 0)
        fail_msg("append: %s", store_last_error(store));
}

/* Reads a whole file; *len gets its size. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    unsigned char *data = malloc((size_t)size + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return data;
}

/* ---- event ids -------------------------------------------------------- */

static void test_event_ids_are_uuid_v4(void **state)
{
    (void)state;
    char seen[200][37];
    for (int i = 0; i < 200; i++) {
        struct wg_event event = {0};
        event_new_id(&event);
        assert_int_equal(strlen(event.id), 36);
        for (int c = 0; c < 36; c++) {
            if (c == 8 || c == 13 || c == 18 || c == 23)
                assert_int_equal(event.id[c], '-');
            else
                assert_non_null(strchr("0123456789abcdef", event.id[c]));
        }
        assert_int_equal(event.id[14], '4');
        assert_non_null(strchr("89ab", event.id[19]));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], event.id);
        memcpy(seen[i], event.id, sizeof seen[i]);
    }
}

/* ---- migrations ------------------------------------------------------- */

static void test_fresh_db_is_at_latest_version(void **state)
{
    struct test_db_dir *fx = *state;
    size_t known = 0;
    const struct wg_migration *migrations = migrations_list(&known);
    assert_true(known >= 1);
    for (size_t i = 0; i < known; i++)
        assert_int_equal(migrations[i].version, (int)i + 1);

    struct wg_store *store = open_default(fx->path);
    assert_int_equal(store_schema_version(store), (int)known);
    assert_int_equal(store_event_count(store), 0);
    assert_int_equal(store_last_event_seq(store), 0);

    sqlite3 *db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations"), (int64_t)known);
    assert_true(raw_int(db, "SELECT min(applied_ms) FROM migrations") > 1600000000000LL);
    assert_int_equal(raw_int(db, "PRAGMA application_id"), WG_STORE_APPLICATION_ID);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    store_close(store);
}

static void test_reopen_applies_nothing(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    store_close(store);
    sqlite3 *db = raw_open(fx->path);
    int64_t rows = raw_int(db, "SELECT count(*) FROM migrations");
    int64_t stamp = raw_int(db, "SELECT sum(applied_ms) FROM migrations");
    sqlite3_close(db);

    struct timespec pause = {0, 5 * 1000 * 1000};
    nanosleep(&pause, NULL);
    store = open_default(fx->path);
    store_close(store);
    db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM migrations"), rows);
    assert_int_equal(raw_int(db, "SELECT sum(applied_ms) FROM migrations"), stamp);
    sqlite3_close(db);
}

/* A database made by version 6 (readings keyed by device first) keeps its
 * readings through migration 7, which puts them in time order. */
static void test_migration_7_keeps_readings_in_time_order(void **state)
{
    struct test_db_dir *fx = *state;
    size_t known = 0;
    const struct wg_migration *migrations = migrations_list(&known);
    assert_true(known >= 7);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d", WG_STORE_APPLICATION_ID);
    raw_exec(db, pragma);
    for (size_t i = 0; i < 6; i++) {
        raw_exec(db, migrations[i].sql);
        char record[128];
        snprintf(record, sizeof record,
                 "INSERT INTO migrations (version, name, applied_ms) VALUES (%d, 'v', 1)",
                 migrations[i].version);
        raw_exec(db, record);
    }
    raw_exec(db, "INSERT INTO readings (device, point, bucket_ms, n, min, max, sum, last, last_ms) "
                 "VALUES ('m2', 'kw', 120000, 2, 1, 3, 4, 3, 120500), "
                 "('m1', 'kw', 60000, 1, 5, 5, 5, 5, 60100), "
                 "('m1', 'kwh', 0, 3, 7, 9, 24, 9, 900)");
    sqlite3_close(db);

    struct wg_store *store = open_default(fx->path);
    assert_int_equal(store_schema_version(store), (int)known);
    /* The upsert still finds an existing row by its key. */
    assert_int_equal(store_add_reading(store, "m1", "kw", 60200, 1.0), 0);
    store_close(store);

    db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM readings"), 3);
    assert_int_equal(raw_int(db, "SELECT n FROM readings WHERE device = 'm1' AND point = 'kw'"), 2);
    assert_int_equal(raw_int(db, "SELECT sum(n) FROM readings"), 7);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'readings' AND "
                                 "sql LIKE '%PRIMARY KEY (bucket_ms, device, point)%'"),
                     1);
    assert_int_equal(
        raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'readings_by_bucket'"), 0);
    /* Stored in key order: the first row is the oldest bucket. */
    assert_int_equal(raw_int(db, "SELECT bucket_ms FROM readings LIMIT 1"), 0);
    sqlite3_close(db);
}

static void test_future_version_is_refused(void **state)
{
    struct test_db_dir *fx = *state;
    store_close(open_default(fx->path));
    sqlite3 *db = raw_open(fx->path);
    raw_exec(db, "INSERT INTO migrations VALUES (999, 'from the future', 1)");
    sqlite3_close(db);
    size_t before_len = 0, after_len = 0;
    unsigned char *before = slurp(fx->path, &before_len);

    struct wg_store_options options = default_options(fx->path);
    enum wg_store_status status = WG_STORE_OK;
    char err[512] = "";
    assert_null(store_open(&options, &status, err, sizeof err));
    assert_int_equal(status, WG_STORE_IO);
    assert_non_null(strstr(err, fx->path));
    assert_non_null(strstr(err, "schema version 999"));
    assert_non_null(strstr(err, "never downgraded"));

    unsigned char *after = slurp(fx->path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
}

/* ---- journal ---------------------------------------------------------- */

struct collected {
    int count;
    int64_t seqs[64];
    char ids[64][37];
    char bodies[64][64];
};

static int collect_event(const struct wg_event_row *row, void *ctx)
{
    struct collected *c = ctx;
    if (c->count < 64) {
        c->seqs[c->count] = row->seq;
        snprintf(c->ids[c->count], sizeof c->ids[0], "%s", row->id);
        snprintf(c->bodies[c->count], sizeof c->bodies[0], "%s", row->body);
    }
    c->count++;
    return 0;
}

static void test_append_and_read_back(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    struct wg_event events[10];
    char bodies[10][32];
    int64_t t0 = now_ms();
    assert_int_equal(store_begin(store), 0);
    for (int i = 0; i < 10; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"n\":%d}", i);
        events[i] = make_event("point", (enum wg_uplink_class)(i % 4), t0 + i, bodies[i]);
        events[i].device = "meter-1";
        append_ok(store, &events[i]);
        assert_int_equal(events[i].seq, i + 1);
    }
    assert_int_equal(store_commit(store), 0);

    assert_int_equal(store_event_count(store), 10);
    assert_int_equal(store_last_event_seq(store), 10);
    struct collected all = {0};
    assert_int_equal(store_events_since(store, 0, 0, collect_event, &all), 0);
    assert_int_equal(all.count, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(all.seqs[i], i + 1);
        assert_string_equal(all.ids[i], events[i].id);
        assert_string_equal(all.bodies[i], bodies[i]);
    }
    struct collected some = {0};
    assert_int_equal(store_events_since(store, 5, 3, collect_event, &some), 0);
    assert_int_equal(some.count, 3);
    assert_int_equal(some.seqs[0], 6);
    assert_int_equal(some.seqs[2], 8);

    /* An append outside a batch commits on its own; an empty id is filled in. */
    struct wg_event single = {.ts_ms = t0, .kind = "system", .priority = -1, .body = "{}"};
    append_ok(store, &single);
    assert_int_equal(single.seq, 11);
    assert_int_equal(strlen(single.id), 36);
    store_close(store);

    store = open_default(fx->path);
    assert_int_equal(store_event_count(store), 11);
    store_close(store);
}

static void test_update_forbidden_by_trigger(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    struct wg_event event = make_event("alarm", WG_UPLINK_ALARM, now_ms(), "{}");
    append_ok(store, &event);
    store_close(store);

    sqlite3 *db = raw_open(fx->path);
    char *msg = NULL;
    int rc = sqlite3_exec(db, "UPDATE events SET kind = 'tampered'", NULL, NULL, &msg);
    assert_int_equal(rc, SQLITE_CONSTRAINT);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "append-only"));
    sqlite3_free(msg);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE kind = 'alarm'"), 1);
    sqlite3_close(db);
}

static void test_batch_survives_a_refused_append(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    int64_t t = now_ms();
    struct wg_event good1 = make_event("point", WG_UPLINK_TELEMETRY, t, "{\"v\":1}");
    struct wg_event bad = make_event("point", WG_UPLINK_ALARM, t, "{\"v\":");
    struct wg_event not_object = make_event("point", WG_UPLINK_ALARM, t, "[1,2]");
    struct wg_event good2 = make_event("point", WG_UPLINK_ALARM, t, "{\"v\":2}");

    assert_int_equal(store_begin(store), 0);
    append_ok(store, &good1);
    assert_int_equal(store_append_event(store, &bad), -1);
    assert_int_equal(store_last_status(store), WG_STORE_REFUSED);
    assert_non_null(strstr(store_last_error(store), "not a JSON object"));
    assert_non_null(strstr(store_last_error(store), bad.id));
    assert_int_equal(store_append_event(store, &not_object), -1);
    assert_non_null(strstr(store_last_error(store), "not an object"));
    struct wg_event duplicate = good1;
    assert_int_equal(store_append_event(store, &duplicate), -1);
    assert_non_null(strstr(store_last_error(store), "already in the journal"));
    append_ok(store, &good2);
    assert_int_equal(store_commit(store), 0);
    assert_int_equal(store_last_status(store), WG_STORE_OK);

    assert_int_equal(good1.seq, 1);
    assert_int_equal(good2.seq, 2);
    assert_int_equal(store_event_count(store), 2);
    assert_int_equal(store_outbox_count(store), 2);

    /* Outside a batch: refused, nothing stored. */
    assert_int_equal(store_append_event(store, &bad), -1);
    assert_int_equal(store_event_count(store), 2);
    store_close(store);
}

/* ---- outbox ----------------------------------------------------------- */

struct outbox_seen {
    int count;
    int64_t seqs[16];
    int classes[16];
    char *payloads[16];
    int64_t bytes;
    struct wg_store *delete_from; /* delete each row as it is seen */
};

static int collect_outbox(const struct wg_outbox_row *row, void *ctx)
{
    struct outbox_seen *seen = ctx;
    if (seen->count < 16) {
        seen->seqs[seen->count] = row->seq;
        seen->classes[seen->count] = row->uplink_class;
        seen->payloads[seen->count] = strndup(row->payload, row->payload_len);
    }
    seen->bytes += (int64_t)row->payload_len;
    seen->count++;
    if (seen->delete_from && store_outbox_delete(seen->delete_from, row->seq) != 0)
        fail_msg("delete in callback: %s", store_last_error(seen->delete_from));
    return 0;
}

static void free_seen(struct outbox_seen *seen)
{
    for (int i = 0; i < seen->count && i < 16; i++)
        free(seen->payloads[i]);
    memset(seen, 0, sizeof *seen);
}

static void test_outbox_for_uplink_events_only(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    int64_t ts = 1714564800250LL; /* 2024-05-01T12:00:00.250Z */
    struct wg_event journal_only = make_event("point", WG_UPLINK_NONE, ts, "{}");
    struct wg_event alarm = make_event("alarm", WG_UPLINK_ALARM, ts, "{\"state\":\"raised\"}");
    alarm.priority = 1;
    alarm.alarm_id = "A-17";
    alarm.device = "cord-203";
    alarm.zone = "east";
    alarm.room = "203";
    alarm.bed = "2";
    alarm.resident = "r-9f3";
    struct wg_event health = make_event("device_health", WG_UPLINK_HEALTH, ts + 1, "{}");
    struct wg_event telemetry =
        make_event("point", WG_UPLINK_TELEMETRY, ts + 2, "{\"kwh\":12.50,\"n\":[1,2]}");
    assert_int_equal(store_begin(store), 0);
    append_ok(store, &journal_only);
    append_ok(store, &alarm);
    append_ok(store, &health);
    append_ok(store, &telemetry);
    assert_int_equal(store_commit(store), 0);

    assert_int_equal(store_outbox_count(store), 3);
    struct outbox_seen seen = {0};
    assert_int_equal(store_outbox_peek(store, 0, 10, collect_outbox, &seen), 0);
    assert_int_equal(seen.count, 3);
    assert_true(seen.seqs[0] < seen.seqs[1] && seen.seqs[1] < seen.seqs[2]);
    assert_int_equal(seen.classes[0], WG_UPLINK_ALARM);
    assert_int_equal(seen.classes[1], WG_UPLINK_HEALTH);
    assert_int_equal(seen.classes[2], WG_UPLINK_TELEMETRY);
    assert_int_equal(store_outbox_bytes(store), seen.bytes);

    /* The alarm payload carries every field and the body as "data". */
    json_error_t error;
    json_t *payload = json_loads(seen.payloads[0], 0, &error);
    assert_non_null(payload);
    assert_string_equal(json_string_value(json_object_get(payload, "id")), alarm.id);
    assert_int_equal(json_integer_value(json_object_get(payload, "seq")), alarm.seq);
    assert_string_equal(json_string_value(json_object_get(payload, "ts")),
                        "2024-05-01T12:00:00.250Z");
    assert_int_equal(json_integer_value(json_object_get(payload, "ts_ms")), ts);
    assert_string_equal(json_string_value(json_object_get(payload, "kind")), "alarm");
    assert_int_equal(json_integer_value(json_object_get(payload, "priority")), 1);
    assert_string_equal(json_string_value(json_object_get(payload, "alarm_id")), "A-17");
    assert_string_equal(json_string_value(json_object_get(payload, "device")), "cord-203");
    assert_string_equal(json_string_value(json_object_get(payload, "zone")), "east");
    assert_string_equal(json_string_value(json_object_get(payload, "room")), "203");
    assert_string_equal(json_string_value(json_object_get(payload, "bed")), "2");
    assert_string_equal(json_string_value(json_object_get(payload, "resident")), "r-9f3");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(payload, "data"), "state")), "raised");
    json_decref(payload);
    /* Absent fields are left out; the body's numbers arrive as written. */
    payload = json_loads(seen.payloads[1], 0, &error);
    assert_non_null(payload);
    assert_null(json_object_get(payload, "priority"));
    assert_null(json_object_get(payload, "room"));
    json_decref(payload);
    assert_non_null(strstr(seen.payloads[2], "\"data\":{\"kwh\":12.50,\"n\":[1,2]}"));
    int64_t first = seen.seqs[0], second = seen.seqs[1], third = seen.seqs[2];
    free_seen(&seen);

    /* Peek after a seq, with a limit; delete acknowledges. */
    assert_int_equal(store_outbox_peek(store, first, 1, collect_outbox, &seen), 0);
    assert_int_equal(seen.count, 1);
    assert_int_equal(seen.seqs[0], second);
    free_seen(&seen);
    assert_int_equal(store_outbox_delete(store, second), 0);
    assert_int_equal(store_outbox_count(store), 2);
    assert_int_equal(store_outbox_peek(store, 0, 10, collect_outbox, &seen), 0);
    assert_int_equal(seen.count, 2);
    assert_int_equal(seen.seqs[0], first);
    assert_int_equal(seen.seqs[1], third);
    free_seen(&seen);

    /* The uplink may delete from inside the callback (PUBACK on the same thread). */
    seen.delete_from = store;
    assert_int_equal(store_outbox_peek(store, 0, 10, collect_outbox, &seen), 0);
    assert_int_equal(seen.count, 2);
    free_seen(&seen);
    assert_int_equal(store_outbox_count(store), 0);
    assert_int_equal(store_outbox_bytes(store), 0);

    /* Seqs are never reused after the queue empties. */
    struct wg_event later = make_event("alarm", WG_UPLINK_ALARM, ts, "{}");
    append_ok(store, &later);
    assert_int_equal(store_outbox_peek(store, 0, 10, collect_outbox, &seen), 0);
    assert_int_equal(seen.count, 1);
    assert_true(seen.seqs[0] > third);
    free_seen(&seen);
    /* The journal keeps all four events. */
    assert_int_equal(store_event_count(store), 5);
    store_close(store);
}

/* ---- alarms ----------------------------------------------------------- */

struct alarm_seen {
    int count;
    int stop_after;
    char ids[8][16];
    char states[8][16];
    int64_t update_counts[8];
};

static int collect_alarm(const struct wg_alarm_row *alarm, void *ctx)
{
    struct alarm_seen *seen = ctx;
    if (seen->count < 8) {
        snprintf(seen->ids[seen->count], sizeof seen->ids[0], "%s", alarm->id);
        snprintf(seen->states[seen->count], sizeof seen->states[0], "%s", alarm->state);
        seen->update_counts[seen->count] = alarm->update_count;
    }
    seen->count++;
    return seen->stop_after && seen->count >= seen->stop_after;
}

static void test_alarm_put_foreach_delete(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    struct wg_alarm_row rows[] = {
        {"A-1", 1, "raised", 2, "call", "{\"room\":\"101\"}", 1000},
        {"A-2", 1, "raised", 0, "fire", "{}", 1001},
        {"A-3", 1, "raised", 3, "call", "{}", 1002},
    };
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(store_alarm_put(store, &rows[i]), 0);
    struct wg_alarm_row update = {"A-1", 2, "acknowledged", 2, "call", "{\"by\":\"n1\"}", 2000};
    assert_int_equal(store_alarm_put(store, &update), 0);

    struct alarm_seen seen = {0};
    assert_int_equal(store_alarm_foreach(store, collect_alarm, &seen), 0);
    assert_int_equal(seen.count, 3);
    assert_string_equal(seen.ids[0], "A-2"); /* highest priority (fire = 0) first */
    assert_string_equal(seen.ids[1], "A-1");
    assert_string_equal(seen.states[1], "acknowledged");
    assert_int_equal(seen.update_counts[1], 2);

    struct alarm_seen first_only = {.stop_after = 1};
    assert_int_equal(store_alarm_foreach(store, collect_alarm, &first_only), 0);
    assert_int_equal(first_only.count, 1);

    assert_int_equal(store_alarm_delete(store, "A-2"), 0);
    struct wg_alarm_row bad_state = {"A-9", 1, "silenced", 2, "call", "{}", 1};
    assert_int_equal(store_alarm_put(store, &bad_state), -1);
    assert_non_null(strstr(store_last_error(store), "silenced"));
    struct wg_alarm_row bad_body = {"A-9", 1, "raised", 2, "call", "{oops", 1};
    assert_int_equal(store_alarm_put(store, &bad_body), -1);
    store_close(store);

    store = open_default(fx->path);
    memset(&seen, 0, sizeof seen);
    assert_int_equal(store_alarm_foreach(store, collect_alarm, &seen), 0);
    assert_int_equal(seen.count, 2);
    assert_string_equal(seen.ids[0], "A-1");
    assert_string_equal(seen.ids[1], "A-3");
    store_close(store);
}

/* ---- readings and audit ----------------------------------------------- */

static void test_readings_aggregate_into_buckets(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path); /* 60 s buckets */
    int64_t base = 1714564800000LL;                  /* a whole minute */
    assert_int_equal(store_begin(store), 0);
    assert_int_equal(store_add_reading(store, "m1", "kw", base + 1000, 5.0), 0);
    assert_int_equal(store_add_reading(store, "m1", "kw", base + 30000, 2.0), 0);
    assert_int_equal(store_add_reading(store, "m1", "kw", base + 59999, 7.0), 0);
    assert_int_equal(store_add_reading(store, "m1", "kw", base + 20000, 100.0), 0); /* late */
    assert_int_equal(store_add_reading(store, "m1", "kw", base + 60000, 1.5), 0);   /* next */
    assert_int_equal(store_add_reading(store, "m1", "kwh", base + 1000, 42.0), 0);
    assert_int_equal(store_add_reading(store, "m2", "kw", base + 1000, -3.0), 0);
    assert_int_equal(store_commit(store), 0);
    assert_int_equal(store_add_reading(store, "m1", "kw", base, NAN), -1);
    assert_non_null(strstr(store_last_error(store), "finite"));
    store_close(store);

    sqlite3 *db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM readings"), 4);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT bucket_ms, n, min, max, sum, last FROM readings "
                                        "WHERE device = 'm1' AND point = 'kw' ORDER BY bucket_ms",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(stmt, 0), base);
    assert_int_equal(sqlite3_column_int64(stmt, 1), 4);
    assert_true(sqlite3_column_double(stmt, 2) == 2.0);
    assert_true(sqlite3_column_double(stmt, 3) == 100.0);
    assert_true(sqlite3_column_double(stmt, 4) == 114.0);
    assert_true(sqlite3_column_double(stmt, 5) == 7.0); /* the latest by time, not by arrival */
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(stmt, 0), base + 60000);
    assert_int_equal(sqlite3_column_int64(stmt, 1), 1);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

static void test_readings_expire_after_retention(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path); /* 30 days */
    int64_t now = now_ms();
    assert_int_equal(store_add_reading(store, "m1", "kw", now - 31 * DAY_MS, 1.0), 0);
    assert_int_equal(store_add_reading(store, "m1", "kw", now - 1000, 1.0), 0);
    assert_int_equal(store_maintain(store, now), 0);
    store_close(store);
    sqlite3 *db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM readings"), 1);
    sqlite3_close(db);
}

static void test_audit_row(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    assert_int_equal(store_audit(store, 1234, "manager:li", "web 10.0.0.5", "device.update",
                                 "meter-3", "{\"field\":\"address\"}"),
                     0);
    assert_int_equal(store_audit(store, 1235, "system", NULL, "startup", NULL, NULL), 0);
    assert_int_equal(store_audit(store, 1236, "x", "y", "z", "t", "not json"), -1);
    assert_non_null(strstr(store_last_error(store), "detail is not a JSON object"));
    store_close(store);
    sqlite3 *db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit"), 2);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM audit WHERE actor = 'manager:li' AND "
                                 "origin = 'web 10.0.0.5' AND action = 'device.update' AND "
                                 "target = 'meter-3' AND detail = '{\"field\":\"address\"}'"),
                     1);
    sqlite3_close(db);
}

/* ---- size bound ------------------------------------------------------- */

static void test_size_bound_evicts_telemetry_keeps_alarms(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store_options options = default_options(fx->path);
    options.max_bytes = 1024 * 1024;
    struct wg_store *store = open_ok(&options);
    int64_t now = now_ms();
    char body[300];
    memset(body, 0, sizeof body);
    snprintf(body, sizeof body, "{\"pad\":\"%0200d\"}", 7);

    /* Alarms first: these must survive everything that follows. */
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "A-%d", i);
        struct wg_alarm_row alarm = {id, 1, "raised", 1, "call", "{}", now};
        assert_int_equal(store_alarm_put(store, &alarm), 0);
    }
    int alarm_events = 0;
    for (int i = 0; i < 20; i++) {
        struct wg_event event = make_event("alarm", WG_UPLINK_ALARM, now, body);
        append_ok(store, &event);
        alarm_events++;
    }
    /* Far more telemetry and readings than fit: old events, recent readings. */
    int telemetry = 0, readings = 0;
    for (int batch = 0; batch < 60; batch++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < 50; i++) {
            struct wg_event event =
                make_event("point", WG_UPLINK_TELEMETRY, now - 10 * DAY_MS + batch, body);
            if (store_append_event(store, &event) != 0)
                fail_msg("telemetry %d/%d: %s", batch, i, store_last_error(store));
            telemetry++;
            char point[16];
            snprintf(point, sizeof point, "p%d", i);
            if (store_add_reading(store, "meter", point, now - (60 - batch) * 60000LL, 1.0) != 0)
                fail_msg("reading %d/%d: %s", batch, i, store_last_error(store));
            readings++;
        }
        assert_int_equal(store_commit(store), 0);
    }
    assert_true(store_size_bytes(store) <= options.max_bytes);
    assert_int_equal(store_maintain(store, now), 0);

    sqlite3 *db = raw_open(fx->path);
    int64_t used = raw_int(db, "SELECT (SELECT page_count FROM pragma_page_count) - "
                               "(SELECT freelist_count FROM pragma_freelist_count)") *
                   4096;
    int64_t readings_left = raw_int(db, "SELECT count(*) FROM readings");
    int64_t telemetry_left = raw_int(db, "SELECT count(*) FROM outbox WHERE class = 3");
    assert_int_equal(raw_int(db, "SELECT count(*) FROM outbox WHERE class = 1"), alarm_events);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM alarms"), 5);
    sqlite3_close(db);
    print_message("# size bound: %d telemetry events and %d readings written into %lld bytes; "
                  "%lld readings and %lld telemetry rows kept, %lld bytes in use\n",
                  telemetry, readings, options.max_bytes, (long long)readings_left,
                  (long long)telemetry_left, (long long)used);
    /* Oldest first: the telemetry, days old, made the room; the readings of
     * the last hour fit once it was gone (their eviction frees whole pages,
     * migration 7), so none of them went. */
    assert_true(telemetry_left < telemetry);
    assert_int_equal(readings_left, readings);
    assert_true(used <= options.max_bytes * 90 / 100);

    /* Now only alarms, far more than fit: never refused; once nothing else
     * is left the oldest alarm events go, the current alarms never. */
    int appended = 0;
    int64_t last_seq = 0;
    for (int batch = 0; batch < 400; batch++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < 10; i++) {
            struct wg_event event = make_event("alarm", WG_UPLINK_ALARM, now + batch, body);
            if (store_append_event(store, &event) != 0)
                fail_msg("alarm %d/%d: %s", batch, i, store_last_error(store));
            last_seq = event.seq;
            appended++;
        }
        assert_int_equal(store_commit(store), 0);
        struct wg_store_eviction evicted = {0};
        assert_int_equal(store_evict(store, 0, &evicted), 0);
    }
    struct wg_store_usage usage;
    assert_int_equal(store_usage(store, &usage), 0);
    assert_true(usage.file_bytes + usage.wal_bytes <= options.max_bytes);
    db = raw_open(fx->path);
    int64_t alarm_rows = raw_int(db, "SELECT count(*) FROM events WHERE kind = 'alarm'");
    assert_true(alarm_rows < appended + alarm_events);
    assert_true(alarm_rows > 0);
    assert_int_equal(raw_int(db, "SELECT max(seq) FROM events"), last_seq); /* the newest kept */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE kind = 'point'"), 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM alarms"), 5);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM outbox WHERE class = 1"), alarm_rows);
    assert_int_equal(raw_int(db, "SELECT rows FROM journal_totals WHERE kind = 'alarm'"),
                     alarm_rows);
    sqlite3_close(db);
    print_message("# size bound: %d alarm events appended into %lld bytes (database %lld, WAL "
                  "%lld): the newest %lld kept\n",
                  appended + alarm_events, options.max_bytes, (long long)usage.file_bytes,
                  (long long)usage.wal_bytes, (long long)alarm_rows);
    store_close(store);
    store = open_ok(&options);
    assert_int_equal(store_outbox_count(store), alarm_rows);
    store_close(store);
}

/* Evidence records (test windows, device tests, handovers, drills) are kept
 * like alarms: of far more point changes than fit, all newer than the
 * records, the oldest are evicted, the records never (retention applies). */
static void test_size_bound_keeps_evidence_like_alarms(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store_options options = default_options(fx->path);
    options.max_bytes = 1024 * 1024;
    struct wg_store *store = open_ok(&options);
    int64_t now = now_ms();
    char body[300];
    snprintf(body, sizeof body, "{\"pad\":\"%0200d\"}", 7);
    static const char *const evidence[] = {"test_mode", "device_test", "handover", "drill"};
    for (int i = 0; i < 20; i++) {
        struct wg_event event =
            make_event(evidence[i % 4], WG_UPLINK_HEALTH, now - 5 * DAY_MS + i, body);
        append_ok(store, &event);
    }
    int points = 0;
    for (int batch = 0; batch < 80; batch++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < 50; i++) {
            struct wg_event event =
                make_event("point", WG_UPLINK_NONE, now - 4 * DAY_MS + batch * 50 + i, body);
            if (store_append_event(store, &event) != 0)
                fail_msg("point %d/%d: %s", batch, i, store_last_error(store));
            points++;
        }
        assert_int_equal(store_commit(store), 0);
        struct wg_store_eviction evicted = {0};
        assert_int_equal(store_evict(store, 0, &evicted), 0);
        assert_int_equal(evicted.rows[WG_EVICT_EVIDENCE], 0);
    }
    assert_int_equal(store_maintain(store, now), 0);
    sqlite3 *db = raw_open(fx->path);
    int64_t points_left = raw_int(db, "SELECT count(*) FROM events WHERE kind = 'point'");
    assert_true(points_left < points); /* the bound was reached */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE kind IN "
                                 "('test_mode', 'device_test', 'handover', 'drill')"),
                     20);
    sqlite3_close(db);
    print_message("# size bound: 20 evidence records 5 days old kept; %lld of %d newer point "
                  "changes kept in %lld bytes\n",
                  (long long)points_left, points, options.max_bytes);
    store_close(store);
}

/* Readings alone, far more than fit: the history is a ring. Each flush of
 * a bucket makes its room by evicting the oldest buckets whole (they are
 * the start of the table, migration 7), the database and its WAL stay
 * within the bound after every flush, and what is left is the newest
 * buckets, complete. */
static void test_size_bound_keeps_the_newest_readings(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store_options options = default_options(fx->path); /* 60 s buckets */
    options.max_bytes = 2 * 1024 * 1024;
    struct wg_store *store = open_ok(&options);
    const int64_t base = 1714564800000LL;
    const int meters = 600, buckets = 80;
    int64_t most = 0;
    for (int bucket = 0; bucket < buckets; bucket++) {
        assert_int_equal(store_begin(store), 0);
        for (int m = 0; m < meters; m++) {
            char device[16];
            snprintf(device, sizeof device, "meter-%03d", m);
            if (store_add_reading(store, device, "kw", base + bucket * 60000LL, m) != 0)
                fail_msg("bucket %d meter %d: %s", bucket, m, store_last_error(store));
        }
        assert_int_equal(store_commit(store), 0);
        struct wg_store_usage usage;
        assert_int_equal(store_usage(store, &usage), 0);
        if (usage.file_bytes + usage.wal_bytes > most)
            most = usage.file_bytes + usage.wal_bytes;
        if (usage.file_bytes + usage.wal_bytes > options.max_bytes)
            fail_msg("bucket %d: database %lld + WAL %lld bytes, over the bound of %lld", bucket,
                     (long long)usage.file_bytes, (long long)usage.wal_bytes,
                     (long long)options.max_bytes);
    }
    store_close(store);
    sqlite3 *db = raw_open(fx->path);
    int64_t left = raw_int(db, "SELECT count(*) FROM readings");
    int64_t oldest = raw_int(db, "SELECT min(bucket_ms) FROM readings");
    int64_t kept = (base + (buckets - 1) * 60000LL - oldest) / 60000 + 1;
    int64_t partial = raw_int(db, "SELECT count(*) FROM (SELECT bucket_ms FROM readings "
                                  "GROUP BY bucket_ms HAVING count(*) <> 600)");
    sqlite3_close(db);
    print_message("# size bound: %d readings in %d buckets into %lld bytes: the newest %lld "
                  "buckets kept (%lld rows, %lld cut by eviction), at most %lld bytes with the "
                  "WAL\n",
                  meters * buckets, buckets, (long long)options.max_bytes, (long long)kept,
                  (long long)left, (long long)partial, (long long)most);
    assert_true(left < meters * buckets);
    assert_true(kept >= 10);
    /* Only the oldest bucket left may be cut (a chunk ends inside it). */
    assert_true(partial <= 1);
    assert_true(left > (kept - 1) * meters);
}

/* Alarms keep their reserved share: a flood of other rows never evicts
 * alarm events that use less than it. */
static void test_size_bound_keeps_the_alarm_share(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store_options options = default_options(fx->path);
    options.max_bytes = 2 * 1024 * 1024;
    struct wg_store *store = open_ok(&options);
    int64_t now = now_ms();
    char body[300];
    snprintf(body, sizeof body, "{\"pad\":\"%0200d\"}", 7);
    int alarms = 0;
    for (int i = 0; i < 300; i++) { /* about a sixth of the bound */
        struct wg_event event = make_event("alarm", WG_UPLINK_ALARM, now - DAY_MS, body);
        append_ok(store, &event);
        alarms++;
    }
    for (int batch = 0; batch < 200; batch++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < 50; i++) {
            const char *kinds[] = {"telemetry", "point", "write_result", "device_health"};
            struct wg_event event = make_event(
                kinds[i % 4], i % 4 == 0 ? WG_UPLINK_TELEMETRY : WG_UPLINK_NONE, now + batch, body);
            if (store_append_event(store, &event) != 0)
                fail_msg("%s: %s", kinds[i % 4], store_last_error(store));
        }
        assert_int_equal(store_commit(store), 0);
        /* As the writer does: evict a quarter of the WAL's share at a time,
         * truncate the WAL when it outgrew its share. */
        struct wg_store_usage usage;
        assert_int_equal(store_usage(store, &usage), 0);
        struct wg_store_eviction evicted = {0};
        assert_int_equal(store_evict(store, usage.wal_budget_bytes / 4, &evicted), 0);
        assert_int_equal(evicted.rows[WG_EVICT_ALARM], 0);
        if (usage.wal_bytes > usage.wal_budget_bytes)
            assert_int_equal(store_checkpoint(store, true, NULL), 0);
    }
    struct wg_store_usage usage;
    assert_int_equal(store_usage(store, &usage), 0);
    sqlite3 *db = raw_open(fx->path);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM events WHERE kind = 'alarm'"), alarms);
    int64_t others = raw_int(db, "SELECT count(*) FROM events WHERE kind != 'alarm'");
    sqlite3_close(db);
    print_message("# alarm share: %d alarm events (about %lld bytes) kept beside %lld newest "
                  "other rows; %lld of %lld bytes in use\n",
                  alarms, (long long)usage.alarm_bytes, (long long)others,
                  (long long)usage.used_bytes, (long long)usage.db_budget_bytes);
    assert_true(others > 0 && others < 10000);
    assert_true(usage.used_bytes - usage.alarm_bytes <= usage.db_budget_bytes * 80 / 100);
    assert_true(usage.file_bytes + usage.wal_bytes <= options.max_bytes);
    store_close(store);
}

/* ---- failure modes ---------------------------------------------------- */

static void test_locked_database(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path); /* busy timeout 200 ms */
    sqlite3 *other = raw_open(fx->path);
    raw_exec(other, "BEGIN IMMEDIATE");

    assert_int_equal(store_begin(store), -1);
    assert_int_equal(store_last_status(store), WG_STORE_LOCKED);
    char expected[600];
    snprintf(expected, sizeof expected, "database %s is locked by another process (waited 200 ms)",
             fx->path);
    assert_non_null(strstr(store_last_error(store), expected));

    struct wg_event event = make_event("point", WG_UPLINK_ALARM, now_ms(), "{}");
    assert_int_equal(store_append_event(store, &event), -1);
    assert_int_equal(store_last_status(store), WG_STORE_LOCKED);
    /* Reads go on while another process writes (WAL). */
    assert_int_equal(store_event_count(store), 0);

    raw_exec(other, "COMMIT");
    assert_int_equal(store_begin(store), 0);
    append_ok(store, &event);
    assert_int_equal(store_commit(store), 0);
    assert_int_equal(store_last_status(store), WG_STORE_OK);
    assert_int_equal(store_event_count(store), 1);
    sqlite3_close(other);
    store_close(store);
}

static void expect_corrupt_and_unchanged(const char *path)
{
    size_t before_len = 0, after_len = 0;
    unsigned char *before = slurp(path, &before_len);
    struct wg_store_options options = default_options(path);
    enum wg_store_status status = WG_STORE_OK;
    char err[512] = "";
    assert_null(store_open(&options, &status, err, sizeof err));
    assert_int_equal(status, WG_STORE_CORRUPT);
    assert_non_null(strstr(err, path));
    print_message("# %s\n", err);
    unsigned char *after = slurp(path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
}

static void test_garbage_file_refused_and_unchanged(void **state)
{
    struct test_db_dir *fx = *state;
    char garbage[8192];
    for (size_t i = 0; i < sizeof garbage - 1; i++)
        garbage[i] = (char)('a' + (i * 7919) % 26);
    garbage[sizeof garbage - 1] = '\0';
    char *path = test_write_file(fx->dir, "wardgate.db", garbage);
    assert_non_null(path);
    expect_corrupt_and_unchanged(path);
    free(path);
}

static void test_corrupt_page_refused_and_unchanged(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    for (int batch = 0; batch < 20; batch++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < 50; i++) {
            struct wg_event event = make_event("point", WG_UPLINK_TELEMETRY, now_ms(),
                                               "{\"some\":\"padding to fill pages\"}");
            append_ok(store, &event);
        }
        assert_int_equal(store_commit(store), 0);
    }
    store_close(store);

    sqlite3 *db = raw_open(fx->path);
    int64_t root = raw_int(db, "SELECT rootpage FROM sqlite_schema WHERE name = 'events'");
    sqlite3_close(db);
    assert_true(root > 1);
    int fd = open(fx->path, O_WRONLY);
    assert_true(fd >= 0);
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 131 + 7);
    assert_int_equal(pwrite(fd, junk, sizeof junk, (off_t)(root - 1) * 4096), (ssize_t)4096);
    close(fd);
    expect_corrupt_and_unchanged(fx->path);
}

static void expect_io_error(const char *path, const char *words)
{
    struct wg_store_options options = default_options(path);
    enum wg_store_status status = WG_STORE_OK;
    char err[512] = "";
    assert_null(store_open(&options, &status, err, sizeof err));
    assert_int_equal(status, WG_STORE_IO);
    assert_non_null(strstr(err, path));
    if (!strstr(err, words))
        fail_msg("expected \"%s\" in: %s", words, err);
}

/* Runs store_open as an unprivileged user (root may write anywhere) and
 * returns its status; the message goes to err. */
static enum wg_store_status open_as_nobody(const char *path, char *err, size_t err_len)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(99);
        struct wg_store_options options = default_options(path);
        enum wg_store_status status = WG_STORE_OK;
        char message[512] = "";
        struct wg_store *store = store_open(&options, &status, message, sizeof message);
        store_close(store);
        if (write(fds[1], message, strlen(message)) < 0)
            _exit(98);
        _exit((int)status);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], err, err_len - 1);
    err[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    int wstatus = 0;
    assert_int_equal(waitpid(child, &wstatus, 0), child);
    assert_true(WIFEXITED(wstatus));
    assert_true(WEXITSTATUS(wstatus) < 90);
    return (enum wg_store_status)WEXITSTATUS(wstatus);
}

static void test_unwritable_or_missing_directory(void **state)
{
    struct test_db_dir *fx = *state;
    char *path = NULL;
    assert_true(asprintf(&path, "%s/missing/wardgate.db", fx->dir) > 0);
    expect_io_error(path, "No such file or directory");
    free(path);

    char *file = test_write_file(fx->dir, "plain", "x");
    assert_true(asprintf(&path, "%s/wardgate.db", file) > 0);
    expect_io_error(path, "is not a directory");
    free(path);
    free(file);

    char *locked_dir = NULL;
    assert_true(asprintf(&locked_dir, "%s/readonly", fx->dir) > 0);
    assert_int_equal(mkdir(locked_dir, 0555), 0);
    assert_true(asprintf(&path, "%s/wardgate.db", locked_dir) > 0);
    if (geteuid() == 0) {
        assert_int_equal(chmod(fx->dir, 0755), 0);
        char err[512];
        assert_int_equal(open_as_nobody(path, err, sizeof err), WG_STORE_IO);
        assert_non_null(strstr(err, "is not writable"));
    } else {
        expect_io_error(path, "is not writable");
    }
    free(path);
    free(locked_dir);
}

/* A real full disk, approximated by RLIMIT_FSIZE (writes beyond it fail with
 * EFBIG): a clear error, no crash, and the store works again afterwards. */
static void test_disk_full_reported_and_recovered(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    struct rlimit saved;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_action;
    assert_int_equal(sigaction(SIGXFSZ, &ignore, &old_action), 0);
    struct rlimit small = saved;
    small.rlim_cur = 256 * 1024;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    char body[1200];
    snprintf(body, sizeof body, "{\"pad\":\"%01000d\"}", 1);
    int committed = 0, failures = 0;
    enum wg_store_status failed_status = WG_STORE_OK;
    char message[768] = "";
    for (int batch = 0; batch < 100 && failures == 0; batch++) {
        if (store_begin(store) != 0) {
            failures++;
            break;
        }
        int appended = 0;
        for (int i = 0; i < 20; i++) {
            struct wg_event event = make_event("point", WG_UPLINK_TELEMETRY, now_ms(), body);
            if (store_append_event(store, &event) != 0) {
                failures++;
                break;
            }
            appended++;
        }
        if (failures) {
            failed_status = store_last_status(store);
            snprintf(message, sizeof message, "%s", store_last_error(store));
            store_rollback(store);
        } else if (store_commit(store) != 0) {
            failures++;
            failed_status = store_last_status(store);
            snprintf(message, sizeof message, "%s", store_last_error(store));
        } else {
            committed += appended;
        }
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    assert_int_equal(sigaction(SIGXFSZ, &old_action, NULL), 0);
    assert_int_equal(failures, 1);
    /* RLIMIT_FSIZE is EFBIG, not ENOSPC: disk full or I/O, never the size limit. */
    assert_true(failed_status == WG_STORE_DISK_FULL || failed_status == WG_STORE_IO);
    assert_null(strstr(message, "size limit of"));
    assert_non_null(strstr(message, fx->path));
    print_message("# disk full: %d events committed, then: %s\n", committed, message);

    /* Space again: the store carries on, and everything committed is there. */
    struct wg_event event = make_event("point", WG_UPLINK_ALARM, now_ms(), "{}");
    append_ok(store, &event);
    assert_int_equal(store_event_count(store), committed + 1);
    store_close(store);
    store = open_default(fx->path);
    assert_int_equal(store_event_count(store), committed + 1);
    store_close(store);
}

/* ---- throughput (a measurement, not a timed assertion) ----------------- */

static void test_append_throughput(void **state)
{
    struct test_db_dir *fx = *state;
    struct wg_store *store = open_default(fx->path);
    const int batches = 40, per_batch = 50;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int b = 0; b < batches; b++) {
        assert_int_equal(store_begin(store), 0);
        for (int i = 0; i < per_batch; i++) {
            struct wg_event event = make_event("point", WG_UPLINK_TELEMETRY, now_ms(),
                                               "{\"value\":230.4,\"unit\":\"V\"}");
            event.device = "meter-7";
            append_ok(store, &event);
        }
        assert_int_equal(store_commit(store), 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    print_message("# append: %d events in batches of %d (journal + outbox, synchronous=FULL) "
                  "in %.3f s = %.0f events/s, %.0f commits/s\n",
                  batches * per_batch, per_batch, seconds, batches * per_batch / seconds,
                  batches / seconds);

    clock_gettime(CLOCK_MONOTONIC, &start);
    store_close(store);
    store = open_default(fx->path);
    clock_gettime(CLOCK_MONOTONIC, &end);
    seconds = (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    print_message("# reopen with quick_check of %lld bytes: %.1f ms\n",
                  (long long)store_size_bytes(store), seconds * 1000);
    assert_int_equal(store_event_count(store), batches * per_batch);
    store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_ids_are_uuid_v4),
        cmocka_unit_test_setup_teardown(test_fresh_db_is_at_latest_version, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_applies_nothing, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_migration_7_keeps_readings_in_time_order,
                                        test_db_dir_setup, test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_future_version_is_refused, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_append_and_read_back, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_update_forbidden_by_trigger, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_batch_survives_a_refused_append, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_outbox_for_uplink_events_only, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_alarm_put_foreach_delete, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_readings_aggregate_into_buckets, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_readings_expire_after_retention, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_audit_row, test_db_dir_setup, test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_size_bound_keeps_the_newest_readings,
                                        test_db_dir_setup, test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_size_bound_keeps_the_alarm_share, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_size_bound_evicts_telemetry_keeps_alarms,
                                        test_db_dir_setup, test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_size_bound_keeps_evidence_like_alarms,
                                        test_db_dir_setup, test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_locked_database, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file_refused_and_unchanged, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_page_refused_and_unchanged, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_or_missing_directory, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_reported_and_recovered, test_db_dir_setup,
                                        test_db_dir_teardown),
        cmocka_unit_test_setup_teardown(test_append_throughput, test_db_dir_setup,
                                        test_db_dir_teardown),
    };
    wg_log_set_level(WG_LOG_WARNING); /* keep "applied migration" out of the TAP stream */
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
