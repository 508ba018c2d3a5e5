/*
 * tests/store/test_watch.c - the watch registry with ZooKeeper's trigger rules, and the log
 * entry encoding (round trips, canonical form, truncations, random bytes, limits) (Criterion).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <urcu-qsbr.h>

#include "gen.h"
#include "store/watch.h"
#include "store_test.h"

static struct tst T;
static struct zn_watch_reg *WR;

#define EV_MAX 64
static struct zn_watch_event ev[EV_MAX];
static char ev_path[EV_MAX][64];
static int nev;

static void emit(void *ctx, const struct zn_watch_event *e)
{
    (void)ctx;
    cr_assert_lt(nev, EV_MAX);
    ev[nev] = *e;
    snprintf(ev_path[nev], sizeof(ev_path[0]), "%.*s", (int)e->path.len, e->path.ptr);
    nev++;
}

static void setup(void)
{
    rcu_register_thread();
    tst_init(&T);
    cr_assert_eq(zn_watch_reg_create(&WR), 0);
    cr_assert_eq(tst_session(&T, 0xA), 0);
    cr_assert_eq(tst_session(&T, 0xB), 0);
    nev = 0;
}

static void teardown(void)
{
    zn_watch_reg_destroy(WR);
    tst_fini(&T);
    rcu_unregister_thread();
}

TestSuite(store_watch, .init = setup, .fini = teardown);

static void fire(void)
{
    zn_watch_fire(WR, &T.res, emit, NULL);
}

static void do_op(const struct zn_op *op)
{
    cr_assert_eq(tst_op(&T, 0xA, op), 0);
    fire();
}

static void watch(uint64_t session, const char *path, int kind)
{
    struct zn_stat st;
    bool exists = tst_stat(&T, path, &st) == 0;
    cr_assert_eq(zn_watch_add(WR, T.s, session, path, (uint32_t)strlen(path), kind,
                              zn_store_applied_zxid(T.s), exists, emit, NULL),
                 0);
}

static void expect(int i, uint64_t session, int32_t type, const char *path)
{
    cr_assert_gt(nev, i);
    cr_assert_eq(ev[i].session, session, "event %d session", i);
    cr_assert_eq(ev[i].type, type, "event %d type %d", i, ev[i].type);
    cr_assert_str_eq(ev_path[i], path);
}

Test(store_watch, one_shot_data_exists_child)
{
    struct zn_op c = op_create("/w", "1", 0);
    watch(0xA, "/w", ZN_WATCH_EXISTS);
    do_op(&c);
    cr_assert_eq(nev, 1);
    expect(0, 0xA, ZN_EVENT_NODE_CREATED, "/w");
    cr_assert_eq(ev[0].zxid, (int64_t)T.zxid);
    watch(0xA, "/w", ZN_WATCH_DATA);
    watch(0xB, "/w", ZN_WATCH_DATA);
    struct zn_op s = op_set("/w", "2", -1);
    do_op(&s);
    cr_assert_eq(nev, 3);
    expect(1, 0xA, ZN_EVENT_NODE_DATA_CHANGED, "/w");
    expect(2, 0xB, ZN_EVENT_NODE_DATA_CHANGED, "/w");
    do_op(&s);
    cr_assert_eq(nev, 3, "one-shot watches fire once");
    watch(0xA, "/w", ZN_WATCH_CHILD);
    watch(0xA, "/w", ZN_WATCH_DATA);
    struct zn_op cc = op_create("/w/c", NULL, 0);
    do_op(&cc);
    cr_assert_eq(nev, 4);
    expect(3, 0xA, ZN_EVENT_NODE_CHILDREN_CHANGED, "/w");
    struct zn_op dc = op_path(ZN_OP_DELETE, "/w/c", -1);
    do_op(&dc);
    cr_assert_eq(nev, 4, "the child watch was consumed, the data watch ignores children");
    watch(0xA, "/w", ZN_WATCH_CHILD);
    struct zn_op dw = op_path(ZN_OP_DELETE, "/w", -1);
    do_op(&dw);
    cr_assert_eq(nev, 5, "data + child watch of one session: one NodeDeleted");
    expect(4, 0xA, ZN_EVENT_NODE_DELETED, "/w");
    cr_assert_eq(zn_watch_count(WR), 0);
}

Test(store_watch, persistent_and_recursive)
{
    struct zn_op c = op_create("/p", NULL, 0);
    do_op(&c);
    watch(0xA, "/p", ZN_WATCH_PERSISTENT);
    watch(0xB, "/p", ZN_WATCH_PERSISTENT_RECURSIVE);
    struct zn_op s = op_set("/p", "x", -1);
    do_op(&s);
    do_op(&s);
    cr_assert_eq(nev, 4, "persistent watches stay");
    struct zn_op cc = op_create("/p/c", NULL, 0);
    do_op(&cc);
    /* A: NodeChildrenChanged on /p; B (recursive): NodeCreated /p/c, never ChildrenChanged */
    cr_assert_eq(nev, 6);
    int a = ev[4].session == 0xA ? 4 : 5, b = 9 - a;
    expect(a, 0xA, ZN_EVENT_NODE_CHILDREN_CHANGED, "/p");
    expect(b, 0xB, ZN_EVENT_NODE_CREATED, "/p/c");
    struct zn_op deep = op_create("/p/c/d", NULL, 0);
    do_op(&deep);
    cr_assert_eq(nev, 7);
    expect(6, 0xB, ZN_EVENT_NODE_CREATED, "/p/c/d");
    struct zn_op sd = op_set("/p/c/d", "y", -1);
    do_op(&sd);
    expect(7, 0xB, ZN_EVENT_NODE_DATA_CHANGED, "/p/c/d");
    cr_assert_eq(zn_watch_remove(WR, 0xB, "/p", 2, ZN_WATCHER_DATA, true), ZN_ENOWATCHER);
    cr_assert_eq(zn_watch_remove(WR, 0xB, "/p", 2, ZN_WATCHER_PERSISTENT_RECURSIVE, false), 0);
    cr_assert_eq(zn_watch_count(WR), 2, "checkWatches removes nothing");
    cr_assert_eq(zn_watch_remove(WR, 0xB, "/p", 2, ZN_WATCHER_PERSISTENT_RECURSIVE, true), 0);
    cr_assert_eq(zn_watch_remove(WR, 0xA, "/p", 2, ZN_WATCHER_ANY, true), 0);
    cr_assert_eq(zn_watch_remove(WR, 0xA, "/p", 2, ZN_WATCHER_ANY, true), ZN_ENOWATCHER);
    do_op(&sd);
    cr_assert_eq(nev, 8);
}

Test(store_watch, remove_types_and_session_drop)
{
    struct zn_op c = op_create("/r", NULL, 0);
    do_op(&c);
    watch(0xA, "/r", ZN_WATCH_DATA);
    watch(0xA, "/r", ZN_WATCH_EXISTS);
    watch(0xA, "/r", ZN_WATCH_CHILD);
    cr_assert_eq(zn_watch_remove(WR, 0xA, "/r", 2, ZN_WATCHER_CHILDREN, true), 0);
    cr_assert_eq(zn_watch_remove(WR, 0xA, "/r", 2, ZN_WATCHER_CHILDREN, true), ZN_ENOWATCHER);
    cr_assert_eq(zn_watch_remove(WR, 0xA, "/r", 2, ZN_WATCHER_DATA, true), 0);
    cr_assert_eq(zn_watch_count(WR), 0, "Data covers getData and exists watches");
    watch(0xB, "/r", ZN_WATCH_DATA);
    watch(0xB, "/zookeeper", ZN_WATCH_CHILD);
    cr_assert_eq(tst_close(&T, 0xB, ZN_CLOSE_EXPIRED), 0);
    fire();
    cr_assert_eq(zn_watch_count(WR), 0, "an expired session's watches are dropped");
    cr_assert_eq(zn_watch_add(WR, T.s, 0xA, "bad", 3, ZN_WATCH_DATA, 0, false, emit, NULL),
                 ZN_EBADARGUMENTS);
}

Test(store_watch, acl_rechecked_on_delivery)
{
    struct zn_acl_entry acl[] = {{31, {"digest", 6}, {"user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=", 33}}};
    struct zn_op c = op_create("/sec", NULL, 0);
    c.acl = acl;
    do_op(&c);
    struct zn_identity user = {{"digest", 6}, {"user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=", 33}};
    cr_assert_eq(zn_watch_session_auth(WR, 0xA, &user, 1), 0);
    watch(0xA, "/sec", ZN_WATCH_DATA);
    watch(0xB, "/sec", ZN_WATCH_DATA);
    struct zn_op s = op_set("/sec", "x", -1);
    cr_assert_eq(tst_op_ids(&T, 0xA, tst_next_cxid(), &s, &user, 1), 0);
    fire();
    cr_assert_eq(nev, 1, "session B cannot read /sec: no event");
    expect(0, 0xA, ZN_EVENT_NODE_DATA_CHANGED, "/sec");
}

Test(store_watch, change_between_read_and_registration)
{
    struct zn_op c = op_create("/late", "1", 0);
    do_op(&c);
    uint64_t seen = zn_store_applied_zxid(T.s);
    struct zn_op s = op_set("/late", "2", -1);
    do_op(&s); /* applied before the registration reaches the apply stage */
    cr_assert_eq(zn_watch_add(WR, T.s, 0xA, "/late", 5, ZN_WATCH_DATA, seen, true, emit, NULL), 0);
    cr_assert_eq(nev, 1);
    expect(0, 0xA, ZN_EVENT_NODE_DATA_CHANGED, "/late");
    cr_assert_eq(zn_watch_count(WR), 0, "the one-shot watch was consumed by the catch-up");
    seen = zn_store_applied_zxid(T.s);
    struct zn_op d = op_path(ZN_OP_DELETE, "/late", -1);
    do_op(&d);
    cr_assert_eq(zn_watch_add(WR, T.s, 0xA, "/late", 5, ZN_WATCH_EXISTS, seen, true, emit, NULL),
                 0);
    expect(1, 0xA, ZN_EVENT_NODE_DELETED, "/late");
    seen = zn_store_applied_zxid(T.s);
    do_op(&c);
    cr_assert_eq(zn_watch_add(WR, T.s, 0xA, "/late", 5, ZN_WATCH_EXISTS, seen, false, emit, NULL),
                 0);
    expect(2, 0xA, ZN_EVENT_NODE_CREATED, "/late");
    /* nothing changed since the read: registered, no event */
    seen = zn_store_applied_zxid(T.s);
    cr_assert_eq(zn_watch_add(WR, T.s, 0xA, "/late", 5, ZN_WATCH_DATA, seen, true, emit, NULL), 0);
    cr_assert_eq(nev, 3);
    cr_assert_eq(zn_watch_count(WR), 1);
}

/* ---- entry encoding ----------------------------------------------------------------------- */

TestSuite(store_entry);

Test(store_entry, round_trip_canonical_truncations)
{
    static struct gen g;
    gen_init(&g, 5);
    static uint8_t buf[1 << 16], buf2[1 << 16];
    static struct zn_entry_scratch sc;
    uint32_t n = 0, cuts = 0;
    for (int i = 0; i < 3000; i++) {
        struct zn_entry e, d;
        gen_entry(&g, &e);
        size_t len, len2;
        cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), 0);
        cr_assert_eq(zn_entry_encoded_size(&e), len);
        cr_assert_eq(zn_entry_decode(buf, len, &sc, &d), 0);
        cr_assert_eq(zn_entry_encode(&d, buf2, sizeof(buf2), &len2), 0);
        cr_assert(len == len2 && memcmp(buf, buf2, len) == 0, "canonical round trip");
        cr_assert_eq(zn_entry_encode(&e, buf2, len - 1, &len2), ZN_ELIMIT);
        if (i % 10 == 0) {
            for (size_t cut = 0; cut < len; cut++, cuts++)
                cr_assert_neq(zn_entry_decode(buf, cut, &sc, &d), 0, "truncated at %zu", cut);
            buf[len] = 0;
            cr_assert_eq(zn_entry_decode(buf, len + 1, &sc, &d), ZN_EPROTO, "trailing byte");
        }
        n++;
    }
    printf("entries: %u round trips, %u truncations rejected\n", n, cuts);
}

Test(store_entry, random_bytes_and_limits)
{
    static uint8_t buf[4096], buf2[1 << 16];
    static struct zn_entry_scratch sc;
    struct zn_prng rng;
    zn_prng_seed(&rng, 11);
    uint32_t accepted = 0, accepted_v1 = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len = zn_prng_below(&rng, 96);
        zn_prng_fill(&rng, buf, len);
        if (len > 0 && zn_prng_chance(&rng, 1, 2))
            buf[0] = (uint8_t)zn_prng_range(&rng, 1, 2); /* both versions decode */
        if (len > 1 && zn_prng_chance(&rng, 1, 2))
            buf[1] = (uint8_t)zn_prng_range(&rng, 1, 6);
        if (len > 3 && zn_prng_chance(&rng, 1, 2))
            buf[2] = buf[3] = 0;
        struct zn_entry d;
        if (zn_entry_decode(buf, len, &sc, &d) == 0) {
            size_t len2;
            cr_assert_eq(zn_entry_encode(&d, buf2, sizeof(buf2), &len2), 0);
            /* version 1 re-encodes as version 2 with the same bytes after the version */
            cr_assert(len2 == len && buf2[0] == ZN_ENTRY_VERSION &&
                          memcmp(buf + 1, buf2 + 1, len - 1) == 0,
                      "accepted input is canonical");
            accepted++;
            accepted_v1 += buf[0] == 1;
        }
    }
    printf("entries: 200000 random inputs, %u valid ones (%u of version 1) re-encode "
           "identically\n",
           accepted, accepted_v1);
    struct zn_identity ids[ZN_STORE_IDENTITIES_MAX + 1];
    for (uint32_t i = 0; i <= ZN_STORE_IDENTITIES_MAX; i++)
        ids[i] = (struct zn_identity){{"ip", 2}, {"1.2.3.4", 7}};
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                         .ids = ids,
                         .id_count = ZN_STORE_IDENTITIES_MAX + 1,
                         .op = op_path(ZN_OP_DELETE, "/x", -1)};
    size_t len;
    cr_assert_eq(zn_entry_encode(&e, buf2, sizeof(buf2), &len), ZN_ELIMIT);
    e.id_count = 1;
    e.type = 99;
    cr_assert_eq(zn_entry_encode(&e, buf2, sizeof(buf2), &len), ZN_EINVAL);
    e.type = ZN_ENTRY_CLIENT;
    cr_assert_eq(zn_entry_encode(&e, buf2, sizeof(buf2), &len), 0);
    buf2[0] = ZN_ENTRY_VERSION + 1;
    struct zn_entry d;
    cr_assert_eq(zn_entry_decode(buf2, len, &sc, &d), ZN_EVERSION);
    buf2[0] = 0;
    cr_assert_eq(zn_entry_decode(buf2, len, &sc, &d), ZN_EVERSION);
}

/* A version-1 entry as the previous release wrote it (a node upgraded in place replays its old
 * WAL): create2 of /a with data "hi", world:anyone ALL, persistent, and a setData of "" . */
Test(store_entry, version_1_entries_decode)
{
    static const uint8_t v1_create[] = {
        1,    1,    0,    0,                         /* version 1, CLIENT, zero */
        0,    0,    0,    0,    0,    0,    0,    7, /* zxid 7 */
        0,    0,    1,    0x8b, 0xcf, 0xe5, 0x68, 0, /* time_ms 1700000000000 */
        0,    0,    0,    0,    0,    0,    1,    0, /* session 0x100 */
        0,    0,    0,    3,                         /* cxid 3 */
        0,    0,                                     /* no identities */
        0,    0,    0,    15,                        /* create2 */
        0,    0,    0,    2,    '/',  'a',           /* path */
        0,    0,    0,    2,    'h',  'i',           /* data */
        0,    1,    0,    0,    0,    31,   0,    5,    'w', 'o', 'r', 'l', 'd',
        0,    6,    'a',  'n',  'y',  'o',  'n',  'e',  0,   0,   0,   0, /* flags */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,                   /* ttl -1 */
    };
    static struct zn_entry_scratch sc;
    struct zn_entry d;
    cr_assert_eq(zn_entry_decode(v1_create, sizeof(v1_create), &sc, &d), 0);
    cr_assert(d.type == ZN_ENTRY_CLIENT && d.zxid == 7 && d.session == 0x100 && d.cxid == 3);
    cr_assert(d.op.type == ZN_OP_CREATE2 && d.op.path.len == 2 && d.op.data_len == 2 &&
              memcmp(d.op.data, "hi", 2) == 0 && !d.op.data_null && d.op.acl_count == 1 &&
              d.op.ttl_ms == -1);
    /* the same entry re-encodes as version 2, byte for byte after the version */
    static uint8_t out[256];
    size_t len;
    cr_assert_eq(zn_entry_encode(&d, out, sizeof(out), &len), 0);
    cr_assert(len == sizeof(v1_create) && out[0] == 2 &&
              memcmp(out + 1, v1_create + 1, len - 1) == 0);
    /* version 1 has no null data: length 0xffffffff there is malformed */
    static const uint8_t
        v1_set_null[] = {1,    1,    0,    0,    0,    0,    0,    0,   0,   0,   0, 8,
                         0,    0,    0,    0,    0,    0,    0,    0,   0,   0,   0, 0,
                         0,    0,    1,    0,    0,    0,    0,    4,   0,   0, /* cxid 4, no identities */
                         0,    0,    0,    5,    0,    0,    0,    2,   '/', 'a', /* setData /a */
                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}; /* null?, version -1 */
    cr_assert_eq(zn_entry_decode(v1_set_null, sizeof(v1_set_null), &sc, &d), ZN_EPROTO);
    uint8_t v2_set_null[sizeof(v1_set_null)];
    memcpy(v2_set_null, v1_set_null, sizeof(v2_set_null));
    v2_set_null[0] = 2;
    cr_assert_eq(zn_entry_decode(v2_set_null, sizeof(v2_set_null), &sc, &d), 0);
    cr_assert(d.op.type == ZN_OP_SETDATA && d.op.data_null && d.op.data_len == 0 &&
              d.op.version == -1);
    /* ... and no error txn type */
    static const uint8_t v1_error[] = {1, 6, 0, 0, 0, 0, 0, 0,  0,    0,    0,    9,   0, 0,
                                       0, 0, 0, 0, 0, 0, 0, 0,  0,    0,    0,    0,   1, 0,
                                       0, 0, 0, 5, 0, 0, 0, 14, 0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(zn_entry_decode(v1_error, sizeof(v1_error), &sc, &d), ZN_EPROTO);
}

Test(store_entry, error_txn_and_null_round_trip)
{
    static struct zn_entry_scratch sc;
    static uint8_t buf[256];
    size_t len;
    struct zn_entry e = {.type = ZN_ENTRY_ERROR,
                         .zxid = 9,
                         .session = 0x100,
                         .cxid = 5,
                         .op = {.type = ZN_OP_MULTI},
                         .err = ZN_EMARSHALLING};
    cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), 0);
    struct zn_entry d;
    cr_assert_eq(zn_entry_decode(buf, len, &sc, &d), 0);
    cr_assert(d.type == ZN_ENTRY_ERROR && d.cxid == 5 && d.op.type == ZN_OP_MULTI &&
              d.err == ZN_EMARSHALLING && d.session == 0x100);
    e.err = 0; /* an error txn without an error */
    cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), ZN_EINVAL);
    e.err = -(ZN_ERR_COUNT + 1);
    cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), ZN_EINVAL);
    e.err = ZN_EMARSHALLING;
    cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), 0);
    buf[len - 1] = 0; /* err 0xffffff00: not a code */
    cr_assert_eq(zn_entry_decode(buf, len, &sc, &d), ZN_EPROTO);
    /* null data must have no bytes */
    struct zn_entry c = {.type = ZN_ENTRY_CLIENT, .op = op_create("/n", "x", 0)};
    c.op.data_null = true;
    cr_assert_eq(zn_entry_encode(&c, buf, sizeof(buf), &len), ZN_EINVAL);
    c.op = op_create("/n", NULL, 0);
    c.op.data_null = true;
    cr_assert_eq(zn_entry_encode(&c, buf, sizeof(buf), &len), 0);
    cr_assert_eq(zn_entry_decode(buf, len, &sc, &d), 0);
    cr_assert(d.op.data_null && d.op.data == NULL && d.op.data_len == 0);
    c.op.data_null = false;
    size_t len_empty;
    static uint8_t buf2[256];
    cr_assert_eq(zn_entry_encode(&c, buf2, sizeof(buf2), &len_empty), 0);
    cr_assert(len_empty == len && memcmp(buf, buf2, len) != 0, "null and empty encode apart");
    cr_assert_eq(zn_entry_decode(buf2, len_empty, &sc, &d), 0);
    cr_assert(!d.op.data_null);
}

static int rearm(uint64_t session, const char *path, int kind, uint64_t rel)
{
    return zn_watch_rearm(WR, T.s, session, path, (uint32_t)strlen(path), kind, rel, emit, NULL);
}

/* setWatches after a reconnect: ZooKeeper's DataTree.setWatches, relative to the last zxid the
 * client saw (conformance transcript, docs/compatibility.md). */
Test(store_watch, rearm_after_reconnect)
{
    struct zn_op c = op_create("/r", "1", 0);
    do_op(&c);
    uint64_t rel = zn_store_applied_zxid(T.s);
    struct zn_op ce = op_create("/r/exist", NULL, 0); /* created while the client was away */
    do_op(&ce);
    struct zn_op s = op_set("/r", "2", -1);
    do_op(&s);
    cr_assert_eq(rearm(0xA, "/r/exist", ZN_WATCH_EXISTS, rel), 0);
    expect(0, 0xA, ZN_EVENT_NODE_CREATED, "/r/exist");
    cr_assert_eq(rearm(0xA, "/r/exist", ZN_WATCH_DATA, rel), 0);
    expect(1, 0xA, ZN_EVENT_NODE_DATA_CHANGED, "/r/exist"); /* not NodeDeleted */
    cr_assert_eq(rearm(0xA, "/r", ZN_WATCH_CHILD, rel), 0);
    expect(2, 0xA, ZN_EVENT_NODE_CHILDREN_CHANGED, "/r");
    cr_assert_eq(rearm(0xA, "/gone", ZN_WATCH_DATA, rel), 0);
    expect(3, 0xA, ZN_EVENT_NODE_DELETED, "/gone");
    cr_assert_eq(zn_watch_count(WR), 0, "fired one-shot watches are not kept");
    cr_assert_eq(rearm(0xA, "/r", ZN_WATCH_PERSISTENT, rel), 0);
    cr_assert_eq(rearm(0xA, "/r", ZN_WATCH_PERSISTENT_RECURSIVE, rel), 0);
    cr_assert_eq(rearm(0xA, "/missing", ZN_WATCH_EXISTS, rel), 0);
    cr_assert_eq(nev, 4, "persistent watches re-armed silently, a missing node waits");
    cr_assert_eq(zn_watch_count(WR), 3);
    do_op(&s);
    cr_assert_eq(nev, 5, "the re-armed watches fire on the next change (one event a session)");
    expect(4, 0xA, ZN_EVENT_NODE_DATA_CHANGED, "/r");
}
