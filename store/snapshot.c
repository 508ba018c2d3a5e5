/*
 * store/snapshot.c - snapshot write/load (method and format in snapshot.h).
 */
#include "store/snapshot.h"

#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "store/alloc.h"
#include "store/internal.h"
#include "store/reply.h"

static const uint8_t magic[8] = {'Z', 'N', 'S', 'N', 'A', 'P', 0, 1};

#define SNAP_BUF_BYTES (256u * 1024u)

struct zn_snapshot {
    struct zn_store *s;
    uint64_t zxid;
    uint64_t digest;
    uint64_t znodes;
    uint64_t sessions;
    uint32_t gen;
    struct zn_wbuf session_image;
};

uint64_t zn_snapshot_zxid(const struct zn_snapshot *snap)
{
    return snap->zxid;
}

uint64_t zn_snapshot_digest(const struct zn_snapshot *snap)
{
    return snap->digest;
}

static void put_session(struct zn_wbuf *w, const struct zn_session *se)
{
    zn_put_u64(w, se->id);
    zn_put_u32(w, se->timeout_ms);
    zn_put_bytes(w, se->passwd, ZN_SESSION_PASSWD_BYTES);
    zn_put_u8(w, se->has_last);
    zn_put_i32(w, se->last_cxid);
    zn_put_blob32(w, se->last_reply, se->last_reply_len);
}

int zn_snapshot_begin(struct zn_store *s, struct zn_snapshot **out)
{
    if (s->snap_active || s->snap_releasing)
        return ZN_EBUSY;
    struct zn_snapshot *snap = zn_mem_zalloc(sizeof(*snap));
    if (!snap)
        return ZN_ENOMEM;
    zn_wbuf_init(&snap->session_image, 0);
    struct cds_lfht_iter it;
    struct zn_session *se;
    ZN_LFHT_FOR_EACH(s->sessions, &it, se, ht) put_session(&snap->session_image, se);
    if (snap->session_image.err) {
        zn_wbuf_fini(&snap->session_image);
        zn_mem_free(snap);
        return ZN_ENOMEM;
    }
    snap->s = s;
    snap->zxid = zn_store_applied_zxid(s);
    snap->digest = zn_store_digest(s);
    snap->znodes = s->node_count;
    snap->sessions = s->session_count;
    s->snap_gen++;
    if (s->snap_gen == 0)
        s->snap_gen = 1;
    snap->gen = s->snap_gen;
    s->snap_zxid = snap->zxid;
    s->dirty = NULL;
    atomic_store_explicit(&s->tombs, NULL, memory_order_relaxed);
    s->snap_active = true;
    *out = snap;
    return 0;
}

void zn_snapshot_end(struct zn_store *s, struct zn_snapshot *snap)
{
    ZN_ASSERT(s->snap_active && snap->s == s);
    /* stop keeping versions; release what was kept in bounded steps (zn_store_maintain), so
     * ending a snapshot does not stall the writer */
    s->snap_active = false;
    s->snap_releasing = true;
    zn_store_maintain(s, ZN_STORE_RELEASE_PER_APPLY);
    zn_wbuf_fini(&snap->session_image);
    zn_mem_free(snap);
}

/* ---- writing ------------------------------------------------------------------------------ */

struct sink {
    zn_snap_write_fn fn;
    void *ctx;
    struct zn_wbuf w;
    uint32_t crc;
    int err;
};

static void sink_flush(struct sink *k)
{
    if (k->err || k->w.len == 0)
        return;
    if (k->w.err) {
        k->err = k->w.err;
        return;
    }
    k->crc = zn_crc32c(k->crc, k->w.p, k->w.len);
    int rc = k->fn(k->ctx, k->w.p, k->w.len);
    if (rc)
        k->err = rc;
    k->w.len = 0;
}

static void sink_maybe_flush(struct sink *k)
{
    if (k->w.len >= SNAP_BUF_BYTES)
        sink_flush(k);
}

static const struct zn_zstate *state_at(const struct zn_znode *n, uint64_t zxid)
{
    const struct zn_zstate *st = rcu_dereference(((struct zn_znode *)n)->state);
    while (st && st->vzxid > zxid)
        st = rcu_dereference(((struct zn_zstate *)st)->prev);
    return st;
}

static void put_node(struct sink *k, const struct zn_znode *n, const struct zn_zstate *st)
{
    struct zn_wbuf *w = &k->w;
    zn_put_u8(w, 1);
    zn_put_blob32(w, n->path, n->path_len);
    zn_reply_put_stat(w, &st->stat);
    zn_put_nblob32(w, st->data ? st->data->bytes : NULL, st->data ? st->data->len : 0,
                   st->data_null);
    uint32_t cnt = st->acl ? st->acl->count : 0;
    zn_put_u16(w, (uint16_t)cnt);
    for (uint32_t i = 0; i < cnt; i++) {
        zn_put_u32(w, st->acl->e[i].perms);
        zn_put_str16(w, st->acl->e[i].scheme.ptr, (uint16_t)st->acl->e[i].scheme.len);
        zn_put_str16(w, st->acl->e[i].id.ptr, (uint16_t)st->acl->e[i].id.len);
    }
    sink_maybe_flush(k);
}

int zn_snapshot_write(struct zn_snapshot *snap, zn_snap_write_fn fn, void *ctx)
{
    struct sink k = {.fn = fn, .ctx = ctx};
    zn_wbuf_init(&k.w, 0);
    struct zn_wbuf *w = &k.w;
    zn_put_bytes(w, magic, sizeof(magic));
    zn_put_u32(w, ZN_SNAPSHOT_VERSION);
    zn_put_u32(w, 0);
    zn_put_u64(w, snap->zxid);
    zn_put_u64(w, snap->digest);
    zn_put_u64(w, snap->znodes);
    zn_put_u64(w, snap->sessions);
    zn_put_bytes(w, snap->session_image.p, snap->session_image.len);
    sink_flush(&k);

    uint64_t written = 0;
    struct cds_lfht_iter it;
    struct zn_znode *n;
    ZN_LFHT_FOR_EACH(snap->s->nodes, &it, n, ht)
    {
        if (k.err)
            break;
        const struct zn_zstate *st = state_at(n, snap->zxid);
        if (!st)
            continue; /* created after the snapshot point */
        n->snap_gen = snap->gen;
        put_node(&k, n, st);
        written++;
    }
    for (n = atomic_load_explicit(&snap->s->tombs, memory_order_acquire); n && !k.err;
         n = n->tomb_next) {
        if (n->snap_gen == snap->gen)
            continue; /* seen in the table before it was deleted */
        const struct zn_zstate *st = state_at(n, snap->zxid);
        ZN_ASSERT(st != NULL);
        n->snap_gen = snap->gen;
        put_node(&k, n, st);
        written++;
    }
    zn_put_u8(w, 0);
    zn_put_u64(w, written);
    sink_flush(&k);
    if (!k.err) {
        uint8_t crc[4] = {(uint8_t)(k.crc >> 24), (uint8_t)(k.crc >> 16), (uint8_t)(k.crc >> 8),
                          (uint8_t)k.crc};
        k.err = fn(ctx, crc, sizeof(crc));
    }
    zn_wbuf_fini(&k.w);
    if (!k.err && written != snap->znodes)
        return ZN_EINCONSISTENT;
    return k.err;
}

/* ---- loading ------------------------------------------------------------------------------ */

struct source {
    zn_snap_read_fn fn;
    void *ctx;
    uint8_t *buf;
    size_t cap;
    size_t off; /* consumed */
    size_t len; /* filled */
    uint32_t crc;
    int err;
    bool eof;
};

/* n contiguous bytes (CRC-accounted), or NULL with err set. */
static const uint8_t *src_get(struct source *r, size_t n)
{
    if (r->err)
        return NULL;
    if (r->len - r->off < n) {
        if (n > r->cap) {
            size_t ncap = r->cap;
            while (ncap < n)
                ncap *= 2;
            uint8_t *nb = zn_mem_realloc(r->buf, ncap);
            if (!nb) {
                r->err = ZN_ENOMEM;
                return NULL;
            }
            r->buf = nb;
            r->cap = ncap;
        }
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
        while (r->len < n && !r->eof) {
            long got = r->fn(r->ctx, r->buf + r->len, r->cap - r->len);
            if (got < 0) {
                r->err = (int)got;
                return NULL;
            }
            if (got == 0)
                r->eof = true;
            r->len += (size_t)got;
        }
        if (r->len < n) {
            r->err = ZN_ECORRUPT; /* truncated */
            return NULL;
        }
    }
    const uint8_t *p = r->buf + r->off;
    r->crc = zn_crc32c(r->crc, p, n);
    r->off += n;
    return p;
}

static uint64_t src_u(struct source *r, size_t n)
{
    const uint8_t *p = src_get(r, n);
    uint64_t v = 0;
    for (size_t i = 0; p && i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A length-prefixed field (u16 or u32 length, at most max). Copies into dst (cap >= max). */
static uint32_t src_field(struct source *r, size_t len_bytes, uint32_t max, void *dst)
{
    uint32_t n = (uint32_t)src_u(r, len_bytes);
    if (r->err)
        return 0;
    if (n > max) {
        r->err = ZN_ECORRUPT;
        return 0;
    }
    const uint8_t *p = src_get(r, n);
    if (p && n)
        memcpy(dst, p, n);
    return n;
}

static void src_stat(struct source *r, struct zn_stat *st)
{
    const uint8_t *p = src_get(r, 68);
    if (!p)
        return;
    struct zn_rd rd;
    zn_rd_init(&rd, p, 68);
    zn_stat_decode(&rd, st);
}

struct load_bufs {
    char path[ZN_PATH_LEN_MAX + 1];
    struct zn_acl_entry acl[ZN_STORE_ACL_ENTRIES_MAX];
    char strs[ZN_STORE_ACL_ENTRIES_MAX][2][ZN_STORE_ID_LEN_MAX];
};

static int load_sessions(struct zn_store *s, struct source *r, uint64_t count)
{
    for (uint64_t i = 0; i < count && !r->err; i++) {
        uint64_t id = src_u(r, 8);
        uint32_t timeout = (uint32_t)src_u(r, 4);
        const uint8_t *pw = src_get(r, ZN_SESSION_PASSWD_BYTES);
        uint8_t passwd[ZN_SESSION_PASSWD_BYTES];
        if (pw)
            memcpy(passwd, pw, sizeof(passwd));
        uint8_t has_last = (uint8_t)src_u(r, 1);
        int32_t cxid = (int32_t)src_u(r, 4);
        uint32_t rlen = (uint32_t)src_u(r, 4);
        if (r->err)
            break;
        if (rlen > ZN_STORE_ENTRY_SIZE_MAX * 2u || has_last > 1 || id == 0 ||
            zn_session_lookup(s, id)) {
            r->err = ZN_ECORRUPT;
            break;
        }
        const uint8_t *rp = src_get(r, rlen);
        if (!rp)
            break;
        struct zn_session *se = zn_session_insert(s, id, timeout, passwd);
        if (has_last)
            zn_session_set_last(s, se, cxid, rp, rlen);
        else if (rlen != 0)
            r->err = ZN_ECORRUPT;
    }
    return r->err;
}

static int load_node(struct zn_store *s, struct source *r, struct load_bufs *b, uint64_t zxid,
                     uint32_t version)
{
    uint32_t plen = src_field(r, 4, ZN_PATH_LEN_MAX, b->path);
    struct zn_stat st;
    src_stat(r, &st);
    uint32_t dlen = (uint32_t)src_u(r, 4);
    if (r->err)
        return r->err;
    bool data_null = version >= 2 && dlen == ZN_BLOB_NULL_LEN; /* version 1 has no null data */
    if (data_null)
        dlen = 0;
    if (dlen > s->data_size_max || zn_path_validate(b->path, plen) ||
        st.data_length != (int32_t)dlen || st.num_children < 0)
        return ZN_ECORRUPT;
    const uint8_t *data = src_get(r, dlen);
    if (r->err)
        return r->err;
    struct zn_zstate *zs = zn_mem_zalloc(sizeof(*zs));
    if (!zs)
        return ZN_ENOMEM;
    zs->vzxid = zxid;
    zs->stat = st;
    zs->data = zn_blob_new(s, data, dlen);
    zs->data_null = data_null;
    uint32_t nacl = (uint32_t)src_u(r, 2);
    if (nacl > ZN_STORE_ACL_ENTRIES_MAX)
        r->err = ZN_ECORRUPT;
    for (uint32_t i = 0; i < nacl && !r->err; i++) {
        b->acl[i].perms = (uint32_t)src_u(r, 4);
        b->acl[i].scheme.len = src_field(r, 2, ZN_STORE_ID_LEN_MAX, b->strs[i][0]);
        b->acl[i].scheme.ptr = b->strs[i][0];
        b->acl[i].id.len = src_field(r, 2, ZN_STORE_ID_LEN_MAX, b->strs[i][1]);
        b->acl[i].id.ptr = b->strs[i][1];
    }
    if (!r->err && nacl)
        zs->acl = zn_acl_intern(s, b->acl, nacl);
    if (r->err || zn_node_lookup(s, b->path, plen)) {
        zn_blob_unref(s, zs->data);
        zn_acl_unref(s, zs->acl);
        zn_mem_free(zs); /* never published */
        return r->err ? r->err : ZN_ECORRUPT;
    }
    zn_node_insert(s, NULL, b->path, plen, zs);
    return 0;
}

/* Link children to parents and ephemerals to sessions; check counts. */
static int link_tree(struct zn_store *s)
{
    struct cds_lfht_iter it;
    struct zn_znode *n;
    s->root = zn_node_lookup(s, "/", 1);
    if (!s->root)
        return ZN_ECORRUPT;
    ZN_LFHT_FOR_EACH(s->nodes, &it, n, ht)
    {
        if (n == s->root)
            continue;
        int pl = zn_parent_len(n->path, n->path_len);
        struct zn_znode *p = zn_node_lookup(s, n->path, (uint32_t)pl);
        if (!p)
            return ZN_ECORRUPT;
        n->parent = p;
        cds_list_add_tail_rcu(&n->sibling, &p->children);
        int64_t owner = n->state->stat.ephemeral_owner;
        if (owner != 0 && owner != ZN_EPHEMERAL_CONTAINER &&
            (owner & ZN_EPHEMERAL_TTL_MASK) != ZN_EPHEMERAL_TTL_MASK) {
            struct zn_session *se = zn_session_lookup(s, (uint64_t)owner);
            if (!se)
                return ZN_ECORRUPT;
            cds_list_add_tail_rcu(&n->eph, &se->ephemerals);
            se->eph_count++;
        }
    }
    ZN_LFHT_FOR_EACH(s->nodes, &it, n, ht)
    {
        int32_t count = 0;
        struct zn_znode *ch;
        cds_list_for_each_entry(ch, &n->children, sibling) count++;
        if (count != n->state->stat.num_children)
            return ZN_ECORRUPT;
    }
    return 0;
}

/* Detach every node from its links so zn_store_destroy can free a half-built tree. */
static void unlink_all(struct zn_store *s)
{
    struct cds_lfht_iter it;
    struct zn_znode *n;
    ZN_LFHT_FOR_EACH(s->nodes, &it, n, ht)
    {
        CDS_INIT_LIST_HEAD(&n->children);
        CDS_INIT_LIST_HEAD(&n->eph);
    }
    struct zn_session *se;
    ZN_LFHT_FOR_EACH(s->sessions, &it, se, ht) CDS_INIT_LIST_HEAD(&se->ephemerals);
}

int zn_snapshot_load(const struct zn_store_config *cfg, zn_snap_read_fn fn, void *ctx,
                     struct zn_store **out)
{
    struct source r = {.fn = fn, .ctx = ctx, .cap = SNAP_BUF_BYTES};
    r.buf = zn_mem_alloc(r.cap);
    struct load_bufs *b = zn_mem_alloc(sizeof(*b));
    struct zn_store *s = zn_store_alloc_empty(cfg);
    int rc = 0;
    if (!r.buf || !b || !s) {
        rc = ZN_ENOMEM;
        goto out;
    }
    const uint8_t *m = src_get(&r, sizeof(magic));
    if (!m || memcmp(m, magic, sizeof(magic)) != 0) {
        rc = r.err ? r.err : ZN_ECORRUPT;
        goto out;
    }
    uint32_t version = (uint32_t)src_u(&r, 4);
    uint32_t flags = (uint32_t)src_u(&r, 4);
    if (!r.err && (version < ZN_SNAPSHOT_VERSION_MIN || version > ZN_SNAPSHOT_VERSION)) {
        rc = ZN_EVERSION;
        goto out;
    }
    uint64_t zxid = src_u(&r, 8);
    uint64_t digest = src_u(&r, 8);
    uint64_t znodes = src_u(&r, 8);
    uint64_t sessions = src_u(&r, 8);
    if (!r.err && (flags != 0 || sessions > ZN_SESSIONS_MAX)) {
        rc = ZN_ECORRUPT;
        goto out;
    }
    rc = load_sessions(s, &r, sessions);
    uint64_t count = 0;
    while (!rc && !r.err) {
        uint8_t tag = (uint8_t)src_u(&r, 1);
        if (r.err)
            break;
        if (tag == 0)
            break;
        if (tag != 1 || count == znodes) {
            rc = ZN_ECORRUPT;
            break;
        }
        rc = load_node(s, &r, b, zxid, version);
        count++;
    }
    uint64_t trailer = src_u(&r, 8);
    uint32_t crc_calc = r.crc;
    uint32_t crc = (uint32_t)src_u(&r, 4);
    if (!rc)
        rc = r.err;
    if (!rc && (trailer != count || count != znodes || crc != crc_calc))
        rc = ZN_ECORRUPT;
    if (!rc && r.len != r.off)
        rc = ZN_ECORRUPT; /* trailing bytes */
    if (!rc)
        rc = link_tree(s);
    if (!rc && zn_store_digest(s) != digest)
        rc = ZN_ECORRUPT;
    if (!rc)
        atomic_store_explicit(&s->applied_zxid, zxid, memory_order_release);
out:
    if (rc && s) {
        unlink_all(s);
        zn_store_destroy(s);
        s = NULL;
    }
    zn_mem_free(r.buf);
    zn_mem_free(b);
    *out = s;
    return rc;
}
