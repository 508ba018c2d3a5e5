/*
 * tests/store/test_ops.c - every store operation and every error path, with ZooKeeper's Stat
 * rules checked field by field (Criterion).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <urcu-qsbr.h>

#include "store/auth.h"
#include "store_test.h"

static struct tst T;
static struct zn_wbuf W;
static struct zn_reply R;

static void setup(void)
{
    urcu_qsbr_register_thread();
    tst_init(&T);
    zn_wbuf_init(&W, 0);
    cr_assert_eq(tst_session(&T, 0x100), 0);
}

static void teardown(void)
{
    zn_wbuf_fini(&W);
    tst_fini(&T);
    urcu_qsbr_unregister_thread();
}

TestSuite(store_ops, .init = setup, .fini = teardown);

static int create(const char *path, const char *data, int32_t mode)
{
    struct zn_op op = op_create(path, data, mode);
    return tst_op(&T, 0x100, &op);
}

static struct zn_stat stat_of(const char *path)
{
    struct zn_stat st;
    cr_assert_eq(tst_stat(&T, path, &st), 0, "%s missing", path);
    return st;
}

Test(store_ops, initial_tree)
{
    const char *paths[] = {"/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"};
    for (int i = 0; i < 4; i++)
        (void)stat_of(paths[i]);
    cr_assert_eq(stat_of("/").num_children, 1);
    cr_assert_eq(stat_of("/zookeeper").num_children, 2);
    struct zn_op op = op_path(ZN_OP_GETCHILDREN, "/", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    struct zn_str name;
    cr_assert_eq(R.count, 1);
    cr_assert_eq(zn_reply_next_name(&R, &name), 0);
    cr_assert(name.len == 9 && memcmp(name.ptr, "zookeeper", 9) == 0);
    cr_assert_eq(zn_reply_next_name(&R, &name), ZN_ENOENT);
    /* /zookeeper/config is read-only for everyone */
    struct zn_op set = op_set("/zookeeper/config", "x", -1);
    cr_assert_eq(tst_op(&T, 0x100, &set), ZN_ENOAUTH);
    struct zn_op del = op_path(ZN_OP_DELETE, "/zookeeper/quota", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_EBADARGUMENTS);
    del = op_path(ZN_OP_DELETE, "/", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_EBADARGUMENTS);
}

Test(store_ops, create_stat_rules)
{
    struct zn_stat root0 = stat_of("/");
    cr_assert_eq(create("/a", "hello", ZN_MODE_PERSISTENT), 0);
    uint64_t z = T.zxid;
    int64_t tm = T.time_ms;
    cr_assert(T.rep.has_stat);
    cr_assert(T.rep.path.len == 2 && memcmp(T.rep.path.ptr, "/a", 2) == 0);
    struct zn_stat st = stat_of("/a");
    cr_assert(zn_stat_equal(&st, &T.rep.stat));
    cr_assert_eq(st.czxid, (int64_t)z);
    cr_assert_eq(st.mzxid, (int64_t)z);
    cr_assert_eq(st.pzxid, (int64_t)z);
    cr_assert_eq(st.ctime, tm);
    cr_assert_eq(st.mtime, tm);
    cr_assert_eq(st.version, 0);
    cr_assert_eq(st.cversion, 0);
    cr_assert_eq(st.aversion, 0);
    cr_assert_eq(st.ephemeral_owner, 0);
    cr_assert_eq(st.data_length, 5);
    cr_assert_eq(st.num_children, 0);
    struct zn_stat root = stat_of("/");
    cr_assert_eq(root.cversion, root0.cversion + 1);
    cr_assert_eq(root.pzxid, (int64_t)z);
    cr_assert_eq(root.num_children, root0.num_children + 1);
    cr_assert_eq(root.mzxid, root0.mzxid, "a child create does not touch the parent's mzxid");
    cr_assert_eq(root.version, root0.version);
    /* getData returns data and the same Stat */
    struct zn_op get = op_path(ZN_OP_GETDATA, "/a", -1);
    cr_assert_eq(tst_read(&T, 0x100, &get, &W, &R), 0);
    cr_assert(R.data_len == 5 && memcmp(R.data, "hello", 5) == 0);
    cr_assert(zn_stat_equal(&R.stat, &st));
    cr_assert_eq(R.zxid, (int64_t)T.zxid);
    cr_assert_eq(zn_store_digest(T.s), zn_store_digest_compute(T.s));
}

Test(store_ops, create_errors)
{
    cr_assert_eq(create("/a", NULL, ZN_MODE_PERSISTENT), 0);
    uint64_t d = zn_store_tree_digest(T.s);
    cr_assert_eq(create("/a", NULL, ZN_MODE_PERSISTENT), ZN_ENODEEXISTS);
    cr_assert_eq(create("/", NULL, ZN_MODE_PERSISTENT), ZN_ENODEEXISTS);
    cr_assert_eq(create("/x/y", NULL, ZN_MODE_PERSISTENT), ZN_ENONODE);
    const char *bad[] = {"a",
                         "/a/",
                         "//a",
                         "/a/.",
                         "/a/..",
                         "",
                         "/a\x01",
                         "/a\x7f",
                         "/\xc2\x80",
                         "/\xef\xbf\xbf",
                         "/\xf0\x9f\x98\x80",
                         "/\xc3",
                         "/\xed\xa0\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(create(bad[i], NULL, ZN_MODE_PERSISTENT), ZN_EBADARGUMENTS, "path %zu", i);
    /* ZooKeeper looks the parent up before it validates the whole path: a malformed path under
     * a missing parent (`/a/` here, `/.`, `/a/..`) is NoNode (PrepRequestProcessor). */
    const char *orphan[] = {"/a//b", "/./a", "/a/../b"};
    for (size_t i = 0; i < sizeof(orphan) / sizeof(orphan[0]); i++)
        cr_assert_eq(create(orphan[i], NULL, ZN_MODE_PERSISTENT), ZN_ENONODE, "orphan %zu", i);
    /* "." and ".." inside a name are fine */
    cr_assert_eq(create("/a/.b", NULL, ZN_MODE_PERSISTENT), 0);
    cr_assert_eq(create("/a/..b", NULL, ZN_MODE_PERSISTENT), 0);
    cr_assert_eq(create("/a/\xc3\xa9t\xc3\xa9", NULL, ZN_MODE_PERSISTENT), 0);
    d = zn_store_tree_digest(T.s);
    /* NUL inside a path */
    struct zn_op op = op_create("/a/b", NULL, 0);
    op.path.len = 5;
    op.path.ptr = "/a/b\0";
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EBADARGUMENTS);
    /* modes and TTL */
    op = op_create("/m", NULL, 7);
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EBADARGUMENTS);
    op = op_create("/m", NULL, -1);
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EBADARGUMENTS);
    op = op_create("/m", NULL, ZN_MODE_PERSISTENT_WITH_TTL);
    op.type = ZN_OP_CREATETTL;
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EBADARGUMENTS, "TTL mode needs ttl > 0");
    op.ttl_ms = ZN_EPHEMERAL_TTL_MAX_MS + 1;
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EBADARGUMENTS);
    op = op_create("/m", NULL, ZN_MODE_PERSISTENT);
    op.ttl_ms = 5;
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EBADARGUMENTS, "ttl with a non-TTL mode");
    /* ACL validation */
    struct zn_acl_entry bad_acls[][1] = {
        {{31, {"world", 5}, {"someone", 7}}},  {{31, {"foo", 3}, {"x", 1}}},
        {{31, {"digest", 6}, {"nocolon", 7}}}, {{31, {"digest", 6}, {"a:b:c", 5}}},
        {{31, {"ip", 2}, {"300.1.1.1", 9}}},   {{31, {"ip", 2}, {"10.0.0.0/33", 11}}},
        {{31, {"auth", 4}, {"", 0}}},
    };
    for (size_t i = 0; i < sizeof(bad_acls) / sizeof(bad_acls[0]); i++) {
        op = op_create("/acl", NULL, 0);
        op.acl = bad_acls[i];
        cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EINVALIDACL, "acl %zu", i);
    }
    op = op_create("/acl", NULL, 0);
    op.acl_count = 0;
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_EINVALIDACL, "empty ACL");
    /* data limit */
    static char big[ZN_DATA_SIZE_DEFAULT_BYTES + 2];
    memset(big, 'x', sizeof(big) - 1);
    op = op_create("/big", big, 0);
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_ELIMIT);
    /* ephemeral parent */
    cr_assert_eq(create("/e", NULL, ZN_MODE_EPHEMERAL), 0);
    d = zn_store_tree_digest(T.s);
    cr_assert_eq(create("/e/c", NULL, ZN_MODE_PERSISTENT), ZN_ENOCHILDRENFOREPHEMERALS);
    cr_assert_eq(zn_store_tree_digest(T.s), d, "a failed create changes nothing");
    /* unknown session */
    op = op_create("/u", NULL, 0);
    d = zn_store_digest(T.s);
    cr_assert_eq(tst_op(&T, 0x999, &op), ZN_ESESSIONEXPIRED);
    cr_assert_eq(zn_store_digest(T.s), d, "unknown session: not even the dedup table changes");
}

Test(store_ops, sequential_names)
{
    cr_assert_eq(create("/q", NULL, 0), 0);
    cr_assert_eq(create("/q/x", NULL, 0), 0); /* cversion 1 */
    cr_assert_eq(create("/q/n-", "d", ZN_MODE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert(T.rep.path.len == 15 && memcmp(T.rep.path.ptr, "/q/n-0000000001", 15) == 0);
    struct zn_op del = op_path(ZN_OP_DELETE, "/q/x", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), 0);
    cr_assert_eq(stat_of("/q").cversion, 2, "delete leaves the creates counter alone");
    struct zn_op ex = op_path(ZN_OP_EXISTS, "/q", -1);
    cr_assert_eq(tst_read(&T, 0x100, &ex, &W, &R), 0);
    cr_assert_eq(R.stat.cversion, 3, "clients see creates + deletes (DataNode.copyStat)");
    cr_assert_eq(create("/q/n-", NULL, ZN_MODE_EPHEMERAL_SEQUENTIAL), 0);
    cr_assert(memcmp(T.rep.path.ptr, "/q/n-0000000002", 15) == 0);
    cr_assert_eq(T.rep.stat.ephemeral_owner, 0x100);
    /* trailing slash: the name is only the counter */
    cr_assert_eq(create("/q/", NULL, ZN_MODE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert(T.rep.path.len == 13 && memcmp(T.rep.path.ptr, "/q/0000000003", 13) == 0);
    cr_assert_eq(create("/", NULL, ZN_MODE_PERSISTENT_SEQUENTIAL), 0);
    cr_assert_eq(T.rep.path.len, 11);
    /* the counter of a sequential-named node that exists already gives NodeExists */
    cr_assert_eq(create("/q/0000000005", NULL, 0), 0);
    cr_assert_eq(create("/q/", NULL, ZN_MODE_PERSISTENT_SEQUENTIAL), ZN_ENODEEXISTS);
}

Test(store_ops, delete_rules)
{
    cr_assert_eq(create("/d", NULL, 0), 0);
    cr_assert_eq(create("/d/c", NULL, 0), 0);
    struct zn_stat p0 = stat_of("/d");
    struct zn_op del = op_path(ZN_OP_DELETE, "/d", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_ENOTEMPTY);
    del = op_path(ZN_OP_DELETE, "/d/c", 3);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_EBADVERSION);
    del = op_path(ZN_OP_DELETE, "/d/zz", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_ENONODE);
    del = op_path(ZN_OP_DELETE, "/nope/zz", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_ENONODE);
    del = op_path(ZN_OP_DELETE, "/d/c/", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_EBADARGUMENTS);
    del = op_path(ZN_OP_DELETE, "/d/c", 0);
    cr_assert_eq(tst_op(&T, 0x100, &del), 0);
    struct zn_stat p1 = stat_of("/d");
    cr_assert_eq(p1.num_children, 0);
    cr_assert_eq(p1.pzxid, (int64_t)T.zxid);
    cr_assert_eq(p1.cversion, p0.cversion);
    cr_assert_eq(p1.mzxid, p0.mzxid);
    struct zn_stat st;
    cr_assert_eq(tst_stat(&T, "/d/c", &st), ZN_ENONODE);
    cr_assert_eq(T.res.trigger_count, 2);
    cr_assert_eq(T.res.triggers[0].type, ZN_EVENT_NODE_DELETED);
    cr_assert_eq(T.res.triggers[1].type, ZN_EVENT_NODE_CHILDREN_CHANGED);
    cr_assert(T.res.triggers[1].path.len == 2 && memcmp(T.res.triggers[1].path.ptr, "/d", 2) == 0);
}

Test(store_ops, setdata_setacl_check)
{
    cr_assert_eq(create("/s", "a", 0), 0);
    struct zn_stat s0 = stat_of("/s");
    struct zn_op set = op_set("/s", "bcd", 1);
    cr_assert_eq(tst_op(&T, 0x100, &set), ZN_EBADVERSION);
    set = op_set("/s", "bcd", 0);
    cr_assert_eq(tst_op(&T, 0x100, &set), 0);
    struct zn_stat s1 = stat_of("/s");
    cr_assert(zn_stat_equal(&s1, &T.rep.stat));
    cr_assert_eq(s1.version, 1);
    cr_assert_eq(s1.mzxid, (int64_t)T.zxid);
    cr_assert_eq(s1.mtime, T.time_ms);
    cr_assert_eq(s1.czxid, s0.czxid);
    cr_assert_eq(s1.ctime, s0.ctime);
    cr_assert_eq(s1.data_length, 3);
    cr_assert_eq(s1.pzxid, s0.pzxid);
    set = op_set("/s", "x", -1);
    cr_assert_eq(tst_op(&T, 0x100, &set), 0);
    cr_assert_eq(stat_of("/s").version, 2);
    set = op_set("/none", "x", -1);
    cr_assert_eq(tst_op(&T, 0x100, &set), ZN_ENONODE);
    cr_assert_eq(T.res.trigger_count, 0);

    struct zn_acl_entry ro[] = {{ZN_PERM_READ | ZN_PERM_ADMIN, {"world", 5}, {"anyone", 6}}};
    struct zn_op sa = op_path(ZN_OP_SETACL, "/s", 1);
    sa.acl = ro;
    sa.acl_count = 1;
    cr_assert_eq(tst_op(&T, 0x100, &sa), ZN_EBADVERSION, "setACL checks aversion");
    sa.version = 0;
    struct zn_stat before = stat_of("/s");
    cr_assert_eq(tst_op(&T, 0x100, &sa), 0);
    struct zn_stat after = stat_of("/s");
    cr_assert_eq(after.aversion, 1);
    cr_assert_eq(after.mzxid, before.mzxid, "setACL does not change mzxid");
    cr_assert_eq(after.version, before.version);
    set = op_set("/s", "y", -1);
    cr_assert_eq(tst_op(&T, 0x100, &set), ZN_ENOAUTH, "no WRITE any more");
    sa.acl_count = 0;
    sa.version = -1;
    cr_assert_eq(tst_op(&T, 0x100, &sa), ZN_EINVALIDACL);

    struct zn_op chk = op_path(ZN_OP_CHECK, "/s", 2);
    cr_assert_eq(tst_op(&T, 0x100, &chk), 0);
    chk.version = 1;
    cr_assert_eq(tst_op(&T, 0x100, &chk), ZN_EBADVERSION);
    chk = op_path(ZN_OP_CHECK, "/nope", -1);
    cr_assert_eq(tst_op(&T, 0x100, &chk), ZN_ENONODE);
    struct zn_op sync = op_path(ZN_OP_SYNC, "/s", -1);
    cr_assert_eq(tst_op(&T, 0x100, &sync), 0);
    cr_assert(T.rep.path.len == 2);
}

Test(store_ops, multi_success_and_failure)
{
    cr_assert_eq(create("/m", "0", 0), 0);
    struct zn_op subs[4] = {op_create("/m/a", "1", 0), op_set("/m", "2", 0),
                            op_create("/m/a/b", NULL, ZN_MODE_PERSISTENT_SEQUENTIAL),
                            op_path(ZN_OP_CHECK, "/m", 1)};
    struct zn_op multi = {.type = ZN_OP_MULTI, .sub = subs, .sub_count = 4};
    cr_assert_eq(tst_op(&T, 0x100, &multi), 0);
    cr_assert_eq(T.rep.count, 4);
    struct zn_reply sub;
    int32_t types[4] = {ZN_OP_CREATE2, ZN_OP_SETDATA, ZN_OP_CREATE2, ZN_OP_CHECK};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(zn_reply_next_sub(&T.rep, &sub), 0);
        cr_assert_eq(sub.op, types[i]);
        cr_assert_eq(sub.err, 0);
    }
    cr_assert_eq(stat_of("/m/a/b0000000000").czxid, (int64_t)T.zxid);
    cr_assert_eq(stat_of("/m").mzxid, (int64_t)T.zxid);
    cr_assert_eq(stat_of("/m/a").num_children, 1);
    cr_assert_eq(T.res.trigger_count, 5);

    uint64_t d = zn_store_tree_digest(T.s);
    struct zn_stat m0 = stat_of("/m");
    struct zn_op subs2[4] = {op_create("/m/new", NULL, 0), op_set("/m", "3", -1),
                             op_path(ZN_OP_DELETE, "/m/a", -1), op_set("/m", "4", -1)};
    multi.sub = subs2;
    cr_assert_eq(tst_op(&T, 0x100, &multi), ZN_ENOTEMPTY);
    cr_assert_eq(zn_store_tree_digest(T.s), d, "a failed multi changes nothing");
    struct zn_stat m1 = stat_of("/m");
    cr_assert(zn_stat_equal(&m0, &m1));
    cr_assert_eq(T.res.trigger_count, 0);
    int codes[4] = {0, 0, ZN_ENOTEMPTY, ZN_EINCONSISTENT};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(zn_reply_next_sub(&T.rep, &sub), 0);
        cr_assert_eq(sub.op, ZN_OP_ERROR);
        cr_assert_eq(sub.err, codes[i], "op %d", i);
    }
    struct zn_stat st;
    cr_assert_eq(tst_stat(&T, "/m/new", &st), ZN_ENONODE);
    /* ops see earlier ops of the same multi: create then delete in one multi */
    struct zn_op subs3[2] = {op_create("/m/t", NULL, 0), op_path(ZN_OP_DELETE, "/m/t", 0)};
    multi.sub = subs3;
    multi.sub_count = 2;
    cr_assert_eq(tst_op(&T, 0x100, &multi), 0);
    cr_assert_eq(tst_stat(&T, "/m/t", &st), ZN_ENONODE);
    cr_assert_eq(stat_of("/m").cversion, m0.cversion + 1);
    /* read ops cannot even be encoded into a multi entry */
    struct zn_op subs4[1] = {op_path(ZN_OP_GETDATA, "/m", -1)};
    multi.sub = subs4;
    multi.sub_count = 1;
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT, .session = 0x100, .op = multi};
    size_t len;
    cr_assert_eq(zn_entry_encode(&e, T.buf, ZN_STORE_ENTRY_SIZE_MAX, &len), ZN_EINVAL);
    cr_assert_eq(zn_store_digest(T.s), zn_store_digest_compute(T.s));
}

Test(store_ops, reads)
{
    cr_assert_eq(create("/r", "data", 0), 0);
    for (int i = 0; i < 5; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/r/c%d", i);
        cr_assert_eq(create(p, NULL, i % 2 ? ZN_MODE_EPHEMERAL : 0), 0);
    }
    cr_assert_eq(create("/r/c0/g", NULL, 0), 0);
    struct zn_op op = op_path(ZN_OP_GETCHILDREN2, "/r", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    cr_assert_eq(R.count, 5);
    cr_assert_eq(R.stat.num_children, 5);
    op = op_path(ZN_OP_GETALLCHILDRENNUMBER, "/r", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    cr_assert_eq(R.number, 6);
    op = op_path(ZN_OP_GETALLCHILDRENNUMBER, "/", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    cr_assert_eq(R.number, 10);
    op = op_path(ZN_OP_GETEPHEMERALS, "/", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    cr_assert_eq(R.count, 2);
    op = op_path(ZN_OP_GETEPHEMERALS, "/r/c1", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    cr_assert_eq(R.count, 1);
    op = op_path(ZN_OP_EXISTS, "/r/zz", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), ZN_ENONODE);
    op = op_path(ZN_OP_GETDATA, "bad", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), ZN_ENONODE, "ZooKeeper: reads only look up");
    struct zn_op subs[3] = {op_path(ZN_OP_GETDATA, "/r", -1),
                            op_path(ZN_OP_GETCHILDREN, "/nope", -1),
                            op_path(ZN_OP_GETCHILDREN, "/r", -1)};
    op = (struct zn_op){.type = ZN_OP_MULTIREAD, .sub = subs, .sub_count = 3};
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    struct zn_reply sub;
    cr_assert_eq(zn_reply_next_sub(&R, &sub), 0);
    cr_assert(sub.op == ZN_OP_GETDATA && sub.data_len == 4);
    cr_assert_eq(zn_reply_next_sub(&R, &sub), 0);
    cr_assert(sub.op == ZN_OP_ERROR && sub.err == ZN_ENONODE);
    cr_assert_eq(zn_reply_next_sub(&R, &sub), 0);
    cr_assert(sub.op == ZN_OP_GETCHILDREN && sub.count == 5);
    cr_assert_eq(zn_reply_next_sub(&R, &sub), ZN_ENOENT);
    /* a nested multiRead is refused as one sub-op and does not shift the others */
    struct zn_op nested[2] = {op, op_path(ZN_OP_GETDATA, "/r", -1)};
    struct zn_op outer = {.type = ZN_OP_MULTIREAD, .sub = nested, .sub_count = 2};
    cr_assert_eq(tst_read(&T, 0x100, &outer, &W, &R), 0);
    cr_assert_eq(zn_reply_next_sub(&R, &sub), 0);
    cr_assert(sub.op == ZN_OP_ERROR && sub.err == ZN_EBADARGUMENTS);
    cr_assert_eq(zn_reply_next_sub(&R, &sub), 0);
    cr_assert(sub.op == ZN_OP_GETDATA && sub.data_len == 4 && memcmp(sub.data, "data", 4) == 0);
}

Test(store_ops, sessions_ephemerals_dedup)
{
    cr_assert_eq(tst_session(&T, 0x100), ZN_EBADARGUMENTS, "duplicate session id");
    cr_assert_eq(tst_session(&T, 0), ZN_EBADARGUMENTS);
    cr_assert_eq(tst_session(&T, 0x200), 0);
    cr_assert_eq(T.rep.session, 0x200u);
    cr_assert_eq(T.rep.timeout_ms, 10000u);
    uint32_t timeout;
    uint8_t pw[ZN_SESSION_PASSWD_BYTES];
    cr_assert_eq(zn_store_session_get(T.s, 0x200, &timeout, pw), 0);
    cr_assert(timeout == 10000 && pw[0] == 0x5a && pw[15] == 0x5a);
    cr_assert_eq(zn_store_session_get(T.s, 0x201, &timeout, pw), ZN_EUNKNOWNSESSION);
    struct zn_entry se = {.type = ZN_ENTRY_SESSION_CREATE, .session = 0x400, .timeout_ms = 1};
    tst_apply_entry(&T, &se);
    cr_assert_eq(T.rep.timeout_ms, ZN_SESSION_TIMEOUT_MIN_MS, "timeouts are clamped");
    se =
        (struct zn_entry){.type = ZN_ENTRY_SESSION_CREATE, .session = 0x401, .timeout_ms = 1000000};
    tst_apply_entry(&T, &se);
    cr_assert_eq(T.rep.timeout_ms, ZN_SESSION_TIMEOUT_MAX_MS);
    struct zn_op op = op_create("/p", NULL, 0);
    cr_assert_eq(tst_op_ids(&T, 0x200, 1, &op, NULL, 0), 0);
    op = op_create("/p/e1", NULL, ZN_MODE_EPHEMERAL);
    cr_assert_eq(tst_op_ids(&T, 0x200, 2, &op, NULL, 0), 0);
    /* retry of cxid 2: same reply bytes, no change */
    uint64_t d = zn_store_digest(T.s);
    size_t len = T.res.reply_len;
    uint8_t first[256];
    memcpy(first, T.res.reply, len);
    cr_assert_eq(tst_op_ids(&T, 0x200, 2, &op, NULL, 0), 0);
    cr_assert(T.res.duplicate);
    cr_assert_eq(T.res.reply_len, len);
    cr_assert_eq(memcmp(T.res.reply, first, len), 0);
    cr_assert_eq(zn_store_digest(T.s), d);
    /* an older sequence is stale: no reply, no change */
    cr_assert_eq(tst_op_ids(&T, 0x200, 1, &op, NULL, 0), 0);
    cr_assert(T.res.stale && !T.res.has_reply);
    cr_assert_eq(zn_store_digest(T.s), d);
    op = op_create("/p/e2", NULL, ZN_MODE_EPHEMERAL_SEQUENTIAL);
    cr_assert_eq(tst_op_ids(&T, 0x200, 5, &op, NULL, 0), 0);
    struct zn_stat p0 = stat_of("/p");
    cr_assert_eq(p0.num_children, 2);
    /* expiry removes both ephemerals, fires NodeDeleted + NodeChildrenChanged for each */
    cr_assert_eq(tst_close(&T, 0x200, ZN_CLOSE_EXPIRED), 0);
    cr_assert_eq(T.res.closed_session, 0x200u);
    cr_assert_eq(T.res.trigger_count, 4);
    struct zn_stat p1 = stat_of("/p");
    cr_assert_eq(p1.num_children, 0);
    cr_assert_eq(p1.pzxid, (int64_t)T.zxid);
    op = op_create("/p/x", NULL, 0);
    cr_assert_eq(tst_op_ids(&T, 0x200, 6, &op, NULL, 0), ZN_ESESSIONEXPIRED);
    /* client-requested close through a CLIENT entry */
    cr_assert_eq(tst_session(&T, 0x300), 0);
    op = op_create("/p/e3", NULL, ZN_MODE_EPHEMERAL);
    cr_assert_eq(tst_op_ids(&T, 0x300, 1, &op, NULL, 0), 0);
    struct zn_op close = {.type = ZN_OP_CLOSESESSION};
    cr_assert_eq(tst_op_ids(&T, 0x300, 2, &close, NULL, 0), 0);
    struct zn_stat st;
    cr_assert_eq(tst_stat(&T, "/p/e3", &st), ZN_ENONODE);
    cr_assert_eq(zn_store_digest(T.s), zn_store_digest_compute(T.s));
    /* closing an unknown session is a no-op */
    d = zn_store_digest(T.s);
    cr_assert_eq(tst_close(&T, 0x777, ZN_CLOSE_REQUESTED), 0);
    cr_assert_eq(zn_store_digest(T.s), d);
}

Test(store_ops, acl_schemes)
{
    char id[128];
    size_t idlen;
    cr_assert_eq(zn_auth_digest_identity("user:password", 13, id, sizeof(id), &idlen), 0);
    cr_assert_str_eq(id, "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=");
    cr_assert_eq(zn_auth_digest_identity("nocolon", 7, id, sizeof(id), &idlen), ZN_EINVAL);
    struct zn_identity user = {{"digest", 6}, {"user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=", 33}};
    struct zn_identity bob = {{"digest", 6}, {"bob:fyVmFCwVbTJYrznoSu1koqYEYF0=", 32}};
    struct zn_identity ip = {{"ip", 2}, {"10.1.2.3", 8}};
    struct zn_identity ip2 = {{"ip", 2}, {"10.2.0.1", 8}};
    /* auth scheme expands to the creator's digest identity (ip does not count) */
    struct zn_acl_entry auth[] = {{ZN_PERM_ALL, {"auth", 4}, {"", 0}}};
    struct zn_op op = op_create("/secure", "s", 0);
    op.acl = auth;
    struct zn_identity both[2] = {ip, user};
    cr_assert_eq(tst_op_ids(&T, 0x100, tst_next_cxid(), &op, &ip, 1), ZN_EINVALIDACL);
    cr_assert_eq(tst_op_ids(&T, 0x100, tst_next_cxid(), &op, both, 2), 0);
    struct zn_op get = op_path(ZN_OP_GETDATA, "/secure", -1);
    cr_assert_eq(tst_read_ids(&T, 0x100, &get, &bob, 1, &W, &R), ZN_ENOAUTH);
    cr_assert_eq(tst_read_ids(&T, 0x100, &get, &user, 1, &W, &R), 0);
    struct zn_identity super = {{"super", 5}, {"", 0}};
    cr_assert_eq(tst_read_ids(&T, 0x100, &get, &super, 1, &W, &R), 0);
    struct zn_op ga = op_path(ZN_OP_GETACL, "/secure", -1);
    cr_assert_eq(tst_read_ids(&T, 0x100, &ga, &user, 1, &W, &R), 0);
    struct zn_acl_entry a;
    cr_assert_eq(zn_reply_next_acl(&R, &a), 0);
    cr_assert(a.id.len == 33, "ADMIN sees the hash");
    cr_assert_eq(tst_read_ids(&T, 0x100, &ga, &bob, 1, &W, &R), ZN_ENOAUTH);
    /* READ-only digest user and an ip range */
    struct zn_acl_entry mixed[] = {{ZN_PERM_READ, {"digest", 6}, {user.id.ptr, user.id.len}},
                                   {ZN_PERM_ALL, {"ip", 2}, {"10.1.0.0/16", 11}}};
    op = op_create("/mixed", "m", 0);
    op.acl = mixed;
    op.acl_count = 2;
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    ga = op_path(ZN_OP_GETACL, "/mixed", -1);
    cr_assert_eq(tst_read_ids(&T, 0x100, &ga, &user, 1, &W, &R), 0);
    cr_assert_eq(zn_reply_next_acl(&R, &a), 0);
    cr_assert(a.id.len == 6 && memcmp(a.id.ptr, "user:x", 6) == 0, "digest masked w/o ADMIN");
    struct zn_op set = op_set("/mixed", "z", -1);
    cr_assert_eq(tst_op_ids(&T, 0x100, tst_next_cxid(), &set, &user, 1), ZN_ENOAUTH);
    cr_assert_eq(tst_op_ids(&T, 0x100, tst_next_cxid(), &set, &ip2, 1), ZN_ENOAUTH);
    cr_assert_eq(tst_op_ids(&T, 0x100, tst_next_cxid(), &set, &ip, 1), 0);
    /* CREATE and DELETE are checked on the parent */
    struct zn_acl_entry nocreate[] = {{ZN_PERM_ALL & ~ZN_PERM_CREATE, {"world", 5}, {"anyone", 6}}};
    op = op_create("/nc", NULL, 0);
    op.acl = nocreate;
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    op = op_create("/nc/x", NULL, 0);
    cr_assert_eq(tst_op(&T, 0x100, &op), ZN_ENOAUTH);
    struct zn_acl_entry nodelete[] = {{ZN_PERM_ALL & ~ZN_PERM_DELETE, {"world", 5}, {"anyone", 6}}};
    op = op_create("/nd", NULL, 0);
    op.acl = nodelete;
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    op = op_create("/nd/x", NULL, 0);
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    struct zn_op del = op_path(ZN_OP_DELETE, "/nd/x", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), ZN_ENOAUTH);
    /* interned ACLs are shared */
    struct zn_store_counts c;
    zn_store_counts(T.s, &c);
    cr_assert_eq(c.acls, 6, "open, read-only, auth-user, mixed, nocreate, nodelete");
}

static void run_expire(const char *path)
{
    struct zn_entry e = {.type = ZN_ENTRY_EXPIRE, .op = op_path(ZN_OP_DELETECONTAINER, path, -1)};
    cr_assert_eq(tst_apply_entry(&T, &e), 0);
}

static uint32_t nfound;
static void found(void *ctx, struct zn_str path)
{
    (void)ctx;
    (void)path;
    nfound++;
}

Test(store_ops, containers_and_ttl)
{
    cr_assert_eq(create("/c", NULL, ZN_MODE_CONTAINER), 0);
    cr_assert_eq(stat_of("/c").ephemeral_owner, ZN_EPHEMERAL_CONTAINER);
    cr_assert_eq(T.rep.stat.ephemeral_owner, 0, "clients see ephemeralOwner 0 (ZooKeeper)");
    cr_assert_eq(zn_store_expiry_candidates(T.s, T.time_ms, 10, found, NULL), 0,
                 "a container that never had children stays");
    run_expire("/c");
    (void)stat_of("/c");
    cr_assert_eq(create("/c/k", NULL, 0), 0);
    run_expire("/c");
    (void)stat_of("/c");
    struct zn_op del = op_path(ZN_OP_DELETE, "/c/k", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), 0);
    cr_assert_eq(zn_store_expiry_candidates(T.s, T.time_ms, 10, found, NULL), 1);
    run_expire("/c");
    struct zn_stat st;
    cr_assert_eq(tst_stat(&T, "/c", &st), ZN_ENONODE);
    cr_assert_eq(T.res.trigger_count, 2);

    struct zn_op op = op_create("/t", NULL, ZN_MODE_PERSISTENT_WITH_TTL);
    op.type = ZN_OP_CREATETTL;
    op.ttl_ms = 1000;
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    cr_assert_eq(stat_of("/t").ephemeral_owner, ZN_EPHEMERAL_TTL_MASK | 1000);
    cr_assert_eq(T.rep.stat.ephemeral_owner, 0, "clients see ephemeralOwner 0 (ZooKeeper)");
    cr_assert_eq(create("/t/child", NULL, 0), 0, "TTL nodes may have children");
    run_expire("/t");
    (void)stat_of("/t");
    del = op_path(ZN_OP_DELETE, "/t/child", -1);
    cr_assert_eq(tst_op(&T, 0x100, &del), 0);
    run_expire("/t"); /* only ~30 ms later: not due */
    (void)stat_of("/t");
    T.time_ms += 2000;
    nfound = 0;
    cr_assert_eq(zn_store_expiry_candidates(T.s, T.time_ms, 10, found, NULL), 1);
    run_expire("/t");
    cr_assert_eq(tst_stat(&T, "/t", &st), ZN_ENONODE);
    /* an expire entry for a normal node does nothing */
    cr_assert_eq(create("/n", NULL, 0), 0);
    run_expire("/n");
    (void)stat_of("/n");
    cr_assert_eq(zn_store_digest(T.s), zn_store_digest_compute(T.s));
}

Test(store_ops, stale_and_malformed_entries)
{
    uint8_t buf[256];
    size_t len;
    struct zn_entry e = {.type = ZN_ENTRY_NOOP, .zxid = T.zxid};
    cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), 0);
    struct zn_apply_result res;
    cr_assert_eq(zn_store_apply(T.s, buf, len, &res), ZN_ESTALE);
    e.zxid = T.zxid + 1;
    cr_assert_eq(zn_entry_encode(&e, buf, sizeof(buf), &len), 0);
    buf[0] = 9;
    cr_assert_eq(zn_store_apply(T.s, buf, len, &res), ZN_EVERSION);
    buf[0] = 1;
    cr_assert_eq(zn_store_apply(T.s, buf, len - 1, &res), ZN_EPROTO);
    cr_assert_eq(zn_store_apply(T.s, buf, len, &res), 0);
    cr_assert_eq(zn_store_applied_zxid(T.s), T.zxid + 1);
}

Test(store_ops, many_children_listing)
{
    cr_assert_eq(create("/big", NULL, 0), 0);
    uint32_t n = 20000;
#if defined(ZN_SANITIZER_BUILD)
    n = 4000;
#endif
    for (uint32_t i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/big/%u", i);
        cr_assert_eq(create(p, NULL, 0), 0);
        if (i % 256 == 0)
            urcu_qsbr_quiescent_state();
    }
    for (uint32_t i = 0; i < n; i += 2) {
        char p[32];
        snprintf(p, sizeof(p), "/big/%u", i);
        struct zn_op del = op_path(ZN_OP_DELETE, p, -1);
        cr_assert_eq(tst_op(&T, 0x100, &del), 0);
        if (i % 256 == 0)
            urcu_qsbr_quiescent_state();
    }
    struct zn_op op = op_path(ZN_OP_GETCHILDREN, "/big", -1);
    cr_assert_eq(tst_read(&T, 0x100, &op, &W, &R), 0);
    cr_assert_eq(R.count, n / 2);
    struct zn_str name;
    uint32_t odd = 0;
    while (zn_reply_next_name(&R, &name) == 0)
        odd += (name.ptr[name.len - 1] - '0') % 2;
    cr_assert_eq(odd, n / 2);
}

Test(store_ops, limits_refused_before_anything_changes)
{
    static char longpath[ZN_PATH_LEN_MAX + 2];
    longpath[0] = '/';
    memset(longpath + 1, 'p', ZN_PATH_LEN_MAX);
    struct zn_op get = op_path(ZN_OP_GETDATA, longpath, -1);
    cr_assert_eq(tst_read(&T, 0x100, &get, &W, &R), ZN_EBADARGUMENTS, "path over the limit");
    struct zn_op create = op_create(longpath, NULL, 0);
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT, .session = 0x100, .op = create};
    size_t len;
    cr_assert_eq(zn_entry_encode(&e, T.buf, ZN_STORE_ENTRY_SIZE_MAX, &len), ZN_ELIMIT,
                 "an over-long path cannot become an entry");
    static struct zn_op subs[ZN_MULTI_OPS_MAX + 1];
    for (uint32_t i = 0; i <= ZN_MULTI_OPS_MAX; i++)
        subs[i] = op_path(ZN_OP_CHECK, "/", -1);
    e.op = (struct zn_op){.type = ZN_OP_MULTI, .sub = subs, .sub_count = ZN_MULTI_OPS_MAX + 1};
    cr_assert_eq(zn_entry_encode(&e, T.buf, ZN_STORE_ENTRY_SIZE_MAX, &len), ZN_ELIMIT,
                 "too many ops in one multi");
    struct zn_op mr = {.type = ZN_OP_MULTIREAD, .sub = subs, .sub_count = ZN_MULTI_OPS_MAX + 1};
    cr_assert_eq(tst_read(&T, 0x100, &mr, &W, &R), ZN_ELIMIT);
    cr_assert_eq(R.count, 0);
    e.op.sub_count = ZN_MULTI_OPS_MAX;
    uint64_t d = zn_store_tree_digest(T.s);
    cr_assert_eq(tst_op(&T, 0x100, &e.op), 0, "exactly the maximum is accepted");
    cr_assert_eq(T.rep.count, ZN_MULTI_OPS_MAX);
    cr_assert_eq(zn_store_tree_digest(T.s), d);
}

Test(store_ops, configured_data_limit)
{
    struct zn_store *dflt = T.s;
    struct zn_store_config cfg = {.data_size_max = 4};
    cr_assert_eq(zn_store_create(&cfg, &T.s), 0);
    cr_assert_eq(tst_session(&T, 0x100), 0);
    cr_assert_eq(create("/x", "1234", 0), 0);
    cr_assert_eq(create("/y", "12345", 0), ZN_ELIMIT);
    struct zn_op set = op_set("/x", "12345", -1);
    cr_assert_eq(tst_op(&T, 0x100, &set), ZN_ELIMIT);
    cr_assert_eq(stat_of("/x").data_length, 4);
    zn_store_destroy(T.s);
    T.s = dflt;
}

Test(store_ops, read_permissions_and_unimplemented)
{
    struct zn_acl_entry admin_only[] = {{ZN_PERM_ADMIN, {"world", 5}, {"anyone", 6}}};
    struct zn_op op = op_create("/locked", "secret", 0);
    op.acl = admin_only;
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    struct zn_acl_entry none[] = {{ZN_PERM_WRITE, {"world", 5}, {"anyone", 6}}};
    op = op_create("/none", NULL, 0);
    op.acl = none;
    cr_assert_eq(tst_op(&T, 0x100, &op), 0);
    struct zn_op r = op_path(ZN_OP_GETDATA, "/locked", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), ZN_ENOAUTH);
    r = op_path(ZN_OP_GETCHILDREN, "/locked", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), ZN_ENOAUTH);
    r = op_path(ZN_OP_GETCHILDREN2, "/locked", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), ZN_ENOAUTH);
    r = op_path(ZN_OP_GETALLCHILDRENNUMBER, "/locked", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), ZN_ENOAUTH);
    r = op_path(ZN_OP_EXISTS, "/locked", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), 0, "exists needs no permission");
    cr_assert_eq(R.stat.data_length, 6);
    r = op_path(ZN_OP_GETACL, "/locked", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), 0, "ADMIN alone may read the ACL");
    r = op_path(ZN_OP_GETACL, "/none", -1);
    cr_assert_eq(tst_read(&T, 0x100, &r, &W, &R), ZN_ENOAUTH, "neither READ nor ADMIN");
    struct zn_op chk = op_path(ZN_OP_CHECK, "/locked", -1);
    cr_assert_eq(tst_op(&T, 0x100, &chk), ZN_ENOAUTH, "check needs READ");
    /* an op the store does not execute as a client write */
    struct zn_op dc = op_path(ZN_OP_DELETECONTAINER, "/locked", -1);
    cr_assert_eq(tst_op(&T, 0x100, &dc), ZN_EUNIMPLEMENTED);
    struct zn_op rd = op_path(ZN_OP_GETCHILDREN, "/", -1);
    rd.type = ZN_OP_SETDATA;
    cr_assert_eq(tst_read(&T, 0x100, &rd, &W, &R), ZN_EUNIMPLEMENTED, "writes are not reads");
    /* getEphemerals of an unknown session */
    r = op_path(ZN_OP_GETEPHEMERALS, "/", -1);
    cr_assert_eq(tst_read(&T, 0x999, &r, &W, &R), ZN_ESESSIONEXPIRED);
}

/* zn_store_session_last_cxid: the exactly-once state node/node_session.c reads at a reconnect;
 * it follows the applied requests, not retries or stale ones, and is gone with the session. */
Test(store_ops, session_last_cxid)
{
    bool has_last = true;
    int32_t last = -1;
    cr_assert_eq(zn_store_session_last_cxid(T.s, 0x999, &has_last, &last), ZN_EUNKNOWNSESSION);
    cr_assert(!has_last && last == 0);
    cr_assert_eq(tst_session(&T, 0x500), 0);
    cr_assert_eq(zn_store_session_last_cxid(T.s, 0x500, &has_last, &last), 0);
    cr_assert(!has_last && last == 0, "a new session has applied nothing");
    struct zn_op op = op_create("/lc", NULL, 0);
    cr_assert_eq(tst_op_ids(&T, 0x500, 7, &op, NULL, 0), 0);
    cr_assert_eq(zn_store_session_last_cxid(T.s, 0x500, &has_last, &last), 0);
    cr_assert(has_last && last == 7, "has_last %d last %d", has_last, last);
    cr_assert_eq(tst_op_ids(&T, 0x500, 3, &op, NULL, 0), 0); /* stale: not applied */
    cr_assert(T.res.stale);
    cr_assert_eq(zn_store_session_last_cxid(T.s, 0x500, &has_last, &last), 0);
    cr_assert_eq(last, 7);
    op = op_create("/lc2", NULL, 0);
    cr_assert_eq(tst_op_ids(&T, 0x500, 9, &op, NULL, 0), 0);
    cr_assert_eq(zn_store_session_last_cxid(T.s, 0x500, &has_last, &last), 0);
    cr_assert(has_last && last == 9);
    cr_assert_eq(tst_close(&T, 0x500, ZN_CLOSE_REQUESTED), 0);
    cr_assert_eq(zn_store_session_last_cxid(T.s, 0x500, &has_last, &last), ZN_EUNKNOWNSESSION);
    cr_assert(!has_last && last == 0);
}

/* Null data (jute length -1) is not empty data: getData answers null, dataLength is 0 in both,
 * setData can make a value null or empty again, and the digest tells the two apart. */
Test(store_ops, null_data_apart_from_empty)
{
    struct zn_op c = op_create("/n", NULL, 0);
    c.data_null = true;
    cr_assert_eq(tst_op(&T, 0x100, &c), 0);
    cr_assert_eq(create("/e", NULL, 0), 0);
    struct zn_op g = op_path(ZN_OP_GETDATA, "/n", -1);
    cr_assert_eq(tst_read(&T, 0x100, &g, &W, &R), 0);
    cr_assert(R.data_null && R.data_len == 0 && R.data == NULL, "created null reads null");
    cr_assert_eq(R.stat.data_length, 0);
    g = op_path(ZN_OP_GETDATA, "/e", -1);
    cr_assert_eq(tst_read(&T, 0x100, &g, &W, &R), 0);
    cr_assert(!R.data_null && R.data_len == 0, "created empty reads empty");
    cr_assert_eq(R.stat.data_length, 0);

    /* same Stat fields apart from the zxids: null and empty differ only in the value */
    uint64_t d1 = zn_store_digest(T.s);
    struct zn_op s = op_set("/e", "", -1);
    s.data_null = true;
    cr_assert_eq(tst_op(&T, 0x100, &s), 0);
    g = op_path(ZN_OP_GETDATA, "/e", -1);
    cr_assert_eq(tst_read(&T, 0x100, &g, &W, &R), 0);
    cr_assert(R.data_null && R.stat.version == 1 && R.stat.data_length == 0, "setData null");
    cr_assert_neq(zn_store_digest(T.s), d1);
    cr_assert_eq(zn_store_digest(T.s), zn_store_digest_compute(T.s));

    s = op_set("/n", "xy", -1);
    cr_assert_eq(tst_op(&T, 0x100, &s), 0);
    g = op_path(ZN_OP_GETDATA, "/n", -1);
    cr_assert_eq(tst_read(&T, 0x100, &g, &W, &R), 0);
    cr_assert(!R.data_null && R.data_len == 2 && memcmp(R.data, "xy", 2) == 0);
    s = op_set("/n", "", -1);
    cr_assert_eq(tst_op(&T, 0x100, &s), 0);
    cr_assert_eq(tst_read(&T, 0x100, &g, &W, &R), 0);
    cr_assert(!R.data_null && R.data_len == 0, "setData empty after a value is empty, not null");

    /* two trees equal but for null vs empty have different digests (replica comparison) */
    struct tst a, b;
    tst_init(&a);
    tst_init(&b);
    cr_assert_eq(tst_session(&a, 0x100), 0);
    cr_assert_eq(tst_session(&b, 0x100), 0);
    struct zn_op ca = op_create("/v", NULL, 0);
    struct zn_op cb = ca;
    cb.data_null = true;
    cr_assert_eq(tst_op_ids(&a, 0x100, 1, &ca, NULL, 0), 0);
    cr_assert_eq(tst_op_ids(&b, 0x100, 1, &cb, NULL, 0), 0);
    cr_assert_neq(zn_store_digest(a.s), zn_store_digest(b.s), "null and empty digest apart");
    cr_assert_eq(zn_store_digest(b.s), zn_store_digest_compute(b.s));

    /* multiRead getData and a multi create carry null through */
    struct zn_op subs[2] = {op_path(ZN_OP_GETDATA, "/v", -1), op_path(ZN_OP_GETDATA, "/v", -1)};
    struct zn_op mr = {.type = ZN_OP_MULTIREAD, .sub = subs, .sub_count = 2};
    struct zn_wbuf w2;
    zn_wbuf_init(&w2, 0);
    struct zn_reply r2, sub;
    cr_assert_eq(tst_read(&b, 0x100, &mr, &w2, &r2), 0);
    cr_assert_eq(zn_reply_next_sub(&r2, &sub), 0);
    cr_assert(sub.err == 0 && sub.data_null, "multiRead getData of a null value is null");
    cr_assert_eq(tst_read(&a, 0x100, &mr, &w2, &r2), 0);
    cr_assert_eq(zn_reply_next_sub(&r2, &sub), 0);
    cr_assert(sub.err == 0 && !sub.data_null, "multiRead getData of an empty value is empty");
    struct zn_op msubs[1] = {op_create("/m", NULL, 0)};
    msubs[0].data_null = true;
    struct zn_op m = {.type = ZN_OP_MULTI, .sub = msubs, .sub_count = 1};
    cr_assert_eq(tst_op(&T, 0x100, &m), 0);
    g = op_path(ZN_OP_GETDATA, "/m", -1);
    cr_assert_eq(tst_read(&T, 0x100, &g, &W, &R), 0);
    cr_assert(R.data_null, "created null inside a multi");
    zn_wbuf_fini(&w2);
    tst_fini(&a);
    tst_fini(&b);
}

/* ZooKeeper's error txn: consumes a zxid, changes nothing, answers the stored error with that
 * zxid, once per (session, cxid); a retry gets the same reply, an unknown session expired. */
Test(store_ops, error_txn)
{
    cr_assert_eq(create("/a", "1", 0), 0);
    uint64_t digest_nodes = zn_store_digest_compute(T.s);
    struct zn_store_counts before, after;
    zn_store_counts(T.s, &before);
    struct zn_entry e = {.type = ZN_ENTRY_ERROR,
                         .session = 0x100,
                         .cxid = 500,
                         .op = {.type = ZN_OP_MULTI, .version = -1, .ttl_ms = -1},
                         .err = ZN_EMARSHALLING};
    cr_assert_eq(tst_apply_entry(&T, &e), 0);
    uint64_t z = T.zxid;
    cr_assert(T.res.has_reply && !T.res.duplicate && T.res.trigger_count == 0);
    cr_assert_eq(T.rep.op, ZN_OP_ERROR);
    cr_assert_eq(T.rep.err, ZN_EMARSHALLING);
    cr_assert_eq(T.rep.zxid, (int64_t)z, "the error is answered in its own zxid");
    cr_assert_eq(zn_store_applied_zxid(T.s), z, "the zxid is consumed");
    zn_store_counts(T.s, &after);
    cr_assert(before.znodes == after.znodes && before.data_bytes == after.data_bytes);
    cr_assert_eq(stat_of("/a").mzxid, (int64_t)z - 1, "no znode changed");
    cr_assert_neq(zn_store_digest_compute(T.s), digest_nodes,
                  "the session's last request (exactly-once table) is part of the digest");
    /* a retry of the same cxid (another zxid) returns the first reply */
    cr_assert_eq(tst_apply_entry(&T, &e), 0);
    cr_assert(T.res.duplicate && T.rep.err == ZN_EMARSHALLING && T.rep.zxid == (int64_t)z);
    /* an older cxid is stale: no reply */
    e.cxid = 499;
    cr_assert_eq(tst_apply_entry(&T, &e), 0);
    cr_assert(T.res.stale && !T.res.has_reply);
    /* the session's next write proceeds */
    struct zn_op s = op_set("/a", "2", -1);
    cr_assert_eq(tst_op_ids(&T, 0x100, 501, &s, NULL, 0), 0);
    /* unknown session */
    e.session = 0x999;
    e.cxid = 1;
    cr_assert_eq(tst_apply_entry(&T, &e), 0);
    cr_assert(T.rep.op == ZN_OP_ERROR && T.rep.err == ZN_ESESSIONEXPIRED);
}
