/*
 * codec.h - the wire form of Raft messages (peer protocol payload, DESIGN.md section 8).
 *
 * Layout, all integers big-endian (version 1):
 *   header  u8 version, u8 type, u8 from, u8 to, u8 flags (bit 0 reject, bit 1 last),
 *           u8[3] zero, u64 term, index, log_term, commit, hint, ctx, offset      (64 bytes)
 *   APPEND  u32 n_entries, then per entry: u64 term, u8 type, u32 len, len bytes
 *           (entry indexes are implied: index + 1 + i)
 *   SNAPSHOT u8 n_voters, voters, u8 n_learners, learners, u32 len, len bytes
 *   other types: no body.
 *
 * Decoding validates untrusted bytes completely (version, type, ids, flags, reserved bytes,
 * entry types, terms not above the message term and not decreasing, lengths, configuration,
 * exact total length) and allocates nothing: entries go into the caller's array and their data
 * (and a snapshot chunk) point into the input buffer, which must outlive the message.
 *
 * Context: any thread; no state.
 */
#ifndef ZN_RAFT_CODEC_H
#define ZN_RAFT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "consensus/raft.h"

#define ZN_RAFT_CODEC_VERSION      1u
#define ZN_RAFT_CODEC_HEADER_SIZE  64u
#define ZN_RAFT_CODEC_ENTRY_HEADER 13u

/* Bytes the encoding of m takes. */
size_t zn_raft_msg_encoded_size(const struct zn_raft_msg *m);

/* Encode m into buf[0..cap); *len = bytes written. 0, ZN_ELIMIT (cap too small) or ZN_EINVAL. */
int zn_raft_msg_encode(const struct zn_raft_msg *m, uint8_t *buf, size_t cap, size_t *len);

/*
 * Decode buf[0..len) into *m, entries into entries[0..entries_max). Returns 0, ZN_EVERSION
 * (unknown version), ZN_ELIMIT (more entries than entries_max) or ZN_EPROTO (malformed).
 */
int zn_raft_msg_decode(struct zn_raft_msg *m, struct zn_raft_entry *entries, uint32_t entries_max,
                       const uint8_t *buf, size_t len);

#endif /* ZN_RAFT_CODEC_H */
