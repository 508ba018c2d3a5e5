/*
 * dataplane/zn_dp_msg.h - framed messages over any zn_dp_transport: segmentation into frames
 * (proto/frame.h) on send, validation and reassembly (proto/reasm.h) on receive, with a named
 * counter for every refused datagram.
 *
 * Context: one instance per transport, on the transport's lcore.
 */
#ifndef ZN_DP_MSG_H
#define ZN_DP_MSG_H

#include <stdint.h>

#include "dataplane/zn_dp_transport.h"
#include "proto/frame.h"
#include "proto/reasm.h"

struct zn_dp_msgr_stats {
    uint64_t tx_msgs;
    uint64_t tx_frames;
    uint64_t tx_backpressure; /* messages not fully handed to the transport (caller retries) */
    uint64_t rx_frames;
    uint64_t rx_msgs;
    uint64_t drop_malformed; /* short, wrong magic, bad lengths or segment numbers (ZN_EPROTO) */
    uint64_t drop_version;
    uint64_t drop_checksum;
    uint64_t drop_cluster; /* other cluster or another receiver */
    uint64_t drop_mac;     /* MAC present: not supported by this build */
    uint64_t drop_oversize;
    uint64_t drop_reasm; /* reassembly refused (no slot, budget, inconsistent) */
};

struct zn_dp_msgr {
    struct zn_dp_transport *transport;
    struct zn_frame_expect expect;
    uint64_t next_msg_id;
    struct zn_reasm reasm;
    struct zn_dp_msgr_stats stats;
    uint8_t tx_buf[ZN_DP_BURST_MAX][ZN_FRAME_DGRAM_MAX_BYTES];
};

/* A received message: valid only during the handler call. */
typedef void (*zn_dp_msg_handler)(void *ctx, const struct zn_dp_addr *from,
                                  const struct zn_reasm_msg *msg);

/* Returns 0, ZN_EINVAL or ZN_ENOMEM (reassembly table). */
int zn_dp_msgr_init(struct zn_dp_msgr *m, struct zn_dp_transport *t, uint32_t cluster_id,
                    uint8_t self_node, uint32_t reasm_slots, uint64_t reasm_bytes,
                    uint64_t reasm_timeout_ns);
void zn_dp_msgr_fini(struct zn_dp_msgr *m);

/*
 * Send one message of `len` bytes to `dst` as ceil(len / ZN_FRAME_SEG_BYTES) frames. Returns 0,
 * ZN_ELIMIT (larger than ZN_MSG_SIZE_MAX_BYTES) or ZN_EFULL when the transport did not take
 * every frame (the message is incomplete on the wire; the receiver's reassembly times out and
 * the caller retries later, as with any loss).
 */
int zn_dp_msgr_send(struct zn_dp_msgr *m, const struct zn_dp_addr *dst, uint8_t type,
                    uint8_t receiver, const void *msg, uint32_t len, uint64_t now_ns);

/* Receive one burst, deliver complete messages to `handler`; returns datagrams processed. */
int zn_dp_msgr_poll(struct zn_dp_msgr *m, uint64_t now_ns, zn_dp_msg_handler handler, void *ctx);

/* Expire partial messages (call from housekeeping). */
void zn_dp_msgr_housekeeping(struct zn_dp_msgr *m, uint64_t now_ns);

#endif /* ZN_DP_MSG_H */
