/*
 * The Node version's JSON documents (spec/STORAGE.md §1.4, §1.8, spec/FLOWS.md §4.2–4.4) turned into the normalised
 * objects of hl/node_home.h. Strict where a value reaches a path or a key (ids), lenient where the Node version itself
 * was (optional fields, unknown keys ignored). A run or message the Node version left unfinished cannot be resumed here:
 * it is imported as failed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hl/clock.h"
#include "hl/node_home.h"

#define TITLE_MAX 4096
#define NAME_MAX_LEN 256
#define INTERRUPTED "Interrupted: imported from the Node HermesLink while unfinished"

bool hl_node_id_valid(const char *prefix, const char *s)
{
    size_t pl = strlen(prefix);
    if (s == NULL || strncmp(s, prefix, pl) != 0 || strlen(s) != pl + 32)
        return false;
    for (const char *p = s + pl; *p != '\0'; ++p)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

bool hl_node_hash_valid(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (const char *p = s; *p != '\0'; ++p)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) HL_PRINTF(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* a string field: present as a string (*out set), absent or null (*out NULL, refused when `required`), else refused */
static int get_str(json_t *o, const char *key, bool required, size_t max, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_string(v) || json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v))
        return -1;
    *out = json_string_value(v);
    return required && (*out)[0] == '\0' ? -1 : 0;
}

/* an ISO time field as epoch ms; absent or null gives `dflt` (refused when required) */
static int get_time(json_t *o, const char *key, bool required, int64_t dflt, int64_t *out)
{
    const char *s;
    if (get_str(o, key, required, 64, &s) != 0)
        return -1;
    *out = dflt;
    return s == NULL ? 0 : hl_parse_iso(s, out) == 0 ? 0 : -1;
}

static int get_count(json_t *o, const char *key, int64_t *out)
{
    json_t *v = json_object_get(o, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = json_integer_value(v);
    return 0;
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t ms)
{
    return ms >= 0 ? json_integer(ms) : json_null();
}

/* ---- credentials.json (§1.4) ---- */

static int parse_device(json_t *d, size_t i, json_t *devices, char *err, size_t errlen)
{
    const char *id, *label, *platform, *model, *scope, *app, *ah, *rh;
    int64_t aexp, rexp, created, updated, seen, revoked, hidden;
    if (!json_is_object(d) || get_str(d, "id", true, 64, &id) != 0 || !hl_node_id_valid("dev_", id))
        return fail(err, errlen, "device %zu has no valid id (dev_ + 32 hex digits)", i);
    if (get_str(d, "label", false, NAME_MAX_LEN, &label) != 0 || get_str(d, "platform", false, NAME_MAX_LEN, &platform) != 0 ||
        get_str(d, "model", false, NAME_MAX_LEN, &model) != 0 || get_str(d, "scope", false, 32, &scope) != 0)
        return fail(err, errlen, "device %s has a malformed label, platform, model or scope", id);
    if (get_str(d, "app_instance_hash", false, 64, &app) != 0 || (app != NULL && !hl_node_hash_valid(app)))
        return fail(err, errlen, "device %s has a malformed app_instance_hash", id);
    if (get_str(d, "access_token_hash", true, 64, &ah) != 0 || !hl_node_hash_valid(ah) ||
        get_str(d, "refresh_token_hash", true, 64, &rh) != 0 || !hl_node_hash_valid(rh))
        return fail(err, errlen, "device %s has no valid token hashes (64 hex digits each)", id);
    if (get_time(d, "access_expires_at", true, 0, &aexp) != 0 || get_time(d, "refresh_expires_at", true, 0, &rexp) != 0 ||
        get_time(d, "created_at", true, 0, &created) != 0 || get_time(d, "updated_at", false, created, &updated) != 0 ||
        get_time(d, "last_seen_at", false, -1, &seen) != 0 || get_time(d, "revoked_at", false, -1, &revoked) != 0 ||
        get_time(d, "app_hidden_at", false, -1, &hidden) != 0)
        return fail(err, errlen, "device %s has a malformed time", id);
    char ahl[65], rhl[65], appl[65];
    for (int k = 0; k < 65; ++k) {
        ahl[k] = (char)tolower((unsigned char)ah[k]);
        rhl[k] = (char)tolower((unsigned char)rh[k]);
        appl[k] = app != NULL ? (char)tolower((unsigned char)app[k]) : '\0';
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "label", json_string(label != NULL && label[0] != '\0' ? label : "HermesPilot App"));
    json_object_set_new(o, "platform", json_string(platform != NULL && platform[0] != '\0' ? platform : "unknown"));
    json_object_set_new(o, "model", str_or_null(model));
    json_object_set_new(o, "scope", json_string(scope != NULL && scope[0] != '\0' ? scope : "admin"));
    json_object_set_new(o, "app_instance_hash", app != NULL ? json_string(appl) : json_null());
    json_object_set_new(o, "access_token_hash", json_string(ahl));
    json_object_set_new(o, "access_expires_at", json_integer(aexp));
    json_object_set_new(o, "refresh_token_hash", json_string(rhl));
    json_object_set_new(o, "refresh_expires_at", json_integer(rexp));
    json_object_set_new(o, "created_at", json_integer(created));
    json_object_set_new(o, "updated_at", json_integer(updated));
    json_object_set_new(o, "last_seen_at", time_or_null(seen));
    json_object_set_new(o, "revoked_at", time_or_null(revoked));
    json_object_set_new(o, "app_hidden_at", time_or_null(hidden));
    json_array_append_new(devices, o);
    return 0;
}

int hl_node_parse_credentials(const char *text, json_t *devices, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr), *list = json_object_get(root, "devices");
    int ret = 0;
    if (!json_is_object(root) || !json_is_array(list)) {
        ret = root == NULL ? fail(err, errlen, "not valid JSON (line %d)", jerr.line)
                           : fail(err, errlen, "expected an object with a devices array");
        goto Exit;
    }
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        if ((ret = parse_device(d, i, devices, err, errlen)) != 0)
            goto Exit;
    }
Exit:
    json_decref(root);
    return ret;
}

/* ---- conversations/<id>/ (§1.8) ---- */

static int parse_manifest(const char *dir_name, json_t *m, json_t **out, char *err, size_t errlen)
{
    const char *id, *title, *status, *profile, *snap, *session;
    int64_t seq, created, updated, deleted;
    if (!json_is_object(m))
        return fail(err, errlen, "manifest.json: not a JSON object");
    if (get_str(m, "id", true, 64, &id) != 0 || !hl_node_id_valid("conv_", id) || strcmp(id, dir_name) != 0)
        return fail(err, errlen, "manifest.json: its id is not a conversation id (conv_ + 32 hex digits) matching its folder");
    if (get_str(m, "title", false, TITLE_MAX, &title) != 0 || get_str(m, "status", true, 32, &status) != 0 ||
        (strcmp(status, "active") != 0 && strcmp(status, "archived") != 0 && strcmp(status, "deleted_soft") != 0))
        return fail(err, errlen, "manifest.json: malformed title or status");
    if (get_str(m, "profile", false, NAME_MAX_LEN, &profile) != 0 ||
        get_str(m, "profile_name_snapshot", false, NAME_MAX_LEN, &snap) != 0 ||
        get_str(m, "hermes_session_id", false, NAME_MAX_LEN, &session) != 0 || get_count(m, "last_event_seq", &seq) != 0)
        return fail(err, errlen, "manifest.json: malformed profile, hermes_session_id or last_event_seq");
    if (get_time(m, "created_at", true, 0, &created) != 0 || get_time(m, "updated_at", false, created, &updated) != 0 ||
        get_time(m, "deleted_at", false, -1, &deleted) != 0)
        return fail(err, errlen, "manifest.json: malformed created_at, updated_at or deleted_at");
    json_t *stats = json_object_get(m, "stats");
    int64_t in = 0, outt = 0, total = 0, cw = -1, stats_at = -1;
    const char *model = NULL, *provider = NULL;
    if (json_is_object(stats)) {
        json_t *cwv = json_object_get(stats, "context_window");
        if (get_count(stats, "input_tokens", &in) != 0 || get_count(stats, "output_tokens", &outt) != 0 ||
            get_count(stats, "total_tokens", &total) != 0 || get_str(stats, "model", false, NAME_MAX_LEN, &model) != 0 ||
            get_str(stats, "provider", false, NAME_MAX_LEN, &provider) != 0 ||
            get_time(stats, "updated_at", false, -1, &stats_at) != 0 ||
            (cwv != NULL && !json_is_null(cwv) && !json_is_integer(cwv)))
            return fail(err, errlen, "manifest.json: malformed stats");
        if (json_is_integer(cwv))
            cw = json_integer_value(cwv);
    } else if (stats != NULL && !json_is_null(stats)) {
        return fail(err, errlen, "manifest.json: malformed stats");
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "title", json_string(title != NULL ? title : "New conversation"));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "profile", str_or_null(profile != NULL ? profile : snap));
    json_object_set_new(o, "hermes_session_id", str_or_null(session));
    json_object_set_new(o, "last_event_seq", json_integer(seq));
    json_object_set_new(o, "created_at", json_integer(created));
    json_object_set_new(o, "updated_at", json_integer(updated));
    json_object_set_new(o, "deleted_at", time_or_null(strcmp(status, "deleted_soft") == 0 && deleted < 0 ? updated : deleted));
    json_object_set_new(o, "input_tokens", json_integer(in));
    json_object_set_new(o, "output_tokens", json_integer(outt));
    json_object_set_new(o, "total_tokens", json_integer(total));
    json_object_set_new(o, "model", str_or_null(model));
    json_object_set_new(o, "provider", str_or_null(provider));
    json_object_set_new(o, "context_window", cw >= 0 ? json_integer(cw) : json_null());
    json_object_set_new(o, "stats_updated_at", time_or_null(stats_at));
    *out = o;
    return 0;
}

/* attachments: blob ids, or objects naming one (id / blob_id) */
static int parse_attachments(json_t *list, json_t *out)
{
    if (list == NULL || json_is_null(list))
        return 0;
    if (!json_is_array(list))
        return -1;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        const char *id = json_string_value(a);
        if (json_is_object(a))
            id = json_string_value(json_object_get(a, "blob_id")) != NULL ? json_string_value(json_object_get(a, "blob_id"))
                                                                          : json_string_value(json_object_get(a, "id"));
        if (!hl_node_id_valid("blob_", id))
            return -1;
        json_array_append_new(out, json_string(id));
    }
    return 0;
}

static int parse_message(const char *conv_id, json_t *m, size_t i, json_t *msgs, char *err, size_t errlen)
{
    const char *id, *role, *status, *run_id, *client_id, *conv, *profile = NULL;
    int64_t created, updated;
    if (!json_is_object(m) || get_str(m, "id", true, 64, &id) != 0 || !hl_node_id_valid("msg_", id))
        return fail(err, errlen, "snapshot.json: message %zu has no valid id (msg_ + 32 hex digits)", i);
    if (get_str(m, "conversation_id", false, 64, &conv) != 0 || (conv != NULL && strcmp(conv, conv_id) != 0))
        return fail(err, errlen, "snapshot.json: message %s belongs to another conversation", id);
    if (get_str(m, "role", true, 16, &role) != 0 ||
        (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0 && strcmp(role, "tool") != 0 && strcmp(role, "system") != 0))
        return fail(err, errlen, "snapshot.json: message %s has a malformed role", id);
    if (get_str(m, "status", true, 16, &status) != 0 || get_str(m, "run_id", false, 64, &run_id) != 0 ||
        (run_id != NULL && !hl_node_id_valid("run_", run_id)) ||
        get_str(m, "client_message_id", false, NAME_MAX_LEN, &client_id) != 0)
        return fail(err, errlen, "snapshot.json: message %s has a malformed status, run_id or client_message_id", id);
    if (get_time(m, "created_at", true, 0, &created) != 0 || get_time(m, "updated_at", false, created, &updated) != 0)
        return fail(err, errlen, "snapshot.json: message %s has a malformed time", id);
    json_t *sender = json_object_get(m, "sender");
    if (json_is_object(sender) && get_str(sender, "profile", false, NAME_MAX_LEN, &profile) != 0)
        return fail(err, errlen, "snapshot.json: message %s has a malformed sender", id);
    json_t *parts = json_object_get(m, "parts"), *attachments = json_array();
    if ((parts != NULL && !json_is_array(parts)) || parse_attachments(json_object_get(m, "attachments"), attachments) != 0) {
        json_decref(attachments);
        return fail(err, errlen, "snapshot.json: message %s has malformed parts or attachments", id);
    }
    /* the text is the message's text parts, in order (the Node version writes exactly one) */
    size_t k, total = 0;
    json_t *p;
    json_array_foreach(parts, k, p) if (json_is_string(json_object_get(p, "text"))) total +=
        json_string_length(json_object_get(p, "text"));
    char *text = hl_malloc(total + 1);
    size_t off = 0;
    json_array_foreach(parts, k, p) if (json_is_string(json_object_get(p, "text")))
    {
        size_t n = json_string_length(json_object_get(p, "text"));
        memcpy(text + off, json_string_value(json_object_get(p, "text")), n);
        off += n;
    }
    text[off] = '\0';
    bool unfinished = strcmp(status, "streaming") == 0 || strcmp(status, "queued") == 0;
    if (!unfinished && strcmp(status, "completed") != 0 && strcmp(status, "failed") != 0 && strcmp(status, "cancelled") != 0) {
        free(text);
        json_decref(attachments);
        return fail(err, errlen, "snapshot.json: message %s has an unknown status", id);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "role", json_string(role));
    json_object_set_new(o, "status", json_string(unfinished ? "failed" : status));
    json_object_set_new(o, "run_id", str_or_null(run_id));
    json_object_set_new(o, "client_message_id", str_or_null(client_id));
    json_object_set_new(o, "profile", str_or_null(profile));
    json_object_set_new(o, "text", json_stringn(text, off));
    json_object_set_new(o, "created_at", json_integer(created));
    json_object_set_new(o, "updated_at", json_integer(updated));
    json_object_set_new(o, "attachments", attachments);
    json_array_append_new(msgs, o);
    free(text);
    return 0;
}

static int parse_run(const char *conv_id, json_t *r, size_t i, json_t *runs, char *err, size_t errlen)
{
    const char *id, *trigger, *assistant, *status, *profile, *snap, *model, *error, *conv;
    int64_t started, completed, in = -1, outt = -1, total = -1;
    if (!json_is_object(r) || get_str(r, "id", true, 64, &id) != 0 || !hl_node_id_valid("run_", id))
        return fail(err, errlen, "snapshot.json: run %zu has no valid id (run_ + 32 hex digits)", i);
    if (get_str(r, "conversation_id", false, 64, &conv) != 0 || (conv != NULL && strcmp(conv, conv_id) != 0))
        return fail(err, errlen, "snapshot.json: run %s belongs to another conversation", id);
    if (get_str(r, "trigger_message_id", true, 64, &trigger) != 0 || !hl_node_id_valid("msg_", trigger) ||
        get_str(r, "assistant_message_id", true, 64, &assistant) != 0 || !hl_node_id_valid("msg_", assistant))
        return fail(err, errlen, "snapshot.json: run %s has malformed message ids", id);
    if (get_str(r, "status", true, 16, &status) != 0 || get_str(r, "profile", false, NAME_MAX_LEN, &profile) != 0 ||
        get_str(r, "profile_name_snapshot", false, NAME_MAX_LEN, &snap) != 0 ||
        get_str(r, "model", false, NAME_MAX_LEN, &model) != 0 || get_str(r, "error_message", false, 64 * 1024, &error) != 0)
        return fail(err, errlen, "snapshot.json: run %s has a malformed status, profile, model or error", id);
    if (get_time(r, "started_at", true, 0, &started) != 0 || get_time(r, "completed_at", false, -1, &completed) != 0)
        return fail(err, errlen, "snapshot.json: run %s has a malformed time", id);
    json_t *usage = json_object_get(r, "usage");
    if (json_is_object(usage)) {
        if (get_count(usage, "input_tokens", &in) != 0 || get_count(usage, "output_tokens", &outt) != 0 ||
            get_count(usage, "total_tokens", &total) != 0)
            return fail(err, errlen, "snapshot.json: run %s has malformed usage", id);
        if (total == 0)
            total = in + outt;
    }
    bool unfinished = strcmp(status, "queued") == 0 || strcmp(status, "running") == 0;
    if (!unfinished && strcmp(status, "completed") != 0 && strcmp(status, "failed") != 0 && strcmp(status, "cancelled") != 0)
        return fail(err, errlen, "snapshot.json: run %s has an unknown status", id);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "trigger_message_id", json_string(trigger));
    json_object_set_new(o, "assistant_message_id", json_string(assistant));
    json_object_set_new(o, "status", json_string(unfinished ? "failed" : status));
    json_object_set_new(o, "profile", str_or_null(profile != NULL ? profile : snap));
    json_object_set_new(o, "model", str_or_null(model));
    json_object_set_new(o, "input_tokens", in >= 0 ? json_integer(in) : json_null());
    json_object_set_new(o, "output_tokens", outt >= 0 ? json_integer(outt) : json_null());
    json_object_set_new(o, "total_tokens", total >= 0 ? json_integer(total) : json_null());
    json_object_set_new(o, "error_message", str_or_null(unfinished ? INTERRUPTED : error));
    json_object_set_new(o, "started_at", json_integer(started));
    json_object_set_new(o, "completed_at", time_or_null(unfinished && completed < 0 ? started : completed));
    json_object_set_new(o, "created_at", json_integer(started));
    json_array_append_new(runs, o);
    return 0;
}

static bool event_type_valid(const char *t)
{
    if (t == NULL || t[0] == '\0' || strlen(t) > 64)
        return false;
    for (const char *p = t; *p != '\0'; ++p)
        if (!((*p >= 'a' && *p <= 'z') || *p == '.' || *p == '_'))
            return false;
    return true;
}

static int parse_event(const char *conv_id, json_t *e, size_t i, int64_t *last_seq, json_t *events, char *err, size_t errlen)
{
    const char *type, *conv, *mid, *rid;
    int64_t seq, created;
    if (!json_is_object(e) || get_str(e, "type", true, 64, &type) != 0 || !event_type_valid(type))
        return fail(err, errlen, "events.json: event %zu has a malformed type", i);
    if (!json_is_integer(json_object_get(e, "seq")) || (seq = json_integer_value(json_object_get(e, "seq"))) <= *last_seq)
        return fail(err, errlen, "events.json: event %zu has a seq that is missing or not increasing", i);
    if (get_str(e, "conversation_id", false, 64, &conv) != 0 || (conv != NULL && strcmp(conv, conv_id) != 0) ||
        get_str(e, "message_id", false, 64, &mid) != 0 || (mid != NULL && !hl_node_id_valid("msg_", mid)) ||
        get_str(e, "run_id", false, 64, &rid) != 0 || (rid != NULL && !hl_node_id_valid("run_", rid)))
        return fail(err, errlen, "events.json: event %zu has a malformed conversation, message or run id", i);
    if (get_time(e, "created_at", true, 0, &created) != 0)
        return fail(err, errlen, "events.json: event %zu has a malformed created_at", i);
    *last_seq = seq;
    json_t *ev = json_deep_copy(e);
    json_object_set_new(ev, "conversation_id", json_string(conv_id));
    json_array_append_new(events, json_pack("{s:I, s:s, s:I, s:o}", "seq", (json_int_t)seq, "type", type, "created_at",
                                            (json_int_t)created, "event", ev));
    return 0;
}

static json_t *load_doc(const char *text, const char *file, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        fail(err, errlen, "%s: not valid JSON (line %d)", file, jerr.line);
    return j;
}

int hl_node_parse_conversation(const char *dir_name, const char *manifest, const char *snapshot, const char *events, json_t **out,
                               char *err, size_t errlen)
{
    json_t *m = NULL, *s = NULL, *e = NULL, *conv = NULL;
    json_t *msgs = json_array(), *runs = json_array(), *evs = json_array();
    int ret = -EINVAL;
    if ((m = load_doc(manifest, "manifest.json", err, errlen)) == NULL || parse_manifest(dir_name, m, &conv, err, errlen) != 0)
        goto Exit;
    const char *id = json_string_value(json_object_get(conv, "id"));
    if (snapshot != NULL) {
        if ((s = load_doc(snapshot, "snapshot.json", err, errlen)) == NULL)
            goto Exit;
        json_t *ml = json_object_get(s, "messages"), *rl = json_object_get(s, "runs");
        if (!json_is_object(s) || (ml != NULL && !json_is_array(ml)) || (rl != NULL && !json_is_array(rl))) {
            fail(err, errlen, "snapshot.json: expected {messages: [...], runs: [...]}");
            goto Exit;
        }
        size_t i;
        json_t *x;
        json_array_foreach(ml, i, x) if (parse_message(id, x, i, msgs, err, errlen) != 0) goto Exit;
        json_array_foreach(rl, i, x) if (parse_run(id, x, i, runs, err, errlen) != 0) goto Exit;
    }
    if (events != NULL) {
        if ((e = load_doc(events, "events.json", err, errlen)) == NULL)
            goto Exit;
        if (!json_is_array(e)) {
            fail(err, errlen, "events.json: expected an array of events");
            goto Exit;
        }
        int64_t last = 0;
        size_t i;
        json_t *x;
        json_array_foreach(e, i, x) if (parse_event(id, x, i, &last, evs, err, errlen) != 0) goto Exit;
        /* the counter must stay ahead of every imported seq, or the next event would collide */
        if (last > json_integer_value(json_object_get(conv, "last_event_seq")))
            json_object_set_new(conv, "last_event_seq", json_integer(last));
    }
    *out = json_pack("{s:O, s:O, s:O, s:O}", "conversation", conv, "messages", msgs, "runs", runs, "events", evs);
    ret = 0;
Exit:
    json_decref(m);
    json_decref(s);
    json_decref(e);
    json_decref(conv);
    json_decref(msgs);
    json_decref(runs);
    json_decref(evs);
    return ret;
}
