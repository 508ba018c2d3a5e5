/*
 * dataplane/zn_dp_loop.h - the poll-loop framework: stages, lcores, placement, bounded rings
 * between stages, housekeeping, control messages, the idle policy and clean shutdown.
 *
 * A stage is a poller (a function and its own state) registered by name. A placement string
 * from configuration ("rx=0,raft=0,apply=1") maps stages onto lcores; unplaced stages run on
 * lcore 0 (run-to-completion on small boxes). Each lcore runs zn_dp_lcore_run: it calls its
 * stages in order, and every `housekeeping_every` iterations (and before sleeping) it announces
 * a liburcu QSBR quiescent state, runs the control messages management sent it, and calls the
 * stages' housekeeping hooks (ARP retries, reassembly expiry, stats).
 *
 * Idle policy (DESIGN.md section 4, zn_dp_idle.h): busy or lab; in the lab policy an lcore
 * runs its housekeeping and goes RCU-offline before every sleep, and comes back online after.
 * A sleeping lcore waits in ppoll() rather than nanosleep(): on its own kick eventfd, written
 * by zn_dp_lcore_ctrl_send and zn_dp_sched_stop when it is asleep (a control message or a stop
 * does not wait for the sleep to end), and on the file descriptors its stages registered with
 * zn_dp_sched_stage_wake_fd (a kernel UDP socket, an rx interrupt fd): a datagram wakes it at
 * once instead of after up to deep_sleep_ns. Ports without such an fd (memif, af_packet: no rx
 * interrupts in DPDK 22.11) are found at the end of the sleep as before.
 *
 * Ownership (STYLE.md 5, 6): an lcore's context and its stages' state are written only by that
 * lcore. Management talks to it through its control ring (zn_dp_lcore_ctrl_send) and stops it
 * through the scheduler's C11 atomic flag.
 *
 * Context: zn_dp_sched_* from the thread that owns the scheduler (management); zn_dp_lcore_run
 * on the lcore's thread; stage functions on their lcore only.
 */
#ifndef ZN_DP_LOOP_H
#define ZN_DP_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/zn_clock.h"
#include "common/zn_limits.h"
#include "dataplane/zn_dp_idle.h"

struct rte_ring;
struct zn_dp_lcore;

/* A poller: returns the work it found (0 when idle). */
typedef unsigned (*zn_dp_poll_fn)(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
typedef void (*zn_dp_housekeeping_fn)(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns);
/*
 * Does another thread's ring into this stage hold work (zn_dp_sched_stage_pending)? Called by
 * the lcore after it announced that it goes to sleep; must only read (acquire) what the
 * producer publishes before its zn_dp_lcore_wake.
 */
typedef bool (*zn_dp_pending_fn)(void *ctx);

struct zn_dp_stage {
    char name[ZN_DP_STAGE_NAME_MAX];
    zn_dp_poll_fn poll;
    zn_dp_housekeeping_fn housekeeping; /* may be NULL */
    void *ctx;
    unsigned lcore;
    int wake_fds[ZN_DP_STAGE_WAKE_FDS_MAX]; /* readable: this stage has work */
    unsigned n_wake_fds;
    zn_dp_pending_fn pending; /* may be NULL: no ring from another thread */
};

/* A bounded ring between stages; a full ring is counted backpressure, never a block. */
struct zn_dp_ring {
    struct rte_ring *ring;
    _Atomic uint64_t full; /* objects refused because the ring was full */
};

/*
 * Create a ring of `count` slots (power of two, <= ZN_RING_SIZE_MAX; holds count - 1 objects)
 * in ordinary memory, so it works with or without an initialized EAL. single_producer and
 * single_consumer select the lock-free fast paths. 0, ZN_EINVAL or ZN_ENOMEM.
 */
int zn_dp_ring_init(struct zn_dp_ring *r, const char *name, unsigned count, bool single_producer,
                    bool single_consumer);
void zn_dp_ring_fini(struct zn_dp_ring *r);
/* Enqueue up to n; returns how many were taken, counting the rest as backpressure. */
unsigned zn_dp_ring_enqueue(struct zn_dp_ring *r, void *const *objs, unsigned n);
unsigned zn_dp_ring_dequeue(struct zn_dp_ring *r, void **objs, unsigned n);
unsigned zn_dp_ring_count(const struct zn_dp_ring *r);

/*
 * A control message from management to an lcore: fn(arg, lc) runs on the lcore during its
 * housekeeping, then `done` becomes true (release). The sender owns the message and must keep
 * it alive until done.
 */
struct zn_dp_ctrl {
    void (*fn)(void *arg, struct zn_dp_lcore *lc);
    void *arg;
    _Atomic bool done;
};

struct zn_dp_lcore_stats {
    uint64_t iterations;
    uint64_t busy_iterations;
    uint64_t empty_iterations;
    uint64_t yields;
    uint64_t sleeps;
    uint64_t deep_sleeps; /* of which long sleeps */
    uint64_t fd_wakes;    /* sleeps ended early by a registered fd or the kick */
    /* Why each sleep ended: sleeps = wakes_timer + wakes_kick + wakes_fd + sleeps_cancelled. */
    uint64_t wakes_timer;      /* it lasted its full length (or a signal interrupted it) */
    uint64_t wakes_kick;       /* the kick eventfd: control message, stop, zn_dp_lcore_wake */
    uint64_t wakes_fd;         /* a stage's registered fd (kernel socket), not the kick */
    uint64_t sleeps_cancelled; /* work was pending once asleep was announced: no wait at all */
    uint64_t housekeepings;
    uint64_t ctrl_msgs;
    uint64_t work; /* sum of what the pollers returned */
};

struct zn_dp_lcore {
    unsigned index;
    unsigned n_stages;
    struct zn_dp_stage *stages[ZN_DP_STAGES_MAX];
    struct zn_dp_idle_cfg idle;
    uint32_t housekeeping_every;
    bool rcu; /* register as a liburcu QSBR reader */
    const _Atomic bool *stop;
    const struct zn_clock *clock;
    struct zn_dp_ring ctrl;
    uint64_t last_work_ns;
    /* Sleeping: kick_fd (eventfd) wakes it; `asleep` pairs with zn_dp_lcore_ctrl_send (set,
     * fence, check the ring / written after enqueue, fence, read: one side sees the other). */
    int kick_fd;
    _Atomic bool asleep;
    bool fds_ignored_once; /* an fd woke the last sleep yet no stage found work: skip fds once */
    struct zn_dp_lcore_stats stats;
    /* Published by the lcore after each housekeeping for management to read. */
    _Atomic uint64_t published_iterations;
    _Atomic uint64_t published_sleeps;
    /* Published by the lcore around every wait (relaxed; for tests and tools, any thread):
     * sleep_ns is the length of the wait in progress (0 when awake); the wake counters are
     * copies of stats.wakes_* updated after each wait. */
    _Atomic uint64_t published_sleep_ns;
    _Atomic uint64_t published_waits; /* waits entered (ppoll called) */
    _Atomic uint64_t published_wakes_timer;
    _Atomic uint64_t published_wakes_kick;
    _Atomic uint64_t published_wakes_fd;
    pthread_t thread;
    bool thread_started;
    unsigned eal_lcore; /* EAL lcore id when launched by zn_dp_sched_start_eal */
    bool eal_started;
} __attribute__((aligned(64)));

struct zn_dp_sched {
    unsigned n_stages;
    unsigned n_lcores;
    struct zn_dp_stage stages[ZN_DP_STAGES_MAX];
    struct zn_dp_lcore lcores[ZN_DP_LCORES_MAX];
    _Atomic bool stop;
    /* Runtime idle-policy change: management writes idle_next, then each lcore copies it into
     * its own context from a control message (double buffer; the lcore owns lc->idle). */
    struct zn_dp_idle_cfg idle_next;
    struct zn_dp_ctrl idle_ctrl[ZN_DP_LCORES_MAX];
    bool idle_pending;
};

/* Prepare n_lcores lcore contexts (1..ZN_DP_LCORES_MAX). 0, ZN_EINVAL, ZN_ENOMEM. */
int zn_dp_sched_init(struct zn_dp_sched *s, unsigned n_lcores, const struct zn_dp_idle_cfg *idle,
                     uint32_t housekeeping_every, const struct zn_clock *clock, bool rcu);
void zn_dp_sched_fini(struct zn_dp_sched *s);
/*
 * Let a readable `fd` wake the lcore that runs stage `name` from its sleep (lab policy). The
 * stage must consume what makes the fd readable when polled (a socket's datagrams): an fd that
 * stays readable while the stage finds no work is ignored for one sleep at a time. The caller
 * keeps the fd open while the scheduler runs. 0, ZN_EINVAL (unknown stage, fd < 0), ZN_ELIMIT.
 * Context: before zn_dp_sched_start_*.
 */
int zn_dp_sched_stage_wake_fd(struct zn_dp_sched *s, const char *name, int fd);
/*
 * Let another thread's ring feed stage `name` while its lcore may sleep: `pending(ctx)` (the
 * stage's ctx) tells whether that ring holds work, and the producer calls zn_dp_lcore_wake after
 * every enqueue (see zn_dp_lcore_wake for the protocol). 0, ZN_EINVAL (unknown stage, NULL fn).
 * Context: before zn_dp_sched_start_*.
 */
int zn_dp_sched_stage_pending(struct zn_dp_sched *s, const char *name, zn_dp_pending_fn pending);
/* The lcore that runs stage `name` after zn_dp_sched_place, NULL for an unknown stage. */
struct zn_dp_lcore *zn_dp_sched_stage_lcore(struct zn_dp_sched *s, const char *name);
/* Register a stage (placed on lcore 0 until zn_dp_sched_place says otherwise). */
int zn_dp_sched_add_stage(struct zn_dp_sched *s, const char *name, zn_dp_poll_fn poll,
                          zn_dp_housekeeping_fn housekeeping, void *ctx);
/*
 * Apply a placement "stage=lcore[,stage=lcore...]" (NULL or "" keeps everything on lcore 0) and
 * build each lcore's stage list in registration order. ZN_EINVAL for an unknown stage, a bad
 * lcore index or bad syntax (nothing is changed then).
 */
int zn_dp_sched_place(struct zn_dp_sched *s, const char *placement);
/* Run every lcore on its own pthread (runs without DPDK, tests). 0 or ZN_ESYSTEM. */
int zn_dp_sched_start_threads(struct zn_dp_sched *s);
/*
 * Run lcores 1..n-1 on the EAL worker lcores (rte_eal_remote_launch, in worker order); the
 * caller runs lcore 0 on the main lcore with zn_dp_lcore_run. ZN_ELIMIT when the EAL has fewer
 * than n-1 workers (--lcores), ZN_EBUSY when a worker is not idle.
 */
int zn_dp_sched_start_eal(struct zn_dp_sched *s);
/* Ask every lcore to stop (any thread) and join the threads and EAL workers started here. */
void zn_dp_sched_stop(struct zn_dp_sched *s);

/*
 * Change the idle policy of every running lcore at run time (management thread). Waits at most
 * timeout_ns for every lcore to apply it: 0, ZN_ETIMEDOUT (an lcore has not applied it yet; it
 * will at its next housekeeping, and further calls return ZN_EBUSY until it has), ZN_EFULL.
 */
int zn_dp_sched_set_idle(struct zn_dp_sched *s, const struct zn_dp_idle_cfg *idle,
                         uint64_t timeout_ns);

/* The loop. Returns 0 when stopped. Runs on the calling thread (a pthread or a DPDK lcore). */
int zn_dp_lcore_run(struct zn_dp_lcore *lc);
/* Management side: queue a control message (ZN_EFULL when the ring is full; `done` is then
 * left true: nothing is pending). */
int zn_dp_lcore_ctrl_send(struct zn_dp_lcore *lc, struct zn_dp_ctrl *msg);

/*
 * Producer side of a ring into a stage registered with zn_dp_sched_stage_pending (any thread):
 * call after every enqueue, once the enqueue is published (release). When the lcore is awake it
 * costs a fence and a load, no syscall; when it is asleep (or about to be) it writes the lcore's
 * kick eventfd, so the sleep ends at once. Never loses a wake-up: the producer's "publish;
 * seq_cst fence; read asleep" against the lcore's "asleep = true; seq_cst fence; pending()"
 * means at least one side sees the other (zn_dp_loop.c, invariants).
 */
void zn_dp_lcore_wake(struct zn_dp_lcore *lc);

#endif /* ZN_DP_LOOP_H */
