/*
 * test_raft_settings.c - ZN_RAFT_EV_SETTINGS on one instance: validation (refused whole),
 * a follower's election timer re-armed with a new timeout, priority 0 stopping a follower and a
 * pre-candidate from campaigning, a leader's heartbeat and check-quorum deadlines brought
 * forward, the lease-reads refusal, and a leader handing over to a node whose priority was
 * raised at runtime. Random changes under faults run in the simulator (ZN_SIM_SETTINGS=1).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "consensus/raft.h"

#define MS 1000000ull

static const struct zn_raft_conf one = {.n_voters = 1, .voters = {1}};
static const struct zn_raft_conf three = {.n_voters = 3, .voters = {1, 2, 3}};
static struct zn_raft_update up;

static struct zn_raft *mk(const struct zn_raft_conf *conf, bool lease, void **mem)
{
    struct zn_raft_config cfg;
    zn_raft_config_default(&cfg, 1);
    cfg.log_entries_max = 1024;
    cfg.log_bytes_max = 1u << 16;
    cfg.lease_reads = lease;
    size_t need = zn_raft_mem_size(&cfg);
    cr_assert_gt(need, 0);
    *mem = aligned_alloc(8, (need + 7) & ~(size_t)7);
    struct zn_raft *r = NULL;
    cr_assert_eq(zn_raft_init(&r, &cfg, conf, *mem, need), 0);
    return r;
}

static int ev_tick(struct zn_raft *r, uint64_t now)
{
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_TICK, .now_ns = now};
    return zn_raft_step(r, &ev, &up);
}

static int set(struct zn_raft *r, uint64_t now, uint32_t what, uint8_t prio, uint8_t node,
               uint8_t node_prio, uint64_t et, uint64_t hb)
{
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_SETTINGS, .now_ns = now};
    ev.settings.what = what;
    ev.settings.priority = prio;
    ev.settings.node = node;
    ev.settings.node_priority = node_prio;
    ev.settings.election_timeout_ns = et;
    ev.settings.heartbeat_interval_ns = hb;
    return zn_raft_step(r, &ev, &up);
}

static void deliver(struct zn_raft *r, uint64_t now, const struct zn_raft_msg *m)
{
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_MSG, .now_ns = now, .msg = m};
    zn_raft_step(r, &ev, &up);
}

static void persisted(struct zn_raft *r, uint64_t now, uint64_t id)
{
    struct zn_raft_event ev = {.type = ZN_RAFT_EV_PERSISTED, .now_ns = now};
    ev.persisted.id = id;
    zn_raft_step(r, &ev, &up);
}

Test(raft_settings, invalid_changes_are_refused_whole)
{
    void *mem;
    struct zn_raft *r = mk(&three, false, &mem);
    struct zn_raft_status a, b;
    ev_tick(r, 1);
    zn_raft_status_get(r, &a);
    cr_assert_eq(a.priority, 1);
    cr_assert_eq(a.election_timeout_ns, 10 * MS);
    cr_assert_eq(a.heartbeat_interval_ns, 1 * MS);
    cr_assert_eq(set(r, 2, 0, 0, 0, 0, 0, 0), ZN_EINVAL, "empty mask");
    cr_assert_eq(set(r, 2, 64, 0, 0, 0, 0, 0), ZN_EINVAL, "unknown bit");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_NODE_PRIORITY, 0, 0, 5, 0, 0), ZN_EINVAL, "node 0");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_ELECTION_TIMEOUT, 0, 0, 0, 0, 0), ZN_EINVAL, "et 0");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_HEARTBEAT, 0, 0, 0, 0, 0), ZN_EINVAL, "hb 0");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_HEARTBEAT, 0, 0, 0, 0, 10 * MS), ZN_EINVAL, "hb = et");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_ELECTION_TIMEOUT, 0, 0, 0, MS / 2, 0), ZN_EINVAL,
                 "et below hb");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_PRIORITY | ZN_RAFT_SET_NODE_PRIORITY, 3, 1, 4, 0, 0),
                 ZN_EINVAL, "two own priorities");
    /* a valid part with an invalid part: nothing applied */
    cr_assert_eq(set(r, 2,
                     ZN_RAFT_SET_PRIORITY | ZN_RAFT_SET_NODE_PRIORITY |
                         ZN_RAFT_SET_ELECTION_TIMEOUT | ZN_RAFT_SET_HEARTBEAT,
                     7, 2, 9, 20 * MS, 30 * MS),
                 ZN_EINVAL);
    zn_raft_status_get(r, &b);
    cr_assert_eq(b.priority, a.priority);
    cr_assert_eq(b.election_timeout_ns, a.election_timeout_ns);
    cr_assert_eq(b.heartbeat_interval_ns, a.heartbeat_interval_ns);
    cr_assert_eq(memcmp(a.priorities, b.priorities, sizeof(a.priorities)), 0);
    /* the same, valid: everything applied at once (et and hb together may cross old bounds) */
    cr_assert_eq(set(r, 2,
                     ZN_RAFT_SET_PRIORITY | ZN_RAFT_SET_NODE_PRIORITY |
                         ZN_RAFT_SET_ELECTION_TIMEOUT | ZN_RAFT_SET_HEARTBEAT,
                     7, 2, 9, 40 * MS, 15 * MS),
                 0);
    zn_raft_status_get(r, &b);
    cr_assert_eq(b.priority, 7);
    cr_assert_eq(b.priorities[1], 7);
    cr_assert_eq(b.priorities[2], 9);
    cr_assert_eq(b.election_timeout_ns, 40 * MS);
    cr_assert_eq(b.heartbeat_interval_ns, 15 * MS);
    /* the own id through the table is the own priority */
    cr_assert_eq(set(r, 3, ZN_RAFT_SET_NODE_PRIORITY, 0, 1, 4, 0, 0), 0);
    zn_raft_status_get(r, &b);
    cr_assert_eq(b.priority, 4);
    cr_assert_eq(b.priorities[1], 4);
    free(mem);
}

Test(raft_settings, follower_timer_rearmed_with_the_new_timeout)
{
    void *mem;
    struct zn_raft *r = mk(&three, false, &mem);
    ev_tick(r, 1);
    cr_assert(up.deadline_ns >= 1 + 10 * MS && up.deadline_ns < 1 + 20 * MS, "%llu",
              (unsigned long long)up.deadline_ns);
    uint64_t now = 2 * MS;
    cr_assert_eq(set(r, now, ZN_RAFT_SET_ELECTION_TIMEOUT, 0, 0, 0, 100 * MS, 0), 0);
    cr_assert(up.deadline_ns >= now + 100 * MS && up.deadline_ns < now + 200 * MS);
    /* the old deadline passes: still a follower */
    ev_tick(r, now + 25 * MS);
    cr_assert_eq(up.role, ZN_RAFT_FOLLOWER);
    now += 30 * MS;
    cr_assert_eq(set(r, now, ZN_RAFT_SET_ELECTION_TIMEOUT, 0, 0, 0, 3 * MS, 0), 0);
    cr_assert(up.deadline_ns >= now + 3 * MS && up.deadline_ns < now + 6 * MS);
    now = up.deadline_ns;
    ev_tick(r, now);
    cr_assert_eq(up.role, ZN_RAFT_PRECANDIDATE, "campaigns at the new, shorter deadline");
    cr_assert_eq(up.n_msgs, 2);
    cr_assert_eq(up.msgs[0].type, ZN_RAFT_MSG_PREVOTE);
    free(mem);
}

Test(raft_settings, priority_zero_stops_campaigning)
{
    void *mem;
    struct zn_raft *r = mk(&three, false, &mem);
    ev_tick(r, 1);
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_PRIORITY, 0, 0, 0, 0, 0), 0);
    for (int i = 0; i < 5; i++) {
        uint64_t now = up.deadline_ns;
        ev_tick(r, now);
        cr_assert_eq(up.role, ZN_RAFT_FOLLOWER);
        cr_assert_eq(up.n_msgs, 0);
        cr_assert_gt(up.deadline_ns, now);
    }
    cr_assert_eq(set(r, up.deadline_ns, ZN_RAFT_SET_PRIORITY, 1, 0, 0, 0, 0), 0);
    ev_tick(r, up.deadline_ns);
    cr_assert_eq(up.role, ZN_RAFT_PRECANDIDATE);
    /* a pre-candidate set to 0 steps back at once and stays a follower */
    uint64_t now = up.deadline_ns - 1;
    cr_assert_eq(set(r, now, ZN_RAFT_SET_PRIORITY, 0, 0, 0, 0, 0), 0);
    cr_assert_eq(up.role, ZN_RAFT_FOLLOWER);
    cr_assert(up.role_changed);
    ev_tick(r, up.deadline_ns);
    cr_assert_eq(up.role, ZN_RAFT_FOLLOWER);
    cr_assert_eq(up.n_msgs, 0);
    free(mem);
}

static uint64_t single_leader(struct zn_raft *r)
{
    ev_tick(r, 1);
    uint64_t now = up.deadline_ns;
    ev_tick(r, now);
    cr_assert_eq(up.role, ZN_RAFT_CANDIDATE);
    struct zn_raft_msg grant = up.msgs_after[0];
    persisted(r, now, up.persist.id);
    deliver(r, now, &grant);
    cr_assert_eq(up.role, ZN_RAFT_LEADER);
    persisted(r, now, up.persist.id);
    cr_assert_eq(up.commit, 1);
    return now;
}

Test(raft_settings, leader_deadlines_brought_forward)
{
    void *mem;
    struct zn_raft *r = mk(&one, false, &mem);
    uint64_t now = single_leader(r);
    ev_tick(r, now + MS);
    now += MS;
    uint64_t d0 = up.deadline_ns;
    cr_assert(d0 > now && d0 <= now + MS);
    /* a longer interval does not postpone the heartbeat already due */
    cr_assert_eq(set(r, now, ZN_RAFT_SET_HEARTBEAT, 0, 0, 0, 0, 5 * MS), 0);
    cr_assert_eq(up.deadline_ns, d0);
    cr_assert_eq(up.role, ZN_RAFT_LEADER);
    ev_tick(r, d0);
    now = d0;
    cr_assert_gt(up.deadline_ns, now);
    /* a shorter one brings it forward */
    cr_assert_eq(set(r, now, ZN_RAFT_SET_HEARTBEAT, 0, 0, 0, 0, MS / 2), 0);
    cr_assert_eq(up.deadline_ns, now + MS / 2);
    /* a shorter election timeout brings the check-quorum deadline forward */
    cr_assert_eq(
        set(r, now, ZN_RAFT_SET_ELECTION_TIMEOUT | ZN_RAFT_SET_HEARTBEAT, 0, 0, 0, 2 * MS, MS), 0);
    cr_assert(up.deadline_ns <= now + MS);
    ev_tick(r, now + MS);
    ev_tick(r, now + 2 * MS);
    cr_assert_eq(up.role, ZN_RAFT_LEADER, "a single voter keeps its quorum");
    free(mem);
}

Test(raft_settings, lease_reads_keep_the_election_timeout)
{
    void *mem;
    struct zn_raft *r = mk(&three, true, &mem);
    ev_tick(r, 1);
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_ELECTION_TIMEOUT, 0, 0, 0, 20 * MS, 0), ZN_ENOTSUP);
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_ELECTION_TIMEOUT, 0, 0, 0, 10 * MS, 0), 0, "unchanged");
    cr_assert_eq(set(r, 2, ZN_RAFT_SET_HEARTBEAT | ZN_RAFT_SET_PRIORITY, 3, 0, 0, 0, 2 * MS), 0);
    struct zn_raft_status st;
    zn_raft_status_get(r, &st);
    cr_assert_eq(st.election_timeout_ns, 10 * MS);
    cr_assert_eq(st.heartbeat_interval_ns, 2 * MS);
    cr_assert_eq(st.priority, 3);
    free(mem);
}

/* Node 1 leads {1, 2, 3} with both followers caught up; raising node 2's priority in node 1's
 * table makes it send TimeoutNow to node 2 at its next heartbeat. */
Test(raft_settings, raised_priority_hands_leadership_over)
{
    void *mem;
    struct zn_raft *r = mk(&three, false, &mem);
    ev_tick(r, 1);
    uint64_t now = up.deadline_ns;
    ev_tick(r, now);
    cr_assert_eq(up.role, ZN_RAFT_PRECANDIDATE);
    struct zn_raft_msg m = {.type = ZN_RAFT_MSG_PREVOTE_RESP, .from = 2, .to = 1, .term = 1};
    deliver(r, now, &m);
    cr_assert_eq(up.role, ZN_RAFT_CANDIDATE);
    struct zn_raft_msg self = up.msgs_after[0];
    persisted(r, now, up.persist.id);
    deliver(r, now, &self);
    m = (struct zn_raft_msg){.type = ZN_RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 1};
    deliver(r, now, &m);
    cr_assert_eq(up.role, ZN_RAFT_LEADER);
    persisted(r, now, up.persist.id);
    for (uint8_t f = 2; f <= 3; f++) {
        m = (struct zn_raft_msg){
            .type = ZN_RAFT_MSG_APPEND_RESP, .from = f, .to = 1, .term = 1, .index = 1};
        deliver(r, now, &m);
    }
    cr_assert_eq(up.commit, 1);
    ev_tick(r, now + 2 * MS);
    for (uint32_t i = 0; i < up.n_msgs; i++) {
        cr_assert_neq(up.msgs[i].type, ZN_RAFT_MSG_TIMEOUT_NOW, "no hand-over at equal priority");
    }
    now += 2 * MS;
    cr_assert_eq(set(r, now, ZN_RAFT_SET_NODE_PRIORITY, 0, 2, 5, 0, 0), 0);
    ev_tick(r, up.deadline_ns);
    bool sent = false;
    for (uint32_t i = 0; i < up.n_msgs; i++) {
        sent |= up.msgs[i].type == ZN_RAFT_MSG_TIMEOUT_NOW && up.msgs[i].to == 2;
    }
    cr_assert(sent, "TimeoutNow to the higher-priority caught-up voter");
    free(mem);
}
