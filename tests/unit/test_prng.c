/* PRNG: deterministic per seed, different across seeds, bounded helpers in range and unbiased. */
#include <criterion/criterion.h>

#include "common/zn_prng.h"

Test(prng, same_seed_same_sequence)
{
    struct zn_prng a, b;
    zn_prng_seed(&a, 12345);
    zn_prng_seed(&b, 12345);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(zn_prng_u64(&a), zn_prng_u64(&b));
}

Test(prng, known_first_values_are_stable)
{
    /* Pinned so that a change of algorithm (which would break simulator replays) is noticed. */
    struct zn_prng a;
    zn_prng_seed(&a, 0);
    uint64_t first = zn_prng_u64(&a);
    zn_prng_seed(&a, 0);
    cr_assert_eq(zn_prng_u64(&a), first);
    cr_assert_eq(first, 0x99ec5f36cb75f2b4ull, "first value %016lx", (unsigned long)first);
}

Test(prng, different_seeds_differ)
{
    struct zn_prng a, b;
    zn_prng_seed(&a, 1);
    zn_prng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 1000; i++)
        same += zn_prng_u64(&a) == zn_prng_u64(&b);
    cr_assert_eq(same, 0);
}

Test(prng, bounded_helpers)
{
    struct zn_prng p;
    zn_prng_seed(&p, 77);
    unsigned hist[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = zn_prng_below(&p, 10);
        cr_assert_lt(v, 10);
        hist[v]++;
        uint64_t r = zn_prng_range(&p, 5, 7);
        cr_assert(r >= 5 && r <= 7);
        double d = zn_prng_double(&p);
        cr_assert(d >= 0.0 && d < 1.0);
    }
    for (int i = 0; i < 10; i++)
        cr_assert(hist[i] > 9500 && hist[i] < 10500, "bucket %d: %u", i, hist[i]);
    cr_assert_eq(zn_prng_below(&p, 1), 0);
    cr_assert(zn_prng_chance(&p, 1, 1));
    cr_assert(!zn_prng_chance(&p, 0, 1));
    (void)zn_prng_range(&p, 0, UINT64_MAX);
}
