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
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
import kwire  # noqa: E402
from kwire import W, Conn  # noqa: E402

# First flexible version of each group API (docs/protocol.md).
kwire.FLEX.update({8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 42: 2})
FLEX = kwire.FLEX
MAXV = {8: 8, 9: 8, 10: 4, 11: 7, 12: 4, 13: 4, 14: 5, 15: 5, 16: 4, 42: 2, 47: 0}

CL = None
TOPIC = "gapi"
NONE, COORD_LOADING, COORD_NA, ILLEGAL_GEN, UNKNOWN_MEMBER = 0, 14, 15, 22, 25
NON_EMPTY, GROUP_NOT_FOUND, MEMBER_ID_REQUIRED = 68, 69, 79


def w(key, v):
    return W(flex=v >= FLEX.get(key, 99))


def call(key, v, body):
    c = Conn("127.0.0.1", CL.brokers[0].port)
    try:
        return c.call(key, v, body)
    finally:
        c.close()


# ---------------------------------------------------------------- per-API codecs

def find_coordinator(v, group):
    b = w(10, v)
    if v >= 4:
        b.i8(0).array([group], lambda b, k: b.str(k)).tags()
    else:
        b.str(group)
        if v >= 1:
            b.i8(0)
        b.tags()
    r = call(10, v, b.b)
    if v >= 1:
        r.i32()
    if v >= 4:
        def coord(r):
            e = {"key": r.str(), "node": r.i32(), "host": r.str(), "port": r.i32(), "err": r.i16(),
                 "msg": r.str()}
            r.tags()
            return e
        cs = r.array(coord)
        r.tags()
        r.done()
        assert len(cs) == 1 and cs[0]["key"] == group, cs
        return cs[0]
    e = {"err": r.i16()}
    if v >= 1:
        e["msg"] = r.str()
    e["node"], e["host"], e["port"] = r.i32(), r.str(), r.i32()
    r.tags()
    r.done()
    return e


def join(v, group, member="", instance=None, meta=b"meta"):
    b = w(11, v).str(group).i32(10000)
    if v >= 1:
        b.i32(10000)
    b.str(member)
    if v >= 5:
        b.str(instance)
    b.str("consumer").array([("range", meta)], lambda b, p: (b.str(p[0]).bytes(p[1]), b.tags())).tags()
    r = call(11, v, b.b)
    if v >= 2:
        r.i32()
    out = {"err": r.i16(), "gen": r.i32()}
    if v >= 7:
        out["ptype"] = r.str()
    out["proto"], out["leader"], out["member"] = r.str(), r.str(), r.str()

    def m(r):
        e = {"id": r.str(), "inst": r.str() if v >= 5 else None, "meta": r.bytes()}
        r.tags()
        return e
    out["members"] = r.array(m)
    r.tags()
    r.done()
    return out


def sync(v, group, gen, member, assignments, instance=None):
    b = w(14, v).str(group).i32(gen).str(member)
    if v >= 3:
        b.str(instance)
    if v >= 5:
        b.str("consumer").str("range")
    b.array(assignments, lambda b, a: (b.str(a[0]).bytes(a[1]), b.tags())).tags()
    r = call(14, v, b.b)
    if v >= 1:
        r.i32()
    out = {"err": r.i16()}
    if v >= 5:
        out["ptype"], out["proto"] = r.str(), r.str()
    out["assignment"] = r.bytes()
    r.tags()
    r.done()
    return out


def heartbeat(v, group, gen, member, instance=None):
    b = w(12, v).str(group).i32(gen).str(member)
    if v >= 3:
        b.str(instance)
    b.tags()
    r = call(12, v, b.b)
    if v >= 1:
        r.i32()
    err = r.i16()
    r.tags()
    r.done()
    return err


def leave(v, group, member, instance=None):
    b = w(13, v).str(group)
    if v >= 3:
        b.array([(member, instance)], lambda b, m: (b.str(m[0]).str(m[1]), b.tags()))
    else:
        b.str(member)
    b.tags()
    r = call(13, v, b.b)
    if v >= 1:
        r.i32()
    out = {"err": r.i16()}
    if v >= 3:
        def m(r):
            e = (r.str(), r.str(), r.i16())
            r.tags()
            return e
        out["members"] = r.array(m)
    r.tags()
    r.done()
    return out


def commit(v, group, gen, member, offsets, instance=None):
    """offsets: [(partition, offset, leader_epoch, metadata)] of TOPIC."""
    b = w(8, v).str(group)
    if v >= 1:
        b.i32(gen).str(member)
    if v >= 7:
        b.str(instance)
    if 2 <= v <= 4:
        b.i64(-1)

    def part(b, o):
        b.i32(o[0]).i64(o[1])
        if v >= 6:
            b.i32(o[2])
        if v == 1:
            b.i64(-1)
        b.str(o[3]).tags()
    b.array([TOPIC], lambda b, t: (b.str(t).array(offsets, part), b.tags())).tags()
    r = call(8, v, b.b)
    if v >= 3:
        r.i32()

    def topic(r):
        name = r.str()

        def p(r):
            e = (r.i32(), r.i16())
            r.tags()
            return e
        ps = r.array(p)
        r.tags()
        return name, dict(ps)
    ts = dict(r.array(topic))
    r.tags()
    r.done()
    return ts.get(TOPIC, {})


def _fetch_topics(r, v):
    def topic(r):
        name = r.str()

        def p(r):
            e = {"p": r.i32(), "offset": r.i64()}
            e["epoch"] = r.i32() if v >= 5 else None
            e["meta"], e["err"] = r.str(), r.i16()
            r.tags()
            return e
        ps = r.array(p)
        r.tags()
        return name, {e["p"]: e for e in ps}
    return dict(r.array(topic))


def fetch(v, groups, parts=None):
    """groups: one group id (v0-7) or a list (v8); parts None = all (v2+).
    Returns {group: (error, {topic: {p: entry}})}."""
    b = w(9, v)
    tl = None if parts is None else [TOPIC]

    def topics(b):
        b.array(tl, lambda b, t: (b.str(t).array(parts, lambda b, p: b.i32(p)), b.tags()))
    if v >= 8:
        b.array(groups, lambda b, g: (b.str(g), topics(b), b.tags()))
    else:
        b.str(groups)
        topics(b)
    if v >= 7:
        b.i8(1)  # require_stable
    b.tags()
    r = call(9, v, b.b)
    if v >= 3:
        r.i32()
    if v >= 8:
        def g(r):
            gid = r.str()
            ts = _fetch_topics(r, v)
            err = r.i16()
            r.tags()
            return gid, (err, ts)
        out = dict(r.array(g))
    else:
        ts = _fetch_topics(r, v)
        err = r.i16() if v >= 2 else 0
        out = {groups: (err, ts)}
    r.tags()
    r.done()
    return out


def describe(v, groups):
    b = w(15, v).array(groups, lambda b, g: b.str(g))
    if v >= 3:
        b.i8(1)
    b.tags()
    r = call(15, v, b.b)
    if v >= 1:
        r.i32()

    def member(r):
        e = {"id": r.str(), "inst": r.str() if v >= 4 else None, "client": r.str(), "host": r.str(),
             "meta": r.bytes(), "assignment": r.bytes()}
        r.tags()
        return e

    def group(r):
        e = {"err": r.i16(), "id": r.str(), "state": r.str(), "ptype": r.str(), "proto": r.str(),
             "members": r.array(member)}
        if v >= 3:
            e["ops"] = r.i32()
        r.tags()
        return e
    gs = r.array(group)
    r.tags()
    r.done()
    return {g["id"]: g for g in gs}


def list_groups(v, states=None):
    b = w(16, v)
    if v >= 4:
        b.array(states or [], lambda b, s: b.str(s))
    b.tags()
    r = call(16, v, b.b)
    if v >= 1:
        r.i32()
    err = r.i16()

    def g(r):
        e = (r.str(), r.str(), r.str() if v >= 4 else None)
        r.tags()
        return e
    gs = r.array(g)
    r.tags()
    r.done()
    return err, {e[0]: e for e in gs}


def delete_groups(v, groups):
    r = call(42, v, w(42, v).array(groups, lambda b, g: b.str(g)).tags().b)
    r.i32()

    def g(r):
        e = (r.str(), r.i16())
        r.tags()
        return e
    out = dict(r.array(g))
    r.tags()
    r.done()
    return out


def offset_delete(group, parts):
    r = call(47, 0, W().str(group).array([TOPIC], lambda b, t: b.str(t).array(parts, lambda b, p: b.i32(p))).b)
    err = r.i16()
    r.i32()
    ts = dict(r.array(lambda r: (r.str(), dict(r.array(lambda r: (r.i32(), r.i16()))))))
    r.done()
    return err, ts.get(TOPIC, {})


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
    assert err == NONE and ps == {0: 86}, (err, ps)  # GROUP_SUBSCRIBED_TO_TOPIC
    leave(3, group, mid)
    assert offset_delete(group, [0]) == (NONE, {0: NONE})


if __name__ == "__main__":
    CL = gtest.Cluster(1, overrides=["offsets.topic.replication.factor=1", "offsets.topic.num.partitions=5",
                                     "group.initial.rebalance.delay.ms=0"])
    start = time.time()
    gtest.wait_brokers(CL, 1)
    sys.exit(gtest.run_suite(CL, globals()))
