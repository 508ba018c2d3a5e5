/*
 * The completion queue of the network targets (perf/zinc-perf/zp_cq.h): every pushed item is
 * delivered once, in push order, from poll only; a callback that pushes lands in the next poll;
 * a threaded queue's poll wakes when another thread pushes and gives up after its timeout with
 * nothing; event paths are truncated to the event buffer and always terminated.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "perf/zinc-perf/zp_cq.h"

#define N_ITEMS 1000 /* more than the first buffer (256): the queue must grow */

struct seen {
    int done[N_ITEMS];
    int n_done;
    int n_events;
    struct zp_event last_ev;
    struct zp_cq *q; /* for the callback that pushes */
};

static void on_done(void *arg, const struct zp_result *res)
{
    struct seen *s = arg;
    cr_assert_lt(s->n_done, N_ITEMS);
    s->done[s->n_done++] = (int)res->count;
}

static void on_event(void *arg, const struct zp_event *ev)
{
    struct seen *s = arg;
    s->n_events++;
    s->last_ev = *ev;
}

static void push_n(struct zp_cq *q, struct seen *s, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        struct zp_result res = {
            .done_ns = (uint64_t)i, .err = 0, .native_rc = 0, .count = (uint32_t)i};
        zp_cq_push_done(q, on_done, s, &res);
    }
}

Test(zp_cq, single_threaded_delivers_once_in_order)
{
    struct zp_cq q;
    struct seen s;
    memset(&s, 0, sizeof(s));
    zp_cq_init(&q, false);
    cr_assert_eq(zp_cq_poll(&q, 0), 0, "empty queue delivers nothing");
    push_n(&q, &s, 0, N_ITEMS);
    cr_assert_eq(s.n_done, 0, "nothing runs before poll");
    cr_assert_eq(zp_cq_pending(&q), N_ITEMS);
    cr_assert_eq(zp_cq_poll(&q, 0), N_ITEMS);
    cr_assert_eq(zp_cq_pending(&q), 0);
    for (int i = 0; i < N_ITEMS; i++) {
        cr_assert_eq(s.done[i], i, "item %d delivered as %d", i, s.done[i]);
    }
    cr_assert_eq(zp_cq_poll(&q, 0), 0, "delivered items are not delivered again");
    cr_assert_eq(s.n_done, N_ITEMS);
    zp_cq_fini(&q);
}

static void on_done_push(void *arg, const struct zp_result *res)
{
    struct seen *s = arg;
    on_done(arg, res);
    if (res->count < 3) { /* each of the first three pushes a follower */
        struct zp_result next = *res;
        next.count += 100;
        zp_cq_push_done(s->q, on_done, s, &next);
    }
}

Test(zp_cq, push_from_a_callback_lands_in_the_next_poll)
{
    struct zp_cq q;
    struct seen s;
    memset(&s, 0, sizeof(s));
    s.q = &q;
    zp_cq_init(&q, false);
    for (uint32_t i = 0; i < 5; i++) {
        struct zp_result res = {.count = i};
        zp_cq_push_done(&q, on_done_push, &s, &res);
    }
    cr_assert_eq(zp_cq_poll(&q, 0), 5);
    cr_assert_eq(zp_cq_pending(&q), 3);
    cr_assert_eq(zp_cq_poll(&q, 0), 3);
    cr_assert_eq(s.n_done, 8);
    cr_assert_eq(s.done[5], 100);
    cr_assert_eq(s.done[7], 102);
    zp_cq_fini(&q);
}

Test(zp_cq, event_path_truncated_and_terminated)
{
    struct zp_cq q;
    struct seen s;
    memset(&s, 0, sizeof(s));
    zp_cq_init(&q, false);
    char long_path[400];
    memset(long_path, 'a', sizeof(long_path));
    zp_cq_push_event(&q, on_event, &s, 7, ZP_EV_CHANGED, long_path, sizeof(long_path));
    cr_assert_eq(zp_cq_poll(&q, 0), 1);
    cr_assert_eq(s.n_events, 1);
    cr_assert_eq(s.last_ev.at_ns, 7);
    cr_assert_eq(s.last_ev.type, ZP_EV_CHANGED);
    cr_assert_eq(strlen(s.last_ev.path), sizeof(s.last_ev.path) - 1);
    zp_cq_push_event(&q, on_event, &s, 8, ZP_EV_CHILD, "/x/yz", 2); /* not NUL-terminated at 2 */
    zp_cq_push_event(&q, on_event, &s, 9, ZP_EV_SESSION_EXPIRED, NULL, 0);
    cr_assert_eq(zp_cq_poll(&q, 0), 2);
    cr_assert_eq(s.n_events, 3);
    cr_assert_str_eq(s.last_ev.path, "");
    cr_assert_eq(s.last_ev.type, ZP_EV_SESSION_EXPIRED);
    zp_cq_fini(&q);
}

struct producer {
    struct zp_cq *q;
    struct seen *s;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    usleep(20000); /* let the consumer block in poll first */
    push_n(p->q, p->s, 0, N_ITEMS);
    return NULL;
}

Test(zp_cq, threaded_poll_wakes_on_push_and_times_out_empty)
{
    struct zp_cq q;
    struct seen s;
    memset(&s, 0, sizeof(s));
    zp_cq_init(&q, true);
    cr_assert_eq(zp_cq_poll(&q, 1000000), 0, "1 ms with no producer: nothing");
    struct producer p = {.q = &q, .s = &s};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, produce, &p), 0);
    /* Bounded: at most 60 s worth of 1 s polls, far beyond the producer's 20 ms. */
    for (int round = 0; round < 60 && s.n_done < N_ITEMS; round++) {
        int n = zp_cq_poll(&q, 1000000000ull);
        cr_assert_geq(n, 0);
    }
    pthread_join(t, NULL);
    (void)zp_cq_poll(&q, 0);
    cr_assert_eq(s.n_done, N_ITEMS, "delivered %d of %d", s.n_done, N_ITEMS);
    for (int i = 0; i < N_ITEMS; i++) {
        cr_assert_eq(s.done[i], i, "item %d delivered as %d", i, s.done[i]);
    }
    zp_cq_fini(&q);
}
