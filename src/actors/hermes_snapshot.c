/*
 * The profile list, published to the workers through RCU (like the token table) so that GET /api/v1/profiles and a
 * route that only checks that a profile exists cost no hop to this actor. Refreshed by the actor after its own changes
 * (create, rename, delete), on a miss (a request for a profile the list lacks reads the disk anyway), when inotify
 * reports a change under <root>/profiles (Hermes itself creating or removing one), and on the actor's tick.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu.h>

#include "hermes_actor.h"
#include "hl/fsutil.h"
#include "hl/hermes_read.h"
#include "hl/log.h"
#include "hl/tsan.h"

struct st_hermes_snapshot_t {
    struct rcu_head rcu;
    char *reply; /* {"ok":true,"profiles":["default",…]} */
    size_t reply_len;
    char **names; /* sorted bytewise */
    size_t count;
    char **uids;   /* uids[i]: the profiles.json uid of names[i], NULL when it has none yet */
    char *uid_key; /* the uids joined, to tell when they changed */
};

static void free_snapshot(hermes_snapshot_t *s)
{
    for (size_t i = 0; i < s->count; ++i) {
        free(s->names[i]);
        free(s->uids[i]);
    }
    free(s->names);
    free(s->uids);
    free(s->uid_key);
    free(s->reply);
    free(s);
}

static void free_rcu(struct rcu_head *head)
{
    hermes_snapshot_t *s = caa_container_of(head, hermes_snapshot_t, rcu);
    HL_TSAN_ACQUIRE(s); /* after every reader's release: liburcu's grace period is invisible to ThreadSanitizer */
    free_snapshot(s);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A profile folder that went away outside HermesLink (hermes profile delete, rm -r) takes its profiles.json entry with
 * it, so that a later profile of the same name starts with a new uid and no old metadata. Only a folder that is
 * certainly gone (ENOENT) counts: a read that failed for another reason forgets nothing. */
static void forget_vanished(hl_hermes_t *h, const hermes_snapshot_t *old, const json_t *names)
{
    for (size_t i = 0; i < old->count; ++i) {
        const char *name = old->names[i];
        bool listed = false;
        for (size_t k = 0; k < json_array_size(names) && !listed; ++k)
            listed = strcmp(json_string_value(json_array_get(names, k)), name) == 0;
        if (listed || hermes_registry_find(&h->registry, name) == NULL)
            continue;
        char *dir = hl_hermes_profile_dir(h->link->hermes_home, name);
        struct stat st;
        if (lstat(dir, &st) != 0 && errno == ENOENT && hermes_registry_remove(&h->registry, name) == 0)
            hl_log(HL_LOG_INFO, "Hermes profile removed outside HermesLink; its details were forgotten",
                   json_pack("{s:s}", "profile", name));
        free(dir);
    }
}

/* The uid of each sorted name (NULL: none yet), and all of them joined into *key. */
static char **uids_of(hl_hermes_t *h, char *const *names, size_t count, char **key)
{
    char **uids = hl_calloc(count ? count : 1, sizeof(*uids));
    *key = hl_strdup("");
    for (size_t i = 0; i < count; ++i) {
        const char *uid = json_string_value(json_object_get(hermes_registry_find(&h->registry, names[i]), "uid"));
        uids[i] = uid != NULL ? hl_strdup(uid) : NULL;
        char *next = hl_asprintf("%s%s,", *key, uid != NULL ? uid : "");
        free(*key);
        *key = next;
    }
    return uids;
}

void hermes_snapshot_refresh(hl_hermes_t *h)
{
    h->registry.changed = false;
    json_t *names = hl_hermes_profile_names(h->link->hermes_home);
    json_t *body = json_pack("{s:b, s:O}", "ok", 1, "profiles", names);
    char *reply = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    hermes_snapshot_t *old = h->snapshot; /* the actor is the only writer */
    if (old != NULL && strcmp(old->reply, reply) != 0)
        forget_vanished(h, old, names);
    size_t count = json_array_size(names);
    char **sorted = hl_calloc(count ? count : 1, sizeof(*sorted));
    for (size_t i = 0; i < count; ++i)
        sorted[i] = hl_strdup(json_string_value(json_array_get(names, i)));
    qsort(sorted, count, sizeof(*sorted), by_name);
    json_decref(names);
    char *uid_key;
    char **uids = uids_of(h, sorted, count, &uid_key);
    if (old != NULL && strcmp(old->reply, reply) == 0 && strcmp(old->uid_key, uid_key) == 0) {
        for (size_t i = 0; i < count; ++i) {
            free(sorted[i]);
            free(uids[i]);
        }
        free(sorted);
        free(uids);
        free(uid_key);
        free(reply);
        return;
    }
    hermes_snapshot_t *s = hl_calloc(1, sizeof(*s));
    s->reply = reply;
    s->reply_len = strlen(reply);
    s->count = count;
    s->names = sorted;
    s->uids = uids;
    s->uid_key = uid_key;
    HL_TSAN_RELEASE(s); /* its contents, for the readers' acquire */
    rcu_assign_pointer(h->snapshot, s);
    if (old != NULL) {
        HL_TSAN_RELEASE(old);
        call_rcu(&old->rcu, free_rcu);
    }
}

void hermes_snapshot_clear(hl_hermes_t *h)
{
    hermes_snapshot_t *old = h->snapshot;
    h->snapshot = NULL;
    if (old != NULL) {
        synchronize_rcu();
        HL_TSAN_ACQUIRE(old);
        free_snapshot(old);
    }
}

char *hl_hermes_profiles_reply(hl_hermes_t *h, size_t *len)
{
    char *out = NULL;
    rcu_read_lock();
    hermes_snapshot_t *s = rcu_dereference(h->snapshot);
    if (s != NULL) {
        HL_TSAN_ACQUIRE(s);
        out = hl_strndup(s->reply, s->reply_len);
        *len = s->reply_len;
        HL_TSAN_RELEASE(s);
    }
    rcu_read_unlock();
    return out;
}

int hl_hermes_profile_count(hl_hermes_t *h)
{
    int n = 0;
    rcu_read_lock();
    hermes_snapshot_t *s = rcu_dereference(h->snapshot);
    if (s != NULL) {
        HL_TSAN_ACQUIRE(s);
        n = (int)s->count - 1; /* "default" is always listed */
        HL_TSAN_RELEASE(s);
    }
    rcu_read_unlock();
    return n;
}

int hl_hermes_profile_listed(hl_hermes_t *h, const char *name)
{
    int found = -1;
    rcu_read_lock();
    hermes_snapshot_t *s = rcu_dereference(h->snapshot);
    if (s != NULL) {
        HL_TSAN_ACQUIRE(s);
        found = bsearch(&name, s->names, s->count, sizeof(*s->names), by_name) != NULL;
        HL_TSAN_RELEASE(s);
    }
    rcu_read_unlock();
    return found;
}

int hl_hermes_profile_of_uid(hl_hermes_t *h, const char *uid, char *name, size_t cap)
{
    int found = 0;
    rcu_read_lock();
    hermes_snapshot_t *s = rcu_dereference(h->snapshot);
    if (s != NULL) {
        HL_TSAN_ACQUIRE(s);
        for (size_t i = 0; i < s->count && !found; ++i)
            if (s->uids[i] != NULL && strcmp(s->uids[i], uid) == 0 && strlen(s->names[i]) < cap) {
                memcpy(name, s->names[i], strlen(s->names[i]) + 1);
                found = 1;
            }
        HL_TSAN_RELEASE(s);
    }
    rcu_read_unlock();
    return found;
}

/* ---- inotify ---- */

static int add_watch(hl_hermes_t *h, const char *path, uint32_t mask)
{
    int wd = inotify_add_watch(h->inotify_fd, path, mask | IN_ONLYDIR);
    return wd >= 0 ? wd : -1;
}

void hermes_watch_update(hl_hermes_t *h)
{
    if (h->inotify_fd < 0)
        return;
    if (h->watch_root < 0)
        h->watch_root = add_watch(h, h->root, IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM);
    if (h->watch_dir < 0) {
        char *dir = hl_path_join(h->root, "profiles");
        h->watch_dir = add_watch(h, dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF);
        free(dir);
    }
}

void hermes_watch_handle(hl_hermes_t *h)
{
    /* aligned as struct inotify_event requires */
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool changed = false;
    ssize_t n;
    while ((n = read(h->inotify_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            if (ev->wd == h->watch_dir) {
                changed = true;
                if (ev->mask & IN_MOVE_SELF)
                    inotify_rm_watch(h->inotify_fd, ev->wd); /* it would follow the moved folder */
                if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
                    h->watch_dir = -1; /* profiles/ went away: watched again when it comes back */
            } else if (ev->wd == h->watch_root && ev->len > 0 && strcmp(ev->name, "profiles") == 0) {
                changed = true;
            }
            p += sizeof(*ev) + ev->len;
        }
    }
    if (changed) {
        hermes_watch_update(h);
        hermes_snapshot_refresh(h);
    }
}
