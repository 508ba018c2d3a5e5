/*
 * store/auth.h - turning credentials into the identities that ACLs compare.
 *
 * ZooKeeper's server hashes `addauth digest user:password` into the identity
 * ("digest", "user:" + base64(sha1("user:password"))). This happens where the auth packet is
 * received (the session's connection), never in apply: apply only compares identities.
 * SHA-1 and base64 come from OpenSSL's libcrypto (no home-made crypto).
 * Context: any thread.
 */
#ifndef ZN_STORE_AUTH_H
#define ZN_STORE_AUTH_H

#include <stddef.h>

/* Bytes zn_auth_digest_identity writes at most for a credential of cred_len bytes. */
#define ZN_AUTH_DIGEST_ID_MAX(cred_len) ((cred_len) + 29u + 1u)

/*
 * cred = "user:password" (cred_len bytes). Writes "user:base64(sha1(cred))" NUL-terminated to
 * out (capacity cap), *out_len = its length. Errors: ZN_EINVAL (no ':' in cred), ZN_ELIMIT (out
 * too small), ZN_ESYSTEM (libcrypto failure).
 */
int zn_auth_digest_identity(const char *cred, size_t cred_len, char *out, size_t cap,
                            size_t *out_len);

#endif /* ZN_STORE_AUTH_H */
