/*
 * Two stack instances in one process joined by a net_ring pair: ARP resolution (dynamic,
 * retries, failure, expiry, static entries), framed exchanges of every size, ICMP echo, and
 * every malformed-input counter (Ethernet, IPv4, UDP and frame level), then the same exchange
 * with one side running as a stage of the poll loop under the lab idle policy.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "dataplane/zn_dp_loop.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_stack.h"
#include "dp_env.h"
#include "exchange.h"

#define IP_A    0x0a630001u /* 10.99.0.1 */
#define IP_B    0x0a630002u /* 10.99.0.2 */
#define PORT    7000
#define CLUSTER 5u

struct side {
    struct zn_dp_port_info port;
    struct zn_dp_stack stack;
    struct zn_dp_transport t;
    struct zn_dp_msgr m;
};

struct env {
    struct rte_mempool *pool;
    struct side a, b;
};

static struct env *env_up(uint64_t arp_retry_ns, uint64_t arp_ttl_ns)
{
    cr_assert_eq(dp_env_eal("ring", NULL, 0), 0, "EAL start");
    struct env *e = calloc(1, sizeof(*e));
    uint16_t pa, pb;
    cr_assert_eq(zn_dp_port_ring_pair("zr", 1, &pa, &pb), 0);
    e->pool = zn_dp_pool_create("zr_pool", 2, 1);
    cr_assert_not_null(e->pool);
    cr_assert_eq(zn_dp_port_start(pa, 1, e->pool, &e->a.port), 0);
    cr_assert_eq(zn_dp_port_start(pb, 1, e->pool, &e->b.port), 0);
    struct side *sides[2] = {&e->a, &e->b};
    uint32_t ips[2] = {IP_A, IP_B};
    for (int i = 0; i < 2; i++) {
        struct zn_dp_stack_cfg cfg = {.port_id = sides[i]->port.port_id,
                                      .ip = ips[i],
                                      .udp_port = PORT,
                                      .pool = e->pool,
                                      .port = &sides[i]->port,
                                      .arp_retry_ns = arp_retry_ns,
                                      .arp_ttl_ns = arp_ttl_ns};
        cr_assert_eq(zn_dp_stack_init(&sides[i]->stack, &cfg, &sides[i]->t), 0);
        cr_assert_eq(zn_dp_msgr_init(&sides[i]->m, &sides[i]->t, CLUSTER, (uint8_t)(i + 1), 8,
                                     1u << 20, 50 * 1000 * 1000),
                     0);
    }
    return e;
}

static void env_down(struct env *e)
{
    zn_dp_msgr_fini(&e->a.m);
    zn_dp_msgr_fini(&e->b.m);
    zn_dp_stack_fini(&e->a.stack);
    zn_dp_stack_fini(&e->b.stack);
    zn_dp_port_stop(e->a.port.port_id);
    zn_dp_port_stop(e->b.port.port_id);
    free(e);
    zn_dp_eal_fini();
}

Test(ring, arp_then_framed_exchange)
{
    struct env *e = env_up(0, 0);
    unsigned ok =
        exchange_pair(&e->a.m, &e->b.m, &e->a.t.local, &e->b.t.local, 3, 20ull * ZN_NS_PER_S);
    cr_assert_eq(ok, 3 * 7, "verified %u", ok);
    cr_assert_geq(e->a.stack.stats.arp_req_out, 1);
    cr_assert_geq(e->b.stack.stats.arp_req_in, 1);
    cr_assert_geq(e->a.stack.stats.arp_reply_in, 1);
    uint8_t mac[6];
    cr_assert(zn_dp_stack_arp_lookup(&e->a.stack, IP_B, mac));
    cr_assert_eq(memcmp(mac, e->b.port.mac, 6), 0);
    cr_assert(zn_dp_stack_arp_lookup(&e->b.stack, IP_A, mac), "B learned A from its request");
    cr_assert_eq(e->b.stack.stats.drop_udp_cksum + e->b.stack.stats.drop_ip_cksum, 0);
    printf("ring: %u verified round trips; A sent %lu frames\n", ok,
           (unsigned long)e->a.stack.stats.tx_frames);
    env_down(e);
}

/* The retries run on a simulated clock; the expiry part runs a real exchange, so the TTL is
 * longer than the exchange's bound (10 s): a loaded machine (ASan, load 20) once took more than
 * a 50 ms TTL for the exchange, the entry expired inside it and the lookup after it failed.
 * Expiry is then driven by a housekeeping call past the TTL, not by waiting. */
#define ARP_TEST_TTL_NS (30ull * ZN_NS_PER_S)

Test(ring, arp_retries_fail_expire_and_static)
{
    struct env *e = env_up(5 * 1000 * 1000, ARP_TEST_TTL_NS);
    uint64_t t0 = exchange_now_ns();
    /* nobody owns 10.99.0.77: 3 requests, then the held frames are dropped */
    struct zn_dp_addr ghost = {.ip = 0x0a63004du, .port = PORT};
    uint8_t payload[100] = {0};
    struct zn_dp_dgram d = {.peer = ghost, .len = sizeof(payload), .data = payload};
    for (unsigned i = 0; i < ZN_ARP_HOLD_MAX + 2; i++)
        cr_assert_eq(zn_dp_send(&e->a.t, &d, 1, t0), 1);
    cr_assert_eq(e->a.stack.stats.drop_arp_hold_full, 2);
    for (uint64_t t = t0; t < t0 + 50 * 1000 * 1000; t += 1000 * 1000) {
        e->a.t.ops->housekeeping(e->a.t.ctx, t);
        struct zn_dp_dgram in[32];
        zn_dp_recv(&e->b.t, in, 32, t); /* B sees the broadcasts, ignores them */
    }
    cr_assert_eq(e->a.stack.stats.arp_req_out, ZN_ARP_RETRIES);
    cr_assert_eq(e->a.stack.stats.drop_arp_unresolved, ZN_ARP_HOLD_MAX);
    cr_assert_eq(e->b.stack.stats.drop_arp_other, ZN_ARP_RETRIES);
    cr_assert_eq(e->a.stack.n_arp, 0);
    /* a learned entry expires after its TTL; a static one does not */
    uint8_t mac[6] = {2, 0, 0, 0, 0, 9};
    cr_assert_eq(zn_dp_stack_arp_static(&e->a.stack, 0x0a630009u, mac), 0);
    uint64_t x0 = exchange_now_ns();
    unsigned ok =
        exchange_pair(&e->a.m, &e->b.m, &e->a.t.local, &e->b.t.local, 1, 10ull * ZN_NS_PER_S);
    uint64_t x_ms = (exchange_now_ns() - x0) / 1000000u;
    cr_assert_eq(ok, 7, "verified %u of 7 in %lu ms", ok, (unsigned long)x_ms);
    cr_assert(zn_dp_stack_arp_lookup(&e->a.stack, IP_B, mac),
              "B resolved after the exchange (%lu ms; expired %lu, requests %lu)",
              (unsigned long)x_ms, (unsigned long)e->a.stack.stats.arp_expired,
              (unsigned long)e->a.stack.stats.arp_req_out);
    cr_assert_eq(e->a.stack.stats.arp_expired, 0, "nothing expires within the TTL");
    printf("ring: expiry exchange verified in %lu ms\n", (unsigned long)x_ms);
    e->a.t.ops->housekeeping(e->a.t.ctx, exchange_now_ns() + ARP_TEST_TTL_NS + ZN_NS_PER_S);
    cr_assert(!zn_dp_stack_arp_lookup(&e->a.stack, IP_B, mac), "expired");
    cr_assert_geq(e->a.stack.stats.arp_expired, 1);
    cr_assert(zn_dp_stack_arp_lookup(&e->a.stack, 0x0a630009u, mac), "static stays");
    env_down(e);
}

/* ---- crafted frames ---------------------------------------------------------------------- */

static struct rte_mbuf *frame_udp(struct env *e, const void *payload, uint16_t len, uint16_t dport)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
    uint16_t total = (uint16_t)(14 + 20 + 8 + len);
    cr_assert_not_null(m);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, total);
    if (p == NULL)
        abort();
    memcpy(p, e->b.port.mac, 6);
    memcpy(p + 6, e->a.port.mac, 6);
    p[12] = 0x08;
    p[13] = 0x00;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
    memset(ip, 0, 20);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + len));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(IP_A);
    ip->dst_addr = rte_cpu_to_be_32(IP_B);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
    udp->src_port = rte_cpu_to_be_16(PORT);
    udp->dst_port = rte_cpu_to_be_16(dport);
    udp->dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len));
    udp->dgram_cksum = 0;
    memcpy(udp + 1, payload, len);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    return m;
}

static struct rte_ipv4_hdr *ip_of(struct rte_mbuf *m)
{
    return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
}

static void reck(struct rte_mbuf *m)
{
    struct rte_ipv4_hdr *ip = ip_of(m);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
}

static void inject(struct env *e, struct rte_mbuf *m)
{
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    zn_dp_stack_input(&e->b.stack, &m, 1, dg, ZN_DP_BURST_MAX, 0);
}

Test(ring, malformed_frames_dropped_and_counted)
{
    struct env *e = env_up(0, 0);
    struct zn_dp_stack_stats *st = &e->b.stack.stats;
    uint8_t body[64] = {7};
    struct rte_mbuf *m;

    m = frame_udp(e, body, sizeof(body), PORT);
    inject(e, m);
    cr_assert_eq(st->rx_udp, 1, "a well-formed datagram is delivered");

    m = frame_udp(e, body, sizeof(body), PORT);
    rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - 10));
    inject(e, m);
    cr_assert_eq(st->drop_short, 1, "short frame");

    m = frame_udp(e, body, sizeof(body), PORT);
    rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - 30));
    inject(e, m);
    cr_assert_eq(st->drop_short, 2, "frame shorter than an IP header");

    m = frame_udp(e, body, sizeof(body), PORT);
    rte_pktmbuf_mtod(m, uint8_t *)[0] = 0x02; /* another MAC */
    inject(e, m);
    cr_assert_eq(st->drop_not_for_us, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    rte_pktmbuf_mtod(m, uint8_t *)[12] = 0x86; /* IPv6 EtherType */
    rte_pktmbuf_mtod(m, uint8_t *)[13] = 0xdd;
    inject(e, m);
    cr_assert_eq(st->drop_ethertype, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->hdr_checksum ^= 0x0101;
    inject(e, m);
    cr_assert_eq(st->drop_ip_cksum, 1, "bad IP checksum");

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->version_ihl = 0x65;
    reck(m);
    inject(e, m);
    cr_assert_eq(st->drop_ip_version, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->version_ihl = 0x44;
    inject(e, m);
    cr_assert_eq(st->drop_ip_ihl, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->total_length = rte_cpu_to_be_16(1400);
    reck(m);
    inject(e, m);
    cr_assert_eq(st->drop_ip_len, 1, "IP length beyond the frame");

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->time_to_live = 0;
    reck(m);
    inject(e, m);
    cr_assert_eq(st->drop_ip_ttl, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
    reck(m);
    inject(e, m);
    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->fragment_offset = rte_cpu_to_be_16(185);
    reck(m);
    inject(e, m);
    cr_assert_eq(st->drop_ip_frag, 2, "first and later fragments");

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->dst_addr = rte_cpu_to_be_32(IP_A);
    reck(m);
    inject(e, m);
    cr_assert_eq(st->drop_ip_not_us, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    ip_of(m)->next_proto_id = 6;
    reck(m);
    inject(e, m);
    cr_assert_eq(st->drop_ip_proto, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    rte_pktmbuf_mtod(m, uint8_t *)[14 + 20 + 8 + 3] ^= 0x10; /* payload bit: UDP sum breaks */
    inject(e, m);
    cr_assert_eq(st->drop_udp_cksum, 1, "bad UDP checksum");

    m = frame_udp(e, body, sizeof(body), PORT);
    struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip_of(m) + 1);
    u->dgram_len = rte_cpu_to_be_16(9);
    inject(e, m);
    cr_assert_eq(st->drop_udp_len, 1);

    m = frame_udp(e, body, sizeof(body), PORT + 1);
    inject(e, m);
    cr_assert_eq(st->drop_udp_port, 1);

    m = frame_udp(e, body, sizeof(body), PORT);
    u = (struct rte_udp_hdr *)(ip_of(m) + 1);
    u->dgram_cksum = 0; /* no checksum: allowed by RFC 768 */
    inject(e, m);
    cr_assert_eq(st->rx_udp, 2);
    zn_dp_stack_stats_print(&e->b.stack, stdout, false);
    env_down(e);
}

struct count_ctx {
    int delivered;
};

static void count_msgs(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    (void)msg;
    ((struct count_ctx *)ctx)->delivered++;
}

Test(ring, malformed_frames_at_message_level)
{
    struct env *e = env_up(0, 0);
    uint8_t mac[6];
    memcpy(mac, e->b.port.mac, 6);
    cr_assert_eq(zn_dp_stack_arp_static(&e->a.stack, IP_B, mac), 0);
    uint8_t good[ZN_FRAME_DGRAM_MAX_BYTES], bad[ZN_FRAME_DGRAM_MAX_BYTES];
    struct zn_frame_hdr base = {.type = ZN_FRAME_PEER, .sender = 1, .cluster_id = CLUSTER};
    struct zn_frame_hdr h;
    zn_frame_segment(&base, 200, 0, &h);
    uint8_t body[3000] = {3};
    int n = zn_frame_encode(&h, body, good, sizeof(good));
    struct zn_dp_dgram d = {.peer = e->b.t.local};
    d.data = bad;
    memcpy(bad, good, (size_t)n);
    bad[1] = 0; /* wrong magic */
    d.len = (uint32_t)n;
    zn_dp_send(&e->a.t, &d, 1, 0);
    memcpy(bad, good, (size_t)n);
    uint32_t big = ZN_MSG_SIZE_MAX_BYTES + 1;
    memcpy(bad + 20, &big, 4); /* oversized length */
    zn_dp_send(&e->a.t, &d, 1, 0);
    d.data = good; /* a frame cut short (valid UDP, truncated frame) */
    d.len = (uint32_t)n - 7;
    zn_dp_send(&e->a.t, &d, 1, 0);
    base.msg_id = 8; /* truncated segment sequence: 2 of 3 segments */
    for (uint32_t i = 0; i < 2; i++) {
        long off = zn_frame_segment(&base, 3000, i, &h);
        d.len = (uint32_t)zn_frame_encode(&h, body + off, bad, sizeof(bad));
        d.data = bad;
        zn_dp_send(&e->a.t, &d, 1, 0);
    }
    struct count_ctx c = {0};
    uint64_t deadline = exchange_now_ns() + ZN_NS_PER_S;
    while (e->b.m.stats.rx_frames < 5 && exchange_now_ns() < deadline)
        zn_dp_msgr_poll(&e->b.m, exchange_now_ns(), count_msgs, &c);
    cr_assert_eq(e->b.m.stats.rx_frames, 5);
    cr_assert_eq(c.delivered, 0);
    cr_assert_eq(e->b.m.stats.drop_malformed, 2, "wrong magic, cut short");
    cr_assert_eq(e->b.m.stats.drop_oversize, 1);
    zn_dp_msgr_housekeeping(&e->b.m, exchange_now_ns() + ZN_NS_PER_S);
    cr_assert_eq(e->b.m.reasm.stats.timeouts, 1, "truncated sequence expired");
    env_down(e);
}

Test(ring, icmp_echo_answered)
{
    struct env *e = env_up(0, 0);
    struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
    const uint16_t icmp_len = 8 + 32;
    cr_assert_not_null(m);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 14 + 20 + icmp_len);
    if (p == NULL)
        abort();
    memcpy(p, e->b.port.mac, 6);
    memcpy(p + 6, e->a.port.mac, 6);
    p[12] = 0x08;
    p[13] = 0;
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + 14);
    memset(ip, 0, 20);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(20 + icmp_len);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = rte_cpu_to_be_32(IP_A);
    ip->dst_addr = rte_cpu_to_be_32(IP_B);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t *icmp = (uint8_t *)(ip + 1);
    memset(icmp, 0, icmp_len);
    icmp[0] = 8; /* echo request */
    icmp[4] = 0x12;
    icmp[6] = 0x00;
    icmp[7] = 0x01;
    for (int i = 8; i < icmp_len; i++)
        icmp[i] = (uint8_t)i;
    uint16_t ck = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
    memcpy(icmp + 2, &ck, 2);
    cr_assert_eq(rte_eth_tx_burst(e->a.port.port_id, 0, &m, 1), 1);
    struct zn_dp_dgram dg[4];
    cr_assert_eq(zn_dp_recv(&e->b.t, dg, 4, 0), 0, "no datagram, but a reply was sent");
    cr_assert_eq(e->b.stack.stats.icmp_echo, 1);
    struct rte_mbuf *r = NULL;
    cr_assert_eq(rte_eth_rx_burst(e->a.port.port_id, 0, &r, 1), 1);
    uint8_t *q = rte_pktmbuf_mtod(r, uint8_t *);
    struct rte_ipv4_hdr *rip = (struct rte_ipv4_hdr *)(q + 14);
    cr_assert_eq(memcmp(q, e->a.port.mac, 6), 0);
    cr_assert_eq(rte_be_to_cpu_32(rip->src_addr), IP_B);
    cr_assert_eq(rte_be_to_cpu_32(rip->dst_addr), IP_A);
    cr_assert_eq(rte_raw_cksum(rip, 20), 0xffff, "IP checksum valid");
    uint8_t *ricmp = (uint8_t *)(rip + 1);
    cr_assert_eq(ricmp[0], 0, "echo reply");
    cr_assert_eq(rte_raw_cksum(ricmp, icmp_len), 0xffff, "ICMP checksum valid");
    cr_assert_eq(memcmp(ricmp + 4, icmp + 4, icmp_len - 4), 0, "id, sequence, data echoed");
    rte_pktmbuf_free(r);
    env_down(e);
}

/* ---- B as a poll-loop stage (lab idle policy) --------------------------------------------- */

struct echo_stage {
    struct zn_dp_msgr *m;
    uint64_t now;
};

static void stage_echo(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct echo_stage *es = ctx;
    zn_dp_msgr_send(es->m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, es->now);
}

static unsigned echo_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct echo_stage *es = ctx;
    es->now = now_ns;
    return (unsigned)zn_dp_msgr_poll(es->m, now_ns, stage_echo, es);
}

static void echo_housekeeping(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct echo_stage *es = ctx;
    zn_dp_msgr_housekeeping(es->m, now_ns);
}

Test(ring, exchange_with_peer_in_poll_loop)
{
    struct env *e = env_up(0, 0);
    static struct zn_clock clock;
    static struct zn_clock_system cs;
    zn_clock_system_init(&clock, &cs);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &clock, true), 0);
    struct echo_stage es = {.m = &e->b.m};
    cr_assert_eq(zn_dp_sched_add_stage(s, "echo", echo_poll, echo_housekeeping, &es), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    unsigned ok = exchange_with_echo(&e->a.m, &e->b.t.local, 3, 20ull * ZN_NS_PER_S);
    /* let the peer go idle, then one more exchange wakes it */
    /* the peer falls asleep (bounded wait: the machine may be busy); the next exchange wakes it */
    for (int i = 0; i < 500 && atomic_load(&s->lcores[0].published_sleeps) == 0; i++) {
        struct timespec ts = {0, 4 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ok += exchange_with_echo(&e->a.m, &e->b.t.local, 1, 20ull * ZN_NS_PER_S);
    zn_dp_sched_stop(s);
    cr_assert_eq(ok, 4 * 7, "verified %u", ok);
    cr_assert_gt(s->lcores[0].stats.sleeps, 0, "the peer slept while idle");
    printf("ring+loop: %u round trips; peer lcore %lu iterations, %lu yields, %lu sleeps\n", ok,
           (unsigned long)s->lcores[0].stats.iterations, (unsigned long)s->lcores[0].stats.yields,
           (unsigned long)s->lcores[0].stats.sleeps);
    zn_dp_sched_fini(s);
    free(s);
    env_down(e);
}

/* ---- two queue pairs, one per worker lcore, launched on EAL lcores ------------------------ */

Test(ring, two_queues_on_two_eal_lcores)
{
    cr_assert_eq(dp_env_eal_lcores("ringq", NULL, 0, "0@(0,1),1@(0,1),2@(0,1)"), 0);
    uint16_t pa, pb;
    cr_assert_eq(zn_dp_port_ring_pair("zq", 2, &pa, &pb), 0);
    struct rte_mempool *pool = zn_dp_pool_create("zq_pool", 2, 2);
    cr_assert_not_null(pool);
    struct zn_dp_port_info ia, ib;
    cr_assert_eq(zn_dp_port_start(pa, 2, pool, &ia), 0);
    cr_assert_eq(zn_dp_port_start(pb, 2, pool, &ib), 0);
    struct side *a = calloc(2, sizeof(*a)), *b = calloc(2, sizeof(*b));
    for (uint16_t q = 0; q < 2; q++) {
        struct zn_dp_stack_cfg ca = {.port_id = pa,
                                     .queue = q,
                                     .ip = IP_A,
                                     .udp_port = (uint16_t)(PORT + q),
                                     .pool = pool,
                                     .port = &ia};
        struct zn_dp_stack_cfg cb = {.port_id = pb,
                                     .queue = q,
                                     .ip = IP_B,
                                     .udp_port = (uint16_t)(PORT + q),
                                     .pool = pool,
                                     .port = &ib};
        cr_assert_eq(zn_dp_stack_init(&a[q].stack, &ca, &a[q].t), 0);
        cr_assert_eq(zn_dp_stack_init(&b[q].stack, &cb, &b[q].t), 0);
        cr_assert_eq(zn_dp_msgr_init(&a[q].m, &a[q].t, CLUSTER, 1, 8, 1u << 20, 50000000), 0);
        cr_assert_eq(zn_dp_msgr_init(&b[q].m, &b[q].t, CLUSTER, 2, 8, 1u << 20, 50000000), 0);
    }
    static struct zn_clock clock;
    static struct zn_clock_system cs;
    zn_clock_system_init(&clock, &cs);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    cr_assert_eq(zn_dp_sched_init(s, 3, &idle, 64, &clock, true), 0);
    struct echo_stage es[2] = {{.m = &b[0].m}, {.m = &b[1].m}};
    cr_assert_eq(zn_dp_sched_add_stage(s, "echo0", echo_poll, echo_housekeeping, &es[0]), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "echo1", echo_poll, echo_housekeeping, &es[1]), 0);
    cr_assert_eq(zn_dp_sched_place(s, "echo0=1,echo1=2"), 0);
    cr_assert_eq(zn_dp_sched_start_eal(s), 0);
    unsigned ok = 0;
    for (int round = 0; round < 2; round++) {
        for (uint16_t q = 0; q < 2; q++)
            ok += exchange_with_echo(&a[q].m, &b[q].t.local, 1, 20ull * ZN_NS_PER_S);
    }
    zn_dp_sched_stop(s);
    cr_assert_eq(ok, 4 * 7, "verified %u", ok);
    for (uint16_t q = 0; q < 2; q++) {
        cr_assert_gt(b[q].stack.stats.rx_udp, 0, "queue %u carried traffic", q);
        cr_assert_eq(b[q].m.stats.rx_msgs, 2 * 7, "queue %u echoed its own messages", q);
    }
    cr_assert_gt(s->lcores[1].stats.work, 0);
    cr_assert_gt(s->lcores[2].stats.work, 0);
    printf("ring 2 queues: %u round trips; lcore1 %lu iterations, lcore2 %lu\n", ok,
           (unsigned long)s->lcores[1].stats.iterations,
           (unsigned long)s->lcores[2].stats.iterations);
    zn_dp_sched_fini(s);
    free(s);
    for (uint16_t q = 0; q < 2; q++) {
        zn_dp_msgr_fini(&a[q].m);
        zn_dp_msgr_fini(&b[q].m);
        zn_dp_stack_fini(&a[q].stack);
        zn_dp_stack_fini(&b[q].stack);
    }
    free(a);
    free(b);
    zn_dp_port_stop(pa);
    zn_dp_port_stop(pb);
    zn_dp_eal_fini();
}

/* ---- RSS-like ARP: the reply reaches queue 0, the sender was queue 1 ---------------------- */

Test(ring, arp_directory_shares_queue0_learning)
{
    cr_assert_eq(dp_env_eal("ringd", NULL, 0), 0);
    uint16_t pa, pb;
    cr_assert_eq(zn_dp_port_ring_pair("zd", 2, &pa, &pb), 0);
    struct rte_mempool *pool = zn_dp_pool_create("zd_pool", 2, 2);
    struct zn_dp_port_info ia, ib;
    cr_assert_eq(zn_dp_port_start(pa, 2, pool, &ia), 0);
    cr_assert_eq(zn_dp_port_start(pb, 2, pool, &ib), 0);
    struct zn_dp_arp_dir *dir = calloc(1, sizeof(*dir));
    zn_dp_arp_dir_init(dir);
    struct side *a = calloc(2, sizeof(*a));
    for (uint16_t q = 0; q < 2; q++) {
        struct zn_dp_stack_cfg ca = {.port_id = pa,
                                     .queue = q,
                                     .ip = IP_A,
                                     .udp_port = (uint16_t)(PORT + q),
                                     .pool = pool,
                                     .port = &ia,
                                     .arp_dir = dir};
        cr_assert_eq(zn_dp_stack_init(&a[q].stack, &ca, &a[q].t), 0);
    }
    /* queue 1 sends: the frame is held and an ARP request leaves on queue 1 */
    uint8_t payload[32] = {1};
    struct zn_dp_dgram d = {.peer = {.ip = IP_B, .port = PORT}, .len = 32, .data = payload};
    cr_assert_eq(zn_dp_send(&a[1].t, &d, 1, 1000), 1);
    cr_assert_eq(a[1].stack.stats.arp_req_out, 1);
    struct rte_mbuf *got[4];
    cr_assert_eq(rte_eth_rx_burst(pb, 1, got, 4), 1, "the ARP request on queue 1");
    rte_pktmbuf_free(got[0]);
    /* the reply arrives on queue 0 (as RSS would deliver a non-IP frame) */
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 60);
    if (p == NULL)
        abort();
    memset(p, 0, 60);
    memcpy(p, ia.mac, 6);
    memcpy(p + 6, ib.mac, 6);
    p[12] = 0x08;
    p[13] = 0x06;
    struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + 14);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    memcpy(arp->arp_data.arp_sha.addr_bytes, ib.mac, 6);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(IP_B);
    memcpy(arp->arp_data.arp_tha.addr_bytes, ia.mac, 6);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(IP_A);
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    zn_dp_stack_input(&a[0].stack, &m, 1, dg, ZN_DP_BURST_MAX, 2000);
    cr_assert_eq(a[0].stack.stats.arp_reply_in, 1, "queue 0 learned");
    /* queue 1's housekeeping finds it in the directory and releases the held frame */
    a[1].t.ops->housekeeping(a[1].t.ctx, 3000);
    cr_assert_eq(a[1].stack.stats.arp_dir_hits, 1);
    cr_assert_eq(rte_eth_rx_burst(pb, 1, got, 4), 1, "the held datagram left on queue 1");
    cr_assert_eq(memcmp(rte_pktmbuf_mtod(got[0], uint8_t *), ib.mac, 6), 0, "to B's MAC");
    rte_pktmbuf_free(got[0]);
    uint8_t mac[6];
    cr_assert(zn_dp_stack_arp_lookup(&a[1].stack, IP_B, mac));
    /* a static entry set on queue 0 serves queue 1 at once, without any ARP request */
    uint8_t smac[6] = {2, 0, 0, 0, 0, 0x42};
    cr_assert_eq(zn_dp_stack_arp_static(&a[0].stack, 0x0a630042u, smac), 0);
    d.peer.ip = 0x0a630042u;
    cr_assert_eq(zn_dp_send(&a[1].t, &d, 1, 4000), 1);
    cr_assert_eq(a[1].stack.stats.arp_dir_hits, 2);
    cr_assert_eq(a[1].stack.stats.arp_req_out, 1, "no new request");
    cr_assert_eq(rte_eth_rx_burst(pb, 1, got, 4), 1);
    cr_assert_eq(memcmp(rte_pktmbuf_mtod(got[0], uint8_t *), smac, 6), 0);
    rte_pktmbuf_free(got[0]);
    for (uint16_t q = 0; q < 2; q++)
        zn_dp_stack_fini(&a[q].stack);
    free(a);
    free(dir);
    zn_dp_port_stop(pa);
    zn_dp_port_stop(pb);
    zn_dp_eal_fini();
}

/* Queue 0 stamps what it learns with its own clock read, which may be a little later than the
 * `now` of queue 1 reading the directory (two lcores). Before the fix the difference wrapped:
 * the fresh entry read as expired (no directory hit, an ARP request of its own), and an entry
 * taken from the directory expired at queue 1's next housekeeping. */
Test(ring, arp_directory_stamp_ahead_of_reader)
{
    cr_assert_eq(dp_env_eal("ringe", NULL, 0), 0);
    uint16_t pa, pb;
    cr_assert_eq(zn_dp_port_ring_pair("ze", 2, &pa, &pb), 0);
    struct rte_mempool *pool = zn_dp_pool_create("ze_pool", 2, 2);
    struct zn_dp_port_info ia, ib;
    cr_assert_eq(zn_dp_port_start(pa, 2, pool, &ia), 0);
    cr_assert_eq(zn_dp_port_start(pb, 2, pool, &ib), 0);
    struct zn_dp_arp_dir *dir = calloc(1, sizeof(*dir));
    zn_dp_arp_dir_init(dir);
    struct side *a = calloc(2, sizeof(*a));
    for (uint16_t q = 0; q < 2; q++) {
        struct zn_dp_stack_cfg ca = {.port_id = pa,
                                     .queue = q,
                                     .ip = IP_A,
                                     .udp_port = (uint16_t)(PORT + q),
                                     .pool = pool,
                                     .port = &ia,
                                     .arp_dir = dir,
                                     .arp_ttl_ns = 1000 * 1000};
        cr_assert_eq(zn_dp_stack_init(&a[q].stack, &ca, &a[q].t), 0);
    }
    /* queue 0 learns B at t = 5000 (B's request for A) */
    struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, 60);
    if (p == NULL)
        abort();
    memset(p, 0, 60);
    memset(p, 0xff, 6);
    memcpy(p + 6, ib.mac, 6);
    p[12] = 0x08;
    p[13] = 0x06;
    struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + 14);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    memcpy(arp->arp_data.arp_sha.addr_bytes, ib.mac, 6);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(IP_B);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(IP_A);
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    zn_dp_stack_input(&a[0].stack, &m, 1, dg, ZN_DP_BURST_MAX, 5000);
    a[0].t.ops->housekeeping(a[0].t.ctx, 5000); /* flushes the ARP reply */
    struct rte_mbuf *got[4];
    cr_assert_eq(rte_eth_rx_burst(pb, 0, got, 4), 1, "queue 0 answered B");
    rte_pktmbuf_free(got[0]);
    /* queue 1, whose clock read is 1 us older, sends to B: a directory hit, no request */
    uint8_t payload[32] = {1};
    struct zn_dp_dgram d = {.peer = {.ip = IP_B, .port = PORT}, .len = 32, .data = payload};
    cr_assert_eq(zn_dp_send(&a[1].t, &d, 1, 4000), 1);
    cr_assert_eq(a[1].stack.stats.arp_dir_hits, 1, "fresh entry found (hits %lu, requests %lu)",
                 (unsigned long)a[1].stack.stats.arp_dir_hits,
                 (unsigned long)a[1].stack.stats.arp_req_out);
    cr_assert_eq(a[1].stack.stats.arp_req_out, 0);
    a[1].t.ops->housekeeping(a[1].t.ctx, 4500);
    uint8_t mac[6];
    cr_assert(zn_dp_stack_arp_lookup(&a[1].stack, IP_B, mac), "not expired at once (expired %lu)",
              (unsigned long)a[1].stack.stats.arp_expired);
    cr_assert_eq(memcmp(mac, ib.mac, 6), 0);
    cr_assert_eq(rte_eth_rx_burst(pb, 1, got, 4), 1, "the datagram left on queue 1");
    rte_pktmbuf_free(got[0]);
    /* and it does expire one TTL after the stamp */
    a[1].t.ops->housekeeping(a[1].t.ctx, 5000 + 1000 * 1000 + 1);
    cr_assert(!zn_dp_stack_arp_lookup(&a[1].stack, IP_B, mac), "expired after its TTL");
    cr_assert_eq(a[1].stack.stats.arp_expired, 1);
    for (uint16_t q = 0; q < 2; q++)
        zn_dp_stack_fini(&a[q].stack);
    free(a);
    free(dir);
    zn_dp_port_stop(pa);
    zn_dp_port_stop(pb);
    zn_dp_eal_fini();
}

Test(ring, udp_checksum_off_sends_zero_and_is_accepted)
{
    struct env *e = env_up(0, 0);
    e->a.stack.cfg.udp_tx_cksum_off = true;
    uint8_t mac[6];
    memcpy(mac, e->b.port.mac, 6);
    cr_assert_eq(zn_dp_stack_arp_static(&e->a.stack, IP_B, mac), 0);
    uint8_t payload[200];
    memset(payload, 0x5a, sizeof(payload));
    struct zn_dp_dgram d = {.peer = e->b.t.local, .len = sizeof(payload), .data = payload};
    cr_assert_eq(zn_dp_send(&e->a.t, &d, 1, 0), 1);
    struct rte_mbuf *m = NULL;
    cr_assert_eq(rte_eth_rx_burst(e->b.port.port_id, 0, &m, 1), 1);
    struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip_of(m) + 1);
    cr_assert_eq(u->dgram_cksum, 0, "no UDP checksum on the wire");
    cr_assert_eq(rte_raw_cksum(ip_of(m), 20), 0xffff, "the IP checksum is still there");
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    cr_assert_eq(zn_dp_stack_input(&e->b.stack, &m, 1, dg, ZN_DP_BURST_MAX, 0), 1);
    cr_assert_eq(dg[0].len, sizeof(payload));
    cr_assert_eq(memcmp(dg[0].data, payload, sizeof(payload)), 0);
    env_down(e);
}
