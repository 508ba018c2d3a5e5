/*
 * test_codec.c - Raft message codec: round trips of every message type, and rejection of
 * truncated, oversized and garbage input (the decoder is the trust boundary for peer bytes).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "consensus/codec.h"

static const uint8_t payload_a[] = "create /a";
static const uint8_t payload_b[] = "set /a 42";

static struct zn_raft_msg sample(uint8_t type, struct zn_raft_entry *ents, uint8_t *conf_buf)
{
    struct zn_raft_msg m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = 3;
    m.to = 7;
    m.term = 0x0102030405060708ull;
    m.index = 41;
    m.log_term = 5;
    m.commit = 40;
    m.hint = 39;
    m.ctx = 0xfeedull;
    m.offset = 0;
    if (type == ZN_RAFT_MSG_APPEND) {
        struct zn_raft_conf c = {
            .n_voters = 3, .voters = {1, 2, 3}, .n_learners = 1, .learners = {9}};
        uint32_t clen = zn_raft_conf_encode(&c, conf_buf);
        ents[0] = (struct zn_raft_entry){
            .term = 5, .type = ZN_RAFT_ENTRY_NORMAL, .len = sizeof(payload_a), .data = payload_a};
        ents[1] = (struct zn_raft_entry){.term = 6, .type = ZN_RAFT_ENTRY_NOOP};
        ents[2] = (struct zn_raft_entry){
            .term = 6, .type = ZN_RAFT_ENTRY_CONF, .len = clen, .data = conf_buf};
        ents[3] = (struct zn_raft_entry){
            .term = 7, .type = ZN_RAFT_ENTRY_NORMAL, .len = sizeof(payload_b), .data = payload_b};
        m.term = 7;
        m.n_entries = 4;
        m.entries = ents;
    }
    if (type == ZN_RAFT_MSG_SNAPSHOT) {
        m.offset = 128;
        m.len = sizeof(payload_b);
        m.data = payload_b;
        m.last = 1;
        m.conf = (struct zn_raft_conf){.n_voters = 2, .voters = {4, 5}};
    }
    if (type == ZN_RAFT_MSG_APPEND_RESP) {
        m.reject = 1;
    }
    return m;
}

Test(codec, round_trip_every_type)
{
    for (uint8_t type = 1; type <= ZN_RAFT_MSG_TYPE_MAX; type++) {
        struct zn_raft_entry ents[4];
        uint8_t conf_buf[ZN_RAFT_CONF_ENCODED_MAX];
        struct zn_raft_msg m = sample(type, ents, conf_buf);
        uint8_t buf[1024];
        size_t len = 0;
        cr_assert_eq(zn_raft_msg_encode(&m, buf, sizeof(buf), &len), 0);
        cr_assert_eq(len, zn_raft_msg_encoded_size(&m));
        struct zn_raft_msg d;
        struct zn_raft_entry dents[8];
        cr_assert_eq(zn_raft_msg_decode(&d, dents, 8, buf, len), 0, "type %u", type);
        cr_assert_eq(d.type, m.type);
        cr_assert_eq(d.from, m.from);
        cr_assert_eq(d.to, m.to);
        cr_assert_eq(d.term, m.term);
        cr_assert_eq(d.index, m.index);
        cr_assert_eq(d.log_term, m.log_term);
        cr_assert_eq(d.commit, m.commit);
        cr_assert_eq(d.hint, m.hint);
        cr_assert_eq(d.ctx, m.ctx);
        cr_assert_eq(d.offset, m.offset);
        cr_assert_eq(d.reject, m.reject);
        cr_assert_eq(d.last, m.last);
        cr_assert_eq(d.n_entries, m.n_entries);
        for (uint32_t i = 0; i < m.n_entries; i++) {
            cr_assert_eq(d.entries[i].index, m.index + 1 + i);
            cr_assert_eq(d.entries[i].term, m.entries[i].term);
            cr_assert_eq(d.entries[i].type, m.entries[i].type);
            cr_assert_eq(d.entries[i].len, m.entries[i].len);
            if (m.entries[i].len) {
                cr_assert_eq(memcmp(d.entries[i].data, m.entries[i].data, m.entries[i].len), 0);
            }
        }
        if (type == ZN_RAFT_MSG_SNAPSHOT) {
            cr_assert_eq(d.len, m.len);
            cr_assert_eq(memcmp(d.data, m.data, m.len), 0);
            cr_assert_eq(d.conf.n_voters, 2);
            cr_assert_eq(d.conf.voters[1], 5);
        }
        /* big-endian on the wire */
        cr_assert_eq(buf[8], (uint8_t)(m.term >> 56));
        cr_assert_eq(buf[15], (uint8_t)m.term);
    }
}

Test(codec, every_truncation_is_rejected)
{
    uint8_t types[] = {ZN_RAFT_MSG_APPEND, ZN_RAFT_MSG_SNAPSHOT, ZN_RAFT_MSG_VOTE};
    for (size_t t = 0; t < sizeof(types); t++) {
        struct zn_raft_entry ents[4];
        uint8_t conf_buf[ZN_RAFT_CONF_ENCODED_MAX];
        struct zn_raft_msg m = sample(types[t], ents, conf_buf);
        uint8_t buf[1024];
        size_t len = 0;
        cr_assert_eq(zn_raft_msg_encode(&m, buf, sizeof(buf), &len), 0);
        for (size_t cut = 0; cut < len; cut++) {
            struct zn_raft_msg d;
            struct zn_raft_entry dents[8];
            cr_assert_neq(zn_raft_msg_decode(&d, dents, 8, buf, cut), 0, "type %u cut %zu",
                          types[t], cut);
        }
        /* trailing garbage is rejected too */
        struct zn_raft_msg d;
        struct zn_raft_entry dents[8];
        buf[len] = 0;
        cr_assert_eq(zn_raft_msg_decode(&d, dents, 8, buf, len + 1), ZN_EPROTO);
    }
}

Test(codec, rejects_bad_fields)
{
    struct zn_raft_entry ents[4];
    uint8_t conf_buf[ZN_RAFT_CONF_ENCODED_MAX];
    struct zn_raft_msg m = sample(ZN_RAFT_MSG_APPEND, ents, conf_buf);
    uint8_t good[1024];
    size_t len = 0;
    cr_assert_eq(zn_raft_msg_encode(&m, good, sizeof(good), &len), 0);
    struct zn_raft_msg d;
    struct zn_raft_entry dents[8];
    uint8_t buf[1024];
    struct {
        size_t off;
        uint8_t val;
        int want;
    } cases[] = {
        {0, 2, ZN_EVERSION},        /* version */
        {1, 0, ZN_EPROTO},          /* type 0 */
        {1, 12, ZN_EPROTO},         /* type out of range */
        {2, 0, ZN_EPROTO},          /* from 0 */
        {3, 0, ZN_EPROTO},          /* to 0 */
        {4, 4, ZN_EPROTO},          /* unknown flag */
        {6, 1, ZN_EPROTO},          /* reserved byte */
        {64 + 4 + 8, 3, ZN_EPROTO}, /* entry type */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(buf, good, len);
        buf[cases[i].off] = cases[i].val;
        cr_assert_eq(zn_raft_msg_decode(&d, dents, 8, buf, len), cases[i].want, "case %zu", i);
    }
    /* more entries than the caller can hold */
    cr_assert_eq(zn_raft_msg_decode(&d, dents, 3, good, len), ZN_ELIMIT);
    /* an entry term above the message term */
    memcpy(buf, good, len);
    buf[64 + 4 + 7] = 9;
    cr_assert_eq(zn_raft_msg_decode(&d, dents, 8, buf, len), ZN_EPROTO);
    /* a huge entry count must not be trusted */
    memcpy(buf, good, len);
    buf[64] = 0x7f;
    cr_assert_neq(zn_raft_msg_decode(&d, dents, 8, buf, len), 0);
    /* an encode into a small buffer fails cleanly */
    cr_assert_eq(zn_raft_msg_encode(&m, buf, len - 1, &len), ZN_ELIMIT);
}

Test(codec, random_garbage_never_crashes)
{
    struct zn_prng prng;
    zn_prng_seed(&prng, 42);
    uint8_t buf[512];
    uint32_t ok = 0;
    for (int i = 0; i < 100000; i++) {
        size_t len = zn_prng_below(&prng, sizeof(buf));
        zn_prng_fill(&prng, buf, len);
        if (len > 0 && zn_prng_chance(&prng, 1, 2)) {
            buf[0] = 1; /* get past the version check half of the time */
        }
        struct zn_raft_msg d;
        struct zn_raft_entry dents[8];
        if (zn_raft_msg_decode(&d, dents, 8, buf, len) == 0) {
            ok++;
            cr_assert(d.type >= 1 && d.type <= ZN_RAFT_MSG_TYPE_MAX);
            for (uint32_t e = 0; e < d.n_entries; e++) {
                cr_assert(d.entries[e].data + d.entries[e].len <= buf + len);
            }
        }
    }
    cr_assert_lt(ok, 100000u);
}

Test(codec, conf_validation)
{
    struct zn_raft_conf c;
    uint8_t dup[] = {2, 1, 1, 0};
    cr_assert_eq(zn_raft_conf_decode(&c, dup, sizeof(dup)), ZN_EPROTO);
    uint8_t zero[] = {1, 0, 0};
    cr_assert_eq(zn_raft_conf_decode(&c, zero, sizeof(zero)), ZN_EPROTO);
    uint8_t many[] = {8, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    cr_assert_eq(zn_raft_conf_decode(&c, many, sizeof(many)), ZN_EPROTO);
    uint8_t ok[] = {2, 1, 2, 1, 3};
    cr_assert_eq(zn_raft_conf_decode(&c, ok, sizeof(ok)), 0);
    cr_assert(zn_raft_conf_is_voter(&c, 2));
    cr_assert(zn_raft_conf_is_learner(&c, 3));
    uint8_t learner_is_voter[] = {1, 1, 1, 1};
    cr_assert_eq(zn_raft_conf_decode(&c, learner_is_voter, sizeof(learner_is_voter)), ZN_EPROTO);
}
