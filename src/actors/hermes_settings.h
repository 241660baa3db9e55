/*
 * A profile's permissions and tool configs (spec/API.md §10 "Permissions" and "Tool configs", STORAGE §3.3 and §3.6),
 * derived from config.yaml (as JSON, hermes_yaml_json) and the profile's `.env`, and the edits a PATCH makes of them.
 * Pure functions (hermes_permissions.c, hermes_tool_configs.c): no I/O, any thread; the Hermes files actor reads the
 * files and writes the plans (hermes_manage_settings.c). Secrets never leave these views: a `.env` key that holds one is
 * shown only as a `configured` boolean.
 */
#ifndef HL_ACTORS_HERMES_SETTINGS_H
#define HL_ACTORS_HERMES_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hermes_config_edits.h"
#include "hermes_env_file.h"
#include "hl/hermes_read.h"
#include "hl/reply.h"

/** What the views are derived from. */
typedef struct st_hermes_settings_src_t {
    const json_t *config;   /* config.yaml as JSON (an object; {} for a missing file) */
    const hl_dotenv_t *env; /* the profile's .env */
    bool has_auth;          /* the profile holds Hermes's auth.json (OAuth logins, e.g. openai-codex) */
} hermes_settings_src_t;

/* ---- permissions ---- */

/** What is shown for approvals config.yaml leaves out: the contract's defaults (STORAGE §3.2, which the issue names for
 * these reads). Hermes v0.20 itself falls back to smart / 300 (UPSTREAM-HERMES §2.3); SECURITY.md says so. */
#define HERMES_APPROVAL_MODE_DEFAULT "manual"
#define HERMES_APPROVAL_TIMEOUT_DEFAULT 60

/** A toolset of the permissions catalogue (STORAGE §3.3), in catalogue order. */
typedef struct st_hermes_toolset_t {
    const char *key, *label, *description, *risk; /* risk: low, medium, high */
    bool requires_config;
} hermes_toolset_t;

extern const hermes_toolset_t hermes_toolsets[];
extern const size_t hermes_toolset_count; /* 19 */

/** The catalogue index of `key`, or -1. */
int hermes_toolset_index(const char *key);

/**
 * The toolsets enabled for the API-server platform, one bit per catalogue index: stt from stt.enabled (default true);
 * the others exactly as listed in platform_toolsets.api_server when it names any catalogue toolset but stt, else
 * Hermes's default set (web, browser, terminal, file, code_execution, vision, image_gen, skills, todo, memory,
 * session_search, delegation, cronjob).
 */
uint32_t hermes_toolsets_enabled(const json_t *config);

/** False when platform_toolsets.api_server holds the `no_mcp` marker. */
bool hermes_mcp_enabled(const json_t *config);

/** approvals.mode: manual, smart or off (YAML's plain off reads as false: off), else the default. Static string. */
const char *hermes_approval_mode(const json_t *config);

/** approvals.cron_mode as Hermes reads it: approve, allow or off (false) → "approve", anything else → "deny". */
const char *hermes_cron_mode(const json_t *config);

/** The Permissions object of API.md §10 (profileName and configPath as given). New reference. */
json_t *hermes_permissions_json(const hermes_settings_src_t *src, const char *profile, const char *config_path);

/**
 * Checks a PATCH …/permissions body against API.md §10 and adds the config.yaml edits it asks for to `edits` (toolsets
 * only when the enabled set or the MCP switch really changes). NULL when valid; else the 400 to answer
 * (profile_permissions_invalid with the spec's message, or profile_permissions_update_empty), `edits` then partly filled.
 */
hl_result_t *hermes_permissions_plan(const json_t *body, const json_t *config, hermes_edits_t *edits);

/* ---- tool configs ---- */

/** True for a tool key of API.md §10: web, image_gen, stt, tts, messaging, homeassistant, rl. */
bool hermes_tool_key_valid(const char *key);

/** True when the tool's view or changes involve config.yaml (web, image_gen, stt, tts); the others live in .env only. */
bool hermes_tool_uses_config(const char *key);

/** Whether the tool has what it needs to run (the permissions catalogue's `configured`); toolsets without a config: true. */
bool hermes_tool_ready(const char *key, const hermes_settings_src_t *src);

/**
 * The tool config of a valid key: {"profileName","configPath","toolKey","values":{…},"configured":{ENV:bool,…}} with
 * the values and keys of STORAGE §3.6. New reference.
 */
json_t *hermes_tool_config_json(const char *key, const hermes_settings_src_t *src, const char *profile, const char *config_path);

/**
 * Checks the values of a PATCH …/tool-configs/:key (`values`: an object) and adds what they ask for to `edits`
 * (config.yaml) and `env` (.env: only the tool's keys, only non-empty strings, never a removal). NULL when valid; else the
 * 400 to answer: profile_tool_config_invalid, or profile_tool_config_update_empty when nothing is left to do.
 */
hl_result_t *hermes_tool_config_plan(const char *key, const json_t *values, const json_t *config, hermes_edits_t *edits,
                                     hermes_env_changes_t *env);

/* ---- shared input rules (hermes_tool_configs.c) ---- */

/** A boolean input: JSON true/false or the strings 1/true/yes/on, 0/false/no/off (any case, blanks around): 1/0, else -1. */
int hermes_bool_input(const json_t *v);

/** True for an http:// or https:// URL with a host, without blanks or control characters, at most 2048 bytes. */
bool hermes_http_url(const char *s);

#endif
