/*
 * fuzz_raft_codec.c - libFuzzer target for the Raft message decoder (consensus/codec.c).
 *
 * Properties: decoding arbitrary bytes never crashes or reads outside the input; every decoded
 * entry and chunk lies inside the input; a message that decodes re-encodes to exactly the input
 * bytes (the format has one encoding per message), and decodes again to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "consensus/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct zn_raft_msg m;
    struct zn_raft_entry ents[64];
    if (zn_raft_msg_decode(&m, ents, 64, data, size) != 0) {
        return 0;
    }
    for (uint32_t i = 0; i < m.n_entries; i++) {
        ZN_ASSERT(m.entries[i].len == 0 || (m.entries[i].data >= data &&
                                            m.entries[i].data + m.entries[i].len <= data + size));
    }
    ZN_ASSERT(m.len == 0 || (m.data >= data && m.data + m.len <= data + size));
    uint8_t *out = malloc(size ? size : 1);
    ZN_ASSERT(out != NULL);
    size_t len = 0;
    ZN_ASSERT(zn_raft_msg_encode(&m, out, size, &len) == 0);
    ZN_ASSERT(len == size && memcmp(out, data, size) == 0);
    struct zn_raft_msg m2;
    struct zn_raft_entry ents2[64];
    ZN_ASSERT(zn_raft_msg_decode(&m2, ents2, 64, out, len) == 0);
    ZN_ASSERT(m2.type == m.type && m2.term == m.term && m2.index == m.index &&
              m2.n_entries == m.n_entries && m2.len == m.len);
    free(out);
    return 0;
}
