/*
 * node/ports_mux.c - several transports behind one (see ports_mux.h).
 */
#include "node/ports_mux.h"

#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "proto/frame.h"

int zn_ports_mux_lookup(const struct zn_ports_mux *m, const struct zn_dp_addr *dst)
{
    for (unsigned i = 0; i < m->n_routes; i++) {
        const struct zn_ports_mux_route *r = &m->routes[i];
        if (r->ip == dst->ip && (r->port == 0 || r->port == dst->port))
            return r->member;
    }
    return m->default_member;
}

static int mux_recv(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct zn_ports_mux *m = ctx;
    unsigned got = 0;
    for (unsigned k = 0; k < m->n_members && got < n; k++) {
        unsigned i = (m->rx_next + k) % m->n_members;
        if (m->down[i])
            continue;
        int r = zn_dp_recv(m->members[i], dg + got, n - got, now_ns);
        if (r > 0) {
            got += (unsigned)r;
            m->rx_by[i] += (uint64_t)r;
        }
    }
    if (m->n_members)
        m->rx_next = (m->rx_next + 1) % m->n_members;
    return (int)got;
}

static int mux_send(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct zn_ports_mux *m = ctx;
    unsigned taken = 0, i = 0;
    while (i < n) {
        int r = zn_ports_mux_lookup(m, &dg[i].peer);
        if (r < 0) { /* no way there: taken and counted, like an oversize datagram */
            m->drop_no_route++;
            i++;
            taken++;
            continue;
        }
        if (m->down[r]) {
            m->drop_down++;
            i++;
            taken++;
            continue;
        }
        unsigned j = i + 1;
        while (j < n && zn_ports_mux_lookup(m, &dg[j].peer) == r)
            j++;
        int s = zn_dp_send(m->members[r], dg + i, j - i, now_ns);
        unsigned took = s > 0 ? (unsigned)s : 0;
        m->tx_by[r] += took;
        taken += took;
        if (took < j - i)
            break; /* backpressure: the rest stays with the caller, in order */
        i = j;
    }
    return (int)taken;
}

/* Frames for member r without send_frames: encoded here, ZN_DP_BURST_MAX at a time, and sent
 * with its send_burst. Returns how many of the n were taken (a prefix). */
static unsigned mux_send_copied(struct zn_ports_mux *m, unsigned r, const struct zn_dp_frame_out *f,
                                unsigned n, uint64_t now_ns)
{
    unsigned taken = 0;
    while (taken < n) {
        struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
        unsigned k = 0;
        for (; k < ZN_DP_BURST_MAX && taken + k < n; k++) {
            const struct zn_dp_frame_out *fo = &f[taken + k];
            int len = zn_frame_encode(fo->hdr, fo->payload, m->tx_buf[k], sizeof(m->tx_buf[k]));
            ZN_ASSERT(len > 0); /* mux_send_frames checked the length */
            dg[k].peer = fo->peer;
            dg[k].data = m->tx_buf[k];
            dg[k].len = (uint32_t)len;
        }
        int s = zn_dp_send(m->members[r], dg, k, now_ns);
        unsigned took = s > 0 ? (unsigned)s : 0;
        m->tx_copied += took;
        taken += took;
        if (took < k)
            break;
    }
    return taken;
}

static bool frame_fits(const struct zn_dp_frame_out *f)
{
    return (uint64_t)ZN_FRAME_HDR_BYTES + f->hdr->payload_len <= ZN_DGRAM_PAYLOAD_MAX_BYTES;
}

/* mux_send for frames: the same routing, grouping, drops and prefix rule. */
static int mux_send_frames(void *ctx, const struct zn_dp_frame_out *f, unsigned n, uint64_t now_ns)
{
    struct zn_ports_mux *m = ctx;
    unsigned taken = 0, i = 0;
    while (i < n) {
        int r = zn_ports_mux_lookup(m, &f[i].peer);
        if (r < 0 || m->down[r] || !frame_fits(&f[i])) {
            if (r < 0)
                m->drop_no_route++;
            else if (m->down[r])
                m->drop_down++;
            else
                m->drop_oversize++;
            i++;
            taken++;
            continue;
        }
        unsigned j = i + 1;
        while (j < n && zn_ports_mux_lookup(m, &f[j].peer) == r && frame_fits(&f[j]))
            j++;
        struct zn_dp_transport *mt = m->members[r];
        unsigned took;
        if (mt->ops->send_frames != NULL) {
            int s = mt->ops->send_frames(mt->ctx, f + i, j - i, now_ns);
            took = s > 0 ? (unsigned)s : 0;
        } else {
            took = mux_send_copied(m, (unsigned)r, f + i, j - i, now_ns);
        }
        m->tx_by[r] += took;
        taken += took;
        if (took < j - i)
            break; /* backpressure: the rest stays with the caller, in order */
        i = j;
    }
    return (int)taken;
}

static void mux_housekeeping(void *ctx, uint64_t now_ns)
{
    struct zn_ports_mux *m = ctx;
    for (unsigned i = 0; i < m->n_members; i++)
        m->members[i]->ops->housekeeping(m->members[i]->ctx, now_ns);
}

static void mux_stats(void *ctx, struct zn_dp_transport_stats *out)
{
    struct zn_ports_mux *m = ctx;
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < m->n_members; i++) {
        struct zn_dp_transport_stats s;
        m->members[i]->ops->stats(m->members[i]->ctx, &s);
        out->rx_dgrams += s.rx_dgrams;
        out->tx_dgrams += s.tx_dgrams;
        out->rx_bytes += s.rx_bytes;
        out->tx_bytes += s.tx_bytes;
        out->tx_backpressure += s.tx_backpressure;
        out->rx_dropped += s.rx_dropped;
        out->tx_dropped += s.tx_dropped;
        out->rx_kernel_dropped += s.rx_kernel_dropped;
    }
    out->tx_dropped += m->drop_no_route + m->drop_down + m->drop_oversize;
}

static const struct zn_dp_transport_ops zn_ports_mux_ops = {
    .name = "mux",
    .recv_burst = mux_recv,
    .send_burst = mux_send,
    .housekeeping = mux_housekeeping,
    .stats = mux_stats,
    .send_frames = mux_send_frames,
};

void zn_ports_mux_init(struct zn_ports_mux *m, const struct zn_dp_addr *local,
                       struct zn_dp_transport *t)
{
    memset(m, 0, sizeof(*m));
    m->default_member = -1;
    t->ops = &zn_ports_mux_ops;
    t->ctx = m;
    t->local = *local;
}

int zn_ports_mux_add(struct zn_ports_mux *m, struct zn_dp_transport *member, unsigned *index)
{
    if (m->n_members == ZN_PORTS_MUX_MEMBERS_MAX)
        return ZN_EFULL;
    *index = m->n_members;
    m->members[m->n_members++] = member;
    return 0;
}

int zn_ports_mux_route(struct zn_ports_mux *m, const struct zn_dp_addr *dst, unsigned member)
{
    if (member >= m->n_members)
        return ZN_EINVAL;
    for (unsigned i = 0; i < m->n_routes; i++)
        if (m->routes[i].ip == dst->ip && m->routes[i].port == dst->port)
            return ZN_EINVAL;
    if (m->n_routes == ZN_PORTS_MUX_ROUTES_MAX)
        return ZN_EFULL;
    m->routes[m->n_routes++] =
        (struct zn_ports_mux_route){.ip = dst->ip, .port = dst->port, .member = (uint8_t)member};
    return 0;
}

int zn_ports_mux_default(struct zn_ports_mux *m, unsigned member)
{
    if (member >= m->n_members)
        return ZN_EINVAL;
    m->default_member = (int)member;
    return 0;
}

void zn_ports_mux_set_down(struct zn_ports_mux *m, unsigned member, bool down)
{
    if (member < m->n_members)
        m->down[member] = down;
}
