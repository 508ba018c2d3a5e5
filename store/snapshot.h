/*
 * store/snapshot.h - consistent snapshots of the tree taken while apply keeps running.
 *
 * Method (versioned copy-on-write, no write stall): zn_snapshot_begin (writer) fixes the
 * snapshot zxid S = the applied zxid, copies the sessions and the exactly-once table (small) and
 * turns on version retention. From then on the writer keeps, instead of retiring, every znode
 * version that was current at S (vzxid <= S) on the new version's prev chain, and puts every
 * deleted znode that existed at S on a tombstone list. zn_snapshot_write (a QSBR reader thread,
 * online for the whole write) walks the hash table and then the tombstones, and for each znode
 * emits the newest version with vzxid <= S (skipping znodes created after S and tombstones it
 * already emitted). Because every version needed is kept, the image is exactly the tree after
 * entry S - not a fuzzy one - so loading it and applying entries S+1.. reproduces the live tree
 * (tests/store/test_snapshot.c proves it by digest). zn_snapshot_end (writer) stops the
 * retention; the kept versions and tombstones are then released a few at a time after each
 * apply (zn_store_maintain), so ending a snapshot does not stall writes either. Memory retained
 * = the versions replaced during the snapshot, until released.
 *
 * Stream format (big-endian), checksummed with CRC32C:
 *   "ZNSNAP\0\1", u32 version=2, u32 flags=0, u64 zxid, u64 digest, u64 znodes, u64 sessions,
 *   sessions x {u64 id, u32 timeout_ms, 16 B passwd, u8 has_last, i32 last_cxid, blob32 reply},
 *   znodes x {u8 1, str32 path, stat, data, u16 nacl, nacl x {u32 perms, str16 scheme,
 *   str16 id}}, u8 0, u64 znodes, u32 crc32c(all preceding bytes).
 *   data: u32 length + bytes, or u32 0xffffffff alone for null data (the Stat's dataLength is
 *   0 then). Version 1, still loaded, is the same without null data: there 0xffffffff is a
 *   length (over the limit, so the image is refused as corrupt). Replies kept for exactly-once
 *   use store/reply.h's encoding, which only gained values, so version 1 replies decode.
 */
#ifndef ZN_STORE_SNAPSHOT_H
#define ZN_STORE_SNAPSHOT_H

#include "store/store.h"

#define ZN_SNAPSHOT_VERSION     2u
#define ZN_SNAPSHOT_VERSION_MIN 1u /* oldest version zn_snapshot_load still reads */

struct zn_snapshot;

/* Sink: write all len bytes; 0 or a negative ZN_E* code. */
typedef int (*zn_snap_write_fn)(void *ctx, const void *buf, size_t len);
/* Source: read up to len bytes; returns bytes read (0 at the end) or a negative ZN_E* code. */
typedef long (*zn_snap_read_fn)(void *ctx, void *buf, size_t len);

/*
 * Start a snapshot at the applied zxid. ZN_EBUSY if one is running or the previous one is still
 * being released (zn_store_maintain). Context: writer.
 */
int zn_snapshot_begin(struct zn_store *s, struct zn_snapshot **out);

/*
 * Stream the snapshot through fn. Context: reader (online for the whole call; its quiescent
 * states are deferred, so reclamation waits until it returns). May run concurrently with
 * zn_store_apply. Errors: the sink's code, ZN_ENOMEM, ZN_EINCONSISTENT (internal check).
 */
int zn_snapshot_write(struct zn_snapshot *snap, zn_snap_write_fn fn, void *ctx);

/* Finish (after zn_snapshot_write returned, successfully or not). Context: writer. */
void zn_snapshot_end(struct zn_store *s, struct zn_snapshot *snap);

uint64_t zn_snapshot_zxid(const struct zn_snapshot *snap);
uint64_t zn_snapshot_digest(const struct zn_snapshot *snap);

/*
 * Build a new tree from a snapshot stream. Validates everything (magic, version, lengths,
 * limits, paths, parent links, child counts, ephemeral owners, digest, CRC) before the tree is
 * returned. Errors: ZN_EVERSION, ZN_ECORRUPT, ZN_ENOMEM, or the source's code. Context: writer
 * thread (registered, online).
 */
int zn_snapshot_load(const struct zn_store_config *cfg, zn_snap_read_fn fn, void *ctx,
                     struct zn_store **out);

#endif /* ZN_STORE_SNAPSHOT_H */
