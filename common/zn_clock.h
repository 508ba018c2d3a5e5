/*
 * zn_clock.h - time is an input (STYLE.md 2).
 *
 * Code that needs time takes a `const struct zn_clock *` (or, in consensus/ and store/, receives
 * `now` in an event and never reads a clock at all). Two implementations:
 *  - system: CLOCK_MONOTONIC / CLOCK_REALTIME; aborts if monotonic time ever goes backwards
 *    (a deadline computed from a clock that jumps back would silently never fire);
 *  - sim: a manually advanced clock for tests and the deterministic simulator.
 *
 * Context: zn_clock_monotonic_ns/realtime_ns may be called from any thread for the system clock;
 * a sim clock belongs to the thread that drives it.
 */
#ifndef ZN_CLOCK_H
#define ZN_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

#define ZN_NS_PER_US 1000ull
#define ZN_NS_PER_MS 1000000ull
#define ZN_NS_PER_S  1000000000ull

struct zn_clock {
    void *ctx;
    uint64_t (*monotonic_ns)(void *ctx);
    int64_t (*realtime_ns)(void *ctx); /* ns since the Unix epoch */
};

static inline uint64_t zn_clock_monotonic_ns(const struct zn_clock *clock)
{
    return clock->monotonic_ns(clock->ctx);
}

static inline int64_t zn_clock_realtime_ns(const struct zn_clock *clock)
{
    return clock->realtime_ns(clock->ctx);
}

/* State of the production clock: the highest monotonic reading handed out so far. */
struct zn_clock_system {
    _Atomic uint64_t last_monotonic_ns;
    /* Reading source; clock_gettime(CLOCK_MONOTONIC) unless a test injects one. */
    uint64_t (*source_ns)(void *source_ctx);
    void *source_ctx;
};

/* Production clock. `state` must outlive `clock`. */
void zn_clock_system_init(struct zn_clock *clock, struct zn_clock_system *state);

/*
 * Production clock over another monotonic source (tests use it to prove the regression guard:
 * a source that steps back makes the next reading abort).
 */
void zn_clock_system_init_source(struct zn_clock *clock, struct zn_clock_system *state,
                                 uint64_t (*source_ns)(void *), void *source_ctx);

/* Raw CLOCK_MONOTONIC in ns (the default source). */
uint64_t zn_clock_raw_monotonic_ns(void *unused);

/* Simulated clock: starts where told, moves only when advanced. */
struct zn_clock_sim {
    uint64_t monotonic_ns;
    int64_t realtime_ns;
};

void zn_clock_sim_init(struct zn_clock *clock, struct zn_clock_sim *sim, uint64_t start_mono_ns,
                       int64_t start_real_ns);
void zn_clock_sim_advance(struct zn_clock_sim *sim, uint64_t delta_ns);

#endif /* ZN_CLOCK_H */
