/*
 * status.h - the node's status file, <data_dir>/status.json, for tools and tests until the
 * control socket exists (docs/operations.md "Status file").
 *
 * The management thread writes it every 200 ms from a snapshot of counters the lcore published
 * (it never reads lcore-owned state directly, STYLE.md 5). The write is atomic for readers:
 * status.json.tmp is written in full and renamed over status.json, so a reader sees the old or
 * the new file, never a mix. No fsync: the file is advisory and rewritten constantly.
 *
 * Context: the management thread.
 */
#ifndef ZN_NODE_STATUS_H
#define ZN_NODE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"

struct zn_node_status {
    uint32_t id;
    int32_t pid;
    const char *role; /* "follower", "precandidate", "candidate", "leader", "starting" */
    uint64_t term;
    uint32_t leader; /* 0 = unknown */
    uint64_t commit;
    uint64_t applied;
    uint64_t first_index;
    uint64_t last_index;
    uint32_t n_members;
    uint8_t members[ZN_CLUSTER_MEMBERS_MAX];
    uint64_t sessions;
    uint64_t znodes;
    int64_t last_election_ms; /* realtime ms of the last role change to (pre)candidate, 0 none */
    const char *last_election_reason;
    bool repair;     /* WAL repair state: no voting until repaired from peers */
    bool ready;      /* serving: a leader is known and this node's apply caught up with commit */
    int64_t time_ms; /* realtime ms when written */
    /* Datagrams dropped, monotonic since start: native frames refused by the frame decoder
     * (malformed, version, checksum, other cluster/receiver, MAC, oversize, reassembly), of
     * which from another cluster; client messages refused by the node (bad session header,
     * unknown session, ...); malformed IPv4 packets dropped by the DPDK stack (bad version, header
     * length, total length, checksum, TTL 0, fragments; 0 with kernel UDP). */
    uint64_t drop_frames;
    uint64_t drop_cluster;
    uint64_t drop_client;
    uint64_t drop_ip;
};

/* Render st as one JSON object into buf (with a trailing newline). Returns the length, or
 * ZN_ELIMIT if cap is too small. Strings are escaped. */
long zn_status_render(const struct zn_node_status *st, char *buf, size_t cap);

/* Write <dir>/status.json atomically. 0 or ZN_EIO. */
int zn_status_write(const char *dir, const struct zn_node_status *st);

#endif /* ZN_NODE_STATUS_H */
