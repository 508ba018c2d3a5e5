/*
 * store/codec.h - big-endian byte writer and bounds-checked reader used by the entry, reply and
 * snapshot encodings (internal to store/).
 *
 * The writer grows through the allocator layer and remembers the first failure (oom), so a
 * sequence of puts is checked once at the end. The reader never reads past its length: the
 * first short read sets err = ZN_EPROTO and every later get returns zero.
 *
 * Context: any thread; each buffer is owned by one thread.
 */
#ifndef ZN_STORE_CODEC_H
#define ZN_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/zn_err.h"
#include "store/alloc.h"

struct zn_wbuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t cap_max; /* growing beyond is an error (ZN_ELIMIT); 0 = SIZE_MAX */
    int err;        /* first failure: ZN_ENOMEM or ZN_ELIMIT */
};

static inline void zn_wbuf_init(struct zn_wbuf *w, size_t cap_max)
{
    w->p = NULL;
    w->len = w->cap = 0;
    w->cap_max = cap_max;
    w->err = 0;
}

static inline void zn_wbuf_fini(struct zn_wbuf *w)
{
    zn_mem_free(w->p);
    w->p = NULL;
    w->len = w->cap = 0;
}

static inline bool zn_wbuf_reserve(struct zn_wbuf *w, size_t more)
{
    if (w->err)
        return false;
    if (w->cap_max && w->len + more > w->cap_max) {
        w->err = ZN_ELIMIT;
        return false;
    }
    if (w->len + more <= w->cap)
        return true;
    size_t ncap = w->cap ? w->cap : 256;
    while (ncap < w->len + more)
        ncap *= 2;
    uint8_t *np = zn_mem_realloc(w->p, ncap);
    if (!np) {
        w->err = ZN_ENOMEM;
        return false;
    }
    w->p = np;
    w->cap = ncap;
    return true;
}

static inline void zn_put_bytes(struct zn_wbuf *w, const void *b, size_t n)
{
    if (!zn_wbuf_reserve(w, n))
        return;
    if (n)
        memcpy(w->p + w->len, b, n);
    w->len += n;
}

static inline void zn_put_u8(struct zn_wbuf *w, uint8_t v)
{
    zn_put_bytes(w, &v, 1);
}

static inline void zn_put_u16(struct zn_wbuf *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    zn_put_bytes(w, b, 2);
}

static inline void zn_put_u32(struct zn_wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    zn_put_bytes(w, b, 4);
}

static inline void zn_put_u64(struct zn_wbuf *w, uint64_t v)
{
    zn_put_u32(w, (uint32_t)(v >> 32));
    zn_put_u32(w, (uint32_t)v);
}

static inline void zn_put_i32(struct zn_wbuf *w, int32_t v)
{
    zn_put_u32(w, (uint32_t)v);
}

static inline void zn_put_i64(struct zn_wbuf *w, int64_t v)
{
    zn_put_u64(w, (uint64_t)v);
}

/* u32 length + bytes */
static inline void zn_put_blob32(struct zn_wbuf *w, const void *b, uint32_t n)
{
    zn_put_u32(w, n);
    zn_put_bytes(w, b, n);
}

/* Length 0xffffffff marks null data (jute's length -1): no bytes follow. */
#define ZN_BLOB_NULL_LEN 0xffffffffu

/* u32 length + bytes, or ZN_BLOB_NULL_LEN alone when is_null (n must be 0 then). */
static inline void zn_put_nblob32(struct zn_wbuf *w, const void *b, uint32_t n, bool is_null)
{
    if (is_null)
        zn_put_u32(w, ZN_BLOB_NULL_LEN);
    else
        zn_put_blob32(w, b, n);
}

/* u16 length + bytes */
static inline void zn_put_str16(struct zn_wbuf *w, const char *s, uint16_t n)
{
    zn_put_u16(w, n);
    zn_put_bytes(w, s, n);
}

/* Overwrite a u32 written earlier at offset off. */
static inline void zn_patch_u32(struct zn_wbuf *w, size_t off, uint32_t v)
{
    if (w->err || off + 4 > w->len)
        return;
    w->p[off] = (uint8_t)(v >> 24);
    w->p[off + 1] = (uint8_t)(v >> 16);
    w->p[off + 2] = (uint8_t)(v >> 8);
    w->p[off + 3] = (uint8_t)v;
}

struct zn_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err;
};

static inline void zn_rd_init(struct zn_rd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = 0;
}

static inline const uint8_t *zn_get_bytes(struct zn_rd *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = ZN_EPROTO;
        return NULL;
    }
    const uint8_t *b = r->p + r->off;
    r->off += n;
    return b;
}

static inline uint8_t zn_get_u8(struct zn_rd *r)
{
    const uint8_t *b = zn_get_bytes(r, 1);
    return b ? b[0] : 0;
}

static inline uint16_t zn_get_u16(struct zn_rd *r)
{
    const uint8_t *b = zn_get_bytes(r, 2);
    return b ? (uint16_t)((b[0] << 8) | b[1]) : 0;
}

static inline uint32_t zn_get_u32(struct zn_rd *r)
{
    const uint8_t *b = zn_get_bytes(r, 4);
    return b ? ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3] : 0;
}

static inline uint64_t zn_get_u64(struct zn_rd *r)
{
    uint64_t hi = zn_get_u32(r);
    return (hi << 32) | zn_get_u32(r);
}

static inline int32_t zn_get_i32(struct zn_rd *r)
{
    return (int32_t)zn_get_u32(r);
}

static inline int64_t zn_get_i64(struct zn_rd *r)
{
    return (int64_t)zn_get_u64(r);
}

/* u32 length (at most max) + bytes; NULL with *n = 0 on error. */
static inline const uint8_t *zn_get_blob32(struct zn_rd *r, uint32_t max, uint32_t *n)
{
    uint32_t len = zn_get_u32(r);
    *n = 0;
    if (r->err)
        return NULL;
    if (len > max) {
        r->err = ZN_EPROTO;
        return NULL;
    }
    const uint8_t *b = zn_get_bytes(r, len);
    if (b)
        *n = len;
    return b;
}

/* As zn_get_blob32, but ZN_BLOB_NULL_LEN decodes as null: NULL, *n = 0, *is_null = true. */
static inline const uint8_t *zn_get_nblob32(struct zn_rd *r, uint32_t max, uint32_t *n,
                                            bool *is_null)
{
    *is_null = false;
    *n = 0;
    if (r->err || r->len - r->off < 4)
        return zn_get_blob32(r, max, n); /* fails the reader */
    const uint8_t *p = r->p + r->off;
    if (p[0] == 0xff && p[1] == 0xff && p[2] == 0xff && p[3] == 0xff) {
        r->off += 4;
        *is_null = true;
        return NULL;
    }
    return zn_get_blob32(r, max, n);
}

static inline const char *zn_get_str16(struct zn_rd *r, uint32_t max, uint32_t *n)
{
    uint16_t len = zn_get_u16(r);
    *n = 0;
    if (r->err)
        return NULL;
    if (len > max) {
        r->err = ZN_EPROTO;
        return NULL;
    }
    const uint8_t *b = zn_get_bytes(r, len);
    if (b)
        *n = len;
    return (const char *)b;
}

/* 64-bit hash of bytes (not cryptographic): 8 bytes at a time, murmur-style finaliser. */
uint64_t zn_hash64(const void *p, size_t len, uint64_t seed);

static inline uint64_t zn_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

#endif /* ZN_STORE_CODEC_H */
