/*
 * node/ports_mux.c - several transports behind one (see ports_mux.h).
 */
#include "node/ports_mux.h"

#include <string.h>

#include "common/zn_err.h"

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
    out->tx_dropped += m->drop_no_route + m->drop_down;
}

static const struct zn_dp_transport_ops zn_ports_mux_ops = {
    .name = "mux",
    .recv_burst = mux_recv,
    .send_burst = mux_send,
    .housekeeping = mux_housekeeping,
    .stats = mux_stats,
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
