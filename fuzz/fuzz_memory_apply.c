/*
 * Memory changes (src/actors/hermes_memory.c hl_memory_apply): add, replace, remove or clear on the entries of a memory
 * file, as Hermes's memory tool does. Input: byte 0 the operation (low 2 bits) and the limit (the rest: 0..63 × 16
 * characters), then the file text, the content and the match, separated by NUL bytes. Checks: a refused change leaves
 * the (de-duplicated) entries exactly as they were; an accepted add or replace stays within the limit; no change leaves
 * two equal entries; hl_memory_op_check never refuses what hl_memory_apply accepts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_memory.h"

/** libFuzzer's entry: op byte, "file\0content\0match". */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *parts[3] = {"", NULL, NULL};
    const char *p = buf, *end = buf + size - 1;
    for (size_t i = 0; i < 3 && p <= end; ++i) {
        parts[i] = p;
        p += strlen(p) + 1;
    }
    hl_memory_op_t op = {.kind = (hl_memory_op_kind_t)(data[0] & 3), .content = parts[1], .match = parts[2]};
    size_t limit = (size_t)(data[0] >> 2) * 16;

    hl_memory_entries_t e;
    hl_memory_parse(&e, parts[0], strlen(parts[0]));
    hl_memory_dedupe(&e);
    char *before = hl_memory_serialize(&e, NULL);
    size_t before_chars = hl_memory_chars(&e);
    hl_memory_status_t st = hl_memory_apply(&e, &op, limit);
    char *after = hl_memory_serialize(&e, NULL);
    if (st != HL_MEMORY_OK) {
        if (strcmp(before, after) != 0)
            abort(); /* a refused change must leave the entries as they were */
    } else {
        if (hl_memory_op_check(&op) != HL_MEMORY_OK)
            abort();
        size_t chars = hl_memory_chars(&e);
        if ((op.kind == HL_MEMORY_ADD || op.kind == HL_MEMORY_REPLACE) && chars > limit && chars > before_chars)
            abort(); /* an accepted add or replace never grows the file past the limit */
        if (op.kind == HL_MEMORY_CLEAR && e.count != 0)
            abort();
    }
    for (size_t i = 0; i < e.count; ++i)
        for (size_t j = 0; j < i; ++j)
            if (strcmp(e.items[i], e.items[j]) == 0)
                abort();
    free(before);
    free(after);
    hl_memory_entries_dispose(&e);
    free(buf);
    return 0;
}
