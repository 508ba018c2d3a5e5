/*
 * zn_election_list.c - list an election's candidates in succession order (the first leads or
 * is about to), with their session and payload.
 *
 *   zn-election-list connstr path [cluster-id]
 *
 * The style is recognised from the candidate names (Ring "n-<seq>", Bully
 * "p<inverted priority>-<seq>"); for Bully the holder of <path>/leader is marked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/recipes/zn_recipes.h"

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: zn-election-list connstr path [cluster-id]\n");
        return 2;
    }
    struct zn_options o;
    zn_options_init(&o);
    o.cluster_id = argc == 4 ? (uint32_t)strtoul(argv[3], NULL, 10) : 0;
    o.connect_timeout_ms = 5000;
    zn_handle *zh;
    int rc = zn_open(argv[1], &o, &zh);
    if (rc != 0) {
        fprintf(stderr, "zn-election-list: open %s: %s\n", argv[1], zn_strerror(rc));
        return 1;
    }
    struct zn_strings ring = {0, NULL}, bully = {0, NULL};
    rc = zr_election_list(zh, argv[2], ZR_ELECT_RING, &ring);
    if (rc == 0)
        rc = zr_election_list(zh, argv[2], ZR_ELECT_BULLY, &bully);
    if (rc != 0) {
        fprintf(stderr, "zn-election-list: %s: %s\n", argv[2], zn_strerror(rc));
        zn_close(zh);
        return 1;
    }
    bool is_bully = bully.count > 0;
    struct zn_strings *c = is_bully ? &bully : &ring;
    char leader[256] = "";
    char path[1024];
    if (is_bully) {
        snprintf(path, sizeof(path), "%s/leader", argv[2]);
        int32_t n = sizeof(leader) - 1;
        if (zn_get(zh, path, 0, leader, &n, NULL) == 0 && n >= 0)
            leader[n] = '\0';
        else
            leader[0] = '\0';
    }
    printf("%s election %s: %d candidate(s)\n", is_bully ? "Bully" : "Ring", argv[2], c->count);
    for (int32_t i = 0; i < c->count; i++) {
        snprintf(path, sizeof(path), "%s/%s", argv[2], c->data[i]);
        char payload[256];
        int32_t n = sizeof(payload) - 1;
        struct zn_stat st;
        if (zn_get(zh, path, 0, payload, &n, &st) != 0)
            continue; /* left meanwhile */
        payload[n > 0 ? n : 0] = '\0';
        bool leads = is_bully ? strcmp(leader, c->data[i]) == 0 : i == 0;
        unsigned prio = 0;
        if (is_bully)
            prio = 999999999u - (unsigned)strtoul(c->data[i] + 1, NULL, 10);
        printf("%3d  %-28s %s session 0x%016llx czxid %lld", i, c->data[i],
               leads ? "LEADER" : "      ", (unsigned long long)st.ephemeral_owner,
               (long long)st.czxid);
        if (is_bully)
            printf(" priority %u", prio);
        printf(" payload '%s'\n", payload);
    }
    if (is_bully && leader[0] == '\0')
        printf("(no leader node: an election is in progress)\n");
    zn_strings_free(&ring);
    zn_strings_free(&bully);
    zn_close(zh);
    return 0;
}
