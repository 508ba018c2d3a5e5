/* Framed-message exchange helpers for the dataplane tests (see exchange.h). */
#include "exchange.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zn_assert.h"

uint64_t exchange_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void exchange_pattern(uint8_t *buf, uint32_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

bool exchange_pattern_ok(const uint8_t *buf, uint32_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        if (buf[i] != (uint8_t)(x >> 16))
            return false;
    }
    return true;
}

struct echo_ctx {
    struct zn_dp_msgr *m;
    uint64_t now;
};

static void echo_handler(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    struct echo_ctx *e = ctx;
    /* Echo with the same type; the receiver is the original sender. */
    (void)zn_dp_msgr_send(e->m, from, msg->hdr.type, msg->hdr.sender, msg->data, msg->len, e->now);
}

struct check_ctx {
    uint32_t expect_len;
    uint32_t seed;
    bool got;
    bool ok;
};

static void check_handler(void *ctx, const struct zn_dp_addr *from, const struct zn_reasm_msg *msg)
{
    (void)from;
    struct check_ctx *c = ctx;
    /* The seed travels in the first 4 bytes of messages long enough to hold it. */
    if (msg->len != c->expect_len)
        return;
    if (msg->len >= 4) {
        uint32_t seed;
        memcpy(&seed, msg->data, 4);
        if (seed != c->seed)
            return; /* a late echo of an earlier attempt */
    }
    c->got = true;
    c->ok = msg->len < 4 || exchange_pattern_ok(msg->data + 4, msg->len - 4, c->seed);
}

static unsigned exchange_run(struct zn_dp_msgr *a, struct zn_dp_msgr *b,
                             const struct zn_dp_addr *addr_b, unsigned rounds, uint64_t timeout_ns)
{
    static const uint32_t sizes[] = EXCHANGE_SIZES;
    const unsigned n_sizes = sizeof(sizes) / sizeof(sizes[0]);
    uint8_t *buf = malloc(100004);
    ZN_ASSERT(buf != NULL);
    uint64_t deadline = exchange_now_ns() + timeout_ns;
    unsigned verified = 0;
    uint32_t seed = 1;
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned s = 0; s < n_sizes; s++, seed++) {
            uint32_t len = sizes[s];
            if (len >= 4) {
                memcpy(buf, &seed, 4);
                exchange_pattern(buf + 4, len - 4, seed);
            }
            struct check_ctx c = {.expect_len = len, .seed = seed};
            uint64_t resend_at = 0;
            while (!c.got) {
                uint64_t now = exchange_now_ns();
                if (now > deadline)
                    goto out;
                if (now >= resend_at) { /* first send, or a retry after loss (ARP, backpressure) */
                    (void)zn_dp_msgr_send(a, addr_b, ZN_FRAME_PEER, 0, buf, len, now);
                    resend_at = now + 200 * 1000 * 1000ull;
                }
                int work = zn_dp_msgr_poll(a, now, check_handler, &c);
                if (b != NULL) {
                    struct echo_ctx e = {.m = b, .now = now};
                    work += zn_dp_msgr_poll(b, now, echo_handler, &e);
                    zn_dp_msgr_housekeeping(b, now);
                }
                zn_dp_msgr_housekeeping(a, now);
                if (work == 0)
                    sched_yield();
            }
            if (!c.ok)
                goto out;
            verified++;
        }
    }
out:
    free(buf);
    return verified;
}

unsigned exchange_pair(struct zn_dp_msgr *a, struct zn_dp_msgr *b, const struct zn_dp_addr *addr_a,
                       const struct zn_dp_addr *addr_b, unsigned rounds, uint64_t timeout_ns)
{
    (void)addr_a;
    return exchange_run(a, b, addr_b, rounds, timeout_ns);
}

unsigned exchange_with_echo(struct zn_dp_msgr *a, const struct zn_dp_addr *addr_b, unsigned rounds,
                            uint64_t timeout_ns)
{
    return exchange_run(a, NULL, addr_b, rounds, timeout_ns);
}
