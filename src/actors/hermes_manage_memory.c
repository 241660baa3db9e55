/*
 * The memory routes' work (spec/API.md §10 "Memory", STORAGE §3.4) on the Hermes files actor: the view of a profile's
 * USER.md and MEMORY.md, and changes made under Hermes's own lock (hermes_memory_file.c). A profile that does not exist
 * is 404 and never created (GAPS §B 23); paths are shown relative to the Hermes root (GAPS §A 14).
 */
#include <stdlib.h>
#include <string.h>

#include "hermes_actor.h"
#include "hl/fsutil.h"
#include "hl/clock.h"
#include "hl/hermes_manage.h"
#include "hl/hermes_memory.h"
#include "hl/hermes_read.h"
#include "hl/json_util.h"
#include "hl/log.h"

/* how often a change parked behind Hermes's lock tries again */
#define LOCK_RETRY_MS 10

enum { OP_GET, OP_ADD, OP_REPLACE, OP_REMOVE, OP_CLEAR, OP_SETTINGS, OP_PROVIDER, OP_PROVIDER_SETTINGS };

static const char *const LABEL[] = {[HL_MEMORY_TARGET_USER] = "关于用户", [HL_MEMORY_TARGET_MEMORY] = "Agent 笔记"};
static const char *const DESCRIPTION[] = {
    [HL_MEMORY_TARGET_USER] = "Hermes 记住的关于你的信息（USER.md）",
    [HL_MEMORY_TARGET_MEMORY] = "Hermes 在工作中记下的笔记（MEMORY.md）",
};
static const char NOTICE[] = "记忆在 Hermes 的下一次会话开始时生效；正在进行的会话仍使用开始时的记忆。";

/* The error of a memory status that is not a success. */
static hl_result_t *memory_error(hl_memory_status_t st, int err)
{
    const char *code = hl_memory_status_code(st);
    switch (st) {
    case HL_MEMORY_CONTENT_EMPTY:
        return hl_result_error(HL_RESULT_INVALID, code, "content is empty");
    case HL_MEMORY_CONTENT_INVALID:
        return hl_result_error(HL_RESULT_INVALID, code, "content and match must be UTF-8 text without NUL characters");
    case HL_MEMORY_MATCH_EMPTY:
        return hl_result_error(HL_RESULT_INVALID, code, "match is empty");
    case HL_MEMORY_NOT_FOUND:
        return hl_result_error(HL_RESULT_INVALID, code, "No memory entry contains match");
    case HL_MEMORY_AMBIGUOUS:
        return hl_result_error(HL_RESULT_INVALID, code, "More than one memory entry contains match; give more of its text");
    case HL_MEMORY_LIMIT_EXCEEDED:
        return hl_result_error(HL_RESULT_INVALID, code,
                               "The memory would pass its character limit; consolidate or remove entries first");
    case HL_MEMORY_INVALID_PROFILE:
        return hermes_invalid_name();
    case HL_MEMORY_PROFILE_NOT_FOUND:
        return hl_result_error(HL_RESULT_NOT_FOUND, code, "Profile not found");
    case HL_MEMORY_UNSAFE_PATH:
        return hl_result_error(HL_RESULT_CONFLICT, code,
                               "The memory folder or file leads out of the profile through a link; HermesLink leaves it alone");
    case HL_MEMORY_FILE_INVALID:
        return hl_result_error(HL_RESULT_CONFLICT, code,
                               "The memory file is not UTF-8 text or is too large; HermesLink leaves it alone");
    case HL_MEMORY_BUSY:
        return hl_result_error(HL_RESULT_UNAVAILABLE, code, "Hermes is writing this memory; retry shortly");
    default:
        if (hl_errno_is_disk_full(err > 0 ? -err : err))
            return hl_result_storage_full();
        hl_logf(HL_LOG_ERROR, "hermes: a memory file could not be changed (%s)", strerror(err > 0 ? err : -err));
        return hl_result_error(HL_RESULT_INTERNAL, "internal_error", "The memory file could not be read or written");
    }
}

static json_t *store_json(const hl_memory_file_t *f, size_t limit)
{
    hl_memory_target_t t = f->target;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:I, s:o}", "target", hl_memory_target_name(t), "label", LABEL[t],
                     "description", DESCRIPTION[t], "fileName", hl_memory_file_name(t), "path", f->rel_path, "exists", f->exists,
                     "updatedAt", f->mtime_ms >= 0 ? hl_json_iso(f->mtime_ms) : json_null(), "entries",
                     hl_memory_entries_json(&f->entries, t), "entryCount", (json_int_t)f->entries.count, "usage",
                     hl_memory_usage_json(f->chars, limit));
}

/* The memory view of a profile (after a change: `changed` holds the file just written, read again otherwise). */
static hl_result_t *memory_view(hl_hermes_t *h, const char *name, const hl_memory_file_t *changed)
{
    hl_memory_limits_t limits;
    char *warning = NULL;
    hl_memory_limits_load(&limits, h->link->hermes_home, name, &warning);
    free(warning); /* defaults apply; the config routes report a broken config.yaml */
    json_t *stores = json_array();
    static const hl_memory_target_t ORDER[] = {HL_MEMORY_TARGET_USER, HL_MEMORY_TARGET_MEMORY};
    for (size_t i = 0; i < 2; ++i) {
        hl_memory_file_t f;
        int err = 0;
        if (changed != NULL && changed->target == ORDER[i]) {
            json_array_append_new(stores, store_json(changed, hl_memory_limit_of(&limits, ORDER[i])));
            continue;
        }
        hl_memory_status_t st = hl_memory_read(h->link->hermes_home, name, ORDER[i], &f, &err);
        if (st != HL_MEMORY_OK) {
            hl_memory_file_dispose(&f);
            json_decref(stores);
            return memory_error(st, err);
        }
        json_array_append_new(stores, store_json(&f, hl_memory_limit_of(&limits, ORDER[i])));
        hl_memory_file_dispose(&f);
    }
    char *dir = hermes_display_dir(h, name, "memories");
    json_t *body = json_pack("{s:s, s:s, s:o, s:o, s:s}", "profileName", name, "memoryDir", dir, "stores", stores, "settings",
                             hermes_memory_settings(h, name), "notice", NOTICE);
    free(dir);
    return hl_result_ok(HL_RESULT_OK, body);
}

/* A string field of the body: NULL with *res set when it is missing or not a string. */
static const char *required_text(const json_t *body, const char *field, const char *code, hl_result_t **res)
{
    json_t *v = json_object_get(body, field);
    if (json_is_string(v))
        return json_string_value(v);
    char *msg = hl_asprintf("%s is required (a string)", field);
    *res = hl_result_error(HL_RESULT_INVALID, code, msg);
    free(msg);
    return NULL;
}

/* A change of the memory files, each file tried once under Hermes's lock: NULL with *busy set when Hermes holds one (the
 * request is parked and tried again; a clear of both files that got through the first is simply done again). */
static hl_result_t *change(hl_hermes_t *h, const char *name, int op, const json_t *body, bool *busy)
{
    hl_result_t *res = NULL;
    json_t *target_v = json_object_get(body, "target");
    const char *target_s = json_is_string(target_v) ? json_string_value(target_v) : NULL;
    if (op == OP_CLEAR && target_v == NULL)
        target_s = "all";
    hl_memory_target_t target = HL_MEMORY_TARGET_MEMORY;
    bool all = op == OP_CLEAR && target_s != NULL && strcmp(target_s, "all") == 0;
    if (!all && hl_memory_target_parse(target_s, &target) != 0)
        return hl_result_error(HL_RESULT_INVALID, "memory_invalid_target",
                               op == OP_CLEAR ? "target must be user, memory or all" : "target must be user or memory");
    hl_memory_op_t mop = {0};
    switch (op) {
    case OP_ADD:
        mop.kind = HL_MEMORY_ADD;
        if ((mop.content = required_text(body, "content", "memory_content_required", &res)) == NULL)
            return res;
        break;
    case OP_REPLACE:
        mop.kind = HL_MEMORY_REPLACE;
        if ((mop.match = required_text(body, "match", "memory_match_required", &res)) == NULL ||
            (mop.content = required_text(body, "content", "memory_content_required", &res)) == NULL)
            return res;
        break;
    case OP_REMOVE:
        mop.kind = HL_MEMORY_REMOVE;
        if ((mop.match = required_text(body, "match", "memory_match_required", &res)) == NULL)
            return res;
        break;
    default:
        mop.kind = HL_MEMORY_CLEAR;
    }
    hl_memory_limits_t limits;
    char *warning = NULL;
    hl_memory_limits_load(&limits, h->link->hermes_home, name, &warning);
    free(warning);
    hl_memory_file_t last = {0};
    bool have_last = false;
    for (int i = 0; i < 2; ++i) {
        hl_memory_target_t t = all ? (i == 0 ? HL_MEMORY_TARGET_USER : HL_MEMORY_TARGET_MEMORY) : target;
        if (!all && i == 1)
            break;
        hl_memory_file_t f;
        int err = 0;
        hl_memory_status_t st = hl_memory_try_update(h->link->hermes_home, name, t, hl_memory_limit_of(&limits, t), &mop, &f, &err);
        if (st != HL_MEMORY_OK && st != HL_MEMORY_UNCHANGED) {
            hl_memory_file_dispose(&f);
            if (have_last)
                hl_memory_file_dispose(&last);
            *busy = st == HL_MEMORY_BUSY;
            return *busy ? NULL : memory_error(st, err);
        }
        if (have_last)
            hl_memory_file_dispose(&last);
        last = f;
        have_last = true;
    }
    res = memory_view(h, name, have_last ? &last : NULL);
    if (have_last)
        hl_memory_file_dispose(&last);
    return res;
}

/* The request's answer, or NULL when Hermes holds a memory lock the change needs (*busy). */
static hl_result_t *memory_run(hermes_manage_task_t *t, bool *busy)
{
    *busy = false;
    if (!(t->op == OP_GET ? hermes_readable_name(t->h, t->name) : hermes_writable_name(t->h, t->name)))
        return hermes_invalid_name();
    if (!hermes_profile_exists(t->h, t->name))
        return hl_result_error(HL_RESULT_NOT_FOUND, "profile_not_found", "Profile not found");
    switch (t->op) {
    case OP_GET:
        return memory_view(t->h, t->name, NULL);
    case OP_SETTINGS:
        return hermes_memory_settings_patch(t->h, t->name, NULL, t->body);
    case OP_PROVIDER_SETTINGS:
        return hermes_memory_settings_patch(t->h, t->name, t->arg, t->body);
    case OP_PROVIDER:
        return hermes_memory_provider_patch(t->h, t->name, t->body);
    default:
        return change(t->h, t->name, t->op, t->body, busy);
    }
}

/* ---- changes waiting for Hermes's lock ----
 * Hermes holds a memory file's flock while its agent writes the file. A change that finds the lock taken is parked here,
 * in arrival order, and tried again every LOCK_RETRY_MS from the actor's wait hook, so the actor goes on serving every
 * other request meanwhile; a change still blocked after hl_memory_lock_wait_ms() answers 503 memory_busy. A later change
 * of the same profile waits behind a parked one (it may touch the same file and must not overtake an earlier request);
 * other profiles' changes do not. */

static void park(hermes_manage_task_t *t, uint64_t until_ms)
{
    hl_hermes_t *h = t->h;
    t->parked_until_ms = until_ms;
    t->next_parked = NULL;
    if (h->parked_tail != NULL)
        h->parked_tail->next_parked = t;
    else
        h->parked_head = t;
    h->parked_tail = t;
}

/* True when a change parked before `stop` (NULL: any) is for the same profile as `t`. */
static bool profile_parked_before(const hermes_manage_task_t *t, const hermes_manage_task_t *stop)
{
    for (const hermes_manage_task_t *p = t->h->parked_head; p != NULL && p != stop; p = p->next_parked)
        if (strcmp(p->name, t->name) == 0)
            return true;
    return false;
}

static bool is_change(int op)
{
    return op == OP_ADD || op == OP_REPLACE || op == OP_REMOVE || op == OP_CLEAR;
}

static void run_memory(hl_task_t *base)
{
    hermes_manage_task_t *t = (hermes_manage_task_t *)base;
    uint64_t until = hl_monotonic_ms() + hl_memory_lock_wait_ms();
    if (is_change(t->op) && profile_parked_before(t, NULL)) {
        park(t, until);
        return;
    }
    bool busy;
    hl_result_t *res = memory_run(t, &busy);
    if (busy)
        park(t, until);
    else
        hermes_manage_finish(t, res);
}

int hermes_memory_retry_parked(hl_hermes_t *h)
{
    hermes_manage_task_t *prev = NULL, *t = h->parked_head;
    while (t != NULL) {
        hermes_manage_task_t *next = t->next_parked;
        /* a profile's changes go in order: one behind a change of its profile still parked waits its turn */
        if (profile_parked_before(t, t)) {
            prev = t;
            t = next;
            continue;
        }
        bool busy;
        hl_result_t *res = memory_run(t, &busy);
        if (busy && hl_monotonic_ms() < t->parked_until_ms) {
            prev = t;
            t = next;
            continue;
        }
        if (busy)
            res = memory_error(HL_MEMORY_BUSY, 0);
        if (prev != NULL)
            prev->next_parked = next;
        else
            h->parked_head = next;
        if (h->parked_tail == t)
            h->parked_tail = prev;
        hermes_manage_finish(t, res);
        t = next;
    }
    return h->parked_head != NULL ? LOCK_RETRY_MS : -1;
}

void hermes_memory_drop_parked(hl_hermes_t *h)
{
    while (h->parked_head != NULL) {
        hermes_manage_task_t *t = h->parked_head;
        h->parked_head = t->next_parked;
        hermes_manage_free(t); /* 503: the daemon is stopping */
    }
    h->parked_tail = NULL;
}

hl_result_t *hermes_memory_view(hl_hermes_t *h, const char *name)
{
    return memory_view(h, name, NULL);
}

void hl_hermes_memory_settings(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_SETTINGS, run_memory);
}

void hl_hermes_memory_provider(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_PROVIDER, run_memory);
}

void hl_hermes_memory_provider_settings(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *provider,
                                        const json_t *body)
{
    hermes_manage_post(h, to, name, provider, body, OP_PROVIDER_SETTINGS, run_memory);
}

void hl_hermes_memory_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name)
{
    hermes_manage_post(h, to, name, NULL, NULL, OP_GET, run_memory);
}

void hl_hermes_memory_add(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_ADD, run_memory);
}

void hl_hermes_memory_replace(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_REPLACE, run_memory);
}

void hl_hermes_memory_remove(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_REMOVE, run_memory);
}

void hl_hermes_memory_clear(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body)
{
    hermes_manage_post(h, to, name, NULL, body, OP_CLEAR, run_memory);
}
