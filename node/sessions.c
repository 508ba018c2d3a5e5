/*
 * sessions.c - the node's session table (see sessions.h).
 *
 * Rows live in one open-addressing table with linear probing, sized at init to twice the
 * session limit (load factor <= 1/2, so probes stay short) and deleted by backward shift (no
 * tombstones, so lookups never degrade). Events come from one pool with a free list; each
 * session's events form a singly linked FIFO in number order.
 *
 * Invariants: count <= limit; a row is in the table iff id != 0 and flags != 0; an owned row's
 * event_count equals the length of its list and never exceeds per_session_events_max; the
 * numbers in a list are consecutive and all > event_acked.
 */
#include "node/sessions.h"

#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_limits.h"

#define ZN_NONE      UINT32_MAX
#define ZN_NS_PER_MS 1000000ull

static uint32_t zn_slot_of(const struct zn_sessions *t, uint64_t id)
{
    return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (t->capacity - 1);
}

int zn_sessions_init(struct zn_sessions *t, uint32_t max_sessions, uint32_t event_pool,
                     uint32_t per_session_events_max)
{
    memset(t, 0, sizeof(*t));
    if (max_sessions == 0 || max_sessions > ZN_SESSIONS_MAX || event_pool == 0 ||
        per_session_events_max == 0 || per_session_events_max > ZN_NODE_EVENTS_PER_SESSION_MAX)
        return ZN_EINVAL;
    uint32_t cap = 2;
    while (cap < 2u * max_sessions)
        cap <<= 1;
    t->rows = calloc(cap, sizeof(*t->rows));
    t->events = calloc(event_pool, sizeof(*t->events));
    if (!t->rows || !t->events) {
        zn_sessions_destroy(t);
        return ZN_ENOMEM;
    }
    t->capacity = cap;
    t->limit = max_sessions;
    t->event_capacity = event_pool;
    t->per_session_events_max = per_session_events_max;
    for (uint32_t i = 0; i < event_pool; i++)
        t->events[i].next = i + 1 < event_pool ? i + 1 : ZN_NONE;
    t->event_free = 0;
    return 0;
}

void zn_sessions_destroy(struct zn_sessions *t)
{
    free(t->rows);
    free(t->events);
    memset(t, 0, sizeof(*t));
}

struct zn_session_row *zn_sessions_find(struct zn_sessions *t, uint64_t id)
{
    if (id == 0 || !t->rows)
        return NULL;
    for (uint32_t i = zn_slot_of(t, id), n = 0; n < t->capacity;
         i = (i + 1) & (t->capacity - 1), n++) {
        if (t->rows[i].id == id)
            return &t->rows[i];
        if (t->rows[i].id == 0)
            return NULL;
    }
    return NULL;
}

static void zn_owned_reset(struct zn_session_row *r, uint64_t now_ns)
{
    r->last_heard_ns = now_ns;
    r->next_seq = 1;
    r->write_inflight = 0;
    r->last_zxid = 0;
    r->next_event = 1;
    r->event_acked = 0;
    r->event_count = 0;
    r->event_head = ZN_NONE;
    r->event_tail = ZN_NONE;
}

int zn_sessions_add(struct zn_sessions *t, uint64_t id, uint8_t flags, uint32_t timeout_ms,
                    uint64_t now_ns, struct zn_session_row **out)
{
    if (id == 0 || flags == 0 || (flags & ~(ZN_SESSIONS_F_OWNED | ZN_SESSIONS_F_TRACKED)))
        return ZN_EINVAL;
    struct zn_session_row *r = zn_sessions_find(t, id);
    if (!r) {
        if (t->count >= t->limit)
            return ZN_EFULL;
        uint32_t i = zn_slot_of(t, id);
        while (t->rows[i].id != 0)
            i = (i + 1) & (t->capacity - 1);
        r = &t->rows[i];
        memset(r, 0, sizeof(*r));
        r->id = id;
        r->event_head = r->event_tail = ZN_NONE;
        t->count++;
    }
    if ((flags & ZN_SESSIONS_F_OWNED) && !(r->flags & ZN_SESSIONS_F_OWNED))
        zn_owned_reset(r, now_ns);
    if ((flags & ZN_SESSIONS_F_TRACKED) && !(r->flags & ZN_SESSIONS_F_TRACKED))
        r->expire_at_ns = now_ns + (uint64_t)timeout_ms * ZN_NS_PER_MS;
    r->flags |= flags;
    r->timeout_ms = timeout_ms;
    if (out)
        *out = r;
    return 0;
}

static void zn_event_free(struct zn_sessions *t, uint32_t e)
{
    t->events[e].next = t->event_free;
    t->event_free = e;
    t->events_used--;
}

/* Pop events numbered <= upto from the head; their handles go to released (when not NULL, at
 * most max are popped, so no handle is lost: the caller calls again for the rest). */
static uint32_t zn_events_release(struct zn_sessions *t, struct zn_session_row *r, uint64_t upto,
                                  uint32_t *released, uint32_t max)
{
    uint32_t n = 0;
    while (r->event_head != ZN_NONE && t->events[r->event_head].number <= upto &&
           (!released || n < max)) {
        uint32_t e = r->event_head;
        if (released)
            released[n] = t->events[e].handle;
        n++;
        r->event_head = t->events[e].next;
        r->event_count--;
        zn_event_free(t, e);
    }
    if (r->event_head == ZN_NONE)
        r->event_tail = ZN_NONE;
    return n;
}

int zn_sessions_drop(struct zn_sessions *t, uint64_t id, uint8_t flags, uint32_t *released,
                     uint32_t max_released, uint32_t *n_released)
{
    struct zn_session_row *r = zn_sessions_find(t, id);
    if (n_released)
        *n_released = 0;
    if (!r)
        return ZN_ENOENT;
    if ((flags & ZN_SESSIONS_F_OWNED) && (r->flags & ZN_SESSIONS_F_OWNED)) {
        if (released && max_released < r->event_count)
            return ZN_ELIMIT;
        uint32_t n = zn_events_release(t, r, UINT64_MAX, released, max_released);
        if (n_released)
            *n_released = n;
        r->flags &= (uint8_t) ~(ZN_SESSIONS_F_OWNED | ZN_SESSIONS_F_HEARD);
    }
    r->flags &= (uint8_t) ~(flags & ZN_SESSIONS_F_TRACKED);
    if (r->flags & (ZN_SESSIONS_F_OWNED | ZN_SESSIONS_F_TRACKED))
        return 0;
    /* Backward-shift deletion: move later rows of the probe run into the hole. */
    uint32_t hole = (uint32_t)(r - t->rows);
    uint32_t i = hole;
    for (;;) {
        i = (i + 1) & (t->capacity - 1);
        if (t->rows[i].id == 0)
            break;
        uint32_t home = zn_slot_of(t, t->rows[i].id);
        /* Row i may move to the hole if its home is not in (hole, i] (cyclically). */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            t->rows[hole] = t->rows[i];
            hole = i;
        }
    }
    memset(&t->rows[hole], 0, sizeof(t->rows[hole]));
    t->count--;
    return 0;
}

void zn_sessions_heard(struct zn_sessions *t, struct zn_session_row *row, uint64_t now_ns)
{
    (void)t;
    ZN_ASSERT(row->flags & ZN_SESSIONS_F_OWNED);
    if (now_ns > row->last_heard_ns)
        row->last_heard_ns = now_ns;
    row->flags |= ZN_SESSIONS_F_HEARD;
}

uint32_t zn_sessions_touch_collect(struct zn_sessions *t, uint64_t now_ns, uint64_t *ids,
                                   uint32_t *ages_ms, uint32_t max, uint32_t *cursor)
{
    uint32_t n = 0;
    uint32_t i = *cursor & (t->capacity - 1);
    for (uint32_t seen = 0; seen < t->capacity && n < max; seen++) {
        struct zn_session_row *r = &t->rows[i];
        if (r->id && (r->flags & ZN_SESSIONS_F_HEARD)) {
            uint64_t age = now_ns > r->last_heard_ns ? now_ns - r->last_heard_ns : 0;
            uint64_t age_ms = age / ZN_NS_PER_MS;
            ids[n] = r->id;
            ages_ms[n] = age_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)age_ms;
            r->flags &= (uint8_t)~ZN_SESSIONS_F_HEARD;
            n++;
        }
        i = (i + 1) & (t->capacity - 1);
    }
    *cursor = i;
    return n;
}

void zn_sessions_track_reset(struct zn_sessions *t, uint64_t now_ns)
{
    for (uint32_t i = 0; i < t->capacity; i++) {
        struct zn_session_row *r = &t->rows[i];
        if (r->id && (r->flags & ZN_SESSIONS_F_TRACKED))
            r->expire_at_ns = now_ns + (uint64_t)r->timeout_ms * ZN_NS_PER_MS;
    }
}

int zn_sessions_track_touch(struct zn_sessions *t, uint64_t id, uint32_t age_ms, uint64_t now_ns)
{
    struct zn_session_row *r = zn_sessions_find(t, id);
    if (!r || !(r->flags & ZN_SESSIONS_F_TRACKED))
        return ZN_ENOENT;
    uint64_t heard = (uint64_t)age_ms * ZN_NS_PER_MS;
    heard = now_ns > heard ? now_ns - heard : 0;
    uint64_t deadline = heard + (uint64_t)r->timeout_ms * ZN_NS_PER_MS;
    if (deadline > r->expire_at_ns)
        r->expire_at_ns = deadline;
    return 0;
}

uint32_t zn_sessions_track_expired(struct zn_sessions *t, uint64_t now_ns, uint64_t *ids,
                                   uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->capacity && n < max; i++) {
        struct zn_session_row *r = &t->rows[i];
        if (r->id && (r->flags & ZN_SESSIONS_F_TRACKED) && r->expire_at_ns <= now_ns) {
            ids[n++] = r->id;
            r->expire_at_ns = now_ns + (uint64_t)r->timeout_ms * ZN_NS_PER_MS;
        }
    }
    return n;
}

int64_t zn_sessions_event_push(struct zn_sessions *t, struct zn_session_row *row, uint64_t zxid,
                               uint32_t handle)
{
    if (!(row->flags & ZN_SESSIONS_F_OWNED))
        return ZN_EINVAL;
    if (row->event_count >= t->per_session_events_max || t->event_free == ZN_NONE)
        return ZN_EFULL;
    uint32_t e = t->event_free;
    t->event_free = t->events[e].next;
    t->events_used++;
    struct zn_session_event *ev = &t->events[e];
    ev->number = row->next_event++;
    ev->zxid = zxid;
    ev->sent_ns = 0;
    ev->handle = handle;
    ev->next = ZN_NONE;
    if (row->event_tail == ZN_NONE)
        row->event_head = e;
    else
        t->events[row->event_tail].next = e;
    row->event_tail = e;
    row->event_count++;
    return (int64_t)ev->number;
}

uint32_t zn_sessions_event_ack(struct zn_sessions *t, struct zn_session_row *row, uint64_t upto,
                               uint32_t *released, uint32_t max)
{
    if (!(row->flags & ZN_SESSIONS_F_OWNED))
        return 0;
    /* An ack beyond what was pushed is a client bug or forgery: cap it. */
    if (upto >= row->next_event)
        upto = row->next_event - 1;
    if (upto > row->event_acked)
        row->event_acked = upto;
    return zn_events_release(t, row, row->event_acked, released, max);
}

uint32_t zn_sessions_event_due(struct zn_sessions *t, struct zn_session_row *row, uint64_t now_ns,
                               uint64_t rto_ns, uint32_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t e = row->event_head; e != ZN_NONE && n < max; e = t->events[e].next) {
        struct zn_session_event *ev = &t->events[e];
        if (ev->sent_ns == 0 || (now_ns > ev->sent_ns && now_ns - ev->sent_ns >= rto_ns)) {
            ev->sent_ns = now_ns ? now_ns : 1;
            out[n++] = ev->handle;
        }
    }
    return n;
}

int zn_sessions_reconnect_check(bool session_known, uint64_t client_zxid, uint64_t applied_zxid)
{
    if (!session_known)
        return ZN_ENOENT;
    if (client_zxid > applied_zxid)
        return ZN_EAGAIN;
    return 0;
}

uint64_t zn_sessions_event_oldest_zxid(const struct zn_sessions *t,
                                       const struct zn_session_row *row)
{
    if (!(row->flags & ZN_SESSIONS_F_OWNED) || row->event_head == ZN_NONE)
        return 0;
    return t->events[row->event_head].zxid;
}
