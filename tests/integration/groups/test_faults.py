#!/usr/bin/env python3
"""
tests/integration/groups/test_faults.py — consumer groups through failures on a real
3-broker cluster, with librdkafka members (member.py): a SIGKILLed member's partitions move
after its session timeout; a SIGKILLed coordinator broker under load moves the group to a new
coordinator with every commit kept; a rolling restart (SIGTERM each broker in turn) with a
running group loses no committed offset. Throughout, committed offsets are polled and must
never go backwards, and every acknowledged record is consumed by some member: each scenario
ends with gtest.check_history(), tests/harness/checker.py over its history.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gtest  # noqa: E402
from gtest import Member, Feeder, wait, wait_equal, wait_balanced, check_history, group_offsets  # noqa: E402
from kwire import W, Conn  # noqa: E402
import gwire  # noqa: E402

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
    """Polls the group's committed offsets (OffsetFetch) and records every answer with the
    time it came (monotonic, the members' clock)."""

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
                snap = group_offsets(CL, *self.args, skip=skip)
                self.seen.append((time.monotonic(), snap))
            except Exception:
                pass
            time.sleep(self.pause)

    def records(self):
        """Stops polling; returns the answers as checker.py committed records (the checker
        fails when one goes backwards: group_commit_backwards)."""
        self.stop_ev.set()
        self.t.join(30)
        assert len(self.seen) >= 3, "offsets were read %d times only" % len(self.seen)
        return [{"type": "committed", "group": self.args[0], "partition": p, "offset": o, "t": t}
                for t, snap in self.seen for p, o in sorted(snap.items())]


T0 = [time.time()]


def phase(what):
    """Prints how long the step just done took (the test log shows where the time goes)."""
    now = time.time()
    print("  %5.1f s  %s" % (now - T0[0], what), flush=True)
    T0[0] = now


def all_consumed(members, feeder, timeout):
    try:
        wait(lambda: set(feeder.acked) <= set(gtest.consumed_values(members)), timeout,
             "every acknowledged record consumed")
    except AssertionError as e:
        raise AssertionError("%s; %s" % (e, consumption_report(members, feeder))) from None


def consumption_report(members, feeder):
    """Which acknowledged records no member consumed (per partition: how many, the first
    offset), how far each member read each partition it owns, and its last group events."""
    seen = set(gtest.consumed_values(members))
    missing = {}
    for v, (p, o) in feeder.acked.items():
        if v not in seen:
            missing.setdefault(p, []).append(o)
    out = ["missing: " + (", ".join("p%d %d from offset %d" % (p, len(os_), min(os_))
                                     for p, os_ in sorted(missing.items())) or "none")]
    for m in members:
        top = {}
        for p, o, _ in m.records():
            top[p] = max(top.get(p, -1), o)
        evs = [(e["ev"], e.get("parts", e.get("offs", e.get("error"))))
               for e in m.evs() if e["ev"] not in ("recs", "commit")][-4:]
        out.append("%s owns %s, read up to %s, last events %s" % (
            m.name, sorted(m.owned()), dict(sorted(top.items())), evs))
    return "; ".join(out)


def test_offsets_topic_waits_for_its_replication_factor_and_is_internal():
    """With a broker down, FindCoordinator answers COORDINATOR_NOT_AVAILABLE rather than create
    __consumer_offsets with fewer replicas; once created it is internal: Metadata says so,
    clients cannot produce to it or delete it, and non-coordinators answer NOT_COORDINATOR."""
    CL.brokers[2].stop(signal.SIGTERM)
    try:
        gtest.wait_brokers(CL, 2)
        gwire.target = ("127.0.0.1", CL.brokers[0].port)
        for _ in range(3):
            assert gwire.find_coordinator(1, "early-group")["err"] == gwire.COORD_NA
            time.sleep(0.3)
        md = gtest.admin(CL, skip=[2]).list_topics(timeout=10)
        assert "__consumer_offsets" not in md.topics, "created with a broker missing"
    finally:
        CL.brokers[2].start()
    gtest.wait_brokers(CL, 3)
    wait(lambda: find_coordinator("early-group") is not None, 30, "a coordinator once all brokers are up")

    def offsets_topic_complete():
        # a broker that just restarted answers from its metadata cache only once the controller
        # has sent it UpdateMetadata: ask until every broker's answer is complete
        for b in CL.brokers:
            c = Conn("127.0.0.1", b.port)
            r = c.call(3, 1, W().array(["__consumer_offsets"], lambda w, t: w.str(t)).b)
            c.close()
            r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))  # brokers
            r.i32()  # controller
            (err, _, _, parts), = r.array(lambda r: (r.i16(), r.str(), r.i8(), r.array(
                lambda r: (r.i16(), r.i32(), r.i32(), r.array(lambda r: r.i32()),
                           r.array(lambda r: r.i32())))))
            if err != 0 or len(parts) != 10 or any(len(p[3]) != 3 for p in parts):
                return False
        return True
    wait(offsets_topic_complete, 30, "__consumer_offsets: 10 partitions of 3 replicas on every broker", 0.5)
    md = gtest.admin(CL).list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
    assert len(md.partitions) == 10, md
    # is_internal: Metadata v1+ (read by kwire, as confluent-kafka does not expose it)
    c = Conn("127.0.0.1", CL.brokers[0].port)
    r = c.call(3, 1, W().array(["__consumer_offsets"], lambda w, t: w.str(t)).b)
    c.close()
    r.array(lambda r: (r.i32(), r.str(), r.i32(), r.str()))  # brokers
    r.i32()  # controller
    assert r.i32() == 1  # one topic
    err, name, internal = r.i16(), r.str(), r.i8()
    assert (err, name, internal) == (0, "__consumer_offsets", 1), (err, name, internal)
    # Producing to it is refused; so is deleting it.
    p = gtest.Producer({"bootstrap.servers": gtest.bootstrap(CL), "message.timeout.ms": 5000, "retries": 0})
    errs = []
    p.produce("__consumer_offsets", key=b"k", value=b"v", partition=0,
              on_delivery=lambda err, msg: errs.append(err))
    p.flush(10)
    assert len(errs) == 1 and errs[0] is not None, errs
    fs = gtest.admin(CL).delete_topics(["__consumer_offsets"], operation_timeout=10)
    try:
        fs["__consumer_offsets"].result(20)
        raise AssertionError("__consumer_offsets was deleted")
    except gtest.KafkaException:
        pass
    # Kafka's placement: the coordinator is the leader of partition offsets_partition(group),
    # for group ids of negative hashCode too ("my-group" is on partition 2 of 10, not 6).
    leaders = {p: m.leader for p, m in md.partitions.items()}
    groups = ["my-group", "kafka-txn-0"] + ["placement-%d" % k for k in range(30)]
    placed = [(g, gtest.offsets_partition(g), find_coordinator(g)) for g in groups]
    wrong = [(g, p, node, leaders[p]) for g, p, node in placed if node != leaders[p]]
    assert not wrong, "coordinator not the leader of Kafka's partition (group, partition, coordinator, leader): %s" % (
        wrong,)
    # A group request to a broker that does not coordinate the group: NOT_COORDINATOR.
    coord = find_coordinator("early-group")
    other = [b for b in CL.brokers if b.id != coord][0]
    gwire.target = ("127.0.0.1", other.port)
    j = gwire.join(5, "early-group")
    assert j["err"] == gwire.NOT_COORD, j
    assert gwire.heartbeat(3, "early-group", 1, "m") == gwire.NOT_COORD
    assert gwire.describe(3, ["early-group"])["early-group"]["err"] == gwire.NOT_COORD
    err, _ = gwire.fetch(5, "early-group", [0])["early-group"]
    assert err == gwire.NOT_COORD, err


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
    # Its commits reported before the kill (the resume check counts the commits it saw).
    wait(lambda: victim.committed() == {p: 100 for p in lost}, 20, "the victim's commits reported")
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
    check_history(CL, "f4", topic, n, ms, [f])


def test_coordinator_killed_under_load():
    coordinator_killed_under_load("f5", "confluent")


def test_coordinator_killed_under_load_kafka_python():
    coordinator_killed_under_load("f5k", "kafka-python")


def coordinator_killed_under_load(group, client):
    topic, n = group + "-topic", 6
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, group)
    ms = [Member(CL, group, topic, "%s-m%d" % (group, i), client=client, session_timeout=6000) for i in range(2)]
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
    read_back = watch.records()
    assert find_coordinator(group, skip=[coord]) == new_coord
    for m in ms:
        m.stop()
    check_history(CL, group, topic, n, ms, [f], read_back, skip=[coord])


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
    read_back = watch.records()
    for m in ms:
        m.stop()
    check_history(CL, group, topic, n, ms, [f], read_back)


def test_cooperative_group_through_coordinator_kill_mid_rebalance_and_whole_cluster_kill():
    """cooperative-sticky members under load: the coordinator is SIGKILLed while a new member
    joins, then every broker is SIGKILLed at once and restarted; every acknowledged record is
    consumed, no commit goes back, no partition is owned twice, no record skipped."""
    topic, n, group = "fc-topic", 6, "fc"
    T0[0] = time.time()
    gtest.create_topic(CL, topic, n)
    f = Feeder(CL, topic, n, "fc")
    kw = {"assignor": "cooperative-sticky", "session_timeout": 6000}
    ms = [Member(CL, group, topic, "fc-m%d" % i, **kw) for i in range(2)]
    wait_balanced(ms, n, 40)
    phase("wait_balanced")
    load = Load(f, batch=20, pause=0.1)
    watch = OffsetWatch(group, topic, n)
    wait(lambda: len(gtest.consumed_values(ms)) > 500, 30, "consumption under load")
    phase("wait")
    coord = find_coordinator(group)
    ms.append(Member(CL, group, topic, "fc-m2", **kw))
    CL.brokers[coord].stop(signal.SIGKILL)
    try:
        wait_balanced(ms, n, 40, "three members balanced on the new coordinator")
    finally:
        CL.brokers[coord].start()
    gtest.wait_brokers(CL, 3)
    phase("gtest.wait_brokers")
    mark = len(gtest.consumed_values(ms))
    wait(lambda: len(gtest.consumed_values(ms)) > mark + 300, 30, "consumption after the failover")
    phase("wait")
    for b in CL.brokers:
        b.stop(signal.SIGKILL)
    for b in CL.brokers:
        b.start()
    gtest.wait_brokers(CL, 3, timeout=60)
    phase("gtest.wait_brokers")
    mark = len(gtest.consumed_values(ms))
    wait(lambda: len(gtest.consumed_values(ms)) > mark + 300, 60, "consumption after the whole cluster restarted")
    phase("wait")
    load.stop()
    phase("load.stop")
    all_consumed(ms, f, 60)
    phase("all_consumed")
    ends = gtest.log_ends(CL, topic, n)
    wait_equal(lambda: group_offsets(CL, group, topic, n), ends, 30, "commits to the ends")
    phase("wait_equal")
    read_back = watch.records()
    gtest.stop_all(ms)
    phase("members closed")
    check_history(CL, group, topic, n, ms, [f], read_back)
    phase("check_history")
    gaps = [e for m in ms for e in m.evs("client_gap")]
    print("    librdkafka fetch-position skips caught and re-read: %d" % len(gaps))


def same_partition(group, prefix, count):
    """count group ids starting with prefix stored in the same __consumer_offsets partition
    as group (so they share its coordinator through every leader change)."""
    want = gtest.offsets_partition(group)
    out = ["%s-%d" % (prefix, k) for k in range(1000) if gtest.offsets_partition("%s-%d" % (prefix, k)) == want]
    return out[:count]


def pipelined_commits(port, group, n, meta_len):
    """Simple-consumer commits (generation -1) of offsets 1..n to each partition of gwire.TOPIC,
    metadata of meta_len bytes, one connection per partition, sent without waiting for each
    answer; all must succeed."""
    def one(p, errs):
        try:
            c = Conn("127.0.0.1", port, timeout=60)
            corrs = []
            for i in range(1, n + 1):
                body = W().str(group).i32(-1).str("").i64(-1).array(
                    [gwire.TOPIC], lambda b, t: b.str(t).array([i], lambda b, o: b.i32(p).i64(o).str("x" * meta_len))).b
                corrs.append(c.send(8, 2, body))
            for corr in corrs:
                r = c.recv(8, 2, corr)
                ts = r.array(lambda r: (r.str(), r.array(lambda r: (r.i32(), r.i16()))))
                assert ts == [(gwire.TOPIC, [(p, 0)])], ts
            c.close()
        except Exception as e:  # noqa: BLE001 (reported by the caller)
            errs.append(e)
    errs = []
    ts = [threading.Thread(target=one, args=(p, errs)) for p in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errs, errs


def test_coordinator_failover_keeps_members_offsets_and_deletions():
    """Raw protocol: what one coordinator stored (a Stable group's member and assignment,
    commits with metadata and leader epochs, a deleted group, a deleted offset, thousands of
    commits read back in many load chunks) is what the next coordinator serves after a
    SIGKILL, and again after a controlled shutdown moves the partition once more."""
    gwire.TOPIC = "fo-topic"
    gtest.create_topic(CL, gwire.TOPIC, 3)
    g1 = "fo-stable"
    wait(lambda: find_coordinator(g1) is not None, 30, "the coordinator of " + g1)
    coord = find_coordinator(g1)
    gwire.target = ("127.0.0.1", CL.brokers[coord].port)
    g2, g3, g4 = same_partition(g1, "fo-other", 3)
    assert all(find_coordinator(g) == coord for g in (g2, g3, g4))
    j = gwire.join(4, g1)
    j = gwire.join(4, g1, member=j["member"])
    mid, gen = j["member"], j["gen"]
    assert gwire.sync(3, g1, gen, mid, [(mid, b"the-assignment")])["err"] == 0
    assert gwire.commit(7, g1, gen, mid, [(0, 11, 5, "meta-0"), (1, 12, 6, None), (2, 13, -1, "m2")]) == \
        {0: 0, 1: 0, 2: 0}
    assert gwire.commit(2, g2, -1, "", [(0, 7, -1, None)]) == {0: 0}
    assert gwire.delete_groups(1, [g2]) == {g2: 0}
    assert gwire.commit(2, g3, -1, "", [(0, 8, -1, None), (1, 9, -1, None)]) == {0: 0, 1: 0}
    assert gwire.offset_delete(g3, [1]) == (0, {1: 0})
    pipelined_commits(CL.brokers[coord].port, g4, 400, 1000)  # ~1.3 MB: many 64 KiB load chunks

    def check(where):
        assert gwire.heartbeat(3, g1, gen, mid) == 0, where
        d = gwire.describe(4, [g1, g2])
        assert (d[g1]["state"], [(m["id"], m["assignment"]) for m in d[g1]["members"]]) == \
            ("Stable", [(mid, b"the-assignment")]), (where, d[g1])
        assert d[g2]["state"] == "Dead", (where, d[g2])
        ps = gwire.fetch(5, g1, [0, 1, 2])[g1][1][gwire.TOPIC]
        assert [(ps[p]["offset"], ps[p]["epoch"], ps[p]["meta"]) for p in range(3)] == \
            [(11, 5, "meta-0"), (12, 6, ""), (13, -1, "m2")], (where, ps)
        assert gwire.fetch(5, g2, [0])[g2][1][gwire.TOPIC][0]["offset"] == -1, where
        ps = gwire.fetch(5, g3, [0, 1])[g3][1][gwire.TOPIC]
        assert (ps[0]["offset"], ps[1]["offset"]) == (8, -1), (where, ps)
        ps = gwire.fetch(5, g4, [0, 1, 2])[g4][1][gwire.TOPIC]
        assert [(ps[p]["offset"], ps[p]["meta"]) for p in range(3)] == [(400, "x" * 1000)] * 3, \
            (where, [ps[p]["offset"] for p in range(3)])

    def moved(old, skip):
        def ready():
            node = find_coordinator(g1, skip=skip)
            if node in (None, old):
                return None
            gwire.target = ("127.0.0.1", CL.brokers[node].port)
            return [node]
        return wait(ready, 30, "a new coordinator for " + g1)[0]

    check("before")
    CL.brokers[coord].stop(signal.SIGKILL)
    try:
        second = moved(coord, [coord])
        check("after the SIGKILL of broker %d" % coord)
        # A controlled shutdown of the second coordinator moves the partition again.
        CL.brokers[second].stop(signal.SIGTERM)
        try:
            third = moved(second, [coord, second])
            check("after the SIGTERM of broker %d, on broker %d" % (second, third))
        finally:
            CL.brokers[second].start()
    finally:
        CL.brokers[coord].start()
        gtest.wait_brokers(CL, 3)
    gwire.leave(3, g1, mid)


if __name__ == "__main__":
    CL = gtest.group_cluster(extra=["offsets.load.buffer.size=65536"])
    print("cluster in", CL.tmp, flush=True)
    sys.exit(gtest.run_suite(CL, globals()))
