/*
 * zp_config.c - zinc-perf's argument parser (see zp_config.h).
 *
 * Every error names the flag and the value it refused, and the accepted range, so that a
 * mistyped benchmark fails before it connects to anything.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/zn_err.h"
#include "perf/zinc-perf/zp_config.h"

static const char usage_text[] =
    "usage: zinc-perf [run] [options]          load a target and report latencies\n"
    "       zinc-perf fanout   [options]       watch fan-out: 1 writer, N watchers\n"
    "       zinc-perf children [options]       getChildren of a node with many children\n"
    "       zinc-perf expiry   [options]       session-expiry detection time\n"
    "       zinc-perf failover --kill-cmd CMD  leader killed: time to the first acknowledged\n"
    "                                          write, and the error window\n"
    "       zinc-perf merge [-o OUT.hlog] [--json F] [--svg F] LOG...  sum histogram logs\n"
    "       zinc-perf plot -o OUT.svg LOG...   one latency-percentile plot of several logs\n"
    "       zinc-perf targets                  list the compiled-in targets\n"
    "\n"
    "Target:\n"
    "  -t, --target NAME       target (default zookeeper; see 'zinc-perf targets'); 'null'\n"
    "                          is an in-process modelled server (the engine's ceiling)\n"
    "  -s, --servers LIST      connect string (default 127.0.0.1:2181)\n"
    "      --session-ms MS     requested session timeout (default 10000)\n"
    "      --root PATH         znode under which the run creates its nodes (default /zinc-perf)\n"
    "Workload:\n"
    "  -w, --workload W        create | set | get | exists | delete | multi | mix | readNN\n"
    "                          (readNN = mix with NN% getData, e.g. read0 read50 read90 read99)\n"
    "      --read-pct P        mix: percentage of getData, the rest setData (default 90)\n"
    "  -v, --value-size SIZE   bytes per value, 0..4MiB (default 16; suffixes k KiB m MiB)\n"
    "      --keys N            keyspace of set/get/exists/mix/multi (default 1000)\n"
    "      --multi-ops N       setData operations per multi (default 4, max 256)\n"
    "      --sessions N        client sessions (default 1, max 1024)\n"
    "Load (closed loop unless --rate is given):\n"
    "  -c, --concurrency N     closed loop: requests in flight over all sessions (default 1)\n"
    "  -r, --rate OPS          open loop: fixed rate in ops/s; latency counts from the intended\n"
    "                          send time, so a stalled server is not hidden (no coordinated\n"
    "                          omission)\n"
    "      --arrival A         open loop: uniform (default) or poisson\n"
    "      --max-outstanding N open loop: in-flight cap (default 10000); later sends wait and\n"
    "                          their wait counts as latency\n"
    "Bounds (the measured phase ends at whichever comes first; both are required):\n"
    "  -n, --ops N             measured operations (default 100000; suffixes k M)\n"
    "  -d, --duration T        measured time (default 10s; suffixes ms s m)\n"
    "      --warmup-ops N      warm-up operations, not recorded (default 1000)\n"
    "      --warmup T          warm-up time (default 1s); warm-up ends at the first bound\n"
    "                          reached; 0 for either disables it\n"
    "      --drain T           wait at most T for outstanding replies at the end (default 10s)\n"
    "Scenarios:\n"
    "      --watchers N        fanout: watcher sessions (default 16)\n"
    "      --rounds N          repetitions (default: fanout 20, children 20, expiry 3)\n"
    "      (scenarios stop at --rounds or --duration; expiry uses --session-ms)\n"
    "      --children N        children: number of children (default 100000)\n"
    "      --kill-cmd CMD      failover: /bin/sh command that kills the leader (e.g.\n"
    "                          'perf/zk-ensemble kill-leader --dir D'); bounded to 30 s\n"
    "      --before T          failover: writes before the kill (default 2s)\n"
    "      --after T           failover: writes after the first acknowledged one (default 2s)\n"
    "Output:\n"
    "      --label TEXT        run name in JSON, logs and plots (default TARGET-WORKLOAD)\n"
    "      --json FILE         write results as JSON\n"
    "      --hist-log FILE     write mergeable histograms (see 'merge')\n"
    "      --svg FILE          write a latency-percentile plot\n"
    "  -o, --out FILE          merge/plot: output file\n"
    "  -q, --quiet             no progress line (it goes to stderr once per second)\n"
    "      --keep              do not delete the znodes the run created\n"
    "      --seed N            PRNG seed for keys and arrivals (default 1)\n"
    "  -h, --help              this text\n"
    "\n"
    "Examples:\n"
    "  zinc-perf -s 127.0.0.1:21811 -w set -c 32 --sessions 8 -n 200k -d 20s --json set.json\n"
    "  zinc-perf -s 127.0.0.1:21811 -w read90 -r 5000 -d 30s --hist-log r90.hlog\n"
    "  zinc-perf merge -o all.hlog --svg all.svg a.hlog b.hlog\n";

const char *zp_config_usage(void)
{
    return usage_text;
}

static const char *const workload_names[] = {
    [ZP_WL_CREATE] = "create", [ZP_WL_SET] = "set",       [ZP_WL_GET] = "get",
    [ZP_WL_EXISTS] = "exists", [ZP_WL_DELETE] = "delete", [ZP_WL_MULTI] = "multi",
    [ZP_WL_MIX] = "mix",
};

const char *zp_workload_name(enum zp_workload wl)
{
    if ((unsigned)wl < sizeof(workload_names) / sizeof(workload_names[0])) {
        return workload_names[wl];
    }
    return "?";
}

void zp_config_defaults(struct zp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->command = ZP_CMD_RUN;
    cfg->target = "zookeeper";
    cfg->servers = "127.0.0.1:2181";
    cfg->root = "/zinc-perf";
    cfg->workload = ZP_WL_GET;
    cfg->read_pct = 90;
    cfg->value_size = 16;
    cfg->sessions = 1;
    cfg->concurrency = 1;
    cfg->loop = ZP_LOOP_CLOSED;
    cfg->arrival = ZP_ARRIVAL_UNIFORM;
    cfg->max_outstanding = 10000;
    cfg->ops = 100000;
    cfg->duration_s = 10.0;
    cfg->warmup_ops = 1000;
    cfg->warmup_s = 1.0;
    cfg->keys = 1000;
    cfg->multi_ops = 4;
    cfg->session_ms = 10000;
    cfg->drain_s = 10.0;
    cfg->seed = 1;
    cfg->watchers = 16;
    cfg->rounds = 0; /* per scenario: fanout 20, children 20, expiry 3 */
    cfg->children = 100000;
    cfg->before_s = 2.0;
    cfg->after_s = 2.0;
}

/* Splits "12.5ms" into a finite non-negative number and its suffix. */
static int split_number(const char *s, double *num, const char **suffix)
{
    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ') {
        return ZN_EINVAL;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno != 0 || !isfinite(v) || v < 0) {
        return ZN_EINVAL;
    }
    *num = v;
    *suffix = end;
    return 0;
}

int zp_parse_size(const char *s, uint64_t *out)
{
    double v;
    const char *suf;
    if (split_number(s, &v, &suf) != 0) {
        return ZN_EINVAL;
    }
    double mul;
    if (*suf == '\0' || strcasecmp(suf, "b") == 0) {
        mul = 1;
    } else if (strcasecmp(suf, "k") == 0 || strcasecmp(suf, "kib") == 0 ||
               strcasecmp(suf, "kb") == 0) {
        mul = 1024.0;
    } else if (strcasecmp(suf, "m") == 0 || strcasecmp(suf, "mib") == 0 ||
               strcasecmp(suf, "mb") == 0) {
        mul = 1024.0 * 1024.0;
    } else {
        return ZN_EINVAL;
    }
    double bytes = v * mul;
    if (bytes != floor(bytes) || bytes > 1e15) {
        return ZN_EINVAL;
    }
    *out = (uint64_t)bytes;
    return 0;
}

int zp_parse_seconds(const char *s, double *out)
{
    double v;
    const char *suf;
    if (split_number(s, &v, &suf) != 0) {
        return ZN_EINVAL;
    }
    double mul;
    if (*suf == '\0' || strcmp(suf, "s") == 0) {
        mul = 1;
    } else if (strcmp(suf, "ms") == 0) {
        mul = 1e-3;
    } else if (strcmp(suf, "us") == 0) {
        mul = 1e-6;
    } else if (strcmp(suf, "m") == 0 || strcmp(suf, "min") == 0) {
        mul = 60;
    } else {
        return ZN_EINVAL;
    }
    *out = v * mul;
    return 0;
}

int zp_parse_count(const char *s, uint64_t *out)
{
    double v;
    const char *suf;
    if (split_number(s, &v, &suf) != 0) {
        return ZN_EINVAL;
    }
    double mul;
    if (*suf == '\0') {
        mul = 1;
    } else if (strcmp(suf, "k") == 0 || strcmp(suf, "K") == 0) {
        mul = 1e3;
    } else if (strcmp(suf, "M") == 0 || strcmp(suf, "m") == 0) {
        mul = 1e6;
    } else if (strcmp(suf, "G") == 0 || strcmp(suf, "g") == 0) {
        mul = 1e9;
    } else {
        return ZN_EINVAL;
    }
    double n = v * mul;
    if (n != floor(n) || n > 1e15) {
        return ZN_EINVAL;
    }
    *out = (uint64_t)n;
    return 0;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return ZN_EINVAL;
}

static int parse_workload(struct zp_config *cfg, const char *v)
{
    for (unsigned i = 0; i < sizeof(workload_names) / sizeof(workload_names[0]); i++) {
        if (strcmp(v, workload_names[i]) == 0) {
            cfg->workload = (enum zp_workload)i;
            return 0;
        }
    }
    if (strncmp(v, "read", 4) == 0 && v[4] != '\0') {
        uint64_t pct;
        if (zp_parse_count(v + 4, &pct) == 0 && pct <= 100) {
            cfg->workload = ZP_WL_MIX;
            cfg->read_pct = (uint32_t)pct;
            return 0;
        }
    }
    return ZN_EINVAL;
}

enum opt_kind {
    OPT_STR,
    OPT_U32,
    OPT_U64,
    OPT_SIZE,
    OPT_SECONDS,
    OPT_RATE,
    OPT_FLAG,
    OPT_WORKLOAD,
    OPT_ARRIVAL,
    OPT_HELP
};

struct opt {
    const char *lng;
    char shrt;
    enum opt_kind kind;
    size_t offset;
    double min;
    double max;
};

#define OFF(field) offsetof(struct zp_config, field)

static const struct opt opts[] = {
    {"target", 't', OPT_STR, OFF(target), 0, 0},
    {"servers", 's', OPT_STR, OFF(servers), 0, 0},
    {"label", 0, OPT_STR, OFF(label), 0, 0},
    {"root", 0, OPT_STR, OFF(root), 0, 0},
    {"workload", 'w', OPT_WORKLOAD, 0, 0, 0},
    {"read-pct", 0, OPT_U32, OFF(read_pct), 0, 100},
    {"value-size", 'v', OPT_SIZE, OFF(value_size), 0, ZP_VALUE_MAX_BYTES},
    {"sessions", 0, OPT_U32, OFF(sessions), 1, ZP_SESSIONS_MAX},
    {"concurrency", 'c', OPT_U32, OFF(concurrency), 1, ZP_CONCURRENCY_MAX},
    {"rate", 'r', OPT_RATE, OFF(rate), 0, ZP_RATE_MAX},
    {"arrival", 0, OPT_ARRIVAL, 0, 0, 0},
    {"max-outstanding", 0, OPT_U32, OFF(max_outstanding), 1, ZP_OUTSTANDING_MAX},
    {"ops", 'n', OPT_U64, OFF(ops), 1, (double)ZP_OPS_MAX},
    {"duration", 'd', OPT_SECONDS, OFF(duration_s), 0, ZP_DURATION_MAX_S},
    {"warmup-ops", 0, OPT_U64, OFF(warmup_ops), 0, (double)ZP_OPS_MAX},
    {"warmup", 0, OPT_SECONDS, OFF(warmup_s), 0, ZP_DURATION_MAX_S},
    {"drain", 0, OPT_SECONDS, OFF(drain_s), 0, 600},
    {"keys", 0, OPT_U32, OFF(keys), 1, ZP_KEYS_MAX},
    {"multi-ops", 0, OPT_U32, OFF(multi_ops), 1, ZP_MULTI_OPS_MAX},
    {"session-ms", 0, OPT_U32, OFF(session_ms), 100, 600000},
    {"seed", 0, OPT_U64, OFF(seed), 0, 1e18},
    {"watchers", 0, OPT_U32, OFF(watchers), 1, ZP_WATCHERS_MAX},
    {"rounds", 0, OPT_U32, OFF(rounds), 1, 1000000},
    {"children", 0, OPT_U32, OFF(children), 1, ZP_CHILDREN_MAX},
    {"kill-cmd", 0, OPT_STR, OFF(kill_cmd), 0, 0},
    {"before", 0, OPT_SECONDS, OFF(before_s), 0, 3600},
    {"after", 0, OPT_SECONDS, OFF(after_s), 0, 3600},
    {"json", 0, OPT_STR, OFF(json_path), 0, 0},
    {"hist-log", 0, OPT_STR, OFF(hist_path), 0, 0},
    {"svg", 0, OPT_STR, OFF(svg_path), 0, 0},
    {"out", 'o', OPT_STR, OFF(out_path), 0, 0},
    {"quiet", 'q', OPT_FLAG, OFF(quiet), 0, 0},
    {"keep", 0, OPT_FLAG, OFF(keep), 0, 0},
    {"help", 'h', OPT_HELP, 0, 0, 0},
};

static const struct opt *find_opt(const char *arg, const char **inline_value, char *err,
                                  size_t err_len)
{
    *inline_value = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
            if (strlen(opts[i].lng) == len && strncmp(opts[i].lng, name, len) == 0) {
                *inline_value = eq ? eq + 1 : NULL;
                return &opts[i];
            }
        }
    } else if (arg[1] != '\0' && arg[2] == '\0') {
        for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
            if (opts[i].shrt == arg[1]) {
                return &opts[i];
            }
        }
    }
    fail(err, err_len, "unknown option '%s' (see zinc-perf --help)", arg);
    return NULL;
}

static int apply_opt(struct zp_config *cfg, const struct opt *o, const char *flag, const char *v,
                     char *err, size_t err_len)
{
    char *base = (char *)cfg;
    uint64_t u;
    double d;
    switch (o->kind) {
    case OPT_STR:
        if (*v == '\0') {
            return fail(err, err_len, "%s: empty value", flag);
        }
        *(const char **)(base + o->offset) = v;
        return 0;
    case OPT_U32:
    case OPT_U64:
        if (zp_parse_count(v, &u) != 0) {
            return fail(err, err_len, "%s: '%s' is not a whole number", flag, v);
        }
        goto check_u;
    case OPT_SIZE:
        if (zp_parse_size(v, &u) != 0) {
            return fail(err, err_len, "%s: '%s' is not a size (e.g. 16, 4k, 1MiB)", flag, v);
        }
    check_u:
        if ((double)u < o->min || (double)u > o->max) {
            return fail(err, err_len, "%s: %s is out of range %.0f..%.0f", flag, v, o->min, o->max);
        }
        if (o->kind == OPT_U64) {
            *(uint64_t *)(base + o->offset) = u;
        } else {
            *(uint32_t *)(base + o->offset) = (uint32_t)u;
        }
        return 0;
    case OPT_SECONDS:
        if (zp_parse_seconds(v, &d) != 0) {
            return fail(err, err_len, "%s: '%s' is not a duration (e.g. 10, 10s, 500ms, 2m)", flag,
                        v);
        }
        if (d < o->min || d > o->max) {
            return fail(err, err_len, "%s: %s is out of range 0..%.0fs", flag, v, o->max);
        }
        *(double *)(base + o->offset) = d;
        return 0;
    case OPT_RATE:
        if (zp_parse_count(v, &u) != 0 || u == 0 || (double)u > o->max) {
            return fail(err, err_len, "%s: '%s' must be a whole rate in ops/s, 1..%.0f", flag, v,
                        o->max);
        }
        cfg->rate = (double)u;
        cfg->loop = ZP_LOOP_OPEN;
        return 0;
    case OPT_WORKLOAD:
        if (parse_workload(cfg, v) != 0) {
            return fail(err, err_len,
                        "%s: unknown workload '%s' (create, set, get, exists, delete, multi, "
                        "mix, read0..read100)",
                        flag, v);
        }
        return 0;
    case OPT_ARRIVAL:
        if (strcmp(v, "uniform") == 0) {
            cfg->arrival = ZP_ARRIVAL_UNIFORM;
        } else if (strcmp(v, "poisson") == 0) {
            cfg->arrival = ZP_ARRIVAL_POISSON;
        } else {
            return fail(err, err_len, "%s: unknown arrival '%s' (uniform or poisson)", flag, v);
        }
        return 0;
    case OPT_FLAG:
    case OPT_HELP:
        break;
    }
    return fail(err, err_len, "%s: internal error", flag);
}

static int check_combination(struct zp_config *cfg, char *err, size_t err_len)
{
    if (cfg->command == ZP_CMD_MERGE || cfg->command == ZP_CMD_PLOT) {
        if (cfg->n_inputs == 0) {
            return fail(err, err_len, "%s: give at least one histogram log",
                        cfg->command == ZP_CMD_MERGE ? "merge" : "plot");
        }
        if (cfg->command == ZP_CMD_PLOT && cfg->out_path == NULL) {
            return fail(err, err_len, "plot: -o/--out FILE.svg is required");
        }
        if (cfg->command == ZP_CMD_MERGE && cfg->out_path == NULL && cfg->json_path == NULL &&
            cfg->svg_path == NULL) {
            cfg->out_path = "-";
        }
        return 0;
    }
    if (cfg->n_inputs > 0) {
        return fail(err, err_len, "unexpected argument '%s' (see zinc-perf --help)",
                    cfg->inputs[0]);
    }
    if (cfg->command == ZP_CMD_FAILOVER && cfg->kill_cmd == NULL) {
        return fail(err, err_len, "failover: --kill-cmd CMD is required");
    }
    if (cfg->duration_s <= 0) {
        return fail(err, err_len, "--duration: must be positive (every run is bounded in time)");
    }
    if (cfg->loop == ZP_LOOP_OPEN && cfg->concurrency != 1) {
        return fail(err, err_len,
                    "--concurrency %u: closed-loop only; with --rate use --max-outstanding",
                    cfg->concurrency);
    }
    if (cfg->workload == ZP_WL_DELETE && cfg->ops + cfg->warmup_ops > ZP_KEYS_MAX) {
        return fail(err, err_len,
                    "--ops %llu: the delete workload pre-creates --ops + --warmup-ops nodes; at "
                    "most %u",
                    (unsigned long long)cfg->ops, ZP_KEYS_MAX);
    }
    return 0;
}

int zp_config_parse(struct zp_config *cfg, int argc, char **argv, char *err, size_t err_len)
{
    int i = 1;
    if (err_len > 0) {
        err[0] = '\0';
    }
    if (i < argc && argv[i][0] != '-') {
        static const struct {
            const char *name;
            enum zp_command cmd;
        } cmds[] = {
            {"run", ZP_CMD_RUN},           {"merge", ZP_CMD_MERGE},       {"plot", ZP_CMD_PLOT},
            {"fanout", ZP_CMD_FANOUT},     {"children", ZP_CMD_CHILDREN}, {"expiry", ZP_CMD_EXPIRY},
            {"failover", ZP_CMD_FAILOVER}, {"targets", ZP_CMD_TARGETS},   {"help", ZP_CMD_HELP},
        };
        size_t k;
        for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
            if (strcmp(argv[i], cmds[k].name) == 0) {
                cfg->command = cmds[k].cmd;
                break;
            }
        }
        if (k == sizeof(cmds) / sizeof(cmds[0])) {
            return fail(
                err, err_len,
                "unknown command '%s' (run, fanout, children, expiry, failover, merge, plot, "
                "targets, help)",
                argv[i]);
        }
        i++;
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            if (cfg->n_inputs == ZP_INPUTS_MAX) {
                return fail(err, err_len, "too many inputs (at most %u)", ZP_INPUTS_MAX);
            }
            cfg->inputs[cfg->n_inputs++] = arg;
            continue;
        }
        const char *inline_value;
        const struct opt *o = find_opt(arg, &inline_value, err, err_len);
        if (o == NULL) {
            return ZN_EINVAL;
        }
        char flag[48];
        snprintf(flag, sizeof(flag), "--%s", o->lng);
        if (o->kind == OPT_HELP) {
            cfg->command = ZP_CMD_HELP;
            return 0;
        }
        if (o->kind == OPT_FLAG) {
            if (inline_value != NULL) {
                return fail(err, err_len, "%s takes no value (got '%s')", flag, inline_value);
            }
            *(bool *)((char *)cfg + o->offset) = true;
            continue;
        }
        const char *v = inline_value;
        if (v == NULL) {
            if (i + 1 >= argc) {
                return fail(err, err_len, "%s needs a value", flag);
            }
            v = argv[++i];
        }
        int rc = apply_opt(cfg, o, flag, v, err, err_len);
        if (rc != 0) {
            return rc;
        }
    }
    return check_combination(cfg, err, err_len);
}
