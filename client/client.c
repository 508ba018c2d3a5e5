/*
 * client.c - libzinc's handle and I/O thread: the client side of the native UDP protocol
 * (docs/wire-format.md "Native client protocol behaviour" is the contract; this file cites its
 * rules as [Rn]).
 *
 * One I/O thread per handle owns the socket and every piece of protocol state. API threads
 * hand it requests through `submit` (zh->mu) and wake it through an eventfd. The loop:
 *   poll(socket, eventfd, next timer) -> take submitted calls -> receive and reassemble
 *   datagrams, handle messages -> timers (connect, ping, suspend, retransmit, call timeouts)
 *   -> send what the window allows -> deliver completions and events in order.
 *
 * Invariants:
 *  - inflight holds sent requests in seq order, seqs contiguous from its head; pending holds
 *    unsent ones in call order; every pending request comes after every inflight one.
 *  - a request's completion runs exactly once (delivered), in call order; it is freed when it
 *    was delivered and either answered or never sent.
 *  - events are delivered in event-number order, each once, and only after every reply that
 *    arrived before them ([R7]).
 *  - last_zxid never decreases; it moves only on REPLY and EVENT, never on PONG ([R9]).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/zn_client_internal.h"
#include "common/zn_assert.h"
#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "common/zn_log.h"
#include "proto/frame.h"

#define SOCK_BUF_BYTES (8 * 1024 * 1024)
#define RECV_BATCH     256
#define POLL_MAX_MS    100
#define CLOSE_SLACK_MS 50

uint64_t zn_client_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * ZN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

bool zn_client_in_io_thread(zn_handle *zh)
{
    /* io_self is written by the I/O thread itself before it runs any callback, so this also
     * holds for callbacks that run before pthread_create has returned in zn_open. */
    return atomic_load_explicit(&zh->io_self_set, memory_order_acquire) &&
           pthread_equal(pthread_self(), zh->io_self);
}

/* ---- requests and queues ----------------------------------------------------------------- */

struct zn_req *zn_req_new(size_t body_cap)
{
    struct zn_req *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->msg = malloc(ZN_SESS_HDR_BYTES + body_cap);
    if (r->msg == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

void zn_req_free(struct zn_req *r)
{
    if (r == NULL)
        return;
    if (r->op == ZN_ZK_OP_AUTH && r->msg != NULL)
        explicit_bzero(r->msg, r->msg_len); /* the credential */
    free(r->msg);
    free(r->reply);
    free(r->path);
    free(r);
}

/* Free a request that went through the queues (I/O thread). */
static void req_release(zn_handle *zh, struct zn_req *r)
{
    if (r->counted)
        atomic_fetch_sub(&zh->calls_queued, 1);
    if (r->auth_reserved) { /* an addAuth that never got an answer */
        pthread_mutex_lock(&zh->mu);
        zh->auth_reserved--;
        pthread_mutex_unlock(&zh->mu);
    }
    zn_req_free(r);
}

static void q_push(struct zn_queue *q, struct zn_req *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->count++;
}

static struct zn_req *q_pop(struct zn_queue *q)
{
    struct zn_req *r = q->head;
    if (r == NULL)
        return NULL;
    q->head = r->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->count--;
    r->next = NULL;
    return r;
}

/* Unlink r whose predecessor is prev (NULL when r is the head). */
static void q_unlink(struct zn_queue *q, struct zn_req *prev, struct zn_req *r)
{
    if (prev)
        prev->next = r->next;
    else
        q->head = r->next;
    if (q->tail == r)
        q->tail = prev;
    q->count--;
    r->next = NULL;
}

static void stat_add(zn_handle *zh, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&zh->stats_mu);
    *field += n;
    pthread_mutex_unlock(&zh->stats_mu);
}
#define STAT_INC(zh, f) stat_add((zh), &(zh)->stats.f, 1)

/* ---- identities (addAuth) re-sent after a reconnect ----------------------------------------- */

/* The AuthPacket of an addAuth message (after the session header and RequestHeader): equal
 * bytes are the same identity. */
static struct zn_bytes auth_packet(const uint8_t *msg, uint32_t msg_len)
{
    const uint32_t at = ZN_SESS_HDR_BYTES + 8;
    return msg_len > at ? zn_bytes_make(msg + at, msg_len - at) : zn_bytes_make(msg, 0);
}

/* Whether the identity of addAuth message msg is already held. Under mu, or I/O thread. */
static bool auth_known(const zn_handle *zh, const uint8_t *msg, uint32_t msg_len)
{
    struct zn_bytes p = auth_packet(msg, msg_len);
    for (uint32_t i = 0; i < zh->auth_count; i++) {
        struct zn_bytes q = auth_packet(zh->auths[i].msg, zh->auths[i].msg_len);
        if (p.len == q.len && memcmp(p.ptr, q.ptr, (size_t)p.len) == 0)
            return true;
    }
    return false;
}

/* Forget every identity, wiping the credentials (terminal state, close). I/O thread or the
 * last owner of the handle. */
static void auth_wipe(zn_handle *zh)
{
    pthread_mutex_lock(&zh->mu);
    for (uint32_t i = 0; i < zh->auth_count; i++) {
        explicit_bzero(zh->auths[i].msg, zh->auths[i].msg_len);
        free(zh->auths[i].msg);
    }
    explicit_bzero(zh->auths, sizeof(zh->auths));
    zh->auth_count = 0;
    pthread_mutex_unlock(&zh->mu);
    zh->auth_replaying = 0;
}

/* addAuth r was answered (I/O thread): a new identity is kept, in seq order, for re-sending. */
static void auth_answered(zn_handle *zh, struct zn_req *r)
{
    pthread_mutex_lock(&zh->mu);
    if (r->auth_reserved) {
        zh->auth_reserved--;
        r->auth_reserved = false;
    }
    if (r->rc == 0) {
        r->auth_ok = true;
        uint8_t *copy = NULL;
        if (!auth_known(zh, r->msg, r->msg_len) && zh->auth_count < ZN_CLIENT_AUTH_MAX &&
            (copy = malloc(r->msg_len)) != NULL) {
            memcpy(copy, r->msg, r->msg_len);
            uint32_t i = zh->auth_count;
            for (; i > 0 && zh->auths[i - 1].seq > r->seq; i--)
                zh->auths[i] = zh->auths[i - 1]; /* replies may arrive out of seq order */
            memset(&zh->auths[i], 0, sizeof(zh->auths[i]));
            zh->auths[i].msg = copy;
            zh->auths[i].msg_len = r->msg_len;
            zh->auths[i].seq = r->seq;
            zh->auth_count++;
        } else if (!auth_known(zh, r->msg, r->msg_len)) {
            /* Cannot happen (slots are reserved at the call); out of memory at worst. */
            ZN_WARN("client",
                    "session 0x%llx: an identity could not be kept: it will not be "
                    "re-sent after a reconnect",
                    (unsigned long long)zh->session);
        }
    }
    pthread_mutex_unlock(&zh->mu);
}

int zn_client_submit(zn_handle *zh, struct zn_req *r)
{
    int rc = 0;
    pthread_mutex_lock(&zh->mu);
    int term = atomic_load(&zh->terminal_rc);
    bool new_auth = r->op == ZN_ZK_OP_AUTH && !auth_known(zh, r->msg, r->msg_len);
    bool auth_full = false;
    if (term != 0)
        rc = term;
    else if (atomic_load(&zh->calls_queued) >= ZN_CLIENT_QUEUE_MAX)
        rc = ZN_EFULL; /* submitted + pending + in flight: bounded, even while suspended */
    else if ((auth_full = new_auth && zh->auth_count + zh->auth_reserved >= ZN_CLIENT_AUTH_MAX))
        rc = ZN_ELIMIT; /* every identity is re-sent after a reconnect: bounded */
    else {
        if (new_auth) {
            zh->auth_reserved++;
            r->auth_reserved = true;
        }
        atomic_fetch_add(&zh->calls_queued, 1);
        r->counted = true;
        r->linearizable = r->is_read && atomic_load(&zh->linearizable); /* fixed at the call */
        if (zh->opts.request_timeout_ms != 0 && r->deadline_ns == 0)
            r->deadline_ns =
                zn_client_now_ns() + (uint64_t)zh->opts.request_timeout_ms * ZN_NS_PER_MS;
        q_push(&zh->submit, r);
    }
    pthread_mutex_unlock(&zh->mu);
    if (auth_full)
        ZN_WARN("client",
                "addAuth refused: the handle already holds %u identities "
                "(ZN_CLIENT_AUTH_MAX), each re-sent after a reconnect",
                ZN_CLIENT_AUTH_MAX);
    if (rc != 0) {
        zn_req_free(r);
        return rc;
    }
    uint64_t one = 1;
    ssize_t w = write(zh->efd, &one, sizeof(one));
    (void)w; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
    return 0;
}

/* ---- sending ----------------------------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Segment and send one session message to the current node ([R1]). Returns 0, or -1 when the
 * socket refused (the retransmission timer will try again). */
static int send_msg(zn_handle *zh, const uint8_t *msg, uint32_t len, uint64_t msg_id)
{
    enum { BATCH = 32 };
    static _Thread_local uint8_t dgrams[BATCH][ZN_FRAME_DGRAM_MAX_BYTES];
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    const struct zn_node_addr *to = &zh->nodes[zh->cur_node];
    struct zn_frame_hdr base;
    memset(&base, 0, sizeof(base));
    base.type = ZN_FRAME_CLIENT;
    base.cluster_id = zh->opts.cluster_id;
    base.msg_id = msg_id;
    uint32_t segs = zn_frame_seg_count(len);
    uint32_t i = 0;
    while (i < segs) {
        uint32_t n = 0;
        for (; n < BATCH && i + n < segs; n++) {
            struct zn_frame_hdr h;
            long off = zn_frame_segment(&base, len, i + n, &h);
            ZN_ASSERT(off >= 0);
            int dl = zn_frame_encode(&h, msg + off, dgrams[n], sizeof(dgrams[n]));
            ZN_ASSERT(dl > 0);
            iov[n].iov_base = dgrams[n];
            iov[n].iov_len = (size_t)dl;
            memset(&mm[n], 0, sizeof(mm[n]));
            mm[n].msg_hdr.msg_iov = &iov[n];
            mm[n].msg_hdr.msg_iovlen = 1;
            mm[n].msg_hdr.msg_name = (void *)&to->sa;
            mm[n].msg_hdr.msg_namelen = to->len;
        }
        int sent = sendmmsg(zh->fd, mm, n, 0);
        if (sent <= 0) {
            if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED)
                ZN_DEBUG("client", "sendmmsg: %s", strerror(errno));
            return -1;
        }
        stat_add(zh, &zh->stats.datagrams_sent, (uint64_t)sent);
        i += (uint32_t)sent;
    }
    zh->last_send_ns = zn_client_now_ns();
    return 0;
}

static void put_hdr(zn_handle *zh, uint8_t *out, uint8_t kind, uint8_t flags, uint64_t seq)
{
    struct zn_sess_hdr h = {
        .kind = kind,
        .flags = flags,
        .session_id = zh->session,
        .seq = seq,
        .ack = zh->ev_next - 1,
        .zxid = zh->last_zxid,
    };
    int rc = zn_sess_hdr_encode(&h, out);
    ZN_ASSERT(rc == (int)ZN_SESS_HDR_BYTES);
}

static void send_bare(zn_handle *zh, uint8_t kind)
{
    uint8_t msg[ZN_SESS_HDR_BYTES];
    put_hdr(zh, msg, kind, 0, 0);
    (void)send_msg(zh, msg, sizeof(msg), zh->next_msg_id++);
}

/* The first seq the node must take from us: the oldest unanswered request, else the next. */
static uint64_t first_needed_seq(zn_handle *zh)
{
    for (struct zn_req *r = zh->inflight.head; r; r = r->next) {
        if (!r->answered)
            return r->seq;
    }
    return zh->next_seq;
}

/* [R2] CONNECT{protocol 0, last zxid, timeout, session id, password or nonce}. */
static void send_connect(zn_handle *zh)
{
    uint8_t msg[ZN_SESS_HDR_BYTES + 64];
    struct zn_sess_hdr h = {
        .kind = ZN_SESS_CONNECT,
        .session_id = zh->session,
        .seq = first_needed_seq(zh),
        .ack = zh->conn_epoch,
        .zxid = zh->last_zxid,
    };
    ZN_ASSERT(zn_sess_hdr_encode(&h, msg) == (int)ZN_SESS_HDR_BYTES);
    struct zn_zk_connect_request cr = {
        .protocol_version = 0,
        .last_zxid_seen = (int64_t)zh->last_zxid,
        .timeout_ms = (int32_t)zh->opts.session_timeout_ms,
        .session_id = (int64_t)zh->session,
        .passwd = zh->session ? zn_bytes_make(zh->passwd, (size_t)zh->passwd_len)
                              : zn_bytes_make(zh->nonce, sizeof(zh->nonce)),
        .read_only = false,
        .has_read_only = true,
    };
    long n = zn_zk_connect_request_encode(&cr, msg + ZN_SESS_HDR_BYTES, 64);
    ZN_ASSERT(n > 0);
    (void)send_msg(zh, msg, (uint32_t)(ZN_SESS_HDR_BYTES + (size_t)n), zh->next_msg_id++);
    STAT_INC(zh, connects_sent);
}

/* Writes go through Raft and the WAL, reads do not: each class has its own estimator, so a
 * slow commit does not look like a lost reply to a client whose reads are fast. [R4] */
static int rtt_class(const struct zn_req *r)
{
    return zn_zk_op_is_write(r->op) ? 1 : 0;
}

static uint64_t req_rto(zn_handle *zh, const struct zn_req *r)
{
    /* Add the serialisation time of large messages at ~1 Gbit/s (8 ns per byte). */
    uint64_t rto = zh->rto_ns[rtt_class(r)] + (uint64_t)r->msg_len * 8u;
    return rto > ZN_CLIENT_RTO_MAX_NS ? ZN_CLIENT_RTO_MAX_NS : rto;
}

/* Send (first time or again) request r, which already has its seq. [R3] [R4] */
static void send_request(zn_handle *zh, struct zn_req *r, uint64_t now)
{
    uint8_t flags = 0;
    if (r->sends > 0)
        flags |= ZN_SESS_F_RETRY;
    if (r->is_read && r->linearizable)
        flags |= ZN_SESS_F_LINEARIZABLE;
    put_hdr(zh, r->msg, ZN_SESS_REQUEST, flags, r->seq);
    (void)send_msg(zh, r->msg, r->msg_len, r->msg_id);
    if (r->sends == 0) {
        r->first_send_ns = now;
        r->rto_ns = req_rto(zh, r);
        STAT_INC(zh, requests_sent);
    } else {
        uint64_t next = r->rto_ns * 2;
        r->rto_ns = next > ZN_CLIENT_RTO_MAX_NS ? ZN_CLIENT_RTO_MAX_NS : next;
        STAT_INC(zh, retransmits);
    }
    r->sends++;
    r->last_send_ns = now;
}

/* RFC 6298 estimator from an unambiguous sample (Karn: only requests sent once). */
static void rtt_sample(zn_handle *zh, int cls, uint64_t rtt)
{
    uint64_t *srtt = &zh->srtt_ns[cls], *rttvar = &zh->rttvar_ns[cls];
    if (*srtt == 0) {
        *srtt = rtt;
        *rttvar = rtt / 2;
    } else {
        uint64_t d = *srtt > rtt ? *srtt - rtt : rtt - *srtt;
        *rttvar = (3 * *rttvar + d) / 4;
        *srtt = (7 * *srtt + rtt) / 8;
    }
    uint64_t rto = *srtt + 4 * *rttvar;
    if (rto < ZN_CLIENT_RTO_MIN_NS)
        rto = ZN_CLIENT_RTO_MIN_NS;
    if (rto > ZN_CLIENT_RTO_MAX_NS)
        rto = ZN_CLIENT_RTO_MAX_NS;
    zh->rto_ns[cls] = rto;
}

/* ---- state changes ----------------------------------------------------------------------- */

/* New state, then the callbacks, then wake zn_open: the CONNECTED callback has run before
 * zn_open returns. */
static void set_state(zn_handle *zh, int state)
{
    int old = atomic_exchange(&zh->state, state);
    if (old != state) {
        ZN_INFO("client", "session 0x%llx: state %d -> %d", (unsigned long long)zh->session, old,
                state);
        if (zh->opts.state_cb)
            zh->opts.state_cb(zh, state, zh->opts.state_ctx);
        if (zh->opts.watcher)
            zh->opts.watcher(zh, ZN_EVENT_SESSION, state, "", zh->opts.watcher_ctx);
    }
    pthread_mutex_lock(&zh->mu);
    zh->state_seen = state;
    pthread_cond_broadcast(&zh->cv);
    pthread_mutex_unlock(&zh->mu);
}

static void start_attempt(zn_handle *zh, uint64_t now)
{
    zh->conn_epoch++; /* [R2] a new attempt: its CONNECTs and CONNECTED carry this number */
    zh->connect_started_ns = now;
    zh->connect_next_ns = now;
    zh->connect_backoff_ns = ZN_CLIENT_RTO_INITIAL_NS;
    atomic_store(&zh->cur_node_pub, zh->cur_node);
}

/* [R5] The node went silent: keep the session, try the next node. */
static void suspend(zn_handle *zh, uint64_t now)
{
    zn_log_ratelimited(ZN_LOG_WARN, "client", "session 0x%llx: node %d silent, reconnecting",
                       (unsigned long long)zh->session, zh->cur_node);
    zh->cur_node = (zh->cur_node + 1) % zh->node_count;
    zn_reasm_fini(&zh->reasm);
    (void)zn_reasm_init(&zh->reasm, 8, ZN_REASM_BYTES_DEFAULT, ZN_REASM_TIMEOUT_NS_DEFAULT);
    start_attempt(zh, now);
    set_state(zh, ZN_STATE_SUSPENDED);
}

/* Events held ahead of a gap: they belong to one connection's numbering. */
static void free_early_events(zn_handle *zh)
{
    for (uint32_t i = 0; i < ZN_CLIENT_EVENT_WINDOW; i++) {
        if (zh->ev_early[i]) {
            free(zh->ev_early[i]->path);
            free(zh->ev_early[i]);
            zh->ev_early[i] = NULL;
        }
    }
}

static void free_events(zn_handle *zh)
{
    while (zh->ev_head) {
        struct zn_event *e = zh->ev_head;
        zh->ev_head = e->next;
        free(e->path);
        free(e);
    }
    zh->ev_tail = NULL;
    free_early_events(zh);
}

/* Terminal: the state callback first, then every call not yet completed fails with rc in call
 * order, then every watch registration hears the final state. */
static void terminate(zn_handle *zh, int state, int rc)
{
    pthread_mutex_lock(&zh->mu);
    atomic_store(&zh->terminal_rc, rc);
    while (zh->submit.head)
        q_push(&zh->pending, q_pop(&zh->submit));
    pthread_mutex_unlock(&zh->mu);
    free_events(zh);
    set_state(zh, state);
    struct zn_queue *qs[2] = {&zh->inflight, &zh->pending};
    for (int i = 0; i < 2; i++) {
        struct zn_req *r;
        while ((r = q_pop(qs[i])) != NULL) {
            if (!r->delivered) {
                if (!r->answered) {
                    r->failed = true;
                    r->rc = rc;
                }
                zn_ops_complete(zh, r);
            }
            req_release(zh, r);
        }
    }
    zh->inflight_bytes = 0;
    auth_wipe(zh); /* the session is over: its identities are of no further use */
    zn_watch_notify_all(zh, state);
}

/* ---- receiving --------------------------------------------------------------------------- */

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
                      const struct zn_node_addr *n)
{
    if (a->ss_family != n->sa.ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)&n->sa;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&n->sa;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return alen == n->len && memcmp(a, &n->sa, alen) == 0;
}

/* Send every unanswered request again (with RETRY), and the answered addAuth calls the new
 * connection must take again in their place in the seq order. [R5] [R12] */
static void resend_inflight(zn_handle *zh, uint64_t now)
{
    for (struct zn_req *r = zh->inflight.head; r; r = r->next) {
        if (!r->answered || r->replay_due)
            send_request(zh, r, now);
    }
}

static void send_auth_rec(zn_handle *zh, struct zn_auth_rec *a, uint64_t now)
{
    put_hdr(zh, a->msg, ZN_SESS_REQUEST, ZN_SESS_F_RETRY, a->seq);
    (void)send_msg(zh, a->msg, a->msg_len, a->msg_id);
    a->last_send_ns = now;
}

/* [R12] A new connection holds none of the session's identities (the node keeps them per
 * connection, as ZooKeeper does): send them again, in their original order, before any request
 * of this connection. An identity acquired by a call older than every unanswered request
 * (seq < first_needed_seq) is re-sent with its original seq, which the node has already taken
 * (it runs such an addAuth again and answers it at once, outside the seq order); no request is
 * sent or resent until all of those are answered. An identity acquired by a call still in
 * `inflight` behind an unanswered request is resent there, in seq order, with the resent
 * requests. Returns the number of identities re-sent. */
static uint32_t auth_replay_start(zn_handle *zh, uint64_t now)
{
    uint64_t first = first_needed_seq(zh);
    uint32_t n = 0;
    zh->auth_replaying = 0;
    for (struct zn_req *r = zh->inflight.head; r; r = r->next) {
        r->replay_due = r->answered && r->auth_ok && r->seq > first;
        n += r->replay_due;
    }
    for (uint32_t i = 0; i < zh->auth_count; i++) {
        struct zn_auth_rec *a = &zh->auths[i];
        a->waiting = a->seq < first;
        if (!a->waiting)
            continue;
        a->msg_id = zh->next_msg_id++;
        a->rto_ns = zh->rto_ns[0];
        send_auth_rec(zh, a, now);
        zh->auth_replaying++;
        n++;
    }
    if (n > 0) {
        ZN_INFO("client", "session 0x%llx: re-sending %u identities to node %d",
                (unsigned long long)zh->session, n, zh->cur_node);
        stat_add(zh, &zh->stats.auths_resent, n);
    }
    return n;
}

/* The node answered a re-sent identity. Any refusal ends the session: its calls were made with
 * identities this connection no longer has (ZooKeeper's client ends it with AUTH_FAILED). */
static void auth_replay_answered(zn_handle *zh, int32_t err)
{
    if (err != 0) {
        ZN_WARN("client", "session 0x%llx: node %d refused a re-sent identity (%s): session ends",
                (unsigned long long)zh->session, zh->cur_node, zn_zk_err_name(err));
        terminate(zh, ZN_STATE_AUTH_FAILED, ZN_EAUTHFAILED);
    }
}

/* A reply to a re-sent identity of auth_replay_start (seq below first_needed_seq)? Handled
 * here then. */
static bool auth_replay_reply(zn_handle *zh, const struct zn_sess_hdr *h, struct zn_bytes body,
                              uint64_t now)
{
    struct zn_auth_rec *a = NULL;
    for (uint32_t i = 0; i < zh->auth_count && a == NULL; i++) {
        if (zh->auths[i].waiting && zh->auths[i].seq == h->seq)
            a = &zh->auths[i];
    }
    if (a == NULL)
        return false;
    struct zn_jute_reader rd;
    zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
    struct zn_zk_reply_header rh;
    if (zn_zk_get_reply_header(&rd, &rh) != 0 || rh.xid != (int32_t)(uint32_t)a->seq) {
        STAT_INC(zh, datagrams_dropped);
        return true;
    }
    STAT_INC(zh, replies);
    a->waiting = false;
    zh->auth_replaying--;
    auth_replay_answered(zh, rh.err);
    if (atomic_load(&zh->terminal_rc) == 0 && zh->auth_replaying == 0)
        resend_inflight(zh, now); /* every identity is back: the requests may follow */
    return true;
}

static void handle_connected(zn_handle *zh, const struct zn_sess_hdr *h, struct zn_bytes body,
                             uint8_t sender, uint64_t now)
{
    int st = atomic_load(&zh->state);
    if ((st != ZN_STATE_CONNECTING && st != ZN_STATE_SUSPENDED) || h->seq != zh->conn_epoch)
        return; /* a duplicate answer, or one to an earlier attempt */
    struct zn_zk_connect_response resp;
    if (zn_zk_connect_response_decode(body.ptr, (size_t)body.len, &resp) != 0 ||
        resp.session_id == 0 || (uint64_t)resp.session_id != h->session_id ||
        resp.timeout_ms <= 0 || resp.passwd.len < 0) {
        STAT_INC(zh, datagrams_dropped);
        return;
    }
    if (zh->session != 0 && (uint64_t)resp.session_id != zh->session) {
        STAT_INC(zh, datagrams_dropped);
        return; /* not our session: ignore, keep trying */
    }
    bool reconnect = zh->ever_connected;
    /* [R9] The first CONNECTED's zxid covers the session's creation, so a later node never
     * answers "unknown session" for lack of it. Not on a reconnect: setWatches2 must carry the
     * zxid of what this client has actually seen ([R8]). */
    if (!reconnect && h->zxid > zh->last_zxid)
        zh->last_zxid = h->zxid;
    zh->session = (uint64_t)resp.session_id;
    zh->passwd_len = resp.passwd.len;
    if (resp.passwd.len > 0)
        memcpy(zh->passwd, resp.passwd.ptr, (size_t)resp.passwd.len);
    zh->negotiated_ms = (uint32_t)resp.timeout_ms;
    zh->cur_sender = sender;
    /* [R6] Event numbers restart with each connection. Events taken in order (and acked)
     * but not yet delivered stay queued; only those held beyond a gap are dropped: they were
     * never acked and their zxid never adopted, so setWatches2 reports the change again for
     * one-shot watches (persistent watches, as in ZooKeeper, are re-added without a check). */
    zh->ev_next = 1;
    free_early_events(zh);
    zh->last_recv_ns = now;
    zh->last_ping_ns = now;
    zh->ever_connected = true;
    atomic_store(&zh->session_id, (long long)zh->session);
    atomic_store(&zh->timeout_ms, resp.timeout_ms);
    atomic_store(&zh->leader_pub, h->leader);
    if (reconnect) {
        STAT_INC(zh, reconnects);
        (void)auth_replay_start(zh, now); /* [R12] identities first */
        /* [R8] watches live on the node: re-register them, ahead of unsent calls. */
        struct zn_req *sw = zn_ops_set_watches(zh);
        if (sw != NULL) {
            sw->next = zh->pending.head;
            zh->pending.head = sw;
            if (zh->pending.tail == NULL)
                zh->pending.tail = sw;
            zh->pending.count++;
        }
    }
    /* Retransmit what is unanswered at once, with the RETRY flag [R5]; after the re-sent
     * identities when there are any [R12]. */
    if (zh->auth_replaying == 0)
        resend_inflight(zh, now);
    set_state(zh, ZN_STATE_CONNECTED);
}

static struct zn_req *find_inflight(zn_handle *zh, uint64_t seq)
{
    struct zn_req *head = zh->inflight.head;
    if (head == NULL || seq < head->seq || seq >= zh->next_seq)
        return NULL;
    for (struct zn_req *r = head; r; r = r->next) {
        if (r->seq == seq)
            return r;
    }
    return NULL;
}

static void handle_reply(zn_handle *zh, const struct zn_sess_hdr *h, struct zn_bytes body,
                         uint64_t now)
{
    if (zh->auth_replaying > 0 && auth_replay_reply(zh, h, body, now))
        return;
    struct zn_req *r = find_inflight(zh, h->seq);
    if (r != NULL && r->answered && r->replay_due) {
        /* An answered addAuth resent to a new connection: the node took it again. */
        struct zn_jute_reader rd0;
        zn_jute_reader_init(&rd0, body.ptr, (size_t)body.len);
        struct zn_zk_reply_header rh0;
        if (zn_zk_get_reply_header(&rd0, &rh0) == 0 && rh0.xid == (int32_t)(uint32_t)r->seq) {
            r->replay_due = false;
            auth_replay_answered(zh, rh0.err);
        }
        return;
    }
    if (r == NULL || r->answered) {
        STAT_INC(zh, duplicate_replies);
        return;
    }
    struct zn_jute_reader rd;
    zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
    struct zn_zk_reply_header rh;
    if (zn_zk_get_reply_header(&rd, &rh) != 0 || rh.xid != (int32_t)(uint32_t)r->seq) {
        STAT_INC(zh, datagrams_dropped);
        return;
    }
    size_t rest = zn_jute_remaining(&rd);
    if (rest > 0) {
        r->reply = malloc(rest);
        if (r->reply == NULL)
            return; /* treat as lost: the retransmission brings it back */
        memcpy(r->reply, body.ptr + rd.pos, rest);
    }
    r->reply_len = (uint32_t)rest;
    r->answered = true;
    r->rc = rh.err == 0 ? 0 : zn_err_from_zk(rh.err);
    STAT_INC(zh, replies);
    if (r->sends == 1)
        rtt_sample(zh, rtt_class(r), now - r->first_send_ns);
    if (rh.zxid > 0 && (uint64_t)rh.zxid > zh->last_zxid)
        zh->last_zxid = (uint64_t)rh.zxid;
    if (r->seq > zh->max_answered_seq)
        zh->max_answered_seq = r->seq;
    if (r->op == ZN_ZK_OP_AUTH)
        auth_answered(zh, r);
    ZN_ASSERT(zh->inflight_bytes >= r->msg_len);
    zh->inflight_bytes -= r->msg_len;
    /* Settle the tentative watch ([R7]): exists on a missing node leaves an exist watch. */
    if (r->wid != 0) {
        if (r->rc == ZN_ENONODE && r->rtype == ZN_R_EXISTS)
            zn_watch_set_kind(&zh->watches, r->path, r->wid, ZN_WK_EXIST);
        else if (r->rc != 0)
            zn_watch_remove_id(&zh->watches, r->path, r->wid);
    }
}

/* Accept in-order event e (number == ev_next). */
static void take_event(zn_handle *zh, struct zn_event *e)
{
    if (e->zxid > zh->last_zxid)
        zh->last_zxid = e->zxid;
    e->barrier_seq = zh->max_answered_seq;
    e->next = NULL;
    if (zh->ev_tail)
        zh->ev_tail->next = e;
    else
        zh->ev_head = e;
    zh->ev_tail = e;
    zh->ev_next++;
}

static void handle_event(zn_handle *zh, const struct zn_sess_hdr *h, struct zn_bytes body)
{
    zh->ack_due = true; /* re-ack duplicates too: our ACK may have been lost */
    if (h->seq < zh->ev_next) {
        STAT_INC(zh, duplicate_events);
        return;
    }
    if (h->seq - zh->ev_next >= ZN_CLIENT_EVENT_WINDOW)
        return; /* too early: the node retransmits it */
    uint32_t slot = (uint32_t)(h->seq % ZN_CLIENT_EVENT_WINDOW);
    if (h->seq > zh->ev_next && zh->ev_early[slot] != NULL) {
        STAT_INC(zh, duplicate_events);
        return;
    }
    struct zn_jute_reader rd;
    zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
    struct zn_zk_reply_header rh;
    struct zn_zk_watch_event we;
    if (zn_zk_get_reply_header(&rd, &rh) != 0 || rh.xid != ZN_ZK_XID_WATCH_EVENT ||
        zn_zk_get_watch_event(&rd, &we) != 0 || we.path.len < 0) {
        STAT_INC(zh, datagrams_dropped);
        return;
    }
    struct zn_event *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return;
    e->path = zn_bytes_dup(we.path);
    if (e->path == NULL) {
        free(e);
        return;
    }
    e->type = we.type;
    e->state = we.state;
    e->zxid = rh.zxid > 0 ? (uint64_t)rh.zxid : 0;
    if (h->seq > zh->ev_next) {
        STAT_INC(zh, early_events);
        zh->ev_early[slot] = e;
        return;
    }
    take_event(zh, e);
    /* Drain the held events that are now in order. */
    for (uint32_t i = 0; i < ZN_CLIENT_EVENT_WINDOW; i++) {
        uint32_t s = (uint32_t)(zh->ev_next % ZN_CLIENT_EVENT_WINDOW);
        if (zh->ev_early[s] == NULL)
            break;
        struct zn_event *n = zh->ev_early[s];
        zh->ev_early[s] = NULL;
        take_event(zh, n);
    }
}

static void handle_refused(zn_handle *zh, const struct zn_sess_hdr *h, struct zn_bytes body,
                           uint64_t now)
{
    struct zn_jute_reader rd;
    zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
    int32_t code = zn_jute_get_int(&rd);
    if (rd.err)
        return;
    if (h->session_id != zh->session)
        return; /* about another session */
    int st = atomic_load(&zh->state);
    /* A refusal repeats with every connect retry (every few ms while throttled): rate-limited. */
    zn_log_ratelimited(ZN_LOG_WARN, "client", "session 0x%llx refused by node %d: %s",
                       (unsigned long long)zh->session, zh->cur_node, zn_zk_err_name(code));
    switch (code) {
    case ZK_SESSIONEXPIRED:
        terminate(zh, ZN_STATE_EXPIRED, ZN_ESESSIONEXPIRED);
        return;
    case ZK_UNKNOWNSESSION:
        if (zh->ever_connected) {
            terminate(zh, ZN_STATE_EXPIRED, ZN_ESESSIONEXPIRED);
            return;
        }
        break;
    case ZK_AUTHFAILED:
        terminate(zh, ZN_STATE_AUTH_FAILED, ZN_EAUTHFAILED);
        return;
    case ZK_SESSIONMOVED:
        /* The node no longer considers us connected to it: CONNECT again, same node. */
        if (st == ZN_STATE_CONNECTED) {
            zn_reasm_fini(&zh->reasm);
            (void)zn_reasm_init(&zh->reasm, 8, ZN_REASM_BYTES_DEFAULT, ZN_REASM_TIMEOUT_NS_DEFAULT);
            start_attempt(zh, now);
            set_state(zh, ZN_STATE_SUSPENDED);
        }
        return;
    default:
        break;
    }
    /* Throttled or any other refusal while connecting: move to the next node. */
    if (st == ZN_STATE_CONNECTING || st == ZN_STATE_SUSPENDED) {
        zh->cur_node = (zh->cur_node + 1) % zh->node_count;
        start_attempt(zh, now);
        zh->connect_next_ns = now + zh->connect_backoff_ns;
    }
}

static void handle_msg(zn_handle *zh, const uint8_t *data, uint32_t len, uint8_t sender,
                       uint64_t now)
{
    struct zn_sess_hdr h;
    struct zn_bytes body;
    if (zn_sess_decode(data, len, ZN_SESS_TO_CLIENT, &h, &body) != 0) {
        STAT_INC(zh, datagrams_dropped);
        return;
    }
    int st = atomic_load(&zh->state);
    if (h.kind == ZN_SESS_CONNECTED) {
        handle_connected(zh, &h, body, sender, now);
        return;
    }
    if (h.kind == ZN_SESS_REFUSED) {
        handle_refused(zh, &h, body, now);
        return;
    }
    if (st != ZN_STATE_CONNECTED || h.session_id != zh->session || sender != zh->cur_sender) {
        STAT_INC(zh, datagrams_dropped);
        return;
    }
    zh->last_recv_ns = now;
    atomic_store(&zh->leader_pub, h.leader);
    switch (h.kind) {
    case ZN_SESS_REPLY:
        handle_reply(zh, &h, body, now);
        break;
    case ZN_SESS_EVENT:
        handle_event(zh, &h, body);
        break;
    case ZN_SESS_PONG:
        break;
    default:
        STAT_INC(zh, datagrams_dropped);
        break;
    }
}

/* SO_RXQ_OVFL: each datagram carries the socket's cumulative drop count; count its growth (a
 * large reply whose tail the kernel dropped shows up here, not as a protocol error). */
static void note_kernel_drops(zn_handle *zh, struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
            c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
            continue;
        uint32_t drops;
        memcpy(&drops, CMSG_DATA(c), sizeof(drops));
        uint32_t grew = drops - zh->kernel_drops_seen;
        if (grew != 0 && grew < (1u << 31)) {
            stat_add(zh, &zh->stats.kernel_dropped, grew);
            zh->kernel_drops_seen = drops;
        }
    }
}

static void receive(zn_handle *zh, uint64_t now)
{
    struct zn_frame_expect expect = {.cluster_id = zh->opts.cluster_id, .self_node = 0};
    for (int i = 0; i < RECV_BATCH; i++) {
        struct sockaddr_storage from;
        struct iovec iov = {.iov_base = zh->rxbuf, .iov_len = ZN_FRAME_DGRAM_MAX_BYTES + 1};
        union {
            char buf[CMSG_SPACE(sizeof(uint32_t))];
            struct cmsghdr align;
        } ctl;
        struct msghdr mh = {.msg_name = &from,
                            .msg_namelen = sizeof(from),
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.buf,
                            .msg_controllen = sizeof(ctl.buf)};
        ssize_t n = recvmsg(zh->fd, &mh, 0);
        if (n < 0)
            break;
        socklen_t flen = mh.msg_namelen;
        note_kernel_drops(zh, &mh);
        if (!same_addr(&from, flen, &zh->nodes[zh->cur_node])) {
            STAT_INC(zh, datagrams_dropped);
            continue;
        }
        struct zn_frame_hdr fh;
        if (zn_frame_decode(zh->rxbuf, (size_t)n, &expect, &fh) != 0 ||
            fh.type != ZN_FRAME_SERVER) {
            STAT_INC(zh, datagrams_dropped);
            continue;
        }
        STAT_INC(zh, datagrams_received);
        struct zn_reasm_msg m;
        /* Only the current node's datagrams get here: its index names the source. */
        int rc = zn_reasm_add(&zh->reasm, &fh, zh->rxbuf + ZN_FRAME_HDR_BYTES,
                              (uint64_t)zh->cur_node, now, &m);
        if (rc < 0) {
            STAT_INC(zh, datagrams_dropped);
            continue;
        }
        if (rc == 1) {
            handle_msg(zh, m.data, m.len, fh.sender, now);
            zn_reasm_msg_release(&zh->reasm, &m);
            if (atomic_load(&zh->terminal_rc) != 0)
                return;
        }
    }
}

/* ---- the send window and timers ---------------------------------------------------------- */

/* Move submitted calls to pending; settle local-only ones. */
static void take_submitted(zn_handle *zh)
{
    pthread_mutex_lock(&zh->mu);
    struct zn_req *list = zh->submit.head;
    zh->submit.head = zh->submit.tail = NULL;
    zh->submit.count = 0;
    pthread_mutex_unlock(&zh->mu);
    while (list) {
        struct zn_req *r = list;
        list = r->next;
        r->next = NULL;
        if (r->op == ZN_ZK_OP_REMOVEWATCHES && r->wlocal) {
            /* Local removal needs no node: it completes at once, outside the call order. */
            if (zn_watch_count(&zh->watches, r->path, r->wtype, r->wfn, r->wctx, r->wany_fn) == 0) {
                r->rc = ZN_ENOWATCHER;
            } else {
                r->answered = true;
                r->rc = 0;
            }
            r->delivered = true;
            zn_ops_complete(zh, r);
            req_release(zh, r);
            continue;
        }
        q_push(&zh->pending, r);
    }
}

/* The node takes requests in seq order: a new request sent behind an unanswered one whose
 * retransmission timer has backed off would wait for it. Resend that oldest one now if it was
 * last sent more than one base RTO ago (once per new request, so never a storm). [R4] */
static void repair_gap(zn_handle *zh, uint64_t now)
{
    for (struct zn_req *o = zh->inflight.head; o; o = o->next) {
        if (o->answered)
            continue;
        if (now - o->last_send_ns >= zh->rto_ns[rtt_class(o)])
            send_request(zh, o, now);
        return;
    }
}

/* [R3] Send unsent calls in order while the window allows. */
static void fill_window(zn_handle *zh, uint64_t now)
{
    if (zh->auth_replaying > 0)
        return; /* [R12] the connection gets its identities back first */
    while (zh->pending.head) {
        struct zn_req *r = zh->pending.head;
        if (r->failed)
            break; /* waits for in-order delivery */
        if (zh->inflight.count >= ZN_CLIENT_INFLIGHT_MAX)
            break;
        if (zh->inflight.count > 0 &&
            zh->inflight_bytes + r->msg_len > ZN_CLIENT_INFLIGHT_BYTES_MAX)
            break;
        /* removeWatches: with no matching watcher the answer is NOWATCHER without asking
         * the node. Checked here, in call order, after earlier calls registered theirs. */
        if (r->op == ZN_ZK_OP_REMOVEWATCHES &&
            zn_watch_count(&zh->watches, r->path, r->wtype, r->wfn, r->wctx, r->wany_fn) == 0) {
            r->failed = true;
            r->rc = ZN_ENOWATCHER;
            break;
        }
        /* The node keeps one watch per session and path: removing one watcher while another
         * watcher of this session still waits on the path must not end the node's watch (that
         * one would never hear of the change), so that removal is done here only (rc 0 at the
         * in-order delivery drops the matching watchers). */
        if (r->op == ZN_ZK_OP_REMOVEWATCHES && !r->wany_fn &&
            zn_watch_count(&zh->watches, r->path, r->wtype, NULL, NULL, true) >
                zn_watch_count(&zh->watches, r->path, r->wtype, r->wfn, r->wctx, false)) {
            r->failed = true;
            r->rc = 0;
            break;
        }
        /* A watch is registered before the request leaves, so an event that overtakes the
         * reply finds its watcher ([R7]). */
        if (r->wkind != ZN_WK_NONE) {
            bool full;
            r->wid = zn_watch_add(&zh->watches, r->path, r->wkind, r->wfn, r->wctx, &full);
            if (full) {
                r->failed = true;
                r->rc = ZN_ELIMIT;
                break;
            }
        }
        (void)q_pop(&zh->pending);
        r->seq = zh->next_seq++;
        r->msg_id = zh->next_msg_id++;
        /* RequestHeader.xid = low 32 bits of seq. */
        uint32_t xid = (uint32_t)r->seq;
        uint8_t *x = r->msg + ZN_SESS_HDR_BYTES;
        x[0] = (uint8_t)(xid >> 24);
        x[1] = (uint8_t)(xid >> 16);
        x[2] = (uint8_t)(xid >> 8);
        x[3] = (uint8_t)xid;
        repair_gap(zh, now);
        q_push(&zh->inflight, r);
        zh->inflight_bytes += r->msg_len;
        send_request(zh, r, now);
    }
}

static void retransmit(zn_handle *zh, uint64_t now)
{
    if (zh->auth_replaying > 0) { /* [R12] only the re-sent identities until they are back */
        for (uint32_t i = 0; i < zh->auth_count; i++) {
            struct zn_auth_rec *a = &zh->auths[i];
            if (a->waiting && now - a->last_send_ns >= a->rto_ns) {
                send_auth_rec(zh, a, now);
                a->rto_ns = min_u64(a->rto_ns * 2, ZN_CLIENT_RTO_MAX_NS);
                STAT_INC(zh, retransmits);
            }
        }
        return;
    }
    for (struct zn_req *r = zh->inflight.head; r; r = r->next) {
        if ((!r->answered || r->replay_due) && now - r->last_send_ns >= r->rto_ns)
            send_request(zh, r, now);
    }
}

static void expire_calls(zn_handle *zh, uint64_t now)
{
    struct zn_queue *qs[2] = {&zh->inflight, &zh->pending};
    for (int i = 0; i < 2; i++) {
        for (struct zn_req *r = qs[i]->head; r; r = r->next) {
            if (!r->answered && !r->failed && !r->delivered && r->deadline_ns != 0 &&
                now >= r->deadline_ns) {
                r->failed = true;
                r->rc = ZN_ETIMEDOUT;
                STAT_INC(zh, timeouts);
            }
        }
    }
}

/* Deliver completions and events in protocol order ([R4], [R7]). */
static void deliver(zn_handle *zh)
{
    for (;;) {
        /* Free delivered+answered requests at the head; find the first undelivered one. */
        struct zn_req *prev = NULL, *r = zh->inflight.head;
        while (r && r->delivered) {
            struct zn_req *next = r->next;
            if (r->answered && prev == NULL && !r->replay_due) {
                q_unlink(&zh->inflight, NULL, r);
                req_release(zh, r);
            } else {
                prev = r;
            }
            r = next;
        }
        struct zn_event *e = zh->ev_head;
        if (e != NULL && (r == NULL || e->barrier_seq < r->seq)) {
            zh->ev_head = e->next;
            if (zh->ev_head == NULL)
                zh->ev_tail = NULL;
            STAT_INC(zh, events);
            zn_watch_fire(zh, e->type, ZN_STATE_CONNECTED, e->path);
            free(e->path);
            free(e);
            continue;
        }
        if (r != NULL) {
            if (!(r->answered || r->failed))
                return; /* FIFO: wait for the reply of r */
            r->delivered = true;
            zn_ops_complete(zh, r);
            /* [R12] A refused identity ends the session, as in ZooKeeper. */
            if (r->op == ZN_ZK_OP_AUTH && r->answered && r->rc == ZN_EAUTHFAILED) {
                terminate(zh, ZN_STATE_AUTH_FAILED, ZN_EAUTHFAILED);
                return;
            }
            continue;
        }
        /* Every sent call is delivered: failed unsent calls complete now, in order. */
        struct zn_req *p = zh->pending.head;
        if (p == NULL || !p->failed)
            return;
        (void)q_pop(&zh->pending);
        p->delivered = true;
        zn_ops_complete(zh, p);
        req_release(zh, p);
    }
}

/* [R2] [R5] [R6]: connect retries, pings, silence. Returns the next time anything is due. */
static uint64_t timers(zn_handle *zh, uint64_t now)
{
    uint64_t next = now + (uint64_t)POLL_MAX_MS * ZN_NS_PER_MS;
    int st = atomic_load(&zh->state);
    uint64_t timeout_ns =
        (uint64_t)(zh->negotiated_ms ? zh->negotiated_ms : zh->opts.session_timeout_ms) *
        ZN_NS_PER_MS;
    if (st == ZN_STATE_CONNECTING || st == ZN_STATE_SUSPENDED) {
        uint64_t attempt_ns = timeout_ns / 3;
        if (attempt_ns < 50 * ZN_NS_PER_MS)
            attempt_ns = 50 * ZN_NS_PER_MS;
        if (now - zh->connect_started_ns >= attempt_ns && zh->node_count > 1) {
            zh->cur_node = (zh->cur_node + 1) % zh->node_count;
            start_attempt(zh, now);
        }
        if (now >= zh->connect_next_ns) {
            send_connect(zh);
            zh->connect_next_ns = now + zh->connect_backoff_ns;
            zh->connect_backoff_ns =
                min_u64(zh->connect_backoff_ns * 2, ZN_CLIENT_CONNECT_BACKOFF_MAX_NS);
        }
        next = min_u64(next, zh->connect_next_ns);
        next = min_u64(next, zh->connect_started_ns + attempt_ns);
    } else if (st == ZN_STATE_CONNECTED) {
        uint64_t silent = now - zh->last_recv_ns;
        if (silent >= timeout_ns / 3) {
            suspend(zh, now);
            return now;
        }
        uint64_t probe_gap = timeout_ns / 18;
        if (silent >= timeout_ns / 6 && now - zh->last_ping_ns >= probe_gap) {
            send_bare(zh, ZN_SESS_PING);
            zh->last_ping_ns = now;
            STAT_INC(zh, pings_sent);
        }
        if (zh->ack_due) {
            send_bare(zh, ZN_SESS_ACK);
            zh->ack_due = false;
            STAT_INC(zh, acks_sent);
        }
        retransmit(zh, now);
        fill_window(zh, now);
        next = min_u64(next, zh->last_recv_ns + timeout_ns / 3);
        uint64_t ping_at = zh->last_recv_ns + timeout_ns / 6;
        if (ping_at <= now)
            ping_at = zh->last_ping_ns + probe_gap;
        next = min_u64(next, ping_at);
        for (struct zn_req *r = zh->inflight.head; r; r = r->next) {
            if (!r->answered || r->replay_due)
                next = min_u64(next, r->last_send_ns + r->rto_ns);
        }
        for (uint32_t i = 0; i < zh->auth_count; i++) {
            if (zh->auths[i].waiting)
                next = min_u64(next, zh->auths[i].last_send_ns + zh->auths[i].rto_ns);
        }
    }
    expire_calls(zh, now);
    struct zn_queue *qs[2] = {&zh->inflight, &zh->pending};
    for (int i = 0; i < 2; i++) {
        for (struct zn_req *r = qs[i]->head; r; r = r->next) {
            if (!r->failed && !r->answered && !r->delivered && r->deadline_ns)
                next = min_u64(next, r->deadline_ns);
        }
    }
    zn_reasm_expire(&zh->reasm, now);
    return next;
}

static void publish(zn_handle *zh)
{
    atomic_store(&zh->last_zxid_pub, (long long)zh->last_zxid);
}

static void *io_main(void *arg)
{
    zn_handle *zh = arg;
    zh->io_self = pthread_self();
    atomic_store_explicit(&zh->io_self_set, true, memory_order_release);
    uint64_t now = zn_client_now_ns();
    start_attempt(zh, now);
    while (!atomic_load(&zh->stop)) {
        now = zn_client_now_ns();
        uint64_t due = now;
        if (atomic_load(&zh->terminal_rc) == 0)
            due = timers(zh, now);
        uint64_t wait_ns = due > now ? due - now : 0;
        int wait_ms = (int)((wait_ns + ZN_NS_PER_MS - 1) / ZN_NS_PER_MS);
        if (wait_ms > POLL_MAX_MS)
            wait_ms = POLL_MAX_MS;
        struct pollfd pfd[2] = {{zh->fd, POLLIN, 0}, {zh->efd, POLLIN, 0}};
        int n = poll(pfd, 2, wait_ms);
        if (n < 0 && errno != EINTR)
            ZN_ERROR("client", "poll: %s", strerror(errno));
        now = zn_client_now_ns();
        if (pfd[1].revents & POLLIN) {
            uint64_t v;
            ssize_t rd = read(zh->efd, &v, sizeof(v));
            (void)rd;
        }
        if (atomic_load(&zh->terminal_rc) != 0)
            continue; /* terminal: nothing can be submitted any more; wait for zn_close */
        take_submitted(zh);
        if (pfd[0].revents & POLLIN)
            receive(zh, now);
        if (atomic_load(&zh->terminal_rc) != 0)
            continue;
        if (atomic_load(&zh->state) == ZN_STATE_CONNECTED) {
            fill_window(zh, now);
            if (zh->ack_due) {
                send_bare(zh, ZN_SESS_ACK);
                zh->ack_due = false;
                STAT_INC(zh, acks_sent);
            }
        }
        expire_calls(zh, now);
        deliver(zh);
        publish(zh);
    }
    if (atomic_load(&zh->terminal_rc) == 0)
        terminate(zh, ZN_STATE_CLOSED, ZN_ESHUTDOWN);
    return NULL;
}

/* ---- open, close, accessors -------------------------------------------------------------- */

void zn_options_init(struct zn_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->session_timeout_ms = 10000;
    opts->cluster_id = 0;
    opts->connect_timeout_ms = 0; /* = session timeout */
    opts->request_timeout_ms = 20000;
    opts->close_timeout_ms = 2000;
    opts->linearizable_reads = false;
    opts->shuffle_nodes = true;
    opts->data_bytes_max = (int32_t)ZN_DATA_SIZE_DEFAULT_BYTES;
}

static int set_bufs(int fd)
{
    int v = SOCK_BUF_BYTES;
    /* FORCE needs CAP_NET_ADMIN; fall back to what rmem_max/wmem_max allow. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
    return 0;
}

static void handle_free(zn_handle *zh)
{
    if (zh->fd >= 0)
        close(zh->fd);
    if (zh->efd >= 0)
        close(zh->efd);
    zn_reasm_fini(&zh->reasm);
    zn_watch_fini(&zh->watches);
    free_events(zh);
    struct zn_queue *qs[3] = {&zh->submit, &zh->pending, &zh->inflight};
    for (int i = 0; i < 3; i++) {
        struct zn_req *r;
        while ((r = q_pop(qs[i])) != NULL)
            req_release(zh, r);
    }
    free(zh->rxbuf);
    auth_wipe(zh);
    pthread_mutex_destroy(&zh->mu);
    pthread_mutex_destroy(&zh->stats_mu);
    pthread_cond_destroy(&zh->cv);
    free(zh);
}

static void stop_io(zn_handle *zh)
{
    if (!zh->io_started)
        return;
    atomic_store(&zh->stop, true);
    uint64_t one = 1;
    ssize_t w = write(zh->efd, &one, sizeof(one));
    (void)w;
    pthread_join(zh->io_thread, NULL);
    zh->io_started = false;
}

int zn_open(const char *hosts, const struct zn_options *opts, zn_handle **out)
{
    if (out == NULL)
        return ZN_EBADARGUMENTS;
    *out = NULL;
    struct zn_options o;
    if (opts)
        o = *opts;
    else
        zn_options_init(&o);
    if (o.session_timeout_ms < ZN_SESSION_TIMEOUT_MIN_MS ||
        o.session_timeout_ms > ZN_SESSION_TIMEOUT_MAX_MS || o.data_bytes_max < 0 ||
        (uint32_t)o.data_bytes_max > ZN_DATA_SIZE_MAX_BYTES)
        return ZN_EBADARGUMENTS;
    if (o.connect_timeout_ms == 0)
        o.connect_timeout_ms = o.session_timeout_ms;
    zn_handle *zh = calloc(1, sizeof(*zh));
    if (zh == NULL)
        return ZN_ENOMEM;
    zh->fd = zh->efd = -1;
    zh->opts = o;
    pthread_mutex_init(&zh->mu, NULL);
    pthread_mutex_init(&zh->stats_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&zh->cv, &ca);
    pthread_condattr_destroy(&ca);
    zn_watch_init(&zh->watches);
    int rc = zn_connstr_parse(zh, hosts);
    if (rc != 0) {
        handle_free(zh);
        return rc;
    }
    rc = zn_reasm_init(&zh->reasm, 8, ZN_REASM_BYTES_DEFAULT, ZN_REASM_TIMEOUT_NS_DEFAULT);
    zh->rxbuf = malloc(ZN_FRAME_DGRAM_MAX_BYTES + 1);
    if (rc != 0 || zh->rxbuf == NULL) {
        handle_free(zh);
        return ZN_ENOMEM;
    }
    zh->fd = socket(zh->nodes[0].sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    zh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (zh->fd < 0 || zh->efd < 0) {
        handle_free(zh);
        return ZN_ESYSTEM;
    }
    set_bufs(zh->fd);
    /* Seeds: nonce and msg ids must differ between handles and processes. */
    uint64_t seed = zn_client_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)zh;
    zn_prng_seed(&zh->prng, seed);
    for (size_t i = 0; i < sizeof(zh->nonce); i += 8) {
        uint64_t v = zn_prng_u64(&zh->prng);
        memcpy(zh->nonce + i, &v, 8);
    }
    zh->next_msg_id = zn_prng_u64(&zh->prng) | 1u;
    zh->next_seq = 1;
    zh->ev_next = 1;
    zh->rto_ns[0] = zh->rto_ns[1] = ZN_CLIENT_RTO_INITIAL_NS;
    zh->cur_node = o.shuffle_nodes ? (int)(zn_prng_u64(&zh->prng) % (uint64_t)zh->node_count) : 0;
    atomic_store(&zh->state, ZN_STATE_CONNECTING);
    atomic_store(&zh->linearizable, o.linearizable_reads);
    if (pthread_create(&zh->io_thread, NULL, io_main, zh) != 0) {
        handle_free(zh);
        return ZN_ESYSTEM;
    }
    zh->io_started = true;
    /* Wait for CONNECTED or a terminal state, bounded by connect_timeout_ms. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    uint64_t t = (uint64_t)until.tv_sec * ZN_NS_PER_S + (uint64_t)until.tv_nsec +
                 (uint64_t)o.connect_timeout_ms * ZN_NS_PER_MS;
    until.tv_sec = (time_t)(t / ZN_NS_PER_S);
    until.tv_nsec = (long)(t % ZN_NS_PER_S);
    pthread_mutex_lock(&zh->mu);
    rc = ZN_ETIMEDOUT;
    for (;;) {
        if (zh->state_seen == ZN_STATE_CONNECTED) {
            rc = 0;
            break;
        }
        if (atomic_load(&zh->terminal_rc) != 0) {
            rc = atomic_load(&zh->terminal_rc);
            break;
        }
        if (pthread_cond_timedwait(&zh->cv, &zh->mu, &until) == ETIMEDOUT) {
            if (zh->state_seen == ZN_STATE_CONNECTED)
                rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&zh->mu);
    if (rc != 0) {
        atomic_store(&zh->terminal_rc, ZN_ESHUTDOWN);
        stop_io(zh);
        handle_free(zh);
        return rc;
    }
    *out = zh;
    return 0;
}

static void close_done(int rc, const void *data)
{
    zn_handle *zh = (zn_handle *)(uintptr_t)data;
    pthread_mutex_lock(&zh->mu);
    zh->close_rc = rc;
    zh->close_done = true;
    pthread_cond_broadcast(&zh->cv);
    pthread_mutex_unlock(&zh->mu);
}

int zn_close(zn_handle *zh)
{
    if (zh == NULL)
        return ZN_EBADARGUMENTS;
    if (zn_client_in_io_thread(zh))
        return ZN_EAPI;
    int rc = 0;
    struct zn_req *r = atomic_load(&zh->terminal_rc) == 0 ? zn_ops_close_session() : NULL;
    if (r != NULL) {
        r->rtype = ZN_R_VOID;
        r->cb.v = close_done;
        r->cb_data = zh;
        r->deadline_ns = zn_client_now_ns() + (uint64_t)zh->opts.close_timeout_ms * ZN_NS_PER_MS;
        if (zn_client_submit(zh, r) == 0) {
            /* closeSession is delivered after every earlier call (FIFO), answered or timed
             * out; the I/O thread enforces its deadline, this wait only adds slack. */
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            uint64_t t = (uint64_t)until.tv_sec * ZN_NS_PER_S + (uint64_t)until.tv_nsec +
                         (uint64_t)(zh->opts.close_timeout_ms + CLOSE_SLACK_MS) * ZN_NS_PER_MS;
            until.tv_sec = (time_t)(t / ZN_NS_PER_S);
            until.tv_nsec = (long)(t % ZN_NS_PER_S);
            /* Wait for the completion itself, not for a terminal state: a REFUSED that ends
             * the session (e.g. answering a retransmitted closeSession) may be handled before
             * the already received reply is delivered; terminate() then completes it. */
            pthread_mutex_lock(&zh->mu);
            while (!zh->close_done) {
                if (pthread_cond_timedwait(&zh->cv, &zh->mu, &until) == ETIMEDOUT)
                    break;
            }
            rc = zh->close_done ? zh->close_rc : ZN_ETIMEDOUT;
            pthread_mutex_unlock(&zh->mu);
        }
    }
    /* The I/O thread fails what is left with ZN_ESHUTDOWN before it exits. */
    stop_io(zh);
    handle_free(zh);
    /* The session is gone either way when the node answered; an expired session is closed. */
    return rc == ZN_ESESSIONEXPIRED ? 0 : rc;
}

int zn_state(zn_handle *zh)
{
    return atomic_load(&zh->state);
}

int64_t zn_session_id(zn_handle *zh)
{
    return (int64_t)atomic_load(&zh->session_id);
}

int32_t zn_session_timeout_ms(zn_handle *zh)
{
    return atomic_load(&zh->timeout_ms);
}

int64_t zn_last_zxid(zn_handle *zh)
{
    return (int64_t)atomic_load(&zh->last_zxid_pub);
}

int zn_current_node(zn_handle *zh)
{
    return atomic_load(&zh->cur_node_pub);
}

uint32_t zn_leader_id(zn_handle *zh)
{
    return atomic_load(&zh->leader_pub);
}

void zn_set_linearizable_reads(zn_handle *zh, bool on)
{
    atomic_store(&zh->linearizable, on);
}

void zn_get_stats(zn_handle *zh, struct zn_client_stats *out)
{
    pthread_mutex_lock(&zh->stats_mu);
    *out = zh->stats;
    pthread_mutex_unlock(&zh->stats_mu);
}
