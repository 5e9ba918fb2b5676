/* sd_notify wrappers; see service.h. */
#include "service.h"

#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "log.h"

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

void service_reload_done(bool applied, const char *why)
{
    char status[400];
    if (applied)
        snprintf(status, sizeof status, "running; reloaded: %s", why && *why ? why : "applied");
    else
        snprintf(status, sizeof status, "reload refused (%s); running the previous configuration",
                 why && *why ? why : "see the log");
    service_ready(status);
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
