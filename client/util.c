/*
 * util.c - libzinc helpers without protocol state: the connection string, path validation and
 * chroot mapping, the predefined ACLs, and the free/initialiser functions of the public records.
 *
 * Path rules are ZooKeeper's PathUtils.validatePath (../shared/zk-protocol.md "Paths"), applied
 * before anything is sent so that a bad path never costs a round trip.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/zn_client_internal.h"
#include "common/zn_err.h"

static struct zn_acl zn_open_acl_[] = {{ZN_PERM_ALL, "world", "anyone"}};
static struct zn_acl zn_read_acl_[] = {{ZN_PERM_READ, "world", "anyone"}};
static struct zn_acl zn_creator_acl_[] = {{ZN_PERM_ALL, "auth", ""}};
struct zn_acl_vec ZN_OPEN_ACL_UNSAFE = {1, zn_open_acl_};
struct zn_acl_vec ZN_READ_ACL_UNSAFE = {1, zn_read_acl_};
struct zn_acl_vec ZN_CREATOR_ALL_ACL = {1, zn_creator_acl_};

/* ---- paths ------------------------------------------------------------------------------- */

/* Decode one UTF-8 code point at s; returns its length or 0 when malformed. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n;
    uint32_t min;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2, min = 0x80, *cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3, min = 0x800, *cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4, min = 0x10000, *cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (s[i] & 0x3F);
    }
    if (*cp < min || *cp > 0x10FFFF)
        return 0;
    return n;
}

static bool forbidden_cp(uint32_t cp)
{
    return (cp >= 0x01 && cp <= 0x1F) || (cp >= 0x7F && cp <= 0x9F) ||
           (cp >= 0xD800 && cp <= 0xF8FF) || (cp >= 0xFFF0 && cp <= 0xFFFF);
}

int zn_path_validate(const char *path, bool sequential)
{
    if (path == NULL || path[0] != '/')
        return ZN_EBADARGUMENTS;
    size_t len = strlen(path);
    if (len > ZN_PATH_LEN_MAX)
        return ZN_ELIMIT;
    if (len == 1)
        return 0;
    /* A sequential create may end in '/': the node appends the suffix ("/queue/" + n). */
    if (path[len - 1] == '/' && !sequential)
        return ZN_EBADARGUMENTS;
    const unsigned char *p = (const unsigned char *)path;
    size_t i = 1;
    size_t comp_start = 1;
    while (i <= len) {
        if (i == len || p[i] == '/') {
            size_t clen = i - comp_start;
            bool last = i == len;
            if (clen == 0 && !(last && sequential))
                return ZN_EBADARGUMENTS; /* empty component ("//") */
            if (clen == 1 && p[comp_start] == '.')
                return ZN_EBADARGUMENTS;
            if (clen == 2 && p[comp_start] == '.' && p[comp_start + 1] == '.')
                return ZN_EBADARGUMENTS;
            comp_start = i + 1;
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_next(p + i, &cp);
        if (n == 0 || forbidden_cp(cp))
            return ZN_EBADARGUMENTS;
        i += n;
    }
    return 0;
}

int zn_path_to_server(const zn_handle *zh, const char *path, char *out, size_t cap)
{
    size_t plen = strlen(path);
    if (zh->chroot_len == 0) {
        if (plen + 1 > cap)
            return ZN_ELIMIT;
        memcpy(out, path, plen + 1);
        return 0;
    }
    /* "/" under a chroot is the chroot itself. */
    if (plen == 1)
        plen = 0;
    if (zh->chroot_len + plen + 1 > cap || zh->chroot_len + plen > ZN_PATH_LEN_MAX)
        return ZN_ELIMIT;
    memcpy(out, zh->chroot, zh->chroot_len);
    memcpy(out + zh->chroot_len, path, plen);
    out[zh->chroot_len + plen] = '\0';
    return 0;
}

const char *zn_path_from_server(const zn_handle *zh, const char *server_path)
{
    if (zh->chroot_len == 0)
        return server_path;
    if (strncmp(server_path, zh->chroot, zh->chroot_len) != 0)
        return NULL;
    const char *rest = server_path + zh->chroot_len;
    if (rest[0] == '\0')
        return "/";
    if (rest[0] != '/')
        return NULL;
    return rest;
}

/* ---- connection string ------------------------------------------------------------------- */

static int parse_one(zn_handle *zh, const char *item, size_t len)
{
    char buf[300];
    if (len == 0 || len >= sizeof(buf) || zh->node_count >= ZN_CLIENT_NODES_MAX)
        return ZN_EBADARGUMENTS;
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *host = buf;
    char *port;
    if (buf[0] == '[') {
        char *end = strchr(buf, ']');
        if (end == NULL || end[1] != ':')
            return ZN_EBADARGUMENTS;
        *end = '\0';
        host = buf + 1;
        port = end + 2;
    } else {
        port = strrchr(buf, ':');
        if (port == NULL)
            return ZN_EBADARGUMENTS;
        *port++ = '\0';
    }
    if (host[0] == '\0' || port[0] == '\0')
        return ZN_EBADARGUMENTS;
    char *endp;
    long pn = strtol(port, &endp, 10);
    if (*endp != '\0' || pn <= 0 || pn > 65535)
        return ZN_EBADARGUMENTS;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
        return ZN_EBADARGUMENTS;
    struct zn_node_addr *n = &zh->nodes[zh->node_count];
    memcpy(&n->sa, res->ai_addr, res->ai_addrlen);
    n->len = res->ai_addrlen;
    freeaddrinfo(res);
    if (zh->node_count > 0 && n->sa.ss_family != zh->nodes[0].sa.ss_family)
        return ZN_EBADARGUMENTS; /* one socket per handle: one address family */
    zh->node_count++;
    return 0;
}

int zn_connstr_parse(zn_handle *zh, const char *hosts)
{
    if (hosts == NULL)
        return ZN_EBADARGUMENTS;
    zh->node_count = 0;
    zh->chroot[0] = '\0';
    zh->chroot_len = 0;
    size_t total = strlen(hosts);
    const char *slash = strchr(hosts, '/');
    size_t list_len = slash ? (size_t)(slash - hosts) : total;
    if (slash != NULL) {
        /* "/": no chroot; otherwise a valid absolute path without trailing '/'. */
        if (strcmp(slash, "/") != 0) {
            int rc = zn_path_validate(slash, false);
            if (rc != 0)
                return ZN_EBADARGUMENTS;
            zh->chroot_len = strlen(slash);
            memcpy(zh->chroot, slash, zh->chroot_len + 1);
        }
    }
    size_t start = 0;
    while (start <= list_len) {
        size_t end = start;
        while (end < list_len && hosts[end] != ',')
            end++;
        int rc = parse_one(zh, hosts + start, end - start);
        if (rc != 0)
            return rc;
        start = end + 1;
    }
    return zh->node_count > 0 ? 0 : ZN_EBADARGUMENTS;
}

/* ---- records ----------------------------------------------------------------------------- */

char *zn_bytes_dup(struct zn_bytes b)
{
    size_t n = b.len > 0 ? (size_t)b.len : 0;
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n)
        memcpy(s, b.ptr, n);
    s[n] = '\0';
    return s;
}

void zn_stat_from_zk(struct zn_stat *out, const struct zn_zk_stat *in)
{
    out->czxid = in->czxid;
    out->mzxid = in->mzxid;
    out->ctime = in->ctime;
    out->mtime = in->mtime;
    out->version = in->version;
    out->cversion = in->cversion;
    out->aversion = in->aversion;
    out->ephemeral_owner = in->ephemeral_owner;
    out->data_length = in->data_length;
    out->num_children = in->num_children;
    out->pzxid = in->pzxid;
}

void zn_strings_free(struct zn_strings *s)
{
    if (s == NULL)
        return;
    for (int32_t i = 0; i < s->count; i++)
        free(s->data[i]);
    free(s->data);
    s->data = NULL;
    s->count = 0;
}

void zn_acl_vec_free(struct zn_acl_vec *acl)
{
    if (acl == NULL)
        return;
    for (int32_t i = 0; i < acl->count; i++) {
        free(acl->data[i].scheme);
        free(acl->data[i].id);
    }
    free(acl->data);
    acl->data = NULL;
    acl->count = 0;
}

void zn_client_infos_free(struct zn_client_infos *infos)
{
    if (infos == NULL)
        return;
    for (int32_t i = 0; i < infos->count; i++) {
        free(infos->data[i].scheme);
        free(infos->data[i].user);
    }
    free(infos->data);
    infos->data = NULL;
    infos->count = 0;
}

void zn_op_results_free(struct zn_op_result *results, int count)
{
    if (results == NULL)
        return;
    for (int i = 0; i < count; i++) {
        free(results[i].path);
        free(results[i].data);
        zn_strings_free(&results[i].children);
        results[i].path = NULL;
        results[i].data = NULL;
    }
}

void zn_op_create(struct zn_op *op, const char *path, const char *data, int32_t data_len,
                  const struct zn_acl_vec *acl, int mode)
{
    memset(op, 0, sizeof(*op));
    op->type = ZN_OP_CREATE;
    op->path = path;
    op->data = data;
    op->data_len = data_len;
    op->acl = acl;
    op->mode = mode;
}

void zn_op_delete(struct zn_op *op, const char *path, int32_t version)
{
    memset(op, 0, sizeof(*op));
    op->type = ZN_OP_DELETE;
    op->path = path;
    op->version = version;
}

void zn_op_set(struct zn_op *op, const char *path, const char *data, int32_t data_len,
               int32_t version)
{
    memset(op, 0, sizeof(*op));
    op->type = ZN_OP_SET;
    op->path = path;
    op->data = data;
    op->data_len = data_len;
    op->version = version;
}

void zn_op_check(struct zn_op *op, const char *path, int32_t version)
{
    memset(op, 0, sizeof(*op));
    op->type = ZN_OP_CHECK;
    op->path = path;
    op->version = version;
}

void zn_op_get(struct zn_op *op, const char *path)
{
    memset(op, 0, sizeof(*op));
    op->type = ZN_OP_GET;
    op->path = path;
}

void zn_op_children(struct zn_op *op, const char *path)
{
    memset(op, 0, sizeof(*op));
    op->type = ZN_OP_CHILDREN;
    op->path = path;
}
