/*
 * The QR payload builder of pairing (src/actors/pairing.c pairing_qr_payload), the web-client pairing URL
 * (src/core/web_client_url.c) and the QR renderers (src/core/qr.c) over what they are given: a display name, the
 * session's preferred_urls JSON text, the connect code and the session id, as NUL-separated UTF-8 parts of the input.
 * Checks: the payload is an object that serialises; the URL is `<base>/app#session=…&code=…` with only unreserved
 * characters and %XX escapes after the base; an SVG, when the payload fits a QR code, is one <svg> element.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <urcu.h>

#include "hermes_internal.h"
#include "hl/link.h"
#include "hl/qr.h"
#include "hl/web_client_url.h"
#include "pairing_internal.h"

static bool url_tail_ok(const char *s)
{
    for (; *s != '\0'; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '%') {
            if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]))
                return false;
            s += 2;
        } else if (!(isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '=' || c == '&')) {
            return false;
        }
    }
    return true;
}

/** libFuzzer's entry: "display name\0preferred_urls JSON\0code\0session id". */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool registered;
    if (!registered) {
        rcu_register_thread(); /* hl_snapshot_urls is an RCU reader */
        registered = true;
    }
    if (size > 2048 || !hermes_utf8_valid((const char *)data, size))
        return 0;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *parts[4] = {"", "[]", "", "ps_x"};
    const char *p = buf, *end = buf + size;
    for (size_t i = 0; i < 4 && p <= end; ++i) {
        parts[i] = p;
        p += strlen(p) + 1;
    }

    hl_link_t link = {.tls_port = -1};
    session_row_t row = {.id = (char *)parts[3],
                         .link_id = "link_0123",
                         .display_name = (char *)parts[0],
                         .local_api_url = "http://127.0.0.1:18642",
                         .preferred_urls = (char *)parts[1]};
    json_t *payload = pairing_qr_payload(&link, &row, parts[2]);
    if (!json_is_object(payload))
        abort();
    char *text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        abort();
    char *svg = hl_qr_svg(text);
    if (svg != NULL && (strncmp(svg, "<svg", 4) != 0 || strstr(svg, "</svg>") == NULL))
        abort();
    free(svg);
    free(text);
    json_decref(payload);

    json_t *preferred = json_loads(parts[1], 0, NULL);
    const char *base = hl_web_client_base(preferred, row.local_api_url);
    char *url = hl_web_client_url(base, parts[3], parts[2]);
    /* the last marker is the real one: a base may hold the same text, the encoded values cannot */
    const char *hash = NULL;
    for (const char *at = url; at != NULL && (at = strstr(at, "/app#session=")) != NULL; ++at)
        hash = at;
    if (hash == NULL || !url_tail_ok(hash + strlen("/app#session=")))
        abort();
    free(url);
    json_decref(preferred);
    free(buf);
    return 0;
}
