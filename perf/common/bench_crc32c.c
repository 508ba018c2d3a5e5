/*
 * bench_crc32c.c - CRC32C cost per KiB: portable slicing-by-8, the hardware instruction in one
 * dependent chain, and the three-way interleaved hardware path zn_crc32c uses, side by side in
 * one run at the sizes zinc checksums (a 64 B frame, a 1 KiB frame, a 1472 B datagram, a 64 KiB
 * WAL entry). Usage: bench_crc32c [iterations-per-size]. A benchmark, never a timed test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/zn_crc32c.h"
#include "common/zn_prng.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* Best of 5 repetitions (least disturbed by other processes on a shared machine), ns per call. */
static double measure(crc_fn fn, const unsigned char *buf, size_t len, long iters)
{
    double best = 1e30;
    volatile uint32_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        uint32_t c = 0;
        for (long i = 0; i < iters; i++)
            c = fn(c, buf, len);
        double dt = now_s() - t0;
        sink ^= c;
        if (dt < best)
            best = dt;
    }
    (void)sink;
    return best / (double)iters * 1e9;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (iters <= 0 || iters > 100000000) {
        fprintf(stderr, "bench_crc32c: iterations '%s' must be 1..100000000\n", argv[1]);
        return 2;
    }
    static unsigned char buf[65536];
    struct zn_prng prng;
    zn_prng_seed(&prng, 1);
    zn_prng_fill(&prng, buf, sizeof(buf));
    printf("hardware crc32 instruction: %s\n", zn_crc32c_hw_available() ? "yes" : "no");
    printf("%8s %14s %14s %14s %10s\n", "bytes", "sw ns/KiB", "hw-1 ns/KiB", "hw-3 ns/KiB",
           "hw-1/hw-3");
    static const size_t sizes[] = {64, 1024, 1472, 65536};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        long n = len > 4096 ? iters / 32 + 1 : iters;
        double k = 1024.0 / (double)len;
        double sw = measure(zn_crc32c_sw, buf, len, n) * k;
        double h1 = measure(zn_crc32c_hw_serial, buf, len, n) * k;
        double h3 = measure(zn_crc32c_hw, buf, len, n) * k;
        printf("%8zu %14.1f %14.1f %14.1f %10.2f\n", len, sw, h1, h3, h1 / h3);
    }
    return 0;
}
