/*
 * zp_cq.c - the completion queue shared by the zookeeper, zinc and zinc-dpdk targets
 * (zp_cq.h).
 *
 * Invariants: an item pushed is delivered exactly once, by the first poll that starts after the
 * push returned (or dropped by zp_cq_fini); items are delivered in push order; items and spare
 * are never the same buffer, so a callback that pushes (a submit failing, a new request) writes
 * into items while poll walks the batch it swapped out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_clock.h"
#include "perf/zinc-perf/zp_cq.h"

void zp_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

void zp_deadline_ts(struct timespec *ts, uint64_t timeout_ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t ns = (uint64_t)ts->tv_nsec + timeout_ns % ZN_NS_PER_S;
    ts->tv_sec += (time_t)(timeout_ns / ZN_NS_PER_S + ns / ZN_NS_PER_S);
    ts->tv_nsec = (long)(ns % ZN_NS_PER_S);
}

void zp_cq_init(struct zp_cq *q, bool threaded)
{
    memset(q, 0, sizeof(*q));
    q->threaded = threaded;
    if (threaded) {
        pthread_mutex_init(&q->lock, NULL);
        zp_cond_init_monotonic(&q->cond);
    }
}

void zp_cq_fini(struct zp_cq *q)
{
    if (q->threaded) {
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->cond);
    }
    free(q->items);
    free(q->spare);
    q->items = NULL;
    q->spare = NULL;
    q->len = q->cap = q->spare_cap = 0;
}

static void cq_push(struct zp_cq *q, const struct zp_cq_item *item)
{
    if (q->threaded) {
        pthread_mutex_lock(&q->lock);
    }
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct zp_cq_item *grown = realloc(q->items, cap * sizeof(*grown));
        if (grown == NULL) {
            /* Cannot queue: losing a completion would hang the engine, so stop loudly. */
            fprintf(stderr, "zinc-perf: out of memory queueing a completion\n");
            abort();
        }
        q->items = grown;
        q->cap = cap;
    }
    q->items[q->len++] = *item;
    if (q->threaded) {
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
}

void zp_cq_push_done(struct zp_cq *q, zp_done_fn done, void *arg, const struct zp_result *res)
{
    struct zp_cq_item item;
    memset(&item, 0, sizeof(item));
    item.done = done;
    item.arg = arg;
    item.res = *res;
    cq_push(q, &item);
}

void zp_cq_push_event(struct zp_cq *q, zp_event_fn on_event, void *arg, uint64_t at_ns,
                      enum zp_event_type type, const char *path, size_t path_len)
{
    struct zp_cq_item item;
    memset(&item, 0, sizeof(item));
    item.is_event = true;
    item.on_event = on_event;
    item.arg = arg;
    item.ev.at_ns = at_ns;
    item.ev.type = type;
    if (path != NULL) {
        if (path_len >= sizeof(item.ev.path)) {
            path_len = sizeof(item.ev.path) - 1;
        }
        memcpy(item.ev.path, path, path_len); /* memset left the terminator */
    }
    cq_push(q, &item);
}

size_t zp_cq_pending(const struct zp_cq *q)
{
    return q->len;
}

int zp_cq_poll(struct zp_cq *q, uint64_t timeout_ns)
{
    if (q->threaded) {
        pthread_mutex_lock(&q->lock);
        if (q->len == 0 && timeout_ns > 0) {
            struct timespec ts;
            zp_deadline_ts(&ts, timeout_ns);
            while (q->len == 0) {
                if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT) {
                    break;
                }
            }
        }
    }
    /* Swap buffers so callbacks run without the lock (they may submit new requests). */
    struct zp_cq_item *batch = q->items;
    size_t batch_cap = q->cap;
    size_t n = q->len;
    q->items = q->spare;
    q->cap = q->spare_cap;
    q->len = 0;
    if (q->threaded) {
        pthread_mutex_unlock(&q->lock);
    }

    for (size_t i = 0; i < n; i++) {
        const struct zp_cq_item *it = &batch[i];
        if (it->is_event) {
            it->on_event(it->arg, &it->ev);
        } else {
            it->done(it->arg, &it->res);
        }
    }
    /* The delivered buffer becomes the next spare; callbacks may have grown q->items. */
    q->spare = batch;
    q->spare_cap = batch_cap;
    return (int)n;
}
