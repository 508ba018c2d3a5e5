/* The node's session table: table operations against a reference model, TOUCH batches, leader
 * expiry (fresh timeout for a new leader, touches move deadlines), bounded event queues with
 * ack and retransmission, timeout clamping and the reconnect rule. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "node/sessions.h"

#define MS 1000000ull

Test(sessions, table_matches_a_reference_model_under_random_add_and_drop)
{
    struct zn_sessions t;
    cr_assert_eq(zn_sessions_init(&t, 512, 64, 8), 0);
    static uint64_t ref[512];
    uint32_t nref = 0;
    struct zn_prng prng;
    zn_prng_seed(&prng, 7);
    for (int step = 0; step < 50000; step++) {
        /* Small id space so that adds hit existing rows and drops hit present ones. */
        uint64_t id = 1 + zn_prng_below(&prng, 700);
        int at = -1;
        for (uint32_t i = 0; i < nref; i++)
            if (ref[i] == id)
                at = (int)i;
        if (zn_prng_chance(&prng, 1, 2)) {
            int rc = zn_sessions_add(&t, id, ZN_SESSIONS_F_TRACKED, 1000, 0, NULL);
            if (at < 0 && nref == 512) {
                cr_assert_eq(rc, ZN_EFULL);
            } else {
                cr_assert_eq(rc, 0);
                if (at < 0)
                    ref[nref++] = id;
            }
        } else {
            int rc = zn_sessions_drop(&t, id, ZN_SESSIONS_F_TRACKED, NULL, 0, NULL);
            cr_assert_eq(rc, at < 0 ? ZN_ENOENT : 0);
            if (at >= 0)
                ref[at] = ref[--nref];
        }
        cr_assert_eq(t.count, nref);
        if (step % 997 == 0) /* full check now and then */
            for (uint64_t q = 1; q <= 700; q++) {
                bool in = false;
                for (uint32_t i = 0; i < nref; i++)
                    in |= ref[i] == q;
                cr_assert_eq(zn_sessions_find(&t, q) != NULL, in, "id %llu", (unsigned long long)q);
            }
    }
    cr_assert_eq(zn_sessions_add(&t, 0, ZN_SESSIONS_F_OWNED, 1, 0, NULL), ZN_EINVAL);
    cr_assert_eq(zn_sessions_add(&t, 5, 0x80, 1, 0, NULL), ZN_EINVAL);
    zn_sessions_destroy(&t);
}

Test(sessions, a_row_lives_while_owned_or_tracked)
{
    struct zn_sessions t;
    cr_assert_eq(zn_sessions_init(&t, 4, 4, 4), 0);
    struct zn_session_row *r;
    cr_assert_eq(zn_sessions_add(&t, 9, ZN_SESSIONS_F_OWNED, 1000, 5, &r), 0);
    cr_assert_eq(r->next_seq, 1);
    cr_assert_eq(r->next_event, 1);
    cr_assert_eq(zn_sessions_add(&t, 9, ZN_SESSIONS_F_TRACKED, 1000, 5, &r), 0);
    cr_assert_eq(t.count, 1);
    cr_assert_eq(zn_sessions_drop(&t, 9, ZN_SESSIONS_F_OWNED, NULL, 0, NULL), 0);
    cr_assert_not_null(zn_sessions_find(&t, 9));
    cr_assert_eq(zn_sessions_drop(&t, 9, ZN_SESSIONS_F_TRACKED, NULL, 0, NULL), 0);
    cr_assert_null(zn_sessions_find(&t, 9));
    cr_assert_eq(t.count, 0);
    zn_sessions_destroy(&t);
}

Test(sessions, touch_batches_carry_sessions_heard_since_the_last_batch_with_ages)
{
    struct zn_sessions t;
    cr_assert_eq(zn_sessions_init(&t, 16, 4, 4), 0);
    struct zn_session_row *a, *b;
    cr_assert_eq(zn_sessions_add(&t, 100, ZN_SESSIONS_F_OWNED, 1000, 0, &a), 0);
    cr_assert_eq(zn_sessions_add(&t, 200, ZN_SESSIONS_F_OWNED, 1000, 0, &b), 0);
    cr_assert_eq(zn_sessions_add(&t, 300, ZN_SESSIONS_F_TRACKED, 1000, 0, NULL), 0);
    zn_sessions_heard(&t, a, 10 * MS);
    zn_sessions_heard(&t, b, 40 * MS);
    uint64_t ids[8];
    uint32_t ages[8], cursor = 0;
    uint32_t n = zn_sessions_touch_collect(&t, 50 * MS, ids, ages, 8, &cursor);
    cr_assert_eq(n, 2);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(ages[i], ids[i] == 100 ? 40u : 10u);
    /* Nothing heard since: an empty batch; then only b. */
    cr_assert_eq(zn_sessions_touch_collect(&t, 60 * MS, ids, ages, 8, &cursor), 0);
    zn_sessions_heard(&t, b, 70 * MS);
    cr_assert_eq(zn_sessions_touch_collect(&t, 70 * MS, ids, ages, 8, &cursor), 1);
    cr_assert_eq(ids[0], 200);
    cr_assert_eq(ages[0], 0);
    /* max bounds a batch; the cursor resumes and the rest comes next time. */
    zn_sessions_heard(&t, a, 80 * MS);
    zn_sessions_heard(&t, b, 80 * MS);
    cr_assert_eq(zn_sessions_touch_collect(&t, 80 * MS, ids, ages, 1, &cursor), 1);
    uint64_t first = ids[0];
    cr_assert_eq(zn_sessions_touch_collect(&t, 80 * MS, ids, ages, 1, &cursor), 1);
    cr_assert_neq(ids[0], first);
    zn_sessions_destroy(&t);
}

Test(sessions, leader_expires_untouched_sessions_and_a_new_leader_gives_a_full_timeout)
{
    struct zn_sessions t;
    cr_assert_eq(zn_sessions_init(&t, 16, 4, 4), 0);
    cr_assert_eq(zn_sessions_add(&t, 1, ZN_SESSIONS_F_TRACKED, 100, 0, NULL), 0);
    cr_assert_eq(zn_sessions_add(&t, 2, ZN_SESSIONS_F_TRACKED, 300, 0, NULL), 0);
    uint64_t ids[4];
    cr_assert_eq(zn_sessions_track_expired(&t, 99 * MS, ids, 4), 0);
    /* A touch heard 20 ms before now=90 ms moves session 1's deadline to 170 ms. */
    cr_assert_eq(zn_sessions_track_touch(&t, 1, 20, 90 * MS), 0);
    cr_assert_eq(zn_sessions_track_expired(&t, 169 * MS, ids, 4), 0);
    cr_assert_eq(zn_sessions_track_expired(&t, 170 * MS, ids, 4), 1);
    cr_assert_eq(ids[0], 1);
    /* Reported once per timeout, not every tick (the close is being proposed). */
    cr_assert_eq(zn_sessions_track_expired(&t, 171 * MS, ids, 4), 0);
    /* Session 1 keeps being reported once per timeout until its close commits and drops it. */
    cr_assert_eq(zn_sessions_track_expired(&t, 270 * MS, ids, 4), 1);
    cr_assert_eq(zn_sessions_drop(&t, 1, ZN_SESSIONS_F_TRACKED, NULL, 0, NULL), 0);
    /* An older touch never pulls a deadline back: 2 is touched to 500 ms, then a touch heard
     * at 10 ms (deadline 310 ms) changes nothing. */
    cr_assert_eq(zn_sessions_track_touch(&t, 2, 0, 200 * MS), 0);
    cr_assert_eq(zn_sessions_track_touch(&t, 2, 250, 260 * MS), 0);
    cr_assert_eq(zn_sessions_track_expired(&t, 499 * MS, ids, 4), 0);
    cr_assert_eq(zn_sessions_add(&t, 1, ZN_SESSIONS_F_TRACKED, 100, 499 * MS, NULL), 0);
    /* Election: the new leader resets every deadline to now + timeout. */
    zn_sessions_track_reset(&t, 1000 * MS);
    cr_assert_eq(zn_sessions_track_expired(&t, 1099 * MS, ids, 4), 0);
    cr_assert_eq(zn_sessions_track_expired(&t, 1100 * MS, ids, 4), 1);
    cr_assert_eq(zn_sessions_track_expired(&t, 1300 * MS, ids, 4), 2);
    cr_assert_eq(zn_sessions_track_touch(&t, 77, 0, 0), ZN_ENOENT);
    zn_sessions_destroy(&t);
}

Test(sessions, events_are_numbered_retransmitted_until_acked_and_bounded)
{
    struct zn_sessions t;
    cr_assert_eq(zn_sessions_init(&t, 4, 6, 4), 0);
    struct zn_session_row *a, *b;
    cr_assert_eq(zn_sessions_add(&t, 1, ZN_SESSIONS_F_OWNED, 1000, 0, &a), 0);
    cr_assert_eq(zn_sessions_add(&t, 2, ZN_SESSIONS_F_OWNED, 1000, 0, &b), 0);
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_eq(zn_sessions_event_push(&t, a, 10 + i, 100 + i), (int64_t)(i + 1));
    /* Per-session bound: the fifth is refused (the node closes such a session). */
    cr_assert_eq(zn_sessions_event_push(&t, a, 20, 999), ZN_EFULL);
    uint32_t out[8];
    cr_assert_eq(zn_sessions_event_due(&t, a, 1 * MS, 50 * MS, out, 8), 4);
    cr_assert_eq(out[0], 100);
    cr_assert_eq(out[3], 103);
    cr_assert_eq(zn_sessions_event_due(&t, a, 20 * MS, 50 * MS, out, 8), 0);
    /* The ack of 2 forgets events 1..2; the rest is resent after the timeout. */
    uint32_t rel[8];
    cr_assert_eq(zn_sessions_event_ack(&t, a, 2, rel, 8), 2);
    cr_assert_eq(rel[0], 100);
    cr_assert_eq(rel[1], 101);
    cr_assert_eq(zn_sessions_event_due(&t, a, 51 * MS, 50 * MS, out, 8), 2);
    cr_assert_eq(out[0], 102);
    /* Pool bound (6): a has 2, b may take 4 and then the pool is empty. */
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_gt(zn_sessions_event_push(&t, b, 30, 200 + i), 0);
    cr_assert_eq(zn_sessions_event_push(&t, a, 40, 500), ZN_EFULL);
    /* An ack beyond what was pushed is capped; release is bounded per call with no loss. */
    cr_assert_eq(zn_sessions_event_ack(&t, b, 1000, rel, 3), 3);
    cr_assert_eq(zn_sessions_event_ack(&t, b, 0, rel, 3), 1);
    cr_assert_eq(rel[0], 203);
    cr_assert_eq(b->event_count, 0);
    cr_assert_eq(zn_sessions_event_push(&t, b, 41, 300), 5);
    /* Dropping an owned session hands back its queued handles. */
    uint32_t n;
    cr_assert_eq(zn_sessions_drop(&t, 1, ZN_SESSIONS_F_OWNED, rel, 1, &n), ZN_ELIMIT);
    cr_assert_eq(zn_sessions_drop(&t, 1, ZN_SESSIONS_F_OWNED, rel, 8, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(t.events_used, 1);
    zn_sessions_destroy(&t);
}

Test(sessions, timeout_clamp_and_reconnect_rule)
{
    cr_assert_eq(zn_sessions_clamp_timeout(10, 500, 40000), 500);
    cr_assert_eq(zn_sessions_clamp_timeout(4000, 500, 40000), 4000);
    cr_assert_eq(zn_sessions_clamp_timeout(90000, 500, 40000), 40000);
    cr_assert_eq(zn_sessions_reconnect_check(false, 0, 100), ZN_ENOENT);
    cr_assert_eq(zn_sessions_reconnect_check(true, 101, 100), ZN_EAGAIN);
    cr_assert_eq(zn_sessions_reconnect_check(true, 100, 100), 0);
}
