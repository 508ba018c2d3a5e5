/*
 * wal_bench.c - WAL group-commit throughput and commit latency against the raw fdatasync floor.
 *
 * In one run, on one directory (default /var/tmp/zn-wal-bench-XXXXXX, removed at the end):
 *   floor: pwrite + fdatasync into a preallocated file (4 KiB, 64 KiB, 1 MiB writes) - the best
 *          a durable commit of that size can do on this disk;
 *   WAL:   for batch sizes 1, 8, 64, 512 and entry sizes 64 B, 1 KiB, 64 KiB: append a batch,
 *          flush, poll until persisted (closed loop, one batch in flight); commit latency is
 *          first append -> persisted reported to the WAL stage; entries/s over the run.
 * Latencies are recorded in zn_hist (ns). The machine is shared: print the load average at start
 * and end and compare ratios from the same run, not absolute numbers across runs.
 *
 * Usage: wal_bench [--dir DIR] [--ms MS_PER_CONFIG] [--quick]
 */
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "common/zn_hist.h"
#include "store/disk.h"
#include "store/wal.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *b_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void b_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    (void)n;
    free(p);
}

static void loadavg(char *out, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "r");
    out[0] = '\0';
    if (f != NULL) {
        if (fgets(out, (int)cap, f) == NULL) {
            out[0] = '\0';
        }
        fclose(f);
        out[strcspn(out, "\n")] = '\0';
    }
}

static struct zn_hist hist;

/* zero_fill: write zeros over the file first (written extents) instead of fallocate (unwritten
 * extents, which ext4 converts on first write - a metadata change the fdatasync must journal). */
static void floor_run(const char *dir, size_t wsize, uint64_t budget_ms, bool zero_fill,
                      uint64_t *p50, uint64_t *p99)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/floor.dat", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    uint64_t fsize = 256ull * 1024 * 1024;
    if (fd < 0 || posix_fallocate(fd, 0, (off_t)fsize) != 0) {
        perror("floor file");
        exit(1);
    }
    if (zero_fill) {
        char *z = calloc(1, 1 << 20);
        for (uint64_t off = 0; off < fsize; off += 1 << 20) {
            if (pwrite(fd, z, 1 << 20, (off_t)off) != 1 << 20) {
                perror("zero fill");
                exit(1);
            }
        }
        free(z);
    }
    if (fsync(fd) != 0) {
        perror("floor fsync");
        exit(1);
    }
    char *buf = malloc(wsize);
    memset(buf, 0xA5, wsize);
    zn_hist_reset(&hist);
    uint64_t end = now_ns() + budget_ms * 1000000ull, off = 0;
    for (int i = 0; i < 100000 && now_ns() < end; i++) {
        if (off + wsize > fsize) {
            off = 0;
        }
        uint64_t t0 = now_ns();
        if (pwrite(fd, buf, wsize, (off_t)off) != (ssize_t)wsize || fdatasync(fd) != 0) {
            perror("floor write");
            exit(1);
        }
        zn_hist_record(&hist, now_ns() - t0);
        off += wsize;
    }
    *p50 = zn_hist_percentile(&hist, 50);
    *p99 = zn_hist_percentile(&hist, 99);
    printf("| %zu B (%s) | %llu | | %.1f | %.1f |\n", wsize,
           zero_fill ? "zero-filled file" : "fallocated file", (unsigned long long)hist.count,
           *p50 / 1000.0, *p99 / 1000.0);
    free(buf);
    close(fd);
    unlink(path);
}

/* Flush and wait until nothing is open or in flight: spin briefly, then sleep (the syncer
 * thread needs the CPU on a 2-core box). */
static void wait_persisted(struct zn_wal *w)
{
    for (long spins = 0; !zn_wal_idle(w); spins++) {
        zn_wal_flush(w);
        struct zn_wal_persisted p;
        int rc = zn_wal_poll(w, &p);
        if (rc < 0) {
            fprintf(stderr, "poll: %s\n", zn_strerror(rc));
            exit(1);
        }
        if (rc == 0 && spins > 200) {
            sched_yield(); /* a WAL stage's idle policy: yield while traffic is recent */
        }
    }
}

static double wal_run(const char *dir, uint32_t batch, uint32_t esize, uint64_t budget_ms,
                      uint64_t *p50_out)
{
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/wal-%u-%u", dir, batch, esize);
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk d;
    if (zn_disk_posix_init(&d, mem, sub) != 0) {
        fprintf(stderr, "disk init failed\n");
        exit(1);
    }
    uint64_t batch_bytes = (uint64_t)batch * (esize + 64) + 4096;
    struct zn_wal_config c;
    memset(&c, 0, sizeof(c));
    c.disk = &d;
    c.alloc = (struct zn_allocator){b_alloc, b_free, NULL};
    c.cluster_id = 1;
    c.node_id = 1;
    c.entry_bytes_max = esize;
    c.batch_bytes = (uint32_t)batch_bytes;
    c.segment_bytes =
        batch_bytes * 2 + 4096 > 64ull * 1024 * 1024 ? batch_bytes * 2 + 4096 : 64ull * 1024 * 1024;
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    if (zn_wal_open(&w, &c, NULL, NULL, &rec) != 0) {
        fprintf(stderr, "open: %s\n", rec.report.message);
        exit(1);
    }
    uint8_t *payload = malloc(esize);
    memset(payload, 0x5A, esize);
    zn_hist_reset(&hist);
    /* the paired floor: the same bytes as one batch of records, pwrite + fdatasync into a
     * fallocated file, sampled alternately with the WAL so both see the same disk and load */
    static struct zn_hist fh;
    zn_hist_reset(&fh);
    /* exactly the bytes of one batch of records, appended contiguously like the WAL does */
    uint64_t fbytes = (uint64_t)batch * (((uint64_t)esize + 36 + 7) & ~7ull);
    char fpath[600];
    snprintf(fpath, sizeof(fpath), "%s/paired-floor.dat", dir);
    uint64_t fsize = 256ull * 1024 * 1024;
    int ffd = open(fpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    char *fbuf = malloc(fbytes);
    if (ffd < 0 || fbuf == NULL || posix_fallocate(ffd, 0, (off_t)fsize) != 0 || fsync(ffd) != 0) {
        perror("paired floor file");
        exit(1);
    }
    memset(fbuf, 0x5A, fbytes);
    uint64_t foff = 0;
    uint64_t index = 1, entries = 0;
    uint64_t start = now_ns(), end = start + budget_ms * 1000000ull;
    for (int b = 0; b < 1000000 && now_ns() < end; b++) {
        if (foff + fbytes > fsize) {
            foff = 0;
        }
        uint64_t f0 = now_ns();
        if (pwrite(ffd, fbuf, fbytes, (off_t)foff) != (ssize_t)fbytes || fdatasync(ffd) != 0) {
            perror("paired floor");
            exit(1);
        }
        zn_hist_record(&fh, now_ns() - f0);
        foff += fbytes;
        uint64_t t0 = now_ns();
        for (uint32_t k = 0; k < batch; k++) {
            int rc = zn_wal_append(w, 1, 1, index, payload, esize);
            if (rc == ZN_EFULL) {
                /* the segment is full mid-batch: commit what we have, then go on */
                wait_persisted(w);
                k--;
                continue;
            }
            if (rc != 0) {
                fprintf(stderr, "append: %s\n", zn_strerror(rc));
                exit(1);
            }
            index++;
        }
        wait_persisted(w);
        zn_hist_record(&hist, now_ns() - t0);
        entries += batch;
        if (zn_wal_segment_count(w) > 3) {
            zn_wal_compact(w, zn_wal_durable_index(w)); /* bound disk use */
        }
    }
    /* entries/s over the WAL's own time (the paired floor samples excluded) */
    double secs = (double)hist.sum / 1e9;
    double eps = (double)entries / secs;
    *p50_out = zn_hist_percentile(&hist, 50);
    uint64_t fp50 = zn_hist_percentile(&fh, 50);
    printf("| %u x %u B | %llu | %.0f | %.1f | %.1f | %.1f | %.1f | %.2fx | %.0f |\n", batch, esize,
           (unsigned long long)hist.count, eps, *p50_out / 1000.0,
           zn_hist_percentile(&hist, 99) / 1000.0, fp50 / 1000.0,
           zn_hist_percentile(&fh, 99) / 1000.0, (double)*p50_out / (double)fp50,
           eps * esize / 1e6);
    close(ffd);
    unlink(fpath);
    free(fbuf);
    zn_wal_close(w);
    zn_disk_posix_fini(&d);
    free(mem);
    free(payload);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", sub);
    if (system(cmd) != 0) {
        fprintf(stderr, "cleanup of %s failed\n", sub);
    }
    return eps;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t ms = 1500;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--quick") == 0) {
            ms = 200;
        } else {
            fprintf(stderr, "usage: %s [--dir DIR] [--ms MS_PER_CONFIG] [--quick]\n", argv[0]);
            return 2;
        }
    }
    char tmpl[] = "/var/tmp/zn-wal-bench-XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmpl);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    char la0[128], la1[128];
    loadavg(la0, sizeof(la0));
    printf("wal_bench: dir %s, %llu ms per configuration, load average at start: %s\n\n", dir,
           (unsigned long long)ms, la0);
    printf("raw fdatasync floor (preallocated files):\n\n");
    printf("| write | samples | | p50 us | p99 us |\n|---|---|---|---|---|\n");
    uint64_t f50, f99, g50, g99, h50, h99;
    uint64_t z50, z99;
    floor_run(dir, 4096, ms / 2, false, &f50, &f99);
    floor_run(dir, 4096, ms / 2, true, &z50, &z99);
    floor_run(dir, 65536, ms / 2, false, &g50, &g99);
    floor_run(dir, 1024 * 1024, ms / 2, false, &h50, &h99);
    printf("\nWAL commits (append a batch, flush, wait for persisted) with a paired floor sample "
           "(pwrite + fdatasync of the same bytes, appended to a fallocated file) taken "
           "alternately:\n\n");
    printf("| batch x entry | batches | entries/s | p50 us | p99 us | floor p50 us | floor p99 us "
           "| p50 / floor p50 | payload MB/s |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    static const uint32_t batches[] = {1, 8, 64, 512};
    static const uint32_t sizes[] = {64, 1024, 65536};
    uint64_t b1_p50[3] = {0, 0, 0};
    for (size_t s = 0; s < 3; s++) {
        for (size_t b = 0; b < 4; b++) {
            uint64_t p50;
            wal_run(dir, batches[b], sizes[s], ms, &p50);
            if (b == 0) {
                b1_p50[s] = p50;
            }
        }
    }
    loadavg(la1, sizeof(la1));
    (void)b1_p50;
    printf("load average at end: %s\n", la1);
    if (strcmp(dir, tmpl) == 0) {
        rmdir(dir);
    }
    return 0;
}
