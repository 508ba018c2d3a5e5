/*
 * tests/store/test_prop.c - differential property test: random entry sequences (gen.h) applied
 * to the store and to a deliberately simple reference model (arrays, linear search, whole-model
 * copy for multi), comparing after every entry: the reply (op, error, created path, Stat, every
 * multi sub-result, duplicate/stale handling), every znode's Stat and data, the znode count, and
 * every 64 entries each znode's ACL, its getData (null data apart from empty) and the
 * incremental digest against a full recomputation. Error txns (ZN_ENTRY_ERROR) are modelled as
 * ZooKeeper's: no change, the stored error, exactly once.
 * A failure prints the seed and the step, so it replays exactly (ZN_PROP_SEED=<seed>).
 * Exits non-zero on the first mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "gen.h"
#include "store/reply.h"
#include "store/snapshot.h"
#include "store/store.h"

#define MAXN 1024
#define MAXS 16

struct macl {
    uint32_t perms;
    char scheme[8];
    char id[48];
};

struct mnode {
    bool used;
    char path[64];
    uint8_t data[16];
    uint32_t dlen;
    bool dnull; /* null data (getData answers length -1), not empty */
    struct zn_stat st;
    int nacl;
    struct macl acl[4];
};

struct msub {
    int32_t op;
    int err;
    bool has_stat;
    struct zn_stat st;
    char path[80];
};

struct mrep {
    bool has_reply;
    bool duplicate;
    bool stale;
    int32_t op;
    int err;
    bool has_stat;
    struct zn_stat st;
    char path[80];
    int nsub;
    struct msub sub[4];
    uint64_t session;
    uint32_t timeout;
};

struct msess {
    bool used;
    uint64_t id;
    uint32_t timeout;
    bool has_last;
    int32_t last_cxid;
    struct mrep last;
};

struct model {
    int hw; /* high-water mark of used node slots */
    struct mnode n[MAXN];
    struct msess s[MAXS];
};

static const struct zn_entry *E;

/* Watch triggers the model expects from the current entry (compared as a multiset). */
struct mtrig {
    int32_t type;
    char path[80];
};
static struct mtrig mtr[4096];
static int nmtr;

static void mtrigger(int32_t type, const char *path)
{
    if (nmtr < (int)(sizeof(mtr) / sizeof(mtr[0]))) {
        mtr[nmtr].type = type;
        snprintf(mtr[nmtr].path, sizeof(mtr[nmtr].path), "%s", path);
        nmtr++;
    }
}

static struct mnode *mfind(struct model *m, const char *path)
{
    for (int i = 0; i < m->hw; i++)
        if (m->n[i].used && strcmp(m->n[i].path, path) == 0)
            return &m->n[i];
    return NULL;
}

static struct mnode *madd(struct model *m, const char *path)
{
    for (int i = 0; i < MAXN; i++) {
        if (!m->n[i].used) {
            memset(&m->n[i], 0, sizeof(m->n[i]));
            m->n[i].used = true;
            snprintf(m->n[i].path, sizeof(m->n[i].path), "%s", path);
            if (i >= m->hw)
                m->hw = i + 1;
            return &m->n[i];
        }
    }
    fprintf(stderr, "model full\n");
    exit(2);
}

static void parent_of(const char *path, char *out)
{
    const char *slash = strrchr(path, '/');
    size_t l = (size_t)(slash - path);
    if (l == 0)
        l = 1;
    memcpy(out, path, l);
    out[l] = '\0';
}

static void set_acl_open(struct mnode *n, uint32_t perms)
{
    n->nacl = 1;
    n->acl[0] = (struct macl){perms, "world", "anyone"};
}

static void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    struct mnode *r = madd(m, "/");
    set_acl_open(r, 31);
    r->st.num_children = 1;
    struct mnode *z = madd(m, "/zookeeper");
    set_acl_open(z, 31);
    z->st.num_children = 2;
    set_acl_open(madd(m, "/zookeeper/config"), 1);
    set_acl_open(madd(m, "/zookeeper/quota"), 31);
}

static bool str_is(struct zn_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static bool mallowed(const struct mnode *n, uint32_t perm)
{
    for (uint32_t j = 0; j < E->id_count; j++)
        if (str_is(E->ids[j].scheme, "super"))
            return true;
    for (int i = 0; i < n->nacl; i++) {
        const struct macl *a = &n->acl[i];
        if (!(a->perms & perm))
            continue;
        if (!strcmp(a->scheme, "world") && !strcmp(a->id, "anyone"))
            return true;
        for (uint32_t j = 0; j < E->id_count; j++) {
            if (!str_is(E->ids[j].scheme, a->scheme))
                continue;
            if (!strcmp(a->scheme, "digest") && str_is(E->ids[j].id, a->id))
                return true;
            if (!strcmp(a->scheme, "ip") && !strcmp(a->id, "10.1.0.0/16") &&
                E->ids[j].id.len >= 5 && memcmp(E->ids[j].id.ptr, "10.1.", 5) == 0)
                return true;
        }
    }
    return false;
}

/* 0 or ZN_EINVALIDACL; fills out */
static int mfixup(const struct zn_op *op, struct macl *out, int *nout)
{
    int k = 0;
    if (op->acl_count == 0)
        return ZN_EINVALIDACL;
    for (uint32_t i = 0; i < op->acl_count; i++) {
        const struct zn_acl_entry *a = &op->acl[i];
        if (str_is(a->scheme, "world")) {
            if (!str_is(a->id, "anyone"))
                return ZN_EINVALIDACL;
            out[k++] = (struct macl){a->perms, "world", "anyone"};
        } else if (str_is(a->scheme, "auth")) {
            int before = k;
            for (uint32_t j = 0; j < E->id_count; j++) {
                if (str_is(E->ids[j].scheme, "ip") || str_is(E->ids[j].scheme, "super"))
                    continue;
                out[k] = (struct macl){a->perms, "digest", ""};
                memcpy(out[k].id, E->ids[j].id.ptr, E->ids[j].id.len);
                out[k].id[E->ids[j].id.len] = '\0';
                k++;
            }
            if (k == before)
                return ZN_EINVALIDACL;
        } else {
            out[k] = (struct macl){a->perms, "", ""};
            memcpy(out[k].scheme, a->scheme.ptr, a->scheme.len);
            memcpy(out[k].id, a->id.ptr, a->id.len);
            k++;
        }
    }
    *nout = k;
    return 0;
}

static bool valid_universe_path(const char *p)
{
    /* generated paths: "/x(/x)*" with x in a..c, or sequential results; only "/a/" forms are
     * invalid without a sequential suffix */
    size_t l = strlen(p);
    return l >= 1 && p[0] == '/' && (l == 1 || p[l - 1] != '/');
}

static bool is_eph(int64_t o)
{
    return o != 0 && o != ZN_EPHEMERAL_CONTAINER &&
           (o & ZN_EPHEMERAL_TTL_MASK) != ZN_EPHEMERAL_TTL_MASK;
}

static int m_create(struct model *m, const struct zn_op *op, struct msub *r)
{
    int32_t mode = op->flags;
    if (mode < 0 || mode > 6)
        return ZN_EBADARGUMENTS;
    bool ttl = mode == 5 || mode == 6, seq = mode == 2 || mode == 3 || mode == 6;
    bool eph = mode == 1 || mode == 3;
    if (ttl ? (op->ttl_ms <= 0 || op->ttl_ms > ZN_EPHEMERAL_TTL_MAX_MS) : op->ttl_ms >= 0)
        return ZN_EBADARGUMENTS;
    if ((op->type == ZN_OP_CREATECONTAINER) != (mode == 4) || (op->type == ZN_OP_CREATETTL) != ttl)
        return ZN_EBADARGUMENTS;
    char path[80];
    snprintf(path, sizeof(path), "%.*s", (int)op->path.len, op->path.ptr);
    if (!seq && !valid_universe_path(path))
        return ZN_EBADARGUMENTS;
    struct macl acl[8];
    int nacl;
    int rc = mfixup(op, acl, &nacl);
    if (rc)
        return rc;
    char ppath[80];
    size_t l = strlen(path);
    if (seq && path[l - 1] == '/') {
        memcpy(ppath, path, l - 1);
        ppath[l - 1 == 0 ? 1 : l - 1] = '\0';
    } else {
        parent_of(path, ppath);
    }
    struct mnode *p = mfind(m, ppath);
    if (!p)
        return ZN_ENONODE;
    if (!mallowed(p, ZN_PERM_CREATE))
        return ZN_ENOAUTH;
    if (seq)
        snprintf(path + l, sizeof(path) - l, "%010d", p->st.cversion);
    if (mfind(m, path))
        return ZN_ENODEEXISTS;
    if (is_eph(p->st.ephemeral_owner))
        return ZN_ENOCHILDRENFOREPHEMERALS;
    int64_t z = (int64_t)E->zxid;
    struct mnode *n = madd(m, path);
    if (op->data_len) /* null data has no pointer */
        memcpy(n->data, op->data, op->data_len);
    n->dlen = op->data_len;
    n->dnull = op->data_null;
    n->nacl = nacl;
    memcpy(n->acl, acl, sizeof(acl[0]) * (size_t)nacl);
    n->st = (struct zn_stat){.czxid = z,
                             .mzxid = z,
                             .ctime = E->time_ms,
                             .mtime = E->time_ms,
                             .data_length = (int32_t)op->data_len,
                             .pzxid = z};
    n->st.ephemeral_owner = mode == 4 ? ZN_EPHEMERAL_CONTAINER
                            : ttl     ? (ZN_EPHEMERAL_TTL_MASK | op->ttl_ms)
                            : eph     ? (int64_t)E->session
                                      : 0;
    p = mfind(m, ppath); /* madd does not move nodes, but be explicit */
    p->st.cversion++;
    p->st.pzxid = z;
    p->st.num_children++;
    r->has_stat = true;
    r->st = n->st;
    snprintf(r->path, sizeof(r->path), "%s", path);
    mtrigger(ZN_EVENT_NODE_CREATED, path);
    mtrigger(ZN_EVENT_NODE_CHILDREN_CHANGED, ppath);
    return 0;
}

static bool reserved(const char *p)
{
    return !strcmp(p, "/") || !strcmp(p, "/zookeeper") || !strcmp(p, "/zookeeper/config") ||
           !strcmp(p, "/zookeeper/quota");
}

static int m_delete(struct model *m, const char *path, int32_t version, bool internal)
{
    if (!valid_universe_path(path) || reserved(path))
        return ZN_EBADARGUMENTS;
    char ppath[80];
    parent_of(path, ppath);
    struct mnode *p = mfind(m, ppath);
    if (!p)
        return ZN_ENONODE;
    if (!internal && !mallowed(p, ZN_PERM_DELETE))
        return ZN_ENOAUTH;
    struct mnode *n = mfind(m, path);
    if (!n)
        return ZN_ENONODE;
    if (version != -1 && version != n->st.version)
        return ZN_EBADVERSION;
    if (n->st.num_children > 0)
        return ZN_ENOTEMPTY;
    n->used = false;
    p->st.pzxid = (int64_t)E->zxid;
    p->st.num_children--;
    mtrigger(ZN_EVENT_NODE_DELETED, path);
    mtrigger(ZN_EVENT_NODE_CHILDREN_CHANGED, ppath);
    return 0;
}

static int m_op(struct model *m, const struct zn_op *op, struct msub *r)
{
    char path[80];
    snprintf(path, sizeof(path), "%.*s", (int)op->path.len, op->path.ptr);
    memset(r, 0, sizeof(*r));
    r->op = op->type;
    struct mnode *n;
    switch (op->type) {
    case ZN_OP_CREATE2:
    case ZN_OP_CREATECONTAINER:
    case ZN_OP_CREATETTL:
        return m_create(m, op, r);
    case ZN_OP_DELETE:
        return m_delete(m, path, op->version, false);
    case ZN_OP_SETDATA:
        if (!valid_universe_path(path))
            return ZN_EBADARGUMENTS;
        if (!(n = mfind(m, path)))
            return ZN_ENONODE;
        if (!mallowed(n, ZN_PERM_WRITE))
            return ZN_ENOAUTH;
        if (op->version != -1 && op->version != n->st.version)
            return ZN_EBADVERSION;
        if (op->data_len) /* null data has no pointer */
            memcpy(n->data, op->data, op->data_len);
        n->dlen = op->data_len;
        n->dnull = op->data_null;
        n->st.version++;
        n->st.mzxid = (int64_t)E->zxid;
        n->st.mtime = E->time_ms;
        n->st.data_length = (int32_t)op->data_len;
        r->has_stat = true;
        r->st = n->st;
        mtrigger(ZN_EVENT_NODE_DATA_CHANGED, path);
        return 0;
    case ZN_OP_SETACL: {
        if (!valid_universe_path(path))
            return ZN_EBADARGUMENTS;
        struct macl acl[8];
        int nacl;
        int rc = mfixup(op, acl, &nacl);
        if (rc)
            return rc;
        if (!(n = mfind(m, path)))
            return ZN_ENONODE;
        if (!mallowed(n, ZN_PERM_ADMIN))
            return ZN_ENOAUTH;
        if (op->version != -1 && op->version != n->st.aversion)
            return ZN_EBADVERSION;
        n->st.aversion++;
        n->nacl = nacl;
        memcpy(n->acl, acl, sizeof(acl[0]) * (size_t)nacl);
        r->has_stat = true;
        r->st = n->st;
        return 0;
    }
    case ZN_OP_CHECK:
        if (!valid_universe_path(path))
            return ZN_EBADARGUMENTS;
        if (!(n = mfind(m, path)))
            return ZN_ENONODE;
        if (!mallowed(n, ZN_PERM_READ))
            return ZN_ENOAUTH;
        if (op->version != -1 && op->version != n->st.version)
            return ZN_EBADVERSION;
        return 0;
    case ZN_OP_SYNC:
        snprintf(r->path, sizeof(r->path), "%s", path);
        return 0;
    default:
        return ZN_EUNIMPLEMENTED;
    }
}

static struct model scratch_model;

static void m_client(struct model *m, struct mrep *rep)
{
    const struct zn_op *op = &E->op;
    rep->op = op->type;
    if (op->type != ZN_OP_MULTI) {
        struct msub r;
        rep->err = m_op(m, op, &r);
        if (!rep->err) {
            rep->has_stat = r.has_stat;
            rep->st = r.st;
            memcpy(rep->path, r.path, sizeof(rep->path));
        }
        return;
    }
    memcpy(&scratch_model, m, sizeof(*m));
    int trig_mark = nmtr;
    rep->nsub = (int)op->sub_count;
    int failed = -1;
    for (uint32_t i = 0; i < op->sub_count; i++) {
        int rc = m_op(&scratch_model, &op->sub[i], &rep->sub[i]);
        rep->sub[i].err = rc;
        if (rc) {
            failed = (int)i;
            rep->err = rc;
            break;
        }
    }
    if (failed < 0) {
        memcpy(m, &scratch_model, sizeof(*m));
        return;
    }
    nmtr = trig_mark; /* a failed multi fires nothing */
    for (int i = 0; i < rep->nsub; i++) {
        int code = i < failed ? 0 : i == failed ? rep->err : ZN_EINCONSISTENT;
        memset(&rep->sub[i], 0, sizeof(rep->sub[i]));
        rep->sub[i].op = ZN_OP_ERROR;
        rep->sub[i].err = code;
    }
}

static struct msess *msession(struct model *m, uint64_t id)
{
    for (int i = 0; i < MAXS; i++)
        if (m->s[i].used && m->s[i].id == id)
            return &m->s[i];
    return NULL;
}

static void m_close(struct model *m, struct msess *se)
{
    for (int i = 0; i < m->hw; i++) {
        struct mnode *n = &m->n[i];
        if (n->used && is_eph(n->st.ephemeral_owner) && (uint64_t)n->st.ephemeral_owner == se->id) {
            char ppath[80];
            parent_of(n->path, ppath);
            struct mnode *p = mfind(m, ppath);
            p->st.pzxid = (int64_t)E->zxid;
            p->st.num_children--;
            n->used = false;
            mtrigger(ZN_EVENT_NODE_DELETED, n->path);
            mtrigger(ZN_EVENT_NODE_CHILDREN_CHANGED, ppath);
        }
    }
    se->used = false;
}

static void model_apply(struct model *m, struct mrep *rep)
{
    memset(rep, 0, sizeof(*rep));
    nmtr = 0;
    switch (E->type) {
    case ZN_ENTRY_SESSION_CREATE: {
        rep->has_reply = true;
        rep->op = ZN_OP_CREATESESSION;
        if (E->session == 0 || msession(m, E->session)) {
            rep->err = ZN_EBADARGUMENTS;
            return;
        }
        for (int i = 0; i < MAXS; i++) {
            if (!m->s[i].used) {
                uint32_t t = E->timeout_ms < 100     ? 100
                             : E->timeout_ms > 40000 ? 40000
                                                     : E->timeout_ms;
                m->s[i] = (struct msess){.used = true, .id = E->session, .timeout = t};
                rep->session = E->session;
                rep->timeout = t;
                return;
            }
        }
        fprintf(stderr, "model: too many sessions\n");
        exit(2);
    }
    case ZN_ENTRY_SESSION_CLOSE: {
        struct msess *se = msession(m, E->session);
        if (se)
            m_close(m, se);
        return;
    }
    case ZN_ENTRY_EXPIRE: {
        char path[80];
        snprintf(path, sizeof(path), "%.*s", (int)E->op.path.len, E->op.path.ptr);
        struct mnode *n = mfind(m, path);
        if (!n || n->st.num_children != 0)
            return;
        int64_t o = n->st.ephemeral_owner;
        bool due = o == ZN_EPHEMERAL_CONTAINER ? n->st.cversion > 0
                   : (o & ZN_EPHEMERAL_TTL_MASK) == ZN_EPHEMERAL_TTL_MASK
                       ? E->time_ms - n->st.mtime > (o & ZN_EPHEMERAL_TTL_MAX_MS)
                       : false;
        if (due)
            (void)m_delete(m, path, -1, true);
        return;
    }
    case ZN_ENTRY_NOOP:
        return;
    case ZN_ENTRY_ERROR: {
        /* ZooKeeper's error txn: no znode changes, the stored error, exactly once */
        rep->has_reply = true;
        rep->op = ZN_OP_ERROR;
        struct msess *se = msession(m, E->session);
        if (!se) {
            rep->err = ZN_ESESSIONEXPIRED;
            return;
        }
        if (se->has_last && E->cxid == se->last_cxid) {
            *rep = se->last;
            rep->duplicate = true;
            return;
        }
        if (se->has_last && E->cxid < se->last_cxid) {
            rep->has_reply = false;
            rep->stale = true;
            return;
        }
        rep->err = E->err;
        se->has_last = true;
        se->last_cxid = E->cxid;
        se->last = *rep;
        return;
    }
    case ZN_ENTRY_CLIENT: {
        rep->has_reply = true;
        struct msess *se = msession(m, E->session);
        if (!se) {
            rep->op = E->op.type;
            rep->err = ZN_ESESSIONEXPIRED;
            return;
        }
        if (se->has_last && E->cxid == se->last_cxid) {
            *rep = se->last;
            rep->duplicate = true;
            return;
        }
        if (se->has_last && E->cxid < se->last_cxid) {
            rep->has_reply = false;
            rep->stale = true;
            return;
        }
        if (E->op.type == ZN_OP_CLOSESESSION) {
            rep->op = ZN_OP_CLOSESESSION;
            m_close(m, se);
            return;
        }
        m_client(m, rep);
        se->has_last = true;
        se->last_cxid = E->cxid;
        se->last = *rep;
        return;
    }
    }
}

static uint64_t seed_used;
static uint64_t step_no;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "MISMATCH seed=%llu step=%llu: ", (unsigned long long)seed_used, \
                    (unsigned long long)step_no);                                            \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, "  (%s:%d)\n", __FILE__, __LINE__);                              \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* What a client sees of a Stat (ZooKeeper's DataNode.copyStat): cversion = child creates +
 * deletes = 2 * creates - children; containers and TTL nodes show ephemeralOwner 0. */
static struct zn_stat client_view(const struct zn_stat *st)
{
    struct zn_stat c = *st;
    c.cversion = 2 * st->cversion - st->num_children;
    if (st->ephemeral_owner == ZN_EPHEMERAL_CONTAINER ||
        (st->ephemeral_owner & ZN_EPHEMERAL_TTL_MASK) == ZN_EPHEMERAL_TTL_MASK)
        c.ephemeral_owner = 0;
    return c;
}

static void compare_sub(const struct zn_reply *got, int32_t op, int err, bool has_stat,
                        const struct zn_stat *st, const char *path)
{
    CHECK(got->op == op, "op %d vs %d", got->op, op);
    CHECK(got->err == err, "err %s vs %s (op %d)", zn_err_name(got->err), zn_err_name(err), op);
    if (err)
        return;
    CHECK(got->has_stat == has_stat, "has_stat");
    if (has_stat) {
        struct zn_stat want = client_view(st);
        CHECK(zn_stat_equal(&got->stat, &want), "reply stat differs (op %d)", op);
    }
    if (path[0])
        CHECK(got->path.len == strlen(path) && memcmp(got->path.ptr, path, got->path.len) == 0,
              "path %.*s vs %s", (int)got->path.len, got->path.ptr, path);
}

static void compare_reply(const struct zn_apply_result *res, const struct mrep *want)
{
    CHECK(res->has_reply == want->has_reply, "has_reply %d vs %d", res->has_reply, want->has_reply);
    CHECK(res->duplicate == want->duplicate && res->stale == want->stale, "dup/stale");
    if (!want->has_reply)
        return;
    struct zn_reply got;
    CHECK(zn_reply_decode(res->reply, res->reply_len, &got) == 0,
          "reply decodes (op %d err %d len %zu)", want->op, want->err, res->reply_len);
    if (want->op == ZN_OP_CREATESESSION) {
        CHECK(got.err == want->err, "session create err");
        if (!want->err)
            CHECK(got.session == want->session && got.timeout_ms == want->timeout, "session");
        return;
    }
    if (want->op != ZN_OP_MULTI) {
        compare_sub(&got, want->op, want->err, want->has_stat, &want->st, want->path);
        return;
    }
    CHECK(got.op == ZN_OP_MULTI && got.err == want->err, "multi err %s vs %s", zn_err_name(got.err),
          zn_err_name(want->err));
    CHECK(got.count == (uint32_t)want->nsub, "multi count");
    for (int i = 0; i < want->nsub; i++) {
        struct zn_reply sub;
        CHECK(zn_reply_next_sub(&got, &sub) == 0, "sub %d decodes", i);
        const struct msub *w = &want->sub[i];
        compare_sub(&sub, w->op, w->err, w->has_stat, &w->st, w->path);
    }
}

static int trig_cmp(const void *a, const void *b)
{
    const struct mtrig *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void compare_triggers(const struct zn_apply_result *res)
{
    static struct mtrig got[4096];
    CHECK(res->trigger_count == (uint32_t)nmtr, "%u triggers, model %d", res->trigger_count, nmtr);
    for (uint32_t i = 0; i < res->trigger_count; i++) {
        const struct zn_trigger *t = &res->triggers[i];
        CHECK(t->zxid == (int64_t)E->zxid, "trigger zxid");
        got[i].type = t->type;
        snprintf(got[i].path, sizeof(got[i].path), "%.*s", (int)t->path.len, t->path.ptr);
    }
    qsort(got, res->trigger_count, sizeof(got[0]), trig_cmp);
    qsort(mtr, (size_t)nmtr, sizeof(mtr[0]), trig_cmp);
    for (int i = 0; i < nmtr; i++)
        CHECK(got[i].type == mtr[i].type && !strcmp(got[i].path, mtr[i].path),
              "trigger %d: %d %s vs model %d %s", i, got[i].type, got[i].path, mtr[i].type,
              mtr[i].path);
}

static uint64_t null_checked, empty_checked; /* getData comparisons of null / empty values */

static void compare_tree(struct zn_store *s, struct model *m, bool deep)
{
    uint64_t count = 0;
    struct zn_wbuf w;
    zn_wbuf_init(&w, 0);
    struct zn_identity super = {{"super", 5}, {"", 0}};
    for (int i = 0; i < m->hw; i++) {
        struct mnode *n = &m->n[i];
        if (!n->used)
            continue;
        count++;
        struct zn_stat st;
        const uint8_t *data;
        CHECK(zn_store_stat(s, n->path, (uint32_t)strlen(n->path), &st, &data) == 0,
              "%s missing in store", n->path);
        CHECK(zn_stat_equal(&st, &n->st),
              "stat of %s: czxid %lld/%lld mzxid %lld/%lld pzxid %lld/%lld v %d/%d cv %d/%d "
              "av %d/%d nc %d/%d own %llx/%llx",
              n->path, (long long)st.czxid, (long long)n->st.czxid, (long long)st.mzxid,
              (long long)n->st.mzxid, (long long)st.pzxid, (long long)n->st.pzxid, st.version,
              n->st.version, st.cversion, n->st.cversion, st.aversion, n->st.aversion,
              st.num_children, n->st.num_children, (unsigned long long)st.ephemeral_owner,
              (unsigned long long)n->st.ephemeral_owner);
        CHECK(n->dlen == 0 || memcmp(data, n->data, n->dlen) == 0, "data of %s", n->path);
        if (!deep)
            continue;
        /* getData: the bytes, and null (length -1) apart from empty */
        struct zn_op gd = {.type = ZN_OP_GETDATA, .path = {n->path, (uint32_t)strlen(n->path)}};
        w.len = 0;
        CHECK(zn_store_read(s, 0, &super, 1, &gd, &w, NULL) == 0, "getData");
        struct zn_reply dr;
        CHECK(zn_reply_decode(w.p, w.len, &dr) == 0 && dr.err == 0, "getData reply");
        CHECK(dr.data_null == n->dnull && dr.data_len == n->dlen &&
                  (n->dlen == 0 || memcmp(dr.data, n->data, n->dlen) == 0),
              "getData of %s: %s %u bytes, model %s %u bytes", n->path,
              dr.data_null ? "null" : "data", dr.data_len, n->dnull ? "null" : "data", n->dlen);
        if (n->dnull)
            null_checked++;
        else if (n->dlen == 0)
            empty_checked++;
        /* children listing: exactly the model's children, each once */
        struct zn_op gc = {.type = ZN_OP_GETCHILDREN, .path = {n->path, (uint32_t)strlen(n->path)}};
        w.len = 0;
        CHECK(zn_store_read(s, 0, &super, 1, &gc, &w, NULL) == 0, "getChildren");
        struct zn_reply lr;
        CHECK(zn_reply_decode(w.p, w.len, &lr) == 0 && lr.err == 0, "getChildren reply");
        CHECK(lr.count == (uint32_t)n->st.num_children, "listing of %s: %u names, numChildren %d",
              n->path, lr.count, n->st.num_children);
        struct zn_str name;
        while (zn_reply_next_name(&lr, &name) == 0) {
            char child[160];
            snprintf(child, sizeof(child), "%s/%.*s", strcmp(n->path, "/") ? n->path : "",
                     (int)name.len, name.ptr);
            CHECK(mfind(m, child) != NULL, "listed child %s not in the model", child);
        }
        struct zn_op ga = {.type = ZN_OP_GETACL, .path = {n->path, (uint32_t)strlen(n->path)}};
        w.len = 0;
        CHECK(zn_store_read(s, 0, &super, 1, &ga, &w, NULL) == 0, "getACL");
        struct zn_reply r;
        CHECK(zn_reply_decode(w.p, w.len, &r) == 0 && r.err == 0, "getACL reply");
        CHECK(r.count == (uint32_t)n->nacl, "acl count of %s: %u vs %d", n->path, r.count, n->nacl);
        for (int k = 0; k < n->nacl; k++) {
            struct zn_acl_entry a;
            CHECK(zn_reply_next_acl(&r, &a) == 0, "acl entry");
            CHECK(a.perms == n->acl[k].perms && str_is(a.scheme, n->acl[k].scheme) &&
                      str_is(a.id, n->acl[k].id),
                  "acl %d of %s", k, n->path);
        }
    }
    if (deep) {
        /* each session's ephemerals (getEphemerals "/") match the model */
        for (int i = 0; i < MAXS; i++) {
            if (!m->s[i].used)
                continue;
            uint32_t want = 0;
            for (int k = 0; k < m->hw; k++)
                if (m->n[k].used && is_eph(m->n[k].st.ephemeral_owner) &&
                    (uint64_t)m->n[k].st.ephemeral_owner == m->s[i].id)
                    want++;
            struct zn_op ge = {.type = ZN_OP_GETEPHEMERALS, .path = {"/", 1}};
            w.len = 0;
            struct zn_reply er;
            CHECK(zn_store_read(s, m->s[i].id, NULL, 0, &ge, &w, NULL) == 0 &&
                      zn_reply_decode(w.p, w.len, &er) == 0 && er.err == 0,
                  "getEphemerals");
            CHECK(er.count == want, "session %llx: %u ephemerals, model %u",
                  (unsigned long long)m->s[i].id, er.count, want);
        }
    }
    zn_wbuf_fini(&w);
    struct zn_store_counts c;
    zn_store_counts(s, &c);
    CHECK(c.znodes == count, "znode count %llu vs %llu", (unsigned long long)c.znodes,
          (unsigned long long)count);
    uint64_t sessions = 0;
    for (int i = 0; i < MAXS; i++)
        sessions += m->s[i].used;
    CHECK(c.sessions == sessions, "session count %llu vs %llu", (unsigned long long)c.sessions,
          (unsigned long long)sessions);
    if (deep)
        CHECK(zn_store_digest(s) == zn_store_digest_compute(s), "incremental digest");
}

static struct model M;

/* Snapshot image in memory: the snapshot is written 1500 entries after it began, so every
 * znode is read through the versions kept for it (deterministic test of the retention). */
struct mem {
    uint8_t *p;
    size_t len, cap, off;
};

static int mem_write(void *ctx, const void *b, size_t n)
{
    struct mem *m = ctx;
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->p = realloc(m->p, m->cap);
        if (!m->p)
            return ZN_ENOMEM;
    }
    memcpy(m->p + m->len, b, n);
    m->len += n;
    return 0;
}

static long mem_read(void *ctx, void *b, size_t n)
{
    struct mem *m = ctx;
    size_t k = m->len - m->off < n ? m->len - m->off : n;
    memcpy(b, m->p + m->off, k);
    m->off += k;
    return (long)k;
}

static void run(uint64_t seed, uint64_t steps)
{
    seed_used = seed;
    struct zn_store *s;
    if (zn_store_create(NULL, &s))
        exit(2);
    model_init(&M);
    static struct gen g;
    gen_init(&g, seed);
    uint8_t *buf = malloc(1 << 16);
    uint64_t counts[12] = {0}; /* [entry type], [10] error replies, [11] multi */
    null_checked = empty_checked = 0;
    struct zn_snapshot *snap = NULL;
    uint64_t snap_step = 0, snaps = 0;
    uint64_t errs[64] = {0};
    for (step_no = 0; step_no < steps; step_no++) {
        struct zn_entry e;
        gen_entry(&g, &e);
        size_t len;
        CHECK(zn_entry_encode(&e, buf, 1 << 16, &len) == 0, "encode");
        struct zn_entry_scratch *sc = malloc(sizeof(*sc));
        struct zn_entry back;
        CHECK(zn_entry_decode(buf, len, sc, &back) == 0, "decode of an encoded entry");
        E = &back;
        struct zn_apply_result res;
        CHECK(zn_store_apply(s, buf, len, &res) == 0, "apply");
        struct mrep want;
        model_apply(&M, &want);
        compare_reply(&res, &want);
        compare_triggers(&res);
        free(sc);
        counts[e.type]++;
        if (want.has_reply && want.err) {
            counts[10]++;
            errs[-want.err < 64 ? -want.err : 0]++;
        }
        if (want.op == ZN_OP_MULTI)
            counts[11]++;
        compare_tree(s, &M, step_no % 64 == 0);
        if (!snap && step_no % 5000 == 1000 && zn_snapshot_begin(s, &snap) == 0)
            snap_step = step_no;
        if (snap && step_no == snap_step + 1500) {
            struct mem img = {0};
            CHECK(zn_snapshot_write(snap, mem_write, &img) == 0, "snapshot write");
            uint64_t snap_digest = zn_snapshot_digest(snap);
            zn_snapshot_end(s, snap);
            snap = NULL;
            struct zn_store *l;
            CHECK(zn_snapshot_load(NULL, mem_read, &img, &l) == 0, "snapshot load");
            CHECK(zn_store_digest(l) == snap_digest, "snapshot image = tree at its zxid");
            zn_store_destroy(l);
            free(img.p);
            snaps++;
        }
        rcu_quiescent_state();
    }
    compare_tree(s, &M, true);
    if (snap)
        zn_snapshot_end(s, snap);
    printf("seed %llu: %llu entries (client %llu, session create %llu, close %llu, expire %llu, "
           "multi %llu, error txns %llu, error replies %llu, %llu snapshots written 1500 entries "
           "after they began) matched the model; getData compared %llu null and %llu empty "
           "values\n",
           (unsigned long long)seed, (unsigned long long)steps, (unsigned long long)counts[1],
           (unsigned long long)counts[2], (unsigned long long)counts[3],
           (unsigned long long)counts[4], (unsigned long long)counts[11],
           (unsigned long long)counts[ZN_ENTRY_ERROR], (unsigned long long)counts[10],
           (unsigned long long)snaps, (unsigned long long)null_checked,
           (unsigned long long)empty_checked);
    printf("  error replies by code:");
    for (int i = 1; i < 64; i++)
        if (errs[i])
            printf(" %s=%llu", zn_err_name(-i), (unsigned long long)errs[i]);
    printf("\n");
    free(buf);
    zn_store_destroy(s);
}

int main(void)
{
    rcu_register_thread();
    uint64_t steps = 30000, seeds = 8;
#if defined(ZN_SANITIZER_BUILD)
    steps = 10000;
    seeds = 4;
#endif
    const char *env = getenv("ZN_PROP_SEED");
    if (env) {
        run(strtoull(env, NULL, 0), steps);
    } else {
        for (uint64_t i = 1; i <= seeds; i++)
            run(i * 7919, steps);
    }
    rcu_unregister_thread();
    printf("store property test: OK\n");
    return 0;
}
