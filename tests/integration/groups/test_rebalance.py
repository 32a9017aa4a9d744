#!/usr/bin/env python3
"""
tests/integration/groups/test_rebalance.py — the group state machine of a real broker driven
over the raw protocol (gwire.py), where timing and order are under the test's control: a
second member's join parks until the first rejoins, a follower's SyncGroup waits for the
leader's assignment, a member that does not rejoin within the rebalance timeout is dropped,
a member that stops heartbeating expires after its session timeout, a static member rejoining
with a new member id fences the old one without a rebalance, and bad input gets Kafka's
errors (invalid group id, session timeout out of bounds, inconsistent protocols,
group.max.size, commits to unknown partitions, oversize commit metadata).
"""
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
import gwire  # noqa: E402
from gwire import (NONE, ILLEGAL_GEN, UNKNOWN_MEMBER, MEMBER_ID_REQUIRED, REBALANCING,  # noqa: E402
                   INCONSISTENT_PROTOCOL, INVALID_GROUP_ID, INVALID_SESSION, UNKNOWN_TOPIC,
                   METADATA_TOO_LARGE, MAX_SIZE, FENCED, join, sync, heartbeat, leave, commit,
                   describe, find_coordinator)

CL = None
POOL = concurrent.futures.ThreadPoolExecutor(8)


def ready(group):
    gtest.wait(lambda: find_coordinator(3, group)["err"] == NONE, 30, "the coordinator of " + group)


def new_member(group, **kw):
    """A dynamic member through MEMBER_ID_REQUIRED; returns the second join's answer."""
    j = join(5, group, **kw)
    assert j["err"] == MEMBER_ID_REQUIRED, j
    return j["member"]


def stable_single(group, **kw):
    mid = new_member(group, **kw)
    j = join(5, group, member=mid, **kw)
    assert j["err"] == NONE, j
    s = sync(3, group, j["gen"], mid, [(mid, b"a-" + mid.encode())])
    assert s["err"] == NONE, s
    return mid, j["gen"]


def wait_heartbeat(group, gen, mid, want, timeout=5):
    gtest.wait(lambda: heartbeat(3, group, gen, mid) == want, timeout, "heartbeat answering %d" % want, 0.05)


def test_second_member_rebalance_and_follower_sync_waits_for_leader():
    g = "rb-two"
    ready(g)
    a, gen1 = stable_single(g)
    b = new_member(g)
    jb = POOL.submit(join, 5, g, member=b)  # parks until a rejoins
    wait_heartbeat(g, gen1, a, REBALANCING)
    assert not jb.done(), "b's join answered before a rejoined"
    # While PreparingRebalance a member of the current generation still commits (Kafka does:
    # a cooperative member keeps consuming until it rejoins).
    assert commit(2, g, gen1, a, [(2, 77, -1, None)]) == {2: NONE}
    ja = join(5, g, member=a)
    jb = jb.result(10)
    assert ja["err"] == NONE and jb["err"] == NONE, (ja, jb)
    gen2 = ja["gen"]
    assert gen2 == gen1 + 1 and jb["gen"] == gen2, (ja, jb)
    assert ja["leader"] == jb["leader"] and ja["leader"] in (a, b), (ja, jb)
    leader, follower = (ja, jb) if ja["leader"] == a else (jb, ja)
    assert sorted(m["id"] for m in leader["members"]) == sorted([a, b]) and follower["members"] == [], (ja, jb)
    # The follower's sync parks until the leader's brings the assignment.
    sf = POOL.submit(sync, 3, g, gen2, follower["member"], [])
    time.sleep(0.3)
    assert not sf.done(), "the follower's SyncGroup answered before the leader's"
    sl = sync(3, g, gen2, leader["member"], [(a, b"for-a"), (b, b"for-b")])
    sf = sf.result(10)
    got = {leader["member"]: sl["assignment"], follower["member"]: sf["assignment"]}
    assert got == {a: b"for-a", b: b"for-b"}, got
    assert heartbeat(3, g, gen2, a) == NONE and heartbeat(3, g, gen2, b) == NONE
    assert commit(2, g, gen1, a, [(0, 1, -1, None)]) == {0: ILLEGAL_GEN}
    assert commit(2, g, gen2, a, [(0, 1, -1, None)]) == {0: NONE}
    d = describe(3, [g])[g]
    assert d["state"] == "Stable" and sorted(m["id"] for m in d["members"]) == sorted([a, b]), d
    leave(3, g, a)
    leave(3, g, b)


def test_leader_that_never_syncs_expires_and_the_follower_rejoins():
    g = "rb-nosync"
    ready(g)
    kw = {"session": 1500, "rebalance": 1500}
    a, gen1 = stable_single(g, **kw)
    b = new_member(g, **kw)
    jb = POOL.submit(join, 5, g, member=b, **kw)
    wait_heartbeat(g, gen1, a, REBALANCING)
    ja = join(5, g, member=a, **kw)
    jb = jb.result(10)
    gen2 = ja["gen"]
    leader = ja["leader"]
    follower = b if leader == a else a
    t0 = time.time()
    # The follower's SyncGroup waits; the leader never sends its own nor heartbeats.
    sf = sync(3, g, gen2, follower, [])
    took = time.time() - t0
    assert sf["err"] == REBALANCING, sf
    assert 1.0 <= took <= 6, "the parked SyncGroup was answered after %.1f s" % took
    j = join(5, g, member=follower, **kw)
    assert j["err"] == NONE and j["gen"] == gen2 + 1 and [m["id"] for m in j["members"]] == [follower], j
    assert heartbeat(3, g, gen2, leader) == UNKNOWN_MEMBER
    leave(3, g, follower)


def test_member_not_rejoining_is_dropped_after_the_rebalance_timeout():
    g = "rb-timeout"
    ready(g)
    kw = {"rebalance": 1500}
    a, gen1 = stable_single(g, **kw)
    b = new_member(g, **kw)
    jb = POOL.submit(join, 5, g, member=b, **kw)
    ja = join(5, g, member=a, **kw)
    jb = jb.result(10)
    assert ja["err"] == jb["err"] == NONE, (ja, jb)
    gen2 = ja["gen"]
    sl = [j for j in (ja, jb) if j["leader"] == j["member"]][0]
    POOL.submit(sync, 3, g, gen2, [j for j in (ja, jb) if j is not sl][0]["member"], [])
    assert sync(3, g, gen2, sl["member"], [(a, b"x"), (b, b"y")])["err"] == NONE
    # c joins; a rejoins, b never does: after the rebalance timeout the group goes on without b.
    c = new_member(g, **kw)
    t0 = time.time()
    jc = POOL.submit(join, 5, g, member=c, **kw)
    wait_heartbeat(g, gen2, a, REBALANCING)
    ja = join(5, g, member=a, **kw)
    jc = jc.result(10)
    took = time.time() - t0
    assert ja["err"] == jc["err"] == NONE and ja["gen"] == gen2 + 1, (ja, jc)
    assert 1.0 <= took <= 6, "the rebalance completed after %.1f s (rebalance timeout 1.5 s)" % took
    members = [m["id"] for j in (ja, jc) for m in j["members"]]
    assert sorted(members) == sorted([a, c]), members
    assert heartbeat(3, g, gen2, b) == UNKNOWN_MEMBER
    leave(3, g, a)
    leave(3, g, c)


def test_member_without_heartbeats_expires_after_its_session_timeout():
    g = "rb-session"
    ready(g)
    a, gen = stable_single(g, session=1500)
    assert commit(2, g, gen, a, [(0, 42, -1, None)]) == {0: NONE}
    t0 = time.time()
    gtest.wait(lambda: describe(3, [g])[g]["state"] == "Empty", 8, "the group empty after the session timeout")
    took = time.time() - t0
    assert took >= 1.0, "expired after %.1f s, before its 1.5 s session" % took
    assert describe(3, [g])[g]["members"] == []
    assert heartbeat(3, g, gen, a) == UNKNOWN_MEMBER
    ps = gwire.fetch(1, g, [0])[g][1][gwire.TOPIC]
    assert ps[0]["offset"] == 42, ps  # the commit stays


def test_static_member_rejoin_fences_the_old_member_id_without_rebalance():
    g = "rb-static"
    ready(g)
    j = join(5, g, instance="inst-1")
    assert j["err"] == NONE, j  # static members get no MEMBER_ID_REQUIRED
    m1, gen = j["member"], j["gen"]
    assert sync(3, g, gen, m1, [(m1, b"static-assignment")], instance="inst-1")["err"] == NONE
    # The same instance restarts: a new member id, the same generation, no rebalance.
    j2 = join(5, g, instance="inst-1")
    assert j2["err"] == NONE and j2["member"] != m1 and j2["gen"] == gen, j2
    m2 = j2["member"]
    s = sync(3, g, gen, m2, [], instance="inst-1")
    assert s["err"] == NONE and s["assignment"] == b"static-assignment", s
    assert describe(4, [g])[g]["state"] == "Stable"
    assert heartbeat(3, g, gen, m2, instance="inst-1") == NONE
    assert heartbeat(3, g, gen, m1, instance="inst-1") == FENCED
    assert commit(7, g, gen, m1, [(0, 3, -1, None)], instance="inst-1") == {0: FENCED}
    assert commit(7, g, gen, m2, [(0, 3, -1, None)], instance="inst-1") == {0: NONE}
    lv = leave(3, g, m2, instance="inst-1")
    assert lv["err"] == NONE and lv["members"] == [(m2, "inst-1", NONE)], lv


def test_bad_input_gets_kafka_errors():
    g = "rb-bad"
    ready(g)
    assert join(5, "")["err"] == INVALID_GROUP_ID
    assert join(5, g, session=500)["err"] == INVALID_SESSION  # below group.min.session.timeout.ms
    assert join(5, g, session=3600000)["err"] == INVALID_SESSION  # above the max
    a, gen = stable_single(g)
    # A member of another protocol type, or with no protocol in common, is refused at once.
    assert join(5, g, ptype="connect")["err"] == INCONSISTENT_PROTOCOL
    assert join(1, g, protos=("roundrobin",))["err"] == INCONSISTENT_PROTOCOL
    res = commit(2, g, gen, a, [(0, 5, -1, None), (7, 5, -1, None)])
    assert res == {0: NONE, 7: UNKNOWN_TOPIC}, res
    res = commit(2, g, gen, a, [(0, 5, -1, None)], topic="no-such-topic")
    assert res == {0: UNKNOWN_TOPIC}, res
    res = commit(2, g, gen, a, [(1, 5, -1, "m" * 5000)])
    assert res == {1: METADATA_TOO_LARGE}, res
    assert gwire.fetch(1, g, [1])[g][1][gwire.TOPIC][1]["offset"] == -1
    leave(3, g, a)


def test_group_max_size():
    g = "rb-max"
    ready(g)
    # (With group.initial.rebalance.delay.ms=0 the first join completes alone, as in Kafka.)
    first, gen1 = stable_single(g)
    ids = [first] + [new_member(g) for _ in range(2)]
    joins = [POOL.submit(join, 5, g, member=m) for m in ids[1:]]
    wait_heartbeat(g, gen1, first, REBALANCING)
    res = [join(5, g, member=first)] + [f.result(10) for f in joins]
    assert all(r["err"] == NONE for r in res), res
    gen = res[0]["gen"]
    # A fourth member: refused at its first join or at the join with its id.
    j = join(5, g)
    assert j["err"] == MAX_SIZE or (j["err"] == MEMBER_ID_REQUIRED and
                                    join(5, g, member=j["member"])["err"] == MAX_SIZE), j
    leader = [r for r in res if r["leader"] == r["member"]][0]["member"]
    for m in ids[:3]:
        if m != leader:
            POOL.submit(sync, 3, g, gen, m, [])
    assert sync(3, g, gen, leader, [(m, b"") for m in ids[:3]])["err"] == NONE
    for m in ids[:3]:
        leave(3, g, m)


if __name__ == "__main__":
    CL = gtest.Cluster(1, overrides=["offsets.topic.replication.factor=1", "offsets.topic.num.partitions=3",
                                     "group.initial.rebalance.delay.ms=0", "group.min.session.timeout.ms=1000",
                                     "group.max.size=3"])
    gtest.wait_brokers(CL, 1)
    gwire.target = ("127.0.0.1", CL.brokers[0].port)
    gtest.create_topic(CL, gwire.TOPIC, 3, rf=1)
    rc = gtest.run_suite(CL, globals())
    POOL.shutdown(wait=False, cancel_futures=True)
    sys.exit(rc)
