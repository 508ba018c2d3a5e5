/*
 * tests/fuzz/fuzz_store_entry.c - log entry decoder (store/entry.c) and reply decoder
 * (store/reply.c) on untrusted bytes: no crash, no over-read, and every accepted entry
 * re-encodes to exactly the input (the encoding is canonical), but for the version byte of a
 * version-1 entry, which re-encodes as version 2. Corpus: version-1 entries and replies
 * (entry-*, reply-*) and version-2 ones with null data and an error txn (v2-*).
 */
#include <stdlib.h>
#include <string.h>

#include "store/entry.h"
#include "store/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct zn_entry_scratch scratch;
    static uint8_t out[1 << 16];
    struct zn_entry e;
    if (zn_entry_decode(data, size, &scratch, &e) == 0) {
        size_t len = 0;
        /* an older version re-encodes as the current one, the same bytes after the version */
        if (size > sizeof(out) || zn_entry_encode(&e, out, sizeof(out), &len) != 0 || len != size ||
            out[0] != ZN_ENTRY_VERSION || memcmp(out + 1, data + 1, size - 1) != 0)
            abort();
    }
    struct zn_reply r;
    if (zn_reply_decode(data, size, &r) == 0) {
        struct zn_reply sub;
        struct zn_str name;
        struct zn_acl_entry acl;
        if (r.op == ZN_OP_MULTI || r.op == ZN_OP_MULTIREAD)
            while (zn_reply_next_sub(&r, &sub) == 0)
                ;
        else if (r.op == ZN_OP_GETACL)
            while (zn_reply_next_acl(&r, &acl) == 0)
                ;
        else
            while (zn_reply_next_name(&r, &name) == 0)
                ;
    }
    return 0;
}
