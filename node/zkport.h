/*
 * zkport.h - the ZooKeeper TCP port of zincd (DESIGN.md section 8, docs/compatibility.md).
 *
 * ZooKeeper clients (zkCli, the C client, kazoo, Curator) connect over TCP and speak jute
 * (shared/zk-protocol.md). The port is a translator at the edge, not a second server: every
 * TCP connection is a native client of this node (proto/session.h, docs/wire-format.md rules
 * R1-R12), so ZooKeeper sessions are zinc sessions (same table, same expiry, same ephemerals,
 * same watches) and every request enters the node's pipeline exactly as a native one:
 *
 *   client --TCP jute frames--> zkport thread --native messages, ring--> lcore (node_on_client)
 *   client <--TCP jute frames-- zkport thread <--native messages, ring-- lcore (node_send_client)
 *
 * The two rings (zkport_ring.h) replace the UDP socket of a native client: the node sees the
 * connection as the client address {ip ZN_ZKPORT_IP (0.0.0.0, never a UDP source), port =
 * connection slot}. The port numbers requests (seq), keeps each connection's replies in request
 * order (ZooKeeper's FIFO), restores the client's xid in each reply, forwards watch events
 * (xid -1) and acknowledges them, answers pings and four-letter words, and retransmits what the
 * node did not answer (the native protocol's R3: a forwarded request can be lost between nodes).
 *
 * Threads: zn_zkport_start runs one thread (epoll over the listener, the connections and an
 * eventfd the lcore rings when it queued a message while the thread slept); it never touches
 * lcore-owned state. The lcore calls zn_zkport_link_poll from its rx stage and
 * zn_zkport_link_send for every message to a ZN_ZKPORT_IP address.
 */
#ifndef ZN_NODE_ZKPORT_H
#define ZN_NODE_ZKPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_clock.h"
#include "mgmt/config.h"
#include "node/status.h"

/* The client address of every ZooKeeper connection as the node sees it (the port is the
 * connection's slot, 1..ZN_ZKPORT_CONNS_MAX). */
#define ZN_ZKPORT_IP 0u

struct zn_zkport;
struct zn_zkport_link;

/* ---- management side ---------------------------------------------------------------------- */

/*
 * Bind [zk] listen_host : [mgmt] zk_port and start the port's thread. version is reported by
 * srvr/stat/mntr. Errors (ZN_EINVAL bad address or allow-list, ZN_EIO bind/listen, ZN_ENOMEM)
 * come with a sentence in err.
 */
int zn_zkport_start(const struct zn_config *cfg, const struct zn_clock *clock, const char *version,
                    struct zn_zkport **out, char *err, size_t err_len);

/* The rings the node must poll (zn_node_set_zkport), valid until zn_zkport_free. */
struct zn_zkport_link *zn_zkport_link(struct zn_zkport *zk);

/* The node's latest status and watch count, for the four-letter words (any thread). */
void zn_zkport_publish(struct zn_zkport *zk, const struct zn_node_status *st, uint64_t watches);

/* Stop the thread and close every connection (clients see a connection loss and move to
 * another node; their sessions live on). The lcore may still be running. */
void zn_zkport_stop(struct zn_zkport *zk);

/* Free everything; only after the lcore stopped (it may still hold the link). */
void zn_zkport_free(struct zn_zkport *zk);

/* ---- lcore side --------------------------------------------------------------------------- */

typedef void (*zn_zkport_msg_fn)(void *ctx, uint16_t conn, const uint8_t *msg, uint32_t len);

/* The lcore that polls the link (call from the polling stage, every poll is fine): the port
 * thread wakes it from its idle sleep when it queues a message (zn_dp_lcore_wake). */
struct zn_dp_lcore;
void zn_zkport_link_attach(struct zn_zkport_link *l, struct zn_dp_lcore *lc);

/* Does the link hold a client message (the polling stage's zn_dp_pending_fn; lcore only)? */
bool zn_zkport_link_pending(const struct zn_zkport_link *l);

/* Hand at most max queued client messages to fn; returns how many. */
unsigned zn_zkport_link_poll(struct zn_zkport_link *l, unsigned max, zn_zkport_msg_fn fn,
                             void *ctx);

/* The IPv4 address (host order) of the TCP peer on connection conn, 0 for an unknown slot: the
 * client's ip identity (ZooKeeper's IPAuthenticationProvider uses the socket's remote address). */
uint32_t zn_zkport_link_peer_ip(const struct zn_zkport_link *l, uint16_t conn);

/* The node's last applied zxid, after the replies and events of those entries were queued
 * (zn_zkport_link_send): ping replies carry it, as ZooKeeper's carry its last processed zxid. */
void zn_zkport_link_set_applied(struct zn_zkport_link *l, uint64_t zxid);

/* Queue a server message (session header + body) for connection conn. A full ring drops it
 * (counted): the native protocol repairs it (the port retransmits, the node resends events). */
void zn_zkport_link_send(struct zn_zkport_link *l, uint16_t conn, const uint8_t *msg, uint32_t len);

#endif /* ZN_NODE_ZKPORT_H */
