/* Clocks: the simulated clock moves only when told; the system clock aborts on regression. */
#include <criterion/criterion.h>
#include <signal.h>

#include "common/zn_clock.h"

Test(clock, sim_clock_moves_only_when_advanced)
{
    struct zn_clock clock;
    struct zn_clock_sim sim;
    zn_clock_sim_init(&clock, &sim, 1000, 1700000000000000000ll);
    cr_assert_eq(zn_clock_monotonic_ns(&clock), 1000);
    cr_assert_eq(zn_clock_monotonic_ns(&clock), 1000);
    zn_clock_sim_advance(&sim, 500);
    cr_assert_eq(zn_clock_monotonic_ns(&clock), 1500);
    cr_assert_eq(zn_clock_realtime_ns(&clock), 1700000000000000500ll);
}

Test(clock, system_clock_is_monotonic_and_sane)
{
    struct zn_clock clock;
    struct zn_clock_system state;
    zn_clock_system_init(&clock, &state);
    uint64_t prev = zn_clock_monotonic_ns(&clock);
    for (int i = 0; i < 100000; i++) {
        uint64_t now = zn_clock_monotonic_ns(&clock);
        cr_assert_geq(now, prev);
        prev = now;
    }
    /* Realtime is after 2020-01-01. */
    cr_assert_gt(zn_clock_realtime_ns(&clock), 1577836800ll * 1000000000ll);
}

static uint64_t stepping_source(void *ctx)
{
    uint64_t *values = ctx;
    return values[values[0]++];
}

/* values[0] is the cursor; readings follow: 100, 200, then 150 (a step backwards). */
Test(clock, system_clock_aborts_on_regression, .signal = SIGABRT)
{
    static uint64_t values[] = {1, 100, 200, 150};
    struct zn_clock clock;
    struct zn_clock_system state;
    zn_clock_system_init_source(&clock, &state, stepping_source, values);
    cr_assert_eq(zn_clock_monotonic_ns(&clock), 100);
    cr_assert_eq(zn_clock_monotonic_ns(&clock), 200);
    (void)zn_clock_monotonic_ns(&clock); /* aborts */
    cr_assert_fail("the regression was not detected");
}

Test(clock, equal_readings_are_allowed)
{
    static uint64_t values[] = {1, 100, 100, 100};
    struct zn_clock clock;
    struct zn_clock_system state;
    zn_clock_system_init_source(&clock, &state, stepping_source, values);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(zn_clock_monotonic_ns(&clock), 100);
}
