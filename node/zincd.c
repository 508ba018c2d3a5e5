/*
 * zincd.c - the zinc node process: start-up, the management thread, shutdown.
 *
 *   zincd -c FILE [--set section.key=value ...] [--config-doc] [--help] [--version]
 *
 * Start-up: configuration (refused naming the key), data-directory lock, recovery (node.h),
 * then one data-plane lcore running the node's stages (dataplane/zn_dp_loop.h) on its own
 * thread. This main thread is the management core: it never touches lcore-owned state; every
 * 200 ms it asks the lcore for a report (a control message) and writes <data_dir>/status.json,
 * every 50 ms it asks the leader's lcore to expire sessions whose deadline passed, and it waits
 * for signals. SIGTERM/SIGINT: stop taking requests, hand leadership to a follower when leader
 * (bounded wait), stop the lcore, finish the WAL batch in flight, exit 0. SIGKILL is safe by
 * construction (nothing is acknowledged before it is durable).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "common/zn_clock.h"
#include "common/zn_err.h"
#include "common/zn_log.h"
#include "dataplane/zn_dp_loop.h"
#include "mgmt/config.h"
#include "node/metrics_server.h"
#include "node/ctl.h"
#include "node/node.h"
#include "node/startup.h"
#include "node/status.h"
#include "node/zkport.h"

#define ZN_MS               1000000ull
#define ZN_STATUS_PERIOD_NS (200ull * ZN_MS)
#define ZN_EXPIRE_PERIOD_NS (50ull * ZN_MS)
#define ZN_CTRL_TIMEOUT_NS  (500ull * ZN_MS)
#define ZN_TRANSFER_WAIT_NS (2000ull * ZN_MS)

static void zincd_write_status(const struct zn_config *cfg, struct zn_node_report *rep,
                               const struct zn_clock *clock)
{
    rep->st.pid = (int32_t)getpid();
    rep->st.time_ms = clock->realtime_ns(clock->ctx) / (int64_t)ZN_MS;
    if (zn_status_write(cfg->node.data_dir, &rep->st) != 0)
        ZN_WARN("mgmt", "cannot write %s/status.json", cfg->node.data_dir);
}

static int zincd_run(const struct zn_config *cfg)
{
    struct zn_datadir_lock lock;
    char err[1024] = "";
    int rc = zn_datadir_lock(cfg->node.data_dir, &lock, err, sizeof(err));
    if (rc) {
        ZN_ERROR("mgmt", "refusing to start: %s", err);
        return 1;
    }
    struct zn_clock clock;
    struct zn_clock_system clock_state;
    zn_clock_system_init(&clock, &clock_state);

    /* Signals are taken by this thread only (sigtimedwait): block them before any thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The recovery re-applies the log on this thread: it is the store's writer until the lcore
     * starts (QSBR registration, store/store.h). */
    rcu_register_thread();
    ZN_INFO("mgmt",
            "zincd %s: node %u of cluster %u, data in %s, %s transport on %s:%u, "
            "wal.sync = %s",
            ZN_VERSION, cfg->node.id, cfg->node.cluster_id, cfg->node.data_dir,
            cfg->net.transport == ZN_TRANSPORT_KERNEL ? "kernel" : "dpdk", cfg->net.listen_host,
            cfg->net.listen_port, cfg->wal.sync == ZN_SYNC_MEMORY ? "memory" : "fsync");
    struct zn_node *node;
    rc = zn_node_open(cfg, &clock, &node, err, sizeof(err));
    rcu_thread_offline();
    if (rc) {
        ZN_ERROR("mgmt", "refusing to start: %s", err);
        rcu_unregister_thread();
        zn_datadir_unlock(&lock);
        return 1;
    }
    struct zn_dp_idle_cfg idle;
    zn_dp_idle_default(&idle, cfg->net.idle == ZN_IDLE_LAB ? ZN_DP_IDLE_LAB : ZN_DP_IDLE_BUSY);
    static struct zn_dp_sched sched;
    rc = zn_dp_sched_init(&sched, 1, &idle, 64, &clock, true);
    /* The ZooKeeper TCP port (node/zkport.h): its own thread, linked to the lcore by rings. */
    struct zn_zkport *zk = NULL;
    if (!rc && cfg->mgmt.zk_port) {
        rc = zn_zkport_start(cfg, &clock, ZN_VERSION, &zk, err, sizeof(err));
        if (rc)
            ZN_ERROR("mgmt", "ZooKeeper port: %s", err);
        else
            zn_node_set_zkport(node, zn_zkport_link(zk));
    }
    if (!rc)
        rc = zn_node_add_stages(node, &sched);
    if (!rc)
        rc = zn_dp_sched_place(&sched, NULL);
    if (!rc)
        rc = zn_dp_sched_start_threads(&sched);
    if (rc) {
        ZN_ERROR("mgmt", "cannot start the data-plane loop: %s", zn_strerror(rc));
        zn_zkport_free(zk);
        zn_node_close(node);
        rcu_unregister_thread();
        zn_datadir_unlock(&lock);
        return 1;
    }
    struct zn_dp_lcore *lc = &sched.lcores[0];
    struct zn_ctl *ctl = NULL; /* control endpoint (node/ctl.h), polled by this loop */
    rc = zn_ctl_open(cfg, node, lc, &clock, &ctl, err, sizeof(err));
    if (rc) {
        ZN_ERROR("mgmt", "refusing to start: %s", err);
        zn_dp_sched_stop(&sched);
        rcu_thread_online();
        zn_node_close(node);
        zn_dp_sched_fini(&sched);
        rcu_unregister_thread();
        zn_datadir_unlock(&lock);
        return 1;
    }
    ZN_INFO("mgmt", "serving (1 lcore, idle policy %s)",
            cfg->net.idle == ZN_IDLE_LAB ? "lab" : "busy");
    /* Metrics (node/metrics_server.h): a failure to bind is logged, the node still serves. */
    struct zn_metrics_server *metrics = NULL;
    if (zn_metrics_server_start(cfg, &metrics, err, sizeof(err)) != 0)
        ZN_ERROR("mgmt", "metrics disabled: %s", err);

    uint64_t now = clock.monotonic_ns(clock.ctx);
    uint64_t next_status = now, next_expire = now + ZN_EXPIRE_PERIOD_NS;
    const uint64_t reap_period_ns = (uint64_t)cfg->znode.container_check_interval_ms * ZN_MS;
    uint64_t next_reap = now + reap_period_ns;
    struct zn_node_report rep;
    memset(&rep, 0, sizeof(rep));
    int stop_sig = 0;
    while (!stop_sig) {
        struct timespec wait = {0, 20 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            stop_sig = sig;
            break;
        }
        if (sig == SIGHUP)
            ZN_INFO("mgmt", "SIGHUP: configuration reload is not supported; ignored");
        now = clock.monotonic_ns(clock.ctx);
        if (now >= next_expire) {
            next_expire = now + ZN_EXPIRE_PERIOD_NS;
            zn_node_ctrl_expire(node, lc, ZN_CTRL_TIMEOUT_NS);
        }
        if (now >= next_reap) { /* containers and TTL nodes (node/node_reap.c) */
            next_reap = now + reap_period_ns;
            zn_node_ctrl_reap(node, lc, ZN_CTRL_TIMEOUT_NS);
        }
        zn_metrics_server_tick(metrics, node, lc, now);
        zn_ctl_poll(ctl);
        if (now >= next_status) {
            next_status = now + ZN_STATUS_PERIOD_NS;
            if (zn_node_ctrl_report(node, lc, &rep, ZN_CTRL_TIMEOUT_NS) == 0) {
                zincd_write_status(cfg, &rep, &clock);
                if (zk)
                    zn_zkport_publish(zk, &rep.st, rep.watches);
            }
        }
    }
    zn_ctl_close(ctl);
    zn_zkport_stop(zk); /* ZooKeeper clients move to another node while this one drains */
    ZN_INFO("mgmt", "%s: draining", strsignal(stop_sig));
    zn_node_ctrl_drain(node, lc, ZN_CTRL_TIMEOUT_NS);
    if (zn_node_ctrl_report(node, lc, &rep, ZN_CTRL_TIMEOUT_NS) == 0 && rep.is_leader &&
        rep.best_follower) {
        ZN_INFO("mgmt", "leader: transferring leadership to node %u", rep.best_follower);
        zn_node_ctrl_transfer(node, lc, rep.best_follower, ZN_CTRL_TIMEOUT_NS);
        uint64_t until = clock.monotonic_ns(clock.ctx) + ZN_TRANSFER_WAIT_NS;
        while (clock.monotonic_ns(clock.ctx) < until) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (zn_node_ctrl_report(node, lc, &rep, ZN_CTRL_TIMEOUT_NS) == 0 && !rep.is_leader)
                break;
        }
        ZN_INFO("mgmt", "leadership %s",
                rep.is_leader ? "still here (transfer timed out)" : "handed over");
    }
    rep.st.ready = false;
    rep.st.role = "stopped";
    zincd_write_status(cfg, &rep, &clock);
    zn_metrics_server_stop(metrics);
    zn_dp_sched_stop(&sched);
    rcu_thread_online();
    zn_node_close(node);
    zn_zkport_free(zk);
    zn_dp_sched_fini(&sched);
    rcu_unregister_thread();
    zn_datadir_unlock(&lock);
    ZN_INFO("mgmt", "stopped cleanly");
    return 0;
}

int main(int argc, char **argv)
{
    struct zn_node_args args;
    char err[1024];
    if (zn_node_args_parse(argc, argv, &args, err, sizeof(err)) != 0) {
        fprintf(stderr, "zincd: %s\n%s", err, zn_node_usage());
        return 2;
    }
    if (args.help) {
        fputs(zn_node_usage(), stdout);
        return 0;
    }
    if (args.version) {
        printf("zincd %s\n", ZN_VERSION);
        return 0;
    }
    if (args.config_doc) {
        zn_config_write_doc(stdout);
        return 0;
    }
    struct zn_config cfg;
    if (zn_node_config_build(&args, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "zincd: refusing to start: %s\n", err);
        return 2;
    }
    enum zn_log_level level;
    if (zn_log_level_parse(cfg.mgmt.log_level, &level) == 0)
        zn_log_set_level(level);
    return zincd_run(&cfg);
}
