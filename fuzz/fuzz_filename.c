/*
 * Content-Disposition / upload file names (src/core/mime.c): hl_blob_filename must turn any client name into a safe
 * basename (only [A-Za-z0-9_.-], 1..255 bytes, never "." or "..") or refuse it, and hl_mime_from_name must always answer
 * a type. The input is the name (NUL bytes end it, as in a C string from a JSON field or a header).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/mime.h"

/** libFuzzer's entry: one file name per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1);
    if (name == NULL)
        return 0;
    memcpy(name, data, size);
    name[size] = '\0';
    const char *mime = hl_mime_from_name(name);
    if (mime == NULL || strchr(mime, '/') == NULL)
        abort();
    char *safe = hl_blob_filename(name);
    if (safe != NULL) {
        size_t len = strlen(safe);
        if (len == 0 || len > 255 || strcmp(safe, ".") == 0 || strcmp(safe, "..") == 0)
            abort();
        for (size_t i = 0; i < len; ++i) {
            char c = safe[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
                abort();
        }
        /* the safe name is a fixed point: sanitising it again changes nothing */
        char *again = hl_blob_filename(safe);
        if (again == NULL || strcmp(again, safe) != 0)
            abort();
        free(again);
        free(safe);
    }
    free(name);
    return 0;
}
