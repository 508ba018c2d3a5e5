#!/usr/bin/python3
"""recipes.py - kazoo's recipes with several concurrent clients against one ZooKeeper target.

usage: recipes.py CONNECT_STRING [NAME]

Each recipe runs with CLIENTS independent KazooClient sessions (one thread each) and checks what
the recipe promises, not just that calls return:
- lock:     mutual exclusion (an in-process holder count never exceeds 1, and a read-modify-write
            of a znode under the lock with a version check never loses an update), total count;
- election: exactly one leader at a time, every contender leads once;
- barrier:  Barrier holds every waiter until removed; DoubleBarrier lets nobody past enter()
            before all have entered, nor past leave() before all have left;
- counter:  concurrent increments add up exactly;
- party:    membership seen from another session (join, leave, a member's session closed);
- queue:    Queue and LockingQueue deliver every item exactly once across competing consumers.
Every wait is bounded (DEADLINE_S per recipe); on failure the script prints what it saw and exits
1. The same script runs against Apache ZooKeeper (tests/compat/run.sh does both), which shows the
checks themselves are sound.
"""

import logging
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock
from kazoo.recipe.party import Party
from kazoo.recipe.queue import LockingQueue, Queue

CLIENTS = 4
DEADLINE_S = 60.0
ROOT = "/compat-recipes"


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def clients(connect, n):
    out = []
    for _ in range(n):
        c = KazooClient(hosts=connect, timeout=10.0)
        c.start(timeout=30)
        out.append(c)
    return out


def run_threads(fns):
    """Runs each fn in its own thread; returns the exceptions raised (bounded by DEADLINE_S)."""
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:  # reported by the caller
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(f,), daemon=True) for f in fns]
    for t in ts:
        t.start()
    deadline = time.monotonic() + DEADLINE_S
    for t in ts:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in ts)
    if alive:
        errors.append(Failed("%d thread(s) still running after %.0f s" % (alive, DEADLINE_S)))
    return errors


def r_lock(cs):
    path = ROOT + "/lock"
    cs[0].ensure_path(ROOT + "/lock-count")
    cs[0].set(ROOT + "/lock-count", b"0")
    rounds = 5
    state = {"holders": 0, "max": 0, "bad_version": 0}
    mu = threading.Lock()

    def worker(c):
        lock = Lock(c, path, identifier="w")
        for _ in range(rounds):
            check(lock.acquire(timeout=DEADLINE_S), "lock not acquired in time")
            try:
                with mu:
                    state["holders"] += 1
                    state["max"] = max(state["max"], state["holders"])
                data, st = c.get(ROOT + "/lock-count")
                time.sleep(0.002)
                try:
                    c.set(ROOT + "/lock-count", str(int(data) + 1).encode(), version=st.version)
                except Exception:
                    with mu:
                        state["bad_version"] += 1
                with mu:
                    state["holders"] -= 1
            finally:
                lock.release()

    errs = run_threads([lambda c=c: worker(c) for c in cs])
    check(not errs, "lock workers: %s" % errs)
    cs[0].sync(ROOT + "/lock-count")  # other sessions wrote it: sync before reading (ZooKeeper
    total = int(cs[0].get(ROOT + "/lock-count")[0])  # reads are not linearizable across sessions)
    check(state["max"] == 1, "lock held by %d clients at once" % state["max"])
    check(state["bad_version"] == 0, "%d lost updates under the lock" % state["bad_version"])
    check(total == rounds * len(cs), "count %d, expected %d" % (total, rounds * len(cs)))
    return "%d clients x %d acquisitions, at most 1 holder, count %d" % (len(cs), rounds, total)


def r_election(cs):
    path = ROOT + "/election"
    state = {"leading": 0, "max": 0, "led": []}
    mu = threading.Lock()

    def lead(name):
        with mu:
            state["leading"] += 1
            state["max"] = max(state["max"], state["leading"])
            state["led"].append(name)
        time.sleep(0.05)
        with mu:
            state["leading"] -= 1
        # returning from the leader function gives up leadership (kazoo Election.run)

    def contender(i, c):
        Election(c, path, identifier="c%d" % i).run(lead, "c%d" % i)

    errs = run_threads([lambda i=i, c=c: contender(i, c) for i, c in enumerate(cs)])
    check(not errs, "election contenders: %s" % errs)
    check(state["max"] == 1, "%d leaders at once" % state["max"])
    check(sorted(state["led"]) == sorted("c%d" % i for i in range(len(cs))),
          "leaders were %s" % state["led"])
    cs[0].sync(path)
    left = cs[0].get_children(path) if cs[0].exists(path) else []
    check(left == [], "election nodes left behind: %s" % left)
    return "%d contenders, each led once, never 2 leaders" % len(cs)


def r_barrier(cs):
    path = ROOT + "/barrier"
    Barrier(cs[0], path).create()
    passed = []
    mu = threading.Lock()

    def waiter(c):
        # the barrier was created through another session, maybe on another server: sync first,
        # or a lagging server answers "no barrier node" and the waiter passes at once (seen
        # against ZooKeeper: "1 waiters passed a standing barrier")
        c.sync(path)
        check(Barrier(c, path).wait(timeout=DEADLINE_S), "barrier wait timed out")
        with mu:
            passed.append(time.monotonic())

    ts = [threading.Thread(target=waiter, args=(c,), daemon=True) for c in cs[1:]]
    for t in ts:
        t.start()
    time.sleep(0.5)
    with mu:
        early = len(passed)
    released = time.monotonic()
    Barrier(cs[0], path).remove()
    for t in ts:
        t.join(DEADLINE_S)
    check(early == 0, "%d waiters passed a standing barrier" % early)
    check(len(passed) == len(ts), "%d of %d waiters passed after removal" % (len(passed), len(ts)))
    check(all(p >= released for p in passed), "a waiter passed before the removal")

    # double barrier: nobody leaves enter() before all entered
    dpath = ROOT + "/double"
    entered, after_enter, after_leave = [], [], []

    def member(i, c):
        b = DoubleBarrier(c, dpath, len(cs), identifier="m%d" % i)
        time.sleep(0.1 * i)  # arrive one by one
        with mu:
            entered.append(i)
        b.enter()
        with mu:
            after_enter.append(len(entered))
        time.sleep(0.05 * (len(cs) - i))
        b.leave()
        with mu:
            after_leave.append(i)

    errs = run_threads([lambda i=i, c=c: member(i, c) for i, c in enumerate(cs)])
    check(not errs, "double barrier members: %s" % errs)
    check(after_enter == [len(cs)] * len(cs),
          "members passed enter() having seen %s entered" % after_enter)
    check(sorted(after_leave) == list(range(len(cs))), "left: %s" % after_leave)
    return "barrier held %d waiters until removed; double barrier of %d" % (len(ts), len(cs))


def r_counter(cs):
    path = ROOT + "/counter"
    per = 25

    def worker(c):
        ctr = Counter(c, path)
        for _ in range(per):
            ctr += 1

    errs = run_threads([lambda c=c: worker(c) for c in cs])
    check(not errs, "counter workers: %s" % errs)
    cs[0].sync(path)
    value = Counter(cs[0], path).value
    check(value == per * len(cs), "counter %d, expected %d" % (value, per * len(cs)))
    return "%d clients x %d increments = %d" % (len(cs), per, value)


def r_party(cs, connect):
    path = ROOT + "/party"

    def members():
        cs[0].sync(path)  # the others joined and left through other sessions (and nodes)
        return sorted(Party(cs[0], path))

    parties = [Party(c, path, "p%d" % i) for i, c in enumerate(cs[1:])]
    for p in parties:
        p.join()
    seen = members()
    check(seen == sorted("p%d" % i for i in range(len(parties))), "members %s" % seen)
    parties[0].leave()
    seen = members()
    check(len(seen) == len(parties) - 1, "after leave: %s" % seen)
    # a member whose session closes disappears (ephemeral membership)
    extra = clients(connect, 1)[0]
    Party(extra, path, "gone").join()
    check("gone" in members(), "new member not seen")
    extra.stop()
    extra.close()
    seen = members()
    check("gone" not in seen, "closed session's member still listed: %s" % seen)
    return "party of %d: join, leave and a closed session seen by another client" % len(parties)


def r_queue(cs):
    items = 60
    producers, consumers = cs[:2], cs[1:]
    out = {}
    for kind in ("queue", "locking-queue"):
        path = ROOT + "/" + kind
        got = []
        mu = threading.Lock()

        def producer(j, c, path=path, kind=kind):
            q = Queue(c, path) if kind == "queue" else LockingQueue(c, path)
            for k in range(items // len(producers)):
                q.put(("%d-%d" % (j, k)).encode())

        def consumer(c, path=path, kind=kind, got=got, mu=mu):
            deadline = time.monotonic() + DEADLINE_S
            if kind == "queue":
                q = Queue(c, path)
                while time.monotonic() < deadline:
                    with mu:
                        if len(got) >= items:
                            return
                    v = q.get()
                    if v is None:
                        time.sleep(0.01)
                        continue
                    with mu:
                        got.append(v)
            else:
                q = LockingQueue(c, path)
                while time.monotonic() < deadline:
                    with mu:
                        if len(got) >= items:
                            return
                    v = q.get(timeout=0.2)
                    if v is None:
                        continue
                    with mu:
                        got.append(v)
                    check(q.consume(), "LockingQueue.consume failed")

        errs = run_threads([lambda j=j, c=c: producer(j, c) for j, c in enumerate(producers)] +
                           [lambda c=c: consumer(c) for c in consumers])
        check(not errs, "%s workers: %s" % (kind, errs))
        dup = len(got) - len(set(got))
        check(dup == 0, "%s: %d items delivered twice" % (kind, dup))
        check(len(got) == items, "%s: %d of %d items delivered" % (kind, len(got), items))
        out[kind] = len(got)
    return "Queue and LockingQueue: %d items each, %d producers, %d consumers, each once" % (
        items, len(producers), len(consumers))


def main():
    if len(sys.argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    logging.basicConfig(level=logging.CRITICAL)
    connect = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) == 3 else None
    recipes = [("lock", r_lock), ("election", r_election), ("barrier", r_barrier),
               ("counter", r_counter), ("party", None), ("queue", r_queue)]
    admin = clients(connect, 1)[0]
    if admin.exists(ROOT):
        admin.delete(ROOT, recursive=True)
    admin.ensure_path(ROOT)
    failed = 0
    for name, fn in recipes:
        if only and name != only:
            continue
        cs = clients(connect, CLIENTS)
        t0 = time.monotonic()
        try:
            what = r_party(cs, connect) if name == "party" else fn(cs)
            print("recipes: %-9s ok   %s (%.1f s)" % (name, what, time.monotonic() - t0))
        except Exception as e:
            failed += 1
            print("recipes: %-9s FAIL %s: %s" % (name, type(e).__name__, e))
        finally:
            for c in cs:
                try:
                    c.stop()
                    c.close()
                except Exception:
                    pass
    admin.delete(ROOT, recursive=True)
    admin.stop()
    admin.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
