/*
 * disk_posix.c - the disk interface on real files, with a dedicated syncer thread for jobs.
 *
 * Why a thread and not io_uring: the expensive part of a WAL commit is fdatasync, and io_uring
 * cannot complete an fsync inline - the kernel always hands IORING_OP_FSYNC to an io-wq worker
 * thread, so io_uring pays the same thread hand-off as a dedicated thread. The thread works where
 * io_uring is disabled (container seccomp profiles, kernel.io_uring_disabled), keeps one code path
 * for write+sync+rotate (a job is plain C calling pwrite/fdatasync), and is exactly what the
 * simulated disk replaces with a deterministic in-poll runner. The poll loop never blocks: submit
 * is a ring push plus sem_post (a futex wake only when the syncer sleeps), poll is a ring pop.
 *
 * Invariants: submission and completion rings are single-producer single-consumer (the poll loop
 * produces jobs and consumes completions; the syncer the reverse), bounded by ZN_DISK_JOBS_MAX;
 * a full submission ring is ZN_EFULL (backpressure), never a wait. Jobs complete in order.
 * The syncer is a non-lcore thread that sleeps in sem_wait when idle. After publishing a finished
 * job it calls the owner's completion notifier, if one is installed (disk.h; walwake).
 *
 * The background runner (zn_disk_bg_submit) has the same two rings and its own thread, started
 * on the first submission and niced: it prepares the WAL's spare segment (zero-filling tens of
 * MiB) without ever standing in front of a commit on the syncer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "store/disk.h"

struct job_slot {
    zn_disk_job_fn fn;
    void *arg;
};

struct zn_disk_posix {
    int dirfd;
    char dir[4096];
    pthread_t syncer;
    bool syncer_started;
    sem_t wake;
    atomic_bool stop;
    /* submission ring: poll loop -> syncer */
    struct job_slot sub[ZN_DISK_JOBS_MAX];
    _Alignas(64) atomic_uint_fast64_t sub_head; /* next to consume (syncer) */
    _Alignas(64) atomic_uint_fast64_t sub_tail; /* next to produce (poll loop) */
    /* completion ring: syncer -> poll loop */
    void *done[ZN_DISK_JOBS_MAX];
    _Alignas(64) atomic_uint_fast64_t done_head;
    _Alignas(64) atomic_uint_fast64_t done_tail;
    /* jobs submitted and not yet polled (bounds both rings together) */
    uint64_t in_flight;
    /* the completion notifier (disk.h): written by the owner only while no job is in flight; the
     * syncer reads it after the acquire of a later sub_tail and before the release of the job's
     * done_tail, which the owner acquires before it can see in_flight == 0 (plain fields) */
    zn_disk_notify_fn notify_fn;
    void *notify_arg;
    /* the background runner: the same two rings, its own thread (started on first use) */
    pthread_t bg_thread;
    bool bg_started;
    sem_t bg_wake;
    struct job_slot bg_sub[ZN_DISK_JOBS_MAX];
    _Alignas(64) atomic_uint_fast64_t bg_sub_head;
    _Alignas(64) atomic_uint_fast64_t bg_sub_tail;
    void *bg_done[ZN_DISK_JOBS_MAX];
    _Alignas(64) atomic_uint_fast64_t bg_done_head;
    _Alignas(64) atomic_uint_fast64_t bg_done_tail;
    uint64_t bg_in_flight;
};

static int err_from_errno(int e)
{
    return zn_err_from_errno(-e);
}

static int px_open(void *ctx, const char *name, int flags, int *fd)
{
    struct zn_disk_posix *p = ctx;
    if (strlen(name) >= ZN_DISK_NAME_MAX || strchr(name, '/') != NULL) {
        return ZN_EINVAL;
    }
    int oflags = O_RDWR | O_CLOEXEC;
    if (flags & ZN_DISK_CREATE) {
        oflags |= O_CREAT;
    }
    if (flags & ZN_DISK_EXCL) {
        oflags |= O_EXCL;
    }
    int f;
    do {
        f = openat(p->dirfd, name, oflags, 0644);
    } while (f < 0 && errno == EINTR);
    if (f < 0) {
        return err_from_errno(errno);
    }
    *fd = f;
    return 0;
}

static void px_close(void *ctx, int fd)
{
    (void)ctx;
    close(fd);
}

static long px_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return err_from_errno(errno);
        }
        if (n == 0) {
            break;
        }
        done += (size_t)n;
    }
    return (long)done;
}

static int px_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    (void)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return err_from_errno(errno);
        }
        done += (size_t)n;
    }
    return 0;
}

static int px_fdatasync(void *ctx, int fd)
{
    (void)ctx;
    /* No retry on EINTR-like failures: after a failed fsync the page cache may have dropped the
     * dirty pages, so a "successful" retry would lie. The caller treats errors as fail-stop. */
    if (fdatasync(fd) != 0) {
        return err_from_errno(errno);
    }
    return 0;
}

static int px_fsync_dir(void *ctx)
{
    struct zn_disk_posix *p = ctx;
    if (fsync(p->dirfd) != 0) {
        return err_from_errno(errno);
    }
    return 0;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
    struct zn_disk_posix *p = ctx;
    if (renameat(p->dirfd, from, p->dirfd, to) != 0) {
        return err_from_errno(errno);
    }
    return 0;
}

static int px_unlink(void *ctx, const char *name)
{
    struct zn_disk_posix *p = ctx;
    if (unlinkat(p->dirfd, name, 0) != 0) {
        return err_from_errno(errno);
    }
    return 0;
}

static int px_fallocate(void *ctx, int fd, uint64_t off, uint64_t len)
{
    (void)ctx;
    int r = posix_fallocate(fd, (off_t)off, (off_t)len); /* returns the error, no errno */
    if (r != 0) {
        return err_from_errno(r);
    }
    return 0;
}

static int px_truncate(void *ctx, int fd, uint64_t size)
{
    (void)ctx;
    if (ftruncate(fd, (off_t)size) != 0) {
        return err_from_errno(errno);
    }
    return 0;
}

static int px_size(void *ctx, int fd, uint64_t *size)
{
    (void)ctx;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return err_from_errno(errno);
    }
    *size = (uint64_t)st.st_size;
    return 0;
}

static int px_list(void *ctx, int (*fn)(void *arg, const char *name), void *arg)
{
    struct zn_disk_posix *p = ctx;
    int dfd = openat(p->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return err_from_errno(errno);
    }
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return ZN_EIO;
    }
    int rc = 0;
    int seen = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) {
            continue;
        }
        if (strlen(e->d_name) >= ZN_DISK_NAME_MAX) {
            continue;
        }
        if (++seen > ZN_DISK_LIST_MAX) {
            rc = ZN_ELIMIT;
            break;
        }
        rc = fn(arg, e->d_name);
    }
    closedir(d);
    return rc;
}

static void *syncer_main(void *arg)
{
    struct zn_disk_posix *p = arg;
    for (;;) {
        uint64_t head = atomic_load_explicit(&p->sub_head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&p->sub_tail, memory_order_acquire);
        if (head == tail) {
            if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
                return NULL;
            }
            while (sem_wait(&p->wake) != 0 && errno == EINTR) {
            }
            continue;
        }
        struct job_slot s = p->sub[head % ZN_DISK_JOBS_MAX];
        s.fn(s.arg);
        atomic_store_explicit(&p->sub_head, head + 1, memory_order_release);
        uint64_t dt = atomic_load_explicit(&p->done_tail, memory_order_relaxed);
        /* cannot overflow: in_flight <= ZN_DISK_JOBS_MAX bounds submissions not yet polled */
        p->done[dt % ZN_DISK_JOBS_MAX] = s.arg;
        /* Read before the publication: once the owner has polled this job it may replace the
         * notifier (px_set_notify), and that write must not race with these reads. */
        zn_disk_notify_fn nfn = p->notify_fn;
        void *narg = p->notify_arg;
        atomic_store_explicit(&p->done_tail, dt + 1, memory_order_release);
        if (nfn != NULL) {
            nfn(narg); /* after the publication: the woken poll sees the job */
        }
    }
}

static int px_job_submit(void *ctx, zn_disk_job_fn fn, void *arg)
{
    struct zn_disk_posix *p = ctx;
    if (p->in_flight >= ZN_DISK_JOBS_MAX) {
        return ZN_EFULL;
    }
    uint64_t tail = atomic_load_explicit(&p->sub_tail, memory_order_relaxed);
    p->sub[tail % ZN_DISK_JOBS_MAX] = (struct job_slot){fn, arg};
    atomic_store_explicit(&p->sub_tail, tail + 1, memory_order_release);
    p->in_flight++;
    sem_post(&p->wake);
    return 0;
}

static int px_job_poll(void *ctx, void **args, int max)
{
    struct zn_disk_posix *p = ctx;
    int n = 0;
    uint64_t head = atomic_load_explicit(&p->done_head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&p->done_tail, memory_order_acquire);
    while (head != tail && n < max) {
        args[n++] = p->done[head % ZN_DISK_JOBS_MAX];
        head++;
    }
    atomic_store_explicit(&p->done_head, head, memory_order_release);
    p->in_flight -= (uint64_t)n;
    return n;
}

static void px_set_notify(void *ctx, zn_disk_notify_fn fn, void *arg)
{
    struct zn_disk_posix *p = ctx;
    ZN_ASSERT(p->in_flight == 0); /* the syncer must not be reading the fields */
    p->notify_fn = fn;
    p->notify_arg = arg;
}

/* The owner's pending check: the done ring holds a job it has not polled (the owner is the only
 * writer of done_head; the acquire pairs with the syncer's release of done_tail). */
static bool px_job_finished(void *ctx)
{
    struct zn_disk_posix *p = ctx;
    return atomic_load_explicit(&p->done_tail, memory_order_acquire) !=
           atomic_load_explicit(&p->done_head, memory_order_relaxed);
}

/* The background thread: runs preparation jobs at a lower CPU priority (nice 10) so that on a
 * shared machine the syncer and the poll loops win the CPU; sleeps in sem_wait when idle. */
static void *bg_main(void *arg)
{
    struct zn_disk_posix *p = arg;
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), 10); /* best effort */
    for (;;) {
        uint64_t head = atomic_load_explicit(&p->bg_sub_head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&p->bg_sub_tail, memory_order_acquire);
        if (head == tail) {
            if (atomic_load_explicit(&p->stop, memory_order_acquire)) {
                return NULL;
            }
            while (sem_wait(&p->bg_wake) != 0 && errno == EINTR) {
            }
            continue;
        }
        struct job_slot s = p->bg_sub[head % ZN_DISK_JOBS_MAX];
        s.fn(s.arg);
        atomic_store_explicit(&p->bg_sub_head, head + 1, memory_order_release);
        uint64_t dt = atomic_load_explicit(&p->bg_done_tail, memory_order_relaxed);
        p->bg_done[dt % ZN_DISK_JOBS_MAX] = s.arg;
        atomic_store_explicit(&p->bg_done_tail, dt + 1, memory_order_release);
    }
}

static int px_bg_submit(void *ctx, zn_disk_job_fn fn, void *arg)
{
    struct zn_disk_posix *p = ctx;
    if (p->bg_in_flight >= ZN_DISK_JOBS_MAX) {
        return ZN_EFULL;
    }
    if (!p->bg_started) {
        if (pthread_create(&p->bg_thread, NULL, bg_main, p) != 0) {
            return ZN_ESYSTEM;
        }
        p->bg_started = true;
    }
    uint64_t tail = atomic_load_explicit(&p->bg_sub_tail, memory_order_relaxed);
    p->bg_sub[tail % ZN_DISK_JOBS_MAX] = (struct job_slot){fn, arg};
    atomic_store_explicit(&p->bg_sub_tail, tail + 1, memory_order_release);
    p->bg_in_flight++;
    sem_post(&p->bg_wake);
    return 0;
}

static int px_bg_poll(void *ctx, void **args, int max)
{
    struct zn_disk_posix *p = ctx;
    int n = 0;
    uint64_t head = atomic_load_explicit(&p->bg_done_head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&p->bg_done_tail, memory_order_acquire);
    while (head != tail && n < max) {
        args[n++] = p->bg_done[head % ZN_DISK_JOBS_MAX];
        head++;
    }
    atomic_store_explicit(&p->bg_done_head, head, memory_order_release);
    p->bg_in_flight -= (uint64_t)n;
    return n;
}

static const struct zn_disk_ops posix_ops = {
    .open = px_open,
    .close = px_close,
    .pread = px_pread,
    .pwrite = px_pwrite,
    .fdatasync = px_fdatasync,
    .fsync_dir = px_fsync_dir,
    .rename = px_rename,
    .unlink = px_unlink,
    .fallocate = px_fallocate,
    .truncate = px_truncate,
    .size = px_size,
    .list = px_list,
    .job_submit = px_job_submit,
    .job_poll = px_job_poll,
};

static const struct zn_disk_bg_ops posix_bg_ops = {
    .submit = px_bg_submit,
    .poll = px_bg_poll,
    .ops = &posix_ops,
};

static const struct zn_disk_notify_ops posix_notify_ops = {
    .set = px_set_notify,
    .finished = px_job_finished,
};

size_t zn_disk_posix_size(void)
{
    return sizeof(struct zn_disk_posix);
}

int zn_disk_posix_init(struct zn_disk *disk, void *mem, const char *dir)
{
    struct zn_disk_posix *p = mem;
    memset(p, 0, sizeof(*p));
    if (strlen(dir) >= sizeof(p->dir)) {
        return ZN_EINVAL;
    }
    memcpy(p->dir, dir, strlen(dir) + 1);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return err_from_errno(errno);
    }
    p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->dirfd < 0) {
        return err_from_errno(errno);
    }
    if (sem_init(&p->wake, 0, 0) != 0) {
        close(p->dirfd);
        return ZN_ESYSTEM;
    }
    if (sem_init(&p->bg_wake, 0, 0) != 0) {
        sem_destroy(&p->wake);
        close(p->dirfd);
        return ZN_ESYSTEM;
    }
    atomic_init(&p->bg_sub_head, 0);
    atomic_init(&p->bg_sub_tail, 0);
    atomic_init(&p->bg_done_head, 0);
    atomic_init(&p->bg_done_tail, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->sub_head, 0);
    atomic_init(&p->sub_tail, 0);
    atomic_init(&p->done_head, 0);
    atomic_init(&p->done_tail, 0);
    if (pthread_create(&p->syncer, NULL, syncer_main, p) != 0) {
        sem_destroy(&p->bg_wake);
        sem_destroy(&p->wake);
        close(p->dirfd);
        return ZN_ESYSTEM;
    }
    p->syncer_started = true;
    disk->ops = &posix_ops;
    disk->ctx = p;
    disk->bg_ops = &posix_bg_ops;
    disk->bg_ctx = p;
    disk->notify_ops = &posix_notify_ops;
    disk->notify_ctx = p;
    return 0;
}

void zn_disk_posix_fini(struct zn_disk *disk)
{
    struct zn_disk_posix *p = disk->ctx;
    atomic_store_explicit(&p->stop, true, memory_order_release);
    if (p->syncer_started) {
        sem_post(&p->wake);
        pthread_join(p->syncer, NULL);
        p->syncer_started = false;
    }
    if (p->bg_started) {
        /* stop is already set: the thread finishes the background jobs queued, then exits */
        sem_post(&p->bg_wake);
        pthread_join(p->bg_thread, NULL);
        p->bg_started = false;
    }
    sem_destroy(&p->bg_wake);
    sem_destroy(&p->wake);
    close(p->dirfd);
    disk->ops = NULL;
    disk->ctx = NULL;
    disk->bg_ops = NULL;
    disk->bg_ctx = NULL;
    disk->notify_ops = NULL;
    disk->notify_ctx = NULL;
}

int zn_disk_read_full(struct zn_disk *d, int fd, void *buf, size_t len, uint64_t off)
{
    long n = zn_disk_pread(d, fd, buf, len, off);
    if (n < 0) {
        return (int)n;
    }
    if ((size_t)n != len) {
        return ZN_ECORRUPT;
    }
    return 0;
}

int zn_disk_report_set(struct zn_disk_report *rep, int code, const char *file, uint64_t offset,
                       const char *fmt, ...)
{
    if (rep == NULL) {
        return code;
    }
    rep->code = code;
    snprintf(rep->file, sizeof(rep->file), "%s", file != NULL ? file : "");
    rep->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
    va_end(ap);
    return code;
}
