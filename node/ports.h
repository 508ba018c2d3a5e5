/*
 * node/ports.h - zincd on several ports: one DPDK port per peer plus an optional kernel-UDP
 * listener for clients, joined into the one transport the node's messenger drives
 * (node/ports_mux.h). Configured by the [peers] section (docs/configuration.md):
 *
 *   ports       = 2=net_memif0,role=server,socket=/lab/1-2.sock,socket-abstract=no | 3=...
 *   memif_dir   = /lab/memif   (shorthand: a memif link to every other member, socket
 *                 <dir>/<a>-<b>.sock for a < b, the lower id is the memif server)
 *   client_port = 7101         (kernel-UDP listener on client_host for clients; 0: none)
 *
 * Every port carries this node's dataplane address ([net] listen_host/listen_port) with its own
 * stack instance (ARP per link); a peer's address ([cluster] members) routes to its port, every
 * other destination (clients) to the kernel listener. Without [peers] ports or memif_dir the
 * node keeps its single transport ([net] transport, [dpdk] port_devargs) unchanged.
 *
 * memif specifics handled here (shared/dpdk-notes.md pitfall 5): a server's socket file left by
 * a killed process is removed before the EAL starts when nothing listens on it (a live one makes
 * the start fail, naming it); a client whose server is not up yet, or went away, is restarted
 * (stop + start: a new connection attempt) from housekeeping every ZN_PORTS_RETRY_NS while its
 * link is down, so nodes may start and restart in any order.
 *
 * Context: node_ports_open/close on the main thread (before/after the lcore runs); the transport
 * on the node's lcore.
 */
#ifndef ZN_NODE_PORTS_H
#define ZN_NODE_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/zn_dp_port.h"
#include "dataplane/zn_dp_stack.h"
#include "dataplane/zn_dp_transport.h"
#include "dataplane/zn_udp.h"
#include "mgmt/config.h"
#include "node/ports_mux.h"

/* A memif client with its link down tries a new connection this often. */
#define ZN_PORTS_RETRY_NS (500ull * 1000 * 1000)

/* One parsed [peers] item. */
struct node_port_spec {
    uint8_t peer;
    bool memif;
    bool memif_client;
    char name[64];                   /* the vdev name (devargs up to the first comma) */
    char socket[ZN_CONFIG_PATH_MAX]; /* memif socket file ("" when abstract or not memif) */
    char devargs[ZN_CONFIG_STR_MAX + ZN_CONFIG_PATH_MAX];
};

/*
 * Parse [peers] into specs (without opening anything): 0 with *n = 0 when the section is not
 * used, or ZN_EINVAL with a message naming the key and value (unknown or self peer id, a peer
 * twice, more than ZN_DP_PORTS_MAX ports, an empty devargs, transport not dpdk, [dpdk]
 * port_devargs also set). Exposed for tests.
 */
int node_ports_parse(const struct zn_config *cfg, uint8_t self, struct node_port_spec *specs,
                     unsigned *n, char *err, size_t err_len);

struct node_ports {
    struct zn_dp_transport tr; /* what the messenger drives: the mux plus link retries */
    struct zn_ports_mux mux;
    struct zn_dp_transport mux_tr;
    unsigned n_ports;
    struct node_port {
        struct node_port_spec spec;
        uint16_t port_id;
        unsigned member;
        bool started;
        struct zn_dp_port_info info;
        struct zn_dp_stack stack;
        struct zn_dp_transport tr;
        uint64_t next_retry_ns;
        uint64_t retries;
        bool was_up;
    } port[ZN_DP_PORTS_MAX];
    struct zn_udp *udp; /* kernel listener for clients, NULL when none */
    struct zn_dp_transport udp_tr;
    uint64_t next_check_ns;
    bool eal_up; /* the EAL was started here (the caller ends it after node_ports_close) */
};

/* true when [peers] asks for several ports (ports or memif_dir set). */
bool node_ports_wanted(const struct zn_config *cfg);

/*
 * Start the EAL (eal: the node's EAL configuration; vdevs are filled here), every peer port
 * with its stack, the kernel listener, and fill *t. peer[id] / peer_known[id]: the members'
 * addresses (routes). 0 or a code with err naming the port or key.
 */
int node_ports_open(struct node_ports **out, const struct zn_config *cfg, uint8_t self,
                    struct zn_dp_eal_cfg *eal, const struct zn_dp_addr *local,
                    const struct zn_dp_addr *peer, const bool *peer_known,
                    struct zn_dp_transport *t, char *err, size_t err_len);
/* Stop the ports and the listener and free (the EAL itself is the caller's to end). NULL ok. */
void node_ports_close(struct node_ports *p);
/* IP-level drops summed over the ports' stacks (status.json drop_ip). */
uint64_t node_ports_drop_ip(const struct node_ports *p);

#endif /* ZN_NODE_PORTS_H */
