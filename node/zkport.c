/*
 * zkport.c - the ZooKeeper TCP port (see zkport.h for the design).
 *
 * A connection goes HANDSHAKE (first frame: a ConnectRequest, or a four-letter word) ->
 * CONNECTING (a native CONNECT is with the node; requests the client pipelines meanwhile are
 * queued) -> ACTIVE -> closed. Invariants of an ACTIVE connection:
 *   - q[] holds the client's requests in arrival order; replies leave strictly from its head
 *     (ZooKeeper's per-connection FIFO), whatever order the node answers in;
 *   - at most ZN_ZKPORT_INFLIGHT_MAX entries are with the node (the node's hold window), and
 *     they carry consecutive seqs starting at the node's next expected one (CONNECTED.ack + 1);
 *   - an entry sent and unanswered for rto is sent again with ZN_SESS_F_RETRY (the node answers
 *     a duplicate from its reply cache: exactly once);
 *   - watch events go to the client as they arrive (the node sends an event before the reply of
 *     the write that caused it) and are acknowledged at once (the node holds later replies of
 *     the session behind an unacknowledged event, R7).
 * Bounds: ZN_ZKPORT_CONNS_MAX connections, [zk] conn_per_ip_max per address, ZN_ZKPORT_QUEUE_MAX
 * requests per connection (then the socket is not read: TCP backpressure), one frame of the
 * configured size in the read buffer, and a write buffer whose overflow closes the connection
 * (a client that does not read never stalls the node or this thread).
 *
 * Request seqs must grow across the session's whole life (the store's exactly-once check,
 * store/apply.c, refuses a cxid below the last applied one). A ZooKeeper client does not carry
 * that number, so a reconnect sends seq 0 in its CONNECT and the node picks the next one: past
 * the session's last applied request and a window of requests possibly still in flight.
 */
#include "node/zkport.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"
#include "common/zn_log.h"
#include "dataplane/zn_dp_loop.h"
#include "node/zkport_frame.h"
#include "node/zkport_ring.h"
#include "proto/jute.h"
#include "proto/session.h"
#include "proto/zk.h"

#define ZKPORT_MS         1000000ull
#define ZKPORT_RTO_NS     (200ull * ZKPORT_MS)
#define ZKPORT_RTO_MAX_NS (2000ull * ZKPORT_MS)
#define ZKPORT_RBUF_MIN   (64u * 1024u)
#define ZKPORT_POLL_BATCH 256u

enum zkport_state {
    ZKC_FREE = 0,
    ZKC_HANDSHAKE = 1,
    ZKC_CONNECTING = 2,
    ZKC_ACTIVE = 3,
    ZKC_CLOSING = 4, /* flush what is buffered, then close */
};

struct zkport_req {
    int32_t xid;
    int32_t type;
    uint64_t seq; /* 0: answered by the port itself */
    uint8_t *msg; /* native REQUEST (header + body), kept for retransmission */
    uint32_t msg_len;
    uint64_t recv_ns;
    uint64_t sent_ns; /* 0: not sent yet */
    uint64_t rto_ns;
    uint8_t *reply; /* ZooKeeper reply payload (ReplyHeader + body), NULL until answered */
    uint32_t reply_len;
};

struct zkport_conn {
    int fd;
    uint8_t state;
    uint16_t slot; /* index + 1: the node's "port" for this connection */
    uint32_t ip;   /* host order */
    uint16_t port;
    bool reading; /* EPOLLIN registered */
    bool writing; /* EPOLLOUT registered */
    bool has_read_only;
    bool closing_after_reply; /* closeSession answered: close once flushed */
    uint8_t *rbuf;
    uint32_t rlen, rcap;
    uint64_t skip; /* bytes of an oversized frame still to discard */
    uint8_t *wbuf;
    size_t woff, wlen, wcap;
    uint64_t session;
    uint8_t passwd[16];
    uint32_t timeout_ms;
    uint64_t epoch;
    uint8_t *connect_msg;
    uint32_t connect_len;
    uint64_t connect_sent_ns;
    uint64_t connect_deadline_ns;
    uint64_t next_seq;
    uint64_t last_zxid;
    uint64_t events_in; /* highest event number received in order */
    struct zkport_req q[ZN_ZKPORT_QUEUE_MAX];
    uint32_t q_head, q_count;
    uint32_t q_sent; /* entries from the head that went to the node (or need not) */
    uint32_t inflight;
    uint64_t recved, sent, established_ms;
};

struct zn_zkport_link {
    struct zn_zkring to_node;
    struct zn_zkring to_port;
    int wake_fd;
    _Atomic int sleeping;
    /* The TCP peer address of each connection slot (index slot - 1), written by the port thread
     * at accept before it queues anything for the slot (the ring's release publishes it), read
     * by the lcore for the session's ip identity (node/node_auth.c). */
    _Atomic uint32_t peer_ip[ZN_ZKPORT_CONNS_MAX];
    _Atomic uint64_t applied_zxid; /* zn_zkport_link_set_applied */
    /* The lcore that polls to_node (zn_zkport_link_attach), NULL until its first poll: the
     * port thread wakes it after every push (zkport_push_node). */
    _Atomic(struct zn_dp_lcore *) lcore;
};

struct zn_zkport {
    struct zn_config cfg;
    const struct zn_clock *clock;
    char version[32];
    uint32_t flw_allow; /* bit i: word i of zkport_words */
    uint32_t frame_max;
    size_t wbuf_max;
    int listen_fd;
    int ep;
    pthread_t thread;
    bool thread_started;
    _Atomic bool stop;
    struct zn_zkport_link link;
    struct zkport_conn *conns; /* ZN_ZKPORT_CONNS_MAX */
    uint32_t n_conns;
    uint64_t next_epoch;
    /* Largest zxid of a reply or event passed to any client (committed: the node produced it).
     * A forwarded write's reply can reach this port before this node applied the entry, so a
     * ping reports max(applied, this, the connection's last zxid): ZooKeeper's pings show the
     * server's last processed zxid, at least every write a client of this server saw. */
    uint64_t max_client_zxid;
    /* counters (this thread writes; four-letter words read them on this thread) */
    uint64_t packets_in, packets_out, refused_conns, slow_closed;
    uint64_t lat_min_ns, lat_max_ns, lat_sum_ns, lat_n;
    int64_t started_ms;
    /* published by management */
    pthread_mutex_t pub_lock;
    struct zn_node_status pub;
    uint64_t pub_watches;
    bool pub_valid;
};

static void zkport_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void zkport_close(struct zn_zkport *zk, struct zkport_conn *c);
static void zkport_flush_replies(struct zn_zkport *zk, struct zkport_conn *c);

static void zkport_errf(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || !err_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static uint64_t zkport_now(const struct zn_zkport *zk)
{
    return zk->clock->monotonic_ns(zk->clock->ctx);
}

static int64_t zkport_realtime_ms(const struct zn_zkport *zk)
{
    return zk->clock->realtime_ns(zk->clock->ctx) / (int64_t)ZKPORT_MS;
}

static void zkport_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t zkport_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the link (both threads) ---------------------------------------------------------------- */

static unsigned zkport_ring_drain(struct zn_zkring *r, unsigned max, zn_zkport_msg_fn fn, void *ctx)
{
    unsigned k = 0;
    uint16_t conn;
    const uint8_t *data;
    uint32_t len;
    while (k < max && zn_zkring_peek(r, &conn, &data, &len)) {
        fn(ctx, conn, data, len);
        zn_zkring_pop(r);
        k++;
    }
    return k;
}

uint32_t zn_zkport_link_peer_ip(const struct zn_zkport_link *l, uint16_t conn)
{
    if (conn == 0 || conn > ZN_ZKPORT_CONNS_MAX)
        return 0;
    return atomic_load_explicit(&l->peer_ip[conn - 1], memory_order_acquire);
}

void zn_zkport_link_set_applied(struct zn_zkport_link *l, uint64_t zxid)
{
    atomic_store_explicit(&l->applied_zxid, zxid, memory_order_release);
}

unsigned zn_zkport_link_poll(struct zn_zkport_link *l, unsigned max, zn_zkport_msg_fn fn, void *ctx)
{
    return zkport_ring_drain(&l->to_node, max, fn, ctx);
}

void zn_zkport_link_send(struct zn_zkport_link *l, uint16_t conn, const uint8_t *msg, uint32_t len)
{
    if (zn_zkring_push(&l->to_port, conn, msg, len, NULL, 0) != 0)
        return; /* counted in the ring; repaired by retransmission */
    /* Dekker pairing with the port thread's "sleeping = 1; fence; check ring": either it sees
     * this record, or this side sees it asleep and wakes it. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_exchange_explicit(&l->sleeping, 0, memory_order_seq_cst) == 1) {
        uint64_t one = 1;
        ssize_t w = write(l->wake_fd, &one, sizeof(one));
        (void)w; /* EAGAIN: the counter is already non-zero, the thread wakes anyway */
    }
}

void zn_zkport_link_attach(struct zn_zkport_link *l, struct zn_dp_lcore *lc)
{
    if (atomic_load_explicit(&l->lcore, memory_order_relaxed) != lc) {
        atomic_store_explicit(&l->lcore, lc, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst); /* the store before polling the ring */
    }
}

bool zn_zkport_link_pending(const struct zn_zkport_link *l)
{
    /* head is the caller's (the consumer's) own position; tail is published with release. */
    return atomic_load_explicit(&l->to_node.head, memory_order_relaxed) !=
           atomic_load_explicit(&l->to_node.tail, memory_order_acquire);
}

/*
 * Port thread: push one record to the lcore and wake it if it sleeps (zn_dp_lcore_wake: a
 * fence and a load while it is awake). Lost wake-ups are impossible: the push publishes tail
 * (release) before the fence; the lcore announces `asleep` and fences before it asks
 * zn_zkport_link_pending (the rx stage's pending hook), so either it sees the record and does
 * not sleep, or this side sees it asleep and kicks its eventfd (dataplane/zn_dp_loop.c,
 * invariants). Before the lcore's first poll `lcore` is NULL: its store (seq_cst) precedes that
 * poll, so a NULL read here means the poll comes after this push and finds the record.
 */
static int zkport_push_node(struct zn_zkport *zk, uint16_t slot, const void *a, size_t a_len,
                            const void *b, size_t b_len)
{
    int rc = zn_zkring_push(&zk->link.to_node, slot, a, a_len, b, b_len);
    if (rc != 0)
        return rc;
    atomic_thread_fence(memory_order_seq_cst);
    struct zn_dp_lcore *lc = atomic_load_explicit(&zk->link.lcore, memory_order_relaxed);
    if (lc)
        zn_dp_lcore_wake(lc);
    return 0;
}

/* Port thread: queue a native message for the lcore. False when the ring is full (the caller
 * retransmits later). */
static bool zkport_to_node(struct zn_zkport *zk, const struct zkport_conn *c,
                           const struct zn_sess_hdr *h, const uint8_t *body, size_t body_len)
{
    uint8_t hdr[ZN_SESS_HDR_BYTES];
    if (zn_sess_hdr_encode(h, hdr) < 0)
        return false;
    return zkport_push_node(zk, c->slot, hdr, sizeof(hdr), body, body_len) == 0;
}

/* ---- output ----------------------------------------------------------------------------------- */

static void zkport_set_events(struct zn_zkport *zk, struct zkport_conn *c)
{
    bool want_in = c->state != ZKC_CLOSING && c->q_count < ZN_ZKPORT_QUEUE_MAX;
    bool want_out = c->wlen > c->woff;
    if (want_in == c->reading && want_out == c->writing)
        return;
    struct epoll_event ev = {.events = (want_in ? EPOLLIN : 0u) | (want_out ? EPOLLOUT : 0u),
                             .data.u32 = c->slot};
    if (epoll_ctl(zk->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->reading = want_in;
        c->writing = want_out;
    }
}

/* Write what the socket takes now. Returns false when the connection was closed. */
static bool zkport_write_out(struct zn_zkport *zk, struct zkport_conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w > 0) {
            c->woff += (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0 && errno == EINTR)
            continue;
        zkport_close(zk, c);
        return false;
    }
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
        if (c->wcap > 4 * ZKPORT_RBUF_MIN) { /* give back what a large reply took */
            free(c->wbuf);
            c->wbuf = NULL;
            c->wcap = 0;
        }
        if (c->state == ZKC_CLOSING) {
            zkport_close(zk, c);
            return false;
        }
    }
    zkport_set_events(zk, c);
    return true;
}

/* Append one frame (length + a||b). A client that let more than wbuf_max pile up is not
 * reading: its connection is closed (ZooKeeper does the same), never waited for. */
static bool zkport_frame_out(struct zn_zkport *zk, struct zkport_conn *c, const void *a,
                             size_t a_len, const void *b, size_t b_len)
{
    size_t need = 4 + a_len + b_len;
    if (c->wlen - c->woff + need > zk->wbuf_max) {
        ZN_WARN("zk", "client %s:%u does not read its replies: closing its connection",
                inet_ntoa((struct in_addr){htonl(c->ip)}), c->port);
        zk->slow_closed++;
        zkport_close(zk, c);
        return false;
    }
    if (c->woff && c->wlen + need > c->wcap) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    if (c->wlen + need > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 4096;
        while (cap < c->wlen + need)
            cap *= 2;
        uint8_t *p = realloc(c->wbuf, cap);
        if (!p) {
            zkport_close(zk, c);
            return false;
        }
        c->wbuf = p;
        c->wcap = cap;
    }
    zkport_put_be32(c->wbuf + c->wlen, (uint32_t)(a_len + b_len));
    if (a_len)
        memcpy(c->wbuf + c->wlen + 4, a, a_len);
    if (b_len)
        memcpy(c->wbuf + c->wlen + 4 + a_len, b, b_len);
    c->wlen += need;
    c->sent++;
    zk->packets_out++;
    return true;
}

/* ---- the request queue ---------------------------------------------------------------------- */

static struct zkport_req *zkport_q_at(struct zkport_conn *c, uint32_t i)
{
    return &c->q[(c->q_head + i) % ZN_ZKPORT_QUEUE_MAX];
}

static void zkport_req_free(struct zkport_req *r)
{
    free(r->msg);
    free(r->reply);
    memset(r, 0, sizeof(*r));
}

/* A reply the port makes itself: ReplyHeader{xid, last zxid, err} + body. */
static void zkport_local_reply(struct zkport_conn *c, struct zkport_req *r, int32_t err,
                               const uint8_t *body, size_t body_len)
{
    r->reply = malloc(16 + body_len);
    ZN_ASSERT(r->reply != NULL);
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, r->reply, 16 + body_len);
    struct zn_zk_reply_header rh = {.xid = r->xid, .zxid = (int64_t)c->last_zxid, .err = err};
    zn_zk_put_reply_header(&w, &rh);
    if (err == 0 && body_len)
        zn_jute_put_raw(&w, body, body_len);
    r->reply_len = (uint32_t)w.len;
}

/* Send the replies at the head of the queue that are ready, in order. */
static void zkport_flush_replies(struct zn_zkport *zk, struct zkport_conn *c)
{
    uint64_t now = zkport_now(zk);
    while (c->q_count && c->q_sent) {
        struct zkport_req *r = zkport_q_at(c, 0);
        if (!r->reply)
            break;
        if (r->type == ZN_ZK_OP_PING && r->reply_len >= 16) {
            /* ZooKeeper answers a ping with its last processed zxid, as of the ping's turn. */
            uint64_t z = atomic_load_explicit(&zk->link.applied_zxid, memory_order_acquire);
            if (z < c->last_zxid)
                z = c->last_zxid;
            if (z < zk->max_client_zxid)
                z = zk->max_client_zxid;
            zkport_put_be32(r->reply + 4, (uint32_t)(z >> 32));
            zkport_put_be32(r->reply + 8, (uint32_t)z);
        }
        if (!zkport_frame_out(zk, c, r->reply, r->reply_len, NULL, 0))
            return; /* closed */
        uint64_t lat = now > r->recv_ns ? now - r->recv_ns : 0;
        if (!zk->lat_n || lat < zk->lat_min_ns)
            zk->lat_min_ns = lat;
        if (lat > zk->lat_max_ns)
            zk->lat_max_ns = lat;
        zk->lat_sum_ns += lat;
        zk->lat_n++;
        if (r->seq && c->inflight)
            c->inflight--;
        zkport_req_free(r);
        c->q_head = (c->q_head + 1) % ZN_ZKPORT_QUEUE_MAX;
        c->q_count--;
        c->q_sent--;
    }
    if (c->closing_after_reply && c->q_count == 0)
        c->state = ZKC_CLOSING;
    zkport_write_out(zk, c);
}

/* Hand queued requests to the node while the window allows (ACTIVE connections only). */
static void zkport_send_queued(struct zn_zkport *zk, struct zkport_conn *c)
{
    if (c->state != ZKC_ACTIVE)
        return;
    uint64_t now = zkport_now(zk);
    while (c->q_sent < c->q_count && c->inflight < ZN_ZKPORT_INFLIGHT_MAX) {
        struct zkport_req *r = zkport_q_at(c, c->q_sent);
        if (r->msg) {
            r->seq = c->next_seq;
            struct zn_sess_hdr h = {.kind = ZN_SESS_REQUEST,
                                    .session_id = c->session,
                                    .seq = r->seq,
                                    .ack = c->events_in,
                                    .zxid = c->last_zxid};
            zn_sess_hdr_encode(&h, r->msg);
            /* The node answers with xid = the low 32 bits of seq (proto/session.h). */
            zkport_put_be32(r->msg + ZN_SESS_HDR_BYTES, (uint32_t)r->seq);
            if (zkport_push_node(zk, c->slot, r->msg, r->msg_len, NULL, 0) != 0)
                break; /* ring full: try again on the next pass */
            c->next_seq++;
            c->inflight++;
            r->sent_ns = now;
            r->rto_ns = ZKPORT_RTO_NS;
        } else if (r->type == ZN_ZK_OP_PING) {
            /* Keep the session alive on the node (it answers PONG; the client's reply is
             * the port's own, in order). */
            struct zn_sess_hdr h = {.kind = ZN_SESS_PING,
                                    .session_id = c->session,
                                    .ack = c->events_in,
                                    .zxid = c->last_zxid};
            zkport_to_node(zk, c, &h, NULL, 0);
            zkport_local_reply(c, r, 0, NULL, 0);
        }
        c->q_sent++;
    }
    zkport_flush_replies(zk, c);
}

/* ---- connections ---------------------------------------------------------------------------- */

static void zkport_close(struct zn_zkport *zk, struct zkport_conn *c)
{
    if (c->state == ZKC_FREE)
        return;
    epoll_ctl(zk->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    for (uint32_t i = 0; i < c->q_count; i++)
        zkport_req_free(zkport_q_at(c, i));
    free(c->rbuf);
    free(c->wbuf);
    free(c->connect_msg);
    uint16_t slot = c->slot;
    memset(c, 0, sizeof(*c));
    c->slot = slot;
    c->fd = -1;
    zk->n_conns--;
}

static uint32_t zkport_conns_from(const struct zn_zkport *zk, uint32_t ip)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++)
        if (zk->conns[i].state != ZKC_FREE && zk->conns[i].ip == ip)
            k++;
    return k;
}

static void zkport_accept(struct zn_zkport *zk)
{
    for (int burst = 0; burst < 64; burst++) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(zk->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        uint32_t ip = ntohl(sa.sin_addr.s_addr);
        struct zkport_conn *c = NULL;
        for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX && !c; i++)
            if (zk->conns[i].state == ZKC_FREE)
                c = &zk->conns[i];
        if (!c || (zk->cfg.zk.conn_per_ip_max &&
                   zkport_conns_from(zk, ip) >= zk->cfg.zk.conn_per_ip_max)) {
            /* ZooKeeper closes a connection over maxClientCnxns at once, before any reply. */
            zk->refused_conns++;
            ZN_WARN("zk", "too many connections from %s: refused", inet_ntoa(sa.sin_addr));
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        c->state = ZKC_HANDSHAKE;
        c->ip = ip;
        c->port = ntohs(sa.sin_port);
        atomic_store_explicit(&zk->link.peer_ip[c->slot - 1], ip, memory_order_release);
        c->established_ms = (uint64_t)zkport_realtime_ms(zk);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = c->slot};
        if (epoll_ctl(zk->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            c->state = ZKC_FREE;
            c->fd = -1;
            continue;
        }
        c->reading = true;
        zk->n_conns++;
    }
}

/* ---- four-letter words ---------------------------------------------------------------------- */

struct zkport_text {
    char *p;
    size_t len, cap;
};

static void zkport_textf(struct zkport_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void zkport_textf(struct zkport_text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->len = t->len + (size_t)k < t->cap ? t->len + (size_t)k : t->cap - 1;
}

static const char *zkport_mode(const struct zn_node_status *st, bool valid)
{
    if (!valid)
        return "unknown";
    if (st->n_members <= 1)
        return "standalone";
    return strcmp(st->role, "leader") == 0 ? "leader" : "follower";
}

static void zkport_snapshot_pub(struct zn_zkport *zk, struct zn_node_status *st, uint64_t *watches,
                                bool *valid)
{
    pthread_mutex_lock(&zk->pub_lock);
    *st = zk->pub;
    *watches = zk->pub_watches;
    *valid = zk->pub_valid;
    pthread_mutex_unlock(&zk->pub_lock);
}

static uint32_t zkport_outstanding(const struct zn_zkport *zk)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++)
        if (zk->conns[i].state != ZKC_FREE)
            k += zk->conns[i].q_count;
    return k;
}

static void zkport_cons_lines(struct zn_zkport *zk, struct zkport_text *t)
{
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++) {
        const struct zkport_conn *c = &zk->conns[i];
        if (c->state == ZKC_FREE)
            continue;
        zkport_textf(t,
                     " /%s:%u[1](queued=%u,recved=%llu,sent=%llu,sid=0x%llx,est=%llu,to=%u,"
                     "lzxid=0x%llx)\n",
                     inet_ntoa((struct in_addr){htonl(c->ip)}), c->port, c->q_count,
                     (unsigned long long)c->recved, (unsigned long long)c->sent,
                     (unsigned long long)c->session, (unsigned long long)c->established_ms,
                     c->timeout_ms, (unsigned long long)c->last_zxid);
    }
}

static uint64_t zkport_dir_bytes(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    char path[ZN_CONFIG_PATH_MAX + 512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISREG(sb.st_mode))
            total += (uint64_t)sb.st_size;
        else if (S_ISDIR(sb.st_mode) && depth < 3)
            total += zkport_dir_bytes(path, depth + 1);
    }
    closedir(d);
    return total;
}

static void zkport_flw(struct zn_zkport *zk, struct zkport_conn *c, unsigned word)
{
    struct zn_node_status st;
    uint64_t watches;
    bool valid;
    zkport_snapshot_pub(zk, &st, &watches, &valid);
    static char buf[256 * 1024];
    struct zkport_text t = {buf, 0, sizeof(buf)};
    buf[0] = 0;
    const char *name = zn_zkport_words[word];
    double avg = zk->lat_n ? (double)zk->lat_sum_ns / (double)zk->lat_n / 1e6 : 0.0;
    if (!(zk->flw_allow & (1u << word))) {
        zkport_textf(&t, "%s is not executed because it is not in the whitelist.\n", name);
    } else if (!strcmp(name, "ruok")) {
        zkport_textf(&t, "imok");
    } else if (!strcmp(name, "isro")) {
        zkport_textf(&t, "rw");
    } else if (!strcmp(name, "srvr") || !strcmp(name, "stat")) {
        zkport_textf(&t, "Zookeeper version: 3.9.0-zinc-%s, built on zinc\n", zk->version);
        if (!strcmp(name, "stat")) {
            zkport_textf(&t, "Clients:\n");
            zkport_cons_lines(zk, &t);
            zkport_textf(&t, "\n");
        }
        zkport_textf(&t, "Latency min/avg/max: %.3f/%.3f/%.3f\n", (double)zk->lat_min_ns / 1e6, avg,
                     (double)zk->lat_max_ns / 1e6);
        zkport_textf(&t, "Received: %llu\nSent: %llu\nConnections: %u\nOutstanding: %u\n",
                     (unsigned long long)zk->packets_in, (unsigned long long)zk->packets_out,
                     zk->n_conns, zkport_outstanding(zk));
        zkport_textf(&t, "Zxid: 0x%llx\nMode: %s\nNode count: %llu\n",
                     (unsigned long long)(valid ? st.applied : 0), zkport_mode(&st, valid),
                     (unsigned long long)(valid ? st.znodes : 0));
    } else if (!strcmp(name, "mntr")) {
        struct rlimit rl = {0, 0};
        getrlimit(RLIMIT_NOFILE, &rl);
        uint32_t fds = 0;
        DIR *d = opendir("/proc/self/fd");
        if (d) {
            while (readdir(d))
                fds++;
            closedir(d);
            fds = fds >= 2 ? fds - 2 : 0;
        }
        zkport_textf(&t, "zk_version\t3.9.0-zinc-%s\n", zk->version);
        zkport_textf(&t, "zk_server_state\t%s\n", zkport_mode(&st, valid));
        zkport_textf(&t, "zk_avg_latency\t%.3f\nzk_max_latency\t%.3f\nzk_min_latency\t%.3f\n", avg,
                     (double)zk->lat_max_ns / 1e6, (double)zk->lat_min_ns / 1e6);
        zkport_textf(&t, "zk_packets_received\t%llu\nzk_packets_sent\t%llu\n",
                     (unsigned long long)zk->packets_in, (unsigned long long)zk->packets_out);
        zkport_textf(&t, "zk_num_alive_connections\t%u\nzk_outstanding_requests\t%u\n", zk->n_conns,
                     zkport_outstanding(zk));
        zkport_textf(&t, "zk_znode_count\t%llu\nzk_watch_count\t%llu\n",
                     (unsigned long long)(valid ? st.znodes : 0), (unsigned long long)watches);
        zkport_textf(&t, "zk_global_sessions\t%llu\n",
                     (unsigned long long)(valid ? st.sessions : 0));
        zkport_textf(&t, "zk_open_file_descriptor_count\t%u\nzk_max_file_descriptor_count\t%llu\n",
                     fds, (unsigned long long)rl.rlim_cur);
        zkport_textf(&t, "zk_uptime\t%lld\n", (long long)(zkport_realtime_ms(zk) - zk->started_ms));
        zkport_textf(&t, "zk_last_zxid\t0x%llx\n", (unsigned long long)(valid ? st.applied : 0));
        if (valid && st.n_members > 1 && !strcmp(st.role, "leader"))
            zkport_textf(&t, "zk_followers\t%u\n", st.n_members ? st.n_members - 1 : 0);
    } else if (!strcmp(name, "conf")) {
        zkport_textf(&t, "clientPort=%u\nclientPortAddress=%s\n", zk->cfg.mgmt.zk_port,
                     zk->cfg.zk.listen_host);
        zkport_textf(&t, "dataDir=%s/state\ndataLogDir=%s/state\n", zk->cfg.node.data_dir,
                     zk->cfg.node.data_dir);
        zkport_textf(&t, "maxClientCnxns=%u\nminSessionTimeout=%u\nmaxSessionTimeout=%u\n",
                     zk->cfg.zk.conn_per_ip_max, zk->cfg.session.timeout_min_ms,
                     zk->cfg.session.timeout_max_ms);
        zkport_textf(&t, "serverId=%u\n", zk->cfg.node.id);
        for (uint32_t i = 0; i < zk->cfg.cluster.n_members; i++)
            zkport_textf(&t, "server.%u=%s:%u\n", zk->cfg.cluster.members[i].id,
                         zk->cfg.cluster.members[i].host, zk->cfg.cluster.members[i].port);
    } else if (!strcmp(name, "cons")) {
        zkport_cons_lines(zk, &t);
        zkport_textf(&t, "\n");
    } else if (!strcmp(name, "wchs")) {
        uint32_t sessions = 0;
        for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++)
            if (zk->conns[i].state == ZKC_ACTIVE)
                sessions++;
        zkport_textf(&t, "%u connections\nTotal watches:%llu\n", sessions,
                     (unsigned long long)watches);
    } else if (!strcmp(name, "dirs")) {
        char state[ZN_CONFIG_PATH_MAX + 16];
        snprintf(state, sizeof(state), "%s/state", zk->cfg.node.data_dir);
        uint64_t b = zkport_dir_bytes(state, 0);
        zkport_textf(&t, "datadir_size: %llu\nlogdir_size: %llu\n", (unsigned long long)b,
                     (unsigned long long)b);
    }
    /* A four-letter word answer is raw text (no length prefix), then the server closes. */
    if (c->wcap < t.len) {
        uint8_t *p = realloc(c->wbuf, t.len);
        if (!p) {
            zkport_close(zk, c);
            return;
        }
        c->wbuf = p;
        c->wcap = t.len;
    }
    memcpy(c->wbuf, buf, t.len);
    c->woff = 0;
    c->wlen = t.len;
    c->state = ZKC_CLOSING;
    zkport_write_out(zk, c);
}

/* ---- client frames ---------------------------------------------------------------------------- */

/* The first frame: a ConnectRequest (44 or 45 bytes). */
static void zkport_on_connect(struct zn_zkport *zk, struct zkport_conn *c, const uint8_t *p,
                              uint32_t len)
{
    struct zn_zk_connect_request req;
    if (zn_zk_connect_request_decode(p, len, &req) != 0 || req.passwd.len > 16) {
        zkport_close(zk, c);
        return;
    }
    c->has_read_only = req.has_read_only;
    c->session = (uint64_t)req.session_id;
    c->last_zxid = req.last_zxid_seen > 0 ? (uint64_t)req.last_zxid_seen : 0;
    c->epoch = ++zk->next_epoch;
    /* Seq 1 for a new session; 0 for a reconnect: the node continues past whatever the
     * session used before (node_session.c node_handle_connect), which only it knows. */
    c->next_seq = c->session ? 0 : 1;
    uint8_t passwd[16] = {0};
    if (c->session == 0) {
        /* A new session: the CONNECT's passwd field is the nonce that dedups its
         * retransmissions (docs/wire-format.md R2). */
        ssize_t got = getrandom(passwd, sizeof(passwd), 0);
        ZN_ASSERT(got == (ssize_t)sizeof(passwd));
    } else if (req.passwd.len == 16) {
        memcpy(passwd, req.passwd.ptr, 16);
    }
    req.passwd = zn_bytes_make(passwd, 16);
    req.read_only = false;
    req.has_read_only = true;
    uint8_t body[ZN_ZKPORT_CONNECT_BYTES_MAX];
    long blen = zn_zk_connect_request_encode(&req, body, sizeof(body));
    c->connect_msg = malloc(ZN_SESS_HDR_BYTES + ZN_ZKPORT_CONNECT_BYTES_MAX);
    if (blen <= 0 || !c->connect_msg) {
        zkport_close(zk, c);
        return;
    }
    struct zn_sess_hdr h = {.kind = ZN_SESS_CONNECT,
                            .session_id = c->session,
                            .seq = c->next_seq,
                            .ack = c->epoch,
                            .zxid = c->last_zxid};
    zn_sess_hdr_encode(&h, c->connect_msg);
    memcpy(c->connect_msg + ZN_SESS_HDR_BYTES, body, (size_t)blen);
    c->connect_len = ZN_SESS_HDR_BYTES + (uint32_t)blen;
    uint64_t now = zkport_now(zk);
    uint32_t to = req.timeout_ms > 0 ? (uint32_t)req.timeout_ms : zk->cfg.session.timeout_min_ms;
    if (to < zk->cfg.session.timeout_min_ms)
        to = zk->cfg.session.timeout_min_ms;
    if (to > zk->cfg.session.timeout_max_ms)
        to = zk->cfg.session.timeout_max_ms;
    c->connect_deadline_ns = now + (uint64_t)to * ZKPORT_MS;
    c->state = ZKC_CONNECTING;
    c->connect_sent_ns = now;
    zkport_push_node(zk, c->slot, c->connect_msg, c->connect_len, NULL, 0);
}

/* A request frame: queued in order; sent to the node when its turn comes. */
static void zkport_on_request(struct zn_zkport *zk, struct zkport_conn *c, const uint8_t *p,
                              uint32_t len)
{
    if (len < 8) {
        zkport_close(zk, c); /* no RequestHeader: ZooKeeper drops such a connection too */
        return;
    }
    ZN_ASSERT(c->q_count < ZN_ZKPORT_QUEUE_MAX);
    struct zkport_req *r = zkport_q_at(c, c->q_count);
    memset(r, 0, sizeof(*r));
    r->xid = (int32_t)zkport_get_be32(p);
    r->type = (int32_t)zkport_get_be32(p + 4);
    r->recv_ns = zkport_now(zk);
    c->q_count++;
    c->recved++;
    zk->packets_in++;
    switch (r->type) {
    case ZN_ZK_OP_PING:
        break; /* answered when its turn comes (zkport_send_queued) */
    default:
        r->msg_len = ZN_SESS_HDR_BYTES + len;
        r->msg = malloc(r->msg_len);
        ZN_ASSERT(r->msg != NULL);
        memcpy(r->msg + ZN_SESS_HDR_BYTES, p, len);
        if (r->type == ZN_ZK_OP_CLOSESESSION)
            c->closing_after_reply = false; /* set when its reply is in */
    }
    zkport_send_queued(zk, c);
}

/* An oversized frame whose header is in: answered with the node's error for a request over
 * [limits] data_bytes_max (ZooKeeper's jute.maxbuffer drops the connection instead). */
static void zkport_on_oversized(struct zn_zkport *zk, struct zkport_conn *c, const uint8_t *p)
{
    struct zkport_req *r = zkport_q_at(c, c->q_count);
    memset(r, 0, sizeof(*r));
    r->xid = (int32_t)zkport_get_be32(p);
    r->type = (int32_t)zkport_get_be32(p + 4);
    r->recv_ns = zkport_now(zk);
    c->q_count++;
    c->recved++;
    zk->packets_in++;
    zkport_local_reply(c, r, zn_err_to_zk(ZN_ELIMIT), NULL, 0);
    zkport_send_queued(zk, c);
}

/* Parse complete frames out of rbuf (framing: zkport_frame.h). */
static void zkport_parse(struct zn_zkport *zk, struct zkport_conn *c)
{
    uint32_t off = 0;
    while (c->state != ZKC_FREE && c->state != ZKC_CLOSING) {
        const uint8_t *p = c->rbuf + off;
        uint32_t flen = 0;
        unsigned word = 0;
        enum zn_zkport_scan k = zn_zkport_scan(p, c->rlen - off, c->state == ZKC_HANDSHAKE,
                                               zk->frame_max, &flen, &word);
        if (k == ZN_ZKPORT_SCAN_MORE)
            break;
        if (k == ZN_ZKPORT_SCAN_WORD) {
            zkport_flw(zk, c, word);
            return;
        }
        if (k == ZN_ZKPORT_SCAN_OVERSIZED &&
            (c->state != ZKC_ACTIVE || c->q_count >= ZN_ZKPORT_QUEUE_MAX))
            k = ZN_ZKPORT_SCAN_BAD;
        if (k == ZN_ZKPORT_SCAN_BAD) {
            ZN_WARN("zk", "frame of %u bytes from %s:%u: closing the connection", flen,
                    inet_ntoa((struct in_addr){htonl(c->ip)}), c->port);
            zkport_close(zk, c);
            return;
        }
        if (k == ZN_ZKPORT_SCAN_OVERSIZED) {
            zkport_on_oversized(zk, c, p + 4);
            if (c->state == ZKC_FREE)
                return;
            uint32_t have = c->rlen - off - 4;
            uint32_t take = have < flen ? have : flen;
            c->skip = flen - take;
            off += 4 + take;
            continue;
        }
        if (c->state == ZKC_HANDSHAKE) {
            zkport_on_connect(zk, c, p + 4, flen);
        } else {
            if (c->q_count >= ZN_ZKPORT_QUEUE_MAX)
                break; /* parse it once replies made room */
            zkport_on_request(zk, c, p + 4, flen);
        }
        off += 4 + flen;
    }
    if (c->state == ZKC_FREE)
        return;
    if (off) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
}

static void zkport_read(struct zn_zkport *zk, struct zkport_conn *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->state == ZKC_FREE || c->state == ZKC_CLOSING || c->q_count >= ZN_ZKPORT_QUEUE_MAX)
            break;
        if (c->skip) {
            uint8_t sink[16384];
            size_t want = c->skip < sizeof(sink) ? (size_t)c->skip : sizeof(sink);
            ssize_t k = recv(c->fd, sink, want, 0);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
                zkport_close(zk, c);
                return;
            }
            if (k < 0)
                break;
            c->skip -= (uint64_t)k;
            continue;
        }
        /* Room for the frame being read (its length is known once 4 bytes are in). */
        uint32_t need = ZKPORT_RBUF_MIN;
        if (c->rlen >= 4) {
            uint32_t flen = zkport_get_be32(c->rbuf);
            if (flen <= zk->frame_max && flen + 4 > need)
                need = flen + 4;
        }
        if (c->rcap < need) {
            uint8_t *p = realloc(c->rbuf, need);
            if (!p) {
                zkport_close(zk, c);
                return;
            }
            c->rbuf = p;
            c->rcap = need;
        }
        if (c->rlen == c->rcap) {
            zkport_parse(zk, c);
            if (c->state == ZKC_FREE || c->rlen == c->rcap)
                break;
            continue;
        }
        ssize_t k = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
            zkport_close(zk, c); /* the client went away; its session lives on */
            return;
        }
        if (k < 0)
            break;
        c->rlen += (uint32_t)k;
        zkport_parse(zk, c);
    }
    if (c->state != ZKC_FREE)
        zkport_set_events(zk, c);
}

/* ---- node messages ---------------------------------------------------------------------------- */

static void zkport_connected(struct zn_zkport *zk, struct zkport_conn *c,
                             const struct zn_sess_hdr *h, struct zn_bytes body)
{
    struct zn_zk_connect_response cr;
    if (h->seq != c->epoch || zn_zk_connect_response_decode(body.ptr, (size_t)body.len, &cr) ||
        cr.passwd.len != 16)
        return;
    c->session = h->session_id;
    memcpy(c->passwd, cr.passwd.ptr, 16);
    c->timeout_ms = (uint32_t)cr.timeout_ms;
    c->next_seq = h->ack + 1 > c->next_seq ? h->ack + 1 : c->next_seq;
    if (h->zxid > c->last_zxid)
        c->last_zxid = h->zxid;
    free(c->connect_msg);
    c->connect_msg = NULL;
    c->state = ZKC_ACTIVE;
    struct zn_zk_connect_response out = {.protocol_version = 0,
                                         .timeout_ms = cr.timeout_ms,
                                         .session_id = (int64_t)c->session,
                                         .passwd = zn_bytes_make(c->passwd, 16),
                                         .read_only = false};
    uint8_t buf[64];
    long blen = zn_zk_connect_response_encode(&out, buf, sizeof(buf));
    ZN_ASSERT(blen >= 36);
    /* The 44-byte ConnectRequest of older clients gets a reply without readOnly. */
    size_t n = c->has_read_only ? (size_t)blen : 36;
    if (!zkport_frame_out(zk, c, buf, n, NULL, 0))
        return;
    ZN_DEBUG("zk", "session 0x%llx on connection %u", (unsigned long long)c->session, c->slot);
    zkport_send_queued(zk, c);
}

/* The node refused the session: to a connecting client ZooKeeper answers an expired (or
 * unknown, or bad-password) session with a ConnectResponse of timeout 0, and closes. */
static void zkport_refused(struct zn_zkport *zk, struct zkport_conn *c, int32_t zk_err)
{
    if (c->state == ZKC_CONNECTING) {
        if (zk_err == ZK_THROTTLEDOP)
            return; /* the node's connect table is full: the retransmission tries again */
        struct zn_zk_connect_response out = {.passwd = zn_bytes_make((const uint8_t[16]){0}, 16)};
        uint8_t buf[64];
        long blen = zn_zk_connect_response_encode(&out, buf, sizeof(buf));
        size_t n = c->has_read_only ? (size_t)blen : 36;
        if (!zkport_frame_out(zk, c, buf, n, NULL, 0))
            return;
        c->state = ZKC_CLOSING;
        zkport_write_out(zk, c);
        return;
    }
    /* Our closeSession went through: the node forgets the session at once and may drop its
     * reply when it was held behind an event of that same apply (R7); answer it here. */
    for (uint32_t i = 0; i < c->q_sent; i++) {
        struct zkport_req *r = zkport_q_at(c, i);
        if (r->type == ZN_ZK_OP_CLOSESESSION && r->seq && !r->reply &&
            zk_err == ZK_SESSIONEXPIRED) {
            /* the close was applied: its zxid is at most the node's last applied one */
            uint64_t z = atomic_load_explicit(&zk->link.applied_zxid, memory_order_acquire);
            if (z > c->last_zxid)
                c->last_zxid = z;
            zkport_local_reply(c, r, 0, NULL, 0);
            c->closing_after_reply = true;
            zkport_flush_replies(zk, c);
            return;
        }
    }
    /* Expired, closed, or moved to another node: drop the connection; the client reconnects
     * and learns which (ZooKeeper closes the connection of an expired session too). */
    ZN_DEBUG("zk", "session 0x%llx refused (%d): closing connection %u",
             (unsigned long long)c->session, zk_err, c->slot);
    zkport_close(zk, c);
}

static void zkport_reply(struct zn_zkport *zk, struct zkport_conn *c, const struct zn_sess_hdr *h,
                         struct zn_bytes body)
{
    if (h->zxid > c->last_zxid)
        c->last_zxid = h->zxid;
    if (h->zxid > zk->max_client_zxid)
        zk->max_client_zxid = h->zxid;
    for (uint32_t i = 0; i < c->q_sent; i++) {
        struct zkport_req *r = zkport_q_at(c, i);
        if (r->seq != h->seq || !r->msg)
            continue;
        if (r->reply || body.len < 16)
            return; /* a duplicate answer (both the original and a retransmission) */
        /* whoAmI needs nothing here: the node knows the TCP peer (zn_zkport_link_peer_ip). */
        r->reply = malloc((size_t)body.len);
        ZN_ASSERT(r->reply != NULL);
        memcpy(r->reply, body.ptr, (size_t)body.len);
        r->reply_len = body.len;
        /* `create` (1) answers CreateResponse{path} even when it made a container (logged as
         * createContainer, node/zkconv.c): drop the Stat after the path. */
        if (r->type == ZN_ZK_OP_CREATE && body.len >= 20 && zkport_get_be32(body.ptr + 12) == 0) {
            uint32_t plen = zkport_get_be32(body.ptr + 16);
            if ((int64_t)plen <= (int64_t)body.len - 20)
                r->reply_len = 20 + plen;
        }
        zkport_put_be32(r->reply, (uint32_t)r->xid);
        if (r->type == ZN_ZK_OP_CLOSESESSION)
            c->closing_after_reply = true;
        /* ZooKeeper closes a connection whose authentication failed, after the reply. */
        if (r->type == ZN_ZK_OP_AUTH && (int32_t)zkport_get_be32(r->reply + 12) == ZK_AUTHFAILED)
            c->closing_after_reply = true;
        zkport_flush_replies(zk, c);
        if (c->state != ZKC_FREE)
            zkport_send_queued(zk, c);
        return;
    }
}

static void zkport_event(struct zn_zkport *zk, struct zkport_conn *c, const struct zn_sess_hdr *h,
                         struct zn_bytes body)
{
    if (h->seq == c->events_in + 1) {
        c->events_in = h->seq;
        /* The client saw this change: a later ping may not show an older zxid (the apply stage
         * publishes its applied zxid after the batch, this event may arrive first). */
        if (h->zxid > c->last_zxid)
            c->last_zxid = h->zxid;
        if (h->zxid > zk->max_client_zxid)
            zk->max_client_zxid = h->zxid;
        if (!zkport_frame_out(zk, c, body.ptr, (size_t)body.len, NULL, 0))
            return;
        zkport_write_out(zk, c);
        if (c->state == ZKC_FREE)
            return;
    }
    /* In order or a duplicate: acknowledge what arrived in order (a gap waits for the node's
     * retransmission). */
    struct zn_sess_hdr a = {
        .kind = ZN_SESS_ACK, .session_id = c->session, .ack = c->events_in, .zxid = c->last_zxid};
    zkport_to_node(zk, c, &a, NULL, 0);
}

static void zkport_on_node_msg(void *ctx, uint16_t slot, const uint8_t *msg, uint32_t len)
{
    struct zn_zkport *zk = ctx;
    if (slot == 0 || slot > ZN_ZKPORT_CONNS_MAX)
        return;
    struct zkport_conn *c = &zk->conns[slot - 1];
    struct zn_sess_hdr h;
    struct zn_bytes body;
    if (zn_sess_decode(msg, len, ZN_SESS_TO_CLIENT, &h, &body) != 0)
        return;
    if (c->state == ZKC_CONNECTING) {
        if (h.kind == ZN_SESS_CONNECTED)
            zkport_connected(zk, c, &h, body);
        else if (h.kind == ZN_SESS_REFUSED && body.len == 4 &&
                 (c->session == 0 || h.session_id == c->session))
            zkport_refused(zk, c, (int32_t)zkport_get_be32(body.ptr));
        return;
    }
    if (c->state != ZKC_ACTIVE || h.session_id != c->session)
        return; /* for an earlier connection of this slot */
    switch (h.kind) {
    case ZN_SESS_REPLY:
        zkport_reply(zk, c, &h, body);
        break;
    case ZN_SESS_EVENT:
        zkport_event(zk, c, &h, body);
        break;
    case ZN_SESS_REFUSED:
        if (body.len == 4)
            zkport_refused(zk, c, (int32_t)zkport_get_be32(body.ptr));
        break;
    default:
        break; /* PONG, a late CONNECTED */
    }
}

/* ---- timers ------------------------------------------------------------------------------------ */

static void zkport_timers(struct zn_zkport *zk, uint64_t now)
{
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++) {
        struct zkport_conn *c = &zk->conns[i];
        if (c->state == ZKC_CONNECTING) {
            if (now > c->connect_deadline_ns) {
                zkport_close(zk, c); /* no answer in a whole timeout: the client moves on */
                continue;
            }
            if (now - c->connect_sent_ns > ZKPORT_RTO_NS) {
                c->connect_sent_ns = now;
                zkport_push_node(zk, c->slot, c->connect_msg, c->connect_len, NULL, 0);
            }
            continue;
        }
        if (c->state != ZKC_ACTIVE)
            continue;
        for (uint32_t k = 0; k < c->q_sent; k++) {
            struct zkport_req *r = zkport_q_at(c, k);
            if (!r->msg || r->reply || now - r->sent_ns < r->rto_ns)
                continue;
            r->msg[1] |= ZN_SESS_F_RETRY;
            if (zkport_push_node(zk, c->slot, r->msg, r->msg_len, NULL, 0) != 0)
                break;
            r->sent_ns = now;
            r->rto_ns = r->rto_ns * 2 < ZKPORT_RTO_MAX_NS ? r->rto_ns * 2 : ZKPORT_RTO_MAX_NS;
        }
        zkport_send_queued(zk, c); /* whatever a full ring held back */
    }
}

static bool zkport_busy(const struct zn_zkport *zk)
{
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++) {
        const struct zkport_conn *c = &zk->conns[i];
        if (c->state == ZKC_CONNECTING || (c->state == ZKC_ACTIVE && c->inflight))
            return true;
    }
    return false;
}

/* ---- the thread -------------------------------------------------------------------------------- */

#define ZKPORT_TAG_LISTEN UINT32_MAX
#define ZKPORT_TAG_WAKE   (UINT32_MAX - 1)

static void *zkport_main(void *arg)
{
    struct zn_zkport *zk = arg;
    struct epoll_event evs[64];
    uint64_t next_timers = 0;
    while (!atomic_load(&zk->stop)) {
        /* Sleep only with nothing from the node waiting (see zn_zkport_link_send). */
        int timeout_ms = zkport_busy(zk) ? 50 : 500;
        atomic_store(&zk->link.sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        uint16_t s;
        const uint8_t *d;
        uint32_t l;
        if (zn_zkring_peek(&zk->link.to_port, &s, &d, &l))
            timeout_ms = 0;
        int k = epoll_wait(zk->ep, evs, 64, timeout_ms);
        atomic_store(&zk->link.sleeping, 0);
        for (int i = 0; i < k; i++) {
            uint32_t tag = evs[i].data.u32;
            if (tag == ZKPORT_TAG_LISTEN) {
                zkport_accept(zk);
            } else if (tag == ZKPORT_TAG_WAKE) {
                uint64_t v;
                ssize_t r = read(zk->link.wake_fd, &v, sizeof(v));
                (void)r;
            } else if (tag >= 1 && tag <= ZN_ZKPORT_CONNS_MAX) {
                struct zkport_conn *c = &zk->conns[tag - 1];
                if (c->state == ZKC_FREE)
                    continue;
                if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
                    zkport_close(zk, c);
                    continue;
                }
                if (evs[i].events & EPOLLOUT && !zkport_write_out(zk, c))
                    continue;
                if (evs[i].events & EPOLLIN)
                    zkport_read(zk, c);
            }
        }
        /* Bounded per pass, so that sockets keep being served under a flood from the node. */
        for (int rounds = 0; rounds < 16; rounds++)
            if (zkport_ring_drain(&zk->link.to_port, ZKPORT_POLL_BATCH, zkport_on_node_msg, zk) ==
                0)
                break;
        /* Frames held back while a queue was full: parse them now that replies made room. */
        for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++) {
            struct zkport_conn *c = &zk->conns[i];
            if ((c->state == ZKC_ACTIVE || c->state == ZKC_CONNECTING) && c->rlen >= 4 &&
                c->q_count < ZN_ZKPORT_QUEUE_MAX) {
                zkport_parse(zk, c);
                if (c->state != ZKC_FREE)
                    zkport_set_events(zk, c);
            }
        }
        uint64_t now = zkport_now(zk);
        if (now >= next_timers) {
            next_timers = now + 20 * ZKPORT_MS;
            zkport_timers(zk, now);
        }
    }
    return NULL;
}

/* ---- management side ----------------------------------------------------------------------- */

int zn_zkport_start(const struct zn_config *cfg, const struct zn_clock *clock, const char *version,
                    struct zn_zkport **out, char *err, size_t err_len)
{
    *out = NULL;
    struct zn_zkport *zk = calloc(1, sizeof(*zk));
    if (!zk)
        return ZN_ENOMEM;
    zk->cfg = *cfg;
    zk->clock = clock;
    zk->listen_fd = zk->ep = zk->link.wake_fd = -1;
    snprintf(zk->version, sizeof(zk->version), "%s", version);
    zk->started_ms = zkport_realtime_ms(zk);
    zk->next_epoch = (uint64_t)zk->clock->realtime_ns(zk->clock->ctx);
    pthread_mutex_init(&zk->pub_lock, NULL);
    int rc = zn_zkport_words_parse(cfg->zk.four_letter_words, &zk->flw_allow);
    if (rc) {
        zkport_errf(err, err_len, "[zk] four_letter_words: unknown word in \"%s\"",
                    cfg->zk.four_letter_words);
        zn_zkport_free(zk);
        return rc;
    }
    uint64_t msg = cfg->limits.data_bytes_max + ZN_MSG_OVERHEAD_MAX_BYTES;
    if (msg > ZN_MSG_SIZE_MAX_BYTES)
        msg = ZN_MSG_SIZE_MAX_BYTES;
    zk->frame_max = (uint32_t)msg;
    zk->wbuf_max = ZN_ZKPORT_WBUF_MSGS * (msg + 64) + ZN_ZKPORT_WBUF_SLACK;
    uint64_t ring = ZN_ZKPORT_RING_MSGS * (msg + ZN_SESS_HDR_BYTES + 64);
    if (ring < ZN_ZKPORT_RING_BYTES_MIN)
        ring = ZN_ZKPORT_RING_BYTES_MIN;
    zk->conns = calloc(ZN_ZKPORT_CONNS_MAX, sizeof(*zk->conns));
    if (!zk->conns || zn_zkring_init(&zk->link.to_node, ring, msg + ZN_SESS_HDR_BYTES) ||
        zn_zkring_init(&zk->link.to_port, ring, msg + ZN_SESS_HDR_BYTES)) {
        zn_zkport_free(zk);
        return ZN_ENOMEM;
    }
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++) {
        zk->conns[i].slot = (uint16_t)(i + 1);
        zk->conns[i].fd = -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg->mgmt.zk_port)};
    if (inet_pton(AF_INET, cfg->zk.listen_host, &sa.sin_addr) != 1) {
        zkport_errf(err, err_len, "[zk] listen_host: bad address %s", cfg->zk.listen_host);
        zn_zkport_free(zk);
        return ZN_EINVAL;
    }
    zk->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (zk->listen_fd < 0 ||
        setsockopt(zk->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(zk->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(zk->listen_fd, 128) != 0) {
        zkport_errf(err, err_len, "cannot listen on TCP %s:%u: %s", cfg->zk.listen_host,
                    cfg->mgmt.zk_port, strerror(errno));
        zn_zkport_free(zk);
        return ZN_EIO;
    }
    zk->ep = epoll_create1(EPOLL_CLOEXEC);
    zk->link.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.u32 = ZKPORT_TAG_LISTEN};
    struct epoll_event wev = {.events = EPOLLIN, .data.u32 = ZKPORT_TAG_WAKE};
    if (zk->ep < 0 || zk->link.wake_fd < 0 ||
        epoll_ctl(zk->ep, EPOLL_CTL_ADD, zk->listen_fd, &lev) != 0 ||
        epoll_ctl(zk->ep, EPOLL_CTL_ADD, zk->link.wake_fd, &wev) != 0) {
        zkport_errf(err, err_len, "epoll: %s", strerror(errno));
        zn_zkport_free(zk);
        return ZN_EIO;
    }
    if (pthread_create(&zk->thread, NULL, zkport_main, zk) != 0) {
        zkport_errf(err, err_len, "cannot start the ZooKeeper port thread");
        zn_zkport_free(zk);
        return ZN_ENOMEM;
    }
    zk->thread_started = true;
    *out = zk;
    return 0;
}

struct zn_zkport_link *zn_zkport_link(struct zn_zkport *zk)
{
    return &zk->link;
}

void zn_zkport_publish(struct zn_zkport *zk, const struct zn_node_status *st, uint64_t watches)
{
    pthread_mutex_lock(&zk->pub_lock);
    zk->pub = *st;
    zk->pub_watches = watches;
    zk->pub_valid = true;
    pthread_mutex_unlock(&zk->pub_lock);
}

void zn_zkport_stop(struct zn_zkport *zk)
{
    if (!zk || !zk->thread_started)
        return;
    atomic_store(&zk->stop, true);
    uint64_t one = 1;
    ssize_t w = write(zk->link.wake_fd, &one, sizeof(one));
    (void)w;
    pthread_join(zk->thread, NULL);
    zk->thread_started = false;
    for (uint32_t i = 0; i < ZN_ZKPORT_CONNS_MAX; i++)
        zkport_close(zk, &zk->conns[i]);
    if (zk->listen_fd >= 0)
        close(zk->listen_fd);
    zk->listen_fd = -1;
}

void zn_zkport_free(struct zn_zkport *zk)
{
    if (!zk)
        return;
    zn_zkport_stop(zk);
    if (zk->listen_fd >= 0)
        close(zk->listen_fd);
    if (zk->ep >= 0)
        close(zk->ep);
    if (zk->link.wake_fd >= 0)
        close(zk->link.wake_fd);
    zn_zkring_destroy(&zk->link.to_node);
    zn_zkring_destroy(&zk->link.to_port);
    free(zk->conns);
    pthread_mutex_destroy(&zk->pub_lock);
    free(zk);
}
