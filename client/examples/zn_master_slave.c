/*
 * zn_master_slave.c - a small master-slave service on the Ring (or Bully) election recipe:
 * every process is a candidate; the master does fenced writes to a shared register
 * (<path>-register) every 100 ms; slaves wait. Output shows who is master and when.
 *
 *   zn_master_slave connstr worker ID SECONDS [ring|bully] [cluster-id]
 *       one process (ID a small integer; Bully priority = ID)
 *   zn_master_slave connstr spawn N SECONDS [ring|bully] [cluster-id] [--kill9]
 *       start N worker processes, end the master every SECONDS/(N+1) s (SIGTERM: it closes
 *       its session; --kill9: SIGKILL, the cluster expires the session), check at the end that
 *       every term's writes carry increasing tokens, and exit 0 when all is well.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/recipes/zn_recipes.h"

#define ELECTION "/demo/master-slave"
#define REGISTER "/demo/master-slave-register"

static volatile sig_atomic_t stop;
static struct timespec t0;

static double since_start(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_event(zr_election *e, int ev, int64_t token, void *ctx)
{
    (void)e;
    int id = (int)(intptr_t)ctx;
    const char *what = ev == ZR_ELECTED           ? "became MASTER"
                       : ev == ZR_LOST            ? "lost mastership"
                       : ev == ZR_YIELD_REQUESTED ? "asked to yield"
                                                  : "left the election";
    printf("[%7.3f s] worker %d (pid %d): %s (token %lld)\n", since_start(), id, (int)getpid(),
           what, (long long)token);
    fflush(stdout);
}

static int worker(const char *hosts, int id, int seconds, int style, uint32_t cluster_id)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct zn_options o;
    zn_options_init(&o);
    o.session_timeout_ms = 2000;
    o.cluster_id = cluster_id;
    zr_session *s;
    int rc = zr_session_open(hosts, &o, &s);
    if (rc != 0) {
        fprintf(stderr, "worker %d: open: %s\n", id, zn_strerror(rc));
        return 1;
    }
    char payload[64];
    int plen = snprintf(payload, sizeof(payload), "worker-%d pid %d", id, (int)getpid());
    struct zr_election_opts eo = {style,    (uint32_t)id,        payload, plen, true,
                                  on_event, (void *)(intptr_t)id};
    zr_election *e;
    if ((rc = zr_election_join(s, ELECTION, &eo, &e)) != 0) {
        fprintf(stderr, "worker %d: join: %s\n", id, zn_strerror(rc));
        zr_session_close(s);
        return 1;
    }
    int64_t last_token = 0;
    long writes = 0;
    int result = 0;
    for (int ms = 0; !stop && ms < seconds * 1000; ms += 100) {
        int64_t token;
        if (zr_election_is_leader(e, &token)) {
            char v[64];
            int n = snprintf(v, sizeof(v), "worker-%d write %ld", id, writes);
            rc = zr_election_write(e, REGISTER, v, n);
            if (rc == 0) {
                writes++;
                if (token != last_token)
                    printf("[%7.3f s] worker %d: first fenced write of term %lld acknowledged\n",
                           since_start(), id, (long long)token);
                last_token = token;
            } else {
                printf("[%7.3f s] worker %d: fenced write refused: %s\n", since_start(), id,
                       zn_strerror(rc));
                if (rc != ZN_ESTALE && rc != ZN_ENOTLEADER && rc != ZN_ENONODE &&
                    rc != ZN_ESESSIONEXPIRED)
                    result = 1;
            }
            fflush(stdout);
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    (void)zr_election_leave(e);
    zr_session_close(s);
    printf("[%7.3f s] worker %d: exits after %ld fenced writes\n", since_start(), id, writes);
    return result;
}

static int spawn(const char *self, const char *hosts, int n, int seconds, const char *style,
                 const char *cid, bool kill9)
{
    pid_t pids[64];
    for (int i = 0; i < n; i++) {
        char id[16], secs[16];
        snprintf(id, sizeof(id), "%d", i);
        snprintf(secs, sizeof(secs), "%d", seconds + 2);
        pids[i] = fork();
        if (pids[i] == 0) {
            execl(self, self, hosts, "worker", id, secs, style, cid, (char *)NULL);
            _exit(127);
        }
    }
    struct zn_options o;
    zn_options_init(&o);
    o.cluster_id = (uint32_t)strtoul(cid, NULL, 10);
    zn_handle *zh;
    int rc = zn_open(hosts, &o, &zh);
    if (rc != 0) {
        fprintf(stderr, "spawn: open: %s\n", zn_strerror(rc));
        return 1;
    }
    int failures = 0;
    int64_t last_token = 0;
    int kills = 0;
    int step_ms = seconds * 1000 / (n + 1);
    for (int k = 0; k < n; k++) {
        struct timespec ts = {step_ms / 1000, (long)(step_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        int64_t token = 0;
        char v[128];
        int32_t vl = sizeof(v) - 1;
        if (zr_register_read(zh, REGISTER, &token, v, &vl) != 0) {
            printf("[%7.3f s] spawn: no master has written yet\n", since_start());
            failures++;
            continue;
        }
        v[vl] = '\0';
        if (token < last_token)
            failures++;
        last_token = token;
        int who = -1;
        if (sscanf(v, "worker-%d", &who) == 1 && who >= 0 && who < n && k < n - 1) {
            printf("[%7.3f s] spawn: register '%s' token %lld: ending master worker %d with %s\n",
                   since_start(), v, (long long)token, who, kill9 ? "SIGKILL" : "SIGTERM");
            fflush(stdout);
            kill(pids[who], kill9 ? SIGKILL : SIGTERM);
            kills++;
        }
    }
    zn_close(zh);
    for (int i = 0; i < n; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            failures++;
    }
    printf("spawn: %d workers, %d masters ended, last token %lld, %d failure(s)\n", n, kills,
           (long long)last_token, failures);
    return failures == 0 && kills > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    clock_gettime(CLOCK_REALTIME, &t0);
    if (argc < 5) {
        fprintf(stderr,
                "usage: zn_master_slave connstr worker ID SECONDS [ring|bully] [cluster-id]\n"
                "       zn_master_slave connstr spawn N SECONDS [ring|bully] [cluster-id] "
                "[--kill9]\n");
        return 2;
    }
    int num = (int)strtol(argv[3], NULL, 10);
    int seconds = (int)strtol(argv[4], NULL, 10);
    const char *style = argc > 5 ? argv[5] : "ring";
    const char *cid = argc > 6 ? argv[6] : "0";
    int st = strcmp(style, "bully") == 0 ? ZR_ELECT_BULLY : ZR_ELECT_RING;
    if (seconds <= 0 || seconds > 3600)
        return 2;
    if (strcmp(argv[2], "worker") == 0)
        return worker(argv[1], num, seconds, st, (uint32_t)strtoul(cid, NULL, 10));
    if (strcmp(argv[2], "spawn") == 0 && num >= 2 && num <= 64)
        return spawn(argv[0], argv[1], num, seconds, style, cid,
                     argc > 7 && strcmp(argv[7], "--kill9") == 0);
    return 2;
}
