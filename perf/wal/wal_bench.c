/*
 * wal_bench.c - WAL group-commit throughput and commit latency against the raw fdatasync floor.
 *
 * In one run, on one directory (default /var/tmp/zn-wal-bench-XXXXXX, removed at the end):
 *   floor: pwrite + fdatasync appended to a fallocated file and to a zero-filled file, sampled
 *          alternately (4 KiB, 64 KiB, 1 MiB writes). The zero-filled floor is the best a durable
 *          append of that size can do on this disk (no extent conversion to journal);
 *   WAL:   for batch sizes 1, 8, 64, 512 and entry sizes 64 B, 1 KiB, 64 KiB: append a batch,
 *          flush, poll until persisted (closed loop, one batch in flight); commit latency is
 *          first append -> persisted reported to the WAL stage; entries/s over the run. Each
 *          batch is paired with one sample of each floor for the same bytes, taken right
 *          before it, and the ratios to both floors are printed. The disk is interposed to time
 *          the parts of a batch-of-1 commit (hand-off, pwrite, fdatasync, completion).
 * Latencies are recorded in zn_hist (ns). The machine is shared: print the load average at start
 * and end and compare ratios from the same run, not absolute numbers across runs.
 *
 * Usage: wal_bench [--dir DIR] [--ms MS_PER_CONFIG] [--quick] [--compare]
 *   --compare: each WAL row is preceded by the same configuration with no spare segment (the
 *   disk without its background runner: every segment created and fallocated in the commit
 *   path, as before spares existed), so the two are measured side by side in one run.
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

/* ---- an interposed disk: where a batch-of-1 commit's time goes ------------------------------- */

/* Wraps the POSIX disk: every job is timed (submitted -> started on the syncer -> its pwrite and
 * fdatasync calls -> finished -> seen by job_poll on the WAL stage). Costs two clock reads per
 * event; used for every WAL row, reported for the batch-of-1 rows. */
struct tjob {
    zn_disk_job_fn fn;
    void *arg;
    uint64_t t_sub, t_start, t_end, write_ns, sync_ns, other_ns;
};
#define TJOBS 64
static struct tjob tjobs[TJOBS];
static uint64_t tjob_next;
static struct zn_disk inner;
static _Thread_local struct tjob *cur_job; /* the job running on the syncer (one at a time) */
static struct zn_hist h_wake, h_write, h_sync, h_other, h_seen, h_encode;

static int t_open(void *c, const char *n, int f, int *fd)
{
    (void)c;
    return zn_disk_open(&inner, n, f, fd);
}
static void t_close(void *c, int fd)
{
    (void)c;
    zn_disk_close(&inner, fd);
}
static long t_pread(void *c, int fd, void *b, size_t l, uint64_t o)
{
    (void)c;
    return zn_disk_pread(&inner, fd, b, l, o);
}
static int t_pwrite(void *c, int fd, const void *b, size_t l, uint64_t o)
{
    (void)c;
    uint64_t t0 = now_ns();
    int rc = zn_disk_pwrite(&inner, fd, b, l, o);
    if (cur_job != NULL) {
        cur_job->write_ns += now_ns() - t0;
    }
    return rc;
}
static int t_fdatasync(void *c, int fd)
{
    (void)c;
    uint64_t t0 = now_ns();
    int rc = zn_disk_fdatasync(&inner, fd);
    if (cur_job != NULL) {
        cur_job->sync_ns += now_ns() - t0;
    }
    return rc;
}
static int t_fsync_dir(void *c)
{
    (void)c;
    uint64_t t0 = now_ns();
    int rc = zn_disk_fsync_dir(&inner);
    if (cur_job != NULL) {
        cur_job->other_ns += now_ns() - t0;
    }
    return rc;
}
static int t_rename(void *c, const char *a, const char *b)
{
    (void)c;
    uint64_t t0 = now_ns();
    int rc = zn_disk_rename(&inner, a, b);
    if (cur_job != NULL) {
        cur_job->other_ns += now_ns() - t0;
    }
    return rc;
}
static int t_unlink(void *c, const char *n)
{
    (void)c;
    return zn_disk_unlink(&inner, n);
}
static int t_fallocate(void *c, int fd, uint64_t o, uint64_t l)
{
    (void)c;
    uint64_t t0 = now_ns();
    int rc = zn_disk_fallocate(&inner, fd, o, l);
    if (cur_job != NULL) {
        cur_job->other_ns += now_ns() - t0;
    }
    return rc;
}
static int t_truncate(void *c, int fd, uint64_t s)
{
    (void)c;
    return zn_disk_truncate(&inner, fd, s);
}
static int t_size(void *c, int fd, uint64_t *s)
{
    (void)c;
    return zn_disk_size(&inner, fd, s);
}
static int t_list(void *c, int (*fn)(void *, const char *), void *a)
{
    (void)c;
    return zn_disk_list(&inner, fn, a);
}
static void t_tramp(void *arg)
{
    struct tjob *j = arg;
    j->t_start = now_ns();
    cur_job = j;
    j->fn(j->arg);
    cur_job = NULL;
    j->t_end = now_ns();
}
static int t_job_submit(void *c, zn_disk_job_fn fn, void *arg)
{
    (void)c;
    struct tjob *j = &tjobs[tjob_next++ % TJOBS];
    *j = (struct tjob){.fn = fn, .arg = arg, .t_sub = now_ns()};
    return zn_disk_job_submit(&inner, t_tramp, j);
}
static int t_job_poll(void *c, void **args, int max)
{
    (void)c;
    int n = zn_disk_job_poll(&inner, args, max);
    uint64_t t = now_ns();
    for (int i = 0; i < n; i++) {
        struct tjob *j = args[i];
        zn_hist_record(&h_wake, j->t_start - j->t_sub);
        zn_hist_record(&h_write, j->write_ns);
        zn_hist_record(&h_sync, j->sync_ns);
        zn_hist_record(&h_other, j->t_end - j->t_start - j->write_ns - j->sync_ns);
        zn_hist_record(&h_seen, t - j->t_end);
        args[i] = j->arg;
    }
    return n;
}
static const struct zn_disk_ops timed_ops = {
    .open = t_open,
    .close = t_close,
    .pread = t_pread,
    .pwrite = t_pwrite,
    .fdatasync = t_fdatasync,
    .fsync_dir = t_fsync_dir,
    .rename = t_rename,
    .unlink = t_unlink,
    .fallocate = t_fallocate,
    .truncate = t_truncate,
    .size = t_size,
    .list = t_list,
    .job_submit = t_job_submit,
    .job_poll = t_job_poll,
};

/* ---- the raw floor ----------------------------------------------------------------------------- */

/* A floor file: fallocated (unwritten extents, which ext4 converts on first write - a metadata
 * change the fdatasync must journal) or zero-filled (written extents: an fdatasync is the data
 * plus a device flush). Writes append and wrap; a fallocated file is recreated on wrap (untimed)
 * so that it stays unwritten. */
#define FLOOR_FILE_BYTES (128ull * 1024 * 1024)
struct floor_file {
    int fd;
    bool zero;
    uint64_t off;
    char path[600];
};

static void floor_prepare(struct floor_file *f)
{
    if (ftruncate(f->fd, 0) != 0 || posix_fallocate(f->fd, 0, (off_t)FLOOR_FILE_BYTES) != 0) {
        perror("floor file");
        exit(1);
    }
    if (f->zero) {
        char *z = calloc(1, 1 << 20);
        for (uint64_t off = 0; off < FLOOR_FILE_BYTES; off += 1 << 20) {
            if (pwrite(f->fd, z, 1 << 20, (off_t)off) != 1 << 20) {
                perror("zero fill");
                exit(1);
            }
        }
        free(z);
    }
    if (fsync(f->fd) != 0) {
        perror("floor fsync");
        exit(1);
    }
    f->off = 0;
}

static void floor_open(struct floor_file *f, const char *dir, bool zero)
{
    snprintf(f->path, sizeof(f->path), "%s/floor-%s.dat", dir, zero ? "zero" : "falloc");
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    f->zero = zero;
    if (f->fd < 0) {
        perror("floor open");
        exit(1);
    }
    floor_prepare(f);
}

static void floor_close(struct floor_file *f)
{
    close(f->fd);
    unlink(f->path);
}

/* One sample: pwrite + fdatasync of len bytes appended at the file's cursor. */
/* The syscalls of one floor sample, timed where they run. */
struct floor_op {
    struct floor_file *f;
    const void *buf;
    uint64_t len;
    uint64_t ns;
};

static void floor_syscalls(void *arg)
{
    struct floor_op *op = arg;
    uint64_t t0 = now_ns();
    if (pwrite(op->f->fd, op->buf, op->len, (off_t)op->f->off) != (ssize_t)op->len ||
        fdatasync(op->f->fd) != 0) {
        perror("floor write");
        exit(1);
    }
    op->ns = now_ns() - t0;
}

/* One sample: pwrite + fdatasync of len bytes appended at the file's cursor. With a disk (the
 * WAL rows), the two syscalls run as a job on that disk's syncer thread while this thread waits
 * the way the WAL stage does, so that the floor sees the same thread and CPU conditions as the
 * WAL's own write + fdatasync; only the syscalls are timed. The WAL must be idle. */
static uint64_t floor_sample_on(struct zn_disk *disk, struct floor_file *f, const void *buf,
                                uint64_t len)
{
    if (f->off + len > FLOOR_FILE_BYTES) {
        if (f->zero) {
            f->off = 0;
        } else {
            floor_prepare(f);
        }
    }
    struct floor_op op = {.f = f, .buf = buf, .len = len};
    if (disk == NULL) {
        floor_syscalls(&op);
    } else {
        if (zn_disk_job_submit(disk, floor_syscalls, &op) != 0) {
            fprintf(stderr, "floor job submit failed\n");
            exit(1);
        }
        void *arg;
        for (long spins = 0; zn_disk_job_poll(disk, &arg, 1) != 1; spins++) {
            if (spins > 200) {
                sched_yield();
            }
        }
    }
    f->off += len;
    return op.ns;
}

static struct floor_file ff_falloc, ff_zero;

static struct zn_disk floor_disk; /* its syncer thread runs the raw floor's syscalls */

static void floor_run(size_t wsize, uint64_t budget_ms)
{
    char *buf = malloc(wsize);
    memset(buf, 0xA5, wsize);
    static struct zn_hist hf, hz;
    zn_hist_reset(&hf);
    zn_hist_reset(&hz);
    uint64_t end = now_ns() + budget_ms * 1000000ull;
    for (int i = 0; i < 100000 && now_ns() < end; i++) {
        if (i % 2 == 0) {
            zn_hist_record(&hf, floor_sample_on(&floor_disk, &ff_falloc, buf, wsize));
            zn_hist_record(&hz, floor_sample_on(&floor_disk, &ff_zero, buf, wsize));
        } else {
            zn_hist_record(&hz, floor_sample_on(&floor_disk, &ff_zero, buf, wsize));
            zn_hist_record(&hf, floor_sample_on(&floor_disk, &ff_falloc, buf, wsize));
        }
    }
    printf("| %zu B | %llu | %.1f | %.1f | %.1f | %.1f | %.2fx |\n", wsize,
           (unsigned long long)hf.count, zn_hist_percentile(&hf, 50) / 1000.0,
           zn_hist_percentile(&hf, 99) / 1000.0, zn_hist_percentile(&hz, 50) / 1000.0,
           zn_hist_percentile(&hz, 99) / 1000.0,
           (double)zn_hist_percentile(&hf, 50) / (double)zn_hist_percentile(&hz, 50));
    free(buf);
}

/* ---- the WAL ------------------------------------------------------------------------------------ */

/* Flush and wait until nothing is open or in flight: spin briefly, then yield (the syncer
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

/* Poll until the WAL's spare segment is ready (bounded: 60 s). */
static void wait_spare(struct zn_wal *w)
{
    for (int i = 0; i < 600000; i++) {
        struct zn_wal_stats st;
        zn_wal_stats(w, &st);
        if (st.spare_ready) {
            return;
        }
        struct zn_wal_persisted p;
        (void)zn_wal_poll(w, &p);
        usleep(100);
    }
    fprintf(stderr, "the spare segment was not ready after 60 s\n");
    exit(1);
}

struct b1_row {
    uint32_t esize;
    bool spare;
    uint64_t encode, wake, write, sync, other, seen, total;
};
static struct b1_row b1_rows[6];
static int nb1;

/* spare = false: the disk is given no background runner, so the WAL prepares no spare segment
 * and creates every segment in the commit path with fallocate (the behaviour before spares) */
static double wal_run(const char *dir, uint32_t batch, uint32_t esize, uint64_t budget_ms,
                      bool spare)
{
    char sub[512];
    snprintf(sub, sizeof(sub), "%s/wal-%u-%u", dir, batch, esize);
    void *mem = aligned_alloc(64, (zn_disk_posix_size() + 63) & ~(size_t)63);
    if (zn_disk_posix_init(&inner, mem, sub) != 0) {
        fprintf(stderr, "disk init failed\n");
        exit(1);
    }
    /* background jobs (the spare segment) go straight to the POSIX disk, untimed */
    struct zn_disk d = {.ops = &timed_ops,
                        .ctx = NULL,
                        .bg_ops = spare ? inner.bg_ops : NULL,
                        .bg_ctx = spare ? inner.bg_ctx : NULL};
    uint64_t batch_bytes = (uint64_t)batch * (esize + 64) + 4096;
    struct zn_wal_config c;
    memset(&c, 0, sizeof(c));
    c.disk = &d;
    c.alloc = (struct zn_allocator){b_alloc, b_free, NULL};
    c.cluster_id = 1;
    c.node_id = 1;
    c.entry_bytes_max = esize;
    c.batch_bytes = (uint32_t)batch_bytes;
    c.spare_eager = true; /* the first segment starts in a spare: the steady state at once */
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
    uint64_t index = 1;
    if (spare) {
        /* steady state, untimed: the first segment starts in a spare (eager; a running node
         * prepares its next spare once the active segment is a quarter full) */
        wait_spare(w);
        if (zn_wal_append(w, 1, 1, index++, payload, esize) != 0) {
            fprintf(stderr, "append failed\n");
            exit(1);
        }
        wait_persisted(w);
    }
    /* the paired floors: exactly the bytes of one batch of records, appended contiguously like
     * the WAL does, pwrite + fdatasync into a fallocated and into a zero-filled file, sampled
     * alternately with the WAL so that all three see the same disk and load */
    static struct zn_hist hf, hz;
    zn_hist_reset(&hist);
    zn_hist_reset(&hf);
    zn_hist_reset(&hz);
    zn_hist_reset(&h_wake);
    zn_hist_reset(&h_write);
    zn_hist_reset(&h_sync);
    zn_hist_reset(&h_other);
    zn_hist_reset(&h_seen);
    zn_hist_reset(&h_encode);
    uint64_t fbytes = (uint64_t)batch * (((uint64_t)esize + 36 + 7) & ~7ull);
    char *fbuf = malloc(fbytes);
    memset(fbuf, 0x5A, fbytes);
    uint64_t entries = 0;
    struct zn_wal_stats st0, st1;
    zn_wal_stats(w, &st0);
    uint64_t start = now_ns(), end = start + budget_ms * 1000000ull;
    for (int b = 0; b < 1000000 && now_ns() < end; b++) {
        /* the three samples in a rotating order: none always follows another's device flush */
        if (b % 3 == 0) {
            zn_hist_record(&hf, floor_sample_on(&inner, &ff_falloc, fbuf, fbytes));
            zn_hist_record(&hz, floor_sample_on(&inner, &ff_zero, fbuf, fbytes));
        } else if (b % 3 == 1) {
            zn_hist_record(&hz, floor_sample_on(&inner, &ff_zero, fbuf, fbytes));
        }
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
        zn_hist_record(&h_encode, now_ns() - t0);
        wait_persisted(w);
        zn_hist_record(&hist, now_ns() - t0);
        entries += batch;
        if (b % 3 == 1) {
            zn_hist_record(&hf, floor_sample_on(&inner, &ff_falloc, fbuf, fbytes));
        } else if (b % 3 == 2) {
            zn_hist_record(&hz, floor_sample_on(&inner, &ff_zero, fbuf, fbytes));
            zn_hist_record(&hf, floor_sample_on(&inner, &ff_falloc, fbuf, fbytes));
        }
        if (zn_wal_segment_count(w) > 3) {
            zn_wal_compact(w, zn_wal_durable_index(w)); /* bound disk use */
        }
    }
    zn_wal_stats(w, &st1);
    uint64_t segs =
        st1.rotations_spare + st1.rotations_created - st0.rotations_spare - st0.rotations_created;
    /* entries/s over the WAL's own time (the paired floor samples excluded) */
    double secs = (double)hist.sum / 1e9;
    double eps = (double)entries / secs;
    uint64_t p50 = zn_hist_percentile(&hist, 50);
    uint64_t fp50 = zn_hist_percentile(&hf, 50), zp50 = zn_hist_percentile(&hz, 50);
    printf("| %u x %u B%s | %llu | %llu | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2fx | "
           "%.2fx | %.0f |\n",
           batch, esize, spare ? "" : " no spare", (unsigned long long)hist.count,
           (unsigned long long)segs, eps, p50 / 1000.0, zn_hist_percentile(&hist, 99) / 1000.0,
           fp50 / 1000.0, zn_hist_percentile(&hf, 99) / 1000.0, zp50 / 1000.0,
           zn_hist_percentile(&hz, 99) / 1000.0, (double)p50 / (double)fp50,
           (double)p50 / (double)zp50, eps * esize / 1e6);
    fflush(stdout);
    if (batch == 1 && nb1 < 6) {
        b1_rows[nb1++] = (struct b1_row){.esize = esize,
                                         .spare = spare,
                                         .encode = zn_hist_percentile(&h_encode, 50),
                                         .wake = zn_hist_percentile(&h_wake, 50),
                                         .write = zn_hist_percentile(&h_write, 50),
                                         .sync = zn_hist_percentile(&h_sync, 50),
                                         .other = zn_hist_percentile(&h_other, 50),
                                         .seen = zn_hist_percentile(&h_seen, 50),
                                         .total = p50};
    }
    free(fbuf);
    zn_wal_close(w);
    zn_disk_posix_fini(&inner);
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
    bool compare = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--quick") == 0) {
            ms = 200;
        } else if (strcmp(argv[i], "--compare") == 0) {
            compare = true;
        } else {
            fprintf(stderr, "usage: %s [--dir DIR] [--ms MS_PER_CONFIG] [--quick] [--compare]\n",
                    argv[0]);
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
    floor_open(&ff_falloc, dir, false);
    floor_open(&ff_zero, dir, true);
    static _Alignas(64) char floor_mem[1 << 16];
    if (zn_disk_posix_size() > sizeof(floor_mem) ||
        zn_disk_posix_init(&floor_disk, floor_mem, dir)) {
        fprintf(stderr, "floor disk init failed\n");
        return 1;
    }
    printf("raw floor: pwrite + fdatasync appended to a fallocated and to a zero-filled file, "
           "sampled alternately, run on a disk syncer thread (as the WAL's are) and timed around "
           "the two syscalls:\n\n");
    printf("| write | samples | fallocated p50 us | p99 us | zero-filled p50 us | p99 us | "
           "fallocated / zero-filled |\n|---|---|---|---|---|---|---|\n");
    floor_run(4096, ms / 2);
    floor_run(65536, ms / 2);
    floor_run(1024 * 1024, ms / 2);
    printf("\nWAL commits (append a batch, flush, wait for persisted) with two paired floor "
           "samples (pwrite + fdatasync of the same bytes appended to a fallocated file and to a "
           "zero-filled file, run on the WAL's syncer thread and timed around the two syscalls), "
           "the three taken in a rotating order; segs = segments the run started:\n\n");
    printf("| batch x entry | batches | segs | entries/s | p50 us | p99 us | falloc floor p50 | "
           "p99 | zero floor p50 | p99 | p50 / falloc floor | p50 / zero floor | payload MB/s "
           "|\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    static const uint32_t batches[] = {1, 8, 64, 512};
    static const uint32_t sizes[] = {64, 1024, 65536};
    for (size_t s = 0; s < 3; s++) {
        for (size_t b = 0; b < 4; b++) {
            if (compare) {
                wal_run(dir, batches[b], sizes[s], ms, false);
            }
            wal_run(dir, batches[b], sizes[s], ms, true);
        }
    }
    printf("\nbatch-of-1 commit, where the time goes (p50 of each part, us): encode = append "
           "(record + CRC32C) on the WAL stage; wake = submit -> job starts on the syncer; "
           "write/sync = the job's pwrite/fdatasync; rest = the rest of the job; seen = job end "
           "-> completion seen by the WAL stage:\n\n");
    printf("| entry | commit p50 | encode | wake | write | fdatasync | rest of job | seen |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nb1; i++) {
        struct b1_row *r = &b1_rows[i];
        printf("| %u B%s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", r->esize,
               r->spare ? "" : " no spare", r->total / 1000.0, r->encode / 1000.0, r->wake / 1000.0,
               r->write / 1000.0, r->sync / 1000.0, r->other / 1000.0, r->seen / 1000.0);
    }
    printf("\n");
    floor_close(&ff_falloc);
    floor_close(&ff_zero);
    zn_disk_posix_fini(&floor_disk);
    loadavg(la1, sizeof(la1));
    printf("load average at end: %s\n", la1);
    if (strcmp(dir, tmpl) == 0) {
        rmdir(dir);
    }
    return 0;
}
