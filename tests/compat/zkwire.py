"""zkwire - a minimal ZooKeeper wire-protocol client for the conformance runner.

It speaks jute over TCP byte for byte (shared/zk-protocol.md, apache/zookeeper
zookeeper-jute/src/main/resources/zookeeper.jute) and hides nothing: every request is sent with an
explicit opcode and every reply is returned as (header zxid, err, decoded body), so the runner can
compare what a server really answers, including the requests no client library exposes
(setWatches, setWatches2, checkWatches, reconfig, the 44-byte connect request).

Watch events (xid -1) that arrive while a reply is awaited are kept, in arrival order, in
Conn.events; the runner prints them where they were received, so the order of an event relative
to the reply that follows it is part of the transcript.

No threads: one request is in flight per connection (the runner is a script, not a benchmark), and
every socket read has a timeout so a server that does not answer fails the run instead of hanging.
"""

import select
import socket
import struct

# opcodes (ZooDefs.OpCode)
OP = {
    "notification": 0, "create": 1, "delete": 2, "exists": 3, "getData": 4, "setData": 5,
    "getACL": 6, "setACL": 7, "getChildren": 8, "sync": 9, "ping": 11, "getChildren2": 12,
    "check": 13, "multi": 14, "create2": 15, "reconfig": 16, "checkWatches": 17,
    "removeWatches": 18, "createContainer": 19, "createTTL": 21, "multiRead": 22, "auth": 100,
    "setWatches": 101, "getEphemerals": 103, "getAllChildrenNumber": 104, "setWatches2": 105,
    "addWatch": 106, "whoAmI": 107, "closeSession": -11, "error": -1,
}

ERR = {
    0: "Ok", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
    -4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented", -7: "OperationTimeout",
    -8: "BadArguments", -12: "UnknownSession", -13: "NewConfigNoQuorum",
    -14: "ReconfigInProgress", -100: "APIError", -101: "NoNode", -102: "NoAuth",
    -103: "BadVersion", -108: "NoChildrenForEphemerals", -110: "NodeExists", -111: "NotEmpty",
    -112: "SessionExpired", -113: "InvalidCallback", -114: "InvalidACL", -115: "AuthFailed",
    -118: "SessionMoved", -119: "NotReadOnly", -120: "EphemeralOnLocalSession",
    -121: "NoWatcher", -122: "RequestTimeout", -123: "ReconfigDisabled",
    -124: "SessionClosedRequireSaslAuth", -125: "QuotaExceeded", -127: "ThrottledOp",
}

EVENT = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
         4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
         7: "PersistentWatchRemoved"}
STATE = {0: "Disconnected", 3: "SyncConnected", 4: "AuthFailed", 5: "ConnectedReadOnly",
         6: "SaslAuthenticated", 7: "Closed", -112: "Expired"}

OPEN_ACL = [(31, "world", "anyone")]
FRAME_MAX = 16 << 20  # refuse absurd frame lengths from a broken server


class ConnClosed(Exception):
    """The server closed the connection (or a read timed out)."""


# ---- encoding -----------------------------------------------------------------------------------
class W:
    def __init__(self):
        self.b = bytearray()

    def int(self, v):
        self.b += struct.pack(">i", v)
        return self

    def long(self, v):
        self.b += struct.pack(">q", v)
        return self

    def bool(self, v):
        self.b += b"\x01" if v else b"\x00"
        return self

    def buf(self, v):
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.b += v
        return self

    def str(self, v):
        return self.buf(None if v is None else v.encode())

    def strs(self, vs):
        self.int(len(vs))
        for v in vs:
            self.str(v)
        return self

    def acl(self, acls):
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).str(scheme).str(ident)
        return self


class R:
    def __init__(self, data):
        self.d = data
        self.o = 0

    def take(self, n):
        if self.o + n > len(self.d):
            raise ValueError("short body: need %d bytes at %d of %d" % (n, self.o, len(self.d)))
        v = self.d[self.o:self.o + n]
        self.o += n
        return v

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def long(self):
        return struct.unpack(">q", self.take(8))[0]

    def bool(self):
        return self.take(1) != b"\x00"

    def buf(self):
        n = self.int()
        if n < 0:
            return None
        return bytes(self.take(n))

    def str(self):
        b = self.buf()
        return None if b is None else b.decode("utf-8", "replace")

    def strs(self):
        n = self.int()
        if n < 0:
            return None
        return [self.str() for _ in range(n)]

    def stat(self):
        keys = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
                "ephemeralOwner", "dataLength", "numChildren", "pzxid")
        fmt = ("long", "long", "long", "long", "int", "int", "int", "long", "int", "int", "long")
        return {k: getattr(self, f)() for k, f in zip(keys, fmt)}

    def acl(self):
        n = self.int()
        if n < 0:
            return None
        return [(self.int(), self.str(), self.str()) for _ in range(n)]

    def rest(self):
        return len(self.d) - self.o


# ---- request bodies -----------------------------------------------------------------------------
def body_create(path, data, acl, flags, ttl=None):
    w = W().str(path).buf(data).acl(acl).int(flags)
    if ttl is not None:
        w.long(ttl)
    return bytes(w.b)


def body_path(path):
    return bytes(W().str(path).b)


def body_path_bool(path, flag):
    return bytes(W().str(path).bool(flag).b)


def body_path_int(path, v):
    return bytes(W().str(path).int(v).b)


def body_set_data(path, data, version):
    return bytes(W().str(path).buf(data).int(version).b)


def body_set_acl(path, acl, version):
    return bytes(W().str(path).acl(acl).int(version).b)


def body_multi(ops):
    """ops: list of (opname, body bytes) for create/create2/delete/setData/check/getData/..."""
    w = W()
    for name, body in ops:
        w.int(OP[name]).bool(False).int(-1)
        w.b += body
    w.int(-1).bool(True).int(-1)
    return bytes(w.b)


def decode_reply(op, r):
    """Decodes the body of a successful reply of opcode name `op`."""
    if op in ("create",):
        return {"path": r.str()}
    if op in ("create2", "createContainer", "createTTL"):
        return {"path": r.str(), "stat": r.stat()}
    if op in ("exists", "setData", "setACL"):
        return {"stat": r.stat()}
    if op in ("getData", "reconfig"):
        return {"data": r.buf(), "stat": r.stat()}
    if op == "getACL":
        return {"acl": r.acl(), "stat": r.stat()}
    if op == "getChildren":
        return {"children": r.strs()}
    if op == "getChildren2":
        return {"children": r.strs(), "stat": r.stat()}
    if op == "sync":
        return {"path": r.str()}
    if op == "getEphemerals":
        return {"paths": r.strs()}
    if op == "getAllChildrenNumber":
        return {"total": r.int()}
    if op == "whoAmI":
        n = r.int()
        return {"clients": [(r.str(), r.str()) for _ in range(max(n, 0))]}
    if op == "addWatch":
        return {"err": r.int()}  # AddWatch replies carry an ErrorResponse body
    if op in ("multi", "multiRead"):
        results = []
        while True:
            typ, done, _err = r.int(), r.bool(), r.int()  # err repeats in the body
            if done:
                break
            if typ == -1:
                results.append({"op": "error", "err": r.int()})
                continue
            name = next((k for k, v in OP.items() if v == typ), str(typ))
            res = {"op": name}
            res.update(decode_reply(name, r) or {})
            results.append(res)
        return {"results": results}
    return {}


# ---- the connection -----------------------------------------------------------------------------
class Conn:
    def __init__(self, host, port, timeout_ms=10000, session_id=0, passwd=b"\0" * 16,
                 last_zxid=0, read_only=False, short_connect=False, io_timeout_s=30.0):
        self.sock = socket.create_connection((host, port), timeout=io_timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.events = []
        self.last_zxid = last_zxid
        self.xid = 0
        self.closed = False
        w = W().int(0).long(last_zxid).int(timeout_ms).long(session_id).buf(passwd)
        if not short_connect:
            w.bool(read_only)
        self._send(bytes(w.b))
        r = R(self._recv_frame())
        self.proto = r.int()
        self.timeout_ms = r.int()
        self.session_id = r.long()
        self.passwd = r.buf()
        self.read_only = r.bool() if r.rest() >= 1 else None
        self.connect_len = len(w.b)

    def _send(self, payload):
        try:
            self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        except OSError as e:
            self.closed = True
            raise ConnClosed(str(e))

    def _recv_exact(self, n):
        out = bytearray()
        while len(out) < n:
            try:
                chunk = self.sock.recv(n - len(out))
            except (socket.timeout, ConnectionError) as e:
                self.closed = True
                raise ConnClosed(str(e))
            if not chunk:
                self.closed = True
                raise ConnClosed("closed by server")
            out += chunk
        return bytes(out)

    def _recv_frame(self):
        n = struct.unpack(">i", self._recv_exact(4))[0]
        if n < 0 or n > FRAME_MAX:
            raise ConnClosed("bad frame length %d" % n)
        return self._recv_exact(n)

    def call(self, op, body=b"", xid=None):
        """Sends one request and waits for its reply; returns (zxid, err, decoded body).
        Events received meanwhile are appended to self.events."""
        if self.closed:
            raise ConnClosed("connection already closed")
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(struct.pack(">ii", xid, OP[op]) + body)
        while True:
            r = R(self._recv_frame())
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == -1:
                typ, state, path = r.int(), r.int(), r.str()
                self.events.append((EVENT.get(typ, typ), STATE.get(state, state), path))
                continue
            if rxid != xid:
                raise ConnClosed("reply xid %d while waiting for %d (%s)" % (rxid, xid, op))
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            body_at = r.o
            try:
                out = decode_reply(op, r) if err == 0 else {}
            except ValueError as e:  # a malformed body is a finding, not the end of the run
                out = {"undecodable_body": r.d[body_at:].hex(), "why": str(e)}
            if r.rest() != 0 and "undecodable_body" not in out:
                out["trailing_bytes"] = r.rest()
            return zxid, err, out

    def wait_event(self, timeout_s):
        """Waits up to timeout_s for one event frame; returns it (also kept in self.events) or
        None if nothing arrived. A reply frame here is a protocol error (nothing is in flight)."""
        ready, _, _ = select.select([self.sock], [], [], timeout_s)
        if not ready:
            return None
        r = R(self._recv_frame())
        rxid, _zxid, _err = r.int(), r.long(), r.int()
        if rxid != -1:
            raise ConnClosed("unexpected reply xid %d while waiting for an event" % rxid)
        typ, state, path = r.int(), r.int(), r.str()
        ev = (EVENT.get(typ, typ), STATE.get(state, state), path)
        self.events.append(ev)
        return ev

    def take_events(self):
        ev, self.events = self.events, []
        return ev

    def drop(self):
        """Closes the TCP connection without closing the session (a client-side disconnect)."""
        try:
            self.sock.close()
        finally:
            self.closed = True
