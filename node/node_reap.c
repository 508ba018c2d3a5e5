/*
 * node_reap.c - the leader's container and TTL reaper (ZooKeeper's ContainerManager).
 *
 * Every [znode] container_check_interval_ms the management loop asks the lcore
 * (zn_node_ctrl_reap) to list the nodes that are due (store/read.c zn_store_expiry_candidates:
 * an empty container that had a child, a childless TTL node not modified within its TTL) and
 * to propose one ZN_ENTRY_EXPIRE entry per node, as session expiry proposes SESSION_CLOSE.
 * Deletion is decided again at apply with the entry's leader time (store/apply.c expiry_due),
 * so a node that got a child or a write in between survives, every replica gets the same
 * result, and a second proposal of the same path (a slow commit) is a harmless no-op.
 *
 * Context: lcore (through zn_node_ctrl_call); only the leader proposes. The candidate paths
 * are copied out before any proposal, since a proposal may apply entries (the tree changes).
 */
#include "node/internal.h"

/* Limits: ZN_REAP_BATCH_MAX proposals and ZN_REAP_BUF_BYTES of paths per check (zn_limits.h). */
#define NODE_REAP_BATCH     ZN_REAP_BATCH_MAX
#define NODE_REAP_BUF_BYTES ZN_REAP_BUF_BYTES

struct node_reap {
    char buf[NODE_REAP_BUF_BYTES];
    uint32_t used;
    uint32_t off[NODE_REAP_BATCH];
    uint32_t len[NODE_REAP_BATCH];
    uint32_t count;
};

static void node_reap_collect(void *ctx, struct zn_str path)
{
    struct node_reap *r = ctx;
    if (r->count == NODE_REAP_BATCH || path.len > NODE_REAP_BUF_BYTES - r->used)
        return; /* a long path waits for a later check with an emptier buffer */
    memcpy(r->buf + r->used, path.ptr, path.len);
    r->off[r->count] = r->used;
    r->len[r->count] = path.len;
    r->used += path.len;
    r->count++;
}

static int node_reap_fn(struct zn_node *n, void *arg)
{
    (void)arg;
    if (n->role != ZN_RAFT_LEADER)
        return 0;
    struct node_reap r;
    r.used = 0;
    r.count = 0;
    zn_store_expiry_candidates(n->store, node_realtime_ms(n), NODE_REAP_BATCH, node_reap_collect,
                               &r);
    for (uint32_t i = 0; i < r.count; i++) {
        struct zn_entry e = {.type = ZN_ENTRY_EXPIRE};
        e.op.type = ZN_OP_DELETECONTAINER;
        e.op.path = (struct zn_str){r.buf + r.off[i], r.len[i]};
        e.op.version = -1;
        e.op.ttl_ms = -1;
        int rc = node_propose_entry(n, &e);
        ZN_DEBUG("node", "reaping %.*s: %s", (int)r.len[i], r.buf + r.off[i],
                 rc ? zn_strerror(rc) : "proposed");
    }
    return (int)r.count;
}

int zn_node_ctrl_reap(struct zn_node *n, struct zn_dp_lcore *lc, uint64_t timeout_ns)
{
    return zn_node_ctrl_call(n, lc, node_reap_fn, NULL, timeout_ns);
}
