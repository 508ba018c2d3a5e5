/*
 * store/alloc.h - the store's allocator layer: the only code in store/ that calls an allocator.
 *
 * Two classes of memory, both counted in bytes (usable size as the allocator reports it):
 *  - payload: znode data, from a dedicated jemalloc arena (mallctl "arenas.create") so that
 *    payload churn does not fragment the metadata heap and its footprint is measurable;
 *  - meta: znodes, Stat versions, ACLs, sessions, scratch buffers (jemalloc default arenas).
 * In sanitizer builds (ZN_SANITIZER_BUILD) both classes come from malloc/free so that
 * AddressSanitizer sees every use after free (the RCU torture test depends on it).
 *
 * The arena and the counters are process-wide (one arena serves every store in the process).
 * Context: any thread (free is called from the call_rcu thread); counters are atomics.
 */
#ifndef ZN_STORE_ALLOC_H
#define ZN_STORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Metadata memory; NULL when out of memory. zn_mem_free(NULL) is a no-op. */
void *zn_mem_alloc(size_t size);
void *zn_mem_zalloc(size_t size);
/* Grow or shrink; on failure returns NULL and the old block stays valid. */
void *zn_mem_realloc(void *p, size_t size);
void zn_mem_free(void *p);

/* Payload memory (znode data) from the dedicated arena. */
void *zn_mem_payload_alloc(size_t size);
void zn_mem_payload_free(void *p);

struct zn_mem_stats {
    uint64_t meta_bytes;    /* live metadata bytes */
    uint64_t payload_bytes; /* live payload bytes */
    uint64_t meta_blocks;
    uint64_t payload_blocks;
    unsigned payload_arena; /* jemalloc arena index (0 in sanitizer builds) */
};
void zn_mem_stats_get(struct zn_mem_stats *out);

#endif /* ZN_STORE_ALLOC_H */
