/*
 * Hermes model configs (domain layer, src/actors/hermes_models.c and hermes_models_edit.c): the managed-model view of a
 * profile's config.yaml and .env (spec STORAGE §3.3 "Managed models", API.md §9 ManagedModel), the bodies of the
 * model-config routes, and their changes computed as new config.yaml text — edited in place through hl_yaml_edit_*, so
 * that only the touched lines change. A model's API key never goes into config.yaml: it is written to the profile's
 * .env, and config.yaml names the variable (`key_env`, or `api_key: ${NAME}` for the default model). Views carry only
 * whether a key is configured, never a key.
 *
 * Pure functions (no I/O): any thread. Strings are NUL-terminated UTF-8.
 */
#ifndef HL_HERMES_MODELS_H
#define HL_HERMES_MODELS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "hl/common.h"
#include "hl/hermes_read.h"

/* ---- the view ---- */

/**
 * The model-config listing of config.yaml as JSON (`config`, an object; anything else reads as {}) and the profile's
 * .env (`env`, NULL for none): {"defaultModel": id|null, "defaultReasoningEffort": effort|null, "compressionModelId":
 * id|null, "compressionModel": ManagedModel|null, "models": [ManagedModel…]}, the default model first. ManagedModel is
 * {id, provider, providerName, source, baseUrl, apiMode, contextLength?, keyEnv?, credentialConfigured, credentialState,
 * isDefault, reasoningEffort?, reasoningSupport, supportedReasoningEfforts}: one per custom_providers entry and model id
 * (model, default_model, models as a list or a map), repeats of (provider, base URL without trailing '/', id) dropped
 * case-insensitively; the default model (`model` as a string or model.default|model|name) merged into the entry with
 * the same base URL and id, or first with source "model_default". Only that one has isDefault true. New reference.
 */
json_t *hl_models_listing(const json_t *config, const hl_dotenv_t *env);

/**
 * The api mode of a model: `explicit_mode` when it is not NULL or empty (callers pass it trimmed), else inferred:
 * provider openai-codex → "codex_responses"; provider anthropic, or a base URL ending in /anthropic or holding
 * api.anthropic.com → "anthropic_messages"; otherwise "chat_completions" (any case, trailing '/' ignored). Returns
 * `explicit_mode` or a static string.
 */
const char *hl_models_api_mode(const char *provider, const char *base_url, const char *explicit_mode);

/**
 * The reasoning efforts a model accepts, from its provider, base URL, id and api mode (STORAGE §3.3): an array
 * ["none", …] ("known"), [] ("unsupported"), or null ("unknown"); *support gets the word in parentheses. New reference.
 */
json_t *hl_models_reasoning(const char *provider, const char *base_url, const char *model_id, const char *api_mode,
                            const char **support);

/**
 * The .env name HermesLink gives a provider's key when none is named: HERMES_<provider name, or the model id when that is
 * blank, in capitals, every run of other characters than A-Z and 0-9 as one '_', no '_' at either end>_API_KEY
 * ("MODEL" when nothing is left), cut so that the whole is at most 64 characters: always a valid key env
 * (hl_hermes_valid_key_env). Caller frees.
 */
char *hl_models_key_env_name(const char *provider_name, const char *model_id);

/** The first model of a listing's "models" with this provider, base URL (trailing '/' ignored) and id (case-insensitive),
 * else the first with this id, else NULL. Borrowed. */
json_t *hl_models_find(const json_t *models, const char *provider, const char *base_url, const char *id);

/* ---- the bodies of the routes (API.md §9: strings trimmed, "" is missing) ---- */

/** POST …/model-configs. Owned, trimmed strings; NULL when not given. */
typedef struct st_hl_model_input_t {
    char *id, *provider, *base_url; /* required */
    char *original_id;              /* the id being edited or renamed; NULL: `id` */
    char *provider_name;            /* the provider's display name; `provider` when not given */
    char *api_key;                  /* a secret: wiped at dispose */
    char *api_mode;                 /* NULL: inferred (hl_models_api_mode) */
    char *key_env;                  /* hl_hermes_valid_key_env */
    char *reasoning_effort;         /* none, minimal, low, medium, high or xhigh (lowercased) */
    int64_t context_length;         /* 0: not given */
    int set_default;                /* -1 not given, 0, 1 */
    bool reload_gateway;            /* false when reload_gateway is false or skip_gateway_reload true */
} hl_model_input_t;

/**
 * Reads the body of POST …/model-configs (a JSON object; anything else reads as {}), with the aliases of API.md §9.
 * 0, or -EINVAL with *message (static, for 400 model_config_invalid: "id, provider and base_url are required",
 * "reasoningEffort must be none, minimal, low, medium, high or xhigh", "contextLength must be a positive integer", a
 * key_env that is not a provider key name, …). `in` is to be disposed either way.
 */
int hl_model_input_parse(hl_model_input_t *in, const json_t *body, const char **message) HL_WARN_UNUSED;

/** Frees what `in` owns, the API key wiped. */
void hl_model_input_dispose(hl_model_input_t *in);

/** The first of the aliases `names` (NULL-terminated) that holds a string not blank: that string trimmed (malloc'd), or
 * NULL. */
char *hl_models_body_string(const json_t *body, const char *const *names);

/* ---- changes ---- */

/** A change of config.yaml (and .env) computed by the functions below. */
typedef struct st_hl_models_change_t {
    char *text; /* the new config.yaml (malloc'd, NUL-terminated); equal to the old when nothing changes */
    size_t len;
    char *env_key;   /* NULL, or a .env key to set before config.yaml is written (a valid key env) … */
    char *env_value; /* … to this API key (wiped at dispose) */
} hl_models_change_t;

/* What the change functions return besides 0. */
#define HL_MODELS_INVALID (-EINVAL) /* the request does not fit the config: 400 model_config_invalid, `message` */
#define HL_MODELS_YAML (-EBADMSG)   /* config.yaml cannot be read or edited safely: 409 config_yaml_invalid, `message` */

/**
 * POST …/model-configs on config.yaml `text` (`len` bytes; "" for a missing file) and the profile's .env (`env`, NULL
 * for none), as STORAGE §3.3 "Saving a model" says: the custom_providers entry holding `original_id` (or `id`) gets
 * name, provider_key, base_url, model, api_mode, context_length and key_env (api_key removed when a key env is used),
 * the id renamed in its models list or map and in default_model, reasoning_effort (in the models map when there is
 * one); without one, an entry is appended. An API key goes to .env (out->env_key: key_env, or the entry's key env, or
 * hl_models_key_env_name). The model becomes the default (model.*: api_key as ${KEY_ENV}) when set_default is true,
 * when there is no default, or when it was the default; a default it replaces is kept as a custom_providers entry.
 * 0 and *out (hl_models_change_dispose), or HL_MODELS_INVALID / HL_MODELS_YAML with `message` (`msglen` bytes) and
 * nothing in *out.
 */
int hl_models_save(hl_models_change_t *out, const char *text, size_t len, const hl_dotenv_t *env, const hl_model_input_t *in,
                   char *message, size_t msglen) HL_WARN_UNUSED;

/**
 * DELETE …/model-configs {model_id}: `id` leaves every custom_providers entry (model, default_model, models list or map;
 * an entry left without models goes); when it was the default, the first remaining model becomes it. Refused
 * (HL_MODELS_INVALID): `model "<id>" is not configured`, and the last model. Otherwise as hl_models_save.
 */
int hl_models_delete(hl_models_change_t *out, const char *text, size_t len, const hl_dotenv_t *env, const char *id, char *message,
                     size_t msglen) HL_WARN_UNUSED;

/**
 * PATCH …/model-configs/defaults: `task_id` (NULL: unchanged) becomes model.* (the previous default kept as a
 * custom_providers entry; agent.reasoning_effort from the model's); `compression_id` (NULL: unchanged) becomes
 * auxiliary.compression {provider, model, api_mode, context_length, and for provider custom base_url and api_key — a
 * literal key already in config.yaml, or ${KEY_ENV}: a secret is never copied out of .env}. Refused (HL_MODELS_INVALID):
 * both NULL ("taskModelId or compressionModelId is required"), `model "<id>" is not configured`.
 */
int hl_models_set_defaults(hl_models_change_t *out, const char *text, size_t len, const hl_dotenv_t *env, const char *task_id,
                           const char *compression_id, char *message, size_t msglen) HL_WARN_UNUSED;

/** Frees what `c` owns (the API key wiped). */
void hl_models_change_dispose(hl_models_change_t *c);

#endif
