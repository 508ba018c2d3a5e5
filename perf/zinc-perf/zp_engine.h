/*
 * zp_engine.h - zinc-perf's load engine and the session helpers the scenarios share.
 *
 * One engine thread drives every session of a run through the target interface: it issues
 * requests, calls the target's poll, and records each completion's latency in a per-session,
 * per-op histogram (merged into the results at the end). Closed loop: `concurrency` slots, each
 * re-issued as soon as its reply arrives; latency = reply time - send time. Open loop: a
 * schedule of intended send times at a fixed rate; latency = reply time - intended send time,
 * so a stall delays (and is charged to) every request scheduled behind it.
 *
 * Phases: warm-up (not recorded) ends at --warmup-ops issued or --warmup elapsed, whichever
 * first; the measured phase ends at --ops issued or --duration elapsed, whichever first; then
 * outstanding replies are awaited for at most --drain (those still missing are reported as
 * lost). Every loop here is bounded by a count and a deadline.
 */
#ifndef ZP_ENGINE_H
#define ZP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_report.h"
#include "perf/zinc-perf/zp_target.h"

/* Longest --root accepted (paths built under it must fit ZP_PATH_MAX). */
#define ZP_ROOT_LEN_MAX 160u
/* root + "/run-<pid>-<us>" */
#define ZP_RUN_DIR_MAX (ZP_ROOT_LEN_MAX + 40u)
/* run dir + "/<letter><uint64>" */
#define ZP_PATH_MAX (ZP_RUN_DIR_MAX + 32u)

uint64_t zp_now_ns(void);

/* A set of sessions on one target client. */
struct zp_harness {
    const struct zp_config *cfg;
    const struct zp_target *target;
    struct zp_client *client;
    struct zp_conn **conns;
    uint32_t n_conns;
};

/* Opens the client and `sessions` sessions; session i delivers its events to on_event with
 * ev_args[i] (ev_args may be NULL). 0 or ZN_E*; err says which session failed and why. */
int zp_harness_open(struct zp_harness *h, const struct zp_config *cfg,
                    const struct zp_target *target, uint32_t sessions, zp_event_fn on_event,
                    void *const *ev_args, char *err, size_t err_len);
/* Closes the sessions and the client (idempotent). */
void zp_harness_close(struct zp_harness *h);

/* One request of a bulk job: submit request i on conn with done/arg. Returns the submit result. */
typedef int (*zp_bulk_fn)(void *ctx, uint64_t i, struct zp_conn *conn, zp_done_fn done, void *arg);

struct zp_bulk_stats {
    uint64_t ok;
    uint64_t failed; /* completed with an error that was not ignored */
    uint64_t ignored;
    int first_err;
};

/*
 * Runs requests 0..n-1 spread over the harness sessions with at most `window` in flight, and
 * waits for all replies (at most timeout_ns in total). Errors equal to ignore_err (e.g.
 * ZN_ENODEEXISTS while creating) are counted as ignored. Returns 0 if every request completed
 * (ok or ignored), the first error otherwise, ZN_ETIMEDOUT at the deadline.
 */
int zp_bulk(struct zp_harness *h, uint64_t n, uint32_t window, zp_bulk_fn fn, void *ctx,
            int ignore_err, uint64_t timeout_ns, struct zp_bulk_stats *stats);

/* Polls the harness client until *done becomes true or timeout_ns passes. 0 or ZN_ETIMEDOUT. */
int zp_harness_wait(struct zp_harness *h, const bool *done, uint64_t timeout_ns);

/* Runs the configured workload; fills results. 0 or ZN_E* with a message in err. */
int zp_run(const struct zp_config *cfg, const struct zp_target *target, struct zp_results *res,
           char *err, size_t err_len);

/* Creates (ignoring "exists") or removes (ignoring "no node") one empty znode, waiting. */
int zp_path_op(struct zp_harness *h, const char *path, bool remove, char *err, size_t err_len);

/*
 * Makes every session see everything acknowledged so far: ZooKeeper orders reads per session
 * only, so a session on a follower may not yet have applied what another session created.
 * Creates run_dir/barrier (after all earlier writes were acknowledged, so its zxid is higher),
 * waits until each session's exists() sees it (bounded, 20 s), then deletes it.
 */
int zp_harness_barrier(struct zp_harness *h, const char *run_dir, char *err, size_t err_len);

/* Creates cfg->root and a fresh run folder under it (path returned in run_dir). */
int zp_make_run_dir(struct zp_harness *h, char *run_dir, size_t len, char *err, size_t err_len);

/* Fills the results' label/target/description from the configuration. */
void zp_results_describe(struct zp_results *res, const struct zp_config *cfg);

#endif /* ZP_ENGINE_H */
