/*
 * node_snapshot.c - snapshots of the tree (taken on the apply stage, written by a background
 * thread), recovery from the newest snapshot file, and InstallSnapshot in both directions. The
 * snapshot files of InstallSnapshot are read (leader) and written durably (follower) by a
 * snapshot I/O thread too (n->snapio), so that the lcore never waits on them; it picks up the
 * result on the apply stage.
 */
#include "node/internal.h"

static void *node_snapshot_thread(void *arg);
static int node_membuf_put(void *ctx, const void *buf, size_t len);
static long node_membuf_get(void *ctx, void *buf, size_t len);
static uint64_t node_be(const uint8_t *p, unsigned bytes);
static void node_track_snapshot_sessions(struct zn_node *n, const uint8_t *b, size_t len);
static int node_snap_read_file(struct zn_node *n, struct zn_disk *disk, uint64_t index);
static int node_snap_write_file(struct zn_node *n, struct zn_disk *disk);
static void *node_snapio_thread(void *arg);
static bool node_snapio_start(struct zn_node *n, uint8_t kind);
static void node_snapio_poll(struct zn_node *n);
static int node_wal_reopen_cb(void *ctx, const struct zn_wal_entry *we);
static void node_install_finish(struct zn_node *n);
static void node_install_complete(struct zn_node *n);
static uint64_t node_snapshot_interval(const struct zn_node *n);
static int node_window_wants_snapshot(const struct zn_node *n);
static bool node_window_refusing(const struct zn_node *n);
static void node_snapshot_retry(struct zn_node *n);

enum { NODE_SNAPIO_READ = 1, NODE_SNAPIO_WRITE = 2 };

/* ---- snapshots ------------------------------------------------------------------------------ */

static void *node_snapshot_thread(void *arg)
{
    struct zn_node *n = arg;
    rcu_register_thread(); /* a QSBR reader, online for the whole write (store/snapshot.h) */
    size_t cap = 1u << 20;
    void *buf = malloc(cap);
    int rc = buf ? 0 : ZN_ENOMEM;
    struct zn_snapfile_writer sw;
    if (!rc)
        rc = zn_snapfile_begin(&sw, &n->snap_disk, n->cfg.node.cluster_id, n->self, n->snap_index,
                               n->snap_term, n->cfg.snapshot.retain, buf, cap);
    if (!rc) {
        rc = zn_snapshot_write(n->snap, zn_snapfile_sink, &sw);
        if (rc)
            zn_snapfile_abort(&sw);
        else
            rc = zn_snapfile_commit(&sw, &n->snap_info);
    }
    free(buf);
    rcu_unregister_thread();
    n->snap_rc = rc;
    atomic_store_explicit(&n->snap_done, true, memory_order_release);
    node_wake_lcore(n); /* the apply stage finishes it now, not at the end of a sleep */
    return NULL;
}

/*
 * Snapshot scheduling against the consensus core's log window (consensus/raft.h "Log
 * storage"). Proposals may fill log_entries_max / 2 entries (or log_bytes_max / 2 bytes) and
 * only a snapshot frees them, keeping keep_entries behind it; so a node must snapshot before
 * the window fills, whatever interval_entries says, or every write gets ZN_EFULL for good
 * (PERFORMANCE.md "Found while measuring" 1: a default node stopped at 32768 entries).
 *   room = log_entries_max / 2 - keep_entries    (validated > 2 batches, mgmt/config.c)
 *   interval_entries 0 (default) = room / 2;     a larger explicit one is refused at load
 *   occupancy: entries >= keep_entries + room / 2 with room / 4 applied since the last
 *              snapshot, or bytes > 3/8 of log_bytes_max (zn_raft_log_wants_snapshot; a
 *              compaction keeps at most 1/4 behind a snapshot) with 16 applied since it;
 *   refusing:  on the leader, while proposals are refused (window_full), as soon as anything
 *              was applied since the last snapshot, checked on every apply-stage run.
 * Why the last rule: once the leader refuses proposals, nothing new is applied, so a rule that
 * waits for more applied entries (16 since the last snapshot, or the next 8-entry check) waits
 * forever - every write and every session open (createSession is a log entry) stalls for good:
 *   1. values above ~1.07 MiB ([limits] data_bytes_max allows 16 MiB): a compaction keeps at
 *      most 16 MiB, e.g. 7 entries of 2 MiB; 10 more fill the half (32 MiB) with 10 < 16
 *      applied since the snapshot (every time);
 *   2. 1 MiB values: 15 kept + 17 new fill it; the byte rule holds from the 16th on, but
 *      when the 8-entry check last ran at the 10th..15th (where the previous snapshot's end
 *      fell), its next run would be at the 18th..23rd (a race: perf/compare's read90 open
 *      timed out after its 1 MiB workload once in eight runs; the stalled leader logged
 *      `log window full (32 entries, ...) (applied 1091, last snapshot 1075)` for good).
 * tests/cluster/bigval.sh `window` replays case 1.
 */
static uint64_t node_snapshot_interval(const struct zn_node *n)
{
    uint64_t room = n->cfg.raft.log_entries_max / 2 - n->cfg.snapshot.keep_entries;
    uint64_t every = n->cfg.snapshot.interval_entries ? n->cfg.snapshot.interval_entries : room / 2;
    return every ? every : 1;
}

/* The leader refused a proposal with ZN_EFULL and none went in since (node_window_full_note). A
 * node that stopped leading proposes nothing: its flag is stale. */
static bool node_window_refusing(const struct zn_node *n)
{
    return n->window_full && n->role == ZN_RAFT_LEADER;
}

/* Why the window wants a snapshot: 0 it does not, 1 occupancy, 2 refusing (above). */
static int node_window_wants_snapshot(const struct zn_node *n)
{
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    uint64_t since = n->applied_index - n->last_snap_index;
    uint64_t keep = n->cfg.snapshot.keep_entries;
    uint64_t room = n->cfg.raft.log_entries_max / 2 - keep;
    if (st.log_entries >= keep + room / 2 && since >= room / 4)
        return 1;
    /* bytes: past 3/8 of the core's byte arena (zn_raft_log_wants_snapshot), above the quarter
     * a compaction may keep behind a snapshot, so one snapshot does not call for the next */
    if (zn_raft_log_wants_snapshot(n->raft) && since >= 16)
        return 1;
    /* refusing (above): the window is full and only this snapshot can free it */
    if (node_window_refusing(n) && since > 0 &&
        (zn_raft_log_wants_snapshot(n->raft) || st.log_entries >= keep + room / 2))
        return 2;
    return 0;
}

/* Apply stage: offer a refused snapshot to the core again once its durable index reached it
 * (the WAL stage makes the follower's log durable within a batch). */
static void node_snapshot_retry(struct zn_node *n)
{
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    if (st.snap_index >= n->snap_retry_index) {
        ZN_INFO("node", "log compaction behind snapshot %llu superseded by snapshot %llu",
                (unsigned long long)n->snap_retry_index, (unsigned long long)st.snap_index);
        n->snap_retry_index = 0; /* an installed or newer snapshot covers it */
        return;
    }
    if (st.durable < n->snap_retry_index || st.applied < n->snap_retry_index)
        return;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_TAKEN, .now_ns = node_now(n)};
    ev.snapshot_taken.index = n->snap_retry_index;
    int rc = node_step(n, &ev);
    n->n_snap_retries++;
    if (rc == ZN_ESTALE)
        return; /* still refused (its log moved back under it): the next run asks again */
    if (rc)
        ZN_ERROR("node", "consensus core refused snapshot %llu again: %s",
                 (unsigned long long)n->snap_retry_index, zn_strerror(rc));
    else
        ZN_INFO("node", "log compacted behind snapshot %llu (retried: it is durable now)",
                (unsigned long long)n->snap_retry_index);
    n->snap_retry_index = 0;
}

/*
 * A proposal the core refused with ZN_EFULL (log window full) is not lost: the request stays
 * the session's write in flight and the client retransmits it with the same sequence, which
 * proposes it again (a forwarded one gets a BUSY nack and the same retransmission); once a
 * snapshot frees the window it goes in, and exactly-once dedup covers a double proposal. A
 * client whose request timeout passes first gets ZN_ETIMEDOUT (ZooKeeper's OPERATIONTIMEOUT:
 * outcome unknown, retry). Counted, and logged once per episode.
 */
void node_window_full_note(struct zn_node *n, int propose_rc)
{
    if (propose_rc == ZN_EFULL) {
        n->n_window_full++;
        if (!n->window_full) {
            struct zn_raft_status st;
            zn_raft_status_get(n->raft, &st);
            ZN_WARN("node",
                    "log window full (%u entries, %u bytes, from index %llu): proposals wait "
                    "for a snapshot (applied %llu, last snapshot %llu%s)",
                    st.log_entries, st.log_bytes, (unsigned long long)st.first_index,
                    (unsigned long long)n->applied_index, (unsigned long long)n->last_snap_index,
                    n->snap ? ", one is being written" : "");
        }
        n->window_full = true;
    } else if (propose_rc == 0 && n->window_full) {
        n->window_full = false;
        ZN_INFO("node", "log window has room again: %llu proposals were refused meanwhile",
                (unsigned long long)n->n_window_full);
    }
}

/* Apply stage: start a snapshot every [snapshot] interval_entries applied entries, or when the
 * log window fills (above). */
void node_maybe_snapshot(struct zn_node *n)
{
    node_snapio_poll(n);
    if (n->snap) {
        if (!atomic_load_explicit(&n->snap_done, memory_order_acquire))
            return;
        pthread_join(n->snap_thread, NULL);
        zn_snapshot_end(n->store, n->snap);
        n->snap = NULL;
        zn_node_mc_snapshot_done(&n->ms.mc, n->snap_rc, n->snap_info.body_bytes, node_now(n));
        if (n->snap_rc) {
            ZN_ERROR("node", "snapshot at index %llu failed: %s (the log is kept)",
                     (unsigned long long)n->snap_index, zn_strerror(n->snap_rc));
            return;
        }
        n->last_snap_index = n->snap_index;
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_TAKEN, .now_ns = node_now(n)};
        ev.snapshot_taken.index = n->snap_index;
        int rc = node_step(n, &ev);
        n->compact_pending = n->snap_index;
        /* ZN_ESTALE: a follower applied entries the leader committed before its own WAL
         * write of them was durable; the core keeps its log until they are (raft.h
         * snapshot_taken). Offered again by node_snapshot_retry, never dropped. */
        n->snap_retry_index = rc == ZN_ESTALE ? n->snap_index : 0;
        ZN_INFO("node", "snapshot %s at index %llu (term %llu, %llu bytes) is durable%s%s%s",
                n->snap_info.name, (unsigned long long)n->snap_index,
                (unsigned long long)n->snap_term, (unsigned long long)n->snap_info.body_bytes,
                rc ? "; consensus core: " : "", rc ? zn_strerror(rc) : "",
                rc == ZN_ESTALE ? " (log compaction retried once the log is durable there)" : "");
        return;
    }
    if (n->snap_retry_index)
        node_snapshot_retry(n); /* a newer snapshot below supersedes it */
    if (!n->snap_disk_open || n->applied_index <= n->last_snap_index)
        return;
    bool due = n->snap_force || n->applied_index >= n->last_snap_index + node_snapshot_interval(n);
    int by_window = 0;
    /* every 8 applied entries at most: a status read per apply batch is measurable at 100k
     * writes/s, and 8 entries of the largest size (1 MiB) are a quarter of the bytes headroom */
    if (!due && (n->applied_index >= n->snap_window_checked + 8 || node_window_refusing(n))) {
        n->snap_window_checked = n->applied_index;
        by_window = node_window_wants_snapshot(n);
        due = by_window != 0;
    }
    if (!due)
        return;
    /* Like the simulator's application (tests/sim/sim.c): never a snapshot over entries this
     * node's WAL does not hold durably yet (a follower may apply what the leader committed
     * before its own write of it completed; consensus/raft.c snapshot_taken says why a
     * snapshot file past the durable log is unsafe). Later, once the WAL stage caught up. */
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    if (st.durable < n->applied_index) {
        n->n_snap_deferred++;
        n->snap_window_checked = 0; /* look at the window again next run */
        return;
    }
    n->n_snap_window_starts += by_window != 0;
    n->snap_force = false;
    uint64_t index = n->applied_index;
    uint64_t term = zn_raft_term_at(n->raft, index);
    if (term == 0)
        return;
    int rc = zn_snapshot_begin(n->store, &n->snap);
    if (rc) {
        n->snap = NULL;
        return;
    }
    n->snap_index = index;
    n->snap_term = term;
    n->ms.mc.snapshot_started_ns = node_now(n);
    atomic_store(&n->snap_done, false);
    if (pthread_create(&n->snap_thread, NULL, node_snapshot_thread, n) != 0) {
        zn_snapshot_end(n->store, n->snap);
        n->snap = NULL;
        ZN_ERROR("node", "cannot start the snapshot thread");
        return;
    }
    ZN_INFO("node", "snapshot started at index %llu (zxid %llu)%s", (unsigned long long)index,
            (unsigned long long)zn_store_applied_zxid(n->store),
            by_window == 2 ? " to free the log window: proposals are refused" : "");
}

/* WAL stage: compaction behind a durable snapshot, once the WAL is idle. */
void node_maybe_compact(struct zn_node *n)
{
    if (!n->compact_pending || !zn_wal_idle(n->wal))
        return;
    int rc = zn_wal_compact(n->wal, n->compact_pending);
    if (rc < 0)
        ZN_WARN("node", "WAL compaction behind %llu: %s", (unsigned long long)n->compact_pending,
                zn_strerror(rc));
    else if (rc > 0)
        ZN_INFO("node", "WAL compacted behind snapshot %llu: %d segments removed",
                (unsigned long long)n->compact_pending, rc);
    n->compact_pending = 0;
}

/* ---- recovery from a snapshot file ---------------------------------------------------------- */

struct node_membuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t pos;
};

static int node_membuf_put(void *ctx, const void *buf, size_t len)
{
    struct node_membuf *m = ctx;
    if (m->len + len > m->cap)
        return ZN_ECORRUPT;
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

static long node_membuf_get(void *ctx, void *buf, size_t len)
{
    struct node_membuf *m = ctx;
    size_t k = m->len - m->pos < len ? m->len - m->pos : len;
    memcpy(buf, m->p + m->pos, k);
    m->pos += k;
    return (long)k;
}

static uint64_t node_be(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

/*
 * The store has no accessor for session passwords, which a node needs to accept a reconnect;
 * they are in the snapshot stream's session section (store/snapshot.h format), read here from
 * the already validated body.
 */
static void node_track_snapshot_sessions(struct zn_node *n, const uint8_t *b, size_t len)
{
    size_t off = 8 + 4 + 4 + 8 + 8 + 8;
    if (len < off + 8)
        return;
    uint64_t count = node_be(b + off, 8);
    off += 8;
    uint64_t now = node_now(n);
    for (uint64_t i = 0; i < count && off + 8 + 4 + 16 + 1 + 4 + 4 <= len; i++) {
        uint64_t id = node_be(b + off, 8);
        uint32_t timeout = (uint32_t)node_be(b + off + 8, 4);
        const uint8_t *pw = b + off + 12;
        uint32_t rlen = (uint32_t)node_be(b + off + 12 + 16 + 1 + 4, 4);
        off += 12 + 16 + 1 + 4 + 4 + rlen;
        struct zn_session_row *row;
        if (zn_sessions_add(&n->sess, id, ZN_SESSIONS_F_TRACKED, timeout, now, &row) == 0)
            memcpy(row->passwd, pw, 16);
    }
}

/* Load the newest verified snapshot file into the store. 0 (info->index = 0 when none), or a
 * refusal with err filled. */
int node_load_snapshot(struct zn_node *n, struct zn_snapfile_info *info, char *err, size_t err_len)
{
    memset(info, 0, sizeof(*info));
    size_t cap = 1u << 16;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return ZN_ENOMEM;
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = zn_snapfile_latest(&n->disk, n->cfg.node.cluster_id, n->self, buf, cap, info, &rep);
    if (rc == ZN_ENOENT) {
        free(buf);
        memset(info, 0, sizeof(*info));
        return 0;
    }
    if (rc) {
        node_errf(err, err_len, "snapshot files refused: %s (file %s, offset %llu): %s",
                  zn_strerror(rc), rep.file, (unsigned long long)rep.offset, rep.message);
        free(buf);
        return rc;
    }
    if (rep.code)
        ZN_WARN("node", "snapshot %s skipped: %s", rep.file, rep.message);
    struct node_membuf m = {.p = malloc(info->body_bytes ? info->body_bytes : 1),
                            .cap = info->body_bytes};
    rc = m.p ? zn_snapfile_read(&n->disk, info, buf, cap, node_membuf_put, &m, &rep) : ZN_ENOMEM;
    free(buf);
    struct zn_store *loaded = NULL;
    if (!rc) {
        struct zn_store_config sc = {.data_size_max = (uint32_t)n->cfg.limits.data_bytes_max};
        rc = zn_snapshot_load(&sc, node_membuf_get, &m, &loaded);
    }
    if (rc) {
        node_errf(err, err_len, "snapshot %s (index %llu) does not load: %s %s", info->name,
                  (unsigned long long)info->index, zn_strerror(rc), rep.message);
        free(m.p);
        return rc;
    }
    zn_store_destroy(n->store);
    n->store = loaded;
    node_track_snapshot_sessions(n, m.p, m.len);
    free(m.p);
    ZN_INFO("node", "loaded snapshot %s: index %llu, term %llu, zxid %llu, %u sessions", info->name,
            (unsigned long long)info->index, (unsigned long long)info->term,
            (unsigned long long)zn_store_applied_zxid(n->store), n->sess.count);
    return 0;
}

/* ---- snapshot transfer (InstallSnapshot) ----------------------------------------------------- */

/* Leader: the body of snapshot `index` in memory (read once from its file per snapshot). */
/* ---- snapshot file I/O off the lcore -------------------------------------------------------- */

/* Reader thread: the newest snapshot file's body into n->snapio.p (it must be `index`). */
static int node_snap_read_file(struct zn_node *n, struct zn_disk *disk, uint64_t index)
{
    size_t cap = 1u << 16;
    uint8_t *buf = malloc(cap);
    struct zn_snapfile_info info;
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    int rc = buf ? zn_snapfile_latest(disk, n->cfg.node.cluster_id, n->self, buf, cap, &info, &rep)
                 : ZN_ENOMEM;
    if (!rc && info.index != index)
        rc = ZN_ESTALE;
    struct node_membuf m = {0};
    if (!rc) {
        m.p = malloc(info.body_bytes ? info.body_bytes : 1);
        m.cap = info.body_bytes;
        rc = m.p ? zn_snapfile_read(disk, &info, buf, cap, node_membuf_put, &m, &rep) : ZN_ENOMEM;
    }
    free(buf);
    snprintf(n->snapio.msg, sizeof(n->snapio.msg), "%s", rep.message);
    if (rc) {
        free(m.p);
        return rc;
    }
    n->snapio.p = m.p;
    n->snapio.len = m.len;
    return 0;
}

/* Writer thread: the received body (n->inst) as a durable snapshot file. */
static int node_snap_write_file(struct zn_node *n, struct zn_disk *disk)
{
    size_t cap = 1u << 20;
    void *stage = malloc(cap);
    struct zn_snapfile_writer sw;
    struct zn_snapfile_info info;
    int rc = stage ? zn_snapfile_begin(&sw, disk, n->cfg.node.cluster_id, n->self, n->snapio.index,
                                       n->snapio.term, n->cfg.snapshot.retain, stage, cap)
                   : ZN_ENOMEM;
    if (!rc) {
        rc = zn_snapfile_sink(&sw, n->inst.p, n->inst.len);
        if (rc)
            zn_snapfile_abort(&sw);
        else
            rc = zn_snapfile_commit(&sw, &info);
    }
    free(stage);
    return rc;
}

/* The job's thread, on a disk instance of its own (the lcore keeps n->disk for the WAL). It
 * reads only what does not change while it runs (configuration, the received body, which the
 * lcore leaves alone until the job is done). */
static void *node_snapio_thread(void *arg)
{
    struct zn_node *n = arg;
    struct zn_disk disk;
    void *mem = malloc(zn_disk_posix_size());
    bool open = mem && zn_disk_posix_init(&disk, mem, n->state_dir) == 0;
    int rc = ZN_EIO;
    if (open)
        rc = n->snapio.kind == NODE_SNAPIO_READ ? node_snap_read_file(n, &disk, n->snapio.index)
                                                : node_snap_write_file(n, &disk);
    if (open)
        zn_disk_posix_fini(&disk);
    free(mem);
    n->snapio.rc = rc;
    atomic_store_explicit(&n->snapio.done, true, memory_order_release);
    node_wake_lcore(n);
    return NULL;
}

static bool node_snapio_start(struct zn_node *n, uint8_t kind)
{
    n->snapio.kind = kind;
    n->snapio.rc = 0;
    n->snapio.msg[0] = '\0';
    n->snapio.has_req = false;
    atomic_store(&n->snapio.done, false);
    if (pthread_create(&n->snapio.thread, NULL, node_snapio_thread, n) != 0) {
        ZN_WARN("node", "no thread for snapshot file I/O: doing it on the lcore");
        node_snapio_thread(n);
        n->snapio.running = true;
        n->snapio.thread = pthread_self();
        return true;
    }
    n->snapio.running = true;
    return true;
}

/* Apply stage's pending hook: a finished job waits to be joined (node_maybe_snapshot and
 * node_snapio_poll run on every apply poll and clear both conditions). */
bool node_snapshot_pending(void *ctx)
{
    struct zn_node *n = ctx;
    return (n->snap && atomic_load_explicit(&n->snap_done, memory_order_acquire)) ||
           (n->snapio.running && atomic_load_explicit(&n->snapio.done, memory_order_acquire));
}

/* Apply stage: finish a job whose thread is done. */
static void node_snapio_poll(struct zn_node *n)
{
    if (!n->snapio.running || !atomic_load_explicit(&n->snapio.done, memory_order_acquire))
        return;
    if (!pthread_equal(n->snapio.thread, pthread_self()))
        pthread_join(n->snapio.thread, NULL);
    n->snapio.running = false;
    if (n->snapio.kind == NODE_SNAPIO_WRITE) {
        if (n->snapio.rc) {
            ZN_ERROR("node", "received snapshot %llu cannot be made durable: %s",
                     (unsigned long long)n->snapio.index, zn_strerror(n->snapio.rc));
            zn_store_destroy(n->snapio.loaded);
            n->snapio.loaded = NULL;
            return;
        }
        node_install_complete(n);
        return;
    }
    if (n->snapio.rc) {
        ZN_WARN("node", "cannot read snapshot %llu to send: %s %s",
                (unsigned long long)n->snapio.index, zn_strerror(n->snapio.rc), n->snapio.msg);
        return;
    }
    free(n->send_snap.p);
    n->send_snap.p = n->snapio.p;
    n->send_snap.len = n->snapio.len;
    n->send_snap.index = n->snapio.index;
    n->snapio.p = NULL;
    if (n->snapio.has_req) {
        n->snapio.has_req = false;
        node_snapshot_chunk_request(n, &n->snapio.req);
    }
}

void node_snapio_stop(struct zn_node *n)
{
    if (n->snapio.running && !pthread_equal(n->snapio.thread, pthread_self()))
        pthread_join(n->snapio.thread, NULL);
    n->snapio.running = false;
    free(n->snapio.p);
    n->snapio.p = NULL;
    if (n->snapio.loaded)
        zn_store_destroy(n->snapio.loaded);
    n->snapio.loaded = NULL;
}

void node_snapshot_chunk_request(struct zn_node *n, const struct zn_raft_chunk_request *q)
{
    if (!n->send_snap.p || n->send_snap.index != q->index) {
        /* The body is read from its file by a thread; this request is answered when it is in
         * (a request while another job runs is dropped: the core asks again). */
        if (!n->snapio.running) {
            free(n->send_snap.p);
            memset(&n->send_snap, 0, sizeof(n->send_snap));
            n->snapio.index = q->index;
            node_snapio_start(n, NODE_SNAPIO_READ);
        }
        if (n->snapio.running && n->snapio.kind == NODE_SNAPIO_READ &&
            n->snapio.index == q->index) {
            n->snapio.req = *q;
            n->snapio.has_req = true;
        }
        node_snapio_poll(n); /* done already when it ran inline */
        return;
    }
    if (q->offset > n->send_snap.len)
        return;
    uint64_t rest = n->send_snap.len - q->offset;
    uint32_t len = rest < q->max_bytes ? (uint32_t)rest : q->max_bytes;
    struct zn_release *r = calloc(1, sizeof(*r));
    ZN_ASSERT(r != NULL);
    r->kind = ZN_REL_CHUNK;
    r->chunk_to = q->to;
    r->chunk_last = q->offset + len >= n->send_snap.len;
    r->chunk_len = len;
    r->chunk_offset = q->offset;
    r->snap_index = q->index;
    if (q->offset == 0)
        ZN_INFO("node", "sending snapshot %llu (%llu bytes) to node %u",
                (unsigned long long)q->index, (unsigned long long)n->send_snap.len, q->to);
    node_relq_push(n, r); /* delivered by the wal stage: never step inside a step */
}

static int node_wal_reopen_cb(void *ctx, const struct zn_wal_entry *we)
{
    (void)ctx;
    (void)we;
    return 0; /* the entries after the snapshot were truncated, or the core kept them: none to load */
}

/* Follower: the whole snapshot arrived. Load it (memory only, here), then make it durable on
 * the snapshot I/O thread; node_install_complete restarts the log and swaps the tree once the
 * file is durable. */
static void node_install_finish(struct zn_node *n)
{
    uint64_t index = n->inst.index;
    struct node_membuf m = {.p = n->inst.p, .len = n->inst.len, .cap = n->inst.cap};
    struct zn_store_config sc = {.data_size_max = (uint32_t)n->cfg.limits.data_bytes_max};
    struct zn_store *loaded = NULL;
    int rc = zn_snapshot_load(&sc, node_membuf_get, &m, &loaded);
    if (rc) {
        ZN_ERROR("node", "received snapshot %llu does not load: %s", (unsigned long long)index,
                 zn_strerror(rc));
        return;
    }
    n->snapio.index = index;
    n->snapio.term = n->inst.term;
    n->snapio.loaded = loaded;
    node_snapio_start(n, NODE_SNAPIO_WRITE);
    node_snapio_poll(n); /* done already when it ran inline */
}

/* Follower, once the received snapshot is durable: restart the log after it, swap the tree. */
static void node_install_complete(struct zn_node *n)
{
    uint64_t index = n->snapio.index, term = n->snapio.term;
    struct zn_store *loaded = n->snapio.loaded;
    n->snapio.loaded = NULL;
    int rc;
    /* Decide like the core will (consensus/raft.c snapshot_installed; it ignores appends while
     * installing, so its log cannot change before it sees ZN_REL_INSTALLED): when our log holds
     * the snapshot's last entry with its term and continues past it, the core keeps that suffix
     * as durable (it may have acknowledged it), so the WAL must keep it too. Only a log that does
     * not continue the snapshot restarts after it. */
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    bool keep_suffix = zn_raft_term_at(n->raft, index) == term && index < st.last_index;
    zn_wal_flush(n->wal);
    node_wal_wait_idle(n);
    if (!keep_suffix && zn_wal_last_index(n->wal) > index &&
        zn_wal_first_index(n->wal) <= index + 1)
        zn_wal_truncate_suffix(n->wal, index + 1);
    zn_wal_close(n->wal);
    n->wal = NULL;
    struct zn_wal_config wc = {
        .disk = &n->disk,
        .alloc = {node_alloc, node_release_mem, NULL},
        .cluster_id = n->cfg.node.cluster_id,
        .node_id = n->self,
        .segment_bytes = n->cfg.wal.segment_bytes,
        .snapshot_index = index,
        .snapshot_term = term,
        .commit_hint = 0, /* the snapshot itself vouches for everything up to index */
        .allow_repair = false,
        .hardstate = &n->hsf,
    };
    struct zn_wal_recovery rec;
    memset(&rec, 0, sizeof(rec));
    rc = zn_wal_open(&n->wal, &wc, node_wal_reopen_cb, NULL, &rec);
    if (rc)
        zn_panic("WAL reopen after snapshot %llu failed: %s (%s)", (unsigned long long)index,
                 zn_strerror(rc), rec.report.message);
    if (n->snap) {
        pthread_join(n->snap_thread, NULL);
        zn_snapshot_end(n->store, n->snap);
        n->snap = NULL;
    }
    zn_store_destroy(n->store);
    n->store = loaded;
    /* Sessions: the snapshot's set replaces the tracked set. */
    for (uint32_t i = 0; i < n->sess.capacity; i++)
        if (n->sess.rows[i].id)
            n->sess.rows[i].flags &= (uint8_t)~ZN_SESSIONS_F_TRACKED;
    node_track_snapshot_sessions(n, n->inst.p, n->inst.len);
    uint64_t gone[64];
    uint32_t n_gone = 0;
    for (uint32_t i = 0; i < n->sess.capacity && n_gone < 64; i++)
        if (n->sess.rows[i].id && !(n->sess.rows[i].flags & ZN_SESSIONS_F_TRACKED))
            gone[n_gone++] = n->sess.rows[i].id;
    for (uint32_t i = 0; i < n_gone; i++)
        node_session_forget(n, gone[i], ZN_SESSIONS_F_OWNED);
    n->applied_index = index;
    if (n->apply_to < index)
        n->apply_to = index;
    n->last_snap_index = index;
    n->ms.mc.snapshots_installed++;
    ZN_INFO("node",
            "installed snapshot %llu (term %llu, %llu bytes) from the leader; log "
            "restarts at %llu",
            (unsigned long long)index, (unsigned long long)term, (unsigned long long)n->inst.len,
            (unsigned long long)index + 1);
    free(n->inst.p);
    memset(&n->inst, 0, sizeof(n->inst));
    struct zn_release *r = calloc(1, sizeof(*r));
    ZN_ASSERT(r != NULL);
    r->kind = ZN_REL_INSTALLED;
    r->snap_index = index;
    r->snap_term = term;
    node_relq_push(n, r);
}

void node_install_chunk(struct zn_node *n, const struct zn_raft_install *in)
{
    if (n->snapio.running)
        return; /* the previous snapshot is being written (n->inst in use): the core resends */
    if (in->offset == 0) {
        n->inst.len = 0;
        n->inst.index = in->index;
        n->inst.term = in->term;
        ZN_INFO("node", "receiving snapshot %llu from node %u", (unsigned long long)in->index,
                in->from);
    }
    if (in->index != n->inst.index || in->offset != n->inst.len)
        return; /* out of order: the core asks again */
    if (n->inst.len + in->len > n->inst.cap) {
        uint64_t cap = n->inst.cap ? n->inst.cap : 1u << 20;
        while (cap < n->inst.len + in->len)
            cap *= 2;
        uint8_t *p = realloc(n->inst.p, cap);
        if (!p)
            return;
        n->inst.p = p;
        n->inst.cap = cap;
    }
    memcpy(n->inst.p + n->inst.len, in->data, in->len);
    n->inst.len += in->len;
    if (in->last)
        node_install_finish(n);
}
