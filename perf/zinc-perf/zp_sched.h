/*
 * zp_sched.h - the open-loop schedule: the intended send time of every operation.
 *
 * Latency in an open-loop run is measured from the intended send time, not from the moment the
 * harness got round to sending, so a server (or harness) stall shows up in the percentiles
 * instead of silently lowering the offered load (coordinated omission). Uniform arrivals are
 * computed from the index (t_i = start + i * 1e9 / rate, rounded), so rounding never accumulates;
 * Poisson arrivals add exponential gaps drawn from a seeded PRNG (reproducible).
 *
 * Context: one thread; no allocation.
 */
#ifndef ZP_SCHED_H
#define ZP_SCHED_H

#include <stdint.h>

#include "common/zn_prng.h"
#include "perf/zinc-perf/zp_config.h"

struct zp_sched {
    uint64_t start_ns;
    double rate; /* ops per second */
    enum zp_arrival arrival;
    uint64_t index;    /* next operation */
    double poisson_ns; /* offset of the next operation (poisson) */
    struct zn_prng prng;
};

void zp_sched_init(struct zp_sched *s, uint64_t start_ns, double rate, enum zp_arrival arrival,
                   uint64_t seed);
/* Intended send time of the next operation (does not advance). */
uint64_t zp_sched_peek(const struct zp_sched *s);
/* Returns the next intended send time and advances. */
uint64_t zp_sched_next(struct zp_sched *s);

#endif /* ZP_SCHED_H */
