/*
 * Fuzz target: the ZooKeeper TCP port's input path (node/zkport.c) on an untrusted byte stream.
 * The stream is cut into frames by the port's own scanner (node/zkport_frame.h) exactly as a
 * connection would be: the first frame as the handshake (a ConnectRequest or a four-letter
 * word), the rest as requests, each decoded by the jute request decoder with the port's limits
 * and passed through the port -> lcore message ring (node/zkport_ring.h) and back. Checks: the
 * scanner never claims more bytes than it has, frames are consumed in order, what went into the
 * ring comes out identical, and accepted requests re-encode.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "node/zkport_frame.h"
#include "node/zkport_ring.h"
#include "proto/zk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FRAME_MAX 4096u

static uint8_t zn_fuzz_out[1 << 16];

static void fuzz_ring_roundtrip(struct zn_zkring *r, uint16_t conn, const uint8_t *p, size_t n)
{
    if (zn_zkring_push(r, conn, p, n / 2, p + n / 2, n - n / 2) != 0)
        return;
    uint16_t c;
    const uint8_t *q;
    uint32_t len;
    ZN_ASSERT(zn_zkring_peek(r, &c, &q, &len) == 1);
    ZN_ASSERT(c == conn && len == n && (n == 0 || memcmp(p, q, n) == 0));
    zn_zkring_pop(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct zn_zkring ring;
    static bool ring_ready;
    if (!ring_ready) {
        ZN_ASSERT(zn_zkring_init(&ring, 64 * 1024, FUZZ_FRAME_MAX + 8) == 0);
        ring_ready = true;
    }
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    lim.data_bytes_max = FUZZ_FRAME_MAX;
    size_t off = 0;
    bool handshake = true;
    for (int frames = 0; frames < 256 && off < size; frames++) {
        uint32_t flen = 0;
        unsigned word = 0;
        enum zn_zkport_scan k =
            zn_zkport_scan(data + off, size - off, handshake, FUZZ_FRAME_MAX, &flen, &word);
        if (k == ZN_ZKPORT_SCAN_MORE || k == ZN_ZKPORT_SCAN_BAD)
            break;
        if (k == ZN_ZKPORT_SCAN_WORD) {
            ZN_ASSERT(handshake && word < ZN_ZKPORT_N_WORDS);
            break; /* the port answers and closes */
        }
        if (k == ZN_ZKPORT_SCAN_OVERSIZED) {
            ZN_ASSERT(!handshake && flen > FUZZ_FRAME_MAX && size - off >= 12);
            break; /* the rest is skipped by length */
        }
        ZN_ASSERT(k == ZN_ZKPORT_SCAN_FRAME && flen <= size - off - 4 && flen <= FUZZ_FRAME_MAX);
        const uint8_t *p = data + off + 4;
        if (handshake) {
            ZN_ASSERT(flen <= ZN_ZKPORT_CONNECT_BYTES_MAX);
            struct zn_zk_connect_request cr;
            if (zn_zk_connect_request_decode(p, flen, &cr) != 0)
                break; /* the port closes */
            long n = zn_zk_connect_request_encode(&cr, zn_fuzz_out, sizeof(zn_fuzz_out));
            ZN_ASSERT(n > 0);
            handshake = false;
        } else {
            struct zn_zk_request req;
            if (zn_zk_request_decode(p, flen, &lim, &req) == 0) {
                long n = zn_zk_request_encode(&req, zn_fuzz_out, sizeof(zn_fuzz_out));
                ZN_ASSERT(n > 0 || n == ZN_ELIMIT || n == ZN_EINVAL);
            }
            fuzz_ring_roundtrip(&ring, (uint16_t)frames, p, flen);
        }
        off += 4 + flen;
    }
    uint32_t mask;
    char list[64];
    size_t n = size < sizeof(list) - 1 ? size : sizeof(list) - 1;
    memcpy(list, data, n);
    list[n] = 0;
    if (zn_zkport_words_parse(list, &mask) == 0)
        ZN_ASSERT(mask < (1u << ZN_ZKPORT_N_WORDS));
    return 0;
}
