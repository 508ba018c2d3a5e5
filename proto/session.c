/*
 * session.c - native client session header codec and request ordering (see session.h).
 */
#include "proto/session.h"
#include "common/zn_err.h"

#include <string.h>

const char *zn_sess_kind_name(uint8_t kind)
{
    switch (kind) {
    case ZN_SESS_CONNECT:
        return "CONNECT";
    case ZN_SESS_REQUEST:
        return "REQUEST";
    case ZN_SESS_ACK:
        return "ACK";
    case ZN_SESS_PING:
        return "PING";
    case ZN_SESS_CONNECTED:
        return "CONNECTED";
    case ZN_SESS_REPLY:
        return "REPLY";
    case ZN_SESS_EVENT:
        return "EVENT";
    case ZN_SESS_PONG:
        return "PONG";
    case ZN_SESS_REFUSED:
        return "REFUSED";
    default:
        return "UNKNOWN";
    }
}

/* Direction of a kind, or -1 when unknown. */
static int zn_sess_kind_dir(uint8_t kind)
{
    switch (kind) {
    case ZN_SESS_CONNECT:
    case ZN_SESS_REQUEST:
    case ZN_SESS_ACK:
    case ZN_SESS_PING:
        return ZN_SESS_TO_SERVER;
    case ZN_SESS_CONNECTED:
    case ZN_SESS_REPLY:
    case ZN_SESS_EVENT:
    case ZN_SESS_PONG:
    case ZN_SESS_REFUSED:
        return ZN_SESS_TO_CLIENT;
    default:
        return -1;
    }
}

/* Smallest body each kind carries (0 = none allowed), and whether a body is required. */
static size_t zn_sess_body_min(uint8_t kind)
{
    switch (kind) {
    case ZN_SESS_CONNECT:
        return 44; /* ConnectRequest without readOnly */
    case ZN_SESS_REQUEST:
        return 8; /* RequestHeader */
    case ZN_SESS_CONNECTED:
        return 20; /* ConnectResponse with a null password */
    case ZN_SESS_REPLY:
        return 16; /* ReplyHeader */
    case ZN_SESS_EVENT:
        return 16 + 12;
    case ZN_SESS_REFUSED:
        return 4;
    default:
        return 0;
    }
}

static void zn_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void zn_le32(uint8_t *p, uint32_t v)
{
    zn_le16(p, (uint16_t)v);
    zn_le16(p + 2, (uint16_t)(v >> 16));
}

static void zn_le64(uint8_t *p, uint64_t v)
{
    zn_le32(p, (uint32_t)v);
    zn_le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t zn_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t zn_rd64(const uint8_t *p)
{
    return (uint64_t)zn_rd32(p) | (uint64_t)zn_rd32(p + 4) << 32;
}

int zn_sess_hdr_encode(const struct zn_sess_hdr *h, uint8_t out[ZN_SESS_HDR_BYTES])
{
    if (zn_sess_kind_dir(h->kind) < 0 || (h->flags & ~ZN_SESS_F_KNOWN))
        return ZN_EINVAL;
    out[0] = h->kind;
    out[1] = h->flags;
    zn_le16(out + 2, 0);
    zn_le32(out + 4, h->leader);
    zn_le64(out + 8, h->session_id);
    zn_le64(out + 16, h->seq);
    zn_le64(out + 24, h->ack);
    zn_le64(out + 32, h->zxid);
    return (int)ZN_SESS_HDR_BYTES;
}

int zn_sess_decode(const void *buf, size_t len, enum zn_sess_dir dir, struct zn_sess_hdr *h,
                   struct zn_bytes *body)
{
    const uint8_t *p = buf;
    if (len < ZN_SESS_HDR_BYTES)
        return ZN_EPROTO;
    memset(h, 0, sizeof(*h));
    h->kind = p[0];
    h->flags = p[1];
    if (zn_sess_kind_dir(h->kind) != (int)dir)
        return ZN_EPROTO;
    if (h->flags & ~ZN_SESS_F_KNOWN)
        return ZN_EPROTO;
    if (h->flags && h->kind != ZN_SESS_REQUEST)
        return ZN_EPROTO;
    if (p[2] || p[3])
        return ZN_EPROTO;
    h->leader = zn_rd32(p + 4);
    h->session_id = zn_rd64(p + 8);
    h->seq = zn_rd64(p + 16);
    h->ack = zn_rd64(p + 24);
    h->zxid = zn_rd64(p + 32);
    if (dir == ZN_SESS_TO_SERVER && h->leader != 0)
        return ZN_EPROTO;
    if (h->session_id == 0 && h->kind != ZN_SESS_CONNECT && h->kind != ZN_SESS_REFUSED)
        return ZN_EPROTO;
    if (h->seq == 0 &&
        (h->kind == ZN_SESS_REQUEST || h->kind == ZN_SESS_REPLY || h->kind == ZN_SESS_EVENT))
        return ZN_EPROTO;
    size_t body_len = len - ZN_SESS_HDR_BYTES;
    size_t min = zn_sess_body_min(h->kind);
    if ((min == 0 && body_len != 0) || body_len < min)
        return ZN_EPROTO;
    *body = body_len ? zn_bytes_make(p + ZN_SESS_HDR_BYTES, body_len) : ZN_BYTES_NULL;
    return 0;
}

enum zn_sess_order zn_sess_window_classify(uint64_t next, uint64_t seq, uint64_t window)
{
    if (seq == next)
        return ZN_SESS_IN_ORDER;
    if (seq < next)
        return ZN_SESS_DUPLICATE;
    if (seq - next < window)
        return ZN_SESS_EARLY;
    return ZN_SESS_TOO_EARLY;
}
