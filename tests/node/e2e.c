/*
 * e2e.c - three zincd processes on 127.0.0.1 with the kernel transport: a leader is elected,
 * a client creates/gets/sets/deletes through the native protocol, the leader is killed with
 * SIGKILL mid-way, a new leader is elected, every acknowledged write is read back on every
 * surviving node and on the killed node after its restart (recovery from its WAL and catch-up),
 * and SIGTERM stops every node with exit status 0. Processes and the temporary directory are
 * removed on every exit path (including failures and a hard alarm).
 *
 * Usage: e2e ZINCD [catchup]   (exit 0 when every check passed; catchup: see catchup_scenario)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdatomic.h>

#include "client/zinc.h"
#include "common/zn_err.h"
#include "proto/session.h"
#include "proto/zk.h"
#include "tclient.h"
#include "tcluster.h"

#define KEYS  30
#define AFTER 10

static unsigned keep_entries = 1024;

static void write_config(int id)
{
    tcl_write_config(id,
                     "[raft]\nelection_timeout_ms = 150\nheartbeat_interval_ms = 30\n"
                     "[session]\ntimeout_min_ms = 4000\n[snapshot]\ninterval_entries = 16\n"
                     "keep_entries = %u\n[mgmt]\nlog_level = debug\n",
                     keep_entries);
}

/* "127.0.0.1:p,..." of node `only`, or of every node starting with node `first`. */
static void servers_of(char *buf, size_t cap, int only, int first)
{
    buf[0] = '\0';
    size_t len = 0;
    for (int k = 0; k < TCL_NODES; k++) {
        int i = 1 + (first - 1 + k) % TCL_NODES;
        if (!only || only == i)
            len += (size_t)snprintf(buf + len, cap - len, "%s127.0.0.1:%u", len ? "," : "",
                                    tcl_ports[i]);
    }
}

/* Every acknowledged key read back through a session pinned to node `id`. */
static void verify_on(int id, char keys[][32], char vals[][32], int n, int n_deleted)
{
    char servers[64];
    servers_of(servers, sizeof(servers), id, 1);
    static struct tclient c;
    CHECK(tc_init(&c, servers, 1) == 0, "client for node %d", id);
    CHECK(tc_connect(&c, 4000, 8000) == 0, "session on node %d", id);
    for (int i = 0; i < n; i++) {
        char data[64];
        int32_t err = 0;
        int rc = tc_get(&c, keys[i], data, sizeof(data), &err);
        CHECK(rc == 0, "node %d: get %s: %s", id, keys[i], zn_strerror(rc));
        if (i < n_deleted) {
            CHECK(err == ZK_NONODE, "node %d: %s was deleted, got err %d", id, keys[i], err);
        } else {
            CHECK(err == 0, "node %d: acknowledged %s is missing (err %d)", id, keys[i], err);
            CHECK(strcmp(data, vals[i]) == 0, "node %d: %s holds '%s', expected '%s'", id, keys[i],
                  data, vals[i]);
        }
    }
    tc_fini(&c);
}

/*
 * Catch-up by snapshot transfer: a follower is killed, the others write far past what the log
 * keeps behind a snapshot ([snapshot] keep_entries = 8, a snapshot every 16 entries), the
 * follower restarts and must be brought up to date with InstallSnapshot, then serve every write.
 *
 * The leader stays the same throughout: the writes fill its AppendEntries window toward the dead
 * follower, and it must still send to it again once it is back (the consensus flow-control fix;
 * this scenario used to restart the leader to work around that bug).
 */
static int catchup_scenario(int leader)
{
    int follower = 1 + leader % TCL_NODES;
    CHECK(kill(tcl_pids[follower], SIGKILL) == 0, "kill follower");
    waitpid(tcl_pids[follower], NULL, 0);
    tcl_pids[follower] = 0;
    struct tcl_status l0;
    CHECK(tcl_read_status(leader, &l0), "leader status");
    printf("e2e-catchup: follower %d killed; writing 120 znodes through leader %d\n", follower,
           leader);
    char servers[64];
    servers_of(servers, sizeof(servers), leader, 1);
    static struct tclient c;
    CHECK(tc_init(&c, servers, 1) == 0 && tc_connect(&c, 4000, 8000) == 0, "session");
    static char keys[120][32], vals[120][32];
    int32_t err = 0;
    for (int i = 0; i < 120; i++) {
        snprintf(keys[i], 32, "/c%03d", i);
        snprintf(vals[i], 32, "catchup-%d", i);
        int rc = tc_create(&c, keys[i], vals[i], 0, &err);
        CHECK(rc == 0 && err == 0, "create %s: rc %d err %d", keys[i], rc, err);
    }
    unsigned long long target = (unsigned long long)c.last_zxid; /* last acknowledged write */
    tc_fini(&c);
    tcl_start_node(follower);
    uint64_t until = tcl_now_ms() + 20000;
    struct tcl_status st;
    while (tcl_now_ms() < until &&
           !(tcl_read_status(follower, &st) && st.ready && st.applied >= target))
        tcl_sleep_ms(50);
    CHECK(tcl_read_status(follower, &st) && st.applied >= target,
          "follower %d did not catch up (applied %llu, last acknowledged zxid %llu)", follower,
          st.applied, target);
    struct tcl_status l1;
    CHECK(tcl_read_status(leader, &l1) && l1.term == l0.term && l1.leader == leader,
          "the leader changed during the catch-up (term %llu -> %llu, leader %d -> %d): the "
          "scenario must show one leader resuming a follower past its window",
          l0.term, l1.term, leader, l1.leader);
    char cmd[192];
    snprintf(cmd, sizeof(cmd), "grep -q 'installed snapshot' '%s/n%d.log'", tcl_base, follower);
    CHECK(system(cmd) == 0, "follower %d was not caught up by a snapshot transfer", follower);
    verify_on(follower, keys, vals, 120, 0);
    printf("e2e-catchup: PASS: follower %d caught up by InstallSnapshot (applied %llu, last write "
           "%llu) and "
           "serves all 120 writes; %d checks\n",
           follower, st.applied, target, tcl_checks);
    return 0;
}

/* ---- the same through libzinc (client/zinc.h) --------------------------------------------- */

static _Atomic int lz_created;

static void lz_watcher(zn_handle *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    (void)ctx;
    if (type == ZN_EVENT_CREATED && !strcmp(path, "/lz/w"))
        atomic_fetch_add(&lz_created, 1);
}

/*
 * libzinc against the three nodes: open (starting at the leader), create/get/set/delete, a
 * watch, SIGKILL of the leader under the session, writes through the failover, every
 * acknowledged write read back, close.
 */
static int libzinc_scenario(int leader)
{
    char hosts[96];
    servers_of(hosts, sizeof(hosts), 0, leader);
    struct zn_options o;
    zn_options_init(&o);
    o.cluster_id = 1;
    o.session_timeout_ms = 4000;
    o.shuffle_nodes = false;
    o.request_timeout_ms = 10000;
    zn_handle *zh = NULL;
    int rc = zn_open(hosts, &o, &zh);
    CHECK(rc == 0, "zn_open(%s): %s", hosts, zn_strerror(rc));
    printf("e2e-libzinc: session %016llx open through libzinc on node %d\n",
           (unsigned long long)zn_session_id(zh), zn_current_node(zh));
    char buf[64];
    int32_t len = sizeof(buf);
    CHECK(zn_create(zh, "/lz", "a", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) == 0,
          "zn_create /lz");
    CHECK(zn_get(zh, "/lz", 0, buf, &len, NULL) == 0 && len == 1 && buf[0] == 'a', "zn_get /lz");
    CHECK(zn_set(zh, "/lz", "b", 1, -1, NULL) == 0, "zn_set /lz");
    len = sizeof(buf);
    CHECK(zn_get(zh, "/lz", 0, buf, &len, NULL) == 0 && len == 1 && buf[0] == 'b', "zn_get b");
    CHECK(zn_create(zh, "/lz", "x", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) ==
              ZN_ENODEEXISTS,
          "second create must be NODEEXISTS");
    /* null data (NULL, -1) stays null through the log and the reply; empty stays empty */
    struct zn_stat nst;
    CHECK(zn_create(zh, "/lznull", NULL, -1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0,
                    NULL) == 0,
          "zn_create /lznull with null data");
    len = sizeof(buf);
    CHECK(zn_get(zh, "/lznull", 0, buf, &len, &nst) == 0 && len == -1 && nst.data_length == 0,
          "zn_get of null data: len %d (want -1), dataLength %d", len, nst.data_length);
    CHECK(zn_set(zh, "/lznull", "", 0, -1, NULL) == 0, "zn_set /lznull empty");
    len = sizeof(buf);
    CHECK(zn_get(zh, "/lznull", 0, buf, &len, &nst) == 0 && len == 0 && nst.data_length == 0,
          "zn_get of empty data: len %d (want 0)", len);
    CHECK(zn_set(zh, "/lznull", NULL, -1, -1, NULL) == 0, "zn_set /lznull null");
    len = sizeof(buf);
    CHECK(zn_get(zh, "/lznull", 0, buf, &len, &nst) == 0 && len == -1 && nst.version == 2,
          "zn_get after setting null data: len %d (want -1)", len);
    printf("e2e-libzinc: null data created, set empty and set null again reads back as "
           "-1 / 0 / -1\n");
    CHECK(zn_wexists(zh, "/lz/w", lz_watcher, NULL, NULL) == ZN_ENONODE, "wexists /lz/w");
    CHECK(zn_create(zh, "/lz/w", "", 0, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, NULL, 0, NULL) == 0,
          "create /lz/w");
    for (int i = 0; i < 100 && atomic_load(&lz_created) == 0; i++)
        tcl_sleep_ms(20);
    CHECK(atomic_load(&lz_created) == 1, "the exists watch fired %d times",
          atomic_load(&lz_created));
    {
        /* addAuth, whoAmI and ACLs with identities (node/node_auth.c): a digest ACL admits the
         * sessions that added that digest, through the leader (stamped there) and through a
         * follower (identities forwarded with the write), and refuses one without it. */
        char fh[96];
        servers_of(fh, sizeof(fh), 0, 1 + leader % TCL_NODES); /* starts at a follower */
        zn_handle *fa = NULL, *nb = NULL, *bad = NULL;
        CHECK(zn_open(fh, &o, &fa) == 0 && zn_open(fh, &o, &nb) == 0 && zn_open(fh, &o, &bad) == 0,
              "three more sessions");
        CHECK(zn_add_auth(zh, "digest", "alice:pw", 8) == 0, "addAuth on the leader");
        CHECK(zn_add_auth(fa, "digest", "alice:pw", 8) == 0, "addAuth on a follower");
        rc = zn_add_auth(bad, "nosuchscheme", "x", 1);
        CHECK(rc == ZN_EAUTHFAILED, "addAuth of an unknown scheme: %s", zn_strerror(rc));
        /* ZooKeeper's DigestAuthenticationProvider.generateDigest("alice:pw") */
        struct zn_acl acl = {ZN_PERM_ALL, "digest", "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="};
        struct zn_acl_vec av = {1, &acl};
        CHECK(zn_create(zh, "/lzsec", "s", 1, &av, ZN_PERSISTENT, 0, NULL, 0, NULL) == 0,
              "create /lzsec with a digest ACL");
        /* nb's node may not have applied the create yet (a follower; nb saw nothing newer):
         * NONODE until it has, then NOAUTH. */
        rc = ZN_ENONODE;
        for (uint64_t stop = tcl_now_ms() + 10000; rc == ZN_ENONODE && tcl_now_ms() < stop;) {
            len = sizeof(buf);
            if ((rc = zn_get(nb, "/lzsec", 0, buf, &len, NULL)) == ZN_ENONODE)
                tcl_sleep_ms(20);
        }
        CHECK(rc == ZN_ENOAUTH, "read without the identity: %s", zn_strerror(rc));
        rc = zn_set(nb, "/lzsec", "x", 1, -1, NULL);
        CHECK(rc == ZN_ENOAUTH, "write without the identity: %s", zn_strerror(rc));
        rc = zn_set(fa, "/lzsec", "t", 1, -1, NULL);
        CHECK(rc == 0, "write with the identity through a follower: %s", zn_strerror(rc));
        len = sizeof(buf);
        CHECK(zn_get(zh, "/lzsec", 0, buf, &len, NULL) == 0 && len == 1 && buf[0] == 't',
              "read with the identity");
        struct zn_client_infos who;
        CHECK(zn_whoami(fa, &who) == 0, "whoAmI");
        bool digest = false, ip = false;
        for (int32_t i = 0; i < who.count; i++) {
            /* ZooKeeper's ClientInfo: the digest user name, never the hash */
            digest |= !strcmp(who.data[i].scheme, "digest") && !strcmp(who.data[i].user, "alice");
            ip |= !strcmp(who.data[i].scheme, "ip") && !strcmp(who.data[i].user, "127.0.0.1");
        }
        CHECK(who.count == 2 && digest && ip, "whoAmI: %d identities, digest %d ip %d", who.count,
              digest, ip);
        zn_client_infos_free(&who);
        zn_close(fa);
        zn_close(nb);
        zn_close(bad);
        printf("e2e-libzinc: addAuth digest: ACL admits the identity (leader and follower "
               "writes), refuses a session without it (NOAUTH); whoAmI lists ip + digest\n");
    }
    static char keys[40][32], vals[40][32];
    int n = 0;
    for (int i = 0; i < 20; i++, n++) {
        snprintf(keys[n], 32, "/lz/k%02d", i);
        snprintf(vals[n], 32, "lz-%d", i);
        rc = zn_create(zh, keys[n], vals[n], (int32_t)strlen(vals[n]), &ZN_OPEN_ACL_UNSAFE,
                       ZN_PERSISTENT, 0, NULL, 0, NULL);
        CHECK(rc == 0, "zn_create %s: %s", keys[n], zn_strerror(rc));
    }
    CHECK(kill(tcl_pids[leader], SIGKILL) == 0, "kill leader");
    waitpid(tcl_pids[leader], NULL, 0);
    tcl_pids[leader] = 0;
    uint64_t t_kill = tcl_now_ms();
    for (int i = 0; i < 20; i++, n++) {
        snprintf(keys[n], 32, "/lz/after%02d", i);
        snprintf(vals[n], 32, "after-%d", i);
        rc = zn_create(zh, keys[n], vals[n], (int32_t)strlen(vals[n]), &ZN_OPEN_ACL_UNSAFE,
                       ZN_PERSISTENT, 0, NULL, 0, NULL);
        CHECK(rc == 0, "zn_create %s after the kill: %s", keys[n], zn_strerror(rc));
        if (i == 0)
            printf("e2e-libzinc: leader %d killed; first write acknowledged %llu ms later, "
                   "session now on node %d\n",
                   leader, (unsigned long long)(tcl_now_ms() - t_kill), zn_current_node(zh));
    }
    for (int i = 0; i < n; i++) {
        len = sizeof(buf) - 1;
        rc = zn_get(zh, keys[i], 0, buf, &len, NULL);
        CHECK(rc == 0 && len == (int32_t)strlen(vals[i]) && !memcmp(buf, vals[i], (size_t)len),
              "acknowledged %s missing or wrong: %s", keys[i], zn_strerror(rc));
    }
    {
        /* The identity followed the session to its new node (libzinc re-sends addAuth after a
         * reconnect; the node keeps identities per connection): the digest ACL still admits
         * it, and the "auth" ACL still turns into it (was NOAUTH / INVALIDACL). */
        len = sizeof(buf);
        rc = zn_get(zh, "/lzsec", 0, buf, &len, NULL);
        CHECK(rc == 0 && len == 1 && buf[0] == 't',
              "read /lzsec with the identity after the failover (node %d): %s", zn_current_node(zh),
              zn_strerror(rc));
        rc = zn_set(zh, "/lzsec", "u", 1, -1, NULL);
        CHECK(rc == 0, "write /lzsec with the identity after the failover: %s", zn_strerror(rc));
        rc = zn_create(zh, "/lzmine", "", 0, &ZN_CREATOR_ALL_ACL, ZN_PERSISTENT, 0, NULL, 0, NULL);
        CHECK(rc == 0, "create with the auth ACL after the failover: %s", zn_strerror(rc));
        struct zn_acl_vec got = {0};
        rc = zn_get_acl(zh, "/lzmine", &got, NULL);
        CHECK(rc == 0 && got.count == 1 && !strcmp(got.data[0].scheme, "digest") &&
                  !strncmp(got.data[0].id, "alice:", 6),
              "the auth ACL became the digest identity: %s, %d entries", zn_strerror(rc),
              got.count);
        zn_acl_vec_free(&got);
        struct zn_client_stats cs;
        zn_get_stats(zh, &cs);
        printf("e2e-libzinc: after the failover to node %d the session still holds its digest "
               "identity (%llu re-sent): ACL read, write and auth-ACL create OK\n",
               zn_current_node(zh), (unsigned long long)cs.auths_resent);
    }
    int new_leader = tcl_wait_leader(leader, 10000);
    CHECK(new_leader != 0 && new_leader != leader, "no new leader");
    CHECK(zn_close(zh) == 0, "zn_close");
    printf("e2e-libzinc: PASS: %d acknowledged writes through libzinc, 0 lost across the leader "
           "kill; new leader %d; %d checks\n",
           n + 3, new_leader, tcl_checks);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 3 && (!strcmp(argv[2], "catchup") || !strcmp(argv[2], "libzinc")))) {
        fprintf(stderr, "usage: e2e ZINCD [catchup|libzinc]\n");
        return 2;
    }
    bool catchup = argc == 3 && !strcmp(argv[2], "catchup");
    bool libzinc = argc == 3 && !strcmp(argv[2], "libzinc");
    if (catchup)
        keep_entries = 8;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (tcl_setup("e2e", argv[1], "/tmp/zn-e2e-XXXXXX", 150) != 0)
        return 1;
    unsigned first_port = 21000 + (unsigned)(getpid() % 2000) * 3;
    for (int i = 1; i <= TCL_NODES; i++)
        tcl_ports[i] = (uint16_t)(first_port + (unsigned)i);
    for (int i = 1; i <= TCL_NODES; i++)
        write_config(i);
    for (int i = 1; i <= TCL_NODES; i++)
        tcl_start_node(i);
    uint64_t t0 = tcl_now_ms();
    int leader = tcl_wait_leader(0, 20000);
    CHECK(leader != 0, "no leader within 20 s");
    printf("e2e: node %d elected leader in %llu ms after start\n", leader,
           (unsigned long long)(tcl_now_ms() - t0));
    if (catchup)
        return catchup_scenario(leader);
    if (libzinc)
        return libzinc_scenario(leader);

    char servers[64];
    /* The session starts on the leader, so that killing it moves the session too. */
    servers_of(servers, sizeof(servers), 0, leader);
    static struct tclient c;
    CHECK(tc_init(&c, servers, 1) == 0, "client init");
    CHECK(tc_connect(&c, 4000, 10000) == 0, "session");
    printf("e2e: session %016llx open (timeout %u ms)\n", (unsigned long long)c.session,
           c.timeout_ms);
    int32_t err = 0;
    char data[64];
    CHECK(tc_create(&c, "/e2e", "v0", 0, &err) == 0 && err == 0, "create /e2e: err %d", err);
    CHECK(tc_get(&c, "/e2e", data, sizeof(data), &err) == 0 && err == 0 && !strcmp(data, "v0"),
          "get /e2e");
    CHECK(tc_set(&c, "/e2e", "v1", &err) == 0 && err == 0, "set /e2e: err %d", err);
    CHECK(tc_get(&c, "/e2e", data, sizeof(data), &err) == 0 && err == 0 && !strcmp(data, "v1"),
          "get /e2e after set: '%s'", data);
    CHECK(tc_create(&c, "/e2e", "again", 0, &err) == 0 && err == ZK_NODEEXISTS,
          "create of an existing node must fail with NODEEXISTS, got %d", err);
    CHECK(tc_create(&c, "/gone", "x", 0, &err) == 0 && err == 0, "create /gone");
    CHECK(tc_delete(&c, "/gone", &err) == 0 && err == 0, "delete /gone: err %d", err);
    CHECK(tc_get(&c, "/gone", data, sizeof(data), &err) == 0 && err == ZK_NONODE,
          "get after delete: err %d", err);

    /* Per-session FIFO under reordering: 32 setData sent at once, newest first; the node holds
     * the early ones and applies them in seq order, so reply k carries version first + k. Then
     * the same with every odd reply lost once: retransmissions get the original replies
     * (exactly once: the versions still advance by one per request). */
    for (int round = 0; round < 2; round++) {
        int32_t versions[32];
        int32_t first_version = 2 + 32 * round;
        uint64_t t_pipe = tcl_now_ms();
        CHECK(tc_pipeline_sets(&c, "/e2e", 32, versions, round == 1, 30000) == 0,
              "pipelined sets, round %d: not all 32 replies within 30 s (%llu ms)", round,
              (unsigned long long)(tcl_now_ms() - t_pipe));
        for (int k = 0; k < 32; k++)
            CHECK(versions[k] == first_version + k,
                  "round %d: reply %d has version %d, expected %d", round, k, versions[k],
                  first_version + k);
        CHECK(tc_get(&c, "/e2e", data, sizeof(data), &err) == 0 && !strcmp(data, "v31"),
              "after the pipeline /e2e holds '%s'", data);
        printf("e2e: 32 pipelined setData sent newest first%s: applied once each in FIFO order "
               "in %llu ms\n",
               round ? ", every odd reply lost once" : "",
               (unsigned long long)(tcl_now_ms() - t_pipe));
        if (round == 1) {
            /* A resent reply is the same message: it keeps the frame msg_id of the first. */
            CHECK(c.resent_same_id == 16 && c.resent_new_id == 0,
                  "resent replies: %llu kept their msg_id, %llu carried a new one (want 16, 0)",
                  (unsigned long long)c.resent_same_id, (unsigned long long)c.resent_new_id);
            printf("e2e: the 16 resent replies kept the msg_id of the reply first sent\n");
        }
    }
    CHECK(tc_set(&c, "/e2e", "v1", &err) == 0 && err == 0, "reset /e2e");
    static char keys[1 + KEYS + AFTER][32], vals[1 + KEYS + AFTER][32];
    int n = 0;
    snprintf(keys[n], 32, "/gone");
    vals[n][0] = '\0';
    n++;
    for (int i = 0; i < KEYS; i++, n++) {
        snprintf(keys[n], 32, "/e2e/k%02d", i);
        snprintf(vals[n], 32, "value-%d", i);
        int rc = tc_create(&c, keys[n], vals[n], 0, &err);
        CHECK(rc == 0 && err == 0, "create %s: rc %d err %d", keys[n], rc, err);
    }
    printf("e2e: %d znodes created through the native protocol (all acknowledged)\n", KEYS + 1);

    /* Kill the leader with SIGKILL and keep writing through the failover. */
    CHECK(kill(tcl_pids[leader], SIGKILL) == 0, "kill leader");
    waitpid(tcl_pids[leader], NULL, 0);
    tcl_pids[leader] = 0;
    uint64_t t_kill = tcl_now_ms();
    printf("e2e: leader %d killed (SIGKILL)\n", leader);
    for (int i = 0; i < AFTER; i++, n++) {
        snprintf(keys[n], 32, "/e2e/after%02d", i);
        snprintf(vals[n], 32, "after-%d", i);
        int rc = tc_create(&c, keys[n], vals[n], 0, &err);
        CHECK(rc == 0 && (err == 0 || err == ZK_NODEEXISTS),
              "create %s after failover: rc %d err %d", keys[n], rc, err);
        if (i == 0)
            printf("e2e: first write after the kill acknowledged %llu ms after it\n",
                   (unsigned long long)(tcl_now_ms() - t_kill));
    }
    int new_leader = tcl_wait_leader(leader, 10000);
    CHECK(new_leader != 0 && new_leader != leader, "no new leader after the kill");
    CHECK(c.failovers >= 1, "the session should have moved off the killed node");
    printf("e2e: node %d is the new leader; client failovers %u, retransmits %llu\n", new_leader,
           c.failovers, (unsigned long long)c.retransmits);
    tc_fini(&c);

    for (int i = 1; i <= TCL_NODES; i++)
        if (i != leader)
            verify_on(i, keys, vals, n, 1);
    printf("e2e: all %d acknowledged writes present on both surviving nodes\n", n - 1);

    /* Restart the killed node: recovery from its WAL, catch-up from the new leader. */
    tcl_start_node(leader);
    struct tcl_status ls;
    CHECK(tcl_read_status(new_leader, &ls), "leader status");
    uint64_t until = tcl_now_ms() + 15000;
    struct tcl_status st;
    while (tcl_now_ms() < until &&
           !(tcl_read_status(leader, &st) && st.ready && st.applied >= ls.commit))
        tcl_sleep_ms(50);
    CHECK(tcl_read_status(leader, &st) && st.applied >= ls.commit,
          "restarted node %d did not catch up (applied %llu, leader commit %llu)", leader,
          st.applied, ls.commit);
    verify_on(leader, keys, vals, n, 1);
    {
        /* It took snapshots every 16 entries before the kill: recovery = snapshot + WAL. */
        char cmd[192];
        snprintf(cmd, sizeof(cmd), "grep -q 'loaded snapshot' '%s/n%d.log'", tcl_base, leader);
        CHECK(system(cmd) == 0, "node %d did not recover from a snapshot file", leader);
    }
    printf("e2e: restarted node %d recovered from snapshot + WAL and caught up (applied %llu); "
           "all writes present\n",
           leader, st.applied);

    /* Watches across nodes, and session expiry removing an ephemeral node. */
    {
        static struct tclient w, x, y;
        char one[64];
        int wnode = 1 + new_leader % TCL_NODES; /* a follower */
        servers_of(one, sizeof(one), wnode, 1);
        CHECK(tc_init(&w, one, 1) == 0 && tc_connect(&w, 4000, 8000) == 0, "watcher session");
        servers_of(one, sizeof(one), new_leader, 1);
        CHECK(tc_init(&x, one, 1) == 0 && tc_connect(&x, 4000, 8000) == 0, "writer session");
        CHECK(tc_get_watch(&w, "/e2e", &err) == 0 && err == 0, "getData with watch: err %d", err);
        CHECK(tc_set(&x, "/e2e", "v2", &err) == 0 && err == 0, "set /e2e from another node");
        int32_t type = 0;
        char path[64];
        CHECK(tc_wait_event(&w, 3000, &type, path, sizeof(path)) == 0, "no watch event");
        CHECK(type == ZN_ZK_EVENT_NODE_DATA_CHANGED && !strcmp(path, "/e2e"),
              "event type %d path %s", type, path);
        CHECK(tc_get(&w, "/e2e", data, sizeof(data), &err) == 0 && !strcmp(data, "v2"),
              "the watcher reads the data that fired its watch");
        printf("e2e: watch set on node %d fired NodeDataChanged for a write through node %d\n",
               wnode, new_leader);
        /* Linearizable reads (ReadIndex) through a follower and through the leader see the
         * latest committed value without a sync. */
        CHECK(tc_set(&x, "/e2e", "v3", &err) == 0 && err == 0, "set /e2e v3");
        for (int k = 0; k < 2; k++) {
            struct tclient *r = k == 0 ? &w : &x;
            r->next_flags = ZN_SESS_F_LINEARIZABLE;
            CHECK(tc_get(r, "/e2e", data, sizeof(data), &err) == 0 && err == 0 &&
                      !strcmp(data, "v3"),
                  "linearizable read %d: '%s' err %d", k, data, err);
        }
        printf("e2e: linearizable reads through a follower and the leader return the latest "
               "value\n");
        /* Session y creates an ephemeral and goes silent: the leader expires it. */
        servers_of(one, sizeof(one), 0, 1);
        CHECK(tc_init(&y, one, 1) == 0 && tc_connect(&y, 4000, 8000) == 0, "ephemeral session");
        CHECK(tc_create(&y, "/e2e/eph", "mine", ZN_ZK_EPHEMERAL, &err) == 0 && err == 0,
              "create ephemeral: err %d", err);
        /* The watcher's node may not have applied y's create yet: sync makes it visible. */
        CHECK(tc_sync(&w, "/e2e", &err) == 0 && err == 0, "sync: err %d", err);
        CHECK(tc_exists_watch(&w, "/e2e/eph", &err) == 0 && err == 0, "exists watch: err %d", err);
        uint64_t t_silent = tcl_now_ms();
        CHECK(tc_wait_event(&w, 12000, &type, path, sizeof(path)) == 0,
              "the ephemeral's deletion was not signalled");
        CHECK(type == ZN_ZK_EVENT_NODE_DELETED && !strcmp(path, "/e2e/eph"),
              "event type %d path %s", type, path);
        CHECK(tc_get(&w, "/e2e/eph", data, sizeof(data), &err) == 0 && err == ZK_NONODE,
              "ephemeral still there after expiry");
        printf("e2e: silent session expired after %llu ms (timeout %u ms): ephemeral deleted, "
               "NodeDeleted delivered\n",
               (unsigned long long)(tcl_now_ms() - t_silent), y.timeout_ms);
        /* y's own node applies the expiry at its own pace: refused within a bounded time. */
        int rc = 0;
        for (uint64_t stop = tcl_now_ms() + 3000; tcl_now_ms() < stop && rc != ZN_ESESSIONEXPIRED;)
            if ((rc = tc_get(&y, "/e2e", data, sizeof(data), &err)) != ZN_ESESSIONEXPIRED)
                tcl_sleep_ms(100);
        CHECK(rc == ZN_ESESSIONEXPIRED, "the expired session must be refused, got %d", rc);
        tc_fini(&w);
        tc_fini(&x);
        tc_fini(&y);
    }

    /* Sessions across nodes (node_moved.c) and event-queue overflow (node_session.c), with
     * sessions of their own (the sessions above would time out while these run). */
    {
        static struct tclient x;
        char one[64];
        int wnode = 1 + new_leader % TCL_NODES; /* a follower */
        servers_of(one, sizeof(one), new_leader, 1);
        CHECK(tc_init(&x, one, 1) == 0 && tc_connect(&x, 4000, 8000) == 0, "writer session");
        {
            /* A session that moves is dropped by the node it left as soon as that node learns
             * of the move (MOVED), not a session timeout later: its watch there must not fire
             * for a write made after the move. */
            static struct tclient m;
            char all[96];
            int from = wnode, to = 1 + wnode % TCL_NODES;
            servers_of(all, sizeof(all), 0, from);
            CHECK(tc_init(&m, all, 1) == 0 && tc_connect(&m, 4000, 8000) == 0 && m.cur == 0,
                  "moving session on node %d", from);
            CHECK(tc_exists_watch(&m, "/moved", &err) == 0, "exists watch on node %d", from);
            m.cur = 1; /* reconnect the same session to the next node */
            CHECK(tc_connect(&m, 4000, 8000) == 0, "reconnect to node %d", to);
            char cmd[256];
            snprintf(cmd, sizeof(cmd), "grep -q 'session %016llx moved to node %d' '%s/n%d.log'",
                     (unsigned long long)m.session, to, tcl_base, from);
            uint64_t t_move = tcl_now_ms();
            while (system(cmd) != 0 && tcl_now_ms() - t_move < 1500)
                tcl_sleep_ms(20);
            CHECK(system(cmd) == 0,
                  "node %d did not drop session %016llx within 1.5 s of its move to node %d "
                  "(its timeout is %u ms)",
                  from, (unsigned long long)m.session, to, m.timeout_ms);
            CHECK(tc_create(&x, "/moved", "x", 0, &err) == 0 && err == 0, "create /moved");
            int32_t mt = 0;
            char mp[64];
            CHECK(tc_wait_event(&m, 700, &mt, mp, sizeof(mp)) == ZN_ETIMEDOUT,
                  "node %d fired the watch of a session that moved away (event %d on %s)", from, mt,
                  mp);
            printf("e2e: session moved from node %d to node %d: dropped by node %d at once (its "
                   "old watch did not fire)\n",
                   from, to, from);
            tc_fini(&m);
        }
        {
            /* A client that does not ack its events: once its queue on the node overflows
             * (ZN_NODE_EVENTS_PER_SESSION_MAX), the node drops the connection and tells the
             * client at once (REFUSED SESSIONMOVED: reconnect, ZooKeeper's closed connection),
             * instead of going silent. The session itself lives on. */
            static struct tclient q;
            char one2[64];
            servers_of(one2, sizeof(one2), wnode, 1);
            CHECK(tc_init(&q, one2, 1) == 0 && tc_connect(&q, 8000, 8000) == 0, "slow session");
            CHECK(tc_add_watch(&q, "/e2e", ZN_ZK_ADDWATCH_PERSISTENT_RECURSIVE, &err) == 0 &&
                      err == 0,
                  "addWatch: err %d", err);
            unsigned events = 0, rounds = 0;
            int32_t refused = 0;
            int32_t vers[64];
            while (!refused && rounds < 40) {
                CHECK(tc_pipeline_sets(&x, "/e2e", 64, vers, false, 30000) == 0,
                      "64 sets, round %u", rounds);
                tc_drain(&q, 20, &events, &refused);
                rounds++;
            }
            uint64_t t_end = tcl_now_ms();
            while (!refused && tcl_now_ms() - t_end < 2000)
                tc_drain(&q, 100, &events, &refused);
            CHECK(refused == ZK_SESSIONMOVED,
                  "after %u writes and %u unacked events the node did not tell the client its "
                  "connection closed (refused %d)",
                  rounds * 64, events, refused);
            CHECK(q.ev_resent_same > 0 && q.ev_resent_new == 0,
                  "retransmitted events: %llu kept their msg_id, %llu carried a new one",
                  (unsigned long long)q.ev_resent_same, (unsigned long long)q.ev_resent_new);
            q.cur = 0;
            CHECK(tc_connect(&q, 8000, 8000) == 0, "the session reconnects after the overflow");
            CHECK(tc_get(&q, "/e2e", data, sizeof(data), &err) == 0 && err == 0,
                  "the session serves after the overflow");
            printf("e2e: event queue overflow after %u unacked events: the client was told "
                   "(SESSIONMOVED) and reconnected its session; %llu event retransmissions kept "
                   "their msg_id\n",
                   events, (unsigned long long)q.ev_resent_same);
            tc_fini(&q);
        }
        tc_fini(&x);
    }

    /* SIGTERM: every node drains and exits 0. */
    for (int i = 1; i <= TCL_NODES; i++) {
        CHECK(kill(tcl_pids[i], SIGTERM) == 0, "SIGTERM node %d", i);
        int status = 0;
        uint64_t deadline = tcl_now_ms() + 10000;
        pid_t got = 0;
        while (tcl_now_ms() < deadline && (got = waitpid(tcl_pids[i], &status, WNOHANG)) == 0)
            tcl_sleep_ms(20);
        CHECK(got == tcl_pids[i] && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "node %d did not exit 0 after SIGTERM", i);
        tcl_pids[i] = 0;
    }
    printf("e2e: PASS: %d checks, %d acknowledged writes, 0 lost, 1 leader killed\n", tcl_checks,
           n - 1);
    return 0;
}
