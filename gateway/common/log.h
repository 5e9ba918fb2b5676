/* Logging to stderr in a form journald understands.
 *
 * Under systemd (JOURNAL_STREAM set) every line starts with the syslog
 * priority prefix "<N>", which journald turns into the entry's PRIORITY.
 * On a terminal each line gets a wall-clock time and a level word instead.
 * Safe to call from any thread: one line is one write(2). */
#ifndef WG_LOG_H
#define WG_LOG_H

#include <stdarg.h>

enum wg_log_level {
    WG_LOG_CRIT = 2,
    WG_LOG_ERR = 3,
    WG_LOG_WARNING = 4,
    WG_LOG_NOTICE = 5,
    WG_LOG_INFO = 6,
    WG_LOG_DEBUG = 7,
};

/* Messages above this level are dropped. Set once at start-up (from -v / config). */
void wg_log_set_level(enum wg_log_level max_level);
enum wg_log_level wg_log_get_level(void);

/* Parses "crit", "err"/"error", "warning", "notice", "info", "debug". Returns -1 if unknown. */
int wg_log_level_from_name(const char *name);

void wg_log(enum wg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wg_vlog(enum wg_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#define wg_crit(...)   wg_log(WG_LOG_CRIT, __VA_ARGS__)
#define wg_err(...)    wg_log(WG_LOG_ERR, __VA_ARGS__)
#define wg_warn(...)   wg_log(WG_LOG_WARNING, __VA_ARGS__)
#define wg_notice(...) wg_log(WG_LOG_NOTICE, __VA_ARGS__)
#define wg_info(...)   wg_log(WG_LOG_INFO, __VA_ARGS__)
#define wg_debug(...)  wg_log(WG_LOG_DEBUG, __VA_ARGS__)

#endif
