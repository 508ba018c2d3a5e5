/*
 * jute.h - ZooKeeper's jute encoding: the primitive layer.
 *
 * Encoding (../shared/zk-protocol.md "Encoding"): int = 4 bytes big-endian, long = 8 bytes
 * big-endian, boolean = 1 byte, buffer/ustring = int32 length + bytes (length -1 = null),
 * vector = int32 count + elements.
 *
 * Readers decode untrusted bytes: every length is checked against the bytes that remain before
 * anything is used, nothing is allocated, and decoded buffers/strings are views into the input
 * (`struct zn_bytes`), valid as long as the input is. Errors are sticky: after the first failure
 * every further read fails and returns zeros, so a record decoder checks once at the end.
 * Writers never overflow their buffer: a write that does not fit sets a sticky ZN_ELIMIT.
 *
 * Context: any thread; a reader or writer belongs to one caller.
 */
#ifndef ZN_PROTO_JUTE_H
#define ZN_PROTO_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of a jute buffer or ustring: len == -1 is the null buffer (ptr == NULL). */
struct zn_bytes {
    const uint8_t *ptr;
    int32_t len;
};

#define ZN_BYTES_NULL ((struct zn_bytes){NULL, -1})

static inline struct zn_bytes zn_bytes_make(const void *ptr, size_t len)
{
    return (struct zn_bytes){(const uint8_t *)ptr, (int32_t)len};
}

/* Equal contents (two nulls are equal; null differs from empty). */
bool zn_bytes_eq(struct zn_bytes a, struct zn_bytes b);
/* Equal to a NUL-terminated C string. */
bool zn_bytes_eq_str(struct zn_bytes a, const char *s);

struct zn_jute_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    int err; /* 0 or the first error (ZN_EPROTO / ZN_ELIMIT) */
};

void zn_jute_reader_init(struct zn_jute_reader *r, const void *buf, size_t len);
static inline size_t zn_jute_remaining(const struct zn_jute_reader *r)
{
    return r->err ? 0 : r->len - r->pos;
}

int32_t zn_jute_get_int(struct zn_jute_reader *r);
int64_t zn_jute_get_long(struct zn_jute_reader *r);
/* Booleans must be 0 or 1 (anything else is malformed). */
bool zn_jute_get_bool(struct zn_jute_reader *r);
/* A buffer or ustring of at most max_len bytes (ZN_ELIMIT beyond); null allowed. */
struct zn_bytes zn_jute_get_buffer(struct zn_jute_reader *r, int32_t max_len);
/* A vector count: non-negative (or -1 = null vector, returned as 0), and plausible: each element
 * takes at least min_elem_bytes, so count * min_elem_bytes must fit in what remains. */
int32_t zn_jute_get_count(struct zn_jute_reader *r, size_t min_elem_bytes);
/* Skip n bytes. */
void zn_jute_skip(struct zn_jute_reader *r, size_t n);
/* Fail the reader with err unless it is already failed. */
void zn_jute_fail(struct zn_jute_reader *r, int err);

struct zn_jute_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err; /* 0 or ZN_ELIMIT */
};

void zn_jute_writer_init(struct zn_jute_writer *w, void *buf, size_t cap);
void zn_jute_put_int(struct zn_jute_writer *w, int32_t v);
void zn_jute_put_long(struct zn_jute_writer *w, int64_t v);
void zn_jute_put_bool(struct zn_jute_writer *w, bool v);
void zn_jute_put_buffer(struct zn_jute_writer *w, struct zn_bytes b);
void zn_jute_put_string(struct zn_jute_writer *w, const char *s); /* NULL writes null */
void zn_jute_put_raw(struct zn_jute_writer *w, const void *p, size_t n);
/* Patch a previously written int at offset (used for length prefixes and counts). */
void zn_jute_patch_int(struct zn_jute_writer *w, size_t offset, int32_t v);

#endif /* ZN_PROTO_JUTE_H */
