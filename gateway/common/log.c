/* Logging to stderr for journald or a terminal; see log.h. */
#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_max_level = WG_LOG_INFO;

void wg_log_set_level(enum wg_log_level max_level)
{
    atomic_store(&log_max_level, (int)max_level);
}

enum wg_log_level wg_log_get_level(void)
{
    return (enum wg_log_level)atomic_load(&log_max_level);
}

static const char *const level_names[] = {
    [WG_LOG_CRIT] = "crit",     [WG_LOG_ERR] = "error", [WG_LOG_WARNING] = "warning",
    [WG_LOG_NOTICE] = "notice", [WG_LOG_INFO] = "info", [WG_LOG_DEBUG] = "debug",
};

int wg_log_level_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "err") == 0)
        return WG_LOG_ERR;
    for (int level = WG_LOG_CRIT; level <= WG_LOG_DEBUG; level++)
        if (strcmp(name, level_names[level]) == 0)
            return level;
    return -1;
}

void wg_vlog(enum wg_log_level level, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load(&log_max_level))
        return;
    if (level < WG_LOG_CRIT)
        level = WG_LOG_CRIT;
    if (level > WG_LOG_DEBUG)
        level = WG_LOG_DEBUG;

    char line[2048];
    size_t used = 0;
    if (getenv("JOURNAL_STREAM")) {
        /* journald reads the "<N>" prefix as the priority and stamps the time itself. */
        used = (size_t)snprintf(line, sizeof line, "<%d>", (int)level);
    } else {
        struct timespec now;
        struct tm local;
        clock_gettime(CLOCK_REALTIME, &now);
        localtime_r(&now.tv_sec, &local);
        used = strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &local);
        used += (size_t)snprintf(line + used, sizeof line - used, ".%03ld %-7s ",
                                 now.tv_nsec / 1000000L, level_names[level]);
    }
    int body = vsnprintf(line + used, sizeof line - used, fmt, ap);
    if (body < 0)
        return;
    used += (size_t)body;
    if (used >= sizeof line - 1) {
        used = sizeof line - 5;
        memcpy(line + used, "...", 3);
        used += 3;
    }
    /* One line per record: fold embedded newlines so journald keeps one entry. */
    for (size_t i = 0; i < used; i++)
        if (line[i] == '\n')
            line[i] = ' ';
    line[used++] = '\n';
    ssize_t written = write(STDERR_FILENO, line, used);
    (void)written; /* nowhere left to report a failing stderr */
}

void wg_log(enum wg_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wg_vlog(level, fmt, ap);
    va_end(ap);
}
