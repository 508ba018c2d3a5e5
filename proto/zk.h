/*
 * zk.h - ZooKeeper protocol records (3.9) over the jute primitives: opcodes, Stat, ACLs,
 * requests, replies, watch events and the connect handshake. Shared by the native UDP protocol
 * (bodies are jute), the ZooKeeper TCP port and libzinc. Field orders follow
 * zookeeper-jute/src/main/resources/zookeeper.jute (see ../shared/zk-protocol.md).
 *
 * Decoding is zero-copy and allocation-free: paths, data, string vectors and ACL lists are views
 * into the input buffer, validated completely (every element of every vector, every multi op) by
 * the decode call, so later iteration cannot fail. Limits (data size, path length, multi op
 * count) are enforced while decoding with ZN_ELIMIT, before anything is used.
 *
 * Compatibility choices (documented in docs/wire-format.md): trailing bytes after a request body
 * are ignored as ZooKeeper's stream deserializer ignores them; the ConnectRequest's readOnly flag
 * is optional (44- or 45-byte bodies from older clients).
 *
 * Context: any thread; no state.
 */
#ifndef ZN_PROTO_ZK_H
#define ZN_PROTO_ZK_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/jute.h"

enum zn_zk_op {
    ZN_ZK_OP_NOTIFICATION = 0,
    ZN_ZK_OP_CREATE = 1,
    ZN_ZK_OP_DELETE = 2,
    ZN_ZK_OP_EXISTS = 3,
    ZN_ZK_OP_GETDATA = 4,
    ZN_ZK_OP_SETDATA = 5,
    ZN_ZK_OP_GETACL = 6,
    ZN_ZK_OP_SETACL = 7,
    ZN_ZK_OP_GETCHILDREN = 8,
    ZN_ZK_OP_SYNC = 9,
    ZN_ZK_OP_PING = 11,
    ZN_ZK_OP_GETCHILDREN2 = 12,
    ZN_ZK_OP_CHECK = 13,
    ZN_ZK_OP_MULTI = 14,
    ZN_ZK_OP_CREATE2 = 15,
    ZN_ZK_OP_RECONFIG = 16,
    ZN_ZK_OP_CHECKWATCHES = 17,
    ZN_ZK_OP_REMOVEWATCHES = 18,
    ZN_ZK_OP_CREATECONTAINER = 19,
    ZN_ZK_OP_DELETECONTAINER = 20,
    ZN_ZK_OP_CREATETTL = 21,
    ZN_ZK_OP_MULTIREAD = 22,
    ZN_ZK_OP_AUTH = 100,
    ZN_ZK_OP_SETWATCHES = 101,
    ZN_ZK_OP_SASL = 102,
    ZN_ZK_OP_GETEPHEMERALS = 103,
    ZN_ZK_OP_GETALLCHILDRENNUMBER = 104,
    ZN_ZK_OP_SETWATCHES2 = 105,
    ZN_ZK_OP_ADDWATCH = 106,
    ZN_ZK_OP_WHOAMI = 107,
    ZN_ZK_OP_CREATESESSION = -10,
    ZN_ZK_OP_CLOSESESSION = -11,
    ZN_ZK_OP_ERROR = -1,
};

/* Reserved xids. */
enum {
    ZN_ZK_XID_WATCH_EVENT = -1,
    ZN_ZK_XID_PING = -2,
    ZN_ZK_XID_AUTH = -4,
    ZN_ZK_XID_SET_WATCHES = -8,
};

/* CreateMode flags. */
enum zn_zk_create_mode {
    ZN_ZK_PERSISTENT = 0,
    ZN_ZK_EPHEMERAL = 1,
    ZN_ZK_PERSISTENT_SEQUENTIAL = 2,
    ZN_ZK_EPHEMERAL_SEQUENTIAL = 3,
    ZN_ZK_CONTAINER = 4,
    ZN_ZK_PERSISTENT_WITH_TTL = 5,
    ZN_ZK_PERSISTENT_SEQUENTIAL_WITH_TTL = 6,
};

enum zn_zk_event_type {
    ZN_ZK_EVENT_NONE = -1,
    ZN_ZK_EVENT_NODE_CREATED = 1,
    ZN_ZK_EVENT_NODE_DELETED = 2,
    ZN_ZK_EVENT_NODE_DATA_CHANGED = 3,
    ZN_ZK_EVENT_NODE_CHILDREN_CHANGED = 4,
    ZN_ZK_EVENT_DATA_WATCH_REMOVED = 5,
    ZN_ZK_EVENT_CHILD_WATCH_REMOVED = 6,
    ZN_ZK_EVENT_PERSISTENT_WATCH_REMOVED = 7,
};

enum zn_zk_keeper_state {
    ZN_ZK_STATE_DISCONNECTED = 0,
    ZN_ZK_STATE_SYNC_CONNECTED = 3,
    ZN_ZK_STATE_AUTH_FAILED = 4,
    ZN_ZK_STATE_CONNECTED_READ_ONLY = 5,
    ZN_ZK_STATE_SASL_AUTHENTICATED = 6,
    ZN_ZK_STATE_CLOSED = 7,
    ZN_ZK_STATE_EXPIRED = -112,
};

/* removeWatches/checkWatches WatcherType, addWatch AddWatchMode. */
enum { ZN_ZK_WATCHER_CHILDREN = 1, ZN_ZK_WATCHER_DATA = 2, ZN_ZK_WATCHER_ANY = 3 };
enum { ZN_ZK_ADDWATCH_PERSISTENT = 0, ZN_ZK_ADDWATCH_PERSISTENT_RECURSIVE = 1 };

enum {
    ZN_ZK_PERM_READ = 1,
    ZN_ZK_PERM_WRITE = 2,
    ZN_ZK_PERM_CREATE = 4,
    ZN_ZK_PERM_DELETE = 8,
    ZN_ZK_PERM_ADMIN = 16,
    ZN_ZK_PERM_ALL = 31,
};

/* True for an opcode this codec decodes as a request. */
bool zn_zk_op_known(int32_t op);
/* "create", "getData", ...; "unknown" otherwise. */
const char *zn_zk_op_name(int32_t op);
/* True for an opcode that changes state (goes through Raft). */
bool zn_zk_op_is_write(int32_t op);

struct zn_zk_stat {
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

#define ZN_ZK_STAT_BYTES 68

struct zn_zk_acl {
    int32_t perms;
    struct zn_bytes scheme;
    struct zn_bytes id;
};

/* A validated vector<ACL> or vector<ustring>, iterated with the functions below. */
struct zn_zk_vec {
    int32_t count;
    struct zn_bytes raw; /* the encoded elements after the count */
};

struct zn_zk_vec_iter {
    struct zn_jute_reader r;
    int32_t left;
};

void zn_zk_vec_iter_init(struct zn_zk_vec_iter *it, const struct zn_zk_vec *v);
/* Next element; false at the end. Elements were validated by the decode that made the vector. */
bool zn_zk_vec_next_string(struct zn_zk_vec_iter *it, struct zn_bytes *out);
bool zn_zk_vec_next_acl(struct zn_zk_vec_iter *it, struct zn_zk_acl *out);

/* Limits applied while decoding requests (defaults from common/zn_limits.h). */
struct zn_zk_limits {
    int32_t data_bytes_max;
    int32_t path_bytes_max;
    int32_t multi_ops_max;
    int32_t acl_entries_max;
};

void zn_zk_limits_default(struct zn_zk_limits *lim);

struct zn_zk_request {
    int32_t xid;
    int32_t type;
    union {
        /* create, create2, createContainer (flags forced), createTTL (ttl set) */
        struct {
            struct zn_bytes path;
            struct zn_bytes data;
            struct zn_zk_vec acl;
            int32_t flags;
            int64_t ttl; /* 0 unless createTTL */
        } create;
        /* delete, check (CheckVersionRequest), deleteContainer */
        struct {
            struct zn_bytes path;
            int32_t version;
        } versioned;
        /* exists, getData, getChildren, getChildren2 */
        struct {
            struct zn_bytes path;
            bool watch;
        } read;
        struct {
            struct zn_bytes path;
            struct zn_bytes data;
            int32_t version;
        } set_data;
        /* getACL, sync, getAllChildrenNumber, getEphemerals (prefixPath) */
        struct {
            struct zn_bytes path;
        } path;
        struct {
            struct zn_bytes path;
            struct zn_zk_vec acl;
            int32_t version;
        } set_acl;
        /* checkWatches, removeWatches (type = WatcherType) and addWatch (type = mode) */
        struct {
            struct zn_bytes path;
            int32_t type;
        } watch;
        struct {
            int32_t type;
            struct zn_bytes scheme;
            struct zn_bytes auth;
        } auth;
        /* setWatches (persistent vectors empty) and setWatches2 */
        struct {
            int64_t relative_zxid;
            struct zn_zk_vec data;
            struct zn_zk_vec exist;
            struct zn_zk_vec child;
            struct zn_zk_vec persistent;
            struct zn_zk_vec persistent_recursive;
        } set_watches;
        /* multi, multiRead: the validated op records, iterated with zn_zk_multi_next */
        struct {
            int32_t count;
            struct zn_bytes raw;
        } multi;
        struct {
            struct zn_bytes joining;
            struct zn_bytes leaving;
            struct zn_bytes new_members;
            int64_t cur_config_id;
        } reconfig;
    } u;
};

/*
 * Decode RequestHeader + body. Returns 0, ZN_EPROTO (malformed), ZN_ELIMIT (a limit exceeded),
 * or ZN_EUNIMPLEMENTED (unknown opcode; req->xid and req->type are still filled so the caller
 * can answer with the right xid). ping, closeSession, whoAmI and getConfig-less ops have no body.
 */
int zn_zk_request_decode(const void *buf, size_t len, const struct zn_zk_limits *lim,
                         struct zn_zk_request *req);

/* Encode RequestHeader + body (client side). Returns bytes written or ZN_ELIMIT/ZN_EINVAL. */
long zn_zk_request_encode(const struct zn_zk_request *req, void *buf, size_t cap);

struct zn_zk_multi_iter {
    struct zn_jute_reader r;
    int32_t left;
    bool read_only; /* multiRead */
};

void zn_zk_multi_iter_init(struct zn_zk_multi_iter *it, const struct zn_zk_request *multi);
/* Next op of a validated multi as a request (xid 0); false at the end. */
bool zn_zk_multi_next(struct zn_zk_multi_iter *it, struct zn_zk_request *op);

/* Writers for building a multi request body: header + op, then the end marker. */
void zn_zk_put_multi_op(struct zn_jute_writer *w, const struct zn_zk_request *op);
void zn_zk_put_multi_end(struct zn_jute_writer *w);

/* ---- replies ---------------------------------------------------------------------------- */

struct zn_zk_reply_header {
    int32_t xid;
    int64_t zxid;
    int32_t err; /* ZooKeeper code (zn_err_to_zk) */
};

void zn_zk_put_reply_header(struct zn_jute_writer *w, const struct zn_zk_reply_header *h);
int zn_zk_get_reply_header(struct zn_jute_reader *r, struct zn_zk_reply_header *h);
void zn_zk_put_stat(struct zn_jute_writer *w, const struct zn_zk_stat *st);
void zn_zk_get_stat(struct zn_jute_reader *r, struct zn_zk_stat *st);
void zn_zk_put_acl(struct zn_jute_writer *w, const struct zn_zk_acl *acls, int32_t count);
/* Decode a vector<ACL> view (validating every entry). */
void zn_zk_get_acl_vec(struct zn_jute_reader *r, int32_t max_entries, struct zn_zk_vec *out);
/* Decode a vector<ustring> view (validating every entry against max_len). */
void zn_zk_get_string_vec(struct zn_jute_reader *r, int32_t max_len, struct zn_zk_vec *out);
void zn_zk_put_strings(struct zn_jute_writer *w, const struct zn_bytes *items, int32_t count);

/* WatcherEvent{type, state, path}, sent with ReplyHeader{xid -1, zxid, err 0}. */
struct zn_zk_watch_event {
    int32_t type;
    int32_t state;
    struct zn_bytes path;
};

void zn_zk_put_watch_event(struct zn_jute_writer *w, const struct zn_zk_watch_event *ev);
int zn_zk_get_watch_event(struct zn_jute_reader *r, struct zn_zk_watch_event *ev);

/* Multi reply entries: MultiHeader{type, false, err} + result; error entries carry type -1 and
 * ErrorResponse{err}; the end marker is MultiHeader{-1, true, -1}. */
void zn_zk_put_multi_result_header(struct zn_jute_writer *w, int32_t type, int32_t err);
void zn_zk_put_multi_result_error(struct zn_jute_writer *w, int32_t zk_err);

/* ---- connect handshake ------------------------------------------------------------------ */

#define ZN_ZK_PASSWD_BYTES 16

struct zn_zk_connect_request {
    int32_t protocol_version;
    int64_t last_zxid_seen;
    int32_t timeout_ms;
    int64_t session_id;
    struct zn_bytes passwd;
    bool read_only;
    bool has_read_only; /* false for the 44-byte form of older clients */
};

struct zn_zk_connect_response {
    int32_t protocol_version;
    int32_t timeout_ms;
    int64_t session_id;
    struct zn_bytes passwd;
    bool read_only;
};

int zn_zk_connect_request_decode(const void *buf, size_t len, struct zn_zk_connect_request *req);
long zn_zk_connect_request_encode(const struct zn_zk_connect_request *req, void *buf, size_t cap);
long zn_zk_connect_response_encode(const struct zn_zk_connect_response *resp, void *buf,
                                   size_t cap);
int zn_zk_connect_response_decode(const void *buf, size_t len, struct zn_zk_connect_response *resp);

#endif /* ZN_PROTO_ZK_H */
