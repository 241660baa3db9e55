/*
 * The job status topics of the SSE hub (HL_SSE_TOPIC_JOB): "profile-creation", whose source and publisher is the Hermes
 * files actor, and "hermes-update" / "link-update", the updater actor's. Each status is one event (`event:
 * profile.creation.status`, `hermes.update.status`, `link.update.status`), ordered by the status's version.
 */
#include <string.h>

#include "hl/hermes_manage.h"
#include "hl/sse.h"
#include "hl/updater.h"

#define PROFILE_CREATION "profile-creation"
#define PROFILE_CREATION_EVENT "profile.creation.status"

static hl_sse_record_t record(const char *json, size_t len, int64_t version)
{
    return (hl_sse_record_t){
        .seq = version, .key = PROFILE_CREATION, .type = PROFILE_CREATION_EVENT, .json = json, .json_len = len, .job = true};
}

static void on_status(void *data, const char *json, size_t len, int64_t version)
{
    (void)data;
    hl_sse_record_t r = record(json, len, version);
    hl_sse_publish(&r, 1);
}

/* A page of the topic's history: the current status, when newer than the client's cursor. */
static void on_read(void *page_ctx, const char *json, size_t len, int64_t version)
{
    if (json == NULL) {
        hl_sse_deliver_page(page_ctx, NULL, 0, false, version < 0);
        return;
    }
    hl_sse_record_t r = record(json, len, version);
    hl_sse_deliver_page(page_ctx, &r, 1, false, false);
}

/* the updater actor, source of the update topics (NULL until attached) */
static hl_updater_t *updater_source;

static const char *update_event(const char *topic)
{
    return strcmp(topic, HL_UPDATER_HERMES_TOPIC) == 0 ? HL_UPDATER_HERMES_EVENT : HL_UPDATER_LINK_EVENT;
}

static void on_update_status(void *data, const char *topic, const char *json, size_t len, int64_t version)
{
    (void)data;
    hl_sse_record_t r = {.seq = version, .key = topic, .type = update_event(topic), .json = json, .json_len = len, .job = true};
    hl_sse_publish(&r, 1);
}

static void on_update_read(void *page_ctx, const char *topic, const char *json, size_t len, int64_t version)
{
    if (json == NULL) {
        hl_sse_deliver_page(page_ctx, NULL, 0, false, version < 0);
        return;
    }
    hl_sse_record_t r = {.seq = version, .key = topic, .type = update_event(topic), .json = json, .json_len = len, .job = true};
    hl_sse_deliver_page(page_ctx, &r, 1, false, false);
}

static void read_page(void *data, const char *key, int64_t after, bool notifications_only, size_t limit, void *page_ctx)
{
    (void)notifications_only;
    (void)limit;
    if (key != NULL && updater_source != NULL &&
        (strcmp(key, HL_UPDATER_HERMES_TOPIC) == 0 || strcmp(key, HL_UPDATER_LINK_TOPIC) == 0)) {
        hl_updater_read(updater_source, key, after, on_update_read, page_ctx);
        return;
    }
    if (key == NULL || strcmp(key, PROFILE_CREATION) != 0) {
        hl_sse_deliver_page(page_ctx, NULL, 0, false, true);
        return;
    }
    if (data == NULL) {
        hl_sse_deliver_page(page_ctx, NULL, 0, false, true);
        return;
    }
    hl_hermes_read_creation(data, after, on_read, page_ctx);
}

/* the Hermes files actor, source of the profile-creation topic (NULL until attached) */
static struct st_hl_hermes_t *hermes_source;

static void set_source(void)
{
    hl_sse_source_t src = {.read = read_page, .data = hermes_source};
    hl_sse_set_source(HL_SSE_TOPIC_JOB, &src);
}

void hl_sse_attach_updater(hl_updater_t *updater)
{
    updater_source = updater;
    set_source();
    hl_updater_observe(updater, on_update_status, NULL);
}

void hl_sse_attach_hermes(struct st_hl_hermes_t *hermes)
{
    hermes_source = hermes;
    set_source();
    hl_hermes_observe_creation(hermes, on_status, NULL);
}
