/* The stats actor's private parts, shared by stats.c (life cycle, facts) and stats_queries.c (the two answers). */
#ifndef HL_STATS_INTERNAL_H
#define HL_STATS_INTERNAL_H

#include "hl/db.h"
#include "hl/json_job.h"
#include "hl/stats.h"

struct st_hl_stats_t {
    hl_db_actor_t actor;
};

/** Posts a job to the actor. Any thread. */
void stats_post(hl_stats_t *st, hl_json_job_t *job);

#endif
