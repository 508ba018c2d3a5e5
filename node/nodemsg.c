/*
 * nodemsg.c - encode and validate peer-protocol node messages (format in nodemsg.h).
 *
 * Invariants: encode produces exactly zn_nodemsg_encoded_size bytes for a valid message, and
 * decode(encode(m)) == m; decode never reads outside [buf, buf + len) and fails on any byte
 * string that encode could not have produced (unknown kinds, ops, reasons, flags, non-zero
 * reserved bytes, counts beyond the limits, short or trailing bytes).
 */
#include "node/nodemsg.h"

#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "proto/session.h"

/* ---- byte cursor ---------------------------------------------------------------------------- */

struct zn_nm_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
    int err;
};

static bool zn_nm_rd_has(struct zn_nm_rd *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = ZN_EPROTO;
        return false;
    }
    return true;
}

static uint8_t zn_nm_rd_u8(struct zn_nm_rd *r)
{
    if (!zn_nm_rd_has(r, 1))
        return 0;
    return r->p[r->pos++];
}

static uint64_t zn_nm_rd_be(struct zn_nm_rd *r, unsigned bytes)
{
    if (!zn_nm_rd_has(r, bytes))
        return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = (v << 8) | r->p[r->pos + i];
    r->pos += bytes;
    return v;
}

/* buffer = i32 length (0..max) + bytes; the null buffer (-1) is not used by node messages. */
static struct zn_bytes zn_nm_rd_buffer(struct zn_nm_rd *r, uint32_t max)
{
    uint64_t n = zn_nm_rd_be(r, 4);
    if (r->err)
        return ZN_BYTES_NULL;
    if (n > max || !zn_nm_rd_has(r, (size_t)n)) {
        r->err = ZN_EPROTO;
        return ZN_BYTES_NULL;
    }
    struct zn_bytes b = zn_bytes_make(r->p + r->pos, (size_t)n);
    r->pos += (size_t)n;
    return b;
}

struct zn_nm_wr {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool over;
};

static void zn_nm_wr_raw(struct zn_nm_wr *w, const void *src, size_t n)
{
    if (w->over || w->cap - w->len < n) {
        w->over = true;
        return;
    }
    if (n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void zn_nm_wr_be(struct zn_nm_wr *w, uint64_t v, unsigned bytes)
{
    uint8_t b[8];
    for (unsigned i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    zn_nm_wr_raw(w, b, bytes);
}

static void zn_nm_wr_buffer(struct zn_nm_wr *w, struct zn_bytes b)
{
    uint32_t n = b.len < 0 ? 0u : (uint32_t)b.len;
    zn_nm_wr_be(w, n, 4);
    zn_nm_wr_raw(w, b.ptr, n);
}

/* ---- validation shared by encode and decode --------------------------------------------------- */

const char *zn_nodemsg_kind_name(uint8_t kind)
{
    switch (kind) {
    case ZN_NODEMSG_RAFT:
        return "RAFT";
    case ZN_NODEMSG_FORWARD:
        return "FORWARD";
    case ZN_NODEMSG_FORWARD_NACK:
        return "FORWARD_NACK";
    case ZN_NODEMSG_READ_INDEX:
        return "READ_INDEX";
    case ZN_NODEMSG_TOUCH:
        return "TOUCH";
    case ZN_NODEMSG_MOVED:
        return "MOVED";
    default:
        return "?";
    }
}

static bool zn_fwd_op_valid(uint8_t op)
{
    return op == ZN_FWD_WRITE || op == ZN_FWD_READ_INDEX || op == ZN_FWD_SESSION_CREATE;
}

static bool zn_ident_valid(const struct zn_nodemsg_ident *id)
{
    return id->scheme.len >= 1 && (uint32_t)id->scheme.len <= ZN_NODE_IDENT_BYTES_MAX &&
           id->id.len >= 0 && (uint32_t)id->id.len <= ZN_NODE_IDENT_BYTES_MAX;
}

static bool zn_nodemsg_valid(const struct zn_nodemsg *m)
{
    if (m->origin == 0)
        return false;
    switch (m->kind) {
    case ZN_NODEMSG_RAFT:
        return m->u.raft.len >= 1 && m->u.raft.len <= ZN_MSG_SIZE_MAX_BYTES && m->u.raft.bytes;
    case ZN_NODEMSG_FORWARD:
        if (!zn_fwd_op_valid(m->u.fwd.op) || (m->u.fwd.flags & ~ZN_SESS_F_KNOWN) ||
            m->u.fwd.session == 0)
            return false;
        if (m->u.fwd.op != ZN_FWD_WRITE)
            return m->u.fwd.n_ids == 0;
        if (m->u.fwd.n_ids > ZN_NODE_FWD_IDS_MAX || (m->u.fwd.n_ids && !m->u.fwd.ids) ||
            m->u.fwd.request.len < 8 || (uint32_t)m->u.fwd.request.len > ZN_MSG_SIZE_MAX_BYTES ||
            m->u.fwd.seq == 0)
            return false;
        for (uint16_t i = 0; i < m->u.fwd.n_ids; i++)
            if (!zn_ident_valid(&m->u.fwd.ids[i]))
                return false;
        return true;
    case ZN_NODEMSG_FORWARD_NACK:
        return zn_fwd_op_valid(m->u.nack.op) &&
               (m->u.nack.reason == ZN_NACK_NOT_LEADER || m->u.nack.reason == ZN_NACK_BUSY) &&
               m->u.nack.session != 0;
    case ZN_NODEMSG_READ_INDEX:
        return m->u.read_index.session != 0;
    case ZN_NODEMSG_MOVED:
        return m->u.moved.session != 0;
    case ZN_NODEMSG_TOUCH:
        if (m->u.touch.count < 1 || m->u.touch.count > ZN_NODE_TOUCH_BATCH_MAX ||
            !m->u.touch.entries)
            return false;
        for (uint32_t i = 0; i < m->u.touch.count; i++)
            if (m->u.touch.entries[i].session == 0)
                return false;
        return true;
    default:
        return false;
    }
}

/* ---- encode --------------------------------------------------------------------------------- */

static void zn_nodemsg_write(const struct zn_nodemsg *m, struct zn_nm_wr *w)
{
    uint8_t hdr[ZN_NODEMSG_HDR_BYTES] = {ZN_NODEMSG_VERSION, m->kind, m->origin, 0};
    zn_nm_wr_raw(w, hdr, sizeof(hdr));
    switch (m->kind) {
    case ZN_NODEMSG_RAFT:
        zn_nm_wr_raw(w, m->u.raft.bytes, m->u.raft.len);
        break;
    case ZN_NODEMSG_FORWARD:
        zn_nm_wr_be(w, m->u.fwd.op, 1);
        zn_nm_wr_be(w, m->u.fwd.flags, 1);
        zn_nm_wr_be(w, m->u.fwd.n_ids, 2);
        zn_nm_wr_be(w, m->u.fwd.session, 8);
        zn_nm_wr_be(w, m->u.fwd.seq, 8);
        zn_nm_wr_be(w, m->u.fwd.zxid, 8);
        if (m->u.fwd.op == ZN_FWD_WRITE) {
            for (uint16_t i = 0; i < m->u.fwd.n_ids; i++) {
                zn_nm_wr_buffer(w, m->u.fwd.ids[i].scheme);
                zn_nm_wr_buffer(w, m->u.fwd.ids[i].id);
            }
            zn_nm_wr_buffer(w, m->u.fwd.request);
        } else if (m->u.fwd.op == ZN_FWD_SESSION_CREATE) {
            zn_nm_wr_be(w, m->u.fwd.timeout_ms, 4);
            zn_nm_wr_raw(w, m->u.fwd.passwd, ZN_NODEMSG_PASSWD_BYTES);
        }
        break;
    case ZN_NODEMSG_FORWARD_NACK: {
        uint8_t b[4] = {m->u.nack.op, m->u.nack.reason, m->u.nack.leader_hint, 0};
        zn_nm_wr_raw(w, b, sizeof(b));
        zn_nm_wr_be(w, m->u.nack.session, 8);
        zn_nm_wr_be(w, m->u.nack.seq, 8);
        break;
    }
    case ZN_NODEMSG_READ_INDEX:
        zn_nm_wr_be(w, m->u.read_index.session, 8);
        zn_nm_wr_be(w, m->u.read_index.seq, 8);
        zn_nm_wr_be(w, m->u.read_index.index, 8);
        break;
    case ZN_NODEMSG_MOVED:
        zn_nm_wr_be(w, m->u.moved.session, 8);
        zn_nm_wr_be(w, m->u.moved.epoch, 8);
        break;
    case ZN_NODEMSG_TOUCH:
        zn_nm_wr_be(w, m->u.touch.count, 4);
        for (uint32_t i = 0; i < m->u.touch.count; i++) {
            zn_nm_wr_be(w, m->u.touch.entries[i].session, 8);
            zn_nm_wr_be(w, m->u.touch.entries[i].age_ms, 4);
        }
        break;
    default:
        break;
    }
}

size_t zn_nodemsg_encoded_size(const struct zn_nodemsg *m)
{
    if (!zn_nodemsg_valid(m))
        return 0;
    size_t n = ZN_NODEMSG_HDR_BYTES;
    switch (m->kind) {
    case ZN_NODEMSG_RAFT:
        n += m->u.raft.len;
        break;
    case ZN_NODEMSG_FORWARD:
        n += 1 + 1 + 2 + 8 + 8 + 8;
        if (m->u.fwd.op == ZN_FWD_WRITE) {
            for (uint16_t i = 0; i < m->u.fwd.n_ids; i++)
                n += 8 + (size_t)m->u.fwd.ids[i].scheme.len + (size_t)m->u.fwd.ids[i].id.len;
            n += 4 + (size_t)m->u.fwd.request.len;
        } else if (m->u.fwd.op == ZN_FWD_SESSION_CREATE) {
            n += 4 + ZN_NODEMSG_PASSWD_BYTES;
        }
        break;
    case ZN_NODEMSG_FORWARD_NACK:
        n += 4 + 8 + 8;
        break;
    case ZN_NODEMSG_READ_INDEX:
        n += 8 + 8 + 8;
        break;
    case ZN_NODEMSG_MOVED:
        n += 8 + 8;
        break;
    case ZN_NODEMSG_TOUCH:
        n += 4 + (size_t)m->u.touch.count * 12u;
        break;
    default:
        return 0;
    }
    return n;
}

long zn_nodemsg_encode(const struct zn_nodemsg *m, uint8_t *buf, size_t cap)
{
    if (!zn_nodemsg_valid(m))
        return ZN_EINVAL;
    size_t need = zn_nodemsg_encoded_size(m);
    if (need > ZN_MSG_SIZE_MAX_BYTES || need > cap)
        return ZN_ELIMIT;
    struct zn_nm_wr w = {.p = buf, .cap = cap, .len = 0, .over = false};
    zn_nodemsg_write(m, &w);
    ZN_ASSERT(!w.over && w.len == need);
    return (long)w.len;
}

/* ---- decode --------------------------------------------------------------------------------- */

static void zn_nodemsg_read_forward(struct zn_nm_rd *r, struct zn_nodemsg_scratch *scratch,
                                    struct zn_nodemsg *m)
{
    m->u.fwd.op = zn_nm_rd_u8(r);
    m->u.fwd.flags = zn_nm_rd_u8(r);
    m->u.fwd.n_ids = (uint16_t)zn_nm_rd_be(r, 2);
    m->u.fwd.session = zn_nm_rd_be(r, 8);
    m->u.fwd.seq = zn_nm_rd_be(r, 8);
    m->u.fwd.zxid = zn_nm_rd_be(r, 8);
    m->u.fwd.ids = scratch->ids;
    m->u.fwd.request = ZN_BYTES_NULL;
    if (r->err)
        return;
    if (m->u.fwd.op == ZN_FWD_WRITE && m->u.fwd.n_ids <= ZN_NODE_FWD_IDS_MAX) {
        for (uint16_t i = 0; i < m->u.fwd.n_ids && !r->err; i++) {
            scratch->ids[i].scheme = zn_nm_rd_buffer(r, ZN_NODE_IDENT_BYTES_MAX);
            scratch->ids[i].id = zn_nm_rd_buffer(r, ZN_NODE_IDENT_BYTES_MAX);
        }
        m->u.fwd.request = zn_nm_rd_buffer(r, ZN_MSG_SIZE_MAX_BYTES);
    } else if (m->u.fwd.op == ZN_FWD_SESSION_CREATE) {
        m->u.fwd.timeout_ms = (uint32_t)zn_nm_rd_be(r, 4);
        if (zn_nm_rd_has(r, ZN_NODEMSG_PASSWD_BYTES)) {
            memcpy(m->u.fwd.passwd, r->p + r->pos, ZN_NODEMSG_PASSWD_BYTES);
            r->pos += ZN_NODEMSG_PASSWD_BYTES;
        }
    }
}

int zn_nodemsg_decode(const uint8_t *buf, size_t len, struct zn_nodemsg_scratch *scratch,
                      struct zn_nodemsg *m)
{
    memset(m, 0, sizeof(*m));
    if (len < ZN_NODEMSG_HDR_BYTES || len > ZN_MSG_SIZE_MAX_BYTES)
        return ZN_EPROTO;
    if (buf[0] != ZN_NODEMSG_VERSION)
        return ZN_EVERSION;
    if (buf[3] != 0)
        return ZN_EPROTO;
    m->kind = buf[1];
    m->origin = buf[2];
    struct zn_nm_rd r = {.p = buf, .len = len, .pos = ZN_NODEMSG_HDR_BYTES, .err = 0};
    switch (m->kind) {
    case ZN_NODEMSG_RAFT:
        m->u.raft.bytes = buf + r.pos;
        m->u.raft.len = len - r.pos;
        r.pos = len;
        break;
    case ZN_NODEMSG_FORWARD:
        zn_nodemsg_read_forward(&r, scratch, m);
        break;
    case ZN_NODEMSG_FORWARD_NACK:
        m->u.nack.op = zn_nm_rd_u8(&r);
        m->u.nack.reason = zn_nm_rd_u8(&r);
        m->u.nack.leader_hint = zn_nm_rd_u8(&r);
        if (zn_nm_rd_u8(&r) != 0)
            return ZN_EPROTO;
        m->u.nack.session = zn_nm_rd_be(&r, 8);
        m->u.nack.seq = zn_nm_rd_be(&r, 8);
        break;
    case ZN_NODEMSG_READ_INDEX:
        m->u.read_index.session = zn_nm_rd_be(&r, 8);
        m->u.read_index.seq = zn_nm_rd_be(&r, 8);
        m->u.read_index.index = zn_nm_rd_be(&r, 8);
        break;
    case ZN_NODEMSG_MOVED:
        m->u.moved.session = zn_nm_rd_be(&r, 8);
        m->u.moved.epoch = zn_nm_rd_be(&r, 8);
        if (m->u.moved.session == 0)
            return ZN_EPROTO;
        break;
    case ZN_NODEMSG_TOUCH: {
        uint64_t count = zn_nm_rd_be(&r, 4);
        if (r.err || count < 1 || count > ZN_NODE_TOUCH_BATCH_MAX || (len - r.pos) != count * 12u)
            return ZN_EPROTO;
        m->u.touch.count = (uint32_t)count;
        m->u.touch.entries = scratch->touch;
        for (uint32_t i = 0; i < m->u.touch.count; i++) {
            scratch->touch[i].session = zn_nm_rd_be(&r, 8);
            scratch->touch[i].age_ms = (uint32_t)zn_nm_rd_be(&r, 4);
        }
        break;
    }
    default:
        return ZN_EPROTO;
    }
    if (r.err || r.pos != len || !zn_nodemsg_valid(m))
        return ZN_EPROTO;
    return 0;
}
