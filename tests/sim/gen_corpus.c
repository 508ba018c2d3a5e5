/*
 * gen_corpus.c - writes one encoded Raft message of every type into a directory: the seed
 * corpus of the codec fuzz target (tests/fuzz/corpus/raft_codec/). Usage: gen_corpus DIR.
 */
#include <stdio.h>
#include <string.h>

#include "consensus/codec.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    static const uint8_t data[] = "set /config 1";
    uint8_t conf_buf[ZN_RAFT_CONF_ENCODED_MAX];
    struct zn_raft_conf c = {.n_voters = 3, .voters = {1, 2, 3}, .n_learners = 1, .learners = {4}};
    uint32_t clen = zn_raft_conf_encode(&c, conf_buf);
    struct zn_raft_entry ents[3] = {
        {.term = 2, .type = ZN_RAFT_ENTRY_NOOP},
        {.term = 2, .type = ZN_RAFT_ENTRY_NORMAL, .len = sizeof(data), .data = data},
        {.term = 3, .type = ZN_RAFT_ENTRY_CONF, .len = clen, .data = conf_buf},
    };
    for (uint8_t type = 1; type <= ZN_RAFT_MSG_TYPE_MAX; type++) {
        struct zn_raft_msg m;
        memset(&m, 0, sizeof(m));
        m.type = type;
        m.from = 1;
        m.to = 2;
        m.term = 3;
        m.index = 10;
        m.log_term = 2;
        m.commit = 9;
        if (type == ZN_RAFT_MSG_APPEND) {
            m.n_entries = 3;
            m.entries = ents;
        }
        if (type == ZN_RAFT_MSG_SNAPSHOT) {
            m.len = sizeof(data);
            m.data = data;
            m.last = 1;
            m.conf = c;
        }
        uint8_t buf[512];
        size_t len = 0;
        if (zn_raft_msg_encode(&m, buf, sizeof(buf), &len) != 0) {
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], zn_raft_msg_type_name(type));
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(buf, 1, len, f) != len) {
            perror(path);
            return 1;
        }
        fclose(f);
    }
    return 0;
}
