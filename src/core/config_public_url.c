/*
 * What publicUrl may be: the base URL under which the daemon's own routes (/pair, /api/v1/...) are reached, so only a
 * scheme, a host and a port. HermesLink appends absolute paths to it and serves them at the root: a path prefix, a query
 * or a fragment would give the apps URLs that do not exist, and a user name would put credentials into every QR code.
 */
#include <stdlib.h>
#include <string.h>

#include "hl/config.h"

#define PUBLIC_URL_MAX 2048

/* a host name or IPv4 address: letters, digits, dots, hyphens (underscores too: some internal names use them) */
static int valid_reg_name(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return 0;
    }
    return s[0] != '.' && s[0] != '-';
}

/* a bracketed IPv6 literal's inside: hex digits, colons, dots (an embedded IPv4) */
static int valid_ipv6_literal(const char *s, size_t n)
{
    if (n < 2 || n > 45)
        return 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
            return 0;
    }
    return memchr(s, ':', n) != NULL;
}

static int valid_port(const char *s, size_t n)
{
    if (n == 0 || n > 5)
        return 0;
    long v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

const char *hl_config_public_url_problem(const char *url)
{
    if (url == NULL || *url == '\0')
        return "it is empty";
    size_t len = strlen(url);
    if (len > PUBLIC_URL_MAX)
        return "it is too long";
    for (const char *p = url; *p != '\0'; ++p)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '"' || *p == '<' || *p == '>' || *p == '\\')
            return "it contains spaces, quotes or other characters a URL cannot hold";
    const char *auth;
    if (strncmp(url, "http://", 7) == 0)
        auth = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        auth = url + 8;
    else
        return "it is not http:// or https://";
    size_t auth_len = strcspn(auth, "/?#");
    const char *rest = auth + auth_len;
    if (memchr(auth, '@', auth_len) != NULL)
        return "it has a user name";
    if (strchr(rest, '#') != NULL)
        return "it has a fragment";
    if (strchr(rest, '?') != NULL)
        return "it has a query";
    if (*rest != '\0' && strcmp(rest, "/") != 0)
        return "it has a path";
    if (auth_len == 0)
        return "it has no host";
    /* host [":" port]: an IPv6 literal is bracketed, so its colons are not the port's */
    size_t host_len;
    const char *port = NULL;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (close == NULL || !valid_ipv6_literal(auth + 1, (size_t)(close - auth - 1)))
            return "its host is not a valid IPv6 address";
        host_len = (size_t)(close - auth) + 1;
    } else {
        host_len = strcspn(auth, ":/?#");
        if (host_len > auth_len)
            host_len = auth_len;
        if (!valid_reg_name(auth, host_len))
            return "its host is not a valid host name or address";
    }
    if (host_len < auth_len) {
        if (auth[host_len] != ':')
            return "its host is not a valid host name or address";
        port = auth + host_len + 1;
        if (!valid_port(port, auth_len - host_len - 1))
            return "its port is not a number from 1 to 65535";
    }
    return NULL;
}
