/*
 * zn_crc32c.c - CRC-32C, hardware (SSE4.2 crc32 instruction) and portable slicing-by-8.
 *
 * Both paths keep the pre- and post-inversion inside, so callers chain with the returned value.
 */
#include "common/zn_crc32c.h"

#include <string.h>

#include "zn_crc32c_table.h"

static inline uint64_t zn_load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

uint32_t zn_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t c = ~crc;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = zn_crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t v = zn_load_le64(p) ^ c;
        c = zn_crc32c_table[7][v & 0xff] ^ zn_crc32c_table[6][(v >> 8) & 0xff] ^
            zn_crc32c_table[5][(v >> 16) & 0xff] ^ zn_crc32c_table[4][(v >> 24) & 0xff] ^
            zn_crc32c_table[3][(v >> 32) & 0xff] ^ zn_crc32c_table[2][(v >> 40) & 0xff] ^
            zn_crc32c_table[1][(v >> 48) & 0xff] ^ zn_crc32c_table[0][v >> 56];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = zn_crc32c_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* State advanced through ZN_CRC32C_BLOCK zero bytes (see gen_crc32c_table.c). */
static inline uint32_t zn_crc32c_shift(uint32_t st)
{
    return zn_crc32c_shift_block[0][st & 0xff] ^ zn_crc32c_shift_block[1][(st >> 8) & 0xff] ^
           zn_crc32c_shift_block[2][(st >> 16) & 0xff] ^ zn_crc32c_shift_block[3][st >> 24];
}

/* One dependent chain: the crc32 instruction has a latency of 3 cycles, so this runs at a third
 * of the unit's throughput. Used for short inputs and tails. */
__attribute__((target("sse4.2"))) static uint64_t
zn_crc32c_chain(uint64_t c, const unsigned char **pp, size_t *lenp)
{
    const unsigned char *p = *pp;
    size_t len = *lenp;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    *pp = p;
    *lenp = len;
    return c;
}

__attribute__((target("sse4.2"))) uint32_t zn_crc32c_hw_serial(uint32_t crc, const void *buf,
                                                               size_t len)
{
    if (!zn_crc32c_hw_available())
        return zn_crc32c_sw(crc, buf, len);
    const unsigned char *p = buf;
    return ~(uint32_t)zn_crc32c_chain(~crc, &p, &len);
}

/*
 * Three chains over three consecutive blocks keep the crc32 unit busy every cycle; the chains
 * are joined with the precomputed shift: state after A, B, C = shift(shift(a) ^ b) ^ c where
 * b and c were computed from state 0.
 */
__attribute__((target("sse4.2"))) static uint32_t zn_crc32c_sse42(uint32_t crc, const void *buf,
                                                                  size_t len)
{
    const unsigned char *p = buf;
    uint64_t c = ~crc;
    if (len >= 3 * ZN_CRC32C_BLOCK) {
        size_t head = (8 - ((uintptr_t)p & 7)) & 7;
        c = zn_crc32c_chain(c, &p, &head);
        len -= (size_t)(p - (const unsigned char *)buf);
        while (len >= 3 * ZN_CRC32C_BLOCK) {
            uint64_t c0 = c, c1 = 0, c2 = 0;
            for (size_t i = 0; i < ZN_CRC32C_BLOCK; i += 8) {
                uint64_t v0, v1, v2;
                memcpy(&v0, p + i, 8);
                memcpy(&v1, p + ZN_CRC32C_BLOCK + i, 8);
                memcpy(&v2, p + 2 * ZN_CRC32C_BLOCK + i, 8);
                c0 = _mm_crc32_u64(c0, v0);
                c1 = _mm_crc32_u64(c1, v1);
                c2 = _mm_crc32_u64(c2, v2);
            }
            c = zn_crc32c_shift(zn_crc32c_shift((uint32_t)c0) ^ (uint32_t)c1) ^ (uint32_t)c2;
            p += 3 * ZN_CRC32C_BLOCK;
            len -= 3 * ZN_CRC32C_BLOCK;
        }
    }
    c = zn_crc32c_chain(c, &p, &len);
    return ~(uint32_t)c;
}

bool zn_crc32c_hw_available(void)
{
    return __builtin_cpu_supports("sse4.2");
}

uint32_t zn_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    if (zn_crc32c_hw_available())
        return zn_crc32c_sse42(crc, buf, len);
    return zn_crc32c_sw(crc, buf, len);
}
#else
bool zn_crc32c_hw_available(void)
{
    return false;
}

uint32_t zn_crc32c_hw_serial(uint32_t crc, const void *buf, size_t len)
{
    return zn_crc32c_sw(crc, buf, len);
}

uint32_t zn_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return zn_crc32c_sw(crc, buf, len);
}
#endif

uint32_t zn_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return zn_crc32c_hw(crc, buf, len);
}
