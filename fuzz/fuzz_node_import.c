/*
 * The import of the Node HermesLink's JSON files (src/core/node_parse.c): credentials.json, and one conversation's
 * manifest.json, snapshot.json and events.json, validated and normalised before anything is imported. Input: byte 0
 * even → the rest is credentials.json; odd → the rest is the manifest, snapshot and events texts separated by NUL bytes
 * (a missing part is an absent file). Checks: success gives an object (devices appended to the array as objects), a
 * refusal gives no conversation and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hl/node_home.h"

#define CONV "conv_0123456789abcdef0123456789abcd01"

static void credentials(const char *text)
{
    json_t *devices = json_array();
    char err[256] = "";
    int ret = hl_node_parse_credentials(text, devices, err, sizeof(err));
    /* a refusal may leave the devices before the bad one appended: the import then discards the whole home */
    if (ret != 0 && (err[0] == '\0' || ret > 0))
        abort();
    size_t i;
    json_t *d;
    json_array_foreach(devices, i, d) if (!json_is_object(d)) abort();
    json_decref(devices);
}

static void conversation(const char *buf, size_t len)
{
    const char *parts[3] = {NULL, NULL, NULL};
    const char *p = buf, *end = buf + len;
    for (size_t i = 0; i < 3 && p <= end; ++i) {
        parts[i] = p;
        p += strlen(p) + 1;
    }
    if (parts[0] == NULL)
        return;
    json_t *out = NULL;
    char err[256] = "";
    int ret = hl_node_parse_conversation(CONV, parts[0], parts[1], parts[2], &out, err, sizeof(err));
    if (ret == 0) {
        if (!json_is_object(out))
            abort();
        json_decref(out);
    } else if (out != NULL || err[0] == '\0' || ret > 0) {
        abort();
    }
}

/** libFuzzer's entry: selector byte, then the file text(s). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* a NUL-terminated copy: the parsers take C strings, as read from a file */
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    if ((data[0] & 1) == 0)
        credentials(text);
    else
        conversation(text, size - 1);
    free(text);
    return 0;
}
