/*
 * floors.c - the floors a replicated write is compared against (DESIGN.md section 10):
 *
 *  udp-busy      kernel UDP ping-pong on 127.0.0.1, both sides polling with MSG_DONTWAIT
 *  udp-blocking  the same with blocking recv (the thread sleeps in the kernel)
 *  fdatasync     pwrite of 4 KiB into a preallocated, already-written file + fdatasync
 *
 * Each is one message / one write in flight, measured with a monotonic clock into a zn_hist;
 * the first 10% of iterations (at most 1000) are warm-up and not recorded. Every loop is
 * bounded by an iteration count and a deadline; a lost datagram aborts the run after 1 s.
 * Traffic stays on 127.0.0.1; the file lives in --dir (use the disk the servers write to).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/zn_clock.h"
#include "common/zn_hist.h"

#define MSG_BYTES       64
#define WRITE_BYTES     4096
#define FILE_BYTES      (64u * 1024u * 1024u)
#define LOSS_TIMEOUT_NS (1000ull * 1000ull * 1000ull)

static uint64_t now_ns(void)
{
    return zn_clock_raw_monotonic_ns(NULL);
}

struct echo {
    int fd;
    bool busy;
    atomic_bool stop;
};

/* Echo server: returns every datagram to its sender until told to stop. */
static void *echo_main(void *arg)
{
    struct echo *e = arg;
    char buf[MSG_BYTES];
    while (!atomic_load_explicit(&e->stop, memory_order_relaxed)) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(e->fd, buf, sizeof(buf), e->busy ? MSG_DONTWAIT : 0,
                             (struct sockaddr *)&from, &fl);
        if (n > 0) {
            sendto(e->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
    }
    return NULL;
}

static int udp_socket(struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr->sin_port = 0;
    socklen_t len = sizeof(*addr);
    /* 100 ms receive timeout: a blocking echo thread re-checks its stop flag that often. */
    struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
    if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
        getsockname(fd, (struct sockaddr *)addr, &len) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One ping-pong run; returns 0 or -1 with a message. */
static int udp_pingpong(bool busy, uint64_t iters, uint64_t deadline_ns, struct zn_hist *h,
                        char *err, size_t err_len)
{
    struct sockaddr_in srv;
    struct sockaddr_in cli;
    struct echo e = {.busy = busy};
    atomic_init(&e.stop, false);
    e.fd = udp_socket(&srv);
    int fd = udp_socket(&cli);
    if (e.fd < 0 || fd < 0 || connect(fd, (struct sockaddr *)&srv, sizeof(srv)) != 0) {
        snprintf(err, err_len, "udp socket on 127.0.0.1: %s", strerror(errno));
        if (e.fd >= 0) {
            close(e.fd);
        }
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, echo_main, &e) != 0) {
        snprintf(err, err_len, "pthread_create failed");
        close(e.fd);
        close(fd);
        return -1;
    }
    char msg[MSG_BYTES];
    char back[MSG_BYTES];
    memset(msg, 0x5a, sizeof(msg));
    uint64_t warm = iters / 10 < 1000 ? iters / 10 : 1000;
    int rc = 0;
    for (uint64_t i = 0; i < iters + warm && rc == 0; i++) {
        uint64_t t0 = now_ns();
        if (t0 > deadline_ns) {
            break;
        }
        memcpy(msg, &i, sizeof(i));
        if (send(fd, msg, sizeof(msg), 0) != (ssize_t)sizeof(msg)) {
            snprintf(err, err_len, "send: %s", strerror(errno));
            rc = -1;
            break;
        }
        for (;;) {
            ssize_t n = recv(fd, back, sizeof(back), busy ? MSG_DONTWAIT : 0);
            if (n == (ssize_t)sizeof(back) && memcmp(back, &i, sizeof(i)) == 0) {
                break;
            }
            if (now_ns() - t0 > LOSS_TIMEOUT_NS) {
                snprintf(err, err_len, "datagram %" PRIu64 " not echoed within 1 s", i);
                rc = -1;
                break;
            }
        }
        if (rc == 0 && i >= warm) {
            zn_hist_record(h, now_ns() - t0);
        }
    }
    atomic_store(&e.stop, true);
    pthread_join(th, NULL);
    close(e.fd);
    close(fd);
    return rc;
}

static int fsync_floor(const char *dir, uint64_t iters, uint64_t deadline_ns, struct zn_hist *h,
                       char *err, size_t err_len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/zinc-floors.%d.dat", dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    unlink(path); /* gone when closed, even if we are killed */
    static char block[WRITE_BYTES] __attribute__((aligned(4096)));
    memset(block, 0, sizeof(block));
    int rc = posix_fallocate(fd, 0, FILE_BYTES);
    /* Write the whole file once so later writes change no extent state, only data. */
    for (uint64_t off = 0; rc == 0 && off < FILE_BYTES; off += sizeof(block)) {
        if (pwrite(fd, block, sizeof(block), (off_t)off) != (ssize_t)sizeof(block)) {
            rc = errno ? errno : EIO;
        }
    }
    if (rc == 0 && fsync(fd) != 0) {
        rc = errno;
    }
    if (rc != 0) {
        snprintf(err, err_len, "preparing %s: %s", path, strerror(rc));
        close(fd);
        return -1;
    }
    uint64_t warm = iters / 10 < 100 ? iters / 10 : 100;
    uint64_t slots = FILE_BYTES / WRITE_BYTES;
    for (uint64_t i = 0; i < iters + warm; i++) {
        uint64_t t0 = now_ns();
        if (t0 > deadline_ns) {
            break;
        }
        memcpy(block, &i, sizeof(i));
        if (pwrite(fd, block, sizeof(block), (off_t)((i % slots) * WRITE_BYTES)) !=
                (ssize_t)sizeof(block) ||
            fdatasync(fd) != 0) {
            snprintf(err, err_len, "write/fdatasync: %s", strerror(errno));
            close(fd);
            return -1;
        }
        if (i >= warm) {
            zn_hist_record(h, now_ns() - t0);
        }
    }
    close(fd);
    return 0;
}

static json_t *hist_json(const struct zn_hist *h)
{
    json_t *j = json_object();
    json_object_set_new(j, "count", json_integer((json_int_t)h->count));
    json_object_set_new(j, "p50_ns", json_integer((json_int_t)zn_hist_percentile(h, 50)));
    json_object_set_new(j, "p90_ns", json_integer((json_int_t)zn_hist_percentile(h, 90)));
    json_object_set_new(j, "p99_ns", json_integer((json_int_t)zn_hist_percentile(h, 99)));
    json_object_set_new(j, "max_ns", json_integer((json_int_t)(h->count ? h->max : 0)));
    return j;
}

static void usage(FILE *f)
{
    fputs("usage: floors [--udp-iters N] [--fsync-iters N] [--dir DIR] [--max-seconds S]\n"
          "              [--json FILE] [--only udp|fsync]\n"
          "Measures the floors zinc is compared against: kernel UDP ping-pong RTT on\n"
          "127.0.0.1 (busy MSG_DONTWAIT polling, then blocking recv) and pwrite(4 KiB) +\n"
          "fdatasync into a preallocated file in DIR (default /var/tmp). Defaults: 20000 UDP\n"
          "round trips per mode, 2000 fdatasyncs, at most 20 s per measurement.\n",
          f);
}

static int parse_u64(const char *flag, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = v ? strtoull(v, &end, 10) : 0;
    if (v == NULL || errno || end == v || *end || v[0] == '-' || x < lo || x > hi) {
        fprintf(stderr, "floors: %s: '%s' must be a whole number in %" PRIu64 "..%" PRIu64 "\n",
                flag, v ? v : "", lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t udp_iters = 20000;
    uint64_t fsync_iters = 2000;
    uint64_t max_s = 20;
    const char *dir = "/var/tmp";
    const char *json_path = NULL;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--udp-iters") == 0) {
            if (parse_u64(a, v, 1, 10000000, &udp_iters) != 0) {
                return 2;
            }
            i++;
        } else if (strcmp(a, "--fsync-iters") == 0) {
            if (parse_u64(a, v, 1, 1000000, &fsync_iters) != 0) {
                return 2;
            }
            i++;
        } else if (strcmp(a, "--max-seconds") == 0) {
            if (parse_u64(a, v, 1, 3600, &max_s) != 0) {
                return 2;
            }
            i++;
        } else if (strcmp(a, "--dir") == 0 && v != NULL) {
            dir = v;
            i++;
        } else if (strcmp(a, "--json") == 0 && v != NULL) {
            json_path = v;
            i++;
        } else if (strcmp(a, "--only") == 0 && v != NULL &&
                   (strcmp(v, "udp") == 0 || strcmp(v, "fsync") == 0)) {
            only = v;
            i++;
        } else {
            fprintf(stderr, "floors: bad argument '%s'%s (see --help)\n", a,
                    v == NULL ? " or missing value" : "");
            return 2;
        }
    }
    struct zn_hist *h = calloc(3, sizeof(*h));
    if (h == NULL) {
        return 1;
    }
    for (int k = 0; k < 3; k++) {
        zn_hist_reset(&h[k]);
    }
    char err[8192];
    const char *names[3] = {"udp-busy", "udp-blocking", "fdatasync"};
    bool ran[3] = {false, false, false};
    for (int k = 0; k < 3; k++) {
        bool is_udp = k < 2;
        if (only != NULL && strcmp(only, is_udp ? "udp" : "fsync") != 0) {
            continue;
        }
        uint64_t deadline = now_ns() + max_s * 1000000000ull;
        int rc = is_udp ? udp_pingpong(k == 0, udp_iters, deadline, &h[k], err, sizeof(err))
                        : fsync_floor(dir, fsync_iters, deadline, &h[k], err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "floors: %s: %s\n", names[k], err);
            free(h);
            return 1;
        }
        ran[k] = true;
    }
    printf("%-13s %8s %10s %10s %10s %10s\n", "floor", "count", "p50(us)", "p90(us)", "p99(us)",
           "max(us)");
    json_t *root = json_object();
    json_object_set_new(root, "tool", json_string("floors"));
    json_object_set_new(root, "dir", json_string(dir));
    for (int k = 0; k < 3; k++) {
        if (!ran[k]) {
            continue;
        }
        printf("%-13s %8" PRIu64 " %10.2f %10.2f %10.2f %10.2f\n", names[k], h[k].count,
               zn_hist_percentile(&h[k], 50) / 1e3, zn_hist_percentile(&h[k], 90) / 1e3,
               zn_hist_percentile(&h[k], 99) / 1e3, (h[k].count ? h[k].max : 0) / 1e3);
        json_object_set_new(root, names[k], hist_json(&h[k]));
    }
    int rc = 0;
    if (json_path != NULL && json_dump_file(root, json_path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "floors: --json: cannot write '%s'\n", json_path);
        rc = 1;
    }
    json_decref(root);
    free(h);
    return rc;
}
