/*
 * dp_peer - one dataplane instance in its own process, for the two-process tests (memif,
 * af_packet over veth between namespaces) and the kernel-UDP cross-check.
 *
 *   dp_peer echo   --vdev DEVARGS --ip A --port P [--idle lab|busy] [--timeout-s S]
 *                  [--ready FILE] [--prefix NAME]
 *       echo every framed message back to its sender, as a stage of the poll loop on the EAL
 *       main lcore, until SIGTERM/SIGINT or the timeout; print the stack counters at exit.
 *   dp_peer client --vdev DEVARGS --ip A --port P --peer-ip B --peer-port Q [--rounds N]
 *   dp_peer client --udp --ip A --port P --peer-ip B --peer-port Q [--rounds N]
 *       exchange N rounds of every test size with the echo peer and verify every byte; exit 0
 *       only if all verified. --udp uses the kernel-UDP transport instead of DPDK.
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "dataplane/zn_dp_loop.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_stack.h"
#include "dataplane/zn_udp.h"
#include "exchange.h"

#define CLUSTER 5u

static struct zn_dp_sched g_sched; /* the signal handler stops it through its atomic flag */

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_sched.stop, true);
}

struct echo_stage {
    struct zn_dp_msgr *m;
    uint64_t now;
};

static void echo_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct echo_stage *es = ctx;
    zn_dp_msgr_send(es->m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, es->now);
}

static unsigned echo_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct echo_stage *es = ctx;
    es->now = now_ns;
    return (unsigned)zn_dp_msgr_poll(es->m, now_ns, echo_msg, es);
}

static void echo_housekeeping(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct echo_stage *es = ctx;
    zn_dp_msgr_housekeeping(es->m, now_ns);
}

static int wait_link(uint16_t port, double seconds)
{
    uint64_t deadline = exchange_now_ns() + (uint64_t)(seconds * 1e9);
    while (exchange_now_ns() < deadline) {
        struct rte_eth_link link;
        memset(&link, 0, sizeof(link));
        if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP)
            return 0;
        usleep(10000);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: dp_peer echo|client [options]\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *vdev = NULL, *ip_s = NULL, *peer_ip_s = NULL, *ready = NULL, *idle_s = "lab";
    const char *prefix = NULL;
    unsigned port = 0, peer_port = 0, rounds = 3;
    double timeout_s = 60;
    bool udp = false;
    static const struct option opts[] = {
        {"vdev", required_argument, 0, 'v'},      {"ip", required_argument, 0, 'i'},
        {"port", required_argument, 0, 'p'},      {"peer-ip", required_argument, 0, 'I'},
        {"peer-port", required_argument, 0, 'P'}, {"rounds", required_argument, 0, 'r'},
        {"timeout-s", required_argument, 0, 't'}, {"ready", required_argument, 0, 'R'},
        {"idle", required_argument, 0, 'd'},      {"udp", no_argument, 0, 'u'},
        {"prefix", required_argument, 0, 'x'},    {0, 0, 0, 0},
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            vdev = optarg;
            break;
        case 'i':
            ip_s = optarg;
            break;
        case 'p':
            port = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'I':
            peer_ip_s = optarg;
            break;
        case 'P':
            peer_port = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            rounds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 't':
            timeout_s = strtod(optarg, NULL);
            break;
        case 'R':
            ready = optarg;
            break;
        case 'd':
            idle_s = optarg;
            break;
        case 'u':
            udp = true;
            break;
        case 'x':
            prefix = optarg;
            break;
        default:
            return 2;
        }
    }
    bool echo = strcmp(mode, "echo") == 0;
    struct zn_dp_addr local = {.port = (uint16_t)port}, peer = {.port = (uint16_t)peer_port};
    if ((!echo && strcmp(mode, "client") != 0) || zn_dp_ip_parse(ip_s, &local.ip) != 0 ||
        port == 0 || (!echo && (zn_dp_ip_parse(peer_ip_s, &peer.ip) != 0 || peer_port == 0)) ||
        (!udp && vdev == NULL)) {
        fprintf(stderr, "dp_peer: bad arguments\n");
        return 2;
    }
    struct zn_dp_transport t;
    struct zn_udp *u = NULL;
    struct zn_dp_stack *stack = NULL;
    struct zn_dp_port_info info;
    if (udp) {
        u = calloc(1, sizeof(*u));
        if (zn_udp_open(u, &local, &t) != 0)
            return 1;
    } else {
        char pfx[64], dir[64];
        snprintf(pfx, sizeof(pfx), "%s-%d", prefix ? prefix : "zn-peer", (int)getpid());
        snprintf(dir, sizeof(dir), "/tmp/zn-dpdk-run-%u", (unsigned)getuid());
        const char *vdevs[1] = {vdev};
        struct zn_dp_eal_cfg cfg = {.file_prefix = pfx,
                                    .runtime_dir = dir,
                                    .lcores = "0@(0,1)",
                                    .lab = true,
                                    .mem_mb = 256,
                                    .n_vdevs = 1,
                                    .log_level = "error"};
        cfg.vdevs[0] = vdevs[0];
        if (zn_dp_eal_init(&cfg) != 0)
            return 1;
        struct rte_mempool *pool = zn_dp_pool_create("peer_pool", 1, 1);
        uint16_t port_id = 0;
        if (pool == NULL || zn_dp_port_start(port_id, 1, pool, &info) != 0)
            return 1;
        if (!echo && wait_link(port_id, 10) != 0) {
            fprintf(stderr, "dp_peer: link did not come up\n");
            return 1;
        }
        stack = calloc(1, sizeof(*stack));
        struct zn_dp_stack_cfg scfg = {.port_id = port_id,
                                       .ip = local.ip,
                                       .udp_port = local.port,
                                       .pool = pool,
                                       .port = &info};
        if (zn_dp_stack_init(stack, &scfg, &t) != 0)
            return 1;
    }
    struct zn_dp_msgr *m = calloc(1, sizeof(*m));
    if (zn_dp_msgr_init(m, &t, CLUSTER, echo ? 2 : 1, 16, 4u << 20, 200 * 1000 * 1000) != 0)
        return 1;
    int rc = 0;
    if (echo) {
        static struct zn_clock clock;
        static struct zn_clock_system cs;
        zn_clock_system_init(&clock, &cs);
        struct zn_dp_idle_cfg idle;
        if (zn_dp_idle_parse(idle_s, &idle) != 0)
            return 2;
        if (zn_dp_sched_init(&g_sched, 1, &idle, 64, &clock, true) != 0)
            return 1;
        struct echo_stage es = {.m = m};
        zn_dp_sched_add_stage(&g_sched, "echo", echo_poll, echo_housekeeping, &es);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        alarm((unsigned)timeout_s);
        signal(SIGALRM, on_signal);
        if (ready != NULL) {
            FILE *f = fopen(ready, "w");
            if (f != NULL)
                fclose(f);
        }
        zn_dp_lcore_run(&g_sched.lcores[0]);
        struct zn_dp_lcore_stats *ls = &g_sched.lcores[0].stats;
        printf("echo: %lu msgs in, %lu out; loop %lu iterations, %lu yields, %lu sleeps\n",
               (unsigned long)m->stats.rx_msgs, (unsigned long)m->stats.tx_msgs,
               (unsigned long)ls->iterations, (unsigned long)ls->yields, (unsigned long)ls->sleeps);
        zn_dp_sched_fini(&g_sched);
    } else {
        unsigned ok = exchange_with_echo(m, &peer, rounds, (uint64_t)(timeout_s * 1e9));
        printf("client (%s): %u of %u round trips verified\n", t.ops->name, ok, rounds * 7);
        rc = ok == rounds * 7 ? 0 : 1;
    }
    if (stack != NULL) {
        zn_dp_stack_stats_print(stack, stdout, false);
        zn_dp_stack_fini(stack);
        free(stack);
        zn_dp_port_stop(info.port_id);
        zn_dp_eal_fini();
    }
    if (u != NULL) {
        zn_udp_close(u);
        free(u);
    }
    zn_dp_msgr_fini(m);
    free(m);
    return rc;
}
