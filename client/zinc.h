/*
 * zinc.h - libzinc, the C client of zinc (native UDP protocol). Close to ZooKeeper's C client
 * (zookeeper.h): the same data model, create modes, ACLs, watches and error codes, with zn_
 * names. The guide with examples is docs/client.md; the protocol it speaks is
 * docs/wire-format.md "Native client protocol behaviour".
 *
 * Errors: every call returns 0 or a negative ZN_E* code (common/zn_err.h). Replies from the
 * node carry ZooKeeper codes, mapped with zn_err_from_zk (ZK_NONODE -> ZN_ENONODE, ...).
 * Client-side errors: ZN_EBADARGUMENTS (invalid path, mode, version, ACL or NULL argument; the
 * request is not sent), ZN_ELIMIT (data, path, multi or message larger than the limits; not
 * sent), ZN_ETIMEDOUT (no reply within the request timeout: the outcome is unknown, see below),
 * ZN_ESESSIONEXPIRED (the cluster expired the session), ZN_EAUTHFAILED, ZN_ESHUTDOWN (the handle
 * is closing), ZN_EAPI (a blocking call from a callback), ZN_EFULL (too many calls queued),
 * ZN_ENOMEM.
 *
 * Threads (the contract):
 *  - Each handle owns one internal I/O thread. It sends and retransmits, receives, orders
 *    replies and events, and runs every callback: async completions, watchers and the
 *    session-state callback. Callbacks of one handle therefore never run concurrently, and run
 *    in protocol order (replies in request order, events in event order).
 *  - Sync and async calls may be made from any thread, concurrently. An async call returns
 *    once the request is queued (its completion runs later, exactly once, on the I/O thread,
 *    also on timeout, expiry or close). A sync call blocks the calling thread until then.
 *  - Callbacks must not block. A sync call (or zn_close) made from inside a callback returns
 *    ZN_EAPI at once without sending anything; async calls from callbacks are allowed.
 *  - Pointers handed to a callback (paths, data, stats, strings) are valid only during it.
 *  - zn_close may be called once, from any thread but the I/O thread, when no other call on
 *    the handle is in progress in another thread; no call may use the handle after it
 *    returns. Calls still pending complete (ZN_ESHUTDOWN) before it returns, and no callback
 *    runs after it returns.
 *
 * Ordering: calls of one handle take effect in the order they were made (ZooKeeper FIFO), even
 * across retransmission and failover; completions run in that order. Writes are applied exactly
 * once. A watch event is delivered before the completion of any later call whose result
 * reflects the change that fired it.
 *
 * Timeouts: a call not answered within opts.request_timeout_ms completes with ZN_ETIMEDOUT. If
 * it was never sent (the session was reconnecting), it is dropped and will never apply; if it
 * was sent, the client keeps retransmitting it in the background (it keeps its place in the
 * session's order) and it may still apply: as with ZooKeeper's CONNECTIONLOSS, check before
 * retrying a non-idempotent write.
 */
#ifndef ZINC_H
#define ZINC_H

#include <stdbool.h>
#include <stdint.h>

#include "common/zn_err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zn_handle zn_handle;

/* ---- states and events ------------------------------------------------------------------- */

/* Session states, passed to the state callback and (as `state`) to watchers. The numbers of
 * CONNECTED, SUSPENDED, AUTH_FAILED, CLOSED and EXPIRED are ZooKeeper's keeper states
 * (SyncConnected 3, Disconnected 0, AuthFailed 4, Closed 7, Expired -112). */
enum zn_state {
    ZN_STATE_CONNECTING = 1,  /* opening the session (first CONNECT not yet answered) */
    ZN_STATE_CONNECTED = 3,   /* session open on a node */
    ZN_STATE_SUSPENDED = 0,   /* node silent: reconnecting the same session to the next node */
    ZN_STATE_AUTH_FAILED = 4, /* authentication refused: terminal */
    ZN_STATE_CLOSED = 7,      /* zn_close: terminal */
    ZN_STATE_EXPIRED = -112,  /* the cluster expired the session: terminal */
};

/* Watch event types (ZooKeeper's Watcher.Event.EventType). */
enum zn_event_type {
    ZN_EVENT_SESSION = -1, /* a session state change (path is "") */
    ZN_EVENT_CREATED = 1,
    ZN_EVENT_DELETED = 2,
    ZN_EVENT_CHANGED = 3,
    ZN_EVENT_CHILD = 4,
    ZN_EVENT_DATA_WATCH_REMOVED = 5,
    ZN_EVENT_CHILD_WATCH_REMOVED = 6,
    ZN_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};

/* Create modes (ZooKeeper CreateMode flags). */
enum zn_create_mode {
    ZN_PERSISTENT = 0,
    ZN_EPHEMERAL = 1,
    ZN_PERSISTENT_SEQUENTIAL = 2,
    ZN_EPHEMERAL_SEQUENTIAL = 3,
    ZN_CONTAINER = 4,
    ZN_PERSISTENT_WITH_TTL = 5,
    ZN_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* addWatch modes. */
enum zn_add_watch_mode { ZN_WATCH_PERSISTENT = 0, ZN_WATCH_PERSISTENT_RECURSIVE = 1 };

/* removeWatches / checkWatches watcher types. */
enum zn_watcher_type { ZN_WATCHER_CHILDREN = 1, ZN_WATCHER_DATA = 2, ZN_WATCHER_ANY = 3 };

/* Permissions. */
enum {
    ZN_PERM_READ = 1,
    ZN_PERM_WRITE = 2,
    ZN_PERM_CREATE = 4,
    ZN_PERM_DELETE = 8,
    ZN_PERM_ADMIN = 16,
    ZN_PERM_ALL = 31,
};

/* ---- records ------------------------------------------------------------------------------ */

struct zn_stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeral_owner;
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
};

struct zn_acl {
    int32_t perms;
    char *scheme;
    char *id;
};

struct zn_acl_vec {
    int32_t count;
    struct zn_acl *data;
};

/* world:anyone ALL / world:anyone READ / auth:"" ALL (the identities of this session). */
extern struct zn_acl_vec ZN_OPEN_ACL_UNSAFE;
extern struct zn_acl_vec ZN_READ_ACL_UNSAFE;
extern struct zn_acl_vec ZN_CREATOR_ALL_ACL;

/* A list of strings allocated by the library (sync calls); free with zn_strings_free. */
struct zn_strings {
    int32_t count;
    char **data;
};

/* whoAmI: the identities of the session. */
struct zn_client_info {
    char *scheme;
    char *user;
};

struct zn_client_infos {
    int32_t count;
    struct zn_client_info *data;
};

void zn_strings_free(struct zn_strings *s);
void zn_acl_vec_free(struct zn_acl_vec *acl);
void zn_client_infos_free(struct zn_client_infos *infos);

/* ---- multi ------------------------------------------------------------------------------- */

enum zn_op_type {
    ZN_OP_CREATE = 1,  /* multi */
    ZN_OP_DELETE = 2,  /* multi */
    ZN_OP_SET = 5,     /* multi */
    ZN_OP_CHECK = 13,  /* multi */
    ZN_OP_GET = 4,     /* multiRead: getData */
    ZN_OP_CHILDREN = 8 /* multiRead: getChildren */
};

struct zn_op {
    int type;
    const char *path;
    const char *data;             /* create, set */
    int32_t data_len;             /* -1 with data NULL: null data */
    const struct zn_acl_vec *acl; /* create */
    int mode;                     /* create: enum zn_create_mode */
    int64_t ttl_ms;               /* create with a TTL mode */
    int32_t version;              /* delete, set, check (-1: any) */
};

/* Result of one op. Owned by the library after a sync call: free with zn_op_results_free. */
struct zn_op_result {
    int err;                    /* 0 or ZN_E*; ZN_EINCONSISTENT for ops after a failed one */
    char *path;                 /* create: the created path (chroot stripped) */
    char *data;                 /* multiRead get: value (NULL for null data) */
    int32_t data_len;           /* multiRead get: length (-1 for null data) */
    struct zn_strings children; /* multiRead children */
    struct zn_stat stat;        /* create, set, multiRead get */
};

void zn_op_results_free(struct zn_op_result *results, int count);

/* Convenience initialisers (ZooKeeper's zoo_*_op_init). */
void zn_op_create(struct zn_op *op, const char *path, const char *data, int32_t data_len,
                  const struct zn_acl_vec *acl, int mode);
void zn_op_delete(struct zn_op *op, const char *path, int32_t version);
void zn_op_set(struct zn_op *op, const char *path, const char *data, int32_t data_len,
               int32_t version);
void zn_op_check(struct zn_op *op, const char *path, int32_t version);
void zn_op_get(struct zn_op *op, const char *path);
void zn_op_children(struct zn_op *op, const char *path);

/* ---- callbacks --------------------------------------------------------------------------- */

/* A watcher: `type` is enum zn_event_type, `state` enum zn_state, `path` relative to the
 * chroot ("" for session events). Runs on the I/O thread. */
typedef void (*zn_watcher_fn)(zn_handle *zh, int type, int state, const char *path, void *ctx);
/* Session state changes (also delivered to the global watcher as ZN_EVENT_SESSION). */
typedef void (*zn_state_fn)(zn_handle *zh, int state, void *ctx);

/* Completions: rc is 0 or ZN_E*; result arguments are NULL/0 when rc != 0. */
typedef void (*zn_void_completion)(int rc, const void *data);
typedef void (*zn_stat_completion)(int rc, const struct zn_stat *stat, const void *data);
typedef void (*zn_data_completion)(int rc, const char *value, int32_t value_len,
                                   const struct zn_stat *stat, const void *data);
typedef void (*zn_strings_completion)(int rc, const struct zn_strings *strings, const void *data);
typedef void (*zn_strings_stat_completion)(int rc, const struct zn_strings *strings,
                                           const struct zn_stat *stat, const void *data);
typedef void (*zn_string_completion)(int rc, const char *value, const void *data);
typedef void (*zn_string_stat_completion)(int rc, const char *path, const struct zn_stat *stat,
                                          const void *data);
typedef void (*zn_acl_completion)(int rc, const struct zn_acl_vec *acl, const struct zn_stat *stat,
                                  const void *data);
typedef void (*zn_int_completion)(int rc, int32_t value, const void *data);
typedef void (*zn_multi_completion)(int rc, int count, const struct zn_op_result *results,
                                    const void *data);
typedef void (*zn_whoami_completion)(int rc, const struct zn_client_infos *infos, const void *data);

/* ---- opening and closing ----------------------------------------------------------------- */

struct zn_options {
    uint32_t session_timeout_ms; /* requested; the node negotiates (default 10000) */
    uint32_t cluster_id;         /* must match the nodes' cluster id (default 0) */
    uint32_t connect_timeout_ms; /* zn_open gives up after this (default: session timeout) */
    uint32_t request_timeout_ms; /* per call; 0 = wait until answered or expiry (default
                                    20000) */
    uint32_t close_timeout_ms;   /* zn_close waits this long for closeSession (default 2000) */
    bool linearizable_reads;     /* default for reads (zn_set_linearizable_reads) */
    bool shuffle_nodes;          /* start at a random node of the list (default true) */
    int32_t data_bytes_max;      /* client-side data limit (default 1 MiB, the node's default) */
    zn_watcher_fn watcher;       /* global watcher (watch flag = 1 calls, session events) */
    void *watcher_ctx;
    zn_state_fn state_cb; /* session state changes */
    void *state_ctx;
};

/* Fill `opts` with the defaults above. */
void zn_options_init(struct zn_options *opts);

/*
 * Open a session. `hosts` is "host:port[,host:port...][/chroot]" (IPv6 as [addr]:port, at most
 * 16 nodes). Blocks until the session is CONNECTED, then returns 0 and the handle in *out.
 * Errors: ZN_EBADARGUMENTS (bad string or options), ZN_ETIMEDOUT (no node answered within
 * connect_timeout_ms), a refusal from the node (mapped), ZN_ENOMEM, ZN_ESYSTEM (socket/thread).
 * `opts` may be NULL for the defaults.
 */
int zn_open(const char *hosts, const struct zn_options *opts, zn_handle **out);

/*
 * Close the session: sends closeSession after every call made before, waits at most
 * close_timeout_ms for its reply, fails what is left with ZN_ESHUTDOWN, stops the I/O thread
 * and frees the handle. Returns 0, ZN_ETIMEDOUT (the node did not confirm; the session will
 * expire on its own) or ZN_EAPI (called from a callback: nothing done).
 */
int zn_close(zn_handle *zh);

/* Current state, session id, negotiated timeout, last zxid seen, the node connected to (index
 * in the connection string) and the leader id the node last reported (0 unknown). */
int zn_state(zn_handle *zh);
int64_t zn_session_id(zn_handle *zh);
int32_t zn_session_timeout_ms(zn_handle *zh);
int64_t zn_last_zxid(zn_handle *zh);
int zn_current_node(zn_handle *zh);
uint32_t zn_leader_id(zn_handle *zh);

/* Serve later reads of this handle linearizably (ReadIndex) or from the local replica. */
void zn_set_linearizable_reads(zn_handle *zh, bool on);

/* Counters of the transport, for tests and diagnostics (monotonic). */
struct zn_client_stats {
    uint64_t requests_sent;      /* distinct requests (seq numbers) sent */
    uint64_t retransmits;        /* request retransmissions (RETRY flag) */
    uint64_t replies;            /* replies accepted */
    uint64_t duplicate_replies;  /* replies for an already answered seq (dropped) */
    uint64_t events;             /* events delivered */
    uint64_t duplicate_events;   /* events already delivered (dropped, re-acked) */
    uint64_t early_events;       /* events held until the gap before them filled */
    uint64_t acks_sent;          /* ACK messages */
    uint64_t pings_sent;         /* PING messages */
    uint64_t connects_sent;      /* CONNECT messages (with retransmissions) */
    uint64_t reconnects;         /* CONNECTED on a new node after SUSPENDED */
    uint64_t datagrams_sent;     /* datagrams (segments) sent */
    uint64_t datagrams_received; /* datagrams received and valid */
    uint64_t datagrams_dropped;  /* invalid, other cluster, other node, or reassembly refused */
    uint64_t timeouts;           /* calls completed with ZN_ETIMEDOUT */
    uint64_t kernel_dropped;     /* datagrams the kernel dropped before we read them (socket
                                    receive buffer full; SO_RXQ_OVFL) */
    uint64_t auths_resent;       /* addAuth identities sent again after a reconnect */
};
void zn_get_stats(zn_handle *zh, struct zn_client_stats *out);

/* ---- sync calls -------------------------------------------------------------------------- */
/* Each blocks until its reply (or timeout/expiry/close). `watch` = 1 sets a watch for the
 * global watcher; the zn_w* variants set it for (watcher, ctx) instead. Out pointers may be
 * NULL when not wanted, except those named as results. Library-allocated results (strings,
 * ACLs, multi results, client infos) are zeroed first, so freeing them is safe after any
 * return code. */

/*
 * Create `path` with `value` (value_len bytes; NULL and -1 for null data). `mode`: enum
 * zn_create_mode; `ttl_ms` > 0 for the TTL modes, else 0. The created path (with a sequential
 * suffix when asked) is copied into path_buf (NUL-terminated, truncated to path_buf_len) and
 * its stat into *stat.
 */
int zn_create(zn_handle *zh, const char *path, const char *value, int32_t value_len,
              const struct zn_acl_vec *acl, int mode, int64_t ttl_ms, char *path_buf,
              int path_buf_len, struct zn_stat *stat);
int zn_delete(zn_handle *zh, const char *path, int32_t version);
/* 0 and *stat when the node exists, ZN_ENONODE otherwise (a watch is set either way). */
int zn_exists(zn_handle *zh, const char *path, int watch, struct zn_stat *stat);
int zn_wexists(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
               struct zn_stat *stat);
/* Copies at most *buf_len bytes into buf and sets *buf_len to the bytes copied (-1 for null
 * data); stat->data_length gives the full size. */
int zn_get(zn_handle *zh, const char *path, int watch, char *buf, int32_t *buf_len,
           struct zn_stat *stat);
int zn_wget(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx, char *buf,
            int32_t *buf_len, struct zn_stat *stat);
int zn_set(zn_handle *zh, const char *path, const char *value, int32_t value_len, int32_t version,
           struct zn_stat *stat);
/* `strings` is filled (free with zn_strings_free). */
int zn_get_children(zn_handle *zh, const char *path, int watch, struct zn_strings *strings);
int zn_wget_children(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                     struct zn_strings *strings);
int zn_get_children2(zn_handle *zh, const char *path, int watch, struct zn_strings *strings,
                     struct zn_stat *stat);
int zn_wget_children2(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                      struct zn_strings *strings, struct zn_stat *stat);
/* `acl` is filled (free with zn_acl_vec_free). */
int zn_get_acl(zn_handle *zh, const char *path, struct zn_acl_vec *acl, struct zn_stat *stat);
int zn_set_acl(zn_handle *zh, const char *path, int32_t version, const struct zn_acl_vec *acl);
/* Make the next reads of this session linearizable up to now (ZooKeeper sync). */
int zn_sync(zn_handle *zh, const char *path);
/* All-or-nothing multi (create/delete/set/check). `results` has `count` entries, filled (free
 * their contents with zn_op_results_free). Returns 0 or the first failing op's error. */
int zn_multi(zn_handle *zh, int count, const struct zn_op *ops, struct zn_op_result *results);
/* Several reads (get/children) in one request; each result has its own err. Returns 0 unless
 * the request as a whole failed. */
int zn_multi_read(zn_handle *zh, int count, const struct zn_op *ops, struct zn_op_result *results);
/* A persistent (recursive) watch on `path` for (watcher, ctx); NULL watcher = global. */
int zn_add_watch(zn_handle *zh, const char *path, int mode, zn_watcher_fn watcher, void *ctx);
/*
 * Remove the watches of `type` on `path` registered with (watcher, ctx) (watcher NULL: every
 * watcher of that type on the path). Each removed watcher receives a *_WATCH_REMOVED event.
 * ZN_ENOWATCHER when none matches. With `local` the node is not asked (works while
 * disconnected).
 */
int zn_remove_watches(zn_handle *zh, const char *path, int type, zn_watcher_fn watcher, void *ctx,
                      int local);
/* Ask the node whether a watch of `type` is set on `path` for this session. */
int zn_check_watches(zn_handle *zh, const char *path, int type);
/* Ephemeral nodes of this session under `prefix` ("/" for all). */
int zn_get_ephemerals(zn_handle *zh, const char *prefix, struct zn_strings *paths);
int zn_get_all_children_number(zn_handle *zh, const char *path, int32_t *number);
/* Add an identity (e.g. "digest", "user:pass") to the session. The node keeps identities per
 * connection (as ZooKeeper does); the handle keeps each accepted one and sends it again, in
 * order, after every reconnect, before any other request (docs/client.md "Identities"). At most
 * ZN_CLIENT_AUTH_MAX (7) distinct identities per handle, credential <= 1024 bytes, scheme <= 32
 * bytes: else ZN_ELIMIT, nothing sent. A refusal (now or when re-sent) ends the session with
 * ZN_STATE_AUTH_FAILED. Credentials are wiped from memory when the handle closes. */
int zn_add_auth(zn_handle *zh, const char *scheme, const char *cert, int32_t cert_len);
int zn_whoami(zn_handle *zh, struct zn_client_infos *infos);

/* ---- async calls ------------------------------------------------------------------------- */
/* Each queues the request and returns 0 (the completion will run exactly once on the I/O
 * thread), or an error without queuing (and without running the completion). `completion`
 * may be NULL. */

int zn_acreate(zn_handle *zh, const char *path, const char *value, int32_t value_len,
               const struct zn_acl_vec *acl, int mode, int64_t ttl_ms,
               zn_string_stat_completion completion, const void *data);
int zn_adelete(zn_handle *zh, const char *path, int32_t version, zn_void_completion completion,
               const void *data);
int zn_aexists(zn_handle *zh, const char *path, int watch, zn_stat_completion completion,
               const void *data);
int zn_awexists(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                zn_stat_completion completion, const void *data);
int zn_aget(zn_handle *zh, const char *path, int watch, zn_data_completion completion,
            const void *data);
int zn_awget(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
             zn_data_completion completion, const void *data);
int zn_aset(zn_handle *zh, const char *path, const char *value, int32_t value_len, int32_t version,
            zn_stat_completion completion, const void *data);
int zn_aget_children(zn_handle *zh, const char *path, int watch, zn_strings_completion completion,
                     const void *data);
int zn_awget_children(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                      zn_strings_completion completion, const void *data);
int zn_aget_children2(zn_handle *zh, const char *path, int watch,
                      zn_strings_stat_completion completion, const void *data);
int zn_awget_children2(zn_handle *zh, const char *path, zn_watcher_fn watcher, void *ctx,
                       zn_strings_stat_completion completion, const void *data);
int zn_aget_acl(zn_handle *zh, const char *path, zn_acl_completion completion, const void *data);
int zn_aset_acl(zn_handle *zh, const char *path, int32_t version, const struct zn_acl_vec *acl,
                zn_void_completion completion, const void *data);
int zn_async(zn_handle *zh, const char *path, zn_string_completion completion, const void *data);
int zn_amulti(zn_handle *zh, int count, const struct zn_op *ops, zn_multi_completion completion,
              const void *data);
int zn_amulti_read(zn_handle *zh, int count, const struct zn_op *ops,
                   zn_multi_completion completion, const void *data);
int zn_aadd_watch(zn_handle *zh, const char *path, int mode, zn_watcher_fn watcher, void *ctx,
                  zn_void_completion completion, const void *data);
int zn_aremove_watches(zn_handle *zh, const char *path, int type, zn_watcher_fn watcher, void *ctx,
                       int local, zn_void_completion completion, const void *data);
int zn_acheck_watches(zn_handle *zh, const char *path, int type, zn_void_completion completion,
                      const void *data);
int zn_aget_ephemerals(zn_handle *zh, const char *prefix, zn_strings_completion completion,
                       const void *data);
int zn_aget_all_children_number(zn_handle *zh, const char *path, zn_int_completion completion,
                                const void *data);
int zn_aadd_auth(zn_handle *zh, const char *scheme, const char *cert, int32_t cert_len,
                 zn_void_completion completion, const void *data);
int zn_awhoami(zn_handle *zh, zn_whoami_completion completion, const void *data);

/* ---- helpers ----------------------------------------------------------------------------- */

/*
 * Validate a path as the node would (../shared/zk-protocol.md "Paths"): absolute, no empty,
 * "." or ".." component, no trailing '/' (except "/", or for a sequential create), valid UTF-8
 * without the forbidden code points, at most ZN_PATH_LEN_MAX bytes. Returns 0 or
 * ZN_EBADARGUMENTS (ZN_ELIMIT when too long).
 */
int zn_path_validate(const char *path, bool sequential);

#ifdef __cplusplus
}
#endif

#endif /* ZINC_H */
