/*
 * `.env` writing (src/actors/hermes_dotenv_edit.c hl_dotenv_set), how provider keys reach a profile's .env. Input: byte 0
 * picks the key, then the value up to the first NUL, then the file's text. Checks, unless it refuses (NULL: quotes the
 * change would re-pair): the result ends with a newline; read back (hl_dotenv_parse) the key holds the value and every
 * other key what it held before; in a file without bad lines, setting the same value again changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_read.h"

static const char *const KEYS[] = {"OPENROUTER_API_KEY", "A", "export", "_x1", "HERMES_HOME"};

/** libFuzzer's entry: key byte, "value\0text". */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *key = KEYS[data[0] % (sizeof(KEYS) / sizeof(KEYS[0]))];
    const char *rest = (const char *)data + 1;
    size_t rest_len = size - 1;
    const char *nul = memchr(rest, '\0', rest_len);
    if (nul == NULL)
        return 0;
    char *value = strndup(rest, (size_t)(nul - rest));
    const char *text = nul + 1;
    size_t len = rest_len - (size_t)(nul - rest) - 1;
    if (value == NULL)
        return 0;

    size_t out_len = 0;
    char *out = hl_dotenv_set(text, len, key, value, &out_len);
    if (out == NULL) { /* refused: quotes the change would re-pair (the file is left alone) */
        free(value);
        return 0;
    }
    if (out_len == 0 || out[out_len - 1] != '\n')
        abort();
    hl_dotenv_t before, after;
    memset(&before, 0, sizeof(before));
    memset(&after, 0, sizeof(after));
    hl_dotenv_parse(&before, text, len);
    hl_dotenv_parse(&after, out, out_len);
    const char *got = hl_dotenv_get(&after, key);
    if (got == NULL || strcmp(got, value) != 0)
        abort(); /* the key does not read back as the value written */
    for (size_t i = 0; i < before.count; ++i) {
        if (strcmp(before.keys[i], key) == 0)
            continue;
        const char *v = hl_dotenv_get(&after, before.keys[i]);
        if (v == NULL || strcmp(v, before.values[i]) != 0)
            abort(); /* another key changed */
    }
    /* in a file without bad lines the same value set again changes nothing (with bad lines, quotes may pair up
       differently once a line is replaced; what is read stays the same, which the checks above cover) */
    size_t again_len = 0;
    char *again = hl_dotenv_set(out, out_len, key, value, &again_len);
    if (before.bad_lines == 0 && (again == NULL || again_len != out_len || memcmp(again, out, out_len) != 0))
        abort();
    hl_dotenv_dispose(&before);
    hl_dotenv_dispose(&after);
    free(again);
    free(out);
    free(value);
    return 0;
}
