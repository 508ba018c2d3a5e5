/*
 * dataplane/zn_dp_loop.c - poll loop, placement, rings, control messages and idle policy (see
 * zn_dp_loop.h).
 *
 * Invariants:
 *  - a stage runs on exactly one lcore; zn_dp_sched_place never leaves a stage unplaced;
 *  - an lcore registered with QSBR is online whenever it runs a stage, and offline whenever it
 *    sleeps (so synchronize_rcu on the writer never waits for a sleeping reader);
 *  - the loop never blocks except in the lab policy's bounded sleep (ppoll with the sleep
 *    length as timeout);
 *  - a control message or a stop reaches a sleeping lcore at once: the sender enqueues, then
 *    (seq_cst) reads `asleep` and kicks the eventfd if set; the lcore sets `asleep`, then
 *    (seq_cst) checks the control ring and the stop flag before it waits. Whatever the
 *    interleaving, either the lcore sees the message or the sender sees it asleep and kicks
 *    (tests/dataplane/test_loop.c, loop.ctrl_wakes_sleeping_lcore);
 *  - the same holds for any other thread's ring into a stage (zn_dp_sched_stage_pending, the
 *    ZooKeeper port's requests): the producer publishes the record (release), fences (seq_cst)
 *    and reads `asleep` (zn_dp_lcore_wake); the lcore stores asleep = true, fences (seq_cst) and
 *    then asks every stage's pending() (an acquire read of the ring). The race "lcore polls the
 *    ring empty, producer enqueues, lcore goes to sleep": if the producer's read of `asleep`
 *    comes before the lcore's store in the fences' total order, the lcore's pending() comes after
 *    the enqueue and sees the record (the sleep is cancelled); otherwise the producer reads true
 *    and writes the eventfd, which stays readable until the lcore reads it, so a ppoll that
 *    starts after the write returns at once. A stale `asleep` (the lcore already woke) costs one
 *    spurious kick: the next sleep ends at once and counts as a kick wake. An awake lcore costs
 *    the producer a fence and a load, no syscall;
 *  - every sleep ends for exactly one counted reason: timer, kick, stage fd, or cancelled.
 */
#include "dataplane/zn_dp_loop.h"

#define _LGPL_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <urcu/urcu-qsbr.h>

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"

/* ---- rings ------------------------------------------------------------------------------ */

int zn_dp_ring_init(struct zn_dp_ring *r, const char *name, unsigned count, bool single_producer,
                    bool single_consumer)
{
    memset(r, 0, sizeof(*r));
    if (count < 2 || count > ZN_RING_SIZE_MAX || (count & (count - 1)) != 0)
        return ZN_EINVAL;
    ssize_t size = rte_ring_get_memsize(count);
    if (size < 0)
        return ZN_EINVAL;
    size_t bytes = ((size_t)size + 63) & ~(size_t)63;
    struct rte_ring *ring = aligned_alloc(64, bytes);
    if (ring == NULL)
        return ZN_ENOMEM;
    unsigned flags = (single_producer ? RING_F_SP_ENQ : 0) | (single_consumer ? RING_F_SC_DEQ : 0);
    if (rte_ring_init(ring, name, count, flags) != 0) {
        free(ring);
        return ZN_EINVAL;
    }
    r->ring = ring;
    atomic_init(&r->full, 0);
    return 0;
}

void zn_dp_ring_fini(struct zn_dp_ring *r)
{
    free(r->ring);
    r->ring = NULL;
}

unsigned zn_dp_ring_enqueue(struct zn_dp_ring *r, void *const *objs, unsigned n)
{
    unsigned done = rte_ring_enqueue_burst(r->ring, objs, n, NULL);
    if (done < n)
        atomic_fetch_add_explicit(&r->full, n - done, memory_order_relaxed);
    return done;
}

unsigned zn_dp_ring_dequeue(struct zn_dp_ring *r, void **objs, unsigned n)
{
    return rte_ring_dequeue_burst(r->ring, objs, n, NULL);
}

unsigned zn_dp_ring_count(const struct zn_dp_ring *r)
{
    return rte_ring_count(r->ring);
}

/* ---- scheduler -------------------------------------------------------------------------- */

int zn_dp_sched_init(struct zn_dp_sched *s, unsigned n_lcores, const struct zn_dp_idle_cfg *idle,
                     uint32_t housekeeping_every, const struct zn_clock *clock, bool rcu)
{
    memset(s, 0, sizeof(*s));
    if (n_lcores == 0 || n_lcores > ZN_DP_LCORES_MAX || housekeeping_every == 0 || clock == NULL)
        return ZN_EINVAL;
    atomic_init(&s->stop, false);
    s->n_lcores = n_lcores;
    for (unsigned i = 0; i < n_lcores; i++) {
        struct zn_dp_lcore *lc = &s->lcores[i];
        lc->index = i;
        lc->idle = *idle;
        lc->housekeeping_every = housekeeping_every;
        lc->rcu = rcu;
        lc->stop = &s->stop;
        lc->clock = clock;
        lc->kick_fd = -1;
        atomic_init(&lc->asleep, false);
        char name[32];
        snprintf(name, sizeof(name), "zn_ctrl_%u", i);
        int rc = zn_dp_ring_init(&lc->ctrl, name, ZN_DP_CTRL_RING_SIZE, false, true);
        if (rc != 0) {
            s->n_lcores = i;
            zn_dp_sched_fini(s);
            return rc;
        }
        lc->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (lc->kick_fd < 0) {
            s->n_lcores = i + 1;
            zn_dp_sched_fini(s);
            return ZN_ESYSTEM;
        }
    }
    return 0;
}

void zn_dp_sched_fini(struct zn_dp_sched *s)
{
    for (unsigned i = 0; i < s->n_lcores; i++) {
        zn_dp_ring_fini(&s->lcores[i].ctrl);
        if (s->lcores[i].kick_fd >= 0)
            close(s->lcores[i].kick_fd);
        s->lcores[i].kick_fd = -1;
    }
    s->n_lcores = 0;
}

int zn_dp_sched_add_stage(struct zn_dp_sched *s, const char *name, zn_dp_poll_fn poll,
                          zn_dp_housekeeping_fn housekeeping, void *ctx)
{
    if (s->n_stages >= ZN_DP_STAGES_MAX)
        return ZN_ELIMIT;
    if (name == NULL || poll == NULL || strlen(name) == 0 || strlen(name) >= ZN_DP_STAGE_NAME_MAX)
        return ZN_EINVAL;
    for (unsigned i = 0; i < s->n_stages; i++) {
        if (strcmp(s->stages[i].name, name) == 0)
            return ZN_EINVAL;
    }
    struct zn_dp_stage *st = &s->stages[s->n_stages++];
    snprintf(st->name, sizeof(st->name), "%s", name);
    st->poll = poll;
    st->housekeeping = housekeeping;
    st->ctx = ctx;
    st->lcore = 0;
    return zn_dp_sched_place(s, NULL);
}

int zn_dp_sched_stage_wake_fd(struct zn_dp_sched *s, const char *name, int fd)
{
    if (name == NULL || fd < 0)
        return ZN_EINVAL;
    for (unsigned i = 0; i < s->n_stages; i++) {
        struct zn_dp_stage *st = &s->stages[i];
        if (strcmp(st->name, name) != 0)
            continue;
        if (st->n_wake_fds >= ZN_DP_STAGE_WAKE_FDS_MAX)
            return ZN_ELIMIT;
        st->wake_fds[st->n_wake_fds++] = fd;
        return 0;
    }
    return ZN_EINVAL;
}

int zn_dp_sched_stage_pending(struct zn_dp_sched *s, const char *name, zn_dp_pending_fn pending)
{
    if (name == NULL || pending == NULL)
        return ZN_EINVAL;
    for (unsigned i = 0; i < s->n_stages; i++) {
        if (strcmp(s->stages[i].name, name) == 0) {
            s->stages[i].pending = pending;
            return 0;
        }
    }
    return ZN_EINVAL;
}

struct zn_dp_lcore *zn_dp_sched_stage_lcore(struct zn_dp_sched *s, const char *name)
{
    for (unsigned i = 0; name != NULL && i < s->n_stages; i++) {
        if (strcmp(s->stages[i].name, name) == 0)
            return &s->lcores[s->stages[i].lcore];
    }
    return NULL;
}

int zn_dp_sched_place(struct zn_dp_sched *s, const char *placement)
{
    unsigned where[ZN_DP_STAGES_MAX];
    for (unsigned i = 0; i < s->n_stages; i++)
        where[i] = s->stages[i].lcore;
    const char *p = placement;
    while (p != NULL && *p != '\0') {
        const char *eq = strchr(p, '=');
        if (eq == NULL || eq == p || (size_t)(eq - p) >= ZN_DP_STAGE_NAME_MAX)
            return ZN_EINVAL;
        char *end;
        errno = 0;
        unsigned long idx = strtoul(eq + 1, &end, 10);
        if (end == eq + 1 || errno != 0 || idx >= s->n_lcores || (*end != ',' && *end != '\0'))
            return ZN_EINVAL;
        unsigned found = s->n_stages;
        for (unsigned i = 0; i < s->n_stages; i++) {
            if (strlen(s->stages[i].name) == (size_t)(eq - p) &&
                memcmp(s->stages[i].name, p, (size_t)(eq - p)) == 0)
                found = i;
        }
        if (found == s->n_stages)
            return ZN_EINVAL;
        where[found] = (unsigned)idx;
        p = *end == ',' ? end + 1 : end;
    }
    for (unsigned l = 0; l < s->n_lcores; l++)
        s->lcores[l].n_stages = 0;
    for (unsigned i = 0; i < s->n_stages; i++) {
        s->stages[i].lcore = where[i];
        struct zn_dp_lcore *lc = &s->lcores[where[i]];
        lc->stages[lc->n_stages++] = &s->stages[i];
    }
    return 0;
}

static void *lcore_thread(void *arg)
{
    (void)zn_dp_lcore_run(arg);
    return NULL;
}

int zn_dp_sched_start_threads(struct zn_dp_sched *s)
{
    for (unsigned i = 0; i < s->n_lcores; i++) {
        struct zn_dp_lcore *lc = &s->lcores[i];
        if (pthread_create(&lc->thread, NULL, lcore_thread, lc) != 0) {
            zn_dp_sched_stop(s);
            return ZN_ESYSTEM;
        }
        lc->thread_started = true;
    }
    return 0;
}

static int lcore_eal_main(void *arg)
{
    return zn_dp_lcore_run(arg);
}

int zn_dp_sched_start_eal(struct zn_dp_sched *s)
{
    unsigned workers[ZN_DP_LCORES_MAX];
    unsigned n = 0, id;
    RTE_LCORE_FOREACH_WORKER(id)
    {
        if (n < ZN_DP_LCORES_MAX)
            workers[n++] = id;
    }
    if (n + 1 < s->n_lcores)
        return ZN_ELIMIT;
    for (unsigned i = 1; i < s->n_lcores; i++) {
        struct zn_dp_lcore *lc = &s->lcores[i];
        if (rte_eal_remote_launch(lcore_eal_main, lc, workers[i - 1]) != 0) {
            zn_dp_sched_stop(s);
            return ZN_EBUSY;
        }
        lc->eal_lcore = workers[i - 1];
        lc->eal_started = true;
    }
    return 0;
}

/*
 * Wake `lc` if it is asleep (after the caller published what it should see, seq_cst). The
 * exchange lets only the first of several producers pay the write while the lcore sleeps: the
 * one that turned `asleep` off has written the eventfd, so the lcore wakes; a later producer
 * that reads false is covered by the next sleep's pending check (invariants above).
 */
static void lcore_kick(struct zn_dp_lcore *lc, bool always)
{
    if (lc->kick_fd < 0)
        return;
    /* A plain load first: an awake lcore costs the producer no read-modify-write of a line
     * the lcore writes. */
    if (!always && (!atomic_load_explicit(&lc->asleep, memory_order_seq_cst) ||
                    !atomic_exchange_explicit(&lc->asleep, false, memory_order_seq_cst)))
        return;
    uint64_t one = 1;
    ssize_t w = write(lc->kick_fd, &one, sizeof(one));
    (void)w; /* EAGAIN: the counter is already non-zero, the lcore wakes anyway */
}

void zn_dp_lcore_wake(struct zn_dp_lcore *lc)
{
    atomic_thread_fence(memory_order_seq_cst); /* the enqueue before reading `asleep` */
    lcore_kick(lc, false);
}

void zn_dp_sched_stop(struct zn_dp_sched *s)
{
    atomic_store_explicit(&s->stop, true, memory_order_seq_cst);
    for (unsigned i = 0; i < s->n_lcores; i++)
        lcore_kick(&s->lcores[i], true);
    for (unsigned i = 0; i < s->n_lcores; i++) {
        struct zn_dp_lcore *lc = &s->lcores[i];
        if (lc->thread_started) {
            pthread_join(lc->thread, NULL);
            lc->thread_started = false;
        }
        if (lc->eal_started) {
            (void)rte_eal_wait_lcore(lc->eal_lcore);
            lc->eal_started = false;
        }
    }
}

static void apply_idle(void *arg, struct zn_dp_lcore *lc)
{
    const struct zn_dp_idle_cfg *next = arg;
    lc->idle = *next;
    zn_dp_idle_thread_setup(&lc->idle);
}

static bool idle_all_done(struct zn_dp_sched *s)
{
    for (unsigned i = 0; i < s->n_lcores; i++) {
        if (!atomic_load_explicit(&s->idle_ctrl[i].done, memory_order_acquire))
            return false;
    }
    return true;
}

int zn_dp_sched_set_idle(struct zn_dp_sched *s, const struct zn_dp_idle_cfg *idle,
                         uint64_t timeout_ns)
{
    if (s->idle_pending && !idle_all_done(s))
        return ZN_EBUSY;
    s->idle_next = *idle;
    for (unsigned i = 0; i < s->n_lcores; i++) {
        s->idle_ctrl[i].fn = apply_idle;
        s->idle_ctrl[i].arg = &s->idle_next;
        atomic_store_explicit(&s->idle_ctrl[i].done, true, memory_order_relaxed);
    }
    s->idle_pending = true;
    for (unsigned i = 0; i < s->n_lcores; i++) {
        if (zn_dp_lcore_ctrl_send(&s->lcores[i], &s->idle_ctrl[i]) != 0)
            return ZN_EFULL; /* the lcores before i apply it; idle_pending guards the buffer */
    }
    struct timespec step = {.tv_sec = 0, .tv_nsec = 100 * 1000};
    for (uint64_t waited = 0; !idle_all_done(s); waited += 100 * 1000) {
        if (waited >= timeout_ns)
            return ZN_ETIMEDOUT;
        nanosleep(&step, NULL);
    }
    s->idle_pending = false;
    return 0;
}

/* ---- the loop --------------------------------------------------------------------------- */

int zn_dp_lcore_ctrl_send(struct zn_dp_lcore *lc, struct zn_dp_ctrl *msg)
{
    atomic_store_explicit(&msg->done, false, memory_order_relaxed);
    void *obj = msg;
    if (zn_dp_ring_enqueue(&lc->ctrl, &obj, 1) == 1) {
        atomic_thread_fence(memory_order_seq_cst); /* the enqueue before reading `asleep` */
        lcore_kick(lc, false);
        return 0;
    }
    atomic_store_explicit(&msg->done, true, memory_order_relaxed); /* never queued: not pending */
    return ZN_EFULL;
}

static void housekeeping(struct zn_dp_lcore *lc, uint64_t now_ns)
{
    if (lc->rcu)
        urcu_qsbr_quiescent_state();
    /* Publish before running control messages: a sender that sees `done` also sees these. */
    atomic_store_explicit(&lc->published_iterations, lc->stats.iterations, memory_order_relaxed);
    atomic_store_explicit(&lc->published_sleeps, lc->stats.sleeps, memory_order_relaxed);
    void *msgs[ZN_DP_CTRL_PER_ROUND];
    unsigned n = zn_dp_ring_dequeue(&lc->ctrl, msgs, ZN_DP_CTRL_PER_ROUND);
    for (unsigned i = 0; i < n; i++) {
        struct zn_dp_ctrl *m = msgs[i];
        m->fn(m->arg, lc);
        atomic_store_explicit(&m->done, true, memory_order_release);
    }
    lc->stats.ctrl_msgs += n;
    for (unsigned i = 0; i < lc->n_stages; i++) {
        if (lc->stages[i]->housekeeping != NULL)
            lc->stages[i]->housekeeping(lc->stages[i]->ctx, lc, now_ns);
    }
    lc->stats.housekeepings++;
}

/* Does a stage's ring from another thread hold work (after `asleep` was announced)? */
static bool stages_pending(struct zn_dp_lcore *lc)
{
    for (unsigned i = 0; i < lc->n_stages; i++) {
        const struct zn_dp_stage *st = lc->stages[i];
        if (st->pending != NULL && st->pending(st->ctx))
            return true;
    }
    return false;
}

static void publish_wakes(struct zn_dp_lcore *lc)
{
    atomic_store_explicit(&lc->published_wakes_timer, lc->stats.wakes_timer, memory_order_relaxed);
    atomic_store_explicit(&lc->published_wakes_kick, lc->stats.wakes_kick, memory_order_relaxed);
    atomic_store_explicit(&lc->published_wakes_fd, lc->stats.wakes_fd, memory_order_relaxed);
    atomic_store_explicit(&lc->published_sleep_ns, 0, memory_order_release);
}

/*
 * Sleep up to ns in ppoll on the kick eventfd and the stages' wake fds (see the invariants at
 * the top). Returns true when an fd ended the sleep early. A stage fd that woke the previous
 * sleep without any work found since (it stays readable: a stage under backpressure leaves its
 * socket unread) is left out of this one, so such an fd cannot turn the sleep into a spin.
 * Counts why the sleep ended (stats.wakes_*, sleeps_cancelled).
 */
static bool idle_wait(struct zn_dp_lcore *lc, uint64_t ns)
{
    struct pollfd pfd[ZN_DP_LCORE_WAKE_FDS_MAX];
    nfds_t n = 0;
    pfd[n++] = (struct pollfd){.fd = lc->kick_fd, .events = POLLIN};
    bool skip_stage_fds = lc->fds_ignored_once;
    lc->fds_ignored_once = false;
    for (unsigned i = 0; i < lc->n_stages && !skip_stage_fds; i++) {
        for (unsigned j = 0; j < lc->stages[i]->n_wake_fds && n < ZN_DP_LCORE_WAKE_FDS_MAX; j++)
            pfd[n++] = (struct pollfd){.fd = lc->stages[i]->wake_fds[j], .events = POLLIN};
    }
    atomic_store_explicit(&lc->asleep, true, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with zn_dp_lcore_ctrl_send's fence */
    if (zn_dp_ring_count(&lc->ctrl) > 0 || atomic_load_explicit(lc->stop, memory_order_seq_cst) ||
        stages_pending(lc)) {
        atomic_store_explicit(&lc->asleep, false, memory_order_relaxed);
        lc->stats.sleeps_cancelled++;
        return true;
    }
    struct timespec ts = {.tv_sec = (time_t)(ns / ZN_NS_PER_S),
                          .tv_nsec = (long)(ns % ZN_NS_PER_S)};
    atomic_store_explicit(&lc->published_sleep_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&lc->published_waits, 1, memory_order_release);
    int r = ppoll(pfd, n, &ts, NULL);
    atomic_store_explicit(&lc->asleep, false, memory_order_relaxed);
    if (r <= 0) {
        lc->stats.wakes_timer++; /* timeout, or EINTR: the loop polls again either way */
        publish_wakes(lc);
        return false;
    }
    bool kicked = (pfd[0].revents & POLLIN) != 0;
    if (kicked) {
        uint64_t v;
        ssize_t rd = read(lc->kick_fd, &v, sizeof(v));
        (void)rd; /* EAGAIN: another reader cannot exist; nothing to drain */
    }
    for (nfds_t i = 1; i < n; i++) {
        if (pfd[i].revents != 0)
            lc->fds_ignored_once = true; /* cleared by work (zn_dp_lcore_run) */
    }
    if (kicked)
        lc->stats.wakes_kick++;
    else
        lc->stats.wakes_fd++;
    publish_wakes(lc);
    return true;
}

/* An empty iteration: yield, sleep (lab) or stay on the CPU (busy). Returns the new now. */
static uint64_t idle(struct zn_dp_lcore *lc, uint64_t now_ns)
{
    uint64_t sleep_ns;
    switch (zn_dp_idle_decide(&lc->idle, now_ns - lc->last_work_ns, &sleep_ns)) {
    case ZN_DP_IDLE_SPIN:
        rte_pause(); /* dedicated core: only a hint to the sibling hyperthread */
        return now_ns;
    case ZN_DP_IDLE_YIELD:
        sched_yield();
        lc->stats.yields++;
        return zn_clock_monotonic_ns(lc->clock);
    case ZN_DP_IDLE_SLEEP:
        break;
    }
    housekeeping(lc, now_ns);
    /* A control message may just have changed the policy: decide again. */
    if (zn_dp_idle_decide(&lc->idle, now_ns - lc->last_work_ns, &sleep_ns) != ZN_DP_IDLE_SLEEP)
        return now_ns;
    if (sleep_ns == lc->idle.deep_sleep_ns && sleep_ns != lc->idle.sleep_ns)
        lc->stats.deep_sleeps++;
    if (lc->rcu)
        urcu_qsbr_thread_offline();
    bool woken = idle_wait(lc, sleep_ns);
    if (lc->rcu)
        urcu_qsbr_thread_online();
    lc->stats.sleeps++;
    lc->stats.fd_wakes += woken;
    return zn_clock_monotonic_ns(lc->clock);
}

int zn_dp_lcore_run(struct zn_dp_lcore *lc)
{
    if (lc->rcu)
        urcu_qsbr_register_thread();
    zn_dp_idle_thread_setup(&lc->idle);
    uint64_t now = zn_clock_monotonic_ns(lc->clock);
    lc->last_work_ns = now;
    uint32_t since_housekeeping = 0;
    while (!atomic_load_explicit(lc->stop, memory_order_acquire)) {
        unsigned work = 0;
        for (unsigned i = 0; i < lc->n_stages; i++)
            work += lc->stages[i]->poll(lc->stages[i]->ctx, lc, now);
        lc->stats.iterations++;
        lc->stats.work += work;
        if (++since_housekeeping >= lc->housekeeping_every) {
            housekeeping(lc, now);
            since_housekeeping = 0;
        }
        now = zn_clock_monotonic_ns(lc->clock);
        if (work > 0) {
            lc->stats.busy_iterations++;
            lc->last_work_ns = now;
            lc->fds_ignored_once = false;
            continue;
        }
        lc->stats.empty_iterations++;
        now = idle(lc, now);
    }
    housekeeping(lc, now); /* run pending control messages before leaving */
    if (lc->rcu)
        urcu_qsbr_unregister_thread();
    return 0;
}
