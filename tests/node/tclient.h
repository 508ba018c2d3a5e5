/*
 * tclient.h - a small blocking test client of the native protocol (proto/session.h) for the
 * node's end-to-end test, until libzinc lands: one session, requests one at a time with
 * retransmission (flag RETRY, same seq), failover to the next server keeping the session
 * (CONNECT with id + password), refusals handled as libzinc would.
 */
#ifndef ZN_TESTS_NODE_TCLIENT_H
#define ZN_TESTS_NODE_TCLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/zn_clock.h"
#include "dataplane/zn_dp_msg.h"
#include "dataplane/zn_udp.h"
#include "proto/zk.h"

#define TC_SERVERS_MAX 8
#define TC_QUEUE       128
#define TC_MSG_MAX     4096

struct tclient {
    struct zn_clock clock;
    struct zn_clock_system clock_state;
    struct zn_udp udp;
    struct zn_dp_transport tr;
    struct zn_dp_msgr msgr;
    struct zn_dp_addr servers[TC_SERVERS_MAX];
    unsigned n_servers;
    unsigned cur;
    uint32_t cluster_id;
    uint64_t session;
    uint8_t passwd[16];
    uint32_t timeout_ms;
    uint64_t next_seq;
    uint64_t last_zxid;
    /* the message returned by the last receive, and the queue of messages received */
    uint8_t in[1 << 16];
    uint32_t in_len;
    uint8_t q[TC_QUEUE][TC_MSG_MAX];
    uint32_t q_len[TC_QUEUE];
    uint64_t q_msg_id[TC_QUEUE];
    uint64_t in_msg_id; /* frame msg_id of the message returned by the last receive */
    /* tc_pipeline_sets with lose_odd: answers to retransmissions that carried the msg_id of the
     * reply dropped as lost (the same message resent) or another one */
    uint64_t resent_same_id, resent_new_id;
    /* tc_drain: events seen again (retransmitted, unacked) with their first msg_id or another */
    uint64_t ev_first_id[4096];
    uint64_t ev_resent_same, ev_resent_new;
    unsigned q_head, q_count;
    unsigned failovers;
    uint64_t retransmits;
    uint64_t epoch;     /* connection attempt number, CONNECT.ack */
    uint8_t next_flags; /* ZN_SESS_F_* for the next request (cleared by tc_call) */
};

/* servers: "127.0.0.1:7101,127.0.0.1:7102". 0 or -1. */
int tc_init(struct tclient *c, const char *servers, uint32_t cluster_id);
void tc_fini(struct tclient *c);
/* Open a session (bounded by deadline_ms across servers). 0 or a negative code. */
int tc_connect(struct tclient *c, uint32_t timeout_ms, uint32_t deadline_ms);
/*
 * Send RequestHeader + body bytes (xid filled in) and wait for the reply, retransmitting and
 * failing over as needed within deadline_ms. On success *zk_err is the ReplyHeader err and the
 * reply body is at body/body_len (valid until the next call). Returns 0 or ZN_ETIMEDOUT /
 * ZN_ESESSIONEXPIRED.
 */
int tc_call(struct tclient *c, const uint8_t *req, size_t req_len, uint32_t deadline_ms,
            int32_t *zk_err, const uint8_t **body, size_t *body_len);

/* Helpers building jute requests and checking replies. */
int tc_create(struct tclient *c, const char *path, const char *data, int32_t mode, int32_t *zk_err);
int tc_get(struct tclient *c, const char *path, char *data, size_t cap, int32_t *zk_err);
int tc_set(struct tclient *c, const char *path, const char *data, int32_t *zk_err);
int tc_delete(struct tclient *c, const char *path, int32_t *zk_err);
/* n (<= 64) setData(path, "v<k>") sent at once, newest first (so all but one arrive early),
 * retransmitted until answered; versions[k] = the version in reply k. lose_odd: the first reply
 * to every odd k is ignored (a lost datagram), so its answer must come to a retransmission
 * after later writes applied. 0 or ZN_ETIMEDOUT. */
int tc_pipeline_sets(struct tclient *c, const char *path, int n, int32_t *versions, bool lose_odd,
                     uint32_t deadline_ms);
/* sync(path): the session's next reads see every write committed before it. */
int tc_sync(struct tclient *c, const char *path, int32_t *zk_err);
/* getData/exists leaving a watch (exists: *zk_err NONODE is fine). */
int tc_get_watch(struct tclient *c, const char *path, int32_t *zk_err);
int tc_exists_watch(struct tclient *c, const char *path, int32_t *zk_err);
/* Wait for a watch event (pinging every second to keep the session); acks it. 0 or
 * ZN_ETIMEDOUT. */
int tc_wait_event(struct tclient *c, uint32_t wait_ms, int32_t *type, char *path, size_t cap);

/* addWatch(path, mode) (ZN_ZK_ADDWATCH_*). */
int tc_add_watch(struct tclient *c, const char *path, int32_t mode, int32_t *zk_err);
/* Read every message that arrives within wait_ms of the previous one, acking nothing: counts
 * events into *events and sets *refused to the code of a REFUSED for this session. Returns the
 * number of messages read. */
unsigned tc_drain(struct tclient *c, uint32_t wait_ms, unsigned *events, int32_t *refused);

#endif /* ZN_TESTS_NODE_TCLIENT_H */
