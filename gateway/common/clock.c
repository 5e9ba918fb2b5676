/* Real and manual clocks; see clock.h. */
#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t read_clock_ms(clockid_t id)
{
    struct timespec now;
    clock_gettime(id, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int64_t real_wall_ms(const struct wg_clock *clock)
{
    (void)clock;
    return read_clock_ms(CLOCK_REALTIME);
}

static int64_t real_mono_ms(const struct wg_clock *clock)
{
    (void)clock;
    return read_clock_ms(CLOCK_MONOTONIC);
}

static int64_t manual_wall_ms(const struct wg_clock *clock)
{
    return clock->manual_wall_ms;
}

static int64_t manual_mono_ms(const struct wg_clock *clock)
{
    return clock->manual_mono_ms;
}

struct wg_clock clock_real(void)
{
    return (struct wg_clock){.wall_ms = real_wall_ms, .mono_ms = real_mono_ms};
}

struct wg_clock clock_manual(int64_t start_wall_ms)
{
    return (struct wg_clock){.wall_ms = manual_wall_ms,
                             .mono_ms = manual_mono_ms,
                             .manual_wall_ms = start_wall_ms,
                             .manual_mono_ms = 1000};
}

void clock_advance(struct wg_clock *clock, int64_t ms)
{
    clock->manual_wall_ms += ms;
    clock->manual_mono_ms += ms;
}

int clock_minute_of_day(int64_t wall_ms)
{
    time_t seconds = (time_t)(wall_ms / 1000);
    struct tm local;
    localtime_r(&seconds, &local);
    return local.tm_hour * 60 + local.tm_min;
}

void clock_format_rfc3339(int64_t ts_ms, bool local_offset, char *out, size_t out_len)
{
    int64_t seconds = ts_ms / 1000, millis = ts_ms % 1000;
    if (millis < 0) {
        millis += 1000;
        seconds -= 1;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    if (!(local_offset ? localtime_r(&t, &tm) : gmtime_r(&t, &tm))) {
        snprintf(out, out_len, "1970-01-01T00:00:00.000%s", local_offset ? "+00:00" : "Z");
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!local_offset) {
        snprintf(out, out_len, "%s.%03dZ", date, (int)millis);
        return;
    }
    long offset_min = tm.tm_gmtoff / 60;
    char sign = offset_min < 0 ? '-' : '+';
    if (offset_min < 0)
        offset_min = -offset_min;
    snprintf(out, out_len, "%s.%03d%c%02ld:%02ld", date, (int)millis, sign, offset_min / 60,
             offset_min % 60);
}

int clock_utc_offset_min(int64_t wall_ms)
{
    time_t seconds = (time_t)(wall_ms / 1000);
    struct tm local;
    if (!localtime_r(&seconds, &local))
        return 0;
    return (int)(local.tm_gmtoff / 60);
}

/* An IANA name: "Area/Location" words of letters, digits, '_', '+', '-';
 * no leading '/', no "." or ".." parts, so it cannot leave the zoneinfo tree. */
static bool timezone_name_ok(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > 100 || name[0] == '/' || name[length - 1] == '/')
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '+' || c == '-' || c == '/' || c == '.';
        if (!ok || (c == '/' && p[1] == '/'))
            return false;
        if (c == '.' && (p == name || p[-1] == '/'))
            return false; /* "." and ".." parts, and hidden files */
    }
    return true;
}

bool clock_timezone_known(const char *name, char *why, size_t why_len)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    if (!name || !timezone_name_ok(name)) {
        snprintf(why, why_len,
                 "expected an IANA time zone name such as Asia/Shanghai (letters, digits, '_', "
                 "'+', '-' and '/'), got \"%s\"",
                 name ? name : "");
        return false;
    }
    if (strncmp(name, "right/", 6) == 0) {
        snprintf(why, why_len,
                 "\"%s\" counts leap seconds, which the system clock does not: use \"%s\"", name,
                 name + 6);
        return false;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "rb");
    char magic[4] = {0};
    bool zone = file && fread(magic, 1, sizeof magic, file) == sizeof magic &&
                memcmp(magic, "TZif", 4) == 0;
    int error = file ? 0 : errno;
    if (file)
        fclose(file);
    if (!zone) {
        if (error == ENOENT || error == ENOTDIR || error == 0)
            snprintf(why, why_len,
                     "\"%s\" is not a time zone in %s (expected an IANA name such as "
                     "Asia/Shanghai; the zones come with Debian's tzdata package)",
                     name, dir);
        else
            snprintf(why, why_len, "cannot read the time zone \"%s\" in %s: %s", name, dir,
                     strerror(error));
        return false;
    }
    return true;
}

int clock_use_timezone(const char *name)
{
    char why[256];
    if (!clock_timezone_known(name, why, sizeof why) || setenv("TZ", name, 1) != 0)
        return -1;
    tzset();
    return 0;
}
