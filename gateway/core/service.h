/* systemd service integration: sd_notify READY, STATUS, WATCHDOG, RELOADING
 * and STOPPING, and the reload verdict that `systemctl reload` waits for.
 * Every notification is a no-op when the daemon is not run by systemd
 * (NOTIFY_SOCKET unset), so the daemon behaves the same from a shell.
 *
 * The reload verdict. systemd 252 has no Type=notify-reload, so the unit's
 * ExecReload= runs `wardgated --reload $MAINPID`, which signals the daemon
 * and waits for the verdict file the daemon writes when the reload ends:
 * $RUNTIME_DIRECTORY/reload-verdict (RuntimeDirectory=wardgate, so
 * /run/wardgate/reload-verdict), replaced atomically (temporary file,
 * rename), text of the form
 *
 *     pid=1234                 the daemon's pid
 *     done_ns=5123456789       CLOCK_MONOTONIC when the reload ended
 *     applied=yes              or no
 *     why=...                  one line: what was applied, or why not
 *
 * The client accepts the first verdict of that pid whose done_ns is later
 * than the moment it sent SIGHUP. A reload the manager UI started just
 * before (an edit) may end after that moment and answer for it: both read
 * the same file, so the answer is still about the file as it is. */
#ifndef WG_SERVICE_H
#define WG_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

void service_ready(const char *status);
void service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void service_reloading(void);
void service_stopping(void);
void service_watchdog(void);
/* Half the watchdog interval systemd asked for, in ms; 0 when not watched. */
int64_t service_watchdog_period_ms(void);

/* Every reload attempt ends in exactly one call (core thread): READY=1 with
 * a STATUS saying what became of it, and the verdict file (when
 * RUNTIME_DIRECTORY is set). `why` is one line for people, e.g. "3 devices
 * on 1 bus" or "wardgate.yaml:12:3: unknown key ..."; NULL is allowed. */
void service_reload_done(bool applied, const char *why);

/* `wardgated --reload PID`: sends SIGHUP to PID and waits up to timeout_ms
 * for its verdict in $RUNTIME_DIRECTORY. Prints the verdict (stdout when
 * applied, stderr otherwise) and returns the exit code: 0 applied, 1
 * refused, failed, timed out or the daemon gone. */
int service_reload_request(pid_t pid, int timeout_ms);

#endif
