/* tclient.c - see tclient.h. */
#include "tclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "proto/session.h"

#define MS           1000000ull
#define TC_RTO_MS    60u
#define TC_SWITCH_MS 700u

static uint64_t tc_now(struct tclient *c)
{
    return c->clock.monotonic_ns(c->clock.ctx);
}

int tc_init(struct tclient *c, const char *servers, uint32_t cluster_id)
{
    memset(c, 0, sizeof(*c));
    zn_clock_system_init(&c->clock, &c->clock_state);
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", servers);
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s && c->n_servers < TC_SERVERS_MAX;
         s = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(s, ':');
        if (!colon)
            return -1;
        *colon = '\0';
        struct zn_dp_addr *a = &c->servers[c->n_servers++];
        if (zn_dp_ip_parse(s, &a->ip) != 0)
            return -1;
        a->port = (uint16_t)strtoul(colon + 1, NULL, 10);
    }
    struct zn_dp_addr local = {0, 0};
    c->udp.fd = -1;
    if (zn_udp_open(&c->udp, &local, &c->tr) != 0)
        return -1;
    if (zn_dp_msgr_init(&c->msgr, &c->tr, cluster_id, 0, 64, 8ull * ZN_MIB, 500 * MS) != 0)
        return -1;
    c->cluster_id = cluster_id;
    c->next_seq = 1;
    /* The new-session nonce ([R2]): random per handle. */
    uint64_t t = tc_now(c) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
    for (int i = 0; i < 16; i++)
        c->passwd[i] = (uint8_t)((t >> ((i % 8) * 8)) + (uint64_t)i * 131u);
    return 0;
}

void tc_fini(struct tclient *c)
{
    zn_dp_msgr_fini(&c->msgr);
    zn_udp_close(&c->udp);
}

/* Every message of a receive burst is queued (a burst may hold many replies). */
static void tc_on_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    struct tclient *c = ctx;
    if (msg->hdr.type != ZN_FRAME_SERVER || msg->len > TC_MSG_MAX || c->q_count == TC_QUEUE)
        return;
    unsigned slot = (c->q_head + c->q_count) % TC_QUEUE;
    memcpy(c->q[slot], msg->data, msg->len);
    c->q_len[slot] = msg->len;
    c->q_msg_id[slot] = msg->hdr.msg_id;
    c->q_count++;
}

/* Wait up to wait_ms for one server message; returns true with it decoded in h/body (valid
 * until the next call). */
static bool tc_recv(struct tclient *c, uint32_t wait_ms, struct zn_sess_hdr *h,
                    struct zn_bytes *body)
{
    uint64_t until = tc_now(c) + wait_ms * MS;
    for (;;) {
        while (c->q_count) {
            unsigned slot = c->q_head;
            c->q_head = (c->q_head + 1) % TC_QUEUE;
            c->q_count--;
            memcpy(c->in, c->q[slot], c->q_len[slot]);
            c->in_len = c->q_len[slot];
            c->in_msg_id = c->q_msg_id[slot];
            if (zn_sess_decode(c->in, c->in_len, ZN_SESS_TO_CLIENT, h, body) == 0)
                return true;
        }
        if (tc_now(c) >= until)
            return false;
        if (zn_dp_msgr_poll(&c->msgr, tc_now(c), tc_on_msg, c) == 0) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
}

static void tc_send(struct tclient *c, const struct zn_sess_hdr *h, const uint8_t *body, size_t len)
{
    static uint8_t buf[1 << 17];
    zn_sess_hdr_encode(h, buf);
    if (len)
        memcpy(buf + ZN_SESS_HDR_BYTES, body, len);
    zn_dp_msgr_send(&c->msgr, &c->servers[c->cur], ZN_FRAME_CLIENT, 0, buf,
                    (uint32_t)(ZN_SESS_HDR_BYTES + len), tc_now(c));
}

static int32_t tc_refused_code(struct zn_bytes body)
{
    if (body.len != 4)
        return 0;
    return (int32_t)(((uint32_t)body.ptr[0] << 24) | ((uint32_t)body.ptr[1] << 16) |
                     ((uint32_t)body.ptr[2] << 8) | body.ptr[3]);
}

/* One CONNECT exchange with the current server; 0, ZN_ESESSIONEXPIRED or ZN_EAGAIN. */
static int tc_connect_once(struct tclient *c, uint32_t wait_ms)
{
    uint8_t body[64];
    struct zn_zk_connect_request req = {.protocol_version = 0,
                                        .last_zxid_seen = (int64_t)c->last_zxid,
                                        .timeout_ms = (int32_t)c->timeout_ms,
                                        .session_id = (int64_t)c->session,
                                        .passwd = zn_bytes_make(c->passwd, 16),
                                        .read_only = false,
                                        .has_read_only = true};
    long len = zn_zk_connect_request_encode(&req, body, sizeof(body));
    c->epoch++; /* a new connection attempt ([R2]) */
    struct zn_sess_hdr h = {.kind = ZN_SESS_CONNECT,
                            .session_id = c->session,
                            .seq = c->next_seq,
                            .ack = c->epoch,
                            .zxid = c->last_zxid};
    uint64_t until = tc_now(c) + wait_ms * MS;
    while (tc_now(c) < until) {
        tc_send(c, &h, body, (size_t)len);
        struct zn_sess_hdr r;
        struct zn_bytes rb;
        uint64_t step_until = tc_now(c) + 150 * MS;
        while (tc_now(c) < step_until && tc_recv(c, 150, &r, &rb)) {
            if (r.kind == ZN_SESS_CONNECTED && r.seq == c->epoch) {
                struct zn_zk_connect_response cr;
                if (zn_zk_connect_response_decode(rb.ptr, (size_t)rb.len, &cr) != 0)
                    continue;
                c->session = (uint64_t)cr.session_id;
                memcpy(c->passwd, cr.passwd.ptr, 16);
                c->timeout_ms = (uint32_t)cr.timeout_ms;
                return 0;
            }
            if (r.kind == ZN_SESS_REFUSED) {
                int32_t code = tc_refused_code(rb);
                return code == ZK_SESSIONEXPIRED ? ZN_ESESSIONEXPIRED : ZN_EAGAIN;
            }
        }
    }
    return ZN_EAGAIN;
}

int tc_connect(struct tclient *c, uint32_t timeout_ms, uint32_t deadline_ms)
{
    c->timeout_ms = timeout_ms;
    uint64_t until = tc_now(c) + deadline_ms * MS;
    while (tc_now(c) < until) {
        int rc = tc_connect_once(c, 1000);
        if (rc == 0)
            return 0;
        if (rc == ZN_ESESSIONEXPIRED)
            return rc;
        c->cur = (c->cur + 1) % c->n_servers;
        c->failovers++;
    }
    return ZN_ETIMEDOUT;
}

int tc_call(struct tclient *c, const uint8_t *req, size_t req_len, uint32_t deadline_ms,
            int32_t *zk_err, const uint8_t **body, size_t *body_len)
{
    static uint8_t copy[1 << 17];
    if (req_len > sizeof(copy) || req_len < 8)
        return ZN_EINVAL;
    uint64_t seq = c->next_seq;
    memcpy(copy, req, req_len);
    uint32_t xid = (uint32_t)seq;
    copy[0] = (uint8_t)(xid >> 24);
    copy[1] = (uint8_t)(xid >> 16);
    copy[2] = (uint8_t)(xid >> 8);
    copy[3] = (uint8_t)xid;
    uint64_t until = tc_now(c) + deadline_ms * MS;
    uint64_t server_since = tc_now(c);
    bool first = true;
    uint8_t extra = c->next_flags;
    c->next_flags = 0;
    while (tc_now(c) < until) {
        struct zn_sess_hdr h = {.kind = ZN_SESS_REQUEST,
                                .flags = (uint8_t)(extra | (first ? 0 : ZN_SESS_F_RETRY)),
                                .session_id = c->session,
                                .seq = seq,
                                .zxid = c->last_zxid};
        if (!first)
            c->retransmits++;
        first = false;
        tc_send(c, &h, copy, req_len);
        struct zn_sess_hdr r;
        struct zn_bytes rb;
        uint64_t rto_until = tc_now(c) + TC_RTO_MS * MS;
        while (tc_now(c) < rto_until && tc_recv(c, TC_RTO_MS, &r, &rb)) {
            if (r.kind == ZN_SESS_REPLY && r.seq == seq && r.session_id == c->session) {
                struct zn_jute_reader jr;
                zn_jute_reader_init(&jr, rb.ptr, (size_t)rb.len);
                struct zn_zk_reply_header rh;
                if (zn_zk_get_reply_header(&jr, &rh) != 0)
                    continue;
                *zk_err = rh.err;
                *body = rb.ptr + jr.pos;
                *body_len = zn_jute_remaining(&jr);
                if (r.zxid > c->last_zxid)
                    c->last_zxid = r.zxid;
                c->next_seq = seq + 1;
                return 0;
            }
            if (r.kind == ZN_SESS_REFUSED) {
                int32_t code = tc_refused_code(rb);
                if (code == ZK_SESSIONEXPIRED)
                    return ZN_ESESSIONEXPIRED;
                server_since = 0; /* moved or behind: switch now */
                break;
            }
            if (r.kind == ZN_SESS_EVENT) {
                /* Not waiting for events here, but ack them: the node holds replies behind
                 * unacknowledged events ([R7]). */
                struct zn_sess_hdr ack = {.kind = ZN_SESS_ACK,
                                          .session_id = c->session,
                                          .ack = r.seq,
                                          .zxid = c->last_zxid};
                tc_send(c, &ack, NULL, 0);
            }
        }
        if (tc_now(c) - server_since > TC_SWITCH_MS * MS) {
            /* No answer from this server: fail over, keeping the session. */
            c->cur = (c->cur + 1) % c->n_servers;
            c->failovers++;
            int rc = tc_connect_once(c, 600);
            if (rc == ZN_ESESSIONEXPIRED)
                return rc;
            server_since = tc_now(c);
        }
    }
    return ZN_ETIMEDOUT;
}

static size_t tc_req_begin(struct zn_jute_writer *w, uint8_t *buf, size_t cap, int32_t type)
{
    zn_jute_writer_init(w, buf, cap);
    zn_jute_put_int(w, 0);
    zn_jute_put_int(w, type);
    return 0;
}

int tc_create(struct tclient *c, const char *path, const char *data, int32_t mode, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), ZN_ZK_OP_CREATE);
    zn_jute_put_string(&w, path);
    zn_jute_put_buffer(&w, zn_bytes_make(data, strlen(data)));
    zn_jute_put_int(&w, 1);
    zn_jute_put_int(&w, 31);
    zn_jute_put_string(&w, "world");
    zn_jute_put_string(&w, "anyone");
    zn_jute_put_int(&w, mode);
    const uint8_t *b;
    size_t bl;
    return tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
}

int tc_get(struct tclient *c, const char *path, char *data, size_t cap, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), ZN_ZK_OP_GETDATA);
    zn_jute_put_string(&w, path);
    zn_jute_put_bool(&w, false);
    const uint8_t *b;
    size_t bl;
    int rc = tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
    if (rc || *zk_err)
        return rc;
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, b, bl);
    struct zn_bytes d = zn_jute_get_buffer(&r, (int32_t)cap - 1);
    if (r.err || d.len < 0)
        return ZN_EPROTO;
    memcpy(data, d.ptr, (size_t)d.len);
    data[d.len] = '\0';
    return 0;
}

int tc_set(struct tclient *c, const char *path, const char *data, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), ZN_ZK_OP_SETDATA);
    zn_jute_put_string(&w, path);
    zn_jute_put_buffer(&w, zn_bytes_make(data, strlen(data)));
    zn_jute_put_int(&w, -1);
    const uint8_t *b;
    size_t bl;
    return tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
}

int tc_delete(struct tclient *c, const char *path, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), ZN_ZK_OP_DELETE);
    zn_jute_put_string(&w, path);
    zn_jute_put_int(&w, -1);
    const uint8_t *b;
    size_t bl;
    return tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
}

static int tc_read_watch(struct tclient *c, int32_t op, const char *path, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), op);
    zn_jute_put_string(&w, path);
    zn_jute_put_bool(&w, true);
    const uint8_t *b;
    size_t bl;
    return tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
}

int tc_get_watch(struct tclient *c, const char *path, int32_t *zk_err)
{
    return tc_read_watch(c, ZN_ZK_OP_GETDATA, path, zk_err);
}

int tc_exists_watch(struct tclient *c, const char *path, int32_t *zk_err)
{
    return tc_read_watch(c, ZN_ZK_OP_EXISTS, path, zk_err);
}

int tc_wait_event(struct tclient *c, uint32_t wait_ms, int32_t *type, char *path, size_t cap)
{
    uint64_t until = tc_now(c) + wait_ms * MS;
    uint64_t next_ping = 0;
    while (tc_now(c) < until) {
        if (tc_now(c) >= next_ping) {
            struct zn_sess_hdr p = {
                .kind = ZN_SESS_PING, .session_id = c->session, .zxid = c->last_zxid};
            tc_send(c, &p, NULL, 0);
            next_ping = tc_now(c) + 1000 * MS;
        }
        struct zn_sess_hdr r;
        struct zn_bytes rb;
        if (!tc_recv(c, 50, &r, &rb) || r.kind != ZN_SESS_EVENT)
            continue;
        struct zn_jute_reader jr;
        zn_jute_reader_init(&jr, rb.ptr, (size_t)rb.len);
        struct zn_zk_reply_header rh;
        struct zn_zk_watch_event ev;
        if (zn_zk_get_reply_header(&jr, &rh) != 0 || rh.xid != ZN_ZK_XID_WATCH_EVENT ||
            zn_zk_get_watch_event(&jr, &ev) != 0)
            continue;
        struct zn_sess_hdr ack = {
            .kind = ZN_SESS_ACK, .session_id = c->session, .ack = r.seq, .zxid = c->last_zxid};
        tc_send(c, &ack, NULL, 0);
        *type = ev.type;
        size_t n = ev.path.len > 0 ? (size_t)ev.path.len : 0;
        if (n >= cap)
            n = cap - 1;
        memcpy(path, ev.path.ptr, n);
        path[n] = '\0';
        return 0;
    }
    return ZN_ETIMEDOUT;
}

int tc_sync(struct tclient *c, const char *path, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), ZN_ZK_OP_SYNC);
    zn_jute_put_string(&w, path);
    const uint8_t *b;
    size_t bl;
    return tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
}

int tc_pipeline_sets(struct tclient *c, const char *path, int n, int32_t *versions, bool lose_odd,
                     uint32_t deadline_ms)
{
    static uint8_t reqs[64][256];
    static size_t lens[64];
    static bool done[64], lost[64];
    static uint64_t lost_id[64];
    if (n > 64)
        return ZN_EINVAL;
    uint64_t first = c->next_seq;
    for (int k = 0; k < n; k++) {
        struct zn_jute_writer w;
        zn_jute_writer_init(&w, reqs[k], sizeof(reqs[k]));
        zn_jute_put_int(&w, (int32_t)(uint32_t)(first + (uint64_t)k));
        zn_jute_put_int(&w, ZN_ZK_OP_SETDATA);
        zn_jute_put_string(&w, path);
        char v[16];
        snprintf(v, sizeof(v), "v%d", k);
        zn_jute_put_buffer(&w, zn_bytes_make(v, strlen(v)));
        zn_jute_put_int(&w, -1);
        lens[k] = w.len;
        done[k] = false;
        lost[k] = false;
        versions[k] = -1;
    }
    uint64_t until = tc_now(c) + deadline_ms * MS;
    int left = n;
    bool first_round = true;
    while (left > 0 && tc_now(c) < until) {
        /* Newest first: every request but the last arrives before its turn. */
        for (int k = n - 1; k >= 0; k--) {
            if (done[k])
                continue;
            struct zn_sess_hdr h = {.kind = ZN_SESS_REQUEST,
                                    .flags = first_round ? 0 : ZN_SESS_F_RETRY,
                                    .session_id = c->session,
                                    .seq = first + (uint64_t)k,
                                    .zxid = c->last_zxid};
            if (!first_round)
                c->retransmits++;
            tc_send(c, &h, reqs[k], lens[k]);
        }
        first_round = false;
        struct zn_sess_hdr r;
        struct zn_bytes rb;
        uint64_t rto_until = tc_now(c) + 200 * MS;
        while (left > 0 && tc_now(c) < rto_until && tc_recv(c, 200, &r, &rb)) {
            if (r.kind != ZN_SESS_REPLY || r.seq < first || r.seq >= first + (uint64_t)n)
                continue;
            int k = (int)(r.seq - first);
            if (done[k])
                continue;
            if (lose_odd && (k & 1) && !lost[k]) {
                lost[k] = true; /* simulated loss: the retransmission must get the same reply */
                lost_id[k] = c->in_msg_id;
                continue;
            }
            struct zn_jute_reader jr;
            zn_jute_reader_init(&jr, rb.ptr, (size_t)rb.len);
            struct zn_zk_reply_header rh;
            struct zn_zk_stat st;
            if (zn_zk_get_reply_header(&jr, &rh) != 0 || rh.err != 0)
                continue;
            zn_zk_get_stat(&jr, &st);
            versions[k] = st.version;
            if (lost[k]) {
                if (c->in_msg_id == lost_id[k])
                    c->resent_same_id++;
                else
                    c->resent_new_id++;
            }
            done[k] = true;
            left--;
            if (r.zxid > c->last_zxid)
                c->last_zxid = r.zxid;
        }
    }
    c->next_seq = first + (uint64_t)n;
    return left == 0 ? 0 : ZN_ETIMEDOUT;
}

int tc_add_watch(struct tclient *c, const char *path, int32_t mode, int32_t *zk_err)
{
    static uint8_t buf[4096];
    struct zn_jute_writer w;
    tc_req_begin(&w, buf, sizeof(buf), ZN_ZK_OP_ADDWATCH);
    zn_jute_put_string(&w, path);
    zn_jute_put_int(&w, mode);
    const uint8_t *b;
    size_t bl;
    return tc_call(c, buf, w.len, 10000, zk_err, &b, &bl);
}

unsigned tc_drain(struct tclient *c, uint32_t wait_ms, unsigned *events, int32_t *refused)
{
    unsigned got = 0;
    struct zn_sess_hdr r;
    struct zn_bytes rb;
    while (tc_recv(c, wait_ms, &r, &rb)) {
        got++;
        if (r.kind == ZN_SESS_EVENT) {
            (*events)++;
            if (r.seq < 4096) {
                uint64_t *first = &c->ev_first_id[r.seq];
                if (!*first)
                    *first = c->in_msg_id;
                else if (*first == c->in_msg_id)
                    c->ev_resent_same++;
                else
                    c->ev_resent_new++;
            }
        }
        if (r.kind == ZN_SESS_REFUSED && r.session_id == c->session)
            *refused = tc_refused_code(rb);
    }
    return got;
}
