/*
 * jute.c - primitive readers and writers of the jute encoding (see jute.h).
 */
#include "proto/jute.h"
#include "common/zn_err.h"

#include <string.h>

bool zn_bytes_eq(struct zn_bytes a, struct zn_bytes b)
{
    if (a.len != b.len)
        return false;
    return a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0;
}

bool zn_bytes_eq_str(struct zn_bytes a, const char *s)
{
    size_t n = strlen(s);
    return a.len >= 0 && (size_t)a.len == n && memcmp(a.ptr, s, n) == 0;
}

void zn_jute_reader_init(struct zn_jute_reader *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}

void zn_jute_fail(struct zn_jute_reader *r, int err)
{
    if (!r->err)
        r->err = err;
}

static const uint8_t *zn_jute_take(struct zn_jute_reader *r, size_t n)
{
    if (r->err)
        return NULL;
    if (r->len - r->pos < n) {
        r->err = ZN_EPROTO;
        return NULL;
    }
    const uint8_t *p = r->buf + r->pos;
    r->pos += n;
    return p;
}

int32_t zn_jute_get_int(struct zn_jute_reader *r)
{
    const uint8_t *p = zn_jute_take(r, 4);
    if (!p)
        return 0;
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

int64_t zn_jute_get_long(struct zn_jute_reader *r)
{
    const uint8_t *p = zn_jute_take(r, 8);
    if (!p)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

bool zn_jute_get_bool(struct zn_jute_reader *r)
{
    const uint8_t *p = zn_jute_take(r, 1);
    if (!p)
        return false;
    if (*p > 1) {
        r->err = ZN_EPROTO;
        return false;
    }
    return *p == 1;
}

struct zn_bytes zn_jute_get_buffer(struct zn_jute_reader *r, int32_t max_len)
{
    int32_t len = zn_jute_get_int(r);
    if (r->err)
        return ZN_BYTES_NULL;
    if (len == -1)
        return ZN_BYTES_NULL;
    if (len < -1) {
        r->err = ZN_EPROTO;
        return ZN_BYTES_NULL;
    }
    if (len > max_len) {
        r->err = ZN_ELIMIT;
        return ZN_BYTES_NULL;
    }
    const uint8_t *p = zn_jute_take(r, (size_t)len);
    if (!p)
        return ZN_BYTES_NULL;
    return (struct zn_bytes){p, len};
}

int32_t zn_jute_get_count(struct zn_jute_reader *r, size_t min_elem_bytes)
{
    int32_t n = zn_jute_get_int(r);
    if (r->err)
        return 0;
    if (n == -1)
        return 0;
    if (n < -1 || (min_elem_bytes > 0 && (size_t)n > (r->len - r->pos) / min_elem_bytes)) {
        r->err = ZN_EPROTO;
        return 0;
    }
    return n;
}

void zn_jute_skip(struct zn_jute_reader *r, size_t n)
{
    (void)zn_jute_take(r, n);
}

void zn_jute_writer_init(struct zn_jute_writer *w, void *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = 0;
}

static uint8_t *zn_jute_reserve(struct zn_jute_writer *w, size_t n)
{
    if (w->err)
        return NULL;
    if (w->cap - w->len < n) {
        w->err = ZN_ELIMIT;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

static void zn_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void zn_jute_put_int(struct zn_jute_writer *w, int32_t v)
{
    uint8_t *p = zn_jute_reserve(w, 4);
    if (p)
        zn_put_be32(p, (uint32_t)v);
}

void zn_jute_put_long(struct zn_jute_writer *w, int64_t v)
{
    uint8_t *p = zn_jute_reserve(w, 8);
    if (!p)
        return;
    zn_put_be32(p, (uint32_t)((uint64_t)v >> 32));
    zn_put_be32(p + 4, (uint32_t)v);
}

void zn_jute_put_bool(struct zn_jute_writer *w, bool v)
{
    uint8_t *p = zn_jute_reserve(w, 1);
    if (p)
        *p = v ? 1 : 0;
}

void zn_jute_put_raw(struct zn_jute_writer *w, const void *src, size_t n)
{
    uint8_t *p = zn_jute_reserve(w, n);
    if (p && n)
        memcpy(p, src, n);
}

void zn_jute_put_buffer(struct zn_jute_writer *w, struct zn_bytes b)
{
    if (b.len < 0) {
        zn_jute_put_int(w, -1);
        return;
    }
    zn_jute_put_int(w, b.len);
    zn_jute_put_raw(w, b.ptr, (size_t)b.len);
}

void zn_jute_put_string(struct zn_jute_writer *w, const char *s)
{
    zn_jute_put_buffer(w, s ? zn_bytes_make(s, strlen(s)) : ZN_BYTES_NULL);
}

void zn_jute_patch_int(struct zn_jute_writer *w, size_t offset, int32_t v)
{
    if (w->err)
        return;
    if (offset + 4 > w->len) {
        w->err = ZN_EINVAL;
        return;
    }
    zn_put_be32(w->buf + offset, (uint32_t)v);
}
