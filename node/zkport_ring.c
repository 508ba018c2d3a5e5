/*
 * zkport_ring.c - the SPSC message ring of zkport_ring.h. Invariants: tail - head <= cap; every
 * record (and wrap marker) starts 8-byte aligned; a record never crosses the end of buf.
 */
#include "node/zkport_ring.h"

#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"

#define ZKRING_HDR  8u
#define ZKRING_WRAP UINT32_MAX

static uint64_t zkring_align(uint64_t v)
{
    return (v + 7u) & ~(uint64_t)7u;
}

int zn_zkring_init(struct zn_zkring *r, uint64_t cap_bytes, uint64_t rec_max)
{
    memset(r, 0, sizeof(*r));
    uint64_t cap = 4096;
    while (cap < cap_bytes)
        cap <<= 1;
    if (cap_bytes == 0 || rec_max == 0 || 2 * (zkring_align(rec_max) + ZKRING_HDR) > cap)
        return ZN_EINVAL;
    r->buf = malloc(cap);
    if (!r->buf)
        return ZN_ENOMEM;
    r->cap = cap;
    r->rec_max = rec_max;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->full, 0);
    return 0;
}

void zn_zkring_destroy(struct zn_zkring *r)
{
    free(r->buf);
    r->buf = NULL;
}

int zn_zkring_push(struct zn_zkring *r, uint16_t conn, const void *a, size_t a_len, const void *b,
                   size_t b_len)
{
    uint64_t len = (uint64_t)a_len + b_len;
    if (len > r->rec_max)
        return ZN_ELIMIT;
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    uint64_t need = ZKRING_HDR + zkring_align(len);
    uint64_t off = tail & (r->cap - 1);
    uint64_t pad = off + need > r->cap ? r->cap - off : 0; /* wrap: skip to offset 0 */
    if (tail + pad + need - head > r->cap) {
        atomic_fetch_add_explicit(&r->full, 1, memory_order_relaxed);
        return ZN_EFULL;
    }
    if (pad) {
        ZN_ASSERT(pad >= 4);
        uint32_t marker = ZKRING_WRAP;
        memcpy(r->buf + off, &marker, 4);
        tail += pad;
        off = 0;
    }
    uint32_t len32 = (uint32_t)len;
    uint16_t reserved = 0;
    memcpy(r->buf + off, &len32, 4);
    memcpy(r->buf + off + 4, &conn, 2);
    memcpy(r->buf + off + 6, &reserved, 2);
    if (a_len)
        memcpy(r->buf + off + ZKRING_HDR, a, a_len);
    if (b_len)
        memcpy(r->buf + off + ZKRING_HDR + a_len, b, b_len);
    atomic_store_explicit(&r->tail, tail + need, memory_order_release);
    return 0;
}

int zn_zkring_peek(struct zn_zkring *r, uint16_t *conn, const uint8_t **data, uint32_t *len)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head == tail)
        return 0;
    uint64_t off = head & (r->cap - 1); /* 8-aligned: at least 8 bytes before the end */
    uint32_t len32;
    memcpy(&len32, r->buf + off, 4);
    if (len32 == ZKRING_WRAP) {
        head += r->cap - off;
        atomic_store_explicit(&r->head, head, memory_order_release);
        if (head == tail)
            return 0;
        off = 0;
        memcpy(&len32, r->buf, 4);
    }
    ZN_ASSERT(len32 != ZKRING_WRAP && len32 <= r->rec_max);
    memcpy(conn, r->buf + off + 4, 2);
    *data = r->buf + off + ZKRING_HDR;
    *len = len32;
    return 1;
}

void zn_zkring_pop(struct zn_zkring *r)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off = head & (r->cap - 1);
    uint32_t len32;
    memcpy(&len32, r->buf + off, 4);
    ZN_ASSERT(len32 != ZKRING_WRAP);
    atomic_store_explicit(&r->head, head + ZKRING_HDR + zkring_align(len32), memory_order_release);
}
