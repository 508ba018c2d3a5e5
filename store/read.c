/*
 * store/read.c - reads from QSBR reader threads, lock-free.
 *
 * A read has two phases. 1: inside a seqcount window (store.h) it resolves every path it needs
 * to a znode and that znode's current immutable version; if an apply was running or finished
 * meanwhile, it resolves again (the window is a few hash lookups, so a busy writer cannot
 * starve it). All versions resolved therefore belong to the tree after one whole entry - a
 * multi is never seen half applied - and that entry's zxid is the reply's zxid. 2: outside the
 * window it copies Stat, data and ACLs from those immutable versions. Listings
 * (getChildren, getEphemerals, getAllChildrenNumber) walk RCU lists; they run phase 2 inside
 * the window as well, retried up to ZN_STORE_READ_LIST_TRIES times; a listing that still
 * overlaps applies after that (a huge parent under heavy writes) is served from one last walk
 * outside the window: every name returned was a child during the walk, but creates/deletes
 * that overlapped it may be mixed (counted: zn_store_read_list_fallbacks). Pointers stay valid for the
 * whole read because the reader is online (no quiescent state inside).
 *
 * ZooKeeper rules (FinalRequestProcessor, 3.9): exists needs no permission; getData and
 * getChildren need READ; getACL needs READ or ADMIN and, without ADMIN, shows digest ids as
 * "user:x"; getAllChildrenNumber needs READ; getEphemerals lists the session's own ephemerals
 * under a prefix; multiRead runs getData/getChildren ops each with its own result.
 * Context: reader.
 */
#include <string.h>

#include "common/zn_assert.h"
#include "store/alloc.h"
#include "store/internal.h"
#include "store/reply.h"

#define RESOLVED_MAX (1u + ZN_MULTI_OPS_MAX)

struct rctx {
    const struct zn_store *s;
    uint64_t session;
    const struct zn_identity *ids;
    uint32_t nids;
    int64_t zxid;
    uint32_t idx; /* next resolved slot (phase 2) */
    uint32_t count;
    const struct zn_znode **node; /* one slot per op and sub-op */
    const struct zn_zstate **state;
};

struct resolved_big {
    const struct zn_znode *node[RESOLVED_MAX];
    const struct zn_zstate *state[RESOLVED_MAX];
};

static bool needs_node(int32_t type)
{
    return type != ZN_OP_MULTIREAD && type != ZN_OP_GETEPHEMERALS && type != ZN_OP_SYNC;
}

/* Phase 1: resolve op (and multiRead sub-ops, one level only) to node + version, in op order;
 * exactly one slot per op read_one will visit, so the slots never exceed RESOLVED_MAX. */
static void resolve(struct rctx *c, const struct zn_op *op, bool top)
{
    const struct zn_znode *n = NULL;
    if (needs_node(op->type) && zn_path_validate(op->path.ptr, op->path.len) == 0)
        n = zn_node_lookup(c->s, op->path.ptr, op->path.len);
    ZN_ASSERT(c->count < (top ? 1u : RESOLVED_MAX));
    c->node[c->count] = n;
    c->state[c->count] = n ? zn_node_state(n) : NULL;
    c->count++;
    if (top && op->type == ZN_OP_MULTIREAD && op->sub_count <= ZN_MULTI_OPS_MAX)
        for (uint32_t i = 0; i < op->sub_count; i++)
            resolve(c, &op->sub[i], false);
}

/* Phase 2: the resolved node of the next op; errors as ZooKeeper reports them. */
static const struct zn_znode *find(struct rctx *c, const struct zn_op *op,
                                   const struct zn_zstate **st, int *err)
{
    ZN_ASSERT(c->idx < c->count);
    const struct zn_znode *n = c->node[c->idx];
    *st = c->state[c->idx];
    c->idx++;
    if (zn_path_validate(op->path.ptr, op->path.len)) {
        /* ZooKeeper's reads only look the path up (FinalRequestProcessor): a path that cannot
         * name a znode is NoNode (one over the length limit stays BadArguments). */
        *err = op->path.len > ZN_PATH_LEN_MAX ? ZN_EBADARGUMENTS : ZN_ENONODE;
        return NULL;
    }
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

static int read_one(struct rctx *c, const struct zn_op *op, struct zn_wbuf *w)
{
    int err = 0;
    size_t start = w->len;
    zn_reply_put_header(w, op->type, 0, c->zxid);
    const struct zn_znode *n = NULL;
    const struct zn_zstate *st = NULL;
    if (needs_node(op->type))
        n = find(c, op, &st, &err);
    else
        c->idx++;
    if (!err) {
        switch (op->type) {
        case ZN_OP_EXISTS:
            zn_reply_put_client_stat(w, &st->stat);
            break;
        case ZN_OP_GETDATA:
            if (!can(c, st, ZN_PERM_READ)) {
                err = ZN_ENOAUTH;
                break;
            }
            zn_put_nblob32(w, st->data ? st->data->bytes : NULL, st->data ? st->data->len : 0,
                           st->data_null);
            zn_reply_put_client_stat(w, &st->stat);
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
            zn_reply_put_client_stat(w, &st->stat);
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
                zn_reply_put_client_stat(w, &st->stat);
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
                    c->idx++;
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

static bool lists(const struct zn_op *op)
{
    switch (op->type) {
    case ZN_OP_GETCHILDREN:
    case ZN_OP_GETCHILDREN2:
    case ZN_OP_GETEPHEMERALS:
    case ZN_OP_GETALLCHILDRENNUMBER:
        return true;
    case ZN_OP_MULTIREAD:
        for (uint32_t i = 0; i < op->sub_count && i < ZN_MULTI_OPS_MAX; i++)
            if (lists(&op->sub[i]))
                return true;
        return false;
    default:
        return false;
    }
}

int zn_store_read(const struct zn_store *s, uint64_t session, const struct zn_identity *ids,
                  uint32_t id_count, const struct zn_op *op, struct zn_wbuf *out,
                  uint64_t *zxid_out)
{
    struct zn_store *ms = (struct zn_store *)s;
    const struct zn_znode *node1[1];
    const struct zn_zstate *state1[1];
    struct resolved_big *big = NULL; /* multiRead: 16 KiB, too big for a worker's stack */
    struct rctx ctx = {
        .s = s, .session = session, .ids = ids, .nids = id_count, .node = node1, .state = state1};
    struct rctx *c = &ctx;
    if (op->type == ZN_OP_MULTIREAD) {
        big = zn_mem_alloc(sizeof(*big));
        if (!big)
            return ZN_ENOMEM;
        c->node = big->node;
        c->state = big->state;
    }
    /* listings run phase 2 inside the window too, for a bounded number of attempts */
    uint32_t listing_tries = lists(op) ? ZN_STORE_READ_LIST_TRIES : 0;
    size_t mark = out->len;
    for (uint32_t attempt = 0;; attempt++) {
        uint64_t s1 = atomic_load_explicit(&ms->seq, memory_order_acquire);
        if (s1 & 1) {
            caa_cpu_relax(); /* an apply is running: it takes microseconds */
            continue;
        }
        c->zxid = (int64_t)atomic_load_explicit(&ms->applied_zxid, memory_order_acquire);
        c->count = 0;
        resolve(c, op, true);
        bool in_window = attempt < listing_tries;
        if (in_window) {
            out->len = mark;
            out->err = 0;
            c->idx = 0;
            (void)read_one(c, op, out);
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&ms->seq, memory_order_relaxed) != s1)
            continue;
        if (!in_window) {
            if (listing_tries)
                atomic_fetch_add_explicit(&ms->read_list_fallbacks, 1, memory_order_relaxed);
            out->len = mark;
            out->err = 0;
            c->idx = 0;
            (void)read_one(c, op, out);
        }
        break;
    }
    int rc = out->err;
    if (rc)
        out->len = mark;
    else if (zxid_out)
        *zxid_out = (uint64_t)c->zxid;
    zn_mem_free(big);
    return rc;
}

uint64_t zn_store_read_list_fallbacks(const struct zn_store *s)
{
    return atomic_load_explicit(&((struct zn_store *)s)->read_list_fallbacks, memory_order_relaxed);
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

int zn_store_session_get(const struct zn_store *s, uint64_t id, uint32_t *timeout_ms,
                         uint8_t passwd[ZN_SESSION_PASSWD_BYTES])
{
    const struct zn_session *se = zn_session_lookup(s, id);
    if (!se)
        return ZN_EUNKNOWNSESSION;
    if (timeout_ms)
        *timeout_ms = se->timeout_ms;
    if (passwd)
        memcpy(passwd, se->passwd, ZN_SESSION_PASSWD_BYTES);
    return 0;
}

int zn_store_session_last_cxid(const struct zn_store *s, uint64_t id, bool *has_last,
                               int32_t *last_cxid)
{
    const struct zn_session *se = zn_session_lookup(s, id);
    *has_last = se != NULL && se->has_last;
    *last_cxid = *has_last ? se->last_cxid : 0;
    return se ? 0 : ZN_EUNKNOWNSESSION;
}
