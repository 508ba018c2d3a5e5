/*
 * store/acl.c - ACL validation (ZooKeeper PrepRequestProcessor.fixupACL), permission checks
 * (ZooKeeperServer.checkACL) and path validation (PathUtils.validatePath).
 *
 * Schemes: world (only "anyone"), auth (expanded at create/setACL time into the requester's
 * authenticated identities: digest and other non-ip schemes, as ZooKeeper's isAuthenticated()),
 * digest ("user:hash", exactly one ':'), ip ("addr" or "addr/bits", IPv4 or IPv6). A requester
 * holding the identity ("super", ...) passes every check, as ZooKeeper's superDigest user does.
 * Context: any (pure functions of their arguments).
 */
#include <arpa/inet.h>
#include <string.h>

#include "common/zn_limits.h"
#include "store/internal.h"

static bool str_eq(struct zn_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool strs_equal(struct zn_str a, struct zn_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Parse "addr[/bits]" into 16 address bytes (IPv4 mapped into the first 4) and a prefix. */
static bool ip_parse(struct zn_str s, bool allow_bits, uint8_t addr[16], int *family, int *bits)
{
    char buf[64];
    if (s.len == 0 || s.len >= sizeof(buf))
        return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    char *slash = memchr(buf, '/', s.len);
    int b = -1;
    if (slash) {
        if (!allow_bits || slash[1] == '\0')
            return false;
        *slash = '\0';
        b = 0;
        for (char *p = slash + 1; *p; p++) {
            if (*p < '0' || *p > '9' || b > 128)
                return false;
            b = b * 10 + (*p - '0');
        }
    }
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        if (b > 32)
            return false;
        *bits = b < 0 ? 32 : b;
        return true;
    }
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        if (b > 128)
            return false;
        *bits = b < 0 ? 128 : b;
        return true;
    }
    return false;
}

static bool ip_matches(struct zn_str acl_id, struct zn_str client)
{
    uint8_t a[16], c[16];
    int fa, fc, ba, bc;
    if (!ip_parse(acl_id, true, a, &fa, &ba) || !ip_parse(client, false, c, &fc, &bc) || fa != fc)
        return false;
    for (int i = 0; i < ba; i++) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((a[byte] >> bit) & 1) != ((c[byte] >> bit) & 1))
            return false;
    }
    return true;
}

static bool digest_valid(struct zn_str id)
{
    /* Java's id.split(":").length == 2: exactly one ':' and a non-empty second part */
    const char *colon = memchr(id.ptr, ':', id.len);
    if (!colon || colon == id.ptr + id.len - 1)
        return false;
    return memchr(colon + 1, ':', id.len - (uint32_t)(colon + 1 - id.ptr)) == NULL;
}

static bool acl_entry_equal(const struct zn_acl_entry *a, const struct zn_acl_entry *b)
{
    return a->perms == b->perms && strs_equal(a->scheme, b->scheme) && strs_equal(a->id, b->id);
}

int zn_acl_fixup(const struct zn_acl_entry *in, uint32_t n, const struct zn_identity *ids,
                 uint32_t id_count, struct zn_acl_entry *out, uint32_t *out_n)
{
    uint32_t k = 0;
    if (n == 0 || n > ZN_STORE_ACL_ENTRIES_MAX)
        return ZN_EINVALIDACL;
    for (uint32_t i = 0; i < n; i++) {
        bool dup = false;
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = acl_entry_equal(&in[i], &in[j]);
        if (dup)
            continue;
        const struct zn_acl_entry *a = &in[i];
        if (str_eq(a->scheme, "world") && str_eq(a->id, "anyone")) {
            if (k == ZN_STORE_ACL_ENTRIES_MAX)
                return ZN_EINVALIDACL;
            out[k++] = *a;
        } else if (str_eq(a->scheme, "auth")) {
            bool any = false;
            for (uint32_t j = 0; j < id_count; j++) {
                if (str_eq(ids[j].scheme, "ip") || str_eq(ids[j].scheme, "super"))
                    continue; /* ip is not an "authenticated" provider in ZooKeeper */
                if (k == ZN_STORE_ACL_ENTRIES_MAX)
                    return ZN_EINVALIDACL;
                out[k++] = (struct zn_acl_entry){a->perms, ids[j].scheme, ids[j].id};
                any = true;
            }
            if (!any)
                return ZN_EINVALIDACL;
        } else if (str_eq(a->scheme, "digest")) {
            if (!digest_valid(a->id) || k == ZN_STORE_ACL_ENTRIES_MAX)
                return ZN_EINVALIDACL;
            out[k++] = *a;
        } else if (str_eq(a->scheme, "ip")) {
            uint8_t addr[16];
            int fam, bits;
            if (!ip_parse(a->id, true, addr, &fam, &bits) || k == ZN_STORE_ACL_ENTRIES_MAX)
                return ZN_EINVALIDACL;
            out[k++] = *a;
        } else {
            return ZN_EINVALIDACL;
        }
    }
    *out_n = k;
    return 0;
}

bool zn_acl_check(const struct zn_acl_entry *acl, uint32_t acl_count, uint32_t perm,
                  const struct zn_identity *ids, uint32_t id_count)
{
    if (acl_count == 0)
        return true;
    for (uint32_t j = 0; j < id_count; j++)
        if (str_eq(ids[j].scheme, "super"))
            return true;
    for (uint32_t i = 0; i < acl_count; i++) {
        const struct zn_acl_entry *a = &acl[i];
        if ((a->perms & perm) == 0)
            continue;
        if (str_eq(a->scheme, "world") && str_eq(a->id, "anyone"))
            return true;
        for (uint32_t j = 0; j < id_count; j++) {
            if (!strs_equal(ids[j].scheme, a->scheme))
                continue;
            if (str_eq(a->scheme, "ip") ? ip_matches(a->id, ids[j].id)
                                        : strs_equal(a->id, ids[j].id))
                return true;
        }
    }
    return false;
}

bool zn_acl_allows(const struct zn_acl *acl, uint32_t perm, const struct zn_identity *ids,
                   uint32_t id_count)
{
    return acl ? zn_acl_check(acl->e, acl->count, perm, ids, id_count) : true;
}

/* Next UTF-8 code point at p[*i]; -1 when malformed. */
static int32_t utf8_next(const unsigned char *p, uint32_t len, uint32_t *i)
{
    unsigned c = p[*i];
    int n;
    int32_t cp, min;
    if (c < 0x80) {
        (*i)++;
        return (int32_t)c;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (*i + (uint32_t)n >= len)
        return -1;
    for (int k = 1; k <= n; k++) {
        unsigned cc = p[*i + (uint32_t)k];
        if ((cc & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (int32_t)(cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff)
        return -1;
    *i += (uint32_t)n + 1;
    return cp;
}

int zn_path_validate(const char *path, uint32_t len)
{
    const unsigned char *p = (const unsigned char *)path;
    if (!path || len == 0 || len > ZN_PATH_LEN_MAX || p[0] != '/')
        return ZN_EBADARGUMENTS;
    if (len == 1)
        return 0;
    if (p[len - 1] == '/')
        return ZN_EBADARGUMENTS;
    uint32_t i = 1;
    while (i < len) {
        uint32_t at = i;
        int32_t c = utf8_next(p, len, &i);
        if (c <= 0)
            return ZN_EBADARGUMENTS; /* NUL or malformed UTF-8 */
        if (c == '/' && p[at - 1] == '/')
            return ZN_EBADARGUMENTS; /* empty node name */
        if (c == '.' && p[at - 1] == '/') {
            uint32_t end = at + 1;
            if (end < len && p[end] == '.')
                end++;
            if (end == len || p[end] == '/')
                return ZN_EBADARGUMENTS; /* "." or ".." component */
        }
        if ((c >= 0x01 && c <= 0x1f) || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) ||
            c >= 0xfff0)
            return ZN_EBADARGUMENTS; /* c >= 0x10000 is a surrogate pair in Java: refused too */
    }
    return 0;
}
