/*
 * walwake: a WAL batch whose fdatasync finishes while the node's lcore sleeps wakes it at once
 * (store/disk_posix.c syncer -> the disk's completion notifier -> zn_dp_lcore_wake), the way
 * zincd wires it (node/node_walwake.c: zn_disk_set_notify on the WAL's disk, whose notifier is
 * node_wake_lcore, and zn_dp_sched_stage_pending(sched, "wal", zn_wal_pending...)).
 *
 * A real WAL on the POSIX disk in a temporary directory, behind a wrapper disk like zincd's
 * metrics wrapper (it replaces ops/ctx and keeps the notifier); the wrapper's fdatasync can be
 * held at a gate. A lab-policy lcore whose sleeps last 30 s runs one stage playing the node's wal
 * stage (zn_wal_poll, zn_wal_flush, pending check zn_wal_pending). Each round: a control message
 * appends entry `round` and flushes (the batch's job blocks at the gate on the syncer); the test
 * waits until the lcore is inside a fresh 30 s sleep, then opens the gate: the batch can only be
 * seen durable by the stage within 10 s if its completion woke the lcore. The kick wake counter
 * must grow and the timer one must not. No durations are asserted (the bounds only turn a lost
 * wake-up into a failure with a message instead of a hang).
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "dataplane/zn_dp_loop.h"
#include "store/disk.h"
#include "store/wal.h"

#define WALWAKE_ROUNDS   3
#define WALWAKE_SLEEP_NS (30ull * ZN_NS_PER_S)
#define WALWAKE_BOUND_S  10

static struct zn_clock g_clock;
static struct zn_clock_system g_clock_state;

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* ---- the gated wrapper disk (forwards everything; fdatasync waits while the gate is shut) ---- */

static struct zn_disk g_inner;
static _Atomic bool g_gate_shut;
static _Atomic uint32_t g_gate_held; /* fdatasyncs that found the gate shut */

static int gw_open(void *c, const char *n, int f, int *fd)
{
    (void)c;
    return zn_disk_open(&g_inner, n, f, fd);
}
static void gw_close(void *c, int fd)
{
    (void)c;
    zn_disk_close(&g_inner, fd);
}
static long gw_pread(void *c, int fd, void *b, size_t l, uint64_t o)
{
    (void)c;
    return zn_disk_pread(&g_inner, fd, b, l, o);
}
static int gw_pwrite(void *c, int fd, const void *b, size_t l, uint64_t o)
{
    (void)c;
    return zn_disk_pwrite(&g_inner, fd, b, l, o);
}
static int gw_fdatasync(void *c, int fd)
{
    (void)c;
    if (atomic_load(&g_gate_shut)) {
        atomic_fetch_add(&g_gate_held, 1);
        for (int i = 0; i < 3 * WALWAKE_BOUND_S * 1000 && atomic_load(&g_gate_shut); i++)
            nap_ms(1); /* bounded: a test that fails still lets the syncer go */
    }
    return zn_disk_fdatasync(&g_inner, fd);
}
static int gw_fsync_dir(void *c)
{
    (void)c;
    return zn_disk_fsync_dir(&g_inner);
}
static int gw_rename(void *c, const char *a, const char *b)
{
    (void)c;
    return zn_disk_rename(&g_inner, a, b);
}
static int gw_unlink(void *c, const char *n)
{
    (void)c;
    return zn_disk_unlink(&g_inner, n);
}
static int gw_fallocate(void *c, int fd, uint64_t o, uint64_t l)
{
    (void)c;
    return zn_disk_fallocate(&g_inner, fd, o, l);
}
static int gw_truncate(void *c, int fd, uint64_t s)
{
    (void)c;
    return zn_disk_truncate(&g_inner, fd, s);
}
static int gw_size(void *c, int fd, uint64_t *s)
{
    (void)c;
    return zn_disk_size(&g_inner, fd, s);
}
static int gw_list(void *c, int (*fn)(void *arg, const char *name), void *arg)
{
    (void)c;
    return zn_disk_list(&g_inner, fn, arg);
}
static int gw_job_submit(void *c, zn_disk_job_fn fn, void *arg)
{
    (void)c;
    return zn_disk_job_submit(&g_inner, fn, arg);
}
static int gw_job_poll(void *c, void **args, int max)
{
    (void)c;
    return zn_disk_job_poll(&g_inner, args, max);
}
static const struct zn_disk_ops gw_ops = {
    .open = gw_open,
    .close = gw_close,
    .pread = gw_pread,
    .pwrite = gw_pwrite,
    .fdatasync = gw_fdatasync,
    .fsync_dir = gw_fsync_dir,
    .rename = gw_rename,
    .unlink = gw_unlink,
    .fallocate = gw_fallocate,
    .truncate = gw_truncate,
    .size = gw_size,
    .list = gw_list,
    .job_submit = gw_job_submit,
    .job_poll = gw_job_poll,
};

/* ---- the stage (plays node_stage_wal) and the wake path (plays node_wake_lcore) ------------- */

struct ww_stage {
    struct zn_wal *wal;
    _Atomic(struct zn_dp_lcore *) lcore;
    _Atomic uint64_t durable; /* last index the stage saw persisted */
    uint64_t next_index;
    int append_rc;
};

static void ww_wake(void *arg)
{
    struct ww_stage *st = arg;
    atomic_thread_fence(memory_order_seq_cst);
    struct zn_dp_lcore *lc = atomic_load_explicit(&st->lcore, memory_order_relaxed);
    if (lc)
        zn_dp_lcore_wake(lc);
}

static unsigned ww_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)now_ns;
    struct ww_stage *st = ctx;
    if (atomic_load_explicit(&st->lcore, memory_order_relaxed) != lc) {
        atomic_store_explicit(&st->lcore, lc, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst);
    }
    unsigned work = 0;
    struct zn_wal_persisted p;
    if (zn_wal_poll(st->wal, &p) == 1) {
        atomic_store(&st->durable, p.index);
        work++;
    }
    zn_wal_flush(st->wal);
    return work;
}

static bool ww_pending(void *ctx)
{
    struct ww_stage *st = ctx;
    return zn_wal_pending(st->wal);
}

/* Control message: append the next entry and submit its batch (on the lcore). */
static void ww_append_fn(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    struct ww_stage *st = arg;
    uint8_t payload[64];
    memset(payload, (int)st->next_index, sizeof(payload));
    st->append_rc = zn_wal_append(st->wal, 1, 1, st->next_index, payload, sizeof(payload));
    if (st->append_rc == 0 && zn_wal_flush(st->wal) != 1)
        st->append_rc = ZN_EBUSY;
}

static int ww_entry(void *ctx, const struct zn_wal_entry *e)
{
    (void)ctx;
    (void)e;
    return 0;
}

static void *ww_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}
static void ww_release(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

/* Bounded wait (10 s) until the lcore is inside a 30 s sleep begun after wait number `after`. */
static bool wait_fresh_long_sleep(struct zn_dp_lcore *lc, uint64_t after)
{
    for (int i = 0; i < WALWAKE_BOUND_S * 1000; i++) {
        if (atomic_load_explicit(&lc->published_waits, memory_order_acquire) > after &&
            atomic_load_explicit(&lc->published_sleep_ns, memory_order_acquire) ==
                WALWAKE_SLEEP_NS &&
            atomic_load_explicit(&lc->asleep, memory_order_seq_cst))
            return true;
        nap_ms(1);
    }
    return false;
}

Test(walwake, wal_completion_wakes_sleeping_lcore)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    char dir[] = "/tmp/zn-walwake-node-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    void *mem = malloc(zn_disk_posix_size());
    cr_assert_not_null(mem);
    cr_assert_eq(zn_disk_posix_init(&g_inner, mem, dir), 0);
    struct zn_disk disk = g_inner; /* the wrapper keeps bg_ops and notify_ops, like zincd's */
    disk.ops = &gw_ops;
    disk.ctx = NULL;

    static struct ww_stage st;
    memset(&st, 0, sizeof(st));
    st.next_index = 1;
    cr_assert_eq(zn_disk_set_notify(&disk, ww_wake, &st), 0); /* node_walwake_install */
    struct zn_wal_config wc = {
        .disk = &disk,
        .alloc = {ww_alloc, ww_release, NULL},
        .cluster_id = 0x5157,
        .node_id = 1,
        .segment_bytes = 1u << 20,
        .batch_bytes = 64u << 10,
        .entry_bytes_max = 4096,
    };
    struct zn_wal_recovery rec;
    int rc = zn_wal_open(&st.wal, &wc, ww_entry, NULL, &rec);
    cr_assert_eq(rc, 0, "WAL open: %s (%s)", zn_strerror(rc), rec.report.message);

    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    idle.yield_window_ns = 1000 * 1000;
    idle.sleep_ns = WALWAKE_SLEEP_NS;
    idle.deep_after_ns = 2 * 1000 * 1000;
    idle.deep_sleep_ns = WALWAKE_SLEEP_NS;
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    cr_assert_not_null(s);
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &g_clock, false), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "wal", ww_poll, NULL, &st), 0);
    cr_assert_eq(zn_dp_sched_stage_pending(s, "wal", ww_pending), 0);
    cr_assert_eq(zn_dp_sched_place(s, NULL), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    struct zn_dp_lcore *lc = &s->lcores[0];

    for (unsigned round = 1; round <= WALWAKE_ROUNDS; round++) {
        cr_assert(wait_fresh_long_sleep(lc, 0), "round %u: the lcore never slept 30 s", round);
        uint32_t held0 = atomic_load(&g_gate_held);
        uint64_t waits0 = atomic_load(&lc->published_waits); /* the sleep the message ends */
        atomic_store(&g_gate_shut, true);
        static struct zn_dp_ctrl msg;
        msg.fn = ww_append_fn;
        msg.arg = &st;
        cr_assert_eq(zn_dp_lcore_ctrl_send(lc, &msg), 0);
        for (int i = 0; i < WALWAKE_BOUND_S * 1000 && !atomic_load(&msg.done); i++)
            nap_ms(1);
        cr_assert(atomic_load(&msg.done), "round %u: the append message was not run", round);
        cr_assert_eq(st.append_rc, 0, "round %u: append/flush: %s", round,
                     zn_strerror(st.append_rc));
        st.next_index++;
        for (int i = 0; i < WALWAKE_BOUND_S * 1000 && atomic_load(&g_gate_held) == held0; i++)
            nap_ms(1);
        cr_assert_gt(atomic_load(&g_gate_held), held0,
                     "round %u: the batch's fdatasync never reached the gate", round);
        /* The batch is held on the syncer; the lcore must be in a sleep begun after the append. */
        cr_assert(wait_fresh_long_sleep(lc, waits0),
                  "round %u: the lcore did not go back to its 30 s sleep", round);
        uint64_t timer0 = atomic_load(&lc->published_wakes_timer);
        uint64_t kick0 = atomic_load(&lc->published_wakes_kick);
        cr_assert_lt(atomic_load(&st.durable), round);
        atomic_store(&g_gate_shut, false); /* the fdatasync completes now, the lcore sleeps */

        for (int i = 0; i < WALWAKE_BOUND_S * 1000 && atomic_load(&st.durable) < round; i++)
            nap_ms(1);
        cr_assert_eq(atomic_load(&st.durable), round,
                     "round %u: the batch was not seen durable within %d s (durable %llu): its "
                     "completion waited for the lcore's 30 s sleep to end (a lost wake-up); "
                     "wakes: kick %lu -> %lu, timer %lu -> %lu",
                     round, WALWAKE_BOUND_S, (unsigned long long)atomic_load(&st.durable),
                     (unsigned long)kick0, (unsigned long)atomic_load(&lc->published_wakes_kick),
                     (unsigned long)timer0, (unsigned long)atomic_load(&lc->published_wakes_timer));
        /* The wake counters are published after the wait: bounded wait for the fresh value. */
        for (int i = 0;
             i < WALWAKE_BOUND_S * 1000 && atomic_load(&lc->published_wakes_kick) == kick0; i++)
            nap_ms(1);
        uint64_t kick1 = atomic_load(&lc->published_wakes_kick);
        uint64_t timer1 = atomic_load(&lc->published_wakes_timer);
        printf("walwake round %u: lcore in a 30 s sleep while the batch synced; persisted index "
               "%u seen by the wal stage; wakes kick %lu -> %lu, timer %lu -> %lu\n",
               round, round, (unsigned long)kick0, (unsigned long)kick1, (unsigned long)timer0,
               (unsigned long)timer1);
        cr_assert_gt(kick1, kick0, "round %u: the kick wake counter did not grow", round);
        cr_assert_eq(timer1, timer0, "round %u: a sleep ended by its timer", round);
    }
    zn_dp_sched_stop(s);
    const struct zn_dp_lcore_stats *ls = &lc->stats;
    cr_assert_eq(ls->sleeps, ls->wakes_timer + ls->wakes_kick + ls->wakes_fd + ls->sleeps_cancelled,
                 "every sleep ends for one counted reason");
    zn_wal_close(st.wal); /* before the lcore goes: no job may notify a freed lcore */
    zn_dp_sched_fini(s);
    free(s);
    zn_disk_posix_fini(&g_inner);
    free(mem);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}
