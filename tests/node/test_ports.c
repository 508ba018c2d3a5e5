/*
 * test_ports.c - the transport mux (node/ports_mux.h) with fake members, and the [peers]
 * parsing (node/ports.h).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "mgmt/config.h"
#include "node/ports.h"
#include "node/ports_mux.h"
#include "proto/frame.h"

/* A fake member: takes up to `cap` datagrams per send, records destinations, and hands out
 * `pending` datagrams on receive. */
struct fake {
    unsigned cap;
    unsigned sent;
    uint32_t sent_ip[64];
    unsigned pending;
    unsigned recv_calls;
    unsigned hk;
    uint8_t byte;
};

static int fake_recv(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    (void)now_ns;
    struct fake *f = ctx;
    f->recv_calls++;
    unsigned k = f->pending < n ? f->pending : n;
    for (unsigned i = 0; i < k; i++) {
        dg[i].peer = (struct zn_dp_addr){.ip = f->byte, .port = 1};
        dg[i].len = 1;
        dg[i].data = &f->byte;
    }
    f->pending -= k;
    return (int)k;
}

static int fake_send(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    (void)now_ns;
    struct fake *f = ctx;
    unsigned k = n < f->cap ? n : f->cap;
    for (unsigned i = 0; i < k && f->sent < 64; i++)
        f->sent_ip[f->sent++] = dg[i].peer.ip;
    f->cap -= k;
    return (int)k;
}

static void fake_hk(void *ctx, uint64_t now_ns)
{
    (void)now_ns;
    ((struct fake *)ctx)->hk++;
}

static void fake_stats(void *ctx, struct zn_dp_transport_stats *out)
{
    struct fake *f = ctx;
    memset(out, 0, sizeof(*out));
    out->tx_dgrams = f->sent;
}

static const struct zn_dp_transport_ops fake_ops = {"fake",  fake_recv,  fake_send,
                                                    fake_hk, fake_stats, NULL};

struct rig {
    struct zn_ports_mux mux;
    struct zn_dp_transport t;
    struct fake f[3];
    struct zn_dp_transport ft[3];
};

static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof(*r));
    struct zn_dp_addr local = {.ip = 0x0a000001, .port = 7001};
    zn_ports_mux_init(&r->mux, &local, &r->t);
    for (unsigned i = 0; i < 3; i++) {
        r->f[i].cap = 1000;
        r->f[i].byte = (uint8_t)(i + 1);
        r->ft[i] = (struct zn_dp_transport){.ops = &fake_ops, .ctx = &r->f[i]};
        unsigned idx;
        cr_assert_eq(zn_ports_mux_add(&r->mux, &r->ft[i], &idx), 0);
        cr_assert_eq(idx, i);
    }
    /* peers 10.0.0.2 -> member 0, 10.0.0.3:7001 -> member 1, everything else -> member 2 */
    cr_assert_eq(zn_ports_mux_route(&r->mux, &(struct zn_dp_addr){0x0a000002, 0}, 0), 0);
    cr_assert_eq(zn_ports_mux_route(&r->mux, &(struct zn_dp_addr){0x0a000003, 7001}, 1), 0);
    cr_assert_eq(zn_ports_mux_default(&r->mux, 2), 0);
}

Test(mux, routes_by_destination)
{
    struct rig r;
    rig_init(&r);
    uint8_t b = 0;
    struct zn_dp_dgram dg[5] = {
        {.peer = {0x0a000002, 9}, .len = 1, .data = &b},    /* any port of .2 -> 0 */
        {.peer = {0x0a000003, 7001}, .len = 1, .data = &b}, /* .3:7001 -> 1 */
        {.peer = {0x0a000003, 7002}, .len = 1, .data = &b}, /* other port of .3 -> default */
        {.peer = {0x7f000001, 5555}, .len = 1, .data = &b}, /* a client -> default */
        {.peer = {0x0a000002, 7001}, .len = 1, .data = &b},
    };
    cr_assert_eq(zn_dp_send(&r.t, dg, 5, 0), 5);
    cr_assert_eq(r.f[0].sent, 2);
    cr_assert_eq(r.f[1].sent, 1);
    cr_assert_eq(r.f[2].sent, 2);
    cr_assert_eq(r.f[2].sent_ip[1], 0x7f000001);
    cr_assert_eq(zn_ports_mux_route(&r.mux, &(struct zn_dp_addr){0x0a000002, 0}, 1), ZN_EINVAL,
                 "a destination is routed once");
    cr_assert_eq(zn_ports_mux_route(&r.mux, &(struct zn_dp_addr){0x0a000009, 0}, 7), ZN_EINVAL,
                 "no such member");
}

Test(mux, backpressure_returns_a_prefix)
{
    struct rig r;
    rig_init(&r);
    r.f[1].cap = 1; /* member 1 takes one datagram, then refuses */
    uint8_t b = 0;
    struct zn_dp_dgram dg[4] = {
        {.peer = {0x0a000002, 1}, .len = 1, .data = &b},
        {.peer = {0x0a000003, 7001}, .len = 1, .data = &b},
        {.peer = {0x0a000003, 7001}, .len = 1, .data = &b},
        {.peer = {0x0a000002, 1}, .len = 1, .data = &b},
    };
    cr_assert_eq(zn_dp_send(&r.t, dg, 4, 0), 2, "stops at the first refusal");
    cr_assert_eq(r.f[0].sent, 1, "nothing after the refused datagram was sent");
    cr_assert_eq(r.f[1].sent, 1);
}

Test(mux, no_route_and_down_members_are_dropped_and_counted)
{
    struct rig r;
    rig_init(&r);
    r.mux.default_member = -1;
    zn_ports_mux_set_down(&r.mux, 0, true);
    uint8_t b = 0;
    struct zn_dp_dgram dg[3] = {
        {.peer = {0x0a000002, 1}, .len = 1, .data = &b},    /* member 0 is down */
        {.peer = {0x7f000001, 1}, .len = 1, .data = &b},    /* no route */
        {.peer = {0x0a000003, 7001}, .len = 1, .data = &b}, /* member 1 */
    };
    cr_assert_eq(zn_dp_send(&r.t, dg, 3, 0), 3);
    cr_assert_eq(r.mux.drop_down, 1);
    cr_assert_eq(r.mux.drop_no_route, 1);
    cr_assert_eq(r.f[0].sent, 0);
    cr_assert_eq(r.f[1].sent, 1);
    struct zn_dp_transport_stats st;
    r.t.ops->stats(r.t.ctx, &st);
    cr_assert_eq(st.tx_dropped, 2);
    cr_assert_eq(st.tx_dgrams, 1);
    /* a member that is down is not received from */
    r.f[0].pending = 5;
    struct zn_dp_dgram in[8];
    cr_assert_eq(zn_dp_recv(&r.t, in, 8, 0), 0);
    cr_assert_eq(r.f[0].recv_calls, 0);
}

Test(mux, receive_is_fair_when_a_member_fills_the_burst)
{
    struct rig r;
    rig_init(&r);
    r.f[0].pending = 100;
    r.f[2].pending = 3;
    struct zn_dp_dgram in[4];
    unsigned from2 = 0, calls = 0;
    while ((r.f[0].pending || r.f[2].pending) && calls < 100) {
        int n = zn_dp_recv(&r.t, in, 4, 0);
        for (int i = 0; i < n; i++)
            from2 += in[i].data[0] == 3;
        calls++;
        if (r.f[2].pending == 0)
            break;
    }
    cr_assert_eq(from2, 3);
    cr_assert_lt(calls, 5, "member 2 waited %u calls behind a busy member 0", calls);
    r.t.ops->housekeeping(r.t.ctx, 0);
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(r.f[i].hk, 1, "housekeeping reaches every member");
}

/* A fake member with its own send_frames: records destinations and lengths as fake_send does,
 * and counts the frames it took. */
static unsigned fake_frames_taken;

static int fake_send_frames(void *ctx, const struct zn_dp_frame_out *f, unsigned n, uint64_t now_ns)
{
    (void)now_ns;
    struct fake *fk = ctx;
    unsigned k = n < fk->cap ? n : fk->cap;
    for (unsigned i = 0; i < k && fk->sent < 64; i++)
        fk->sent_ip[fk->sent++] = f[i].peer.ip;
    fk->cap -= k;
    fake_frames_taken += k;
    return (int)k;
}

static const struct zn_dp_transport_ops fake_frames_ops = {
    "fake-frames", fake_recv, fake_send, fake_hk, fake_stats, fake_send_frames};

/*
 * The same frames through send_frames and, encoded, through send_burst on two identical rigs
 * (member 0 with its own send_frames on the frames rig, members 1 and 2 without: the mux's copy
 * path): the same count taken (a prefix at the backpressure of member 1), the same datagrams on
 * the same members in the same order, the same drops; an oversize frame is taken and counted.
 */
Test(mux, frames_take_the_same_route_drops_and_backpressure_as_datagrams)
{
    static struct rig ro, rn;
    rig_init(&ro);
    rig_init(&rn);
    rn.ft[0].ops = &fake_frames_ops;
    fake_frames_taken = 0;
    ro.f[1].cap = rn.f[1].cap = 2; /* member 1 takes two, then refuses */
    zn_ports_mux_set_down(&ro.mux, 2, true);
    zn_ports_mux_set_down(&rn.mux, 2, true);
    const struct zn_dp_addr dst[8] = {
        {0x0a000002, 7001}, {0x0a000002, 7001}, {0x7f000001, 9}, /* member 2 is down */
        {0x0a000003, 7001}, {0x0a000002, 7001}, {0x0a000003, 7001},
        {0x0a000003, 7001}, /* member 1 refuses this one */
        {0x0a000002, 7001},
    };
    const uint32_t len[8] = {0, 1, 5, 64, ZN_FRAME_SEG_BYTES, 100, 3, 7};
    static uint8_t payload[ZN_FRAME_SEG_BYTES];
    struct zn_frame_hdr base = {.type = 1, .sender = 1, .receiver = 2, .cluster_id = 5};
    struct zn_frame_hdr h[8];
    struct zn_dp_frame_out f[8];
    static uint8_t enc[8][ZN_DGRAM_PAYLOAD_MAX_BYTES];
    struct zn_dp_dgram dg[8];
    for (unsigned i = 0; i < 8; i++) {
        base.msg_id = i + 1;
        cr_assert_geq(zn_frame_segment(&base, len[i], 0, &h[i]), 0);
        f[i] = (struct zn_dp_frame_out){.peer = dst[i], .hdr = &h[i], .payload = payload};
        int n = zn_frame_encode(&h[i], payload, enc[i], sizeof(enc[i]));
        cr_assert_gt(n, 0);
        dg[i] = (struct zn_dp_dgram){.peer = dst[i], .len = (uint32_t)n, .data = enc[i]};
    }
    cr_assert_not_null(rn.t.ops->send_frames, "the mux offers send_frames");
    int taken_old = zn_dp_send(&ro.t, dg, 8, 0);
    int taken_new = rn.t.ops->send_frames(rn.t.ctx, f, 8, 0);
    cr_assert_eq(taken_old, 6, "a prefix: up to the refused datagram");
    cr_assert_eq(taken_new, taken_old);
    for (unsigned m = 0; m < 3; m++) {
        cr_assert_eq(rn.f[m].sent, ro.f[m].sent, "member %u: %u vs %u", m, rn.f[m].sent,
                     ro.f[m].sent);
        cr_assert_eq(memcmp(rn.f[m].sent_ip, ro.f[m].sent_ip, sizeof(ro.f[m].sent_ip)), 0);
        cr_assert_eq(rn.mux.tx_by[m], ro.mux.tx_by[m]);
    }
    cr_assert_eq(rn.mux.drop_down, 1);
    cr_assert_eq(ro.mux.drop_down, 1);
    cr_assert_eq(rn.mux.drop_no_route, ro.mux.drop_no_route);
    cr_assert_eq(fake_frames_taken, rn.f[0].sent, "member 0 took its frames by send_frames");
    cr_assert_eq(rn.mux.tx_copied, rn.f[1].sent, "member 1 took copies");
    struct zn_dp_transport_stats so, sn;
    ro.t.ops->stats(ro.t.ctx, &so);
    rn.t.ops->stats(rn.t.ctx, &sn);
    cr_assert_eq(memcmp(&so, &sn, sizeof(so)), 0, "the same transport counters");

    /* An oversize frame is taken and counted; the frame after it still goes out. */
    struct zn_frame_hdr big = h[0];
    big.payload_len = ZN_FRAME_SEG_BYTES + 1;
    struct zn_dp_frame_out two[2] = {{.peer = dst[0], .hdr = &big, .payload = payload}, f[1]};
    unsigned before = rn.f[0].sent;
    cr_assert_eq(rn.t.ops->send_frames(rn.t.ctx, two, 2, 0), 2);
    cr_assert_eq(rn.mux.drop_oversize, 1);
    cr_assert_eq(rn.f[0].sent, before + 1);
    rn.t.ops->stats(rn.t.ctx, &sn);
    cr_assert_eq(sn.tx_dropped, so.tx_dropped + 1);
}

static void cfg3(struct zn_config *c)
{
    zn_config_defaults(c);
    char err[256];
    cr_assert_eq(zn_config_set(c, "cluster", "members",
                               "1@10.0.0.1:7001,2@10.0.0.2:7001,3@10.0.0.3:7001", false, err,
                               sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(zn_config_set(c, "net", "transport", "dpdk", false, err, sizeof(err)), 0);
}

Test(peers, memif_dir_makes_a_link_per_pair)
{
    struct zn_config c;
    cfg3(&c);
    snprintf(c.peers.memif_dir, sizeof(c.peers.memif_dir), "/lab/m");
    struct node_port_spec s[ZN_DP_PORTS_MAX];
    unsigned n;
    char err[256] = "";
    cr_assert_eq(node_ports_parse(&c, 2, s, &n, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(s[0].peer, 1);
    cr_assert(s[0].memif && s[0].memif_client, "node 2 is the client toward node 1");
    cr_assert_str_eq(s[0].socket, "/lab/m/1-2.sock");
    cr_assert_eq(s[1].peer, 3);
    cr_assert(s[1].memif && !s[1].memif_client, "node 2 is the server toward node 3");
    cr_assert_str_eq(s[1].socket, "/lab/m/2-3.sock");
    cr_assert_str_neq(s[0].name, s[1].name);
}

Test(peers, explicit_ports_and_refusals)
{
    struct zn_config c;
    cfg3(&c);
    struct node_port_spec s[ZN_DP_PORTS_MAX];
    unsigned n;
    char err[256] = "";
    cr_assert_eq(node_ports_parse(&c, 1, s, &n, err, sizeof(err)), 0);
    cr_assert_eq(n, 0, "no [peers]: the single-port configuration is unchanged");
    snprintf(c.peers.ports, sizeof(c.peers.ports),
             " 2=net_memif0,role=client,socket=/x/a.sock,socket-abstract=no | 3=net_ring0 ");
    cr_assert_eq(node_ports_parse(&c, 1, s, &n, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(s[0].name, "net_memif0");
    cr_assert_str_eq(s[0].socket, "/x/a.sock");
    cr_assert(s[0].memif_client);
    cr_assert_str_eq(s[1].name, "net_ring0");
    cr_assert(!s[1].memif);
    const char *bad[] = {"1=net_memif0", /* self */
                         "4=net_memif0", /* not a member */
                         "2=net_memif0 | 2=net_memif1",
                         "2=net_memif0 | 3=net_memif0",
                         "2",
                         "x=net_memif0",
                         "2= "};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(c.peers.ports, sizeof(c.peers.ports), "%s", bad[i]);
        err[0] = '\0';
        cr_assert_eq(node_ports_parse(&c, 1, s, &n, err, sizeof(err)), ZN_EINVAL, "'%s'", bad[i]);
        cr_assert(strstr(err, "[peers]") != NULL, "'%s': %s", bad[i], err);
    }
    snprintf(c.peers.ports, sizeof(c.peers.ports), "2=net_memif0");
    c.net.transport = ZN_TRANSPORT_KERNEL;
    cr_assert_eq(node_ports_parse(&c, 1, s, &n, err, sizeof(err)), ZN_EINVAL);
    cr_assert(strstr(err, "transport = dpdk") != NULL, "%s", err);
}
