/*
 * store/entry.h - log entries: what the leader proposes and every replica applies.
 *
 * An entry is a command stamped by the leader: zxid (= Raft log index), leader time in ms,
 * session, request sequence (cxid) and the requester's identities. The encoding is versioned,
 * deterministic (one byte string per entry value), big-endian, and decoding validates every
 * length against zn_limits.h before anything is used (STYLE.md 9). Format (version 2):
 *
 *   u8 version=2, u8 type, u16 zero, u64 zxid, i64 time_ms, u64 session, then by type:
 *   CLIENT:         i32 cxid, u16 nids, nids x {str16 scheme, str16 id}, op
 *   SESSION_CREATE: u32 timeout_ms, 16 bytes password
 *   SESSION_CLOSE:  u8 reason (0 = closed by the client's request, 1 = expired)
 *   EXPIRE:         op (deleteContainer of a container or TTL node chosen by the leader)
 *   NOOP:           nothing
 *   ERROR:          i32 cxid, i32 opcode (of the request), i32 err (a negative ZN_E* code)
 *   op := i32 type, then create*: str32 path, data, acl, i32 flags, i64 ttl_ms;
 *         delete/deleteContainer/check: str32 path, i32 version; setData: str32 path,
 *         data, i32 version; setACL: str32 path, acl, i32 version; sync: str32 path;
 *         multi: u16 n, n x op (no nesting); closeSession: nothing
 *   data := u32 length + bytes, or u32 0xffffffff alone for null data (jute's length -1)
 *   acl := u16 n, n x {u32 perms, str16 scheme, str16 id}
 * Version 1 (still decoded: a node upgraded in place replays its old WAL) is the same without
 * the ERROR type and without null data (0xffffffff is not a valid data length there).
 *
 * ERROR is ZooKeeper's error txn (PrepRequestProcessor: a request that fails after it was given
 * a zxid, e.g. a multi whose body does not deserialize -> MarshallingError): it consumes a zxid,
 * changes no znode, and answers the stored error with that zxid, exactly once per (session,
 * cxid) like a CLIENT entry.
 * The whole input must be consumed; trailing bytes are an error.
 *
 * Context: any thread.
 */
#ifndef ZN_STORE_ENTRY_H
#define ZN_STORE_ENTRY_H

#include "common/zn_limits.h"
#include "store/types.h"

#define ZN_ENTRY_VERSION     2u
#define ZN_ENTRY_VERSION_MIN 1u /* oldest version zn_entry_decode still reads */

enum zn_entry_type {
    ZN_ENTRY_CLIENT = 1,
    ZN_ENTRY_SESSION_CREATE = 2,
    ZN_ENTRY_SESSION_CLOSE = 3,
    ZN_ENTRY_EXPIRE = 4,
    ZN_ENTRY_NOOP = 5,
    ZN_ENTRY_ERROR = 6,
};

enum zn_close_reason { ZN_CLOSE_REQUESTED = 0, ZN_CLOSE_EXPIRED = 1 };

struct zn_entry {
    uint8_t type; /* enum zn_entry_type */
    uint64_t zxid;
    int64_t time_ms;
    uint64_t session;
    int32_t cxid; /* CLIENT, ERROR */
    const struct zn_identity *ids;
    uint32_t id_count;
    struct zn_op op;                         /* CLIENT, EXPIRE; ERROR: only op.type */
    int32_t err;                             /* ERROR: the ZN_E* code answered */
    uint32_t timeout_ms;                     /* SESSION_CREATE */
    uint8_t passwd[ZN_SESSION_PASSWD_BYTES]; /* SESSION_CREATE */
    uint8_t close_reason;                    /* SESSION_CLOSE */
};

/* Storage a decoded entry points into (besides the entry bytes themselves). */
struct zn_entry_scratch {
    struct zn_op ops[ZN_MULTI_OPS_MAX];
    struct zn_acl_entry acls[ZN_STORE_ENTRY_ACLS_MAX];
    struct zn_identity ids[ZN_STORE_IDENTITIES_MAX];
};

/*
 * Encode e into buf (capacity cap); *len receives the size. Errors: ZN_ELIMIT (does not fit or
 * a field exceeds a limit), ZN_EINVAL (unknown type or op).
 */
int zn_entry_encode(const struct zn_entry *e, uint8_t *buf, size_t cap, size_t *len);

/* Size zn_entry_encode needs for e. */
size_t zn_entry_encoded_size(const struct zn_entry *e);

/*
 * Decode untrusted bytes. On success *e points into buf and scratch (both must outlive it).
 * Errors: ZN_EVERSION (unknown version), ZN_EPROTO (malformed, over a limit, trailing bytes).
 */
int zn_entry_decode(const uint8_t *buf, size_t len, struct zn_entry_scratch *scratch,
                    struct zn_entry *e);

#endif /* ZN_STORE_ENTRY_H */
