/* The error table is complete: every code has a name, a message and a valid ZooKeeper code. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "common/zn_err.h"

static bool zk_code_known(int zk)
{
    return strcmp(zn_zk_err_name(zk), "UNKNOWN") != 0;
}

Test(err, every_code_has_message_name_and_mapping)
{
    cr_assert_gt(ZN_ERR_COUNT, 40);
    for (int e = -1; e >= -ZN_ERR_COUNT; e--) {
        cr_assert_str_neq(zn_strerror(e), "unknown error", "code %d has no message", e);
        cr_assert_neq(zn_strerror(e)[0], '\0');
        cr_assert_eq(strncmp(zn_err_name(e), "ZN_E", 4), 0, "code %d name %s", e, zn_err_name(e));
        cr_assert(zk_code_known(zn_err_to_zk(e)), "code %s maps to unknown zk %d", zn_err_name(e),
                  zn_err_to_zk(e));
    }
}

Test(err, codes_are_dense_and_negative)
{
    cr_assert_eq(ZN_EINVAL, -1);
    cr_assert_eq(ZN_ENOMEM, -2);
    cr_assert_eq(ZN_ETHROTTLED, -ZN_ERR_COUNT);
    cr_assert_str_eq(zn_err_name(ZN_ENONODE), "ZN_ENONODE");
    cr_assert_str_eq(zn_strerror(ZN_OK), "success");
}

Test(err, unknown_codes_are_safe)
{
    cr_assert_str_eq(zn_strerror(1), "unknown error");
    cr_assert_str_eq(zn_strerror(-ZN_ERR_COUNT - 1), "unknown error");
    cr_assert_str_eq(zn_err_name(-100000), "ZN_E?");
    cr_assert_eq(zn_err_to_zk(-100000), ZK_SYSTEMERROR);
    cr_assert_eq(zn_err_from_zk(-9999), ZN_ESYSTEM);
}

Test(err, zookeeper_codes_round_trip)
{
    static const int zk_codes[] = {
#define ZK_LIST_(name, value) value,
        ZN_ZK_ERRORS(ZK_LIST_)
#undef ZK_LIST_
    };
    for (size_t i = 0; i < sizeof(zk_codes) / sizeof(zk_codes[0]); i++) {
        int zn = zn_err_from_zk(zk_codes[i]);
        cr_assert_eq(zn_err_to_zk(zn), zk_codes[i], "zk %d (%s) -> %s -> %d", zk_codes[i],
                     zn_zk_err_name(zk_codes[i]), zn_err_name(zn), zn_err_to_zk(zn));
    }
    cr_assert_eq(zn_err_to_zk(ZN_ENONODE), -101);
    cr_assert_eq(zn_err_to_zk(ZN_ENODEEXISTS), -110);
    cr_assert_eq(zn_err_to_zk(ZN_EBADVERSION), -103);
    cr_assert_str_eq(zn_zk_err_name(-101), "NONODE");
}

Test(err, errno_mapping)
{
    cr_assert_eq(zn_err_from_errno(-EIO), ZN_EIO);
    cr_assert_eq(zn_err_from_errno(-ENOSPC), ZN_ENOSPC);
    cr_assert_eq(zn_err_from_errno(0), ZN_OK);
    cr_assert_eq(zn_err_from_errno(-ENOENT), ZN_ENOENT);
}
