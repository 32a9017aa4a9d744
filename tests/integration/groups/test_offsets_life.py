#!/usr/bin/env python3
"""
tests/integration/groups/test_offsets_life.py — the end of committed offsets on a real 3-broker
cluster with offsets.retention.minutes=1, checked with librdkafka consumers, raw OffsetFetch
requests, ListGroups and a plain consumer of __consumer_offsets:

  - OffsetFetch v7+ with require_stable answers UNSTABLE_OFFSET_COMMIT (88) for a partition
    whose commit is not replicated yet (the followers of its __consumer_offsets partition
    SIGSTOPped), offset -1; v6 still answers the last replicated offset;
  - a deleted topic takes its committed offsets with it (tombstones), a group left with nothing
    disappears, and neither a recreated topic of the same name nor a reload of the coordinator
    brings them back;
  - an Empty group's offsets expire one retention after the group became Empty, not after the
    commit (KIP-211): tombstones, the group gone from ListGroups; a Stable group keeps its
    offsets past the retention; all of it stays so after every broker restarted.

The tests share one timeline (the retention wait overlaps the other checks), so they run in
order. About 80 s.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
import gwire  # noqa: E402
import test_admin  # noqa: E402  (decodes __consumer_offsets records)
from gtest import Member, Feeder, wait  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

CL = None
RETENTION = 60.0  # offsets.retention.minutes=1
UNSTABLE = 88
T = {}  # moments of the shared timeline (time.time())
LATE = {}  # the consumer of "ol-late", open until test_retention
N = 20  # records in "life"


def coordinator(group):
    """Points gwire at the group's coordinator; returns its broker id."""
    def found():
        gwire.target = ("127.0.0.1", CL.brokers[0].port)
        for b in CL.brokers:
            if b.proc.poll() is None:
                gwire.target = ("127.0.0.1", b.port)
                break
        c = gwire.find_coordinator(3, group)
        return c if c["err"] == gwire.NONE else None
    c = wait(found, 30, "the coordinator of " + group, 0.3)
    gwire.target = (c["host"], c["port"])
    return c["node"]


def fetched(group, topic, parts, v=7):
    """{partition: (offset, error)} from the group's coordinator (retried while it loads)."""
    def ask():
        coordinator(group)
        gwire.TOPIC = topic
        err, ts = gwire.fetch(v, [group] if v >= 8 else group, parts)[group]
        if err in (gwire.COORD_LOADING, gwire.NOT_COORD, gwire.COORD_NA):
            return None
        assert err == gwire.NONE, err
        return {p: (e["offset"], e["err"]) for p, e in ts.get(topic, {}).items()}
    return wait(ask, 30, "OffsetFetch of " + group, 0.3)


def offsets(group, topic, parts):
    return {p: o for p, (o, _) in fetched(group, topic, parts).items()}


def listed_groups():
    return {g.id for g in gtest.admin(CL).list_groups(timeout=10)}


def latest_records(group):
    """{(kind, topic, partition): tombstone?} of the last record of each of the group's keys."""
    test_admin.CL = CL
    latest = {}
    for kind, r in test_admin.read_offsets_partition(group):
        if r["group"] == group:
            latest[(kind, r.get("topic"), r.get("partition"))] = r.get("tombstone", False)
    return latest


def commit_standalone(group, tps):
    c = Consumer({"bootstrap.servers": gtest.bootstrap(CL), "group.id": group})
    try:
        c.commit(offsets=tps, asynchronous=False)
    finally:
        c.close()


def consume_all(c, n):
    got = 0
    end = time.time() + 30
    while got < n and time.time() < end:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    assert got == n, "consumed %d of %d records" % (got, n)


def test_groups_for_retention():
    gtest.create_topic(CL, "life", 2)
    gtest.create_topic(CL, "doomed", 2)
    Feeder(CL, "life", 2, "life").send(N).flush()
    stable = Member(CL, "ol-stable", "life", "ol-stable-m")
    LATE["stable"] = stable
    wait(lambda: stable.committed() == {0: N // 2, 1: N // 2}, 30, "the stable member's commits")
    T["stable_commit"] = time.time()

    conf = {"bootstrap.servers": gtest.bootstrap(CL), "auto.offset.reset": "earliest",
            "enable.auto.commit": False}
    for group in ("ol-empty", "ol-late"):
        c = Consumer(dict(conf, **{"group.id": group}))
        c.subscribe(["life"])
        consume_all(c, N)
        c.commit(asynchronous=False)
        if group == "ol-empty":
            c.close()  # LeaveGroup: the group is Empty from now
            T["empty"] = time.time()
        else:
            LATE["c"] = c  # stays a member a while: its retention starts later
    assert offsets("ol-empty", "life", [0, 1]) == {0: N // 2, 1: N // 2}
    assert offsets("ol-late", "life", [0, 1]) == {0: N // 2, 1: N // 2}


def test_require_stable_sees_a_commit_not_yet_replicated():
    group = "ol-raw"
    node = coordinator(group)
    assert gwire.commit(8, group, -1, "", [(0, 5, -1, "")], topic="life") == {0: gwire.NONE}
    followers = [b for b in CL.brokers if b.id != node]
    coordinator(group)
    result = {}
    for b in followers:
        os.killpg(b.proc.pid, signal.SIGSTOP)
    try:
        th = threading.Thread(target=lambda: result.update(
            r=gwire.commit(8, group, -1, "", [(0, 7, -1, "")], topic="life")))
        th.start()
        time.sleep(0.5)
        gwire.TOPIC = "life"
        err, ts = gwire.fetch(7, group, [0])[group]
        assert (err, ts["life"][0]["offset"], ts["life"][0]["err"]) == (0, -1, UNSTABLE), (err, ts)
        err, ts = gwire.fetch(8, [group], [0])[group]
        assert (err, ts["life"][0]["offset"], ts["life"][0]["err"]) == (0, -1, UNSTABLE), (err, ts)
        err, ts = gwire.fetch(6, group, [0])[group]  # no require_stable: the replicated offset
        assert (err, ts["life"][0]["offset"], ts["life"][0]["err"]) == (0, 5, 0), (err, ts)
        assert th.is_alive(), "the commit was answered before it was replicated"
    finally:
        for b in followers:
            os.killpg(b.proc.pid, signal.SIGCONT)
    th.join(20)
    assert result.get("r") == {0: gwire.NONE}, result
    assert fetched(group, "life", [0]) == {0: (7, 0)}


def test_deleted_topic_takes_its_offsets():
    commit_standalone("ol-del", [TopicPartition("doomed", 0, 3), TopicPartition("doomed", 1, 4),
                                 TopicPartition("life", 0, 2)])
    commit_standalone("ol-del-only", [TopicPartition("doomed", 0, 1)])
    assert offsets("ol-del", "doomed", [0, 1]) == {0: 3, 1: 4}
    assert "ol-del-only" in listed_groups()

    a = gtest.admin(CL)
    a.delete_topics(["doomed"], operation_timeout=20)["doomed"].result(30)
    wait(lambda: "doomed" not in a.list_topics(timeout=5).topics, 30, "doomed gone from metadata")
    wait(lambda: offsets("ol-del", "doomed", [0, 1]) == {0: -1, 1: -1}, 20,
         "the offsets of the deleted topic gone")
    assert offsets("ol-del", "life", [0]) == {0: 2}, "offsets of other topics stay"
    wait(lambda: "ol-del-only" not in listed_groups(), 20, "the group left with nothing gone")
    latest = latest_records("ol-del")
    assert latest[("offset", "doomed", 0)] and latest[("offset", "doomed", 1)], latest
    assert not latest[("offset", "life", 0)], latest
    assert latest_records("ol-del-only")[("group", None, None)], "no tombstone of ol-del-only"

    gtest.create_topic(CL, "doomed", 2)  # the same name again: nothing comes back
    assert offsets("ol-del", "doomed", [0, 1]) == {0: -1, 1: -1}
    # the coordinator reloads the partition from its log: the tombstones hold
    node = coordinator("ol-del")
    b = [b for b in CL.brokers if b.id == node][0]
    assert b.stop() == 0
    b.start()
    wait(lambda: coordinator("ol-del") is not None and offsets("ol-del", "life", [0]) == {0: 2}, 40,
         "ol-del reloaded")
    assert offsets("ol-del", "doomed", [0, 1]) == {0: -1, 1: -1}
    assert "ol-del-only" not in listed_groups()


def test_retention_counts_from_when_the_group_became_empty():
    # ol-late stays a member at least 8 s after ol-empty became Empty
    time.sleep(max(0.0, T["empty"] + 8 - time.time()))
    LATE.pop("c").close()
    T["late"] = time.time()
    assert offsets("ol-empty", "life", [0, 1]) == {0: N // 2, 1: N // 2}, "expired early"

    wait(lambda: offsets("ol-empty", "life", [0, 1]) == {0: -1, 1: -1},
         T["empty"] + RETENTION + 20 - time.time(), "ol-empty's offsets expired", 0.5)
    gone = time.time()
    assert gone >= T["empty"] + RETENTION - 2, "expired %.1f s after the group became Empty" % (
        gone - T["empty"])
    # committed at the same time, but Empty only since T["late"]: still there
    assert gone < T["late"] + RETENTION - 2, "too slow to tell the two groups apart"
    assert offsets("ol-late", "life", [0, 1]) == {0: N // 2, 1: N // 2}, \
        "ol-late's retention counted from its commit, not from when it became Empty"
    wait(lambda: "ol-empty" not in listed_groups(), 10, "ol-empty gone from ListGroups")

    wait(lambda: offsets("ol-late", "life", [0, 1]) == {0: -1, 1: -1},
         T["late"] + RETENTION + 20 - time.time(), "ol-late's offsets expired", 0.5)
    assert time.time() >= T["late"] + RETENTION - 2
    wait(lambda: "ol-late" not in listed_groups(), 10, "ol-late gone from ListGroups")

    for group in ("ol-empty", "ol-late"):
        latest = latest_records(group)
        assert latest[("offset", "life", 0)] and latest[("offset", "life", 1)], latest
        assert latest[("group", None, None)], latest

    # the Stable group keeps offsets older than the retention
    assert time.time() > T["stable_commit"] + RETENTION
    assert offsets("ol-stable", "life", [0, 1]) == {0: N // 2, 1: N // 2}
    assert "ol-stable" in listed_groups()


def test_expired_and_deleted_offsets_stay_gone_after_a_restart():
    for b in CL.brokers:
        b.stop()
    for b in CL.brokers:
        b.start()
    gtest.wait_brokers(CL, 3)
    for group in ("ol-empty", "ol-late"):
        assert offsets(group, "life", [0, 1]) == {0: -1, 1: -1}, group
    assert offsets("ol-del", "doomed", [0, 1]) == {0: -1, 1: -1}
    assert offsets("ol-stable", "life", [0, 1]) == {0: N // 2, 1: N // 2}
    groups = listed_groups()
    assert not {"ol-empty", "ol-late", "ol-del-only"} & groups, groups
    LATE.pop("stable").kill()  # after a whole-cluster restart librdkafka's close may hang


if __name__ == "__main__":
    CL = gtest.group_cluster(extra=["offsets.retention.minutes=1",
                                    "offsets.retention.check.interval.ms=500"])
    print("cluster in", CL.tmp, flush=True)
    sys.exit(gtest.run_suite(CL, globals()))
