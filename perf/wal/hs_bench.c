/*
 * hs_bench.c - cost of one hard-state update (write + fdatasync) on the real disk: format 2 (two
 * copies of the slot, 8 KiB apart, one fdatasync: zn_hardstate_write) against the format-1
 * pattern (one 80-byte copy, alternating between offsets 0 and 4096 of an 8 KiB preallocated
 * file, then fdatasync), measured in the same run, alternately, so both see the same disk and
 * the same neighbours. Both go through the POSIX disk of store/disk.h. A third row measures the
 * layout that was not chosen: the two copies of a slot in adjacent blocks (one contiguous I/O).
 *
 * Usage: hs_bench [--dir DIR] [--n UPDATES] [--ms MAX_MS]
 * Default directory /var/tmp/zn-hs-bench-XXXXXX (removed at the end). Not a test: the machine
 * is shared, read the ratio of the two p50s, not the absolute numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "common/zn_hist.h"
#include "store/disk.h"
#include "store/hardstate.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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

static void die(const char *what, int rc)
{
    fprintf(stderr, "hs_bench: %s: %s\n", what, zn_strerror(rc));
    exit(1);
}

static struct zn_hist h_v1, h_v2, h_adj;

static void row(const char *name, struct zn_hist *h)
{
    printf("| %s | %llu | %.1f | %.1f | %.1f |\n", name, (unsigned long long)h->count,
           zn_hist_percentile(h, 50) / 1000.0, zn_hist_percentile(h, 90) / 1000.0,
           zn_hist_percentile(h, 99) / 1000.0);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    uint64_t n = 2000, ms = 20000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            ms = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [--dir DIR] [--n UPDATES] [--ms MAX_MS]\n", argv[0]);
            return 2;
        }
    }
    char tmpl[] = "/var/tmp/zn-hs-bench-XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmpl);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    }
    static uint8_t disk_mem[1 << 16];
    if (zn_disk_posix_size() > sizeof(disk_mem)) {
        fprintf(stderr, "hs_bench: disk context too large\n");
        return 1;
    }
    struct zn_disk disk;
    int rc = zn_disk_posix_init(&disk, disk_mem, dir);
    if (rc != 0) {
        die("disk", rc);
    }
    /* format 2: the real code */
    struct zn_hardstate_file hf;
    struct zn_hardstate hs;
    struct zn_disk_report rep;
    rc = zn_hardstate_open(&hf, &disk, 1, 1, true, &hs, &rep);
    if (rc != 0) {
        die(rep.message, rc);
    }
    /* format-1 pattern: 8 KiB preallocated, one copy per update, alternating blocks */
    int fd1;
    rc = zn_disk_open(&disk, "hardstate-v1", ZN_DISK_CREATE, &fd1);
    if (rc == 0) {
        rc = zn_disk_fallocate(&disk, fd1, 0, 2 * ZN_HARDSTATE_BLOCK);
    }
    if (rc != 0) {
        die("format-1 file", rc);
    }
    int fda;
    rc = zn_disk_open(&disk, "hardstate-adjacent", ZN_DISK_CREATE, &fda);
    if (rc == 0) {
        rc = zn_disk_fallocate(&disk, fda, 0, ZN_HARDSTATE_FILE_SIZE);
    }
    if (rc != 0) {
        die("adjacent-layout file", rc);
    }
    uint8_t rec[ZN_HARDSTATE_SLOT_SIZE];
    char la0[128], la1[128];
    loadavg(la0, sizeof(la0));
    printf("hs_bench: dir %s, up to %llu updates each (max %llu ms), load average at start: %s\n\n",
           dir, (unsigned long long)n, (unsigned long long)ms, la0);
    uint64_t end = now_ns() + ms * 1000000ull;
    for (uint64_t i = 0; i < n + 8 && now_ns() < end; i++) {
        struct zn_hardstate st = {.term = i + 1, .vote = (uint32_t)(i % 3), .commit = i * 10};
        /* rotate which one goes first, so none always follows the same other's sync */
        for (int k = 0; k < 3; k++) {
            int which = (int)((k + i) % 3);
            uint64_t t0 = now_ns();
            if (which == 0) {
                rc = zn_hardstate_write(&hf, &st);
            } else if (which == 2) {
                zn_hardstate_slot_encode(rec, 1, 1, i + 1, &st);
                uint64_t base = ((i + 1) % 2) * 2 * ZN_HARDSTATE_BLOCK;
                rc = zn_disk_pwrite(&disk, fda, rec, sizeof(rec), base);
                if (rc == 0) {
                    rc = zn_disk_pwrite(&disk, fda, rec, sizeof(rec), base + ZN_HARDSTATE_BLOCK);
                }
                if (rc == 0) {
                    rc = zn_disk_fdatasync(&disk, fda);
                }
            } else {
                zn_hardstate_slot_encode(rec, 1, 1, i + 1, &st);
                rc = zn_disk_pwrite(&disk, fd1, rec, sizeof(rec),
                                    ((i + 1) % 2) * ZN_HARDSTATE_BLOCK);
                if (rc == 0) {
                    rc = zn_disk_fdatasync(&disk, fd1);
                }
            }
            uint64_t dt = now_ns() - t0;
            if (rc != 0) {
                die("update", rc);
            }
            if (i >= 8) { /* the first updates convert the preallocated (unwritten) extents */
                zn_hist_record(which == 0 ? &h_v2 : which == 1 ? &h_v1 : &h_adj, dt);
            }
        }
    }
    loadavg(la1, sizeof(la1));
    printf("| hard-state update (write + fdatasync) | updates | p50 us | p90 us | p99 us |\n");
    printf("|---|---|---|---|---|\n");
    row("format 1: one 80 B copy", &h_v1);
    row("format 2: two 80 B copies, 8 KiB apart", &h_v2);
    row("(not chosen) two copies in adjacent blocks", &h_adj);
    double p1 = (double)zn_hist_percentile(&h_v1, 50), p2 = (double)zn_hist_percentile(&h_v2, 50);
    double pa = (double)zn_hist_percentile(&h_adj, 50);
    printf(
        "\np50 format 2 / format 1: %.2f, adjacent copies / format 1: %.2f\nload average at end: "
        "%s\n",
        p1 > 0 ? p2 / p1 : 0.0, p1 > 0 ? pa / p1 : 0.0, la1);
    zn_hardstate_close(&hf);
    zn_disk_close(&disk, fd1);
    zn_disk_close(&disk, fda);
    (void)zn_disk_unlink(&disk, "hardstate-v1");
    (void)zn_disk_unlink(&disk, "hardstate-adjacent");
    (void)zn_disk_unlink(&disk, ZN_HARDSTATE_FILE);
    zn_disk_posix_fini(&disk);
    if (strcmp(dir, tmpl) == 0) {
        rmdir(dir);
    }
    return 0;
}
