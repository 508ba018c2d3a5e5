/*
 * walwake: the disk's completion notifier (store/disk.h zn_disk_set_notify) and the pending
 * checks zn_disk_job_finished / zn_wal_pending, on the POSIX disk (a temporary directory).
 *
 * What is checked: the syncer calls the notifier exactly once per finished job, after that job is
 * visible to zn_disk_job_poll (at the call, the pending check is already true, the job has run,
 * and the next job has not started); zn_disk_job_poll then hands back exactly that job and the
 * check turns false; a WAL batch's notification means zn_wal_pending and a zn_wal_poll that
 * reports it durable; a removed notifier is not called; the sim disk has none (ZN_ENOTSUP). The
 * waits are bounded (10 s) only so that a missing notification fails with a message; no duration
 * is asserted.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/zn_err.h"
#include "store/disk.h"
#include "store/wal.h"
#include "wal_test.h"

#define WW_BOUND_S 10

struct ww_notes {
    struct zn_disk *disk;
    sem_t sem;
    _Atomic uint32_t calls;
    _Atomic uint32_t calls_not_visible; /* the check was false when the notifier ran */
    _Atomic uint32_t calls_before_run;  /* more calls than jobs run */
    _Atomic uint32_t jobs_run;
    _Atomic uint32_t jobs_early; /* a job started before the previous job's notification */
};

static void ww_notify(void *arg)
{
    struct ww_notes *nt = arg;
    if (!zn_disk_job_finished(nt->disk)) /* an atomic load: fine from the syncer too */
        atomic_fetch_add(&nt->calls_not_visible, 1);
    uint32_t c = atomic_fetch_add(&nt->calls, 1) + 1;
    if (c > atomic_load(&nt->jobs_run))
        atomic_fetch_add(&nt->calls_before_run, 1);
    sem_post(&nt->sem);
}

struct ww_job {
    struct ww_notes *nt;
    uint32_t seq; /* 1-based, in submission order */
};

static void ww_job_fn(void *arg)
{
    struct ww_job *j = arg;
    /* Jobs run in order and the previous job's notification comes before this job starts. */
    if (atomic_load(&j->nt->calls) != j->seq - 1)
        atomic_fetch_add(&j->nt->jobs_early, 1);
    atomic_fetch_add(&j->nt->jobs_run, 1);
}

/* Bounded wait for one notification; false after WW_BOUND_S. */
static bool ww_wait(struct ww_notes *nt)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += WW_BOUND_S;
    int rc;
    while ((rc = sem_timedwait(&nt->sem, &ts)) != 0 && errno == EINTR) {
    }
    return rc == 0;
}

static char ww_dir[64];
static void *ww_mem;
static struct zn_disk ww_disk;

static void ww_setup(void)
{
    snprintf(ww_dir, sizeof(ww_dir), "/tmp/zn-walwake-XXXXXX");
    cr_assert_not_null(mkdtemp(ww_dir));
    ww_mem = malloc(zn_disk_posix_size());
    cr_assert_not_null(ww_mem);
    cr_assert_eq(zn_disk_posix_init(&ww_disk, ww_mem, ww_dir), 0);
}

static void ww_teardown(void)
{
    zn_disk_posix_fini(&ww_disk);
    free(ww_mem);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", ww_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(walwake, .init = ww_setup, .fini = ww_teardown);

Test(walwake, notifier_once_per_job_after_it_is_visible_to_poll)
{
    static struct ww_notes nt;
    memset(&nt, 0, sizeof(nt));
    nt.disk = &ww_disk;
    cr_assert_eq(sem_init(&nt.sem, 0, 0), 0);
    cr_assert_eq(zn_disk_set_notify(&ww_disk, ww_notify, &nt), 0);
    cr_assert_not(zn_disk_job_finished(&ww_disk), "nothing submitted yet");

    /* One at a time: notified, visible, polled, no longer pending. */
    static struct ww_job jobs[64];
    uint32_t seq = 0;
    for (uint32_t r = 1; r <= 8; r++) {
        jobs[seq] = (struct ww_job){.nt = &nt, .seq = seq + 1};
        cr_assert_eq(zn_disk_job_submit(&ww_disk, ww_job_fn, &jobs[seq]), 0);
        seq++;
        cr_assert(ww_wait(&nt), "single job %u: no notification within %d s (calls %u, run %u)", r,
                  WW_BOUND_S, atomic_load(&nt.calls), atomic_load(&nt.jobs_run));
        cr_assert(zn_disk_job_finished(&ww_disk), "job %u: notified but not pending", r);
        void *arg = NULL;
        cr_assert_eq(zn_disk_job_poll(&ww_disk, &arg, 1), 1, "job %u: notified, poll empty", r);
        cr_assert_eq(arg, &jobs[seq - 1]);
        cr_assert_not(zn_disk_job_finished(&ww_disk), "job %u: still pending after poll", r);
        cr_assert_eq(atomic_load(&nt.calls), seq, "job %u: %u calls", r, atomic_load(&nt.calls));
    }

    /* A burst of ZN_DISK_JOBS_MAX jobs, not polled until every notification came. */
    for (uint32_t k = 0; k < ZN_DISK_JOBS_MAX; k++) {
        jobs[seq] = (struct ww_job){.nt = &nt, .seq = seq + 1};
        cr_assert_eq(zn_disk_job_submit(&ww_disk, ww_job_fn, &jobs[seq]), 0);
        seq++;
    }
    for (uint32_t k = 0; k < ZN_DISK_JOBS_MAX; k++)
        cr_assert(ww_wait(&nt), "burst: notification %u missing after %d s (calls %u, run %u)",
                  k + 1, WW_BOUND_S, atomic_load(&nt.calls), atomic_load(&nt.jobs_run));
    cr_assert(zn_disk_job_finished(&ww_disk));
    void *args[ZN_DISK_JOBS_MAX];
    cr_assert_eq(zn_disk_job_poll(&ww_disk, args, ZN_DISK_JOBS_MAX), ZN_DISK_JOBS_MAX);
    for (uint32_t k = 0; k < ZN_DISK_JOBS_MAX; k++)
        cr_assert_eq(args[k], &jobs[8 + k], "burst: poll order at %u", k);
    cr_assert_not(zn_disk_job_finished(&ww_disk));

    printf("walwake: %u jobs, %u notifications; at the call the job was not yet visible to poll "
           "%u times, a call came before its job ran %u times, a job started before the previous "
           "notification %u times\n",
           seq, atomic_load(&nt.calls), atomic_load(&nt.calls_not_visible),
           atomic_load(&nt.calls_before_run), atomic_load(&nt.jobs_early));
    cr_assert_eq(atomic_load(&nt.calls), seq, "exactly one notification per job");
    cr_assert_eq(atomic_load(&nt.jobs_run), seq);
    cr_assert_eq(atomic_load(&nt.calls_not_visible), 0, "notified before the job was published");
    cr_assert_eq(atomic_load(&nt.calls_before_run), 0);
    cr_assert_eq(atomic_load(&nt.jobs_early), 0);
    cr_assert_eq(sem_trywait(&nt.sem), -1, "no extra notification");

    /* Removed: the next job completes without a call. */
    cr_assert_eq(zn_disk_set_notify(&ww_disk, NULL, NULL), 0);
    jobs[seq] = (struct ww_job){.nt = &nt, .seq = seq + 1};
    cr_assert_eq(zn_disk_job_submit(&ww_disk, ww_job_fn, &jobs[seq]), 0);
    void *arg = NULL;
    for (int i = 0; i < WW_BOUND_S * 1000 && zn_disk_job_poll(&ww_disk, &arg, 1) == 0; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    cr_assert_eq(arg, &jobs[seq], "the job after removal did not finish within %d s", WW_BOUND_S);
    cr_assert_eq(atomic_load(&nt.calls), seq, "a removed notifier was called");
    sem_destroy(&nt.sem);
}

Test(walwake, wal_batch_notifies_and_is_pending)
{
    static struct ww_notes nt;
    memset(&nt, 0, sizeof(nt));
    nt.disk = &ww_disk;
    cr_assert_eq(sem_init(&nt.sem, 0, 0), 0);
    cr_assert_eq(zn_disk_set_notify(&ww_disk, ww_notify, &nt), 0);
    struct zn_wal_config c = wt_config(&ww_disk, 1u << 20, 64u << 10, 4096);
    struct wt_log l;
    wt_log_init(&l, 4096);
    struct zn_wal *w = NULL;
    struct zn_wal_recovery rec;
    int rc = zn_wal_open(&w, &c, wt_collect, &l, &rec);
    cr_assert_eq(rc, 0, "open: %s (%s)", zn_strerror(rc), rec.report.message);
    uint32_t base = atomic_load(&nt.calls); /* opening may have run jobs of its own */
    while (sem_trywait(&nt.sem) == 0) {
    }
    uint8_t payload[128];
    for (uint64_t idx = 1; idx <= 5; idx++) {
        wt_payload(idx, 1, payload, sizeof(payload));
        cr_assert_eq(zn_wal_append(w, 1, 1, idx, payload, sizeof(payload)), 0);
        cr_assert_eq(zn_wal_flush(w), 1, "entry %llu: batch submitted", (unsigned long long)idx);
        cr_assert(ww_wait(&nt), "entry %llu: the batch's completion was not notified within %d s",
                  (unsigned long long)idx, WW_BOUND_S);
        cr_assert(zn_wal_pending(w), "entry %llu: notified, zn_wal_pending false",
                  (unsigned long long)idx);
        struct zn_wal_persisted p;
        cr_assert_eq(zn_wal_poll(w, &p), 1, "entry %llu: notified, zn_wal_poll found nothing",
                     (unsigned long long)idx);
        cr_assert_eq(p.index, idx);
        cr_assert_not(zn_wal_pending(w));
        cr_assert_eq(zn_wal_durable_index(w), idx);
    }
    cr_assert_eq(atomic_load(&nt.calls) - base, 5, "one notification per batch");
    cr_assert_eq(atomic_load(&nt.calls_not_visible), 0);
    printf("walwake: 5 WAL batches on a POSIX disk, 5 notifications, each then pending and "
           "polled durable\n");
    zn_wal_close(w);
    wt_log_free(&l);
    sem_destroy(&nt.sem);
}

Test(walwake, sim_disk_has_no_notifier)
{
    struct zn_disk sd;
    cr_assert_eq(zn_disk_sim_create(&sd, &wt_alloc, 7, 0), 0);
    cr_assert_eq(zn_disk_set_notify(&sd, ww_notify, NULL), ZN_ENOTSUP);
    cr_assert_not(zn_disk_job_finished(&sd));
    zn_disk_sim_destroy(&sd);
}
