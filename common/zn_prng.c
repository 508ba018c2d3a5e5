/*
 * zn_prng.c - xoshiro256** with splitmix64 seeding. See zn_prng.h.
 */
#include "common/zn_prng.h"
#include "common/zn_assert.h"

#include <string.h>

static uint64_t zn_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t zn_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void zn_prng_seed(struct zn_prng *prng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        prng->s[i] = zn_splitmix64(&x);
}

uint64_t zn_prng_u64(struct zn_prng *prng)
{
    uint64_t *s = prng->s;
    uint64_t result = zn_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = zn_rotl(s[3], 45);
    return result;
}

uint64_t zn_prng_below(struct zn_prng *prng, uint64_t bound)
{
    ZN_ASSERT(bound > 0);
    unsigned __int128 m = (unsigned __int128)zn_prng_u64(prng) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            m = (unsigned __int128)zn_prng_u64(prng) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t zn_prng_range(struct zn_prng *prng, uint64_t lo, uint64_t hi)
{
    ZN_ASSERT(lo <= hi);
    if (lo == 0 && hi == UINT64_MAX)
        return zn_prng_u64(prng);
    return lo + zn_prng_below(prng, hi - lo + 1);
}

bool zn_prng_chance(struct zn_prng *prng, uint64_t num, uint64_t den)
{
    ZN_ASSERT(den > 0 && num <= den);
    return zn_prng_below(prng, den) < num;
}

double zn_prng_double(struct zn_prng *prng)
{
    return (double)(zn_prng_u64(prng) >> 11) * 0x1.0p-53;
}

void zn_prng_fill(struct zn_prng *prng, void *buf, uint64_t len)
{
    unsigned char *p = buf;
    while (len >= 8) {
        uint64_t v = zn_prng_u64(prng);
        memcpy(p, &v, 8);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t v = zn_prng_u64(prng);
        memcpy(p, &v, (size_t)len);
    }
}
