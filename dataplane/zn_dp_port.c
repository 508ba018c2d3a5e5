/*
 * dataplane/zn_dp_port.c - EAL start-up, ports and mempools (see zn_dp_port.h).
 */
#include "dataplane/zn_dp_port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"

#define EAL_ARGS_MAX (24 + 2 * ZN_DP_PORTS_MAX)

int zn_dp_eal_init(const struct zn_dp_eal_cfg *cfg)
{
    if (cfg == NULL || cfg->file_prefix == NULL || cfg->runtime_dir == NULL ||
        cfg->n_vdevs > ZN_DP_PORTS_MAX)
        return ZN_EINVAL;
    /* Pitfall 1: as root DPDK ignores XDG_RUNTIME_DIR; the folder must exist. */
    if (mkdir(cfg->runtime_dir, 0700) != 0 && errno != EEXIST) {
        ZN_ERROR("dp", "runtime dir %s: %s", cfg->runtime_dir, strerror(errno));
        return ZN_EIO;
    }
    if (setenv("RUNTIME_DIRECTORY", cfg->runtime_dir, 1) != 0)
        return ZN_EIO;
    char *argv[EAL_ARGS_MAX];
    char mem[16];
    char prefix[128];
    char loglevel[64];
    int argc = 0;
    argv[argc++] = "zinc";
    snprintf(prefix, sizeof(prefix), "--file-prefix=%s", cfg->file_prefix);
    argv[argc++] = prefix;
    if (cfg->lab) {
        snprintf(mem, sizeof(mem), "%u", cfg->mem_mb ? cfg->mem_mb : 256u);
        argv[argc++] = "--no-huge";
        argv[argc++] = "-m";
        argv[argc++] = mem;
        argv[argc++] = "--no-shconf";
        argv[argc++] = "--no-pci";
        argv[argc++] = "--no-telemetry";
    }
    if (cfg->lcores != NULL) {
        argv[argc++] = "--lcores";
        argv[argc++] = (char *)(uintptr_t)cfg->lcores;
    }
    snprintf(loglevel, sizeof(loglevel), "--log-level=%s",
             cfg->log_level ? cfg->log_level : "notice");
    argv[argc++] = loglevel;
    for (unsigned i = 0; i < cfg->n_vdevs; i++) {
        argv[argc++] = "--vdev";
        argv[argc++] = (char *)(uintptr_t)cfg->vdevs[i];
    }
    ZN_ASSERT(argc <= (int)EAL_ARGS_MAX);
    int rc = rte_eal_init(argc, argv);
    if (rc < 0) {
        ZN_ERROR("dp", "rte_eal_init failed: %s (check RUNTIME_DIRECTORY %s and the arguments)",
                 rte_strerror(rte_errno), cfg->runtime_dir);
        return ZN_EIO;
    }
    unsigned ports = rte_eth_dev_count_avail();
    if (ports < (unsigned)cfg->n_vdevs) {
        /* Pitfall 5: a vdev that failed (memif socket in use) leaves zero ports, no error. */
        ZN_ERROR("dp", "EAL started with %u ports for %u devices (memif socket in use?)", ports,
                 cfg->n_vdevs);
        rte_eal_cleanup();
        return ZN_EIO;
    }
    ZN_INFO("dp", "EAL up: prefix %s, %u lcores, %u ports", cfg->file_prefix, rte_lcore_count(),
            ports);
    return 0;
}

void zn_dp_eal_fini(void)
{
    rte_eal_cleanup();
}

int zn_dp_port_probe(const char *devargs, uint16_t *port_id)
{
    char name[RTE_ETH_NAME_MAX_LEN];
    size_t n = strcspn(devargs, ",");
    if (n == 0 || n >= sizeof(name))
        return ZN_EINVAL;
    memcpy(name, devargs, n);
    name[n] = '\0';
    int rc = rte_dev_probe(devargs);
    if (rc < 0) {
        ZN_ERROR("dp", "probe %s: %s", devargs, rte_strerror(-rc));
        return ZN_EIO;
    }
    if (rte_eth_dev_get_port_by_name(name, port_id) != 0) {
        ZN_ERROR("dp", "probe %s: no port named %s appeared", devargs, name);
        return ZN_ENOENT;
    }
    return 0;
}

int zn_dp_port_ring_pair(const char *name, uint16_t n_queues, uint16_t *port_a, uint16_t *port_b)
{
    if (n_queues == 0 || n_queues > ZN_DP_LCORES_MAX)
        return ZN_EINVAL;
    struct rte_ring *ab[ZN_DP_LCORES_MAX], *ba[ZN_DP_LCORES_MAX];
    for (uint16_t q = 0; q < n_queues; q++) {
        char n1[RTE_RING_NAMESIZE], n2[RTE_RING_NAMESIZE];
        snprintf(n1, sizeof(n1), "%s_ab%u", name, q);
        snprintf(n2, sizeof(n2), "%s_ba%u", name, q);
        ab[q] = rte_ring_create(n1, 1024, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
        ba[q] = rte_ring_create(n2, 1024, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (ab[q] == NULL || ba[q] == NULL)
            return ZN_ENOMEM;
    }
    char pa[64], pb[64];
    snprintf(pa, sizeof(pa), "%s_a", name);
    snprintf(pb, sizeof(pb), "%s_b", name);
    /* Queue q of a transmits into ring ab[q], which is queue q of b's receive side. */
    int a = rte_eth_from_rings(pa, ba, n_queues, ab, n_queues, rte_socket_id());
    int b = rte_eth_from_rings(pb, ab, n_queues, ba, n_queues, rte_socket_id());
    if (a < 0 || b < 0)
        return ZN_EIO;
    *port_a = (uint16_t)a;
    *port_b = (uint16_t)b;
    return 0;
}

struct rte_mempool *zn_dp_pool_create(const char *name, unsigned n_ports, unsigned n_queues)
{
    unsigned n = n_ports * n_queues * ZN_DP_MBUFS_PER_QUEUE;
    struct rte_mempool *mp = rte_pktmbuf_pool_create(
        name, n, ZN_DP_MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (mp == NULL)
        ZN_ERROR("dp", "mempool %s (%u mbufs): %s", name, n, rte_strerror(rte_errno));
    return mp;
}

int zn_dp_port_start(uint16_t port_id, uint16_t n_queues, struct rte_mempool *pool,
                     struct zn_dp_port_info *info)
{
    if (!rte_eth_dev_is_valid_port(port_id) || n_queues == 0 || pool == NULL)
        return ZN_EINVAL;
    memset(info, 0, sizeof(*info));
    struct rte_eth_dev_info dev;
    if (rte_eth_dev_info_get(port_id, &dev) != 0)
        return ZN_EIO;
    if (n_queues > dev.max_rx_queues || n_queues > dev.max_tx_queues) {
        ZN_ERROR("dp", "port %u: %u queues asked, device has %u/%u", port_id, n_queues,
                 dev.max_rx_queues, dev.max_tx_queues);
        return ZN_EINVAL;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    const uint64_t tx_ck = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    const uint64_t rx_ck = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
    info->tx_cksum_offload = (dev.tx_offload_capa & tx_ck) == tx_ck;
    info->rx_cksum_offload = (dev.rx_offload_capa & rx_ck) == rx_ck;
    if (info->tx_cksum_offload)
        conf.txmode.offloads |= tx_ck;
    if (info->rx_cksum_offload)
        conf.rxmode.offloads |= rx_ck;
    if (n_queues > 1 && dev.flow_type_rss_offloads != 0) { /* spread flows over the queues */
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & dev.flow_type_rss_offloads;
    }
    int rc = rte_eth_dev_configure(port_id, n_queues, n_queues, &conf);
    if (rc != 0) {
        ZN_ERROR("dp", "port %u configure: %s", port_id, rte_strerror(-rc));
        return ZN_EIO;
    }
    uint16_t nb_rx = ZN_DP_RX_DESC, nb_tx = ZN_DP_TX_DESC;
    (void)rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &nb_rx, &nb_tx);
    int socket = rte_eth_dev_socket_id(port_id);
    if (socket < 0)
        socket = (int)rte_socket_id();
    for (uint16_t q = 0; q < n_queues; q++) {
        struct rte_eth_txconf txc = dev.default_txconf;
        txc.offloads = conf.txmode.offloads;
        if (rte_eth_rx_queue_setup(port_id, q, nb_rx, (unsigned)socket, NULL, pool) != 0 ||
            rte_eth_tx_queue_setup(port_id, q, nb_tx, (unsigned)socket, &txc) != 0) {
            ZN_ERROR("dp", "port %u queue %u setup failed", port_id, q);
            return ZN_EIO;
        }
    }
    rc = rte_eth_dev_start(port_id);
    if (rc != 0) {
        ZN_ERROR("dp", "port %u start: %s", port_id, rte_strerror(-rc));
        return ZN_EIO;
    }
    struct rte_ether_addr mac;
    if (rte_eth_macaddr_get(port_id, &mac) != 0)
        return ZN_EIO;
    memcpy(info->mac, mac.addr_bytes, 6);
    info->port_id = port_id;
    info->n_queues = n_queues;
    zn_dp_port_link(info);
    ZN_INFO("dp", "port %u (%s) up: %u queues, link %s %u Mb/s, cksum offload tx %s rx %s", port_id,
            dev.driver_name, n_queues, info->link_up ? "up" : "down", info->link_speed_mbps,
            info->tx_cksum_offload ? "yes" : "no", info->rx_cksum_offload ? "yes" : "no");
    return 0;
}

void zn_dp_port_link(struct zn_dp_port_info *info)
{
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    if (rte_eth_link_get_nowait(info->port_id, &link) == 0) {
        info->link_up = link.link_status == RTE_ETH_LINK_UP;
        info->link_speed_mbps = link.link_speed;
    }
}

void zn_dp_port_stop(uint16_t port_id)
{
    (void)rte_eth_dev_stop(port_id);
    (void)rte_eth_dev_close(port_id);
}
