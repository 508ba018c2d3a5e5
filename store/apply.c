/*
 * store/apply.c - zn_store_apply: one committed entry -> tree changes, reply, watch triggers.
 *
 * Pure (STYLE.md 4): the outcome depends only on the tree and the entry; time and ids come from
 * the leader's stamp. Every operation runs twice through the same code (ZooKeeper's
 * PrepRequestProcessor + DataTree split, in one place):
 *   1. prep: against an overlay of pending records (path -> exists, Stat, ACL), so a multi sees
 *      its own earlier ops and the first failure is found before anything changes;
 *   2. commit: only when prep succeeded, against the tree itself, producing the reply and the
 *      triggers. Commit repeats prep's checks on the same state, so they pass (asserted).
 * A multi is therefore all-or-nothing, and readers never see part of it (seqcount, store.h).
 *
 * ZooKeeper rules implemented here (PrepRequestProcessor / DataTree, 3.9):
 *  create: mode/TTL -> BadArguments; ACL fixup -> InvalidACL; parent missing -> NoNode; CREATE
 *    on parent -> NoAuth; path (with the sequential suffix) -> BadArguments; exists ->
 *    NodeExists; ephemeral parent -> NoChildrenForEphemerals. Sequential suffix = %010d of the
 *    parent's cversion. Parent: cversion+1, pzxid = zxid, numChildren+1. New node: czxid = mzxid
 *    = pzxid = zxid, ctime = mtime = leader time, versions 0, ephemeralOwner = session,
 *    container (INT64_MIN) or TTL (0xff.. | ttl).
 *  delete: path -> BadArguments; parent missing -> NoNode; DELETE on parent -> NoAuth; node
 *    missing -> NoNode; version -> BadVersion; children -> NotEmpty. Parent: pzxid = zxid,
 *    numChildren-1, cversion unchanged (DataTree.deleteNode).
 *  setData: path; node -> NoNode; WRITE -> NoAuth; version -> BadVersion. version+1, mzxid,
 *    mtime, dataLength.   setACL: path; fixup -> InvalidACL; node -> NoNode; ADMIN -> NoAuth;
 *    aversion check -> BadVersion; aversion+1 (mzxid unchanged).   check: path; node -> NoNode;
 *    READ -> NoAuth; version -> BadVersion.
 * Reserved nodes /, /zookeeper, /zookeeper/config, /zookeeper/quota cannot be deleted
 * (BadArguments); /zookeeper/config is world-readable only, like ZooKeeper's.
 *
 * Context: writer.
 */
#include <stdio.h>
#include <string.h>

#include "common/zn_assert.h"
#include "store/alloc.h"
#include "store/internal.h"
#include "store/reply.h"

struct rec {
    bool exists;
    struct zn_stat stat;
    const struct zn_acl_entry *acl;
    uint32_t acl_n;
};

struct ov {
    const char *path;
    uint32_t len;
    uint64_t hash;
    struct rec r;
};

#define OV_MAX         (2u * ZN_MULTI_OPS_MAX + 4u)
#define FIXUP_ACLS_MAX (2u * ZN_STORE_ENTRY_ACLS_MAX)
#define ARENA_CHUNK    (64u * 1024u)

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    char bytes[];
};

struct ctx {
    struct zn_store *s;
    const struct zn_entry *e;
    bool commit;
    struct ov *ov;
    uint32_t nov;
    struct zn_acl_entry *fix;
    uint32_t nfix;
    struct chunk *arena;
    struct zn_session *session;
};

struct apply_scratch {
    struct ov ov[OV_MAX];
    struct zn_acl_entry fix[FIXUP_ACLS_MAX];
};

static void *arena_alloc(struct ctx *c, size_t n)
{
    if (!c->arena || c->arena->cap - c->arena->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        struct chunk *ch = zn_mem_alloc(sizeof(*ch) + cap);
        if (!ch)
            zn_panic("store: out of memory in apply");
        ch->next = c->arena;
        ch->used = 0;
        ch->cap = cap;
        c->arena = ch;
    }
    void *p = c->arena->bytes + c->arena->used;
    c->arena->used += n;
    return p;
}

static void arena_free(struct ctx *c)
{
    while (c->arena) {
        struct chunk *next = c->arena->next;
        zn_mem_free(c->arena);
        c->arena = next;
    }
}

/* ---- the view: overlay (prep) or tree (commit) ------------------------------------------- */

static void rec_from_node(struct rec *r, const struct zn_znode *n)
{
    if (!n) {
        memset(r, 0, sizeof(*r));
        return;
    }
    const struct zn_zstate *st = n->state;
    r->exists = true;
    r->stat = st->stat;
    r->acl = st->acl ? st->acl->e : NULL;
    r->acl_n = st->acl ? st->acl->count : 0;
}

static struct rec *view_get(struct ctx *c, const char *path, uint32_t len, struct rec *tmp)
{
    uint64_t h = zn_path_hash(path, len);
    if (c->commit) {
        rec_from_node(tmp, zn_node_lookup(c->s, path, len));
        return tmp;
    }
    for (uint32_t i = 0; i < c->nov; i++)
        if (c->ov[i].hash == h && c->ov[i].len == len && memcmp(c->ov[i].path, path, len) == 0)
            return &c->ov[i].r;
    ZN_ASSERT(c->nov < OV_MAX);
    struct ov *o = &c->ov[c->nov++];
    o->path = path;
    o->len = len;
    o->hash = h;
    rec_from_node(&o->r, zn_node_lookup(c->s, path, len));
    return &o->r;
}

static void add_trigger(struct ctx *c, int32_t type, const char *path, uint32_t len,
                        const struct zn_acl *acl)
{
    struct zn_store *s = c->s;
    if (s->trig_count == s->trig_cap) {
        uint32_t ncap = s->trig_cap ? s->trig_cap * 2 : 64;
        struct zn_trigger *t = zn_mem_realloc(s->trig, ncap * sizeof(*t));
        if (!t)
            zn_panic("store: out of memory for watch triggers");
        s->trig = t;
        s->trig_cap = ncap;
    }
    size_t off = s->trig_paths.len;
    zn_put_bytes(&s->trig_paths, path, len);
    zn_put_u8(&s->trig_paths, 0);
    if (s->trig_paths.err)
        zn_panic("store: out of memory for watch triggers");
    s->trig[s->trig_count++] = (struct zn_trigger){
        .type = type,
        .path = {(const char *)(uintptr_t)off, len}, /* offset; made a pointer at the end */
        .zxid = (int64_t)c->e->zxid,
        .acl = acl,
    };
}

static struct zn_znode *must_lookup(struct ctx *c, const char *path, uint32_t len)
{
    struct zn_znode *n = zn_node_lookup(c->s, path, len);
    ZN_ASSERT(n != NULL);
    return n;
}

static void do_create(struct ctx *c, const char *path, uint32_t len, uint32_t plen,
                      const struct rec *parent, const struct zn_stat *st, const struct zn_op *op,
                      const struct zn_acl_entry *acl, uint32_t acl_n)
{
    struct zn_stat pst = parent->stat;
    pst.cversion++;
    pst.pzxid = (int64_t)c->e->zxid;
    pst.num_children++;
    if (!c->commit) {
        struct rec tmp;
        struct rec *r = view_get(c, path, len, &tmp);
        *r = (struct rec){true, *st, acl, acl_n};
        *view_get(c, path, plen, &tmp) = (struct rec){true, pst, parent->acl, parent->acl_n};
        return;
    }
    struct zn_store *s = c->s;
    struct zn_znode *pn = must_lookup(c, path, plen);
    struct zn_zstate *zs = zn_mem_zalloc(sizeof(*zs));
    if (!zs)
        zn_panic("store: out of memory for a znode version");
    zs->vzxid = c->e->zxid;
    zs->stat = *st;
    zs->data = zn_blob_new(s, op->data, op->data_len);
    zs->data_null = op->data_null;
    zs->acl = zn_acl_intern(s, acl, acl_n);
    struct zn_znode *n = zn_node_insert(s, pn, path, len, zs);
    if (st->ephemeral_owner != 0 && st->ephemeral_owner == (int64_t)c->e->session && c->session) {
        cds_list_add_tail_rcu(&n->eph, &c->session->ephemerals);
        c->session->eph_count++;
    }
    struct zn_zstate *ps = zn_state_dup(pn->state, c->e->zxid);
    ps->stat = pst;
    zn_node_publish(s, pn, ps);
    add_trigger(c, ZN_EVENT_NODE_CREATED, path, len, zs->acl);
    add_trigger(c, ZN_EVENT_NODE_CHILDREN_CHANGED, path, plen, ps->acl);
}

static void do_delete(struct ctx *c, const char *path, uint32_t len, uint32_t plen,
                      const struct rec *parent)
{
    struct zn_stat pst = parent->stat;
    pst.pzxid = (int64_t)c->e->zxid;
    pst.num_children--;
    if (!c->commit) {
        struct rec tmp;
        memset(view_get(c, path, len, &tmp), 0, sizeof(struct rec));
        *view_get(c, path, plen, &tmp) = (struct rec){true, pst, parent->acl, parent->acl_n};
        return;
    }
    struct zn_store *s = c->s;
    struct zn_znode *n = must_lookup(c, path, len);
    struct zn_znode *pn = n->parent;
    if (!cds_list_empty(&n->eph)) {
        struct zn_session *owner = zn_session_lookup(s, (uint64_t)n->state->stat.ephemeral_owner);
        ZN_ASSERT(owner && owner->eph_count > 0);
        owner->eph_count--;
    }
    const struct zn_acl *acl = n->state->acl;
    add_trigger(c, ZN_EVENT_NODE_DELETED, path, len, acl);
    zn_node_remove(s, n);
    struct zn_zstate *ps = zn_state_dup(pn->state, c->e->zxid);
    ps->stat = pst;
    zn_node_publish(s, pn, ps);
    add_trigger(c, ZN_EVENT_NODE_CHILDREN_CHANGED, path, plen, ps->acl);
}

static void do_update(struct ctx *c, const char *path, uint32_t len, struct rec *r,
                      const struct zn_stat *st, const struct zn_op *set_data,
                      const struct zn_acl_entry *acl, uint32_t acl_n)
{
    if (!c->commit) {
        r->stat = *st;
        if (acl) {
            r->acl = acl;
            r->acl_n = acl_n;
        }
        return;
    }
    struct zn_store *s = c->s;
    struct zn_znode *n = must_lookup(c, path, len);
    struct zn_zstate *zs = zn_state_dup(n->state, c->e->zxid);
    zs->stat = *st;
    if (set_data) {
        zn_blob_unref(s, zs->data);
        zs->data = zn_blob_new(s, set_data->data, set_data->data_len);
        zs->data_null = set_data->data_null;
        add_trigger(c, ZN_EVENT_NODE_DATA_CHANGED, path, len, zs->acl);
    }
    if (acl) {
        zn_acl_unref(s, zs->acl);
        zs->acl = zn_acl_intern(s, acl, acl_n);
    }
    zn_node_publish(s, n, zs);
}

/* ---- operations --------------------------------------------------------------------------- */

static bool is_reserved(const char *path, uint32_t len)
{
    static const char *const reserved[] = {"/", "/zookeeper", "/zookeeper/config",
                                           "/zookeeper/quota"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strlen(reserved[i]) == len && memcmp(reserved[i], path, len) == 0)
            return true;
    return false;
}

static bool check_version(int32_t expected, int32_t current)
{
    return expected == -1 || expected == current;
}

static bool mode_valid(int32_t flags)
{
    return flags >= ZN_MODE_PERSISTENT && flags <= ZN_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

static int fixup(struct ctx *c, const struct zn_op *op, const struct zn_acl_entry **out,
                 uint32_t *out_n)
{
    struct zn_acl_entry local[ZN_STORE_ACL_ENTRIES_MAX];
    uint32_t n = 0;
    int rc = zn_acl_fixup(op->acl, op->acl_count, c->e->ids, c->e->id_count, local, &n);
    if (rc)
        return rc;
    if (c->nfix + n > FIXUP_ACLS_MAX)
        return ZN_EINVALIDACL;
    struct zn_acl_entry *dst = &c->fix[c->nfix];
    memcpy(dst, local, n * sizeof(local[0]));
    c->nfix += n;
    *out = dst;
    *out_n = n;
    return 0;
}

static bool allowed(struct ctx *c, const struct rec *r, uint32_t perm)
{
    return zn_acl_check(r->acl, r->acl_n, perm, c->e->ids, c->e->id_count);
}

static int op_create(struct ctx *c, const struct zn_op *op, struct zn_wbuf *w)
{
    int32_t mode = op->flags;
    if (!mode_valid(mode))
        return ZN_EBADARGUMENTS;
    bool ttl_mode =
        mode == ZN_MODE_PERSISTENT_WITH_TTL || mode == ZN_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
    bool seq = mode == ZN_MODE_PERSISTENT_SEQUENTIAL || mode == ZN_MODE_EPHEMERAL_SEQUENTIAL ||
               mode == ZN_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
    bool eph = mode == ZN_MODE_EPHEMERAL || mode == ZN_MODE_EPHEMERAL_SEQUENTIAL;
    if (ttl_mode ? (op->ttl_ms <= 0 || op->ttl_ms > ZN_EPHEMERAL_TTL_MAX_MS) : op->ttl_ms >= 0)
        return ZN_EBADARGUMENTS; /* EphemeralType.validateTTL */
    if ((op->type == ZN_OP_CREATECONTAINER) != (mode == ZN_MODE_CONTAINER) ||
        (op->type == ZN_OP_CREATETTL) != ttl_mode)
        return ZN_EBADARGUMENTS;
    if (op->data_len > c->s->data_size_max)
        return ZN_ELIMIT;
    const char *path = op->path.ptr;
    uint32_t len = op->path.len;
    if (len == 0 || len > ZN_PATH_LEN_MAX || memchr(path, '\0', len) || path[0] != '/')
        return ZN_EBADARGUMENTS;
    int plen_i = len == 1 ? 1 : zn_parent_len(path, len);
    if (seq && path[len - 1] == '/')
        plen_i = len == 1 ? 1 : (int)len - 1;
    if (seq && len + 10 > ZN_PATH_LEN_MAX)
        return ZN_EBADARGUMENTS;
    const struct zn_acl_entry *acl;
    uint32_t acl_n;
    int rc = fixup(c, op, &acl, &acl_n);
    if (rc)
        return rc;
    uint32_t plen = (uint32_t)plen_i;
    struct rec ptmp, ntmp;
    struct rec *parent = view_get(c, path, plen, &ptmp);
    if (!parent->exists)
        return ZN_ENONODE;
    if (!allowed(c, parent, ZN_PERM_CREATE))
        return ZN_ENOAUTH;
    /* The full path is validated after the parent lookup, as PrepRequestProcessor does: a
     * malformed path under a missing parent (`/a/x/`, `/a//x`) is NoNode. */
    if (seq) {
        /* validate with a suffix in place (PathUtils.validatePath(path, isSequential)) */
        char *probe = arena_alloc(c, len + 1);
        memcpy(probe, path, len);
        probe[len] = '1';
        if (zn_path_validate(probe, len + 1))
            return ZN_EBADARGUMENTS;
    } else if (zn_path_validate(path, len)) {
        return ZN_EBADARGUMENTS;
    }
    struct rec pcopy = *parent;
    if (seq) {
        char *full = arena_alloc(c, len + 11);
        memcpy(full, path, len);
        char suffix[16];
        snprintf(suffix, sizeof(suffix), "%010d", pcopy.stat.cversion);
        memcpy(full + len, suffix, 10);
        full[len + 10] = '\0';
        path = full;
        len += 10;
        if (zn_path_validate(path, len))
            return ZN_EBADARGUMENTS;
    }
    if (len == 1)
        return ZN_ENODEEXISTS; /* "/" */
    if (view_get(c, path, len, &ntmp)->exists)
        return ZN_ENODEEXISTS;
    if (pcopy.stat.ephemeral_owner != 0 && pcopy.stat.ephemeral_owner != ZN_EPHEMERAL_CONTAINER &&
        (pcopy.stat.ephemeral_owner & ZN_EPHEMERAL_TTL_MASK) != ZN_EPHEMERAL_TTL_MASK)
        return ZN_ENOCHILDRENFOREPHEMERALS;
    if (eph && !c->session)
        return ZN_ESESSIONEXPIRED;
    int64_t owner = 0;
    if (mode == ZN_MODE_CONTAINER)
        owner = ZN_EPHEMERAL_CONTAINER;
    else if (ttl_mode)
        owner = ZN_EPHEMERAL_TTL_MASK | op->ttl_ms;
    else if (eph)
        owner = (int64_t)c->e->session;
    int64_t z = (int64_t)c->e->zxid;
    struct zn_stat st = {
        .czxid = z,
        .mzxid = z,
        .ctime = c->e->time_ms,
        .mtime = c->e->time_ms,
        .ephemeral_owner = owner,
        .data_length = (int32_t)op->data_len,
        .pzxid = z,
    };
    do_create(c, path, len, plen, &pcopy, &st, op, acl, acl_n);
    if (w) {
        zn_put_blob32(w, path, len);
        zn_reply_put_client_stat(w, &st);
    }
    return 0;
}

static int op_delete(struct ctx *c, const struct zn_op *op, bool internal)
{
    const char *path = op->path.ptr;
    uint32_t len = op->path.len;
    if (zn_path_validate(path, len))
        return ZN_EBADARGUMENTS;
    if (is_reserved(path, len))
        return ZN_EBADARGUMENTS;
    uint32_t plen = (uint32_t)zn_parent_len(path, len);
    struct rec ptmp, ntmp;
    struct rec *parent = view_get(c, path, plen, &ptmp);
    if (!parent->exists)
        return ZN_ENONODE;
    if (!internal && !allowed(c, parent, ZN_PERM_DELETE))
        return ZN_ENOAUTH;
    struct rec pcopy = *parent;
    struct rec *node = view_get(c, path, len, &ntmp);
    if (!node->exists)
        return ZN_ENONODE;
    if (!check_version(op->version, node->stat.version))
        return ZN_EBADVERSION;
    if (node->stat.num_children > 0)
        return ZN_ENOTEMPTY;
    do_delete(c, path, len, plen, &pcopy);
    return 0;
}

static int op_setdata(struct ctx *c, const struct zn_op *op, struct zn_wbuf *w)
{
    if (op->data_len > c->s->data_size_max)
        return ZN_ELIMIT;
    if (zn_path_validate(op->path.ptr, op->path.len))
        return ZN_EBADARGUMENTS;
    struct rec tmp;
    struct rec *node = view_get(c, op->path.ptr, op->path.len, &tmp);
    if (!node->exists)
        return ZN_ENONODE;
    if (!allowed(c, node, ZN_PERM_WRITE))
        return ZN_ENOAUTH;
    if (!check_version(op->version, node->stat.version))
        return ZN_EBADVERSION;
    struct zn_stat st = node->stat;
    st.version++;
    st.mzxid = (int64_t)c->e->zxid;
    st.mtime = c->e->time_ms;
    st.data_length = (int32_t)op->data_len;
    do_update(c, op->path.ptr, op->path.len, node, &st, op, NULL, 0);
    if (w)
        zn_reply_put_client_stat(w, &st);
    return 0;
}

static int op_setacl(struct ctx *c, const struct zn_op *op, struct zn_wbuf *w)
{
    if (zn_path_validate(op->path.ptr, op->path.len))
        return ZN_EBADARGUMENTS;
    const struct zn_acl_entry *acl;
    uint32_t acl_n;
    int rc = fixup(c, op, &acl, &acl_n);
    if (rc)
        return rc;
    struct rec tmp;
    struct rec *node = view_get(c, op->path.ptr, op->path.len, &tmp);
    if (!node->exists)
        return ZN_ENONODE;
    if (!allowed(c, node, ZN_PERM_ADMIN))
        return ZN_ENOAUTH;
    if (!check_version(op->version, node->stat.aversion))
        return ZN_EBADVERSION;
    struct zn_stat st = node->stat;
    st.aversion++;
    do_update(c, op->path.ptr, op->path.len, node, &st, NULL, acl, acl_n);
    if (w)
        zn_reply_put_client_stat(w, &st);
    return 0;
}

static int op_check(struct ctx *c, const struct zn_op *op)
{
    if (zn_path_validate(op->path.ptr, op->path.len))
        return ZN_EBADARGUMENTS;
    struct rec tmp;
    struct rec *node = view_get(c, op->path.ptr, op->path.len, &tmp);
    if (!node->exists)
        return ZN_ENONODE;
    if (!allowed(c, node, ZN_PERM_READ))
        return ZN_ENOAUTH;
    if (!check_version(op->version, node->stat.version))
        return ZN_EBADVERSION;
    return 0;
}

/* One non-multi write op; w == NULL in prep. Writes the body (not the header) on success. */
static int run_op(struct ctx *c, const struct zn_op *op, struct zn_wbuf *w)
{
    switch (op->type) {
    case ZN_OP_CREATE:
    case ZN_OP_CREATE2:
    case ZN_OP_CREATECONTAINER:
    case ZN_OP_CREATETTL:
        return op_create(c, op, w);
    case ZN_OP_DELETE:
        return op_delete(c, op, false);
    case ZN_OP_SETDATA:
        return op_setdata(c, op, w);
    case ZN_OP_SETACL:
        return op_setacl(c, op, w);
    case ZN_OP_CHECK:
        return op_check(c, op);
    case ZN_OP_SYNC:
        if (zn_path_validate(op->path.ptr, op->path.len))
            return ZN_EBADARGUMENTS;
        if (w)
            zn_put_blob32(w, op->path.ptr, op->path.len);
        return 0;
    default:
        return ZN_EUNIMPLEMENTED;
    }
}

static bool multi_allowed(int32_t t)
{
    return t == ZN_OP_CREATE || t == ZN_OP_CREATE2 || t == ZN_OP_CREATECONTAINER ||
           t == ZN_OP_CREATETTL || t == ZN_OP_DELETE || t == ZN_OP_SETDATA || t == ZN_OP_CHECK;
}

static void reset_prep(struct ctx *c)
{
    c->nov = 0;
    c->nfix = 0;
}

/* A single op or a multi: prep, then commit when prep succeeded. Reply goes to s->reply. */
static void client_op(struct ctx *c, const struct zn_op *op)
{
    struct zn_wbuf *w = &c->s->reply;
    int64_t z = (int64_t)c->e->zxid;
    if (op->type != ZN_OP_MULTI) {
        c->commit = false;
        reset_prep(c);
        int rc = run_op(c, op, NULL);
        if (rc) {
            zn_reply_put_header(w, op->type, rc, z);
            return;
        }
        c->commit = true;
        reset_prep(c);
        zn_reply_put_header(w, op->type, 0, z);
        rc = run_op(c, op, w);
        ZN_ASSERT(rc == 0);
        return;
    }
    uint32_t n = op->sub_count;
    uint32_t failed = n;
    int frc = 0;
    c->commit = false;
    reset_prep(c);
    for (uint32_t i = 0; i < n; i++) {
        int rc = multi_allowed(op->sub[i].type) ? run_op(c, &op->sub[i], NULL) : ZN_EBADARGUMENTS;
        if (rc) {
            failed = i;
            frc = rc;
            break;
        }
    }
    zn_reply_put_header(w, ZN_OP_MULTI, frc, z);
    zn_put_u32(w, n);
    if (failed < n) {
        for (uint32_t i = 0; i < n; i++) {
            int code = i < failed ? 0 : i == failed ? frc : ZN_EINCONSISTENT;
            zn_reply_put_header(w, ZN_OP_ERROR, code, z);
        }
        return;
    }
    c->commit = true;
    reset_prep(c);
    for (uint32_t i = 0; i < n; i++) {
        zn_reply_put_header(w, op->sub[i].type, 0, z);
        int rc = run_op(c, &op->sub[i], w);
        ZN_ASSERT(rc == 0);
    }
}

/* ---- sessions ----------------------------------------------------------------------------- */

static void close_session(struct ctx *c, struct zn_session *se)
{
    struct zn_store *s = c->s;
    c->commit = true;
    while (!cds_list_empty(&se->ephemerals)) {
        struct zn_znode *n = cds_list_first_entry(&se->ephemerals, struct zn_znode, eph);
        struct rec parent;
        rec_from_node(&parent, n->parent);
        do_delete(c, n->path, n->path_len, (uint32_t)zn_parent_len(n->path, n->path_len), &parent);
    }
    ZN_ASSERT(se->eph_count == 0);
    zn_session_remove(s, se);
}

static bool session_id_valid(uint64_t id)
{
    return id != 0 && (id >> 56) != 0xff && id != (uint64_t)ZN_EPHEMERAL_CONTAINER;
}

static void apply_session_create(struct ctx *c)
{
    const struct zn_entry *e = c->e;
    struct zn_wbuf *w = &c->s->reply;
    if (!session_id_valid(e->session) || zn_session_lookup(c->s, e->session)) {
        zn_reply_put_header(w, ZN_OP_CREATESESSION, ZN_EBADARGUMENTS, (int64_t)e->zxid);
        return;
    }
    uint32_t t = e->timeout_ms;
    if (t < ZN_SESSION_TIMEOUT_MIN_MS)
        t = ZN_SESSION_TIMEOUT_MIN_MS;
    if (t > ZN_SESSION_TIMEOUT_MAX_MS)
        t = ZN_SESSION_TIMEOUT_MAX_MS;
    zn_session_insert(c->s, e->session, t, e->passwd);
    zn_reply_put_header(w, ZN_OP_CREATESESSION, 0, (int64_t)e->zxid);
    zn_put_u64(w, e->session);
    zn_put_u32(w, t);
    zn_put_bytes(w, e->passwd, ZN_SESSION_PASSWD_BYTES);
}

static bool expiry_due(const struct zn_stat *st, int64_t now_ms)
{
    if (st->num_children != 0)
        return false;
    if (st->ephemeral_owner == ZN_EPHEMERAL_CONTAINER)
        return st->cversion > 0;
    if ((st->ephemeral_owner & ZN_EPHEMERAL_TTL_MASK) == ZN_EPHEMERAL_TTL_MASK) {
        int64_t ttl = st->ephemeral_owner & ZN_EPHEMERAL_TTL_MAX_MS;
        return now_ms - st->mtime > ttl;
    }
    return false;
}

/*
 * Exactly once: a request the session already had applied (cxid equal to its last) gets its
 * first reply again; an older one (stale) gets none. True when the entry is answered so.
 */
static bool answered_before(const struct zn_session *se, const struct zn_entry *e,
                            struct zn_wbuf *w, struct zn_apply_result *res)
{
    if (se->has_last && e->cxid == se->last_cxid) {
        res->duplicate = true;
        zn_put_bytes(w, se->last_reply, se->last_reply_len);
        return true;
    }
    if (se->has_last && e->cxid < se->last_cxid) {
        res->stale = true;
        res->has_reply = false;
        return true;
    }
    return false;
}

static void apply_client(struct ctx *c, struct zn_apply_result *res)
{
    const struct zn_entry *e = c->e;
    struct zn_store *s = c->s;
    struct zn_wbuf *w = &s->reply;
    struct zn_session *se = zn_session_lookup(s, e->session);
    res->has_reply = true;
    if (!se) {
        zn_reply_put_header(w, e->op.type, ZN_ESESSIONEXPIRED, (int64_t)e->zxid);
        if (e->op.type == ZN_OP_MULTI)
            zn_put_u32(w, 0); /* a multi reply always carries its (here empty) result list */
        return;
    }
    if (answered_before(se, e, w, res))
        return;
    c->session = se;
    if (e->op.type == ZN_OP_CLOSESESSION) {
        close_session(c, se);
        zn_reply_put_header(w, ZN_OP_CLOSESESSION, 0, (int64_t)e->zxid);
        res->closed_session = e->session;
        return;
    }
    client_op(c, &e->op);
    if (w->err)
        zn_panic("store: out of memory building a reply");
    zn_session_set_last(s, se, e->cxid, w->p, (uint32_t)w->len);
}

/*
 * ZooKeeper's error txn: the session's request consumed a zxid and is answered with the stored
 * error (reply op ZN_OP_ERROR: a header, no body), exactly once per (session, cxid). No znode
 * changes; the session's last request is recorded as for a CLIENT entry.
 */
static void apply_error(struct ctx *c, struct zn_apply_result *res)
{
    const struct zn_entry *e = c->e;
    struct zn_store *s = c->s;
    struct zn_wbuf *w = &s->reply;
    struct zn_session *se = zn_session_lookup(s, e->session);
    res->has_reply = true;
    if (!se) {
        zn_reply_put_header(w, ZN_OP_ERROR, ZN_ESESSIONEXPIRED, (int64_t)e->zxid);
        return;
    }
    if (answered_before(se, e, w, res))
        return;
    zn_reply_put_header(w, ZN_OP_ERROR, e->err, (int64_t)e->zxid);
    if (w->err)
        zn_panic("store: out of memory building a reply");
    zn_session_set_last(s, se, e->cxid, w->p, (uint32_t)w->len);
}

int zn_store_apply(struct zn_store *s, const uint8_t *entry, size_t len,
                   struct zn_apply_result *res)
{
    struct zn_entry e;
    memset(res, 0, sizeof(*res));
    int rc = zn_entry_decode(entry, len, s->scratch, &e);
    if (rc)
        return rc;
    if (e.zxid <= atomic_load_explicit(&s->applied_zxid, memory_order_relaxed))
        return ZN_ESTALE;
    if (!s->apply_scratch) {
        s->apply_scratch = zn_mem_alloc(sizeof(struct apply_scratch)); /* kept until destroy */
        if (!s->apply_scratch)
            return ZN_ENOMEM;
    }
    struct apply_scratch *as = s->apply_scratch;
    struct ctx c = {.s = s, .e = &e, .ov = as->ov, .fix = as->fix};
    s->reply.len = 0;
    s->reply.err = 0;
    s->trig_paths.len = 0;
    s->trig_count = 0;
    res->entry_type = e.type;
    res->zxid = e.zxid;
    res->session = e.session;
    res->cxid = e.cxid;

    /* seqcount: odd while the tree changes, so overlapping readers retry */
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);

    switch (e.type) {
    case ZN_ENTRY_CLIENT:
        apply_client(&c, res);
        break;
    case ZN_ENTRY_SESSION_CREATE:
        apply_session_create(&c);
        res->has_reply = true;
        break;
    case ZN_ENTRY_SESSION_CLOSE: {
        struct zn_session *se = zn_session_lookup(s, e.session);
        if (se) {
            close_session(&c, se);
            res->closed_session = e.session;
        }
        break;
    }
    case ZN_ENTRY_EXPIRE: {
        struct zn_znode *n = zn_node_lookup(s, e.op.path.ptr, e.op.path.len);
        if (n && expiry_due(&n->state->stat, e.time_ms)) {
            c.commit = false;
            reset_prep(&c);
            if (op_delete(&c, &e.op, true) == 0) {
                c.commit = true;
                reset_prep(&c);
                rc = op_delete(&c, &e.op, true);
                ZN_ASSERT(rc == 0);
            }
        }
        break;
    }
    case ZN_ENTRY_NOOP:
        break;
    case ZN_ENTRY_ERROR:
        apply_error(&c, res);
        break;
    default:
        zn_panic("store: entry type %u passed decode", e.type);
    }
    arena_free(&c);
    atomic_store_explicit(&s->applied_zxid, e.zxid, memory_order_release);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
    zn_store_maintain(s, ZN_STORE_RELEASE_PER_APPLY); /* outside the seqcount window */

    for (uint32_t i = 0; i < s->trig_count; i++)
        s->trig[i].path.ptr = (const char *)s->trig_paths.p + (uintptr_t)s->trig[i].path.ptr;
    res->triggers = s->trig;
    res->trigger_count = s->trig_count;
    if (res->has_reply) {
        res->reply = s->reply.p;
        res->reply_len = s->reply.len;
    }
    return 0;
}
