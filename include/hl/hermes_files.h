/*
 * The Hermes files actor (domain layer, src/actors/hermes_files.c): the only part of HermesLink that reads HERMES_HOME.
 * Read-only for now: it never writes Hermes's files and never starts Hermes. It resolves where each Hermes profile's API
 * server listens (and its key) and lists the profiles.
 *
 * Nothing is cached: every request reads the profile's `.env` and `config.yaml` again (each at most 1 MiB), so an edited
 * file is seen by the next request without a restart.
 */
#ifndef HL_HERMES_FILES_H
#define HL_HERMES_FILES_H

#include <jansson.h>

#include "hl/actor.h"
#include "hl/link.h"

typedef struct st_hl_hermes_t hl_hermes_t;

/** Where a profile's API server is, and how it was found. Every string is owned by the struct (hl_upstream_dispose). */
typedef struct st_hl_upstream_t {
    char *profile;  /* "default" or the profile name */
    char *base_url; /* e.g. "http://127.0.0.1:8642", no trailing slash; an IPv6 host is bracketed */
    char *api_key;  /* NULL when none is configured; NEVER logged or put in a response */
    /* "hermeslink-config" | "env-file" | "config.yaml" | "default" (static strings); url_source is the strongest source
       of the host and the port when they come from the profile's files */
    const char *key_source, *url_source;
    int enabled;   /* API_SERVER_ENABLED (.env) else platforms.api_server.enabled: 1 on, 0 off, -1 not said */
    char *warning; /* NULL, or what could not be read in the profile's files and was skipped (no paths, no secrets) */
} hl_upstream_t;

/** Frees what the struct owns (the key is wiped first) and clears it. NULL-safe. */
void hl_upstream_dispose(hl_upstream_t *up);

/** Prepares the actor; it reads link->hermes_home and link->config on each request. Main thread. */
int hl_hermes_init(hl_hermes_t **out, const hl_link_t *link) HL_WARN_UNUSED;

/** The actor (start, stop, and the in-flight bound of requests to it). */
hl_actor_t *hl_hermes_actor(hl_hermes_t *h);

/** Frees it after hl_actor_stop (or when never started). NULL-safe. Main thread. */
void hl_hermes_dispose(hl_hermes_t *h);

/**
 * Called on the Hermes files actor's thread with the resolved upstream (borrowed for the call), or with NULL plus an
 * error code ("invalid_profile_name", "profile_not_found" for a named profile whose directory is missing) and a message
 * fit for a client. It must not block: post to your own actor.
 */
typedef void (*hl_hermes_upstream_fn)(void *data, const hl_upstream_t *up, const char *error_code, const char *message);

/**
 * Resolves `profile` (NULL or "" = "default") on the actor: base URL and key from HermesLink's config (hermesApiUrl,
 * hermesApiKey: the default profile only), else the profile's `.env` (API_SERVER_HOST, API_SERVER_PORT, API_SERVER_KEY),
 * else its config.yaml (platforms.api_server.extra.host/port/key), else http://127.0.0.1:8642 and no key — host, port
 * and key each on their own. A file that cannot be read or parsed is skipped with a warning in the result. `profile` is
 * copied. Any thread.
 */
void hl_hermes_resolve_upstream(hl_hermes_t *h, const char *profile, hl_hermes_upstream_fn done, void *data);

/**
 * Lists the profiles on the actor: "default" first, then the valid directory names under <root>/profiles, sorted
 * bytewise. `done` runs on the actor's thread with a JSON array of strings that it owns (decref it). Any thread.
 */
void hl_hermes_list_profiles(hl_hermes_t *h, void (*done)(void *data, json_t *names), void *data);

#endif
