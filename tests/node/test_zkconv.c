/* jute requests -> store ops -> store (apply or read) -> jute replies: the bytes a ZooKeeper
 * client would receive for create/create2/getData/exists/getChildren/setData/delete/multi and
 * their errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "../store/store_test.h"
#include "common/zn_err.h"
#include "node/zkconv.h"
#include "proto/jute.h"
#include "proto/zk.h"

static struct tst T;
static struct zn_zkconv_scratch S;
static uint8_t reqbuf[4096], out[1 << 16];
#define SESSION 0x77ull

static void setup(void)
{
    tst_init(&T);
    cr_assert_eq(tst_session(&T, SESSION), 0);
}
static void teardown(void)
{
    tst_fini(&T);
}
TestSuite(zkconv, .init = setup, .fini = teardown);

static void put_str(struct zn_jute_writer *w, const char *s)
{
    zn_jute_put_string(w, s);
}

static void put_open_acl(struct zn_jute_writer *w)
{
    zn_jute_put_int(w, 1);
    zn_jute_put_int(w, 31);
    put_str(w, "world");
    put_str(w, "anyone");
}

static size_t req_create(int32_t xid, int32_t type, const char *path, const char *data,
                         int32_t mode)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, xid);
    zn_jute_put_int(&w, type);
    put_str(&w, path);
    zn_jute_put_buffer(&w, data ? zn_bytes_make(data, strlen(data)) : ZN_BYTES_NULL);
    put_open_acl(&w);
    zn_jute_put_int(&w, mode);
    cr_assert_eq(w.err, 0);
    return w.len;
}

static size_t req_path(int32_t xid, int32_t type, const char *path, int has_watch)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, xid);
    zn_jute_put_int(&w, type);
    put_str(&w, path);
    if (has_watch)
        zn_jute_put_bool(&w, false);
    return w.len;
}

/* Decode the jute request, convert, and run it: writes through apply, reads through read. */
static size_t run(size_t len, int32_t *xid_out)
{
    struct zn_zk_request req;
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    cr_assert_eq(zn_zk_request_decode(reqbuf, len, &lim, &req), 0);
    struct zn_op op;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), 0);
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, out, sizeof(out));
    *xid_out = req.xid;
    if (zn_zk_op_is_write(req.type)) {
        struct zn_entry e = {
            .type = ZN_ENTRY_CLIENT, .session = SESSION, .cxid = req.xid, .op = op};
        tst_apply_entry(&T, &e);
        cr_assert_eq(T.rc, 0);
        cr_assert(T.res.has_reply);
        cr_assert_eq(zn_zkconv_reply(req.xid, T.res.reply, T.res.reply_len, &w), 0);
    } else {
        struct zn_wbuf wb;
        zn_wbuf_init(&wb, 0);
        cr_assert_eq(zn_store_read(T.s, SESSION, NULL, 0, &op, &wb, NULL), 0);
        cr_assert_eq(zn_zkconv_reply(req.xid, wb.p, wb.len, &w), 0);
        zn_wbuf_fini(&wb);
    }
    return w.len;
}

static void read_header(struct zn_jute_reader *r, int32_t xid, int32_t err)
{
    struct zn_zk_reply_header h;
    cr_assert_eq(zn_zk_get_reply_header(r, &h), 0);
    cr_assert_eq(h.xid, xid);
    cr_assert_eq(h.err, err, "err %d, expected %d", h.err, err);
    cr_assert_eq(h.zxid, (int64_t)zn_store_applied_zxid(T.s));
}

Test(zkconv, create_then_get_data_exists_and_children)
{
    int32_t xid;
    size_t n = run(req_create(5, ZN_ZK_OP_CREATE, "/a", "hello", ZN_ZK_PERSISTENT), &xid);
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 5, 0);
    cr_assert(zn_bytes_eq_str(zn_jute_get_buffer(&r, 100), "/a"));
    cr_assert_eq(zn_jute_remaining(&r), 0, "create answers the path only");

    n = run(req_create(6, ZN_ZK_OP_CREATE2, "/b", "", ZN_ZK_PERSISTENT_SEQUENTIAL), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 6, 0);
    /* The suffix is the parent's cversion (/zookeeper and /a were created under /). */
    struct zn_bytes seq = zn_jute_get_buffer(&r, 100);
    cr_assert_eq(seq.len, 12);
    cr_assert(memcmp(seq.ptr, "/b00000000", 10) == 0);
    struct zn_zk_stat st;
    zn_zk_get_stat(&r, &st);
    cr_assert_eq(st.version, 0);
    cr_assert_eq(zn_jute_remaining(&r), 0);

    n = run(req_path(7, ZN_ZK_OP_GETDATA, "/a", 1), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 7, 0);
    cr_assert(zn_bytes_eq_str(zn_jute_get_buffer(&r, 100), "hello"));
    zn_zk_get_stat(&r, &st);
    cr_assert_eq(st.data_length, 5);
    cr_assert_eq(st.czxid, 2);
    cr_assert_eq(zn_jute_remaining(&r), 0);

    n = run(req_path(8, ZN_ZK_OP_EXISTS, "/nope", 1), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 8, ZK_NONODE);
    cr_assert_eq(zn_jute_remaining(&r), 0, "an error has no body");

    n = run(req_path(9, ZN_ZK_OP_GETCHILDREN, "/", 1), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 9, 0);
    int32_t count = zn_jute_get_int(&r);
    cr_assert_eq(count, 3); /* a, b00000000NN, zookeeper */
    for (int i = 0; i < count; i++)
        cr_assert_gt(zn_jute_get_buffer(&r, 100).len, 0);
    cr_assert_eq(zn_jute_remaining(&r), 0);
}

Test(zkconv, errors_of_writes_have_no_body)
{
    int32_t xid;
    run(req_create(1, ZN_ZK_OP_CREATE, "/a", "x", ZN_ZK_PERSISTENT), &xid);
    size_t n = run(req_create(2, ZN_ZK_OP_CREATE, "/a", "x", ZN_ZK_PERSISTENT), &xid);
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 2, ZK_NODEEXISTS);
    cr_assert_eq(zn_jute_remaining(&r), 0);

    struct zn_jute_writer w;
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, 3);
    zn_jute_put_int(&w, ZN_ZK_OP_SETDATA);
    put_str(&w, "/a");
    zn_jute_put_buffer(&w, zn_bytes_make("y", 1));
    zn_jute_put_int(&w, 7); /* wrong version */
    n = run(w.len, &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 3, ZK_BADVERSION);
    cr_assert_eq(zn_jute_remaining(&r), 0);
}

Test(zkconv, failed_multi_reports_each_op_under_header_err_zero)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, 11);
    zn_jute_put_int(&w, ZN_ZK_OP_MULTI);
    /* create /m, then delete /missing (fails) */
    zn_jute_put_int(&w, ZN_ZK_OP_CREATE);
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    put_str(&w, "/m");
    zn_jute_put_buffer(&w, zn_bytes_make("", 0));
    put_open_acl(&w);
    zn_jute_put_int(&w, 0);
    zn_jute_put_int(&w, ZN_ZK_OP_DELETE);
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    put_str(&w, "/missing");
    zn_jute_put_int(&w, -1);
    zn_zk_put_multi_end(&w);
    int32_t xid;
    size_t n = run(w.len, &xid);
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 11, 0);
    /* op 1: rolled back -> ErrorResponse(0); op 2: ErrorResponse(NONODE); end marker. */
    cr_assert_eq(zn_jute_get_int(&r), -1);
    cr_assert_eq(zn_jute_get_bool(&r), false);
    cr_assert_eq(zn_jute_get_int(&r), 0);
    cr_assert_eq(zn_jute_get_int(&r), 0);
    cr_assert_eq(zn_jute_get_int(&r), -1);
    cr_assert_eq(zn_jute_get_bool(&r), false);
    cr_assert_eq(zn_jute_get_int(&r), ZK_NONODE);
    cr_assert_eq(zn_jute_get_int(&r), ZK_NONODE);
    cr_assert_eq(zn_jute_get_int(&r), -1);
    cr_assert_eq(zn_jute_get_bool(&r), true);
    cr_assert_eq(zn_jute_get_int(&r), -1);
    cr_assert_eq(zn_jute_remaining(&r), 0);
    cr_assert_eq(r.err, 0);
    struct zn_stat st;
    cr_assert_eq(tst_stat(&T, "/m", &st), ZN_ENONODE, "the multi was atomic");
}

/* The error the store's apply gives a converted op (nothing is created). */
static int store_refuses(const struct zn_op *op)
{
    static int32_t cxid = 1000; /* a fresh request each time (no duplicate detection) */
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT, .session = SESSION, .cxid = ++cxid, .op = *op};
    tst_apply_entry(&T, &e);
    return T.rep.err;
}

Test(zkconv, requests_the_store_does_not_execute_or_bad_modes_are_refused)
{
    struct zn_zk_request req = {.xid = 1, .type = ZN_ZK_OP_PING};
    struct zn_op op;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), ZN_EUNIMPLEMENTED);
    req.type = ZN_ZK_OP_SETWATCHES;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), ZN_EUNIMPLEMENTED);
    /* Bad modes and TTLs convert: the store refuses them at apply, so that they consume a zxid
     * as ZooKeeper's error txn does. */
    memset(&req, 0, sizeof(req));
    req.type = ZN_ZK_OP_CREATE;
    req.u.create.path = zn_bytes_make((const uint8_t *)"/bad", 4);
    req.u.create.flags = ZN_ZK_PERSISTENT_WITH_TTL; /* TTL mode through plain create */
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), 0);
    cr_assert_eq(store_refuses(&op), ZN_EBADARGUMENTS);
    req.u.create.flags = 9;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), 0);
    cr_assert_eq(store_refuses(&op), ZN_EBADARGUMENTS);
    req.type = ZN_ZK_OP_CREATETTL;
    req.u.create.flags = ZN_ZK_PERSISTENT_WITH_TTL;
    req.u.create.ttl = 0;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), 0);
    cr_assert_eq(store_refuses(&op), ZN_EBADARGUMENTS);
    /* Containers: create with flags 4 and createContainer with flags 0 (ZooKeeper makes both) */
    req.type = ZN_ZK_OP_CREATE;
    req.u.create.flags = ZN_ZK_CONTAINER;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), 0);
    cr_assert(op.type == ZN_OP_CREATECONTAINER && op.flags == ZN_ZK_CONTAINER);
    req.type = ZN_ZK_OP_CREATECONTAINER;
    req.u.create.flags = ZN_ZK_PERSISTENT;
    cr_assert_eq(zn_zkconv_op(&req, &S, &op), 0);
    cr_assert(op.type == ZN_OP_CREATECONTAINER && op.flags == ZN_ZK_CONTAINER);
    /* Garbage store reply bytes are refused, not converted. */
    uint8_t junk[3] = {1, 2, 3};
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, out, sizeof(out));
    cr_assert_eq(zn_zkconv_reply(1, junk, sizeof(junk), &w), ZN_EPROTO);
    /* A writer too small is reported. */
    zn_jute_writer_init(&w, out, 4);
    zn_zkconv_error(1, 2, ZN_ENONODE, &w);
    cr_assert_neq(w.err, 0);
}

/* Null data (length -1) goes in as null and comes back as null, apart from empty: create,
 * setData, getData and multiRead's getData (ZooKeeper's getData returns null). */
Test(zkconv, null_data_round_trip)
{
    int32_t xid;
    struct zn_jute_reader r;
    struct zn_zk_stat st;
    run(req_create(1, ZN_ZK_OP_CREATE, "/n", NULL, ZN_ZK_PERSISTENT), &xid);
    run(req_create(2, ZN_ZK_OP_CREATE, "/e", "", ZN_ZK_PERSISTENT), &xid);
    size_t n = run(req_path(3, ZN_ZK_OP_GETDATA, "/n", 1), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 3, 0);
    struct zn_bytes b = zn_jute_get_buffer(&r, 100);
    cr_assert(b.len == -1 && b.ptr == NULL, "null data answers length -1 (got %d)", b.len);
    zn_zk_get_stat(&r, &st);
    cr_assert_eq(st.data_length, 0);
    cr_assert_eq(zn_jute_remaining(&r), 0);
    n = run(req_path(4, ZN_ZK_OP_GETDATA, "/e", 1), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 4, 0);
    b = zn_jute_get_buffer(&r, 100);
    cr_assert_eq(b.len, 0, "empty data answers length 0");
    zn_zk_get_stat(&r, &st);
    cr_assert_eq(st.data_length, 0);

    /* setData null on the empty node */
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, 5);
    zn_jute_put_int(&w, ZN_ZK_OP_SETDATA);
    put_str(&w, "/e");
    zn_jute_put_buffer(&w, ZN_BYTES_NULL);
    zn_jute_put_int(&w, -1);
    run(w.len, &xid);
    n = run(req_path(6, ZN_ZK_OP_GETDATA, "/e", 1), &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 6, 0);
    cr_assert_eq(zn_jute_get_buffer(&r, 100).len, -1, "setData null reads back null");
    zn_zk_get_stat(&r, &st);
    cr_assert(st.version == 1 && st.data_length == 0);

    /* multiRead: getData /n (null), getData /x (NoNode) */
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, 7);
    zn_jute_put_int(&w, ZN_ZK_OP_MULTIREAD);
    zn_jute_put_int(&w, ZN_ZK_OP_GETDATA);
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    put_str(&w, "/n");
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    zn_jute_put_bool(&w, true);
    zn_jute_put_int(&w, -1);
    n = run(w.len, &xid);
    zn_jute_reader_init(&r, out, n);
    read_header(&r, 7, 0);
    cr_assert_eq(zn_jute_get_int(&r), ZN_ZK_OP_GETDATA);
    cr_assert_eq(zn_jute_get_bool(&r), false);
    cr_assert_eq(zn_jute_get_int(&r), 0);
    cr_assert_eq(zn_jute_get_buffer(&r, 100).len, -1, "multiRead getData of null data");
}

/* A multi whose body does not deserialize (a read op inside a write multi) and a reconfig
 * (disabled) are ZooKeeper's error txns: MarshallingError / ReconfigDisabled in a new zxid.
 * Other requests that fail to decode are answered at once (no zxid). */
Test(zkconv, undecodable_multi_is_an_error_txn)
{
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, 21);
    zn_jute_put_int(&w, ZN_ZK_OP_MULTI);
    zn_jute_put_int(&w, ZN_ZK_OP_GETDATA); /* not allowed in a write multi */
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    put_str(&w, "/");
    zn_jute_put_bool(&w, false);
    zn_jute_put_int(&w, -1);
    zn_jute_put_bool(&w, true);
    zn_jute_put_int(&w, -1);
    struct zn_zk_request req;
    struct zn_zk_limits lim;
    zn_zk_limits_default(&lim);
    int rc = zn_zk_request_decode(reqbuf, w.len, &lim, &req);
    cr_assert_eq(rc, ZN_EPROTO);
    cr_assert_eq(req.type, ZN_ZK_OP_MULTI);
    int err = zn_zkconv_error_txn(&req, rc);
    cr_assert_eq(err, ZN_EMARSHALLING);
    uint64_t before = zn_store_applied_zxid(T.s);
    struct zn_entry e = {.type = ZN_ENTRY_ERROR,
                         .session = SESSION,
                         .cxid = req.xid,
                         .op = {.type = req.type},
                         .err = err};
    tst_apply_entry(&T, &e);
    cr_assert_eq(T.rc, 0);
    cr_assert_eq(zn_store_applied_zxid(T.s), before + 1, "a zxid is consumed");
    zn_jute_writer_init(&w, out, sizeof(out));
    cr_assert_eq(zn_zkconv_reply(req.xid, T.res.reply, T.res.reply_len, &w), 0);
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, out, w.len);
    read_header(&r, 21, ZK_MARSHALLINGERROR); /* zxid: the new one */
    cr_assert_eq(zn_jute_remaining(&r), 0, "header only");

    /* not a multi, or a multi over zinc's op limit: answered without a zxid */
    struct zn_zk_request other = req;
    other.type = ZN_ZK_OP_CREATE;
    cr_assert_eq(zn_zkconv_error_txn(&other, ZN_EPROTO), 0);
    cr_assert_eq(zn_zkconv_error_txn(&req, ZN_ELIMIT), 0);
    cr_assert_eq(zn_zkconv_error_txn(&req, 0), 0);
    /* reconfig (disabled) that decodes: ReconfigDisabled in a new zxid; malformed: at once */
    zn_jute_writer_init(&w, reqbuf, sizeof(reqbuf));
    zn_jute_put_int(&w, 22);
    zn_jute_put_int(&w, ZN_ZK_OP_RECONFIG);
    put_str(&w, "");
    put_str(&w, "");
    put_str(&w, "");
    zn_jute_put_long(&w, -1);
    rc = zn_zk_request_decode(reqbuf, w.len, &lim, &req);
    cr_assert_eq(rc, 0);
    cr_assert_eq(zn_zkconv_error_txn(&req, rc), ZN_ERECONFIGDISABLED);
    cr_assert_eq(zn_zkconv_error_txn(&req, ZN_EPROTO), 0);
    e.cxid = req.xid;
    e.op.type = req.type;
    e.err = ZN_ERECONFIGDISABLED;
    tst_apply_entry(&T, &e);
    zn_jute_writer_init(&w, out, sizeof(out));
    cr_assert_eq(zn_zkconv_reply(req.xid, T.res.reply, T.res.reply_len, &w), 0);
    zn_jute_reader_init(&r, out, w.len);
    read_header(&r, 22, ZK_RECONFIGDISABLED);
    cr_assert_eq(zn_jute_remaining(&r), 0);
}
