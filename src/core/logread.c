#include "hl/logread.h"

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/fsutil.h"

#define MAX_ROTATIONS 5

/* Reads at most the last HL_LOGREAD_TAIL_BYTES of a file, dropping a partial first line; *cut tells whether older lines
 * of the file were left out. Caller frees. */
static char *read_tail(const char *path, size_t *len, long long *mtime_ms, int *cut)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    *mtime_ms = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    off_t start = st.st_size > HL_LOGREAD_TAIL_BYTES ? st.st_size - HL_LOGREAD_TAIL_BYTES : 0;
    *cut = start > 0;
    size_t want = (size_t)(st.st_size - start);
    char *buf = hl_malloc(want + 1);
    ssize_t n = pread(fd, buf, want, start);
    close(fd);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    size_t skip = 0;
    if (start > 0) {
        char *nl = memchr(buf, '\n', (size_t)n);
        skip = nl != NULL ? (size_t)(nl - buf) + 1 : (size_t)n;
    }
    memmove(buf, buf + skip, (size_t)n - skip + 1);
    *len = (size_t)n - skip;
    return buf;
}

typedef json_t *(*line_parser_t)(const char *line, size_t len, long long mtime_ms);

/* Collects entries newest-first across base, base.1 … base.5, then returns them oldest-first. */
static json_t *read_rotated(const char *base, size_t limit, line_parser_t parse)
{
    json_t *newest_first = json_array();
    for (int i = 0; i <= MAX_ROTATIONS && json_array_size(newest_first) < limit; ++i) {
        char *path = i == 0 ? hl_strdup(base) : hl_asprintf("%s.%d", base, i);
        size_t len = 0;
        long long mtime = 0;
        int cut = 0;
        char *text = read_tail(path, &len, &mtime, &cut);
        free(path);
        if (text == NULL)
            continue;
        size_t end = len;
        while (end > 0 && json_array_size(newest_first) < limit) {
            size_t line_end = end;
            if (text[line_end - 1] == '\n')
                --line_end;
            size_t line_start = line_end;
            while (line_start > 0 && text[line_start - 1] != '\n')
                --line_start;
            json_t *e = parse(text + line_start, line_end - line_start, mtime);
            if (e != NULL)
                json_array_append_new(newest_first, e);
            end = line_start;
        }
        free(text);
        if (cut)
            break; /* older files would leave a gap where this file's head was skipped */
    }
    json_t *out = json_array();
    for (size_t i = json_array_size(newest_first); i > 0; --i)
        json_array_append(out, json_array_get(newest_first, i - 1));
    json_decref(newest_first);
    return out;
}

static int valid_level(const char *s)
{
    return s != NULL && (strcmp(s, "debug") == 0 || strcmp(s, "info") == 0 || strcmp(s, "warn") == 0 || strcmp(s, "error") == 0);
}

static json_t *parse_link_line(const char *line, size_t len, long long mtime_ms)
{
    (void)mtime_ms;
    json_t *obj = json_loadb(line, len, 0, NULL);
    if (!json_is_object(obj))
        goto Skip;
    json_t *ts = json_object_get(obj, "ts"), *level = json_object_get(obj, "level"), *msg = json_object_get(obj, "message"),
           *fields = json_object_get(obj, "fields");
    if (!json_is_string(ts) || !valid_level(json_string_value(level)) || !json_is_string(msg))
        goto Skip;
    json_t *e = json_pack("{s:O, s:O, s:O, s:s}", "ts", ts, "level", level, "message", msg, "timestampSource", "structured");
    if (json_is_object(fields))
        json_object_set(e, "fields", fields);
    json_decref(obj);
    return e;
Skip:
    json_decref(obj);
    return NULL;
}

char *hl_logs_path(const char *home, bool gateway)
{
    char *dir = hl_path_join(home, "logs"), *path = hl_path_join(dir, gateway ? "gateway.log" : "link.log");
    free(dir);
    return path;
}

json_t *hl_logs_read_link(const char *home, size_t limit)
{
    char *base = hl_logs_path(home, false);
    json_t *out = read_rotated(base, limit, parse_link_line);
    free(base);
    return out;
}

static int has_word_ci(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; ++i) {
        if (strncasecmp(s + i, word, wl) != 0)
            continue;
        int before = i == 0 || !isalnum((unsigned char)s[i - 1]);
        int after = i + wl == len || !isalnum((unsigned char)s[i + wl]);
        if (before && after)
            return 1;
    }
    return 0;
}

static const char *gateway_level(const char *s, size_t len)
{
    static const char *const error_words[] = {"error", "fatal", "critical", "traceback", "failed", "failure", "exception"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(error_words); ++i)
        if (has_word_ci(s, len, error_words[i]))
            return "error";
    if (has_word_ci(s, len, "warn") || has_word_ci(s, len, "warning"))
        return "warn";
    if (has_word_ci(s, len, "debug") || has_word_ci(s, len, "trace"))
        return "debug";
    return "info";
}

/* Finds an ISO-8601 UTC timestamp ("…T…Z") anywhere in the line. */
static int find_iso_utc(const char *s, size_t len, int64_t *ms)
{
    for (size_t i = 0; i + 20 <= len; ++i) {
        if (!isdigit((unsigned char)s[i]) || s[i + 4] != '-' || s[i + 10] != 'T')
            continue;
        size_t j = i + 19;
        if (j < len && s[j] == '.')
            for (++j; j < len && isdigit((unsigned char)s[j]); ++j)
                ;
        if (j < len && s[j] == 'Z') {
            char buf[40];
            size_t n = j - i + 1;
            if (n >= sizeof(buf))
                continue;
            memcpy(buf, s + i, n);
            buf[n] = '\0';
            if (hl_parse_iso(buf, ms) == 0)
                return 0;
        }
    }
    return -1;
}

/* "[YYYY-MM-DD HH:MM:SS(.fff)]" or "YYYY-MM-DD HH:MM:SS(,fff|.fff)" at the start, in local time. */
static int find_leading_local(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    if (i < len && s[i] == '[')
        ++i;
    if (len - i < 19)
        return -1;
    struct tm tm = {0};
    int millis = 0;
    char buf[20];
    memcpy(buf, s + i, 19);
    buf[19] = '\0';
    if (sscanf(buf, "%4d-%2d-%2d %2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    size_t j = i + 19;
    if (j < len && (s[j] == '.' || s[j] == ',')) {
        int digits = 0;
        for (++j; j < len && isdigit((unsigned char)s[j]); ++j, ++digits)
            if (digits < 3)
                millis = millis * 10 + (s[j] - '0');
        for (; digits < 3; ++digits)
            millis *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + millis;
    return 0;
}

json_t *hl_logs_parse_gateway_line(const char *line, size_t len, long long mtime_ms)
{
    while (len > 0 && isspace((unsigned char)*line))
        ++line, --len;
    while (len > 0 && isspace((unsigned char)line[len - 1]))
        --len;
    if (len == 0)
        return NULL;
    int64_t ms;
    const char *source;
    if (find_iso_utc(line, len, &ms) == 0 || find_leading_local(line, len, &ms) == 0) {
        source = "embedded";
    } else {
        ms = mtime_ms;
        source = "file_mtime";
    }
    char ts[HL_ISO_TIME_LEN];
    hl_format_iso(ms, ts);
    json_t *msg = json_stringn(line, len);
    if (msg == NULL)
        return NULL; /* not UTF-8: callers clean lines first */
    return json_pack("{s:s, s:s, s:o, s:s}", "ts", ts, "level", gateway_level(line, len), "message", msg, "timestampSource",
                     source);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c >= 0x01 && c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n > avail || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < n; ++k)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return n;
}

static json_t *parse_gateway(const char *line, size_t len, long long mtime_ms)
{
    /* lines that are not valid UTF-8 are shown with U+FFFD replacements rather than dropped or passed through invalid */
    char *clean = hl_malloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)line + i, len - i);
        if (n > 0) {
            memcpy(clean + o, line + i, n);
            o += n;
            i += n;
        } else {
            memcpy(clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            ++i;
        }
    }
    json_t *e = hl_logs_parse_gateway_line(clean, o, mtime_ms);
    free(clean);
    return e;
}

json_t *hl_logs_read_gateway(const char *hermes_home, size_t limit)
{
    char *base = hl_logs_path(hermes_home, true);
    json_t *out = read_rotated(base, limit, parse_gateway);
    free(base);
    return out;
}

json_t *hl_logs_parse_line(bool gateway, const char *line, size_t len, long long mtime_ms)
{
    return gateway ? parse_gateway(line, len, mtime_ms) : parse_link_line(line, len, mtime_ms);
}

/* ---- the limit query ---- */

#define NUMBER_DEFAULT_LIMIT 200

static bool js_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A 0x/0o/0b integer literal (no sign, as Number() wants); -1 when s is not one. Saturates far above the clamp. */
static double radix_literal(const char *s, size_t len)
{
    if (len < 3 || s[0] != '0')
        return -1;
    int base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : s[1] == 'b' || s[1] == 'B' ? 2 : 0;
    if (base == 0)
        return -1;
    double v = 0;
    for (size_t i = 2; i < len; ++i) {
        int d = hl_hexval(s[i]);
        if (d < 0 || d >= base)
            return -1;
        v = v * base + d;
        if (v > 1e18)
            v = 1e18;
    }
    return v;
}

/* A decimal literal: [+-] digits [. digits] [e [+-] digits], or [+-]Infinity; NaN when s is not one. */
static double decimal_literal(const char *s, size_t len)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (len - i == 8 && strncmp(s + i, "Infinity", 8) == 0)
        return neg ? -1e18 : 1e18;
    size_t digits = 0;
    for (; i < len && isdigit((unsigned char)s[i]); ++i)
        ++digits;
    if (i < len && s[i] == '.')
        for (++i; i < len && isdigit((unsigned char)s[i]); ++i)
            ++digits;
    if (digits == 0)
        return NAN;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            ++i;
        size_t exp_digits = 0;
        for (; i < len && isdigit((unsigned char)s[i]); ++i)
            ++exp_digits;
        if (exp_digits == 0)
            return NAN;
    }
    if (i != len)
        return NAN;
    char *copy = hl_strndup(s, len);
    double v = strtod(copy, NULL); /* the grammar above is a subset of strtod's */
    free(copy);
    return v;
}

size_t hl_logs_limit_number(const char *s)
{
    if (s == NULL)
        return NUMBER_DEFAULT_LIMIT;
    size_t len = strlen(s);
    while (len > 0 && js_space(*s))
        ++s, --len;
    while (len > 0 && js_space(s[len - 1]))
        --len;
    if (len == 0)
        return NUMBER_DEFAULT_LIMIT; /* Number("") is 0 */
    double v = radix_literal(s, len);
    if (v < 0)
        v = decimal_literal(s, len);
    if (isnan(v) || v == 0)
        return NUMBER_DEFAULT_LIMIT;
    if (v < 1)
        return 1;
    if (v > HL_LOGREAD_MAX_LIMIT)
        return HL_LOGREAD_MAX_LIMIT;
    return (size_t)v;
}
