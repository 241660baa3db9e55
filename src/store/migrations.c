#include "migrations.h"

const char *const hl_migrations[] = {
    /* 1: the foundation — facts about the database itself */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));",

    /* 2: devices and their tokens (auth actor), pairing sessions and connect tokens (pairing actor). Times are epoch ms;
     * tokens and codes are stored only as SHA-256 hex. */
    "CREATE TABLE devices ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  label TEXT NOT NULL,"
    "  platform TEXT NOT NULL,"
    "  model TEXT,"
    "  scope TEXT NOT NULL DEFAULT 'admin',"
    "  app_instance_hash TEXT UNIQUE,"
    "  access_token_hash TEXT NOT NULL UNIQUE,"
    "  access_expires_at INTEGER NOT NULL,"
    "  refresh_token_hash TEXT NOT NULL UNIQUE,"
    "  refresh_expires_at INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  last_seen_at INTEGER,"
    "  revoked_at INTEGER,"
    "  app_hidden_at INTEGER"
    ");"
    /* refresh tokens rotated away: presenting one again is reuse, which revokes the device */
    "CREATE TABLE retired_refresh_tokens ("
    "  token_hash TEXT PRIMARY KEY NOT NULL,"
    "  device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  retired_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX retired_refresh_tokens_expiry ON retired_refresh_tokens(expires_at);"
    "CREATE TABLE pairing_sessions ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  code_hash TEXT NOT NULL UNIQUE,"
    "  link_id TEXT NOT NULL,"
    "  display_name TEXT NOT NULL,"
    "  local_api_url TEXT NOT NULL,"
    "  preferred_urls TEXT NOT NULL,"
    "  qr_extra TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  claimed_at INTEGER,"
    "  failed_attempts INTEGER NOT NULL DEFAULT 0,"
    "  closed_at INTEGER"
    ");"
    "CREATE TABLE connect_tokens ("
    "  token_hash TEXT PRIMARY KEY NOT NULL,"
    "  session_id TEXT REFERENCES pairing_sessions(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER"
    ") WITHOUT ROWID;",
};

const size_t hl_num_migrations = sizeof(hl_migrations) / sizeof(hl_migrations[0]);
