/*
 * test_procs.c - the master-slave example as real processes against the fake node or a cluster:
 *   test_procs <zn_master_slave binary>
 * Three worker processes (Ring election, fenced register writes every 100 ms). The master is
 * SIGSTOPped past its session timeout: its session expires (the test removes its ephemerals,
 * which the fake node does not do on expiry), a new master's writes land; the old master is
 * resumed (SIGCONT) and none of its writes is accepted any more (the register's token never
 * goes back). Then the new master is killed with SIGKILL: its session expires, the third
 * worker becomes master. Against a real cluster (ZN_TEST_CONNECT) the cluster expires the
 * sessions and removes their ephemerals itself.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/recipes/rt_harness.h"

#define ELECTION "/demo/master-slave"
#define REGISTER "/demo/master-slave-register"

static struct rt_env env;
static zn_handle *ah;

static int read_reg(int64_t *token, int *who)
{
    char v[128];
    int32_t n = sizeof(v) - 1;
    int rc = zr_register_read(ah, REGISTER, token, v, &n);
    if (rc != 0)
        return rc;
    v[n] = '\0';
    return sscanf(v, "worker-%d", who) == 1 ? 0 : ZN_ECORRUPT;
}

/* Session of worker `who` (its candidate node's owner). */
static int64_t session_of(int who)
{
    struct zn_strings ch = {0, NULL};
    RT_CHECK(zn_get_children(ah, ELECTION, 0, &ch) == 0, "children");
    int64_t sid = 0;
    char want[32];
    snprintf(want, sizeof(want), "worker-%d ", who);
    for (int i = 0; i < ch.count; i++) {
        char p[256], v[128];
        snprintf(p, sizeof(p), "%s/%s", ELECTION, ch.data[i]);
        int32_t n = sizeof(v) - 1;
        struct zn_stat st;
        if (zn_get(ah, p, 0, v, &n, &st) == 0 && n > 0) {
            v[n] = '\0';
            if (strncmp(v, want, strlen(want)) == 0)
                sid = st.ephemeral_owner;
        }
    }
    zn_strings_free(&ch);
    return sid;
}

/* Wait until the register names a master other than `not_who` with a token above `above`. */
static int wait_new_master(int not_who, int64_t above, int64_t *token)
{
    for (int i = 0; i < 1000; i++) {
        int who;
        if (read_reg(token, &who) == 0 && who != not_who && *token > above)
            return who;
        rt_sleep_ms(10);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    RT_CHECK(rt_env_init(&env) == 0, "environment");
    zr_session *admin;
    RT_CHECK(rt_open(&env, NULL, 5000, &admin) == 0, "admin");
    ah = zr_session_handle(admin);
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        char cid[16];
        snprintf(cid, sizeof(cid), "%u", env.cluster_id);
        pids[i] = fork();
        if (pids[i] == 0) {
            execl(argv[1], argv[1], env.fake ? env.host_b : env.hosts, "worker", id, "9", "ring",
                  cid, (char *)NULL);
            _exit(127);
        }
        rt_sleep_ms(100); /* join order = worker order */
    }
    int64_t t1 = 0;
    int m1 = wait_new_master(-1, 0, &t1);
    RT_CHECK(m1 >= 0, "a first master writes");
    int64_t sid1 = session_of(m1);
    RT_CHECK(sid1 != 0, "master's session");
    printf("master %d (token %lld): SIGSTOP\n", m1, (long long)t1);
    fflush(stdout);
    kill(pids[m1], SIGSTOP);
    rt_sleep_ms(2500); /* past its 2 s session timeout: the fake node expires it */
    /* A real cluster expires the session and deletes its ephemerals itself; the fake node does
     * not, so the test plays that part there. */
    if (env.fake)
        RT_CHECK(rt_crash(&env, ah, ELECTION, sid1) >= 1, "the stopped master's node removed");
    int64_t t2 = 0;
    int m2 = wait_new_master(m1, t1, &t2);
    RT_CHECK(m2 >= 0, "a new master after the expiry");
    printf("new master %d (token %lld); SIGCONT to %d\n", m2, (long long)t2, m1);
    fflush(stdout);
    kill(pids[m1], SIGCONT);
    int64_t low = t2;
    for (int i = 0; i < 100; i++) { /* 1 s: the resumed master's writes must not land */
        int64_t t;
        int who;
        if (read_reg(&t, &who) == 0) {
            RT_CHECK(who != m1 && t >= low, "resumed old master wrote (worker %d token %lld)", who,
                     (long long)t);
            low = t;
        }
        rt_sleep_ms(10);
    }
    int64_t sid2 = session_of(m2);
    printf("old master's writes rejected; master %d: SIGKILL\n", m2);
    fflush(stdout);
    kill(pids[m2], SIGKILL);
    if (env.fake)
        RT_CHECK(rt_crash(&env, ah, ELECTION, sid2) >= 1, "the killed master's node removed");
    int64_t t3 = 0;
    int m3 = wait_new_master(m2, t2, &t3);
    RT_CHECK(m3 >= 0 && m3 != m1, "the third worker becomes master (%d)", m3);
    printf("master %d (token %lld) after the kill\n", m3, (long long)t3);
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        int st;
        if (i == m2) {
            waitpid(pids[i], &st, 0);
            continue;
        }
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    RT_CHECK(bad == 0, "%d worker(s) failed", bad);
    zr_session_close(admin);
    rt_env_fini(&env);
    printf("PASS processes: SIGSTOP past the session timeout and SIGKILL each hand over; the "
           "resumed master is fenced off; tokens %lld < %lld < %lld\n",
           (long long)t1, (long long)t2, (long long)t3);
    return 0;
}
