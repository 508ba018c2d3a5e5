/*
 * zn_example_sync.c - libzinc's sync API in one page: open a session, create, read, update,
 * list, a multi, delete, close. Needs a running zinc node (zincd or the lab):
 *
 *   zn_example_sync 127.0.0.1:2281,127.0.0.1:2282/demo [cluster-id]
 *
 * Exit status 0 when every step behaved as expected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/zinc.h"

static int check(const char *what, int rc, int want)
{
    printf("%-28s %s\n", what, zn_strerror(rc));
    if (rc != want) {
        fprintf(stderr, "%s: expected %s\n", what, zn_strerror(want));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s host:port[,host:port...][/chroot] [cluster-id]\n", argv[0]);
        return 2;
    }
    struct zn_options opts;
    zn_options_init(&opts);
    opts.session_timeout_ms = 6000;
    if (argc > 2)
        opts.cluster_id = (uint32_t)strtoul(argv[2], NULL, 0);
    zn_handle *zh;
    int rc = zn_open(argv[1], &opts, &zh);
    if (rc != 0) {
        fprintf(stderr, "zn_open(%s): %s\n", argv[1], zn_strerror(rc));
        return 1;
    }
    printf("session 0x%llx, timeout %d ms\n", (unsigned long long)zn_session_id(zh),
           zn_session_timeout_ms(zh));

    int bad = 0;
    char path[128];
    struct zn_stat st;
    bad |= check("create /example",
                 zn_create(zh, "/example", "v1", 2, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT, 0, path,
                           sizeof(path), &st),
                 0);
    bad |= check("create /example/item-",
                 zn_create(zh, "/example/item-", "", 0, &ZN_OPEN_ACL_UNSAFE,
                           ZN_EPHEMERAL_SEQUENTIAL, 0, path, sizeof(path), NULL),
                 0);
    printf("  created %s\n", path);

    char buf[64];
    int32_t len = sizeof(buf);
    bad |= check("get /example", zn_get(zh, "/example", 0, buf, &len, &st), 0);
    printf("  value \"%.*s\" version %d\n", len, buf, st.version);
    bad |= check("set /example (version 0)", zn_set(zh, "/example", "v2", 2, 0, &st), 0);
    bad |= check("set /example (stale version)", zn_set(zh, "/example", "v3", 2, 0, NULL),
                 ZN_EBADVERSION);

    struct zn_strings kids;
    bad |= check("children of /example", zn_get_children(zh, "/example", 0, &kids), 0);
    for (int32_t i = 0; i < kids.count; i++)
        printf("  %s\n", kids.data[i]);
    zn_strings_free(&kids);

    struct zn_op ops[2];
    struct zn_op_result res[2];
    zn_op_create(&ops[0], "/example/a", "x", 1, &ZN_OPEN_ACL_UNSAFE, ZN_PERSISTENT);
    zn_op_check(&ops[1], "/example", 1);
    bad |= check("multi create+check", zn_multi(zh, 2, ops, res), 0);
    zn_op_results_free(res, 2);

    bad |= check("delete /example/a", zn_delete(zh, "/example/a", -1), 0);
    bad |= check("delete /example (not empty)", zn_delete(zh, "/example", -1), ZN_ENOTEMPTY);
    /* Closing removes the ephemeral child; then /example can go. */
    bad |= check("close", zn_close(zh), 0);
    rc = zn_open(argv[1], &opts, &zh);
    if (rc != 0)
        return 1;
    bad |= check("delete /example", zn_delete(zh, "/example", -1), 0);
    bad |= check("close", zn_close(zh), 0);
    return bad;
}
