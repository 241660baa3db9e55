/*
 * The import of a Node HermesLink home (hl/node_import.h). Order: validate everything (a corrupt file refuses the whole
 * import, so a fixed source can simply be imported again), identity, devices (phones stay paired), blobs (files written
 * and fsynced before the rows that link them), conversations (one store job each), usage facts. Each step waits for
 * the owning actor's answer, so the counts reported are what committed.
 */
#include "hl/node_import.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hl/fsutil.h"
#include "hl/identity.h"
#include "hl/log.h"
#include "hl/node_home.h"
#include "hl/store_import.h"

#define STEP_TIMEOUT_S 60

/* Waits for one actor answer; shared by refcount with the actor so a late answer lands in valid memory. */
typedef struct st_wait_t {
    hl_reply_to_t super;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    hl_result_t *result;
    int done, refs;
} wait_t;

static void wait_release(wait_t *w)
{
    pthread_mutex_lock(&w->mutex);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mutex);
    if (last) {
        if (w->result != NULL)
            hl_result_free(w->result);
        pthread_mutex_destroy(&w->mutex);
        pthread_cond_destroy(&w->cond);
        free(w);
    }
}

static void wait_deliver(hl_reply_to_t *to, hl_result_t *res)
{
    wait_t *w = (wait_t *)to;
    pthread_mutex_lock(&w->mutex);
    w->result = res;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    wait_release(w);
}

static wait_t *wait_new(void)
{
    wait_t *w = hl_calloc(1, sizeof(*w));
    pthread_mutex_init(&w->mutex, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->refs = 2;
    w->super.deliver = wait_deliver;
    return w;
}

/* the answer's body (new reference) when it succeeded, else NULL */
static json_t *wait_body(wait_t *w)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STEP_TIMEOUT_S;
    pthread_mutex_lock(&w->mutex);
    while (!w->done && pthread_cond_timedwait(&w->cond, &w->mutex, &deadline) == 0)
        ;
    /* taken, not shared: a JSON value's refcount is never touched by two threads (see control_server.c) */
    json_t *body = NULL;
    if (w->done && hl_result_is_ok(w->result)) {
        body = w->result->body;
        w->result->body = NULL;
    }
    pthread_mutex_unlock(&w->mutex);
    wait_release(w);
    return body;
}

static json_t *error(const char *code, const char *message)
{
    return json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message", message);
}

static void progress(const hl_node_import_ctx_t *ctx, const char *phase, size_t done, size_t total)
{
    if (ctx->progress == NULL)
        return;
    json_t *p = json_pack("{s:s, s:I, s:I}", "phase", phase, "done", (json_int_t)done, "total", (json_int_t)total);
    ctx->progress(ctx->progress_arg, p);
    json_decref(p);
}

typedef struct st_tally_t {
    json_int_t imported, skipped;
} tally_t;

static json_t *tally_json(const tally_t *t)
{
    return json_pack("{s:I, s:I}", "imported", t->imported, "skipped", t->skipped);
}

/* "kept"/"same"/"taken"/"none", or NULL with *refusal set */
static const char *settle_identity(const hl_node_import_ctx_t *ctx, json_t *node, bool same_home, json_t **refusal)
{
    const hl_identity_t *ours = ctx->svc->identity;
    if (node == NULL)
        return "none";
    const char *link = json_string_value(json_object_get(node, "link_id"));
    if (same_home || (ours->link_id != NULL && strcmp(ours->link_id, link) == 0))
        return "same";
    /* taken over by an earlier import, the daemon not restarted since: the file already says so */
    hl_identity_t on_disk;
    char ierr[128];
    if (hl_identity_load(ctx->svc->home, &on_disk, ierr, sizeof(ierr)) == 0) {
        bool same = on_disk.link_id != NULL && strcmp(on_disk.link_id, link) == 0;
        hl_identity_dispose(&on_disk);
        if (same)
            return "same";
    }
    unsigned paired = atomic_load(&ctx->device_counts->total);
    if (paired > 0) {
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "This HermesLink already has %u paired device(s) under %s; the Node home's identity is %s. Refusing to "
                 "replace an identity that has paired devices: import into a fresh HERMESLINK_HOME, or remove this one's "
                 "devices first.",
                 paired, ours->link_id != NULL ? ours->link_id : "its identity", link);
        *refusal = error("identity_conflict", msg);
        return NULL;
    }
    /* no device knows our identity yet: the Node one (which the phones know) takes its place, from the next start on */
    char *text = json_dumps(node, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *with_nl = hl_asprintf("%s\n", text), *path = hl_path_join(ctx->svc->home, "identity.json");
    int ret = hl_write_file_atomic(path, with_nl, strlen(with_nl), 0600);
    free(text);
    free(with_nl);
    free(path);
    if (ret != 0) {
        *refusal = error("internal_error", "identity.json could not be written");
        return NULL;
    }
    return "taken";
}

static int import_devices(const hl_node_import_ctx_t *ctx, json_t *devices, tally_t *t)
{
    size_t i, n = json_array_size(devices);
    json_t *d;
    json_array_foreach(devices, i, d)
    {
        wait_t *w = wait_new();
        hl_auth_import_device(ctx->auth, &w->super, d);
        json_t *body = wait_body(w);
        if (body == NULL)
            return -1;
        json_is_true(json_object_get(body, "imported")) ? ++t->imported : ++t->skipped;
        json_decref(body);
        progress(ctx, "devices", i + 1, n);
    }
    return 0;
}

static int import_blobs(const hl_node_import_ctx_t *ctx, const char *dir, json_t *blobs, tally_t *t, char *err, size_t errlen)
{
    size_t i, n = json_array_size(blobs);
    json_t *b;
    json_array_foreach(blobs, i, b)
    {
        const char *rel = json_string_value(json_object_get(b, "path"));
        char *data = NULL, sha[65];
        size_t len = 0;
        if (hl_node_read(dir, rel, HL_NODE_BLOB_MAX, &data, &len) != 0 ||
            (json_int_t)len != json_integer_value(json_object_get(b, "size"))) {
            free(data);
            snprintf(err, errlen, "%s: changed or vanished while importing", rel);
            return -1;
        }
        int ret = hl_store_import_blob_file(ctx->store, data, len, sha);
        free(data);
        if (ret != 0) {
            snprintf(err, errlen, "%s: could not be stored (%s)", rel, hl_errno_is_disk_full(ret) ? "disk full" : "write failed");
            return -1;
        }
        wait_t *w = wait_new();
        hl_store_import_blob(ctx->store, &w->super, b, sha);
        json_t *body = wait_body(w);
        if (body == NULL) {
            snprintf(err, errlen, "%s: its row could not be stored", rel);
            return -1;
        }
        json_is_true(json_object_get(body, "imported")) ? ++t->imported : ++t->skipped;
        json_decref(body);
        progress(ctx, "blobs", i + 1, n);
    }
    return 0;
}

static int import_conversations(const hl_node_import_ctx_t *ctx, const char *dir, json_t *convs, tally_t *c, tally_t *m, tally_t *e,
                                char *err, size_t errlen)
{
    size_t i, n = json_array_size(convs);
    json_t *entry;
    json_array_foreach(convs, i, entry)
    {
        /* parsed again now (only its counts were kept): a file the Node version rewrote since is checked again */
        json_t *conv;
        if (hl_node_conversation_load(dir, json_string_value(json_object_get(entry, "id")), &conv, err, errlen) != 0)
            return -1;
        wait_t *w = wait_new();
        hl_store_import_conversation(ctx->store, &w->super, conv);
        json_t *body = wait_body(w);
        json_int_t nm = (json_int_t)json_array_size(json_object_get(conv, "messages"));
        json_int_t ne = (json_int_t)json_array_size(json_object_get(conv, "events"));
        if (body == NULL) {
            snprintf(err, errlen, "conversations/%s could not be stored",
                     json_string_value(json_object_get(json_object_get(conv, "conversation"), "id")));
            json_decref(conv);
            return -1;
        }
        json_decref(conv);
        if (json_is_true(json_object_get(body, "imported"))) {
            ++c->imported;
            m->imported += nm;
            e->imported += ne;
        } else {
            ++c->skipped;
            m->skipped += nm;
            e->skipped += ne;
        }
        json_decref(body);
        progress(ctx, "conversations", i + 1, n);
    }
    return 0;
}

static int read_usage(const hl_node_import_ctx_t *ctx, const char *dir, bool same_home, json_t **facts, char *err, size_t errlen)
{
    char *scratch = hl_asprintf("%s/.node-import-XXXXXX", ctx->svc->home);
    if (mkdtemp(scratch) == NULL) {
        free(scratch);
        snprintf(err, errlen, "cannot make a scratch directory in the HermesLink home");
        return -1;
    }
    /* a home our daemon shares with the Node version keeps the Node database as link.node.db (hl_node_db_set_aside) */
    char *db = hl_path_join(dir, HL_NODE_DB_ASIDE);
    if (access(db, F_OK) != 0) {
        free(db);
        if (same_home) { /* link.db is ours */
            rmdir(scratch);
            free(scratch);
            *facts = json_array();
            return 0;
        }
        db = hl_path_join(dir, "link.db");
    }
    int ret = hl_node_usage_read(db, scratch, facts, err, errlen);
    rmdir(scratch);
    free(db);
    free(scratch);
    return ret;
}

json_t *hl_node_import_run(const hl_node_import_ctx_t *ctx, const char *dir)
{
    char src[PATH_MAX], home[PATH_MAX], err[512] = "";
    if (realpath(dir, src) == NULL || realpath(ctx->svc->home, home) == NULL)
        return error("not_found", "The directory to import from does not exist");
    if (!hl_node_home_detect(src))
        return error("not_node_home", "No Node HermesLink files (identity.json, credentials.json, conversations/, blobs/) there");
    bool same_home = strcmp(src, home) == 0;
    hl_node_home_t h;
    json_t *facts = NULL, *reply = NULL;
    progress(ctx, "reading", 0, 1);
    if (hl_node_home_load(src, &h, err, sizeof(err)) != 0)
        return error("corrupt_source", err);
    if (read_usage(ctx, src, same_home, &facts, err, sizeof(err)) != 0) {
        reply = error("corrupt_source", err);
        goto Exit;
    }
    progress(ctx, "reading", 1, 1);
    const char *identity = settle_identity(ctx, h.identity, same_home, &reply);
    if (identity == NULL)
        goto Exit;
    tally_t dev = {0}, blobs = {0}, conv = {0}, msgs = {0}, evs = {0}, usage = {0};
    if (import_devices(ctx, h.devices, &dev) != 0) {
        reply = error("internal_error", "credentials.json: the devices could not be stored");
        goto Exit;
    }
    if (import_blobs(ctx, src, h.blobs, &blobs, err, sizeof(err)) != 0 ||
        import_conversations(ctx, src, h.conversations, &conv, &msgs, &evs, err, sizeof(err)) != 0) {
        reply = error("internal_error", err);
        goto Exit;
    }
    if (json_array_size(facts) > 0) {
        wait_t *w = wait_new();
        hl_store_import_usage(ctx->store, &w->super, facts);
        json_t *body = wait_body(w);
        if (body == NULL) {
            reply = error("internal_error", "link.db: the usage facts could not be stored");
            goto Exit;
        }
        usage.imported = json_integer_value(json_object_get(body, "imported"));
        usage.skipped = json_integer_value(json_object_get(body, "skipped"));
        json_decref(body);
        progress(ctx, "usage_facts", 1, 1);
    }
    const char *link = h.identity != NULL ? json_string_value(json_object_get(h.identity, "link_id")) : ctx->svc->identity->link_id;
    reply = json_pack("{s:b, s:s?, s:s, s:b, s:{s:o, s:o, s:o, s:o, s:o, s:o}}", "ok", 1, "link_id", link, "identity", identity,
                      "restart_needed", strcmp(identity, "taken") == 0, "counts", "devices", tally_json(&dev), "conversations",
                      tally_json(&conv), "messages", tally_json(&msgs), "events", tally_json(&evs), "blobs", tally_json(&blobs),
                      "usage_facts", tally_json(&usage));
    hl_logf(HL_LOG_INFO,
            "import: %lld devices, %lld conversations, %lld messages, %lld events, %lld blobs, %lld usage facts "
            "imported",
            (long long)dev.imported, (long long)conv.imported, (long long)msgs.imported, (long long)evs.imported,
            (long long)blobs.imported, (long long)usage.imported);
Exit:
    json_decref(facts);
    hl_node_home_dispose(&h);
    return reply;
}
