/*
 * store/types.h - the ZooKeeper data model as plain C values (../shared/zk-protocol.md).
 *
 * These are the values that travel between the protocol layer (proto/, issue 7/10), the log
 * entries (store/entry.h) and the tree (store/store.h). They are independent of jute: proto/
 * converts jute bodies into a struct zn_op and a reply (store/reply.h) back into jute.
 *
 * Context: any thread; plain values, no shared state.
 */
#ifndef ZN_STORE_TYPES_H
#define ZN_STORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ZooKeeper opcodes (ZooDefs.OpCode) that the store executes. */
enum zn_opcode {
    ZN_OP_ERROR = -1,
    ZN_OP_CREATE = 1,
    ZN_OP_DELETE = 2,
    ZN_OP_EXISTS = 3,
    ZN_OP_GETDATA = 4,
    ZN_OP_SETDATA = 5,
    ZN_OP_GETACL = 6,
    ZN_OP_SETACL = 7,
    ZN_OP_GETCHILDREN = 8,
    ZN_OP_SYNC = 9,
    ZN_OP_GETCHILDREN2 = 12,
    ZN_OP_CHECK = 13,
    ZN_OP_MULTI = 14,
    ZN_OP_CREATE2 = 15,
    ZN_OP_CREATECONTAINER = 19,
    ZN_OP_DELETECONTAINER = 20,
    ZN_OP_CREATETTL = 21,
    ZN_OP_MULTIREAD = 22,
    ZN_OP_GETEPHEMERALS = 103,
    ZN_OP_GETALLCHILDRENNUMBER = 104,
    ZN_OP_CREATESESSION = -10,
    ZN_OP_CLOSESESSION = -11,
};

/* CreateMode flags. */
enum zn_create_mode {
    ZN_MODE_PERSISTENT = 0,
    ZN_MODE_EPHEMERAL = 1,
    ZN_MODE_PERSISTENT_SEQUENTIAL = 2,
    ZN_MODE_EPHEMERAL_SEQUENTIAL = 3,
    ZN_MODE_CONTAINER = 4,
    ZN_MODE_PERSISTENT_WITH_TTL = 5,
    ZN_MODE_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

/* ACL permissions (ZooDefs.Perms). */
#define ZN_PERM_READ   1u
#define ZN_PERM_WRITE  2u
#define ZN_PERM_CREATE 4u
#define ZN_PERM_DELETE 8u
#define ZN_PERM_ADMIN  16u
#define ZN_PERM_ALL    31u

/*
 * ephemeralOwner encodings of ZooKeeper's EphemeralType: a container has Long.MIN_VALUE, a TTL
 * node 0xff00000000000000 | ttl (ttl in ms, 1 .. 0xffffffffff). Sessions ids never use these.
 */
#define ZN_EPHEMERAL_CONTAINER  ((int64_t)INT64_MIN)
#define ZN_EPHEMERAL_TTL_MASK   ((int64_t)0xff00000000000000ull)
#define ZN_EPHEMERAL_TTL_MAX_MS ((int64_t)0x000000ffffffffffll)

/* The 11 Stat fields in ZooKeeper's wire order. */
struct zn_stat {
    int64_t czxid;
    int64_t mzxid;
    int64_t ctime;
    int64_t mtime;
    int32_t version;
    int32_t cversion;
    int32_t aversion;
    int64_t ephemeral_owner;
    int32_t data_length;
    int32_t num_children;
    int64_t pzxid;
};

/* Field-wise equality (struct zn_stat has padding: never memcmp it). */
static inline bool zn_stat_equal(const struct zn_stat *a, const struct zn_stat *b)
{
    return a->czxid == b->czxid && a->mzxid == b->mzxid && a->ctime == b->ctime &&
           a->mtime == b->mtime && a->version == b->version && a->cversion == b->cversion &&
           a->aversion == b->aversion && a->ephemeral_owner == b->ephemeral_owner &&
           a->data_length == b->data_length && a->num_children == b->num_children &&
           a->pzxid == b->pzxid;
}

/* A length-delimited byte string (not NUL-terminated unless stated). */
struct zn_str {
    const char *ptr;
    uint32_t len;
};

/* One ACL entry: permissions and an identity (scheme:id). */
struct zn_acl_entry {
    uint32_t perms;
    struct zn_str scheme;
    struct zn_str id;
};

/*
 * An authenticated identity of the requesting connection, stamped into each entry by the
 * leader: ("ip", "10.0.0.7"), ("digest", "user:base64(sha1(user:pw))"), ("super", "") ...
 * The digest is computed where the auth packet is received (zn_auth_digest_identity).
 */
struct zn_identity {
    struct zn_str scheme;
    struct zn_str id;
};

/* One request, decoded. Pointers refer to memory the caller keeps alive for the call. */
struct zn_op {
    int32_t type; /* enum zn_opcode */
    struct zn_str path;
    const uint8_t *data; /* create/setData: the data (NULL with data_len 0 = empty) */
    uint32_t data_len;
    bool data_null;  /* create/setData: null data (jute length -1); data NULL, data_len 0 */
    int32_t version; /* delete/setData/setACL/check: expected version, -1 = any */
    int32_t flags;   /* create: enum zn_create_mode */
    int64_t ttl_ms;  /* createTTL: the TTL; -1 otherwise */
    const struct zn_acl_entry *acl; /* create/setACL */
    uint32_t acl_count;
    bool watch;              /* reads: leave a watch (the caller registers it) */
    const struct zn_op *sub; /* multi/multiRead: the sub-operations */
    uint32_t sub_count;
};

#endif /* ZN_STORE_TYPES_H */
