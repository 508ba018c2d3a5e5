/*
 * node/auth.h - the identities of a client session (ZooKeeper's addAuth), reusable by every
 * client front end of zincd (the native protocol here, the ZooKeeper TCP port in node/zkport*).
 *
 * A set holds up to ZN_AUTH_IDS_MAX (scheme, id) pairs, as the store's ACL checks take them
 * (store/types.h struct zn_identity via zn_auth_identities):
 *   - ip:     the client's address, added by the front end when the connection starts
 *             (ZooKeeper gives every connection its ip identity);
 *   - digest: addAuth("digest", "user:password") adds digest:user:base64(sha1("user:password")),
 *             ZooKeeper's DigestAuthenticationProvider id, so ACLs written for ZooKeeper
 *             (`digest:alice:<hash>`) match unchanged.
 * Any other scheme, or a digest credential without "user:", is refused with ZN_EAUTHFAILED
 * (ZooKeeper answers AUTHFAILED and the client's state becomes AUTH_FAILED). Adding an identity
 * the set already holds is a no-op (a retransmitted addAuth).
 *
 * API (any thread, no allocation, no shared state):
 *   zn_auth_set_init(set)                      empty set
 *   zn_auth_add_ip(set, ip)                    ip:a.b.c.d (host-order IPv4)
 *   zn_auth_add(set, scheme, cert, cert_len)   addAuth; 0, ZN_EAUTHFAILED or ZN_ELIMIT (full)
 *   zn_auth_identities(set, out, max)          the set as store identities (pointing into set)
 * The digest itself is store/auth.h zn_auth_digest_identity (libcrypto).
 */
#ifndef ZN_NODE_AUTH_H
#define ZN_NODE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/zn_limits.h"
#include "store/types.h"

/* Identities per session: ip plus a few addAuth calls (ZooKeeper clients add one or two). */
#define ZN_AUTH_IDS_MAX    8u
#define ZN_AUTH_SCHEME_MAX 16u
/* A digest id is "user:" + 28 base64 characters; users up to 200 bytes. */
#define ZN_AUTH_ID_MAX 232u
_Static_assert(ZN_AUTH_IDS_MAX <= ZN_STORE_IDENTITIES_MAX, "a set fits an entry's identities");
_Static_assert(ZN_AUTH_IDS_MAX <= ZN_NODE_FWD_IDS_MAX, "a set fits a forwarded write");

struct zn_auth_ident {
    char scheme[ZN_AUTH_SCHEME_MAX];
    char id[ZN_AUTH_ID_MAX];
};

struct zn_auth_set {
    uint32_t count;
    struct zn_auth_ident e[ZN_AUTH_IDS_MAX];
};

void zn_auth_set_init(struct zn_auth_set *s);
int zn_auth_add_ip(struct zn_auth_set *s, uint32_t ip);
int zn_auth_add(struct zn_auth_set *s, const char *scheme, size_t scheme_len, const uint8_t *cert,
                size_t cert_len);
uint32_t zn_auth_identities(const struct zn_auth_set *s, struct zn_identity *out, uint32_t max);

#endif /* ZN_NODE_AUTH_H */
