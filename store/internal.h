/*
 * store/internal.h - the tree's internal structures (store/ only).
 *
 * Layout:
 *  - s->nodes: rculfhash path -> struct zn_znode (key: the full path, hash zn_hash64).
 *  - every znode has an RCU list of its children (O(1) add/remove given the child, O(children)
 *    listing, no per-parent table, so a million children cost one list_head each);
 *  - a znode's Stat, data and ACL live in an immutable version (struct zn_zstate) that the
 *    writer replaces with rcu_assign_pointer: a reader loads one pointer and sees a consistent
 *    Stat/data/ACL triple; the data blob (payload arena) and the interned ACL are shared by
 *    versions through writer-only reference counts and retired with call_rcu at zero;
 *  - s->sessions: rculfhash id -> struct zn_session with an RCU list of its ephemerals.
 * Snapshot support (snapshot.c): while a snapshot at zxid S is running, a replaced version that
 * the snapshot still needs (vzxid <= S) is kept on the new version's prev chain instead of being
 * retired, and a deleted znode that existed at S goes to a tombstone list; snapshot end releases
 * both. The snapshot thread therefore reads the exact tree as of S while apply continues.
 */
#ifndef ZN_STORE_INTERNAL_H
#define ZN_STORE_INTERNAL_H

#include <stdatomic.h>

/* clang-format off */
#define URCU_API_MAP /* the rcu_* / call_rcu names of the QSBR flavour */
#include <urcu/urcu-qsbr.h>
#include <urcu/rculfhash.h>
#include <urcu/rculist.h>
/* clang-format on */

#include "store/store.h"

struct zn_blob {
    struct rcu_head rcu;
    uint32_t refs; /* writer only */
    uint32_t len;
    uint64_t hash;
    uint8_t bytes[];
};

struct zn_acl {
    struct rcu_head rcu;
    struct zn_acl *hnext; /* intern table chain, writer only */
    uint64_t hash;
    uint32_t refs; /* writer only */
    uint32_t count;
    struct zn_acl_entry e[]; /* followed by the strings */
};

struct zn_zstate {
    struct rcu_head rcu;
    struct zn_zstate *prev; /* older version kept for a running snapshot */
    uint64_t vzxid;         /* zxid of the entry that produced this version */
    struct zn_stat stat;
    struct zn_blob *data; /* NULL = empty or null */
    struct zn_acl *acl;
    bool data_null; /* null data (jute length -1); data is NULL then */
};

struct zn_session;

struct zn_znode {
    struct cds_lfht_node ht;
    struct rcu_head rcu;
    struct zn_zstate *state; /* rcu pointer */
    struct zn_znode *parent; /* writer */
    struct cds_list_head sibling;
    struct cds_list_head children;
    struct cds_list_head eph; /* in the owner session's ephemeral list */
    struct zn_znode *tomb_next;
    struct zn_znode *dirty_next;
    uint64_t path_hash;
    uint64_t digest;    /* this node's term of the tree digest (writer) */
    uint32_t dirty_gen; /* writer */
    uint32_t snap_gen;  /* snapshot thread */
    uint32_t path_len;
    uint32_t name_off;
    char path[]; /* NUL-terminated */
};

struct zn_session {
    struct cds_lfht_node ht;
    struct rcu_head rcu;
    uint64_t id;
    uint32_t timeout_ms;
    uint8_t passwd[ZN_SESSION_PASSWD_BYTES];
    bool has_last;
    int32_t last_cxid;
    uint8_t *last_reply; /* writer only */
    uint32_t last_reply_len;
    uint64_t digest;
    uint32_t eph_count;
    struct cds_list_head ephemerals;
};

struct zn_store {
    struct cds_lfht *nodes;
    struct cds_lfht *sessions;
    struct zn_znode *root;
    uint32_t data_size_max;
    _Atomic uint64_t seq; /* odd while an apply mutates the tree */
    _Atomic uint64_t applied_zxid;
    _Atomic uint64_t read_list_fallbacks;
    uint64_t digest;  /* znode terms */
    uint64_t sdigest; /* session and exactly-once terms */
    uint64_t node_count;
    uint64_t session_count;
    uint64_t data_bytes;
    /* ACL intern table (writer only) */
    struct zn_acl **acl_tab;
    uint32_t acl_tab_size;
    uint64_t acl_count;
    /* writer scratch */
    struct zn_entry_scratch *scratch;
    struct zn_wbuf reply;
    struct zn_wbuf trig_paths;
    struct zn_trigger *trig;
    uint32_t trig_count;
    uint32_t trig_cap;
    struct zn_wbuf tmp;  /* snapshot session image */
    void *apply_scratch; /* apply.c overlay and ACL fixup storage */
    /* snapshot (writer side) */
    bool snap_active;
    bool snap_releasing; /* snapshot ended, kept versions/tombstones not all released yet */
    uint64_t snap_zxid;
    uint32_t snap_gen;
    struct zn_znode *_Atomic tombs;
    struct zn_znode *dirty;
};

/* tree.c */
uint64_t zn_path_hash(const char *path, uint32_t len);
struct zn_znode *zn_node_lookup(const struct zn_store *s, const char *path, uint32_t len);
struct zn_zstate *zn_state_dup(const struct zn_zstate *old, uint64_t vzxid);
void zn_node_publish(struct zn_store *s, struct zn_znode *n, struct zn_zstate *st);
struct zn_znode *zn_node_insert(struct zn_store *s, struct zn_znode *parent, const char *path,
                                uint32_t len, struct zn_zstate *st);
void zn_node_remove(struct zn_store *s, struct zn_znode *n);
struct zn_blob *zn_blob_new(struct zn_store *s, const uint8_t *data, uint32_t len);
void zn_blob_ref(struct zn_blob *b);
void zn_blob_unref(struct zn_store *s, struct zn_blob *b);
struct zn_acl *zn_acl_intern(struct zn_store *s, const struct zn_acl_entry *e, uint32_t n);
void zn_acl_ref(struct zn_acl *a);
void zn_acl_unref(struct zn_store *s, struct zn_acl *a);
uint64_t zn_node_digest(const struct zn_znode *n, const struct zn_zstate *st);
uint64_t zn_session_digest(const struct zn_session *se);
struct zn_session *zn_session_lookup(const struct zn_store *s, uint64_t id);
struct zn_session *zn_session_insert(struct zn_store *s, uint64_t id, uint32_t timeout_ms,
                                     const uint8_t *passwd);
void zn_session_remove(struct zn_store *s, struct zn_session *se);
void zn_session_set_last(struct zn_store *s, struct zn_session *se, int32_t cxid,
                         const uint8_t *reply, uint32_t len);
struct zn_store *zn_store_alloc_empty(const struct zn_store_config *cfg);
void zn_state_retire(struct zn_store *s, struct zn_zstate *st);
void zn_node_retire(struct zn_store *s, struct zn_znode *n);

/*
 * Iterate a hash table: liburcu's cds_lfht_for_each_entry applies container_of to NULL at the
 * end of the walk (undefined behaviour that UBSan reports); this form converts only non-NULL
 * nodes. Context as for the table (reader or writer).
 */
#define ZN_LFHT_FOR_EACH(ht, iter, pos, member)                                             \
    for (struct cds_lfht_node *zn_n_ =                                                      \
             (cds_lfht_first((ht), (iter)), cds_lfht_iter_get_node(iter));                  \
         zn_n_ != NULL && ((pos) = caa_container_of(zn_n_, __typeof__(*(pos)), member), 1); \
         cds_lfht_next((ht), (iter)), zn_n_ = cds_lfht_iter_get_node(iter))

static inline const struct zn_zstate *zn_node_state(const struct zn_znode *n)
{
    return rcu_dereference(((struct zn_znode *)n)->state);
}

static inline int zn_parent_len(const char *path, uint32_t len)
{
    /* length of the parent path ("/" for top-level nodes); -1 for "/" itself */
    if (len <= 1)
        return -1;
    uint32_t i = len - 1;
    while (i > 0 && path[i] != '/')
        i--;
    return i == 0 ? 1 : (int)i;
}

/* acl.c */
int zn_acl_fixup(const struct zn_acl_entry *in, uint32_t n, const struct zn_identity *ids,
                 uint32_t id_count, struct zn_acl_entry *out, uint32_t *out_n);
bool zn_acl_check(const struct zn_acl_entry *acl, uint32_t acl_count, uint32_t perm,
                  const struct zn_identity *ids, uint32_t id_count);

#endif /* ZN_STORE_INTERNAL_H */
