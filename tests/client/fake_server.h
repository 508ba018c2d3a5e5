/*
 * fake_server.h - a scripted zinc node for libzinc's tests (test infrastructure, not product).
 *
 * A fake cluster is an in-memory znode map plus sessions shared by one or more fake servers in
 * the same process (standing in for the replicated state: a session, its request order and its
 * cached replies survive a move to another server, as they do in zincd). Each fake server is a
 * thread with its own UDP socket on 127.0.0.1, its own watches and event numbering per
 * connected session, and speaks the server side of docs/wire-format.md "Native client protocol
 * behaviour": CONNECT/CONNECTED, REQUEST/REPLY in seq order with a hold window and duplicate
 * answers from the cached reply, EVENT numbering with retransmission until acked, replies held
 * while an event with a zxid at or below theirs is unacked, PING/PONG, REFUSED. addAuth
 * identities belong to the session's connection, as in zincd: a new connection (a move to
 * another server, or a reconnect to the same one) starts without them, and an addAuth is run
 * again whatever its seq (a client re-sends its identities with their original seqs).
 *
 * Fault knobs apply per datagram: drop, duplicate, delay (which reorders), in each direction;
 * `mute` makes the server silent (a crashed node); `blackhole` makes it ignore requests.
 */
#ifndef ZN_TEST_FAKE_SERVER_H
#define ZN_TEST_FAKE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_cluster;
struct fake_server;

struct fake_faults {
    int out_drop_pct;
    int out_dup_pct;
    int out_delay_pct;
    int in_drop_pct;
    int in_dup_pct;
    int in_delay_pct;
    uint32_t delay_us; /* how long a delayed datagram waits */
};

struct fake_stats {
    uint64_t datagrams_in;
    uint64_t datagrams_out;
    uint64_t connects;
    uint64_t requests;       /* REQUEST messages received (all) */
    uint64_t executed;       /* requests executed (each seq once) */
    uint64_t duplicates;     /* REQUEST with a seq already taken */
    uint64_t cached_replies; /* duplicates answered from the cached reply */
    uint64_t retry_flags;    /* REQUEST messages with the RETRY flag */
    uint64_t early_held;     /* requests held until the gap before them filled */
    uint64_t linearizable;   /* REQUEST messages with the LINEARIZABLE flag */
    uint64_t events_sent;    /* distinct events */
    uint64_t event_resends;  /* event retransmissions */
    uint64_t events_acked;   /* highest event number acked (last connection) */
    uint64_t replies_held;   /* replies held behind an unacked event */
    uint64_t pings;
    uint64_t acks;
    uint64_t set_watches; /* setWatches2 requests executed */
    uint64_t set_watches_paths;
    uint64_t refused;
    uint64_t zxid_regressions; /* a client header zxid lower than one it sent before */
    uint64_t violations;       /* xid != low bits of seq, ack of an unsent or a lower event */
    uint64_t auth_reexecuted;  /* addAuth with an already taken seq, run again (re-sent identity) */
};

struct fake_cluster *fake_cluster_new(uint32_t cluster_id);
void fake_cluster_free(struct fake_cluster *c);

/* Start a server with node id `node_id` on 127.0.0.1 (ephemeral port). */
struct fake_server *fake_server_start(struct fake_cluster *c, uint8_t node_id);
uint16_t fake_server_port(const struct fake_server *s);
void fake_server_stop(struct fake_server *s);
void fake_server_set_faults(struct fake_server *s, const struct fake_faults *f);
void fake_server_set_mute(struct fake_server *s, bool mute);
void fake_server_set_blackhole(struct fake_server *s, bool on);
/* Refuse every CONNECT with ZooKeeper code zk_code (0: accept again). */
void fake_server_refuse_connect(struct fake_server *s, int zk_code);
void fake_server_stats(struct fake_server *s, struct fake_stats *out);
/* Answer every addAuth with AUTHFAILED (on: a node that no longer accepts the credential). */
void fake_server_refuse_auth(struct fake_server *s, bool on);
/* Execute requests of ZooKeeper opcode `op` but never send their replies (0: send them again). */
void fake_server_lose_replies(struct fake_server *s, int32_t op);
/* Op codes of the REQUEST messages this server received since its latest new connection, in
 * arrival order (retransmissions included): up to cap into ops, returns how many. */
int fake_server_request_log(struct fake_server *s, int32_t *ops, int cap);
/* The identities `session` holds on its connection to this server ("scheme:id,..." into out),
 * their number, or -1 when the session is not connected here. */
int fake_server_identities(struct fake_server *s, int64_t session, char *out, size_t cap);
/* Server-side watches of `session` on `path` (any kind) on this server. */
int fake_server_watch_count(struct fake_server *s, int64_t session, const char *path);

/* Changes made "by another session" (fire watches like a client write). 0 or ZK error. */
int fake_cluster_create(struct fake_cluster *c, const char *path, const char *data);
int fake_cluster_set(struct fake_cluster *c, const char *path, const char *data);
int fake_cluster_delete(struct fake_cluster *c, const char *path);
/* Expire a session now (the next message of it is refused with SESSIONEXPIRED). */
void fake_cluster_expire(struct fake_cluster *c, int64_t session);
/* Writes applied (each client write counts once, however often it was retransmitted). */
uint64_t fake_cluster_writes(struct fake_cluster *c);
int64_t fake_cluster_zxid(struct fake_cluster *c);

#endif /* ZN_TEST_FAKE_SERVER_H */
