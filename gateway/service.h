/* systemd service integration: sd_notify READY, STATUS, WATCHDOG, RELOADING
 * and STOPPING. Every call is a no-op when the daemon is not run by systemd
 * (NOTIFY_SOCKET unset), so the daemon behaves the same from a shell. */
#ifndef WG_SERVICE_H
#define WG_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

void service_ready(const char *status);
void service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void service_reloading(void);
/* Every reload attempt (SIGHUP, a change made in the manager UI) ends with
 * exactly one call: applied, or refused/undone with the reason in `why`.
 * Ends the RELOADING=1 state and says how it went in STATUS=. */
void service_reload_done(bool applied, const char *why);
void service_stopping(void);
void service_watchdog(void);
/* Half the watchdog interval systemd asked for, in ms; 0 when not watched. */
int64_t service_watchdog_period_ms(void);

#endif
