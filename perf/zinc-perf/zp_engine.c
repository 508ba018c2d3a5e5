/*
 * zp_engine.c - the load engine (see zp_engine.h for the phases and the two loops).
 *
 * Invariants:
 *  - every accepted request owns one slot until its completion (slot->busy), and `outstanding`
 *    equals the number of busy slots;
 *  - a latency is recorded only for a request issued in the measured phase that completed
 *    without error, exactly once, in the histogram of its session and op;
 *  - open loop: a request's start time is its intended send time from the schedule, never the
 *    time it actually left (see zp_sched.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_assert.h"
#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "perf/zinc-perf/zp_engine.h"
#include "perf/zinc-perf/zp_sched.h"

uint64_t zp_now_ns(void)
{
    return zn_clock_raw_monotonic_ns(NULL);
}

static uint64_t s_to_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

/* ---- harness ----------------------------------------------------------------------------- */

int zp_harness_open(struct zp_harness *h, const struct zp_config *cfg,
                    const struct zp_target *target, uint32_t sessions, zp_event_fn on_event,
                    void *const *ev_args, char *err, size_t err_len)
{
    memset(h, 0, sizeof(*h));
    h->cfg = cfg;
    h->target = target;
    int rc = target->open(&h->client);
    if (rc != 0) {
        snprintf(err, err_len, "%s: cannot open the client: %s", target->name, zn_strerror(rc));
        return rc;
    }
    h->conns = calloc(sessions, sizeof(*h->conns));
    if (h->conns == NULL) {
        zp_harness_close(h);
        return ZN_ENOMEM;
    }
    struct zp_connect_opts co = {
        .servers = cfg->servers,
        .session_ms = cfg->session_ms,
        .timeout_ns = 15ull * ZN_NS_PER_S,
        .on_event = on_event,
        .event_arg = NULL,
    };
    for (uint32_t i = 0; i < sessions; i++) {
        co.event_arg = ev_args ? ev_args[i] : NULL;
        rc = target->connect(h->client, &co, &h->conns[i]);
        if (rc != 0) {
            snprintf(err, err_len, "%s: session %u of %u to %s: %s", target->name, i + 1, sessions,
                     cfg->servers, zn_strerror(rc));
            zp_harness_close(h);
            return rc;
        }
        h->n_conns++;
    }
    return 0;
}

void zp_harness_close(struct zp_harness *h)
{
    for (uint32_t i = 0; i < h->n_conns; i++) {
        h->target->close(h->conns[i]);
    }
    /* Completions of requests cut short by close are dropped with the client. */
    free(h->conns);
    h->conns = NULL;
    h->n_conns = 0;
    if (h->client != NULL) {
        h->target->close_client(h->client);
        h->client = NULL;
    }
}

int zp_harness_wait(struct zp_harness *h, const bool *done, uint64_t timeout_ns)
{
    uint64_t deadline = zp_now_ns() + timeout_ns;
    while (!*done) {
        uint64_t now = zp_now_ns();
        if (now >= deadline) {
            return ZN_ETIMEDOUT;
        }
        uint64_t wait = deadline - now;
        int rc = h->target->poll(h->client, wait < 100 * ZN_NS_PER_MS ? wait : 100 * ZN_NS_PER_MS);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

struct bulk {
    uint64_t outstanding;
    int ignore_err;
    struct zp_bulk_stats *stats;
};

static void bulk_done(void *arg, const struct zp_result *res)
{
    struct bulk *b = arg;
    b->outstanding--;
    if (res->err == 0) {
        b->stats->ok++;
    } else if (res->err == b->ignore_err) {
        b->stats->ignored++;
    } else {
        if (b->stats->failed++ == 0) {
            b->stats->first_err = res->err;
        }
    }
}

int zp_bulk(struct zp_harness *h, uint64_t n, uint32_t window, zp_bulk_fn fn, void *ctx,
            int ignore_err, uint64_t timeout_ns, struct zp_bulk_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    struct bulk b = {.outstanding = 0, .ignore_err = ignore_err, .stats = stats};
    uint64_t deadline = zp_now_ns() + timeout_ns;
    uint64_t next = 0;
    int rc = 0;
    while (next < n || b.outstanding > 0) {
        while (next < n && b.outstanding < window && rc == 0) {
            struct zp_conn *conn = h->conns[next % h->n_conns];
            int s = fn(ctx, next, conn, bulk_done, &b);
            if (s != 0) {
                rc = s;
                break;
            }
            b.outstanding++;
            next++;
        }
        if (rc != 0 && b.outstanding == 0) {
            break;
        }
        if (rc != 0) {
            n = next; /* stop issuing; collect what is in flight */
        }
        uint64_t now = zp_now_ns();
        if (now >= deadline) {
            return ZN_ETIMEDOUT; /* the client is closed next; late replies are dropped */
        }
        int p = h->target->poll(h->client, 100 * ZN_NS_PER_MS);
        if (p < 0) {
            return p;
        }
    }
    if (rc != 0) {
        return rc;
    }
    return stats->failed ? stats->first_err : 0;
}

/* ---- engine ------------------------------------------------------------------------------ */

struct engine;

struct slot {
    struct engine *e;
    uint32_t session;
    uint32_t next_free;
    enum zp_op op;
    bool busy;
    bool measured;
    uint64_t start_ns;
};

#define NO_SLOT UINT32_MAX

struct engine {
    const struct zp_config *cfg;
    struct zp_harness h;
    struct zn_prng prng;
    char run_dir[ZP_RUN_DIR_MAX];
    char path[ZP_PATH_MAX];
    unsigned char *value;
    /* multi scratch */
    struct zp_multi_op mops[ZP_MULTI_OPS_MAX];
    char mpaths[ZP_MULTI_OPS_MAX][ZP_PATH_MAX];

    struct slot *slots;
    uint32_t n_slots;
    uint32_t free_head;
    uint32_t outstanding;
    uint32_t rr_session;

    bool measuring;
    uint64_t start_ns;
    uint64_t measure_start_ns;
    uint64_t measure_end_ns;
    uint64_t last_done_ns;
    uint64_t warm_issued;
    uint64_t warm_done;
    uint64_t meas_issued;
    uint64_t meas_done;
    uint64_t meas_errors;
    uint32_t sync_failures;

    uint64_t create_seq;
    uint64_t delete_seq;
    uint64_t delete_total;
    bool keys_created;
    bool interrupted;

    struct zn_hist **hist; /* [session * ZP_OP_COUNT + op], allocated on first use */
    uint64_t ok[ZP_OP_COUNT];
    uint64_t errors[ZP_OP_COUNT];
    int first_error[ZP_OP_COUNT];
    struct zn_hist *interval;
    uint64_t interval_errors_base;
    struct zp_tick *ticks;
    size_t n_ticks;
    size_t cap_ticks;
    struct zn_hist *lag; /* [0] delivery: target stamp -> engine; [1] send: intended -> sent */
    uint64_t interval_ok;
};

static struct zn_hist *hist_for(struct engine *e, uint32_t session, enum zp_op op)
{
    struct zn_hist **slot = &e->hist[(size_t)session * ZP_OP_COUNT + op];
    if (*slot == NULL) {
        *slot = zp_hist_new(1);
        if (*slot == NULL) {
            fprintf(stderr, "zinc-perf: out of memory for a histogram\n");
            exit(1);
        }
    }
    return *slot;
}

static void slot_done(void *arg, const struct zp_result *res)
{
    struct slot *s = arg;
    struct engine *e = s->e;
    ZN_ASSERT(s->busy);
    s->busy = false;
    e->outstanding--;
    if (s->measured) {
        e->meas_done++;
        if (res->err == 0) {
            uint64_t lat = res->done_ns > s->start_ns ? res->done_ns - s->start_ns : 0;
            zn_hist_record(hist_for(e, s->session, s->op), lat);
            zn_hist_record(e->interval, lat);
            uint64_t seen = zp_now_ns();
            zn_hist_record(&e->lag[0], seen > res->done_ns ? seen - res->done_ns : 0);
            e->ok[s->op]++;
            e->interval_ok++;
        } else {
            if (e->errors[s->op]++ == 0) {
                e->first_error[s->op] = res->err;
            }
            e->meas_errors++;
        }
        if (res->done_ns > e->last_done_ns) {
            e->last_done_ns = res->done_ns;
        }
    } else {
        e->warm_done++;
    }
    s->next_free = e->free_head;
    e->free_head = (uint32_t)(s - e->slots);
}

static void key_path(struct engine *e, char *buf, uint64_t key)
{
    snprintf(buf, ZP_PATH_MAX, "%s/k%" PRIu64, e->run_dir, key);
}

/* Submits the next operation of the workload on slot s. Returns the submit result. */
static int submit(struct engine *e, struct slot *s)
{
    const struct zp_config *cfg = e->cfg;
    const struct zp_target *t = e->h.target;
    struct zp_conn *conn = e->h.conns[s->session];
    switch (cfg->workload) {
    case ZP_WL_CREATE:
        s->op = ZP_OP_CREATE;
        snprintf(e->path, sizeof(e->path), "%s/c%" PRIu64, e->run_dir, e->create_seq++);
        return t->create(conn, e->path, e->value, cfg->value_size, 0, slot_done, s);
    case ZP_WL_DELETE:
        s->op = ZP_OP_DELETE;
        snprintf(e->path, sizeof(e->path), "%s/d%" PRIu64, e->run_dir, e->delete_seq++);
        return t->remove(conn, e->path, -1, slot_done, s);
    case ZP_WL_SET:
        s->op = ZP_OP_SET;
        break;
    case ZP_WL_GET:
        s->op = ZP_OP_GET;
        break;
    case ZP_WL_EXISTS:
        s->op = ZP_OP_EXISTS;
        break;
    case ZP_WL_MIX:
        s->op = zn_prng_chance(&e->prng, cfg->read_pct, 100) ? ZP_OP_GET : ZP_OP_SET;
        break;
    case ZP_WL_MULTI:
        s->op = ZP_OP_MULTI;
        for (uint32_t i = 0; i < cfg->multi_ops; i++) {
            key_path(e, e->mpaths[i], zn_prng_below(&e->prng, cfg->keys));
            e->mops[i] = (struct zp_multi_op){.op = ZP_OP_SET,
                                              .path = e->mpaths[i],
                                              .value = e->value,
                                              .value_len = cfg->value_size,
                                              .version = -1};
        }
        return t->multi(conn, e->mops, cfg->multi_ops, slot_done, s);
    }
    key_path(e, e->path, zn_prng_below(&e->prng, cfg->keys));
    switch (s->op) {
    case ZP_OP_SET:
        return t->set_data(conn, e->path, e->value, cfg->value_size, -1, slot_done, s);
    case ZP_OP_GET:
        return t->get_data(conn, e->path, false, slot_done, s);
    default:
        return t->exists(conn, e->path, false, slot_done, s);
    }
}

/* Issues one request on a free slot; start_ns is the send (closed) or intended (open) time. */
static int issue(struct engine *e, uint32_t session, uint64_t start_ns, char *err, size_t err_len)
{
    ZN_ASSERT(e->free_head != NO_SLOT);
    struct slot *s = &e->slots[e->free_head];
    e->free_head = s->next_free;
    s->busy = true;
    s->measured = e->measuring;
    s->start_ns = start_ns;
    if (e->measuring && e->cfg->loop == ZP_LOOP_OPEN) {
        uint64_t sent = zp_now_ns();
        zn_hist_record(&e->lag[1], sent > start_ns ? sent - start_ns : 0);
    }
    s->session = session;
    e->outstanding++;
    if (e->measuring) {
        e->meas_issued++;
    } else {
        e->warm_issued++;
    }
    int rc = submit(e, s);
    if (rc != 0) {
        /* Refused without a completion: count it as a failed request of its op. */
        struct zp_result res = {.done_ns = zp_now_ns(), .err = rc, .native_rc = 0, .count = 0};
        slot_done(s, &res);
        if (++e->sync_failures > 1000) {
            snprintf(err, err_len, "the target refuses requests: %s", zn_strerror(rc));
            return rc;
        }
    } else {
        e->sync_failures = 0;
    }
    return 0;
}

/* Ends warm-up when its first bound is reached; `at` is the time the phase switches. */
static void maybe_end_warmup(struct engine *e, uint64_t at)
{
    const struct zp_config *cfg = e->cfg;
    if (e->measuring) {
        return;
    }
    if (e->warm_issued >= cfg->warmup_ops || at >= e->start_ns + s_to_ns(cfg->warmup_s)) {
        e->measuring = true;
        e->measure_start_ns = at;
        e->measure_end_ns = at + s_to_ns(cfg->duration_s);
        e->last_done_ns = at;
    }
}

static bool measured_bound_reached(const struct engine *e, uint64_t at)
{
    if (!e->measuring) {
        return false;
    }
    if (e->meas_issued >= e->cfg->ops || at >= e->measure_end_ns) {
        return true;
    }
    return e->cfg->workload == ZP_WL_DELETE && e->delete_seq >= e->delete_total;
}

/* Closes the current one-second interval: a timeline entry, and the progress line unless quiet. */
static void progress(struct engine *e, uint64_t now)
{
    if (e->n_ticks == e->cap_ticks) {
        size_t cap = e->cap_ticks ? e->cap_ticks * 2 : 64;
        struct zp_tick *grown = realloc(e->ticks, cap * sizeof(*grown));
        if (grown != NULL) {
            e->ticks = grown;
            e->cap_ticks = cap;
        }
    }
    if (e->n_ticks < e->cap_ticks) {
        e->ticks[e->n_ticks++] = (struct zp_tick){
            .t_s = (double)(now - e->start_ns) / 1e9,
            .measuring = e->measuring,
            .ok = e->interval_ok,
            .errors = e->meas_errors - e->interval_errors_base,
            .p50_ns = zn_hist_percentile(e->interval, 50.0),
            .p99_ns = zn_hist_percentile(e->interval, 99.0),
            .max_ns = e->interval->count ? e->interval->max : 0,
        };
    }
    e->interval_errors_base = e->meas_errors;
    if (e->cfg->quiet) {
        zn_hist_reset(e->interval);
        e->interval_ok = 0;
        return;
    }
    char p50[32];
    char p99[32];
    zp_fmt_us(p50, sizeof(p50), zn_hist_percentile(e->interval, 50.0));
    zp_fmt_us(p99, sizeof(p99), zn_hist_percentile(e->interval, 99.0));
    fprintf(stderr,
            "zinc-perf [%6.1fs] %-7s done %10" PRIu64 "  last 1s: %8" PRIu64
            " ok  p50 %8s us  p99 %8s us  in flight %5u  errors %" PRIu64 "\n",
            (double)(now - e->start_ns) / 1e9, e->measuring ? "measure" : "warm-up",
            e->meas_done + e->warm_done, e->interval_ok, p50, p99, e->outstanding, e->meas_errors);
    zn_hist_reset(e->interval);
    e->interval_ok = 0;
}

/* ---- setup and cleanup ------------------------------------------------------------------- */

struct path_job {
    struct engine *e;
    char kind; /* 'k' keys, 'c' created, 'd' delete targets, 'r' the run dir */
    uint64_t first;
    bool remove;
};

static int path_job_fn(void *ctx, uint64_t i, struct zp_conn *conn, zp_done_fn done, void *arg)
{
    struct path_job *j = ctx;
    struct engine *e = j->e;
    const struct zp_target *t = e->h.target;
    char path[ZP_PATH_MAX];
    if (j->kind == 'r') {
        snprintf(path, sizeof(path), "%s", e->run_dir);
    } else {
        snprintf(path, sizeof(path), "%s/%c%" PRIu64, e->run_dir, j->kind, j->first + i);
    }
    if (j->remove) {
        return t->remove(conn, path, -1, done, arg);
    }
    bool with_value = j->kind == 'k' || j->kind == 'd';
    return t->create(conn, path, with_value ? e->value : NULL, with_value ? e->cfg->value_size : 0,
                     0, done, arg);
}

static int path_job(struct engine *e, char kind, uint64_t first, uint64_t n, bool remove, char *err,
                    size_t err_len)
{
    struct path_job j = {.e = e, .kind = kind, .first = first, .remove = remove};
    struct zp_bulk_stats st;
    /* Generous: 100k creates take seconds on a fsyncing ensemble. */
    uint64_t timeout = 120ull * ZN_NS_PER_S + n * 2 * ZN_NS_PER_MS;
    int ignore = remove ? ZN_ENONODE : ZN_ENODEEXISTS;
    int rc = zp_bulk(&e->h, n, 256, path_job_fn, &j, ignore, timeout, &st);
    if (rc != 0) {
        snprintf(err, err_len, "%s %" PRIu64 " node(s) '%c' under %s: %s",
                 remove ? "deleting" : "creating", n, kind, e->run_dir, zn_strerror(rc));
    }
    return rc;
}

static int setup(struct engine *e, char *err, size_t err_len)
{
    const struct zp_config *cfg = e->cfg;
    int rc = zp_make_run_dir(&e->h, e->run_dir, sizeof(e->run_dir), err, err_len);
    if (rc != 0) {
        return rc;
    }
    switch (cfg->workload) {
    case ZP_WL_SET:
    case ZP_WL_GET:
    case ZP_WL_EXISTS:
    case ZP_WL_MIX:
    case ZP_WL_MULTI:
        e->keys_created = true;
        return path_job(e, 'k', 0, cfg->keys, false, err, err_len);
    case ZP_WL_DELETE:
        e->delete_total = cfg->ops + cfg->warmup_ops;
        return path_job(e, 'd', 0, e->delete_total, false, err, err_len);
    case ZP_WL_CREATE:
        break;
    }
    return 0;
}

static int setup_and_sync(struct engine *e, char *err, size_t err_len)
{
    int rc = setup(e, err, err_len);
    return rc == 0 ? zp_harness_barrier(&e->h, e->run_dir, err, err_len) : rc;
}

static void cleanup(struct engine *e)
{
    char err[256];
    int rc = 0;
    if (e->keys_created) {
        rc |= path_job(e, 'k', 0, e->cfg->keys, true, err, sizeof(err));
    }
    if (e->create_seq > 0) {
        rc |= path_job(e, 'c', 0, e->create_seq, true, err, sizeof(err));
    }
    if (e->delete_total > e->delete_seq) {
        rc |= path_job(e, 'd', e->delete_seq, e->delete_total - e->delete_seq, true, err,
                       sizeof(err));
    }
    if (rc == 0) {
        rc = path_job(e, 'r', 0, 1, true, err, sizeof(err));
    }
    if (rc != 0) {
        fprintf(stderr, "zinc-perf: cleanup incomplete (%s); remove %s by hand\n", err, e->run_dir);
    }
}

/* ---- the loops --------------------------------------------------------------------------- */

#define PROGRESS_NS ZN_NS_PER_S

static int poll_until(struct engine *e, uint64_t until_ns)
{
    uint64_t now = zp_now_ns();
    uint64_t wait = until_ns > now ? until_ns - now : 0;
    int rc = e->h.target->poll(e->h.client, wait);
    return rc < 0 ? rc : 0;
}

/*
 * Ctrl-C / SIGTERM during a run: main blocks both before the run (so every thread inherits the
 * mask), and the engine polls for them here - no handler, no global flag. The first one ends
 * the measured phase (results, drain and cleanup still happen); it is consumed and the signals
 * unblocked, so a second one terminates the process as usual.
 */
static bool interrupted(void)
{
    sigset_t pending;
    if (sigpending(&pending) != 0 ||
        (!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGTERM))) {
        return false;
    }
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    struct timespec zero = {0, 0};
    sigtimedwait(&both, NULL, &zero);
    pthread_sigmask(SIG_UNBLOCK, &both, NULL);
    return true;
}

static int run_loop(struct engine *e, char *err, size_t err_len)
{
    const struct zp_config *cfg = e->cfg;
    struct zp_sched sched;
    e->start_ns = zp_now_ns();
    uint64_t next_progress = e->start_ns + PROGRESS_NS;
    uint64_t next_signal_check = e->start_ns;
    if (cfg->warmup_ops == 0 || cfg->warmup_s <= 0) {
        e->measuring = true;
        e->measure_start_ns = e->start_ns;
        e->measure_end_ns = e->start_ns + s_to_ns(cfg->duration_s);
        e->last_done_ns = e->start_ns;
    }
    if (cfg->loop == ZP_LOOP_OPEN) {
        zp_sched_init(&sched, e->start_ns, cfg->rate, cfg->arrival, cfg->seed ^ 0x5eedull);
    }
    /* Hard stop even if the phases misbehave: warm-up + duration + slack. */
    uint64_t hard_end = e->start_ns + s_to_ns(cfg->warmup_s + cfg->duration_s) + 5 * ZN_NS_PER_S;
    uint32_t slot_rr = 0;
    for (;;) {
        uint64_t now = zp_now_ns();
        maybe_end_warmup(e, now);
        if (measured_bound_reached(e, now) || now >= hard_end) {
            break;
        }
        if (now >= next_signal_check) {
            next_signal_check = now + 50 * ZN_NS_PER_MS;
            if (interrupted()) {
                fprintf(stderr, "zinc-perf: interrupted; ending the run (again to abort)\n");
                e->interrupted = true;
                break;
            }
        }
        uint64_t wake = next_progress;
        if (cfg->loop == ZP_LOOP_CLOSED) {
            while (e->free_head != NO_SLOT) {
                uint32_t idx = e->free_head;
                maybe_end_warmup(e, now);
                if (measured_bound_reached(e, now)) {
                    break;
                }
                /* A closed-loop slot keeps its session: slot i -> session i % sessions. */
                int rc = issue(e, idx % cfg->sessions, zp_now_ns(), err, err_len);
                if (rc != 0) {
                    return rc;
                }
                slot_rr++;
            }
            if (e->measuring && e->measure_end_ns < wake) {
                wake = e->measure_end_ns;
            }
        } else {
            while (e->free_head != NO_SLOT) {
                uint64_t t = zp_sched_peek(&sched);
                if (t > now) {
                    if (t < wake) {
                        wake = t;
                    }
                    break;
                }
                maybe_end_warmup(e, t);
                if (measured_bound_reached(e, t)) {
                    break;
                }
                zp_sched_next(&sched);
                uint32_t session = e->rr_session++ % cfg->sessions;
                int rc = issue(e, session, t, err, err_len);
                if (rc != 0) {
                    return rc;
                }
            }
        }
        if (wake > hard_end) {
            wake = hard_end;
        }
        int rc = poll_until(e, wake);
        if (rc != 0) {
            snprintf(err, err_len, "poll: %s", zn_strerror(rc));
            return rc;
        }
        now = zp_now_ns();
        if (now >= next_progress) {
            progress(e, now);
            next_progress += PROGRESS_NS;
            if (next_progress < now) {
                next_progress = now + PROGRESS_NS;
            }
        }
    }
    /* Drain: wait for the replies still outstanding. */
    uint64_t drain_end = zp_now_ns() + s_to_ns(cfg->drain_s);
    while (e->outstanding > 0 && zp_now_ns() < drain_end) {
        uint64_t until = zp_now_ns() + 100 * ZN_NS_PER_MS;
        int rc = poll_until(e, until < drain_end ? until : drain_end);
        if (rc != 0) {
            snprintf(err, err_len, "poll: %s", zn_strerror(rc));
            return rc;
        }
    }
    progress(e, zp_now_ns());
    (void)slot_rr;
    return 0;
}

void zp_results_describe(struct zp_results *res, const struct zp_config *cfg)
{
    char wl[48];
    if (cfg->workload == ZP_WL_MIX) {
        snprintf(wl, sizeof(wl), "read%u", cfg->read_pct);
    } else if (cfg->workload == ZP_WL_MULTI) {
        snprintf(wl, sizeof(wl), "multi(%u x set)", cfg->multi_ops);
    } else {
        snprintf(wl, sizeof(wl), "%s", zp_workload_name(cfg->workload));
    }
    if (cfg->label != NULL) {
        snprintf(res->label, sizeof(res->label), "%s", cfg->label);
    } else {
        snprintf(res->label, sizeof(res->label), "%s-%s", cfg->target, wl);
    }
    snprintf(res->target, sizeof(res->target), "%s", cfg->target);
    if (cfg->loop == ZP_LOOP_OPEN) {
        snprintf(res->description, sizeof(res->description),
                 "%s, %u B values, %u session(s), open loop %.0f ops/s (%s)", wl, cfg->value_size,
                 cfg->sessions, cfg->rate,
                 cfg->arrival == ZP_ARRIVAL_POISSON ? "poisson" : "uniform");
    } else {
        snprintf(res->description, sizeof(res->description),
                 "%s, %u B values, %u session(s), closed loop, %u in flight", wl, cfg->value_size,
                 cfg->sessions, cfg->concurrency);
    }
}

static void engine_free(struct engine *e)
{
    if (e->hist != NULL) {
        for (size_t i = 0; i < (size_t)e->cfg->sessions * ZP_OP_COUNT; i++) {
            free(e->hist[i]);
        }
    }
    free(e->hist);
    free(e->interval);
    free(e->lag);
    free(e->ticks);
    free(e->slots);
    free(e->value);
}

int zp_run(const struct zp_config *cfg, const struct zp_target *target, struct zp_results *res,
           char *err, size_t err_len)
{
    if (strlen(cfg->root) > ZP_ROOT_LEN_MAX || cfg->root[0] != '/' ||
        (strlen(cfg->root) > 1 && cfg->root[strlen(cfg->root) - 1] == '/')) {
        snprintf(err, err_len, "--root: '%s' must be an absolute znode path of at most %u bytes",
                 cfg->root, ZP_ROOT_LEN_MAX);
        return ZN_EINVAL;
    }
    if (cfg->value_size > target->value_max) {
        snprintf(err, err_len, "--value-size: %u is above the %s target's limit of %u bytes",
                 cfg->value_size, target->name, target->value_max);
        return ZN_EINVAL;
    }
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return ZN_ENOMEM;
    }
    /* Timed waits overshoot by the timer slack (50 us by default): the open-loop schedule would
     * leave late and charge it as latency. 1 ns makes waits as exact as the kernel allows. */
    prctl(PR_SET_TIMERSLACK, 1ul, 0ul, 0ul, 0ul);
    e->cfg = cfg;
    zn_prng_seed(&e->prng, cfg->seed);
    e->n_slots = cfg->loop == ZP_LOOP_OPEN ? cfg->max_outstanding : cfg->concurrency;
    e->slots = calloc(e->n_slots, sizeof(*e->slots));
    e->hist = calloc((size_t)cfg->sessions * ZP_OP_COUNT, sizeof(*e->hist));
    e->interval = zp_hist_new(1);
    e->lag = zp_hist_new(2);
    e->value = malloc(cfg->value_size ? cfg->value_size : 1);
    if (!e->slots || !e->hist || !e->interval || !e->lag || !e->value) {
        engine_free(e);
        free(e);
        return ZN_ENOMEM;
    }
    zn_prng_fill(&e->prng, e->value, cfg->value_size);
    for (uint32_t i = 0; i < e->n_slots; i++) {
        e->slots[i].e = e;
        e->slots[i].next_free = i + 1 < e->n_slots ? i + 1 : NO_SLOT;
    }
    e->free_head = 0;
    int rc = zp_harness_open(&e->h, cfg, target, cfg->sessions, NULL, NULL, err, err_len);
    if (rc != 0) {
        engine_free(e);
        free(e);
        return rc;
    }
    rc = setup_and_sync(e, err, err_len);
    if (rc == 0) {
        rc = run_loop(e, err, err_len);
    }
    /* Results first: cleanup may poll and must not disturb them. */
    zp_results_describe(res, cfg);
    res->window_ns =
        e->last_done_ns > e->measure_start_ns ? e->last_done_ns - e->measure_start_ns : 0;
    res->lost = e->outstanding;
    res->warmup_done = e->warm_done;
    res->interrupted = e->interrupted;
    res->timeline = e->ticks; /* moved */
    res->n_timeline = e->n_ticks;
    e->ticks = NULL;
    zn_hist_merge(&res->delivery_lag, &e->lag[0]);
    zn_hist_merge(&res->send_lag, &e->lag[1]);
    for (int op = 0; op < ZP_OP_COUNT; op++) {
        res->op[op].ok = e->ok[op];
        res->op[op].errors = e->errors[op];
        res->op[op].first_error = e->first_error[op];
        for (uint32_t s = 0; s < cfg->sessions; s++) {
            struct zn_hist *h = e->hist[(size_t)s * ZP_OP_COUNT + op];
            if (h != NULL) {
                zn_hist_merge(&res->op[op].hist, h);
            }
        }
        ZN_ASSERT(res->op[op].hist.count == res->op[op].ok);
    }
    if (e->outstanding == 0 && !cfg->keep) {
        cleanup(e);
    } else if (e->outstanding > 0) {
        fprintf(stderr, "zinc-perf: %u request(s) unanswered after --drain; nodes left in %s\n",
                e->outstanding, e->run_dir);
    }
    zp_harness_close(&e->h);
    engine_free(e);
    free(e);
    return rc;
}

struct one_path {
    struct zp_harness *h;
    const char *path;
    bool remove;
};

static int one_path_fn(void *ctx, uint64_t i, struct zp_conn *conn, zp_done_fn done, void *arg)
{
    struct one_path *p = ctx;
    (void)i;
    if (p->remove) {
        return p->h->target->remove(conn, p->path, -1, done, arg);
    }
    return p->h->target->create(conn, p->path, NULL, 0, 0, done, arg);
}

int zp_path_op(struct zp_harness *h, const char *path, bool remove, char *err, size_t err_len)
{
    struct one_path p = {.h = h, .path = path, .remove = remove};
    struct zp_bulk_stats st;
    int rc = zp_bulk(h, 1, 1, one_path_fn, &p, remove ? ZN_ENONODE : ZN_ENODEEXISTS,
                     30ull * ZN_NS_PER_S, &st);
    if (rc != 0) {
        snprintf(err, err_len, "%s %s: %s", remove ? "deleting" : "creating", path,
                 zn_strerror(rc));
    }
    return rc;
}

int zp_make_run_dir(struct zp_harness *h, char *run_dir, size_t len, char *err, size_t err_len)
{
    const char *root = h->cfg->root;
    if (strlen(root) > ZP_ROOT_LEN_MAX || root[0] != '/' ||
        (strlen(root) > 1 && root[strlen(root) - 1] == '/')) {
        snprintf(err, err_len, "--root: '%s' must be an absolute znode path of at most %u bytes",
                 root, ZP_ROOT_LEN_MAX);
        return ZN_EINVAL;
    }
    snprintf(run_dir, len, "%s/run-%d-%" PRIu64, strcmp(root, "/") == 0 ? "" : root, (int)getpid(),
             zn_clock_raw_monotonic_ns(NULL) / 1000u);
    int rc = strcmp(root, "/") == 0 ? 0 : zp_path_op(h, root, false, err, err_len);
    return rc == 0 ? zp_path_op(h, run_dir, false, err, err_len) : rc;
}

struct exists_wait {
    bool done;
    int err;
};

static void exists_done(void *arg, const struct zp_result *res)
{
    struct exists_wait *w = arg;
    w->err = res->err;
    w->done = true;
}

int zp_harness_barrier(struct zp_harness *h, const char *run_dir, char *err, size_t err_len)
{
    char path[ZP_PATH_MAX];
    snprintf(path, sizeof(path), "%.*s/barrier", (int)ZP_RUN_DIR_MAX, run_dir);
    int rc = zp_path_op(h, path, false, err, err_len);
    uint64_t deadline = zp_now_ns() + 20ull * ZN_NS_PER_S;
    for (uint32_t i = 0; rc == 0 && i < h->n_conns; i++) {
        for (;;) {
            struct exists_wait w = {false, 0};
            rc = h->target->exists(h->conns[i], path, false, exists_done, &w);
            if (rc == 0) {
                rc = zp_harness_wait(h, &w.done, 10ull * ZN_NS_PER_S);
            }
            if (rc == 0) {
                rc = w.err;
            }
            if (rc != ZN_ENONODE || zp_now_ns() >= deadline) {
                break;
            }
            usleep(2000); /* the session's server has not applied the barrier yet */
        }
        if (rc != 0) {
            snprintf(err, err_len, "barrier: session %u does not see %s: %s", i + 1, path,
                     zn_strerror(rc));
        }
    }
    if (rc == 0) {
        rc = zp_path_op(h, path, true, err, err_len);
    }
    return rc;
}
