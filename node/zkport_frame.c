/*
 * zkport_frame.c - the ZooKeeper port's TCP framing (zkport_frame.h).
 */
#include "node/zkport_frame.h"

#include <string.h>

#include "common/zn_err.h"
#include "common/zn_limits.h"

const char *const zn_zkport_words[ZN_ZKPORT_N_WORDS] = {"ruok", "srvr", "stat", "mntr", "conf",
                                                        "cons", "wchs", "dirs", "isro"};

enum zn_zkport_scan zn_zkport_scan(const uint8_t *p, size_t len, bool handshake, uint32_t frame_max,
                                   uint32_t *flen, unsigned *word)
{
    if (len < 4)
        return ZN_ZKPORT_SCAN_MORE;
    if (handshake)
        for (unsigned i = 0; i < ZN_ZKPORT_N_WORDS; i++)
            if (!memcmp(p, zn_zkport_words[i], 4)) {
                *word = i;
                return ZN_ZKPORT_SCAN_WORD;
            }
    uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    *flen = n;
    if (handshake && n > ZN_ZKPORT_CONNECT_BYTES_MAX)
        return ZN_ZKPORT_SCAN_BAD;
    if (n > frame_max) {
        if (n > ZN_ZKPORT_FRAME_SKIP_BYTES_MAX)
            return ZN_ZKPORT_SCAN_BAD; /* also every negative int32 */
        return len < 12 ? ZN_ZKPORT_SCAN_MORE : ZN_ZKPORT_SCAN_OVERSIZED;
    }
    return len - 4 < n ? ZN_ZKPORT_SCAN_MORE : ZN_ZKPORT_SCAN_FRAME;
}

int zn_zkport_words_parse(const char *list, uint32_t *mask)
{
    *mask = 0;
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        bool found = false;
        if (n == 1 && *p == '*') {
            *mask = (1u << ZN_ZKPORT_N_WORDS) - 1;
            found = true;
        }
        for (unsigned i = 0; i < ZN_ZKPORT_N_WORDS && !found; i++)
            if (n == 4 && !memcmp(p, zn_zkport_words[i], 4)) {
                *mask |= 1u << i;
                found = true;
            }
        if (!found)
            return ZN_EINVAL;
        p = e;
    }
    return 0;
}
