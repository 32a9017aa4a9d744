#!/usr/bin/env python3
"""
tests/integration/protocol/test_acls.py — ACLs and the authorizer (docs/security.md "ACLs")
against a real two-broker cluster and ZooKeeper: CreateAcls, DescribeAcls and DeleteAcls in
every version with this directory's own codec (kwire.py), through kafka-python's admin client
(confluent-kafka 1.7 under /usr/bin/python3 has no ACL API) and through `gregor acl`; the
znodes in Kafka's layout; a request of many patterns stored whole, the change lists trimmed,
two brokers writing the same patterns at once; invalid bindings and filters answered per entry
while the broker carries on; a client denied WRITE, READ, DESCRIBE and DELETE by ACLs (raw requests and
librdkafka via confluent-kafka); a change made through one broker applied by the other within a
second; replication between brokers with the authorizer on (the inter-broker listener);
allow.everyone.if.no.acl.found=false on a third broker; WriteTxnMarkers refused
(CLUSTER_AUTHORIZATION_FAILED per partition, nothing written) on a client listener and, on a
one-listener cluster of its own, to a principal without ClusterAction; a DENY of ALTER on the cluster locks
ACL changes (last, as it cannot be undone without a super user).

Clients here are User:ANONYMOUS (no TLS or SASL yet). The brokers run with a client listener
(PLAINTEXT) and an inter-broker listener (INTERNAL).
"""
import os
import subprocess
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, R, Conn, record_batch  # noqa: E402
from cluster import Cluster, Broker, run_suite, free_port, BUILD  # noqa: E402
from test_api_matrix import (produce_body, decode_produce, fetch_body, decode_fetch,  # noqa: E402
                             metadata_body, decode_metadata, create_topics_body,
                             decode_create_topics, delete_topics_body, decode_delete_topics)

# Kafka's codes
TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID = 2, 3, 4, 5
ANY, MATCH, LITERAL, PREFIXED = 1, 2, 3, 4
OP_ANY, ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 1, 2, 3, 4, 5, 6, 7, 8
DENY, ALLOW = 2, 3
TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED = 29, 30, 31
TRANSACTIONAL_ID_AUTHORIZATION_FAILED, INVALID_REQUEST = 53, 42
ANON = "User:ANONYMOUS"

COMMON = ["authorizer.class.name=gregor.security.authorizer.AclAuthorizer",
          "super.users=User:admin",
          "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
          "inter.broker.listener.name=INTERNAL",
          "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
          "offsets.topic.num.partitions=2", "group.initial.rebalance.delay.ms=0"]


def listeners(i):
    p = free_port()
    return ["listeners=PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:%d" % p,
            "advertised.listeners=PLAINTEXT://127.0.0.1:{port},INTERNAL://127.0.0.1:%d" % p]


CL = Cluster(2, overrides=COMMON + ["allow.everyone.if.no.acl.found=true"], per_broker=listeners)
GREGOR = os.path.join(BUILD, "bin", "gregor")


def conn(i=0):
    return Conn("127.0.0.1", CL.brokers[i].port)


# ---------------------------------------------------------------- codec

def create_acls_body(v, acls):
    """acls: (rtype, name, pattern, principal, host, op, perm)."""
    def fn(w, a):
        w.i8(a[0]).str(a[1])
        if v >= 1:
            w.i8(a[2])
        w.str(a[3]).str(a[4]).i8(a[5]).i8(a[6]).tags()
    return W(flex=v >= 2).array(acls, fn).tags().b


def decode_create_acls(r, v):
    r.i32()

    def res(r):
        x = (r.i16(), r.str())
        r.tags()
        return x
    out = r.array(res)
    r.tags()
    r.done()
    return out


def put_filter(w, v, f):
    """f: (rtype, name, pattern, principal, host, op, perm); None strings match any."""
    w.i8(f[0]).str(f[1])
    if v >= 1:
        w.i8(f[2])
    w.str(f[3]).str(f[4]).i8(f[5]).i8(f[6])


def describe_acls_body(v, f):
    w = W(flex=v >= 2)
    put_filter(w, v, f)
    return w.tags().b


def decode_describe_acls(r, v):
    r.i32()
    err, msg = r.i16(), r.str()

    def entry(r):
        x = (r.str(), r.str(), r.i8(), r.i8())
        r.tags()
        return x

    def resource(r):
        rt, name = r.i8(), r.str()
        pt = r.i8() if v >= 1 else LITERAL
        acls = r.array(entry)
        r.tags()
        return [(rt, name, pt) + a for a in acls]
    res = r.array(resource)
    r.tags()
    r.done()
    return err, msg, sorted(b for group in res for b in group)


def delete_acls_body(v, filters):
    def fn(w, f):
        put_filter(w, v, f)
        w.tags()
    return W(flex=v >= 2).array(filters, fn).tags().b


def decode_delete_acls(r, v):
    r.i32()

    def match(r):
        err, msg, rt, name = r.i16(), r.str(), r.i8(), r.str()
        pt = r.i8() if v >= 1 else LITERAL
        x = (rt, name, pt, r.str(), r.str(), r.i8(), r.i8())
        r.tags()
        assert err == 0 and msg is None
        return x

    def result(r):
        err, msg = r.i16(), r.str()
        m = r.array(match)
        r.tags()
        return err, msg, sorted(m)
    out = r.array(result)
    r.tags()
    r.done()
    return out


def create(acls, v=1, broker=0):
    c = conn(broker)
    res = decode_create_acls(c.call(30, v, create_acls_body(v, acls)), v)
    c.close()
    return res


def describe(f=(ANY, None, ANY, None, None, OP_ANY, 1), v=1, broker=0):
    c = conn(broker)
    res = decode_describe_acls(c.call(29, v, describe_acls_body(v, f)), v)
    c.close()
    return res


def delete(filters, v=1, broker=0):
    c = conn(broker)
    res = decode_delete_acls(c.call(31, v, delete_acls_body(v, filters)), v)
    c.close()
    return res


# Once the cluster resource has any ACL, the flag no longer lets the test client manage ACLs:
# every test starts from these alone.
BASE = [(CLUSTER, "kafka-cluster", LITERAL, ANON, "*", ALTER, ALLOW),
        (CLUSTER, "kafka-cluster", LITERAL, ANON, "*", DESCRIBE, ALLOW)]


def delete_all():
    res = delete([(ANY, None, ANY, None, None, OP_ANY, 1)])
    assert res[0][0] == 0, res
    assert create(BASE) == [(0, None)] * len(BASE)


def listed():
    """The ACLs besides BASE."""
    return [b for b in describe()[2] if b not in BASE]


def metadata(topics, broker=0, v=8):
    c = conn(broker) if broker < len(CL.brokers) else None
    md = decode_metadata(c.call(3, v, metadata_body(v, topics, allow=False)), v)
    c.close()
    return md["topics"]


def create_topic(name, rf=1):
    c = conn()
    res = decode_create_topics(c.call(19, 4, create_topics_body(4, [(name, 1, rf, {})])), 4)
    c.close()
    assert res[name]["err"] == 0, res
    deadline = time.time() + 10
    while time.time() < deadline:  # leaders known everywhere
        if all(metadata([name], b)[name]["err"] == 0 and metadata([name], b)[name]["parts"][0]["leader"] >= 0
               for b in range(len(CL.brokers))):
            return
        time.sleep(0.05)
    raise AssertionError("topic %s has no leader" % name)


def eventually(fn, want, timeout=1.0):
    """fn() until it returns want: an ACL change reaches the other brokers within a second."""
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got == want or time.time() > deadline:
            return got
        time.sleep(0.02)


def settled():
    """Waits (at most a second) until every broker lists the same ACLs."""
    deadline = time.time() + 1.0
    while True:
        views = [describe(broker=b)[2] for b in range(len(CL.brokers))]
        if all(v == views[0] for v in views):
            return
        assert time.time() < deadline, "the brokers disagree on the ACLs: %s" % views
        time.sleep(0.02)


def leader(topic):
    """The index in CL.brokers of the leader of topic's partition 0."""
    lid = metadata([topic])[topic]["parts"][0]["leader"]
    return [b.id for b in CL.brokers].index(lid)


def produce_err(topic, acks=1):
    c = conn(leader(topic))
    res = decode_produce(c.call(0, 7, produce_body(7, topic, 0, record_batch([(None, b"v", 0)]), acks)), 7)
    c.close()
    return res[topic][0]["err"]


def zk_call(op, path):
    """One ZooKeeper request (op 4 getData, 8 getChildren) on a session of its own: the reply's
    body after its header."""
    import socket
    host, port = CL.zk.connect.split("/")[0].split(":")
    s = socket.create_connection((host, int(port)), timeout=10)

    def send(b):
        s.sendall(struct.pack(">i", len(b)) + b)

    def recv():
        n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
        return s.recv(n, socket.MSG_WAITALL)
    send(struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16)  # ConnectRequest
    recv()
    p = path.encode()
    send(struct.pack(">ii", 1, op) + struct.pack(">i", len(p)) + p + b"\0")  # path, no watch
    r = recv()
    s.close()
    xid, zxid, err = struct.unpack(">iqi", r[:16])
    assert err == 0, (path, err)
    return r[16:]


def zk_get(path):
    r = zk_call(4, path)
    n = struct.unpack(">i", r[:4])[0]
    return r[4:4 + n].decode()


def zk_children(path):
    r = zk_call(8, path)
    names, pos = [], 4
    for _ in range(struct.unpack(">i", r[:4])[0]):
        n = struct.unpack(">i", r[pos:pos + 4])[0]
        names.append(r[pos + 4:pos + 4 + n].decode())
        pos += 4 + n
    return names


# ---------------------------------------------------------------- tests

def test_create_describe_delete_every_version():
    delete_all()
    for v in range(4):
        lit = (TOPIC, "orders-v%d" % v, LITERAL, "User:alice", "*", READ, ALLOW)
        pre = (GROUP, "app-v%d" % v, PREFIXED, "User:*", "10.0.0.1", ALL, DENY)
        acls = [lit] if v == 0 else [lit, pre]  # v0 knows literal patterns only
        assert create(acls, v) == [(0, None)] * len(acls)
        err, msg, got = describe(v=v)
        assert (err, msg) == (0, None), (err, msg)
        assert lit in got and (v == 0 or pre in got), got
        # a filter on the exact name, on a principal, on a permission
        _, _, got = describe((TOPIC, lit[1], LITERAL, None, None, OP_ANY, 1), v)
        assert got == [lit], got
        if v >= 1:
            _, _, got = describe((ANY, None, ANY, "User:*", None, OP_ANY, DENY), v)
            assert got == [pre], got
            # MATCH: the ACLs that apply to a name
            _, _, got = describe((GROUP, "app-v%d-consumers" % v, MATCH, None, None, OP_ANY, 1), v)
            assert got == [pre], got
        res = delete([(TOPIC, lit[1], LITERAL, None, None, OP_ANY, 1),
                      (ANY, None, ANY, None, None, OP_ANY, DENY)], v)
        assert res[0] == (0, None, [lit]), res
        assert res[1] == (0, None, [pre] if v >= 1 else []), res
        assert listed() == []
    delete_all()
    assert listed() == []


def test_znodes_in_kafkas_layout():
    delete_all()
    assert create([(TOPIC, "zk-lit", LITERAL, "User:alice", "*", WRITE, ALLOW),
                   (TOPIC, "zk-pre", PREFIXED, "User:bob", "1.2.3.4", DESCRIBE, DENY)]) == [(0, None)] * 2
    # the znodes read with ZooKeeper's own protocol
    assert zk_get("/kafka-acl/Topic/zk-lit") == ('{"version":1,"acls":[{"principal":"User:alice",'
                                                 '"permissionType":"Allow","operation":"Write","host":"*"}]}')
    assert '"Deny"' in zk_get("/kafka-acl-extended/prefixed/Topic/zk-pre")
    delete_all()


def test_many_patterns_at_once_and_two_writers_on_the_same_patterns():
    """One CreateAcls of 600 bindings on 300 patterns (literal and prefixed, two entries each,
    one binding given twice) stores them all, each pattern's znode written once with one
    change notification; the change lists keep their newest 100 notifications, give or take
    one trim (every 25th); the other broker applies it all within a second. Two brokers
    adding ACLs to the same 50 patterns at once both store all of theirs (a write that finds
    the znode changed since it was read reads it again). One DeleteAcls removes everything."""
    delete_all()
    acls = []
    for i in range(150):
        for pattern, name in ((LITERAL, "many-%d" % i), (PREFIXED, "many-%d-" % i)):
            acls += [(TOPIC, name, pattern, "User:alice", "*", READ, ALLOW),
                     (TOPIC, name, pattern, "User:bob", "*", WRITE, DENY)]
    t0 = time.time()
    assert create(acls + acls[:1]) == [(0, None)] * (len(acls) + 1)
    took = time.time() - t0
    t0 = time.time()
    got = eventually(lambda: len(describe(broker=1)[2]), len(acls) + len(BASE))
    assert got == len(acls) + len(BASE), "broker 1 lists %d ACLs a second later" % got
    spread = time.time() - t0
    assert listed() == sorted(acls)
    assert zk_get("/kafka-acl-extended/prefixed/Topic/many-7-").count('"principal"') == 2
    for changes in ("/kafka-acl-changes", "/kafka-acl-extended-changes"):
        n = len(zk_children(changes))
        assert 100 <= n <= 125, (changes, n)

    import threading
    shared = ["both-%d" % i for i in range(50)]
    mine = {b: [(GROUP, name, LITERAL, "User:w%d" % b, "*", READ, ALLOW) for name in shared]
            for b in (0, 1)}
    res = {}
    threads = [threading.Thread(target=lambda b=b: res.__setitem__(b, create(mine[b], broker=b)))
               for b in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert res == {0: [(0, None)] * 50, 1: [(0, None)] * 50}, res
    want = sorted(acls + mine[0] + mine[1])
    for b in (0, 1):  # each applies the other's last writes within a second
        assert eventually(lambda: [x for x in describe(broker=b)[2] if x not in BASE], want) == want
    print("  600 ACLs on 300 patterns stored in %.0f ms, listed by the other broker %.0f ms later"
          % (took * 1000, spread * 1000))
    delete_all()
    assert listed() == []
    settled()


def test_kafka_python_admin_client():
    from kafka.admin import (KafkaAdminClient, ACL, ACLFilter, ResourcePattern, ResourcePatternFilter,
                             ResourceType, ACLOperation, ACLPermissionType, ACLResourcePatternType)
    delete_all()
    a = KafkaAdminClient(bootstrap_servers="127.0.0.1:%d" % CL.brokers[1].port, request_timeout_ms=10000)
    try:
        acl = ACL(principal="User:carol", host="*", operation=ACLOperation.WRITE,
                  permission_type=ACLPermissionType.ALLOW,
                  resource_pattern=ResourcePattern(ResourceType.TOPIC, "kp-", ACLResourcePatternType.PREFIXED))
        res = a.create_acls([acl])
        assert len(res["succeeded"]) == 1 and not res["failed"], res
        settled()  # the client may ask either broker next
        f = ACLFilter(principal="User:carol", host=None, operation=ACLOperation.ANY,
                      permission_type=ACLPermissionType.ANY,
                      resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
        got, err = a.describe_acls(f)
        assert [(x.principal, x.operation, x.resource_pattern.resource_name) for x in got] == \
            [("User:carol", ACLOperation.WRITE, "kp-")], got
        res = a.delete_acls([f])
        assert len(res) == 1 and len(res[0][1]) == 1, res
        settled()
        assert a.describe_acls(f)[0] == []
    finally:
        a.close()


def gregor(*args):
    return subprocess.run([GREGOR, "-b", "127.0.0.1:%d" % CL.brokers[0].port] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_cli_acl_add_list_remove():
    delete_all()
    r = gregor("acl", "add", "--allow", "User:alice", "--operation", "Write", "--operation", "Read",
               "--topic", "orders")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Added ACL TOPIC:LITERAL:orders User:alice from * WRITE ALLOW.",
                                     "Added ACL TOPIC:LITERAL:orders User:alice from * READ ALLOW."], r.stdout
    r = gregor("acl", "add", "--deny", "User:*", "--operation", "IdempotentWrite", "--cluster")
    assert r.returncode == 0, r.stderr
    r = gregor("acl", "add", "--allow", "User:tx", "--operation", "Write", "--transactional-id", "tx-",
               "--prefixed", "--host", "10.1.1.1")
    assert r.returncode == 0, r.stderr
    r = gregor("acl", "list")
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.splitlines()) == sorted([
        "TOPIC:LITERAL:orders User:alice from * READ ALLOW",
        "TOPIC:LITERAL:orders User:alice from * WRITE ALLOW",
        "CLUSTER:LITERAL:kafka-cluster User:* from * IDEMPOTENT_WRITE DENY",
        "TRANSACTIONAL_ID:PREFIXED:tx- User:tx from 10.1.1.1 WRITE ALLOW",
        "CLUSTER:LITERAL:kafka-cluster User:ANONYMOUS from * ALTER ALLOW",
        "CLUSTER:LITERAL:kafka-cluster User:ANONYMOUS from * DESCRIBE ALLOW"]), r.stdout
    r = gregor("acl", "list", "--transactional-id", "tx-42", "--match")
    assert r.stdout.splitlines() == ["TRANSACTIONAL_ID:PREFIXED:tx- User:tx from 10.1.1.1 WRITE ALLOW"], r.stdout
    r = gregor("acl", "remove", "--topic", "orders", "--operation", "read")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["Removed ACL TOPIC:LITERAL:orders User:alice from * READ ALLOW."], r.stdout
    assert len(listed()) == 3
    r = gregor("acl", "add", "--allow", "User:x", "--operation", "Fly", "--topic", "t")
    assert r.returncode == 2 and "unknown operation" in r.stderr, r.stderr
    r = gregor("acl", "add", "--allow", "User:x", "--operation", "Read", "--topic", "*", "--prefixed")
    assert r.returncode == 1 and "INVALID_REQUEST" in r.stderr, (r.returncode, r.stderr)
    delete_all()


def test_invalid_requests_get_errors_and_the_broker_carries_on():
    delete_all()
    bad = [(TOPIC, "*", PREFIXED, "User:a", "*", READ, ALLOW),     # PREFIXED with *
           (TOPIC, "t", 9, "User:a", "*", READ, ALLOW),            # unknown pattern type
           (TOPIC, "t", LITERAL, "User:a", "*", 99, ALLOW),        # unknown operation
           (TOPIC, "t", LITERAL, "User:a", "*", OP_ANY, ALLOW),    # a filter value in a binding
           (TOPIC, "t", LITERAL, "User:a", "*", READ, 7),          # unknown permission
           (77, "t", LITERAL, "User:a", "*", READ, ALLOW),         # unknown resource type
           (CLUSTER, "other", LITERAL, "User:a", "*", ALTER, ALLOW),  # not kafka-cluster
           (TOPIC, "t", LITERAL, "alice", "*", READ, ALLOW),       # principal without type
           (TOPIC, "", LITERAL, "User:a", "*", READ, ALLOW),       # empty name
           (TOPIC, "ok", LITERAL, "User:a", "*", READ, ALLOW)]     # the one valid entry
    for v in (1, 3):
        res = create(bad, v)
        assert [e for e, _ in res] == [INVALID_REQUEST] * 9 + [0], res
        assert all(m for _, m in res[:9]), res
    assert listed() == [(TOPIC, "ok", LITERAL, "User:a", "*", READ, ALLOW)]
    err, msg, _ = describe((TOPIC, "*", PREFIXED, None, None, OP_ANY, 1))
    assert err == INVALID_REQUEST and msg, (err, msg)
    err, _, _ = describe((TOPIC, None, 0, None, None, OP_ANY, 1))
    assert err == INVALID_REQUEST
    res = delete([(TOPIC, None, ANY, None, None, 0, 1), (TOPIC, "ok", LITERAL, None, None, OP_ANY, 1)])
    assert res[0][0] == INVALID_REQUEST and res[1][0] == 0 and len(res[1][2]) == 1, res
    # a truncated frame closes the connection; the broker still answers the next one
    c = conn()
    c.send(30, 1, create_acls_body(1, bad)[:20])
    try:
        c.recv_frame()
        raise AssertionError("a truncated CreateAcls was answered")
    except (ConnectionError, OSError):
        pass
    c.close()
    assert describe()[0] == 0


def test_produce_fetch_and_list_offsets_denied():
    delete_all()
    create_topic("acl-rw")
    err = produce_err("acl-rw")
    assert err == 0, err  # no ACL on it yet: everyone (the flag)
    assert create([(TOPIC, "acl-rw", LITERAL, ANON, "*", WRITE, DENY),
                   (TOPIC, "acl-rw", LITERAL, ANON, "*", READ, DENY),
                   (TOPIC, "acl-rw", LITERAL, "User:*", "*", DESCRIBE, ALLOW)]) == [(0, None)] * 3
    assert eventually(lambda: produce_err("acl-rw"), TOPIC_AUTHORIZATION_FAILED) == TOPIC_AUTHORIZATION_FAILED
    c = conn(leader("acl-rw"))
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("acl-rw", 0, 0, 1 << 20)], max_wait=0)), 11)
    c.close()
    assert f["acl-rw"][0]["err"] == TOPIC_AUTHORIZATION_FAILED and f["acl-rw"][0]["records"] in (None, b""), f
    # DESCRIBE is still allowed (a DENY of READ/WRITE does not deny DESCRIBE): metadata shows it
    assert metadata(["acl-rw"])["acl-rw"]["err"] == 0
    # librdkafka's producer sees the error on delivery
    from confluent_kafka import Producer
    errs = []
    p = Producer({"bootstrap.servers": "127.0.0.1:%d" % CL.brokers[0].port, "message.timeout.ms": 5000,
                  "log_level": 2})
    p.produce("acl-rw", b"x", on_delivery=lambda e, m: errs.append(e))
    p.flush(10)
    assert errs and errs[0] is not None and errs[0].name() == "TOPIC_AUTHORIZATION_FAILED", errs
    delete_all()
    assert eventually(lambda: produce_err("acl-rw"), 0) == 0


def test_metadata_hides_topics_and_delete_topics_denied():
    delete_all()
    create_topic("acl-hidden")
    create_topic("acl-visible")
    assert create([(TOPIC, "acl-hidden", LITERAL, "User:alice", "*", ALL, ALLOW)]) == [(0, None)]
    all_topics = metadata(None)
    assert "acl-hidden" not in all_topics and "acl-visible" in all_topics, sorted(all_topics)
    assert metadata(["acl-hidden"])["acl-hidden"]["err"] == TOPIC_AUTHORIZATION_FAILED
    c = conn()
    res = decode_delete_topics(c.call(20, 3, delete_topics_body(3, ["acl-hidden"])), 3)
    c.close()
    assert res == {"acl-hidden": TOPIC_AUTHORIZATION_FAILED}, res
    # DescribeProducers (v0) needs READ on the topic
    c = conn()
    w = W(flex=True).array(["acl-hidden"], lambda w, t: (w.str(t), w.array([0], lambda w, p: w.i32(p)),
                                                         w.tags())).tags()
    r = c.call(61, 0, w.b)
    c.close()
    r.i32()
    got = r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i16(), r.str(), r.array(
        lambda r: None), r.tags())[:2]), r.tags())[:2])
    r.tags()
    r.done()
    assert got == [("acl-hidden", [(0, TOPIC_AUTHORIZATION_FAILED)])], got
    delete_all()
    assert metadata(["acl-hidden"])["acl-hidden"]["err"] == 0  # still there


def test_authorized_operations_follow_the_acls():
    """Metadata v8 and DescribeGroups v3 compute *_authorized_operations when asked: the
    operations the ACLs allow the principal (implied DESCRIBE included), INT32_MIN when not
    asked."""
    delete_all()
    create_topic("acl-ops")
    assert create([(TOPIC, "acl-ops", LITERAL, ANON, "*", READ, ALLOW),
                   (GROUP, "acl-ops-g", LITERAL, ANON, "*", DELETE, ALLOW)]) == [(0, None)] * 2

    def md_ops(asked):
        w = W().array(["acl-ops"], lambda w, t: w.str(t)).i8(0).i8(asked).i8(asked)
        c = conn()
        r = c.call(3, 8, w.b)
        c.close()
        cluster_ops = struct.unpack(">i", r.d[-4:])[0]
        return decode_metadata(r, 8)["topics"]["acl-ops"]["ops"], cluster_ops

    bits = lambda *ops: sum(1 << op for op in ops)  # noqa: E731
    # READ implies DESCRIBE; the cluster has BASE's ALTER and DESCRIBE
    assert md_ops(1) == (bits(READ, DESCRIBE), bits(ALTER, DESCRIBE)), md_ops(1)
    assert md_ops(0) == (-2 ** 31, -2 ** 31), md_ops(0)

    def group_ops(asked):
        c = conn()
        r = c.call(15, 3, W().array(["acl-ops-g"], lambda w, g: w.str(g)).i8(asked).b)
        c.close()
        r.i32()
        g = r.array(lambda r: (r.i16(), r.str(), r.str(), r.str(), r.str(),
                               r.array(lambda r: (r.str(), r.str(), r.str(), r.bytes(), r.bytes())),
                               r.i32()))
        r.done()
        return g[0][6]
    assert group_ops(1) == bits(DELETE, DESCRIBE), group_ops(1)
    assert group_ops(0) == -2 ** 31
    delete_all()


def test_groups_and_transactions_denied():
    delete_all()
    assert create([(GROUP, "acl-g", LITERAL, ANON, "*", ALL, DENY),
                   (TRANSACTIONAL_ID, "acl-tx", PREFIXED, ANON, "*", WRITE, DENY),
                   (CLUSTER, "kafka-cluster", LITERAL, ANON, "*", 12, DENY)]) == [(0, None)] * 3  # 12 IdempotentWrite

    def first_i16(key, v, body, skip=0):
        c = conn()
        r = c.call(key, v, body)
        c.close()
        r.take(skip)
        return r.i16()
    # FindCoordinator v1 (group and transactional id): throttle_time_ms, then error_code
    assert eventually(lambda: first_i16(10, 1, W().str("acl-g").i8(0).b, 4), GROUP_AUTHORIZATION_FAILED) == \
        GROUP_AUTHORIZATION_FAILED
    # JoinGroup v0: error_code first
    join = W().str("acl-g").i32(10000).str("").str("consumer").array(
        [("range", b"")], lambda w, p: (w.str(p[0]), w.bytes(p[1]))).b
    assert first_i16(11, 0, join) == GROUP_AUTHORIZATION_FAILED
    # InitProducerId v1: a denied transactional id, and an idempotent producer without
    # IdempotentWrite on the cluster
    assert eventually(lambda: first_i16(22, 1, W().str("acl-tx-1").i32(60000).b, 4),
                      TRANSACTIONAL_ID_AUTHORIZATION_FAILED) == TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert first_i16(22, 1, W().str(None).i32(60000).b, 4) == CLUSTER_AUTHORIZATION_FAILED
    delete_all()  # the cluster keeps BASE's ACLs: IdempotentWrite needs an ALLOW of its own
    assert first_i16(22, 1, W().str(None).i32(60000).b, 4) == CLUSTER_AUTHORIZATION_FAILED
    assert create([(CLUSTER, "kafka-cluster", LITERAL, ANON, "*", 12, ALLOW)]) == [(0, None)]
    assert first_i16(22, 1, W().str(None).i32(60000).b, 4) == 0
    delete_all()


def test_consumer_group_with_acls():
    """librdkafka's consumer with exactly the ACLs a consumer needs, then without READ on its group."""
    from confluent_kafka import Consumer
    delete_all()
    create_topic("acl-cg")
    c = conn(leader("acl-cg"))
    r = decode_produce(c.call(0, 7, produce_body(7, "acl-cg", 0, record_batch([(None, b"a", 0), (None, b"b", 0)]))), 7)
    c.close()
    assert r["acl-cg"][0]["err"] == 0, r
    assert create([(TOPIC, "acl-cg", LITERAL, ANON, "*", READ, ALLOW),
                   (GROUP, "acl-cg", PREFIXED, ANON, "*", READ, ALLOW)]) == [(0, None)] * 2
    settled()

    def consumer(group):
        return Consumer({"bootstrap.servers": "127.0.0.1:%d" % CL.brokers[0].port, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": 2,
                         "session.timeout.ms": 6000})
    k = consumer("acl-cg-1")
    k.subscribe(["acl-cg"])
    got, deadline = [], time.time() + 20
    while len(got) < 2 and time.time() < deadline:
        m = k.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    assert got == [b"a", b"b"], got
    k.commit(asynchronous=False)
    k.close()
    # the group is someone else's now
    assert create([(GROUP, "acl-cg-2", LITERAL, ANON, "*", READ, DENY)]) == [(0, None)]
    settled()  # the group's coordinator may be the other broker
    k = consumer("acl-cg-2")
    k.subscribe(["acl-cg"])
    err, deadline = None, time.time() + 15
    while err is None and time.time() < deadline:
        m = k.poll(0.5)
        if m is not None and m.error():
            err = m.error()
        elif m is not None:
            raise AssertionError("a consumer of a denied group got a record")
    k.close()
    assert err is not None and err.name() == "GROUP_AUTHORIZATION_FAILED", err
    delete_all()


def test_change_applied_on_every_broker_within_a_second():
    delete_all()
    create_topic("acl-spread")
    assert metadata(["acl-spread"], broker=1)["acl-spread"]["err"] == 0
    t0 = time.time()
    assert create([(TOPIC, "acl-spr", PREFIXED, "User:alice", "*", READ, ALLOW)], broker=0) == [(0, None)]
    while metadata(["acl-spread"], broker=1)["acl-spread"]["err"] != TOPIC_AUTHORIZATION_FAILED:
        assert time.time() - t0 < 1.0, "broker 1 did not apply the ACL within a second"
        time.sleep(0.02)
    took = time.time() - t0
    t0 = time.time()
    delete([(TOPIC, "acl-spr", PREFIXED, None, None, OP_ANY, 1)], broker=0)
    while metadata(["acl-spread"], broker=1)["acl-spread"]["err"] != 0:
        assert time.time() - t0 < 1.0, "broker 1 did not apply the removal within a second"
        time.sleep(0.02)
    print("  applied on the other broker in %.0f ms, removed in %.0f ms" % (took * 1000, (time.time() - t0) * 1000))


def test_replication_keeps_working_with_the_authorizer_on():
    delete_all()
    # clients may not do cluster actions; brokers (inter-broker listener) still replicate
    assert create([(CLUSTER, "kafka-cluster", LITERAL, "User:*", "*", 9, DENY)]) == [(0, None)]
    create_topic("acl-rf2", rf=2)
    assert produce_err("acl-rf2", acks=-1) == 0
    # a follower's fetch from a client (replica_id 1) is refused on the client listener
    w = W().i32(1).i32(0).i32(1).i32(1 << 20).i8(0).i32(0).i32(-1)
    w.array([("acl-rf2", 0)], lambda w, t: (w.str(t[0]), w.array([0], lambda w, p: (
        w.i32(p).i32(-1).i64(0).i64(-1).i32(1 << 20))))).i32(0).str("")
    def follower_fetch():
        c = conn(leader("acl-rf2"))
        f = decode_fetch(c.call(1, 11, w.b), 11)
        c.close()
        return f["acl-rf2"][0]["err"]
    assert eventually(follower_fetch, TOPIC_AUTHORIZATION_FAILED) == TOPIC_AUTHORIZATION_FAILED
    # a follower's OffsetForLeaderEpoch (v3, replica_id 1) gets CLUSTER_AUTHORIZATION_FAILED
    # for every partition, as Kafka answers it, and the connection stays usable
    c = conn(leader("acl-rf2"))
    ole = W().i32(1).array([("acl-rf2", [0, 1])], lambda w, t: (w.str(t[0]), w.array(
        t[1], lambda w, p: w.i32(p).i32(-1).i32(0))))
    r = c.call(23, 3, ole.b)
    r.i32()
    got = r.array(lambda r: (r.str(), r.array(lambda r: (r.i16(), r.i32(), r.i32(), r.i64()))))
    r.done()
    assert got == [("acl-rf2", [(CLUSTER_AUTHORIZATION_FAILED, 0, -1, -1),
                                (CLUSTER_AUTHORIZATION_FAILED, 1, -1, -1)])], got
    assert decode_metadata(c.call(3, 8, metadata_body(8, ["acl-rf2"], allow=False)), 8)
    c.close()
    delete_all()


def test_allow_everyone_false_on_a_third_broker():
    delete_all()
    create_topic("acl-strict")
    create_topic("acl-loaded")
    # an ACL that exists before the broker starts: loaded at start
    assert create([(TOPIC, "acl-loaded", LITERAL, ANON, "*", DESCRIBE, ALLOW)]) == [(0, None)]
    b = Broker(CL.tmp, CL.zk, 2, COMMON + ["allow.everyone.if.no.acl.found=false"] + listeners(2))
    CL.brokers.append(b)
    deadline = time.time() + 10
    while time.time() < deadline:
        t = metadata(["acl-strict"], broker=2)["acl-strict"]
        if t["err"] == TOPIC_AUTHORIZATION_FAILED:
            break
        time.sleep(0.1)
    assert t["err"] == TOPIC_AUTHORIZATION_FAILED, t  # no ACL: nobody but super users
    assert metadata(["acl-loaded"], broker=2)["acl-loaded"]["err"] == 0
    assert metadata(["acl-strict"], broker=0)["acl-strict"]["err"] == 0  # the flag on broker 0
    c = Conn("127.0.0.1", b.port)
    res = decode_produce(c.call(0, 7, produce_body(7, "acl-strict", 0, record_batch([(None, b"v", 0)]))), 7)
    c.close()
    assert res["acl-strict"][0]["err"] == TOPIC_AUTHORIZATION_FAILED, res
    assert create([(TOPIC, "acl-strict", LITERAL, ANON, "*", DESCRIBE, ALLOW)]) == [(0, None)]
    deadline = time.time() + 2
    while metadata(["acl-strict"], broker=2)["acl-strict"]["err"] != 0:
        assert time.time() < deadline
        time.sleep(0.05)
    delete_all()


def test_write_txn_markers_needs_cluster_action():
    """WriteTxnMarkers from a client: on the client listener, and on a one-listener broker (so
    the inter-broker listener is a client one) for a principal without ClusterAction, every
    partition is answered CLUSTER_AUTHORIZATION_FAILED and no marker is written; with
    ClusterAction granted the same request writes it."""
    import test_offset_for_leader_epoch as olep
    import test_transactions as tx
    delete_all()
    client = CL.brokers[0].port  # broker 0's client listener (the third broker knows no ACLs)
    olep.create(client, "acl-wtm", 1, assignment=[(0, [0])])
    olep.wait_leaders(client, "acl-wtm", 1, want=0)
    assert tx.end_txn(client, "acl-wtm", 9000, 0, True) == CLUSTER_AUTHORIZATION_FAILED
    assert tx.latest(client, "acl-wtm", 0) == 0
    one = Cluster(overrides=["authorizer.class.name=gregor.security.authorizer.AclAuthorizer",
                             "super.users=User:admin", "allow.everyone.if.no.acl.found=true"])
    try:
        port = one.brokers[0].port
        olep.create(port, "wtm", 1)
        olep.wait_leaders(port, "wtm", 1, want=0)

        def acls(key, body):
            c = Conn("127.0.0.1", port)
            try:
                return decode_create_acls(c.call(key, 1, body), 1)
            finally:
                c.close()
        def probe():  # writes nothing either way: 3 (UNKNOWN_TOPIC_OR_PARTITION) when allowed
            return tx.end_txn(port, "wtm-none", 9000, 0, True)
        assert probe() == 3
        # ACLs on the cluster that do not grant ClusterAction: refused
        base = [(CLUSTER, "kafka-cluster", LITERAL, ANON, "*", op, ALLOW) for op in (ALTER, DESCRIBE)]
        assert acls(30, create_acls_body(1, base)) == [(0, None)] * 2
        assert eventually(probe, CLUSTER_AUTHORIZATION_FAILED) == CLUSTER_AUTHORIZATION_FAILED
        res = tx.markers(port, [(9000, 0, True, [("wtm", [0, 1])], 0),
                                (9001, 0, False, [("wtm", [0])], 0)], v=0)
        assert res == {(9000, "wtm", 0): CLUSTER_AUTHORIZATION_FAILED,
                       (9000, "wtm", 1): CLUSTER_AUTHORIZATION_FAILED,
                       (9001, "wtm", 0): CLUSTER_AUTHORIZATION_FAILED}, res
        assert tx.latest(port, "wtm", 0) == 0, "nothing written"
        # granted ClusterAction, the same marker is written
        grant = [(CLUSTER, "kafka-cluster", LITERAL, ANON, "*", 9, ALLOW)]  # 9 ClusterAction
        assert acls(30, create_acls_body(1, grant)) == [(0, None)]
        assert eventually(probe, 3) == 3
        assert tx.end_txn(port, "wtm", 9000, 0, True) == 0
        assert tx.latest(port, "wtm", 0) == 1
    finally:
        unclean = one.stop()
    assert not unclean, unclean


def test_deny_alter_on_cluster_locks_acl_changes():
    delete_all()
    assert create([(CLUSTER, "kafka-cluster", LITERAL, ANON, "*", ALTER, DENY)]) == [(0, None)]
    assert create([(TOPIC, "x", LITERAL, ANON, "*", READ, ALLOW)]) == [(CLUSTER_AUTHORIZATION_FAILED, None)]
    res = delete([(ANY, None, ANY, None, None, OP_ANY, 1)])
    assert res[0][0] == CLUSTER_AUTHORIZATION_FAILED, res
    assert describe()[0] == 0  # DESCRIBE is not ALTER


if __name__ == "__main__":
    sys.exit(run_suite(CL, globals()))
