/*
 * zr_watch.c - group membership (ephemeral members with payload, cached view re-read on every
 * children change with one multiRead) and config watch (a value kept current by a data watch
 * re-armed from its watcher). State machines run on the session's I/O thread. zn_recipes.h.
 */
#include "client/recipes/zr_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZR_FIRST_VIEW_MS 30000 /* zr_group_watch / zr_config_watch wait for the first read */

static int wait_flag(pthread_mutex_t *mu, pthread_cond_t *cond, const bool *flag, int timeout_ms)
{
    int64_t deadline = zr_now_ms() + timeout_ms;
    int rc = 0;
    pthread_mutex_lock(mu);
    while (!*flag) {
        int64_t now = zr_now_ms();
        if (now >= deadline) {
            rc = ZN_ETIMEDOUT;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (deadline - now) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        (void)pthread_cond_timedwait(cond, mu, &ts);
    }
    pthread_mutex_unlock(mu);
    return rc;
}

/* ---- group --------------------------------------------------------------------------------- */

struct zr_group {
    struct zr_obj obj; /* first */
    struct zr_session *s;
    char dir[ZR_PATH_MAX];
    zr_group_fn cb;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct zn_strings names; /* under mu */
    uint64_t version;
    bool loaded, closed;
};

struct group_read {
    struct zr_group *g;
    struct zn_strings names;
};

static void group_load(struct zr_group *g);

static bool group_closed(struct zr_group *g)
{
    pthread_mutex_lock(&g->mu);
    bool c = g->closed;
    pthread_mutex_unlock(&g->mu);
    return c;
}

static void group_watch_fn(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    if (type != ZN_EVENT_SESSION && !group_closed(ctx))
        group_load(ctx);
}

static void group_publish(struct zr_group *g, struct zn_strings *names,
                          const struct zn_op_result *res)
{
    struct zr_member *m = calloc((size_t)(names->count > 0 ? names->count : 1), sizeof(*m));
    struct zn_strings keep = {
        0, calloc((size_t)(names->count > 0 ? names->count : 1), sizeof(char *))};
    if (m == NULL || keep.data == NULL) {
        free(m);
        free(keep.data);
        return;
    }
    int n = 0;
    for (int32_t i = 0; i < names->count; i++) {
        if (res && res[i].err != 0)
            continue; /* left between the list and the read */
        m[n] = (struct zr_member){names->data[i], res ? res[i].data : NULL,
                                  res ? res[i].data_len : -1};
        keep.data[n++] = strdup(names->data[i]);
        keep.count = n;
    }
    pthread_mutex_lock(&g->mu);
    zn_strings_free(&g->names);
    g->names = keep;
    g->version++;
    g->loaded = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->mu);
    if (g->cb && !group_closed(g))
        g->cb(g, n, m, g->ctx);
    free(m);
}

static void on_group_data(int rc, int count, const struct zn_op_result *res, const void *data)
{
    struct group_read *r = (struct group_read *)data;
    if (rc == 0 && count == r->names.count && !group_closed(r->g))
        group_publish(r->g, &r->names, res);
    else if (rc == ZN_ETIMEDOUT && !group_closed(r->g))
        group_load(r->g);
    zn_strings_free(&r->names);
    free(r);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_group_children(int rc, const struct zn_strings *ch, const void *data)
{
    struct zr_group *g = (struct zr_group *)data;
    if (group_closed(g))
        return;
    if (rc != 0) {
        if (rc == ZN_ETIMEDOUT)
            group_load(g);
        return;
    }
    struct group_read *r = calloc(1, sizeof(*r));
    struct zn_op *ops = calloc((size_t)(ch->count > 0 ? ch->count : 1), sizeof(*ops));
    char(*paths)[ZR_PATH_MAX] = calloc((size_t)(ch->count > 0 ? ch->count : 1), ZR_PATH_MAX);
    if (r)
        r->names.data = calloc((size_t)(ch->count > 0 ? ch->count : 1), sizeof(char *));
    if (r == NULL || ops == NULL || paths == NULL || r->names.data == NULL) {
        if (r)
            free(r->names.data);
        free(r);
        free(ops);
        free(paths);
        return;
    }
    r->g = g;
    for (int32_t i = 0; i < ch->count; i++) {
        r->names.data[i] = strdup(ch->data[i]);
        r->names.count = i + 1;
    }
    qsort(r->names.data, (size_t)r->names.count, sizeof(char *), str_cmp);
    for (int32_t i = 0; i < r->names.count; i++) {
        (void)zr_join(paths[i], ZR_PATH_MAX, g->dir, r->names.data[i]);
        zn_op_get(&ops[i], paths[i]);
    }
    if (r->names.count == 0) {
        group_publish(g, &r->names, NULL);
        zn_strings_free(&r->names);
        free(r);
    } else if (zn_amulti_read(g->s->zh, r->names.count, ops, on_group_data, r) != 0) {
        zn_strings_free(&r->names);
        free(r);
    }
    free(ops);
    free(paths);
}

static void group_load(struct zr_group *g)
{
    (void)zn_awget_children(g->s->zh, g->dir, group_watch_fn, g, on_group_children, g);
}

static void group_free(struct zr_obj *o)
{
    struct zr_group *g = (struct zr_group *)o;
    zn_strings_free(&g->names);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cond);
    free(g);
}

int zr_group_join(zn_handle *zh, const char *path, const char *name, const char *data, int32_t len)
{
    if (zh == NULL || path == NULL || name == NULL || strchr(name, '/') != NULL)
        return ZN_EBADARGUMENTS;
    char p[ZR_PATH_MAX];
    int rc = zr_join(p, sizeof(p), path, name);
    if (rc == 0)
        rc = zr_ensure_path(zh, path);
    if (rc == 0)
        rc = zn_create(zh, p, data, data ? len : -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0,
                       NULL);
    return rc;
}

int zr_group_leave(zn_handle *zh, const char *path, const char *name)
{
    if (zh == NULL || path == NULL || name == NULL)
        return ZN_EBADARGUMENTS;
    char p[ZR_PATH_MAX];
    int rc = zr_join(p, sizeof(p), path, name);
    return rc != 0 ? rc : zn_delete(zh, p, -1);
}

int zr_group_watch(zr_session *s, const char *path, zr_group_fn cb, void *ctx, zr_group **out)
{
    if (s == NULL || path == NULL || out == NULL || strlen(path) >= ZR_PATH_MAX)
        return ZN_EBADARGUMENTS;
    *out = NULL;
    int rc = zr_ensure_path(s->zh, path);
    if (rc != 0)
        return rc;
    struct zr_group *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return ZN_ENOMEM;
    g->obj.free_fn = group_free;
    g->s = s;
    g->cb = cb;
    g->ctx = ctx;
    memcpy(g->dir, path, strlen(path) + 1);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cond, NULL);
    zr_session_add(s, &g->obj);
    group_load(g);
    rc = wait_flag(&g->mu, &g->cond, &g->loaded, ZR_FIRST_VIEW_MS);
    if (rc != 0) {
        zr_group_close(g); /* freed with the session */
        return rc;
    }
    *out = g;
    return 0;
}

int zr_group_members(zr_group *g, struct zn_strings *names, uint64_t *version)
{
    if (g == NULL || names == NULL)
        return ZN_EBADARGUMENTS;
    pthread_mutex_lock(&g->mu);
    names->count = 0;
    names->data = calloc((size_t)(g->names.count > 0 ? g->names.count : 1), sizeof(char *));
    int rc = names->data ? 0 : ZN_ENOMEM;
    for (int32_t i = 0; rc == 0 && i < g->names.count; i++) {
        names->data[i] = strdup(g->names.data[i]);
        names->count = i + 1;
    }
    if (version)
        *version = g->version;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void zr_group_close(zr_group *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->closed = true;
    pthread_mutex_unlock(&g->mu);
}

/* ---- config -------------------------------------------------------------------------------- */

struct zr_config {
    struct zr_obj obj; /* first */
    struct zr_session *s;
    char path[ZR_PATH_MAX];
    zr_config_fn cb;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *value; /* under mu; NULL when missing */
    int32_t len;
    int64_t mzxid;
    bool loaded, closed;
};

static void config_load(struct zr_config *c);

static bool config_closed(struct zr_config *c)
{
    pthread_mutex_lock(&c->mu);
    bool x = c->closed;
    pthread_mutex_unlock(&c->mu);
    return x;
}

static void config_watch_fn(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    if (type != ZN_EVENT_SESSION && !config_closed(ctx))
        config_load(ctx);
}

static void config_store(struct zr_config *c, const char *v, int32_t len, int64_t mzxid)
{
    char *copy = NULL;
    if (v && len >= 0) {
        copy = malloc((size_t)len + 1);
        if (copy == NULL)
            return;
        memcpy(copy, v, (size_t)len);
        copy[len] = '\0';
    }
    pthread_mutex_lock(&c->mu);
    bool same = c->loaded && c->mzxid == mzxid && (c->value == NULL) == (copy == NULL);
    free(c->value);
    c->value = copy;
    c->len = copy ? len : -1;
    c->mzxid = mzxid;
    c->loaded = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    if (!same && c->cb && !config_closed(c))
        c->cb(c, copy, copy ? len : -1, mzxid, c->ctx);
}

static void on_config_exists(int rc, const struct zn_stat *st, const void *data)
{
    (void)st;
    struct zr_config *c = (struct zr_config *)data;
    if (config_closed(c))
        return;
    if (rc == ZN_ENONODE)
        config_store(c, NULL, -1, 0);
    else if (rc == 0)
        config_load(c); /* created between the get and the exists */
}

static void on_config_get(int rc, const char *v, int32_t len, const struct zn_stat *st,
                          const void *data)
{
    struct zr_config *c = (struct zr_config *)data;
    if (config_closed(c))
        return;
    if (rc == 0)
        config_store(c, v ? v : "", v ? len : 0, st->mzxid);
    else if (rc == ZN_ENONODE)
        (void)zn_awexists(c->s->zh, c->path, config_watch_fn, c, on_config_exists, c);
    else if (rc == ZN_ETIMEDOUT)
        config_load(c);
}

static void config_load(struct zr_config *c)
{
    (void)zn_awget(c->s->zh, c->path, config_watch_fn, c, on_config_get, c);
}

static void config_free(struct zr_obj *o)
{
    struct zr_config *c = (struct zr_config *)o;
    free(c->value);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
}

int zr_config_watch(zr_session *s, const char *path, zr_config_fn cb, void *ctx, zr_config **out)
{
    if (s == NULL || path == NULL || out == NULL || strlen(path) >= ZR_PATH_MAX)
        return ZN_EBADARGUMENTS;
    *out = NULL;
    struct zr_config *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return ZN_ENOMEM;
    c->obj.free_fn = config_free;
    c->s = s;
    c->cb = cb;
    c->ctx = ctx;
    c->len = -1;
    memcpy(c->path, path, strlen(path) + 1);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    zr_session_add(s, &c->obj);
    config_load(c);
    int rc = wait_flag(&c->mu, &c->cond, &c->loaded, ZR_FIRST_VIEW_MS);
    if (rc != 0) {
        zr_config_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int zr_config_get(zr_config *c, char *buf, int32_t *len, int64_t *mzxid)
{
    if (c == NULL || len == NULL || (buf == NULL && *len > 0))
        return ZN_EBADARGUMENTS;
    pthread_mutex_lock(&c->mu);
    if (c->value == NULL) {
        *len = -1;
    } else {
        int32_t n = c->len < *len ? c->len : *len;
        memcpy(buf, c->value, (size_t)n);
        *len = n;
    }
    if (mzxid)
        *mzxid = c->mzxid;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void zr_config_close(zr_config *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->closed = true;
    pthread_mutex_unlock(&c->mu);
}
