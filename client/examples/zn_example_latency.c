/*
 * zn_example_latency.c - a short timed loop through libzinc: N sync writes (setData) and N
 * sync reads (getData) of a small value, one at a time, printed as p50/p99/max in
 * microseconds. For a quick look at a deployed cluster (zinc-perf is the real harness).
 *
 *   zn_example_latency host:port[,host:port...] [count (default 1000)] [cluster-id]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "client/zinc.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    printf("%-6s n=%d p50 %.1f us  p99 %.1f us  max %.1f us\n", what, n, (double)v[n / 2] / 1e3,
           (double)v[(n * 99) / 100] / 1e3, (double)v[n - 1] / 1e3);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s host:port[,host:port...] [count] [cluster-id]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    if (n < 1 || n > 1000000) {
        fprintf(stderr, "count must be 1..1000000\n");
        return 2;
    }
    struct zn_options opts;
    zn_options_init(&opts);
    if (argc > 3)
        opts.cluster_id = (uint32_t)strtoul(argv[3], NULL, 0);
    zn_handle *zh;
    int rc = zn_open(argv[1], &opts, &zh);
    if (rc != 0) {
        fprintf(stderr, "zn_open(%s): %s\n", argv[1], zn_strerror(rc));
        return 1;
    }
    uint64_t *w = calloc((size_t)n, sizeof(*w));
    uint64_t *r = calloc((size_t)n, sizeof(*r));
    if (w == NULL || r == NULL)
        return 1;
    rc = zn_create(zh, "/zn-latency", "x", 1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, NULL);
    int bad = rc != 0 && rc != ZN_ENODEEXISTS;
    for (long i = 0; i < n && !bad; i++) {
        uint64_t t = now_ns();
        bad |= zn_set(zh, "/zn-latency", "y", 1, -1, NULL) != 0;
        w[i] = now_ns() - t;
    }
    for (long i = 0; i < n && !bad; i++) {
        char buf[8];
        int32_t len = sizeof(buf);
        uint64_t t = now_ns();
        bad |= zn_get(zh, "/zn-latency", 0, buf, &len, NULL) != 0;
        r[i] = now_ns() - t;
    }
    if (!bad) {
        report("write", w, (int)n);
        report("read", r, (int)n);
    } else {
        fprintf(stderr, "a call failed\n");
    }
    free(w);
    free(r);
    zn_close(zh); /* removes the ephemeral node */
    return bad;
}
