/*
 * zp_scenario.c - the scenarios users ask about that need only the ZooKeeper API, so that they
 * run unchanged against every target:
 *
 *  fanout    one writer, N watcher sessions: each round the watchers set a data watch, the
 *            writer sets the node at t0; "notify" records every notification's arrival - t0,
 *            "last" the arrival of the round's last one (the fan-out time), "set" the write.
 *  children  a node with N children (created pipelined, timed); "children" records each
 *            getChildren of the full list, which must return N names.
 *  expiry    a holder process (this binary, hidden command `expiry-holder`) opens a session and
 *            an ephemeral node; the harness watches the node, SIGKILLs the holder at t0 (no
 *            goodbye: the TCP connection just drops) and records the NodeDeleted arrival - t0:
 *            the detection time, to compare with the negotiated session timeout.
 *  failover  one session writes (setData, one in flight) for --before, then --kill-cmd kills
 *            the leader at t_kill; reported: the first write issued after t_kill that is
 *            acknowledged (its reply time - t_kill), the failed writes and the span from the
 *            first to the last failure (the error window), and write latency before and after.
 * Every round loop is bounded by --rounds and by --duration; every wait has a deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "perf/zinc-perf/zp_engine.h"
#include "perf/zinc-perf/zp_scenario.h"

extern char **environ;

/* ---- shared helpers ---------------------------------------------------------------------- */

struct wait_ctx {
    uint64_t pending;
    uint64_t errors;
    int first_err;
    uint64_t done_ns;
    uint32_t count;
    bool all_done;
};

static void wait_done(void *arg, const struct zp_result *res)
{
    struct wait_ctx *w = arg;
    if (res->err != 0 && w->errors++ == 0) {
        w->first_err = res->err;
    }
    w->done_ns = res->done_ns;
    w->count = res->count;
    if (--w->pending == 0) {
        w->all_done = true;
    }
}

static int outputs(const struct zp_config *cfg, const char *scenario, const char *title,
                   const struct zp_series *series, size_t n, json_t *extra, char *err,
                   size_t err_len)
{
    char label[160];
    snprintf(label, sizeof(label), "%s", cfg->label ? cfg->label : scenario);
    zp_report_series_table(stdout, title, series, n);
    int rc = 0;
    if (cfg->json_path != NULL) {
        json_t *root = json_object();
        json_object_set_new(root, "tool", json_string("zinc-perf"));
        json_object_set_new(root, "format", json_integer(1));
        json_object_set_new(root, "scenario", json_string(scenario));
        json_object_set_new(root, "label", json_string(label));
        json_object_set_new(root, "target", json_string(cfg->target));
        json_object_set_new(root, "servers", json_string(cfg->servers));
        json_object_set_new(root, "results", zp_report_series_json(series, n));
        json_object_set_new(root, "details", extra ? json_incref(extra) : json_object());
        rc = zp_json_write(cfg->json_path, root);
        json_decref(root);
        if (rc != 0) {
            snprintf(err, err_len, "--json: cannot write %s", cfg->json_path);
            return rc;
        }
    }
    if (cfg->hist_path != NULL && zp_hlog_write_series(cfg->hist_path, label, series, n) != 0) {
        snprintf(err, err_len, "--hist-log: cannot write %s", cfg->hist_path);
        return ZN_EIO;
    }
    if (cfg->svg_path != NULL && zp_svg_write_file(cfg->svg_path, title, series, n) != 0) {
        snprintf(err, err_len, "--svg: cannot write %s", cfg->svg_path);
        return ZN_EIO;
    }
    return 0;
}

/* ---- fan-out ----------------------------------------------------------------------------- */

struct fanout {
    uint64_t t0;
    uint32_t expected;
    uint32_t seen;
    uint64_t last_ns;
    bool round_done;
    bool armed; /* events before t0 (stale) are ignored */
    struct zn_hist *notify;
    uint64_t unexpected;
};

struct watcher {
    struct fanout *f;
    uint32_t index;
};

static void fanout_event(void *arg, const struct zp_event *ev)
{
    struct watcher *w = arg;
    struct fanout *f = w->f;
    if (ev->type != ZP_EV_CHANGED || !f->armed) {
        if (ev->type == ZP_EV_SESSION_EXPIRED || ev->type == ZP_EV_DISCONNECTED) {
            f->unexpected++;
        }
        return;
    }
    uint64_t lat = ev->at_ns > f->t0 ? ev->at_ns - f->t0 : 0;
    zn_hist_record(f->notify, lat);
    f->seen++;
    if (ev->at_ns > f->last_ns) {
        f->last_ns = ev->at_ns;
    }
    if (f->seen == f->expected) {
        f->round_done = true;
    }
}

static uint32_t rounds_or(const struct zp_config *cfg, uint32_t dflt)
{
    return cfg->rounds ? cfg->rounds : dflt;
}

int zp_scenario_fanout(const struct zp_config *cfg, const struct zp_target *target, char *err,
                       size_t err_len)
{
    uint32_t n = cfg->watchers;
    struct fanout f = {0};
    struct watcher *ws = calloc(n + 1, sizeof(*ws));
    void **args = calloc(n + 1, sizeof(*args));
    struct zn_hist *h = zp_hist_new(3);
    if (!ws || !args || !h) {
        free(ws);
        free(args);
        free(h);
        return ZN_ENOMEM;
    }
    f.notify = &h[0];
    for (uint32_t i = 0; i <= n; i++) {
        ws[i] = (struct watcher){.f = &f, .index = i};
        args[i] = &ws[i];
    }
    struct zp_harness hs;
    /* Session 0 writes; sessions 1..n watch. */
    int rc = zp_harness_open(&hs, cfg, target, n + 1, fanout_event, args, err, err_len);
    char run_dir[ZP_RUN_DIR_MAX] = "";
    char node[ZP_PATH_MAX] = "";
    uint32_t rounds_done = 0;
    if (rc == 0) {
        rc = zp_make_run_dir(&hs, run_dir, sizeof(run_dir), err, err_len);
    }
    if (rc == 0) {
        snprintf(node, sizeof(node), "%s/fanout", run_dir);
        rc = zp_path_op(&hs, node, false, err, err_len);
    }
    if (rc == 0) {
        rc = zp_harness_barrier(&hs, run_dir, err, err_len);
    }
    uint64_t end = zp_now_ns() + (uint64_t)(cfg->duration_s * 1e9);
    uint32_t rounds = rounds_or(cfg, 20);
    unsigned char value[16] = {0};
    for (uint32_t r = 0; rc == 0 && r < rounds && zp_now_ns() < end; r++) {
        /* 1. arm: every watcher reads the node with a watch */
        struct wait_ctx w = {.pending = n};
        for (uint32_t i = 1; i <= n && rc == 0; i++) {
            rc = target->get_data(hs.conns[i], node, true, wait_done, &w);
            if (rc != 0) {
                w.pending -= n - i + 1;
            }
        }
        if (rc == 0 && w.pending > 0) {
            rc = zp_harness_wait(&hs, &w.all_done, 10ull * ZN_NS_PER_S);
        }
        if (rc == 0 && w.errors) {
            rc = w.first_err;
        }
        if (rc != 0) {
            snprintf(err, err_len, "fanout round %u: arming watches: %s", r, zn_strerror(rc));
            break;
        }
        /* 2. write at t0 and wait for every notification */
        f.expected = n;
        f.seen = 0;
        f.last_ns = 0;
        f.round_done = false;
        f.armed = true;
        value[0] = (unsigned char)r;
        struct wait_ctx set = {.pending = 1};
        f.t0 = zp_now_ns();
        rc = target->set_data(hs.conns[0], node, value, sizeof(value), -1, wait_done, &set);
        if (rc == 0) {
            rc = zp_harness_wait(&hs, &set.all_done, 10ull * ZN_NS_PER_S);
        }
        if (rc == 0 && set.errors) {
            rc = set.first_err;
        }
        if (rc == 0) {
            zn_hist_record(&h[2], set.done_ns - f.t0);
            rc = zp_harness_wait(&hs, &f.round_done, 10ull * ZN_NS_PER_S);
        }
        f.armed = false;
        if (rc != 0) {
            snprintf(err, err_len, "fanout round %u: %u of %u notifications: %s", r, f.seen, n,
                     zn_strerror(rc));
            break;
        }
        zn_hist_record(&h[1], f.last_ns - f.t0);
        rounds_done++;
    }
    if (hs.client != NULL && run_dir[0] == '/') {
        char e2[256];
        zp_path_op(&hs, node, true, e2, sizeof(e2));
        zp_path_op(&hs, run_dir, true, e2, sizeof(e2));
    }
    if (hs.client != NULL) {
        zp_harness_close(&hs);
    }
    if (rc == 0) {
        struct zp_series s[3] = {{"last", &h[1]}, {"notify", &h[0]}, {"set", &h[2]}};
        char title[160];
        snprintf(title, sizeof(title),
                 "fanout: 1 writer, %u watchers, %u rounds (last = time to the last "
                 "notification)",
                 n, rounds_done);
        json_t *extra = json_object();
        json_object_set_new(extra, "watchers", json_integer(n));
        json_object_set_new(extra, "rounds", json_integer(rounds_done));
        json_object_set_new(extra, "session_events", json_integer((json_int_t)f.unexpected));
        rc = outputs(cfg, "fanout", title, s, 3, extra, err, err_len);
        json_decref(extra);
    }
    free(ws);
    free(args);
    free(h);
    return rc;
}

/* ---- getChildren of many children -------------------------------------------------------- */

struct children_job {
    const struct zp_target *t;
    const char *parent;
    bool remove;
};

static int children_fn(void *ctx, uint64_t i, struct zp_conn *conn, zp_done_fn done, void *arg)
{
    struct children_job *j = ctx;
    char path[ZP_PATH_MAX];
    snprintf(path, sizeof(path), "%s/n%" PRIu64, j->parent, i);
    return j->remove ? j->t->remove(conn, path, -1, done, arg)
                     : j->t->create(conn, path, NULL, 0, 0, done, arg);
}

int zp_scenario_children(const struct zp_config *cfg, const struct zp_target *target, char *err,
                         size_t err_len)
{
    struct zn_hist *h = zp_hist_new(1);
    if (h == NULL) {
        return ZN_ENOMEM;
    }
    struct zp_harness hs;
    int rc = zp_harness_open(&hs, cfg, target, cfg->sessions, NULL, NULL, err, err_len);
    char run_dir[ZP_RUN_DIR_MAX] = "";
    char parent[ZP_RUN_DIR_MAX + 8] = "";
    if (rc == 0) {
        rc = zp_make_run_dir(&hs, run_dir, sizeof(run_dir), err, err_len);
    }
    if (rc == 0) {
        snprintf(parent, sizeof(parent), "%s/parent", run_dir);
        rc = zp_path_op(&hs, parent, false, err, err_len);
    }
    uint32_t n = cfg->children;
    struct zp_bulk_stats st;
    struct children_job job = {.t = target, .parent = parent, .remove = false};
    double create_s = 0;
    double delete_s = 0;
    uint32_t rounds_done = 0;
    if (rc == 0) {
        uint64_t t0 = zp_now_ns();
        rc = zp_bulk(&hs, n, 1024, children_fn, &job, -1, 600ull * ZN_NS_PER_S, &st);
        create_s = (double)(zp_now_ns() - t0) / 1e9;
        if (rc != 0) {
            snprintf(err, err_len, "creating %u children of %s: %s (%" PRIu64 " created)", n,
                     parent, zn_strerror(rc), st.ok);
        } else if (!cfg->quiet) {
            fprintf(stderr, "zinc-perf: created %u children in %.2f s (%.0f/s)\n", n, create_s,
                    n / create_s);
        }
    }
    if (rc == 0) {
        rc = zp_harness_barrier(&hs, run_dir, err, err_len);
    }
    uint64_t end = zp_now_ns() + (uint64_t)(cfg->duration_s * 1e9);
    uint32_t rounds = rounds_or(cfg, 20);
    for (uint32_t r = 0; rc == 0 && r < rounds && zp_now_ns() < end; r++) {
        struct wait_ctx w = {.pending = 1};
        uint64_t t0 = zp_now_ns();
        rc = target->get_children(hs.conns[0], parent, false, wait_done, &w);
        if (rc == 0) {
            rc = zp_harness_wait(&hs, &w.all_done, 60ull * ZN_NS_PER_S);
        }
        if (rc == 0 && w.errors) {
            rc = w.first_err;
        }
        if (rc == 0 && w.count != n) {
            snprintf(err, err_len, "getChildren returned %u names, expected %u", w.count, n);
            rc = ZN_EINCONSISTENT;
            break;
        }
        if (rc != 0) {
            snprintf(err, err_len, "getChildren of %u children: %s", n, zn_strerror(rc));
            break;
        }
        zn_hist_record(h, w.done_ns - t0);
        rounds_done++;
    }
    if (hs.client != NULL && parent[0] == '/' && !cfg->keep) {
        char e2[256];
        job.remove = true;
        uint64_t t0 = zp_now_ns();
        int drc = zp_bulk(&hs, n, 1024, children_fn, &job, ZN_ENONODE, 600ull * ZN_NS_PER_S, &st);
        delete_s = (double)(zp_now_ns() - t0) / 1e9;
        if (drc == 0) {
            zp_path_op(&hs, parent, true, e2, sizeof(e2));
            zp_path_op(&hs, run_dir, true, e2, sizeof(e2));
        } else {
            fprintf(stderr, "zinc-perf: deleting the children failed (%s); remove %s by hand\n",
                    zn_strerror(drc), run_dir);
        }
    }
    if (hs.client != NULL) {
        zp_harness_close(&hs);
    }
    if (rc == 0) {
        struct zp_series s[1] = {{"children", h}};
        char title[200];
        snprintf(title, sizeof(title),
                 "children: getChildren of %u children, %u rounds (created at %.0f/s, deleted "
                 "at %.0f/s)",
                 n, rounds_done, create_s > 0 ? n / create_s : 0.0,
                 delete_s > 0 ? n / delete_s : 0.0);
        json_t *extra = json_object();
        json_object_set_new(extra, "children", json_integer(n));
        json_object_set_new(extra, "rounds", json_integer(rounds_done));
        json_object_set_new(extra, "create_s", json_real(create_s));
        json_object_set_new(extra, "delete_s", json_real(delete_s));
        rc = outputs(cfg, "children", title, s, 1, extra, err, err_len);
        json_decref(extra);
    }
    free(h);
    return rc;
}

/* ---- session expiry ---------------------------------------------------------------------- */

struct expiry_watch {
    const char *path;
    uint64_t deleted_ns;
    bool deleted;
};

static void expiry_event(void *arg, const struct zp_event *ev)
{
    struct expiry_watch *w = arg;
    if (ev->type == ZP_EV_DELETED && strcmp(ev->path, w->path) == 0 && !w->deleted) {
        w->deleted = true;
        w->deleted_ns = ev->at_ns;
    }
}

/* Reads one line from fd within timeout_ms. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t used = 0;
    uint64_t end = zp_now_ns() + (uint64_t)timeout_ms * ZN_NS_PER_MS;
    while (used + 1 < len) {
        uint64_t now = zp_now_ns();
        if (now >= end) {
            return ZN_ETIMEDOUT;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)((end - now) / ZN_NS_PER_MS) + 1);
        if (pr <= 0) {
            continue;
        }
        ssize_t r = read(fd, buf + used, 1);
        if (r <= 0) {
            return ZN_ECONNLOSS;
        }
        if (buf[used] == '\n') {
            buf[used] = '\0';
            return 0;
        }
        used++;
    }
    return ZN_ELIMIT;
}

/* Starts `self expiry-holder ...`; returns its pid and the read end of its stdout. */
static int spawn_holder(const struct zp_config *cfg, const char *self, const char *path, pid_t *pid,
                        int *out_fd, int *in_fd)
{
    int out_pipe[2];
    int in_pipe[2];
    if (pipe(out_pipe) != 0) {
        return ZN_EIO;
    }
    if (pipe(in_pipe) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return ZN_EIO;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
    posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
    posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
    char ms[32];
    snprintf(ms, sizeof(ms), "%u", cfg->session_ms);
    char *argv[] = {(char *)self,
                    (char *)"expiry-holder",
                    (char *)cfg->target,
                    (char *)cfg->servers,
                    ms,
                    (char *)path,
                    NULL};
    int rc = posix_spawn(pid, self, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out_pipe[1]);
    close(in_pipe[0]);
    if (rc != 0) {
        close(out_pipe[0]);
        close(in_pipe[1]);
        return ZN_EIO;
    }
    *out_fd = out_pipe[0];
    *in_fd = in_pipe[1];
    return 0;
}

int zp_expiry_holder(int argc, char **argv)
{
    /* argv: self expiry-holder TARGET SERVERS SESSION_MS PATH */
    if (argc != 6) {
        fprintf(stderr, "expiry-holder: internal command, started by 'zinc-perf expiry'\n");
        return 2;
    }
    const struct zp_target *t = zp_target_find(argv[2]);
    struct zp_config cfg;
    zp_config_defaults(&cfg);
    cfg.servers = argv[3];
    cfg.session_ms = (uint32_t)strtoul(argv[4], NULL, 10);
    char err[256];
    struct zp_harness hs;
    if (t == NULL || zp_harness_open(&hs, &cfg, t, 1, NULL, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "expiry-holder: %s\n", t ? err : "unknown target");
        return 1;
    }
    struct wait_ctx w = {.pending = 1};
    int rc = t->create(hs.conns[0], argv[5], NULL, 0, ZP_CREATE_EPHEMERAL, wait_done, &w);
    if (rc == 0) {
        rc = zp_harness_wait(&hs, &w.all_done, 20ull * ZN_NS_PER_S);
    }
    if (rc == 0 && w.errors) {
        rc = w.first_err;
    }
    if (rc != 0) {
        fprintf(stderr, "expiry-holder: creating %s: %s\n", argv[5], zn_strerror(rc));
        zp_harness_close(&hs);
        return 1;
    }
    printf("ready %u\n", t->session_timeout_ms(hs.conns[0]));
    fflush(stdout);
    /* Wait to be killed; EOF on stdin (the harness went away) or 10 minutes end it. */
    struct pollfd p = {.fd = 0, .events = POLLIN};
    poll(&p, 1, 600 * 1000);
    zp_harness_close(&hs);
    return 0;
}

int zp_scenario_expiry(const struct zp_config *cfg, const struct zp_target *target,
                       const char *self, char *err, size_t err_len)
{
    struct zn_hist *h = zp_hist_new(1);
    if (h == NULL) {
        return ZN_ENOMEM;
    }
    struct expiry_watch watch = {0};
    void *args[1] = {&watch};
    struct zp_harness hs;
    int rc = zp_harness_open(&hs, cfg, target, 1, expiry_event, args, err, err_len);
    char run_dir[ZP_RUN_DIR_MAX] = "";
    char path[ZP_PATH_MAX] = "";
    if (rc == 0) {
        rc = zp_make_run_dir(&hs, run_dir, sizeof(run_dir), err, err_len);
    }
    snprintf(path, sizeof(path), "%s/ephemeral", run_dir);
    watch.path = path;
    uint32_t timeout_ms = 0;
    uint32_t rounds_done = 0;
    uint64_t end = zp_now_ns() + (uint64_t)(cfg->duration_s * 1e9);
    uint32_t rounds = rounds_or(cfg, 3);
    for (uint32_t r = 0; rc == 0 && r < rounds && zp_now_ns() < end; r++) {
        pid_t pid;
        int out_fd;
        int in_fd;
        rc = spawn_holder(cfg, self, path, &pid, &out_fd, &in_fd);
        if (rc != 0) {
            snprintf(err, err_len, "cannot start the session holder %s", self);
            break;
        }
        char line[64];
        rc = read_line(out_fd, line, sizeof(line), 30000);
        if (rc == 0 && sscanf(line, "ready %u", &timeout_ms) != 1) {
            rc = ZN_EPROTO;
        }
        /* Our session may sit on another server that has not applied the holder's create yet
         * (ZooKeeper orders per session only): retry until the node is seen, then the watch
         * set by that exists() is a data watch that fires on deletion. */
        uint64_t seen_by = zp_now_ns() + 10ull * ZN_NS_PER_S;
        watch.deleted = false;
        while (rc == 0) {
            struct wait_ctx w = {.pending = 1};
            rc = target->exists(hs.conns[0], path, true, wait_done, &w);
            if (rc == 0) {
                rc = zp_harness_wait(&hs, &w.all_done, 10ull * ZN_NS_PER_S);
            }
            if (rc == 0 && w.errors) {
                rc = w.first_err;
            }
            if (rc != ZN_ENONODE || zp_now_ns() >= seen_by) {
                break;
            }
            rc = 0;
            usleep(10000);
        }
        uint64_t t0 = zp_now_ns();
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(out_fd);
        close(in_fd);
        if (rc != 0) {
            snprintf(err, err_len, "round %u: the holder's ephemeral node %s: %s", r, path,
                     zn_strerror(rc));
            break;
        }
        uint64_t limit = 3ull * timeout_ms * ZN_NS_PER_MS + 10ull * ZN_NS_PER_S;
        rc = zp_harness_wait(&hs, &watch.deleted, limit);
        if (rc != 0) {
            snprintf(err, err_len, "round %u: no NodeDeleted for %s within %.1f s", r, path,
                     (double)limit / 1e9);
            break;
        }
        zn_hist_record(h, watch.deleted_ns - t0);
        rounds_done++;
        if (!cfg->quiet) {
            fprintf(stderr, "zinc-perf: round %u: expiry detected after %.3f s (timeout %u ms)\n",
                    r, (double)(watch.deleted_ns - t0) / 1e9, timeout_ms);
        }
    }
    if (hs.client != NULL && run_dir[0] == '/') {
        char e2[256];
        zp_path_op(&hs, run_dir, true, e2, sizeof(e2));
    }
    if (hs.client != NULL) {
        zp_harness_close(&hs);
    }
    if (rc == 0) {
        struct zp_series s[1] = {{"expiry", h}};
        char title[200];
        snprintf(title, sizeof(title),
                 "expiry: holder killed -> NodeDeleted seen, %u rounds, negotiated session "
                 "timeout %u ms",
                 rounds_done, timeout_ms);
        json_t *extra = json_object();
        json_object_set_new(extra, "session_timeout_ms", json_integer(timeout_ms));
        json_object_set_new(extra, "rounds", json_integer(rounds_done));
        json_object_set_new(
            extra, "detection_over_timeout",
            json_real(timeout_ms ? zn_hist_percentile(h, 50) / 1e6 / timeout_ms : 0.0));
        rc = outputs(cfg, "expiry", title, s, 1, extra, err, err_len);
        json_decref(extra);
    }
    free(h);
    return rc;
}

/* ---- leader kill ------------------------------------------------------------------------- */

/* Runs `/bin/sh -c cmd`, waiting at most timeout_ns (then SIGKILL). 0 if it exited with 0. */
static int run_shell(const char *cmd, uint64_t timeout_ns)
{
    pid_t pid;
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)cmd, NULL};
    if (posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) != 0) {
        return ZN_EIO;
    }
    uint64_t end = zp_now_ns() + timeout_ns;
    int st = 0;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (zp_now_ns() >= end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return ZN_ETIMEDOUT;
        }
        usleep(5000);
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : ZN_EIO;
}

struct failover {
    uint64_t t_kill;
    bool killed;
    uint64_t first_err_ns;
    uint64_t last_err_ns;
    uint64_t errors_after;
    uint64_t first_ok_ns;
    int first_err_code;
};

static void failover_error(struct failover *fo, uint64_t at, int code)
{
    if (!fo->killed) {
        return;
    }
    if (fo->errors_after++ == 0) {
        fo->first_err_ns = at;
        fo->first_err_code = code;
    }
    fo->last_err_ns = at;
}

int zp_scenario_failover(const struct zp_config *cfg, const struct zp_target *target, char *err,
                         size_t err_len)
{
    struct zn_hist *h = zp_hist_new(3); /* before, after, first-ack */
    if (h == NULL) {
        return ZN_ENOMEM;
    }
    struct zp_harness hs;
    int rc = zp_harness_open(&hs, cfg, target, 1, NULL, NULL, err, err_len);
    char run_dir[ZP_RUN_DIR_MAX] = "";
    char key[ZP_PATH_MAX] = "";
    if (rc == 0) {
        rc = zp_make_run_dir(&hs, run_dir, sizeof(run_dir), err, err_len);
    }
    if (rc == 0) {
        snprintf(key, sizeof(key), "%s/key", run_dir);
        rc = zp_path_op(&hs, key, false, err, err_len);
    }
    struct failover fo = {0};
    unsigned char value[16] = {0};
    uint64_t start = zp_now_ns();
    uint64_t end = start + (uint64_t)(cfg->duration_s * 1e9);
    uint64_t kill_at = start + (uint64_t)(cfg->before_s * 1e9);
    uint64_t writes = 0;
    while (rc == 0 && writes < cfg->ops && zp_now_ns() < end) {
        uint64_t now = zp_now_ns();
        if (!fo.killed && now >= kill_at) {
            if (!cfg->quiet) {
                fprintf(stderr, "zinc-perf: %" PRIu64 " writes done; running --kill-cmd\n", writes);
            }
            rc = run_shell(cfg->kill_cmd, 30ull * ZN_NS_PER_S);
            if (rc != 0) {
                snprintf(err, err_len, "--kill-cmd '%s' failed (%s)", cfg->kill_cmd,
                         zn_strerror(rc));
                break;
            }
            fo.t_kill = zp_now_ns();
            fo.killed = true;
        }
        if (fo.first_ok_ns && now >= fo.first_ok_ns + (uint64_t)(cfg->after_s * 1e9)) {
            break;
        }
        writes++;
        memcpy(value, &writes, sizeof(writes));
        struct wait_ctx w = {.pending = 1};
        uint64_t issued = zp_now_ns();
        int s = target->set_data(hs.conns[0], key, value, sizeof(value), -1, wait_done, &w);
        if (s == 0) {
            s = zp_harness_wait(&hs, &w.all_done, 30ull * ZN_NS_PER_S);
            if (s == ZN_ETIMEDOUT) {
                /* The harness's own wait expired: the target never answered at all. An error
                 * reply (an operation timeout reported by the client library included) is part
                 * of the failover window below, not this. */
                snprintf(err, err_len, "a write got no reply within 30 s");
                rc = s;
                break;
            }
            if (s == 0 && w.errors) {
                s = w.first_err;
            }
        }
        if (s != 0) {
            failover_error(&fo, zp_now_ns(), s);
            usleep(1000); /* back off: errors come back fast while there is no leader */
            continue;
        }
        uint64_t lat = w.done_ns - issued;
        if (!fo.killed) {
            zn_hist_record(&h[0], lat);
        } else {
            zn_hist_record(&h[1], lat);
            if (fo.first_ok_ns == 0 && issued >= fo.t_kill) {
                fo.first_ok_ns = w.done_ns;
            }
        }
    }
    if (rc == 0 && !fo.killed) {
        snprintf(err, err_len, "the run ended before --before %.1fs elapsed (raise --duration)",
                 cfg->before_s);
        rc = ZN_ETIMEDOUT;
    }
    if (rc == 0 && fo.first_ok_ns == 0) {
        snprintf(err, err_len, "no write was acknowledged within --duration after the kill");
        rc = ZN_ETIMEDOUT;
    }
    if (hs.client != NULL && run_dir[0] == '/') {
        char e2[256];
        zp_path_op(&hs, key, true, e2, sizeof(e2));
        zp_path_op(&hs, run_dir, true, e2, sizeof(e2));
    }
    if (hs.client != NULL) {
        zp_harness_close(&hs);
    }
    if (rc == 0) {
        uint64_t first_ack = fo.first_ok_ns - fo.t_kill;
        uint64_t window = fo.errors_after ? fo.last_err_ns - fo.first_err_ns : 0;
        zn_hist_record(&h[2], first_ack);
        struct zp_series s[3] = {{"before", &h[0]}, {"after", &h[1]}, {"first-ack", &h[2]}};
        char title[256];
        snprintf(title, sizeof(title),
                 "failover: leader killed -> first acknowledged write after %.1f ms; %" PRIu64
                 " failed write(s) over %.1f ms",
                 first_ack / 1e6, fo.errors_after, window / 1e6);
        json_t *extra = json_object();
        json_object_set_new(extra, "kill_cmd", json_string(cfg->kill_cmd));
        json_object_set_new(extra, "time_to_first_ack_ms", json_real(first_ack / 1e6));
        json_object_set_new(extra, "errors_after_kill", json_integer((json_int_t)fo.errors_after));
        json_object_set_new(extra, "error_window_ms", json_real(window / 1e6));
        json_object_set_new(extra, "first_error",
                            json_string(fo.errors_after ? zn_err_name(fo.first_err_code) : ""));
        rc = outputs(cfg, "failover", title, s, 3, extra, err, err_len);
        json_decref(extra);
    }
    free(h);
    return rc;
}
