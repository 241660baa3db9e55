/*
 * Hermes's memory files (domain layer, src/actors/hermes_memory*.c): a profile's memories/MEMORY.md (the agent's notes)
 * and memories/USER.md (what the agent knows of the user), spec UPSTREAM-HERMES §2.4, STORAGE §3.4, API.md §10.
 *
 * A file is a list of entries joined by "\n§\n"; entries are stripped (Python's str.strip()) and empty ones dropped; an
 * empty list is an empty file. The character limit (2200 for MEMORY.md, 1375 for USER.md, or config.yaml's
 * memory.memory_char_limit / memory.user_char_limit) applies to the joined text, delimiters included, counted in code
 * points as Hermes (Python's len()) counts them. Writers — Hermes and us — take an exclusive flock on the sibling
 * MEMORY.md.lock / USER.md.lock and replace the file atomically.
 *
 * The pure functions may run on any thread; the ones taking `hermes_home` do blocking file I/O and, in the daemon, run
 * only on the Hermes files actor.
 */
#ifndef HL_HERMES_MEMORY_H
#define HL_HERMES_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hl/common.h"

/** Hermes's entry delimiter: newline, U+00A7 SECTION SIGN, newline. */
#define HL_MEMORY_DELIMITER "\n\xc2\xa7\n"
#define HL_MEMORY_DEFAULT_MEMORY_LIMIT 2200
#define HL_MEMORY_DEFAULT_USER_LIMIT 1375
/** How long an update waits for the Hermes lock before giving up with HL_MEMORY_BUSY. */
#define HL_MEMORY_LOCK_WAIT_MS 3000

typedef enum en_hl_memory_target_t {
    HL_MEMORY_TARGET_MEMORY, /* MEMORY.md, "memory" */
    HL_MEMORY_TARGET_USER,   /* USER.md, "user" */
} hl_memory_target_t;

/** "memory" or "user". */
const char *hl_memory_target_name(hl_memory_target_t t);

/** "MEMORY.md" or "USER.md". */
const char *hl_memory_file_name(hl_memory_target_t t);

/** "memory" / "user" → *out and 0; anything else (NULL too) → -EINVAL. */
int hl_memory_target_parse(const char *s, hl_memory_target_t *out) HL_WARN_UNUSED;

/**
 * What a memory call ended with. The comment names the API.md §10 error code (hl_memory_status_code); routes pick the
 * HTTP status: API.md gives 400 for the content, match and limit codes; invalid_profile_name 400, profile_not_found 404;
 * the others are not in the original and are HermesLink's own.
 */
typedef enum en_hl_memory_status_t {
    HL_MEMORY_OK = 0,            /* done (written, or nothing to write for a clear of an empty file) */
    HL_MEMORY_UNCHANGED,         /* an add of an entry that is already there: nothing written; a success (200) */
    HL_MEMORY_CONTENT_EMPTY,     /* memory_content_empty: content empty once stripped */
    HL_MEMORY_CONTENT_INVALID,   /* memory_content_invalid: content or match is not UTF-8 text (or holds a NUL) */
    HL_MEMORY_MATCH_EMPTY,       /* memory_match_empty: match empty once stripped */
    HL_MEMORY_NOT_FOUND,         /* memory_entry_not_found: no entry contains match */
    HL_MEMORY_AMBIGUOUS,         /* memory_entry_ambiguous: entries with different texts contain match */
    HL_MEMORY_LIMIT_EXCEEDED,    /* memory_limit_exceeded: the joined text would pass the limit */
    HL_MEMORY_INVALID_PROFILE,   /* invalid_profile_name */
    HL_MEMORY_PROFILE_NOT_FOUND, /* profile_not_found: no such profile directory (nothing is created) */
    HL_MEMORY_UNSAFE_PATH,       /* memory_path_unsafe: memories/, the file or its .lock leads out of the profile
                                    through a symbolic link, or is not a directory / regular file */
    HL_MEMORY_FILE_INVALID,      /* memory_file_invalid: the file is not UTF-8 text or is over 1 MiB; left untouched */
    HL_MEMORY_BUSY,              /* memory_busy: another writer (Hermes) held the lock past HL_MEMORY_LOCK_WAIT_MS */
    HL_MEMORY_IO_ERROR,          /* internal_error: a system call failed (*err holds the -errno) */
} hl_memory_status_t;

/** The error code string of a status ("ok" / "unchanged" for the two successes). Static. */
const char *hl_memory_status_code(hl_memory_status_t st);

/* ---- entries (pure) ---- */

/** A memory file's entries, in file order. Each item is NUL-terminated, stripped, non-empty UTF-8. Owned strings. */
typedef struct st_hl_memory_entries_t {
    char **items;
    size_t count, _cap;
} hl_memory_entries_t;

/**
 * Parses file text as Hermes's MemoryStore._read_file does: split on "\n§\n", strip each part, drop the empty ones (a
 * blank text gives no entry). Duplicates are kept (see hl_memory_dedupe). The text is expected to be valid UTF-8
 * (hl_memory_text_valid); other bytes are kept as they are. Never fails; `out` is initialised here.
 */
void hl_memory_parse(hl_memory_entries_t *out, const char *text, size_t len);

/** True when `text` is something Hermes can read as a memory file: valid UTF-8 without NUL bytes. */
bool hl_memory_text_valid(const char *text, size_t len);

/** The file text: entries joined by "\n§\n", no trailing newline; "" for none. Caller frees; *len set when not NULL. */
char *hl_memory_serialize(const hl_memory_entries_t *e, size_t *len);

/** Code points of the serialised text: what Hermes compares with the limit. */
size_t hl_memory_chars(const hl_memory_entries_t *e);

/** Drops later copies of an entry, keeping the first (Hermes does this on every load). */
void hl_memory_dedupe(hl_memory_entries_t *e);

/** Appends a copy of `len` bytes as an entry, as is (no strip, no checks): for building lists. */
void hl_memory_entries_push(hl_memory_entries_t *e, const char *s, size_t len);

/** Frees the entries and empties the list. */
void hl_memory_entries_dispose(hl_memory_entries_t *e);

typedef enum en_hl_memory_op_kind_t {
    HL_MEMORY_ADD,     /* append `content` */
    HL_MEMORY_REPLACE, /* the entry containing `match` becomes `content` */
    HL_MEMORY_REMOVE,  /* drop the entry containing `match` */
    HL_MEMORY_CLEAR,   /* drop every entry */
} hl_memory_op_kind_t;

/** One change. Strings are borrowed, NUL-terminated; NULL counts as "". */
typedef struct st_hl_memory_op_t {
    hl_memory_op_kind_t kind;
    const char *content;
    const char *match;
} hl_memory_op_t;

/**
 * Applies `op` to `e` as Hermes's memory tool does, after de-duplicating `e` (Hermes re-reads and de-duplicates under
 * the lock before each change). `content` and `match` are stripped first. ADD: empty → CONTENT_EMPTY; an entry equal to
 * it → UNCHANGED; joined text over `limit` → LIMIT_EXCEEDED. REPLACE / REMOVE: empty match → MATCH_EMPTY; entries
 * containing match (a substring): none → NOT_FOUND, more than one → AMBIGUOUS (after de-duplication they all differ),
 * else that entry; REPLACE also refuses empty content and a result over `limit` (a replacement equal to another entry
 * leaves one copy). REMOVE and CLEAR never check the limit, so an over-full file can always shrink. On any status other
 * than OK the entries are as they were (de-duplicated).
 */
hl_memory_status_t hl_memory_apply(hl_memory_entries_t *e, const hl_memory_op_t *op, size_t limit);

/**
 * What `op` is refused for whatever the file holds: CONTENT_INVALID, CONTENT_EMPTY or MATCH_EMPTY as hl_memory_apply
 * would answer them; HL_MEMORY_OK when only the file can tell.
 */
hl_memory_status_t hl_memory_op_check(const hl_memory_op_t *op);

/* ---- ids and JSON (pure) ---- */

/**
 * The id of the entry at `index` (0-based, file order): "<target>_<index>_<hash>" (spec STORAGE §3.4), the hash being
 * the unsigned 32-bit h = h*31 + unit over the UTF-16 code units of its text (valid UTF-8), in lowercase hex without
 * padding. The same file gives the same ids on every read; ids are unique within a file. Caller frees.
 */
char *hl_memory_entry_id(hl_memory_target_t t, size_t index, const char *content);

/**
 * [{"id","content"}…] in file order, ids from hl_memory_entry_id. New reference.
 */
json_t *hl_memory_entries_json(const hl_memory_entries_t *e, hl_memory_target_t t);

/** {"chars","limit","percent"}: percent = min(100, floor(chars / limit × 100)), 0 for a zero limit. New reference. */
json_t *hl_memory_usage_json(size_t chars, size_t limit);

/* ---- limits (config.yaml) ---- */

/** The limits of a profile, in code points. */
typedef struct st_hl_memory_limits_t {
    size_t memory; /* memory.memory_char_limit, default 2200 */
    size_t user;   /* memory.user_char_limit, default 1375 */
} hl_memory_limits_t;

/** The limit of `t`. */
size_t hl_memory_limit_of(const hl_memory_limits_t *l, hl_memory_target_t t);

/**
 * Reads memory.memory_char_limit and memory.user_char_limit from config.yaml text (libyaml). Each is a positive decimal
 * integer (plain or quoted, as Python's int() takes it); a missing key keeps its default; another value keeps the
 * default and adds to *warning (malloc'd, "; "-joined; never the file's text). Malformed YAML: both defaults, -EINVAL
 * and the reason in *warning. `warning` may be NULL. Any thread.
 */
int hl_memory_limits_parse(hl_memory_limits_t *out, const char *text, size_t len, char **warning);

/**
 * The limits of `profile` (NULL/"" = default) from its config.yaml (blocking): defaults when the file is missing; a file
 * that cannot be read (a link out of the Hermes root, too large) or parsed gives the defaults and a *warning.
 */
void hl_memory_limits_load(hl_memory_limits_t *out, const char *hermes_home, const char *profile, char **warning);

/* ---- the files (blocking) ---- */

/** One memory file as read. Owned by the struct (hl_memory_file_dispose). */
typedef struct st_hl_memory_file_t {
    hl_memory_target_t target;
    hl_memory_entries_t entries; /* as in the file (not de-duplicated) */
    size_t chars;                /* hl_memory_chars(&entries) */
    bool exists;
    int64_t mtime_ms; /* the file's mtime, -1 when it does not exist */
    char *rel_path;   /* relative to the Hermes root: "memories/MEMORY.md", "profiles/<p>/memories/USER.md"; never absolute */
} hl_memory_file_t;

/**
 * Reads one memory file of `profile` (NULL/"" = default) without the lock, as Hermes does (writers rename whole files
 * in). A missing memories/ or file is an empty, not existing, file (HL_MEMORY_OK). Returns OK with *out filled, or
 * INVALID_PROFILE, PROFILE_NOT_FOUND, UNSAFE_PATH, FILE_INVALID, IO_ERROR (-errno in *err when not NULL) with *out empty
 * (still disposable). Never creates anything.
 */
hl_memory_status_t hl_memory_read(const char *hermes_home, const char *profile, hl_memory_target_t t, hl_memory_file_t *out,
                                  int *err) HL_WARN_UNUSED;

/**
 * Changes one memory file under Hermes's lock: an op refused whatever the file holds (hl_memory_op_check) is answered
 * before anything is created, taken or read; otherwise creates memories/ (0700) if missing (never the profile itself); opens
 * or creates <file>.lock (0600, not through a symbolic link) and takes flock(LOCK_EX), polling up to
 * HL_MEMORY_LOCK_WAIT_MS before giving up with BUSY; reads the file, hl_memory_apply(op, limit), and when the text
 * changed writes it atomically (temp file in the same directory, fsync, rename; the file's mode kept, 0600 for a new
 * one); a file reached through a symbolic link inside the profile is written in place of its target, the link kept.
 * Unlocks. *out holds the file as it is afterwards (changed or not) whenever it could be read, else it is empty.
 */
hl_memory_status_t hl_memory_update(const char *hermes_home, const char *profile, hl_memory_target_t t, size_t limit,
                                    const hl_memory_op_t *op, hl_memory_file_t *out, int *err) HL_WARN_UNUSED;

/**
 * hl_memory_update with a single attempt at the lock: BUSY at once while another process holds it, nothing read or
 * written (the caller retries later instead of waiting on its thread).
 */
hl_memory_status_t hl_memory_try_update(const char *hermes_home, const char *profile, hl_memory_target_t t, size_t limit,
                                        const hl_memory_op_t *op, hl_memory_file_t *out, int *err) HL_WARN_UNUSED;

/** How long a change may wait for Hermes's lock before BUSY, in ms: HL_MEMORY_LOCK_WAIT_MS unless a test set another. */
unsigned hl_memory_lock_wait_ms(void);

/** Frees what `f` owns and empties it. */
void hl_memory_file_dispose(hl_memory_file_t *f);

/** Test hook: the lock wait of later updates, in ms (0 restores HL_MEMORY_LOCK_WAIT_MS). Any thread. (Tests.) */
void hl_memory_test_set_lock_wait(unsigned ms);

#endif
