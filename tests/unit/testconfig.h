/* Helpers for unit tests that need a small site config and the test plugins. */
#ifndef WG_TESTCONFIG_H
#define WG_TESTCONFIG_H

#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "store/store.h"

/* Repository root (the test runner exports WG_ROOT) and build directory. */
static inline const char *test_root(void)
{
    static char root[4096];
    const char *given = getenv("WG_ROOT");
    if (!realpath(given ? given : ".", root))
        return ".";
    return root;
}

static inline char *test_plugin_dir(void)
{
    const char *build = getenv("BUILD");
    char *dir = NULL;
    if (asprintf(&dir, "%s/%s/test-plugins", test_root(), build ? build : "build") < 0)
        return NULL;
    return dir;
}

/* Writes dir/site.yaml: one floor, rooms 101 and 102, and the given buses and
 * devices sections (YAML text, may be ""). Returns the path (caller frees). */
static inline char *test_site_config(const char *dir, const char *buses_and_devices)
{
    char *path = NULL, *text = NULL;
    if (asprintf(&text,
                 "site: {id: unit-home, name: Unit Home, district: unit-district}\n"
                 "profiles: [\"%s/config/profiles/*.yaml\"]\n"
                 "zones:\n"
                 "  - id: f1\n"
                 "    name: Floor 1\n"
                 "    floor: 1\n"
                 "    rooms:\n"
                 "      - {id: \"101\", kind: resident, beds: [A, B]}\n"
                 "      - {id: \"102\", kind: resident, beds: [A]}\n"
                 "residents:\n"
                 "  - {id: R-0001, bed: 101-A, care_level: 3, risks: [fall]}\n"
                 "  - {id: R-0002, bed: 102-A, care_level: 2, risks: [wandering]}\n"
                 "%s",
                 test_root(), buses_and_devices) < 0)
        return NULL;
    if (asprintf(&path, "%s/site.yaml", dir) >= 0) {
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(text, f);
            fclose(f);
        } else {
            free(path);
            path = NULL;
        }
    }
    free(text);
    return path;
}

/* Loads `path` (and frees the string); every loader message is printed. NULL
 * when the file is refused. */
static inline struct wg_config *test_load_config(char *path)
{
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = path ? config_load(path, &diag) : NULL;
    for (size_t i = 0; i < diag.count; i++)
        fprintf(stderr, "# config: %s\n", diag.messages[i]);
    diag_free(&diag);
    free(path);
    return config;
}

/* A store at `path` bounded to `max_bytes`, waiting `busy_timeout_ms` for a
 * lock (60 s buckets); NULL after printing why. */
static inline struct wg_store *test_open_store_with(const char *path, int64_t max_bytes,
                                                    int busy_timeout_ms)
{
    struct wg_store_options options = {.path = path,
                                       .max_bytes = max_bytes,
                                       .readings_bucket_s = 60,
                                       .readings_retention_days = 30,
                                       .events_retention_days = 365,
                                       .busy_timeout_ms = busy_timeout_ms};
    enum wg_store_status status;
    char err[256];
    struct wg_store *store = store_open(&options, &status, err, sizeof err);
    if (!store)
        fprintf(stderr, "# store: %s\n", err);
    return store;
}

/* A store at `path` for core tests (64 MiB, 50 ms busy timeout). */
static inline struct wg_store *test_open_store(const char *path)
{
    return test_open_store_with(path, 64LL << 20, 50);
}

#endif
