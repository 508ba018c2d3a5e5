/*
 * wal_format.h - the bytes of WAL segments (docs/disk-format.md is the reference; keep in sync).
 *
 * Internal to store/wal*.c and the fuzz target. All integers little-endian.
 *
 * Segment file "wal-<first index, 16 hex digits>.seg", preallocated to the segment size (a
 * segment started in the zero-filled spare "wal-spare.seg", wal_internal.h, is renamed to it):
 *   header (64 bytes) | record | record | ... | zeros
 * Header: magic "ZNWALSEG", version, header size, cluster id, node id, first index, previous term
 * (term of entry first-1), previous chain CRC (last record CRC of the previous segment), CRC32C of
 * bytes [0, 60) at offset 60.
 * Record (8-byte aligned, size = align8(32 + payload + 4)):
 *   0 u32 payload length | 4 u16 type (>= 1) | 6 u16 magic 0x5A52 | 8 u64 term | 16 u64 index |
 *   24 u64 batch first index | 32 payload | zero padding | last 4 bytes: u32 CRC32C
 * The CRC covers every byte of the record before it, seeded with the previous record's CRC (the
 * first record of a segment: the header CRC). A record is therefore verifiable on its own: its
 * seed is the 4 bytes just before it.
 */
#ifndef ZN_WAL_FORMAT_H
#define ZN_WAL_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/zn_crc32c.h"
#include "common/zn_limits.h"

#define WAL_SEG_MAGIC      0x4745534C41574E5AULL /* "ZNWALSEG" */
#define WAL_VERSION        1u
#define WAL_SEG_HDR        ZN_WAL_SEGMENT_HEADER_BYTES
#define WAL_REC_HDR        32u
#define WAL_REC_MAGIC      0x5A52u
#define WAL_SEG_PREFIX     "wal-"
#define WAL_SEG_SUFFIX     ".seg"
#define WAL_SEG_TMP_SUFFIX ".tmp"

static inline void wal_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void wal_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}
static inline void wal_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}
static inline uint16_t wal_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t wal_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}
static inline uint64_t wal_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* Bytes a record with this payload occupies. */
static inline uint64_t wal_record_size(uint64_t payload_len)
{
    return (WAL_REC_HDR + payload_len + 4 + 7) & ~(uint64_t)7;
}

struct wal_seg_header {
    uint64_t cluster_id;
    uint32_t node_id;
    uint64_t first_index;
    uint64_t prev_term;
    uint32_t prev_crc;
    uint32_t crc; /* filled by encode / checked by decode */
};

static inline void wal_seg_header_encode(uint8_t out[WAL_SEG_HDR], struct wal_seg_header *h)
{
    memset(out, 0, WAL_SEG_HDR);
    wal_put64(out + 0, WAL_SEG_MAGIC);
    wal_put32(out + 8, WAL_VERSION);
    wal_put32(out + 12, WAL_SEG_HDR);
    wal_put64(out + 16, h->cluster_id);
    wal_put32(out + 24, h->node_id);
    wal_put64(out + 32, h->first_index);
    wal_put64(out + 40, h->prev_term);
    wal_put32(out + 48, h->prev_crc);
    h->crc = zn_crc32c(0, out, 60);
    wal_put32(out + 60, h->crc);
}

/* 0, ZN_ECORRUPT (magic/size/crc/reserved bytes) or ZN_EVERSION. Identity is checked by the caller. */
int wal_seg_header_decode(const uint8_t in[WAL_SEG_HDR], struct wal_seg_header *h);

/* Write a record into out (wal_record_size(len) bytes); returns its CRC (the next seed). */
uint32_t wal_record_encode(uint8_t *out, uint32_t seed, uint16_t type, uint64_t term,
                           uint64_t index, uint64_t batch_first, const void *payload, uint32_t len);

void wal_seg_name(char *out, size_t cap, uint64_t first_index, bool tmp);
/* True for "wal-<16 hex>.seg" (sets *first); *tmp set for the ".tmp" form. */
bool wal_seg_name_parse(const char *name, uint64_t *first, bool *tmp);

#endif /* ZN_WAL_FORMAT_H */
