/*
 * zn_err.h - the one error vocabulary of zinc.
 *
 * Every function returns 0 on success or a negative ZN_E* code (burst functions return counts).
 * The table below is the single source: the enum, the message strings and the mapping to
 * ZooKeeper error codes (ReplyHeader.err, ../shared/zk-protocol.md) are all generated from it.
 * ZooKeeper codes are mapped only at the protocol edge (proto/, mgmt/ TCP port, libzinc).
 *
 * Context: any thread. No state.
 */
#ifndef ZN_ERR_H
#define ZN_ERR_H

/* ZooKeeper's KeeperException.Code values (3.9). */
#define ZN_ZK_ERRORS(X)                      \
    X(ZK_OK, 0)                              \
    X(ZK_SYSTEMERROR, -1)                    \
    X(ZK_RUNTIMEINCONSISTENCY, -2)           \
    X(ZK_DATAINCONSISTENCY, -3)              \
    X(ZK_CONNECTIONLOSS, -4)                 \
    X(ZK_MARSHALLINGERROR, -5)               \
    X(ZK_UNIMPLEMENTED, -6)                  \
    X(ZK_OPERATIONTIMEOUT, -7)               \
    X(ZK_BADARGUMENTS, -8)                   \
    X(ZK_UNKNOWNSESSION, -12)                \
    X(ZK_NEWCONFIGNOQUORUM, -13)             \
    X(ZK_RECONFIGINPROGRESS, -14)            \
    X(ZK_APIERROR, -100)                     \
    X(ZK_NONODE, -101)                       \
    X(ZK_NOAUTH, -102)                       \
    X(ZK_BADVERSION, -103)                   \
    X(ZK_NOCHILDRENFOREPHEMERALS, -108)      \
    X(ZK_NODEEXISTS, -110)                   \
    X(ZK_NOTEMPTY, -111)                     \
    X(ZK_SESSIONEXPIRED, -112)               \
    X(ZK_INVALIDCALLBACK, -113)              \
    X(ZK_INVALIDACL, -114)                   \
    X(ZK_AUTHFAILED, -115)                   \
    X(ZK_SESSIONMOVED, -118)                 \
    X(ZK_NOTREADONLY, -119)                  \
    X(ZK_EPHEMERALONLOCALSESSION, -120)      \
    X(ZK_NOWATCHER, -121)                    \
    X(ZK_REQUESTTIMEOUT, -122)               \
    X(ZK_RECONFIGDISABLED, -123)             \
    X(ZK_SESSIONCLOSEDREQUIRESASLAUTH, -124) \
    X(ZK_QUOTAEXCEEDED, -125)                \
    X(ZK_THROTTLEDOP, -127)

enum zn_zk_err {
#define ZN_ZK_ENUM_(name, value) name = value,
    ZN_ZK_ERRORS(ZN_ZK_ENUM_)
#undef ZN_ZK_ENUM_
};

/*
 * X(name, message, zookeeper code). Codes are numbered from -1 downwards in table order, so
 * append new codes at the end to keep existing values stable (they appear in logs and in the
 * control socket's JSON).
 */
#define ZN_ERRORS(X)                                                                          \
    X(ZN_EINVAL, "invalid argument", ZK_BADARGUMENTS)                                         \
    X(ZN_ENOMEM, "out of memory", ZK_SYSTEMERROR)                                             \
    X(ZN_ELIMIT, "a configured limit was exceeded", ZK_BADARGUMENTS)                          \
    X(ZN_EAGAIN, "resource temporarily unavailable, try again", ZK_THROTTLEDOP)               \
    X(ZN_EFULL, "queue or pool full (backpressure)", ZK_THROTTLEDOP)                          \
    X(ZN_EIO, "input/output error", ZK_SYSTEMERROR)                                           \
    X(ZN_ENOSPC, "no space left on device", ZK_SYSTEMERROR)                                   \
    X(ZN_ENOENT, "no such file or object", ZK_SYSTEMERROR)                                    \
    X(ZN_ECORRUPT, "data corruption detected (checksum or structure)", ZK_DATAINCONSISTENCY)  \
    X(ZN_EPROTO, "malformed or unexpected message", ZK_MARSHALLINGERROR)                      \
    X(ZN_EVERSION, "unsupported format or protocol version", ZK_MARSHALLINGERROR)             \
    X(ZN_ECLUSTER, "message or file belongs to another cluster or node", ZK_MARSHALLINGERROR) \
    X(ZN_ENOTSUP, "operation not supported", ZK_UNIMPLEMENTED)                                \
    X(ZN_ETIMEDOUT, "operation timed out", ZK_OPERATIONTIMEOUT)                               \
    X(ZN_ECONNLOSS, "connection to the server lost", ZK_CONNECTIONLOSS)                       \
    X(ZN_ENOTLEADER, "this node is not the leader", ZK_CONNECTIONLOSS)                        \
    X(ZN_ENOLEADER, "no leader is known", ZK_CONNECTIONLOSS)                                  \
    X(ZN_ESHUTDOWN, "shutting down", ZK_CONNECTIONLOSS)                                       \
    X(ZN_EBUSY, "another change is in progress", ZK_RECONFIGINPROGRESS)                       \
    X(ZN_ENOQUORUM, "the new configuration has no quorum", ZK_NEWCONFIGNOQUORUM)              \
    X(ZN_ESTALE, "stale term, index or configuration", ZK_RUNTIMEINCONSISTENCY)               \
    X(ZN_EREPAIR, "node is in repair state (damaged log being replaced)", ZK_SYSTEMERROR)     \
    X(ZN_ECANCELED, "operation canceled", ZK_CONNECTIONLOSS)                                  \
    X(ZN_ESYSTEM, "internal system error", ZK_SYSTEMERROR)                                    \
    X(ZN_EINCONSISTENT, "runtime inconsistency", ZK_RUNTIMEINCONSISTENCY)                     \
    X(ZN_EDATAINCONSISTENT, "data inconsistency between replicas", ZK_DATAINCONSISTENCY)      \
    X(ZN_EMARSHALLING, "error marshalling or unmarshalling a message", ZK_MARSHALLINGERROR)   \
    X(ZN_EUNIMPLEMENTED, "operation is unimplemented", ZK_UNIMPLEMENTED)                      \
    X(ZN_EBADARGUMENTS, "invalid arguments", ZK_BADARGUMENTS)                                 \
    X(ZN_EUNKNOWNSESSION, "unknown session", ZK_UNKNOWNSESSION)                               \
    X(ZN_EAPI, "API error", ZK_APIERROR)                                                      \
    X(ZN_ENONODE, "no node", ZK_NONODE)                                                       \
    X(ZN_ENOAUTH, "not authenticated", ZK_NOAUTH)                                             \
    X(ZN_EBADVERSION, "bad version", ZK_BADVERSION)                                           \
    X(ZN_ENOCHILDRENFOREPHEMERALS, "ephemeral nodes may not have children",                   \
      ZK_NOCHILDRENFOREPHEMERALS)                                                             \
    X(ZN_ENODEEXISTS, "node exists", ZK_NODEEXISTS)                                           \
    X(ZN_ENOTEMPTY, "directory not empty", ZK_NOTEMPTY)                                       \
    X(ZN_ESESSIONEXPIRED, "session expired", ZK_SESSIONEXPIRED)                               \
    X(ZN_EINVALIDCALLBACK, "invalid callback", ZK_INVALIDCALLBACK)                            \
    X(ZN_EINVALIDACL, "invalid ACL", ZK_INVALIDACL)                                           \
    X(ZN_EAUTHFAILED, "authentication failed", ZK_AUTHFAILED)                                 \
    X(ZN_ESESSIONMOVED, "session moved to another server", ZK_SESSIONMOVED)                   \
    X(ZN_ENOTREADONLY, "not a read-only call", ZK_NOTREADONLY)                                \
    X(ZN_EEPHEMERALONLOCALSESSION, "ephemeral node on a local session",                       \
      ZK_EPHEMERALONLOCALSESSION)                                                             \
    X(ZN_ENOWATCHER, "no such watcher", ZK_NOWATCHER)                                         \
    X(ZN_EREQUESTTIMEOUT, "request timed out", ZK_REQUESTTIMEOUT)                             \
    X(ZN_ERECONFIGDISABLED, "reconfiguration is disabled", ZK_RECONFIGDISABLED)               \
    X(ZN_ESESSIONCLOSEDREQUIRESASLAUTH, "session closed: SASL authentication required",       \
      ZK_SESSIONCLOSEDREQUIRESASLAUTH)                                                        \
    X(ZN_EQUOTAEXCEEDED, "quota exceeded", ZK_QUOTAEXCEEDED)                                  \
    X(ZN_ETHROTTLED, "operation throttled", ZK_THROTTLEDOP)

/* Table positions 1..N (internal), from which the values below are derived. */
enum zn_err_index_ {
    ZN_ERR_INDEX_BASE_ = 0,
#define ZN_ERR_INDEX_(name, msg, zk) name##_INDEX_,
    ZN_ERRORS(ZN_ERR_INDEX_)
#undef ZN_ERR_INDEX_
        ZN_ERR_INDEX_END_
};

/* Values: ZN_EINVAL == -1, ZN_ENOMEM == -2, ... (table order). */
enum zn_err {
    ZN_OK = 0,
#define ZN_ERR_VALUE_(name, msg, zk) name = -(int)name##_INDEX_,
    ZN_ERRORS(ZN_ERR_VALUE_)
#undef ZN_ERR_VALUE_
};

#define ZN_ERR_COUNT ((int)ZN_ERR_INDEX_END_ - 1)

/* Message for a code (0 or negative); "unknown error" for anything outside the table. */
const char *zn_strerror(int err);

/* Symbolic name ("ZN_ENONODE"), or "ZN_E?" for an unknown code. */
const char *zn_err_name(int err);

/* ZooKeeper ReplyHeader.err for a zinc code; ZK_SYSTEMERROR for unknown codes. */
int zn_err_to_zk(int err);

/*
 * zinc code for a ZooKeeper error code, for decoding replies from ZooKeeper servers.
 * The preferred zinc code is the one whose name matches the ZooKeeper code (ZN_ENONODE for
 * ZK_NONODE, ...). Unknown ZooKeeper codes give ZN_ESYSTEM.
 */
int zn_err_from_zk(int zk_err);

/* ZooKeeper's own name of a ZooKeeper code ("NONODE"), or "UNKNOWN". */
const char *zn_zk_err_name(int zk_err);

/* Map a negated errno (e.g. -EIO) to a zinc code. */
int zn_err_from_errno(int negative_errno);

#endif /* ZN_ERR_H */
