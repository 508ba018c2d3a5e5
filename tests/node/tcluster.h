/*
 * tcluster.h - the three zincd processes on 127.0.0.1 of the node end-to-end tests (e2e.c,
 * zkport_e2e.c): a temporary directory with one data directory, configuration file and log per
 * node, the processes forked from the zincd binary, their status.json files, and the failure
 * path (print the tail of every node's log, exit 1). Nodes and the directory are removed on
 * every exit: normal exit, failure and the hard alarm (ZN_E2E_KEEP=1 keeps the directory).
 *
 * One cluster per test process; the state is process-global because atexit and the alarm
 * handler need it. The test chooses the ports (tcl_ports) before writing the configurations.
 */
#ifndef ZN_TESTS_NODE_TCLUSTER_H
#define ZN_TESTS_NODE_TCLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define TCL_NODES 3

extern char tcl_base[64];                 /* the temporary directory */
extern pid_t tcl_pids[TCL_NODES + 1];     /* node i's process (0: not running), 1-based */
extern uint16_t tcl_ports[TCL_NODES + 1]; /* node i's UDP port (peers and native clients) */
extern int tcl_checks;                    /* CHECKs passed */

/*
 * Make the directory from dir_template ("/tmp/zn-e2e-XXXXXX"), register the cleanup at exit and
 * arm a hard limit of alarm_s seconds (then: message, cleanup, exit 1). name prefixes every
 * failure message; zincd is the binary start_node runs. Returns 0 or -1 (no directory).
 */
int tcl_setup(const char *name, const char *zincd, const char *dir_template, unsigned alarm_s);

/* Print "NAME: FAIL: <message>" and the tail of every node's log, then exit 1. */
void tcl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define CHECK(cond, ...)           \
    do {                           \
        if (!(cond))               \
            tcl_fail(__VA_ARGS__); \
        tcl_checks++;              \
    } while (0)

uint64_t tcl_now_ms(void); /* CLOCK_MONOTONIC */
void tcl_sleep_ms(unsigned ms);

/*
 * Write node id's configuration file: [node] id and data_dir, [cluster] members (every node at
 * 127.0.0.1:tcl_ports[i]), [net] listen_port and idle = lab, then the test's own settings
 * (printf format; the text must start with a section header). Fails the test if it cannot.
 */
void tcl_write_config(int id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fork zincd -c <its file> with stdout and stderr appended to the node's log. */
void tcl_start_node(int id);

/* The fields of a node's status.json the tests read. */
struct tcl_status {
    char role[32];
    int leader;
    int ready;
    unsigned long long term, commit, applied;
};

/* Parse node id's status.json; false if it is missing or lacks a field. */
bool tcl_read_status(int id, struct tcl_status *st);

/* A leader that every node but `dead` (0: none) reports, ready, and that is not `dead`; 0 if
 * there is none within timeout_ms. */
int tcl_wait_leader(int dead, unsigned timeout_ms);

#endif /* ZN_TESTS_NODE_TCLUSTER_H */
