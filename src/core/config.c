#include "hl/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "hl/fsutil.h"

#define CONFIG_MAX_BYTES (1024 * 1024)

static const char *const LANGUAGES[] = {"auto", "en", "zh-CN", NULL};
static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list != NULL; ++list)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

int hl_config_valid_log_level(const char *s)
{
    return s != NULL && in_list(s, LOG_LEVELS);
}

int hl_config_valid_lan_host(const char *s)
{
    struct in_addr a;
    if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
        return 0;
    unsigned last = ntohl(a.s_addr) & 0xff;
    return last != 0 && last != 255;
}

static int valid_public_url(const char *s)
{
    return hl_config_public_url_problem(s) == NULL;
}

int hl_config_valid_api_key(const char *key)
{
    size_t len = key != NULL ? strlen(key) : 0;
    if (len == 0 || len > 4096)
        return 0;
    for (const char *p = key; *p != '\0'; ++p)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

static int valid_http_url(const char *s)
{
    size_t len = strlen(s);
    if (len > 2048)
        return 0;
    const char *rest;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else
        return 0;
    if (*rest == '\0' || *rest == '/')
        return 0;
    /* ASCII only, as the public URL: a host in another script is written in punycode (and a byte that is not UTF-8 could
       not even be saved: config.json is JSON) */
    for (const char *p = s; *p; ++p)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return 0;
    return 1;
}

/* a release feed URL: an http(s) URL with any path */
static int valid_http_url_path(const char *s)
{
    return valid_http_url(s);
}

/* the standard base64 of a 32-byte ed25519 public key: 44 characters ending in one '=' */
static int valid_update_key(const char *s)
{
    if (strlen(s) != 44 || s[43] != '=' || s[42] == '=')
        return 0;
    for (size_t i = 0; i < 43; ++i)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
              s[i] == '/'))
            return 0;
    return 1;
}

void hl_config_defaults(hl_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = HL_DEFAULT_PORT;
    cfg->tls_port = HL_DEFAULT_TLS_PORT;
    cfg->workers = 0;
    cfg->language = hl_strdup("auto");
    const char *env = getenv("HERMESLINK_LOG_LEVEL");
    cfg->log_level = hl_strdup(hl_config_valid_log_level(env) ? env : "warn");
    cfg->lan_plain_http = true;
    cfg->plain_http2 = true;
    cfg->max_connections = HL_DEFAULT_MAX_CONNECTIONS;
    cfg->max_connections_per_address = HL_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
    cfg->max_streams_per_device = HL_DEFAULT_MAX_STREAMS_PER_DEVICE;
    cfg->max_body_mib_per_address = HL_DEFAULT_MAX_BODY_MIB_PER_ADDRESS;
    cfg->raw = json_object();
}

void hl_config_dispose(hl_config_t *cfg)
{
    free(cfg->lan_host);
    free(cfg->language);
    free(cfg->log_level);
    free(cfg->public_url);
    free(cfg->hermes_api_url);
    free(cfg->hermes_api_key);
    free(cfg->update_url);
    free(cfg->update_public_key);
    json_decref(cfg->raw);
    memset(cfg, 0, sizeof(*cfg));
}

static void replace(char **slot, const char *v)
{
    free(*slot);
    *slot = hl_strdup(v);
}

/* Reads one key of the file; returns 0 (absent or valid) or -EINVAL with the message in err. */
static int load_int(json_t *root, const char *key, long min, long max, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, errlen, "config.json: \"%s\" must be an integer from %ld to %ld", key, min, max);
        return -EINVAL;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int load_string(json_t *root, const char *key, int nullable, int (*valid)(const char *), const char *expect, char **out,
                       char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL)
        return 0;
    if (json_is_null(v) && nullable) {
        free(*out);
        *out = NULL;
        return 0;
    }
    if (!json_is_string(v) || (valid != NULL && !valid(json_string_value(v)))) {
        snprintf(err, errlen, "config.json: \"%s\" must be %s%s", key, expect, nullable ? " or null" : "");
        return -EINVAL;
    }
    replace(out, json_string_value(v));
    return 0;
}

static int load_bool(json_t *root, const char *key, bool *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "config.json: \"%s\" must be true or false", key);
        return -EINVAL;
    }
    *out = json_is_true(v);
    return 0;
}

/* trustedProxies: an array of addresses or ranges ("10.0.0.0/8", "::1"); also used by `config set trusted-proxies`. */
static int parse_trusted_proxies(json_t *v, hl_cidr_t *out, size_t *num)
{
    if (!json_is_array(v) || json_array_size(v) > HL_MAX_TRUSTED_PROXIES)
        return -EINVAL;
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item) || hl_cidr_parse(json_string_value(item), &out[i]) != 0)
            return -EINVAL;
    }
    *num = json_array_size(v);
    return 0;
}

static int load_trusted_proxies(json_t *root, hl_config_t *cfg, char *err, size_t errlen)
{
    json_t *v = json_object_get(root, "trustedProxies");
    if (v == NULL || json_is_null(v))
        return 0;
    if (parse_trusted_proxies(v, cfg->trusted_proxies, &cfg->num_trusted_proxies) != 0) {
        snprintf(err, errlen,
                 "config.json: \"trustedProxies\" must be an array of at most %d IP addresses or ranges (\"10.0.0.0/8\")",
                 HL_MAX_TRUSTED_PROXIES);
        return -EINVAL;
    }
    return 0;
}

static int valid_language(const char *s)
{
    return in_list(s, LANGUAGES);
}

static int any_string(const char *s)
{
    return strlen(s) <= 4096;
}

/* A TLS port next to `port` that differs from it. */
static int default_tls_for(int port)
{
    return port < 65535 ? port + 1 : port - 1;
}

int hl_config_load(hl_config_t *cfg, const char *home, char *err, size_t errlen)
{
    char *path = hl_path_join(home, "config.json"), *text = NULL;
    int ret = hl_read_file(path, CONFIG_MAX_BYTES, &text, NULL);
    if (ret == -ENOENT) {
        ret = 0;
        goto Exit;
    }
    if (ret != 0) {
        snprintf(err, errlen, "config.json: cannot be read (%s)", strerror(-ret));
        goto Exit;
    }
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        snprintf(err, errlen, "config.json: not a JSON object (line %d: %s)", jerr.line, root == NULL ? jerr.text : "");
        json_decref(root);
        ret = -EINVAL;
        goto Exit;
    }
    json_decref(cfg->raw);
    cfg->raw = root;
    if ((ret = load_int(root, "port", 1, 65535, &cfg->port, err, errlen)) != 0 ||
        (ret = load_int(root, "tlsPort", 0, 65535, &cfg->tls_port, err, errlen)) != 0 ||
        (ret = load_int(root, "workers", 0, 256, &cfg->workers, err, errlen)) != 0 ||
        (ret = load_string(root, "lanHost", 1, hl_config_valid_lan_host, "an IPv4 address", &cfg->lan_host, err, errlen)) != 0 ||
        (ret = load_string(root, "language", 0, valid_language, "one of auto, en, zh-CN", &cfg->language, err, errlen)) != 0 ||
        (ret = load_string(root, "logLevel", 0, hl_config_valid_log_level, "one of debug, info, warn, error", &cfg->log_level, err,
                           errlen)) != 0 ||
        (ret = load_string(root, "publicUrl", 1, valid_public_url,
                           "an http:// or https:// URL without a path, user, query or fragment", &cfg->public_url, err, errlen)) !=
            0 ||
        (ret = load_string(root, "hermesApiUrl", 1, valid_http_url, "an http(s) URL", &cfg->hermes_api_url, err, errlen)) != 0 ||
        (ret = load_string(root, "hermesApiKey", 1, any_string, "a string", &cfg->hermes_api_key, err, errlen)) != 0 ||
        (ret = load_string(root, "updateUrl", 1, valid_http_url_path, "an http(s) URL", &cfg->update_url, err, errlen)) != 0 ||
        (ret = load_string(root, "updatePublicKey", 1, valid_update_key, "a base64 ed25519 public key (32 bytes)",
                           &cfg->update_public_key, err, errlen)) != 0 ||
        (ret = load_bool(root, "lanPlainHttp", &cfg->lan_plain_http, err, errlen)) != 0 ||
        (ret = load_bool(root, "plainHttp2", &cfg->plain_http2, err, errlen)) != 0 ||
        (ret = load_int(root, "maxConnections", 16, 1000000, &cfg->max_connections, err, errlen)) != 0 ||
        (ret = load_int(root, "maxConnectionsPerAddress", 1, 1000000, &cfg->max_connections_per_address, err, errlen)) != 0 ||
        (ret = load_int(root, "maxStreamsPerDevice", 1, 100000, &cfg->max_streams_per_device, err, errlen)) != 0 ||
        (ret = load_int(root, "maxBodyMiBPerAddress", 1, 1000000, &cfg->max_body_mib_per_address, err, errlen)) != 0 ||
        (ret = load_trusted_proxies(root, cfg, err, errlen)) != 0)
        goto Exit;
    if (cfg->tls_port != 0 && cfg->tls_port == cfg->port) {
        if (json_object_get(root, "tlsPort") != NULL) {
            snprintf(err, errlen, "config.json: \"tlsPort\" must differ from \"port\"");
            ret = -EINVAL;
        } else {
            /* an original config using our default TLS port as its HTTP port: TLS moves out of the way */
            cfg->tls_port = default_tls_for(cfg->port);
        }
    }
Exit:
    free(text);
    free(path);
    return ret;
}

static int is_reset_word(const char *v)
{
    return *v == '\0' || strcmp(v, "auto") == 0 || strcmp(v, "null") == 0 || strcmp(v, "none") == 0;
}

static int set_port(const char *value, long min, int *out)
{
    long v;
    if (hl_parse_long(value, min, 65535, &v) != 0)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_bool_word(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "on") == 0 || strcmp(v, "yes") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "off") == 0 || strcmp(v, "no") == 0)
        *out = false;
    else
        return -EINVAL;
    return 0;
}

/* The HTTP edge's keys (see SECURITY.md): booleans, caps and trusted proxies. True when `key` is one of them, with the
 * outcome in *ret and *msg. */
static bool set_edge_key(hl_config_t *cfg, const char *key, const char *value, char **msg, int *ret)
{
    static const struct {
        const char *cli, *label;
        size_t offset;
        long min, max;
    } INTS[] = {
        {"max-connections", "Max connections", offsetof(hl_config_t, max_connections), 16, 1000000},
        {"max-connections-per-address", "Max connections per address", offsetof(hl_config_t, max_connections_per_address), 1,
         1000000},
        {"max-streams-per-device", "Max streams per device", offsetof(hl_config_t, max_streams_per_device), 1, 100000},
        {"max-body-mib-per-address", "Max body MiB per address", offsetof(hl_config_t, max_body_mib_per_address), 1, 1000000},
    };
    *ret = 0;
    for (size_t i = 0; i < HL_ARRAY_SIZE(INTS); ++i) {
        if (strcmp(key, INTS[i].cli) != 0)
            continue;
        long v;
        if (hl_parse_long(value, INTS[i].min, INTS[i].max, &v) != 0) {
            *msg = hl_asprintf("Invalid %s (%ld-%ld)", INTS[i].label, INTS[i].min, INTS[i].max);
            *ret = -EINVAL;
        } else {
            *(int *)((char *)cfg + INTS[i].offset) = (int)v;
            *msg = hl_asprintf("%s set to %ld", INTS[i].label, v);
        }
        return true;
    }
    if (strcmp(key, "lan-plain-http") == 0 || strcmp(key, "plain-http2") == 0) {
        bool lan = key[0] == 'l', v;
        if (parse_bool_word(value, &v) != 0) {
            *msg = hl_strdup("Invalid value (expected true or false)");
            *ret = -EINVAL;
        } else {
            *(lan ? &cfg->lan_plain_http : &cfg->plain_http2) = v;
            *msg = hl_asprintf("%s set to %s", lan ? "LAN plain HTTP" : "Plain HTTP/2", v ? "true" : "false");
        }
        return true;
    }
    if (strcmp(key, "trusted-proxies") == 0) {
        /* comma-separated; "none" clears */
        json_t *list = json_array();
        if (!is_reset_word(value)) {
            char *copy = hl_strdup(value), *save = NULL;
            for (char *tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
                json_array_append_new(list, json_string(tok));
            free(copy);
        }
        hl_cidr_t parsed[HL_MAX_TRUSTED_PROXIES];
        size_t num = 0;
        if (parse_trusted_proxies(list, parsed, &num) != 0) {
            json_decref(list);
            *msg = hl_asprintf("Invalid trusted proxies (comma-separated IP addresses or ranges such as 10.0.0.0/8, at most %d, "
                               "or none)",
                               HL_MAX_TRUSTED_PROXIES);
            *ret = -EINVAL;
            return true;
        }
        memcpy(cfg->trusted_proxies, parsed, sizeof(parsed[0]) * num);
        cfg->num_trusted_proxies = num;
        char *shown = num == 0 ? hl_strdup("(none)") : json_dumps(list, JSON_COMPACT);
        *msg = hl_asprintf("Trusted proxies set to %s", shown);
        free(shown);
        json_object_set_new(cfg->raw, "trustedProxies", list);
        return true;
    }
    return false;
}

int hl_config_set(hl_config_t *cfg, const char *key, const char *value, char **msg)
{
    int ret;
    if (strcmp(key, "port") == 0) {
        int port;
        if (set_port(value, 1, &port) != 0) {
            *msg = hl_strdup("Invalid port number");
            return -EINVAL;
        }
        cfg->port = port;
        if (cfg->tls_port != 0 && port == cfg->tls_port) {
            cfg->tls_port = default_tls_for(port);
            *msg = hl_asprintf("Port set to %d (TLS port moved to %d)", port, cfg->tls_port);
        } else {
            *msg = hl_asprintf("Port set to %d", port);
        }
    } else if (strcmp(key, "tls-port") == 0) {
        int port;
        if (set_port(value, 0, &port) != 0 || (port != 0 && port == cfg->port)) {
            *msg = hl_strdup("Invalid TLS port number (1-65535, different from port, or 0 to disable TLS)");
            return -EINVAL;
        }
        cfg->tls_port = port;
        *msg = port == 0 ? hl_strdup("TLS port set to 0 (TLS disabled)") : hl_asprintf("TLS port set to %d", port);
    } else if (strcmp(key, "workers") == 0) {
        long v;
        if (hl_parse_long(value, 0, 256, &v) != 0) {
            *msg = hl_strdup("Invalid worker count (0-256, 0 = one per CPU)");
            return -EINVAL;
        }
        cfg->workers = (int)v;
        *msg = hl_asprintf("Workers set to %ld", v);
    } else if (strcmp(key, "lan-host") == 0) {
        if (is_reset_word(value)) {
            free(cfg->lan_host);
            cfg->lan_host = NULL;
            *msg = hl_strdup("LAN host set to (auto)");
        } else {
            char *v = hl_strdup(value);
            size_t len = strlen(v);
            if (len >= 2 && v[0] == '[' && v[len - 1] == ']') {
                memmove(v, v + 1, len - 2);
                v[len - 2] = '\0';
            }
            if (!hl_config_valid_lan_host(v)) {
                free(v);
                *msg = hl_strdup("Invalid LAN host (expected an IPv4 address such as 192.168.1.10, or auto)");
                return -EINVAL;
            }
            free(cfg->lan_host);
            cfg->lan_host = v;
            *msg = hl_asprintf("LAN host set to %s", v);
        }
    } else if (strcmp(key, "language") == 0) {
        if (!valid_language(value)) {
            *msg = hl_strdup("Invalid language (expected auto, en or zh-CN)");
            return -EINVAL;
        }
        replace(&cfg->language, value);
        *msg = hl_asprintf("Language set to %s", value);
    } else if (strcmp(key, "log-level") == 0) {
        if (!hl_config_valid_log_level(value)) {
            *msg = hl_strdup("Invalid log level (expected debug, info, warn or error)");
            return -EINVAL;
        }
        replace(&cfg->log_level, value);
        *msg = hl_asprintf("Log level set to %s", value);
    } else if (strcmp(key, "hermes-api-key") == 0) {
        /* never from argv: it would show in ps and in the shell history (config_cmd.c reads it from stdin or a file) */
        *msg = hl_strdup("The Hermes API key is read from stdin or a file, not the command line: "
                         "hermeslink config set hermes-api-key [--file PATH]");
        return -EINVAL;
    } else if (strcmp(key, "public-url") == 0 || strcmp(key, "hermes-api-url") == 0) {
        int is_public = key[0] == 'p';
        char **slot = is_public ? &cfg->public_url : &cfg->hermes_api_url;
        const char *label = is_public ? "Public URL" : "Hermes API URL";
        if (is_reset_word(value)) {
            free(*slot);
            *slot = NULL;
            *msg = hl_asprintf("%s set to (auto)", label);
        } else {
            size_t len = strlen(value);
            /* trailing slashes go, but not the scheme's ("http://" has no host, it is not "http:") */
            while (len > 0 && value[len - 1] == '/' && !(len >= 3 && value[len - 2] == '/' && value[len - 3] == ':'))
                --len;
            char *v = hl_strndup(value, len);
            const char *problem = is_public ? hl_config_public_url_problem(v) : NULL;
            if (problem != NULL) {
                free(v);
                *msg = hl_asprintf("Invalid public URL: %s; " HL_PUBLIC_URL_RULE, problem);
                return -EINVAL;
            }
            if (!is_public && !valid_http_url(v)) {
                free(v);
                *msg = hl_asprintf("Invalid %s (expected http://host[:port] or https://host[:port])", label);
                return -EINVAL;
            }
            free(*slot);
            *slot = v;
            *msg = hl_asprintf("%s set to %s", label, v);
        }
    } else if (strcmp(key, "update-url") == 0 || strcmp(key, "update-public-key") == 0) {
        int is_url = key[7] == 'u';
        char **slot = is_url ? &cfg->update_url : &cfg->update_public_key;
        const char *label = is_url ? "Update URL" : "Update public key";
        if (is_reset_word(value)) {
            free(*slot);
            *slot = NULL;
            *msg = hl_asprintf("%s set to %s", label, is_url ? "(none)" : "(built-in)");
        } else if (is_url ? !valid_http_url_path(value) : !valid_update_key(value)) {
            *msg = hl_asprintf("Invalid %s (expected %s)", is_url ? "update URL" : "update public key",
                               is_url ? "an http:// or https:// URL" : "the base64 of a 32-byte ed25519 public key");
            return -EINVAL;
        } else {
            replace(slot, value);
            *msg = hl_asprintf("%s set to %s", label, value);
        }
    } else if (set_edge_key(cfg, key, value, msg, &ret)) {
        return ret;
    } else {
        *msg = hl_asprintf("Unknown config key: %s", key);
        return -ENOENT;
    }
    return 0;
}

int hl_config_set_api_key(hl_config_t *cfg, const char *key, char **msg)
{
    if (key == NULL) {
        free(cfg->hermes_api_key);
        cfg->hermes_api_key = NULL;
        json_object_del(cfg->raw, "hermesApiKey");
        *msg = hl_strdup("Hermes API key removed");
        return 0;
    }
    if (!hl_config_valid_api_key(key)) {
        *msg = hl_strdup("Invalid Hermes API key (expected 1-4096 printable characters without spaces)");
        return -EINVAL;
    }
    replace(&cfg->hermes_api_key, key);
    *msg = hl_strdup("Hermes API key set");
    return 0;
}

static json_t *nullable(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

char *hl_config_dump(const hl_config_t *cfg, int redact_secrets)
{
    json_t *out = json_deep_copy(cfg->raw);
    json_object_set_new(out, "port", json_integer(cfg->port));
    json_object_set_new(out, "lanHost", nullable(cfg->lan_host));
    json_object_set_new(out, "language", json_string(cfg->language));
    json_object_set_new(out, "logLevel", json_string(cfg->log_level));
    json_object_set_new(out, "tlsPort", json_integer(cfg->tls_port));
    json_object_set_new(out, "workers", json_integer(cfg->workers));
    json_object_set_new(out, "publicUrl", nullable(cfg->public_url));
    json_object_set_new(out, "hermesApiUrl", nullable(cfg->hermes_api_url));
    if (cfg->update_url != NULL || json_object_get(cfg->raw, "updateUrl") != NULL)
        json_object_set_new(out, "updateUrl", nullable(cfg->update_url));
    if (cfg->update_public_key != NULL || json_object_get(cfg->raw, "updatePublicKey") != NULL)
        json_object_set_new(out, "updatePublicKey", nullable(cfg->update_public_key));
    if (cfg->hermes_api_key != NULL || json_object_get(cfg->raw, "hermesApiKey") != NULL)
        json_object_set_new(out, "hermesApiKey",
                            redact_secrets && cfg->hermes_api_key != NULL ? json_string("(configured)")
                                                                          : nullable(cfg->hermes_api_key));
    /* the edge's keys only once they differ from their defaults or are in the file, so that a default config reads as
     * the original's */
    hl_config_t def;
    hl_config_defaults(&def);
    struct {
        const char *name;
        json_t *value;
        bool is_default;
    } edge[] = {
        {"lanPlainHttp", json_boolean(cfg->lan_plain_http), cfg->lan_plain_http == def.lan_plain_http},
        {"plainHttp2", json_boolean(cfg->plain_http2), cfg->plain_http2 == def.plain_http2},
        {"maxConnections", json_integer(cfg->max_connections), cfg->max_connections == def.max_connections},
        {"maxConnectionsPerAddress", json_integer(cfg->max_connections_per_address),
         cfg->max_connections_per_address == def.max_connections_per_address},
        {"maxStreamsPerDevice", json_integer(cfg->max_streams_per_device),
         cfg->max_streams_per_device == def.max_streams_per_device},
        {"maxBodyMiBPerAddress", json_integer(cfg->max_body_mib_per_address),
         cfg->max_body_mib_per_address == def.max_body_mib_per_address},
    };
    hl_config_dispose(&def);
    for (size_t i = 0; i < HL_ARRAY_SIZE(edge); ++i) {
        if (!edge[i].is_default || json_object_get(out, edge[i].name) != NULL)
            json_object_set_new(out, edge[i].name, edge[i].value);
        else
            json_decref(edge[i].value);
    }
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(out);
    char *with_nl = hl_asprintf("%s\n", text);
    free(text);
    return with_nl;
}

int hl_config_save(const hl_config_t *cfg, const char *home)
{
    char *path = hl_path_join(home, "config.json"), *text = hl_config_dump(cfg, 0);
    int ret = hl_write_file_atomic(path, text, strlen(text), 0600);
    free(text);
    free(path);
    return ret;
}
