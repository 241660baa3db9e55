/*
 * Where a profile's API server is: host, port and key resolved each on its own, from HermesLink's config (the default
 * profile only), then the profile's `.env` (which Hermes itself lets win over config.yaml: spec GAPS §B 32), then
 * config.yaml, then the defaults. The host is used as configured (GAPS §B 31: the original always went to 127.0.0.1).
 * A value that is present but unusable (a port that is not a number, a host with a '/', a key with a newline that
 * would break the Authorization header) is skipped like a missing one, with a warning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "hl/hermes_read.h"
#include "hermes_internal.h"

#define SRC_CONFIG "hermeslink-config"
#define SRC_ENV "env-file"
#define SRC_YAML "config.yaml"
#define SRC_DEFAULT "default"

int hl_hermes_valid_host(const char *host)
{
    size_t len = strlen(host);
    if (len == 0 || len > 253)
        return 0;
    char buf[256];
    if (strchr(host, ':') != NULL || host[0] == '[') {
        /* an IPv6 literal, bare or bracketed, with an optional %zone (an interface name) */
        if (host[0] == '[') {
            if (host[len - 1] != ']')
                return 0;
            ++host;
            len -= 2;
        }
        memcpy(buf, host, len);
        buf[len] = '\0';
        char *zone = strchr(buf, '%');
        if (zone != NULL) {
            *zone++ = '\0';
            if (*zone == '\0')
                return 0;
            for (const char *z = zone; *z; ++z)
                if (!((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') || (*z >= '0' && *z <= '9') || strchr("._-", *z)))
                    return 0;
        }
        struct in6_addr addr;
        return inet_pton(AF_INET6, buf, &addr) == 1;
    }
    /* a host name or an IPv4 address: letters, digits, dots, hyphens (and underscores, which resolvers accept) */
    for (const char *s = host; *s; ++s)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr(".-_", *s)))
            return 0;
    return host[0] != '.' && host[0] != '-';
}

char *hl_hermes_base_url(const char *host, int port)
{
    if (!hl_hermes_valid_host(host) || port < 1 || port > 65535)
        return NULL;
    if (strchr(host, ':') == NULL)
        return hl_asprintf("http://%s:%d", host, port);
    /* IPv6: in brackets, a zone's '%' escaped as %25 (RFC 6874) */
    const char *bare = host[0] == '[' ? host + 1 : host;
    int bare_len = (int)strlen(bare) - (host[0] == '[' ? 1 : 0);
    const char *zone = memchr(bare, '%', (size_t)bare_len);
    if (zone == NULL)
        return hl_asprintf("http://[%.*s]:%d", bare_len, bare, port);
    int addr_len = (int)(zone - bare);
    return hl_asprintf("http://[%.*s%%25%.*s]:%d", addr_len, bare, bare_len - addr_len - 1, zone + 1, port);
}

/* ---- one resolution ---- */

typedef struct st_resolution_t {
    const char *profile;
    char *warning;
    hl_dotenv_t env;
    int have_env;
    hl_api_server_yaml_t yaml;
} resolution_t;

static void warn(resolution_t *r, char *line)
{
    hermes_add_warning(&r->warning, line);
}

static const char *read_problem(int ret)
{
    switch (ret) {
    case -EFBIG:
        return "is larger than 1 MiB";
    case -EXDEV:
        return "is a symbolic link out of the Hermes home";
    case -EACCES:
    case -EPERM:
        return "is not readable (permission denied)";
    case -EINVAL:
    case -EISDIR:
        return "is not a regular file";
    default:
        return "cannot be read";
    }
}

/* Reads the profile's .env and config.yaml; a file that cannot be used leaves its source empty and adds a warning. */
static void read_sources(resolution_t *r, const char *root_real, const char *dir)
{
    char *text = NULL;
    size_t len = 0;
    int ret = hermes_read_file(root_real, dir, ".env", &text, &len);
    if (ret == 0) {
        hl_dotenv_parse(&r->env, text, len);
        r->have_env = 1;
        if (r->env.bad_lines > 0)
            warn(r, hl_asprintf(".env: %zu line(s) could not be parsed and were ignored (the first at line %zu)", r->env.bad_lines,
                                r->env.first_bad_line));
        explicit_bzero(text, len);
        free(text);
    } else if (ret != -ENOENT) {
        warn(r, hl_asprintf(".env %s, ignored", read_problem(ret)));
    }

    r->yaml.enabled = -1;
    if ((ret = hermes_read_file(root_real, dir, "config.yaml", &text, &len)) == 0) {
        char err[256];
        if (hl_api_server_yaml_read(&r->yaml, text, len, err, sizeof(err)) != 0)
            warn(r, hl_asprintf("%s; ignored", err));
        else if (r->yaml.warning != NULL)
            warn(r, hl_strdup(r->yaml.warning));
        explicit_bzero(text, len);
        free(text);
    } else if (ret != -ENOENT) {
        warn(r, hl_asprintf("config.yaml %s, ignored", read_problem(ret)));
    }
}

static const char *env_value(resolution_t *r, const char *key)
{
    const char *v = r->have_env ? hl_dotenv_get(&r->env, key) : NULL;
    return v != NULL && *v != '\0' ? v : NULL; /* an empty assignment says nothing, as Hermes reads it */
}

static int source_rank(const char *src)
{
    return strcmp(src, SRC_ENV) == 0 ? 2 : strcmp(src, SRC_YAML) == 0 ? 1 : 0;
}

static void resolve_host(resolution_t *r, const char **host, const char **src)
{
    const char *v;
    if ((v = env_value(r, "API_SERVER_HOST")) != NULL) {
        if (hl_hermes_valid_host(v)) {
            *host = v, *src = SRC_ENV;
            return;
        }
        warn(r, hl_strdup(".env: API_SERVER_HOST is not a host name or an IP address, ignored"));
    }
    if ((v = r->yaml.host) != NULL) {
        if (hl_hermes_valid_host(v)) {
            *host = v, *src = SRC_YAML;
            return;
        }
        warn(r, hl_strdup("config.yaml: platforms.api_server.extra.host is not a host name or an IP address, ignored"));
    }
    *host = HL_HERMES_DEFAULT_HOST, *src = SRC_DEFAULT;
}

static int parse_port(const char *v, int *port)
{
    long n;
    if (hl_parse_long(v, 1, 65535, &n) != 0)
        return -1;
    *port = (int)n;
    return 0;
}

static void resolve_port(resolution_t *r, int *port, const char **src)
{
    const char *v;
    if ((v = env_value(r, "API_SERVER_PORT")) != NULL) {
        if (parse_port(v, port) == 0) {
            *src = SRC_ENV;
            return;
        }
        warn(r, hl_strdup(".env: API_SERVER_PORT is not a port number (1-65535), ignored"));
    }
    if ((v = r->yaml.port) != NULL) {
        if (parse_port(v, port) == 0) {
            *src = SRC_YAML;
            return;
        }
        warn(r, hl_strdup("config.yaml: platforms.api_server.extra.port is not a port number (1-65535), ignored"));
    }
    *port = HL_HERMES_DEFAULT_PORT, *src = SRC_DEFAULT;
}

/* A key goes into an HTTP header: control characters (a newline above all) would split it. */
static int usable_key(const char *key)
{
    for (const unsigned char *s = (const unsigned char *)key; *s; ++s)
        if (*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static void resolve_key(resolution_t *r, const hl_config_t *config, int is_default, hl_upstream_t *up)
{
    const char *v;
    if (is_default && config != NULL && config->hermes_api_key != NULL && *config->hermes_api_key != '\0') {
        if (usable_key(config->hermes_api_key)) {
            up->api_key = hl_strdup(config->hermes_api_key), up->key_source = SRC_CONFIG;
            return;
        }
        warn(r, hl_strdup("config.json: hermesApiKey contains control characters, ignored"));
    }
    if ((v = env_value(r, "API_SERVER_KEY")) != NULL) {
        if (usable_key(v)) {
            up->api_key = hl_strdup(v), up->key_source = SRC_ENV;
            return;
        }
        warn(r, hl_strdup(".env: API_SERVER_KEY contains control characters, ignored"));
    }
    if ((v = r->yaml.key) != NULL) {
        if (usable_key(v)) {
            up->api_key = hl_strdup(v), up->key_source = SRC_YAML;
            return;
        }
        warn(r, hl_strdup("config.yaml: platforms.api_server.extra.key contains control characters, ignored"));
    }
    up->api_key = NULL, up->key_source = SRC_DEFAULT;
}

int hl_hermes_resolve(hl_upstream_t *up, const char *hermes_home, const hl_config_t *config, const char *profile,
                      const char **error_code, char **message)
{
    memset(up, 0, sizeof(*up));
    if (profile == NULL || *profile == '\0')
        profile = "default";
    int is_default = strcmp(profile, "default") == 0;
    if (!is_default && !hl_hermes_valid_profile_name(profile)) {
        *error_code = "invalid_profile_name";
        *message = hl_strdup("A profile name is 1 to 64 letters, digits, '.', '_' or '-' (not '.' or '..')");
        return -EINVAL;
    }
    char *dir = hl_hermes_profile_dir(hermes_home, profile);
    char *root_real = hermes_root_real(hermes_home);
    if (!is_default && !hermes_dir_inside(root_real, dir)) {
        free(dir);
        free(root_real);
        *error_code = "profile_not_found";
        *message = hl_asprintf("Profile '%s' does not exist", profile);
        return -ENOENT;
    }

    resolution_t r = {.profile = profile};
    read_sources(&r, root_real, dir);
    up->profile = hl_strdup(profile);
    resolve_key(&r, config, is_default, up);
    if (is_default && config != NULL && config->hermes_api_url != NULL && *config->hermes_api_url != '\0') {
        size_t len = strlen(config->hermes_api_url);
        while (len > 0 && config->hermes_api_url[len - 1] == '/')
            --len;
        up->base_url = hl_strndup(config->hermes_api_url, len);
        up->url_source = SRC_CONFIG;
    } else {
        const char *host, *host_src, *port_src;
        int port;
        resolve_host(&r, &host, &host_src);
        resolve_port(&r, &port, &port_src);
        up->base_url = hl_hermes_base_url(host, port); /* both checked: never NULL */
        up->url_source = source_rank(host_src) >= source_rank(port_src) ? host_src : port_src;
    }
    up->enabled = hermes_parse_bool(env_value(&r, "API_SERVER_ENABLED"), true);
    if (up->enabled < 0)
        up->enabled = r.yaml.enabled;
    up->warning = r.warning;

    if (r.have_env)
        hl_dotenv_dispose(&r.env);
    hl_api_server_yaml_dispose(&r.yaml);
    free(root_real);
    free(dir);
    return 0;
}

void hl_upstream_dispose(hl_upstream_t *up)
{
    if (up == NULL)
        return;
    free(up->profile);
    free(up->base_url);
    if (up->api_key != NULL)
        explicit_bzero(up->api_key, strlen(up->api_key));
    free(up->api_key);
    free(up->warning);
    memset(up, 0, sizeof(*up));
}
