/*
 * test_opstats.c - node/opstats: latencies land in the right operation class, a request is
 * recorded once, colliding pending requests are counted as evicted, reset forgets everything.
 */
#include <criterion/criterion.h>

#include "node/opstats.h"
#include "proto/zk.h"

static unsigned op_index(const char *name)
{
    for (unsigned i = 0; i < zn_opstats_op_count(); i++)
        if (strcmp(zn_opstats_op_name(i), name) == 0)
            return i;
    cr_assert_fail("no class %s", name);
    return 0;
}

Test(opstats, records_per_class)
{
    struct zn_opstats *os;
    cr_assert_eq(zn_opstats_create(&os), 0);
    struct zn_hist *h = malloc(sizeof(*h));
    cr_assert_not_null(h);
    for (uint64_t s = 1; s <= 100; s++) {
        zn_opstats_begin(os, 7, s, ZN_ZK_OP_CREATE2, 1000 * s);
        zn_opstats_end(os, 7, s, 1000 * s + 5000 + s); /* 5001..5100 ns */
    }
    zn_opstats_begin(os, 8, 1, ZN_ZK_OP_GETDATA, 0);
    zn_opstats_end(os, 8, 1, 700);
    zn_opstats_end(os, 8, 1, 900); /* a second reply: not recorded again */
    zn_opstats_end(os, 9, 1, 900); /* never begun: ignored */
    zn_opstats_copy(os, op_index("create"), h);
    cr_assert_eq(h->count, 100);
    cr_assert_eq(h->min, 5001);
    cr_assert_eq(h->max, 5100);
    uint64_t p50 = zn_hist_percentile(h, 50);
    cr_assert(p50 >= 5030 && p50 <= 5070, "p50 %lu", (unsigned long)p50);
    zn_opstats_copy(os, op_index("getData"), h);
    cr_assert_eq(h->count, 1);
    cr_assert_eq(h->max, 700);
    zn_opstats_copy(os, op_index("setData"), h);
    cr_assert_eq(h->count, 0);
    zn_opstats_reset(os);
    zn_opstats_copy(os, op_index("create"), h);
    cr_assert_eq(h->count, 0);
    free(h);
    zn_opstats_destroy(os);
}

Test(opstats, retransmission_keeps_first_receipt_and_collisions_count)
{
    struct zn_opstats *os;
    cr_assert_eq(zn_opstats_create(&os), 0);
    struct zn_hist *h = malloc(sizeof(*h));
    zn_opstats_begin(os, 3, 1, ZN_ZK_OP_SETDATA, 100);
    zn_opstats_begin(os, 3, 1, ZN_ZK_OP_SETDATA, 900); /* retransmission */
    zn_opstats_end(os, 3, 1, 1100);
    zn_opstats_copy(os, op_index("setData"), h);
    cr_assert_eq(h->count, 1);
    cr_assert_eq(h->max, 1000);
    /* More pending requests than slots: some must be evicted, none recorded twice. */
    for (uint64_t s = 1; s <= 20000; s++)
        zn_opstats_begin(os, 42, s, ZN_ZK_OP_EXISTS, s);
    cr_assert_gt(zn_opstats_evicted(os), 0);
    for (uint64_t s = 1; s <= 20000; s++)
        zn_opstats_end(os, 42, s, s + 10);
    zn_opstats_copy(os, op_index("exists"), h);
    cr_assert_eq(h->count + zn_opstats_evicted(os), 20000);
    cr_assert_eq(h->max, 10);
    free(h);
    zn_opstats_destroy(os);
}
