"""
tests/integration/groups/gwire.py — the consumer-group APIs' requests and responses, every
version, on the independent codec of tests/integration/protocol/kwire.py: each function sends
one request to `target` (host, port) and decodes the whole response for its version (a field
missing, extra or misplaced fails, as no byte may be left over). Error codes used by the tests.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "protocol"))
import kwire  # noqa: E402
from kwire import W, Conn  # noqa: E402

target = None  # (host, port) every call goes to
TOPIC = "gapi"  # the topic commit() and fetch() name
NONE, COORD_LOADING, COORD_NA, NOT_COORD, ILLEGAL_GEN, UNKNOWN_MEMBER = 0, 14, 15, 16, 22, 25
NON_EMPTY, GROUP_NOT_FOUND, MEMBER_ID_REQUIRED, SUBSCRIBED = 68, 69, 79, 86
REBALANCING, INCONSISTENT_PROTOCOL, INVALID_GROUP_ID, INVALID_SESSION = 27, 23, 24, 26
UNKNOWN_TOPIC, METADATA_TOO_LARGE, MAX_SIZE, FENCED = 3, 12, 81, 82

# First flexible version of each group API (docs/protocol.md).
kwire.FLEX.update({8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 42: 2})
FLEX = kwire.FLEX
MAXV = {8: 8, 9: 8, 10: 4, 11: 7, 12: 4, 13: 4, 14: 5, 15: 5, 16: 4, 42: 2, 47: 0}

def w(key, v):
    return W(flex=v >= FLEX.get(key, 99))


def call(key, v, body):
    c = Conn(target[0], target[1])
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


def join(v, group, member="", instance=None, meta=b"meta", session=10000, rebalance=10000,
         ptype="consumer", protos=("range",)):
    b = w(11, v).str(group).i32(session)
    if v >= 1:
        b.i32(rebalance)
    b.str(member)
    if v >= 5:
        b.str(instance)
    b.str(ptype).array([(p, meta) for p in protos], lambda b, p: (b.str(p[0]).bytes(p[1]), b.tags())).tags()
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


def commit(v, group, gen, member, offsets, instance=None, topic=None):
    """offsets: [(partition, offset, leader_epoch, metadata)] of TOPIC (or topic)."""
    topic = topic or TOPIC
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
    b.array([topic], lambda b, t: (b.str(t).array(offsets, part), b.tags())).tags()
    r = call(8, v, b.b)
    if v >= 3:
        r.i32()

    def one(r):
        name = r.str()

        def p(r):
            e = (r.i32(), r.i16())
            r.tags()
            return e
        ps = r.array(p)
        r.tags()
        return name, dict(ps)
    ts = dict(r.array(one))
    r.tags()
    r.done()
    return ts.get(topic, {})


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
