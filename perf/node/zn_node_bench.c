/*
 * zn_node_bench.c - latency of a zinc cluster through libzinc: one session, closed loop, one
 * request at a time: N setData then N getData (and N linearizable getData) of a small value.
 * Prints p50/p99/p99.9/mean in microseconds per operation kind. Never asserted by a test.
 *
 *   zn-node-bench HOSTS [N] [VALUE_BYTES]     (run.sh starts a loopback cluster and calls it)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/zinc.h"
#include "common/zn_hist.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(const char *what, const struct zn_hist *h, uint64_t n, uint64_t elapsed_ns)
{
    printf("%-16s n=%-6llu p50=%7.1f us  p99=%7.1f us  p99.9=%7.1f us  mean=%7.1f us  %.0f ops/s\n",
           what, (unsigned long long)n, zn_hist_percentile(h, 50.0) / 1e3,
           zn_hist_percentile(h, 99.0) / 1e3, zn_hist_percentile(h, 99.9) / 1e3,
           zn_hist_mean(h) / 1e3, (double)n * 1e9 / (double)elapsed_ns);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zn-node-bench HOSTS [N] [VALUE_BYTES]\n");
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    long vlen = argc > 3 ? strtol(argv[3], NULL, 10) : 16;
    if (n < 1 || n > 10000000 || vlen < 0 || vlen > 65536)
        return 2;
    struct zn_options o;
    zn_options_init(&o);
    o.cluster_id = 1;
    o.shuffle_nodes = false;
    zn_handle *zh;
    int rc = zn_open(argv[1], &o, &zh);
    if (rc) {
        fprintf(stderr, "zn-node-bench: zn_open(%s): %d\n", argv[1], rc);
        return 1;
    }
    char *value = calloc(1, (size_t)vlen + 1);
    char *buf = malloc((size_t)vlen + 16);
    memset(value, 'x', (size_t)vlen);
    rc = zn_create(zh, "/bench", value, (int32_t)vlen, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL,
                   0, NULL);
    if (rc && rc != ZN_ENODEEXISTS) {
        fprintf(stderr, "zn-node-bench: create /bench: %d\n", rc);
        return 1;
    }
    static struct zn_hist hs, hg, hl;
    zn_hist_reset(&hs);
    zn_hist_reset(&hg);
    zn_hist_reset(&hl);
    struct zn_hist *hists[3] = {&hs, &hg, &hl};
    const char *names[3] = {"setData", "getData", "getData (lin.)"};
    for (int kind = 0; kind < 3; kind++) {
        zn_set_linearizable_reads(zh, kind == 2);
        uint64_t start = now_ns();
        for (long i = 0; i < n; i++) {
            uint64_t t0 = now_ns();
            if (kind == 0) {
                rc = zn_set(zh, "/bench", value, (int32_t)vlen, -1, NULL);
            } else {
                int32_t len = (int32_t)vlen + 16;
                rc = zn_get(zh, "/bench", 0, buf, &len, NULL);
            }
            if (rc) {
                fprintf(stderr, "zn-node-bench: %s failed: %d\n", names[kind], rc);
                return 1;
            }
            zn_hist_record(hists[kind], now_ns() - t0);
        }
        report(names[kind], hists[kind], (uint64_t)n, now_ns() - start);
    }
    zn_close(zh);
    free(value);
    free(buf);
    return 0;
}
