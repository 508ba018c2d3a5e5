/*
 * zp_config.h - zinc-perf's command line: the configuration it produces and its parser.
 *
 * The parser is pure (no I/O besides the error text it fills in) so that the unit tests can
 * drive it. Bounds: every load is bounded by a count (--ops) AND a time (--duration); both must
 * be positive. Sizes accept B/k/KiB/m/MiB suffixes, times s/ms/us/m suffixes.
 */
#ifndef ZP_CONFIG_H
#define ZP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capacity limits of the harness (each derived from what a 2-core lab can drive). */
#define ZP_SESSIONS_MAX    1024u                /* one client thread pair per session */
#define ZP_CONCURRENCY_MAX 65536u               /* closed-loop slots in flight */
#define ZP_OUTSTANDING_MAX 65536u               /* open-loop requests in flight */
#define ZP_VALUE_MAX_BYTES (4u * 1024u * 1024u) /* above ZooKeeper's 1 MiB default */
#define ZP_KEYS_MAX        10000000u            /* keyspace of set/get/exists/mix */
#define ZP_MULTI_OPS_MAX   256u                 /* operations in one multi */
#define ZP_INPUTS_MAX      64u                  /* histogram logs given to merge/plot */
#define ZP_WATCHERS_MAX    ZP_SESSIONS_MAX      /* fan-out watcher sessions */
#define ZP_CHILDREN_MAX    1000000u             /* children scenario */
#define ZP_DURATION_MAX_S  86400.0              /* one day */
#define ZP_RATE_MAX        10000000.0           /* open-loop ops per second */
#define ZP_OPS_MAX         (1ull << 40)
/* Slot indices and free-list links are 32-bit, with UINT32_MAX as "none". */
_Static_assert(ZP_OUTSTANDING_MAX < UINT32_MAX && ZP_CONCURRENCY_MAX < UINT32_MAX, "slot index");
/* The delete workload pre-creates --ops + --warmup-ops nodes, checked against ZP_KEYS_MAX. */
_Static_assert(ZP_KEYS_MAX <= UINT32_MAX, "keys are 32-bit");

enum zp_command {
    ZP_CMD_RUN,
    ZP_CMD_MERGE,
    ZP_CMD_PLOT,
    ZP_CMD_FANOUT,
    ZP_CMD_CHILDREN,
    ZP_CMD_EXPIRY,
    ZP_CMD_FAILOVER,
    ZP_CMD_TARGETS,
    ZP_CMD_HELP,
};

enum zp_workload {
    ZP_WL_CREATE,
    ZP_WL_SET,
    ZP_WL_GET,
    ZP_WL_EXISTS,
    ZP_WL_DELETE,
    ZP_WL_MULTI,
    ZP_WL_MIX,
};

enum zp_loop { ZP_LOOP_CLOSED, ZP_LOOP_OPEN };
enum zp_arrival { ZP_ARRIVAL_UNIFORM, ZP_ARRIVAL_POISSON };

struct zp_config {
    enum zp_command command;
    const char *target;  /* "zookeeper" */
    const char *servers; /* connect string */
    const char *label;   /* names the run in JSON, logs and plots */
    const char *root;    /* znode under which everything is created */
    enum zp_workload workload;
    uint32_t read_pct; /* mix: share of getData */
    uint32_t value_size;
    uint32_t sessions;
    uint32_t concurrency; /* closed loop: requests in flight (over all sessions) */
    enum zp_loop loop;
    double rate; /* open loop: ops per second (all sessions) */
    enum zp_arrival arrival;
    uint32_t max_outstanding; /* open loop: in-flight cap; later sends count their wait */
    uint64_t ops;             /* measured ops to issue */
    double duration_s;        /* measured phase length */
    uint64_t warmup_ops;      /* warm-up ends at whichever bound comes first; 0 disables */
    double warmup_s;
    uint32_t keys;
    uint32_t multi_ops;
    uint32_t session_ms;
    double drain_s; /* how long to wait for outstanding requests at the end */
    uint64_t seed;
    bool quiet;
    bool keep; /* leave the created znodes */
    const char *json_path;
    const char *hist_path;
    const char *svg_path;
    /* scenarios */
    uint32_t watchers;
    uint32_t rounds;
    uint32_t children;
    const char *kill_cmd; /* failover: shell command that kills the leader */
    double before_s;      /* failover: writes before the kill */
    double after_s;       /* failover: writes after the first acknowledged one */
    /* merge / plot */
    const char *out_path;
    const char *inputs[ZP_INPUTS_MAX];
    uint32_t n_inputs;
};

/* Defaults for every field (command RUN). */
void zp_config_defaults(struct zp_config *cfg);

/*
 * Parses argv[1..argc-1] into cfg (after zp_config_defaults). Returns 0, or ZN_EINVAL with a
 * message in err that names the offending flag and value. argv strings are referenced, not
 * copied. `zinc-perf --help` / `help` give command ZP_CMD_HELP.
 */
int zp_config_parse(struct zp_config *cfg, int argc, char **argv, char *err, size_t err_len);

/* Usage text for --help. */
const char *zp_config_usage(void);

const char *zp_workload_name(enum zp_workload wl);

/* "16", "4k", "4KiB", "1m", "1MiB", "512B" -> bytes. Returns 0 or ZN_EINVAL. */
int zp_parse_size(const char *s, uint64_t *out);
/* "10", "10s", "500ms", "250us", "2m" -> seconds. Returns 0 or ZN_EINVAL. */
int zp_parse_seconds(const char *s, double *out);
/* "1000", "1k", "2.5M" -> count. Returns 0 or ZN_EINVAL. */
int zp_parse_count(const char *s, uint64_t *out);

#endif /* ZP_CONFIG_H */
