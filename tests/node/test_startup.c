/* zincd start-up: command line, configuration assembly (file then --set, errors name the key),
 * the data-directory lock, and the status file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/zn_err.h"
#include "node/startup.h"
#include "node/status.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/zn-node-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(startup, .init = make_dir, .fini = remove_dir);

Test(startup, arguments_are_parsed_and_bad_ones_refused)
{
    struct zn_node_args a;
    char err[256];
    char *ok[] = {"zincd",          "-c", "f.ini", "--set", "raft.election_timeout_ms=300",
                  "--set=node.id=2"};
    cr_assert_eq(zn_node_args_parse(6, ok, &a, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(a.config_path, "f.ini");
    cr_assert_eq(a.n_sets, 2);
    cr_assert_str_eq(a.sets[0].section, "raft");
    cr_assert_str_eq(a.sets[0].key, "election_timeout_ms");
    cr_assert_str_eq(a.sets[0].value, "300");
    cr_assert_str_eq(a.sets[1].key, "id");
    char *help[] = {"zincd", "--help"};
    cr_assert_eq(zn_node_args_parse(2, help, &a, err, sizeof(err)), 0);
    cr_assert(a.help);
    char *none[] = {"zincd"};
    cr_assert_eq(zn_node_args_parse(1, none, &a, err, sizeof(err)), ZN_EINVAL);
    cr_assert(strstr(err, "-c FILE"));
    char *bad_set[] = {"zincd", "-c", "f", "--set", "nodot=1"};
    cr_assert_eq(zn_node_args_parse(5, bad_set, &a, err, sizeof(err)), ZN_EINVAL);
    cr_assert(strstr(err, "section.key=value"));
    char *missing[] = {"zincd", "-c"};
    cr_assert_eq(zn_node_args_parse(2, missing, &a, err, sizeof(err)), ZN_EINVAL);
    char *unknown[] = {"zincd", "-c", "f", "--frobnicate"};
    cr_assert_eq(zn_node_args_parse(4, unknown, &a, err, sizeof(err)), ZN_EINVAL);
    cr_assert(strstr(err, "--frobnicate"));
}

Test(startup, config_is_file_then_overrides_then_validated)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/zincd.ini", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[node]\nid = 2\ndata_dir = %s/data\n[cluster]\nmembers = 1@127.0.0.1:7101, "
            "2@127.0.0.1:7102, 3@127.0.0.1:7103\n[net]\nlisten_port = 7102\n",
            dir);
    fclose(f);
    struct zn_node_args a;
    char err[512];
    char *argv[] = {"zincd", "-c", path, "--set", "raft.election_timeout_ms=200"};
    cr_assert_eq(zn_node_args_parse(5, argv, &a, err, sizeof(err)), 0);
    struct zn_config cfg;
    cr_assert_eq(zn_node_config_build(&a, &cfg, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(cfg.node.id, 2);
    cr_assert_eq(cfg.cluster.n_members, 3);
    cr_assert_eq(cfg.raft.election_timeout_ms, 200);
    /* A bad override is refused naming the key and value. */
    char *bad[] = {"zincd", "-c", path, "--set", "raft.election_timeout_ms=fast"};
    cr_assert_eq(zn_node_args_parse(5, bad, &a, err, sizeof(err)), 0);
    cr_assert_eq(zn_node_config_build(&a, &cfg, err, sizeof(err)), ZN_EINVAL);
    cr_assert(strstr(err, "election_timeout_ms") && strstr(err, "fast"), "%s", err);
    /* Cross-key validation runs after the overrides: id 9 is not a member. */
    char *notmember[] = {"zincd", "-c", path, "--set", "node.id=9"};
    cr_assert_eq(zn_node_args_parse(5, notmember, &a, err, sizeof(err)), 0);
    cr_assert_eq(zn_node_config_build(&a, &cfg, err, sizeof(err)), ZN_EINVAL);
    cr_assert(strstr(err, "[node] id"), "%s", err);
    /* A missing file is refused. */
    char *nofile[] = {"zincd", "-c", "/nonexistent/zincd.ini"};
    cr_assert_eq(zn_node_args_parse(3, nofile, &a, err, sizeof(err)), 0);
    cr_assert_neq(zn_node_config_build(&a, &cfg, err, sizeof(err)), 0);
}

Test(startup, a_second_holder_of_the_data_dir_is_refused_with_the_owner_pid)
{
    char data[128];
    snprintf(data, sizeof(data), "%s/a/b/data", dir);
    struct zn_datadir_lock l1, l2;
    char err[512];
    cr_assert_eq(zn_datadir_lock(data, &l1, err, sizeof(err)), 0, "%s", err);
    /* flock locks belong to the open file description: a second open in the same process
     * conflicts exactly like a second process would. */
    cr_assert_eq(zn_datadir_lock(data, &l2, err, sizeof(err)), ZN_EAGAIN);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    cr_assert(strstr(err, pid), "%s", err);
    zn_datadir_unlock(&l1);
    cr_assert_eq(zn_datadir_lock(data, &l2, err, sizeof(err)), 0, "%s", err);
    zn_datadir_unlock(&l2);
    /* A file where the directory should be is an error, not a crash. */
    char file[160];
    snprintf(file, sizeof(file), "%s/plain", dir);
    fclose(fopen(file, "w"));
    cr_assert_eq(zn_datadir_lock(file, &l1, err, sizeof(err)), ZN_EIO);
}

Test(startup, status_file_is_complete_json_replaced_atomically)
{
    struct zn_node_status st = {.id = 3,
                                .pid = 42,
                                .role = "leader",
                                .term = 7,
                                .leader = 3,
                                .commit = 100,
                                .applied = 99,
                                .first_index = 1,
                                .last_index = 101,
                                .n_members = 3,
                                .members = {1, 2, 3},
                                .sessions = 4,
                                .znodes = 12,
                                .last_election_ms = 1700000000000,
                                .last_election_reason = "election timeout \"x\"\n",
                                .ready = true,
                                .time_ms = 1700000000123,
                                .drop_frames = 5,
                                .drop_cluster = 2,
                                .drop_client = 3,
                                .drop_ip = 1};
    cr_assert_eq(zn_status_write(dir, &st), 0);
    char path[128], text[2048];
    snprintf(path, sizeof(path), "%s/status.json", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *expect =
        "{\"id\": 3, \"pid\": 42, \"role\": \"leader\", \"term\": 7, \"leader\": 3, \"commit\": "
        "100, \"applied\": 99, \"first_index\": 1, \"last_index\": 101, \"members\": [1, 2, 3], "
        "\"sessions\": 4, \"znodes\": 12, \"last_election_ms\": 1700000000000, "
        "\"last_election_reason\": \"election timeout \\\"x\\\"\\u000a\", \"drop_frames\": 5, "
        "\"drop_cluster\": 2, \"drop_client\": 3, \"drop_ip\": 1, \"repair\": false, "
        "\"ready\": true, \"time_ms\": 1700000000123}\n";
    cr_assert_str_eq(text, expect);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s/status.json.tmp", dir);
    cr_assert_neq(access(tmp, F_OK), 0, "the temporary file was renamed");
    cr_assert_eq(zn_status_render(&st, text, 40), ZN_ELIMIT);
    cr_assert_eq(zn_status_write("/nonexistent-dir", &st), ZN_EIO);
}
