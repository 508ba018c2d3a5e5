/*
 * proto/reasm.c - bounded reassembly of segmented messages (see reasm.h).
 *
 * Invariants:
 *  - stats.bytes_in_use == sum of buffers held by slots plus buffers handed out and not yet
 *    released, and never exceeds bytes_max;
 *  - a slot in use holds a message with seg_count >= 2, received <= seg_count, and its bitmap
 *    has exactly `received` bits set;
 *  - every segment added to a slot agrees with the slot on msg_len and seg_count (zn_frame_decode
 *    already proved the segment self-consistent), so copying it at seg_index * SEG stays inside
 *    the buffer.
 * Lookup is linear over the slots: only multi-segment messages (large writes, snapshots) come
 * here and the table is small (ZN_REASM_SLOTS_MAX).
 */
#include "proto/reasm.h"

#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"

struct zn_reasm_slot {
    uint8_t *buf; /* msg_len bytes of message, then the bitmap; NULL when the slot is free */
    uint64_t source;
    uint64_t msg_id;
    uint64_t first_ns;
    uint32_t msg_len;
    uint32_t buf_bytes;
    uint16_t seg_count;
    uint16_t received;
    uint8_t sender;
    uint8_t type;
    struct zn_frame_hdr last;
};

static uint32_t bitmap_bytes(uint32_t seg_count)
{
    return (seg_count + 7) / 8;
}

int zn_reasm_init(struct zn_reasm *r, uint32_t slots, uint64_t bytes_max, uint64_t timeout_ns)
{
    memset(r, 0, sizeof(*r));
    if (slots == 0 || slots > ZN_REASM_SLOTS_MAX || bytes_max == 0 ||
        bytes_max > ZN_REASM_BYTES_MAX || timeout_ns == 0)
        return ZN_EINVAL;
    r->slots = calloc(slots, sizeof(*r->slots));
    if (r->slots == NULL)
        return ZN_ENOMEM;
    r->slot_count = slots;
    r->bytes_max = bytes_max;
    r->timeout_ns = timeout_ns;
    return 0;
}

static void slot_drop(struct zn_reasm *r, struct zn_reasm_slot *s)
{
    ZN_ASSERT(s->buf != NULL);
    ZN_ASSERT(r->stats.bytes_in_use >= s->buf_bytes && r->stats.slots_in_use > 0);
    r->stats.bytes_in_use -= s->buf_bytes;
    r->stats.slots_in_use--;
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

void zn_reasm_fini(struct zn_reasm *r)
{
    if (r->slots == NULL)
        return;
    for (uint32_t i = 0; i < r->slot_count; i++) {
        if (r->slots[i].buf != NULL)
            slot_drop(r, &r->slots[i]);
    }
    free(r->slots);
    r->slots = NULL;
}

static struct zn_reasm_slot *slot_find(struct zn_reasm *r, const struct zn_frame_hdr *h,
                                       uint64_t source, struct zn_reasm_slot **free_slot)
{
    *free_slot = NULL;
    for (uint32_t i = 0; i < r->slot_count; i++) {
        struct zn_reasm_slot *s = &r->slots[i];
        if (s->buf == NULL) {
            if (*free_slot == NULL)
                *free_slot = s;
            continue;
        }
        if (s->msg_id == h->msg_id && s->source == source && s->sender == h->sender &&
            s->type == h->type)
            return s;
    }
    return NULL;
}

int zn_reasm_add(struct zn_reasm *r, const struct zn_frame_hdr *h, const uint8_t *payload,
                 uint64_t source, uint64_t now_ns, struct zn_reasm_msg *out)
{
    ZN_ASSERT(r->slots != NULL && h != NULL && out != NULL);
    ZN_ASSERT(h->seg_count == zn_frame_seg_count(h->msg_len) && h->seg_index < h->seg_count);
    ZN_ASSERT(h->payload_len == zn_frame_seg_len(h->msg_len, h->seg_index));
    if (h->seg_count == 1) {
        out->hdr = *h;
        out->data = (uint8_t *)(uintptr_t)payload;
        out->len = h->payload_len;
        out->owned_bytes_ = 0;
        return 1;
    }
    struct zn_reasm_slot *free_slot;
    struct zn_reasm_slot *s = slot_find(r, h, source, &free_slot);
    if (s != NULL && (s->msg_len != h->msg_len || s->seg_count != h->seg_count)) {
        r->stats.inconsistent++;
        slot_drop(r, s);
        return ZN_EPROTO;
    }
    if (s == NULL) {
        if (free_slot == NULL) {
            r->stats.no_slot++;
            return ZN_EFULL;
        }
        uint64_t need = (uint64_t)h->msg_len + bitmap_bytes(h->seg_count);
        if (r->stats.bytes_in_use + need > r->bytes_max) {
            r->stats.over_budget++;
            return ZN_ELIMIT;
        }
        s = free_slot;
        s->buf = malloc(need);
        if (s->buf == NULL)
            return ZN_ENOMEM;
        memset(s->buf + h->msg_len, 0, bitmap_bytes(h->seg_count));
        s->buf_bytes = (uint32_t)need;
        s->msg_id = h->msg_id;
        s->source = source;
        s->sender = h->sender;
        s->type = h->type;
        s->msg_len = h->msg_len;
        s->seg_count = h->seg_count;
        s->received = 0;
        s->first_ns = now_ns;
        r->stats.bytes_in_use += need;
        r->stats.slots_in_use++;
    }
    uint8_t *bitmap = s->buf + s->msg_len;
    uint8_t bit = (uint8_t)(1u << (h->seg_index % 8));
    if (bitmap[h->seg_index / 8] & bit) {
        r->stats.duplicates++;
        return 0;
    }
    bitmap[h->seg_index / 8] |= bit;
    size_t off = (size_t)h->seg_index * ZN_FRAME_SEG_BYTES;
    ZN_ASSERT(off + h->payload_len <= s->msg_len);
    memcpy(s->buf + off, payload, h->payload_len);
    s->received++;
    s->last = *h;
    r->stats.segments++;
    if (s->received < s->seg_count)
        return 0;
    /* Complete: the buffer (and its budget charge) moves to the caller. */
    out->hdr = s->last;
    out->data = s->buf;
    out->len = s->msg_len;
    out->owned_bytes_ = s->buf_bytes;
    r->stats.slots_in_use--;
    r->stats.completed++;
    memset(s, 0, sizeof(*s));
    return 1;
}

void zn_reasm_msg_release(struct zn_reasm *r, struct zn_reasm_msg *msg)
{
    if (msg->owned_bytes_ == 0)
        return;
    ZN_ASSERT(r->stats.bytes_in_use >= msg->owned_bytes_);
    r->stats.bytes_in_use -= msg->owned_bytes_;
    free(msg->data);
    msg->data = NULL;
    msg->owned_bytes_ = 0;
}

uint32_t zn_reasm_expire(struct zn_reasm *r, uint64_t now_ns)
{
    uint32_t dropped = 0;
    for (uint32_t i = 0; i < r->slot_count; i++) {
        struct zn_reasm_slot *s = &r->slots[i];
        if (s->buf != NULL && now_ns - s->first_ns > r->timeout_ns) {
            slot_drop(r, s);
            r->stats.timeouts++;
            dropped++;
        }
    }
    return dropped;
}
