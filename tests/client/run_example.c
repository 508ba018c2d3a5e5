/*
 * run_example.c - run one of client/examples/ against the fake node (tests/client/
 * fake_server.c): start a fake server on 127.0.0.1, run the example with its address, and
 * exit with the example's status. Bounded: the example is killed after 30 s.
 *
 *   run_example <example-binary>
 */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/client/fake_server.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <example>\n", argv[0]);
        return 2;
    }
    struct fake_cluster *c = fake_cluster_new(0);
    struct fake_server *s = fake_server_start(c, 1);
    if (s == NULL)
        return 2;
    char hosts[64];
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%u", fake_server_port(s));
    pid_t pid = fork();
    if (pid == 0) {
        execl(argv[1], argv[1], hosts, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    for (int i = 0; i < 3000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (i == 2999) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "example timed out\n");
        }
    }
    fake_server_stop(s);
    fake_cluster_free(c);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    printf("%s against the fake node: exit %d\n", argv[1], rc);
    return rc;
}
