/*
 * zn_dp_bench - dataplane round-trip benchmark, one instance per process (one EAL each).
 *
 *   zn_dp_bench pong --vdev D [--vdev D2] --ip A [--raw] [--idle busy|lab] [--timeout-s S]
 *                    [--ready FILE] [--prefix P]
 *       Reflect traffic as a stage of the poll loop on the EAL main lcore. --raw: bare DPDK
 *       (rx burst, swap MACs, tx burst; no stack). Otherwise: the stack echoes framed messages.
 *   zn_dp_bench ping --vdev D [--vdev D2] --ip A --peer-ip B [--peer-ip C] [--raw]
 *                    [--size N] [--count N] [--warmup N] [--interval-us U] [--idle busy|lab]
 *       One message in flight; RTT of each into a histogram; prints p50/p99/p99.9 in us.
 *       Two peers (one port each): fan-out, one message to both, records the first reply and
 *       both replies. --size is the message size; raw frames have the same length on the wire
 *       as the stack's frames (Ethernet + IPv4 + UDP + frame header + message).
 *       --udp-cksum offload-or-zero|offload-or-software (both sides): the stack's transmit UDP
 *       checksum policy ([net] udp_tx_checksum); the default sends 0 (frames keep their CRC32C).
 *       --no-udp-cksum is the older spelling of offload-or-zero.
 *   zn_dp_bench cpu [--raw] [--size N] [--count N] [--warmup N] [--udp-cksum P]
 *       CPU cost of a round trip without any waiting: two instances in ONE process and thread
 *       joined by a net_ring pair (mbuf pointers pass through rings; nothing is copied), A sends,
 *       B echoes, A receives, back to back. --raw: the bare DPDK floor (alloc, tx, rx, MAC swap,
 *       tx, rx, free; the payload is never touched). The difference stack - raw is what the
 *       stack adds per round trip (both directions, both ends), free of scheduling noise.
 *   --udp (instead of --vdev, both sides): the kernel-UDP transport on --ip (pong binds port
 *       7100, ping 7101), for the kernel floor on loopback.
 *   Idle-policy experiments (fan-out, wake-up): --yield-us N sets the lab yield window,
 *       --no-wake-fd (pong, --udp) sleeps without waking on its socket,
 *       --cpus L runs the lcore on CPUs L ("0,1" by default: floating). ping prints how often
 *       its waiting loop yielded per round (about 1 when it shares a CPU with a peer that
 *       answers after one switch, many when it waits alone or behind a busy neighbour).
 *   zn_dp_bench sleepfloor [--sleep-us U] [--count N]
 *       No DPDK: how late nanosleep(U) returns on this machine with the lab policy's 1 ns
 *       timer slack (the platform's part of the wake-from-idle cost).
 *
 * Output line: "RESULT <label> size=<n> count=<n> p50=<us> p99=<us> p999=<us> [first_p50=...]"
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "common/zn_clock.h"
#include "common/zn_hist.h"
#include "common/zn_log.h"
#include "dataplane/zn_dp_loop.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_stack.h"
#include "dataplane/zn_udp.h"

#define CLUSTER   9u
#define UDP_PORT  7100
#define MAX_PORTS 2
#define HDRS      (14u + 20u + 8u)

static struct zn_dp_sched g_sched;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&g_sched.stop, true);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct inst {
    unsigned n_ports;
    struct rte_mempool *pool;
    struct zn_dp_port_info port[MAX_PORTS];
    struct zn_dp_stack stack[MAX_PORTS];
    struct zn_dp_transport t[MAX_PORTS];
    struct zn_dp_msgr m[MAX_PORTS];
    uint64_t now;
    uint64_t replies[MAX_PORTS];
    struct zn_udp *udp; /* --udp: the kernel-UDP transport instead of DPDK */
};

/* ---- pong ---------------------------------------------------------------------------------- */

static unsigned raw_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now)
{
    (void)lc;
    (void)now;
    struct inst *in = ctx;
    unsigned work = 0;
    for (unsigned p = 0; p < in->n_ports; p++) {
        struct rte_mbuf *pkts[32];
        uint16_t n = rte_eth_rx_burst(in->port[p].port_id, 0, pkts, 32);
        for (uint16_t i = 0; i < n; i++) {
            uint8_t *d = rte_pktmbuf_mtod(pkts[i], uint8_t *);
            uint8_t tmp[6];
            memcpy(tmp, d, 6);
            memcpy(d, d + 6, 6);
            memcpy(d + 6, tmp, 6);
        }
        uint16_t sent = n ? rte_eth_tx_burst(in->port[p].port_id, 0, pkts, n) : 0;
        if (sent < n)
            rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        work += n;
    }
    return work;
}

static void echo_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct zn_dp_msgr *m = ctx;
    zn_dp_msgr_send(m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, 0);
}

static unsigned stack_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now)
{
    (void)lc;
    struct inst *in = ctx;
    unsigned work = 0;
    for (unsigned p = 0; p < in->n_ports; p++)
        work += (unsigned)zn_dp_msgr_poll(&in->m[p], now, echo_msg, &in->m[p]);
    return work;
}

static void stack_housekeeping(void *ctx, struct zn_dp_lcore *lc, uint64_t now)
{
    (void)lc;
    struct inst *in = ctx;
    for (unsigned p = 0; p < in->n_ports; p++)
        zn_dp_msgr_housekeeping(&in->m[p], now);
}

/* ---- ping ---------------------------------------------------------------------------------- */

struct got {
    uint64_t id;
    bool seen;
};

static void got_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    struct got *g = ctx;
    uint64_t id = 0;
    if (msg->len >= 8)
        memcpy(&id, msg->data, 8);
    if (id == g->id)
        g->seen = true;
}

/* ping: the waiting loop follows the idle policy like an lcore (zn_dp_idle: spin budget,
 * yield, and a sleep once a round is older than the yield window); counters over all rounds
 * show who held the CPU (a yield that returns at once had nobody to run). */
static struct zn_dp_idle g_wait;
static struct zn_clock g_wait_clock;
static struct zn_clock_system g_wait_clock_state;

static void wait_begin(const struct zn_dp_idle_cfg *idle, uint64_t t0)
{
    if (g_wait_clock.monotonic_ns == NULL) {
        zn_clock_system_init(&g_wait_clock, &g_wait_clock_state);
        zn_dp_idle_init(&g_wait, idle, t0);
    }
    (void)zn_dp_idle_after_poll(&g_wait, 1, t0, &g_wait_clock); /* sending is work */
}

static void wait_idle(void)
{
    (void)zn_dp_idle_after_poll(&g_wait, 0, now_ns(), &g_wait_clock);
}

/* This thread's /proc schedstat: time on the CPU, time runnable but waiting for it, and
 * timeslices (times it was switched in). Zeros when the file cannot be read. */
struct schedstat {
    unsigned long long run_ns, wait_ns, slices;
};

static struct schedstat schedstat_read(void)
{
    struct schedstat st = {0, 0, 0};
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", (long)gettid());
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%llu %llu %llu", &st.run_ns, &st.wait_ns, &st.slices) != 3)
            memset(&st, 0, sizeof(st));
        fclose(f);
    }
    return st;
}

static struct schedstat g_sched0; /* ping: at the first measured round */

static void print_sched(const char *who, struct schedstat a, struct schedstat b, uint64_t n)
{
    if (n == 0)
        n = 1;
    fprintf(stderr,
            "%s sched per round: on-cpu %.2f us, runnable-waiting %.2f us, switched in %.2f\n", who,
            (double)(b.run_ns - a.run_ns) / 1e3 / (double)n,
            (double)(b.wait_ns - a.wait_ns) / 1e3 / (double)n,
            (double)(b.slices - a.slices) / (double)n);
}

static int wait_links(struct inst *in, double seconds)
{
    uint64_t deadline = now_ns() + (uint64_t)(seconds * 1e9);
    for (unsigned p = 0; p < in->n_ports; p++) {
        for (;;) {
            zn_dp_port_link(&in->port[p]);
            if (in->port[p].link_up)
                break;
            if (now_ns() > deadline)
                return -1;
            usleep(10000);
        }
    }
    return 0;
}

static void print_result(const char *label, unsigned size, const struct zn_hist *h,
                         const struct zn_hist *first, unsigned rounds)
{
    printf("RESULT %s size=%u count=%lu p50=%.2f p99=%.2f p999=%.2f", label, size,
           (unsigned long)h->count, (double)zn_hist_percentile(h, 50) / 1e3,
           (double)zn_hist_percentile(h, 99) / 1e3, (double)zn_hist_percentile(h, 99.9) / 1e3);
    if (first != NULL)
        printf(" first_p50=%.2f first_p99=%.2f first_p999=%.2f",
               (double)zn_hist_percentile(first, 50) / 1e3,
               (double)zn_hist_percentile(first, 99) / 1e3,
               (double)zn_hist_percentile(first, 99.9) / 1e3);
    double n = rounds ? (double)rounds : 1.0;
    printf(" per_round: yields=%.2f sleeps=%.3f\n", (double)g_wait.yields / n,
           (double)g_wait.sleeps / n);
}

static int run_ping_raw(struct inst *in, unsigned size, unsigned count, unsigned warmup,
                        unsigned interval_us, const struct zn_dp_idle_cfg *idle, struct zn_hist *h,
                        struct zn_hist *first)
{
    unsigned frame = HDRS + ZN_FRAME_HDR_BYTES + size;
    if (frame > RTE_ETHER_MAX_LEN - 4)
        return -1;
    for (unsigned k = 0; k < warmup + count; k++) {
        if (k == warmup)
            g_sched0 = schedstat_read();
        uint64_t t0 = now_ns();
        wait_begin(idle, t0);
        for (unsigned p = 0; p < in->n_ports; p++) {
            struct rte_mbuf *m = rte_pktmbuf_alloc(in->pool);
            if (m == NULL)
                return -1;
            uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)frame);
            if (d == NULL) {
                rte_pktmbuf_free(m);
                return -1;
            }
            memset(d, 0xff, 6);
            memcpy(d + 6, in->port[p].mac, 6);
            d[12] = 0x88; /* local experimental EtherType: nobody else answers */
            d[13] = 0xb5;
            memcpy(d + 14, &k, sizeof(k));
            while (rte_eth_tx_burst(in->port[p].port_id, 0, &m, 1) == 0)
                ;
        }
        unsigned replies = 0;
        uint64_t first_ns = 0, deadline = t0 + 1000000000ull;
        while (replies < in->n_ports) {
            for (unsigned p = 0; p < in->n_ports; p++) {
                struct rte_mbuf *r[8];
                uint16_t n = rte_eth_rx_burst(in->port[p].port_id, 0, r, 8);
                replies += n;
                if (n > 0 && first_ns == 0)
                    first_ns = now_ns();
                rte_pktmbuf_free_bulk(r, n);
            }
            if (replies == 0) {
                if (now_ns() > deadline)
                    return -1;
                wait_idle();
            }
        }
        uint64_t t1 = now_ns();
        if (k >= warmup) {
            zn_hist_record(h, t1 - t0);
            if (first != NULL)
                zn_hist_record(first, first_ns - t0);
        }
        if (interval_us > 0)
            usleep(interval_us);
    }
    return 0;
}

static int run_ping_stack(struct inst *in, const struct zn_dp_addr *peers, unsigned size,
                          unsigned count, unsigned warmup, unsigned interval_us,
                          const struct zn_dp_idle_cfg *idle, struct zn_hist *h,
                          struct zn_hist *first)
{
    uint8_t *msg = calloc(1, size < 8 ? 8 : size);
    for (unsigned k = 0; k < warmup + count; k++) {
        uint64_t id = (uint64_t)k + 1;
        memcpy(msg, &id, 8);
        if (k == warmup)
            g_sched0 = schedstat_read();
        uint64_t t0 = now_ns();
        wait_begin(idle, t0);
        struct got g[MAX_PORTS];
        for (unsigned p = 0; p < in->n_ports; p++) {
            g[p].id = id;
            g[p].seen = false;
            if (zn_dp_msgr_send(&in->m[p], &peers[p], ZN_FRAME_PING, 0, msg, size, t0) != 0) {
                free(msg);
                return -1;
            }
        }
        unsigned replies = 0;
        uint64_t first_ns = 0, deadline = t0 + 1000000000ull;
        while (replies < in->n_ports) {
            int work = 0;
            for (unsigned p = 0; p < in->n_ports; p++) {
                if (g[p].seen)
                    continue;
                work += zn_dp_msgr_poll(&in->m[p], t0, got_msg, &g[p]);
                if (g[p].seen) {
                    replies++;
                    if (first_ns == 0)
                        first_ns = now_ns();
                }
            }
            if (work == 0) {
                if (now_ns() > deadline) {
                    free(msg);
                    return -1;
                }
                wait_idle();
            }
        }
        uint64_t t1 = now_ns();
        if (k >= warmup) {
            zn_hist_record(h, t1 - t0);
            if (first != NULL)
                zn_hist_record(first, first_ns - t0);
        }
        if (interval_us > 0)
            usleep(interval_us);
    }
    free(msg);
    return 0;
}

/* sleepfloor: overshoot of nanosleep(sleep_us) with the lab policy's timer slack (1 ns). */
static int run_sleepfloor(unsigned sleep_us, unsigned count)
{
    struct zn_dp_idle_cfg lab;
    zn_dp_idle_default(&lab, ZN_DP_IDLE_LAB);
    zn_dp_idle_thread_setup(&lab);
    struct zn_hist *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return 1;
    zn_hist_reset(h);
    uint64_t ns = (uint64_t)sleep_us * 1000u;
    for (unsigned k = 0; k < count; k++) {
        uint64_t t0 = now_ns();
        zn_dp_idle_nanosleep(ns);
        uint64_t took = now_ns() - t0;
        zn_hist_record(h, took > ns ? took - ns : 0);
    }
    printf("RESULT sleepfloor-%uus count=%lu overshoot_p50=%.2f p99=%.2f p999=%.2f max=%.2f\n",
           sleep_us, (unsigned long)h->count, (double)zn_hist_percentile(h, 50) / 1e3,
           (double)zn_hist_percentile(h, 99) / 1e3, (double)zn_hist_percentile(h, 99.9) / 1e3,
           (double)zn_hist_percentile(h, 100) / 1e3);
    free(h);
    return 0;
}

static int start_dpdk(struct inst *in, const char **vdevs, unsigned n_vdevs, const char *prefix,
                      uint32_t ip, bool pong, enum zn_dp_udp_tx_cksum udp_cksum, const char *cpus)
{
    char lcores[64];
    snprintf(lcores, sizeof(lcores), "0@(%s)", cpus);
    char pfx[96];
    snprintf(pfx, sizeof(pfx), "%s-%d", prefix, (int)getpid());
    char rundir[64];
    snprintf(rundir, sizeof(rundir), "/tmp/zn-dpdk-run-%u", (unsigned)getuid());
    struct zn_dp_eal_cfg cfg = {.file_prefix = pfx,
                                .runtime_dir = rundir,
                                .lcores = lcores,
                                .lab = true,
                                .mem_mb = 256,
                                .n_vdevs = n_vdevs,
                                .log_level = "error"};
    for (unsigned i = 0; i < n_vdevs; i++)
        cfg.vdevs[i] = vdevs[i];
    if (zn_dp_eal_init(&cfg) != 0)
        return -1;
    in->pool = zn_dp_pool_create("bench_pool", n_vdevs, 1);
    if (in->pool == NULL)
        return -1;
    for (unsigned p = 0; p < n_vdevs; p++) {
        if (zn_dp_port_start((uint16_t)p, 1, in->pool, &in->port[p]) != 0)
            return -1;
        struct zn_dp_stack_cfg scfg = {.port_id = (uint16_t)p,
                                       .ip = ip + p * 256, /* one subnet per port */
                                       .udp_port = UDP_PORT,
                                       .pool = in->pool,
                                       .port = &in->port[p],
                                       .udp_tx_cksum = udp_cksum};
        if (zn_dp_stack_init(&in->stack[p], &scfg, &in->t[p]) != 0 ||
            zn_dp_msgr_init(&in->m[p], &in->t[p], CLUSTER, pong ? 2 : 1, 8, 1u << 20,
                            100 * 1000 * 1000) != 0)
            return -1;
    }
    return 0;
}

/* ---- cpu: both ends in one thread over a net_ring pair ------------------------------------- */

struct cpu_echo {
    struct zn_dp_msgr *m;
    uint64_t now;
};

static void cpu_echo_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct cpu_echo *e = ctx;
    zn_dp_msgr_send(e->m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, e->now);
}

static int cpu_raw_once(struct inst *in, uint16_t pa, uint16_t pb, unsigned frame, unsigned k)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(in->pool);
    if (m == NULL)
        return -1;
    uint8_t *d = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)frame);
    if (d == NULL) {
        rte_pktmbuf_free(m);
        return -1;
    }
    memset(d, 0xff, 6);
    memcpy(d + 6, in->port[0].mac, 6);
    d[12] = 0x88;
    d[13] = 0xb5;
    memcpy(d + 14, &k, sizeof(k));
    if (rte_eth_tx_burst(pa, 0, &m, 1) != 1) {
        rte_pktmbuf_free(m);
        return -1;
    }
    struct rte_mbuf *r[8];
    uint16_t n = rte_eth_rx_burst(pb, 0, r, 8);
    for (uint16_t i = 0; i < n; i++) {
        uint8_t *p = rte_pktmbuf_mtod(r[i], uint8_t *);
        uint8_t tmp[6];
        memcpy(tmp, p, 6);
        memcpy(p, p + 6, 6);
        memcpy(p + 6, tmp, 6);
    }
    uint16_t sent = n ? rte_eth_tx_burst(pb, 0, r, n) : 0;
    if (sent < n)
        rte_pktmbuf_free_bulk(r + sent, n - sent);
    n = rte_eth_rx_burst(pa, 0, r, 8);
    rte_pktmbuf_free_bulk(r, n);
    return n == 1 ? 0 : -1;
}

static int run_cpu(bool raw, unsigned size, unsigned count, unsigned warmup,
                   enum zn_dp_udp_tx_cksum udp_cksum, const char *label)
{
    char rundir[64], pfx[64];
    snprintf(rundir, sizeof(rundir), "/tmp/zn-dpdk-run-%u", (unsigned)getuid());
    snprintf(pfx, sizeof(pfx), "zn-bench-cpu-%d", (int)getpid());
    struct zn_dp_eal_cfg cfg = {.file_prefix = pfx,
                                .runtime_dir = rundir,
                                .lcores = "0@(0,1)",
                                .lab = true,
                                .mem_mb = 256,
                                .log_level = "error"};
    uint16_t pa, pb;
    struct inst *in = calloc(2, sizeof(*in)); /* in[0] = A, in[1] = B (one port each) */
    if (in == NULL || zn_dp_eal_init(&cfg) != 0 || zn_dp_port_ring_pair("zbc", 1, &pa, &pb) != 0)
        return 1;
    in[0].pool = zn_dp_pool_create("zbc_pool", 2, 1);
    in[1].pool = in[0].pool;
    uint16_t ports[2] = {pa, pb};
    uint32_t ips[2] = {0x0a630301u, 0x0a630302u};
    for (int i = 0; i < 2; i++) {
        in[i].n_ports = 1;
        if (in[i].pool == NULL || zn_dp_port_start(ports[i], 1, in[i].pool, &in[i].port[0]) != 0)
            return 1;
        struct zn_dp_stack_cfg scfg = {.port_id = ports[i],
                                       .ip = ips[i],
                                       .udp_port = UDP_PORT,
                                       .pool = in[i].pool,
                                       .port = &in[i].port[0],
                                       .udp_tx_cksum = udp_cksum};
        if (zn_dp_stack_init(&in[i].stack[0], &scfg, &in[i].t[0]) != 0 ||
            zn_dp_msgr_init(&in[i].m[0], &in[i].t[0], CLUSTER, (uint8_t)(i + 1), 8, 1u << 20,
                            100 * 1000 * 1000) != 0)
            return 1;
    }
    for (int i = 0; i < 2; i++)
        zn_dp_stack_arp_static(&in[i].stack[0], ips[1 - i], in[1 - i].port[0].mac);
    struct zn_hist *h = calloc(1, sizeof(*h));
    uint8_t *msg = calloc(1, size < 8 ? 8 : size);
    if (h == NULL || msg == NULL)
        return 1;
    zn_hist_reset(h);
    struct zn_dp_addr to_b = {.ip = ips[1], .port = UDP_PORT};
    struct cpu_echo echo = {.m = &in[1].m[0]};
    unsigned frame = HDRS + ZN_FRAME_HDR_BYTES + size;
    int rc = 0;
    uint64_t start = 0;
    for (unsigned k = 0; k < warmup + count && rc == 0; k++) {
        if (k == warmup)
            start = now_ns();
        uint64_t t0 = now_ns();
        if (raw) {
            rc = cpu_raw_once(&in[0], pa, pb, frame, k);
        } else {
            uint64_t id = (uint64_t)k + 1;
            memcpy(msg, &id, 8);
            struct got g = {.id = id, .seen = false};
            echo.now = t0;
            if (zn_dp_msgr_send(&in[0].m[0], &to_b, ZN_FRAME_PING, 0, msg, size, t0) != 0 ||
                zn_dp_msgr_poll(&in[1].m[0], t0, cpu_echo_msg, &echo) != 1 ||
                zn_dp_msgr_poll(&in[0].m[0], t0, got_msg, &g) != 1 || !g.seen)
                rc = -1;
        }
        if (k >= warmup)
            zn_hist_record(h, now_ns() - t0);
    }
    uint64_t total = now_ns() - start;
    if (rc != 0) {
        fprintf(stderr, "zn_dp_bench cpu: a round trip did not complete\n");
    } else {
        printf("RESULT %s size=%u count=%u ns_per_rtt=%.0f p50=%.3f p99=%.3f\n", label, size, count,
               (double)total / count, (double)zn_hist_percentile(h, 50) / 1e3,
               (double)zn_hist_percentile(h, 99) / 1e3);
    }
    for (int i = 0; i < 2; i++) {
        zn_dp_msgr_fini(&in[i].m[0]);
        zn_dp_stack_fini(&in[i].stack[0]);
        zn_dp_port_stop(ports[i]);
    }
    zn_dp_eal_fini();
    free(msg);
    free(h);
    free(in);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zn_dp_bench pong|ping|sleepfloor [options]\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *vdevs[MAX_PORTS] = {0}, *peer_ips[MAX_PORTS] = {0};
    unsigned n_vdevs = 0, n_peers = 0;
    const char *ip_s = NULL, *ready = NULL, *idle_s = "busy", *prefix = "zn-bench";
    const char *label = NULL, *cpus = "0,1";
    long yield_us = -1; /* -1: the policy's default */
    bool wake_fd = true;
    bool raw = false, udp = false;
    enum zn_dp_udp_tx_cksum udp_cksum = ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO;
    unsigned size = 64, count = 10000, warmup = 500, interval_us = 0, sleep_us = 50;
    double timeout_s = 60;
    static const struct option opts[] = {
        {"vdev", required_argument, 0, 'v'},
        {"ip", required_argument, 0, 'i'},
        {"peer-ip", required_argument, 0, 'I'},
        {"raw", no_argument, 0, 'r'},
        {"size", required_argument, 0, 's'},
        {"count", required_argument, 0, 'c'},
        {"warmup", required_argument, 0, 'w'},
        {"interval-us", required_argument, 0, 'u'},
        {"idle", required_argument, 0, 'd'},
        {"timeout-s", required_argument, 0, 't'},
        {"ready", required_argument, 0, 'R'},
        {"prefix", required_argument, 0, 'x'},
        {"label", required_argument, 0, 'l'},
        {"no-udp-cksum", no_argument, 0, 'n'},
        {"udp", no_argument, 0, 'U'},
        {"udp-cksum", required_argument, 0, 'K'},
        {"cpus", required_argument, 0, 'C'},
        {"yield-us", required_argument, 0, 'Y'},
        {"sleep-us", required_argument, 0, 'L'},
        {"no-wake-fd", no_argument, 0, 'W'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            if (n_vdevs < MAX_PORTS)
                vdevs[n_vdevs++] = optarg;
            break;
        case 'i':
            ip_s = optarg;
            break;
        case 'I':
            if (n_peers < MAX_PORTS)
                peer_ips[n_peers++] = optarg;
            break;
        case 'r':
            raw = true;
            break;
        case 's':
            size = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'c':
            count = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'w':
            warmup = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'u':
            interval_us = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            idle_s = optarg;
            break;
        case 't':
            timeout_s = strtod(optarg, NULL);
            break;
        case 'R':
            ready = optarg;
            break;
        case 'x':
            prefix = optarg;
            break;
        case 'l':
            label = optarg;
            break;
        case 'n':
            udp_cksum = ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO;
            break;
        case 'K':
            if (zn_dp_udp_tx_cksum_parse(optarg, &udp_cksum) != 0) {
                fprintf(stderr, "zn_dp_bench: --udp-cksum offload-or-zero|offload-or-software\n");
                return 2;
            }
            break;
        case 'U':
            udp = true;
            break;
        case 'C':
            cpus = optarg;
            break;
        case 'Y':
            yield_us = strtol(optarg, NULL, 10);
            break;
        case 'W':
            wake_fd = false;
            break;
        case 'L':
            sleep_us = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            return 2;
        }
    }
    if (strcmp(mode, "sleepfloor") == 0)
        return run_sleepfloor(sleep_us, count);
    bool pong = strcmp(mode, "pong") == 0;
    uint32_t ip = 0;
    if (strcmp(mode, "cpu") == 0) {
        if (size > ZN_FRAME_SEG_BYTES)
            return 2;
        zn_log_set_level(ZN_LOG_WARN);
        return run_cpu(raw, size, count, warmup, udp_cksum,
                       label ? label : (raw ? "cpu-raw" : "cpu-stack"));
    }
    struct zn_dp_idle_cfg idle;
    if (udp)
        n_vdevs = 1; /* one kernel socket plays the one port */
    if ((!pong && strcmp(mode, "ping") != 0) || n_vdevs == 0 || zn_dp_ip_parse(ip_s, &ip) != 0 ||
        zn_dp_idle_parse(idle_s, &idle) != 0 || (!pong && !raw && n_peers != n_vdevs) ||
        size > ZN_FRAME_SEG_BYTES || (udp && raw)) {
        fprintf(stderr, "zn_dp_bench: bad arguments\n");
        return 2;
    }
    if (yield_us >= 0)
        idle.yield_window_ns = (uint64_t)yield_us * 1000u;
    zn_log_set_level(ZN_LOG_WARN);
    struct inst *in = calloc(1, sizeof(*in));
    in->n_ports = n_vdevs;
    if (udp) {
        in->udp = calloc(1, sizeof(*in->udp));
        struct zn_dp_addr local = {.ip = ip, .port = (uint16_t)(pong ? UDP_PORT : UDP_PORT + 1)};
        if (in->udp == NULL || zn_udp_open(in->udp, &local, &in->t[0]) != 0 ||
            zn_dp_msgr_init(&in->m[0], &in->t[0], CLUSTER, pong ? 2 : 1, 8, 1u << 20,
                            100 * 1000 * 1000) != 0)
            return 1;
    } else if (start_dpdk(in, vdevs, n_vdevs, prefix, ip, pong, udp_cksum, cpus) != 0) {
        return 1;
    }
    int rc = 0;
    if (pong && !udp && idle.mode == ZN_DP_IDLE_LAB) {
        /* Could a sleeping lcore wait on this port's rx interrupt (zn_dp_sched_stage_wake_fd)?
         * -ENOTSUP: the PMD has no rx interrupt operation at all. */
        for (unsigned p = 0; p < n_vdevs; p++) {
            int irc = rte_eth_dev_rx_intr_enable(in->port[p].port_id, 0);
            fprintf(stderr, "pong: port %u rx interrupt: %s (%d)\n", p,
                    irc == 0          ? "enabled"
                    : irc == -ENOTSUP ? "not supported by the PMD"
                                      : "error",
                    irc);
            if (irc == 0)
                (void)rte_eth_dev_rx_intr_disable(in->port[p].port_id, 0);
        }
    }
    if (pong) {
        static struct zn_clock clock;
        static struct zn_clock_system cs;
        zn_clock_system_init(&clock, &cs);
        if (zn_dp_sched_init(&g_sched, 1, &idle, 64, &clock, true) != 0)
            return 1;
        zn_dp_sched_add_stage(&g_sched, raw ? "raw" : "echo", raw ? raw_poll : stack_poll,
                              raw ? NULL : stack_housekeeping, in);
        if (udp && wake_fd && zn_dp_sched_stage_wake_fd(&g_sched, "echo", in->udp->fd) != 0)
            return 1;
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGALRM, on_signal);
        alarm((unsigned)timeout_s);
        if (ready != NULL) {
            FILE *f = fopen(ready, "w");
            if (f != NULL)
                fclose(f);
        }
        struct schedstat s0 = schedstat_read();
        zn_dp_lcore_run(&g_sched.lcores[0]);
        struct zn_dp_lcore_stats *ls = &g_sched.lcores[0].stats;
        print_sched("pong (per busy iteration)", s0, schedstat_read(), ls->busy_iterations);
        fprintf(stderr,
                "pong: %lu iterations, %lu busy, %lu yields, %lu sleeps (%lu deep, %lu ended by an "
                "fd)\n",
                (unsigned long)ls->iterations, (unsigned long)ls->busy_iterations,
                (unsigned long)ls->yields, (unsigned long)ls->sleeps,
                (unsigned long)ls->deep_sleeps, (unsigned long)ls->fd_wakes);
        zn_dp_sched_fini(&g_sched);
    } else {
        if (!udp && wait_links(in, 10) != 0) {
            fprintf(stderr, "zn_dp_bench: link down\n");
            return 1;
        }
        zn_dp_idle_thread_setup(&idle);
        struct zn_dp_addr peers[MAX_PORTS];
        for (unsigned p = 0; p < n_peers; p++) {
            if (zn_dp_ip_parse(peer_ips[p], &peers[p].ip) != 0)
                return 2;
            peers[p].port = UDP_PORT;
        }
        struct zn_hist *h = calloc(1, sizeof(*h)), *first = calloc(1, sizeof(*first));
        zn_hist_reset(h);
        zn_hist_reset(first);
        rc = raw ? run_ping_raw(in, size, count, warmup, interval_us, &idle, h,
                                n_vdevs > 1 ? first : NULL)
                 : run_ping_stack(in, peers, size, count, warmup, interval_us, &idle, h,
                                  n_vdevs > 1 ? first : NULL);
        if (rc != 0)
            fprintf(stderr, "zn_dp_bench: a reply did not come back within 1 s\n");
        else
            print_sched("ping", g_sched0, schedstat_read(), count);
        if (rc == 0)
            print_result(label ? label : (raw ? "raw" : "stack"), size, h,
                         n_vdevs > 1 ? first : NULL, warmup + count);
        free(h);
        free(first);
    }
    for (unsigned p = 0; p < n_vdevs; p++)
        zn_dp_msgr_fini(&in->m[p]);
    if (udp) {
        zn_udp_close(in->udp);
        free(in->udp);
    } else {
        for (unsigned p = 0; p < n_vdevs; p++) {
            zn_dp_stack_fini(&in->stack[p]);
            zn_dp_port_stop((uint16_t)p);
        }
        zn_dp_eal_fini();
    }
    free(in);
    return rc == 0 ? 0 : 1;
}
