/*
 * The stack's checksums: zn_dp_cksum (eight bytes per addition) against DPDK's rte_raw_cksum
 * for every length and alignment, and the UDP transmit checksum policy over a net_ring pair:
 * the default puts 0 on the wire without offload, OFFLOAD_OR_SOFTWARE a checksum that verifies,
 * and the receive side accepts 0 and keeps dropping (and counting) a wrong non-zero checksum
 * whichever policy it sends with.
 */
#include <criterion/criterion.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "dataplane/zn_dp_cksum.h"
#include "dataplane/zn_dp_stack.h"
#include "dp_env.h"

#define IP_A 0x0a630101u /* 10.99.1.1 */
#define IP_B 0x0a630102u /* 10.99.1.2 */
#define PORT 7000

Test(cksum, equals_rte_raw_cksum_for_every_length_and_alignment)
{
    static uint8_t buf[2048 + 16];
    struct zn_prng prng;
    zn_prng_seed(&prng, 6);
    unsigned checked = 0;
    for (int pattern = 0; pattern < 4; pattern++) {
        if (pattern == 0)
            zn_prng_fill(&prng, buf, sizeof(buf));
        else
            memset(buf, pattern == 1 ? 0x00 : pattern == 2 ? 0xff : 0x80, sizeof(buf));
        for (size_t off = 0; off < 8; off++) {
            for (size_t len = 0; len <= 2048; len++) {
                uint16_t want = rte_raw_cksum(buf + off, len);
                uint16_t got = zn_dp_cksum_raw(buf + off, len);
                cr_assert_eq(got, want, "pattern %d off %zu len %zu: %#x != %#x", pattern, off, len,
                             got, want);
                checked++;
            }
        }
    }
    /* A running start value (the pseudo-header sum) carried through, as the UDP code uses it. */
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)zn_prng_below(&prng, 1600), off = (size_t)zn_prng_below(&prng, 8);
        uint32_t init = (uint32_t)zn_prng_below(&prng, 0x20000);
        zn_prng_fill(&prng, buf, len + off);
        uint16_t want = __rte_raw_cksum_reduce(__rte_raw_cksum(buf + off, len, init));
        cr_assert_eq(zn_dp_cksum_fold(zn_dp_cksum_add(init, buf + off, len)), want,
                     "len %zu off %zu init %#x", len, off, init);
        checked++;
    }
    printf("zn_dp_cksum == rte_raw_cksum on %u buffers\n", checked);
}

Test(cksum, policy_names_parse_both_ways)
{
    enum zn_dp_udp_tx_cksum v;
    cr_assert_eq(zn_dp_udp_tx_cksum_parse("offload-or-zero", &v), 0);
    cr_assert_eq(v, ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO);
    cr_assert_eq(zn_dp_udp_tx_cksum_parse("offload-or-software", &v), 0);
    cr_assert_eq(v, ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE);
    cr_assert_eq(zn_dp_udp_tx_cksum_parse("software", &v), ZN_EINVAL);
    cr_assert_eq(zn_dp_udp_tx_cksum_parse(NULL, &v), ZN_EINVAL);
    cr_assert_str_eq(zn_dp_udp_tx_cksum_name(ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE),
                     "offload-or-software");
}

struct pair {
    struct rte_mempool *pool;
    uint16_t pa, pb;
    struct zn_dp_port_info ia, ib;
    struct zn_dp_stack a, b;
    struct zn_dp_transport ta, tb;
};

static struct pair *pair_up(enum zn_dp_udp_tx_cksum policy)
{
    cr_assert_eq(dp_env_eal("cksum", NULL, 0), 0, "EAL start");
    struct pair *p = calloc(1, sizeof(*p));
    cr_assert_not_null(p);
    cr_assert_eq(zn_dp_port_ring_pair("zc", 1, &p->pa, &p->pb), 0);
    p->pool = zn_dp_pool_create("zc_pool", 2, 1);
    cr_assert_not_null(p->pool);
    cr_assert_eq(zn_dp_port_start(p->pa, 1, p->pool, &p->ia), 0);
    cr_assert_eq(zn_dp_port_start(p->pb, 1, p->pool, &p->ib), 0);
    cr_assert(!p->ia.tx_cksum_offload, "net_ring offers no offload: software paths tested");
    struct zn_dp_stack_cfg ca = {.port_id = p->pa,
                                 .ip = IP_A,
                                 .udp_port = PORT,
                                 .pool = p->pool,
                                 .port = &p->ia,
                                 .udp_tx_cksum = policy};
    struct zn_dp_stack_cfg cb = ca;
    cb.port_id = p->pb;
    cb.ip = IP_B;
    cb.port = &p->ib;
    cr_assert_eq(zn_dp_stack_init(&p->a, &ca, &p->ta), 0);
    cr_assert_eq(zn_dp_stack_init(&p->b, &cb, &p->tb), 0);
    cr_assert_eq(zn_dp_stack_arp_static(&p->a, IP_B, p->ib.mac), 0);
    return p;
}

static void pair_down(struct pair *p)
{
    zn_dp_stack_fini(&p->a);
    zn_dp_stack_fini(&p->b);
    zn_dp_port_stop(p->pa);
    zn_dp_port_stop(p->pb);
    free(p);
    zn_dp_eal_fini();
}

/* A sends `len` bytes; the frame is taken off B's port before B's stack sees it. */
static struct rte_mbuf *send_and_capture(struct pair *p, const uint8_t *payload, uint32_t len)
{
    struct zn_dp_dgram d = {.peer = p->tb.local, .len = len, .data = (uint8_t *)payload};
    cr_assert_eq(zn_dp_send(&p->ta, &d, 1, 0), 1);
    struct rte_mbuf *m = NULL;
    cr_assert_eq(rte_eth_rx_burst(p->pb, 0, &m, 1), 1, "the frame is on the ring");
    return m;
}

static struct rte_ipv4_hdr *ip_of(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
}

static void deliver_ok(struct pair *p, struct rte_mbuf *m, const uint8_t *payload, uint32_t len)
{
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    cr_assert_eq(zn_dp_stack_input(&p->b, &m, 1, dg, ZN_DP_BURST_MAX, 0), 1, "delivered");
    cr_assert_eq(dg[0].len, len);
    cr_assert_eq(memcmp(dg[0].data, payload, len), 0);
}

static void check_policy(enum zn_dp_udp_tx_cksum policy)
{
    struct pair *p = pair_up(policy);
    static uint8_t payload[1400];
    struct zn_prng prng;
    zn_prng_seed(&prng, 61);
    const uint32_t sizes[] = {0, 1, 17, 64, 1023, 1024, 1400};
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        zn_prng_fill(&prng, payload, sizes[i]);
        struct rte_mbuf *m = send_and_capture(p, payload, sizes[i]);
        struct rte_ipv4_hdr *ip = ip_of(m);
        struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
        cr_assert_eq(rte_raw_cksum(ip, 20), 0xffff, "IP header checksum (rte reference)");
        if (policy == ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO) {
            cr_assert_eq(u->dgram_cksum, 0, "size %u: 0 on the wire without offload", sizes[i]);
        } else {
            cr_assert_neq(u->dgram_cksum, 0, "size %u: a checksum is sent", sizes[i]);
            uint16_t sent = u->dgram_cksum;
            u->dgram_cksum = 0;
            cr_assert_eq(rte_ipv4_udptcp_cksum(ip, u), sent,
                         "size %u: DPDK's reference computes the same checksum", sizes[i]);
            u->dgram_cksum = sent;
        }
        deliver_ok(p, m, payload, sizes[i]);
    }
    /* Whatever we send with, a wrong non-zero checksum is dropped and counted... */
    zn_prng_fill(&prng, payload, 300);
    struct rte_mbuf *m = send_and_capture(p, payload, 300);
    struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip_of(m) + 1);
    u->dgram_cksum = rte_cpu_to_be_16(0x1234);
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    cr_assert_eq(zn_dp_stack_input(&p->b, &m, 1, dg, ZN_DP_BURST_MAX, 0), 0);
    cr_assert_eq(p->b.stats.drop_udp_cksum, 1, "bad non-zero checksum dropped and counted");
    /* ...and 0 ("none") is accepted. */
    m = send_and_capture(p, payload, 300);
    u = (struct rte_udp_hdr *)(ip_of(m) + 1);
    u->dgram_cksum = 0;
    deliver_ok(p, m, payload, 300);
    cr_assert_eq(p->b.stats.rx_udp, sizeof(sizes) / sizeof(sizes[0]) + 1);
    cr_assert_eq(p->b.stats.drop_ip_cksum, 0);
    pair_down(p);
}

Test(cksum, default_policy_sends_zero_without_offload)
{
    check_policy(ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO);
}

Test(cksum, software_policy_sends_a_checksum_that_verifies)
{
    check_policy(ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE);
}

Test(cksum, unknown_policy_is_refused)
{
    cr_assert_eq(dp_env_eal("cksum", NULL, 0), 0, "EAL start");
    uint16_t pa, pb;
    cr_assert_eq(zn_dp_port_ring_pair("zd", 1, &pa, &pb), 0);
    struct rte_mempool *pool = zn_dp_pool_create("zd_pool", 2, 1);
    struct zn_dp_port_info info;
    cr_assert_eq(zn_dp_port_start(pa, 1, pool, &info), 0);
    struct zn_dp_stack *s = calloc(1, sizeof(*s));
    struct zn_dp_transport t;
    struct zn_dp_stack_cfg c = {.port_id = pa,
                                .ip = IP_A,
                                .udp_port = PORT,
                                .pool = pool,
                                .port = &info,
                                .udp_tx_cksum = (enum zn_dp_udp_tx_cksum)7};
    cr_assert_eq(zn_dp_stack_init(s, &c, &t), ZN_EINVAL);
    free(s);
    zn_dp_port_stop(pa);
    zn_dp_eal_fini();
}
