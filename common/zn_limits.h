/*
 * zn_limits.h - every capacity of zinc in one place (STYLE.md 8).
 *
 * Each constant states its derivation; pools, rings and buffers are sized from these at start-up,
 * and back-pressure falls out of them. Configuration may lower a limit, never raise it above the
 * value here (the config validator refuses). Modules add their constants here, grouped by module.
 */
#ifndef ZN_LIMITS_H
#define ZN_LIMITS_H

#include <stdint.h>

#define ZN_KIB (1024u)
#define ZN_MIB (1024u * 1024u)

/* ---- cluster ---------------------------------------------------------------------------- */

/* Voters: 3 or 5 in practice, 7 the most that still commits fast (a quorum of 4). */
#define ZN_CLUSTER_VOTERS_MAX 7
/* Voters plus learners (ZooKeeper observers). Node ids are 1..ZN_NODE_ID_MAX; 0 means none. */
#define ZN_CLUSTER_MEMBERS_MAX 16
#define ZN_NODE_ID_MAX         255
_Static_assert(ZN_CLUSTER_VOTERS_MAX % 2 == 1,
               "an odd voter maximum: even sizes add no fault tolerance");
_Static_assert(ZN_CLUSTER_MEMBERS_MAX >= ZN_CLUSTER_VOTERS_MAX, "learners come on top of voters");
_Static_assert(ZN_NODE_ID_MAX <= UINT8_MAX, "node ids travel in one byte of the frame header");

/* ---- data model ------------------------------------------------------------------------- */

/* ZooKeeper's default jute.maxbuffer is 1 MiB (0xfffff); zinc's default znode data limit. */
#define ZN_DATA_SIZE_DEFAULT_BYTES (1u * ZN_MIB)
/* The most an operator may configure: bounded so one entry never dominates a WAL segment. */
#define ZN_DATA_SIZE_MAX_BYTES (16u * ZN_MIB)
/* Path length in bytes (UTF-8). ZooKeeper has no separate limit; 4 KiB covers deep trees. */
#define ZN_PATH_LEN_MAX 4096u
/* Operations in one multi/multiRead. */
#define ZN_MULTI_OPS_MAX 1024u
/* Overhead allowed around data in one request or reply: path, ACL list, headers, Stat. */
#define ZN_MSG_OVERHEAD_MAX_BYTES (64u * ZN_KIB)
/* Largest request or reply body (jute.maxbuffer equivalent at the maximum data size). */
#define ZN_MSG_SIZE_MAX_BYTES (ZN_DATA_SIZE_MAX_BYTES + ZN_MSG_OVERHEAD_MAX_BYTES)
_Static_assert(ZN_PATH_LEN_MAX * 4 < ZN_MSG_OVERHEAD_MAX_BYTES, "paths fit in the overhead");
_Static_assert(ZN_MSG_SIZE_MAX_BYTES < INT32_MAX, "jute lengths are int32");

/* ---- network ---------------------------------------------------------------------------- */

/* 1500-byte Ethernet MTU - 20 (IPv4) - 8 (UDP). */
#define ZN_DGRAM_PAYLOAD_MAX_BYTES 1472u
/* Datagrams a message may span (segmentation); a segment count travels in 16 bits. */
#define ZN_DGRAM_SEGMENTS_MAX ((ZN_MSG_SIZE_MAX_BYTES + 1023u) / 1024u)
_Static_assert(ZN_DGRAM_SEGMENTS_MAX <= UINT16_MAX, "segment index fits the header");

/* Bounded rings between stages: power of two (rte_ring), deep enough for a full burst per peer. */
#define ZN_RING_SIZE_DEFAULT 4096u
_Static_assert((ZN_RING_SIZE_DEFAULT & (ZN_RING_SIZE_DEFAULT - 1)) == 0, "rings are power of two");

/* ---- sessions --------------------------------------------------------------------------- */

/* ZooKeeper's defaults: tickTime 2 s, min 2 ticks, max 20 ticks; zinc negotiates in ms. */
#define ZN_SESSION_TIMEOUT_MIN_MS 100u
#define ZN_SESSION_TIMEOUT_MAX_MS 40000u
#define ZN_SESSIONS_MAX           65536u
_Static_assert(ZN_SESSION_TIMEOUT_MIN_MS < ZN_SESSION_TIMEOUT_MAX_MS, "timeout range");

/* ---- proto: frames and reassembly (proto/frame.h, proto/reasm.h) -------------------------- */

/* Partial multi-segment messages held at once per receiver: a few per peer (AppendEntries
 * batches, snapshot chunks) and per large client request; 4 per member plus 64 for clients. */
#define ZN_REASM_SLOTS_DEFAULT (4u * ZN_CLUSTER_MEMBERS_MAX + 64u)
#define ZN_REASM_SLOTS_MAX     1024u
/* Bytes buffered for partial messages: room for two largest messages at once by default. */
#define ZN_REASM_BYTES_DEFAULT (2ull * ZN_MSG_SIZE_MAX_BYTES)
#define ZN_REASM_BYTES_MAX     (256ull * ZN_MIB)
/* A partial message older than this is dropped (the sender retransmits the whole message). */
#define ZN_REASM_TIMEOUT_NS_DEFAULT (500ull * 1000ull * 1000ull)
_Static_assert(ZN_REASM_SLOTS_DEFAULT <= ZN_REASM_SLOTS_MAX, "default within the maximum");
_Static_assert(ZN_REASM_BYTES_DEFAULT <= ZN_REASM_BYTES_MAX, "default within the maximum");
_Static_assert(ZN_REASM_BYTES_DEFAULT >= ZN_MSG_SIZE_MAX_BYTES, "the largest message fits");

/* ---- dataplane (dataplane/) --------------------------------------------------------------- */

/* Stages a node registers (rx, raft, wal, apply, tx, mgmt, plus test and perf pollers). */
#define ZN_DP_STAGES_MAX     16u
#define ZN_DP_STAGE_NAME_MAX 32u
/* Lcores one process drives; a 16-core appliance uses at most this many worker lcores. */
#define ZN_DP_LCORES_MAX 16u
/* Largest ring between stages (objects are pointers: 8 MiB of slots at most). */
#define ZN_RING_SIZE_MAX (1u << 20)
/* Control messages from management to one lcore: a handful in flight (config swap, stats). */
#define ZN_DP_CTRL_RING_SIZE 64u
/* Control messages run per housekeeping round (bounded work between polls). */
#define ZN_DP_CTRL_PER_ROUND 8u
/* Iterations between housekeeping rounds by default: ~10-50 us of busy polling. */
#define ZN_DP_HOUSEKEEPING_EVERY_DEFAULT 256u
/* Lab idle policy (shared/dpdk-notes.md): yield while work is younger than 200 us, then sleep
 * 50 us at a time (a sleeping node answers within ~50-80 us). */
#define ZN_DP_IDLE_YIELD_WINDOW_NS_DEFAULT (200u * 1000u)
#define ZN_DP_IDLE_SLEEP_NS_DEFAULT        (50u * 1000u)
/* After 2 ms without work, sleep 1 ms at a time: each wake costs 15-25 us of CPU on a VM, so
 * 50 us sleeps alone use ~20% of a core, 1 ms sleeps ~2% (goal: an idle instance <= 5%). A
 * request that finds an instance in deep sleep waits up to 1 ms; peers' heartbeats keep a live
 * cluster out of deep sleep. */
#define ZN_DP_IDLE_DEEP_AFTER_NS_DEFAULT (2u * 1000u * 1000u)
#define ZN_DP_IDLE_DEEP_SLEEP_NS_DEFAULT (1000u * 1000u)
/* File descriptors that wake a sleeping lcore (zn_dp_loop.h): per stage a kernel socket or an
 * interrupt fd or two; per lcore the stages' fds plus its own kick eventfd. */
#define ZN_DP_STAGE_WAKE_FDS_MAX 2u
#define ZN_DP_LCORE_WAKE_FDS_MAX 16u
/* DPDK ports one process drives (a NIC, or one memif/ring link per peer in the lab). */
#define ZN_DP_PORTS_MAX 8u
/* Descriptors per rx and tx queue: the usual DPDK size for virtual and 10G ports. */
#define ZN_DP_RX_DESC 512u
#define ZN_DP_TX_DESC 512u
/* ARP: cache entries (cluster members, clients behind a router use the gateway's entry), frames
 * held per unresolved entry, request retries and intervals, entry lifetime. */
#define ZN_ARP_ENTRIES_MAX      256u
#define ZN_ARP_HOLD_MAX         8u
#define ZN_ARP_RETRIES          3u
#define ZN_ARP_RETRY_NS_DEFAULT (100u * 1000u * 1000u)
#define ZN_ARP_TTL_NS_DEFAULT   (60ull * 1000u * 1000u * 1000u)
/* mbufs per queue: rx and tx rings full, a burst in the app per stage, ARP hold queues. */
#define ZN_DP_MBUFS_PER_QUEUE (ZN_DP_RX_DESC + ZN_DP_TX_DESC + 4u * 32u + ZN_ARP_HOLD_MAX * 16u)
#define ZN_DP_MBUF_CACHE      128u
_Static_assert(ZN_DP_MBUFS_PER_QUEUE >= ZN_DP_RX_DESC + ZN_DP_TX_DESC, "rings can fill");
_Static_assert(ZN_DP_MBUF_CACHE * 2 < ZN_DP_MBUFS_PER_QUEUE, "the cache is a fraction");
_Static_assert(ZN_DP_STAGES_MAX <= 64 && ZN_DP_LCORES_MAX <= 64, "small fixed tables");
_Static_assert((ZN_RING_SIZE_MAX & (ZN_RING_SIZE_MAX - 1)) == 0, "rings are power of two");
_Static_assert(ZN_RING_SIZE_DEFAULT <= ZN_RING_SIZE_MAX, "default ring within the maximum");
_Static_assert(ZN_DP_LCORE_WAKE_FDS_MAX >= 1u + 2u * ZN_DP_STAGE_WAKE_FDS_MAX,
               "an lcore can wait on its kick and the fds of at least two stages");
_Static_assert(ZN_DP_IDLE_DEEP_AFTER_NS_DEFAULT > ZN_DP_IDLE_YIELD_WINDOW_NS_DEFAULT,
               "deep sleep only after the yield window");
_Static_assert((ZN_DP_CTRL_RING_SIZE & (ZN_DP_CTRL_RING_SIZE - 1)) == 0, "power of two");
/* ---- client: libzinc (client/) ----------------------------------------------------------- */

/* Nodes in one connection string: a cluster's voters and learners. */
#define ZN_CLIENT_NODES_MAX ZN_CLUSTER_MEMBERS_MAX
/* Requests sent and not yet answered per session. The node holds early requests in a window
 * of at least this many (docs/wire-format.md), so one lost datagram never makes it drop the
 * requests behind the gap. */
#define ZN_CLIENT_INFLIGHT_MAX 64u
/* Bytes of those requests (one larger request is always allowed alone): bounds the burst a
 * client puts on the wire and into the node's reassembly. */
#define ZN_CLIENT_INFLIGHT_BYTES_MAX (4u * ZN_MIB)
/* Calls queued in one handle (submitted, not yet answered): beyond it calls fail ZN_EFULL. */
#define ZN_CLIENT_QUEUE_MAX 65536u
/* Events held while an earlier event is missing (power of two, indexed by number mod size). */
#define ZN_CLIENT_EVENT_WINDOW 256u
/* Watch registrations per handle (client side). */
#define ZN_CLIENT_WATCHES_MAX (1u << 20)
/* Retransmission timeout: initial, floor and ceiling (adaptive in between, RFC 6298 style). */
#define ZN_CLIENT_RTO_INITIAL_NS (10ull * 1000ull * 1000ull)
#define ZN_CLIENT_RTO_MIN_NS     (1ull * 1000ull * 1000ull)
#define ZN_CLIENT_RTO_MAX_NS     (1000ull * 1000ull * 1000ull)
/* CONNECT retransmission backoff: starts at the initial RTO, doubles up to this. */
#define ZN_CLIENT_CONNECT_BACKOFF_MAX_NS (200ull * 1000ull * 1000ull)
_Static_assert(ZN_CLIENT_INFLIGHT_MAX <= 1024u, "the node's hold window must cover it");
_Static_assert((ZN_CLIENT_EVENT_WINDOW & (ZN_CLIENT_EVENT_WINDOW - 1)) == 0, "power of two");
_Static_assert(ZN_CLIENT_RTO_MIN_NS <= ZN_CLIENT_RTO_INITIAL_NS &&
                   ZN_CLIENT_RTO_INITIAL_NS <= ZN_CLIENT_RTO_MAX_NS,
               "RTO bounds");
_Static_assert(ZN_CLIENT_INFLIGHT_BYTES_MAX >= ZN_DATA_SIZE_DEFAULT_BYTES,
               "a default-size request fits in flight alongside others");
/* ---- store (issue 4) -------------------------------------------------------------------- */

/* Authenticated identities one request carries (ip + a few digest/auth ids). */
#define ZN_STORE_IDENTITIES_MAX 16u
/* Bytes of one identity or ACL id/scheme string: "user:" + 28-char base64 SHA-1 fits easily. */
#define ZN_STORE_ID_LEN_MAX 1024u
/* Entries in one ACL list (ZooKeeper has no limit; real lists hold a handful). */
#define ZN_STORE_ACL_ENTRIES_MAX 64u
/* ACL entries across all sub-operations of one entry: bounds the decode scratch. */
#define ZN_STORE_ENTRY_ACLS_MAX (4u * ZN_MULTI_OPS_MAX)
/* Largest encoded log entry: one request body plus the leader stamp and identities. */
#define ZN_STORE_ENTRY_SIZE_MAX \
    (ZN_MSG_SIZE_MAX_BYTES + ZN_STORE_IDENTITIES_MAX * (2u * ZN_STORE_ID_LEN_MAX + 4u) + 64u)
/* Bytes of names in one getChildren/getEphemerals reply: the reply must fit one message. */
#define ZN_STORE_LIST_BYTES_MAX (ZN_MSG_SIZE_MAX_BYTES - ZN_MSG_OVERHEAD_MAX_BYTES)
/* Watches one node keeps in its registry (registrations beyond are refused, ZN_EFULL). */
#define ZN_STORE_WATCHES_MAX (4u * 1024u * 1024u)
/* Attempts a listing read makes to complete between two applies before it is served from a
 * walk that may overlap writes (a listing of ~1000 names takes ~10 us; applies take ~5 us). */
#define ZN_STORE_READ_LIST_TRIES 64u
/* Largest hash table pre-sizing (zn_store_config.expected_znodes): 2^26 buckets = 1 GiB. */
#define ZN_STORE_ZNODES_PRESIZE_MAX (1ull << 26)
/* Items a finished snapshot releases after each apply (~0.5 us each: bounded added latency). */
#define ZN_STORE_RELEASE_PER_APPLY 16u
/* Session password (ZooKeeper ConnectRequest.passwd). */
#define ZN_SESSION_PASSWD_BYTES 16u
_Static_assert(ZN_STORE_ENTRY_SIZE_MAX < INT32_MAX, "entry lengths travel in 32 bits");
_Static_assert(ZN_STORE_ACL_ENTRIES_MAX <= UINT16_MAX, "ACL counts travel in 16 bits");
_Static_assert(ZN_MULTI_OPS_MAX <= UINT16_MAX, "multi op counts travel in 16 bits");
_Static_assert(ZN_STORE_ID_LEN_MAX <= UINT16_MAX, "id lengths travel in 16 bits");
_Static_assert(ZN_STORE_LIST_BYTES_MAX > ZN_DATA_SIZE_DEFAULT_BYTES, "listings fit a message");
/* ---- durable state: WAL, hard state, snapshot files (store/wal.h, issue 5) --------------- */

/* A log entry is one client write command: at most one request body (ZN_MSG_SIZE_MAX_BYTES). */
#define ZN_WAL_ENTRY_BYTES_MAX ZN_MSG_SIZE_MAX_BYTES
/* Record framing: 32-byte header + payload + 4-byte CRC, padded to 8 bytes (docs/disk-format.md). */
#define ZN_WAL_RECORD_OVERHEAD_BYTES 40u
#define ZN_WAL_RECORD_BYTES_MAX      (ZN_WAL_ENTRY_BYTES_MAX + ZN_WAL_RECORD_OVERHEAD_BYTES)
/* Bytes one group-commit batch gathers before it must be submitted: a batch of 512 entries of
 * 1 KiB is 532 KiB; 4 MiB keeps one fdatasync amortized over tens of ms of a 100 MB/s disk. */
#define ZN_WAL_BATCH_BYTES_DEFAULT (4u * ZN_MIB)
/* Replies/messages released after one batch is durable (a batch of 4096 entries at most). */
#define ZN_WAL_BATCH_WAITERS_MAX 4096u
/* Segment size: 64 MiB preallocated; a fresh segment must hold the largest batch buffer
 * (batch + one maximal record) so a batch never spans two segments. */
#define ZN_WAL_SEGMENT_BYTES_DEFAULT (64u * ZN_MIB)
#define ZN_WAL_SEGMENT_HEADER_BYTES  64u
/* Segment files kept at once (64 GiB of log at the default size; compaction keeps far fewer). */
#define ZN_WAL_SEGMENTS_MAX 1024u
/* Snapshot files kept (the newest K; older ones are deleted after a new one is durable). */
#define ZN_SNAPFILE_RETAIN_DEFAULT 2u
#define ZN_SNAPFILE_RETAIN_MAX     16u
_Static_assert(ZN_WAL_SEGMENT_BYTES_DEFAULT >= ZN_WAL_SEGMENT_HEADER_BYTES +
                                                   ZN_WAL_BATCH_BYTES_DEFAULT +
                                                   ZN_WAL_RECORD_BYTES_MAX,
               "a fresh segment holds any batch");
_Static_assert(ZN_WAL_RECORD_BYTES_MAX < UINT32_MAX, "record lengths are u32");
_Static_assert(ZN_SNAPFILE_RETAIN_DEFAULT >= 1 &&
                   ZN_SNAPFILE_RETAIN_DEFAULT <= ZN_SNAPFILE_RETAIN_MAX,
               "keep at least the newest snapshot");
/* ---- consensus (consensus/raft.h; a config may lower these, never raise them) ----------- */

/* AppendEntries in flight per follower: 64 (the default) x 256-entry batches keep a 100 us RTT
 * link busy at 10M entries/s; the maximum leaves room for WAN-like latencies. */
#define ZN_RAFT_INFLIGHT_MAX 4096u
/* Entries per AppendEntries and per proposal batch; also bounds one update's write. */
#define ZN_RAFT_BATCH_ENTRIES_MAX 65536u
/* Entries in the in-memory log window (between snapshots): 64M descriptors = 1.5 GiB at most. */
#define ZN_RAFT_LOG_ENTRIES_MAX (1u << 26)
/* Payload arena of the window; offsets are 32-bit. */
#define ZN_RAFT_LOG_BYTES_MAX (1u << 31)
/* Messages per update list (send now / after persist): a broadcast to 15 peers times batches. */
#define ZN_RAFT_MSGS_PER_UPDATE_MAX 65536u
/* Pending ReadIndex requests on a leader. */
#define ZN_RAFT_READS_MAX (1u << 24)
/* One InstallSnapshot chunk: below the largest peer message. */
#define ZN_RAFT_SNAPSHOT_CHUNK_MAX_BYTES (1u * ZN_MIB)
_Static_assert(ZN_RAFT_BATCH_ENTRIES_MAX < ZN_RAFT_LOG_ENTRIES_MAX, "a batch fits the window");
_Static_assert(ZN_RAFT_SNAPSHOT_CHUNK_MAX_BYTES < ZN_MSG_SIZE_MAX_BYTES,
               "a snapshot chunk fits one peer message");

/* ---- node (zincd) -------------------------------------------------------------------------- */

/* Identities forwarded with a write (a session's auth ids: ZooKeeper clients add one or two). */
#define ZN_NODE_FWD_IDS_MAX 16u
/* Bytes of one identity's scheme or id: digest ids are user:base64(sha1) (< 300 bytes). */
#define ZN_NODE_IDENT_BYTES_MAX 1024u
/* Sessions per TOUCH batch: 12 bytes each, so a batch stays under 48 KiB (33 segments); a node
 * with more clients sends several batches per interval. */
#define ZN_NODE_TOUCH_BATCH_MAX 4096u
/* Unacknowledged events held per session: a session whose queue overflows is closed (its client
 * is not reading; ZooKeeper drops such a connection too). */
#define ZN_NODE_EVENTS_PER_SESSION_MAX 1024u
/* Early requests held per session while a gap fills (zn_sess_window_classify's window). */
#define ZN_NODE_HOLD_WINDOW 64u
_Static_assert(ZN_NODE_FWD_IDS_MAX * 2u * (ZN_NODE_IDENT_BYTES_MAX + 4u) <
                   ZN_MSG_OVERHEAD_MAX_BYTES,
               "forwarded identities fit in the message overhead");
_Static_assert(ZN_NODE_TOUCH_BATCH_MAX * 12u + 8u < ZN_MSG_OVERHEAD_MAX_BYTES,
               "a TOUCH batch is small");
_Static_assert(ZN_NODE_HOLD_WINDOW <= ZN_NODE_EVENTS_PER_SESSION_MAX, "windows are small");
/* New-session CONNECTs waiting for their SESSION_CREATE entry to apply on one node (each is a
 * client connecting right now; more are refused with THROTTLEDOP and retried by the client). */
#define ZN_NODE_PENDING_CONNECTS_MAX 256u
/* Release items (acks waiting for durability, local messages) queued for the wal stage: at most
 * two WAL batches' worth of deferred items can be harvested before the stage drains them. */
#define ZN_NODE_RELEASE_QUEUE_MAX (2u * ZN_WAL_BATCH_WAITERS_MAX)
/* Entries decoded from one AppendEntries message: the consensus batch limit's default (256)
 * with room for a peer configured up to 16x larger. */
#define ZN_NODE_RX_ENTRIES_MAX 4096u
/* Watch events held until acked, for all sessions of a node (each session at most
 * ZN_NODE_EVENTS_PER_SESSION_MAX). */
#define ZN_NODE_EVENT_POOL 65536u
/* Reads waiting for a read index or for apply, per node; and ReadIndex requests other nodes
 * forwarded to the leader (a slot is reused after 4096 newer ones: the origin retries). */
#define ZN_NODE_PARKED_READS_MAX 4096u
#define ZN_NODE_REMOTE_READS_MAX 4096u
/* Requests held until their turn (hold window) and replies held behind unacked events, per
 * node: 64 sessions with a full window each; beyond, the client's retransmission retries. */
#define ZN_NODE_HELD_MAX            4096u
#define ZN_NODE_DELAYED_REPLIES_MAX 4096u
/* Recent write replies kept for retransmissions (direct-mapped, power of two), and the largest
 * reply kept (write replies are a path and a Stat; a large multi reply is not cached). */
#define ZN_NODE_REPLY_CACHE_SLOTS     16384u
#define ZN_NODE_REPLY_CACHE_BYTES_MAX 4096u
_Static_assert((ZN_NODE_REPLY_CACHE_SLOTS & (ZN_NODE_REPLY_CACHE_SLOTS - 1)) == 0,
               "the reply cache is indexed by a mask");
_Static_assert(ZN_NODE_HELD_MAX >= ZN_NODE_HOLD_WINDOW, "one full window fits");
_Static_assert(ZN_NODE_REPLY_CACHE_SLOTS >= ZN_NODE_HOLD_WINDOW,
               "a session's window of replies never evicts itself from the reply cache");
_Static_assert(ZN_CLIENT_INFLIGHT_MAX <= ZN_NODE_HOLD_WINDOW,
               "the node holds everything a client may have in flight");

/* ---- control endpoint (node/ctl.c, mgmt/zincctl.c) ------------------------------------------
 * Connections: zincctl opens one per node per command; 16 lets several operators and scripts
 * work at once. A request line is small JSON (the largest is `config set` with a path value):
 * 64 KiB bounds it with room. A snapshot is downloaded in reads of at most 1 MiB, which bounds
 * a connection's reply buffer (line + payload). `sessions list` returns at most 4096 rows (the
 * total is reported; a larger table is summarized, not sent whole). */
#define ZN_CTL_CONNS_MAX         16u
#define ZN_CTL_LINE_MAX          (64u * 1024u)
#define ZN_CTL_READ_CHUNK_MAX    (1024u * 1024u)
#define ZN_CTL_REPLY_MAX         (ZN_CTL_READ_CHUNK_MAX + ZN_CTL_LINE_MAX)
#define ZN_CTL_SESSIONS_LIST_MAX 4096u
#define ZN_CTL_TOKEN_MAX         256u
_Static_assert(ZN_CTL_SESSIONS_LIST_MAX <= ZN_SESSIONS_MAX, "a list is a part of the table");
_Static_assert(ZN_CTL_SESSIONS_LIST_MAX * 160u < ZN_CTL_REPLY_MAX,
               "a full session list (about 160 bytes of JSON a row) fits one reply");
/* ---- node ports and identities (node/ports*.h, node/node_auth.c) ------------------------- */

/* Members of one transport mux: a DPDK port per peer (at most ZN_DP_PORTS_MAX) and one
 * kernel-UDP listener for clients. */
#define ZN_PORTS_MUX_MEMBERS_MAX (ZN_DP_PORTS_MAX + 1u)
/* Static routes (destination address -> member): one per peer of a cluster, with room. */
#define ZN_PORTS_MUX_ROUTES_MAX ZN_CLUSTER_MEMBERS_MAX
_Static_assert(ZN_PORTS_MUX_MEMBERS_MAX <= 255u, "a member index fits a byte");
/* Sessions with addAuth identities on one node (node/node_auth.c): a table slot each (16 B) and
 * ~2 KiB of identities per session that called addAuth. */
#define ZN_NODE_AUTH_SESSIONS_MAX 8192u
_Static_assert((ZN_NODE_AUTH_SESSIONS_MAX & (ZN_NODE_AUTH_SESSIONS_MAX - 1)) == 0,
               "the auth table is indexed by a mask");
/* ---- ZooKeeper TCP port (node/zkport.c) ------------------------------------------------------
 * One thread serves every ZooKeeper connection of a node and talks to the lcore through two
 * single-producer single-consumer message rings (node/zkport_ring.h). */
/* Connections open at once (ZooKeeper clients keep one each); [zk] conn_per_ip_max bounds
 * one address's share. */
#define ZN_ZKPORT_CONNS_MAX 1024u
/* Requests of one connection sent to the node and not answered yet: the node's hold window
 * takes them all (more would be dropped as too early and cost a retransmission). */
#define ZN_ZKPORT_INFLIGHT_MAX ZN_CLIENT_INFLIGHT_MAX
/* Requests of one connection read and not answered yet (ZooKeeper clients pipeline); beyond,
 * the port stops reading that socket (TCP backpressure) until replies go out. */
#define ZN_ZKPORT_QUEUE_MAX 256u
/* A frame: the largest request at the configured data limit ([limits] data_bytes_max +
 * ZN_MSG_OVERHEAD_MAX_BYTES, at most ZN_MSG_SIZE_MAX_BYTES); a longer frame up to
 * ZN_ZKPORT_FRAME_SKIP_BYTES_MAX is skipped and answered with an error, not buffered; a longer
 * one still closes the connection (no ZooKeeper client sends that). */
#define ZN_ZKPORT_FRAME_SKIP_BYTES_MAX (64u * ZN_MIB)
/* Replies buffered for a connection whose client does not read: this many largest replies
 * plus room for events; beyond, the connection is closed (ZooKeeper does the same). */
#define ZN_ZKPORT_WBUF_MSGS  2u
#define ZN_ZKPORT_WBUF_SLACK (256u * ZN_KIB)
/* Each ring (port -> lcore, lcore -> port) holds this many largest messages, and at least
 * ZN_ZKPORT_RING_BYTES_MIN (rounded up to a power of two at start). */
#define ZN_ZKPORT_RING_MSGS      4u
#define ZN_ZKPORT_RING_BYTES_MIN (4u * ZN_MIB)
_Static_assert(ZN_ZKPORT_INFLIGHT_MAX <= ZN_NODE_HOLD_WINDOW, "the node holds what is in flight");
_Static_assert(ZN_ZKPORT_QUEUE_MAX >= ZN_ZKPORT_INFLIGHT_MAX, "the queue holds the window");
_Static_assert(ZN_ZKPORT_FRAME_SKIP_BYTES_MAX > ZN_MSG_SIZE_MAX_BYTES, "skip bound");
_Static_assert((uint64_t)ZN_ZKPORT_RING_MSGS *(ZN_MSG_SIZE_MAX_BYTES + 64u) < (1ull << 31),
               "ring positions fit");

/* ---- large values over kernel UDP (dataplane/zn_udp.c, docs/wire-format.md) ---------------- */

/* Kernel truesize of one full datagram on loopback/veth: the payload plus the skb and its page
 * (measured: 2.3 KiB for 1472 bytes; up to 4.5 KiB when the driver hands a 4 KiB page). */
#define ZN_UDP_DGRAM_TRUESIZE_MAX_BYTES (9u * ZN_KIB / 2u)
/* SO_RCVBUF/SO_SNDBUF of every kernel-UDP socket of a node (and libzinc's): a message of
 * 1 MiB value (the default data limit) is ~750 segments, ~3.3 MiB of truesize, sent back to
 * back; the default rmem (208 KiB) holds ~90 segments, so anything above ~190 KiB
 * lost its tail in the kernel on every retry. 8 MiB holds two such messages at once (a client
 * request and a peer's AppendEntries). The kernel doubles the value; without CAP_NET_ADMIN it is
 * capped at net.core.rmem_max/wmem_max (zincd warns). */
#define ZN_UDP_SOCK_BUF_BYTES (8u * ZN_MIB)
_Static_assert(ZN_UDP_SOCK_BUF_BYTES >=
                   (ZN_DATA_SIZE_DEFAULT_BYTES / 1024u + 1u) * ZN_UDP_DGRAM_TRUESIZE_MAX_BYTES,
               "a socket buffer holds a largest default-limit message in kernel truesize");

/* ---- log window of zincd ([raft] log_entries_max, logfix) ----------------------------------- */
/* Smallest window a node accepts: half of it is the proposal room, which must hold keep_entries
 * (8 in the tests) plus two default 256-entry batches with room left for a snapshot interval. */
#define ZN_CONFIG_LOG_ENTRIES_MIN 2048u
/* Largest: 16M descriptors (~400 MiB of core memory); the core itself allows up to
 * ZN_RAFT_LOG_ENTRIES_MAX. */
#define ZN_CONFIG_LOG_ENTRIES_MAX (1u << 24)
_Static_assert(ZN_CONFIG_LOG_ENTRIES_MAX <= ZN_RAFT_LOG_ENTRIES_MAX, "the core takes the window");
_Static_assert(ZN_CONFIG_LOG_ENTRIES_MIN / 2 > 2 * 256u + 8u, "the minimum window holds batches");

/* ---- zkfix: container/TTL reaper (node/node_reap.c) --------------------------------------- */
/* Deletions the leader proposes per check ([znode] container_check_interval_ms): bounded
 * lcore work per call (a scan plus this many proposals); more wait one interval, as
 * ZooKeeper's ContainerManager also spreads deletions (maxPerMinute). */
#define ZN_REAP_BATCH_MAX 16u
/* Path bytes copied out per check: the batch at an average 256-byte path; a longer path waits
 * for a check with room (a 4 KiB path always fits an empty buffer). */
#define ZN_REAP_BUF_BYTES (ZN_REAP_BATCH_MAX * 256u)
_Static_assert(ZN_REAP_BUF_BYTES >= ZN_PATH_LEN_MAX, "the longest path fits an empty buffer");

/* ---- WAL spare segment (store/wal.c, walpre) ---------------------------------------------- */
/* The spare segment is zero-filled by the background runner in writes of this size (a static
 * zero buffer of this size lives in store/wal.c: 256 KiB keeps it small and the syscall count at
 * 256 per 64 MiB segment). */
#define ZN_WAL_SPARE_CHUNK_BYTES (256u * 1024u)
/* ... with an fdatasync every this many bytes: paces the zero-fill at the disk's speed and bounds
 * the dirty data it leaves for a device flush, so that a WAL commit's fdatasync queues behind at
 * most 1 MiB of it (64 flushes per default segment, all on the background thread). */
#define ZN_WAL_SPARE_SYNC_BYTES (1u * ZN_MIB)
_Static_assert(ZN_WAL_SPARE_SYNC_BYTES % ZN_WAL_SPARE_CHUNK_BYTES == 0,
               "the zero-fill syncs at chunk boundaries");

/* ---- client identities re-sent after a reconnect (client/, authfail) ----------------------- */
/* addAuth identities one handle keeps to re-send after every reconnect (docs/client.md). A node
 * holds 8 identities per session (node/auth.h ZN_AUTH_IDS_MAX), one of them the connection's ip
 * identity: 7 addAuth identities is what a node can take back. ZooKeeper clients add one or two.
 * Distinct (scheme, credential) pairs held or still unanswered; a further addAuth returns
 * ZN_ELIMIT without sending anything. */
#define ZN_CLIENT_AUTH_MAX 7u
/* Bytes of one addAuth credential ("user:password" for digest) and of its scheme name: the
 * stored copies are bounded (7 x 1 KiB per handle at most). */
#define ZN_CLIENT_AUTH_CRED_MAX_BYTES   1024u
#define ZN_CLIENT_AUTH_SCHEME_MAX_BYTES 32u
_Static_assert(ZN_CLIENT_AUTH_MAX + 1u <= ZN_STORE_IDENTITIES_MAX,
               "a session's identities (ip + addAuth) fit one entry's identities");
_Static_assert(ZN_CLIENT_AUTH_CRED_MAX_BYTES + ZN_CLIENT_AUTH_SCHEME_MAX_BYTES + 64u <=
                   ZN_MSG_SIZE_MAX_BYTES,
               "a re-sent addAuth fits one message");

#endif /* ZN_LIMITS_H */
