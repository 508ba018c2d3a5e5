/*
 * zkport_e2e.c - the ZooKeeper TCP port of three zincd processes on 127.0.0.1, driven by the
 * Apache ZooKeeper C client (libzookeeper-mt), raw jute frames for the opcodes that client
 * has no call for, four-letter words, and zkCli in batch mode when installed.
 *
 *   zkport_e2e ZINCD [ZKCLI]
 *
 * What it checks (each CHECK counts; the first failure prints the node logs and exits 1):
 *   - every create mode (persistent, ephemeral, both sequential with %010d, container, TTL),
 *     getData/setData/exists/getChildren/getChildren2/delete/getACL/setACL/sync and their
 *     ZooKeeper error codes (NodeExists, NoNode, BadVersion, NotEmpty, NoChildrenForEphemerals);
 *   - multi: success, and a failure with ZooKeeper's per-op results (0 before the failure, the
 *     failing op's code, RuntimeInconsistency after it; nothing applied);
 *   - watches across sessions and nodes (data, child, exists), reply zxid in headers;
 *   - a client moved to another node (its node stopped) keeps its session and re-arms its
 *     watches with setWatches: a change made while it was away fires at once;
 *   - ephemerals go at closeSession, and at expiry of a session that stopped pinging; the
 *     expired session is refused (ConnectResponse timeout 0);
 *   - raw frames: a 44-byte ConnectRequest, getEphemerals, getAllChildrenNumber, multiRead,
 *     whoAmI, addWatch (persistent recursive) events, an oversized request answered with an
 *     error on a connection that stays usable;
 *   - four-letter words (ruok, srvr, stat, mntr, conf, cons, wchs, isro; dirs refused by the
 *     allow-list), none mentioning a password or digest;
 *   - limits: connections per client address; a client that does not read is disconnected and
 *     the node keeps serving others;
 *   - a chroot suffix in the connect string works (the client prefixes paths);
 *   - addAuth digest: creator-only ACLs readable/writable by the same user on any node (reads
 *     served locally, writes forwarded with the identities), NoAuth for others; an unknown
 *     scheme fails the authentication.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "proto/jute.h"
#include "tcluster.h"

static uint16_t zkports[TCL_NODES + 1];
static int stopped_node;
static uint64_t t_start;

#define STEP(...)                                                        \
    do {                                                                 \
        printf("[%6.1f s] ", (double)(tcl_now_ms() - t_start) / 1000.0); \
        printf(__VA_ARGS__);                                             \
    } while (0)

#define CHECK_RC(call, want)                                                                    \
    do {                                                                                        \
        int rc_ = (call);                                                                       \
        CHECK(rc_ == (want), "%s: got %d (%s), want %d", #call, rc_, zerror(rc_), (int)(want)); \
    } while (0)

/* ---- the cluster -------------------------------------------------------------------------- */

static void write_config(int id)
{
    tcl_write_config(id,
                     "[wal]\nsync = memory\n[session]\ntimeout_min_ms = 2000\n[limits]\n"
                     "data_bytes_max = 1M\n[mgmt]\nzk_port = %u\n[zk]\nlisten_host = 127.0.0.1\n"
                     "conn_per_ip_max = 24\nfour_letter_words = ruok,srvr,stat,mntr,conf,cons,wchs,"
                     "isro\n",
                     zkports[id]);
}

/* ---- the ZooKeeper C client ----------------------------------------------------------------- */

struct watch_log {
    pthread_mutex_t lock;
    int n;
    int types[64];
    char paths[64][64];
    _Atomic int state;
};

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    struct watch_log *w = ctx;
    if (!w)
        return;
    if (type == ZOO_SESSION_EVENT) {
        atomic_store(&w->state, state);
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (w->n < 64) {
        w->types[w->n] = type;
        snprintf(w->paths[w->n], sizeof(w->paths[0]), "%s", path ? path : "");
        w->n++;
    }
    pthread_mutex_unlock(&w->lock);
}

/* Wait until w saw an event of type on path; false after timeout_ms. */
static bool wait_event(struct watch_log *w, int type, const char *path, unsigned timeout_ms)
{
    uint64_t until = tcl_now_ms() + timeout_ms;
    while (tcl_now_ms() < until) {
        pthread_mutex_lock(&w->lock);
        for (int i = 0; i < w->n; i++)
            if (w->types[i] == type && !strcmp(w->paths[i], path)) {
                pthread_mutex_unlock(&w->lock);
                return true;
            }
        pthread_mutex_unlock(&w->lock);
        tcl_sleep_ms(10);
    }
    return false;
}

static zhandle_t *zk_open(const char *hosts, int timeout_ms, struct watch_log *w,
                          const clientid_t *cid)
{
    zhandle_t *zh = zookeeper_init(hosts, watcher, timeout_ms, cid, w, 0);
    CHECK(zh != NULL, "zookeeper_init(%s): %s", hosts, strerror(errno));
    uint64_t until = tcl_now_ms() + 15000;
    while (zoo_state(zh) != ZOO_CONNECTED_STATE && tcl_now_ms() < until)
        tcl_sleep_ms(10);
    CHECK(zoo_state(zh) == ZOO_CONNECTED_STATE, "no connection to %s within 15 s (state %d)", hosts,
          zoo_state(zh));
    return zh;
}

/* Another session on another node sees a write once that node applied it (ZooKeeper gives no
 * cross-session guarantee without sync): wait (bounded) until path exists for zh. */
static void wait_visible(zhandle_t *zh, const char *path)
{
    struct Stat st;
    int rc = ZNONODE;
    for (uint64_t until = tcl_now_ms() + 10000; tcl_now_ms() < until;) {
        if ((rc = zoo_exists(zh, path, 0, &st)) != ZNONODE)
            break;
        tcl_sleep_ms(20);
    }
    CHECK(rc == ZOK, "%s not visible to another session within 10 s (rc %d)", path, rc);
}

static void hosts_of(char *buf, size_t cap, int a, int b)
{
    if (b)
        snprintf(buf, cap, "127.0.0.1:%u,127.0.0.1:%u", zkports[a], zkports[b]);
    else
        snprintf(buf, cap, "127.0.0.1:%u", zkports[a]);
}

static void basic_ops(zhandle_t *zh)
{
    char out[256];
    struct Stat st;
    CHECK_RC(zoo_create(zh, "/zp", "root", 4, &ZOO_OPEN_ACL_UNSAFE, 0, out, sizeof(out)), ZOK);
    CHECK(!strcmp(out, "/zp"), "create returned %s", out);
    CHECK_RC(zoo_create(zh, "/zp", "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNODEEXISTS);
    CHECK_RC(zoo_create(zh, "/zp/none/child", "x", 1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZNONODE);
    CHECK_RC(zoo_create(zh, "/zp/s-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, out, sizeof(out)),
             ZOK);
    CHECK(!strcmp(out, "/zp/s-0000000000"), "first sequential: %s", out);
    CHECK_RC(zoo_create(zh, "/zp/s-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_SEQUENCE, out, sizeof(out)),
             ZOK);
    CHECK(!strcmp(out, "/zp/s-0000000001"), "second sequential: %s", out);
    CHECK_RC(zoo_create(zh, "/zp/e", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0), ZOK);
    CHECK_RC(zoo_create(zh, "/zp/e/c", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0),
             ZNOCHILDRENFOREPHEMERALS);
    CHECK_RC(zoo_create(zh, "/zp/es-", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL | ZOO_SEQUENCE,
                        out, sizeof(out)),
             ZOK);
    CHECK(!strncmp(out, "/zp/es-", 7) && strlen(out) == 17, "ephemeral sequential: %s", out);
    CHECK_RC(zoo_create2(zh, "/zp/cont", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_CONTAINER, out,
                         sizeof(out), &st),
             ZOK);
    /* ZooKeeper 3.8 shows ephemeralOwner 0 for a container (conformance transcript against
     * Apache ZooKeeper, docs/compatibility.md); Long.MIN_VALUE stays inside the server. */
    CHECK(st.czxid > 0 && st.ephemeralOwner == 0, "container stat czxid %lld owner %llx",
          (long long)st.czxid, (unsigned long long)st.ephemeralOwner);
    CHECK_RC(zoo_create2_ttl(zh, "/zp/ttl", "t", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT_WITH_TTL,
                             60000, out, sizeof(out), &st),
             ZOK);
    /* get / set / exists */
    char buf[64];
    int len = sizeof(buf);
    CHECK_RC(zoo_get(zh, "/zp", 0, buf, &len, &st), ZOK);
    CHECK(len == 4 && !memcmp(buf, "root", 4) && st.version == 0, "get /zp: %.*s v%d", len, buf,
          st.version);
    CHECK_RC(zoo_set(zh, "/zp", "v1", 2, 5), ZBADVERSION);
    CHECK_RC(zoo_set2(zh, "/zp", "v1", 2, 0, &st), ZOK);
    CHECK(st.version == 1 && st.dataLength == 2 && st.mzxid > st.czxid, "set stat v%d len %d",
          st.version, st.dataLength);
    CHECK_RC(zoo_exists(zh, "/zp/nothing", 0, &st), ZNONODE);
    CHECK_RC(zoo_exists(zh, "/zp", 0, &st), ZOK);
    CHECK(st.numChildren == 6, "numChildren %d", st.numChildren);
    struct String_vector kids;
    CHECK_RC(zoo_get_children(zh, "/zp", 0, &kids), ZOK);
    CHECK(kids.count == 6, "getChildren count %d", kids.count);
    deallocate_String_vector(&kids);
    CHECK_RC(zoo_get_children2(zh, "/zp", 0, &kids, &st), ZOK);
    CHECK(kids.count == 6 && st.cversion == 6, "getChildren2 %d cversion %d", kids.count,
          st.cversion);
    deallocate_String_vector(&kids);
    CHECK_RC(zoo_delete(zh, "/zp", -1), ZNOTEMPTY);
    CHECK_RC(zoo_delete(zh, "/zp/nothing", -1), ZNONODE);
    CHECK_RC(zoo_delete(zh, "/zp/s-0000000000", 3), ZBADVERSION);
    CHECK_RC(zoo_delete(zh, "/zp/s-0000000000", 0), ZOK);
    /* ACLs */
    struct ACL_vector acl;
    CHECK_RC(zoo_get_acl(zh, "/zp", &acl, &st), ZOK);
    CHECK(acl.count == 1 && acl.data[0].perms == ZOO_PERM_ALL &&
              !strcmp(acl.data[0].id.scheme, "world"),
          "getACL count %d", acl.count);
    deallocate_ACL_vector(&acl);
    struct ACL read_only[] = {{ZOO_PERM_READ, {"world", "anyone"}}};
    struct ACL_vector ro = {1, read_only};
    CHECK_RC(zoo_set_acl(zh, "/zp/ttl", 7, &ro), ZBADVERSION);
    CHECK_RC(zoo_set_acl(zh, "/zp/ttl", 0, &ro), ZOK);
    CHECK_RC(zoo_get_acl(zh, "/zp/ttl", &acl, &st), ZOK);
    CHECK(acl.count == 1 && acl.data[0].perms == ZOO_PERM_READ && st.aversion == 1,
          "after setACL perms %d aversion %d", acl.count ? acl.data[0].perms : -1, st.aversion);
    deallocate_ACL_vector(&acl);
    CHECK_RC(zoo_set(zh, "/zp/ttl", "w", 1, -1), ZNOAUTH);
    /* multi: success, then a failure that applies nothing */
    zoo_op_t ops[3];
    zoo_op_result_t res[3];
    char p0[64], p1[64];
    zoo_create_op_init(&ops[0], "/zp/m1", "a", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p0, sizeof(p0));
    zoo_set_op_init(&ops[1], "/zp", "v2", 2, 1, NULL);
    zoo_check_op_init(&ops[2], "/zp", 2);
    CHECK_RC(zoo_multi(zh, 3, ops, res), ZOK);
    CHECK(res[0].err == ZOK && res[1].err == ZOK && res[2].err == ZOK, "multi results %d %d %d",
          res[0].err, res[1].err, res[2].err);
    zoo_create_op_init(&ops[0], "/zp/m2", "a", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p0, sizeof(p0));
    zoo_create_op_init(&ops[1], "/zp/m1", "a", 1, &ZOO_OPEN_ACL_UNSAFE, 0, p1, sizeof(p1));
    zoo_check_op_init(&ops[2], "/zp", 2);
    CHECK_RC(zoo_multi(zh, 3, ops, res), ZNODEEXISTS);
    /* ZooKeeper (DataTree.processTxn): ops before the failure report 0 (rolled back), the
     * failing op its code, ops after it RuntimeInconsistency. */
    CHECK(res[0].err == ZOK && res[1].err == ZNODEEXISTS && res[2].err == ZRUNTIMEINCONSISTENCY,
          "failed multi results %d %d %d", res[0].err, res[1].err, res[2].err);
    CHECK_RC(zoo_exists(zh, "/zp/m2", 0, &st), ZNONODE);
    zoo_check_op_init(&ops[0], "/zp", 9);
    CHECK_RC(zoo_multi(zh, 1, ops, res), ZBADVERSION);
    STEP("zkport_e2e: basic operations, error codes, ACLs and multi: ok\n");
}

static volatile int sync_done;
static void sync_cb(int rc, const char *value, const void *data)
{
    (void)value;
    (void)data;
    sync_done = rc == ZOK ? 1 : -1;
}

/* ---- raw jute frames ------------------------------------------------------------------------ */

static int raw_socket_buf(uint16_t port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    /* Before connect: a fixed receive window (no autotuning), so that what the kernel holds
     * for a client that does not read is bounded whatever tcp_rmem allows. */
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect to %u: %s",
          port, strerror(errno));
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static int raw_socket(uint16_t port)
{
    return raw_socket_buf(port, 0);
}

static void raw_send(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        CHECK(w > 0, "send: %s", strerror(errno));
        b += w;
        n -= (size_t)w;
    }
}

static void raw_frame(int fd, const uint8_t *body, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    raw_send(fd, len, 4);
    raw_send(fd, body, n);
}

/* One frame's payload into buf; returns its length, -1 on EOF/error/timeout. */
static long raw_read(int fd, uint8_t *buf, size_t cap)
{
    uint8_t h[4];
    size_t got = 0;
    while (got < 4) {
        ssize_t k = recv(fd, h + got, 4 - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (n > cap)
        return -1;
    got = 0;
    while (got < n) {
        ssize_t k = recv(fd, buf + got, n - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return (long)n;
}

static int32_t be32(const uint8_t *p)
{
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)(uint32_t)be32(p) << 32 | (uint32_t)be32(p + 4));
}

/* Handshake on a new connection; *sid, passwd out. with_ro: the 45-byte form. Returns the
 * response length (36 or 37) and the negotiated timeout in *timeout. */
static long raw_connect(int fd, int64_t sid_in, const uint8_t *pw_in, bool with_ro, int64_t *sid,
                        uint8_t *pw, int32_t *timeout)
{
    uint8_t b[64];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, b, sizeof(b));
    zn_jute_put_int(&w, 0);
    zn_jute_put_long(&w, 0);
    zn_jute_put_int(&w, 2000);
    zn_jute_put_long(&w, sid_in);
    uint8_t zero[16] = {0};
    zn_jute_put_buffer(&w, zn_bytes_make(pw_in ? pw_in : zero, 16));
    if (with_ro)
        zn_jute_put_bool(&w, false);
    raw_frame(fd, b, w.len);
    uint8_t r[64];
    long n = raw_read(fd, r, sizeof(r));
    CHECK(n >= 36, "ConnectResponse of %ld bytes", n);
    *timeout = be32(r + 4);
    *sid = be64(r + 8);
    memcpy(pw, r + 20, 16);
    return n;
}

/* Send RequestHeader{xid, type} + body, read the reply to that xid (skipping watch events into
 * *events when not NULL). Returns the reply's err; body after the header in out/out_len. */
static int raw_call(int fd, int32_t xid, int32_t type, const uint8_t *body, size_t blen,
                    uint8_t *out, long *out_len, int *events)
{
    static uint8_t req[1 << 16];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, req, sizeof(req));
    zn_jute_put_int(&w, xid);
    zn_jute_put_int(&w, type);
    zn_jute_put_raw(&w, body, blen);
    raw_frame(fd, req, w.len);
    static uint8_t r[1 << 20];
    for (int guard = 0; guard < 64; guard++) {
        long n = raw_read(fd, r, sizeof(r));
        CHECK(n >= 16, "reply to xid %d (type %d): connection lost (%ld)", xid, type, n);
        if (be32(r) == -1) {
            if (events)
                (*events)++;
            continue;
        }
        CHECK(be32(r) == xid, "reply xid %d, want %d", be32(r), xid);
        if (out) {
            memcpy(out, r + 16, (size_t)(n - 16));
            *out_len = n - 16;
        }
        return be32(r + 12);
    }
    tcl_fail("no reply to xid %d", xid);
}

static size_t put_path(uint8_t *b, const char *path)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, b, 512);
    zn_jute_put_string(&w, path);
    return w.len;
}

static void raw_checks(void)
{
    int fd = raw_socket(zkports[1]);
    int64_t sid;
    uint8_t pw[16];
    int32_t to;
    long n = raw_connect(fd, 0, NULL, false, &sid, pw, &to);
    CHECK(n == 36 && sid != 0 && to >= 2000, "44-byte connect: %ld-byte response, sid %llx", n,
          (unsigned long long)sid);
    uint8_t b[4096], out[65536];
    long olen;
    /* create an ephemeral through a raw create (flags 1) */
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, b, sizeof(b));
    zn_jute_put_string(&w, "/zp/raw-e");
    zn_jute_put_buffer(&w, zn_bytes_make("d", 1));
    zn_jute_put_int(&w, 1);
    zn_jute_put_int(&w, 31);
    zn_jute_put_string(&w, "world");
    zn_jute_put_string(&w, "anyone");
    zn_jute_put_int(&w, 1);
    CHECK(raw_call(fd, 1, 1, b, w.len, out, &olen, NULL) == 0, "raw create ephemeral");
    /* getEphemerals (103) with prefix "/zp" */
    size_t pl = put_path(b, "/zp");
    CHECK(raw_call(fd, 2, 103, b, pl, out, &olen, NULL) == 0 && olen >= 4 && be32(out) == 1,
          "getEphemerals: %d", olen >= 4 ? be32(out) : -1);
    /* getAllChildrenNumber (104) of /zp */
    CHECK(raw_call(fd, 3, 104, b, pl, out, &olen, NULL) == 0 && olen == 4, "getAllChildrenNumber");
    int32_t all = be32(out);
    CHECK(all >= 7, "getAllChildrenNumber(/zp) = %d", all);
    /* multiRead (22): getData /zp, getChildren /zp/nothing (fails: NoNode in its slot) */
    zn_jute_writer_init(&w, b, sizeof(b));
    zn_jute_put_int(&w, 4); /* getData */
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    zn_jute_put_string(&w, "/zp");
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, 8); /* getChildren */
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    zn_jute_put_string(&w, "/zp/nothing");
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    zn_jute_put_bool(&w, true);
    zn_jute_put_int(&w, -1);
    CHECK(raw_call(fd, 4, 22, b, w.len, out, &olen, NULL) == 0, "multiRead header err");
    CHECK(olen > 9 && be32(out) == 4 && out[4] == 0 && be32(out + 5) == 0, "multiRead op 1");
    /* second result: MultiHeader{-1, false, -101} + ErrorResponse{-101} after the first */
    int32_t dlen = be32(out + 9);
    const uint8_t *second = out + 9 + 4 + dlen + 68;
    CHECK(second + 13 <= out + olen && be32(second) == -1 && be32(second + 5) == -101,
          "multiRead op 2: type %d err %d", be32(second), be32(second + 5));
    /* whoAmI (107) */
    CHECK(raw_call(fd, 5, 107, NULL, 0, out, &olen, NULL) == 0 && olen > 8 && be32(out) == 1,
          "whoAmI");
    /* addWatch (106) persistent recursive on /zp, then a change below it fires */
    zn_jute_writer_init(&w, b, sizeof(b));
    zn_jute_put_string(&w, "/zp");
    zn_jute_put_int(&w, 1);
    CHECK(raw_call(fd, 6, 106, b, w.len, out, &olen, NULL) == 0, "addWatch");
    zn_jute_writer_init(&w, b, sizeof(b));
    zn_jute_put_string(&w, "/zp/raw-p");
    zn_jute_put_buffer(&w, zn_bytes_make("d", 1));
    zn_jute_put_int(&w, 1);
    zn_jute_put_int(&w, 31);
    zn_jute_put_string(&w, "world");
    zn_jute_put_string(&w, "anyone");
    zn_jute_put_int(&w, 0);
    int events = 0;
    CHECK(raw_call(fd, 7, 1, b, w.len, out, &olen, &events) == 0, "create under a recursive watch");
    CHECK(events == 1, "recursive watch: %d events before the create reply", events);
    /* an oversized setData: an error reply, and the connection stays usable */
    size_t big = 1100 * 1024;
    uint8_t *huge = calloc(1, big + 64);
    CHECK(huge != NULL, "calloc");
    zn_jute_writer_init(&w, huge, big + 64);
    zn_jute_put_int(&w, 8);
    zn_jute_put_int(&w, 5);
    zn_jute_put_string(&w, "/zp");
    zn_jute_put_int(&w, (int32_t)big);
    w.len += big;
    zn_jute_put_int(&w, -1);
    raw_frame(fd, huge, w.len);
    free(huge);
    n = raw_read(fd, out, sizeof(out));
    CHECK(n >= 16 && be32(out) == 8 && be32(out + 12) == ZBADARGUMENTS,
          "oversized setData: reply xid %d err %d", n >= 16 ? be32(out) : 0,
          n >= 16 ? be32(out + 12) : 0);
    pl = put_path(b, "/zp");
    b[pl] = 0;
    CHECK(raw_call(fd, 9, 3, b, pl + 1, out, &olen, NULL) == 0, "exists after an oversized frame");
    /* closeSession (-11): the reply, then the server closes; the ephemeral is gone */
    CHECK(raw_call(fd, 10, -11, NULL, 0, out, &olen, NULL) == 0, "closeSession");
    CHECK(raw_read(fd, out, sizeof(out)) < 0, "connection open after closeSession");
    close(fd);
    STEP("zkport_e2e: raw frames (44-byte connect, getEphemerals, getAllChildrenNumber = %d, "
         "multiRead, whoAmI, addWatch, oversized request, closeSession): ok\n",
         all);
}

/* A session that stops pinging expires; its ephemeral goes; a reconnect is refused. */
static void expiry_check(zhandle_t *observer)
{
    int fd = raw_socket(zkports[2]);
    int64_t sid;
    uint8_t pw[16];
    int32_t to;
    raw_connect(fd, 0, NULL, true, &sid, pw, &to);
    uint8_t b[512], out[4096];
    long olen;
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, b, sizeof(b));
    zn_jute_put_string(&w, "/zp/expiring");
    zn_jute_put_buffer(&w, zn_bytes_make("d", 1));
    zn_jute_put_int(&w, 1);
    zn_jute_put_int(&w, 31);
    zn_jute_put_string(&w, "world");
    zn_jute_put_string(&w, "anyone");
    zn_jute_put_int(&w, 1);
    CHECK(raw_call(fd, 1, 1, b, w.len, out, &olen, NULL) == 0, "create the expiring ephemeral");
    uint64_t t0 = tcl_now_ms(), until = t0 + 30000;
    struct Stat st;
    int rc = ZOK;
    while (tcl_now_ms() < until && (rc = zoo_exists(observer, "/zp/expiring", 0, &st)) == ZOK)
        tcl_sleep_ms(100);
    CHECK(rc == ZNONODE, "ephemeral of a silent session still there after 30 s (rc %d)", rc);
    STEP("zkport_e2e: silent session (timeout %d ms) expired, ephemeral gone after %llu ms\n", to,
         (unsigned long long)(tcl_now_ms() - t0));
    close(fd);
    fd = raw_socket(zkports[3]);
    int64_t sid2;
    uint8_t pw2[16];
    int32_t to2;
    raw_connect(fd, sid, pw, true, &sid2, pw2, &to2);
    CHECK(to2 == 0, "reconnect of an expired session: timeout %d, want 0", to2);
    close(fd);
}

static void flw_checks(void)
{
    static const char *const words[] = {"ruok", "srvr", "stat", "mntr", "conf",
                                        "cons", "wchs", "isro", "dirs"};
    static const char *const want[] = {
        "imok",   "Mode: ",         "Clients:", "zk_server_state",     "serverId=",
        "sid=0x", "Total watches:", "rw",       "not in the whitelist"};
    for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        int fd = raw_socket(zkports[1]);
        raw_send(fd, words[i], 4);
        char text[16384];
        size_t got = 0;
        for (;;) {
            ssize_t k = recv(fd, text + got, sizeof(text) - 1 - got, 0);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        text[got] = 0;
        close(fd);
        CHECK(strstr(text, want[i]) != NULL, "%s: no \"%s\" in:\n%s", words[i], want[i], text);
        CHECK(!strstr(text, "passwd") && !strstr(text, "digest"), "%s leaks a secret:\n%s",
              words[i], text);
    }
    STEP("zkport_e2e: four-letter words (8 allowed, dirs refused by the allow-list): ok\n");
}

static void limit_checks(int leader)
{
    char lh[32];
    hosts_of(lh, sizeof(lh), leader, 0);
    zhandle_t *zh = zk_open(lh, 10000, NULL, NULL);
    /* Connections per address: conn_per_ip_max = 24 on every node. */
    int fds[32];
    int open_n = 0;
    for (int i = 0; i < 26; i++)
        fds[open_n++] = raw_socket(zkports[3]);
    /* The port closes the connections over the limit at once; wait (bounded) for 2 EOFs. */
    int refused = 0;
    bool eof[32] = {false};
    for (uint64_t until = tcl_now_ms() + 15000; refused < 2 && tcl_now_ms() < until;) {
        for (int i = 0; i < open_n; i++) {
            struct pollfd p = {fds[i], POLLIN, 0};
            char c;
            if (!eof[i] && poll(&p, 1, 0) == 1 && recv(fds[i], &c, 1, MSG_DONTWAIT) == 0) {
                eof[i] = true;
                refused++;
            }
        }
        if (refused < 2)
            tcl_sleep_ms(20);
    }
    for (int i = 0; i < open_n; i++)
        close(fds[i]);
    CHECK(refused >= 2, "connections over conn_per_ip_max: %d refused, want >= 2", refused);
    /* A client that does not read: 250 getData of a 64 KiB node (16 MiB of replies), never
     * read. The node is written through the leader: one large forward less. */
    static char data[64 * 1024];
    memset(data, 'x', sizeof(data));
    CHECK_RC(zoo_create(zh, "/zp/big", data, sizeof(data), &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    char other[] = "127.0.0.1:00000";
    snprintf(other, sizeof(other), "127.0.0.1:%u", zkports[3]);
    zhandle_t *zh3 = zk_open(other, 4000, NULL, NULL);
    wait_visible(zh3, "/zp/big"); /* node 3 has it: the reads below find it */
    int fd = raw_socket_buf(zkports[3], 256 * 1024);
    int64_t sid;
    uint8_t pw[16];
    int32_t to;
    raw_connect(fd, 0, NULL, true, &sid, pw, &to);
    uint8_t b[256];
    for (int i = 0; i < 250; i++) {
        struct zn_jute_writer w;
        zn_jute_writer_init(&w, b, sizeof(b));
        zn_jute_put_int(&w, i + 1);
        zn_jute_put_int(&w, 4);
        zn_jute_put_string(&w, "/zp/big");
        zn_jute_put_bool(&w, false);
        raw_frame(fd, b, w.len);
    }
    /* The node keeps serving everyone else meanwhile. */
    struct Stat st;
    CHECK_RC(zoo_exists(zh3, "/zp/big", 0, &st), ZOK);
    zookeeper_close(zh3);
    /* The port logs when it cuts a client off: wait for that (the replies are produced at the
     * node's pace; draining earlier would let them all through). */
    char logpath[128], line[512];
    snprintf(logpath, sizeof(logpath), "%s/n3.log", tcl_base);
    bool cut = false;
    for (uint64_t until = tcl_now_ms() + 30000; !cut && tcl_now_ms() < until;) {
        FILE *lf = fopen(logpath, "r");
        while (lf && !cut && fgets(line, sizeof(line), lf))
            cut = strstr(line, "does not read its replies") != NULL;
        if (lf)
            fclose(lf);
        if (!cut)
            tcl_sleep_ms(50);
    }
    CHECK(cut, "node 3 never cut off the client that does not read (30 s)");
    /* Now drain: the connection ends before all replies arrived. */
    static uint8_t sink[1 << 20];
    int replies = 0;
    for (;;) {
        long n = raw_read(fd, sink, sizeof(sink));
        if (n < 0)
            break;
        replies++;
    }
    close(fd);
    CHECK(replies < 250, "a client that did not read got all %d replies", replies);
    zookeeper_close(zh);
    STEP("zkport_e2e: limits: %d connections over the per-address limit refused; a client "
         "not reading was cut off after %d of 250 large replies\n",
         refused, replies);
}

static void zkcli_checks(const char *zkcli)
{
    if (!zkcli || access(zkcli, X_OK) != 0) {
        STEP("zkport_e2e: zkCli not installed: skipped its checks\n");
        return;
    }
    char cmd[512], line[512];
    const char *steps[][2] = {
        {"create /zp/cli hello", "Created /zp/cli"},
        {"get /zp/cli", "hello"},
        {"ls /zp", "cli"},
    };
    for (unsigned i = 0; i < 3; i++) {
        snprintf(cmd, sizeof(cmd), "timeout 60 %s -server 127.0.0.1:%u %s 2>&1", zkcli, zkports[2],
                 steps[i][0]);
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL, "popen zkCli");
        bool found = false;
        while (fgets(line, sizeof(line), p))
            if (strstr(line, steps[i][1]))
                found = true;
        pclose(p);
        CHECK(found, "zkCli %s: no \"%s\" in its output", steps[i][0], steps[i][1]);
    }
    STEP("zkport_e2e: zkCli batch mode (create, get, ls): ok\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: zkport_e2e ZINCD [ZKCLI]\n");
        return 2;
    }
    t_start = tcl_now_ms();
    setvbuf(stdout, NULL, _IOLBF, 0);
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    signal(SIGPIPE, SIG_IGN);
    if (tcl_setup("zkport_e2e", argv[1], "/tmp/zn-zkport-XXXXXX", 170) != 0)
        return 1;
    unsigned first = 24000 + (unsigned)(getpid() % 1500) * 6;
    for (int i = 1; i <= TCL_NODES; i++) {
        tcl_ports[i] = (uint16_t)(first + (unsigned)i);
        zkports[i] = (uint16_t)(first + 3 + (unsigned)i);
    }
    for (int i = 1; i <= TCL_NODES; i++)
        write_config(i);
    for (int i = 1; i <= TCL_NODES; i++)
        tcl_start_node(i);
    int leader = tcl_wait_leader(0, 20000);
    CHECK(leader != 0, "no leader within 20 s");
    int f1 = leader == 1 ? 2 : 1, f2 = leader == 3 ? 2 : 3;
    if (f2 == f1)
        f2 = 6 - leader - f1;
    STEP("zkport_e2e: leader %d; ZooKeeper ports %u %u %u\n", leader, zkports[1], zkports[2],
         zkports[3]);

    char hosts[128];
    struct watch_log wa = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct watch_log wb = {.lock = PTHREAD_MUTEX_INITIALIZER};
    hosts_of(hosts, sizeof(hosts), 1, 0);
    zhandle_t *a = zk_open(hosts, 4000, &wa, NULL);
    basic_ops(a);
    sync_done = 0;
    CHECK_RC(zoo_async(a, "/zp", sync_cb, NULL), ZOK);
    uint64_t until = tcl_now_ms() + 10000;
    while (!sync_done && tcl_now_ms() < until)
        tcl_sleep_ms(5);
    CHECK(sync_done == 1, "sync: %d", sync_done);

    /* Watches across sessions and nodes. */
    hosts_of(hosts, sizeof(hosts), 2, 0);
    zhandle_t *b = zk_open(hosts, 4000, &wb, NULL);
    char buf[64];
    int len = sizeof(buf);
    struct Stat st;
    struct String_vector kids;
    CHECK_RC(zoo_get(b, "/zp", 1, buf, &len, &st), ZOK);
    CHECK_RC(zoo_get_children(b, "/zp", 1, &kids), ZOK);
    deallocate_String_vector(&kids);
    CHECK_RC(zoo_exists(b, "/zp/later", 1, &st), ZNONODE);
    CHECK_RC(zoo_set(a, "/zp", "w", 1, -1), ZOK);
    CHECK(wait_event(&wb, ZOO_CHANGED_EVENT, "/zp", 10000), "no NodeDataChanged on /zp");
    CHECK_RC(zoo_create(a, "/zp/later", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    CHECK(wait_event(&wb, ZOO_CREATED_EVENT, "/zp/later", 10000), "no NodeCreated on /zp/later");
    CHECK(wait_event(&wb, ZOO_CHILD_EVENT, "/zp", 10000), "no NodeChildrenChanged on /zp");
    /* removeWatches (18): a data watch removed on the server fires DataWatchRemoved; a second
     * removal finds no watch. */
    len = sizeof(buf);
    CHECK_RC(zoo_wget(b, "/zp/later", watcher, &wb, buf, &len, &st), ZOK);
    CHECK_RC(zoo_remove_watches(b, "/zp/later", ZWATCHTYPE_DATA, watcher, &wb, 0), ZOK);
    CHECK_RC(zoo_remove_watches(b, "/zp/later", ZWATCHTYPE_DATA, watcher, &wb, 0), ZNOWATCHER);
    STEP("zkport_e2e: data, exists and child watches across nodes, removeWatches: ok\n");

    /* A client on follower f1 moves to follower f2 when f1 stops: same session, and its
     * watch re-armed by setWatches fires for a change made while it was away. */
    struct watch_log wm = {.lock = PTHREAD_MUTEX_INITIALIZER};
    zoo_deterministic_conn_order(1);
    hosts_of(hosts, sizeof(hosts), f1, f2);
    zhandle_t *m = zk_open(hosts, 4000, &wm, NULL);
    int64_t sid_before = zoo_client_id(m)->client_id;
    CHECK_RC(zoo_create(m, "/zp/moving", "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, NULL, 0), ZOK);
    wait_visible(m, "/zp/later");
    len = sizeof(buf);
    CHECK_RC(zoo_get(m, "/zp/later", 1, buf, &len, &st), ZOK);
    hosts_of(hosts, sizeof(hosts), leader, 0);
    zhandle_t *changer = zk_open(hosts, 4000, NULL, NULL);
    wait_visible(changer, "/zp/later");
    kill(tcl_pids[f1], SIGSTOP);
    stopped_node = f1;
    uint64_t t0 = tcl_now_ms();
    /* Changed while the client is cut off from its node (before it can reconnect). */
    CHECK_RC(zoo_set(changer, "/zp/later", "changed", 7, -1), ZOK);
    char want_server[32];
    snprintf(want_server, sizeof(want_server), "127.0.0.1:%u", zkports[f2]);
    until = t0 + 30000;
    bool moved = false;
    while (!moved && tcl_now_ms() < until) {
        const char *cur = zoo_get_current_server(m);
        moved = zoo_state(m) == ZOO_CONNECTED_STATE && cur && strstr(cur, want_server);
        if (!moved)
            tcl_sleep_ms(10);
    }
    const char *cur = zoo_get_current_server(m);
    CHECK(moved, "client did not reconnect to node %d within 30 s (state %d, server %s)", f2,
          zoo_state(m), cur ? cur : "none");
    CHECK(zoo_client_id(m)->client_id == sid_before, "session changed across the move");
    CHECK(wait_event(&wm, ZOO_CHANGED_EVENT, "/zp/later", 10000),
          "re-armed watch did not fire for the change made while away");
    CHECK_RC(zoo_set(m, "/zp/later", "from-f2", 7, -1), ZOK);
    wait_visible(changer, "/zp/moving");
    CHECK_RC(zoo_exists(changer, "/zp/moving", 0, &st), ZOK);
    CHECK(st.ephemeralOwner == sid_before, "ephemeral owner changed");
    STEP("zkport_e2e: moved from node %d to node %d in %llu ms, same session, setWatches "
         "re-armed and fired: ok\n",
         f1, f2, (unsigned long long)(tcl_now_ms() - t0));
    kill(tcl_pids[f1], SIGCONT);
    stopped_node = 0;
    zookeeper_close(m);
    /* zookeeper_close does not always wait for the closeSession reply: poll (bounded). */
    int gone = ZOK;
    for (uint64_t u = tcl_now_ms() + 10000; tcl_now_ms() < u;) {
        if ((gone = zoo_exists(changer, "/zp/moving", 0, &st)) == ZNONODE)
            break;
        tcl_sleep_ms(20);
    }
    CHECK(gone == ZNONODE, "ephemeral of a closed session still there after 10 s (rc %d)", gone);
    zookeeper_close(changer);
    STEP("zkport_e2e: ephemeral removed at closeSession: ok\n");

    /* addAuth digest: a node whose ACL grants only the creator's digest identity (the auth
     * scheme) is readable by sessions that authenticated as that user, on any node, and
     * refused (NoAuth) to others; an unknown scheme fails the authentication. */
    hosts_of(hosts, sizeof(hosts), 3, 0);
    struct watch_log wx = {.lock = PTHREAD_MUTEX_INITIALIZER};
    zhandle_t *x = zk_open(hosts, 4000, &wx, NULL);
    CHECK_RC(zoo_add_auth(x, "digest", "alice:secret", 12, NULL, NULL), ZOK);
    CHECK_RC(zoo_create(x, "/zp/private", "p", 1, &ZOO_CREATOR_ALL_ACL, 0, NULL, 0), ZOK);
    len = sizeof(buf);
    CHECK_RC(zoo_get(x, "/zp/private", 0, buf, &len, &st), ZOK);
    struct ACL_vector pacl;
    CHECK_RC(zoo_get_acl(x, "/zp/private", &pacl, &st), ZOK);
    CHECK(pacl.count == 1 && !strcmp(pacl.data[0].id.scheme, "digest") &&
              !strncmp(pacl.data[0].id.id, "alice:", 6),
          "ACL of /zp/private: %s:%s", pacl.count ? pacl.data[0].id.scheme : "-",
          pacl.count ? pacl.data[0].id.id : "-");
    deallocate_ACL_vector(&pacl);
    wait_visible(b, "/zp/private"); /* exists needs no READ permission */
    len = sizeof(buf);
    CHECK_RC(zoo_get(b, "/zp/private", 0, buf, &len, &st), ZNOAUTH);
    CHECK_RC(zoo_set(b, "/zp/private", "q", 1, -1), ZNOAUTH);
    hosts_of(hosts, sizeof(hosts), 1, 0);
    zhandle_t *y = zk_open(hosts, 4000, NULL, NULL);
    CHECK_RC(zoo_add_auth(y, "digest", "alice:wrong", 11, NULL, NULL), ZOK);
    wait_visible(y, "/zp/private");
    len = sizeof(buf);
    CHECK_RC(zoo_get(y, "/zp/private", 0, buf, &len, &st), ZNOAUTH);
    CHECK_RC(zoo_add_auth(y, "digest", "alice:secret", 12, NULL, NULL), ZOK);
    len = sizeof(buf);
    CHECK_RC(zoo_get(y, "/zp/private", 0, buf, &len, &st), ZOK);
    CHECK_RC(zoo_set(y, "/zp/private", "q", 1, -1), ZOK); /* a write forwarded with its ids */
    zookeeper_close(y);
    zoo_add_auth(x, "nosuchscheme", "z", 1, NULL, NULL);
    until = tcl_now_ms() + 10000;
    while (atomic_load(&wx.state) != ZOO_AUTH_FAILED_STATE && tcl_now_ms() < until)
        tcl_sleep_ms(10);
    CHECK(atomic_load(&wx.state) == ZOO_AUTH_FAILED_STATE, "unknown scheme: state %d",
          atomic_load(&wx.state));
    zookeeper_close(x);
    STEP("zkport_e2e: addAuth digest, creator ACL, NoAuth for others, unknown scheme fails: ok\n");

    /* A chroot suffix in the connect string is the client's business: the server sees full
     * paths. */
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%u/zp", zkports[2]);
    zhandle_t *ch = zk_open(hosts, 4000, NULL, NULL);
    len = sizeof(buf);
    CHECK_RC(zoo_get(ch, "/later", 0, buf, &len, &st), ZOK);
    CHECK(len == 7 && !memcmp(buf, "from-f2", 7), "chroot get /later: %.*s", len, buf);
    CHECK_RC(zoo_create(ch, "/rooted", "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    CHECK_RC(zoo_exists(b, "/zp/rooted", 0, &st), ZOK); /* b is on the same node */
    zookeeper_close(ch);
    STEP("zkport_e2e: chroot in the connect string (client side): ok\n");

    raw_checks();
    flw_checks();
    limit_checks(leader);
    expiry_check(b);
    zkcli_checks(argc == 3 ? argv[2] : NULL);
    zookeeper_close(a);
    zookeeper_close(b);
    STEP("zkport_e2e: PASS (%d checks)\n", tcl_checks);
    return 0;
}
