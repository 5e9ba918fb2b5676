/* What the auth module accepts as a user name, a password, a role and a
 * client address, with the messages that say why not (they start with the
 * field at fault: the web's API puts it into "field"). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth_internal.h"

int64_t auth_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void auth_say(char *out, size_t len, const char *fmt, ...)
{
    if (!out || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

bool auth_name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len < 1 || len > WG_AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int auth_check_name(const char *name, char *why, size_t why_len)
{
    if (auth_name_ok(name))
        return 0;
    auth_say(why, why_len, "user name: 1 to %d characters of a-z 0-9 . _ -", WG_AUTH_NAME_MAX);
    return WG_AUTH_INVALID;
}

int auth_check_password(const char *password, char *why, size_t why_len)
{
    size_t len = password ? strlen(password) : 0;
    if (len < PASSWORD_MIN) {
        auth_say(why, why_len, "password: at least %d characters", PASSWORD_MIN);
        return WG_AUTH_INVALID;
    }
    if (len > PASSWORD_MAX) {
        auth_say(why, why_len, "password: at most %d characters", PASSWORD_MAX);
        return WG_AUTH_INVALID;
    }
    return 0;
}

int auth_check_role(enum wg_role role, char *why, size_t why_len)
{
    if (role >= WG_ROLE_STATION && role <= WG_ROLE_ADMIN)
        return 0;
    auth_say(why, why_len, "role: station, nurse, manager or admin");
    return WG_AUTH_INVALID;
}

void auth_clean_text(const char *in, char *out, size_t out_len)
{
    size_t n = 0;
    for (; in && *in && n + 1 < out_len && n < 64; in++)
        out[n++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    out[n] = '\0';
    if (!n && out_len > 1)
        snprintf(out, out_len, "-");
}
