/*
 * dataplane/zn_dp_port.h - DPDK EAL start-up from configuration, ports by devargs, mempools.
 *
 * One EAL per process (a DPDK rule); one process may own several ports and several stack
 * instances (zn_dp_stack.h) on them. The lab EAL arguments come from shared/dpdk-notes.md:
 * `--no-huge -m <mb> --no-shconf --no-pci --no-telemetry --file-prefix <unique>` with
 * RUNTIME_DIRECTORY set to a folder the process owns (pitfall 1) and floating lcores
 * (`--lcores 0@(0,1)`). After start-up the port count is checked against the devices asked for
 * (memif pitfall 5: a failed vdev leaves DPDK running with zero ports).
 *
 * Context: EAL and port set-up from the main thread before the lcores run.
 */
#ifndef ZN_DP_PORT_H
#define ZN_DP_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/zn_limits.h"

struct rte_mempool;

struct zn_dp_eal_cfg {
    const char *file_prefix; /* unique per process (pitfall 2); required */
    const char *runtime_dir; /* RUNTIME_DIRECTORY; created if missing; required */
    const char *lcores;      /* --lcores value, e.g. "0@(0,1)"; NULL for the EAL default */
    bool lab;                /* --no-huge -m mem_mb --no-shconf --no-pci --no-telemetry */
    unsigned mem_mb;         /* lab memory; 0 means 256 */
    const char *vdevs[ZN_DP_PORTS_MAX]; /* --vdev devargs created at start-up */
    unsigned n_vdevs;
    const char *log_level; /* --log-level value; NULL means "notice" */
};

/*
 * Start the EAL. Returns 0, ZN_EINVAL (bad configuration), ZN_EIO (rte_eal_init failed, or
 * fewer ports than vdevs: the message names the pitfall). Only once per process.
 */
int zn_dp_eal_init(const struct zn_dp_eal_cfg *cfg);
void zn_dp_eal_fini(void);

/* Probe a device by devargs ("net_memif0,role=server,socket=/x.sock,socket-abstract=no", a PCI
 * address, ...) after start-up and return its port id. ZN_EIO when probing fails, ZN_ENOENT
 * when no port appeared. */
int zn_dp_port_probe(const char *devargs, uint16_t *port_id);

/* Two net_ring ports joined back to back with n_queues queue pairs: what a sends on queue q
 * arrives on b's queue q and the reverse (tests, and one-process labs). */
int zn_dp_port_ring_pair(const char *name, uint16_t n_queues, uint16_t *port_a, uint16_t *port_b);

struct zn_dp_port_info {
    uint16_t port_id;
    uint16_t n_queues;
    uint8_t mac[6];
    bool tx_cksum_offload; /* IPv4 + UDP checksum offload on transmit */
    bool rx_cksum_offload; /* IPv4 + UDP checksum verdicts on receive */
    bool link_up;
    uint32_t link_speed_mbps;
};

/*
 * Mempool for n_ports ports with n_queues queues each, sized from the limits header
 * (descriptors, bursts in flight, ARP hold queues). NULL on failure (logged).
 */
struct rte_mempool *zn_dp_pool_create(const char *name, unsigned n_ports, unsigned n_queues);

/*
 * Configure n_queues rx/tx queue pairs (one per worker lcore), turn on checksum offloads the
 * port offers, start it and report what it has. 0, ZN_EINVAL or ZN_EIO.
 */
int zn_dp_port_start(uint16_t port_id, uint16_t n_queues, struct rte_mempool *pool,
                     struct zn_dp_port_info *info);
/* Refresh link state into info (non-blocking). */
void zn_dp_port_link(struct zn_dp_port_info *info);
void zn_dp_port_stop(uint16_t port_id);

#endif /* ZN_DP_PORT_H */
