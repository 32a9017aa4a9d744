#!/usr/bin/env python3
"""
tests/integration/protocol/test_admin_hardening.py — hostile input on the admin
paths, against a real broker and ZooKeeper, with the test suite's own codec
(kwire.py).

Checked: topic names outside Kafka's rule (a NUL byte, illegal bytes, too
long, ".", "..", empty) are refused with INVALID_TOPIC_EXCEPTION by
CreateTopics (also validate_only), Metadata auto-creation,
CreatePartitions and AlterConfigs, and DeleteTopics answers
UNKNOWN_TOPIC_OR_PARTITION; none of them ever acts on the part of the name
before a NUL (an existing topic of that name is left alone), and each
answer echoes the name as sent; Produce and Fetch to such a name answer
UNKNOWN_TOPIC_OR_PARTITION and append nothing.
Partition counts above gregor.max.partitions and replication factors above
the live brokers are refused before anything is allocated (the broker's RSS
does not grow), with validate_only too, and in CreatePartitions.
AlterConfigs / IncrementalAlterConfigs check the resource before its keys;
a NUL in a config key or value is INVALID_CONFIG, never a shorter string.
Last, with ZooKeeper killed, CreateTopics, DeleteTopics, CreatePartitions
and AlterConfigs answer REQUEST_TIMED_OUT (retriable), and the same requests
work once ZooKeeper is back.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kwire  # noqa: E402
from kwire import Conn  # noqa: E402
from cluster import Cluster, run_suite  # noqa: E402
import test_api_matrix as m  # noqa: E402
import test_create_partitions as cp  # noqa: E402

NONE, UNKNOWN_TOPIC, REQUEST_TIMED_OUT, INVALID_TOPIC = 0, 3, 7, 17
INVALID_PARTITIONS, INVALID_RF, INVALID_CONFIG, INVALID_REQUEST = 37, 38, 40, 42
INT32_MAX = 2 ** 31 - 1

CL = None

ILLEGAL = ["nul\x00tail", "has space", "a/b", "a:b", "t\u00e9", "x" * 250, ".", "..", ""]


def port():
    return CL.brokers[0].port


def call(key, v, body):
    c = Conn("127.0.0.1", port())
    try:
        return c.call(key, v, body)
    finally:
        c.close()


def create_topics(topics, v=4, **kw):
    return m.decode_create_topics(call(19, v, m.create_topics_body(v, topics, **kw)), v)


def delete_topics(names, v=3):
    return m.decode_delete_topics(call(20, v, m.delete_topics_body(v, names)), v)


def create_partitions(topics, v=2, **kw):
    return cp.decode_cp(call(37, v, cp.cp_body(v, topics, **kw)), v)


def metadata(names, allow=False, v=7):
    return m.decode_metadata(call(3, v, m.metadata_body(v, names, allow=allow)), v)["topics"]


def partitions_of(name):
    t = metadata([name])[name]
    return len(t["parts"]) if t["err"] == 0 else None


def all_topic_names():
    return set(metadata(None))


def wait_topic(name, n=1, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if partitions_of(name) == n:
            return
        time.sleep(0.1)
    raise AssertionError("topic %s never showed %d partitions" % (name, n))


def rss_kb(b):
    for line in open("/proc/%d/status" % b.proc.pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def describe_retention(name):
    return m.describe_configs(1, [(2, name, ["retention.ms"])])[name][1]["retention.ms"]["value"]


# ---------------------------------------------------------------- names

def test_create_topics_refuses_illegal_names_and_echoes_them():
    before = all_topic_names()
    for validate_only in (True, False):
        for v in (0, 1, 4):
            res = create_topics([(n, 1, 1, {}) for n in ILLEGAL], v=v, validate_only=validate_only)
            assert set(res) == set(ILLEGAL), res.keys()
            for n in ILLEGAL:
                assert res[n]["err"] == INVALID_TOPIC, (n, res[n])
                if v >= 1:
                    assert res[n]["msg"] and "topic name" in res[n]["msg"], res[n]
    time.sleep(0.5)
    assert all_topic_names() == before, all_topic_names() - before
    assert metadata(["nul"])["nul"]["err"] == UNKNOWN_TOPIC
    # a legal topic in the same request is created
    res = create_topics([("ok-next-to-bad", 1, 1, {}), ("bad\x00", 1, 1, {})])
    assert res["ok-next-to-bad"]["err"] == NONE and res["bad\x00"]["err"] == INVALID_TOPIC, res
    wait_topic("ok-next-to-bad")


def test_a_nul_never_reaches_the_topic_named_by_its_prefix():
    res = create_topics([("victim", 1, 1, {"retention.ms": "11111"})])
    assert res["victim"]["err"] == NONE, res
    wait_topic("victim")
    evil = "victim\x00evil"
    res = create_topics([(evil, 1, 1, {})])
    assert res[evil]["err"] == INVALID_TOPIC, res          # not TOPIC_ALREADY_EXISTS
    res = create_partitions([(evil, 3)])
    assert res[evil][0] == INVALID_TOPIC and res[evil][1], res
    res = create_partitions([(evil, 3)], validate_only=True)
    assert res[evil][0] == INVALID_TOPIC, res
    for key, ops in ((33, [("retention.ms", "22222")]), (44, [("retention.ms", 0, "22222")])):
        res = m.alter_configs(key, 0, [(2, evil, ops)])
        assert res[evil][0] == INVALID_TOPIC and res[evil][1], (key, res)
    r = m.decode_produce(call(0, 7, m.produce_body(7, evil, 0, kwire.record_batch([(None, b"x", 0)]))), 7)
    assert r[evil][0]["err"] == UNKNOWN_TOPIC, r
    f = m.decode_fetch(call(1, 11, m.fetch_body(11, [(evil, 0, 0, 1 << 20)])), 11)
    assert f[evil][0]["err"] == UNKNOWN_TOPIC, f
    res = delete_topics([evil])
    assert res == {evil: UNKNOWN_TOPIC}, res
    time.sleep(1.0)
    assert partitions_of("victim") == 1
    assert describe_retention("victim") == "11111"
    f = m.decode_fetch(call(1, 11, m.fetch_body(11, [("victim", 0, 0, 1 << 20)])), 11)
    assert f["victim"][0]["hw"] == 0, f


def test_metadata_auto_create_refuses_illegal_names():
    names = ["auto\x00tail", "auto bad", "y" * 250, ".."]
    for v in (4, 7):
        res = metadata(names, allow=True, v=v)
        for n in names:
            assert res[n]["err"] == INVALID_TOPIC and res[n]["parts"] == [], (n, res[n])
    time.sleep(1.0)
    assert metadata(["auto"])["auto"]["err"] == UNKNOWN_TOPIC
    assert not any(n.startswith("auto") for n in all_topic_names())


def test_a_nul_in_a_config_key_or_value_is_refused_not_cut():
    res = create_topics([("cfg-nul-v", 1, 1, {"retention.ms": "1000\x00junk"}),
                         ("cfg-nul-k", 1, 1, {"retention.ms\x00junk": "1000"})])
    assert res["cfg-nul-v"]["err"] == INVALID_CONFIG and res["cfg-nul-k"]["err"] == INVALID_CONFIG, res
    assert not {"cfg-nul-v", "cfg-nul-k"} & all_topic_names()
    create_topics([("cfg-nul", 1, 1, {"retention.ms": "11111"})])
    wait_topic("cfg-nul")
    for key, ops in ((33, [("retention.ms", "2000\x00x")]), (44, [("retention.ms", 0, "2000\x00x")]),
                     (33, [("retention.ms\x00x", "2000")])):
        res = m.alter_configs(key, 0, [(2, "cfg-nul", ops)])
        assert res["cfg-nul"][0] == INVALID_CONFIG and "NUL" in res["cfg-nul"][1], (key, res)
    assert describe_retention("cfg-nul") == "11111"


# ---------------------------------------------------------------- bounds

def test_partition_and_replication_bounds_are_checked_before_allocating():
    b = CL.brokers[0]
    rss = rss_kb(b)
    for validate_only in (True, False):
        start = time.time()
        res = create_topics([("huge-p", INT32_MAX, 1, {}), ("huge-p3", INT32_MAX, 3, {}),
                             ("over-max", 10001, 1, {}), ("huge-rf", 1, 32767, {}),
                             ("rf-2", 1, 2, {})], validate_only=validate_only)
        assert time.time() - start < 5, "answered fast"
        assert res["huge-p"]["err"] == INVALID_PARTITIONS, res
        assert "gregor.max.partitions" in res["huge-p"]["msg"], res
        assert res["huge-p3"]["err"] in (INVALID_PARTITIONS, INVALID_RF), res
        assert res["over-max"]["err"] == INVALID_PARTITIONS, res
        assert res["huge-rf"]["err"] == INVALID_RF and res["rf-2"]["err"] == INVALID_RF, res
    # the limit itself is allowed
    res = create_topics([("at-max", 10000, 1, {})], validate_only=True)
    assert res["at-max"]["err"] == NONE, res
    assert rss_kb(b) < rss + 50 * 1024, (rss, rss_kb(b))
    names = all_topic_names()
    assert not names & {"huge-p", "huge-p3", "over-max", "huge-rf", "rf-2", "at-max"}, names


def test_create_partitions_refuses_an_absurd_count():
    res = create_topics([("cp-absurd", 1, 1, {})])
    assert res["cp-absurd"]["err"] == NONE, res
    wait_topic("cp-absurd")
    b = CL.brokers[0]
    rss = rss_kb(b)
    for v in (0, 3):
        for validate_only in (True, False):
            for count in (INT32_MAX, 10001):
                res = create_partitions([("cp-absurd", count)], v=v, validate_only=validate_only)
                assert res["cp-absurd"][0] == INVALID_PARTITIONS, (count, res)
                assert "gregor.max.partitions" in res["cp-absurd"][1], res
    assert rss_kb(b) < rss + 50 * 1024, (rss, rss_kb(b))
    assert partitions_of("cp-absurd") == 1


# ---------------------------------------------------------------- configs

def test_alter_configs_checks_the_resource_before_its_keys():
    create_topics([("cfg-exists", 1, 1, {})])
    wait_topic("cfg-exists")
    for key, bad, good in ((33, [("no.such.key", "1")], [("retention.ms", "1")]),
                           (44, [("no.such.key", 0, "1")], [("retention.ms", 0, "1")])):
        for validate_only in (True, False):
            res = m.alter_configs(key, 0, [(2, "cfg-nowhere", bad), (2, "cfg-nowhere2", good),
                                           (2, "cfg-exists", bad), (7, "whatever", bad)],
                                  validate_only=validate_only)
            assert res["cfg-nowhere"][0] == UNKNOWN_TOPIC and res["cfg-nowhere"][1], (key, res)
            assert res["cfg-nowhere2"][0] == UNKNOWN_TOPIC, (key, res)
            assert res["cfg-exists"][0] == INVALID_CONFIG, (key, res)
            assert res["whatever"][0] == INVALID_REQUEST, (key, res)


# ---------------------------------------------------------------- ZooKeeper outage

def retry_until_done(fn, timeout=60):
    """Calls fn() until it answers NONE; every other answer must be the
    retriable REQUEST_TIMED_OUT (or NOT_CONTROLLER while a controller is
    elected again)."""
    end = time.time() + timeout
    seen = []
    while time.time() < end:
        err = fn()
        if err == NONE:
            return seen
        assert err in (REQUEST_TIMED_OUT, 41), (err, seen)
        seen.append(err)
        time.sleep(0.5)
    raise AssertionError("still failing after ZooKeeper came back: %r" % seen[-5:])


def test_zookeeper_outage_answers_retriable_errors_then_works():
    create_topics([("zk-keep", 1, 1, {}), ("zk-grow", 1, 1, {})])
    wait_topic("zk-keep")
    wait_topic("zk-grow")
    CL.zk.stop()
    try:
        start = time.time()
        res = create_topics([("zk-new", 1, 1, {})], timeout=5000)
        assert res["zk-new"]["err"] == REQUEST_TIMED_OUT, res
        assert "ZooKeeper" in res["zk-new"]["msg"], res
        res = create_topics([("zk-new-v", 1, 1, {})], validate_only=True)
        assert res["zk-new-v"]["err"] == REQUEST_TIMED_OUT, res
        res = delete_topics(["zk-keep"])
        assert res == {"zk-keep": REQUEST_TIMED_OUT}, res
        res = create_partitions([("zk-grow", 2)])
        assert res["zk-grow"][0] == REQUEST_TIMED_OUT, res
        res = m.alter_configs(33, 0, [(2, "zk-grow", [("retention.ms", "5")])])
        assert res["zk-grow"][0] == REQUEST_TIMED_OUT, res
        assert time.time() - start < 30, "answered within the timeouts"
    finally:
        CL.zk.start()
    retry_until_done(lambda: create_topics([("zk-new", 1, 1, {})])["zk-new"]["err"])
    wait_topic("zk-new")
    retry_until_done(lambda: create_partitions([("zk-grow", 2)])["zk-grow"][0])
    wait_topic("zk-grow", 2)
    retry_until_done(lambda: m.alter_configs(33, 0, [(2, "zk-grow", [("retention.ms", "5")])])["zk-grow"][0])
    assert describe_retention("zk-grow") == "5"
    retry_until_done(lambda: delete_topics(["zk-keep"])["zk-keep"])
    end = time.time() + 20
    while "zk-keep" in all_topic_names() and time.time() < end:
        time.sleep(0.2)
    assert "zk-keep" not in all_topic_names()


def main():
    global CL
    CL = Cluster(n_brokers=1)
    m.CL = CL
    return run_suite(CL, globals())


if __name__ == "__main__":
    sys.exit(main())
