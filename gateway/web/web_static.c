/* Files from web.root on the web thread: the path checked (nothing that
 * climbs, hides or leaves the root), the type by extension, the file read
 * whole and answered like any other reply, with the page headers. */
#include "web/web_private.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- static files ---- */

static const char *mime_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".webmanifest", "application/manifest+json"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

int web_serve_static(struct wg_web_server *web, struct http_conn *conn)
{
    const char *path = strcmp(conn->path, "/") == 0 ? "/index.html" : conn->path;
    /* lws has decoded the path; anything that could climb, hide or smuggle is refused. */
    if (path[0] != '/' || strstr(path, "/.") || strchr(path, '\\') || strchr(path, '%') ||
        strstr(path, "//") || strlen(path) > 200) {
        web_respond_error(conn, 403, NULL, "%s: refused", path);
        return 0;
    }
    char full[PATH_MAX + 256], real[PATH_MAX];
    snprintf(full, sizeof full, "%s%s", web->root_real, path);
    const char *type = mime_type(path);
    struct stat st;
    if (!type || !realpath(full, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        web_respond_error(conn, 404, NULL, "%s: not found", path);
        return 0;
    }
    size_t root_len = strlen(web->root_real);
    if (strncmp(real, web->root_real, root_len) != 0 || real[root_len] != '/') {
        web_respond_error(conn, 403, NULL, "%s: outside the web root", path);
        return 0;
    }
    /* Read whole and answered like any other reply (not with lws_serve_http_file:
     * its sending cannot be paused between fragments, see "One request per
     * connection"). The pages are small. */
    if (st.st_size > STATIC_FILE_MAX) {
        web_respond_error(conn, 500, NULL, "%s: larger than %d bytes", path, STATIC_FILE_MAX);
        return 0;
    }
    FILE *file = fopen(real, "rb");
    char *body = file ? malloc((size_t)st.st_size + 1) : NULL;
    size_t got = body ? fread(body, 1, (size_t)st.st_size, file) : 0;
    if (file)
        fclose(file);
    if (!body || got != (size_t)st.st_size) {
        free(body);
        web_respond_error(conn, 500, NULL, "%s: cannot be read", path);
        return 0;
    }
    conn->page = true;
    web_respond(conn, 200, type, body, got);
    return 0;
}
