/*
 * dataplane/zn_dp_transport.h - the datagram transport interface shared by the DPDK stack
 * (zn_dp_stack.h) and the kernel-UDP transport (zn_udp.h).
 *
 * A transport moves UDP payloads between this endpoint (one local IPv4 address and UDP port)
 * and peers. Both implementations are non-blocking and burst-oriented; the poll loop calls them
 * from one lcore. Received datagrams are views into transport-owned buffers that stay valid until
 * the next recv_burst on the same transport (zero copy on the DPDK path: the views point into
 * mbufs that are freed at the next receive).
 *
 * Context: one transport instance belongs to one lcore (one thread). No locks.
 */
#ifndef ZN_DP_TRANSPORT_H
#define ZN_DP_TRANSPORT_H

#include <stdint.h>

#include "common/zn_limits.h"

/* An IPv4 address and UDP port, both in host byte order. */
struct zn_dp_addr {
    uint32_t ip;
    uint16_t port;
};

struct zn_dp_dgram {
    struct zn_dp_addr peer; /* source on receive, destination on send */
    uint32_t len;
    uint8_t *data;
};

struct zn_frame_hdr; /* proto/frame.h */

/* One zinc frame to send: the transport encodes header and payload straight into its own
 * buffer (zn_frame_encode), with no staging copy. */
struct zn_dp_frame_out {
    struct zn_dp_addr peer;
    const struct zn_frame_hdr *hdr; /* self-consistent (zn_frame_segment) */
    const uint8_t *payload;         /* hdr->payload_len bytes */
};

struct zn_dp_transport_stats {
    uint64_t rx_dgrams;
    uint64_t tx_dgrams;
    uint64_t rx_bytes;
    uint64_t tx_bytes;
    uint64_t tx_backpressure;   /* datagrams the transport could not take now (caller retries) */
    uint64_t rx_dropped;        /* all receive-side drops (each also has its own named counter) */
    uint64_t tx_dropped;        /* all send-side drops */
    uint64_t rx_kernel_dropped; /* datagrams the kernel dropped before we read them (socket
                                   receive buffer full: SO_RXQ_OVFL), also in rx_dropped */
};

struct zn_dp_transport_ops {
    const char *name;
    /* Receive up to n datagrams into dg[]; returns the count (0 when nothing is pending). */
    int (*recv_burst)(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns);
    /*
     * Send up to n datagrams; returns how many were taken (copied or queued). The rest is
     * backpressure, counted in tx_backpressure; the caller keeps them and retries. A datagram
     * longer than ZN_DGRAM_PAYLOAD_MAX_BYTES is dropped and counted (it is taken).
     */
    int (*send_burst)(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns);
    /* Periodic work from the lcore's housekeeping (ARP retries and expiry, link state). */
    void (*housekeeping)(void *ctx, uint64_t now_ns);
    void (*stats)(void *ctx, struct zn_dp_transport_stats *out);
    /*
     * Optional (NULL: the caller encodes into its own buffer and uses send_burst). Like
     * send_burst for frames: encodes each in place in the transport's buffer, returns how many
     * were taken; the rest is backpressure.
     */
    int (*send_frames)(void *ctx, const struct zn_dp_frame_out *f, unsigned n, uint64_t now_ns);
};

struct zn_dp_transport {
    const struct zn_dp_transport_ops *ops;
    void *ctx;
    struct zn_dp_addr local;
};

/* Burst size of every receive and send (DPDK's usual 32). */
#define ZN_DP_BURST_MAX 32u

static inline int zn_dp_recv(struct zn_dp_transport *t, struct zn_dp_dgram *dg, unsigned n,
                             uint64_t now_ns)
{
    return t->ops->recv_burst(t->ctx, dg, n, now_ns);
}

static inline int zn_dp_send(struct zn_dp_transport *t, const struct zn_dp_dgram *dg, unsigned n,
                             uint64_t now_ns)
{
    return t->ops->send_burst(t->ctx, dg, n, now_ns);
}

/* "a.b.c.d" to host-order address; 0 or ZN_EINVAL. */
int zn_dp_ip_parse(const char *text, uint32_t *ip);
/* Host-order address to "a.b.c.d" in buf (at least 16 bytes). */
const char *zn_dp_ip_format(uint32_t ip, char *buf, unsigned cap);

#endif /* ZN_DP_TRANSPORT_H */
