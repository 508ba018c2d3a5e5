/*
 * tests/metrics/test_metrics.c - the Prometheus registry (node/metrics.h): naming rules,
 * rendering of every sample kind, label escaping, histograms (cumulative buckets, +Inf ==
 * count, conversion from zn_hist), the render size limit, and the node's families rendering a
 * snapshot with known values.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "node/metrics.h"
#include "node/metrics_node.h"

static void collect_none(void *ctx, struct zn_metrics_out *o)
{
    (void)ctx;
    (void)o;
}

static char *render(struct zn_metrics_reg *r)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(zn_metrics_render(r, &text, &len), 0);
    cr_assert_eq(strlen(text), len);
    return text;
}

Test(metrics, names_checked_at_registration)
{
    struct zn_metrics_reg *r;
    cr_assert_eq(zn_metrics_reg_create(&r), 0);
    cr_expect_eq(zn_metrics_register(r, "zinc_x_total", ZN_METRIC_COUNTER, "h", collect_none, 0),
                 0);
    cr_expect_eq(zn_metrics_register(r, "zinc_x_total", ZN_METRIC_COUNTER, "h", collect_none, 0),
                 ZN_EINVAL, "duplicate");
    cr_expect_eq(zn_metrics_register(r, "zinc_y", ZN_METRIC_COUNTER, "h", collect_none, 0),
                 ZN_EINVAL, "counter without _total");
    cr_expect_eq(zn_metrics_register(r, "zinc_y_total", ZN_METRIC_GAUGE, "h", collect_none, 0),
                 ZN_EINVAL, "gauge with _total");
    cr_expect_eq(zn_metrics_register(r, "other_y", ZN_METRIC_GAUGE, "h", collect_none, 0),
                 ZN_EINVAL, "no zinc_ prefix");
    cr_expect_eq(zn_metrics_register(r, "zinc_a-b", ZN_METRIC_GAUGE, "h", collect_none, 0),
                 ZN_EINVAL, "bad character");
    cr_expect_eq(zn_metrics_register(r, "zinc_h_bucket", ZN_METRIC_HISTOGRAM, "h", collect_none, 0),
                 ZN_EINVAL, "histogram suffix");
    cr_expect_eq(zn_metrics_register(r, "zinc_g", ZN_METRIC_GAUGE, "h", NULL, 0), ZN_EINVAL);
    cr_expect(zn_metrics_label_name_ok("op"));
    cr_expect(!zn_metrics_label_name_ok("__x"));
    cr_expect(!zn_metrics_label_name_ok("1x"));
    cr_expect(!zn_metrics_name_ok("9abc"));
    cr_expect(zn_metrics_name_ok("a:b_c9"));
    zn_metrics_reg_destroy(r);
}

static void collect_samples(void *ctx, struct zn_metrics_out *o)
{
    (void)ctx;
    zn_metrics_u64(o, UINT64_MAX, 0);
    zn_metrics_u64(o, 3, 2, "op", "create", "path", "a\"b\\c\nd");
}

static void collect_gauge(void *ctx, struct zn_metrics_out *o)
{
    (void)ctx;
    zn_metrics_i64(o, -5, 1, "k", "neg");
    zn_metrics_f64(o, 0.1, 1, "k", "tenth");
    zn_metrics_f64(o, 1.0 / 0.0, 1, "k", "inf");
}

Test(metrics, render_counters_gauges_and_escaping)
{
    struct zn_metrics_reg *r;
    cr_assert_eq(zn_metrics_reg_create(&r), 0);
    cr_assert_eq(zn_metrics_register(r, "zinc_ops_total", ZN_METRIC_COUNTER,
                                     "Ops with a \\ and\na newline.", collect_samples, NULL),
                 0);
    cr_assert_eq(
        zn_metrics_register(r, "zinc_level", ZN_METRIC_GAUGE, "A gauge.", collect_gauge, NULL), 0);
    cr_assert_eq(
        zn_metrics_register(r, "zinc_empty", ZN_METRIC_GAUGE, "Nothing.", collect_none, NULL), 0);
    char *t = render(r);
    const char *want = "# HELP zinc_ops_total Ops with a \\\\ and\\na newline.\n"
                       "# TYPE zinc_ops_total counter\n"
                       "zinc_ops_total 18446744073709551615\n"
                       "zinc_ops_total{op=\"create\",path=\"a\\\"b\\\\c\\nd\"} 3\n"
                       "# HELP zinc_level A gauge.\n"
                       "# TYPE zinc_level gauge\n"
                       "zinc_level{k=\"neg\"} -5\n"
                       "zinc_level{k=\"tenth\"} 0.1\n"
                       "zinc_level{k=\"inf\"} +Inf\n"
                       "# HELP zinc_empty Nothing.\n"
                       "# TYPE zinc_empty gauge\n";
    cr_expect_str_eq(t, want);
    free(t);
    zn_metrics_reg_destroy(r);
}

static void collect_hist(void *ctx, struct zn_metrics_out *o)
{
    (void)ctx;
    struct zn_metrics_hist_data h = {.n_bounds = 3,
                                     .bounds = {0.001, 0.01, 0.1},
                                     .counts = {1, 2, 3},
                                     .count_inf = 4,
                                     .sum = 2.5};
    zn_metrics_histogram(o, &h, 1, "op", "get");
}

Test(metrics, histogram_is_cumulative)
{
    struct zn_metrics_reg *r;
    cr_assert_eq(zn_metrics_reg_create(&r), 0);
    cr_assert_eq(zn_metrics_register(r, "zinc_lat_seconds", ZN_METRIC_HISTOGRAM, "Latency.",
                                     collect_hist, NULL),
                 0);
    char *t = render(r);
    const char *want = "# HELP zinc_lat_seconds Latency.\n"
                       "# TYPE zinc_lat_seconds histogram\n"
                       "zinc_lat_seconds_bucket{op=\"get\",le=\"0.001\"} 1\n"
                       "zinc_lat_seconds_bucket{op=\"get\",le=\"0.01\"} 3\n"
                       "zinc_lat_seconds_bucket{op=\"get\",le=\"0.1\"} 6\n"
                       "zinc_lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 10\n"
                       "zinc_lat_seconds_sum{op=\"get\"} 2.5\n"
                       "zinc_lat_seconds_count{op=\"get\"} 10\n";
    cr_expect_str_eq(t, want);
    free(t);
    zn_metrics_reg_destroy(r);
}

Test(metrics, histogram_from_zn_hist)
{
    static struct zn_hist h;
    zn_hist_reset(&h);
    for (int i = 0; i < 100; i++)
        zn_hist_record(&h, 20000); /* 20 us */
    for (int i = 0; i < 10; i++)
        zn_hist_record(&h, 3000000);   /* 3 ms */
    zn_hist_record(&h, 5000000000ull); /* 5 s: above every bound */
    struct zn_metrics_hist_data d;
    zn_metrics_hist_from_zn_hist(&h, 1e-9, zn_metrics_latency_bounds, ZN_METRICS_LATENCY_BOUNDS,
                                 &d);
    uint64_t total = d.count_inf;
    for (uint32_t i = 0; i < d.n_bounds; i++)
        total += d.counts[i];
    cr_expect_eq(total, 111);
    cr_expect_eq(d.count_inf, 1);
    cr_expect_eq(d.counts[1], 100, "20 us goes to le=25e-6, got %llu",
                 (unsigned long long)d.counts[1]);
    cr_expect_eq(d.counts[8], 10, "3 ms goes to le=5e-3");
    cr_expect(d.sum > 5.0 && d.sum < 5.04, "sum %f", d.sum);
}

static void collect_big(void *ctx, struct zn_metrics_out *o)
{
    (void)ctx;
    char v[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(v, sizeof(v), "%d", i);
        zn_metrics_u64(o, (uint64_t)i, 1, "i", v);
    }
}

Test(metrics, render_limit_refuses_rather_than_truncates)
{
    struct zn_metrics_reg *r;
    cr_assert_eq(zn_metrics_reg_create(&r), 0);
    cr_assert_eq(zn_metrics_register(r, "zinc_big", ZN_METRIC_GAUGE, "Big.", collect_big, NULL), 0);
    char *text = NULL;
    size_t len = 0;
    cr_expect_eq(zn_metrics_render(r, &text, &len), ZN_ELIMIT);
    cr_expect_null(text);
    zn_metrics_reg_destroy(r);
}

Test(metrics, node_families_render_a_snapshot)
{
    struct zn_metrics_reg *r;
    cr_assert_eq(zn_metrics_reg_create(&r), 0);
    static struct zn_node_metrics view;
    static struct zn_node_metrics_set set;
    cr_assert_eq(zn_node_metrics_register(r, &set, &view), 0);
    /* before the first copy: HELP/TYPE only, no sample */
    char *t = render(r);
    cr_expect_null(strstr(t, "\nzinc_raft_term "));
    cr_expect_not_null(strstr(t, "# TYPE zinc_raft_term gauge\n"));
    free(t);
    memset(&view, 0, sizeof(view));
    view.valid = true;
    view.id = 3;
    view.cluster_id = 1;
    view.raft.role = ZN_RAFT_LEADER;
    view.raft.term = 12;
    view.raft.last_index = 100;
    view.raft.commit = 99;
    view.n_peers = 2;
    view.peer_id[0] = 1;
    view.peer_match[0] = 90;
    view.peer_id[1] = 2;
    view.peer_match[1] = 100;
    view.mc.raft_sent[ZN_RAFT_MSG_HEARTBEAT] = 77;
    view.mc.elections[ZN_ELECTION_LEADER_LOST] = 2;
    view.wal_fsync_buckets[0] = 4;
    view.wal_fsync_buckets[ZN_METRICS_FSYNC_BOUNDS] = 1;
    view.wal_fsyncs = 5;
    t = render(r);
    cr_expect_not_null(strstr(t, "zinc_raft_term 12\n"));
    cr_expect_not_null(strstr(t, "zinc_raft_commit_index 99\n"));
    cr_expect_not_null(strstr(t, "zinc_raft_role{role=\"leader\"} 1\n"));
    cr_expect_not_null(strstr(t, "zinc_raft_role{role=\"follower\"} 0\n"));
    cr_expect_not_null(strstr(t, "zinc_raft_follower_lag_entries{peer=\"1\"} 10\n"));
    cr_expect_not_null(strstr(t, "zinc_raft_follower_lag_entries{peer=\"2\"} 0\n"));
    cr_expect_not_null(
        strstr(t, "zinc_raft_messages_total{direction=\"tx\",type=\"heartbeat\"} 77\n"));
    cr_expect_not_null(strstr(t, "zinc_elections_total{reason=\"leader_lost\"} 2\n"));
    cr_expect_not_null(strstr(t, "zinc_wal_fsync_duration_seconds_bucket{le=\"5e-05\"} 4\n"));
    cr_expect_not_null(strstr(t, "zinc_wal_fsync_duration_seconds_count 5\n"));
    cr_expect_not_null(
        strstr(t, "zinc_node_info{node=\"3\",cluster=\"1\",transport=\"kernel\"} 1"));
    cr_expect_null(strstr(t, "zinc_stack_drops_total{"), "no DPDK stack: no stack samples");
    free(t);
    /* a follower shows no lag */
    view.raft.role = ZN_RAFT_FOLLOWER;
    t = render(r);
    cr_expect_null(strstr(t, "zinc_raft_follower_lag_entries{"));
    free(t);
    zn_metrics_reg_destroy(r);
}

Test(metrics, election_episodes_and_durations)
{
    static struct zn_node_mc mc;
    memset(&mc, 0, sizeof(mc));
    uint64_t ms = 1000000;
    /* follower, no leader heard -> precandidate -> candidate -> leader: one election, 30 ms */
    zn_node_mc_on_role(&mc, ZN_RAFT_FOLLOWER, ZN_RAFT_PRECANDIDATE, 0, 0, 100 * ms);
    zn_node_mc_on_role(&mc, ZN_RAFT_PRECANDIDATE, ZN_RAFT_CANDIDATE, 0, 0, 110 * ms);
    zn_node_mc_on_role(&mc, ZN_RAFT_CANDIDATE, ZN_RAFT_LEADER, 0, 7, 130 * ms);
    cr_expect_eq(mc.elections[ZN_ELECTION_NO_LEADER], 1);
    cr_expect_eq(mc.elections[ZN_ELECTION_LEADER_LOST], 0);
    cr_expect_eq(mc.became_leader, 1);
    cr_expect_eq(mc.election_ns_sum, 30 * ms);
    cr_expect_eq(mc.election_buckets[5], 1, "30 ms goes to le=0.05");
    cr_expect_eq(mc.election_started_ns, 0);
    /* a leader steps down and another node wins: leader_lost, timed until the new leader */
    zn_node_mc_on_role(&mc, ZN_RAFT_LEADER, ZN_RAFT_FOLLOWER, 7, 0, 200 * ms);
    zn_node_mc_on_role(&mc, ZN_RAFT_FOLLOWER, ZN_RAFT_PRECANDIDATE, 7, 0, 300 * ms);
    zn_node_mc_on_role(&mc, ZN_RAFT_PRECANDIDATE, ZN_RAFT_FOLLOWER, 0, 0, 310 * ms);
    zn_node_mc_on_role(&mc, ZN_RAFT_FOLLOWER, ZN_RAFT_FOLLOWER, 0, 2, 2300 * ms);
    cr_expect_eq(mc.elections[ZN_ELECTION_LEADER_LOST], 1);
    cr_expect_eq(mc.became_leader, 1);
    cr_expect_eq(mc.election_buckets[10], 1, "2 s goes to le=2.5");
    /* a follower that never campaigns times nothing */
    zn_node_mc_on_role(&mc, ZN_RAFT_FOLLOWER, ZN_RAFT_FOLLOWER, 2, 3, 2400 * ms);
    cr_expect_eq(mc.election_ns_sum, 30 * ms + 2000 * ms);
}
