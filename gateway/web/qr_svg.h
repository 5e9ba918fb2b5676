/* A QR code as an SVG image (libqrencode), for the rooms' check-in codes
 * the manager prints: black modules on white, with the quiet zone the
 * standard asks for, scaled by the page. */
#ifndef WG_QR_SVG_H
#define WG_QR_SVG_H

#include <stddef.h>

/* A malloc'd SVG document of `text` (error correction M), its length in
 * *len; NULL when the text does not fit a QR code or memory runs out. */
char *qr_svg(const char *text, size_t *len);

#endif
