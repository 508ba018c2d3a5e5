/*
 * zn_hist.h - log-linear latency histogram (HDR-style) for perf and metrics.
 *
 * Values are unsigned 64-bit (nanoseconds by convention). Values below 2^ZN_HIST_SUB_BITS are
 * counted exactly; above, each power-of-two range [2^k, 2^(k+1)) is split into
 * 2^ZN_HIST_SUB_BITS equal buckets of width 2^(k - ZN_HIST_SUB_BITS). A percentile reports the
 * midpoint of its bucket, clamped to the exact min and max, so its relative error is at most
 * ZN_HIST_REL_ERROR = 2^-(ZN_HIST_SUB_BITS + 1) (0.39%). min, max, count and sum are exact.
 *
 * Recording is O(1) with no allocation; the struct is fixed-size (about 58 KiB), so embed or
 * allocate it at start-up. Merge adds counts bucket by bucket, so merging two histograms equals
 * recording both value sets into one.
 *
 * Context: a histogram has one writer; readers take a copy (zn_hist_merge into a zeroed one).
 */
#ifndef ZN_HIST_H
#define ZN_HIST_H

#include <stddef.h>
#include <stdint.h>

#define ZN_HIST_SUB_BITS  7
#define ZN_HIST_SUB_COUNT (1u << ZN_HIST_SUB_BITS)
/* Exact buckets [0, 2^S) plus S-bit sub-buckets for each msb position S..63. */
#define ZN_HIST_BUCKETS   (ZN_HIST_SUB_COUNT + (64 - ZN_HIST_SUB_BITS) * ZN_HIST_SUB_COUNT)
#define ZN_HIST_REL_ERROR (1.0 / (double)(2u << ZN_HIST_SUB_BITS))
/* Upper bound of zn_hist_serialize's output (a header plus two varints per bucket). */
#define ZN_HIST_SERIALIZED_MAX (64 + ZN_HIST_BUCKETS * 20)

struct zn_hist {
    uint64_t count;
    uint64_t sum; /* saturates at UINT64_MAX */
    uint64_t min;
    uint64_t max;
    uint64_t buckets[ZN_HIST_BUCKETS];
};

void zn_hist_reset(struct zn_hist *h);
void zn_hist_record(struct zn_hist *h, uint64_t value);
void zn_hist_record_n(struct zn_hist *h, uint64_t value, uint64_t n);
/* dst += src. */
void zn_hist_merge(struct zn_hist *dst, const struct zn_hist *src);
/* Value at percentile p in [0, 100]; 0 for an empty histogram. p = 0 gives min, 100 max. */
uint64_t zn_hist_percentile(const struct zn_hist *h, double p);
double zn_hist_mean(const struct zn_hist *h);

/* Bucket arithmetic (exposed for tests): index of a value, and a bucket's [low, high] range. */
size_t zn_hist_bucket_index(uint64_t value);
uint64_t zn_hist_bucket_low(size_t index);
uint64_t zn_hist_bucket_high(size_t index);

/*
 * Compact serialization: "ZNH1", sub-bits, count, min, max, sum, then (gap, count) varint pairs
 * for the non-empty buckets. Returns bytes written, or ZN_ELIMIT when `cap` is too small.
 * Deserialize validates everything (untrusted input) and returns 0, ZN_EPROTO or ZN_EVERSION.
 */
long zn_hist_serialize(const struct zn_hist *h, void *buf, size_t cap);
int zn_hist_deserialize(struct zn_hist *h, const void *buf, size_t len);

#endif /* ZN_HIST_H */
