/*
 * test_raft_api.c - the Raft core's API contract on one instance: configuration and memory
 * validation, the single-voter path (the candidate counts its own vote only through msgs_after,
 * the leader counts its own entries only once persisted), request errors, restart loading and
 * the ordering contract of an update. The protocol under faults is the simulator's job.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "consensus/raft.h"

static const struct zn_raft_conf one = {.n_voters = 1, .voters = {1}};
static const struct zn_raft_conf three = {.n_voters = 3, .voters = {1, 2, 3}};

static struct zn_raft *mk(const struct zn_raft_conf *conf, void **mem)
{
    struct zn_raft_config cfg;
    zn_raft_config_default(&cfg, 1);
    cfg.log_entries_max = 1024;
    cfg.log_bytes_max = 1u << 16;
    size_t need = zn_raft_mem_size(&cfg);
    cr_assert_gt(need, 0);
    *mem = aligned_alloc(8, (need + 7) & ~(size_t)7);
    struct zn_raft *r = NULL;
    cr_assert_eq(zn_raft_init(&r, &cfg, conf, *mem, need), 0);
    return r;
}

static struct zn_raft_update up;

static int ev_tick(struct zn_raft *r, uint64_t now)
{
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK, .now_ns = now};
    return zn_raft_step(r, &ev, &up);
}

Test(raft_api, config_and_memory_validation)
{
    struct zn_raft_config cfg;
    zn_raft_config_default(&cfg, 1);
    cr_assert_gt(zn_raft_mem_size(&cfg), 0);
    struct zn_raft_config bad = cfg;
    bad.id = 0;
    cr_assert_eq(zn_raft_mem_size(&bad), 0);
    bad = cfg;
    bad.heartbeat_interval_ns = bad.election_timeout_ns;
    cr_assert_eq(zn_raft_mem_size(&bad), 0);
    bad = cfg;
    bad.inflight_max = 0;
    cr_assert_eq(zn_raft_mem_size(&bad), 0);
    cfg.log_entries_max = 64;
    cfg.batch_entries_max = 16;
    cfg.log_bytes_max = 4096;
    size_t need = zn_raft_mem_size(&cfg);
    void *mem = aligned_alloc(8, (need + 7) & ~(size_t)7);
    struct zn_raft *r = NULL;
    cr_assert_eq(zn_raft_init(&r, &cfg, &one, mem, need - 8), ZN_ENOMEM);
    cr_assert_eq(zn_raft_init(&r, &cfg, &one, (uint8_t *)mem + 1, need), ZN_EINVAL);
    struct zn_raft_conf dup = {.n_voters = 2, .voters = {1, 1}};
    cr_assert_eq(zn_raft_init(&r, &cfg, &dup, mem, need), ZN_EINVAL);
    cr_assert_eq(zn_raft_init(&r, &cfg, &one, mem, need), 0);
    free(mem);
}

Test(raft_api, single_voter_elects_itself_only_after_persist)
{
    void *mem;
    struct zn_raft *r = mk(&one, &mem);
    ev_tick(r, 1);
    uint64_t now = up.deadline_ns;
    ev_tick(r, now);
    /* pre-vote wins alone, the real election: term 1, vote for self, own grant held back */
    cr_assert_eq(up.role, ZN_RAFT_CANDIDATE);
    cr_assert_eq(up.term, 1);
    cr_assert(up.persist.id > 0 && up.persist.hard_state);
    cr_assert_eq(up.persist.vote, 1);
    cr_assert_eq(up.n_msgs_after, 1);
    cr_assert_eq(up.msgs_after[0].type, ZN_RAFT_MSG_VOTE_RESP);
    cr_assert_eq(up.msgs_after[0].to, 1);
    struct zn_raft_msg grant = up.msgs_after[0];
    uint64_t wid = up.persist.id;
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_PERSISTED, .now_ns = now};
    ev.persisted.id = wid;
    zn_raft_step(r, &ev, &up);
    cr_assert_eq(up.role, ZN_RAFT_CANDIDATE, "persisting alone does not elect");
    struct zn_raft_event gev = {.type = ZN_RAFT_EV_MSG, .now_ns = now, .msg = &grant};
    zn_raft_step(r, &gev, &up);
    cr_assert_eq(up.role, ZN_RAFT_LEADER);
    /* the no-op is written; not committed until persisted */
    cr_assert_eq(up.persist.n_entries, 1);
    cr_assert_eq(up.persist.entries[0].type, ZN_RAFT_ENTRY_NOOP);
    cr_assert_eq(up.commit, 0);
    ev.persisted.id = up.persist.id;
    zn_raft_step(r, &ev, &up);
    cr_assert_eq(up.commit, 1);
    cr_assert_eq(up.apply_from, 1);
    cr_assert_eq(up.apply_to, 1);
    /* a proposal: indexes reported, committed after its write */
    static const uint8_t data[] = "x";
    struct zn_raft_entry e = {.type = ZN_RAFT_ENTRY_NORMAL, .len = 1, .data = data};
    struct zn_raft_event pev = {.type = ZN_RAFT_EV_PROPOSE, .now_ns = now};
    pev.propose.entries = &e;
    pev.propose.n = 1;
    cr_assert_eq(zn_raft_step(r, &pev, &up), 0);
    cr_assert_eq(up.propose_index, 2);
    cr_assert_eq(up.propose_term, 1);
    cr_assert_eq(up.commit, 1);
    ev.persisted.id = up.persist.id;
    zn_raft_step(r, &ev, &up);
    cr_assert_eq(up.commit, 2);
    struct zn_raft_entry got;
    cr_assert_eq(zn_raft_entry_get(r, 2, &got), 0);
    cr_assert_eq(got.len, 1);
    cr_assert_eq(got.data[0], 'x');
    /* a read is served at once by a single voter that committed in its term */
    struct zn_raft_event rev = {.type = ZN_RAFT_EV_READ_INDEX, .now_ns = now};
    rev.read.ctx = 77;
    cr_assert_eq(zn_raft_step(r, &rev, &up), 0);
    cr_assert_eq(up.n_reads, 1);
    cr_assert_eq(up.reads[0].ctx, 77);
    cr_assert_eq(up.reads[0].index, 2);
    free(mem);
}

Test(raft_api, requests_on_a_follower_and_bad_requests)
{
    void *mem;
    struct zn_raft *r = mk(&three, &mem);
    static const uint8_t data[] = "x";
    struct zn_raft_entry e = {.type = ZN_RAFT_ENTRY_NORMAL, .len = 1, .data = data};
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_PROPOSE, .now_ns = 1};
    ev.propose.entries = &e;
    ev.propose.n = 1;
    cr_assert_eq(zn_raft_step(r, &ev, &up), ZN_ENOTLEADER);
    struct zn_raft_event rev = {.type = ZN_RAFT_EV_READ_INDEX, .now_ns = 1};
    cr_assert_eq(zn_raft_step(r, &rev, &up), ZN_ENOTLEADER);
    struct zn_raft_event cev = {.type = ZN_RAFT_EV_CONF_CHANGE, .now_ns = 1};
    cev.conf.op = ZN_RAFT_CONF_ADD_LEARNER;
    cev.conf.node = 4;
    cr_assert_eq(zn_raft_step(r, &cev, &up), ZN_ENOTLEADER);
    struct zn_raft_event tev = {.type = ZN_RAFT_EV_TRANSFER, .now_ns = 1};
    tev.transfer.to = 2;
    cr_assert_eq(zn_raft_step(r, &tev, &up), ZN_ENOTLEADER);
    struct zn_raft_event sev = {.type = ZN_RAFT_EV_SNAPSHOT_TAKEN, .now_ns = 1};
    sev.snapshot_taken.index = 5;
    cr_assert_eq(zn_raft_step(r, &sev, &up), ZN_ESTALE);
    struct zn_raft_event iev = {.type = ZN_RAFT_EV_SNAPSHOT_INSTALLED, .now_ns = 1};
    iev.installed.index = 5;
    iev.installed.term = 1;
    cr_assert_eq(zn_raft_step(r, &iev, &up), ZN_EINVAL);
    struct zn_raft_event bogus = {.type = 99, .now_ns = 1};
    cr_assert_eq(zn_raft_step(r, &bogus, &up), ZN_EINVAL);
    /* a message for another node or from node 0 is ignored */
    struct zn_raft_msg m = {.type = ZN_RAFT_MSG_APPEND, .from = 2, .to = 9, .term = 50};
    struct zn_raft_event mev = {.type = ZN_RAFT_EV_MSG, .now_ns = 1, .msg = &m};
    cr_assert_eq(zn_raft_step(r, &mev, &up), 0);
    cr_assert_eq(up.term, 0);
    free(mem);
}

Test(raft_api, follower_acks_only_after_persist_and_rejects_gaps)
{
    void *mem;
    struct zn_raft *r = mk(&three, &mem);
    static const uint8_t data[] = "ab";
    struct zn_raft_entry ents[2] = {
        {.index = 1, .term = 2, .type = ZN_RAFT_ENTRY_NOOP},
        {.index = 2, .term = 2, .type = ZN_RAFT_ENTRY_NORMAL, .len = 2, .data = data},
    };
    struct zn_raft_msg m = {.type = ZN_RAFT_MSG_APPEND,
                            .from = 2,
                            .to = 1,
                            .term = 2,
                            .index = 0,
                            .log_term = 0,
                            .commit = 1,
                            .n_entries = 2,
                            .entries = ents};
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .now_ns = 5, .msg = &m};
    zn_raft_step(r, &ev, &up);
    cr_assert_eq(up.leader, 2);
    cr_assert_eq(up.persist.n_entries, 2);
    cr_assert(up.persist.hard_state, "the new term is written with the entries");
    cr_assert_eq(up.n_msgs, 0, "no ack may leave before the write");
    cr_assert_eq(up.n_msgs_after, 1);
    cr_assert_eq(up.msgs_after[0].type, ZN_RAFT_MSG_APPEND_RESP);
    cr_assert_eq(up.msgs_after[0].index, 2);
    cr_assert_eq(up.commit, 1);
    /* a gap: rejected at once with a hint at our last index */
    struct zn_raft_msg gap = m;
    gap.index = 7;
    gap.log_term = 2;
    gap.n_entries = 0;
    ev.msg = &gap;
    zn_raft_step(r, &ev, &up);
    cr_assert_eq(up.n_msgs, 1);
    cr_assert(up.msgs[0].reject);
    cr_assert_eq(up.msgs[0].hint, 2);
    cr_assert_eq(up.msgs[0].log_term, 2);
    free(mem);
}

/* The contract zincd's snapshot scheduling relies on (node/node_snapshot.c, logfix): a
 * follower may be handed entries to apply before its own write of them is durable; a snapshot
 * over them is refused (ZN_ESTALE) and accepted once the write is persisted, and the status
 * reports the window's occupancy the node schedules snapshots by. */
Test(raft_api, snapshot_refused_past_durable_is_accepted_once_persisted)
{
    void *mem;
    struct zn_raft *r = mk(&three, &mem);
    static const uint8_t data[] = "ab";
    struct zn_raft_entry ents[2] = {
        {.index = 1, .term = 2, .type = ZN_RAFT_ENTRY_NOOP},
        {.index = 2, .term = 2, .type = ZN_RAFT_ENTRY_NORMAL, .len = 2, .data = data},
    };
    struct zn_raft_msg m = {.type = ZN_RAFT_MSG_APPEND,
                            .from = 2,
                            .to = 1,
                            .term = 2,
                            .commit = 2,
                            .n_entries = 2,
                            .entries = ents};
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .now_ns = 5, .msg = &m};
    zn_raft_step(r, &ev, &up);
    cr_assert_eq(up.commit, 2, "committed entries are handed out before the local write");
    uint64_t wid = up.persist_id;
    struct zn_raft_status st;
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.applied, 2);
    cr_assert_eq(st.durable, 0);
    cr_assert_eq(st.log_entries, 2);
    cr_assert_eq(st.log_bytes, 2);
    struct zn_raft_event sev = {.type = ZN_RAFT_EV_SNAPSHOT_TAKEN, .now_ns = 6};
    sev.snapshot_taken.index = 2;
    cr_assert_eq(zn_raft_step(r, &sev, &up), ZN_ESTALE, "a snapshot past the durable log");
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.snap_index, 0, "refused: nothing changed");
    struct zn_raft_event pev = {.type = ZN_RAFT_EV_PERSISTED, .now_ns = 7};
    pev.persisted.id = wid;
    zn_raft_step(r, &pev, &up);
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.durable, 2);
    cr_assert_eq(zn_raft_step(r, &sev, &up), 0, "the same snapshot, offered again, is taken");
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.snap_index, 2);
    cr_assert_eq(st.snap_term, 2);
    free(mem);
}

/* A node restored from a snapshot (zincctl restore, or a hard state lost) with a hard state
 * older than the snapshot must not campaign at a term below the snapshot's: its first append in
 * that term would go to the WAL behind entries of a higher term (zincd aborted on it). */
Test(raft_api, snapshot_term_raises_an_older_hard_state)
{
    void *mem;
    struct zn_raft *r = mk(&three, &mem);
    struct zn_raft_snapshot_meta snap = {.index = 10, .term = 7, .conf = three};
    cr_assert_eq(zn_raft_load(r, 1, 3, &snap), 0);
    struct zn_raft_status st;
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.term, 7, "term %llu: below the snapshot's term 7", (unsigned long long)st.term);
    cr_assert_eq(st.vote, 0, "a vote of an older term does not carry over");
    free(mem);
    r = mk(&three, &mem);
    snap.term = 3;
    cr_assert_eq(zn_raft_load(r, 5, 2, &snap), 0);
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.term, 5, "a newer hard state is kept");
    cr_assert_eq(st.vote, 2);
    free(mem);
}

Test(raft_api, restart_loads_durable_state)
{
    void *mem;
    struct zn_raft *r = mk(&three, &mem);
    struct zn_raft_snapshot_meta snap = {.index = 10, .term = 3, .conf = three};
    cr_assert_eq(zn_raft_load(r, 4, 2, &snap), 0);
    static const uint8_t d[] = "q";
    struct zn_raft_entry e = {
        .index = 12, .term = 4, .type = ZN_RAFT_ENTRY_NORMAL, .len = 1, .data = d};
    cr_assert_eq(zn_raft_load_entry(r, &e), ZN_EINVAL, "a gap after the snapshot");
    e.index = 11;
    cr_assert_eq(zn_raft_load_entry(r, &e), 0);
    e.index = 12;
    e.term = 3;
    cr_assert_eq(zn_raft_load_entry(r, &e), ZN_EINVAL, "terms never decrease in a log");
    struct zn_raft_status st;
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.term, 4);
    cr_assert_eq(st.vote, 2);
    cr_assert_eq(st.commit, 10);
    cr_assert_eq(st.last_index, 11);
    cr_assert_eq(st.durable, 11);
    cr_assert_eq(zn_raft_term_at(r, 10), 3);
    cr_assert_eq(zn_raft_term_at(r, 11), 4);
    cr_assert_eq(zn_raft_term_at(r, 9), 0);
    free(mem);
}
