/*
 * dataplane/zn_dp_cksum.c - one's-complement sums eight bytes per addition (see zn_dp_cksum.h).
 *
 * Why it is right: the Internet checksum is a sum modulo 0xffff of 16-bit words (RFC 1071 §1-2),
 * and 2^16 = 1 modulo 0xffff, so a 64-bit word read in memory order is congruent to the sum of
 * its four 16-bit words read the same way; a carry out of bit 63 (worth 2^64 = 1) is added
 * back. A trailing odd byte is added as the first byte of a zero-padded 16-bit word, as in
 * rte_raw_cksum. Folding gives the same representative as rte_raw_cksum's reduction: 0 only
 * when every byte is 0, else a value in 1..0xffff.
 */
#include "dataplane/zn_dp_cksum.h"

#include <string.h>

/* a + b with the carry out of bit 63 added back (end-around carry). */
static inline uint64_t add_eac(uint64_t a, uint64_t b)
{
    uint64_t r = a + b;
    return r + (r < a);
}

uint64_t zn_dp_cksum_add(uint64_t sum, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    /* Two independent chains; carries counted apart so the adds do not serialize on them. */
    uint64_t s0 = 0, s1 = 0, c0 = 0, c1 = 0;
    while (len >= 16) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        s0 += a;
        c0 += s0 < a;
        s1 += b;
        c1 += s1 < b;
        p += 16;
        len -= 16;
    }
    uint64_t acc = add_eac(add_eac(add_eac(s0, s1), c0 + c1), sum);
    uint64_t t = (acc & 0xffffffffu) + (acc >> 32); /* < 2^33: room for the tail below */
    if (len >= 8) {
        uint64_t a;
        memcpy(&a, p, 8);
        t += (a & 0xffffffffu) + (a >> 32);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t a;
        memcpy(&a, p, 4);
        t += a;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        memcpy(&w, p, 2);
        t += w;
        p += 2;
        len -= 2;
    }
    if (len == 1) {
        uint16_t w = 0;
        memcpy(&w, p, 1);
        t += w;
    }
    return t;
}
