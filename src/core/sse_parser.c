#include "hl/sse_parser.h"

#include <string.h>

#include "hl/common.h"

#define DEFAULT_MAX_EVENT (1024 * 1024)

void hl_sse_parser_init(hl_sse_parser_t *p, size_t max_event)
{
    memset(p, 0, sizeof(*p));
    p->max_event = max_event != 0 ? max_event : DEFAULT_MAX_EVENT;
}

void hl_sse_parser_dispose(hl_sse_parser_t *p)
{
    free(p->line);
    free(p->data);
    free(p->raw);
    free(p->event);
    free(p->id);
    memset(p, 0, sizeof(*p));
}

bool hl_sse_parser_pending(const hl_sse_parser_t *p)
{
    return p->line_len != 0 || p->has_data || p->event_len != 0 || p->id != NULL;
}

/* Appends n bytes (and keeps a NUL after them) to a growing buffer. */
static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap != 0 ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        *buf = hl_realloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void set_field(char **field, size_t *field_len, const char *value, size_t n)
{
    free(*field);
    *field = hl_strndup(value, n);
    *field_len = n;
}

static void reset_event(hl_sse_parser_t *p)
{
    p->data_len = 0;
    p->raw_len = 0;
    p->has_data = false;
    free(p->event);
    p->event = NULL;
    p->event_len = 0;
    free(p->id);
    p->id = NULL;
    p->id_len = 0;
}

static int dispatch(hl_sse_parser_t *p, hl_sse_event_fn fn, void *data)
{
    int ret = 0;
    if (p->has_data) {
        size_t n = p->data_len > 0 ? p->data_len - 1 : 0; /* without the LF after the last data line */
        p->data[n] = '\0';
        hl_sse_event_t ev = {.event = p->event != NULL ? p->event : "",
                             .id = p->id,
                             .data = p->data,
                             .data_len = n,
                             .raw_data = p->raw,
                             .raw_data_len = p->raw_len};
        ret = fn(data, &ev);
    }
    reset_event(p);
    return ret;
}

/* Interprets one complete line (without its end). Returns the dispatch's result for a blank line, else 0. */
static int take_line(hl_sse_parser_t *p, const char *line, size_t len, hl_sse_event_fn fn, void *data)
{
    if (!p->started) {
        p->started = true;
        if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0)
        return dispatch(p, fn, data);
    if (line[0] == ':')
        return 0; /* a comment (the upstream's keep-alives): its bytes still count as life for the caller's stall check */
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon != NULL ? (size_t)(colon - line) : len;
    const char *value = colon != NULL ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (p->raw_len + len + 1 > p->max_event)
            return -1;
        append(&p->data, &p->data_len, &p->data_cap, value, value_len);
        append(&p->data, &p->data_len, &p->data_cap, "\n", 1);
        append(&p->raw, &p->raw_len, &p->raw_cap, line, len);
        append(&p->raw, &p->raw_len, &p->raw_cap, "\n", 1);
        p->has_data = true;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        set_field(&p->event, &p->event_len, value, value_len);
    } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        if (memchr(value, '\0', value_len) == NULL)
            set_field(&p->id, &p->id_len, value, value_len);
    }
    /* retry and unknown fields are ignored */
    return 0;
}

int hl_sse_parser_feed(hl_sse_parser_t *p, const char *bytes, size_t len, hl_sse_event_fn fn, void *data)
{
    if (p->failed)
        return -1;
    const char *end = bytes + len;
    while (bytes < end) {
        if (p->after_cr) {
            p->after_cr = false;
            if (*bytes == '\n') {
                bytes++;
                continue;
            }
        }
        /* the next line end (CR or LF) */
        const char *eol = bytes;
        while (eol < end && *eol != '\n' && *eol != '\r')
            ++eol;
        size_t n = (size_t)(eol - bytes);
        if (p->line_len + n > p->max_event) {
            p->failed = true;
            return -1;
        }
        if (eol == end) {
            append(&p->line, &p->line_len, &p->line_cap, bytes, n);
            break;
        }
        int ret;
        if (p->line_len != 0) {
            append(&p->line, &p->line_len, &p->line_cap, bytes, n);
            size_t whole = p->line_len;
            p->line_len = 0; /* the buffer keeps its bytes until the next append; take_line reads them first */
            ret = take_line(p, p->line, whole, fn, data);
        } else {
            ret = take_line(p, bytes, n, fn, data);
        }
        p->after_cr = *eol == '\r';
        bytes = eol + 1;
        if (ret < 0) {
            p->failed = true;
            return -1;
        }
        if (ret != 0)
            return ret;
    }
    return 0;
}
