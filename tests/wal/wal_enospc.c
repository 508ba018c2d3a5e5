/*
 * wal_enospc.c - ENOSPC on a real file system (suite wal).
 *
 * Creates a 16 MiB ext4 image, loop-mounts it in a temporary directory, and fills it with WAL
 * segments through the POSIX disk (syncer thread). Checks: the WAL reports ZN_ENOSPC from
 * zn_wal_poll; nothing unpersisted is acknowledged (deferred items of the stuck batch are not
 * released, the durable index stays); after a remount the log holds exactly the acknowledged
 * entries; compaction behind a snapshot frees space and the waiting batch then persists.
 * Skipped (exit 77) with a message only when not root or loop devices/mkfs are unavailable.
 * Everything it creates is removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "wal_test.h"

#define SEGB  (1024u * 1024u)
#define BATCH (64u * 1024u)
#define EMAX  4096u

static char dir[64], img[128], mnt[128];

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), fmt, a, b);
    return system(cmd);
}

static void cleanup(void)
{
    sh("umount %s 2>/dev/null; true%s", mnt, "");
    sh("rm -rf %s%s", dir, "");
}

static int mount_img(void)
{
    return sh("mount -o loop %s %s 2>/dev/null", img, mnt);
}

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: the ENOSPC test needs root to loop-mount an ext4 image\n");
        return 77;
    }
    snprintf(dir, sizeof(dir), "/tmp/zn-enospc-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(img, sizeof(img), "%s/img", dir);
    snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
    if (sh("truncate -s 16M %s && mkdir %s", img, mnt) != 0 ||
        sh("mkfs.ext4 -q -F -b 4096 -m 0 -J size=4 %s >/dev/null 2>&1%s", img, "") != 0) {
        printf("SKIP: mkfs.ext4 unavailable\n");
        cleanup();
        return 77;
    }
    if (mount_img() != 0) {
        printf("SKIP: loop devices are unavailable (mount -o loop failed)\n");
        cleanup();
        return 77;
    }
    int fails = 0;
#define CHECK(c, ...)                           \
    do {                                        \
        if (!(c)) {                             \
            fails++;                            \
            printf("FAIL line %d: ", __LINE__); \
            printf(__VA_ARGS__);                \
            printf("\n");                       \
        }                                       \
    } while (0)
    char wdir[160];
    snprintf(wdir, sizeof(wdir), "%s/data", mnt);
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk d;
    int rc = zn_disk_posix_init(&d, mem, wdir);
    CHECK(rc == 0, "posix disk: %s", zn_strerror(rc));
    struct zn_wal_config c = wt_config(&d, SEGB, BATCH, EMAX);
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    rc = zn_wal_open(&w, &c, NULL, NULL, &rec);
    CHECK(rc == 0, "open: %s", rec.report.message);
    static uint8_t p[EMAX];
    static int tokens[1];
    uint64_t next = 1, acked = 0, released = 0, deferred = 0;
    int enospc = 0;
    for (long round = 0; round < 2000000 && enospc == 0; round++) {
        uint32_t len = wt_len(next, 1, EMAX);
        wt_payload(next, 1, p, len);
        if (zn_wal_append(w, (uint16_t)(1 + next % 3), 1, next, p, len) == 0) {
            zn_wal_defer(w, tokens);
            deferred++;
            next++;
        }
        zn_wal_flush(w);
        struct zn_wal_persisted pr;
        rc = zn_wal_poll(w, &pr);
        if (rc == 1) {
            acked = pr.index;
            released += pr.nitems;
        } else if (rc == ZN_ENOSPC) {
            enospc++;
        } else if (rc == 0) {
            pause_us(20);
        }
    }
    CHECK(enospc == 1, "ENOSPC reported by zn_wal_poll (got %d)", enospc);
    CHECK(zn_wal_durable_index(w) == acked, "durable index = acknowledged");
    CHECK(released == acked, "released items (%llu) = acknowledged entries (%llu)",
          (unsigned long long)released, (unsigned long long)acked);
    CHECK(acked + 1 < next, "entries were waiting for space");
    printf("filled the 16 MiB ext4 image: %llu entries acknowledged, %llu waiting, then ENOSPC\n",
           (unsigned long long)acked, (unsigned long long)(next - 1 - acked));
    /* the retry fails again while the disk is full */
    for (int i = 0; i < 100000; i++) {
        if (zn_wal_flush(w) == 1) {
            break;
        }
    }
    struct zn_wal_persisted pr;
    for (int i = 0; i < 200000; i++) {
        rc = zn_wal_poll(w, &pr);
        if (rc != 0) {
            break;
        }
        pause_us(20);
    }
    CHECK(rc == ZN_ENOSPC, "retry on a full disk: ZN_ENOSPC (got %d)", rc);
    zn_wal_close(w);
    zn_disk_posix_fini(&d);
    /* remount: exactly the acknowledged entries are there */
    CHECK(sh("umount %s%s", mnt, "") == 0, "umount");
    CHECK(mount_img() == 0, "remount");
    rc = zn_disk_posix_init(&d, mem, wdir);
    struct wt_log l;
    wt_log_init(&l, EMAX);
    rc = zn_wal_open(&w, &c, wt_collect, &l, &rec);
    CHECK(rc == 0, "reopen: %s", rec.report.message);
    CHECK(!l.bad, "%s", l.why);
    CHECK(l.last == acked, "recovered %llu entries, acknowledged %llu", (unsigned long long)l.last,
          (unsigned long long)acked);
    /* compaction behind a snapshot frees space; appending works again */
    if (rc == 0) {
        int removed = zn_wal_compact(w, acked / 2);
        CHECK(removed > 0, "compaction removed %d segments", removed);
        CHECK(wt_append_range(w, acked + 1, acked + 200, 1, EMAX) == 0, "append after compaction");
        CHECK(zn_wal_durable_index(w) == acked + 200, "durable after compaction");
        zn_wal_close(w);
    }
    wt_log_free(&l);
    zn_disk_posix_fini(&d);
    free(mem);
    cleanup();
    printf("wal ENOSPC on loop ext4: %s\n",
           fails ? "FAILED" : "ok (nothing unpersisted acknowledged)");
    return fails ? 1 : 0;
}
