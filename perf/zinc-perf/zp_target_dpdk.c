/*
 * zp_target_dpdk.c - the "zinc-dpdk" target: zinc's native client protocol spoken by a DPDK
 * application, over the dataplane stack (dataplane/zn_dp_stack.h: Ethernet, ARP, IPv4, UDP) on
 * a `net_memif` port whose other end is a zincd port. It measures the latency a kernel-bypass
 * application sees: no socket, no system call and no thread hand-off between the reply frame
 * and the completion (the engine thread polls the port itself; completions are stamped right
 * after the receive burst that brought the reply).
 *
 * Servers string: comma-separated key=value:
 *   socket=PATH   the memif socket zincd serves (role=server, socket-abstract=no); required
 *   node=IP:PORT  zincd's dataplane address (its [net] listen_host:listen_port); required
 *   ip=IP         this client's address on the link (default: node address + 1)
 *   port=N        this client's UDP port (default 7100)
 *   cluster=N     cluster id (default 1)
 *   idle=lab|busy poll policy while waiting (default lab: yield while traffic is recent, then
 *                 sleep; dataplane/zn_dp_idle.h) - never a pure spin on a shared machine
 *   memif_id=N    memif interface id (default 0)
 * The EAL gets `--no-huge -m 256 --no-shconf --no-pci --no-telemetry --lcores 0@(0,1)` and a
 * file prefix and runtime directory unique to this process (shared/dpdk-notes.md pitfalls 1-5).
 *
 * Protocol (docs/wire-format.md rules, the subset a benchmark client needs): CONNECT with a
 * nonce (retransmitted until CONNECTED), REQUEST numbered per session in FIFO order and
 * retransmitted with the RETRY flag after a timeout (the node dedups; writes apply once),
 * REPLY matched by seq, EVENT delivered in event order and acked (an early event is dropped:
 * the node retransmits it), PING when idle, REFUSED (expired) fails the session. Messages larger
 * than one datagram are segmented and reassembled (proto/frame.h, proto/reasm.h). Not done here,
 * because a benchmark session does not need them: reconnecting to another node (one node, one
 * link) and re-registering watches after a reconnect.
 *
 * Process-wide state: DPDK allows one EAL per process, and one stack instance owns the port's
 * queue, so the EAL, port, stack and the table of sessions are one runtime per process (`rt`),
 * created by the first connect. Every client's poll drives that runtime; what it receives is
 * routed by session id to the owning client's completion queue (zp_cq.h, single-threaded), which
 * only that client's poll empties (the target contract: callbacks run from the owner's poll).
 * One thread uses it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "common/zn_assert.h"
#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"
#include "common/zn_log.h"
#include "dataplane/zn_dp_idle.h"
#include "dataplane/zn_dp_port.h"
#include "dataplane/zn_dp_stack.h"
#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_cq.h"
#include "perf/zinc-perf/zp_target.h"
#include "proto/frame.h"
#include "proto/jute.h"
#include "proto/reasm.h"
#include "proto/session.h"
#include "proto/zk.h"

/* Limits of this client (sizes derived in the comments). */
#define DQ_SESSIONS_MAX     ZP_SESSIONS_MAX       /* one row per harness session */
#define DQ_RTO_NS           (200ull * 1000000ull) /* first retransmission; far above a commit */
#define DQ_RTO_MAX_NS       (2000ull * 1000000ull)
#define DQ_REQ_TIMEOUT_NS   (30ull * 1000000000ull) /* then ZN_ETIMEDOUT (outcome unknown) */
#define DQ_CONNECT_RETRY_NS (100ull * 1000000ull)
#define DQ_TIMER_NS         (1000000ull) /* retransmission/ping scan at most every 1 ms */
#define DQ_HOUSEKEEP_NS     (10000000ull)
#define DQ_TX_STUCK_NS      (50000000ull) /* give a burst up after 50 ms of backpressure */
#define DQ_REASM_SLOTS      64u

struct zp_client {
    struct zp_cq cq; /* single-threaded: waiting for this client's poll */
};

enum dq_op { DQ_CREATE, DQ_SET, DQ_GET, DQ_EXISTS, DQ_DELETE, DQ_MULTI, DQ_CHILDREN, DQ_CLOSE };

struct dq_req {
    struct dq_req *next;
    uint64_t seq;
    uint64_t msg_id;
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t rto_ns;
    uint32_t sends;
    enum dq_op op;
    zp_done_fn done;
    void *arg;
    uint32_t len;
    uint8_t *msg; /* session header + RequestHeader + body */
};

enum dq_state { DQ_CONNECTING, DQ_CONNECTED, DQ_DEAD };

struct zp_conn {
    struct zp_client *client;
    enum dq_state state;
    uint64_t session;
    uint8_t passwd[ZN_ZK_PASSWD_BYTES];
    int32_t passwd_len;
    uint8_t nonce[ZN_ZK_PASSWD_BYTES];
    uint32_t timeout_ms;
    uint32_t want_ms;
    uint64_t next_seq;
    uint64_t ev_next;
    uint64_t last_zxid;
    uint64_t last_send_ns;
    uint64_t connect_sent_ns;
    bool close_answered;
    struct dq_req *head; /* sent, unanswered, in seq order */
    struct dq_req *tail;
    zp_event_fn on_event;
    void *event_arg;
};

/* The process's DPDK runtime (see the top comment). */
struct dq_runtime {
    bool up;
    bool failed;
    char prefix[64];
    char rundir[128];
    char vdev[512];
    uint16_t port_id;
    struct rte_mempool *pool;
    struct zn_dp_port_info info;
    struct zn_dp_stack *stack;
    struct zn_dp_transport t;
    struct zn_dp_addr node;
    uint32_t cluster_id;
    struct zn_reasm reasm;
    struct zn_dp_idle idle;
    struct zn_clock clock;
    struct zn_clock_system clock_state;
    uint64_t next_msg_id;
    uint64_t next_timer_ns;
    uint64_t next_housekeep_ns;
    struct zp_conn *conns[DQ_SESSIONS_MAX];
    uint32_t n_conns;
    uint8_t dgram[ZN_DP_BURST_MAX][ZN_FRAME_DGRAM_MAX_BYTES];
    uint64_t tx_given_up; /* datagrams abandoned under backpressure (retransmission repairs) */
};

static struct dq_runtime rt;

static uint64_t now_ns(void)
{
    return zn_clock_raw_monotonic_ns(NULL);
}

/* ---- configuration ----------------------------------------------------------------------- */

struct dq_cfg {
    char socket[256];
    struct zn_dp_addr node;
    uint32_t ip;
    uint16_t port;
    uint32_t cluster_id;
    uint32_t memif_id;
    bool busy;
};

static int parse_addr(const char *v, struct zn_dp_addr *out)
{
    char host[32];
    const char *colon = strrchr(v, ':');
    if (colon == NULL || (size_t)(colon - v) >= sizeof(host)) {
        return ZN_EINVAL;
    }
    memcpy(host, v, (size_t)(colon - v));
    host[colon - v] = '\0';
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || p == 0 || p > 65535 || zn_dp_ip_parse(host, &out->ip) != 0) {
        return ZN_EINVAL;
    }
    out->port = (uint16_t)p;
    return 0;
}

static int parse_cfg(const char *servers, struct dq_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->port = 7100;
    c->cluster_id = 1;
    char buf[1024];
    if (servers == NULL || strlen(servers) >= sizeof(buf)) {
        return ZN_EINVAL;
    }
    memcpy(buf, servers, strlen(servers) + 1);
    char *save = NULL;
    for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            fprintf(stderr, "zinc-dpdk: '%s' is not key=value\n", kv);
            return ZN_EINVAL;
        }
        *eq = '\0';
        const char *v = eq + 1;
        char *end = NULL;
        int rc = 0;
        if (strcmp(kv, "socket") == 0 && strlen(v) < sizeof(c->socket)) {
            memcpy(c->socket, v, strlen(v) + 1);
        } else if (strcmp(kv, "node") == 0) {
            rc = parse_addr(v, &c->node);
        } else if (strcmp(kv, "ip") == 0) {
            rc = zn_dp_ip_parse(v, &c->ip);
        } else if (strcmp(kv, "port") == 0) {
            unsigned long p = strtoul(v, &end, 10);
            rc = (*end || p == 0 || p > 65535) ? ZN_EINVAL : 0;
            c->port = (uint16_t)p;
        } else if (strcmp(kv, "cluster") == 0) {
            c->cluster_id = (uint32_t)strtoul(v, &end, 10);
            rc = *end ? ZN_EINVAL : 0;
        } else if (strcmp(kv, "memif_id") == 0) {
            c->memif_id = (uint32_t)strtoul(v, &end, 10);
            rc = *end ? ZN_EINVAL : 0;
        } else if (strcmp(kv, "idle") == 0 && (!strcmp(v, "lab") || !strcmp(v, "busy"))) {
            c->busy = strcmp(v, "busy") == 0;
        } else {
            rc = ZN_EINVAL;
        }
        if (rc != 0) {
            fprintf(stderr, "zinc-dpdk: bad servers item %s=%s\n", kv, v);
            return ZN_EINVAL;
        }
    }
    if (c->socket[0] == '\0' || c->node.ip == 0) {
        fprintf(stderr, "zinc-dpdk: servers needs socket=PATH and node=IP:PORT\n");
        return ZN_EINVAL;
    }
    if (c->ip == 0) {
        c->ip = c->node.ip + 1;
    }
    return 0;
}

/* ---- the runtime ------------------------------------------------------------------------- */

static void rt_fini(void)
{
    if (!rt.up) {
        return;
    }
    rt.up = false;
    zn_reasm_fini(&rt.reasm);
    zn_dp_stack_fini(rt.stack);
    free(rt.stack);
    /* memif pitfall 5: the initiator (this client) closes first. */
    zn_dp_port_stop(rt.port_id);
    zn_dp_eal_fini();
    /* The EAL leaves <rundir>/dpdk/<prefix>/ behind (empty with --no-shconf): remove our own
     * per-process tree, innermost first; rmdir never removes anything that is not empty. */
    char path[256];
    snprintf(path, sizeof(path), "%s/dpdk/%s", rt.rundir, rt.prefix);
    (void)rmdir(path);
    snprintf(path, sizeof(path), "%s/dpdk", rt.rundir);
    (void)rmdir(path);
    (void)rmdir(rt.rundir);
}

static int rt_init(const struct dq_cfg *c, uint64_t timeout_ns)
{
    if (rt.up) {
        if (c->node.ip != rt.node.ip || c->node.port != rt.node.port) {
            fprintf(stderr, "zinc-dpdk: one node per process\n");
            return ZN_EINVAL;
        }
        return 0;
    }
    if (rt.failed) {
        return ZN_EIO; /* the EAL cannot start twice in one process */
    }
    rt.failed = true;
    snprintf(rt.prefix, sizeof(rt.prefix), "zp-dpdk-%d", (int)getpid());
    snprintf(rt.rundir, sizeof(rt.rundir), "/tmp/zp-dpdk-run-%d", (int)getpid());
    snprintf(rt.vdev, sizeof(rt.vdev), "net_memif0,role=client,id=%u,socket=%s,socket-abstract=no",
             c->memif_id, c->socket);
    struct zn_dp_eal_cfg ec = {
        .file_prefix = rt.prefix,
        .runtime_dir = rt.rundir,
        .lcores = "0@(0,1)",
        .lab = true,
        .mem_mb = 256,
        .vdevs = {rt.vdev},
        .n_vdevs = 1,
        .log_level = getenv("ZP_DPDK_LOG") ? getenv("ZP_DPDK_LOG") : "error",
    };
    int rc = zn_dp_eal_init(&ec);
    if (rc != 0) {
        fprintf(stderr, "zinc-dpdk: EAL start failed (%s)\n", zn_strerror(rc));
        return rc;
    }
    rc = zn_dp_port_probe(rt.vdev, &rt.port_id);
    if (rc != 0) {
        /* Already created by --vdev: port 0 is ours. */
        rt.port_id = 0;
    }
    rt.pool = zn_dp_pool_create("zp_dpdk_pool", 1, 1);
    if (rt.pool == NULL) {
        return ZN_ENOMEM;
    }
    rc = zn_dp_port_start(rt.port_id, 1, rt.pool, &rt.info);
    if (rc != 0) {
        fprintf(stderr, "zinc-dpdk: port start: %s\n", zn_strerror(rc));
        return rc;
    }
    /* A memif client connects to its server through the control channel in the background
     * (and retries if the server came up later): wait for the link. */
    uint64_t deadline = now_ns() + timeout_ns;
    while (!rt.info.link_up) {
        if (now_ns() > deadline) {
            fprintf(stderr, "zinc-dpdk: memif link to %s not up\n", c->socket);
            return ZN_ETIMEDOUT;
        }
        zn_dp_idle_nanosleep(1000000);
        zn_dp_port_link(&rt.info);
    }
    rt.stack = calloc(1, sizeof(*rt.stack));
    if (rt.stack == NULL) {
        return ZN_ENOMEM;
    }
    struct zn_dp_stack_cfg sc = {
        .port_id = rt.port_id,
        .queue = 0,
        .ip = c->ip,
        .udp_port = c->port,
        .pool = rt.pool,
        .port = &rt.info,
        .udp_tx_cksum_off = true, /* memif: every datagram is a CRC32C-checked zinc frame */
    };
    rc = zn_dp_stack_init(rt.stack, &sc, &rt.t);
    if (rc != 0) {
        return rc;
    }
    rc = zn_reasm_init(&rt.reasm, DQ_REASM_SLOTS, ZN_REASM_BYTES_DEFAULT,
                       ZN_REASM_TIMEOUT_NS_DEFAULT);
    if (rc != 0) {
        return rc;
    }
    struct zn_dp_idle_cfg ic;
    zn_dp_idle_default(&ic, c->busy ? ZN_DP_IDLE_BUSY : ZN_DP_IDLE_LAB);
    zn_dp_idle_thread_setup(&ic);
    zn_dp_idle_init(&rt.idle, &ic, now_ns());
    zn_clock_system_init(&rt.clock, &rt.clock_state);
    rt.node = c->node;
    rt.cluster_id = c->cluster_id;
    rt.next_msg_id = 1;
    rt.up = true;
    rt.failed = false;
    atexit(rt_fini);
    return 0;
}

/* Send one message (segmented) to the node. Backpressure is retried for a bounded time, then
 * the rest is abandoned (counted): the request's retransmission timer repairs it. */
static void rt_send(const uint8_t *msg, uint32_t len, uint64_t msg_id)
{
    struct zn_frame_hdr base;
    memset(&base, 0, sizeof(base));
    base.type = ZN_FRAME_CLIENT;
    base.cluster_id = rt.cluster_id;
    base.msg_id = msg_id;
    uint32_t segs = zn_frame_seg_count(len);
    uint32_t i = 0;
    uint64_t stuck_since = 0;
    while (i < segs) {
        struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
        uint32_t n = 0;
        for (; n < ZN_DP_BURST_MAX && i + n < segs; n++) {
            struct zn_frame_hdr h;
            long off = zn_frame_segment(&base, len, i + n, &h);
            ZN_ASSERT(off >= 0);
            int dl = zn_frame_encode(&h, msg + off, rt.dgram[n], sizeof(rt.dgram[n]));
            ZN_ASSERT(dl > 0);
            dg[n].peer = rt.node;
            dg[n].len = (uint32_t)dl;
            dg[n].data = rt.dgram[n];
        }
        uint64_t now = now_ns();
        int sent = zn_dp_send(&rt.t, dg, n, now);
        if (sent > 0) {
            i += (uint32_t)sent;
            stuck_since = 0;
            continue;
        }
        if (stuck_since == 0) {
            stuck_since = now;
        } else if (now - stuck_since > DQ_TX_STUCK_NS) {
            rt.tx_given_up += segs - i;
            return;
        }
        rt.t.ops->housekeeping(rt.t.ctx, now);
    }
}

static void put_hdr(struct zp_conn *c, uint8_t *out, uint8_t kind, uint8_t flags, uint64_t seq)
{
    struct zn_sess_hdr h = {
        .kind = kind,
        .flags = flags,
        .session_id = c->session,
        .seq = seq,
        .ack = c->ev_next - 1,
        .zxid = c->last_zxid,
    };
    ZN_ASSERT(zn_sess_hdr_encode(&h, out) == (int)ZN_SESS_HDR_BYTES);
}

static void send_bare(struct zp_conn *c, uint8_t kind, uint64_t now)
{
    uint8_t msg[ZN_SESS_HDR_BYTES];
    put_hdr(c, msg, kind, 0, 0);
    rt_send(msg, sizeof(msg), rt.next_msg_id++);
    c->last_send_ns = now;
}

static void send_connect(struct zp_conn *c, uint64_t now)
{
    uint8_t msg[ZN_SESS_HDR_BYTES + 64];
    struct zn_sess_hdr h = {.kind = ZN_SESS_CONNECT, .seq = 1, .ack = 1};
    ZN_ASSERT(zn_sess_hdr_encode(&h, msg) == (int)ZN_SESS_HDR_BYTES);
    struct zn_zk_connect_request cr = {
        .protocol_version = 0,
        .timeout_ms = (int32_t)c->want_ms,
        .passwd = zn_bytes_make(c->nonce, sizeof(c->nonce)),
        .has_read_only = true,
    };
    long n = zn_zk_connect_request_encode(&cr, msg + ZN_SESS_HDR_BYTES, 64);
    ZN_ASSERT(n > 0);
    rt_send(msg, (uint32_t)(ZN_SESS_HDR_BYTES + (size_t)n), rt.next_msg_id++);
    c->connect_sent_ns = now;
    c->last_send_ns = now;
}

static void send_request(struct zp_conn *c, struct dq_req *r, uint64_t now)
{
    put_hdr(c, r->msg, ZN_SESS_REQUEST, r->sends ? ZN_SESS_F_RETRY : 0, r->seq);
    rt_send(r->msg, r->len, r->msg_id);
    if (r->sends == 0) {
        r->first_ns = now;
        r->rto_ns = DQ_RTO_NS + (uint64_t)r->len * 8u; /* + serialisation at ~1 Gbit/s */
    } else {
        r->rto_ns = r->rto_ns * 2 > DQ_RTO_MAX_NS ? DQ_RTO_MAX_NS : r->rto_ns * 2;
    }
    r->sends++;
    r->last_ns = now;
    c->last_send_ns = now;
    rt.idle.last_work_ns = now; /* a reply is due: stay in the yield window while it comes */
}

/* ---- delivery ---------------------------------------------------------------------------- */

static void req_complete(struct zp_conn *c, struct dq_req *r, int err, uint32_t count, uint64_t at)
{
    if (r->done != NULL) {
        struct zp_result res = {
            .done_ns = at, .err = err, .native_rc = zn_err_to_zk(err), .count = count};
        zp_cq_push_done(&c->client->cq, r->done, r->arg, &res);
    }
    free(r->msg);
    free(r);
}

static void push_event(struct zp_conn *c, enum zp_event_type type, const char *path, uint32_t plen,
                       uint64_t at)
{
    if (c->on_event == NULL) {
        return;
    }
    zp_cq_push_event(&c->client->cq, c->on_event, c->event_arg, at, type, path, plen);
}

/* Fail every unanswered request of c with err (session gone or closed). */
static void fail_all(struct zp_conn *c, int err, uint64_t at)
{
    while (c->head != NULL) {
        struct dq_req *r = c->head;
        c->head = r->next;
        req_complete(c, r, err, 0, at);
    }
    c->tail = NULL;
}

/* ---- receiving --------------------------------------------------------------------------- */

static struct zp_conn *find_conn(uint64_t session)
{
    for (uint32_t i = 0; i < rt.n_conns; i++) {
        if (rt.conns[i]->session == session) {
            return rt.conns[i];
        }
    }
    return NULL;
}

/* First error of a multi reply (0 when every op succeeded). */
static int multi_first_error(struct zn_jute_reader *rd)
{
    for (uint32_t i = 0; i < ZP_MULTI_OPS_MAX + 1; i++) {
        int32_t type = zn_jute_get_int(rd);
        bool done = zn_jute_get_bool(rd);
        int32_t err = zn_jute_get_int(rd);
        if (rd->err) {
            return ZN_EPROTO;
        }
        if (done) {
            return 0;
        }
        if (type == -1) {
            int32_t e = zn_jute_get_int(rd);
            return e != 0 ? zn_err_from_zk(e) : (err != 0 ? zn_err_from_zk(err) : 0);
        }
        switch (type) {
        case ZN_ZK_OP_CREATE:
            (void)zn_jute_get_buffer(rd, ZN_PATH_LEN_MAX);
            break;
        case ZN_ZK_OP_CREATE2:
        case ZN_ZK_OP_CREATETTL:
        case ZN_ZK_OP_CREATECONTAINER:
            (void)zn_jute_get_buffer(rd, ZN_PATH_LEN_MAX);
            zn_jute_skip(rd, ZN_ZK_STAT_BYTES);
            break;
        case ZN_ZK_OP_SETDATA:
            zn_jute_skip(rd, ZN_ZK_STAT_BYTES);
            break;
        default: /* delete, check: no body */
            break;
        }
    }
    return ZN_EPROTO;
}

static void handle_reply(struct zp_conn *c, const struct zn_sess_hdr *h, struct zn_bytes body,
                         uint64_t at)
{
    struct dq_req *prev = NULL, *r = c->head;
    while (r != NULL && r->seq != h->seq) {
        prev = r;
        r = r->next;
    }
    if (r == NULL) {
        return; /* duplicate (a retransmission's second answer) or given up */
    }
    struct zn_jute_reader rd;
    zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
    struct zn_zk_reply_header rh;
    if (zn_zk_get_reply_header(&rd, &rh) != 0 || rh.xid != (int32_t)(uint32_t)r->seq) {
        return;
    }
    if (rh.zxid > 0 && (uint64_t)rh.zxid > c->last_zxid) {
        c->last_zxid = (uint64_t)rh.zxid;
    }
    int err = rh.err == 0 ? 0 : zn_err_from_zk(rh.err);
    uint32_t count = 0;
    if (err == 0 && r->op == DQ_GET) {
        struct zn_bytes d = zn_jute_get_buffer(&rd, INT32_MAX);
        count = (!rd.err && d.len > 0) ? (uint32_t)d.len : 0;
    } else if (err == 0 && r->op == DQ_CHILDREN) {
        int32_t n = zn_jute_get_int(&rd);
        count = (!rd.err && n > 0) ? (uint32_t)n : 0;
    } else if (err == 0 && r->op == DQ_MULTI) {
        err = multi_first_error(&rd);
    }
    if (prev) {
        prev->next = r->next;
    } else {
        c->head = r->next;
    }
    if (c->tail == r) {
        c->tail = prev;
    }
    if (r->op == DQ_CLOSE) {
        c->close_answered = true;
    }
    req_complete(c, r, err, count, at);
}

static void handle_event(struct zp_conn *c, const struct zn_sess_hdr *h, struct zn_bytes body,
                         uint64_t at)
{
    if (h->seq == c->ev_next) {
        struct zn_jute_reader rd;
        zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
        struct zn_zk_reply_header rh;
        struct zn_zk_watch_event we;
        if (zn_zk_get_reply_header(&rd, &rh) != 0 || rh.xid != ZN_ZK_XID_WATCH_EVENT ||
            zn_zk_get_watch_event(&rd, &we) != 0 || we.path.len < 0) {
            return;
        }
        if (rh.zxid > 0 && (uint64_t)rh.zxid > c->last_zxid) {
            c->last_zxid = (uint64_t)rh.zxid;
        }
        c->ev_next++;
        static const enum zp_event_type map[] = {ZP_EV_OTHER, ZP_EV_CREATED, ZP_EV_DELETED,
                                                 ZP_EV_CHANGED, ZP_EV_CHILD};
        enum zp_event_type t = (we.type >= 1 && we.type <= 4) ? map[we.type] : ZP_EV_OTHER;
        push_event(c, t, (const char *)we.path.ptr, (uint32_t)we.path.len, at);
    }
    /* In order, duplicate or early (dropped; the node retransmits): ack what we have. */
    send_bare(c, ZN_SESS_ACK, at);
}

static void handle_msg(const uint8_t *data, uint32_t len, uint64_t at)
{
    struct zn_sess_hdr h;
    struct zn_bytes body;
    if (zn_sess_decode(data, len, ZN_SESS_TO_CLIENT, &h, &body) != 0) {
        return;
    }
    if (h.kind == ZN_SESS_CONNECTED) {
        struct zn_zk_connect_response resp;
        /* Our CONNECTs are attempt 1 (echoed in seq); the header names the new session. */
        if (h.seq != 1 || zn_zk_connect_response_decode(body.ptr, (size_t)body.len, &resp) != 0 ||
            resp.session_id == 0 || (uint64_t)resp.session_id != h.session_id ||
            resp.passwd.len < 0 || resp.passwd.len > (int32_t)ZN_ZK_PASSWD_BYTES) {
            return;
        }
        /* Which of our connecting sessions: the first one still connecting whose attempt this
         * answers (each new-session CONNECT carries its own nonce; the node echoes the
         * session id it created for it, unknown to us until now). */
        if (find_conn((uint64_t)resp.session_id) != NULL) {
            return; /* duplicate answer */
        }
        for (uint32_t i = 0; i < rt.n_conns; i++) {
            struct zp_conn *c = rt.conns[i];
            if (c->state == DQ_CONNECTING && c->session == 0) {
                c->session = (uint64_t)resp.session_id;
                c->passwd_len = resp.passwd.len;
                memcpy(c->passwd, resp.passwd.ptr, (size_t)resp.passwd.len);
                c->timeout_ms = (uint32_t)resp.timeout_ms;
                c->last_zxid = h.zxid;
                c->ev_next = 1;
                c->state = DQ_CONNECTED;
                return;
            }
        }
        return;
    }
    struct zp_conn *c = find_conn(h.session_id);
    if (c == NULL || c->state != DQ_CONNECTED) {
        return;
    }
    switch (h.kind) {
    case ZN_SESS_REPLY:
        handle_reply(c, &h, body, at);
        break;
    case ZN_SESS_EVENT:
        handle_event(c, &h, body, at);
        break;
    case ZN_SESS_REFUSED: {
        struct zn_jute_reader rd;
        zn_jute_reader_init(&rd, body.ptr, (size_t)body.len);
        int32_t code = zn_jute_get_int(&rd);
        if (!rd.err && (code == ZK_SESSIONEXPIRED || code == ZK_UNKNOWNSESSION)) {
            c->state = DQ_DEAD;
            fail_all(c, ZN_ESESSIONEXPIRED, at);
            push_event(c, ZP_EV_SESSION_EXPIRED, "", 0, at);
        }
        break;
    }
    default: /* PONG */
        break;
    }
}

/* Receive one burst and dispatch it. Returns the datagrams received. */
static unsigned rt_rx(void)
{
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    int n = zn_dp_recv(&rt.t, dg, ZN_DP_BURST_MAX, now_ns());
    if (n <= 0) {
        return 0;
    }
    uint64_t at = now_ns(); /* the completion stamp: right after the burst arrived */
    struct zn_frame_expect expect = {.cluster_id = rt.cluster_id, .self_node = 0};
    for (int i = 0; i < n; i++) {
        struct zn_frame_hdr fh;
        if (dg[i].peer.ip != rt.node.ip || dg[i].peer.port != rt.node.port ||
            zn_frame_decode(dg[i].data, dg[i].len, &expect, &fh) != 0 ||
            fh.type != ZN_FRAME_SERVER) {
            continue;
        }
        struct zn_reasm_msg m;
        int rc = zn_reasm_add(&rt.reasm, &fh, dg[i].data + ZN_FRAME_HDR_BYTES, 0, at, &m);
        if (rc == 1) {
            handle_msg(m.data, m.len, at);
            zn_reasm_msg_release(&rt.reasm, &m);
        }
    }
    return (unsigned)n;
}

/* Retransmissions, request timeouts, connect retries, pings, stack housekeeping. */
static void rt_timers(uint64_t now)
{
    if (now >= rt.next_housekeep_ns) {
        rt.t.ops->housekeeping(rt.t.ctx, now);
        (void)zn_reasm_expire(&rt.reasm, now);
        rt.next_housekeep_ns = now + DQ_HOUSEKEEP_NS;
    }
    if (now < rt.next_timer_ns) {
        return;
    }
    rt.next_timer_ns = now + DQ_TIMER_NS;
    for (uint32_t i = 0; i < rt.n_conns; i++) {
        struct zp_conn *c = rt.conns[i];
        if (c->state == DQ_CONNECTING && now - c->connect_sent_ns > DQ_CONNECT_RETRY_NS) {
            send_connect(c, now);
        }
        if (c->state != DQ_CONNECTED) {
            continue;
        }
        while (c->head != NULL && now - c->head->first_ns > DQ_REQ_TIMEOUT_NS) {
            struct dq_req *r = c->head;
            c->head = r->next;
            if (c->head == NULL) {
                c->tail = NULL;
            }
            req_complete(c, r, ZN_ETIMEDOUT, 0, now);
        }
        for (struct dq_req *r = c->head; r != NULL; r = r->next) {
            if (now - r->last_ns > r->rto_ns) {
                send_request(c, r, now);
            }
        }
        uint64_t ping_ns = (uint64_t)c->timeout_ms * ZN_NS_PER_MS / 3;
        if (now - c->last_send_ns > ping_ns) {
            send_bare(c, ZN_SESS_PING, now);
        }
    }
}

/* One round: receive, timers. Returns work found. */
static unsigned rt_poll_once(void)
{
    unsigned work = rt_rx();
    uint64_t now = now_ns();
    if (work > 0) {
        rt.idle.last_work_ns = now; /* traffic is recent: the idle policy yields, not sleeps */
    }
    rt_timers(now);
    return work;
}

static void rt_idle(unsigned work)
{
    (void)zn_dp_idle_after_poll(&rt.idle, work, now_ns(), &rt.clock);
}

/* ---- the target -------------------------------------------------------------------------- */

static int dq_open(struct zp_client **out)
{
    struct zp_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return ZN_ENOMEM;
    }
    zp_cq_init(&c->cq, false);
    *out = c;
    return 0;
}

static void dq_close_client(struct zp_client *c)
{
    if (c == NULL) {
        return;
    }
    zp_cq_fini(&c->cq);
    free(c);
}

static int dq_connect(struct zp_client *client, const struct zp_connect_opts *opts,
                      struct zp_conn **out)
{
    struct dq_cfg cfg;
    int rc = parse_cfg(opts->servers, &cfg);
    if (rc != 0) {
        return rc;
    }
    rc = rt_init(&cfg, opts->timeout_ns);
    if (rc != 0) {
        return rc;
    }
    if (rt.n_conns == DQ_SESSIONS_MAX) {
        return ZN_ELIMIT;
    }
    struct zp_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return ZN_ENOMEM;
    }
    c->client = client;
    c->on_event = opts->on_event;
    c->event_arg = opts->event_arg;
    c->want_ms = opts->session_ms;
    c->next_seq = 1;
    c->ev_next = 1;
    if (getrandom(c->nonce, sizeof(c->nonce), 0) != (ssize_t)sizeof(c->nonce)) {
        free(c);
        return ZN_ESYSTEM;
    }
    rt.conns[rt.n_conns++] = c;
    uint64_t deadline = now_ns() + opts->timeout_ns;
    send_connect(c, now_ns());
    while (c->state == DQ_CONNECTING && now_ns() < deadline) {
        rt_idle(rt_poll_once());
    }
    if (c->state != DQ_CONNECTED) {
        rt.conns[--rt.n_conns] = NULL;
        free(c);
        return ZN_ETIMEDOUT;
    }
    *out = c;
    return 0;
}

/* Unlink c from the runtime's table. */
static void conn_remove(struct zp_conn *c)
{
    for (uint32_t i = 0; i < rt.n_conns; i++) {
        if (rt.conns[i] == c) {
            rt.conns[i] = rt.conns[--rt.n_conns];
            rt.conns[rt.n_conns] = NULL;
            return;
        }
    }
}

static int submit(struct zp_conn *c, enum dq_op op, int32_t opcode, struct zn_jute_writer *w,
                  uint8_t *msg, zp_done_fn done, void *arg);
static uint8_t *msg_begin(struct zn_jute_writer *w, size_t body_cap);

static void dq_close(struct zp_conn *c)
{
    if (c == NULL) {
        return;
    }
    if (c->state == DQ_CONNECTED) {
        /* closeSession after every request sent before it; wait at most 2 s for its reply. */
        struct zn_jute_writer w;
        uint8_t *msg = msg_begin(&w, 0);
        if (msg != NULL) {
            if (submit(c, DQ_CLOSE, ZN_ZK_OP_CLOSESESSION, &w, msg, NULL, NULL) == 0) {
                uint64_t deadline = now_ns() + 2ull * ZN_NS_PER_S;
                while (!c->close_answered && c->state == DQ_CONNECTED && now_ns() < deadline) {
                    rt_idle(rt_poll_once());
                }
            }
        }
    }
    fail_all(c, ZN_ECONNLOSS, now_ns());
    conn_remove(c);
    free(c);
}

static int64_t dq_session_id(struct zp_conn *c)
{
    return (int64_t)c->session;
}

static uint32_t dq_session_timeout_ms(struct zp_conn *c)
{
    return c->timeout_ms;
}

/* Start a request message: returns the buffer with a writer positioned after the header. */
static uint8_t *msg_begin(struct zn_jute_writer *w, size_t body_cap)
{
    size_t cap = ZN_SESS_HDR_BYTES + 8 + body_cap;
    if (cap > ZN_MSG_SIZE_MAX_BYTES) {
        return NULL;
    }
    uint8_t *msg = malloc(cap);
    if (msg != NULL) {
        zn_jute_writer_init(w, msg + ZN_SESS_HDR_BYTES, cap - ZN_SESS_HDR_BYTES);
        zn_jute_put_int(w, 0); /* xid: patched by submit */
        zn_jute_put_int(w, 0); /* type: patched by submit */
    }
    return msg;
}

static int submit(struct zp_conn *c, enum dq_op op, int32_t opcode, struct zn_jute_writer *w,
                  uint8_t *msg, zp_done_fn done, void *arg)
{
    if (c->state != DQ_CONNECTED) {
        free(msg);
        return c->state == DQ_DEAD ? ZN_ESESSIONEXPIRED : ZN_ECONNLOSS;
    }
    if (w->err != 0) {
        free(msg);
        return ZN_ELIMIT;
    }
    struct dq_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        free(msg);
        return ZN_ENOMEM;
    }
    r->seq = c->next_seq++;
    r->msg_id = rt.next_msg_id++;
    r->op = op;
    r->done = done;
    r->arg = arg;
    r->msg = msg;
    r->len = (uint32_t)(ZN_SESS_HDR_BYTES + w->len);
    struct zn_jute_writer hw;
    zn_jute_writer_init(&hw, msg + ZN_SESS_HDR_BYTES, 8);
    zn_jute_put_int(&hw, (int32_t)(uint32_t)r->seq);
    zn_jute_put_int(&hw, opcode);
    if (c->tail) {
        c->tail->next = r;
    } else {
        c->head = r;
    }
    c->tail = r;
    send_request(c, r, now_ns());
    return 0;
}

static void put_open_acl(struct zn_jute_writer *w)
{
    zn_jute_put_int(w, 1);
    zn_jute_put_int(w, 31); /* ALL */
    zn_jute_put_string(w, "world");
    zn_jute_put_string(w, "anyone");
}

static int dq_create(struct zp_conn *c, const char *path, const void *value, uint32_t len,
                     uint32_t flags, zp_done_fn done, void *arg)
{
    struct zn_jute_writer w;
    uint8_t *msg = msg_begin(&w, strlen(path) + len + 64);
    if (msg == NULL) {
        return ZN_ENOMEM;
    }
    zn_jute_put_string(&w, path);
    zn_jute_put_buffer(&w, value ? zn_bytes_make(value, len) : ZN_BYTES_NULL);
    put_open_acl(&w);
    zn_jute_put_int(&w, (flags & ZP_CREATE_EPHEMERAL) ? 1 : 0);
    return submit(c, DQ_CREATE, ZN_ZK_OP_CREATE, &w, msg, done, arg);
}

static int dq_set_data(struct zp_conn *c, const char *path, const void *value, uint32_t len,
                       int32_t version, zp_done_fn done, void *arg)
{
    struct zn_jute_writer w;
    uint8_t *msg = msg_begin(&w, strlen(path) + len + 16);
    if (msg == NULL) {
        return ZN_ENOMEM;
    }
    zn_jute_put_string(&w, path);
    zn_jute_put_buffer(&w, zn_bytes_make(value, len));
    zn_jute_put_int(&w, version);
    return submit(c, DQ_SET, ZN_ZK_OP_SETDATA, &w, msg, done, arg);
}

static int read_req(struct zp_conn *c, enum dq_op op, int32_t opcode, const char *path, bool watch,
                    zp_done_fn done, void *arg)
{
    struct zn_jute_writer w;
    uint8_t *msg = msg_begin(&w, strlen(path) + 8);
    if (msg == NULL) {
        return ZN_ENOMEM;
    }
    zn_jute_put_string(&w, path);
    zn_jute_put_bool(&w, watch);
    return submit(c, op, opcode, &w, msg, done, arg);
}

static int dq_get_data(struct zp_conn *c, const char *path, bool watch, zp_done_fn done, void *arg)
{
    return read_req(c, DQ_GET, ZN_ZK_OP_GETDATA, path, watch, done, arg);
}

static int dq_exists(struct zp_conn *c, const char *path, bool watch, zp_done_fn done, void *arg)
{
    return read_req(c, DQ_EXISTS, ZN_ZK_OP_EXISTS, path, watch, done, arg);
}

static int dq_get_children(struct zp_conn *c, const char *path, bool watch, zp_done_fn done,
                           void *arg)
{
    return read_req(c, DQ_CHILDREN, ZN_ZK_OP_GETCHILDREN, path, watch, done, arg);
}

static int dq_remove(struct zp_conn *c, const char *path, int32_t version, zp_done_fn done,
                     void *arg)
{
    struct zn_jute_writer w;
    uint8_t *msg = msg_begin(&w, strlen(path) + 8);
    if (msg == NULL) {
        return ZN_ENOMEM;
    }
    zn_jute_put_string(&w, path);
    zn_jute_put_int(&w, version);
    return submit(c, DQ_DELETE, ZN_ZK_OP_DELETE, &w, msg, done, arg);
}

static int dq_multi(struct zp_conn *c, const struct zp_multi_op *ops, uint32_t n, zp_done_fn done,
                    void *arg)
{
    if (n == 0 || n > ZP_MULTI_OPS_MAX) {
        return ZN_EINVAL;
    }
    size_t cap = 16;
    for (uint32_t i = 0; i < n; i++) {
        cap += strlen(ops[i].path) + ops[i].value_len + 64;
    }
    struct zn_jute_writer w;
    uint8_t *msg = msg_begin(&w, cap);
    if (msg == NULL) {
        return ZN_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct zp_multi_op *o = &ops[i];
        int32_t type = o->op == ZP_OP_CREATE   ? ZN_ZK_OP_CREATE
                       : o->op == ZP_OP_SET    ? ZN_ZK_OP_SETDATA
                       : o->op == ZP_OP_DELETE ? ZN_ZK_OP_DELETE
                       : o->op == ZP_OP_EXISTS ? ZN_ZK_OP_CHECK
                                               : 0;
        if (type == 0) {
            free(msg);
            return ZN_EINVAL;
        }
        zn_jute_put_int(&w, type);
        zn_jute_put_bool(&w, false);
        zn_jute_put_int(&w, -1);
        zn_jute_put_string(&w, o->path);
        if (type == ZN_ZK_OP_CREATE) {
            zn_jute_put_buffer(&w, zn_bytes_make(o->value, o->value_len));
            put_open_acl(&w);
            zn_jute_put_int(&w, 0);
        } else if (type == ZN_ZK_OP_SETDATA) {
            zn_jute_put_buffer(&w, zn_bytes_make(o->value, o->value_len));
            zn_jute_put_int(&w, o->version);
        } else {
            zn_jute_put_int(&w, o->version);
        }
    }
    zn_jute_put_int(&w, -1);
    zn_jute_put_bool(&w, true);
    zn_jute_put_int(&w, -1);
    return submit(c, DQ_MULTI, ZN_ZK_OP_MULTI, &w, msg, done, arg);
}

static int dq_poll(struct zp_client *cl, uint64_t timeout_ns)
{
    if (!rt.up) {
        return 0;
    }
    uint64_t deadline = now_ns() + timeout_ns;
    for (;;) {
        unsigned work = rt_poll_once();
        if (zp_cq_pending(&cl->cq) > 0 || now_ns() >= deadline) {
            break;
        }
        rt_idle(work);
    }
    /* Callbacks may submit, and a submit may queue failures for this client's next poll. */
    return zp_cq_poll(&cl->cq, 0);
}

const struct zp_target zp_target_zinc_dpdk = {
    .name = "zinc-dpdk",
    .description = "zinc through a DPDK client (native protocol over the dataplane stack on a "
                   "net_memif port); servers = \"socket=PATH,node=IP:PORT[,ip=IP,port=N,"
                   "cluster=N,idle=lab|busy,memif_id=N]\"",
    .value_max = 1024u * 1024u,
    .open = dq_open,
    .close_client = dq_close_client,
    .connect = dq_connect,
    .close = dq_close,
    .session_id = dq_session_id,
    .session_timeout_ms = dq_session_timeout_ms,
    .create = dq_create,
    .set_data = dq_set_data,
    .get_data = dq_get_data,
    .exists = dq_exists,
    .remove = dq_remove,
    .multi = dq_multi,
    .get_children = dq_get_children,
    .poll = dq_poll,
};
