/*
 * metrics.h - a small Prometheus metrics registry: families of counters, gauges and histograms
 * with labels, rendered to the Prometheus text exposition format 0.0.4.
 *
 * A family is a name, a type, a HELP text and a collector: a function that the renderer calls
 * once per scrape, which emits the family's samples (one per label set) through the
 * zn_metrics_*() emit calls below. The registry owns no values: a collector reads them from
 * wherever its owner publishes them (the node publishes a snapshot, node/metrics_node.h).
 *
 * Registering a family is ONE call, for example per-op latency histograms (node/opstats.h):
 *
 *     zn_metrics_register(reg, "zinc_op_latency_seconds", ZN_METRIC_HISTOGRAM,
 *                         "Latency of client operations by op, from receipt to reply.",
 *                         my_collect, my_ctx);
 *
 *   where my_collect(ctx, out) calls, for each op,
 *     zn_metrics_hist_from_zn_hist(&h, 1e-9, zn_metrics_latency_bounds, ZN_METRICS_LATENCY_BOUNDS,
 *                                  &data);
 *     zn_metrics_histogram(out, &data, 1, "op", "create");
 *
 * Naming rules are checked at registration (ZN_EINVAL): names match [a-zA-Z_:][a-zA-Z0-9_:]*,
 * carry the zinc_ prefix, counters end in _total, histograms do not end in _bucket/_sum/_count.
 * Label names match [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__"; label values are escaped
 * (backslash, double quote, newline). A family that emits no sample still renders its HELP and
 * TYPE lines.
 *
 * Context: any thread. Registration and rendering take the registry's own mutex, which no poll
 * loop ever takes; a collector runs with it held (it must not register). Collectors run on the
 * renderer's thread (the HTTP thread or the DPDK telemetry thread): they must only read data
 * that is safe to read from there (a published snapshot, C11 atomics), never lcore-owned state.
 */
#ifndef ZN_NODE_METRICS_H
#define ZN_NODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_hist.h"

/* Capacities (bounded registry; the node registers ~60 families). */
#define ZN_METRICS_FAMILIES_MAX   256
#define ZN_METRICS_NAME_MAX       96
#define ZN_METRICS_HELP_MAX       256
#define ZN_METRICS_LABELS_MAX     4
#define ZN_METRICS_BOUNDS_MAX     32
#define ZN_METRICS_RENDER_MAX     (4u << 20) /* a scrape larger than 4 MiB is refused */
#define ZN_METRICS_LATENCY_BOUNDS 16

enum zn_metric_type { ZN_METRIC_COUNTER = 0, ZN_METRIC_GAUGE = 1, ZN_METRIC_HISTOGRAM = 2 };

struct zn_metrics_reg;
struct zn_metrics_out; /* one render in progress */

typedef void (*zn_metrics_collect_fn)(void *ctx, struct zn_metrics_out *out);

/* Histogram data for one label set: counts per upper bound (NOT cumulative; the renderer
 * accumulates), the count above the last bound, the sum of observed values in the unit of
 * the bounds. bounds ascend strictly. */
struct zn_metrics_hist_data {
    uint32_t n_bounds;
    double bounds[ZN_METRICS_BOUNDS_MAX];
    uint64_t counts[ZN_METRICS_BOUNDS_MAX];
    uint64_t count_inf;
    double sum;
};

/* Latency bucket bounds in seconds, 10 us .. 1 s (shared so that every latency family of zinc
 * has the same buckets and can be aggregated). */
extern const double zn_metrics_latency_bounds[ZN_METRICS_LATENCY_BOUNDS];

/* 0, ZN_ENOMEM. */
int zn_metrics_reg_create(struct zn_metrics_reg **out);
void zn_metrics_reg_destroy(struct zn_metrics_reg *r);

/* Add a family. 0, ZN_EINVAL (bad name or type, see above, or the name is taken), ZN_EFULL
 * (ZN_METRICS_FAMILIES_MAX). name and help are copied; ctx must outlive the registry. */
int zn_metrics_register(struct zn_metrics_reg *r, const char *name, enum zn_metric_type type,
                        const char *help, zn_metrics_collect_fn collect, void *ctx);

/*
 * Render every family in registration order into a buffer allocated with malloc (*text, *len;
 * the caller frees). 0, ZN_ENOMEM, ZN_ELIMIT (larger than ZN_METRICS_RENDER_MAX).
 * A collector that emits a bad label name or a sample of the wrong kind for its family is a
 * programming error (ZN_ASSERT).
 */
int zn_metrics_render(struct zn_metrics_reg *r, char **text, size_t *len);

/*
 * Emit calls, inside a collector. The variadic part is n_labels pairs of const char *
 * (label name, label value). u64 prints the exact integer (counters past 2^53 stay exact).
 */
void zn_metrics_u64(struct zn_metrics_out *o, uint64_t value, unsigned n_labels, ...);
void zn_metrics_i64(struct zn_metrics_out *o, int64_t value, unsigned n_labels, ...);
void zn_metrics_f64(struct zn_metrics_out *o, double value, unsigned n_labels, ...);
void zn_metrics_histogram(struct zn_metrics_out *o, const struct zn_metrics_hist_data *h,
                          unsigned n_labels, ...);

/*
 * Convert a zn_hist (common/zn_hist.h; values in some integer unit, e.g. ns) into histogram data
 * with the given bounds, scaling values by `scale` (1e-9 for ns -> seconds). Each HDR bucket
 * goes to the first bound >= its upper edge scaled (so counts are exact up to the HDR bucket's
 * relative error, ZN_HIST_REL_ERROR).
 */
void zn_metrics_hist_from_zn_hist(const struct zn_hist *h, double scale, const double *bounds,
                                  uint32_t n_bounds, struct zn_metrics_hist_data *out);

/* Validate a metric / label name (exposed for tests). */
bool zn_metrics_name_ok(const char *name);
bool zn_metrics_label_name_ok(const char *name);

#endif /* ZN_NODE_METRICS_H */
