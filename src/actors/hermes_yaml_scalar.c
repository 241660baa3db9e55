/*
 * Writing one scalar for config.yaml's editor. A string goes out plain only when both YAML 1.1 (PyYAML) and YAML 1.2
 * (ruamel, which Hermes rewrites the file with) read it back as that same string; the rules are deliberately wider than
 * the grammar (any leading digit, any leading indicator), since a needless pair of quotes costs nothing and a missing
 * one turns a model id into a number or "no" into false. Everything else is double-quoted with escapes, the one style
 * that can hold any text on one line.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "hermes_yaml_edit_internal.h"

/* Words a YAML 1.1 or 1.2 reader resolves to null, a boolean or a special key (any case, to be safe). */
static const char *const special_words[] = {"~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", "<<", "="};

static bool is_special_word(const char *s, size_t len)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(special_words); ++i)
        if (strlen(special_words[i]) == len && strncasecmp(s, special_words[i], len) == 0)
            return true;
    return false;
}

/* Code points that must be escaped: C0 and C1 controls, DEL, and what YAML 1.1 takes as line breaks or a BOM. */
static bool needs_escape(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE ||
           cp == 0xFFFF;
}

/* One UTF-8 sequence at s, already validated: its length and code point. */
static size_t decode(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : 4;
    uint32_t v = s[0] & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < n; ++i)
        v = (v << 6) | (s[i] & 0x3F);
    *cp = v;
    return n;
}

bool yt_needs_quotes(const char *s, size_t len)
{
    if (len == 0 || is_special_word(s, len))
        return true;
    unsigned char first = (unsigned char)s[0], final = (unsigned char)s[len - 1];
    if (strchr("-?:,[]{}#&*!|>'\"%@`+.", first) != NULL || (first >= '0' && first <= '9'))
        return true; /* indicators, signs, numbers, dates, .inf/.nan, document markers */
    if (first == ' ' || first == '\t' || final == ' ' || final == '\t' || final == ':')
        return true;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = decode((const unsigned char *)s + i, &cp);
        if (needs_escape(cp))
            return true;
        /* flow indicators and ':' anywhere, so that one rule holds inside [ ] and { } as well as in block context */
        if (cp == ',' || cp == '[' || cp == ']' || cp == '{' || cp == '}' || cp == ':')
            return true;
        if (cp == '#' && (s[i - 1] == ' ' || s[i - 1] == '\t'))
            return true;
        i += n;
    }
    return false;
}

bool yt_plain_is_string(const char *s, size_t len)
{
    /* what PyYAML (1.1) and ruamel (1.2) resolve a plain scalar to, when not a string: null, booleans, the merge and
     * value keys (special words), and numbers, dates and sexagesimals, which all start with a sign, a dot or a digit */
    if (len == 0 || is_special_word(s, len))
        return false;
    return strchr("+-.0123456789", s[0]) == NULL;
}

static void write_quoted(yt_buf_t *b, const char *s, size_t len)
{
    yt_buf_add(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = decode((const unsigned char *)s + i, &cp);
        char esc[12];
        const char *e = NULL;
        switch (cp) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\t':
            e = "\\t";
            break;
        case '\r':
            e = "\\r";
            break;
        case 0x1B:
            e = "\\e";
            break;
        case 0x85:
            e = "\\N";
            break;
        case 0x2028:
            e = "\\L";
            break;
        case 0x2029:
            e = "\\P";
            break;
        default:
            if (needs_escape(cp)) {
                if (cp <= 0xFF)
                    snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)cp);
                else
                    snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)cp);
                e = esc;
            }
            break;
        }
        if (e != NULL)
            yt_buf_str(b, e);
        else
            yt_buf_add(b, s + i, n);
        i += n;
    }
    yt_buf_add(b, "\"", 1);
}

/* The shortest decimal form that reads back as `v`, always with a '.' so that no reader takes it for an integer. */
static void write_float(yt_buf_t *b, double v)
{
    if (isnan(v)) {
        yt_buf_str(b, ".nan");
        return;
    }
    if (isinf(v)) {
        yt_buf_str(b, v > 0 ? ".inf" : "-.inf");
        return;
    }
    char tmp[48];
    for (int prec = 1; prec <= 17; ++prec) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    char *exp = strchr(tmp, 'e');
    size_t mantissa = exp != NULL ? (size_t)(exp - tmp) : strlen(tmp);
    yt_buf_add(b, tmp, mantissa);
    if (memchr(tmp, '.', mantissa) == NULL)
        yt_buf_str(b, ".0");
    if (exp != NULL)
        yt_buf_str(b, exp);
}

int yt_write_scalar(yt_buf_t *b, const hl_yaml_scalar_t *v)
{
    char num[32];
    switch (v->type) {
    case HL_YAML_NULL:
        yt_buf_str(b, "null");
        return 0;
    case HL_YAML_BOOL:
        yt_buf_str(b, v->boolean ? "true" : "false");
        return 0;
    case HL_YAML_INT:
        snprintf(num, sizeof(num), "%" PRId64, v->integer);
        yt_buf_str(b, num);
        return 0;
    case HL_YAML_FLOAT:
        write_float(b, v->real);
        return 0;
    case HL_YAML_STRING:
        break;
    default:
        return -EINVAL;
    }
    if (v->string == NULL)
        return -EINVAL;
    size_t len = strlen(v->string);
    if (!yt_valid_utf8(v->string, len))
        return -EINVAL;
    if (yt_needs_quotes(v->string, len))
        write_quoted(b, v->string, len);
    else
        yt_buf_add(b, v->string, len);
    return 0;
}
