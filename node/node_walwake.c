/*
 * node_walwake.c - walwake: a finished WAL job (a batch's write + fdatasync, a truncation,
 * compaction or reset) wakes the node's sleeping lcore at once (lab idle policy), instead of
 * being found at the end of its sleep (50 us, 1 ms after 2 ms idle). Every write on an idle lab
 * cluster waits for one: leader append -> persisted -> commit -> apply -> reply.
 *
 * The pieces: the disk's syncer thread publishes the finished job for zn_disk_job_poll (release)
 * and calls node_walwake_notify (store/disk.h, zn_disk_set_notify), which is node_wake_lcore: a
 * seq_cst fence, a load of the lcore's `asleep`, and an eventfd write only when it sleeps (no
 * syscall when it is awake). The wal stage's pending check node_wal_pending (zn_wal_pending: an
 * acquire load of the completion ring) runs on the lcore after its "asleep = true; fence", so
 * either the lcore sees the job and does not sleep, or the syncer sees `asleep` and kicks it
 * (dataplane/zn_dp_loop.c invariants; the same protocol as the ZooKeeper port and the snapshot
 * jobs, node_snapshot.c). Before the rx stage's first poll the lcore pointer is NULL and the
 * notifier does nothing: that first poll comes after it and finds the job.
 *
 * node_attach_lcore and node_wake_lcore (below) are the node's one way for any helper thread
 * (syncer, snapshot I/O; the ZooKeeper port uses zn_dp_lcore_wake on its link's lcore) to wake
 * the lcore; they sit here, next to their newest user, rather than in node_snapshot.c.
 *
 * Context: node_walwake_install on the opening thread before the WAL submits anything;
 * node_walwake_notify and node_wake_lcore on helper threads; node_attach_lcore and
 * node_wal_pending on the lcore.
 */
#include <stdatomic.h>

#include "common/zn_err.h"
#include "node/internal.h"
#include "store/wal.h"

void node_attach_lcore(struct zn_node *n, struct zn_dp_lcore *lc)
{
    if (atomic_load_explicit(&n->lcore, memory_order_relaxed) != lc) {
        atomic_store_explicit(&n->lcore, lc, memory_order_seq_cst);
        atomic_thread_fence(memory_order_seq_cst); /* the store before the stages poll */
    }
}

/*
 * A helper thread published its result (a release store of its done flag): wake the lcore if
 * it sleeps. The done store, this fence and the read of `asleep` (zn_dp_lcore_wake) pair with
 * the lcore's "asleep = true; fence; node_snapshot_pending()" (dataplane/zn_dp_loop.c
 * invariants): it either sees the flag and does not sleep, or is kicked. A NULL lcore means
 * its first poll (after its seq_cst store of the pointer and a fence) comes after this store
 * and sees the flag.
 */
void node_wake_lcore(struct zn_node *n)
{
    atomic_thread_fence(memory_order_seq_cst);
    struct zn_dp_lcore *lc = atomic_load_explicit(&n->lcore, memory_order_relaxed);
    if (lc)
        zn_dp_lcore_wake(lc);
}

static void node_walwake_notify(void *arg)
{
    node_wake_lcore(arg);
}

int node_walwake_install(struct zn_node *n)
{
    return zn_disk_set_notify(&n->disk, node_walwake_notify, n);
}

bool node_wal_pending(void *ctx)
{
    const struct zn_node *n = ctx;
    return n->wal != NULL && zn_wal_pending(n->wal);
}
