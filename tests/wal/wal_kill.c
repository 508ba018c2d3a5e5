/*
 * wal_kill.c - acknowledged entries survive SIGKILL of the process, on real files (suite wal).
 *
 * Five rounds on one data directory: a child process opens the WAL (POSIX disk, syncer thread),
 * recovers, and appends random batches, writing every acknowledged index to a pipe only after
 * zn_wal_poll released it; the parent kills it with SIGKILL after a random delay, then recovers
 * the log itself and checks that every acknowledged entry is there with the right payload and
 * that recovery never refuses. The next round's child continues the same log.
 */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "wal_test.h"

#define EMAX 600u

static struct zn_wal_config config(struct zn_disk *d)
{
    return wt_config(d, 256 * 1024, 16 * 1024, EMAX);
}

static void child(const char *dir, int fd, uint64_t seed)
{
    void *mem = malloc(zn_disk_posix_size());
    struct zn_disk d;
    if (zn_disk_posix_init(&d, mem, dir) != 0) {
        _exit(3);
    }
    struct zn_wal_config c = config(&d);
    struct zn_wal *w;
    struct zn_wal_recovery rec;
    if (zn_wal_open(&w, &c, NULL, NULL, &rec) != 0) {
        _exit(4);
    }
    struct zn_prng prng;
    zn_prng_seed(&prng, seed);
    uint64_t next = zn_wal_last_index(w) + 1;
    static uint8_t p[EMAX];
    for (long round = 0; round < 10000000; round++) {
        uint64_t n = zn_prng_range(&prng, 1, 20);
        if (next > WT_ENTRIES_MAX - 1000) {
            n = 0; /* the checker's range is full: idle until killed */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        for (uint64_t k = 0; k < n; k++) {
            uint32_t len = wt_len(next, 1, EMAX);
            wt_payload(next, 1, p, len);
            if (zn_wal_append(w, (uint16_t)(1 + next % 3), 1, next, p, len) != 0) {
                break;
            }
            next++;
        }
        zn_wal_flush(w);
        struct zn_wal_persisted pr;
        int rc = zn_wal_poll(w, &pr);
        if (rc == 1 && pr.op == ZN_WAL_OP_NONE) {
            if (write(fd, &pr.index, sizeof(pr.index)) != (ssize_t)sizeof(pr.index)) {
                _exit(5);
            }
        } else if (rc < 0) {
            _exit(6);
        } else if (rc == 0) {
            sched_yield();
        }
    }
    _exit(0);
}

int main(void)
{
    char dir[] = "/tmp/zn-wal-kill-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    int fails = 0;
    uint64_t total_acked = 0;
    struct zn_prng prng;
    zn_prng_seed(&prng, 77);
    for (int round = 0; round < 5; round++) {
        int pfd[2];
        if (pipe(pfd) != 0) {
            perror("pipe");
            return 1;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            child(dir, pfd[1], (uint64_t)round + 1);
        }
        close(pfd[1]);
        struct timespec ts = {0, (long)zn_prng_range(&prng, 50, 300) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        uint64_t acked = 0, v;
        while (read(pfd[0], &v, sizeof(v)) == (ssize_t)sizeof(v)) {
            acked = v > acked ? v : acked;
        }
        close(pfd[0]);
        if (!WIFSIGNALED(status)) {
            printf("FAIL round %d: the child exited by itself (status %d)\n", round, status);
            fails++;
        }
        void *mem = malloc(zn_disk_posix_size());
        struct zn_disk d;
        if (zn_disk_posix_init(&d, mem, dir) != 0) {
            return 1;
        }
        struct zn_wal_config c = config(&d);
        struct wt_log l;
        wt_log_init(&l, EMAX);
        struct zn_wal *w;
        struct zn_wal_recovery rec;
        int rc = zn_wal_open(&w, &c, wt_collect, &l, &rec);
        if (rc != 0 || l.bad || l.last < acked) {
            printf("FAIL round %d: rc=%d (%s) bad=%d recovered up to %llu, acknowledged %llu\n",
                   round, rc, rec.report.message, l.bad, (unsigned long long)l.last,
                   (unsigned long long)acked);
            fails++;
        } else {
            printf("round %d: killed after acknowledging %llu, recovered %llu entries (%s)\n",
                   round, (unsigned long long)acked, (unsigned long long)l.last,
                   rec.report.message);
            zn_wal_close(w);
        }
        total_acked = acked;
        wt_log_free(&l);
        zn_disk_posix_fini(&d);
        free(mem);
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        printf("cleanup failed\n");
    }
    printf("wal SIGKILL test: 5 kills, last acknowledged %llu, lost=%s\n",
           (unsigned long long)total_acked, fails ? "SOME (FAIL)" : "0");
    return fails ? 1 : 0;
}
