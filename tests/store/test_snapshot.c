/*
 * tests/store/test_snapshot.c - snapshot round trip (digest equal), a snapshot taken while
 * the writer keeps applying entries (load + replay of the entries after the snapshot zxid
 * reaches the live digest), and rejection of corrupted or truncated images (Criterion).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <urcu-qsbr.h>

#include "common/zn_crc32c.h"
#include "gen.h"
#include "store/snapshot.h"
#include "store_test.h"

struct membuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t off;   /* read position */
    size_t limit; /* bytes a reader may see (truncation tests) */
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
    struct membuf *m = ctx;
    if (m->len + len > m->cap) {
        size_t ncap = m->cap ? m->cap : 1 << 16;
        while (ncap < m->len + len)
            ncap *= 2;
        m->p = realloc(m->p, ncap);
        ZN_ASSERT(m->p);
        m->cap = ncap;
    }
    memcpy(m->p + m->len, buf, len);
    m->len += len;
    return 0;
}

static long mem_read(void *ctx, void *buf, size_t len)
{
    struct membuf *m = ctx;
    size_t end = m->limit ? m->limit : m->len;
    size_t n = end - m->off < len ? end - m->off : len;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    return (long)n;
}

static void setup(void)
{
    rcu_register_thread();
}

static void teardown(void)
{
    rcu_unregister_thread();
}

TestSuite(store_snapshot, .init = setup, .fini = teardown);

static void apply_gen(struct zn_store *s, struct gen *g, uint64_t n, uint8_t *buf)
{
    for (uint64_t i = 0; i < n; i++) {
        struct zn_entry e;
        gen_entry(g, &e);
        size_t len;
        cr_assert_eq(zn_entry_encode(&e, buf, 1 << 16, &len), 0);
        struct zn_apply_result res;
        cr_assert_eq(zn_store_apply(s, buf, len, &res), 0);
        rcu_quiescent_state();
    }
}

static struct zn_store *load(struct membuf *m, int *rc)
{
    struct zn_store *s = NULL;
    m->off = 0;
    *rc = zn_snapshot_load(NULL, mem_read, m, &s);
    return s;
}

Test(store_snapshot, round_trip)
{
    struct zn_store *s;
    cr_assert_eq(zn_store_create(NULL, &s), 0);
    static struct gen g;
    gen_init(&g, 42);
    uint8_t *buf = malloc(1 << 16);
    apply_gen(s, &g, 6000, buf);
    struct zn_snapshot *snap;
    cr_assert_eq(zn_snapshot_begin(s, &snap), 0);
    cr_assert_eq(zn_snapshot_begin(s, &snap), ZN_EBUSY);
    struct membuf m = {0};
    cr_assert_eq(zn_snapshot_write(snap, mem_write, &m), 0);
    uint64_t sd = zn_snapshot_digest(snap);
    cr_assert_eq(zn_snapshot_zxid(snap), zn_store_applied_zxid(s));
    zn_snapshot_end(s, snap);
    cr_assert_eq(sd, zn_store_digest(s));
    int rc;
    struct zn_store *l = load(&m, &rc);
    cr_assert_eq(rc, 0, "load: %s", zn_err_name(rc));
    cr_assert_eq(zn_store_digest(l), zn_store_digest(s));
    cr_assert_eq(zn_store_digest_compute(l), zn_store_digest(s));
    cr_assert_eq(zn_store_applied_zxid(l), zn_store_applied_zxid(s));
    struct zn_store_counts a, b;
    zn_store_counts(s, &a);
    zn_store_counts(l, &b);
    cr_assert(a.znodes == b.znodes && a.sessions == b.sessions && a.acls == b.acls &&
              a.data_bytes == b.data_bytes);
    /* both continue identically */
    struct gen g2 = g;
    apply_gen(s, &g, 3000, buf);
    apply_gen(l, &g2, 3000, buf);
    cr_assert_eq(zn_store_digest(l), zn_store_digest(s));
    cr_assert_eq(zn_store_digest_compute(l), zn_store_digest(l));
    printf("round trip: %llu znodes, %llu sessions, %zu bytes\n", (unsigned long long)a.znodes,
           (unsigned long long)a.sessions, m.len);
    zn_store_destroy(l);
    zn_store_destroy(s);
    free(m.p);
    free(buf);
}

struct snap_thread {
    struct zn_snapshot *snap;
    struct membuf m;
    atomic_int started;
    atomic_int done;
    atomic_uint applied; /* entries the writer applied so far */
    unsigned overlap;    /* entries the snapshot waits for before its second chunk */
    int chunks;
    int rc;
};

static int slow_write(void *ctx, const void *buf, size_t len)
{
    struct snap_thread *t = ctx;
    atomic_store(&t->started, 1);
    /* after the header, let the writer apply entries before continuing: the overlap must not
     * depend on how a loaded machine schedules the two threads */
    if (t->chunks++ == 1)
        while (atomic_load(&t->applied) < t->overlap)
            sched_yield();
    sched_yield();
    return mem_write(&t->m, buf, len);
}

static void *snap_main(void *arg)
{
    struct snap_thread *t = arg;
    rcu_register_thread();
    t->rc = zn_snapshot_write(t->snap, slow_write, t);
    rcu_unregister_thread();
    atomic_store(&t->done, 1);
    return NULL;
}

static size_t encode_op(uint64_t zxid, const struct zn_op *op, uint8_t *out)
{
    static int32_t cxid = 1000;
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                         .zxid = zxid,
                         .time_ms = 1700000000000 + (int64_t)zxid,
                         .session = 0x42,
                         .cxid = ++cxid,
                         .op = *op};
    size_t len;
    ZN_ASSERT(zn_entry_encode(&e, out, 1 << 16, &len) == 0);
    return len;
}

Test(store_snapshot, concurrent_with_writes)
{
    uint32_t bulk = 30000, after = 20000;
#if defined(ZN_SANITIZER_BUILD)
    bulk = 5000;
    after = 4000;
#endif
    struct zn_store *s;
    cr_assert_eq(zn_store_create(NULL, &s), 0);
    uint8_t *buf = malloc(1 << 16);
    uint64_t zxid = 0;
    struct zn_entry se = {
        .type = ZN_ENTRY_SESSION_CREATE, .zxid = ++zxid, .session = 0x42, .timeout_ms = 30000};
    size_t len;
    struct zn_apply_result res;
    cr_assert_eq(zn_entry_encode(&se, buf, 1 << 16, &len), 0);
    cr_assert_eq(zn_store_apply(s, buf, len, &res), 0);
    struct zn_op op = op_create("/bulk", "x", 0);
    len = encode_op(++zxid, &op, buf);
    cr_assert_eq(zn_store_apply(s, buf, len, &res), 0);
    char path[64];
    for (uint32_t i = 0; i < bulk; i++) {
        snprintf(path, sizeof(path), "/bulk/n%u", i);
        op = op_create(path, "0123456789abcdef0123456789abcdef", i % 7 == 0 ? 1 : 0);
        len = encode_op(++zxid, &op, buf);
        cr_assert_eq(zn_store_apply(s, buf, len, &res), 0);
        rcu_quiescent_state();
    }
    /* the log after the snapshot point: setData, delete, re-create, multi */
    uint8_t **log = malloc(after * sizeof(*log));
    size_t *loglen = malloc(after * sizeof(*loglen));
    uint64_t first = zxid + 1;
    for (uint32_t i = 0; i < after; i++) {
        uint32_t k = (i * 7919u) % bulk;
        snprintf(path, sizeof(path), "/bulk/n%u", k);
        switch (i % 4) {
        case 0:
            op = op_set(path, "changed", -1);
            break;
        case 1:
            op = op_path(ZN_OP_DELETE, path, -1);
            break;
        case 2:
            op = op_create(path, "again", 0);
            break;
        default: {
            static struct zn_op subs[2];
            static char p2[64];
            snprintf(p2, sizeof(p2), "/bulk/m%u", i);
            subs[0] = op_create(p2, "m", 0);
            subs[1] = op_set("/bulk", "y", -1);
            op = (struct zn_op){.type = ZN_OP_MULTI, .sub = subs, .sub_count = 2};
        }
        }
        log[i] = malloc(1 << 12);
        loglen[i] = encode_op(++zxid, &op, log[i]);
    }
    struct snap_thread t = {.overlap = after / 2};
    cr_assert_eq(zn_snapshot_begin(s, &t.snap), 0);
    uint64_t snap_zxid = zn_snapshot_zxid(t.snap);
    uint64_t snap_digest = zn_snapshot_digest(t.snap);
    cr_assert_eq(snap_zxid, first - 1);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, snap_main, &t), 0);
    while (!atomic_load(&t.started))
        sched_yield();
    uint32_t i = 0, during = 0;
    while (!atomic_load(&t.done) || i < after) {
        if (i < after) {
            cr_assert_eq(zn_store_apply(s, log[i], loglen[i], &res), 0);
            if (!atomic_load(&t.done))
                during++;
            i++;
            atomic_store(&t.applied, i);
        } else {
            sched_yield();
        }
        rcu_quiescent_state();
    }
    pthread_join(th, NULL);
    cr_assert_eq(t.rc, 0, "snapshot write: %s", zn_err_name(t.rc));
    zn_snapshot_end(s, t.snap);
    cr_assert_gt(during, 0, "entries applied while the snapshot was written");
    /* the kept versions are released in bounded steps; a new snapshot waits for that */
    struct zn_snapshot *next;
    uint32_t steps = 0;
    if (zn_snapshot_begin(s, &next) == ZN_EBUSY) {
        while (zn_store_maintain(s, ZN_STORE_RELEASE_PER_APPLY) > 0)
            steps++;
        cr_assert_eq(zn_snapshot_begin(s, &next), 0);
    }
    zn_snapshot_end(s, next);
    while (zn_store_maintain(s, 1024) > 0)
        ;
    printf("release after snapshot end: %u steps of %u\n", steps, ZN_STORE_RELEASE_PER_APPLY);
    printf("concurrent snapshot: %u znodes at zxid %llu, %u of %u entries applied during the "
           "write, %zu bytes\n",
           bulk + 5, (unsigned long long)snap_zxid, during, after, t.m.len);
    int rc;
    struct zn_store *l = load(&t.m, &rc);
    cr_assert_eq(rc, 0, "load: %s", zn_err_name(rc));
    cr_assert_eq(zn_store_digest(l), snap_digest, "the image is the tree at the snapshot zxid");
    cr_assert_eq(zn_store_applied_zxid(l), snap_zxid);
    for (uint32_t k = 0; k < after; k++) {
        cr_assert_eq(zn_store_apply(l, log[k], loglen[k], &res), 0);
        rcu_quiescent_state();
    }
    cr_assert_eq(zn_store_digest(l), zn_store_digest(s), "replay reaches the live tree");
    cr_assert_eq(zn_store_digest_compute(s), zn_store_digest(s));
    for (uint32_t k = 0; k < after; k++)
        free(log[k]);
    free(log);
    free(loglen);
    free(t.m.p);
    free(buf);
    zn_store_destroy(l);
    zn_store_destroy(s);
}

Test(store_snapshot, corruption_detected)
{
    struct zn_store *s;
    cr_assert_eq(zn_store_create(NULL, &s), 0);
    static struct gen g;
    gen_init(&g, 7);
    uint8_t *buf = malloc(1 << 16);
    apply_gen(s, &g, 800, buf);
    struct zn_snapshot *snap;
    cr_assert_eq(zn_snapshot_begin(s, &snap), 0);
    struct membuf m = {0};
    cr_assert_eq(zn_snapshot_write(snap, mem_write, &m), 0);
    zn_snapshot_end(s, snap);
    int rc;
    uint32_t flips = 0;
    for (size_t off = 0; off < m.len; off += 1 + off / 8) {
        m.p[off] ^= 0x40;
        struct zn_store *l = load(&m, &rc);
        cr_assert(rc != 0 && l == NULL, "flip at %zu accepted", off);
        cr_assert(rc == ZN_ECORRUPT || rc == ZN_EVERSION, "flip at %zu: %s", off, zn_err_name(rc));
        m.p[off] ^= 0x40;
        flips++;
    }
    uint32_t cuts = 0;
    for (size_t cut = 0; cut < m.len; cut += 1 + cut / 4) {
        m.limit = cut ? cut : 1;
        struct zn_store *l = load(&m, &rc);
        cr_assert(rc != 0 && l == NULL, "truncation at %zu accepted", cut);
        cuts++;
    }
    m.limit = 0;
    struct zn_store *l = load(&m, &rc);
    cr_assert_eq(rc, 0);
    zn_store_destroy(l);
    printf("corruption: %u byte flips and %u truncations of a %zu-byte image rejected\n", flips,
           cuts, m.len);
    free(m.p);
    free(buf);
    zn_store_destroy(s);
}

/* The same, with the random workload of gen.h (sessions, ephemerals, expiry, multi, ACLs). */
Test(store_snapshot, concurrent_random_workload)
{
    uint32_t before = 20000, after = 20000;
#if defined(ZN_SANITIZER_BUILD)
    before = 4000;
    after = 4000;
#endif
    struct zn_store *s;
    cr_assert_eq(zn_store_create(NULL, &s), 0);
    static struct gen g;
    gen_init(&g, 2024);
    uint8_t *buf = malloc(1 << 16);
    apply_gen(s, &g, before, buf);
    uint8_t **log = malloc(after * sizeof(*log));
    size_t *loglen = malloc(after * sizeof(*loglen));
    for (uint32_t i = 0; i < after; i++) {
        struct zn_entry e;
        gen_entry(&g, &e);
        log[i] = malloc(1 << 12);
        cr_assert_eq(zn_entry_encode(&e, log[i], 1 << 12, &loglen[i]), 0);
    }
    struct snap_thread t = {.overlap = after / 2};
    cr_assert_eq(zn_snapshot_begin(s, &t.snap), 0);
    uint64_t snap_digest = zn_snapshot_digest(t.snap);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, snap_main, &t), 0);
    struct zn_apply_result res;
    uint32_t i = 0;
    while (!atomic_load(&t.done) || i < after) {
        if (i < after) {
            cr_assert_eq(zn_store_apply(s, log[i], loglen[i], &res), 0);
            i++;
            atomic_store(&t.applied, i);
        } else {
            sched_yield();
        }
        rcu_quiescent_state();
    }
    pthread_join(th, NULL);
    cr_assert_eq(t.rc, 0);
    zn_snapshot_end(s, t.snap);
    int rc;
    struct zn_store *l = load(&t.m, &rc);
    cr_assert_eq(rc, 0, "load: %s", zn_err_name(rc));
    cr_assert_eq(zn_store_digest(l), snap_digest);
    for (uint32_t k = 0; k < after; k++)
        cr_assert_eq(zn_store_apply(l, log[k], loglen[k], &res), 0);
    cr_assert_eq(zn_store_digest(l), zn_store_digest(s), "replay reaches the live tree");
    struct zn_store_counts a, b;
    zn_store_counts(s, &a);
    zn_store_counts(l, &b);
    cr_assert(a.znodes == b.znodes && a.sessions == b.sessions && a.acls == b.acls);
    printf("concurrent snapshot (random workload): %llu znodes, %llu sessions after replay\n",
           (unsigned long long)a.znodes, (unsigned long long)a.sessions);
    for (uint32_t k = 0; k < after; k++)
        free(log[k]);
    free(log);
    free(loglen);
    free(t.m.p);
    free(buf);
    zn_store_destroy(l);
    zn_store_destroy(s);
}

/* Re-stamp an image as snapshot format version v (the CRC32C trailer recomputed). */
static void restamp(struct membuf *m, uint32_t v)
{
    m->p[8] = (uint8_t)(v >> 24);
    m->p[9] = (uint8_t)(v >> 16);
    m->p[10] = (uint8_t)(v >> 8);
    m->p[11] = (uint8_t)v;
    uint32_t crc = zn_crc32c(0, m->p, m->len - 4);
    for (int i = 0; i < 4; i++)
        m->p[m->len - 4 + (size_t)i] = (uint8_t)(crc >> (24 - 8 * i));
}

static struct membuf snap_of(struct zn_store *s)
{
    struct zn_snapshot *snap;
    cr_assert_eq(zn_snapshot_begin(s, &snap), 0);
    struct membuf m = {0};
    cr_assert_eq(zn_snapshot_write(snap, mem_write, &m), 0);
    zn_snapshot_end(s, snap);
    return m;
}

/* Null data survives a snapshot (format version 2); a version-1 image (the previous release's
 * format: the same bytes without null data) still loads, and one that claims null data in
 * version 1 is refused as corrupt. */
Test(store_snapshot, null_data_and_version_1_image)
{
    struct tst t;
    tst_init(&t);
    cr_assert_eq(tst_session(&t, 0x100), 0);
    struct zn_op c = op_create("/x", "abc", 0);
    cr_assert_eq(tst_op(&t, 0x100, &c), 0);
    c = op_create("/e", NULL, 0);
    cr_assert_eq(tst_op(&t, 0x100, &c), 0);
    struct membuf v1 = snap_of(t.s); /* no null data yet: the version-1 bytes but for the stamp */
    cr_assert_eq(v1.p[11], ZN_SNAPSHOT_VERSION);
    restamp(&v1, 1);
    c = op_create("/n", NULL, 0);
    c.data_null = true;
    cr_assert_eq(tst_op(&t, 0x100, &c), 0);
    struct membuf v2 = snap_of(t.s);

    int rc;
    struct zn_store *l = load(&v2, &rc);
    cr_assert_eq(rc, 0, "load: %s", zn_err_name(rc));
    cr_assert_eq(zn_store_digest(l), zn_store_digest(t.s));
    cr_assert_eq(zn_store_digest_compute(l), zn_store_digest(t.s));
    struct zn_wbuf w;
    zn_wbuf_init(&w, 0);
    struct zn_reply r;
    struct zn_op g = op_path(ZN_OP_GETDATA, "/n", -1);
    cr_assert_eq(zn_store_read(l, 0x100, NULL, 0, &g, &w, NULL), 0);
    cr_assert_eq(zn_reply_decode(w.p, w.len, &r), 0);
    cr_assert(r.err == 0 && r.data_null, "null after load");
    g = op_path(ZN_OP_GETDATA, "/e", -1);
    w.len = 0;
    cr_assert_eq(zn_store_read(l, 0x100, NULL, 0, &g, &w, NULL), 0);
    cr_assert_eq(zn_reply_decode(w.p, w.len, &r), 0);
    cr_assert(r.err == 0 && !r.data_null && r.data_len == 0, "empty after load");
    zn_store_destroy(l);

    l = load(&v1, &rc);
    cr_assert_eq(rc, 0, "version-1 image: %s", zn_err_name(rc));
    g = op_path(ZN_OP_GETDATA, "/x", -1);
    w.len = 0;
    cr_assert_eq(zn_store_read(l, 0x100, NULL, 0, &g, &w, NULL), 0);
    cr_assert_eq(zn_reply_decode(w.p, w.len, &r), 0);
    cr_assert(r.err == 0 && r.data_len == 3 && memcmp(r.data, "abc", 3) == 0);
    cr_assert_eq(zn_store_digest_compute(l), zn_store_digest(l));
    zn_store_destroy(l);

    restamp(&v2, 1); /* 0xffffffff is a length in version 1: over the limit */
    l = load(&v2, &rc);
    cr_assert(l == NULL && rc == ZN_ECORRUPT, "null data in a version-1 image: %s",
              zn_err_name(rc));
    restamp(&v2, ZN_SNAPSHOT_VERSION + 1);
    l = load(&v2, &rc);
    cr_assert(l == NULL && rc == ZN_EVERSION);
    zn_wbuf_fini(&w);
    free(v1.p);
    free(v2.p);
    tst_fini(&t);
}
