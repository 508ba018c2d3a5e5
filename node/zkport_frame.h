/*
 * zkport_frame.h - TCP framing of the ZooKeeper port (node/zkport.c): what the bytes at the
 * start of a connection's read buffer are. Pure (no state, no allocation), so that the fuzz
 * target tests/fuzz/fuzz_zk_tcp.c runs exactly the code the port runs.
 *
 * Every ZooKeeper message is int32 length + payload (shared/zk-protocol.md "Encoding"). The
 * first message of a connection is a ConnectRequest (44 or 45 bytes), or a four-letter word
 * (four ASCII bytes, no length) that ZooKeeper tells apart by its first four bytes.
 */
#ifndef ZN_NODE_ZKPORT_FRAME_H
#define ZN_NODE_ZKPORT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ConnectRequest is 44 or 45 bytes; a first frame longer than this is not ZooKeeper. */
#define ZN_ZKPORT_CONNECT_BYTES_MAX 64u

enum zn_zkport_scan {
    ZN_ZKPORT_SCAN_MORE = 0,      /* incomplete: read more */
    ZN_ZKPORT_SCAN_FRAME = 1,     /* a whole frame: *flen payload bytes after the length */
    ZN_ZKPORT_SCAN_OVERSIZED = 2, /* longer than frame_max (*flen); its RequestHeader is in */
    ZN_ZKPORT_SCAN_WORD = 3,      /* a four-letter word (*word indexes zn_zkport_words) */
    ZN_ZKPORT_SCAN_BAD = 4,       /* not ZooKeeper (negative or absurd length): close */
};

extern const char *const zn_zkport_words[];
#define ZN_ZKPORT_N_WORDS 9u

/* Classify p[0..len). handshake: the connection's first message. */
enum zn_zkport_scan zn_zkport_scan(const uint8_t *p, size_t len, bool handshake, uint32_t frame_max,
                                   uint32_t *flen, unsigned *word);

/* Parse a comma-separated allow-list ("*": all) into a bit mask over zn_zkport_words. 0 or
 * ZN_EINVAL (an unknown word). */
int zn_zkport_words_parse(const char *list, uint32_t *mask);

#endif /* ZN_NODE_ZKPORT_FRAME_H */
