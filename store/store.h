/*
 * store/store.h - the znode tree: ZooKeeper 3.9's data model on an RCU hash table.
 *
 * One writer (the apply stage) changes the tree only through zn_store_apply(); any number of
 * liburcu QSBR readers (worker lcores) read it without locks through zn_store_read() and
 * zn_store_stat(). RCU contract (every function below names its context):
 *  - "writer": the single apply thread, registered with rcu_register_thread() and online. It
 *    must pass through rcu_quiescent_state() after every apply (it costs a few ns) or go
 *    offline: grace periods wait for it, and both memory reclamation (call_rcu) and the hash
 *    table's lazy growth (which needs many grace periods) stall otherwise - measured: with a
 *    quiescent state every 64 applies, 400K znodes left the table unresized and lookups took
 *    ~25 us instead of ~1 us.
 *  - "reader": a registered QSBR thread that is online; pointers returned stay valid until the
 *    caller's next rcu_quiescent_state()/rcu_thread_offline().
 *  - "any": no RCU requirement.
 * Readers see whole entries: a seqcount around each apply makes a read that overlapped an apply
 * resolve its nodes again, so a multi is atomic to readers and a read never mixes two zxids
 * (listings: see read.c for the bounded exception).
 *
 * Apply is pure (STYLE.md 4): the result depends only on the tree and the entry bytes (time and
 * ids come from the leader's stamp); no clock, no randomness, no logging, no I/O.
 */
#ifndef ZN_STORE_STORE_H
#define ZN_STORE_STORE_H

#include "store/codec.h"
#include "store/entry.h"
#include "store/types.h"

struct zn_store;
struct zn_acl;

struct zn_store_config {
    uint32_t data_size_max; /* bytes of one znode's data; 0 = ZN_DATA_SIZE_DEFAULT_BYTES */
    /*
     * Znodes the tree is sized for at creation (0 = small). The hash table still grows beyond
     * it, but liburcu grows it lazily in a background worker that needs CPU time and many grace
     * periods; on a loaded machine lookups ran on long chains for seconds. Pre-sizing costs
     * 16 bytes per bucket (16 MiB for 1M znodes).
     */
    uint64_t expected_znodes;
};

/* Watch event types (Watcher.Event.EventType). */
enum zn_event_type {
    ZN_EVENT_NONE = -1,
    ZN_EVENT_NODE_CREATED = 1,
    ZN_EVENT_NODE_DELETED = 2,
    ZN_EVENT_NODE_DATA_CHANGED = 3,
    ZN_EVENT_NODE_CHILDREN_CHANGED = 4,
    ZN_EVENT_DATA_WATCH_REMOVED = 5,
    ZN_EVENT_CHILD_WATCH_REMOVED = 6,
    ZN_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};

/* A change that may fire watches: produced by apply, consumed by the watch registry. */
struct zn_trigger {
    int32_t type; /* enum zn_event_type */
    struct zn_str path;
    int64_t zxid;
    const struct zn_acl *acl; /* ACL to re-check on delivery (valid until the next apply) */
};

struct zn_apply_result {
    uint8_t entry_type;
    uint64_t zxid;
    uint64_t session;
    int32_t cxid;
    bool has_reply;       /* CLIENT entries and session creation have a reply for the client */
    bool duplicate;       /* a retry: reply is the cached reply of the first execution */
    bool stale;           /* an older request sequence than the last applied: no reply */
    const uint8_t *reply; /* store/reply.h encoding; valid until the next apply */
    size_t reply_len;
    const struct zn_trigger *triggers; /* in apply order; valid until the next apply */
    uint32_t trigger_count;
    uint64_t closed_session; /* nonzero when this entry closed or expired a session */
};

/* Create a tree holding /, /zookeeper, /zookeeper/config, /zookeeper/quota. Context: writer. */
int zn_store_create(const struct zn_store_config *cfg, struct zn_store **out);

/*
 * Free the tree. Context: writer, with no reader left using the tree; the calling thread is
 * taken offline for the RCU barrier and put back online.
 */
void zn_store_destroy(struct zn_store *s);

/*
 * Apply one committed log entry. Returns 0 when the entry was applied (the client-visible
 * outcome, success or a ZooKeeper error, is in the reply), ZN_EPROTO/ZN_EVERSION for bytes that
 * do not decode (nothing changes), ZN_ESTALE when entry zxid <= the applied zxid (nothing
 * changes). Out of memory during a change is fail-stop (zn_panic): a replica may not diverge.
 * Context: writer.
 */
int zn_store_apply(struct zn_store *s, const uint8_t *entry, size_t len,
                   struct zn_apply_result *res);

/*
 * Execute a read (exists, getData, getACL, getChildren(2), getEphemerals, getAllChildrenNumber,
 * multiRead, sync) for `session` with identities ids, appending the reply to out. Returns 0 with
 * the reply in out (its err may be a ZooKeeper error), or ZN_ENOMEM/ZN_ELIMIT/ZN_EINVAL.
 * *zxid_out (optional) receives the applied zxid the reply reflects. Context: reader.
 */
int zn_store_read(const struct zn_store *s, uint64_t session, const struct zn_identity *ids,
                  uint32_t id_count, const struct zn_op *op, struct zn_wbuf *out,
                  uint64_t *zxid_out);

/* Listings served outside the consistency window after ZN_STORE_READ_LIST_TRIES. Any. */
uint64_t zn_store_read_list_fallbacks(const struct zn_store *s);

/*
 * Fast path for exists/getData: Stat of path, and optionally a pointer to its data (valid until
 * the caller's next quiescent state). No ACL check (callers that need one use zn_store_read).
 * Returns 0 or ZN_ENONODE. Context: reader.
 */
int zn_store_stat(const struct zn_store *s, const char *path, uint32_t path_len, struct zn_stat *st,
                  const uint8_t **data);

/*
 * Release up to budget items kept by the last snapshot (see snapshot.h); returns how many were
 * released (0 when nothing is pending). apply already does a few after every entry; an idle
 * writer calls this from its housekeeping. Context: writer.
 */
uint32_t zn_store_maintain(struct zn_store *s, uint32_t budget);

/* Applied zxid (last applied entry). Context: any. */
uint64_t zn_store_applied_zxid(const struct zn_store *s);

/*
 * Order-independent digest of all znodes (path, data, Stat, ACL), sessions and the
 * exactly-once table, maintained incrementally by apply; equal on replicas that applied the
 * same entries. Context: writer.
 */
uint64_t zn_store_digest(const struct zn_store *s);
/* The znode part of the digest only (what a failed request must leave unchanged). Writer. */
uint64_t zn_store_tree_digest(const struct zn_store *s);
/* The same digest recomputed from scratch (O(n)), to check the incremental one. Writer. */
uint64_t zn_store_digest_compute(const struct zn_store *s);

struct zn_store_counts {
    uint64_t znodes;
    uint64_t sessions;
    uint64_t acls; /* distinct interned ACL lists */
    uint64_t data_bytes;
};
/* Context: writer. */
void zn_store_counts(const struct zn_store *s, struct zn_store_counts *out);

/*
 * Containers and TTL nodes due for deletion at leader time now_ms: up to max paths are passed
 * to fn (the management core turns each into a ZN_ENTRY_EXPIRE entry; apply re-checks the
 * condition, so a stale candidate is harmless). A container is due when it has no children and
 * has had one (cversion > 0); a TTL node when it has no children and mtime + ttl < now_ms.
 * Returns the number of candidates. Context: reader.
 */
uint32_t zn_store_expiry_candidates(const struct zn_store *s, int64_t now_ms, uint32_t max,
                                    void (*fn)(void *ctx, struct zn_str path), void *ctx);

/* Sessions (ids and negotiated timeouts) for the leader's expiry tracker. Context: reader. */
uint32_t zn_store_sessions(const struct zn_store *s,
                           void (*fn)(void *ctx, uint64_t id, uint32_t timeout_ms), void *ctx);

/*
 * A session's negotiated timeout and password (reconnects compare the password). Returns 0 or
 * ZN_EUNKNOWNSESSION. Context: reader.
 */
int zn_store_session_get(const struct zn_store *s, uint64_t id, uint32_t *timeout_ms,
                         uint8_t passwd[ZN_SESSION_PASSWD_BYTES]);

/*
 * A session's last applied request (exactly-once, DESIGN.md 7): *has_last says whether any
 * request of the session has been applied, *last_cxid is its cxid (0 if none). apply treats a
 * request with that cxid as a retransmission and a lower one as stale. Returns 0 or
 * ZN_EUNKNOWNSESSION (then both outputs are false/0). Context: reader or the writer. The writer
 * updates these fields in place (not copy-and-publish): on the writer's thread the value is
 * exact; a reader on another thread that overlaps the apply of the session's next request may
 * see the value from before it.
 */
int zn_store_session_last_cxid(const struct zn_store *s, uint64_t id, bool *has_last,
                               int32_t *last_cxid);

/* ACL check helper for watch delivery: does (ids) hold perm on acl? Context: writer. */
bool zn_acl_allows(const struct zn_acl *acl, uint32_t perm, const struct zn_identity *ids,
                   uint32_t id_count);

/* Path validation per ZooKeeper PathUtils.validatePath (zk-protocol.md "Paths"). Any. */
int zn_path_validate(const char *path, uint32_t len);

#endif /* ZN_STORE_STORE_H */
