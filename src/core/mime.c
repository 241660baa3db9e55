#include "hl/mime.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "hl/common.h"

#define MAX_FILENAME 255

const char *hl_mime_from_name(const char *name)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {{".jpg", "image/jpeg"},      {".jpeg", "image/jpeg"}, {".png", "image/png"},        {".gif", "image/gif"},
                 {".webp", "image/webp"},     {".mp3", "audio/mpeg"},  {".mp4", "video/mp4"},        {".wav", "audio/wav"},
                 {".pdf", "application/pdf"}, {".txt", "text/plain"},  {".json", "application/json"}};
    const char *dot = name != NULL ? strrchr(name, '.') : NULL;
    for (size_t i = 0; dot != NULL && i < HL_ARRAY_SIZE(types); ++i)
        if (strcasecmp(dot, types[i].ext) == 0)
            return types[i].mime;
    return "application/octet-stream";
}

char *hl_blob_filename(const char *name)
{
    const char *base = name;
    for (const char *p = name; *p; ++p)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t n = strlen(base);
    if (n > MAX_FILENAME)
        n = MAX_FILENAME;
    char *out = hl_strndup(base, n);
    for (char *p = out; *p; ++p)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            *p = '_';
    if (out[0] == '\0' || strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
        free(out);
        return NULL;
    }
    return out;
}
