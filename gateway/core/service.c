/* sd_notify wrappers and the reload verdict (its file and its client); see
 * service.h. */
#include "core/service.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define VERDICT_FILE "reload-verdict"

static void notify(const char *message)
{
    int rc = sd_notify(0, message);
    if (rc < 0)
        wg_warn("sd_notify(\"%s\") failed: error %d", message, -rc);
}

void service_ready(const char *status)
{
    char message[512];
    snprintf(message, sizeof message, "READY=1\nSTATUS=%s", status);
    notify(message);
}

void service_status(const char *fmt, ...)
{
    char message[512] = "STATUS=";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message + 7, sizeof message - 7, fmt, ap);
    va_end(ap);
    notify(message);
}

void service_reloading(void)
{
    notify("RELOADING=1");
}

void service_stopping(void)
{
    notify("STOPPING=1");
}

void service_watchdog(void)
{
    notify("WATCHDOG=1");
}

int64_t service_watchdog_period_ms(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return 0;
    return (int64_t)(usec / 2000);
}

/* ---- the reload verdict --------------------------------------------------------------------- */

static int64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* The first directory of $RUNTIME_DIRECTORY (systemd separates several with
 * ':'), into `dir`; false when it is not set. */
static bool runtime_directory(char *dir, size_t size)
{
    const char *value = getenv("RUNTIME_DIRECTORY");
    if (!value || !*value)
        return false;
    size_t length = strcspn(value, ":");
    if (length == 0 || length >= size)
        return false;
    memcpy(dir, value, length);
    dir[length] = '\0';
    return true;
}

/* `text` as one printable line (control characters become spaces). */
static void one_line(char *out, size_t size, const char *text)
{
    snprintf(out, size, "%s", text ? text : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

static void write_verdict(const char *dir, bool applied, const char *why)
{
    char path[4096], temp[4096];
    if (snprintf(path, sizeof path, "%s/" VERDICT_FILE, dir) >= (int)sizeof path ||
        snprintf(temp, sizeof temp, "%s/." VERDICT_FILE ".XXXXXX", dir) >= (int)sizeof temp) {
        wg_warn("reload verdict: the runtime directory's name is too long: %s", dir);
        return;
    }
    int fd = mkstemp(temp);
    if (fd < 0) {
        wg_warn("reload verdict: cannot create a file in %s: %s (systemctl reload will time out)",
                dir, strerror(errno));
        return;
    }
    bool ok = fchmod(fd, 0644) == 0 &&
              dprintf(fd, "pid=%ld\ndone_ns=%lld\napplied=%s\nwhy=%s\n", (long)getpid(),
                      (long long)monotonic_ns(), applied ? "yes" : "no", why) > 0;
    if (close(fd) != 0)
        ok = false;
    if (ok && rename(temp, path) == 0)
        return;
    wg_warn("reload verdict: cannot write %s: %s (systemctl reload will time out)", path,
            strerror(errno));
    unlink(temp);
}

void service_reload_done(bool applied, const char *why)
{
    char line[400];
    one_line(line, sizeof line, why);
    char status[512];
    if (applied)
        snprintf(status, sizeof status, "running; configuration reloaded%s%s", *line ? ": " : "",
                 line);
    else
        snprintf(status, sizeof status, "reload refused%s%s; running the previous configuration",
                 *line ? ": " : "", line);
    service_ready(status);
    char dir[4096];
    if (runtime_directory(dir, sizeof dir))
        write_verdict(dir, applied, line);
}

struct verdict {
    long pid;
    long long done_ns;
    bool applied;
    char why[512];
};

/* Reads the verdict file; false while there is none (or it cannot be read). */
static bool read_verdict(const char *path, struct verdict *verdict)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return false;
    memset(verdict, 0, sizeof *verdict);
    char line[sizeof verdict->why + 8];
    int fields = 0;
    while (fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "pid=%ld", &verdict->pid) == 1 ||
            sscanf(line, "done_ns=%lld", &verdict->done_ns) == 1)
            fields++;
        else if (strncmp(line, "applied=", 8) == 0) {
            verdict->applied = strcmp(line + 8, "yes") == 0;
            fields++;
        } else if (strncmp(line, "why=", 4) == 0)
            snprintf(verdict->why, sizeof verdict->why, "%.*s", (int)sizeof verdict->why - 1,
                     line + 4);
    }
    fclose(file);
    return fields == 3;
}

int service_reload_request(pid_t pid, int timeout_ms)
{
    char dir[4096], path[4200];
    if (!runtime_directory(dir, sizeof dir)) {
        fprintf(stderr, "wardgated --reload: RUNTIME_DIRECTORY is not set (it is run by the "
                        "unit's ExecReload=, or with RUNTIME_DIRECTORY set to the daemon's)\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/" VERDICT_FILE, dir);
    int64_t sent_ns = monotonic_ns();
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "wardgated --reload: cannot signal process %ld: %s\n", (long)pid,
                strerror(errno));
        return 1;
    }
    int64_t deadline = sent_ns + (int64_t)timeout_ms * 1000000;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000};
    for (;;) {
        struct verdict verdict;
        if (read_verdict(path, &verdict) && verdict.pid == (long)pid && verdict.done_ns > sent_ns) {
            if (verdict.applied) {
                printf("wardgated: configuration reloaded%s%s\n", *verdict.why ? ": " : "",
                       verdict.why);
                return 0;
            }
            fprintf(stderr, "wardgated: reload refused%s%s; the previous configuration runs on\n",
                    *verdict.why ? ": " : "", verdict.why);
            return 1;
        }
        if (kill(pid, 0) != 0 && errno == ESRCH) {
            fprintf(stderr, "wardgated --reload: process %ld ended before it answered\n",
                    (long)pid);
            return 1;
        }
        if (monotonic_ns() >= deadline) {
            fprintf(stderr,
                    "wardgated --reload: no verdict from process %ld in %s within %d s (is it "
                    "wardgated, and is its RUNTIME_DIRECTORY this one?)\n",
                    (long)pid, dir, timeout_ms / 1000);
            return 1;
        }
        nanosleep(&pause, NULL);
    }
}
