/*
 * Managing Hermes profiles (spec/API.md §10), on the Hermes files actor (domain layer, src/actors/hermes_manage*.c): the
 * only code that writes HERMES_HOME. Each call posts the work and answers `to` from the actor's thread; names are
 * checked before any path is built (400 invalid_profile_name; so is a name whose folder is a link leading out of the Hermes
 * root, and, on PATCH and DELETE, a folder name Hermes would not give: such a profile is read-only), and answers never
 * carry the user's absolute paths (paths are shown relative to the Hermes profiles root). Bodies are copied: the caller
 * keeps its own.
 */
#ifndef HL_HERMES_MANAGE_H
#define HL_HERMES_MANAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hl/hermes_files.h"
#include "hl/reply.h"
#include "hl/store.h"

/** Lets a deleted profile's conversations be deleted with it. Main thread, before the actor starts. */
void hl_hermes_set_store(hl_hermes_t *h, hl_store_t *store);

/**
 * The whole answer of GET /api/v1/profiles, {"ok":true,"profiles":["default",…]}, from the list the actor publishes
 * (no hop): a malloc'd copy and its length, or NULL before the actor published one. Worker thread (an RCU reader).
 */
char *hl_hermes_profiles_reply(hl_hermes_t *h, size_t *len);

/** The named profiles in the published list (default not counted; 0 before the first list). RCU reader thread. */
int hl_hermes_profile_count(hl_hermes_t *h);

/** GET /api/v1/logs?source=gateway: {"source","logs"} with the newest `limit` lines of the gateway's log (Hermes's
 * logs/gateway.log files, spec FLOWS §10), read on the Hermes files actor; `source` is echoed. */
void hl_hermes_gateway_logs(hl_hermes_t *h, hl_reply_to_t *to, const char *source, size_t limit);

/** 1 when `name` is in the published profile list, 0 when not, -1 before the first list. RCU reader thread. */
int hl_hermes_profile_listed(hl_hermes_t *h, const char *name);

/**
 * The listed profile whose profiles.json uid is `uid` (the `uid` of HermesProfileStatus) copied into name[cap]: 1, or 0
 * when no listed profile has it (a profile gets its uid when it is first seen). RCU reader thread.
 */
int hl_hermes_profile_of_uid(hl_hermes_t *h, const char *uid, char *name, size_t cap);

/** {"profile":HermesProfileStatus} of `name`: 200 also for a profile that does not exist (exists:false). */
void hl_hermes_profile_status_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

/**
 * PATCH /api/v1/profiles/:name: a string `name` in `body` renames the profile (its folder, HermesLink's metadata, and
 * <root>/active_profile when it named the profile);
 * otherwise the metadata (displayName, description, avatarType, avatarUrl) changes. {"profile":Status}.
 */
void hl_hermes_profile_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/**
 * DELETE /api/v1/profiles/:name: the folder, HermesLink's metadata, <root>/active_profile when it named the profile, and
 * the profile's conversations. OK, empty body.
 */
void hl_hermes_profile_delete(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

/* ---- memory (spec/API.md §10 "Memory"): 200 with the whole memory view, or the codes of API.md ---- */

/** GET …/memory. */
void hl_hermes_memory_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

/** POST …/memory/entries {target, content}: an entry already there is a no-op (200). */
void hl_hermes_memory_add(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** PATCH …/memory/entries {target, match, content}. */
void hl_hermes_memory_replace(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** DELETE …/memory/entries {target, match}. */
void hl_hermes_memory_remove(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** DELETE …/memory {target: user | memory | all (default)}. */
void hl_hermes_memory_clear(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/**
 * PATCH …/memory/settings {memoryCharLimit, userCharLimit, memoryEnabled, userProfileEnabled} (or under "settings"):
 * config.yaml's memory block with the built-in provider (GAPS §B 15); 409 memory_provider_external with an external one.
 * 200: the memory view + {backupPath, requiresGatewayReload, gatewayReloaded:false, restartHint}.
 */
void hl_hermes_memory_settings(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** PATCH …/memory/provider {provider}: "built-in" switches back to Hermes's file memory; an external one is 409. */
void hl_hermes_memory_provider(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** PATCH …/memory/providers/:provider/settings: as …/memory/settings for "built-in"; 404/409 otherwise. */
void hl_hermes_memory_provider_settings(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *provider,
                                        const json_t *body);

/* ---- skills (spec/API.md §10, STORAGE §3.5) ---- */

/** GET …/skills: {"profile","skills","categories"}; disabled skills listed unless `include_disabled` is false. */
void hl_hermes_skills_list(hl_hermes_t *h, hl_reply_to_t *to, const char *name, bool include_disabled);

/** PATCH …/skills/:skill {enabled}: config.yaml's skills.disabled edited; the listing + {"skill","backupPath"}. */
void hl_hermes_skill_set(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *skill, const json_t *body);

/* ---- permissions and tool configs (spec/API.md §10, STORAGE §3.3 and §3.6; GAPS §A 14, §B 12, 21) ----
 * An unknown profile is 404 profile_not_found; a config.yaml HermesLink cannot read is 409 config_yaml_invalid (and is
 * left untouched). Changes write only the keys they touch (config.yaml comments and other keys kept byte for byte, one
 * backup per file) and answer {backupPath (relative to the Hermes root, or null), requiresGatewayReload, restartHint,
 * gatewayReloaded:false}: HermesLink cannot reload Hermes's gateway, so a change that Hermes reads at start says so and how
 * to restart, never that a reload happened. Secrets in .env are never answered, only `configured` booleans. */

/** GET …/permissions: {"permissions":Permissions}. */
void hl_hermes_permissions_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

/** PATCH …/permissions {approvals, terminal, toolsets}: 400 profile_permissions_invalid / _update_empty as API.md says;
 * {"permissions":{…Permissions, backupPath, requiresGatewayReload, restartHint, gatewayReloaded}}. */
void hl_hermes_permissions_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** GET …/tool-configs/:toolKey: the tool config object itself as the body (the route sends it without "ok");
 * 400 profile_tool_config_invalid for a key that is not one of the seven. */
void hl_hermes_tool_config_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *tool);

/** PATCH …/tool-configs/:toolKey {"values":{…}} or the values themselves: config.yaml fields and .env keys of the tool
 * (empty strings never clear a key); {"config":{…tool config, backupPath, envBackupPath, requiresGatewayReload,
 * restartHint, gatewayReloaded}}. */
void hl_hermes_tool_config_patch(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const char *tool, const json_t *body);

/* ---- model configs (spec/API.md §9; STORAGE §3.3; GAPS §A 14, 15, §B 12, 23) ---- */

/*
 * /api/v1/model-configs is the default profile's, /api/v1/profiles/:name/model-configs any profile's. Answers carry the
 * listing {configPath (relative to the Hermes root), defaultModel, defaultReasoningEffort, compressionModelId,
 * compressionModel, models} (hl/hermes_models.h), never an API key. Errors: 400 invalid_profile_name; on changes 404
 * profile_not_found (a profile's folder is never created), 400 model_config_invalid (API.md's messages), 409
 * config_yaml_invalid (config.yaml untouched), 409 config_yaml_unsafe / env_file_unsafe, 500 internal_error. Changes
 * answer the listing + {backupPath (relative, or null), requiresGatewayReload, gatewayReloaded: false, restartHint}:
 * HermesLink cannot reload Hermes's gateway, so the hint says how to restart it (hermes [-p <name>] gateway restart).
 */

/** GET: the listing; a profile that does not exist lists no models (200). */
void hl_hermes_model_configs_get(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

/**
 * POST {id, provider, base_url, original_model_id, provider_name, api_key, api_mode, context_length, key_env,
 * set_default, reasoning_effort, reload_gateway | skip_gateway_reload} (API.md's aliases too): the model saved (an API key
 * into the profile's .env), the answer with "model" (the saved ManagedModel). requiresGatewayReload is true when
 * something changed, unless reload_gateway is false (then the hint says the change applies at the next gateway start).
 */
void hl_hermes_model_config_save(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** PATCH …/defaults {task_model_id | default_model_id, compression_model_id} (camelCase too): requiresGatewayReload false
 * (Hermes reads them for each run). */
void hl_hermes_model_defaults(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/** DELETE {model_id | modelId} (400 model_id_required without one): the model removed; the last one is refused. */
void hl_hermes_model_config_delete(hl_hermes_t *h, hl_reply_to_t *to, const char *name, const json_t *body);

/* ---- creating a profile (spec/API.md §10; GAPS §B 9) ---- */

/** A creation status, {state, profile_name, started_at, finished_at, pid, job_id, lines, error} as JSON text (borrowed
 * for the call), and its version (increasing; the event id of the status stream). */
typedef void (*hl_hermes_creation_fn)(void *data, const char *status_json, size_t len, int64_t version);

/** POST /api/v1/profiles: 202 with the creation status (the creation goes on; its status changes are published). */
void hl_hermes_profile_create(hl_hermes_t *h, hl_reply_to_t *to, const json_t *body);

/** GET /api/v1/profile-creation/status: 200 with the creation status. */
void hl_hermes_creation_status(hl_hermes_t *h, hl_reply_to_t *to);

/** Calls `fn` on the actor's thread with every new creation status. Main thread, before the actor starts. */
void hl_hermes_observe_creation(hl_hermes_t *h, hl_hermes_creation_fn fn, void *data);

/** Calls `fn` once, on the actor's thread, with the current status when its version is above `after`, else with NULL. */
void hl_hermes_read_creation(hl_hermes_t *h, int64_t after, hl_hermes_creation_fn fn, void *data);

/* ---- catalog and statistics (spec/API.md §10; GAPS §B 10) ---- */

/** GET /api/v1/profiles/catalog: {generatedAt, profiles:[{profile, capabilities, permissions, modelConfigs, errors}]} for
 * default and every profile; a part that cannot be read is null with an entry in its errors. */
void hl_hermes_profiles_catalog(hl_hermes_t *h, hl_reply_to_t *to);

/** GET /api/v1/profiles/:name/statistics: {profile, capabilities|null, statistics} (the conversations' numbers from the
 * store). */
void hl_hermes_profile_statistics(hl_hermes_t *h, hl_reply_to_t *to, const char *name);

#endif