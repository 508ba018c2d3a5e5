/*
 * wal_eio_real.c - helper for eio_strace.py: appends 100 entries through the POSIX disk (real
 * files, syncer thread) into the directory argv[1], then reopens and verifies them. Run under
 * `strace -e inject=fdatasync:error=EIO` it must stop with the fail-stop message (abort).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common/zn_err.h"
#include "wal_test.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <dir>\n", argv[0]);
        return 2;
    }
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk d;
    if (zn_disk_posix_init(&d, mem, argv[1]) != 0) {
        return 1;
    }
    struct zn_wal_config c = wt_config(&d, 256 * 1024, 8192, 512);
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    if (zn_wal_open(&w, &c, NULL, NULL, &rec) != 0) {
        fprintf(stderr, "open: %s\n", rec.report.message);
        return 1;
    }
    for (uint64_t i = 1; i <= 100; i += 10) {
        int rc = wt_append_range(w, i, i + 9, 1, 512);
        if (rc != 0) {
            fprintf(stderr, "append: %s\n", zn_strerror(rc));
            return 1;
        }
    }
    zn_wal_close(w);
    struct wt_log l;
    wt_log_init(&l, 512);
    if (zn_wal_open(&w, &c, wt_collect, &l, &rec) != 0 || l.bad || l.last != 100) {
        fprintf(stderr, "reopen: %s\n", rec.report.message);
        return 1;
    }
    zn_wal_close(w);
    wt_log_free(&l);
    zn_disk_posix_fini(&d);
    free(mem);
    printf("100 entries persisted and recovered\n");
    return 0;
}
