/*
 * store/reply.c - reply encoding (format in reply.h) and the byte hash used across store/.
 */
#include "store/reply.h"

#include <string.h>

uint64_t zn_hash64(const void *p, size_t len, uint64_t seed)
{
    const uint8_t *b = p;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ull);
    while (len >= 8) {
        uint64_t k = 0; /* little-endian load on every host: digests compare across machines */
        for (int i = 7; i >= 0; i--)
            k = (k << 8) | b[i];
        h ^= zn_mix64(k);
        h = (h << 27 | h >> 37) * 0x9e3779b97f4a7c15ull + 0x52dce729;
        b += 8;
        len -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < len; i++)
        k |= (uint64_t)b[i] << (8 * i);
    h ^= zn_mix64(k + len);
    return zn_mix64(h);
}

void zn_reply_put_header(struct zn_wbuf *w, int32_t op, int err, int64_t zxid)
{
    zn_put_i32(w, op);
    zn_put_i32(w, err);
    zn_put_i64(w, zxid);
}

void zn_reply_put_stat(struct zn_wbuf *w, const struct zn_stat *st)
{
    zn_put_i64(w, st->czxid);
    zn_put_i64(w, st->mzxid);
    zn_put_i64(w, st->ctime);
    zn_put_i64(w, st->mtime);
    zn_put_i32(w, st->version);
    zn_put_i32(w, st->cversion);
    zn_put_i32(w, st->aversion);
    zn_put_i64(w, st->ephemeral_owner);
    zn_put_i32(w, st->data_length);
    zn_put_i32(w, st->num_children);
    zn_put_i64(w, st->pzxid);
}

void zn_reply_put_client_stat(struct zn_wbuf *w, const struct zn_stat *st)
{
    struct zn_stat c = *st;
    /* DataNode.copyStat: the tree counts child creates in cversion (the sequential counter);
     * clients see changes, 2 * creates - live children = creates + deletes (Java int wrap). */
    c.cversion = (int32_t)(2u * (uint32_t)st->cversion - (uint32_t)st->num_children);
    /* Containers and TTL nodes show ephemeralOwner 0, as ZooKeeper's Stat does; the reserved
     * encodings stay in the tree, snapshots and the WAL. */
    if (st->ephemeral_owner == ZN_EPHEMERAL_CONTAINER ||
        (st->ephemeral_owner & ZN_EPHEMERAL_TTL_MASK) == ZN_EPHEMERAL_TTL_MASK)
        c.ephemeral_owner = 0;
    zn_reply_put_stat(w, &c);
}

void zn_stat_decode(struct zn_rd *r, struct zn_stat *st)
{
    st->czxid = zn_get_i64(r);
    st->mzxid = zn_get_i64(r);
    st->ctime = zn_get_i64(r);
    st->mtime = zn_get_i64(r);
    st->version = zn_get_i32(r);
    st->cversion = zn_get_i32(r);
    st->aversion = zn_get_i32(r);
    st->ephemeral_owner = zn_get_i64(r);
    st->data_length = zn_get_i32(r);
    st->num_children = zn_get_i32(r);
    st->pzxid = zn_get_i64(r);
}

/* Skip one encoded reply (for counting sub-replies); depth-limited to multi -> sub. */
static void decode_at(struct zn_rd *r, struct zn_reply *out, int depth);

static void skip_names(struct zn_rd *r, uint32_t n)
{
    for (uint32_t i = 0; i < n && !r->err; i++) {
        uint32_t len;
        (void)zn_get_blob32(r, UINT32_MAX, &len);
    }
}

static void decode_at(struct zn_rd *r, struct zn_reply *out, int depth)
{
    memset(out, 0, sizeof(*out));
    out->op = zn_get_i32(r);
    out->err = zn_get_i32(r);
    out->zxid = zn_get_i64(r);
    if (r->err)
        return;
    bool listy = out->op == ZN_OP_MULTI || out->op == ZN_OP_MULTIREAD;
    if (out->err != 0 && !listy)
        return;
    size_t start;
    switch (out->op) {
    case ZN_OP_CREATE:
    case ZN_OP_CREATE2:
    case ZN_OP_CREATECONTAINER:
    case ZN_OP_CREATETTL:
        out->path.ptr = (const char *)zn_get_blob32(r, UINT32_MAX, &out->path.len);
        zn_stat_decode(r, &out->stat);
        out->has_stat = true;
        break;
    case ZN_OP_SYNC:
        out->path.ptr = (const char *)zn_get_blob32(r, UINT32_MAX, &out->path.len);
        break;
    case ZN_OP_SETDATA:
    case ZN_OP_SETACL:
    case ZN_OP_EXISTS:
        zn_stat_decode(r, &out->stat);
        out->has_stat = true;
        break;
    case ZN_OP_GETDATA:
        out->data = zn_get_nblob32(r, UINT32_MAX - 1, &out->data_len, &out->data_null);
        zn_stat_decode(r, &out->stat);
        out->has_stat = true;
        break;
    case ZN_OP_GETACL:
        out->count = zn_get_u32(r);
        start = r->off;
        for (uint32_t i = 0; i < out->count && !r->err; i++) {
            (void)zn_get_u32(r);
            skip_names(r, 2);
        }
        zn_rd_init(&out->items, r->p + start, r->off - start);
        zn_stat_decode(r, &out->stat);
        out->has_stat = true;
        break;
    case ZN_OP_GETCHILDREN:
    case ZN_OP_GETCHILDREN2:
    case ZN_OP_GETEPHEMERALS:
        out->count = zn_get_u32(r);
        start = r->off;
        skip_names(r, out->count);
        zn_rd_init(&out->items, r->p + start, r->off - start);
        if (out->op == ZN_OP_GETCHILDREN2) {
            zn_stat_decode(r, &out->stat);
            out->has_stat = true;
        }
        break;
    case ZN_OP_GETALLCHILDRENNUMBER:
        out->number = zn_get_i32(r);
        break;
    case ZN_OP_CREATESESSION:
        out->session = zn_get_u64(r);
        out->timeout_ms = zn_get_u32(r);
        out->passwd = zn_get_bytes(r, 16);
        break;
    case ZN_OP_MULTI:
    case ZN_OP_MULTIREAD: {
        if (depth > 0) {
            r->err = ZN_EPROTO;
            return;
        }
        out->count = zn_get_u32(r);
        start = r->off;
        for (uint32_t i = 0; i < out->count && !r->err; i++) {
            struct zn_reply sub;
            decode_at(r, &sub, depth + 1);
        }
        zn_rd_init(&out->items, r->p + start, r->off - start);
        break;
    }
    case ZN_OP_ERROR:
    case ZN_OP_DELETE:
    case ZN_OP_DELETECONTAINER:
    case ZN_OP_CHECK:
    case ZN_OP_CLOSESESSION:
        break;
    default:
        r->err = ZN_EPROTO;
        break;
    }
}

int zn_reply_decode(const uint8_t *buf, size_t len, struct zn_reply *out)
{
    struct zn_rd r;
    zn_rd_init(&r, buf, len);
    decode_at(&r, out, 0);
    if (r.err || r.off != r.len)
        return ZN_EPROTO;
    return 0;
}

int zn_reply_next_name(struct zn_reply *r, struct zn_str *name)
{
    if (r->items.off >= r->items.len)
        return ZN_ENOENT;
    name->ptr = (const char *)zn_get_blob32(&r->items, UINT32_MAX, &name->len);
    return r->items.err ? ZN_EPROTO : 0;
}

int zn_reply_next_acl(struct zn_reply *r, struct zn_acl_entry *acl)
{
    if (r->items.off >= r->items.len)
        return ZN_ENOENT;
    acl->perms = zn_get_u32(&r->items);
    acl->scheme.ptr = (const char *)zn_get_blob32(&r->items, UINT32_MAX, &acl->scheme.len);
    acl->id.ptr = (const char *)zn_get_blob32(&r->items, UINT32_MAX, &acl->id.len);
    return r->items.err ? ZN_EPROTO : 0;
}

int zn_reply_next_sub(struct zn_reply *r, struct zn_reply *sub)
{
    if (r->items.off >= r->items.len)
        return ZN_ENOENT;
    decode_at(&r->items, sub, 1);
    return r->items.err ? ZN_EPROTO : 0;
}
