/*
 * sim.h - the deterministic cluster simulator that drives the real Raft core (see sim.c for the
 * fault and disk model). Used by the seed sweep (sim_main.c) and the scripted scenarios
 * (scenarios.c).
 */
#ifndef ZN_SIM_H
#define ZN_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/zn_prng.h"
#include "consensus/raft.h"

#define SIM_NODES_MAX   9 /* 7 voters + 2 spares to add */
#define SIM_CLIENTS_MAX 4
#define SIM_MS          1000000ull

enum sim_fault {
    F_LOSS,
    F_DUP,
    F_PARTITION,
    F_ONE_WAY,
    F_ISOLATE,
    F_HALVES,
    F_BRIDGE,
    F_HEAL,
    F_CRASH,
    F_DISK_DROP,
    F_DISK_TORN,
    F_DISK_REORDER,
    F_PAUSE,
    F_CONF,
    F_TRANSFER,
    F_SNAPSHOT,
    F_INSTALL,
    F_CRASH_IO, /* the power cut landed inside a WAL job (between its disk operations) */
    F_PRIO0,    /* runs with a priority-0 node */
    F_ENOSPC,   /* WAL batches that met ENOSPC creating a segment (retried) */
    F_SETTINGS, /* runtime settings events (ZN_SIM_SETTINGS=1): priorities and timers changed */
    F_HS_FLIP,  /* a crash also flipped one bit of one hard-state copy at rest */
    F_COUNT
};

struct sim_opts {
    uint64_t seed;
    uint32_t nodes;  /* initial voters: 1, 3, 5, 7 */
    uint64_t events; /* events before the liveness phase */
    bool trace;      /* print every event */
    bool faults;     /* random faults on (off in scripted scenarios) */
    bool liveness;   /* run the heal + liveness phase at the end */
    bool clients;    /* random client load */
    bool role_notes; /* put role changes into the transcript (the sweep's trace) */
    uint32_t batch;  /* entries per AppendEntries (0: the sweep's default) */
    uint8_t priorities[SIM_NODES_MAX + 1]; /* leader hand-over priorities (all 0: random) */
    FILE *out;                             /* trace and transcript sink */
};

struct sim_stats {
    uint64_t events;
    uint64_t steps;
    uint64_t sim_ns;
    uint64_t checks;
    uint64_t violations;
    uint64_t faults[F_COUNT];
    uint64_t committed;
    uint64_t reads;
    uint64_t elections;
    uint64_t proposals_full; /* proposals refused with ZN_EFULL (window backpressure) */
    uint64_t dropped_msgs;   /* output messages dropped because an update list was full */
    uint64_t trace_hash;
    char first_violation[256];
};

struct sim;

struct sim *sim_new(const struct sim_opts *opts);
void sim_free(struct sim *s);
/* Run the configured number of events (and the liveness phase if set); returns violations. */
uint64_t sim_run(struct sim *s);
const struct sim_stats *sim_stats(const struct sim *s);
const char *sim_fault_name(int f);

/* ---- scripted control (scenarios) ---------------------------------------------------------- */

/* Advance simulated time by ns, processing every event due. */
void sim_advance(struct sim *s, uint64_t ns);
/* Block or allow the directed link from -> to (ids 1..). */
void sim_link(struct sim *s, uint8_t from, uint8_t to, bool up);
/* Cut a node off completely (both directions) or reconnect it. */
void sim_isolate(struct sim *s, uint8_t id, bool isolated);
void sim_crash(struct sim *s, uint8_t id);
void sim_restart(struct sim *s, uint8_t id);
/* Step a request into a node; returns the core's return code. */
int sim_propose(struct sim *s, uint8_t id, uint32_t n);
int sim_conf(struct sim *s, uint8_t id, uint32_t op, uint8_t node);
int sim_transfer(struct sim *s, uint8_t id, uint8_t to);
int sim_read(struct sim *s, uint8_t id);
/* Force the application on node id to snapshot at its applied index. */
int sim_snapshot(struct sim *s, uint8_t id);
void sim_status(const struct sim *s, uint8_t id, struct zn_raft_status *st);
uint8_t sim_leader(const struct sim *s); /* a node in role leader with the highest term, or 0 */
bool sim_up(const struct sim *s, uint8_t id);
/* Hold (do not deliver) messages of one type from a node while held is true. */
void sim_hold(struct sim *s, uint8_t from, uint8_t msg_type, bool held);
/* Append a transcript line (role changes, commits and scenario notes go there). */
void sim_note(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sim_transcript(const struct sim *s);
uint64_t sim_reads_done(const struct sim *s);
/* Term of node id's entry at index (0 if the node is down or does not have it). */
uint64_t sim_term_at(const struct sim *s, uint8_t id, uint64_t index);
/* Violations so far (scenarios check it after each step). */
uint64_t sim_violations(const struct sim *s);

#endif /* ZN_SIM_H */
