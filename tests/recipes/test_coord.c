/*
 * test_coord.c - locks, barriers, queue, membership and config watch, each with concurrent
 * clients (threads, each its own session) and client kills:
 *   test_coord lock|rwlock|barrier|queue|group|config
 * Runs against the in-process fake node, or ZN_TEST_CONNECT (crash steps need the fake node
 * and are replaced by a session close there).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/recipes/rt_harness.h"

static struct rt_env env;
static zr_session *admin;
static char base[128];

/* Crash a session: expire + reap on the fake node, else close it (the caller then must not
 * use it again). */
static void crash(zr_session *s, const char *dir)
{
    if (env.fake)
        (void)rt_crash(&env, zr_session_handle(admin), dir, zn_session_id(zr_session_handle(s)));
}

/* ---- exclusive lock: fenced counter under crashes ------------------------------------------- */

#define LOCK_WORKERS 4
#define LOCK_SECONDS 4

static char lock_dir[160], counter[160];
static atomic_int max_holders, acked, rejected, crashes_seen;
static atomic_llong worker_sid[LOCK_WORKERS];
static atomic_llong crashed_sid[LOCK_WORKERS]; /* set before the crash takes effect */
static atomic_bool holding[LOCK_WORKERS];
static atomic_bool lock_stop;

/* One increment under the lock: read, then a fenced multi (check lock node, set). */
static int fenced_increment(zn_handle *zh, zr_lock *l)
{
    char buf[32];
    int32_t n = sizeof(buf) - 1;
    int rc = zn_get(zh, counter, 0, buf, &n, NULL);
    if (rc != 0)
        return rc;
    buf[n > 0 ? n : 0] = '\0';
    long v = strtol(buf, NULL, 10);
    char out[32];
    int len = snprintf(out, sizeof(out), "%ld", v + 1);
    struct zn_op op;
    zn_op_set(&op, counter, out, len, -1); /* unconditional: only the lock protects it */
    struct zn_op_result res[2];
    memset(res, 0, sizeof(res));
    rc = zr_fenced_multi(zh, zr_lock_node(l), 1, &op, res);
    zn_op_results_free(res, 2);
    return rc;
}

static void *lock_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    zr_session *s = NULL;
    while (!atomic_load(&lock_stop)) {
        if (s == NULL) {
            RT_CHECK(rt_open(&env, NULL, 1500, &s) == 0, "open");
            atomic_store(&worker_sid[id], zn_session_id(zr_session_handle(s)));
        }
        zn_handle *zh = zr_session_handle(s);
        zr_lock *l;
        int rc = zr_lock_acquire(s, lock_dir, 3000, &l);
        if (rc != 0) {
            if (zn_state(zh) == ZN_STATE_EXPIRED) {
                atomic_fetch_add(&crashes_seen, 1);
                zr_session_close(s);
                s = NULL;
            }
            continue;
        }
        /* Mutual exclusion among holders whose session the test has not crashed (a crashed
         * holder may still believe it holds: fencing must reject its write). */
        atomic_store(&holding[id], true);
        int live = 0;
        for (int k = 0; k < LOCK_WORKERS; k++)
            if (atomic_load(&holding[k]) &&
                atomic_load(&crashed_sid[k]) != atomic_load(&worker_sid[k]))
                live++;
        if (live > atomic_load(&max_holders))
            atomic_store(&max_holders, live);
        rc = fenced_increment(zh, l);
        atomic_store(&holding[id], false);
        if (rc == 0)
            atomic_fetch_add(&acked, 1);
        else
            atomic_fetch_add(&rejected, 1);
        (void)zr_lock_release(l);
        if (zn_state(zh) == ZN_STATE_EXPIRED) {
            atomic_fetch_add(&crashes_seen, 1);
            zr_session_close(s);
            s = NULL;
        }
    }
    if (s)
        zr_session_close(s);
    return NULL;
}

static void test_lock(void)
{
    snprintf(lock_dir, sizeof(lock_dir), "%s/lock", base);
    snprintf(counter, sizeof(counter), "%s/counter", base);
    zn_handle *ah = zr_session_handle(admin);
    RT_CHECK(zn_create(ah, counter, "0", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) ==
                 0,
             "counter");
    pthread_t t[LOCK_WORKERS];
    for (int i = 0; i < LOCK_WORKERS; i++)
        pthread_create(&t[i], NULL, lock_worker, (void *)(intptr_t)i);
    int crashes = 0;
    uint64_t seed = (uint64_t)getpid();
    for (int ms = 0; ms < LOCK_SECONDS * 1000; ms += 250) {
        rt_sleep_ms(250);
        if (env.fake && ms % 500 == 0) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int victim = (int)((seed >> 33) % LOCK_WORKERS);
            int64_t sid = atomic_load(&worker_sid[victim]);
            if (sid != 0) {
                atomic_store(&crashed_sid[victim], sid);
                if (rt_crash(&env, ah, lock_dir, sid) >= 0)
                    crashes++;
            }
        }
    }
    atomic_store(&lock_stop, true);
    for (int i = 0; i < LOCK_WORKERS; i++)
        pthread_join(t[i], NULL);
    char buf[32];
    int32_t n = sizeof(buf) - 1;
    RT_CHECK(zn_sync(ah, counter) == 0, "sync: the workers' sessions wrote the counter");
    RT_CHECK(zn_get(ah, counter, 0, buf, &n, NULL) == 0, "read counter");
    buf[n] = '\0';
    long v = strtol(buf, NULL, 10);
    printf("lock: %d workers, %d crashes injected (%d seen), %d fenced increments acked, %d "
           "rejected, counter %ld, max holders with a live session %d\n",
           LOCK_WORKERS, crashes, atomic_load(&crashes_seen), atomic_load(&acked),
           atomic_load(&rejected), v, atomic_load(&max_holders));
    RT_CHECK(v == atomic_load(&acked), "counter %ld != acked increments %d (lost update)", v,
             atomic_load(&acked));
    RT_CHECK(atomic_load(&acked) >= 20, "too few increments");
    RT_CHECK(atomic_load(&max_holders) == 1, "mutual exclusion");
}

/* ---- a paused lock holder (fake node: its server muted past the session timeout) ---------- */

static void test_lockpause(void)
{
    if (!env.fake) {
        printf("lockpause: skipped (needs the fake node's mute and expiry)\n");
        return;
    }
    char dir[160], reg[160];
    snprintf(dir, sizeof(dir), "%s/plock", base);
    snprintf(reg, sizeof(reg), "%s/preg", base);
    zn_handle *ah = zr_session_handle(admin);
    zr_session *s1, *s2;
    RT_CHECK(rt_open(&env, env.host_a, 1500, &s1) == 0, "open on A");
    RT_CHECK(rt_open(&env, env.host_b, 1500, &s2) == 0, "open on B");
    zr_lock *l1, *l2;
    RT_CHECK(zr_lock_acquire(s1, dir, 5000, &l1) == 0, "holder 1");
    RT_CHECK(zr_register_write(zr_session_handle(s1), reg, zr_lock_node(l1), zr_lock_token(l1),
                               "one", 3) == 0,
             "holder 1 writes");
    RT_CHECK(zr_lock_acquire(s2, dir, 200, &l2) == ZN_ETIMEDOUT, "holder 2 waits");
    rt_mute_a(&env, true); /* holder 1 pauses */
    for (int i = 0; i < 300 && zr_lock_valid(l1); i++)
        rt_sleep_ms(10);
    RT_CHECK(!zr_lock_valid(l1), "the paused holder's lock invalid on suspension");
    RT_CHECK(rt_crash(&env, ah, dir, zn_session_id(zr_session_handle(s1))) >= 1, "expiry");
    RT_CHECK(zr_lock_acquire(s2, dir, 5000, &l2) == 0, "holder 2 after the expiry");
    RT_CHECK(zr_lock_token(l2) > zr_lock_token(l1), "tokens grow");
    RT_CHECK(zr_register_write(zr_session_handle(s2), reg, zr_lock_node(l2), zr_lock_token(l2),
                               "two", 3) == 0,
             "holder 2 writes");
    rt_mute_a(&env, false); /* holder 1 resumes and tries its write */
    int rc = zr_register_write(zr_session_handle(s1), reg, zr_lock_node(l1), zr_lock_token(l1),
                               "late", 4);
    RT_CHECK(rc != 0, "the resumed holder's write was accepted");
    struct zn_op op;
    struct zn_op_result res[2];
    memset(res, 0, sizeof(res));
    zn_op_set(&op, reg, "late", 4, -1);
    int rc2 = zr_fenced_multi(ah, zr_lock_node(l1), 1, &op, res);
    zn_op_results_free(res, 2);
    RT_CHECK(rc2 == ZN_ENONODE, "fenced on the old lock node: %s", zn_strerror(rc2));
    int rc3 = zr_register_write(ah, reg, NULL, zr_lock_token(l1), "late", 4);
    RT_CHECK(rc3 == ZN_ESTALE, "old token at the register: %s", zn_strerror(rc3));
    int64_t t;
    char v[8];
    int32_t n = sizeof(v);
    RT_CHECK(zr_register_read(ah, reg, &t, v, &n) == 0 && t == zr_lock_token(l2) && n == 3 &&
                 memcmp(v, "two", 3) == 0,
             "register holds holder 2's write");
    printf("lockpause: paused holder invalid on suspension; after its expiry the next holder "
           "(token %lld > %lld) wrote; the resumed holder's writes rejected (%s; fence %s; "
           "token %s)\n",
           (long long)zr_lock_token(l2), (long long)zr_lock_token(l1), zn_err_name(rc),
           zn_err_name(rc2), zn_err_name(rc3));
    (void)zr_lock_release(l1);
    RT_CHECK(zr_lock_release(l2) == 0, "release");
    zr_session_close(s1);
    zr_session_close(s2);
}

/* ---- read/write lock ------------------------------------------------------------------------ */

static atomic_int readers_in, writers_in, rw_violations, reads_done, writes_done;
static char rw_dir[160];

static void *rw_worker(void *arg)
{
    bool writer = ((intptr_t)arg) & 1;
    zr_session *s;
    RT_CHECK(rt_open(&env, NULL, 3000, &s) == 0, "open");
    for (int i = 0; i < 15; i++) {
        zr_lock *l;
        int rc =
            writer ? zr_rwlock_write(s, rw_dir, 10000, &l) : zr_rwlock_read(s, rw_dir, 10000, &l);
        RT_CHECK(rc == 0, "rwlock: %s", zn_strerror(rc));
        if (writer) {
            if (atomic_fetch_add(&writers_in, 1) != 0 || atomic_load(&readers_in) != 0)
                atomic_fetch_add(&rw_violations, 1);
            rt_sleep_ms(2);
            atomic_fetch_sub(&writers_in, 1);
            atomic_fetch_add(&writes_done, 1);
        } else {
            atomic_fetch_add(&readers_in, 1);
            if (atomic_load(&writers_in) != 0)
                atomic_fetch_add(&rw_violations, 1);
            rt_sleep_ms(2);
            atomic_fetch_sub(&readers_in, 1);
            atomic_fetch_add(&reads_done, 1);
        }
        RT_CHECK(zr_lock_token(l) > 0, "token");
        RT_CHECK(zr_lock_release(l) == 0, "release");
    }
    zr_session_close(s);
    return NULL;
}

static void test_rwlock(void)
{
    snprintf(rw_dir, sizeof(rw_dir), "%s/rw", base);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, rw_worker, (void *)(intptr_t)i);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    printf("rwlock: 3 readers, 3 writers: %d reads, %d writes, %d violations\n",
           atomic_load(&reads_done), atomic_load(&writes_done), atomic_load(&rw_violations));
    RT_CHECK(atomic_load(&rw_violations) == 0, "reader/writer exclusion violated");
    RT_CHECK(atomic_load(&reads_done) == 45 && atomic_load(&writes_done) == 45, "counts");
    /* A crashed writer's lock is released by its session's end. */
    zr_session *s1, *s2;
    RT_CHECK(rt_open(&env, NULL, 1500, &s1) == 0 && rt_open(&env, NULL, 1500, &s2) == 0, "open");
    zr_lock *w, *r;
    RT_CHECK(zr_rwlock_write(s1, rw_dir, 5000, &w) == 0, "write lock");
    RT_CHECK(zr_rwlock_read(s2, rw_dir, 300, &r) == ZN_ETIMEDOUT, "reader waits for the writer");
    if (env.fake) {
        crash(s1, rw_dir);
    } else {
        zr_session_close(s1);
        s1 = NULL;
    }
    RT_CHECK(zr_rwlock_read(s2, rw_dir, 5000, &r) == 0, "reader after the writer's crash");
    RT_CHECK(zr_lock_release(r) == 0, "release");
    if (s1)
        zr_session_close(s1);
    zr_session_close(s2);
    printf("rwlock: a crashed writer's lock freed by its session's end\n");
}

/* ---- barriers ------------------------------------------------------------------------------- */

#define BAR_N 6
static char bar_dir[160];
static atomic_int entered, left_, early_enter, early_leave;

static void *bar_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    zr_session *s;
    RT_CHECK(rt_open(&env, NULL, 3000, &s) == 0, "open");
    zn_handle *zh = zr_session_handle(s);
    char name[16];
    snprintf(name, sizeof(name), "p%d", id);
    atomic_fetch_add(&entered, 1);
    int rc = zr_dbarrier_enter(zh, bar_dir, name, BAR_N, 10000);
    RT_CHECK(rc == 0, "enter: %s", zn_strerror(rc));
    if (atomic_load(&entered) < BAR_N)
        atomic_fetch_add(&early_enter, 1);
    if (id == BAR_N - 1) { /* killed inside the barrier: never leaves */
        zr_session_close(s);
        return NULL;
    }
    rt_sleep_ms(10 * id);
    atomic_fetch_add(&left_, 1);
    rc = zr_dbarrier_leave(zh, bar_dir, name, 10000);
    RT_CHECK(rc == 0, "leave: %s", zn_strerror(rc));
    if (atomic_load(&left_) < BAR_N - 1)
        atomic_fetch_add(&early_leave, 1);
    zr_session_close(s);
    return NULL;
}

static void *single_waiter(void *arg)
{
    atomic_int *done = arg;
    RT_CHECK(zr_barrier_wait(zr_session_handle(admin), bar_dir, 10000) == 0, "barrier wait");
    atomic_fetch_add(done, 1);
    return NULL;
}

static void test_barrier(void)
{
    snprintf(bar_dir, sizeof(bar_dir), "%s/dbar", base);
    pthread_t t[BAR_N];
    for (int i = 0; i < BAR_N; i++) {
        pthread_create(&t[i], NULL, bar_worker, (void *)(intptr_t)i);
        rt_sleep_ms(20);
    }
    for (int i = 0; i < BAR_N; i++)
        pthread_join(t[i], NULL);
    printf("double barrier: %d in, nobody passed enter early (%d), one killed inside, the others "
           "left together (early %d)\n",
           BAR_N, atomic_load(&early_enter), atomic_load(&early_leave));
    RT_CHECK(atomic_load(&early_enter) == 0 && atomic_load(&early_leave) == 0, "barrier order");
    /* Single barrier. */
    snprintf(bar_dir, sizeof(bar_dir), "%s/bar", base);
    zn_handle *ah = zr_session_handle(admin);
    RT_CHECK(zr_ensure_path(ah, base) == 0, "base");
    RT_CHECK(zr_barrier_set(ah, bar_dir) == 0, "set");
    RT_CHECK(zr_barrier_wait(ah, bar_dir, 200) == ZN_ETIMEDOUT, "wait times out while set");
    atomic_int done = 0;
    pthread_t w[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&w[i], NULL, single_waiter, &done);
    rt_sleep_ms(100);
    RT_CHECK(atomic_load(&done) == 0, "nobody passes a set barrier");
    RT_CHECK(zr_barrier_remove(ah, bar_dir) == 0, "remove");
    for (int i = 0; i < 3; i++)
        pthread_join(w[i], NULL);
    RT_CHECK(atomic_load(&done) == 3, "all pass after remove");
    printf("barrier: 3 waiters held while set, released by remove\n");
}

/* ---- queue ---------------------------------------------------------------------------------- */

#define Q_PRODUCERS 3
#define Q_ITEMS     60
#define Q_CONSUMERS 3
static char q_dir[160];
static atomic_int taken_total;
static atomic_int seen[Q_PRODUCERS][Q_ITEMS];
static atomic_int order_violations;

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    zr_session *s;
    RT_CHECK(rt_open(&env, NULL, 3000, &s) == 0, "open");
    for (int i = 0; i < Q_ITEMS; i++) {
        char item[32];
        int n = snprintf(item, sizeof(item), "%d:%d", id, i);
        RT_CHECK(zr_queue_put(zr_session_handle(s), q_dir, item, n) == 0, "put");
    }
    zr_session_close(s);
    return NULL;
}

static void *consumer(void *arg)
{
    int id = (int)(intptr_t)arg;
    zr_session *s;
    RT_CHECK(rt_open(&env, NULL, 3000, &s) == 0, "open");
    int last[Q_PRODUCERS] = {-1, -1, -1};
    int mine = 0;
    while (atomic_load(&taken_total) < Q_PRODUCERS * Q_ITEMS) {
        char buf[32];
        int32_t n = sizeof(buf) - 1;
        int rc = zr_queue_take(zr_session_handle(s), q_dir, 300, buf, &n);
        if (rc == ZN_ETIMEDOUT)
            continue;
        RT_CHECK(rc == 0, "take: %s", zn_strerror(rc));
        buf[n] = '\0';
        int p = -1, i = -1;
        RT_CHECK(sscanf(buf, "%d:%d", &p, &i) == 2 && p >= 0 && p < Q_PRODUCERS && i >= 0 &&
                     i < Q_ITEMS,
                 "item '%s'", buf);
        atomic_fetch_add(&seen[p][i], 1);
        if (i <= last[p])
            atomic_fetch_add(&order_violations, 1);
        last[p] = i;
        atomic_fetch_add(&taken_total, 1);
        if (id == 0 && ++mine == 15) /* consumer 0 is killed after 15 items */
            break;
    }
    zr_session_close(s);
    return NULL;
}

static void test_queue(void)
{
    snprintf(q_dir, sizeof(q_dir), "%s/queue", base);
    pthread_t p[Q_PRODUCERS], c[Q_CONSUMERS];
    for (int i = 0; i < Q_CONSUMERS; i++)
        pthread_create(&c[i], NULL, consumer, (void *)(intptr_t)i);
    for (int i = 0; i < Q_PRODUCERS; i++)
        pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i);
    for (int i = 0; i < Q_PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < Q_CONSUMERS; i++)
        pthread_join(c[i], NULL);
    int dup = 0, missing = 0;
    for (int p2 = 0; p2 < Q_PRODUCERS; p2++)
        for (int i = 0; i < Q_ITEMS; i++) {
            int k = atomic_load(&seen[p2][i]);
            dup += k > 1;
            missing += k == 0;
        }
    printf("queue: %d producers x %d items, %d consumers (one killed after 15): %d taken, %d "
           "duplicates, %d missing, %d per-producer order violations\n",
           Q_PRODUCERS, Q_ITEMS, Q_CONSUMERS, atomic_load(&taken_total), dup, missing,
           atomic_load(&order_violations));
    RT_CHECK(dup == 0 && missing == 0, "exactly once");
    RT_CHECK(atomic_load(&order_violations) == 0, "FIFO per producer");
    char buf[8];
    int32_t n = sizeof(buf);
    RT_CHECK(zr_queue_take(zr_session_handle(admin), q_dir, 0, buf, &n) == ZN_ENONODE, "empty");
}

/* ---- group ---------------------------------------------------------------------------------- */

#define G_N 8
static atomic_int views, bad_payload;

static void on_view(zr_group *g, int count, const struct zr_member *m, void *ctx)
{
    (void)g;
    (void)ctx;
    atomic_fetch_add(&views, 1);
    for (int i = 0; i < count; i++) {
        char want[64];
        int n = snprintf(want, sizeof(want), "addr-of-%s", m[i].name);
        if (m[i].data_len != n || memcmp(m[i].data, want, (size_t)n) != 0)
            atomic_fetch_add(&bad_payload, 1);
    }
}

static int wait_members(zr_group *g, int want)
{
    struct zn_strings names = {0, NULL};
    for (int i = 0; i < 1000; i++) {
        RT_CHECK(zr_group_members(g, &names, NULL) == 0, "members");
        int n = names.count;
        zn_strings_free(&names);
        if (n == want)
            return n;
        rt_sleep_ms(10);
    }
    return -1;
}

static void test_group(void)
{
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/group", base);
    zr_group *g;
    RT_CHECK(zr_group_watch(admin, dir, on_view, NULL, &g) == 0, "watch");
    zr_session *m[G_N];
    for (int i = 0; i < G_N; i++) {
        RT_CHECK(rt_open(&env, NULL, 1500, &m[i]) == 0, "open");
        char name[16], data[64];
        snprintf(name, sizeof(name), "m%d", i);
        int n = snprintf(data, sizeof(data), "addr-of-%s", name);
        RT_CHECK(zr_group_join(zr_session_handle(m[i]), dir, name, data, n) == 0, "join");
    }
    RT_CHECK(wait_members(g, G_N) == G_N, "all %d members seen", G_N);
    zr_session_close(m[0]);
    zr_session_close(m[1]);
    RT_CHECK(zr_group_leave(zr_session_handle(m[2]), dir, "m2") == 0, "leave");
    int want = G_N - 3;
    if (env.fake) {
        crash(m[3], dir);
        want--;
    }
    RT_CHECK(wait_members(g, want) == want, "view shrinks to %d", want);
    uint64_t ver;
    struct zn_strings names = {0, NULL};
    RT_CHECK(zr_group_members(g, &names, &ver) == 0, "members");
    for (int i = 0; i < names.count; i++)
        RT_CHECK(strcmp(names.data[i], "m0") && strcmp(names.data[i], "m1") &&
                     strcmp(names.data[i], "m2") && (!env.fake || strcmp(names.data[i], "m3")),
                 "departed member %s still listed", names.data[i]); /* m3 crashes on fake only */
    zn_strings_free(&names);
    printf("group: %d members joined with payloads, 2 closed + 1 left + %d crashed -> %d in view "
           "(%d views, %d bad payloads)\n",
           G_N, env.fake, want, atomic_load(&views), atomic_load(&bad_payload));
    RT_CHECK(atomic_load(&bad_payload) == 0, "payloads");
    zr_group_close(g);
    for (int i = 2; i < G_N; i++)
        zr_session_close(m[i]);
}

/* ---- config --------------------------------------------------------------------------------- */

static atomic_int cfg_calls;

static void on_cfg(zr_config *c, const char *v, int32_t len, int64_t mzxid, void *ctx)
{
    (void)c;
    (void)v;
    (void)len;
    (void)mzxid;
    (void)ctx;
    atomic_fetch_add(&cfg_calls, 1);
}

static bool cfg_is(zr_config *c, const char *want)
{
    for (int i = 0; i < 500; i++) {
        char buf[64];
        int32_t n = sizeof(buf);
        RT_CHECK(zr_config_get(c, buf, &n, NULL) == 0, "get");
        if (want == NULL ? n == -1 : (n == (int32_t)strlen(want) && memcmp(buf, want, n) == 0))
            return true;
        rt_sleep_ms(10);
    }
    return false;
}

static void test_config(void)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/config", base);
    zn_handle *ah = zr_session_handle(admin);
    RT_CHECK(zr_ensure_path(ah, base) == 0, "base");
    zr_session *s;
    RT_CHECK(rt_open(&env, NULL, 3000, &s) == 0, "open");
    zr_config *c;
    RT_CHECK(zr_config_watch(s, path, on_cfg, NULL, &c) == 0, "watch");
    RT_CHECK(cfg_is(c, NULL), "missing at first");
    RT_CHECK(zn_create(ah, path, "v0", 2, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) ==
                 0,
             "create");
    RT_CHECK(cfg_is(c, "v0"), "created value seen");
    char v[16];
    for (int i = 1; i <= 20; i++) {
        int n = snprintf(v, sizeof(v), "v%d", i);
        RT_CHECK(zn_set(ah, path, v, n, -1, NULL) == 0, "set");
    }
    RT_CHECK(cfg_is(c, "v20"), "last of 20 updates seen");
    RT_CHECK(zn_delete(ah, path, -1) == 0, "delete");
    RT_CHECK(cfg_is(c, NULL), "deletion seen");
    RT_CHECK(zn_create(ah, path, "back", 4, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) ==
                 0,
             "re-create");
    RT_CHECK(cfg_is(c, "back"), "re-created value seen");
    printf("config: created, 20 updates, deleted, re-created: cached value current (%d "
           "callbacks)\n",
           atomic_load(&cfg_calls));
    zr_config_close(c);
    zr_session_close(s);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_coord lock|lockpause|rwlock|barrier|queue|group|config\n");
        return 2;
    }
    RT_CHECK(rt_env_init(&env) == 0, "environment");
    RT_CHECK(rt_open(&env, NULL, 5000, &admin) == 0, "admin session");
    snprintf(base, sizeof(base), "/test-%s-%d", argv[1], (int)getpid());
    RT_CHECK(zr_ensure_path(zr_session_handle(admin), base) == 0, "base");
    int64_t t0 = rt_now_us();
    if (strcmp(argv[1], "lock") == 0)
        test_lock();
    else if (strcmp(argv[1], "lockpause") == 0)
        test_lockpause();
    else if (strcmp(argv[1], "rwlock") == 0)
        test_rwlock();
    else if (strcmp(argv[1], "barrier") == 0)
        test_barrier();
    else if (strcmp(argv[1], "queue") == 0)
        test_queue();
    else if (strcmp(argv[1], "group") == 0)
        test_group();
    else if (strcmp(argv[1], "config") == 0)
        test_config();
    else
        return 2;
    zr_session_close(admin);
    rt_env_fini(&env);
    printf("PASS %s (%.1f s)\n", argv[1], (rt_now_us() - t0) / 1e6);
    return 0;
}
