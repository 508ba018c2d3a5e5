/*
 * zr_election.c - Ring-style (succession chain) and Bully-style (priority with hand-off)
 * leader election. The state machine runs on the session's I/O thread (async calls only);
 * API calls from other threads take e->mu. See zn_recipes.h and docs/client.md "Recipes".
 *
 * Candidate names sort in succession order as plain strings:
 *   Ring:  n-<seq>                          (lowest sequence first)
 *   Bully: p<999999999 - priority>-<seq>    (highest priority first, then join order)
 * Ring: the first candidate leads (token = czxid of its node); every other watches only its
 * predecessor. Bully: leadership is the ephemeral node <path>/leader (token = its czxid). The
 * first candidate creates it; if another (lower) candidate holds it, the first asks it to
 * yield through the ephemeral node <path>/yield (create, or set when it exists) which the
 * leader watches, and watches <path>/leader; every other candidate watches its predecessor.
 */
#include "client/recipes/zr_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZR_PRIO_MAX 999999999u

struct zr_election {
    struct zr_obj obj; /* first */
    struct zr_session *s;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char dir[ZR_PATH_MAX];
    char name[ZR_NAME_MAX];
    char my_path[ZR_PATH_MAX];
    char leader_path[ZR_PATH_MAX];
    char yield_path[ZR_PATH_MAX];
    int style;
    bool auto_yield;
    zr_election_fn cb;
    void *ctx;
    int64_t my_czxid;
    /* I/O thread only: the predecessor whose exists watch (recheck_watch) is registered, "" when
     * none. A newcomer inserted ahead of this candidate makes it a *former* predecessor: the
     * next check removes that watch when it watches the new one, so the former predecessor's
     * end does not wake this candidate (tests/recipes test_election "herd"). */
    char watched[ZR_PATH_MAX];
    /* under mu */
    bool leader;
    int64_t token;
    int32_t leader_version;
    /* Bully: the token (leader node czxid) of the leader node this candidate gave up (yield).
     * An exists reply in flight across the yield still shows that node as ours; it must not
     * make this candidate leader again while its delete is on the way (two leaders). */
    int64_t given_up;
    bool closed, ended, suspended, yield_signalled;
};

static void election_check(struct zr_election *e);

static void emit(struct zr_election *e, int ev, int64_t token)
{
    pthread_mutex_lock(&e->mu);
    pthread_cond_broadcast(&e->cond);
    bool quiet = e->closed;
    pthread_mutex_unlock(&e->mu);
    if (!quiet && e->cb)
        e->cb(e, ev, token, e->ctx);
}

static bool gone(struct zr_election *e)
{
    pthread_mutex_lock(&e->mu);
    bool g = e->closed || e->ended;
    pthread_mutex_unlock(&e->mu);
    return g;
}

static void become_leader(struct zr_election *e, int64_t token, int32_t version);
static void on_exists_recheck(int rc, const struct zn_stat *st, const void *data);

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_candidate(int style, const char *name)
{
    if (style == ZR_ELECT_RING)
        return strncmp(name, "n-", 2) == 0 && zr_seq_of(name) >= 0;
    return name[0] == 'p' && name[1] >= '0' && name[1] <= '9' && zr_seq_of(name) >= 0;
}

/* Keep the candidates of `style`, in succession order. */
static void order_candidates(int style, struct zn_strings *names)
{
    int32_t k = 0;
    for (int32_t i = 0; i < names->count; i++) {
        if (is_candidate(style, names->data[i]))
            names->data[k++] = names->data[i];
        else
            free(names->data[i]);
    }
    names->count = k;
    if (k > 1)
        qsort(names->data, (size_t)k, sizeof(char *), name_cmp);
}

static void lose(struct zr_election *e, bool end)
{
    pthread_mutex_lock(&e->mu);
    bool was = e->leader;
    int64_t t = e->token;
    e->leader = false;
    bool first_end = end && !e->ended;
    if (end)
        e->ended = true;
    pthread_mutex_unlock(&e->mu);
    if (was)
        emit(e, ZR_LOST, t);
    if (first_end)
        emit(e, ZR_ENDED, 0);
}

/* ---- watchers and completions (I/O thread) ------------------------------------------------ */

static bool is_watch_removed(int type)
{
    return type == ZN_EVENT_DATA_WATCH_REMOVED || type == ZN_EVENT_CHILD_WATCH_REMOVED ||
           type == ZN_EVENT_PERSISTENT_WATCH_REMOVED;
}

static void recheck_watch(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    struct zr_election *e = ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    if (path != NULL && strcmp(path, e->watched) == 0)
        e->watched[0] = '\0'; /* one-shot: fired (or removed by us) */
    if (!is_watch_removed(type) && !gone(e))
        election_check(e);
}

/* Watch `pred` (NULL: none) as this candidate's predecessor; a watch still registered on a
 * former predecessor is removed first (its end is no longer this candidate's business). */
static void watch_pred(struct zr_election *e, const char *pred)
{
    zn_handle *zh = e->s->zh;
    if (e->watched[0] != '\0' && (pred == NULL || strcmp(e->watched, pred) != 0)) {
        (void)zn_aremove_watches(zh, e->watched, ZN_WATCHER_DATA, recheck_watch, e, 0, NULL, NULL);
        e->watched[0] = '\0';
    }
    if (pred == NULL)
        return;
    snprintf(e->watched, sizeof(e->watched), "%s", pred);
    (void)zn_awexists(zh, pred, recheck_watch, e, on_exists_recheck, e);
}

static void on_exists_recheck(int rc, const struct zn_stat *st, const void *data)
{
    (void)st;
    struct zr_election *e = (struct zr_election *)data;
    if (rc == ZN_ENONODE && !gone(e))
        election_check(e);
}

static void on_yield_exists(int rc, const struct zn_stat *st, const void *data);

static void yield_watch(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    (void)path;
    struct zr_election *e = ctx;
    if (type == ZN_EVENT_SESSION || gone(e))
        return;
    pthread_mutex_lock(&e->mu);
    bool leader = e->leader;
    pthread_mutex_unlock(&e->mu);
    if (leader)
        (void)zn_awexists(zh, e->yield_path, yield_watch, e, on_yield_exists, e);
}

/* The yield node this candidate created when it asked for a hand-off: delete it only if it
 * still holds our own request (version-checked), so a newer requester's set is not lost. */
static void on_own_yield(int rc, const char *v, int32_t len, const struct zn_stat *st,
                         const void *data)
{
    struct zr_election *e = (struct zr_election *)data;
    if (rc != 0 || gone(e))
        return;
    if (v && len == (int32_t)strlen(e->name) && memcmp(v, e->name, (size_t)len) == 0 &&
        st->version == 0)
        (void)zn_adelete(e->s->zh, e->yield_path, st->version, NULL, NULL);
    else
        election_check(e);
}

static void on_yield_exists(int rc, const struct zn_stat *st, const void *data)
{
    struct zr_election *e = (struct zr_election *)data;
    if (rc != 0 || gone(e))
        return;
    if (st->ephemeral_owner == zn_session_id(e->s->zh))
        (void)zn_aget(e->s->zh, e->yield_path, 0, on_own_yield, e); /* my old request? */
    else
        election_check(e); /* a request: the check decides whether it outranks this leader */
}

static void become_leader(struct zr_election *e, int64_t token, int32_t version)
{
    pthread_mutex_lock(&e->mu);
    bool fresh = !e->leader && !e->closed && !e->ended && !e->suspended &&
                 (e->style != ZR_ELECT_BULLY || token != e->given_up);
    if (fresh) {
        e->leader = true;
        e->token = token;
        e->leader_version = version;
        e->yield_signalled = false;
    }
    pthread_mutex_unlock(&e->mu);
    if (!fresh)
        return;
    emit(e, ZR_ELECTED, token);
    if (e->style == ZR_ELECT_BULLY)
        (void)zn_awexists(e->s->zh, e->yield_path, yield_watch, e, on_yield_exists, e);
}

static void on_yield_create(int rc, const char *path, const struct zn_stat *st, const void *data)
{
    (void)path;
    (void)st;
    struct zr_election *e = (struct zr_election *)data;
    if (rc == ZN_ENODEEXISTS && !gone(e)) /* a request is there: touch it so the leader looks */
        (void)zn_aset(e->s->zh, e->yield_path, e->name, (int32_t)strlen(e->name), -1, NULL, NULL);
}

static void request_watch(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    struct zr_election *e = ctx;
    if (type == ZN_EVENT_DELETED && !gone(e))
        election_check(e);
    else if (type != ZN_EVENT_SESSION && !gone(e))
        (void)zn_awexists(zh, e->yield_path, request_watch, e, NULL, NULL);
}

static void on_leader_exists(int rc, const struct zn_stat *st, const void *data)
{
    struct zr_election *e = (struct zr_election *)data;
    if (gone(e))
        return;
    if (rc == ZN_ENONODE) {
        election_check(e);
    } else if (rc == 0 && st->ephemeral_owner == zn_session_id(e->s->zh)) {
        become_leader(e, st->czxid, st->version); /* still ours (resumed after a suspension) */
        election_check(e);
    } else if (rc == 0) {
        /* Ask the leader to yield, and watch the request: if it disappears before the hand-off
         * (its creator - an earlier requester that became leader - removed it), ask again. */
        (void)zn_acreate(e->s->zh, e->yield_path, e->name, (int32_t)strlen(e->name),
                         &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, on_yield_create, e);
        (void)zn_awexists(e->s->zh, e->yield_path, request_watch, e, NULL, NULL);
    }
}

static void on_leader_create(int rc, const char *path, const struct zn_stat *st, const void *data)
{
    (void)path;
    struct zr_election *e = (struct zr_election *)data;
    if (gone(e))
        return;
    if (rc == 0)
        become_leader(e, st->czxid, st->version);
    else if (rc == ZN_ENODEEXISTS)
        (void)zn_awexists(e->s->zh, e->leader_path, recheck_watch, e, on_leader_exists, e);
    else if (rc == ZN_ETIMEDOUT)
        election_check(e);
}

static void on_resume(int rc, const struct zn_stat *st, const void *data)
{
    struct zr_election *e = (struct zr_election *)data;
    if (gone(e))
        return;
    if (rc == 0 && st->ephemeral_owner == zn_session_id(e->s->zh))
        become_leader(e, st->czxid, st->version);
    election_check(e);
}

static void on_children(int rc, const struct zn_strings *strings, const void *data)
{
    struct zr_election *e = (struct zr_election *)data;
    if (gone(e))
        return;
    if (rc != 0) {
        if (rc == ZN_ETIMEDOUT)
            election_check(e);
        return; /* suspension/expiry: the state callback takes over */
    }
    struct zn_strings names = {0, NULL};
    names.data = calloc((size_t)(strings->count > 0 ? strings->count : 1), sizeof(char *));
    if (names.data == NULL)
        return;
    for (int32_t i = 0; i < strings->count; i++) {
        names.data[i] = strdup(strings->data[i]);
        if (names.data[i] == NULL)
            break;
        names.count = i + 1;
    }
    order_candidates(e->style, &names);
    int32_t idx = -1;
    for (int32_t i = 0; i < names.count; i++)
        if (strcmp(names.data[i], e->name) == 0)
            idx = i;
    char pred[ZR_PATH_MAX] = "";
    if (idx > 0)
        (void)zr_join(pred, sizeof(pred), e->dir, names.data[idx - 1]);
    zn_strings_free(&names);

    if (idx < 0) { /* our candidate node is gone: the candidacy is over */
        lose(e, true);
        return;
    }
    pthread_mutex_lock(&e->mu);
    bool leader = e->leader;
    bool signal_yield = e->style == ZR_ELECT_BULLY && leader && idx > 0 && !e->yield_signalled;
    if (signal_yield)
        e->yield_signalled = true;
    pthread_mutex_unlock(&e->mu);
    zn_handle *zh = e->s->zh;
    if (e->style == ZR_ELECT_RING) {
        watch_pred(e, idx > 0 ? pred : NULL);
        if (idx == 0)
            become_leader(e, e->my_czxid, 0);
        return;
    }
    if (leader) {
        if (signal_yield) {
            emit(e, ZR_YIELD_REQUESTED, e->token);
            if (e->auto_yield)
                (void)zr_election_yield(e);
        }
        return;
    }
    watch_pred(e, idx > 0 ? pred : NULL);
    if (idx == 0)
        (void)zn_acreate(zh, e->leader_path, e->name, (int32_t)strlen(e->name), &ZN_OPEN_ACL_UNSAFE,
                         ZN_EPHEMERAL, 0, on_leader_create, e);
}

static void election_check(struct zr_election *e)
{
    (void)zn_aget_children(e->s->zh, e->dir, 0, on_children, e);
}

static void on_state(struct zr_obj *o, int state)
{
    struct zr_election *e = (struct zr_election *)o;
    if (gone(e))
        return;
    if (state == ZN_STATE_SUSPENDED) {
        pthread_mutex_lock(&e->mu);
        e->suspended = true;
        pthread_mutex_unlock(&e->mu);
        lose(e, false);
    } else if (state == ZN_STATE_CONNECTED) {
        pthread_mutex_lock(&e->mu);
        bool was = e->suspended;
        e->suspended = false;
        pthread_mutex_unlock(&e->mu);
        if (!was)
            return;
        if (e->style == ZR_ELECT_BULLY)
            (void)zn_aexists(e->s->zh, e->leader_path, 0, on_resume, e);
        else
            election_check(e);
    } else if (state == ZN_STATE_EXPIRED || state == ZN_STATE_CLOSED ||
               state == ZN_STATE_AUTH_FAILED) {
        lose(e, true);
    }
}

static void election_free(struct zr_obj *o)
{
    struct zr_election *e = (struct zr_election *)o;
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cond);
    free(e);
}

/* ---- API ---------------------------------------------------------------------------------- */

int zr_election_join(zr_session *s, const char *path, const struct zr_election_opts *o,
                     zr_election **out)
{
    if (s == NULL || path == NULL || o == NULL || out == NULL ||
        (o->style != ZR_ELECT_RING && o->style != ZR_ELECT_BULLY) || o->priority > ZR_PRIO_MAX ||
        o->payload_len < -1)
        return ZN_EBADARGUMENTS;
    *out = NULL;
    struct zr_election *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return ZN_ENOMEM;
    e->obj.on_state = on_state;
    e->obj.free_fn = election_free;
    e->s = s;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cond, NULL);
    e->style = o->style;
    e->auto_yield = o->auto_yield;
    e->cb = o->cb;
    e->ctx = o->ctx;
    size_t n = strlen(path);
    int rc = n + 1 < sizeof(e->dir) ? 0 : ZN_ELIMIT;
    if (rc == 0) {
        memcpy(e->dir, path, n + 1);
        rc = zr_join(e->leader_path, sizeof(e->leader_path), path, "leader");
    }
    if (rc == 0)
        rc = zr_join(e->yield_path, sizeof(e->yield_path), path, "yield");
    char prefix[ZR_PATH_MAX];
    char leaf[32];
    if (o->style == ZR_ELECT_RING)
        snprintf(leaf, sizeof(leaf), "n-");
    else
        snprintf(leaf, sizeof(leaf), "p%09u-", ZR_PRIO_MAX - o->priority);
    if (rc == 0)
        rc = zr_join(prefix, sizeof(prefix), path, leaf);
    if (rc == 0)
        rc = zr_ensure_path(s->zh, path);
    struct zn_stat st;
    if (rc == 0)
        rc = zn_create(s->zh, prefix, o->payload, o->payload ? o->payload_len : -1,
                       &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL_SEQUENTIAL, 0, e->my_path,
                       (int)sizeof(e->my_path), &st);
    if (rc != 0) {
        election_free(&e->obj);
        return rc;
    }
    e->my_czxid = st.czxid;
    snprintf(e->name, sizeof(e->name), "%s", strrchr(e->my_path, '/') + 1);
    zr_session_add(s, &e->obj);
    election_check(e);
    *out = e;
    return 0;
}

int zr_election_leave(zr_election *e)
{
    if (e == NULL)
        return ZN_EBADARGUMENTS;
    pthread_mutex_lock(&e->mu);
    bool was = e->leader;
    int32_t v = e->leader_version;
    e->leader = false;
    e->closed = true;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
    zn_handle *zh = e->s->zh;
    int rc = 0;
    if (was && e->style == ZR_ELECT_BULLY) {
        rc = zn_delete(zh, e->leader_path, v);
        if (rc == ZN_ENONODE || rc == ZN_EBADVERSION)
            rc = 0;
    }
    if (e->style == ZR_ELECT_BULLY) {
        struct zn_stat st;
        if (zn_exists(zh, e->yield_path, 0, &st) == 0 && st.ephemeral_owner == zn_session_id(zh))
            (void)zn_delete(zh, e->yield_path, st.version);
    }
    int rc2 = zn_delete(zh, e->my_path, -1);
    if (rc2 == ZN_ENONODE)
        rc2 = 0;
    return rc != 0 ? rc : rc2;
}

bool zr_election_is_leader(zr_election *e, int64_t *token)
{
    if (e == NULL)
        return false;
    pthread_mutex_lock(&e->mu);
    bool l = e->leader;
    if (token)
        *token = l ? e->token : 0;
    pthread_mutex_unlock(&e->mu);
    return l;
}

int zr_election_wait_leader(zr_election *e, int timeout_ms, int64_t *token)
{
    if (e == NULL)
        return ZN_EBADARGUMENTS;
    int64_t deadline = zr_deadline(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    while (!e->leader) {
        if (e->ended || e->closed) {
            rc = ZN_ESESSIONEXPIRED;
            break;
        }
        int64_t now = zr_now_ms();
        if (now >= deadline) {
            rc = ZN_ETIMEDOUT;
            break;
        }
        int64_t wait_ms = deadline - now < 1000 ? deadline - now : 1000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + wait_ms * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        (void)pthread_cond_timedwait(&e->cond, &e->mu, &ts);
    }
    if (token)
        *token = e->leader ? e->token : 0;
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int zr_election_yield(zr_election *e)
{
    if (e == NULL)
        return ZN_EBADARGUMENTS;
    pthread_mutex_lock(&e->mu);
    if (!e->leader || e->style != ZR_ELECT_BULLY) {
        pthread_mutex_unlock(&e->mu);
        return ZN_ENOTLEADER;
    }
    e->leader = false;
    e->yield_signalled = false;
    e->given_up = e->token;
    int32_t v = e->leader_version;
    int64_t t = e->token;
    pthread_mutex_unlock(&e->mu);
    emit(e, ZR_LOST, t); /* in this thread, before the hand-off can complete */
    /* The delete is ordered after every write this leader made (session FIFO). The candidate
     * stays: the next check makes it watch its predecessor. */
    int rc = zn_adelete(e->s->zh, e->leader_path, v, NULL, NULL);
    if (rc == 0)
        election_check(e);
    return rc;
}

int zr_election_leader_node(zr_election *e, char *buf, int buf_len)
{
    if (e == NULL || buf == NULL || buf_len <= 0)
        return ZN_EBADARGUMENTS;
    /* The candidate node for both styles: it exists exactly while this candidate's session
     * lives, so a check on it rejects a paused leader whose session expired (the Bully leader
     * node would not: after a new term it exists again, owned by the next leader). */
    int n = snprintf(buf, (size_t)buf_len, "%s", e->my_path);
    return n < buf_len ? 0 : ZN_ELIMIT;
}

int zr_election_write(zr_election *e, const char *reg, const char *value, int32_t len)
{
    int64_t token;
    if (e == NULL || reg == NULL)
        return ZN_EBADARGUMENTS;
    if (!zr_election_is_leader(e, &token))
        return ZN_ENOTLEADER;
    return zr_register_write(e->s->zh, reg, e->my_path, token, value, len);
}

const char *zr_election_name(zr_election *e)
{
    return e ? e->name : NULL;
}

int zr_election_list(zn_handle *zh, const char *path, int style, struct zn_strings *names)
{
    if (zh == NULL || path == NULL || names == NULL ||
        (style != ZR_ELECT_RING && style != ZR_ELECT_BULLY))
        return ZN_EBADARGUMENTS;
    int rc = zn_get_children(zh, path, 0, names);
    if (rc == 0)
        order_candidates(style, names);
    return rc;
}
