/*
 * dataplane/zn_dp_stack.c - Ethernet/ARP/IPv4/UDP/ICMP on one port queue (see zn_dp_stack.h).
 *
 * Invariants:
 *  - every received frame is either delivered (its mbuf held until the next recv), transmitted
 *    (ARP reply, ICMP echo reply, in place), or freed with exactly one drop_ counter incremented;
 *  - the ARP cache is compact: arp[0..n_arp) are in use, an INCOMPLETE entry holds at most
 *    ZN_ARP_HOLD_MAX frames and is retried at most ZN_ARP_RETRIES times, then its frames are
 *    dropped (drop_arp_unresolved);
 *  - nothing here blocks; transmissions are flushed before each public call returns.
 * Untrusted header fields are checked against the frame length before they are used.
 */
#include "dataplane/zn_dp_stack.h"

#include <stdatomic.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "common/zn_log.h"
#include "dataplane/zn_dp_cksum.h"
#include "proto/frame.h"

#define ETH_LEN    ((uint32_t)sizeof(struct rte_ether_hdr))
#define IP_LEN     ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define UDP_LEN    ((uint32_t)sizeof(struct rte_udp_hdr))
#define ARP_LEN    ((uint32_t)sizeof(struct rte_arp_hdr))
#define MIN_FRAME  60u
#define TX_RETRIES 3
#define TX_CAP     (ZN_DP_BURST_MAX * 2)

static const uint8_t BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ---- transmit ---------------------------------------------------------------------------- */

static void tx_flush(struct zn_dp_stack *s)
{
    unsigned done = 0;
    for (int tries = 0; tries < TX_RETRIES && done < s->n_tx; tries++)
        done += rte_eth_tx_burst(s->cfg.port_id, s->cfg.queue, s->tx + done,
                                 (uint16_t)(s->n_tx - done));
    s->stats.tx_frames += done;
    if (done < s->n_tx) {
        s->stats.drop_tx_full += s->n_tx - done;
        rte_pktmbuf_free_bulk(s->tx + done, s->n_tx - done);
    }
    s->n_tx = 0;
}

static void tx_add(struct zn_dp_stack *s, struct rte_mbuf *m)
{
    if (s->n_tx == TX_CAP)
        tx_flush(s);
    s->tx[s->n_tx++] = m;
}

/* ---- ARP cache --------------------------------------------------------------------------- */

/* Age of a time stamp at now_ns, 0 when it is later than now_ns: stamps come from other
 * queues' clock reads (the directory, published by queue 0), which may be a little later than
 * this queue's `now`; a plain difference would wrap and read as expired at once
 * (tests/dataplane test_ring "arp_directory_stamp_ahead_of_reader"). */
static uint64_t age_ns(uint64_t now_ns, uint64_t then_ns)
{
    return now_ns > then_ns ? now_ns - then_ns : 0;
}

static struct zn_arp_entry *arp_find(struct zn_dp_stack *s, uint32_t ip)
{
    for (unsigned i = 0; i < s->n_arp; i++) {
        if (s->arp[i].ip == ip)
            return &s->arp[i];
    }
    return NULL;
}

static void arp_remove(struct zn_dp_stack *s, struct zn_arp_entry *e)
{
    ZN_ASSERT(e->n_hold == 0 && s->n_arp > 0);
    struct zn_arp_entry *last = &s->arp[s->n_arp - 1];
    if (e != last)
        *e = *last;
    memset(last, 0, sizeof(*last));
    s->n_arp--;
}

/* A new entry: a free one, else evict the oldest learned (never static or incomplete). */
static struct zn_arp_entry *arp_alloc(struct zn_dp_stack *s, uint32_t ip)
{
    if (s->n_arp == ZN_ARP_ENTRIES_MAX) {
        struct zn_arp_entry *oldest = NULL;
        for (unsigned i = 0; i < s->n_arp; i++) {
            struct zn_arp_entry *e = &s->arp[i];
            if (e->state == ZN_ARP_REACHABLE &&
                (oldest == NULL || e->updated_ns < oldest->updated_ns))
                oldest = e;
        }
        if (oldest == NULL)
            return NULL;
        arp_remove(s, oldest);
    }
    struct zn_arp_entry *e = &s->arp[s->n_arp++];
    memset(e, 0, sizeof(*e));
    e->ip = ip;
    return e;
}

static void arp_send_request(struct zn_dp_stack *s, uint32_t ip)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(s->cfg.pool);
    if (m == NULL) {
        s->stats.tx_no_mbuf++;
        return;
    }
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(m, MIN_FRAME);
    ZN_ASSERT(p != NULL);
    memset(p, 0, MIN_FRAME);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    memcpy(eth->dst_addr.addr_bytes, BROADCAST, 6);
    memcpy(eth->src_addr.addr_bytes, s->mac, 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + ETH_LEN);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    memcpy(arp->arp_data.arp_sha.addr_bytes, s->mac, 6);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(s->cfg.ip);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(ip);
    s->stats.arp_req_out++;
    tx_add(s, m);
}

static void arp_release_held(struct zn_dp_stack *s, struct zn_arp_entry *e)
{
    for (unsigned i = 0; i < e->n_hold; i++) {
        struct rte_ether_hdr *eth = rte_pktmbuf_mtod(e->hold[i], struct rte_ether_hdr *);
        memcpy(eth->dst_addr.addr_bytes, e->mac, 6);
        tx_add(s, e->hold[i]);
        e->hold[i] = NULL;
    }
    e->n_hold = 0;
}

/* ---- ARP directory shared by the queues of a port (seqlock; see zn_dp_stack.h) ---------- */

void zn_dp_arp_dir_init(struct zn_dp_arp_dir *d)
{
    for (unsigned i = 0; i < ZN_ARP_ENTRIES_MAX; i++) {
        atomic_init(&d->e[i].seq, 0);
        atomic_init(&d->e[i].ip, 0);
        atomic_init(&d->e[i].mac, 0);
        atomic_init(&d->e[i].learned_ns, 0);
    }
    d->next_victim = 0;
}

static uint64_t mac_pack(const uint8_t *mac)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v |= (uint64_t)mac[i] << (8 * i);
    return v;
}

static void mac_unpack(uint64_t v, uint8_t *mac)
{
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)(v >> (8 * i));
}

/* Writer side: only the queue-0 instance calls this. */
static void dir_publish(struct zn_dp_arp_dir *d, uint32_t ip, const uint8_t *mac,
                        uint64_t learned_ns)
{
    struct zn_dp_arp_dir_entry *slot = NULL;
    for (unsigned i = 0; i < ZN_ARP_ENTRIES_MAX && slot == NULL; i++) {
        if (atomic_load_explicit(&d->e[i].ip, memory_order_relaxed) == ip)
            slot = &d->e[i];
    }
    for (unsigned i = 0; i < ZN_ARP_ENTRIES_MAX && slot == NULL; i++) {
        if (atomic_load_explicit(&d->e[i].ip, memory_order_relaxed) == 0)
            slot = &d->e[i];
    }
    if (slot == NULL) {
        slot = &d->e[d->next_victim];
        d->next_victim = (d->next_victim + 1) % ZN_ARP_ENTRIES_MAX;
    }
    uint32_t seq = atomic_load_explicit(&slot->seq, memory_order_relaxed);
    atomic_store_explicit(&slot->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&slot->ip, ip, memory_order_relaxed);
    atomic_store_explicit(&slot->mac, mac_pack(mac), memory_order_relaxed);
    atomic_store_explicit(&slot->learned_ns, learned_ns, memory_order_relaxed);
    atomic_store_explicit(&slot->seq, seq + 2, memory_order_release);
}

/* Reader side, any instance: a fresh (within ttl) entry for ip. */
static bool dir_lookup(struct zn_dp_arp_dir *d, uint32_t ip, uint64_t now_ns, uint64_t ttl_ns,
                       uint8_t *mac, uint64_t *learned_ns)
{
    for (unsigned i = 0; i < ZN_ARP_ENTRIES_MAX; i++) {
        struct zn_dp_arp_dir_entry *e = &d->e[i];
        for (int attempt = 0; attempt < 4; attempt++) {
            uint32_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
            if (s1 & 1)
                continue;
            uint32_t eip = atomic_load_explicit(&e->ip, memory_order_relaxed);
            uint64_t emac = atomic_load_explicit(&e->mac, memory_order_relaxed);
            uint64_t elearned = atomic_load_explicit(&e->learned_ns, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s1)
                continue;
            if (eip != ip)
                break;
            if (elearned != UINT64_MAX && age_ns(now_ns, elearned) > ttl_ns)
                return false;
            mac_unpack(emac, mac);
            *learned_ns = elearned;
            return true;
        }
    }
    return false;
}

/* Learn ip -> mac (from an ARP packet for us); `create` adds a missing entry. */
static void arp_learn(struct zn_dp_stack *s, uint32_t ip, const uint8_t *mac, bool create)
{
    if (ip == 0 || ip == s->cfg.ip)
        return;
    struct zn_arp_entry *e = arp_find(s, ip);
    if (e == NULL) {
        if (!create)
            return;
        e = arp_alloc(s, ip);
        if (e == NULL)
            return;
    }
    if (e->state == ZN_ARP_STATIC)
        return;
    memcpy(e->mac, mac, 6);
    e->state = ZN_ARP_REACHABLE;
    e->updated_ns = s->now_ns;
    e->retries = 0;
    arp_release_held(s, e);
    if (s->cfg.arp_dir != NULL && s->cfg.queue == 0)
        dir_publish(s->cfg.arp_dir, ip, mac, s->now_ns);
}

/* An incomplete or missing entry found in the port's directory becomes reachable here. */
static bool arp_from_dir(struct zn_dp_stack *s, struct zn_arp_entry *e)
{
    uint8_t mac[6];
    uint64_t learned;
    if (s->cfg.arp_dir == NULL || s->cfg.queue == 0 ||
        !dir_lookup(s->cfg.arp_dir, e->ip, s->now_ns, s->cfg.arp_ttl_ns, mac, &learned))
        return false;
    memcpy(e->mac, mac, 6);
    e->state = learned == UINT64_MAX ? ZN_ARP_STATIC : ZN_ARP_REACHABLE;
    e->updated_ns = learned == UINT64_MAX ? s->now_ns : learned;
    e->retries = 0;
    s->stats.arp_dir_hits++;
    arp_release_held(s, e);
    return true;
}

int zn_dp_stack_arp_static(struct zn_dp_stack *s, uint32_t ip, const uint8_t mac[6])
{
    struct zn_arp_entry *e = arp_find(s, ip);
    if (e == NULL)
        e = arp_alloc(s, ip);
    if (e == NULL)
        return ZN_EFULL;
    memcpy(e->mac, mac, 6);
    e->state = ZN_ARP_STATIC;
    arp_release_held(s, e);
    tx_flush(s);
    if (s->cfg.arp_dir != NULL && s->cfg.queue == 0)
        dir_publish(s->cfg.arp_dir, ip, mac, UINT64_MAX);
    return 0;
}

bool zn_dp_stack_arp_lookup(const struct zn_dp_stack *s, uint32_t ip, uint8_t mac[6])
{
    for (unsigned i = 0; i < s->n_arp; i++) {
        const struct zn_arp_entry *e = &s->arp[i];
        if (e->ip == ip && (e->state == ZN_ARP_REACHABLE || e->state == ZN_ARP_STATIC)) {
            memcpy(mac, e->mac, 6);
            return true;
        }
    }
    return false;
}

/* Send a built frame to ip: now if resolved, else hold it and resolve. */
static void arp_output(struct zn_dp_stack *s, struct rte_mbuf *m, uint32_t ip)
{
    struct zn_arp_entry *e = arp_find(s, ip);
    if (e != NULL && (e->state == ZN_ARP_REACHABLE || e->state == ZN_ARP_STATIC)) {
        struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
        memcpy(eth->dst_addr.addr_bytes, e->mac, 6);
        tx_add(s, m);
        return;
    }
    if (e == NULL) {
        e = arp_alloc(s, ip);
        if (e == NULL) {
            s->stats.drop_arp_cache_full++;
            rte_pktmbuf_free(m);
            return;
        }
        e->state = ZN_ARP_INCOMPLETE;
        e->updated_ns = s->now_ns;
        if (arp_from_dir(s, e)) {
            struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
            memcpy(eth->dst_addr.addr_bytes, e->mac, 6);
            tx_add(s, m);
            return;
        }
        e->retries = 1;
        e->next_retry_ns = s->now_ns + s->cfg.arp_retry_ns;
        arp_send_request(s, ip);
    }
    if (e->n_hold == ZN_ARP_HOLD_MAX) {
        s->stats.drop_arp_hold_full++;
        rte_pktmbuf_free(m);
        return;
    }
    e->hold[e->n_hold++] = m;
}

static void arp_housekeeping(struct zn_dp_stack *s, uint64_t now_ns)
{
    for (unsigned i = 0; i < s->n_arp;) {
        struct zn_arp_entry *e = &s->arp[i];
        if (e->state == ZN_ARP_INCOMPLETE && arp_from_dir(s, e)) {
            i++;
            continue;
        }
        if (e->state == ZN_ARP_INCOMPLETE && now_ns >= e->next_retry_ns) {
            if (e->retries >= ZN_ARP_RETRIES) {
                s->stats.drop_arp_unresolved += e->n_hold;
                rte_pktmbuf_free_bulk(e->hold, e->n_hold);
                e->n_hold = 0;
                arp_remove(s, e);
                continue; /* the last entry moved into slot i */
            }
            e->retries++;
            e->next_retry_ns = now_ns + s->cfg.arp_retry_ns;
            arp_send_request(s, e->ip);
        } else if (e->state == ZN_ARP_REACHABLE &&
                   age_ns(now_ns, e->updated_ns) > s->cfg.arp_ttl_ns) {
            s->stats.arp_expired++;
            arp_remove(s, e);
            continue;
        }
        i++;
    }
}

/* ---- receive ----------------------------------------------------------------------------- */

static void drop(struct rte_mbuf *m, uint64_t *counter)
{
    (*counter)++;
    rte_pktmbuf_free(m);
}

static void handle_arp(struct zn_dp_stack *s, struct rte_mbuf *m, uint8_t *p, uint32_t len)
{
    if (len < ETH_LEN + ARP_LEN) {
        drop(m, &s->stats.drop_arp_bad);
        return;
    }
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(p + ETH_LEN);
    uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
    if (rte_be_to_cpu_16(arp->arp_hardware) != RTE_ARP_HRD_ETHER ||
        rte_be_to_cpu_16(arp->arp_protocol) != RTE_ETHER_TYPE_IPV4 || arp->arp_hlen != 6 ||
        arp->arp_plen != 4 || (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)) {
        drop(m, &s->stats.drop_arp_bad);
        return;
    }
    uint32_t sip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
    uint32_t tip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
    uint8_t sha[6];
    memcpy(sha, arp->arp_data.arp_sha.addr_bytes, 6);
    if (tip != s->cfg.ip) {
        /* Not for us; refresh an entry we already have (RFC 826 merge), learn nothing new. */
        arp_learn(s, sip, sha, false);
        drop(m, &s->stats.drop_arp_other);
        return;
    }
    arp_learn(s, sip, sha, true);
    if (op == RTE_ARP_OP_REPLY) {
        s->stats.arp_reply_in++;
        rte_pktmbuf_free(m);
        return;
    }
    /* Answer in place. */
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    memcpy(arp->arp_data.arp_tha.addr_bytes, sha, 6);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(sip);
    memcpy(arp->arp_data.arp_sha.addr_bytes, s->mac, 6);
    arp->arp_data.arp_sip = rte_cpu_to_be_32(s->cfg.ip);
    memcpy(eth->dst_addr.addr_bytes, sha, 6);
    memcpy(eth->src_addr.addr_bytes, s->mac, 6);
    m->ol_flags = 0; /* receive flags must not be read as transmit requests */
    s->stats.arp_req_in++;
    tx_add(s, m);
}

static void handle_icmp(struct zn_dp_stack *s, struct rte_mbuf *m, uint8_t *p,
                        struct rte_ipv4_hdr *ip, uint32_t ihl, uint32_t tot)
{
    uint32_t l4len = tot - ihl;
    struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + ihl);
    if (l4len < sizeof(struct rte_icmp_hdr) || zn_dp_cksum_raw(icmp, l4len) != 0xffff) {
        drop(m, &s->stats.drop_icmp_bad);
        return;
    }
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
        drop(m, &s->stats.drop_icmp_type);
        return;
    }
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = (uint16_t)~zn_dp_cksum_raw(icmp, l4len);
    uint32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = (uint16_t)~zn_dp_cksum_raw(ip, ihl);
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    memcpy(eth->dst_addr.addr_bytes, eth->src_addr.addr_bytes, 6);
    memcpy(eth->src_addr.addr_bytes, s->mac, 6);
    uint32_t frame = ETH_LEN + tot;
    if (rte_pktmbuf_data_len(m) > frame)
        rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - frame));
    m->ol_flags = 0;
    s->stats.icmp_echo++;
    tx_add(s, m);
}

/* One's-complement sum over the pseudo header and the UDP datagram (with its checksum) must be
 * 0xffff (RFC 768). */
static bool udp_cksum_ok(const struct rte_ipv4_hdr *ip, const struct rte_udp_hdr *udp,
                         uint32_t l4len)
{
    return zn_dp_cksum_fold(zn_dp_cksum_add(rte_ipv4_phdr_cksum(ip, 0), udp, l4len)) == 0xffff;
}

/* Returns true when the frame was delivered into *dg (its mbuf is then held by the caller). */
static bool handle_ip(struct zn_dp_stack *s, struct rte_mbuf *m, uint8_t *p, uint32_t len,
                      struct zn_dp_dgram *dg)
{
    if (len < ETH_LEN + IP_LEN) {
        drop(m, &s->stats.drop_short);
        return false;
    }
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + ETH_LEN);
    if ((ip->version_ihl >> 4) != 4) {
        drop(m, &s->stats.drop_ip_version);
        return false;
    }
    uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4u;
    if (ihl < IP_LEN) {
        drop(m, &s->stats.drop_ip_ihl);
        return false;
    }
    uint32_t tot = rte_be_to_cpu_16(ip->total_length);
    if (tot < ihl || ETH_LEN + tot > len) {
        drop(m, &s->stats.drop_ip_len);
        return false;
    }
    uint64_t ipck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (!(s->rx_offload && ipck == RTE_MBUF_F_RX_IP_CKSUM_GOOD)) {
        if ((s->rx_offload && ipck == RTE_MBUF_F_RX_IP_CKSUM_BAD) ||
            zn_dp_cksum_raw(ip, ihl) != 0xffff) {
            drop(m, &s->stats.drop_ip_cksum);
            return false;
        }
    }
    if (ip->time_to_live == 0) {
        drop(m, &s->stats.drop_ip_ttl);
        return false;
    }
    if (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
        drop(m, &s->stats.drop_ip_frag);
        return false;
    }
    if (rte_be_to_cpu_32(ip->dst_addr) != s->cfg.ip) {
        drop(m, &s->stats.drop_ip_not_us);
        return false;
    }
    if (ip->next_proto_id == IPPROTO_ICMP) {
        handle_icmp(s, m, p, ip, ihl, tot);
        return false;
    }
    if (ip->next_proto_id != IPPROTO_UDP) {
        drop(m, &s->stats.drop_ip_proto);
        return false;
    }
    uint32_t l4len = tot - ihl;
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)((uint8_t *)ip + ihl);
    if (l4len < UDP_LEN || rte_be_to_cpu_16(udp->dgram_len) != l4len) {
        drop(m, &s->stats.drop_udp_len);
        return false;
    }
    if (udp->dgram_cksum != 0) {
        uint64_t l4ck = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
        bool good = s->rx_offload && l4ck == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
        bool bad = s->rx_offload && l4ck == RTE_MBUF_F_RX_L4_CKSUM_BAD;
        if (!good && (bad || !udp_cksum_ok(ip, udp, l4len))) {
            drop(m, &s->stats.drop_udp_cksum);
            return false;
        }
    }
    if (rte_be_to_cpu_16(udp->dst_port) != s->cfg.udp_port) {
        drop(m, &s->stats.drop_udp_port);
        return false;
    }
    dg->peer.ip = rte_be_to_cpu_32(ip->src_addr);
    dg->peer.port = rte_be_to_cpu_16(udp->src_port);
    dg->data = (uint8_t *)udp + UDP_LEN;
    dg->len = l4len - UDP_LEN;
    s->stats.rx_udp++;
    return true;
}

/* A new receive ends the validity of the previous one's views. */
static void release_views(struct zn_dp_stack *s)
{
    if (s->n_rx_held > 0) {
        rte_pktmbuf_free_bulk(s->rx_held, s->n_rx_held);
        s->n_rx_held = 0;
    }
}

int zn_dp_stack_input(struct zn_dp_stack *s, struct rte_mbuf **pkts, unsigned n_pkts,
                      struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    release_views(s);
    ZN_ASSERT(n_pkts <= n && n_pkts <= ZN_DP_BURST_MAX);
    s->now_ns = now_ns;
    unsigned out = 0;
    for (unsigned i = 0; i < n_pkts; i++) {
        struct rte_mbuf *m = pkts[i];
        s->stats.rx_frames++;
        if (m->nb_segs != 1) {
            drop(m, &s->stats.drop_multiseg);
            continue;
        }
        uint32_t len = rte_pktmbuf_data_len(m);
        uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
        if (len < ETH_LEN) {
            drop(m, &s->stats.drop_short);
            continue;
        }
        struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
        if (memcmp(eth->dst_addr.addr_bytes, s->mac, 6) != 0 &&
            memcmp(eth->dst_addr.addr_bytes, BROADCAST, 6) != 0) {
            drop(m, &s->stats.drop_not_for_us);
            continue;
        }
        uint16_t type = rte_be_to_cpu_16(eth->ether_type);
        if (type == RTE_ETHER_TYPE_ARP) {
            handle_arp(s, m, p, len);
        } else if (type == RTE_ETHER_TYPE_IPV4) {
            if (handle_ip(s, m, p, len, &dg[out])) {
                s->rx_held[s->n_rx_held++] = m;
                out++;
            }
        } else {
            drop(m, &s->stats.drop_ethertype);
        }
    }
    tx_flush(s);
    return (int)out;
}

/* ---- transport interface ----------------------------------------------------------------- */

static int stack_recv(void *ctx, struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct zn_dp_stack *s = ctx;
    release_views(s);
    if (n > ZN_DP_BURST_MAX)
        n = ZN_DP_BURST_MAX;
    struct rte_mbuf *pkts[ZN_DP_BURST_MAX];
    uint16_t got = rte_eth_rx_burst(s->cfg.port_id, s->cfg.queue, pkts, (uint16_t)n);
    if (got == 0)
        return 0;
    return zn_dp_stack_input(s, pkts, got, dg, n, now_ns);
}

/*
 * Transmit headers come from a template built at init (Ethernet source and type, IPv4 fields
 * that never change, UDP source port) with the one's-complement sum of its IPv4 header; per
 * datagram only the total length, id, destination and ports are written and the IP checksum is
 * that sum plus theirs (RFC 1624 style, no pass over the header).
 *
 * Alignment: the data of a transmit mbuf starts TX_ALIGN_PAD bytes into the headroom so that
 * the UDP payload (a zinc frame, and 56 bytes later its payload) starts on an 8-byte boundary:
 * the frame's CRC32C then runs on aligned words from the first byte.
 */
#define HDRS_LEN     (ETH_LEN + IP_LEN + UDP_LEN)
#define TX_ALIGN_PAD ((8u - (RTE_PKTMBUF_HEADROOM + HDRS_LEN) % 8u) % 8u)
_Static_assert((RTE_PKTMBUF_HEADROOM + TX_ALIGN_PAD + HDRS_LEN) % 8u == 0, "aligned UDP payload");
_Static_assert(TX_ALIGN_PAD < RTE_PKTMBUF_HEADROOM, "the pad fits in the headroom");

static void tx_template_init(struct zn_dp_stack *s)
{
    uint8_t *p = s->tx_tmpl;
    memset(p, 0, sizeof(s->tx_tmpl));
    struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
    memcpy(eth->src_addr.addr_bytes, s->mac, 6);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + ETH_LEN);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(s->cfg.ip);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
    udp->src_port = rte_cpu_to_be_16(s->cfg.udp_port);
    s->tx_tmpl_ip_sum = zn_dp_cksum_add(0, ip, IP_LEN);
}

/* A UDP datagram of `len` payload bytes to `peer` with headers written, checksums not yet;
 * *payload is where its payload goes (8-byte aligned). NULL when the mempool is empty. */
static struct rte_mbuf *udp_begin(struct zn_dp_stack *s, const struct zn_dp_addr *peer,
                                  uint32_t len, uint8_t **payload)
{
    struct rte_mbuf *m = rte_pktmbuf_alloc(s->cfg.pool);
    if (m == NULL)
        return NULL;
    m->data_off = (uint16_t)(RTE_PKTMBUF_HEADROOM + TX_ALIGN_PAD);
    uint32_t total = HDRS_LEN + len;
    uint8_t *p =
        (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(total < MIN_FRAME ? MIN_FRAME : total));
    ZN_ASSERT(p != NULL);
    memcpy(p, s->tx_tmpl, HDRS_LEN);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + ETH_LEN);
    ip->total_length = rte_cpu_to_be_16((uint16_t)(IP_LEN + UDP_LEN + len));
    ip->packet_id = rte_cpu_to_be_16(s->ip_id++);
    ip->dst_addr = rte_cpu_to_be_32(peer->ip);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
    udp->dst_port = rte_cpu_to_be_16(peer->port);
    udp->dgram_len = rte_cpu_to_be_16((uint16_t)(UDP_LEN + len));
    if (total < MIN_FRAME)
        memset(p + total, 0, MIN_FRAME - total);
    *payload = p + HDRS_LEN;
    return m;
}

/* Checksums of a datagram from udp_begin whose payload is written. */
static void udp_end(struct zn_dp_stack *s, struct rte_mbuf *m, uint32_t len)
{
    uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
    struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(p + ETH_LEN);
    struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
    if (s->tx_offload) {
        m->l2_len = ETH_LEN;
        m->l3_len = IP_LEN;
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
        udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
        return;
    }
    /* The template's sum plus the fields udp_begin wrote (the checksum field is 0). */
    uint64_t sum = s->tx_tmpl_ip_sum + ip->total_length + ip->packet_id + (ip->dst_addr & 0xffffu) +
                   (ip->dst_addr >> 16);
    ip->hdr_checksum = (uint16_t)~zn_dp_cksum_fold(sum);
    if (s->tx_sw_cksum) {
        uint16_t ck = (uint16_t)~zn_dp_cksum_fold(
            zn_dp_cksum_add(rte_ipv4_phdr_cksum(ip, 0), udp, UDP_LEN + len));
        udp->dgram_cksum = ck == 0 ? 0xffff : ck; /* 0 would mean "none" (RFC 768) */
    }
}

static int stack_send(void *ctx, const struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns)
{
    struct zn_dp_stack *s = ctx;
    s->now_ns = now_ns;
    unsigned taken = 0;
    for (; taken < n; taken++) {
        const struct zn_dp_dgram *d = &dg[taken];
        if (d->len > ZN_DGRAM_PAYLOAD_MAX_BYTES) {
            s->stats.drop_tx_oversize++;
            continue;
        }
        uint8_t *payload;
        struct rte_mbuf *m = udp_begin(s, &d->peer, d->len, &payload);
        if (m == NULL) {
            s->stats.tx_no_mbuf++;
            break;
        }
        memcpy(payload, d->data, d->len);
        udp_end(s, m, d->len);
        s->stats.tx_udp++;
        arp_output(s, m, d->peer.ip);
    }
    tx_flush(s);
    return (int)taken;
}

/* Frames encoded straight into the mbuf: one copy of the payload, CRC32C over the mbuf data
 * while it is in cache (transport op send_frames). */
static int stack_send_frames(void *ctx, const struct zn_dp_frame_out *f, unsigned n,
                             uint64_t now_ns)
{
    struct zn_dp_stack *s = ctx;
    s->now_ns = now_ns;
    unsigned taken = 0;
    for (; taken < n; taken++) {
        uint32_t len = ZN_FRAME_HDR_BYTES + (uint32_t)f[taken].hdr->payload_len;
        if (len > ZN_DGRAM_PAYLOAD_MAX_BYTES) {
            s->stats.drop_tx_oversize++;
            continue;
        }
        uint8_t *payload;
        struct rte_mbuf *m = udp_begin(s, &f[taken].peer, len, &payload);
        if (m == NULL) {
            s->stats.tx_no_mbuf++;
            break;
        }
        int rc = zn_frame_encode(f[taken].hdr, f[taken].payload, payload, len);
        ZN_ASSERT(rc == (int)len);
        udp_end(s, m, len);
        s->stats.tx_udp++;
        arp_output(s, m, f[taken].peer.ip);
    }
    tx_flush(s);
    return (int)taken;
}

#define LINK_CHECK_NS (100ull * 1000 * 1000)

/* Link-state reporting: a cheap non-blocking read, at most every 100 ms, logged on change. */
static void link_check(struct zn_dp_stack *s, uint64_t now_ns)
{
    if (now_ns - s->link_checked_ns < LINK_CHECK_NS)
        return;
    s->link_checked_ns = now_ns;
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    if (rte_eth_link_get_nowait(s->cfg.port_id, &link) != 0)
        return;
    bool up = link.link_status == RTE_ETH_LINK_UP;
    if (up != s->link_up) {
        s->link_up = up;
        s->stats.link_changes++;
        if (s->cfg.queue == 0)
            ZN_INFO("dp", "port %u link %s (%u Mb/s)", s->cfg.port_id, up ? "up" : "down",
                    link.link_speed);
    }
}

static void stack_housekeeping(void *ctx, uint64_t now_ns)
{
    struct zn_dp_stack *s = ctx;
    s->now_ns = now_ns;
    link_check(s, now_ns);
    arp_housekeeping(s, now_ns);
    tx_flush(s);
}

static void stack_stats(void *ctx, struct zn_dp_transport_stats *out)
{
    struct zn_dp_stack *s = ctx;
    memset(out, 0, sizeof(*out));
    out->rx_dgrams = s->stats.rx_udp;
    out->tx_dgrams = s->stats.tx_udp;
    out->tx_backpressure = s->stats.tx_no_mbuf;
#define ZN_DP_STACK_SUM_(name, text)                                                               \
    if (strncmp(#name, "drop_", 5) == 0) {                                                         \
        if (strncmp(#name, "drop_tx", 7) == 0 || strncmp(#name, "drop_arp_un", 11) == 0 ||         \
            strncmp(#name, "drop_arp_hold", 13) == 0 || strncmp(#name, "drop_arp_cache", 14) == 0) \
            out->tx_dropped += s->stats.name;                                                      \
        else                                                                                       \
            out->rx_dropped += s->stats.name;                                                      \
    }
    ZN_DP_STACK_COUNTERS(ZN_DP_STACK_SUM_)
#undef ZN_DP_STACK_SUM_
}

static const char *const udp_tx_cksum_names[] = {"offload-or-zero", "offload-or-software"};

int zn_dp_udp_tx_cksum_parse(const char *text, enum zn_dp_udp_tx_cksum *out)
{
    for (unsigned i = 0; text != NULL && i < 2; i++) {
        if (strcmp(text, udp_tx_cksum_names[i]) == 0) {
            *out = (enum zn_dp_udp_tx_cksum)i;
            return 0;
        }
    }
    return ZN_EINVAL;
}

const char *zn_dp_udp_tx_cksum_name(enum zn_dp_udp_tx_cksum v)
{
    return (unsigned)v < 2 ? udp_tx_cksum_names[v] : "?";
}

static const struct zn_dp_transport_ops stack_ops = {
    .name = "dpdk",
    .recv_burst = stack_recv,
    .send_burst = stack_send,
    .housekeeping = stack_housekeeping,
    .stats = stack_stats,
    .send_frames = stack_send_frames,
};

int zn_dp_stack_init(struct zn_dp_stack *s, const struct zn_dp_stack_cfg *cfg,
                     struct zn_dp_transport *t)
{
    memset(s, 0, sizeof(*s));
    if (cfg == NULL || cfg->pool == NULL || cfg->port == NULL || cfg->ip == 0 ||
        cfg->udp_port == 0 || cfg->queue >= cfg->port->n_queues)
        return ZN_EINVAL;
    s->cfg = *cfg;
    if (s->cfg.arp_retry_ns == 0)
        s->cfg.arp_retry_ns = ZN_ARP_RETRY_NS_DEFAULT;
    if (s->cfg.arp_ttl_ns == 0)
        s->cfg.arp_ttl_ns = ZN_ARP_TTL_NS_DEFAULT;
    memcpy(s->mac, cfg->port->mac, 6);
    s->link_up = cfg->port->link_up;
    s->tx_offload = cfg->port->tx_cksum_offload;
    s->rx_offload = cfg->port->rx_cksum_offload;
    if (cfg->udp_tx_cksum_off)
        s->cfg.udp_tx_cksum = ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO;
    if (s->cfg.udp_tx_cksum != ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO &&
        s->cfg.udp_tx_cksum != ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE)
        return ZN_EINVAL;
    tx_template_init(s);
    s->tx_sw_cksum =
        !s->tx_offload && s->cfg.udp_tx_cksum == ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE;
    t->ops = &stack_ops;
    t->ctx = s;
    t->local.ip = cfg->ip;
    t->local.port = cfg->udp_port;
    return 0;
}

void zn_dp_stack_fini(struct zn_dp_stack *s)
{
    if (s->n_rx_held > 0)
        rte_pktmbuf_free_bulk(s->rx_held, s->n_rx_held);
    s->n_rx_held = 0;
    for (unsigned i = 0; i < s->n_arp; i++) {
        rte_pktmbuf_free_bulk(s->arp[i].hold, s->arp[i].n_hold);
        s->arp[i].n_hold = 0;
    }
    tx_flush(s);
}

void zn_dp_stack_stats_print(const struct zn_dp_stack *s, FILE *out, bool all)
{
#define ZN_DP_STACK_PRINT_(name, text) \
    if (all || s->stats.name != 0)     \
        fprintf(out, "%-22s %10llu  %s\n", #name, (unsigned long long)s->stats.name, text);
    ZN_DP_STACK_COUNTERS(ZN_DP_STACK_PRINT_)
#undef ZN_DP_STACK_PRINT_
}
