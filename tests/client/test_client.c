/*
 * test_client.c - libzinc against the scripted fake node (fake_server.c) on 127.0.0.1.
 *
 * What is checked (docs/client.md "Tests"): every sync and async call round trip; FIFO
 * completion order under loss, duplication and reordering; retransmissions keep their seq and
 * are answered from the cached reply (each write applied once); events delivered in order,
 * exactly once and acked under duplication and reordering; a watch event before the data that
 * caused it; failover to a second node with the same session and watch re-registration; expiry
 * failing pending calls and firing the state callback; request timeouts; bad arguments refused
 * without sending; 1 MiB values segmented and reassembled both ways; chroot; the callback rule;
 * addAuth identities re-sent after a reconnect before any other request (and in their seq place
 * behind an unanswered call), a refused re-send ending the session, the identity bound.
 * Every wait is bounded (wait_until), every load is a fixed count.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/zinc.h"
#include "proto/zk.h"
#include "tests/client/fake_server.h"

#define CLUSTER_ID 77u

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Poll `cond` every millisecond for at most timeout_ms. */
static bool wait_until(bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
    uint64_t end = ms_now() + timeout_ms;
    while (ms_now() < end) {
        if (cond(arg))
            return true;
        sleep_ms(1);
    }
    return cond(arg);
}

static bool atomic_at_least(void *arg)
{
    int *p = ((int **)arg)[0];
    int want = *((int **)arg)[1];
    return __atomic_load_n(p, __ATOMIC_SEQ_CST) >= want;
}

static bool wait_count(int *counter, int want, unsigned timeout_ms)
{
    int *args[2] = {counter, &want};
    return wait_until(atomic_at_least, args, timeout_ms);
}

/* State callback recorder. */
struct states {
    int seq[32];
    int n;
};

static void on_state(zn_handle *zh, int state, void *ctx)
{
    (void)zh;
    struct states *s = ctx;
    int i = __atomic_fetch_add(&s->n, 1, __ATOMIC_SEQ_CST);
    if (i < 32)
        s->seq[i] = state;
}

static zn_handle *open_client(const char *hosts, uint32_t timeout_ms, struct states *st)
{
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = timeout_ms;
    o.cluster_id = CLUSTER_ID;
    o.shuffle_nodes = false;
    o.state_cb = st ? on_state : NULL;
    o.state_ctx = st;
    zn_handle *zh = NULL;
    int rc = zn_open(hosts, &o, &zh);
    cr_assert_eq(rc, 0, "zn_open(%s): %s", hosts, zn_strerror(rc));
    return zh;
}

static void hosts_of(char *buf, size_t cap, struct fake_server *a, struct fake_server *b,
                     const char *chroot)
{
    if (b)
        snprintf(buf, cap, "127.0.0.1:%u,127.0.0.1:%u%s", fake_server_port(a), fake_server_port(b),
                 chroot);
    else
        snprintf(buf, cap, "127.0.0.1:%u%s", fake_server_port(a), chroot);
}

/* ---- sync round trips ------------------------------------------------------------------- */

static int watch_events;
static int watch_last_type;
static char watch_last_path[256];

static void count_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    snprintf(watch_last_path, sizeof(watch_last_path), "%s", path);
    __atomic_store_n(&watch_last_type, type, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&watch_events, 1, __ATOMIC_SEQ_CST);
}

Test(client, sync_round_trips, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    struct states st = {0};
    zn_handle *zh = open_client(hosts, 3000, &st);
    cr_assert_eq(zn_state(zh), ZN_STATE_CONNECTED);
    cr_assert_neq(zn_session_id(zh), 0);
    cr_assert_eq(st.seq[0], ZN_STATE_CONNECTED);

    char path[64];
    struct zn_stat stat;
    cr_assert_eq(zn_create(zh, "/a", "hello", 5, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, path,
                           sizeof(path), &stat),
                 0);
    cr_assert_str_eq(path, "/a");
    cr_assert_eq(stat.data_length, 5);
    cr_assert_eq(zn_create(zh, "/a", "x", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL),
                 ZN_ENODEEXISTS);
    cr_assert_eq(zn_create(zh, "/a/s-", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT_SEQUENTIAL, 0,
                           path, sizeof(path), NULL),
                 0);
    cr_assert_str_eq(path, "/a/s-0000000000");
    cr_assert_eq(
        zn_create(zh, "/a/e", NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, &stat), 0);
    cr_assert_eq(stat.ephemeral_owner, zn_session_id(zh));
    cr_assert_eq(zn_create(zh, "/a/t", "t", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT_WITH_TTL, 5000,
                           NULL, 0, NULL),
                 0);
    cr_assert_eq(zn_create(zh, "/a/c", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_CONTAINER, 0, NULL, 0, NULL),
                 0);
    cr_assert_eq(zn_create(zh, "/nope/x", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL),
                 ZN_ENONODE);

    cr_assert_eq(zn_exists(zh, "/a", 0, &stat), 0);
    cr_assert_eq(stat.num_children, 4);
    cr_assert_eq(zn_exists(zh, "/zz", 0, &stat), ZN_ENONODE);

    char buf[16];
    int32_t len = sizeof(buf);
    cr_assert_eq(zn_get(zh, "/a", 0, buf, &len, &stat), 0);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(buf, "hello", 5), 0);
    len = 3;
    cr_assert_eq(zn_get(zh, "/a", 0, buf, &len, &stat), 0);
    cr_assert_eq(len, 3, "truncated copy");
    cr_assert_eq(stat.data_length, 5);
    len = sizeof(buf);
    cr_assert_eq(zn_get(zh, "/a/e", 0, buf, &len, NULL), 0);
    cr_assert_eq(len, -1, "null data");

    cr_assert_eq(zn_set(zh, "/a", "world!", 6, 0, &stat), 0);
    cr_assert_eq(stat.version, 1);
    cr_assert_eq(zn_set(zh, "/a", "x", 1, 0, NULL), ZN_EBADVERSION);

    struct zn_strings kids = {0};
    cr_assert_eq(zn_get_children(zh, "/a", 0, &kids), 0);
    cr_assert_eq(kids.count, 4);
    zn_strings_free(&kids);
    cr_assert_eq(zn_get_children2(zh, "/a", 0, &kids, &stat), 0);
    cr_assert_eq(kids.count, 4);
    cr_assert_eq(stat.num_children, 4);
    zn_strings_free(&kids);

    struct zn_acl_vec acl = {0};
    cr_assert_eq(zn_get_acl(zh, "/a", &acl, &stat), 0);
    cr_assert_eq(acl.count, 1);
    cr_assert_str_eq(acl.data[0].scheme, "world");
    cr_assert_str_eq(acl.data[0].id, "anyone");
    cr_assert_eq(acl.data[0].perms, ZN_PERM_ALL);
    zn_acl_vec_free(&acl);
    cr_assert_eq(zn_set_acl(zh, "/a/t", 0, &ZN_READ_ACL_UNSAFE), 0);
    cr_assert_eq(zn_set(zh, "/a/t", "no", 2, -1, NULL), ZN_ENOAUTH);
    cr_assert_eq(zn_get_acl(zh, "/a/t", &acl, &stat), 0);
    cr_assert_eq(acl.data[0].perms, ZN_PERM_READ);
    cr_assert_eq(stat.aversion, 1);
    zn_acl_vec_free(&acl);

    cr_assert_eq(zn_sync(zh, "/a"), 0);

    struct zn_op ops[3];
    struct zn_op_result res[3];
    zn_op_create(&ops[0], "/m", "1", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT);
    zn_op_set(&ops[1], "/m", "2", 1, 0);
    zn_op_check(&ops[2], "/m", 1);
    cr_assert_eq(zn_multi(zh, 3, ops, res), 0);
    cr_assert_str_eq(res[0].path, "/m");
    cr_assert_eq(res[1].stat.version, 1);
    zn_op_results_free(res, 3);
    zn_op_create(&ops[0], "/m2", "1", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT);
    zn_op_delete(&ops[1], "/missing", -1);
    zn_op_check(&ops[2], "/m", 1);
    cr_assert_eq(zn_multi(zh, 3, ops, res), ZN_ENONODE, "multi is all or nothing");
    cr_assert_eq(res[0].err, 0);
    cr_assert_eq(res[1].err, ZN_ENONODE);
    cr_assert_eq(res[2].err, ZN_EINCONSISTENT);
    zn_op_results_free(res, 3);
    cr_assert_eq(zn_exists(zh, "/m2", 0, NULL), ZN_ENONODE);

    zn_op_get(&ops[0], "/m");
    zn_op_children(&ops[1], "/a");
    zn_op_get(&ops[2], "/missing");
    cr_assert_eq(zn_multi_read(zh, 3, ops, res), 0);
    cr_assert_eq(res[0].err, 0);
    cr_assert_eq(res[0].data_len, 1);
    cr_assert_eq(res[0].data[0], '2');
    cr_assert_eq(res[1].children.count, 4);
    cr_assert_eq(res[2].err, ZN_ENONODE);
    zn_op_results_free(res, 3);

    cr_assert_eq(zn_add_watch(zh, "/a", ZN_WATCH_PERSISTENT_RECURSIVE, count_watcher, NULL), 0);
    cr_assert_eq(zn_check_watches(zh, "/a", ZN_WATCHER_ANY), 0);
    cr_assert_eq(zn_create(zh, "/a/w", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    cr_assert(wait_count(&watch_events, 1, 2000));
    cr_assert_eq(watch_last_type, ZN_EVENT_CREATED);
    cr_assert_str_eq(watch_last_path, "/a/w");
    cr_assert_eq(zn_remove_watches(zh, "/a", ZN_WATCHER_ANY, count_watcher, NULL, 0), 0);
    cr_assert(wait_count(&watch_events, 2, 2000));
    cr_assert_eq(watch_last_type, ZN_EVENT_PERSISTENT_WATCH_REMOVED);
    cr_assert_eq(zn_remove_watches(zh, "/a", ZN_WATCHER_ANY, count_watcher, NULL, 0),
                 ZN_ENOWATCHER);
    cr_assert_eq(zn_check_watches(zh, "/a", ZN_WATCHER_ANY), ZN_ENOWATCHER);

    struct zn_strings eph = {0};
    cr_assert_eq(zn_get_ephemerals(zh, "/", &eph), 0);
    cr_assert_eq(eph.count, 1);
    cr_assert_str_eq(eph.data[0], "/a/e");
    zn_strings_free(&eph);
    int32_t num = 0;
    cr_assert_eq(zn_get_all_children_number(zh, "/", &num), 0);
    cr_assert_eq(num, 7, "a, a/s-.., a/e, a/t, a/c, a/w, m: %d", num);

    cr_assert_eq(zn_add_auth(zh, "digest", "bob:secret", 10), 0);
    struct zn_client_infos who = {0};
    cr_assert_eq(zn_whoami(zh, &who), 0);
    cr_assert_eq(who.count, 2);
    cr_assert_str_eq(who.data[1].scheme, "digest");
    cr_assert_str_eq(who.data[1].user, "bob:secret");
    zn_client_infos_free(&who);
    cr_assert_eq(zn_create(zh, "/mine", "", 0, &ZN_CREATOR_ALL_ACL, 0, 0, NULL, 0, NULL), 0);
    cr_assert_eq(zn_get_acl(zh, "/mine", &acl, NULL), 0);
    cr_assert_str_eq(acl.data[0].scheme, "digest");
    zn_acl_vec_free(&acl);

    cr_assert_eq(zn_delete(zh, "/a/w", 0), 0);
    cr_assert_eq(zn_delete(zh, "/a", -1), ZN_ENOTEMPTY);
    cr_assert_eq(zn_delete(zh, "/a/w", -1), ZN_ENONODE);

    int64_t sid = zn_session_id(zh);
    cr_assert_eq(zn_close(zh), 0);
    /* closeSession removed the ephemeral. */
    zn_handle *z2 = open_client(hosts, 3000, NULL);
    cr_assert_neq(zn_session_id(z2), sid);
    cr_assert_eq(zn_exists(z2, "/a/e", 0, NULL), ZN_ENONODE);
    cr_assert_eq(zn_close(z2), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- async round trips ------------------------------------------------------------------ */

struct alog {
    int done;
    int rc[32];
    char text[32][64];
};

static void a_str_stat(int rc, const char *p, const struct zn_stat *st, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "%s:%d", rc == 0 ? p : "-", rc == 0 ? st->version : -9);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_void(int rc, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "void");
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_stat(int rc, const struct zn_stat *st, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "v%d", rc == 0 ? st->version : -9);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_data(int rc, const char *v, int32_t len, const struct zn_stat *st, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "%.*s/%d", rc == 0 && len > 0 ? len : 0, rc == 0 ? v : "",
             rc == 0 ? st->version : -9);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_strings(int rc, const struct zn_strings *s, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "n%d", rc == 0 ? s->count : -1);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_strings_stat(int rc, const struct zn_strings *s, const struct zn_stat *st,
                           const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "n%d/c%d", rc == 0 ? s->count : -1, rc == 0 ? st->num_children : -1);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_string(int rc, const char *v, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "%s", rc == 0 ? v : "-");
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_acl(int rc, const struct zn_acl_vec *acl, const struct zn_stat *st, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "%s:%d", rc == 0 ? acl->data[0].scheme : "-",
             rc == 0 ? st->aversion : -1);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_int(int rc, int32_t v, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "%d", v);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_multi(int rc, int count, const struct zn_op_result *res, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "m%d:%s", count, count > 0 && res[0].path ? res[0].path : "");
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

static void a_whoami(int rc, const struct zn_client_infos *w, const void *d)
{
    struct alog *l = (struct alog *)(uintptr_t)d;
    int i = l->done;
    l->rc[i] = rc;
    snprintf(l->text[i], 64, "w%d", rc == 0 ? w->count : -1);
    __atomic_store_n(&l->done, i + 1, __ATOMIC_SEQ_CST);
}

Test(client, async_round_trips, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    static struct alog l;
    memset(&l, 0, sizeof(l));
    struct zn_op op;
    zn_op_create(&op, "/b/m", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT);
    struct zn_op rop;
    zn_op_get(&rop, "/b");
    /* Issued back to back: completions must come in this order. */
    cr_assert_eq(zn_acreate(zh, "/b", "v0", 2, &ZN_OPEN_ACL_UNSAFE, 0, 0, a_str_stat, &l), 0);
    cr_assert_eq(zn_aexists(zh, "/b", 1, a_stat, &l), 0);
    cr_assert_eq(zn_awexists(zh, "/b", count_watcher, NULL, a_stat, &l), 0);
    cr_assert_eq(zn_aset(zh, "/b", "v1", 2, 0, a_stat, &l), 0);
    cr_assert_eq(zn_aget(zh, "/b", 0, a_data, &l), 0);
    cr_assert_eq(zn_awget(zh, "/b", count_watcher, NULL, a_data, &l), 0);
    cr_assert_eq(zn_amulti(zh, 1, &op, a_multi, &l), 0);
    cr_assert_eq(zn_aget_children(zh, "/b", 0, a_strings, &l), 0);
    cr_assert_eq(zn_awget_children(zh, "/b", count_watcher, NULL, a_strings, &l), 0);
    cr_assert_eq(zn_aget_children2(zh, "/b", 0, a_strings_stat, &l), 0);
    cr_assert_eq(zn_awget_children2(zh, "/b", count_watcher, NULL, a_strings_stat, &l), 0);
    cr_assert_eq(zn_aset_acl(zh, "/b/m", -1, &ZN_OPEN_ACL_UNSAFE, a_void, &l), 0);
    cr_assert_eq(zn_aget_acl(zh, "/b/m", a_acl, &l), 0);
    cr_assert_eq(zn_async(zh, "/b", a_string, &l), 0);
    cr_assert_eq(zn_amulti_read(zh, 1, &rop, a_multi, &l), 0);
    cr_assert_eq(zn_aadd_watch(zh, "/b", ZN_WATCH_PERSISTENT, count_watcher, NULL, a_void, &l), 0);
    cr_assert_eq(zn_acheck_watches(zh, "/b", ZN_WATCHER_ANY, a_void, &l), 0);
    cr_assert_eq(zn_aremove_watches(zh, "/b", ZN_WATCHER_CHILDREN, NULL, NULL, 0, a_void, &l), 0);
    cr_assert_eq(zn_aget_ephemerals(zh, "/b", a_strings, &l), 0);
    cr_assert_eq(zn_aget_all_children_number(zh, "/b", a_int, &l), 0);
    cr_assert_eq(zn_aadd_auth(zh, "digest", "u:p", 3, a_void, &l), 0);
    cr_assert_eq(zn_awhoami(zh, a_whoami, &l), 0);
    cr_assert_eq(zn_adelete(zh, "/b/m", -1, a_void, &l), 0);
    cr_assert(wait_count(&l.done, 23, 5000), "all completions ran (%d)", l.done);
    const char *want[23] = {"/b:0", "v0",    "v0",    "v1",   "v1/1",    "v1/1", "m1:/b/m", "n1",
                            "n1",   "n1/c1", "n1/c1", "void", "world:1", "/b",   "m1:",     "void",
                            "void", "void",  "n0",    "1",    "void",    "w2",   "void"};
    for (int i = 0; i < 23; i++) {
        cr_expect_eq(l.rc[i], 0, "call %d rc %d", i, l.rc[i]);
        cr_expect_str_eq(l.text[i], want[i], "call %d", i);
    }
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- FIFO under faults ------------------------------------------------------------------ */

#define FIFO_N 300

struct fifo {
    int done;
    int order[FIFO_N];
    int rc[FIFO_N];
    int64_t czxid[FIFO_N];
};

static struct fifo g_fifo;

static void fifo_create(int rc, const char *p, const struct zn_stat *st, const void *d)
{
    (void)p;
    int i = (int)(intptr_t)d;
    int k = g_fifo.done;
    g_fifo.order[k] = i;
    g_fifo.rc[k] = rc;
    g_fifo.czxid[k] = rc == 0 ? st->czxid : -1;
    __atomic_store_n(&g_fifo.done, k + 1, __ATOMIC_SEQ_CST);
}

static void fifo_get(int rc, const char *v, int32_t len, const struct zn_stat *st, const void *d)
{
    (void)v;
    (void)len;
    int i = (int)(intptr_t)d;
    int k = g_fifo.done;
    g_fifo.order[k] = i;
    g_fifo.rc[k] = rc;
    g_fifo.czxid[k] = rc == 0 ? st->czxid : -1;
    __atomic_store_n(&g_fifo.done, k + 1, __ATOMIC_SEQ_CST);
}

Test(client, fifo_under_loss_duplication_reordering, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 4000, NULL);
    struct fake_faults f = {.out_drop_pct = 10,
                            .out_dup_pct = 10,
                            .out_delay_pct = 15,
                            .in_drop_pct = 10,
                            .in_dup_pct = 10,
                            .in_delay_pct = 15,
                            .delay_us = 3000};
    fake_server_set_faults(s, &f);
    memset(&g_fifo, 0, sizeof(g_fifo));
    cr_assert_eq(zn_create(zh, "/f", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    for (int i = 0; i < FIFO_N; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/f/n%03d", i);
        int rc = i % 3 == 2 ? zn_aget(zh, p, 0, fifo_get, (void *)(intptr_t)i)
                            : zn_acreate(zh, p, "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, fifo_create,
                                         (void *)(intptr_t)i);
        cr_assert_eq(rc, 0);
    }
    cr_assert(wait_count(&g_fifo.done, FIFO_N, 30000), "completions %d", g_fifo.done);
    int64_t last = 0;
    for (int k = 0; k < FIFO_N; k++) {
        cr_assert_eq(g_fifo.order[k], k, "completion %d is call %d", k, g_fifo.order[k]);
        /* A get of a node never created is NONODE; creates succeed in call order. */
        if (k % 3 == 2) {
            cr_assert_eq(g_fifo.rc[k], ZN_ENONODE);
        } else {
            cr_assert_eq(g_fifo.rc[k], 0, "create %d: %s", k, zn_strerror(g_fifo.rc[k]));
            cr_assert_gt(g_fifo.czxid[k], last, "creates took effect in order");
            last = g_fifo.czxid[k];
        }
    }
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    struct fake_stats fs;
    fake_server_stats(s, &fs);
    cr_assert_gt(cs.retransmits, 0);
    cr_assert_gt(fs.early_held + fs.duplicates, 0, "the faults reordered or duplicated");
    cr_assert_eq(fs.violations, 0);
    cr_assert_eq(fs.executed, FIFO_N + 1, "each request executed once: %llu",
                 (unsigned long long)fs.executed);
    printf("fifo: %d calls, client retransmits %llu, server duplicates %llu, held early %llu\n",
           FIFO_N, (unsigned long long)cs.retransmits, (unsigned long long)fs.duplicates,
           (unsigned long long)fs.early_held);
    f = (struct fake_faults){0};
    fake_server_set_faults(s, &f);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- exactly once: retries keep their seq ----------------------------------------------- */

Test(client, retry_same_seq_applies_once, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 4000, NULL);
    uint64_t w0 = fake_cluster_writes(c);
    /* Lose half of the replies: every lost one makes the client retransmit the same seq. */
    struct fake_faults f = {.out_drop_pct = 50};
    fake_server_set_faults(s, &f);
    const int n = 60;
    for (int i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/r%02d", i);
        /* A create re-executed would answer NODEEXISTS; the cached reply says OK. */
        int rc = zn_create(zh, p, "x", 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL);
        cr_assert_eq(rc, 0, "create %d: %s", i, zn_strerror(rc));
    }
    f = (struct fake_faults){0};
    fake_server_set_faults(s, &f);
    struct fake_stats fs;
    fake_server_stats(s, &fs);
    cr_assert_eq(fake_cluster_writes(c) - w0, (uint64_t)n, "each write applied exactly once");
    cr_assert_gt(fs.duplicates, 0);
    cr_assert_gt(fs.cached_replies, 0);
    cr_assert_eq(fs.retry_flags, fs.duplicates, "every duplicate carried RETRY (%llu vs %llu)",
                 (unsigned long long)fs.retry_flags, (unsigned long long)fs.duplicates);
    cr_assert_eq(fs.executed, (uint64_t)n);
    cr_assert_eq(fs.zxid_regressions, 0, "the client never went back in zxid");
    cr_assert_eq(fs.violations, 0);
    printf("exactly-once: %d creates, %llu retransmitted with the same seq, %llu cached replies\n",
           n, (unsigned long long)fs.duplicates, (unsigned long long)fs.cached_replies);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- events: in order, exactly once, acked ---------------------------------------------- */

#define EV_N 200

static int ev_count;
static int ev_bad;
static int ev_seen[EV_N];

static void ev_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type != ZN_EVENT_CREATED)
        return;
    int i = -1;
    if (sscanf(path, "/ev/n%d", &i) != 1 || i < 0 || i >= EV_N) {
        ev_bad++;
        return;
    }
    /* In order: the i-th event is for node i; exactly once: never seen before. */
    if (i != ev_count || ev_seen[i])
        ev_bad++;
    ev_seen[i]++;
    __atomic_store_n(&ev_count, ev_count + 1, __ATOMIC_SEQ_CST);
}

struct acked_arg {
    struct fake_server *s;
    uint64_t want;
};

static bool all_acked(void *arg)
{
    struct acked_arg *a = arg;
    struct fake_stats fs;
    fake_server_stats(a->s, &fs);
    return fs.events_acked >= a->want;
}

Test(client, events_in_order_exactly_once, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 4000, NULL);
    cr_assert_eq(zn_create(zh, "/ev", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    cr_assert_eq(zn_add_watch(zh, "/ev", ZN_WATCH_PERSISTENT_RECURSIVE, ev_watcher, NULL), 0);
    struct fake_faults f = {.out_drop_pct = 10,
                            .out_dup_pct = 20,
                            .out_delay_pct = 20,
                            .in_drop_pct = 10,
                            .delay_us = 2000};
    fake_server_set_faults(s, &f);
    /* Another session creates the nodes: one event each, numbered by the node. */
    for (int i = 0; i < EV_N; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/ev/n%d", i);
        cr_assert_eq(fake_cluster_create(c, p, ""), 0);
    }
    cr_assert(wait_count(&ev_count, EV_N, 20000), "events %d", ev_count);
    f = (struct fake_faults){0};
    fake_server_set_faults(s, &f);
    struct acked_arg aa = {s, EV_N};
    cr_assert(wait_until(all_acked, &aa, 5000), "the node saw every event acked");
    sleep_ms(50);
    cr_assert_eq(ev_count, EV_N, "no duplicate delivery after the run");
    cr_assert_eq(ev_bad, 0, "events out of order or repeated");
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    struct fake_stats fs;
    fake_server_stats(s, &fs);
    cr_assert_gt(cs.duplicate_events + cs.early_events, 0, "the faults duplicated or reordered");
    cr_assert_eq(fs.violations, 0);
    printf("events: %d delivered in order once; duplicates dropped %llu, held early %llu, "
           "node resends %llu, acks %llu\n",
           EV_N, (unsigned long long)cs.duplicate_events, (unsigned long long)cs.early_events,
           (unsigned long long)fs.event_resends, (unsigned long long)cs.acks_sent);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* A watch event comes before the completion of the call that made (and returns) the change. */
static int order_log[8];
static int order_n;

static void order_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    (void)ctx;
    if (type == ZN_EVENT_CHANGED)
        order_log[__atomic_fetch_add(&order_n, 1, __ATOMIC_SEQ_CST)] = 1;
}

static void order_set_done(int rc, const struct zn_stat *st, const void *d)
{
    (void)st;
    (void)d;
    cr_assert_eq(rc, 0);
    order_log[__atomic_fetch_add(&order_n, 1, __ATOMIC_SEQ_CST)] = 2;
}

Test(client, event_before_the_data_that_caused_it, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 4000, NULL);
    cr_assert_eq(zn_create(zh, "/o", "a", 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    for (int round = 0; round < 3; round++) {
        order_n = 0;
        char buf[4];
        int32_t len = sizeof(buf);
        cr_assert_eq(zn_wget(zh, "/o", order_watcher, NULL, buf, &len, NULL), 0);
        /* Delay every event so the reply would overtake it without the hold rule. */
        struct fake_faults f = {.out_delay_pct = round == 0 ? 0 : 100, .delay_us = 20000};
        fake_server_set_faults(s, &f);
        cr_assert_eq(zn_aset(zh, "/o", "b", 1, -1, order_set_done, NULL), 0);
        cr_assert(wait_count(&order_n, 2, 5000));
        cr_assert_eq(order_log[0], 1, "round %d: the event first", round);
        cr_assert_eq(order_log[1], 2);
        f = (struct fake_faults){0};
        fake_server_set_faults(s, &f);
    }
    struct fake_stats fs;
    fake_server_stats(s, &fs);
    cr_assert_gt(fs.replies_held, 0);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- failover --------------------------------------------------------------------------- */

static int fo_events;
static int fo_types[16];
static char fo_paths[16][32];

static void fo_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    int i = fo_events;
    if (i < 16) {
        fo_types[i] = type;
        snprintf(fo_paths[i], sizeof(fo_paths[i]), "%s", path);
    }
    __atomic_store_n(&fo_events, i + 1, __ATOMIC_SEQ_CST);
}

static int fo_state(zn_handle *zh)
{
    return zn_state(zh);
}

static bool is_connected_on(void *arg)
{
    void **a = arg;
    zn_handle *zh = a[0];
    int node = (int)(intptr_t)a[1];
    return fo_state(zh) == ZN_STATE_CONNECTED && zn_current_node(zh) == node;
}

static void fo_set_done(int rc, const struct zn_stat *st, const void *d)
{
    (void)st;
    *(int *)(uintptr_t)d = rc == 0 ? 1 : rc;
}

Test(client, failover_keeps_session_and_watches, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    struct states st = {0};
    zn_handle *zh = open_client(hosts, 3000, &st); /* node silent for 1 s: suspended */
    cr_assert_eq(zn_current_node(zh), 0);
    int64_t sid = zn_session_id(zh);
    cr_assert_eq(zn_create(zh, "/x", "0", 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    cr_assert_eq(zn_create(zh, "/y", "0", 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    cr_assert_eq(zn_create(zh, "/e", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, NULL),
                 0);
    char buf[8];
    int32_t len = sizeof(buf);
    cr_assert_eq(zn_wget(zh, "/x", fo_watcher, NULL, buf, &len, NULL), 0);
    len = sizeof(buf);
    cr_assert_eq(zn_wget(zh, "/y", fo_watcher, NULL, buf, &len, NULL), 0);
    cr_assert_eq(zn_wexists(zh, "/z", fo_watcher, NULL, NULL), ZN_ENONODE);
    struct zn_strings kids = {0};
    cr_assert_eq(zn_wget_children(zh, "/", fo_watcher, NULL, &kids), 0);
    zn_strings_free(&kids);
    cr_assert_eq(fake_server_watch_count(a, sid, "/x"), 1);
    cr_assert_eq(fake_server_watch_count(b, sid, "/x"), 0);

    /* Node A goes silent. A write issued now completes through B, once. */
    uint64_t w0 = fake_cluster_writes(c);
    fake_server_set_mute(a, true);
    static int set_done;
    set_done = 0;
    cr_assert_eq(zn_aset(zh, "/x", "1", 1, -1, fo_set_done, &set_done), 0);
    /* A change made while the client is between nodes: setWatches2 must report it. */
    sleep_ms(100);
    cr_assert_eq(fake_cluster_set(c, "/y", "changed"), 0);
    void *args[2] = {zh, (void *)(intptr_t)1};
    cr_assert(wait_until(is_connected_on, args, 5000), "reconnected to node B");
    cr_assert_eq(zn_session_id(zh), sid, "same session");
    for (int i = 0; i < 5000 && __atomic_load_n(&set_done, __ATOMIC_SEQ_CST) == 0; i++)
        sleep_ms(1);
    cr_assert_eq(set_done, 1, "the write issued during failover completed");
    cr_assert_eq(fake_cluster_writes(c) - w0, 1, "and was applied once");
    cr_assert(wait_count(&fo_events, 2, 5000), "events %d", fo_events);
    /* /x changed by our own write (watch re-registered on B and fired), /y by another session
     * while we were away (reported by setWatches2). */
    bool saw_x = false, saw_y = false;
    for (int i = 0; i < fo_events && i < 16; i++) {
        saw_x |= fo_types[i] == ZN_EVENT_CHANGED && strcmp(fo_paths[i], "/x") == 0;
        saw_y |= fo_types[i] == ZN_EVENT_CHANGED && strcmp(fo_paths[i], "/y") == 0;
    }
    cr_assert(saw_x && saw_y, "x %d y %d", saw_x, saw_y);
    struct fake_stats fs;
    fake_server_stats(b, &fs);
    cr_assert_eq(fs.set_watches, 1);
    cr_assert_eq(fs.violations, 0);
    cr_assert_geq(fs.set_watches_paths, 4);
    cr_assert_eq(fake_server_watch_count(b, sid, "/z"), 1, "exist watch re-registered on B");
    cr_assert_eq(fake_server_watch_count(b, sid, "/"), 1, "child watch re-registered on B");
    /* The remaining watches still fire through B. */
    int before = fo_events;
    cr_assert_eq(fake_cluster_create(c, "/z", ""), 0);
    cr_assert(wait_count(&fo_events, before + 2, 5000)); /* /z created, / children changed */
    /* The session and its ephemeral survived. */
    cr_assert_eq(zn_exists(zh, "/e", 0, NULL), 0);
    cr_assert_geq(st.n, 3);
    cr_assert_eq(st.seq[0], ZN_STATE_CONNECTED);
    cr_assert_eq(st.seq[1], ZN_STATE_SUSPENDED);
    cr_assert_eq(st.seq[2], ZN_STATE_CONNECTED);
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    cr_assert_eq(cs.reconnects, 1);
    printf("failover: session 0x%llx moved to node B, %llu watch paths re-registered\n",
           (unsigned long long)sid, (unsigned long long)fs.set_watches_paths);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

static bool is_suspended(void *arg)
{
    return zn_state((zn_handle *)arg) == ZN_STATE_SUSPENDED;
}

static bool is_connected(void *arg)
{
    return zn_state((zn_handle *)arg) == ZN_STATE_CONNECTED;
}

Test(client, calls_while_suspended, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = 6000; /* suspended after 2 s, expired after 6 s */
    o.cluster_id = CLUSTER_ID;
    o.shuffle_nodes = false;
    o.request_timeout_ms = 300;
    zn_handle *zh = NULL;
    cr_assert_eq(zn_open(hosts, &o, &zh), 0);
    int64_t sid = zn_session_id(zh);
    fake_server_set_mute(a, true);
    fake_server_set_mute(b, true);
    cr_assert(wait_until(is_suspended, zh, 5000));
    uint64_t w0 = fake_cluster_writes(c);
    /* Never sent (no node answers): times out and will never apply. */
    cr_assert_eq(zn_create(zh, "/never", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL),
                 ZN_ETIMEDOUT);
    /* Queued while suspended, sent after the reconnect. */
    static struct alog l;
    memset(&l, 0, sizeof(l));
    cr_assert_eq(zn_acreate(zh, "/later", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, a_str_stat, &l), 0);
    fake_server_set_mute(b, false);
    cr_assert(wait_until(is_connected, zh, 8000));
    cr_assert(wait_count(&l.done, 1, 3000));
    cr_assert_eq(l.rc[0], 0, "%s", zn_strerror(l.rc[0]));
    cr_assert_eq(zn_session_id(zh), sid);
    cr_assert_eq(zn_exists(zh, "/never", 0, NULL), ZN_ENONODE, "the timed-out call never applied");
    cr_assert_eq(fake_cluster_writes(c) - w0, 1);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

/* ---- expiry and timeouts ---------------------------------------------------------------- */

static int exp_done;
static int exp_rc[8];
static int exp_watch_state = 1; /* not a state a watcher is told here */

static void exp_cb(int rc, const struct zn_stat *st, const void *d)
{
    (void)st;
    exp_rc[(intptr_t)d] = rc;
    __atomic_fetch_add(&exp_done, 1, __ATOMIC_SEQ_CST);
}

static void exp_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        exp_watch_state = state;
}

Test(client, expiry_fails_pending_calls, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    struct states st = {0};
    zn_handle *zh = open_client(hosts, 3000, &st);
    cr_assert_eq(zn_create(zh, "/q", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    struct zn_stat stat;
    cr_assert_eq(zn_wexists(zh, "/q", exp_watcher, NULL, &stat), 0);
    fake_server_set_blackhole(s, true);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(zn_aset(zh, "/q", "x", 1, -1, exp_cb, (void *)(intptr_t)i), 0);
    sleep_ms(50);
    cr_assert_eq(exp_done, 0, "pending while the node ignores them");
    fake_cluster_expire(c, zn_session_id(zh));
    fake_server_set_blackhole(s, false);
    cr_assert(wait_count(&exp_done, 4, 5000));
    for (int i = 0; i < 4; i++)
        cr_assert_eq(exp_rc[i], ZN_ESESSIONEXPIRED);
    cr_assert_eq(zn_state(zh), ZN_STATE_EXPIRED);
    cr_assert_eq(st.seq[st.n - 1], ZN_STATE_EXPIRED, "state callback fired before the calls");
    for (int i = 0; i < 2000 && __atomic_load_n(&exp_watch_state, __ATOMIC_SEQ_CST) == 1; i++)
        sleep_ms(1);
    cr_assert_eq(exp_watch_state, ZN_STATE_EXPIRED, "watchers told");
    cr_assert_eq(zn_exists(zh, "/q", 0, NULL), ZN_ESESSIONEXPIRED, "later calls fail at once");
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

Test(client, request_timeout, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = 3000;
    o.cluster_id = CLUSTER_ID;
    o.request_timeout_ms = 400;
    zn_handle *zh = NULL;
    cr_assert_eq(zn_open(hosts, &o, &zh), 0);
    fake_server_set_blackhole(s, true);
    uint64_t t0 = ms_now();
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), ZN_ETIMEDOUT);
    uint64_t took = ms_now() - t0;
    cr_assert(took >= 390 && took < 5000, "took %llu ms", (unsigned long long)took);
    fake_server_set_blackhole(s, false);
    /* The timed-out call keeps its place: the next one completes after it is answered (the
     * new request makes the client resend the old one at once instead of after its backed-off
     * timer). */
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), 0);
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    cr_assert_eq(cs.timeouts, 1);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

Test(client, open_fails_without_node, .timeout = 30)
{
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = 1000;
    o.connect_timeout_ms = 300;
    zn_handle *zh = (zn_handle *)0x1;
    /* A port nobody listens on (the fake's port, after it stopped). */
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    fake_server_stop(s);
    uint64_t t0 = ms_now();
    cr_assert_eq(zn_open(hosts, &o, &zh), ZN_ETIMEDOUT);
    cr_assert_null(zh);
    cr_assert_lt(ms_now() - t0, 2000);
    /* Wrong cluster id: datagrams are refused by the node, same result. */
    s = fake_server_start(c, 1);
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    o.cluster_id = CLUSTER_ID + 1;
    cr_assert_eq(zn_open(hosts, &o, &zh), ZN_ETIMEDOUT);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- bad arguments ---------------------------------------------------------------------- */

Test(client, bad_arguments_rejected_without_sending, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), 0);
    sleep_ms(20);
    struct fake_stats before;
    fake_server_stats(s, &before);
    const char *bad_paths[] = {"",
                               "a",
                               "/a/",
                               "//",
                               "/a//b",
                               "/a/./b",
                               "/a/../b",
                               "/.",
                               "/..",
                               "/a\x01",
                               "/a\x7f",
                               "/\xc2\x80",
                               "/\xff",
                               "/\xed\xa0\x80",
                               "/\xef\xbf\xbf",
                               "/\xc0\xaf"};
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        cr_expect_eq(zn_exists(zh, bad_paths[i], 0, NULL), ZN_EBADARGUMENTS, "path %zu", i);
        cr_expect_eq(zn_create(zh, bad_paths[i], "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL),
                     ZN_EBADARGUMENTS, "create path %zu", i);
    }
    cr_expect_eq(zn_exists(zh, NULL, 0, NULL), ZN_EBADARGUMENTS);
    char *longp = malloc(5000);
    longp[0] = '/';
    memset(longp + 1, 'a', 4998);
    longp[4999] = '\0';
    cr_expect_eq(zn_exists(zh, longp, 0, NULL), ZN_ELIMIT);
    free(longp);
    char *big = calloc(1, (1u << 20) + 1);
    cr_expect_eq(
        zn_create(zh, "/big", big, (1 << 20) + 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL),
        ZN_ELIMIT);
    cr_expect_eq(zn_set(zh, "/big", big, (1 << 20) + 1, -1, NULL), ZN_ELIMIT);
    free(big);
    cr_expect_eq(zn_set(zh, "/x", "a", -5, -1, NULL), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_set(zh, "/x", NULL, 3, -1, NULL), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_set(zh, "/x", "a", 1, -2, NULL), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_delete(zh, "/x", -7), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_create(zh, "/x", "", 0, &ZN_OPEN_ACL_UNSAFE, 7, 0, NULL, 0, NULL),
                 ZN_EBADARGUMENTS);
    cr_expect_eq(zn_create(zh, "/x", "", 0, &ZN_OPEN_ACL_UNSAFE, -1, 0, NULL, 0, NULL),
                 ZN_EBADARGUMENTS);
    cr_expect_eq(
        zn_create(zh, "/x", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT_WITH_TTL, 0, NULL, 0, NULL),
        ZN_EBADARGUMENTS, "TTL mode needs a ttl");
    cr_expect_eq(zn_create(zh, "/x", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 10, NULL, 0, NULL),
                 ZN_EBADARGUMENTS, "ttl only with TTL modes");
    cr_expect_eq(zn_create(zh, "/x", "", 0, NULL, 0, 0, NULL, 0, NULL), ZN_EINVALIDACL);
    struct zn_acl_vec empty = {0, NULL};
    cr_expect_eq(zn_create(zh, "/x", "", 0, &empty, 0, 0, NULL, 0, NULL), ZN_EINVALIDACL);
    struct zn_acl badperm = {64, "world", "anyone"};
    struct zn_acl_vec bp = {1, &badperm};
    cr_expect_eq(zn_set_acl(zh, "/x", -1, &bp), ZN_EINVALIDACL);
    struct zn_op *ops = calloc(1025, sizeof(*ops));
    for (int i = 0; i < 1025; i++)
        zn_op_check(&ops[i], "/x", -1);
    struct zn_op_result *res = calloc(1025, sizeof(*res));
    cr_expect_eq(zn_multi(zh, 1025, ops, res), ZN_ELIMIT);
    zn_op_get(&ops[0], "/x");
    cr_expect_eq(zn_multi(zh, 1, ops, res), ZN_EBADARGUMENTS, "a read in a multi");
    zn_op_check(&ops[0], "/x", -1);
    cr_expect_eq(zn_multi_read(zh, 1, ops, res), ZN_EBADARGUMENTS, "a write in a multiRead");
    zn_op_check(&ops[0], "bad", -1);
    cr_expect_eq(zn_multi(zh, 1, ops, res), ZN_EBADARGUMENTS);
    free(ops);
    free(res);
    cr_expect_eq(zn_add_watch(zh, "/x", 2, NULL, NULL), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_remove_watches(zh, "/x", 0, NULL, NULL, 0), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_check_watches(zh, "/x", 4), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_add_auth(zh, "", "x", 1), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_add_auth(zh, NULL, "x", 1), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_get_children(zh, "/", 0, NULL), ZN_EBADARGUMENTS);
    /* removeWatches for a watcher the client does not have: answered locally. */
    cr_expect_eq(zn_remove_watches(zh, "/x", ZN_WATCHER_DATA, NULL, NULL, 0), ZN_ENOWATCHER);
    cr_expect_eq(zn_exists(NULL, "/", 0, NULL), ZN_EBADARGUMENTS);
    struct zn_options o;
    zn_options_init(&o);
    zn_handle *z2 = NULL;
    cr_expect_eq(zn_open("nohostport", &o, &z2), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_open("127.0.0.1:0", &o, &z2), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_open("127.0.0.1:99999", &o, &z2), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_open("127.0.0.1:2181/bad/", &o, &z2), ZN_EBADARGUMENTS);
    cr_expect_eq(zn_open("127.0.0.1:2181,", &o, &z2), ZN_EBADARGUMENTS);
    o.session_timeout_ms = 1;
    cr_expect_eq(zn_open("127.0.0.1:2181", &o, &z2), ZN_EBADARGUMENTS);
    sleep_ms(20);
    struct fake_stats after;
    fake_server_stats(s, &after);
    cr_assert_eq(after.requests, before.requests, "nothing was sent (%llu -> %llu)",
                 (unsigned long long)before.requests, (unsigned long long)after.requests);
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), 0, "the handle still works");
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

Test(client, path_validation)
{
    cr_assert_eq(zn_path_validate("/", false), 0);
    cr_assert_eq(zn_path_validate("/a/b.c/..d/...", false), 0);
    cr_assert_eq(zn_path_validate("/\xc3\xa9t\xc3\xa9", false), 0, "UTF-8 allowed");
    cr_assert_eq(zn_path_validate("/q/", true), 0, "sequential prefix may end in /");
    cr_assert_eq(zn_path_validate("/q/", false), ZN_EBADARGUMENTS);
    cr_assert_eq(zn_path_validate("/q//", true), ZN_EBADARGUMENTS);
    cr_assert_eq(zn_path_validate("/\xef\xbf\xaf", false), 0, "U+FFEF is allowed");
    cr_assert_eq(zn_path_validate("/\xef\xbf\xb0", false), ZN_EBADARGUMENTS, "U+FFF0 is not");
    cr_assert_eq(zn_path_validate("/\xef\xa3\xbf", false), ZN_EBADARGUMENTS, "U+F8FF");
    cr_assert_eq(zn_path_validate("/\xef\xa4\x80", false), 0, "U+F900");
    cr_assert_eq(zn_path_validate("/\xc2\x9f", false), ZN_EBADARGUMENTS, "U+009F");
    cr_assert_eq(zn_path_validate("/\xc2\xa0", false), 0, "U+00A0");
}

/* ---- large values ----------------------------------------------------------------------- */

static void large_round_trip(int drop_pct)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 6000, NULL);
    const int32_t n = 1 << 20;
    char *v = malloc((size_t)n);
    for (int32_t i = 0; i < n; i++)
        v[i] = (char)(i * 7 + i / 4093);
    struct fake_faults f = {.out_drop_pct = drop_pct, .in_drop_pct = drop_pct};
    fake_server_set_faults(s, &f);
    cr_assert_eq(zn_create(zh, "/big", v, n, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    char *back = malloc((size_t)n);
    int32_t len = n;
    struct zn_stat st;
    cr_assert_eq(zn_get(zh, "/big", 0, back, &len, &st), 0);
    cr_assert_eq(len, n);
    cr_assert_eq(st.data_length, n);
    cr_assert_eq(memcmp(v, back, (size_t)n), 0, "1 MiB value intact both ways");
    v[12345] ^= 1;
    cr_assert_eq(zn_set(zh, "/big", v, n, 0, NULL), 0);
    len = n;
    cr_assert_eq(zn_get(zh, "/big", 0, back, &len, NULL), 0);
    cr_assert_eq(memcmp(v, back, (size_t)n), 0);
    f = (struct fake_faults){0};
    fake_server_set_faults(s, &f);
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    cr_assert_gt(cs.datagrams_sent, 2 * (uint64_t)n / 1500, "requests were segmented");
    cr_assert_gt(cs.datagrams_received, 2 * (uint64_t)n / 1500, "replies were segmented");
    printf("large (drop %d%%): 2 x 1 MiB each way, %llu datagrams sent, %llu received, "
           "%llu retransmits\n",
           drop_pct, (unsigned long long)cs.datagrams_sent,
           (unsigned long long)cs.datagrams_received, (unsigned long long)cs.retransmits);
    free(v);
    free(back);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

Test(client, large_values_segmented_both_ways, .timeout = 60)
{
    large_round_trip(0);
}

Test(client, large_values_under_loss, .timeout = 60)
{
    large_round_trip(1);
}

/* ---- chroot, linearizable flag, callbacks ----------------------------------------------- */

static int chroot_events;
static char chroot_path[64];

static void chroot_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    snprintf(chroot_path, sizeof(chroot_path), "%s", path);
    __atomic_fetch_add(&chroot_events, 1, __ATOMIC_SEQ_CST);
}

Test(client, chroot_and_linearizable, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    cr_assert_eq(fake_cluster_create(c, "/app", ""), 0);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "/app");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    char path[64];
    cr_assert_eq(zn_create(zh, "/k-", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL_SEQUENTIAL, 0, path,
                           sizeof(path), NULL),
                 0);
    cr_assert_str_eq(path, "/k-0000000000");
    struct zn_strings eph = {0};
    cr_assert_eq(zn_get_ephemerals(zh, "/", &eph), 0);
    cr_assert_eq(eph.count, 1);
    cr_assert_str_eq(eph.data[0], "/k-0000000000");
    zn_strings_free(&eph);
    struct zn_strings kids = {0};
    cr_assert_eq(zn_wget_children(zh, "/", chroot_watcher, NULL, &kids), 0);
    cr_assert_eq(kids.count, 1);
    zn_strings_free(&kids);
    cr_assert_eq(fake_cluster_create(c, "/app/other", ""), 0);
    cr_assert(wait_count(&chroot_events, 1, 3000));
    cr_assert_str_eq(chroot_path, "/", "event path relative to the chroot");
    struct fake_stats fs;
    fake_server_stats(s, &fs);
    cr_assert_eq(fs.linearizable, 0);
    zn_set_linearizable_reads(zh, true);
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), 0);
    cr_assert_eq(zn_set(zh, "/", "x", 1, -1, NULL), 0, "writes are not flagged");
    fake_server_stats(s, &fs);
    cr_assert_eq(fs.linearizable, 1);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

static int cb_rc = 1;
static int cb_async_rc = 1;
static int cb_done;

static void cb_async_done(int rc, const void *d)
{
    (void)d;
    cb_async_rc = rc;
    __atomic_fetch_add(&cb_done, 1, __ATOMIC_SEQ_CST);
}

static void cb_in_callback(int rc, const struct zn_stat *st, const void *d)
{
    (void)rc;
    (void)st;
    zn_handle *zh = (zn_handle *)(uintptr_t)d;
    cb_rc = zn_exists(zh, "/", 0, NULL);                          /* blocking: refused */
    if (zn_adelete(zh, "/nothing", -1, cb_async_done, NULL) != 0) /* async: fine */
        cb_async_rc = 99;
    if (zn_close(zh) != ZN_EAPI)
        cb_rc = 98;
    __atomic_fetch_add(&cb_done, 1, __ATOMIC_SEQ_CST);
}

Test(client, blocking_calls_refused_in_callbacks, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    cr_assert_eq(zn_aexists(zh, "/", 0, cb_in_callback, zh), 0);
    cr_assert(wait_count(&cb_done, 2, 3000));
    cr_assert_eq(cb_rc, ZN_EAPI);
    cr_assert_eq(cb_async_rc, ZN_ENONODE);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- auth failure ends the session ------------------------------------------------------ */

Test(client, auth_failure_ends_session, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    struct states st = {0};
    zn_handle *zh = open_client(hosts, 3000, &st);
    cr_assert_eq(zn_add_auth(zh, "fail", "x", 1), ZN_EAUTHFAILED); /* the fake refuses "fail" */
    for (int i = 0; i < 2000 && zn_state(zh) != ZN_STATE_AUTH_FAILED; i++)
        sleep_ms(1);
    cr_assert_eq(zn_state(zh), ZN_STATE_AUTH_FAILED);
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), ZN_EAUTHFAILED);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- many threads ----------------------------------------------------------------------- */

#define THREADS    4
#define THREAD_OPS 100

struct worker {
    zn_handle *zh;
    int id;
    int errors;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    char p[32];
    snprintf(p, sizeof(p), "/t%d", w->id);
    if (zn_create(w->zh, p, "0", 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL) != 0)
        w->errors++;
    for (int i = 1; i <= THREAD_OPS; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        struct zn_stat st;
        if (zn_set(w->zh, p, v, (int32_t)strlen(v), i - 1, &st) != 0 || st.version != i)
            w->errors++;
        char buf[16];
        int32_t len = sizeof(buf);
        /* Read-your-writes from any thread: the value just written. */
        if (zn_get(w->zh, p, 0, buf, &len, NULL) != 0 || len != (int32_t)strlen(v) ||
            memcmp(buf, v, (size_t)len) != 0)
            w->errors++;
    }
    return NULL;
}

Test(client, sync_calls_from_many_threads, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 4000, NULL);
    struct fake_faults f = {.out_drop_pct = 5, .in_drop_pct = 5};
    fake_server_set_faults(s, &f);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){zh, i, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(w[i].errors, 0, "thread %d: %d errors", i, w[i].errors);
    }
    cr_assert_eq(fake_cluster_writes(c), (uint64_t)THREADS * (THREAD_OPS + 1));
    f = (struct fake_faults){0};
    fake_server_set_faults(s, &f);
    int crc = zn_close(zh);
    cr_assert_eq(crc, 0, "close: %s", zn_strerror(crc));
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- failover under a write load with loss ---------------------------------------------- */

#define FO_N 200

static int fol_done;
static int fol_order[FO_N];
static int fol_rc[FO_N];

static void fol_create(int rc, const char *p, const struct zn_stat *st, const void *d)
{
    (void)p;
    (void)st;
    int k = fol_done;
    fol_order[k] = (int)(intptr_t)d;
    fol_rc[k] = rc;
    __atomic_store_n(&fol_done, k + 1, __ATOMIC_SEQ_CST);
}

Test(client, failover_under_write_load_applies_once, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    struct fake_faults f = {.out_drop_pct = 10, .in_drop_pct = 10, .out_dup_pct = 5};
    fake_server_set_faults(a, &f);
    fake_server_set_faults(b, &f);
    uint64_t w0 = fake_cluster_writes(c);
    for (int i = 0; i < FO_N; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/w%03d", i);
        cr_assert_eq(
            zn_acreate(zh, p, "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, fol_create, (void *)(intptr_t)i),
            0);
        if (i == FO_N / 2)
            fake_server_set_mute(a, true); /* node A dies with calls in flight */
    }
    cr_assert(wait_count(&fol_done, FO_N, 20000), "completions %d", fol_done);
    for (int k = 0; k < FO_N; k++) {
        cr_assert_eq(fol_order[k], k, "FIFO across failover");
        cr_assert_eq(fol_rc[k], 0, "create %d: %s (a re-applied create says NODEEXISTS)", k,
                     zn_strerror(fol_rc[k]));
    }
    cr_assert_eq(fake_cluster_writes(c) - w0, (uint64_t)FO_N, "each write applied once");
    cr_assert_eq(zn_current_node(zh), 1);
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    printf("failover under load: %d creates, node A silenced after %d, all applied once; "
           "%llu retransmits, %llu reconnects\n",
           FO_N, FO_N / 2, (unsigned long long)cs.retransmits, (unsigned long long)cs.reconnects);
    f = (struct fake_faults){0};
    fake_server_set_faults(b, &f);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

/* ---- the call queue is bounded ---------------------------------------------------------- */

static int full_done;

static void full_cb(int rc, const struct zn_stat *st, const void *d)
{
    (void)rc;
    (void)st;
    (void)d;
    __atomic_fetch_add(&full_done, 1, __ATOMIC_SEQ_CST);
}

Test(client, call_queue_is_bounded, .timeout = 60)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 4000, NULL);
    fake_server_set_blackhole(s, true);
    const int max = 65536; /* ZN_CLIENT_QUEUE_MAX */
    for (int i = 0; i < max; i++)
        cr_assert_eq(zn_aexists(zh, "/", 0, full_cb, NULL), 0, "call %d", i);
    cr_assert_eq(zn_aexists(zh, "/", 0, full_cb, NULL), ZN_EFULL);
    /* Expiry completes them all at once. */
    fake_cluster_expire(c, zn_session_id(zh));
    fake_server_set_blackhole(s, false);
    cr_assert(wait_count(&full_done, max, 30000), "completed %d", full_done);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- refusals while connecting ---------------------------------------------------------- */

Test(client, refused_connect_moves_to_next_node, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    fake_server_refuse_connect(a, -127); /* THROTTLEDOP */
    zn_handle *zh = open_client(hosts, 3000, NULL);
    cr_assert_eq(zn_current_node(zh), 1, "opened through node B");
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), 0);
    struct fake_stats fs;
    fake_server_stats(a, &fs);
    cr_assert_geq(fs.refused, 1);
    cr_assert_eq(zn_close(zh), 0);
    /* A wrong password on reconnect is terminal: here every CONNECT of node A says
     * AUTHFAILED, and a session that must move to A ends in AUTH_FAILED. */
    fake_server_refuse_connect(a, 0);
    fake_server_refuse_connect(b, -115); /* AUTHFAILED */
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = 3000;
    o.cluster_id = CLUSTER_ID;
    o.shuffle_nodes = false;
    cr_assert_eq(zn_open(hosts, &o, &zh), 0);
    cr_assert_eq(zn_current_node(zh), 0);
    fake_server_set_mute(a, true);
    for (int i = 0; i < 5000 && zn_state(zh) != ZN_STATE_AUTH_FAILED; i++)
        sleep_ms(1);
    cr_assert_eq(zn_state(zh), ZN_STATE_AUTH_FAILED);
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), ZN_EAUTHFAILED);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

/* ---- removeWatches with a second watcher on the same path --------------------------------- */

struct two_watch {
    int deleted, removed;
};

static void two_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    struct two_watch *w = ctx;
    if (type == ZN_EVENT_DELETED)
        __atomic_fetch_add(&w->deleted, 1, __ATOMIC_SEQ_CST);
    else if (type == ZN_EVENT_DATA_WATCH_REMOVED)
        __atomic_fetch_add(&w->removed, 1, __ATOMIC_SEQ_CST);
}

/* The node holds one watch per session and path. Removing one of two exists watchers of the
 * session must not end the node's watch: the other one still hears of the delete (the recipes
 * remove a candidate's watch on a former predecessor; another candidate of the same session
 * may still watch that node). */
Test(client, remove_one_of_two_watchers_keeps_the_other, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    struct states st = {0};
    zn_handle *zh = open_client(hosts, 3000, &st);
    cr_assert_eq(zn_create(zh, "/w", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL),
                 0);
    struct two_watch a = {0}, b = {0};
    cr_assert_eq(zn_wexists(zh, "/w", two_watcher, &a, NULL), 0);
    cr_assert_eq(zn_wexists(zh, "/w", two_watcher, &b, NULL), 0);
    cr_assert_eq(zn_remove_watches(zh, "/w", ZN_WATCHER_DATA, two_watcher, &a, 0), 0);
    cr_assert_eq(__atomic_load_n(&a.removed, __ATOMIC_SEQ_CST), 1, "removed watcher told");
    cr_assert_eq(zn_check_watches(zh, "/w", ZN_WATCHER_DATA), 0, "the node still watches");
    cr_assert_eq(zn_delete(zh, "/w", -1), 0);
    cr_assert(wait_count(&b.deleted, 1, 10000), "the other watcher heard of the delete (%d)",
              b.deleted);
    cr_assert_eq(__atomic_load_n(&a.deleted, __ATOMIC_SEQ_CST), 0, "the removed one did not");
    /* The last watcher's removal does go to the node. */
    cr_assert_eq(zn_wexists(zh, "/w", two_watcher, &b, NULL), ZN_ENONODE);
    cr_assert_eq(zn_remove_watches(zh, "/w", ZN_WATCHER_DATA, two_watcher, &b, 0), 0);
    cr_assert_eq(zn_check_watches(zh, "/w", ZN_WATCHER_DATA), ZN_ENOWATCHER);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* ---- identities re-sent after a reconnect (docs/client.md "Sessions, failover") ---------- */

static bool is_auth_failed(void *arg)
{
    return zn_state((zn_handle *)arg) == ZN_STATE_AUTH_FAILED;
}

/* Index of the first op in log[0..n) that is not an addAuth, and whether every addAuth comes
 * before it. */
static bool auths_first(const int32_t *log, int n, int *auths)
{
    int i = 0;
    while (i < n && log[i] == ZN_ZK_OP_AUTH)
        i++;
    *auths = i;
    for (int j = i; j < n; j++) {
        if (log[j] == ZN_ZK_OP_AUTH)
            return false;
    }
    return true;
}

static void print_log(const char *what, const int32_t *log, int n)
{
    printf("%s: %d requests:", what, n);
    for (int i = 0; i < n; i++)
        printf(" %d", log[i]);
    printf("\n");
}

/* The session moves from A to B with a read and a create in flight (A took them and never
 * answered): B gets the identity before the resent calls; the digest-protected read and the
 * create with the "auth" ACL work on B. Without the re-send, B answers NoAuth and InvalidACL. */
Test(client, auth_resent_after_failover, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    zn_handle *zh = open_client(hosts, 3000, NULL); /* suspended after 1 s of silence */
    int64_t sid = zn_session_id(zh);
    cr_assert_eq(zn_add_auth(zh, "digest", "alice:secret", 12), 0);
    static struct zn_acl alice[] = {{ZN_PERM_ALL, "digest", "alice:secret"}};
    struct zn_acl_vec alice_acl = {1, alice};
    cr_assert_eq(zn_create(zh, "/secret", "s3", 2, &alice_acl, 0, 0, NULL, 0, NULL), 0);
    char buf[8];
    int32_t len = sizeof(buf);
    cr_assert_eq(zn_get(zh, "/secret", 0, buf, &len, NULL), 0);
    char ids[256];
    cr_assert_eq(fake_server_identities(a, sid, ids, sizeof(ids)), 1);
    cr_assert_str_eq(ids, "digest:alice:secret");

    /* A takes requests and answers nothing, then goes silent. */
    fake_server_set_blackhole(a, true);
    static struct alog l;
    memset(&l, 0, sizeof(l));
    cr_assert_eq(zn_aget(zh, "/secret", 0, a_data, &l), 0); /* in flight to A */
    cr_assert_eq(zn_acreate(zh, "/mine", "", 0, &ZN_CREATOR_ALL_ACL, 0, 0, a_str_stat, &l), 0);
    sleep_ms(50);
    fake_server_set_mute(a, true);
    void *args[2] = {zh, (void *)(intptr_t)1};
    cr_assert(wait_until(is_connected_on, args, 8000), "reconnected to node B");
    cr_assert(wait_count(&l.done, 2, 5000), "calls done: %d", l.done);
    cr_assert_eq(l.rc[0], 0, "resent read on B: %s", zn_strerror(l.rc[0]));
    cr_assert_str_eq(l.text[0], "s3/0");
    cr_assert_eq(l.rc[1], 0, "create with the auth ACL on B: %s", zn_strerror(l.rc[1]));
    int n = fake_server_identities(b, sid, ids, sizeof(ids));
    cr_assert_eq(n, 1, "identities on B: %d (%s)", n, ids);
    cr_assert_str_eq(ids, "digest:alice:secret");
    int32_t log[64];
    int nl = fake_server_request_log(b, log, 64);
    print_log("node B", log, nl);
    int auths = 0;
    cr_assert(auths_first(log, nl, &auths), "an addAuth after another request on B");
    cr_assert_geq(auths, 1, "B got the identity first");
    cr_assert_gt(nl, auths, "then the resent read");
    cr_assert_eq(log[auths], ZN_ZK_OP_GETDATA, "the resent read comes right after: %d", log[auths]);
    struct zn_acl_vec acl = {0};
    cr_assert_eq(zn_get_acl(zh, "/mine", &acl, NULL), 0);
    cr_assert_eq(acl.count, 1, "the auth ACL became the session's identity");
    cr_assert_str_eq(acl.data[0].scheme, "digest");
    cr_assert_str_eq(acl.data[0].id, "alice:secret");
    zn_acl_vec_free(&acl);
    struct zn_client_infos who = {0};
    cr_assert_eq(zn_whoami(zh, &who), 0);
    cr_assert_eq(who.count, 2);
    zn_client_infos_free(&who);
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    cr_assert_eq(cs.auths_resent, 1);
    struct fake_stats fs;
    fake_server_stats(b, &fs);
    cr_assert_geq(fs.auth_reexecuted, 1, "re-sent with its original (taken) seq");
    cr_assert_eq(fs.violations, 0);
    printf("auth failover: B holds %s, first %d request(s) addAuth, then op %d\n", ids, auths,
           log[auths]);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

/* A reconnect to the same node is a new connection there too (the node dropped the
 * identities, e.g. it restarted): they are re-sent. */
Test(client, auth_resent_after_reconnect_to_same_node, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    int64_t sid = zn_session_id(zh);
    cr_assert_eq(zn_add_auth(zh, "digest", "bob:pw", 6), 0);
    cr_assert_eq(zn_add_auth(zh, "digest", "carol:pw", 8), 0);
    static struct zn_acl carol[] = {{ZN_PERM_READ, "digest", "carol:pw"}};
    struct zn_acl_vec carol_acl = {1, carol};
    cr_assert_eq(zn_create(zh, "/c", "x", 1, &carol_acl, 0, 0, NULL, 0, NULL), 0);
    fake_server_set_mute(s, true);
    cr_assert(wait_until(is_suspended, zh, 5000), "suspended");
    fake_server_set_mute(s, false);
    cr_assert(wait_until(is_connected, zh, 8000), "reconnected");
    char buf[8];
    int32_t len = sizeof(buf);
    cr_assert_eq(zn_get(zh, "/c", 0, buf, &len, NULL), 0);
    char ids[256];
    cr_assert_eq(fake_server_identities(s, sid, ids, sizeof(ids)), 2);
    cr_assert_str_eq(ids, "digest:bob:pw,digest:carol:pw", "in their original order: %s", ids);
    int32_t log[64];
    int nl = fake_server_request_log(s, log, 64);
    print_log("same node", log, nl);
    int auths = 0;
    cr_assert(auths_first(log, nl, &auths));
    cr_assert_geq(auths, 2, "both identities before the read");
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}

/* An addAuth answered while an older call is still unanswered (its reply lost): after the move
 * the identity goes again in its place in the seq order, right behind the resent call, and the
 * new node holds it. */
Test(client, auth_behind_unanswered_call_resent_in_order, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    int64_t sid = zn_session_id(zh);
    static struct zn_acl alice[] = {{ZN_PERM_ALL, "digest", "alice:secret"}};
    struct zn_acl_vec alice_acl = {1, alice};
    cr_assert_eq(zn_create(zh, "/open", "o", 1, &ZN_OPEN_ACL_UNSAFE, 0, 0, NULL, 0, NULL), 0);
    fake_server_lose_replies(a, ZN_ZK_OP_GETDATA); /* A runs reads, their replies are lost */
    static struct alog l;
    memset(&l, 0, sizeof(l));
    cr_assert_eq(zn_aget(zh, "/open", 0, a_data, &l), 0);
    cr_assert_eq(zn_aadd_auth(zh, "digest", "alice:secret", 12, a_void, &l), 0);
    char ids[256];
    for (int i = 0; i < 2000 && fake_server_identities(a, sid, ids, sizeof(ids)) != 1; i++)
        sleep_ms(1);
    cr_assert_str_eq(ids, "digest:alice:secret", "A took the addAuth");
    sleep_ms(50); /* its reply arrives; the read before it stays unanswered */
    cr_assert_eq(l.done, 0, "completions wait for the read (FIFO)");
    fake_server_set_mute(a, true);
    void *args[2] = {zh, (void *)(intptr_t)1};
    cr_assert(wait_until(is_connected_on, args, 8000), "reconnected to node B");
    cr_assert(wait_count(&l.done, 2, 5000), "calls done: %d", l.done);
    cr_assert_eq(l.rc[0], 0, "the read: %s", zn_strerror(l.rc[0]));
    cr_assert_eq(l.rc[1], 0, "the addAuth: %s", zn_strerror(l.rc[1]));
    cr_assert_eq(zn_create(zh, "/secret", "s", 1, &alice_acl, 0, 0, NULL, 0, NULL), 0);
    char buf[8];
    int32_t len = sizeof(buf);
    cr_assert_eq(zn_get(zh, "/secret", 0, buf, &len, NULL), 0, "B admits the identity");
    cr_assert_eq(fake_server_identities(b, sid, ids, sizeof(ids)), 1);
    cr_assert_str_eq(ids, "digest:alice:secret");
    int32_t log[64];
    int nl = fake_server_request_log(b, log, 64);
    print_log("node B (auth behind a read)", log, nl);
    cr_assert_geq(nl, 2);
    cr_assert_eq(log[0], ZN_ZK_OP_GETDATA, "the resent read first (seq order)");
    cr_assert_eq(log[1], ZN_ZK_OP_AUTH, "then the identity in its place");
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    cr_assert_eq(cs.auths_resent, 1);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

/* B refuses the re-sent identity: the session ends as ZooKeeper's does (AUTH_FAILED), the
 * call in flight and every later call fail with ZN_EAUTHFAILED, and the call never ran on B. */
Test(client, auth_refused_on_resend_ends_session, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *a = fake_server_start(c, 1);
    struct fake_server *b = fake_server_start(c, 2);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), a, b, "");
    struct states st = {0};
    zn_handle *zh = open_client(hosts, 3000, &st);
    cr_assert_eq(zn_add_auth(zh, "digest", "alice:secret", 12), 0);
    fake_server_refuse_auth(b, true);
    fake_server_set_blackhole(a, true);
    static struct alog l;
    memset(&l, 0, sizeof(l));
    uint64_t w0 = fake_cluster_writes(c);
    cr_assert_eq(zn_acreate(zh, "/w", "", 0, &ZN_OPEN_ACL_UNSAFE, 0, 0, a_str_stat, &l), 0);
    sleep_ms(50);
    fake_server_set_mute(a, true);
    cr_assert(wait_until(is_auth_failed, zh, 8000), "state %d", zn_state(zh));
    cr_assert(wait_count(&l.done, 1, 5000));
    cr_assert_eq(l.rc[0], ZN_EAUTHFAILED, "the call in flight: %s", zn_strerror(l.rc[0]));
    cr_assert_eq(fake_cluster_writes(c), w0, "the resent write never ran without its identity");
    cr_assert_eq(zn_exists(zh, "/", 0, NULL), ZN_EAUTHFAILED);
    cr_assert_eq(zn_add_auth(zh, "digest", "alice:secret", 12), ZN_EAUTHFAILED);
    cr_assert_geq(st.n, 3);
    cr_assert_eq(st.seq[st.n - 1], ZN_STATE_AUTH_FAILED);
    int32_t log[64];
    int nl = fake_server_request_log(b, log, 64);
    print_log("node B (refusing)", log, nl);
    for (int i = 0; i < nl; i++)
        cr_assert_eq(log[i], ZN_ZK_OP_AUTH, "B got only the identity, not op %d", log[i]);
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(a);
    fake_server_stop(b);
    fake_cluster_free(c);
}

/* At most ZN_CLIENT_AUTH_MAX distinct identities per handle, each credential bounded: beyond,
 * ZN_ELIMIT and nothing is sent; the same identity again does not take another slot. */
Test(client, auth_identities_bounded, .timeout = 30)
{
    struct fake_cluster *c = fake_cluster_new(CLUSTER_ID);
    struct fake_server *s = fake_server_start(c, 1);
    char hosts[128];
    hosts_of(hosts, sizeof(hosts), s, NULL, "");
    zn_handle *zh = open_client(hosts, 3000, NULL);
    char cred[32];
    for (int i = 0; i < 7; i++) {
        int n = snprintf(cred, sizeof(cred), "user%d:pw", i);
        cr_assert_eq(zn_add_auth(zh, "digest", cred, n), 0, "identity %d", i);
    }
    cr_assert_eq(zn_add_auth(zh, "digest", "user7:pw", 8), ZN_ELIMIT, "an 8th identity");
    static struct alog l;
    memset(&l, 0, sizeof(l));
    cr_assert_eq(zn_aadd_auth(zh, "digest", "user8:pw", 8, a_void, &l), ZN_ELIMIT);
    cr_assert_eq(zn_add_auth(zh, "digest", "user0:pw", 8), 0, "one already held");
    struct zn_client_infos who = {0};
    cr_assert_eq(zn_whoami(zh, &who), 0);
    cr_assert_eq(who.count, 8, "ip + 7 identities: %d", who.count);
    zn_client_infos_free(&who);
    char ids[512];
    int n = fake_server_identities(s, zn_session_id(zh), ids, sizeof(ids));
    cr_assert_eq(n, 7, "the node got 7 identities, never the refused ones: %d (%s)", n, ids);
    cr_assert_null(strstr(ids, "user7"), "%s", ids);
    cr_assert_null(strstr(ids, "user8"), "%s", ids);
    cr_assert_eq(zn_close(zh), 0);
    zh = open_client(hosts, 3000, NULL);
    static char big[1025];
    memset(big, 'x', sizeof(big));
    big[4] = ':';
    cr_assert_eq(zn_add_auth(zh, "digest", big, 1025), ZN_ELIMIT, "credential above 1 KiB");
    cr_assert_eq(zn_add_auth(zh, "digest", big, 1024), 0, "1 KiB credential");
    cr_assert_eq(zn_add_auth(zh, "abcdefghijabcdefghijabcdefghijabc", "u:p", 3), ZN_ELIMIT,
                 "scheme above 32 bytes");
    cr_assert_eq(zn_close(zh), 0);
    fake_server_stop(s);
    fake_cluster_free(c);
}
