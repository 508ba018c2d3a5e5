/*
 * node_session.c - the node side of the native client protocol: CONNECT, requests in order
 * (hold window, one write or parked read in flight), reads (local, parked, ReadIndex), watches
 * and their numbered events, the reply cache and replies held behind unacked events. See
 * docs/wire-format.md "zincd's side of the native client protocol".
 */
#include "node/internal.h"

static void node_event_free(struct zn_node *n, uint32_t handle);
static void node_flush_events(struct zn_node *n, struct zn_session_row *row, uint64_t now);
static struct zn_parked *node_park(struct zn_node *n, uint64_t session, uint64_t seq,
                                   struct zn_bytes body, uint64_t need_index);
static void node_request_read_index(struct zn_node *n, struct zn_parked *p);
static struct zn_pending_connect *node_pending_for(struct zn_node *n, uint32_t ip, uint16_t port,
                                                   const uint8_t *nonce, uint64_t now);
static void node_forward(struct zn_node *n, const struct zn_nodemsg *m);
static struct zn_session_row *node_session_by_nonce(struct zn_node *n, uint32_t ip, uint16_t port,
                                                    const uint8_t *nonce);
static void node_handle_connect(struct zn_node *n, const struct zn_dp_addr *from,
                                const struct zn_sess_hdr *h, struct zn_bytes body);
static void node_reply_error(struct zn_node *n, struct zn_session_row *row, uint64_t seq, int err);
static void node_maybe_watch(struct zn_node *n, struct zn_session_row *row, const struct zn_op *op,
                             uint64_t zxid);
static int node_watch_request(struct zn_node *n, struct zn_session_row *row,
                              const struct zn_zk_request *req);
static bool node_is_watch_op(int32_t type);
static bool node_is_logged(int32_t type);
static struct zn_held *node_held_find(struct zn_node *n, uint64_t session, uint64_t seq);
static void node_held_drop(struct zn_node *n, struct zn_held *hd);
static bool node_hold(struct zn_node *n, const struct zn_sess_hdr *h, struct zn_bytes body);
static void node_held_expire(struct zn_node *n, uint64_t now);
static void node_handle_request(struct zn_node *n, const struct zn_dp_addr *from,
                                const struct zn_sess_hdr *h, struct zn_bytes body);
static void node_take(struct zn_node *n, struct zn_session_row *row, const struct zn_sess_hdr *h,
                      struct zn_bytes body);

/* ---- watch events --------------------------------------------------------------------------- */

static void node_event_free(struct zn_node *n, uint32_t handle)
{
    free(n->evbuf[handle].p);
    n->evbuf[handle].p = NULL;
    n->evbuf[handle].msg_id = 0;
    n->evfree[n->evfree_n++] = handle;
}

/* Send the events of row that are due (new, or unacked for ZN_EVENT_RTO_NS). */
static void node_flush_events(struct zn_node *n, struct zn_session_row *row, uint64_t now)
{
    static uint32_t due[ZN_NODE_EVENTS_PER_SESSION_MAX];
    uint32_t k = zn_sessions_event_due(&n->sess, row, now, ZN_EVENT_RTO_NS, due,
                                       ZN_NODE_EVENTS_PER_SESSION_MAX);
    struct zn_dp_addr dst = {.ip = row->client_ip, .port = row->client_port};
    (void)now;
    for (uint32_t i = 0; i < k; i++) /* a retransmission keeps the event's first msg_id */
        n->evbuf[due[i]].msg_id = node_send_client_msg(
            n, &dst, n->evbuf[due[i]].p, n->evbuf[due[i]].len, n->evbuf[due[i]].msg_id);
}

/* Forget a session here: its watches and queued events (closed, expired, moved, overflowed). */
void node_session_forget(struct zn_node *n, uint64_t id, uint8_t flags)
{
    static uint32_t released[ZN_NODE_EVENTS_PER_SESSION_MAX];
    uint32_t k = 0;
    if (zn_sessions_drop(&n->sess, id, flags, released, ZN_NODE_EVENTS_PER_SESSION_MAX, &k) == 0)
        for (uint32_t i = 0; i < k; i++)
            node_event_free(n, released[i]);
    if (flags & ZN_SESSIONS_F_OWNED) {
        zn_watch_session_drop(n->watches, id);
        node_drop_delayed(n, id);
        node_auth_forget(n, id); /* ZooKeeper: auth is per connection, re-sent after a reconnect */
    }
    if (flags & ZN_SESSIONS_F_TRACKED)
        node_auth_forget(n, id); /* the session ended */
}

void node_emit(void *ctx, const struct zn_watch_event *ev)
{
    struct zn_node *n = ctx;
    struct zn_session_row *row = zn_sessions_find(&n->sess, ev->session);
    if (!row || !(row->flags & ZN_SESSIONS_F_OWNED) || n->evfree_n == 0) {
        if (row && (row->flags & ZN_SESSIONS_F_OWNED))
            n->overflow_session = ev->session;
        return;
    }
    uint32_t handle = n->evfree[--n->evfree_n];
    int64_t number = zn_sessions_event_push(&n->sess, row, (uint64_t)ev->zxid, handle);
    if (number < 0) {
        n->evfree[n->evfree_n++] = handle;
        n->overflow_session = ev->session;
        return;
    }
    size_t cap = ZN_SESS_HDR_BYTES + 16 + 12 + ev->path.len;
    uint8_t *p = malloc(cap);
    ZN_ASSERT(p != NULL);
    struct zn_sess_hdr h = {.kind = ZN_SESS_EVENT,
                            .leader = n->leader,
                            .session_id = row->id,
                            .seq = (uint64_t)number,
                            .ack = row->next_seq - 1,
                            .zxid = (uint64_t)ev->zxid};
    zn_sess_hdr_encode(&h, p);
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, p + ZN_SESS_HDR_BYTES, cap - ZN_SESS_HDR_BYTES);
    struct zn_zk_reply_header rh = {.xid = ZN_ZK_XID_WATCH_EVENT, .zxid = ev->zxid, .err = 0};
    zn_zk_put_reply_header(&w, &rh);
    struct zn_zk_watch_event we = {.type = ev->type,
                                   .state = ZN_ZK_STATE_SYNC_CONNECTED,
                                   .path = zn_bytes_make(ev->path.ptr, ev->path.len)};
    zn_zk_put_watch_event(&w, &we);
    ZN_ASSERT(w.err == 0);
    n->evbuf[handle].p = p;
    n->evbuf[handle].len = (uint32_t)(ZN_SESS_HDR_BYTES + w.len);
    n->evbuf[handle].msg_id = 0;
    n->n_events++;
    node_flush_events(n, row, node_now(n)); /* sent now, before the reply of this zxid */
}

/* After a fire: send what it queued; a session whose queue overflowed loses this node (its
 * client is not reading; it reconnects and sets its watches again, as with ZooKeeper). The
 * client is told at once (REFUSED SESSIONMOVED: "not connected here any more, connect again"),
 * as ZooKeeper's closed TCP connection tells its client; later messages get the same answer. */
void node_after_fire(struct zn_node *n)
{
    if (n->overflow_session) {
        ZN_WARN("node", "session %016llx: event queue full, closing its connection here",
                (unsigned long long)n->overflow_session);
        struct zn_session_row *row = zn_sessions_find(&n->sess, n->overflow_session);
        if (row && (row->flags & ZN_SESSIONS_F_OWNED)) {
            node_send_refused(n, row->client_ip, row->client_port, row->id, ZK_SESSIONMOVED);
            /* ... and again at the next few retransmission ticks (node_retransmit_events) */
            unsigned k = n->close_notice_next++ % 8u;
            n->close_notice[k].session = row->id;
            n->close_notice[k].ip = row->client_ip;
            n->close_notice[k].port = row->client_port;
            n->close_notice[k].left = 10; /* 10 ticks of 50 ms */
        }
        node_session_forget(n, n->overflow_session, ZN_SESSIONS_F_OWNED);
        n->overflow_session = 0;
    }
}

void node_retransmit_events(struct zn_node *n, uint64_t now)
{
    if (now < n->next_retx_ns)
        return;
    n->next_retx_ns = now + ZN_EVENT_RETX_NS;
    node_held_expire(n, now);
    uint64_t silent[64];
    uint32_t n_silent = 0;
    for (uint32_t i = 0; i < n->sess.capacity; i++) {
        struct zn_session_row *row = &n->sess.rows[i];
        if (!row->id || !(row->flags & ZN_SESSIONS_F_OWNED))
            continue;
        /* Not heard for a whole timeout: the client moved to another node or is gone (the
         * leader expires it then); stop serving it here. */
        if (now > row->last_heard_ns &&
            now - row->last_heard_ns > (uint64_t)row->timeout_ms * ZN_NS_PER_MS) {
            if (n_silent < 64)
                silent[n_silent++] = row->id;
            continue;
        }
        if (row->event_count)
            node_flush_events(n, row, now);
    }
    for (uint32_t i = 0; i < n_silent; i++)
        node_session_forget(n, silent[i], ZN_SESSIONS_F_OWNED);
    /* Connections closed on event overflow: repeat the notice until the client connects again
     * (the session owned here again) or a few ticks passed. */
    for (unsigned i = 0; i < 8; i++) {
        if (!n->close_notice[i].left)
            continue;
        struct zn_session_row *row = zn_sessions_find(&n->sess, n->close_notice[i].session);
        if (row && (row->flags & ZN_SESSIONS_F_OWNED)) {
            n->close_notice[i].left = 0;
            continue;
        }
        n->close_notice[i].left--;
        node_send_refused(n, n->close_notice[i].ip, n->close_notice[i].port,
                          n->close_notice[i].session, ZK_SESSIONMOVED);
    }
}

/* ---- parked reads (ReadIndex, and reads ahead of this node's apply) ------------------------- */

struct zn_parked *node_parked_find(struct zn_node *n, uint64_t session, uint64_t seq)
{
    for (uint32_t i = 0; i < ZN_NODE_PARKED_READS_MAX && n->n_parked; i++)
        if (n->parked[i].req && n->parked[i].session == session && n->parked[i].seq == seq)
            return &n->parked[i];
    return NULL;
}

void node_parked_drop(struct zn_node *n, struct zn_parked *p)
{
    free(p->req);
    memset(p, 0, sizeof(*p));
    n->n_parked--;
}

/* Park request bytes; NULL when the table is full (the client's retransmission retries). */
static struct zn_parked *node_park(struct zn_node *n, uint64_t session, uint64_t seq,
                                   struct zn_bytes body, uint64_t need_index)
{
    for (uint32_t i = 0; i < ZN_NODE_PARKED_READS_MAX; i++) {
        struct zn_parked *p = &n->parked[i];
        if (p->req)
            continue;
        p->req = malloc((size_t)body.len);
        if (!p->req)
            return NULL;
        memcpy(p->req, body.ptr, (size_t)body.len);
        p->len = (uint32_t)body.len;
        p->session = session;
        p->seq = seq;
        p->need_index = need_index;
        p->token = 0;
        p->deadline_ns = node_now(n) + ZN_PARK_NS;
        n->n_parked++;
        return p;
    }
    return NULL;
}

void node_read_index_done(struct zn_node *n, uint64_t ctx, uint64_t index, bool ok)
{
    /* A remote request (forwarded by another node)? */
    uint32_t slot = (uint32_t)(ctx % ZN_NODE_REMOTE_READS_MAX);
    if (n->remote_reads[slot].token == ctx) {
        if (ok) {
            struct zn_nodemsg m = {.kind = ZN_NODEMSG_READ_INDEX, .origin = n->self};
            m.u.read_index.session = n->remote_reads[slot].session;
            m.u.read_index.seq = n->remote_reads[slot].seq;
            m.u.read_index.index = index;
            node_send_nodemsg(n, n->remote_reads[slot].origin, &m);
        }
        n->remote_reads[slot].token = 0;
        return;
    }
    for (uint32_t i = 0; i < ZN_NODE_PARKED_READS_MAX && n->n_parked; i++) {
        struct zn_parked *p = &n->parked[i];
        if (p->req && p->token == ctx) {
            p->token = 0;
            if (ok)
                p->need_index = index;
            else
                node_parked_drop(n, p); /* leadership lost: the client retries */
            return;
        }
    }
}

/* Ask for a read index: locally on the leader, else from the leader. */
static void node_request_read_index(struct zn_node *n, struct zn_parked *p)
{
    if (n->role == ZN_RAFT_LEADER) {
        p->token = ++n->next_token;
        struct zn_raft_event ev = {.type = ZN_RAFT_EV_READ_INDEX, .now_ns = node_now(n)};
        ev.read.ctx = p->token;
        if (node_step(n, &ev) != 0)
            p->token = 0;
        return;
    }
    struct zn_nodemsg m = {.kind = ZN_NODEMSG_FORWARD, .origin = n->self};
    m.u.fwd.op = ZN_FWD_READ_INDEX;
    m.u.fwd.flags = ZN_SESS_F_LINEARIZABLE;
    m.u.fwd.session = p->session;
    m.u.fwd.seq = p->seq;
    node_forward(n, &m);
}

/* ---- client session layer ------------------------------------------------------------------ */

static struct zn_pending_connect *node_pending_for(struct zn_node *n, uint32_t ip, uint16_t port,
                                                   const uint8_t *nonce, uint64_t now)
{
    struct zn_pending_connect *free_slot = NULL;
    for (uint32_t i = 0; i < ZN_NODE_PENDING_CONNECTS_MAX; i++) {
        struct zn_pending_connect *p = &n->pend[i];
        if (p->id && p->deadline_ns < now)
            memset(p, 0, sizeof(*p));
        if (p->id && p->ip == ip && p->port == port && !memcmp(p->nonce, nonce, 16))
            return p;
        if (!p->id && !free_slot)
            free_slot = p;
    }
    return free_slot;
}

static void node_forward(struct zn_node *n, const struct zn_nodemsg *m)
{
    if (n->leader == 0 || n->leader == n->self)
        return;
    n->n_forwarded++;
    node_send_nodemsg(n, n->leader, m);
}

/* CONNECTED for the session's current connection: seq echoes the epoch ([R2]). */
void node_send_connected(struct zn_node *n, struct zn_session_row *row, uint64_t zxid)
{
    uint8_t out[64];
    struct zn_zk_connect_response cr = {.timeout_ms = (int32_t)row->timeout_ms,
                                        .session_id = (int64_t)row->id,
                                        .passwd = zn_bytes_make(row->passwd, 16)};
    long blen = zn_zk_connect_response_encode(&cr, out, sizeof(out));
    struct zn_sess_hdr rh = {.kind = ZN_SESS_CONNECTED,
                             .leader = n->leader,
                             .session_id = row->id,
                             .seq = row->epoch,
                             .ack = row->next_seq - 1,
                             .zxid = zxid};
    if (blen > 0)
        node_send_client(n, row->client_ip, row->client_port, &rh, out, (size_t)blen);
}

/* An owned session created from this (address, nonce): a retransmitted new-session CONNECT. */
static struct zn_session_row *node_session_by_nonce(struct zn_node *n, uint32_t ip, uint16_t port,
                                                    const uint8_t *nonce)
{
    for (uint32_t i = 0; i < n->sess.capacity; i++) {
        struct zn_session_row *r = &n->sess.rows[i];
        if (r->id && (r->flags & ZN_SESSIONS_F_OWNED) && r->client_ip == ip &&
            r->client_port == port && !memcmp(r->nonce, nonce, 16))
            return r;
    }
    return NULL;
}

static void node_handle_connect(struct zn_node *n, const struct zn_dp_addr *from,
                                const struct zn_sess_hdr *h, struct zn_bytes body)
{
    struct zn_zk_connect_request req;
    if (zn_zk_connect_request_decode(body.ptr, (size_t)body.len, &req) != 0 || n->draining ||
        req.passwd.len != 16) {
        n->n_client_dropped++;
        return;
    }
    uint64_t now = node_now(n);
    uint64_t applied = zn_store_applied_zxid(n->store);
    if ((uint64_t)req.last_zxid_seen > applied || h->zxid > applied) {
        /* [R2]: never answer a client that saw more than this node applied; it retransmits
         * (by then apply may have caught up) or tries another node. */
        n->n_behind++;
        return;
    }
    if (req.session_id == 0) {
        struct zn_session_row *done =
            node_session_by_nonce(n, from->ip, from->port, req.passwd.ptr);
        if (done) {
            done->epoch = h->ack;
            node_send_connected(n, done, applied);
            return;
        }
        struct zn_pending_connect *pc =
            node_pending_for(n, from->ip, from->port, req.passwd.ptr, now);
        if (!pc) {
            node_send_refused(n, from->ip, from->port, 0, ZK_THROTTLEDOP);
            return;
        }
        if (!pc->id) {
            pc->id = node_random_u64();
            ssize_t got = getrandom(pc->passwd, sizeof(pc->passwd), 0);
            ZN_ASSERT(got == (ssize_t)sizeof(pc->passwd));
            pc->ip = from->ip;
            pc->port = from->port;
            memcpy(pc->nonce, req.passwd.ptr, 16);
            pc->timeout_ms = zn_sessions_clamp_timeout(
                req.timeout_ms > 0 ? (uint32_t)req.timeout_ms : 0, n->cfg.session.timeout_min_ms,
                n->cfg.session.timeout_max_ms);
            pc->next_seq = h->seq ? h->seq : 1;
        }
        pc->epoch = h->ack;
        pc->deadline_ns = now + (uint64_t)pc->timeout_ms * ZN_NS_PER_MS;
        if (n->role == ZN_RAFT_LEADER) {
            node_propose_session_create(n, pc->id, pc->timeout_ms, pc->passwd);
        } else {
            struct zn_nodemsg m = {.kind = ZN_NODEMSG_FORWARD, .origin = n->self};
            m.u.fwd.op = ZN_FWD_SESSION_CREATE;
            m.u.fwd.session = pc->id;
            m.u.fwd.timeout_ms = pc->timeout_ms;
            memcpy(m.u.fwd.passwd, pc->passwd, sizeof(pc->passwd));
            node_forward(n, &m);
        }
        return;
    }
    /* Reconnect of an existing session (ZooKeeper: session id + password). */
    uint64_t id = (uint64_t)req.session_id;
    struct zn_session_row *row = zn_sessions_find(&n->sess, id);
    if (!row || !(row->flags & ZN_SESSIONS_F_TRACKED)) {
        node_send_refused(n, from->ip, from->port, id, ZK_SESSIONEXPIRED);
        return;
    }
    if (memcmp(req.passwd.ptr, row->passwd, 16) != 0) {
        node_send_refused(n, from->ip, from->port, id, ZK_AUTHFAILED);
        return;
    }
    bool owned = (row->flags & ZN_SESSIONS_F_OWNED) != 0;
    if (owned && row->client_ip == from->ip && row->client_port == from->port &&
        row->epoch == h->ack) {
        zn_sessions_heard(&n->sess, row, now); /* a retransmission: same answer */
        node_send_connected(n, row, applied);
        return;
    }
    /* A new connection ([R2]): events restart at 1, this node's queue of the old connection
     * and its watches are dropped (the client sends setWatches2), the request order goes on. */
    uint64_t next = owned ? row->next_seq : 0;
    uint8_t pw[16];
    memcpy(pw, row->passwd, 16);
    uint32_t timeout = row->timeout_ms;
    if (owned)
        node_session_forget(n, id, ZN_SESSIONS_F_OWNED);
    if (zn_sessions_add(&n->sess, id, ZN_SESSIONS_F_OWNED | ZN_SESSIONS_F_TRACKED, timeout, now,
                        &row) != 0) {
        node_send_refused(n, from->ip, from->port, id, ZK_THROTTLEDOP);
        return;
    }
    memcpy(row->passwd, pw, 16);
    uint64_t client_next = h->seq ? h->seq : 1;
    row->next_seq = next > client_next ? next : client_next;
    /* seq 0: the client does not know its next seq (a ZooKeeper client through node/zkport.c
     * does not carry one). Continue past the session's last applied request (the store
     * refuses a lower cxid as stale, store/apply.c) and past a whole window of requests that
     * may still be in flight from its previous node (else a new request could be taken for a
     * duplicate of one of them). A native client always sends its own seq. */
    if (h->seq == 0 && !owned) {
        bool has_last = false;
        int32_t last_cxid = 0;
        (void)zn_store_session_last_cxid(n->store, id, &has_last, &last_cxid); /* gone: 0 */
        uint64_t last = has_last && last_cxid > 0 ? (uint64_t)last_cxid : 0;
        if (last + 1 + ZN_NODE_HOLD_WINDOW > row->next_seq)
            row->next_seq = last + 1 + ZN_NODE_HOLD_WINDOW;
    }
    row->last_zxid = (uint64_t)req.last_zxid_seen;
    row->epoch = h->ack;
    row->client_ip = from->ip;
    row->client_port = from->port;
    zn_sessions_heard(&n->sess, row, now);
    ZN_INFO("node", "session %016llx connected to this node (epoch %llu)", (unsigned long long)id,
            (unsigned long long)h->ack);
    node_announce_moved(n, row);
    node_send_connected(n, row, applied);
}

/* A reply of a header only, or (err_body) of a header and ErrorResponse{err}: ZooKeeper answers
 * addWatch with an ErrorResponse body even on success (FinalRequestProcessor, ADD_WATCH), and
 * the Java client deserializes it. */
static void node_reply_status(struct zn_node *n, struct zn_session_row *row, uint64_t seq, int err,
                              bool err_body)
{
    uint8_t body[32];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, body, sizeof(body));
    uint64_t applied = zn_store_applied_zxid(n->store);
    zn_zkconv_error((int32_t)(uint32_t)seq, (int64_t)applied, err, &w);
    if (err_body && err == 0)
        zn_jute_put_int(&w, 0);
    struct zn_sess_hdr h = {.kind = ZN_SESS_REPLY,
                            .leader = n->leader,
                            .session_id = row->id,
                            .seq = seq,
                            .ack = row->next_seq - 1,
                            .zxid = applied};
    node_send_reply(n, row, &h, body, w.len, false);
}

static void node_reply_error(struct zn_node *n, struct zn_session_row *row, uint64_t seq, int err)
{
    node_reply_status(n, row, seq, err, false);
}

/* The watch a read leaves (ZooKeeper: exists always, getData/getChildren when found). */
static void node_maybe_watch(struct zn_node *n, struct zn_session_row *row, const struct zn_op *op,
                             uint64_t zxid)
{
    if (!op->watch)
        return;
    struct zn_reply rep;
    if (zn_reply_decode(n->rbuf.p, n->rbuf.len, &rep) != 0)
        return;
    int kind = op->type == ZN_OP_EXISTS    ? ZN_WATCH_EXISTS
               : op->type == ZN_OP_GETDATA ? ZN_WATCH_DATA
                                           : ZN_WATCH_CHILD;
    if (kind != ZN_WATCH_EXISTS && rep.err != 0)
        return;
    int rc = zn_watch_add(n->watches, n->store, row->id, op->path.ptr, op->path.len, kind, zxid,
                          rep.err == 0, node_emit, n);
    if (rc)
        ZN_DEBUG("node", "watch on %.*s not registered: %s", (int)op->path.len, op->path.ptr,
                 zn_strerror(rc));
    node_after_fire(n);
}

/* setWatches(2), addWatch, removeWatches, checkWatches: node-local, answered at once. */
static int node_watch_request(struct zn_node *n, struct zn_session_row *row,
                              const struct zn_zk_request *req)
{
    uint64_t applied = zn_store_applied_zxid(n->store);
    switch (req->type) {
    case ZN_ZK_OP_ADDWATCH: {
        int kind = req->u.watch.type == ZN_ZK_ADDWATCH_PERSISTENT_RECURSIVE
                       ? ZN_WATCH_PERSISTENT_RECURSIVE
                       : ZN_WATCH_PERSISTENT;
        if (req->u.watch.type != ZN_ZK_ADDWATCH_PERSISTENT &&
            req->u.watch.type != ZN_ZK_ADDWATCH_PERSISTENT_RECURSIVE)
            return ZN_EMARSHALLING; /* ZooKeeper 3.8: an unknown mode fails to deserialize */
        struct zn_stat st;
        bool exists = zn_store_stat(n->store, (const char *)req->u.watch.path.ptr,
                                    (uint32_t)req->u.watch.path.len, &st, NULL) == 0;
        int rc = zn_watch_add(n->watches, n->store, row->id, (const char *)req->u.watch.path.ptr,
                              (uint32_t)req->u.watch.path.len, kind, applied, exists, node_emit, n);
        node_after_fire(n);
        return rc;
    }
    case ZN_ZK_OP_REMOVEWATCHES:
    case ZN_ZK_OP_CHECKWATCHES:
        return zn_watch_remove(n->watches, row->id, (const char *)req->u.watch.path.ptr,
                               (uint32_t)req->u.watch.path.len, req->u.watch.type,
                               req->type == ZN_ZK_OP_REMOVEWATCHES);
    case ZN_ZK_OP_SETWATCHES:
    case ZN_ZK_OP_SETWATCHES2: {
        /* Re-registration after a reconnect (store/watch.h zn_watch_rearm: ZooKeeper's
         * DataTree.setWatches rules relative to what the client had seen). */
        const struct zn_zk_vec *vecs[5] = {
            &req->u.set_watches.data, &req->u.set_watches.exist, &req->u.set_watches.child,
            &req->u.set_watches.persistent, &req->u.set_watches.persistent_recursive};
        const int kinds[5] = {ZN_WATCH_DATA, ZN_WATCH_EXISTS, ZN_WATCH_CHILD, ZN_WATCH_PERSISTENT,
                              ZN_WATCH_PERSISTENT_RECURSIVE};
        uint64_t seen = (uint64_t)req->u.set_watches.relative_zxid;
        for (int v = 0; v < 5; v++) {
            struct zn_zk_vec_iter it;
            struct zn_bytes path;
            zn_zk_vec_iter_init(&it, vecs[v]);
            while (zn_zk_vec_next_string(&it, &path))
                zn_watch_rearm(n->watches, n->store, row->id, (const char *)path.ptr,
                               (uint32_t)path.len, kinds[v], seen, node_emit, n);
        }
        node_after_fire(n);
        return 0;
    }
    default:
        return ZN_EUNIMPLEMENTED;
    }
}

static bool node_is_watch_op(int32_t type)
{
    return type == ZN_ZK_OP_ADDWATCH || type == ZN_ZK_OP_REMOVEWATCHES ||
           type == ZN_ZK_OP_CHECKWATCHES || type == ZN_ZK_OP_SETWATCHES ||
           type == ZN_ZK_OP_SETWATCHES2;
}

void node_serve_read(struct zn_node *n, struct zn_session_row *row, uint64_t seq,
                     const struct zn_op *op)
{
    n->rbuf.len = 0;
    n->rbuf.err = 0;
    uint64_t zxid = 0;
    struct zn_identity ids[ZN_AUTH_IDS_MAX];
    uint32_t n_ids = node_auth_ids(n, row, ids, ZN_AUTH_IDS_MAX);
    if (zn_store_read(n->store, row->id, ids, n_ids, op, &n->rbuf, &zxid) != 0) {
        node_reply_error(n, row, seq, ZN_ESYSTEM);
        return;
    }
    uint8_t *body = n->tx + ZN_SESS_HDR_BYTES;
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, body, ZN_MSG_SIZE_MAX_BYTES - ZN_SESS_HDR_BYTES);
    if (zn_zkconv_reply((int32_t)(uint32_t)seq, n->rbuf.p, n->rbuf.len, &w) != 0)
        return;
    struct zn_sess_hdr h = {.kind = ZN_SESS_REPLY,
                            .leader = n->leader,
                            .session_id = row->id,
                            .seq = seq,
                            .ack = row->next_seq - 1,
                            .zxid = zxid};
    node_send_reply(n, row, &h, body, w.len, false);
    node_maybe_watch(n, row, op, zxid);
}

static bool node_is_logged(int32_t type)
{
    return zn_zk_op_is_write(type) || type == ZN_ZK_OP_CLOSESESSION;
}

/* ---- the hold window: requests that arrive before their turn ------------------------------ */

static struct zn_held *node_held_find(struct zn_node *n, uint64_t session, uint64_t seq)
{
    for (uint32_t i = 0; i < ZN_NODE_HELD_MAX && n->n_held; i++)
        if (n->held[i].req && n->held[i].session == session && n->held[i].seq == seq)
            return &n->held[i];
    return NULL;
}

static void node_held_drop(struct zn_node *n, struct zn_held *hd)
{
    free(hd->req);
    memset(hd, 0, sizeof(*hd));
    n->n_held--;
}

/* Keep a request that cannot be taken yet (a gap before it, or an earlier request in flight);
 * false when it cannot be kept (the client's retransmission brings it back). */
static bool node_hold(struct zn_node *n, const struct zn_sess_hdr *h, struct zn_bytes body)
{
    if (node_held_find(n, h->session_id, h->seq))
        return true;
    for (uint32_t i = 0; i < ZN_NODE_HELD_MAX; i++) {
        struct zn_held *hd = &n->held[i];
        if (hd->req)
            continue;
        hd->req = malloc(body.len > 0 ? (size_t)body.len : 1);
        if (!hd->req)
            return false;
        memcpy(hd->req, body.ptr, (size_t)body.len);
        hd->len = (uint32_t)body.len;
        hd->session = h->session_id;
        hd->seq = h->seq;
        hd->flags = h->flags;
        hd->zxid = h->zxid;
        hd->deadline_ns = node_now(n) + ZN_PARK_NS;
        n->n_held++;
        return true;
    }
    return false;
}

/* Take the held requests that are now next in line, in order, while nothing is in flight. */
void node_drain_held(struct zn_node *n, struct zn_session_row *row)
{
    for (uint32_t guard = 0; guard < ZN_NODE_HOLD_WINDOW && n->n_held; guard++) {
        if (row->write_inflight || !(row->flags & ZN_SESSIONS_F_OWNED))
            return;
        struct zn_held *hd = node_held_find(n, row->id, row->next_seq);
        if (!hd)
            return;
        struct zn_sess_hdr h = {.kind = ZN_SESS_REQUEST,
                                .flags = hd->flags,
                                .session_id = hd->session,
                                .seq = hd->seq,
                                .zxid = hd->zxid};
        uint8_t *req = hd->req;
        struct zn_bytes body = zn_bytes_make(req, hd->len);
        hd->req = NULL; /* ownership moves here; freed after the take */
        memset(hd, 0, sizeof(*hd));
        n->n_held--;
        uint64_t before = row->next_seq;
        node_take(n, row, &h, body);
        free(req);
        if (row->next_seq == before && !row->write_inflight)
            return; /* not taken (e.g. parked elsewhere): stop */
    }
}

/* Held requests whose session is gone or that waited too long are dropped (the client
 * retransmits). */
static void node_held_expire(struct zn_node *n, uint64_t now)
{
    for (uint32_t i = 0; i < ZN_NODE_HELD_MAX && n->n_held; i++) {
        struct zn_held *hd = &n->held[i];
        if (!hd->req)
            continue;
        struct zn_session_row *row = zn_sessions_find(&n->sess, hd->session);
        if (now > hd->deadline_ns || !row || !(row->flags & ZN_SESSIONS_F_OWNED) ||
            hd->seq < row->next_seq)
            node_held_drop(n, hd);
    }
}

static void node_handle_request(struct zn_node *n, const struct zn_dp_addr *from,
                                const struct zn_sess_hdr *h, struct zn_bytes body)
{
    struct zn_session_row *row = zn_sessions_find(&n->sess, h->session_id);
    if (!row || !(row->flags & ZN_SESSIONS_F_OWNED)) {
        node_send_refused(n, from->ip, from->port, h->session_id,
                          row ? ZK_SESSIONMOVED : ZK_SESSIONEXPIRED);
        return;
    }
    uint64_t now = node_now(n);
    row->client_ip = from->ip;
    row->client_port = from->port;
    zn_sessions_heard(&n->sess, row, now);
    if (n->draining)
        return;
    node_take(n, row, h, body);
    node_drain_held(n, row);
}

static void node_take(struct zn_node *n, struct zn_session_row *row, const struct zn_sess_hdr *h,
                      struct zn_bytes body)
{
    enum zn_sess_order order = zn_sess_window_classify(row->next_seq, h->seq, ZN_NODE_HOLD_WINDOW);
    bool retry_inflight = row->write_inflight == h->seq;
    bool blocked = row->write_inflight && !retry_inflight && order == ZN_SESS_IN_ORDER;
    if (order == ZN_SESS_EARLY || blocked) {
        /* FIFO: kept until its turn (the hold window, proto/session.h). */
        if (!node_hold(n, h, body))
            n->n_early++;
        return;
    }
    if (order == ZN_SESS_TOO_EARLY) {
        n->n_early++; /* beyond the window: dropped, the client retransmits */
        return;
    }
    struct zn_zk_request req;
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    lim.data_bytes_max = (int32_t)n->cfg.limits.data_bytes_max;
    int rc = zn_zk_request_decode(body.ptr, (size_t)body.len, &lim, &req);
    if (rc == 0 && order == ZN_SESS_IN_ORDER)
        zn_opstats_begin(n->opstats, row->id, h->seq, req.type, node_now(n));
    if (rc == 0 && node_auth_request(n, row, h->seq, &req)) { /* addAuth, whoAmI */
        if (order == ZN_SESS_IN_ORDER)
            row->next_seq++;
        return;
    }
    if (rc == 0 && node_is_watch_op(req.type)) {
        rc = node_watch_request(n, row, &req);
        /* header only (addWatch: and ErrorResponse{0}) on success */
        node_reply_status(n, row, h->seq, rc, req.type == ZN_ZK_OP_ADDWATCH);
        if (order == ZN_SESS_IN_ORDER)
            row->next_seq++;
        return;
    }
    struct zn_op op;
    /* ZooKeeper turns some failures into an error txn (a multi that does not deserialize, a
     * reconfig): logged, it takes a zxid (node/zkconv.h zn_zkconv_error_txn). */
    int txn_err = zn_zkconv_error_txn(&req, rc);
    if (txn_err) {
        memset(&op, 0, sizeof(op));
        op.type = req.type;
    } else if (rc == 0) {
        rc = zn_zkconv_op(&req, n->conv, &op);
    }
    if (rc && !txn_err) {
        /* Malformed or not executable: answered now, in order (ZooKeeper answers the same). */
        node_reply_error(n, row, h->seq, rc == ZN_EPROTO ? ZN_EMARSHALLING : rc);
        if (order == ZN_SESS_IN_ORDER)
            row->next_seq++;
        return;
    }
    if (txn_err || node_is_logged(req.type)) {
        if (order == ZN_SESS_DUPLICATE && !retry_inflight && node_rcache_resend(n, row, h->seq))
            return; /* its reply was lost: the same reply again */
        if (order == ZN_SESS_IN_ORDER)
            row->write_inflight = h->seq;
        if (n->role == ZN_RAFT_LEADER) {
            struct zn_identity ids[ZN_AUTH_IDS_MAX];
            struct zn_entry e = {.type = txn_err ? ZN_ENTRY_ERROR : ZN_ENTRY_CLIENT,
                                 .session = row->id,
                                 .cxid = (int32_t)(uint32_t)h->seq,
                                 .ids = ids,
                                 .op = op,
                                 .err = txn_err};
            e.id_count = node_auth_ids(n, row, ids, ZN_AUTH_IDS_MAX); /* stamped by the leader */
            node_propose_entry(n, &e);
        } else {
            struct zn_nodemsg_ident ids[ZN_AUTH_IDS_MAX];
            struct zn_nodemsg m = {.kind = ZN_NODEMSG_FORWARD, .origin = n->self};
            m.u.fwd.n_ids = (uint16_t)node_auth_fwd_ids(n, row, ids, ZN_AUTH_IDS_MAX);
            m.u.fwd.ids = ids;
            m.u.fwd.op = ZN_FWD_WRITE;
            m.u.fwd.flags = h->flags;
            m.u.fwd.session = row->id;
            m.u.fwd.seq = h->seq;
            m.u.fwd.zxid = h->zxid;
            m.u.fwd.request = body;
            node_forward(n, &m);
        }
        return;
    }
    uint64_t applied = zn_store_applied_zxid(n->store);
    uint64_t seen = h->zxid > row->last_zxid ? h->zxid : row->last_zxid;
    /* sync = a ReadIndex round, answered once this node applied the index: the session's next
     * reads see everything committed before the sync. */
    bool linearizable = (h->flags & ZN_SESS_F_LINEARIZABLE) != 0 || req.type == ZN_ZK_OP_SYNC;
    /* A linearizable read retransmitted after its connection moved can arrive as a duplicate
     * (the reconnect carried a next seq past it): it still waits for a read index, never
     * served from this node's state as it is. */
    bool lin_again = linearizable && order == ZN_SESS_DUPLICATE;
    if ((linearizable || seen > applied) && (order == ZN_SESS_IN_ORDER || lin_again)) {
        /* Park it: a linearizable read waits for a read index (ReadIndex, Raft dissertation
         * 6.4) and then for apply to reach it; a read ahead of this node's apply waits for
         * the apply (rule 3). Later requests of the session wait behind it (FIFO). */
        struct zn_parked *again = node_parked_find(n, row->id, h->seq);
        if (again) {
            /* A retransmission: ask again if the read index never came (lost, no leader). */
            if (again->need_index == UINT64_MAX && again->token == 0)
                node_request_read_index(n, again);
            return;
        }
        struct zn_parked *p = node_park(n, row->id, h->seq, body, linearizable ? UINT64_MAX : seen);
        if (!p) {
            n->n_behind++;
            return;
        }
        if (order == ZN_SESS_IN_ORDER)
            row->write_inflight = h->seq;
        if (linearizable)
            node_request_read_index(n, p);
        return;
    }
    if (seen > applied) {
        n->n_behind++; /* a duplicate ahead of apply: its retry comes later */
        return;
    }
    node_serve_read(n, row, h->seq, &op);
    if (order == ZN_SESS_IN_ORDER)
        row->next_seq++;
}

void node_on_client(struct zn_node *n, const struct zn_dp_addr *from, const uint8_t *data,
                    uint32_t len)
{
    struct zn_sess_hdr h;
    struct zn_bytes body;
    if (zn_sess_decode(data, len, ZN_SESS_TO_SERVER, &h, &body) != 0) {
        n->n_client_dropped++;
        return;
    }
    switch (h.kind) {
    case ZN_SESS_CONNECT:
        node_handle_connect(n, from, &h, body);
        break;
    case ZN_SESS_REQUEST:
        node_handle_request(n, from, &h, body);
        break;
    case ZN_SESS_PING:
    case ZN_SESS_ACK: {
        struct zn_session_row *row = zn_sessions_find(&n->sess, h.session_id);
        if (!row || !(row->flags & ZN_SESSIONS_F_OWNED)) {
            node_send_refused(n, from->ip, from->port, h.session_id,
                              row ? ZK_SESSIONMOVED : ZK_SESSIONEXPIRED);
            return;
        }
        zn_sessions_heard(&n->sess, row, node_now(n));
        if (h.kind == ZN_SESS_ACK) {
            static uint32_t released[256];
            uint32_t k;
            while ((k = zn_sessions_event_ack(&n->sess, row, h.ack, released, 256)) > 0)
                for (uint32_t i = 0; i < k; i++)
                    node_event_free(n, released[i]);
            node_flush_delayed(n, row);
            return;
        }
        struct zn_sess_hdr p = {.kind = ZN_SESS_PONG,
                                .leader = n->leader,
                                .session_id = row->id,
                                .ack = row->next_seq - 1,
                                .zxid = zn_store_applied_zxid(n->store)};
        node_send_client(n, from->ip, from->port, &p, NULL, 0);
        break;
    }
    default:
        n->n_client_dropped++;
    }
}
