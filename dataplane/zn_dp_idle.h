/*
 * dataplane/zn_dp_idle.h - the idle policy of poll loops, usable without DPDK (kernel-UDP
 * clients) as well as by the lcore loop (zn_dp_loop.h).
 *
 *  - busy: never give up the CPU (dedicated cores, production default);
 *  - lab: after an empty poll, sched_yield() while the last work is younger than
 *    yield_window_ns; past that, nanosleep(sleep_ns) with the timer slack set to 1 ns; once
 *    idle for deep_after_ns, nanosleep(deep_sleep_ns) instead. Each wake costs 15-25 us of CPU
 *    on these VMs, so 50 us sleeps alone burn ~20% of a core; the deep sleep brings an idle
 *    instance to ~2% (docs/PERFORMANCE.md). No pause-instruction spins: they never give the
 *    CPU away when cores are shared (shared/dpdk-notes.md "Three nodes on two cores").
 *    The lcore loop (zn_dp_loop.h) sleeps in ppoll instead, so that control messages and the
 *    stages' wake fds (kernel sockets) end a sleep early; zn_dp_idle_after_poll below, for
 *    simple loops without an lcore, sleeps with nanosleep. Measured alternatives that did not
 *    help (short EEVDF slices, naps under contention, spinning before yielding, priorities):
 *    docs/PERFORMANCE.md, Dataplane.
 *
 * Context: a zn_dp_idle belongs to the thread that polls.
 */
#ifndef ZN_DP_IDLE_H
#define ZN_DP_IDLE_H

#include <stdint.h>

#include "common/zn_clock.h"

enum zn_dp_idle_mode {
    ZN_DP_IDLE_BUSY = 0,
    ZN_DP_IDLE_LAB = 1,
};

struct zn_dp_idle_cfg {
    enum zn_dp_idle_mode mode;
    uint64_t yield_window_ns; /* lab: yield while the last work is at most this old */
    uint64_t sleep_ns;        /* lab: nanosleep length once idle */
    uint64_t deep_after_ns;   /* lab: idle longer than this sleeps deep_sleep_ns instead */
    uint64_t deep_sleep_ns;
};

/* "busy" or "lab" with the default windows from zn_limits.h; 0 or ZN_EINVAL. */
int zn_dp_idle_parse(const char *name, struct zn_dp_idle_cfg *cfg);
void zn_dp_idle_default(struct zn_dp_idle_cfg *cfg, enum zn_dp_idle_mode mode);

enum zn_dp_idle_action {
    ZN_DP_IDLE_SPIN,  /* poll again at once */
    ZN_DP_IDLE_YIELD, /* sched_yield() */
    ZN_DP_IDLE_SLEEP, /* nanosleep(*sleep_ns) */
};

/* The decision after an empty poll, `idle_for_ns` after the last work (pure). */
enum zn_dp_idle_action zn_dp_idle_decide(const struct zn_dp_idle_cfg *cfg, uint64_t idle_for_ns,
                                         uint64_t *sleep_ns);

/* Set the calling thread's timer slack to 1 ns when the policy sleeps (lab). */
void zn_dp_idle_thread_setup(const struct zn_dp_idle_cfg *cfg);
void zn_dp_idle_nanosleep(uint64_t ns);

/* A ready-made idle state for simple poll loops (clients, tools) that have no lcore context. */
struct zn_dp_idle {
    struct zn_dp_idle_cfg cfg;
    uint64_t last_work_ns;
    uint64_t yields;
    uint64_t sleeps;
    uint64_t deep_sleeps;
};

void zn_dp_idle_init(struct zn_dp_idle *st, const struct zn_dp_idle_cfg *cfg, uint64_t now_ns);
/* After each poll round with the work it found: yields or sleeps per the policy. Returns the
 * time after waiting (read from `clock`). */
uint64_t zn_dp_idle_after_poll(struct zn_dp_idle *st, unsigned work, uint64_t now_ns,
                               const struct zn_clock *clock);

#endif /* ZN_DP_IDLE_H */
