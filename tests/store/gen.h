/*
 * tests/store/gen.h - random log entries for the property and snapshot tests: sessions
 * (create, close, expire), client ops of every write kind (all create modes incl. invalid ones,
 * TTL, ACL variants, versions), multi, retries and stale sequences, container/TTL expiry
 * entries, over a small path universe so that operations collide often.
 */
#ifndef ZN_TESTS_STORE_GEN_H
#define ZN_TESTS_STORE_GEN_H

#include <stdio.h>
#include <string.h>

#include "common/zn_prng.h"
#include "common/zn_err.h"
#include "store/entry.h"

#define GEN_SESSIONS 6

struct gen {
    struct zn_prng rng;
    uint64_t zxid;
    int64_t time_ms;
    uint64_t sid[GEN_SESSIONS]; /* 0 = free slot */
    int32_t cxid[GEN_SESSIONS];
    uint64_t next_sid;
    char paths[8][5][16]; /* per sub-op path storage */
    char data[8][16];
    struct zn_op subs[4];
    struct zn_identity ids[5];
    uint8_t last_entry[4096];
    size_t last_len;
    int last_slot;
};

static const struct zn_acl_entry gen_acl_open[] = {{31, {"world", 5}, {"anyone", 6}}};
static const struct zn_acl_entry gen_acl_read[] = {{1, {"world", 5}, {"anyone", 6}}};
static const struct zn_acl_entry gen_acl_user[] = {
    {31, {"digest", 6}, {"user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=", 33}},
    {1, {"world", 5}, {"anyone", 6}}};
static const struct zn_acl_entry gen_acl_ip[] = {{31, {"ip", 2}, {"10.1.0.0/16", 11}}};
static const struct zn_acl_entry gen_acl_auth[] = {{15, {"auth", 4}, {"", 0}}};
static const struct zn_acl_entry gen_acl_bad[] = {{31, {"world", 5}, {"nobody", 6}}};
static const struct zn_identity gen_ids[4] = {
    {{"ip", 2}, {"10.1.2.3", 8}},
    {{"ip", 2}, {"10.9.9.9", 8}},
    {{"digest", 6}, {"user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=", 33}},
    {{"digest", 6}, {"bob:fyVmFCwVbTJYrznoSu1koqYEYF0=", 32}},
};

static inline void gen_init(struct gen *g, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    zn_prng_seed(&g->rng, seed);
    g->time_ms = 1700000000000;
    g->next_sid = 0x1000;
}

static inline void gen_path(struct gen *g, char *out)
{
    static const char names[] = "abc";
    int depth = 1 + (int)zn_prng_below(&g->rng, 3);
    char *p = out;
    for (int i = 0; i < depth; i++) {
        *p++ = '/';
        *p++ = names[zn_prng_below(&g->rng, 3)];
    }
    *p = '\0';
}

static inline void gen_acl(struct gen *g, struct zn_op *op)
{
    uint64_t r = zn_prng_below(&g->rng, 20);
    op->acl_count = 1;
    if (r < 15)
        op->acl = gen_acl_open;
    else if (r < 16)
        op->acl = gen_acl_read;
    else if (r < 16)
        op->acl = gen_acl_user, op->acl_count = 2;
    else if (r < 18)
        op->acl = gen_acl_ip;
    else if (r < 19)
        op->acl = gen_acl_auth;
    else
        op->acl = gen_acl_bad;
}

static inline void gen_write_op(struct gen *g, struct zn_op *op, int k, bool in_multi)
{
    memset(op, 0, sizeof(*op));
    op->version = -1;
    op->ttl_ms = -1;
    char *path = g->paths[k][0];
    gen_path(g, path);
    op->path = (struct zn_str){path, (uint32_t)strlen(path)};
    uint64_t r = zn_prng_below(&g->rng, in_multi ? 80 : 100);
    if (zn_prng_chance(&g->rng, 3, 10))
        op->version = (int32_t)zn_prng_below(&g->rng, 3);
    if (r < 40) {
        op->type = ZN_OP_CREATE2;
        uint64_t m = zn_prng_below(&g->rng, 20);
        op->flags = m < 8 ? 0 : m < 11 ? 1 : m < 13 ? 2 : m < 15 ? 3 : m < 17 ? 4 : m < 19 ? 5 : 7;
        if (op->flags == ZN_MODE_CONTAINER)
            op->type = ZN_OP_CREATECONTAINER;
        if (op->flags == ZN_MODE_PERSISTENT_WITH_TTL) {
            op->type = ZN_OP_CREATETTL;
            op->ttl_ms =
                zn_prng_chance(&g->rng, 9, 10) ? (int64_t)zn_prng_range(&g->rng, 1, 200) : 0;
        }
        if (op->flags == 2 && zn_prng_chance(&g->rng, 3, 10)) {
            /* a sequential child name that is only the counter */
            size_t l = strlen(path);
            path[l] = '/';
            path[l + 1] = '\0';
            op->path.len++;
        }
        gen_acl(g, op);
        size_t dl = zn_prng_below(&g->rng, 9);
        for (size_t i = 0; i < dl; i++)
            g->data[k][i] = (char)('a' + zn_prng_below(&g->rng, 26));
        op->data = (const uint8_t *)g->data[k];
        op->data_len = (uint32_t)dl;
        op->data_null = dl == 0 && zn_prng_chance(&g->rng, 1, 2); /* null vs empty */
    } else if (r < 60) {
        op->type = ZN_OP_DELETE;
    } else if (r < 75) {
        op->type = ZN_OP_SETDATA;
        size_t dl = zn_prng_below(&g->rng, 9);
        for (size_t i = 0; i < dl; i++)
            g->data[k][i] = (char)('A' + zn_prng_below(&g->rng, 26));
        op->data = (const uint8_t *)g->data[k];
        op->data_len = (uint32_t)dl;
        op->data_null = dl == 0 && zn_prng_chance(&g->rng, 1, 2);
    } else if (r < 80) {
        op->type = ZN_OP_CHECK;
    } else if (r < 92) {
        op->type = ZN_OP_SETACL;
        gen_acl(g, op);
    } else {
        op->type = ZN_OP_SYNC;
    }
}

/* Next entry into e (pointers into g). */
static inline void gen_entry(struct gen *g, struct zn_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->zxid = ++g->zxid;
    g->time_ms += (int64_t)zn_prng_below(&g->rng, 40);
    e->time_ms = g->time_ms;
    uint64_t r = zn_prng_below(&g->rng, 100);
    int slot = (int)zn_prng_below(&g->rng, GEN_SESSIONS);
    if (r < 4 || (r >= 14 && !g->sid[slot] && zn_prng_chance(&g->rng, 9, 10))) {
        e->type = ZN_ENTRY_SESSION_CREATE;
        if (!g->sid[slot]) {
            g->sid[slot] = g->next_sid++;
            g->cxid[slot] = 0;
        }
        e->session = g->sid[slot]; /* an existing id now and then: refused */
        e->timeout_ms = (uint32_t)zn_prng_range(&g->rng, 10, 60000);
        memset(e->passwd, (int)slot, sizeof(e->passwd));
        return;
    }
    if (r < 6) {
        e->type = ZN_ENTRY_SESSION_CLOSE;
        e->session = g->sid[slot] ? g->sid[slot] : 0x77;
        e->close_reason = (uint8_t)zn_prng_below(&g->rng, 2);
        g->sid[slot] = 0;
        return;
    }
    if (r < 13) {
        e->type = ZN_ENTRY_EXPIRE;
        gen_path(g, g->paths[7][0]);
        e->op = (struct zn_op){.type = ZN_OP_DELETECONTAINER,
                               .path = {g->paths[7][0], (uint32_t)strlen(g->paths[7][0])},
                               .version = -1,
                               .ttl_ms = -1};
        return;
    }
    if (r < 14) {
        e->type = ZN_ENTRY_NOOP;
        return;
    }
    e->type = ZN_ENTRY_CLIENT;
    e->session = g->sid[slot] ? g->sid[slot] : 0x55; /* 0x55 never exists */
    uint64_t c = zn_prng_below(&g->rng, 100);
    if (c < 5 && g->cxid[slot] > 0)
        e->cxid = g->cxid[slot]; /* retry */
    else if (c < 7 && g->cxid[slot] > 1)
        e->cxid = g->cxid[slot] - 1; /* stale */
    else
        e->cxid = (g->cxid[slot] += 1 + (int32_t)zn_prng_below(&g->rng, 2));
    uint32_t nids = 0;
    static const uint64_t pct[4] = {60, 20, 60, 20};
    for (int i = 0; i < 4; i++)
        if (zn_prng_chance(&g->rng, pct[i], 100))
            g->ids[nids++] = gen_ids[i];
    if (zn_prng_chance(&g->rng, 8, 100))
        g->ids[nids++] = (struct zn_identity){{"super", 5}, {"", 0}}; /* unsticks locked nodes */
    e->ids = g->ids;
    e->id_count = nids;
    if (zn_prng_chance(&g->rng, 15, 100)) {
        uint32_t n = (uint32_t)zn_prng_range(&g->rng, 1, 4);
        for (uint32_t i = 0; i < n; i++)
            gen_write_op(g, &g->subs[i], (int)i, true);
        e->op = (struct zn_op){.type = ZN_OP_MULTI, .sub = g->subs, .sub_count = n};
    } else if (zn_prng_chance(&g->rng, 2, 100)) {
        e->op = (struct zn_op){.type = ZN_OP_CLOSESESSION};
        e->cxid = (g->cxid[slot] += 1); /* never a retry: the slot is reused afterwards */
        g->sid[slot] = 0;
    } else if (zn_prng_chance(&g->rng, 3, 100)) {
        /* an error txn (a multi that did not deserialize): consumes a zxid, answers err */
        static const int errs[3] = {ZN_EMARSHALLING, ZN_EBADARGUMENTS, ZN_EPROTO};
        e->type = ZN_ENTRY_ERROR;
        e->op = (struct zn_op){.type = ZN_OP_MULTI, .version = -1, .ttl_ms = -1};
        e->err = errs[zn_prng_below(&g->rng, 3)];
        e->ids = NULL;
        e->id_count = 0;
    } else {
        gen_write_op(g, &e->op, 5, false);
    }
}

#endif /* ZN_TESTS_STORE_GEN_H */
