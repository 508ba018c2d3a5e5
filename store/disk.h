/*
 * disk.h - the only way store/ touches a disk (DESIGN.md section 7).
 *
 * A struct zn_disk is a context plus a table of operations on ONE directory (the node's data
 * directory): files are named relative to it, flat, no subdirectories. Two implementations:
 *
 *   zn_disk_posix  real files (open/pwrite/fdatasync/rename/fallocate...), plus a dedicated
 *                  non-lcore "syncer" thread that runs submitted jobs and a niced background
 *                  thread for preparation work (disk_posix.c).
 *   zn_disk_sim    an in-memory disk for tests and the Raft simulator (disk_sim.c): written but
 *                  unsynced data is kept apart from durable data; a simulated power loss drops,
 *                  tears (at 512 B or 4 KiB) or reorders the unsynced part; operations can be made
 *                  to fail with EIO/ENOSPC; reads can flip bits. Every choice comes from a
 *                  struct zn_prng, so a seed replays a run exactly.
 *
 * Jobs. Durable I/O must never block a poll loop, so the WAL packages "write this batch and
 * fdatasync it" as a job (a function and its argument) and submits it with zn_disk_job_submit;
 * the implementation runs it off the poll loop (POSIX: the syncer thread; sim: inside
 * zn_disk_job_poll, deterministically) and zn_disk_job_poll hands finished jobs back in
 * submission order. A job may call the synchronous operations of the same disk.
 *
 * Errors: every operation returns 0 (or a byte count) or a negative ZN_E* code (ZN_EIO,
 * ZN_ENOSPC, ZN_ENOENT, ZN_EINVAL...). Short reads past the end of a file return fewer bytes.
 * Writes are all-or-error. Context: a disk is used by one thread at a time, plus its job runner;
 * the caller must not touch a file from the poll loop while a job that uses it is in flight.
 */
#ifndef ZN_DISK_H
#define ZN_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/zn_err.h"
#include "common/zn_prng.h"

/* Longest file name inside the data directory (NUL included). */
#define ZN_DISK_NAME_MAX 64
/* Open files per disk (WAL segments + hard state + one snapshot being written or read). */
#define ZN_DISK_FILES_MAX 256
/* Jobs in flight per disk (the WAL keeps one; snapshots add none: they are synchronous). */
#define ZN_DISK_JOBS_MAX 16
/* Directory entries zn_disk_list reports in one call. */
#define ZN_DISK_LIST_MAX 4096

/* open flags */
#define ZN_DISK_CREATE 0x1 /* create if missing */
#define ZN_DISK_EXCL   0x2 /* with CREATE: fail with ZN_EINVAL... if it exists */

/* Memory for the implementations that need it (the sim disk, the WAL): no direct malloc in store/. */
struct zn_allocator {
    void *(*alloc)(void *ctx, size_t size); /* NULL on failure; memory need not be zeroed */
    void (*release)(void *ctx, void *ptr, size_t size);
    void *ctx;
};

typedef void (*zn_disk_job_fn)(void *arg);

struct zn_disk_ops {
    int (*open)(void *ctx, const char *name, int flags, int *fd);
    void (*close)(void *ctx, int fd);
    /* Bytes read (short at end of file), or a negative code. */
    long (*pread)(void *ctx, int fd, void *buf, size_t len, uint64_t off);
    /* All of len bytes, or a negative code. */
    int (*pwrite)(void *ctx, int fd, const void *buf, size_t len, uint64_t off);
    int (*fdatasync)(void *ctx, int fd);
    /* fsync of the directory: makes creations, renames and unlinks durable. */
    int (*fsync_dir)(void *ctx);
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*unlink)(void *ctx, const char *name);
    /* Reserve [off, off+len) (file grows; new bytes read as zero). */
    int (*fallocate)(void *ctx, int fd, uint64_t off, uint64_t len);
    int (*truncate)(void *ctx, int fd, uint64_t size);
    int (*size)(void *ctx, int fd, uint64_t *size);
    /* Calls fn for each regular file name; stops early when fn returns non-zero (returned). */
    int (*list)(void *ctx, int (*fn)(void *arg, const char *name), void *arg);
    int (*job_submit)(void *ctx, zn_disk_job_fn fn, void *arg);
    /* Up to max finished jobs' args, in submission order; never blocks. */
    int (*job_poll)(void *ctx, void **args, int max);
};

/*
 * The background runner: long, low-priority preparation work that must never delay a job (the
 * WAL's zero-filled spare segment, store/wal.c). Background jobs run in submission order on their
 * own runner, concurrently with jobs (POSIX: a second, niced thread started on first use; sim:
 * inside zn_disk_bg_poll, deterministically). A background job may call the synchronous
 * operations of the same disk but must never touch a file that a job uses. Optional: a disk
 * whose bg_ops is NULL has none (the WAL then prepares no spare). It lives in struct zn_disk next
 * to ops/ctx so that a wrapper which replaces ops and ctx (metrics, fault injection) keeps it.
 */
struct zn_disk_bg_ops {
    int (*submit)(void *ctx, zn_disk_job_fn fn, void *arg); /* ZN_EFULL past ZN_DISK_JOBS_MAX */
    int (*poll)(void *ctx, void **args, int max);           /* finished, in order; never blocks */
    /* The operations background jobs use, on bg_ctx: the disk under any wrapper, so that
     * preparation I/O does not show in a wrapper's commit metrics (fsync count and latency).
     * Descriptors are the same as through ops. */
    const struct zn_disk_ops *ops;
};

/*
 * The completion notifier (walwake): lets the owner of a poll loop that sleeps learn at once that
 * a job finished, instead of at the end of its sleep. The owner installs fn(arg) with
 * zn_disk_set_notify; the job runner calls it on its own thread after each finished job is
 * published for zn_disk_job_poll (a release store, then the call: the owner's poll sees the job
 * once woken). fn must be short and must not call into the disk (node: a fence, a load, and an
 * eventfd write only when the lcore sleeps). zn_disk_job_finished is the matching "pending" check
 * for the owner's poll loop (an acquire load): a finished job waits for zn_disk_job_poll. With a
 * seq_cst fence after its "I sleep" store on the owner side and one before its "does it sleep"
 * load in fn, no wake-up is lost (dataplane/zn_dp_loop.c invariants).
 * Only jobs notify: background jobs (the WAL's spare segment) are harvested at the next poll, and
 * nothing waits on them. Optional: a disk whose notify_ops is NULL has no notifier - the sim disk,
 * whose jobs run inside zn_disk_job_poll on the owner's thread, so there is nothing to wake
 * (zn_disk_set_notify returns ZN_ENOTSUP; zn_disk_job_finished is false). Like bg_ops it lives in
 * struct zn_disk so that a wrapper replacing ops/ctx keeps it; a wrapper that holds completions
 * back from its job_poll must clear notify_ops (else the check says "finished" while its poll
 * finds nothing, and a sleeping loop would spin).
 */
typedef void (*zn_disk_notify_fn)(void *arg);

struct zn_disk_notify_ops {
    /* Context: the owner's thread while no job is in flight (before the first submission, or
     * once every job was polled); fn NULL removes it. The call for the last polled job may still
     * be running with the old (fn, arg): arg stays valid until the disk is finished (POSIX:
     * zn_disk_posix_fini joins the syncer). */
    void (*set)(void *ctx, zn_disk_notify_fn fn, void *arg);
    /* Context: the owner's (polling) thread; never blocks, no syscall. */
    bool (*finished)(void *ctx);
};

struct zn_disk {
    const struct zn_disk_ops *ops;
    void *ctx;
    const struct zn_disk_bg_ops *bg_ops; /* NULL: no background runner */
    void *bg_ctx;
    const struct zn_disk_notify_ops *notify_ops; /* NULL: no completion notifier */
    void *notify_ctx;
};

static inline int zn_disk_open(struct zn_disk *d, const char *name, int flags, int *fd)
{
    return d->ops->open(d->ctx, name, flags, fd);
}
static inline void zn_disk_close(struct zn_disk *d, int fd)
{
    d->ops->close(d->ctx, fd);
}
static inline long zn_disk_pread(struct zn_disk *d, int fd, void *buf, size_t len, uint64_t off)
{
    return d->ops->pread(d->ctx, fd, buf, len, off);
}
static inline int zn_disk_pwrite(struct zn_disk *d, int fd, const void *buf, size_t len,
                                 uint64_t off)
{
    return d->ops->pwrite(d->ctx, fd, buf, len, off);
}
static inline int zn_disk_fdatasync(struct zn_disk *d, int fd)
{
    return d->ops->fdatasync(d->ctx, fd);
}
static inline int zn_disk_fsync_dir(struct zn_disk *d)
{
    return d->ops->fsync_dir(d->ctx);
}
static inline int zn_disk_rename(struct zn_disk *d, const char *from, const char *to)
{
    return d->ops->rename(d->ctx, from, to);
}
static inline int zn_disk_unlink(struct zn_disk *d, const char *name)
{
    return d->ops->unlink(d->ctx, name);
}
static inline int zn_disk_fallocate(struct zn_disk *d, int fd, uint64_t off, uint64_t len)
{
    return d->ops->fallocate(d->ctx, fd, off, len);
}
static inline int zn_disk_truncate(struct zn_disk *d, int fd, uint64_t size)
{
    return d->ops->truncate(d->ctx, fd, size);
}
static inline int zn_disk_size(struct zn_disk *d, int fd, uint64_t *size)
{
    return d->ops->size(d->ctx, fd, size);
}
static inline int zn_disk_list(struct zn_disk *d, int (*fn)(void *arg, const char *name), void *arg)
{
    return d->ops->list(d->ctx, fn, arg);
}
static inline int zn_disk_job_submit(struct zn_disk *d, zn_disk_job_fn fn, void *arg)
{
    return d->ops->job_submit(d->ctx, fn, arg);
}
static inline int zn_disk_job_poll(struct zn_disk *d, void **args, int max)
{
    return d->ops->job_poll(d->ctx, args, max);
}

/* Install (fn != NULL) or remove the completion notifier: 0, or ZN_ENOTSUP (no notifier: the
 * sim disk, or a wrapper without one). */
static inline int zn_disk_set_notify(struct zn_disk *d, zn_disk_notify_fn fn, void *arg)
{
    if (d->notify_ops == NULL) {
        return ZN_ENOTSUP;
    }
    d->notify_ops->set(d->notify_ctx, fn, arg);
    return 0;
}
/* A finished job waits for zn_disk_job_poll (false on a disk without a notifier). */
static inline bool zn_disk_job_finished(const struct zn_disk *d)
{
    return d->notify_ops != NULL && d->notify_ops->finished(d->notify_ctx);
}

static inline bool zn_disk_has_bg(const struct zn_disk *d)
{
    return d->bg_ops != NULL;
}
static inline int zn_disk_bg_submit(struct zn_disk *d, zn_disk_job_fn fn, void *arg)
{
    return d->bg_ops->submit(d->bg_ctx, fn, arg);
}
static inline int zn_disk_bg_poll(struct zn_disk *d, void **args, int max)
{
    return d->bg_ops->poll(d->bg_ctx, args, max);
}
/* The disk a background job works on (bg_ops->ops on bg_ctx). */
static inline struct zn_disk zn_disk_bg_disk(const struct zn_disk *d)
{
    return (struct zn_disk){
        .ops = d->bg_ops->ops, .ctx = d->bg_ctx, .bg_ops = d->bg_ops, .bg_ctx = d->bg_ctx};
}

/*
 * What recovery (WAL, hard state, snapshot files) found, for the operator: a code, the file and
 * byte offset concerned and a sentence. store/ does not log; the node prints this.
 */
struct zn_disk_report {
    int code; /* 0 or the ZN_E* code returned */
    char file[ZN_DISK_NAME_MAX];
    uint64_t offset;
    char message[512];
};

/* Fill a report (snprintf-style message). Returns code, for `return zn_disk_report_set(...)`. */
int zn_disk_report_set(struct zn_disk_report *rep, int code, const char *file, uint64_t offset,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Read exactly len bytes at off: ZN_ECORRUPT if the file is shorter, or the read error. */
int zn_disk_read_full(struct zn_disk *d, int fd, void *buf, size_t len, uint64_t off);

/* ---- POSIX implementation ------------------------------------------------------------------ */

struct zn_disk_posix; /* opaque; storage provided by the caller (zn_disk_posix_size) */

size_t zn_disk_posix_size(void);
/*
 * Open (creating if missing) the directory `dir` and start the syncer thread. `mem` holds
 * zn_disk_posix_size() bytes and outlives the disk. Returns 0, ZN_EINVAL (path too long),
 * ZN_ENOENT, ZN_EIO or ZN_ESYSTEM (thread creation).
 */
int zn_disk_posix_init(struct zn_disk *disk, void *mem, const char *dir);
/* Stops the syncer after the jobs already submitted. Files must have been closed by their users
 * (the WAL, hard state and snapshot code close what they open). */
void zn_disk_posix_fini(struct zn_disk *disk);

/* ---- simulated implementation ---------------------------------------------------------------- */

struct zn_disk_sim;

enum zn_disk_sim_crash {
    ZN_SIM_CRASH_DROP,    /* every unsynced write and directory change is lost */
    ZN_SIM_CRASH_TEAR,    /* a prefix of each file's unsynced writes survives, the last one cut at
                             a sector boundary; a prefix of the directory changes survives */
    ZN_SIM_CRASH_REORDER, /* any subset of the unsynced sectors survives (each one independently);
                             metadata (size changes, directory changes) as a prefix */
};

/* Operations the fault injector can target (bit mask). */
#define ZN_SIM_OP_PWRITE    0x01u
#define ZN_SIM_OP_FDATASYNC 0x02u
#define ZN_SIM_OP_FALLOCATE 0x04u
#define ZN_SIM_OP_FSYNC_DIR 0x08u
#define ZN_SIM_OP_PREAD     0x10u
#define ZN_SIM_OP_OTHER     0x20u /* open(create), rename, unlink, truncate */

struct zn_disk_sim_stats {
    uint64_t mutations; /* state-changing operations so far (the crash-point counter) */
    uint64_t syncs;
    uint64_t bytes_written;
    uint64_t bytes_used; /* sum of the current sizes of all files */
};

/*
 * Create a simulated disk. `alloc` provides all memory (file images grow by reallocation);
 * `seed` drives every random choice. capacity_bytes bounds the total size of all files
 * (ZN_ENOSPC beyond it; 0 = unlimited).
 */
int zn_disk_sim_create(struct zn_disk *disk, const struct zn_allocator *alloc, uint64_t seed,
                       uint64_t capacity_bytes);
void zn_disk_sim_destroy(struct zn_disk *disk);

/*
 * Simulated power loss: apply the crash model to the unsynced state, close every file, and leave
 * the disk holding only what survived (the next open sees it). Jobs in flight are forgotten.
 */
void zn_disk_sim_crash(struct zn_disk *disk, enum zn_disk_sim_crash mode);
/* A deep copy of the current durable+unsynced state (a second disk), for branching crash tests. */
int zn_disk_sim_clone(struct zn_disk *dst, struct zn_disk *src, uint64_t seed);
/*
 * Arrange a crash image at mutation number `at` (1-based: just before the at-th state-changing
 * operation runs): the disk keeps working, but zn_disk_sim_take_image returns a disk holding what a
 * power loss at that point would have left. 0 disables.
 */
void zn_disk_sim_crash_at(struct zn_disk *disk, uint64_t at, enum zn_disk_sim_crash mode);
/* Moves the captured crash image into `image` (created as a new sim disk); ZN_ENOENT if none. */
int zn_disk_sim_take_image(struct zn_disk *disk, struct zn_disk *image);

/* Fail operations in `ops_mask` with `err` (ZN_EIO or ZN_ENOSPC) after `after` more successes;
 * `count` failures then stop (0 = forever). err = 0 disables. */
void zn_disk_sim_fail(struct zn_disk *disk, uint32_t ops_mask, int err, uint64_t after,
                      uint64_t count);
/* Each byte read has a chance num/den of one flipped bit (0 disables). */
void zn_disk_sim_read_flips(struct zn_disk *disk, uint64_t num, uint64_t den);
/* Jobs run inside zn_disk_job_poll (background jobs inside zn_disk_bg_poll); with a delay chance
 * a poll may return with the job pending. */
void zn_disk_sim_job_delay(struct zn_disk *disk, uint64_t num, uint64_t den);

/* Direct access to file images (tests: corrupt, copy, inspect). Durable and unsynced both. */
int zn_disk_sim_file_size(struct zn_disk *disk, const char *name, uint64_t *size);
/* Overwrite bytes of a file image in place, durably (models corruption at rest). */
int zn_disk_sim_poke(struct zn_disk *disk, const char *name, uint64_t off, const void *buf,
                     size_t len);
int zn_disk_sim_peek(struct zn_disk *disk, const char *name, uint64_t off, void *buf, size_t len);
/* Replace (or create) a file's whole durable content (a stale copy put back, a fuzz input). */
int zn_disk_sim_put(struct zn_disk *disk, const char *name, const void *buf, size_t len);
void zn_disk_sim_stats(struct zn_disk *disk, struct zn_disk_sim_stats *stats);

#endif /* ZN_DISK_H */
