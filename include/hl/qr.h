/*
 * QR codes of the pairing payload (libqrencode, error correction M, 8-bit mode): drawn in a terminal with half-block
 * characters, or as an SVG for the pairing page. Pure functions, any thread.
 */
#ifndef HL_QR_H
#define HL_QR_H

/** The QR code of `text` as terminal lines (two modules per character row, 4-module quiet zone). NULL if too long. */
char *hl_qr_terminal(const char *text);

/**
 * The QR code of `text` as terminal lines at most `max_columns` characters wide (0: no limit): the first that fits of
 * level M with a 4-module quiet zone, level L with 4, level L with 2. Sets *columns to the line width (in characters) of
 * what it returns, or, returning NULL because none fits, to the narrowest width it would need; NULL with *columns 0 when
 * `text` is too long for any QR code. Caller frees.
 */
char *hl_qr_terminal_fit(const char *text, int max_columns, int *columns);

/** The QR code of `text` as a standalone SVG document (one path, crisp edges, 4-module quiet zone). NULL if too long. */
char *hl_qr_svg(const char *text);

#endif
