/*
 * zkconv.h - between ZooKeeper's jute bodies (proto/zk.h) and the store's values (store/).
 *
 * A client request arrives as RequestHeader + body (jute); the store executes a struct zn_op
 * (reads on the lcore, writes inside a log entry) and answers with its own reply encoding
 * (store/reply.h), which this file turns back into ReplyHeader + the body ZooKeeper sends for
 * that opcode (zookeeper.jute: CreateResponse, Create2Response, SetDataResponse, ExistsResponse,
 * GetDataResponse, GetACLResponse, GetChildrenResponse, GetChildren2Response, SyncResponse,
 * GetEphemeralsResponse, GetAllChildrenNumberResponse, MultiResponse).
 *
 * Error rules (ZooKeeper's): a reply whose err is not 0 has no body, except multi and
 * multiRead, which carry a per-op result list (a failed op as ErrorResponse) under header err 0.
 *
 * Context: any thread; no state, no allocation.
 */
#ifndef ZN_NODE_ZKCONV_H
#define ZN_NODE_ZKCONV_H

#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "proto/zk.h"
#include "store/types.h"

struct zn_zkconv_scratch {
    struct zn_op ops[ZN_MULTI_OPS_MAX];
    struct zn_acl_entry acls[ZN_STORE_ENTRY_ACLS_MAX];
    uint32_t n_acls;
};

/*
 * The store operation of a decoded request. The op points into req's buffer and scratch.
 * Errors: ZN_EUNIMPLEMENTED (an opcode the store does not execute: ping, auth, setWatches,
 * watch management, reconfig - the session layer handles or refuses those), ZN_EBADARGUMENTS
 * (create mode out of range, TTL mode without a TTL), ZN_EINVALIDACL (more ACL entries than the
 * store takes), ZN_ELIMIT (multi larger than ZN_MULTI_OPS_MAX).
 */
int zn_zkconv_op(const struct zn_zk_request *req, struct zn_zkconv_scratch *scratch,
                 struct zn_op *op);

/*
 * ZooKeeper's error txn for a request that failed to decode (rc from zn_zk_request_decode, req
 * as it left): the error code to log in a ZN_ENTRY_ERROR entry, or 0 when the request is
 * answered at once without a zxid. PrepRequestProcessor (3.9) gives a multi its zxid before it
 * deserializes the body, so a multi that does not deserialize (an op type not allowed in a
 * multi, such as a read; a malformed op) becomes an error txn answering MarshallingError in a
 * new zxid. A reconfig that decodes is an error txn answering ReconfigDisabled (pRequest2Txn
 * takes the zxid before it checks reconfigEnabled). Every other request that fails to decode
 * fails before a zxid is taken. decode_rc 0 with any other opcode: 0.
 */
int zn_zkconv_error_txn(const struct zn_zk_request *req, int decode_rc);

/*
 * Write ReplyHeader{xid, zxid, err} + body for the store reply bytes. Returns 0, ZN_EPROTO
 * (the reply bytes do not decode) or ZN_ELIMIT (the writer is full).
 */
int zn_zkconv_reply(int32_t xid, const uint8_t *reply, size_t len, struct zn_jute_writer *w);

/* A reply with only a header (errors decided by the node: session expired, not read-only...). */
void zn_zkconv_error(int32_t xid, int64_t zxid, int err, struct zn_jute_writer *w);

#endif /* ZN_NODE_ZKCONV_H */
