/* zincd configuration: defaults valid, every key type parsed, every error names key and value. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "mgmt/config.h"

static struct zn_config cfg;
static char err[512];

static void setup(void)
{
    zn_config_defaults(&cfg);
    err[0] = '\0';
}

TestSuite(config, .init = setup);

Test(config, defaults_are_valid)
{
    cr_assert_eq(zn_config_validate(&cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.node.id, 1);
    cr_assert_eq(cfg.cluster.n_members, 1);
    cr_assert_eq(cfg.wal.sync, ZN_SYNC_FSYNC);
    cr_assert_eq(cfg.raft.batch_bytes_max, 1024 * 1024);
    cr_assert_str_eq(cfg.mgmt.log_level, "info");
}

Test(config, full_file_parses)
{
    const char *text = "# a three-node lab\n"
                       "[node]\nid = 2\ncluster_id = 77\ndata_dir = /tmp/zn2\n"
                       "[cluster]\nmembers = 1@10.77.0.1:7001, 2@10.77.0.2:7001,3@10.77.0.3:7001\n"
                       "[net]\ntransport = dpdk\nlisten_host = 10.77.0.2\nidle = lab\n"
                       "[dpdk]\nport_devargs = net_af_packet0,iface=zn2,qdisc_bypass=1\n"
                       "[raft]\nelection_timeout_ms = 100\nheartbeat_interval_ms = 20\n"
                       "pre_vote = off\nbatch_bytes_max = 256K\n"
                       "[wal]\nsync = memory\nsegment_bytes = 16M\n"
                       "[mgmt]\nlog_level = DEBUG ; inline comment\n";
    cr_assert_eq(zn_config_load_string(&cfg, text, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.node.id, 2);
    cr_assert_eq(cfg.node.cluster_id, 77);
    cr_assert_str_eq(cfg.node.data_dir, "/tmp/zn2");
    cr_assert_eq(cfg.cluster.n_members, 3);
    cr_assert_eq(cfg.cluster.members[2].id, 3);
    cr_assert_str_eq(cfg.cluster.members[1].host, "10.77.0.2");
    cr_assert_eq(cfg.cluster.members[0].port, 7001);
    cr_assert_eq(cfg.net.transport, ZN_TRANSPORT_DPDK);
    cr_assert_eq(cfg.net.idle, ZN_IDLE_LAB);
    cr_assert(!cfg.raft.pre_vote);
    cr_assert_eq(cfg.raft.batch_bytes_max, 256 * 1024);
    cr_assert_eq(cfg.wal.sync, ZN_SYNC_MEMORY);
    cr_assert_eq(cfg.wal.segment_bytes, 16u * 1024 * 1024);
    cr_assert_str_eq(cfg.mgmt.log_level, "debug");
}

static void expect_error(const char *text, const char *needle)
{
    zn_config_defaults(&cfg);
    int rc = zn_config_load_string(&cfg, text, err, sizeof(err));
    cr_assert_neq(rc, 0, "accepted: %s", text);
    cr_assert_not_null(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
}

Test(config, errors_name_line_key_and_value)
{
    expect_error("[node]\nid = 0\n", "<text>:2: [node] id = '0': expected an integer in 1..255");
    expect_error("[node]\nid = 3x\n", "id = '3x'");
    expect_error("[node]\ncolour = blue\n", "[node] colour: unknown key");
    expect_error("[raft]\npre_vote = maybe\n", "expected true or false");
    expect_error("[net]\ntransport = rdma\n", "expected one of kernel, dpdk");
    expect_error("[net]\nlisten_host = localhost\n", "expected a dotted IPv4 address");
    expect_error("[wal]\nsegment_bytes = 1K\n", "segment_bytes = '1K'");
    expect_error("[wal]\nsegment_bytes = 5Q\n", "5Q");
    expect_error("[cluster]\nmembers = 1@10.0.0.1\n", "is not id@ipv4:port");
    expect_error("[cluster]\nmembers = 1@10.0.0.1:7, 1@10.0.0.2:7\n", "appears twice");
    expect_error("[cluster]\nmembers = 1@10.0.0.300:7\n", "not an IPv4 address");
    expect_error("[cluster]\nmembers = 1@10.0.0.3:70000\n", "port '70000'");
    expect_error("[mgmt]\nlog_level = loud\n", "log_level = 'loud'");
    expect_error("this is not ini\n", "syntax error");
}

Test(config, cross_key_validation)
{
    expect_error("[node]\nid = 4\n", "[node] id = 4 is not among [cluster] members");
    expect_error("[raft]\nheartbeat_interval_ms = 100\n", "at most half");
    expect_error("[session]\ntimeout_min_ms = 9000\ntimeout_max_ms = 8000\n",
                 "exceeds timeout_max_ms");
    expect_error("[raft]\nelection_timeout_ms = 1000\n", "at least twice");
    expect_error("[cluster]\nmembers = 1@1.1.1.1:1, 2@1.1.1.2:1\nlearners = 3\n",
                 "learners: 3 is not among");
    expect_error("[cluster]\nlearners = 1\n", "0 voters");
    expect_error("[net]\ntransport = dpdk\n", "needs a port");
}

/* The log window (logfix): a snapshot interval the window can never reach, or a keep_entries
 * that leaves no proposal room, is refused naming key and value; 0 (automatic) and every
 * interval up to the room are accepted, whatever the window size. */
Test(config, log_window_validation)
{
    expect_error("[snapshot]\ninterval_entries = 100000\n",
                 "[snapshot] interval_entries = 100000 can never be reached");
    expect_error("[snapshot]\ninterval_entries = 100000\n", "log_entries_max = 65536");
    expect_error("[raft]\nlog_entries_max = 4096\n[snapshot]\ninterval_entries = 1025\n",
                 "use at most 1024, or 0 (automatic)");
    expect_error("[raft]\nlog_entries_max = 2048\n",
                 "[snapshot] keep_entries = 1024 leaves no room");
    expect_error("[raft]\nlog_entries_max = 1024\n", "log_entries_max = '1024'");
    const char *ok[] = {
        "[raft]\nlog_entries_max = 4096\n[snapshot]\ninterval_entries = 1024\n",
        "[raft]\nlog_entries_max = 4096\n",
        "[raft]\nlog_entries_max = 2048\n[snapshot]\nkeep_entries = 8\n",
        "[snapshot]\ninterval_entries = 31744\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        zn_config_defaults(&cfg);
        cr_assert_eq(zn_config_load_string(&cfg, ok[i], err, sizeof(err)), 0, "%s: %s", ok[i], err);
    }
    cr_assert_eq(cfg.snapshot.interval_entries, 31744);
    zn_config_defaults(&cfg);
    cr_assert_eq(cfg.snapshot.interval_entries, 0, "automatic by default");
    cr_assert_eq(cfg.raft.log_entries_max, 65536);
}

Test(config, runtime_set_respects_restart_keys)
{
    cr_assert_eq(zn_config_set(&cfg, "raft", "election_timeout_ms", "200", true, err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(cfg.raft.election_timeout_ms, 200);
    cr_assert_eq(zn_config_set(&cfg, "node", "id", "2", true, err, sizeof(err)), ZN_ENOTSUP);
    cr_assert_not_null(strstr(err, "restart"));
    cr_assert_eq(zn_config_set(&cfg, "mgmt", "log_level", "warn", true, err, sizeof(err)), 0);
}

Test(config, write_then_reload_is_identical)
{
    const char *text = "[cluster]\nmembers = 1@10.1.1.1:9, 2@10.1.1.2:9, 3@10.1.1.3:9\n"
                       "learners = 3\n[raft]\nlease_reads = yes\n";
    cr_assert_eq(zn_config_load_string(&cfg, text, err, sizeof(err)), 0, "%s", err);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    zn_config_write(&cfg, mem);
    fclose(mem);
    struct zn_config again;
    zn_config_defaults(&again);
    cr_assert_eq(zn_config_load_string(&again, buf, err, sizeof(err)), 0, "%s\n%s", err, buf);
    cr_assert_eq(memcmp(&again, &cfg, sizeof(cfg)), 0);
    free(buf);
}

Test(config, missing_file)
{
    int rc = zn_config_load_file(&cfg, "/nonexistent/zinc.conf", err, sizeof(err));
    cr_assert_eq(rc, ZN_ENOENT);
    cr_assert_not_null(strstr(err, "/nonexistent/zinc.conf: cannot open"));
}
