/*
 * node_msgid.c - client messages sent with a chosen frame message id.
 *
 * A reply resent from the reply cache and a watch event retransmitted until acked are the same
 * message as their first sending, so they carry the same frame msg_id (proto/frame.h): a client
 * (or a capture) recognises a retransmission as such, and segments of a large message sent twice
 * belong to one reassembly instead of two. The messenger numbers messages itself; this borrows
 * its counter for one send.
 */
#include "node/internal.h"
#include "node/zkport.h"

uint64_t node_send_client_msg(struct zn_node *n, const struct zn_dp_addr *dst, const uint8_t *msg,
                              uint32_t len, uint64_t msg_id)
{
    if (dst->ip == ZN_ZKPORT_IP && n->zk) {
        /* a ZooKeeper TCP connection (node/zkport.h): the port's ring, where TCP orders and
         * retransmits; the message id is only the node's own bookkeeping there */
        zn_zkport_link_send(n->zk, dst->port, msg, len);
        return msg_id ? msg_id : 1;
    }
    uint64_t next = n->msgr->next_msg_id;
    uint64_t id = msg_id ? msg_id : next;
    n->msgr->next_msg_id = id;
    zn_dp_msgr_send(n->msgr, dst, ZN_FRAME_SERVER, 0, msg, len, node_now(n));
    n->msgr->next_msg_id = msg_id ? next : next + 1;
    return id;
}
