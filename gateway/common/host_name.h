/* Host names as the web server takes them from its config (web.public_host)
 * and from a request's Host header: a DNS name, an IPv4 address or a
 * [bracketed] IPv6 address, and an optional :port; nothing else (no user
 * info, path, spaces, commas of a repeated header, percent signs). */
#ifndef WG_HOST_NAME_H
#define WG_HOST_NAME_H

#include <stdbool.h>
#include <stddef.h>

#define WG_HOST_NAME_MAX 253 /* the longest DNS name; the whole text, port included */

/* Whether `text` is host[:port] by the rules above. On success *host_len is
 * the length of the host part (brackets included) and *port the port, or 0
 * when none is given. A port is refused when `port_allowed` is false. */
bool host_name_parse(const char *text, bool port_allowed, size_t *host_len, int *port);

#endif
