/*
 * Importing the Node HermesLink's data into link.db (store layer; `hermeslink import`). The objects are the validated,
 * normalised ones of hl/node_home.h. Each operation is one store job (its own savepoint in the writer's batch
 * transaction), idempotent: what link.db already holds (same id) is skipped and counted as such. Imported history is not
 * broadcast (nobody can be subscribed to a conversation that did not exist). Post from any non-worker thread.
 */
#ifndef HL_STORE_IMPORT_H
#define HL_STORE_IMPORT_H

#include <jansson.h>

#include "hl/reply.h"
#include "hl/store.h"

/**
 * Imports one conversation {conversation, messages, runs, events} (borrowed; copied) in one transaction. Answers
 * {imported: bool, messages, runs, events} — imported false (and zero counts) when the conversation id exists already.
 */
void hl_store_import_conversation(hl_store_t *s, hl_reply_to_t *to, json_t *conv);

/**
 * Stores a blob's bytes as the store stores uploads (content-addressed under blobs/, temp file, fsync, rename) and fills
 * `sha` with their SHA-256 hex. Blocking file I/O: never on a worker. 0 or -errno.
 */
int hl_store_import_blob_file(hl_store_t *s, const void *data, size_t len, char sha[65]) HL_WARN_UNUSED;

/**
 * Adds the row of a blob {id, size, mime, filename, created_at, conversation_ids} whose file hl_store_import_blob_file
 * already stored under `sha`, with its conversation links. Answers {imported: bool}.
 */
void hl_store_import_blob(hl_store_t *s, hl_reply_to_t *to, json_t *blob, const char *sha);

/**
 * Adds usage facts (the array of hl_node_usage_read) in one transaction; a run id already present is skipped. Answers
 * {imported, skipped}.
 */
void hl_store_import_usage(hl_store_t *s, hl_reply_to_t *to, json_t *facts);

/**
 * Reads the Node version's usage facts (run_usage_facts of its link.db at `node_db`) through a private copy made in
 * `scratch_dir` (the source file and its -wal are only read, never opened by SQLite, so nothing there is locked or
 * written). *facts gets [{run_id, conversation_id, profile, model, provider, input_tokens, output_tokens, total_tokens,
 * message_count, started_at, completed_at, updated_at}] (times epoch ms). 0 (empty when there is no such file or it is
 * not the Node version's database), or -EINVAL with the reason in err. Blocking; never on a worker.
 */
int hl_node_usage_read(const char *node_db, const char *scratch_dir, json_t **facts, char *err, size_t errlen) HL_WARN_UNUSED;

/** Where a home shared with the Node version keeps the Node version's link.db once ours takes the name. */
#define HL_NODE_DB_ASIDE "link.node.db"

/**
 * In a home shared with the Node version, `link.db` may be the Node version's database (it has conversation_stats and
 * the Node run_usage_facts), which our migrations cannot run on: it is renamed, with its -wal and -shm, to
 * link.node.db (never overwriting one) so that ours can be created and `import` can read the usage facts from it. 0 (also
 * when there is nothing to do), or -errno with a message in err. Main thread, before hl_db_migrate.
 */
int hl_node_db_set_aside(const char *home, char *err, size_t errlen) HL_WARN_UNUSED;

#endif
