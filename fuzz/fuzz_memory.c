/*
 * Memory files (src/actors/hermes_memory.c): MEMORY.md / USER.md text parsed as Hermes does (hl_memory_parse), then
 * de-duplicated, counted and written back (hl_memory_serialize). The input is the file's text; text Hermes could not
 * read (hl_memory_text_valid false) is still parsed, as a corrupt file would be. Checks: entries are non-empty,
 * stripped, NUL-terminated and hold no separator; the serialised text is the entries joined by "\n§\n"; de-duplication
 * keeps the first copy of each entry.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_memory.h"

#define SEP_LEN 4 /* "\n§\n" in UTF-8 */

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/** libFuzzer's entry: the input is a memory file's text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)hl_memory_text_valid((const char *)data, size);
    /* entries are C strings: a NUL inside one (a corrupt file) cuts what strlen sees, so the lengths are checked without */
    bool has_nul = memchr(data, '\0', size) != NULL;
    hl_memory_entries_t e;
    hl_memory_parse(&e, (const char *)data, size);
    size_t total = 0;
    for (size_t i = 0; i < e.count; ++i) {
        const char *s = e.items[i];
        size_t n = strlen(s);
        if (!has_nul && (n == 0 || ascii_space(s[0]) || ascii_space(s[n - 1])))
            abort();
        total += n + (i > 0 ? SEP_LEN : 0);
    }
    size_t len = 0;
    char *text = hl_memory_serialize(&e, &len);
    if (text == NULL || (!has_nul && len != total) || strlen(text) > len)
        abort();
    free(text);
    (void)hl_memory_chars(&e);
    size_t before = e.count;
    hl_memory_dedupe(&e);
    if (e.count > before)
        abort();
    for (size_t i = 0; i < e.count; ++i)
        for (size_t j = 0; j < i; ++j)
            if (!has_nul && strcmp(e.items[i], e.items[j]) == 0)
                abort();
    hl_memory_entries_dispose(&e);
    return 0;
}
