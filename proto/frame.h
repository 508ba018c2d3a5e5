/*
 * proto/frame.h - the native UDP datagram header shared by peer (Raft) and client messages, and
 * the segmentation of messages larger than one datagram (docs/wire-format.md).
 *
 * Every datagram zinc sends on its native port starts with a fixed 56-byte header, little-endian:
 *
 *   off size field
 *     0   2  magic         0x5A4E ("ZN" read as a little-endian u16 prints 'N','Z')
 *     2   1  version       ZN_FRAME_VERSION
 *     3   1  type          enum zn_frame_type
 *     4   1  flags         ZN_FRAME_F_* (unknown bits are rejected)
 *     5   1  sender        node id of the sender (0 for a client)
 *     6   1  receiver      node id of the receiver (0 for a client or "any")
 *     7   1  hdr_len       ZN_FRAME_HDR_BYTES (lets a later version grow the header)
 *     8   4  cluster_id    the cluster this datagram belongs to
 *    12   2  payload_len   bytes of payload in this datagram
 *    14   2  seg_index     0 .. seg_count-1
 *    16   2  seg_count     number of datagrams of this message
 *    18   2  reserved      0
 *    20   4  msg_len       total length of the message (all segments)
 *    24   8  msg_id        per-sender message number; segments of one message share it
 *    32   4  checksum      CRC32C over header (this field as 0) and payload
 *    36   4  reserved      0
 *    40  16  mac           room for a message authentication code (zero unless ZN_FRAME_F_MAC)
 *
 * A message of msg_len bytes travels in seg_count = max(1, ceil(msg_len / ZN_FRAME_SEG_BYTES))
 * datagrams; segment i carries bytes [i * ZN_FRAME_SEG_BYTES, ...) and every segment but the
 * last is full. The decoder checks all of this, so a decoded header is self-consistent.
 *
 * Context: any thread; no state, no allocation, no clock.
 */
#ifndef ZN_PROTO_FRAME_H
#define ZN_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"

#define ZN_FRAME_MAGIC     0x5A4Eu
#define ZN_FRAME_VERSION   1u
#define ZN_FRAME_HDR_BYTES 56u
#define ZN_FRAME_MAC_BYTES 16u
/* Payload bytes of one full segment: what is left of the datagram after the header. */
#define ZN_FRAME_SEG_BYTES (ZN_DGRAM_PAYLOAD_MAX_BYTES - ZN_FRAME_HDR_BYTES)
/* Largest datagram (header + payload) zinc sends or accepts. */
#define ZN_FRAME_DGRAM_MAX_BYTES ZN_DGRAM_PAYLOAD_MAX_BYTES

_Static_assert(ZN_FRAME_SEG_BYTES >= 1024u,
               "ZN_DGRAM_SEGMENTS_MAX assumes at least 1 KiB of payload per segment");
_Static_assert((ZN_MSG_SIZE_MAX_BYTES + ZN_FRAME_SEG_BYTES - 1) / ZN_FRAME_SEG_BYTES <=
                   ZN_DGRAM_SEGMENTS_MAX,
               "the largest message fits in the segment limit");

enum zn_frame_type {
    ZN_FRAME_PEER = 1,   /* Raft message between nodes */
    ZN_FRAME_CLIENT = 2, /* client request to a node */
    ZN_FRAME_SERVER = 3, /* node reply or event to a client */
    ZN_FRAME_PING = 4,   /* transport probe (benchmarks, liveness) */
    ZN_FRAME_TYPE_MAX_ = 4,
};

/* The MAC field carries a valid code (not implemented yet: such frames are refused). */
#define ZN_FRAME_F_MAC   0x01u
#define ZN_FRAME_F_KNOWN 0x01u

struct zn_frame_hdr {
    uint8_t type;
    uint8_t flags;
    uint8_t sender;
    uint8_t receiver;
    uint32_t cluster_id;
    uint16_t payload_len;
    uint16_t seg_index;
    uint16_t seg_count;
    uint32_t msg_len;
    uint64_t msg_id;
    uint8_t mac[ZN_FRAME_MAC_BYTES];
};

/* What the receiver expects; decode refuses datagrams that do not match. */
struct zn_frame_expect {
    uint32_t cluster_id;
    /* Our node id; a frame addressed to another node (receiver != 0 and != this) is refused. */
    uint8_t self_node;
};

/* Segments needed for a message of msg_len bytes (at least 1). */
static inline uint32_t zn_frame_seg_count(uint32_t msg_len)
{
    return msg_len == 0 ? 1u : (msg_len + ZN_FRAME_SEG_BYTES - 1) / ZN_FRAME_SEG_BYTES;
}

/* Payload bytes of segment seg_index of a message of msg_len bytes. */
static inline uint32_t zn_frame_seg_len(uint32_t msg_len, uint32_t seg_index)
{
    uint32_t off = seg_index * ZN_FRAME_SEG_BYTES;
    uint32_t rest = msg_len - off;
    return rest < ZN_FRAME_SEG_BYTES ? rest : ZN_FRAME_SEG_BYTES;
}

/*
 * Write header `h` and `payload` (h->payload_len bytes) into `buf` (capacity `cap`), computing
 * the checksum. The header must be self-consistent (as zn_frame_decode would accept it).
 * Returns the datagram length, ZN_EINVAL for an inconsistent header or ZN_ELIMIT when `cap`
 * is too small. `payload` may point inside `buf` at offset ZN_FRAME_HDR_BYTES (in place).
 */
int zn_frame_encode(const struct zn_frame_hdr *h, const void *payload, void *buf, size_t cap);

/*
 * Validate the untrusted datagram `buf[0..len)` and decode its header into `h`. On success the
 * payload is at buf + ZN_FRAME_HDR_BYTES, h->payload_len bytes. `expect` may be NULL (no cluster
 * or receiver check). Errors: ZN_EPROTO (short, bad magic, bad lengths or segment numbers,
 * unknown type or flags, non-zero reserved), ZN_EVERSION, ZN_ECORRUPT (checksum), ZN_ECLUSTER
 * (other cluster or receiver), ZN_ENOTSUP (MAC present), ZN_ELIMIT (message too large).
 */
int zn_frame_decode(const void *buf, size_t len, const struct zn_frame_expect *expect,
                    struct zn_frame_hdr *h);

/*
 * Segmentation: fill `h` for segment `seg_index` of a message (type, sender, receiver,
 * cluster_id, msg_id taken from `base`) of msg_len bytes, and return the payload offset of that
 * segment in the message. ZN_ELIMIT if msg_len exceeds ZN_MSG_SIZE_MAX_BYTES, ZN_EINVAL if
 * seg_index is out of range.
 */
long zn_frame_segment(const struct zn_frame_hdr *base, uint32_t msg_len, uint32_t seg_index,
                      struct zn_frame_hdr *h);

#endif /* ZN_PROTO_FRAME_H */
