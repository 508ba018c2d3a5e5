/*
 * dataplane/zn_dp_stack.h - a minimal Ethernet/ARP/IPv4/UDP/ICMP stack on one DPDK port queue,
 * exposed as a zn_dp_transport (zn_dp_transport.h).
 *
 *  - Ethernet: frames for our MAC or broadcast, EtherType IPv4 or ARP; anything else is dropped
 *    and counted.
 *  - ARP: requests for our address are answered (and teach us the asker); peers are resolved
 *    with a cache (ZN_ARP_ENTRIES_MAX), up to ZN_ARP_HOLD_MAX frames held per unresolved entry,
 *    ZN_ARP_RETRIES requests `arp_retry_ns` apart, entries expire after `arp_ttl_ns`; static
 *    entries never expire.
 *  - IPv4: version 4, IHL >= 5, total length within the frame, header checksum, TTL > 0, no
 *    fragments (MF or offset), destination our address; protocols UDP and ICMP.
 *  - UDP: length within the IP payload, checksum (0 means "none", RFC 768: accepted; any other
 *    value is verified, a mismatch dropped and counted), destination our port. On transmit the
 *    checksum follows `udp_tx_cksum` (enum zn_dp_udp_tx_cksum): the NIC computes it when the
 *    port offers the offload; otherwise it is 0 by default, or computed in software.
 *  - ICMP: echo requests to our address are answered in place (an operator can ping us).
 *  - Checksums: verified by the NIC when the port offers it, in software otherwise (every lab
 *    PMD), with zn_dp_cksum (eight bytes per addition; rte_raw_cksum adds two).
 *
 * Every dropped frame increments exactly one named counter (ZN_DP_STACK_COUNTERS).
 *
 * Context: one instance per (port, queue), owned by one lcore.
 */
#ifndef ZN_DP_STACK_H
#define ZN_DP_STACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dataplane/zn_dp_port.h"
#include "dataplane/zn_dp_transport.h"

struct rte_mbuf;

/* X(name, what it counts). Names beginning with drop_ are drops. */
#define ZN_DP_STACK_COUNTERS(X)                                      \
    X(rx_frames, "frames received")                                  \
    X(tx_frames, "frames sent")                                      \
    X(rx_udp, "UDP datagrams delivered")                             \
    X(tx_udp, "UDP datagrams sent")                                  \
    X(arp_req_in, "ARP requests for us answered")                    \
    X(arp_reply_in, "ARP replies learned")                           \
    X(arp_req_out, "ARP requests sent")                              \
    X(icmp_echo, "ICMP echo requests answered")                      \
    X(drop_short, "frame shorter than its headers")                  \
    X(drop_multiseg, "multi-segment frame")                          \
    X(drop_not_for_us, "destination MAC neither ours nor broadcast") \
    X(drop_ethertype, "EtherType neither IPv4 nor ARP")              \
    X(drop_arp_bad, "malformed ARP")                                 \
    X(drop_arp_other, "ARP for another address")                     \
    X(drop_ip_version, "IP version not 4")                           \
    X(drop_ip_ihl, "IP header length below 20")                      \
    X(drop_ip_len, "IP total length inconsistent with the frame")    \
    X(drop_ip_cksum, "bad IP header checksum")                       \
    X(drop_ip_ttl, "TTL zero")                                       \
    X(drop_ip_frag, "IP fragment")                                   \
    X(drop_ip_not_us, "IP destination not ours")                     \
    X(drop_ip_proto, "IP protocol neither UDP nor ICMP")             \
    X(drop_udp_len, "UDP length inconsistent")                       \
    X(drop_udp_cksum, "bad UDP checksum")                            \
    X(drop_udp_port, "UDP destination port not ours")                \
    X(drop_icmp_bad, "ICMP short or bad checksum")                   \
    X(drop_icmp_type, "ICMP other than echo request")                \
    X(drop_arp_unresolved, "frame dropped: peer did not answer ARP") \
    X(drop_arp_hold_full, "frame dropped: ARP hold queue full")      \
    X(drop_arp_cache_full, "frame dropped: ARP cache full")          \
    X(drop_tx_oversize, "datagram larger than the payload limit")    \
    X(tx_no_mbuf, "send refused: mempool empty (backpressure)")      \
    X(drop_tx_full, "frame dropped: tx queue full after retries")    \
    X(arp_expired, "ARP entries expired")                            \
    X(link_changes, "link state changes seen by housekeeping")       \
    X(arp_dir_hits, "peers resolved through the port's ARP directory")

struct zn_dp_stack_stats {
#define ZN_DP_STACK_FIELD_(name, text) uint64_t name;
    ZN_DP_STACK_COUNTERS(ZN_DP_STACK_FIELD_)
#undef ZN_DP_STACK_FIELD_
};

/*
 * ARP directory shared by the stack instances of one port (one per queue). With RSS a NIC hashes
 * IP flows over the queues but delivers ARP (not IP) to queue 0, so only the queue-0 instance
 * sees ARP replies. It publishes what it learns here; instances of other queues consult the
 * directory when their own cache misses and from housekeeping while an entry is incomplete.
 * One writer (the queue-0 instance), any number of readers; each entry is a seqlock of C11
 * atomics, so readers never block and never see a torn (ip, mac) pair.
 */
struct zn_dp_arp_dir_entry {
    _Atomic uint32_t seq;        /* odd while being written */
    _Atomic uint32_t ip;         /* 0 = free */
    _Atomic uint64_t mac;        /* 6 bytes, little-endian */
    _Atomic uint64_t learned_ns; /* UINT64_MAX for a static entry */
};

struct zn_dp_arp_dir {
    struct zn_dp_arp_dir_entry e[ZN_ARP_ENTRIES_MAX];
    uint32_t next_victim; /* writer only */
};

void zn_dp_arp_dir_init(struct zn_dp_arp_dir *d);

/*
 * UDP checksum of transmitted datagrams when the port has no checksum offload (with the offload
 * the NIC always fills it in). Why 0 is the default: every datagram the stack sends is a zinc
 * frame whose CRC32C covers its header and payload end to end (proto/frame.h), a stronger check
 * than the UDP checksum, which costs ~50 ns per KiB on each side even in the fast form. RFC 768
 * allows 0 ("no checksum") over IPv4 and Linux UDP sockets accept it (tests/dataplane netns.sh
 * checks a kernel socket receives our datagrams). Use SOFTWARE when a middlebox or receiver
 * insists on a checksum. zincd: `[net] udp_tx_checksum`.
 */
enum zn_dp_udp_tx_cksum {
    ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO = 0,     /* offload if offered, else 0 (default) */
    ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_SOFTWARE = 1, /* offload if offered, else computed here */
};

/* "offload-or-zero" | "offload-or-software" to the enum; 0 or ZN_EINVAL. */
int zn_dp_udp_tx_cksum_parse(const char *text, enum zn_dp_udp_tx_cksum *out);
const char *zn_dp_udp_tx_cksum_name(enum zn_dp_udp_tx_cksum v);

struct zn_dp_stack_cfg {
    uint16_t port_id;
    uint16_t queue;
    uint32_t ip;       /* our address, host order */
    uint16_t udp_port; /* our UDP port */
    struct rte_mempool *pool;
    const struct zn_dp_port_info *port;   /* MAC and offloads from zn_dp_port_start */
    uint64_t arp_retry_ns;                /* 0: ZN_ARP_RETRY_NS_DEFAULT */
    uint64_t arp_ttl_ns;                  /* 0: ZN_ARP_TTL_NS_DEFAULT */
    struct zn_dp_arp_dir *arp_dir;        /* shared by the port's queues; NULL with one queue */
    enum zn_dp_udp_tx_cksum udp_tx_cksum; /* without offload: 0 (default) or software */
    /* Older spelling of ZN_DP_UDP_TX_CKSUM_OFFLOAD_OR_ZERO, now the default: when true it forces
     * that policy whatever udp_tx_cksum says (kept so existing callers keep their meaning). */
    bool udp_tx_cksum_off;
};

enum zn_arp_state {
    ZN_ARP_FREE = 0,
    ZN_ARP_INCOMPLETE,
    ZN_ARP_REACHABLE,
    ZN_ARP_STATIC,
};

struct zn_arp_entry {
    uint32_t ip;
    uint8_t state;
    uint8_t retries;
    uint8_t n_hold;
    uint8_t mac[6];
    uint64_t updated_ns;    /* learned (reachable) or first request (incomplete) */
    uint64_t next_retry_ns; /* incomplete: when to ask again */
    struct rte_mbuf *hold[ZN_ARP_HOLD_MAX];
};

struct zn_dp_stack {
    struct zn_dp_stack_cfg cfg;
    uint8_t mac[6];
    bool tx_offload;
    bool rx_offload;
    bool tx_sw_cksum; /* no offload and policy OFFLOAD_OR_SOFTWARE: UDP checksum computed here */
    uint64_t now_ns;  /* time of the last call, for ARP learning inside rx */
    bool link_up;     /* as of link_checked_ns (refreshed by housekeeping every 100 ms) */
    uint64_t link_checked_ns;
    struct zn_dp_stack_stats stats;
    unsigned n_rx_held;
    struct rte_mbuf *rx_held[ZN_DP_BURST_MAX]; /* mbufs behind the last recv's views */
    unsigned n_tx;
    struct rte_mbuf *tx[ZN_DP_BURST_MAX * 2]; /* pending transmissions of this call */
    unsigned n_arp;                           /* entries arp[0..n_arp) are in use (compact) */
    uint16_t ip_id;
    uint64_t tx_tmpl_ip_sum; /* one's-complement sum of the template's IPv4 header */
    uint8_t tx_tmpl[42];     /* Ethernet + IPv4 + UDP transmit header template */
    struct zn_arp_entry arp[ZN_ARP_ENTRIES_MAX];
};

/* Initialize and fill `t` (t->local = cfg ip/port). 0 or ZN_EINVAL. */
int zn_dp_stack_init(struct zn_dp_stack *s, const struct zn_dp_stack_cfg *cfg,
                     struct zn_dp_transport *t);
/* Free held mbufs (rx views, ARP hold queues). */
void zn_dp_stack_fini(struct zn_dp_stack *s);

/* A static ARP entry (never expires, never re-resolved). 0, ZN_EFULL. */
int zn_dp_stack_arp_static(struct zn_dp_stack *s, uint32_t ip, const uint8_t mac[6]);
/* Look up an entry: true and the MAC when reachable or static. */
bool zn_dp_stack_arp_lookup(const struct zn_dp_stack *s, uint32_t ip, uint8_t mac[6]);

/* Process frames already received (tests inject crafted frames through here); same effects as
 * frames from the port, and like a receive it ends the validity of the previous views. Consumes
 * the mbufs (n_pkts <= n <= ZN_DP_BURST_MAX); UDP payloads are delivered into dg[]. */
int zn_dp_stack_input(struct zn_dp_stack *s, struct rte_mbuf **pkts, unsigned n_pkts,
                      struct zn_dp_dgram *dg, unsigned n, uint64_t now_ns);

/* Write "name value" lines of every non-zero counter (all when `all`). */
void zn_dp_stack_stats_print(const struct zn_dp_stack *s, FILE *out, bool all);

#endif /* ZN_DP_STACK_H */
