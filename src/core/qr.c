#include "hl/qr.h"

#include <qrencode.h>
#include <stdio.h>
#include <string.h>

#include "hl/common.h"

typedef struct st_buf_t {
    char *data;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = hl_realloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static QRcode *encode_at(const char *text, QRecLevel level)
{
    return QRcode_encodeString8bit(text, 0, level);
}

static QRcode *encode(const char *text)
{
    return encode_at(text, QR_ECLEVEL_M);
}

static int dark(const QRcode *q, int x, int y)
{
    return x >= 0 && y >= 0 && x < q->width && y < q->width && (q->data[y * q->width + x] & 1);
}

static char *render_terminal(const QRcode *q, int quiet)
{
    /* light-on-dark terminals are the norm: draw the light modules so the code reads as dark-on-light when scanned */
    buf_t b = {0};
    for (int y = -quiet; y < q->width + quiet; y += 2) {
        for (int x = -quiet; x < q->width + quiet; ++x) {
            int top = !dark(q, x, y), bottom = !dark(q, x, y + 1);
            if (y + 1 >= q->width + quiet)
                bottom = 0;
            puts_(&b, top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ");
        }
        puts_(&b, "\n");
    }
    return b.data;
}

char *hl_qr_terminal(const char *text)
{
    QRcode *q = encode(text);
    if (q == NULL)
        return NULL;
    char *out = render_terminal(q, 4); /* the standard quiet zone: some phone scanners need all of it */
    QRcode_free(q);
    return out;
}

char *hl_qr_terminal_fit(const char *text, int max_columns, int *columns)
{
    /* From the most robust to the narrowest: a screen is not a worn sticker, so level L (7% recovery) is enough there,
     * and phone scanners read a 2-module quiet zone when 4 would not fit. A pairing payload of ~400 bytes is a version 15
     * code at M (85 columns with the full quiet zone) but version 13 at L (77 columns). */
    static const struct {
        QRecLevel level;
        int quiet;
    } tries[] = {{QR_ECLEVEL_M, 4}, {QR_ECLEVEL_L, 4}, {QR_ECLEVEL_L, 2}};
    *columns = 0;
    for (size_t i = 0; i < HL_ARRAY_SIZE(tries); ++i) {
        QRcode *q = encode_at(text, tries[i].level);
        if (q == NULL)
            return NULL;
        int width = q->width + 2 * tries[i].quiet;
        if (max_columns <= 0 || width <= max_columns) {
            char *out = render_terminal(q, tries[i].quiet);
            QRcode_free(q);
            *columns = width;
            return out;
        }
        QRcode_free(q);
        *columns = width; /* the narrowest tried so far: what the caller reports when nothing fits */
    }
    return NULL;
}

char *hl_qr_svg(const char *text)
{
    QRcode *q = encode(text);
    if (q == NULL)
        return NULL;
    const int quiet = 4, size = q->width + 2 * quiet;
    buf_t b = {0};
    char tmp[256];
    snprintf(tmp, sizeof(tmp),
             "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">"
             "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
             size, size, size, size);
    puts_(&b, tmp);
    for (int y = 0; y < q->width; ++y) {
        for (int x = 0; x < q->width;) {
            if (!dark(q, x, y)) {
                ++x;
                continue;
            }
            int run = 0;
            while (dark(q, x + run, y))
                ++run;
            snprintf(tmp, sizeof(tmp), "M%d %dh%dv1h-%dz", x + quiet, y + quiet, run, run);
            puts_(&b, tmp);
            x += run;
        }
    }
    puts_(&b, "\"/></svg>");
    QRcode_free(q);
    return b.data;
}
