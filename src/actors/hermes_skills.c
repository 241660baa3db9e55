/*
 * Listing a profile's skills: the walk over skills/ that Hermes's iter_skill_index_files does (os.walk following links,
 * pruning the folders it prunes, SKILL.md paths sorted), bounded in depth, directories and files, and kept inside the
 * profile directory: a link that leads out of it is skipped and reported, so a skill folder cannot make us read files
 * elsewhere on the machine. Then each SKILL.md is read (its first 4000 characters, as Hermes reads it) and turned into
 * the API's Skill.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hl/fsutil.h"
#include "hl/hermes_read.h"
#include "hl/hermes_skills.h"
#include "hermes_internal.h"

/* agent/skill_utils.py EXCLUDED_SKILL_DIRS and SKILL_SUPPORT_DIRS */
static const char *const EXCLUDED[] = {".git", ".github",       ".hub",          ".archive",    ".venv",
                                       "venv", "node_modules",  "site-packages", "__pycache__", ".tox",
                                       ".nox", ".pytest_cache", ".mypy_cache",   ".ruff_cache"};
static const char *const SUPPORT[] = {"references", "templates", "assets", "scripts"};
#define ORG_DIR "_org"

typedef struct st_dir_id_t {
    dev_t dev;
    ino_t ino;
} dir_id_t;

typedef struct st_walk_t {
    const char *profile_real;
    char *active_org; /* skills/_org/.active_org, stripped; NULL: _org is not walked */
    char **found;     /* SKILL.md paths relative to skills/ */
    size_t nfound, cap, dirs;
    dir_id_t stack[HL_SKILLS_MAX_DEPTH + 1]; /* the directories being walked, to never go round a loop of links */
    size_t depth;
    bool too_deep, too_many_dirs, too_many_files;
    char **warning;
} walk_t;

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static bool inside(const char *root, const char *real)
{
    size_t n = strlen(root);
    return strcmp(root, "/") == 0 || (strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/'));
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *rel_join(const char *rel, const char *name)
{
    return *rel == '\0' ? hl_strdup(name) : hl_asprintf("%s/%s", rel, name);
}

/* The sorted names in a directory, "." and ".." left out. */
static char **list_dir(const char *path, size_t *n)
{
    DIR *d = opendir(path);
    char **names = NULL;
    size_t count = 0, cap = 0;
    *n = 0;
    if (d == NULL)
        return NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (count == cap) {
            cap = cap == 0 ? 32 : cap * 2;
            names = hl_realloc(names, cap * sizeof(*names));
        }
        names[count++] = hl_strdup(e->d_name);
    }
    closedir(d);
    if (count > 0)
        qsort(names, count, sizeof(*names), by_str);
    *n = count;
    return names;
}

/*
 * What `path` is once links are followed, if it stays inside the profile: 'd', 'f', or 0 (skipped; reported when it is
 * a folder or a SKILL.md leading out of the profile). Plain files other than SKILL.md cost one lstat.
 */
static int kind_inside(walk_t *w, const char *path, const char *name, const char *rel, struct stat *st)
{
    if (lstat(path, st) != 0)
        return 0;
    bool skill_md = strcmp(name, "SKILL.md") == 0;
    if (S_ISREG(st->st_mode) && !skill_md)
        return 'f';
    if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode))
        return 0;
    char *real = realpath(path, NULL);
    int kind = 0;
    if (real == NULL || stat(real, st) != 0)
        kind = 0; /* a dangling link, or gone meanwhile */
    else if (!inside(w->profile_real, real)) {
        if (S_ISDIR(st->st_mode) || skill_md)
            hermes_add_warning(w->warning, hl_asprintf("skills/%s: a link out of the profile, skipped", rel));
    } else if (S_ISDIR(st->st_mode))
        kind = 'd';
    else if (S_ISREG(st->st_mode))
        kind = 'f';
    free(real);
    return kind;
}

static void walk(walk_t *w, const char *path, const char *rel);

static void visit_dir(walk_t *w, const char *path, const char *rel, const struct stat *st)
{
    for (size_t i = 0; i < w->depth; ++i)
        if (w->stack[i].dev == st->st_dev && w->stack[i].ino == st->st_ino)
            return; /* a link back to a folder being walked */
    if (w->depth > HL_SKILLS_MAX_DEPTH) {
        w->too_deep = true;
        return;
    }
    if (w->dirs >= HL_SKILLS_MAX_DIRS) {
        w->too_many_dirs = true;
        return;
    }
    ++w->dirs;
    w->stack[w->depth++] = (dir_id_t){st->st_dev, st->st_ino};
    walk(w, path, rel);
    --w->depth;
}

static void walk(walk_t *w, const char *path, const char *rel)
{
    size_t n;
    char **names = list_dir(path, &n);
    char *skill_md = hl_path_join(path, "SKILL.md");
    struct stat sst;
    bool has_skill = stat(skill_md, &sst) == 0 && S_ISREG(sst.st_mode); /* a skill's own support folders are not walked */
    free(skill_md);
    for (size_t i = 0; i < n; ++i) {
        const char *name = names[i];
        char *child = hl_path_join(path, name), *crel = rel_join(rel, name);
        struct stat st;
        int kind = kind_inside(w, child, name, crel, &st);
        if (kind == 'f' && strcmp(name, "SKILL.md") == 0) {
            if (w->nfound >= HL_SKILLS_MAX_FILES) {
                w->too_many_files = true;
            } else {
                if (w->nfound == w->cap) {
                    w->cap = w->cap == 0 ? 64 : w->cap * 2;
                    w->found = hl_realloc(w->found, w->cap * sizeof(*w->found));
                }
                w->found[w->nfound++] = crel;
                crel = NULL;
            }
        } else if (kind == 'd' && !in_list(name, EXCLUDED, HL_ARRAY_SIZE(EXCLUDED)) &&
                   !(has_skill && in_list(name, SUPPORT, HL_ARRAY_SIZE(SUPPORT)))) {
            bool org_root = *rel == '\0' && strcmp(name, ORG_DIR) == 0, in_org = strcmp(rel, ORG_DIR) == 0;
            /* org mirrors: only the active org's, and none without the marker (skill_utils.py, M2 org mirrors) */
            if ((!org_root || w->active_org != NULL) && (!in_org || strcmp(name, w->active_org) == 0))
                visit_dir(w, child, crel, &st);
        }
        free(child);
        free(crel);
        free(names[i]);
    }
    free(names);
}

/* The first HL_SKILL_MD_CHARS characters of a file (realpath already checked), or -errno / -EILSEQ. */
static int read_head(const char *path, char **text, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    size_t cap = HL_SKILL_MD_CHARS * 4, n = 0;
    char *buf = hl_malloc(cap + 1);
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = -errno;
            close(fd);
            free(buf);
            return e;
        }
        if (r == 0 || (n += (size_t)r) == cap)
            break;
    }
    close(fd);
    /* 4000 characters take at most 16000 bytes, so a longer file is cut on a character boundary here */
    n = hermes_utf8_prefix(buf, n, HL_SKILL_MD_CHARS);
    if (!hermes_utf8_valid(buf, n)) {
        free(buf);
        return -EILSEQ;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

/* ---- provenance: skills/.bundled_manifest and skills/.hub/lock.json ---- */

typedef struct st_provenance_t {
    json_t *bundled; /* name → true */
    json_t *hub;     /* name → {source, trust_level} */
} provenance_t;

static void load_provenance(provenance_t *p, const char *profile_real, const char *skills)
{
    p->bundled = json_object();
    p->hub = NULL;
    char *text = NULL;
    size_t len = 0;
    if (hermes_read_file(profile_real, skills, ".bundled_manifest", &text, &len) == 0 && hermes_utf8_valid(text, len)) {
        for (size_t i = 0; i < len;) {
            const char *nl = memchr(text + i, '\n', len - i), *line = text + i;
            size_t end = nl != NULL ? (size_t)(nl - text) : len;
            const char *colon = memchr(line, ':', end - i);
            size_t start, n = hermes_strip(line, colon != NULL ? (size_t)(colon - line) : end - i, &start);
            if (n > 0) {
                char *name = hl_strndup(line + start, n);
                json_object_set_new(p->bundled, name, json_true());
                free(name);
            }
            i = end + 1;
        }
    }
    free(text);
    text = NULL;
    char *hub_dir = hl_path_join(skills, ".hub");
    if (hermes_read_file(profile_real, hub_dir, "lock.json", &text, &len) == 0) {
        json_t *lock = json_loadb(text, len, 0, NULL);
        json_t *installed = json_object_get(lock, "installed");
        if (json_is_object(installed))
            p->hub = json_incref(installed);
        json_decref(lock);
    }
    free(hub_dir);
    free(text);
}

static void set_provenance(const provenance_t *p, hl_skill_t *s)
{
    json_t *hub = json_object_get(p->hub, s->name);
    if (json_object_get(p->bundled, s->name) != NULL) {
        s->source = hl_strdup("builtin");
        s->trust = hl_strdup("builtin");
    } else if (json_is_object(hub)) {
        const char *source = json_string_value(json_object_get(hub, "source"));
        const char *trust = json_string_value(json_object_get(hub, "trust_level"));
        s->source = hl_strdup(source != NULL && *source != '\0' ? source : "hub");
        s->trust = hl_strdup(trust);
    } else {
        s->source = hl_strdup("local");
        s->trust = hl_strdup("local");
    }
}

/* ---- building the list ---- */

static bool is_disabled(const json_t *disabled, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(disabled, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

/* Python's s[:max] for names, and Hermes's cut with "..." for descriptions. */
static char *cut(char *s, size_t max, bool ellipsis)
{
    size_t len = strlen(s);
    if (hermes_utf8_chars(s, len) <= max)
        return s;
    size_t keep = hermes_utf8_prefix(s, len, ellipsis ? max - 3 : max);
    char *out = hl_asprintf("%.*s%s", (int)keep, s, ellipsis ? "..." : "");
    free(s);
    return out;
}

static void add_skill(hl_skills_t *out, const char *rel, hl_skill_md_t *md, const json_t *disabled, const provenance_t *p)
{
    const char *slash = strrchr(rel, '/');
    size_t dir_len = slash != NULL ? (size_t)(slash - rel) : 0;
    char *dir = hl_strndup(rel, dir_len);
    const char *base = strrchr(dir, '/');
    base = base != NULL ? base + 1 : *dir != '\0' ? dir : "skills";
    char *name = cut(md->name != NULL ? md->name : hl_strdup(base), HL_SKILL_NAME_MAX, false);
    md->name = NULL;
    if (hl_skills_find(out, name) != NULL) {
        hermes_add_warning(&out->warning, hl_asprintf("skills/%s: a skill named \"%s\" comes first, skipped", rel, name));
        free(name);
        free(dir);
        return;
    }
    if (out->count == out->_cap) {
        out->_cap = out->_cap == 0 ? 32 : out->_cap * 2;
        out->items = hl_realloc(out->items, out->_cap * sizeof(*out->items));
    }
    hl_skill_t *s = &out->items[out->count++];
    memset(s, 0, sizeof(*s));
    s->name = name;
    const char *first = strchr(rel, '/');
    /* skills/<category>/<skill>/SKILL.md: three parts or more */
    if (first != NULL && strchr(first + 1, '/') != NULL)
        s->category = hl_strndup(rel, (size_t)(first - rel));
    s->description = md->description != NULL ? cut(md->description, HL_SKILL_DESCRIPTION_MAX, true) : hl_strdup("");
    md->description = NULL;
    s->enabled = !is_disabled(disabled, name);
    s->relative_path = dir;
    set_provenance(p, s);
}

static void read_skill(hl_skills_t *out, const char *skills, const char *rel, const json_t *disabled, const provenance_t *p)
{
    char *path = hl_path_join(skills, rel), *real = realpath(path, NULL), *text = NULL;
    size_t len = 0;
    int ret = real == NULL ? -errno : read_head(real, &text, &len);
    if (ret != 0) {
        hermes_add_warning(&out->warning,
                           hl_asprintf("skills/%s: %s, skipped", rel, ret == -EILSEQ ? "not UTF-8 text" : strerror(-ret)));
    } else {
        hl_skill_md_t md;
        hl_skill_md_parse(&md, text, len);
        if (md.frontmatter_broken)
            hermes_add_warning(&out->warning,
                               hl_asprintf("skills/%s: %s; read as key: value lines, as Hermes does", rel, md.yaml_error));
        if (md.name_not_string)
            hermes_add_warning(&out->warning, hl_asprintf("skills/%s: name is not a string, skipped as Hermes does", rel));
        else
            add_skill(out, rel, &md, disabled, p);
        hl_skill_md_dispose(&md);
    }
    free(text);
    free(real);
    free(path);
}

static int category_order(const hl_skill_t *a, const hl_skill_t *b)
{
    if (a->category == NULL || b->category == NULL)
        return (a->category == NULL) - (b->category == NULL); /* uncategorised last */
    return strcmp(a->category, b->category);
}

static int by_category_name(const void *pa, const void *pb)
{
    const hl_skill_t *a = pa, *b = pb;
    int c = category_order(a, b);
    return c != 0 ? c : strcmp(a->name, b->name);
}

/* skills/_org/.active_org, stripped, or NULL. */
static char *active_org(const char *profile_real, const char *skills)
{
    char *org_dir = hl_path_join(skills, ORG_DIR), *text = NULL, *org = NULL;
    size_t len = 0, start;
    if (hermes_read_file(profile_real, org_dir, ".active_org", &text, &len) == 0 && hermes_utf8_valid(text, len)) {
        size_t n = hermes_strip(text, len, &start);
        if (n > 0 && memchr(text + start, '/', n) == NULL)
            org = hl_strndup(text + start, n);
    }
    free(text);
    free(org_dir);
    return org;
}

int hl_skills_scan(hl_skills_t *out, const char *hermes_home, const char *profile, const json_t *disabled)
{
    memset(out, 0, sizeof(*out));
    char *dir = hl_hermes_profile_dir(hermes_home, profile);
    if (dir == NULL)
        return -EINVAL;
    char *root_real = hermes_root_real(hermes_home), *profile_real = NULL, *skills = NULL, *skills_real = NULL;
    int ret = 0;
    if (!hermes_dir_inside(root_real, dir) || (profile_real = realpath(dir, NULL)) == NULL) {
        ret = -ENOENT;
        goto Exit;
    }
    skills = hl_path_join(profile_real, "skills");
    if ((skills_real = realpath(skills, NULL)) == NULL)
        goto Exit; /* no skills yet */
    if (!hermes_dir_inside(profile_real, skills_real)) {
        hermes_add_warning(&out->warning, hl_strdup("skills: a link out of the profile, not read"));
        goto Exit;
    }
    walk_t w = {.profile_real = profile_real, .warning = &out->warning};
    w.active_org = active_org(profile_real, skills_real);
    struct stat st;
    if (stat(skills_real, &st) == 0)
        visit_dir(&w, skills_real, "", &st);
    if (w.too_deep)
        hermes_add_warning(&out->warning, hl_asprintf("skills: folders deeper than %d levels not read", HL_SKILLS_MAX_DEPTH));
    if (w.too_many_dirs)
        hermes_add_warning(&out->warning, hl_asprintf("skills: more than %d folders, the rest not read", HL_SKILLS_MAX_DIRS));
    if (w.too_many_files)
        hermes_add_warning(&out->warning,
                           hl_asprintf("skills: more than %d SKILL.md files, the rest not read", HL_SKILLS_MAX_FILES));
    if (w.nfound > 0)
        qsort(w.found, w.nfound, sizeof(*w.found), by_str);
    provenance_t prov;
    load_provenance(&prov, profile_real, skills_real);
    json_t *none = disabled == NULL ? json_array() : NULL;
    for (size_t i = 0; i < w.nfound; ++i) {
        read_skill(out, skills_real, w.found[i], disabled != NULL ? disabled : none, &prov);
        free(w.found[i]);
    }
    json_decref(none);
    json_decref(prov.bundled);
    json_decref(prov.hub);
    free(w.found);
    free(w.active_org);
    if (out->count > 0)
        qsort(out->items, out->count, sizeof(*out->items), by_category_name);
Exit:
    free(skills_real);
    free(skills);
    free(profile_real);
    free(root_real);
    free(dir);
    return ret;
}
