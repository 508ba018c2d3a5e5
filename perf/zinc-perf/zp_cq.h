/*
 * zp_cq.h - the completion queue every network target of zinc-perf hands its completions and
 * events to the engine through (zp_target.h contract: callbacks run only from inside poll, on
 * the engine thread).
 *
 * A target's client owns one queue. Producers append a completion (stamped with the time the
 * target first saw the reply) or an event; zp_cq_poll() swaps the pending buffer with a spare one
 * and runs the callbacks without holding anything, so a callback may submit new requests whose
 * completions land in the next poll. The two buffers grow by doubling and are reused: a steady
 * run allocates nothing. A failed growth aborts: dropping a completion would hang the engine.
 *
 * Two modes, chosen at init:
 *  - threaded (libzinc's I/O thread, libzookeeper-mt's completion thread produce): pushes take a
 *    mutex and signal a condition variable on CLOCK_MONOTONIC; poll waits up to its timeout for
 *    the first item;
 *  - single-threaded (the DPDK target: its poll drives the port and pushes on the same thread):
 *    no lock; poll never waits (the caller runs its own receive loop until zp_cq_pending() or
 *    its deadline).
 */
#ifndef ZP_CQ_H
#define ZP_CQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "perf/zinc-perf/zp_target.h"

struct zp_cq_item {
    bool is_event;
    zp_done_fn done;      /* completions */
    zp_event_fn on_event; /* events */
    void *arg;
    struct zp_result res;
    struct zp_event ev;
};

struct zp_cq {
    bool threaded;
    pthread_mutex_t lock;     /* threaded only: guards items/len/cap */
    pthread_cond_t cond;      /* threaded only: signalled on every push */
    struct zp_cq_item *items; /* pending deliveries */
    size_t len;
    size_t cap;
    struct zp_cq_item *spare; /* the delivery buffer (poll's thread only) */
    size_t spare_cap;
};

/* Initialise q (threaded: producers on other threads). Cannot fail. */
void zp_cq_init(struct zp_cq *q, bool threaded);
/* Free q's buffers; undelivered items are dropped. No producer may be running. */
void zp_cq_fini(struct zp_cq *q);

/* Queue the completion of one request: done(arg, res) runs in a later poll. Any thread (a
 * single-threaded queue: the poll thread only). */
void zp_cq_push_done(struct zp_cq *q, zp_done_fn done, void *arg, const struct zp_result *res);

/* Queue an event: on_event(arg, ev) runs in a later poll. path (path_len bytes, need not be
 * NUL-terminated; NULL for none) is truncated to the event's path buffer. Threads: as above. */
void zp_cq_push_event(struct zp_cq *q, zp_event_fn on_event, void *arg, uint64_t at_ns,
                      enum zp_event_type type, const char *path, size_t path_len);

/* Items waiting for the next poll (single-threaded queue; a threaded one reads it unlocked, as a
 * hint only). */
size_t zp_cq_pending(const struct zp_cq *q);

/* Deliver every pending item through its callback on the caller's thread; a threaded queue first
 * waits up to timeout_ns for one to arrive (0: no wait). Returns the number delivered. */
int zp_cq_poll(struct zp_cq *q, uint64_t timeout_ns);

/* Helpers for waits on CLOCK_MONOTONIC condition variables (the queue's and a target's own). */
void zp_cond_init_monotonic(pthread_cond_t *cond);
/* The absolute CLOCK_MONOTONIC time timeout_ns from now, for pthread_cond_timedwait. */
void zp_deadline_ts(struct timespec *ts, uint64_t timeout_ns);

#endif /* ZP_CQ_H */
