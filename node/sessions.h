/*
 * sessions.h - the node's session table: liveness, expiry, request order and event queues.
 *
 * Every zincd keeps one table (owned by the data-plane lcore; the management thread only sees
 * counts through control messages, STYLE.md 5). A row exists for
 *   - each session whose client is connected to this node (owned): last-heard time, the next
 *     request sequence expected (FIFO, proto/session.h zn_sess_window_classify), the last zxid
 *     the client saw, and its queue of watch events numbered per session and held until acked;
 *   - on the leader, every session of the replicated state (tracked): its timeout and the
 *     deadline by which a touch must arrive, else the leader proposes SESSION_CLOSE(expired).
 * A session can be both (a client connected to the leader).
 *
 * Liveness (ZooKeeper's SessionTracker, learner pings): a node notes the time it last heard each
 * owned client; zn_sessions_touch_collect gathers the owned sessions heard since the previous
 * batch with their ages, which the node sends to the leader as a TOUCH (node/nodemsg.h). The
 * leader applies touches with zn_sessions_track_touch; a new leader calls
 * zn_sessions_track_reset so that every session gets a fresh full timeout (a client cannot be
 * expired for the silence of an election).
 *
 * Events: zn_sessions_event_push numbers an event (1, 2, ...) and queues it until the client acks
 * it (zn_sessions_event_ack); at most ZN_NODE_EVENTS_PER_SESSION_MAX are held per session and
 * the pool is shared, bounded at init. ZN_EFULL from push means the session must be closed (its
 * client is not reading). zn_sessions_event_due lists the events to (re)send now.
 *
 * Memory: allocated once at zn_sessions_init (capacity rows, event pool); nothing after.
 * Context: a single thread (the lcore that owns the table). Times are monotonic ns.
 */
#ifndef ZN_NODE_SESSIONS_H
#define ZN_NODE_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/session.h"

#define ZN_SESSIONS_F_OWNED   0x01u
#define ZN_SESSIONS_F_TRACKED 0x02u
#define ZN_SESSIONS_F_HEARD   0x04u /* heard since the last TOUCH batch */

struct zn_session_row {
    uint64_t id; /* 0 = free slot */
    uint8_t flags;
    uint32_t timeout_ms;
    uint8_t passwd[16]; /* from the SESSION_CREATE entry (the caller fills it) */
    /* owned */
    uint32_t client_ip; /* where the client was last heard from (host order) */
    uint16_t client_port;
    uint64_t epoch;    /* connection attempt number of the current connection (CONNECT.ack) */
    uint8_t nonce[16]; /* the new-session CONNECT's nonce (dedups its retransmissions) */
    uint64_t last_heard_ns;
    uint64_t next_seq;       /* next request sequence to take (starts at 1) */
    uint64_t write_inflight; /* seq of the write forwarded/proposed and not applied yet, 0 */
    uint64_t last_zxid;
    uint64_t next_event;  /* number of the next event pushed (starts at 1) */
    uint64_t event_acked; /* highest event number the client acked */
    uint32_t event_count; /* queued, unacked events */
    uint32_t event_head;  /* index in the pool, UINT32_MAX when empty */
    uint32_t event_tail;
    /* tracked (leader) */
    uint64_t expire_at_ns;
};

struct zn_session_event {
    uint64_t number;
    uint64_t zxid;
    uint64_t sent_ns; /* 0 = never sent */
    uint32_t handle;  /* the caller's reference to the encoded event */
    uint32_t next;    /* pool link */
};

struct zn_sessions {
    struct zn_session_row *rows;
    uint32_t capacity; /* power of two, twice the sessions allowed */
    uint32_t limit;    /* sessions allowed */
    uint32_t count;
    struct zn_session_event *events;
    uint32_t event_capacity;
    uint32_t event_free; /* free-list head */
    uint32_t events_used;
    uint32_t per_session_events_max;
};

/* Allocate room for max_sessions sessions and event_pool queued events in total. ZN_EINVAL for
 * zero sizes or more than ZN_SESSIONS_MAX sessions, ZN_ENOMEM. */
int zn_sessions_init(struct zn_sessions *t, uint32_t max_sessions, uint32_t event_pool,
                     uint32_t per_session_events_max);
void zn_sessions_destroy(struct zn_sessions *t);

struct zn_session_row *zn_sessions_find(struct zn_sessions *t, uint64_t id);

/*
 * Add flags (OWNED or TRACKED) to session id, creating its row if needed. For OWNED the row's
 * request and event state starts fresh when it was not owned before (a client reconnecting to
 * this node continues with its own next_seq: the caller sets it). Errors: ZN_EINVAL (id 0 or
 * unknown flags), ZN_EFULL (table full).
 */
int zn_sessions_add(struct zn_sessions *t, uint64_t id, uint8_t flags, uint32_t timeout_ms,
                    uint64_t now_ns, struct zn_session_row **out);

/* Drop flags from a session; the row (and its queued events, whose handles are written to
 * released[0..*n_released) when released is not NULL, up to max_released) goes when no flag
 * is left. Returns 0, ZN_ENOENT, or ZN_ELIMIT (nothing done: released cannot hold the
 * session's queued events). */
int zn_sessions_drop(struct zn_sessions *t, uint64_t id, uint8_t flags, uint32_t *released,
                     uint32_t max_released, uint32_t *n_released);

/* An owned session's client was heard at now_ns (any valid message). */
void zn_sessions_heard(struct zn_sessions *t, struct zn_session_row *row, uint64_t now_ns);

/*
 * Gather up to max owned sessions heard since the previous batch into ids/ages_ms (age =
 * now - last heard, in ms) and clear their HEARD flag; *cursor makes a full table walk resume
 * across calls (start at 0). Returns the count.
 */
uint32_t zn_sessions_touch_collect(struct zn_sessions *t, uint64_t now_ns, uint64_t *ids,
                                   uint32_t *ages_ms, uint32_t max, uint32_t *cursor);

/* Leader: give every tracked session a full timeout from now (on becoming leader). */
void zn_sessions_track_reset(struct zn_sessions *t, uint64_t now_ns);
/* Leader: session id was heard age_ms before now. Later deadlines only. Returns 0 or
 * ZN_ENOENT (not tracked: the caller ignores the touch of an unknown or closed session). */
int zn_sessions_track_touch(struct zn_sessions *t, uint64_t id, uint32_t age_ms, uint64_t now_ns);
/* Leader: up to max tracked sessions whose deadline passed; each is given a fresh deadline one
 * timeout later, so a SESSION_CLOSE that fails to commit is proposed again, not every tick. */
uint32_t zn_sessions_track_expired(struct zn_sessions *t, uint64_t now_ns, uint64_t *ids,
                                   uint32_t max);

/* Queue event `handle` of zxid for an owned session; returns its number, or ZN_EFULL when the
 * session's queue or the pool is full (the caller closes the session), ZN_EINVAL if not owned. */
int64_t zn_sessions_event_push(struct zn_sessions *t, struct zn_session_row *row, uint64_t zxid,
                               uint32_t handle);
/* The client acked events up to `upto` (capped at the last pushed); the handles of forgotten
 * events are written to released, at most max per call (call again while it returns max);
 * returns how many were released. */
uint32_t zn_sessions_event_ack(struct zn_sessions *t, struct zn_session_row *row, uint64_t upto,
                               uint32_t *released, uint32_t max);
/* Events of row to (re)send at now_ns: never sent, or sent more than rto_ns ago; marks them
 * sent. Writes their handles (in number order) to out, at most max. */
uint32_t zn_sessions_event_due(struct zn_sessions *t, struct zn_session_row *row, uint64_t now_ns,
                               uint64_t rto_ns, uint32_t *out, uint32_t max);

/* zxid of the oldest unacknowledged event of row (0: none). Events are queued in zxid order. */
uint64_t zn_sessions_event_oldest_zxid(const struct zn_sessions *t,
                                       const struct zn_session_row *row);

/* Timeout the node grants: requested clamped to [min_ms, max_ms] (ZooKeeper's rule). */
static inline uint32_t zn_sessions_clamp_timeout(uint32_t requested, uint32_t min_ms,
                                                 uint32_t max_ms)
{
    return requested < min_ms ? min_ms : requested > max_ms ? max_ms : requested;
}

/*
 * ZooKeeper's reconnect rule: a client that saw zxid client_zxid may only attach to a node that
 * has applied at least that much (else it could read older data than it saw); and a session the
 * replicated state does not know (never created, closed or expired) is refused as expired.
 * Returns 0 (accept), ZN_EAGAIN (node behind: the client tries another node) or ZN_ENOENT
 * (session expired/unknown).
 */
int zn_sessions_reconnect_check(bool session_known, uint64_t client_zxid, uint64_t applied_zxid);

#endif /* ZN_NODE_SESSIONS_H */
