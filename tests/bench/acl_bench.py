#!/usr/bin/python3
"""tests/bench/acl_bench.py — how fast CreateAcls and DeleteAcls store ACLs in ZooKeeper
(docs/PERFORMANCE.md §32).

Starts ZooKeeper and two gregor-broker processes with the authorizer on
(tests/integration/protocol/cluster.py; the client, User:ANONYMOUS, a super user) and, for
--rounds rounds:

  create  --acls ACLs, each on a resource pattern of its own (half literal WRITE on
          topic-<i>, half prefixed READ on team-<i>-), as tls_bench.py makes them: CreateAcls
          v1 requests of --batch bindings over --conns connections to broker 0 at once;
  spread  the time until broker 1's DescribeAcls lists them all (the change notifications
          applied there), measured from the last CreateAcls answer;
  delete  one DeleteAcls matching every topic ACL (the round's).

Prints ACLs per second of each phase and the spread time, per round and their median, as
key=value lines. With the defaults (5,000 ACLs, 3 rounds) it runs in under a minute.

  acl_bench.py [--acls N] [--batch N] [--conns N] [--rounds N]

Environment: GREGOR_SOURCE_DIR, GREGOR_BUILD_DIR (default <repo>, <repo>/build).
"""
import argparse
import concurrent.futures
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("GREGOR_SOURCE_DIR", REPO)
os.environ.setdefault("GREGOR_BUILD_DIR", os.path.join(REPO, "build"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration", "protocol"))
import cluster  # noqa: E402
from kwire import W, Conn  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--acls", type=int, default=5000)
ap.add_argument("--batch", type=int, default=500, help="bindings per CreateAcls request")
ap.add_argument("--conns", type=int, default=4, help="connections creating at once")
ap.add_argument("--rounds", type=int, default=3)
args = ap.parse_args()

TOPIC, LITERAL, PREFIXED, ANY = 2, 3, 4, 1
READ, WRITE, OP_ANY, ALLOW = 3, 4, 1, 3


def create_body(acls):
    def fn(w, a):
        w.i8(TOPIC).str(a[0]).i8(a[1]).str(a[2]).str("*").i8(a[3]).i8(ALLOW)
    return W().array(acls, fn).b


def create(port, acls):
    c = Conn("127.0.0.1", port, timeout=300)
    try:
        r = c.call(30, 1, create_body(acls))
    finally:
        c.close()
    r.i32()
    errs = r.array(lambda r: (r.i16(), r.str())[0])
    if errs != [0] * len(acls):
        raise RuntimeError("CreateAcls: %d of %d refused" % (sum(1 for e in errs if e), len(acls)))


def count(port):
    """DescribeAcls v1 matching everything: the number of ACLs the broker holds."""
    c = Conn("127.0.0.1", port, timeout=60)
    try:
        r = c.call(29, 1, W().i8(ANY).str(None).i8(ANY).str(None).str(None).i8(OP_ANY).i8(1).b)
    finally:
        c.close()
    r.i32()
    if r.i16() != 0:
        raise RuntimeError("DescribeAcls failed")
    r.str()
    res = r.array(lambda r: (r.i8(), r.str(), r.i8(),
                             r.array(lambda r: (r.str(), r.str(), r.i8(), r.i8()))))
    return sum(len(x[3]) for x in res)


def delete_topic_acls(port):
    """DeleteAcls v1 of every topic ACL: how many went."""
    body = W().array([None], lambda w, _: w.i8(TOPIC).str(None).i8(ANY).str(None).str(None)
                     .i8(OP_ANY).i8(1)).b
    c = Conn("127.0.0.1", port, timeout=300)
    try:
        r = c.call(31, 1, body)
    finally:
        c.close()
    r.i32()
    res = r.array(lambda r: (r.i16(), r.str(), r.array(lambda r: (
        r.i16(), r.str(), r.i8(), r.str(), r.i8(), r.str(), r.str(), r.i8(), r.i8()))))
    if res[0][0] != 0:
        raise RuntimeError("DeleteAcls error %d" % res[0][0])
    return len(res[0][2])


def one_round(cl, rnd):
    p0, p1 = cl.brokers[0].port, cl.brokers[1].port
    base = count(p0)
    acls = [("team-%d-%d-" % (rnd, i), PREFIXED, "User:user-%d" % i, READ) if i % 2 else
            ("topic-%d-%d" % (rnd, i), LITERAL, "User:user-%d" % i, WRITE)
            for i in range(args.acls)]
    batches = [acls[i:i + args.batch] for i in range(0, len(acls), args.batch)]
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.conns) as ex:
        for f in [ex.submit(lambda k=k: [create(p0, b) for b in batches[k::args.conns]])
                  for k in range(args.conns)]:
            f.result()
    t1 = time.monotonic()
    while count(p1) != base + args.acls:
        if time.monotonic() - t1 > 60:
            raise RuntimeError("broker 1 lists %d ACLs, not %d" % (count(p1), base + args.acls))
        time.sleep(0.01)
    t2 = time.monotonic()
    gone = delete_topic_acls(p0)
    t3 = time.monotonic()
    if gone != args.acls:
        raise RuntimeError("DeleteAcls removed %d ACLs, not %d" % (gone, args.acls))
    return {"create_acls_per_s": args.acls / (t1 - t0), "spread_ms": 1000 * (t2 - t1),
            "delete_acls_per_s": args.acls / (t3 - t2)}


def main():
    cl = cluster.Cluster(2, overrides=[
        "authorizer.class.name=gregor.security.authorizer.AclAuthorizer",
        "super.users=User:ANONYMOUS", "offsets.topic.replication.factor=1"])
    try:
        rows = []
        for rnd in range(args.rounds):
            row = one_round(cl, rnd)
            rows.append(row)
            print("round %d: " % rnd + " ".join("%s=%.0f" % kv for kv in row.items()), flush=True)
        print("acls=%d batch=%d conns=%d rounds=%d" % (args.acls, args.batch, args.conns,
                                                       args.rounds))
        for k in rows[0]:
            print("median.%s=%.0f" % (k, statistics.median(r[k] for r in rows)))
        print("loadavg=%s" % open("/proc/loadavg").read().split()[0])
    finally:
        cl.stop()


main()
