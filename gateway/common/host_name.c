/* Strict parsing of host[:port] (host_name.h): DNS labels of letters,
 * digits and '-', an IPv4 address (which is such a name), or an IPv6
 * address in brackets; a decimal port from 1 to 65535. */
#include "common/host_name.h"

#include <string.h>

/* Labels of [A-Za-z0-9-], 1..63 long, not starting or ending with '-',
 * separated by single dots; one trailing dot (a rooted name) is allowed. */
static bool dns_name_ok(const char *text, size_t len)
{
    if (len == 0)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '.') {
            if (label == 0 || text[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c != '-' || label == 0))
            return false;
        if (++label > 63)
            return false;
    }
    return text[len - 1] != '-';
}

/* [hex digits, ':' and '.'] with at least two ':' (an IPv4 tail allowed). */
static bool ipv6_ok(const char *text, size_t len)
{
    if (len < 4 || len > 47 || text[0] != '[' || text[len - 1] != ']')
        return false;
    size_t colons = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        char c = text[i];
        if (c == ':')
            colons++;
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                   c == '.'))
            return false;
    }
    return colons >= 2;
}

static bool port_ok(const char *text, int *port)
{
    size_t len = strlen(text);
    if (len == 0 || len > 5 || text[0] == '0')
        return false;
    int value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        value = value * 10 + (text[i] - '0');
    }
    if (value > 65535)
        return false;
    *port = value;
    return true;
}

bool host_name_parse(const char *text, bool port_allowed, size_t *host_len, int *port)
{
    size_t len = text ? strnlen(text, WG_HOST_NAME_MAX + 1) : 0;
    if (len == 0 || len > WG_HOST_NAME_MAX)
        return false;
    size_t host = 0;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return false;
        host = (size_t)(close - text) + 1;
        if (!ipv6_ok(text, host))
            return false;
    } else {
        const char *colon = strchr(text, ':');
        host = colon ? (size_t)(colon - text) : len;
        if (!dns_name_ok(text, host))
            return false;
    }
    int value = 0;
    if (text[host] != '\0' &&
        (text[host] != ':' || !port_allowed || !port_ok(text + host + 1, &value)))
        return false;
    *host_len = host;
    *port = value;
    return true;
}
