/*
 * zinc-perf writers: the JSON of a run (counts, ordered percentiles, config echo), the SVG plot
 * (one XML document, escaped labels, one polyline per non-empty series, no NaN/inf, points
 * inside the canvas and non-decreasing latency along each line) and the histogram log
 * (write -> read round-trips exactly; reading two logs and merging equals recording together;
 * junk is rejected with the line number).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "perf/zinc-perf/zp_report.h"

static struct zp_results *sample_results(void)
{
    struct zp_results *r = zp_results_new();
    cr_assert_not_null(r);
    snprintf(r->label, sizeof(r->label), "zk <test> & \"q\"");
    snprintf(r->target, sizeof(r->target), "zookeeper");
    snprintf(r->description, sizeof(r->description), "read90");
    struct zn_prng p;
    zn_prng_seed(&p, 7);
    for (int i = 0; i < 9000; i++) {
        zn_hist_record(&r->op[ZP_OP_GET].hist, 50000 + zn_prng_below(&p, 1000000));
    }
    for (int i = 0; i < 1000; i++) {
        zn_hist_record(&r->op[ZP_OP_SET].hist, 2000000 + zn_prng_below(&p, 9000000));
    }
    r->op[ZP_OP_GET].ok = 9000;
    r->op[ZP_OP_SET].ok = 1000;
    r->op[ZP_OP_SET].errors = 3;
    r->op[ZP_OP_SET].first_error = ZN_ECONNLOSS;
    r->window_ns = 2000000000ull;
    return r;
}

Test(zp_report, json_of_a_run)
{
    struct zp_results *r = sample_results();
    struct zp_config cfg;
    zp_config_defaults(&cfg);
    json_t *j = zp_report_json(r, &cfg);
    char *text = json_dumps(j, 0);
    json_decref(j);
    json_error_t e;
    json_t *back = json_loads(text, 0, &e);
    cr_assert_not_null(back, "%s", e.text);
    cr_assert_str_eq(json_string_value(json_object_get(back, "label")), "zk <test> & \"q\"");
    json_t *get = json_object_get(json_object_get(back, "ops"), "get");
    json_t *set = json_object_get(json_object_get(back, "ops"), "set");
    cr_assert_eq(json_integer_value(json_object_get(get, "count")), 9000);
    cr_assert_eq(json_integer_value(json_object_get(set, "errors")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(set, "first_error")), "ZN_ECONNLOSS");
    cr_assert_null(json_object_get(json_object_get(back, "ops"), "create"));
    cr_assert_float_eq(json_real_value(json_object_get(get, "throughput_ops_s")), 4500.0, 1e-6);
    cr_assert_eq(json_integer_value(json_object_get(back, "total_count")), 10000);
    const char *keys[] = {"min", "p50", "p90", "p99", "p99_9", "max"};
    json_int_t prev = 0;
    json_t *lat = json_object_get(set, "latency_ns");
    for (int i = 0; i < 6; i++) {
        json_int_t v = json_integer_value(json_object_get(lat, keys[i]));
        cr_assert_geq(v, prev, "%s", keys[i]);
        prev = v;
    }
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(lat, "min")),
                 r->op[ZP_OP_SET].hist.min);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(back, "config"), "workload")), "get");
    json_t *harness = json_object_get(back, "harness");
    cr_assert_not_null(json_object_get(json_object_get(harness, "delivery_lag_ns"), "p99"));
    cr_assert_not_null(json_object_get(json_object_get(harness, "send_lag_ns"), "p99"));
    json_decref(back);
    free(text);
    zp_results_free(r);
}

static char *svg_of(const struct zp_series *s, size_t n, const char *title)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(zp_svg_write(f, title, s, n), 0);
    fclose(f);
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    return n;
}

Test(zp_report, svg_structure)
{
    struct zp_results *r = sample_results();
    struct zn_hist *empty = zp_hist_new(1);
    struct zp_series s[3] = {{"get <90%> & co", &r->op[ZP_OP_GET].hist},
                             {"empty", empty},
                             {"set", &r->op[ZP_OP_SET].hist}};
    char *svg = svg_of(s, 3, "title with <angle> & amp");
    cr_assert(strncmp(svg, "<?xml", 5) == 0);
    cr_assert_eq(count_of(svg, "<svg "), 1);
    cr_assert_eq(count_of(svg, "</svg>"), 1);
    cr_assert(strstr(svg, "</svg>\n")[7] == '\0', "nothing after the root element");
    cr_assert_eq(count_of(svg, "<polyline"), 2, "one line per non-empty series");
    cr_assert(strstr(svg, "get &lt;90%&gt; &amp; co"));
    cr_assert(strstr(svg, "title with &lt;angle&gt; &amp; amp"));
    cr_assert_null(strstr(svg, "<angle>"));
    cr_assert_null(strstr(svg, "nan"));
    cr_assert_null(strstr(svg, "inf"));
    /* every point inside the canvas; latency never decreases along the percentile axis */
    for (const char *p = strstr(svg, "points=\""); p; p = strstr(p + 1, "points=\"")) {
        p += 8;
        double prev_y = 1e9;
        while (*p != '"') {
            double x;
            double y;
            int used;
            cr_assert_eq(sscanf(p, "%lf,%lf%n", &x, &y, &used), 2);
            cr_assert(x >= 0 && x <= 900 && y >= 0 && y <= 540, "point %f,%f", x, y);
            cr_assert_leq(y, prev_y + 1e-9, "y grows downwards: latency must not drop");
            prev_y = y;
            p += used;
            while (*p == ' ') {
                p++;
            }
        }
    }
    free(svg);
    char *none = svg_of(s + 1, 1, NULL);
    cr_assert(strstr(none, "no data"));
    cr_assert_eq(count_of(none, "<polyline"), 0);
    free(none);
    free(empty);
    zp_results_free(r);
}

struct acc {
    struct zn_hist *h;
    int lines;
    char label[64];
};

static int acc_fn(void *ctx, const char *label, const char *op, uint64_t window_ns,
                  const struct zn_hist *h)
{
    struct acc *a = ctx;
    (void)op;
    (void)window_ns;
    zn_hist_merge(a->h, h);
    snprintf(a->label, sizeof(a->label), "%s", label);
    a->lines++;
    return 0;
}

Test(zp_report, hlog_round_trip_and_merge)
{
    char dir[] = "/tmp/zp-hlog-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char p1[64];
    char p2[64];
    snprintf(p1, sizeof(p1), "%s/a.hlog", dir);
    snprintf(p2, sizeof(p2), "%s/b.hlog", dir);
    struct zp_results *a = sample_results();
    struct zp_results *b = sample_results();
    zn_hist_record(&b->op[ZP_OP_GET].hist, 123456789);
    b->op[ZP_OP_GET].ok++;
    snprintf(a->label, sizeof(a->label), "tab\there");
    cr_assert_eq(zp_hlog_write_results(p1, a), 0);
    cr_assert_eq(zp_hlog_write_results(p2, b), 0);
    struct acc acc = {.h = zp_hist_new(1)};
    char err[256];
    cr_assert_eq(zp_hlog_read(p1, acc_fn, &acc, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(acc.lines, 2, "get and set");
    cr_assert_str_eq(acc.label, "tab_here", "labels are sanitized");
    cr_assert_eq(zp_hlog_read(p2, acc_fn, &acc, err, sizeof(err)), 0, "%s", err);
    struct zn_hist *want = zp_hist_new(1);
    zn_hist_merge(want, &a->op[ZP_OP_GET].hist);
    zn_hist_merge(want, &a->op[ZP_OP_SET].hist);
    zn_hist_merge(want, &b->op[ZP_OP_GET].hist);
    zn_hist_merge(want, &b->op[ZP_OP_SET].hist);
    cr_assert_eq(acc.h->count, want->count);
    cr_assert_eq(acc.h->sum, want->sum);
    cr_assert_eq(acc.h->min, want->min);
    cr_assert_eq(acc.h->max, want->max);
    cr_assert_eq(memcmp(acc.h->buckets, want->buckets, sizeof(want->buckets)), 0);
    /* junk is rejected and named */
    FILE *f = fopen(p2, "w");
    fputs("# zinc-perf histogram log v1\nlabel\tget\t10\t5a4e4831zz\n", f);
    fclose(f);
    cr_assert_eq(zp_hlog_read(p2, acc_fn, &acc, err, sizeof(err)), ZN_EPROTO);
    cr_assert(strstr(err, ":2:"), "%s", err);
    f = fopen(p2, "w");
    fputs("# only a comment\n", f);
    fclose(f);
    cr_assert_eq(zp_hlog_read(p2, acc_fn, &acc, err, sizeof(err)), ZN_EPROTO);
    cr_assert_eq(zp_hlog_read("/nonexistent/x.hlog", acc_fn, &acc, err, sizeof(err)), ZN_ENOENT);
    remove(p1);
    remove(p2);
    rmdir(dir);
    free(acc.h);
    free(want);
    zp_results_free(a);
    zp_results_free(b);
}

Test(zp_report, table_mentions_every_op_and_errors)
{
    struct zp_results *r = sample_results();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    zp_report_table(f, r);
    fclose(f);
    cr_assert(strstr(buf, "\nget "));
    cr_assert(strstr(buf, "\nset "));
    cr_assert(strstr(buf, "\nall "));
    cr_assert(strstr(buf, "p99.9(us)"));
    cr_assert(strstr(buf, zn_strerror(ZN_ECONNLOSS)));
    free(buf);
    zp_results_free(r);
}
