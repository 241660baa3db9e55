/*
 * API reference entries (data only) for the model-config routes, global and per profile: spec/API.md §9.
 */
#include "hl/common.h"
#include "api_docs_tables.h"

#define G "/api/v1/model-configs"
#define P "/api/v1/profiles/:name/model-configs"
#define SAVE_BODY                                                                                                                  \
    "{id:string provider:string base_url:string original_model_id:string provider_name:string api_key:string api_mode:string"      \
    " context_length:integer key_env:string set_default:boolean reasoning_effort:=none|minimal|low|medium|high|xhigh"              \
    " reload_gateway:boolean}"
#define DEFAULTS_BODY "{task_model_id:string compression_model_id:string}"
#define WRITE_ERRORS " 409:config_yaml_invalid,config_yaml_unsafe,env_file_unsafe"
#define DELETE_BODY "{model_id:string}"

static const hl_api_doc_t DOCS[] = {
    {.method = HL_METHOD_GET,
     .pattern = G,
     .tag = "Models",
     .summary = "The default profile's model configs",
     .response = "#ModelConfigListing"},
    {.method = HL_METHOD_POST,
     .pattern = G,
     .tag = "Models",
     .summary = "Add or edit a model config (default profile)",
     .request = SAVE_BODY,
     .response = "#ModelConfigChange",
     .errors = "400:model_config_invalid" WRITE_ERRORS},
    {.method = HL_METHOD_PATCH,
     .pattern = G "/defaults",
     .tag = "Models",
     .summary = "Set the task and compression models",
     .request = DEFAULTS_BODY,
     .response = "#ModelConfigChange",
     .errors = "400:model_config_invalid" WRITE_ERRORS},
    {.method = HL_METHOD_DELETE,
     .pattern = G,
     .tag = "Models",
     .summary = "Delete a model config (default profile)",
     .request = DELETE_BODY,
     .response = "#ModelConfigChange",
     .errors = "400:model_id_required,model_config_invalid" WRITE_ERRORS},
    {.method = HL_METHOD_GET,
     .pattern = P,
     .tag = "Models",
     .summary = "A profile's model configs",
     .response = "#ModelConfigListing",
     .errors = "400:invalid_profile_name"},
    {.method = HL_METHOD_POST,
     .pattern = P,
     .tag = "Models",
     .summary = "Add or edit a profile's model config",
     .request = SAVE_BODY,
     .response = "#ModelConfigChange",
     .errors = "400:invalid_profile_name,model_config_invalid" WRITE_ERRORS},
    {.method = HL_METHOD_PATCH,
     .pattern = P "/defaults",
     .tag = "Models",
     .summary = "Set a profile's task and compression models",
     .request = DEFAULTS_BODY,
     .response = "#ModelConfigChange",
     .errors = "400:invalid_profile_name,model_config_invalid" WRITE_ERRORS},
    {.method = HL_METHOD_DELETE,
     .pattern = P,
     .tag = "Models",
     .summary = "Delete a profile's model config",
     .request = DELETE_BODY,
     .response = "#ModelConfigChange",
     .errors = "400:invalid_profile_name,model_id_required,model_config_invalid" WRITE_ERRORS},
};

const hl_api_doc_table_t hl_api_docs_models = {DOCS, HL_ARRAY_SIZE(DOCS)};
