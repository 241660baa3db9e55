/*
 * Reading Hermes's files (domain layer, src/actors/hermes_{dotenv,yaml,profiles,upstream}.c): the pieces of the Hermes
 * files actor that do not need its thread — a `.env` parser, config.yaml's api_server block, profile names and
 * directories (spec STORAGE §3.1), URLs, and the upstream resolution itself. The parsers are pure; the functions that
 * take `hermes_home` do blocking file I/O and, in the daemon, run only on the Hermes files actor. Any thread otherwise.
 */
#ifndef HL_HERMES_READ_H
#define HL_HERMES_READ_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "hl/config.h"
#include "hl/hermes_files.h"

/**
 * The hermes executable to run (src/actors/hermes_binary.c): $HERMES_BIN — a path, or a bare name looked up on PATH as a
 * shell would — else `hermes` on PATH. NULL when there is none; *broken (may be NULL) then says that HERMES_BIN names one
 * that cannot run. Caller frees.
 */
char *hl_hermes_binary(bool *broken);

/** Largest `.env` or config.yaml read; a bigger file is refused (and skipped with a warning). */
#define HL_HERMES_MAX_FILE_BYTES (1024 * 1024)
#define HL_HERMES_DEFAULT_HOST "127.0.0.1"
#define HL_HERMES_DEFAULT_PORT 8642

/* ---- .env ---- */

/** The assignments of a `.env` file, duplicates resolved (the last one wins). Owned strings. */
typedef struct st_hl_dotenv_t {
    char **keys, **values;
    size_t count, _cap;
    size_t bad_lines;      /* statements that were neither blank, comment nor assignment, skipped */
    size_t first_bad_line; /* 1-based line of the first of them, 0 when none */
} hl_dotenv_t;

/**
 * Parses `.env` text (`len` bytes, NULs allowed: a statement holding one is skipped). Lines `KEY=value` with KEY
 * `[A-Za-z_][A-Za-z0-9_]*`, an optional `export ` prefix, blanks around `=`, `#` comment lines, blank lines, CRLF or LF.
 * Values: unquoted (trimmed, cut at a `#` that follows a blank), 'single-quoted' (literal) or "double-quoted" (escapes
 * \n \r \t \" \' \\; other backslashes kept); a quoted value may span lines and be followed by a comment. A statement
 * that cannot be parsed (no `=`, bad key, unterminated quote, text after a closing quote) is skipped and counted, as
 * python-dotenv (what Hermes uses) does. Never fails.
 */
void hl_dotenv_parse(hl_dotenv_t *env, const char *text, size_t len);

/** The value of `key`, or NULL. Borrowed from `env`. */
const char *hl_dotenv_get(const hl_dotenv_t *env, const char *key);

/** Frees (and wipes: a .env holds secrets) what `env` owns. */
void hl_dotenv_dispose(hl_dotenv_t *env);

/** True for a `.env` key: [A-Za-z_][A-Za-z0-9_]*, at most 128 characters. */
bool hl_dotenv_valid_key(const char *key);

/**
 * True for a name HermesLink may store a provider's key under (a model config's key_env, GAPS §A 15): [A-Z][A-Z0-9_]*
 * ending in _API_KEY, at most 64 characters — never PATH, API_SERVER_KEY or another variable Hermes reads otherwise.
 */
bool hl_hermes_valid_key_env(const char *name);

/**
 * `.env` text (`len` bytes) with `key` (hl_dotenv_valid_key) set to `value` (no NUL; may hold any other byte): every
 * assignment of the key, `export ` or not, quoted over several lines or not, is replaced by one `KEY="<value>"` line
 * (\\, \" , \n and \r escaped), at the first one's place; without one the line is appended. Every other byte is
 * kept; the text ends with exactly one newline. Returns the new text (malloc'd; it holds a secret: wipe it) and its length,
 * or NULL when the result would not read back (hl_dotenv_parse) as the text with only that key changed: malformed quotes
 * (one that a statement opens and another closes) that the change would re-pair; the file is then to be left alone.
 */
char *hl_dotenv_set(const char *text, size_t len, const char *key, const char *value, size_t *out_len);

/* ---- config.yaml ---- */

/** platforms.api_server as written in config.yaml. Owned strings, NULL when absent, null or empty. */
typedef struct st_hl_api_server_yaml_t {
    int enabled;   /* platforms.api_server.enabled: 1 true, 0 false, -1 absent or not a boolean */
    char *host;    /* platforms.api_server.extra.host */
    char *port;    /* platforms.api_server.extra.port, as written: "8643" for 8643 or "8643" */
    char *key;     /* platforms.api_server.extra.key */
    char *warning; /* NULL, or which of those had the wrong type (a sequence or a mapping) and was ignored */
} hl_api_server_yaml_t;

/**
 * Reads platforms.api_server from YAML text (the first document) with libyaml. A missing section (or file, or empty
 * document) leaves every field absent and returns 0. Malformed YAML returns -EINVAL and a message in `err` (line and
 * libyaml's problem, never the text itself); `out` is then empty. Never crashes on any input.
 */
int hl_api_server_yaml_read(hl_api_server_yaml_t *out, const char *text, size_t len, char *err, size_t errlen) HL_WARN_UNUSED;

/** Frees (and wipes the key of) what `y` owns. */
void hl_api_server_yaml_dispose(hl_api_server_yaml_t *y);

/* ---- profiles ---- */

/** True when `name` matches ^[a-zA-Z0-9._-]{1,64}$ and is neither "." nor "..". */
int hl_hermes_valid_profile_name(const char *name);

/**
 * Why `name` cannot be given to a new or renamed profile, or NULL when it can: Hermes's rule ^[a-z0-9][a-z0-9_-]{0,63}$,
 * its reserved names (hermes, default, test, tmp, root, sudo) and its CLI subcommands (spec UPSTREAM-HERMES §2.1). The
 * answer is a static message fit for a client.
 */
const char *hl_hermes_new_profile_name_problem(const char *name);

/**
 * The root that holds `profiles/` (spec STORAGE §3.1): `hermes_home` (trailing slashes dropped), or two levels up when
 * `hermes_home` is itself `…/profiles/<x>`. Caller frees.
 */
char *hl_hermes_profiles_root(const char *hermes_home);

/**
 * The directory of `profile`: `hermes_home` for NULL, "" or "default", else <root>/profiles/<profile>. NULL when the
 * name is not valid. Does not look at the filesystem. Caller frees.
 */
char *hl_hermes_profile_dir(const char *hermes_home, const char *profile);

/**
 * The profiles (blocking): ["default", then the names of the directories under <root>/profiles that are valid
 * profile names, other than "default", and that do not lead out of the root through a symbolic link, sorted bytewise].
 * A missing directory gives ["default"]. New reference.
 */
json_t *hl_hermes_profile_names(const char *hermes_home);

/* ---- upstream ---- */

/** True for a host name, an IPv4 address or an IPv6 literal (bare, with a %zone, or in brackets). */
int hl_hermes_valid_host(const char *host);

/**
 * "http://<host>:<port>", an IPv6 literal in brackets (its %zone written %25). NULL when the host is not valid or the
 * port is outside 1..65535. Caller frees.
 */
char *hl_hermes_base_url(const char *host, int port);

/**
 * Resolves `profile` (NULL or "" = "default") synchronously; what hl_hermes_resolve_upstream does on the actor
 * (blocking file I/O). `config` may be NULL (no HermesLink overrides). Returns 0 and fills `up` (hl_upstream_dispose),
 * or -EINVAL / -ENOENT with *error_code "invalid_profile_name" / "profile_not_found" and a malloc'd *message (no paths)
 * and `up` left empty.
 */
int hl_hermes_resolve(hl_upstream_t *up, const char *hermes_home, const hl_config_t *config, const char *profile,
                      const char **error_code, char **message) HL_WARN_UNUSED;

#endif
