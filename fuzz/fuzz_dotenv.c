/*
 * `.env` reading (src/actors/hermes_dotenv.c hl_dotenv_parse), the profile files that hold provider keys. The input is
 * the file's text (NULs allowed). Checks: every key is a valid .env key and appears once (the last assignment wins),
 * hl_dotenv_get finds each key's own value, and the bad-line count and first bad line agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl/hermes_read.h"

/** libFuzzer's entry: the input is a .env file's text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hl_dotenv_t env;
    memset(&env, 0, sizeof(env));
    hl_dotenv_parse(&env, (const char *)data, size);
    if ((env.bad_lines == 0) != (env.first_bad_line == 0))
        abort();
    for (size_t i = 0; i < env.count; ++i) {
        const char *k = env.keys[i];
        if (k == NULL || env.values[i] == NULL || k[0] == '\0')
            abort();
        for (const char *c = k; *c != '\0'; ++c)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_' || (c != k && *c >= '0' && *c <= '9')))
                abort();
        if (hl_dotenv_get(&env, k) != env.values[i])
            abort();
        for (size_t j = 0; j < i; ++j)
            if (strcmp(env.keys[j], k) == 0)
                abort();
    }
    hl_dotenv_dispose(&env);
    return 0;
}
