#!/usr/bin/env python3
"""
tests/integration/groups/test_admin.py — static membership and group administration on a
real 3-broker cluster, with clients nobody here wrote: a librdkafka member with
group.instance.id restarted within its session timeout gets its partitions back with no
rebalance of the others; the groups' state, members, assignments and committed offsets as
confluent-kafka's list_groups (ListGroups + DescribeGroups) and kafka-python's
KafkaAdminClient (list/describe groups, list offsets, delete groups) report them; offsets
altered while the group is empty (a standalone commit) are where a new member starts.
(Debian's confluent-kafka 1.7 has no list/describe/alter_consumer_group(_offsets) calls; its
list_groups and kafka-python's admin client cover the same requests.)
"""
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
from gtest import Member, Feeder, wait, wait_equal, wait_balanced, check_history, group_offsets  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from kafka import KafkaAdminClient  # noqa: E402

CL = None


def decode_assignment(b):
    """A consumer protocol assignment (version, [topic, [partition]], user data) -> {topic: [p]}."""
    at = 2
    out = {}
    (nt,) = struct.unpack_from(">i", b, at)
    at += 4
    for _ in range(nt):
        (ln,) = struct.unpack_from(">h", b, at)
        name = b[at + 2:at + 2 + ln].decode()
        at += 2 + ln
        (np_,) = struct.unpack_from(">i", b, at)
        at += 4
        out[name] = list(struct.unpack_from(">%di" % np_, b, at))
        at += 4 * np_
    return out


def errs(res):
    """kafka-python's delete_consumer_groups answer as [(group, error class name)]."""
    return [(gid, (err if isinstance(err, type) else type(err)).__name__) for gid, err in res]


class Dec:
    """Kafka's classic big-endian encoding, as __consumer_offsets records use it."""

    def __init__(self, b):
        self.b, self.at = b, 0

    def _u(self, fmt, n):
        (v,) = struct.unpack_from(fmt, self.b, self.at)
        self.at += n
        return v

    def i16(self): return self._u(">h", 2)
    def i32(self): return self._u(">i", 4)
    def i64(self): return self._u(">q", 8)

    def str(self):
        n = self.i16()
        if n < 0:
            return None
        v = self.b[self.at:self.at + n].decode()
        self.at += n
        return v

    def bytes(self):
        n = self.i32()
        v = self.b[self.at:self.at + n]
        self.at += n
        return v

    def done(self):
        assert self.at == len(self.b), "%d bytes left in a __consumer_offsets record" % (len(self.b) - self.at)


def decode_offsets_record(key, value):
    """(kind, fields) of one __consumer_offsets record, Kafka's key v0-v2 / value layouts."""
    k = Dec(key)
    kv = k.i16()
    if kv in (0, 1):
        out = {"group": k.str(), "topic": k.str(), "partition": k.i32()}
        k.done()
        if value is None:
            return "offset", dict(out, tombstone=True)
        d = Dec(value)
        vv = d.i16()
        out["offset"] = d.i64()
        out["epoch"] = d.i32() if vv >= 3 else -1
        out["metadata"], out["commit_ts"] = d.str(), d.i64()
        if vv == 1:
            d.i64()  # expire timestamp
        d.done()
        return "offset", out
    assert kv == 2, "unknown key version %d" % kv
    out = {"group": k.str()}
    k.done()
    if value is None:
        return "group", dict(out, tombstone=True)
    d = Dec(value)
    vv = d.i16()
    out.update(ptype=d.str(), generation=d.i32(), protocol=d.str(), leader=d.str())
    if vv >= 2:
        d.i64()
    members = []
    for _ in range(d.i32()):
        m = {"id": d.str(), "instance": d.str() if vv >= 3 else None, "client": d.str(), "host": d.str()}
        if vv >= 1:
            m["rebalance_timeout"] = d.i32()
        m["session_timeout"], m["subscription"], m["assignment"] = d.i32(), d.bytes(), d.bytes()
        members.append(m)
    out["members"] = members
    d.done()
    return "group", out


def read_offsets_partition(group):
    """Every record of the __consumer_offsets partition that stores group, decoded."""
    p = gtest.offsets_partition(group)
    c = Consumer({"bootstrap.servers": gtest.bootstrap(CL), "group.id": "gtest-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        c.assign([TopicPartition("__consumer_offsets", p, 0)])
        out = []
        end = time.time() + 20
        while time.time() < end:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    break
                raise AssertionError(m.error())
            out.append(decode_offsets_record(m.key(), m.value()))
        return out
    finally:
        c.close()


def test_static_member_restart_causes_no_rebalance():
    topic, n, group = "s7-topic", 4, "s7"
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, "s7")
    a = Member(CL, group, topic, "s7-a", instance_id="inst-a", session_timeout=10000)
    b = Member(CL, group, topic, "s7-b", instance_id="inst-b", session_timeout=10000)
    own = wait_balanced([a, b], n, 40)
    f.send(400).flush()
    wait(lambda: len(set(gtest.consumed_values([a, b]))) >= 400, 30, "first records consumed")
    b_events = len([e for e in b.evs() if e["ev"] in ("assign", "revoke", "lost")])
    a.stop()  # a static member's close sends no LeaveGroup
    t0 = time.time()
    a2 = Member(CL, group, topic, "s7-a2", instance_id="inst-a", session_timeout=10000)
    wait(lambda: a2.owned() == own["s7-a"], 15, "the restarted static member getting its partitions back")
    back = time.time() - t0
    assert back < 10, "took %.1f s, longer than the session timeout" % back
    f.send(400).flush()
    wait(lambda: set(f.acked) <= set(gtest.consumed_values([a, b, a2])), 30, "records after the restart")
    time.sleep(1.0)
    b_after = [e for e in b.evs() if e["ev"] in ("assign", "revoke", "lost")]
    assert len(b_after) == b_events, "the other member was rebalanced: %s" % b_after
    assert {p for p, _, _ in a2.records()} <= own["s7-a"]
    for m in (a2, b):
        m.stop()
    check_history(CL, group, topic, n, [a, a2, b], [f])


def test_list_describe_offsets_alter_delete():
    topic, n, group = "a7-topic", 4, "a7"
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, "a7").send(400).flush()
    ms = [Member(CL, group, topic, "a7-m%d" % i) for i in range(2)]
    own = wait_balanced(ms, n, 40)
    wait(lambda: len(set(gtest.consumed_values(ms))) >= 400, 30, "records consumed")
    wait_equal(lambda: group_offsets(CL, group, topic, n), {p: 100 for p in range(n)}, 20, "commits")

    # __consumer_offsets holds Kafka's own record formats (what Burrow and Kafka's tools read),
    # on the partition Kafka would use: the latest commit of each partition, and the group's
    # metadata with its protocol, leader and both members with their assignments.
    recs = [(kind, r) for kind, r in read_offsets_partition(group) if r["group"] == group]
    last = {}
    for kind, r in recs:
        if kind == "offset" and r["topic"] == topic:
            last[r["partition"]] = r["offset"]
    assert last == {p: 100 for p in range(n)}, last
    metas = [r for kind, r in recs if kind == "group"]
    assert metas, recs[:5]
    gm = metas[-1]
    assert (gm["ptype"], gm["protocol"]) == ("consumer", "range") and gm["generation"] >= 1, gm
    assert sorted(m["client"] for m in gm["members"]) == ["a7-m0", "a7-m1"], gm
    assert gm["leader"] in [m["id"] for m in gm["members"]], gm
    for m in gm["members"]:
        assert sorted(decode_assignment(m["assignment"])[topic]) == sorted(own[m["client"]]), m
        assert m["session_timeout"] == 6000, m

    # confluent-kafka's list_groups: ListGroups to every broker, DescribeGroups at the coordinator.
    ca = gtest.admin(CL)
    gl = ca.list_groups(group, timeout=10)
    assert len(gl) == 1, gl
    g = gl[0]
    assert (g.id, g.state, g.protocol_type, g.protocol) == (group, "Stable", "consumer", "range"), g.__dict__
    assert sorted(m.client_id for m in g.members) == ["a7-m0", "a7-m1"], [m.__dict__ for m in g.members]
    for m in g.members:
        assert m.client_host, m.__dict__
        assert sorted(decode_assignment(m.assignment)[topic]) == sorted(own[m.client_id]), m.__dict__

    ka = KafkaAdminClient(bootstrap_servers=gtest.bootstrap(CL), client_id="gtest-admin")
    try:
        assert (group, "consumer") in ka.list_consumer_groups()
        (d,) = ka.describe_consumer_groups([group])
        assert (d.group, d.state, d.protocol_type, d.protocol) == (group, "Stable", "consumer", "range"), d
        assert sorted(m.client_id for m in d.members) == ["a7-m0", "a7-m1"], d
        offs = ka.list_consumer_group_offsets(group)
        assert {tp.partition: om.offset for tp, om in offs.items() if tp.topic == topic} == \
            {p: 100 for p in range(n)}, offs
        # Deleting a group with members is refused (NON_EMPTY_GROUP).
        res = ka.delete_consumer_groups([group])
        assert errs(res) == [(group, "NonEmptyGroupError")], res

        for m in ms:
            m.stop()
        check_history(CL, group, topic, n, ms, [f])
        wait(lambda: ca.list_groups(group, timeout=10)[0].state == "Empty", 10, "the group empty")

        # Altering the offsets of an empty group: a standalone commit (no generation).
        c = Consumer({"bootstrap.servers": gtest.bootstrap(CL), "group.id": group})
        c.commit(offsets=[TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 50)], asynchronous=False)
        c.close()
        want = {0: 10, 1: 50, 2: 100, 3: 100}
        assert {tp.partition: om.offset for tp, om in ka.list_consumer_group_offsets(group).items()} == want
        # A new member starts where the altered offsets say: re-reads 90 + 50 records.
        m = Member(CL, group, topic, "a7-new")
        wait_balanced([m], n, 30)
        wait(lambda: len(m.records()) >= 140, 20, "records re-read from the altered offsets")
        time.sleep(0.5)
        got = sorted((p, o) for p, o, _ in m.records())
        assert got == [(0, o) for o in range(10, 100)] + [(1, o) for o in range(50, 100)], got[:5]
        m.stop()

        res = ka.delete_consumer_groups([group])
        assert errs(res) == [(group, "NoError")], res
        assert group not in [gid for gid, _ in ka.list_consumer_groups()]
        assert [g.state for g in ca.list_groups(group, timeout=10)] in ([], ["Dead"])
        assert group_offsets(CL, group, topic, n) == {p: -1001 for p in range(n)}
        # DeleteGroups wrote tombstones: the last record of every key of the group is null.
        latest = {}
        for kind, r in read_offsets_partition(group):
            if r["group"] == group:
                latest[(kind, r.get("topic"), r.get("partition"))] = r.get("tombstone", False)
        assert latest and all(latest.values()), latest
        res = ka.delete_consumer_groups([group])
        assert errs(res) == [(group, "GroupIdNotFoundError")], res
    finally:
        ka.close()


if __name__ == "__main__":
    CL = gtest.group_cluster()
    print("cluster in", CL.tmp, flush=True)
    sys.exit(gtest.run_suite(CL, globals()))
