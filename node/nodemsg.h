/*
 * nodemsg.h - the peer protocol between zincd nodes (docs/wire-format.md "Peer protocol").
 *
 * A node message is the (reassembled) payload of a ZN_FRAME_PEER frame (proto/frame.h). It
 * starts with a 4-byte header and continues by kind; integers are big-endian (jute style):
 *
 *   u8 version = 1, u8 kind, u8 origin (sending node id, 1..255), u8 reserved = 0
 *   RAFT           bytes of one consensus message (consensus/codec.h), 1..ZN_MSG_SIZE_MAX_BYTES
 *   FORWARD        u8 op, u8 flags, u16 n_ids, u64 session, u64 seq, u64 zxid (the client's last
 *                  seen), then by op:
 *                    WRITE           n_ids x {buffer scheme, buffer id}, buffer request (the
 *                                    client's RequestHeader + body, jute)
 *                    READ_INDEX      nothing (n_ids = 0): a linearizable read or a sync asks
 *                                    the leader for a read index
 *                    SESSION_CREATE  u32 timeout_ms, 16 bytes password (n_ids = 0); the origin
 *                                    drew the session id (never 0) and the password
 *   FORWARD_NACK   u8 op, u8 reason (enum zn_nodemsg_nack), u8 leader hint (0 = unknown),
 *                  u8 reserved = 0, u64 session, u64 seq
 *   READ_INDEX     u64 session, u64 seq, u64 index (the leader's commit index, confirmed by a
 *                  quorum, at which the origin may answer the read once applied >= index)
 *   TOUCH          u32 count (1..ZN_NODE_TOUCH_BATCH_MAX), count x {u64 session, u32 age_ms}:
 *                  the origin heard from each session age_ms before sending the batch
 *   MOVED          u64 session, u64 epoch: the session's client connected to the origin with
 *                  connection attempt `epoch` (proto/session.h CONNECT ack); a node serving an
 *                  older connection of it drops it at once (watches, queued events, replies)
 *
 * The whole message must be consumed (trailing bytes are malformed). Decoding validates every
 * length and count against the remaining bytes and zn_limits.h before anything is used
 * (STYLE.md 9); a decoded message points into the input buffer, which must outlive it.
 *
 * Context: any thread; no state, no allocation.
 */
#ifndef ZN_NODE_NODEMSG_H
#define ZN_NODE_NODEMSG_H

#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "proto/jute.h"

#define ZN_NODEMSG_VERSION      1u
#define ZN_NODEMSG_HDR_BYTES    4u
#define ZN_NODEMSG_PASSWD_BYTES 16u

enum zn_nodemsg_kind {
    ZN_NODEMSG_RAFT = 1,
    ZN_NODEMSG_FORWARD = 2,
    ZN_NODEMSG_FORWARD_NACK = 3,
    ZN_NODEMSG_READ_INDEX = 4,
    ZN_NODEMSG_TOUCH = 5,
    ZN_NODEMSG_MOVED = 6,
};

enum zn_nodemsg_fwd_op {
    ZN_FWD_WRITE = 1,
    ZN_FWD_READ_INDEX = 2,
    ZN_FWD_SESSION_CREATE = 3,
};

enum zn_nodemsg_nack {
    ZN_NACK_NOT_LEADER = 1, /* retry after the next leader change (hint: the leader, if known) */
    ZN_NACK_BUSY = 2,       /* the leader's proposal queue is full: retry later */
};

struct zn_nodemsg_ident {
    struct zn_bytes scheme;
    struct zn_bytes id;
};

struct zn_nodemsg_touch {
    uint64_t session;
    uint32_t age_ms;
};

struct zn_nodemsg {
    uint8_t kind;   /* enum zn_nodemsg_kind */
    uint8_t origin; /* sending node, 1..ZN_NODE_ID_MAX */
    union {
        struct {
            const uint8_t *bytes;
            size_t len;
        } raft;
        struct {
            uint8_t op;    /* enum zn_nodemsg_fwd_op */
            uint8_t flags; /* proto/session.h ZN_SESS_F_* of the original request */
            uint16_t n_ids;
            uint64_t session;
            uint64_t seq;
            uint64_t zxid;
            /* WRITE: on encode, ids[0..n_ids); on decode they are written to the caller's
             * scratch array (zn_nodemsg_decode). */
            struct zn_nodemsg_ident *ids;
            struct zn_bytes request;
            /* SESSION_CREATE */
            uint32_t timeout_ms;
            uint8_t passwd[ZN_NODEMSG_PASSWD_BYTES];
        } fwd;
        struct {
            uint8_t op;
            uint8_t reason; /* enum zn_nodemsg_nack */
            uint8_t leader_hint;
            uint64_t session;
            uint64_t seq;
        } nack;
        struct {
            uint64_t session;
            uint64_t seq;
            uint64_t index;
        } read_index;
        struct {
            uint32_t count;
            /* On encode: entries[0..count); on decode: the caller's scratch array. */
            struct zn_nodemsg_touch *entries;
        } touch;
        struct {
            uint64_t session;
            uint64_t epoch;
        } moved;
    } u;
};

/* Scratch space a decoded message's arrays are written to. */
struct zn_nodemsg_scratch {
    struct zn_nodemsg_ident ids[ZN_NODE_FWD_IDS_MAX];
    struct zn_nodemsg_touch touch[ZN_NODE_TOUCH_BATCH_MAX];
};

/* Bytes zn_nodemsg_encode needs for m (0 if m is invalid). */
size_t zn_nodemsg_encoded_size(const struct zn_nodemsg *m);

/*
 * Encode m into buf (capacity cap); returns the length, ZN_EINVAL for an invalid message
 * (unknown kind or op, origin 0, counts out of range, empty RAFT payload) or ZN_ELIMIT when it
 * does not fit in cap or in ZN_MSG_SIZE_MAX_BYTES.
 */
long zn_nodemsg_encode(const struct zn_nodemsg *m, uint8_t *buf, size_t cap);

/*
 * Decode the untrusted buf[0..len). On success m points into buf and scratch. Errors:
 * ZN_EVERSION (other version), ZN_EPROTO (anything malformed: unknown kind/op/reason, non-zero
 * reserved, short, trailing bytes, counts over the limits).
 */
int zn_nodemsg_decode(const uint8_t *buf, size_t len, struct zn_nodemsg_scratch *scratch,
                      struct zn_nodemsg *m);

const char *zn_nodemsg_kind_name(uint8_t kind);

#endif /* ZN_NODE_NODEMSG_H */
