/*
 * test_zkport_ring.c - the SPSC message ring between the ZooKeeper port and the lcore
 * (node/zkport_ring.h): order, wrap-around, full-ring refusal, record limit, and a two-thread
 * run that checks every record arrives once, in order, intact.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"
#include "node/zkport_ring.h"

Test(zkport_ring, order_and_wrap)
{
    struct zn_zkring r;
    cr_assert_eq(zn_zkring_init(&r, 4096, 1000), 0);
    uint8_t buf[1000];
    uint32_t next_in = 0, next_out = 0;
    for (int round = 0; round < 200; round++) {
        /* Push until full, with sizes that make records straddle the end. */
        for (;;) {
            uint32_t len = 1 + (next_in * 37u) % 999u;
            memset(buf, (int)(next_in & 0xff), len);
            int rc =
                zn_zkring_push(&r, (uint16_t)next_in, buf, len / 2, buf + len / 2, len - len / 2);
            if (rc == ZN_EFULL)
                break;
            cr_assert_eq(rc, 0);
            next_in++;
        }
        /* Pop a few. */
        for (int k = 0; k < 3; k++) {
            uint16_t conn;
            const uint8_t *data;
            uint32_t len;
            cr_assert_eq(zn_zkring_peek(&r, &conn, &data, &len), 1);
            cr_assert_eq(conn, (uint16_t)next_out);
            cr_assert_eq(len, 1 + (next_out * 37u) % 999u);
            for (uint32_t i = 0; i < len; i++)
                cr_assert_eq(data[i], next_out & 0xff);
            zn_zkring_pop(&r);
            next_out++;
        }
    }
    cr_assert_gt(next_in, 400u, "the ring was reused across its end many times");
    cr_assert_gt(atomic_load(&r.full), 0u, "full pushes are counted");
    zn_zkring_destroy(&r);
}

Test(zkport_ring, limits)
{
    struct zn_zkring r;
    cr_assert_eq(zn_zkring_init(&r, 4096, 4000), ZN_EINVAL, "two records must fit");
    cr_assert_eq(zn_zkring_init(&r, 4096, 100), 0);
    uint8_t buf[200] = {0};
    cr_assert_eq(zn_zkring_push(&r, 1, buf, 101, NULL, 0), ZN_ELIMIT);
    uint16_t conn;
    const uint8_t *data;
    uint32_t len;
    cr_assert_eq(zn_zkring_peek(&r, &conn, &data, &len), 0, "empty");
    cr_assert_eq(zn_zkring_push(&r, 7, NULL, 0, NULL, 0), 0, "an empty record is fine");
    cr_assert_eq(zn_zkring_peek(&r, &conn, &data, &len), 1);
    cr_assert_eq(conn, 7);
    cr_assert_eq(len, 0);
    zn_zkring_pop(&r);
    zn_zkring_destroy(&r);
}

#define THREAD_RECORDS 200000u

static void *producer(void *arg)
{
    struct zn_zkring *r = arg;
    struct zn_prng prng;
    zn_prng_seed(&prng, 42);
    uint8_t buf[300];
    for (uint32_t i = 0; i < THREAD_RECORDS;) {
        uint32_t len = 4 + (uint32_t)zn_prng_below(&prng, 290);
        memcpy(buf, &i, 4);
        for (uint32_t k = 4; k < len; k++)
            buf[k] = (uint8_t)(i + k);
        if (zn_zkring_push(r, (uint16_t)i, buf, len, NULL, 0) == 0) {
            i++;
            continue;
        }
        zn_prng_u64(&prng); /* keep the length sequence independent of retries */
        sched_yield();
    }
    return NULL;
}

Test(zkport_ring, two_threads)
{
    struct zn_zkring r;
    cr_assert_eq(zn_zkring_init(&r, 8192, 300), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, producer, &r), 0);
    uint32_t expect = 0;
    while (expect < THREAD_RECORDS) {
        uint16_t conn;
        const uint8_t *data;
        uint32_t len;
        if (!zn_zkring_peek(&r, &conn, &data, &len)) {
            sched_yield();
            continue;
        }
        uint32_t i;
        memcpy(&i, data, 4);
        cr_assert_eq(i, expect, "record %u arrived in place of %u", i, expect);
        cr_assert_eq(conn, (uint16_t)i);
        for (uint32_t k = 4; k < len; k++)
            cr_assert_eq(data[k], (uint8_t)(i + k));
        zn_zkring_pop(&r);
        expect++;
    }
    pthread_join(t, NULL);
    zn_zkring_destroy(&r);
}
