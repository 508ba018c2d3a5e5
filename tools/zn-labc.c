/*
 * zn-labc.c - the lab's client: what `make demo` shows and what the cluster tests
 * (tests/cluster/) drive, everything through libzinc except `junk` (raw datagrams).
 *
 *   zn-labc [-c cluster-id] [-t request-timeout-ms] [-s] HOSTS COMMAND ARGS
 *   (-s: sessions start at the first host of HOSTS instead of a random one)
 *
 *   demo PATH                  create/get/set/getChildren and a data watch firing (two sessions)
 *   load PREFIX N SECS ACKED [EPH] [AT CMD]
 *                              N sync creates PREFIX/k ("v<k>") one at a time for at most SECS s;
 *                              every acknowledged key is appended to file ACKED; EPH: an
 *                              ephemeral created first and checked at the end (same session
 *                              id, still present, ours); at write number AT, runs CMD (sh -c)
 *   verify ACKED PREFIX        through each host of HOSTS separately (sync first): every key of
 *                              ACKED present with its value; prints lost (must be 0)
 *   digest PATH                through each host separately (sync first): the subtree's node
 *                              count and a hash of (path, data, version, owner); exit 1 if the
 *                              hosts differ
 *   sets PATH N                N sync setData on PATH then N sequential creates under it;
 *                              checks version == N and N children (exactly-once under retries)
 *   expiry PATH TIMEOUT_MS     a child process creates the ephemeral PATH and is SIGKILLed; a
 *                              second session's watch must see it deleted; checked on each host
 *   junk N                     N bad datagrams to each host (random bytes, fuzzed headers,
 *                              wrong cluster id, bad checksum, oversize), then a session must
 *                              still create/get through each host
 *   ops PATH                   every libzinc call (sync, async, watches, ACLs, auth, multi) with
 *                              its results and errors checked, sessions on the first and last host
 *   try PATH                   open a session and create PATH; exit 0 only if that succeeded
 *   exists PATH                exit 0 if PATH exists (through the first host that answers)
 *
 * Exit status: 0 when the checks passed, 1 when one failed, 2 for bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/zinc.h"
#include "common/zn_prng.h"
#include "proto/frame.h"

#define HOSTS_MAX 16

static uint32_t cluster_id = 1;
static uint32_t request_timeout_ms = 3000;
static bool no_shuffle; /* -s: start at the first host (to put a session on a chosen node) */
static char hosts_all[1024];
static char host_list[HOSTS_MAX][64];
static int n_hosts;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int open_session(const char *hosts, uint32_t timeout_ms, uint32_t connect_ms,
                        zn_watcher_fn watcher, void *ctx, zn_handle **out)
{
    struct zn_options o;
    zn_options_init(&o);
    o.cluster_id = cluster_id;
    o.session_timeout_ms = timeout_ms;
    o.connect_timeout_ms = connect_ms;
    o.request_timeout_ms = request_timeout_ms;
    o.watcher = watcher;
    o.watcher_ctx = ctx;
    o.shuffle_nodes = !no_shuffle;
    int rc = zn_open(hosts, &o, out);
    if (rc != 0)
        fprintf(stderr, "zn-labc: zn_open(%s): %s\n", hosts, zn_strerror(rc));
    return rc;
}

/* ---- demo ---------------------------------------------------------------------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int events_seen;
static int event_type;
static char event_path[256];
static uint64_t event_ms;

static void on_event(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_SESSION)
        return;
    pthread_mutex_lock(&mu);
    event_type = type;
    snprintf(event_path, sizeof(event_path), "%s", path);
    event_ms = now_ms();
    events_seen++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int wait_events(int want, unsigned timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (events_seen < want)
        if (pthread_cond_timedwait(&cv, &mu, &dl) != 0)
            break;
    int got = events_seen;
    pthread_mutex_unlock(&mu);
    return got >= want;
}

static const char *event_name(int type)
{
    switch (type) {
    case ZN_EVENT_CREATED:
        return "NodeCreated";
    case ZN_EVENT_DELETED:
        return "NodeDeleted";
    case ZN_EVENT_CHANGED:
        return "NodeDataChanged";
    case ZN_EVENT_CHILD:
        return "NodeChildrenChanged";
    default:
        return "other";
    }
}

static int fail(const char *what, int rc)
{
    printf("FAILED: %s: %s\n", what, zn_strerror(rc));
    return 1;
}

static int cmd_demo(const char *path)
{
    zn_handle *a, *b;
    if (open_session(hosts_all, 10000, 10000, NULL, NULL, &a) != 0)
        return 1;
    if (open_session(hosts_all, 10000, 10000, on_event, NULL, &b) != 0)
        return 1;
    printf("session A 0x%016" PRIx64 " on %s, session B 0x%016" PRIx64 " on %s\n",
           (uint64_t)zn_session_id(a), host_list[zn_current_node(a)], (uint64_t)zn_session_id(b),
           host_list[zn_current_node(b)]);
    char created[256];
    struct zn_stat st;
    int rc = zn_create(a, path, "hello", 5, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, created,
                       sizeof(created), &st);
    if (rc != 0)
        return fail("create", rc);
    printf("A: create %s \"hello\" -> ok, czxid 0x%" PRIx64 "\n", created, (uint64_t)st.czxid);
    char buf[256];
    int32_t len = sizeof(buf);
    /* B is another session, maybe on another node: as with ZooKeeper, sync first to be sure
     * to see A's write (each session alone reads its own writes). */
    rc = zn_sync(b, path);
    if (rc != 0)
        return fail("sync", rc);
    rc = zn_get(b, path, 1, buf, &len, &st); /* leaves a data watch for B's watcher */
    if (rc != 0)
        return fail("get", rc);
    printf("B: sync, get %s -> \"%.*s\" version %d (data watch set)\n", path, len, buf, st.version);
    uint64_t t0 = now_ms();
    rc = zn_set(a, path, "world", 5, st.version, &st);
    if (rc != 0)
        return fail("set", rc);
    printf("A: set %s \"world\" (expected version 0) -> ok, version %d, mzxid 0x%" PRIx64 "\n",
           path, st.version, (uint64_t)st.mzxid);
    if (!wait_events(1, 5000)) {
        printf("FAILED: B's watch did not fire within 5 s\n");
        return 1;
    }
    printf("B: watch fired: %s on %s, %llu ms after the set was sent\n", event_name(event_type),
           event_path, (unsigned long long)(event_ms - t0));
    len = sizeof(buf);
    rc = zn_get(b, path, 0, buf, &len, &st);
    if (rc != 0)
        return fail("get", rc);
    printf("B: get %s -> \"%.*s\" version %d\n", path, len, buf, st.version);
    rc = zn_set(a, path, "stale", 5, 0, NULL);
    printf("A: set %s with expected version 0 -> %s (expected: bad version)\n", path,
           zn_strerror(rc));
    if (rc != ZN_EBADVERSION)
        return 1;
    char child[300];
    snprintf(child, sizeof(child), "%s/lock-", path);
    rc = zn_create(a, child, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL_SEQUENTIAL, 0, created,
                   sizeof(created), NULL);
    if (rc != 0)
        return fail("create ephemeral sequential", rc);
    printf("A: create %s (ephemeral, sequential) -> %s\n", child, created);
    struct zn_strings kids;
    rc = zn_sync(b, path);
    if (rc == 0)
        rc = zn_get_children(b, path, 0, &kids);
    if (rc != 0)
        return fail("getChildren", rc);
    printf("B: sync, getChildren %s -> [", path);
    for (int i = 0; i < kids.count; i++)
        printf("%s%s", i ? ", " : "", kids.data[i]);
    printf("]\n");
    zn_strings_free(&kids);
    zn_close(a);
    zn_close(b);
    return 0;
}

/* ---- load ---------------------------------------------------------------------------------- */

static void split_hosts(const char *s)
{
    snprintf(hosts_all, sizeof(hosts_all), "%s", s);
    n_hosts = 0;
    const char *p = s;
    while (*p && n_hosts < HOSTS_MAX) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l >= sizeof(host_list[0]))
            l = sizeof(host_list[0]) - 1;
        memcpy(host_list[n_hosts], p, l);
        host_list[n_hosts][l] = '\0';
        n_hosts++;
        p = e ? e + 1 : p + l;
    }
}

static int cmd_load(const char *prefix, long n, long secs, const char *acked_file, const char *eph,
                    long at, const char *at_cmd)
{
    zn_handle *zh;
    if (open_session(hosts_all, 6000, 10000, NULL, NULL, &zh) != 0)
        return 1;
    int64_t sid = zn_session_id(zh);
    FILE *f = fopen(acked_file, "a");
    if (!f) {
        perror(acked_file);
        return 1;
    }
    int rc = zn_create(zh, prefix, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc != 0 && rc != ZN_ENODEEXISTS)
        return fail("create prefix", rc);
    if (eph) {
        rc = zn_create(zh, eph, "e", 1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, NULL);
        if (rc != 0)
            return fail("create ephemeral", rc);
    }
    uint64_t until = now_ms() + (uint64_t)secs * 1000u;
    long acked = 0, errors = 0, timeouts = 0, k;
    uint64_t t0 = now_ms();
    for (k = 1; k <= n && now_ms() < until; k++) {
        if (k == at && at_cmd) {
            fflush(stdout);
            int src = system(at_cmd);
            printf("load: after %ld acknowledged writes ran \"%s\" (status %d)\n", acked, at_cmd,
                   src);
        }
        char path[256], val[32];
        snprintf(path, sizeof(path), "%s/k%06ld", prefix, k);
        int vl = snprintf(val, sizeof(val), "v%ld", k);
        rc = zn_create(zh, path, val, vl, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
        if (rc == 0) {
            fprintf(f, "%s %s\n", path, val);
            fflush(f);
            acked++;
        } else if (rc == ZN_ETIMEDOUT) {
            timeouts++; /* outcome unknown: not counted as acknowledged */
        } else {
            errors++;
            if (errors <= 3)
                printf("load: create %s: %s\n", path, zn_strerror(rc));
            if (rc == ZN_ESESSIONEXPIRED)
                break;
        }
    }
    fclose(f);
    double secs_taken = (double)(now_ms() - t0) / 1000.0;
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    printf("load: %ld writes sent in %.1f s, %ld acknowledged, %ld timed out (outcome unknown), "
           "%ld failed; retransmits %llu, reconnects %llu\n",
           k - 1, secs_taken, acked, timeouts, errors, (unsigned long long)cs.retransmits,
           (unsigned long long)cs.reconnects);
    int bad = errors > 0 || acked == 0;
    if (zn_session_id(zh) != sid || zn_state(zh) != ZN_STATE_CONNECTED) {
        printf("FAILED: session 0x%016" PRIx64 " not kept (now 0x%016" PRIx64 ", state %d)\n",
               (uint64_t)sid, (uint64_t)zn_session_id(zh), zn_state(zh));
        bad = 1;
    } else {
        printf("load: session 0x%016" PRIx64 " survived, now on %s\n", (uint64_t)sid,
               host_list[zn_current_node(zh)]);
    }
    if (eph) {
        struct zn_stat st;
        zn_sync(zh, eph);
        rc = zn_exists(zh, eph, 0, &st);
        if (rc != 0 || st.ephemeral_owner != sid) {
            printf("FAILED: ephemeral %s: %s, owner 0x%016" PRIx64 "\n", eph, zn_strerror(rc),
                   (uint64_t)st.ephemeral_owner);
            bad = 1;
        } else {
            printf("load: ephemeral %s survived (owner is this session)\n", eph);
        }
    }
    zn_close(zh);
    return bad;
}

/* ---- verify / digest ----------------------------------------------------------------------- */

static int cmd_verify(const char *acked_file, const char *prefix)
{
    int bad = 0;
    for (int h = 0; h < n_hosts; h++) {
        zn_handle *zh;
        if (open_session(host_list[h], 6000, 8000, NULL, NULL, &zh) != 0)
            return 1;
        int rc = zn_sync(zh, prefix);
        if (rc != 0)
            return fail("sync", rc);
        FILE *f = fopen(acked_file, "r");
        if (!f) {
            perror(acked_file);
            return 1;
        }
        char path[256], val[64];
        long acked = 0, present = 0, lost = 0;
        while (fscanf(f, "%255s %63s", path, val) == 2) {
            acked++;
            char buf[64];
            int32_t len = sizeof(buf) - 1;
            rc = zn_get(zh, path, 0, buf, &len, NULL);
            if (rc == 0 && len == (int32_t)strlen(val) && memcmp(buf, val, (size_t)len) == 0) {
                present++;
            } else {
                lost++;
                if (lost <= 5)
                    printf("LOST: %s (%s) through %s: %s\n", path, val, host_list[h],
                           rc ? zn_strerror(rc) : "wrong value");
            }
        }
        fclose(f);
        struct zn_stat st;
        rc = zn_exists(zh, prefix, 0, &st);
        printf("verify through %s: %ld acknowledged writes, %ld read back, lost %ld; %s has %d "
               "children\n",
               host_list[h], acked, present, lost, prefix, rc == 0 ? st.num_children : -1);
        if (lost || acked == 0 || rc != 0 || st.num_children < acked)
            bad = 1;
        zn_close(zh);
    }
    return bad;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int walk(zn_handle *zh, const char *path, uint64_t *hash, long *count)
{
    static char buf[1 << 20];
    int32_t len = sizeof(buf);
    struct zn_stat st;
    int rc = zn_get(zh, path, 0, buf, &len, &st);
    if (rc != 0)
        return rc;
    *hash = fnv(*hash, path, strlen(path) + 1);
    if (len > 0)
        *hash = fnv(*hash, buf, (size_t)len);
    *hash = fnv(*hash, &st.version, sizeof(st.version));
    *hash = fnv(*hash, &st.ephemeral_owner, sizeof(st.ephemeral_owner));
    *hash = fnv(*hash, &st.czxid, sizeof(st.czxid));
    (*count)++;
    struct zn_strings kids;
    rc = zn_get_children(zh, path, 0, &kids);
    if (rc != 0)
        return rc;
    /* children come unordered: sort for a stable walk */
    for (int i = 1; i < kids.count; i++)
        for (int j = i; j > 0 && strcmp(kids.data[j - 1], kids.data[j]) > 0; j--) {
            char *t = kids.data[j];
            kids.data[j] = kids.data[j - 1];
            kids.data[j - 1] = t;
        }
    for (int i = 0; i < kids.count && rc == 0; i++) {
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s/%s", strcmp(path, "/") ? path : "", kids.data[i]);
        rc = walk(zh, sub, hash, count);
    }
    zn_strings_free(&kids);
    return rc;
}

static int cmd_digest(const char *path)
{
    uint64_t first = 0;
    int bad = 0;
    for (int h = 0; h < n_hosts; h++) {
        zn_handle *zh;
        if (open_session(host_list[h], 6000, 8000, NULL, NULL, &zh) != 0)
            return 1;
        int rc = zn_sync(zh, path);
        uint64_t hash = 0xcbf29ce484222325ull;
        long count = 0;
        if (rc == 0)
            rc = walk(zh, path, &hash, &count);
        if (rc != 0)
            return fail("digest walk", rc);
        printf("digest through %s: %s has %ld znodes, hash %016" PRIx64 "\n", host_list[h], path,
               count, hash);
        if (h == 0)
            first = hash;
        else if (hash != first)
            bad = 1;
        zn_close(zh);
    }
    if (bad)
        printf("FAILED: the replicas differ\n");
    return bad;
}

/* ---- sets (exactly once) ------------------------------------------------------------------- */

static int cmd_sets(const char *path, long n)
{
    zn_handle *zh;
    if (open_session(hosts_all, 6000, 10000, NULL, NULL, &zh) != 0)
        return 1;
    int rc = zn_create(zh, path, "0", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    if (rc != 0)
        return fail("create", rc);
    struct zn_stat st = {0};
    for (long k = 1; k <= n; k++) {
        char v[32];
        int vl = snprintf(v, sizeof(v), "%ld", k);
        rc = zn_set(zh, path, v, vl, -1, &st);
        if (rc != 0)
            return fail("set", rc);
        if (st.version != k) {
            printf("FAILED: set number %ld gave version %d (applied more than once)\n", k,
                   st.version);
            return 1;
        }
    }
    for (long k = 1; k <= n; k++) {
        char c[300];
        snprintf(c, sizeof(c), "%s/s-", path);
        rc = zn_create(zh, c, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT_SEQUENTIAL, 0, NULL, 0,
                       NULL);
        if (rc != 0)
            return fail("create sequential", rc);
    }
    zn_sync(zh, path);
    rc = zn_exists(zh, path, 0, &st);
    if (rc != 0)
        return fail("exists", rc);
    struct zn_client_stats cs;
    zn_get_stats(zh, &cs);
    printf("sets: %ld setData -> version %d, %ld sequential creates -> %d children; client sent "
           "%llu datagrams for %llu requests\n",
           n, st.version, n, st.num_children, (unsigned long long)cs.datagrams_sent,
           (unsigned long long)cs.requests_sent);
    zn_close(zh);
    return !(st.version == n && st.num_children == n);
}

/* ---- session expiry ------------------------------------------------------------------------ */

static int cmd_expiry(const char *path, long timeout_ms)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return 1;
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        close(pfd[0]);
        zn_handle *zh;
        if (open_session(hosts_all, (uint32_t)timeout_ms, 10000, NULL, NULL, &zh) != 0)
            _exit(1);
        if (zn_create(zh, path, "x", 1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, NULL) != 0)
            _exit(1);
        int32_t t = zn_session_timeout_ms(zh);
        if (write(pfd[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
            _exit(1);
        for (;;)
            pause();
    }
    close(pfd[1]);
    int32_t granted = 0;
    ssize_t r = read(pfd[0], &granted, sizeof(granted));
    close(pfd[0]);
    zn_handle *zh;
    if (r != (ssize_t)sizeof(granted) || open_session(hosts_all, 10000, 10000, NULL, NULL, &zh)) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        printf("FAILED: the session holding the ephemeral did not start\n");
        return 1;
    }
    struct zn_stat st;
    int rc = zn_wexists(zh, path, on_event, NULL, &st);
    if (rc != 0)
        return fail("exists watch", rc);
    kill(child, SIGKILL); /* the session's client vanishes without closing */
    waitpid(child, NULL, 0);
    uint64_t t0 = now_ms();
    printf("expiry: client holding %s (session timeout %d ms) killed with SIGKILL\n", path,
           granted);
    int ok = wait_events(1, (unsigned)granted * 4 + 3000);
    if (!ok || event_type != ZN_EVENT_DELETED) {
        printf("FAILED: no NodeDeleted event within %d ms\n", granted * 4 + 3000);
        return 1;
    }
    printf("expiry: watch fired %s on %s %llu ms after the kill\n", event_name(event_type),
           event_path, (unsigned long long)(event_ms - t0));
    zn_close(zh);
    int bad = 0;
    for (int h = 0; h < n_hosts; h++) {
        if (open_session(host_list[h], 6000, 8000, NULL, NULL, &zh) != 0)
            return 1;
        zn_sync(zh, path);
        rc = zn_exists(zh, path, 0, NULL);
        printf("expiry: through %s %s %s\n", host_list[h], path,
               rc == ZN_ENONODE ? "is gone" : "STILL EXISTS");
        bad |= rc != ZN_ENONODE;
        zn_close(zh);
    }
    return bad;
}

/* ---- bad datagrams ------------------------------------------------------------------------- */

static int parse_addr(const char *hp, struct sockaddr_in *sa)
{
    char host[64];
    size_t hl = strnlen(hp, sizeof(host) - 1);
    memcpy(host, hp, hl);
    host[hl] = '\0';
    char *colon = strrchr(host, ':');
    if (!colon)
        return -1;
    *colon = '\0';
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int cmd_junk(long n)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return 1;
    struct zn_prng prng;
    zn_prng_seed(&prng, (uint64_t)getpid() * 7919u + (uint64_t)time(NULL));
    static uint8_t big[65000];
    long sent[6] = {0};
    for (int h = 0; h < n_hosts; h++) {
        struct sockaddr_in sa;
        if (parse_addr(host_list[h], &sa) != 0)
            return 2;
        for (long i = 0; i < n; i++) {
            uint8_t d[ZN_FRAME_DGRAM_MAX_BYTES];
            size_t len = 0;
            int kind = (int)(i % 6);
            /* a valid client frame carrying a small payload, then broken in one way */
            uint8_t payload[64];
            zn_prng_fill(&prng, payload, sizeof(payload));
            struct zn_frame_hdr fh = {.type = ZN_FRAME_CLIENT,
                                      .cluster_id = cluster_id,
                                      .payload_len = 64,
                                      .seg_count = 1,
                                      .msg_len = 64,
                                      .msg_id = (uint64_t)i + 1};
            int el = zn_frame_encode(&fh, payload, d, sizeof(d));
            if (kind == 0) { /* random bytes */
                len = (size_t)zn_prng_range(&prng, 1, sizeof(d));
                zn_prng_fill(&prng, d, len);
            } else if (kind == 1 && el > 0) { /* fuzzed header byte */
                len = (size_t)el;
                d[zn_prng_below(&prng, ZN_FRAME_HDR_BYTES)] ^=
                    (uint8_t)(1u << zn_prng_below(&prng, 8));
            } else if (kind == 2 && el > 0) { /* another cluster (checksum right) */
                fh.cluster_id = cluster_id + 1;
                len = (size_t)zn_frame_encode(&fh, payload, d, sizeof(d));
            } else if (kind == 3 && el > 0) { /* checksum wrong */
                len = (size_t)el;
                d[ZN_FRAME_HDR_BYTES + 3] ^= 0x40;
            } else if (kind == 4 && el > 0) { /* valid frame, garbage session message */
                len = (size_t)el;
            } else { /* oversize datagram (IP-fragmented on the wire) */
                zn_prng_fill(&prng, big, sizeof(big));
                memcpy(big, d, ZN_FRAME_HDR_BYTES);
                if (sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&sa, sizeof(sa)) > 0)
                    sent[5]++;
                continue;
            }
            if (sendto(fd, d, len, 0, (struct sockaddr *)&sa, sizeof(sa)) > 0)
                sent[kind]++;
            if (i % 16 == 15)
                sleep_ms(1); /* bounded rate: the lab shares two cores */
        }
    }
    close(fd);
    printf("junk: sent %ld random, %ld fuzzed-header, %ld wrong-cluster, %ld bad-checksum, %ld "
           "garbage-body, %ld oversize datagrams\n",
           sent[0], sent[1], sent[2], sent[3], sent[4], sent[5]);
    int bad = 0;
    for (int h = 0; h < n_hosts; h++) {
        zn_handle *zh;
        if (open_session(host_list[h], 6000, 8000, NULL, NULL, &zh) != 0)
            return 1;
        char path[64];
        snprintf(path, sizeof(path), "/junk-check-%d-%d", (int)getpid(), h);
        int rc = zn_create(zh, path, "ok", 2, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL, 0, NULL, 0, NULL);
        char buf[8];
        int32_t len = sizeof(buf);
        if (rc == 0)
            rc = zn_get(zh, path, 0, buf, &len, NULL);
        printf("junk: %s still serves: create+get %s\n", host_list[h], zn_strerror(rc));
        bad |= rc != 0;
        zn_close(zh);
    }
    return bad;
}

/* ---- every operation ----------------------------------------------------------------------- */

static int checks_ok, checks_bad;

static void check(const char *what, int rc, int want)
{
    if (rc == want) {
        checks_ok++;
    } else {
        checks_bad++;
        printf("FAILED: %s: %s (expected %s)\n", what, zn_strerror(rc), zn_strerror(want));
    }
}

static void check_true(const char *what, int ok)
{
    check(what, ok ? 0 : ZN_EINVAL, 0);
}

static int async_rc = 1;

static void on_async_stat(int rc, const struct zn_stat *st, const void *data)
{
    (void)data;
    pthread_mutex_lock(&mu);
    async_rc = rc == 0 && st && st->version == 3 ? 0 : (rc ? rc : ZN_EINVAL);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int cmd_ops(const char *base)
{
    zn_handle *a, *b;
    /* A on the first node, B on the last: every check crosses nodes (writes are forwarded) */
    char ha[64 * 2], hb[64 * 2];
    snprintf(ha, sizeof(ha), "%s", host_list[0]);
    snprintf(hb, sizeof(hb), "%s", host_list[n_hosts - 1]);
    if (open_session(ha, 10000, 10000, NULL, NULL, &a) != 0 ||
        open_session(hb, 10000, 10000, on_event, NULL, &b) != 0)
        return 1;
    char p[256], q[256], got[256], buf[256];
    struct zn_stat st;
    int32_t len;
    check("create base",
          zn_create(a, base, "b", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL), 0);
    check("create again",
          zn_create(a, base, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL),
          ZN_ENODEEXISTS);
    snprintf(p, sizeof(p), "%s/x/y", base);
    check("create without parent",
          zn_create(a, p, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL),
          ZN_ENONODE);
    check("invalid path",
          zn_create(a, "no-slash", NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL),
          ZN_EBADARGUMENTS);
    /* B: persistent recursive watch on base, and an exists watch on a node not there yet */
    check("addWatch recursive", zn_add_watch(b, base, ZN_WATCH_PERSISTENT_RECURSIVE, NULL, NULL),
          0);
    snprintf(p, sizeof(p), "%s/d", base);
    check("exists absent", zn_wexists(b, p, on_event, NULL, &st), ZN_ENONODE);
    check("create d",
          zn_create(a, p, "one", 3, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, got, sizeof(got), &st),
          0);
    check_true("created path", strcmp(got, p) == 0 && st.version == 0);
    check_true("watches fired (exists + recursive)", wait_events(2, 5000));
    check("sync", zn_sync(b, base), 0);
    len = sizeof(buf);
    check("get", zn_get(b, p, 0, buf, &len, &st), 0);
    check_true("get value", len == 3 && memcmp(buf, "one", 3) == 0);
    check("set v0", zn_set(a, p, "two", 3, 0, &st), 0);
    check("set stale", zn_set(a, p, "bad", 3, 0, NULL), ZN_EBADVERSION);
    check("exists", zn_exists(a, p, 0, &st), 0);
    check_true("version 1", st.version == 1 && st.data_length == 3);
    snprintf(q, sizeof(q), "%s/d/e-", base);
    check("create ephemeral sequential",
          zn_create(a, q, NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_EPHEMERAL_SEQUENTIAL, 0, got,
                    sizeof(got), NULL),
          0);
    check_true("sequential suffix", strlen(got) == strlen(q) + 10);
    struct zn_strings kids;
    check("getChildren", zn_get_children(a, p, 0, &kids), 0);
    check_true("one child", kids.count == 1);
    zn_strings_free(&kids);
    check("getChildren2", zn_get_children2(a, p, 0, &kids, &st), 0);
    check_true("numChildren", st.num_children == 1);
    zn_strings_free(&kids);
    check("delete not empty", zn_delete(a, p, -1), ZN_ENOTEMPTY);
    struct zn_strings eph;
    check("getEphemerals", zn_get_ephemerals(a, base, &eph), 0);
    check_true("one ephemeral", eph.count == 1);
    zn_strings_free(&eph);
    int32_t num = 0;
    check("getAllChildrenNumber", zn_get_all_children_number(a, base, &num), 0);
    check_true("2 descendants", num == 2);
    /* ACLs */
    struct zn_acl_vec acl;
    check("getACL", zn_get_acl(a, p, &acl, &st), 0);
    check_true("world:anyone", acl.count == 1 && !strcmp(acl.data[0].scheme, "world"));
    zn_acl_vec_free(&acl);
    snprintf(q, sizeof(q), "%s/ro", base);
    check("create read-only",
          zn_create(a, q, "r", 1, &ZN_READ_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL), 0);
    check("set read-only", zn_set(b, q, "w", 1, -1, NULL), ZN_ENOAUTH);
    check("setACL", zn_set_acl(a, q, 0, &ZN_OPEN_ACL_UNSAFE), ZN_ENOAUTH);
    /* authentication: this zincd answers UNIMPLEMENTED (docs/operations.md "Known limits") */
    int arc0 = zn_add_auth(a, "digest", "demo:secret", 11);
    struct zn_client_infos who;
    int wrc = zn_whoami(a, &who);
    if (arc0 == ZN_EUNIMPLEMENTED && wrc == ZN_EUNIMPLEMENTED) {
        printf("ops: addAuth and whoAmI answered UNIMPLEMENTED (a documented limit of zincd)\n");
    } else {
        check("addAuth digest", arc0, 0);
        check("whoAmI", wrc, 0);
        check_true("digest identity", who.count >= 1);
    }
    zn_client_infos_free(&who);
    /* multi: all or nothing */
    struct zn_op ops[3];
    struct zn_op_result res[3];
    snprintf(q, sizeof(q), "%s/m1", base);
    zn_op_create(&ops[0], q, "m", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT);
    zn_op_set(&ops[1], p, "three", 5, 1);
    zn_op_check(&ops[2], base, 99);
    check("multi failing", zn_multi(a, 3, ops, res), ZN_EBADVERSION);
    check_true("multi results", res[2].err == ZN_EBADVERSION);
    zn_op_results_free(res, 3);
    check("multi left nothing", zn_exists(a, q, 0, NULL), ZN_ENONODE);
    zn_op_check(&ops[2], base, 0);
    check("multi", zn_multi(a, 3, ops, res), 0);
    zn_op_results_free(res, 3);
    check("sync", zn_sync(b, base), 0);
    zn_op_get(&ops[0], p);
    zn_op_children(&ops[1], base);
    check("multiRead", zn_multi_read(b, 2, ops, res), 0);
    check_true("multiRead results", res[0].err == 0 && res[0].data_len == 5 && res[1].err == 0 &&
                                        res[1].children.count == 3);
    zn_op_results_free(res, 2);
    /* async with a completion */
    pthread_mutex_lock(&mu);
    async_rc = 1;
    pthread_mutex_unlock(&mu);
    check("aset queued", zn_aset(a, p, "four", 4, 2, on_async_stat, NULL), 0);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 50 && async_rc == 1; i++) {
        pthread_mutex_unlock(&mu);
        sleep_ms(100);
        pthread_mutex_lock(&mu);
    }
    int arc = async_rc;
    pthread_mutex_unlock(&mu);
    check("aset completion", arc, 0);
    /* watches: check, remove */
    check("checkWatches", zn_check_watches(b, base, ZN_WATCHER_ANY), 0);
    check("removeWatches", zn_remove_watches(b, base, ZN_WATCHER_ANY, NULL, NULL, 0), 0);
    check("removeWatches again", zn_remove_watches(b, base, ZN_WATCHER_ANY, NULL, NULL, 0),
          ZN_ENOWATCHER);
    /* delete with versions */
    check("delete stale", zn_delete(a, q, 5), ZN_EBADVERSION);
    check("delete", zn_delete(a, q, 0), 0);
    check("delete gone", zn_delete(a, q, -1), ZN_ENONODE);
    check("close A", zn_close(a), 0);
    check("sync", zn_sync(b, base), 0);
    check("A's ephemeral gone", zn_get_ephemerals(b, base, &eph), 0);
    check_true("no ephemerals of B", eph.count == 0);
    zn_strings_free(&eph);
    check("getChildren after close", zn_get_children(b, p, 0, &kids), 0);
    check_true("A's ephemeral deleted at close", kids.count == 0);
    zn_strings_free(&kids);
    check("close B", zn_close(b), 0);
    printf("ops: %d checks passed, %d failed (sessions on %s and %s)\n", checks_ok, checks_bad, ha,
           hb);
    return checks_bad != 0;
}

static int cmd_try(const char *path)
{
    zn_handle *zh;
    if (open_session(hosts_all, 6000, request_timeout_ms, NULL, NULL, &zh) != 0)
        return 1;
    int rc = zn_create(zh, path, "m", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL);
    printf("try: create %s through %s: %s\n", path, hosts_all, zn_strerror(rc));
    zn_close(zh);
    return rc != 0;
}

static int cmd_exists(const char *path)
{
    zn_handle *zh;
    if (open_session(hosts_all, 6000, 8000, NULL, NULL, &zh) != 0)
        return 2;
    zn_sync(zh, path);
    int rc = zn_exists(zh, path, 0, NULL);
    zn_close(zh);
    return rc == 0 ? 0 : 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: zn-labc [-c cluster-id] [-t request-timeout-ms] HOSTS COMMAND ARGS "
                    "(see tools/zn-labc.c)\n");
    return 2;
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "+c:t:s")) != -1) {
        if (opt == 'c')
            cluster_id = (uint32_t)strtoul(optarg, NULL, 0);
        else if (opt == 't')
            request_timeout_ms = (uint32_t)strtoul(optarg, NULL, 0);
        else if (opt == 's')
            no_shuffle = true;
        else
            return usage();
    }
    if (argc - optind < 2)
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    split_hosts(argv[optind]);
    const char *cmd = argv[optind + 1];
    char **a = argv + optind + 2;
    int na = argc - optind - 2;
    if (!strcmp(cmd, "demo") && na == 1)
        return cmd_demo(a[0]);
    if (!strcmp(cmd, "load") && (na == 4 || na == 5 || na == 7))
        return cmd_load(a[0], strtol(a[1], NULL, 10), strtol(a[2], NULL, 10), a[3],
                        na >= 5 && strcmp(a[4], "-") ? a[4] : NULL,
                        na == 7 ? strtol(a[5], NULL, 10) : 0, na == 7 ? a[6] : NULL);
    if (!strcmp(cmd, "verify") && na == 2)
        return cmd_verify(a[0], a[1]);
    if (!strcmp(cmd, "digest") && na == 1)
        return cmd_digest(a[0]);
    if (!strcmp(cmd, "sets") && na == 2)
        return cmd_sets(a[0], strtol(a[1], NULL, 10));
    if (!strcmp(cmd, "expiry") && na == 2)
        return cmd_expiry(a[0], strtol(a[1], NULL, 10));
    if (!strcmp(cmd, "junk") && na == 1)
        return cmd_junk(strtol(a[0], NULL, 10));
    if (!strcmp(cmd, "ops") && na == 1)
        return cmd_ops(a[0]);
    if (!strcmp(cmd, "try") && na == 1)
        return cmd_try(a[0]);
    if (!strcmp(cmd, "exists") && na == 1)
        return cmd_exists(a[0]);
    return usage();
}
