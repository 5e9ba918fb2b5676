/* Setting up a carer's phone, on the web thread (docs/https.md): the
 * facility CA's certificate at /ca.crt, and GET /api/v1/phone with its two
 * QR codes (/api/v1/phone/qr/ca.svg: where to fetch that certificate;
 * /api/v1/phone/qr/app.svg: the carer app over HTTPS). All public: a phone
 * needs them before it trusts the gateway or has logged in, so they hold
 * nothing secret, only the certificate and addresses. The addresses use
 * web.public_host, or else the Host the request names, checked strictly
 * (host_name.h) because it goes into a QR code. */
#include "web/web_private.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/host_name.h"
#include "common/log.h"
#include "web/qr_svg.h"

#define CA_FILE_MAX (64 * 1024)

/* The first certificate of PEM text as DER into `der` (its length), or the
 * text as it is when it is DER already; -1 when it is neither. */
static long pem_to_der(const char *text, size_t len, unsigned char *der, size_t cap)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----", end[] = "-----END CERTIFICATE-----";
    if (len > 0 && (unsigned char)text[0] == 0x30) { /* an ASN.1 SEQUENCE: DER already */
        if (len > cap)
            return -1;
        memcpy(der, text, len);
        return (long)len;
    }
    const char *from = memmem(text, len, begin, sizeof begin - 1);
    const char *to = from ? memmem(from, len - (size_t)(from - text), end, sizeof end - 1) : NULL;
    if (!to)
        return -1;
    from += sizeof begin - 1;
    size_t der_len = 0;
    if (sodium_base642bin(der, cap, from, (size_t)(to - from), " \t\r\n", &der_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        der_len == 0)
        return -1;
    return (long)der_len;
}

/* GET /ca.crt: web.tls_ca as DER, the form Android's and iOS's installers
 * both take, as application/x-x509-ca-cert, saved as a file (Android 11
 * and later install a CA only from a file, in Settings). */
int web_serve_ca(struct wg_web_server *web, struct http_conn *conn)
{
    if (conn->method != LWSHUMETH_GET && conn->method != LWSHUMETH_HEAD) {
        web_respond_error(conn, 405, NULL, "/ca.crt takes GET");
        return 0;
    }
    if (!web->tls_ca[0]) {
        web_respond_error(conn, 404, NULL,
                          "this gateway offers no CA certificate (web.tls_ca is not set)");
        return 0;
    }
    FILE *file = fopen(web->tls_ca, "rb");
    char *text = file ? malloc(CA_FILE_MAX) : NULL;
    unsigned char *der = text ? malloc(CA_FILE_MAX) : NULL;
    size_t len = der ? fread(text, 1, CA_FILE_MAX, file) : 0;
    bool too_big = der && len == CA_FILE_MAX;
    int error = file ? 0 : errno;
    if (file)
        fclose(file);
    long der_len = der && !too_big ? pem_to_der(text, len, der, CA_FILE_MAX) : -1;
    free(text);
    if (der_len <= 0) {
        free(der);
        wg_err("web: /ca.crt: web.tls_ca %s %s", web->tls_ca,
               !file     ? strerror(error)
               : too_big ? "is larger than 64 KiB"
               : !der    ? "cannot be read: out of memory"
                         : "holds no certificate (PEM or DER)");
        web_respond_error(conn, 404, NULL, "the CA certificate is not available; see the log");
        return 0;
    }
    snprintf(conn->disposition, sizeof conn->disposition,
             "attachment; filename=\"wardgate-ca.crt\"");
    web_respond(conn, 200, "application/x-x509-ca-cert", (char *)der, (size_t)der_len);
    return 0;
}

/* scheme://host[:port]path, the port left out when it is the scheme's own. */
static void make_url(char *out, size_t len, bool https, const char *host, int port,
                     const char *path)
{
    int usual = https ? 443 : 80;
    char port_text[8] = "";
    if (port != usual)
        snprintf(port_text, sizeof port_text, ":%d", port);
    snprintf(out, len, "%s://%s%s%s", https ? "https" : "http", host, port_text, path);
}

struct phone_urls {
    char ca[320]; /* "" when the gateway offers no CA */
    char app[320];
    bool app_secure;
};

/* The addresses for a phone, or false after answering 400 (a Host that is
 * missing, too long or not a host name). */
static bool phone_urls(struct wg_web_server *web, struct http_conn *conn, struct phone_urls *urls)
{
    char host[WG_HOST_NAME_MAX + 1];
    size_t host_len = 0;
    int port = 0;
    if (web->public_host[0]) {
        snprintf(host, sizeof host, "%s", web->public_host);
    } else {
        int got = web_request_host(conn->wsi, host, sizeof host);
        if (got <= 0 || !host_name_parse(host, true, &host_len, &port)) {
            web_respond_error(conn, 400, "Host",
                              "the Host header: expected a host name, an IPv4 address or a "
                              "[bracketed] IPv6 address, and an optional :port, at most %d "
                              "characters",
                              WG_HOST_NAME_MAX);
            return false;
        }
        host[host_len] = '\0'; /* the ports are the gateway's own */
    }
    bool plain = !web->tls_cert[0] || web->tls_port; /* plain HTTP on web.port */
    urls->ca[0] = '\0';
    if (web->tls_ca[0])
        make_url(urls->ca, sizeof urls->ca, !plain, host, web->port, "/ca.crt");
    urls->app_secure = web->tls_cert[0] != '\0';
    make_url(urls->app, sizeof urls->app, urls->app_secure, host,
             web->tls_port ? web->tls_port : web->port, "/carer.html");
    return true;
}

static void respond_qr(struct http_conn *conn, const char *url)
{
    size_t len = 0;
    char *svg = qr_svg(url, &len);
    if (!svg)
        web_respond_error(conn, 500, NULL, "the QR code could not be made");
    else
        web_respond(conn, 200, "image/svg+xml", svg, len);
}

/* GET /api/v1/phone, /api/v1/phone/qr/ca.svg, /api/v1/phone/qr/app.svg. */
void web_phone_api(struct wg_web_server *web, struct http_conn *conn)
{
    const char *path = conn->path;
    bool info = strcmp(path, "/api/v1/phone") == 0;
    bool ca = strcmp(path, "/api/v1/phone/qr/ca.svg") == 0;
    bool app = strcmp(path, "/api/v1/phone/qr/app.svg") == 0;
    if (!info && !ca && !app) {
        web_respond_error(conn, 404, NULL, "%s: no such endpoint", path);
        return;
    }
    if (conn->method != LWSHUMETH_GET) {
        web_respond_error(conn, 405, NULL, "%s takes GET", path);
        return;
    }
    struct phone_urls urls;
    if (!phone_urls(web, conn, &urls))
        return;
    if (info)
        web_respond_json(conn, 200,
                         json_pack("{s:s?, s:s, s:b}", "ca_url", urls.ca[0] ? urls.ca : NULL,
                                   "app_url", urls.app, "app_secure", urls.app_secure));
    else if (ca && !urls.ca[0])
        web_respond_error(conn, 404, NULL,
                          "this gateway offers no CA certificate (web.tls_ca is not set)");
    else
        respond_qr(conn, ca ? urls.ca : urls.app);
}
