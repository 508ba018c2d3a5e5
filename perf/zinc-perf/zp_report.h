/*
 * zp_report.h - zinc-perf's outputs: the table, JSON, the mergeable histogram log and the SVG
 * latency-percentile plot.
 *
 * Histogram log (text, one histogram per line, mergeable by summing lines with the same op):
 *   # zinc-perf histogram log v1
 *   <label> TAB <op> TAB <window_ns> TAB <hex of zn_hist_serialize>
 * Labels are sanitized (tabs, newlines and non-printable bytes become '_').
 *
 * Context: single thread; the writers allocate only transient buffers.
 */
#ifndef ZP_REPORT_H
#define ZP_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/zn_hist.h"
#include "perf/zinc-perf/zp_config.h"
#include "perf/zinc-perf/zp_target.h"

struct zp_op_result {
    uint64_t ok;     /* completed without error, recorded in hist */
    uint64_t errors; /* completed with an error (not in hist) */
    int first_error; /* ZN_E* of the first error */
    struct zn_hist hist;
};

/* One second of a run (the progress line), for the JSON timeline. */
struct zp_tick {
    double t_s; /* end of the interval, seconds since the start of the run */
    bool measuring;
    uint64_t ok; /* measured replies in the interval */
    uint64_t errors;
    uint64_t p50_ns;
    uint64_t p99_ns;
    uint64_t max_ns;
};

struct zp_results {
    char label[128];
    char target[32];
    char description[160]; /* workload and load shape, for the table heading */
    struct zp_op_result op[ZP_OP_COUNT];
    uint64_t window_ns; /* measured phase: warm-up end to last measured completion */
    uint64_t lost;      /* requests still outstanding when the drain timed out */
    uint64_t warmup_done;
    bool interrupted; /* ended early by SIGINT/SIGTERM */
    /* Harness diagnostics (not part of any latency above): how long a reply waited between the
     * target's stamp and the engine, and (open loop) how late requests left vs their schedule. */
    struct zn_hist delivery_lag;
    struct zn_hist send_lag;
    struct zp_tick *timeline; /* owned; one entry per second plus the final partial one */
    size_t n_timeline;
};

/* n empty histograms (zn_hist_reset: min starts at UINT64_MAX), or NULL. free() them. */
struct zn_hist *zp_hist_new(size_t n);

/* Heap-allocated, zeroed results (the histograms are large). NULL on ENOMEM. */
struct zp_results *zp_results_new(void);
void zp_results_free(struct zp_results *r);

/* Latency cell: "123.4" in microseconds with enough digits for sub-µs values. */
void zp_fmt_us(char *buf, size_t len, uint64_t ns);

/* Text table: one row per op type that ran, plus "all" when more than one ran. */
void zp_report_table(FILE *f, const struct zp_results *r);

/* JSON object of a run (cfg may be NULL, e.g. for merged logs). Caller owns the result. */
json_t *zp_report_json(const struct zp_results *r, const struct zp_config *cfg);
/* Writes JSON to path ("-" = stdout). Returns 0 or ZN_EIO. */
int zp_json_write(const char *path, json_t *j);

/* Histogram log. */
int zp_hlog_write_header(FILE *f);
int zp_hlog_write(FILE *f, const char *label, const char *op, uint64_t window_ns,
                  const struct zn_hist *h);
/* Writes every op of r that ran. Returns 0 or ZN_EIO/ZN_ENOMEM. */
int zp_hlog_write_results(const char *path, const struct zp_results *r);

typedef int (*zp_hlog_fn)(void *ctx, const char *label, const char *op, uint64_t window_ns,
                          const struct zn_hist *h);
/* Reads a log, calling fn per line (h is a scratch histogram valid during the call). Returns 0,
 * ZN_ENOENT (cannot open), ZN_EPROTO (malformed; err names the line) or fn's error. */
int zp_hlog_read(const char *path, zp_hlog_fn fn, void *ctx, char *err, size_t err_len);

/* SVG latency-percentile plot: x = percentile on a "nines" scale (0, 90, 99, 99.9 ...), y =
 * latency on a log scale. Series with an empty histogram are skipped. Returns 0 or ZN_EIO. */
struct zp_series {
    const char *label;
    const struct zn_hist *hist;
};
int zp_svg_write(FILE *f, const char *title, const struct zp_series *series, size_t n);
int zp_svg_write_file(const char *path, const char *title, const struct zp_series *series,
                      size_t n);

/* Scenario outputs: named histograms without a throughput column. */
void zp_report_series_table(FILE *f, const char *title, const struct zp_series *series, size_t n);
json_t *zp_report_series_json(const struct zp_series *series, size_t n);
int zp_hlog_write_series(const char *path, const char *label, const struct zp_series *series,
                         size_t n);

#endif /* ZP_REPORT_H */
