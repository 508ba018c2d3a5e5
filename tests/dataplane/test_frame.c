/*
 * Frame header and reassembly: round trips, every validation rule, and reassembly bounds
 * (budget, slots, timeouts, duplicates, inconsistent segments, out-of-order delivery).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "proto/frame.h"
#include "proto/reasm.h"

static struct zn_frame_hdr base_hdr(void)
{
    struct zn_frame_hdr h;
    memset(&h, 0, sizeof(h));
    h.type = ZN_FRAME_PEER;
    h.sender = 1;
    h.receiver = 2;
    h.cluster_id = 0xC0FFEE;
    h.msg_id = 42;
    return h;
}

static int encode_single(uint8_t *buf, const char *text)
{
    struct zn_frame_hdr b = base_hdr(), h;
    uint32_t len = (uint32_t)strlen(text);
    cr_assert_eq(zn_frame_segment(&b, len, 0, &h), 0);
    return zn_frame_encode(&h, text, buf, ZN_FRAME_DGRAM_MAX_BYTES);
}

Test(frame, round_trip_and_expectations)
{
    uint8_t buf[ZN_FRAME_DGRAM_MAX_BYTES];
    int n = encode_single(buf, "hello raft");
    cr_assert_eq(n, (int)ZN_FRAME_HDR_BYTES + 10);
    struct zn_frame_hdr h;
    struct zn_frame_expect ex = {.cluster_id = 0xC0FFEE, .self_node = 2};
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, &ex, &h), 0);
    cr_assert_eq(h.type, ZN_FRAME_PEER);
    cr_assert_eq(h.sender, 1);
    cr_assert_eq(h.receiver, 2);
    cr_assert_eq(h.msg_id, 42);
    cr_assert_eq(h.msg_len, 10);
    cr_assert_eq(memcmp(buf + ZN_FRAME_HDR_BYTES, "hello raft", 10), 0);
    ex.cluster_id = 7;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, &ex, &h), ZN_ECLUSTER);
    ex.cluster_id = 0xC0FFEE;
    ex.self_node = 3;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, &ex, &h), ZN_ECLUSTER);
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, NULL, &h), 0);
}

Test(frame, empty_message_is_one_segment)
{
    uint8_t buf[ZN_FRAME_DGRAM_MAX_BYTES];
    int n = encode_single(buf, "");
    cr_assert_eq(n, (int)ZN_FRAME_HDR_BYTES);
    struct zn_frame_hdr h;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, NULL, &h), 0);
    cr_assert_eq(h.seg_count, 1);
}

Test(frame, every_malformation_is_refused)
{
    uint8_t good[ZN_FRAME_DGRAM_MAX_BYTES], buf[ZN_FRAME_DGRAM_MAX_BYTES + 8];
    int n = encode_single(good, "payload!");
    struct zn_frame_hdr h;
    /* short */
    for (int len = 0; len < n; len++)
        cr_assert_neq(zn_frame_decode(good, (size_t)len, NULL, &h), 0, "len %d accepted", len);
    cr_assert_eq(zn_frame_decode(NULL, 0, NULL, &h), ZN_EPROTO);
    /* every single-bit flip anywhere is caught (structure check or checksum) */
    for (int i = 0; i < n; i++) {
        for (int b = 0; b < 8; b++) {
            memcpy(buf, good, (size_t)n);
            buf[i] ^= (uint8_t)(1u << b);
            cr_assert_neq(zn_frame_decode(buf, (size_t)n, NULL, &h), 0, "flip %d.%d", i, b);
        }
    }
    /* specific codes */
    memcpy(buf, good, (size_t)n);
    buf[0] ^= 1;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, NULL, &h), ZN_EPROTO, "wrong magic");
    memcpy(buf, good, (size_t)n);
    buf[2] = 9;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, NULL, &h), ZN_EVERSION);
    memcpy(buf, good, (size_t)n);
    buf[ZN_FRAME_HDR_BYTES] ^= 0x40;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, NULL, &h), ZN_ECORRUPT, "payload corruption");
    /* trailing bytes: payload_len disagrees with the datagram length */
    memcpy(buf, good, (size_t)n);
    buf[n] = 0;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n + 1, NULL, &h), ZN_EPROTO);
    /* oversized: longer than a datagram */
    cr_assert_eq(zn_frame_decode(buf, ZN_FRAME_DGRAM_MAX_BYTES + 1, NULL, &h), ZN_EPROTO);
}

Test(frame, encode_refuses_inconsistent_headers)
{
    uint8_t buf[ZN_FRAME_DGRAM_MAX_BYTES] = {0};
    struct zn_frame_hdr h = base_hdr();
    h.msg_len = 10;
    h.seg_count = 1;
    h.payload_len = 9;
    cr_assert_eq(zn_frame_encode(&h, buf, buf, sizeof(buf)), ZN_EINVAL);
    h.payload_len = 10;
    h.type = 0;
    cr_assert_eq(zn_frame_encode(&h, buf, buf, sizeof(buf)), ZN_EINVAL);
    h.type = ZN_FRAME_CLIENT;
    cr_assert_eq(zn_frame_encode(&h, buf, buf, 20), ZN_ELIMIT);
    struct zn_frame_hdr b = base_hdr();
    cr_assert_eq(zn_frame_segment(&b, ZN_MSG_SIZE_MAX_BYTES + 1, 0, &h), ZN_ELIMIT);
    cr_assert_eq(zn_frame_segment(&b, 3000, 3, &h), ZN_EINVAL);
}

/* Oversized msg_len in a datagram with a valid checksum is refused with ZN_ELIMIT. */
Test(frame, oversized_message_length_refused)
{
    uint8_t buf[ZN_FRAME_DGRAM_MAX_BYTES];
    int n = encode_single(buf, "x");
    uint32_t big = ZN_MSG_SIZE_MAX_BYTES + 1;
    memcpy(buf + 20, &big, 4); /* little-endian host: the field is little-endian */
    struct zn_frame_hdr h;
    cr_assert_eq(zn_frame_decode(buf, (size_t)n, NULL, &h), ZN_ELIMIT);
}

/* Split a message into datagrams, as a sender does. */
static int split(const uint8_t *msg, uint32_t len, uint64_t msg_id, uint8_t **dgrams, int *lens)
{
    struct zn_frame_hdr b = base_hdr(), h;
    b.msg_id = msg_id;
    uint32_t count = zn_frame_seg_count(len);
    for (uint32_t i = 0; i < count; i++) {
        long off = zn_frame_segment(&b, len, i, &h);
        cr_assert_geq(off, 0);
        dgrams[i] = malloc(ZN_FRAME_DGRAM_MAX_BYTES);
        lens[i] = zn_frame_encode(&h, msg + off, dgrams[i], ZN_FRAME_DGRAM_MAX_BYTES);
        cr_assert_gt(lens[i], 0);
    }
    return (int)count;
}

Test(reasm, out_of_order_with_duplicates_reassembles)
{
    struct zn_prng rng;
    zn_prng_seed(&rng, 7);
    uint32_t len = 100000;
    uint8_t *msg = malloc(len);
    zn_prng_fill(&rng, msg, len);
    uint8_t *d[128];
    int l[128];
    int count = split(msg, len, 9, d, l);
    cr_assert_eq(count, (int)((len + ZN_FRAME_SEG_BYTES - 1) / ZN_FRAME_SEG_BYTES));
    int order[128];
    for (int i = 0; i < count; i++)
        order[i] = i;
    for (int i = count - 1; i > 0; i--) {
        int j = (int)zn_prng_below(&rng, (uint64_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    struct zn_reasm r;
    cr_assert_eq(zn_reasm_init(&r, 4, 1u << 20, 1000), 0);
    struct zn_reasm_msg out;
    int done = 0;
    for (int k = 0; k < count; k++) {
        struct zn_frame_hdr h;
        int i = order[k];
        cr_assert_eq(zn_frame_decode(d[i], (size_t)l[i], NULL, &h), 0);
        int rc = zn_reasm_add(&r, &h, d[i] + ZN_FRAME_HDR_BYTES, 1, 10, &out);
        cr_assert_geq(rc, 0);
        done += rc;
        if (k == 3) /* a duplicate */
            cr_assert_eq(zn_reasm_add(&r, &h, d[i] + ZN_FRAME_HDR_BYTES, 1, 10, &out), 0);
    }
    cr_assert_eq(done, 1);
    cr_assert_eq(out.len, len);
    cr_assert_eq(memcmp(out.data, msg, len), 0);
    cr_assert_eq(r.stats.duplicates, 1);
    cr_assert_eq(r.stats.slots_in_use, 0);
    cr_assert_gt(r.stats.bytes_in_use, 0);
    zn_reasm_msg_release(&r, &out);
    cr_assert_eq(r.stats.bytes_in_use, 0);
    zn_reasm_fini(&r);
    for (int i = 0; i < count; i++)
        free(d[i]);
    free(msg);
}

Test(reasm, truncated_sequence_times_out_and_bounds_hold)
{
    uint32_t len = 5000;
    uint8_t *msg = calloc(1, len);
    uint8_t *d[8];
    int l[8];
    int count = split(msg, len, 1, d, l);
    cr_assert_eq(count, 4);
    struct zn_reasm r;
    cr_assert_eq(zn_reasm_init(&r, 2, 12000, 1000), 0);
    struct zn_reasm_msg out;
    struct zn_frame_hdr h;
    /* all but the last segment */
    for (int i = 0; i < count - 1; i++) {
        cr_assert_eq(zn_frame_decode(d[i], (size_t)l[i], NULL, &h), 0);
        cr_assert_eq(zn_reasm_add(&r, &h, d[i] + ZN_FRAME_HDR_BYTES, 1, 100, &out), 0);
    }
    cr_assert_eq(r.stats.slots_in_use, 1);
    /* a second message fits the budget, a third does not (budget 12000 < 3 * 5001) */
    uint8_t *d2[8], *d3[8];
    int l2[8], l3[8];
    split(msg, len, 2, d2, l2);
    split(msg, len, 3, d3, l3);
    cr_assert_eq(zn_frame_decode(d2[0], (size_t)l2[0], NULL, &h), 0);
    cr_assert_eq(zn_reasm_add(&r, &h, d2[0] + ZN_FRAME_HDR_BYTES, 1, 100, &out), 0);
    cr_assert_eq(zn_frame_decode(d3[0], (size_t)l3[0], NULL, &h), 0);
    int rc = zn_reasm_add(&r, &h, d3[0] + ZN_FRAME_HDR_BYTES, 1, 100, &out);
    cr_assert(rc == ZN_ELIMIT || rc == ZN_EFULL, "rc %d", rc);
    cr_assert_leq(r.stats.bytes_in_use, 12000);
    cr_assert_eq(zn_reasm_expire(&r, 1000), 0, "not yet");
    cr_assert_eq(zn_reasm_expire(&r, 1101), 2);
    cr_assert_eq(r.stats.timeouts, 2);
    cr_assert_eq(r.stats.bytes_in_use, 0);
    /* the late last segment of message 1 now starts a new partial message, never completes */
    cr_assert_eq(zn_frame_decode(d[3], (size_t)l[3], NULL, &h), 0);
    cr_assert_eq(zn_reasm_add(&r, &h, d[3] + ZN_FRAME_HDR_BYTES, 1, 2000, &out), 0);
    cr_assert_eq(r.stats.completed, 0);
    zn_reasm_fini(&r);
    for (int i = 0; i < count; i++) {
        free(d[i]);
        free(d2[i]);
        free(d3[i]);
    }
    free(msg);
}

Test(reasm, inconsistent_segment_drops_partial)
{
    uint8_t *msg = calloc(1, 9000);
    uint8_t *d[8], *e[8];
    int l[8], m[8];
    split(msg, 5000, 5, d, l);
    split(msg, 9000, 5, e, m); /* same key, different length */
    struct zn_reasm r;
    cr_assert_eq(zn_reasm_init(&r, 4, 1u << 20, 1000), 0);
    struct zn_reasm_msg out;
    struct zn_frame_hdr h;
    cr_assert_eq(zn_frame_decode(d[0], (size_t)l[0], NULL, &h), 0);
    cr_assert_eq(zn_reasm_add(&r, &h, d[0] + ZN_FRAME_HDR_BYTES, 1, 0, &out), 0);
    cr_assert_eq(zn_frame_decode(e[1], (size_t)m[1], NULL, &h), 0);
    cr_assert_eq(zn_reasm_add(&r, &h, e[1] + ZN_FRAME_HDR_BYTES, 1, 0, &out), ZN_EPROTO);
    cr_assert_eq(r.stats.inconsistent, 1);
    cr_assert_eq(r.stats.slots_in_use, 0);
    cr_assert_eq(r.stats.bytes_in_use, 0);
    zn_reasm_fini(&r);
    for (int i = 0; i < 4; i++)
        free(d[i]);
    for (int i = 0; i < 7; i++)
        free(e[i]);
    free(msg);
}

Test(reasm, init_validates_arguments)
{
    struct zn_reasm r;
    cr_assert_eq(zn_reasm_init(&r, 0, 100, 1), ZN_EINVAL);
    cr_assert_eq(zn_reasm_init(&r, ZN_REASM_SLOTS_MAX + 1, 100, 1), ZN_EINVAL);
    cr_assert_eq(zn_reasm_init(&r, 1, ZN_REASM_BYTES_MAX + 1, 1), ZN_EINVAL);
    cr_assert_eq(zn_reasm_init(&r, 1, 100, 0), ZN_EINVAL);
}

/* Two clients both send as node 0 with msg_id 1: their messages must not mix. */
Test(reasm, same_ids_from_two_sources_stay_apart)
{
    uint8_t *m1 = malloc(3000), *m2 = malloc(3000);
    memset(m1, 0x11, 3000);
    memset(m2, 0x22, 3000);
    uint8_t *d1[4], *d2[4];
    int l1[4], l2[4];
    int count = split(m1, 3000, 1, d1, l1);
    split(m2, 3000, 1, d2, l2);
    struct zn_reasm r;
    cr_assert_eq(zn_reasm_init(&r, 4, 1u << 20, 1000), 0);
    struct zn_reasm_msg out;
    struct zn_frame_hdr h;
    int done = 0;
    for (int i = 0; i < count; i++) {
        cr_assert_eq(zn_frame_decode(d1[i], (size_t)l1[i], NULL, &h), 0);
        int rc = zn_reasm_add(&r, &h, d1[i] + ZN_FRAME_HDR_BYTES, 100, 0, &out);
        cr_assert_geq(rc, 0);
        if (rc == 1) {
            cr_assert_eq(memcmp(out.data, m1, 3000), 0);
            zn_reasm_msg_release(&r, &out);
            done++;
        }
        cr_assert_eq(zn_frame_decode(d2[i], (size_t)l2[i], NULL, &h), 0);
        rc = zn_reasm_add(&r, &h, d2[i] + ZN_FRAME_HDR_BYTES, 200, 0, &out);
        cr_assert_geq(rc, 0);
        if (rc == 1) {
            cr_assert_eq(memcmp(out.data, m2, 3000), 0);
            zn_reasm_msg_release(&r, &out);
            done++;
        }
    }
    cr_assert_eq(done, 2);
    cr_assert_eq(r.stats.inconsistent, 0);
    zn_reasm_fini(&r);
    for (int i = 0; i < count; i++) {
        free(d1[i]);
        free(d2[i]);
    }
    free(m1);
    free(m2);
}
