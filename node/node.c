/*
 * node.c - the running zincd: recovery, the data-plane stages and their glue (see node.h).
 *
 * The pipeline, all on the lcore that owns struct zn_node:
 *   rx    zn_dp_msgr_poll -> on_message: PEER -> node message (RAFT -> zn_raft_step, FORWARD ->
 *         propose on the leader, TOUCH -> session deadlines); CLIENT -> the session layer.
 *   raft  every zn_raft_step goes through node_step(), whose update is handled at once:
 *         messages sent, entries and hard state appended to the open WAL batch, the messages
 *         that must wait for durability (append acks, vote grants) packed into a release item
 *         deferred on that batch (STYLE.md 3), the committed range recorded for apply.
 *   wal   flush (group commit: one fdatasync per batch, the next batch gathers meanwhile), poll,
 *         and release: send the waiting messages, then ZN_RAFT_EV_PERSISTED(id).
 *   apply committed entries into the store in index order (zxid = Raft index); the node that
 *         owns the client's session answers from the apply result.
 *   tx    watch events resent until acked, TOUCH batches to the leader.
 * The client session layer is in node_session.c, snapshots and InstallSnapshot in
 * node_snapshot.c; what the three files share is node/internal.h.
 *
 * Ordering rules that carry correctness:
 *  1. An acknowledgement never leaves before the entries it acknowledges are durable: it is in
 *     a release item deferred on the WAL batch holding them (or a later one). In
 *     wal.sync = memory the items are released at once (replicated-memory mode; see
 *     docs/operations.md for the risk).
 *  2. Per-session FIFO with one write (or parked read) in flight per session: a session's next
 *     request is taken only after the previous one completed (node/sessions.h next_seq,
 *     write_inflight); requests that arrive early wait in the hold window (node_session.c).
 *     The leader stamps cxid = low 32 bits of seq; a retry is answered from the node's reply
 *     cache or the store's cached reply (exactly-once).
 *  3. A read is served only when this node applied at least the session's last seen zxid.
 *  4. zxid = Raft index: the leader stamps entry zxid = last_index + 1 and proposes it in the
 *     same step, so the index it gets is exactly that (asserted).
 */
#include "node/internal.h"

static void node_send_peer_bytes(struct zn_node *n, uint8_t to, const uint8_t *buf, size_t len);
static long node_encode_raft(struct zn_node *n, const struct zn_raft_msg *msg, uint8_t *buf,
                             size_t cap);
static struct zn_release *node_release_build(struct zn_node *n, uint64_t persist_id,
                                             const struct zn_raft_msg *msgs, uint32_t count);
static void node_send_raft(struct zn_node *n, const struct zn_raft_msg *msg);
static void node_wal_harvest(struct zn_node *n, const struct zn_wal_persisted *p);
static void node_persist(struct zn_node *n, const struct zn_raft_persist *p);
static void node_log_role(struct zn_node *n, const struct zn_raft_update *up);
static void node_handle_update(struct zn_node *n, const struct zn_raft_update *up);
static uint64_t node_next_index(struct zn_node *n);
static int node_propose_client(struct zn_node *n, uint64_t session, uint64_t seq,
                               struct zn_bytes request, const struct zn_nodemsg *fwd);
static struct zn_cached_reply *node_rcache_slot(struct zn_node *n, uint64_t session, uint64_t seq);
static void node_rcache_put(struct zn_node *n, uint64_t session, uint64_t seq, size_t len,
                            uint64_t msg_id);
static uint64_t node_seq_of(const struct zn_session_row *row, int32_t cxid);
static void node_on_session_created(struct zn_node *n, const struct zn_apply_result *res);
static void node_reply_client(struct zn_node *n, struct zn_session_row *row,
                              const struct zn_apply_result *res);
static void node_apply_one(struct zn_node *n, uint64_t index, bool live);
static void node_on_forward(struct zn_node *n, const struct zn_nodemsg *m);
static void node_on_peer(struct zn_node *n, uint8_t sender, const uint8_t *data, uint32_t len);
static void node_on_message(void *ctx, const struct zn_dp_addr *from,
                            const struct zn_reasm_msg *msg);
static unsigned node_stage_rx(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
static void node_stage_rx_housekeeping(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
static unsigned node_stage_raft(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
static void node_release(struct zn_node *n, struct zn_release *r);
static unsigned node_stage_wal(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
static unsigned node_serve_parked(struct zn_node *n);
static unsigned node_stage_apply(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
static unsigned node_stage_tx(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
static void node_ctrl_report_fn(void *arg, struct zn_dp_lcore *lc);
static void node_ctrl_drain_fn(void *arg, struct zn_dp_lcore *lc);
static void node_ctrl_transfer_fn(void *arg, struct zn_dp_lcore *lc);
static void node_ctrl_expire_fn(void *arg, struct zn_dp_lcore *lc);
static int node_ctrl_run(struct zn_node *n, struct zn_dp_lcore *lc,
                         void (*fn)(void *, struct zn_dp_lcore *), uint64_t timeout_ns);
static int node_recover_entry(void *ctx, const struct zn_wal_entry *we);
static int node_conf_from_config(const struct zn_config *cfg, struct zn_raft_conf *conf);
static int node_open_raft(struct zn_node *n, char *err, size_t err_len);
static int node_recover(struct zn_node *n, char *err, size_t err_len);
static int node_eal_cfg(struct zn_node *n, struct zn_dp_eal_cfg *eal, char *args, char *err,
                        size_t err_len);
static int node_open_dpdk(struct zn_node *n, const struct zn_dp_addr *local, char *err,
                          size_t err_len);
static int node_open_net(struct zn_node *n, char *err, size_t err_len);

uint64_t node_now(const struct zn_node *n)
{
    return n->clock->monotonic_ns(n->clock->ctx);
}

int64_t node_realtime_ms(const struct zn_node *n)
{
    return n->clock->realtime_ns(n->clock->ctx) / (int64_t)ZN_NS_PER_MS;
}

void node_errf(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

void *node_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

void node_release_mem(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    free(p);
}

uint64_t node_random_u64(void)
{
    uint64_t v = 0;
    while (v == 0) {
        ssize_t got = getrandom(&v, sizeof(v), 0);
        ZN_ASSERT(got == (ssize_t)sizeof(v));
    }
    return v;
}

/* ---- sending -------------------------------------------------------------------------------- */

static void node_send_peer_bytes(struct zn_node *n, uint8_t to, const uint8_t *buf, size_t len)
{
    if (!n->peer_known[to])
        return;
    zn_dp_msgr_send(n->msgr, &n->peer[to], ZN_FRAME_PEER, to, buf, (uint32_t)len, node_now(n));
}

/* Encode a node message into n->tx and send it to `to`. */
void node_send_nodemsg(struct zn_node *n, uint8_t to, const struct zn_nodemsg *m)
{
    long len = zn_nodemsg_encode(m, n->tx, ZN_MSG_SIZE_MAX_BYTES);
    if (len < 0) {
        ZN_WARN("node", "cannot encode %s for node %u: %s", zn_nodemsg_kind_name(m->kind), to,
                zn_strerror((int)len));
        return;
    }
    node_send_peer_bytes(n, to, n->tx, (size_t)len);
}

/* Raft message -> node message bytes at buf; returns the length or a negative code. */
static long node_encode_raft(struct zn_node *n, const struct zn_raft_msg *msg, uint8_t *buf,
                             size_t cap)
{
    size_t rlen = 0;
    int rc = zn_raft_msg_encode(msg, n->enc, ZN_MSG_SIZE_MAX_BYTES, &rlen);
    if (rc)
        return rc;
    n->ms.mc.raft_sent[msg->type <= ZN_RAFT_MSG_TYPE_MAX ? msg->type : 0]++;
    struct zn_nodemsg m = {.kind = ZN_NODEMSG_RAFT, .origin = n->self};
    m.u.raft.bytes = n->enc;
    m.u.raft.len = rlen;
    return zn_nodemsg_encode(&m, buf, cap);
}

void node_relq_push(struct zn_node *n, struct zn_release *r)
{
    ZN_ASSERT(n->relq_count < ZN_NODE_RELEASE_QUEUE_MAX);
    n->relq[(n->relq_head + n->relq_count) % ZN_NODE_RELEASE_QUEUE_MAX] = r;
    n->relq_count++;
}

/* Pack messages into a release item (NULL on allocation failure: the messages are lost, which
 * Raft tolerates; the persisted report is never lost because its id travels in a fresh item). */
static struct zn_release *node_release_build(struct zn_node *n, uint64_t persist_id,
                                             const struct zn_raft_msg *msgs, uint32_t count)
{
    size_t cap = sizeof(struct zn_release);
    for (uint32_t i = 0; i < count; i++)
        cap += 5 + ZN_NODEMSG_HDR_BYTES + zn_raft_msg_encoded_size(&msgs[i]);
    struct zn_release *r = malloc(cap);
    ZN_ASSERT(r != NULL);
    memset(r, 0, sizeof(*r));
    r->persist_id = persist_id;
    r->n = 0;
    r->len = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *p = r->data + r->len;
        long len = node_encode_raft(n, &msgs[i], p + 5, cap - sizeof(*r) - r->len - 5);
        if (len < 0)
            continue;
        p[0] = msgs[i].to;
        uint32_t l32 = (uint32_t)len;
        memcpy(p + 1, &l32, 4);
        r->len += 5 + (uint32_t)len;
        r->n++;
    }
    return r;
}

static void node_send_raft(struct zn_node *n, const struct zn_raft_msg *msg)
{
    if (msg->to == n->self) {
        /* Delivered through the release queue: never step inside a step. */
        node_relq_push(n, node_release_build(n, 0, msg, 1));
        return;
    }
    long len = node_encode_raft(n, msg, n->tx, ZN_MSG_SIZE_MAX_BYTES);
    if (len < 0) {
        ZN_WARN("node", "cannot encode raft %s: %s", zn_raft_msg_type_name(msg->type),
                zn_strerror((int)len));
        return;
    }
    node_send_peer_bytes(n, msg->to, n->tx, (size_t)len);
}

/* A session-layer message to a client: header + body. Returns its frame msg_id (0: not sent). */
uint64_t node_send_client(struct zn_node *n, uint32_t ip, uint16_t port,
                          const struct zn_sess_hdr *h, const uint8_t *body, size_t body_len)
{
    if (ZN_SESS_HDR_BYTES + body_len > ZN_MSG_SIZE_MAX_BYTES)
        return 0;
    uint8_t *buf = n->tx;
    if (zn_sess_hdr_encode(h, buf) < 0)
        return 0;
    if (body_len)
        memmove(buf + ZN_SESS_HDR_BYTES, body, body_len);
    struct zn_dp_addr dst = {.ip = ip, .port = port};
    return node_send_client_msg(n, &dst, buf, (uint32_t)(ZN_SESS_HDR_BYTES + body_len), 0);
}

void node_send_refused(struct zn_node *n, uint32_t ip, uint16_t port, uint64_t session,
                       int32_t zk_err)
{
    ZN_DEBUG("node", "refusing session %016llx: ZooKeeper error %d", (unsigned long long)session,
             zk_err);
    struct zn_sess_hdr h = {.kind = ZN_SESS_REFUSED,
                            .leader = n->leader,
                            .session_id = session,
                            .zxid = zn_store_applied_zxid(n->store)};
    uint8_t body[4] = {(uint8_t)((uint32_t)zk_err >> 24), (uint8_t)((uint32_t)zk_err >> 16),
                       (uint8_t)((uint32_t)zk_err >> 8), (uint8_t)zk_err};
    node_send_client(n, ip, port, &h, body, sizeof(body));
}

/* ---- WAL ------------------------------------------------------------------------------------ */

static void node_wal_harvest(struct zn_node *n, const struct zn_wal_persisted *p)
{
    for (uint32_t i = 0; i < p->nitems; i++)
        node_relq_push(n, p->items[i]);
}

/* Wait until nothing is open or in flight (truncation, full batches, shutdown). Bounded. */
void node_wal_wait_idle(struct zn_node *n)
{
    uint64_t start = node_now(n);
    while (!zn_wal_idle(n->wal)) {
        zn_wal_flush(n->wal);
        struct zn_wal_persisted p;
        int rc = zn_wal_poll(n->wal, &p);
        if (rc == 1) {
            node_wal_harvest(n, &p);
            continue;
        }
        if (node_now(n) - start > ZN_WAL_WAIT_NS)
            zn_panic("WAL batch not durable after 10 s (disk stalled)");
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

static void node_persist(struct zn_node *n, const struct zn_raft_persist *p)
{
    if (p->n_entries > 0) {
        if (p->first_index <= zn_wal_last_index(n->wal)) {
            node_wal_wait_idle(n);
            int rc = zn_wal_truncate_suffix(n->wal, p->first_index);
            if (rc)
                zn_panic("WAL truncation at %llu failed: %s", (unsigned long long)p->first_index,
                         zn_strerror(rc));
            ZN_INFO("node", "log truncated from index %llu (conflict with the leader's log)",
                    (unsigned long long)p->first_index);
        }
        for (uint32_t i = 0; i < p->n_entries; i++) {
            const struct zn_raft_entry *e = &p->entries[i];
            uint64_t index = p->first_index + i;
            int rc =
                zn_wal_append(n->wal, (uint16_t)(e->type + 1), e->term, index, e->data, e->len);
            if (rc == ZN_EFULL) {
                zn_wal_flush(n->wal);
                node_wal_wait_idle(n);
                rc =
                    zn_wal_append(n->wal, (uint16_t)(e->type + 1), e->term, index, e->data, e->len);
            }
            if (rc)
                zn_panic("WAL append of index %llu failed: %s", (unsigned long long)index,
                         zn_strerror(rc));
        }
    }
    if (p->hard_state) {
        uint64_t last = zn_wal_last_index(n->wal);
        struct zn_hardstate hs = {.term = p->term,
                                  .vote = p->vote,
                                  .commit = n->commit < last ? n->commit : last,
                                  .repair_until = 0};
        zn_wal_set_hardstate(n->wal, &hs);
    }
}

/* ---- raft ----------------------------------------------------------------------------------- */

int node_step(struct zn_node *n, const struct zn_raft_event *ev)
{
    struct zn_raft_update up;
    int rc = zn_raft_step(n->raft, ev, &up);
    node_handle_update(n, &up);
    return rc;
}

static void node_log_role(struct zn_node *n, const struct zn_raft_update *up)
{
    uint8_t old_role = n->role, old_leader = n->leader;
    uint64_t old_term = n->term;
    zn_node_mc_on_role(&n->ms.mc, old_role, up->role, old_leader, up->leader, node_now(n));
    n->role = up->role;
    n->leader = up->leader;
    n->term = up->term;
    if (up->role != old_role) {
        ZN_INFO("node", "role %s -> %s in term %llu", zn_raft_role_name(old_role),
                zn_raft_role_name(up->role), (unsigned long long)up->term);
        if (up->role == ZN_RAFT_PRECANDIDATE || up->role == ZN_RAFT_CANDIDATE) {
            n->last_election_ms = node_realtime_ms(n);
            if (old_leader)
                snprintf(n->last_election_reason, sizeof(n->last_election_reason),
                         "leader %u lost or handed over", old_leader);
            else
                snprintf(n->last_election_reason, sizeof(n->last_election_reason),
                         "no leader heard within the election timeout");
            ZN_INFO("node", "election started: %s (term %llu)", n->last_election_reason,
                    (unsigned long long)up->term);
        }
        if (up->role == ZN_RAFT_LEADER) {
            /* Raft dissertation 6.3 / ZooKeeper: a new leader gives every session a full
             * timeout, so that no client is expired for the silence of the election. */
            zn_sessions_track_reset(&n->sess, node_now(n));
            ZN_INFO("node", "elected leader of term %llu; %u sessions get a fresh timeout",
                    (unsigned long long)up->term, n->sess.count);
        }
    }
    if (up->leader != old_leader && up->leader != 0)
        ZN_INFO("node", "leader is now node %u (term %llu)", up->leader,
                (unsigned long long)up->term);
    else if (up->term != old_term && up->leader == 0 && old_leader != 0)
        ZN_INFO("node", "term %llu: leader unknown", (unsigned long long)up->term);
}

static void node_handle_update(struct zn_node *n, const struct zn_raft_update *up)
{
    if (up->role_changed || up->leader != n->leader || up->term != n->term)
        node_log_role(n, up);
    n->commit = up->commit;
    for (uint32_t i = 0; i < up->n_msgs; i++)
        node_send_raft(n, &up->msgs[i]);
    if (up->persist.id)
        node_persist(n, &up->persist);
    if (up->n_msgs_after > 0 || up->persist.id) {
        struct zn_release *r =
            node_release_build(n, up->persist_id, up->msgs_after, up->n_msgs_after);
        if (n->memory_mode) {
            node_relq_push(n, r); /* replicated-memory mode: acknowledge before the fsync */
        } else if (zn_wal_defer(n->wal, r) == ZN_EFULL) {
            zn_wal_flush(n->wal);
            node_wal_wait_idle(n);
            ZN_ASSERT(zn_wal_defer(n->wal, r) == 0);
        }
    }
    if (up->apply_from <= up->apply_to && up->apply_to > n->apply_to)
        n->apply_to = up->apply_to;
    for (uint32_t i = 0; i < up->n_reads; i++)
        node_read_index_done(n, up->reads[i].ctx, up->reads[i].index, true);
    for (uint32_t i = 0; i < up->n_reads_failed; i++)
        node_read_index_done(n, up->reads_failed[i].ctx, 0, false);
    for (uint32_t i = 0; i < up->n_chunk_reqs; i++)
        node_snapshot_chunk_request(n, &up->chunk_reqs[i]);
    if (up->install.valid)
        node_install_chunk(n, &up->install);
    n->deadline_ns = up->deadline_ns;
}

/* The next index the leader's log will give (the zxid to stamp). */
static uint64_t node_next_index(struct zn_node *n)
{
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    return st.last_index + 1;
}

int node_propose_entry(struct zn_node *n, struct zn_entry *e)
{
    if (n->role != ZN_RAFT_LEADER)
        return ZN_ENOTLEADER;
    e->zxid = node_next_index(n);
    e->time_ms = node_realtime_ms(n);
    size_t len = 0;
    int rc = zn_entry_encode(e, n->enc, ZN_STORE_ENTRY_SIZE_MAX, &len);
    if (rc)
        return rc;
    uint64_t expect = e->zxid;
    struct zn_raft_entry re = {.type = ZN_RAFT_ENTRY_NORMAL, .len = (uint32_t)len, .data = n->enc};
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_PROPOSE, .now_ns = node_now(n)};
    ev.propose.entries = &re;
    ev.propose.n = 1;
    struct zn_raft_update up;
    rc = zn_raft_step(n->raft, &ev, &up);
    if (rc == 0)
        ZN_ASSERT(up.propose_index == expect); /* rule 4: zxid == index */
    node_handle_update(n, &up);
    if (rc == 0)
        n->n_proposals++;
    node_window_full_note(n, rc); /* node_snapshot.c: the client's retransmission retries */
    return rc;
}

static int node_propose_client(struct zn_node *n, uint64_t session, uint64_t seq,
                               struct zn_bytes request, const struct zn_nodemsg *fwd)
{
    /* The identities the origin node holds for the session, stamped into the entry. */
    struct zn_identity ids[ZN_NODE_FWD_IDS_MAX];
    uint32_t n_ids = 0;
    for (uint32_t i = 0; fwd && i < fwd->u.fwd.n_ids && i < ZN_STORE_IDENTITIES_MAX; i++, n_ids++) {
        ids[i].scheme = (struct zn_str){(const char *)fwd->u.fwd.ids[i].scheme.ptr,
                                        (uint32_t)fwd->u.fwd.ids[i].scheme.len};
        ids[i].id = (struct zn_str){(const char *)fwd->u.fwd.ids[i].id.ptr,
                                    (uint32_t)fwd->u.fwd.ids[i].id.len};
    }
    struct zn_zk_request req;
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    lim.data_bytes_max = (int32_t)n->cfg.limits.data_bytes_max;
    int rc = zn_zk_request_decode(request.ptr, (size_t)request.len, &lim, &req);
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                         .session = session,
                         .cxid = (int32_t)(uint32_t)seq,
                         .ids = ids,
                         .id_count = n_ids};
    e.err = zn_zkconv_error_txn(&req, rc); /* ZooKeeper's error txn (node/zkconv.h) */
    if (e.err) {
        e.type = ZN_ENTRY_ERROR;
        e.op.type = req.type;
        return node_propose_entry(n, &e);
    }
    if (rc)
        return rc;
    rc = zn_zkconv_op(&req, n->conv, &e.op);
    if (rc)
        return rc;
    return node_propose_entry(n, &e);
}

int node_propose_session_create(struct zn_node *n, uint64_t id, uint32_t timeout_ms,
                                const uint8_t *passwd)
{
    struct zn_entry e = {.type = ZN_ENTRY_SESSION_CREATE, .session = id, .timeout_ms = timeout_ms};
    memcpy(e.passwd, passwd, ZN_NODEMSG_PASSWD_BYTES);
    return node_propose_entry(n, &e);
}

/* ---- apply ---------------------------------------------------------------------------------- */

/* A session's consecutive seqs take consecutive slots from a per-session start, so the replies
 * of one session's pipeline (at most ZN_NODE_HOLD_WINDOW in flight) never evict each other; only
 * another session's can. With a hash of (session, seq), two of 32 pipelined writes shared a
 * slot in ~1.5% of sessions: a lost reply whose slot was taken by a later one was never sent
 * again (the store keeps only a session's last reply), and the client retransmitted in vain. */
static uint32_t node_rcache_index(uint64_t session, uint64_t seq)
{
    uint64_t start = (session * 0x9E3779B97F4A7C15ull) >> 32;
    return (uint32_t)((start + seq) & (ZN_NODE_REPLY_CACHE_SLOTS - 1));
}

static struct zn_cached_reply *node_rcache_slot(struct zn_node *n, uint64_t session, uint64_t seq)
{
    return &n->rcache[node_rcache_index(session, seq)];
}

/* Remember the client message just built in n->tx (header + body of len bytes). */
static void node_rcache_put(struct zn_node *n, uint64_t session, uint64_t seq, size_t len,
                            uint64_t msg_id)
{
    if (len > ZN_NODE_REPLY_CACHE_BYTES_MAX)
        return;
    struct zn_cached_reply *c = node_rcache_slot(n, session, seq);
    uint8_t *p = c->msg && c->len >= len ? c->msg : realloc(c->msg, len);
    if (!p)
        return;
    memcpy(p, n->tx, len);
    c->msg = p;
    c->len = (uint32_t)len;
    c->session = session;
    c->seq = seq;
    c->msg_id = msg_id;
}

/* Resend a cached reply; false when (session, seq) is not cached. */
bool node_rcache_resend(struct zn_node *n, struct zn_session_row *row, uint64_t seq)
{
    struct zn_cached_reply *c = node_rcache_slot(n, row->id, seq);
    if (!c->msg || c->session != row->id || c->seq != seq)
        return false;
    struct zn_dp_addr dst = {.ip = row->client_ip, .port = row->client_port};
    node_send_client_msg(n, &dst, c->msg, c->len, c->msg_id); /* the same message again */
    return true;
}

/*
 * Every REPLY to a session goes through here. [R7]: a reply whose zxid is at or above the zxid
 * of an event of the connection that the client has not acked yet is held (in order) and sent
 * when the acks arrive, so that no completion reflects a change before its event. The message
 * is built in n->tx (header + body at ZN_SESS_HDR_BYTES).
 */
void node_send_reply(struct zn_node *n, struct zn_session_row *row, const struct zn_sess_hdr *h,
                     const uint8_t *body, size_t body_len, bool cache)
{
    uint64_t oldest = zn_sessions_event_oldest_zxid(&n->sess, row);
    bool earlier_held = false;
    for (uint32_t i = 0; i < ZN_NODE_DELAYED_REPLIES_MAX && n->n_delayed && !earlier_held; i++)
        earlier_held = n->delayed[i].msg && n->delayed[i].session == row->id;
    zn_opstats_end(n->opstats, row->id, h->seq, node_now(n));
    /* A retransmission of a write still in flight proposes it again; the store answers that
     * second copy as a duplicate. When the first reply is cached, that is the reply: the same
     * message again, with its first msg_id, not a second message with a new one. */
    if (cache && node_rcache_resend(n, row, h->seq))
        return;
    if ((oldest == 0 || h->zxid < oldest) && !earlier_held) {
        uint64_t id = node_send_client(n, row->client_ip, row->client_port, h, body, body_len);
        if (cache)
            node_rcache_put(n, row->id, h->seq, ZN_SESS_HDR_BYTES + body_len, id);
        return;
    }
    for (uint32_t i = 0; i < ZN_NODE_DELAYED_REPLIES_MAX; i++) {
        struct zn_delayed *d = &n->delayed[i];
        if (d->msg)
            continue;
        d->msg = malloc(ZN_SESS_HDR_BYTES + body_len);
        if (!d->msg)
            return; /* lost like a datagram: the client retransmits */
        zn_sess_hdr_encode(h, d->msg);
        memcpy(d->msg + ZN_SESS_HDR_BYTES, body, body_len);
        d->len = (uint32_t)(ZN_SESS_HDR_BYTES + body_len);
        d->session = row->id;
        d->zxid = h->zxid;
        d->seq = h->seq;
        d->cache = cache;
        d->order = ++n->delayed_order;
        n->n_delayed++;
        return;
    }
}

/* After an ACK: send the session's held replies, oldest first, while none is blocked. */
void node_flush_delayed(struct zn_node *n, struct zn_session_row *row)
{
    while (n->n_delayed) {
        struct zn_delayed *first = NULL;
        for (uint32_t i = 0; i < ZN_NODE_DELAYED_REPLIES_MAX; i++) {
            struct zn_delayed *d = &n->delayed[i];
            if (d->msg && d->session == row->id && (!first || d->order < first->order))
                first = d;
        }
        if (!first)
            return;
        uint64_t oldest = zn_sessions_event_oldest_zxid(&n->sess, row);
        if (oldest != 0 && first->zxid >= oldest)
            return;
        struct zn_dp_addr dst = {.ip = row->client_ip, .port = row->client_port};
        uint64_t id = node_send_client_msg(n, &dst, first->msg, first->len, 0);
        if (first->cache && first->len <= ZN_NODE_REPLY_CACHE_BYTES_MAX) {
            memcpy(n->tx, first->msg, first->len);
            node_rcache_put(n, row->id, first->seq, first->len, id);
        }
        free(first->msg);
        memset(first, 0, sizeof(*first));
        n->n_delayed--;
    }
}

/* Drop a session's held replies (its connection ended). */
void node_drop_delayed(struct zn_node *n, uint64_t session)
{
    for (uint32_t i = 0; i < ZN_NODE_DELAYED_REPLIES_MAX && n->n_delayed; i++)
        if (n->delayed[i].msg && n->delayed[i].session == session) {
            free(n->delayed[i].msg);
            memset(&n->delayed[i], 0, sizeof(n->delayed[i]));
            n->n_delayed--;
        }
}

/* The request sequence whose low 32 bits are cxid, nearest below the session's next_seq. */
static uint64_t node_seq_of(const struct zn_session_row *row, int32_t cxid)
{
    uint64_t top = row->next_seq > 0 ? row->next_seq : 1;
    uint64_t seq = (top & ~0xffffffffull) | (uint32_t)cxid;
    if (seq > top && seq >= (1ull << 32))
        seq -= 1ull << 32;
    return seq;
}

static void node_on_session_created(struct zn_node *n, const struct zn_apply_result *res)
{
    struct zn_reply rep;
    if (!res->has_reply || zn_reply_decode(res->reply, res->reply_len, &rep) != 0)
        return;
    struct zn_pending_connect *pc = NULL;
    for (uint32_t i = 0; i < ZN_NODE_PENDING_CONNECTS_MAX; i++)
        if (n->pend[i].id == res->session)
            pc = &n->pend[i];
    if (rep.err != 0) {
        if (pc)
            memset(pc, 0, sizeof(*pc)); /* duplicate id: the client's retry draws a new one */
        return;
    }
    struct zn_session_row *row;
    uint64_t now = node_now(n);
    if (zn_sessions_add(&n->sess, res->session, ZN_SESSIONS_F_TRACKED, rep.timeout_ms, now, &row) !=
        0) {
        ZN_WARN("node", "session table full: session %016llx not tracked",
                (unsigned long long)res->session);
        return;
    }
    memcpy(row->passwd, rep.passwd, sizeof(row->passwd));
    if (!pc)
        return;
    zn_sessions_add(&n->sess, res->session, ZN_SESSIONS_F_OWNED, rep.timeout_ms, now, &row);
    row->client_ip = pc->ip;
    row->client_port = pc->port;
    row->next_seq = pc->next_seq;
    row->last_zxid = res->zxid;
    row->epoch = pc->epoch;
    memcpy(row->nonce, pc->nonce, 16);
    zn_sessions_heard(&n->sess, row, now);
    memset(pc, 0, sizeof(*pc));
    node_send_connected(n, row, res->zxid);
    ZN_INFO("node", "session %016llx created (timeout %u ms) for a client of this node",
            (unsigned long long)res->session, rep.timeout_ms);
}

static void node_reply_client(struct zn_node *n, struct zn_session_row *row,
                              const struct zn_apply_result *res)
{
    uint64_t seq = node_seq_of(row, res->cxid);
    bool completed = row->write_inflight == seq;
    if (completed) {
        row->write_inflight = 0;
        if (row->next_seq == seq)
            row->next_seq = seq + 1;
    }
    if (res->zxid > row->last_zxid)
        row->last_zxid = res->zxid;
    uint8_t *body = n->tx + ZN_SESS_HDR_BYTES; /* built in place after the header room */
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, body, ZN_MSG_SIZE_MAX_BYTES - ZN_SESS_HDR_BYTES);
    if (zn_zkconv_reply(res->cxid, res->reply, res->reply_len, &w) != 0)
        return;
    struct zn_sess_hdr h = {.kind = ZN_SESS_REPLY,
                            .leader = n->leader,
                            .session_id = row->id,
                            .seq = seq,
                            .ack = row->next_seq - 1,
                            .zxid = res->zxid};
    node_send_reply(n, row, &h, body, w.len, true);
    if (completed)
        node_drain_held(n, row); /* the session's next requests, in order */
}

static void node_apply_entry(struct zn_node *n, uint64_t index, bool live);

static void node_apply_one(struct zn_node *n, uint64_t index, bool live)
{
    node_apply_entry(n, index, live);
    /* The ZooKeeper port answers pings with the last applied zxid (ZooKeeper's last processed
     * zxid), published once this entry's replies and watch events were queued: a client that
     * saw the reply of a write (on this node) and then pings sees at least its zxid. */
    if (n->zk)
        zn_zkport_link_set_applied(n->zk, zn_store_applied_zxid(n->store));
}

static void node_apply_entry(struct zn_node *n, uint64_t index, bool live)
{
    struct zn_raft_entry e;
    int rc = zn_raft_entry_get(n->raft, index, &e);
    ZN_ASSERT(rc == 0);
    if (e.type != ZN_RAFT_ENTRY_NORMAL || index <= zn_store_applied_zxid(n->store))
        return;
    struct zn_apply_result res;
    rc = zn_store_apply(n->store, e.data, e.len, &res);
    if (rc == ZN_ESTALE)
        return;
    if (rc) {
        /* A committed entry every other replica applies: skipping it would make this replica
         * diverge silently (different tree, digest and replies from then on). It can only be
         * an entry format this build does not know (a newer release's leader: see
         * docs/disk-format.md on mixed versions) or a bug; stop loudly instead. */
        zn_panic("committed entry %llu (term %llu, %u bytes) cannot be applied: %s - stopping "
                 "rather than diverging from the cluster (a newer release's entry format? "
                 "upgrade this node)",
                 (unsigned long long)index, (unsigned long long)e.term, (unsigned)e.len,
                 zn_strerror(rc));
    }
    if (res.entry_type == ZN_ENTRY_SESSION_CREATE) {
        node_on_session_created(n, &res);
        return;
    }
    if (res.trigger_count) {
        zn_watch_fire(n->watches, &res, node_emit, n); /* events before the reply (rule 5) */
        node_after_fire(n);
    }
    struct zn_session_row *row = zn_sessions_find(&n->sess, res.session);
    bool owned = live && row && (row->flags & ZN_SESSIONS_F_OWNED);
    if (owned && res.has_reply && !res.stale)
        node_reply_client(n, row, &res);
    if (res.closed_session) {
        struct zn_session_row *c = zn_sessions_find(&n->sess, res.closed_session);
        if (c && (c->flags & ZN_SESSIONS_F_OWNED) && live &&
            res.entry_type == ZN_ENTRY_SESSION_CLOSE)
            node_send_refused(n, c->client_ip, c->client_port, c->id, ZK_SESSIONEXPIRED);
        node_session_forget(n, res.closed_session, ZN_SESSIONS_F_OWNED | ZN_SESSIONS_F_TRACKED);
        if (live)
            ZN_INFO("node", "session %016llx %s", (unsigned long long)res.closed_session,
                    res.entry_type == ZN_ENTRY_SESSION_CLOSE ? "expired" : "closed");
    }
}

/* ---- peer messages -------------------------------------------------------------------------- */

static void node_on_forward(struct zn_node *n, const struct zn_nodemsg *m)
{
    int rc;
    if (m->u.fwd.op == ZN_FWD_WRITE)
        rc = node_propose_client(n, m->u.fwd.session, m->u.fwd.seq, m->u.fwd.request, m);
    else if (m->u.fwd.op == ZN_FWD_SESSION_CREATE)
        rc = node_propose_session_create(n, m->u.fwd.session, m->u.fwd.timeout_ms, m->u.fwd.passwd);
    else if (n->role != ZN_RAFT_LEADER)
        rc = ZN_ENOTLEADER;
    else {
        uint64_t token = ++n->next_token;
        uint32_t slot = (uint32_t)(token % ZN_NODE_REMOTE_READS_MAX);
        n->remote_reads[slot].token = token; /* an older request in the slot is forgotten */
        n->remote_reads[slot].origin = m->origin;
        n->remote_reads[slot].session = m->u.fwd.session;
        n->remote_reads[slot].seq = m->u.fwd.seq;
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_READ_INDEX, .now_ns = node_now(n)};
        ev.read.ctx = token;
        rc = node_step(n, &ev);
        if (rc)
            n->remote_reads[slot].token = 0;
    }
    if (rc == ZN_ENOTLEADER || rc == ZN_EFULL) {
        struct zn_nodemsg nack = {.kind = ZN_NODEMSG_FORWARD_NACK, .origin = n->self};
        nack.u.nack.op = m->u.fwd.op;
        nack.u.nack.reason = rc == ZN_EFULL ? ZN_NACK_BUSY : ZN_NACK_NOT_LEADER;
        nack.u.nack.leader_hint = n->leader;
        nack.u.nack.session = m->u.fwd.session;
        nack.u.nack.seq = m->u.fwd.seq;
        node_send_nodemsg(n, m->origin, &nack);
    }
}

static void node_on_peer(struct zn_node *n, uint8_t sender, const uint8_t *data, uint32_t len)
{
    struct zn_nodemsg m;
    if (sender == 0 || !n->peer_known[sender] || zn_nodemsg_decode(data, len, n->nm, &m) != 0 ||
        m.origin != sender) {
        n->n_client_dropped++;
        return;
    }
    n->peer_heard_ns[sender] = node_now(n);
    switch (m.kind) {
    case ZN_NODEMSG_RAFT: {
        struct zn_raft_msg msg;
        if (zn_raft_msg_decode(&msg, n->rx_entries, ZN_NODE_RX_ENTRIES_MAX, m.u.raft.bytes,
                               m.u.raft.len) != 0 ||
            msg.from != sender) {
            n->n_client_dropped++;
            return;
        }
        zn_node_mc_on_raft_rx(&n->ms.mc, &msg);
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .now_ns = node_now(n)};
        ev.msg = &msg;
        node_step(n, &ev);
        break;
    }
    case ZN_NODEMSG_FORWARD:
        node_on_forward(n, &m);
        break;
    case ZN_NODEMSG_FORWARD_NACK:
        n->n_nacks++; /* the client's retransmission retries once a leader is known */
        break;
    case ZN_NODEMSG_READ_INDEX: {
        struct zn_parked *p = node_parked_find(n, m.u.read_index.session, m.u.read_index.seq);
        if (p && p->need_index == UINT64_MAX)
            p->need_index = m.u.read_index.index;
        break;
    }
    case ZN_NODEMSG_MOVED:
        node_on_moved(n, &m);
        break;
    case ZN_NODEMSG_TOUCH:
        if (n->role == ZN_RAFT_LEADER)
            for (uint32_t i = 0; i < m.u.touch.count; i++)
                zn_sessions_track_touch(&n->sess, m.u.touch.entries[i].session,
                                        m.u.touch.entries[i].age_ms, node_now(n));
        break;
    default:
        break;
    }
}

static void node_on_message(void *ctx, const struct zn_dp_addr *from,
                            const struct zn_reasm_msg *msg)
{
    struct zn_node *n = ctx;
    if (msg->hdr.type == ZN_FRAME_PEER)
        node_on_peer(n, msg->hdr.sender, msg->data, msg->len);
    else if (msg->hdr.type == ZN_FRAME_CLIENT)
        node_on_client(n, from, msg->data, msg->len);
    else
        n->n_client_dropped++;
}

/* A native client message from a ZooKeeper TCP connection (node/zkport.h). */
static void node_on_zkport(void *ctx, uint16_t conn, const uint8_t *msg, uint32_t len)
{
    struct zn_dp_addr from = {.ip = ZN_ZKPORT_IP, .port = conn};
    node_on_client(ctx, &from, msg, len);
}

void zn_node_set_zkport(struct zn_node *n, struct zn_zkport_link *link)
{
    n->zk = link;
}

/* ---- stages --------------------------------------------------------------------------------- */

static unsigned node_stage_rx(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    struct zn_node *n = ctx;
    node_attach_lcore(n, lc); /* helper threads wake this lcore (node_wake_lcore) */
    int got = zn_dp_msgr_poll(n->msgr, now_ns, node_on_message, n);
    unsigned work = got > 0 ? (unsigned)got : 0;
    if (n->zk) {
        zn_zkport_link_attach(n->zk, lc); /* the port thread wakes this lcore (zkwake) */
        work += zn_zkport_link_poll(n->zk, 64, node_on_zkport, n);
    }
    return work;
}

/* The rx stage's rings from other threads (zn_dp_sched_stage_pending): the ZooKeeper port. */
static bool node_stage_rx_pending(void *ctx)
{
    const struct zn_node *n = ctx;
    return n->zk && zn_zkport_link_pending(n->zk);
}

static void node_stage_rx_housekeeping(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct zn_node *n = ctx;
    zn_dp_msgr_housekeeping(n->msgr, now_ns);
}

static unsigned node_stage_raft(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct zn_node *n = ctx;
    if (now_ns < n->deadline_ns)
        return 0;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK, .now_ns = now_ns};
    node_step(n, &ev);
    return 1;
}

static void node_release(struct zn_node *n, struct zn_release *r)
{
    if (r->kind == ZN_REL_CHUNK) {
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_CHUNK, .now_ns = node_now(n)};
        ev.chunk.to = r->chunk_to;
        ev.chunk.last = r->chunk_last;
        ev.chunk.len = r->chunk_len;
        ev.chunk.index = r->snap_index;
        ev.chunk.offset = r->chunk_offset;
        ev.chunk.data = n->send_snap.p + r->chunk_offset; /* stable until the cache changes */
        if (n->send_snap.p && n->send_snap.index == r->snap_index)
            node_step(n, &ev);
        free(r);
        return;
    }
    if (r->kind == ZN_REL_INSTALLED) {
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_SNAPSHOT_INSTALLED, .now_ns = node_now(n)};
        ev.installed.index = r->snap_index;
        ev.installed.term = r->snap_term;
        node_step(n, &ev);
        free(r);
        return;
    }
    uint32_t off = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        uint8_t to = r->data[off];
        uint32_t len;
        memcpy(&len, r->data + off + 1, 4);
        const uint8_t *bytes = r->data + off + 5;
        if (to == n->self)
            node_on_peer(n, n->self, bytes, len);
        else
            node_send_peer_bytes(n, to, bytes, len);
        off += 5 + len;
    }
    if (r->persist_id) {
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_PERSISTED, .now_ns = node_now(n)};
        ev.persisted.id = r->persist_id;
        node_step(n, &ev);
    }
    free(r);
}

static unsigned node_stage_wal(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    (void)now_ns;
    struct zn_node *n = ctx;
    unsigned work = 0;
    struct zn_wal_persisted p;
    int rc = zn_wal_poll(n->wal, &p);
    if (rc == 1) {
        node_wal_harvest(n, &p);
        work++;
    } else if (rc == ZN_ENOSPC) {
        ZN_ERROR("node", "WAL: no space left; writes wait until space is freed");
    }
    zn_wal_flush(n->wal);
    node_maybe_compact(n);
    /* Bounded: what is queued now (releasing may queue more for the next iteration). */
    for (uint32_t k = n->relq_count; k > 0 && n->relq_count > 0; k--) {
        struct zn_release *r = n->relq[n->relq_head];
        n->relq_head = (n->relq_head + 1) % ZN_NODE_RELEASE_QUEUE_MAX;
        n->relq_count--;
        node_release(n, r);
        work++;
    }
    return work;
}

/* Apply stage: serve parked reads whose index was applied; drop expired ones (the client's
 * retransmission parks them again). */
static unsigned node_serve_parked(struct zn_node *n)
{
    unsigned work = 0;
    uint64_t now = node_now(n);
    for (uint32_t i = 0; i < ZN_NODE_PARKED_READS_MAX && n->n_parked; i++) {
        struct zn_parked *p = &n->parked[i];
        if (!p->req)
            continue;
        struct zn_session_row *row = zn_sessions_find(&n->sess, p->session);
        bool owned = row && (row->flags & ZN_SESSIONS_F_OWNED);
        if (!owned || now > p->deadline_ns) {
            if (owned && row->write_inflight == p->seq)
                row->write_inflight = 0;
            node_parked_drop(n, p);
            continue;
        }
        if (p->need_index == UINT64_MAX || n->applied_index < p->need_index)
            continue;
        struct zn_zk_request req;
        struct zn_zk_limits lim;
        zn_zk_limits_default(&lim);
        lim.data_bytes_max = (int32_t)n->cfg.limits.data_bytes_max;
        struct zn_op op;
        if (zn_zk_request_decode(p->req, p->len, &lim, &req) == 0 &&
            zn_zkconv_op(&req, n->conv, &op) == 0)
            node_serve_read(n, row, p->seq, &op);
        if (row->write_inflight == p->seq)
            row->write_inflight = 0;
        if (row->next_seq == p->seq)
            row->next_seq = p->seq + 1;
        node_parked_drop(n, p);
        node_drain_held(n, row);
        work++;
    }
    return work;
}

static unsigned node_stage_apply(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    (void)now_ns;
    struct zn_node *n = ctx;
    unsigned work = 0;
    /* Bounded batch per iteration so that rx and wal keep running under load. */
    while (n->applied_index < n->apply_to && work < 256) {
        node_apply_one(n, ++n->applied_index, true);
        work++;
    }
    if (n->n_parked)
        work += node_serve_parked(n);
    node_maybe_snapshot(n);
    return work;
}

static unsigned node_stage_tx(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct zn_node *n = ctx;
    /* Handlers stamp times with node_now(), later than this iteration's now_ns: compare with a
     * fresh reading so that no difference goes negative. */
    now_ns = node_now(n);
    node_retransmit_events(n, now_ns);
    if (now_ns < n->next_touch_ns)
        return 0;
    uint64_t interval = (uint64_t)n->cfg.session.timeout_min_ms * ZN_NS_PER_MS / 3;
    n->next_touch_ns = now_ns + (interval > ZN_TOUCH_MIN_NS ? interval : ZN_TOUCH_MIN_NS);
    static uint64_t ids[ZN_NODE_TOUCH_BATCH_MAX];
    static uint32_t ages[ZN_NODE_TOUCH_BATCH_MAX];
    static struct zn_nodemsg_touch entries[ZN_NODE_TOUCH_BATCH_MAX];
    unsigned work = 0;
    for (int batch = 0; batch < 16; batch++) {
        uint32_t k = zn_sessions_touch_collect(&n->sess, now_ns, ids, ages, ZN_NODE_TOUCH_BATCH_MAX,
                                               &n->touch_cursor);
        if (k == 0)
            break;
        work += k;
        if (n->role == ZN_RAFT_LEADER) {
            for (uint32_t i = 0; i < k; i++)
                zn_sessions_track_touch(&n->sess, ids[i], ages[i], now_ns);
        } else if (n->leader) {
            for (uint32_t i = 0; i < k; i++)
                entries[i] = (struct zn_nodemsg_touch){ids[i], ages[i]};
            struct zn_nodemsg m = {.kind = ZN_NODEMSG_TOUCH, .origin = n->self};
            m.u.touch.count = k;
            m.u.touch.entries = entries;
            node_send_nodemsg(n, n->leader, &m);
        }
        if (k < ZN_NODE_TOUCH_BATCH_MAX)
            break;
    }
    return work;
}

int zn_node_add_stages(struct zn_node *n, struct zn_dp_sched *sched)
{
    int rc = zn_dp_sched_add_stage(sched, "rx", node_stage_rx, node_stage_rx_housekeeping, n);
    if (!rc)
        rc = zn_dp_sched_add_stage(sched, "raft", node_stage_raft, NULL, n);
    if (!rc)
        rc = zn_dp_sched_add_stage(sched, "wal", node_stage_wal, NULL, n);
    if (!rc)
        rc = zn_dp_sched_add_stage(sched, "apply", node_stage_apply, NULL, n);
    if (!rc)
        rc = zn_dp_sched_add_stage(sched, "tx", node_stage_tx, NULL, n);
    /* Kernel sockets wake the sleeping lcore when a datagram arrives (idle = lab; dpfan). */
    if (!rc && n->udp && n->udp->fd >= 0)
        rc = zn_dp_sched_stage_wake_fd(sched, "rx", n->udp->fd);
    if (!rc && n->ports && n->ports->udp && n->ports->udp->fd >= 0)
        rc = zn_dp_sched_stage_wake_fd(sched, "rx", n->ports->udp->fd);
    /* A ZooKeeper request wakes it too (node/zkport.c, zkport_push_node). */
    if (!rc)
        rc = zn_dp_sched_stage_pending(sched, "rx", node_stage_rx_pending);
    if (!rc) /* and a snapshot thread's finished job (node_snapshot.c) */
        rc = zn_dp_sched_stage_pending(sched, "apply", node_snapshot_pending);
    if (!rc) /* and a finished WAL job: the syncer's notifier (node_walwake.c) */
        rc = zn_dp_sched_stage_pending(sched, "wal", node_wal_pending);
    return rc;
}

/* ---- control messages ---------------------------------------------------------------------- */

static void node_ctrl_report_fn(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    struct zn_node *n = arg;
    struct zn_node_report *rep = n->ctrl_rep;
    struct zn_raft_status st;
    zn_raft_status_get(n->raft, &st);
    struct zn_store_counts counts;
    zn_store_counts(n->store, &counts);
    memset(rep, 0, sizeof(*rep));
    rep->st.id = n->self;
    rep->st.role = zn_raft_role_name(st.role);
    rep->st.term = st.term;
    rep->st.leader = st.leader;
    rep->st.commit = st.commit;
    rep->st.applied = n->applied_index;
    rep->st.first_index = st.first_index;
    rep->st.last_index = st.last_index;
    for (uint32_t i = 0; i < st.conf.n_voters; i++)
        rep->st.members[rep->st.n_members++] = st.conf.voters[i];
    for (uint32_t i = 0; i < st.conf.n_learners && rep->st.n_members < ZN_CLUSTER_MEMBERS_MAX; i++)
        rep->st.members[rep->st.n_members++] = st.conf.learners[i];
    rep->st.sessions = counts.sessions;
    rep->st.znodes = counts.znodes;
    rep->watches = zn_watch_count(n->watches);
    const struct zn_dp_msgr_stats *ms = &n->msgr->stats;
    rep->st.drop_frames = ms->drop_malformed + ms->drop_version + ms->drop_checksum +
                          ms->drop_cluster + ms->drop_mac + ms->drop_oversize + ms->drop_reasm;
    rep->st.drop_cluster = ms->drop_cluster;
    rep->st.drop_client = n->n_client_dropped;
    if (n->stack) {
        const struct zn_dp_stack_stats *ss = &n->stack->stats;
        rep->st.drop_ip = ss->drop_ip_version + ss->drop_ip_ihl + ss->drop_ip_len +
                          ss->drop_ip_cksum + ss->drop_ip_ttl + ss->drop_ip_frag;
    }
    if (n->ports)
        rep->st.drop_ip = node_ports_drop_ip(n->ports);
    rep->st.last_election_ms = n->last_election_ms;
    snprintf(rep->last_election_reason, sizeof(rep->last_election_reason), "%s",
             n->last_election_reason);
    /* Ready: a leader is known and everything committed that the store executes is applied. */
    rep->st.ready = st.leader != 0 && n->applied_index >= st.commit && !n->draining;
    rep->is_leader = st.role == ZN_RAFT_LEADER;
    /* Hand-over target: the voter heard from most recently (a dead one would waste the
     * bounded wait). */
    uint64_t best = 0;
    for (uint32_t i = 0; i < st.conf.n_voters; i++) {
        uint8_t v = st.conf.voters[i];
        if (v != n->self && n->peer_known[v] && n->peer_heard_ns[v] > best) {
            best = n->peer_heard_ns[v];
            rep->best_follower = v;
        }
    }
    n->ctrl_rc = 0;
}

static void node_ctrl_drain_fn(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    struct zn_node *n = arg;
    n->draining = true;
    n->ctrl_rc = 0;
}

static void node_ctrl_transfer_fn(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    struct zn_node *n = arg;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TRANSFER, .now_ns = node_now(n)};
    ev.transfer.to = n->ctrl_to;
    n->ctrl_rc = node_step(n, &ev);
}

static void node_ctrl_expire_fn(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    struct zn_node *n = arg;
    n->ctrl_rc = 0;
    if (n->role != ZN_RAFT_LEADER)
        return;
    uint64_t ids[64];
    uint32_t k = zn_sessions_track_expired(&n->sess, node_now(n), ids, 64);
    for (uint32_t i = 0; i < k; i++) {
        struct zn_entry e = {
            .type = ZN_ENTRY_SESSION_CLOSE, .session = ids[i], .close_reason = ZN_CLOSE_EXPIRED};
        int rc = node_propose_entry(n, &e);
        ZN_INFO("node", "session %016llx not heard within its timeout: expiring (%s)",
                (unsigned long long)ids[i], rc ? zn_strerror(rc) : "proposed");
    }
}

static int node_ctrl_run(struct zn_node *n, struct zn_dp_lcore *lc,
                         void (*fn)(void *, struct zn_dp_lcore *), uint64_t timeout_ns)
{
    n->ctrl.fn = fn;
    n->ctrl.arg = n;
    atomic_store(&n->ctrl.done, false);
    n->ctrl_rc = ZN_ETIMEDOUT;
    int rc = zn_dp_lcore_ctrl_send(lc, &n->ctrl);
    if (rc)
        return rc;
    uint64_t start = node_now(n);
    while (!atomic_load_explicit(&n->ctrl.done, memory_order_acquire)) {
        if (node_now(n) - start > timeout_ns) {
            /* The message stays queued: wait for it before reusing n->ctrl (bounded by the
             * lcore's next housekeeping). */
            while (!atomic_load_explicit(&n->ctrl.done, memory_order_acquire)) {
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
            return ZN_ETIMEDOUT;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return n->ctrl_rc;
}

int zn_node_ctrl_report(struct zn_node *n, struct zn_dp_lcore *lc, struct zn_node_report *rep,
                        uint64_t timeout_ns)
{
    n->ctrl_rep = rep;
    int rc = node_ctrl_run(n, lc, node_ctrl_report_fn, timeout_ns);
    rep->st.last_election_reason = rep->last_election_reason;
    return rc;
}

int zn_node_ctrl_drain(struct zn_node *n, struct zn_dp_lcore *lc, uint64_t timeout_ns)
{
    return node_ctrl_run(n, lc, node_ctrl_drain_fn, timeout_ns);
}

int zn_node_ctrl_transfer(struct zn_node *n, struct zn_dp_lcore *lc, uint8_t to,
                          uint64_t timeout_ns)
{
    n->ctrl_to = to;
    return node_ctrl_run(n, lc, node_ctrl_transfer_fn, timeout_ns);
}

int zn_node_ctrl_expire(struct zn_node *n, struct zn_dp_lcore *lc, uint64_t timeout_ns)
{
    return node_ctrl_run(n, lc, node_ctrl_expire_fn, timeout_ns);
}

static void node_ctrl_call_fn(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    struct zn_node *n = arg;
    n->ctrl_rc = n->ctrl_call_fn(n, n->ctrl_call_arg);
}

int zn_node_ctrl_call(struct zn_node *n, struct zn_dp_lcore *lc,
                      int (*fn)(struct zn_node *n, void *arg), void *arg, uint64_t timeout_ns)
{
    n->ctrl_call_fn = fn;
    n->ctrl_call_arg = arg;
    return node_ctrl_run(n, lc, node_ctrl_call_fn, timeout_ns);
}

/* ---- recovery and set-up -------------------------------------------------------------------- */
struct node_recover_ctx {
    struct zn_node *n;
    uint64_t commit_hint;
    uint64_t snap_index;
    uint64_t loaded;
};

static int node_recover_entry(void *ctx, const struct zn_wal_entry *we)
{
    struct node_recover_ctx *rc = ctx;
    if (we->index <= rc->snap_index)
        return 0; /* covered by the snapshot (the WAL is compacted lazily) */
    struct zn_raft_entry e = {.index = we->index,
                              .term = we->term,
                              .type = (uint32_t)(we->type - 1),
                              .len = we->len,
                              .data = we->payload};
    int err = zn_raft_load_entry(rc->n->raft, &e);
    if (err)
        return err;
    rc->loaded++;
    return 0;
}

static int node_conf_from_config(const struct zn_config *cfg, struct zn_raft_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    for (uint32_t i = 0; i < cfg->cluster.n_members; i++) {
        uint8_t id = cfg->cluster.members[i].id;
        bool learner = false;
        for (uint32_t k = 0; k < cfg->cluster.n_learners; k++)
            learner |= cfg->cluster.learners[k] == id;
        if (learner)
            conf->learners[conf->n_learners++] = id;
        else
            conf->voters[conf->n_voters++] = id;
    }
    return conf->n_voters > 0 ? 0 : ZN_EINVAL;
}

static int node_open_raft(struct zn_node *n, char *err, size_t err_len)
{
    struct zn_raft_config rc;
    zn_raft_config_default(&rc, n->self);
    rc.priority = (uint8_t)n->cfg.raft.priority;
    rc.priorities[n->self] = rc.priority; /* hand-over table: others 0 until `leader priority` */
    rc.pre_vote = n->cfg.raft.pre_vote;
    rc.check_quorum = n->cfg.raft.check_quorum;
    rc.lease_reads = n->cfg.raft.lease_reads;
    rc.seed = node_random_u64();
    rc.election_timeout_ns = (uint64_t)n->cfg.raft.election_timeout_ms * ZN_NS_PER_MS;
    rc.heartbeat_interval_ns = (uint64_t)n->cfg.raft.heartbeat_interval_ms * ZN_NS_PER_MS;
    rc.inflight_max = n->cfg.raft.inflight_max;
    rc.compact_keep = n->cfg.snapshot.keep_entries;
    rc.batch_entries_max = n->cfg.raft.batch_entries_max;
    rc.log_entries_max = n->cfg.raft.log_entries_max;
    uint64_t bb = n->cfg.raft.batch_bytes_max;
    rc.batch_bytes_max =
        (uint32_t)(bb > ZN_MSG_SIZE_MAX_BYTES / 2 ? ZN_MSG_SIZE_MAX_BYTES / 2 : bb);
    size_t need = zn_raft_mem_size(&rc);
    if (need == 0) {
        node_errf(err, err_len, "invalid [raft] settings for the consensus core");
        return ZN_EINVAL;
    }
    n->raft_mem = aligned_alloc(64, (need + 63) & ~(size_t)63);
    if (!n->raft_mem)
        return ZN_ENOMEM;
    int e = zn_raft_init(&n->raft, &rc, &n->conf, n->raft_mem, need);
    if (e)
        node_errf(err, err_len, "consensus core: %s", zn_strerror(e));
    return e;
}

static int node_recover(struct zn_node *n, char *err, size_t err_len)
{
    snprintf(n->state_dir, sizeof(n->state_dir), "%s/state", n->cfg.node.data_dir);
    if (mkdir(n->state_dir, 0750) != 0 && errno != EEXIST) {
        node_errf(err, err_len, "cannot create %s: %s", n->state_dir, strerror(errno));
        return ZN_EIO;
    }
    n->disk_mem = malloc(zn_disk_posix_size());
    if (!n->disk_mem)
        return ZN_ENOMEM;
    int rc = zn_disk_posix_init(&n->disk, n->disk_mem, n->state_dir);
    if (rc) {
        node_errf(err, err_len, "cannot open %s: %s", n->state_dir, zn_strerror(rc));
        return rc;
    }
    n->disk_open = true;
    zn_metrics_disk_wrap(&n->ms.disk, &n->disk); /* WAL bytes, fdatasync count and latency */
    n->ms.disk_wrapped = true;
    rc = node_walwake_install(n); /* a finished WAL job wakes the lcore (node_walwake.c) */
    if (rc) {
        node_errf(err, err_len, "WAL completion notifier: %s", zn_strerror(rc));
        return rc;
    }
    n->snap_disk_mem = malloc(zn_disk_posix_size());
    if (n->snap_disk_mem && zn_disk_posix_init(&n->snap_disk, n->snap_disk_mem, n->state_dir) == 0)
        n->snap_disk_open = true;
    else
        ZN_WARN("node", "no disk handle for snapshots: snapshots disabled");
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    memset(&rep, 0, sizeof(rep));
    rc = zn_hardstate_open(&n->hsf, &n->disk, n->cfg.node.cluster_id, n->self, true, &hs, &rep);
    if (rc) {
        node_errf(err, err_len, "hard state refused: %s (file %s, offset %llu): %s",
                  zn_strerror(rc), rep.file, (unsigned long long)rep.offset, rep.message);
        return rc;
    }
    n->hsf_open = true;
    if (n->hsf.scan.damaged_copies || n->hsf.scan.rewritten || n->hsf.scan.upgraded)
        ZN_WARN("node", "hard state: %s (file %s, offset %llu)", rep.message, rep.file,
                (unsigned long long)rep.offset); /* a damaged copy, repaired, or format 1 */
    struct zn_snapfile_info info;
    rc = node_load_snapshot(n, &info, err, err_len);
    if (rc)
        return rc;
    n->last_snap_index = info.index;
    rc = node_open_raft(n, err, err_len);
    if (rc)
        return rc;
    /* Membership is static in this build: the snapshot's configuration is the configured one. */
    struct zn_raft_snapshot_meta snap = {.index = info.index, .term = info.term, .conf = n->conf};
    rc = zn_raft_load(n->raft, hs.term, (uint8_t)hs.vote, &snap);
    if (rc) {
        node_errf(err, err_len, "consensus core refused the hard state: %s", zn_strerror(rc));
        return rc;
    }
    struct zn_wal_config wc = {
        .disk = &n->disk,
        .alloc = {node_alloc, node_release_mem, NULL},
        .cluster_id = n->cfg.node.cluster_id,
        .node_id = n->self,
        .segment_bytes = n->cfg.wal.segment_bytes,
        .snapshot_index = info.index,
        .snapshot_term = info.term,
        .commit_hint = hs.commit,
        .allow_repair = false,
        .hardstate = &n->hsf,
    };
    struct node_recover_ctx ctx = {.n = n, .commit_hint = hs.commit, .snap_index = info.index};
    struct zn_wal_recovery rec;
    memset(&rec, 0, sizeof(rec));
    rc = zn_wal_open(&n->wal, &wc, node_recover_entry, &ctx, &rec);
    if (rc) {
        node_errf(err, err_len, "WAL recovery refused: %s (file %s, offset %llu): %s",
                  zn_strerror(rc), rec.report.file, (unsigned long long)rec.report.offset,
                  rec.report.message);
        return rc;
    }
    if (rec.torn_bytes)
        ZN_WARN("node",
                "WAL: discarded a torn tail of %llu bytes in %s at offset %llu (never "
                "acknowledged)",
                (unsigned long long)rec.torn_bytes, rec.torn_file,
                (unsigned long long)rec.torn_offset);
    ZN_INFO("node",
            "recovered: term %llu, vote %u, commit hint %llu, log [%llu, %llu] in %u "
            "segments (%llu entries)",
            (unsigned long long)hs.term, hs.vote, (unsigned long long)hs.commit,
            (unsigned long long)rec.first_index, (unsigned long long)rec.last_index, rec.segments,
            (unsigned long long)ctx.loaded);
    /* Re-apply the committed prefix the hard state vouches for; the rest follows as Raft
     * learns the commit index from the leader. */
    uint64_t upto = hs.commit < rec.last_index ? hs.commit : rec.last_index;
    for (uint64_t i = info.index + 1; i <= upto; i++)
        node_apply_one(n, i, false);
    n->apply_to = upto > info.index ? upto : info.index;
    n->applied_index = n->apply_to;
    ZN_INFO("node", "store rebuilt up to zxid %llu (%u sessions tracked)",
            (unsigned long long)zn_store_applied_zxid(n->store), n->sess.count);
    return 0;
}

/* [dpdk] eal_args -> the dataplane's EAL configuration (the subset zinc supports). */
static int node_eal_cfg(struct zn_node *n, struct zn_dp_eal_cfg *eal, char *args, char *err,
                        size_t err_len)
{
    char *save = NULL;
    bool no_huge = false;
    for (char *t = strtok_r(args, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (!strcmp(t, "--no-huge")) {
            no_huge = true;
        } else if (!strcmp(t, "--no-shconf") || !strcmp(t, "--no-pci") ||
                   !strcmp(t, "--no-telemetry")) {
            /* implied by the lab mode (--no-huge) */
        } else if (!strcmp(t, "-m") || !strcmp(t, "--lcores") || !strcmp(t, "--log-level")) {
            char *v = strtok_r(NULL, " \t", &save);
            if (!v) {
                node_errf(err, err_len, "[dpdk] eal_args: %s needs a value", t);
                return ZN_EINVAL;
            }
            if (t[1] == 'm')
                eal->mem_mb = (unsigned)strtoul(v, NULL, 10);
            else if (t[2] == 'l' && t[3] == 'c')
                eal->lcores = v;
            else
                eal->log_level = v;
        } else {
            node_errf(err, err_len,
                      "[dpdk] eal_args: '%s' is not supported (use --no-huge, -m, --lcores, "
                      "--log-level; --file-prefix is set per node)",
                      t);
            return ZN_EINVAL;
        }
    }
    eal->lab = no_huge;
    (void)n;
    return 0;
}

static int node_open_dpdk(struct zn_node *n, const struct zn_dp_addr *local, char *err,
                          size_t err_len)
{
    static char args[ZN_CONFIG_STR_MAX], prefix[64], rundir[ZN_CONFIG_PATH_MAX + 16];
    snprintf(args, sizeof(args), "%s", n->cfg.dpdk.eal_args);
    struct zn_dp_eal_cfg eal = {0};
    int rc = node_eal_cfg(n, &eal, args, err, err_len);
    if (rc)
        return rc;
    if (n->cfg.dpdk.mac[0]) {
        node_errf(err, err_len, "[dpdk] mac: setting the port's MAC is not supported yet");
        return ZN_ENOTSUP;
    }
    /* dpdk-notes.md pitfalls 1 and 2: a runtime folder we own, a prefix unique per node. */
    snprintf(prefix, sizeof(prefix), "zincd-c%u-n%u", n->cfg.node.cluster_id, n->self);
    snprintf(rundir, sizeof(rundir), "%s/dpdk", n->cfg.node.data_dir);
    eal.file_prefix = prefix;
    eal.runtime_dir = rundir;
    if (n->cfg.dpdk.port_devargs[0]) {
        eal.vdevs[0] = n->cfg.dpdk.port_devargs;
        eal.n_vdevs = 1;
    }
    rc = zn_dp_eal_init(&eal);
    if (rc) {
        node_errf(err, err_len, "DPDK EAL start failed (%s); see the EAL messages above",
                  zn_strerror(rc));
        return rc;
    }
    n->eal_open = true;
    struct rte_mempool *pool = zn_dp_pool_create("zincd", 1, 1);
    if (!pool) {
        node_errf(err, err_len, "DPDK: no mbuf pool");
        return ZN_ENOMEM;
    }
    rc = zn_dp_port_start(0, 1, pool, &n->port);
    if (rc) {
        node_errf(err, err_len, "DPDK: port 0 does not start: %s", zn_strerror(rc));
        return rc;
    }
    n->port_open = true;
    n->stack = calloc(1, sizeof(*n->stack));
    if (!n->stack)
        return ZN_ENOMEM;
    struct zn_dp_stack_cfg sc = {.port_id = 0,
                                 .queue = 0,
                                 .ip = local->ip,
                                 .udp_port = local->port,
                                 .pool = pool,
                                 .port = &n->port,
                                 .udp_tx_cksum =
                                     (enum zn_dp_udp_tx_cksum)n->cfg.net.udp_tx_checksum};
    rc = zn_dp_stack_init(n->stack, &sc, &n->tr);
    if (rc) {
        node_errf(err, err_len, "DPDK stack: %s", zn_strerror(rc));
        return rc;
    }
    ZN_INFO("node",
            "DPDK port 0 up: %02x:%02x:%02x:%02x:%02x:%02x, link %s, checksum offload "
            "tx %s rx %s",
            n->port.mac[0], n->port.mac[1], n->port.mac[2], n->port.mac[3], n->port.mac[4],
            n->port.mac[5], n->port.link_up ? "up" : "down (waiting)",
            n->port.tx_cksum_offload ? "yes" : "no", n->port.rx_cksum_offload ? "yes" : "no");
    return 0;
}

/* [peers]: one DPDK port per peer and a kernel-UDP client listener (node/ports.h). */
static int node_open_ports(struct zn_node *n, const struct zn_dp_addr *local, char *err,
                           size_t err_len)
{
    static char args[ZN_CONFIG_STR_MAX], prefix[64], rundir[ZN_CONFIG_PATH_MAX + 16];
    snprintf(args, sizeof(args), "%s", n->cfg.dpdk.eal_args);
    struct zn_dp_eal_cfg eal = {0};
    int rc = node_eal_cfg(n, &eal, args, err, err_len);
    if (rc)
        return rc;
    snprintf(prefix, sizeof(prefix), "zincd-c%u-n%u", n->cfg.node.cluster_id, n->self);
    snprintf(rundir, sizeof(rundir), "%s/dpdk", n->cfg.node.data_dir);
    eal.file_prefix = prefix;
    eal.runtime_dir = rundir;
    rc = node_ports_open(&n->ports, &n->cfg, n->self, &eal, local, n->peer, n->peer_known, &n->tr,
                         err, err_len);
    n->eal_open = n->ports && n->ports->eal_up;
    return rc;
}

static int node_open_net(struct zn_node *n, char *err, size_t err_len)
{
    for (uint32_t i = 0; i < n->cfg.cluster.n_members; i++) {
        const struct zn_config_member *m = &n->cfg.cluster.members[i];
        uint32_t ip;
        if (zn_dp_ip_parse(m->host, &ip) != 0) {
            node_errf(err, err_len, "[cluster] members: bad address %s", m->host);
            return ZN_EINVAL;
        }
        n->peer[m->id] = (struct zn_dp_addr){.ip = ip, .port = m->port};
        n->peer_known[m->id] = true;
    }
    struct zn_dp_addr local = {.port = n->cfg.net.listen_port};
    if (zn_dp_ip_parse(n->cfg.net.listen_host, &local.ip) != 0) {
        node_errf(err, err_len, "[net] listen_host: bad address %s", n->cfg.net.listen_host);
        return ZN_EINVAL;
    }
    n->msgr = calloc(1, sizeof(*n->msgr));
    if (!n->msgr)
        return ZN_ENOMEM;
    int rc;
    if (node_ports_wanted(&n->cfg)) {
        rc = node_open_ports(n, &local, err, err_len);
        if (rc)
            return rc;
    } else if (n->cfg.net.transport == ZN_TRANSPORT_DPDK) {
        rc = node_open_dpdk(n, &local, err, err_len);
        if (rc)
            return rc;
    } else {
        n->udp = calloc(1, sizeof(*n->udp));
        if (!n->udp)
            return ZN_ENOMEM;
        n->udp->fd = -1;
        rc = zn_udp_open(n->udp, &local, &n->tr);
    }
    if (rc) {
        node_errf(err, err_len, "cannot bind UDP %s:%u: %s", n->cfg.net.listen_host,
                  n->cfg.net.listen_port, zn_strerror(rc));
        return rc;
    }
    rc = zn_dp_msgr_init(n->msgr, &n->tr, n->cfg.node.cluster_id, n->self, ZN_REASM_SLOTS_DEFAULT,
                         ZN_REASM_BYTES_DEFAULT, ZN_REASM_TIMEOUT_NS_DEFAULT);
    if (rc) {
        node_errf(err, err_len, "messenger: %s", zn_strerror(rc));
        return rc;
    }
    n->msgr_open = true;
    return 0;
}

int zn_node_open(const struct zn_config *cfg, const struct zn_clock *clock, struct zn_node **out,
                 char *err, size_t err_len)
{
    *out = NULL;
    struct zn_node *n = calloc(1, sizeof(*n));
    if (!n)
        return ZN_ENOMEM;
    n->cfg = *cfg;
    n->clock = clock;
    n->self = (uint8_t)cfg->node.id;
    n->memory_mode = cfg->wal.sync == ZN_SYNC_MEMORY;
    n->role = ZN_RAFT_FOLLOWER;
    snprintf(n->last_election_reason, sizeof(n->last_election_reason), "none");
    n->tx = malloc(ZN_MSG_SIZE_MAX_BYTES);
    n->enc = malloc(ZN_STORE_ENTRY_SIZE_MAX > ZN_MSG_SIZE_MAX_BYTES ? ZN_STORE_ENTRY_SIZE_MAX
                                                                    : ZN_MSG_SIZE_MAX_BYTES);
    n->rx_entries = calloc(ZN_NODE_RX_ENTRIES_MAX, sizeof(*n->rx_entries));
    n->nm = malloc(sizeof(*n->nm));
    n->conv = malloc(sizeof(*n->conv));
    n->relq = calloc(ZN_NODE_RELEASE_QUEUE_MAX, sizeof(*n->relq));
    n->parked = calloc(ZN_NODE_PARKED_READS_MAX, sizeof(*n->parked));
    n->held = calloc(ZN_NODE_HELD_MAX, sizeof(*n->held));
    n->rcache = calloc(ZN_NODE_REPLY_CACHE_SLOTS, sizeof(*n->rcache));
    n->delayed = calloc(ZN_NODE_DELAYED_REPLIES_MAX, sizeof(*n->delayed));
    n->remote_reads = calloc(ZN_NODE_REMOTE_READS_MAX, sizeof(*n->remote_reads));
    zn_wbuf_init(&n->rbuf, ZN_MSG_SIZE_MAX_BYTES);
    int rc = ZN_ENOMEM;
    if (!n->tx || !n->enc || !n->rx_entries || !n->nm || !n->conv || !n->relq || !n->parked ||
        !n->remote_reads || !n->held || !n->rcache)
        goto fail;
    rc = node_conf_from_config(cfg, &n->conf);
    if (rc)
        goto fail;
    rc = zn_sessions_init(&n->sess, ZN_SESSIONS_MAX, ZN_NODE_EVENT_POOL,
                          ZN_NODE_EVENTS_PER_SESSION_MAX);
    if (rc)
        goto fail;
    struct zn_store_config sc = {.data_size_max = (uint32_t)cfg->limits.data_bytes_max};
    rc = zn_store_create(&sc, &n->store);
    if (rc) {
        node_errf(err, err_len, "cannot create the store: %s", zn_strerror(rc));
        goto fail;
    }
    rc = zn_watch_reg_create(&n->watches);
    if (!rc)
        rc = zn_opstats_create(&n->opstats);
    if (rc)
        goto fail;
    n->evbuf = calloc(ZN_NODE_EVENT_POOL, sizeof(*n->evbuf));
    n->evfree = calloc(ZN_NODE_EVENT_POOL, sizeof(*n->evfree));
    if (!n->evbuf || !n->evfree) {
        rc = ZN_ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < ZN_NODE_EVENT_POOL; i++)
        n->evfree[n->evfree_n++] = ZN_NODE_EVENT_POOL - 1 - i;
    rc = node_recover(n, err, err_len);
    if (rc)
        goto fail;
    rc = node_open_net(n, err, err_len);
    if (rc)
        goto fail;
    if (n->memory_mode)
        ZN_WARN("node", "wal.sync = memory: writes are acknowledged before they reach the disk; "
                        "a power loss of a majority at once LOSES ACKNOWLEDGED WRITES");
    *out = n;
    return 0;
fail:
    if (err[0] == '\0')
        node_errf(err, err_len, "start-up failed: %s", zn_strerror(rc));
    zn_node_close(n);
    return rc;
}

void zn_node_close(struct zn_node *n)
{
    if (!n)
        return;
    if (n->wal) {
        zn_wal_flush(n->wal);
        node_wal_wait_idle(n);
        while (n->relq_count) {
            free(n->relq[n->relq_head]);
            n->relq_head = (n->relq_head + 1) % ZN_NODE_RELEASE_QUEUE_MAX;
            n->relq_count--;
        }
        zn_wal_close(n->wal);
    }
    if (n->hsf_open)
        zn_hardstate_close(&n->hsf);
    node_snapio_stop(n);
    if (n->snap) {
        pthread_join(n->snap_thread, NULL);
        zn_snapshot_end(n->store, n->snap);
        n->snap = NULL;
    }
    if (n->snap_disk_open)
        zn_disk_posix_fini(&n->snap_disk);
    free(n->snap_disk_mem);
    if (n->disk_open)
        zn_disk_posix_fini(zn_metrics_disk_inner(&n->ms.disk, &n->disk));
    if (n->msgr_open)
        zn_dp_msgr_fini(n->msgr);
    if (n->udp && n->udp->fd >= 0)
        zn_udp_close(n->udp);
    if (n->stack)
        zn_dp_stack_fini(n->stack);
    free(n->stack);
    if (n->port_open)
        zn_dp_port_stop(0);
    node_ports_close(n->ports);
    if (n->eal_open)
        zn_dp_eal_fini();
    for (uint32_t i = 0; n->auth && i < ZN_NODE_AUTH_SESSIONS_MAX; i++)
        free(n->auth[i].set);
    free(n->auth);
    if (n->watches)
        zn_watch_reg_destroy(n->watches);
    zn_opstats_destroy(n->opstats);
    if (n->evbuf)
        for (uint32_t i = 0; i < ZN_NODE_EVENT_POOL; i++)
            free(n->evbuf[i].p);
    free(n->evbuf);
    free(n->evfree);
    if (n->store)
        zn_store_destroy(n->store);
    zn_sessions_destroy(&n->sess);
    zn_wbuf_fini(&n->rbuf);
    free(n->udp);
    free(n->msgr);
    free(n->disk_mem);
    free(n->raft_mem);
    free(n->tx);
    free(n->enc);
    free(n->rx_entries);
    free(n->nm);
    free(n->conv);
    free(n->relq);
    free(n->send_snap.p);
    free(n->inst.p);
    if (n->parked)
        for (uint32_t i = 0; i < ZN_NODE_PARKED_READS_MAX; i++)
            free(n->parked[i].req);
    free(n->parked);
    free(n->remote_reads);
    if (n->held)
        for (uint32_t i = 0; i < ZN_NODE_HELD_MAX; i++)
            free(n->held[i].req);
    free(n->held);
    if (n->rcache)
        for (uint32_t i = 0; i < ZN_NODE_REPLY_CACHE_SLOTS; i++)
            free(n->rcache[i].msg);
    free(n->rcache);
    if (n->delayed)
        for (uint32_t i = 0; i < ZN_NODE_DELAYED_REPLIES_MAX; i++)
            free(n->delayed[i].msg);
    free(n->delayed);
    free(n);
}
