/*
 * The shared schemas of the API reference (components/schemas), as detailed as spec/API.md gives them, in the notation
 * of include/hl/api_docs.h. Data only.
 */
#include "hl/api_docs.h"

const hl_api_schema_t hl_api_schemas[] = {
    {"ErrorEnvelope", "{ok:boolean error:{code:string message:string}}"},
    {"Token", "{token:string expires_at:string}"},
    {"Device", "{id:string device_id:string label:string platform:string model:string? scope:=admin}"},
    {"DeviceListItem",
     "{id:string device_id:string label:string platform:string model:string? scope:=admin status:=active|revoked"
     " paired_at:string created_at:string updated_at:string access_expires_at:string? refresh_expires_at:string?"
     " last_seen_at:string? revoked_at:string? app_hidden_at:string? app_instance_bound:boolean current:boolean}"},
    {"DeviceSummary", "{total:integer active:integer revoked:integer}"},
    {"LinkRef", "{link_id:string display_name:string}"},
    {"DeviceSession", "{ok:boolean link:#LinkRef device:#Device access_token:#Token refresh_token:#Token}"},
    {"ProfileRef", "{uid:string name:string display_name:string avatar_url:string?}"},
    {"TokenUsage", "{input_tokens:integer output_tokens:integer total_tokens:integer updated_at:string}"},
    {"ConversationSummary", "{id:string title:string created_at:string updated_at:string last_event_seq:integer usage:#TokenUsage"
                            " profile:#ProfileRef last_message:{id:string role:string content_preview:string}?}"},
    {"Runtime", "{profile:#ProfileRef model:{id:string provider:string context_window:integer}"
                " context:{input_tokens:integer output_tokens:integer total_tokens:integer context_window:integer"
                " usage_percent:integer source:=estimated|unknown updated_at:string}}"},
    {"Message", "{id:string schema_version:integer conversation_id:string role:=user|assistant|tool|system"
                " status:=completed|streaming|failed|queued|cancelled run_id:string client_message_id:string created_at:string"
                " updated_at:string sender:{id:string type:string display_name:string profile:string}"
                " parts:[{type:string text:string}] attachments:[object]}"},
    {"ConversationEvent", "{type:string seq:integer conversation_id:string message_id:string run_id:string payload:object"
                          " created_at:string}"},
    {"Page", "{limit:integer has_more:boolean next_cursor:string?}"},
    {"ConversationList", "{ok:boolean conversations:[#ConversationSummary] page:#Page}"},
    {"DeleteResult", "{conversation_id:string hermes_deleted:boolean deleted_at:string status:string"
                     " error:{code:string message:string}}"},
    {"Plan", "{id:string status:=prepared|completed target_status:string created_at:string updated_at:string completed_at:string"
             " total_count:integer deleted_count:integer archived_count:integer failed_count:integer conversation_ids:[string]"
             " conversations:[object]}"},
    {"PlanReply", "{ok:boolean plan:#Plan}"},
    {"Blob", "{id:string size:integer mime:string filename:string created_at:string conversation_ids:[string]}"},
    {"HermesProfileStatus", "{uid:string name:string active:boolean path:string configPath:string displayName:string?"
                            " description:string? avatarType:=default|url avatarUrl:string? exists:boolean"
                            " apiKeyConfigured:boolean}"},
    {"ProfileReply", "{ok:boolean profile:#HermesProfileStatus}"},
    {"ProfileCreationStatus", "{ok:boolean state:string profile_name:string? started_at:string? finished_at:string? pid:integer?"
                              " job_id:string? lines:[string] error:string?}"},
    {"ManagedModel", "{id:string provider:string providerName:string source:=custom_provider|model_default baseUrl:string"
                     " apiMode:string contextLength:integer keyEnv:string credentialConfigured:boolean"
                     " credentialState:=configured|missing|unknown isDefault:boolean reasoningEffort:string"
                     " reasoningSupport:=known|unsupported|unknown supportedReasoningEfforts:[string]?}"},
    {"ModelConfigListing", "{ok:boolean configPath:string defaultModel:string? defaultReasoningEffort:string?"
                           " compressionModelId:string? compressionModel:#ManagedModel? models:[#ManagedModel]}"},
    {"ModelConfigChange", "{ok:boolean configPath:string defaultModel:string? compressionModelId:string? models:[#ManagedModel]"
                          " model:#ManagedModel backupPath:string? requiresGatewayReload:boolean restartHint:string}"},
    {"LogEntry", "{ts:string level:string message:string timestampSource:string fields:object}"},
    {"Statistics", "{conversations:{total:integer active:integer archived:integer deleted:integer}"
                   " tokens:{input_tokens:integer output_tokens:integer total_tokens:integer} messages:{total:integer}"
                   " runs:{total:integer} models:{total:integer} skills:{total:integer} tools:{total:integer}"
                   " profiles:{total:integer}}"},
    {"UsageTotals", "{input_tokens:integer output_tokens:integer total_tokens:integer message_count:integer run_count:integer}"},
    {"UsageReport", "{range:{from:string to:string days:integer} totals:{input_tokens:integer output_tokens:integer"
                    " total_tokens:integer message_count:integer run_count:integer conversation_count:integer model_count:integer}"
                    " daily:[{date:string input_tokens:integer output_tokens:integer total_tokens:integer message_count:integer"
                    " run_count:integer}] models:[{model:string provider:string input_tokens:integer output_tokens:integer"
                    " total_tokens:integer message_count:integer run_count:integer}] profiles:[{profile_uid:string profile:string"
                    " input_tokens:integer output_tokens:integer total_tokens:integer message_count:integer run_count:integer}]"
                    " updated_at:string}"},
    {"Permissions",
     "{profileName:string configPath:string approvals:{mode:=manual|smart|off timeout:integer cronMode:=deny|approve}"
     " terminal:{backend:string cwd:string containerCpu:integer? containerMemory:integer? containerDisk:integer?"
     " containerPersistent:boolean} toolsets:{items:[{key:string label:string description:string"
     " risk:=low|medium|high enabled:boolean requiresConfig:boolean configured:boolean}] mcpEnabled:boolean}"
     " commandAllowlist:[string] backupPath:string requiresGatewayReload:boolean restartHint:string"
     " gatewayReloaded:boolean reloadError:string}"},
    {"MemoryStore", "{target:=user|memory label:string description:string fileName:string path:string exists:boolean"
                    " updatedAt:string? entries:[{id:string content:string}] entryCount:integer"
                    " usage:{chars:integer limit:integer percent:integer}}"},
    {"MemoryView",
     "{ok:boolean profileName:string memoryDir:string stores:[#MemoryStore] settings:{provider:string} notice:string}"},
    {"Skill", "{name:string category:string? description:string enabled:boolean source:string trust:string relativePath:string}"},
    {"SkillCategory", "{name:string? label:string total:integer enabled:integer disabled:integer}"},
    {"SkillsView", "{ok:boolean profile:#HermesProfileStatus skills:[#Skill] categories:[#SkillCategory] skill:#Skill"
                   " backupPath:string?}"},
    {"ToolConfig", "{profileName:string configPath:string toolKey:string values:object configured:object backupPath:string?"
                   " requiresGatewayReload:boolean restartHint:string gatewayReloaded:boolean reloadError:string}"},
    {"CronJob", "object"},
    {"HermesUpdateStatus", "{ok:boolean state:=idle|running|succeeded|failed job_id:string? pid:integer? started_at:string?"
                           " finished_at:string? exit_code:integer? signal:string? log_path:string lines:[string] error:string?}"},
    {"LinkUpdateStatus", "{ok:boolean state:=idle|running|failed|restart_required|succeeded job_id:string? pid:integer?"
                         " target_version:string? started_at:string? finished_at:string? exit_code:integer? signal:string?"
                         " log_path:string lines:[string] error:string? manual_command:string?}"},
    {"Autostart", "{supported:boolean enabled:boolean method:string filePath:string?}"},
    {NULL, NULL},
};
