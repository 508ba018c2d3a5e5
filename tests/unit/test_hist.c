/*
 * Histogram: percentiles within the stated relative error of an exact sort on random and
 * adversarial data; merge equals recording together; serialization round-trips and rejects junk.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_hist.h"
#include "common/zn_prng.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Exact percentile with the same rank rule as zn_hist_percentile (nearest rank). */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    if (p <= 0)
        return sorted[0];
    if (p >= 100)
        return sorted[n - 1];
    double r = p / 100.0 * (double)n;
    size_t rank = (size_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

static void check_against_sort(uint64_t *values, size_t n)
{
    static struct zn_hist h;
    zn_hist_reset(&h);
    for (size_t i = 0; i < n; i++)
        zn_hist_record(&h, values[i]);
    qsort(values, n, sizeof(values[0]), cmp_u64);
    cr_assert_eq(h.count, n);
    cr_assert_eq(h.min, values[0]);
    cr_assert_eq(h.max, values[n - 1]);
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        uint64_t exact = exact_percentile(values, n, ps[i]);
        uint64_t got = zn_hist_percentile(&h, ps[i]);
        double err = exact ? ((double)got - (double)exact) / (double)exact : (double)got;
        if (err < 0)
            err = -err;
        cr_assert_leq(err, ZN_HIST_REL_ERROR + 1e-12, "p%.2f exact %lu got %lu rel err %.5f", ps[i],
                      (unsigned long)exact, (unsigned long)got, err);
    }
}

Test(hist, bucket_layout_is_consistent)
{
    for (size_t i = 0; i < ZN_HIST_BUCKETS; i++) {
        uint64_t lo = zn_hist_bucket_low(i), hi = zn_hist_bucket_high(i);
        cr_assert_leq(lo, hi);
        cr_assert_eq(zn_hist_bucket_index(lo), i);
        cr_assert_eq(zn_hist_bucket_index(hi), i);
        if (i + 1 < ZN_HIST_BUCKETS)
            cr_assert_eq(zn_hist_bucket_low(i + 1), hi + 1, "bucket %zu", i);
    }
    cr_assert_eq(zn_hist_bucket_high(ZN_HIST_BUCKETS - 1), UINT64_MAX);
}

Test(hist, random_uniform_and_lognormal_like)
{
    struct zn_prng prng;
    zn_prng_seed(&prng, 7);
    size_t n = 100000;
    uint64_t *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = zn_prng_range(&prng, 1000, 5000000);
    check_against_sort(v, n);
    for (size_t i = 0; i < n; i++) /* heavy tail: exponentials of uniform shifts */
        v[i] = (zn_prng_u64(&prng) >> zn_prng_below(&prng, 64)) + zn_prng_below(&prng, 3);
    check_against_sort(v, n);
    free(v);
}

Test(hist, adversarial_single_equal_huge_range)
{
    uint64_t one[1] = {123456789};
    check_against_sort(one, 1);
    uint64_t zero[1] = {0};
    check_against_sort(zero, 1);
    uint64_t equal[1000];
    for (int i = 0; i < 1000; i++)
        equal[i] = 987654321987ull;
    check_against_sort(equal, 1000);
    uint64_t huge[6] = {0, 1, UINT64_MAX, UINT64_MAX - 1, 1ull << 63, 127};
    check_against_sort(huge, 6);
    uint64_t powers[128];
    for (int i = 0; i < 64; i++) {
        powers[2 * i] = 1ull << i;
        powers[2 * i + 1] = (1ull << i) - 1;
    }
    check_against_sort(powers, 128);
}

Test(hist, merge_equals_recording_together)
{
    static struct zn_hist a, b, all;
    zn_hist_reset(&a);
    zn_hist_reset(&b);
    zn_hist_reset(&all);
    struct zn_prng prng;
    zn_prng_seed(&prng, 99);
    for (int i = 0; i < 50000; i++) {
        uint64_t v = zn_prng_u64(&prng) >> zn_prng_below(&prng, 60);
        zn_hist_record(i % 3 ? &a : &b, v);
        zn_hist_record(&all, v);
    }
    zn_hist_merge(&a, &b);
    cr_assert_eq(memcmp(&a, &all, sizeof(a)), 0);
    static struct zn_hist empty;
    zn_hist_reset(&empty);
    zn_hist_merge(&a, &empty);
    cr_assert_eq(memcmp(&a, &all, sizeof(a)), 0);
}

Test(hist, empty_and_reset)
{
    static struct zn_hist h;
    zn_hist_reset(&h);
    cr_assert_eq(zn_hist_percentile(&h, 50), 0);
    cr_assert_eq(zn_hist_mean(&h), 0.0);
    zn_hist_record_n(&h, 10, 4);
    cr_assert_eq(h.count, 4);
    cr_assert_eq(h.sum, 40);
    cr_assert_eq(zn_hist_percentile(&h, 50), 10);
    zn_hist_reset(&h);
    cr_assert_eq(h.count, 0);
}

Test(hist, serialization_round_trip_and_validation)
{
    static struct zn_hist h, back;
    static unsigned char buf[ZN_HIST_SERIALIZED_MAX];
    zn_hist_reset(&h);
    struct zn_prng prng;
    zn_prng_seed(&prng, 5);
    for (int i = 0; i < 10000; i++)
        zn_hist_record(&h, zn_prng_u64(&prng) >> zn_prng_below(&prng, 64));
    long n = zn_hist_serialize(&h, buf, sizeof(buf));
    cr_assert_gt(n, 0);
    cr_assert_lt(n, 20000, "compact: %ld bytes", n);
    cr_assert_eq(zn_hist_deserialize(&back, buf, (size_t)n), 0);
    cr_assert_eq(memcmp(&h, &back, sizeof(h)), 0);
    cr_assert_eq(zn_hist_serialize(&h, buf, 10), ZN_ELIMIT);
    /* Empty histogram round trip. */
    zn_hist_reset(&h);
    n = zn_hist_serialize(&h, buf, sizeof(buf));
    cr_assert_eq(zn_hist_deserialize(&back, buf, (size_t)n), 0);
    cr_assert_eq(memcmp(&h, &back, sizeof(h)), 0);
    /* Junk: every truncation and random bytes are rejected without crashing. */
    zn_hist_record(&h, 1000);
    zn_hist_record(&h, 5);
    n = zn_hist_serialize(&h, buf, sizeof(buf));
    for (long cut = 0; cut < n; cut++)
        cr_assert_neq(zn_hist_deserialize(&back, buf, (size_t)cut), 0, "cut %ld", cut);
    buf[3] = '9';
    cr_assert_eq(zn_hist_deserialize(&back, buf, (size_t)n), ZN_EVERSION);
    for (int i = 0; i < 2000; i++) {
        size_t len = (size_t)zn_prng_below(&prng, 64);
        zn_prng_fill(&prng, buf, len);
        memcpy(buf, "ZNH1\x07", len < 5 ? len : 5);
        (void)zn_hist_deserialize(&back, buf, len);
    }
}
