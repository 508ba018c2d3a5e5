/*
 * Kernel-UDP transport and large messages (bigval): a 1 MiB message (~750 datagrams) sent back
 * to back before the receiver reads anything arrives whole, because the socket buffers are
 * sized for it (ZN_UDP_SOCK_BUF_BYTES); and datagrams the kernel does drop (a receive buffer
 * shrunk on purpose) are counted in rx_kernel_dropped / rx_dropped, never lost silently.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_udp.h"

#define LOOPBACK 0x7f000001u
#define CLUSTER  77u
#define BIG      (1u * ZN_MIB)

struct got {
    uint32_t messages;
    uint32_t len;
    bool same;
    const uint8_t *want;
};

static void on_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    struct got *g = ctx;
    g->messages++;
    g->len = msg->len;
    g->same = msg->len == BIG && memcmp(msg->data, g->want, BIG) == 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * ZN_NS_PER_S + (uint64_t)ts.tv_nsec;
}

Test(udp_bigbuf, buffers_sized_for_the_largest_message)
{
    struct zn_udp u;
    struct zn_dp_transport t;
    struct zn_dp_addr any = {.ip = LOOPBACK, .port = 0};
    cr_assert_eq(zn_udp_open(&u, &any, &t), 0);
    printf("udp_bigbuf: SO_RCVBUF %d, SO_SNDBUF %d (asked %u; the kernel reports double)\n",
           u.rcvbuf_bytes, u.sndbuf_bytes, ZN_UDP_SOCK_BUF_BYTES);
    /* as root FORCE always works; otherwise only net.core.rmem_max limits it */
    if (geteuid() == 0) {
        cr_assert_geq(u.rcvbuf_bytes, (int)ZN_UDP_SOCK_BUF_BYTES);
        cr_assert_geq(u.sndbuf_bytes, (int)ZN_UDP_SOCK_BUF_BYTES);
    }
    zn_udp_close(&u);
}

Test(udp_bigbuf, one_mib_back_to_back_arrives_whole)
{
    if (geteuid() != 0)
        cr_skip_test("needs root for SO_RCVBUFFORCE (net.core.rmem_max may be low)");
    static struct zn_udp ua, ub;
    struct zn_dp_transport ta, tb;
    struct zn_dp_msgr ma, mb;
    struct zn_dp_addr any = {.ip = LOOPBACK, .port = 0};
    cr_assert_eq(zn_udp_open(&ua, &any, &ta), 0);
    cr_assert_eq(zn_udp_open(&ub, &any, &tb), 0);
    cr_assert_eq(zn_dp_msgr_init(&ma, &ta, CLUSTER, 1, 8, 4u * ZN_MIB, 500ull * 1000 * 1000), 0);
    cr_assert_eq(zn_dp_msgr_init(&mb, &tb, CLUSTER, 2, 8, 4u * ZN_MIB, 500ull * 1000 * 1000), 0);
    uint8_t *msg = malloc(BIG);
    cr_assert_not_null(msg);
    for (uint32_t i = 0; i < BIG; i++)
        msg[i] = (uint8_t)(i * 2654435761u >> 13);
    /* the whole message is written before b reads a single datagram */
    int rc = zn_dp_msgr_send(&ma, &tb.local, ZN_FRAME_PEER, 2, msg, BIG, now_ns());
    cr_assert_eq(rc, 0, "send: %s", zn_strerror(rc));
    struct got g = {.want = msg};
    uint64_t deadline = now_ns() + 10ull * ZN_NS_PER_S;
    while (g.messages == 0 && now_ns() < deadline) {
        if (zn_dp_msgr_poll(&mb, now_ns(), on_msg, &g) == 0)
            usleep(1000);
    }
    struct zn_dp_transport_stats s;
    tb.ops->stats(tb.ctx, &s);
    printf("udp_bigbuf: 1 MiB in %u datagrams: %u message(s) of %u bytes, kernel drops %llu\n",
           zn_frame_seg_count(BIG), g.messages, g.len, (unsigned long long)s.rx_kernel_dropped);
    cr_assert_eq(g.messages, 1, "the 1 MiB message did not complete (kernel drops %llu)",
                 (unsigned long long)s.rx_kernel_dropped);
    cr_assert(g.same, "bytes differ");
    cr_assert_eq(s.rx_kernel_dropped, 0);
    free(msg);
    zn_dp_msgr_fini(&ma);
    zn_dp_msgr_fini(&mb);
    zn_udp_close(&ua);
    zn_udp_close(&ub);
}

Test(udp_bigbuf, kernel_drops_are_counted)
{
    static struct zn_udp ub;
    struct zn_dp_transport tb;
    struct zn_dp_addr any = {.ip = LOOPBACK, .port = 0};
    cr_assert_eq(zn_udp_open(&ub, &any, &tb), 0);
    int small = 4096; /* the kernel's minimum: a couple of datagrams */
    cr_assert_eq(setsockopt(ub.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq(tx, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons(tb.local.port),
                             .sin_addr.s_addr = htonl(LOOPBACK)};
    enum { SENT = 200 };
    static uint8_t dgram[1400];
    memset(dgram, 0x5a, sizeof(dgram));
    for (int i = 0; i < SENT; i++)
        cr_assert_eq(sendto(tx, dgram, sizeof(dgram), 0, (struct sockaddr *)&to, sizeof(to)),
                     (ssize_t)sizeof(dgram));
    /* one more after the flood, once the queue has room, so that it carries the drop count */
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    uint64_t received = 0;
    int n;
    while ((n = tb.ops->recv_burst(tb.ctx, dg, ZN_DP_BURST_MAX, 0)) > 0)
        received += (uint64_t)n;
    cr_assert_eq(sendto(tx, dgram, sizeof(dgram), 0, (struct sockaddr *)&to, sizeof(to)),
                 (ssize_t)sizeof(dgram));
    for (int tries = 0; tries < 1000; tries++) {
        n = tb.ops->recv_burst(tb.ctx, dg, ZN_DP_BURST_MAX, 0);
        if (n > 0) {
            received += (uint64_t)n;
            break;
        }
        usleep(1000);
    }
    struct zn_dp_transport_stats s;
    tb.ops->stats(tb.ctx, &s);
    printf("udp_bigbuf: %d datagrams into a %d-byte buffer: %llu received, %llu counted as "
           "kernel drops\n",
           SENT + 1, small, (unsigned long long)received, (unsigned long long)s.rx_kernel_dropped);
    cr_assert_gt(s.rx_kernel_dropped, 0);
    cr_assert_eq(received + s.rx_kernel_dropped, (uint64_t)SENT + 1,
                 "every datagram is either received or counted");
    cr_assert_geq(s.rx_dropped, s.rx_kernel_dropped);
    close(tx);
    zn_udp_close(&ub);
}
