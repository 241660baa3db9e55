/*
 * SKILL.md frontmatter (src/actors/hermes_skill_md.c hl_skill_md_parse): the `---` block read as YAML with libyaml, or
 * as `key: value` lines when it does not parse, and the description taken from it or from the body. The input is the
 * file's first characters; callers pass valid UTF-8 only, so other input is skipped. Checks: a name is never empty, a
 * description is collapsed (no leading, trailing or repeated spaces, no line breaks or tabs), a broken frontmatter
 * carries an error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hermes_internal.h"
#include "hl/hermes_skills.h"

/** libFuzzer's entry: the input is a SKILL.md text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!hermes_utf8_valid((const char *)data, size))
        return 0;
    hl_skill_md_t md;
    hl_skill_md_parse(&md, (const char *)data, size);
    if (md.name != NULL && md.name[0] == '\0')
        abort();
    if (md.description != NULL) {
        const char *d = md.description;
        size_t n = strlen(d);
        if (n == 0 || d[0] == ' ' || d[n - 1] == ' ' || strstr(d, "  ") != NULL || strpbrk(d, "\n\r\t") != NULL)
            abort();
    }
    if (md.frontmatter_broken != (md.yaml_error != NULL))
        abort();
    hl_skill_md_dispose(&md);
    return 0;
}
