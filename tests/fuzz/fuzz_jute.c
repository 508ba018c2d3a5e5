/*
 * Fuzz target: ZooKeeper request decoding (jute), including multi iteration and vector walks,
 * and the connect handshake. Whatever the decoder accepts must be safe to iterate, and must
 * re-encode to bytes that decode again to the same request shape.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/zn_assert.h"
#include "proto/zk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t zn_fuzz_out[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    lim.data_bytes_max = 4096;
    struct zn_zk_request req;
    if (zn_zk_request_decode(data, size, &lim, &req) == 0) {
        if (req.type == ZN_ZK_OP_MULTI || req.type == ZN_ZK_OP_MULTIREAD) {
            struct zn_zk_multi_iter it;
            struct zn_zk_request op;
            int32_t k = 0;
            zn_zk_multi_iter_init(&it, &req);
            while (zn_zk_multi_next(&it, &op))
                k++;
            ZN_ASSERT(k == req.u.multi.count);
        }
        long n = zn_zk_request_encode(&req, zn_fuzz_out, sizeof(zn_fuzz_out));
        if (n > 0) {
            struct zn_zk_request again;
            ZN_ASSERT(zn_zk_request_decode(zn_fuzz_out, (size_t)n, &lim, &again) == 0);
            ZN_ASSERT(again.type == req.type && again.xid == req.xid);
        }
    }
    struct zn_zk_connect_request creq;
    (void)zn_zk_connect_request_decode(data, size, &creq);
    return 0;
}
