/* CRC32C: RFC 3720 B.4 vectors, and hardware == software on random buffers and splits. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_crc32c.h"
#include "common/zn_prng.h"

static void check_both(const void *buf, size_t len, uint32_t expect)
{
    cr_assert_eq(zn_crc32c_sw(0, buf, len), expect, "sw %08x != %08x", zn_crc32c_sw(0, buf, len),
                 expect);
    cr_assert_eq(zn_crc32c_hw(0, buf, len), expect, "hw %08x != %08x", zn_crc32c_hw(0, buf, len),
                 expect);
    cr_assert_eq(zn_crc32c(0, buf, len), expect);
}

Test(crc32c, rfc3720_vectors)
{
    unsigned char buf[48];
    memset(buf, 0, 32);
    check_both(buf, 32, 0x8a9136aau);
    memset(buf, 0xff, 32);
    check_both(buf, 32, 0x62a8ab43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    check_both(buf, 32, 0x46dd794eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    check_both(buf, 32, 0x113fdb5cu);
    static const unsigned char iscsi_read[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    check_both(iscsi_read, sizeof(iscsi_read), 0xd9963a56u);
    check_both("123456789", 9, 0xe3069283u);
    check_both("", 0, 0);
}

Test(crc32c, hardware_equals_software_random)
{
    struct zn_prng prng;
    zn_prng_seed(&prng, 3720);
    static unsigned char buf[70000];
    zn_prng_fill(&prng, buf, sizeof(buf));
    for (int iter = 0; iter < 2000; iter++) {
        size_t off = (size_t)zn_prng_below(&prng, 64);
        size_t len = (size_t)zn_prng_below(&prng, iter < 1000 ? 200 : sizeof(buf) - 64);
        uint32_t seed = (uint32_t)zn_prng_u64(&prng);
        cr_assert_eq(zn_crc32c_hw(seed, buf + off, len), zn_crc32c_sw(seed, buf + off, len),
                     "iter %d off %zu len %zu", iter, off, len);
    }
}

Test(crc32c, chaining_equals_one_pass)
{
    struct zn_prng prng;
    zn_prng_seed(&prng, 42);
    unsigned char buf[4096];
    zn_prng_fill(&prng, buf, sizeof(buf));
    uint32_t whole = zn_crc32c(0, buf, sizeof(buf));
    for (size_t split = 0; split <= sizeof(buf); split += 97) {
        uint32_t a = zn_crc32c(0, buf, split);
        cr_assert_eq(zn_crc32c(a, buf + split, sizeof(buf) - split), whole);
        uint32_t s = zn_crc32c_sw(0, buf, split);
        cr_assert_eq(zn_crc32c_sw(s, buf + split, sizeof(buf) - split), whole);
    }
}

Test(crc32c, detects_every_single_bit_flip)
{
    unsigned char buf[256];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 7);
    uint32_t good = zn_crc32c(0, buf, sizeof(buf));
    for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        cr_assert_neq(zn_crc32c(0, buf, sizeof(buf)), good, "bit %zu", bit);
        buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
}

Test(crc32c, three_way_path_equals_serial_and_software_at_every_boundary)
{
    /* Lengths around multiples of the three-way round (3 x 256 bytes) and every alignment. */
    struct zn_prng prng;
    zn_prng_seed(&prng, 768);
    static unsigned char buf[8 * 768 + 64];
    zn_prng_fill(&prng, buf, sizeof(buf));
    static const size_t rounds[] = {0, 1, 2, 3, 7};
    for (size_t r = 0; r < sizeof(rounds) / sizeof(rounds[0]); r++) {
        for (size_t delta = 0; delta < 24; delta++) {
            for (size_t off = 0; off < 9; off++) {
                size_t base = rounds[r] * 768;
                size_t len = base + delta >= 12 ? base + delta - 12 : 0;
                uint32_t seed = (uint32_t)zn_prng_u64(&prng);
                uint32_t sw = zn_crc32c_sw(seed, buf + off, len);
                cr_assert_eq(zn_crc32c_hw(seed, buf + off, len), sw, "len %zu off %zu", len, off);
                cr_assert_eq(zn_crc32c_hw_serial(seed, buf + off, len), sw, "len %zu off %zu", len,
                             off);
            }
        }
    }
}
