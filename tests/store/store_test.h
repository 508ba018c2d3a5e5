/*
 * tests/store/store_test.h - helpers shared by the store tests: a test tree with a leader
 * stamp (zxid, time), entry building and applying, reply decoding.
 */
#ifndef ZN_TESTS_STORE_TEST_H
#define ZN_TESTS_STORE_TEST_H

#include <stdlib.h>
#include <string.h>

#include "common/zn_assert.h"
#include "store/entry.h"
#include "store/reply.h"
#include "store/store.h"

struct tst {
    struct zn_store *s;
    uint64_t zxid;
    int64_t time_ms;
    uint8_t *buf;
    struct zn_apply_result res;
    struct zn_reply rep;
    int rc;
};

static inline struct zn_op op_create(const char *path, const char *data, int32_t flags)
{
    static const struct zn_acl_entry open_acl[] = {{31, {"world", 5}, {"anyone", 6}}};
    struct zn_op op = {.type = ZN_OP_CREATE2,
                       .path = {path, (uint32_t)strlen(path)},
                       .data = (const uint8_t *)data,
                       .data_len = data ? (uint32_t)strlen(data) : 0,
                       .version = -1,
                       .flags = flags,
                       .ttl_ms = -1,
                       .acl = open_acl,
                       .acl_count = 1};
    if (flags == ZN_MODE_CONTAINER)
        op.type = ZN_OP_CREATECONTAINER;
    return op;
}

static inline struct zn_op op_path(int32_t type, const char *path, int32_t version)
{
    struct zn_op op = {
        .type = type, .path = {path, (uint32_t)strlen(path)}, .version = version, .ttl_ms = -1};
    return op;
}

static inline struct zn_op op_set(const char *path, const char *data, int32_t version)
{
    struct zn_op op = op_path(ZN_OP_SETDATA, path, version);
    op.data = (const uint8_t *)data;
    op.data_len = (uint32_t)strlen(data);
    return op;
}

static inline void tst_init(struct tst *t)
{
    memset(t, 0, sizeof(*t));
    t->buf = malloc(ZN_STORE_ENTRY_SIZE_MAX);
    ZN_ASSERT(t->buf);
    ZN_ASSERT(zn_store_create(NULL, &t->s) == 0);
    t->zxid = 0;
    t->time_ms = 1700000000000;
}

static inline void tst_fini(struct tst *t)
{
    zn_store_destroy(t->s);
    free(t->buf);
}

/* Apply an entry; decode its reply into t->rep (if any). Returns zn_store_apply's code. */
static inline int tst_apply_entry(struct tst *t, struct zn_entry *e)
{
    e->zxid = ++t->zxid;
    e->time_ms = (t->time_ms += 10);
    size_t len = 0;
    int rc = zn_entry_encode(e, t->buf, ZN_STORE_ENTRY_SIZE_MAX, &len);
    ZN_ASSERT(rc == 0);
    t->rc = zn_store_apply(t->s, t->buf, len, &t->res);
    memset(&t->rep, 0, sizeof(t->rep));
    if (t->rc == 0 && t->res.has_reply)
        ZN_ASSERT(zn_reply_decode(t->res.reply, t->res.reply_len, &t->rep) == 0);
    return t->rc;
}

static inline int tst_session(struct tst *t, uint64_t id)
{
    struct zn_entry e = {.type = ZN_ENTRY_SESSION_CREATE, .session = id, .timeout_ms = 10000};
    memset(e.passwd, 0x5a, sizeof(e.passwd));
    tst_apply_entry(t, &e);
    return t->rep.err;
}

static inline int tst_close(struct tst *t, uint64_t id, uint8_t reason)
{
    struct zn_entry e = {.type = ZN_ENTRY_SESSION_CLOSE, .session = id, .close_reason = reason};
    return tst_apply_entry(t, &e);
}

/* Client op on session with identities; returns the reply's err. */
static inline int tst_op_ids(struct tst *t, uint64_t session, int32_t cxid, const struct zn_op *op,
                             const struct zn_identity *ids, uint32_t nids)
{
    struct zn_entry e = {.type = ZN_ENTRY_CLIENT,
                         .session = session,
                         .cxid = cxid,
                         .ids = ids,
                         .id_count = nids,
                         .op = *op};
    tst_apply_entry(t, &e);
    ZN_ASSERT(t->rc == 0);
    return t->rep.err;
}

static inline int32_t tst_next_cxid(void)
{
    static int32_t cxid;
    return ++cxid;
}

static inline int tst_op(struct tst *t, uint64_t session, const struct zn_op *op)
{
    return tst_op_ids(t, session, tst_next_cxid(), op, NULL, 0);
}

/* A read through zn_store_read; reply decoded into *rep (buffer kept in *w). */
static inline int tst_read_ids(struct tst *t, uint64_t session, const struct zn_op *op,
                               const struct zn_identity *ids, uint32_t nids, struct zn_wbuf *w,
                               struct zn_reply *rep)
{
    w->len = 0;
    int rc = zn_store_read(t->s, session, ids, nids, op, w, NULL);
    ZN_ASSERT(rc == 0);
    ZN_ASSERT(zn_reply_decode(w->p, w->len, rep) == 0);
    return rep->err;
}

static inline int tst_read(struct tst *t, uint64_t session, const struct zn_op *op,
                           struct zn_wbuf *w, struct zn_reply *rep)
{
    return tst_read_ids(t, session, op, NULL, 0, w, rep);
}

static inline int tst_stat(struct tst *t, const char *path, struct zn_stat *st)
{
    return zn_store_stat(t->s, path, (uint32_t)strlen(path), st, NULL);
}

#endif /* ZN_TESTS_STORE_TEST_H */
