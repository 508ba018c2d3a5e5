/*
 * test_mux_frames.c - the transport mux (node/ports_mux.h) passing send_frames through to DPDK
 * stacks: node A has one net_ring port per peer (B on ring pair 0, C on ring pair 1) joined by
 * the mux, as zincd's multi-port dataplane (node/ports.c) joins its memif ports. Messages of
 * every size class go through A's messenger; they must arrive intact on the right port, through
 * the member's own send_frames, or through the mux's copy path for a member without the op; and
 * every counter must equal the copy path's (the messenger's send_burst) for the same traffic.
 * Every member is wrapped in a spy that counts which op carried how many datagrams.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_stack.h"
#include "dp_env.h"
#include "exchange.h"
#include "node/ports_mux.h"

#define IP_A    0x0a630001u /* 10.99.0.1: the node with the mux */
#define IP_B    0x0a630002u /* peer on ring pair 0 */
#define IP_C    0x0a630003u /* peer on ring pair 1 */
#define IP_X    0x0a630009u /* no route */
#define PORT    7000
#define CLUSTER 5u
#define N_SIZES 6u

static const uint32_t sizes[N_SIZES] = {
    0u, 1u, 64u, ZN_FRAME_SEG_BYTES, ZN_FRAME_SEG_BYTES + 1u, 65536u,
};

/* Counts what each op of the wrapped transport carried. */
struct spy {
    struct zn_dp_transport *inner;
    uint64_t burst_calls, burst_dgrams;
    uint64_t frames_calls, frames_taken;
};

static int spy_recv(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct spy *s = ctx;
    return zn_dp_recv(s->inner, dg, n, now_ns);
}

static int spy_send(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct spy *s = ctx;
    int r = zn_dp_send(s->inner, dg, n, now_ns);
    s->burst_calls++;
    s->burst_dgrams += r > 0 ? (uint64_t)r : 0;
    return r;
}

static int spy_send_frames(void *ctx, const struct zn_dp_frame_out *f, unsigned n, uint64_t now_ns)
{
    struct spy *s = ctx;
    int r = s->inner->ops->send_frames(s->inner->ctx, f, n, now_ns);
    s->frames_calls++;
    s->frames_taken += r > 0 ? (uint64_t)r : 0;
    return r;
}

static void spy_hk(void *ctx, uint64_t now_ns)
{
    struct spy *s = ctx;
    s->inner->ops->housekeeping(s->inner->ctx, now_ns);
}

static void spy_stats(void *ctx, struct zn_dp_transport_stats *out)
{
    struct spy *s = ctx;
    s->inner->ops->stats(s->inner->ctx, out);
}

static const struct zn_dp_transport_ops spy_ops = {"spy",  spy_recv,  spy_send,
                                                   spy_hk, spy_stats, spy_send_frames};
/* The same member without the optional op (like the kernel-UDP listener). */
static const struct zn_dp_transport_ops plain_ops = {"plain", spy_recv,  spy_send,
                                                     spy_hk,  spy_stats, NULL};

struct peer {
    struct zn_dp_port_info port;
    struct zn_dp_stack stack;
    struct zn_dp_transport t;
    struct zn_dp_msgr m;
    uint32_t ip;
    unsigned got[N_SIZES]; /* intact messages received, by size index */
    unsigned bad;          /* wrong sender, length or content */
};

struct env {
    struct rte_mempool *pool;
    struct zn_dp_port_info aport[2];
    struct zn_dp_stack astack[2];
    struct zn_dp_transport at[2];
    struct spy spy[2];
    struct zn_dp_transport st[2];
    struct zn_ports_mux mux;
    struct zn_dp_transport mt;
    struct zn_dp_msgr am;
    struct peer p[2];
};

static struct env *env_up(bool member1_plain)
{
    cr_assert_eq(dp_env_eal("muxf", NULL, 0), 0, "EAL start");
    struct env *e = calloc(1, sizeof(*e));
    cr_assert_not_null(e);
    e->pool = zn_dp_pool_create("zmf_pool", 4, 1);
    cr_assert_not_null(e->pool);
    const uint32_t peer_ip[2] = {IP_B, IP_C};
    struct zn_dp_addr local = {.ip = IP_A, .port = PORT};
    zn_ports_mux_init(&e->mux, &local, &e->mt);
    for (unsigned i = 0; i < 2; i++) {
        uint16_t pa, pb;
        cr_assert_eq(zn_dp_port_ring_pair(i == 0 ? "zmf0" : "zmf1", 1, &pa, &pb), 0);
        cr_assert_eq(zn_dp_port_start(pa, 1, e->pool, &e->aport[i]), 0);
        cr_assert_eq(zn_dp_port_start(pb, 1, e->pool, &e->p[i].port), 0);
        struct zn_dp_stack_cfg ca = {
            .port_id = pa, .ip = IP_A, .udp_port = PORT, .pool = e->pool, .port = &e->aport[i]};
        struct zn_dp_stack_cfg cb = {.port_id = pb,
                                     .ip = peer_ip[i],
                                     .udp_port = PORT,
                                     .pool = e->pool,
                                     .port = &e->p[i].port};
        cr_assert_eq(zn_dp_stack_init(&e->astack[i], &ca, &e->at[i]), 0);
        cr_assert_eq(zn_dp_stack_init(&e->p[i].stack, &cb, &e->p[i].t), 0);
        /* Static ARP both ways: no resolution traffic in the counters. */
        cr_assert_eq(zn_dp_stack_arp_static(&e->astack[i], peer_ip[i], e->p[i].port.mac), 0);
        cr_assert_eq(zn_dp_stack_arp_static(&e->p[i].stack, IP_A, e->aport[i].mac), 0);
        e->p[i].ip = peer_ip[i];
        cr_assert_eq(zn_dp_msgr_init(&e->p[i].m, &e->p[i].t, CLUSTER, (uint8_t)(2 + i), 8, 1u << 20,
                                     5ull * ZN_NS_PER_S),
                     0);
        e->spy[i].inner = &e->at[i];
        e->st[i] =
            (struct zn_dp_transport){.ops = (i == 1 && member1_plain) ? &plain_ops : &spy_ops,
                                     .ctx = &e->spy[i],
                                     .local = local};
        unsigned idx;
        cr_assert_eq(zn_ports_mux_add(&e->mux, &e->st[i], &idx), 0);
        cr_assert_eq(idx, i);
        cr_assert_eq(zn_ports_mux_route(&e->mux, &(struct zn_dp_addr){peer_ip[i], 0}, i), 0);
    }
    cr_assert_not_null(e->mt.ops->send_frames, "the mux offers send_frames");
    cr_assert_eq(zn_dp_msgr_init(&e->am, &e->mt, CLUSTER, 1, 8, 1u << 20, 5ull * ZN_NS_PER_S), 0);
    return e;
}

static void env_down(struct env *e)
{
    zn_dp_msgr_fini(&e->am);
    for (unsigned i = 0; i < 2; i++) {
        zn_dp_msgr_fini(&e->p[i].m);
        zn_dp_stack_fini(&e->astack[i]);
        zn_dp_stack_fini(&e->p[i].stack);
        zn_dp_port_stop(e->aport[i].port_id);
        zn_dp_port_stop(e->p[i].port.port_id);
    }
    free(e);
    zn_dp_eal_fini();
}

static uint32_t seed_of(unsigned peer, unsigned size_idx)
{
    return 1000u * (peer + 1) + size_idx;
}

struct recv_ctx {
    struct peer *p;
    unsigned index;
};

static void on_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct recv_ctx *rc = ctx;
    unsigned k = 0; /* the size index: the sizes are distinct */
    while (k < N_SIZES && sizes[k] != msg->len)
        k++;
    if (from->ip != IP_A || msg->hdr.sender != 1 || k >= N_SIZES || msg->len != sizes[k] ||
        !exchange_pattern_ok(msg->data, msg->len, seed_of(rc->index, k))) {
        rc->p->bad++;
        return;
    }
    rc->p->got[k]++;
}

static unsigned total_got(const struct env *e)
{
    unsigned t = 0;
    for (unsigned i = 0; i < 2; i++) {
        for (unsigned k = 0; k < N_SIZES; k++)
            t += e->p[i].got[k];
        t += e->p[i].bad;
    }
    return t;
}

/* Poll both peers (and A, which receives nothing) until `want` messages in all arrived, a peer
 * refused a frame for another node (a wrong port), or 10 s passed. */
static void drain(struct env *e, unsigned want)
{
    uint64_t deadline = exchange_now_ns() + 10ull * ZN_NS_PER_S;
    while (total_got(e) < want && exchange_now_ns() < deadline &&
           e->p[0].m.stats.drop_cluster + e->p[1].m.stats.drop_cluster == 0) {
        uint64_t now = exchange_now_ns();
        for (unsigned i = 0; i < 2; i++) {
            struct recv_ctx rc = {&e->p[i], i};
            (void)zn_dp_msgr_poll(&e->p[i].m, now, on_msg, &rc);
        }
        (void)zn_dp_msgr_poll(&e->am, now, on_msg, NULL);
    }
}

/* Every size to `peers` (bit 0: B, bit 1: C), `rounds` times, through messenger m; each message
 * is drained before the next (the ring never overflows). Returns the frames sent. */
static uint64_t send_all(struct env *e, struct zn_dp_msgr *m, unsigned peers, unsigned rounds)
{
    static uint8_t buf[65536];
    uint64_t frames = 0;
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned k = 0; k < N_SIZES; k++) {
            for (unsigned i = 0; i < 2; i++) {
                if (!(peers & (1u << i)))
                    continue;
                unsigned before = total_got(e);
                exchange_pattern(buf, sizes[k], seed_of(i, k));
                struct zn_dp_addr dst = {.ip = e->p[i].ip, .port = PORT};
                cr_assert_eq(
                    zn_dp_msgr_send(m, &dst, 1, (uint8_t)(2 + i), buf, sizes[k], exchange_now_ns()),
                    0, "send %u B to peer %u", sizes[k], i);
                frames += zn_frame_seg_count(sizes[k]);
                drain(e, before + 1);
                cr_assert_eq(total_got(e), before + 1, "%u B to peer %u: no arrival within 10 s",
                             sizes[k], i);
            }
        }
    }
    return frames;
}

static void check_arrivals(const struct env *e, unsigned peers, unsigned rounds)
{
    for (unsigned i = 0; i < 2; i++) {
        cr_assert_eq(e->p[i].bad, 0, "peer %u: %u damaged or foreign messages", i, e->p[i].bad);
        cr_assert_eq(e->p[i].m.stats.drop_cluster, 0, "peer %u: frames for another node", i);
        for (unsigned k = 0; k < N_SIZES; k++)
            cr_assert_eq(e->p[i].got[k], (peers & (1u << i)) ? rounds : 0,
                         "peer %u: %u of %u B arrived", i, e->p[i].got[k], sizes[k]);
    }
}

Test(mux_frames, every_size_arrives_intact_on_the_right_port_via_send_frames)
{
    struct env *e = env_up(false);
    uint64_t per_round = 0;
    for (unsigned k = 0; k < N_SIZES; k++)
        per_round += zn_frame_seg_count(sizes[k]);
    /* Two rounds to B alone, two to C alone, one interleaved (B, C, B, C, ...). */
    uint64_t fb = send_all(e, &e->am, 1u, 2);
    uint64_t fc = send_all(e, &e->am, 2u, 2);
    cr_assert_eq(send_all(e, &e->am, 3u, 1), 2 * per_round);
    fb += per_round;
    fc += per_round;
    check_arrivals(e, 3u, 3);
    for (unsigned i = 0; i < 2; i++) {
        uint64_t f = i == 0 ? fb : fc;
        cr_assert_eq(e->spy[i].frames_taken, f,
                     "member %u: %lu frames through send_frames, want %lu", i,
                     (unsigned long)e->spy[i].frames_taken, (unsigned long)f);
        cr_assert_eq(e->spy[i].burst_calls, 0, "member %u: send_burst used", i);
        cr_assert_eq(e->mux.tx_by[i], f);
        cr_assert_eq(e->astack[i].stats.tx_udp, f, "port %u sent its peer's frames only", i);
        cr_assert_eq(e->p[i].stack.stats.rx_udp, f);
    }
    cr_assert_eq(e->mux.tx_copied, 0);
    cr_assert_eq(e->am.stats.tx_frames, fb + fc);
    printf("mux_frames: %lu frames to B, %lu to C through send_frames, all intact\n",
           (unsigned long)fb, (unsigned long)fc);
    env_down(e);
}

Test(mux_frames, member_without_send_frames_takes_the_copy_path)
{
    struct env *e = env_up(true);
    uint64_t per_round = 0;
    for (unsigned k = 0; k < N_SIZES; k++)
        per_round += zn_frame_seg_count(sizes[k]);
    uint64_t f = send_all(e, &e->am, 3u, 2);
    cr_assert_eq(f, 4 * per_round);
    check_arrivals(e, 3u, 2);
    cr_assert_eq(e->spy[0].frames_taken, 2 * per_round);
    cr_assert_eq(e->spy[0].burst_calls, 0);
    cr_assert_eq(e->spy[1].frames_calls, 0, "member 1 has no send_frames");
    cr_assert_eq(e->spy[1].burst_dgrams, 2 * per_round, "member 1 got encoded datagrams");
    cr_assert_eq(e->mux.tx_copied, 2 * per_round);
    cr_assert_eq(e->mux.tx_by[0], 2 * per_round);
    cr_assert_eq(e->mux.tx_by[1], 2 * per_round);
    cr_assert_eq(e->p[1].stack.stats.rx_udp, 2 * per_round);
    printf("mux_frames: %lu frames to C through the copy path, all intact\n",
           (unsigned long)(2 * per_round));
    env_down(e);
}

/* Everything the old path (messenger encodes, mux send_burst) and the new one count. */
struct counters {
    struct zn_dp_msgr_stats am;
    struct zn_dp_transport_stats mux;
    uint64_t tx_by[2], drop_no_route, drop_down, drop_oversize;
    struct zn_dp_stack_stats astack[2], pstack[2];
    struct zn_dp_msgr_stats pm[2];
};

static void snap(struct env *e, const struct zn_dp_msgr *m, struct counters *c)
{
    memset(c, 0, sizeof(*c));
    c->am = m->stats;
    e->mt.ops->stats(e->mt.ctx, &c->mux);
    for (unsigned i = 0; i < 2; i++) {
        c->tx_by[i] = e->mux.tx_by[i];
        c->astack[i] = e->astack[i].stats;
        c->pstack[i] = e->p[i].stack.stats;
        c->pm[i] = e->p[i].m.stats;
    }
    c->drop_no_route = e->mux.drop_no_route;
    c->drop_down = e->mux.drop_down;
    c->drop_oversize = e->mux.drop_oversize;
}

static void diff(const struct counters *a, const struct counters *b, uint64_t *out, size_t n)
{
    const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;
    for (size_t i = 0; i < n; i++)
        out[i] = y[i] - x[i];
}

_Static_assert(sizeof(struct counters) % sizeof(uint64_t) == 0, "counters are all uint64_t");

/* One run of the traffic: every size to B and C, a message without a route, and a message to C
 * while C's member is down. */
static void traffic(struct env *e, struct zn_dp_msgr *m)
{
    static uint8_t buf[4000];
    (void)send_all(e, m, 3u, 1);
    struct zn_dp_addr nowhere = {.ip = IP_X, .port = PORT};
    cr_assert_eq(zn_dp_msgr_send(m, &nowhere, 1, 9, buf, 3000, exchange_now_ns()), 0);
    zn_ports_mux_set_down(&e->mux, 1, true);
    struct zn_dp_addr c = {.ip = IP_C, .port = PORT};
    cr_assert_eq(zn_dp_msgr_send(m, &c, 1, 3, buf, 100, exchange_now_ns()), 0);
    zn_ports_mux_set_down(&e->mux, 1, false);
}

Test(mux_frames, counters_equal_to_the_copy_path)
{
    struct env *e = env_up(false);
    /* The old path: the mux's ops without send_frames, so the messenger encodes and sends
     * bursts, as before the op was passed through. */
    struct zn_dp_transport_ops old_ops = *e->mt.ops;
    old_ops.send_frames = NULL;
    struct zn_dp_transport old_t = {.ops = &old_ops, .ctx = e->mt.ctx, .local = e->mt.local};
    struct zn_dp_msgr *old_m = calloc(1, sizeof(*old_m));
    cr_assert_not_null(old_m);
    cr_assert_eq(zn_dp_msgr_init(old_m, &old_t, CLUSTER, 1, 8, 1u << 20, 5ull * ZN_NS_PER_S), 0);
    e->am.next_msg_id = 1000000; /* distinct from the old messenger's ids at the receivers */

    struct counters c0, c1, new0, c2;
    snap(e, old_m, &c0);
    traffic(e, old_m);
    snap(e, old_m, &c1);
    uint64_t old_spy_frames = e->spy[0].frames_taken + e->spy[1].frames_taken;
    uint64_t old_spy_burst = e->spy[0].burst_dgrams + e->spy[1].burst_dgrams;
    snap(e, &e->am, &new0);
    traffic(e, &e->am);
    snap(e, &e->am, &c2);
    const size_t n = sizeof(struct counters) / sizeof(uint64_t);
    uint64_t d_old[sizeof(struct counters) / sizeof(uint64_t)];
    uint64_t d_new[sizeof(struct counters) / sizeof(uint64_t)];
    diff(&c0, &c1, d_old, n);
    diff(&new0, &c2, d_new, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(d_old[i], d_new[i], "counter word %zu: old path %lu, send_frames %lu", i,
                     (unsigned long)d_old[i], (unsigned long)d_new[i]);
    /* The runs did count something, and took different ops. */
    struct counters *dn = (struct counters *)d_new;
    cr_assert_gt(dn->tx_by[0], 0);
    cr_assert_gt(dn->tx_by[1], 0);
    cr_assert_eq(dn->drop_no_route, zn_frame_seg_count(3000));
    cr_assert_eq(dn->drop_down, 1);
    cr_assert_eq(dn->am.tx_msgs, 2 * N_SIZES + 2);
    cr_assert_eq(old_spy_frames, 0, "the old path used send_burst");
    cr_assert_eq(old_spy_burst, dn->tx_by[0] + dn->tx_by[1]);
    cr_assert_eq(e->spy[0].burst_dgrams + e->spy[1].burst_dgrams, old_spy_burst,
                 "the new path did not use send_burst");
    cr_assert_eq(e->spy[0].frames_taken + e->spy[1].frames_taken, old_spy_burst);
    check_arrivals(e, 3u, 2);
    printf("mux_frames: %zu counters equal on both paths (%lu + %lu frames, %lu unrouted, %lu to "
           "a down member)\n",
           n, (unsigned long)dn->tx_by[0], (unsigned long)dn->tx_by[1],
           (unsigned long)dn->drop_no_route, (unsigned long)dn->drop_down);
    zn_dp_msgr_fini(old_m);
    free(old_m);
    env_down(e);
}
