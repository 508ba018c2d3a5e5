/*
 * store/alloc.c - allocator layer of store/ (see alloc.h). Exempt from the tidy "alloc" rule in
 * tools/tidy-allow.txt: it is the one place where store/ reaches an allocator.
 *
 * Invariant: every block is freed by the class that allocated it; the byte counters equal the
 * sum of the usable sizes of the live blocks of each class.
 */
#include "store/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"

#if defined(ZN_SANITIZER_BUILD)
#include <malloc.h>
#define ZN_USABLE_(p) malloc_usable_size(p)
#else
#include <jemalloc/jemalloc.h>
#endif

static _Atomic uint64_t meta_bytes_;
static _Atomic uint64_t payload_bytes_;
static _Atomic uint64_t meta_blocks_;
static _Atomic uint64_t payload_blocks_;
static unsigned payload_arena_;
static pthread_once_t arena_once_ = PTHREAD_ONCE_INIT;

static void arena_create(void)
{
#if !defined(ZN_SANITIZER_BUILD)
    unsigned arena = 0;
    size_t sz = sizeof(arena);
    int rc = mallctl("arenas.create", &arena, &sz, NULL, 0);
    ZN_ASSERT(rc == 0);
    payload_arena_ = arena;
#endif
}

static int payload_flags(void)
{
    pthread_once(&arena_once_, arena_create);
#if defined(ZN_SANITIZER_BUILD)
    return 0;
#else
    return MALLOCX_ARENA(payload_arena_) | MALLOCX_TCACHE_NONE;
#endif
}

static void account(_Atomic uint64_t *bytes, _Atomic uint64_t *blocks, size_t n, int sign)
{
    if (sign > 0) {
        atomic_fetch_add_explicit(bytes, n, memory_order_relaxed);
        atomic_fetch_add_explicit(blocks, 1, memory_order_relaxed);
    } else {
        atomic_fetch_sub_explicit(bytes, n, memory_order_relaxed);
        atomic_fetch_sub_explicit(blocks, 1, memory_order_relaxed);
    }
}

void *zn_mem_alloc(size_t size)
{
    if (size == 0)
        size = 1;
#if defined(ZN_SANITIZER_BUILD)
    void *p = malloc(size);
    if (p)
        account(&meta_bytes_, &meta_blocks_, ZN_USABLE_(p), 1);
#else
    void *p = mallocx(size, 0);
    if (p)
        account(&meta_bytes_, &meta_blocks_, sallocx(p, 0), 1);
#endif
    return p;
}

void *zn_mem_zalloc(size_t size)
{
    void *p = zn_mem_alloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void *zn_mem_realloc(void *p, size_t size)
{
    if (!p)
        return zn_mem_alloc(size);
    if (size == 0)
        size = 1;
#if defined(ZN_SANITIZER_BUILD)
    size_t old = ZN_USABLE_(p);
    void *q = realloc(p, size);
    if (q) {
        atomic_fetch_sub_explicit(&meta_bytes_, old, memory_order_relaxed);
        atomic_fetch_add_explicit(&meta_bytes_, ZN_USABLE_(q), memory_order_relaxed);
    }
#else
    size_t old = sallocx(p, 0);
    void *q = rallocx(p, size, 0);
    if (q) {
        atomic_fetch_sub_explicit(&meta_bytes_, old, memory_order_relaxed);
        atomic_fetch_add_explicit(&meta_bytes_, sallocx(q, 0), memory_order_relaxed);
    }
#endif
    return q;
}

void zn_mem_free(void *p)
{
    if (!p)
        return;
#if defined(ZN_SANITIZER_BUILD)
    account(&meta_bytes_, &meta_blocks_, ZN_USABLE_(p), -1);
    free(p);
#else
    account(&meta_bytes_, &meta_blocks_, sallocx(p, 0), -1);
    dallocx(p, 0);
#endif
}

void *zn_mem_payload_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    int flags = payload_flags();
#if defined(ZN_SANITIZER_BUILD)
    (void)flags;
    void *p = malloc(size);
    if (p)
        account(&payload_bytes_, &payload_blocks_, ZN_USABLE_(p), 1);
#else
    void *p = mallocx(size, flags);
    if (p)
        account(&payload_bytes_, &payload_blocks_, sallocx(p, flags), 1);
#endif
    return p;
}

void zn_mem_payload_free(void *p)
{
    if (!p)
        return;
#if defined(ZN_SANITIZER_BUILD)
    account(&payload_bytes_, &payload_blocks_, ZN_USABLE_(p), -1);
    free(p);
#else
    int flags = payload_flags();
    account(&payload_bytes_, &payload_blocks_, sallocx(p, flags), -1);
    dallocx(p, flags);
#endif
}

void zn_mem_stats_get(struct zn_mem_stats *out)
{
    (void)payload_flags();
    out->meta_bytes = atomic_load_explicit(&meta_bytes_, memory_order_relaxed);
    out->payload_bytes = atomic_load_explicit(&payload_bytes_, memory_order_relaxed);
    out->meta_blocks = atomic_load_explicit(&meta_blocks_, memory_order_relaxed);
    out->payload_blocks = atomic_load_explicit(&payload_blocks_, memory_order_relaxed);
    out->payload_arena = payload_arena_;
}
