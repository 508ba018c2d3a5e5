/*
 * node/auth.c - session identities and ZooKeeper's digest scheme (see auth.h).
 */
#include "node/auth.h"

#include <stdio.h>
#include <string.h>

#include "common/zn_err.h"
#include "store/auth.h"

/* ---- identities ----------------------------------------------------------------------------- */

void zn_auth_set_init(struct zn_auth_set *s)
{
    memset(s, 0, sizeof(*s));
}

static int auth_put(struct zn_auth_set *s, const char *scheme, const char *id, size_t id_len)
{
    if (id_len >= ZN_AUTH_ID_MAX || strlen(scheme) >= ZN_AUTH_SCHEME_MAX)
        return ZN_ELIMIT;
    for (uint32_t i = 0; i < s->count; i++)
        if (!strcmp(s->e[i].scheme, scheme) && strlen(s->e[i].id) == id_len &&
            !memcmp(s->e[i].id, id, id_len))
            return 0; /* already held */
    if (s->count == ZN_AUTH_IDS_MAX)
        return ZN_ELIMIT;
    struct zn_auth_ident *e = &s->e[s->count++];
    snprintf(e->scheme, sizeof(e->scheme), "%s", scheme);
    memcpy(e->id, id, id_len);
    e->id[id_len] = '\0';
    return 0;
}

int zn_auth_add_ip(struct zn_auth_set *s, uint32_t ip)
{
    char a[16];
    int n = snprintf(a, sizeof(a), "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255u, (ip >> 8) & 255u,
                     ip & 255u);
    return auth_put(s, "ip", a, (size_t)n);
}

int zn_auth_add(struct zn_auth_set *s, const char *scheme, size_t scheme_len, const uint8_t *cert,
                size_t cert_len)
{
    if (scheme_len == 6 && !memcmp(scheme, "digest", 6)) {
        char id[ZN_AUTH_ID_MAX];
        size_t len = 0;
        const char *colon = cert_len ? memchr(cert, ':', cert_len) : NULL;
        if (!colon || colon == (const char *)cert ||
            zn_auth_digest_identity((const char *)cert, cert_len, id, sizeof(id), &len) != 0)
            return ZN_EAUTHFAILED; /* no "user:", or a user name too long for an id */
        return auth_put(s, "digest", id, len);
    }
    return ZN_EAUTHFAILED;
}

uint32_t zn_auth_identities(const struct zn_auth_set *s, struct zn_identity *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->count && n < max; i++, n++) {
        out[n].scheme =
            (struct zn_str){.ptr = s->e[i].scheme, .len = (uint32_t)strlen(s->e[i].scheme)};
        out[n].id = (struct zn_str){.ptr = s->e[i].id, .len = (uint32_t)strlen(s->e[i].id)};
    }
    return n;
}
