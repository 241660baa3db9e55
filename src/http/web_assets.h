/*
 * The web client's files (every file of web/), embedded at build time by cmake/embed.cmake and listed in a table that
 * CMakeLists.txt generates (generated/web_files.c). Each array holds the file's bytes plus a NUL; len is the byte count
 * without it.
 */
#ifndef HL_HTTP_WEB_ASSETS_H
#define HL_HTTP_WEB_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *name; /* the file name in web/, e.g. "app.js"; served at /app/<name> ("index.html" at /app) */
    const unsigned char *data;
    const size_t *len;
} hl_web_file_t;

extern const hl_web_file_t hl_web_files[];
extern const size_t hl_web_files_count;

#endif
