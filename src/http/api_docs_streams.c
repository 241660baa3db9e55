/*
 * API reference entries (data only) for the conversation event streams and blobs: spec/API.md §7 (SSE, blobs).
 */
#include "hl/common.h"
#include "api_docs_tables.h"

#define CID "/api/v1/conversations/:conversationId"

static const hl_api_doc_t DOCS[] = {
    {.method = HL_METHOD_GET,
     .pattern = "/api/v1/conversations/events",
     .tag = "Events",
     .summary = "Server-sent events of every conversation (live only)",
     .query = "mode:=all|notifications",
     .response = "string",
     .response_type = "text/event-stream",
     .errors = "429:too_many_streams"},
    {.method = HL_METHOD_GET,
     .pattern = CID "/events",
     .tag = "Events",
     .summary = "Server-sent events of one conversation, replayed after ?after= or Last-Event-ID",
     .query = "after:integer",
     .response = "string",
     .response_type = "text/event-stream",
     .errors = "429:too_many_streams"},
    {.method = HL_METHOD_POST,
     .pattern = CID "/blobs",
     .tag = "Blobs",
     .summary = "Upload a file (raw body; filename from Content-Disposition)",
     .status = 201,
     .response = "{ok:boolean blob:#Blob}",
     .errors = "400:invalid_conversation_id,blob_empty 413:blob_too_large"},
    {.method = HL_METHOD_GET,
     .pattern = CID "/blobs/:blobId",
     .tag = "Blobs",
     .summary = "Download a file",
     .response = "string",
     .response_type = "application/octet-stream",
     .errors = "400:invalid_conversation_id 404:blob_not_found"
               " 400:invalid_blob_id"},
    {.method = HL_METHOD_DELETE,
     .pattern = CID "/blobs/:blobId",
     .tag = "Blobs",
     .summary = "Delete a file unless a message uses it",
     .response = "{ok:boolean deleted:boolean blob_id:string}",
     .errors = "400:invalid_conversation_id 409:blob_in_use"
               " 400:invalid_blob_id"},
};

const hl_api_doc_table_t hl_api_docs_streams = {DOCS, HL_ARRAY_SIZE(DOCS)};
