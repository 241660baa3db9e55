/*
 * The Node HermesLink's home (spec/STORAGE.md §1), read for `hermeslink import` (core layer: files and JSON only).
 * Everything is validated before anything is imported: ids against their strict patterns (a manifest or blob id that
 * could name a path is refused), times as ISO strings, token hashes as 64 hex digits. Files are opened read-only,
 * O_NOFOLLOW, size-capped; nothing in the directory is ever written or locked. Any thread; no shared state.
 */
#ifndef HL_NODE_HOME_H
#define HL_NODE_HOME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/common.h"

/* caps on what one source file may hold (the Node version writes each as one JSON document) */
#define HL_NODE_JSON_MAX (64u * 1024 * 1024)
#define HL_NODE_SMALL_JSON_MAX (1024u * 1024)
#define HL_NODE_BLOB_MAX (50u * 1024 * 1024)

/**
 * A parsed Node home. All arrays hold normalised objects (times as epoch ms integers, null for absent):
 *  identity: {install_id, link_id, public_key_pem, private_key_pem, created_at, updated_at} (strings) or NULL when absent;
 *  devices: [{id, label, platform, model, scope, app_instance_hash, access_token_hash, access_expires_at,
 *             refresh_token_hash, refresh_expires_at, created_at, updated_at, last_seen_at, revoked_at, app_hidden_at}];
 *  conversations: [{id, messages, events}] (ids and counts; hl_node_conversation_load gives a whole one, below);
 *  a whole conversation: {conversation:{id, title, status, profile, hermes_session_id, last_event_seq, created_at, updated_at,
 *                   deleted_at, input_tokens, output_tokens, total_tokens, model, provider, context_window,
 *                   stats_updated_at}, messages:[{id, role, status, run_id, client_message_id, profile, text, created_at,
 *                   updated_at, attachments:[blob ids]}], runs:[{id, trigger_message_id, assistant_message_id, status,
 *                   profile, model, input_tokens, output_tokens, total_tokens, error_message, started_at, completed_at,
 *                   created_at}], events:[{seq, type, created_at, json (the event as text)}]}];
 *  blobs: [{id, size, mime, filename, created_at, conversation_ids:[…], path (relative to the home)}].
 */
typedef struct st_hl_node_home_t {
    json_t *identity;
    json_t *devices;
    json_t *conversations;
    json_t *blobs;
    size_t num_messages, num_events;
} hl_node_home_t;

/** True when `dir` holds any file of the Node layout (identity.json, credentials.json, conversations/ or blobs/). */
bool hl_node_home_detect(const char *dir);

/**
 * Reads and validates the whole Node home at `dir` (absolute). 0, or -EINVAL with a message in err naming the refused
 * file by its path relative to `dir` (a corrupt file, a bad id, a file over its cap), or another -errno when `dir`
 * cannot be read. On failure *out holds nothing. Caller disposes.
 */
int hl_node_home_load(const char *dir, hl_node_home_t *out, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Reads and parses one conversation folder `conversations/<id>/` of the home at `dir` (id validated first) into a whole
 * normalised conversation (*out, caller frees). 0, or -EINVAL with the file named in err (relative to `dir`).
 */
int hl_node_conversation_load(const char *dir, const char *id, json_t **out, char *err, size_t errlen) HL_WARN_UNUSED;

/** Frees what the home owns. */
void hl_node_home_dispose(hl_node_home_t *h);

/** True for `prefix` immediately followed by 32 lowercase hex digits and nothing else (conv_, msg_, run_, blob_, dev_). */
bool hl_node_id_valid(const char *prefix, const char *s);

/** True for 64 hex digits (a SHA-256 in hex; upper case accepted, the import lower-cases it). */
bool hl_node_hash_valid(const char *s);

/**
 * Reads `rel` (a relative path of known-safe components) under `dir` without following a symlink, refusing anything that
 * is not a regular file or is over `max` bytes. 0, -ENOENT, -EFBIG, or -errno. Caller frees *out (NUL-terminated).
 */
int hl_node_read(const char *dir, const char *rel, size_t max, char **out, size_t *len) HL_WARN_UNUSED;

/**
 * Parses credentials.json text into normalised devices (appended to `devices`). 0, or -EINVAL with the reason in err.
 * Exposed for the unit tests.
 */
int hl_node_parse_credentials(const char *text, json_t *devices, char *err, size_t errlen) HL_WARN_UNUSED;

/**
 * Parses one conversation's manifest (required), snapshot and events texts (NULL = absent) for directory `dir_name` into
 * a normalised conversation object. 0, or -EINVAL with the reason and the offending file's name in err.
 */
int hl_node_parse_conversation(const char *dir_name, const char *manifest, const char *snapshot, const char *events, json_t **out,
                               char *err, size_t errlen) HL_WARN_UNUSED;

#endif
