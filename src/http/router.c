#include "hl/router.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct st_node_t node_t;

struct st_node_t {
    char *literal;     /* NULL for the parameter child */
    char *param_name;  /* for the parameter child */
    node_t **children; /* literal children */
    size_t num_children;
    node_t *param_child;
    const hl_route_t **routes; /* routes ending here */
    size_t num_routes;
};

struct st_hl_router_t {
    node_t root;
};

static const struct {
    const char *name;
    hl_method_t method;
} METHODS[] = {{"GET", HL_METHOD_GET},     {"HEAD", HL_METHOD_HEAD},     {"POST", HL_METHOD_POST},      {"PUT", HL_METHOD_PUT},
               {"PATCH", HL_METHOD_PATCH}, {"DELETE", HL_METHOD_DELETE}, {"OPTIONS", HL_METHOD_OPTIONS}};

hl_method_t hl_method_from_string(const char *s, size_t len)
{
    for (size_t i = 0; i < HL_ARRAY_SIZE(METHODS); ++i)
        if (strlen(METHODS[i].name) == len && memcmp(METHODS[i].name, s, len) == 0)
            return METHODS[i].method;
    return 0;
}

hl_router_t *hl_router_new(void)
{
    return hl_calloc(1, sizeof(hl_router_t));
}

static void free_node(node_t *n)
{
    for (size_t i = 0; i < n->num_children; ++i) {
        free_node(n->children[i]);
        free(n->children[i]);
    }
    if (n->param_child != NULL) {
        free_node(n->param_child);
        free(n->param_child);
    }
    free(n->children);
    free(n->routes);
    free(n->literal);
    free(n->param_name);
}

void hl_router_free(hl_router_t *router)
{
    if (router == NULL)
        return;
    free_node(&router->root);
    free(router);
}

static node_t *literal_child(node_t *n, const char *seg, size_t len, int create)
{
    for (size_t i = 0; i < n->num_children; ++i)
        if (strlen(n->children[i]->literal) == len && memcmp(n->children[i]->literal, seg, len) == 0)
            return n->children[i];
    if (!create)
        return NULL;
    node_t *c = hl_calloc(1, sizeof(*c));
    c->literal = hl_strndup(seg, len);
    n->children = hl_realloc(n->children, sizeof(*n->children) * (n->num_children + 1));
    n->children[n->num_children++] = c;
    return c;
}

int hl_router_add(hl_router_t *router, const hl_route_t *route)
{
    const char *p = route->pattern;
    if (p == NULL || *p != '/' || route->handler == NULL || route->method == 0 || route->method == HL_METHOD_HEAD)
        return -EINVAL;
    node_t *n = &router->root;
    size_t nparams = 0;
    while (*p == '/') {
        const char *seg = ++p;
        while (*p != '\0' && *p != '/')
            ++p;
        size_t len = (size_t)(p - seg);
        if (len == 0 && *p == '\0' && n == &router->root)
            break; /* the root path "/" */
        if (len == 0)
            return -EINVAL;
        if (seg[0] == ':') {
            if (len == 1 || ++nparams > HL_ROUTE_MAX_PARAMS)
                return -EINVAL;
            if (n->param_child == NULL) {
                n->param_child = hl_calloc(1, sizeof(node_t));
                n->param_child->param_name = hl_strndup(seg + 1, len - 1);
            } else if (strlen(n->param_child->param_name) != len - 1 || memcmp(n->param_child->param_name, seg + 1, len - 1) != 0) {
                return -EINVAL; /* two names for one position would make params ambiguous */
            }
            n = n->param_child;
        } else {
            n = literal_child(n, seg, len, 1);
        }
    }
    if (*p != '\0')
        return -EINVAL;
    for (size_t i = 0; i < n->num_routes; ++i)
        if (n->routes[i]->method == route->method)
            return -EEXIST;
    n->routes = hl_realloc(n->routes, sizeof(*n->routes) * (n->num_routes + 1));
    n->routes[n->num_routes++] = route;
    return 0;
}

int hl_percent_decode(const char *s, size_t len, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -EINVAL;
            if ((hi = hl_hexval(s[i + 1])) < 0 || (lo = hl_hexval(s[i + 2])) < 0)
                return -EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return -EINVAL;
        out[o++] = c;
    }
    out[o] = '\0';
    if (out_len != NULL)
        *out_len = o;
    return 0;
}

typedef struct st_segment_t {
    const char *raw;
    size_t len;
} segment_t;

#define MAX_SEGMENTS 32

typedef struct st_match_ctx_t {
    segment_t segs[MAX_SEGMENTS];
    size_t nsegs;
    hl_method_t method;
    const hl_route_t *found;
    node_t *param_nodes[HL_ROUTE_MAX_PARAMS];
    size_t param_segs[HL_ROUTE_MAX_PARAMS];
    size_t nparams;
    node_t *found_params[HL_ROUTE_MAX_PARAMS];
    size_t found_segs[HL_ROUTE_MAX_PARAMS];
    size_t found_nparams;
    unsigned allowed;
    int path_exists;
} match_ctx_t;

static unsigned route_mask(const hl_route_t *r)
{
    return r->method == HL_METHOD_GET ? (HL_METHOD_GET | HL_METHOD_HEAD) : r->method;
}

/* Depth-first walk, literal before parameter; stops at the first route with the method, but keeps collecting the
 * methods of every terminal that matches the path so that a 405 can list them. */
static void walk(match_ctx_t *m, node_t *n, size_t depth)
{
    if (m->found != NULL)
        return;
    if (depth == m->nsegs) {
        if (n->num_routes == 0)
            return;
        m->path_exists = 1;
        hl_method_t want = m->method == HL_METHOD_HEAD ? HL_METHOD_GET : m->method;
        for (size_t i = 0; i < n->num_routes; ++i) {
            m->allowed |= route_mask(n->routes[i]);
            if (n->routes[i]->method == want && m->found == NULL) {
                m->found = n->routes[i];
                memcpy(m->found_params, m->param_nodes, sizeof(m->param_nodes));
                memcpy(m->found_segs, m->param_segs, sizeof(m->param_segs));
                m->found_nparams = m->nparams;
            }
        }
        return;
    }
    const segment_t *seg = &m->segs[depth];
    node_t *lit = literal_child(n, seg->raw, seg->len, 0);
    if (lit != NULL)
        walk(m, lit, depth + 1);
    if (n->param_child != NULL && seg->len > 0 && m->found == NULL) {
        m->param_nodes[m->nparams] = n->param_child;
        m->param_segs[m->nparams] = depth;
        ++m->nparams;
        walk(m, n->param_child, depth + 1);
        --m->nparams;
    }
}

hl_match_status_t hl_router_match(const hl_router_t *router, hl_method_t method, const char *path, size_t path_len, char *buf,
                                  hl_route_match_t *match)
{
    match_ctx_t m;
    m.nsegs = 0;
    m.method = method;
    m.found = NULL;
    m.nparams = 0;
    m.found_nparams = 0;
    m.allowed = 0;
    m.path_exists = 0;
    memset(match, 0, sizeof(*match));
    if (path_len == 0 || path[0] != '/')
        return HL_MATCH_NOT_FOUND;
    /* "/" alone is the root; otherwise split "/a/b" into segments (a trailing slash makes an empty last segment,
     * which matches nothing, as in the original) */
    if (path_len > 1) {
        const char *p = path + 1, *end = path + path_len;
        for (;;) {
            const char *s = p;
            while (p < end && *p != '/')
                ++p;
            if (m.nsegs == MAX_SEGMENTS)
                return HL_MATCH_NOT_FOUND;
            m.segs[m.nsegs].raw = s;
            m.segs[m.nsegs].len = (size_t)(p - s);
            ++m.nsegs;
            if (p == end)
                break;
            ++p;
        }
    }
    walk(&m, (node_t *)&router->root, 0);
    if (!m.path_exists)
        return HL_MATCH_NOT_FOUND;
    match->allowed = m.allowed;
    if (m.found == NULL)
        return HL_MATCH_METHOD_NOT_ALLOWED;
    match->route = m.found;
    size_t off = 0;
    for (size_t i = 0; i < m.found_nparams; ++i) {
        const segment_t *seg = &m.segs[m.found_segs[i]];
        size_t len;
        if (hl_percent_decode(seg->raw, seg->len, buf + off, &len) != 0)
            return HL_MATCH_BAD_PATH;
        match->params[i].name = m.found_params[i]->param_name;
        match->params[i].value = buf + off;
        match->params[i].len = len;
        off += len + 1;
    }
    match->num_params = m.found_nparams;
    return HL_MATCH_FOUND;
}

static void foreach_node(const node_t *n, void (*cb)(const hl_route_t *route, void *data), void *data)
{
    for (size_t i = 0; i < n->num_routes; ++i)
        cb(n->routes[i], data);
    for (size_t i = 0; i < n->num_children; ++i)
        foreach_node(n->children[i], cb, data);
    if (n->param_child != NULL)
        foreach_node(n->param_child, cb, data);
}

void hl_router_foreach(const hl_router_t *router, void (*cb)(const hl_route_t *route, void *data), void *data)
{
    foreach_node(&router->root, cb, data);
}

char *hl_router_allow_header(unsigned allowed, char *buf, size_t len)
{
    static const hl_method_t order[] = {HL_METHOD_HEAD,  HL_METHOD_GET,    HL_METHOD_POST,   HL_METHOD_PUT,
                                        HL_METHOD_PATCH, HL_METHOD_DELETE, HL_METHOD_OPTIONS};
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < HL_ARRAY_SIZE(order); ++i) {
        if ((allowed & order[i]) == 0)
            continue;
        const char *name = NULL;
        for (size_t j = 0; j < HL_ARRAY_SIZE(METHODS); ++j)
            if (METHODS[j].method == order[i])
                name = METHODS[j].name;
        int n = snprintf(buf + o, len - o, "%s%s", o == 0 ? "" : ", ", name);
        if (n < 0 || (size_t)n >= len - o) {
            buf[o] = '\0'; /* never leave half a method name */
            break;
        }
        o += (size_t)n;
    }
    return buf;
}
