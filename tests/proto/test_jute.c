/*
 * jute codec and ZooKeeper records: exact bytes for known messages, round trips of every
 * request type, limits, and rejection (never a crash) of truncated or malformed input.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "proto/jute.h"
#include "proto/zk.h"

#define S(str) zn_bytes_make(str, sizeof(str) - 1)

static struct zn_zk_limits lim;

static void setup(void)
{
    zn_zk_limits_default(&lim);
}

TestSuite(jute, .init = setup);

Test(jute, primitives_are_big_endian_and_round_trip)
{
    uint8_t buf[64];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, sizeof(buf));
    zn_jute_put_int(&w, 0x01020304);
    zn_jute_put_long(&w, -2);
    zn_jute_put_bool(&w, true);
    zn_jute_put_buffer(&w, S("ab"));
    zn_jute_put_buffer(&w, ZN_BYTES_NULL);
    cr_assert_eq(w.err, 0);
    cr_assert_eq(w.len, 4 + 8 + 1 + 6 + 4);
    static const uint8_t expect[] = {1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                     1, 0, 0, 0, 2,    'a',  'b',  0xff, 0xff, 0xff, 0xff};
    cr_assert_eq(memcmp(buf, expect, sizeof(expect)), 0);
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, buf, w.len);
    cr_assert_eq(zn_jute_get_int(&r), 0x01020304);
    cr_assert_eq(zn_jute_get_long(&r), -2);
    cr_assert(zn_jute_get_bool(&r));
    cr_assert(zn_bytes_eq_str(zn_jute_get_buffer(&r, 10), "ab"));
    cr_assert_eq(zn_jute_get_buffer(&r, 10).len, -1);
    cr_assert_eq(r.err, 0);
    cr_assert_eq(zn_jute_remaining(&r), 0);
    /* Sticky error: reading past the end fails and keeps failing. */
    cr_assert_eq(zn_jute_get_int(&r), 0);
    cr_assert_eq(r.err, ZN_EPROTO);
    cr_assert_eq(zn_jute_get_long(&r), 0);
    cr_assert_eq(r.err, ZN_EPROTO);
}

Test(jute, writer_never_overflows)
{
    uint8_t buf[6];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, sizeof(buf));
    zn_jute_put_int(&w, 1);
    zn_jute_put_int(&w, 2);
    cr_assert_eq(w.err, ZN_ELIMIT);
    cr_assert_eq(w.len, 4);
    zn_jute_put_bool(&w, true); /* sticky: nothing more is written */
    cr_assert_eq(w.len, 4);
}

Test(jute, bad_booleans_lengths_and_counts_are_rejected)
{
    static const uint8_t bad_bool[] = {2};
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, bad_bool, 1);
    (void)zn_jute_get_bool(&r);
    cr_assert_eq(r.err, ZN_EPROTO);
    static const uint8_t neg_len[] = {0xff, 0xff, 0xff, 0xfe};
    zn_jute_reader_init(&r, neg_len, 4);
    (void)zn_jute_get_buffer(&r, 100);
    cr_assert_eq(r.err, ZN_EPROTO);
    static const uint8_t long_len[] = {0, 0, 0, 200, 1, 2};
    zn_jute_reader_init(&r, long_len, sizeof(long_len));
    (void)zn_jute_get_buffer(&r, 100);
    cr_assert_eq(r.err, ZN_ELIMIT);
    zn_jute_reader_init(&r, long_len, sizeof(long_len));
    (void)zn_jute_get_buffer(&r, 1000);
    cr_assert_eq(r.err, ZN_EPROTO, "length beyond the input");
    static const uint8_t huge_count[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    zn_jute_reader_init(&r, huge_count, sizeof(huge_count));
    cr_assert_eq(zn_jute_get_count(&r, 4), 0);
    cr_assert_eq(r.err, ZN_EPROTO, "a count that cannot fit is rejected before any use");
}

Test(jute, get_data_request_exact_bytes)
{
    struct zn_zk_request req = {.xid = 1, .type = ZN_ZK_OP_GETDATA};
    req.u.read.path = S("/a");
    req.u.read.watch = true;
    uint8_t buf[64];
    long n = zn_zk_request_encode(&req, buf, sizeof(buf));
    static const uint8_t expect[] = {0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2, '/', 'a', 1};
    cr_assert_eq(n, (long)sizeof(expect));
    cr_assert_eq(memcmp(buf, expect, sizeof(expect)), 0);
    struct zn_zk_request back;
    cr_assert_eq(zn_zk_request_decode(buf, (size_t)n, &lim, &back), 0);
    cr_assert_eq(back.xid, 1);
    cr_assert_eq(back.type, ZN_ZK_OP_GETDATA);
    cr_assert(zn_bytes_eq_str(back.u.read.path, "/a"));
    cr_assert(back.u.read.watch);
}

Test(jute, connect_request_44_and_45_bytes)
{
    uint8_t pw[16];
    memset(pw, 7, sizeof(pw));
    struct zn_zk_connect_request req = {
        .protocol_version = 0,
        .last_zxid_seen = 0x123,
        .timeout_ms = 30000,
        .session_id = 0,
        .passwd = zn_bytes_make(pw, 16),
        .has_read_only = false,
    };
    uint8_t buf[64];
    long n = zn_zk_connect_request_encode(&req, buf, sizeof(buf));
    cr_assert_eq(n, 44);
    struct zn_zk_connect_request back;
    cr_assert_eq(zn_zk_connect_request_decode(buf, 44, &back), 0);
    cr_assert(!back.has_read_only);
    cr_assert_eq(back.timeout_ms, 30000);
    cr_assert_eq(back.last_zxid_seen, 0x123);
    cr_assert(zn_bytes_eq(back.passwd, req.passwd));
    req.has_read_only = true;
    req.read_only = true;
    n = zn_zk_connect_request_encode(&req, buf, sizeof(buf));
    cr_assert_eq(n, 45);
    cr_assert_eq(zn_zk_connect_request_decode(buf, 45, &back), 0);
    cr_assert(back.has_read_only && back.read_only);
    for (size_t cut = 0; cut < 44; cut++)
        cr_assert_neq(zn_zk_connect_request_decode(buf, cut, &back), 0, "cut %zu", cut);
    /* A password longer than 16 bytes is refused. */
    uint8_t big[32] = {0};
    req.passwd = zn_bytes_make(big, 32);
    n = zn_zk_connect_request_encode(&req, buf, sizeof(buf));
    cr_assert_eq(zn_zk_connect_request_decode(buf, (size_t)n, &back), ZN_ELIMIT);

    struct zn_zk_connect_response resp = {0, 10000, 0x1122334455667788ll, zn_bytes_make(pw, 16),
                                          false};
    n = zn_zk_connect_response_encode(&resp, buf, sizeof(buf));
    cr_assert_eq(n, 4 + 4 + 8 + 4 + 16 + 1);
    struct zn_zk_connect_response rback;
    cr_assert_eq(zn_zk_connect_response_decode(buf, (size_t)n, &rback), 0);
    cr_assert_eq(rback.session_id, 0x1122334455667788ll);
    cr_assert_eq(rback.timeout_ms, 10000);
}

/* Builds one request of every decodable type into bufs; returns the count. */
static int build_all(uint8_t bufs[][512], size_t lens[], uint8_t *aclbuf, uint8_t *multibuf)
{
    struct zn_jute_writer aw;
    zn_jute_writer_init(&aw, aclbuf, 256);
    struct zn_zk_acl acl = {ZN_ZK_PERM_ALL, S("world"), S("anyone")};
    zn_zk_put_acl(&aw, &acl, 1);
    struct zn_zk_vec aclv = {1, zn_bytes_make(aclbuf + 4, aw.len - 4)};

    struct zn_jute_writer mw;
    zn_jute_writer_init(&mw, multibuf, 512);
    struct zn_zk_request op = {.type = ZN_ZK_OP_CREATE};
    op.u.create.path = S("/m");
    op.u.create.data = S("d");
    op.u.create.acl = aclv;
    zn_zk_put_multi_op(&mw, &op);
    op = (struct zn_zk_request){.type = ZN_ZK_OP_CHECK};
    op.u.versioned.path = S("/m");
    op.u.versioned.version = 3;
    zn_zk_put_multi_op(&mw, &op);
    op = (struct zn_zk_request){.type = ZN_ZK_OP_DELETE};
    op.u.versioned.path = S("/m");
    op.u.versioned.version = -1;
    zn_zk_put_multi_op(&mw, &op);
    zn_zk_put_multi_end(&mw);

    struct zn_zk_request reqs[32];
    int n = 0;
    memset(reqs, 0, sizeof(reqs));
    int32_t creates[] = {ZN_ZK_OP_CREATE, ZN_ZK_OP_CREATE2, ZN_ZK_OP_CREATECONTAINER,
                         ZN_ZK_OP_CREATETTL};
    for (int i = 0; i < 4; i++) {
        struct zn_zk_request *r = &reqs[n++];
        r->type = creates[i];
        r->u.create.path = S("/node");
        r->u.create.data = S("hello");
        r->u.create.acl = aclv;
        r->u.create.flags = i == 3 ? ZN_ZK_PERSISTENT_WITH_TTL : 0;
        r->u.create.ttl = i == 3 ? 5000 : 0;
    }
    int32_t versioned[] = {ZN_ZK_OP_DELETE, ZN_ZK_OP_CHECK};
    for (int i = 0; i < 2; i++) {
        reqs[n].type = versioned[i];
        reqs[n].u.versioned.path = S("/v");
        reqs[n++].u.versioned.version = 9;
    }
    int32_t reads[] = {ZN_ZK_OP_EXISTS, ZN_ZK_OP_GETDATA, ZN_ZK_OP_GETCHILDREN,
                       ZN_ZK_OP_GETCHILDREN2};
    for (int i = 0; i < 4; i++) {
        reqs[n].type = reads[i];
        reqs[n].u.read.path = S("/r");
        reqs[n++].u.read.watch = i % 2;
    }
    reqs[n].type = ZN_ZK_OP_SETDATA;
    reqs[n].u.set_data.path = S("/s");
    reqs[n].u.set_data.data = ZN_BYTES_NULL;
    reqs[n++].u.set_data.version = -1;
    int32_t paths[] = {ZN_ZK_OP_GETACL, ZN_ZK_OP_SYNC, ZN_ZK_OP_GETALLCHILDRENNUMBER,
                       ZN_ZK_OP_GETEPHEMERALS};
    for (int i = 0; i < 4; i++) {
        reqs[n].type = paths[i];
        reqs[n++].u.path.path = S("/p");
    }
    reqs[n].type = ZN_ZK_OP_SETACL;
    reqs[n].u.set_acl.path = S("/a");
    reqs[n].u.set_acl.acl = aclv;
    reqs[n++].u.set_acl.version = 2;
    int32_t watches[] = {ZN_ZK_OP_CHECKWATCHES, ZN_ZK_OP_REMOVEWATCHES, ZN_ZK_OP_ADDWATCH};
    for (int i = 0; i < 3; i++) {
        reqs[n].type = watches[i];
        reqs[n].u.watch.path = S("/w");
        reqs[n++].u.watch.type = 1;
    }
    reqs[n].type = ZN_ZK_OP_AUTH;
    reqs[n].u.auth.scheme = S("digest");
    reqs[n++].u.auth.auth = S("user:pass");
    static uint8_t strvec[] = {0, 0, 0, 2, '/', 'x'};
    for (int i = 0; i < 2; i++) {
        reqs[n].type = i ? ZN_ZK_OP_SETWATCHES2 : ZN_ZK_OP_SETWATCHES;
        reqs[n].u.set_watches.relative_zxid = 77;
        reqs[n].u.set_watches.data = (struct zn_zk_vec){1, zn_bytes_make(strvec, 6)};
        reqs[n].u.set_watches.exist = (struct zn_zk_vec){1, zn_bytes_make(strvec, 6)};
        reqs[n].u.set_watches.child = (struct zn_zk_vec){0, ZN_BYTES_NULL};
        reqs[n].u.set_watches.persistent = (struct zn_zk_vec){1, zn_bytes_make(strvec, 6)};
        reqs[n++].u.set_watches.persistent_recursive = (struct zn_zk_vec){0, ZN_BYTES_NULL};
    }
    reqs[n].type = ZN_ZK_OP_MULTI;
    reqs[n].u.multi.count = 3;
    reqs[n++].u.multi.raw = zn_bytes_make(multibuf, mw.len);
    reqs[n++].type = ZN_ZK_OP_PING;
    reqs[n++].type = ZN_ZK_OP_CLOSESESSION;
    reqs[n++].type = ZN_ZK_OP_WHOAMI;
    reqs[n].type = ZN_ZK_OP_RECONFIG;
    reqs[n].u.reconfig.joining = S("server.4=x");
    reqs[n].u.reconfig.leaving = ZN_BYTES_NULL;
    reqs[n].u.reconfig.new_members = ZN_BYTES_NULL;
    reqs[n++].u.reconfig.cur_config_id = -1;
    for (int i = 0; i < n; i++) {
        reqs[i].xid = 100 + i;
        long len = zn_zk_request_encode(&reqs[i], bufs[i], 512);
        cr_assert_gt(len, 0, "encode %s", zn_zk_op_name(reqs[i].type));
        lens[i] = (size_t)len;
    }
    return n;
}

Test(jute, every_request_round_trips_and_every_truncation_fails)
{
    static uint8_t bufs[32][512], aclbuf[256], multibuf[512], again[512];
    size_t lens[32];
    int n = build_all(bufs, lens, aclbuf, multibuf);
    cr_assert_eq(n, 27);
    for (int i = 0; i < n; i++) {
        struct zn_zk_request req;
        int rc = zn_zk_request_decode(bufs[i], lens[i], &lim, &req);
        cr_assert_eq(rc, 0, "decode #%d: %s", i, zn_err_name(rc));
        cr_assert_eq(req.xid, 100 + i);
        /* Re-encoding the decoded request gives the same bytes. */
        long len = zn_zk_request_encode(&req, again, sizeof(again));
        cr_assert_eq((size_t)len, lens[i], "%s", zn_zk_op_name(req.type));
        cr_assert_eq(memcmp(again, bufs[i], lens[i]), 0, "%s", zn_zk_op_name(req.type));
        bool has_body = req.type != ZN_ZK_OP_PING && req.type != ZN_ZK_OP_CLOSESESSION &&
                        req.type != ZN_ZK_OP_WHOAMI;
        size_t min_ok = has_body ? lens[i] : 8;
        for (size_t cut = 0; cut < min_ok; cut++)
            cr_assert_neq(zn_zk_request_decode(bufs[i], cut, &lim, &req), 0, "%s cut at %zu",
                          zn_zk_op_name(bufs[i][7]), cut);
    }
}

Test(jute, multi_iterates_ops_and_rejects_bad_ones)
{
    static uint8_t bufs[32][512], aclbuf[256], multibuf[512];
    size_t lens[32];
    int n = build_all(bufs, lens, aclbuf, multibuf);
    struct zn_zk_request req;
    int found = -1;
    for (int i = 0; i < n; i++)
        if (bufs[i][7] == ZN_ZK_OP_MULTI)
            found = i;
    cr_assert_geq(found, 0);
    cr_assert_eq(zn_zk_request_decode(bufs[found], lens[found], &lim, &req), 0);
    cr_assert_eq(req.u.multi.count, 3);
    struct zn_zk_multi_iter it;
    zn_zk_multi_iter_init(&it, &req);
    struct zn_zk_request op;
    int32_t types[3];
    int k = 0;
    while (zn_zk_multi_next(&it, &op))
        types[k++] = op.type;
    cr_assert_eq(k, 3);
    cr_assert_eq(types[0], ZN_ZK_OP_CREATE);
    cr_assert_eq(types[1], ZN_ZK_OP_CHECK);
    cr_assert_eq(types[2], ZN_ZK_OP_DELETE);

    /* A read op inside multi, and a write op inside multiRead, are malformed. */
    uint8_t buf[256];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, sizeof(buf));
    zn_jute_put_int(&w, 1);
    zn_jute_put_int(&w, ZN_ZK_OP_MULTI);
    struct zn_zk_request rd = {.type = ZN_ZK_OP_GETDATA};
    rd.u.read.path = S("/x");
    zn_zk_put_multi_op(&w, &rd);
    zn_zk_put_multi_end(&w);
    cr_assert_eq(zn_zk_request_decode(buf, w.len, &lim, &req), ZN_EPROTO);
    buf[7] = ZN_ZK_OP_MULTIREAD;
    cr_assert_eq(zn_zk_request_decode(buf, w.len, &lim, &req), 0);
    /* Missing end marker. */
    cr_assert_eq(zn_zk_request_decode(buf, w.len - 9, &lim, &req), ZN_EPROTO);
    /* Op count limit. */
    lim.multi_ops_max = 2;
    cr_assert_eq(zn_zk_request_decode(bufs[found], lens[found], &lim, &req), ZN_ELIMIT);
}

Test(jute, limits_and_unknown_ops)
{
    static uint8_t data[2 * 1024 * 1024];
    static uint8_t buf[2 * 1024 * 1024 + 256];
    struct zn_zk_request req = {.xid = 5, .type = ZN_ZK_OP_SETDATA};
    req.u.set_data.path = S("/big");
    req.u.set_data.data = zn_bytes_make(data, 1024 * 1024 + 1);
    long n = zn_zk_request_encode(&req, buf, sizeof(buf));
    cr_assert_gt(n, 0);
    struct zn_zk_request back;
    cr_assert_eq(zn_zk_request_decode(buf, (size_t)n, &lim, &back), ZN_ELIMIT);
    req.u.set_data.data = zn_bytes_make(data, 1024 * 1024);
    n = zn_zk_request_encode(&req, buf, sizeof(buf));
    cr_assert_eq(zn_zk_request_decode(buf, (size_t)n, &lim, &back), 0);
    cr_assert_eq(back.u.set_data.data.len, 1024 * 1024);

    lim.path_bytes_max = 8;
    req.u.set_data.path = S("/much/too/long");
    req.u.set_data.data = S("x");
    n = zn_zk_request_encode(&req, buf, sizeof(buf));
    cr_assert_eq(zn_zk_request_decode(buf, (size_t)n, &lim, &back), ZN_ELIMIT);

    static const uint8_t unknown[] = {0, 0, 0, 9, 0, 0, 0, 77};
    cr_assert_eq(zn_zk_request_decode(unknown, sizeof(unknown), &lim, &back), ZN_EUNIMPLEMENTED);
    cr_assert_eq(back.xid, 9, "xid kept so the error reply can carry it");
    cr_assert_eq(back.type, 77);
    /* A null path is malformed. */
    static const uint8_t nullpath[] = {0, 0, 0, 1, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff, 0};
    cr_assert_eq(zn_zk_request_decode(nullpath, sizeof(nullpath), &lim, &back), ZN_EPROTO);
    /* Trailing bytes after a body are ignored, as ZooKeeper does. */
    static const uint8_t trailing[] = {0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 1, '/', 0xde, 0xad};
    cr_assert_eq(zn_zk_request_decode(trailing, sizeof(trailing), &lim, &back), 0);
}

Test(jute, replies_stat_and_watch_events)
{
    uint8_t buf[256];
    struct zn_jute_writer w;
    zn_jute_writer_init(&w, buf, sizeof(buf));
    struct zn_zk_reply_header h = {7, 0x100000001ll, -101};
    zn_zk_put_reply_header(&w, &h);
    struct zn_zk_stat st = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    zn_zk_put_stat(&w, &st);
    cr_assert_eq(w.len, 16 + ZN_ZK_STAT_BYTES);
    struct zn_zk_watch_event ev = {ZN_ZK_EVENT_NODE_DATA_CHANGED, ZN_ZK_STATE_SYNC_CONNECTED,
                                   S("/w")};
    zn_zk_put_watch_event(&w, &ev);
    zn_zk_put_multi_result_error(&w, -101);
    struct zn_jute_reader r;
    zn_jute_reader_init(&r, buf, w.len);
    struct zn_zk_reply_header h2;
    cr_assert_eq(zn_zk_get_reply_header(&r, &h2), 0);
    cr_assert_eq(h2.xid, 7);
    cr_assert_eq(h2.zxid, 0x100000001ll);
    cr_assert_eq(h2.err, -101);
    struct zn_zk_stat st2;
    zn_zk_get_stat(&r, &st2);
    cr_assert(st2.czxid == 1 && st2.mzxid == 2 && st2.ctime == 3 && st2.mtime == 4);
    cr_assert(st2.version == 5 && st2.cversion == 6 && st2.aversion == 7);
    cr_assert(st2.ephemeral_owner == 8 && st2.data_length == 9 && st2.num_children == 10);
    cr_assert_eq(st2.pzxid, 11);
    struct zn_zk_watch_event ev2;
    cr_assert_eq(zn_zk_get_watch_event(&r, &ev2), 0);
    cr_assert_eq(ev2.type, 3);
    cr_assert(zn_bytes_eq_str(ev2.path, "/w"));
    cr_assert_eq(zn_jute_get_int(&r), -1);
    cr_assert(!zn_jute_get_bool(&r));
    cr_assert_eq(zn_jute_get_int(&r), -101);
    cr_assert_eq(zn_jute_get_int(&r), -101);
    cr_assert_eq(zn_jute_remaining(&r), 0);
}

Test(jute, random_bytes_never_crash)
{
    struct zn_prng prng;
    zn_prng_seed(&prng, 2181);
    static uint8_t bufs[32][512], aclbuf[256], multibuf[512];
    size_t lens[32];
    int n = build_all(bufs, lens, aclbuf, multibuf);
    uint8_t buf[512];
    int accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        int i = (int)zn_prng_below(&prng, (uint64_t)n);
        memcpy(buf, bufs[i], lens[i]);
        int flips = 1 + (int)zn_prng_below(&prng, 4);
        for (int f = 0; f < flips; f++)
            buf[zn_prng_below(&prng, lens[i])] ^= (uint8_t)(1u << zn_prng_below(&prng, 8));
        struct zn_zk_request req;
        if (zn_zk_request_decode(buf, lens[i], &lim, &req) == 0) {
            accepted++;
            /* Whatever was accepted can be iterated safely. */
            if (req.type == ZN_ZK_OP_MULTI || req.type == ZN_ZK_OP_MULTIREAD) {
                struct zn_zk_multi_iter it;
                struct zn_zk_request op;
                zn_zk_multi_iter_init(&it, &req);
                int k = 0;
                while (zn_zk_multi_next(&it, &op))
                    k++;
                cr_assert_eq(k, req.u.multi.count);
            }
            if (req.type == ZN_ZK_OP_CREATE) {
                struct zn_zk_vec_iter it;
                struct zn_zk_acl acl;
                zn_zk_vec_iter_init(&it, &req.u.create.acl);
                int k = 0;
                while (zn_zk_vec_next_acl(&it, &acl))
                    k++;
                cr_assert_eq(k, req.u.create.acl.count);
            }
        }
    }
    cr_assert_gt(accepted, 0);
}
