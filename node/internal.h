/*
 * internal.h - what the files of the running node share (node.c, node_session.c,
 * node_snapshot.c): struct zn_node, the release items, and the functions each file offers the
 * others. Everything here runs on the lcore that owns the node unless a function says
 * otherwise.
 */
#ifndef ZN_NODE_INTERNAL_H
#define ZN_NODE_INTERNAL_H

#include "node/node.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <urcu-qsbr.h>
#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"
#include "consensus/codec.h"
#include "consensus/raft.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_port.h"
#include "dataplane/zn_dp_stack.h"
#include "dataplane/zn_udp.h"
#include "node/metrics_node.h"
#include "node/nodemsg.h"
#include "node/opstats.h"
#include "node/auth.h"
#include "node/ports.h"
#include "node/sessions.h"
#include "node/zkconv.h"
#include "node/zkport.h"
#include "proto/session.h"
#include "proto/zk.h"
#include "store/disk.h"
#include "store/entry.h"
#include "store/hardstate.h"
#include "store/reply.h"
#include "store/snapfile.h"
#include "store/snapshot.h"
#include "store/store.h"
#include "store/wal.h"
#include "store/watch.h"

/* Times (capacities are in common/zn_limits.h, "node" section). */
#define ZN_NS_PER_MS     1000000ull
#define ZN_WAL_WAIT_NS   (10ull * 1000 * ZN_NS_PER_MS) /* a WAL batch not durable by then: panic */
#define ZN_TOUCH_MIN_NS  (20ull * ZN_NS_PER_MS)
#define ZN_EVENT_RTO_NS  (200ull * ZN_NS_PER_MS)
#define ZN_PARK_NS       (2000ull * ZN_NS_PER_MS)
#define ZN_EVENT_RETX_NS (50ull * ZN_NS_PER_MS)

/* Messages released together once the WAL made everything up to persist_id durable. */
enum zn_release_kind {
    ZN_REL_MSGS = 0,      /* messages (and a persisted report) */
    ZN_REL_CHUNK = 1,     /* leader: hand a snapshot chunk to the core (EV_SNAPSHOT_CHUNK) */
    ZN_REL_INSTALLED = 2, /* follower: the received snapshot is durable (EV_SNAPSHOT_INSTALLED) */
};

struct zn_release {
    uint64_t persist_id; /* 0: nothing to report (a local message only) */
    uint8_t kind;        /* enum zn_release_kind */
    uint8_t chunk_to;
    uint8_t chunk_last;
    uint32_t chunk_len;
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t chunk_offset;
    uint32_t n;
    uint32_t len;
    uint8_t data[]; /* n x {u8 to, u32 len (host order), len bytes of node message} */
};

/* A CONNECT for a new session waiting for its SESSION_CREATE entry to apply. */
struct zn_pending_connect {
    uint64_t id;
    uint32_t ip;
    uint16_t port;
    uint64_t epoch;
    uint8_t nonce[16];
    uint32_t timeout_ms;
    uint8_t passwd[ZN_NODEMSG_PASSWD_BYTES];
    uint64_t next_seq;
    uint64_t deadline_ns;
};

struct zn_node {
    struct zn_config cfg;
    const struct zn_clock *clock;
    uint8_t self;
    char state_dir[ZN_CONFIG_PATH_MAX + 16];
    /* durable state */
    struct zn_disk disk;
    void *disk_mem;
    bool disk_open;
    struct zn_hardstate_file hsf;
    bool hsf_open;
    struct zn_wal *wal;
    bool memory_mode;
    /* consensus */
    struct zn_raft *raft;
    void *raft_mem;
    struct zn_raft_conf conf;
    uint64_t deadline_ns;
    uint8_t role;
    uint8_t leader;
    uint64_t term;
    uint64_t commit;
    uint64_t apply_to;      /* highest index handed out for apply */
    uint64_t applied_index; /* highest index applied (store entries or skipped no-ops) */
    int64_t last_election_ms;
    char last_election_reason[64];
    bool snapshot_warned;
    /* snapshots: taken by a background thread on a disk instance of its own */
    struct zn_disk snap_disk;
    void *snap_disk_mem;
    bool snap_disk_open;
    struct zn_snapshot *snap; /* running snapshot (store side), NULL when none */
    pthread_t snap_thread;
    _Atomic bool snap_done;
    int snap_rc;
    uint64_t snap_index; /* index and term of the running snapshot */
    uint64_t snap_term;
    uint64_t last_snap_index; /* newest durable snapshot */
    uint64_t compact_pending; /* WAL compaction to run once the WAL is idle (0: none) */
    struct zn_snapfile_info snap_info;
    struct {
        uint8_t *p; /* leader: body of the snapshot being sent to followers */
        uint64_t len;
        uint64_t index;
    } send_snap;
    /* Snapshot file I/O off the lcore (node_snapshot.c): reading the snapshot a follower needs
     * (leader), writing a received one durably (follower). One job at a time. */
    struct {
        pthread_t thread;
        bool running;
        _Atomic bool done;
        uint8_t kind; /* NODE_SNAPIO_READ or NODE_SNAPIO_WRITE */
        uint64_t index;
        uint64_t term;
        int rc;
        char msg[512];
        uint8_t *p; /* read: the body */
        uint64_t len;
        struct zn_store *loaded; /* write: the tree loaded from the received body */
        bool has_req;            /* read: a chunk request to answer when the body is in */
        struct zn_raft_chunk_request req;
    } snapio;
    struct {
        uint8_t *p; /* follower: body being received */
        uint64_t len;
        uint64_t cap;
        uint64_t index;
        uint64_t term;
    } inst;
    /* store */
    struct zn_store *store;
    struct zn_watch_reg *watches;
    /* encoded watch events held until acked: slot = the handle in the session's event queue */
    struct {
        uint8_t *p;
        uint32_t len;
        uint64_t msg_id; /* frame msg_id of its first sending (0: not sent yet) */
    } * evbuf;
    uint32_t *evfree;
    uint32_t evfree_n;
    uint64_t next_retx_ns;
    uint64_t overflow_session; /* a session whose event queue overflowed during a fire */
    /* Clients told their connection closed on overflow: the notice is repeated a few times
     * (a datagram; the client's socket may be flooded with the events just before it). */
    struct {
        uint64_t session;
        uint32_t ip;
        uint16_t port;
        uint8_t left;
    } close_notice[8];
    uint32_t close_notice_next;
    uint64_t n_events;
    /* network */
    struct zn_udp *udp;
    struct zn_dp_stack *stack; /* net.transport = dpdk */
    struct zn_dp_port_info port;
    bool eal_open;
    bool port_open;
    struct zn_dp_transport tr;
    struct node_ports *ports; /* [peers]: one port per peer and a client listener (ports.h) */
    struct zn_dp_msgr *msgr;
    bool msgr_open;
    struct zn_zkport_link *zk; /* the ZooKeeper TCP port's rings, NULL when disabled */
    /* The lcore running the stages (set by the rx stage, node_attach_lcore): the snapshot
     * threads and the WAL syncer wake it when they finish (node_wake_lcore, node_walwake.c);
     * NULL before its first poll. */
    _Atomic(struct zn_dp_lcore *) lcore;
    struct zn_dp_addr peer[ZN_NODE_ID_MAX + 1];
    bool peer_known[ZN_NODE_ID_MAX + 1];
    uint64_t peer_heard_ns[ZN_NODE_ID_MAX + 1]; /* last valid message from each peer */
    /* sessions */
    struct zn_sessions sess;
    struct zn_pending_connect pend[ZN_NODE_PENDING_CONNECTS_MAX];
    uint32_t touch_cursor;
    uint64_t next_touch_ns;
    bool draining;
    /* release queue (items whose batch is durable, waiting for the wal stage) */
    struct zn_release **relq;
    uint32_t relq_head;
    uint32_t relq_count;
    /* buffers */
    uint8_t *tx;  /* node messages and client messages */
    uint8_t *enc; /* raft message / entry encoding */
    struct zn_raft_entry *rx_entries;
    struct zn_nodemsg_scratch *nm;
    struct zn_zkconv_scratch *conv;
    struct zn_wbuf rbuf;
    /* reads waiting: for a read index (linearizable) and/or for apply to reach an index */
    struct zn_parked {
        uint64_t session;
        uint64_t seq;
        uint64_t need_index; /* serve once applied_index >= need_index; UINT64_MAX: unknown */
        uint64_t token;      /* ReadIndex ctx while waiting for the index (leader-local) */
        uint64_t deadline_ns;
        uint8_t *req;
        uint32_t len;
    } * parked;
    uint32_t n_parked;
    uint64_t next_token;
    /* requests held until their turn (the session's hold window) */
    struct zn_held {
        uint64_t session;
        uint64_t seq;
        uint8_t flags;
        uint64_t zxid;
        uint64_t deadline_ns;
        uint8_t *req;
        uint32_t len;
    } * held;
    uint32_t n_held;
    /* Recent write replies as sent (header + body), so that a retransmission whose reply was
     * lost is answered even after later writes of the session applied (the store keeps only
     * the session's last reply). Direct-mapped by (session, seq); node-local, best effort. */
    struct zn_cached_reply {
        uint64_t session;
        uint64_t seq;
        uint32_t len;
        uint64_t msg_id; /* frame msg_id of the first sending: a resend carries it too */
        uint8_t *msg;
    } * rcache;
    /* Replies held behind an unacknowledged event of the same connection ([R7]), in order. */
    struct zn_delayed {
        uint64_t session;
        uint64_t order;
        uint64_t zxid;
        uint64_t seq;
        bool cache;
        uint32_t len;
        uint8_t *msg;
    } * delayed;
    uint32_t n_delayed;
    uint64_t delayed_order;
    /* leader: ReadIndex requests forwarded by other nodes, by ctx */
    struct {
        uint64_t token;
        uint8_t origin;
        uint64_t session;
        uint64_t seq;
    } * remote_reads;
    /* counters */
    uint64_t n_forwarded, n_nacks, n_client_dropped, n_proposals, n_early, n_behind;
    struct zn_node_metrics_state ms; /* metrics counters and their control message */
    uint64_t n_moved;                /* sessions dropped here because they moved to another node */
    /* sessions that called addAuth: their identities (node_auth.c), NULL until the first */
    struct node_auth_slot {
        uint64_t session; /* 0: free */
        struct zn_auth_set *set;
    } * auth;
    uint32_t n_auth;
    /* control message in flight (one at a time, management waits for it) */
    struct zn_dp_ctrl ctrl;
    struct zn_node_report *ctrl_rep;
    uint8_t ctrl_to;
    int ctrl_rc;
    /* control endpoint (node/ctl.c): a generic call on the lcore, per-op latency, and a
     * snapshot requested by `zincctl snapshot create` (taken at the next apply stage run) */
    int (*ctrl_call_fn)(struct zn_node *n, void *arg);
    void *ctrl_call_arg;
    struct zn_opstats *opstats;
    bool snap_force;
    /* log-window driven snapshots (node_snapshot.c, logfix): a durable snapshot the consensus
     * core refused to compact behind (ZN_ESTALE: past its durable index) is offered again
     * once it is durable; the window is checked when applied moved. */
    uint64_t snap_retry_index;
    uint64_t snap_window_checked;
    uint64_t n_snap_retries;       /* refused compactions offered again */
    uint64_t n_snap_window_starts; /* snapshots started by window occupancy */
    uint64_t n_snap_deferred;      /* snapshot starts put off: applied past the durable log */
    uint64_t n_window_full;        /* proposals refused with ZN_EFULL (log window full) */
    bool window_full;              /* since the last refused proposal, none went in */
};

/* node_snapshot.c (logfix) */
void node_window_full_note(struct zn_node *n, int propose_rc);

/* node.c */
uint64_t node_now(const struct zn_node *n);
int64_t node_realtime_ms(const struct zn_node *n);
void node_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void *node_alloc(void *ctx, size_t size);
void node_release_mem(void *ctx, void *p, size_t size);
uint64_t node_random_u64(void);
void node_drop_delayed(struct zn_node *n, uint64_t session);
void node_flush_delayed(struct zn_node *n, struct zn_session_row *row);
int node_propose_entry(struct zn_node *n, struct zn_entry *e);
int node_propose_session_create(struct zn_node *n, uint64_t id, uint32_t timeout_ms,
                                const uint8_t *passwd);
bool node_rcache_resend(struct zn_node *n, struct zn_session_row *row, uint64_t seq);
void node_relq_push(struct zn_node *n, struct zn_release *r);
uint64_t node_send_client(struct zn_node *n, uint32_t ip, uint16_t port,
                          const struct zn_sess_hdr *h, const uint8_t *body, size_t body_len);
void node_send_nodemsg(struct zn_node *n, uint8_t to, const struct zn_nodemsg *m);
void node_send_refused(struct zn_node *n, uint32_t ip, uint16_t port, uint64_t session,
                       int32_t zk_err);
void node_send_reply(struct zn_node *n, struct zn_session_row *row, const struct zn_sess_hdr *h,
                     const uint8_t *body, size_t body_len, bool cache);
int node_step(struct zn_node *n, const struct zn_raft_event *ev);
void node_wal_wait_idle(struct zn_node *n);

/* node_msgid.c: send a client message with the frame msg_id of its first sending (0: a new
 * one); returns the id used. */
uint64_t node_send_client_msg(struct zn_node *n, const struct zn_dp_addr *dst, const uint8_t *msg,
                              uint32_t len, uint64_t msg_id);

/* node_moved.c: tell the other members a session connected here; drop an older connection
 * of a session that moved (MOVED). */
void node_announce_moved(struct zn_node *n, const struct zn_session_row *row);
void node_on_moved(struct zn_node *n, const struct zn_nodemsg *m);

/* node_auth.c: addAuth/whoAmI (true when req was one and is answered), a session's identities
 * (for the store and for FORWARD), forgetting them. */
bool node_auth_request(struct zn_node *n, struct zn_session_row *row, uint64_t seq,
                       const struct zn_zk_request *req);
uint32_t node_auth_ids(struct zn_node *n, const struct zn_session_row *row, struct zn_identity *out,
                       uint32_t max);
uint32_t node_auth_fwd_ids(struct zn_node *n, const struct zn_session_row *row,
                           struct zn_nodemsg_ident *out, uint32_t max);
void node_auth_forget(struct zn_node *n, uint64_t session);

/* node_session.c: the client session layer, watches, parked and held requests */
void node_after_fire(struct zn_node *n);
void node_drain_held(struct zn_node *n, struct zn_session_row *row);
void node_emit(void *ctx, const struct zn_watch_event *ev);
void node_on_client(struct zn_node *n, const struct zn_dp_addr *from, const uint8_t *data,
                    uint32_t len);
void node_parked_drop(struct zn_node *n, struct zn_parked *p);
struct zn_parked *node_parked_find(struct zn_node *n, uint64_t session, uint64_t seq);
void node_read_index_done(struct zn_node *n, uint64_t ctx, uint64_t index, bool ok);
void node_retransmit_events(struct zn_node *n, uint64_t now);
void node_send_connected(struct zn_node *n, struct zn_session_row *row, uint64_t zxid);
void node_serve_read(struct zn_node *n, struct zn_session_row *row, uint64_t seq,
                     const struct zn_op *op);
void node_session_forget(struct zn_node *n, uint64_t id, uint8_t flags);

/* node_snapshot.c: snapshots, recovery from a snapshot file, InstallSnapshot */
void node_install_chunk(struct zn_node *n, const struct zn_raft_install *in);
int node_load_snapshot(struct zn_node *n, struct zn_snapfile_info *info, char *err, size_t err_len);
void node_maybe_compact(struct zn_node *n);
void node_maybe_snapshot(struct zn_node *n);
/* zkwake: the lcore records itself for the helper threads (rx stage, lcore); a helper thread
 * wakes it after publishing its result (any thread); the apply stage's pending hook tells a
 * going-to-sleep lcore that a snapshot job finished (lcore; zn_dp_sched_stage_pending). */
void node_attach_lcore(struct zn_node *n, struct zn_dp_lcore *lc);
void node_wake_lcore(struct zn_node *n);
bool node_snapshot_pending(void *ctx);
/* node_walwake.c: a finished WAL job wakes the sleeping lcore (the disk's completion notifier
 * calls node_wake_lcore; the wal stage's pending check). Install before the WAL submits. */
int node_walwake_install(struct zn_node *n);
bool node_wal_pending(void *ctx);
void node_snapshot_chunk_request(struct zn_node *n, const struct zn_raft_chunk_request *q);
/* Wait for a snapshot file job in flight and free its results (zn_node_close). */
void node_snapio_stop(struct zn_node *n);

#endif /* ZN_NODE_INTERNAL_H */
