/*
 * zn_client_internal.h - libzinc's private types, shared by client.c (handle, I/O thread,
 * protocol), ops.c (the API calls: encoding, reply decoding, sync wrappers), watch.c (the
 * client-side watch registry) and util.c (connection string, path validation).
 *
 * Ownership: a struct zn_req is created by an API thread, handed to the I/O thread through the
 * submit queue (under zh->mu) and from then on owned by the I/O thread until it is freed after
 * its completion ran and (if it was sent) its reply arrived. The watch registry, the lists
 * pending/inflight/events and every protocol field belong to the I/O thread alone.
 */
#ifndef ZN_CLIENT_INTERNAL_H
#define ZN_CLIENT_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "client/zinc.h"
#include "common/zn_limits.h"
#include "common/zn_prng.h"
#include "proto/reasm.h"
#include "proto/session.h"
#include "proto/zk.h"

/* How a reply body is decoded and which completion type runs. */
enum zn_rtype {
    ZN_R_VOID = 0,
    ZN_R_STAT,
    ZN_R_EXISTS, /* stat; NONODE is an answer that sets an exist watch */
    ZN_R_DATA,
    ZN_R_STRINGS,
    ZN_R_STRINGS_STAT,
    ZN_R_EPHEMERALS, /* strings with the chroot stripped */
    ZN_R_CREATE,     /* Create2Response: path + stat */
    ZN_R_SYNC,       /* SyncResponse: path */
    ZN_R_ACL,
    ZN_R_INT,
    ZN_R_MULTI,
    ZN_R_MULTI_READ,
    ZN_R_WHOAMI,
    ZN_R_INTERNAL, /* setWatches2, closeSession: no user completion */
};

/* Watch kinds in the registry. DATA and EXIST fire on the same events; EXIST is remembered so
 * that setWatches2 re-registers it as an exist watch. */
enum zn_wkind {
    ZN_WK_NONE = 0,
    ZN_WK_DATA = 1,
    ZN_WK_EXIST = 2,
    ZN_WK_CHILD = 3,
    ZN_WK_PERSISTENT = 4,
    ZN_WK_RECURSIVE = 5,
};

struct zn_sync;

struct zn_req {
    struct zn_req *next;
    int32_t op;
    enum zn_rtype rtype;
    union {
        zn_void_completion v;
        zn_stat_completion stat;
        zn_data_completion data;
        zn_strings_completion strings;
        zn_strings_stat_completion strings_stat;
        zn_string_completion string;
        zn_string_stat_completion string_stat;
        zn_acl_completion acl;
        zn_int_completion i;
        zn_multi_completion multi;
        zn_whoami_completion whoami;
        void (*any)(void);
    } cb;
    const void *cb_data;
    struct zn_sync *sync; /* internal waiter (close) */

    /* The message: ZN_SESS_HDR_BYTES of session header (written at each send) + RequestHeader +
     * body. The xid at offset ZN_SESS_HDR_BYTES is patched when the seq is assigned. */
    uint8_t *msg;
    uint32_t msg_len;
    bool is_read;      /* may carry LINEARIZABLE */
    bool linearizable; /* chosen at submit */

    /* Protocol state (I/O thread). */
    uint64_t seq;    /* 0 until first sent */
    uint64_t msg_id; /* frame msg_id, reused by retransmissions */
    uint64_t first_send_ns;
    uint64_t last_send_ns;
    uint64_t rto_ns;      /* current retransmission timeout of this request (backed off) */
    uint64_t deadline_ns; /* 0: none */
    uint32_t sends;
    bool answered;
    bool delivered;
    bool failed; /* completed without a reply (timeout, local error); rc says why */
    int rc;
    uint8_t *reply; /* body after ReplyHeader (malloc), reply_len bytes */
    uint32_t reply_len;

    /* Watch set by this request (server path), registered tentatively when sent. */
    enum zn_wkind wkind;
    zn_watcher_fn wfn;
    void *wctx;
    uint64_t wid; /* registry entry id of the tentative registration (0: none) */
    char *path;   /* server path (with chroot) for watch and removeWatches bookkeeping */
    int wtype;    /* removeWatches: enum zn_watcher_type */
    bool wlocal;  /* removeWatches: client side only */
    bool wany_fn; /* removeWatches: watcher NULL matches every watcher */
    bool counted; /* counted in zh->calls_queued */
    int multi_count;
    /* addAuth: holds one of the ZN_CLIENT_AUTH_MAX slots until answered (zh->auth_reserved). */
    bool auth_reserved;
    /* addAuth answered 0: its identity is one the node must get back after a reconnect. */
    bool auth_ok;
    /* Answered, sent again after a reconnect (an addAuth the new node must take in seq order):
     * retransmitted until the node answers again. */
    bool replay_due;
};

/* An identity this session acquired (an addAuth the node answered with 0), kept to be sent
 * again after every reconnect (ZooKeeper clients keep their auth infos the same way). `msg` is
 * the original request (session header room + RequestHeader + AuthPacket): it holds the
 * credential, so it is wiped before it is freed and never logged. */
struct zn_auth_rec {
    uint8_t *msg;
    uint32_t msg_len;
    uint64_t seq; /* seq of the addAuth call that acquired it (the identity's place in order) */
    /* Re-send after a reconnect (I/O thread): */
    bool waiting; /* sent, reply not yet received */
    uint64_t msg_id;
    uint64_t last_send_ns;
    uint64_t rto_ns;
};

/* A watch event waiting for delivery (after the replies received before it). */
struct zn_event {
    struct zn_event *next;
    int32_t type;
    int32_t state;
    char *path; /* server path */
    uint64_t zxid;
    uint64_t barrier_seq;
};

struct zn_watch {
    struct zn_watch *next;
    char *path;
    uint64_t id;
    enum zn_wkind kind;
    zn_watcher_fn fn; /* NULL: the global watcher */
    void *ctx;
};

#define ZN_WATCH_BUCKETS 1024u

struct zn_watch_table {
    struct zn_watch *buckets[ZN_WATCH_BUCKETS];
    uint32_t count;
    uint64_t next_id;
};

struct zn_node_addr {
    struct sockaddr_storage sa;
    socklen_t len;
};

struct zn_queue {
    struct zn_req *head;
    struct zn_req *tail;
    uint32_t count;
};

struct zn_handle {
    /* Configuration (immutable after open). */
    struct zn_options opts;
    struct zn_node_addr nodes[ZN_CLIENT_NODES_MAX];
    int node_count;
    char chroot[ZN_PATH_LEN_MAX + 1]; /* "" when none */
    size_t chroot_len;

    /* Shared with API threads (under mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* open: state changes; sync calls use their own */
    struct zn_queue submit;
    atomic_uint calls_queued; /* accepted calls not yet freed (ZN_CLIENT_QUEUE_MAX) */
    pthread_t io_thread;
    bool io_started;
    pthread_t io_self;
    atomic_bool io_self_set;
    atomic_bool stop;
    atomic_int state;       /* enum zn_state */
    atomic_int terminal_rc; /* 0 while usable, else the error every new call gets */
    atomic_bool linearizable;
    atomic_llong session_id;
    atomic_int timeout_ms;
    atomic_llong last_zxid_pub;
    atomic_int cur_node_pub;
    atomic_uint leader_pub;
    int state_seen;  /* state whose callbacks have run (under mu) */
    bool close_done; /* closeSession delivered (under mu) */
    int close_rc;
    pthread_mutex_t stats_mu;
    struct zn_client_stats stats;

    /* I/O thread only. */
    int fd;
    int efd;
    struct zn_prng prng;
    int cur_node;
    uint8_t cur_sender; /* frame sender id of the connected node */
    bool ever_connected;
    uint64_t session;
    uint8_t passwd[ZN_ZK_PASSWD_BYTES];
    int32_t passwd_len;
    uint8_t nonce[ZN_ZK_PASSWD_BYTES]; /* new-session CONNECT identity */
    uint32_t negotiated_ms;
    uint64_t last_zxid;
    uint64_t next_seq;
    uint64_t next_msg_id;
    uint64_t ev_next;    /* next event number expected from the node */
    uint64_t conn_epoch; /* connection attempt number (CONNECT.ack, echoed in CONNECTED.seq) */
    struct zn_event *ev_early[ZN_CLIENT_EVENT_WINDOW];
    uint64_t max_answered_seq;
    struct zn_queue pending;  /* submitted, not yet sent (no seq) */
    struct zn_queue inflight; /* sent, ordered by seq */
    uint64_t inflight_bytes;
    struct zn_event *ev_head;
    struct zn_event *ev_tail;
    bool ack_due;
    uint64_t connect_started_ns; /* start of the attempt on cur_node */
    uint64_t connect_next_ns;
    uint64_t connect_backoff_ns;
    uint64_t last_recv_ns;
    uint64_t last_send_ns;
    uint32_t kernel_drops_seen; /* last SO_RXQ_OVFL value of fd (cumulative, wraps) */
    uint64_t last_ping_ns;
    uint64_t srtt_ns[2]; /* [0] reads and other calls, [1] writes (zn_zk_op_is_write) */
    uint64_t rttvar_ns[2];
    uint64_t rto_ns[2];
    struct zn_reasm reasm;
    struct zn_watch_table watches;
    uint8_t *rxbuf;

    /* Identities to re-send after a reconnect, in seq order. The records and counts are written
     * by the I/O thread and read by API threads (the ZN_CLIENT_AUTH_MAX check): under mu. */
    struct zn_auth_rec auths[ZN_CLIENT_AUTH_MAX];
    uint32_t auth_count;
    uint32_t auth_reserved; /* addAuth calls accepted and not yet answered */
    /* I/O thread: re-sent identities not yet answered. While > 0 no request is sent or resent:
     * the node must hold every identity before it takes a request of this connection. */
    uint32_t auth_replaying;
};

/* ---- client.c ---------------------------------------------------------------------------- */
uint64_t zn_client_now_ns(void);
bool zn_client_in_io_thread(zn_handle *zh);
/* Queue `r` (takes ownership). Returns 0 or the terminal error (r is then freed). */
int zn_client_submit(zn_handle *zh, struct zn_req *r);
struct zn_req *zn_req_new(size_t body_cap);
void zn_req_free(struct zn_req *r);

/* ---- ops.c ------------------------------------------------------------------------------- */
/* Run the completion of `r` (answered with rc/reply, or failed with rc). I/O thread. */
void zn_ops_complete(zn_handle *zh, struct zn_req *r);
/* Build the setWatches2 request for the current registry (NULL when there is nothing). */
struct zn_req *zn_ops_set_watches(zn_handle *zh);
struct zn_req *zn_ops_close_session(void);

/* ---- watch.c ----------------------------------------------------------------------------- */
void zn_watch_init(struct zn_watch_table *t);
void zn_watch_fini(struct zn_watch_table *t);
/* Register (deduplicated on path, kind class, fn, ctx). Returns the entry id, 0 if a duplicate
 * existed, or ZN_ELIMIT-style 0 with *full set when the table is full. */
uint64_t zn_watch_add(struct zn_watch_table *t, const char *path, enum zn_wkind kind,
                      zn_watcher_fn fn, void *ctx, bool *full);
void zn_watch_remove_id(struct zn_watch_table *t, const char *path, uint64_t id);
void zn_watch_set_kind(struct zn_watch_table *t, const char *path, uint64_t id, enum zn_wkind kind);
/* Deliver a node event: calls (and removes, for one-shot) every matching watcher. */
void zn_watch_fire(zn_handle *zh, int type, int state, const char *server_path);
/* Count watchers of `type` (enum zn_watcher_type) on path matching fn/ctx (any_fn: any). */
uint32_t zn_watch_count(struct zn_watch_table *t, const char *path, int type, zn_watcher_fn fn,
                        void *ctx, bool any_fn);
/* Remove them, calling each with the *_WATCH_REMOVED event. Returns how many. */
uint32_t zn_watch_remove(zn_handle *zh, const char *path, int type, zn_watcher_fn fn, void *ctx,
                         bool any_fn);
/* Call every watcher once with a session event (terminal states) and clear the table. */
void zn_watch_notify_all(zn_handle *zh, int state);
/* Iterate all entries. */
typedef void (*zn_watch_visit_fn)(const struct zn_watch *w, void *arg);
void zn_watch_visit(struct zn_watch_table *t, zn_watch_visit_fn fn, void *arg);

/* ---- util.c ------------------------------------------------------------------------------ */
/* Parse "h:p,h:p/chroot" into zh->nodes/node_count/chroot. 0 or ZN_EBADARGUMENTS. */
int zn_connstr_parse(zn_handle *zh, const char *hosts);
/* Client path -> server path (chroot prefix) into out (cap bytes). 0 or ZN_ELIMIT. */
int zn_path_to_server(const zn_handle *zh, const char *path, char *out, size_t cap);
/* Server path -> client path (strip chroot); returns a pointer into server_path or "/", or
 * NULL when the path is outside the chroot. */
const char *zn_path_from_server(const zn_handle *zh, const char *server_path);
/* Copy a jute string into a new NUL-terminated heap string (NULL on ENOMEM). */
char *zn_bytes_dup(struct zn_bytes b);
void zn_stat_from_zk(struct zn_stat *out, const struct zn_zk_stat *in);

#endif /* ZN_CLIENT_INTERNAL_H */
