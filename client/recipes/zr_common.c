/*
 * zr_common.c - the recipe session (state fan-out), one-shot waiters, paths, name ordering,
 * fencing helpers and the fenced register. See zn_recipes.h.
 */
#include "client/recipes/zr_internal.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- session ------------------------------------------------------------------------------ */

static void zr_state_cb(zn_handle *zh, int state, void *ctx)
{
    struct zr_session *s = ctx;
    pthread_mutex_lock(&s->mu);
    for (struct zr_obj *o = s->objs; o; o = o->next)
        if (o->on_state)
            o->on_state(o, state);
    pthread_mutex_unlock(&s->mu);
    if (s->user_cb)
        s->user_cb(zh, state, s->user_ctx);
}

int zr_session_open(const char *hosts, const struct zn_options *opts, zr_session **out)
{
    if (out == NULL || hosts == NULL)
        return ZN_EBADARGUMENTS;
    *out = NULL;
    struct zr_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ZN_ENOMEM;
    pthread_mutex_init(&s->mu, NULL);
    struct zn_options o;
    if (opts)
        o = *opts;
    else
        zn_options_init(&o);
    s->user_cb = o.state_cb;
    s->user_ctx = o.state_ctx;
    o.state_cb = zr_state_cb;
    o.state_ctx = s;
    int rc = zn_open(hosts, &o, &s->zh);
    if (rc != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

zn_handle *zr_session_handle(zr_session *s)
{
    return s ? s->zh : NULL;
}

int zr_session_close(zr_session *s)
{
    if (s == NULL)
        return ZN_EBADARGUMENTS;
    int rc = zn_close(s->zh);
    if (rc == ZN_EAPI)
        return rc;
    /* No callback runs any more: free every recipe object of the session. */
    struct zr_obj *o = s->objs;
    while (o) {
        struct zr_obj *next = o->next;
        o->free_fn(o);
        o = next;
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
    return rc;
}

void zr_session_add(struct zr_session *s, struct zr_obj *o)
{
    pthread_mutex_lock(&s->mu);
    o->next = s->objs;
    s->objs = o;
    pthread_mutex_unlock(&s->mu);
}

/* ---- waiters ------------------------------------------------------------------------------ */

static pthread_mutex_t waiters_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zr_waiter *waiters;
static uint64_t waiters_next_id;

void zr_waiter_init(struct zr_waiter *w)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    w->fired = false;
    pthread_mutex_lock(&waiters_mu);
    w->id = ++waiters_next_id;
    w->next = waiters;
    waiters = w;
    pthread_mutex_unlock(&waiters_mu);
}

void *zr_waiter_ctx(const struct zr_waiter *w)
{
    return (void *)(uintptr_t)w->id;
}

void zr_waiter_watch(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    uint64_t id = (uint64_t)(uintptr_t)ctx;
    pthread_mutex_lock(&waiters_mu);
    for (struct zr_waiter *w = waiters; w; w = w->next) {
        if (w->id == id) {
            w->fired = true;
            pthread_cond_broadcast(&w->cond);
            break;
        }
    }
    pthread_mutex_unlock(&waiters_mu);
}

int zr_waiter_wait(struct zr_waiter *w, int64_t deadline_ms)
{
    int rc = 0;
    pthread_mutex_lock(&waiters_mu);
    while (!w->fired) {
        int64_t now = zr_now_ms();
        if (now >= deadline_ms) {
            rc = ZN_ETIMEDOUT;
            break;
        }
        int64_t until = deadline_ms - now < 3600000 ? deadline_ms : now + 3600000;
        struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
        (void)pthread_cond_timedwait(&w->cond, &waiters_mu, &ts);
    }
    pthread_mutex_unlock(&waiters_mu);
    return rc;
}

void zr_waiter_done(struct zr_waiter *w)
{
    pthread_mutex_lock(&waiters_mu);
    for (struct zr_waiter **pp = &waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&waiters_mu);
    pthread_cond_destroy(&w->cond);
}

int64_t zr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t zr_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX / 2 : zr_now_ms() + timeout_ms;
}

/* ---- paths and names ---------------------------------------------------------------------- */

int zr_ensure_path(zn_handle *zh, const char *path)
{
    if (zh == NULL || path == NULL || path[0] != '/')
        return ZN_EBADARGUMENTS;
    size_t n = strlen(path);
    if (n >= ZR_PATH_MAX)
        return ZN_ELIMIT;
    char buf[ZR_PATH_MAX];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        int rc = zn_create(zh, buf, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
        buf[i] = c;
        if (rc != 0 && rc != ZN_ENODEEXISTS)
            return rc;
    }
    return 0;
}

int zr_join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
    return n < 0 || (size_t)n >= len ? ZN_ELIMIT : 0;
}

/* The sequence number: the digits after the last '-' (-1 when none). */
int64_t zr_seq_of(const char *name)
{
    const char *d = strrchr(name, '-');
    if (d == NULL || d[1] == '\0')
        return -1;
    char *end;
    long long v = strtoll(d + 1, &end, 10);
    return *end == '\0' ? (int64_t)v : -1;
}

/* ---- fencing ------------------------------------------------------------------------------ */

int zr_fenced_multi(zn_handle *zh, const char *fence_node, int count, const struct zn_op *ops,
                    struct zn_op_result *results)
{
    if (zh == NULL || fence_node == NULL || count < 0 || count > ZR_FENCED_OPS_MAX ||
        (count > 0 && ops == NULL) || results == NULL)
        return ZN_EBADARGUMENTS;
    struct zn_op all[ZR_FENCED_OPS_MAX + 1];
    zn_op_check(&all[0], fence_node, -1);
    for (int i = 0; i < count; i++)
        all[i + 1] = ops[i];
    return zn_multi(zh, count + 1, all, results);
}

static int parse_register(const char *buf, int32_t n, int64_t *token, int32_t *value_off)
{
    *token = 0;
    *value_off = 0;
    if (n <= 0)
        return 0;
    int64_t t = 0;
    int32_t i = 0;
    while (i < n && buf[i] >= '0' && buf[i] <= '9' && t < INT64_MAX / 10)
        t = t * 10 + (buf[i++] - '0');
    if (i == 0 || (i < n && buf[i] != ' '))
        return ZN_ECORRUPT;
    *token = t;
    *value_off = i < n ? i + 1 : n;
    return 0;
}

int zr_register_read(zn_handle *zh, const char *reg, int64_t *token, char *buf, int32_t *len)
{
    if (zh == NULL || reg == NULL || token == NULL)
        return ZN_EBADARGUMENTS;
    char raw[ZR_REGISTER_MAX];
    int32_t n = sizeof(raw);
    int rc = zn_get(zh, reg, 0, raw, &n, NULL);
    if (rc != 0)
        return rc;
    int32_t off;
    rc = parse_register(raw, n, token, &off);
    if (rc != 0)
        return rc;
    if (buf && len) {
        int32_t v = n > 0 ? n - off : 0;
        if (v > *len)
            v = *len;
        memcpy(buf, raw + off, (size_t)v);
        *len = v;
    }
    return 0;
}

int zr_register_write(zn_handle *zh, const char *reg, const char *fence_node, int64_t token,
                      const char *value, int32_t value_len)
{
    if (zh == NULL || reg == NULL || token <= 0 || value_len < 0 ||
        (value_len > 0 && value == NULL))
        return ZN_EBADARGUMENTS;
    char data[ZR_REGISTER_MAX];
    int h = snprintf(data, sizeof(data), "%" PRId64 " ", token);
    if (h < 0 || (size_t)h + (size_t)value_len > sizeof(data))
        return ZN_ELIMIT;
    memcpy(data + h, value, (size_t)value_len);
    int32_t dlen = h + value_len;
    for (int attempt = 0; attempt < ZR_REGISTER_RETRIES; attempt++) {
        char raw[ZR_REGISTER_MAX];
        int32_t n = sizeof(raw);
        struct zn_stat st;
        int rc = zn_get(zh, reg, 0, raw, &n, &st);
        struct zn_op ops[2];
        struct zn_op_result res[2];
        int nops = 0;
        if (fence_node)
            zn_op_check(&ops[nops++], fence_node, -1);
        if (rc == ZN_ENONODE) {
            zn_op_create(&ops[nops++], reg, data, dlen, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT);
        } else if (rc != 0) {
            return rc;
        } else {
            int64_t cur;
            int32_t off;
            rc = parse_register(raw, n, &cur, &off);
            if (rc != 0)
                return rc;
            if (cur > token)
                return ZN_ESTALE;
            zn_op_set(&ops[nops++], reg, data, dlen, st.version);
        }
        memset(res, 0, sizeof(res));
        rc = zn_multi(zh, nops, ops, res);
        int last = res[nops - 1].err;
        int first = res[0].err;
        zn_op_results_free(res, nops);
        if (rc == 0)
            return 0;
        if (fence_node && first != 0)
            return first; /* ZN_ENONODE: this holder was fenced off */
        if (last == ZN_EBADVERSION || last == ZN_ENODEEXISTS)
            continue; /* a concurrent writer: re-read, compare tokens again */
        return rc;
    }
    return ZN_EAGAIN;
}
