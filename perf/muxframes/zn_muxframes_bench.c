/*
 * zn_muxframes_bench.c - cost of sending framed messages through the ports mux (node/ports_mux.h)
 * over two net_ring DPDK stacks in one process, the multi-port zincd's send path: the copy path
 * (the mux without send_frames: the messenger encodes, the stack copies into the mbuf) against
 * send_frames passed through (the stack encodes into the mbuf), interleaved in one run. Each
 * sample: a block of BLOCK messages sent by the messenger to the two peers alternately, timed as
 * one (send calls only), divided by BLOCK; blocks alternate between the paths; the peers drain
 * their rings between blocks (not timed). CPU time of the process per message (over the send
 * blocks only) is reported beside.
 *
 *   zn_muxframes_bench [N] [VALUE_BYTES...]     (default 20000 messages of 64 1024 1416 8192)
 *
 * Never asserted by a test; on a shared machine compare the two paths within one run only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_hist.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_dp_port.h"
#include "dataplane/zn_dp_stack.h"
#include "node/ports_mux.h"

#define IP_A 0x0a630001u
#define PORT 7000
/* Messages per timed block: 16 x 8 KiB (96 frames) fit the ring and the pool. */
#define BLOCK 16u

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct peer {
    struct zn_dp_port_info port;
    struct zn_dp_stack stack;
    struct zn_dp_transport t;
    struct zn_dp_msgr m;
    uint64_t got;
};

struct bench {
    struct rte_mempool *pool;
    struct zn_dp_port_info aport[2];
    struct zn_dp_stack astack[2];
    struct zn_dp_transport at[2];
    struct zn_ports_mux mux;
    struct zn_dp_transport mt; /* with send_frames */
    struct zn_dp_transport_ops old_ops;
    struct zn_dp_transport old_t; /* the same mux without it: the copy path */
    struct zn_dp_msgr m_new, m_old;
    struct peer p[2];
};

static void on_msg(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    (void)msg;
    ((struct peer *)ctx)->got++;
}

static int setup(struct bench *b)
{
    char dir[128], prefix[64];
    snprintf(dir, sizeof(dir), "/tmp/zn-dpdk-run-%u", (unsigned)getuid());
    snprintf(prefix, sizeof(prefix), "zn-muxfb-%d", (int)getpid());
    struct zn_dp_eal_cfg eal = {.file_prefix = prefix,
                                .runtime_dir = dir,
                                .lcores = "0@(0,1)",
                                .lab = true,
                                .mem_mb = 256,
                                .log_level = "error"};
    if (zn_dp_eal_init(&eal) != 0)
        return -1;
    b->pool = zn_dp_pool_create("zmfb_pool", 4, 1);
    if (!b->pool)
        return -1;
    struct zn_dp_addr local = {.ip = IP_A, .port = PORT};
    zn_ports_mux_init(&b->mux, &local, &b->mt);
    for (unsigned i = 0; i < 2; i++) {
        uint16_t pa, pb;
        uint32_t ip = IP_A + 1 + i;
        if (zn_dp_port_ring_pair(i == 0 ? "zmfb0" : "zmfb1", 1, &pa, &pb) != 0 ||
            zn_dp_port_start(pa, 1, b->pool, &b->aport[i]) != 0 ||
            zn_dp_port_start(pb, 1, b->pool, &b->p[i].port) != 0)
            return -1;
        struct zn_dp_stack_cfg ca = {
            .port_id = pa, .ip = IP_A, .udp_port = PORT, .pool = b->pool, .port = &b->aport[i]};
        struct zn_dp_stack_cfg cb = {
            .port_id = pb, .ip = ip, .udp_port = PORT, .pool = b->pool, .port = &b->p[i].port};
        unsigned idx;
        if (zn_dp_stack_init(&b->astack[i], &ca, &b->at[i]) != 0 ||
            zn_dp_stack_init(&b->p[i].stack, &cb, &b->p[i].t) != 0 ||
            zn_dp_stack_arp_static(&b->astack[i], ip, b->p[i].port.mac) != 0 ||
            zn_dp_msgr_init(&b->p[i].m, &b->p[i].t, 1, (uint8_t)(2 + i), 64, 16u << 20,
                            1000000000ull) != 0 ||
            zn_ports_mux_add(&b->mux, &b->at[i], &idx) != 0 ||
            zn_ports_mux_route(&b->mux, &(struct zn_dp_addr){ip, 0}, idx) != 0)
            return -1;
    }
    b->old_ops = *b->mt.ops;
    b->old_ops.send_frames = NULL;
    b->old_t = (struct zn_dp_transport){.ops = &b->old_ops, .ctx = b->mt.ctx, .local = local};
    if (zn_dp_msgr_init(&b->m_new, &b->mt, 1, 1, 8, 1u << 20, 1000000000ull) != 0 ||
        zn_dp_msgr_init(&b->m_old, &b->old_t, 1, 1, 8, 1u << 20, 1000000000ull) != 0)
        return -1;
    b->m_new.next_msg_id = 1ull << 40; /* distinct ids at the receivers */
    return 0;
}

static void drain(struct bench *b, uint64_t want)
{
    for (unsigned spins = 0; spins < 100000 && b->p[0].got + b->p[1].got < want; spins++) {
        uint64_t now = clock_ns(CLOCK_MONOTONIC);
        for (unsigned i = 0; i < 2; i++)
            (void)zn_dp_msgr_poll(&b->p[i].m, now, on_msg, &b->p[i]);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    long dflt[] = {64, 1024, 1416, 8192};
    unsigned n_sizes = argc > 2 ? (unsigned)(argc - 2) : 4;
    if (n < 100 || n > 10000000)
        return 2;
    static struct bench b;
    if (setup(&b) != 0) {
        fprintf(stderr, "zn_muxframes_bench: DPDK set-up failed\n");
        return 1;
    }
    static uint8_t buf[65536];
    memset(buf, 0xa5, sizeof(buf));
    printf("mux over 2 net_ring stacks, %ld messages per path and size, interleaved; send call "
           "time per message (ns, blocks of %u), CPU ns per message\n",
           n, BLOCK);
    for (unsigned s = 0; s < n_sizes; s++) {
        long len = argc > 2 ? strtol(argv[2 + s], NULL, 10) : dflt[s];
        if (len < 0 || len > 65536)
            return 2;
        struct zn_hist h[2];
        uint64_t cpu[2] = {0, 0};
        zn_hist_reset(&h[0]);
        zn_hist_reset(&h[1]);
        uint64_t sent = 0;
        /* Blocks of BLOCK sends (alternating peers) timed as one, alternating paths block by
         * block; the per-message figure of a block is one sample. */
        for (long blk = 0; blk < 2 * (n / BLOCK); blk++) {
            unsigned path = (unsigned)(blk & 1); /* 0: copy path, 1: send_frames */
            struct zn_dp_msgr *m = path ? &b.m_new : &b.m_old;
            uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
            uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
            for (unsigned i = 0; i < BLOCK; i++) {
                unsigned peer = i & 1;
                struct zn_dp_addr dst = {.ip = IP_A + 1 + peer, .port = PORT};
                int rc = zn_dp_msgr_send(m, &dst, 1, (uint8_t)(2 + peer), buf, (uint32_t)len, t0);
                if (rc != 0) {
                    fprintf(stderr, "send failed: %d\n", rc);
                    return 1;
                }
            }
            uint64_t t1 = clock_ns(CLOCK_MONOTONIC);
            uint64_t c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
            zn_hist_record(&h[path], (t1 - t0) / BLOCK);
            cpu[path] += c1 - c0;
            sent += BLOCK;
            drain(&b, sent);
        }
        n = (n / BLOCK) * BLOCK;
        for (unsigned p = 0; p < 2; p++)
            printf("%6ld B %-12s p50=%6.0f ns  p99=%6.0f ns  mean=%6.0f ns  cpu=%6.0f ns/msg\n",
                   len, p ? "send_frames" : "copy path", (double)zn_hist_percentile(&h[p], 50.0),
                   (double)zn_hist_percentile(&h[p], 99.0), zn_hist_mean(&h[p]),
                   (double)cpu[p] / (double)n);
        printf("%6ld B send_frames/copy p50 ratio %.2f\n", len,
               zn_hist_percentile(&h[1], 50.0) / (double)zn_hist_percentile(&h[0], 50.0));
        if (b.p[0].got + b.p[1].got != sent)
            printf("  (warning: %llu of %llu messages received)\n",
                   (unsigned long long)(b.p[0].got + b.p[1].got), (unsigned long long)sent);
    }
    zn_dp_eal_fini();
    return 0;
}
