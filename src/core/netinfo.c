#include "hl/netinfo.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hl/common.h"
#include "hl/fsutil.h"

#define MAX_LAN_IPS 4

static const char WSL_WARNING[] = "Running inside WSL: LAN devices cannot reach this address directly. Set the Windows host's "
                                  "LAN address with `hermeslink config set lan-host <ip>` and forward the port.";
static const char CONTAINER_WARNING[] = "Running inside a container: set the host's LAN address with `hermeslink config set "
                                        "lan-host <ip>` and publish the port.";

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; ++hay)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

hl_environment_t hl_detect_environment(void)
{
    struct utsname u;
    if (getenv("WSL_DISTRO_NAME") != NULL || getenv("WSL_INTEROP") != NULL ||
        (uname(&u) == 0 && (contains_ci(u.release, "microsoft") || contains_ci(u.release, "wsl"))))
        return (hl_environment_t){"wsl", WSL_WARNING};
    int container = getenv("container") != NULL || getenv("CONTAINER") != NULL || getenv("KUBERNETES_SERVICE_HOST") != NULL ||
                    access("/.dockerenv", F_OK) == 0;
    if (!container) {
        char *cg = NULL;
        if (hl_read_file("/proc/1/cgroup", 64 * 1024, &cg, NULL) == 0) {
            static const char *const marks[] = {"docker", "containerd", "kubepods", "libpod", "podman"};
            for (size_t i = 0; i < HL_ARRAY_SIZE(marks); ++i)
                if (strstr(cg, marks[i]) != NULL)
                    container = 1;
            free(cg);
        }
    }
    if (container)
        return (hl_environment_t){"container", CONTAINER_WARNING};
    return (hl_environment_t){"native", NULL};
}

static int is_virtual_interface(const char *name)
{
    static const char *const prefixes[] = {"docker", "veth",  "vmnet", "vbox",    "vmware",    "tailscale", "zerotier", "wireguard",
                                           "wg",     "utun",  "virbr", "hyper-v", "vethernet", "loopback",  "lo",       "br-",
                                           "bridge", "zt",    "tun",   "tap",     "awdl",      "llw",       "anpi",     "gif",
                                           "stf",    "ipsec", "ppp",   "cni",     "flannel",   "kube"};
    for (size_t i = 0; i < HL_ARRAY_SIZE(prefixes); ++i)
        if (strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

static int is_private(uint32_t a)
{
    return (a >> 24) == 10 || (a >> 20) == ((172u << 4) | 1) || (a >> 16) == ((192u << 8) | 168);
}

static int preferred_name(const char *name)
{
    return strncmp(name, "en", 2) == 0 || strncmp(name, "eth", 3) == 0 || strncmp(name, "wlan", 4) == 0 ||
           strncasecmp(name, "wi-fi", 5) == 0 || strncasecmp(name, "wifi", 4) == 0;
}

typedef struct st_candidate_t {
    char name[IF_NAMESIZE + 1];
    uint32_t addr;
} candidate_t;

static int compare_candidates(const void *pa, const void *pb)
{
    const candidate_t *a = pa, *b = pb;
    int pa_pref = preferred_name(a->name), pb_pref = preferred_name(b->name);
    if (pa_pref != pb_pref)
        return pb_pref - pa_pref;
    int c = strcmp(a->name, b->name);
    if (c != 0)
        return c;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

json_t *hl_lan_ips(const char *lan_host, const hl_environment_t *env)
{
    json_t *out = json_array();
    if (lan_host != NULL)
        json_array_append_new(out, json_string(lan_host));
    if (strcmp(env->kind, "native") != 0)
        return out;
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return out;
    candidate_t cands[64];
    size_t n = 0;
    for (struct ifaddrs *i = ifs; i != NULL && n < HL_ARRAY_SIZE(cands); i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP) ||
            is_virtual_interface(i->ifa_name))
            continue;
        uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        if (!is_private(a))
            continue;
        if (i->ifa_netmask != NULL) {
            uint32_t mask = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);
            if (mask != 0xffffffffu && ((a & ~mask) == 0 || (a & ~mask) == ~mask))
                continue; /* network or broadcast address */
        }
        snprintf(cands[n].name, sizeof(cands[n].name), "%s", i->ifa_name);
        cands[n].addr = a;
        ++n;
    }
    freeifaddrs(ifs);
    qsort(cands, n, sizeof(cands[0]), compare_candidates);
    size_t limit = json_array_size(out) + MAX_LAN_IPS;
    for (size_t i = 0; i < n && json_array_size(out) < limit; ++i) {
        char buf[INET_ADDRSTRLEN];
        struct in_addr ia = {.s_addr = htonl(cands[i].addr)};
        inet_ntop(AF_INET, &ia, buf, sizeof(buf));
        int dup = 0;
        size_t k;
        json_t *v;
        json_array_foreach(out, k, v) dup |= strcmp(json_string_value(v), buf) == 0;
        if (!dup)
            json_array_append_new(out, json_string(buf));
    }
    return out;
}

int hl_host_is_wildcard(const char *host)
{
    return host == NULL || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || host[0] == '\0';
}

char *hl_url_host(const char *host)
{
    if (hl_host_is_wildcard(host))
        return hl_strdup("127.0.0.1");
    return strchr(host, ':') != NULL ? hl_asprintf("[%s]", host) : hl_strdup(host);
}

json_t *hl_service_urls(const char *scheme, const char *public_url, json_t *lan_ips, const char *host, int port)
{
    json_t *out = json_array();
    if (public_url != NULL)
        json_array_append_new(out, json_string(public_url));
    size_t i;
    json_t *ip;
    if (hl_host_is_wildcard(host)) {
        json_array_foreach(lan_ips, i, ip)
        {
            char *url = hl_asprintf("%s://%s:%d", scheme, json_string_value(ip), port);
            json_array_append_new(out, json_string(url));
            free(url);
        }
    }
    char *h = hl_url_host(host), *url = hl_asprintf("%s://%s:%d", scheme, h, port);
    json_array_append_new(out, json_string(url));
    free(url);
    free(h);
    return out;
}

json_t *hl_preferred_urls(const hl_config_t *cfg, json_t *lan_ips, const char *plain_host, int port, const char *tls_host,
                          int tls_port)
{
    if (cfg->lan_plain_http)
        return hl_service_urls("http", cfg->public_url, lan_ips, plain_host, port);
    if (tls_port < 0) {
        /* the plain port is loopback only (the daemon binds it so): never a LAN URL */
        const char *local = hl_host_is_wildcard(plain_host) ? "127.0.0.1" : plain_host;
        return hl_service_urls("http", cfg->public_url, NULL, local, port);
    }
    const char *public_url = cfg->public_url != NULL && strncmp(cfg->public_url, "https://", 8) == 0 ? cfg->public_url : NULL;
    return hl_service_urls("https", public_url, lan_ips, tls_host, tls_port);
}
