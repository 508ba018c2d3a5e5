/*
 * Fuzz target: the dataplane stack's receive path (Ethernet, ARP, IPv4, UDP, ICMP) with
 * untrusted frames.
 *
 * Once per process: a lab EAL (no ports from the command line), a net_ring pair and a stack
 * instance on port A (10.99.0.1:7000, with a static ARP entry for 10.99.0.2). Each input is one
 * frame: copied into an mbuf (the bytes after the frame are poisoned under ASan so any read past
 * the frame's length is caught), injected with zn_dp_stack_input, delivered datagrams are read
 * to the last byte, replies (ARP, ICMP) are drained from port B, and housekeeping runs. Checked:
 * every frame is accounted for (delivered, answered or counted as exactly one drop).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "common/zn_assert.h"
#include "common/zn_log.h"
#include "dataplane/zn_dp_stack.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_env {
    struct rte_mempool *pool;
    uint16_t pa, pb;
    struct zn_dp_port_info info;
    struct zn_dp_stack stack;
    struct zn_dp_transport t;
    uint64_t now;
};

static struct fuzz_env *env;

/* ZN_FUZZ_VERBOSE=1 prints the counters at exit (to see what a corpus exercises). */
static void print_counters(void)
{
    zn_dp_stack_stats_print(&env->stack, stdout, false);
}

static struct fuzz_env *env_get(void)
{
    if (env != NULL)
        return env;
    zn_log_set_level(ZN_LOG_ERROR);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "zn-fuzz-stack-%d", (int)getpid());
    char rundir[64];
    snprintf(rundir, sizeof(rundir), "/tmp/zn-dpdk-run-%u", (unsigned)getuid());
    struct zn_dp_eal_cfg cfg = {.file_prefix = prefix,
                                .runtime_dir = rundir,
                                .lcores = "0@(0,1)",
                                .lab = true,
                                .mem_mb = 256,
                                .log_level = "error"};
    ZN_ASSERT(zn_dp_eal_init(&cfg) == 0);
    env = calloc(1, sizeof(*env));
    ZN_ASSERT(env != NULL);
    ZN_ASSERT(zn_dp_port_ring_pair("zf", 1, &env->pa, &env->pb) == 0);
    env->pool = zn_dp_pool_create("zf_pool", 2, 1);
    ZN_ASSERT(env->pool != NULL);
    struct zn_dp_port_info ib;
    ZN_ASSERT(zn_dp_port_start(env->pa, 1, env->pool, &env->info) == 0);
    ZN_ASSERT(zn_dp_port_start(env->pb, 1, env->pool, &ib) == 0);
    struct zn_dp_stack_cfg scfg = {.port_id = env->pa,
                                   .ip = 0x0a630001u,
                                   .udp_port = 7000,
                                   .pool = env->pool,
                                   .port = &env->info,
                                   .arp_retry_ns = 1000,
                                   .arp_ttl_ns = 100000};
    ZN_ASSERT(zn_dp_stack_init(&env->stack, &scfg, &env->t) == 0);
    uint8_t mac[6] = {2, 0, 0, 0, 0, 2};
    ZN_ASSERT(zn_dp_stack_arp_static(&env->stack, 0x0a630002u, mac) == 0);
    if (getenv("ZN_FUZZ_VERBOSE") != NULL)
        atexit(print_counters);
    return env;
}

static uint64_t drops(const struct zn_dp_stack_stats *st)
{
    uint64_t n = 0;
#define FUZZ_SUM_(name, text)            \
    if (strncmp(#name, "drop_", 5) == 0) \
        n += st->name;
    ZN_DP_STACK_COUNTERS(FUZZ_SUM_)
#undef FUZZ_SUM_
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_env *e = env_get();
    if (size > 1514)
        size = 1514;
    struct rte_mbuf *m = rte_pktmbuf_alloc(e->pool);
    ZN_ASSERT(m != NULL);
    /* Place the frame at the end of the buffer and poison what follows it. */
    uint16_t room = (uint16_t)(m->buf_len - RTE_PKTMBUF_HEADROOM);
    ZN_ASSERT(room >= size);
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)size);
    ZN_ASSERT(p != NULL || size == 0);
    if (size > 0)
        memcpy(p, data, size);
    uint8_t *tail = rte_pktmbuf_mtod_offset(m, uint8_t *, size);
    size_t tail_len = (size_t)(room - size);
    POISON(tail, tail_len);
    struct zn_dp_stack_stats before = e->stack.stats;
    uint64_t drops_before = drops(&before);
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    e->now += 1000;
    int n = zn_dp_stack_input(&e->stack, &m, 1, dg, ZN_DP_BURST_MAX, e->now);
    ZN_ASSERT(n == 0 || n == 1);
    volatile uint8_t sink = 0;
    for (int i = 0; i < n; i++) {
        ZN_ASSERT(dg[i].len <= ZN_DGRAM_PAYLOAD_MAX_BYTES);
        for (uint32_t k = 0; k < dg[i].len; k++)
            sink ^= dg[i].data[k];
    }
    (void)sink;
    uint64_t answered = (e->stack.stats.arp_req_in - before.arp_req_in) +
                        (e->stack.stats.icmp_echo - before.icmp_echo) +
                        (e->stack.stats.arp_reply_in - before.arp_reply_in);
    uint64_t dropped = drops(&e->stack.stats) - drops_before;
    ZN_ASSERT((uint64_t)n + answered + dropped == 1);
    /* Release the views (a new receive does), then unpoison before the mbuf goes back. */
    UNPOISON(tail, tail_len);
    zn_dp_stack_input(&e->stack, NULL, 0, dg, ZN_DP_BURST_MAX, e->now);
    e->t.ops->housekeeping(e->t.ctx, e->now);
    struct rte_mbuf *out[32];
    uint16_t got;
    while ((got = rte_eth_rx_burst(e->pb, 0, out, 32)) > 0)
        rte_pktmbuf_free_bulk(out, got);
    return 0;
}
