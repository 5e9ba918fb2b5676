/* Helpers shared by the cmocka unit tests: scratch directories and files. */
#ifndef WG_TESTUTIL_H
#define WG_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes a fresh directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/wgtest.XXXXXX", base ? base : "/tmp") < 0)
        return NULL;
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

/* Writes `text` to dir/name and returns the full path (caller frees). */
static inline char *test_write_file(const char *dir, const char *name, const char *text)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    FILE *f = fopen(path, "w");
    if (!f) {
        free(path);
        return NULL;
    }
    fputs(text, f);
    fclose(f);
    return path;
}

/* rm -rf dir (test scratch only). */
static inline void test_rmtree(const char *dir)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", dir);
    free(cmd);
}

/* The fixture of the store's tests: a scratch directory and a database path
 * in it, made before each test and removed after. */
struct test_db_dir {
    char *dir;
    char *path;
};

static inline int test_db_dir_setup(void **state)
{
    struct test_db_dir *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->dir = test_tmpdir();
    if (!fx->dir || asprintf(&fx->path, "%s/wardgate.db", fx->dir) < 0) {
        free(fx->dir);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static inline int test_db_dir_teardown(void **state)
{
    struct test_db_dir *fx = *state;
    test_rmtree(fx->dir);
    free(fx->dir);
    free(fx->path);
    free(fx);
    return 0;
}

#endif
