/*
 * snapfile.h - snapshot files: the byte stream of a tree snapshot, made durable and verified.
 *
 * The tree's serializer (store/ snapshot serialization, another module) produces bytes through
 * zn_snapfile_sink (signature int (*)(void *ctx, const void *buf, size_t len)); this layer frames
 * them: header (identity, last included index and term), body, trailer (body length, CRC32C).
 * Writing: temporary name -> data -> fdatasync -> rename -> directory fsync, then the retention
 * of the newest K files. Only after zn_snapfile_commit returns 0 is the snapshot durable and may
 * the log be compacted behind it (zn_wal_compact).
 * Reading: zn_snapfile_latest finds the newest file whose header, trailer and body checksum all
 * verify (a damaged newer file is skipped and reported); zn_snapfile_read streams the body to a
 * reader callback, verifying the CRC again, and returns ZN_ECORRUPT at the end if it changed (the
 * consumer must then discard what it built).
 *
 * Context: the management core (synchronous I/O; never a poll loop). fdatasync EIO is fail-stop.
 */
#ifndef ZN_SNAPFILE_H
#define ZN_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "store/disk.h"

#define ZN_SNAPFILE_HEADER_BYTES  64u
#define ZN_SNAPFILE_TRAILER_BYTES 32u

typedef int (*zn_snapfile_io_fn)(void *ctx, const void *buf, size_t len);

struct zn_snapfile_info {
    uint64_t index; /* last log index included */
    uint64_t term;
    uint64_t body_bytes;
    char name[ZN_DISK_NAME_MAX];
};

struct zn_snapfile_writer {
    struct zn_disk *disk;
    int fd;
    uint64_t cluster_id;
    uint32_t node_id;
    uint32_t retain;
    uint64_t index, term;
    uint8_t *buf; /* caller's staging buffer */
    size_t cap;
    size_t fill;
    uint64_t off;
    uint64_t body_bytes;
    uint32_t crc;
    int err; /* first error: later sink calls fail with it */
    char tmp[ZN_DISK_NAME_MAX];
    char name[ZN_DISK_NAME_MAX];
};

/*
 * Start snapshot (index, term). buf/cap: staging buffer (>= 4 KiB) owned by the caller until
 * commit/abort. retain: how many snapshot files to keep (1..ZN_SNAPFILE_RETAIN_MAX).
 */
int zn_snapfile_begin(struct zn_snapfile_writer *sw, struct zn_disk *disk, uint64_t cluster_id,
                      uint32_t node_id, uint64_t index, uint64_t term, uint32_t retain, void *buf,
                      size_t cap);
/* The writer callback handed to the serializer (ctx = the writer). 0 or ZN_ENOSPC/ZN_EIO. */
int zn_snapfile_sink(void *ctx, const void *buf, size_t len);
/* Make it durable and apply retention; info describes the new file. On error the temporary
 * file is removed and nothing changed. */
int zn_snapfile_commit(struct zn_snapfile_writer *sw, struct zn_snapfile_info *info);
void zn_snapfile_abort(struct zn_snapfile_writer *sw);

/* Newest verified snapshot: 0, ZN_ENOENT (none at all), ZN_ECLUSTER, ZN_ECORRUPT (files exist
 * but none verifies); rep says which file was skipped or why. buf: scratch (>= 4 KiB). */
int zn_snapfile_latest(struct zn_disk *disk, uint64_t cluster_id, uint32_t node_id, void *buf,
                       size_t cap, struct zn_snapfile_info *info, struct zn_disk_report *rep);
/* Stream the body of info's file to fn in chunks of at most cap bytes. */
int zn_snapfile_read(struct zn_disk *disk, const struct zn_snapfile_info *info, void *buf,
                     size_t cap, zn_snapfile_io_fn fn, void *ctx, struct zn_disk_report *rep);

#endif /* ZN_SNAPFILE_H */
