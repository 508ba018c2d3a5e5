/*
 * node/ports_mux.h - several datagram transports behind one zn_dp_transport
 * (dataplane/zn_dp_transport.h), so that a node's messenger drives them all as one.
 *
 * Send: each datagram goes to the member its destination routes to: a static route (IPv4
 * address, and UDP port unless the route's port is 0) or else the default member (none: the
 * datagram is dropped and counted in drop_no_route). Consecutive datagrams for one member go in
 * one burst; the first member that takes less than its share ends the call, so the count
 * returned is always a prefix of the caller's array (the transport contract: the caller keeps
 * and retries the rest).
 * Frames (the optional send_frames op, always offered): routed and grouped the same way, with
 * the same drop and backpressure accounting; a member with its own send_frames (the DPDK stack)
 * encodes them straight into its packet buffers; for a member without it (the kernel-UDP
 * listener) the mux encodes them into its own buffers and hands them to the member's send_burst
 * (the copy path the messenger would take, counted in tx_copied). A frame that cannot fit a
 * datagram is taken and counted (drop_oversize).
 * Receive: one burst from each member in service in turn, starting one further every call (no member is
 * starved when an earlier one fills the burst). A member's views stay valid until the mux's
 * next receive (a member is received from at most once per call).
 * Housekeeping and statistics: every member's, plus the mux's own drops.
 *
 * Generic: it knows nothing of DPDK or the node (tests drive it with fake members).
 *
 * Context: like its members, one instance on one lcore. No locks.
 */
#ifndef ZN_NODE_PORTS_MUX_H
#define ZN_NODE_PORTS_MUX_H

#include <stdbool.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "dataplane/zn_dp_transport.h"

struct zn_ports_mux_route {
    uint32_t ip;
    uint16_t port; /* 0: any port of ip */
    uint8_t member;
};

struct zn_ports_mux {
    unsigned n_members;
    struct zn_dp_transport *members[ZN_PORTS_MUX_MEMBERS_MAX];
    unsigned n_routes;
    struct zn_ports_mux_route routes[ZN_PORTS_MUX_ROUTES_MAX];
    int default_member; /* -1: none */
    unsigned rx_next;
    bool down[ZN_PORTS_MUX_MEMBERS_MAX]; /* not received from; its datagrams are dropped */
    uint64_t drop_no_route;
    uint64_t drop_down;                       /* datagrams routed to a member that is down */
    uint64_t rx_by[ZN_PORTS_MUX_MEMBERS_MAX]; /* datagrams received through each member */
    uint64_t tx_by[ZN_PORTS_MUX_MEMBERS_MAX]; /* datagrams taken by each member */
    uint64_t drop_oversize;                   /* frames longer than a datagram (send_frames) */
    uint64_t tx_copied; /* frames encoded here for a member without send_frames */
    /* Encode buffers of the copy path of send_frames (members without the op). */
    uint8_t tx_buf[ZN_DP_BURST_MAX][ZN_DGRAM_PAYLOAD_MAX_BYTES];
};

/* Empty mux with local address `local`; fills `t` (ops, ctx, local). */
void zn_ports_mux_init(struct zn_ports_mux *m, const struct zn_dp_addr *local,
                       struct zn_dp_transport *t);
/* Add a member (the mux keeps the pointer); its index in *index. 0 or ZN_EFULL. */
int zn_ports_mux_add(struct zn_ports_mux *m, struct zn_dp_transport *member, unsigned *index);
/* Route datagrams for dst (dst->port 0: any port) to member. 0, ZN_EINVAL (no such member, or
 * dst already routed), ZN_EFULL. */
int zn_ports_mux_route(struct zn_ports_mux *m, const struct zn_dp_addr *dst, unsigned member);
/* Member for destinations without a route. 0 or ZN_EINVAL. */
int zn_ports_mux_default(struct zn_ports_mux *m, unsigned member);
/* Take a member out of service (a port that is not started: a DPDK port must not be polled
 * then) or back. Datagrams routed to a member that is down are taken and counted (drop_down),
 * as a link that is down loses them. */
void zn_ports_mux_set_down(struct zn_ports_mux *m, unsigned member, bool down);
/* The member dst routes to, or -1. */
int zn_ports_mux_lookup(const struct zn_ports_mux *m, const struct zn_dp_addr *dst);

#endif /* ZN_NODE_PORTS_MUX_H */
