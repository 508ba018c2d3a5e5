/*
 * metrics_node.c - the node's metrics: lcore-side copy into a snapshot, the counting WAL disk,
 * the published snapshot and the Prometheus families that render it (see metrics_node.h for the
 * data flow and docs/operations.md "Metrics" for the meaning of every family).
 *
 * Invariants: the control-message function runs on the lcore and only reads lcore-owned state
 * and atomics; the collectors run on the renderer's thread and only read the renderer's copy of
 * the snapshot (the `view`), never the node.
 */
#include "node/metrics_node.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>

#include "node/internal.h"

const double zn_metrics_fsync_bounds[ZN_METRICS_FSYNC_BOUNDS] = {
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3, 250e-3, 1.0};

const double zn_metrics_election_bounds[ZN_METRICS_ELECTION_BOUNDS] = {
    1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 10.0};

/* ---- the counting disk ------------------------------------------------------------------------ */

static uint64_t zn_mdisk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define ZN_MDISK(ctx)     ((struct zn_metrics_disk *)(ctx))
#define ZN_MADD(field, v) atomic_fetch_add_explicit(&(field), (v), memory_order_relaxed)

static int zn_mdisk_open(void *ctx, const char *name, int flags, int *fd)
{
    return zn_disk_open(&ZN_MDISK(ctx)->inner, name, flags, fd);
}
static void zn_mdisk_close(void *ctx, int fd)
{
    zn_disk_close(&ZN_MDISK(ctx)->inner, fd);
}
static long zn_mdisk_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    return zn_disk_pread(&ZN_MDISK(ctx)->inner, fd, buf, len, off);
}
static int zn_mdisk_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    struct zn_metrics_disk *w = ZN_MDISK(ctx);
    int rc = zn_disk_pwrite(&w->inner, fd, buf, len, off);
    if (rc == 0) {
        ZN_MADD(w->write_bytes, len);
        ZN_MADD(w->writes, 1);
    }
    return rc;
}
static int zn_mdisk_fdatasync(void *ctx, int fd)
{
    struct zn_metrics_disk *w = ZN_MDISK(ctx);
    uint64_t t0 = zn_mdisk_now_ns();
    int rc = zn_disk_fdatasync(&w->inner, fd);
    uint64_t ns = zn_mdisk_now_ns() - t0;
    if (rc) {
        ZN_MADD(w->fsync_errors, 1);
        return rc;
    }
    ZN_MADD(w->fsyncs, 1);
    ZN_MADD(w->fsync_ns_sum, ns);
    unsigned b = 0;
    while (b < ZN_METRICS_FSYNC_BOUNDS && (double)ns * 1e-9 > zn_metrics_fsync_bounds[b])
        b++;
    ZN_MADD(w->fsync_buckets[b], 1);
    return rc;
}
static int zn_mdisk_fsync_dir(void *ctx)
{
    ZN_MADD(ZN_MDISK(ctx)->dir_fsyncs, 1);
    return zn_disk_fsync_dir(&ZN_MDISK(ctx)->inner);
}
static int zn_mdisk_rename(void *ctx, const char *from, const char *to)
{
    return zn_disk_rename(&ZN_MDISK(ctx)->inner, from, to);
}
static int zn_mdisk_unlink(void *ctx, const char *name)
{
    return zn_disk_unlink(&ZN_MDISK(ctx)->inner, name);
}
static int zn_mdisk_fallocate(void *ctx, int fd, uint64_t off, uint64_t len)
{
    return zn_disk_fallocate(&ZN_MDISK(ctx)->inner, fd, off, len);
}
static int zn_mdisk_truncate(void *ctx, int fd, uint64_t size)
{
    return zn_disk_truncate(&ZN_MDISK(ctx)->inner, fd, size);
}
static int zn_mdisk_size(void *ctx, int fd, uint64_t *size)
{
    struct zn_disk *d = &ZN_MDISK(ctx)->inner;
    return d->ops->size(d->ctx, fd, size);
}
static int zn_mdisk_list(void *ctx, int (*fn)(void *arg, const char *name), void *arg)
{
    struct zn_disk *d = &ZN_MDISK(ctx)->inner;
    return d->ops->list(d->ctx, fn, arg);
}
static int zn_mdisk_job_submit(void *ctx, zn_disk_job_fn fn, void *arg)
{
    struct zn_disk *d = &ZN_MDISK(ctx)->inner;
    return d->ops->job_submit(d->ctx, fn, arg);
}
static int zn_mdisk_job_poll(void *ctx, void **args, int max)
{
    struct zn_disk *d = &ZN_MDISK(ctx)->inner;
    return d->ops->job_poll(d->ctx, args, max);
}

static const struct zn_disk_ops zn_mdisk_ops = {
    .open = zn_mdisk_open,
    .close = zn_mdisk_close,
    .pread = zn_mdisk_pread,
    .pwrite = zn_mdisk_pwrite,
    .fdatasync = zn_mdisk_fdatasync,
    .fsync_dir = zn_mdisk_fsync_dir,
    .rename = zn_mdisk_rename,
    .unlink = zn_mdisk_unlink,
    .fallocate = zn_mdisk_fallocate,
    .truncate = zn_mdisk_truncate,
    .size = zn_mdisk_size,
    .list = zn_mdisk_list,
    .job_submit = zn_mdisk_job_submit,
    .job_poll = zn_mdisk_job_poll,
};

void zn_metrics_disk_wrap(struct zn_metrics_disk *w, struct zn_disk *d)
{
    memset(w, 0, sizeof(*w));
    w->inner = *d;
    d->ops = &zn_mdisk_ops;
    d->ctx = w;
}

struct zn_disk *zn_metrics_disk_inner(struct zn_metrics_disk *w, struct zn_disk *d)
{
    return d->ops == &zn_mdisk_ops ? &w->inner : d;
}

/* ---- lcore side: the copy ------------------------------------------------------------------ */

static void zn_metrics_copy_disk(struct zn_node_metrics *m, struct zn_metrics_disk *w)
{
#define ZN_MLOAD(f) atomic_load_explicit(&w->f, memory_order_relaxed)
    m->wal_write_bytes = ZN_MLOAD(write_bytes);
    m->wal_writes = ZN_MLOAD(writes);
    m->wal_fsyncs = ZN_MLOAD(fsyncs);
    m->wal_fsync_errors = ZN_MLOAD(fsync_errors);
    m->wal_dir_fsyncs = ZN_MLOAD(dir_fsyncs);
    m->wal_fsync_ns_sum = ZN_MLOAD(fsync_ns_sum);
    for (unsigned b = 0; b <= ZN_METRICS_FSYNC_BOUNDS; b++)
        m->wal_fsync_buckets[b] = ZN_MLOAD(fsync_buckets[b]);
#undef ZN_MLOAD
}

/* Runs on the lcore (housekeeping): everything is read by its owner. */
static void zn_metrics_ctrl_fn(void *arg, struct zn_dp_lcore *lc)
{
    struct zn_node *n = arg;
    struct zn_node_metrics *m = &n->ms.staging;
    memset(m, 0, sizeof(*m));
    m->valid = true;
    m->collected_ns = node_now(n);
    m->collected_ms = node_realtime_ms(n);
    m->id = n->self;
    m->cluster_id = n->cfg.node.cluster_id;
    m->dpdk = n->stack != NULL;
    zn_raft_status_get(n->raft, &m->raft);
    m->applied = n->applied_index;
    m->ready = m->raft.leader != 0 && n->applied_index >= m->raft.commit && !n->draining;
    m->draining = n->draining;
    struct zn_store_counts counts;
    zn_store_counts(n->store, &counts);
    m->sessions = counts.sessions;
    m->znodes = counts.znodes;
    m->data_bytes = counts.data_bytes;
    m->watches = zn_watch_count(n->watches);
    m->parked_reads = n->n_parked;
    m->held_requests = n->n_held;
    m->delayed_replies = n->n_delayed;
    m->events_unacked = n->n_events;
    m->release_queue = n->relq_count;
    m->last_election_ms = n->last_election_ms;
    if (n->wal)
        m->wal_segments = zn_wal_segment_count(n->wal);
    if (n->ms.disk_wrapped)
        zn_metrics_copy_disk(m, &n->ms.disk);
    m->forwarded = n->n_forwarded;
    m->nacks = n->n_nacks;
    m->client_dropped = n->n_client_dropped;
    m->proposals = n->n_proposals;
    m->early = n->n_early;
    m->behind = n->n_behind;
    if (n->msgr)
        m->msgr = n->msgr->stats;
    if (n->tr.ops && n->tr.ops->stats)
        n->tr.ops->stats(n->tr.ctx, &m->transport);
    if (n->stack) {
        m->has_stack = true;
        m->stack = n->stack->stats;
    }
    if (n->udp) {
        m->udp_rx_truncated = n->udp->rx_truncated;
        m->udp_tx_oversized = n->udp->tx_oversized;
        m->udp_tx_errors = n->udp->tx_errors;
        m->udp_rx_errors = n->udp->rx_errors;
    }
    if (n->port_open) {
        struct rte_eth_stats es;
        if (rte_eth_stats_get(n->port.port_id, &es) == 0) {
            m->has_port = true;
            m->port_id = n->port.port_id;
            m->port_ipackets = es.ipackets;
            m->port_opackets = es.opackets;
            m->port_ibytes = es.ibytes;
            m->port_obytes = es.obytes;
            m->port_ierrors = es.ierrors;
            m->port_oerrors = es.oerrors;
            m->port_imissed = es.imissed;
            m->port_rx_nombuf = es.rx_nombuf;
        }
    }
    m->lcore_index = lc->index;
    m->lcore = lc->stats;
    m->mc = n->ms.mc;
    /* peers: every voter and learner other than this node */
    const struct zn_raft_conf *conf = &m->raft.conf;
    for (uint32_t i = 0; i < conf->n_voters + conf->n_learners; i++) {
        uint8_t p = i < conf->n_voters ? conf->voters[i] : conf->learners[i - conf->n_voters];
        if (p == n->self || m->n_peers == ZN_CLUSTER_MEMBERS_MAX)
            continue;
        m->peer_id[m->n_peers] = p;
        m->peer_match[m->n_peers] = n->ms.mc.match_term[p] == m->raft.term ? n->ms.mc.match[p] : 0;
        m->peer_heard_age_ns[m->n_peers] =
            n->peer_heard_ns[p] ? m->collected_ns - n->peer_heard_ns[p] : UINT64_MAX;
        m->n_peers++;
    }
    if (n->opstats) {
        m->n_ops = zn_opstats_op_count();
        for (uint32_t i = 0; i < m->n_ops; i++)
            zn_metrics_hist_from_zn_hist(zn_opstats_hist(n->opstats, i), 1e-9,
                                         zn_metrics_latency_bounds, ZN_METRICS_LATENCY_BOUNDS,
                                         &m->op_latency[i]);
        m->op_evicted = zn_opstats_evicted(n->opstats);
    }
}

int zn_node_ctrl_metrics(struct zn_node *n, struct zn_dp_lcore *lc, struct zn_node_metrics *out,
                         uint64_t timeout_ns)
{
    struct zn_node_metrics_state *ms = &n->ms;
    if (ms->ctrl_used && !atomic_load_explicit(&ms->ctrl.done, memory_order_acquire))
        return ZN_EBUSY; /* a message that timed out is still queued: the lcore owns staging */
    ms->ctrl.fn = zn_metrics_ctrl_fn;
    ms->ctrl.arg = n;
    atomic_store(&ms->ctrl.done, false);
    ms->ctrl_used = true;
    int rc = zn_dp_lcore_ctrl_send(lc, &ms->ctrl);
    if (rc)
        return rc;
    uint64_t start = node_now(n);
    while (!atomic_load_explicit(&ms->ctrl.done, memory_order_acquire)) {
        if (node_now(n) - start > timeout_ns)
            return ZN_ETIMEDOUT;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    *out = ms->staging;
    return 0;
}

/* ---- publication ----------------------------------------------------------------------------- */

void zn_metrics_pub_init(struct zn_metrics_pub *p)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
}

void zn_metrics_pub_fini(struct zn_metrics_pub *p)
{
    pthread_mutex_destroy(&p->lock);
}

void zn_metrics_pub_put(struct zn_metrics_pub *p, const struct zn_node_metrics *m)
{
    pthread_mutex_lock(&p->lock);
    p->cur = *m;
    p->publishes++;
    pthread_mutex_unlock(&p->lock);
}

void zn_metrics_pub_get(struct zn_metrics_pub *p, struct zn_node_metrics *m)
{
    pthread_mutex_lock(&p->lock);
    *m = p->cur;
    pthread_mutex_unlock(&p->lock);
}

/* ---- families -------------------------------------------------------------------------------- */

/* Plain scalars: one sample, no label, read at an offset of the view. */
enum zn_nm_kind { ZN_NM_U64 = 0, ZN_NM_BOOL = 1, ZN_NM_U8 = 2 };

struct zn_nm_scalar {
    const char *name;
    enum zn_metric_type type;
    enum zn_nm_kind kind;
    size_t off;
    const char *help;
};

#define ZN_NM_OFF(f) offsetof(struct zn_node_metrics, f)

static const struct zn_nm_scalar zn_nm_scalars[] = {
    {"zinc_raft_term", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(raft.term), "Current Raft term."},
    {"zinc_raft_leader_id", ZN_METRIC_GAUGE, ZN_NM_U8, ZN_NM_OFF(raft.leader),
     "Node id of the leader this node follows (0: none known)."},
    {"zinc_raft_commit_index", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(raft.commit),
     "Highest log index known committed (= the highest zxid)."},
    {"zinc_raft_applied_index", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(applied),
     "Highest log index applied to the znode tree."},
    {"zinc_raft_first_index", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(raft.first_index),
     "First log index still held (entries before it are compacted into a snapshot)."},
    {"zinc_raft_last_index", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(raft.last_index),
     "Last log index appended."},
    {"zinc_raft_durable_index", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(raft.durable),
     "Highest log index durable in this node's WAL."},
    {"zinc_raft_snapshot_index", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(raft.snap_index),
     "Log index of the newest snapshot."},
    {"zinc_node_ready", ZN_METRIC_GAUGE, ZN_NM_BOOL, ZN_NM_OFF(ready),
     "1 when serving: a leader is known and apply caught up with commit."},
    {"zinc_node_draining", ZN_METRIC_GAUGE, ZN_NM_BOOL, ZN_NM_OFF(draining),
     "1 while shutting down (new requests refused)."},
    {"zinc_sessions", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(sessions),
     "Client sessions in the replicated state (ZooKeeper: global_sessions)."},
    {"zinc_znode_count", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(znodes),
     "Znodes in the tree (ZooKeeper: znode_count)."},
    {"zinc_znode_data_bytes", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(data_bytes),
     "Bytes of znode data in the tree (ZooKeeper: approximate_data_size)."},
    {"zinc_watch_count", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(watches),
     "Watches registered on this node (ZooKeeper: watch_count)."},
    {"zinc_parked_reads", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(parked_reads),
     "Reads waiting for a read index or for apply to reach the session's zxid."},
    {"zinc_held_requests", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(held_requests),
     "Requests held until their turn in the session's order."},
    {"zinc_delayed_replies", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(delayed_replies),
     "Replies held behind an unacknowledged watch event of the same session."},
    {"zinc_watch_events_unacked", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(events_unacked),
     "Watch events sent and not yet acknowledged by their client."},
    {"zinc_release_queue_items", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(release_queue),
     "Messages waiting for a WAL batch to become durable."},
    {"zinc_wal_segments", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(wal_segments),
     "WAL segment files."},
    {"zinc_wal_write_bytes_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(wal_write_bytes),
     "Bytes written to the WAL and hard-state files."},
    {"zinc_wal_writes_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(wal_writes),
     "Write calls to the WAL and hard-state files."},
    {"zinc_wal_fsyncs_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(wal_fsyncs),
     "fdatasync calls on WAL and hard-state files (group commits)."},
    {"zinc_wal_fsync_errors_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(wal_fsync_errors),
     "fdatasync calls that failed."},
    {"zinc_wal_dir_fsyncs_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(wal_dir_fsyncs),
     "fsync calls on the data directory (file creation, rename, removal)."},
    {"zinc_snapshots_taken_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(mc.snapshots_taken),
     "Snapshots written and made durable by this node."},
    {"zinc_snapshots_failed_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(mc.snapshots_failed),
     "Snapshots that failed (the log is kept)."},
    {"zinc_snapshot_bytes_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(mc.snapshot_bytes),
     "Bytes of snapshot bodies written."},
    {"zinc_snapshot_last_bytes", ZN_METRIC_GAUGE, ZN_NM_U64, ZN_NM_OFF(mc.snapshot_last_bytes),
     "Body size of the last snapshot taken."},
    {"zinc_snapshots_installed_total", ZN_METRIC_COUNTER, ZN_NM_U64,
     ZN_NM_OFF(mc.snapshots_installed), "Snapshots received from the leader and installed."},
    {"zinc_leader_elected_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(mc.became_leader),
     "Times this node became leader."},
    {"zinc_requests_forwarded_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(forwarded),
     "Client writes forwarded to the leader."},
    {"zinc_forward_nacks_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(nacks),
     "Forwarded writes refused by a node that was not the leader (the client retries)."},
    {"zinc_proposals_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(proposals),
     "Entries proposed to Raft by this node as leader."},
    {"zinc_requests_early_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(early),
     "Requests that arrived ahead of their session's order (held or dropped for a retry)."},
    {"zinc_requests_behind_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(behind),
     "Duplicate or retransmitted requests answered from the reply cache or dropped."},
    {"zinc_client_dropped_total", ZN_METRIC_COUNTER, ZN_NM_U64, ZN_NM_OFF(client_dropped),
     "Client and peer messages refused by the node (bad session header, unknown session, "
     "malformed body): client protocol errors."},
    {"zinc_msg_tx_backpressure_total", ZN_METRIC_COUNTER, ZN_NM_U64,
     ZN_NM_OFF(msgr.tx_backpressure), "Messages the transport did not fully take (retried later)."},
    {"zinc_transport_backpressure_total", ZN_METRIC_COUNTER, ZN_NM_U64,
     ZN_NM_OFF(transport.tx_backpressure), "Datagrams the transport could not take at once."},
    {"zinc_transport_kernel_rx_dropped_total", ZN_METRIC_COUNTER, ZN_NM_U64,
     ZN_NM_OFF(transport.rx_kernel_dropped),
     "Datagrams the kernel dropped before the node read them (UDP socket receive buffer full, "
     "SO_RXQ_OVFL); also counted in zinc_transport_dropped_total{direction=\"rx\"}."},
};
#define ZN_NM_SCALARS (sizeof(zn_nm_scalars) / sizeof(zn_nm_scalars[0]))

static void zn_nm_scalar_collect(void *ctx, struct zn_metrics_out *o)
{
    const struct zn_nm_ctx *c = ctx;
    if (!c->view->valid)
        return;
    const char *p = (const char *)c->view + c->scalar->off;
    uint64_t v = 0;
    switch (c->scalar->kind) {
    case ZN_NM_U64:
        memcpy(&v, p, sizeof(v));
        break;
    case ZN_NM_BOOL: {
        bool b;
        memcpy(&b, p, sizeof(b));
        v = b;
        break;
    }
    case ZN_NM_U8:
        v = *(const uint8_t *)p;
        break;
    }
    zn_metrics_u64(o, v, 0);
}

#define ZN_NM_VIEW(ctx)                                                  \
    const struct zn_node_metrics *m = ((struct zn_nm_ctx *)(ctx))->view; \
    if (!m->valid)                                                       \
    return

static void zn_nm_info(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    char id[16], cluster[16];
    snprintf(id, sizeof(id), "%u", m->id);
    snprintf(cluster, sizeof(cluster), "%u", m->cluster_id);
    zn_metrics_u64(o, 1, 3, "node", id, "cluster", cluster, "transport",
                   m->dpdk ? "dpdk" : "kernel");
}

static void zn_nm_role(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    for (uint8_t r = ZN_RAFT_FOLLOWER; r <= ZN_RAFT_LEADER; r++)
        zn_metrics_u64(o, m->raft.role == r, 1, "role", zn_raft_role_name(r));
}

static void zn_nm_members(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->raft.conf.n_voters, 1, "kind", "voter");
    zn_metrics_u64(o, m->raft.conf.n_learners, 1, "kind", "learner");
}

static void zn_nm_outstanding(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->parked_reads + m->held_requests + m->delayed_replies, 0);
}

static void zn_nm_fsync_hist(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    struct zn_metrics_hist_data h = {.n_bounds = ZN_METRICS_FSYNC_BOUNDS};
    memcpy(h.bounds, zn_metrics_fsync_bounds, sizeof(zn_metrics_fsync_bounds));
    for (unsigned b = 0; b < ZN_METRICS_FSYNC_BOUNDS; b++)
        h.counts[b] = m->wal_fsync_buckets[b];
    h.count_inf = m->wal_fsync_buckets[ZN_METRICS_FSYNC_BOUNDS];
    h.sum = (double)m->wal_fsync_ns_sum * 1e-9;
    zn_metrics_histogram(o, &h, 0);
}

static void zn_nm_election_hist(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    struct zn_metrics_hist_data h = {.n_bounds = ZN_METRICS_ELECTION_BOUNDS};
    memcpy(h.bounds, zn_metrics_election_bounds, sizeof(zn_metrics_election_bounds));
    for (unsigned b = 0; b < ZN_METRICS_ELECTION_BOUNDS; b++)
        h.counts[b] = m->mc.election_buckets[b];
    h.count_inf = m->mc.election_buckets[ZN_METRICS_ELECTION_BOUNDS];
    h.sum = (double)m->mc.election_ns_sum * 1e-9;
    zn_metrics_histogram(o, &h, 0);
}

static void zn_nm_snap_duration(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_f64(o, (double)m->mc.snapshot_last_ns * 1e-9, 0);
}

static const char *const zn_nm_reason_names[ZN_ELECTION_REASONS] = {"leader_lost", "no_leader"};

static void zn_nm_elections(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    for (unsigned r = 0; r < ZN_ELECTION_REASONS; r++)
        zn_metrics_u64(o, m->mc.elections[r], 1, "reason", zn_nm_reason_names[r]);
}

static void zn_nm_last_election(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_f64(o, (double)m->last_election_ms / 1000.0, 0);
}

static void zn_nm_frame_drops(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->msgr.drop_malformed, 1, "reason", "malformed");
    zn_metrics_u64(o, m->msgr.drop_version, 1, "reason", "version");
    zn_metrics_u64(o, m->msgr.drop_checksum, 1, "reason", "checksum");
    zn_metrics_u64(o, m->msgr.drop_cluster, 1, "reason", "cluster");
    zn_metrics_u64(o, m->msgr.drop_mac, 1, "reason", "mac");
    zn_metrics_u64(o, m->msgr.drop_oversize, 1, "reason", "oversize");
    zn_metrics_u64(o, m->msgr.drop_reasm, 1, "reason", "reassembly");
}

static void zn_nm_msgs(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->msgr.rx_msgs, 1, "direction", "rx");
    zn_metrics_u64(o, m->msgr.tx_msgs, 1, "direction", "tx");
}

static void zn_nm_frames(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->msgr.rx_frames, 1, "direction", "rx");
    zn_metrics_u64(o, m->msgr.tx_frames, 1, "direction", "tx");
}

static bool zn_nm_is_drop(const char *name)
{
    return strncmp(name, "drop_", 5) == 0 || strcmp(name, "tx_no_mbuf") == 0;
}

/* "drop_ip_cksum" -> "ip_cksum"; other drop counters keep their name ("tx_no_mbuf"). */
static const char *zn_nm_drop_reason(const char *name)
{
    return strncmp(name, "drop_", 5) == 0 ? &name[5] : name;
}

static void zn_nm_stack_drops(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    if (!m->has_stack)
        return;
#define ZN_NM_STACK_DROP_(name, text) \
    if (zn_nm_is_drop(#name))         \
        zn_metrics_u64(o, m->stack.name, 1, "reason", zn_nm_drop_reason(#name));
    ZN_DP_STACK_COUNTERS(ZN_NM_STACK_DROP_)
#undef ZN_NM_STACK_DROP_
}

static void zn_nm_stack_events(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    if (!m->has_stack)
        return;
#define ZN_NM_STACK_EVENT_(name, text) \
    if (!zn_nm_is_drop(#name))         \
        zn_metrics_u64(o, m->stack.name, 1, "event", #name);
    ZN_DP_STACK_COUNTERS(ZN_NM_STACK_EVENT_)
#undef ZN_NM_STACK_EVENT_
}

static void zn_nm_transport_drops(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->transport.rx_dropped, 1, "direction", "rx");
    zn_metrics_u64(o, m->transport.tx_dropped, 1, "direction", "tx");
}

/* Port counters: the NIC's (rte_eth_stats) with DPDK, the socket's with kernel UDP. */
static void zn_nm_port_name(const struct zn_node_metrics *m, char *buf, size_t cap)
{
    if (m->has_port)
        snprintf(buf, cap, "dpdk%u", m->port_id);
    else
        snprintf(buf, cap, "udp");
}

/* One rx and one tx sample of a port family (packets or bytes). */
static void zn_nm_port_rxtx(const struct zn_node_metrics *m, struct zn_metrics_out *o, uint64_t rx,
                            uint64_t tx)
{
    char port[16];
    zn_nm_port_name(m, port, sizeof(port));
    zn_metrics_u64(o, rx, 2, "port", port, "direction", "rx");
    zn_metrics_u64(o, tx, 2, "port", port, "direction", "tx");
}

static void zn_nm_port_packets(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_nm_port_rxtx(m, o, m->has_port ? m->port_ipackets : m->transport.rx_dgrams,
                    m->has_port ? m->port_opackets : m->transport.tx_dgrams);
}

static void zn_nm_port_bytes(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_nm_port_rxtx(m, o, m->has_port ? m->port_ibytes : m->transport.rx_bytes,
                    m->has_port ? m->port_obytes : m->transport.tx_bytes);
}

static void zn_nm_port_errors(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    char port[16];
    zn_nm_port_name(m, port, sizeof(port));
    if (m->has_port) {
        zn_metrics_u64(o, m->port_ierrors, 2, "port", port, "kind", "rx_error");
        zn_metrics_u64(o, m->port_oerrors, 2, "port", port, "kind", "tx_error");
        zn_metrics_u64(o, m->port_imissed, 2, "port", port, "kind", "rx_missed");
        zn_metrics_u64(o, m->port_rx_nombuf, 2, "port", port, "kind", "rx_nombuf");
    } else {
        zn_metrics_u64(o, m->udp_rx_errors, 2, "port", port, "kind", "rx_error");
        zn_metrics_u64(o, m->udp_tx_errors, 2, "port", port, "kind", "tx_error");
        zn_metrics_u64(o, m->udp_rx_truncated, 2, "port", port, "kind", "rx_truncated");
        zn_metrics_u64(o, m->udp_tx_oversized, 2, "port", port, "kind", "tx_oversized");
    }
}

static void zn_nm_lcore_iterations(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    char lc[16];
    snprintf(lc, sizeof(lc), "%u", m->lcore_index);
    zn_metrics_u64(o, m->lcore.busy_iterations, 2, "lcore", lc, "state", "busy");
    zn_metrics_u64(o, m->lcore.empty_iterations, 2, "lcore", lc, "state", "idle");
}

static void zn_nm_lcore_idle(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    char lc[16];
    snprintf(lc, sizeof(lc), "%u", m->lcore_index);
    zn_metrics_u64(o, m->lcore.yields, 2, "lcore", lc, "action", "yield");
    zn_metrics_u64(o, m->lcore.sleeps - m->lcore.deep_sleeps, 2, "lcore", lc, "action", "sleep");
    zn_metrics_u64(o, m->lcore.deep_sleeps, 2, "lcore", lc, "action", "deep_sleep");
}

/* Why each sleep of the lab idle policy ended (dataplane/zn_dp_loop.h, stats.wakes_*): the
 * reasons add up to the sleeps of zinc_lcore_idle_actions_total (sleep + deep_sleep). */
static void zn_nm_lcore_wakes(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    char lc[16];
    snprintf(lc, sizeof(lc), "%u", m->lcore_index);
    zn_metrics_u64(o, m->lcore.wakes_timer, 2, "lcore", lc, "reason", "timer");
    zn_metrics_u64(o, m->lcore.wakes_kick, 2, "lcore", lc, "reason", "kick");
    zn_metrics_u64(o, m->lcore.wakes_fd, 2, "lcore", lc, "reason", "fd");
    zn_metrics_u64(o, m->lcore.sleeps_cancelled, 2, "lcore", lc, "reason", "cancelled");
}

static void zn_nm_lcore_work(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    char lc[16];
    snprintf(lc, sizeof(lc), "%u", m->lcore_index);
    zn_metrics_u64(o, m->lcore.work, 1, "lcore", lc);
}

void zn_node_metrics_msg_type_name(uint8_t type, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", zn_raft_msg_type_name(type));
    for (char *p = buf; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

static void zn_nm_raft_msgs(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    for (uint8_t t = 1; t <= ZN_RAFT_MSG_TYPE_MAX; t++) {
        char name[32];
        zn_node_metrics_msg_type_name(t, name, sizeof(name));
        zn_metrics_u64(o, m->mc.raft_sent[t], 2, "direction", "tx", "type", name);
        zn_metrics_u64(o, m->mc.raft_received[t], 2, "direction", "rx", "type", name);
    }
}

static void zn_nm_peer_match(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    if (m->raft.role != ZN_RAFT_LEADER)
        return;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        char p[8];
        snprintf(p, sizeof(p), "%u", m->peer_id[i]);
        zn_metrics_u64(o, m->peer_match[i], 1, "peer", p);
    }
}

static void zn_nm_peer_lag(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    if (m->raft.role != ZN_RAFT_LEADER)
        return;
    for (uint32_t i = 0; i < m->n_peers; i++) {
        char p[8];
        snprintf(p, sizeof(p), "%u", m->peer_id[i]);
        uint64_t last = m->raft.last_index;
        zn_metrics_u64(o, m->peer_match[i] < last ? last - m->peer_match[i] : 0, 1, "peer", p);
    }
}

static void zn_nm_peer_heard(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    for (uint32_t i = 0; i < m->n_peers; i++) {
        if (m->peer_heard_age_ns[i] == UINT64_MAX)
            continue;
        char p[8];
        snprintf(p, sizeof(p), "%u", m->peer_id[i]);
        zn_metrics_f64(o, (double)m->peer_heard_age_ns[i] * 1e-9, 1, "peer", p);
    }
}

static void zn_nm_snapshot_age(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_f64(o, (double)m->collected_ms / 1000.0, 0);
}

static void zn_nm_op_latency(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    for (uint32_t i = 0; i < m->n_ops; i++)
        zn_metrics_histogram(o, &m->op_latency[i], 1, "op", zn_opstats_op_name(i));
}

static void zn_nm_op_evicted(void *ctx, struct zn_metrics_out *o)
{
    ZN_NM_VIEW(ctx);
    zn_metrics_u64(o, m->op_evicted, 0);
}

struct zn_nm_custom {
    const char *name;
    enum zn_metric_type type;
    zn_metrics_collect_fn fn;
    const char *help;
};

static const struct zn_nm_custom zn_nm_customs[] = {
    {"zinc_node_info", ZN_METRIC_GAUGE, zn_nm_info,
     "Constant 1 with the node id, cluster id and transport as labels."},
    {"zinc_raft_role", ZN_METRIC_GAUGE, zn_nm_role, "1 for the node's current Raft role."},
    {"zinc_raft_members", ZN_METRIC_GAUGE, zn_nm_members,
     "Members of the configuration in force, by kind."},
    {"zinc_outstanding_requests", ZN_METRIC_GAUGE, zn_nm_outstanding,
     "Requests received and not yet answered: parked reads, held requests, delayed replies "
     "(ZooKeeper: outstanding_requests)."},
    {"zinc_wal_fsync_duration_seconds", ZN_METRIC_HISTOGRAM, zn_nm_fsync_hist,
     "fdatasync latency of WAL and hard-state files (ZooKeeper: fsynctime)."},
    {"zinc_snapshot_last_duration_seconds", ZN_METRIC_GAUGE, zn_nm_snap_duration,
     "Time from start to durable of the last snapshot taken."},
    {"zinc_elections_total", ZN_METRIC_COUNTER, zn_nm_elections,
     "Elections this node started (became pre-candidate or candidate), by reason."},
    {"zinc_election_duration_seconds", ZN_METRIC_HISTOGRAM, zn_nm_election_hist,
     "Elections this node took part in, from its first (pre)candidacy to a leader known "
     "(ZooKeeper: election_time)."},
    {"zinc_last_election_timestamp_seconds", ZN_METRIC_GAUGE, zn_nm_last_election,
     "Unix time of the last election this node started (0: none)."},
    {"zinc_frames_dropped_total", ZN_METRIC_COUNTER, zn_nm_frame_drops,
     "Native frames refused by the frame decoder, by reason."},
    {"zinc_messages_total", ZN_METRIC_COUNTER, zn_nm_msgs,
     "Native messages (peer and client) received and sent."},
    {"zinc_frames_total", ZN_METRIC_COUNTER, zn_nm_frames,
     "Native frames (datagrams of messages) received and sent."},
    {"zinc_stack_drops_total", ZN_METRIC_COUNTER, zn_nm_stack_drops,
     "Packets dropped by the DPDK Ethernet/ARP/IPv4/UDP stack, by reason (DPDK transport "
     "only)."},
    {"zinc_stack_events_total", ZN_METRIC_COUNTER, zn_nm_stack_events,
     "Other DPDK stack counters (frames, datagrams, ARP, ICMP) by event (DPDK transport "
     "only)."},
    {"zinc_transport_dropped_total", ZN_METRIC_COUNTER, zn_nm_transport_drops,
     "All datagrams the transport dropped, by direction."},
    {"zinc_port_packets_total", ZN_METRIC_COUNTER, zn_nm_port_packets,
     "Packets by port and direction (DPDK: rte_eth_stats; kernel UDP: the socket's "
     "datagrams)."},
    {"zinc_port_bytes_total", ZN_METRIC_COUNTER, zn_nm_port_bytes,
     "Bytes by port and direction (DPDK: rte_eth_stats; kernel UDP: datagram payloads)."},
    {"zinc_port_errors_total", ZN_METRIC_COUNTER, zn_nm_port_errors, "Port errors by kind."},
    {"zinc_lcore_iterations_total", ZN_METRIC_COUNTER, zn_nm_lcore_iterations,
     "Poll-loop iterations per lcore that found work (busy) or none (idle)."},
    {"zinc_lcore_idle_actions_total", ZN_METRIC_COUNTER, zn_nm_lcore_idle,
     "What the idle policy did on empty polls: yield, sleep, deep sleep."},
    {"zinc_lcore_wakes_total", ZN_METRIC_COUNTER, zn_nm_lcore_wakes,
     "How each idle sleep ended: timer (full length), kick (eventfd: control message, a "
     "ZooKeeper port request, a finished snapshot or WAL job), fd (kernel socket), cancelled (work "
     "arrived as it went to sleep)."},
    {"zinc_lcore_work_items_total", ZN_METRIC_COUNTER, zn_nm_lcore_work,
     "Work items the pollers of an lcore reported."},
    {"zinc_raft_messages_total", ZN_METRIC_COUNTER, zn_nm_raft_msgs,
     "Raft messages by direction and type."},
    {"zinc_raft_follower_match_index", ZN_METRIC_GAUGE, zn_nm_peer_match,
     "Leader only: highest index each peer acknowledged in this term."},
    {"zinc_raft_follower_lag_entries", ZN_METRIC_GAUGE, zn_nm_peer_lag,
     "Leader only: entries each peer is behind the leader's last index (replication lag)."},
    {"zinc_peer_last_heard_seconds", ZN_METRIC_GAUGE, zn_nm_peer_heard,
     "Seconds since the last valid message from each peer."},
    {"zinc_request_latency_seconds", ZN_METRIC_HISTOGRAM, zn_nm_op_latency,
     "Client request latency by operation, from the node's receipt to its reply (server side; "
     "zincctl latency shows the same histograms as percentiles)."},
    {"zinc_request_latency_untracked_total", ZN_METRIC_COUNTER, zn_nm_op_evicted,
     "Requests whose latency was not recorded (their pending slot was reused first)."},
    {"zinc_metrics_snapshot_timestamp_seconds", ZN_METRIC_GAUGE, zn_nm_snapshot_age,
     "Unix time at which the lcore copied the values of this scrape."},
};
#define ZN_NM_CUSTOMS (sizeof(zn_nm_customs) / sizeof(zn_nm_customs[0]))

_Static_assert(ZN_NM_SCALARS + ZN_NM_CUSTOMS <= ZN_NODE_METRICS_FAMILIES,
               "raise ZN_NODE_METRICS_FAMILIES");

int zn_node_metrics_register(struct zn_metrics_reg *reg, struct zn_node_metrics_set *set,
                             const struct zn_node_metrics *view)
{
    uint32_t k = 0;
    for (size_t i = 0; i < ZN_NM_CUSTOMS; i++) {
        const struct zn_nm_custom *c = &zn_nm_customs[i];
        set->c[k] = (struct zn_nm_ctx){view, NULL};
        int rc = zn_metrics_register(reg, c->name, c->type, c->help, c->fn, &set->c[k++]);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < ZN_NM_SCALARS; i++) {
        const struct zn_nm_scalar *s = &zn_nm_scalars[i];
        set->c[k] = (struct zn_nm_ctx){view, s};
        int rc =
            zn_metrics_register(reg, s->name, s->type, s->help, zn_nm_scalar_collect, &set->c[k++]);
        if (rc)
            return rc;
    }
    return 0;
}
