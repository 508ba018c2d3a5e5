/*
 * zn_clock.c - the production and simulated clocks.
 *
 * Regression guard (system clock), safe with many threads:
 *  1. load last = the highest reading any thread has returned;
 *  2. read the source;
 *  3. that reading must be >= last, because the reading that produced `last` happened before
 *     step 1, which happens before step 2; a smaller value means the source went backwards;
 *  4. raise `last` to the new reading with a CAS loop (never lowers it).
 * Reading `last` before the source (not after) is what avoids false alarms when two threads race.
 * Test: tests/unit/test_clock.c "system_clock_aborts_on_regression".
 */
#include "common/zn_clock.h"
#include "common/zn_assert.h"

#include <time.h>

uint64_t zn_clock_raw_monotonic_ns(void *unused)
{
    (void)unused;
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        zn_panic("clock_gettime(CLOCK_MONOTONIC) failed");
    return (uint64_t)ts.tv_sec * ZN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t zn_clock_system_monotonic(void *ctx)
{
    struct zn_clock_system *state = ctx;
    uint64_t last = atomic_load_explicit(&state->last_monotonic_ns, memory_order_acquire);
    uint64_t now = state->source_ns(state->source_ctx);
    if (ZN_UNLIKELY(now < last))
        zn_panic("monotonic clock went backwards: %llu ns after %llu ns", (unsigned long long)now,
                 (unsigned long long)last);
    while (now > last &&
           !atomic_compare_exchange_weak_explicit(&state->last_monotonic_ns, &last, now,
                                                  memory_order_acq_rel, memory_order_acquire)) {
    }
    return now;
}

static int64_t zn_clock_system_realtime(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        zn_panic("clock_gettime(CLOCK_REALTIME) failed");
    return (int64_t)ts.tv_sec * (int64_t)ZN_NS_PER_S + (int64_t)ts.tv_nsec;
}

void zn_clock_system_init_source(struct zn_clock *clock, struct zn_clock_system *state,
                                 uint64_t (*source_ns)(void *), void *source_ctx)
{
    ZN_ASSERT(clock != NULL && state != NULL && source_ns != NULL);
    atomic_init(&state->last_monotonic_ns, 0);
    state->source_ns = source_ns;
    state->source_ctx = source_ctx;
    clock->ctx = state;
    clock->monotonic_ns = zn_clock_system_monotonic;
    clock->realtime_ns = zn_clock_system_realtime;
}

void zn_clock_system_init(struct zn_clock *clock, struct zn_clock_system *state)
{
    zn_clock_system_init_source(clock, state, zn_clock_raw_monotonic_ns, NULL);
}

static uint64_t zn_clock_sim_monotonic(void *ctx)
{
    return ((struct zn_clock_sim *)ctx)->monotonic_ns;
}

static int64_t zn_clock_sim_realtime(void *ctx)
{
    return ((struct zn_clock_sim *)ctx)->realtime_ns;
}

void zn_clock_sim_init(struct zn_clock *clock, struct zn_clock_sim *sim, uint64_t start_mono_ns,
                       int64_t start_real_ns)
{
    ZN_ASSERT(clock != NULL && sim != NULL);
    sim->monotonic_ns = start_mono_ns;
    sim->realtime_ns = start_real_ns;
    clock->ctx = sim;
    clock->monotonic_ns = zn_clock_sim_monotonic;
    clock->realtime_ns = zn_clock_sim_realtime;
}

void zn_clock_sim_advance(struct zn_clock_sim *sim, uint64_t delta_ns)
{
    ZN_ASSERT(sim->monotonic_ns + delta_ns >= sim->monotonic_ns);
    sim->monotonic_ns += delta_ns;
    sim->realtime_ns += (int64_t)delta_ns;
}
