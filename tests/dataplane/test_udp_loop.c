/*
 * Kernel-UDP transport with the peer as a stage of the lcore poll loop (lab idle policy).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/zn_clock.h"

#include "common/zn_err.h"
#include "dataplane/zn_dp_loop.h"
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

struct echo_stage {
    struct zn_dp_msgr *m;
    uint64_t now;
};

static void stage_echo(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct echo_stage *es = ctx;
    zn_dp_msgr_send(es->m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, es->now);
}

static unsigned echo_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)lc;
    struct echo_stage *es = ctx;
    es->now = now_ns;
    return (unsigned)zn_dp_msgr_poll(es->m, now_ns, stage_echo, es);
}

Test(udp, exchange_with_peer_in_poll_loop)
{
    struct pair *p = pair_open();
    static struct zn_clock clock;
    static struct zn_clock_system cs;
    zn_clock_system_init(&clock, &cs);
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &clock, false), 0);
    struct echo_stage es = {.m = &p->mb};
    cr_assert_eq(zn_dp_sched_add_stage(s, "echo", echo_poll, NULL, &es), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    unsigned ok = exchange_with_echo(&p->ma, &p->tb.local, 3, 10ull * ZN_NS_PER_S);
    /* the peer falls asleep (bounded wait: the machine may be busy); the next exchange wakes it */
    for (int i = 0; i < 500 && atomic_load(&s->lcores[0].published_sleeps) == 0; i++) {
        struct timespec ts = {0, 4 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ok += exchange_with_echo(&p->ma, &p->tb.local, 1, 10ull * ZN_NS_PER_S);
    zn_dp_sched_stop(s);
    cr_assert_eq(ok, 4 * 7, "verified %u", ok);
    cr_assert_gt(s->lcores[0].stats.sleeps, 0);
    zn_dp_sched_fini(s);
    free(s);
    pair_close(p);
}
