#!/usr/bin/env python3
"""
tests/integration/groups/test_faults.py — consumer groups through failures on a real
3-broker cluster, with librdkafka members (member.py): a SIGKILLed member's partitions move
after its session timeout; a SIGKILLed coordinator broker under load moves the group to a new
coordinator with every commit kept; a rolling restart (SIGTERM each broker in turn) with a
running group loses no committed offset. Throughout, committed offsets are polled and must
never go backwards, and every acknowledged record is consumed by some member.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
from gtest import Member, Feeder, wait, wait_equal, wait_balanced, check_no_overlap, group_offsets  # noqa: E402
from kwire import W, Conn  # noqa: E402

CL = None


def find_coordinator(group, skip=()):
    """The node id FindCoordinator v1 names for group, asking a live broker; None on an error."""
    for b in CL.brokers:
        if b.id in skip:
            continue
        try:
            c = Conn("127.0.0.1", b.port, timeout=5)
            r = c.call(10, 1, W().str(group).i8(0).b)
            c.close()
        except OSError:
            continue
        r.i32()
        err = r.i16()
        r.str()
        node = r.i32()
        if err == 0:
            return node
    return None


class Load:
    """A producer thread sending batches until stopped."""

    def __init__(self, feeder, batch=40, pause=0.05):
        self.f, self.batch, self.pause = feeder, batch, pause
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_ev.is_set():
            self.f.send(self.batch)
            time.sleep(self.pause)

    def stop(self):
        self.stop_ev.set()
        self.t.join(10)
        self.f.flush(90)


class OffsetWatch:
    """Polls the group's committed offsets (OffsetFetch) and records every answer."""

    def __init__(self, group, topic, n, pause=0.3):
        self.args = (group, topic, n)
        self.seen = []
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.pause = pause
        self.t.start()

    def run(self):
        while not self.stop_ev.is_set():
            try:
                skip = [b.id for b in CL.brokers if b.proc.poll() is not None]
                self.seen.append(group_offsets(CL, *self.args, skip=skip))
            except Exception:
                pass
            time.sleep(self.pause)

    def check(self):
        """No committed offset ever went backwards."""
        self.stop_ev.set()
        self.t.join(30)
        best = {}
        for snap in self.seen:
            for p, o in snap.items():
                if o < 0:
                    continue
                assert o >= best.get(p, -1), "committed offset of partition %d went back from %d to %d" % (p, best[p], o)
                best[p] = o
        assert len(self.seen) >= 3, "offsets were read %d times only" % len(self.seen)
        return best


def all_consumed(members, feeder, timeout):
    wait(lambda: set(feeder.acked) <= set(gtest.consumed_values(members)), timeout,
         "every acknowledged record consumed")


def test_killed_member_partitions_move_after_session_timeout():
    topic, n, sess = "f4-topic", 6, 3000
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, "f4")
    ms = [Member(CL, "f4", topic, "f4-m%d" % i, session_timeout=sess) for i in range(3)]
    wait_balanced(ms, n, 40)
    f.send(600).flush()
    all_consumed(ms, f, 30)
    victim = ms[0]
    lost = victim.owned()
    victim.kill()
    t0 = time.time()
    f.send(600).flush()
    wait_balanced(ms[1:], n, sess / 1000 + 15, "the killed member's partitions moving")
    moved = time.time() - t0
    # They move because the coordinator expired the member: not before its session timeout
    # (less the heartbeat interval it may have just sent), not long after.
    assert moved >= sess / 1000 - 1.0, "partitions moved after %.1f s, before the session timeout" % moved
    assert moved <= sess / 1000 + 6, "partitions moved only after %.1f s" % moved
    all_consumed(ms, f, 30)
    for p in lost:
        assert any(p in m.owned() for m in ms[1:]), p
    wait_equal(lambda: group_offsets(CL, "f4", topic, n), {p: 200 for p in range(n)}, 20, "commits to the ends")
    for m in ms[1:]:
        m.stop()
    check_no_overlap(ms)


def test_coordinator_killed_under_load():
    topic, n, group = "f5-topic", 6, "f5"
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, "f5")
    ms = [Member(CL, group, topic, "f5-m%d" % i, session_timeout=6000) for i in range(2)]
    wait_balanced(ms, n, 40)
    load = Load(f)
    watch = OffsetWatch(group, topic, n)
    wait(lambda: len(gtest.consumed_values(ms)) > 1000, 30, "consumption under load")
    coord = find_coordinator(group)
    assert coord is not None
    before = {}
    for m in ms:
        for p, o in m.committed().items():
            before[p] = max(before.get(p, -1), o)
    victim = CL.brokers[coord]
    victim.stop(signal.SIGKILL)
    try:
        coordinator_moves(group, topic, n, ms, f, load, watch, before, coord)
    finally:
        victim.start()  # back for the next test
        gtest.wait_brokers(CL, 3)


def coordinator_moves(group, topic, n, ms, f, load, watch, before, coord):
    wait(lambda: find_coordinator(group, skip=[coord]) not in (None, coord), 30, "a new coordinator")
    new_coord = find_coordinator(group, skip=[coord])
    # Commits acknowledged before the kill survive on the new coordinator.
    after = group_offsets(CL, group, topic, n, skip=[coord])
    for p, o in before.items():
        assert after[p] >= o, "partition %d: committed %d before the kill, %d after" % (p, o, after[p])
    # The group resumes: records produced from now on are consumed and committed.
    mark = len(gtest.consumed_values(ms))
    wait(lambda: len(gtest.consumed_values(ms)) > mark + 1000, 40, "consumption on the new coordinator")
    load.stop()
    all_consumed(ms, f, 40)
    ends = gtest.log_ends(CL, topic, n, skip=[coord])
    wait_equal(lambda: group_offsets(CL, group, topic, n, skip=[coord]), ends, 30, "commits to the ends")
    watch.check()
    assert find_coordinator(group, skip=[coord]) == new_coord
    for m in ms:
        m.stop()
    check_no_overlap(ms)


def test_rolling_restart_with_a_running_group():
    topic, n, group = "f8-topic", 6, "f8"
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, "f8")
    ms = [Member(CL, group, topic, "f8-m%d" % i, session_timeout=6000) for i in range(2)]
    wait_balanced(ms, n, 40)
    load = Load(f, batch=20, pause=0.1)
    watch = OffsetWatch(group, topic, n)
    for b in CL.brokers:
        mark = len(gtest.consumed_values(ms))
        wait(lambda: len(gtest.consumed_values(ms)) > mark + 100, 40, "consumption before restarting broker %d" % b.id)
        st = b.stop(signal.SIGTERM)
        assert st == 0, "broker %d exited with %s" % (b.id, st)
        b.start()
        gtest.wait_brokers(CL, 3)
        time.sleep(1.0)  # its followers catch up before the next broker goes
    mark = len(gtest.consumed_values(ms))
    wait(lambda: len(gtest.consumed_values(ms)) > mark + 100, 40, "consumption after the rolling restart")
    load.stop()
    all_consumed(ms, f, 40)
    ends = gtest.log_ends(CL, topic, n)
    wait_equal(lambda: group_offsets(CL, group, topic, n), ends, 30, "commits to the ends")
    watch.check()
    for m in ms:
        m.stop()
    check_no_overlap(ms)


if __name__ == "__main__":
    CL = gtest.group_cluster()
    print("cluster in", CL.tmp, flush=True)
    sys.exit(gtest.run_suite(CL, globals()))
