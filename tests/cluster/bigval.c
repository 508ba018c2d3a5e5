/*
 * bigval.c - large znode values end to end through libzinc (tests/cluster/bigval.sh drives it).
 *
 *   zn-bigval HOST[,HOST...] write PREFIX      one session on the first HOST (no shuffle):
 *                                              creates PREFIX, then for every size of the list
 *                                              creates PREFIX/<size> with pattern A and sets it
 *                                              to pattern B; then a value of data_bytes_max + 1
 *                                              must be refused (client side: ZN_ELIMIT, and
 *                                              with the client limit raised: by the node)
 *   zn-bigval HOST[,HOST...] verify PREFIX     through each HOST separately (sync first): every
 *                                              PREFIX/<size> holds pattern B byte-exact, with
 *                                              stat.data_length == size and version 1
 *   zn-bigval HOST[,HOST...] stream PATH N [SIZE]
 *                                              N setData of SIZE bytes (default 1 MiB, at most
 *                                              16 MiB: the node's [limits] data_bytes_max must
 *                                              allow it) on PATH (created if missing) through
 *                                              one session: more than the consensus core's
 *                                              byte window (64 MiB, proposals stop at half)
 *                                              unless snapshots compact it; each value is read
 *                                              back and compared
 *
 * Sizes: 0, 1, 64 KiB, 256 KiB, 512 KiB, 1 MiB - 1, 1 MiB (the default [limits] data_bytes_max,
 * ZooKeeper's jute.maxbuffer). The patterns are PRNG bytes seeded by (size, pattern), so a
 * misplaced or truncated segment cannot go unnoticed. Every call has a bounded request timeout;
 * the program prints each size with the time it took and exits 1 on the first failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/zinc.h"
#include "common/zn_limits.h"
#include "common/zn_prng.h"

#define HOSTS_MAX 16
#define LIMIT     ((int32_t)ZN_DATA_SIZE_DEFAULT_BYTES)

static const int32_t sizes[] = {0, 1, 64 * 1024, 256 * 1024, 512 * 1024, LIMIT - 1, LIMIT};
#define N_SIZES ((int)(sizeof(sizes) / sizeof(sizes[0])))

static uint32_t request_timeout_ms = 20000;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fill(char *buf, int32_t len, int32_t size, uint64_t pattern)
{
    struct zn_prng p;
    zn_prng_seed(&p, ((uint64_t)(uint32_t)size << 8) ^ pattern ^ 0x9e3779b97f4a7c15ull);
    zn_prng_fill(&p, buf, (size_t)len);
}

static int open_one(const char *host, int32_t data_max, zn_handle **out)
{
    struct zn_options o;
    zn_options_init(&o);
    o.cluster_id = 1;
    o.session_timeout_ms = 20000;
    o.connect_timeout_ms = 20000;
    o.request_timeout_ms = request_timeout_ms;
    o.shuffle_nodes = false;
    o.data_bytes_max = data_max;
    int rc = zn_open(host, &o, out);
    if (rc != 0)
        fprintf(stderr, "zn-bigval: zn_open(%s): %s\n", host, zn_strerror(rc));
    return rc;
}

static int fail(const char *what, int32_t size, int rc)
{
    printf("zn-bigval: FAILED: %s size %" PRId32 ": %s (%d)\n", what, size, zn_strerror(rc), rc);
    return 1;
}

static int cmd_write(const char *hosts, const char *prefix)
{
    zn_handle *zh;
    if (open_one(hosts, LIMIT, &zh) != 0)
        return 1;
    char *buf = malloc((size_t)LIMIT + 1);
    if (!buf)
        return 1;
    int rc = zn_create(zh, prefix, "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc != 0 && rc != ZN_ENODEEXISTS)
        return fail("create parent", 0, rc);
    for (int i = 0; i < N_SIZES; i++) {
        int32_t sz = sizes[i];
        char path[256];
        snprintf(path, sizeof(path), "%s/%" PRId32, prefix, sz);
        uint64_t t0 = now_ms();
        fill(buf, sz, sz, 1);
        struct zn_stat st;
        rc = zn_create(zh, path, buf, sz, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, &st);
        if (rc != 0)
            return fail("create", sz, rc);
        if (st.data_length != sz)
            return fail("create stat.data_length", sz, ZN_EPROTO);
        uint64_t t1 = now_ms();
        fill(buf, sz, sz, 2);
        rc = zn_set(zh, path, buf, sz, 0, &st);
        if (rc != 0)
            return fail("set", sz, rc);
        if (st.data_length != sz || st.version != 1)
            return fail("set stat", sz, ZN_EPROTO);
        int32_t len = LIMIT + 1;
        memset(buf, 0, (size_t)sz);
        rc = zn_get(zh, path, 0, buf, &len, &st);
        if (rc != 0)
            return fail("get", sz, rc);
        char *want = malloc((size_t)sz + 1);
        fill(want, sz, sz, 2);
        bool same = len == sz && memcmp(buf, want, (size_t)sz) == 0;
        free(want);
        if (!same)
            return fail("get (bytes differ)", sz, ZN_EPROTO);
        printf("zn-bigval: %s: create %" PRIu64 " ms, set+get %" PRIu64 " ms\n", path, t1 - t0,
               now_ms() - t1);
    }
    /* one byte over the limit: refused by the client without sending */
    char path[256];
    snprintf(path, sizeof(path), "%s/over", prefix);
    rc = zn_create(zh, path, buf, LIMIT + 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc != ZN_ELIMIT)
        return fail("create over the limit (client side, want ZN_ELIMIT)", LIMIT + 1, rc);
    zn_close(zh);
    /* ... and by the node when the client's own limit is raised */
    if (open_one(hosts, 2 * LIMIT, &zh) != 0)
        return 1;
    uint64_t t0 = now_ms();
    rc = zn_create(zh, path, buf, LIMIT + 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc == 0 || rc == ZN_ETIMEDOUT)
        return fail("create over the limit (node side)", LIMIT + 1, rc);
    printf("zn-bigval: %s size %d refused by the node: %s (%" PRIu64 " ms)\n", path, LIMIT + 1,
           zn_strerror(rc), now_ms() - t0);
    rc = zn_set(zh, prefix, buf, LIMIT + 1, -1, NULL);
    if (rc == 0 || rc == ZN_ETIMEDOUT)
        return fail("set over the limit (node side)", LIMIT + 1, rc);
    /* the session still works after the refusals */
    rc = zn_exists(zh, path, 0, NULL);
    if (rc != ZN_ENONODE)
        return fail("exists after the refusal (want NONODE)", LIMIT + 1, rc);
    zn_close(zh);
    free(buf);
    printf("zn-bigval: write through %s: %d sizes up to %d bytes, %d+1 refused\n", hosts, N_SIZES,
           LIMIT, LIMIT);
    return 0;
}

static int verify_one(const char *host, const char *prefix)
{
    zn_handle *zh;
    if (open_one(host, LIMIT, &zh) != 0)
        return 1;
    int rc = zn_sync(zh, prefix);
    if (rc != 0)
        return fail("sync", 0, rc);
    char *buf = malloc((size_t)LIMIT + 1);
    char *want = malloc((size_t)LIMIT + 1);
    if (!buf || !want)
        return 1;
    uint64_t bytes = 0;
    for (int i = 0; i < N_SIZES; i++) {
        int32_t sz = sizes[i];
        char path[256];
        snprintf(path, sizeof(path), "%s/%" PRId32, prefix, sz);
        struct zn_stat st;
        int32_t len = LIMIT + 1;
        rc = zn_get(zh, path, 0, buf, &len, &st);
        if (rc != 0)
            return fail(host, sz, rc);
        fill(want, sz, sz, 2);
        if (len != sz || st.data_length != sz || st.version != 1 ||
            memcmp(buf, want, (size_t)sz) != 0) {
            printf("zn-bigval: FAILED: %s via %s: len %" PRId32 " data_length %" PRId32
                   " version %" PRId32 " (bytes %s)\n",
                   path, host, len, st.data_length, st.version,
                   len == sz && memcmp(buf, want, (size_t)sz) == 0 ? "equal" : "differ");
            return 1;
        }
        bytes += (uint64_t)sz;
    }
    free(buf);
    free(want);
    zn_close(zh);
    printf("zn-bigval: verify via %s: %d values, %" PRIu64 " bytes byte-exact\n", host, N_SIZES,
           bytes);
    return 0;
}

static int cmd_stream(const char *hosts, const char *path, int n, int32_t size)
{
    zn_handle *zh;
    if (open_one(hosts, size, &zh) != 0)
        return 1;
    char *buf = malloc((size_t)size);
    char *back = malloc((size_t)size);
    if (!buf || !back)
        return 1;
    int rc = zn_create(zh, path, "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc != 0 && rc != ZN_ENODEEXISTS)
        return fail("create", 0, rc);
    uint64_t t0 = now_ms();
    for (int i = 0; i < n; i++) {
        fill(buf, size, size, 100u + (uint64_t)i);
        rc = zn_set(zh, path, buf, size, -1, NULL);
        if (rc != 0) {
            printf("zn-bigval: FAILED: set number %d of %d (%" PRId32 " bytes): %s\n", i + 1, n,
                   size, zn_strerror(rc));
            return 1;
        }
        int32_t len = size;
        struct zn_stat st;
        rc = zn_get(zh, path, 0, back, &len, &st);
        if (rc != 0 || len != size || memcmp(buf, back, (size_t)size) != 0) {
            printf("zn-bigval: FAILED: get after set number %d: %s, %d bytes\n", i + 1,
                   zn_strerror(rc), (int)len);
            return 1;
        }
    }
    printf("zn-bigval: stream %s: %d x %" PRId32 " bytes set and read back in %" PRIu64 " ms\n",
           path, n, size, now_ms() - t0);
    free(buf);
    free(back);
    zn_close(zh);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && !strcmp(argv[2], "stream")) {
        long size = argc == 6 ? strtol(argv[5], NULL, 10) : LIMIT;
        if (size < 1 || size > (long)ZN_DATA_SIZE_MAX_BYTES) {
            fprintf(stderr, "zn-bigval: stream SIZE must be 1..%u\n", ZN_DATA_SIZE_MAX_BYTES);
            return 2;
        }
        return cmd_stream(argv[1], argv[3], (int)strtol(argv[4], NULL, 10), (int32_t)size);
    }
    if (argc != 4) {
        fprintf(stderr,
                "usage: zn-bigval HOST[,HOST...] write|verify PREFIX | stream PATH N [SIZE]\n");
        return 2;
    }
    if (!strcmp(argv[2], "write"))
        return cmd_write(argv[1], argv[3]);
    if (!strcmp(argv[2], "verify")) {
        char hosts[1024];
        snprintf(hosts, sizeof(hosts), "%s", argv[1]);
        int n = 0;
        for (char *save = NULL, *h = strtok_r(hosts, ",", &save); h && n < HOSTS_MAX;
             h = strtok_r(NULL, ",", &save), n++)
            if (verify_one(h, argv[3]) != 0)
                return 1;
        return 0;
    }
    fprintf(stderr, "zn-bigval: unknown command %s\n", argv[2]);
    return 2;
}
