/*
 * A Hermes home for the integration suites of the Hermes files actor (profiles, memory, skills, permissions, tool and
 * model configs): hlth_fill() lays out, in a test env's HERMES_HOME, the fixture described below, written from the tables
 * of harness_hermes.c (the fixture's content lives in that C file, not in files of the source tree: each test gets a
 * fresh copy in its own temporary env and can read the exact text it was given back through the hlth_* accessors).
 *
 * Contract of hlth_fill(env, active) — what a suite may rely on, and nothing more:
 *
 *   <HERMES_HOME>/                     the default profile (the home itself)
 *     config.yaml                      commented YAML (comments above and beside keys, quoted and plain scalars, a
 *                                      nested mapping, block sequences): model {default, provider}, approvals, a top-level
 *                                      command_allowlist, memory (char limits 2200 / 1375), skills.disabled
 *                                      [arxiv-search], terminal, platform_toolsets.api_server, an unknown block
 *                                      x_custom_block; no api_server key
 *     .env                             a comment and OPENROUTER_API_KEY; no API_SERVER_KEY (apiKeyConfigured false)
 *     SOUL.md
 *     memories/MEMORY.md, USER.md      entries joined by "\n§\n", no trailing newline (hlth_memory)
 *     skills/research/arxiv-search/SKILL.md, skills/research/paper-summary/SKILL.md, skills/quick-notes/SKILL.md
 *     profiles/work/
 *       config.yaml                    commented; model mapping, approvals manual, skills.disabled [git-blame],
 *                                      platforms.api_server.enabled true
 *       .env                           API_SERVER_ENABLED, API_SERVER_HOST 127.0.0.1, API_SERVER_PORT HLTH_WORK_API_PORT,
 *                                      API_SERVER_KEY HLTH_WORK_API_KEY (the only profile with a key), OPENAI_API_KEY
 *       SOUL.md, memories/MEMORY.md, USER.md
 *       skills/software-development/code-review/SKILL.md, …/git-blame/SKILL.md, skills/productivity/meeting-notes/SKILL.md,
 *       skills/scratchpad/SKILL.md     (uncategorised, no description in its frontmatter: the first body line is it),
 *       skills/.bundled_manifest       "code-review:<hash>" (a builtin skill)
 *     profiles/art/
 *       config.yaml                    commented; `model:` as a plain string, approvals off; no skills block
 *       .env                           ANTHROPIC_API_KEY and API_SERVER_PORT HLTH_ART_API_PORT, no API_SERVER_KEY
 *       memories/MEMORY.md (one entry spans lines), USER.md
 *       skills/creative/image-prompt/SKILL.md, skills/creative/palette/SKILL.md (its description holds ": ", quoted),
 *       skills/sketchbook/SKILL.md
 *     active_profile                   only when `active` is not NULL: that name and a newline
 *
 * Directories are 0700, files 0600. There is no gateway.pid, no lock file, no state.db and nothing in HERMESLINK_HOME
 * (profiles.json is HermesLink's own, made by the daemon). Call it before the daemon starts (the daemon also follows
 * later changes: inotify). Every helper aborts the test (ck_assert) when the file system refuses.
 */
#ifndef HLT_HARNESS_HERMES_H
#define HLT_HARNESS_HERMES_H

#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define HLTH_WORK_API_KEY "hlth-work-api-key-0123456789abcdef"
#define HLTH_WORK_API_PORT 18743
#define HLTH_ART_API_PORT 18744

/**
 * `method path` to the daemon over `proto` with a bearer (NULL: none) and a JSON body (NULL: none), the path sent as is
 * (traversal tests), 20 s at most; asserts that the transfer worked over that protocol. Caller frees `res`.
 */
void hlth_request(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                  const char *body, hlt_response_t *res);

/**
 * hlth_request, then asserts the error answer: `status`, the envelope with `code` (hlt_assert_error). Frees the answer.
 */
void hlth_call_error(const hlt_daemon_t *d, hlt_proto_t proto, const char *bearer, const char *method, const char *path,
                     const char *body, long status, const char *code);

/** The fixture's profiles, default first then the named ones sorted: {"default", "art", "work"}. */
extern const char *const HLTH_PROFILES[3];

/** Lays out the fixture in env->hermes_home (as hlt_env_init made it: empty); `active` NULL: no active_profile file. */
void hlth_fill(const hlt_env_t *env, const char *active);

/** The exact text hlth_fill wrote at `rel` (e.g. "config.yaml", "memories/USER.md") in `profile`, NULL if none. */
const char *hlth_text(const char *profile, const char *rel);

/**
 * The entries of a profile's memory file as written ("memory": MEMORY.md, "user": USER.md), in file order; returns their
 * count and sets *entries to a static NULL-terminated array (0 and NULL for an unknown profile or target).
 */
size_t hlth_memory(const char *profile, const char *target, const char *const **entries);

/** A skill of the fixture, as STORAGE.md §3.5 derives it. */
typedef struct st_hlth_skill_t {
    const char *profile;
    const char *name;
    const char *category;      /* NULL: uncategorised (skills/<name>/SKILL.md) */
    const char *description;   /* what the listing should show (frontmatter, or the first body line) */
    const char *relative_path; /* the skill's folder relative to skills/ */
    int enabled;               /* 0 when config.yaml's skills.disabled names it */
    int builtin;               /* listed in skills/.bundled_manifest */
} hlth_skill_t;

/** Every skill of the fixture: by profile (HLTH_PROFILES' order), then category (NULL last), then name; *n its count. */
const hlth_skill_t *hlth_skills(size_t *n);

/* ---- paths and files ---- */

/**
 * The absolute path of `rel` inside `profile` ("default": the home itself, else <home>/profiles/<profile>); `rel` NULL
 * or "": the profile's folder. `profile` is used verbatim (tests build bad names on purpose). Caller frees.
 */
char *hlth_path(const hlt_env_t *env, const char *profile, const char *rel);

/** Creates a directory and its missing parents (0700). */
void hlth_mkdirs(const char *path);

/** Writes `text` at hlth_path(env, profile, rel) (0600), creating missing folders. */
void hlth_write(const hlt_env_t *env, const char *profile, const char *rel, const char *text);

/** Writes <home>/active_profile with `name` and a newline, or removes it when `name` is NULL. */
void hlth_set_active(const hlt_env_t *env, const char *name);

/**
 * Writes <profile>/gateway.pid as Hermes's running gateway would, with `pid` (e.g. getpid(): a live process), as plain
 * digits or, with `json`, as {"pid": N, "kind": "hermes-gateway"}; pid 0 removes the file.
 */
void hlth_set_gateway_pid(const hlt_env_t *env, const char *profile, pid_t pid, int json);

/** The pid of a process that has exited and been reaped (for a stale gateway.pid). */
pid_t hlth_dead_pid(void);

/**
 * Makes <env->dir>/outside/ (outside both homes) holding secret.txt with HLTH_SECRET: the target of the symbolic links
 * a test plants in the Hermes home. Returns the folder's path (caller frees).
 */
#define HLTH_SECRET "outside the Hermes home: never read, moved or removed\n"
char *hlth_outside(const hlt_env_t *env);

/** True when something (a file, folder or link, followed or not) exists at `path` (lstat). */
int hlth_exists(const char *path);

/** Removes a tree without following links (rm -rf); a missing path is fine. */
void hlth_rm_rf(const char *path);

/**
 * A listing of the tree under `dir` (links not followed), one line per entry sorted by path: relative path, type, mode,
 * size, modification time (ns) and, for a link, its target; for a file, a hash of its content. Two listings are equal
 * when nothing under `dir` was created, removed, renamed or written in between. Caller frees.
 */
char *hlth_tree(const char *dir);

#endif
