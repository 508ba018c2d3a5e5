/*
 * store/tree.c - znodes, versions, data blobs, interned ACLs, sessions, digest (layout and the
 * snapshot version-chain rules in internal.h).
 *
 * Invariants (asserted):
 *  - a znode is in s->nodes iff it is linked in its parent's children list, and its parent's
 *    current Stat numChildren equals the length of that list;
 *  - s->digest == sum of every live znode's and session's digest term (mod 2^64);
 *  - blob and ACL refs == number of versions (live or kept for a snapshot) pointing at them.
 * Every function here runs on the writer unless it says otherwise.
 */
#include <string.h>

#include "common/zn_assert.h"
#include "store/alloc.h"
#include "store/internal.h"

uint64_t zn_path_hash(const char *path, uint32_t len)
{
    return zn_hash64(path, len, 0x7a6e6f6465ull);
}

static int node_match(struct cds_lfht_node *ht, const void *key)
{
    const struct zn_str *k = key;
    const struct zn_znode *n = caa_container_of(ht, struct zn_znode, ht);
    return n->path_len == k->len && memcmp(n->path, k->ptr, k->len) == 0;
}

/* Context: reader or writer. */
struct zn_znode *zn_node_lookup(const struct zn_store *s, const char *path, uint32_t len)
{
    struct zn_str key = {path, len};
    struct cds_lfht_iter it;
    cds_lfht_lookup(s->nodes, zn_path_hash(path, len), node_match, &key, &it);
    struct cds_lfht_node *ht = cds_lfht_iter_get_node(&it);
    return ht ? caa_container_of(ht, struct zn_znode, ht) : NULL;
}

/* ---- blobs -------------------------------------------------------------------------------- */

static void blob_free_cb(struct rcu_head *h)
{
    zn_mem_payload_free(caa_container_of(h, struct zn_blob, rcu));
}

struct zn_blob *zn_blob_new(struct zn_store *s, const uint8_t *data, uint32_t len)
{
    if (len == 0)
        return NULL;
    struct zn_blob *b = zn_mem_payload_alloc(sizeof(*b) + len);
    if (!b)
        zn_panic("store: out of memory for %u bytes of znode data", len);
    b->refs = 1;
    b->len = len;
    memcpy(b->bytes, data, len);
    b->hash = zn_hash64(data, len, 0x64617461ull);
    s->data_bytes += len;
    return b;
}

void zn_blob_ref(struct zn_blob *b)
{
    if (b)
        b->refs++;
}

void zn_blob_unref(struct zn_store *s, struct zn_blob *b)
{
    if (!b)
        return;
    ZN_ASSERT(b->refs > 0);
    if (--b->refs == 0) {
        s->data_bytes -= b->len;
        call_rcu(&b->rcu, blob_free_cb);
    }
}

/* ---- interned ACLs ------------------------------------------------------------------------ */

static uint64_t acl_hash(const struct zn_acl_entry *e, uint32_t n)
{
    uint64_t h = 0x61636cull + n;
    for (uint32_t i = 0; i < n; i++) {
        h = zn_mix64(h ^ e[i].perms);
        h = zn_hash64(e[i].scheme.ptr, e[i].scheme.len, h);
        h = zn_hash64(e[i].id.ptr, e[i].id.len, h);
    }
    return h;
}

static bool acl_equal(const struct zn_acl *a, const struct zn_acl_entry *e, uint32_t n)
{
    if (a->count != n)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (a->e[i].perms != e[i].perms || a->e[i].scheme.len != e[i].scheme.len ||
            a->e[i].id.len != e[i].id.len ||
            memcmp(a->e[i].scheme.ptr, e[i].scheme.ptr, e[i].scheme.len) != 0 ||
            memcmp(a->e[i].id.ptr, e[i].id.ptr, e[i].id.len) != 0)
            return false;
    }
    return true;
}

static void acl_tab_grow(struct zn_store *s)
{
    uint32_t nsize = s->acl_tab_size ? s->acl_tab_size * 2 : 64;
    struct zn_acl **tab = zn_mem_zalloc(nsize * sizeof(*tab));
    if (!tab)
        zn_panic("store: out of memory growing the ACL table");
    for (uint32_t i = 0; i < s->acl_tab_size; i++) {
        struct zn_acl *a = s->acl_tab[i];
        while (a) {
            struct zn_acl *next = a->hnext;
            a->hnext = tab[a->hash & (nsize - 1)];
            tab[a->hash & (nsize - 1)] = a;
            a = next;
        }
    }
    zn_mem_free(s->acl_tab);
    s->acl_tab = tab;
    s->acl_tab_size = nsize;
}

/* Intern an ACL list (already fixed up and valid); returns it with one more reference. */
struct zn_acl *zn_acl_intern(struct zn_store *s, const struct zn_acl_entry *e, uint32_t n)
{
    uint64_t h = acl_hash(e, n);
    if (s->acl_tab_size) {
        for (struct zn_acl *a = s->acl_tab[h & (s->acl_tab_size - 1)]; a; a = a->hnext) {
            if (a->hash == h && acl_equal(a, e, n)) {
                a->refs++;
                return a;
            }
        }
    }
    if (s->acl_count + 1 > (uint64_t)s->acl_tab_size * 2)
        acl_tab_grow(s);
    size_t strs = 0;
    for (uint32_t i = 0; i < n; i++)
        strs += e[i].scheme.len + e[i].id.len;
    struct zn_acl *a = zn_mem_alloc(sizeof(*a) + n * sizeof(a->e[0]) + strs);
    if (!a)
        zn_panic("store: out of memory interning an ACL");
    a->hash = h;
    a->refs = 1;
    a->count = n;
    char *p = (char *)&a->e[n];
    for (uint32_t i = 0; i < n; i++) {
        a->e[i].perms = e[i].perms;
        memcpy(p, e[i].scheme.ptr, e[i].scheme.len);
        a->e[i].scheme = (struct zn_str){p, e[i].scheme.len};
        p += e[i].scheme.len;
        memcpy(p, e[i].id.ptr, e[i].id.len);
        a->e[i].id = (struct zn_str){p, e[i].id.len};
        p += e[i].id.len;
    }
    uint32_t b = (uint32_t)(h & (s->acl_tab_size - 1));
    a->hnext = s->acl_tab[b];
    s->acl_tab[b] = a;
    s->acl_count++;
    return a;
}

void zn_acl_ref(struct zn_acl *a)
{
    if (a)
        a->refs++;
}

static void acl_free_cb(struct rcu_head *h)
{
    zn_mem_free(caa_container_of(h, struct zn_acl, rcu));
}

void zn_acl_unref(struct zn_store *s, struct zn_acl *a)
{
    if (!a)
        return;
    ZN_ASSERT(a->refs > 0);
    if (--a->refs)
        return;
    struct zn_acl **pp = &s->acl_tab[a->hash & (s->acl_tab_size - 1)];
    while (*pp != a)
        pp = &(*pp)->hnext;
    *pp = a->hnext;
    s->acl_count--;
    call_rcu(&a->rcu, acl_free_cb);
}

/* ---- versions and digest ------------------------------------------------------------------ */

uint64_t zn_node_digest(const struct zn_znode *n, const struct zn_zstate *st)
{
    const struct zn_stat *t = &st->stat;
    uint64_t h = n->path_hash;
    /* empty and null data hash differently: replicas that disagree on it differ */
    h = zn_mix64(h ^ (st->data ? st->data->hash : st->data_null ? 0x4e756c6cull : 0x3b));
    h = zn_mix64(h ^ (st->acl ? st->acl->hash : 0x5c));
    uint64_t f[9] = {(uint64_t)t->czxid,
                     (uint64_t)t->mzxid,
                     (uint64_t)t->ctime,
                     (uint64_t)t->mtime,
                     (uint64_t)t->pzxid,
                     (uint64_t)t->ephemeral_owner,
                     (uint64_t)(uint32_t)t->version | ((uint64_t)(uint32_t)t->cversion << 32),
                     (uint64_t)(uint32_t)t->aversion | ((uint64_t)(uint32_t)t->data_length << 32),
                     (uint64_t)(uint32_t)t->num_children};
    for (int i = 0; i < 9; i++)
        h = zn_mix64(h ^ (f[i] + (uint64_t)i * 0x9e3779b97f4a7c15ull));
    return h;
}

uint64_t zn_session_digest(const struct zn_session *se)
{
    uint64_t h = zn_mix64(se->id ^ 0x73657373ull);
    h = zn_mix64(h ^ se->timeout_ms);
    h = zn_hash64(se->passwd, sizeof(se->passwd), h);
    h = zn_mix64(h ^ (se->has_last ? (uint64_t)(uint32_t)se->last_cxid | (1ull << 40) : 0));
    h = zn_hash64(se->last_reply, se->last_reply_len, h);
    return h;
}

struct zn_zstate *zn_state_dup(const struct zn_zstate *old, uint64_t vzxid)
{
    struct zn_zstate *st = zn_mem_alloc(sizeof(*st));
    if (!st)
        zn_panic("store: out of memory for a znode version");
    *st = *old;
    st->prev = NULL;
    st->vzxid = vzxid;
    zn_blob_ref(st->data);
    zn_acl_ref(st->acl);
    return st;
}

static void state_free_cb(struct rcu_head *h)
{
    zn_mem_free(caa_container_of(h, struct zn_zstate, rcu));
}

void zn_state_retire(struct zn_store *s, struct zn_zstate *st)
{
    zn_blob_unref(s, st->data);
    zn_acl_unref(s, st->acl);
    call_rcu(&st->rcu, state_free_cb);
}

/* Publish a new version of n (st owns one ref of its blob and ACL). */
void zn_node_publish(struct zn_store *s, struct zn_znode *n, struct zn_zstate *st)
{
    struct zn_zstate *old = n->state;
    s->digest -= n->digest;
    n->digest = zn_node_digest(n, st);
    s->digest += n->digest;
    st->prev = NULL;
    if (s->snap_active && old->vzxid <= s->snap_zxid) {
        st->prev = old; /* the snapshot needs old: keep it until snapshot end */
        if (n->dirty_gen != s->snap_gen) {
            n->dirty_gen = s->snap_gen;
            n->dirty_next = s->dirty;
            s->dirty = n;
        }
        rcu_assign_pointer(n->state, st);
        return;
    }
    st->prev = old->prev; /* keeps the snapshot's version, if any */
    rcu_assign_pointer(n->state, st);
    zn_state_retire(s, old);
}

struct zn_znode *zn_node_insert(struct zn_store *s, struct zn_znode *parent, const char *path,
                                uint32_t len, struct zn_zstate *st)
{
    struct zn_znode *n = zn_mem_alloc(sizeof(*n) + len + 1);
    if (!n)
        zn_panic("store: out of memory for a znode");
    memset(n, 0, sizeof(*n));
    memcpy(n->path, path, len);
    n->path[len] = '\0';
    n->path_len = len;
    n->path_hash = zn_path_hash(path, len);
    uint32_t off = len;
    while (off > 0 && path[off - 1] != '/')
        off--;
    n->name_off = off;
    n->parent = parent;
    CDS_INIT_LIST_HEAD(&n->children);
    CDS_INIT_LIST_HEAD(&n->sibling);
    CDS_INIT_LIST_HEAD(&n->eph);
    cds_lfht_node_init(&n->ht);
    st->prev = NULL;
    n->state = st;
    n->digest = zn_node_digest(n, st);
    s->digest += n->digest;
    s->node_count++;
    struct zn_str key = {n->path, len};
    struct cds_lfht_node *got =
        cds_lfht_add_unique(s->nodes, n->path_hash, node_match, &key, &n->ht);
    ZN_ASSERT(got == &n->ht);
    if (parent)
        cds_list_add_tail_rcu(&n->sibling, &parent->children);
    return n;
}

static void node_free_cb(struct rcu_head *h)
{
    zn_mem_free(caa_container_of(h, struct zn_znode, rcu));
}

void zn_node_retire(struct zn_store *s, struct zn_znode *n)
{
    struct zn_zstate *st = n->state;
    while (st) {
        struct zn_zstate *prev = st->prev;
        zn_state_retire(s, st);
        st = prev;
    }
    call_rcu(&n->rcu, node_free_cb);
}

/*
 * Unlink n (no children) from the table, its parent and its session; retire or tombstone.
 *
 * Race with a running snapshot (test_torture.c found it): the snapshot thread walks the table
 * and then reads the tombstone list. If the node were pushed to the tombstones only after
 * cds_lfht_del, this could happen:
 *   1. the writer logically deletes n from the table (cds_lfht_del);
 *   2. the snapshot walk passes n's position and skips it as removed, finishes, and loads the
 *      tombstone head;
 *   3. the writer pushes n to the tombstones - too late: n, which existed at the snapshot
 *      zxid, is missing from the image (zn_snapshot_write reported ZN_EINCONSISTENT).
 * So a node the snapshot needs is pushed first (release), then deleted from the table; the
 * walk may then see it in both places, which snap_gen de-duplicates.
 */
void zn_node_remove(struct zn_store *s, struct zn_znode *n)
{
    ZN_ASSERT(cds_list_empty(&n->children));
    bool needed = s->snap_active && n->state->stat.czxid <= (int64_t)s->snap_zxid;
    /* after snapshot end, a node still on the dirty list must outlive its release step */
    bool pending = s->snap_releasing && n->dirty_gen == s->snap_gen;
    if (needed || pending) {
        n->tomb_next = atomic_load_explicit(&s->tombs, memory_order_relaxed);
        atomic_store_explicit(&s->tombs, n, memory_order_release);
    }
    int rc = cds_lfht_del(s->nodes, &n->ht);
    ZN_ASSERT(rc == 0);
    cds_list_del_rcu(&n->sibling);
    if (!cds_list_empty(&n->eph))
        cds_list_del_rcu(&n->eph); /* next/prev stay valid for concurrent readers */
    s->digest -= n->digest;
    s->node_count--;
    if (!needed && !pending)
        zn_node_retire(s, n);
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int session_match(struct cds_lfht_node *ht, const void *key)
{
    return caa_container_of(ht, struct zn_session, ht)->id == *(const uint64_t *)key;
}

struct zn_session *zn_session_lookup(const struct zn_store *s, uint64_t id)
{
    struct cds_lfht_iter it;
    cds_lfht_lookup(s->sessions, zn_mix64(id), session_match, &id, &it);
    struct cds_lfht_node *ht = cds_lfht_iter_get_node(&it);
    return ht ? caa_container_of(ht, struct zn_session, ht) : NULL;
}

struct zn_session *zn_session_insert(struct zn_store *s, uint64_t id, uint32_t timeout_ms,
                                     const uint8_t *passwd)
{
    struct zn_session *se = zn_mem_zalloc(sizeof(*se));
    if (!se)
        zn_panic("store: out of memory for a session");
    se->id = id;
    se->timeout_ms = timeout_ms;
    memcpy(se->passwd, passwd, ZN_SESSION_PASSWD_BYTES);
    CDS_INIT_LIST_HEAD(&se->ephemerals);
    cds_lfht_node_init(&se->ht);
    se->digest = zn_session_digest(se);
    s->sdigest += se->digest;
    s->session_count++;
    struct cds_lfht_node *got =
        cds_lfht_add_unique(s->sessions, zn_mix64(id), session_match, &se->id, &se->ht);
    ZN_ASSERT(got == &se->ht);
    return se;
}

static void session_free_cb(struct rcu_head *h)
{
    struct zn_session *se = caa_container_of(h, struct zn_session, rcu);
    zn_mem_free(se->last_reply);
    zn_mem_free(se);
}

void zn_session_remove(struct zn_store *s, struct zn_session *se)
{
    ZN_ASSERT(cds_list_empty(&se->ephemerals));
    int rc = cds_lfht_del(s->sessions, &se->ht);
    ZN_ASSERT(rc == 0);
    s->sdigest -= se->digest;
    s->session_count--;
    call_rcu(&se->rcu, session_free_cb);
}

void zn_session_set_last(struct zn_store *s, struct zn_session *se, int32_t cxid,
                         const uint8_t *reply, uint32_t len)
{
    uint8_t *copy = zn_mem_alloc(len);
    if (!copy)
        zn_panic("store: out of memory caching a reply");
    memcpy(copy, reply, len);
    zn_mem_free(se->last_reply); /* writer-only field: never read by readers */
    se->last_reply = copy;
    se->last_reply_len = len;
    se->last_cxid = cxid;
    se->has_last = true;
    s->sdigest -= se->digest;
    se->digest = zn_session_digest(se);
    s->sdigest += se->digest;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

struct zn_store *zn_store_alloc_empty(const struct zn_store_config *cfg)
{
    struct zn_store *s = zn_mem_zalloc(sizeof(*s));
    if (!s)
        return NULL;
    s->data_size_max = cfg && cfg->data_size_max ? cfg->data_size_max : ZN_DATA_SIZE_DEFAULT_BYTES;
    if (s->data_size_max > ZN_DATA_SIZE_MAX_BYTES)
        s->data_size_max = ZN_DATA_SIZE_MAX_BYTES;
    unsigned long buckets = 1024;
    uint64_t expected = cfg ? cfg->expected_znodes : 0;
    if (expected > ZN_STORE_ZNODES_PRESIZE_MAX)
        expected = ZN_STORE_ZNODES_PRESIZE_MAX;
    while (buckets < expected)
        buckets *= 2;
    s->nodes = cds_lfht_new(buckets, buckets, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    s->sessions = cds_lfht_new(64, 64, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING, NULL);
    s->scratch = zn_mem_alloc(sizeof(*s->scratch));
    if (!s->nodes || !s->sessions || !s->scratch) {
        if (s->nodes)
            cds_lfht_destroy(s->nodes, NULL);
        if (s->sessions)
            cds_lfht_destroy(s->sessions, NULL);
        zn_mem_free(s->scratch);
        zn_mem_free(s);
        return NULL;
    }
    zn_wbuf_init(&s->reply, 0);
    zn_wbuf_init(&s->trig_paths, 0);
    zn_wbuf_init(&s->tmp, 0);
    acl_tab_grow(s);
    return s;
}

static const struct zn_acl_entry acl_open[] = {
    {ZN_PERM_ALL, {"world", 5}, {"anyone", 6}},
};
static const struct zn_acl_entry acl_read[] = {
    {ZN_PERM_READ, {"world", 5}, {"anyone", 6}},
};

static struct zn_znode *make_system_node(struct zn_store *s, struct zn_znode *parent,
                                         const char *path, const struct zn_acl_entry *acl)
{
    struct zn_zstate *st = zn_mem_zalloc(sizeof(*st));
    if (!st)
        zn_panic("store: out of memory");
    st->acl = zn_acl_intern(s, acl, 1);
    struct zn_znode *n = zn_node_insert(s, parent, path, (uint32_t)strlen(path), st);
    if (parent) {
        struct zn_zstate *pst = zn_state_dup(parent->state, 0);
        pst->stat.num_children++;
        zn_node_publish(s, parent, pst);
    }
    return n;
}

int zn_store_create(const struct zn_store_config *cfg, struct zn_store **out)
{
    struct zn_store *s = zn_store_alloc_empty(cfg);
    if (!s)
        return ZN_ENOMEM;
    s->root = make_system_node(s, NULL, "/", acl_open);
    struct zn_znode *zk = make_system_node(s, s->root, "/zookeeper", acl_open);
    make_system_node(s, zk, "/zookeeper/config", acl_read);
    make_system_node(s, zk, "/zookeeper/quota", acl_open);
    *out = s;
    return 0;
}

void zn_store_destroy(struct zn_store *s)
{
    if (!s)
        return;
    ZN_ASSERT(!s->snap_active);
    zn_store_maintain(s, UINT32_MAX); /* finish releasing what a snapshot kept */
    struct cds_lfht_iter it;
    struct zn_znode *n;
    ZN_LFHT_FOR_EACH(s->nodes, &it, n, ht)
    {
        cds_lfht_del(s->nodes, &n->ht);
        struct zn_zstate *st = n->state;
        while (st) {
            struct zn_zstate *prev = st->prev;
            zn_blob_unref(s, st->data);
            zn_acl_unref(s, st->acl);
            call_rcu(&st->rcu, state_free_cb);
            st = prev;
        }
        call_rcu(&n->rcu, node_free_cb);
    }
    struct zn_session *se;
    ZN_LFHT_FOR_EACH(s->sessions, &it, se, ht)
    {
        cds_lfht_del(s->sessions, &se->ht);
        call_rcu(&se->rcu, session_free_cb);
    }
    ZN_ASSERT(s->acl_count == 0);
    rcu_thread_offline();
    rcu_barrier();
    cds_lfht_destroy(s->nodes, NULL);
    cds_lfht_destroy(s->sessions, NULL);
    rcu_thread_online();
    zn_mem_free(s->acl_tab);
    zn_mem_free(s->scratch);
    zn_mem_free(s->apply_scratch);
    zn_mem_free(s->trig);
    zn_wbuf_fini(&s->reply);
    zn_wbuf_fini(&s->trig_paths);
    zn_wbuf_fini(&s->tmp);
    zn_mem_free(s);
}

uint64_t zn_store_applied_zxid(const struct zn_store *s)
{
    return atomic_load_explicit(&((struct zn_store *)s)->applied_zxid, memory_order_acquire);
}

uint64_t zn_store_digest(const struct zn_store *s)
{
    return s->digest + s->sdigest;
}

uint64_t zn_store_tree_digest(const struct zn_store *s)
{
    return s->digest;
}

uint64_t zn_store_digest_compute(const struct zn_store *s)
{
    uint64_t d = 0;
    struct cds_lfht_iter it;
    struct zn_znode *n;
    ZN_LFHT_FOR_EACH(s->nodes, &it, n, ht) d += zn_node_digest(n, n->state);
    struct zn_session *se;
    ZN_LFHT_FOR_EACH(s->sessions, &it, se, ht) d += zn_session_digest(se);
    return d;
}

void zn_store_counts(const struct zn_store *s, struct zn_store_counts *out)
{
    out->znodes = s->node_count;
    out->sessions = s->session_count;
    out->acls = s->acl_count;
    out->data_bytes = s->data_bytes;
}

/*
 * Release what the last snapshot kept, at most budget items (a kept version chain or a
 * tombstone each). Bounded so that snapshot end never stalls the writer: apply calls it with a
 * small budget after every entry; an idle writer calls it from its housekeeping.
 */
uint32_t zn_store_maintain(struct zn_store *s, uint32_t budget)
{
    uint32_t done = 0;
    if (!s->snap_releasing)
        return 0;
    while (done < budget && s->dirty) {
        struct zn_znode *n = s->dirty;
        s->dirty = n->dirty_next;
        n->dirty_next = NULL;
        n->dirty_gen = 0; /* released: a later delete retires it directly */
        struct zn_zstate *chain = n->state->prev;
        n->state->prev = NULL;
        while (chain) {
            struct zn_zstate *prev = chain->prev;
            zn_state_retire(s, chain);
            chain = prev;
        }
        done++;
    }
    while (done < budget && !s->dirty) {
        struct zn_znode *t = atomic_load_explicit(&s->tombs, memory_order_relaxed);
        if (!t)
            break;
        atomic_store_explicit(&s->tombs, t->tomb_next, memory_order_relaxed);
        zn_node_retire(s, t);
        done++;
    }
    if (!s->dirty && !atomic_load_explicit(&s->tombs, memory_order_relaxed))
        s->snap_releasing = false;
    return done;
}
