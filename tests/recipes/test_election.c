/*
 * test_election.c - Ring-style and Bully-style election with N candidates, each its own
 * session:  test_election ring|bully N
 *
 * Checks: the expected candidate leads (Ring: join order; Bully: priority, ties by join order);
 * at every ELECTED no other live candidate believes it leads, and ELECTED tokens strictly
 * increase; failovers - (1) the leader's node is muted (fake node): it reports ZR_LOST on
 * suspension, then its session is expired, a new leader is elected and does a fenced write;
 * the old leader, back, sees its session ended and its fenced writes are rejected (its own
 * handle: expired; its stale token through a live session: ZN_ESTALE; its fence node:
 * ZN_ENONODE); (2) the leader's session is closed; (3) the leader's session is expired
 * (crash) - each time the next expected candidate leads; then Bully: a higher-priority
 * newcomer takes over by hand-off; Ring: a newcomer goes last and the succession order holds.
 * With ZN_TEST_CONNECT set (a real cluster), the fault-knob steps (mute, expire) are skipped.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/recipes/rt_harness.h"

#define MAXC    64
#define WAIT_MS 15000

struct cand {
    int idx;
    zr_session *s;
    zr_election *e;
    uint32_t prio;
    bool dead;     /* killed/closed/crashed by the test: no longer counts as live */
    bool believes; /* leader according to its callbacks */
    int lost_events, yield_events, ended;
    int64_t sid;
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cand g_c[MAXC + 2];
static int g_n;
static int64_t g_last_token;
static struct cand *g_last_cand;
static int g_elected, g_overlap, g_token_regress;

static void on_event(zr_election *e, int ev, int64_t token, void *ctx)
{
    (void)e;
    struct cand *c = ctx;
    pthread_mutex_lock(&g_mu);
    if (ev == ZR_ELECTED) {
        g_elected++;
        for (int i = 0; i < g_n; i++)
            if (&g_c[i] != c && !g_c[i].dead && g_c[i].believes) {
                g_overlap++;
                fprintf(stderr, "overlap: %d elected while %d believes it leads\n", c->idx, i);
            }
        /* The same term again is fine for the same candidate: reported lost on a suspension
         * (a loaded machine), its node survived, so it leads again with the same token. */
        if (token < g_last_token || (token == g_last_token && c != g_last_cand)) {
            g_token_regress++;
            fprintf(stderr, "token regress: %lld after %lld\n", (long long)token,
                    (long long)g_last_token);
        }
        g_last_token = token;
        g_last_cand = c;
        c->believes = true;
    } else if (ev == ZR_LOST) {
        c->believes = false;
        c->lost_events++;
    } else if (ev == ZR_YIELD_REQUESTED) {
        c->yield_events++;
    } else if (ev == ZR_ENDED) {
        c->believes = false;
        c->ended++;
    }
    pthread_mutex_unlock(&g_mu);
}

static int style;
static char dir[128], reg[160];
static struct rt_env env;
static zr_session *admin;

/* Expected leader: the best live candidate. */
static int expected(void)
{
    int best = -1;
    for (int i = 0; i < g_n; i++) {
        if (g_c[i].dead)
            continue;
        if (best < 0 || (style == ZR_ELECT_BULLY && g_c[i].prio > g_c[best].prio))
            best = i;
    }
    return best;
}

static int64_t wait_leader(int i)
{
    int64_t token = 0;
    int rc = zr_election_wait_leader(g_c[i].e, WAIT_MS, &token);
    RT_CHECK(rc == 0, "candidate %d did not become leader: %s", i, zn_strerror(rc));
    for (int j = 0; j < g_n; j++)
        if (j != i && !g_c[j].dead)
            RT_CHECK(!zr_election_is_leader(g_c[j].e, NULL), "%d also leads", j);
    char node[256];
    RT_CHECK(zr_election_leader_node(g_c[i].e, node, sizeof(node)) == 0, "leader node");
    char val[32];
    int n = snprintf(val, sizeof(val), "leader-%d", i);
    rc = zr_register_write(zr_session_handle(g_c[i].s), reg, node, token, val, n);
    RT_CHECK(rc == 0, "fenced write of leader %d: %s", i, zn_strerror(rc));
    return token;
}

static void join(int i, const char *hosts)
{
    struct cand *c = &g_c[i];
    c->idx = i;
    int orc = rt_open(&env, hosts, 1500, &c->s);
    RT_CHECK(orc == 0, "open %d: %s", i, zn_strerror(orc));
    c->sid = zn_session_id(zr_session_handle(c->s));
    struct zr_election_opts o = {style, c->prio, "payload", 7, true, on_event, c};
    pthread_mutex_lock(&g_mu);
    g_n = i + 1 > g_n ? i + 1 : g_n;
    pthread_mutex_unlock(&g_mu);
    int rc = zr_election_join(c->s, dir, &o, &c->e);
    RT_CHECK(rc == 0, "join %d: %s", i, zn_strerror(rc));
}

static uint64_t live_events(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < g_n; i++) {
        if (g_c[i].dead)
            continue;
        struct zn_client_stats st;
        zn_get_stats(zr_session_handle(g_c[i].s), &st);
        sum += st.events;
    }
    return sum;
}

/* Reconnections of the live candidates' sessions (each re-registers watches, which may deliver
 * events of its own: a round with one does not measure the herd). */
static uint64_t live_reconnects(void)
{
    uint64_t sum = 0;
    for (int i = 0; i < g_n; i++) {
        if (g_c[i].dead)
            continue;
        struct zn_client_stats st;
        zn_get_stats(zr_session_handle(g_c[i].s), &st);
        sum += st.reconnects;
    }
    return sum;
}

static void mark_dead(int i)
{
    pthread_mutex_lock(&g_mu);
    g_c[i].dead = true;
    g_c[i].believes = false;
    pthread_mutex_unlock(&g_mu);
}

/* Bully under racing joins: N candidates join at once from N threads with priorities 0..N-1;
 * the highest must end up leading (every hand-off request survives the races between
 * requesters), R rounds. */
static void *race_join(void *arg)
{
    join((int)(intptr_t)arg, NULL);
    return NULL;
}

static int bully_race(int n)
{
    style = ZR_ELECT_BULLY;
    int64_t t0 = rt_now_us();
    for (int round = 0; round < 5; round++) {
        snprintf(dir, sizeof(dir), "/test-bully-race-%d-%d", round, (int)getpid());
        memset(g_c, 0, sizeof(g_c));
        g_n = 0;
        g_last_token = 0;
        g_last_cand = NULL;
        if (env.fake) { /* a fresh fake cluster: its 64 session slots are not reused */
            rt_env_fini(&env);
            RT_CHECK(rt_env_init(&env) == 0, "environment");
        }
        pthread_t t[MAXC];
        for (int i = 0; i < n; i++) {
            g_c[i].prio = (uint32_t)i;
            pthread_create(&t[i], NULL, race_join, (void *)(intptr_t)i);
        }
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
        int64_t token = 0;
        int rc = zr_election_wait_leader(g_c[n - 1].e, WAIT_MS, &token);
        RT_CHECK(rc == 0, "round %d: the highest priority does not lead: %s", round,
                 zn_strerror(rc));
        for (int i = 0; i < n - 1; i++)
            RT_CHECK(!zr_election_is_leader(g_c[i].e, NULL), "round %d: %d also leads", round, i);
        for (int i = 0; i < n; i++) {
            mark_dead(i);
            zr_session_close(g_c[i].s);
        }
    }
    pthread_mutex_lock(&g_mu);
    int overlap = g_overlap;
    pthread_mutex_unlock(&g_mu);
    RT_CHECK(overlap == 0, "%d overlapping leaderships", overlap);
    rt_env_fini(&env);
    printf("PASS bully-race N=%d: 5 rounds of simultaneous joins, the highest priority leads "
           "each time, no overlap (%.1f s)\n",
           n, (rt_now_us() - t0) / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "bully-race") == 0) {
        RT_CHECK(rt_env_init(&env) == 0, "environment");
        int n = (int)strtol(argv[2], NULL, 10);
        RT_CHECK(n >= 2 && n <= MAXC, "N");
        return bully_race(n);
    }
    if (argc != 3) {
        fprintf(stderr, "usage: test_election ring|bully N\n");
        return 2;
    }
    style = strcmp(argv[1], "bully") == 0 ? ZR_ELECT_BULLY : ZR_ELECT_RING;
    int n = (int)strtol(argv[2], NULL, 10);
    RT_CHECK(n >= 3 && n <= MAXC, "N in 3..%d", MAXC);
    RT_CHECK(rt_env_init(&env) == 0, "environment");
    snprintf(dir, sizeof(dir), "/test-election-%s-%d-%d", argv[1], n, (int)getpid());
    snprintf(reg, sizeof(reg), "%s-register", dir);
    RT_CHECK(rt_open(&env, NULL, 5000, &admin) == 0, "admin session");
    zn_handle *ah = zr_session_handle(admin);
    int64_t t0 = rt_now_us();

    /* Priorities: i / 2 (pairs tie: the earlier joiner ranks first). */
    for (int i = 0; i < n; i++)
        g_c[i].prio = (uint32_t)(i / 2);
    int first = style == ZR_ELECT_RING ? 0 : (n % 2 == 0 ? n - 2 : n - 1);
    /* The first leader connects to server A only (muted later); everyone else to B. */
    for (int i = 0; i < n; i++)
        join(i, env.fake ? (i == first ? env.host_a : env.host_b) : NULL);
    int lead = expected();
    RT_CHECK(lead == first, "expected leader %d computed %d", first, lead);
    int64_t tok = wait_leader(lead);
    printf("%s N=%d: leader %d token %lld after %d joins (%.0f ms)\n", argv[1], n, lead,
           (long long)tok, n, (rt_now_us() - t0) / 1000.0);

    /* The admin session wrote nothing here: without a sync it may read from a node that has
     * not applied the last joins yet (ZooKeeper read semantics; seen on zincd at load 20:
     * "ring 50: list has 49 of 50"). */
    RT_CHECK(zn_sync(ah, dir) == 0, "sync before listing other sessions' candidates");
    struct zn_strings names = {0, NULL};
    RT_CHECK(zr_election_list(ah, dir, style, &names) == 0, "list");
    if (names.count != n)
        for (int i = 0; i < n; i++) {
            bool seen = false;
            for (int32_t k = 0; k < names.count; k++)
                seen = seen || strcmp(names.data[k], zr_election_name(g_c[i].e)) == 0;
            if (!seen)
                fprintf(stderr, "candidate %d (%s) missing; its session state %d\n", i,
                        zr_election_name(g_c[i].e), zn_state(zr_session_handle(g_c[i].s)));
        }
    RT_CHECK(names.count == n, "list has %d of %d", names.count, n);
    RT_CHECK(strcmp(names.data[0], zr_election_name(g_c[lead].e)) == 0, "list[0] is leader");
    zn_strings_free(&names);

    if (env.fake) {
        /* (1) suspension then expiry of the leader. */
        int old = lead;
        int64_t old_tok = tok;
        char old_node[256];
        RT_CHECK(zr_election_leader_node(g_c[old].e, old_node, sizeof(old_node)) == 0, "node");
        rt_mute_a(&env, true);
        int64_t d = rt_now_us() + WAIT_MS * 1000LL;
        while (zr_election_is_leader(g_c[old].e, NULL) && rt_now_us() < d)
            rt_sleep_ms(10);
        RT_CHECK(!zr_election_is_leader(g_c[old].e, NULL), "leader not lost on suspension");
        RT_CHECK(g_c[old].lost_events == 1, "ZR_LOST on suspension (%d)", g_c[old].lost_events);
        printf("  suspended leader %d reported ZR_LOST after %.0f ms of silence\n", old,
               (rt_now_us() - (d - WAIT_MS * 1000LL)) / 1000.0);
        mark_dead(old);
        int reaped = rt_crash(&env, ah, dir, g_c[old].sid);
        RT_CHECK(reaped >= 1, "expired leader's nodes removed (%d)", reaped);
        lead = expected();
        tok = wait_leader(lead);
        RT_CHECK(tok > old_tok, "token %lld > %lld", (long long)tok, (long long)old_tok);
        printf("  after suspension+expiry of %d: leader %d token %lld\n", old, lead,
               (long long)tok);
        rt_mute_a(&env, false);
        d = rt_now_us() + WAIT_MS * 1000LL;
        while (zn_state(zr_session_handle(g_c[old].s)) != ZN_STATE_EXPIRED && rt_now_us() < d)
            rt_sleep_ms(10);
        RT_CHECK(zn_state(zr_session_handle(g_c[old].s)) == ZN_STATE_EXPIRED, "old expired");
        int rc = zr_register_write(zr_session_handle(g_c[old].s), reg, old_node, old_tok, "x", 1);
        RT_CHECK(rc == ZN_ESESSIONEXPIRED, "old leader's write: %s", zn_strerror(rc));
        rc = zr_register_write(ah, reg, NULL, old_tok, "stale", 5);
        RT_CHECK(rc == ZN_ESTALE, "stale token at the register: %s", zn_strerror(rc));
        struct zn_op op;
        struct zn_op_result res[2];
        memset(res, 0, sizeof(res));
        zn_op_set(&op, reg, "stale", 5, -1);
        rc = zr_fenced_multi(ah, old_node, 1, &op, res);
        zn_op_results_free(res, 2);
        RT_CHECK(rc == ZN_ENONODE, "fenced multi on the old node: %s", zn_strerror(rc));
        RT_CHECK(g_c[old].ended == 1, "old leader got ZR_ENDED");
        printf("  old leader's fenced writes rejected (expired session; stale token: ESTALE)\n");
    }
    /* (2) close the leader's session: herd-free - the watch events delivered to all live
     * candidates for this failover are 1 (Ring: the successor) or at most 2 for Bully whatever
     * N: the next-ranked, and the candidate that watched the leader's node as its predecessor
     * just before the leader's tie partner joined between them (priorities come in pairs here)
     * and had no reason to look again. A candidate that does look again removes its watch on
     * the former predecessor (zr_election.c watch_pred; before that: up to 3 events at N = 10
     * on zincd). A herd would be about N. */
    {
        int old = lead;
        /* Settle first: events of earlier steps (Bully hand-offs while joining) still on their
         * way would be counted as this failover's (seen on a loaded machine: 3 events). */
        for (int i = 0; i < 50; i++) {
            uint64_t e1 = live_events();
            rt_sleep_ms(100);
            if (live_events() == e1)
                break;
        }
        mark_dead(old);
        uint64_t ev0 = live_events(), rc0 = live_reconnects();
        RT_CHECK(zr_session_close(g_c[old].s) == 0, "close");
        lead = expected();
        int64_t t = wait_leader(lead);
        RT_CHECK(t > tok, "token order");
        tok = t;
        rt_sleep_ms(100);
        uint64_t ev = live_events() - ev0;
        printf("  after close of %d: leader %d token %lld, %llu watch event(s) among %d "
               "candidates\n",
               old, lead, (long long)tok, (unsigned long long)ev, g_n);
        uint64_t reconnects = live_reconnects() - rc0;
        if (reconnects > 0) /* a loaded machine: watches re-registered, extra events are legit */
            printf("  herd not measured this round: %llu session reconnect(s)\n",
                   (unsigned long long)reconnects);
        else
            RT_CHECK(ev >= 1 && ev <= (style == ZR_ELECT_RING ? 1u : 2u), "herd: %llu events",
                     (unsigned long long)ev);
    }
    /* (3) crash (expire) the leader. */
    if (env.fake && expected() >= 0) {
        int alive = 0;
        for (int i = 0; i < g_n; i++)
            alive += !g_c[i].dead;
        if (alive >= 2) {
            int old = lead;
            mark_dead(old);
            RT_CHECK(rt_crash(&env, ah, dir, g_c[old].sid) >= 1, "crash reaped nothing");
            lead = expected();
            int64_t t = wait_leader(lead);
            RT_CHECK(t > tok, "token order");
            tok = t;
            printf("  after crash of %d: leader %d token %lld\n", old, lead, (long long)tok);
        }
    }
    /* (4) a newcomer. */
    int nc = g_n;
    g_c[nc].prio = 1000;
    join(nc, env.fake ? env.host_b : NULL);
    if (style == ZR_ELECT_BULLY) {
        int old = lead;
        tok = wait_leader(nc);
        RT_CHECK(g_c[old].yield_events >= 1, "old leader was asked to yield");
        RT_CHECK(!zr_election_is_leader(g_c[old].e, NULL), "old leader yielded");
        printf("  newcomer %d (priority 1000) took over from %d by hand-off, token %lld\n", nc, old,
               (long long)tok);
    } else {
        rt_sleep_ms(200);
        RT_CHECK(zr_election_is_leader(g_c[lead].e, NULL), "leader unchanged by a newcomer");
        RT_CHECK(!zr_election_is_leader(g_c[nc].e, NULL), "newcomer does not lead");
        /* Succession order: kill leaders one by one, each next in join order leads. */
        int steps = 0;
        while (steps < 3) {
            int old = lead;
            mark_dead(old);
            RT_CHECK(zr_session_close(g_c[old].s) == 0, "close");
            lead = expected();
            if (lead < 0 || lead == nc)
                break;
            RT_CHECK(lead == old + 1 || g_c[old + 1].dead, "succession");
            tok = wait_leader(lead);
            steps++;
        }
        printf("  newcomer %d went last; %d more successions in join order\n", nc, steps);
    }
    pthread_mutex_lock(&g_mu);
    int overlap = g_overlap, regress = g_token_regress, elected = g_elected;
    pthread_mutex_unlock(&g_mu);
    RT_CHECK(overlap == 0, "%d overlapping leaderships", overlap);
    RT_CHECK(regress == 0, "%d token regressions", regress);
    int64_t rtok;
    char val[64];
    int32_t vl = sizeof(val);
    /* Another session wrote the register: as in ZooKeeper, only a sync makes this session's
     * next read see it (reads are ordered per session; this one may sit on a lagging node). */
    RT_CHECK(zn_sync(ah, reg) == 0, "sync before reading another session's write");
    RT_CHECK(zr_register_read(ah, reg, &rtok, val, &vl) == 0, "read register");
    RT_CHECK(rtok == tok, "register holds the last leader's token");
    for (int i = 0; i <= nc; i++)
        if (!g_c[i].dead) {
            mark_dead(i);
            if (g_c[i].e)
                (void)zr_election_leave(g_c[i].e);
            zr_session_close(g_c[i].s);
        }
    zr_session_close(admin);
    rt_env_fini(&env);
    printf("PASS %s N=%d: %d terms, tokens strictly increasing, no overlap, %.1f s\n", argv[1], n,
           elected, (rt_now_us() - t0) / 1e6);
    return 0;
}
