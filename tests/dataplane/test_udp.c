/*
 * Kernel-UDP transport on loopback: the framed exchange every transport must pass, the
 * malformed-input counters (short, wrong magic, bad checksum, oversized length, truncated
 * segment sequence, other cluster), and a client-style loop with the idle policy. Links only
 * the DPDK-free part of dataplane/ (dataplane_kudp_dep), proving clients can do the same.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/zn_clock.h"

#include "common/zn_err.h"
#include "dataplane/zn_dp_idle.h"
#include "dataplane/zn_udp.h"
#include "exchange.h"

#define LOOPBACK 0x7f000001u
#define CLUSTER  77u

struct pair {
    struct zn_udp ua, ub;
    struct zn_dp_transport ta, tb;
    struct zn_dp_msgr ma, mb;
};

static struct pair *pair_open(void)
{
    struct pair *p = calloc(1, sizeof(*p));
    struct zn_dp_addr any = {.ip = LOOPBACK, .port = 0};
    cr_assert_eq(zn_udp_open(&p->ua, &any, &p->ta), 0);
    cr_assert_eq(zn_udp_open(&p->ub, &any, &p->tb), 0);
    cr_assert_neq(p->ta.local.port, 0);
    cr_assert_eq(zn_dp_msgr_init(&p->ma, &p->ta, CLUSTER, 1, 8, 1u << 20, 50 * 1000 * 1000), 0);
    cr_assert_eq(zn_dp_msgr_init(&p->mb, &p->tb, CLUSTER, 2, 8, 1u << 20, 50 * 1000 * 1000), 0);
    return p;
}

static void pair_close(struct pair *p)
{
    zn_dp_msgr_fini(&p->ma);
    zn_dp_msgr_fini(&p->mb);
    zn_udp_close(&p->ua);
    zn_udp_close(&p->ub);
    free(p);
}

Test(udp, framed_exchange)
{
    struct pair *p = pair_open();
    unsigned ok = exchange_pair(&p->ma, &p->mb, &p->ta.local, &p->tb.local, 5, 10ull * ZN_NS_PER_S);
    cr_assert_eq(ok, 5 * 7, "verified %u round trips", ok);
    cr_assert_eq(p->mb.stats.drop_malformed + p->mb.stats.drop_checksum, 0);
    cr_assert_gt(p->ma.stats.rx_msgs, 0);
    printf("udp: %u verified round trips, %lu frames sent by a\n", ok,
           (unsigned long)p->ma.stats.tx_frames);
    pair_close(p);
}

static void ignore(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    (void)msg;
    (*(int *)ctx)++;
}

static int poll_until(struct zn_dp_msgr *m, uint64_t frames, int *delivered)
{
    uint64_t deadline = exchange_now_ns() + 2ull * ZN_NS_PER_S;
    while (m->stats.rx_frames < frames && exchange_now_ns() < deadline)
        zn_dp_msgr_poll(m, exchange_now_ns(), ignore, delivered);
    return (int)m->stats.rx_frames;
}

static void send_raw(struct pair *p, const void *data, uint32_t len)
{
    struct zn_dp_dgram d = {.peer = p->tb.local, .len = len, .data = (uint8_t *)(uintptr_t)data};
    cr_assert_eq(zn_dp_send(&p->ta, &d, 1, 0), 1);
}

Test(udp, malformed_input_dropped_and_counted)
{
    struct pair *p = pair_open();
    uint8_t good[ZN_FRAME_DGRAM_MAX_BYTES], bad[ZN_FRAME_DGRAM_MAX_BYTES];
    struct zn_frame_hdr base = {.type = ZN_FRAME_PEER, .sender = 1, .cluster_id = CLUSTER};
    struct zn_frame_hdr h;
    zn_frame_segment(&base, 100, 0, &h);
    uint8_t body[100] = {1, 2, 3};
    int n = zn_frame_encode(&h, body, good, sizeof(good));
    cr_assert_gt(n, 0);
    send_raw(p, good, 10); /* short */
    memcpy(bad, good, (size_t)n);
    bad[0] = 'X'; /* wrong magic */
    send_raw(p, bad, (uint32_t)n);
    memcpy(bad, good, (size_t)n);
    bad[ZN_FRAME_HDR_BYTES + 5] ^= 1; /* corrupted payload */
    send_raw(p, bad, (uint32_t)n);
    memcpy(bad, good, (size_t)n);
    uint32_t big = ZN_MSG_SIZE_MAX_BYTES + 1; /* oversized length */
    memcpy(bad + 20, &big, 4);
    send_raw(p, bad, (uint32_t)n);
    struct zn_frame_hdr other = h;
    other.cluster_id = CLUSTER + 1; /* another cluster */
    int m = zn_frame_encode(&other, body, bad, sizeof(bad));
    send_raw(p, bad, (uint32_t)m);
    send_raw(p, good, (uint32_t)n); /* and one good message */
    /* truncated segment sequence: the first 2 of 3 segments of a 3000-byte message */
    base.msg_id = 99;
    uint8_t big_body[3000] = {0};
    for (uint32_t i = 0; i < 2; i++) {
        long off = zn_frame_segment(&base, 3000, i, &h);
        m = zn_frame_encode(&h, big_body + off, bad, sizeof(bad));
        send_raw(p, bad, (uint32_t)m);
    }
    int delivered = 0;
    cr_assert_eq(poll_until(&p->mb, 8, &delivered), 8);
    cr_assert_eq(delivered, 1, "only the good message is delivered");
    cr_assert_eq(p->mb.stats.drop_malformed, 2, "short + wrong magic");
    cr_assert_eq(p->mb.stats.drop_checksum, 1);
    cr_assert_eq(p->mb.stats.drop_oversize, 1);
    cr_assert_eq(p->mb.stats.drop_cluster, 1);
    cr_assert_eq(p->mb.reasm.stats.slots_in_use, 1);
    zn_dp_msgr_housekeeping(&p->mb, exchange_now_ns() + ZN_NS_PER_S);
    cr_assert_eq(p->mb.reasm.stats.timeouts, 1, "truncated sequence expired");
    cr_assert_eq(p->mb.reasm.stats.bytes_in_use, 0);
    /* an oversized datagram (beyond one frame) is dropped by the transport itself */
    uint8_t huge[2000] = {0};
    struct zn_dp_dgram d = {.peer = p->tb.local, .len = sizeof(huge), .data = huge};
    cr_assert_eq(zn_dp_send(&p->ta, &d, 1, 0), 1);
    cr_assert_eq(p->ua.tx_oversized, 1);
    pair_close(p);
}

struct echo_stage {
    struct zn_dp_msgr *m;
    uint64_t now;
};

static void stage_echo(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct echo_stage *es = ctx;
    zn_dp_msgr_send(es->m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, es->now);
}

/* A client-style loop without any lcore framework: kernel UDP + zn_dp_idle (lab). */
struct plain_echo {
    struct zn_dp_msgr *m;
    struct zn_dp_idle idle;
    _Atomic bool stop;
    _Atomic uint64_t deep_sleeps; /* published copy of idle.deep_sleeps */
};

static void *plain_echo_main(void *arg)
{
    struct plain_echo *pe = arg;
    static struct zn_clock clock;
    static struct zn_clock_system cs;
    zn_clock_system_init(&clock, &cs);
    struct zn_dp_idle_cfg cfg;
    zn_dp_idle_default(&cfg, ZN_DP_IDLE_LAB);
    uint64_t now = zn_clock_monotonic_ns(&clock);
    zn_dp_idle_init(&pe->idle, &cfg, now);
    struct echo_stage es = {.m = pe->m};
    while (!atomic_load(&pe->stop)) {
        es.now = now;
        int work = zn_dp_msgr_poll(pe->m, now, stage_echo, &es);
        now = zn_dp_idle_after_poll(&pe->idle, (unsigned)work, now, &clock);
        atomic_store(&pe->deep_sleeps, pe->idle.deep_sleeps);
    }
    return NULL;
}

Test(udp, exchange_with_plain_loop_and_idle_policy)
{
    struct pair *p = pair_open();
    struct plain_echo *pe = calloc(1, sizeof(*pe));
    pe->m = &p->mb;
    atomic_init(&pe->stop, false);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, plain_echo_main, pe), 0);
    unsigned ok = exchange_with_echo(&p->ma, &p->tb.local, 2, 10ull * ZN_NS_PER_S);
    /* Wait (bounded; the machine may be busy) until the peer is in the deep-sleep tier, then
     * one more exchange must wake it. */
    for (int i = 0; i < 500 && atomic_load(&pe->deep_sleeps) == 0; i++) {
        struct timespec ts = {0, 4 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ok += exchange_with_echo(&p->ma, &p->tb.local, 1, 10ull * ZN_NS_PER_S);
    atomic_store(&pe->stop, true);
    pthread_join(th, NULL);
    cr_assert_eq(ok, 3 * 7, "verified %u", ok);
    cr_assert_gt(pe->idle.yields, 0);
    cr_assert_gt(atomic_load(&pe->deep_sleeps), 0, "went into deep sleep while idle");
    free(pe);
    pair_close(p);
}
