/*
 * tests/metrics/telemetry.c - zincd's DPDK telemetry commands through the real telemetry socket.
 *
 * Starts an EAL in this process WITH telemetry (--no-huge --no-shconf, RUNTIME_DIRECTORY in a
 * folder of its own, a unique --file-prefix), starts the metrics server with a DPDK-transport
 * configuration (which attaches /zinc/status and /zinc/counters), publishes a snapshot with
 * known values, then:
 *   1. connects to <runtime>/dpdk_telemetry.v2 like any telemetry client and checks that "/"
 *      lists both commands and that each answers with the published values;
 *   2. runs /usr/bin/dpdk-telemetry.py (Debian dpdk-dev) non-interactively against the same
 *      socket and checks its output (skipped, and said so, if the script is missing);
 *   3. after zn_metrics_server_stop, the commands answer an error instead of reading freed
 *      memory.
 * The node in the netns lab cannot be used here: the dataplane's lab EAL mode passes
 * --no-telemetry (docs/operations.md "Metrics"). Exit 0 pass, 1 fail, 77 skip (EAL refused).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "mgmt/config.h"
#include "node/metrics_node.h"
#include "node/metrics_server.h"

static int checks;

#define CHECK(cond, ...)                                       \
    do {                                                       \
        checks++;                                              \
        if (!(cond)) {                                         \
            printf("metrics/telemetry: FAILED: " __VA_ARGS__); \
            printf("\n");                                      \
            exit(1);                                           \
        }                                                      \
    } while (0)

/* One request on a fresh connection: skip the greeting, send cmd, return the reply. */
static int tel_query(const char *path, const char *cmd, char *out, size_t cap)
{
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    ssize_t n = recv(fd, out, cap - 1, 0); /* {"version": ..., "pid": ..., "max_output_len": ...} */
    if (n <= 0 || send(fd, cmd, strlen(cmd), 0) < 0) {
        close(fd);
        return -1;
    }
    n = recv(fd, out, cap - 1, 0);
    close(fd);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return 0;
}

int main(void)
{
    char dir[] = "/tmp/zn-telemetry-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("RUNTIME_DIRECTORY", dir, 1);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "--file-prefix=zn-tel-%d", (int)getpid());
    char *argv[] = {"zn-telemetry", prefix,     "--no-huge", "-m",      "64",
                    "--no-shconf",  "--no-pci", "--lcores",  "0@(0,1)", "--log-level=error"};
    if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])), argv) < 0) {
        printf("metrics/telemetry: SKIP: rte_eal_init failed (%s)\n", strerror(rte_errno));
        return 77;
    }
    char sock[512];
    snprintf(sock, sizeof(sock), "%s/dpdk_telemetry.v2", rte_eal_get_runtime_dir());

    struct zn_config cfg;
    zn_config_defaults(&cfg);
    cfg.net.transport = ZN_TRANSPORT_DPDK;
    cfg.mgmt.metrics_port = 0; /* telemetry only */
    struct zn_metrics_server *s = NULL;
    char err[256];
    CHECK(zn_metrics_server_start(&cfg, &s, err, sizeof(err)) == 0, "server start: %s", err);

    char buf[16384];
    /* nothing published yet: the commands say so (an error), never garbage */
    CHECK(tel_query(sock, "/zinc/status", buf, sizeof(buf)) == 0, "no answer on %s", sock);
    CHECK(strstr(buf, "\"term\"") == NULL, "status before any snapshot: %s", buf);

    static struct zn_node_metrics m;
    memset(&m, 0, sizeof(m));
    m.valid = true;
    m.id = 2;
    m.cluster_id = 9;
    m.raft.role = ZN_RAFT_LEADER;
    m.raft.term = 7;
    m.raft.leader = 2;
    m.raft.commit = 4242;
    m.applied = 4241;
    m.znodes = 321;
    m.sessions = 5;
    m.wal_fsyncs = 99;
    m.mc.raft_sent[ZN_RAFT_MSG_APPEND] = 1234;
    m.mc.elections[ZN_ELECTION_NO_LEADER] = 3;
    zn_metrics_server_publish(s, &m);

    CHECK(tel_query(sock, "/", buf, sizeof(buf)) == 0, "no answer to /");
    CHECK(strstr(buf, "\"/zinc/status\"") && strstr(buf, "\"/zinc/counters\""),
          "/ does not list the zinc commands: %s", buf);
    CHECK(tel_query(sock, "/zinc/status", buf, sizeof(buf)) == 0, "no answer to /zinc/status");
    printf("/zinc/status -> %s\n", buf);
    CHECK(strstr(buf, "\"role\":\"leader\"") && strstr(buf, "\"term\":7") &&
              strstr(buf, "\"commit\":4242") && strstr(buf, "\"applied\":4241") &&
              strstr(buf, "\"znodes\":321") && strstr(buf, "\"sessions\":5"),
          "status values: %s", buf);
    CHECK(tel_query(sock, "/zinc/counters", buf, sizeof(buf)) == 0, "no answer to counters");
    printf("/zinc/counters -> %.300s...\n", buf);
    CHECK(strstr(buf, "\"wal_fsyncs\":99") && strstr(buf, "\"raft_tx_append\":1234") &&
              strstr(buf, "\"elections_no_leader\":3"),
          "counter values: %s", buf);

    /* the operator's tool */
    if (access("/usr/bin/dpdk-telemetry.py", X_OK) == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "echo /zinc/status | RUNTIME_DIRECTORY=%s /usr/bin/python3 "
                 "/usr/bin/dpdk-telemetry.py -f zn-tel-%d 2>&1",
                 dir, (int)getpid());
        FILE *p = popen(cmd, "r");
        CHECK(p != NULL, "popen");
        size_t n = fread(buf, 1, sizeof(buf) - 1, p);
        buf[n] = '\0';
        int rc = pclose(p);
        printf("dpdk-telemetry.py: %s", buf);
        CHECK(rc == 0 && strstr(buf, "\"term\": 7") && strstr(buf, "\"commit\": 4242"),
              "dpdk-telemetry.py (exit %d): %s", rc, buf);
    } else {
        printf("dpdk-telemetry.py not installed (Debian dpdk-dev): its check is skipped\n");
    }

    zn_metrics_server_stop(s);
    CHECK(tel_query(sock, "/zinc/status", buf, sizeof(buf)) == 0, "no answer after stop");
    CHECK(strstr(buf, "\"term\"") == NULL, "status after stop: %s", buf);

    rte_eal_cleanup();
    char rm[600];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    if (system(rm) != 0)
        printf("could not remove %s\n", dir);
    printf("metrics/telemetry: %d checks passed (socket %s)\n", checks, sock);
    return 0;
}
