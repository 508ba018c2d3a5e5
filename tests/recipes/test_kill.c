/*
 * test_kill.c - the recipes with their participants as separate processes against a real
 * zincd cluster (ZN_TEST_CONNECT), killed with SIGKILL and paused with SIGSTOP past their
 * session timeout, then resumed (SIGCONT):
 *
 *   test_kill lock                 exclusive lock, fenced counter with a server-side history
 *   test_kill election ring|bully N  N candidate processes: kill -9 and SIGSTOP of the leader
 *   test_kill queue                producer and consumer processes, a consumer killed
 *   test_kill group                member processes with their own views, a kill and a pause
 *   test_kill barrier              double barrier, one participant killed inside
 *   test_kill suspend              the zincd under the leader SIGSTOPped (ZN_TEST_ZINCD_PIDS):
 *                                  leadership reported lost on suspension, regained
 *
 * The parent re-executes itself as the children (`test_kill child <fd> <role> <slot> ...`);
 * parent and children share one memfd-backed page of counters (struct shm), which survives a
 * child's kill. What is *proved* is read back from the cluster at the end: every fenced write
 * (lock increment, leader write) is one multi {check the holder's fence node, version-checked
 * set of the register "<token> <count>", create of a persistent sequential history node
 * "<count> <slot> <seq> <token>"}. In history (= commit) order the counts must run 1..C without
 * a gap or a repeat (no increment lost or doubled; two overlapping holders would both write the
 * same count or fail the version check) and the tokens must never decrease (one holder/leader
 * at a time, in fencing-token order); every write a child saw acknowledged must be in the
 * history, a history entry without an acknowledgement is allowed only as the one in-flight
 * write of a killed or paused child, and the write a paused child attempts after its resume
 * (with the token of the term it lost meanwhile) must never be in it. Without ZN_TEST_CONNECT
 * the test exits 77 (skipped): the fake node does not expire the sessions of killed processes.
 */
#include <errno.h>
#include <inttypes.h>
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

#define SLOTS 64
/* Children's session timeout (a pause lasts until the others went on, so it outlives it);
 * longer in the sanitizer build, whose slower processes must not expire by themselves. */
#if defined(ZN_SANITIZER_BUILD)
#define SESSION_MS 2000
#else
#define SESSION_MS 1000
#endif
#define WAIT_US  (30 * 1000 * 1000LL) /* every wait for a fresh condition */
#define HIST_MAX 4096
#define Q_PROD   2
#define Q_ITEMS  80

/* PH_WRITE: read done, working before the write (where a pause is caught); PH_SEND: writing. */
enum phase { PH_IDLE, PH_HOLD, PH_WRITE, PH_SEND, PH_TAKE, PH_IN, PH_LEFT };

struct slot {
    atomic_int pid;
    atomic_int ready;   /* joined / connected */
    atomic_int phase;   /* enum phase */
    atomic_int leader;  /* election: believes it leads */
    atomic_llong token; /* token of the current hold / term */
    atomic_llong seq;   /* fenced writes attempted (seq of the last one) */
    atomic_llong acked; /* fenced writes acknowledged */
    atomic_llong rejected;
    atomic_int resumed;            /* resumes so far (the parent counts up before SIGCONT) */
    atomic_int after_resume_try;   /* fenced writes tried after the resume */
    atomic_int after_resume_ok;    /* ... and acknowledged (must stay 0) */
    atomic_int after_resume_rc;    /* the first one's result */
    atomic_llong after_resume_seq; /* election: its seq */
    atomic_int overlap;            /* version conflict with the fence intact: a second holder */
    atomic_int ended;              /* election: ZR_ENDED seen / session expired */
    atomic_ullong view_mask;       /* group: the member slots in this child's view */
    atomic_ullong view_version;
    atomic_int early;   /* barrier: passed enter before everyone was in */
    atomic_int taken;   /* queue: items taken */
    atomic_int holding; /* queue: 1 + p * Q_ITEMS + i of an item taken, not recorded */
    char fence[192];    /* lock node / candidate node (written before phase/leader) */
    atomic_int lost;    /* election: ZR_LOST events */
    atomic_int node;    /* election: index of the node its session is on */
};

struct shm {
    atomic_int stop;
    atomic_int go;      /* barrier: leave now */
    atomic_int entered; /* barrier: participants that called enter */
    atomic_int seen[Q_PROD][Q_ITEMS];
    atomic_int taken_total;
    struct slot s[SLOTS];
};

static long arg_long(const char *s, long lo, long hi);
static struct shm *shm;
static int shm_fd = -1;
static struct rt_env env;
static const char *self_exe;

/* ---- shared helpers ------------------------------------------------------------------------ */

static int open_session(zr_session **out)
{
    return rt_open(&env, NULL, SESSION_MS, out);
}

/*
 * One fenced write of the next count: read the register "<token> <count>" (with its version),
 * refuse if it holds a newer token (ZN_ESTALE), then multi {check fence, set version-checked,
 * create history node}. A ZN_EBADVERSION with the fence check passed means another process
 * wrote the register while this one held a valid fence: a second holder (counted).
 * sleep_ms: work inside the critical section between the read and the write.
 */
static int fenced_append(zn_handle *zh, const char *reg, const char *hist, const char *fence,
                         int64_t token, int slot, int64_t seq, int sleep_ms, struct slot *sl)
{
    char raw[64];
    int32_t n = sizeof(raw) - 1;
    struct zn_stat st;
    int rc = zn_get(zh, reg, 0, raw, &n, &st);
    if (rc != 0)
        return rc;
    raw[n > 0 ? n : 0] = '\0';
    long long cur_tok = 0, count = 0;
    if (sscanf(raw, "%lld %lld", &cur_tok, &count) != 2)
        return ZN_ECORRUPT;
    if (cur_tok > token)
        return ZN_ESTALE;
    atomic_store(&sl->phase, PH_WRITE);
    if (sleep_ms > 0)
        rt_sleep_ms(sleep_ms);
    atomic_store(&sl->phase, PH_SEND);
    char val[64], h[96], hp[256];
    int vl = snprintf(val, sizeof(val), "%" PRId64 " %lld", token, count + 1);
    int hl = snprintf(h, sizeof(h), "%lld %d %" PRId64 " %" PRId64, count + 1, slot, seq, token);
    snprintf(hp, sizeof(hp), "%s/h-", hist);
    struct zn_op ops[3];
    struct zn_op_result res[3];
    memset(res, 0, sizeof(res));
    zn_op_check(&ops[0], fence, -1);
    zn_op_set(&ops[1], reg, val, vl, st.version);
    zn_op_create(&ops[2], hp, h, hl, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT_SEQUENTIAL);
    rc = zn_multi(zh, 3, ops, res);
    if (rc != 0 && res[0].err == 0 && res[1].err == ZN_EBADVERSION) {
        atomic_fetch_add(&sl->overlap, 1);
        fprintf(stderr, "slot %d: register changed under a valid fence (token %" PRId64 ")\n", slot,
                token);
    }
    zn_op_results_free(res, 3);
    return rc;
}

struct hist_entry {
    long long count, seq, token;
    int slot;
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the history back (after a sync) and check it; fills per-slot counts. Returns entries. */
static int check_history(zn_handle *ah, const char *reg, const char *hist, int nslots,
                         const bool *uncertain, const long long *forbid, const char *what)
{
    RT_CHECK(zn_sync(ah, reg) == 0, "sync");
    struct zn_strings ch = {0, NULL};
    RT_CHECK(zn_get_children(ah, hist, 0, &ch) == 0, "history children");
    RT_CHECK(ch.count <= HIST_MAX, "history too long");
    static struct hist_entry e[HIST_MAX];
    int n = 0;
    /* Sequential names sort in commit order. */
    qsort(ch.data, (size_t)ch.count, sizeof(char *), name_cmp);
    for (int i = 0; i < ch.count; i++) {
        char p[256], v[96];
        snprintf(p, sizeof(p), "%s/%s", hist, ch.data[i]);
        int32_t vl = sizeof(v) - 1;
        RT_CHECK(zn_get(ah, p, 0, v, &vl, NULL) == 0, "history %s", p);
        v[vl > 0 ? vl : 0] = '\0';
        struct hist_entry *x = &e[n++];
        RT_CHECK(sscanf(v, "%lld %d %lld %lld", &x->count, &x->slot, &x->seq, &x->token) == 4 &&
                     x->slot >= 0 && x->slot < nslots,
                 "history entry '%s'", v);
    }
    zn_strings_free(&ch);
    char raw[64];
    int32_t rl = sizeof(raw) - 1;
    struct zn_stat st;
    RT_CHECK(zn_get(ah, reg, 0, raw, &rl, &st) == 0, "register");
    raw[rl > 0 ? rl : 0] = '\0';
    long long rtok = 0, rcount = -1;
    RT_CHECK(sscanf(raw, "%lld %lld", &rtok, &rcount) == 2, "register '%s'", raw);
    RT_CHECK(rcount == n && st.version == n,
             "%s: register count %lld (version %d) but %d history entries", what, rcount,
             st.version, n);
    for (int i = 0; i < n; i++) {
        RT_CHECK(e[i].count == i + 1,
                 "%s: history[%d] has count %lld: an increment lost or doubled", what, i,
                 e[i].count);
        if (i > 0)
            RT_CHECK(e[i].token >= e[i - 1].token,
                     "%s: token %lld (slot %d) after %lld (slot %d): two holders overlapped", what,
                     e[i].token, e[i].slot, e[i - 1].token, e[i - 1].slot);
        for (int j = 0; j < i; j++) /* a token names one holder */
            if (e[j].token == e[i].token)
                RT_CHECK(e[j].slot == e[i].slot, "%s: token %lld used by slots %d and %d", what,
                         e[i].token, e[j].slot, e[i].slot);
    }
    if (n > 0)
        RT_CHECK(rtok == e[n - 1].token, "register token %lld != last history token", rtok);
    /* Acknowledged writes are all there. One unacknowledged write may be there for a child
     * killed or paused while it was in flight (its reply never came or came after the expiry),
     * but never the write a paused child attempted after its resume (forbid). */
    for (int k = 0; k < nslots; k++) {
        long long in_hist = 0, last_seq = 0;
        for (int i = 0; i < n; i++)
            if (e[i].slot == k) {
                in_hist++;
                RT_CHECK(e[i].seq > last_seq, "%s: slot %d seq %lld twice or out of order", what, k,
                         e[i].seq);
                last_seq = e[i].seq;
                RT_CHECK(forbid[k] == 0 || e[i].seq != forbid[k],
                         "%s: slot %d's write %lld, tried after its resume, was applied", what, k,
                         e[i].seq);
            }
        long long acked = atomic_load(&shm->s[k].acked);
        long long extra = in_hist - acked;
        RT_CHECK(extra >= 0,
                 "%s: slot %d: %lld acknowledged writes, only %lld in the history "
                 "(an acknowledged write lost)",
                 what, k, acked, in_hist);
        RT_CHECK(extra == 0 || (uncertain[k] && extra == 1),
                 "%s: slot %d: %lld history entries, %lld acknowledged (killed/paused %d)", what, k,
                 in_hist, acked, uncertain[k]);
    }
    return n;
}

/* ---- children ------------------------------------------------------------------------------ */

static void child_lock(int slot, const char *dir)
{
    struct slot *sl = &shm->s[slot];
    char lock_dir[200], reg[200], hist[200];
    snprintf(lock_dir, sizeof(lock_dir), "%s/lock", dir);
    snprintf(reg, sizeof(reg), "%s/counter", dir);
    snprintf(hist, sizeof(hist), "%s/hist", dir);
    zr_session *s = NULL;
    while (!atomic_load(&shm->stop)) {
        if (s == NULL) {
            if (open_session(&s) != 0) {
                rt_sleep_ms(50);
                continue;
            }
            atomic_store(&sl->ready, 1);
        }
        zn_handle *zh = zr_session_handle(s);
        zr_lock *l;
        int rc = zr_lock_acquire(s, lock_dir, 2000, &l);
        if (rc == 0) {
            snprintf(sl->fence, sizeof(sl->fence), "%s", zr_lock_node(l));
            atomic_store(&sl->token, zr_lock_token(l));
            atomic_store(&sl->phase, PH_HOLD);
            int64_t seq = atomic_fetch_add(&sl->seq, 1) + 1;
            int gen = atomic_load(&sl->resumed);
            rc = fenced_append(zh, reg, hist, zr_lock_node(l), zr_lock_token(l), slot, seq, 30, sl);
            if (rc == 0)
                atomic_fetch_add(&sl->acked, 1);
            else
                atomic_fetch_add(&sl->rejected, 1);
            /* A write that started before a pause and ended after it (rc first, then the
             * count the parent waits for). */
            if (atomic_load(&sl->resumed) != gen) {
                atomic_store(&sl->after_resume_rc, rc);
                if (rc == 0)
                    atomic_fetch_add(&sl->after_resume_ok, 1);
                atomic_fetch_add(&sl->after_resume_try, 1);
            }
            atomic_store(&sl->phase, PH_IDLE);
            (void)zr_lock_release(l);
        }
        if (zn_state(zh) == ZN_STATE_EXPIRED) { /* a pause outlived the session: start over */
            atomic_store(&sl->ended, 1);
            zr_session_close(s);
            s = NULL;
        }
    }
    if (s)
        zr_session_close(s);
}

struct cand_ctx {
    struct slot *sl;
};

static void on_cand(zr_election *e, int ev, int64_t token, void *ctx)
{
    (void)e;
    struct slot *sl = ctx;
    if (ev == ZR_ELECTED) {
        atomic_store(&sl->token, token);
        atomic_store(&sl->leader, 1);
    } else if (ev == ZR_LOST) {
        atomic_store(&sl->leader, 0);
        atomic_fetch_add(&sl->lost, 1);
    } else if (ev == ZR_ENDED) {
        atomic_store(&sl->leader, 0);
        atomic_store(&sl->ended, 1);
    }
}

/* A candidate: while leading, a fenced write every 20 ms. After a resume (the parent says so),
 * one write with the term it remembers - as a naive application that did not notice - which
 * the cluster must refuse. */
static void child_cand(int slot, const char *dir, int style, uint32_t prio, uint32_t session_ms)
{
    struct slot *sl = &shm->s[slot];
    char el[200], reg[200], hist[200];
    snprintf(el, sizeof(el), "%s/el", dir);
    snprintf(reg, sizeof(reg), "%s/reg", dir);
    snprintf(hist, sizeof(hist), "%s/hist", dir);
    zr_session *s;
    RT_CHECK(rt_open(&env, NULL, session_ms, &s) == 0, "candidate %d open", slot);
    char payload[32];
    int pl = snprintf(payload, sizeof(payload), "cand-%d", slot);
    struct zr_election_opts o = {style, prio, payload, pl, true, on_cand, sl};
    zr_election *e;
    RT_CHECK(zr_election_join(s, el, &o, &e) == 0, "candidate %d join", slot);
    atomic_store(&sl->ready, 1);
    zn_handle *zh = zr_session_handle(s);
    char fence[256] = "";
    int64_t term = 0;
    while (!atomic_load(&shm->stop)) {
        int64_t tok = 0;
        bool resumed = atomic_load(&sl->resumed);
        atomic_store(&sl->node, zn_current_node(zh));
        if (resumed && term > 0 && atomic_load(&sl->after_resume_try) == 0) {
            int64_t seq = atomic_fetch_add(&sl->seq, 1) + 1;
            atomic_store(&sl->after_resume_seq, seq);
            int rc = fenced_append(zh, reg, hist, fence, term, slot, seq, 0, sl);
            atomic_store(&sl->after_resume_rc, rc);
            atomic_fetch_add(&sl->after_resume_try, 1);
            if (rc == 0) {
                atomic_fetch_add(&sl->after_resume_ok, 1);
                atomic_fetch_add(&sl->acked, 1);
            }
        } else if (!resumed && zr_election_is_leader(e, &tok)) {
            if (tok != term) {
                term = tok;
                RT_CHECK(zr_election_leader_node(e, fence, sizeof(fence)) == 0, "fence node");
                snprintf(sl->fence, sizeof(sl->fence), "%s", fence);
            }
            int64_t seq = atomic_fetch_add(&sl->seq, 1) + 1;
            int rc = fenced_append(zh, reg, hist, fence, term, slot, seq, 0, sl);
            atomic_fetch_add(rc == 0 ? &sl->acked : &sl->rejected, 1);
        }
        if (atomic_load(&sl->ended) || zn_state(zh) == ZN_STATE_EXPIRED) {
            atomic_store(&sl->ended, 1);
            /* Paused and resumed meanwhile (a fresh look, not the loop's): try the old term's
             * write first. */
            if (!atomic_load(&sl->resumed) || atomic_load(&sl->after_resume_try) > 0)
                break;
        }
        rt_sleep_ms(20);
    }
    zr_session_close(s);
}

static void child_consumer(int slot, const char *dir)
{
    struct slot *sl = &shm->s[slot];
    zr_session *s;
    RT_CHECK(open_session(&s) == 0, "consumer open");
    atomic_store(&sl->ready, 1);
    while (!atomic_load(&shm->stop)) {
        char buf[32];
        int32_t n = sizeof(buf) - 1;
        atomic_store(&sl->phase, PH_TAKE);
        int rc = zr_queue_take(zr_session_handle(s), dir, 200, buf, &n);
        if (rc == 0) {
            buf[n] = '\0';
            int p = -1, i = -1;
            RT_CHECK(sscanf(buf, "%d:%d", &p, &i) == 2 && p >= 0 && p < Q_PROD && i >= 0 &&
                         i < Q_ITEMS,
                     "item '%s'", buf);
            atomic_store(&sl->holding, 1 + p * Q_ITEMS + i);
            rt_sleep_ms(10); /* processing: the item is recorded only once processed */
            atomic_fetch_add(&shm->seen[p][i], 1);
            atomic_store(&sl->holding, 0);
            atomic_fetch_add(&sl->taken, 1);
            atomic_fetch_add(&shm->taken_total, 1);
        }
        atomic_store(&sl->phase, PH_IDLE);
        if (zn_state(zr_session_handle(s)) == ZN_STATE_EXPIRED) { /* paused past it */
            atomic_fetch_add(&sl->ended, 1);
            zr_session_close(s);
            while (open_session(&s) != 0 && !atomic_load(&shm->stop))
                rt_sleep_ms(50);
        }
    }
    zr_session_close(s);
}

static void child_producer(int slot, const char *dir, int prod)
{
    struct slot *sl = &shm->s[slot];
    zr_session *s;
    RT_CHECK(open_session(&s) == 0, "producer open");
    atomic_store(&sl->ready, 1);
    for (int i = 0; i < Q_ITEMS; i++) {
        char item[32];
        int n = snprintf(item, sizeof(item), "%d:%d", prod, i);
        int rc = zr_queue_put(zr_session_handle(s), dir, item, n);
        RT_CHECK(rc == 0, "put %s: %s", item, zn_strerror(rc));
        atomic_fetch_add(&sl->acked, 1);
        if (i % 8 == 0)
            rt_sleep_ms(10);
    }
    zr_session_close(s);
}

static void on_member_view(zr_group *g, int count, const struct zr_member *m, void *ctx)
{
    (void)g;
    struct slot *sl = ctx;
    uint64_t mask = 0;
    for (int i = 0; i < count; i++) {
        int k = -1;
        if (sscanf(m[i].name, "m%d", &k) == 1 && k >= 0 && k < SLOTS)
            mask |= 1ull << k;
    }
    atomic_store(&sl->view_mask, mask);
    atomic_fetch_add(&sl->view_version, 1);
}

/* A member: joins with a payload and keeps its own view; when a pause outlived its session it
 * starts a new one and joins again (what a service does). */
static void child_member(int slot, const char *dir)
{
    struct slot *sl = &shm->s[slot];
    char name[16], data[32];
    snprintf(name, sizeof(name), "m%d", slot);
    int dl = snprintf(data, sizeof(data), "host-%d:%d", slot, 9000 + slot);
    while (!atomic_load(&shm->stop)) {
        zr_session *s;
        if (open_session(&s) != 0) {
            rt_sleep_ms(50);
            continue;
        }
        zr_group *g;
        RT_CHECK(zr_group_watch(s, dir, on_member_view, sl, &g) == 0, "member watch");
        RT_CHECK(zr_group_join(zr_session_handle(s), dir, name, data, dl) == 0, "member join");
        atomic_store(&sl->ready, 1);
        while (!atomic_load(&shm->stop) && zn_state(zr_session_handle(s)) != ZN_STATE_EXPIRED)
            rt_sleep_ms(20);
        if (!atomic_load(&shm->stop))
            atomic_fetch_add(&sl->ended, 1);
        zr_group_close(g);
        zr_session_close(s);
    }
}

static void child_barrier(int slot, const char *dir, int count)
{
    struct slot *sl = &shm->s[slot];
    zr_session *s;
    RT_CHECK(open_session(&s) == 0, "participant open");
    zn_handle *zh = zr_session_handle(s);
    char name[16];
    snprintf(name, sizeof(name), "p%d", slot);
    atomic_store(&sl->ready, 1);
    atomic_fetch_add(&shm->entered, 1);
    int rc = zr_dbarrier_enter(zh, dir, name, count, 30000);
    RT_CHECK(rc == 0, "enter %d: %s", slot, zn_strerror(rc));
    if (atomic_load(&shm->entered) < count)
        atomic_store(&sl->early, 1);
    atomic_store(&sl->phase, PH_IN);
    while (!atomic_load(&shm->go))
        rt_sleep_ms(10);
    rc = zr_dbarrier_leave(zh, dir, name, 30000);
    RT_CHECK(rc == 0, "leave %d: %s", slot, zn_strerror(rc));
    atomic_store(&sl->phase, PH_LEFT);
    zr_session_close(s);
}

/* ---- parent --------------------------------------------------------------------------------- */

static pid_t spawn(int slot, const char *role, const char *dir, const char *a1, const char *a2)
{
    memset(&shm->s[slot], 0, sizeof(shm->s[slot]));
    char fd[16], sl[16];
    snprintf(fd, sizeof(fd), "%d", shm_fd);
    snprintf(sl, sizeof(sl), "%d", slot);
    fflush(NULL);
    pid_t pid = fork();
    RT_CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* A child never outlives the test (a failed check or a timeout ends the parent). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
            _exit(126);
        execl(self_exe, self_exe, "child", fd, role, sl, dir, a1 ? a1 : "-", a2 ? a2 : "-",
              (char *)NULL);
        _exit(127);
    }
    atomic_store(&shm->s[slot].pid, (int)pid);
    return pid;
}

/* Wait (bounded) for cond(arg); on timeout print `what` and fail. */
#define WAIT_FOR(cond, ...)                                                \
    do {                                                                   \
        int64_t wait_deadline_ = rt_now_us() + WAIT_US;                    \
        while (!(cond) && rt_now_us() < wait_deadline_)                    \
            rt_sleep_ms(5);                                                \
        if (!(cond))                                                       \
            fprintf(stderr, "gave up after %lld s:\n", WAIT_US / 1000000); \
        RT_CHECK(cond, __VA_ARGS__);                                       \
    } while (0)

static bool child_exited_ok(pid_t pid)
{
    int st;
    for (int i = 0; i < 400; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        rt_sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return false;
}

static void make_register(zn_handle *ah, const char *reg, const char *hist)
{
    RT_CHECK(zn_create(ah, reg, "0 0", 3, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) ==
                 0,
             "register");
    RT_CHECK(zr_ensure_path(ah, hist) == 0, "history");
}

static long long total_acked(int nslots)
{
    long long t = 0;
    for (int k = 0; k < nslots; k++)
        t += atomic_load(&shm->s[k].acked);
    return t;
}

/* A live session (the parent's) tries the fenced writes of a term that ended: the fenced
 * register refuses the token (ZN_ESTALE) and a multi checking the old fence node fails
 * (ZN_ENONODE). */
static void stale_writes_refused(zn_handle *ah, const char *reg, const char *fence, int64_t tok)
{
    RT_CHECK(zn_sync(ah, reg) == 0, "sync");
    int rc = zr_register_write(ah, reg, NULL, tok, "stale", 5);
    RT_CHECK(rc == ZN_ESTALE, "old token %lld at the register: %s", (long long)tok,
             zn_strerror(rc));
    struct zn_op op;
    struct zn_op_result res[2];
    memset(res, 0, sizeof(res));
    zn_op_set(&op, reg, "0 0", 3, -1);
    rc = zr_fenced_multi(ah, fence, 1, &op, res);
    zn_op_results_free(res, 2);
    RT_CHECK(rc == ZN_ENONODE, "multi fenced on the old node %s: %s", fence, zn_strerror(rc));
}

/* -- lock -- */

#define LOCK_WORKERS 4
#define LOCK_ROUNDS  2 /* each: a pause inside the critical section, then a kill -9 */

static int holder_in(int phase, int nslots, const bool *gone)
{
    for (int k = 0; k < nslots; k++)
        if (!gone[k] && atomic_load(&shm->s[k].phase) == phase)
            return k;
    return -1;
}

static void test_lock(zn_handle *ah, const char *dir)
{
    char reg[200], hist[200], lock_dir[200];
    snprintf(reg, sizeof(reg), "%s/counter", dir);
    snprintf(hist, sizeof(hist), "%s/hist", dir);
    snprintf(lock_dir, sizeof(lock_dir), "%s/lock", dir);
    make_register(ah, reg, hist);
    pid_t pid[SLOTS];
    bool killed[SLOTS] = {false}, gone[SLOTS] = {false};
    long long forbid[SLOTS] = {0};
    int n = 0;
    for (; n < LOCK_WORKERS; n++)
        pid[n] = spawn(n, "lock", dir, NULL, NULL);
    WAIT_FOR(total_acked(n) >= 10, "10 fenced increments (have %lld)", total_acked(n));
    int pauses_inside = 0, kills = 0;
    for (int round = 0; round < LOCK_ROUNDS; round++) {
        /* (1) SIGSTOP a holder between its read and its write, past its session timeout. */
        int v = -1;
        WAIT_FOR((v = holder_in(PH_WRITE, n, gone)) >= 0, "a holder inside its critical section");
        kill(pid[v], SIGSTOP);
        int wst;
        RT_CHECK(waitpid(pid[v], &wst, WUNTRACED) == pid[v] && WIFSTOPPED(wst), "stopped");
        bool inside = atomic_load(&shm->s[v].phase) == PH_WRITE;
        killed[v] = true; /* uncertain: a write of its may have been in flight */
        if (inside)       /* its write was not sent yet: it must never apply */
            forbid[v] = atomic_load(&shm->s[v].seq);
        int64_t vtok = atomic_load(&shm->s[v].token);
        char vnode[256];
        snprintf(vnode, sizeof(vnode), "(token %lld)", (long long)vtok);
        long long base = total_acked(n) - atomic_load(&shm->s[v].acked);
        int tries0 = atomic_load(&shm->s[v].after_resume_try);
        int ok0 = atomic_load(&shm->s[v].after_resume_ok);
        /* Fresh progress by the others with a newer token: the pause outlived the session. */
        WAIT_FOR(total_acked(n) - atomic_load(&shm->s[v].acked) >= base + 3,
                 "the others to go on after pausing slot %d %s", v, vnode);
        rt_sleep_ms(10);
        atomic_fetch_add(&shm->s[v].resumed, 1);
        kill(pid[v], SIGCONT);
        if (inside) {
            pauses_inside++;
            WAIT_FOR(atomic_load(&shm->s[v].after_resume_try) > tries0,
                     "the resumed holder %d to finish its write", v);
            int rc = atomic_load(&shm->s[v].after_resume_rc);
            RT_CHECK(rc != 0 && atomic_load(&shm->s[v].after_resume_ok) == ok0,
                     "the resumed holder's write was accepted");
            stale_writes_refused(ah, reg, shm->s[v].fence, vtok);
            printf("lock: holder %d paused inside its critical section (token %lld) past its "
                   "session timeout; others went on; resumed, its write refused: %s; its token "
                   "and lock node refused through a live session too\n",
                   v, (long long)vtok, zn_err_name(rc));
        }
        /* (2) kill -9 a holder (any phase with the lock), start a replacement. */
        int k = -1;
        WAIT_FOR((k = holder_in(PH_WRITE, n, gone)) >= 0, "a holder to kill");
        int64_t ktok = atomic_load(&shm->s[k].token);
        kill(pid[k], SIGKILL);
        waitpid(pid[k], NULL, 0);
        killed[k] = gone[k] = true;
        kills++;
        long long kb = total_acked(n);
        RT_CHECK(n < SLOTS, "slots");
        pid[n] = spawn(n, "lock", dir, NULL, NULL);
        n++;
        WAIT_FOR(total_acked(n) >= kb + 3, "progress after killing holder %d", k);
        printf("lock: holder %d killed -9 holding token %lld; the lock passed on after its "
               "session expired\n",
               k, (long long)ktok);
    }
    atomic_store(&shm->stop, 1);
    int bad = 0;
    for (int k = 0; k < n; k++)
        if (!gone[k] && !child_exited_ok(pid[k]))
            bad++;
    RT_CHECK(bad == 0, "%d lock worker(s) failed", bad);
    int overlaps = 0;
    long long rejected = 0;
    for (int k = 0; k < n; k++) {
        overlaps += atomic_load(&shm->s[k].overlap);
        rejected += atomic_load(&shm->s[k].rejected);
    }
    int h = check_history(ah, reg, hist, n, killed, forbid, "lock");
    RT_CHECK(overlaps == 0, "%d writes found the register changed under a valid lock", overlaps);
    RT_CHECK(pauses_inside >= 1, "no pause caught a holder inside its critical section");
    printf("lock: %d worker processes (%d killed -9, %d paused with SIGSTOP inside the critical "
           "section): %d fenced increments in the history = counter, counts 1..%d without a gap "
           "or repeat, tokens non-decreasing, %lld writes refused, 0 overlaps\n",
           n, kills, pauses_inside, h, h, rejected);
}

/* -- election -- */

static int leader_of(int n, const bool *gone)
{
    int who = -1;
    for (int k = 0; k < n; k++)
        if (!gone[k] && atomic_load(&shm->s[k].leader) && atomic_load(&shm->s[k].acked) > 0) {
            if (who >= 0)
                return -2;
            who = k;
        }
    return who;
}

static int expected_leader(int style, int n, const bool *gone, const uint32_t *prio)
{
    int best = -1;
    for (int k = 0; k < n; k++)
        if (!gone[k] && (best < 0 || (style == ZR_ELECT_BULLY && prio[k] > prio[best])))
            best = k;
    return best;
}

/* Wait until `want` leads with a write acknowledged in its term (a term newer than after);
 * *ms: the time from `since_us` to then. */
static int64_t wait_term(int want, int64_t after, int n, const bool *gone, int64_t since_us,
                         double *ms)
{
    struct slot *sl = &shm->s[want];
    long long a0 = atomic_load(&sl->acked);
    WAIT_FOR(atomic_load(&sl->leader) && atomic_load(&sl->token) > after &&
                 atomic_load(&sl->acked) > a0,
             "candidate %d to lead with a token above %lld and write (leader now %d)", want,
             (long long)after, leader_of(n, gone));
    if (ms)
        *ms = (rt_now_us() - since_us) / 1000.0;
    rt_sleep_ms(100); /* a few more writes in this term */
    return atomic_load(&sl->token);
}

static void test_election(zn_handle *ah, const char *dir, int style, int n)
{
    char reg[200], hist[200], el[200];
    snprintf(reg, sizeof(reg), "%s/reg", dir);
    snprintf(hist, sizeof(hist), "%s/hist", dir);
    snprintf(el, sizeof(el), "%s/el", dir);
    make_register(ah, reg, hist);
    pid_t pid[SLOTS];
    uint32_t prio[SLOTS];
    bool killed[SLOTS] = {false}, gone[SLOTS] = {false};
    long long forbid[SLOTS] = {0};
    int64_t t0 = rt_now_us();
    for (int k = 0; k < n; k++) {
        prio[k] = (uint32_t)(k / 2); /* pairs tie: the earlier joiner ranks first */
        char p[16];
        snprintf(p, sizeof(p), "%u", prio[k]);
        pid[k] = spawn(k, style == ZR_ELECT_BULLY ? "bully" : "ring", dir, p, NULL);
        WAIT_FOR(atomic_load(&shm->s[k].ready), "candidate %d to join", k); /* join order */
    }
    int lead = expected_leader(style, n, gone, prio);
    int64_t tok = wait_term(lead, 0, n, gone, t0, NULL);
    printf("%s N=%d: %d candidate processes joined, leader %d (token %lld) after %.1f s\n",
           style == ZR_ELECT_BULLY ? "bully" : "ring", n, n, lead, (long long)tok,
           (rt_now_us() - t0) / 1e6);
    /* (1) SIGSTOP the leader past its session timeout. */
    {
        int old = lead;
        int64_t old_tok = tok;
        kill(pid[old], SIGSTOP);
        int wst;
        RT_CHECK(waitpid(pid[old], &wst, WUNTRACED) == pid[old] && WIFSTOPPED(wst), "stopped");
        gone[old] = true;
        int64_t ts = rt_now_us();
        lead = expected_leader(style, n, gone, prio);
        double ms;
        tok = wait_term(lead, old_tok, n, gone, ts, &ms);
        printf("  leader %d stopped (SIGSTOP): candidate %d leads (token %lld > %lld) and wrote "
               "%.0f ms later (session timeout %d ms)\n",
               old, lead, (long long)tok, (long long)old_tok, ms, SESSION_MS);
        /* The term's fence node, as the paused leader knows it: its own candidate node. */
        struct zn_strings names = {0, NULL};
        RT_CHECK(zr_election_list(ah, el, style, &names) == 0, "list");
        for (int i = 0; i < names.count; i++) {
            char p[256], v[64];
            snprintf(p, sizeof(p), "%s/%s", el, names.data[i]);
            int32_t vl = sizeof(v) - 1;
            if (zn_get(ah, p, 0, v, &vl, NULL) == 0 && vl > 0) {
                v[vl] = '\0';
                int who = -1;
                RT_CHECK(!(sscanf(v, "cand-%d", &who) == 1 && who == old),
                         "the stopped leader's node %s outlived its session", p);
            }
        }
        zn_strings_free(&names);
        atomic_store(&shm->s[old].resumed, 1);
        kill(pid[old], SIGCONT);
        WAIT_FOR(atomic_load(&shm->s[old].after_resume_try) >= 1,
                 "the resumed old leader %d to try a write of its term", old);
        int rc = atomic_load(&shm->s[old].after_resume_rc);
        RT_CHECK(rc != 0 && atomic_load(&shm->s[old].after_resume_ok) == 0,
                 "the resumed old leader's fenced write was accepted");
        stale_writes_refused(ah, reg, shm->s[old].fence, old_tok);
        printf("  resumed old leader %d: its fenced write refused (%s); through a live session "
               "its token is refused by the register (ZN_ESTALE) and its fence node is gone "
               "(ZN_ENONODE)\n",
               old, zn_err_name(rc));
        RT_CHECK(child_exited_ok(pid[old]), "the resumed old leader exits cleanly");
        killed[old] = true; /* uncertain: a write may have been in flight at the stop */
        forbid[old] = atomic_load(&shm->s[old].after_resume_seq);
    }
    /* (2) kill -9 the leader. */
    {
        int old = lead;
        int64_t old_tok = tok;
        kill(pid[old], SIGKILL);
        waitpid(pid[old], NULL, 0);
        gone[old] = killed[old] = true;
        int64_t ts = rt_now_us();
        lead = expected_leader(style, n, gone, prio);
        double ms;
        tok = wait_term(lead, old_tok, n, gone, ts, &ms);
        printf("  leader %d killed -9: candidate %d leads (token %lld) and wrote %.0f ms later\n",
               old, lead, (long long)tok, ms);
    }
    /* (3) kill -9 a candidate that does not lead (Ring: the leader's successor, whose watch
     * the next one must take over; Bully: the next-ranked), then the leader again. */
    if (n >= 4) {
        int next = -1;
        for (int k = 0; k < n; k++)
            if (!gone[k] && k != lead) {
                bool gk = gone[lead];
                gone[lead] = true;
                next = expected_leader(style, n, gone, prio);
                gone[lead] = gk;
                break;
            }
        RT_CHECK(next >= 0, "a next candidate");
        kill(pid[next], SIGKILL);
        waitpid(pid[next], NULL, 0);
        gone[next] = killed[next] = true;
        rt_sleep_ms(SESSION_MS * 2); /* its session expires: nothing may change */
        RT_CHECK(leader_of(n, gone) == lead, "the leader changed when a follower died");
        int old = lead;
        int64_t old_tok = tok;
        kill(pid[old], SIGKILL);
        waitpid(pid[old], NULL, 0);
        gone[old] = killed[old] = true;
        lead = expected_leader(style, n, gone, prio);
        tok = wait_term(lead, old_tok, n, gone, 0, NULL);
        printf("  next-in-line %d killed -9 (leader unchanged), then leader %d killed -9: "
               "candidate %d leads (token %lld)\n",
               next, old, lead, (long long)tok);
    }
    atomic_store(&shm->stop, 1);
    int bad = 0;
    for (int k = 0; k < n; k++)
        if (!gone[k] && !child_exited_ok(pid[k]))
            bad++;
    RT_CHECK(bad == 0, "%d candidate(s) failed", bad);
    int overlaps = 0;
    for (int k = 0; k < n; k++)
        overlaps += atomic_load(&shm->s[k].overlap);
    int h = check_history(ah, reg, hist, n, killed, forbid, "election");
    RT_CHECK(overlaps == 0, "%d leader writes found the register changed under a valid fence",
             overlaps);
    printf("PASS %s N=%d processes: SIGSTOP and kill -9 of leaders each hand over to the "
           "expected candidate; %d fenced writes in commit order with non-decreasing tokens, one "
           "leader per token, none by a resumed leader (%.1f s)\n",
           style == ZR_ELECT_BULLY ? "bully" : "ring", n, h, (rt_now_us() - t0) / 1e6);
}

/* -- queue -- */

#define Q_CONS 3

static bool is_consumer[SLOTS];

/* Elements left in the queue, as the cluster has it now. */
static int queue_len(zn_handle *ah, const char *q)
{
    struct zn_strings ch = {0, NULL};
    RT_CHECK(zn_sync(ah, q) == 0 && zn_get_children(ah, q, 0, &ch) == 0, "queue children");
    int n = 0;
    for (int i = 0; i < ch.count; i++)
        n += strncmp(ch.data[i], "q-", 2) == 0;
    zn_strings_free(&ch);
    return n;
}

/* A live consumer holding a taken, unrecorded item (or, !holding, any live consumer). */
static int consumer_holding(int n, const bool *gone, bool holding)
{
    for (int k = 0; k < n; k++)
        if (is_consumer[k] && !gone[k] && (!holding || atomic_load(&shm->s[k].holding) != 0))
            return k;
    return -1;
}

static void test_queue(zn_handle *ah, const char *dir)
{
    char q[200];
    snprintf(q, sizeof(q), "%s/queue", dir);
    pid_t pid[SLOTS];
    bool gone[SLOTS] = {false};
    int n = 0;
    for (; n < Q_CONS; n++) {
        pid[n] = spawn(n, "consumer", q, NULL, NULL);
        is_consumer[n] = true;
    }
    for (int p = 0; p < Q_PROD; p++, n++) {
        char a[8];
        snprintf(a, sizeof(a), "%d", p);
        pid[n] = spawn(n, "producer", q, a, NULL);
    }
    /* Kill -9 a consumer, twice: first one caught between its take (the delete that makes
     * the item its own) and its processing, then one in whatever it is doing. */
    int kills = 0, kills_in_take = 0, lost_known[2] = {0, 0};
    for (int round = 0; round < 2; round++) {
        WAIT_FOR(atomic_load(&shm->taken_total) >= (round + 1) * Q_PROD * Q_ITEMS / 4,
                 "items taken (%d)", atomic_load(&shm->taken_total));
        int v = -1;
        WAIT_FOR((v = consumer_holding(n, gone, round == 0)) >= 0, "a consumer to kill");
        kill(pid[v], SIGKILL);
        waitpid(pid[v], NULL, 0);
        lost_known[round] = atomic_load(&shm->s[v].holding);
        kills_in_take += lost_known[round] == 0 && atomic_load(&shm->s[v].phase) == PH_TAKE;
        gone[v] = true;
        kills++;
        pid[n] = spawn(n, "consumer", q, NULL, NULL); /* a replacement */
        is_consumer[n] = true;
        n++;
    }
    /* SIGSTOP a consumer holding an item until the others went on and past its session
     * timeout: resumed, it finishes that item (nothing lost, nothing twice) and starts a new
     * session for the next takes. */
    WAIT_FOR(atomic_load(&shm->taken_total) >= 3 * Q_PROD * Q_ITEMS / 4, "items taken (%d)",
             atomic_load(&shm->taken_total));
    int pv = -1;
    WAIT_FOR((pv = consumer_holding(n, gone, true)) >= 0, "a consumer holding an item to pause");
    kill(pid[pv], SIGSTOP);
    int wst;
    RT_CHECK(waitpid(pid[pv], &wst, WUNTRACED) == pid[pv] && WIFSTOPPED(wst), "stopped");
    int held = atomic_load(&shm->s[pv].holding);
    int before = atomic_load(&shm->taken_total);
    WAIT_FOR(queue_len(ah, q) == 0 || atomic_load(&shm->taken_total) >= before + 10,
             "the others to go on while consumer %d is stopped", pv);
    rt_sleep_ms(SESSION_MS + 500); /* past its session timeout */
    kill(pid[pv], SIGCONT);
    if (held != 0)
        WAIT_FOR(atomic_load(&shm->seen[(held - 1) / Q_ITEMS][(held - 1) % Q_ITEMS]) >= 1,
                 "the resumed consumer %d to process its item", pv);
    WAIT_FOR(atomic_load(&shm->s[pv].ended) >= 1,
             "the resumed consumer %d to find its session expired", pv);
    for (int k = Q_CONS; k < Q_CONS + Q_PROD; k++) {
        RT_CHECK(child_exited_ok(pid[k]), "producer %d", k);
        gone[k] = true;
    }
    /* Everything put is taken (the queue empty and no live consumer holding an item), or lost
     * with a killed consumer. */
    int lost = (lost_known[0] != 0) + (lost_known[1] != 0);
    WAIT_FOR(queue_len(ah, q) == 0 && consumer_holding(n, gone, true) < 0,
             "the queue to drain (taken %d, %d left)", atomic_load(&shm->taken_total),
             queue_len(ah, q));
    atomic_store(&shm->stop, 1);
    for (int k = 0; k < n; k++)
        if (!gone[k])
            RT_CHECK(child_exited_ok(pid[k]), "consumer %d", k);
    int dup = 0, missing = 0, unexplained = 0;
    for (int p = 0; p < Q_PROD; p++)
        for (int i = 0; i < Q_ITEMS; i++) {
            int c = atomic_load(&shm->seen[p][i]);
            dup += c > 1;
            missing += c == 0;
            if (c == 0 && lost_known[0] != 1 + p * Q_ITEMS + i &&
                lost_known[1] != 1 + p * Q_ITEMS + i)
                unexplained++;
        }
    char buf[8];
    int32_t bl = sizeof(buf);
    RT_CHECK(zn_sync(ah, q) == 0, "sync");
    int rc = zr_queue_take(ah, q, 0, buf, &bl);
    printf("queue: %d producer and %d consumer processes, %d consumers killed -9 (%d between a "
           "take and its processing, %d inside a take), one stopped %s past its session "
           "timeout and resumed: %d items put, %d processed, %d duplicates, %d lost (%d of them "
           "not held by a killed consumer), queue then %s\n",
           Q_PROD, Q_CONS + kills, kills, lost, kills_in_take,
           held ? "holding an item" : "(between items)", Q_PROD * Q_ITEMS,
           atomic_load(&shm->taken_total), dup, missing, unexplained,
           rc == ZN_ENONODE ? "empty" : "NOT empty");
    RT_CHECK(lost >= 1, "no consumer was caught holding an item");
    RT_CHECK(dup == 0, "an item was delivered twice");
    RT_CHECK(rc == ZN_ENONODE, "items left in the queue: %s", zn_strerror(rc));
    /* At-most-once delivery: the delete is the claim, so an item taken by a consumer that dies
     * before processing it is gone (the killed consumers' held items), and one whose delete
     * was in flight at the kill may be too (at most one per kill inside a take). */
    RT_CHECK(missing >= lost, "a killed consumer's taken item came back (%d missing)", missing);
    RT_CHECK(unexplained <= kills_in_take, "%d items lost that no killed consumer held",
             unexplained);
}

/* -- group -- */

#define G_N 6

static bool views_are(int n, const bool *live, uint64_t want, zr_group *g)
{
    for (int k = 0; k < n; k++)
        if (live[k] && atomic_load(&shm->s[k].view_mask) != want)
            return false;
    struct zn_strings names = {0, NULL};
    RT_CHECK(zr_group_members(g, &names, NULL) == 0, "members");
    uint64_t mask = 0;
    for (int i = 0; i < names.count; i++) {
        int k = -1;
        if (sscanf(names.data[i], "m%d", &k) == 1 && k >= 0 && k < SLOTS)
            mask |= 1ull << k;
    }
    zn_strings_free(&names);
    return mask == want;
}

static uint64_t mask_of(int n, const bool *in)
{
    uint64_t m = 0;
    for (int k = 0; k < n; k++)
        if (in[k])
            m |= 1ull << k;
    return m;
}

static void test_group(zr_session *admin, const char *dir)
{
    char g_dir[200];
    snprintf(g_dir, sizeof(g_dir), "%s/group", dir);
    zr_group *g;
    RT_CHECK(zr_group_watch(admin, g_dir, NULL, NULL, &g) == 0, "watch");
    pid_t pid[G_N];
    bool live[G_N], in[G_N];
    for (int k = 0; k < G_N; k++) {
        pid[k] = spawn(k, "member", g_dir, NULL, NULL);
        live[k] = in[k] = true;
    }
    uint64_t all = mask_of(G_N, in);
    WAIT_FOR(views_are(G_N, live, all, g), "all %d members in every view", G_N);
    int64_t t = rt_now_us();
    kill(pid[1], SIGKILL);
    waitpid(pid[1], NULL, 0);
    live[1] = in[1] = false;
    kill(pid[4], SIGSTOP);
    int wst;
    RT_CHECK(waitpid(pid[4], &wst, WUNTRACED) == pid[4] && WIFSTOPPED(wst), "stopped");
    live[4] = in[4] = false;
    WAIT_FOR(views_are(G_N, live, mask_of(G_N, in), g),
             "the views without m1 (killed) and m4 (stopped)");
    printf("group: %d member processes; m1 killed -9 and m4 stopped: every live member's view and "
           "the watcher's converged to the %d others in %.0f ms\n",
           G_N, G_N - 2, (rt_now_us() - t) / 1000.0);
    kill(pid[4], SIGCONT);
    live[4] = in[4] = true;
    WAIT_FOR(views_are(G_N, live, mask_of(G_N, in), g) && atomic_load(&shm->s[4].ended) >= 1,
             "m4 back (new session, joined again) in every view");
    printf("group: m4 resumed, found its session expired, joined again: views converged to %d "
           "members\n",
           G_N - 1);
    atomic_store(&shm->stop, 1);
    for (int k = 0; k < G_N; k++)
        if (k != 1)
            RT_CHECK(child_exited_ok(pid[k]), "member %d", k);
    zr_group_close(g);
}

/* -- leadership lost on suspension -- */

#define SUSP_N          4
#define SUSP_SESSION_MS "3000" /* suspended at 1/3 of it, reconnected long before expiry */

/* The zincd of node `idx` (ZN_TEST_ZINCD_PIDS: their pids in ZN_TEST_CONNECT order). */
static pid_t zincd_pid(int idx)
{
    const char *l = getenv("ZN_TEST_ZINCD_PIDS");
    RT_CHECK(l != NULL && l[0], "ZN_TEST_ZINCD_PIDS not set");
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", l);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (k++ == idx)
            return (pid_t)arg_long(t, 2, 1 << 30);
    RT_CHECK(false, "no zincd pid for node index %d in '%s'", idx, l);
    return -1;
}

/* SIGSTOP the zincd the leading candidate is connected to: the candidate must report the
 * leadership lost once its session is suspended (before anything expires), move its session
 * to another node and lead again with the same term (its node never went away), while no
 * other candidate leads in between. */
static void test_suspend(zn_handle *ah, const char *dir)
{
    char reg[200], hist[200];
    snprintf(reg, sizeof(reg), "%s/reg", dir);
    snprintf(hist, sizeof(hist), "%s/hist", dir);
    make_register(ah, reg, hist);
    pid_t pid[SUSP_N];
    bool killed[SUSP_N] = {false}, gone[SUSP_N] = {false};
    long long forbid[SUSP_N] = {0};
    for (int k = 0; k < SUSP_N; k++) {
        pid[k] = spawn(k, "ring", dir, "0", SUSP_SESSION_MS);
        WAIT_FOR(atomic_load(&shm->s[k].ready), "candidate %d to join", k);
    }
    struct slot *l = &shm->s[0];
    int64_t tok = wait_term(0, 0, SUSP_N, gone, 0, NULL);
    int node = atomic_load(&l->node);
    pid_t zp = zincd_pid(node);
    long long acked0 = atomic_load(&l->acked);
    kill(zp, SIGSTOP);
    int64_t t0 = rt_now_us();
    WAIT_FOR(atomic_load(&l->lost) >= 1 || atomic_load(&l->ended),
             "the leader to report its leadership lost while node %d is stopped", node);
    double lost_ms = (rt_now_us() - t0) / 1000.0;
    RT_CHECK(!atomic_load(&l->ended), "the leader's session ended instead of being suspended");
    WAIT_FOR(atomic_load(&l->leader) && atomic_load(&l->node) != node &&
                 atomic_load(&l->acked) > acked0,
             "the leader to lead again from another node (now on %d, leader %d)",
             atomic_load(&l->node), atomic_load(&l->leader));
    double back_ms = (rt_now_us() - t0) / 1000.0;
    RT_CHECK(atomic_load(&l->token) == tok, "a new term (%lld, was %lld) though its node stayed",
             (long long)atomic_load(&l->token), (long long)tok);
    kill(zp, SIGCONT);
    for (int k = 1; k < SUSP_N; k++)
        RT_CHECK(atomic_load(&shm->s[k].acked) == 0, "candidate %d wrote as leader", k);
    rt_sleep_ms(200);
    atomic_store(&shm->stop, 1);
    for (int k = 0; k < SUSP_N; k++)
        RT_CHECK(child_exited_ok(pid[k]), "candidate %d", k);
    int h = check_history(ah, reg, hist, SUSP_N, killed, forbid, "suspend");
    printf("suspend: the node under the leader (node %d) stopped: the leader reported ZR_LOST "
           "after %.0f ms (session timeout %s ms, nothing expired), led again from node %d "
           "with the same token %lld after %.0f ms; no other candidate led; %d fenced writes\n",
           node, lost_ms, SUSP_SESSION_MS, atomic_load(&l->node), (long long)tok, back_ms, h);
}

/* -- barrier -- */

#define B_N 5

static int count_phase(int n, int phase)
{
    int c = 0;
    for (int k = 0; k < n; k++)
        c += atomic_load(&shm->s[k].phase) == phase;
    return c;
}

static void test_barrier(const char *dir)
{
    char b[200];
    snprintf(b, sizeof(b), "%s/dbar", dir);
    pid_t pid[B_N];
    for (int k = 0; k < B_N; k++) {
        pid[k] = spawn(k, "barrier", b, NULL, NULL);
        rt_sleep_ms(30);
    }
    WAIT_FOR(count_phase(B_N, PH_IN) == B_N, "all %d inside the double barrier (%d)", B_N,
             count_phase(B_N, PH_IN));
    for (int k = 0; k < B_N; k++)
        RT_CHECK(!atomic_load(&shm->s[k].early), "participant %d passed enter early", k);
    kill(pid[0], SIGKILL); /* dies inside: never leaves */
    waitpid(pid[0], NULL, 0);
    atomic_store(&shm->go, 1);
    for (int k = 1; k < B_N; k++)
        RT_CHECK(child_exited_ok(pid[k]) && atomic_load(&shm->s[k].phase) == PH_LEFT,
                 "participant %d left", k);
    printf("double barrier: %d participant processes entered together; one killed -9 inside; "
           "the others left once its session ended\n",
           B_N);
}

/* ---- main ----------------------------------------------------------------------------------- */

static long arg_long(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    RT_CHECK(errno == 0 && end != s && *end == '\0' && v >= lo && v <= hi, "bad number '%s'", s);
    return v;
}

static void map_shm(int fd)
{
    void *p = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    RT_CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    shm = p;
    shm_fd = fd;
}

/* child <fd> <role> <slot> <dir> <a1> <a2> */
static int child_main(int argc, char **argv)
{
    RT_CHECK(argc == 8, "child arguments");
    map_shm((int)arg_long(argv[2], 0, 1 << 20));
    const char *role = argv[3];
    int slot = (int)arg_long(argv[4], 0, SLOTS - 1);
    const char *dir = argv[5];
    RT_CHECK(rt_env_init(&env) == 0 && !env.fake, "environment");
    if (strcmp(role, "lock") == 0)
        child_lock(slot, dir);
    else if (strcmp(role, "ring") == 0)
        child_cand(slot, dir, ZR_ELECT_RING, 0,
                   strcmp(argv[7], "-") ? (uint32_t)arg_long(argv[7], 500, 60000) : SESSION_MS);
    else if (strcmp(role, "bully") == 0)
        child_cand(slot, dir, ZR_ELECT_BULLY, (uint32_t)arg_long(argv[6], 0, 999999999),
                   SESSION_MS);
    else if (strcmp(role, "consumer") == 0)
        child_consumer(slot, dir);
    else if (strcmp(role, "producer") == 0)
        child_producer(slot, dir, (int)arg_long(argv[6], 0, Q_PROD - 1));
    else if (strcmp(role, "member") == 0)
        child_member(slot, dir);
    else if (strcmp(role, "barrier") == 0)
        child_barrier(slot, dir, B_N);
    else
        return 2;
    return 0;
}

int main(int argc, char **argv)
{
    self_exe = "/proc/self/exe";
    if (argc >= 2 && strcmp(argv[1], "child") == 0)
        return child_main(argc, argv);
    if (argc < 2) {
        fprintf(stderr, "usage: test_kill lock|queue|group|barrier|election ring|bully N\n");
        return 2;
    }
    const char *conn = getenv("ZN_TEST_CONNECT");
    if (conn == NULL || conn[0] == '\0') {
        printf("SKIP: test_kill needs a real cluster (ZN_TEST_CONNECT): the fake node does not "
               "expire the sessions of killed processes\n");
        return 77;
    }
    RT_CHECK(rt_env_init(&env) == 0, "environment");
    int fd = memfd_create("test_kill", 0); /* inherited by the children (no CLOEXEC) */
    RT_CHECK(fd >= 0 && ftruncate(fd, sizeof(struct shm)) == 0, "memfd: %s", strerror(errno));
    map_shm(fd);
    zr_session *admin;
    RT_CHECK(rt_open(&env, NULL, 10000, &admin) == 0, "admin session");
    zn_handle *ah = zr_session_handle(admin);
    char dir[128];
    snprintf(dir, sizeof(dir), "/test-kill-%s%s%s-%d", argv[1], argc > 2 ? "-" : "",
             argc > 2 ? argv[2] : "", (int)getpid());
    RT_CHECK(zr_ensure_path(ah, dir) == 0, "base");
    int64_t t0 = rt_now_us();
    if (strcmp(argv[1], "lock") == 0)
        test_lock(ah, dir);
    else if (strcmp(argv[1], "election") == 0 && argc == 4)
        test_election(ah, dir, strcmp(argv[2], "bully") == 0 ? ZR_ELECT_BULLY : ZR_ELECT_RING,
                      (int)arg_long(argv[3], 3, 60));
    else if (strcmp(argv[1], "queue") == 0)
        test_queue(ah, dir);
    else if (strcmp(argv[1], "group") == 0)
        test_group(admin, dir);
    else if (strcmp(argv[1], "barrier") == 0)
        test_barrier(dir);
    else if (strcmp(argv[1], "suspend") == 0)
        test_suspend(ah, dir);
    else
        return 2;
    zr_session_close(admin);
    printf("PASS kill %s (%.1f s)\n", argv[1], (rt_now_us() - t0) / 1e6);
    return 0;
}
