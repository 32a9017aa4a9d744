#!/usr/bin/env python3
"""
tests/integration/groups/test_api_versions.py — every advertised version of every
consumer-group API against a real broker, encoded and decoded by this file with the
independent codec of tests/integration/protocol/kwire.py: FindCoordinator 0-4, JoinGroup 0-7,
SyncGroup 0-5, Heartbeat 0-4, LeaveGroup 0-4, OffsetCommit 0-8, OffsetFetch 0-8,
DescribeGroups 0-5, ListGroups 0-4, DeleteGroups 0-2, OffsetDelete 0.

Each response is decoded field by field for its version and must be consumed exactly, so a
field missing, extra or misplaced fails. One group per round i drives a whole life cycle at
versions min(i, max): join (MEMBER_ID_REQUIRED from v4, static join from v5), sync, heartbeat
(and its ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID answers), commit with metadata and leader
epoch, fetch (v8: two groups at once), describe, list (v4 state filter), leave, delete.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
import gwire  # noqa: E402
from gwire import (MAXV, TOPIC, NONE, COORD_LOADING, COORD_NA, ILLEGAL_GEN, UNKNOWN_MEMBER, NON_EMPTY,  # noqa: E402
                   GROUP_NOT_FOUND, MEMBER_ID_REQUIRED, SUBSCRIBED, find_coordinator, join, sync,
                   heartbeat, leave, commit, fetch, describe, list_groups, delete_groups, offset_delete)
from kwire import W  # noqa: E402

CL = None


# ---------------------------------------------------------------- the test

def wait_coordinator(v, group):
    """FindCoordinator until the offsets partition is loaded (created on first use)."""
    last = [None]

    def ready():
        last[0] = find_coordinator(v, group)
        assert last[0]["err"] in (NONE, COORD_LOADING, COORD_NA), last[0]
        return last[0]["err"] == NONE
    gtest.wait(ready, 30, "the coordinator of " + group)
    c = last[0]
    assert (c["node"], c["port"]) == (0, CL.brokers[0].port), c
    return c


def one_round(i):
    vs = {k: min(i, m) for k, m in MAXV.items()}
    group = "gv%d" % i
    wait_coordinator(vs[10], group)
    static = vs[11] >= 5 and i % 2 == 1
    inst = "inst-%d" % i if static else None
    if vs[8] == 0:  # v0 has no generation: a simple consumer's commit, before anyone joins
        assert commit(0, group, -1, "", [(0, 10, -1, "m0"), (1, 20, -1, None)]) == {0: 0, 1: 0}

    # Join: from v4 a dynamic member without an id is told its id first.
    j = join(vs[11], group, instance=inst)
    if vs[11] >= 4 and not static:
        assert j["err"] == MEMBER_ID_REQUIRED and j["member"], j
        j = join(vs[11], group, member=j["member"])
    assert j["err"] == NONE, j
    mid, gen = j["member"], j["gen"]
    assert gen >= 1 and j["leader"] == mid and j["proto"] == "range", j
    assert [(m["id"], m["meta"]) for m in j["members"]] == [(mid, b"meta")], j
    if vs[11] >= 5:
        assert j["members"][0]["inst"] == inst, j
    if vs[11] >= 7:
        assert j["ptype"] == "consumer", j

    s = sync(vs[14], group, gen, mid, [(mid, b"assignment-%d" % i)], inst)
    assert s["err"] == NONE and s["assignment"] == b"assignment-%d" % i, s
    if vs[14] >= 5:
        assert (s["ptype"], s["proto"]) == ("consumer", "range"), s

    assert heartbeat(vs[12], group, gen, mid, inst) == NONE
    assert heartbeat(vs[12], group, gen + 5, mid, inst) == ILLEGAL_GEN
    assert heartbeat(vs[12], group, gen, "nobody", None) == UNKNOWN_MEMBER

    # Commit with the generation (v1+), metadata, leader epoch (v6+).
    if vs[8] >= 1:
        res = commit(vs[8], group, gen, mid, [(0, 10 + i, 3, "m%d" % i), (1, 20 + i, 3, None)], inst)
        assert res == {0: 0, 1: 0}, res
        assert commit(vs[8], group, gen + 1, mid, [(0, 99, 3, None)], inst) == {0: ILLEGAL_GEN}
    want0, want1 = (10, 20) if vs[8] == 0 else (10 + i, 20 + i)

    # Fetch: named partitions, and (v2+) every committed partition.
    fv = vs[9]
    got = fetch(fv, [group] if fv >= 8 else group, [0, 1, 2])
    err, ts = got[group]
    assert err == NONE, got
    ps = ts[TOPIC]
    assert (ps[0]["offset"], ps[1]["offset"], ps[2]["offset"]) == (want0, want1, -1), ps
    assert ps[0]["meta"] == ("m%d" % i if vs[8] >= 1 else "m0"), ps
    assert ps[1]["meta"] in ("", None) and ps[2]["err"] == NONE, ps
    if fv >= 5:
        assert ps[0]["epoch"] == (3 if vs[8] >= 6 else -1), ps
    if fv >= 2:
        err, ts = fetch(fv, [group] if fv >= 8 else group, None)[group]
        assert err == NONE and sorted(ts[TOPIC]) == [0, 1], ts
    if fv >= 8:  # two groups in one request, one of them unknown
        got = fetch(fv, [group, "gv-nobody"], [0])
        assert got[group][1][TOPIC][0]["offset"] == want0, got
        assert got["gv-nobody"][1][TOPIC][0]["offset"] == -1, got

    d = describe(vs[15], [group, "gv-nobody"])
    g = d[group]
    assert (g["err"], g["state"], g["ptype"], g["proto"]) == (NONE, "Stable", "consumer", "range"), g
    assert len(g["members"]) == 1, g
    m = g["members"][0]
    assert (m["id"], m["client"], m["meta"], m["assignment"]) == (mid, "gregor-test", b"meta",
                                                                 b"assignment-%d" % i), m
    assert m["host"], m
    if vs[15] >= 4:
        assert m["inst"] == inst, m
    assert d["gv-nobody"]["state"] == "Dead" and d["gv-nobody"]["members"] == [], d

    err, gs = list_groups(vs[16])
    assert err == NONE and gs[group][1] == "consumer", gs
    if vs[16] >= 4:
        assert gs[group][2] == "Stable", gs
        assert group in list_groups(4, ["Stable", "PreparingRebalance"])[1]
        assert group not in list_groups(4, ["Empty"])[1]

    assert delete_groups(vs[42], [group]) == {group: NON_EMPTY}
    lv = leave(vs[13], group, mid, inst)
    assert lv["err"] == NONE, lv
    if vs[13] >= 3:
        assert lv["members"] == [(mid, inst, NONE)], lv
    assert describe(vs[15], [group])[group]["state"] == "Empty"
    if i == 0:  # OffsetDelete (v0 only) of an empty group's partition
        assert offset_delete(group, [1]) == (NONE, {1: NONE})
        ps = fetch(1, group, [0, 1])[group][1][TOPIC]
        assert (ps[0]["offset"], ps[1]["offset"]) == (want0, -1), ps
    assert delete_groups(vs[42], [group]) == {group: NONE}
    assert delete_groups(vs[42], [group]) == {group: GROUP_NOT_FOUND}
    assert group not in list_groups(vs[16])[1]
    ps = fetch(1, group, [0])[group][1][TOPIC]
    assert ps[0]["offset"] == -1, ps


def test_every_version_of_every_group_api():
    gtest.create_topic(CL, TOPIC, 3, rf=1)
    for i in range(0, 9):
        try:
            one_round(i)
        except AssertionError as e:
            raise AssertionError("round %d (versions %s): %s" % (i, {k: min(i, m) for k, m in MAXV.items()}, e))


def test_offset_delete_refused_while_subscribed():
    """OffsetDelete of a partition the group's members consume is GROUP_SUBSCRIBED_TO_TOPIC."""
    group = "gv-od"
    wait_coordinator(3, group)
    j = join(4, group)
    j = join(4, group, member=j["member"])
    mid, gen = j["member"], j["gen"]
    # The consumer protocol's subscription names TOPIC (version 0: topics, user data).
    meta = W().i16(0).array([TOPIC], lambda b, t: b.str(t)).bytes(b"").b
    j = join(4, group, member=mid, meta=bytes(meta))
    assert j["err"] == NONE, j
    mid, gen = j["member"], j["gen"]
    assert sync(3, group, gen, mid, [(mid, b"")])["err"] == NONE
    assert commit(2, group, gen, mid, [(0, 5, -1, None)]) == {0: NONE}
    err, ps = offset_delete(group, [0])
    assert err == NONE and ps == {0: SUBSCRIBED}, (err, ps)
    leave(3, group, mid)
    assert offset_delete(group, [0]) == (NONE, {0: NONE})


if __name__ == "__main__":
    CL = gtest.Cluster(1, overrides=["offsets.topic.replication.factor=1", "offsets.topic.num.partitions=5",
                                     "group.initial.rebalance.delay.ms=0"])
    gtest.wait_brokers(CL, 1)
    gwire.target = ("127.0.0.1", CL.brokers[0].port)
    sys.exit(gtest.run_suite(CL, globals()))
