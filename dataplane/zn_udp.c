/*
 * dataplane/zn_udp.c - kernel-UDP transport (see zn_udp.h).
 *
 * recvmmsg(MSG_DONTWAIT) into fixed buffers with one spare byte so that an oversized datagram is
 * detected (MSG_TRUNC) and dropped; sendmmsg(MSG_DONTWAIT) where EAGAIN/ENOBUFS is counted
 * backpressure and any other error drops the datagram that caused it (counted).
 *
 * Socket buffers: a message is sent as up to ~750 back-to-back datagrams (proto/frame.h); with
 * the kernel's default 208 KiB receive buffer every message above ~190 KiB lost its tail in the
 * kernel on each retransmission and never completed. Both buffers are set to
 * ZN_UDP_SOCK_BUF_BYTES (common/zn_limits.h), and what the kernel still drops is counted: the
 * socket reports its cumulative drop count with every datagram (SO_RXQ_OVFL), whose growth goes
 * to stats.rx_kernel_dropped (and rx_dropped).
 */
#include "dataplane/zn_udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/zn_limits.h"

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"

static void to_sockaddr(const struct zn_dp_addr *a, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(a->ip);
    sa->sin_port = htons(a->port);
}

/* SO_RXQ_OVFL: the cmsg carries the socket's drop count (sk_drops, 32 bits, wraps) at the time
 * the datagram was queued; count its growth. */
static void udp_note_kernel_drops(struct zn_udp *u, struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL ||
            c->cmsg_len < CMSG_LEN(sizeof(uint32_t)))
            continue;
        uint32_t drops;
        memcpy(&drops, CMSG_DATA(c), sizeof(drops));
        uint32_t grew = drops - u->kernel_drops_seen;
        if (grew != 0 && grew < (1u << 31)) {
            u->stats.rx_kernel_dropped += grew;
            u->stats.rx_dropped += grew;
            u->kernel_drops_seen = drops;
        }
    }
}

static int udp_recv(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    (void)now_ns;
    struct zn_udp *u = ctx;
    if (n > ZN_DP_UDP_BURST)
        n = ZN_DP_UDP_BURST;
    struct mmsghdr msgs[ZN_DP_UDP_BURST];
    struct iovec iov[ZN_DP_UDP_BURST];
    struct sockaddr_in from[ZN_DP_UDP_BURST];
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } ctl[ZN_DP_UDP_BURST];
    for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = u->rx_buf[i];
        iov[i].iov_len = sizeof(u->rx_buf[i]);
        memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
        msgs[i].msg_hdr.msg_control = ctl[i].buf;
        msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
    }
    int got = recvmmsg(u->fd, msgs, n, MSG_DONTWAIT, NULL);
    if (got < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            u->rx_errors++;
        return 0;
    }
    int out = 0;
    for (int i = 0; i < got; i++) {
        udp_note_kernel_drops(u, &msgs[i].msg_hdr);
        if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ||
            msgs[i].msg_len > ZN_DGRAM_PAYLOAD_MAX_BYTES) {
            u->rx_truncated++;
            u->stats.rx_dropped++;
            continue;
        }
        dg[out].data = u->rx_buf[i];
        dg[out].len = msgs[i].msg_len;
        dg[out].peer.ip = ntohl(from[i].sin_addr.s_addr);
        dg[out].peer.port = ntohs(from[i].sin_port);
        u->stats.rx_bytes += dg[out].len;
        out++;
    }
    u->stats.rx_dgrams += (uint64_t)out;
    return out;
}

static int udp_send(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    (void)now_ns;
    struct zn_udp *u = ctx;
    unsigned taken = 0;
    while (taken < n) {
        struct mmsghdr msgs[ZN_DP_UDP_BURST];
        struct iovec iov[ZN_DP_UDP_BURST];
        struct sockaddr_in to[ZN_DP_UDP_BURST];
        unsigned k = 0;
        while (taken + k < n && k < ZN_DP_UDP_BURST) {
            const struct zn_dp_dgram *d = &dg[taken + k];
            if (d->len > ZN_DGRAM_PAYLOAD_MAX_BYTES)
                break;
            iov[k].iov_base = d->data;
            iov[k].iov_len = d->len;
            to_sockaddr(&d->peer, &to[k]);
            memset(&msgs[k].msg_hdr, 0, sizeof(msgs[k].msg_hdr));
            msgs[k].msg_hdr.msg_iov = &iov[k];
            msgs[k].msg_hdr.msg_iovlen = 1;
            msgs[k].msg_hdr.msg_name = &to[k];
            msgs[k].msg_hdr.msg_namelen = sizeof(to[k]);
            k++;
        }
        if (k == 0) { /* dg[taken] is oversized: drop it */
            u->tx_oversized++;
            u->stats.tx_dropped++;
            taken++;
            continue;
        }
        int sent = sendmmsg(u->fd, msgs, k, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EINTR) {
                u->stats.tx_backpressure += n - taken;
                return (int)taken;
            }
            /* The first datagram of the batch failed (unreachable, refused): drop it. */
            u->tx_errors++;
            u->stats.tx_dropped++;
            taken++;
            continue;
        }
        for (int i = 0; i < sent; i++) {
            u->stats.tx_bytes += dg[taken + (unsigned)i].len;
        }
        u->stats.tx_dgrams += (uint64_t)sent;
        taken += (unsigned)sent;
        if ((unsigned)sent < k) {
            u->stats.tx_backpressure += n - taken;
            return (int)taken;
        }
    }
    return (int)taken;
}

static void udp_housekeeping(void *ctx, uint64_t now_ns)
{
    (void)ctx;
    (void)now_ns;
}

static void udp_stats(void *ctx, struct zn_dp_transport_stats *out)
{
    struct zn_udp *u = ctx;
    *out = u->stats;
}

static const struct zn_dp_transport_ops udp_ops = {
    .name = "kernel-udp",
    .recv_burst = udp_recv,
    .send_burst = udp_send,
    .housekeeping = udp_housekeeping,
    .stats = udp_stats,
};

/* Size both socket buffers for the largest message (see the top comment). FORCE needs
 * CAP_NET_ADMIN; without it the kernel caps the request at net.core.rmem_max/wmem_max. */
static void udp_size_buffers(struct zn_udp *u)
{
    int want = (int)ZN_UDP_SOCK_BUF_BYTES;
    if (setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
        (void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    if (setsockopt(u->fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) != 0)
        (void)setsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
    socklen_t sl = sizeof(u->rcvbuf_bytes);
    if (getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &u->rcvbuf_bytes, &sl) != 0)
        u->rcvbuf_bytes = 0;
    sl = sizeof(u->sndbuf_bytes);
    if (getsockopt(u->fd, SOL_SOCKET, SO_SNDBUF, &u->sndbuf_bytes, &sl) != 0)
        u->sndbuf_bytes = 0;
    /* the kernel reports twice what it was asked (bookkeeping overhead) */
    if (u->rcvbuf_bytes < want || u->sndbuf_bytes < want)
        ZN_WARN("udp",
                "socket buffers capped at %d/%d bytes (rx/tx; asked %d): values near the data "
                "limit may be dropped by the kernel (counted as kernel rx drops); raise "
                "net.core.rmem_max and net.core.wmem_max to %d or run with CAP_NET_ADMIN",
                u->rcvbuf_bytes / 2, u->sndbuf_bytes / 2, want, want);
}

int zn_udp_open(struct zn_udp *u, const struct zn_dp_addr *local, struct zn_dp_transport *t)
{
    memset(u, 0, sizeof(*u));
    u->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        ZN_WARN("udp", "socket: %s", strerror(errno));
        return ZN_EIO;
    }
    int one = 1;
    (void)setsockopt(u->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa;
    to_sockaddr(local, &sa);
    if (bind(u->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        ZN_WARN("udp", "bind port %u: %s", local->port, strerror(errno));
        close(u->fd);
        u->fd = -1;
        return ZN_EIO;
    }
    udp_size_buffers(u);
    (void)setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
    socklen_t len = sizeof(sa);
    ZN_ASSERT(getsockname(u->fd, (struct sockaddr *)&sa, &len) == 0);
    t->ops = &udp_ops;
    t->ctx = u;
    t->local.ip = ntohl(sa.sin_addr.s_addr);
    t->local.port = ntohs(sa.sin_port);
    return 0;
}

void zn_udp_close(struct zn_udp *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

int zn_dp_ip_parse(const char *text, uint32_t *ip)
{
    struct in_addr a;
    if (text == NULL || inet_pton(AF_INET, text, &a) != 1)
        return ZN_EINVAL;
    *ip = ntohl(a.s_addr);
    return 0;
}

const char *zn_dp_ip_format(uint32_t ip, char *buf, unsigned cap)
{
    snprintf(buf, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
    return buf;
}
