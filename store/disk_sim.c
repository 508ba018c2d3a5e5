/*
 * disk_sim.c - a simulated disk that loses, tears and reorders what was not synced.
 *
 * Model (what a power loss may leave, following what ext4/XFS with a volatile drive cache
 * guarantee and nothing more; sqlite's test6.c crash VFS and tigerbeetle's storage simulator are
 * the references):
 *   - each file (inode) has a durable image and a list of pending operations (writes, size
 *     changes) since its last fdatasync; reads see the durable image with the pending operations
 *     applied. fdatasync makes the current content durable.
 *   - the directory has a durable table (name -> inode) and a list of pending changes (create,
 *     rename, unlink) since the last directory fsync. fdatasync of a file does NOT make its name
 *     durable; only fsync_dir does.
 *   - a crash keeps, per file: nothing (DROP); a prefix of the pending operations with the last
 *     kept write cut at a random sector (TEAR); or each pending sector independently, size
 *     changes as a prefix (REORDER). Sectors are 512 B or 4 KiB, chosen per crash. Directory
 *     changes survive as a prefix (metadata journals commit in order), none for DROP.
 * Everything random comes from the disk's zn_prng: the same seed and the same calls give the
 * same disk. Jobs run inside zn_disk_job_poll (never concurrently), so a test is deterministic.
 *
 * Memory comes from the caller's zn_allocator (store/ does not call malloc). Limits: SIM_INODES
 * inodes, ZN_DISK_FILES_MAX names, SIM_DIROPS_MAX directory changes between two fsync_dir.
 */
#include <string.h>

#include "common/zn_assert.h"
#include "common/zn_err.h"
#include "store/disk.h"

#define SIM_INODES     512
#define SIM_FDS        ZN_DISK_FILES_MAX
#define SIM_DIROPS_MAX 4096
#define SIM_FD_BASE    1000

enum pend_kind { PEND_WRITE, PEND_SIZE };

struct pend {
    enum pend_kind kind;
    uint64_t off;  /* write offset */
    uint64_t len;  /* write length, or the new size for PEND_SIZE */
    uint8_t *data; /* write bytes (owned) */
};

struct image {
    uint8_t *buf;
    uint64_t size;
    uint64_t cap;
};

struct inode {
    bool used;
    struct image cur; /* what reads see */
    struct image dur; /* what survives a crash */
    struct pend *pend;
    uint32_t npend;
    uint32_t cap_pend;
};

struct dent {
    char name[ZN_DISK_NAME_MAX];
    int ino; /* -1: free slot */
};

enum dirop_kind { DIROP_CREATE, DIROP_RENAME, DIROP_UNLINK };

struct dirop {
    enum dirop_kind kind;
    char a[ZN_DISK_NAME_MAX];
    char b[ZN_DISK_NAME_MAX];
    int ino;
};

struct sjob {
    zn_disk_job_fn fn;
    void *arg;
};

struct zn_disk_sim {
    struct zn_allocator alloc;
    struct zn_prng prng;
    uint64_t capacity;
    struct inode inodes[SIM_INODES];
    struct dent cur_dir[ZN_DISK_FILES_MAX];
    struct dent dur_dir[ZN_DISK_FILES_MAX];
    struct dirop *dirops;
    uint32_t ndirops;
    int fds[SIM_FDS]; /* inode or -1 */
    /* faults */
    uint32_t fail_mask;
    int fail_err;
    uint64_t fail_after;
    uint64_t fail_count; /* 0 = forever */
    uint64_t flip_num, flip_den;
    uint64_t delay_num, delay_den;
    /* crash capture */
    uint64_t crash_at;
    enum zn_disk_sim_crash crash_mode;
    struct zn_disk_sim *image;
    /* jobs */
    struct sjob jobs[ZN_DISK_JOBS_MAX];
    uint32_t jobs_head, jobs_n;
    void *done[ZN_DISK_JOBS_MAX];
    uint32_t done_n;
    /* background jobs: a second queue, run by zn_disk_bg_poll */
    struct sjob bg_jobs[ZN_DISK_JOBS_MAX];
    uint32_t bg_head, bg_n;
    void *bg_done[ZN_DISK_JOBS_MAX];
    uint32_t bg_done_n;
    struct zn_disk_sim_stats stats;
};

static const struct zn_disk_ops sim_ops;

/* ---- memory ------------------------------------------------------------------------------- */

static void *sim_alloc(struct zn_disk_sim *s, size_t size)
{
    return s->alloc.alloc(s->alloc.ctx, size);
}

static void sim_free(struct zn_disk_sim *s, void *p, size_t size)
{
    if (p != NULL) {
        s->alloc.release(s->alloc.ctx, p, size);
    }
}

static int image_reserve(struct zn_disk_sim *s, struct image *im, uint64_t need)
{
    if (need <= im->cap) {
        return 0;
    }
    uint64_t cap = im->cap ? im->cap : 4096;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *nb = sim_alloc(s, cap);
    if (nb == NULL) {
        return ZN_ENOMEM;
    }
    if (im->size > 0) {
        memcpy(nb, im->buf, im->size);
    }
    sim_free(s, im->buf, im->cap);
    im->buf = nb;
    im->cap = cap;
    return 0;
}

/* Set the size; bytes past the old size read as zero. */
static int image_resize(struct zn_disk_sim *s, struct image *im, uint64_t size)
{
    int rc = image_reserve(s, im, size);
    if (rc != 0) {
        return rc;
    }
    if (size > im->size) {
        memset(im->buf + im->size, 0, size - im->size);
    }
    im->size = size;
    return 0;
}

static int image_write(struct zn_disk_sim *s, struct image *im, uint64_t off, const void *buf,
                       uint64_t len)
{
    if (len == 0) {
        return 0;
    }
    if (off + len > im->size) {
        int rc = image_resize(s, im, off + len);
        if (rc != 0) {
            return rc;
        }
    }
    memcpy(im->buf + off, buf, len);
    return 0;
}

static int image_copy(struct zn_disk_sim *s, struct image *dst, const struct image *src)
{
    dst->size = 0;
    int rc = image_resize(s, dst, src->size);
    if (rc == 0 && src->size > 0) {
        memcpy(dst->buf, src->buf, src->size);
    }
    return rc;
}

static void pend_clear(struct zn_disk_sim *s, struct inode *in)
{
    for (uint32_t i = 0; i < in->npend; i++) {
        if (in->pend[i].kind == PEND_WRITE) {
            sim_free(s, in->pend[i].data, in->pend[i].len);
        }
    }
    in->npend = 0;
}

static int pend_push(struct zn_disk_sim *s, struct inode *in, struct pend p)
{
    if (in->npend == in->cap_pend) {
        uint32_t cap = in->cap_pend ? in->cap_pend * 2 : 16;
        struct pend *np = sim_alloc(s, cap * sizeof(*np));
        if (np == NULL) {
            return ZN_ENOMEM;
        }
        if (in->npend > 0) {
            memcpy(np, in->pend, in->npend * sizeof(*np));
        }
        sim_free(s, in->pend, in->cap_pend * sizeof(*np));
        in->pend = np;
        in->cap_pend = cap;
    }
    in->pend[in->npend++] = p;
    return 0;
}

static void inode_release(struct zn_disk_sim *s, int ino)
{
    struct inode *in = &s->inodes[ino];
    pend_clear(s, in);
    sim_free(s, in->pend, in->cap_pend * sizeof(struct pend));
    sim_free(s, in->cur.buf, in->cur.cap);
    sim_free(s, in->dur.buf, in->dur.cap);
    memset(in, 0, sizeof(*in));
}

/* Free an inode nobody names or holds open any more. */
static void inode_maybe_free(struct zn_disk_sim *s, int ino)
{
    if (ino < 0 || !s->inodes[ino].used) {
        return;
    }
    for (int i = 0; i < ZN_DISK_FILES_MAX; i++) {
        if (s->cur_dir[i].ino == ino || s->dur_dir[i].ino == ino) {
            return;
        }
    }
    for (int i = 0; i < SIM_FDS; i++) {
        if (s->fds[i] == ino) {
            return;
        }
    }
    for (uint32_t i = 0; i < s->ndirops; i++) {
        if (s->dirops[i].ino == ino) {
            return;
        }
    }
    inode_release(s, ino);
}

/* ---- directory tables ------------------------------------------------------------------------ */

static struct dent *dir_find(struct dent *dir, const char *name)
{
    for (int i = 0; i < ZN_DISK_FILES_MAX; i++) {
        if (dir[i].ino >= 0 && strcmp(dir[i].name, name) == 0) {
            return &dir[i];
        }
    }
    return NULL;
}

static int dir_set(struct dent *dir, const char *name, int ino)
{
    struct dent *e = dir_find(dir, name);
    if (e == NULL) {
        for (int i = 0; i < ZN_DISK_FILES_MAX; i++) {
            if (dir[i].ino < 0) {
                e = &dir[i];
                break;
            }
        }
    }
    if (e == NULL) {
        return ZN_ELIMIT;
    }
    size_t n = strlen(name);
    memcpy(e->name, name, n + 1);
    e->ino = ino;
    return 0;
}

static void dirop_apply(struct dent *dir, const struct dirop *op)
{
    struct dent *e;
    switch (op->kind) {
    case DIROP_CREATE:
        (void)dir_set(dir, op->a, op->ino);
        break;
    case DIROP_RENAME:
        e = dir_find(dir, op->a);
        if (e != NULL) {
            int ino = e->ino;
            e->ino = -1;
            (void)dir_set(dir, op->b, ino);
        }
        break;
    case DIROP_UNLINK:
        e = dir_find(dir, op->a);
        if (e != NULL) {
            e->ino = -1;
        }
        break;
    }
}

static int dirop_push(struct zn_disk_sim *s, struct dirop op)
{
    if (s->ndirops >= SIM_DIROPS_MAX) {
        return ZN_ELIMIT;
    }
    if (s->dirops == NULL) {
        s->dirops = sim_alloc(s, SIM_DIROPS_MAX * sizeof(struct dirop));
        if (s->dirops == NULL) {
            return ZN_ENOMEM;
        }
    }
    s->dirops[s->ndirops++] = op;
    return 0;
}

/* ---- faults and crash capture ---------------------------------------------------------------- */

static int fault(struct zn_disk_sim *s, uint32_t op)
{
    if (s->fail_err == 0 || (s->fail_mask & op) == 0) {
        return 0;
    }
    if (s->fail_after > 0) {
        s->fail_after--;
        return 0;
    }
    int err = s->fail_err;
    if (s->fail_count > 0 && --s->fail_count == 0) {
        s->fail_err = 0;
    }
    return err;
}

static int sim_clone_into(struct zn_disk_sim *dst, struct zn_disk_sim *src);
static void sim_crash_apply(struct zn_disk_sim *s, enum zn_disk_sim_crash mode);
static void sim_destroy_ctx(struct zn_disk_sim *s);

/* Called before every state-changing operation: counts it and captures a crash image. */
static void mutation(struct zn_disk_sim *s)
{
    s->stats.mutations++;
    if (s->crash_at != 0 && s->stats.mutations == s->crash_at && s->image == NULL) {
        struct zn_disk_sim *img = sim_alloc(s, sizeof(*img));
        ZN_ASSERT(img != NULL);
        memset(img, 0, sizeof(*img));
        img->alloc = s->alloc;
        zn_prng_seed(&img->prng, zn_prng_u64(&s->prng));
        ZN_ASSERT(sim_clone_into(img, s) == 0);
        sim_crash_apply(img, s->crash_mode);
        s->image = img;
    }
}

static uint64_t used_bytes(struct zn_disk_sim *s)
{
    uint64_t sum = 0;
    for (int i = 0; i < SIM_INODES; i++) {
        if (s->inodes[i].used) {
            sum += s->inodes[i].cur.size;
        }
    }
    return sum;
}

static int space_for(struct zn_disk_sim *s, struct inode *in, uint64_t new_size)
{
    if (s->capacity == 0 || new_size <= in->cur.size) {
        return 0;
    }
    if (used_bytes(s) + (new_size - in->cur.size) > s->capacity) {
        return ZN_ENOSPC;
    }
    return 0;
}

static struct inode *fd_inode(struct zn_disk_sim *s, int fd)
{
    int i = fd - SIM_FD_BASE;
    if (i < 0 || i >= SIM_FDS || s->fds[i] < 0) {
        return NULL;
    }
    return &s->inodes[s->fds[i]];
}

/* ---- operations ------------------------------------------------------------------------------- */

static int sim_open(void *ctx, const char *name, int flags, int *fd)
{
    struct zn_disk_sim *s = ctx;
    if (strlen(name) >= ZN_DISK_NAME_MAX || strchr(name, '/') != NULL || name[0] == '\0') {
        return ZN_EINVAL;
    }
    int slot = -1;
    for (int i = 0; i < SIM_FDS; i++) {
        if (s->fds[i] < 0) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        return ZN_ELIMIT;
    }
    struct dent *e = dir_find(s->cur_dir, name);
    if (e != NULL) {
        if ((flags & ZN_DISK_CREATE) && (flags & ZN_DISK_EXCL)) {
            return ZN_EINVAL;
        }
        s->fds[slot] = e->ino;
        *fd = SIM_FD_BASE + slot;
        return 0;
    }
    if (!(flags & ZN_DISK_CREATE)) {
        return ZN_ENOENT;
    }
    int rc = fault(s, ZN_SIM_OP_OTHER);
    if (rc != 0) {
        return rc;
    }
    int ino = -1;
    for (int i = 0; i < SIM_INODES; i++) {
        if (!s->inodes[i].used) {
            ino = i;
            break;
        }
    }
    if (ino < 0) {
        return ZN_ELIMIT;
    }
    mutation(s);
    struct dirop op = {.kind = DIROP_CREATE, .ino = ino};
    memcpy(op.a, name, strlen(name) + 1);
    rc = dirop_push(s, op);
    if (rc != 0) {
        return rc;
    }
    rc = dir_set(s->cur_dir, name, ino);
    if (rc != 0) {
        s->ndirops--;
        return rc;
    }
    s->inodes[ino].used = true;
    s->fds[slot] = ino;
    *fd = SIM_FD_BASE + slot;
    return 0;
}

static void sim_close(void *ctx, int fd)
{
    struct zn_disk_sim *s = ctx;
    int i = fd - SIM_FD_BASE;
    if (i < 0 || i >= SIM_FDS || s->fds[i] < 0) {
        return;
    }
    int ino = s->fds[i];
    s->fds[i] = -1;
    inode_maybe_free(s, ino);
}

static long sim_pread(void *ctx, int fd, void *buf, size_t len, uint64_t off)
{
    struct zn_disk_sim *s = ctx;
    struct inode *in = fd_inode(s, fd);
    if (in == NULL) {
        return ZN_EINVAL;
    }
    int rc = fault(s, ZN_SIM_OP_PREAD);
    if (rc != 0) {
        return rc;
    }
    if (off >= in->cur.size) {
        return 0;
    }
    uint64_t n = in->cur.size - off < len ? in->cur.size - off : len;
    memcpy(buf, in->cur.buf + off, n);
    if (s->flip_num > 0) {
        uint8_t *b = buf;
        for (uint64_t i = 0; i < n; i++) {
            if (zn_prng_chance(&s->prng, s->flip_num, s->flip_den)) {
                b[i] ^= (uint8_t)(1u << zn_prng_below(&s->prng, 8));
            }
        }
    }
    return (long)n;
}

static int sim_pwrite(void *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    struct zn_disk_sim *s = ctx;
    struct inode *in = fd_inode(s, fd);
    if (in == NULL) {
        return ZN_EINVAL;
    }
    int rc = fault(s, ZN_SIM_OP_PWRITE);
    if (rc == 0) {
        rc = space_for(s, in, off + len);
    }
    if (rc != 0) {
        return rc;
    }
    if (len == 0) {
        return 0;
    }
    mutation(s);
    uint8_t *copy = sim_alloc(s, len);
    if (copy == NULL) {
        return ZN_ENOMEM;
    }
    memcpy(copy, buf, len);
    rc = pend_push(s, in, (struct pend){.kind = PEND_WRITE, .off = off, .len = len, .data = copy});
    if (rc != 0) {
        sim_free(s, copy, len);
        return rc;
    }
    s->stats.bytes_written += len;
    return image_write(s, &in->cur, off, buf, len);
}

static int sim_fdatasync(void *ctx, int fd)
{
    struct zn_disk_sim *s = ctx;
    struct inode *in = fd_inode(s, fd);
    if (in == NULL) {
        return ZN_EINVAL;
    }
    int rc = fault(s, ZN_SIM_OP_FDATASYNC);
    if (rc != 0) {
        return rc;
    }
    mutation(s);
    s->stats.syncs++;
    pend_clear(s, in);
    return image_copy(s, &in->dur, &in->cur);
}

static int sim_fsync_dir(void *ctx)
{
    struct zn_disk_sim *s = ctx;
    int rc = fault(s, ZN_SIM_OP_FSYNC_DIR);
    if (rc != 0) {
        return rc;
    }
    mutation(s);
    s->stats.syncs++;
    memcpy(s->dur_dir, s->cur_dir, sizeof(s->dur_dir));
    uint32_t n = s->ndirops;
    s->ndirops = 0;
    for (uint32_t i = 0; i < n; i++) {
        inode_maybe_free(s, s->dirops[i].ino);
    }
    for (int i = 0; i < SIM_INODES; i++) {
        inode_maybe_free(s, i);
    }
    return 0;
}

static int sim_rename(void *ctx, const char *from, const char *to)
{
    struct zn_disk_sim *s = ctx;
    if (strlen(to) >= ZN_DISK_NAME_MAX || strchr(to, '/') != NULL) {
        return ZN_EINVAL;
    }
    struct dent *e = dir_find(s->cur_dir, from);
    if (e == NULL) {
        return ZN_ENOENT;
    }
    int rc = fault(s, ZN_SIM_OP_OTHER);
    if (rc != 0) {
        return rc;
    }
    mutation(s);
    struct dirop op = {.kind = DIROP_RENAME, .ino = e->ino};
    memcpy(op.a, from, strlen(from) + 1);
    memcpy(op.b, to, strlen(to) + 1);
    rc = dirop_push(s, op);
    if (rc != 0) {
        return rc;
    }
    struct dent *old = dir_find(s->cur_dir, to);
    int old_ino = old != NULL ? old->ino : -1;
    dirop_apply(s->cur_dir, &op);
    inode_maybe_free(s, old_ino);
    return 0;
}

static int sim_unlink(void *ctx, const char *name)
{
    struct zn_disk_sim *s = ctx;
    struct dent *e = dir_find(s->cur_dir, name);
    if (e == NULL) {
        return ZN_ENOENT;
    }
    int rc = fault(s, ZN_SIM_OP_OTHER);
    if (rc != 0) {
        return rc;
    }
    mutation(s);
    struct dirop op = {.kind = DIROP_UNLINK, .ino = e->ino};
    memcpy(op.a, name, strlen(name) + 1);
    rc = dirop_push(s, op);
    if (rc != 0) {
        return rc;
    }
    int ino = e->ino;
    e->ino = -1;
    inode_maybe_free(s, ino);
    return 0;
}

static int size_change(struct zn_disk_sim *s, struct inode *in, uint64_t size)
{
    mutation(s);
    int rc = pend_push(s, in, (struct pend){.kind = PEND_SIZE, .len = size});
    if (rc != 0) {
        return rc;
    }
    return image_resize(s, &in->cur, size);
}

static int sim_fallocate(void *ctx, int fd, uint64_t off, uint64_t len)
{
    struct zn_disk_sim *s = ctx;
    struct inode *in = fd_inode(s, fd);
    if (in == NULL) {
        return ZN_EINVAL;
    }
    int rc = fault(s, ZN_SIM_OP_FALLOCATE);
    if (rc == 0) {
        rc = space_for(s, in, off + len);
    }
    if (rc != 0) {
        return rc;
    }
    if (off + len <= in->cur.size) {
        return 0;
    }
    return size_change(s, in, off + len);
}

static int sim_truncate(void *ctx, int fd, uint64_t size)
{
    struct zn_disk_sim *s = ctx;
    struct inode *in = fd_inode(s, fd);
    if (in == NULL) {
        return ZN_EINVAL;
    }
    int rc = fault(s, ZN_SIM_OP_OTHER);
    if (rc == 0) {
        rc = space_for(s, in, size);
    }
    if (rc != 0) {
        return rc;
    }
    return size_change(s, in, size);
}

static int sim_size(void *ctx, int fd, uint64_t *size)
{
    struct zn_disk_sim *s = ctx;
    struct inode *in = fd_inode(s, fd);
    if (in == NULL) {
        return ZN_EINVAL;
    }
    *size = in->cur.size;
    return 0;
}

static int sim_list(void *ctx, int (*fn)(void *arg, const char *name), void *arg)
{
    struct zn_disk_sim *s = ctx;
    for (int i = 0; i < ZN_DISK_FILES_MAX; i++) {
        if (s->cur_dir[i].ino >= 0) {
            int rc = fn(arg, s->cur_dir[i].name);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

static int sim_job_submit(void *ctx, zn_disk_job_fn fn, void *arg)
{
    struct zn_disk_sim *s = ctx;
    if (s->jobs_n + s->done_n >= ZN_DISK_JOBS_MAX) {
        return ZN_EFULL;
    }
    s->jobs[(s->jobs_head + s->jobs_n) % ZN_DISK_JOBS_MAX] = (struct sjob){fn, arg};
    s->jobs_n++;
    return 0;
}

static int sim_job_poll(void *ctx, void **args, int max)
{
    struct zn_disk_sim *s = ctx;
    while (s->jobs_n > 0) {
        if (s->delay_num > 0 && zn_prng_chance(&s->prng, s->delay_num, s->delay_den)) {
            break;
        }
        struct sjob j = s->jobs[s->jobs_head];
        s->jobs_head = (s->jobs_head + 1) % ZN_DISK_JOBS_MAX;
        s->jobs_n--;
        j.fn(j.arg);
        s->done[s->done_n++] = j.arg;
    }
    int n = 0;
    while (n < max && n < (int)s->done_n) {
        args[n] = s->done[n];
        n++;
    }
    memmove(s->done, s->done + n, (s->done_n - (uint32_t)n) * sizeof(void *));
    s->done_n -= (uint32_t)n;
    return n;
}

static int sim_bg_submit(void *ctx, zn_disk_job_fn fn, void *arg)
{
    struct zn_disk_sim *s = ctx;
    if (s->bg_n + s->bg_done_n >= ZN_DISK_JOBS_MAX) {
        return ZN_EFULL;
    }
    s->bg_jobs[(s->bg_head + s->bg_n) % ZN_DISK_JOBS_MAX] = (struct sjob){fn, arg};
    s->bg_n++;
    return 0;
}

/* Like sim_job_poll, on the background queue (the same delay chance applies). */
static int sim_bg_poll(void *ctx, void **args, int max)
{
    struct zn_disk_sim *s = ctx;
    while (s->bg_n > 0) {
        if (s->delay_num > 0 && zn_prng_chance(&s->prng, s->delay_num, s->delay_den)) {
            break;
        }
        struct sjob j = s->bg_jobs[s->bg_head];
        s->bg_head = (s->bg_head + 1) % ZN_DISK_JOBS_MAX;
        s->bg_n--;
        j.fn(j.arg);
        s->bg_done[s->bg_done_n++] = j.arg;
    }
    int n = 0;
    while (n < max && n < (int)s->bg_done_n) {
        args[n] = s->bg_done[n];
        n++;
    }
    memmove(s->bg_done, s->bg_done + n, (s->bg_done_n - (uint32_t)n) * sizeof(void *));
    s->bg_done_n -= (uint32_t)n;
    return n;
}

static const struct zn_disk_ops sim_ops = {
    .open = sim_open,
    .close = sim_close,
    .pread = sim_pread,
    .pwrite = sim_pwrite,
    .fdatasync = sim_fdatasync,
    .fsync_dir = sim_fsync_dir,
    .rename = sim_rename,
    .unlink = sim_unlink,
    .fallocate = sim_fallocate,
    .truncate = sim_truncate,
    .size = sim_size,
    .list = sim_list,
    .job_submit = sim_job_submit,
    .job_poll = sim_job_poll,
};

static const struct zn_disk_bg_ops sim_bg_ops = {
    .submit = sim_bg_submit,
    .poll = sim_bg_poll,
    .ops = &sim_ops,
};

/* ---- crash -------------------------------------------------------------------------------------- */

/* Apply the sectors of a pending write chosen by keep(sector index). */
static void apply_write_sectors(struct zn_disk_sim *s, struct image *im, const struct pend *p,
                                uint64_t sector, int mode, uint64_t cut)
{
    uint64_t first = p->off / sector;
    uint64_t last = (p->off + p->len - 1) / sector;
    for (uint64_t sec = first; sec <= last; sec++) {
        bool keep;
        if (mode == ZN_SIM_CRASH_REORDER) {
            keep = zn_prng_chance(&s->prng, 1, 2);
        } else {
            keep = sec - first < cut;
        }
        if (!keep) {
            continue;
        }
        uint64_t lo = sec * sector > p->off ? sec * sector : p->off;
        uint64_t hi = (sec + 1) * sector < p->off + p->len ? (sec + 1) * sector : p->off + p->len;
        ZN_ASSERT(image_write(s, im, lo, p->data + (lo - p->off), hi - lo) == 0);
    }
}

static void sim_crash_apply(struct zn_disk_sim *s, enum zn_disk_sim_crash mode)
{
    uint64_t sector = zn_prng_chance(&s->prng, 1, 2) ? 512 : 4096;
    for (int i = 0; i < SIM_INODES; i++) {
        struct inode *in = &s->inodes[i];
        if (!in->used) {
            continue;
        }
        if (mode == ZN_SIM_CRASH_TEAR && in->npend > 0) {
            uint32_t keep = (uint32_t)zn_prng_below(&s->prng, in->npend + 1);
            for (uint32_t k = 0; k < keep && k < in->npend; k++) {
                struct pend *p = &in->pend[k];
                if (p->kind == PEND_SIZE) {
                    ZN_ASSERT(image_resize(s, &in->dur, p->len) == 0);
                } else if (k + 1 < keep) {
                    ZN_ASSERT(image_write(s, &in->dur, p->off, p->data, p->len) == 0);
                } else {
                    uint64_t nsec = (p->off + p->len - 1) / sector - p->off / sector + 1;
                    apply_write_sectors(s, &in->dur, p, sector, mode,
                                        zn_prng_below(&s->prng, nsec + 1));
                }
            }
        } else if (mode == ZN_SIM_CRASH_REORDER && in->npend > 0) {
            uint32_t nsize = 0;
            for (uint32_t k = 0; k < in->npend; k++) {
                nsize += in->pend[k].kind == PEND_SIZE;
            }
            uint32_t keep_size = (uint32_t)zn_prng_below(&s->prng, nsize + 1);
            uint32_t seen = 0;
            for (uint32_t k = 0; k < in->npend; k++) {
                struct pend *p = &in->pend[k];
                if (p->kind == PEND_SIZE) {
                    if (seen++ < keep_size) {
                        ZN_ASSERT(image_resize(s, &in->dur, p->len) == 0);
                    }
                } else {
                    apply_write_sectors(s, &in->dur, p, sector, mode, 0);
                }
            }
        }
        pend_clear(s, in);
        ZN_ASSERT(image_copy(s, &in->cur, &in->dur) == 0);
    }
    uint32_t keep_dir = 0;
    if (mode != ZN_SIM_CRASH_DROP) {
        keep_dir = (uint32_t)zn_prng_below(&s->prng, s->ndirops + 1);
    }
    for (uint32_t k = 0; k < keep_dir; k++) {
        dirop_apply(s->dur_dir, &s->dirops[k]);
    }
    s->ndirops = 0;
    memcpy(s->cur_dir, s->dur_dir, sizeof(s->cur_dir));
    for (int i = 0; i < SIM_FDS; i++) {
        s->fds[i] = -1;
    }
    s->jobs_n = 0;
    s->done_n = 0;
    s->bg_n = 0;
    s->bg_done_n = 0;
    for (int i = 0; i < SIM_INODES; i++) {
        inode_maybe_free(s, i);
    }
}

/* ---- lifecycle and test access ------------------------------------------------------------------ */

static void sim_init_ctx(struct zn_disk_sim *s, const struct zn_allocator *alloc, uint64_t seed,
                         uint64_t capacity)
{
    memset(s, 0, sizeof(*s));
    s->alloc = *alloc;
    zn_prng_seed(&s->prng, seed);
    s->capacity = capacity;
    for (int i = 0; i < ZN_DISK_FILES_MAX; i++) {
        s->cur_dir[i].ino = -1;
        s->dur_dir[i].ino = -1;
    }
    for (int i = 0; i < SIM_FDS; i++) {
        s->fds[i] = -1;
    }
}

int zn_disk_sim_create(struct zn_disk *disk, const struct zn_allocator *alloc, uint64_t seed,
                       uint64_t capacity_bytes)
{
    struct zn_disk_sim *s = alloc->alloc(alloc->ctx, sizeof(*s));
    if (s == NULL) {
        return ZN_ENOMEM;
    }
    sim_init_ctx(s, alloc, seed, capacity_bytes);
    disk->ops = &sim_ops;
    disk->ctx = s;
    disk->bg_ops = &sim_bg_ops;
    disk->bg_ctx = s;
    disk->notify_ops = NULL; /* jobs run inside zn_disk_job_poll: nothing to notify (disk.h) */
    disk->notify_ctx = NULL;
    return 0;
}

static void sim_destroy_ctx(struct zn_disk_sim *s)
{
    if (s->image != NULL) {
        sim_destroy_ctx(s->image);
        s->image = NULL;
    }
    for (int i = 0; i < SIM_INODES; i++) {
        if (s->inodes[i].used) {
            inode_release(s, i);
        }
    }
    sim_free(s, s->dirops, SIM_DIROPS_MAX * sizeof(struct dirop));
    struct zn_allocator a = s->alloc;
    a.release(a.ctx, s, sizeof(*s));
}

void zn_disk_sim_destroy(struct zn_disk *disk)
{
    ZN_ASSERT(disk->ops == &sim_ops);
    sim_destroy_ctx(disk->ctx);
    disk->ops = NULL;
    disk->ctx = NULL;
    disk->bg_ops = NULL;
    disk->bg_ctx = NULL;
}

/* dst is initialized (alloc, prng set); copies files, directories and pending state. */
static int sim_clone_into(struct zn_disk_sim *dst, struct zn_disk_sim *src)
{
    struct zn_allocator a = dst->alloc;
    struct zn_prng p = dst->prng;
    sim_init_ctx(dst, &a, 0, src->capacity);
    dst->prng = p;
    for (int i = 0; i < SIM_INODES; i++) {
        struct inode *si = &src->inodes[i];
        struct inode *di = &dst->inodes[i];
        if (!si->used) {
            continue;
        }
        di->used = true;
        if (image_copy(dst, &di->cur, &si->cur) != 0 || image_copy(dst, &di->dur, &si->dur) != 0) {
            return ZN_ENOMEM;
        }
        for (uint32_t k = 0; k < si->npend; k++) {
            struct pend pd = si->pend[k];
            if (pd.kind == PEND_WRITE) {
                pd.data = sim_alloc(dst, pd.len);
                if (pd.data == NULL) {
                    return ZN_ENOMEM;
                }
                memcpy(pd.data, si->pend[k].data, pd.len);
            }
            if (pend_push(dst, di, pd) != 0) {
                return ZN_ENOMEM;
            }
        }
    }
    memcpy(dst->cur_dir, src->cur_dir, sizeof(dst->cur_dir));
    memcpy(dst->dur_dir, src->dur_dir, sizeof(dst->dur_dir));
    for (uint32_t k = 0; k < src->ndirops; k++) {
        if (dirop_push(dst, src->dirops[k]) != 0) {
            return ZN_ENOMEM;
        }
    }
    return 0;
}

int zn_disk_sim_clone(struct zn_disk *dst, struct zn_disk *src, uint64_t seed)
{
    struct zn_disk_sim *s = src->ctx;
    int rc = zn_disk_sim_create(dst, &s->alloc, seed, s->capacity);
    if (rc != 0) {
        return rc;
    }
    rc = sim_clone_into(dst->ctx, s);
    if (rc != 0) {
        zn_disk_sim_destroy(dst);
    }
    return rc;
}

void zn_disk_sim_crash(struct zn_disk *disk, enum zn_disk_sim_crash mode)
{
    sim_crash_apply(disk->ctx, mode);
}

void zn_disk_sim_crash_at(struct zn_disk *disk, uint64_t at, enum zn_disk_sim_crash mode)
{
    struct zn_disk_sim *s = disk->ctx;
    s->crash_at = at;
    s->crash_mode = mode;
}

int zn_disk_sim_take_image(struct zn_disk *disk, struct zn_disk *image)
{
    struct zn_disk_sim *s = disk->ctx;
    if (s->image == NULL) {
        return ZN_ENOENT;
    }
    image->ops = &sim_ops;
    image->ctx = s->image;
    image->bg_ops = &sim_bg_ops;
    image->bg_ctx = s->image;
    s->image = NULL;
    return 0;
}

void zn_disk_sim_fail(struct zn_disk *disk, uint32_t ops_mask, int err, uint64_t after,
                      uint64_t count)
{
    struct zn_disk_sim *s = disk->ctx;
    s->fail_mask = ops_mask;
    s->fail_err = err;
    s->fail_after = after;
    s->fail_count = count;
}

void zn_disk_sim_read_flips(struct zn_disk *disk, uint64_t num, uint64_t den)
{
    struct zn_disk_sim *s = disk->ctx;
    s->flip_num = num;
    s->flip_den = den ? den : 1;
}

void zn_disk_sim_job_delay(struct zn_disk *disk, uint64_t num, uint64_t den)
{
    struct zn_disk_sim *s = disk->ctx;
    s->delay_num = num;
    s->delay_den = den ? den : 1;
}

static struct inode *named(struct zn_disk_sim *s, const char *name)
{
    struct dent *e = dir_find(s->cur_dir, name);
    return e != NULL ? &s->inodes[e->ino] : NULL;
}

int zn_disk_sim_file_size(struct zn_disk *disk, const char *name, uint64_t *size)
{
    struct inode *in = named(disk->ctx, name);
    if (in == NULL) {
        return ZN_ENOENT;
    }
    *size = in->cur.size;
    return 0;
}

int zn_disk_sim_poke(struct zn_disk *disk, const char *name, uint64_t off, const void *buf,
                     size_t len)
{
    struct zn_disk_sim *s = disk->ctx;
    struct inode *in = named(s, name);
    if (in == NULL) {
        return ZN_ENOENT;
    }
    if (off + len > in->cur.size || off + len > in->dur.size) {
        return ZN_EINVAL;
    }
    memcpy(in->cur.buf + off, buf, len);
    memcpy(in->dur.buf + off, buf, len);
    return 0;
}

int zn_disk_sim_peek(struct zn_disk *disk, const char *name, uint64_t off, void *buf, size_t len)
{
    struct inode *in = named(disk->ctx, name);
    if (in == NULL) {
        return ZN_ENOENT;
    }
    if (off + len > in->cur.size) {
        return ZN_EINVAL;
    }
    memcpy(buf, in->cur.buf + off, len);
    return 0;
}

int zn_disk_sim_put(struct zn_disk *disk, const char *name, const void *buf, size_t len)
{
    struct zn_disk_sim *s = disk->ctx;
    if (strlen(name) >= ZN_DISK_NAME_MAX || name[0] == '\0') {
        return ZN_EINVAL;
    }
    struct dent *e = dir_find(s->cur_dir, name);
    int ino = -1;
    if (e != NULL) {
        ino = e->ino;
    } else {
        for (int i = 0; i < SIM_INODES; i++) {
            if (!s->inodes[i].used) {
                ino = i;
                break;
            }
        }
        if (ino < 0) {
            return ZN_ELIMIT;
        }
        s->inodes[ino].used = true;
        int rc = dir_set(s->cur_dir, name, ino);
        if (rc == 0) {
            rc = dir_set(s->dur_dir, name, ino);
        }
        if (rc != 0) {
            return rc;
        }
    }
    struct inode *in = &s->inodes[ino];
    pend_clear(s, in);
    in->cur.size = 0;
    if (image_write(s, &in->cur, 0, buf, len) != 0) {
        return ZN_ENOMEM;
    }
    return image_copy(s, &in->dur, &in->cur);
}

void zn_disk_sim_stats(struct zn_disk *disk, struct zn_disk_sim_stats *stats)
{
    struct zn_disk_sim *s = disk->ctx;
    *stats = s->stats;
    stats->bytes_used = used_bytes(s);
}
