/*
 * zp_target_null.c - an in-process target with a modelled server, for two jobs:
 *  1. the engine's ceiling: `-t null` shows how many operations per second the engine, the
 *     histograms and the completion path sustain with a server that answers instantly;
 *  2. engine tests without a network: a single FIFO server with a fixed service time and an
 *     optional pause, so that the difference between open and closed loops under a stall
 *     (coordinated omission) can be checked.
 *
 * The servers string configures it: "" or "null" (instant), or comma-separated
 * `service_us=N`, `stall_ms=N`, `stall_at_ms=N`: the server is paused during
 * [T, T + stall) where T is stall_at_ms after the first connect (a GC-like pause). Request i:
 *   start_i = max(submit_i, done_{i-1}), moved to T + stall if it falls inside the pause,
 *   done_i = start_i + service.
 * poll() sleeps until the next completion is due (never longer than its timeout) and delivers
 * every due completion with done_ns = its modelled time. Watches are not modelled (ZN_ENOTSUP).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "perf/zinc-perf/zp_target.h"

struct null_item {
    zp_done_fn done;
    void *arg;
    uint64_t done_ns;
    uint32_t count;
};

struct zp_client {
    struct null_item *ring; /* FIFO of modelled completions (done_ns non-decreasing) */
    size_t cap;
    size_t head;
    size_t len;
    uint64_t server_free_ns;
    uint64_t served;
    uint64_t service_ns;
    uint64_t stall_ns;
    uint64_t stall_from_ns; /* absolute, set at the first connect */
    uint64_t stall_at_ns;   /* relative to the first connect */
    bool configured;
};

struct zp_conn {
    struct zp_client *client;
    uint32_t session_ms;
};

static uint64_t now_ns(void)
{
    return zn_clock_raw_monotonic_ns(NULL);
}

static int parse_params(struct zp_client *c, const char *s)
{
    c->service_ns = 0;
    c->stall_ns = 0;
    c->stall_at_ns = 0;
    if (s == NULL || *s == '\0' || strcmp(s, "null") == 0) {
        return 0;
    }
    const char *p = s;
    while (*p) {
        const char *eq = strchr(p, '=');
        if (eq == NULL) {
            return ZN_EINVAL;
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(eq + 1, &end, 10);
        if (errno || end == eq + 1 || (*end != ',' && *end != '\0') || v > 1000000000ull) {
            return ZN_EINVAL;
        }
        size_t klen = (size_t)(eq - p);
        if (klen == 10 && strncmp(p, "service_us", klen) == 0) {
            c->service_ns = v * 1000ull;
        } else if (klen == 8 && strncmp(p, "stall_ms", klen) == 0) {
            c->stall_ns = v * 1000000ull;
        } else if (klen == 11 && strncmp(p, "stall_at_ms", klen) == 0) {
            c->stall_at_ns = v * 1000000ull;
        } else {
            return ZN_EINVAL;
        }
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

static int null_open(struct zp_client **out)
{
    struct zp_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return ZN_ENOMEM;
    }
    *out = c;
    return 0;
}

static void null_close_client(struct zp_client *c)
{
    if (c != NULL) {
        free(c->ring);
        free(c);
    }
}

static int null_connect(struct zp_client *c, const struct zp_connect_opts *opts,
                        struct zp_conn **out)
{
    if (!c->configured) {
        if (parse_params(c, opts->servers) != 0) {
            return ZN_EINVAL;
        }
        c->configured = true;
        c->stall_from_ns = now_ns() + c->stall_at_ns;
    }
    struct zp_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        return ZN_ENOMEM;
    }
    conn->client = c;
    conn->session_ms = opts->session_ms;
    *out = conn;
    return 0;
}

static void null_close(struct zp_conn *conn)
{
    free(conn);
}

static int64_t null_session_id(struct zp_conn *conn)
{
    (void)conn;
    return 0;
}

static uint32_t null_session_timeout_ms(struct zp_conn *conn)
{
    return conn->session_ms;
}

static int enqueue(struct zp_conn *conn, zp_done_fn done, void *arg, uint32_t count)
{
    struct zp_client *c = conn->client;
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        struct null_item *ring = malloc(cap * sizeof(*ring));
        if (ring == NULL) {
            return ZN_ENOMEM;
        }
        for (size_t i = 0; i < c->len; i++) {
            ring[i] = c->ring[(c->head + i) % c->cap];
        }
        free(c->ring);
        c->ring = ring;
        c->cap = cap;
        c->head = 0;
    }
    uint64_t now = now_ns();
    uint64_t start = now > c->server_free_ns ? now : c->server_free_ns;
    if (start >= c->stall_from_ns && start < c->stall_from_ns + c->stall_ns) {
        start = c->stall_from_ns + c->stall_ns;
    }
    c->served++;
    c->server_free_ns = start + c->service_ns;
    c->ring[(c->head + c->len) % c->cap] =
        (struct null_item){.done = done, .arg = arg, .done_ns = c->server_free_ns, .count = count};
    c->len++;
    return 0;
}

static int null_create(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                       uint32_t flags, zp_done_fn done, void *arg)
{
    (void)path;
    (void)value;
    (void)len;
    (void)flags;
    return enqueue(conn, done, arg, 0);
}

static int null_set_data(struct zp_conn *conn, const char *path, const void *value, uint32_t len,
                         int32_t version, zp_done_fn done, void *arg)
{
    (void)path;
    (void)value;
    (void)version;
    return enqueue(conn, done, arg, len);
}

static int null_get_data(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                         void *arg)
{
    (void)path;
    return watch ? ZN_ENOTSUP : enqueue(conn, done, arg, 0);
}

static int null_exists(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                       void *arg)
{
    (void)path;
    return watch ? ZN_ENOTSUP : enqueue(conn, done, arg, 0);
}

static int null_remove(struct zp_conn *conn, const char *path, int32_t version, zp_done_fn done,
                       void *arg)
{
    (void)path;
    (void)version;
    return enqueue(conn, done, arg, 0);
}

static int null_multi(struct zp_conn *conn, const struct zp_multi_op *ops, uint32_t n,
                      zp_done_fn done, void *arg)
{
    (void)ops;
    return n == 0 ? ZN_EINVAL : enqueue(conn, done, arg, n);
}

static int null_get_children(struct zp_conn *conn, const char *path, bool watch, zp_done_fn done,
                             void *arg)
{
    (void)path;
    return watch ? ZN_ENOTSUP : enqueue(conn, done, arg, 0);
}

static int null_poll(struct zp_client *c, uint64_t timeout_ns)
{
    uint64_t now = now_ns();
    uint64_t until = now + timeout_ns;
    if (c->len > 0 && c->ring[c->head].done_ns < until) {
        until = c->ring[c->head].done_ns;
    }
    if (until > now) {
        struct timespec ts = {.tv_sec = (time_t)(until / ZN_NS_PER_S),
                              .tv_nsec = (long)(until % ZN_NS_PER_S)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
        }
        now = now_ns();
    }
    /* Deliver what is due; callbacks may enqueue more (served in a later poll). */
    size_t due = 0;
    while (due < c->len && c->ring[(c->head + due) % c->cap].done_ns <= now) {
        due++;
    }
    for (size_t i = 0; i < due; i++) {
        struct null_item it = c->ring[c->head];
        c->head = (c->head + 1) % c->cap;
        c->len--;
        struct zp_result res = {.done_ns = it.done_ns, .err = 0, .native_rc = 0, .count = it.count};
        it.done(it.arg, &res);
    }
    return (int)due;
}

const struct zp_target zp_target_null = {
    .name = "null",
    .description = "in-process modelled server (engine ceiling and tests); servers string: "
                   "service_us=N,stall_ms=N,stall_at_ms=N",
    .value_max = 4u * 1024u * 1024u,
    .open = null_open,
    .close_client = null_close_client,
    .connect = null_connect,
    .close = null_close,
    .session_id = null_session_id,
    .session_timeout_ms = null_session_timeout_ms,
    .create = null_create,
    .set_data = null_set_data,
    .get_data = null_get_data,
    .exists = null_exists,
    .remove = null_remove,
    .multi = null_multi,
    .get_children = null_get_children,
    .poll = null_poll,
};
