/*
 * store/reply.h - the store's reply encoding, independent of jute.
 *
 * apply and the read functions produce a reply as bytes (so that the exactly-once table and
 * snapshots can keep it verbatim) and zn_reply_decode turns them into a struct with iterators.
 * proto/ (issue 7/10) converts a decoded reply into ZooKeeper's ReplyHeader + body. Format:
 *
 *   i32 op, i32 err (0 or ZN_E*), i64 zxid, then, only when err == 0 or op is multi/multiRead:
 *   create/create2/createContainer/createTTL: str32 path, stat   (create replies only path)
 *   delete, check, closeSession: nothing          sync: str32 path
 *   setData, setACL, exists: stat                 getData: data, stat
 *   getACL: u32 n, n x {u32 perms, str32 scheme, str32 id}, stat
 *   getChildren, getEphemerals: u32 n, n x str32 name    getChildren2: names, stat
 *   getAllChildrenNumber: i32                      createSession: u64 id, u32 timeout_ms, 16 B
 *   multi, multiRead (always, also with an error): u32 n, n x reply (same format; a failed sub-op has op = -1 (error) and
 *   err as ZooKeeper reports it: ops before the failing one 0, the failing one its code, the
 *   ones after it ZN_EINCONSISTENT (RuntimeInconsistency)).
 *   data: u32 length + bytes, or u32 0xffffffff alone for null data (a reply written before
 *   null data existed never holds that length, so old replies decode the same).
 *   error (op -1, an error txn or a failed sub-op): nothing.
 *   stat: the 11 Stat fields in wire order (i64/i32 as in store/types.h).
 * A failed multi reports the failing op's code as its top-level err; ZooKeeper itself sends
 * header err 0 with the per-op results, which proto/ reproduces from the sub-replies.
 *
 * Context: any thread.
 */
#ifndef ZN_STORE_REPLY_H
#define ZN_STORE_REPLY_H

#include "store/codec.h"
#include "store/types.h"

struct zn_reply {
    int32_t op;
    int err;
    int64_t zxid;
    bool has_stat;
    struct zn_stat stat;
    struct zn_str path;  /* create*, sync */
    const uint8_t *data; /* getData */
    uint32_t data_len;
    bool data_null;      /* getData: null data (data NULL, data_len 0) */
    uint32_t count;      /* names, ACL entries or sub-replies */
    int32_t number;      /* getAllChildrenNumber */
    uint64_t session;    /* createSession */
    uint32_t timeout_ms; /* createSession */
    const uint8_t *passwd;
    struct zn_rd items; /* iterator state over names / ACL entries / sub-replies */
};

/* Decode reply bytes (validated: lengths, counts, trailing bytes). ZN_EPROTO when malformed. */
int zn_reply_decode(const uint8_t *buf, size_t len, struct zn_reply *out);
/* Next child name / ACL entry / sub-reply; ZN_ENOENT after the last, ZN_EPROTO if malformed. */
int zn_reply_next_name(struct zn_reply *r, struct zn_str *name);
int zn_reply_next_acl(struct zn_reply *r, struct zn_acl_entry *acl);
int zn_reply_next_sub(struct zn_reply *r, struct zn_reply *sub);

/* Builders (used by apply and reads). */
void zn_reply_put_header(struct zn_wbuf *w, int32_t op, int err, int64_t zxid);
void zn_reply_put_stat(struct zn_wbuf *w, const struct zn_stat *st);
/* The Stat as ZooKeeper clients see it (replies, never snapshots): cversion counts creates and
 * deletes, ephemeralOwner is 0 for containers and TTL nodes. */
void zn_reply_put_client_stat(struct zn_wbuf *w, const struct zn_stat *st);
void zn_stat_decode(struct zn_rd *r, struct zn_stat *st);

#endif /* ZN_STORE_REPLY_H */
