/*
 * The web client's files (web/), embedded at build time by cmake/embed.cmake: each array holds the file's bytes plus a
 * NUL, its _len the byte count without it.
 */
#ifndef HL_HTTP_WEB_ASSETS_H
#define HL_HTTP_WEB_ASSETS_H

#include <stddef.h>

extern const unsigned char hl_web_index_html[];
extern const size_t hl_web_index_html_len;
extern const unsigned char hl_web_app_css[];
extern const size_t hl_web_app_css_len;
extern const unsigned char hl_web_app_js[];
extern const size_t hl_web_app_js_len;
extern const unsigned char hl_web_api_js[];
extern const size_t hl_web_api_js_len;
extern const unsigned char hl_web_sse_js[];
extern const size_t hl_web_sse_js_len;

#endif
