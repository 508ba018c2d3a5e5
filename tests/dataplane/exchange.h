/*
 * Shared by the dataplane tests: framed-message exchanges between two transports, driven from
 * one thread (both ends polled in turn) or against an echo peer in another process.
 */
#ifndef ZN_TEST_EXCHANGE_H
#define ZN_TEST_EXCHANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/zn_dp_msg.h"

/* Sizes every exchange covers: empty, small, exactly one segment, one more, many segments. */
#define EXCHANGE_SIZES                                                           \
    {                                                                            \
        0u, 1u, 64u, 1024u, ZN_FRAME_SEG_BYTES, ZN_FRAME_SEG_BYTES + 1u, 100000u \
    }

/* Fill `buf` with a pattern derived from (seed, i) and check it. */
void exchange_pattern(uint8_t *buf, uint32_t len, uint32_t seed);
bool exchange_pattern_ok(const uint8_t *buf, uint32_t len, uint32_t seed);

/*
 * Send `rounds` messages of every EXCHANGE_SIZES size from a to b; b echoes each back; a checks
 * every byte. Both transports are polled from this thread; gives up after timeout_ns.
 * Returns the number of verified round trips (rounds * number of sizes on success).
 */
unsigned exchange_pair(struct zn_dp_msgr *a, struct zn_dp_msgr *b, const struct zn_dp_addr *addr_a,
                       const struct zn_dp_addr *addr_b, unsigned rounds, uint64_t timeout_ns);

/* The same against an echo server elsewhere (another process): only `a` is polled here. */
unsigned exchange_with_echo(struct zn_dp_msgr *a, const struct zn_dp_addr *addr_b, unsigned rounds,
                            uint64_t timeout_ns);

uint64_t exchange_now_ns(void);

#endif
