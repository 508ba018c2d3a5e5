/*
 * zp_target_zk.c - the ZooKeeper target: any ZooKeeper-protocol server through libzookeeper-mt.
 *
 * libzookeeper-mt runs an I/O thread and a completion thread per handle and calls completions
 * and watchers on the completion thread. Each completion is stamped there (the earliest point
 * the client sees the reply) and appended to the client's completion queue (zp_cq.h, threaded);
 * poll() runs the harness callbacks from it on the engine thread. The hand-off therefore costs
 * throughput in a closed loop (one thread wake-up) but never latency.
 *
 * Invariants: each accepted request has one heap context freed exactly once, in its completion;
 * libzookeeper calls every completion exactly once, with ZCLOSING/ZCONNECTIONLOSS if the handle
 * closes first, so outstanding requests are never leaked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zookeeper/zookeeper.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_cq.h"
#include "perf/zinc-perf/zp_target.h"

struct zp_client {
    struct zp_cq cq; /* threaded: the completion threads push, the engine polls */
    unsigned conns;
};

struct zp_conn {
    struct zp_client *client;
    zhandle_t *zh;
    zp_event_fn on_event;
    void *event_arg;
    /* connection state, written by the completion thread, read by connect() */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int state;
};

/* One accepted request. */
struct zk_req {
    struct zp_client *client;
    zp_done_fn done;
    void *arg;
    uint32_t multi_n;
    zoo_op_result_t results[]; /* multi only */
};

static uint64_t now_ns(void)
{
    return zn_clock_raw_monotonic_ns(NULL);
}

static int zk_err(int rc)
{
    if (rc == ZOK) {
        return 0;
    }
    if (rc == ZCLOSING || rc == ZINVALIDSTATE) {
        return ZN_ECONNLOSS;
    }
    return zn_err_from_zk(rc);
}

static void req_finish(struct zk_req *req, int rc, uint32_t count, uint64_t at)
{
    struct zp_result res = {.done_ns = at, .err = zk_err(rc), .native_rc = rc, .count = count};
    zp_cq_push_done(&req->client->cq, req->done, req->arg, &res);
    free(req);
}

static void on_string(int rc, const char *value, const void *data)
{
    uint64_t at = now_ns();
    (void)value;
    req_finish((struct zk_req *)data, rc, 0, at);
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
    uint64_t at = now_ns();
    (void)stat;
    req_finish((struct zk_req *)data, rc, 0, at);
}

static void on_data(int rc, const char *value, int value_len, const struct Stat *stat,
                    const void *data)
{
    uint64_t at = now_ns();
    (void)value;
    (void)stat;
    req_finish((struct zk_req *)data, rc, value_len > 0 ? (uint32_t)value_len : 0, at);
}

static void on_void(int rc, const void *data)
{
    uint64_t at = now_ns();
    req_finish((struct zk_req *)data, rc, 0, at);
}

static void on_strings(int rc, const struct String_vector *strings, const void *data)
{
    uint64_t at = now_ns();
    uint32_t n =
        (rc == ZOK && strings != NULL && strings->count > 0) ? (uint32_t)strings->count : 0;
    req_finish((struct zk_req *)data, rc, n, at);
}

static enum zp_event_type event_type(int type, int state)
{
    if (type == ZOO_CREATED_EVENT) {
        return ZP_EV_CREATED;
    }
    if (type == ZOO_DELETED_EVENT) {
        return ZP_EV_DELETED;
    }
    if (type == ZOO_CHANGED_EVENT) {
        return ZP_EV_CHANGED;
    }
    if (type == ZOO_CHILD_EVENT) {
        return ZP_EV_CHILD;
    }
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_EXPIRED_SESSION_STATE) {
            return ZP_EV_SESSION_EXPIRED;
        }
        if (state == ZOO_CONNECTED_STATE) {
            return ZP_EV_CONNECTED;
        }
        if (state == ZOO_CONNECTING_STATE) {
            return ZP_EV_DISCONNECTED;
        }
    }
    return ZP_EV_OTHER;
}

static void on_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    uint64_t at = now_ns();
    struct zp_conn *conn = ctx;
    (void)zh;
    if (type == ZOO_SESSION_EVENT) {
        pthread_mutex_lock(&conn->lock);
        conn->state = state;
        pthread_cond_broadcast(&conn->cond);
        pthread_mutex_unlock(&conn->lock);
    }
    if (conn->on_event == NULL) {
        return;
    }
    zp_cq_push_event(&conn->client->cq, conn->on_event, conn->event_arg, at,
                     event_type(type, state), path, path != NULL ? strlen(path) : 0);
}

static int zk_open(struct zp_client **out)
{
    struct zp_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return ZN_ENOMEM;
    }
    zp_cq_init(&c->cq, true);
    /* The library logs every reconnect attempt to stderr (hundreds of lines while a leader is
     * re-elected); errors reach the harness as completion codes anyway. Level 0 switches its
     * logging off; ZP_ZK_DEBUG=1 turns it back on. */
    zoo_set_debug_level(getenv("ZP_ZK_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : (ZooLogLevel)0);
    *out = c;
    return 0;
}

static void zk_close_client(struct zp_client *c)
{
    if (c == NULL) {
        return;
    }
    zp_cq_fini(&c->cq);
    free(c);
}

static int zk_connect(struct zp_client *client, const struct zp_connect_opts *opts,
                      struct zp_conn **out)
{
    struct zp_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        return ZN_ENOMEM;
    }
    conn->client = client;
    conn->on_event = opts->on_event;
    conn->event_arg = opts->event_arg;
    pthread_mutex_init(&conn->lock, NULL);
    zp_cond_init_monotonic(&conn->cond);
    conn->zh = zookeeper_init(opts->servers, on_watch, (int)opts->session_ms, NULL, conn, 0);
    if (conn->zh == NULL) {
        int e = errno;
        pthread_mutex_destroy(&conn->lock);
        pthread_cond_destroy(&conn->cond);
        free(conn);
        return e == EINVAL ? ZN_EINVAL : ZN_ECONNLOSS;
    }
    struct timespec ts;
    zp_deadline_ts(&ts, opts->timeout_ns);
    int rc = 0;
    pthread_mutex_lock(&conn->lock);
    while (conn->state != ZOO_CONNECTED_STATE && rc == 0) {
        if (conn->state == ZOO_EXPIRED_SESSION_STATE || conn->state == ZOO_AUTH_FAILED_STATE) {
            rc = ZN_ECONNLOSS;
            break;
        }
        if (pthread_cond_timedwait(&conn->cond, &conn->lock, &ts) == ETIMEDOUT) {
            rc = ZN_ETIMEDOUT;
        }
    }
    pthread_mutex_unlock(&conn->lock);
    if (rc != 0) {
        zookeeper_close(conn->zh);
        pthread_mutex_destroy(&conn->lock);
        pthread_cond_destroy(&conn->cond);
        free(conn);
        return rc;
    }
    client->conns++;
    *out = conn;
    return 0;
}

static void zk_close(struct zp_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    /* Completes every outstanding request (ZCLOSING) before returning. */
    zookeeper_close(conn->zh);
    conn->client->conns--;
    pthread_mutex_destroy(&conn->lock);
    pthread_cond_destroy(&conn->cond);
    free(conn);
}

static int64_t zk_session_id(struct zp_conn *conn)
{
    const clientid_t *id = zoo_client_id(conn->zh);
    return id ? id->client_id : 0;
}

static uint32_t zk_session_timeout_ms(struct zp_conn *conn)
{
    int t = zoo_recv_timeout(conn->zh);
    return t > 0 ? (uint32_t)t : 0;
}

static struct zk_req *req_new(struct zp_conn *conn, zp_done_fn done, void *arg, uint32_t multi_n)
{
    struct zk_req *req = malloc(sizeof(*req) + multi_n * sizeof(zoo_op_result_t));
    if (req == NULL) {
        return NULL;
    }
    req->client = conn->client;
    req->done = done;
    req->arg = arg;
    req->multi_n = multi_n;
    return req;
}

/* A synchronous refusal by the library: no completion will run, so free and report. */
static int submitted(struct zk_req *req, int rc)
{
    if (rc != ZOK) {
        free(req);
        return zk_err(rc);
    }
    return 0;
}

static int zk_create(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                     uint32_t flags, zp_done_fn done, void *arg)
{
    struct zk_req *req = req_new(conn, done, arg, 0);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    int zflags = (flags & ZP_CREATE_EPHEMERAL) ? ZOO_EPHEMERAL : 0;
    return submitted(req, zoo_acreate(conn->zh, path, value, value ? (int)len : -1,
                                      &ZOO_OPEN_ACL_UNSAFE, zflags, on_string, req));
}

static int zk_set_data(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                       int32_t version, zp_done_fn done, void *arg)
{
    struct zk_req *req = req_new(conn, done, arg, 0);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zoo_aset(conn->zh, path, value, (int)len, version, on_stat, req));
}

static int zk_get_data(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                       void *arg)
{
    struct zk_req *req = req_new(conn, done, arg, 0);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zoo_aget(conn->zh, path, watch, on_data, req));
}

static int zk_exists(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done, void *arg)
{
    struct zk_req *req = req_new(conn, done, arg, 0);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zoo_aexists(conn->zh, path, watch, on_stat, req));
}

static int zk_remove(struct zp_conn *conn, const char *path, int32_t version, zp_done_fn done,
                     void *arg)
{
    struct zk_req *req = req_new(conn, done, arg, 0);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zoo_adelete(conn->zh, path, version, on_void, req));
}

static int zk_get_children(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                           void *arg)
{
    struct zk_req *req = req_new(conn, done, arg, 0);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zoo_aget_children(conn->zh, path, watch, on_strings, req));
}

/* Bound of one multi here: the harness sends at most --multi-ops (ZP_MULTI_OPS_MAX). */
#define ZK_MULTI_MAX ZP_MULTI_OPS_MAX

static int zk_multi(struct zp_conn *conn, const struct zp_multi_op *ops, uint32_t n,
                    zp_done_fn done, void *arg)
{
    if (n == 0 || n > ZK_MULTI_MAX) {
        return ZN_EINVAL;
    }
    struct zk_req *req = req_new(conn, done, arg, n);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    /* zoo_amulti serializes the ops during the call; only the results array must outlive it. */
    zoo_op_t zops[ZK_MULTI_MAX];
    for (uint32_t i = 0; i < n; i++) {
        const struct zp_multi_op *o = &ops[i];
        switch (o->op) {
        case ZP_OP_CREATE:
            zoo_create_op_init(&zops[i], o->path, o->value, (int)o->value_len, &ZOO_OPEN_ACL_UNSAFE,
                               0, NULL, 0);
            break;
        case ZP_OP_SET:
            zoo_set_op_init(&zops[i], o->path, o->value, (int)o->value_len, o->version, NULL);
            break;
        case ZP_OP_DELETE:
            zoo_delete_op_init(&zops[i], o->path, o->version);
            break;
        case ZP_OP_EXISTS:
            zoo_check_op_init(&zops[i], o->path, o->version);
            break;
        default:
            free(req);
            return ZN_EINVAL;
        }
    }
    return submitted(req, zoo_amulti(conn->zh, (int)n, zops, req->results, on_void, req));
}

static int zk_poll(struct zp_client *c, uint64_t timeout_ns)
{
    return zp_cq_poll(&c->cq, timeout_ns);
}

const struct zp_target zp_target_zookeeper = {
    .name = "zookeeper",
    .description = "any ZooKeeper-protocol server through libzookeeper-mt (e.g. Apache "
                   "ZooKeeper; zinc's ZooKeeper port)",
    .value_max = 4u * 1024u * 1024u,
    .open = zk_open,
    .close_client = zk_close_client,
    .connect = zk_connect,
    .close = zk_close,
    .session_id = zk_session_id,
    .session_timeout_ms = zk_session_timeout_ms,
    .create = zk_create,
    .set_data = zk_set_data,
    .get_data = zk_get_data,
    .exists = zk_exists,
    .remove = zk_remove,
    .multi = zk_multi,
    .get_children = zk_get_children,
    .poll = zk_poll,
};
