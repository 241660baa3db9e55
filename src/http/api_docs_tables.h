/*
 * The documentation tables of the API reference, one per area (src/http/api_docs_<area>.c, data only), joined with the
 * router's routes by src/http/api_docs.c. A new route needs its entry in the table of its area, or the tests fail.
 */
#ifndef HL_HTTP_API_DOCS_TABLES_H
#define HL_HTTP_API_DOCS_TABLES_H

#include "hl/api_docs.h"

/* Shorthands the tables share: the flags of a route decide auth and the generic errors, these only describe. */
#define HL_DOC_OK "{ok:boolean}"

extern const hl_api_doc_table_t hl_api_docs_system;
extern const hl_api_doc_table_t hl_api_docs_auth;
extern const hl_api_doc_table_t hl_api_docs_devices;
extern const hl_api_doc_table_t hl_api_docs_conversations;
extern const hl_api_doc_table_t hl_api_docs_streams;
extern const hl_api_doc_table_t hl_api_docs_profiles;
extern const hl_api_doc_table_t hl_api_docs_models;
extern const hl_api_doc_table_t hl_api_docs_agent;
extern const hl_api_doc_table_t hl_api_docs_updates;

#endif
