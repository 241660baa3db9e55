/*
 * The pairing page (GET /pair): the app's QR code as inline SVG, a second one that opens the web client on a phone
 * (hl_web_client_url: the claim in the URL fragment, never sent to a server), the URLs and expiry, live claimed/expired
 * state by polling, and a "Pair on this device" button that opens the web client on this page's own origin with the
 * same fragment, where the client claims the session and lands signed in.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "hl/ids.h"
#include "hl/pairing.h"
#include "hl/version.h"
#include "hl/clock.h"
#include "hl/qr.h"
#include "hl/web_client_url.h"
#include "pairing_internal.h"

typedef struct st_html_t {
    char *data;
    size_t len, cap;
} html_t;

static void raw(html_t *h, const char *s)
{
    size_t n = strlen(s);
    if (h->len + n + 1 > h->cap) {
        h->cap = (h->len + n + 1) * 2;
        h->data = hl_realloc(h->data, h->cap);
    }
    memcpy(h->data + h->len, s, n + 1);
    h->len += n;
}

/* HTML-escapes text for element content and double-quoted attributes. */
static void text(html_t *h, const char *s)
{
    char one[2] = {0, 0};
    for (; s != NULL && *s; ++s) {
        switch (*s) {
        case '&':
            raw(h, "&amp;");
            break;
        case '<':
            raw(h, "&lt;");
            break;
        case '>':
            raw(h, "&gt;");
            break;
        case '"':
            raw(h, "&quot;");
            break;
        case '\'':
            raw(h, "&#39;");
            break;
        default:
            one[0] = *s;
            raw(h, one);
        }
    }
}

static const char STYLE[] =
    "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
    "color:#1d1d1f}h1{font-size:1.5rem}.qr svg{width:18rem;height:18rem}.muted{color:#666}.state{font-weight:600}"
    "code{background:#f2f2f2;padding:.1rem .3rem;border-radius:.2rem;word-break:break-all}button{font-size:1rem;"
    "padding:.6rem 1.2rem;border-radius:.4rem;border:0;background:#0a66ff;color:#fff;cursor:pointer}"
    "button[disabled]{background:#999}";

static const char SCRIPT[] =
    "\n"
    "(function(){\n"
    "var state=document.getElementById('state'),btn=document.getElementById('pair');\n"
    "var SESSION_ID=document.getElementById('session').textContent;\n"
    "var done=false;\n"
    "function show(s){state.textContent=s;state.dataset.state=s;if(s!=='waiting'){done=true;if(btn)btn.disabled=true;"
    "var c=document.getElementById('code-block');if(c&&s!=='waiting')c.style.display='none';}}\n"
    "function poll(){if(done)return;fetch('/api/v1/pairing/session?session_id='+encodeURIComponent(SESSION_ID),"
    "{cache:'no-store'}).then(function(r){return r.json().then(function(j){if(r.ok&&j.session){show(j.session.claimed?"
    "'claimed':'waiting');}else if(r.status===404){show(j.error&&j.error.code==='pairing_session_not_found'?'not found':"
    "'expired');}});}).catch(function(){}).then(function(){if(!done)setTimeout(poll,2000);});}\n"
    /* the web client on this origin claims the session from the fragment (never sent to the server) */
    "if(btn)btn.addEventListener('click',function(){location.assign(btn.dataset.href);});\n"
    "poll();\n"
    "})();\n";

/* 'sha256-<base64>' of an inline element's text, as CSP names it (standard base64, padded). */
static char *csp_hash(const char *text)
{
    unsigned char digest[32], b64[48];
    hl_sha256(text, strlen(text), digest);
    EVP_EncodeBlock(b64, digest, sizeof(digest));
    return hl_asprintf("'sha256-%s'", (const char *)b64);
}

static char *page_csp;

static void make_csp(void)
{
    char *style = csp_hash(STYLE), *script = csp_hash(SCRIPT);
    /* nothing but our one script and one style, talking to this origin only; the QR is inline SVG (no image loads) */
    page_csp = hl_asprintf("default-src 'none'; script-src %s; style-src %s; connect-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'",
                           script, style);
    free(style);
    free(script);
}

const char *hl_pairing_page_csp(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_csp);
    return page_csp;
}

char *pairing_page_html(const hl_link_t *svc, const session_row_t *row, const char *code, int64_t now)
{
    html_t h = {0};
    const char *st = session_state(row, now);
    char expires[HL_ISO_TIME_LEN];
    hl_format_iso(row->expires_at, expires);
    raw(&h, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Hermes Link Pairing</title>");
    raw(&h, "<style>");
    raw(&h, STYLE);
    raw(&h, "</style>");
    raw(&h, "</head><body><h1>Hermes Link Pairing</h1><p class=\"muted\">Hermes Link " HL_VERSION "</p>");
    raw(&h, "<p>State: <span id=\"state\" class=\"state\" data-state=\"");
    text(&h, st);
    raw(&h, "\">");
    text(&h, st);
    raw(&h, "</span></p><p>Local URL: <code>");
    text(&h, row->local_api_url);
    raw(&h, "</code><br>Link ID: <code>");
    text(&h, svc->identity->link_id != NULL ? svc->identity->link_id : row->link_id);
    raw(&h, "</code><br>Session: <code id=\"session\">");
    text(&h, row->id);
    raw(&h, "</code><br>Expires: <time id=\"expires\" datetime=\"");
    text(&h, expires);
    raw(&h, "\">");
    text(&h, expires);
    raw(&h, "</time></p>");
    if (code != NULL) {
        json_t *preferred = json_loads(row->preferred_urls, 0, NULL);
        char *web = hl_web_client_url(hl_web_client_base(preferred, row->local_api_url), row->id, code);
        char *here = hl_web_client_url("", row->id, code); /* the same on this page's own origin */
        json_decref(preferred);
        json_t *payload = pairing_qr_payload(svc, row, code);
        char *payload_text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(payload);
        char *svg = hl_qr_svg(payload_text);
        free(payload_text);
        raw(&h, "<div id=\"code-block\"><p>Scan this code with the Hermes app:</p><div class=\"qr\" id=\"qr\">");
        if (svg != NULL)
            raw(&h, svg); /* generated by us: only numbers and fixed markup */
        free(svg);
        raw(&h, "</div><p>Connect token: <code id=\"code\">");
        text(&h, code);
        raw(&h, "</code></p><p>Open the web client on your phone:</p><div class=\"qr\" id=\"web-qr\">");
        svg = hl_qr_svg(web);
        if (svg != NULL)
            raw(&h, svg);
        free(svg);
        raw(&h, "</div><p><code id=\"web-url\">");
        text(&h, web);
        raw(&h, "</code></p><p><button id=\"pair\" type=\"button\" data-href=\"");
        text(&h, here);
        raw(&h, "\">Pair on this device</button></p></div>");
        free(web);
        free(here);
    } else {
        raw(&h, "<p class=\"muted\">The pairing code is shown only while the session is waiting to be claimed.</p>");
    }
    raw(&h, "<p>Addresses:</p><ul id=\"urls\">");
    json_t *urls = json_loads(row->preferred_urls, 0, NULL);
    size_t i;
    json_t *u;
    json_array_foreach(urls, i, u)
    {
        raw(&h, "<li><code>");
        text(&h, json_string_value(u));
        raw(&h, "</code></li>");
    }
    json_decref(urls);
    /* the script reads the session and the code from the page: it is the same text for every page, so the CSP can name
     * it by its hash */
    raw(&h, "</ul><script>");
    raw(&h, SCRIPT);
    raw(&h, "</script></body></html>");
    return h.data;
}
