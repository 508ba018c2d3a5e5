/*
 * zkport_ring.h - a bounded single-producer single-consumer message ring between the ZooKeeper
 * TCP port's thread and the data-plane lcore (STYLE.md 5: stages talk through bounded rings).
 *
 * Records are {u32 len, u16 conn, u16 reserved, len bytes}, 8-byte aligned, in a byte buffer of
 * a power-of-two size; a record that would cross the end is preceded by a wrap marker and starts
 * at offset 0. head (consumer) and tail (producer) are byte positions that only grow; the
 * producer publishes a record with a release store of tail, the consumer frees it with a release
 * store of head (C11 acquire/release: the bytes are visible before the position).
 *
 * A full ring is backpressure: push returns ZN_EFULL and writes nothing; the caller counts it
 * (the native protocol's retransmissions repair a dropped message).
 *
 * Context: one producer thread and one consumer thread per ring; init/destroy before/after.
 */
#ifndef ZN_NODE_ZKPORT_RING_H
#define ZN_NODE_ZKPORT_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct zn_zkring {
    uint8_t *buf;
    uint64_t cap;     /* power of two */
    uint64_t rec_max; /* largest payload accepted */
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Atomic uint64_t full; /* pushes refused */
};

/* cap_bytes is rounded up to a power of two; rec_max must leave room for two records. 0,
 * ZN_EINVAL or ZN_ENOMEM. */
int zn_zkring_init(struct zn_zkring *r, uint64_t cap_bytes, uint64_t rec_max);
void zn_zkring_destroy(struct zn_zkring *r);

/* Producer: one record of a||b for connection conn. 0, ZN_EFULL (no room now) or ZN_ELIMIT
 * (longer than rec_max). */
int zn_zkring_push(struct zn_zkring *r, uint16_t conn, const void *a, size_t a_len, const void *b,
                   size_t b_len);

/* Consumer: the oldest record (a view valid until zn_zkring_pop); 0 when empty, else 1. */
int zn_zkring_peek(struct zn_zkring *r, uint16_t *conn, const uint8_t **data, uint32_t *len);
void zn_zkring_pop(struct zn_zkring *r);

#endif /* ZN_NODE_ZKPORT_RING_H */
