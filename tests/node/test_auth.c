/*
 * test_auth.c - session identities (node/auth.h): ZooKeeper's digest ids, the ip identity,
 * refusals, duplicates and the capacity.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/zn_err.h"
#include "node/auth.h"

static int add(struct zn_auth_set *s, const char *scheme, const char *cert)
{
    return zn_auth_add(s, scheme, strlen(scheme), (const uint8_t *)cert, strlen(cert));
}

Test(auth, digest_matches_zookeeper_and_ip_is_dotted)
{
    struct zn_auth_set s;
    zn_auth_set_init(&s);
    cr_assert_eq(zn_auth_add_ip(&s, 0x7f000001u), 0);
    /* DigestAuthenticationProvider.generateDigest("super:admin") */
    cr_assert_eq(add(&s, "digest", "super:admin"), 0);
    struct zn_identity ids[ZN_AUTH_IDS_MAX];
    uint32_t n = zn_auth_identities(&s, ids, ZN_AUTH_IDS_MAX);
    cr_assert_eq(n, 2);
    cr_assert(ids[0].scheme.len == 2 && !memcmp(ids[0].scheme.ptr, "ip", 2));
    cr_assert(ids[0].id.len == 9 && !memcmp(ids[0].id.ptr, "127.0.0.1", 9));
    const char *want = "super:xQJmxLMiHGwaqBvst5y6rkB6HQs=";
    cr_assert(ids[1].scheme.len == 6 && !memcmp(ids[1].scheme.ptr, "digest", 6));
    cr_assert(ids[1].id.len == strlen(want) && !memcmp(ids[1].id.ptr, want, strlen(want)), "%.*s",
              (int)ids[1].id.len, ids[1].id.ptr);
}

Test(auth, refusals_duplicates_and_capacity)
{
    struct zn_auth_set s;
    zn_auth_set_init(&s);
    cr_assert_eq(add(&s, "sasl", "x"), ZN_EAUTHFAILED, "unknown scheme");
    cr_assert_eq(add(&s, "digest", "nocolon"), ZN_EAUTHFAILED);
    cr_assert_eq(add(&s, "digest", ":pw"), ZN_EAUTHFAILED, "empty user");
    cr_assert_eq(s.count, 0);
    cr_assert_eq(add(&s, "digest", "a:b"), 0);
    cr_assert_eq(add(&s, "digest", "a:b"), 0, "a retransmitted addAuth");
    cr_assert_eq(s.count, 1);
    char cred[16];
    for (unsigned i = 1; i < ZN_AUTH_IDS_MAX; i++) {
        snprintf(cred, sizeof(cred), "u%u:p", i);
        cr_assert_eq(add(&s, "digest", cred), 0);
    }
    cr_assert_eq(add(&s, "digest", "one:more"), ZN_ELIMIT);
    struct zn_identity ids[2];
    cr_assert_eq(zn_auth_identities(&s, ids, 2), 2, "bounded by the caller's array");
}
