/*
 * session.h - the native client protocol's session layer (DESIGN.md section 8).
 *
 * A client message is the (reassembled) payload of a ZN_FRAME_CLIENT frame, a server message
 * that of a ZN_FRAME_SERVER frame (proto/frame.h). Each starts with this 40-byte header,
 * little-endian like the frame header, followed by a jute body (proto/zk.h):
 *
 *   off size field
 *     0   1  kind        enum zn_sess_kind (its direction is checked)
 *     1   1  flags       ZN_SESS_F_* (unknown bits rejected)
 *     2   2  reserved    0
 *     4   4  leader      server->client: the leader's node id when known, else 0; client: 0
 *     8   8  session_id  0 only in a CONNECT for a new session
 *    16   8  seq         client: request sequence (1, 2, ... per session, FIFO order);
 *                        server: the request answered (REPLY) or the event number (EVENT)
 *    24   8  ack         client: highest event number received in order (events up to it may be
 *                        forgotten by the server), and in CONNECT the connection attempt number;
 *                        server: highest request sequence the node has taken in order for this
 *                        session (CONNECTED echoes the attempt number in seq instead)
 *    32   8  zxid        client: last zxid seen (reads never go older); server: zxid of the reply,
 *                        event, or the node's applied zxid (PONG)
 *
 * Bodies: CONNECT = ConnectRequest, CONNECTED = ConnectResponse, REQUEST = RequestHeader + body
 * (xid = low 32 bits of seq), REPLY = ReplyHeader + body, EVENT = ReplyHeader{xid -1} +
 * WatcherEvent, REFUSED = int32 ZooKeeper error (session expired, moved, unknown, throttled);
 * ACK, PING and PONG have no body.
 *
 * The full behaviour both ends follow is docs/wire-format.md "Native client protocol behaviour"
 * (rules R1-R12). Ordering and exactly-once in short: the client numbers requests and
 * retransmits an unanswered one with the same seq (flag RETRY); the node takes requests of a
 * session strictly in seq order (zn_sess_window_classify), answers a duplicate of an applied
 * write from the session's cached reply (store/), and buffers at most a bounded window of
 * early requests. Events are numbered per session and retransmitted until acked.
 *
 * Context: any thread; no state, no allocation.
 */
#ifndef ZN_PROTO_SESSION_H
#define ZN_PROTO_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/jute.h"

#define ZN_SESS_HDR_BYTES 40u

enum zn_sess_kind {
    /* client -> server */
    ZN_SESS_CONNECT = 1,
    ZN_SESS_REQUEST = 2,
    ZN_SESS_ACK = 3,
    ZN_SESS_PING = 4,
    /* server -> client */
    ZN_SESS_CONNECTED = 16,
    ZN_SESS_REPLY = 17,
    ZN_SESS_EVENT = 18,
    ZN_SESS_PONG = 19,
    ZN_SESS_REFUSED = 20,
};

enum zn_sess_dir {
    ZN_SESS_TO_SERVER = 0,
    ZN_SESS_TO_CLIENT = 1,
};

/* REQUEST: serve this read linearizably (ReadIndex) instead of from the local replica. */
#define ZN_SESS_F_LINEARIZABLE 0x01u
/* REQUEST: a retransmission of a request already sent with this seq. */
#define ZN_SESS_F_RETRY 0x02u
#define ZN_SESS_F_KNOWN 0x03u

struct zn_sess_hdr {
    uint8_t kind;
    uint8_t flags;
    uint32_t leader;
    uint64_t session_id;
    uint64_t seq;
    uint64_t ack;
    uint64_t zxid;
};

const char *zn_sess_kind_name(uint8_t kind);

/* Write the 40-byte header. Returns ZN_SESS_HDR_BYTES, or ZN_EINVAL for an unknown kind/flag. */
int zn_sess_hdr_encode(const struct zn_sess_hdr *h, uint8_t out[ZN_SESS_HDR_BYTES]);

/*
 * Validate an untrusted session message travelling in direction `dir` and split it into header
 * and body (a view into buf). Checks: length, kind known and of that direction, flags known and
 * allowed for the kind, reserved zero, body present exactly for the kinds that carry one,
 * session id non-zero except in CONNECT, seq non-zero in REQUEST/REPLY/EVENT. Returns 0 or
 * ZN_EPROTO.
 */
int zn_sess_decode(const void *buf, size_t len, enum zn_sess_dir dir, struct zn_sess_hdr *h,
                   struct zn_bytes *body);

/* Where an arriving request seq stands relative to the next one the node expects. */
enum zn_sess_order {
    ZN_SESS_IN_ORDER = 0,  /* seq == next: take it now */
    ZN_SESS_DUPLICATE = 1, /* seq < next: already taken; answer from the cached reply, if any */
    ZN_SESS_EARLY = 2,     /* next < seq < next + window: hold until the gap fills */
    ZN_SESS_TOO_EARLY = 3, /* seq >= next + window: drop (the client retransmits) */
};

/* Classify request `seq` against `next` (the next expected) with a hold window of `window`. */
enum zn_sess_order zn_sess_window_classify(uint64_t next, uint64_t seq, uint64_t window);

#endif /* ZN_PROTO_SESSION_H */
