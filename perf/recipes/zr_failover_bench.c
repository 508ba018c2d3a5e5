/*
 * zr_failover_bench.c - leader failover of the election recipes: time from "leader gone" (its
 * session closed) to the new leader's first fenced write acknowledged, and the server
 * operations (requests sent) and notifications (events delivered) that all candidates spend
 * per failover, for Ring (succession chain), Bully, and a naive baseline where every candidate
 * watches the leader node and re-reads the candidate list when it goes (the herd).
 *
 *   zr_failover_bench [--connect HOSTS] [--cluster-id ID] [--n 3,10,30,60,100] [--failovers K]
 *                     [--kill] [--session-ms MS]
 *
 * --kill (needs --connect): the K leaders to be are separate processes (re-executions of this
 * program; Ring and naive: the first K joiners, Bully: the K highest priorities) and each
 * failover is a kill -9 of the leader, so it includes the detection (the cluster expires the
 * dead leader's session after --session-ms, default 1000 there): the time runs from the kill
 * to the new leader's first fenced write acknowledged (a leader in a child process reports its
 * acknowledgement time, CLOCK_MONOTONIC, through shared memory). Operations and events per
 * failover are counted over the in-process candidates only, so in this mode they are not
 * printed (the close mode counts them over all candidates).
 *
 * Without --connect it starts the in-process fake node of tests/client (figures are then NOT
 * zinc cluster figures: the fake node is a single-threaded loopback test server). Each
 * candidate is its own session (one libzinc I/O thread each). Not asserted by any test.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/recipes/rt_harness.h"

#define NMAX       128
#define FAKE_N_MAX 62 /* the fake node's 64 session slots, minus spares */

enum { NAIVE = 3 };

struct cand {
    int idx;
    zr_session *s;
    zr_election *e;
    bool dead;
    /* naive */
    char node[256];
    char name[64];
    int64_t czxid;
    atomic_bool leader;
};

static struct rt_env env;
static struct cand cands[NMAX];
static int g_n, g_style;
static char dir[128], reg[160];
static atomic_int new_leader = -1;
static uint32_t session_ms = 4000;

/* --kill: what the leader processes report (shared with them). */
struct kslot {
    atomic_int ready;      /* joined */
    atomic_llong acked_us; /* its first fenced write as leader acknowledged (rt_now_us) */
    atomic_int failed;
};
static struct kslot *kshm;
static int kshm_fd = -1;
static pid_t kpid[NMAX];
static bool kchild[NMAX];

static pthread_mutex_t lead_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lead_cv = PTHREAD_COND_INITIALIZER;

static void on_event(zr_election *e, int ev, int64_t token, void *ctx)
{
    (void)e;
    (void)token;
    struct cand *c = ctx;
    if (ev == ZR_ELECTED) {
        pthread_mutex_lock(&lead_mu);
        atomic_store(&new_leader, c->idx);
        pthread_cond_broadcast(&lead_cv);
        pthread_mutex_unlock(&lead_mu);
    }
}

/* ---- naive baseline: everyone watches the leader node ------------------------------------- */

static void naive_check(struct cand *c);

static void naive_watch(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)path;
    struct cand *c = ctx;
    if (type != ZN_EVENT_SESSION && !c->dead)
        naive_check(c);
}

static void naive_exists_done(int rc, const struct zn_stat *st, const void *data)
{
    (void)st;
    struct cand *c = (struct cand *)data;
    if (rc == ZN_ENONODE && !c->dead)
        naive_check(c);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void naive_children(int rc, const struct zn_strings *ch, const void *data)
{
    struct cand *c = (struct cand *)data;
    if (rc != 0 || c->dead || ch->count == 0)
        return;
    char **v = malloc(sizeof(char *) * (size_t)ch->count);
    if (v == NULL)
        return;
    memcpy(v, ch->data, sizeof(char *) * (size_t)ch->count);
    qsort(v, (size_t)ch->count, sizeof(char *), str_cmp);
    if (strcmp(v[0], c->name) == 0) {
        if (!atomic_exchange(&c->leader, true)) {
            pthread_mutex_lock(&lead_mu);
            atomic_store(&new_leader, c->idx);
            pthread_cond_broadcast(&lead_cv);
            pthread_mutex_unlock(&lead_mu);
        }
    } else {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, v[0]);
        (void)zn_awexists(zr_session_handle(c->s), p, naive_watch, c, naive_exists_done, c);
    }
    free(v);
}

static void naive_check(struct cand *c)
{
    (void)zn_aget_children(zr_session_handle(c->s), dir, 0, naive_children, c);
}

static int naive_join(struct cand *c)
{
    zn_handle *zh = zr_session_handle(c->s);
    char prefix[200];
    snprintf(prefix, sizeof(prefix), "%s/n-", dir);
    struct zn_stat st;
    int rc = zr_ensure_path(zh, dir);
    if (rc == 0)
        rc = zn_create(zh, prefix, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL_SEQUENTIAL, 0,
                       c->node, sizeof(c->node), &st);
    if (rc != 0)
        return rc;
    c->czxid = st.czxid;
    snprintf(c->name, sizeof(c->name), "%s", strrchr(c->node, '/') + 1);
    naive_check(c);
    return 0;
}

/* ---- measurement ---------------------------------------------------------------------------- */

static void totals(uint64_t *ops, uint64_t *events)
{
    *ops = *events = 0;
    for (int i = 0; i < g_n; i++) {
        if (cands[i].dead || kchild[i])
            continue;
        struct zn_client_stats st;
        zn_get_stats(zr_session_handle(cands[i].s), &st);
        *ops += st.requests_sent;
        *events += st.events;
    }
}

static int leader_write(int i)
{
    struct cand *c = &cands[i];
    if (g_style == NAIVE)
        return zr_register_write(zr_session_handle(c->s), reg, c->node, c->czxid, "x", 1);
    return zr_election_write(c->e, reg, "x", 1);
}

static int wait_new_leader(int timeout_ms)
{
    for (int i = 0; i < timeout_ms * 10; i++) {
        int l = atomic_load(&new_leader);
        if (l >= 0)
            return l;
        usleep(100);
    }
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool kill_mode;

static int cand_join(struct cand *c, int style)
{
    if (rt_open(&env, NULL, session_ms, &c->s) != 0) {
        fprintf(stderr, "open failed\n");
        exit(1);
    }
    if (style == NAIVE)
        return naive_join(c);
    struct zr_election_opts o = {style, (uint32_t)c->idx, NULL, -1, true, on_event, c};
    return zr_election_join(c->s, dir, &o, &c->e);
}

static const char *self_exe = "/proc/self/exe";

/* --kill: candidate i as a process; returns once it joined (join order is succession order). */
static void spawn_leader(int i, int style)
{
    memset(&kshm[i], 0, sizeof(kshm[i]));
    char a[5][24];
    snprintf(a[0], sizeof(a[0]), "%d", kshm_fd);
    snprintf(a[1], sizeof(a[1]), "%d", i);
    snprintf(a[2], sizeof(a[2]), "%d", style);
    snprintf(a[3], sizeof(a[3]), "%u", session_ms);
    snprintf(a[4], sizeof(a[4]), "%u", env.cluster_id);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            _exit(126);
        execl(self_exe, self_exe, "--leader-child", a[0], a[1], a[2], a[3], a[4], dir, reg,
              env.hosts, (char *)NULL);
        _exit(127);
    }
    kpid[i] = pid;
    for (int k = 0; k < 30000 && !atomic_load(&kshm[i].ready); k++) {
        if (atomic_load(&kshm[i].failed)) {
            fprintf(stderr, "candidate process %d failed\n", i);
            exit(1);
        }
        usleep(1000);
    }
    if (!atomic_load(&kshm[i].ready)) {
        fprintf(stderr, "candidate process %d did not join\n", i);
        exit(1);
    }
}

/* --kill: the leader after `old` was killed: a process reporting its acknowledged write, or an
 * in-process candidate (which then does the write here). */
static int wait_kill_leader(int old, int style, int n, int timeout_ms, int64_t *t1)
{
    (void)old;
    (void)style;
    int64_t deadline = rt_now_us() + (int64_t)timeout_ms * 1000;
    while (rt_now_us() < deadline) {
        for (int i = 0; i < n; i++)
            if (kchild[i] && !cands[i].dead && atomic_load(&kshm[i].acked_us) != 0) {
                *t1 = atomic_load(&kshm[i].acked_us);
                return i;
            }
        int l = atomic_load(&new_leader);
        if (l >= 0 && !kchild[l]) {
            int rc = leader_write(l);
            *t1 = rt_now_us();
            if (rc != 0) {
                fprintf(stderr, "fenced write: %s\n", zn_strerror(rc));
                exit(1);
            }
            return l;
        }
        usleep(200);
    }
    return -1;
}

/* --kill child: join, wait to lead, do the fenced write, report it, then wait to be killed. */
static int leader_child(char **a)
{
    kshm_fd = (int)strtol(a[0], NULL, 10);
    void *p =
        mmap(NULL, sizeof(struct kslot) * NMAX, PROT_READ | PROT_WRITE, MAP_SHARED, kshm_fd, 0);
    if (p == MAP_FAILED)
        return 1;
    kshm = p;
    int i = (int)strtol(a[1], NULL, 10);
    int style = (int)strtol(a[2], NULL, 10);
    session_ms = (uint32_t)strtoul(a[3], NULL, 10);
    setenv("ZN_TEST_CLUSTER_ID", a[4], 1);
    setenv("ZN_TEST_CONNECT", a[7], 1);
    snprintf(dir, sizeof(dir), "%s", a[5]);
    snprintf(reg, sizeof(reg), "%s", a[6]);
    if (i < 0 || i >= NMAX || rt_env_init(&env) != 0)
        return 1;
    g_style = style;
    struct cand *c = &cands[i];
    c->idx = i;
    if (cand_join(c, style) != 0) {
        atomic_store(&kshm[i].failed, 1);
        return 1;
    }
    atomic_store(&kshm[i].ready, 1);
    for (;;) { /* each term (Bully: a leader that yielded to a newcomer may lead again) */
        pthread_mutex_lock(&lead_mu);
        while (atomic_load(&new_leader) != i)
            pthread_cond_wait(&lead_cv, &lead_mu);
        atomic_store(&new_leader, -1);
        pthread_mutex_unlock(&lead_mu);
        int rc = leader_write(i);
        if (rc != 0) {
            atomic_store(&kshm[i].failed, 1);
            return 1;
        }
        atomic_store(&kshm[i].acked_us, rt_now_us());
    }
}

static void run(int style, int n, int failovers)
{
    g_style = style;
    g_n = n;
    const char *sname = style == ZR_ELECT_RING    ? "ring"
                        : style == ZR_ELECT_BULLY ? "bully"
                                                  : "naive";
    snprintf(dir, sizeof(dir), "/bench-%s-%d-%d", sname, n, (int)getpid());
    snprintf(reg, sizeof(reg), "%s-register", dir);
    memset(cands, 0, sizeof(cands));
    atomic_store(&new_leader, -1);
    /* --kill: the first K leaders (Ring/naive: the first K joiners; Bully: the K highest
     * priorities, joining last) are processes. */
    int k_procs = kill_mode ? (failovers < n - 1 ? failovers : n - 1) : 0;
    memset(kchild, 0, sizeof(kchild));
    for (int i = 0; i < n; i++)
        kchild[i] = style == ZR_ELECT_BULLY ? i >= n - k_procs : i < k_procs;
    for (int i = 0; i < n; i++) {
        struct cand *c = &cands[i];
        c->idx = i;
        if (kchild[i]) {
            spawn_leader(i, style);
            continue;
        }
        int rc = cand_join(c, style);
        if (rc != 0) {
            fprintf(stderr, "join: %s\n", zn_strerror(rc));
            exit(1);
        }
    }
    /* Settle: the expected first leader (Ring/naive: 0; Bully: n-1) leads. */
    int lead = style == ZR_ELECT_BULLY ? n - 1 : 0;
    for (int i = 0; i < 20000; i++) {
        bool ok = kchild[lead]     ? atomic_load(&kshm[lead].acked_us) != 0
                  : style == NAIVE ? atomic_load(&cands[lead].leader)
                                   : zr_election_is_leader(cands[lead].e, NULL);
        if (ok)
            break;
        usleep(500);
    }
    usleep(100000);
    double ms[NMAX];
    double ops_sum = 0, ev_sum = 0;
    int done = 0;
    for (int k = 0; k < failovers && k < n - 1; k++) {
        uint64_t ops0, ev0, ops1, ev1;
        struct cand *old = &cands[lead];
        old->dead = true;
        totals(&ops0, &ev0);
        atomic_store(&new_leader, -1);
        int64_t t0 = rt_now_us(), t1;
        int nl;
        if (kchild[lead]) {
            for (int i = 0; i < n; i++) /* only a term after this kill counts */
                if (kchild[i])
                    atomic_store(&kshm[i].acked_us, 0);
            kill(kpid[lead], SIGKILL); /* detected when the cluster expires its session */
            waitpid(kpid[lead], NULL, 0);
            nl = wait_kill_leader(lead, style, n, 30000, &t1);
        } else {
            zr_session_close(old->s); /* the leader is gone once its closeSession is applied */
            nl = wait_new_leader(10000);
            if (nl >= 0) {
                int rc = leader_write(nl);
                if (rc != 0) {
                    fprintf(stderr, "%s N=%d: fenced write: %s\n", sname, n, zn_strerror(rc));
                    exit(1);
                }
            }
            t1 = rt_now_us();
        }
        if (nl < 0) {
            fprintf(stderr, "%s N=%d: no new leader\n", sname, n);
            exit(1);
        }
        usleep(50000 + 1000 * n); /* let the wake-ups of this failover finish */
        totals(&ops1, &ev1);
        ms[done++] = (t1 - t0) / 1000.0;
        ops_sum += (double)(ops1 - ops0) - 2; /* minus the fenced write (get + multi) */
        ev_sum += (double)(ev1 - ev0);
        lead = nl;
    }
    qsort(ms, (size_t)done, sizeof(double), cmp_double);
    if (kill_mode)
        printf("| %-5s | %3d | %9d | %8.2f | %8.2f | %8s | %8s |\n", sname, n, done, ms[done / 2],
               ms[done - 1], "-", "-");
    else
        printf("| %-5s | %3d | %9d | %8.2f | %8.2f | %8.1f | %8.1f |\n", sname, n, done,
               ms[done / 2], ms[done - 1], ops_sum / done, ev_sum / done);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        if (kchild[i] && !cands[i].dead) {
            cands[i].dead = true;
            kill(kpid[i], SIGKILL);
            waitpid(kpid[i], NULL, 0);
        } else if (!cands[i].dead) {
            cands[i].dead = true;
            if (cands[i].e)
                (void)zr_election_leave(cands[i].e);
            zr_session_close(cands[i].s);
        }
}

int main(int argc, char **argv)
{
    const char *ns = "3,10,30,60,100";
    int failovers = 5;
    static const char usage[] =
        "usage: zr_failover_bench [--connect HOSTS] [--cluster-id ID] [--n 3,10,30,60,100]\n"
        "                         [--failovers 1..%d] [--kill] [--session-ms MS]\n"
        "Leader session closed -> the new leader's first fenced write acknowledged, for the Ring\n"
        "and Bully elections and a naive everyone-watches-the-leader baseline. Without --connect\n"
        "it uses the in-process fake node (figures are then not zinc cluster figures).\n"
        "--kill (with --connect): the leaders are processes killed with SIGKILL, so failover\n"
        "includes the session expiry (--session-ms, default 1000 with --kill, else 4000).\n";
    if (argc == 10 && strcmp(argv[1], "--leader-child") == 0)
        return leader_child(argv + 2);
    bool session_set = false;
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--kill") == 0) {
            kill_mode = true;
            i--;
            continue;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf(usage, NMAX);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "zr_failover_bench: %s needs a value\n", argv[i]);
            fprintf(stderr, usage, NMAX);
            return 2;
        }
        if (strcmp(argv[i], "--connect") == 0)
            setenv("ZN_TEST_CONNECT", argv[i + 1], 1);
        else if (strcmp(argv[i], "--cluster-id") == 0)
            setenv("ZN_TEST_CLUSTER_ID", argv[i + 1], 1);
        else if (strcmp(argv[i], "--n") == 0)
            ns = argv[i + 1];
        else if (strcmp(argv[i], "--session-ms") == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*argv[i + 1] == '\0' || *end != '\0' || v < 500 || v > 60000) {
                fprintf(stderr, "zr_failover_bench: --session-ms '%s': expected 500..60000\n",
                        argv[i + 1]);
                return 2;
            }
            session_ms = (uint32_t)v;
            session_set = true;
        } else if (strcmp(argv[i], "--failovers") == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*argv[i + 1] == '\0' || *end != '\0' || v <= 0 || v > NMAX) {
                fprintf(stderr, "zr_failover_bench: --failovers '%s': expected 1..%d\n",
                        argv[i + 1], NMAX);
                return 2;
            }
            failovers = (int)v;
        } else {
            fprintf(stderr, "zr_failover_bench: unknown option '%s'\n", argv[i]);
            fprintf(stderr, usage, NMAX);
            return 2;
        }
    }
    if (rt_env_init(&env) != 0)
        return 1;
    if (kill_mode) {
        if (env.fake) {
            fprintf(stderr, "zr_failover_bench: --kill needs --connect (the fake node does not "
                            "expire the sessions of killed processes)\n");
            return 2;
        }
        if (!session_set)
            session_ms = 1000;
        kshm_fd = memfd_create("zr_failover_bench", 0);
        if (kshm_fd < 0 || ftruncate(kshm_fd, sizeof(struct kslot) * NMAX) != 0)
            return 1;
        void *p =
            mmap(NULL, sizeof(struct kslot) * NMAX, PROT_READ | PROT_WRITE, MAP_SHARED, kshm_fd, 0);
        if (p == MAP_FAILED)
            return 1;
        kshm = p;
        printf("# failover: leader killed (SIGKILL, session timeout %u ms) -> new leader's first "
               "fenced write acked\n",
               session_ms);
    } else {
        printf("# failover: leader session closed -> new leader's first fenced write acked\n");
    }
    printf("# target: %s\n", env.fake ? "in-process FAKE node (tests/client), NOT zinc cluster "
                                        "figures"
                                      : env.hosts);
    printf("| style | N   | failovers | p50 ms   | max ms   | ops/fo   | events/fo |\n");
    printf("|-------|-----|-----------|----------|----------|----------|----------|\n");
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", ns);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int n = (int)strtol(tok, NULL, 10);
        if (n < 2 || n > NMAX)
            continue;
        if (env.fake && n > FAKE_N_MAX) {
            printf("| (N=%d skipped: the fake node serves at most 64 sessions) |\n", n);
            continue;
        }
        const int styles[3] = {ZR_ELECT_RING, ZR_ELECT_BULLY, NAIVE};
        for (int k = 0; k < 3; k++) {
            if (env.fake) { /* a fresh fake cluster per run: its session slots are not reused */
                rt_env_fini(&env);
                if (rt_env_init(&env) != 0)
                    return 1;
            }
            run(styles[k], n, failovers);
        }
    }
    rt_env_fini(&env);
    return 0;
}
