/*
 * Fuzz target: libzinc's decoding of reply bodies from the node (untrusted input) for every
 * result type - stat, data, string vectors (with chroot stripping), create/sync paths, ACL
 * lists, int, multi and multiRead results, whoAmI - through zn_ops_complete, with completions
 * that read every result they are given. Input: byte 0 selects the result type, byte 1 the
 * op count of a multi (0..15) and whether a chroot is set, the rest is the reply body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/zn_client_internal.h"
#include "common/zn_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t zn_fuzz_sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        zn_fuzz_sink += b[i];
}

static void touch_str(const char *s)
{
    if (s)
        touch(s, strlen(s));
}

static void touch_strings(const struct zn_strings *s)
{
    for (int32_t i = 0; s && i < s->count; i++)
        touch_str(s->data[i]);
}

static void cb_void(int rc, const void *d)
{
    (void)rc;
    (void)d;
}

static void cb_stat(int rc, const struct zn_stat *st, const void *d)
{
    (void)d;
    if (rc == 0)
        touch(st, sizeof(*st));
}

static void cb_data(int rc, const char *v, int32_t len, const struct zn_stat *st, const void *d)
{
    (void)d;
    if (rc == 0 && len > 0)
        touch(v, (size_t)len);
    if (rc == 0)
        touch(st, sizeof(*st));
}

static void cb_strings(int rc, const struct zn_strings *s, const void *d)
{
    (void)d;
    if (rc == 0)
        touch_strings(s);
}

static void cb_strings_stat(int rc, const struct zn_strings *s, const struct zn_stat *st,
                            const void *d)
{
    (void)d;
    if (rc == 0) {
        touch_strings(s);
        touch(st, sizeof(*st));
    }
}

static void cb_string(int rc, const char *v, const void *d)
{
    (void)d;
    if (rc == 0)
        touch_str(v);
}

static void cb_string_stat(int rc, const char *v, const struct zn_stat *st, const void *d)
{
    (void)d;
    if (rc == 0) {
        touch_str(v);
        touch(st, sizeof(*st));
    }
}

static void cb_acl(int rc, const struct zn_acl_vec *acl, const struct zn_stat *st, const void *d)
{
    (void)d;
    for (int32_t i = 0; rc == 0 && i < acl->count; i++) {
        touch_str(acl->data[i].scheme);
        touch_str(acl->data[i].id);
    }
    if (rc == 0)
        touch(st, sizeof(*st));
}

static void cb_int(int rc, int32_t v, const void *d)
{
    (void)d;
    zn_fuzz_sink += (size_t)rc + (size_t)v;
}

static void cb_multi(int rc, int count, const struct zn_op_result *res, const void *d)
{
    (void)rc;
    (void)d;
    for (int i = 0; i < count; i++) {
        touch_str(res[i].path);
        if (res[i].data && res[i].data_len > 0)
            touch(res[i].data, (size_t)res[i].data_len);
        touch_strings(&res[i].children);
    }
}

static void cb_whoami(int rc, const struct zn_client_infos *w, const void *d)
{
    (void)d;
    for (int32_t i = 0; rc == 0 && i < w->count; i++) {
        touch_str(w->data[i].scheme);
        touch_str(w->data[i].user);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static zn_handle *zh;
    if (zh == NULL) {
        zh = calloc(1, sizeof(*zh));
        ZN_ASSERT(zh != NULL);
        zn_watch_init(&zh->watches);
    }
    if (data[1] & 0x80) {
        memcpy(zh->chroot, "/app", 5);
        zh->chroot_len = 4;
    } else {
        zh->chroot[0] = '\0';
        zh->chroot_len = 0;
    }
    struct zn_req *r = zn_req_new(0);
    ZN_ASSERT(r != NULL);
    r->rtype = (enum zn_rtype)(data[0] % (ZN_R_INTERNAL + 1));
    r->multi_count = data[1] & 0x0f;
    r->answered = true;
    r->rc = 0;
    r->reply_len = (uint32_t)(size - 2);
    r->reply = malloc(size - 2 + 1);
    ZN_ASSERT(r->reply != NULL);
    memcpy(r->reply, data + 2, size - 2);
    switch (r->rtype) {
    case ZN_R_VOID:
        r->cb.v = cb_void;
        break;
    case ZN_R_STAT:
    case ZN_R_EXISTS:
        r->cb.stat = cb_stat;
        break;
    case ZN_R_DATA:
        r->cb.data = cb_data;
        break;
    case ZN_R_STRINGS:
    case ZN_R_EPHEMERALS:
        r->cb.strings = cb_strings;
        break;
    case ZN_R_STRINGS_STAT:
        r->cb.strings_stat = cb_strings_stat;
        break;
    case ZN_R_CREATE:
        r->cb.string_stat = cb_string_stat;
        break;
    case ZN_R_SYNC:
        r->cb.string = cb_string;
        break;
    case ZN_R_ACL:
        r->cb.acl = cb_acl;
        break;
    case ZN_R_INT:
        r->cb.i = cb_int;
        break;
    case ZN_R_MULTI:
    case ZN_R_MULTI_READ:
        r->cb.multi = cb_multi;
        break;
    case ZN_R_WHOAMI:
        r->cb.whoami = cb_whoami;
        break;
    case ZN_R_INTERNAL:
        break;
    }
    zn_ops_complete(zh, r);
    zn_req_free(r);
    return 0;
}
