/*
 * One SKILL.md read as Hermes reads it (agent/skill_utils.py parse_frontmatter and the name / description rules of
 * tools/skills_tool.py), so that a skill has here the name Hermes gives it: skills.disabled matches on that name.
 *
 * The frontmatter is parsed with the shared depth-limited libyaml loader; its scalars are typed the way PyYAML's safe
 * loader types plain scalars (YAML 1.1), because Hermes drops a skill whose name turns out not to be a string.
 */
#include <pthread.h>
#include <regex.h>
#include <string.h>

#include "hl/hermes_skills.h"
#include "hermes_internal.h"

#define BOM "\xef\xbb\xbf"

/* PyYAML's implicit resolvers for booleans, integers, floats and timestamps (yaml/resolver.py), as one POSIX ERE. */
static const char *const NON_STRING =
    "^(yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    "|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+"
    "|[-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*"
    "|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)"
    "|[0-9]{4}-[0-9]{2}-[0-9]{2}"
    "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?)$";

static regex_t non_string_re;
static pthread_once_t non_string_once = PTHREAD_ONCE_INIT;

static void compile_non_string(void)
{
    if (regcomp(&non_string_re, NON_STRING, REG_EXTENDED | REG_NOSUB) != 0)
        hl_fatal("regcomp");
}

/* True when PyYAML would load the node as something other than a string. */
static bool not_string(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || hermes_yaml_is_null(n))
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    pthread_once(&non_string_once, compile_non_string);
    return regexec(&non_string_re, (const char *)n->data.scalar.value, 0, NULL, 0) == 0;
}

/* Python's " ".join(s.split()): whitespace runs become one space, none at the ends. NULL when nothing is left. */
static char *collapsed(const char *s, size_t len)
{
    char *out = hl_malloc(len + 1), *p = out;
    size_t i = 0, n;
    while (i < len) {
        if (hermes_space_at(s + i, len - i) == 0) {
            *p++ = s[i++];
            continue;
        }
        while (i < len && (n = hermes_space_at(s + i, len - i)) > 0)
            i += n;
        if (p != out && i < len)
            *p++ = ' ';
    }
    *p = '\0';
    if (p == out) {
        free(out);
        return NULL;
    }
    return out;
}

/* The text of a usable scalar (no NUL inside), else NULL. */
static char *scalar_text(const yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE || hermes_yaml_is_null(n) ||
        memchr(n->data.scalar.value, '\0', n->data.scalar.length) != NULL)
        return NULL;
    return hl_strndup((const char *)n->data.scalar.value, n->data.scalar.length);
}

static void from_yaml(hl_skill_md_t *out, yaml_document_t *doc)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE)
        return; /* a frontmatter that is not a mapping gives no keys */
    yaml_node_t *name = hermes_yaml_get(doc, root, "name");
    if (name != NULL) {
        if (not_string(name) || memchr(name->data.scalar.value, '\0', name->data.scalar.length) != NULL)
            out->name_not_string = true;
        else
            out->name = scalar_text(name);
    }
    char *desc = scalar_text(hermes_yaml_get(doc, root, "description"));
    if (desc != NULL) {
        out->description = collapsed(desc, strlen(desc));
        free(desc);
    }
}

/* Hermes's fallback for YAML that does not parse: `key: value` lines, stripped, the last of a key winning. */
static void from_lines(hl_skill_md_t *out, const char *y, size_t len)
{
    size_t start;
    len = hermes_strip(y, len, &start);
    y += start;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(y + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - y) : len;
        const char *line = y + i, *colon = memchr(line, ':', end - i);
        if (colon != NULL) {
            size_t ks, vs, kl = hermes_strip(line, (size_t)(colon - line), &ks);
            size_t vl = hermes_strip(colon + 1, (size_t)(y + end - colon - 1), &vs);
            const char *key = line + ks, *val = colon + 1 + vs;
            if (kl == 4 && memcmp(key, "name", 4) == 0) {
                free(out->name);
                out->name = vl > 0 ? hl_strndup(val, vl) : NULL;
            } else if (kl == 11 && memcmp(key, "description", 11) == 0) {
                free(out->description);
                out->description = collapsed(val, vl);
            }
        }
        i = end + 1;
    }
}

/* The first body line that is neither blank nor a heading, collapsed. */
static char *first_body_line(const char *body, size_t len)
{
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - body) : len, start;
        size_t n = hermes_strip(body + i, end - i, &start);
        if (n > 0 && body[i + start] != '#')
            return collapsed(body + i + start, n);
        i = end + 1;
    }
    return NULL;
}

/*
 * Finds the closing line as Hermes's re.search(r"\n---\s*\n", text[3:]) does: a newline, "---", then blanks that
 * include a newline. Sets *yaml_end (where the frontmatter ends) and *body (after the last newline of those blanks).
 */
static bool find_close(const char *t, size_t len, size_t *yaml_end, size_t *body)
{
    for (size_t i = 3; i + 4 <= len; ++i) {
        if (t[i] != '\n' || memcmp(t + i + 1, "---", 3) != 0)
            continue;
        size_t j = i + 4, n, last_nl = 0;
        bool nl = false;
        while (j < len && (n = hermes_space_at(t + j, len - j)) > 0) {
            if (t[j] == '\n') {
                nl = true;
                last_nl = j;
            }
            j += n;
        }
        if (nl) {
            *yaml_end = i;
            *body = last_nl + 1;
            return true;
        }
    }
    return false;
}

void hl_skill_md_parse(hl_skill_md_t *out, const char *text, size_t len)
{
    memset(out, 0, sizeof(*out));
    if (len >= 3 && memcmp(text, BOM, 3) == 0) {
        text += 3;
        len -= 3;
    }
    size_t body = 0, yaml_end;
    if (len >= 3 && memcmp(text, "---", 3) == 0 && find_close(text, len, &yaml_end, &body)) {
        yaml_document_t doc;
        char err[256];
        if (hermes_yaml_load(&doc, text + 3, yaml_end - 3, "frontmatter", err, sizeof(err)) == 0) {
            from_yaml(out, &doc);
            yaml_document_delete(&doc);
        } else {
            out->frontmatter_broken = true;
            out->yaml_error = hl_strdup(err);
            from_lines(out, text + 3, yaml_end - 3);
        }
    }
    if (out->name != NULL && out->name[0] == '\0') {
        free(out->name);
        out->name = NULL;
    }
    if (out->description == NULL)
        out->description = first_body_line(text + body, len - body);
}

void hl_skill_md_dispose(hl_skill_md_t *md)
{
    free(md->name);
    free(md->description);
    free(md->yaml_error);
    memset(md, 0, sizeof(*md));
}
