/*
 * fake_server.c - the scripted node of libzinc's tests (see fake_server.h).
 *
 * Everything runs under the cluster mutex: each server thread polls its socket (1 ms), takes
 * the lock, handles what arrived and its timers, releases it. Simplicity over speed: the store
 * is a flat array scanned linearly, a multi works on a copy of it. Bounded everywhere: at most
 * FAKE_NODES_MAX nodes, FAKE_SESSIONS_MAX sessions, FAKE_CONNS_MAX connections per server,
 * FAKE_WATCHES_MAX watches, FAKE_EVENTS_MAX unacked events per connection.
 */
#include "tests/client/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "proto/frame.h"
#include "proto/reasm.h"
#include "proto/session.h"
#include "proto/zk.h"

#define FAKE_NODES_MAX    8192
#define FAKE_SESSIONS_MAX 64
#define FAKE_CONNS_MAX    64
#define FAKE_WATCHES_MAX  4096
#define FAKE_EVENTS_MAX   4096
#define FAKE_CACHE        256
#define FAKE_HOLD         64
#define FAKE_DELAYED_MAX  8192
#define FAKE_AUTH_MAX     8
#define FAKE_SERVERS_MAX  4
#define FAKE_REQLOG_MAX   256
#define EVENT_RESEND_NS   (5ull * 1000 * 1000)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct fnode {
    char *path;
    uint8_t *data;
    int32_t len; /* -1 null */
    struct zn_zk_stat stat;
    uint8_t *acl; /* encoded vector<ACL> (count + elements) */
    size_t acl_len;
    int64_t owner; /* session for ephemerals */
};

struct fcached {
    uint64_t seq;
    uint64_t msg_id;
    uint8_t *msg;
    uint32_t len;
};

struct fsess {
    bool used;
    bool expired;
    uint64_t id;
    uint8_t passwd[16];
    uint8_t nonce[16];
    int32_t timeout_ms;
    uint64_t next_seq; /* replicated: the next request the cluster takes */
    uint64_t last_heard_ns;
    uint8_t owner_node;
    struct fcached cache[FAKE_CACHE];
    /* Identities of the session's current connection (zincd keeps them per connection: a new
     * connection, on this server or another, starts without them; node/node_auth.c). */
    int nauth;
    char *auth_scheme[FAKE_AUTH_MAX];
    char *auth_id[FAKE_AUTH_MAX];
    uint64_t last_client_zxid;
};

struct fevent {
    uint64_t num;
    int64_t zxid;
    uint64_t msg_id;
    uint8_t *msg;
    uint32_t len;
    uint64_t last_send_ns;
};

struct fheld {
    uint64_t seq;
    uint8_t *data; /* early request (whole session message) or held reply */
    uint32_t len;
    int64_t zxid;
    uint64_t msg_id;
    uint8_t flags;
};

struct fconn {
    bool used;
    uint64_t epoch;
    uint64_t session;
    struct sockaddr_in addr;
    uint64_t ev_next;
    struct fevent events[FAKE_EVENTS_MAX]; /* unacked, ring by num */
    uint64_t ev_acked;
    struct fheld early[FAKE_HOLD];
    struct fheld held_replies[FAKE_HOLD * 4];
    int nheld;
};

struct fwatch {
    bool used;
    uint64_t session;
    char *path;
    int kind; /* 1 data, 2 exist, 3 child, 4 persistent, 5 recursive */
};

struct fdelayed {
    uint64_t due_ns;
    uint8_t *buf;
    uint32_t len;
    struct sockaddr_in addr;
    bool in; /* incoming (to be processed) or outgoing (to be sent) */
};

struct fake_server {
    struct fake_cluster *c;
    uint8_t node_id;
    int fd;
    uint16_t port;
    pthread_t thr;
    atomic_bool stop;
    atomic_bool mute;
    atomic_bool blackhole;
    atomic_int refuse_connect;  /* 0, or the ZooKeeper code every CONNECT is refused with */
    atomic_bool refuse_auth;    /* every addAuth is answered AUTHFAILED */
    atomic_int lose_replies_op; /* 0, or an op whose replies this server never sends */
    /* Op codes of the REQUEST messages received since the latest new connection, in arrival
     * order (retransmissions included). */
    int32_t reqlog[FAKE_REQLOG_MAX];
    int nreqlog;
    struct fake_faults faults;
    struct zn_prng prng;
    struct zn_reasm reasm;
    uint64_t next_msg_id;
    struct fconn conns[FAKE_CONNS_MAX];
    struct fwatch watches[FAKE_WATCHES_MAX];
    struct fdelayed delayed[FAKE_DELAYED_MAX];
    struct fake_stats st;
    uint8_t *rx;
    uint8_t *txbuf;
};

struct trig {
    char *path;
    int type;
};

struct fake_cluster {
    pthread_mutex_t mu;
    uint32_t cluster_id;
    struct fnode *nodes;
    int nnodes;
    int64_t zxid;
    uint64_t writes;
    uint64_t next_session;
    struct fsess sessions[FAKE_SESSIONS_MAX];
    struct fake_server *servers[FAKE_SERVERS_MAX];
    struct trig trigs[256];
    int ntrigs;
};

/* ---- store ------------------------------------------------------------------------------- */

static int find_node(struct fake_cluster *c, const char *path)
{
    for (int i = 0; i < c->nnodes; i++) {
        if (strcmp(c->nodes[i].path, path) == 0)
            return i;
    }
    return -1;
}

static void parent_of(const char *path, char *out)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] != '/')
        n--;
    if (n > 1)
        n--;
    memcpy(out, path, n);
    out[n] = '\0';
    if (n == 0) {
        out[0] = '/';
        out[1] = '\0';
    }
}

static bool is_child(const char *parent, const char *path)
{
    size_t pl = strlen(parent);
    if (strcmp(path, parent) == 0)
        return false;
    if (pl == 1)
        return path[0] == '/' && strchr(path + 1, '/') == NULL;
    return strncmp(path, parent, pl) == 0 && path[pl] == '/' && strchr(path + pl + 1, '/') == NULL;
}

static bool is_under(const char *anc, const char *path)
{
    size_t al = strlen(anc);
    if (al == 1)
        return path[0] == '/';
    return strncmp(path, anc, al) == 0 && (path[al] == '/' || path[al] == '\0');
}

static void trigger(struct fake_cluster *c, const char *path, int type)
{
    if (c->ntrigs < 256) {
        c->trigs[c->ntrigs].path = strdup(path);
        c->trigs[c->ntrigs].type = type;
        c->ntrigs++;
    }
}

static void free_node(struct fnode *n)
{
    free(n->path);
    free(n->data);
    free(n->acl);
}

static uint8_t *dupmem(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static int add_node(struct fake_cluster *c, const char *path, struct zn_bytes data,
                    const uint8_t *acl, size_t acl_len, int64_t owner, int64_t zxid)
{
    if (c->nnodes >= FAKE_NODES_MAX)
        return ZK_SYSTEMERROR;
    struct fnode *n = &c->nodes[c->nnodes++];
    memset(n, 0, sizeof(*n));
    n->path = strdup(path);
    n->len = data.len;
    n->data = data.len > 0 ? dupmem(data.ptr, (size_t)data.len) : NULL;
    n->acl = dupmem(acl, acl_len);
    n->acl_len = acl_len;
    n->owner = owner;
    int64_t ms = (int64_t)(now_ns() / 1000000);
    n->stat = (struct zn_zk_stat){zxid, zxid, ms, ms, 0, 0, 0, owner, data.len > 0 ? data.len : 0,
                                  0,    zxid};
    return 0;
}

static void remove_node(struct fake_cluster *c, int i)
{
    free_node(&c->nodes[i]);
    c->nodes[i] = c->nodes[c->nnodes - 1];
    c->nnodes--;
}

static const uint8_t open_acl[] = {0,   0,   0,   1, 0, 0, 0, 31,  0,   0,   0,   5,   'w', 'o',
                                   'r', 'l', 'd', 0, 0, 0, 6, 'a', 'n', 'y', 'o', 'n', 'e'};

/* ---- ACL checks -------------------------------------------------------------------------- */

static bool acl_allows(struct fake_cluster *c, const struct fnode *n, const struct fsess *s,
                       int perm)
{
    (void)c;
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, n->acl, n->acl_len);
    struct zn_zk_vec v;
    zn_zk_get_acl_vec(&r, 1024, &v);
    struct zn_zk_vec_iter it;
    zn_zk_vec_iter_init(&it, &v);
    struct zn_zk_acl a;
    while (zn_zk_vec_next_acl(&it, &a)) {
        if (!(a.perms & perm))
            continue;
        if (zn_bytes_eq_str(a.scheme, "world") && zn_bytes_eq_str(a.id, "anyone"))
            return true;
        for (int i = 0; s && i < s->nauth; i++) {
            if (zn_bytes_eq_str(a.scheme, s->auth_scheme[i]) &&
                zn_bytes_eq_str(a.id, s->auth_id[i]))
                return true;
        }
    }
    return false;
}

/* ACL for a create: "auth" entries become the session's identities. */
static void make_acl(const struct zn_zk_vec *in, const struct fsess *s, struct zn_jute_writer *w)
{
    size_t at = w->len;
    zn_jute_put_int(w, 0);
    int32_t n = 0;
    struct zn_zk_vec_iter it;
    zn_zk_vec_iter_init(&it, in);
    struct zn_zk_acl a;
    while (zn_zk_vec_next_acl(&it, &a)) {
        if (zn_bytes_eq_str(a.scheme, "auth")) {
            for (int i = 0; s && i < s->nauth; i++) {
                zn_jute_put_int(w, a.perms);
                zn_jute_put_string(w, s->auth_scheme[i]);
                zn_jute_put_string(w, s->auth_id[i]);
                n++;
            }
        } else {
            zn_jute_put_int(w, a.perms);
            zn_jute_put_buffer(w, a.scheme);
            zn_jute_put_buffer(w, a.id);
            n++;
        }
    }
    zn_jute_patch_int(w, at, n);
}

/* ---- ops on the store -------------------------------------------------------------------- */

static char *bstr(struct zn_bytes b);

static void auth_clear(struct fsess *ss)
{
    for (int j = 0; j < ss->nauth; j++) {
        free(ss->auth_scheme[j]);
        free(ss->auth_id[j]);
        ss->auth_scheme[j] = ss->auth_id[j] = NULL;
    }
    ss->nauth = 0;
}

/* addAuth: scheme "fail" (or any scheme while refuse_auth is set) is refused; an identity
 * already held is not added twice (as zincd's node/auth.c). ZK code. */
static int add_auth(struct fake_server *s, struct fsess *ss, const struct zn_zk_request *q)
{
    if (zn_bytes_eq_str(q->u.auth.scheme, "fail") || atomic_load(&s->refuse_auth))
        return ZK_AUTHFAILED;
    for (int i = 0; i < ss->nauth; i++) {
        if (zn_bytes_eq_str(q->u.auth.scheme, ss->auth_scheme[i]) &&
            zn_bytes_eq_str(q->u.auth.auth, ss->auth_id[i]))
            return 0;
    }
    if (ss->nauth < FAKE_AUTH_MAX) {
        ss->auth_scheme[ss->nauth] = bstr(q->u.auth.scheme);
        ss->auth_id[ss->nauth] = bstr(q->u.auth.auth);
        ss->nauth++;
    }
    return 0;
}

static char *bstr(struct zn_bytes b)
{
    char *s = malloc((size_t)(b.len > 0 ? b.len : 0) + 1);
    if (b.len > 0)
        memcpy(s, b.ptr, (size_t)b.len);
    s[b.len > 0 ? b.len : 0] = '\0';
    return s;
}

/* Create: writes the created path into created (cap 4200). Returns ZK code. */
static int op_create(struct fake_cluster *c, struct fsess *s, const struct zn_zk_request *q,
                     char *created, struct zn_zk_stat *st)
{
    char *path = bstr(q->u.create.path);
    int flags = q->u.create.flags;
    if (q->type == ZN_ZK_OP_CREATECONTAINER)
        flags = ZN_ZK_CONTAINER;
    char parent[4200];
    parent_of(path, parent);
    int pi = find_node(c, parent);
    int rc = 0;
    if (pi < 0) {
        rc = ZK_NONODE;
    } else if (c->nodes[pi].owner != 0) {
        rc = ZK_NOCHILDRENFOREPHEMERALS;
    } else if (!acl_allows(c, &c->nodes[pi], s, ZN_ZK_PERM_CREATE)) {
        rc = ZK_NOAUTH;
    } else if (q->u.create.acl.count == 0) {
        rc = ZK_INVALIDACL;
    }
    if (rc == 0) {
        bool seq = flags == 2 || flags == 3 || flags == 6;
        if (seq)
            snprintf(created, 4200, "%s%010d", path, c->nodes[pi].stat.cversion);
        else
            snprintf(created, 4200, "%s", path);
        if (find_node(c, created) >= 0)
            rc = ZK_NODEEXISTS;
    }
    if (rc == 0) {
        uint8_t aclbuf[8192];
        struct zn_jute_writer w;
        zn_jute_writer_init(&w, aclbuf, sizeof(aclbuf));
        make_acl(&q->u.create.acl, s, &w);
        if (w.err || (w.len == 4 && aclbuf[3] == 0)) {
            rc = ZK_INVALIDACL;
        } else {
            int64_t z = ++c->zxid;
            bool eph = flags == 1 || flags == 3;
            struct fnode *p = &c->nodes[pi];
            p->stat.cversion++;
            p->stat.num_children++;
            p->stat.pzxid = z;
            add_node(c, created, q->u.create.data, aclbuf, w.len, eph && s ? (int64_t)s->id : 0, z);
            *st = c->nodes[c->nnodes - 1].stat;
            trigger(c, created, ZN_ZK_EVENT_NODE_CREATED);
            trigger(c, parent, ZN_ZK_EVENT_NODE_CHILDREN_CHANGED);
        }
    }
    free(path);
    return rc;
}

static int op_delete(struct fake_cluster *c, struct fsess *s, const char *path, int32_t version)
{
    int i = find_node(c, path);
    if (i < 0 || strcmp(path, "/") == 0)
        return i < 0 ? ZK_NONODE : ZK_BADARGUMENTS;
    if (version != -1 && version != c->nodes[i].stat.version)
        return ZK_BADVERSION;
    if (c->nodes[i].stat.num_children > 0)
        return ZK_NOTEMPTY;
    char parent[4200];
    parent_of(path, parent);
    int pi = find_node(c, parent);
    if (!acl_allows(c, &c->nodes[pi], s, ZN_ZK_PERM_DELETE))
        return ZK_NOAUTH;
    int64_t z = ++c->zxid;
    c->nodes[pi].stat.cversion++;
    c->nodes[pi].stat.num_children--;
    c->nodes[pi].stat.pzxid = z;
    trigger(c, path, ZN_ZK_EVENT_NODE_DELETED);
    trigger(c, parent, ZN_ZK_EVENT_NODE_CHILDREN_CHANGED);
    remove_node(c, i);
    return 0;
}

static int op_set(struct fake_cluster *c, struct fsess *s, const char *path, struct zn_bytes d,
                  int32_t version, struct zn_zk_stat *st)
{
    int i = find_node(c, path);
    if (i < 0)
        return ZK_NONODE;
    struct fnode *n = &c->nodes[i];
    if (version != -1 && version != n->stat.version)
        return ZK_BADVERSION;
    if (!acl_allows(c, n, s, ZN_ZK_PERM_WRITE))
        return ZK_NOAUTH;
    free(n->data);
    n->len = d.len;
    n->data = d.len > 0 ? dupmem(d.ptr, (size_t)d.len) : NULL;
    n->stat.version++;
    n->stat.mzxid = ++c->zxid;
    n->stat.mtime = (int64_t)(now_ns() / 1000000);
    n->stat.data_length = d.len > 0 ? d.len : 0;
    *st = n->stat;
    trigger(c, path, ZN_ZK_EVENT_NODE_DATA_CHANGED);
    return 0;
}

/* Copy / restore the whole store (multi atomicity). */
static struct fnode *store_copy(struct fake_cluster *c)
{
    struct fnode *cp = calloc(FAKE_NODES_MAX, sizeof(*cp));
    for (int i = 0; i < c->nnodes; i++) {
        cp[i] = c->nodes[i];
        cp[i].path = strdup(c->nodes[i].path);
        cp[i].data = c->nodes[i].len > 0 ? dupmem(c->nodes[i].data, (size_t)c->nodes[i].len) : NULL;
        cp[i].acl = dupmem(c->nodes[i].acl, c->nodes[i].acl_len);
    }
    return cp;
}

static void store_free(struct fnode *nodes, int n)
{
    for (int i = 0; i < n; i++)
        free_node(&nodes[i]);
    free(nodes);
}

static void clear_trigs(struct fake_cluster *c)
{
    for (int i = 0; i < c->ntrigs; i++)
        free(c->trigs[i].path);
    c->ntrigs = 0;
}

/* ---- sending with faults ----------------------------------------------------------------- */

static void raw_send(struct fake_server *s, const uint8_t *buf, uint32_t len,
                     const struct sockaddr_in *to)
{
    (void)sendto(s->fd, buf, len, 0, (const struct sockaddr *)to, sizeof(*to));
    s->st.datagrams_out++;
}

static void delay_push(struct fake_server *s, const uint8_t *buf, uint32_t len,
                       const struct sockaddr_in *addr, bool in)
{
    for (int i = 0; i < FAKE_DELAYED_MAX; i++) {
        if (s->delayed[i].buf == NULL) {
            s->delayed[i].buf = dupmem(buf, len);
            s->delayed[i].len = len;
            s->delayed[i].addr = *addr;
            s->delayed[i].in = in;
            s->delayed[i].due_ns = now_ns() + (uint64_t)s->faults.delay_us * 1000u;
            return;
        }
    }
}

static void send_dgram(struct fake_server *s, const uint8_t *buf, uint32_t len,
                       const struct sockaddr_in *to)
{
    if (atomic_load(&s->mute))
        return;
    if ((int)zn_prng_below(&s->prng, 100) < s->faults.out_drop_pct)
        return;
    if ((int)zn_prng_below(&s->prng, 100) < s->faults.out_delay_pct) {
        delay_push(s, buf, len, to, false);
        return;
    }
    raw_send(s, buf, len, to);
    if ((int)zn_prng_below(&s->prng, 100) < s->faults.out_dup_pct)
        raw_send(s, buf, len, to);
}

static void send_msg(struct fake_server *s, const uint8_t *msg, uint32_t len, uint64_t msg_id,
                     const struct sockaddr_in *to)
{
    struct zn_frame_hdr base;
    memset(&base, 0, sizeof(base));
    base.type = ZN_FRAME_SERVER;
    base.sender = s->node_id;
    base.cluster_id = s->c->cluster_id;
    base.msg_id = msg_id;
    uint8_t d[ZN_FRAME_DGRAM_MAX_BYTES];
    uint32_t segs = zn_frame_seg_count(len);
    for (uint32_t i = 0; i < segs; i++) {
        struct zn_frame_hdr h;
        long off = zn_frame_segment(&base, len, i, &h);
        int n = zn_frame_encode(&h, msg + off, d, sizeof(d));
        if (n > 0)
            send_dgram(s, d, (uint32_t)n, to);
    }
}

static void hdr(uint8_t *out, uint8_t kind, uint64_t session, uint64_t seq, uint64_t ack,
                int64_t zxid, uint8_t leader)
{
    struct zn_sess_hdr h = {.kind = kind,
                            .leader = leader,
                            .session_id = session,
                            .seq = seq,
                            .ack = ack,
                            .zxid = (uint64_t)zxid};
    zn_sess_hdr_encode(&h, out);
}

static void send_refused(struct fake_server *s, uint64_t session, int32_t code,
                         const struct sockaddr_in *to)
{
    uint8_t m[ZN_SESS_HDR_BYTES + 4];
    hdr(m, ZN_SESS_REFUSED, session, 0, 0, s->c->zxid, 1);
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, m + ZN_SESS_HDR_BYTES, 4);
    zn_jute_put_int(&w, code);
    send_msg(s, m, sizeof(m), s->next_msg_id++, to);
    s->st.refused++;
}

/* ---- sessions, connections, watches ------------------------------------------------------- */

static struct fsess *find_sess(struct fake_cluster *c, uint64_t id)
{
    for (int i = 0; i < FAKE_SESSIONS_MAX; i++) {
        if (c->sessions[i].used && c->sessions[i].id == id)
            return &c->sessions[i];
    }
    return NULL;
}

static struct fconn *find_conn(struct fake_server *s, uint64_t session)
{
    for (int i = 0; i < FAKE_CONNS_MAX; i++) {
        if (s->conns[i].used && s->conns[i].session == session)
            return &s->conns[i];
    }
    return NULL;
}

static void conn_clear(struct fconn *k)
{
    for (int i = 0; i < FAKE_EVENTS_MAX; i++)
        free(k->events[i].msg);
    for (int i = 0; i < FAKE_HOLD; i++)
        free(k->early[i].data);
    for (int i = 0; i < k->nheld; i++)
        free(k->held_replies[i].data);
    memset(k, 0, sizeof(*k));
}

static void drop_watches(struct fake_server *s, uint64_t session)
{
    for (int i = 0; i < FAKE_WATCHES_MAX; i++) {
        if (s->watches[i].used && s->watches[i].session == session) {
            free(s->watches[i].path);
            s->watches[i].path = NULL;
            s->watches[i].used = false;
        }
    }
}

static void add_watch(struct fake_server *s, uint64_t session, const char *path, int kind)
{
    int freei = -1;
    for (int i = 0; i < FAKE_WATCHES_MAX; i++) {
        struct fwatch *w = &s->watches[i];
        if (w->used && w->session == session && w->kind == kind && strcmp(w->path, path) == 0)
            return;
        if (!w->used && freei < 0)
            freei = i;
    }
    if (freei < 0)
        return;
    s->watches[freei] = (struct fwatch){true, session, strdup(path), kind};
}

static void send_event(struct fake_server *s, struct fconn *k, const char *path, int type)
{
    if (k->ev_next - k->ev_acked > FAKE_EVENTS_MAX - 1)
        return;
    uint64_t num = k->ev_next++;
    struct fevent *e = &k->events[num % FAKE_EVENTS_MAX];
    free(e->msg);
    uint8_t buf[ZN_SESS_HDR_BYTES + 16 + 12 + 4200];
    hdr(buf, ZN_SESS_EVENT, k->session, num, 0, s->c->zxid, 1);
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf + ZN_SESS_HDR_BYTES, sizeof(buf) - ZN_SESS_HDR_BYTES);
    struct zn_zk_reply_header rh = {ZN_ZK_XID_WATCH_EVENT, s->c->zxid, 0};
    zn_zk_put_reply_header(&w, &rh);
    struct zn_zk_watch_event we = {type, ZN_ZK_STATE_SYNC_CONNECTED,
                                   zn_bytes_make(path, strlen(path))};
    zn_zk_put_watch_event(&w, &we);
    e->num = num;
    e->zxid = s->c->zxid;
    e->len = (uint32_t)(ZN_SESS_HDR_BYTES + w.len);
    e->msg = dupmem(buf, e->len);
    e->msg_id = s->next_msg_id++;
    e->last_send_ns = now_ns();
    send_msg(s, e->msg, e->len, e->msg_id, &k->addr);
    s->st.events_sent++;
}

/* Fan the collected triggers out to every server's watches (one event per session). */
static void fire_trigs(struct fake_cluster *c)
{
    for (int t = 0; t < c->ntrigs; t++) {
        const char *path = c->trigs[t].path;
        int type = c->trigs[t].type;
        for (int si = 0; si < FAKE_SERVERS_MAX; si++) {
            struct fake_server *s = c->servers[si];
            if (s == NULL)
                continue;
            uint64_t notified[FAKE_CONNS_MAX];
            int nn = 0;
            for (int i = 0; i < FAKE_WATCHES_MAX; i++) {
                struct fwatch *w = &s->watches[i];
                if (!w->used)
                    continue;
                bool exact = strcmp(w->path, path) == 0;
                bool hit = false;
                switch (w->kind) {
                case 1:
                case 2:
                    hit = exact && type != ZN_ZK_EVENT_NODE_CHILDREN_CHANGED;
                    break;
                case 3:
                    hit = exact && (type == ZN_ZK_EVENT_NODE_CHILDREN_CHANGED ||
                                    type == ZN_ZK_EVENT_NODE_DELETED);
                    break;
                case 4:
                    hit = exact;
                    break;
                case 5:
                    hit = is_under(w->path, path) && type != ZN_ZK_EVENT_NODE_CHILDREN_CHANGED;
                    break;
                }
                if (!hit)
                    continue;
                uint64_t sess = w->session;
                if (w->kind <= 3) {
                    free(w->path);
                    w->path = NULL;
                    w->used = false;
                }
                bool dup = false;
                for (int j = 0; j < nn; j++)
                    dup |= notified[j] == sess;
                if (dup)
                    continue;
                notified[nn++] = sess;
                struct fconn *k = find_conn(s, sess);
                if (k != NULL)
                    send_event(s, k, path, type);
            }
        }
    }
    clear_trigs(c);
}

/* Send a reply or hold it behind an unacked event whose zxid is at or below its own. */
static void reply_out(struct fake_server *s, struct fconn *k, uint64_t seq, const uint8_t *msg,
                      uint32_t len, uint64_t msg_id, int64_t zxid)
{
    bool hold = false;
    for (uint64_t n = k->ev_acked + 1; n < k->ev_next; n++) {
        if (k->events[n % FAKE_EVENTS_MAX].zxid <= zxid)
            hold = true;
    }
    if (hold && k->nheld < FAKE_HOLD * 4) {
        k->held_replies[k->nheld++] = (struct fheld){seq, dupmem(msg, len), len, zxid, msg_id, 0};
        s->st.replies_held++;
        return;
    }
    send_msg(s, msg, len, msg_id, &k->addr);
}

static void on_ack(struct fake_server *s, struct fconn *k, uint64_t ack)
{
    if (ack >= k->ev_next)
        ack = k->ev_next - 1;
    while (k->ev_acked < ack) {
        k->ev_acked++;
        struct fevent *e = &k->events[k->ev_acked % FAKE_EVENTS_MAX];
        free(e->msg);
        e->msg = NULL;
    }
    s->st.events_acked = k->ev_acked;
    /* Release held replies no longer behind an unacked event. */
    int j = 0;
    for (int i = 0; i < k->nheld; i++) {
        struct fheld *h = &k->held_replies[i];
        bool hold = false;
        for (uint64_t n = k->ev_acked + 1; n < k->ev_next; n++) {
            if (k->events[n % FAKE_EVENTS_MAX].zxid <= h->zxid)
                hold = true;
        }
        if (hold) {
            k->held_replies[j++] = *h;
        } else {
            send_msg(s, h->data, h->len, h->msg_id, &k->addr);
            free(h->data);
        }
    }
    k->nheld = j;
}

/* ---- request execution -------------------------------------------------------------------- */

struct out {
    struct zn_jute_writer w;
    uint8_t *buf;
};

static void put_children(struct fake_cluster *c, const char *path, struct zn_jute_writer *w)
{
    size_t at = w->len;
    zn_jute_put_int(w, 0);
    int32_t n = 0;
    size_t pl = strlen(path);
    for (int i = 0; i < c->nnodes; i++) {
        if (is_child(path, c->nodes[i].path)) {
            const char *name = c->nodes[i].path + (pl == 1 ? 1 : pl + 1);
            zn_jute_put_string(w, name);
            n++;
        }
    }
    zn_jute_patch_int(w, at, n);
}

/* Execute one op (not multi) writing its response body into w. Returns the ZK code. */
static int exec_op(struct fake_server *s, struct fsess *ss, const struct zn_zk_request *q,
                   struct zn_jute_writer *w, bool *is_write)
{
    struct fake_cluster *c = s->c;
    char path[4200] = "";
    *is_write = false;
    switch (q->type) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_CREATETTL: {
        struct zn_zk_stat st;
        char created[4200];
        *is_write = true;
        int rc = op_create(c, ss, q, created, &st);
        if (rc == 0) {
            zn_jute_put_string(w, created);
            if (q->type != ZN_ZK_OP_CREATE)
                zn_zk_put_stat(w, &st);
        }
        return rc;
    }
    case ZN_ZK_OP_DELETE: {
        char *p = bstr(q->u.versioned.path);
        *is_write = true;
        int rc = op_delete(c, ss, p, q->u.versioned.version);
        free(p);
        return rc;
    }
    case ZN_ZK_OP_CHECK: {
        char *p = bstr(q->u.versioned.path);
        int i = find_node(c, p);
        free(p);
        if (i < 0)
            return ZK_NONODE;
        if (q->u.versioned.version != -1 && q->u.versioned.version != c->nodes[i].stat.version)
            return ZK_BADVERSION;
        return 0;
    }
    case ZN_ZK_OP_SETDATA: {
        char *p = bstr(q->u.set_data.path);
        struct zn_zk_stat st;
        *is_write = true;
        int rc = op_set(c, ss, p, q->u.set_data.data, q->u.set_data.version, &st);
        free(p);
        if (rc == 0)
            zn_zk_put_stat(w, &st);
        return rc;
    }
    case ZN_ZK_OP_EXISTS:
    case ZN_ZK_OP_GETDATA:
    case ZN_ZK_OP_GETCHILDREN:
    case ZN_ZK_OP_GETCHILDREN2: {
        memcpy(path, q->u.read.path.ptr, (size_t)q->u.read.path.len);
        path[q->u.read.path.len] = '\0';
        int i = find_node(c, path);
        bool watch = q->u.read.watch && ss != NULL;
        if (i < 0) {
            if (watch && q->type == ZN_ZK_OP_EXISTS)
                add_watch(s, ss->id, path, 2);
            return ZK_NONODE;
        }
        struct fnode *n = &c->nodes[i];
        if (q->type != ZN_ZK_OP_EXISTS && !acl_allows(c, n, ss, ZN_ZK_PERM_READ))
            return ZK_NOAUTH;
        if (watch)
            add_watch(s, ss->id, path,
                      q->type == ZN_ZK_OP_GETCHILDREN || q->type == ZN_ZK_OP_GETCHILDREN2 ? 3 : 1);
        if (q->type == ZN_ZK_OP_GETDATA)
            zn_jute_put_buffer(
                w, n->len < 0 ? ZN_BYTES_NULL
                              : zn_bytes_make(n->data ? (void *)n->data : "", (size_t)n->len));
        if (q->type == ZN_ZK_OP_GETCHILDREN || q->type == ZN_ZK_OP_GETCHILDREN2)
            put_children(c, path, w);
        if (q->type != ZN_ZK_OP_GETCHILDREN)
            zn_zk_put_stat(w, &n->stat);
        return 0;
    }
    case ZN_ZK_OP_GETACL:
    case ZN_ZK_OP_SYNC:
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
    case ZN_ZK_OP_GETEPHEMERALS: {
        memcpy(path, q->u.path.path.ptr, (size_t)q->u.path.path.len);
        path[q->u.path.path.len] = '\0';
        if (q->type == ZN_ZK_OP_SYNC) {
            zn_jute_put_string(w, path);
            return 0;
        }
        if (q->type == ZN_ZK_OP_GETEPHEMERALS) {
            size_t at = w->len;
            zn_jute_put_int(w, 0);
            int32_t n = 0;
            for (int i = 0; i < c->nnodes; i++) {
                if (ss && c->nodes[i].owner == (int64_t)ss->id &&
                    strncmp(c->nodes[i].path, path, strlen(path)) == 0) {
                    zn_jute_put_string(w, c->nodes[i].path);
                    n++;
                }
            }
            zn_jute_patch_int(w, at, n);
            return 0;
        }
        int i = find_node(c, path);
        if (i < 0)
            return ZK_NONODE;
        if (q->type == ZN_ZK_OP_GETALLCHILDRENNUMBER) {
            int32_t n = 0;
            for (int j = 0; j < c->nnodes; j++)
                n += is_under(path, c->nodes[j].path) && strcmp(path, c->nodes[j].path) != 0;
            zn_jute_put_int(w, n);
            return 0;
        }
        zn_jute_put_raw(w, c->nodes[i].acl, c->nodes[i].acl_len);
        zn_zk_put_stat(w, &c->nodes[i].stat);
        return 0;
    }
    case ZN_ZK_OP_SETACL: {
        char *p = bstr(q->u.set_acl.path);
        int i = find_node(c, p);
        free(p);
        *is_write = true;
        if (i < 0)
            return ZK_NONODE;
        struct fnode *n = &c->nodes[i];
        if (q->u.set_acl.version != -1 && q->u.set_acl.version != n->stat.aversion)
            return ZK_BADVERSION;
        if (!acl_allows(c, n, ss, ZN_ZK_PERM_ADMIN))
            return ZK_NOAUTH;
        uint8_t aclbuf[8192];
        struct zn_jute_writer aw;
        zn_jute_writer_init(&aw, aclbuf, sizeof(aclbuf));
        make_acl(&q->u.set_acl.acl, ss, &aw);
        free(n->acl);
        n->acl = dupmem(aclbuf, aw.len);
        n->acl_len = aw.len;
        n->stat.aversion++;
        ++c->zxid;
        zn_zk_put_stat(w, &n->stat);
        return 0;
    }
    case ZN_ZK_OP_ADDWATCH:
    case ZN_ZK_OP_CHECKWATCHES:
    case ZN_ZK_OP_REMOVEWATCHES: {
        memcpy(path, q->u.watch.path.ptr, (size_t)q->u.watch.path.len);
        path[q->u.watch.path.len] = '\0';
        if (q->type == ZN_ZK_OP_ADDWATCH) {
            add_watch(s, ss->id, path, q->u.watch.type == 0 ? 4 : 5);
            zn_jute_put_int(w, 0); /* ErrorResponse{0}, as ZooKeeper answers addWatch */
            return 0;
        }
        int found = 0;
        for (int i = 0; i < FAKE_WATCHES_MAX; i++) {
            struct fwatch *wt = &s->watches[i];
            if (!wt->used || wt->session != ss->id || strcmp(wt->path, path) != 0)
                continue;
            int t = q->u.watch.type;
            bool m =
                t == 3 || (t == 1 && wt->kind == 3) || (t == 2 && (wt->kind == 1 || wt->kind == 2));
            if (!m)
                continue;
            found++;
            if (q->type == ZN_ZK_OP_REMOVEWATCHES) {
                free(wt->path);
                wt->path = NULL;
                wt->used = false;
            }
        }
        return found ? 0 : ZK_NOWATCHER;
    }
    case ZN_ZK_OP_AUTH:
        return add_auth(s, ss, q);
    case ZN_ZK_OP_WHOAMI:
        zn_jute_put_int(w, ss->nauth + 1);
        zn_jute_put_string(w, "ip");
        zn_jute_put_string(w, "127.0.0.1");
        for (int i = 0; i < ss->nauth; i++) {
            zn_jute_put_string(w, ss->auth_scheme[i]);
            zn_jute_put_string(w, ss->auth_id[i]);
        }
        return 0;
    case ZN_ZK_OP_SETWATCHES2: {
        s->st.set_watches++;
        const struct zn_zk_vec *vs[5] = {&q->u.set_watches.data, &q->u.set_watches.exist,
                                         &q->u.set_watches.child, &q->u.set_watches.persistent,
                                         &q->u.set_watches.persistent_recursive};
        int64_t rel = q->u.set_watches.relative_zxid;
        struct fconn *k = find_conn(s, ss->id);
        for (int v = 0; v < 5; v++) {
            struct zn_zk_vec_iter it;
            zn_zk_vec_iter_init(&it, vs[v]);
            struct zn_bytes b;
            while (zn_zk_vec_next_string(&it, &b)) {
                char *p = bstr(b);
                s->st.set_watches_paths++;
                int i = find_node(c, p);
                int fire = 0;
                if (v == 0 && i < 0)
                    fire = ZN_ZK_EVENT_NODE_DELETED;
                else if (v == 0 && c->nodes[i].stat.mzxid > rel)
                    fire = ZN_ZK_EVENT_NODE_DATA_CHANGED;
                else if (v == 1 && i >= 0)
                    fire = ZN_ZK_EVENT_NODE_CREATED;
                else if (v == 2 && i < 0)
                    fire = ZN_ZK_EVENT_NODE_DELETED;
                else if (v == 2 && c->nodes[i].stat.pzxid > rel)
                    fire = ZN_ZK_EVENT_NODE_CHILDREN_CHANGED;
                if (fire && v < 3 && k != NULL)
                    send_event(s, k, p, fire);
                else
                    add_watch(s, ss->id, p, v + 1);
                free(p);
            }
        }
        return 0;
    }
    case ZN_ZK_OP_CLOSESESSION: {
        *is_write = true;
        for (int i = c->nnodes - 1; i >= 0; i--) {
            if (c->nodes[i].owner == (int64_t)ss->id) {
                char *p = strdup(c->nodes[i].path);
                (void)op_delete(c, ss, p, -1);
                free(p);
                i = c->nnodes; /* the array changed: rescan */
            }
        }
        return 0;
    }
    default:
        return ZK_UNIMPLEMENTED;
    }
}

static int exec_multi(struct fake_server *s, struct fsess *ss, const struct zn_zk_request *q,
                      struct zn_jute_writer *w)
{
    struct fake_cluster *c = s->c;
    bool read = q->type == ZN_ZK_OP_MULTIREAD;
    struct fnode *backup = read ? NULL : store_copy(c);
    int backup_n = c->nnodes;
    int64_t backup_zxid = c->zxid;
    size_t start = w->len;
    int failed_at = -1, failed_rc = 0, i = 0;
    struct zn_zk_multi_iter it;
    zn_zk_multi_iter_init(&it, q);
    struct zn_zk_request op;
    while (zn_zk_multi_next(&it, &op)) {
        size_t at = w->len;
        zn_zk_put_multi_result_header(w, op.type, 0);
        bool wr;
        int rc = exec_op(s, ss, &op, w, &wr);
        if (rc != 0) {
            w->len = at;
            zn_zk_put_multi_result_error(w, rc);
            if (!read && failed_at < 0) {
                failed_at = i;
                failed_rc = rc;
            }
        }
        i++;
    }
    if (!read && failed_at >= 0) {
        /* Roll back; every result becomes an error: 0 before, rc at, -2 after. */
        store_free(c->nodes, c->nnodes);
        c->nodes = realloc(backup, FAKE_NODES_MAX * sizeof(*c->nodes));
        c->nnodes = backup_n;
        c->zxid = backup_zxid;
        clear_trigs(c);
        w->len = start;
        for (int j = 0; j < i; j++)
            zn_zk_put_multi_result_error(w, j < failed_at ? 0 : j == failed_at ? failed_rc : -2);
    } else if (backup) {
        store_free(backup, backup_n);
    }
    zn_zk_put_multi_end(w);
    return 0;
}

/* Execute request body `b` for session ss, producing and caching the reply. */
static void execute(struct fake_server *s, struct fsess *ss, struct fconn *k, uint64_t seq,
                    struct zn_bytes b)
{
    struct fake_cluster *c = s->c;
    size_t cap = ZN_MSG_SIZE_MAX_BYTES + 4096;
    uint8_t *buf = s->txbuf; /* allocated once: the cache keeps an exact-size copy */
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf + ZN_SESS_HDR_BYTES, cap - ZN_SESS_HDR_BYTES);
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    struct zn_zk_request q;
    int drc = zn_zk_request_decode(b.ptr, (size_t)b.len, &lim, &q);
    int64_t z0 = c->zxid;
    struct zn_zk_reply_header rh = {q.xid, 0, 0};
    size_t hdr_at = w.len;
    zn_zk_put_reply_header(&w, &rh);
    bool wr = false;
    int rc;
    if (drc != 0)
        rc = drc == ZN_EUNIMPLEMENTED ? ZK_UNIMPLEMENTED : ZK_MARSHALLINGERROR;
    else if (q.type == ZN_ZK_OP_MULTI || q.type == ZN_ZK_OP_MULTIREAD)
        rc = exec_multi(s, ss, &q, &w);
    else
        rc = exec_op(s, ss, &q, &w, &wr);
    if (drc == 0 && q.type == ZN_ZK_OP_MULTI)
        wr = true;
    if (rc != 0)
        w.len = hdr_at + 16; /* no body with an error */
    (void)z0;
    if (wr)
        c->writes++; /* every executed write counts, failed ones too (they are log entries) */
    rh.zxid = c->zxid;
    rh.err = rc;
    struct zn_jute_writer hw;
    zn_jute_writer_init(&hw, buf + ZN_SESS_HDR_BYTES + hdr_at, 16);
    zn_zk_put_reply_header(&hw, &rh);
    ss->next_seq = seq + 1;
    s->st.executed++;
    hdr(buf, ZN_SESS_REPLY, ss->id, seq, ss->next_seq - 1, c->zxid, 1);
    uint32_t len = (uint32_t)(ZN_SESS_HDR_BYTES + w.len);
    struct fcached *slot = &ss->cache[seq % FAKE_CACHE];
    free(slot->msg);
    slot->seq = seq;
    slot->msg = dupmem(buf, len);
    slot->len = len;
    slot->msg_id = s->next_msg_id++;
    /* Events the request caused go first; then the reply, held behind them. */
    fire_trigs(c);
    if (drc == 0 && q.type == ZN_ZK_OP_CLOSESESSION) {
        reply_out(s, k, seq, slot->msg, len, slot->msg_id, c->zxid);
        ss->expired = true;
        return;
    }
    if (drc == 0 && q.type != 0 && q.type == atomic_load(&s->lose_replies_op))
        return; /* executed and cached, the reply lost */
    reply_out(s, k, seq, slot->msg, len, slot->msg_id, c->zxid);
}

/* ---- message handling -------------------------------------------------------------------- */

static void handle_connect(struct fake_server *s, const struct zn_sess_hdr *h, struct zn_bytes body,
                           const struct sockaddr_in *from)
{
    struct fake_cluster *c = s->c;
    struct zn_zk_connect_request cr;
    if (zn_zk_connect_request_decode(body.ptr, (size_t)body.len, &cr) != 0)
        return;
    s->st.connects++;
    int refuse = atomic_load(&s->refuse_connect);
    if (refuse != 0) {
        send_refused(s, (uint64_t)cr.session_id, refuse, from);
        return;
    }
    struct fsess *ss = NULL;
    if (cr.session_id == 0) {
        for (int i = 0; i < FAKE_SESSIONS_MAX && cr.passwd.len == 16; i++) {
            if (c->sessions[i].used && memcmp(c->sessions[i].nonce, cr.passwd.ptr, 16) == 0)
                ss = &c->sessions[i];
        }
        if (ss == NULL) {
            for (int i = 0; i < FAKE_SESSIONS_MAX; i++) {
                if (!c->sessions[i].used) {
                    ss = &c->sessions[i];
                    break;
                }
            }
            if (ss == NULL) {
                send_refused(s, 0, ZK_THROTTLEDOP, from);
                return;
            }
            memset(ss, 0, sizeof(*ss));
            ss->used = true;
            ss->id = 0x5a00000000000000ull + ++c->next_session;
            for (int i = 0; i < 16; i++)
                ss->passwd[i] = (uint8_t)zn_prng_u64(&s->prng);
            if (cr.passwd.len == 16)
                memcpy(ss->nonce, cr.passwd.ptr, 16);
            int32_t t = cr.timeout_ms;
            ss->timeout_ms = t < 100 ? 100 : t > 40000 ? 40000 : t;
            ss->next_seq = 1;
        }
    } else {
        ss = find_sess(c, (uint64_t)cr.session_id);
        if (ss == NULL || ss->expired) {
            uint8_t m[ZN_SESS_HDR_BYTES + 4];
            hdr(m, ZN_SESS_REFUSED, (uint64_t)cr.session_id, 0, 0, c->zxid, 1);
            struct zn_jute_writer w;
            zn_jute_writer_init(&w, m + ZN_SESS_HDR_BYTES, 4);
            zn_jute_put_int(&w, ss == NULL ? ZK_UNKNOWNSESSION : ZK_SESSIONEXPIRED);
            send_msg(s, m, sizeof(m), s->next_msg_id++, from);
            s->st.refused++;
            return;
        }
        if (cr.passwd.len != 16 || memcmp(cr.passwd.ptr, ss->passwd, 16) != 0) {
            send_refused(s, ss->id, ZK_AUTHFAILED, from);
            return;
        }
    }
    ss->last_heard_ns = now_ns();
    /* The session moves here: other servers forget its connection and watches. */
    for (int si = 0; si < FAKE_SERVERS_MAX; si++) {
        struct fake_server *o = c->servers[si];
        if (o == NULL || o == s)
            continue;
        struct fconn *ok = find_conn(o, ss->id);
        if (ok)
            conn_clear(ok);
        drop_watches(o, ss->id);
    }
    ss->owner_node = s->node_id;
    struct fconn *k = find_conn(s, ss->id);
    /* A retransmitted CONNECT (same epoch in its ack field) does not restart the
     * connection: only a new attempt resets event numbering. */
    bool fresh = k == NULL || k->epoch != h->ack || memcmp(&k->addr, from, sizeof(*from)) != 0;
    if (k == NULL) {
        for (int i = 0; i < FAKE_CONNS_MAX; i++) {
            if (!s->conns[i].used) {
                k = &s->conns[i];
                break;
            }
        }
        if (k == NULL)
            return;
    }
    if (fresh) {
        conn_clear(k);
        auth_clear(ss); /* a new connection holds no identity until addAuth (again) */
        s->nreqlog = 0;
        k->used = true;
        k->session = ss->id;
        k->addr = *from;
        k->ev_next = 1;
        k->ev_acked = 0;
        k->epoch = h->ack;
    }
    uint8_t m[ZN_SESS_HDR_BYTES + 64];
    hdr(m, ZN_SESS_CONNECTED, ss->id, h->ack, ss->next_seq - 1, c->zxid, 1);
    struct zn_zk_connect_response resp = {0, ss->timeout_ms, (int64_t)ss->id,
                                          zn_bytes_make(ss->passwd, 16), false};
    long n = zn_zk_connect_response_encode(&resp, m + ZN_SESS_HDR_BYTES, 64);
    send_msg(s, m, (uint32_t)(ZN_SESS_HDR_BYTES + (size_t)n), s->next_msg_id++, from);
}

static void reexec_auth(struct fake_server *s, struct fsess *ss, struct fconn *k, uint64_t seq,
                        struct zn_bytes b)
{
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    struct zn_zk_request q;
    if (zn_zk_request_decode(b.ptr, (size_t)b.len, &lim, &q) != 0)
        return;
    s->st.auth_reexecuted++;
    int rc = add_auth(s, ss, &q);
    uint8_t m[ZN_SESS_HDR_BYTES + 16];
    hdr(m, ZN_SESS_REPLY, ss->id, seq, ss->next_seq - 1, s->c->zxid, 1);
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, m + ZN_SESS_HDR_BYTES, 16);
    struct zn_zk_reply_header rh = {(int32_t)(uint32_t)seq, 0, rc};
    zn_zk_put_reply_header(&w, &rh);
    send_msg(s, m, sizeof(m), s->next_msg_id++, &k->addr);
}

static void handle_request(struct fake_server *s, struct fsess *ss, struct fconn *k,
                           const struct zn_sess_hdr *h, const uint8_t *msg, uint32_t len)
{
    s->st.requests++;
    /* [R3] RequestHeader.xid is the low 32 bits of seq. */
    const uint8_t *x = msg + ZN_SESS_HDR_BYTES;
    uint32_t xid = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
    if (xid != (uint32_t)h->seq)
        s->st.violations++;
    if (h->flags & ZN_SESS_F_RETRY)
        s->st.retry_flags++;
    if ((h->flags & ZN_SESS_F_LINEARIZABLE) && !(h->flags & ZN_SESS_F_RETRY))
        s->st.linearizable++; /* first transmissions only */
    if (atomic_load(&s->blackhole))
        return;
    int32_t op =
        len >= ZN_SESS_HDR_BYTES + 8
            ? (int32_t)((uint32_t)x[4] << 24 | (uint32_t)x[5] << 16 | (uint32_t)x[6] << 8 | x[7])
            : 0;
    if (s->nreqlog < FAKE_REQLOG_MAX)
        s->reqlog[s->nreqlog++] = op;
    switch (zn_sess_window_classify(ss->next_seq, h->seq, FAKE_HOLD)) {
    case ZN_SESS_DUPLICATE: {
        s->st.duplicates++;
        if (op == ZN_ZK_OP_AUTH) {
            /* zincd runs an addAuth again whatever its seq (node_auth_request): a client
             * re-sends its identities to a new connection with their original seqs. */
            reexec_auth(s, ss, k, h->seq,
                        zn_bytes_make(msg + ZN_SESS_HDR_BYTES, len - ZN_SESS_HDR_BYTES));
            return;
        }
        struct fcached *cr = &ss->cache[h->seq % FAKE_CACHE];
        int lose = atomic_load(&s->lose_replies_op);
        if (cr->msg && cr->seq == h->seq && (lose == 0 || op != lose)) {
            bool held = false;
            for (int i = 0; i < k->nheld; i++)
                held |= k->held_replies[i].seq == h->seq;
            if (!held) {
                send_msg(s, cr->msg, cr->len, cr->msg_id, &k->addr);
                s->st.cached_replies++;
            }
        }
        return;
    }
    case ZN_SESS_EARLY: {
        struct fheld *e = &k->early[h->seq % FAKE_HOLD];
        if (e->data == NULL) {
            e->seq = h->seq;
            e->data = dupmem(msg, len);
            e->len = len;
            s->st.early_held++;
        }
        return;
    }
    case ZN_SESS_TOO_EARLY:
        return;
    case ZN_SESS_IN_ORDER:
        break;
    }
    execute(s, ss, k, h->seq, zn_bytes_make(msg + ZN_SESS_HDR_BYTES, len - ZN_SESS_HDR_BYTES));
    /* Take held requests that are now in order. */
    for (int i = 0; i < FAKE_HOLD && !ss->expired; i++) {
        struct fheld *e = &k->early[ss->next_seq % FAKE_HOLD];
        if (e->data == NULL || e->seq != ss->next_seq)
            break;
        uint8_t *d = e->data;
        uint32_t dl = e->len;
        uint64_t seq = e->seq;
        e->data = NULL;
        execute(s, ss, k, seq, zn_bytes_make(d + ZN_SESS_HDR_BYTES, dl - ZN_SESS_HDR_BYTES));
        free(d);
    }
}

static void handle_msg(struct fake_server *s, const uint8_t *msg, uint32_t len,
                       const struct sockaddr_in *from)
{
    struct fake_cluster *c = s->c;
    struct zn_sess_hdr h;
    struct zn_bytes body;
    if (zn_sess_decode(msg, len, ZN_SESS_TO_SERVER, &h, &body) != 0)
        return;
    if (h.kind == ZN_SESS_CONNECT) {
        handle_connect(s, &h, body, from);
        return;
    }
    struct fsess *ss = find_sess(c, h.session_id);
    if (ss == NULL) {
        send_refused(s, h.session_id, ZK_SESSIONEXPIRED, from);
        return;
    }
    if (ss->expired) {
        send_refused(s, ss->id, ZK_SESSIONEXPIRED, from);
        return;
    }
    struct fconn *k = find_conn(s, ss->id);
    if (k == NULL || ss->owner_node != s->node_id) {
        send_refused(s, ss->id, ZK_SESSIONMOVED, from);
        return;
    }
    ss->last_heard_ns = now_ns();
    /* Only meaningful when the network does not reorder what the client sent. */
    if (h.zxid < ss->last_client_zxid && s->faults.in_delay_pct == 0)
        s->st.zxid_regressions++;
    ss->last_client_zxid = h.zxid;
    /* [R6] The client acks only events it received, and never less than before on one
     * connection (reordering in the network aside). */
    if (h.ack >= k->ev_next || (h.ack < k->ev_acked && s->faults.in_delay_pct == 0))
        s->st.violations++;
    on_ack(s, k, h.ack);
    switch (h.kind) {
    case ZN_SESS_REQUEST:
        handle_request(s, ss, k, &h, msg, len);
        break;
    case ZN_SESS_ACK:
        s->st.acks++;
        break;
    case ZN_SESS_PING: {
        s->st.pings++;
        uint8_t m[ZN_SESS_HDR_BYTES];
        hdr(m, ZN_SESS_PONG, ss->id, 0, ss->next_seq - 1, c->zxid, 1);
        send_msg(s, m, sizeof(m), s->next_msg_id++, from);
        break;
    }
    default:
        break;
    }
}

static void handle_dgram(struct fake_server *s, const uint8_t *buf, uint32_t len,
                         const struct sockaddr_in *from)
{
    struct zn_frame_expect ex = {s->c->cluster_id, s->node_id};
    struct zn_frame_hdr fh;
    if (zn_frame_decode(buf, len, &ex, &fh) != 0 || fh.type != ZN_FRAME_CLIENT)
        return;
    s->st.datagrams_in++;
    /* Key partial messages by client port too (every client sends as node 0). */
    fh.sender = (uint8_t)(ntohs(from->sin_port) & 0xff);
    struct zn_reasm_msg m;
    uint64_t source = (uint64_t)ntohl(from->sin_addr.s_addr) << 16 | ntohs(from->sin_port);
    int rc = zn_reasm_add(&s->reasm, &fh, buf + ZN_FRAME_HDR_BYTES, source, now_ns(), &m);
    if (rc == 1) {
        handle_msg(s, m.data, m.len, from);
        zn_reasm_msg_release(&s->reasm, &m);
    }
}

static void timers(struct fake_server *s)
{
    uint64_t now = now_ns();
    struct fake_cluster *c = s->c;
    /* (Sessions are checked at the end with a fresh reading: handling delayed datagrams
     * below moves last_heard_ns past `now`.) */
    for (int i = 0; i < FAKE_DELAYED_MAX; i++) {
        struct fdelayed *d = &s->delayed[i];
        if (d->buf == NULL || now < d->due_ns)
            continue;
        uint8_t *b = d->buf;
        d->buf = NULL;
        if (d->in)
            handle_dgram(s, b, d->len, &d->addr);
        else if (!atomic_load(&s->mute))
            raw_send(s, b, d->len, &d->addr);
        free(b);
    }
    for (int i = 0; i < FAKE_CONNS_MAX; i++) {
        struct fconn *k = &s->conns[i];
        if (!k->used)
            continue;
        for (uint64_t n = k->ev_acked + 1; n < k->ev_next; n++) {
            struct fevent *e = &k->events[n % FAKE_EVENTS_MAX];
            if (e->msg && now - e->last_send_ns >= EVENT_RESEND_NS) {
                send_msg(s, e->msg, e->len, e->msg_id, &k->addr);
                e->last_send_ns = now;
                s->st.event_resends++;
            }
        }
    }
    now = now_ns();
    for (int i = 0; i < FAKE_SESSIONS_MAX; i++) {
        struct fsess *ss = &c->sessions[i];
        if (ss->used && !ss->expired && ss->last_heard_ns && now > ss->last_heard_ns &&
            now - ss->last_heard_ns > (uint64_t)ss->timeout_ms * 1000000ull)
            ss->expired = true;
    }
    zn_reasm_expire(&s->reasm, now);
}

static void *server_main(void *arg)
{
    struct fake_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        (void)poll(&p, 1, 1);
        pthread_mutex_lock(&s->c->mu);
        for (int i = 0; i < 512; i++) {
            struct sockaddr_in from;
            socklen_t fl = sizeof(from);
            ssize_t n = recvfrom(s->fd, s->rx, ZN_FRAME_DGRAM_MAX_BYTES, MSG_DONTWAIT,
                                 (struct sockaddr *)&from, &fl);
            if (n <= 0)
                break;
            if (atomic_load(&s->mute))
                continue;
            if ((int)zn_prng_below(&s->prng, 100) < s->faults.in_drop_pct)
                continue;
            if ((int)zn_prng_below(&s->prng, 100) < s->faults.in_delay_pct) {
                delay_push(s, s->rx, (uint32_t)n, &from, true);
                continue;
            }
            handle_dgram(s, s->rx, (uint32_t)n, &from);
            if ((int)zn_prng_below(&s->prng, 100) < s->faults.in_dup_pct)
                handle_dgram(s, s->rx, (uint32_t)n, &from);
        }
        timers(s);
        pthread_mutex_unlock(&s->c->mu);
    }
    return NULL;
}

/* ---- public ------------------------------------------------------------------------------ */

struct fake_cluster *fake_cluster_new(uint32_t cluster_id)
{
    struct fake_cluster *c = calloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->cluster_id = cluster_id;
    c->nodes = calloc(FAKE_NODES_MAX, sizeof(*c->nodes));
    add_node(c, "/", ZN_BYTES_NULL, open_acl, sizeof(open_acl), 0, 0);
    return c;
}

void fake_cluster_free(struct fake_cluster *c)
{
    store_free(c->nodes, c->nnodes);
    for (int i = 0; i < FAKE_SESSIONS_MAX; i++) {
        struct fsess *ss = &c->sessions[i];
        for (int j = 0; j < FAKE_CACHE; j++)
            free(ss->cache[j].msg);
        for (int j = 0; j < ss->nauth; j++) {
            free(ss->auth_scheme[j]);
            free(ss->auth_id[j]);
        }
    }
    clear_trigs(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

struct fake_server *fake_server_start(struct fake_cluster *c, uint8_t node_id)
{
    struct fake_server *s = calloc(1, sizeof(*s));
    s->c = c;
    s->node_id = node_id;
    s->fd = socket(AF_INET, SOCK_DGRAM, 0);
    int v = 8 * 1024 * 1024;
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) != 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) != 0)
        setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s->fd);
        free(s);
        return NULL;
    }
    socklen_t al = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    zn_prng_seed(&s->prng, 0x5eed0000u + node_id);
    zn_reasm_init(&s->reasm, 64, ZN_REASM_BYTES_DEFAULT, ZN_REASM_TIMEOUT_NS_DEFAULT);
    s->rx = malloc(ZN_FRAME_DGRAM_MAX_BYTES);
    s->txbuf = malloc(ZN_MSG_SIZE_MAX_BYTES + 4096);
    s->next_msg_id = 1000;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < FAKE_SERVERS_MAX; i++) {
        if (c->servers[i] == NULL) {
            c->servers[i] = s;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    pthread_create(&s->thr, NULL, server_main, s);
    return s;
}

uint16_t fake_server_port(const struct fake_server *s)
{
    return s->port;
}

void fake_server_stop(struct fake_server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thr, NULL);
    struct fake_cluster *c = s->c;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < FAKE_SERVERS_MAX; i++) {
        if (c->servers[i] == s)
            c->servers[i] = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    close(s->fd);
    for (int i = 0; i < FAKE_CONNS_MAX; i++)
        conn_clear(&s->conns[i]);
    for (int i = 0; i < FAKE_WATCHES_MAX; i++)
        free(s->watches[i].path);
    for (int i = 0; i < FAKE_DELAYED_MAX; i++)
        free(s->delayed[i].buf);
    zn_reasm_fini(&s->reasm);
    free(s->rx);
    free(s->txbuf);
    free(s);
}

void fake_server_set_faults(struct fake_server *s, const struct fake_faults *f)
{
    pthread_mutex_lock(&s->c->mu);
    s->faults = *f;
    pthread_mutex_unlock(&s->c->mu);
}

void fake_server_set_mute(struct fake_server *s, bool mute)
{
    atomic_store(&s->mute, mute);
}

void fake_server_set_blackhole(struct fake_server *s, bool on)
{
    atomic_store(&s->blackhole, on);
}

void fake_server_refuse_connect(struct fake_server *s, int zk_code)
{
    atomic_store(&s->refuse_connect, zk_code);
}

void fake_server_refuse_auth(struct fake_server *s, bool on)
{
    atomic_store(&s->refuse_auth, on);
}

void fake_server_lose_replies(struct fake_server *s, int32_t op)
{
    atomic_store(&s->lose_replies_op, op);
}

int fake_server_request_log(struct fake_server *s, int32_t *ops, int cap)
{
    pthread_mutex_lock(&s->c->mu);
    int n = s->nreqlog < cap ? s->nreqlog : cap;
    memcpy(ops, s->reqlog, (size_t)n * sizeof(*ops));
    pthread_mutex_unlock(&s->c->mu);
    return n;
}

int fake_server_identities(struct fake_server *s, int64_t session, char *out, size_t cap)
{
    int n = -1;
    size_t at = 0;
    out[0] = '\0';
    pthread_mutex_lock(&s->c->mu);
    struct fsess *ss = find_sess(s->c, (uint64_t)session);
    if (ss != NULL && ss->owner_node == s->node_id) {
        n = ss->nauth;
        for (int i = 0; i < ss->nauth; i++) {
            int w = snprintf(out + at, cap - at, "%s%s:%s", i ? "," : "", ss->auth_scheme[i],
                             ss->auth_id[i]);
            if (w < 0 || (size_t)w >= cap - at)
                break;
            at += (size_t)w;
        }
    }
    pthread_mutex_unlock(&s->c->mu);
    return n;
}

void fake_server_stats(struct fake_server *s, struct fake_stats *out)
{
    pthread_mutex_lock(&s->c->mu);
    *out = s->st;
    pthread_mutex_unlock(&s->c->mu);
}

int fake_server_watch_count(struct fake_server *s, int64_t session, const char *path)
{
    int n = 0;
    pthread_mutex_lock(&s->c->mu);
    for (int i = 0; i < FAKE_WATCHES_MAX; i++) {
        struct fwatch *w = &s->watches[i];
        n += w->used && w->session == (uint64_t)session && strcmp(w->path, path) == 0;
    }
    pthread_mutex_unlock(&s->c->mu);
    return n;
}

int fake_cluster_create(struct fake_cluster *c, const char *path, const char *data)
{
    pthread_mutex_lock(&c->mu);
    struct zn_zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = ZN_ZK_OP_CREATE;
    q.u.create.path = zn_bytes_make(path, strlen(path));
    q.u.create.data = zn_bytes_make(data, strlen(data));
    uint8_t acl[sizeof(open_acl)];
    memcpy(acl, open_acl, sizeof(acl));
    q.u.create.acl = (struct zn_zk_vec){1, zn_bytes_make(acl + 4, sizeof(acl) - 4)};
    char created[4200];
    struct zn_zk_stat st;
    int rc = op_create(c, NULL, &q, created, &st);
    fire_trigs(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int fake_cluster_set(struct fake_cluster *c, const char *path, const char *data)
{
    pthread_mutex_lock(&c->mu);
    struct zn_zk_stat st;
    int rc = op_set(c, NULL, path, zn_bytes_make(data, strlen(data)), -1, &st);
    fire_trigs(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int fake_cluster_delete(struct fake_cluster *c, const char *path)
{
    pthread_mutex_lock(&c->mu);
    int rc = op_delete(c, NULL, path, -1);
    fire_trigs(c);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void fake_cluster_expire(struct fake_cluster *c, int64_t session)
{
    pthread_mutex_lock(&c->mu);
    struct fsess *ss = find_sess(c, (uint64_t)session);
    if (ss)
        ss->expired = true;
    pthread_mutex_unlock(&c->mu);
}

uint64_t fake_cluster_writes(struct fake_cluster *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t w = c->writes;
    pthread_mutex_unlock(&c->mu);
    return w;
}

int64_t fake_cluster_zxid(struct fake_cluster *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t z = c->zxid;
    pthread_mutex_unlock(&c->mu);
    return z;
}
