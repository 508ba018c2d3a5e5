/*
 * zkconv.c - jute requests to store operations, store replies to jute replies (see zkconv.h).
 *
 * The reply bodies follow zookeeper.jute and FinalRequestProcessor.java (release-3.9): create
 * answers CreateResponse{path}, create2/createContainer/createTTL Create2Response{path, stat};
 * inside a multi, each result is MultiHeader{type, done=false, err} + that op's response, a
 * failed (or rolled back) op is MultiHeader{-1, false, err} + ErrorResponse{err}, and the list
 * ends with MultiHeader{-1, true, -1}.
 */
#include "node/zkconv.h"

#include <string.h>

#include "common/zn_err.h"
#include "store/reply.h"

static struct zn_str zn_str_of(struct zn_bytes b)
{
    return (struct zn_str){(const char *)b.ptr, b.len > 0 ? (uint32_t)b.len : 0u};
}

static int zn_acl_convert(const struct zn_zk_vec *v, struct zn_zkconv_scratch *s, struct zn_op *op)
{
    if (v->count > (int32_t)ZN_STORE_ACL_ENTRIES_MAX ||
        s->n_acls + (uint32_t)v->count > ZN_STORE_ENTRY_ACLS_MAX)
        return ZN_EINVALIDACL;
    op->acl = &s->acls[s->n_acls];
    op->acl_count = 0;
    struct zn_zk_vec_iter it;
    struct zn_zk_acl a;
    zn_zk_vec_iter_init(&it, v);
    while (zn_zk_vec_next_acl(&it, &a)) {
        struct zn_acl_entry *e = &s->acls[s->n_acls++];
        e->perms = (uint32_t)a.perms;
        e->scheme = zn_str_of(a.scheme);
        e->id = zn_str_of(a.id);
        op->acl_count++;
    }
    return 0;
}

static int zn_op_convert(const struct zn_zk_request *req, struct zn_zkconv_scratch *s,
                         struct zn_op *op, int depth)
{
    memset(op, 0, sizeof(*op));
    op->type = req->type;
    op->version = -1;
    op->ttl_ms = -1;
    switch (req->type) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_CREATETTL: {
        /* Flags and TTL are checked at apply (store/apply.c op_create: an unknown mode, TTL
         * flags without createTTL, createTTL without TTL flags or with ttl <= 0 are
         * BadArguments), so that a rejected create consumes a zxid as ZooKeeper's error txn
         * does. */
        int32_t mode = req->u.create.flags;
        if (req->type == ZN_ZK_OP_CREATETTL)
            op->ttl_ms = req->u.create.ttl;
        /* ZooKeeper makes a container of both `create` with the container flag and
         * `createContainer` with flags 0 (PrepRequestProcessor: the opcode or the mode); the
         * log entry always says createContainer + container mode. A `create` (1) still gets a
         * CreateResponse: the port trims the Stat (node/zkport.c zkport_reply). */
        if (req->type == ZN_ZK_OP_CREATECONTAINER && mode == ZN_ZK_PERSISTENT)
            mode = ZN_ZK_CONTAINER;
        if ((req->type == ZN_ZK_OP_CREATE || req->type == ZN_ZK_OP_CREATE2) &&
            mode == ZN_ZK_CONTAINER)
            op->type = ZN_OP_CREATECONTAINER;
        op->path = zn_str_of(req->u.create.path);
        op->data = req->u.create.data.len > 0 ? req->u.create.data.ptr : NULL;
        op->data_len = req->u.create.data.len > 0 ? (uint32_t)req->u.create.data.len : 0;
        op->data_null = req->u.create.data.len < 0; /* null data: kept null (getData -> -1) */
        op->flags = mode;
        return zn_acl_convert(&req->u.create.acl, s, op);
    }
    case ZN_ZK_OP_DELETE:
    case ZN_ZK_OP_CHECK:
    case ZN_ZK_OP_DELETECONTAINER:
        op->path = zn_str_of(req->u.versioned.path);
        op->version = req->u.versioned.version;
        return 0;
    case ZN_ZK_OP_EXISTS:
    case ZN_ZK_OP_GETDATA:
    case ZN_ZK_OP_GETCHILDREN:
    case ZN_ZK_OP_GETCHILDREN2:
        op->path = zn_str_of(req->u.read.path);
        op->watch = req->u.read.watch;
        return 0;
    case ZN_ZK_OP_SETDATA:
        op->path = zn_str_of(req->u.set_data.path);
        op->data = req->u.set_data.data.len > 0 ? req->u.set_data.data.ptr : NULL;
        op->data_len = req->u.set_data.data.len > 0 ? (uint32_t)req->u.set_data.data.len : 0;
        op->data_null = req->u.set_data.data.len < 0;
        op->version = req->u.set_data.version;
        return 0;
    case ZN_ZK_OP_GETACL:
    case ZN_ZK_OP_SYNC:
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
    case ZN_ZK_OP_GETEPHEMERALS:
        op->path = zn_str_of(req->u.path.path);
        return 0;
    case ZN_ZK_OP_SETACL:
        op->path = zn_str_of(req->u.set_acl.path);
        op->version = req->u.set_acl.version;
        return zn_acl_convert(&req->u.set_acl.acl, s, op);
    case ZN_ZK_OP_CLOSESESSION:
        return 0;
    case ZN_ZK_OP_MULTI:
    case ZN_ZK_OP_MULTIREAD: {
        if (depth > 0)
            return ZN_EBADARGUMENTS;
        if (req->u.multi.count < 0 || (uint32_t)req->u.multi.count > ZN_MULTI_OPS_MAX)
            return ZN_ELIMIT;
        struct zn_zk_multi_iter it;
        struct zn_zk_request sub;
        zn_zk_multi_iter_init(&it, req);
        uint32_t n = 0;
        while (zn_zk_multi_next(&it, &sub)) {
            if (n == ZN_MULTI_OPS_MAX)
                return ZN_ELIMIT;
            int rc = zn_op_convert(&sub, s, &s->ops[n], depth + 1);
            if (rc)
                return rc;
            n++;
        }
        op->sub = s->ops;
        op->sub_count = n;
        return 0;
    }
    case ZN_ZK_OP_RECONFIG:
        /* Membership changes go through zincctl; ZooKeeper with reconfigEnabled=false (its
         * default) answers ReconfigDisabled. */
        return ZN_ERECONFIGDISABLED;
    default:
        return ZN_EUNIMPLEMENTED;
    }
}

int zn_zkconv_op(const struct zn_zk_request *req, struct zn_zkconv_scratch *scratch,
                 struct zn_op *op)
{
    scratch->n_acls = 0;
    return zn_op_convert(req, scratch, op, 0);
}

int zn_zkconv_error_txn(const struct zn_zk_request *req, int decode_rc)
{
    /* ZN_ELIMIT (a zinc limit, e.g. more ops than ZN_MULTI_OPS_MAX) stays an early answer:
     * ZooKeeper has no such limit below jute.maxbuffer, which closes the connection. */
    if (decode_rc == ZN_EPROTO && req->type == ZN_ZK_OP_MULTI)
        return ZN_EMARSHALLING;
    /* reconfig with reconfig disabled (ZooKeeper's default, and zinc's: membership changes go
     * through zincctl): pRequest2Txn takes the zxid, then throws ReconfigDisabled. A reconfig
     * that does not deserialize fails before, with no zxid. */
    if (decode_rc == 0 && req->type == ZN_ZK_OP_RECONFIG)
        return ZN_ERECONFIGDISABLED;
    return 0;
}

static void zn_put_stat_of(struct zn_jute_writer *w, const struct zn_stat *st)
{
    struct zn_zk_stat z = {
        .czxid = st->czxid,
        .mzxid = st->mzxid,
        .ctime = st->ctime,
        .mtime = st->mtime,
        .version = st->version,
        .cversion = st->cversion,
        .aversion = st->aversion,
        .ephemeral_owner = st->ephemeral_owner,
        .data_length = st->data_length,
        .num_children = st->num_children,
        .pzxid = st->pzxid,
    };
    zn_zk_put_stat(w, &z);
}

static void zn_put_str(struct zn_jute_writer *w, struct zn_str s)
{
    zn_jute_put_buffer(w, zn_bytes_make(s.ptr, s.len));
}

static int zn_put_names(struct zn_jute_writer *w, struct zn_reply *r)
{
    zn_jute_put_int(w, (int32_t)r->count);
    struct zn_str name;
    uint32_t n = 0;
    int rc;
    while ((rc = zn_reply_next_name(r, &name)) == 0) {
        zn_put_str(w, name);
        n++;
    }
    return rc == ZN_ENOENT && n == r->count ? 0 : ZN_EPROTO;
}

/* The response body of a successful (err 0) single op. */
static int zn_put_body(struct zn_jute_writer *w, struct zn_reply *r)
{
    switch (r->op) {
    case ZN_OP_CREATE:
        zn_put_str(w, r->path);
        return 0;
    case ZN_OP_CREATE2:
    case ZN_OP_CREATECONTAINER:
    case ZN_OP_CREATETTL:
        zn_put_str(w, r->path);
        zn_put_stat_of(w, &r->stat);
        return 0;
    case ZN_OP_SYNC:
        zn_put_str(w, r->path);
        return 0;
    case ZN_OP_SETDATA:
    case ZN_OP_SETACL:
    case ZN_OP_EXISTS:
        zn_put_stat_of(w, &r->stat);
        return 0;
    case ZN_OP_GETDATA:
        zn_jute_put_buffer(w, r->data_null ? ZN_BYTES_NULL : zn_bytes_make(r->data, r->data_len));
        zn_put_stat_of(w, &r->stat);
        return 0;
    case ZN_OP_GETACL: {
        zn_jute_put_int(w, (int32_t)r->count);
        struct zn_acl_entry a;
        uint32_t n = 0;
        int rc;
        while ((rc = zn_reply_next_acl(r, &a)) == 0) {
            zn_jute_put_int(w, (int32_t)a.perms);
            zn_put_str(w, a.scheme);
            zn_put_str(w, a.id);
            n++;
        }
        if (rc != ZN_ENOENT || n != r->count)
            return ZN_EPROTO;
        zn_put_stat_of(w, &r->stat);
        return 0;
    }
    case ZN_OP_GETCHILDREN:
    case ZN_OP_GETEPHEMERALS:
        return zn_put_names(w, r);
    case ZN_OP_GETCHILDREN2: {
        int rc = zn_put_names(w, r);
        zn_put_stat_of(w, &r->stat);
        return rc;
    }
    case ZN_OP_GETALLCHILDRENNUMBER:
        zn_jute_put_int(w, r->number);
        return 0;
    case ZN_OP_DELETE:
    case ZN_OP_DELETECONTAINER:
    case ZN_OP_CHECK:
    case ZN_OP_CLOSESESSION:
    case ZN_OP_CREATESESSION: /* answered as CONNECTED by the session layer, never as a reply */
        return 0;
    default:
        return ZN_EPROTO;
    }
}

void zn_zkconv_error(int32_t xid, int64_t zxid, int err, struct zn_jute_writer *w)
{
    struct zn_zk_reply_header h = {.xid = xid, .zxid = zxid, .err = err ? zn_err_to_zk(err) : 0};
    zn_zk_put_reply_header(w, &h);
}

int zn_zkconv_reply(int32_t xid, const uint8_t *reply, size_t len, struct zn_jute_writer *w)
{
    struct zn_reply r;
    if (zn_reply_decode(reply, len, &r) != 0)
        return ZN_EPROTO;
    bool listy = r.op == ZN_OP_MULTI || r.op == ZN_OP_MULTIREAD;
    zn_zkconv_error(xid, r.zxid, listy ? 0 : r.err, w);
    int rc = 0;
    if (listy) {
        struct zn_reply sub;
        uint32_t n = 0;
        while (rc == 0 && (rc = zn_reply_next_sub(&r, &sub)) == 0) {
            n++;
            if (sub.op == ZN_OP_ERROR || sub.err != 0) {
                int zk = sub.err ? zn_err_to_zk(sub.err) : 0;
                zn_zk_put_multi_result_error(w, zk);
            } else {
                /* ZooKeeper's multi results (DataTree.processTxn, MultiResponse): a create2 op
                 * answers as create (path only), container and TTL creates as create2 (path
                 * and Stat); the Java client rejects result types 19 and 21. */
                if (sub.op == ZN_OP_CREATE2)
                    sub.op = ZN_OP_CREATE;
                else if (sub.op == ZN_OP_CREATECONTAINER || sub.op == ZN_OP_CREATETTL)
                    sub.op = ZN_OP_CREATE2;
                zn_zk_put_multi_result_header(w, sub.op, 0);
                rc = zn_put_body(w, &sub);
            }
        }
        if (rc == ZN_ENOENT && n == r.count)
            rc = 0;
        else if (rc == 0 || rc == ZN_ENOENT)
            rc = ZN_EPROTO;
        zn_zk_put_multi_end(w);
    } else if (r.err == 0) {
        rc = zn_put_body(w, &r);
    }
    if (rc)
        return rc;
    return w->err ? ZN_ELIMIT : 0;
}
