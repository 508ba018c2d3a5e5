/*
 * opstats.c - per-operation latency histograms (see opstats.h).
 *
 * Pending requests sit in a direct-mapped table indexed by a hash of (session, seq): a request
 * whose slot is taken by another pending request evicts it (counted), so memory is bounded and
 * nothing is allocated on the request path. ZN_OPSTATS_PENDING is larger than the requests a
 * node holds in flight in the lab and on the benchmarks (sessions x hold window), so evictions
 * stay rare; they only lose a sample, never a request.
 */
#include "node/opstats.h"

#include <stdlib.h>
#include <string.h>

#include "common/zn_err.h"
#include "proto/zk.h"

#define ZN_OPSTATS_PENDING 8192u /* power of two */
_Static_assert((ZN_OPSTATS_PENDING & (ZN_OPSTATS_PENDING - 1)) == 0, "pending: power of two");

enum {
    OPC_CREATE,
    OPC_DELETE,
    OPC_EXISTS,
    OPC_GETDATA,
    OPC_SETDATA,
    OPC_GETACL,
    OPC_SETACL,
    OPC_GETCHILDREN,
    OPC_SYNC,
    OPC_CHECK,
    OPC_MULTI,
    OPC_MULTIREAD,
    OPC_WATCHES,
    OPC_GETEPHEMERALS,
    OPC_GETALLCHILDRENNUMBER,
    OPC_OTHER,
};
_Static_assert(OPC_OTHER + 1 == ZN_OPSTATS_OPS, "one histogram per class");

static const char *const opstats_names[ZN_OPSTATS_OPS] = {
    "create", "delete",    "exists",      "getData",       "setData",
    "getACL", "setACL",    "getChildren", "sync",          "check",
    "multi",  "multiRead", "watches",     "getEphemerals", "getAllChildrenNumber",
    "other",
};

struct opstats_pending {
    uint64_t session; /* 0: free */
    uint64_t seq;
    uint64_t t0_ns;
    uint32_t op;
};

struct zn_opstats {
    struct zn_hist hist[ZN_OPSTATS_OPS];
    struct opstats_pending pending[ZN_OPSTATS_PENDING];
    uint64_t evicted;
};

static unsigned opstats_class(int32_t opcode)
{
    switch (opcode) {
    case ZN_ZK_OP_CREATE:
    case ZN_ZK_OP_CREATE2:
    case ZN_ZK_OP_CREATECONTAINER:
    case ZN_ZK_OP_CREATETTL:
        return OPC_CREATE;
    case ZN_ZK_OP_DELETE:
    case ZN_ZK_OP_DELETECONTAINER:
        return OPC_DELETE;
    case ZN_ZK_OP_EXISTS:
        return OPC_EXISTS;
    case ZN_ZK_OP_GETDATA:
        return OPC_GETDATA;
    case ZN_ZK_OP_SETDATA:
        return OPC_SETDATA;
    case ZN_ZK_OP_GETACL:
        return OPC_GETACL;
    case ZN_ZK_OP_SETACL:
        return OPC_SETACL;
    case ZN_ZK_OP_GETCHILDREN:
    case ZN_ZK_OP_GETCHILDREN2:
        return OPC_GETCHILDREN;
    case ZN_ZK_OP_SYNC:
        return OPC_SYNC;
    case ZN_ZK_OP_CHECK:
        return OPC_CHECK;
    case ZN_ZK_OP_MULTI:
        return OPC_MULTI;
    case ZN_ZK_OP_MULTIREAD:
        return OPC_MULTIREAD;
    case ZN_ZK_OP_CHECKWATCHES:
    case ZN_ZK_OP_REMOVEWATCHES:
    case ZN_ZK_OP_SETWATCHES:
    case ZN_ZK_OP_SETWATCHES2:
    case ZN_ZK_OP_ADDWATCH:
        return OPC_WATCHES;
    case ZN_ZK_OP_GETEPHEMERALS:
        return OPC_GETEPHEMERALS;
    case ZN_ZK_OP_GETALLCHILDRENNUMBER:
        return OPC_GETALLCHILDRENNUMBER;
    default:
        return OPC_OTHER;
    }
}

static uint32_t opstats_slot(uint64_t session, uint64_t seq)
{
    uint64_t h = (session ^ (seq * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h >> 40) & (ZN_OPSTATS_PENDING - 1);
}

int zn_opstats_create(struct zn_opstats **out)
{
    struct zn_opstats *os = calloc(1, sizeof(*os));
    if (!os)
        return ZN_ENOMEM;
    for (unsigned i = 0; i < ZN_OPSTATS_OPS; i++)
        zn_hist_reset(&os->hist[i]);
    *out = os;
    return 0;
}

void zn_opstats_destroy(struct zn_opstats *os)
{
    free(os);
}

void zn_opstats_begin(struct zn_opstats *os, uint64_t session, uint64_t seq, int32_t opcode,
                      uint64_t now_ns)
{
    if (!os || session == 0)
        return;
    struct opstats_pending *p = &os->pending[opstats_slot(session, seq)];
    if (p->session == session && p->seq == seq)
        return; /* a retransmission: keep the first receipt */
    if (p->session != 0)
        os->evicted++;
    *p = (struct opstats_pending){
        .session = session, .seq = seq, .t0_ns = now_ns, .op = opstats_class(opcode)};
}

void zn_opstats_end(struct zn_opstats *os, uint64_t session, uint64_t seq, uint64_t now_ns)
{
    if (!os || session == 0)
        return;
    struct opstats_pending *p = &os->pending[opstats_slot(session, seq)];
    if (p->session != session || p->seq != seq)
        return;
    zn_hist_record(&os->hist[p->op], now_ns >= p->t0_ns ? now_ns - p->t0_ns : 0);
    p->session = 0;
}

unsigned zn_opstats_op_count(void)
{
    return ZN_OPSTATS_OPS;
}

const char *zn_opstats_op_name(unsigned op)
{
    return op < ZN_OPSTATS_OPS ? opstats_names[op] : "?";
}

void zn_opstats_copy(const struct zn_opstats *os, unsigned op, struct zn_hist *out)
{
    zn_hist_reset(out);
    if (os && op < ZN_OPSTATS_OPS)
        zn_hist_merge(out, &os->hist[op]);
}

const struct zn_hist *zn_opstats_hist(const struct zn_opstats *os, unsigned op)
{
    return os && op < ZN_OPSTATS_OPS ? &os->hist[op] : NULL;
}

uint64_t zn_opstats_evicted(const struct zn_opstats *os)
{
    return os ? os->evicted : 0;
}

void zn_opstats_reset(struct zn_opstats *os)
{
    if (!os)
        return;
    for (unsigned i = 0; i < ZN_OPSTATS_OPS; i++)
        zn_hist_reset(&os->hist[i]);
    os->evicted = 0;
}
