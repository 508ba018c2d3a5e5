/*
 * tcli.c - a one-shot command-line client on the node test client (tclient.h), for manual
 * checks and docs/operations.md until zinc-cli exists:
 *   zn-tcli SERVERS create PATH DATA | get PATH | set PATH DATA | delete PATH
 * SERVERS is "ip:port,ip:port,...". Prints the result; exit 0 on a ZooKeeper OK reply.
 */
#include <stdio.h>
#include <string.h>

#include "common/zn_err.h"
#include "tclient.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: zn-tcli SERVERS create PATH DATA | get PATH | set PATH DATA | "
                        "delete PATH\n");
        return 2;
    }
    static struct tclient c;
    if (tc_init(&c, argv[1], 1) != 0 || tc_connect(&c, 10000, 10000) != 0) {
        fprintf(stderr, "zn-tcli: no session with %s\n", argv[1]);
        return 1;
    }
    int32_t err = 0;
    int rc;
    char data[1024] = "";
    const char *op = argv[2], *path = argv[3], *val = argc > 4 ? argv[4] : "";
    if (!strcmp(op, "create"))
        rc = tc_create(&c, path, val, 0, &err);
    else if (!strcmp(op, "get"))
        rc = tc_get(&c, path, data, sizeof(data), &err);
    else if (!strcmp(op, "set"))
        rc = tc_set(&c, path, val, &err);
    else if (!strcmp(op, "delete"))
        rc = tc_delete(&c, path, &err);
    else {
        fprintf(stderr, "zn-tcli: unknown operation %s\n", op);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "zn-tcli: %s %s: %s\n", op, path, zn_strerror(rc));
        return 1;
    }
    if (err) {
        printf("%s %s: ZooKeeper error %d\n", op, path, err);
        return 1;
    }
    printf("%s %s: ok%s%s\n", op, path, data[0] ? " " : "", data);
    tc_fini(&c);
    return 0;
}
