/* A QR code as an SVG image (qr_svg.h): libqrencode makes the modules; each
 * row's runs of dark modules become one path, so a version-5 code is a few
 * kilobytes. */
#include "web/qr_svg.h"

#include <qrencode.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUIET_ZONE 4 /* modules of white around the code (ISO/IEC 18004) */

struct svg_text {
    char *data;
    size_t len, cap;
    bool failed;
};

static void add(struct svg_text *svg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct svg_text *svg, const char *fmt, ...)
{
    if (svg->failed)
        return;
    char piece[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof piece) {
        svg->failed = true;
        return;
    }
    if (svg->len + (size_t)n + 1 > svg->cap) {
        size_t cap = svg->cap ? svg->cap * 2 : 4096;
        while (cap < svg->len + (size_t)n + 1)
            cap *= 2;
        char *grown = realloc(svg->data, cap);
        if (!grown) {
            svg->failed = true;
            return;
        }
        svg->data = grown;
        svg->cap = cap;
    }
    memcpy(svg->data + svg->len, piece, (size_t)n + 1);
    svg->len += (size_t)n;
}

char *qr_svg(const char *text, size_t *len)
{
    QRcode *code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!code)
        return NULL;
    int width = code->width, size = width + 2 * QUIET_ZONE;
    struct svg_text svg = {0};
    add(&svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
        "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"100%%\" fill=\"#fff\"/>"
        "<path fill=\"#000\" d=\"",
        size, size, size);
    for (int y = 0; y < width; y++)
        for (int x = 0; x < width;) {
            if (!(code->data[y * width + x] & 1)) {
                x++;
                continue;
            }
            int run = 0;
            while (x + run < width && (code->data[y * width + x + run] & 1))
                run++;
            add(&svg, "M%d %dh%dv1H%dz", x + QUIET_ZONE, y + QUIET_ZONE, run, x + QUIET_ZONE);
            x += run;
        }
    add(&svg, "\"/></svg>\n");
    QRcode_free(code);
    if (svg.failed) {
        free(svg.data);
        return NULL;
    }
    *len = svg.len;
    return svg.data;
}
