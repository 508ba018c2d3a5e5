/*
 * dataplane/zn_udp.h - the kernel-UDP transport: the zn_dp_transport interface over an ordinary
 * non-blocking UDP socket with recvmmsg/sendmmsg. For clients, runs without root or DPDK, and
 * the TCP/UDP listeners of nodes in the memif lab. The same idle policy applies (the poll loop
 * decides when to yield or sleep; this transport never blocks).
 *
 * Context: one instance belongs to one thread.
 */
#ifndef ZN_DP_UDP_H
#define ZN_DP_UDP_H

#include "dataplane/zn_dp_transport.h"

#define ZN_DP_UDP_BURST ZN_DP_BURST_MAX

struct zn_udp {
    int fd;
    struct zn_dp_transport_stats stats;
    uint64_t rx_truncated; /* datagram longer than ZN_DGRAM_PAYLOAD_MAX_BYTES */
    uint64_t tx_oversized;
    uint64_t tx_errors; /* sendmmsg failures other than EAGAIN (unreachable, ...) */
    uint64_t rx_errors;
    uint32_t kernel_drops_seen; /* last SO_RXQ_OVFL value (the socket's cumulative drops) */
    int rcvbuf_bytes;           /* effective SO_RCVBUF / SO_SNDBUF (after the kernel's doubling) */
    int sndbuf_bytes;
    /* Receive buffers, reused at every recv_burst (views stay valid until the next one). One
     * spare byte detects truncation. */
    uint8_t rx_buf[ZN_DP_UDP_BURST][ZN_DGRAM_PAYLOAD_MAX_BYTES + 1];
};

/*
 * Open a socket bound to local (ip 0 = any, port 0 = ephemeral; the bound port is written back
 * into t->local) and fill `t`. The socket buffers are sized to ZN_UDP_SOCK_BUF_BYTES (a warning
 * names the sysctl when the kernel caps them), and kernel receive drops are counted
 * (SO_RXQ_OVFL -> stats.rx_kernel_dropped). Returns 0 or a negative code (ZN_EIO with errno logged).
 */
int zn_udp_open(struct zn_udp *u, const struct zn_dp_addr *local, struct zn_dp_transport *t);
void zn_udp_close(struct zn_udp *u);

#endif /* ZN_DP_UDP_H */
