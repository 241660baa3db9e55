/*
 * The readers of config.yaml (libyaml underneath): the whole document as JSON (hermes_yaml_json, what the settings and
 * models routes read), skills.disabled (hl_skills_disabled_parse), the memory limits (hl_memory_limits_parse) and
 * platforms.api_server (hl_api_server_yaml_read). The input is the file's text. Checks: each answers 0 or -EINVAL
 * (-EFBIG for the JSON when aliases expand past its bound), the JSON is an object, the disabled names are unique
 * non-empty strings, the limits positive; all four agree on whether the text is malformed YAML.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hermes_internal.h"
#include "hl/hermes_memory.h"
#include "hl/hermes_read.h"
#include "hl/hermes_skills.h"

/** libFuzzer's entry: the input is a config.yaml text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[256] = "";
    json_t *doc = NULL;
    int r_json = hermes_yaml_json(text, size, &doc, err, sizeof(err));
    if (r_json == 0 ? !json_is_object(doc) : (r_json != -EINVAL && r_json != -EFBIG))
        abort();
    json_decref(doc);

    json_t *names = NULL;
    char *warning = NULL;
    int r_skills = hl_skills_disabled_parse(text, size, &names, &warning);
    if ((r_skills != 0 && r_skills != -EINVAL) || !json_is_array(names))
        abort();
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        if (!json_is_string(n) || json_string_length(n) == 0)
            abort();
        for (size_t j = 0; j < i; ++j)
            if (json_equal(json_array_get(names, j), n))
                abort();
    }
    json_decref(names);
    free(warning);

    hl_memory_limits_t limits;
    warning = NULL;
    int r_limits = hl_memory_limits_parse(&limits, text, size, &warning);
    if ((r_limits != 0 && r_limits != -EINVAL) || limits.memory == 0 || limits.user == 0)
        abort();
    free(warning);

    hl_api_server_yaml_t api;
    memset(&api, 0, sizeof(api));
    int r_api = hl_api_server_yaml_read(&api, text, size, err, sizeof(err));
    if (r_api != 0 && r_api != -EINVAL)
        abort();
    hl_api_server_yaml_dispose(&api);
    return 0;
}
