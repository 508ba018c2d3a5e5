/*
 * zp_sched.c - open-loop intended send times (see zp_sched.h).
 */
#include <math.h>

#include "common/zn_assert.h"
#include "perf/zinc-perf/zp_sched.h"

static double exp_gap_ns(struct zp_sched *s)
{
    /* u in [0, 1): -ln(1 - u) is finite and >= 0. */
    double u = zn_prng_double(&s->prng);
    return -log1p(-u) * 1e9 / s->rate;
}

void zp_sched_init(struct zp_sched *s, uint64_t start_ns, double rate, enum zp_arrival arrival,
                   uint64_t seed)
{
    ZN_ASSERT(rate > 0);
    s->start_ns = start_ns;
    s->rate = rate;
    s->arrival = arrival;
    s->index = 0;
    zn_prng_seed(&s->prng, seed);
    /* The first operation goes out at the start in both modes. */
    s->poisson_ns = 0;
}

uint64_t zp_sched_peek(const struct zp_sched *s)
{
    if (s->arrival == ZP_ARRIVAL_POISSON) {
        return s->start_ns + (uint64_t)llround(s->poisson_ns);
    }
    return s->start_ns + (uint64_t)llround((double)s->index * 1e9 / s->rate);
}

uint64_t zp_sched_next(struct zp_sched *s)
{
    uint64_t t = zp_sched_peek(s);
    s->index++;
    if (s->arrival == ZP_ARRIVAL_POISSON) {
        s->poisson_ns += exp_gap_ns(s);
    }
    return t;
}
