/*
 * zp_report.c - table, JSON, histogram log and SVG writers (see zp_report.h).
 *
 * The SVG is written directly (no gnuplot): a fixed-size canvas, log-scaled latency axis with a
 * grid line per decade, and a "nines" percentile axis (x = log10(1 / (1 - p))) so that the tail
 * up to the run's resolution (log10 of the sample count) is visible next to the median.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "perf/zinc-perf/zp_report.h"

struct zn_hist *zp_hist_new(size_t n)
{
    struct zn_hist *h = malloc(n * sizeof(*h));
    for (size_t i = 0; h != NULL && i < n; i++) {
        zn_hist_reset(&h[i]);
    }
    return h;
}

struct zp_results *zp_results_new(void)
{
    struct zp_results *r = calloc(1, sizeof(struct zp_results));
    for (int op = 0; r != NULL && op < ZP_OP_COUNT; op++) {
        zn_hist_reset(&r->op[op].hist);
    }
    if (r != NULL) {
        zn_hist_reset(&r->delivery_lag);
        zn_hist_reset(&r->send_lag);
    }
    return r;
}

void zp_results_free(struct zp_results *r)
{
    if (r != NULL) {
        free(r->timeline);
    }
    free(r);
}

void zp_fmt_us(char *buf, size_t len, uint64_t ns)
{
    double us = (double)ns / 1000.0;
    if (us < 10.0) {
        snprintf(buf, len, "%.2f", us);
    } else {
        snprintf(buf, len, "%.1f", us);
    }
}

static double throughput(uint64_t n, uint64_t window_ns)
{
    return window_ns > 0 ? (double)n * 1e9 / (double)window_ns : 0.0;
}

static void table_row(FILE *f, const char *name, uint64_t ok, uint64_t errors, uint64_t window_ns,
                      const struct zn_hist *h)
{
    char tput[32];
    if (window_ns > 0) {
        snprintf(tput, sizeof(tput), "%.1f", throughput(ok, window_ns));
    } else {
        snprintf(tput, sizeof(tput), "-");
    }
    static const double pcts[] = {50.0, 90.0, 99.0, 99.9};
    char cells[5][32];
    for (int i = 0; i < 4; i++) {
        zp_fmt_us(cells[i], sizeof(cells[i]), zn_hist_percentile(h, pcts[i]));
    }
    zp_fmt_us(cells[4], sizeof(cells[4]), h->count ? h->max : 0);
    fprintf(f, "%-9s %10llu %7llu %11s %10s %10s %10s %10s %10s\n", name, (unsigned long long)ok,
            (unsigned long long)errors, tput, cells[0], cells[1], cells[2], cells[3], cells[4]);
}

void zp_report_table(FILE *f, const struct zp_results *r)
{
    fprintf(f, "%s: %s, window %.3f s", r->label, r->description, (double)r->window_ns / 1e9);
    if (r->lost > 0) {
        fprintf(f, ", %llu request(s) never answered", (unsigned long long)r->lost);
    }
    if (r->interrupted) {
        fprintf(f, ", INTERRUPTED before its bounds");
    }
    fprintf(f, "\n%-9s %10s %7s %11s %10s %10s %10s %10s %10s\n", "op", "count", "errors", "ops/s",
            "p50(us)", "p90(us)", "p99(us)", "p99.9(us)", "max(us)");
    struct zn_hist *all = zp_hist_new(1);
    uint64_t all_ok = 0;
    uint64_t all_err = 0;
    int ran = 0;
    for (int op = 0; op < ZP_OP_COUNT; op++) {
        const struct zp_op_result *o = &r->op[op];
        if (o->ok == 0 && o->errors == 0) {
            continue;
        }
        ran++;
        table_row(f, zp_op_name((enum zp_op)op), o->ok, o->errors, r->window_ns, &o->hist);
        if (o->errors > 0) {
            fprintf(f, "%-9s first error: %s\n", "", zn_strerror(o->first_error));
        }
        if (all != NULL) {
            zn_hist_merge(all, &o->hist);
        }
        all_ok += o->ok;
        all_err += o->errors;
    }
    if (ran > 1 && all != NULL) {
        table_row(f, "all", all_ok, all_err, r->window_ns, all);
    }
    if (ran == 0) {
        fprintf(f, "(no operation completed)\n");
    }
    if (r->delivery_lag.count > 0) {
        char p50[32];
        char p99[32];
        zp_fmt_us(p50, sizeof(p50), zn_hist_percentile(&r->delivery_lag, 50));
        zp_fmt_us(p99, sizeof(p99), zn_hist_percentile(&r->delivery_lag, 99));
        fprintf(f, "harness: reply hand-off to the engine p50 %s us, p99 %s us (not in latency)",
                p50, p99);
        if (r->send_lag.count > 0) {
            zp_fmt_us(p50, sizeof(p50), zn_hist_percentile(&r->send_lag, 50));
            zp_fmt_us(p99, sizeof(p99), zn_hist_percentile(&r->send_lag, 99));
            fprintf(f, "; sends behind schedule p50 %s us, p99 %s us (in latency)", p50, p99);
        }
        fputc('\n', f);
    }
    free(all);
}

static json_t *latency_json(const struct zn_hist *h)
{
    json_t *l = json_object();
    json_object_set_new(l, "min", json_integer((json_int_t)(h->count ? h->min : 0)));
    json_object_set_new(l, "p50", json_integer((json_int_t)zn_hist_percentile(h, 50.0)));
    json_object_set_new(l, "p90", json_integer((json_int_t)zn_hist_percentile(h, 90.0)));
    json_object_set_new(l, "p99", json_integer((json_int_t)zn_hist_percentile(h, 99.0)));
    json_object_set_new(l, "p99_9", json_integer((json_int_t)zn_hist_percentile(h, 99.9)));
    json_object_set_new(l, "max", json_integer((json_int_t)(h->count ? h->max : 0)));
    json_object_set_new(l, "mean", json_real(zn_hist_mean(h)));
    json_object_set_new(l, "sum",
                        json_integer((json_int_t)(h->sum > INT64_MAX ? INT64_MAX : h->sum)));
    return l;
}

static const char *loop_name(const struct zp_config *cfg)
{
    return cfg->loop == ZP_LOOP_OPEN ? "open" : "closed";
}

json_t *zp_report_json(const struct zp_results *r, const struct zp_config *cfg)
{
    json_t *root = json_object();
    json_object_set_new(root, "tool", json_string("zinc-perf"));
    json_object_set_new(root, "format", json_integer(1));
    json_object_set_new(root, "label", json_string(r->label));
    json_object_set_new(root, "target", json_string(r->target));
    json_object_set_new(root, "description", json_string(r->description));
    json_object_set_new(root, "window_s", json_real((double)r->window_ns / 1e9));
    json_object_set_new(root, "lost", json_integer((json_int_t)r->lost));
    json_object_set_new(root, "interrupted", json_boolean(r->interrupted));
    json_object_set_new(root, "warmup_ops", json_integer((json_int_t)r->warmup_done));
    if (cfg != NULL) {
        json_t *c = json_object();
        json_object_set_new(c, "servers", json_string(cfg->servers));
        json_object_set_new(c, "workload", json_string(zp_workload_name(cfg->workload)));
        json_object_set_new(c, "read_pct", json_integer(cfg->read_pct));
        json_object_set_new(c, "value_size", json_integer(cfg->value_size));
        json_object_set_new(c, "sessions", json_integer(cfg->sessions));
        json_object_set_new(c, "loop", json_string(loop_name(cfg)));
        json_object_set_new(c, "concurrency", json_integer(cfg->concurrency));
        json_object_set_new(c, "rate", json_real(cfg->rate));
        json_object_set_new(
            c, "arrival", json_string(cfg->arrival == ZP_ARRIVAL_POISSON ? "poisson" : "uniform"));
        json_object_set_new(c, "max_outstanding", json_integer(cfg->max_outstanding));
        json_object_set_new(c, "ops", json_integer((json_int_t)cfg->ops));
        json_object_set_new(c, "duration_s", json_real(cfg->duration_s));
        json_object_set_new(c, "warmup_ops", json_integer((json_int_t)cfg->warmup_ops));
        json_object_set_new(c, "warmup_s", json_real(cfg->warmup_s));
        json_object_set_new(c, "keys", json_integer(cfg->keys));
        json_object_set_new(c, "multi_ops", json_integer(cfg->multi_ops));
        json_object_set_new(c, "seed", json_integer((json_int_t)cfg->seed));
        json_object_set_new(root, "config", c);
    }
    json_t *ops = json_object();
    uint64_t total_ok = 0;
    uint64_t total_err = 0;
    for (int op = 0; op < ZP_OP_COUNT; op++) {
        const struct zp_op_result *o = &r->op[op];
        if (o->ok == 0 && o->errors == 0) {
            continue;
        }
        json_t *j = json_object();
        json_object_set_new(j, "count", json_integer((json_int_t)o->ok));
        json_object_set_new(j, "errors", json_integer((json_int_t)o->errors));
        if (o->errors > 0) {
            json_object_set_new(j, "first_error", json_string(zn_err_name(o->first_error)));
        }
        json_object_set_new(j, "throughput_ops_s", json_real(throughput(o->ok, r->window_ns)));
        json_object_set_new(j, "latency_ns", latency_json(&o->hist));
        json_object_set_new(ops, zp_op_name((enum zp_op)op), j);
        total_ok += o->ok;
        total_err += o->errors;
    }
    json_object_set_new(root, "ops", ops);
    json_t *tl = json_array();
    for (size_t i = 0; i < r->n_timeline; i++) {
        const struct zp_tick *t = &r->timeline[i];
        json_t *j = json_object();
        json_object_set_new(j, "t_s", json_real(t->t_s));
        json_object_set_new(j, "phase", json_string(t->measuring ? "measure" : "warmup"));
        json_object_set_new(j, "ok", json_integer((json_int_t)t->ok));
        json_object_set_new(j, "errors", json_integer((json_int_t)t->errors));
        json_object_set_new(j, "p50_ns", json_integer((json_int_t)t->p50_ns));
        json_object_set_new(j, "p99_ns", json_integer((json_int_t)t->p99_ns));
        json_object_set_new(j, "max_ns", json_integer((json_int_t)t->max_ns));
        json_array_append_new(tl, j);
    }
    json_object_set_new(root, "timeline", tl);
    json_t *diag = json_object();
    json_object_set_new(diag, "delivery_lag_ns", latency_json(&r->delivery_lag));
    json_object_set_new(diag, "send_lag_ns", latency_json(&r->send_lag));
    json_object_set_new(root, "harness", diag);
    json_object_set_new(root, "total_count", json_integer((json_int_t)total_ok));
    json_object_set_new(root, "total_errors", json_integer((json_int_t)total_err));
    json_object_set_new(root, "total_throughput_ops_s",
                        json_real(throughput(total_ok, r->window_ns)));
    return root;
}

int zp_json_write(const char *path, json_t *j)
{
    int rc;
    if (strcmp(path, "-") == 0) {
        rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
    } else {
        rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    }
    return rc == 0 ? 0 : ZN_EIO;
}

int zp_hlog_write_header(FILE *f)
{
    return fputs("# zinc-perf histogram log v1\n# label\top\twindow_ns\thex(zn_hist_serialize)\n",
                 f) < 0
               ? ZN_EIO
               : 0;
}

int zp_hlog_write(FILE *f, const char *label, const char *op, uint64_t window_ns,
                  const struct zn_hist *h)
{
    unsigned char *buf = malloc(ZN_HIST_SERIALIZED_MAX);
    if (buf == NULL) {
        return ZN_ENOMEM;
    }
    long n = zn_hist_serialize(h, buf, ZN_HIST_SERIALIZED_MAX);
    if (n < 0) {
        free(buf);
        return (int)n;
    }
    for (const char *p = label; *p; p++) {
        unsigned char c = (unsigned char)*p;
        fputc(c < 0x21 || c == 0x7f ? '_' : c, f);
    }
    fprintf(f, "\t%s\t%llu\t", op, (unsigned long long)window_ns);
    static const char hex[] = "0123456789abcdef";
    for (long i = 0; i < n; i++) {
        fputc(hex[buf[i] >> 4], f);
        fputc(hex[buf[i] & 15], f);
    }
    free(buf);
    return fputc('\n', f) == EOF ? ZN_EIO : 0;
}

int zp_hlog_write_results(const char *path, const struct zp_results *r)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL) {
        return ZN_EIO;
    }
    int rc = zp_hlog_write_header(f);
    for (int op = 0; op < ZP_OP_COUNT && rc == 0; op++) {
        if (r->op[op].ok > 0) {
            rc = zp_hlog_write(f, r->label, zp_op_name((enum zp_op)op), r->window_ns,
                               &r->op[op].hist);
        }
    }
    if (f != stdout && fclose(f) != 0 && rc == 0) {
        rc = ZN_EIO;
    }
    return rc;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int parse_hlog_line(char *line, char **label, char **op, uint64_t *window_ns,
                           unsigned char *buf, size_t cap, size_t *len)
{
    char *t1 = strchr(line, '\t');
    char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
    if (t3 == NULL || t1 == line || t2 == t1 + 1) {
        return ZN_EPROTO;
    }
    *t1 = *t2 = *t3 = '\0';
    *label = line;
    *op = t1 + 1;
    char *end;
    errno = 0;
    unsigned long long w = strtoull(t2 + 1, &end, 10);
    if (errno != 0 || end == t2 + 1 || *end != '\0') {
        return ZN_EPROTO;
    }
    *window_ns = w;
    const char *hex = t3 + 1;
    size_t hl = strcspn(hex, "\r\n");
    if (hl % 2 != 0 || hl / 2 > cap) {
        return ZN_EPROTO;
    }
    for (size_t i = 0; i < hl / 2; i++) {
        int hi = hexval((unsigned char)hex[2 * i]);
        int lo = hexval((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return ZN_EPROTO;
        }
        buf[i] = (unsigned char)(hi << 4 | lo);
    }
    *len = hl / 2;
    return 0;
}

int zp_hlog_read(const char *path, zp_hlog_fn fn, void *ctx, char *err, size_t err_len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return ZN_ENOENT;
    }
    unsigned char *buf = malloc(ZN_HIST_SERIALIZED_MAX);
    struct zn_hist *h = malloc(sizeof(*h));
    char *line = NULL;
    size_t line_cap = 0;
    int rc = (buf && h) ? 0 : ZN_ENOMEM;
    unsigned lineno = 0;
    unsigned entries = 0;
    while (rc == 0 && getline(&line, &line_cap, f) >= 0) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        char *label;
        char *op;
        uint64_t window_ns;
        size_t len;
        rc = parse_hlog_line(line, &label, &op, &window_ns, buf, ZN_HIST_SERIALIZED_MAX, &len);
        if (rc == 0) {
            rc = zn_hist_deserialize(h, buf, len);
        }
        if (rc != 0) {
            snprintf(err, err_len, "%s:%u: malformed histogram line (%s)", path, lineno,
                     zn_strerror(rc));
            rc = ZN_EPROTO;
            break;
        }
        entries++;
        rc = fn(ctx, label, op, window_ns, h);
    }
    if (rc == 0 && entries == 0) {
        snprintf(err, err_len, "%s: no histogram in the file", path);
        rc = ZN_EPROTO;
    }
    free(line);
    free(buf);
    free(h);
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

void zp_report_series_table(FILE *f, const char *title, const struct zp_series *series, size_t n)
{
    fprintf(f, "%s\n%-9s %10s %7s %11s %10s %10s %10s %10s %10s\n", title, "what", "count",
            "errors", "ops/s", "p50(us)", "p90(us)", "p99(us)", "p99.9(us)", "max(us)");
    for (size_t i = 0; i < n; i++) {
        table_row(f, series[i].label, series[i].hist->count, 0, 0, series[i].hist);
    }
}

json_t *zp_report_series_json(const struct zp_series *series, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_object();
        json_object_set_new(j, "count", json_integer((json_int_t)series[i].hist->count));
        json_object_set_new(j, "latency_ns", latency_json(series[i].hist));
        json_object_set_new(o, series[i].label, j);
    }
    return o;
}

int zp_hlog_write_series(const char *path, const char *label, const struct zp_series *series,
                         size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return ZN_EIO;
    }
    int rc = zp_hlog_write_header(f);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = zp_hlog_write(f, label, series[i].label, 0, series[i].hist);
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = ZN_EIO;
    }
    return rc;
}

/* ---- SVG ------------------------------------------------------------------------------- */

#define SVG_W      900.0
#define SVG_H      540.0
#define SVG_LEFT   80.0
#define SVG_RIGHT  30.0
#define SVG_TOP    50.0
#define SVG_BOTTOM 60.0
#define SVG_POINTS 240

static void svg_text_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            /* Control characters are not allowed in XML 1.0 text. */
            fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
        }
    }
}

static void fmt_latency_tick(char *buf, size_t len, double ns)
{
    if (ns < 1e3) {
        snprintf(buf, len, "%.0f ns", ns);
    } else if (ns < 1e6) {
        snprintf(buf, len, "%.0f us", ns / 1e3);
    } else if (ns < 1e9) {
        snprintf(buf, len, "%.0f ms", ns / 1e6);
    } else {
        snprintf(buf, len, "%.0f s", ns / 1e9);
    }
}

int zp_svg_write(FILE *f, const char *title, const struct zp_series *series, size_t n)
{
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                         "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;
    uint64_t count_max = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zn_hist *h = series[i].hist;
        if (h == NULL || h->count == 0) {
            continue;
        }
        lo = h->min < lo ? h->min : lo;
        hi = h->max > hi ? h->max : hi;
        count_max = h->count > count_max ? h->count : count_max;
    }
    if (count_max == 0) {
        lo = 1000;
        hi = 1000000;
        count_max = 100;
    }
    double dlo = floor(log10(lo < 1 ? 1.0 : (double)lo));
    double dhi = ceil(log10(hi < 1 ? 1.0 : (double)hi));
    if (dhi <= dlo) {
        dhi = dlo + 1;
    }
    /* Resolution of the data: with N samples the tail beyond log10(N) nines is one sample. */
    double nines = ceil(log10((double)count_max));
    nines = nines < 2 ? 2 : (nines > 6 ? 6 : nines);
    double pw = SVG_W - SVG_LEFT - SVG_RIGHT;
    double ph = SVG_H - SVG_TOP - SVG_BOTTOM;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", SVG_W,
            SVG_H);
    fprintf(f, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">", SVG_W / 2);
    svg_text_escaped(f, title ? title : "latency by percentile");
    fprintf(f, "</text>\n");
    /* y grid: one line per decade */
    fprintf(f, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
    for (double d = dlo; d <= dhi + 1e-9; d += 1) {
        double y = SVG_TOP + ph - (d - dlo) / (dhi - dlo) * ph;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", SVG_LEFT, y,
                SVG_LEFT + pw, y);
    }
    for (double x9 = 0; x9 <= nines + 1e-9; x9 += 1) {
        double x = SVG_LEFT + x9 / nines * pw;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x, SVG_TOP, x,
                SVG_TOP + ph);
    }
    fprintf(f, "</g>\n<g fill=\"#333333\">\n");
    for (double d = dlo; d <= dhi + 1e-9; d += 1) {
        char tick[32];
        fmt_latency_tick(tick, sizeof(tick), pow(10, d));
        double y = SVG_TOP + ph - (d - dlo) / (dhi - dlo) * ph;
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", SVG_LEFT - 6,
                y + 4, tick);
    }
    for (int x9 = 0; x9 <= (int)nines; x9++) {
        double x = SVG_LEFT + x9 / nines * pw;
        char tick[32];
        if (x9 == 0) {
            snprintf(tick, sizeof(tick), "0%%");
        } else {
            snprintf(tick, sizeof(tick), "%.*f%%", x9 > 2 ? x9 - 2 : 0, 100.0 - pow(10, 2 - x9));
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
                SVG_TOP + ph + 18, tick);
    }
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">percentile</text>\n"
            "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 18 %.1f)\">latency (log scale)</text>\n</g>\n",
            SVG_LEFT + pw / 2, SVG_H - 14, SVG_TOP + ph / 2, SVG_TOP + ph / 2);
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333333\"/>\n",
            SVG_LEFT, SVG_TOP, pw, ph);
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        const struct zn_hist *h = series[i].hist;
        if (h == NULL || h->count == 0) {
            continue;
        }
        const char *color = colors[shown % (sizeof(colors) / sizeof(colors[0]))];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
        for (int k = 0; k <= SVG_POINTS; k++) {
            double x9 = nines * k / SVG_POINTS;
            double p = 100.0 * (1.0 - pow(10, -x9));
            double v = (double)(k == SVG_POINTS ? h->max : zn_hist_percentile(h, p));
            double lv = log10(v < 1 ? 1.0 : v);
            double y = SVG_TOP + ph - (lv - dlo) / (dhi - dlo) * ph;
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", SVG_LEFT + x9 / nines * pw, y);
        }
        fprintf(f, "\"/>\n");
        double ly = SVG_TOP + 16 + 18 * shown;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"/>\n<text x=\"%.1f\" y=\"%.1f\">",
                SVG_LEFT + 12, ly, SVG_LEFT + 36, ly, color, SVG_LEFT + 42, ly + 4);
        svg_text_escaped(f, series[i].label ? series[i].label : "");
        char p50[32];
        char p99[32];
        zp_fmt_us(p50, sizeof(p50), zn_hist_percentile(h, 50.0));
        zp_fmt_us(p99, sizeof(p99), zn_hist_percentile(h, 99.0));
        fprintf(f, " (n=%llu, p50 %s us, p99 %s us)</text>\n", (unsigned long long)h->count, p50,
                p99);
        shown++;
    }
    if (shown == 0) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>\n",
                SVG_LEFT + pw / 2, SVG_TOP + ph / 2);
    }
    return fprintf(f, "</svg>\n") < 0 ? ZN_EIO : 0;
}

int zp_svg_write_file(const char *path, const char *title, const struct zp_series *series, size_t n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return ZN_EIO;
    }
    int rc = zp_svg_write(f, title, series, n);
    if (fclose(f) != 0 && rc == 0) {
        rc = ZN_EIO;
    }
    return rc;
}
