/*
 * zk.c - ZooKeeper records over jute (see zk.h for the contract).
 *
 * Every decoder validates the whole record before returning success: vectors are walked once
 * element by element (each element's length checked against what remains), and multi bodies are
 * walked op by op, so the iterators used afterwards cannot run off the buffer.
 */
#include "proto/zk.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"

#include <string.h>

bool zn_zk_op_known(int32_t op)
{
    switch (op) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_DELETE:
    case ZN_ZK_OP_EXISTS:
    case ZN_ZK_OP_GETDATA:
    case ZN_ZK_OP_SETDATA:
    case ZN_ZK_OP_GETACL:
    case ZN_ZK_OP_SETACL:
    case ZN_ZK_OP_GETCHILDREN:
    case ZN_ZK_OP_SYNC:
    case ZN_ZK_OP_PING:
    case ZN_ZK_OP_GETCHILDREN2:
    case ZN_ZK_OP_CHECK:
    case ZN_ZK_OP_MULTI:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_RECONFIG:
    case ZN_ZK_OP_CHECKWATCHES:
    case ZN_ZK_OP_REMOVEWATCHES:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_DELETECONTAINER:
    case ZN_ZK_OP_CREATETTL:
    case ZN_ZK_OP_MULTIREAD:
    case ZN_ZK_OP_AUTH:
    case ZN_ZK_OP_SETWATCHES:
    case ZN_ZK_OP_GETEPHEMERALS:
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
    case ZN_ZK_OP_SETWATCHES2:
    case ZN_ZK_OP_ADDWATCH:
    case ZN_ZK_OP_WHOAMI:
    case ZN_ZK_OP_CLOSESESSION:
        return true;
    default:
        return false;
    }
}

const char *zn_zk_op_name(int32_t op)
{
    switch (op) {
    case ZN_ZK_OP_NOTIFICATION:
        return "notification";
    case ZN_ZK_OP_CREATE:
        return "create";
    case ZN_ZK_OP_DELETE:
        return "delete";
    case ZN_ZK_OP_EXISTS:
        return "exists";
    case ZN_ZK_OP_GETDATA:
        return "getData";
    case ZN_ZK_OP_SETDATA:
        return "setData";
    case ZN_ZK_OP_GETACL:
        return "getACL";
    case ZN_ZK_OP_SETACL:
        return "setACL";
    case ZN_ZK_OP_GETCHILDREN:
        return "getChildren";
    case ZN_ZK_OP_SYNC:
        return "sync";
    case ZN_ZK_OP_PING:
        return "ping";
    case ZN_ZK_OP_GETCHILDREN2:
        return "getChildren2";
    case ZN_ZK_OP_CHECK:
        return "check";
    case ZN_ZK_OP_MULTI:
        return "multi";
    case ZN_ZK_OP_CREATE2:
        return "create2";
    case ZN_ZK_OP_RECONFIG:
        return "reconfig";
    case ZN_ZK_OP_CHECKWATCHES:
        return "checkWatches";
    case ZN_ZK_OP_REMOVEWATCHES:
        return "removeWatches";
    case ZN_ZK_OP_CREATECONTAINER:
        return "createContainer";
    case ZN_ZK_OP_DELETECONTAINER:
        return "deleteContainer";
    case ZN_ZK_OP_CREATETTL:
        return "createTTL";
    case ZN_ZK_OP_MULTIREAD:
        return "multiRead";
    case ZN_ZK_OP_AUTH:
        return "auth";
    case ZN_ZK_OP_SETWATCHES:
        return "setWatches";
    case ZN_ZK_OP_SASL:
        return "sasl";
    case ZN_ZK_OP_GETEPHEMERALS:
        return "getEphemerals";
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
        return "getAllChildrenNumber";
    case ZN_ZK_OP_SETWATCHES2:
        return "setWatches2";
    case ZN_ZK_OP_ADDWATCH:
        return "addWatch";
    case ZN_ZK_OP_WHOAMI:
        return "whoAmI";
    case ZN_ZK_OP_CREATESESSION:
        return "createSession";
    case ZN_ZK_OP_CLOSESESSION:
        return "closeSession";
    case ZN_ZK_OP_ERROR:
        return "error";
    default:
        return "unknown";
    }
}

bool zn_zk_op_is_write(int32_t op)
{
    switch (op) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_DELETE:
    case ZN_ZK_OP_SETDATA:
    case ZN_ZK_OP_SETACL:
    case ZN_ZK_OP_CHECK:
    case ZN_ZK_OP_MULTI:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_RECONFIG:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_DELETECONTAINER:
    case ZN_ZK_OP_CREATETTL:
    case ZN_ZK_OP_CREATESESSION:
    case ZN_ZK_OP_CLOSESESSION:
        return true;
    default:
        return false;
    }
}

void zn_zk_limits_default(struct zn_zk_limits *lim)
{
    lim->data_bytes_max = (int32_t)ZN_DATA_SIZE_DEFAULT_BYTES;
    lim->path_bytes_max = (int32_t)ZN_PATH_LEN_MAX;
    lim->multi_ops_max = (int32_t)ZN_MULTI_OPS_MAX;
    lim->acl_entries_max = 1024;
}

/* ---- vectors ---------------------------------------------------------------------------- */

void zn_zk_get_string_vec(struct zn_jute_reader *r, int32_t max_len, struct zn_zk_vec *out)
{
    out->count = zn_jute_get_count(r, 4);
    size_t start = r->pos;
    for (int32_t i = 0; i < out->count && !r->err; i++) {
        struct zn_bytes s = zn_jute_get_buffer(r, max_len);
        if (s.len < 0)
            zn_jute_fail(r, ZN_EPROTO); /* null element */
    }
    out->raw = r->err ? ZN_BYTES_NULL : zn_bytes_make(r->buf + start, r->pos - start);
    if (r->err)
        out->count = 0;
}

void zn_zk_get_acl_vec(struct zn_jute_reader *r, int32_t max_entries, struct zn_zk_vec *out)
{
    out->count = zn_jute_get_count(r, 12); /* perms + two lengths */
    if (out->count > max_entries)
        zn_jute_fail(r, ZN_ELIMIT);
    size_t start = r->pos;
    for (int32_t i = 0; i < out->count && !r->err; i++) {
        (void)zn_jute_get_int(r);
        struct zn_bytes scheme = zn_jute_get_buffer(r, (int32_t)ZN_PATH_LEN_MAX);
        struct zn_bytes id = zn_jute_get_buffer(r, (int32_t)ZN_PATH_LEN_MAX);
        if (!r->err && (scheme.len < 0 || id.len < 0))
            zn_jute_fail(r, ZN_EPROTO);
    }
    out->raw = r->err ? ZN_BYTES_NULL : zn_bytes_make(r->buf + start, r->pos - start);
    if (r->err)
        out->count = 0;
}

void zn_zk_vec_iter_init(struct zn_zk_vec_iter *it, const struct zn_zk_vec *v)
{
    zn_jute_reader_init(&it->r, v->raw.ptr, v->raw.len > 0 ? (size_t)v->raw.len : 0);
    it->left = v->count;
}

bool zn_zk_vec_next_string(struct zn_zk_vec_iter *it, struct zn_bytes *out)
{
    if (it->left <= 0)
        return false;
    it->left--;
    *out = zn_jute_get_buffer(&it->r, INT32_MAX);
    return !it->r.err;
}

bool zn_zk_vec_next_acl(struct zn_zk_vec_iter *it, struct zn_zk_acl *out)
{
    if (it->left <= 0)
        return false;
    it->left--;
    out->perms = zn_jute_get_int(&it->r);
    out->scheme = zn_jute_get_buffer(&it->r, INT32_MAX);
    out->id = zn_jute_get_buffer(&it->r, INT32_MAX);
    return !it->r.err;
}

void zn_zk_put_strings(struct zn_jute_writer *w, const struct zn_bytes *items, int32_t count)
{
    zn_jute_put_int(w, count);
    for (int32_t i = 0; i < count; i++)
        zn_jute_put_buffer(w, items[i]);
}

void zn_zk_put_acl(struct zn_jute_writer *w, const struct zn_zk_acl *acls, int32_t count)
{
    zn_jute_put_int(w, count);
    for (int32_t i = 0; i < count; i++) {
        zn_jute_put_int(w, acls[i].perms);
        zn_jute_put_buffer(w, acls[i].scheme);
        zn_jute_put_buffer(w, acls[i].id);
    }
}

static void zn_zk_put_vec(struct zn_jute_writer *w, const struct zn_zk_vec *v)
{
    zn_jute_put_int(w, v->count);
    if (v->raw.len > 0)
        zn_jute_put_raw(w, v->raw.ptr, (size_t)v->raw.len);
}

/* ---- requests --------------------------------------------------------------------------- */

static struct zn_bytes zn_zk_get_path(struct zn_jute_reader *r, const struct zn_zk_limits *lim)
{
    struct zn_bytes p = zn_jute_get_buffer(r, lim->path_bytes_max);
    if (!r->err && p.len < 0)
        zn_jute_fail(r, ZN_EPROTO); /* a request path is never null */
    return p;
}

/* Decode the body of op `type` (no header) into req->u. */
static void zn_zk_body_decode(struct zn_jute_reader *r, int32_t type,
                              const struct zn_zk_limits *lim, struct zn_zk_request *req,
                              bool in_multi);

static void zn_zk_multi_decode(struct zn_jute_reader *r, const struct zn_zk_limits *lim,
                               struct zn_zk_request *req, bool read_only)
{
    size_t start = r->pos;
    int32_t count = 0;
    for (;;) {
        int32_t type = zn_jute_get_int(r);
        bool done = zn_jute_get_bool(r);
        (void)zn_jute_get_int(r); /* err: meaningless in requests */
        if (r->err)
            return;
        if (done) {
            if (type != -1)
                zn_jute_fail(r, ZN_EPROTO);
            break;
        }
        if (++count > lim->multi_ops_max) {
            zn_jute_fail(r, ZN_ELIMIT);
            return;
        }
        bool allowed = read_only ? (type == ZN_ZK_OP_GETCHILDREN || type == ZN_ZK_OP_GETDATA)
                                 : (type == ZN_ZK_OP_CREATE || type == ZN_ZK_OP_CREATE2 ||
                                    type == ZN_ZK_OP_CREATETTL ||
                                    type == ZN_ZK_OP_CREATECONTAINER || type == ZN_ZK_OP_DELETE ||
                                    type == ZN_ZK_OP_SETDATA || type == ZN_ZK_OP_CHECK);
        if (!allowed) {
            zn_jute_fail(r, ZN_EPROTO);
            return;
        }
        struct zn_zk_request op;
        zn_zk_body_decode(r, type, lim, &op, true);
    }
    req->u.multi.count = count;
    /* raw covers the op records and the end marker; the iterator stops at the marker. */
    req->u.multi.raw = zn_bytes_make(r->buf + start, r->pos - start);
}

static void zn_zk_body_decode(struct zn_jute_reader *r, int32_t type,
                              const struct zn_zk_limits *lim, struct zn_zk_request *req,
                              bool in_multi)
{
    req->type = type;
    switch (type) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_CREATETTL:
        req->u.create.path = zn_zk_get_path(r, lim);
        req->u.create.data = zn_jute_get_buffer(r, lim->data_bytes_max);
        zn_zk_get_acl_vec(r, lim->acl_entries_max, &req->u.create.acl);
        req->u.create.flags = zn_jute_get_int(r);
        req->u.create.ttl = type == ZN_ZK_OP_CREATETTL ? zn_jute_get_long(r) : 0;
        break;
    case ZN_ZK_OP_DELETE:
    case ZN_ZK_OP_CHECK:
        req->u.versioned.path = zn_zk_get_path(r, lim);
        req->u.versioned.version = zn_jute_get_int(r);
        break;
    case ZN_ZK_OP_DELETECONTAINER:
        req->u.versioned.path = zn_zk_get_path(r, lim);
        req->u.versioned.version = -1;
        break;
    case ZN_ZK_OP_EXISTS:
    case ZN_ZK_OP_GETDATA:
    case ZN_ZK_OP_GETCHILDREN:
    case ZN_ZK_OP_GETCHILDREN2:
        req->u.read.path = zn_zk_get_path(r, lim);
        req->u.read.watch = zn_jute_get_bool(r);
        break;
    case ZN_ZK_OP_SETDATA:
        req->u.set_data.path = zn_zk_get_path(r, lim);
        req->u.set_data.data = zn_jute_get_buffer(r, lim->data_bytes_max);
        req->u.set_data.version = zn_jute_get_int(r);
        break;
    case ZN_ZK_OP_GETACL:
    case ZN_ZK_OP_SYNC:
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
    case ZN_ZK_OP_GETEPHEMERALS:
        req->u.path.path = zn_zk_get_path(r, lim);
        break;
    case ZN_ZK_OP_SETACL:
        req->u.set_acl.path = zn_zk_get_path(r, lim);
        zn_zk_get_acl_vec(r, lim->acl_entries_max, &req->u.set_acl.acl);
        req->u.set_acl.version = zn_jute_get_int(r);
        break;
    case ZN_ZK_OP_CHECKWATCHES:
    case ZN_ZK_OP_REMOVEWATCHES:
    case ZN_ZK_OP_ADDWATCH:
        req->u.watch.path = zn_zk_get_path(r, lim);
        req->u.watch.type = zn_jute_get_int(r);
        break;
    case ZN_ZK_OP_AUTH:
        req->u.auth.type = zn_jute_get_int(r);
        req->u.auth.scheme = zn_jute_get_buffer(r, lim->path_bytes_max);
        req->u.auth.auth = zn_jute_get_buffer(r, lim->data_bytes_max);
        break;
    case ZN_ZK_OP_SETWATCHES:
    case ZN_ZK_OP_SETWATCHES2:
        req->u.set_watches.relative_zxid = zn_jute_get_long(r);
        zn_zk_get_string_vec(r, lim->path_bytes_max, &req->u.set_watches.data);
        zn_zk_get_string_vec(r, lim->path_bytes_max, &req->u.set_watches.exist);
        zn_zk_get_string_vec(r, lim->path_bytes_max, &req->u.set_watches.child);
        if (type == ZN_ZK_OP_SETWATCHES2) {
            zn_zk_get_string_vec(r, lim->path_bytes_max, &req->u.set_watches.persistent);
            zn_zk_get_string_vec(r, lim->path_bytes_max, &req->u.set_watches.persistent_recursive);
        } else {
            req->u.set_watches.persistent = (struct zn_zk_vec){0, ZN_BYTES_NULL};
            req->u.set_watches.persistent_recursive = (struct zn_zk_vec){0, ZN_BYTES_NULL};
        }
        break;
    case ZN_ZK_OP_MULTI:
    case ZN_ZK_OP_MULTIREAD:
        if (in_multi)
            zn_jute_fail(r, ZN_EPROTO);
        else
            zn_zk_multi_decode(r, lim, req, type == ZN_ZK_OP_MULTIREAD);
        break;
    case ZN_ZK_OP_RECONFIG:
        req->u.reconfig.joining = zn_jute_get_buffer(r, lim->data_bytes_max);
        req->u.reconfig.leaving = zn_jute_get_buffer(r, lim->data_bytes_max);
        req->u.reconfig.new_members = zn_jute_get_buffer(r, lim->data_bytes_max);
        req->u.reconfig.cur_config_id = zn_jute_get_long(r);
        break;
    case ZN_ZK_OP_PING:
    case ZN_ZK_OP_CLOSESESSION:
    case ZN_ZK_OP_WHOAMI:
        break; /* no body */
    default:
        zn_jute_fail(r, ZN_EUNIMPLEMENTED);
        break;
    }
}

int zn_zk_request_decode(const void *buf, size_t len, const struct zn_zk_limits *lim,
                         struct zn_zk_request *req)
{
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, buf, len);
    memset(req, 0, sizeof(*req));
    req->xid = zn_jute_get_int(&r);
    req->type = zn_jute_get_int(&r);
    if (r.err)
        return r.err;
    if (!zn_zk_op_known(req->type))
        return ZN_EUNIMPLEMENTED;
    int32_t type = req->type;
    zn_zk_body_decode(&r, type, lim, req, false);
    req->type = type;
    return r.err;
}

static void zn_zk_body_encode(struct zn_jute_writer *w, const struct zn_zk_request *req)
{
    switch (req->type) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_CREATETTL:
        zn_jute_put_buffer(w, req->u.create.path);
        zn_jute_put_buffer(w, req->u.create.data);
        zn_zk_put_vec(w, &req->u.create.acl);
        zn_jute_put_int(w, req->u.create.flags);
        if (req->type == ZN_ZK_OP_CREATETTL)
            zn_jute_put_long(w, req->u.create.ttl);
        break;
    case ZN_ZK_OP_DELETE:
    case ZN_ZK_OP_CHECK:
        zn_jute_put_buffer(w, req->u.versioned.path);
        zn_jute_put_int(w, req->u.versioned.version);
        break;
    case ZN_ZK_OP_DELETECONTAINER:
        zn_jute_put_buffer(w, req->u.versioned.path);
        break;
    case ZN_ZK_OP_EXISTS:
    case ZN_ZK_OP_GETDATA:
    case ZN_ZK_OP_GETCHILDREN:
    case ZN_ZK_OP_GETCHILDREN2:
        zn_jute_put_buffer(w, req->u.read.path);
        zn_jute_put_bool(w, req->u.read.watch);
        break;
    case ZN_ZK_OP_SETDATA:
        zn_jute_put_buffer(w, req->u.set_data.path);
        zn_jute_put_buffer(w, req->u.set_data.data);
        zn_jute_put_int(w, req->u.set_data.version);
        break;
    case ZN_ZK_OP_GETACL:
    case ZN_ZK_OP_SYNC:
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
    case ZN_ZK_OP_GETEPHEMERALS:
        zn_jute_put_buffer(w, req->u.path.path);
        break;
    case ZN_ZK_OP_SETACL:
        zn_jute_put_buffer(w, req->u.set_acl.path);
        zn_zk_put_vec(w, &req->u.set_acl.acl);
        zn_jute_put_int(w, req->u.set_acl.version);
        break;
    case ZN_ZK_OP_CHECKWATCHES:
    case ZN_ZK_OP_REMOVEWATCHES:
    case ZN_ZK_OP_ADDWATCH:
        zn_jute_put_buffer(w, req->u.watch.path);
        zn_jute_put_int(w, req->u.watch.type);
        break;
    case ZN_ZK_OP_AUTH:
        zn_jute_put_int(w, req->u.auth.type);
        zn_jute_put_buffer(w, req->u.auth.scheme);
        zn_jute_put_buffer(w, req->u.auth.auth);
        break;
    case ZN_ZK_OP_SETWATCHES:
    case ZN_ZK_OP_SETWATCHES2:
        zn_jute_put_long(w, req->u.set_watches.relative_zxid);
        zn_zk_put_vec(w, &req->u.set_watches.data);
        zn_zk_put_vec(w, &req->u.set_watches.exist);
        zn_zk_put_vec(w, &req->u.set_watches.child);
        if (req->type == ZN_ZK_OP_SETWATCHES2) {
            zn_zk_put_vec(w, &req->u.set_watches.persistent);
            zn_zk_put_vec(w, &req->u.set_watches.persistent_recursive);
        }
        break;
    case ZN_ZK_OP_MULTI:
    case ZN_ZK_OP_MULTIREAD:
        /* raw holds the op records and the end marker, as built by zn_zk_put_multi_*. */
        if (req->u.multi.raw.len > 0)
            zn_jute_put_raw(w, req->u.multi.raw.ptr, (size_t)req->u.multi.raw.len);
        break;
    case ZN_ZK_OP_RECONFIG:
        zn_jute_put_buffer(w, req->u.reconfig.joining);
        zn_jute_put_buffer(w, req->u.reconfig.leaving);
        zn_jute_put_buffer(w, req->u.reconfig.new_members);
        zn_jute_put_long(w, req->u.reconfig.cur_config_id);
        break;
    default:
        break;
    }
}

long zn_zk_request_encode(const struct zn_zk_request *req, void *buf, size_t cap)
{
    if (!zn_zk_op_known(req->type))
        return ZN_EINVAL;
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, cap);
    zn_jute_put_int(&w, req->xid);
    zn_jute_put_int(&w, req->type);
    zn_zk_body_encode(&w, req);
    return w.err ? w.err : (long)w.len;
}

void zn_zk_put_multi_op(struct zn_jute_writer *w, const struct zn_zk_request *op)
{
    zn_jute_put_int(w, op->type);
    zn_jute_put_bool(w, false);
    zn_jute_put_int(w, -1);
    zn_zk_body_encode(w, op);
}

void zn_zk_put_multi_end(struct zn_jute_writer *w)
{
    zn_jute_put_int(w, -1);
    zn_jute_put_bool(w, true);
    zn_jute_put_int(w, -1);
}

void zn_zk_multi_iter_init(struct zn_zk_multi_iter *it, const struct zn_zk_request *multi)
{
    const struct zn_bytes *raw = &multi->u.multi.raw;
    zn_jute_reader_init(&it->r, raw->ptr, raw->len > 0 ? (size_t)raw->len : 0);
    it->left = multi->u.multi.count;
    it->read_only = multi->type == ZN_ZK_OP_MULTIREAD;
}

bool zn_zk_multi_next(struct zn_zk_multi_iter *it, struct zn_zk_request *op)
{
    if (it->left <= 0)
        return false;
    it->left--;
    struct zn_zk_limits unlimited = {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX};
    memset(op, 0, sizeof(*op));
    int32_t type = zn_jute_get_int(&it->r);
    (void)zn_jute_get_bool(&it->r);
    (void)zn_jute_get_int(&it->r);
    zn_zk_body_decode(&it->r, type, &unlimited, op, true);
    op->type = type;
    return !it->r.err;
}

/* ---- replies ---------------------------------------------------------------------------- */

void zn_zk_put_reply_header(struct zn_jute_writer *w, const struct zn_zk_reply_header *h)
{
    zn_jute_put_int(w, h->xid);
    zn_jute_put_long(w, h->zxid);
    zn_jute_put_int(w, h->err);
}

int zn_zk_get_reply_header(struct zn_jute_reader *r, struct zn_zk_reply_header *h)
{
    h->xid = zn_jute_get_int(r);
    h->zxid = zn_jute_get_long(r);
    h->err = zn_jute_get_int(r);
    return r->err;
}

void zn_zk_put_stat(struct zn_jute_writer *w, const struct zn_zk_stat *st)
{
    zn_jute_put_long(w, st->czxid);
    zn_jute_put_long(w, st->mzxid);
    zn_jute_put_long(w, st->ctime);
    zn_jute_put_long(w, st->mtime);
    zn_jute_put_int(w, st->version);
    zn_jute_put_int(w, st->cversion);
    zn_jute_put_int(w, st->aversion);
    zn_jute_put_long(w, st->ephemeral_owner);
    zn_jute_put_int(w, st->data_length);
    zn_jute_put_int(w, st->num_children);
    zn_jute_put_long(w, st->pzxid);
}

void zn_zk_get_stat(struct zn_jute_reader *r, struct zn_zk_stat *st)
{
    st->czxid = zn_jute_get_long(r);
    st->mzxid = zn_jute_get_long(r);
    st->ctime = zn_jute_get_long(r);
    st->mtime = zn_jute_get_long(r);
    st->version = zn_jute_get_int(r);
    st->cversion = zn_jute_get_int(r);
    st->aversion = zn_jute_get_int(r);
    st->ephemeral_owner = zn_jute_get_long(r);
    st->data_length = zn_jute_get_int(r);
    st->num_children = zn_jute_get_int(r);
    st->pzxid = zn_jute_get_long(r);
}

void zn_zk_put_watch_event(struct zn_jute_writer *w, const struct zn_zk_watch_event *ev)
{
    zn_jute_put_int(w, ev->type);
    zn_jute_put_int(w, ev->state);
    zn_jute_put_buffer(w, ev->path);
}

int zn_zk_get_watch_event(struct zn_jute_reader *r, struct zn_zk_watch_event *ev)
{
    ev->type = zn_jute_get_int(r);
    ev->state = zn_jute_get_int(r);
    ev->path = zn_jute_get_buffer(r, (int32_t)ZN_PATH_LEN_MAX);
    return r->err;
}

void zn_zk_put_multi_result_header(struct zn_jute_writer *w, int32_t type, int32_t err)
{
    zn_jute_put_int(w, type);
    zn_jute_put_bool(w, false);
    zn_jute_put_int(w, err);
}

void zn_zk_put_multi_result_error(struct zn_jute_writer *w, int32_t zk_err)
{
    zn_zk_put_multi_result_header(w, ZN_ZK_OP_ERROR, zk_err);
    zn_jute_put_int(w, zk_err);
}

/* ---- connect ---------------------------------------------------------------------------- */

int zn_zk_connect_request_decode(const void *buf, size_t len, struct zn_zk_connect_request *req)
{
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, buf, len);
    req->protocol_version = zn_jute_get_int(&r);
    req->last_zxid_seen = zn_jute_get_long(&r);
    req->timeout_ms = zn_jute_get_int(&r);
    req->session_id = zn_jute_get_long(&r);
    req->passwd = zn_jute_get_buffer(&r, ZN_ZK_PASSWD_BYTES);
    req->has_read_only = zn_jute_remaining(&r) > 0;
    req->read_only = req->has_read_only ? zn_jute_get_bool(&r) : false;
    return r.err;
}

long zn_zk_connect_request_encode(const struct zn_zk_connect_request *req, void *buf, size_t cap)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, cap);
    zn_jute_put_int(&w, req->protocol_version);
    zn_jute_put_long(&w, req->last_zxid_seen);
    zn_jute_put_int(&w, req->timeout_ms);
    zn_jute_put_long(&w, req->session_id);
    zn_jute_put_buffer(&w, req->passwd);
    if (req->has_read_only)
        zn_jute_put_bool(&w, req->read_only);
    return w.err ? w.err : (long)w.len;
}

long zn_zk_connect_response_encode(const struct zn_zk_connect_response *resp, void *buf, size_t cap)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, cap);
    zn_jute_put_int(&w, resp->protocol_version);
    zn_jute_put_int(&w, resp->timeout_ms);
    zn_jute_put_long(&w, resp->session_id);
    zn_jute_put_buffer(&w, resp->passwd);
    zn_jute_put_bool(&w, resp->read_only);
    return w.err ? w.err : (long)w.len;
}

int zn_zk_connect_response_decode(const void *buf, size_t len, struct zn_zk_connect_response *resp)
{
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, buf, len);
    resp->protocol_version = zn_jute_get_int(&r);
    resp->timeout_ms = zn_jute_get_int(&r);
    resp->session_id = zn_jute_get_long(&r);
    resp->passwd = zn_jute_get_buffer(&r, ZN_ZK_PASSWD_BYTES);
    resp->read_only = zn_jute_remaining(&r) > 0 ? zn_jute_get_bool(&r) : false;
    return r.err;
}
