/*
 * HermesLink's self-update on the updater actor (spec/API.md §14, FLOWS.md §8.2, GAPS §B 16; SECURITY.md
 * "Self-update"). The release feed (config updateUrl) is read with libcurl on the actor's multi handle; a manifest counts
 * only once its ed25519 signature verifies. An update downloads the platform's binary into a temp file beside the
 * running one (size capped at the manifest's), checks its size and SHA-256 against the signed manifest, keeps the old
 * binary as <exe>.previous and renames the new one over it; the new version runs after a restart (state
 * restart_required). Refused, with the command to run by hand, when the binary belongs to a package manager or is
 * not HermesLink's user's to replace.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hl/clock.h"
#include "hl/common.h"
#include "hl/fsutil.h"
#include "hl/ids.h"
#include "hl/log.h"
#include "hl/version.h"
#include "updater_internal.h"

/* the release key compiled in (standard base64 of the raw 32-byte ed25519 public key; empty: none) */
#ifndef HL_UPDATE_PUBLIC_KEY
#define HL_UPDATE_PUBLIC_KEY ""
#endif

#define NO_FEED "No release feed is configured (hermeslink config set update-url <url>)"

static const char *public_key(const hl_updater_t *u)
{
    if (u->link->config->update_public_key != NULL)
        return u->link->config->update_public_key;
    return HL_UPDATE_PUBLIC_KEY[0] != '\0' ? HL_UPDATE_PUBLIC_KEY : NULL;
}

/* ---- the manual way ---- */

/* How to install `r` by hand (NULL release: the generic instruction). Caller frees. */
static char *manual_command(const upd_release_t *r, bool package)
{
    if (package)
        return hl_strdup("sudo apt-get install --only-upgrade hermeslink");
    if (r == NULL || r->url == NULL)
        return hl_strdup("Download the release for your platform from the release feed, check its SHA-256, and install it "
                         "over \"$(command -v hermeslink)\"");
    return hl_asprintf("curl -fL -o hermeslink.new '%s' && echo '%s  hermeslink.new' | sha256sum -c - && "
                       "install -m 0755 hermeslink.new \"$(command -v hermeslink)\" && hermeslink restart",
                       r->url, r->sha256);
}

const char *upd_refusal(const char *exe, const struct stat *st, uid_t euid, bool dir_writable, bool *package)
{
    static const char *const SYSTEM_PREFIXES[] = {"/usr/", "/bin/",  "/sbin/", "/lib/", "/lib64/",
                                                  "/opt/", "/snap/", "/nix/",  "/gnu/"};
    *package = false;
    if (exe == NULL || strstr(exe, " (deleted)") != NULL)
        return "HermesLink cannot tell which file it runs from";
    if (strncmp(exe, "/usr/local/", 11) != 0)
        for (size_t i = 0; i < HL_ARRAY_SIZE(SYSTEM_PREFIXES); ++i)
            if (strncmp(exe, SYSTEM_PREFIXES[i], strlen(SYSTEM_PREFIXES[i])) == 0) {
                *package = true;
                return "HermesLink was installed by a package manager, which must update it";
            }
    if (!S_ISREG(st->st_mode))
        return "HermesLink's binary is not a regular file";
    if (st->st_uid != euid || !dir_writable)
        return "HermesLink's binary is not writable by the user HermesLink runs as";
    return NULL;
}

/* The running binary's path (malloc'd), or NULL. */
static char *exe_path(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    return hl_strdup(buf);
}

/* Why this binary may not be replaced (NULL: it may); *package when a package manager owns it. */
static const char *refusal(const char *exe, bool *package)
{
    struct stat st;
    if (exe == NULL || stat(exe, &st) != 0) {
        *package = false;
        return "HermesLink cannot tell which file it runs from";
    }
    char *copy = hl_strdup(exe);
    bool dir_writable = access(dirname(copy), W_OK) == 0 && access(exe, W_OK) == 0;
    free(copy);
    return upd_refusal(exe, &st, geteuid(), dir_writable, package);
}

/* ---- transfers ---- */

static size_t on_feed_data(char *ptr, size_t size, size_t nmemb, void *data)
{
    upd_fetch_t *f = data;
    size_t n = size * nmemb;
    if (f->len + n > UPD_MANIFEST_MAX_BYTES) {
        f->too_big = true;
        return 0;
    }
    f->buf = hl_realloc(f->buf, f->len + n + 1);
    memcpy(f->buf + f->len, ptr, n);
    f->len += n;
    f->buf[f->len] = '\0';
    return n;
}

static size_t on_download_data(char *ptr, size_t size, size_t nmemb, void *data);

static void fetch_free(hl_updater_t *u, upd_fetch_t *f)
{
    if (f == NULL)
        return;
    if (f->easy != NULL) {
        curl_multi_remove_handle(u->multi, f->easy);
        curl_easy_cleanup(f->easy);
    }
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp_path != NULL) {
        unlink(f->tmp_path); /* an unfinished or refused download leaves nothing behind */
        free(f->tmp_path);
    }
    EVP_MD_CTX_free(f->sha);
    free(f->buf);
    free(f);
}

static upd_fetch_t *fetch_new(hl_updater_t *u, const char *url, bool download, long timeout_ms)
{
    upd_fetch_t *f = hl_calloc(1, sizeof(*f));
    f->fd = -1;
    f->is_download = download;
    f->easy = curl_easy_init();
    if (f->easy == NULL)
        hl_fatal("curl_easy_init failed");
    curl_easy_setopt(f->easy, CURLOPT_URL, url);
    curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(f->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(f->easy, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)UPD_FEED_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "HermesLink/" HL_VERSION);
    curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, download ? on_download_data : on_feed_data);
    curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
    if (curl_multi_add_handle(u->multi, f->easy) != CURLM_OK)
        hl_fatal("curl_multi_add_handle failed");
    return f;
}

/* ---- the check ---- */

/* json_string of a malloc'd string, freeing it */
static json_t *owned_string(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *check_answer(const hl_updater_t *u, const upd_release_t *r, const char *issue)
{
    bool available = r != NULL && upd_version_cmp(r->version, HL_VERSION) > 0;
    bool unsafe = r != NULL && r->min_safe_version != NULL && upd_version_cmp(HL_VERSION, r->min_safe_version) < 0;
    bool package = false;
    char *exe = exe_path();
    bool blocked = refusal(exe, &package) != NULL;
    free(exe);
    json_t *remote = json_null();
    if (r != NULL)
        remote = json_pack("{s:s, s:o, s:s, s:o, s:o}", "current_version", HL_VERSION, "min_safe_version",
                           r->min_safe_version ? json_string(r->min_safe_version) : json_null(), "target_version", r->version,
                           "release_url", r->release_url ? json_string(r->release_url) : json_null(), "published_at",
                           r->published_at ? json_string(r->published_at) : json_null());
    (void)u;
    return json_pack("{s:{s:s, s:s}, s:o, s:s, s:b, s:b, s:b, s:s, s:o, s:{s:o, s:s, s:o}}", "local", "version", HL_VERSION, "raw",
                     HL_VERSION, "remote", remote, "state", available ? "update_available" : "current", "update_available",
                     available, "unsafe", unsafe, "blocked", blocked, "check_state", issue == NULL ? "checked" : "unavailable",
                     "issue", issue ? json_string(issue) : json_null(), "manual", "command",
                     available ? owned_string(manual_command(r, package)) : json_null(), "package", "hermeslink", "version",
                     available ? json_string(r->version) : json_null());
}

static void set_available(hl_updater_t *u, const char *version)
{
    if ((version == NULL && u->available == NULL) ||
        (version != NULL && u->available != NULL && strcmp(version, u->available) == 0))
        return;
    free(u->available);
    u->available = version != NULL ? hl_strdup(version) : NULL;
    json_t *state = upd_link_state_read(u->link->home);
    json_object_set_new(state, "updateAvailable", version != NULL ? json_string(version) : json_null());
    if (upd_link_state_write(u->link->home, state) != 0)
        hl_logf(HL_LOG_WARN, "updater: cannot write link-state.json");
    json_decref(state);
    if (u->available_fn != NULL)
        u->available_fn(u->available_data, version);
    if (version != NULL)
        hl_log(HL_LOG_INFO, "a HermesLink update is available",
               json_pack("{s:s, s:s}", "current", HL_VERSION, "available", version));
}

static void answer_link_waiters(hl_updater_t *u, json_t *answer)
{
    for (size_t i = 0; i < u->num_link_waiters; ++i)
        hl_reply(u->link_waiters[i], hl_result_ok(HL_RESULT_OK, json_deep_copy(answer)));
    u->num_link_waiters = 0;
}

static void start_feed(hl_updater_t *u)
{
    if (u->feed == NULL)
        u->feed = fetch_new(u, u->link->config->update_url, false, UPD_FEED_TIMEOUT_MS);
}

void upd_link_check(hl_updater_t *u, hl_reply_to_t *to, bool force)
{
    if (u->link->config->update_url == NULL) {
        json_t *a = check_answer(u, NULL, NO_FEED);
        hl_reply(to, hl_result_ok(HL_RESULT_OK, a));
        return;
    }
    /* an answer is reused for a while; a failed read only briefly, so that a fixed network shows soon */
    bool failed = u->link_check != NULL && strcmp(json_string_value(json_object_get(u->link_check, "check_state")), "checked") != 0;
    uint64_t ttl = failed ? UPD_CHECK_RETRY_MS : UPD_CHECK_CACHE_MS;
    if (!force && u->feed == NULL && u->link_check != NULL && hl_monotonic_ms() - u->link_check_at < ttl) {
        json_t *a = json_deep_copy(u->link_check);
        if (strcmp(json_string_value(json_object_get(a, "check_state")), "checked") == 0)
            json_object_set_new(a, "check_state", json_string("cached"));
        hl_reply(to, hl_result_ok(HL_RESULT_OK, a));
        return;
    }
    if (to != NULL) {
        u->link_waiters = hl_realloc(u->link_waiters, (u->num_link_waiters + 1) * sizeof(*u->link_waiters));
        u->link_waiters[u->num_link_waiters++] = to;
    }
    start_feed(u);
}

/* ---- the update ---- */

static void fail(hl_updater_t *u, char *error)
{
    upd_job_t *j = &u->link_job;
    upd_job_line(j, error, strlen(error));
    upd_job_end(j, u->link->home, "failed", error);
    hl_log(HL_LOG_WARN, "HermesLink self-update failed", json_pack("{s:s}", "error", error));
    upd_publish(u, j);
    fetch_free(u, u->download);
    u->download = NULL;
    upd_release_dispose(&u->release);
}

static void progress(hl_updater_t *u, const char *fmt, ...) HL_PRINTF(2, 3);
static void progress(hl_updater_t *u, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (upd_job_line(&u->link_job, buf, strlen(buf)))
        u->link_job.dirty = true;
}

hl_result_t *upd_link_start(hl_updater_t *u, const json_t *body)
{
    upd_job_t *j = &u->link_job;
    if (upd_job_running(j))
        return hl_result_ok(HL_RESULT_ACCEPTED, upd_job_json(j));
    const char *target = json_string_value(json_object_get(body, "target_version"));
    if (target == NULL)
        target = json_string_value(json_object_get(body, "targetVersion"));
    upd_job_begin(j, u->link->home);
    j->target_version = target != NULL ? hl_strdup(target) : NULL;
    free(u->exe_path);
    u->exe_path = exe_path();
    bool package = false;
    const char *why = refusal(u->exe_path, &package);
    if (why != NULL) {
        j->manual_command = manual_command(NULL, package);
        fail(u, hl_strdup(why));
    } else if (u->link->config->update_url == NULL) {
        j->manual_command = manual_command(NULL, false);
        fail(u, hl_strdup(NO_FEED));
    } else if (public_key(u) == NULL) {
        j->manual_command = manual_command(NULL, false);
        fail(u, hl_strdup("No release key is configured: this build has none, and config updatePublicKey is not set"));
    } else {
        progress(u, "Reading the release feed");
        u->feed_for_update = true;
        /* a check's transfer in flight may predate a new release: the update reads the feed afresh */
        if (u->feed != NULL) {
            fetch_free(u, u->feed);
            u->feed = NULL;
        }
        start_feed(u);
        upd_publish(u, j);
        hl_log(HL_LOG_INFO, "HermesLink self-update started", json_pack("{s:s}", "job_id", j->job_id));
    }
    return hl_result_ok(HL_RESULT_ACCEPTED, upd_job_json(j));
}

static size_t on_download_data(char *ptr, size_t size, size_t nmemb, void *data)
{
    upd_fetch_t *f = data;
    size_t n = size * nmemb;
    if (f->received + n > f->expected) {
        f->too_big = true; /* more than the signed size: stop at once */
        return 0;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(f->fd, ptr + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        off += (size_t)w;
    }
    EVP_DigestUpdate(f->sha, ptr, n);
    f->received += n;
    if (f->received >= f->next_progress && f->received < f->expected) {
        progress(f->owner, "Downloaded %llu of %llu bytes (%llu%%)", (unsigned long long)f->received,
                 (unsigned long long)f->expected, (unsigned long long)(f->received * 100 / f->expected));
        f->next_progress = f->received + f->expected / 10;
    }
    return n;
}

/* The manifest for an update arrived and verified: starts the download. */
static void begin_download(hl_updater_t *u, upd_release_t *r)
{
    upd_job_t *j = &u->link_job;
    free(j->manual_command);
    j->manual_command = manual_command(r, false);
    if (j->target_version != NULL && upd_version_cmp(j->target_version, r->version) != 0) {
        char *e = hl_asprintf("The release feed offers %s, not %s", r->version, j->target_version);
        upd_release_dispose(r);
        fail(u, e);
        return;
    }
    if (upd_version_cmp(r->version, HL_VERSION) <= 0) {
        upd_release_dispose(r);
        fail(u, hl_asprintf("Hermes Link is already on the current version (%s)", HL_VERSION));
        return;
    }
    free(j->target_version);
    j->target_version = hl_strdup(r->version);
    upd_release_dispose(&u->release);
    u->release = *r;
    memset(r, 0, sizeof(*r));
    char *dir = hl_strdup(u->exe_path);
    char *name = hl_asprintf(".hermeslink-update.%d.tmp", (int)getpid());
    char *tmp = hl_path_join(dirname(dir), name);
    free(name);
    free(dir);
    unlink(tmp); /* a leftover of an earlier process with our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(tmp);
        fail(u, hl_strdup("A new binary cannot be written beside the running one"));
        return;
    }
    u->download = fetch_new(u, u->release.url, true, UPD_DOWNLOAD_TIMEOUT_MS);
    u->download->fd = fd;
    u->download->tmp_path = tmp;
    u->download->expected = u->release.size;
    u->download->next_progress = u->release.size / 10;
    u->download->owner = u;
    u->download->sha = EVP_MD_CTX_new();
    if (u->download->sha == NULL || EVP_DigestInit_ex(u->download->sha, EVP_sha256(), NULL) != 1)
        hl_fatal("cannot start a SHA-256");
    curl_easy_setopt(u->download->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)u->release.size);
    curl_easy_setopt(u->download->easy, CURLOPT_NOPROGRESS, 1L);
    progress(u, "Downloading hermeslink %s for %s (%llu bytes)", u->release.version, u->release.platform,
             (unsigned long long)u->release.size);
    upd_publish(u, &u->link_job);
}

/* Feed answer handling shared by checks and updates: the verified release, or NULL and the reason. */
static char *read_manifest(hl_updater_t *u, upd_fetch_t *f, CURLcode rc, upd_release_t *out)
{
    long status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (f->too_big)
        return hl_asprintf("The release manifest is larger than %u KiB", UPD_MANIFEST_MAX_BYTES >> 10);
    if (rc != CURLE_OK)
        return hl_asprintf("The release feed could not be reached (%s)", curl_easy_strerror(rc));
    if (status != 200)
        return hl_asprintf("The release feed answered HTTP %ld", status);
    const char *why = NULL;
    if (upd_manifest_parse(f->buf != NULL ? f->buf : "", f->len, upd_platform(), out, &why) != 0)
        return hl_strdup(why);
    const char *key = public_key(u);
    int ret = key != NULL ? upd_release_verify(out, key) : -EINVAL;
    if (ret != 0) {
        upd_release_dispose(out);
        if (key == NULL)
            return hl_strdup("No release key is configured: this build has none, and config updatePublicKey is not set");
        if (ret == -EINVAL)
            return hl_strdup("The configured release key (updatePublicKey) is not an ed25519 public key");
        return hl_strdup("The release manifest's signature does not verify with the release key");
    }
    return NULL;
}

static void feed_done(hl_updater_t *u, CURLcode rc)
{
    upd_fetch_t *f = u->feed;
    u->feed = NULL;
    upd_release_t r;
    memset(&r, 0, sizeof(r));
    char *issue = read_manifest(u, f, rc, &r);
    fetch_free(u, f);
    json_t *answer = check_answer(u, issue == NULL ? &r : NULL, issue);
    json_decref(u->link_check);
    u->link_check = json_incref(answer);
    u->link_check_at = hl_monotonic_ms();
    if (issue == NULL)
        set_available(u, upd_version_cmp(r.version, HL_VERSION) > 0 ? r.version : NULL);
    answer_link_waiters(u, answer);
    json_decref(answer);
    if (u->feed_for_update && upd_job_running(&u->link_job)) {
        u->feed_for_update = false;
        if (issue != NULL) {
            u->link_job.manual_command = manual_command(NULL, false);
            fail(u, issue);
            issue = NULL;
        } else {
            begin_download(u, &r);
        }
    }
    upd_release_dispose(&r);
    free(issue);
}

/* Puts the verified download in place of the running binary, keeping the old one as <exe>.previous. */
static char *install(hl_updater_t *u, upd_fetch_t *f)
{
    struct stat st;
    if (stat(u->exe_path, &st) != 0)
        return hl_strdup("The running binary is gone");
    if (fchmod(f->fd, st.st_mode & 07777) != 0 || fsync(f->fd) != 0)
        return hl_strdup("The new binary could not be written to disk");
    close(f->fd);
    f->fd = -1;
    char *previous = hl_asprintf("%s.previous", u->exe_path);
    unlink(previous);
    if (link(u->exe_path, previous) != 0) {
        free(previous);
        return hl_strdup("The old binary could not be kept as hermeslink.previous; nothing was replaced");
    }
    free(previous);
    if (rename(f->tmp_path, u->exe_path) != 0)
        return hl_strdup("The new binary could not be put in place; nothing was replaced");
    free(f->tmp_path);
    f->tmp_path = NULL;
    char *dir = hl_strdup(u->exe_path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            hl_logf(HL_LOG_WARN, "updater: cannot fsync the binary's folder");
        close(dfd);
    }
    return NULL;
}

static char *pending_path(const hl_updater_t *u)
{
    char *run = hl_path_join(u->link->home, "run");
    char *path = hl_path_join(run, "link-update-pending.json");
    free(run);
    return path;
}

/* The marker the re-executed process finds: which job restarted it. */
static int write_pending(hl_updater_t *u)
{
    json_t *o = json_pack("{s:s, s:s}", "job_id", u->link_job.job_id, "target_version", u->release.version);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *path = pending_path(u);
    int ret = hl_write_file_atomic(path, text, strlen(text), 0600);
    free(path);
    free(text);
    return ret;
}

void upd_link_resume(hl_updater_t *u)
{
    char *path = pending_path(u), *text = NULL;
    json_t *o = hl_read_file(path, 4096, &text, NULL) == 0 ? json_loads(text, 0, NULL) : NULL;
    free(text);
    unlink(path);
    free(path);
    upd_job_t *j = &u->link_job;
    const char *job = json_string_value(json_object_get(o, "job_id"));
    if (job != NULL && j->job_id != NULL && strcmp(job, j->job_id) == 0 &&
        (strcmp(j->state, "restart_required") == 0 || strcmp(j->state, "succeeded") == 0)) {
        char *line = hl_asprintf("HermesLink restarted from the new binary (it reports version %s)", HL_VERSION);
        upd_lines_add(j->lines, line, strlen(line));
        free(line);
        j->state = "succeeded";
        upd_job_save(j, u->link->home);
        hl_log(HL_LOG_INFO, "HermesLink self-update succeeded", json_pack("{s:s}", "version", HL_VERSION));
    }
    json_decref(o);
}

static void download_done(hl_updater_t *u, CURLcode rc)
{
    upd_fetch_t *f = u->download;
    upd_job_t *j = &u->link_job;
    long status = 0;
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
    if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        fail(u, hl_asprintf("The download is larger than the %llu bytes the release manifest says; nothing was replaced",
                            (unsigned long long)f->expected));
        return;
    }
    if (rc != CURLE_OK) {
        fail(u, hl_asprintf("The download failed (%s); nothing was replaced", curl_easy_strerror(rc)));
        return;
    }
    if (status != 200) {
        fail(u, hl_asprintf("The download answered HTTP %ld; nothing was replaced", status));
        return;
    }
    progress(u, "Downloaded %llu of %llu bytes", (unsigned long long)f->received, (unsigned long long)f->expected);
    if (f->received != f->expected) {
        fail(u, hl_asprintf("The download is %llu bytes, not the %llu the release manifest says (truncated?); nothing was "
                            "replaced",
                            (unsigned long long)f->received, (unsigned long long)f->expected));
        return;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char hex[65];
    if (EVP_DigestFinal_ex(f->sha, md, &mdlen) != 1 || mdlen != 32 || strcmp(hl_hex(md, 32, hex), u->release.sha256) != 0) {
        fail(u, hl_strdup("The download's SHA-256 does not match the signed release manifest; nothing was replaced"));
        return;
    }
    progress(u, "Size, SHA-256 and signature verified");
    char *err = install(u, f);
    if (err != NULL) {
        fail(u, err);
        return;
    }
    fetch_free(u, f);
    u->download = NULL;
    progress(u, "Installed hermeslink %s; the previous binary is kept as hermeslink.previous", u->release.version);
    bool restart = u->restart_fn != NULL && write_pending(u) == 0;
    progress(u, restart ? "Restarting HermesLink with the new binary"
                        : "Restart HermesLink to run the new version (hermeslink restart)");
    upd_job_end(j, u->link->home, "restart_required", NULL);
    hl_log(HL_LOG_INFO, "HermesLink self-update installed",
           json_pack("{s:s, s:b}", "version", u->release.version, "restart", restart));
    upd_publish(u, j);
    upd_release_dispose(&u->release);
    if (restart)
        u->restart_fn(u->restart_data, u->exe_path);
}

void upd_link_transfer_done(hl_updater_t *u, CURL *easy, CURLcode rc)
{
    if (u->feed != NULL && u->feed->easy == easy)
        feed_done(u, rc);
    else if (u->download != NULL && u->download->easy == easy)
        download_done(u, rc);
}

void upd_link_stop(hl_updater_t *u)
{
    if (u->feed != NULL) {
        fetch_free(u, u->feed);
        u->feed = NULL;
        json_t *a = check_answer(u, NULL, "HermesLink is stopping");
        answer_link_waiters(u, a);
        json_decref(a);
    }
    if (upd_job_running(&u->link_job))
        fail(u, hl_strdup("HermesLink stopped during the self-update; nothing was replaced"));
    fetch_free(u, u->download);
    u->download = NULL;
}
