/*
 * Poll-loop framework: placement, rings with counted backpressure, control messages, QSBR
 * (a writer's synchronize_rcu completes while readers poll and sleep), clean shutdown, and the
 * lab idle policy actually sleeping (an idle lcore uses a small share of a CPU), and a sleeping
 * lcore woken at once by a control message, a stop, or a readable stage wake fd.
 */
#define _LGPL_SOURCE 1
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-qsbr.h>

#include "common/zn_err.h"
#include "dataplane/zn_dp_loop.h"

#if defined(ZN_SANITIZER_BUILD) && ZN_SANITIZER_BUILD
#define LOOP_WAKE_ROUNDS 500u
#else
#define LOOP_WAKE_ROUNDS 2000u
#endif

struct producer {
    struct zn_dp_ring *ring;
    uint64_t next, limit;
    uint64_t refused;
};

static unsigned produce(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    (void)now_ns;
    struct producer *p = ctx;
    if (p->next >= p->limit)
        return 0;
    void *objs[8];
    unsigned n = 0;
    while (n < 8 && p->next + n < p->limit) {
        objs[n] = (void *)(uintptr_t)(p->next + n + 1);
        n++;
    }
    unsigned done = zn_dp_ring_enqueue(p->ring, objs, n);
    p->next += done;
    p->refused += n - done;
    return done;
}

struct consumer {
    struct zn_dp_ring *ring;
    uint64_t expect, received;
    bool in_order;
    _Atomic uint64_t published;
};

static unsigned consume(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    (void)now_ns;
    struct consumer *c = ctx;
    void *objs[4]; /* slower than the producer: the ring fills up */
    unsigned n = zn_dp_ring_dequeue(c->ring, objs, 4);
    for (unsigned i = 0; i < n; i++) {
        if ((uintptr_t)objs[i] != ++c->expect)
            c->in_order = false;
    }
    c->received += n;
    atomic_store_explicit(&c->published, c->received, memory_order_release);
    return n;
}

static void set_flag(void *arg, struct zn_dp_lcore *lc)
{
    *(unsigned *)arg = lc->index + 100;
}

static struct zn_clock g_clock;
static struct zn_clock_system g_clock_state;

static void wait_done(struct zn_dp_ctrl *c)
{
    for (int i = 0; i < 5000 && !atomic_load_explicit(&c->done, memory_order_acquire); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

Test(loop, two_lcores_ring_backpressure_ctrl_shutdown)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    cr_assert_eq(zn_dp_sched_init(s, 2, &idle, 64, &g_clock, true), 0);
    struct zn_dp_ring ring;
    cr_assert_eq(zn_dp_ring_init(&ring, "t", 100, true, true), ZN_EINVAL, "not a power of two");
    cr_assert_eq(zn_dp_ring_init(&ring, "t", 64, true, true), 0);
    struct producer p = {.ring = &ring, .limit = 200000};
    struct consumer c = {.ring = &ring, .in_order = true};
    cr_assert_eq(zn_dp_sched_add_stage(s, "produce", produce, NULL, &p), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "consume", consume, NULL, &c), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "consume", consume, NULL, &c), ZN_EINVAL, "dup name");
    cr_assert_eq(zn_dp_sched_place(s, "consume=2"), ZN_EINVAL, "no lcore 2");
    cr_assert_eq(zn_dp_sched_place(s, "nosuch=1"), ZN_EINVAL);
    cr_assert_eq(zn_dp_sched_place(s, "consume"), ZN_EINVAL);
    cr_assert_eq(s->lcores[0].n_stages, 2, "unplaced stages run on lcore 0");
    cr_assert_eq(zn_dp_sched_place(s, "consume=1"), 0);
    cr_assert_eq(s->lcores[0].n_stages, 1);
    cr_assert_eq(s->lcores[1].n_stages, 1);
    cr_assert_str_eq(s->lcores[1].stages[0]->name, "consume");
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    unsigned flag = 0;
    struct zn_dp_ctrl ctrl = {.fn = set_flag, .arg = &flag};
    cr_assert_eq(zn_dp_lcore_ctrl_send(&s->lcores[1], &ctrl), 0);
    wait_done(&ctrl);
    cr_assert(atomic_load(&ctrl.done));
    cr_assert_eq(flag, 101, "control message ran on lcore 1");
    for (int i = 0; i < 10000 && atomic_load(&c.published) < p.limit; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    zn_dp_sched_stop(s);
    cr_assert_eq(c.received, p.limit, "received %lu", (unsigned long)c.received);
    cr_assert(c.in_order);
    cr_assert_eq(atomic_load(&ring.full), p.refused);
    printf("loop: %lu objects through a 64-slot ring, %lu refused (backpressure)\n",
           (unsigned long)c.received, (unsigned long)p.refused);
    zn_dp_ring_fini(&ring);
    zn_dp_sched_fini(s);
    free(s);
}

static unsigned idle_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)ctx;
    (void)lc;
    (void)now_ns;
    return 0;
}

Test(loop, lab_policy_sleeps_offline_and_rcu_writer_progresses)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    cr_assert_eq(zn_dp_sched_init(s, 2, &idle, 256, &g_clock, true), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "a", idle_poll, NULL, NULL), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "b", idle_poll, NULL, NULL), 0);
    cr_assert_eq(zn_dp_sched_place(s, "b=1"), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    clockid_t cid;
    struct timespec cpu0, cpu1, w0, w1;
    cr_assert_eq(pthread_getcpuclockid(s->lcores[0].thread, &cid), 0);
    clock_gettime(cid, &cpu0);
    clock_gettime(CLOCK_MONOTONIC, &w0);
    /* The writer: grace periods complete although readers are idle (offline while asleep). */
    urcu_qsbr_register_thread();
    urcu_qsbr_thread_offline();
    for (int i = 0; i < 20; i++)
        urcu_qsbr_synchronize_rcu();
    urcu_qsbr_thread_online();
    urcu_qsbr_unregister_thread();
    ts.tv_nsec = 400 * 1000 * 1000;
    nanosleep(&ts, NULL);
    clock_gettime(cid, &cpu1);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    zn_dp_sched_stop(s);
    double cpu = (double)(cpu1.tv_sec - cpu0.tv_sec) + (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
    double wall = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
    printf("loop: idle lab lcore used %.1f%% of a CPU over %.2f s (%lu sleeps)\n",
           100.0 * cpu / wall, wall, (unsigned long)s->lcores[0].stats.sleeps);
    cr_assert_gt(s->lcores[0].stats.deep_sleeps, 20);
    cr_assert_gt(s->lcores[1].stats.deep_sleeps, 20);
    /* Functional bound, generous for a shared machine: a sleeping loop is far from 100%. */
    cr_assert_lt(cpu / wall, 0.25);
    zn_dp_sched_fini(s);
    free(s);
}

Test(loop, idle_parse)
{
    struct zn_dp_idle_cfg c;
    cr_assert_eq(zn_dp_idle_parse("busy", &c), 0);
    cr_assert_eq(c.mode, ZN_DP_IDLE_BUSY);
    cr_assert_eq(zn_dp_idle_parse("lab", &c), 0);
    cr_assert_eq(c.sleep_ns, ZN_DP_IDLE_SLEEP_NS_DEFAULT);
    cr_assert_eq(zn_dp_idle_parse("spin", &c), ZN_EINVAL);
    uint64_t ns;
    cr_assert_eq(zn_dp_idle_decide(&c, 0, &ns), ZN_DP_IDLE_YIELD, "traffic is recent");
    cr_assert_eq(zn_dp_idle_decide(&c, c.yield_window_ns, &ns), ZN_DP_IDLE_SLEEP);
    cr_assert_eq(ns, c.sleep_ns);
    cr_assert_eq(zn_dp_idle_decide(&c, c.deep_after_ns, &ns), ZN_DP_IDLE_SLEEP);
    cr_assert_eq(ns, c.deep_sleep_ns, "deep idle sleeps longer");
    cr_assert_eq(zn_dp_idle_parse("busy", &c), 0);
    cr_assert_eq(zn_dp_idle_decide(&c, 10 * c.deep_after_ns, &ns), ZN_DP_IDLE_SPIN);
}

static uint64_t sleeps_now(struct zn_dp_sched *s)
{
    return atomic_load_explicit(&s->lcores[0].published_sleeps, memory_order_relaxed);
}

/* Bounded wait (2 s) for the lcore to publish more than `n` sleeps: the machine may be busy. */
static void wait_sleeps_above(struct zn_dp_sched *s, uint64_t n)
{
    for (int i = 0; i < 500 && sleeps_now(s) <= n; i++) {
        struct timespec ts = {0, 4 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

Test(loop, idle_policy_changes_at_run_time)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg lab, busy;
    zn_dp_idle_default(&lab, ZN_DP_IDLE_LAB);
    zn_dp_idle_default(&busy, ZN_DP_IDLE_BUSY);
    cr_assert_eq(zn_dp_sched_init(s, 1, &lab, 64, &g_clock, true), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "a", idle_poll, NULL, NULL), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    struct timespec ts = {0, 30 * 1000 * 1000};
    wait_sleeps_above(s, 0);
    cr_assert_gt(sleeps_now(s), 0, "lab policy sleeps");
    cr_assert_eq(zn_dp_sched_set_idle(s, &busy, 2ull * ZN_NS_PER_S), 0);
    uint64_t before = sleeps_now(s);
    nanosleep(&ts, NULL);
    cr_assert_eq(sleeps_now(s), before, "busy policy never sleeps");
    cr_assert_eq(zn_dp_sched_set_idle(s, &lab, 2ull * ZN_NS_PER_S), 0);
    wait_sleeps_above(s, before);
    cr_assert_gt(sleeps_now(s), before, "back to lab: sleeping again");
    zn_dp_sched_stop(s);
    cr_assert_eq(s->lcores[0].idle.mode, ZN_DP_IDLE_LAB);
    cr_assert_eq(s->lcores[0].stats.ctrl_msgs, 2);
    zn_dp_sched_fini(s);
    free(s);
}

/* ---- waking a sleeping lcore (kick eventfd, stage wake fds) ------------------------------ */

/* A lab policy whose sleeps last 30 s: anything the tests below see within their 10 s bounds
 * was delivered by a wake-up, not by the end of a sleep. */
static void long_sleep_cfg(struct zn_dp_idle_cfg *c)
{
    zn_dp_idle_default(c, ZN_DP_IDLE_LAB);
    c->yield_window_ns = 1000 * 1000;
    c->sleep_ns = 30ull * ZN_NS_PER_S;
    c->deep_after_ns = 2 * 1000 * 1000;
    c->deep_sleep_ns = 30ull * ZN_NS_PER_S;
}

/* Bounded wait (10 s) for the lcore to be inside its sleep. */
static bool wait_asleep(struct zn_dp_lcore *lc)
{
    for (int i = 0; i < 10000; i++) {
        if (atomic_load_explicit(&lc->asleep, memory_order_seq_cst))
            return true;
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void note_ctrl(void *arg, struct zn_dp_lcore *lc)
{
    (void)lc;
    atomic_fetch_add_explicit((_Atomic unsigned *)arg, 1, memory_order_relaxed);
}

Test(loop, ctrl_wakes_sleeping_lcore)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    long_sleep_cfg(&idle);
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &g_clock, true), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "a", idle_poll, NULL, NULL), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    struct zn_dp_lcore *lc = &s->lcores[0];
    _Atomic unsigned ran = 0;
    for (int round = 0; round < 3; round++) {
        cr_assert(wait_asleep(lc), "round %d: the lcore never went to sleep", round);
        struct zn_dp_ctrl msg = {.fn = note_ctrl, .arg = (void *)&ran};
        cr_assert_eq(zn_dp_lcore_ctrl_send(lc, &msg), 0);
        for (int i = 0; i < 10000 && !atomic_load_explicit(&msg.done, memory_order_acquire); i++) {
            struct timespec ts = {0, 1000 * 1000}; /* 10 s at most; the sleep lasts 30 s */
            nanosleep(&ts, NULL);
        }
        cr_assert(atomic_load_explicit(&msg.done, memory_order_acquire),
                  "round %d: a control message did not wake the sleeping lcore (ran %u)", round,
                  atomic_load(&ran));
    }
    cr_assert(wait_asleep(lc));
    zn_dp_sched_stop(s); /* kicks the sleeping lcore: returns without waiting 30 s */
    printf("loop: 3 control messages and a stop woke a lcore sleeping 30 s (%lu sleeps, %lu "
           "ended early)\n",
           (unsigned long)lc->stats.sleeps, (unsigned long)lc->stats.fd_wakes);
    cr_assert_eq(atomic_load(&ran), 3);
    cr_assert_geq(lc->stats.fd_wakes, 3);
    zn_dp_sched_fini(s);
    free(s);
}

struct pipe_stage {
    int rfd;
    _Atomic unsigned bytes;
};

static unsigned pipe_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    (void)now_ns;
    struct pipe_stage *p = ctx;
    char buf[16];
    ssize_t n = read(p->rfd, buf, sizeof(buf));
    if (n <= 0)
        return 0;
    atomic_fetch_add_explicit(&p->bytes, (unsigned)n, memory_order_relaxed);
    return (unsigned)n;
}

Test(loop, stage_wake_fd_wakes_sleeping_lcore)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    long_sleep_cfg(&idle);
    int fds[2];
    cr_assert_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    struct pipe_stage ps = {.rfd = fds[0]};
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &g_clock, true), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "pipe", pipe_poll, NULL, &ps), 0);
    cr_assert_eq(zn_dp_sched_stage_wake_fd(s, "nope", fds[0]), ZN_EINVAL);
    cr_assert_eq(zn_dp_sched_stage_wake_fd(s, "pipe", -1), ZN_EINVAL);
    cr_assert_eq(zn_dp_sched_stage_wake_fd(s, "pipe", fds[0]), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    struct zn_dp_lcore *lc = &s->lcores[0];
    for (unsigned round = 1; round <= 3; round++) {
        cr_assert(wait_asleep(lc), "round %u: the lcore never went to sleep", round);
        cr_assert_eq(write(fds[1], "x", 1), 1);
        for (int i = 0; i < 10000 && atomic_load(&ps.bytes) < round; i++) {
            struct timespec ts = {0, 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        cr_assert_eq(atomic_load(&ps.bytes), round,
                     "round %u: a readable wake fd did not wake the sleeping lcore", round);
    }
    cr_assert(wait_asleep(lc));
    zn_dp_sched_stop(s);
    cr_assert_geq(lc->stats.fd_wakes, 3);
    zn_dp_sched_fini(s);
    close(fds[0]);
    close(fds[1]);
    free(s);
}

/* A wake fd that stays readable while its stage finds no work (backpressure) must not turn the
 * sleep into a spin: every other sleep leaves the stage fds out and runs to its end. */
Test(loop, unread_wake_fd_does_not_spin)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    idle.sleep_ns = idle.deep_sleep_ns = 2 * 1000 * 1000;
    int fds[2];
    cr_assert_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    cr_assert_eq(write(fds[1], "x", 1), 1); /* readable for good: idle_poll never reads it */
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &g_clock, true), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "a", idle_poll, NULL, NULL), 0);
    cr_assert_eq(zn_dp_sched_stage_wake_fd(s, "a", fds[0]), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    for (int i = 0; i < 2500 && sleeps_now(s) < 20; i++) {
        struct timespec ts = {0, 4 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    zn_dp_sched_stop(s);
    struct zn_dp_lcore_stats *st = &s->lcores[0].stats;
    printf("loop: readable unread wake fd: %lu sleeps, %lu ended by an fd\n",
           (unsigned long)st->sleeps, (unsigned long)st->fd_wakes);
    cr_assert_geq(st->sleeps, 20, "the lcore did not sleep 20 times within 10 s");
    /* Without the guard every sleep would end at once on the fd. */
    cr_assert_geq(st->sleeps - st->fd_wakes, st->sleeps / 2 - 1);
    zn_dp_sched_fini(s);
    close(fds[0]);
    close(fds[1]);
    free(s);
}

/* ---- another thread's ring into a stage: zn_dp_sched_stage_pending + zn_dp_lcore_wake ---- */

struct xring_stage {
    struct zn_dp_ring ring;
    _Atomic uint64_t consumed;
};

static unsigned xring_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    (void)now_ns;
    struct xring_stage *x = ctx;
    void *objs[8];
    unsigned n = zn_dp_ring_dequeue(&x->ring, objs, 8);
    if (n)
        atomic_fetch_add_explicit(&x->consumed, n, memory_order_release);
    return n;
}

static bool xring_pending(void *ctx)
{
    struct xring_stage *x = ctx;
    return zn_dp_ring_count(&x->ring) > 0;
}

/*
 * The lost-wake-up race: the lcore sleeps 30 s after every empty poll (no yield window), and
 * this thread enqueues one object at a time at varying moments around the lcore's way into the
 * sleep (right after the previous object was consumed, or after a few yields). Each object must
 * be consumed within 10 s: a lost wake-up would leave it in the ring for 30 s. Every sleep ends
 * for one counted reason and none by its timer.
 */
Test(loop, producer_ring_wakes_sleeping_lcore)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    long_sleep_cfg(&idle);
    idle.yield_window_ns = 0;
    idle.deep_after_ns = 0;
    struct xring_stage x;
    cr_assert_eq(zn_dp_ring_init(&x.ring, "xring", 64, true, true), 0);
    atomic_init(&x.consumed, 0);
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &g_clock, true), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "x", xring_poll, NULL, &x), 0);
    cr_assert_eq(zn_dp_sched_stage_pending(s, "nope", xring_pending), ZN_EINVAL);
    cr_assert_eq(zn_dp_sched_stage_pending(s, "x", NULL), ZN_EINVAL);
    cr_assert_eq(zn_dp_sched_stage_pending(s, "x", xring_pending), 0);
    cr_assert_eq(zn_dp_sched_place(s, NULL), 0);
    struct zn_dp_lcore *lc = zn_dp_sched_stage_lcore(s, "x");
    cr_assert_eq(lc, &s->lcores[0]);
    cr_assert_null(zn_dp_sched_stage_lcore(s, "nope"));
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    const uint64_t rounds = LOOP_WAKE_ROUNDS;
    uint64_t max_wait_ns = 0;
    for (uint64_t i = 1; i <= rounds; i++) {
        /* Vary where the lcore is on its way into the sleep: a few hundred ns of delay up to a
         * few yields after the previous object was seen consumed. */
        for (volatile uint64_t d = 0; d < (i % 16) * 64; d++) {
        }
        for (uint64_t y = 0; y < i % 3; y++)
            sched_yield();
        void *obj = (void *)(uintptr_t)i;
        cr_assert_eq(zn_dp_ring_enqueue(&x.ring, &obj, 1), 1);
        zn_dp_lcore_wake(lc);
        uint64_t t0 = zn_clock_monotonic_ns(&g_clock), waited = 0;
        while (atomic_load_explicit(&x.consumed, memory_order_acquire) < i &&
               waited < 10ull * ZN_NS_PER_S) {
            if (i % 2) { /* see the consumption early: the next enqueue races the sleep */
                sched_yield();
            } else {
                struct timespec ts = {0, 20 * 1000};
                nanosleep(&ts, NULL);
            }
            waited = zn_clock_monotonic_ns(&g_clock) - t0;
        }
        cr_assert_eq(atomic_load(&x.consumed), i,
                     "object %lu not consumed within 10 s: a lost wake-up (lcore sleeps 30 s; "
                     "%lu sleeps, %lu kick wakes, %lu cancelled so far)",
                     (unsigned long)i, (unsigned long)atomic_load(&lc->published_waits),
                     (unsigned long)atomic_load(&lc->published_wakes_kick),
                     (unsigned long)lc->stats.sleeps_cancelled);
        if (waited > max_wait_ns)
            max_wait_ns = waited;
    }
    zn_dp_sched_stop(s);
    const struct zn_dp_lcore_stats *st = &lc->stats;
    printf("loop: %lu objects from another thread, each consumed (slowest %.1f ms, the sleep "
           "lasts 30 s): %lu sleeps = %lu kick + %lu fd + %lu cancelled + %lu timer\n",
           (unsigned long)rounds, (double)max_wait_ns / 1e6, (unsigned long)st->sleeps,
           (unsigned long)st->wakes_kick, (unsigned long)st->wakes_fd,
           (unsigned long)st->sleeps_cancelled, (unsigned long)st->wakes_timer);
    cr_assert_eq(st->sleeps, st->wakes_timer + st->wakes_kick + st->wakes_fd + st->sleeps_cancelled,
                 "every sleep ends for exactly one counted reason");
    cr_assert_eq(st->wakes_timer, 0, "no sleep ran to its 30 s end");
    cr_assert_gt(st->wakes_kick, 0, "the producer's kicks woke the lcore");
    zn_dp_sched_fini(s);
    zn_dp_ring_fini(&x.ring);
    free(s);
}
