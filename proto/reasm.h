/*
 * proto/reasm.h - reassembly of segmented messages with bounded memory and timeouts.
 *
 * A receiver feeds every decoded datagram (zn_frame_decode) to zn_reasm_add. Single-segment
 * messages never enter the table: the caller uses the payload in place. A multi-segment message
 * occupies one of `slots` entries, keyed by (source, sender, type, msg_id), and a buffer of msg_len
 * bytes plus a bitmap of received segments. The total of those buffers never exceeds
 * `bytes_max`; a message that would exceed it, or that finds no free slot, is refused and
 * counted (the sender retransmits, and stale partial messages expire). A partial message older
 * than `timeout_ns` (since its first segment) is dropped by zn_reasm_expire.
 *
 * Memory: the slot table is allocated by zn_reasm_init; message buffers are allocated when the
 * first segment of a message arrives, inside the byte budget, and freed on completion
 * (zn_reasm_msg_release) or expiry. Time is an input (now_ns); there is no clock here.
 *
 * Context: one instance belongs to one thread (the lcore stage that receives the datagrams).
 */
#ifndef ZN_PROTO_REASM_H
#define ZN_PROTO_REASM_H

#include <stdint.h>

#include "proto/frame.h"

struct zn_reasm_slot;

struct zn_reasm_stats {
    uint64_t completed;    /* multi-segment messages delivered */
    uint64_t segments;     /* segments accepted into a slot */
    uint64_t duplicates;   /* segment already received (ignored) */
    uint64_t inconsistent; /* segment disagrees with its message (partial message dropped) */
    uint64_t no_slot;      /* first segment refused: every slot busy */
    uint64_t over_budget;  /* first segment refused: byte budget exhausted */
    uint64_t timeouts;     /* partial messages expired (truncated segment sequences) */
    uint64_t bytes_in_use; /* current buffered bytes (gauge) */
    uint64_t slots_in_use; /* current partial messages (gauge) */
};

struct zn_reasm {
    struct zn_reasm_slot *slots;
    uint32_t slot_count;
    uint64_t bytes_max;
    uint64_t timeout_ns;
    struct zn_reasm_stats stats;
};

/* A complete message. `data` belongs to the caller until zn_reasm_msg_release. */
struct zn_reasm_msg {
    struct zn_frame_hdr hdr; /* header of the last segment received (type, sender, msg_id) */
    uint8_t *data;
    uint32_t len;
    uint32_t owned_bytes_; /* buffer bytes charged to the budget; 0 when data is in place */
};

/*
 * Allocate the slot table. slots in 1..ZN_REASM_SLOTS_MAX, bytes_max in
 * 1..ZN_REASM_BYTES_MAX, timeout_ns > 0. Returns 0, ZN_EINVAL or ZN_ENOMEM.
 */
int zn_reasm_init(struct zn_reasm *r, uint32_t slots, uint64_t bytes_max, uint64_t timeout_ns);
/* Free every partial message and the table. */
void zn_reasm_fini(struct zn_reasm *r);

/*
 * Add a decoded segment (`h` from zn_frame_decode, `payload` its h->payload_len bytes) that came
 * from `source`: an identifier of the sending endpoint chosen by the caller (the transport
 * address, e.g. IPv4 << 16 | port), because node ids alone do not tell clients apart (every
 * client sends as node 0). Partial messages are keyed by (source, sender, type, msg_id).
 * Returns 1 and fills `out` when the message is complete (for a single-segment message
 * out->data points at `payload`, nothing is copied), 0 when the segment was stored or was a
 * duplicate, or a negative code when it was refused: ZN_EFULL (no slot), ZN_ELIMIT (budget),
 * ZN_EPROTO (inconsistent with the message being reassembled under the same key; that partial
 * message is dropped), ZN_ENOMEM.
 */
int zn_reasm_add(struct zn_reasm *r, const struct zn_frame_hdr *h, const uint8_t *payload,
                 uint64_t source, uint64_t now_ns, struct zn_reasm_msg *out);

/* Give back a message returned by zn_reasm_add (no-op for single-segment messages). */
void zn_reasm_msg_release(struct zn_reasm *r, struct zn_reasm_msg *msg);

/* Drop partial messages whose first segment arrived more than timeout_ns before now_ns.
 * Returns how many were dropped. */
uint32_t zn_reasm_expire(struct zn_reasm *r, uint64_t now_ns);

#endif /* ZN_PROTO_REASM_H */
