/*
 * zn_prng.h - a seeded pseudo-random generator passed by pointer (no global state).
 *
 * xoshiro256** (Blackman and Vigna, 2018), state expanded from a 64-bit seed with splitmix64.
 * Not cryptographic: for election timeouts, simulation choices and load generation. The same seed
 * gives the same sequence on every platform (the simulator's replayability depends on it).
 *
 * Context: one generator per owner (per Raft instance, per simulator, per lcore); not shared.
 */
#ifndef ZN_PRNG_H
#define ZN_PRNG_H

#include <stdbool.h>
#include <stdint.h>

struct zn_prng {
    uint64_t s[4];
};

void zn_prng_seed(struct zn_prng *prng, uint64_t seed);
uint64_t zn_prng_u64(struct zn_prng *prng);
/* Uniform in [0, bound), bound > 0; unbiased (Lemire's multiply-and-reject). */
uint64_t zn_prng_below(struct zn_prng *prng, uint64_t bound);
/* Uniform in [lo, hi] inclusive, lo <= hi. */
uint64_t zn_prng_range(struct zn_prng *prng, uint64_t lo, uint64_t hi);
/* True with probability num/den (den > 0, num <= den). */
bool zn_prng_chance(struct zn_prng *prng, uint64_t num, uint64_t den);
/* Uniform double in [0, 1) with 53 random bits. */
double zn_prng_double(struct zn_prng *prng);
/* Fill a buffer with random bytes. */
void zn_prng_fill(struct zn_prng *prng, void *buf, uint64_t len);

#endif /* ZN_PRNG_H */
