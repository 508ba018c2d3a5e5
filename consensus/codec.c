/*
 * codec.c - encode and decode Raft messages (format in codec.h).
 *
 * The decoder is the trust boundary for peer bytes: every field is checked before it is used,
 * a length is compared with what remains before anything is read, and nothing is allocated
 * (fuzzed by tests/fuzz/fuzz_raft_codec.c; round trips and rejections in tests/sim/test_codec.c).
 */
#include "consensus/codec.h"

#include <string.h>

#include "common/zn_err.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)(v >> 32));
    put_u32(p + 4, (uint32_t)v);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

size_t zn_raft_msg_encoded_size(const struct zn_raft_msg *m)
{
    size_t n = ZN_RAFT_CODEC_HEADER_SIZE;
    if (m->type == ZN_RAFT_MSG_APPEND) {
        n += 4;
        for (uint32_t i = 0; i < m->n_entries; i++) {
            n += ZN_RAFT_CODEC_ENTRY_HEADER + m->entries[i].len;
        }
    } else if (m->type == ZN_RAFT_MSG_SNAPSHOT) {
        n += 2u + m->conf.n_voters + m->conf.n_learners + 4u + m->len;
    }
    return n;
}

int zn_raft_msg_encode(const struct zn_raft_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    if (m->type == 0 || m->type > ZN_RAFT_MSG_TYPE_MAX) {
        return ZN_EINVAL;
    }
    size_t need = zn_raft_msg_encoded_size(m);
    if (need > cap) {
        return ZN_ELIMIT;
    }
    uint8_t *p = buf;
    p[0] = ZN_RAFT_CODEC_VERSION;
    p[1] = m->type;
    p[2] = m->from;
    p[3] = m->to;
    p[4] = (uint8_t)((m->reject ? 1u : 0u) | (m->last ? 2u : 0u));
    p[5] = p[6] = p[7] = 0;
    put_u64(p + 8, m->term);
    put_u64(p + 16, m->index);
    put_u64(p + 24, m->log_term);
    put_u64(p + 32, m->commit);
    put_u64(p + 40, m->hint);
    put_u64(p + 48, m->ctx);
    put_u64(p + 56, m->offset);
    p += ZN_RAFT_CODEC_HEADER_SIZE;
    if (m->type == ZN_RAFT_MSG_APPEND) {
        put_u32(p, m->n_entries);
        p += 4;
        for (uint32_t i = 0; i < m->n_entries; i++) {
            const struct zn_raft_entry *e = &m->entries[i];
            put_u64(p, e->term);
            p[8] = (uint8_t)e->type;
            put_u32(p + 9, e->len);
            p += ZN_RAFT_CODEC_ENTRY_HEADER;
            if (e->len > 0) {
                memcpy(p, e->data, e->len);
            }
            p += e->len;
        }
    } else if (m->type == ZN_RAFT_MSG_SNAPSHOT) {
        *p++ = m->conf.n_voters;
        memcpy(p, m->conf.voters, m->conf.n_voters);
        p += m->conf.n_voters;
        *p++ = m->conf.n_learners;
        memcpy(p, m->conf.learners, m->conf.n_learners);
        p += m->conf.n_learners;
        put_u32(p, m->len);
        p += 4;
        if (m->len > 0) {
            memcpy(p, m->data, m->len);
        }
        p += m->len;
    }
    *len = (size_t)(p - buf);
    return 0;
}

int zn_raft_msg_decode(struct zn_raft_msg *m, struct zn_raft_entry *entries, uint32_t entries_max,
                       const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof(*m));
    if (len < ZN_RAFT_CODEC_HEADER_SIZE) {
        return ZN_EPROTO;
    }
    if (buf[0] != ZN_RAFT_CODEC_VERSION) {
        return ZN_EVERSION;
    }
    uint8_t type = buf[1];
    if (type == 0 || type > ZN_RAFT_MSG_TYPE_MAX || buf[2] == 0 || buf[3] == 0 ||
        (buf[4] & ~3u) != 0 || buf[5] != 0 || buf[6] != 0 || buf[7] != 0) {
        return ZN_EPROTO;
    }
    m->type = type;
    m->from = buf[2];
    m->to = buf[3];
    m->reject = buf[4] & 1u;
    m->last = (buf[4] >> 1) & 1u;
    m->term = get_u64(buf + 8);
    m->index = get_u64(buf + 16);
    m->log_term = get_u64(buf + 24);
    m->commit = get_u64(buf + 32);
    m->hint = get_u64(buf + 40);
    m->ctx = get_u64(buf + 48);
    m->offset = get_u64(buf + 56);
    const uint8_t *p = buf + ZN_RAFT_CODEC_HEADER_SIZE;
    size_t left = len - ZN_RAFT_CODEC_HEADER_SIZE;
    if (type == ZN_RAFT_MSG_APPEND) {
        if (left < 4) {
            return ZN_EPROTO;
        }
        uint32_t n = get_u32(p);
        p += 4;
        left -= 4;
        if (n > entries_max) {
            return ZN_ELIMIT;
        }
        if ((uint64_t)n * ZN_RAFT_CODEC_ENTRY_HEADER > left) {
            return ZN_EPROTO;
        }
        if (m->index > UINT64_MAX - n) {
            return ZN_EPROTO;
        }
        uint64_t prev_term = m->log_term;
        for (uint32_t i = 0; i < n; i++) {
            if (left < ZN_RAFT_CODEC_ENTRY_HEADER) {
                return ZN_EPROTO;
            }
            struct zn_raft_entry *e = &entries[i];
            e->term = get_u64(p);
            e->type = p[8];
            e->len = get_u32(p + 9);
            p += ZN_RAFT_CODEC_ENTRY_HEADER;
            left -= ZN_RAFT_CODEC_ENTRY_HEADER;
            if (e->type > ZN_RAFT_ENTRY_CONF || e->term == 0 || e->term > m->term ||
                e->term < prev_term || e->len > left) {
                return ZN_EPROTO;
            }
            if (e->type == ZN_RAFT_ENTRY_CONF) {
                struct zn_raft_conf c;
                if (zn_raft_conf_decode(&c, p, e->len) != 0) {
                    return ZN_EPROTO;
                }
            }
            prev_term = e->term;
            e->index = m->index + 1 + i;
            e->data = e->len > 0 ? p : NULL;
            p += e->len;
            left -= e->len;
        }
        m->n_entries = n;
        m->entries = n > 0 ? entries : NULL;
    } else if (type == ZN_RAFT_MSG_SNAPSHOT) {
        if (left < 1) {
            return ZN_EPROTO;
        }
        uint32_t nv = p[0];
        if (nv > ZN_CLUSTER_VOTERS_MAX || left < 1u + nv + 1u) {
            return ZN_EPROTO;
        }
        uint32_t nl = p[1 + nv];
        uint32_t clen = 2u + nv + nl;
        if (nv + nl > ZN_CLUSTER_MEMBERS_MAX || left < clen + 4u) {
            return ZN_EPROTO;
        }
        if (zn_raft_conf_decode(&m->conf, p, clen) != 0 || m->conf.n_voters == 0) {
            return ZN_EPROTO;
        }
        p += clen;
        left -= clen;
        m->len = get_u32(p);
        p += 4;
        left -= 4;
        if (m->len > left || m->index == 0 || m->log_term == 0) {
            return ZN_EPROTO;
        }
        m->data = m->len > 0 ? p : NULL;
        p += m->len;
        left -= m->len;
    }
    if (left != 0) {
        return ZN_EPROTO;
    }
    return 0;
}
