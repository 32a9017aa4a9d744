#!/usr/bin/env python3
"""
tests/integration/protocol/test_api_matrix.py — every advertised version of every API,
against a real broker and ZooKeeper, with this file's own codec (kwire.py).

Each response is decoded field by field for its version and must be consumed
exactly (no bytes left over), so a field missing, extra or in the wrong
place in any version fails. Behaviour checked along the way: ApiVersions
downgrade answer, Metadata null/empty/all and auto-creation, Produce acks
0/1/-1 and offsets, Fetch long polling, limits and out-of-range, ListOffsets
earliest/latest/by time, CreateTopics validate-only and errors, DeleteTopics
(also with delete.topic.enable=false), FindCoordinator.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kwire import W, R, Conn, record_batch, parse_batches, batch_records  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402

ADVERTISED = {0: (0, 7), 1: (4, 11), 2: (0, 5), 3: (0, 8), 8: (0, 8), 9: (0, 8), 10: (0, 4),
              11: (0, 7), 12: (0, 4), 13: (0, 4), 14: (0, 5), 15: (0, 5), 16: (0, 4), 18: (0, 3),
              19: (0, 4), 20: (0, 3), 21: (0, 1), 22: (0, 4), 23: (0, 4), 32: (0, 2), 33: (0, 1),
              35: (0, 4), 37: (0, 3), 42: (0, 2), 43: (0, 2), 44: (0, 0), 45: (0, 0), 46: (0, 0),
              47: (0, 0), 60: (0, 0), 61: (0, 0), 27: (0, 1),
              24: (0, 3), 25: (0, 3), 26: (0, 3)}
ADVERTISED[28] = (0, 3)  # TxnOffsetCommit
ADVERTISED.update({65: (0, 0), 66: (0, 0)})  # DescribeTransactions, ListTransactions
ADVERTISED.update({29: (0, 3), 30: (0, 3), 31: (0, 3)})  # Describe/Create/DeleteAcls (test_acls.py)
ADVERTISED.update({17: (0, 1), 36: (0, 2)})  # SaslHandshake, SaslAuthenticate (test_sasl.py)
ADVERTISED.update({50: (0, 0), 51: (0, 0)})  # Describe/AlterUserScramCredentials (test_sasl.py)
ADVERTISED.update({48: (0, 1), 49: (0, 1)})  # DescribeClientQuotas, AlterClientQuotas

CL = None


def conn():
    return Conn("127.0.0.1", CL.brokers[0].port)


# ---------------------------------------------------------------- encoders

def api_versions_body(v):
    w = W(flex=v >= 3)
    if v >= 3:
        w.str("gregor-test").str("1.0").tags()
    return w.b


def decode_api_versions(r, v):
    err = r.i16()

    def entry(r):
        e = (r.i16(), r.i16(), r.i16())
        r.tags()
        return e
    keys = r.array(entry)
    throttle = r.i32() if v >= 1 else 0
    r.tags()
    r.done()
    return err, keys, throttle


def metadata_body(v, topics, allow=True):
    w = W()
    if topics is None:
        w.i32(-1 if v >= 1 else 0)
    else:
        w.array(topics, lambda w, t: w.str(t))
    if v >= 4:
        w.i8(1 if allow else 0)
    if v >= 8:
        w.i8(0).i8(0)
    return w.b


def decode_metadata(r, v):
    out = {}
    if v >= 3:
        r.i32()
    out["brokers"] = r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str() if v >= 1 else None))
    out["cluster_id"] = r.str() if v >= 2 else None
    out["controller"] = r.i32() if v >= 1 else None

    def part(r):
        p = {"err": r.i16(), "index": r.i32(), "leader": r.i32()}
        p["epoch"] = r.i32() if v >= 7 else None
        p["replicas"] = r.array(lambda r: r.i32())
        p["isr"] = r.array(lambda r: r.i32())
        p["offline"] = r.array(lambda r: r.i32()) if v >= 5 else None
        return p

    def topic(r):
        t = {"err": r.i16(), "name": r.str()}
        t["internal"] = r.i8() if v >= 1 else None
        t["parts"] = r.array(part)
        if v >= 8:
            t["ops"] = r.i32()
        return t
    out["topics"] = {t["name"]: t for t in r.array(topic)}
    if v >= 8:
        r.i32()
    r.done()
    return out


def produce_body(v, topic, partition, records, acks=1, timeout=5000):
    w = W()
    if v >= 3:
        w.str(None)
    w.i16(acks).i32(timeout)
    w.array([topic], lambda w, t: (w.str(t), w.array([partition], lambda w, p: (w.i32(p), w.bytes(records)))))
    return w.b


def decode_produce(r, v):
    def part(r):
        p = {"index": r.i32(), "err": r.i16(), "base": r.i64()}
        p["append_time"] = r.i64() if v >= 2 else None
        p["log_start"] = r.i64() if v >= 5 else None
        return p
    topics = r.array(lambda r: (r.str(), r.array(part)))
    if v >= 1:
        r.i32()
    r.done()
    return {t: ps for t, ps in topics}


def fetch_body(v, parts, max_wait=100, min_bytes=1, max_bytes=50 << 20, isolation=0):
    """parts: list of (topic, partition, offset, partition_max_bytes)."""
    w = W()
    w.i32(-1).i32(max_wait).i32(min_bytes).i32(max_bytes).i8(isolation)
    if v >= 7:
        w.i32(0).i32(-1)
    by_topic = {}
    for t, p, off, pmax in parts:
        by_topic.setdefault(t, []).append((p, off, pmax))

    def pfn(w, x):
        w.i32(x[0])
        if v >= 9:
            w.i32(-1)
        w.i64(x[1])
        if v >= 5:
            w.i64(-1)
        w.i32(x[2])
    w.array(list(by_topic.items()), lambda w, tp: (w.str(tp[0]), w.array(tp[1], pfn)))
    if v >= 7:
        w.i32(0)
    if v >= 11:
        w.str("")
    return w.b


def decode_fetch(r, v):
    r.i32()
    if v >= 7:
        assert r.i16() == 0
        r.i32()

    def part(r):
        p = {"index": r.i32(), "err": r.i16(), "hw": r.i64(), "lso": r.i64()}
        p["log_start"] = r.i64() if v >= 5 else None
        p["aborted"] = r.array(lambda r: (r.i64(), r.i64()))
        p["preferred"] = r.i32() if v >= 11 else None
        p["records"] = r.bytes()
        return p
    topics = r.array(lambda r: (r.str(), r.array(part)))
    r.done()
    return {t: {p["index"]: p for p in ps} for t, ps in topics}


def list_offsets_body(v, topic, partition, ts):
    w = W().i32(-1)
    if v >= 2:
        w.i8(0)

    def pfn(w, p):
        w.i32(p)
        if v >= 4:
            w.i32(-1)
        w.i64(ts)
        if v == 0:
            w.i32(1)
    w.array([topic], lambda w, t: (w.str(t), w.array([partition], pfn)))
    return w.b


def decode_list_offsets(r, v):
    if v >= 2:
        r.i32()

    def part(r):
        p = {"index": r.i32(), "err": r.i16()}
        if v == 0:
            p["offsets"] = r.array(lambda r: r.i64())
        else:
            p["ts"] = r.i64()
            p["offset"] = r.i64()
        if v >= 4:
            p["epoch"] = r.i32()
        return p
    topics = r.array(lambda r: (r.str(), r.array(part)))
    r.done()
    return topics[0][1][0]


def create_topics_body(v, topics, validate_only=False, timeout=10000):
    """topics: list of (name, partitions, rf, configs dict[, assignment list of
    (partition, [broker ids])])."""
    def tfn(w, t):
        w.str(t[0]).i32(t[1]).i16(t[2])
        assignment = t[4] if len(t) > 4 else []
        w.array(assignment, lambda w, a: (w.i32(a[0]), w.array(a[1], lambda w, b: w.i32(b))))
        w.array(list(t[3].items()), lambda w, kv: (w.str(kv[0]), w.str(kv[1])))
    w = W().array(topics, tfn).i32(timeout)
    if v >= 1:
        w.i8(1 if validate_only else 0)
    return w.b


def decode_create_topics(r, v):
    if v >= 2:
        r.i32()

    def t(r):
        x = {"name": r.str(), "err": r.i16()}
        x["msg"] = r.str() if v >= 1 else None
        return x
    out = {x["name"]: x for x in r.array(t)}
    r.done()
    return out


def delete_topics_body(v, names):
    return W().array(names, lambda w, n: w.str(n)).i32(10000).b


def decode_delete_topics(r, v):
    if v >= 1:
        r.i32()
    out = dict(r.array(lambda r: (r.str(), r.i16())))
    r.done()
    return out


def create_topic(name, partitions=1, configs=None):
    c = conn()
    res = decode_create_topics(c.call(19, 4, create_topics_body(4, [(name, partitions, 1, configs or {})])), 4)
    c.close()
    assert res[name]["err"] in (0, 36), res


def produce(topic, partition, records, v=7, acks=1, base_ts=None):
    c = conn()
    res = decode_produce(c.call(0, v, produce_body(v, topic, partition, record_batch(records, base_ts), acks)), v)
    c.close()
    p = res[topic][0]
    assert p["err"] == 0, p
    return p["base"]


# ---------------------------------------------------------------- tests

def test_api_versions_every_version():
    for v in range(0, 4):
        c = conn()
        err, keys, _ = decode_api_versions(c.call(18, v, api_versions_body(v)), v)
        c.close()
        assert err == 0
        got = {k: (lo, hi) for k, lo, hi in keys}
        assert got == ADVERTISED, "v%d advertised %r" % (v, got)
        assert [k for k, _, _ in keys] == sorted(got), "sorted by key"


def test_api_versions_unsupported_version_gets_v0_error():
    c = conn()
    corr = c.send(18, 99, b"")
    data = c.recv_frame()
    c.close()
    r = R(data)
    assert r.i32() == corr
    assert r.i16() == 35
    assert r.array(lambda r: (r.i16(), r.i16(), r.i16())) == [(18, 0, 3)]
    r.done()


def test_unsupported_version_of_other_api_closes_connection():
    c = conn()
    c.send(3, 42, b"")
    try:
        c.recv_frame()
        raise AssertionError("expected the connection to close")
    except ConnectionError:
        pass
    c.close()


def test_metadata_every_version():
    create_topic("md-topic", 3)
    for v in range(0, 9):
        c = conn()
        md = decode_metadata(c.call(3, v, metadata_body(v, ["md-topic"])), v)
        c.close()
        assert [(b[0], b[2]) for b in md["brokers"]] == [(0, CL.brokers[0].port)], md["brokers"]
        if v >= 1:
            assert md["controller"] == 0
        if v >= 2:
            assert md["cluster_id"] and len(md["cluster_id"]) == 22
        t = md["topics"]["md-topic"]
        assert t["err"] == 0 and len(t["parts"]) == 3
        for i, p in enumerate(t["parts"]):
            assert p["index"] == i and p["leader"] == 0 and p["replicas"] == [0] and p["isr"] == [0]
            if v >= 7:
                assert p["epoch"] == 0
            if v >= 5:
                assert p["offline"] == []


def test_metadata_null_empty_and_all_topics():
    create_topic("md-all-1")
    c = conn()
    md0 = decode_metadata(c.call(3, 0, metadata_body(0, [])), 0)
    assert "md-all-1" in md0["topics"], "v0: empty list means all topics"
    md1 = decode_metadata(c.call(3, 1, metadata_body(1, None)), 1)
    assert "md-all-1" in md1["topics"], "v1: null means all topics"
    md4 = decode_metadata(c.call(3, 4, metadata_body(4, [])), 4)
    assert md4["topics"] == {}, "v1+: empty list means no topics"
    c.close()


def test_metadata_auto_create_only_when_allowed():
    c = conn()
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["auto-no"], allow=False)), 4)
    assert md["topics"]["auto-no"]["err"] == 3
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["auto-yes"], allow=True)), 4)
    assert md["topics"]["auto-yes"]["err"] in (5, 0)
    deadline = time.time() + 10
    while time.time() < deadline:
        md = decode_metadata(c.call(3, 4, metadata_body(4, ["auto-yes"], allow=False)), 4)
        if md["topics"]["auto-yes"]["err"] == 0:
            break
        time.sleep(0.1)
    assert md["topics"]["auto-yes"]["err"] == 0 and len(md["topics"]["auto-yes"]["parts"]) == 1
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["bad/name"], allow=True)), 4)
    assert md["topics"]["bad/name"]["err"] == 17
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["auto-no"], allow=False)), 4)
    assert md["topics"]["auto-no"]["err"] == 3, "not created by the earlier refused request"
    c.close()


def test_produce_every_version_assigns_consecutive_offsets():
    create_topic("prod-v")
    expect = 0
    for v in range(0, 8):
        for acks in (1, -1):
            base = produce("prod-v", 0, [(b"k", b"v%d" % v, 0), (None, b"x", 1)], v=v, acks=acks)
            assert base == expect, "v%d acks=%d base %d expected %d" % (v, acks, base, expect)
            expect += 2
    c = conn()
    res = decode_produce(c.call(0, 5, produce_body(5, "prod-v", 0, record_batch([(b"a", b"b", 0)]))), 5)
    p = res["prod-v"][0]
    assert p["append_time"] == -1 and p["log_start"] == 0 and p["base"] == expect
    c.close()


def test_produce_acks0_sends_no_response():
    create_topic("prod-acks0")
    c = conn()
    c.send(0, 7, produce_body(7, "prod-acks0", 0, record_batch([(b"k", b"v", 0)]), acks=0))
    corr = c.send(18, 0, api_versions_body(0))
    r = c.recv(18, 0, corr)  # the next response on the wire is ApiVersions'
    decode_api_versions(r, 0)
    c.close()
    lo = list_offsets("prod-acks0", 0, -1)
    assert lo == 1, lo


def test_produce_errors_per_partition():
    c = conn()
    res = decode_produce(c.call(0, 7, produce_body(7, "no-such-topic-x", 0, record_batch([(b"k", b"v", 0)]))), 7)
    assert res["no-such-topic-x"][0]["err"] == 3
    create_topic("prod-err")
    res = decode_produce(c.call(0, 7, produce_body(7, "prod-err", 5, record_batch([(b"k", b"v", 0)]))), 7)
    assert res["prod-err"][0]["err"] == 3, "partition out of range"
    res = decode_produce(c.call(0, 7, produce_body(7, "prod-err", 0, record_batch([(b"k", b"v", 0)]), acks=2)), 7)
    assert res["prod-err"][0]["err"] == 21
    res = decode_produce(c.call(0, 7, produce_body(7, "prod-err", 0, None)), 7)
    assert res["prod-err"][0]["err"] == 87, "null records"
    two = record_batch([(b"k", b"v", 0)]) + record_batch([(b"k", b"v", 0)])
    res = decode_produce(c.call(0, 7, produce_body(7, "prod-err", 0, two)), 7)
    assert res["prod-err"][0]["err"] == 87, "two batches in one partition"
    res = decode_produce(c.call(0, 6, produce_body(6, "prod-err", 0, record_batch([(b"k", b"v", 0)], codec=4))), 6)
    assert res["prod-err"][0]["err"] == 76, "zstd needs Produce v7"
    c.close()
    assert list_offsets("prod-err", 0, -1) == 0, "nothing appended by rejected batches"


def list_offsets(topic, partition, ts, v=1):
    c = conn()
    p = decode_list_offsets(c.call(2, v, list_offsets_body(v, topic, partition, ts)), v)
    c.close()
    assert p["err"] == 0, p
    return p["offsets"][0] if v == 0 else p["offset"]


def test_fetch_every_version_returns_the_batches_as_produced():
    create_topic("fetch-v")
    batches = [record_batch([(b"k%d" % i, b"value-%d" % i, 0), (None, b"x", 2)]) for i in range(3)]
    c = conn()
    for b in batches:
        res = decode_produce(c.call(0, 7, produce_body(7, "fetch-v", 0, b)), 7)
        assert res["fetch-v"][0]["err"] == 0
    for v in range(4, 12):
        for iso in (0, 1):
            f = decode_fetch(c.call(1, v, fetch_body(v, [("fetch-v", 0, 0, 1 << 20)], isolation=iso)), v)
            p = f["fetch-v"][0]
            assert p["err"] == 0 and p["hw"] == 6 and p["lso"] == 6
            if v >= 5:
                assert p["log_start"] == 0
            if v >= 11:
                assert p["preferred"] == -1
            assert p["aborted"] == (None if iso == 0 else []), p["aborted"]
            got = parse_batches(p["records"])
            assert [(g[0], g[1], g[2]) for g in got] == [(0, 1, 2), (2, 3, 2), (4, 5, 2)]
            for g, sent in zip(got, batches):
                # identical except baseOffset (0..7) and partitionLeaderEpoch (12..15)
                assert g[3][8:12] == sent[8:12] and g[3][16:] == sent[16:]
                assert g[3][12:16] == b"\x00\x00\x00\x00", "leader epoch 0 written"
    c.close()


def test_fetch_offset_inside_batch_returns_whole_batch_and_out_of_range():
    create_topic("fetch-mid")
    produce("fetch-mid", 0, [(None, b"a", 0), (None, b"b", 0), (None, b"c", 0)])
    c = conn()
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-mid", 0, 1, 1 << 20)])), 11)
    got = parse_batches(f["fetch-mid"][0]["records"])
    assert len(got) == 1 and got[0][0] == 0 and got[0][2] == 3
    assert [x[2] for x in batch_records(got[0][3])] == [b"a", b"b", b"c"]
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-mid", 0, 4, 1 << 20)])), 11)
    assert f["fetch-mid"][0]["err"] == 1, "offset past the end"
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-mid", 0, -5, 1 << 20)])), 11)
    assert f["fetch-mid"][0]["err"] == 1, "negative offset"
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("nope-topic", 0, 0, 1 << 20)])), 11)
    assert f["nope-topic"][0]["err"] == 3
    c.close()


def test_fetch_topic_with_no_partitions():
    # regression: a topic entry with an empty partitions array crashed the broker
    create_topic("fetch-empty")
    c = conn()
    w = W().i32(-1).i32(0).i32(1).i32(1 << 20).i8(0).i32(0).i32(-1)
    w.array([("fetch-empty", []), ("nope", [])], lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: None)))
    w.i32(0).str("")
    f = decode_fetch(c.call(1, 11, w.b), 11)
    assert f == {"fetch-empty": {}, "nope": {}}, f
    c.close()


def test_fetch_naming_a_partition_twice_parks_and_wakes_cleanly():
    # regression: the same partition twice in one long-polling Fetch linked the
    # request's waiter into the partition's list twice (a cycle): the next append
    # looped forever
    create_topic("fetch-twice")
    c = conn()
    timer = threading.Timer(0.3, lambda: produce("fetch-twice", 0, [(None, b"x", 0)]))
    timer.start()
    t0 = time.time()
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-twice", 0, 0, 1 << 20), ("fetch-twice", 0, 0, 1 << 20)],
                                              max_wait=3000)), 11)
    timer.join()
    assert time.time() - t0 < 2.5, "woken by the append"
    assert len(parse_batches(f["fetch-twice"][0]["records"])) == 1
    produce("fetch-twice", 0, [(None, b"y", 0)])  # the partition still appends (no cycle)
    assert list_offsets("fetch-twice", 0, -1) == 2
    c.close()


def test_fetch_limits_always_return_one_whole_batch():
    create_topic("fetch-lim", 2)
    big = [(None, b"z" * 3000, 0)]
    for p in (0, 1):
        for _ in range(3):
            produce("fetch-lim", p, big)
    c = conn()
    # partition_max_bytes 10 < one batch: the first batch still comes whole (KIP-74)
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-lim", 0, 0, 10), ("fetch-lim", 1, 0, 10)])), 11)
    b0 = parse_batches(f["fetch-lim"][0]["records"])
    b1 = parse_batches(f["fetch-lim"][1]["records"])
    assert len(b0) == 1 and len(f["fetch-lim"][0]["records"]) == len(b0[0][3])
    assert b1 == [], "only the first non-empty partition may exceed the limits"
    # max_bytes bounds the whole response
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-lim", 0, 0, 1 << 20), ("fetch-lim", 1, 0, 1 << 20)],
                                              max_bytes=7000)), 11)
    total = len(f["fetch-lim"][0]["records"]) + len(f["fetch-lim"][1]["records"])
    assert 0 < total <= 7000, total
    assert len(parse_batches(f["fetch-lim"][0]["records"])) == 2
    c.close()


def test_fetch_long_poll_waits_and_wakes_on_produce():
    create_topic("fetch-wait")
    c = conn()
    t0 = time.time()
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-wait", 0, 0, 1 << 20)], max_wait=700)), 11)
    waited = time.time() - t0
    assert f["fetch-wait"][0]["records"] == b"" and 0.6 <= waited < 3.0, waited
    timer = threading.Timer(0.3, lambda: produce("fetch-wait", 0, [(None, b"wake", 0)]))
    timer.start()
    t0 = time.time()
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("fetch-wait", 0, 0, 1 << 20)], max_wait=5000)), 11)
    waited = time.time() - t0
    timer.join()
    assert 0.2 <= waited < 2.0, "woken by the produce, not the 5 s timer: %.2f" % waited
    assert len(parse_batches(f["fetch-wait"][0]["records"])) == 1
    c.close()


def test_list_offsets_every_version():
    create_topic("lo-v")
    now = int(time.time() * 1000)
    produce("lo-v", 0, [(None, b"a", 0), (None, b"b", 10)], base_ts=now - 100000)   # ts -100000, -99990
    produce("lo-v", 0, [(None, b"c", 0), (None, b"d", 5)], base_ts=now - 50000)     # -50000, -49995
    for v in range(0, 6):
        assert list_offsets("lo-v", 0, -2, v) == 0
        assert list_offsets("lo-v", 0, -1, v) == 4
    for v in range(1, 6):
        c = conn()
        p = decode_list_offsets(c.call(2, v, list_offsets_body(v, "lo-v", 0, now - 99995)), v)
        assert p["err"] == 0 and p["offset"] == 1 and p["ts"] == now - 99990, p
        p = decode_list_offsets(c.call(2, v, list_offsets_body(v, "lo-v", 0, now - 60000)), v)
        assert p["offset"] == 2 and p["ts"] == now - 50000, p
        p = decode_list_offsets(c.call(2, v, list_offsets_body(v, "lo-v", 0, now + 60000)), v)
        assert p["offset"] == -1 and p["ts"] == -1, p
        if v >= 4:
            assert p["epoch"] in (-1, 0)
        p = decode_list_offsets(c.call(2, v, list_offsets_body(v, "missing-t", 0, -1)), v)
        assert p["err"] == 3
        c.close()


def test_create_topics_every_version():
    c = conn()
    for v in range(0, 5):
        name = "ct-v%d" % v
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [(name, 2, 1, {"retention.ms": "1000"})])), v)
        assert res[name]["err"] == 0, res
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [(name, 2, 1, {})])), v)
        assert res[name]["err"] == 36
        if v >= 1:
            assert res[name]["msg"]
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [("ct-rf-%d" % v, 1, 3, {})])), v)
        assert res["ct-rf-%d" % v]["err"] == 38, "replication factor above live brokers"
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [("ct-cfg-%d" % v, 1, 1, {"no.such": "1"})])), v)
        assert res["ct-cfg-%d" % v]["err"] == 40
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [("ct-p-%d" % v, 0, 1, {})])), v)
        assert res["ct-p-%d" % v]["err"] == 37
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [("bad name!", 1, 1, {})])), v)
        assert res["bad name!"]["err"] == 17
    res = decode_create_topics(c.call(19, 4, create_topics_body(4, [("ct-default", -1, -1, {})])), 4)
    assert res["ct-default"]["err"] == 0
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["ct-v0", "ct-default", "ct-rf-0"], allow=False)), 4)
    assert len(md["topics"]["ct-v0"]["parts"]) == 2 and len(md["topics"]["ct-default"]["parts"]) == 1
    assert md["topics"]["ct-rf-0"]["err"] == 3, "refused topic was not created"
    c.close()


def test_create_topics_explicit_assignment():
    c = conn()
    ok = ("ct-asg", -1, -1, {}, [(0, [0]), (1, [0]), (2, [0])])
    unknown = ("ct-asg-unknown", -1, -1, {}, [(0, [9])])
    dup = ("ct-asg-dup", -1, -1, {}, [(0, [0, 0])])
    ragged = ("ct-asg-ragged", -1, -1, {}, [(0, [0]), (1, [])])
    huge = ("ct-asg-huge", -1, -1, {}, [(0, [0] * 5000)])
    mixed = ("ct-asg-mixed", 2, 1, {}, [(0, [0])])
    res = decode_create_topics(c.call(19, 4, create_topics_body(4, [ok, unknown, dup, ragged, huge, mixed])), 4)
    assert res["ct-asg"]["err"] == 0, res
    assert res["ct-asg-unknown"]["err"] == 39 and res["ct-asg-dup"]["err"] == 39, res
    assert res["ct-asg-ragged"]["err"] == 39 and res["ct-asg-huge"]["err"] == 39
    assert res["ct-asg-mixed"]["err"] == 42, "assignment together with a partition count"
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["ct-asg"], allow=False)), 4)
    assert [p["replicas"] for p in md["topics"]["ct-asg"]["parts"]] == [[0], [0], [0]]
    c.close()


def test_create_topics_validate_only_changes_nothing():
    c = conn()
    for v in range(1, 5):
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [("ct-val-%d" % v, 3, 1, {})], validate_only=True)), v)
        assert res["ct-val-%d" % v]["err"] == 0
        res = decode_create_topics(c.call(19, v, create_topics_body(v, [("ct-valbad-%d" % v, 3, 5, {})], validate_only=True)), v)
        assert res["ct-valbad-%d" % v]["err"] == 38
        md = decode_metadata(c.call(3, 4, metadata_body(4, ["ct-val-%d" % v], allow=False)), 4)
        assert md["topics"]["ct-val-%d" % v]["err"] == 3
    c.close()


def test_delete_topics_every_version():
    c = conn()
    for v in range(0, 4):
        name = "dt-v%d" % v
        create_topic(name)
        produce(name, 0, [(None, b"x", 0)])
        res = decode_delete_topics(c.call(20, v, delete_topics_body(v, [name, "dt-missing"])), v)
        assert res == {name: 0, "dt-missing": 3}, res
        md = decode_metadata(c.call(3, 4, metadata_body(4, [name], allow=False)), 4)
        assert md["topics"][name]["err"] == 3
        assert not os.path.exists(os.path.join(CL.brokers[0].logdir, name + "-0")), "log dir removed"
    c.close()


def find_coordinator(c, v, keys, key_type=0):
    """FindCoordinator v (0-4) for keys (one key before v4). Returns [(key, err, node, host, port)]."""
    w = W(flex=v >= 3)
    if v >= 4:
        w.i8(key_type).array(keys, lambda w, k: w.str(k))
    else:
        w.str(keys[0])
        if v >= 1:
            w.i8(key_type)
    if v >= 3:
        w.tags()
    r = c.call(10, v, w.b)
    if v >= 1:
        r.i32()
    out = []
    if v >= 4:
        def coord(r):
            key, node, host, port, err, msg = r.str(), r.i32(), r.str(), r.i32(), r.i16(), r.str()
            r.tags()
            return (key, err, node, host, port)
        out = r.array(coord)
    else:
        err = r.i16()
        if v >= 1:
            r.str()
        node, host, port = r.i32(), r.str(), r.i32()
        out = [(keys[0], err, node, host, port)]
    if v >= 3:
        r.tags()
    r.done()
    return out


def test_find_coordinator_every_version():
    """The first FindCoordinator creates __consumer_offsets (replication factor 1 in the shipped
    server.properties) and answers COORDINATOR_NOT_AVAILABLE (15) until it has leaders; then
    every version names this broker; the same for transactional ids (key_type 1) and
    __transaction_state; an empty transactional id is INVALID_REQUEST (42)."""
    c = conn()
    deadline = time.time() + 30
    while True:
        (_, err, node, host, port), = find_coordinator(c, 0, ["group-x"])
        if err == 0 or time.time() > deadline:
            break
        assert err == 15, err
        time.sleep(0.2)
    assert (err, node, port) == (0, 0, CL.brokers[0].port), (err, node, host, port)
    for v in range(0, 5):
        for key, err, node, host, port in find_coordinator(c, v, ["group-x", "other", ""][:3 if v >= 4 else 1]):
            assert (err, node, host, port) == (0, 0, "127.0.0.1", CL.brokers[0].port), (v, key, err)
    got = find_coordinator(c, 4, ["a", "b"])
    assert [k for k, _, _, _, _ in got] == ["a", "b"], "v4 echoes each key in order"
    deadline = time.time() + 30
    while find_coordinator(c, 1, ["txn-1"], key_type=1)[0][1] == 15 and time.time() < deadline:
        time.sleep(0.2)  # the first lookup creates __transaction_state
    for v in range(1, 5):
        for _, err, node, _, port in find_coordinator(c, v, ["txn-1"], key_type=1):
            assert (err, node, port) == (0, 0, CL.brokers[0].port), (v, err, node)
        for _, err, node, _, _ in find_coordinator(c, v, [""], key_type=1):
            assert (err, node) == (42, -1), ("empty transactional id", v, err, node)
    c.close()


def test_internal_topics_are_marked_and_refuse_clients():
    c = conn()
    (_, err, _, _, _), = find_coordinator(c, 1, ["g-internal"])
    deadline = time.time() + 30
    while err != 0 and time.time() < deadline:
        time.sleep(0.2)
        (_, err, _, _, _), = find_coordinator(c, 1, ["g-internal"])
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["__consumer_offsets"], allow=False)), 4)
    t = md["topics"]["__consumer_offsets"]
    assert t["err"] == 0 and t["internal"] == 1 and len(t["parts"]) == 50, (t["err"], t["internal"])
    cfg = describe_configs(0, [(2, "__consumer_offsets", ["cleanup.policy"])])
    assert cfg["__consumer_offsets"][1]["cleanup.policy"]["value"] == "compact"
    create_topic("__not_internal")
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["__not_internal"], allow=False)), 4)
    assert md["topics"]["__not_internal"]["internal"] == 0, "only Kafka's internal topics are"
    res = decode_produce(c.call(0, 7, produce_body(7, "__consumer_offsets", 0,
                                                   record_batch([(b"k", b"v", 0)]))), 7)
    assert res["__consumer_offsets"][0]["err"] == 17, res
    res = decode_delete_topics(c.call(20, 3, delete_topics_body(3, ["__consumer_offsets"])), 3)
    assert res == {"__consumer_offsets": 17}, res
    md = decode_metadata(c.call(3, 4, metadata_body(4, ["__transaction_state"], allow=True)), 4)
    t = md["topics"]["__transaction_state"]
    assert t["err"] == 0 and t["internal"] == 1 and len(t["parts"]) == 50, "created by FindCoordinator"
    res = decode_delete_topics(c.call(20, 3, delete_topics_body(3, ["__transaction_state"])), 3)
    assert res == {"__transaction_state": 17}, res
    c.close()


def describe_configs(v, resources, synonyms=False):
    """resources: list of (type, name, keys or None). Returns {name: (err, {key: entry})}."""
    w = W().array(resources, lambda w, r: (w.i8(r[0]), w.str(r[1]),
                                           w.array(r[2], lambda w, k: w.str(k)) if r[2] is not None
                                           else w.i32(-1)))
    if v >= 1:
        w.i8(1 if synonyms else 0)
    c = conn()
    r = c.call(32, v, w.b)
    c.close()
    r.i32()

    def entry(r):
        e = {"name": r.str(), "value": r.str(), "read_only": r.i8()}
        if v == 0:
            e["is_default"] = r.i8()
        else:
            e["source"] = r.i8()
        e["sensitive"] = r.i8()
        if v >= 1:
            e["synonyms"] = r.array(lambda r: (r.str(), r.str(), r.i8()))
        return e

    def result(r):
        err, msg, typ, name = r.i16(), r.str(), r.i8(), r.str()
        return name, (err, {e["name"]: e for e in r.array(entry)})
    out = dict(r.array(result))
    r.done()
    return out


def alter_configs(key, v, resources, validate_only=False):
    """resources: list of (type, name, [(key, value)] or [(key, op, value)])."""
    def cfn(w, c):
        w.str(c[0])
        if key == 44:
            w.i8(c[1])
        w.str(c[-1])
    w = W().array(resources, lambda w, r: (w.i8(r[0]), w.str(r[1]), w.array(r[2], cfn)))
    w.i8(1 if validate_only else 0)
    c = conn()
    r = c.call(key, v, w.b)
    c.close()
    r.i32()
    out = {}
    for err, msg, typ, name in r.array(lambda r: (r.i16(), r.str(), r.i8(), r.str())):
        out[name] = (err, msg)
    r.done()
    return out


def test_describe_configs_every_version():
    create_topic("cfg-d", 1, {"retention.ms": "12345"})
    for v in range(0, 3):
        res = describe_configs(v, [(2, "cfg-d", None), (2, "cfg-missing", None), (4, "0", ["broker.id", "num.partitions"])],
                               synonyms=True)
        err, entries = res["cfg-d"]
        assert err == 0 and len(entries) >= 20, (err, len(entries))
        e = entries["retention.ms"]
        assert e["value"] == "12345"
        if v == 0:
            assert e["is_default"] == 0 and entries["segment.bytes"]["is_default"] == 1
        else:
            assert e["source"] == 1 and entries["segment.bytes"]["source"] in (4, 5)
            assert e["synonyms"][0] == ("retention.ms", "12345", 1), e["synonyms"]
            assert ("log.retention.ms", "604800000", 5) in e["synonyms"], e["synonyms"]
        assert entries["segment.bytes"]["value"] == "1073741824"
        assert res["cfg-missing"][0] == 3
        berr, bent = res["0"]
        assert berr == 0 and set(bent) == {"broker.id", "num.partitions"}
        assert bent["broker.id"]["value"] == "0" and bent["broker.id"]["read_only"] == 1
    res = describe_configs(1, [(2, "cfg-d", ["cleanup.policy", "no.such.key"])])
    assert set(res["cfg-d"][1]) == {"cleanup.policy"} and res["cfg-d"][1]["cleanup.policy"]["value"] == "delete"


def test_alter_configs_every_version_replaces_overrides():
    create_topic("cfg-a", 1, {"retention.ms": "1000", "segment.bytes": "100000"})
    for v in range(0, 2):
        before = describe_configs(1, [(2, "cfg-a", None)])["cfg-a"][1]
        res = alter_configs(33, v, [(2, "cfg-a", [("retention.ms", "2000")])], validate_only=True)
        assert res["cfg-a"] == (0, None)
        assert describe_configs(1, [(2, "cfg-a", None)])["cfg-a"][1] == before, "validate_only changed nothing"
        res = alter_configs(33, v, [(2, "cfg-a", [("retention.ms", "%d" % (3000 + v))])])
        assert res["cfg-a"] == (0, None), res
        ent = describe_configs(1, [(2, "cfg-a", None)])["cfg-a"][1]
        assert ent["retention.ms"]["value"] == "%d" % (3000 + v) and ent["retention.ms"]["source"] == 1
        assert ent["segment.bytes"]["source"] != 1, "AlterConfigs replaces: segment.bytes back to default"
        res = alter_configs(33, v, [(2, "cfg-a", [("no.such", "1")]), (2, "cfg-missing", [("retention.ms", "1")]),
                                    (4, "0", [("num.partitions", "3")])])
        assert res["cfg-a"][0] == 40 and res["cfg-missing"][0] == 3 and res["0"][0] == 42, res


def test_incremental_alter_configs():
    create_topic("cfg-i", 1, {"retention.ms": "1000", "segment.bytes": "100000"})
    res = alter_configs(44, 0, [(2, "cfg-i", [("retention.ms", 0, "5000"), ("segment.bytes", 1, None),
                                              ("cleanup.policy", 2, "compact")])])
    assert res["cfg-i"] == (0, None), res
    ent = describe_configs(1, [(2, "cfg-i", None)])["cfg-i"][1]
    assert ent["retention.ms"]["value"] == "5000" and ent["segment.bytes"]["source"] != 1
    assert ent["cleanup.policy"]["value"] == "compact", ent["cleanup.policy"]
    res = alter_configs(44, 0, [(2, "cfg-i", [("cleanup.policy", 3, "compact")])])
    assert res["cfg-i"] == (0, None)
    ent = describe_configs(1, [(2, "cfg-i", ["cleanup.policy"])])["cfg-i"][1]
    assert ent["cleanup.policy"]["source"] != 1, "subtracting the last element removes the override"
    long_list = ",".join("%d:%d" % (p, b) for p in range(300) for b in (0, 1))  # ~3 KB
    res = alter_configs(44, 0, [(2, "cfg-i", [("follower.replication.throttled.replicas", 0,
                                                long_list)])])
    assert res["cfg-i"] == (0, None), res
    res = alter_configs(44, 0, [(2, "cfg-i", [("follower.replication.throttled.replicas", 2,
                                                "300:1")])])
    assert res["cfg-i"] == (0, None), res
    ent = describe_configs(1, [(2, "cfg-i", ["follower.replication.throttled.replicas"])])
    assert ent["cfg-i"][1]["follower.replication.throttled.replicas"]["value"] == \
        long_list + ",300:1", "APPEND keeps a list longer than any fixed buffer whole"
    res = alter_configs(44, 0, [(2, "cfg-i", [("retention.ms", 2, "7")])])
    assert res["cfg-i"][0] == 40, "APPEND is only for list configs"
    res = alter_configs(44, 0, [(2, "cfg-i", [("retention.ms", 0, "abc")])])
    assert res["cfg-i"][0] == 40, "bad value"


def test_delete_records_every_version():
    create_topic("dr-v", 1, {"segment.bytes": "1000"})
    for i in range(20):
        produce("dr-v", 0, [(None, b"x" * 200, 0)])
    c = conn()
    for v in range(0, 2):
        target = 5 + 5 * v
        w = W().array([("dr-v", [(0, target)])], lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: (w.i32(p[0]), w.i64(p[1]))))).i32(5000)
        r = c.call(21, v, w.b)
        r.i32()
        topics = r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i64(), r.i16()))))
        r.done()
        assert topics == [("dr-v", [(0, target, 0)])], topics
        assert list_offsets("dr-v", 0, -2) == target
        f = decode_fetch(c.call(1, 11, fetch_body(11, [("dr-v", 0, target - 1, 1 << 20)])), 11)
        assert f["dr-v"][0]["err"] == 1, "fetch below the log start"
        f = decode_fetch(c.call(1, 11, fetch_body(11, [("dr-v", 0, target, 1 << 20)])), 11)
        assert f["dr-v"][0]["err"] == 0 and f["dr-v"][0]["log_start"] == target
    w = W().array([("dr-v", [(0, 99)])], lambda w, t: (w.str(t[0]), w.array(t[1], lambda w, p: (w.i32(p[0]), w.i64(p[1]))))).i32(5000)
    r = c.call(21, 1, w.b)
    r.i32()
    assert r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i64(), r.i16()))))[0][1][0][2] == 1
    c.close()
    segs = [f for f in os.listdir(os.path.join(CL.brokers[0].logdir, "dr-v-0")) if f.endswith(".log")]
    assert len(segs) < 20, "segments wholly below the new start were deleted: %d left" % len(segs)


def test_retention_by_time_and_bytes():
    cl2 = Cluster(overrides=["log.retention.check.interval.ms=300"])
    try:
        c = Conn("127.0.0.1", cl2.brokers[0].port)
        topics = [("ret-time", 1, 1, {"segment.bytes": "1000", "retention.ms": "1500"}),
                  ("ret-bytes", 1, 1, {"segment.bytes": "1000", "retention.bytes": "3000"})]
        res = decode_create_topics(c.call(19, 4, create_topics_body(4, topics)), 4)
        assert all(x["err"] == 0 for x in res.values()), res
        now = int(time.time() * 1000)
        for t in ("ret-time", "ret-bytes"):
            for i in range(10):
                p = decode_produce(c.call(0, 7, produce_body(7, t, 0, record_batch([(None, b"y" * 400, 0)], now))), 7)
                assert p[t][0]["err"] == 0
        time.sleep(2.5)
        for t, lo in (("ret-time", 9), ("ret-bytes", 2)):
            p = decode_list_offsets(c.call(2, 1, list_offsets_body(1, t, 0, -2)), 1)
            assert p["offset"] >= lo, "%s earliest %d" % (t, p["offset"])
            f = decode_fetch(c.call(1, 11, fetch_body(11, [(t, 0, 0, 1 << 20)])), 11)
            assert f[t][0]["err"] == 1 and f[t][0]["log_start"] == p["offset"]
        c.close()
    finally:
        assert cl2.stop() == []


def test_log_append_time_rewrites_batch_timestamp_and_crc():
    import struct
    from kwire import crc32c
    create_topic("lat", 1, {"message.timestamp.type": "LogAppendTime"})
    c = conn()
    old_ts = int(time.time() * 1000) - 3600 * 1000
    before = int(time.time() * 1000)
    res = decode_produce(c.call(0, 7, produce_body(7, "lat", 0, record_batch([(b"k", b"v", 0), (None, b"w", 5)], old_ts))), 7)
    after = int(time.time() * 1000)
    p = res["lat"][0]
    assert p["err"] == 0 and before <= p["append_time"] <= after, p
    f = decode_fetch(c.call(1, 11, fetch_body(11, [("lat", 0, 0, 1 << 20)])), 11)
    b = parse_batches(f["lat"][0]["records"])[0][3]
    attrs = struct.unpack(">h", b[21:23])[0]
    assert attrs & 0x08, "timestamp type bit set"
    assert struct.unpack(">q", b[35:43])[0] == p["append_time"], "maxTimestamp = log append time"
    assert struct.unpack(">q", b[27:35])[0] == old_ts, "baseTimestamp kept"
    assert struct.unpack(">I", b[17:21])[0] == crc32c(b[21:]), "CRC recomputed"
    c.close()


def test_replica_placement_is_even_and_rack_aware():
    racks = {0: "r1", 1: "r1", 2: "r2", 3: "r2", 4: "r3", 5: "r3"}
    for n, rack in ((3, None), (6, racks)):
        cl2 = Cluster(n, per_broker=(lambda i: ["broker.rack=" + rack[i]]) if rack else None)
        try:
            c = Conn("127.0.0.1", cl2.brokers[0].port)
            deadline = time.time() + 10
            while len(decode_metadata(c.call(3, 1, metadata_body(1, [])), 1)["brokers"]) < n:
                assert time.time() < deadline, "brokers did not all register"
                time.sleep(0.2)
            parts = 4 * n
            res = decode_create_topics(c.call(19, 4, create_topics_body(4, [("placed", parts, 3, {})])), 4)
            assert res["placed"]["err"] == 0, res
            md = decode_metadata(c.call(3, 7, metadata_body(7, ["placed"])), 7)
            c.close()
            rows = [p["replicas"] for p in md["topics"]["placed"]["parts"]]
            leaders = [r[0] for r in rows]
            for b in range(n):
                assert leaders.count(b) == 4, (b, leaders)
                assert sum(r.count(b) for r in rows) == 12, (b, rows)
            for r in rows:
                assert len(set(r)) == 3
                if rack:
                    assert len({rack[x] for x in r}) == 3, "one replica per rack: %r" % r
        finally:
            assert cl2.stop() == []


def test_topics_created_and_deleted_through_any_broker():
    import subprocess
    cl3 = Cluster(3)
    try:
        conns = [Conn("127.0.0.1", b.port) for b in cl3.brokers]
        deadline = time.time() + 10
        while len(decode_metadata(conns[2].call(3, 1, metadata_body(1, [])), 1)["brokers"]) < 3:
            assert time.time() < deadline
            time.sleep(0.2)
        res = decode_create_topics(conns[0].call(19, 4, create_topics_body(4, [("spread", 6, 1, {})])), 4)
        assert res["spread"]["err"] == 0
        deadline = time.time() + 10
        while True:
            md = decode_metadata(conns[2].call(3, 7, metadata_body(7, ["spread"], allow=False)), 7)
            if md["topics"]["spread"]["err"] == 0 or time.time() > deadline:
                break
            time.sleep(0.1)
        leaders = [p["leader"] for p in md["topics"]["spread"]["parts"]]
        assert sorted(leaders) == [0, 0, 1, 1, 2, 2], leaders
        boot = "127.0.0.1:%d" % cl3.brokers[1].port
        data = "".join("k%d:v%d\n" % (i, i) for i in range(3000)).encode()
        r = subprocess.run(["kcat", "-b", boot, "-P", "-t", "spread", "-K:"], input=data,
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(["kcat", "-b", boot, "-C", "-t", "spread", "-e", "-q", "-f", "%p %k:%s\n"],
                           capture_output=True, timeout=60)
        got = [l for l in r.stdout.decode().split("\n") if l]
        assert sorted(l.split()[1] for l in got) == sorted("k%d:v%d" % (i, i) for i in range(3000))
        assert len({l.split()[0] for l in got}) == 6, "every partition, on every broker, was used"
        res = decode_delete_topics(conns[2].call(20, 3, delete_topics_body(3, ["spread"])), 3)
        assert res == {"spread": 0}
        deadline = time.time() + 10
        while any(os.path.exists(os.path.join(b.logdir, "spread-%d" % p)) for b in cl3.brokers for p in range(6)):
            assert time.time() < deadline, "log dirs removed on every broker"
            time.sleep(0.1)
        for c in conns:  # each broker applies the controller's UpdateMetadata on its own
            deadline = time.time() + 10
            while True:
                md = decode_metadata(c.call(3, 4, metadata_body(4, ["spread"], allow=False)), 4)
                if md["topics"]["spread"]["err"] == 3 or time.time() > deadline:
                    break
                time.sleep(0.1)
            assert md["topics"]["spread"]["err"] == 3
            c.close()
    finally:
        assert cl3.stop() == []


def test_idle_connections_are_closed():
    cl2 = Cluster(overrides=["connections.max.idle.ms=800"])
    try:
        idle = Conn("127.0.0.1", cl2.brokers[0].port)
        busy = Conn("127.0.0.1", cl2.brokers[0].port)
        decode_api_versions(idle.call(18, 0, api_versions_body(0)), 0)
        end = time.time() + 2.0
        while time.time() < end:  # the busy one keeps talking
            decode_api_versions(busy.call(18, 0, api_versions_body(0)), 0)
            time.sleep(0.2)
        try:
            idle.call(18, 0, api_versions_body(0))
            raise AssertionError("the idle connection should have been closed")
        except (ConnectionError, OSError):
            pass
        decode_api_versions(busy.call(18, 0, api_versions_body(0)), 0)
        busy.close()
    finally:
        assert cl2.stop() == []


def test_flush_policies_and_rolled_segments_reach_the_checkpoint():
    cl2 = Cluster(overrides=["log.flush.offset.checkpoint.interval.ms=300"])
    try:
        c = Conn("127.0.0.1", cl2.brokers[0].port)
        res = decode_create_topics(c.call(19, 4, create_topics_body(4, [("rolls", 1, 1, {"segment.bytes": "1000"}),
                                                                        ("norolls", 1, 1, {}),
                                                                        ("flushms", 1, 1, {"flush.ms": "200"}),
                                                                        ("flushmsg", 1, 1, {"flush.messages": "4"})])), 4)
        assert all(x["err"] == 0 for x in res.values())
        for t in ("rolls", "norolls", "flushms", "flushmsg"):
            for i in range(10):
                p = decode_produce(c.call(0, 7, produce_body(7, t, 0, record_batch([(None, b"z" * 400, 0)]))), 7)
                assert p[t][0]["err"] == 0
        c.close()
        path = os.path.join(cl2.brokers[0].logdir, "recovery-point-offset-checkpoint")
        deadline = time.time() + 10
        points = {}
        while time.time() < deadline:
            if os.path.exists(path):
                lines = open(path).read().split("\n")
                points = {(l.split()[0], int(l.split()[1])): int(l.split()[2]) for l in lines[2:] if l.strip()}
                if points.get(("rolls", 0), 0) >= 8 and points.get(("flushms", 0)) == 10:
                    break
            time.sleep(0.2)
        # closed segments were fsynced in the background (recovery point moved past them)
        # while the log that never rolled (and has no flush setting) was not
        assert points.get(("rolls", 0), 0) >= 8, points
        assert points.get(("norolls", 0)) == 0, points
        assert points.get(("flushms", 0)) == 10, "flush.ms=200 fsynced everything: %r" % points
        assert points.get(("flushmsg", 0)) == 8, "flush.messages=4 fsynced after 4 and 8: %r" % points
    finally:
        assert cl2.stop() == []


def test_localhost_listener_answers_on_ipv6_too():
    import socket
    probe = socket.socket(socket.AF_INET6)
    try:
        probe.bind(("::1", 0))
    except OSError:
        print("SKIP: no IPv6 loopback on this machine")
        return
    finally:
        probe.close()
    cl2 = Cluster()
    try:
        b = cl2.brokers[0]
        b.stop()
        b.overrides += ["listeners=PLAINTEXT://localhost:%d" % b.port,
                        "advertised.listeners=PLAINTEXT://localhost:%d" % b.port]
        b.start()
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            s6 = socket.socket(family)
            s6.settimeout(5)
            s6.connect((addr, b.port))
            c = Conn.__new__(Conn)
            c.s, c.corr = s6, 0
            err, keys, _ = decode_api_versions(c.call(18, 3, api_versions_body(3)), 3)
            assert err == 0 and keys, addr
            s6.close()
    finally:
        assert cl2.stop() == []


def test_delete_topic_disabled():
    cl2 = Cluster(overrides=["delete.topic.enable=false"])
    try:
        c = Conn("127.0.0.1", cl2.brokers[0].port)
        res = decode_create_topics(c.call(19, 4, create_topics_body(4, [("keep-me", 1, 1, {})])), 4)
        assert res["keep-me"]["err"] == 0
        res = decode_delete_topics(c.call(20, 3, delete_topics_body(3, ["keep-me"])), 3)
        assert res == {"keep-me": 73}
        c.close()
    finally:
        assert cl2.stop() == []


def main():
    global CL
    CL = Cluster()
    return run_suite(CL, dict(sorted(globals().items())))


if __name__ == "__main__":
    sys.exit(main())
