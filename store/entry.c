/*
 * store/entry.c - log entry encoding (format in entry.h).
 *
 * Encoding and decoding are written as mirror images; the round trip and the rejection of every
 * malformed input are checked in tests/store/test_entry.c and by fuzzing-style random bytes.
 */
#include "store/entry.h"

#include <string.h>

#include "common/zn_err.h"
#include "store/codec.h"

static bool op_is_create(int32_t t)
{
    return t == ZN_OP_CREATE || t == ZN_OP_CREATE2 || t == ZN_OP_CREATECONTAINER ||
           t == ZN_OP_CREATETTL;
}

/* An error txn stores a zinc error code: negative and in the table (common/zn_err.h). */
static bool err_code_valid(int32_t err)
{
    return err < 0 && err >= -ZN_ERR_COUNT;
}

static int put_acl(struct zn_wbuf *w, const struct zn_acl_entry *acl, uint32_t n)
{
    if (n > ZN_STORE_ACL_ENTRIES_MAX)
        return ZN_ELIMIT;
    zn_put_u16(w, (uint16_t)n);
    for (uint32_t i = 0; i < n; i++) {
        if (acl[i].scheme.len > ZN_STORE_ID_LEN_MAX || acl[i].id.len > ZN_STORE_ID_LEN_MAX)
            return ZN_ELIMIT;
        zn_put_u32(w, acl[i].perms);
        zn_put_str16(w, acl[i].scheme.ptr, (uint16_t)acl[i].scheme.len);
        zn_put_str16(w, acl[i].id.ptr, (uint16_t)acl[i].id.len);
    }
    return 0;
}

static int put_op(struct zn_wbuf *w, const struct zn_op *op, bool nested)
{
    if (op->path.len > ZN_PATH_LEN_MAX || op->data_len > ZN_DATA_SIZE_MAX_BYTES)
        return ZN_ELIMIT;
    if (op->data_null && op->data_len != 0)
        return ZN_EINVAL;
    zn_put_i32(w, op->type);
    int rc = 0;
    switch (op->type) {
    case ZN_OP_CREATE:
    case ZN_OP_CREATE2:
    case ZN_OP_CREATECONTAINER:
    case ZN_OP_CREATETTL:
        zn_put_blob32(w, op->path.ptr, op->path.len);
        zn_put_nblob32(w, op->data, op->data_len, op->data_null);
        rc = put_acl(w, op->acl, op->acl_count);
        zn_put_i32(w, op->flags);
        zn_put_i64(w, op->ttl_ms);
        break;
    case ZN_OP_DELETE:
    case ZN_OP_DELETECONTAINER:
    case ZN_OP_CHECK:
        zn_put_blob32(w, op->path.ptr, op->path.len);
        zn_put_i32(w, op->version);
        break;
    case ZN_OP_SETDATA:
        zn_put_blob32(w, op->path.ptr, op->path.len);
        zn_put_nblob32(w, op->data, op->data_len, op->data_null);
        zn_put_i32(w, op->version);
        break;
    case ZN_OP_SETACL:
        zn_put_blob32(w, op->path.ptr, op->path.len);
        rc = put_acl(w, op->acl, op->acl_count);
        zn_put_i32(w, op->version);
        break;
    case ZN_OP_SYNC:
        zn_put_blob32(w, op->path.ptr, op->path.len);
        break;
    case ZN_OP_CLOSESESSION:
        break;
    case ZN_OP_MULTI:
        if (nested)
            return ZN_EINVAL;
        if (op->sub_count > ZN_MULTI_OPS_MAX)
            return ZN_ELIMIT;
        zn_put_u16(w, (uint16_t)op->sub_count);
        for (uint32_t i = 0; i < op->sub_count && rc == 0; i++)
            rc = put_op(w, &op->sub[i], true);
        break;
    default:
        return ZN_EINVAL;
    }
    return rc;
}

static int encode(const struct zn_entry *e, struct zn_wbuf *w)
{
    zn_put_u8(w, ZN_ENTRY_VERSION);
    zn_put_u8(w, e->type);
    zn_put_u16(w, 0);
    zn_put_u64(w, e->zxid);
    zn_put_i64(w, e->time_ms);
    zn_put_u64(w, e->session);
    int rc = 0;
    switch (e->type) {
    case ZN_ENTRY_CLIENT:
        if (e->id_count > ZN_STORE_IDENTITIES_MAX)
            return ZN_ELIMIT;
        zn_put_i32(w, e->cxid);
        zn_put_u16(w, (uint16_t)e->id_count);
        for (uint32_t i = 0; i < e->id_count; i++) {
            if (e->ids[i].scheme.len > ZN_STORE_ID_LEN_MAX ||
                e->ids[i].id.len > ZN_STORE_ID_LEN_MAX)
                return ZN_ELIMIT;
            zn_put_str16(w, e->ids[i].scheme.ptr, (uint16_t)e->ids[i].scheme.len);
            zn_put_str16(w, e->ids[i].id.ptr, (uint16_t)e->ids[i].id.len);
        }
        rc = put_op(w, &e->op, false);
        break;
    case ZN_ENTRY_SESSION_CREATE:
        zn_put_u32(w, e->timeout_ms);
        zn_put_bytes(w, e->passwd, ZN_SESSION_PASSWD_BYTES);
        break;
    case ZN_ENTRY_SESSION_CLOSE:
        zn_put_u8(w, e->close_reason);
        break;
    case ZN_ENTRY_EXPIRE:
        if (e->op.type != ZN_OP_DELETECONTAINER)
            return ZN_EINVAL;
        rc = put_op(w, &e->op, true);
        break;
    case ZN_ENTRY_NOOP:
        break;
    case ZN_ENTRY_ERROR:
        if (!err_code_valid(e->err))
            return ZN_EINVAL;
        zn_put_i32(w, e->cxid);
        zn_put_i32(w, e->op.type);
        zn_put_i32(w, e->err);
        break;
    default:
        return ZN_EINVAL;
    }
    if (rc == 0 && w->err)
        rc = w->err;
    return rc;
}

size_t zn_entry_encoded_size(const struct zn_entry *e)
{
    struct zn_wbuf w;
    zn_wbuf_init(&w, ZN_STORE_ENTRY_SIZE_MAX);
    int rc = encode(e, &w);
    size_t n = rc == 0 ? w.len : 0;
    zn_wbuf_fini(&w);
    return n;
}

int zn_entry_encode(const struct zn_entry *e, uint8_t *buf, size_t cap, size_t *len)
{
    struct zn_wbuf w;
    zn_wbuf_init(&w, ZN_STORE_ENTRY_SIZE_MAX);
    int rc = encode(e, &w);
    if (rc == 0 && w.len > cap)
        rc = ZN_ELIMIT;
    if (rc == 0) {
        memcpy(buf, w.p, w.len);
        *len = w.len;
    }
    zn_wbuf_fini(&w);
    return rc;
}

struct decoder {
    struct zn_rd r;
    uint8_t version;
    struct zn_entry_scratch *s;
    uint32_t nops;
    uint32_t nacls;
};

static void get_acl(struct decoder *d, struct zn_op *op)
{
    uint16_t n = zn_get_u16(&d->r);
    if (n > ZN_STORE_ACL_ENTRIES_MAX || d->nacls + n > ZN_STORE_ENTRY_ACLS_MAX) {
        d->r.err = ZN_EPROTO;
        return;
    }
    op->acl = &d->s->acls[d->nacls];
    op->acl_count = n;
    for (uint32_t i = 0; i < n && !d->r.err; i++) {
        struct zn_acl_entry *a = &d->s->acls[d->nacls + i];
        a->perms = zn_get_u32(&d->r);
        a->scheme.ptr = zn_get_str16(&d->r, ZN_STORE_ID_LEN_MAX, &a->scheme.len);
        a->id.ptr = zn_get_str16(&d->r, ZN_STORE_ID_LEN_MAX, &a->id.len);
    }
    d->nacls += n;
}

static void get_path(struct decoder *d, struct zn_op *op)
{
    op->path.ptr = (const char *)zn_get_blob32(&d->r, ZN_PATH_LEN_MAX, &op->path.len);
}

/* create/setData data: version 1 has no null (0xffffffff exceeds the size limit there). */
static void get_data(struct decoder *d, struct zn_op *op)
{
    if (d->version >= 2)
        op->data = zn_get_nblob32(&d->r, ZN_DATA_SIZE_MAX_BYTES, &op->data_len, &op->data_null);
    else
        op->data = zn_get_blob32(&d->r, ZN_DATA_SIZE_MAX_BYTES, &op->data_len);
}

static void get_op(struct decoder *d, struct zn_op *op, bool nested)
{
    memset(op, 0, sizeof(*op));
    op->version = -1;
    op->ttl_ms = -1;
    op->type = zn_get_i32(&d->r);
    if (d->r.err)
        return;
    if (op_is_create(op->type)) {
        get_path(d, op);
        get_data(d, op);
        get_acl(d, op);
        op->flags = zn_get_i32(&d->r);
        op->ttl_ms = zn_get_i64(&d->r);
        return;
    }
    switch (op->type) {
    case ZN_OP_DELETE:
    case ZN_OP_DELETECONTAINER:
    case ZN_OP_CHECK:
        get_path(d, op);
        op->version = zn_get_i32(&d->r);
        return;
    case ZN_OP_SETDATA:
        get_path(d, op);
        get_data(d, op);
        op->version = zn_get_i32(&d->r);
        return;
    case ZN_OP_SETACL:
        get_path(d, op);
        get_acl(d, op);
        op->version = zn_get_i32(&d->r);
        return;
    case ZN_OP_SYNC:
        get_path(d, op);
        return;
    case ZN_OP_CLOSESESSION:
        if (nested)
            d->r.err = ZN_EPROTO;
        return;
    case ZN_OP_MULTI: {
        if (nested) {
            d->r.err = ZN_EPROTO;
            return;
        }
        uint16_t n = zn_get_u16(&d->r);
        if (n > ZN_MULTI_OPS_MAX) {
            d->r.err = ZN_EPROTO;
            return;
        }
        op->sub = d->s->ops;
        op->sub_count = n;
        for (uint32_t i = 0; i < n && !d->r.err; i++)
            get_op(d, &d->s->ops[i], true);
        return;
    }
    default:
        d->r.err = ZN_EPROTO;
        return;
    }
}

int zn_entry_decode(const uint8_t *buf, size_t len, struct zn_entry_scratch *scratch,
                    struct zn_entry *e)
{
    struct decoder d = {.s = scratch};
    zn_rd_init(&d.r, buf, len);
    memset(e, 0, sizeof(*e));
    if (len > ZN_STORE_ENTRY_SIZE_MAX)
        return ZN_EPROTO;
    uint8_t version = zn_get_u8(&d.r);
    if (d.r.err)
        return ZN_EPROTO;
    if (version < ZN_ENTRY_VERSION_MIN || version > ZN_ENTRY_VERSION)
        return ZN_EVERSION;
    d.version = version;
    e->type = zn_get_u8(&d.r);
    if (zn_get_u16(&d.r) != 0)
        return ZN_EPROTO;
    e->zxid = zn_get_u64(&d.r);
    e->time_ms = zn_get_i64(&d.r);
    e->session = zn_get_u64(&d.r);
    if (d.r.err)
        return ZN_EPROTO;
    switch (e->type) {
    case ZN_ENTRY_CLIENT: {
        e->cxid = zn_get_i32(&d.r);
        uint16_t n = zn_get_u16(&d.r);
        if (n > ZN_STORE_IDENTITIES_MAX)
            return ZN_EPROTO;
        for (uint32_t i = 0; i < n && !d.r.err; i++) {
            struct zn_identity *id = &scratch->ids[i];
            id->scheme.ptr = zn_get_str16(&d.r, ZN_STORE_ID_LEN_MAX, &id->scheme.len);
            id->id.ptr = zn_get_str16(&d.r, ZN_STORE_ID_LEN_MAX, &id->id.len);
        }
        e->ids = scratch->ids;
        e->id_count = n;
        get_op(&d, &e->op, false);
        break;
    }
    case ZN_ENTRY_SESSION_CREATE: {
        e->timeout_ms = zn_get_u32(&d.r);
        const uint8_t *pw = zn_get_bytes(&d.r, ZN_SESSION_PASSWD_BYTES);
        if (pw)
            memcpy(e->passwd, pw, ZN_SESSION_PASSWD_BYTES);
        break;
    }
    case ZN_ENTRY_SESSION_CLOSE:
        e->close_reason = zn_get_u8(&d.r);
        if (e->close_reason > ZN_CLOSE_EXPIRED)
            return ZN_EPROTO;
        break;
    case ZN_ENTRY_EXPIRE:
        get_op(&d, &e->op, true);
        if (!d.r.err && e->op.type != ZN_OP_DELETECONTAINER)
            return ZN_EPROTO;
        break;
    case ZN_ENTRY_NOOP:
        break;
    case ZN_ENTRY_ERROR:
        if (version < 2)
            return ZN_EPROTO;
        e->cxid = zn_get_i32(&d.r);
        e->op.type = zn_get_i32(&d.r);
        e->op.version = -1;
        e->op.ttl_ms = -1;
        e->err = zn_get_i32(&d.r);
        if (!d.r.err && !err_code_valid(e->err))
            return ZN_EPROTO;
        break;
    default:
        return ZN_EPROTO;
    }
    if (d.r.err || d.r.off != d.r.len)
        return ZN_EPROTO;
    return 0;
}
