/*
 * zkwake: a ZooKeeper TCP request wakes the sleeping lcore that polls the ZooKeeper port's ring
 * (node/zkport.c zkport_push_node -> dataplane zn_dp_lcore_wake).
 *
 * A real port thread (zn_zkport_start on 127.0.0.1) and a lab-policy lcore whose sleeps last
 * 30 s. Its one stage plays the node's rx stage: it attaches to the link, registers the link's
 * pending check, and answers every CONNECT with a REFUSED (session expired), which the port
 * turns into a ZooKeeper ConnectResponse with timeOut 0. Each round waits until the lcore is
 * inside a 30 s sleep (published_sleep_ns), then a TCP client sends a ConnectRequest and waits
 * up to 10 s for the response: the response can only come that soon if the push woke the
 * lcore. The kick wake counter must grow and the timer one must not. No durations are asserted
 * (the bounds only turn a lost wake-up into a failure with a message instead of a hang).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "dataplane/zn_dp_loop.h"
#include "mgmt/config.h"
#include "node/zkport.h"
#include "proto/session.h"

#define ZKWAKE_ROUNDS   3
#define ZKWAKE_SLEEP_NS (30ull * ZN_NS_PER_S)
#define ZKWAKE_BOUND_S  10

static struct zn_clock g_clock;
static struct zn_clock_system g_clock_state;

struct zkwake_stage {
    struct zn_zkport_link *link;
    _Atomic uint32_t connects; /* CONNECTs the lcore handled (answered) */
    _Atomic uint32_t others;
};

static void zkwake_on_msg(void *ctx, uint16_t conn, const uint8_t *msg, uint32_t len)
{
    struct zkwake_stage *st = ctx;
    struct zn_sess_hdr h;
    struct zn_bytes body;
    if (zn_sess_decode(msg, len, ZN_SESS_TO_SERVER, &h, &body) != 0 || h.kind != ZN_SESS_CONNECT) {
        atomic_fetch_add(&st->others, 1);
        return;
    }
    struct zn_sess_hdr r = {.kind = ZN_SESS_REFUSED, .session_id = h.session_id};
    uint8_t out[ZN_SESS_HDR_BYTES + 4];
    cr_assert_eq(zn_sess_hdr_encode(&r, out), ZN_SESS_HDR_BYTES);
    uint32_t err = htonl((uint32_t)ZK_SESSIONEXPIRED);
    memcpy(out + ZN_SESS_HDR_BYTES, &err, 4);
    zn_zkport_link_send(st->link, conn, out, sizeof(out));
    atomic_fetch_add(&st->connects, 1);
}

static unsigned zkwake_poll(void *ctx, struct zn_dp_lcore *lc, uint64_t now_ns)
{
    (void)now_ns;
    struct zkwake_stage *st = ctx;
    zn_zkport_link_attach(st->link, lc);
    return zn_zkport_link_poll(st->link, 64, zkwake_on_msg, st);
}

static bool zkwake_pending(void *ctx)
{
    struct zkwake_stage *st = ctx;
    return zn_zkport_link_pending(st->link);
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Bounded wait (10 s) until the lcore is inside one of its 30 s sleeps. */
static bool wait_long_sleep(struct zn_dp_lcore *lc)
{
    for (int i = 0; i < ZKWAKE_BOUND_S * 1000; i++) {
        if (atomic_load_explicit(&lc->published_sleep_ns, memory_order_acquire) ==
                ZKWAKE_SLEEP_NS &&
            atomic_load_explicit(&lc->asleep, memory_order_seq_cst))
            return true;
        nap_ms(1);
    }
    return false;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    v = htonl(v);
    memcpy(p, &v, 4);
}

/* A ConnectRequest frame (length prefix + the 44-byte form, new session). */
static size_t connect_frame(uint8_t *f)
{
    memset(f, 0, 48);
    put_be32(f, 44);
    put_be32(f + 4 + 12, 30000); /* protocolVersion 0, lastZxidSeen 0, timeOut 30 s */
    put_be32(f + 4 + 24, 16);    /* sessionId 0, passwd: 16 zero bytes */
    return 48;
}

/* Read exactly n bytes within the socket's receive timeout; the count read. */
static size_t read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

Test(zkwake, zk_request_wakes_sleeping_lcore)
{
    zn_clock_system_init(&g_clock, &g_clock_state);
    struct zn_config cfg;
    zn_config_defaults(&cfg);
    snprintf(cfg.zk.listen_host, sizeof(cfg.zk.listen_host), "127.0.0.1");
    struct zn_zkport *zk = NULL;
    char err[256] = "";
    uint16_t port = 0;
    for (int attempt = 0; attempt < 20 && !zk; attempt++) {
        port = (uint16_t)(31000 + (getpid() * 7 + attempt * 131) % 20000);
        cfg.mgmt.zk_port = port;
        if (zn_zkport_start(&cfg, &g_clock, "zkwake-test", &zk, err, sizeof(err)) != 0)
            zk = NULL;
    }
    cr_assert_not_null(zk, "cannot start the ZooKeeper port: %s", err);

    struct zkwake_stage st = {.link = zn_zkport_link(zk)};
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, ZN_DP_IDLE_LAB);
    idle.yield_window_ns = 1000 * 1000;
    idle.sleep_ns = ZKWAKE_SLEEP_NS;
    idle.deep_after_ns = 2 * 1000 * 1000;
    idle.deep_sleep_ns = ZKWAKE_SLEEP_NS;
    struct zn_dp_sched *s = aligned_alloc(64, sizeof(*s));
    cr_assert_eq(zn_dp_sched_init(s, 1, &idle, 64, &g_clock, false), 0);
    cr_assert_eq(zn_dp_sched_add_stage(s, "rx", zkwake_poll, NULL, &st), 0);
    cr_assert_eq(zn_dp_sched_stage_pending(s, "rx", zkwake_pending), 0);
    cr_assert_eq(zn_dp_sched_place(s, NULL), 0);
    cr_assert_eq(zn_dp_sched_start_threads(s), 0);
    struct zn_dp_lcore *lc = &s->lcores[0];

    for (unsigned round = 1; round <= ZKWAKE_ROUNDS; round++) {
        cr_assert(wait_long_sleep(lc), "round %u: the lcore never entered its 30 s sleep", round);
        uint64_t timer0 = atomic_load(&lc->published_wakes_timer);
        uint64_t kick0 = atomic_load(&lc->published_wakes_kick);
        uint64_t waits0 = atomic_load(&lc->published_waits);

        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        cr_assert_geq(fd, 0);
        struct timeval tv = {.tv_sec = ZKWAKE_BOUND_S};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                     strerror(errno));
        uint8_t f[48];
        size_t flen = connect_frame(f);
        cr_assert_eq(send(fd, f, flen, MSG_NOSIGNAL), (ssize_t)flen);
        uint8_t resp[4 + 36];
        size_t got = read_full(fd, resp, sizeof(resp));
        close(fd);
        uint32_t rlen, rto;
        memcpy(&rlen, resp, 4);
        memcpy(&rto, resp + 8, 4);
        cr_assert_eq(got, sizeof(resp),
                     "round %u: no ConnectResponse within %d s (%zu bytes): the request waited "
                     "for the lcore's 30 s sleep to end (a lost wake-up); handled %u, wakes: "
                     "kick %lu -> %lu, timer %lu -> %lu",
                     round, ZKWAKE_BOUND_S, got, atomic_load(&st.connects), (unsigned long)kick0,
                     (unsigned long)atomic_load(&lc->published_wakes_kick), (unsigned long)timer0,
                     (unsigned long)atomic_load(&lc->published_wakes_timer));
        cr_assert_eq(ntohl(rlen), 36, "round %u: response length %u", round, ntohl(rlen));
        cr_assert_eq(ntohl(rto), 0, "round %u: the refusal (timeOut 0) came back", round);
        cr_assert_eq(atomic_load(&st.connects), round, "round %u: the lcore handled %u CONNECTs",
                     round, atomic_load(&st.connects));
        /* The wake counters are published after the wait: bounded wait for the fresh value. */
        for (int i = 0;
             i < ZKWAKE_BOUND_S * 1000 && atomic_load(&lc->published_wakes_kick) == kick0; i++)
            nap_ms(1);
        uint64_t kick1 = atomic_load(&lc->published_wakes_kick);
        uint64_t timer1 = atomic_load(&lc->published_wakes_timer);
        printf("zkwake round %u: lcore in a 30 s sleep (wait #%lu); ZooKeeper ConnectRequest "
               "answered by the lcore; wakes kick %lu -> %lu, timer %lu -> %lu\n",
               round, (unsigned long)waits0, (unsigned long)kick0, (unsigned long)kick1,
               (unsigned long)timer0, (unsigned long)timer1);
        cr_assert_gt(kick1, kick0, "round %u: the kick wake counter did not grow", round);
        cr_assert_eq(timer1, timer0, "round %u: a sleep ended by its timer", round);
    }
    cr_assert_eq(atomic_load(&st.others), 0, "only CONNECTs reached the lcore");
    zn_zkport_stop(zk);
    zn_dp_sched_stop(s);
    const struct zn_dp_lcore_stats *ls = &lc->stats;
    cr_assert_eq(ls->sleeps, ls->wakes_timer + ls->wakes_kick + ls->wakes_fd + ls->sleeps_cancelled,
                 "every sleep ends for one counted reason");
    zn_dp_sched_fini(s);
    zn_zkport_free(zk);
    free(s);
}
