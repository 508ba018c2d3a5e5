/*
 * zn_hist.c - log-linear histogram; see zn_hist.h for the bucket layout and error bound.
 */
#include "common/zn_hist.h"
#include "common/zn_assert.h"
#include "common/zn_err.h"

#include <stdbool.h>
#include <string.h>

_Static_assert(ZN_HIST_SUB_BITS >= 1 && ZN_HIST_SUB_BITS <= 16, "sub-bucket bits in range");

size_t zn_hist_bucket_index(uint64_t value)
{
    if (value < ZN_HIST_SUB_COUNT)
        return (size_t)value;
    unsigned msb = 63u - (unsigned)__builtin_clzll(value); /* >= SUB_BITS */
    unsigned shift = msb - ZN_HIST_SUB_BITS;
    size_t group = msb - ZN_HIST_SUB_BITS + 1; /* 1 .. 64 - SUB_BITS */
    size_t sub = (size_t)(value >> shift) - ZN_HIST_SUB_COUNT;
    return group * ZN_HIST_SUB_COUNT + sub;
}

uint64_t zn_hist_bucket_low(size_t index)
{
    ZN_ASSERT(index < ZN_HIST_BUCKETS);
    if (index < ZN_HIST_SUB_COUNT)
        return index;
    size_t group = index / ZN_HIST_SUB_COUNT;
    size_t sub = index % ZN_HIST_SUB_COUNT;
    unsigned shift = (unsigned)group - 1;
    return (uint64_t)(ZN_HIST_SUB_COUNT + sub) << shift;
}

uint64_t zn_hist_bucket_high(size_t index)
{
    ZN_ASSERT(index < ZN_HIST_BUCKETS);
    if (index < ZN_HIST_SUB_COUNT)
        return index;
    size_t group = index / ZN_HIST_SUB_COUNT;
    unsigned shift = (unsigned)group - 1;
    return zn_hist_bucket_low(index) + ((1ull << shift) - 1);
}

void zn_hist_reset(struct zn_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void zn_hist_record_n(struct zn_hist *h, uint64_t value, uint64_t n)
{
    if (n == 0)
        return;
    h->buckets[zn_hist_bucket_index(value)] += n;
    h->count += n;
    unsigned __int128 add = (unsigned __int128)value * n;
    unsigned __int128 sum = (unsigned __int128)h->sum + add;
    h->sum = sum > UINT64_MAX ? UINT64_MAX : (uint64_t)sum;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void zn_hist_record(struct zn_hist *h, uint64_t value)
{
    zn_hist_record_n(h, value, 1);
}

void zn_hist_merge(struct zn_hist *dst, const struct zn_hist *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < ZN_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum = dst->sum + src->sum < dst->sum ? UINT64_MAX : dst->sum + src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t zn_hist_percentile(const struct zn_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p <= 0.0)
        return h->min;
    if (p >= 100.0)
        return h->max;
    /* Rank of the value (1-based): the smallest value with at least p% of values <= it. */
    double exact_rank = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)exact_rank;
    if ((double)rank < exact_rank)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < ZN_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t low = zn_hist_bucket_low(i), high = zn_hist_bucket_high(i);
            uint64_t mid = low + (high - low) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max;
}

double zn_hist_mean(const struct zn_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

/* LEB128 unsigned varints. */
static size_t zn_varint_put(unsigned char *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static int zn_varint_get(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return ZN_EPROTO;
        unsigned char b = *(*p)++;
        if (shift == 63 && (b & 0x7e))
            return ZN_EPROTO; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return ZN_EPROTO;
}

long zn_hist_serialize(const struct zn_hist *h, void *buf, size_t cap)
{
    unsigned char tmp[ZN_HIST_SERIALIZED_MAX];
    size_t n = 0;
    memcpy(tmp, "ZNH1", 4);
    n = 4;
    tmp[n++] = ZN_HIST_SUB_BITS;
    n += zn_varint_put(tmp + n, h->count);
    n += zn_varint_put(tmp + n, h->count ? h->min : 0);
    n += zn_varint_put(tmp + n, h->max);
    n += zn_varint_put(tmp + n, h->sum);
    size_t prev = 0;
    for (size_t i = 0; i < ZN_HIST_BUCKETS; i++) {
        if (h->buckets[i] == 0)
            continue;
        n += zn_varint_put(tmp + n, i - prev);
        n += zn_varint_put(tmp + n, h->buckets[i]);
        prev = i;
    }
    ZN_ASSERT(n <= sizeof(tmp));
    if (n > cap)
        return ZN_ELIMIT;
    memcpy(buf, tmp, n);
    return (long)n;
}

int zn_hist_deserialize(struct zn_hist *h, const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    if (len < 5 || memcmp(p, "ZNH", 3) != 0)
        return ZN_EPROTO;
    if (p[3] != '1' || p[4] != ZN_HIST_SUB_BITS)
        return ZN_EVERSION;
    p += 5;
    uint64_t count, min, max, sum;
    if (zn_varint_get(&p, end, &count) || zn_varint_get(&p, end, &min) ||
        zn_varint_get(&p, end, &max) || zn_varint_get(&p, end, &sum))
        return ZN_EPROTO;
    zn_hist_reset(h);
    uint64_t total = 0;
    size_t index = 0;
    bool first = true;
    while (p < end) {
        uint64_t gap, c;
        if (zn_varint_get(&p, end, &gap) || zn_varint_get(&p, end, &c))
            goto bad;
        if ((!first && gap == 0) || gap >= ZN_HIST_BUCKETS || index + gap >= ZN_HIST_BUCKETS ||
            c == 0 || total + c < total)
            goto bad;
        index += (size_t)gap;
        first = false;
        h->buckets[index] = c;
        total += c;
    }
    if (total != count || (count > 0 && (min > max || zn_hist_bucket_index(min) > index ||
                                         zn_hist_bucket_index(max) != index)))
        goto bad;
    h->count = count;
    h->sum = sum;
    h->min = count ? min : UINT64_MAX;
    h->max = max;
    return 0;
bad:
    zn_hist_reset(h);
    return ZN_EPROTO;
}
