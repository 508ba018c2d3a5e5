/*
 * node.h - the running zincd: recovery, the data-plane stages and what management may ask.
 *
 * One struct zn_node holds everything the data-plane lcore owns: the Raft core, the WAL, the
 * znode tree, the session table, the transport and the buffers. It is written only by the lcore
 * that runs its stages (STYLE.md 5, 6); the management thread (node/zincd.c) talks to it only
 * through control messages (zn_node_ctrl_*), which the lcore runs in its housekeeping.
 *
 * Stages (DESIGN.md section 4), registered with the dataplane scheduler, all on lcore 0 unless
 * placed elsewhere (they share the node, so a placement that splits them is refused):
 *   rx     receive bursts, frame decode and reassembly (zn_dp_msgr), dispatch: peer messages
 *          (node/nodemsg.h) and client session messages (proto/session.h);
 *   raft   ticks at the core's deadline, proposals, every zn_raft_step and its update;
 *   wal    group commit: flush the open batch, harvest durable batches, release what waited on
 *          them (append acks, vote grants) and report ZN_RAFT_EV_PERSISTED;
 *   apply  committed entries into the store, replies and watch events to this node's clients;
 *   tx     retransmission of unacknowledged watch events, TOUCH batches to the leader.
 *
 * Context: zn_node_open/zn_node_close on the main thread before/after the lcore runs; stage
 * functions on the lcore; zn_node_ctrl_* from management.
 */
#ifndef ZN_NODE_NODE_H
#define ZN_NODE_NODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/zn_clock.h"
#include "dataplane/zn_dp_loop.h"
#include "mgmt/config.h"
#include "node/status.h"

struct zn_node;

/*
 * Recover the durable state in <data_dir>/state (hard state, WAL; the store is rebuilt by
 * re-applying the committed prefix), load the Raft core and open the transport. The data
 * directory must already be locked (node/startup.h). On a refusal (corruption, another
 * cluster's files) returns the code and writes a sentence naming file and offset into err.
 */
int zn_node_open(const struct zn_config *cfg, const struct zn_clock *clock, struct zn_node **out,
                 char *err, size_t err_len);

/* Serve the ZooKeeper TCP port's connections too (node/zkport.h): the rx stage polls its
 * ring. Before the lcore starts; link outlives the node's lcore. */
struct zn_zkport_link;
void zn_node_set_zkport(struct zn_node *n, struct zn_zkport_link *link);

/* Register the node's stages with the scheduler (all on lcore 0). */
int zn_node_add_stages(struct zn_node *n, struct zn_dp_sched *sched);

/* After the lcore stopped: wait for the WAL batch in flight, then free everything. */
void zn_node_close(struct zn_node *n);

/* ---- management side: control messages (each runs on the lcore, the caller waits) ---------- */

/* A copy of the node's status for status.json (strings point into static storage). */
struct zn_node_report {
    struct zn_node_status st;
    char last_election_reason[64];
    bool is_leader;
    uint8_t best_follower; /* a caught-up voter to hand leadership to (0: none) */
    uint64_t watches;      /* watches registered on this node (ZooKeeper's wchs, mntr) */
};

/* Fill *rep from the lcore (bounded wait: ZN_ETIMEDOUT if the lcore did not run it in time). */
int zn_node_ctrl_report(struct zn_node *n, struct zn_dp_lcore *lc, struct zn_node_report *rep,
                        uint64_t timeout_ns);
/* Stop accepting new client requests (SIGTERM drain). */
int zn_node_ctrl_drain(struct zn_node *n, struct zn_dp_lcore *lc, uint64_t timeout_ns);
/* Leader: hand leadership to node `to` (TimeoutNow). */
int zn_node_ctrl_transfer(struct zn_node *n, struct zn_dp_lcore *lc, uint8_t to,
                          uint64_t timeout_ns);
/* Leader: expire sessions whose deadline passed (proposes SESSION_CLOSE entries). */
int zn_node_ctrl_expire(struct zn_node *n, struct zn_dp_lcore *lc, uint64_t timeout_ns);
/* Leader: propose the deletion of empty containers and expired TTL nodes (node_reap.c);
 * returns how many were proposed. */
int zn_node_ctrl_reap(struct zn_node *n, struct zn_dp_lcore *lc, uint64_t timeout_ns);

/* Run fn(n, arg) on the lcore (bounded wait) and return its result: the control endpoint's
 * (node/ctl.c) way to read or change lcore-owned state. fn must not block. */
int zn_node_ctrl_call(struct zn_node *n, struct zn_dp_lcore *lc,
                      int (*fn)(struct zn_node *n, void *arg), void *arg, uint64_t timeout_ns);

#endif /* ZN_NODE_NODE_H */
