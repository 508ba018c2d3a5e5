/*
 * metrics_node.h - the node's metrics: the counters the lcore keeps for them, the snapshot it
 * publishes, and the families that render it (docs/operations.md "Metrics").
 *
 * Data flow (no poll loop ever takes a lock or waits for a scrape):
 *   1. the lcore counts in plain fields it owns (struct zn_node_mc inside struct zn_node, and
 *      the stage/transport/stack counters that already exist); the WAL disk's syncer thread
 *      counts writes and fdatasyncs in C11 relaxed atomics (struct zn_metrics_disk);
 *   2. every ZN_METRICS_PUBLISH_NS the management thread sends the lcore a control message
 *      (zn_node_ctrl_metrics) which copies everything into a struct zn_node_metrics in its
 *      housekeeping, like zn_node_ctrl_report;
 *   3. the management thread publishes that copy (zn_metrics_pub_put): a mutex held only by the
 *      management, HTTP and telemetry threads, for a memcpy; the lcore never touches it;
 *   4. a scrape (libmicrohttpd's thread) or a telemetry request copies the latest snapshot out
 *      and renders from its copy.
 *
 * Context: as stated per function.
 */
#ifndef ZN_NODE_METRICS_NODE_H
#define ZN_NODE_METRICS_NODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "consensus/raft.h"
#include "dataplane/zn_dp_loop.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_stack.h"
#include "dataplane/zn_dp_transport.h"
#include "node/metrics.h"
#include "node/opstats.h"
#include "store/disk.h"

#define ZN_METRICS_PUBLISH_NS      (100ull * 1000 * 1000) /* snapshot period: 100 ms */
#define ZN_METRICS_FSYNC_BOUNDS    12
#define ZN_METRICS_ELECTION_BOUNDS 12

/* Fixed fdatasync latency buckets (seconds) of the WAL disk: 50 us .. 1 s. */
extern const double zn_metrics_fsync_bounds[ZN_METRICS_FSYNC_BOUNDS];
/* Election duration buckets (seconds): 1 ms .. 10 s. */
extern const double zn_metrics_election_bounds[ZN_METRICS_ELECTION_BOUNDS];

/* A counting wrapper around the node's data disk (WAL segments and the hard-state file).
 * Written by whichever thread runs the disk operation (the lcore, or the disk's syncer thread
 * for the WAL's jobs): relaxed atomics, read by the lcore when it builds the snapshot. */
struct zn_metrics_disk {
    struct zn_disk inner;
    _Atomic uint64_t write_bytes;
    _Atomic uint64_t writes;
    _Atomic uint64_t fsyncs; /* fdatasync of a file (not of the directory) */
    _Atomic uint64_t fsync_errors;
    _Atomic uint64_t fsync_ns_sum;
    _Atomic uint64_t fsync_buckets[ZN_METRICS_FSYNC_BOUNDS + 1];
    _Atomic uint64_t dir_fsyncs;
};

/* Replace *d by a counting disk that forwards to the original (kept in w->inner). w must
 * outlive the disk; zn_metrics_disk_inner gives the original back for its fini. */
void zn_metrics_disk_wrap(struct zn_metrics_disk *w, struct zn_disk *d);
struct zn_disk *zn_metrics_disk_inner(struct zn_metrics_disk *w, struct zn_disk *d);

enum zn_election_reason {
    ZN_ELECTION_LEADER_LOST = 0, /* a leader was known: lost, or it handed over */
    ZN_ELECTION_NO_LEADER = 1,   /* no leader heard within the election timeout */
    ZN_ELECTION_REASONS = 2
};

/* Counters the lcore keeps for the metrics only (inside struct zn_node; lcore-owned). */
struct zn_node_mc {
    uint64_t raft_sent[ZN_RAFT_MSG_TYPE_MAX + 1];
    uint64_t raft_received[ZN_RAFT_MSG_TYPE_MAX + 1];
    uint64_t elections[ZN_ELECTION_REASONS];
    uint64_t became_leader;
    /* elections seen by this node: from its first (pre)candidacy to a leader known */
    uint64_t election_started_ns; /* 0: no election in progress */
    uint64_t election_ns_sum;
    uint64_t election_buckets[ZN_METRICS_ELECTION_BOUNDS + 1];
    uint64_t snapshots_taken;
    uint64_t snapshots_failed;
    uint64_t snapshot_bytes; /* sum of the bodies of the snapshots taken */
    uint64_t snapshot_last_bytes;
    uint64_t snapshot_last_ns; /* duration of the last snapshot taken */
    uint64_t snapshot_started_ns;
    uint64_t snapshots_installed; /* received from the leader */
    /* leader: highest index each peer acknowledged in the current term (append responses) */
    uint64_t match[ZN_NODE_ID_MAX + 1];
    uint64_t match_term[ZN_NODE_ID_MAX + 1];
};

/* lcore: a Raft message received from a peer (counted by type; an accepted append response
 * gives the follower's match index for the replication-lag metric). */
static inline void zn_node_mc_on_raft_rx(struct zn_node_mc *mc, const struct zn_raft_msg *m)
{
    mc->raft_received[m->type <= ZN_RAFT_MSG_TYPE_MAX ? m->type : 0]++;
    if (m->type == ZN_RAFT_MSG_APPEND_RESP && !m->reject) {
        if (m->term != mc->match_term[m->from] || m->index > mc->match[m->from])
            mc->match[m->from] = m->index;
        mc->match_term[m->from] = m->term;
    }
}

/*
 * lcore: a role/leader change from a Raft update. An election episode starts when the node
 * becomes (pre)candidate from follower or leader (pre-candidate -> candidate is the same
 * episode and counts once) and ends when a leader is known again; its duration goes into the
 * histogram (ZooKeeper: election_time).
 */
static inline void zn_node_mc_on_role(struct zn_node_mc *mc, uint8_t old_role, uint8_t role,
                                      uint8_t old_leader, uint8_t leader, uint64_t now_ns)
{
    bool was_campaigning = old_role == ZN_RAFT_PRECANDIDATE || old_role == ZN_RAFT_CANDIDATE;
    bool campaigning = role == ZN_RAFT_PRECANDIDATE || role == ZN_RAFT_CANDIDATE;
    if (campaigning && !was_campaigning) {
        mc->elections[old_leader ? ZN_ELECTION_LEADER_LOST : ZN_ELECTION_NO_LEADER]++;
        if (!mc->election_started_ns)
            mc->election_started_ns = now_ns ? now_ns : 1;
    }
    if (role == ZN_RAFT_LEADER && old_role != ZN_RAFT_LEADER)
        mc->became_leader++;
    if (leader != 0 && mc->election_started_ns) {
        uint64_t ns = now_ns - mc->election_started_ns;
        mc->election_ns_sum += ns;
        unsigned b = 0;
        while (b < ZN_METRICS_ELECTION_BOUNDS && (double)ns * 1e-9 > zn_metrics_election_bounds[b])
            b++;
        mc->election_buckets[b]++;
        mc->election_started_ns = 0;
    }
}

/* lcore: a snapshot this node took finished (rc 0: durable, body_bytes written). */
static inline void zn_node_mc_snapshot_done(struct zn_node_mc *mc, int rc, uint64_t body_bytes,
                                            uint64_t now_ns)
{
    if (rc) {
        mc->snapshots_failed++;
        return;
    }
    mc->snapshots_taken++;
    mc->snapshot_bytes += body_bytes;
    mc->snapshot_last_bytes = body_bytes;
    mc->snapshot_last_ns = now_ns - mc->snapshot_started_ns;
}

/* Everything a scrape shows: filled on the lcore (zn_node_ctrl_metrics). */
struct zn_node_metrics {
    uint64_t collected_ns; /* monotonic time of the copy */
    int64_t collected_ms;  /* realtime ms */
    bool valid;            /* false until the first copy */
    uint32_t id;
    uint32_t cluster_id;
    bool dpdk;
    struct zn_raft_status raft;
    uint64_t applied;
    bool ready;
    bool draining;
    uint64_t sessions;
    uint64_t znodes;
    uint64_t data_bytes;
    uint64_t watches;
    uint64_t parked_reads;
    uint64_t held_requests;
    uint64_t delayed_replies;
    uint64_t events_unacked;
    uint64_t release_queue;
    int64_t last_election_ms;
    uint64_t wal_segments;
    uint64_t wal_write_bytes;
    uint64_t wal_writes;
    uint64_t wal_fsyncs;
    uint64_t wal_fsync_errors;
    uint64_t wal_dir_fsyncs;
    uint64_t wal_fsync_ns_sum;
    uint64_t wal_fsync_buckets[ZN_METRICS_FSYNC_BOUNDS + 1];
    uint64_t forwarded, nacks, client_dropped, proposals, early, behind;
    struct zn_dp_msgr_stats msgr;
    bool has_stack;
    struct zn_dp_stack_stats stack;
    struct zn_dp_transport_stats transport;
    uint64_t udp_rx_truncated, udp_tx_oversized, udp_tx_errors, udp_rx_errors;
    bool has_port;
    uint16_t port_id;
    uint64_t port_ipackets, port_opackets, port_ibytes, port_obytes, port_ierrors, port_oerrors,
        port_imissed, port_rx_nombuf;
    unsigned lcore_index;
    struct zn_dp_lcore_stats lcore;
    struct zn_node_mc mc; /* copy (its disk counters are not read from here) */
    uint32_t n_peers;
    uint8_t peer_id[ZN_CLUSTER_MEMBERS_MAX];
    uint64_t peer_match[ZN_CLUSTER_MEMBERS_MAX];
    uint64_t peer_heard_age_ns[ZN_CLUSTER_MEMBERS_MAX]; /* UINT64_MAX: never heard */
    /* per-op request latency (node/opstats.h), converted on the lcore to the shared buckets */
    uint32_t n_ops;
    struct zn_metrics_hist_data op_latency[ZN_OPSTATS_OPS];
    uint64_t op_evicted;
};

/* The node's metrics state: the one field of struct zn_node for the metrics (node/internal.h).
 * mc is lcore-owned; disk is atomics; ctrl and staging belong to the management thread while
 * no message is queued, to the lcore while one is. */
struct zn_node_metrics_state {
    struct zn_node_mc mc;
    struct zn_metrics_disk disk;
    bool disk_wrapped;
    struct zn_dp_ctrl ctrl;
    bool ctrl_used;
    struct zn_node_metrics staging;
};

struct zn_node;

/* Management: fill *out on the lcore (bounded wait like zn_node_ctrl_report). Uses its own
 * control message; call from one thread at a time. 0, ZN_ETIMEDOUT, or ZN_EBUSY while a
 * message that timed out is still queued. */
int zn_node_ctrl_metrics(struct zn_node *n, struct zn_dp_lcore *lc, struct zn_node_metrics *out,
                         uint64_t timeout_ns);

/* The published snapshot (see the data flow above). */
struct zn_metrics_pub {
    pthread_mutex_t lock;
    struct zn_node_metrics cur;
    uint64_t publishes;
};
void zn_metrics_pub_init(struct zn_metrics_pub *p);
void zn_metrics_pub_fini(struct zn_metrics_pub *p);
void zn_metrics_pub_put(struct zn_metrics_pub *p, const struct zn_node_metrics *m);
void zn_metrics_pub_get(struct zn_metrics_pub *p, struct zn_node_metrics *m);

/*
 * Register the node's families with reg. `view` is the snapshot the collectors read: the
 * renderer fills it (zn_metrics_pub_get) right before zn_metrics_render, under its own
 * serialization (one HTTP thread). `set` holds the collectors' contexts; it and view must
 * outlive reg. 0 or the registration error.
 */
#define ZN_NODE_METRICS_FAMILIES 80
struct zn_nm_scalar;
struct zn_nm_ctx {
    const struct zn_node_metrics *view;
    const struct zn_nm_scalar *scalar;
};
struct zn_node_metrics_set {
    struct zn_nm_ctx c[ZN_NODE_METRICS_FAMILIES];
};
int zn_node_metrics_register(struct zn_metrics_reg *reg, struct zn_node_metrics_set *set,
                             const struct zn_node_metrics *view);

/* A Raft message type's name in lower case ("append_resp"), for labels and telemetry keys. */
void zn_node_metrics_msg_type_name(uint8_t type, char *buf, size_t cap);

#endif /* ZN_NODE_METRICS_NODE_H */
