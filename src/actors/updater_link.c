/*
 * HermesLink's self-update on the updater actor (spec/API.md §14): not yet wired to the release feed.
 */
#include "hl/common.h"
#include "hl/version.h"
#include "updater_internal.h"

void upd_link_check(hl_updater_t *u, hl_reply_to_t *to, bool force)
{
    (void)u;
    (void)force;
    hl_reply(to, hl_result_ok(HL_RESULT_OK, json_object()));
}

hl_result_t *upd_link_start(hl_updater_t *u, const json_t *body)
{
    (void)body;
    return hl_result_ok(HL_RESULT_ACCEPTED, upd_job_json(&u->link_job));
}

void upd_link_transfer_done(hl_updater_t *u, CURL *easy, CURLcode rc)
{
    (void)u;
    (void)easy;
    (void)rc;
}

void upd_link_stop(hl_updater_t *u)
{
    (void)u;
}
