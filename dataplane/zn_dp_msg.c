/*
 * dataplane/zn_dp_msg.c - framed messages over a transport (see zn_dp_msg.h).
 *
 * Send: a transport with send_frames (the DPDK stack) encodes each frame straight into its
 * packet buffer; otherwise frames are encoded into per-instance buffers, ZN_DP_BURST_MAX at a
 * time, and handed to send_burst. Receive: each datagram is decoded (every refusal is counted
 * by its reason) and passed to reassembly; single-segment messages are delivered in place
 * without a copy.
 */
#include "dataplane/zn_dp_msg.h"

#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"

int zn_dp_msgr_init(struct zn_dp_msgr *m, struct zn_dp_transport *t, uint32_t cluster_id,
                    uint8_t self_node, uint32_t reasm_slots, uint64_t reasm_bytes,
                    uint64_t reasm_timeout_ns)
{
    memset(m, 0, sizeof(*m));
    if (t == NULL)
        return ZN_EINVAL;
    m->transport = t;
    m->expect.cluster_id = cluster_id;
    m->expect.self_node = self_node;
    m->next_msg_id = 1;
    return zn_reasm_init(&m->reasm, reasm_slots, reasm_bytes, reasm_timeout_ns);
}

void zn_dp_msgr_fini(struct zn_dp_msgr *m)
{
    zn_reasm_fini(&m->reasm);
}

/* Frames handed to a transport that encodes them in its own buffers (send_frames). */
static int send_frames(struct zn_dp_msgr *m, const struct zn_dp_addr *dst,
                       const struct zn_frame_hdr *base, const uint8_t *bytes, uint32_t len,
                       uint64_t now_ns)
{
    uint32_t count = zn_frame_seg_count(len);
    for (uint32_t first = 0; first < count; first += ZN_DP_BURST_MAX) {
        struct zn_frame_hdr h[ZN_DP_BURST_MAX];
        struct zn_dp_frame_out f[ZN_DP_BURST_MAX];
        unsigned k = 0;
        for (uint32_t i = first; i < count && k < ZN_DP_BURST_MAX; i++, k++) {
            long off = zn_frame_segment(base, len, i, &h[k]);
            ZN_ASSERT(off >= 0);
            f[k].peer = *dst;
            f[k].hdr = &h[k];
            f[k].payload = h[k].payload_len ? bytes + off : NULL;
        }
        int sent = m->transport->ops->send_frames(m->transport->ctx, f, k, now_ns);
        m->stats.tx_frames += (uint64_t)sent;
        if ((unsigned)sent < k) {
            m->stats.tx_backpressure++;
            return ZN_EFULL;
        }
    }
    return 0;
}

int zn_dp_msgr_send(struct zn_dp_msgr *m, const struct zn_dp_addr *dst, uint8_t type,
                    uint8_t receiver, const void *msg, uint32_t len, uint64_t now_ns)
{
    if (len > ZN_MSG_SIZE_MAX_BYTES)
        return ZN_ELIMIT;
    struct zn_frame_hdr base;
    memset(&base, 0, sizeof(base));
    base.type = type;
    base.sender = m->expect.self_node;
    base.receiver = receiver;
    base.cluster_id = m->expect.cluster_id;
    base.msg_id = m->next_msg_id++;
    const uint8_t *bytes = msg;
    if (m->transport->ops->send_frames != NULL) {
        int rc = send_frames(m, dst, &base, bytes, len, now_ns);
        if (rc == 0)
            m->stats.tx_msgs++;
        return rc;
    }
    uint32_t count = zn_frame_seg_count(len);
    for (uint32_t first = 0; first < count; first += ZN_DP_BURST_MAX) {
        struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
        unsigned k = 0;
        for (uint32_t i = first; i < count && k < ZN_DP_BURST_MAX; i++, k++) {
            struct zn_frame_hdr h;
            long off = zn_frame_segment(&base, len, i, &h);
            ZN_ASSERT(off >= 0);
            int n = zn_frame_encode(&h, h.payload_len ? bytes + off : NULL, m->tx_buf[k],
                                    sizeof(m->tx_buf[k]));
            ZN_ASSERT(n > 0);
            dg[k].peer = *dst;
            dg[k].data = m->tx_buf[k];
            dg[k].len = (uint32_t)n;
        }
        int sent = zn_dp_send(m->transport, dg, k, now_ns);
        m->stats.tx_frames += (uint64_t)sent;
        if ((unsigned)sent < k) {
            m->stats.tx_backpressure++;
            return ZN_EFULL;
        }
    }
    m->stats.tx_msgs++;
    return 0;
}

static void count_refusal(struct zn_dp_msgr *m, int rc)
{
    switch (rc) {
    case ZN_EVERSION:
        m->stats.drop_version++;
        break;
    case ZN_ECORRUPT:
        m->stats.drop_checksum++;
        break;
    case ZN_ECLUSTER:
        m->stats.drop_cluster++;
        break;
    case ZN_ENOTSUP:
        m->stats.drop_mac++;
        break;
    case ZN_ELIMIT:
        m->stats.drop_oversize++;
        break;
    default:
        m->stats.drop_malformed++;
        break;
    }
}

int zn_dp_msgr_poll(struct zn_dp_msgr *m, uint64_t now_ns, zn_dp_msg_handler handler, void *ctx)
{
    struct zn_dp_dgram dg[ZN_DP_BURST_MAX];
    int n = zn_dp_recv(m->transport, dg, ZN_DP_BURST_MAX, now_ns);
    for (int i = 0; i < n; i++) {
        m->stats.rx_frames++;
        struct zn_frame_hdr h;
        int rc = zn_frame_decode(dg[i].data, dg[i].len, &m->expect, &h);
        if (rc != 0) {
            count_refusal(m, rc);
            continue;
        }
        struct zn_reasm_msg msg;
        uint64_t source = ((uint64_t)dg[i].peer.ip << 16) | dg[i].peer.port;
        rc = zn_reasm_add(&m->reasm, &h, dg[i].data + ZN_FRAME_HDR_BYTES, source, now_ns, &msg);
        if (rc < 0) {
            m->stats.drop_reasm++;
            continue;
        }
        if (rc == 1) {
            m->stats.rx_msgs++;
            handler(ctx, &dg[i].peer, &msg);
            zn_reasm_msg_release(&m->reasm, &msg);
        }
    }
    return n;
}

void zn_dp_msgr_housekeeping(struct zn_dp_msgr *m, uint64_t now_ns)
{
    zn_reasm_expire(&m->reasm, now_ns);
    m->transport->ops->housekeeping(m->transport->ctx, now_ns);
}
