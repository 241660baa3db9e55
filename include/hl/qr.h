/*
 * QR codes of the pairing payload (libqrencode, error correction M, 8-bit mode): drawn in a terminal with half-block
 * characters, or as an SVG for the pairing page. Pure functions, any thread.
 */
#ifndef HL_QR_H
#define HL_QR_H

/** The QR code of `text` as terminal lines (two modules per character row, 4-module quiet zone). NULL if too long. */
char *hl_qr_terminal(const char *text);

/** The QR code of `text` as a standalone SVG document (one path, crisp edges, 4-module quiet zone). NULL if too long. */
char *hl_qr_svg(const char *text);

#endif
