/*
 * ops.c - libzinc's calls: argument checks and request encoding (API threads), reply decoding
 * and completion dispatch (I/O thread), and the sync wrappers.
 *
 * Every call is built here as RequestHeader + jute body (proto/zk.h field order, ZooKeeper's
 * zookeeper.jute) behind room for the session header, checked against the client-side limits
 * before it is queued (a bad argument never reaches the wire), then handed to client.c. A sync
 * call is the async call with a completion that copies the result into the caller's buffers
 * and wakes the caller; the caller's thread is blocked meanwhile, so its pointers stay valid.
 */
#include <stdlib.h>
#include <string.h>

#include "client/zn_client_internal.h"
#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"

#define HDR_CAP 8u /* RequestHeader */

/* ---- building requests ------------------------------------------------------------------- */

struct zn_build {
    struct zn_req *r;
    struct zn_jute_writer w;
};

static int build_begin(struct zn_build *b, int32_t op, size_t body_cap)
{
    b->r = zn_req_new(HDR_CAP + body_cap);
    if (b->r == NULL)
        return ZN_ENOMEM;
    b->r->op = op;
    zn_jute_writer_init(&b->w, b->r->msg + ZN_SESS_HDR_BYTES, HDR_CAP + body_cap);
    zn_jute_put_int(&b->w, 0); /* xid: set to the seq when sent */
    zn_jute_put_int(&b->w, op);
    return 0;
}

static int build_finish(zn_handle *zh, struct zn_build *b)
{
    b->r->msg_len = (uint32_t)(ZN_SESS_HDR_BYTES + b->w.len); /* what zn_req_free wipes */
    if (b->w.err != 0 || ZN_SESS_HDR_BYTES + b->w.len > ZN_MSG_SIZE_MAX_BYTES) {
        zn_req_free(b->r);
        return ZN_ELIMIT;
    }
    b->r->msg_len = (uint32_t)(ZN_SESS_HDR_BYTES + b->w.len);
    return zn_client_submit(zh, b->r);
}

static int check_handle(zn_handle *zh)
{
    if (zh == NULL)
        return ZN_EBADARGUMENTS;
    return atomic_load(&zh->terminal_rc);
}

/* Validate a client path and map it to the server path. */
static int server_path(zn_handle *zh, const char *path, bool sequential, char *out)
{
    int rc = zn_path_validate(path, sequential);
    if (rc != 0)
        return rc;
    return zn_path_to_server(zh, path, out, ZN_PATH_LEN_MAX + 1);
}

static int check_data(zn_handle *zh, const char *value, int32_t len)
{
    if (value == NULL)
        return len < 0 || len == 0 ? 0 : ZN_EBADARGUMENTS;
    if (len < 0)
        return ZN_EBADARGUMENTS;
    if (len > zh->opts.data_bytes_max)
        return ZN_ELIMIT;
    return 0;
}

static struct zn_bytes data_bytes(const char *value, int32_t len)
{
    if (value == NULL && len < 0)
        return ZN_BYTES_NULL;
    return zn_bytes_make(value ? value : "", value ? (size_t)len : 0);
}

/* ACL list: non-empty, known permission bits, scheme and id present. Returns encoded size. */
static long acl_size(const struct zn_acl_vec *acl)
{
    if (acl == NULL || acl->count <= 0 || acl->data == NULL)
        return ZN_EINVALIDACL;
    if (acl->count > 1024)
        return ZN_ELIMIT;
    long n = 4;
    for (int32_t i = 0; i < acl->count; i++) {
        const struct zn_acl *a = &acl->data[i];
        if (a->scheme == NULL || a->id == NULL || (a->perms & ~ZN_PERM_ALL) != 0)
            return ZN_EINVALIDACL;
        n += 12 + (long)strlen(a->scheme) + (long)strlen(a->id);
    }
    return n;
}

static void put_acl(struct zn_jute_writer *w, const struct zn_acl_vec *acl)
{
    zn_jute_put_int(w, acl->count);
    for (int32_t i = 0; i < acl->count; i++) {
        zn_jute_put_int(w, acl->data[i].perms);
        zn_jute_put_string(w, acl->data[i].scheme);
        zn_jute_put_string(w, acl->data[i].id);
    }
}

static bool mode_sequential(int mode)
{
    return mode == ZN_PERSISTENT_SEQUENTIAL || mode == ZN_EPHEMERAL_SEQUENTIAL ||
           mode == ZN_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

static bool mode_ttl(int mode)
{
    return mode == ZN_PERSISTENT_WITH_TTL || mode == ZN_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

/* ZooKeeper's EphemeralType.MAX_TTL (40 bits of milliseconds). */
#define TTL_MAX_MS 0xFFFFFFFFFFll

static int check_create(zn_handle *zh, const char *value, int32_t len, int mode, int64_t ttl)
{
    if (mode < ZN_PERSISTENT || mode > ZN_PERSISTENT_SEQUENTIAL_WITH_TTL)
        return ZN_EBADARGUMENTS;
    if (mode_ttl(mode) ? (ttl <= 0 || ttl > TTL_MAX_MS) : ttl != 0)
        return ZN_EBADARGUMENTS;
    return check_data(zh, value, len);
}

static int32_t create_opcode(int mode)
{
    if (mode == ZN_CONTAINER)
        return ZN_ZK_OP_CREATECONTAINER;
    if (mode_ttl(mode))
        return ZN_ZK_OP_CREATETTL;
    return ZN_ZK_OP_CREATE2;
}

static void put_create_body(struct zn_jute_writer *w, const char *spath, const char *value,
                            int32_t len, const struct zn_acl_vec *acl, int mode, int64_t ttl)
{
    zn_jute_put_string(w, spath);
    zn_jute_put_buffer(w, data_bytes(value, len));
    put_acl(w, acl);
    zn_jute_put_int(w, mode);
    if (mode_ttl(mode))
        zn_jute_put_long(w, ttl);
}

static int set_watch(struct zn_req *r, const char *spath, enum zn_wkind kind, zn_watcher_fn fn,
                     void *ctx)
{
    r->path = strdup(spath);
    if (r->path == NULL)
        return ZN_ENOMEM;
    r->wkind = kind;
    r->wfn = fn;
    r->wctx = ctx;
    return 0;
}

/* ---- async calls ------------------------------------------------------------------------- */

int zn_acreate(zn_handle *zh, const char *path, const char *value, int32_t value_len,
               const struct zn_acl_vec *acl, int mode, int64_t ttl_ms,
               zn_string_stat_completion completion, const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = check_create(zh, value, value_len, mode, ttl_ms)) != 0 ||
        (rc = server_path(zh, path, mode_sequential(mode), sp)) != 0)
        return rc;
    long asz = acl_size(acl);
    if (asz < 0)
        return (int)asz;
    struct zn_build b;
    if ((rc = build_begin(&b, create_opcode(mode),
                          4 + strlen(sp) + 4 + (value_len > 0 ? (size_t)value_len : 0) +
                              (size_t)asz + 4 + 8)) != 0)
        return rc;
    put_create_body(&b.w, sp, value, value_len, acl, mode, ttl_ms);
    b.r->rtype = ZN_R_CREATE;
    b.r->cb.string_stat = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

int zn_adelete(zn_handle *zh, const char *path, int32_t version, zn_void_completion completion,
               const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = server_path(zh, path, false, sp)) != 0)
        return rc;
    if (version < -1)
        return ZN_EBADARGUMENTS;
    struct zn_build b;
    if ((rc = build_begin(&b, ZN_ZK_OP_DELETE, 4 + strlen(sp) + 4)) != 0)
        return rc;
    zn_jute_put_string(&b.w, sp);
    zn_jute_put_int(&b.w, version);
    b.r->rtype = ZN_R_VOID;
    b.r->cb.v = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

/* exists / getData / getChildren / getChildren2 with an optional watch. */
static int read_call(zn_handle *zh, int32_t op, enum zn_rtype rtype, const char *path, bool watch,
                     enum zn_wkind kind, zn_watcher_fn fn, void *ctx, void (*cb)(void),
                     const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = server_path(zh, path, false, sp)) != 0)
        return rc;
    struct zn_build b;
    if ((rc = build_begin(&b, op, 4 + strlen(sp) + 1)) != 0)
        return rc;
    zn_jute_put_string(&b.w, sp);
    zn_jute_put_bool(&b.w, watch);
    b.r->rtype = rtype;
    b.r->cb.any = cb;
    b.r->cb_data = data;
    b.r->is_read = true;
    if (watch && (rc = set_watch(b.r, sp, kind, fn, ctx)) != 0) {
        zn_req_free(b.r);
        return rc;
    }
    return build_finish(zh, &b);
}

int zn_aexists(zn_handle *zh, const char *path, int watch, zn_stat_completion completion,
               const void *data)
{
    return read_call(zh, ZN_ZK_OP_EXISTS, ZN_R_EXISTS, path, watch != 0, ZN_WK_DATA, NULL, NULL,
                     (void (*)(void))completion, data);
}

int zn_awexists(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                zn_stat_completion completion, const void *data)
{
    return read_call(zh, ZN_ZK_OP_EXISTS, ZN_R_EXISTS, path, watcher != NULL, ZN_WK_DATA, watcher,
                     ctx, (void (*)(void))completion, data);
}

int zn_aget(zn_handle *zh, const char *path, int watch, zn_data_completion completion,
            const void *data)
{
    return read_call(zh, ZN_ZK_OP_GETDATA, ZN_R_DATA, path, watch != 0, ZN_WK_DATA, NULL, NULL,
                     (void (*)(void))completion, data);
}

int zn_awget(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
             zn_data_completion completion, const void *data)
{
    return read_call(zh, ZN_ZK_OP_GETDATA, ZN_R_DATA, path, watcher != NULL, ZN_WK_DATA, watcher,
                     ctx, (void (*)(void))completion, data);
}

int zn_aget_children(zn_handle *zh, const char *path, int watch, zn_strings_completion completion,
                     const void *data)
{
    return read_call(zh, ZN_ZK_OP_GETCHILDREN, ZN_R_STRINGS, path, watch != 0, ZN_WK_CHILD, NULL,
                     NULL, (void (*)(void))completion, data);
}

int zn_awget_children(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                      zn_strings_completion completion, const void *data)
{
    return read_call(zh, ZN_ZK_OP_GETCHILDREN, ZN_R_STRINGS, path, watcher != NULL, ZN_WK_CHILD,
                     watcher, ctx, (void (*)(void))completion, data);
}

int zn_aget_children2(zn_handle *zh, const char *path, int watch,
                      zn_strings_stat_completion completion, const void *data)
{
    return read_call(zh, ZN_ZK_OP_GETCHILDREN2, ZN_R_STRINGS_STAT, path, watch != 0, ZN_WK_CHILD,
                     NULL, NULL, (void (*)(void))completion, data);
}

int zn_awget_children2(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                       zn_strings_stat_completion completion, const void *data)
{
    return read_call(zh, ZN_ZK_OP_GETCHILDREN2, ZN_R_STRINGS_STAT, path, watcher != NULL,
                     ZN_WK_CHILD, watcher, ctx, (void (*)(void))completion, data);
}

int zn_aset(zn_handle *zh, const char *path, const char *value, int32_t value_len, int32_t version,
            zn_stat_completion completion, const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = server_path(zh, path, false, sp)) != 0 ||
        (rc = check_data(zh, value, value_len)) != 0)
        return rc;
    if (version < -1)
        return ZN_EBADARGUMENTS;
    struct zn_build b;
    if ((rc = build_begin(&b, ZN_ZK_OP_SETDATA,
                          4 + strlen(sp) + 4 + (value_len > 0 ? (size_t)value_len : 0) + 4)) != 0)
        return rc;
    zn_jute_put_string(&b.w, sp);
    zn_jute_put_buffer(&b.w, data_bytes(value, value_len));
    zn_jute_put_int(&b.w, version);
    b.r->rtype = ZN_R_STAT;
    b.r->cb.stat = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

/* Calls whose body is a single path. */
static int path_call(zn_handle *zh, int32_t op, enum zn_rtype rtype, const char *path, bool prefix,
                     bool is_read, void (*cb)(void), const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = server_path(zh, path, prefix, sp)) != 0)
        return rc;
    struct zn_build b;
    if ((rc = build_begin(&b, op, 4 + strlen(sp))) != 0)
        return rc;
    zn_jute_put_string(&b.w, sp);
    b.r->rtype = rtype;
    b.r->cb.any = cb;
    b.r->cb_data = data;
    b.r->is_read = is_read;
    return build_finish(zh, &b);
}

int zn_aget_acl(zn_handle *zh, const char *path, zn_acl_completion completion, const void *data)
{
    return path_call(zh, ZN_ZK_OP_GETACL, ZN_R_ACL, path, false, true, (void (*)(void))completion,
                     data);
}

int zn_async(zn_handle *zh, const char *path, zn_string_completion completion, const void *data)
{
    return path_call(zh, ZN_ZK_OP_SYNC, ZN_R_SYNC, path, false, false, (void (*)(void))completion,
                     data);
}

int zn_aget_ephemerals(zn_handle *zh, const char *prefix, zn_strings_completion completion,
                       const void *data)
{
    return path_call(zh, ZN_ZK_OP_GETEPHEMERALS, ZN_R_EPHEMERALS, prefix, true, true,
                     (void (*)(void))completion, data);
}

int zn_aget_all_children_number(zn_handle *zh, const char *path, zn_int_completion completion,
                                const void *data)
{
    return path_call(zh, ZN_ZK_OP_GETALLCHILDRENNUMBER, ZN_R_INT, path, false, true,
                     (void (*)(void))completion, data);
}

int zn_aset_acl(zn_handle *zh, const char *path, int32_t version, const struct zn_acl_vec *acl,
                zn_void_completion completion, const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = server_path(zh, path, false, sp)) != 0)
        return rc;
    if (version < -1)
        return ZN_EBADARGUMENTS;
    long asz = acl_size(acl);
    if (asz < 0)
        return (int)asz;
    struct zn_build b;
    if ((rc = build_begin(&b, ZN_ZK_OP_SETACL, 4 + strlen(sp) + (size_t)asz + 4)) != 0)
        return rc;
    zn_jute_put_string(&b.w, sp);
    put_acl(&b.w, acl);
    zn_jute_put_int(&b.w, version);
    b.r->rtype = ZN_R_VOID; /* SetACLResponse{stat} is ignored, as zoo_aset_acl does */
    b.r->cb.v = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

static int multi_call(zn_handle *zh, bool read, int count, const struct zn_op *ops,
                      zn_multi_completion completion, const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    if (count < 0 || (count > 0 && ops == NULL))
        return ZN_EBADARGUMENTS;
    if ((uint32_t)count > ZN_MULTI_OPS_MAX)
        return ZN_ELIMIT;
    /* Check every op and size the body. */
    size_t cap = 12; /* end marker */
    for (int i = 0; i < count; i++) {
        const struct zn_op *op = &ops[i];
        bool ok_type = read ? (op->type == ZN_OP_GET || op->type == ZN_OP_CHILDREN)
                            : (op->type == ZN_OP_CREATE || op->type == ZN_OP_DELETE ||
                               op->type == ZN_OP_SET || op->type == ZN_OP_CHECK);
        if (!ok_type)
            return ZN_EBADARGUMENTS;
        bool seq = op->type == ZN_OP_CREATE && mode_sequential(op->mode);
        int prc = zn_path_validate(op->path, seq);
        if (prc != 0)
            return prc;
        cap += 12 + 4 + strlen(op->path) + zh->chroot_len + 4 + 8;
        if (op->type == ZN_OP_CREATE) {
            if ((rc = check_create(zh, op->data, op->data_len, op->mode, op->ttl_ms)) != 0)
                return rc;
            long asz = acl_size(op->acl);
            if (asz < 0)
                return (int)asz;
            cap += (size_t)asz + 4 + (op->data_len > 0 ? (size_t)op->data_len : 0) + 8;
        } else if (op->type == ZN_OP_SET) {
            if ((rc = check_data(zh, op->data, op->data_len)) != 0)
                return rc;
            cap += 4 + (op->data_len > 0 ? (size_t)op->data_len : 0);
        }
        if ((op->type == ZN_OP_DELETE || op->type == ZN_OP_SET || op->type == ZN_OP_CHECK) &&
            op->version < -1)
            return ZN_EBADARGUMENTS;
        if (cap > ZN_MSG_SIZE_MAX_BYTES)
            return ZN_ELIMIT;
    }
    struct zn_build b;
    if ((rc = build_begin(&b, read ? ZN_ZK_OP_MULTIREAD : ZN_ZK_OP_MULTI, cap)) != 0)
        return rc;
    for (int i = 0; i < count; i++) {
        const struct zn_op *op = &ops[i];
        char sp[ZN_PATH_LEN_MAX + 1];
        if ((rc = zn_path_to_server(zh, op->path, sp, sizeof(sp))) != 0) {
            zn_req_free(b.r);
            return rc;
        }
        int32_t type = op->type == ZN_OP_CREATE ? create_opcode(op->mode) : op->type;
        zn_jute_put_int(&b.w, type);
        zn_jute_put_bool(&b.w, false);
        zn_jute_put_int(&b.w, -1);
        switch (op->type) {
        case ZN_OP_CREATE:
            put_create_body(&b.w, sp, op->data, op->data_len, op->acl, op->mode, op->ttl_ms);
            break;
        case ZN_OP_DELETE:
        case ZN_OP_CHECK:
            zn_jute_put_string(&b.w, sp);
            zn_jute_put_int(&b.w, op->version);
            break;
        case ZN_OP_SET:
            zn_jute_put_string(&b.w, sp);
            zn_jute_put_buffer(&b.w, data_bytes(op->data, op->data_len));
            zn_jute_put_int(&b.w, op->version);
            break;
        default: /* GET, CHILDREN: path + watch=false */
            zn_jute_put_string(&b.w, sp);
            zn_jute_put_bool(&b.w, false);
            break;
        }
    }
    zn_jute_put_int(&b.w, -1);
    zn_jute_put_bool(&b.w, true);
    zn_jute_put_int(&b.w, -1);
    b.r->rtype = read ? ZN_R_MULTI_READ : ZN_R_MULTI;
    b.r->multi_count = count;
    b.r->is_read = read;
    b.r->cb.multi = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

int zn_amulti(zn_handle *zh, int count, const struct zn_op *ops, zn_multi_completion completion,
              const void *data)
{
    return multi_call(zh, false, count, ops, completion, data);
}

int zn_amulti_read(zn_handle *zh, int count, const struct zn_op *ops,
                   zn_multi_completion completion, const void *data)
{
    return multi_call(zh, true, count, ops, completion, data);
}

/* checkWatches / removeWatches / addWatch: path + int. */
static int watch_call(zn_handle *zh, int32_t op, const char *path, int type, struct zn_build *b)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    char sp[ZN_PATH_LEN_MAX + 1];
    if ((rc = server_path(zh, path, false, sp)) != 0)
        return rc;
    if ((rc = build_begin(b, op, 4 + strlen(sp) + 4)) != 0)
        return rc;
    zn_jute_put_string(&b->w, sp);
    zn_jute_put_int(&b->w, type);
    b->r->path = strdup(sp);
    if (b->r->path == NULL) {
        zn_req_free(b->r);
        return ZN_ENOMEM;
    }
    return 0;
}

int zn_aadd_watch(zn_handle *zh, const char *path, int mode, zn_watcher_fn watcher, void *ctx,
                  zn_void_completion completion, const void *data)
{
    if (mode != ZN_WATCH_PERSISTENT && mode != ZN_WATCH_PERSISTENT_RECURSIVE)
        return ZN_EBADARGUMENTS;
    struct zn_build b;
    int rc = watch_call(zh, ZN_ZK_OP_ADDWATCH, path, mode, &b);
    if (rc != 0)
        return rc;
    b.r->wkind = mode == ZN_WATCH_PERSISTENT ? ZN_WK_PERSISTENT : ZN_WK_RECURSIVE;
    b.r->wfn = watcher;
    b.r->wctx = ctx;
    b.r->rtype = ZN_R_VOID;
    b.r->cb.v = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

int zn_aremove_watches(zn_handle *zh, const char *path, int type, zn_watcher_fn watcher, void *ctx,
                       int local, zn_void_completion completion, const void *data)
{
    if (type < ZN_WATCHER_CHILDREN || type > ZN_WATCHER_ANY)
        return ZN_EBADARGUMENTS;
    struct zn_build b;
    int rc = watch_call(zh, ZN_ZK_OP_REMOVEWATCHES, path, type, &b);
    if (rc != 0)
        return rc;
    b.r->wtype = type;
    b.r->wfn = watcher;
    b.r->wctx = ctx;
    b.r->wany_fn = watcher == NULL;
    b.r->wlocal = local != 0;
    b.r->rtype = ZN_R_VOID;
    b.r->cb.v = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

int zn_acheck_watches(zn_handle *zh, const char *path, int type, zn_void_completion completion,
                      const void *data)
{
    if (type < ZN_WATCHER_CHILDREN || type > ZN_WATCHER_ANY)
        return ZN_EBADARGUMENTS;
    struct zn_build b;
    int rc = watch_call(zh, ZN_ZK_OP_CHECKWATCHES, path, type, &b);
    if (rc != 0)
        return rc;
    b.r->rtype = ZN_R_VOID;
    b.r->cb.v = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

int zn_aadd_auth(zn_handle *zh, const char *scheme, const char *cert, int32_t cert_len,
                 zn_void_completion completion, const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    if (scheme == NULL || scheme[0] == '\0' || strlen(scheme) > ZN_PATH_LEN_MAX ||
        (cert == NULL && cert_len > 0) || cert_len < 0)
        return ZN_EBADARGUMENTS;
    /* Kept for re-sending after a reconnect (client.c): bounded (common/zn_limits.h); the
     * number of identities is checked when the call is queued. */
    if (cert_len > zh->opts.data_bytes_max || (uint32_t)cert_len > ZN_CLIENT_AUTH_CRED_MAX_BYTES ||
        strlen(scheme) > ZN_CLIENT_AUTH_SCHEME_MAX_BYTES)
        return ZN_ELIMIT;
    struct zn_build b;
    if ((rc = build_begin(&b, ZN_ZK_OP_AUTH, 4 + 4 + strlen(scheme) + 4 + (size_t)cert_len)) != 0)
        return rc;
    zn_jute_put_int(&b.w, 0);
    zn_jute_put_string(&b.w, scheme);
    zn_jute_put_buffer(&b.w, zn_bytes_make(cert ? cert : "", (size_t)cert_len));
    b.r->rtype = ZN_R_VOID;
    b.r->cb.v = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

int zn_awhoami(zn_handle *zh, zn_whoami_completion completion, const void *data)
{
    int rc = check_handle(zh);
    if (rc != 0)
        return rc;
    struct zn_build b;
    if ((rc = build_begin(&b, ZN_ZK_OP_WHOAMI, 0)) != 0)
        return rc;
    b.r->rtype = ZN_R_WHOAMI;
    b.r->cb.whoami = completion;
    b.r->cb_data = data;
    return build_finish(zh, &b);
}

/* ---- internal requests (I/O thread) ------------------------------------------------------ */

struct zn_req *zn_ops_close_session(void)
{
    struct zn_build b;
    if (build_begin(&b, ZN_ZK_OP_CLOSESESSION, 0) != 0)
        return NULL;
    b.r->msg_len = (uint32_t)(ZN_SESS_HDR_BYTES + b.w.len);
    return b.r;
}

struct watch_lists {
    struct zn_jute_writer *w;
    enum zn_wkind kind;
    int32_t count;
    bool sizing;
    size_t bytes;
};

static void visit_list(const struct zn_watch *wt, void *arg)
{
    struct watch_lists *l = arg;
    if (wt->kind != l->kind)
        return;
    l->count++;
    if (l->sizing)
        l->bytes += 4 + strlen(wt->path);
    else
        zn_jute_put_string(l->w, wt->path);
}

/*
 * setWatches2{relativeZxid, dataWatches, existWatches, childWatches, persistentWatches,
 * persistentRecursiveWatches}: every path once per kind (the registry may hold several
 * watchers on one path; duplicates are harmless for the node but cost bytes, so they are
 * written as they come - the node treats the vectors as sets).
 */
struct zn_req *zn_ops_set_watches(zn_handle *zh)
{
    if (zh->watches.count == 0)
        return NULL;
    static const enum zn_wkind kinds[5] = {ZN_WK_DATA, ZN_WK_EXIST, ZN_WK_CHILD, ZN_WK_PERSISTENT,
                                           ZN_WK_RECURSIVE};
    size_t cap = 8;
    for (int k = 0; k < 5; k++) {
        struct watch_lists l = {.kind = kinds[k], .sizing = true};
        zn_watch_visit(&zh->watches, visit_list, &l);
        cap += 4 + l.bytes;
    }
    if (cap > ZN_MSG_SIZE_MAX_BYTES - 64) {
        ZN_ERROR("client", "watches too many to re-register in one message (%zu bytes)", cap);
        return NULL;
    }
    struct zn_build b;
    if (build_begin(&b, ZN_ZK_OP_SETWATCHES2, cap) != 0)
        return NULL;
    zn_jute_put_long(&b.w, (int64_t)zh->last_zxid);
    for (int k = 0; k < 5; k++) {
        size_t at = b.w.len;
        zn_jute_put_int(&b.w, 0);
        struct watch_lists l = {.w = &b.w, .kind = kinds[k]};
        zn_watch_visit(&zh->watches, visit_list, &l);
        zn_jute_patch_int(&b.w, at, l.count);
    }
    ZN_ASSERT(b.w.err == 0);
    b.r->msg_len = (uint32_t)(ZN_SESS_HDR_BYTES + b.w.len);
    b.r->rtype = ZN_R_INTERNAL;
    b.r->delivered = true; /* nobody waits for it; it keeps its place in the seq order */
    return b.r;
}

/* ---- reply decoding and completion dispatch (I/O thread) --------------------------------- */

static bool get_strings(struct zn_jute_reader *rd, const zn_handle *zh, bool strip,
                        struct zn_strings *out)
{
    struct zn_zk_vec v;
    out->count = 0;
    out->data = NULL;
    zn_zk_get_string_vec(rd, (int32_t)ZN_MSG_SIZE_MAX_BYTES, &v);
    if (rd->err)
        return false;
    out->data = calloc((size_t)v.count + 1, sizeof(char *));
    if (out->data == NULL)
        return false;
    struct zn_zk_vec_iter it;
    zn_zk_vec_iter_init(&it, &v);
    struct zn_bytes s;
    while (zn_zk_vec_next_string(&it, &s)) {
        char *str = zn_bytes_dup(s);
        if (str == NULL) {
            zn_strings_free(out);
            return false;
        }
        if (strip) {
            const char *rel = zn_path_from_server(zh, str);
            if (rel == NULL) {
                free(str);
                continue;
            }
            if (rel != str) {
                char *c = strdup(rel);
                free(str);
                if (c == NULL) {
                    zn_strings_free(out);
                    return false;
                }
                str = c;
            }
        }
        out->data[out->count++] = str;
    }
    return true;
}

static char *get_path_stripped(struct zn_jute_reader *rd, const zn_handle *zh)
{
    struct zn_bytes b = zn_jute_get_buffer(rd, (int32_t)ZN_PATH_LEN_MAX);
    if (rd->err || b.len < 0)
        return NULL;
    char *s = zn_bytes_dup(b);
    if (s == NULL)
        return NULL;
    const char *rel = zn_path_from_server(zh, s);
    if (rel != NULL && rel != s) {
        char *c = strdup(rel);
        free(s);
        return c;
    }
    return s;
}

static bool get_acl(struct zn_jute_reader *rd, struct zn_acl_vec *out)
{
    struct zn_zk_vec v;
    out->count = 0;
    out->data = NULL;
    zn_zk_get_acl_vec(rd, 1 << 20, &v);
    if (rd->err)
        return false;
    out->data = calloc((size_t)v.count + 1, sizeof(*out->data));
    if (out->data == NULL)
        return false;
    struct zn_zk_vec_iter it;
    zn_zk_vec_iter_init(&it, &v);
    struct zn_zk_acl a;
    while (zn_zk_vec_next_acl(&it, &a)) {
        struct zn_acl *d = &out->data[out->count++];
        d->perms = a.perms;
        d->scheme = zn_bytes_dup(a.scheme);
        d->id = zn_bytes_dup(a.id);
        if (d->scheme == NULL || d->id == NULL) {
            zn_acl_vec_free(out);
            return false;
        }
    }
    return true;
}

/* Decode multi/multiRead results into res[count]. Returns 0 or ZN_EMARSHALLING/ZN_ENOMEM. */
static int get_multi(struct zn_jute_reader *rd, const zn_handle *zh, int count,
                     struct zn_op_result *res)
{
    for (int i = 0;; i++) {
        int32_t type = zn_jute_get_int(rd);
        bool done = zn_jute_get_bool(rd);
        int32_t err = zn_jute_get_int(rd);
        if (rd->err)
            return ZN_EMARSHALLING;
        if (done)
            return i == count ? 0 : ZN_EMARSHALLING;
        if (i >= count)
            return ZN_EMARSHALLING;
        struct zn_op_result *o = &res[i];
        (void)err;
        switch (type) {
        case ZN_ZK_OP_CREATE:
            if ((o->path = get_path_stripped(rd, zh)) == NULL)
                return ZN_EMARSHALLING;
            break;
        case ZN_ZK_OP_CREATE2:
        case ZN_ZK_OP_CREATETTL:
        case ZN_ZK_OP_CREATECONTAINER: {
            if ((o->path = get_path_stripped(rd, zh)) == NULL)
                return ZN_EMARSHALLING;
            struct zn_zk_stat st;
            zn_zk_get_stat(rd, &st);
            zn_stat_from_zk(&o->stat, &st);
            break;
        }
        case ZN_ZK_OP_DELETE:
        case ZN_ZK_OP_CHECK:
            break;
        case ZN_ZK_OP_SETDATA: {
            struct zn_zk_stat st;
            zn_zk_get_stat(rd, &st);
            zn_stat_from_zk(&o->stat, &st);
            break;
        }
        case ZN_ZK_OP_GETDATA: {
            struct zn_bytes d = zn_jute_get_buffer(rd, (int32_t)ZN_MSG_SIZE_MAX_BYTES);
            struct zn_zk_stat st;
            zn_zk_get_stat(rd, &st);
            if (rd->err)
                return ZN_EMARSHALLING;
            o->data_len = d.len;
            if (d.len >= 0 && (o->data = zn_bytes_dup(d)) == NULL)
                return ZN_ENOMEM;
            zn_stat_from_zk(&o->stat, &st);
            break;
        }
        case ZN_ZK_OP_GETCHILDREN:
            if (!get_strings(rd, zh, false, &o->children))
                return ZN_EMARSHALLING;
            break;
        case ZN_ZK_OP_ERROR: {
            int32_t e = zn_jute_get_int(rd);
            o->err = e == 0 ? 0 : zn_err_from_zk(e);
            break;
        }
        default:
            return ZN_EMARSHALLING;
        }
        if (rd->err)
            return ZN_EMARSHALLING;
    }
}

void zn_ops_complete(zn_handle *zh, struct zn_req *r)
{
    int rc = r->rc;
    struct zn_jute_reader rd;
    zn_jute_reader_init(&rd, r->reply, r->reply ? r->reply_len : 0);
    bool ok = rc == 0 && r->answered;

    /* removeWatches succeeded (or local): drop the client's watchers, telling each. */
    if (r->op == ZN_ZK_OP_REMOVEWATCHES && rc == 0)
        (void)zn_watch_remove(zh, r->path, r->wtype, r->wfn, r->wctx, r->wany_fn);

    switch (r->rtype) {
    case ZN_R_INTERNAL:
        if (rc != 0)
            ZN_WARN("client", "%s failed: %s", zn_zk_op_name(r->op), zn_strerror(rc));
        return;
    case ZN_R_VOID:
        if (r->cb.v)
            r->cb.v(rc, r->cb_data);
        return;
    case ZN_R_STAT:
    case ZN_R_EXISTS: {
        struct zn_stat st;
        if (ok) {
            struct zn_zk_stat zs;
            zn_zk_get_stat(&rd, &zs);
            zn_stat_from_zk(&st, &zs);
            if (rd.err)
                rc = ZN_EMARSHALLING, ok = false;
        }
        if (r->cb.stat)
            r->cb.stat(rc, ok ? &st : NULL, r->cb_data);
        return;
    }
    case ZN_R_DATA: {
        struct zn_bytes d = ZN_BYTES_NULL;
        struct zn_stat st;
        if (ok) {
            struct zn_zk_stat zs;
            d = zn_jute_get_buffer(&rd, (int32_t)ZN_MSG_SIZE_MAX_BYTES);
            zn_zk_get_stat(&rd, &zs);
            zn_stat_from_zk(&st, &zs);
            if (rd.err)
                rc = ZN_EMARSHALLING, ok = false;
        }
        if (r->cb.data)
            r->cb.data(rc, ok ? (const char *)d.ptr : NULL, ok ? d.len : -1, ok ? &st : NULL,
                       r->cb_data);
        return;
    }
    case ZN_R_STRINGS:
    case ZN_R_EPHEMERALS:
    case ZN_R_STRINGS_STAT: {
        struct zn_strings s = {0, NULL};
        struct zn_stat st;
        if (ok) {
            if (!get_strings(&rd, zh, r->rtype == ZN_R_EPHEMERALS, &s))
                rc = ZN_EMARSHALLING, ok = false;
            else if (r->rtype == ZN_R_STRINGS_STAT) {
                struct zn_zk_stat zs;
                zn_zk_get_stat(&rd, &zs);
                zn_stat_from_zk(&st, &zs);
                if (rd.err)
                    rc = ZN_EMARSHALLING, ok = false;
            }
        }
        if (r->rtype == ZN_R_STRINGS_STAT) {
            if (r->cb.strings_stat)
                r->cb.strings_stat(rc, ok ? &s : NULL, ok ? &st : NULL, r->cb_data);
        } else if (r->cb.strings) {
            r->cb.strings(rc, ok ? &s : NULL, r->cb_data);
        }
        zn_strings_free(&s);
        return;
    }
    case ZN_R_CREATE:
    case ZN_R_SYNC: {
        char *path = NULL;
        struct zn_stat st;
        if (ok) {
            path = get_path_stripped(&rd, zh);
            if (r->rtype == ZN_R_CREATE) {
                struct zn_zk_stat zs;
                zn_zk_get_stat(&rd, &zs);
                zn_stat_from_zk(&st, &zs);
            }
            if (path == NULL || rd.err)
                rc = ZN_EMARSHALLING, ok = false;
        }
        if (r->rtype == ZN_R_CREATE) {
            if (r->cb.string_stat)
                r->cb.string_stat(rc, ok ? path : NULL, ok ? &st : NULL, r->cb_data);
        } else if (r->cb.string) {
            r->cb.string(rc, ok ? path : NULL, r->cb_data);
        }
        free(path);
        return;
    }
    case ZN_R_ACL: {
        struct zn_acl_vec acl = {0, NULL};
        struct zn_stat st;
        if (ok) {
            struct zn_zk_stat zs;
            bool good = get_acl(&rd, &acl);
            zn_zk_get_stat(&rd, &zs);
            zn_stat_from_zk(&st, &zs);
            if (!good || rd.err)
                rc = ZN_EMARSHALLING, ok = false;
        }
        if (r->cb.acl)
            r->cb.acl(rc, ok ? &acl : NULL, ok ? &st : NULL, r->cb_data);
        zn_acl_vec_free(&acl);
        return;
    }
    case ZN_R_INT: {
        int32_t v = 0;
        if (ok) {
            v = zn_jute_get_int(&rd);
            if (rd.err)
                rc = ZN_EMARSHALLING, ok = false;
        }
        if (r->cb.i)
            r->cb.i(rc, v, r->cb_data);
        return;
    }
    case ZN_R_MULTI:
    case ZN_R_MULTI_READ: {
        int n = r->multi_count;
        struct zn_op_result *res = calloc((size_t)n + 1, sizeof(*res));
        if (res == NULL) {
            rc = ZN_ENOMEM;
        } else if (r->answered && r->reply_len > 0) {
            int prc = get_multi(&rd, zh, n, res);
            if (prc != 0) {
                rc = prc;
            } else if (r->rtype == ZN_R_MULTI && rc == 0) {
                for (int i = 0; i < n; i++) {
                    if (res[i].err != 0) {
                        rc = res[i].err;
                        break;
                    }
                }
            }
        } else if (rc != 0) {
            for (int i = 0; i < n; i++)
                res[i].err = rc;
        }
        if (r->cb.multi)
            r->cb.multi(rc, res ? n : 0, res, r->cb_data);
        zn_op_results_free(res, res ? n : 0);
        free(res);
        return;
    }
    case ZN_R_WHOAMI: {
        struct zn_client_infos infos = {0, NULL};
        if (ok) {
            int32_t cnt = zn_jute_get_count(&rd, 8);
            infos.data = rd.err ? NULL : calloc((size_t)cnt + 1, sizeof(*infos.data));
            if (infos.data == NULL) {
                rc = ZN_EMARSHALLING, ok = false;
            } else {
                for (int32_t i = 0; i < cnt && !rd.err; i++) {
                    struct zn_bytes s = zn_jute_get_buffer(&rd, (int32_t)ZN_PATH_LEN_MAX);
                    struct zn_bytes u = zn_jute_get_buffer(&rd, (int32_t)ZN_PATH_LEN_MAX);
                    if (rd.err)
                        break;
                    infos.data[i].scheme = zn_bytes_dup(s);
                    infos.data[i].user = zn_bytes_dup(u);
                    infos.count++;
                }
                if (rd.err)
                    rc = ZN_EMARSHALLING, ok = false;
            }
        }
        if (r->cb.whoami)
            r->cb.whoami(rc, ok ? &infos : NULL, r->cb_data);
        zn_client_infos_free(&infos);
        return;
    }
    }
}

/* ---- sync wrappers ----------------------------------------------------------------------- */

struct zn_sync_call {
    zn_handle *zh;
    pthread_cond_t cv;
    bool done;
    int rc;
    struct zn_stat *stat;
    char *buf;
    int32_t *buf_len;
    char *path_buf;
    int path_buf_len;
    struct zn_strings *strings;
    struct zn_acl_vec *acl;
    int32_t *number;
    struct zn_op_result *results;
    int count;
    struct zn_client_infos *infos;
};

static int sync_begin(zn_handle *zh, struct zn_sync_call *s)
{
    memset(s, 0, sizeof(*s));
    if (zh == NULL)
        return ZN_EBADARGUMENTS;
    if (zn_client_in_io_thread(zh))
        return ZN_EAPI;
    s->zh = zh;
    pthread_cond_init(&s->cv, NULL);
    return 0;
}

static int sync_wait(struct zn_sync_call *s, int submit_rc)
{
    if (submit_rc == 0) {
        pthread_mutex_lock(&s->zh->mu);
        while (!s->done)
            pthread_cond_wait(&s->cv, &s->zh->mu);
        pthread_mutex_unlock(&s->zh->mu);
    }
    pthread_cond_destroy(&s->cv);
    return submit_rc != 0 ? submit_rc : s->rc;
}

/* Must be the last thing a sync completion does: the waiter may return right after. */
static void sync_done(struct zn_sync_call *s, int rc)
{
    pthread_mutex_lock(&s->zh->mu);
    s->rc = rc;
    s->done = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->zh->mu);
}

static struct zn_sync_call *S(const void *data)
{
    return (struct zn_sync_call *)(uintptr_t)data;
}

static void s_void(int rc, const void *data)
{
    sync_done(S(data), rc);
}

static void s_stat(int rc, const struct zn_stat *stat, const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0 && s->stat && stat)
        *s->stat = *stat;
    sync_done(s, rc);
}

static void s_data(int rc, const char *value, int32_t len, const struct zn_stat *stat,
                   const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0) {
        if (s->buf_len) {
            if (len < 0) {
                *s->buf_len = -1;
            } else {
                int32_t n = len < *s->buf_len ? len : *s->buf_len;
                if (n > 0 && s->buf)
                    memcpy(s->buf, value, (size_t)n);
                *s->buf_len = s->buf ? n : 0;
            }
        }
        if (s->stat)
            *s->stat = *stat;
    }
    sync_done(s, rc);
}

static int strings_copy(struct zn_strings *dst, const struct zn_strings *src)
{
    dst->count = 0;
    dst->data = calloc((size_t)src->count + 1, sizeof(char *));
    if (dst->data == NULL)
        return ZN_ENOMEM;
    for (int32_t i = 0; i < src->count; i++) {
        dst->data[i] = strdup(src->data[i]);
        if (dst->data[i] == NULL) {
            zn_strings_free(dst);
            return ZN_ENOMEM;
        }
        dst->count++;
    }
    return 0;
}

static void s_strings(int rc, const struct zn_strings *strings, const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0 && s->strings)
        rc = strings_copy(s->strings, strings);
    sync_done(s, rc);
}

static void s_strings_stat(int rc, const struct zn_strings *strings, const struct zn_stat *stat,
                           const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0 && s->strings)
        rc = strings_copy(s->strings, strings);
    if (rc == 0 && s->stat)
        *s->stat = *stat;
    sync_done(s, rc);
}

static void s_create(int rc, const char *path, const struct zn_stat *stat, const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0) {
        if (s->path_buf && s->path_buf_len > 0) {
            size_t n = strlen(path);
            if (n >= (size_t)s->path_buf_len)
                n = (size_t)s->path_buf_len - 1;
            memcpy(s->path_buf, path, n);
            s->path_buf[n] = '\0';
        }
        if (s->stat)
            *s->stat = *stat;
    }
    sync_done(s, rc);
}

static void s_string(int rc, const char *value, const void *data)
{
    (void)value;
    sync_done(S(data), rc);
}

static void s_acl(int rc, const struct zn_acl_vec *acl, const struct zn_stat *stat,
                  const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0 && s->acl) {
        s->acl->count = 0;
        s->acl->data = calloc((size_t)acl->count + 1, sizeof(*s->acl->data));
        if (s->acl->data == NULL)
            rc = ZN_ENOMEM;
        for (int32_t i = 0; rc == 0 && i < acl->count; i++) {
            struct zn_acl *d = &s->acl->data[i];
            d->perms = acl->data[i].perms;
            d->scheme = strdup(acl->data[i].scheme);
            d->id = strdup(acl->data[i].id);
            s->acl->count++;
            if (d->scheme == NULL || d->id == NULL)
                rc = ZN_ENOMEM;
        }
        if (rc != 0)
            zn_acl_vec_free(s->acl);
    }
    if (rc == 0 && s->stat)
        *s->stat = *stat;
    sync_done(s, rc);
}

static void s_int(int rc, int32_t v, const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0 && s->number)
        *s->number = v;
    sync_done(s, rc);
}

static void s_multi(int rc, int count, const struct zn_op_result *results, const void *data)
{
    struct zn_sync_call *s = S(data);
    for (int i = 0; i < count && i < s->count; i++) {
        struct zn_op_result *d = &s->results[i];
        const struct zn_op_result *o = &results[i];
        memset(d, 0, sizeof(*d));
        d->err = o->err;
        d->stat = o->stat;
        d->data_len = o->data_len;
        if (o->path)
            d->path = strdup(o->path);
        if (o->data) {
            d->data = malloc((size_t)o->data_len + 1);
            if (d->data) {
                memcpy(d->data, o->data, (size_t)o->data_len);
                d->data[o->data_len] = '\0';
            }
        }
        if (o->children.data)
            (void)strings_copy(&d->children, &o->children);
    }
    sync_done(s, rc);
}

static void s_whoami(int rc, const struct zn_client_infos *infos, const void *data)
{
    struct zn_sync_call *s = S(data);
    if (rc == 0 && s->infos) {
        s->infos->count = 0;
        s->infos->data = calloc((size_t)infos->count + 1, sizeof(*s->infos->data));
        for (int32_t i = 0; s->infos->data && i < infos->count; i++) {
            s->infos->data[i].scheme = strdup(infos->data[i].scheme);
            s->infos->data[i].user = strdup(infos->data[i].user);
            s->infos->count++;
        }
    }
    sync_done(s, rc);
}

#define SYNC_RUN(call)            \
    struct zn_sync_call s;        \
    int brc = sync_begin(zh, &s); \
    if (brc != 0)                 \
        return brc;               \
    return sync_wait(&s, (call))

int zn_create(zn_handle *zh, const char *path, const char *value, int32_t value_len,
              const struct zn_acl_vec *acl, int mode, int64_t ttl_ms, char *path_buf,
              int path_buf_len, struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    s.path_buf = path_buf;
    s.path_buf_len = path_buf_len;
    s.stat = stat;
    return sync_wait(&s, zn_acreate(zh, path, value, value_len, acl, mode, ttl_ms, s_create, &s));
}

int zn_delete(zn_handle *zh, const char *path, int32_t version)
{
    SYNC_RUN(zn_adelete(zh, path, version, s_void, &s));
}

int zn_exists(zn_handle *zh, const char *path, int watch, struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    s.stat = stat;
    return sync_wait(&s, zn_aexists(zh, path, watch, s_stat, &s));
}

int zn_wexists(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
               struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    s.stat = stat;
    return sync_wait(&s, zn_awexists(zh, path, watcher, ctx, s_stat, &s));
}

int zn_get(zn_handle *zh, const char *path, int watch, char *buf, int32_t *buf_len,
           struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (buf_len != NULL && *buf_len < 0)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    s.buf = buf;
    s.buf_len = buf_len;
    s.stat = stat;
    return sync_wait(&s, zn_aget(zh, path, watch, s_data, &s));
}

int zn_wget(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx, char *buf,
            int32_t *buf_len, struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (buf_len != NULL && *buf_len < 0)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    s.buf = buf;
    s.buf_len = buf_len;
    s.stat = stat;
    return sync_wait(&s, zn_awget(zh, path, watcher, ctx, s_data, &s));
}

int zn_set(zn_handle *zh, const char *path, const char *value, int32_t value_len, int32_t version,
           struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    s.stat = stat;
    return sync_wait(&s, zn_aset(zh, path, value, value_len, version, s_stat, &s));
}

int zn_get_children(zn_handle *zh, const char *path, int watch, struct zn_strings *strings)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (strings == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(strings, 0, sizeof(*strings));
    s.strings = strings;
    return sync_wait(&s, zn_aget_children(zh, path, watch, s_strings, &s));
}

int zn_wget_children(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                     struct zn_strings *strings)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (strings == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(strings, 0, sizeof(*strings));
    s.strings = strings;
    return sync_wait(&s, zn_awget_children(zh, path, watcher, ctx, s_strings, &s));
}

int zn_get_children2(zn_handle *zh, const char *path, int watch, struct zn_strings *strings,
                     struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (strings == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(strings, 0, sizeof(*strings));
    s.strings = strings;
    s.stat = stat;
    return sync_wait(&s, zn_aget_children2(zh, path, watch, s_strings_stat, &s));
}

int zn_wget_children2(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                      struct zn_strings *strings, struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (strings == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(strings, 0, sizeof(*strings));
    s.strings = strings;
    s.stat = stat;
    return sync_wait(&s, zn_awget_children2(zh, path, watcher, ctx, s_strings_stat, &s));
}

int zn_get_acl(zn_handle *zh, const char *path, struct zn_acl_vec *acl, struct zn_stat *stat)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (acl == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(acl, 0, sizeof(*acl));
    s.acl = acl;
    s.stat = stat;
    return sync_wait(&s, zn_aget_acl(zh, path, s_acl, &s));
}

int zn_set_acl(zn_handle *zh, const char *path, int32_t version, const struct zn_acl_vec *acl)
{
    SYNC_RUN(zn_aset_acl(zh, path, version, acl, s_void, &s));
}

int zn_sync(zn_handle *zh, const char *path)
{
    SYNC_RUN(zn_async(zh, path, s_string, &s));
}

int zn_multi(zn_handle *zh, int count, const struct zn_op *ops, struct zn_op_result *results)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (count > 0 && results == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    if (count > 0)
        memset(results, 0, (size_t)count * sizeof(*results));
    s.results = results;
    s.count = count;
    return sync_wait(&s, zn_amulti(zh, count, ops, s_multi, &s));
}

int zn_multi_read(zn_handle *zh, int count, const struct zn_op *ops, struct zn_op_result *results)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (count > 0 && results == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    if (count > 0)
        memset(results, 0, (size_t)count * sizeof(*results));
    s.results = results;
    s.count = count;
    return sync_wait(&s, zn_amulti_read(zh, count, ops, s_multi, &s));
}

int zn_add_watch(zn_handle *zh, const char *path, int mode, zn_watcher_fn watcher, void *ctx)
{
    SYNC_RUN(zn_aadd_watch(zh, path, mode, watcher, ctx, s_void, &s));
}

int zn_remove_watches(zn_handle *zh, const char *path, int type, zn_watcher_fn watcher, void *ctx,
                      int local)
{
    SYNC_RUN(zn_aremove_watches(zh, path, type, watcher, ctx, local, s_void, &s));
}

int zn_check_watches(zn_handle *zh, const char *path, int type)
{
    SYNC_RUN(zn_acheck_watches(zh, path, type, s_void, &s));
}

int zn_get_ephemerals(zn_handle *zh, const char *prefix, struct zn_strings *paths)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (paths == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(paths, 0, sizeof(*paths));
    s.strings = paths;
    return sync_wait(&s, zn_aget_ephemerals(zh, prefix, s_strings, &s));
}

int zn_get_all_children_number(zn_handle *zh, const char *path, int32_t *number)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    s.number = number;
    return sync_wait(&s, zn_aget_all_children_number(zh, path, s_int, &s));
}

int zn_add_auth(zn_handle *zh, const char *scheme, const char *cert, int32_t cert_len)
{
    SYNC_RUN(zn_aadd_auth(zh, scheme, cert, cert_len, s_void, &s));
}

int zn_whoami(zn_handle *zh, struct zn_client_infos *infos)
{
    struct zn_sync_call s;
    int brc = sync_begin(zh, &s);
    if (brc != 0)
        return brc;
    if (infos == NULL)
        return sync_wait(&s, ZN_EBADARGUMENTS);
    memset(infos, 0, sizeof(*infos));
    s.infos = infos;
    return sync_wait(&s, zn_awhoami(zh, s_whoami, &s));
}
