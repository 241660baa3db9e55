/*
 * API reference entries (data only) for authentication and pairing: spec/API.md §3, §4.
 */
#include "hl/common.h"
#include "api_docs_tables.h"

static const hl_api_doc_t DOCS[] = {
    {.method = HL_METHOD_GET,
     .pattern = "/api/v1/auth/me",
     .tag = "Auth",
     .summary = "Who the bearer is",
     .response = "{ok:boolean auth:{kind:=device|app-connect account_id:string?} link:#LinkRef device:#Device?}",
     .errors = "409:link_not_paired"},
    {.method = HL_METHOD_POST,
     .pattern = "/api/v1/auth/device-session",
     .tag = "Auth",
     .summary = "Enrol a new device with a connect token (Authorization: Bearer <connect token>)",
     .request = "{device_label:string device_platform:string device_model:string}",
     .response = "#DeviceSession",
     .errors = "403:app_connect_required 409:link_not_paired"},
    {.method = HL_METHOD_POST,
     .pattern = "/api/v1/auth/refresh",
     .tag = "Auth",
     .summary = "Rotate a device's tokens with its refresh token (no bearer)",
     .request = "{refresh_token:string app_instance_id:string device_label:string device_platform:string device_model:string}",
     .response = "{ok:boolean device:#Device access_token:#Token refresh_token:#Token}",
     .errors = "400:refresh_token_required 401:refresh_token_invalid"},
    {.method = HL_METHOD_POST,
     .pattern = "/api/v1/auth/logout",
     .tag = "Auth",
     .summary = "Revoke the device of a refresh token (always ok)",
     .request = "{refresh_token:string}",
     .response = HL_DOC_OK},
    {.method = HL_METHOD_GET,
     .pattern = "/api/v1/pairing/session",
     .tag = "Pairing",
     .summary = "A pairing session's public state (polled by the pairing page)",
     .query = "session_id:string",
     .response = "{ok:boolean session:{session_id:string link_id:string display_name:string local_api_url:string"
                 " preferred_urls:[string] created_at:string expires_at:string claimed:boolean}}",
     .errors = "400:pairing_session_required 404:pairing_session_not_found,pairing_session_expired 429:rate_limited"},
    {.method = HL_METHOD_POST,
     .pattern = "/api/v1/pairing/claim",
     .tag = "Pairing",
     .summary = "Claim a pairing session with its claim token: creates (or re-binds) a device",
     .request = "{session_id:string claim_token:string app_instance_id:string device_label:string device_platform:string"
                " device_model:string}",
     .response = "#DeviceSession",
     .errors = "400:pairing_claim_invalid 404:pairing_session_not_found,pairing_session_expired"
               " 409:link_not_paired,pairing_claim_mismatch 429:rate_limited"},
};

const hl_api_doc_table_t hl_api_docs_auth = {DOCS, HL_ARRAY_SIZE(DOCS)};
