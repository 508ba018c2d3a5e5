/*
 * store/auth.c - digest identity helper (see auth.h); ZooKeeper's
 * DigestAuthenticationProvider.generateDigest.
 */
#include "store/auth.h"

#include <openssl/evp.h>
#include <string.h>

#include "common/zn_err.h"

int zn_auth_digest_identity(const char *cred, size_t cred_len, char *out, size_t cap,
                            size_t *out_len)
{
    const char *colon = memchr(cred, ':', cred_len);
    if (!colon)
        return ZN_EINVAL;
    size_t user_len = (size_t)(colon - cred);
    if (cap < user_len + 1 + 28 + 1)
        return ZN_ELIMIT;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(cred, cred_len, md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        return ZN_ESYSTEM;
    memcpy(out, cred, user_len);
    out[user_len] = ':';
    int n = EVP_EncodeBlock((unsigned char *)out + user_len + 1, md, (int)md_len);
    if (n != 28)
        return ZN_ESYSTEM;
    out[user_len + 1 + 28] = '\0';
    *out_len = user_len + 1 + 28;
    return 0;
}
