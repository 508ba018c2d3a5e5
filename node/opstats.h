/*
 * opstats.h - per-operation latency histograms of client requests, recorded by the node.
 *
 * Latency = from the first in-order receipt of a request (after its jute body decoded) to the
 * moment its reply is handed to the transport (node_send_reply), in nanoseconds of the node's
 * monotonic clock. It is the server-side latency (ZooKeeper's request latency), including Raft
 * replication for writes and the ReadIndex round for linearizable reads; it excludes the network
 * to the client. Requests answered without a reply (watch registrations answered inline are
 * counted too: they go through node_send_reply) or whose reply is lost with the node are not
 * recorded; a pending slot overwritten by a colliding request is counted in `evicted`.
 *
 * Operations are grouped in ZN_OPSTATS_OPS classes named like ZooKeeper's opcodes (create,
 * delete, exists, getData, setData, getACL, setACL, getChildren, sync, multi, ...), plus
 * "other". One zn_hist (common/zn_hist.h) per class.
 *
 * API for the integrator (metrics endpoint): zn_opstats_op_count/zn_opstats_op_name enumerate
 * the classes; zn_opstats_copy gives a copy of one class's histogram, zn_opstats_evicted the
 * evictions.
 *
 * Context: one writer, the lcore that runs the node's stages (begin/end). zn_opstats_copy and
 * the other readers must run on that lcore too (a control message, node/node.h), because the
 * histograms are not published atomically. No allocation after zn_opstats_create.
 */
#ifndef ZN_NODE_OPSTATS_H
#define ZN_NODE_OPSTATS_H

#include <stdint.h>

#include "common/zn_hist.h"

#define ZN_OPSTATS_OPS 16 /* operation classes (see opstats.c for the opcode map) */

struct zn_opstats;

/* Allocate the table (about ZN_OPSTATS_OPS x 58 KiB of histograms plus the pending slots).
 * 0 or ZN_ENOMEM. Context: start-up. */
int zn_opstats_create(struct zn_opstats **out);
void zn_opstats_destroy(struct zn_opstats *os);

/* A request (session, seq) of ZooKeeper opcode `opcode` was received at now_ns. */
void zn_opstats_begin(struct zn_opstats *os, uint64_t session, uint64_t seq, int32_t opcode,
                      uint64_t now_ns);
/* Its reply leaves at now_ns: records the latency once (a second reply is ignored). */
void zn_opstats_end(struct zn_opstats *os, uint64_t session, uint64_t seq, uint64_t now_ns);

unsigned zn_opstats_op_count(void);
const char *zn_opstats_op_name(unsigned op);
/* Copy class op's histogram into *out (which is overwritten). */
void zn_opstats_copy(const struct zn_opstats *os, unsigned op, struct zn_hist *out);
/* Class op's histogram itself (NULL for a bad op); read it only on the recording lcore. */
const struct zn_hist *zn_opstats_hist(const struct zn_opstats *os, unsigned op);
/* Pending slots overwritten before their reply (requests not recorded). */
uint64_t zn_opstats_evicted(const struct zn_opstats *os);
/* Forget every recorded value (zincctl latency --reset). */
void zn_opstats_reset(struct zn_opstats *os);

#endif /* ZN_NODE_OPSTATS_H */
