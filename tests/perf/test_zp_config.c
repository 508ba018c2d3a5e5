/*
 * zinc-perf argument parser: defaults, every value form (suffixes, --flag=value, short flags),
 * the load bounds, and error messages that name the flag and the refused value.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "perf/zinc-perf/zp_config.h"

static int parse(struct zp_config *cfg, char *err, size_t len, int argc, char **argv)
{
    zp_config_defaults(cfg);
    return zp_config_parse(cfg, argc, argv, err, len);
}

#define PARSE(cfg, err, ...)                                                   \
    ({                                                                         \
        char *argv_[] = {"zinc-perf", __VA_ARGS__};                            \
        parse(cfg, err, sizeof(err), sizeof(argv_) / sizeof(argv_[0]), argv_); \
    })

Test(zp_config, defaults_are_bounded)
{
    struct zp_config c;
    char err[256];
    cr_assert_eq(PARSE(&c, err, "run"), 0);
    cr_assert_eq(c.command, ZP_CMD_RUN);
    cr_assert_gt(c.ops, 0);
    cr_assert_gt(c.duration_s, 0);
    cr_assert_eq(c.loop, ZP_LOOP_CLOSED);
    cr_assert_str_eq(c.target, "zookeeper");
}

Test(zp_config, values_and_suffixes)
{
    struct zp_config c;
    char err[256];
    cr_assert_eq(PARSE(&c, err, "-w", "set", "--value-size=1MiB", "-c", "32", "--sessions", "8",
                       "-n", "200k", "-d", "500ms", "--warmup", "2s", "--warmup-ops", "0", "--json",
                       "o.json", "-q"),
                 0, "%s", err);
    cr_assert_eq(c.workload, ZP_WL_SET);
    cr_assert_eq(c.value_size, 1024u * 1024u);
    cr_assert_eq(c.concurrency, 32);
    cr_assert_eq(c.sessions, 8);
    cr_assert_eq(c.ops, 200000);
    cr_assert_float_eq(c.duration_s, 0.5, 1e-12);
    cr_assert_float_eq(c.warmup_s, 2.0, 1e-12);
    cr_assert_eq(c.warmup_ops, 0);
    cr_assert_str_eq(c.json_path, "o.json");
    cr_assert(c.quiet);
}

Test(zp_config, read_mixes_and_open_loop)
{
    struct zp_config c;
    char err[256];
    cr_assert_eq(PARSE(&c, err, "-w", "read99", "-r", "5000", "--arrival", "poisson"), 0, "%s",
                 err);
    cr_assert_eq(c.workload, ZP_WL_MIX);
    cr_assert_eq(c.read_pct, 99);
    cr_assert_eq(c.loop, ZP_LOOP_OPEN);
    cr_assert_float_eq(c.rate, 5000.0, 1e-9);
    cr_assert_eq(c.arrival, ZP_ARRIVAL_POISSON);
    cr_assert_eq(PARSE(&c, err, "-w", "read0"), 0);
    cr_assert_eq(c.read_pct, 0);
    cr_assert_eq(PARSE(&c, err, "-w", "mix", "--read-pct", "50"), 0);
    cr_assert_eq(c.read_pct, 50);
}

Test(zp_config, errors_name_flag_and_value)
{
    struct zp_config c;
    char err[256];
    cr_assert_eq(PARSE(&c, err, "-c", "0"), ZN_EINVAL);
    cr_assert(strstr(err, "--concurrency") && strstr(err, "0"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "--value-size", "5MiB"), ZN_EINVAL);
    cr_assert(strstr(err, "--value-size") && strstr(err, "5MiB"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "-d", "10x"), ZN_EINVAL);
    cr_assert(strstr(err, "--duration") && strstr(err, "10x"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "-w", "writes"), ZN_EINVAL);
    cr_assert(strstr(err, "--workload") && strstr(err, "writes"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "-w", "read101"), ZN_EINVAL);
    cr_assert_eq(PARSE(&c, err, "--rate", "-5"), ZN_EINVAL);
    cr_assert(strstr(err, "--rate"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "--frobnicate"), ZN_EINVAL);
    cr_assert(strstr(err, "--frobnicate"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "-n"), ZN_EINVAL);
    cr_assert(strstr(err, "--ops needs a value"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "--quiet=yes"), ZN_EINVAL);
    cr_assert_eq(PARSE(&c, err, "bogus"), ZN_EINVAL);
    cr_assert(strstr(err, "bogus"), "%s", err);
}

Test(zp_config, bounds_are_required)
{
    struct zp_config c;
    char err[256];
    cr_assert_eq(PARSE(&c, err, "-d", "0"), ZN_EINVAL);
    cr_assert(strstr(err, "--duration"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "-n", "0"), ZN_EINVAL);
    cr_assert(strstr(err, "--ops"), "%s", err);
    /* open loop has no concurrency; the in-flight cap is --max-outstanding */
    cr_assert_eq(PARSE(&c, err, "-r", "100", "-c", "4"), ZN_EINVAL);
    cr_assert(strstr(err, "--max-outstanding"), "%s", err);
}

Test(zp_config, merge_plot_and_help)
{
    struct zp_config c;
    char err[256];
    cr_assert_eq(PARSE(&c, err, "merge", "a.hlog", "b.hlog", "-o", "m.hlog"), 0, "%s", err);
    cr_assert_eq(c.command, ZP_CMD_MERGE);
    cr_assert_eq(c.n_inputs, 2);
    cr_assert_str_eq(c.inputs[1], "b.hlog");
    cr_assert_eq(PARSE(&c, err, "merge"), ZN_EINVAL);
    cr_assert_eq(PARSE(&c, err, "plot", "a.hlog"), ZN_EINVAL);
    cr_assert(strstr(err, "--out"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "run", "stray"), ZN_EINVAL);
    cr_assert_eq(PARSE(&c, err, "failover"), ZN_EINVAL);
    cr_assert(strstr(err, "--kill-cmd"), "%s", err);
    cr_assert_eq(PARSE(&c, err, "failover", "--kill-cmd", "true", "--before", "1s"), 0, "%s", err);
    cr_assert_eq(c.command, ZP_CMD_FAILOVER);
    cr_assert_float_eq(c.before_s, 1.0, 1e-12);
    cr_assert_eq(PARSE(&c, err, "--help"), 0);
    cr_assert_eq(c.command, ZP_CMD_HELP);
    cr_assert(strstr(zp_config_usage(), "--rate"));
}

Test(zp_config, unit_parsers)
{
    uint64_t u;
    double d;
    cr_assert_eq(zp_parse_size("4k", &u), 0);
    cr_assert_eq(u, 4096);
    cr_assert_eq(zp_parse_size("16", &u), 0);
    cr_assert_eq(u, 16);
    cr_assert_eq(zp_parse_size("1.5k", &u), 0);
    cr_assert_eq(u, 1536);
    cr_assert_eq(zp_parse_size("0.3", &u), ZN_EINVAL);
    cr_assert_eq(zp_parse_size("", &u), ZN_EINVAL);
    cr_assert_eq(zp_parse_size("1q", &u), ZN_EINVAL);
    cr_assert_eq(zp_parse_seconds("250us", &d), 0);
    cr_assert_float_eq(d, 250e-6, 1e-15);
    cr_assert_eq(zp_parse_seconds("2m", &d), 0);
    cr_assert_float_eq(d, 120.0, 1e-12);
    cr_assert_eq(zp_parse_seconds("nan", &d), ZN_EINVAL);
    cr_assert_eq(zp_parse_count("2.5M", &u), 0);
    cr_assert_eq(u, 2500000);
    cr_assert_eq(zp_parse_count("1.5", &u), ZN_EINVAL);
}
