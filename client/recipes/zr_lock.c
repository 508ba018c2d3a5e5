/*
 * zr_lock.c - exclusive and read/write locks (herd-free, fencing token = czxid of the lock
 * node), barrier, double barrier and FIFO queue. Blocking calls run in the caller's thread and
 * wait on one-shot watches (struct zr_waiter). See zn_recipes.h.
 */
#include "client/recipes/zr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct zr_lock {
    struct zr_obj obj; /* first */
    struct zr_session *s;
    pthread_mutex_t mu;
    bool valid;
    int64_t token;
    char node[ZR_PATH_MAX];
};

static void lock_on_state(struct zr_obj *o, int state)
{
    struct zr_lock *l = (struct zr_lock *)o;
    if (state == ZN_STATE_CONNECTED || state == ZN_STATE_CONNECTING)
        return;
    pthread_mutex_lock(&l->mu);
    l->valid = false;
    pthread_mutex_unlock(&l->mu);
}

static void lock_free(struct zr_obj *o)
{
    struct zr_lock *l = (struct zr_lock *)o;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

struct seq_name {
    int64_t seq;
    char kind;
    const char *name;
};

static int seq_cmp(const void *a, const void *b)
{
    const struct seq_name *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The node this lock request must wait for (its closest lower conflicting node), or "" when
 * the lock is held. ZN_ENONODE when our own node is gone. */
static int lock_pred(const struct zn_strings *ch, const char *mine, char kind, char *pred,
                     size_t pred_len)
{
    struct seq_name *v = calloc((size_t)(ch->count > 0 ? ch->count : 1), sizeof(*v));
    if (v == NULL)
        return ZN_ENOMEM;
    int n = 0;
    for (int32_t i = 0; i < ch->count; i++) {
        const char *c = ch->data[i];
        if ((c[0] == 'x' || c[0] == 'r' || c[0] == 'w') && c[1] == '-' && zr_seq_of(c) >= 0)
            v[n++] = (struct seq_name){zr_seq_of(c), c[0], c};
    }
    qsort(v, (size_t)n, sizeof(*v), seq_cmp);
    int me = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].name, mine) == 0)
            me = i;
    int rc = me < 0 ? ZN_ENONODE : 0;
    pred[0] = '\0';
    for (int i = me - 1; rc == 0 && i >= 0; i--) {
        if (kind == 'r' && v[i].kind != 'w')
            continue;
        snprintf(pred, pred_len, "%s", v[i].name);
        break;
    }
    free(v);
    return rc;
}

static int lock_acquire(zr_session *s, const char *path, char kind, int timeout_ms, zr_lock **out)
{
    if (s == NULL || path == NULL || out == NULL)
        return ZN_EBADARGUMENTS;
    *out = NULL;
    zn_handle *zh = s->zh;
    int64_t deadline = zr_deadline(timeout_ms);
    struct zr_lock *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return ZN_ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    l->s = s;
    l->obj.on_state = lock_on_state;
    l->obj.free_fn = lock_free;
    char prefix[ZR_PATH_MAX];
    char leaf[3] = {kind, '-', '\0'};
    int rc = zr_join(prefix, sizeof(prefix), path, leaf);
    if (rc == 0)
        rc = zr_ensure_path(zh, path);
    struct zn_stat st;
    if (rc == 0)
        rc = zn_create(zh, prefix, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL_SEQUENTIAL, 0,
                       l->node, (int)sizeof(l->node), &st);
    if (rc != 0) {
        lock_free(&l->obj);
        return rc;
    }
    l->token = st.czxid;
    l->valid = true;
    zr_session_add(s, &l->obj); /* from here a suspension invalidates it */
    const char *mine = strrchr(l->node, '/') + 1;
    for (;;) {
        struct zn_strings ch = {0, NULL};
        rc = zn_get_children(zh, path, 0, &ch);
        char pred[ZR_NAME_MAX];
        if (rc == 0)
            rc = lock_pred(&ch, mine, kind, pred, sizeof(pred));
        zn_strings_free(&ch);
        if (rc != 0)
            break;
        if (pred[0] == '\0') {
            *out = l;
            return 0;
        }
        char pp[ZR_PATH_MAX];
        if ((rc = zr_join(pp, sizeof(pp), path, pred)) != 0)
            break;
        struct zr_waiter w;
        zr_waiter_init(&w);
        rc = zn_wexists(zh, pp, zr_waiter_watch, zr_waiter_ctx(&w), NULL);
        if (rc == 0)
            rc = zr_waiter_wait(&w, deadline);
        else if (rc == ZN_ENONODE)
            rc = 0; /* gone already: look again */
        zr_waiter_done(&w);
        if (rc != 0)
            break;
    }
    (void)zr_lock_release(l);
    return rc;
}

int zr_lock_acquire(zr_session *s, const char *path, int timeout_ms, zr_lock **out)
{
    return lock_acquire(s, path, 'x', timeout_ms, out);
}

int zr_rwlock_read(zr_session *s, const char *path, int timeout_ms, zr_lock **out)
{
    return lock_acquire(s, path, 'r', timeout_ms, out);
}

int zr_rwlock_write(zr_session *s, const char *path, int timeout_ms, zr_lock **out)
{
    return lock_acquire(s, path, 'w', timeout_ms, out);
}

int64_t zr_lock_token(zr_lock *l)
{
    return l ? l->token : 0;
}

const char *zr_lock_node(zr_lock *l)
{
    return l ? l->node : NULL;
}

bool zr_lock_valid(zr_lock *l)
{
    if (l == NULL)
        return false;
    pthread_mutex_lock(&l->mu);
    bool v = l->valid;
    pthread_mutex_unlock(&l->mu);
    return v;
}

int zr_lock_release(zr_lock *l)
{
    if (l == NULL)
        return ZN_EBADARGUMENTS;
    struct zr_session *s = l->s;
    int rc = zn_delete(s->zh, l->node, -1);
    if (rc == ZN_ENONODE)
        rc = 0;
    /* Unlink: on_state runs under s->mu, so none runs on l after this. */
    pthread_mutex_lock(&s->mu);
    for (struct zr_obj **pp = &s->objs; *pp; pp = &(*pp)->next) {
        if (*pp == &l->obj) {
            *pp = l->obj.next;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    lock_free(&l->obj);
    return rc;
}

/* ---- barriers ------------------------------------------------------------------------------ */

int zr_barrier_set(zn_handle *zh, const char *path)
{
    int rc = zn_create(zh, path, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    return rc == ZN_ENODEEXISTS ? 0 : rc;
}

int zr_barrier_remove(zn_handle *zh, const char *path)
{
    int rc = zn_delete(zh, path, -1);
    return rc == ZN_ENONODE ? 0 : rc;
}

int zr_barrier_wait(zn_handle *zh, const char *path, int timeout_ms)
{
    if (zh == NULL || path == NULL)
        return ZN_EBADARGUMENTS;
    int64_t deadline = zr_deadline(timeout_ms);
    for (;;) {
        struct zr_waiter w;
        zr_waiter_init(&w);
        int rc = zn_wexists(zh, path, zr_waiter_watch, zr_waiter_ctx(&w), NULL);
        if (rc == ZN_ENONODE) {
            zr_waiter_done(&w);
            return 0;
        }
        if (rc == 0)
            rc = zr_waiter_wait(&w, deadline);
        zr_waiter_done(&w);
        if (rc != 0)
            return rc;
    }
}

static int count_members(zn_handle *zh, const char *path, struct zr_waiter *w, int *count)
{
    struct zn_strings ch = {0, NULL};
    int rc = w ? zn_wget_children(zh, path, zr_waiter_watch, zr_waiter_ctx(w), &ch)
               : zn_get_children(zh, path, 0, &ch);
    *count = 0;
    for (int32_t i = 0; rc == 0 && i < ch.count; i++)
        if (strcmp(ch.data[i], "ready") != 0)
            (*count)++;
    zn_strings_free(&ch);
    return rc;
}

int zr_dbarrier_enter(zn_handle *zh, const char *path, const char *name, int count, int timeout_ms)
{
    if (zh == NULL || path == NULL || name == NULL || count <= 0 || strcmp(name, "ready") == 0)
        return ZN_EBADARGUMENTS;
    int64_t deadline = zr_deadline(timeout_ms);
    char me[ZR_PATH_MAX], ready[ZR_PATH_MAX];
    int rc = zr_join(me, sizeof(me), path, name);
    if (rc == 0)
        rc = zr_join(ready, sizeof(ready), path, "ready");
    if (rc == 0)
        rc = zr_ensure_path(zh, path);
    if (rc == 0)
        rc = zn_create(zh, me, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, NULL);
    if (rc != 0 && rc != ZN_ENODEEXISTS)
        return rc;
    for (;;) {
        struct zr_waiter w;
        zr_waiter_init(&w);
        /* Watch "ready" (the last to arrive creates it), then count. */
        rc = zn_wexists(zh, ready, zr_waiter_watch, zr_waiter_ctx(&w), NULL);
        if (rc == 0) {
            zr_waiter_done(&w);
            return 0;
        }
        int n = 0;
        if (rc == ZN_ENONODE)
            rc = count_members(zh, path, NULL, &n);
        if (rc == 0 && n >= count) {
            zr_waiter_done(&w);
            rc = zn_create(zh, ready, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0,
                           NULL);
            return rc == ZN_ENODEEXISTS ? 0 : rc;
        }
        if (rc == 0)
            rc = zr_waiter_wait(&w, deadline);
        zr_waiter_done(&w);
        if (rc != 0) {
            (void)zn_delete(zh, me, -1);
            return rc;
        }
    }
}

int zr_dbarrier_leave(zn_handle *zh, const char *path, const char *name, int timeout_ms)
{
    if (zh == NULL || path == NULL || name == NULL)
        return ZN_EBADARGUMENTS;
    int64_t deadline = zr_deadline(timeout_ms);
    char me[ZR_PATH_MAX], ready[ZR_PATH_MAX];
    int rc = zr_join(me, sizeof(me), path, name);
    if (rc == 0)
        rc = zr_join(ready, sizeof(ready), path, "ready");
    if (rc != 0)
        return rc;
    rc = zn_delete(zh, me, -1);
    if (rc != 0 && rc != ZN_ENONODE)
        return rc;
    for (;;) {
        struct zr_waiter w;
        zr_waiter_init(&w);
        int n = 0;
        rc = count_members(zh, path, &w, &n);
        if (rc == 0 && n == 0) {
            zr_waiter_done(&w);
            rc = zn_delete(zh, ready, -1);
            return rc == ZN_ENONODE ? 0 : rc;
        }
        if (rc == 0)
            rc = zr_waiter_wait(&w, deadline);
        zr_waiter_done(&w);
        if (rc != 0)
            return rc;
    }
}

/* ---- queue --------------------------------------------------------------------------------- */

int zr_queue_put(zn_handle *zh, const char *path, const char *data, int32_t len)
{
    if (zh == NULL || path == NULL || len < -1)
        return ZN_EBADARGUMENTS;
    char prefix[ZR_PATH_MAX];
    int rc = zr_join(prefix, sizeof(prefix), path, "q-");
    for (int attempt = 0; rc == 0 && attempt < 2; attempt++) {
        rc = zn_create(zh, prefix, data, len, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT_SEQUENTIAL, 0,
                       NULL, 0, NULL);
        if (rc != ZN_ENONODE || attempt > 0)
            break;
        rc = zr_ensure_path(zh, path);
    }
    return rc;
}

static int str_seq_cmp(const void *a, const void *b)
{
    int64_t x = zr_seq_of(*(char *const *)a), y = zr_seq_of(*(char *const *)b);
    return x < y ? -1 : x > y;
}

int zr_queue_take(zn_handle *zh, const char *path, int timeout_ms, char *buf, int32_t *len)
{
    if (zh == NULL || path == NULL || buf == NULL || len == NULL || *len < 0)
        return ZN_EBADARGUMENTS;
    int64_t deadline = zr_deadline(timeout_ms);
    for (;;) {
        struct zr_waiter w;
        zr_waiter_init(&w);
        struct zn_strings ch = {0, NULL};
        int rc = timeout_ms != 0
                     ? zn_wget_children(zh, path, zr_waiter_watch, zr_waiter_ctx(&w), &ch)
                     : zn_get_children(zh, path, 0, &ch);
        if (rc == ZN_ENONODE) { /* no queue yet: create it and look again */
            zr_waiter_done(&w);
            if ((rc = zr_ensure_path(zh, path)) != 0)
                return rc;
            continue;
        }
        if (rc != 0) {
            zn_strings_free(&ch);
            zr_waiter_done(&w);
            return rc;
        }
        int32_t k = 0;
        for (int32_t i = 0; i < ch.count; i++)
            if (strncmp(ch.data[i], "q-", 2) == 0 && zr_seq_of(ch.data[i]) >= 0)
                ch.data[k++] = ch.data[i];
            else
                free(ch.data[i]);
        ch.count = k;
        qsort(ch.data, (size_t)k, sizeof(char *), str_seq_cmp);
        for (int32_t i = 0; i < k; i++) {
            char p[ZR_PATH_MAX];
            if (zr_join(p, sizeof(p), path, ch.data[i]) != 0)
                continue;
            int32_t n = *len;
            rc = zn_get(zh, p, 0, buf, &n, NULL);
            if (rc == ZN_ENONODE)
                continue;
            if (rc == 0)
                rc = zn_delete(zh, p, -1); /* the one delete that succeeds owns the element */
            if (rc == ZN_ENONODE)
                continue;
            zn_strings_free(&ch);
            zr_waiter_done(&w);
            if (rc == 0)
                *len = n;
            return rc;
        }
        zn_strings_free(&ch);
        rc = timeout_ms == 0 ? ZN_ENONODE : zr_waiter_wait(&w, deadline);
        zr_waiter_done(&w);
        if (rc != 0)
            return rc;
    }
}
