/*
 * store/read.c - reads from QSBR reader threads, lock-free.
 *
 * A read runs inside a seqcount window (store.h): if an apply started or finished while the
 * read ran, the partial reply is discarded and the read retries, so every reply reflects the
 * tree after one whole entry (its zxid is returned). Pointers reached through the tree stay
 * valid for the whole read because the reader is online (no quiescent state inside).
 *
 * ZooKeeper rules (FinalRequestProcessor, 3.9): exists needs no permission; getData and
 * getChildren need READ; getACL needs READ or ADMIN and, without ADMIN, shows digest ids as
 * "user:x"; getAllChildrenNumber needs READ; getEphemerals lists the session's own ephemerals
 * under a prefix; multiRead runs getData/getChildren ops each with its own result.
 * Context: reader.
 */
#include <string.h>

#include "common/zn_assert.h"
#include "store/internal.h"
#include "store/reply.h"

struct rctx {
    const struct zn_store *s;
    uint64_t session;
    const struct zn_identity *ids;
    uint32_t nids;
    int64_t zxid;
};

static const struct zn_znode *find(const struct rctx *c, const struct zn_op *op, int *err)
{
    if (zn_path_validate(op->path.ptr, op->path.len)) {
        *err = ZN_EBADARGUMENTS;
        return NULL;
    }
    const struct zn_znode *n = zn_node_lookup(c->s, op->path.ptr, op->path.len);
    if (!n)
        *err = ZN_ENONODE;
    return n;
}

static bool can(const struct rctx *c, const struct zn_zstate *st, uint32_t perm)
{
    return st->acl ? zn_acl_check(st->acl->e, st->acl->count, perm, c->ids, c->nids) : true;
}

static int put_children(struct zn_wbuf *w, const struct zn_znode *n)
{
    size_t count_off = w->len;
    zn_put_u32(w, 0);
    uint32_t count = 0;
    size_t bytes = 0;
    struct zn_znode *ch;
    cds_list_for_each_entry_rcu(ch, &n->children, sibling)
    {
        uint32_t nl = ch->path_len - ch->name_off;
        bytes += 4 + nl;
        if (bytes > ZN_STORE_LIST_BYTES_MAX)
            return ZN_ELIMIT;
        zn_put_blob32(w, ch->path + ch->name_off, nl);
        count++;
    }
    zn_patch_u32(w, count_off, count);
    return 0;
}

static int32_t count_descendants(const struct zn_znode *top)
{
    int32_t count = 0;
    const struct zn_znode *n = top;
    struct cds_list_head *next = rcu_dereference(((struct zn_znode *)top)->children.next);
    for (;;) {
        if (next != &n->children) {
            /* descend into the child */
            n = cds_list_entry(next, struct zn_znode, sibling);
            count++;
            next = rcu_dereference(((struct zn_znode *)n)->children.next);
            continue;
        }
        /* n's children done: continue with n's next sibling */
        if (n == top)
            break;
        next = rcu_dereference(((struct zn_znode *)n)->sibling.next);
        n = n->parent;
    }
    return count;
}

static int read_one(const struct rctx *c, const struct zn_op *op, struct zn_wbuf *w)
{
    int err = 0;
    size_t start = w->len;
    zn_reply_put_header(w, op->type, 0, c->zxid);
    const struct zn_znode *n = NULL;
    const struct zn_zstate *st = NULL;
    if (op->type != ZN_OP_MULTIREAD && op->type != ZN_OP_GETEPHEMERALS && op->type != ZN_OP_SYNC) {
        n = find(c, op, &err);
        if (n)
            st = zn_node_state(n);
    }
    if (!err) {
        switch (op->type) {
        case ZN_OP_EXISTS:
            zn_reply_put_stat(w, &st->stat);
            break;
        case ZN_OP_GETDATA:
            if (!can(c, st, ZN_PERM_READ)) {
                err = ZN_ENOAUTH;
                break;
            }
            zn_put_blob32(w, st->data ? st->data->bytes : NULL, st->data ? st->data->len : 0);
            zn_reply_put_stat(w, &st->stat);
            break;
        case ZN_OP_GETACL: {
            if (!can(c, st, ZN_PERM_READ | ZN_PERM_ADMIN)) {
                err = ZN_ENOAUTH;
                break;
            }
            bool admin = can(c, st, ZN_PERM_ADMIN);
            uint32_t cnt = st->acl ? st->acl->count : 0;
            zn_put_u32(w, cnt);
            for (uint32_t i = 0; i < cnt; i++) {
                const struct zn_acl_entry *a = &st->acl->e[i];
                zn_put_u32(w, a->perms);
                zn_put_blob32(w, a->scheme.ptr, a->scheme.len);
                const char *colon = memchr(a->id.ptr, ':', a->id.len);
                if (!admin && a->scheme.len == 6 && memcmp(a->scheme.ptr, "digest", 6) == 0 &&
                    colon) {
                    uint32_t ul = (uint32_t)(colon - a->id.ptr);
                    zn_put_u32(w, ul + 2);
                    zn_put_bytes(w, a->id.ptr, ul);
                    zn_put_bytes(w, ":x", 2);
                } else {
                    zn_put_blob32(w, a->id.ptr, a->id.len);
                }
            }
            zn_reply_put_stat(w, &st->stat);
            break;
        }
        case ZN_OP_GETCHILDREN:
        case ZN_OP_GETCHILDREN2:
            if (!can(c, st, ZN_PERM_READ)) {
                err = ZN_ENOAUTH;
                break;
            }
            err = put_children(w, n);
            if (!err && op->type == ZN_OP_GETCHILDREN2)
                zn_reply_put_stat(w, &st->stat);
            break;
        case ZN_OP_GETALLCHILDRENNUMBER:
            if (!can(c, st, ZN_PERM_READ)) {
                err = ZN_ENOAUTH;
                break;
            }
            zn_put_i32(w, count_descendants(n));
            break;
        case ZN_OP_SYNC:
            if (zn_path_validate(op->path.ptr, op->path.len)) {
                err = ZN_EBADARGUMENTS;
                break;
            }
            zn_put_blob32(w, op->path.ptr, op->path.len);
            break;
        case ZN_OP_GETEPHEMERALS: {
            if (zn_path_validate(op->path.ptr, op->path.len)) {
                err = ZN_EBADARGUMENTS;
                break;
            }
            const struct zn_session *se = zn_session_lookup(c->s, c->session);
            if (!se) {
                err = ZN_ESESSIONEXPIRED;
                break;
            }
            size_t count_off = w->len;
            zn_put_u32(w, 0);
            uint32_t count = 0;
            bool all = op->path.len == 1;
            struct zn_znode *e;
            cds_list_for_each_entry_rcu(e, &se->ephemerals, eph)
            {
                if (!all && (e->path_len < op->path.len ||
                             memcmp(e->path, op->path.ptr, op->path.len) != 0))
                    continue;
                zn_put_blob32(w, e->path, e->path_len);
                count++;
            }
            zn_patch_u32(w, count_off, count);
            break;
        }
        case ZN_OP_MULTIREAD: {
            if (op->sub_count > ZN_MULTI_OPS_MAX) {
                err = ZN_ELIMIT;
                break;
            }
            zn_put_u32(w, op->sub_count);
            for (uint32_t i = 0; i < op->sub_count; i++) {
                const struct zn_op *sub = &op->sub[i];
                if (sub->type != ZN_OP_GETDATA && sub->type != ZN_OP_GETCHILDREN) {
                    zn_reply_put_header(w, ZN_OP_ERROR, ZN_EBADARGUMENTS, c->zxid);
                    continue;
                }
                size_t sub_start = w->len;
                int rc = read_one(c, sub, w);
                if (rc) {
                    w->len = sub_start;
                    zn_reply_put_header(w, ZN_OP_ERROR, rc, c->zxid);
                }
            }
            break;
        }
        default:
            err = ZN_EUNIMPLEMENTED;
            break;
        }
    }
    if (err) {
        w->len = start;
        if (w->err == 0 || w->err == ZN_ELIMIT) {
            w->err = 0;
            zn_reply_put_header(w, op->type, err, c->zxid);
            if (op->type == ZN_OP_MULTIREAD)
                zn_put_u32(w, 0);
        }
        return err;
    }
    return 0;
}

int zn_store_read(const struct zn_store *s, uint64_t session, const struct zn_identity *ids,
                  uint32_t id_count, const struct zn_op *op, struct zn_wbuf *out,
                  uint64_t *zxid_out)
{
    struct zn_store *ms = (struct zn_store *)s;
    size_t mark = out->len;
    for (uint64_t attempt = 0;; attempt++) {
        uint64_t s1 = atomic_load_explicit(&ms->seq, memory_order_acquire);
        if (s1 & 1) {
            caa_cpu_relax();
            continue;
        }
        struct rctx c = {
            .s = s,
            .session = session,
            .ids = ids,
            .nids = id_count,
            .zxid = (int64_t)atomic_load_explicit(&ms->applied_zxid, memory_order_acquire),
        };
        out->len = mark;
        out->err = 0;
        (void)read_one(&c, op, out);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&ms->seq, memory_order_relaxed);
        if (s1 != s2)
            continue;
        if (out->err)
            return out->err;
        if (zxid_out)
            *zxid_out = (uint64_t)c.zxid;
        return 0;
    }
}

int zn_store_stat(const struct zn_store *s, const char *path, uint32_t path_len, struct zn_stat *st,
                  const uint8_t **data)
{
    const struct zn_znode *n = zn_node_lookup(s, path, path_len);
    if (!n)
        return ZN_ENONODE;
    const struct zn_zstate *zs = zn_node_state(n);
    *st = zs->stat;
    if (data)
        *data = zs->data ? zs->data->bytes : NULL;
    return 0;
}

uint32_t zn_store_expiry_candidates(const struct zn_store *s, int64_t now_ms, uint32_t max,
                                    void (*fn)(void *ctx, struct zn_str path), void *ctx)
{
    uint32_t count = 0;
    struct cds_lfht_iter it;
    struct zn_znode *n;
    ZN_LFHT_FOR_EACH(s->nodes, &it, n, ht)
    {
        if (count >= max)
            break;
        const struct zn_stat *st = &zn_node_state(n)->stat;
        bool due = false;
        if (st->num_children == 0 && st->ephemeral_owner == ZN_EPHEMERAL_CONTAINER)
            due = st->cversion > 0;
        else if (st->num_children == 0 &&
                 (st->ephemeral_owner & ZN_EPHEMERAL_TTL_MASK) == ZN_EPHEMERAL_TTL_MASK &&
                 st->ephemeral_owner != ZN_EPHEMERAL_CONTAINER)
            due = now_ms - st->mtime > (st->ephemeral_owner & ZN_EPHEMERAL_TTL_MAX_MS);
        if (due) {
            fn(ctx, (struct zn_str){n->path, n->path_len});
            count++;
        }
    }
    return count;
}

uint32_t zn_store_sessions(const struct zn_store *s,
                           void (*fn)(void *ctx, uint64_t id, uint32_t timeout_ms), void *ctx)
{
    uint32_t count = 0;
    struct cds_lfht_iter it;
    struct zn_session *se;
    ZN_LFHT_FOR_EACH(s->sessions, &it, se, ht)
    {
        fn(ctx, se->id, se->timeout_ms);
        count++;
    }
    return count;
}
