/*
 * perf/store/bench_store.c - micro-benchmarks of the znode store (not a test: nothing asserted).
 *
 *   get (with Stat) ns/op at 1K and 1M znodes, through zn_store_read (ACL check, reply
 *   encoding) and the zn_store_stat fast path; single-writer apply rate for create, setData,
 *   delete (pre-encoded entries, apply only); read throughput with 1 to N reader threads;
 *   bytes per znode for 1M znodes with 32-byte values (allocator accounting and RSS).
 *
 * Usage: see usage() or `bench_store --help`. The large tree is pre-sized
 * (zn_store_config.expected_znodes); ZN_BENCH_NO_PRESIZE=1 leaves the growth to liburcu.
 * perf/store/zk-mem.sh measures Apache ZooKeeper's bytes per znode for the same tree shape.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "common/zn_hist.h"
#include "common/zn_prng.h"
#include "store/alloc.h"
#include "store/entry.h"
#include "store/reply.h"
#include "store/snapshot.h"
#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: robust against other processes sharing the 2 cores */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double last_cpu_rate; /* ops per CPU-second of the last measurement */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static const struct zn_acl_entry acl[] = {{31, {"world", 5}, {"anyone", 6}}};
static uint64_t zxid;
static int32_t cxid;
static uint8_t *buf;

static void apply_op(struct zn_store *s, const struct zn_op *op)
{
    zxid++;
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                         .zxid = zxid,
                         .time_ms = (int64_t)zxid,
                         .session = 1,
                         .cxid = ++cxid,
                         .op = *op};
    size_t len;
    struct zn_apply_result res;
    if (zn_entry_encode(&e, buf, 1 << 16, &len) || zn_store_apply(s, buf, len, &res))
        abort();
}

static struct zn_store *make_store(uint64_t expected)
{
    struct zn_store *s;
    struct zn_store_config cfg = {.expected_znodes = expected};
    if (zn_store_create(&cfg, &s))
        abort();
    struct zn_entry e = {
        .type = ZN_ENTRY_SESSION_CREATE, .zxid = ++zxid, .session = 1, .timeout_ms = 30000};
    size_t len;
    struct zn_apply_result res;
    zn_entry_encode(&e, buf, 1 << 16, &len);
    zn_store_apply(s, buf, len, &res);
    struct zn_op op = {.type = ZN_OP_CREATE,
                       .path = {"/b", 2},
                       .version = -1,
                       .ttl_ms = -1,
                       .acl = acl,
                       .acl_count = 1};
    apply_op(s, &op);
    return s;
}

static void path_of(uint64_t i, char *p)
{
    snprintf(p, 32, "/b/node%08llu", (unsigned long long)i);
}

/* Encoded entries for n ops of one kind, then the apply rate. */
static double apply_rate(struct zn_store *s, uint64_t n, int32_t type)
{
    uint8_t *log = malloc(n * 128);
    size_t *lens = malloc(n * sizeof(*lens));
    static const uint8_t value[32] = "0123456789abcdef0123456789abcdef";
    for (uint64_t i = 0; i < n; i++) {
        char p[32];
        path_of(i, p);
        struct zn_op op = {.type = type,
                           .path = {p, (uint32_t)strlen(p)},
                           .version = -1,
                           .ttl_ms = -1,
                           .acl = acl,
                           .acl_count = 1,
                           .data = value,
                           .data_len = type == ZN_OP_DELETE ? 0 : 32};
        zxid++;
        struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                             .zxid = zxid,
                             .time_ms = (int64_t)zxid,
                             .session = 1,
                             .cxid = ++cxid,
                             .op = op};
        if (zn_entry_encode(&e, log + i * 128, 128, &lens[i]))
            abort();
    }
    double t0 = now_s(), c0 = cpu_s();
    for (uint64_t i = 0; i < n; i++) {
        struct zn_apply_result res;
        if (zn_store_apply(s, log + i * 128, lens[i], &res))
            abort();
        rcu_quiescent_state(); /* a few ns; keeps grace periods (table growth) prompt */
    }
    double el = now_s() - t0;
    last_cpu_rate = (double)n / (cpu_s() - c0);
    free(log);
    free(lens);
    return (double)n / el;
}

struct reader {
    struct zn_store *s;
    uint64_t n;
    double seconds;
    uint64_t ops;
    double cpu;
    int fast;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    rcu_register_thread();
    struct zn_prng rng;
    zn_prng_seed(&rng, (uint64_t)(uintptr_t)r);
    struct zn_wbuf w;
    zn_wbuf_init(&w, 0);
    double t0 = now_s(), c0 = cpu_s();
    uint64_t ops = 0;
    while (now_s() - t0 < r->seconds) {
        for (int k = 0; k < 64; k++) {
            char p[32];
            path_of(zn_prng_below(&rng, r->n), p);
            if (r->fast) {
                struct zn_stat st;
                const uint8_t *d;
                if (zn_store_stat(r->s, p, (uint32_t)strlen(p), &st, &d))
                    abort();
            } else {
                struct zn_op op = {.type = ZN_OP_GETDATA, .path = {p, (uint32_t)strlen(p)}};
                w.len = 0;
                if (zn_store_read(r->s, 1, NULL, 0, &op, &w, NULL))
                    abort();
            }
            ops++;
        }
        rcu_quiescent_state();
    }
    r->seconds = now_s() - t0;
    r->cpu = cpu_s() - c0;
    r->ops = ops;
    zn_wbuf_fini(&w);
    rcu_unregister_thread();
    return NULL;
}

static double read_rate(struct zn_store *s, uint64_t n, int threads, int fast, double seconds)
{
    struct reader *r = calloc((size_t)threads, sizeof(*r));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    if (!r || !th)
        abort();
    rcu_thread_offline();
    for (int i = 0; i < threads; i++) {
        r[i] = (struct reader){.s = s, .n = n, .seconds = seconds, .fast = fast};
        if (pthread_create(&th[i], NULL, reader_main, &r[i]))
            abort();
    }
    double total = 0, cpu_rate = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += (double)r[i].ops / r[i].seconds;
        cpu_rate += (double)r[i].ops / r[i].cpu / threads;
    }
    last_cpu_rate = cpu_rate;
    rcu_thread_online();
    free(r);
    free(th);
    return total;
}

struct snap_job {
    struct zn_snapshot *snap;
    uint64_t bytes;
    double seconds;
    atomic_int done;
};

static int count_sink(void *ctx, const void *b, size_t len)
{
    (void)b;
    ((struct snap_job *)ctx)->bytes += len;
    return 0;
}

static void *snap_main(void *arg)
{
    struct snap_job *j = arg;
    rcu_register_thread();
    double t0 = now_s();
    if (zn_snapshot_write(j->snap, count_sink, j))
        abort();
    j->seconds = now_s() - t0;
    rcu_unregister_thread();
    atomic_store(&j->done, 1);
    return NULL;
}

/* setData apply latency (ns per entry) over n entries into h; optionally during a snapshot. */
static void set_latency(struct zn_store *s, uint64_t keys, uint64_t n, struct zn_hist *h,
                        struct snap_job *job)
{
    static const uint8_t value[32] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    struct zn_prng rng;
    zn_prng_seed(&rng, 5);
    pthread_t th;
    if (job)
        pthread_create(&th, NULL, snap_main, job);
    uint64_t during = 0;
    for (uint64_t i = 0; i < n || (job && !atomic_load(&job->done)); i++) {
        char p[32];
        path_of(zn_prng_below(&rng, keys), p);
        struct zn_op op = {.type = ZN_OP_SETDATA,
                           .path = {p, (uint32_t)strlen(p)},
                           .version = -1,
                           .ttl_ms = -1,
                           .data = value,
                           .data_len = 32};
        zxid++;
        struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                             .zxid = zxid,
                             .time_ms = (int64_t)zxid,
                             .session = 1,
                             .cxid = ++cxid,
                             .op = op};
        size_t len;
        if (zn_entry_encode(&e, buf, 1 << 16, &len))
            abort();
        struct zn_apply_result res;
        double t0 = now_s();
        if (zn_store_apply(s, buf, len, &res))
            abort();
        double t1 = now_s();
        if (!job || !atomic_load(&job->done)) {
            zn_hist_record(h, (uint64_t)((t1 - t0) * 1e9));
            during++;
        }
        rcu_quiescent_state();
        if (job && i >= n && i > 50 * n)
            break; /* bounded even if the snapshot thread is starved */
    }
    if (job)
        pthread_join(th, NULL);
    (void)during;
}

static void populate(struct zn_store *s, uint64_t n)
{
    apply_rate(s, n, ZN_OP_CREATE);
}

#define ZNODES_MAX  100000000ULL /* ~38 GB of tree at ~380 B/znode: beyond any sane run */
#define THREADS_MAX 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_store [-n ZNODES] [-t THREADS] [-s SECONDS] [ZNODES]\n"
            "\n"
            "Micro-benchmarks of the znode store (store/): get with Stat at 1K and at ZNODES\n"
            "znodes, single-writer apply rates (create, setData, delete), read throughput with\n"
            "1..THREADS reader threads, setData apply latency with and without a concurrent\n"
            "snapshot, and bytes per znode for ZNODES znodes with 32-byte values. Nothing is\n"
            "asserted; results go to stdout.\n"
            "\n"
            "  -n, --znodes N     znodes in the large tree /b/nodeNNNNNNNN (default 1000000,\n"
            "                     1..%llu); a bare ZNODES argument means the same\n"
            "  -t, --threads T    largest reader thread count of the scaling run (default:\n"
            "                     online CPUs; 1..%d)\n"
            "  -s, --seconds S    duration of each get measurement; the throughput runs take\n"
            "                     1.5 x S each (default 1.0; 0.01..60)\n"
            "  -h, --help         this text\n"
            "\n"
            "Environment: ZN_BENCH_NO_PRESIZE=1 leaves hash-table growth to liburcu instead of\n"
            "pre-sizing it. Exit status: 0 done, 2 bad arguments.\n"
            "perf/store/zk-mem.sh measures Apache ZooKeeper's bytes per znode on the same tree.\n",
            (unsigned long long)ZNODES_MAX, THREADS_MAX);
}

static _Noreturn void bad_arg(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "bench_store: %s '%s': %s (see --help)\n", opt, val, why);
    exit(2);
}

/* A decimal integer in [lo, hi], digits only (no sign, no suffix), or exit 2. */
static uint64_t parse_u64(const char *opt, const char *val, uint64_t lo, uint64_t hi)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "expected an integer in %llu..%llu", (unsigned long long)lo,
             (unsigned long long)hi);
    if (val[0] < '0' || val[0] > '9')
        bad_arg(opt, val, msg);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        bad_arg(opt, val, msg);
    return v;
}

int main(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t large = 1000000;
    int max_threads = cpus > 0 ? (int)(cpus < THREADS_MAX ? cpus : THREADS_MAX) : 1;
    double get_s = 1.0;
    static const struct option longopts[] = {{"znodes", required_argument, NULL, 'n'},
                                             {"threads", required_argument, NULL, 't'},
                                             {"seconds", required_argument, NULL, 's'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":n:t:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            large = parse_u64("--znodes", optarg, 1, ZNODES_MAX);
            break;
        case 't':
            max_threads = (int)parse_u64("--threads", optarg, 1, THREADS_MAX);
            break;
        case 's': {
            char *end;
            errno = 0;
            get_s = strtod(optarg, &end);
            if (errno || end == optarg || *end != '\0' || !isfinite(get_s) || get_s < 0.01 ||
                get_s > 60)
                bad_arg("--seconds", optarg, "expected a number of seconds in 0.01..60");
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "bench_store: option '%s' needs a value (see --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "bench_store: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc)
        large = parse_u64("ZNODES", argv[optind++], 1, ZNODES_MAX);
    if (optind < argc) {
        fprintf(stderr, "bench_store: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    double thr_s = 1.5 * get_s;

    buf = malloc(1 << 16);
    rcu_register_thread();
    double load[1] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load[0]) != 1)
            load[0] = -1;
        fclose(la);
    }
    printf("store benchmarks (%ld online CPUs, load average %.1f at start; %llu znodes, reader "
           "threads 1..%d)\n",
           cpus, load[0], (unsigned long long)large, max_threads);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* 1K znodes */
    struct zn_store *s = make_store(1000);
    populate(s, 1000);
    double w1 = read_rate(s, 1000, 1, 0, get_s), c1 = last_cpu_rate;
    double w2 = read_rate(s, 1000, 1, 1, get_s), c2 = last_cpu_rate;
    printf("get at 1K znodes: zn_store_read(getData) %.0f ns/op CPU (%.0f wall), zn_store_stat "
           "%.0f ns/op CPU (%.0f wall)\n",
           1e9 / c1, 1e9 / w1, 1e9 / c2, 1e9 / w2);
    zn_store_destroy(s);

    /* large tree: memory, apply rates, reads */
    struct zn_mem_stats m0, m1;
    zn_mem_stats_get(&m0);
    long rss0 = rss_kib();
    s = make_store(getenv("ZN_BENCH_NO_PRESIZE") ? 0 : large);
    double create = apply_rate(s, large, ZN_OP_CREATE);
    zn_mem_stats_get(&m1);
    long rss1 = rss_kib();
    double acc = (double)((m1.meta_bytes + m1.payload_bytes) - (m0.meta_bytes + m0.payload_bytes));
    printf("memory for %llu znodes with 32-byte values: %.0f B/znode by allocator accounting "
           "(payload %.0f, metadata %.0f), %.0f B/znode by RSS growth (includes hash buckets)\n",
           (unsigned long long)large, acc / (double)large,
           (double)(m1.payload_bytes - m0.payload_bytes) / (double)large,
           (double)(m1.meta_bytes - m0.meta_bytes) / (double)large,
           (double)(rss1 - rss0) * 1024.0 / (double)large);
    double create_cpu = last_cpu_rate;
    w1 = read_rate(s, large, 1, 0, get_s);
    c1 = last_cpu_rate;
    w2 = read_rate(s, large, 1, 1, get_s);
    c2 = last_cpu_rate;
    printf("get at %llu znodes: zn_store_read(getData) %.0f ns/op CPU (%.0f wall), "
           "zn_store_stat %.0f ns/op CPU (%.0f wall)\n",
           (unsigned long long)large, 1e9 / c1, 1e9 / w1, 1e9 / c2, 1e9 / w2);
    /* read scaling 1..max_threads; one line, so the default (2 CPUs) output keeps its shape */
    double *wall = calloc((size_t)max_threads + 1, sizeof(*wall));
    double *cpu = calloc((size_t)max_threads + 1, sizeof(*cpu));
    if (!wall || !cpu)
        abort();
    for (int t = 1; t <= max_threads; t++) {
        wall[t] = read_rate(s, large, t, 0, thr_s);
        cpu[t] = last_cpu_rate;
    }
    printf("read throughput (getData, %llu znodes, wall clock):", (unsigned long long)large);
    for (int t = 1; t <= max_threads; t++) {
        printf("%s %d thread%s %.2f M/s", t > 1 ? "," : "", t, t > 1 ? "s" : "", wall[t] / 1e6);
        if (t > 1)
            printf(" (x%.2f)", wall[t] / wall[1]);
    }
    printf("; per thread per CPU-second:");
    for (int t = 1; t <= max_threads; t++)
        printf("%s %.2f M", t > 1 ? " vs" : "", cpu[t] / 1e6);
    printf("%s\n", max_threads > cpus ? " (more threads than online CPUs: oversubscribed)" : "");
    free(wall);
    free(cpu);
    /* write latency with and without a concurrent snapshot (DESIGN.md section 10) */
    static struct zn_hist h0, h1;
    zn_hist_reset(&h0);
    zn_hist_reset(&h1);
    uint64_t nlat = large / 5;
    set_latency(s, large, nlat, &h0, NULL);
    struct snap_job job = {0};
    double b0 = now_s();
    if (zn_snapshot_begin(s, &job.snap))
        abort();
    double begin_us = (now_s() - b0) * 1e6;
    set_latency(s, large, nlat, &h1, &job);
    double e0 = now_s();
    zn_snapshot_end(s, job.snap);
    double end_us = (now_s() - e0) * 1e6;
    printf("setData apply latency, %llu znodes: without snapshot p50 %llu ns p99 %llu ns p99.9 "
           "%llu ns; during a snapshot p50 %llu ns p99 %llu ns p99.9 %llu ns (%llu samples); "
           "snapshot %.2f s, %.1f MB; writer-side begin %.0f us, end %.0f us\n",
           (unsigned long long)large, (unsigned long long)zn_hist_percentile(&h0, 50),
           (unsigned long long)zn_hist_percentile(&h0, 99),
           (unsigned long long)zn_hist_percentile(&h0, 99.9),
           (unsigned long long)zn_hist_percentile(&h1, 50),
           (unsigned long long)zn_hist_percentile(&h1, 99),
           (unsigned long long)zn_hist_percentile(&h1, 99.9), (unsigned long long)h1.count,
           job.seconds, (double)job.bytes / 1e6, begin_us, end_us);
    double set = apply_rate(s, large, ZN_OP_SETDATA), set_cpu = last_cpu_rate;
    double del = apply_rate(s, large, ZN_OP_DELETE), del_cpu = last_cpu_rate;
    printf("single-writer apply (%llu znodes), per CPU-second (wall): create %.0f/s (%.0f), "
           "setData %.0f/s (%.0f), delete %.0f/s (%.0f)\n",
           (unsigned long long)large, create_cpu, create, set_cpu, set, del_cpu, del);
    zn_store_destroy(s);
    rcu_unregister_thread();
    free(buf);
    return 0;
}
