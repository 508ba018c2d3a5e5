/*
 * Fuzz target: the frame decoder and reassembly with untrusted bytes.
 *
 * The input is decoded whole as one datagram, then read as a sequence of records
 * [u8 step][u16 length little-endian][length bytes]; the clock advances by step & 0x7f, the
 * record's source endpoint is step & 0x01, and
 * when step & 0x80 the record's CRC32C is recomputed first (so the fuzzer gets past the
 * checksum and explores the structure checks and reassembly); each record is decoded and, when
 * valid, fed to a small reassembly table (tight slot and byte budgets) with the clock advanced
 * by the time step, expiring partial messages as it goes. Invariants checked: a decoded header
 * is self-consistent, reassembly never exceeds its budget, and a completed message has msg_len
 * bytes. Everything is released at the end (LeakSanitizer sees any leak).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "proto/frame.h"
#include "proto/reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hdr(const struct zn_frame_hdr *h)
{
    ZN_ASSERT(h->seg_count == zn_frame_seg_count(h->msg_len));
    ZN_ASSERT(h->seg_index < h->seg_count);
    ZN_ASSERT(h->payload_len == zn_frame_seg_len(h->msg_len, h->seg_index));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zn_frame_hdr h;
    if (zn_frame_decode(data, size, NULL, &h) == 0)
        check_hdr(&h);

    struct zn_reasm r;
    const uint64_t budget = 64 * 1024;
    ZN_ASSERT(zn_reasm_init(&r, 3, budget, 1000) == 0);
    uint64_t now = 0;
    size_t pos = 0;
    while (pos + 3 <= size) {
        uint8_t step = data[pos];
        now += step & 0x7f;
        size_t len = (size_t)data[pos + 1] | ((size_t)data[pos + 2] << 8);
        pos += 3;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *d = data + pos;
        pos += len;
        uint8_t fixed[ZN_FRAME_DGRAM_MAX_BYTES];
        if ((step & 0x80) && len >= ZN_FRAME_HDR_BYTES && len <= sizeof(fixed)) {
            memcpy(fixed, d, len);
            memset(fixed + 32, 0, 4); /* checksum field (frame.h layout) */
            uint32_t crc = zn_crc32c(0, fixed, len);
            for (int i = 0; i < 4; i++)
                fixed[32 + i] = (uint8_t)(crc >> (8 * i));
            d = fixed;
        }
        zn_reasm_expire(&r, now);
        if (zn_frame_decode(d, len, NULL, &h) != 0)
            continue;
        check_hdr(&h);
        struct zn_reasm_msg msg;
        int rc = zn_reasm_add(&r, &h, d + ZN_FRAME_HDR_BYTES, step & 0x01, now, &msg);
        ZN_ASSERT(r.stats.bytes_in_use <= budget);
        if (rc == 1) {
            ZN_ASSERT(msg.len == h.msg_len);
            volatile uint8_t sink = 0;
            for (uint32_t i = 0; i < msg.len; i += 512)
                sink ^= msg.data[i];
            (void)sink;
            zn_reasm_msg_release(&r, &msg);
        }
    }
    zn_reasm_fini(&r);
    return 0;
}
