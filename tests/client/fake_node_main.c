/*
 * fake_node_main.c - the scripted fake node of tests/client as a standalone program, for tests
 * of programs built on libzinc (zinc-cli, recipes) before or besides a real cluster.
 *
 *   fake-node [--nodes N] [--cluster-id ID] [--seconds S]
 *
 * Prints one line "127.0.0.1:PORT,127.0.0.1:PORT,..." (a libzinc connection string) on stdout,
 * then serves until SIGTERM/SIGINT or S seconds (default 120: a forgotten fake node stops by
 * itself). Test infrastructure, not product code.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/client/fake_server.h"

static volatile sig_atomic_t fake_stop;

static void on_signal(int sig)
{
    (void)sig;
    fake_stop = 1;
}

static long arg_long(const char *flag, const char *text, long min, long max)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "fake-node: %s '%s': expected an integer in %ld..%ld\n", flag, text, min,
                max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    long nodes = 1, cluster_id = 1, seconds = 120;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--nodes") == 0)
            nodes = arg_long("--nodes", argv[++i], 1, 4);
        else if (i + 1 < argc && strcmp(argv[i], "--cluster-id") == 0)
            cluster_id = arg_long("--cluster-id", argv[++i], 1, 0x7fffffff);
        else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
            seconds = arg_long("--seconds", argv[++i], 1, 3600);
        else {
            fprintf(stderr, "usage: fake-node [--nodes 1..4] [--cluster-id ID] [--seconds S]\n");
            return 2;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct fake_cluster *c = fake_cluster_new((uint32_t)cluster_id);
    struct fake_server *servers[4];
    for (long i = 0; i < nodes; i++) {
        servers[i] = fake_server_start(c, (uint8_t)(i + 1));
        printf("%s127.0.0.1:%u", i ? "," : "", fake_server_port(servers[i]));
    }
    printf("\n");
    fflush(stdout);
    for (long ms = 0; !fake_stop && ms < seconds * 1000; ms += 20) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (long i = 0; i < nodes; i++)
        fake_server_stop(servers[i]);
    fake_cluster_free(c);
    return 0;
}
