/*
 * zp_target_zinc.c - the zinc target through libzinc (client/zinc.h: the native protocol over
 * kernel UDP).
 *
 * libzinc runs one I/O thread per handle (= per session) and calls completions, watchers and
 * the state callback there. Each completion is stamped on that thread (the earliest point the
 * client sees the reply) and appended to the client's completion queue (zp_cq.h, threaded);
 * poll() runs the harness callbacks from it on the engine thread. As with the ZooKeeper target
 * (zp_target_zk.c) the hand-off costs closed-loop throughput (one thread wake-up) but never
 * latency, and both targets pay the same hand-off, so their figures compare like for like.
 *
 * The servers string is libzinc's connection string ("127.0.0.1:7001,127.0.0.1:7002,..."),
 * optionally followed by ";cluster=N" (default 1, zincd's default [node] cluster_id).
 * ZP_ZINC_LINEARIZABLE=1 in the environment serves reads linearizably (ReadIndex) instead of
 * from the local replica (ZooKeeper semantics, the default of both systems).
 *
 * Invariants: each accepted request has one heap context freed exactly once, in its completion;
 * libzinc runs every completion exactly once (also on timeout, expiry and close, with an error),
 * so outstanding requests are never leaked; zn_close returns only after the last callback ran.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/zinc.h"
#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_cq.h"
#include "perf/zinc-perf/zp_target.h"

struct zp_client {
    struct zp_cq cq; /* threaded: libzinc's I/O threads push, the engine polls */
    unsigned conns;
};

struct zp_conn {
    struct zp_client *client;
    zn_handle *zh;
    zp_event_fn on_event;
    void *event_arg;
};

/* One accepted request. */
struct zi_req {
    struct zp_client *client;
    zp_done_fn done;
    void *arg;
};

static uint64_t now_ns(void)
{
    return zn_clock_raw_monotonic_ns(NULL);
}

/* libzinc already returns ZN_E* codes; a handle that is closing counts as a lost connection. */
static int zi_err(int rc)
{
    return rc == ZN_ESHUTDOWN ? ZN_ECONNLOSS : rc;
}

static void req_finish(struct zi_req *req, int rc, uint32_t count, uint64_t at)
{
    struct zp_result res = {.done_ns = at, .err = zi_err(rc), .native_rc = rc, .count = count};
    zp_cq_push_done(&req->client->cq, req->done, req->arg, &res);
    free(req);
}

static void on_create(int rc, const char *path, const struct zn_stat *stat, const void *data)
{
    uint64_t at = now_ns();
    (void)path;
    (void)stat;
    req_finish((struct zi_req *)data, rc, 0, at);
}

static void on_stat(int rc, const struct zn_stat *stat, const void *data)
{
    uint64_t at = now_ns();
    (void)stat;
    req_finish((struct zi_req *)data, rc, 0, at);
}

static void on_data(int rc, const char *value, int32_t value_len, const struct zn_stat *stat,
                    const void *data)
{
    uint64_t at = now_ns();
    (void)value;
    (void)stat;
    req_finish((struct zi_req *)data, rc, value_len > 0 ? (uint32_t)value_len : 0, at);
}

static void on_void(int rc, const void *data)
{
    uint64_t at = now_ns();
    req_finish((struct zi_req *)data, rc, 0, at);
}

static void on_strings(int rc, const struct zn_strings *strings, const void *data)
{
    uint64_t at = now_ns();
    uint32_t n = (rc == 0 && strings != NULL && strings->count > 0) ? (uint32_t)strings->count : 0;
    req_finish((struct zi_req *)data, rc, n, at);
}

static void on_multi(int rc, int count, const struct zn_op_result *results, const void *data)
{
    uint64_t at = now_ns();
    (void)results;
    req_finish((struct zi_req *)data, rc, count > 0 ? (uint32_t)count : 0, at);
}

static enum zp_event_type event_type(int type, int state)
{
    switch (type) {
    case ZN_EVENT_CREATED:
        return ZP_EV_CREATED;
    case ZN_EVENT_DELETED:
        return ZP_EV_DELETED;
    case ZN_EVENT_CHANGED:
        return ZP_EV_CHANGED;
    case ZN_EVENT_CHILD:
        return ZP_EV_CHILD;
    case ZN_EVENT_SESSION:
        if (state == ZN_STATE_EXPIRED) {
            return ZP_EV_SESSION_EXPIRED;
        }
        if (state == ZN_STATE_CONNECTED) {
            return ZP_EV_CONNECTED;
        }
        if (state == ZN_STATE_SUSPENDED) {
            return ZP_EV_DISCONNECTED;
        }
        return ZP_EV_OTHER;
    default:
        return ZP_EV_OTHER;
    }
}

/* The global watcher: watch flag = 1 calls and session events. I/O thread. */
static void on_watch(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    uint64_t at = now_ns();
    struct zp_conn *conn = ctx;
    (void)zh;
    if (conn->on_event == NULL) {
        return;
    }
    zp_cq_push_event(&conn->client->cq, conn->on_event, conn->event_arg, at,
                     event_type(type, state), path, path != NULL ? strlen(path) : 0);
}

static int zi_open(struct zp_client **out)
{
    struct zp_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return ZN_ENOMEM;
    }
    zp_cq_init(&c->cq, true);
    *out = c;
    return 0;
}

static void zi_close_client(struct zp_client *c)
{
    if (c == NULL) {
        return;
    }
    zp_cq_fini(&c->cq);
    free(c);
}

static int zi_connect(struct zp_client *client, const struct zp_connect_opts *opts,
                      struct zp_conn **out)
{
    struct zp_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        return ZN_ENOMEM;
    }
    conn->client = client;
    conn->on_event = opts->on_event;
    conn->event_arg = opts->event_arg;
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = opts->session_ms;
    uint64_t ms = opts->timeout_ns / ZN_NS_PER_MS;
    o.connect_timeout_ms = ms == 0 ? 1 : (ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
    o.watcher = on_watch;
    o.watcher_ctx = conn;
    const char *lin = getenv("ZP_ZINC_LINEARIZABLE");
    o.linearizable_reads = lin != NULL && strcmp(lin, "1") == 0;
    char hosts[1024];
    o.cluster_id = 1;
    const char *semi = strchr(opts->servers, ';');
    size_t hlen = semi ? (size_t)(semi - opts->servers) : strlen(opts->servers);
    if (hlen >= sizeof(hosts)) {
        free(conn);
        return ZN_EINVAL;
    }
    memcpy(hosts, opts->servers, hlen);
    hosts[hlen] = '\0';
    if (semi != NULL) {
        char *end;
        unsigned long id = strncmp(semi, ";cluster=", 9) == 0 ? strtoul(semi + 9, &end, 10) : 0;
        if (id == 0 || id > UINT32_MAX || *end != '\0') {
            fprintf(stderr, "zinc-perf: zinc servers: expected HOSTS[;cluster=N], got '%s'\n",
                    opts->servers);
            free(conn);
            return ZN_EINVAL;
        }
        o.cluster_id = (uint32_t)id;
    }
    int rc = zn_open(hosts, &o, &conn->zh);
    if (rc != 0) {
        free(conn);
        return rc == ZN_EBADARGUMENTS ? ZN_EINVAL : rc;
    }
    client->conns++;
    *out = conn;
    return 0;
}

static void zi_close(struct zp_conn *conn)
{
    if (conn == NULL) {
        return;
    }
    /* Completes every outstanding request (ZN_ESHUTDOWN) before returning; a timeout only
     * means the node did not confirm closeSession (the session then expires on its own). */
    (void)zn_close(conn->zh);
    conn->client->conns--;
    free(conn);
}

static int64_t zi_session_id(struct zp_conn *conn)
{
    return zn_session_id(conn->zh);
}

static uint32_t zi_session_timeout_ms(struct zp_conn *conn)
{
    int32_t t = zn_session_timeout_ms(conn->zh);
    return t > 0 ? (uint32_t)t : 0;
}

static struct zi_req *req_new(struct zp_conn *conn, zp_done_fn done, void *arg)
{
    struct zi_req *req = malloc(sizeof(*req));
    if (req == NULL) {
        return NULL;
    }
    req->client = conn->client;
    req->done = done;
    req->arg = arg;
    return req;
}

/* A synchronous refusal by the library: no completion will run, so free and report. */
static int submitted(struct zi_req *req, int rc)
{
    if (rc != 0) {
        free(req);
        return zi_err(rc);
    }
    return 0;
}

static int zi_create(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                     uint32_t flags, zp_done_fn done, void *arg)
{
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    int mode = (flags & ZP_CREATE_EPHEMERAL) ? ZN_EPHEMERAL : ZN_PERSISTENT;
    return submitted(req, zn_acreate(conn->zh, path, value, value ? (int32_t)len : -1,
                                     &ZN_OPEN_ACL_UNSAFE, mode, 0, on_create, req));
}

static int zi_set_data(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                       int32_t version, zp_done_fn done, void *arg)
{
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zn_aset(conn->zh, path, value, (int32_t)len, version, on_stat, req));
}

static int zi_get_data(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                       void *arg)
{
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zn_aget(conn->zh, path, watch, on_data, req));
}

static int zi_exists(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done, void *arg)
{
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zn_aexists(conn->zh, path, watch, on_stat, req));
}

static int zi_remove(struct zp_conn *conn, const char *path, int32_t version, zp_done_fn done,
                     void *arg)
{
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zn_adelete(conn->zh, path, version, on_void, req));
}

static int zi_get_children(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                           void *arg)
{
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zn_aget_children(conn->zh, path, watch, on_strings, req));
}

static int zi_multi(struct zp_conn *conn, const struct zp_multi_op *ops, uint32_t n,
                    zp_done_fn done, void *arg)
{
    if (n == 0 || n > ZP_MULTI_OPS_MAX) {
        return ZN_EINVAL;
    }
    /* zn_amulti encodes the ops during the call; nothing of them must outlive it. */
    struct zn_op zops[ZP_MULTI_OPS_MAX];
    for (uint32_t i = 0; i < n; i++) {
        const struct zp_multi_op *o = &ops[i];
        switch (o->op) {
        case ZP_OP_CREATE:
            zn_op_create(&zops[i], o->path, o->value, (int32_t)o->value_len, &ZN_OPEN_ACL_UNSAFE,
                         ZN_PERSISTENT);
            break;
        case ZP_OP_SET:
            zn_op_set(&zops[i], o->path, o->value, (int32_t)o->value_len, o->version);
            break;
        case ZP_OP_DELETE:
            zn_op_delete(&zops[i], o->path, o->version);
            break;
        case ZP_OP_EXISTS:
            zn_op_check(&zops[i], o->path, o->version);
            break;
        default:
            return ZN_EINVAL;
        }
    }
    struct zi_req *req = req_new(conn, done, arg);
    if (req == NULL) {
        return ZN_ENOMEM;
    }
    return submitted(req, zn_amulti(conn->zh, (int)n, zops, on_multi, req));
}

static int zi_poll(struct zp_client *c, uint64_t timeout_ns)
{
    return zp_cq_poll(&c->cq, timeout_ns);
}

const struct zp_target zp_target_zinc = {
    .name = "zinc",
    .description = "zinc through libzinc (native protocol over kernel UDP); servers = "
                   "\"host:port,...\" of the zincd nodes",
    .value_max = 1024u * 1024u,
    .open = zi_open,
    .close_client = zi_close_client,
    .connect = zi_connect,
    .close = zi_close,
    .session_id = zi_session_id,
    .session_timeout_ms = zi_session_timeout_ms,
    .create = zi_create,
    .set_data = zi_set_data,
    .get_data = zi_get_data,
    .exists = zi_exists,
    .remove = zi_remove,
    .multi = zi_multi,
    .get_children = zi_get_children,
    .poll = zi_poll,
};
