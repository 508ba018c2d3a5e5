/* Native client session header: exact layout, direction and body rules, ordering windows. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "proto/session.h"

static size_t build(uint8_t *buf, const struct zn_sess_hdr *h, size_t body_len)
{
    cr_assert_eq(zn_sess_hdr_encode(h, buf), (int)ZN_SESS_HDR_BYTES);
    memset(buf + ZN_SESS_HDR_BYTES, 0xab, body_len);
    return ZN_SESS_HDR_BYTES + body_len;
}

Test(session, layout_is_little_endian_and_round_trips)
{
    uint8_t buf[128];
    struct zn_sess_hdr h = {.kind = ZN_SESS_REQUEST,
                            .flags = ZN_SESS_F_RETRY,
                            .session_id = 0x0102030405060708ull,
                            .seq = 9,
                            .ack = 3,
                            .zxid = 0x1122};
    size_t len = build(buf, &h, 8);
    cr_assert_eq(buf[0], ZN_SESS_REQUEST);
    cr_assert_eq(buf[1], ZN_SESS_F_RETRY);
    cr_assert_eq(buf[8], 0x08);
    cr_assert_eq(buf[15], 0x01);
    cr_assert_eq(buf[16], 9);
    struct zn_sess_hdr back;
    struct zn_bytes body;
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_SERVER, &back, &body), 0);
    cr_assert_eq(back.session_id, h.session_id);
    cr_assert_eq(back.seq, 9);
    cr_assert_eq(back.ack, 3);
    cr_assert_eq(back.zxid, 0x1122);
    cr_assert_eq(back.flags, ZN_SESS_F_RETRY);
    cr_assert_eq(body.len, 8);
    cr_assert_eq(body.ptr, buf + ZN_SESS_HDR_BYTES);
}

Test(session, direction_flags_and_reserved_are_checked)
{
    uint8_t buf[128];
    struct zn_sess_hdr h = {.kind = ZN_SESS_REPLY, .session_id = 1, .seq = 1, .leader = 2};
    size_t len = build(buf, &h, 16);
    struct zn_sess_hdr back;
    struct zn_bytes body;
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_CLIENT, &back, &body), 0);
    cr_assert_eq(back.leader, 2);
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_SERVER, &back, &body), ZN_EPROTO);
    buf[2] = 1; /* reserved */
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_CLIENT, &back, &body), ZN_EPROTO);
    buf[2] = 0;
    buf[1] = ZN_SESS_F_LINEARIZABLE; /* flags only on requests */
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_CLIENT, &back, &body), ZN_EPROTO);
    buf[1] = 0x80;
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_CLIENT, &back, &body), ZN_EPROTO);
    buf[1] = 0;
    buf[0] = 99;
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_CLIENT, &back, &body), ZN_EPROTO);
    struct zn_sess_hdr bad = {.kind = 99};
    cr_assert_eq(zn_sess_hdr_encode(&bad, buf), ZN_EINVAL);
    /* A client may not claim a leader. */
    struct zn_sess_hdr c = {.kind = ZN_SESS_PING, .session_id = 5, .leader = 1};
    len = build(buf, &c, 0);
    cr_assert_eq(zn_sess_decode(buf, len, ZN_SESS_TO_SERVER, &back, &body), ZN_EPROTO);
}

Test(session, bodies_and_ids_per_kind)
{
    uint8_t buf[128];
    struct zn_sess_hdr back;
    struct zn_bytes body;
    struct zn_sess_hdr ping = {.kind = ZN_SESS_PING, .session_id = 5};
    cr_assert_eq(zn_sess_decode(buf, build(buf, &ping, 0), ZN_SESS_TO_SERVER, &back, &body), 0);
    cr_assert_eq(body.len, -1);
    cr_assert_eq(zn_sess_decode(buf, build(buf, &ping, 1), ZN_SESS_TO_SERVER, &back, &body),
                 ZN_EPROTO, "PING carries no body");
    struct zn_sess_hdr conn = {.kind = ZN_SESS_CONNECT};
    cr_assert_eq(zn_sess_decode(buf, build(buf, &conn, 44), ZN_SESS_TO_SERVER, &back, &body), 0,
                 "CONNECT for a new session has id 0");
    cr_assert_eq(zn_sess_decode(buf, build(buf, &conn, 43), ZN_SESS_TO_SERVER, &back, &body),
                 ZN_EPROTO);
    struct zn_sess_hdr req = {.kind = ZN_SESS_REQUEST, .session_id = 0, .seq = 1};
    cr_assert_eq(zn_sess_decode(buf, build(buf, &req, 8), ZN_SESS_TO_SERVER, &back, &body),
                 ZN_EPROTO, "requests need a session");
    req.session_id = 7;
    req.seq = 0;
    cr_assert_eq(zn_sess_decode(buf, build(buf, &req, 8), ZN_SESS_TO_SERVER, &back, &body),
                 ZN_EPROTO, "requests are numbered from 1");
    for (size_t cut = 0; cut < ZN_SESS_HDR_BYTES; cut++)
        cr_assert_eq(zn_sess_decode(buf, cut, ZN_SESS_TO_SERVER, &back, &body), ZN_EPROTO);
}

Test(session, ordering_window)
{
    cr_assert_eq(zn_sess_window_classify(5, 5, 16), ZN_SESS_IN_ORDER);
    cr_assert_eq(zn_sess_window_classify(5, 4, 16), ZN_SESS_DUPLICATE);
    cr_assert_eq(zn_sess_window_classify(5, 1, 16), ZN_SESS_DUPLICATE);
    cr_assert_eq(zn_sess_window_classify(5, 6, 16), ZN_SESS_EARLY);
    cr_assert_eq(zn_sess_window_classify(5, 20, 16), ZN_SESS_EARLY);
    cr_assert_eq(zn_sess_window_classify(5, 21, 16), ZN_SESS_TOO_EARLY);
    cr_assert_eq(zn_sess_window_classify(5, UINT64_MAX, 16), ZN_SESS_TOO_EARLY);
    cr_assert_eq(zn_sess_window_classify(5, 6, 1), ZN_SESS_TOO_EARLY, "window 1 holds nothing");
}
