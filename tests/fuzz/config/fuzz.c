/* libFuzzer target: the config loader (cfgtree_*.c, config_*.c, meaning.c).
 *
 * The first byte chooses what the rest of the input is: even, the site file
 * (with the repository's profiles reachable as profiles/); odd, a profile
 * file that a fixed site file lists. Each is written to a directory in
 * /dev/shm and loaded with config_load, as `wardgated --check` would. */
#include <limits.h>
#include <unistd.h>

#include "config/cfgtree.h"
#include "config/config.h"
#include "fuzz_util.h"
#include "common/log.h"

#define MAX_SITE_BYTES (256 * 1024)

static char dir[PATH_MAX], site[PATH_MAX], profile[PATH_MAX], fixed_site[PATH_MAX];

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static void remove_dir(void)
{
    char path[PATH_MAX + 32];
    const char *names[] = {"site.yaml", "fuzzed.yaml", "fixed.yaml", "profiles"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    wg_log_set_level(WG_LOG_CRIT); /* the loader's warnings are not findings */
    snprintf(dir, sizeof dir, "%s/wgfuzz-config.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror(dir);
        abort();
    }
    atexit(remove_dir);
    snprintf(site, sizeof site, "%s/site.yaml", dir);
    snprintf(profile, sizeof profile, "%s/fuzzed.yaml", dir);
    snprintf(fixed_site, sizeof fixed_site, "%s/fixed.yaml", dir);
    char link_path[PATH_MAX + 16];
    snprintf(link_path, sizeof link_path, "%s/profiles", dir);
    if (symlink(WG_SOURCE_ROOT "/config/profiles", link_path) != 0) {
        perror(link_path);
        abort();
    }
    static const char fixed[] = "site: {id: fuzz, name: Fuzz, district: d}\n"
                                "profiles: [fuzzed.yaml]\n"
                                "zones: [{id: f1, rooms: [{id: \"101\", beds: [A]}]}]\n";
    write_file(fixed_site, fixed, sizeof fixed - 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_SITE_BYTES)
        return 0;
    bool profile_mode = data[0] & 1;
    write_file(profile_mode ? profile : site, data + 1, size - 1);
    struct wg_diag diag;
    diag_init(&diag);
    struct wg_config *config = config_load(profile_mode ? fixed_site : site, &diag);
    /* Loaded, or refused with at least one message naming a place. */
    FUZZ_ASSERT(config || diag.count > 0);
    if (config) {
        FUZZ_ASSERT(diag.count == 0);
        for (size_t i = 0; i < config->device_count; i++) {
            FUZZ_ASSERT(config->devices[i].profile < config->profile_count);
            FUZZ_ASSERT(config_find_device(config, config->devices[i].id) == i);
        }
    }
    for (size_t i = 0; i < diag.count; i++)
        FUZZ_ASSERT(diag.messages[i] && diag.messages[i][0]);
    config_free(config);
    diag_free(&diag);
    return 0;
}
