/*
 * metrics.c - the Prometheus registry and text renderer (see metrics.h).
 *
 * Invariants: family names are unique and valid; within one render every sample line carries
 * its family's name (histograms: name_bucket with a "le" label in ascending order ending with
 * +Inf, name_sum, name_count, bucket counts cumulative and the +Inf bucket equal to _count).
 * The output is built in a malloc'd buffer that doubles up to ZN_METRICS_RENDER_MAX; an
 * overflow marks the render failed rather than truncating it (a truncated scrape would parse
 * as valid and lie).
 */
#include "node/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"

const double zn_metrics_latency_bounds[ZN_METRICS_LATENCY_BOUNDS] = {
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3,
    5e-3,  10e-3, 25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0};

struct zn_metrics_family {
    char name[ZN_METRICS_NAME_MAX];
    char help[ZN_METRICS_HELP_MAX];
    enum zn_metric_type type;
    zn_metrics_collect_fn collect;
    void *ctx;
};

struct zn_metrics_reg {
    pthread_mutex_t lock;
    uint32_t n;
    struct zn_metrics_family fam[ZN_METRICS_FAMILIES_MAX];
};

struct zn_metrics_out {
    char *buf;
    size_t len;
    size_t cap;
    bool failed; /* out of memory or over ZN_METRICS_RENDER_MAX */
    bool too_big;
    const struct zn_metrics_family *fam;
};

bool zn_metrics_name_ok(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p != name && c >= '0' && c <= '9'))
            return false;
    }
    return strlen(name) < ZN_METRICS_NAME_MAX;
}

bool zn_metrics_label_name_ok(const char *name)
{
    if (!name || !*name || strncmp(name, "__", 2) == 0)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p != name && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static bool zn_metrics_ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int zn_metrics_reg_create(struct zn_metrics_reg **out)
{
    struct zn_metrics_reg *r = calloc(1, sizeof(*r));
    if (!r)
        return ZN_ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return 0;
}

void zn_metrics_reg_destroy(struct zn_metrics_reg *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int zn_metrics_register(struct zn_metrics_reg *r, const char *name, enum zn_metric_type type,
                        const char *help, zn_metrics_collect_fn collect, void *ctx)
{
    if (!r || !collect || !help || !zn_metrics_name_ok(name) || strncmp(name, "zinc_", 5) != 0 ||
        strlen(help) >= ZN_METRICS_HELP_MAX)
        return ZN_EINVAL;
    switch (type) {
    case ZN_METRIC_COUNTER:
        if (!zn_metrics_ends_with(name, "_total"))
            return ZN_EINVAL;
        break;
    case ZN_METRIC_GAUGE:
        if (zn_metrics_ends_with(name, "_total"))
            return ZN_EINVAL;
        break;
    case ZN_METRIC_HISTOGRAM:
        if (zn_metrics_ends_with(name, "_bucket") || zn_metrics_ends_with(name, "_sum") ||
            zn_metrics_ends_with(name, "_count") || zn_metrics_ends_with(name, "_total"))
            return ZN_EINVAL;
        break;
    default:
        return ZN_EINVAL;
    }
    int rc = 0;
    pthread_mutex_lock(&r->lock);
    for (uint32_t i = 0; i < r->n && !rc; i++)
        if (strcmp(r->fam[i].name, name) == 0)
            rc = ZN_EINVAL;
    if (!rc && r->n == ZN_METRICS_FAMILIES_MAX)
        rc = ZN_EFULL;
    if (!rc) {
        struct zn_metrics_family *f = &r->fam[r->n];
        snprintf(f->name, sizeof(f->name), "%s", name);
        snprintf(f->help, sizeof(f->help), "%s", help);
        f->type = type;
        f->collect = collect;
        f->ctx = ctx;
        r->n++;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* ---- output buffer --------------------------------------------------------------------------- */

static bool zn_metrics_reserve(struct zn_metrics_out *o, size_t extra)
{
    if (o->failed)
        return false;
    if (o->len + extra + 1 <= o->cap)
        return true;
    size_t cap = o->cap ? o->cap : 16384;
    while (cap < o->len + extra + 1)
        cap *= 2;
    if (cap > ZN_METRICS_RENDER_MAX) {
        o->failed = true;
        o->too_big = true;
        return false;
    }
    char *p = realloc(o->buf, cap);
    if (!p) {
        o->failed = true;
        return false;
    }
    o->buf = p;
    o->cap = cap;
    return true;
}

static void zn_metrics_put(struct zn_metrics_out *o, const char *s, size_t n)
{
    if (!zn_metrics_reserve(o, n))
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void zn_metrics_puts(struct zn_metrics_out *o, const char *s)
{
    zn_metrics_put(o, s, strlen(s));
}

static void zn_metrics_printf(struct zn_metrics_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void zn_metrics_printf(struct zn_metrics_out *o, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    ZN_ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
    zn_metrics_put(o, tmp, (size_t)n);
}

/* HELP text escaping: backslash and newline. */
static void zn_metrics_put_help(struct zn_metrics_out *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            zn_metrics_puts(o, "\\\\");
        else if (*s == '\n')
            zn_metrics_puts(o, "\\n");
        else
            zn_metrics_put(o, s, 1);
    }
}

/* Label value escaping: backslash, double quote, newline. */
static void zn_metrics_put_label_value(struct zn_metrics_out *o, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\')
            zn_metrics_puts(o, "\\\\");
        else if (*s == '"')
            zn_metrics_puts(o, "\\\"");
        else if (*s == '\n')
            zn_metrics_puts(o, "\\n");
        else
            zn_metrics_put(o, s, 1);
    }
}

/* name{l1="v1",...,extra_name="extra_value"} ; extra is the histogram's "le". */
static void zn_metrics_put_series(struct zn_metrics_out *o, const char *suffix, unsigned n_labels,
                                  const char *const *labels, const char *extra_name,
                                  const char *extra_value)
{
    zn_metrics_puts(o, o->fam->name);
    zn_metrics_puts(o, suffix);
    if (n_labels == 0 && !extra_name)
        return;
    zn_metrics_puts(o, "{");
    for (unsigned i = 0; i < n_labels; i++) {
        ZN_ASSERT(zn_metrics_label_name_ok(labels[2 * i]));
        ZN_ASSERT(strcmp(labels[2 * i], "le") != 0 || o->fam->type != ZN_METRIC_HISTOGRAM);
        if (i)
            zn_metrics_puts(o, ",");
        zn_metrics_puts(o, labels[2 * i]);
        zn_metrics_puts(o, "=\"");
        zn_metrics_put_label_value(o, labels[2 * i + 1]);
        zn_metrics_puts(o, "\"");
    }
    if (extra_name) {
        if (n_labels)
            zn_metrics_puts(o, ",");
        zn_metrics_puts(o, extra_name);
        zn_metrics_puts(o, "=\"");
        zn_metrics_puts(o, extra_value);
        zn_metrics_puts(o, "\"");
    }
    zn_metrics_puts(o, "}");
}

static void zn_metrics_gather_labels(unsigned n_labels, va_list ap, const char **labels)
{
    ZN_ASSERT(n_labels <= ZN_METRICS_LABELS_MAX);
    for (unsigned i = 0; i < 2 * n_labels; i++)
        labels[i] = va_arg(ap, const char *);
}

/* The shortest of %.15g / %.17g that reads back as v (0.1 stays "0.1", never
 * "0.10000000000000001"), so that bucket bounds look the same in every scrape. */
static void zn_metrics_fmt_f64(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

/* A float in the exposition format: Go's ParseFloat spellings for the special values. */
static void zn_metrics_put_f64(struct zn_metrics_out *o, double v)
{
    char tmp[40];
    if (isnan(v))
        zn_metrics_puts(o, "NaN");
    else if (isinf(v))
        zn_metrics_puts(o, v > 0 ? "+Inf" : "-Inf");
    else {
        zn_metrics_fmt_f64(tmp, sizeof(tmp), v);
        zn_metrics_puts(o, tmp);
    }
}

void zn_metrics_u64(struct zn_metrics_out *o, uint64_t value, unsigned n_labels, ...)
{
    ZN_ASSERT(o->fam->type != ZN_METRIC_HISTOGRAM);
    const char *labels[2 * ZN_METRICS_LABELS_MAX];
    va_list ap;
    va_start(ap, n_labels);
    zn_metrics_gather_labels(n_labels, ap, labels);
    va_end(ap);
    zn_metrics_put_series(o, "", n_labels, labels, NULL, NULL);
    zn_metrics_printf(o, " %llu\n", (unsigned long long)value);
}

void zn_metrics_i64(struct zn_metrics_out *o, int64_t value, unsigned n_labels, ...)
{
    ZN_ASSERT(o->fam->type == ZN_METRIC_GAUGE);
    const char *labels[2 * ZN_METRICS_LABELS_MAX];
    va_list ap;
    va_start(ap, n_labels);
    zn_metrics_gather_labels(n_labels, ap, labels);
    va_end(ap);
    zn_metrics_put_series(o, "", n_labels, labels, NULL, NULL);
    zn_metrics_printf(o, " %lld\n", (long long)value);
}

void zn_metrics_f64(struct zn_metrics_out *o, double value, unsigned n_labels, ...)
{
    ZN_ASSERT(o->fam->type != ZN_METRIC_HISTOGRAM);
    ZN_ASSERT(o->fam->type != ZN_METRIC_COUNTER || !(value < 0));
    const char *labels[2 * ZN_METRICS_LABELS_MAX];
    va_list ap;
    va_start(ap, n_labels);
    zn_metrics_gather_labels(n_labels, ap, labels);
    va_end(ap);
    zn_metrics_put_series(o, "", n_labels, labels, NULL, NULL);
    zn_metrics_puts(o, " ");
    zn_metrics_put_f64(o, value);
    zn_metrics_puts(o, "\n");
}

void zn_metrics_histogram(struct zn_metrics_out *o, const struct zn_metrics_hist_data *h,
                          unsigned n_labels, ...)
{
    ZN_ASSERT(o->fam->type == ZN_METRIC_HISTOGRAM);
    ZN_ASSERT(h->n_bounds <= ZN_METRICS_BOUNDS_MAX);
    const char *labels[2 * ZN_METRICS_LABELS_MAX];
    va_list ap;
    va_start(ap, n_labels);
    zn_metrics_gather_labels(n_labels, ap, labels);
    va_end(ap);
    uint64_t cum = 0;
    char le[40];
    for (uint32_t i = 0; i < h->n_bounds; i++) {
        ZN_ASSERT(i == 0 || h->bounds[i] > h->bounds[i - 1]);
        cum += h->counts[i];
        zn_metrics_fmt_f64(le, sizeof(le), h->bounds[i]);
        zn_metrics_put_series(o, "_bucket", n_labels, labels, "le", le);
        zn_metrics_printf(o, " %llu\n", (unsigned long long)cum);
    }
    cum += h->count_inf;
    zn_metrics_put_series(o, "_bucket", n_labels, labels, "le", "+Inf");
    zn_metrics_printf(o, " %llu\n", (unsigned long long)cum);
    zn_metrics_put_series(o, "_sum", n_labels, labels, NULL, NULL);
    zn_metrics_puts(o, " ");
    zn_metrics_put_f64(o, h->sum);
    zn_metrics_puts(o, "\n");
    zn_metrics_put_series(o, "_count", n_labels, labels, NULL, NULL);
    zn_metrics_printf(o, " %llu\n", (unsigned long long)cum);
}

void zn_metrics_hist_from_zn_hist(const struct zn_hist *h, double scale, const double *bounds,
                                  uint32_t n_bounds, struct zn_metrics_hist_data *out)
{
    ZN_ASSERT(n_bounds <= ZN_METRICS_BOUNDS_MAX);
    memset(out, 0, sizeof(*out));
    out->n_bounds = n_bounds;
    memcpy(out->bounds, bounds, n_bounds * sizeof(double));
    out->sum = (double)h->sum * scale;
    for (size_t b = 0; b < ZN_HIST_BUCKETS; b++) {
        uint64_t c = h->buckets[b];
        if (!c)
            continue;
        double hi = (double)zn_hist_bucket_high(b) * scale;
        uint32_t i = 0;
        while (i < n_bounds && bounds[i] < hi)
            i++;
        if (i < n_bounds)
            out->counts[i] += c;
        else
            out->count_inf += c;
    }
}

int zn_metrics_render(struct zn_metrics_reg *r, char **text, size_t *len)
{
    struct zn_metrics_out o = {0};
    pthread_mutex_lock(&r->lock);
    for (uint32_t i = 0; i < r->n && !o.failed; i++) {
        const struct zn_metrics_family *f = &r->fam[i];
        o.fam = f;
        zn_metrics_printf(&o, "# HELP %s ", f->name);
        zn_metrics_put_help(&o, f->help);
        zn_metrics_printf(&o, "\n# TYPE %s %s\n", f->name,
                          f->type == ZN_METRIC_COUNTER ? "counter"
                          : f->type == ZN_METRIC_GAUGE ? "gauge"
                                                       : "histogram");
        f->collect(f->ctx, &o);
    }
    pthread_mutex_unlock(&r->lock);
    if (o.failed) {
        free(o.buf);
        return o.too_big ? ZN_ELIMIT : ZN_ENOMEM;
    }
    if (!o.buf && !zn_metrics_reserve(&o, 0))
        return ZN_ENOMEM;
    *text = o.buf;
    *len = o.len;
    return 0;
}
