/*
 * main.c - zinc-perf: the latency harness (commands run, fanout, children, expiry, merge, plot,
 * targets). See `zinc-perf --help` and perf/README.md.
 *
 * Exit codes: 0 success; 1 the run failed (connection, setup, I/O); 2 bad arguments; 3 the run
 * completed but some requests failed or were never answered (the results still print); 130 the
 * run was interrupted (SIGINT/SIGTERM) and its partial results printed.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_engine.h"
#include "perf/zinc-perf/zp_report.h"
#include "perf/zinc-perf/zp_scenario.h"

#define ERR_LEN 512

static int write_outputs(const struct zp_config *cfg, const struct zp_results *res)
{
    int rc = 0;
    if (cfg->json_path != NULL) {
        json_t *j = zp_report_json(res, cfg);
        if (j == NULL || zp_json_write(cfg->json_path, j) != 0) {
            fprintf(stderr, "zinc-perf: --json: cannot write '%s'\n", cfg->json_path);
            rc = 1;
        }
        json_decref(j);
    }
    if (cfg->hist_path != NULL && zp_hlog_write_results(cfg->hist_path, res) != 0) {
        fprintf(stderr, "zinc-perf: --hist-log: cannot write '%s'\n", cfg->hist_path);
        rc = 1;
    }
    if (cfg->svg_path != NULL) {
        struct zp_series s[ZP_OP_COUNT];
        size_t n = 0;
        for (int op = 0; op < ZP_OP_COUNT; op++) {
            if (res->op[op].ok > 0) {
                s[n].label = zp_op_name((enum zp_op)op);
                s[n].hist = &res->op[op].hist;
                n++;
            }
        }
        char title[320];
        snprintf(title, sizeof(title), "%s: %s", res->label, res->description);
        if (zp_svg_write_file(cfg->svg_path, title, s, n) != 0) {
            fprintf(stderr, "zinc-perf: --svg: cannot write '%s'\n", cfg->svg_path);
            rc = 1;
        }
    }
    return rc;
}

static int cmd_run(const struct zp_config *cfg, const struct zp_target *t)
{
    struct zp_results *res = zp_results_new();
    if (res == NULL) {
        fprintf(stderr, "zinc-perf: out of memory\n");
        return 1;
    }
    char err[ERR_LEN] = "";
    /* Before any client thread exists, so that all inherit it; see interrupted() in the engine. */
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &both, NULL);
    int rc = zp_run(cfg, t, res, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "zinc-perf: %s\n", err[0] ? err : zn_strerror(rc));
        zp_results_free(res);
        return 1;
    }
    zp_report_table(stdout, res);
    int out = write_outputs(cfg, res);
    uint64_t errors = 0;
    for (int op = 0; op < ZP_OP_COUNT; op++) {
        errors += res->op[op].errors;
    }
    if (out == 0 && (errors > 0 || res->lost > 0)) {
        fprintf(stderr, "zinc-perf: %llu request(s) failed, %llu unanswered\n",
                (unsigned long long)errors, (unsigned long long)res->lost);
        out = 3;
    }
    if (out == 0 && res->interrupted) {
        out = 130;
    }
    zp_results_free(res);
    return out;
}

/* ---- merge and plot ---------------------------------------------------------------------- */

#define NAMED_MAX 256

struct named {
    char label[160];
    char op[40];
    uint64_t window_ns;
    struct zn_hist *hist;
};

struct collect {
    bool by_label; /* plot: one series per (label, op); merge: one per op */
    struct named items[NAMED_MAX];
    size_t n;
};

static int collect_fn(void *ctx, const char *label, const char *op, uint64_t window_ns,
                      const struct zn_hist *h)
{
    struct collect *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        struct named *it = &c->items[i];
        if (strcmp(it->op, op) == 0 && (!c->by_label || strcmp(it->label, label) == 0)) {
            zn_hist_merge(it->hist, h);
            it->window_ns = window_ns > it->window_ns ? window_ns : it->window_ns;
            return 0;
        }
    }
    if (c->n == NAMED_MAX) {
        return ZN_ELIMIT;
    }
    struct named *it = &c->items[c->n];
    it->hist = zp_hist_new(1);
    if (it->hist == NULL) {
        return ZN_ENOMEM;
    }
    snprintf(it->label, sizeof(it->label), "%s", c->by_label ? label : "merged");
    snprintf(it->op, sizeof(it->op), "%s", op);
    it->window_ns = window_ns;
    zn_hist_merge(it->hist, h);
    c->n++;
    return 0;
}

static int cmd_merge_plot(const struct zp_config *cfg)
{
    struct collect *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return 1;
    }
    c->by_label = cfg->command == ZP_CMD_PLOT;
    int rc = 0;
    char err[ERR_LEN] = "";
    for (uint32_t i = 0; i < cfg->n_inputs && rc == 0; i++) {
        rc = zp_hlog_read(cfg->inputs[i], collect_fn, c, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "zinc-perf: %s\n", err[0] ? err : zn_strerror(rc));
        }
    }
    struct zp_series *s = calloc(c->n + 1, sizeof(*s));
    char(*names)[220] = calloc(c->n + 1, sizeof(*names));
    if (rc == 0 && (s == NULL || names == NULL)) {
        rc = ZN_ENOMEM;
    }
    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        if (c->by_label) {
            snprintf(names[i], sizeof(names[i]), "%s %s", c->items[i].label, c->items[i].op);
        } else {
            snprintf(names[i], sizeof(names[i]), "%s", c->items[i].op);
        }
        s[i].label = names[i];
        s[i].hist = c->items[i].hist;
    }
    if (rc == 0 && cfg->command == ZP_CMD_PLOT) {
        if (zp_svg_write_file(cfg->out_path, cfg->label ? cfg->label : "latency by percentile", s,
                              c->n) != 0) {
            fprintf(stderr, "zinc-perf: -o: cannot write '%s'\n", cfg->out_path);
            rc = ZN_EIO;
        }
    } else if (rc == 0) {
        char title[200];
        snprintf(title, sizeof(title), "merged %u histogram log(s)", cfg->n_inputs);
        zp_report_series_table(
            strcmp(cfg->out_path ? cfg->out_path : "", "-") == 0 ? stderr : stdout, title, s, c->n);
        if (cfg->out_path != NULL) {
            FILE *f = strcmp(cfg->out_path, "-") == 0 ? stdout : fopen(cfg->out_path, "w");
            rc = f ? zp_hlog_write_header(f) : ZN_EIO;
            for (size_t i = 0; i < c->n && rc == 0; i++) {
                rc = zp_hlog_write(f, cfg->label ? cfg->label : "merged", c->items[i].op,
                                   c->items[i].window_ns, c->items[i].hist);
            }
            if (f != NULL && f != stdout && fclose(f) != 0) {
                rc = ZN_EIO;
            }
            if (rc != 0) {
                fprintf(stderr, "zinc-perf: -o: cannot write '%s'\n", cfg->out_path);
            }
        }
        if (rc == 0 && cfg->json_path != NULL) {
            json_t *root = json_object();
            json_object_set_new(root, "tool", json_string("zinc-perf"));
            json_object_set_new(root, "format", json_integer(1));
            json_object_set_new(root, "merged_inputs", json_integer(cfg->n_inputs));
            json_object_set_new(root, "ops", zp_report_series_json(s, c->n));
            rc = zp_json_write(cfg->json_path, root);
            json_decref(root);
            if (rc != 0) {
                fprintf(stderr, "zinc-perf: --json: cannot write '%s'\n", cfg->json_path);
            }
        }
        if (rc == 0 && cfg->svg_path != NULL &&
            zp_svg_write_file(cfg->svg_path, title, s, c->n) != 0) {
            fprintf(stderr, "zinc-perf: --svg: cannot write '%s'\n", cfg->svg_path);
            rc = ZN_EIO;
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        free(c->items[i].hist);
    }
    free(s);
    free(names);
    free(c);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "expiry-holder") == 0) {
        return zp_expiry_holder(argc, argv);
    }
    struct zp_config cfg;
    zp_config_defaults(&cfg);
    char err[ERR_LEN];
    if (zp_config_parse(&cfg, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "zinc-perf: %s\n", err);
        return 2;
    }
    switch (cfg.command) {
    case ZP_CMD_HELP:
        fputs(zp_config_usage(), stdout);
        return 0;
    case ZP_CMD_TARGETS: {
        for (size_t i = 0; zp_target_at(i) != NULL; i++) {
            printf("%s: %s\n", zp_target_at(i)->name, zp_target_at(i)->description);
        }
        printf("(zinc through libzinc and the kernel-bypass client: added with the client "
               "library)\n");
        return 0;
    }
    case ZP_CMD_MERGE:
    case ZP_CMD_PLOT:
        return cmd_merge_plot(&cfg);
    default:
        break;
    }
    const struct zp_target *t = zp_target_find(cfg.target);
    if (t == NULL) {
        fprintf(stderr, "zinc-perf: --target: unknown target '%s' (compiled in: %s)\n", cfg.target,
                zp_target_names());
        return 2;
    }
    int rc = 0;
    err[0] = '\0';
    switch (cfg.command) {
    case ZP_CMD_RUN:
        return cmd_run(&cfg, t);
    case ZP_CMD_FANOUT:
        rc = zp_scenario_fanout(&cfg, t, err, sizeof(err));
        break;
    case ZP_CMD_CHILDREN:
        rc = zp_scenario_children(&cfg, t, err, sizeof(err));
        break;
    case ZP_CMD_FAILOVER:
        rc = zp_scenario_failover(&cfg, t, err, sizeof(err));
        break;
    case ZP_CMD_EXPIRY: {
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0) {
            fprintf(stderr, "zinc-perf: cannot resolve /proc/self/exe\n");
            return 1;
        }
        self[n] = '\0';
        rc = zp_scenario_expiry(&cfg, t, self, err, sizeof(err));
        break;
    }
    default:
        break;
    }
    if (rc != 0) {
        fprintf(stderr, "zinc-perf: %s\n", err[0] ? err : zn_strerror(rc));
        return 1;
    }
    return 0;
}
