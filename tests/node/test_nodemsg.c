/* Peer protocol node messages: exact bytes, round trips of every kind, and rejection of every
 * malformed variant (truncation at each byte, trailing bytes, bad fields, fuzzed bytes). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "node/nodemsg.h"
#include "proto/session.h"

static struct zn_nodemsg_scratch scratch;
static uint8_t buf[1 << 16];

static const uint8_t request[] = {0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 2, '/', 'a', 0, 0, 0, 1};

static struct zn_nodemsg_ident ids[2] = {
    {{(const uint8_t *)"digest", 6}, {(const uint8_t *)"alice:xyz", 9}},
    {{(const uint8_t *)"ip", 2}, {(const uint8_t *)"127.0.0.1", 9}},
};
static struct zn_nodemsg_touch touches[3] = {{11, 0}, {12, 250}, {0xffffffffffffffffull, 9999}};
static const uint8_t raft_bytes[] = {1, 2, 3, 4, 5};

/* One valid message of each kind (index 0..7). */
static struct zn_nodemsg sample(int i)
{
    struct zn_nodemsg m = {.origin = 3};
    switch (i) {
    case 0:
        m.kind = ZN_NODEMSG_RAFT;
        m.u.raft.bytes = raft_bytes;
        m.u.raft.len = sizeof(raft_bytes);
        break;
    case 1:
        m.kind = ZN_NODEMSG_FORWARD;
        m.u.fwd.op = ZN_FWD_WRITE;
        m.u.fwd.flags = ZN_SESS_F_RETRY;
        m.u.fwd.n_ids = 2;
        m.u.fwd.ids = ids;
        m.u.fwd.session = 0x1122334455667788ull;
        m.u.fwd.seq = 42;
        m.u.fwd.zxid = 77;
        m.u.fwd.request = zn_bytes_make(request, sizeof(request));
        break;
    case 2:
        m.kind = ZN_NODEMSG_FORWARD;
        m.u.fwd.op = ZN_FWD_READ_INDEX;
        m.u.fwd.flags = ZN_SESS_F_LINEARIZABLE;
        m.u.fwd.session = 5;
        m.u.fwd.seq = 6;
        m.u.fwd.zxid = 7;
        break;
    case 3:
        m.kind = ZN_NODEMSG_FORWARD;
        m.u.fwd.op = ZN_FWD_SESSION_CREATE;
        m.u.fwd.session = 99;
        m.u.fwd.timeout_ms = 4000;
        for (unsigned k = 0; k < ZN_NODEMSG_PASSWD_BYTES; k++)
            m.u.fwd.passwd[k] = (uint8_t)(k * 7 + 1);
        break;
    case 4:
        m.kind = ZN_NODEMSG_FORWARD_NACK;
        m.u.nack.op = ZN_FWD_WRITE;
        m.u.nack.reason = ZN_NACK_NOT_LEADER;
        m.u.nack.leader_hint = 2;
        m.u.nack.session = 8;
        m.u.nack.seq = 9;
        break;
    case 5:
        m.kind = ZN_NODEMSG_READ_INDEX;
        m.u.read_index.session = 8;
        m.u.read_index.seq = 10;
        m.u.read_index.index = 1234567;
        break;
    case 7:
        m.kind = ZN_NODEMSG_MOVED;
        m.u.moved.session = 0x0102030405060708ull;
        m.u.moved.epoch = 17;
        break;
    default:
        m.kind = ZN_NODEMSG_TOUCH;
        m.u.touch.count = 3;
        m.u.touch.entries = touches;
        break;
    }
    return m;
}
#define SAMPLES 8

static bool bytes_eq(struct zn_bytes a, struct zn_bytes b)
{
    return zn_bytes_eq(a, b);
}

static void assert_same(const struct zn_nodemsg *a, const struct zn_nodemsg *b)
{
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->origin, b->origin);
    switch (a->kind) {
    case ZN_NODEMSG_RAFT:
        cr_assert_eq(a->u.raft.len, b->u.raft.len);
        cr_assert(memcmp(a->u.raft.bytes, b->u.raft.bytes, a->u.raft.len) == 0);
        break;
    case ZN_NODEMSG_FORWARD:
        cr_assert_eq(a->u.fwd.op, b->u.fwd.op);
        cr_assert_eq(a->u.fwd.flags, b->u.fwd.flags);
        cr_assert_eq(a->u.fwd.n_ids, b->u.fwd.n_ids);
        cr_assert_eq(a->u.fwd.session, b->u.fwd.session);
        cr_assert_eq(a->u.fwd.seq, b->u.fwd.seq);
        cr_assert_eq(a->u.fwd.zxid, b->u.fwd.zxid);
        for (int i = 0; i < a->u.fwd.n_ids; i++) {
            cr_assert(bytes_eq(a->u.fwd.ids[i].scheme, b->u.fwd.ids[i].scheme));
            cr_assert(bytes_eq(a->u.fwd.ids[i].id, b->u.fwd.ids[i].id));
        }
        if (a->u.fwd.op == ZN_FWD_WRITE)
            cr_assert(bytes_eq(a->u.fwd.request, b->u.fwd.request));
        if (a->u.fwd.op == ZN_FWD_SESSION_CREATE) {
            cr_assert_eq(a->u.fwd.timeout_ms, b->u.fwd.timeout_ms);
            cr_assert(memcmp(a->u.fwd.passwd, b->u.fwd.passwd, ZN_NODEMSG_PASSWD_BYTES) == 0);
        }
        break;
    case ZN_NODEMSG_FORWARD_NACK:
        cr_assert(memcmp(&a->u.nack.op, &b->u.nack.op, 3) == 0);
        cr_assert_eq(a->u.nack.session, b->u.nack.session);
        cr_assert_eq(a->u.nack.seq, b->u.nack.seq);
        break;
    case ZN_NODEMSG_READ_INDEX:
        cr_assert_eq(a->u.read_index.session, b->u.read_index.session);
        cr_assert_eq(a->u.read_index.seq, b->u.read_index.seq);
        cr_assert_eq(a->u.read_index.index, b->u.read_index.index);
        break;
    case ZN_NODEMSG_MOVED:
        cr_assert_eq(a->u.moved.session, b->u.moved.session);
        cr_assert_eq(a->u.moved.epoch, b->u.moved.epoch);
        break;
    case ZN_NODEMSG_TOUCH:
        cr_assert_eq(a->u.touch.count, b->u.touch.count);
        for (uint32_t i = 0; i < a->u.touch.count; i++) {
            cr_assert_eq(a->u.touch.entries[i].session, b->u.touch.entries[i].session);
            cr_assert_eq(a->u.touch.entries[i].age_ms, b->u.touch.entries[i].age_ms);
        }
        break;
    default:
        cr_assert_fail("unknown kind");
    }
}

Test(nodemsg, every_kind_round_trips_with_the_announced_size)
{
    for (int i = 0; i < SAMPLES; i++) {
        struct zn_nodemsg m = sample(i), back;
        long n = zn_nodemsg_encode(&m, buf, sizeof(buf));
        cr_assert_gt(n, 0, "sample %d", i);
        cr_assert_eq((size_t)n, zn_nodemsg_encoded_size(&m), "sample %d", i);
        cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), 0, "sample %d", i);
        assert_same(&m, &back);
        /* The capacity check: one byte short is refused, never overrun. */
        cr_assert_eq(zn_nodemsg_encode(&m, buf, (size_t)n - 1), ZN_ELIMIT);
    }
}

Test(nodemsg, exact_bytes_of_a_touch_and_a_nack)
{
    struct zn_nodemsg m = sample(6);
    long n = zn_nodemsg_encode(&m, buf, sizeof(buf));
    cr_assert_eq(n, 4 + 4 + 3 * 12);
    const uint8_t head[] = {1, ZN_NODEMSG_TOUCH, 3, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0,
                            0};
    cr_assert(memcmp(buf, head, sizeof(head)) == 0);
    m = sample(4);
    n = zn_nodemsg_encode(&m, buf, sizeof(buf));
    const uint8_t nack[] = {
        1, 3, 3, 0, ZN_FWD_WRITE, ZN_NACK_NOT_LEADER, 2, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0,
        0, 0, 0, 9};
    cr_assert_eq(n, (long)sizeof(nack));
    cr_assert(memcmp(buf, nack, sizeof(nack)) == 0);
}

Test(nodemsg, every_truncation_and_any_trailing_byte_is_refused)
{
    for (int i = 0; i < SAMPLES; i++) {
        struct zn_nodemsg m = sample(i), back;
        long n = zn_nodemsg_encode(&m, buf, sizeof(buf) - 1);
        cr_assert_gt(n, 0);
        /* RAFT payloads are opaque here: any length >= 1 is a message, so only cut below it. */
        long min_ok = i == 0 ? 5 : n;
        for (long cut = 0; cut < min_ok; cut++)
            cr_assert_neq(zn_nodemsg_decode(buf, (size_t)cut, &scratch, &back), 0,
                          "sample %d cut %ld", i, cut);
        if (i != 0) {
            buf[n] = 0;
            cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n + 1, &scratch, &back), ZN_EPROTO,
                         "sample %d trailing", i);
        }
    }
}

Test(nodemsg, bad_header_and_fields_are_refused)
{
    struct zn_nodemsg m = sample(4), back;
    long n = zn_nodemsg_encode(&m, buf, sizeof(buf));
    buf[0] = 2;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EVERSION);
    buf[0] = 1;
    buf[3] = 1; /* reserved */
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[3] = 0;
    buf[1] = 9; /* kind */
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[1] = ZN_NODEMSG_FORWARD_NACK;
    buf[2] = 0; /* origin 0 */
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[2] = 3;
    buf[5] = 7; /* reason */
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[5] = ZN_NACK_BUSY;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), 0);

    /* FORWARD: unknown op, unknown flag, too many identities, a length beyond the buffer. */
    m = sample(1);
    n = zn_nodemsg_encode(&m, buf, sizeof(buf));
    buf[4] = 9;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[4] = ZN_FWD_WRITE;
    buf[5] = 0x80;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[5] = 0;
    buf[6] = 0xff;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[6] = 0;
    buf[4 + 28] = 0x7f; /* first identity's scheme length */
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);

    /* TOUCH: count 0, count beyond the limit, count disagreeing with the length. */
    m = sample(6);
    n = zn_nodemsg_encode(&m, buf, sizeof(buf));
    buf[7] = 0;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[7] = 2;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
    buf[4] = 0x01;
    buf[7] = 3;
    cr_assert_eq(zn_nodemsg_decode(buf, (size_t)n, &scratch, &back), ZN_EPROTO);
}

Test(nodemsg, invalid_messages_are_not_encoded)
{
    struct zn_nodemsg m = sample(1);
    m.origin = 0;
    cr_assert_eq(zn_nodemsg_encode(&m, buf, sizeof(buf)), ZN_EINVAL);
    m = sample(1);
    m.u.fwd.session = 0;
    cr_assert_eq(zn_nodemsg_encode(&m, buf, sizeof(buf)), ZN_EINVAL);
    m = sample(1);
    m.u.fwd.n_ids = ZN_NODE_FWD_IDS_MAX + 1;
    cr_assert_eq(zn_nodemsg_encode(&m, buf, sizeof(buf)), ZN_EINVAL);
    m = sample(2);
    m.u.fwd.n_ids = 1;
    m.u.fwd.ids = ids;
    cr_assert_eq(zn_nodemsg_encode(&m, buf, sizeof(buf)), ZN_EINVAL);
    m = sample(6);
    m.u.touch.count = 0;
    cr_assert_eq(zn_nodemsg_encode(&m, buf, sizeof(buf)), ZN_EINVAL);
    m = sample(0);
    m.u.raft.len = 0;
    cr_assert_eq(zn_nodemsg_encode(&m, buf, sizeof(buf)), ZN_EINVAL);
    cr_assert_eq(zn_nodemsg_encoded_size(&m), 0);
}

Test(nodemsg, fuzzed_bytes_never_crash_and_accepted_ones_reencode_identically)
{
    struct zn_prng prng;
    zn_prng_seed(&prng, 0x5eed);
    static uint8_t out[1 << 16];
    uint32_t accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        struct zn_nodemsg m = sample((int)zn_prng_below(&prng, SAMPLES)), back;
        long n = zn_nodemsg_encode(&m, buf, sizeof(buf));
        int flips = 1 + (int)zn_prng_below(&prng, 4);
        for (int f = 0; f < flips; f++)
            buf[zn_prng_below(&prng, (uint64_t)n)] ^= (uint8_t)(1u << zn_prng_below(&prng, 8));
        size_t len = (size_t)n;
        if (zn_prng_chance(&prng, 1, 5))
            len = (size_t)zn_prng_below(&prng, (uint64_t)n + 1);
        if (zn_nodemsg_decode(buf, len, &scratch, &back) == 0) {
            accepted++;
            long n2 = zn_nodemsg_encode(&back, out, sizeof(out));
            cr_assert_eq(n2, (long)len);
            cr_assert(memcmp(out, buf, len) == 0);
        }
    }
    cr_log_info("fuzz: %u of 20000 mutated messages still valid and re-encoded identically",
                accepted);
}
