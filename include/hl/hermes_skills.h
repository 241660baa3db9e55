/*
 * A profile's skills (domain layer, src/actors/hermes_skill*.c): the SKILL.md files under <profile>/skills, spec
 * UPSTREAM-HERMES §2.5, STORAGE §3.5, API.md §10. Found and read the way Hermes's skills tool finds them
 * (agent/skill_utils.py iter_skill_index_files, tools/skills_tool.py _find_all_skills): every SKILL.md below skills/,
 * skipping .git, .github, .hub and the other excluded folders and a skill's own references/, templates/, assets/ and
 * scripts/; sorted by path; the first skill of a name wins; name and description from the YAML frontmatter between
 * `---` lines in the first 4000 characters.
 *
 * The pure functions may run on any thread; the ones taking `hermes_home` do blocking file I/O and, in the daemon, run
 * only on the Hermes files actor.
 */
#ifndef HL_HERMES_SKILLS_H
#define HL_HERMES_SKILLS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "hl/common.h"

/** Directory levels walked below skills/ (skills/<category>/<skill>/SKILL.md is 2). */
#define HL_SKILLS_MAX_DEPTH 8
/** Directories visited in one scan. */
#define HL_SKILLS_MAX_DIRS 10000
/** SKILL.md files read in one scan. */
#define HL_SKILLS_MAX_FILES 2000
/** Characters of a SKILL.md that are read, as Hermes reads them (the rest of the file is never opened). */
#define HL_SKILL_MD_CHARS 4000
#define HL_SKILL_NAME_MAX 64
#define HL_SKILL_DESCRIPTION_MAX 1024

/* ---- one SKILL.md (pure) ---- */

/** What a SKILL.md's text says. Owned strings. */
typedef struct st_hl_skill_md_t {
    char *name;              /* frontmatter `name` (NULL when absent or empty: the directory name is used instead) */
    char *description;       /* frontmatter `description`, else the first body line that is not blank or a # heading;
                                whitespace runs collapsed to one space; NULL when none */
    bool name_not_string;    /* `name` is null, a number, a boolean, a list or a mapping: Hermes skips such a skill */
    bool frontmatter_broken; /* the frontmatter is not valid YAML: read as `key: value` lines, as Hermes's fallback does */
    char *yaml_error;        /* with frontmatter_broken: libyaml's line and problem (never the text itself) */
} hl_skill_md_t;

/**
 * Parses SKILL.md text (valid UTF-8; callers pass at most the first HL_SKILL_MD_CHARS characters) as Hermes's
 * parse_frontmatter does: a leading BOM dropped; frontmatter only when the text starts with "---" and a later line is
 * "---" (blanks allowed after it); YAML that is not a mapping gives no keys; YAML that does not parse falls back to
 * `key: value` lines (and sets frontmatter_broken). Never fails; `out` is initialised here.
 */
void hl_skill_md_parse(hl_skill_md_t *out, const char *text, size_t len);

/** Frees what `md` owns. */
void hl_skill_md_dispose(hl_skill_md_t *md);

/* ---- a profile's skills (blocking) ---- */

/** One skill as API.md §10 shows it. Owned strings. */
typedef struct st_hl_skill_t {
    char *name;          /* at most 64 characters */
    char *category;      /* the first folder under skills/ when the skill sits deeper (skills/<cat>/<skill>/SKILL.md);
                            NULL when uncategorised */
    char *description;   /* at most 1024 characters ("..." ends a cut one); "" when none */
    bool enabled;        /* not in the disabled list */
    char *source;        /* "builtin" (skills/.bundled_manifest), the hub's source (skills/.hub/lock.json), or "local" */
    char *trust;         /* "builtin", the hub's trust_level (NULL when it has none), or "local" */
    char *relative_path; /* the skill's folder relative to skills/ ("cat/skill"); never absolute */
} hl_skill_t;

/** A scan's result. */
typedef struct st_hl_skills_t {
    hl_skill_t *items; /* sorted by category (uncategorised last), then name, bytewise */
    size_t count, _cap;
    char *warning; /* NULL, or what was skipped and why ("; "-joined; paths relative to the profile, e.g.
                      "skills/x/SKILL.md: …"): unreadable or non-UTF-8 files, broken frontmatter read by the fallback,
                      names that are not strings, duplicate names, links out of the profile, bounds reached */
} hl_skills_t;

/**
 * Lists the skills of `profile` (NULL/"" = default). `disabled` is a JSON array of names (hl_skills_disabled_load; NULL:
 * none). Walks skills/ at most HL_SKILLS_MAX_DEPTH levels deep, HL_SKILLS_MAX_DIRS directories and HL_SKILLS_MAX_FILES
 * SKILL.md files, following symbolic links only while they stay inside the profile directory (and never round a loop).
 * A SKILL.md with broken frontmatter is listed, read as Hermes reads it (key: value lines), and reported in the
 * warning; one that is not UTF-8, cannot be read, or whose name is not a string is skipped and reported. 0 (a missing
 * skills/ gives no skills, one that leads out of the profile none and a warning), -EINVAL for an invalid profile name,
 * or -ENOENT when the profile directory does not exist (or leads out of the Hermes root); `out` is always initialised.
 */
int hl_skills_scan(hl_skills_t *out, const char *hermes_home, const char *profile, const json_t *disabled) HL_WARN_UNUSED;

/** The skill called `name`, or NULL. Borrowed from `s`. */
const hl_skill_t *hl_skills_find(const hl_skills_t *s, const char *name);

/** Frees what `s` owns and empties it. */
void hl_skills_dispose(hl_skills_t *s);

/** {"name","category","description","enabled","source","trust","relativePath"} (category and trust may be null). */
json_t *hl_skill_json(const hl_skill_t *skill);

/** [Skill…] in the list's order. New reference. */
json_t *hl_skills_json(const hl_skills_t *s);

/**
 * [{"name","label","total","enabled","disabled"}…]: one per category in the list's order, the uncategorised last with
 * name null and label "未分类". New reference.
 */
json_t *hl_skills_categories_json(const hl_skills_t *s);

/* ---- skills.disabled (config.yaml) ---- */

/**
 * The names in config.yaml's skills.disabled as Hermes normalises them: a list of scalars, or one string (a JSON array
 * written as a string is read as that array); each stripped, empty ones and repeats dropped. *names is always a new
 * array. 0; -EINVAL for malformed YAML (reason in *warning, *names empty). A value of another type is ignored with a
 * warning. `warning` may be NULL.
 */
int hl_skills_disabled_parse(const char *text, size_t len, json_t **names, char **warning) HL_WARN_UNUSED;

/**
 * skills.disabled of `profile`'s config.yaml (blocking): an empty list when there is no config.yaml; a file that cannot
 * be read or parsed gives an empty list, a warning and its -errno (-EINVAL when malformed). *names is always set.
 */
int hl_skills_disabled_load(const char *hermes_home, const char *profile, json_t **names, char **warning) HL_WARN_UNUSED;

#endif
