/*
 * What the updater reads from outside: the release manifest of HermesLink's feed (upd_manifest_parse, then
 * upd_release_verify against a fixed public key and upd_version_cmp against this build's version), and the output of
 * `hermes update --check` (upd_lines_add_text, then upd_interpret_check). The first byte picks the part and the exit
 * code, the rest is the manifest or the output text (for the check: up to the first NUL; after it, the local version).
 * Checks: a parsed release holds every field and a signed text of the documented shape, and never verifies under a
 * key nobody signed with; version comparison is antisymmetric and reflexive; kept lines are non-empty strings, at most
 * UPD_MAX_LINES of them; an understood check answer gives a remote version object (its version a string or null), a
 * reason and no object otherwise, and "available" only with a remote version.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "updater_internal.h"

/* the base64 of 32 bytes that are a valid ed25519 public key no release was ever signed with (a fixed test key) */
#define UNRELATED_KEY "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

/* a NUL-terminated copy of `len` bytes that need not be terminated (strndup would read past them) */
static char *dup_bytes(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static void check_manifest(const char *text, size_t len)
{
    upd_release_t r;
    const char *why = NULL;
    if (upd_manifest_parse(text, len, upd_platform(), &r, &why) != 0) {
        if (why == NULL || *why == '\0')
            abort();
        upd_release_dispose(&r);
        return;
    }
    if (r.version == NULL || r.platform == NULL || r.url == NULL || r.sha256 == NULL || r.size == 0 ||
        r.size > UPD_MAX_BINARY_BYTES || strlen(r.sha256) != 64)
        abort();
    char *signed_text = upd_signed_text(&r);
    if (strncmp(signed_text, "hermeslink-release-v1\n", 22) != 0 || signed_text[strlen(signed_text) - 1] != '\n')
        abort();
    free(signed_text);
    if (upd_release_verify(&r, UNRELATED_KEY) != -EBADMSG)
        abort();
    if (upd_release_verify(&r, "not a key") != -EINVAL)
        abort();
    int ab = upd_version_cmp(r.version, HL_VERSION), ba = upd_version_cmp(HL_VERSION, r.version);
    if ((ab > 0) != (ba < 0) || (ab == 0) != (ba == 0) || upd_version_cmp(r.version, r.version) != 0)
        abort();
    upd_release_dispose(&r);
}

static void check_output(const char *text, size_t len, int exit_code)
{
    const char *nul = memchr(text, '\0', len);
    size_t out_len = nul != NULL ? (size_t)(nul - text) : len;
    char *local = nul != NULL ? dup_bytes(nul + 1, len - out_len - 1) : NULL;
    /* the daemon's local version is a JSON string (from `hermes --version`'s cleaned output): valid UTF-8, no NUL */
    json_t *as_json = local != NULL ? json_string(local) : NULL;
    if (local != NULL && (as_json == NULL || json_string_length(as_json) != len - out_len - 1)) {
        free(local);
        local = NULL;
    }
    json_decref(as_json);
    json_t *lines = json_array();
    upd_lines_add_text(lines, text, out_len);
    if (json_array_size(lines) > UPD_MAX_LINES)
        abort();
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line) if (!json_is_string(line) || json_string_length(line) == 0) abort();
    json_t *remote = NULL;
    bool available = false;
    char *why = upd_interpret_check(lines, exit_code, local, &remote, &available);
    json_t *version = json_object_get(remote, "version");
    if (why == NULL && (remote == NULL || !(json_is_string(version) || json_is_null(version))))
        abort();
    if (why != NULL && remote != NULL)
        abort();
    if (available && remote == NULL)
        abort();
    free(why);
    json_decref(remote);
    json_decref(lines);
    free(local);
}

/** libFuzzer's entry: a selector byte (bit 0: manifest or check output; the rest: the exit code), then the text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    if (data[0] & 1)
        check_manifest(text, size - 1);
    else
        check_output(text, size - 1, data[0] == 0xfe ? -1 : (data[0] >> 1) & 3);
    return 0;
}
