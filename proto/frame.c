/*
 * proto/frame.c - encode and validate the native datagram header (see frame.h for the layout).
 *
 * Invariant: zn_frame_decode accepts exactly the datagrams zn_frame_encode can produce (for some
 * header and payload); every field of untrusted input is checked before the caller uses it, and
 * the checksum is verified last so malformed input is refused cheaply.
 */
#include "proto/frame.h"

#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_crc32c.h"
#include "common/zn_err.h"

#define OFF_MAGIC       0
#define OFF_VERSION     2
#define OFF_TYPE        3
#define OFF_FLAGS       4
#define OFF_SENDER      5
#define OFF_RECEIVER    6
#define OFF_HDR_LEN     7
#define OFF_CLUSTER     8
#define OFF_PAYLOAD_LEN 12
#define OFF_SEG_INDEX   14
#define OFF_SEG_COUNT   16
#define OFF_RESERVED1   18
#define OFF_MSG_LEN     20
#define OFF_MSG_ID      24
#define OFF_CHECKSUM    32
#define OFF_RESERVED2   36
#define OFF_MAC         40
_Static_assert(OFF_MAC + ZN_FRAME_MAC_BYTES == ZN_FRAME_HDR_BYTES, "header layout is complete");

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/* Structural checks shared by encode (caller bug) and decode (untrusted input). */
static int check_structure(const struct zn_frame_hdr *h)
{
    if (h->type == 0 || h->type > ZN_FRAME_TYPE_MAX_)
        return ZN_EPROTO;
    if ((h->flags & ~ZN_FRAME_F_KNOWN) != 0)
        return ZN_EPROTO;
    if (h->msg_len > ZN_MSG_SIZE_MAX_BYTES)
        return ZN_ELIMIT;
    if (h->seg_count != zn_frame_seg_count(h->msg_len))
        return ZN_EPROTO;
    if (h->seg_index >= h->seg_count)
        return ZN_EPROTO;
    if (h->payload_len != zn_frame_seg_len(h->msg_len, h->seg_index))
        return ZN_EPROTO;
    return 0;
}

int zn_frame_encode(const struct zn_frame_hdr *h, const void *payload, void *buf, size_t cap)
{
    ZN_ASSERT(h != NULL && buf != NULL);
    if (check_structure(h) != 0)
        return ZN_EINVAL;
    size_t total = ZN_FRAME_HDR_BYTES + (size_t)h->payload_len;
    if (cap < total)
        return ZN_ELIMIT;
    uint8_t *p = buf;
    if (h->payload_len > 0) {
        ZN_ASSERT(payload != NULL);
        memmove(p + ZN_FRAME_HDR_BYTES, payload, h->payload_len);
    }
    put16(p + OFF_MAGIC, ZN_FRAME_MAGIC);
    p[OFF_VERSION] = ZN_FRAME_VERSION;
    p[OFF_TYPE] = h->type;
    p[OFF_FLAGS] = h->flags;
    p[OFF_SENDER] = h->sender;
    p[OFF_RECEIVER] = h->receiver;
    p[OFF_HDR_LEN] = ZN_FRAME_HDR_BYTES;
    put32(p + OFF_CLUSTER, h->cluster_id);
    put16(p + OFF_PAYLOAD_LEN, h->payload_len);
    put16(p + OFF_SEG_INDEX, h->seg_index);
    put16(p + OFF_SEG_COUNT, h->seg_count);
    put16(p + OFF_RESERVED1, 0);
    put32(p + OFF_MSG_LEN, h->msg_len);
    put64(p + OFF_MSG_ID, h->msg_id);
    put32(p + OFF_CHECKSUM, 0);
    put32(p + OFF_RESERVED2, 0);
    memcpy(p + OFF_MAC, h->mac, ZN_FRAME_MAC_BYTES);
    put32(p + OFF_CHECKSUM, zn_crc32c(0, p, total));
    ZN_DASSERT(total <= ZN_FRAME_DGRAM_MAX_BYTES);
    return (int)total;
}

int zn_frame_decode(const void *buf, size_t len, const struct zn_frame_expect *expect,
                    struct zn_frame_hdr *h)
{
    ZN_ASSERT(h != NULL);
    const uint8_t *p = buf;
    if (buf == NULL || len < ZN_FRAME_HDR_BYTES || len > ZN_FRAME_DGRAM_MAX_BYTES)
        return ZN_EPROTO;
    if (get16(p + OFF_MAGIC) != ZN_FRAME_MAGIC)
        return ZN_EPROTO;
    if (p[OFF_VERSION] != ZN_FRAME_VERSION)
        return ZN_EVERSION;
    if (p[OFF_HDR_LEN] != ZN_FRAME_HDR_BYTES)
        return ZN_EPROTO;
    if (get16(p + OFF_RESERVED1) != 0 || get32(p + OFF_RESERVED2) != 0)
        return ZN_EPROTO;
    h->type = p[OFF_TYPE];
    h->flags = p[OFF_FLAGS];
    h->sender = p[OFF_SENDER];
    h->receiver = p[OFF_RECEIVER];
    h->cluster_id = get32(p + OFF_CLUSTER);
    h->payload_len = get16(p + OFF_PAYLOAD_LEN);
    h->seg_index = get16(p + OFF_SEG_INDEX);
    h->seg_count = get16(p + OFF_SEG_COUNT);
    h->msg_len = get32(p + OFF_MSG_LEN);
    h->msg_id = get64(p + OFF_MSG_ID);
    memcpy(h->mac, p + OFF_MAC, ZN_FRAME_MAC_BYTES);
    if ((size_t)h->payload_len != len - ZN_FRAME_HDR_BYTES)
        return ZN_EPROTO;
    int rc = check_structure(h);
    if (rc != 0)
        return rc;
    if (h->flags & ZN_FRAME_F_MAC)
        return ZN_ENOTSUP;
    for (size_t i = 0; i < ZN_FRAME_MAC_BYTES; i++) {
        if (h->mac[i] != 0)
            return ZN_EPROTO;
    }
    /* The header as it was checksummed (checksum field 0), copied to an aligned buffer: one
     * CRC pass over whole words instead of three short unaligned ones (received frames start
     * 42 bytes into the packet, off any 8-byte boundary). */
    _Alignas(8) uint8_t hdr[ZN_FRAME_HDR_BYTES];
    memcpy(hdr, p, ZN_FRAME_HDR_BYTES);
    put32(hdr + OFF_CHECKSUM, 0);
    uint32_t crc = zn_crc32c(0, hdr, ZN_FRAME_HDR_BYTES);
    crc = zn_crc32c(crc, p + ZN_FRAME_HDR_BYTES, len - ZN_FRAME_HDR_BYTES);
    if (crc != get32(p + OFF_CHECKSUM))
        return ZN_ECORRUPT;
    if (expect != NULL) {
        if (h->cluster_id != expect->cluster_id)
            return ZN_ECLUSTER;
        if (h->receiver != 0 && h->receiver != expect->self_node)
            return ZN_ECLUSTER;
    }
    return 0;
}

long zn_frame_segment(const struct zn_frame_hdr *base, uint32_t msg_len, uint32_t seg_index,
                      struct zn_frame_hdr *h)
{
    if (msg_len > ZN_MSG_SIZE_MAX_BYTES)
        return ZN_ELIMIT;
    uint32_t count = zn_frame_seg_count(msg_len);
    if (seg_index >= count)
        return ZN_EINVAL;
    *h = *base;
    h->msg_len = msg_len;
    h->seg_count = (uint16_t)count;
    h->seg_index = (uint16_t)seg_index;
    h->payload_len = (uint16_t)zn_frame_seg_len(msg_len, seg_index);
    /* Consistent by construction; zn_frame_encode checks it again before anything is sent. */
    ZN_DASSERT(check_structure(h) == 0);
    return (long)seg_index * ZN_FRAME_SEG_BYTES;
}
