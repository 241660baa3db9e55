/*
 * The stats actor (src/actors/stats*.c; spec/API.md §8, FLOWS.md §7): usage facts of finished runs and the statistics
 * routes' answers. Domain layer: typed requests in, hl_result_t out (no HTTP here).
 *
 * It observes the store's committed batches: every run that ended (run.completed, run.failed, run.cancelled) and every
 * direct run (POST /api/v1/runs) whose end the store recorded becomes one row of run_usage_facts, written on the actor's
 * own link.db connection (group commit) from the committed rows, at most once per run; a conversation.deleted marks the
 * conversation's facts deleted, and they stop counting. At start it catches up on both (a crash between the store's commit
 * and its own). Queries are SQL aggregates on its connection, over per-day sums that triggers keep (migration 6). It
 * starts before the store and stops after it, so that every commit reaches it.
 */
#ifndef HL_STATS_H
#define HL_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "hl/actor.h"
#include "hl/reply.h"
#include "hl/store.h"

/** Longest `profile` / `model` filter accepted, in bytes (longer → 400 invalid_statistics_filter). */
#define HL_STATS_MAX_FILTER 256
/** Most days a usage range spans. */
#define HL_STATS_MAX_DAYS 30
/** Most entries of the usage answer's `models` and `profiles`. */
#define HL_STATS_TOP 12

/* ---- the usage range (pure; any thread) ---- */

/** A UTC date range in days since 1970-01-01, both ends included; days = to_day - from_day + 1 (1..30). */
typedef struct st_hl_stats_range_t {
    int64_t from_day, to_day;
    int days;
} hl_stats_range_t;

/** Day number of `s` when it is exactly "YYYY-MM-DD" and a real calendar date (leap years included); false otherwise. */
bool hl_stats_parse_date(const char *s, int64_t *day);

/** Writes "YYYY-MM-DD" of day number `day` (years 0..9999) into `buf` (at least 11 bytes). */
void hl_stats_format_date(int64_t day, char *buf);

/**
 * The range of GET /api/v1/statistics/usage from its raw query values (each NULL when absent), spec/API.md §8: `days`
 * read as JavaScript's parseInt (default 30 when not a number, then clamped to 1..30); `from` / `to` used only when real
 * dates; `to` (else today) capped at `today`; `from` (else to − (days − 1)); a span over 30 days starts at to − 29; from
 * after to becomes to.
 */
void hl_stats_range(const char *days, const char *from, const char *to, int64_t today, hl_stats_range_t *out);

/* ---- the actor ---- */

typedef struct st_hl_stats_t hl_stats_t;

/** Prepares the actor on `db_path` (migrated). Main thread. */
int hl_stats_init(hl_stats_t **out, const char *db_path) HL_WARN_UNUSED;

/**
 * Makes the actor an observer of `store`'s commits. Main thread, before the store starts; stop the actor only after the
 * store (it posts here until it stops).
 */
void hl_stats_observe(hl_stats_t *st, hl_store_t *store);

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_stats_actor(hl_stats_t *st);

/** Frees it after hl_actor_stop (or when never started). Main thread. */
void hl_stats_dispose(hl_stats_t *st);

/** A usage query: its range and optional filters (NULL = none; copied). */
typedef struct st_hl_stats_usage_req_t {
    hl_stats_range_t range;
    const char *model;   /* exact model */
    const char *profile; /* exact profile name */
} hl_stats_usage_req_t;

/** GET /api/v1/statistics/usage: answers OK with {"usage":{range, totals, daily, models, profiles, updated_at?}}. Any thread. */
void hl_stats_usage(hl_stats_t *st, hl_reply_to_t *to, const hl_stats_usage_req_t *req);

/**
 * GET /api/v1/statistics: answers OK with {"statistics":{…}} — conversations by status (total = active + archived,
 * deleted on its own), the tokens, messages and runs of the ones not deleted, the distinct models of their usage facts,
 * and `profiles_total` as the profiles' total — for every profile, or only `profile` (NULL = all; "default" includes
 * conversations without a profile). Any thread.
 */
void hl_stats_summary(hl_stats_t *st, hl_reply_to_t *to, const char *profile, int profiles_total);

#endif
