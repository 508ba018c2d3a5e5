/*
 * tcluster.c - the end-to-end tests' three-node zincd cluster on 127.0.0.1 (tcluster.h).
 *
 * Cleanup runs from atexit and from the SIGALRM handler: it continues (SIGCONT: a test may have
 * stopped a node) and kills every node still recorded, reaps it, and removes the directory.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tcluster.h"

char tcl_base[64];
pid_t tcl_pids[TCL_NODES + 1];
uint16_t tcl_ports[TCL_NODES + 1];
int tcl_checks;

static const char *tcl_name = "e2e";
static const char *tcl_zincd;

static void tcl_cleanup(void)
{
    for (int i = 1; i <= TCL_NODES; i++)
        if (tcl_pids[i] > 0) {
            kill(tcl_pids[i], SIGCONT);
            kill(tcl_pids[i], SIGKILL);
            waitpid(tcl_pids[i], NULL, 0);
            tcl_pids[i] = 0;
        }
    if (tcl_base[0] && !getenv("ZN_E2E_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tcl_base);
        if (system(cmd) != 0)
            fprintf(stderr, "%s: could not remove %s\n", tcl_name, tcl_base);
        tcl_base[0] = '\0';
    }
}

static void tcl_on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = ": FAIL: hard time limit reached\n";
    ssize_t w = write(2, tcl_name, strlen(tcl_name));
    w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    tcl_cleanup();
    _exit(1);
}

int tcl_setup(const char *name, const char *zincd, const char *dir_template, unsigned alarm_s)
{
    tcl_name = name;
    tcl_zincd = zincd;
    snprintf(tcl_base, sizeof(tcl_base), "%s", dir_template);
    if (!mkdtemp(tcl_base)) {
        fprintf(stderr, "%s: mkdtemp %s: %s\n", name, dir_template, strerror(errno));
        tcl_base[0] = '\0';
        return -1;
    }
    atexit(tcl_cleanup);
    signal(SIGALRM, tcl_on_alarm);
    alarm(alarm_s);
    return 0;
}

void tcl_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: FAIL: ", tcl_name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    for (int i = 1; i <= TCL_NODES; i++) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "echo '--- node %d log (tail)'; tail -n 15 '%s/n%d.log'", i,
                 tcl_base, i);
        if (system(cmd) != 0)
            break;
    }
    exit(1);
}

uint64_t tcl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void tcl_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void tcl_write_config(int id, const char *fmt, ...)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/n%d.ini", tcl_base, id);
    FILE *f = fopen(path, "w");
    if (!f)
        tcl_fail("cannot write %s", path);
    fprintf(f,
            "[node]\nid = %d\ndata_dir = %s/n%d\n[cluster]\nmembers = 1@127.0.0.1:%u, "
            "2@127.0.0.1:%u, 3@127.0.0.1:%u\n[net]\nlisten_port = %u\nidle = lab\n",
            id, tcl_base, id, tcl_ports[1], tcl_ports[2], tcl_ports[3], tcl_ports[id]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (fclose(f) != 0)
        tcl_fail("cannot write %s: %s", path, strerror(errno));
}

void tcl_start_node(int id)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        tcl_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        char log[128], cfg[128];
        snprintf(log, sizeof(log), "%s/n%d.log", tcl_base, id);
        snprintf(cfg, sizeof(cfg), "%s/n%d.ini", tcl_base, id);
        if (!freopen(log, "a", stdout) || !freopen(log, "a", stderr))
            _exit(127);
        execl(tcl_zincd, "zincd", "-c", cfg, (char *)NULL);
        _exit(127);
    }
    tcl_pids[id] = pid;
}

bool tcl_read_status(int id, struct tcl_status *st)
{
    char path[128], text[2048];
    snprintf(path, sizeof(path), "%s/n%d/status.json", tcl_base, id);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p;
    memset(st, 0, sizeof(*st));
    if (!(p = strstr(text, "\"role\": \"")) || sscanf(p + 9, "%31[a-z]", st->role) != 1)
        return false;
    if (!(p = strstr(text, "\"leader\": ")) || sscanf(p + 10, "%d", &st->leader) != 1)
        return false;
    if (!(p = strstr(text, "\"term\": ")) || sscanf(p + 8, "%llu", &st->term) != 1)
        return false;
    if (!(p = strstr(text, "\"commit\": ")) || sscanf(p + 10, "%llu", &st->commit) != 1)
        return false;
    if (!(p = strstr(text, "\"applied\": ")) || sscanf(p + 11, "%llu", &st->applied) != 1)
        return false;
    st->ready = strstr(text, "\"ready\": true") != NULL;
    return true;
}

int tcl_wait_leader(int dead, unsigned timeout_ms)
{
    uint64_t until = tcl_now_ms() + timeout_ms;
    while (tcl_now_ms() < until) {
        int leader = 0;
        bool agree = true;
        for (int i = 1; i <= TCL_NODES && agree; i++) {
            if (i == dead)
                continue;
            struct tcl_status st;
            if (!tcl_read_status(i, &st) || !st.ready || st.leader == 0 || st.leader == dead) {
                agree = false;
                break;
            }
            if (leader && st.leader != leader)
                agree = false;
            leader = st.leader;
        }
        if (agree && leader)
            return leader;
        tcl_sleep_ms(50);
    }
    return 0;
}
