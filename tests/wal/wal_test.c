/* wal_test.c - see wal_test.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "wal_test.h"

static void *wt_malloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void wt_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)size;
    free(p);
}

const struct zn_allocator wt_alloc = {wt_malloc, wt_free, NULL};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint32_t wt_len(uint64_t index, uint64_t term, uint32_t max)
{
    return 1 + (uint32_t)(mix(index * 31 + term) % max);
}

void wt_payload(uint64_t index, uint64_t term, uint8_t *buf, uint32_t len)
{
    uint64_t s = mix(index ^ (term << 40));
    for (uint32_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            s = mix(s + i);
        }
        buf[i] = (uint8_t)(s >> (8 * (i % 8)));
    }
}

void wt_log_init(struct wt_log *l, uint32_t len_max)
{
    memset(l, 0, sizeof(*l));
    l->first = 1;
    l->last = 0;
    l->len_max = len_max;
    l->terms = calloc(WT_ENTRIES_MAX, sizeof(uint64_t));
    ZN_ASSERT(l->terms != NULL);
}

void wt_log_free(struct wt_log *l)
{
    free(l->terms);
    l->terms = NULL;
}

int wt_collect(void *ctx, const struct zn_wal_entry *e)
{
    struct wt_log *l = ctx;
    static uint8_t buf[ZN_WAL_ENTRY_BYTES_MAX];
    if (e->index >= WT_ENTRIES_MAX) {
        l->bad = true;
        snprintf(l->why, sizeof(l->why), "index %llu out of test range",
                 (unsigned long long)e->index);
        return 0;
    }
    if (l->count > 0 && e->index != l->last + 1) {
        l->bad = true;
        snprintf(l->why, sizeof(l->why), "index %llu after %llu", (unsigned long long)e->index,
                 (unsigned long long)l->last);
    }
    uint32_t want = wt_len(e->index, e->term, l->len_max);
    wt_payload(e->index, e->term, buf, e->len);
    if (e->len != want || memcmp(buf, e->payload, e->len) != 0 || e->type != 1 + e->index % 3) {
        l->bad = true;
        snprintf(l->why, sizeof(l->why), "entry %llu term %llu: payload/type mismatch",
                 (unsigned long long)e->index, (unsigned long long)e->term);
    }
    if (l->count == 0) {
        l->first = e->index;
    }
    l->last = e->index;
    l->terms[e->index] = e->term;
    l->count++;
    return 0;
}

struct zn_wal_config wt_config(struct zn_disk *disk, uint64_t segment_bytes, uint32_t batch_bytes,
                               uint32_t entry_max)
{
    struct zn_wal_config c;
    memset(&c, 0, sizeof(c));
    c.disk = disk;
    c.alloc = wt_alloc;
    c.cluster_id = 0xC1C1C1C1ULL;
    c.node_id = 3;
    c.segment_bytes = segment_bytes;
    c.batch_bytes = batch_bytes;
    c.entry_bytes_max = entry_max;
    return c;
}

/* Real disks complete jobs on another thread: wait politely (bounded: 10 s). */
static void wt_pause(void)
{
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

int wt_drain(struct zn_wal *w)
{
    for (int i = 0; i < 500000; i++) {
        zn_wal_flush(w);
        struct zn_wal_persisted p;
        int rc = zn_wal_poll(w, &p);
        if (rc < 0) {
            return rc;
        }
        if (zn_wal_idle(w)) {
            return 0;
        }
        if (rc == 0) {
            wt_pause();
        }
    }
    return ZN_ETIMEDOUT;
}

int wt_settle(struct zn_wal *w)
{
    for (int i = 0; i < 500000; i++) {
        struct zn_wal_stats st;
        zn_wal_stats(w, &st);
        if (st.spare_ready) {
            return 0;
        }
        struct zn_wal_persisted p;
        int rc = zn_wal_poll(w, &p);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            wt_pause();
        }
    }
    return ZN_ETIMEDOUT;
}

int wt_append_range(struct zn_wal *w, uint64_t from, uint64_t to, uint64_t term, uint32_t len_max)
{
    static uint8_t buf[ZN_WAL_ENTRY_BYTES_MAX];
    for (uint64_t i = from; i <= to; i++) {
        uint32_t len = wt_len(i, term, len_max);
        wt_payload(i, term, buf, len);
        for (int tries = 0;; tries++) {
            int rc = zn_wal_append(w, (uint16_t)(1 + i % 3), term, i, buf, len);
            if (rc == 0) {
                break;
            }
            if (rc != ZN_EFULL || tries > 500000) {
                return rc;
            }
            zn_wal_flush(w);
            struct zn_wal_persisted p;
            rc = zn_wal_poll(w, &p);
            if (rc < 0) {
                return rc;
            }
            if (rc == 0) {
                wt_pause();
            }
        }
    }
    return wt_drain(w);
}
