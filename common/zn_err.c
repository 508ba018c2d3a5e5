/*
 * zn_err.c - messages and ZooKeeper mapping generated from the ZN_ERRORS table.
 */
#include "common/zn_err.h"

#include <errno.h>
#include <stddef.h>

struct zn_err_entry {
    const char *name;
    const char *message;
    int zk;
};

static const struct zn_err_entry zn_err_table[] = {[0] = {"ZN_OK", "success", ZK_OK},
#define ZN_ERR_ENTRY_(name, msg, zk) [name##_INDEX_] = {#name, msg, zk},
                                                   ZN_ERRORS(ZN_ERR_ENTRY_)
#undef ZN_ERR_ENTRY_
};

_Static_assert(sizeof(zn_err_table) / sizeof(zn_err_table[0]) == (size_t)ZN_ERR_COUNT + 1,
               "every error code has a table entry");

static const struct zn_err_entry *zn_err_lookup(int err)
{
    if (err > 0 || -err > ZN_ERR_COUNT)
        return NULL;
    return &zn_err_table[-err];
}

const char *zn_strerror(int err)
{
    const struct zn_err_entry *e = zn_err_lookup(err);
    return e ? e->message : "unknown error";
}

const char *zn_err_name(int err)
{
    const struct zn_err_entry *e = zn_err_lookup(err);
    return e ? e->name : "ZN_E?";
}

int zn_err_to_zk(int err)
{
    const struct zn_err_entry *e = zn_err_lookup(err);
    return e ? e->zk : ZK_SYSTEMERROR;
}

/* The zinc code that stands for each ZooKeeper code when decoding a ZooKeeper reply. */
int zn_err_from_zk(int zk_err)
{
    switch (zk_err) {
    case ZK_OK:
        return ZN_OK;
    case ZK_SYSTEMERROR:
        return ZN_ESYSTEM;
    case ZK_RUNTIMEINCONSISTENCY:
        return ZN_EINCONSISTENT;
    case ZK_DATAINCONSISTENCY:
        return ZN_EDATAINCONSISTENT;
    case ZK_CONNECTIONLOSS:
        return ZN_ECONNLOSS;
    case ZK_MARSHALLINGERROR:
        return ZN_EMARSHALLING;
    case ZK_UNIMPLEMENTED:
        return ZN_EUNIMPLEMENTED;
    case ZK_OPERATIONTIMEOUT:
        return ZN_ETIMEDOUT;
    case ZK_BADARGUMENTS:
        return ZN_EBADARGUMENTS;
    case ZK_UNKNOWNSESSION:
        return ZN_EUNKNOWNSESSION;
    case ZK_NEWCONFIGNOQUORUM:
        return ZN_ENOQUORUM;
    case ZK_RECONFIGINPROGRESS:
        return ZN_EBUSY;
    case ZK_APIERROR:
        return ZN_EAPI;
    case ZK_NONODE:
        return ZN_ENONODE;
    case ZK_NOAUTH:
        return ZN_ENOAUTH;
    case ZK_BADVERSION:
        return ZN_EBADVERSION;
    case ZK_NOCHILDRENFOREPHEMERALS:
        return ZN_ENOCHILDRENFOREPHEMERALS;
    case ZK_NODEEXISTS:
        return ZN_ENODEEXISTS;
    case ZK_NOTEMPTY:
        return ZN_ENOTEMPTY;
    case ZK_SESSIONEXPIRED:
        return ZN_ESESSIONEXPIRED;
    case ZK_INVALIDCALLBACK:
        return ZN_EINVALIDCALLBACK;
    case ZK_INVALIDACL:
        return ZN_EINVALIDACL;
    case ZK_AUTHFAILED:
        return ZN_EAUTHFAILED;
    case ZK_SESSIONMOVED:
        return ZN_ESESSIONMOVED;
    case ZK_NOTREADONLY:
        return ZN_ENOTREADONLY;
    case ZK_EPHEMERALONLOCALSESSION:
        return ZN_EEPHEMERALONLOCALSESSION;
    case ZK_NOWATCHER:
        return ZN_ENOWATCHER;
    case ZK_REQUESTTIMEOUT:
        return ZN_EREQUESTTIMEOUT;
    case ZK_RECONFIGDISABLED:
        return ZN_ERECONFIGDISABLED;
    case ZK_SESSIONCLOSEDREQUIRESASLAUTH:
        return ZN_ESESSIONCLOSEDREQUIRESASLAUTH;
    case ZK_QUOTAEXCEEDED:
        return ZN_EQUOTAEXCEEDED;
    case ZK_THROTTLEDOP:
        return ZN_ETHROTTLED;
    default:
        return ZN_ESYSTEM;
    }
}

const char *zn_zk_err_name(int zk_err)
{
    switch (zk_err) {
#define ZN_ZK_NAME_(name, value) \
    case name:                   \
        return &#name[3];
        ZN_ZK_ERRORS(ZN_ZK_NAME_)
#undef ZN_ZK_NAME_
    default:
        return "UNKNOWN";
    }
}

int zn_err_from_errno(int negative_errno)
{
    switch (-negative_errno) {
    case 0:
        return ZN_OK;
    case EINVAL:
        return ZN_EINVAL;
    case ENOMEM:
        return ZN_ENOMEM;
    case EAGAIN:
        return ZN_EAGAIN;
    case ENOSPC:
    case EDQUOT:
        return ZN_ENOSPC;
    case ENOENT:
        return ZN_ENOENT;
    case ETIMEDOUT:
        return ZN_ETIMEDOUT;
    case ENOTSUP:
        return ZN_ENOTSUP;
    case ECANCELED:
        return ZN_ECANCELED;
    case EBUSY:
        return ZN_EBUSY;
    case EPROTO:
    case EBADMSG:
        return ZN_EPROTO;
    case ECONNRESET:
    case ECONNREFUSED:
    case EPIPE:
        return ZN_ECONNLOSS;
    default:
        return ZN_EIO;
    }
}
