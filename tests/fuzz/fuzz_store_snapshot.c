/*
 * tests/fuzz/fuzz_store_snapshot.c - snapshot loader (store/snapshot.c) on untrusted bytes:
 * either a clean error or a tree whose digest and structure were verified; never a crash.
 */
#include <stdlib.h>
#include <string.h>
#include <urcu-qsbr.h>

#include "store/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t len;
    size_t off;
};

static long src_read(void *ctx, void *buf, size_t len)
{
    struct src *s = ctx;
    size_t n = s->len - s->off < len ? s->len - s->off : len;
    memcpy(buf, s->p + s->off, n);
    s->off += n;
    return (long)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    if (!registered) {
        rcu_register_thread();
        registered = 1;
    }
    struct src s = {data, size, 0};
    struct zn_store *st = NULL;
    if (zn_snapshot_load(NULL, src_read, &s, &st) == 0) {
        if (zn_store_digest_compute(st) != zn_store_digest(st))
            abort();
        zn_store_destroy(st);
    } else if (st != NULL) {
        abort();
    }
    return 0;
}
