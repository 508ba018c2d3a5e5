/*
 * zn_crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI
 * (RFC 3720), ext4 and most storage formats. Every checksum zinc writes to disk or to the wire is
 * this one.
 *
 * zn_crc32c(crc, buf, len) continues a running checksum: start with crc = 0, and
 * zn_crc32c(zn_crc32c(0, a), b) == zn_crc32c(0, a || b). The SSE4.2 instruction is used when the
 * CPU has it (checked at run time); the portable slicing-by-8 fallback gives identical results.
 *
 * Context: any thread; no state.
 */
#ifndef ZN_CRC32C_H
#define ZN_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t zn_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, exposed so tests can prove they agree. */
uint32_t zn_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Hardware path (three interleaved crc32 chains on long inputs); falls back to software when the
 * CPU lacks SSE4.2. */
uint32_t zn_crc32c_hw(uint32_t crc, const void *buf, size_t len);
/* Hardware, one dependent chain: the reference the tests and the benchmark compare with. */
uint32_t zn_crc32c_hw_serial(uint32_t crc, const void *buf, size_t len);
bool zn_crc32c_hw_available(void);

#endif /* ZN_CRC32C_H */
